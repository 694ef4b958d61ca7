//! The server's answers to the client's requests, and its refusals, as the events the core
//! would send: the handshake done, a thread opened, a turn begun, the account, the models.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::{Asked, Open, Remote, decode, notifications};
use crate::protocol::{AgentRow, AuthSummary, Event, LoginEvent, Reply, TurnOutcome};
use crate::remote::items;
use crate::wire;
use crate::wire::requests::{self, ModelListParams};

impl Remote {
    pub(super) fn on_refused(&mut self, asked: Asked, message: String) {
        match asked {
            Asked::Initialize => self.emit(Event::Error(format!(
                "the app-server refused the connection: {message}"
            ))),
            // Refused as a turn started there first (its `turn/started` came before the
            // refusal): the prompt waits for it, unless it asks for a structured answer, which
            // a queued message cannot carry.
            Asked::TurnStarted {
                resend: Some(submission),
            } if self.turn.is_some() && submission.output_schema.is_none() => {
                self.queue_behind(*submission)
            }
            Asked::TurnStarted { .. } => {
                self.turn = None;
                self.emit(Event::TurnFinished(TurnOutcome::Failed {
                    category: notifications::category_of(&message, None),
                    message,
                }))
            }
            Asked::Login => self.emit(Event::Reply(Reply::Login(LoginEvent::Failed(message)))),
            Asked::KeySaved(_) => self.emit(Event::Reply(Reply::ApiKeyUnchecked(message))),
            Asked::Opened { .. } if self.thread.is_none() => self.emit(Event::Error(format!(
                "cannot open a conversation: {message}"
            ))),
            Asked::Opened { .. } => self.emit(Event::Error(format!(
                "cannot resume the conversation: {message}"
            ))),
            Asked::Sessions { .. } => self.emit(Event::Error(format!(
                "could not list saved conversations: {message}"
            ))),
            // A server without the search: the titles alone are searched, as typed.
            Asked::SessionsSaying(_) => {
                tracing::debug!(%message, "the app-server did not search what was said")
            }
            Asked::Account { .. } | Asked::Models => {
                tracing::debug!(%message, "the app-server did not answer a start-up request")
            }
            Asked::LoggedOut => self.emit(Event::Error(format!("could not log out: {message}"))),
            Asked::Logins => self.emit(Event::Error(format!(
                "the server did not list its logins: {message}"
            ))),
            Asked::LoginSwitched(name) => self.emit(Event::Error(format!(
                "the server did not switch to {name:?}: {message}"
            ))),
            Asked::Quiet(what) => self.emit(Event::Error(format!("{what}: {message}"))),
            // A server without the experimental queue has nothing waiting to show.
            Asked::Queue => {}
            Asked::Terminals => self.emit(Event::Error(format!(
                "the server did not list the background terminals: {message}"
            ))),
            Asked::Agents => self.emit(Event::Error(format!(
                "the server did not list its conversations: {message}"
            ))),
        }
    }

    pub(super) fn on_answer(&mut self, asked: Asked, result: Value) {
        match asked {
            Asked::Initialize => {
                self.outgoing
                    .push(json!({"jsonrpc": "2.0", "method": "initialized"}));
                let asked = Asked::Account { login_done: false };
                self.request(&requests::AccountReadParams::default(), asked);
                self.request(&ModelListParams::default(), Asked::Models);
                match std::mem::take(&mut self.wanted.open) {
                    Open::New => self.open_thread(),
                    Open::Thread(id) => self.resume(&id),
                    Open::Newest => self.list_sessions(true),
                }
            }
            Asked::Account { login_done } => self.account_read(result, login_done),
            Asked::Models => {
                let Some(list) = decode::<wire::CursorPage<wire::ModelInfo>>(result) else {
                    return;
                };
                if self.model.is_empty()
                    && let Some(default) = list.data.iter().find(|m| m.is_default)
                {
                    self.model = default.model.clone();
                }
                self.models = list.data.into_iter().map(|m| m.model).collect();
                self.emit(Event::Reply(Reply::Models {
                    available: self.models.clone(),
                    current: self.model.clone(),
                }));
            }
            Asked::Opened { restore } => {
                let Some(opened) = decode::<wire::ThreadOpened>(result) else {
                    return;
                };
                self.opened(opened, restore);
            }
            Asked::Sessions { resume_newest } => self.sessions_listed(result, resume_newest),
            Asked::SessionsSaying(term) => self.sessions_saying(term, result),
            Asked::TurnStarted { .. } => {
                if let Some(opened) = decode::<wire::TurnResponse>(result) {
                    self.turn_started(opened.turn.id);
                }
            }
            Asked::Login => self.login_started(result),
            Asked::KeySaved(masked) => {
                self.emit(Event::Reply(Reply::AuthChanged(Some(
                    AuthSummary::ApiKey { masked },
                ))));
                self.request(&ModelListParams::default(), Asked::Models);
            }
            Asked::LoggedOut => self.emit(Event::Reply(Reply::AuthChanged(None))),
            Asked::Logins => self.logins_listed(result),
            Asked::LoginSwitched(_) => self.login_switched(result),
            Asked::Agents => self.agents_listed(result),
            Asked::Queue => {
                if let Some(page) = decode::<wire::ListPage<wire::QueuedSubmission>>(result) {
                    let waiting = page
                        .data
                        .into_iter()
                        .map(|queued| (queued.id, wire::requests::UserInput::words(&queued.input)))
                        .collect();
                    self.emit(Event::Reply(Reply::ServerQueue(waiting)));
                }
            }
            Asked::Terminals => {
                if let Some(page) = decode::<wire::ThreadBackgroundTerminalsList>(result) {
                    let rows = page
                        .data
                        .into_iter()
                        .filter_map(super::terminals::row)
                        .collect();
                    self.emit(Event::Reply(Reply::Terminals(rows)));
                }
            }
            Asked::Quiet(_) => {}
        }
    }

    /// `account/read`'s answer: the login, said to the screen (with a hint when there is none).
    fn account_read(&mut self, result: Value, login_done: bool) {
        let Some(read) = decode::<wire::AccountRead>(result) else {
            return;
        };
        let summary = auth_summary(read);
        if login_done {
            let account = match &summary {
                Some(AuthSummary::ChatGpt(account)) => account.clone(),
                _ => crate::protocol::Account::default(),
            };
            self.emit(Event::Reply(Reply::Login(LoginEvent::Done(account))));
        } else if summary.is_none() {
            self.emit(Event::Notice(
                "The app-server is not signed in: /connect signs it in (the login is the \
                 server's, for every client of it)."
                    .to_string(),
            ));
        }
        self.emit(Event::Reply(Reply::AuthChanged(summary)));
    }

    /// `thread/list`'s answer: the conversations for `/resume`, or the newest resumed.
    fn sessions_listed(&mut self, result: Value, resume_newest: bool) {
        let Some(list) = decode::<wire::ListPage<wire::Thread>>(result) else {
            return;
        };
        if resume_newest {
            match list.data.first() {
                Some(thread) => self.resume(&thread.id.clone()),
                None => {
                    self.emit(Event::Notice(
                        "no saved conversation of this folder on the server: a new one \
                         starts"
                            .to_string(),
                    ));
                    self.open_thread();
                }
            }
            return;
        }
        let sessions = list
            .data
            .into_iter()
            .filter_map(|thread| {
                let summary = items::session_summary(thread)?;
                self.listed
                    .insert(summary.path.clone(), summary.id.to_string());
                Some(summary)
            })
            .collect();
        self.emit(Event::Reply(Reply::Sessions(sessions)));
    }

    /// The server's threads as the command center lists them: those it holds by how they
    /// stand (a turn running, idle), the others saved; opening one resumes it here while the
    /// rest go on there.
    fn agents_listed(&mut self, result: Value) {
        let Some(list) = decode::<wire::ListPage<wire::Thread>>(result) else {
            return;
        };
        let rows = list
            .data
            .into_iter()
            .filter_map(|thread| {
                let state = crate::remote::served::state_of(&thread.status);
                let summary = items::session_summary(thread)?;
                self.listed
                    .insert(summary.path.clone(), summary.id.to_string());
                Some(AgentRow::saved(summary, state))
            })
            .collect();
        self.emit(Event::Reply(Reply::Agents { rows, saved: true }));
    }

    /// `account/login/start`'s answer: the device code, or the page to open.
    fn login_started(&mut self, result: Value) {
        let Some(started) = decode::<wire::LoginStarted>(result) else {
            return;
        };
        let step = match started {
            wire::LoginStarted::ChatgptDeviceCode {
                login_id,
                verification_url,
                user_code,
            } => {
                self.login = Some(login_id);
                LoginEvent::DeviceCode {
                    verification_url,
                    user_code,
                    expires_at: SystemTime::now() + Duration::from_secs(15 * 60),
                }
            }
            wire::LoginStarted::Chatgpt { login_id, auth_url } => {
                self.login = Some(login_id);
                LoginEvent::BrowserWaiting {
                    authorize_url: auth_url,
                    port: 0,
                    opening: false,
                }
            }
            wire::LoginStarted::ApiKey
            | wire::LoginStarted::ChatgptAuthTokens
            | wire::LoginStarted::Unknown => return,
        };
        self.emit(Event::Reply(Reply::Login(step)));
    }

    /// A thread opened: started, resumed or forked.
    fn opened(&mut self, opened: wire::ThreadOpened, restore: bool) {
        let thread = opened.thread;
        if !opened.model.is_empty() {
            self.model = opened.model.clone();
            self.emit(Event::Reply(Reply::Models {
                available: self.models.clone(),
                current: opened.model,
            }));
        }
        self.thread = Some(thread.id.clone());
        self.turn = None;
        let running = thread
            .turns
            .in_hand()
            .last()
            .filter(|turn| turn.status == wire::TurnStatus::InProgress)
            .map(|turn| turn.id.clone());
        if restore {
            let replay = self.calls.replay(thread.turns.in_hand());
            self.emit(Event::Reply(Reply::Restored(Box::new(replay))));
        }
        self.emit(Event::Reply(Reply::Conversation {
            id: thread.id.clone(),
        }));
        // Rejoined while its turn runs: its items from here on come live.
        if let Some(turn) = running {
            self.turn_started(turn);
        }
        for op in std::mem::take(&mut self.held) {
            self.on_op(op);
        }
        // What waits in its queue there (`kelp queue`, another client's) shows from the start.
        self.list_queue();
    }
}

fn auth_summary(read: wire::AccountRead) -> Option<AuthSummary> {
    match read.account {
        Some(wire::Account::Chatgpt { email, plan_type }) => {
            Some(AuthSummary::ChatGpt(crate::protocol::Account {
                email,
                plan: Some(plan_type.into_owned()).filter(|plan| !plan.is_empty()),
                ..Default::default()
            }))
        }
        Some(wire::Account::ApiKey | wire::Account::Unknown) => Some(AuthSummary::ApiKey {
            masked: "kept by the server".to_string(),
        }),
        // A provider with its own key: nothing to sign in to.
        None if !read.requires_openai_auth => Some(AuthSummary::ApiKey {
            masked: "of the server's provider".to_string(),
        }),
        None => None,
    }
}
