//! The client's side of one connection to an app-server: the `Op`s a face sends become the
//! server's requests, and its notifications, requests and answers become the `Event`s the core
//! would have sent; the requests are `wire::requests`' types. Nothing here touches a socket: messages in are handed to
//! [`Remote::on_message`], and those to send are taken with [`Remote::take_outgoing`], so the
//! whole translation is tested with plain JSON.
//!
//! Its other files:
//! - `answers.rs`: the server's answers to the client's requests, and its refusals, as events.
//! - `asks.rs`: what the server asks of the person (a command or a patch to approve, the model's
//!   questions), put to them as the core puts it, and their answer sent back in Codex's words.
//! - `terminals.rs`: `/ps` and `/stop` through `thread/backgroundTerminals/*`.
//! - `logins.rs`: `/account` through `accountSession/list|switch`.
//! - `search.rs`: `/resume`'s search of what was said, through `thread/search`.
//! - `reviews.rs`: auto-review's notifications, `/approvals` and `/approve` on a server.
//! - `notifications.rs`: the server's notifications about the thread in hand, as the events the
//!   core would send.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

use super::items;

mod answers;
mod asks;
mod logins;
mod notifications;
mod reviews;
mod search;
mod terminals;
use crate::jsonrpc::Incoming;
use crate::protocol::ApprovalMode;
use crate::protocol::LoginEvent;
use crate::protocol::{Event, Op, Reply, Settings};
use crate::wire;
use crate::wire::requests::{
    self, LoginStartParams, ModelListParams, Request, ThreadResumeParams, ThreadStartParams,
    TurnStartParams, UserInput,
};

/// What the client asks of the server when it starts, and the settings it chose (its flags
/// and config), which go with the thread it opens and each turn.
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    pub project_dir: PathBuf,
    pub model: Option<String>,
    pub approval: Option<ApprovalMode>,
    pub sandbox: Option<crate::protocol::SandboxMode>,
    pub effort: Option<crate::protocol::ReasoningEffort>,
    /// `/fast`: the service tier turns ask for (`Some(None)`: the default, said so).
    pub service_tier: Option<Option<crate::protocol::ServiceTier>>,
    /// The thread to open: a saved one by id, the newest of the folder, or a new one.
    pub open: Open,
}

/// Which thread the client opens at start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Open {
    #[default]
    New,
    Thread(String),
    Newest,
}

/// What an answer the client waits for is to.
#[derive(Debug)]
enum Asked {
    Initialize,
    Account {
        login_done: bool,
    },
    Models,
    Opened {
        restore: bool,
    },
    Sessions {
        resume_newest: bool,
    },
    /// The server's conversations that say this (`/resume`'s search).
    SessionsSaying(String),
    /// A turn asked for; a prompt's (`resend`) goes into the thread's queue on the server when
    /// another turn started there first.
    TurnStarted {
        resend: Option<Box<crate::protocol::Submission>>,
    },
    /// The thread's queue on the server, to show.
    Queue,
    /// The server's threads, for the command center.
    Agents,
    /// The thread's background terminals on the server, for `/ps`.
    Terminals,
    Login,
    KeySaved(String),
    LoggedOut,
    /// The server's logins, for `/account`.
    Logins,
    /// A switch to the login named so.
    LoginSwitched(String),
    /// An answer with nothing to show but a failure, said as `what` failed.
    Quiet(&'static str),
}

/// A request of the server's that waits for the person.
#[derive(Debug)]
struct Waiting {
    request: Value,
    kind: WaitingKind,
}

#[derive(Debug)]
enum WaitingKind {
    Command {
        prefix: Option<Vec<String>>,
    },
    /// A command's first contact with a host: "always here" is the rule that allows it.
    Network {
        host: String,
    },
    Patch,
    Questions,
}

/// The translation's state between messages.
pub struct Remote {
    events: UnboundedSender<Event>,
    wanted: Wanted,
    outgoing: Vec<Value>,
    next_id: u64,
    asked: HashMap<u64, Asked>,
    thread: Option<String>,
    turn: Option<String>,
    /// Prompts sent before the thread was open, sent once it is.
    held: Vec<Op>,
    next_wait: u64,
    waiting: HashMap<u64, Waiting>,
    /// The tool calls under way.
    calls: items::Calls,
    /// Why the running turn failed, as the `error` notification said it.
    failure: Option<wire::Message>,
    /// The conversations last listed, by the path a face names them by.
    listed: HashMap<PathBuf, String>,
    models: Vec<String>,
    model: String,
    login: Option<String>,
    context_used: u64,
    /// The server's ChatGPT logins as `/account` last listed them, each with its workspace.
    login_workspaces: HashMap<String, String>,
    /// The auto-reviews of this thread seen done, oldest first.
    reviews: Vec<crate::protocol::AutoReview>,
}

impl Remote {
    pub fn new(wanted: Wanted, events: UnboundedSender<Event>) -> Self {
        Self {
            events,
            calls: items::Calls::new(wanted.project_dir.clone()),
            model: wanted.model.clone().unwrap_or_default(),
            wanted,
            outgoing: Vec::new(),
            next_id: 0,
            asked: HashMap::new(),
            thread: None,
            turn: None,
            held: Vec::new(),
            next_wait: 0,
            waiting: HashMap::new(),
            failure: None,
            listed: HashMap::new(),
            models: Vec::new(),
            login: None,
            context_used: 0,
            login_workspaces: HashMap::new(),
            reviews: Vec::new(),
        }
    }

    /// The handshake, which every other request follows.
    pub fn start(&mut self) {
        let info = requests::InitializeParams {
            client_info: requests::ClientInfo {
                name: "kelp".to_string(),
                title: Some("kelp".to_string()),
                version: env!("CARGO_PKG_VERSION").to_string(),
            },
            capabilities: Some(requests::Capabilities {
                experimental_api: true,
            }),
        };
        self.request(&info, Asked::Initialize);
    }

    /// The messages to send, in order.
    pub fn take_outgoing(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.outgoing)
    }

    /// Whether a turn is running on the server.
    pub fn turn_running(&self) -> bool {
        self.turn.is_some()
    }

    /// The thread in use, once open.
    pub fn thread(&self) -> Option<&str> {
        self.thread.as_deref()
    }

    fn emit(&self, event: Event) {
        let _ = self.events.send(event);
    }

    fn request<R: Request>(&mut self, params: &R, asked: Asked) {
        self.next_id += 1;
        self.asked.insert(self.next_id, asked);
        let mut message = json!({"jsonrpc": "2.0", "id": self.next_id, "method": R::METHOD});
        // A method that takes nothing takes no params at all (`account/logout`).
        match serde_json::to_value(params) {
            Ok(Value::Null) => {}
            Ok(params) => message["params"] = params,
            Err(e) => tracing::warn!(error = %e, method = R::METHOD, "params not written"),
        }
        self.outgoing.push(message);
    }

    fn answer(&mut self, id: Value, result: &impl serde::Serialize) {
        self.outgoing
            .push(json!({"jsonrpc": "2.0", "id": id, "result": result}));
    }

    /// A request the face sent, translated.
    pub fn on_op(&mut self, op: Op) {
        if self.thread.is_none()
            && matches!(op, Op::Submit(_) | Op::Compact { .. } | Op::Review { .. })
        {
            self.held.push(op);
            return;
        }
        let thread = self.thread.clone().unwrap_or_default();
        match op {
            Op::Submit(submission) => self.submit(thread, submission),
            Op::Steer(submission) => self.steer(thread, submission),
            Op::Interrupt => self.interrupt(thread),
            Op::Approve { id, decision } => self.decide(id, decision),
            Op::ApproveDenied(id) => self.approve_denied(thread, id),
            Op::ListReviews => self.list_reviews(),
            Op::ListDiagnostics => self.no_diagnostics(),
            Op::AnswerQuestions { id, answers } => self.answer_questions(id, answers),
            Op::NewConversation => self.open_thread(),
            Op::SetModel(model) => self.set_model(model),
            Op::SetApprovalMode(mode) => self.wanted.approval = Some(mode),
            Op::SetEffort(effort) => self.wanted.effort = Some(effort),
            Op::Override(settings) => self.override_settings(settings),
            // The server's own config keeps the folder's trust; the client asked nothing.
            Op::TrustProject(_) => {}
            Op::RefreshModels => self.request(&ModelListParams::default(), Asked::Models),
            Op::StartLogin { method, .. } => self.start_login(method),
            Op::ListLogins => self.list_logins(),
            Op::SwitchLogin(name) => self.switch_login(name),
            Op::CancelLogin => self.cancel_login(),
            Op::SaveApiKey { key, .. } => {
                let masked = crate::auth::mask_key(key.expose());
                let params = LoginStartParams::ApiKey { api_key: key };
                self.request(&params, Asked::KeySaved(masked));
            }
            Op::Logout => self.request(&requests::LogoutParams, Asked::LoggedOut),
            Op::ListSessions => self.list_sessions(false),
            Op::SearchSessions(term) => self.search_sessions(term),
            Op::Resume(path) => match self.listed.get(&path).cloned() {
                Some(id) => self.resume(&id),
                None => self.emit(Event::Error(format!(
                    "{}: not a conversation the server listed",
                    path.display()
                ))),
            },
            Op::Fork => {
                let params = requests::ThreadForkParams(ThreadResumeParams {
                    thread_id: thread,
                    ..ThreadResumeParams::default()
                });
                self.request(&params, Asked::Opened { restore: true });
            }
            Op::Rename(name) => {
                let params = requests::ThreadSetNameParams {
                    thread_id: thread,
                    name,
                };
                self.request(&params, Asked::Quiet("renaming"));
            }
            Op::Compact { .. } => {
                let params = requests::ThreadCompactStartParams { thread_id: thread };
                self.request(&params, Asked::Quiet("compacting"));
            }
            Op::Review { target, .. } => self.review(thread, &target),
            // The server's list says how its threads stand now: asked whole each time.
            Op::ListAgents { .. } => self.list_agents(),
            Op::ListTerminals => self.list_terminals(thread),
            Op::StopTerminals(id) => self.stop_terminals(thread, id),
            Op::TakeQueued(id) => self.take_queued(thread, id),
            Op::FindPrompts | Op::Shutdown => {}
            Op::RunCommand(_)
            | Op::CallMcpTool { .. }
            | Op::ListSkills
            | Op::RemoveCommandRule(_)
            | Op::Diff
            | Op::ListRevisions
            | Op::MakeWorktree
            | Op::ReadAgent(_)
            | Op::ToAgent { .. }
            | Op::Side(_)
            | Op::CloseSide
            | Op::Init
            | Op::ListHooks
            | Op::TrustHooks(_)
            | Op::EnableHooks { .. }
            | Op::Rewind(_)
            | Op::UndoRewound
            | Op::SetGoal(_)
            | Op::ClearGoal
            | Op::PasteLoginRedirect(_) => self.emit(Event::Error(
                "not available in a client attached to an app-server (--remote); run kelp without \
                 --remote for it"
                    .to_string(),
            )),
        }
    }

    /// `/model`: the model the next turns ask for, said back as the core says it.
    fn set_model(&mut self, model: String) {
        self.wanted.model = Some(model.clone());
        self.model = model.clone();
        self.emit(Event::Reply(Reply::Models {
            available: self.models.clone(),
            current: model,
        }));
    }

    /// `review/start` of `target` on the thread.
    fn review(&mut self, thread: String, target: &crate::protocol::ReviewTarget) {
        let params = requests::ReviewStartParams {
            thread_id: thread,
            target: target.into(),
            delivery: None,
        };
        self.request(&params, Asked::TurnStarted { resend: None });
    }

    /// `turn/start` with the person's words and images and the settings chosen here.
    fn submit(&mut self, thread: String, submission: crate::protocol::Submission) {
        let params = TurnStartParams {
            thread_id: thread,
            input: UserInput::prompt(&submission.text, &image_paths(&submission.images)),
            cwd: Some(self.wanted.project_dir.clone()),
            model: self.wanted.model.clone(),
            approval_policy: self.approval_policy(),
            approvals_reviewer: None,
            effort: self.wanted.effort.map(|effort| effort.as_str().to_string()),
            summary: None,
            sandbox_policy: None,
            output_schema: submission.output_schema.clone(),
            collaboration_mode: None,
            service_tier: self.wanted.service_tier.map(|tier| {
                tier.map_or("default", crate::protocol::ServiceTier::name)
                    .to_string()
            }),
        };
        let resend = Some(Box::new(submission));
        self.request(&params, Asked::TurnStarted { resend });
    }

    /// The command center's list: the server's conversations, 50 newest, every folder's.
    fn list_agents(&mut self) {
        let params = requests::ThreadListParams {
            limit: Some(50),
            ..requests::ThreadListParams::default()
        };
        self.request(&params, Asked::Agents);
    }

    /// A message out of the thread's queue on the server, to edit or drop here.
    fn take_queued(&mut self, thread: String, id: String) {
        let params = requests::ThreadQueueDeleteParams {
            thread_id: thread,
            queued_submission_id: id,
        };
        self.request(&params, Asked::Quiet("taking the message out of the queue"));
    }

    /// Asks for the thread's queue on the server, to show.
    pub(super) fn list_queue(&mut self) {
        if let Some(thread) = self.thread.clone() {
            let params = requests::ThreadQueueListParams {
                thread_id: thread,
                cursor: None,
                limit: None,
            };
            self.request(&params, Asked::Queue);
        }
    }

    /// A prompt refused because a turn started on the server first (one of its queue's, or
    /// another client's): it waits in the thread's queue there and goes when that turn ends.
    pub(super) fn queue_behind(&mut self, submission: crate::protocol::Submission) {
        let Some(thread) = self.thread.clone() else {
            return;
        };
        let params = requests::ThreadQueueAddParams {
            thread_id: thread,
            input: UserInput::prompt(&submission.text, &image_paths(&submission.images)),
            client_user_message_id: uuid::Uuid::new_v4().to_string(),
            responsesapi_client_metadata: None,
        };
        self.request(
            &params,
            Asked::Quiet("queueing the message behind the running turn"),
        );
        self.emit(Event::Notice(
            "a turn started on the server first: your message waits in its queue there and goes \
             when that turn ends"
                .to_string(),
        ));
    }

    /// `account/login/start` by the browser or a device code.
    fn start_login(&mut self, method: crate::protocol::LoginMethod) {
        let params = match method {
            crate::protocol::LoginMethod::Device => LoginStartParams::ChatgptDeviceCode {},
            crate::protocol::LoginMethod::Browser => LoginStartParams::Chatgpt {},
        };
        self.request(&params, Asked::Login);
    }

    /// `account/login/cancel` for the sign-in under way, if any.
    fn cancel_login(&mut self) {
        if let Some(login) = self.login.take() {
            let params = requests::LoginCancelParams { login_id: login };
            self.request(&params, Asked::Quiet("cancelling the sign-in"));
        }
        self.emit(Event::Reply(Reply::Login(LoginEvent::Cancelled)));
    }

    /// `turn/steer` into the turn running, or a new turn when none is.
    fn steer(&mut self, thread: String, submission: crate::protocol::Submission) {
        let Some(turn) = self.turn.clone() else {
            return self.on_op(Op::Submit(submission));
        };
        let params = requests::TurnSteerParams {
            thread_id: thread,
            expected_turn_id: turn,
            input: UserInput::prompt(&submission.text, &image_paths(&submission.images)),
        };
        self.request(&params, Asked::Quiet("adding to the turn"));
    }

    /// `turn/interrupt` of the turn running, if one is.
    fn interrupt(&mut self, thread: String) {
        if let Some(turn) = self.turn.clone() {
            let params = requests::TurnInterruptParams {
                thread_id: thread,
                turn_id: turn,
            };
            self.request(&params, Asked::Quiet("stopping the turn"));
        }
    }

    /// The person's answers to the server's questions `id`, in Codex's words.
    fn answer_questions(&mut self, id: u64, answers: Option<crate::protocol::Answers>) {
        let Some(waiting) = self.waiting.remove(&id) else {
            return self.emit(Event::Error(format!("no questions {id} are waiting")));
        };
        let answers = answers
            .unwrap_or_default()
            .into_iter()
            .map(|(question, answers)| (question, wire::ToolRequestUserInputAnswer { answers }))
            .collect();
        self.answer(
            waiting.request,
            &wire::ToolRequestUserInputResponse { answers },
        );
    }

    /// The approval policy the person chose here, in Codex's name.
    fn approval_policy(&self) -> Option<Value> {
        self.wanted
            .approval
            .map(|mode| Value::String(mode.codex_name().to_string()))
    }

    fn override_settings(&mut self, settings: Settings) {
        if let Some(model) = settings.model {
            self.wanted.model = Some(model);
        }
        if let Some(approval) = settings.approval {
            self.wanted.approval = Some(approval);
        }
        if let Some(effort) = settings.effort {
            self.wanted.effort = Some(effort);
        }
        if let Some((sandbox, _)) = settings.sandbox {
            self.wanted.sandbox = Some(sandbox);
        }
        if let Some(tier) = settings.service_tier {
            self.wanted.service_tier = Some(tier);
        }
    }

    fn open_thread(&mut self) {
        let params = ThreadStartParams {
            cwd: Some(self.wanted.project_dir.clone()),
            model: self.wanted.model.clone(),
            approval_policy: self.approval_policy(),
            approvals_reviewer: None,
            sandbox: self
                .wanted
                .sandbox
                .map(|mode| mode.codex_name().to_string()),
            ephemeral: None,
            service_tier: self.wanted.service_tier.map(|tier| {
                tier.map_or("default", crate::protocol::ServiceTier::name)
                    .to_string()
            }),
        };
        self.request(&params, Asked::Opened { restore: false });
    }

    fn resume(&mut self, id: &str) {
        let params = ThreadResumeParams {
            thread_id: id.to_string(),
            cwd: Some(self.wanted.project_dir.clone()),
            ..ThreadResumeParams::default()
        };
        self.request(&params, Asked::Opened { restore: true });
    }

    fn list_sessions(&mut self, resume_newest: bool) {
        let params = requests::ThreadListParams {
            cwd: Some(requests::CwdFilter::One(self.wanted.project_dir.clone())),
            limit: Some(if resume_newest { 1 } else { 100 }),
            sort_key: Some("updated_at".to_string()),
            ..requests::ThreadListParams::default()
        };
        self.request(&params, Asked::Sessions { resume_newest });
    }

    /// A message from the server.
    pub fn on_message(&mut self, text: &str) {
        tracing::trace!(message = %text, "from the app-server");
        match crate::jsonrpc::parse_line(text) {
            Ok(Incoming::Request { id, method, params }) => self.on_request(id, &method, params),
            Ok(Incoming::Notification { method, params }) => self.on_notification(&method, params),
            Ok(Incoming::Response { id, result }) => {
                let Some(asked) = id.as_u64().and_then(|id| self.asked.remove(&id)) else {
                    return;
                };
                match result {
                    Ok(result) => self.on_answer(asked, result),
                    Err(error) => {
                        let words = error.get("message").and_then(Value::as_str);
                        let words = words.unwrap_or("the server refused without a reason");
                        self.on_refused(asked, words.to_string());
                    }
                }
            }
            Err((_, e)) => {
                tracing::warn!(error = %e.message, "an app-server message that is not JSON-RPC");
            }
        }
    }

    fn turn_started(&mut self, id: String) {
        if self.turn.as_deref() != Some(id.as_str()) {
            self.turn = Some(id.clone());
            self.failure = None;
            self.emit(Event::TurnStarted { id });
        }
    }

    /// Whether a notification about `thread` is this client's to show.
    fn ours(&self, thread: &str) -> bool {
        self.thread.as_deref() == Some(thread)
    }
}

/// `value` as `T`, or `None` with the reason logged (a server newer or older than the client).
fn decode<T: DeserializeOwned>(value: Value) -> Option<T> {
    serde_json::from_value(value)
        .map_err(|e| tracing::warn!(error = %e, "an app-server message not understood"))
        .ok()
}

fn image_paths(images: &[crate::protocol::ImageInput]) -> Vec<PathBuf> {
    images
        .iter()
        .filter_map(|image| match image {
            crate::protocol::ImageInput::File(path) => Some(path.clone()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ErrorCategory;
    use crate::protocol::TurnOutcome;
    use crate::protocol::{ApprovalDecision, ApprovalSubject, ItemKind, Replayed, Submission};
    use std::time::Duration;
    use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

    const THREAD: &str = "0199a213-81c0-7800-8aa1-bbab2a035a53";

    /// A client past its handshake, with thread `THREAD` open, and the events it sent.
    fn connected() -> (Remote, UnboundedReceiver<Event>) {
        let (events, received) = unbounded_channel();
        let wanted = Wanted {
            project_dir: PathBuf::from("/work/proj"),
            approval: Some(ApprovalMode::Ask),
            sandbox: Some(crate::protocol::SandboxMode::WorkspaceWrite),
            ..Wanted::default()
        };
        let mut remote = Remote::new(wanted, events);
        remote.start();
        let sent = remote.take_outgoing();
        fit(&sent);
        assert_eq!(sent[0]["method"], "initialize");
        remote.on_message(
            &json!({"id": sent[0]["id"], "result": {"userAgent": "codex"}}).to_string(),
        );
        let sent = remote.take_outgoing();
        fit(&sent[1..]);
        let methods: Vec<&str> = sent.iter().map(|m| m["method"].as_str().unwrap()).collect();
        assert_eq!(
            methods,
            ["initialized", "account/read", "model/list", "thread/start"]
        );
        assert_eq!(sent[3]["params"]["approvalPolicy"], "untrusted");
        assert_eq!(sent[3]["params"]["sandbox"], "workspace-write");
        let opened = json!({"id": sent[3]["id"], "result": {
            "thread": {"id": THREAD, "preview": "", "cwd": "/work/proj", "turns": []},
            "model": "gpt-5.5",
        }});
        remote.on_message(&opened.to_string());
        // Opened, it asks what waits in the thread's queue there (0.171's experimental API,
        // whose shapes `wire::queue` checks).
        let sent = remote.take_outgoing();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0]["method"], "thread/queue/list");
        assert_eq!(sent[0]["params"]["threadId"], THREAD);
        (remote, received)
    }

    /// Each of `requests` is one Codex's schema allows.
    fn fit(requests: &[Value]) {
        let path = format!(
            "{}/../tests/fixtures/codex-app-server-schema/0.169.0/ClientRequest.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        for message in requests {
            let mut checked = json!({"method": message["method"], "id": message["id"]});
            if let Some(params) = message.get("params") {
                checked["params"] = params.clone();
            }
            let errors: Vec<String> = validator
                .iter_errors(&checked)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{errors:?}\n{checked}");
        }
    }

    fn drain(events: &mut UnboundedReceiver<Event>) -> Vec<Event> {
        let mut out = Vec::new();
        while let Ok(event) = events.try_recv() {
            out.push(event);
        }
        out
    }

    fn note(method: &str, params: Value) -> String {
        json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string()
    }

    #[test]
    fn every_request_the_client_makes_fits_codexs_schema() {
        let (mut remote, _events) = connected();
        let ops = [
            Op::Submit(Submission {
                images: vec![crate::protocol::ImageInput::File("/tmp/a.png".into())],
                ..Submission::text("fix it")
            }),
            Op::SetModel("gpt-5.4".into()),
            Op::SetEffort(crate::protocol::ReasoningEffort::High),
            Op::Submit(Submission::text("again")),
            Op::NewConversation,
            Op::ListSessions,
            Op::Fork,
            Op::Rename("the bug".into()),
            Op::Compact {
                focus: None,
                turn_id: None,
            },
            Op::Review {
                target: crate::protocol::ReviewTarget::BaseBranch("main".into()),
                turn_id: None,
            },
            Op::StartLogin {
                method: crate::protocol::LoginMethod::Device,
                name: None,
            },
            Op::StartLogin {
                method: crate::protocol::LoginMethod::Browser,
                name: None,
            },
            Op::SaveApiKey {
                key: "sk-test-0000abcd".into(),
                unchecked: false,
            },
            Op::Logout,
            Op::RefreshModels,
        ];
        for op in ops {
            remote.on_op(op);
        }
        remote.turn = Some("turn-1".into());
        remote.on_op(Op::Steer(Submission::text("and the tests")));
        remote.on_op(Op::Interrupt);
        remote.login = Some("login-1".into());
        remote.on_op(Op::CancelLogin);
        let sent = remote.take_outgoing();
        let methods: Vec<&str> = sent.iter().map(|m| m["method"].as_str().unwrap()).collect();
        assert_eq!(
            methods,
            [
                "turn/start",
                "turn/start",
                "thread/start",
                "thread/list",
                "thread/fork",
                "thread/name/set",
                "thread/compact/start",
                "review/start",
                "account/login/start",
                "account/login/start",
                "account/login/start",
                "account/logout",
                "model/list",
                "turn/steer",
                "turn/interrupt",
                "account/login/cancel",
            ]
        );
        fit(&sent);
        // What the person chose goes with the next turn, in Codex's names.
        assert_eq!(sent[1]["params"]["model"], "gpt-5.4");
        assert_eq!(sent[1]["params"]["effort"], "high");
        assert_eq!(sent[0]["params"]["input"][1]["type"], "localImage");
    }

    #[test]
    fn a_turn_told_in_codexs_notifications_is_the_cores_events_in_order() {
        let (mut remote, mut events) = connected();
        drain(&mut events);
        let turn = json!({"id": "turn-1", "items": [], "status": "inProgress", "error": null});
        for message in [
            note("turn/started", json!({"threadId": THREAD, "turn": turn})),
            note(
                "item/started",
                json!({"threadId": THREAD, "turnId": "turn-1",
                "item": {"type": "agentMessage", "id": "m1", "text": ""}}),
            ),
            note(
                "item/agentMessage/delta",
                json!({"threadId": THREAD, "turnId": "turn-1",
                "itemId": "m1", "delta": "Fixing"}),
            ),
            // Another thread's words are not this client's.
            note(
                "item/agentMessage/delta",
                json!({"threadId": "other", "turnId": "t",
                "itemId": "m9", "delta": "no"}),
            ),
            note(
                "item/completed",
                json!({"threadId": THREAD, "turnId": "turn-1",
                "item": {"type": "agentMessage", "id": "m1", "text": "Fixing it."}}),
            ),
            note(
                "item/started",
                json!({"threadId": THREAD, "turnId": "turn-1",
                "item": {"type": "commandExecution", "id": "c1", "command": "cargo test",
                    "cwd": "/work/proj", "status": "inProgress", "commandActions": []}}),
            ),
            note(
                "item/commandExecution/outputDelta",
                json!({"threadId": THREAD,
                "turnId": "turn-1", "itemId": "c1", "delta": "ok\n"}),
            ),
            note(
                "item/completed",
                json!({"threadId": THREAD, "turnId": "turn-1",
                "item": {"type": "commandExecution", "id": "c1", "command": "cargo test",
                    "cwd": "/work/proj", "status": "failed", "exitCode": 101,
                    "durationMs": 1200, "aggregatedOutput": "ok\n"}}),
            ),
            note(
                "error",
                json!({"threadId": THREAD, "turnId": "turn-1", "willRetry": true,
                "error": {"message": "Reconnecting... 2/5", "additionalDetails": "stream cut"}}),
            ),
            note(
                "error",
                json!({"threadId": THREAD, "turnId": "turn-1", "willRetry": false,
                "error": {"message": "Your session expired: sign in again.",
                    "codexErrorInfo": "unauthorized"}}),
            ),
            note(
                "turn/completed",
                json!({"threadId": THREAD, "turn":
                {"id": "turn-1", "items": [], "status": "failed", "error": null}}),
            ),
        ] {
            remote.on_message(&message);
        }
        let events = drain(&mut events);
        assert_eq!(
            events,
            [
                Event::TurnStarted {
                    id: "turn-1".into()
                },
                Event::ItemStarted {
                    item: "m1".into(),
                    kind: ItemKind::AgentMessage
                },
                Event::TextDelta {
                    item: "m1".into(),
                    delta: "Fixing".into()
                },
                Event::MessageDone {
                    item: "m1".into(),
                    text: "Fixing it.".into()
                },
                Event::ToolStarted {
                    call_id: "c1".into(),
                    tool: "shell".into(),
                    summary: "cargo test".into(),
                    paths: vec!["/work/proj".into()],
                    facts: None,
                },
                Event::ToolOutput {
                    call_id: "c1".into(),
                    chunk: "ok\n".into()
                },
                Event::ToolFinished {
                    call_id: "c1".into(),
                    success: false,
                    exit_code: Some(101),
                    duration: Duration::from_millis(1200),
                },
                Event::Retrying {
                    attempt: 2,
                    max: 5,
                    delay: Duration::ZERO,
                    reason: "stream cut".into(),
                    voided: Vec::new(),
                },
                Event::TurnFinished(TurnOutcome::Failed {
                    message: "Your session expired: sign in again.".into(),
                    category: ErrorCategory::Auth,
                }),
            ]
        );
        assert!(!remote.turn_running());
    }

    #[test]
    fn approvals_are_asked_with_what_they_are_about_and_answered_in_codexs_words() {
        let (mut remote, mut events) = connected();
        remote.on_message(&note(
            "item/started",
            json!({"threadId": THREAD, "turnId": "t",
            "item": {"type": "fileChange", "id": "p1", "status": "inProgress", "changes": [
                {"path": "/work/proj/new.txt", "kind": {"type": "add"}, "diff": "one\ntwo\n"},
                {"path": "/work/proj/calc.py", "kind": {"type": "update", "move_path": null},
                 "diff": "@@ -1 +1 @@\n-a - b\n+a + b\n"},
            ]}}),
        ));
        remote.on_message(
            &json!({"id": 40, "method": "item/fileChange/requestApproval",
            "params": {"threadId": THREAD, "turnId": "t", "itemId": "p1"}})
            .to_string(),
        );
        remote.on_message(
            &json!({"id": "s-41", "method": "item/commandExecution/requestApproval",
            "params": {"threadId": THREAD, "turnId": "t", "itemId": "c2", "command": "cargo test",
                "cwd": "/work/proj", "proposedExecpolicyAmendment": ["cargo", "test"]}})
            .to_string(),
        );
        remote.on_message(
            &json!({"id": 42, "method": "item/permissions/requestApproval",
            "params": {}})
            .to_string(),
        );
        let events = drain(&mut events);
        let asked: Vec<(u64, &ApprovalSubject)> = events
            .iter()
            .filter_map(|event| match event {
                Event::ApprovalRequested { id, subject, .. } => Some((*id, subject)),
                _ => None,
            })
            .collect();
        let [
            (patch_id, ApprovalSubject::Patch { diff, changes }),
            (command_id, command),
        ] = asked[..]
        else {
            panic!("{events:?}");
        };
        assert_eq!(
            diff,
            "--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1,2 @@\n+one\n+two\n\
             --- a/calc.py\n+++ b/calc.py\n@@ -1 +1 @@\n-a - b\n+a + b\n"
        );
        assert_eq!(changes[0].new_text.as_deref(), Some("one\ntwo\n"));
        assert_eq!(
            command,
            &ApprovalSubject::Command {
                command: "cargo test".into(),
                workdir: "/work/proj".into(),
                always_prefix: Some(vec!["cargo".into(), "test".into()]),
            }
        );
        remote.on_op(Op::Approve {
            id: command_id,
            decision: ApprovalDecision::AlwaysPrefix,
        });
        remote.on_op(Op::Approve {
            id: patch_id,
            decision: ApprovalDecision::No { reason: None },
        });
        let sent = remote.take_outgoing();
        assert_eq!(sent[0]["id"], 42);
        assert_eq!(sent[0]["error"]["code"], -32601);
        assert_eq!(
            sent[1],
            json!({"jsonrpc": "2.0", "id": "s-41", "result": {"decision":
                {"acceptWithExecpolicyAmendment": {"execpolicy_amendment": ["cargo", "test"]}}}})
        );
        assert_eq!(
            sent[2],
            json!({"jsonrpc": "2.0", "id": 40, "result": {"decision": "decline"}})
        );
    }

    /// An agent of the team asks on its own thread, as the server asks it: the person is told
    /// which agent, and a patch's changes come from the agent's own item.
    #[test]
    fn what_an_agent_asks_on_its_own_thread_names_it() {
        let (mut remote, mut events) = connected();
        remote.on_message(&note(
            "item/completed",
            json!({"threadId": THREAD, "turnId": "t",
            "item": {"type": "subAgentActivity", "id": "s1", "kind": "started",
                "agentThreadId": "agent-1", "agentPath": "/root/beta"}}),
        ));
        remote.on_message(&note(
            "item/started",
            json!({"threadId": "agent-1", "turnId": "u",
            "item": {"type": "fileChange", "id": "p9", "status": "inProgress", "changes": [
                {"path": "/work/proj/b.txt", "kind": {"type": "add"}, "diff": "b\n"}]}}),
        ));
        remote.on_message(
            &json!({"id": 50, "method": "item/fileChange/requestApproval",
            "params": {"threadId": "agent-1", "turnId": "u", "itemId": "p9",
                "reason": "asked by the agent /root/beta"}})
            .to_string(),
        );
        let events = drain(&mut events);
        let asked = events.iter().find_map(|event| match event {
            Event::ApprovalRequested {
                subject: ApprovalSubject::Patch { changes, .. },
                agent,
                ..
            } => Some((changes.len(), agent.clone())),
            _ => None,
        });
        assert_eq!(
            asked,
            Some((1, Some("/root/beta".to_string()))),
            "{events:?}"
        );
        assert!(
            !events
                .iter()
                .any(|event| matches!(event, Event::ToolStarted { .. })),
            "the agent's call is not drawn as this conversation's: {events:?}"
        );
    }

    /// A command's first contact with a host, as Codex asks it (`networkApprovalContext`):
    /// the person is asked about the host, and "always here" goes back as the rule to allow it.
    #[test]
    fn a_host_a_command_asks_to_reach_is_put_as_a_host_and_kept_as_codexs_rule() {
        let (mut remote, mut events) = connected();
        remote.on_message(&note(
            "item/started",
            json!({"threadId": THREAD, "turnId": "t",
            "item": {"type": "commandExecution", "id": "c3", "command": "pip install x",
                "cwd": "/work/proj", "status": "inProgress", "commandActions": []}}),
        ));
        remote.on_message(
            &json!({"id": 43, "method": "item/commandExecution/requestApproval",
            "params": {"threadId": THREAD, "turnId": "t", "itemId": "c3",
                "command": "network-access https://pypi.example:8443", "cwd": "/work/proj",
                "reason": "pypi.example is not in the allowed_domains",
                "networkApprovalContext": {"host": "pypi.example", "protocol": "https"},
                "proposedNetworkPolicyAmendments": [{"host": "pypi.example", "action": "allow"}]}})
            .to_string(),
        );
        let seen = drain(&mut events);
        let Some(Event::ApprovalRequested { id, subject, .. }) = seen.last().cloned() else {
            panic!("{seen:?}");
        };
        assert_eq!(
            subject,
            ApprovalSubject::Network {
                host: "pypi.example".into(),
                port: 8443,
                via: crate::protocol::Via::Https,
                command: "pip install x".into(),
                workdir: "/work/proj".into(),
            }
        );
        remote.on_op(Op::Approve {
            id,
            decision: ApprovalDecision::AlwaysPrefix,
        });
        assert_eq!(
            remote.take_outgoing(),
            [json!({"jsonrpc": "2.0", "id": 43, "result": {"decision": {
                "applyNetworkPolicyAmendment": {
                    "network_policy_amendment": {"host": "pypi.example", "action": "allow"}
                }
            }}})]
        );
        // "Never here" is the rule that denies it.
        remote.on_message(
            &json!({"id": 44, "method": "item/commandExecution/requestApproval",
            "params": {"threadId": THREAD, "turnId": "t", "itemId": "c4",
                "command": "network-access http://tracker.example:80",
                "networkApprovalContext": {"host": "tracker.example", "protocol": "http"}}})
            .to_string(),
        );
        let Some(Event::ApprovalRequested { id, subject, .. }) = drain(&mut events).pop() else {
            panic!("not asked");
        };
        assert!(
            matches!(&subject, ApprovalSubject::Network { host, port: 80, .. } if host == "tracker.example"),
            "{subject:?}"
        );
        remote.on_op(Op::Approve {
            id,
            decision: ApprovalDecision::NeverHere,
        });
        assert_eq!(
            remote.take_outgoing()[0]["result"]["decision"]["applyNetworkPolicyAmendment"]["network_policy_amendment"],
            json!({"host": "tracker.example", "action": "deny"})
        );
    }

    #[test]
    fn a_resumed_thread_is_replayed_and_its_running_turn_followed() {
        let (events, mut received) = unbounded_channel();
        let mut remote = Remote::new(
            Wanted {
                project_dir: PathBuf::from("/work/proj"),
                open: Open::Thread(THREAD.into()),
                ..Wanted::default()
            },
            events,
        );
        remote.start();
        remote.take_outgoing();
        remote.on_message(&json!({"id": 1, "result": {}}).to_string());
        let sent = remote.take_outgoing();
        assert_eq!(sent[3]["method"], "thread/resume");
        assert_eq!(sent[3]["params"]["threadId"], THREAD);
        remote.on_op(Op::Submit(Submission::text(
            "held until the thread is open",
        )));
        assert!(remote.take_outgoing().is_empty());
        let thread = json!({"id": THREAD, "cwd": "/work/proj", "turns": [
            {"id": "t1", "status": "completed", "items": [
                {"type": "userMessage", "id": "u1", "content": [{"type": "text", "text": "hi"}]},
                {"type": "agentMessage", "id": "a1", "text": "Hello."},
            ]},
            {"id": "t2", "status": "inProgress", "items": [
                {"type": "userMessage", "id": "u2", "content": [{"type": "text", "text": "go"}]},
            ]},
        ]});
        remote.on_message(&json!({"id": sent[3]["id"], "result": {"thread": thread}}).to_string());
        let events = drain(&mut received);
        let Event::Reply(Reply::Restored(replay)) = &events[0] else {
            panic!("{events:?}");
        };
        assert_eq!(replay.turns.len(), 2);
        assert_eq!(
            replay.turns[0].entries[1],
            Replayed::Event(Event::ItemStarted {
                item: "a1".into(),
                kind: ItemKind::AgentMessage
            })
        );
        assert!(matches!(&replay.turns[1].entries[0], Replayed::Prompt(p) if p.text == "go"));
        assert_eq!(
            events[1],
            Event::Reply(Reply::Conversation { id: THREAD.into() })
        );
        assert_eq!(events[2], Event::TurnStarted { id: "t2".into() });
        assert!(remote.turn_running());
        let sent = remote.take_outgoing();
        assert_eq!(sent[0]["method"], "turn/start", "the held prompt goes now");
    }

    /// A prompt the server refuses because a turn started there first (its queue's, or another
    /// client's) waits in the thread's queue on the server instead of being lost; refused with
    /// no turn running, it ends as a failed turn, as before.
    #[test]
    fn a_prompt_refused_because_a_turn_started_first_waits_in_the_servers_queue() {
        let (mut remote, mut events) = connected();
        let thread = remote.thread().unwrap().to_string();
        drain(&mut events);
        let refuse = |remote: &mut Remote, text: &str| {
            remote.on_op(Op::Submit(Submission::text(text)));
            let sent = remote.take_outgoing();
            let start = sent.iter().find(|m| m["method"] == "turn/start").unwrap();
            json!({"id": start["id"], "error": {"code": -32600,
                "message": "a turn is already running on this thread: wait for it or interrupt it"}})
            .to_string()
        };
        let refusal = refuse(&mut remote, "and then this");
        remote.on_message(&note(
            "turn/started",
            json!({"threadId": thread, "turn": {"id": "queued-turn", "items": [], "status": "inProgress", "error": null}}),
        ));
        remote.on_message(&refusal);
        let sent = remote.take_outgoing();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0]["method"], "thread/queue/add");
        assert_eq!(sent[0]["params"]["threadId"], thread.as_str());
        assert_eq!(sent[0]["params"]["input"][0]["text"], "and then this");
        crate::wire::answer_fits_in(
            "0.171.0/v2",
            "ThreadQueueAddParams.json",
            &sent[0]["params"],
        );
        let said = drain(&mut events);
        assert!(
            said.iter()
                .any(|e| matches!(e, Event::Notice(n) if n.contains("waits in its queue"))),
            "{said:?}"
        );
        assert!(
            !said.iter().any(|e| matches!(e, Event::TurnFinished(_))),
            "{said:?}"
        );

        remote.on_message(&note(
            "turn/completed",
            json!({"threadId": thread, "turn": {"id": "queued-turn", "items": [], "status": "completed", "error": null}}),
        ));
        drain(&mut events);
        let refusal = refuse(&mut remote, "refused outright");
        remote.on_message(&refusal);
        assert!(remote.take_outgoing().is_empty());
        let said = drain(&mut events);
        assert!(
            said.iter()
                .any(|e| matches!(e, Event::TurnFinished(TurnOutcome::Failed { .. }))),
            "{said:?}"
        );
    }
}
