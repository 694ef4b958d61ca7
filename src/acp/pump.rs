//! A session (its core and the prompt it runs) and its pump: the core's events as
//! `session/update` notifications (through the [`Translator`]), the client asked about
//! approvals with `session/request_permission`, and the prompt answered when its turn ends (a
//! `/goal` prompt when its goal stops).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use agent_client_protocol_schema::v1::{
    CLIENT_METHOD_NAMES, Error, PermissionOption, PermissionOptionKind, PromptResponse,
    RequestPermissionOutcome, RequestPermissionRequest, RequestPermissionResponse,
    SessionNotification, SessionUpdate, StopReason, ToolCallUpdate, ToolCallUpdateFields, ToolKind,
};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio_util::sync::CancellationToken;

use super::options::Choices;
use super::permission::decision;
use super::updates::Translator;
use super::{Connection, Reply};
use crate::agent::host_asks::{self, Verdict};
use crate::protocol::GoalStatus;
use crate::protocol::{Event, Op, StopCause, TurnOutcome};

/// The most events handled before buffered command output goes out.
const BURST: usize = 256;

/// A prompt waiting for its turn to end.
pub(super) struct Turn {
    pub(super) reply: Reply,
    /// Cancelled by `session/cancel`: a permission request still open stops waiting.
    pub(super) cancelled: CancellationToken,
    /// A `/goal` prompt: answered when the goal stops being worked on, not at the end of the
    /// first of its turns.
    pub(super) toward_goal: bool,
}

/// One session: its core and the prompt it runs.
pub(super) struct Session {
    pub(super) ops: UnboundedSender<Op>,
    pub(super) turn: Mutex<Option<Turn>>,
    /// The session's mode, model and effort (`options.rs`).
    pub(super) choices: Mutex<Choices>,
    /// Whether the editor has the session's title: its first prompt's first line.
    pub(super) titled: std::sync::atomic::AtomicBool,
    /// The project it works in.
    pub(super) project_dir: PathBuf,
    /// The MCP servers as the core last reported them, for `/mcp`.
    pub(super) mcp: Mutex<Vec<crate::protocol::ServerStatus>>,
    /// The conversation's goal as the core last reported it, for `/goal`.
    pub(super) goal: Mutex<Option<crate::protocol::Goal>>,
}

impl Session {
    /// Whether the prompt running is a `/goal` whose goal is still being worked on.
    pub(super) fn waits_for_goal(&self) -> bool {
        let toward_goal = self
            .turn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|turn| turn.toward_goal);
        toward_goal
            && self
                .goal
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .is_some_and(|goal| goal.status == GoalStatus::Active)
    }

    /// What cancels the running prompt's requests to the client (a fresh token with none).
    fn turn_cancelled(&self) -> CancellationToken {
        self.turn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or_else(CancellationToken::new, |turn| turn.cancelled.clone())
    }

    /// Answers a `/goal` prompt whose goal stopped with no turn running.
    pub(super) fn answer_goal_prompt(&self) {
        let mut turn = self.turn.lock().unwrap_or_else(PoisonError::into_inner);
        if turn.as_ref().is_some_and(|turn| turn.toward_goal)
            && let Some(turn) = turn.take()
        {
            turn.cancelled.cancel();
            turn.reply
                .send(Ok(PromptResponse::new(StopReason::EndTurn)));
        }
    }

    pub(super) fn take_turn(&self) -> Option<Turn> {
        self.turn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// Waits until `due`, or for ever without one.
async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due.into()).await,
        None => std::future::pending().await,
    }
}

/// How a turn's end answers its prompt. A failed turn ends as a turn does, its reason said as a
/// message of its own first (`said`), as codex-acp does: a JSON-RPC error would read in an
/// editor as the agent failing to run, never the reason.
pub(super) fn answer(outcome: &TurnOutcome) -> (Option<String>, PromptResponse) {
    let reason = match outcome {
        TurnOutcome::Completed => StopReason::EndTurn,
        TurnOutcome::Interrupted => StopReason::Cancelled,
        TurnOutcome::Stopped { cause, .. } => match cause {
            StopCause::OutputLimit => StopReason::MaxTokens,
            StopCause::Refusal => StopReason::Refusal,
            StopCause::StepLimit => StopReason::MaxTurnRequests,
        },
        TurnOutcome::Failed { message, category } => {
            let mut said = super::updates::failure_note(message);
            if *category == crate::protocol::ErrorCategory::Auth {
                said.push_str(SIGN_IN_AGAIN);
            }
            return (Some(said), PromptResponse::new(StopReason::EndTurn));
        }
    };
    (None, PromptResponse::new(reason))
}

/// What follows a failure that signing in again mends.
const SIGN_IN_AGAIN: &str = "\n\nSign in again: choose a way to sign in from the editor's \
                             agent menu, or run `kelp login` in a terminal.";

/// Turns one session's core events into notifications, for as long as the core runs.
pub(super) async fn pump(
    mut events: UnboundedReceiver<Event>,
    cx: Connection,
    id: String,
    session: Arc<Session>,
    translator: Translator,
) {
    let mut pump = Pump {
        cx,
        id,
        session,
        translator,
        core_turn: false,
    };
    loop {
        // Command output waits for its turn (see `OUTPUT_EVERY`); events do not.
        let due = pump.translator.next_flush();
        let first = tokio::select! {
            event = events.recv() => event,
            () = sleep_until(due) => {
                let flushed = pump.translator.flush(Some(Instant::now()));
                pump.send(flushed);
                continue;
            }
        };
        let Some(first) = first else { break };
        let mut next = Some(first);
        let mut handled = 0;
        while let Some(event) = next.take() {
            pump.on_event(event);
            handled += 1;
            if handled < BURST {
                next = events.try_recv().ok();
            }
        }
        let flushed = pump.translator.flush(Some(Instant::now()));
        pump.send(flushed);
    }
    // The core is gone, and its background terminals with it: their calls are closed.
    let ended = pump.translator.open_terminals.all_ended();
    pump.send(ended);
    // A prompt still waiting gets an answer.
    if let Some(turn) = pump.session.take_turn() {
        turn.reply
            .fail(Error::internal_error().data("this session's agent stopped"));
    }
}

/// One session's pump: where its notifications go, and what it knows of the core's turn.
struct Pump {
    cx: Connection,
    id: String,
    session: Arc<Session>,
    translator: Translator,
    /// Whether the core runs a turn now (one it began toward the goal too).
    core_turn: bool,
}

impl Pump {
    fn send(&self, updates: impl IntoIterator<Item = SessionUpdate>) {
        for update in updates {
            self.cx
                .notify(SessionNotification::new(self.id.clone(), update));
        }
    }

    /// Words in the conversation, as the agent's.
    fn say(&self, text: String) {
        self.send([super::updates::said(text)]);
    }

    fn on_event(&mut self, event: Event) {
        let session = Arc::clone(&self.session);
        match event {
            Event::OfAgent(of) => {
                if let Some(event) = of.for_person() {
                    self.on_event(event);
                }
            }
            Event::ApprovalRequested {
                id: approval,
                call_id,
                subject,
                agent,
            } => {
                let (announce, tool_call, options) =
                    self.translator
                        .approval(&call_id, &subject, agent.as_deref());
                self.send(announce);
                let request = RequestPermissionRequest::new(self.id.clone(), tool_call, options);
                let cancelled = session.turn_cancelled();
                ask(
                    self.cx.clone(),
                    session.ops.clone(),
                    request,
                    approval,
                    cancelled,
                );
            }
            Event::QuestionsAsked {
                id: asked,
                call_id,
                questions,
            } => {
                let cancelled = session.turn_cancelled();
                ask_questions(
                    self.cx.clone(),
                    session.ops.clone(),
                    (self.id.clone(), call_id),
                    asked,
                    questions,
                    cancelled,
                );
            }
            Event::TurnFinished(outcome) => self.turn_finished(&outcome),
            Event::TurnStarted { id: started } => {
                self.core_turn = true;
                let updates = self.translator.on_event(Event::TurnStarted { id: started });
                self.send(updates);
            }
            Event::GoalUpdated(goal) => {
                let stopped = goal.status != GoalStatus::Active;
                if stopped {
                    self.say(format!("\n\n{}\n\n", goal.footer()));
                }
                *session.goal.lock().unwrap_or_else(PoisonError::into_inner) = Some(goal);
                // Stopped between turns (a budget already spent): the prompt is answered.
                if stopped && !self.core_turn {
                    session.answer_goal_prompt();
                }
            }
            Event::GoalCleared => {
                *session.goal.lock().unwrap_or_else(PoisonError::into_inner) = None;
                if !self.core_turn {
                    session.answer_goal_prompt();
                }
            }
            Event::Reply(crate::protocol::Reply::McpServers(servers)) => {
                *session.mcp.lock().unwrap_or_else(PoisonError::into_inner) = servers;
            }
            Event::Reply(crate::protocol::Reply::WorkingTreeDiff(diff)) => self.diff(diff),
            // Something the person must know that is not the turn's failure (the
            // conversation no longer being saved, say): said in the conversation.
            Event::Error(message) | Event::RunsLater(message) => {
                tracing::warn!(session = %self.id, "{message}");
                self.say(format!("\n\n⚠ {message}\n\n"));
                // A `/goal` the core refused starts no turn.
                if !self.core_turn {
                    session.answer_goal_prompt();
                }
            }
            Event::Notice(message) => tracing::info!(session = %self.id, "{message}"),
            other => {
                let updates = self.translator.on_event(other);
                self.send(updates);
            }
        }
    }

    /// The core's turn ended: the prompt is answered, unless a `/goal` prompt goes on through
    /// the goal's next turns.
    fn turn_finished(&mut self, outcome: &TurnOutcome) {
        let updates = self.translator.end_turn();
        self.send(updates);
        self.core_turn = false;
        if !self.session.waits_for_goal()
            && let Some(turn) = self.session.take_turn()
        {
            // Permission requests of the turn still open stop waiting.
            turn.cancelled.cancel();
            let (said, response) = answer(outcome);
            if let Some(said) = said {
                self.say(said);
            }
            turn.reply.send(Ok(response));
        }
    }

    /// `/diff`'s answer, which ends its prompt.
    fn diff(&self, diff: Option<String>) {
        let text = match diff {
            Some(diff) if !diff.trim().is_empty() => format!("```diff\n{diff}\n```"),
            Some(_) => "No changes in the project.".to_string(),
            None => "The project is not a git repository: there is no diff to show.".to_string(),
        };
        self.say(text);
        if let Some(turn) = self.session.take_turn() {
            turn.reply
                .send(Ok(PromptResponse::new(StopReason::EndTurn)));
        }
    }
}

/// Asks the client about one approval; the decision goes to the core (`host_asks`). A
/// cancelled turn has already dropped the approval: then the answer is not waited for.
fn ask(
    cx: Connection,
    ops: UnboundedSender<Op>,
    request: RequestPermissionRequest,
    approval: u64,
    cancelled: CancellationToken,
) {
    host_asks::approval(ops, approval, cancelled, async move {
        let answer = cx.request::<RequestPermissionResponse>(
            CLIENT_METHOD_NAMES.session_request_permission,
            request,
        );
        let chosen = match answer.await {
            Ok(reply) => match reply.outcome {
                RequestPermissionOutcome::Selected(selected) => {
                    Some(selected.option_id.0.to_string())
                }
                // The client cancelled the prompt turn (its session/cancel may come after
                // this).
                _ => return Some(Verdict::Stop),
            },
            Err(e) => {
                tracing::info!(error = %e.message, "the permission request failed");
                None
            }
        };
        // A refusal shows as the failed call when the core says it was answered
        // (`updates.rs`), once.
        Some(Verdict::Decided(decision(chosen.as_deref())))
    });
}

/// Puts the model's questions to the person as permission requests, one at a time, each
/// choice an option; the labels chosen go back to the core. A dismissed question ends the
/// asking (the model goes on without the answers).
fn ask_questions(
    cx: Connection,
    ops: UnboundedSender<Op>,
    ids: (String, String),
    asked: u64,
    questions: Vec<crate::protocol::Question>,
    cancelled: CancellationToken,
) {
    let (session_id, call_id) = ids;
    host_asks::questions(ops, asked, cancelled, async move {
        let mut answers = Vec::new();
        for question in questions {
            let fields = ToolCallUpdateFields::new()
                .kind(ToolKind::Think)
                .title(format!("{}: {}", question.header, question.question));
            let options = question
                .options
                .iter()
                .enumerate()
                .map(|(index, choice)| {
                    PermissionOption::new(
                        index.to_string(),
                        format!("{} — {}", choice.label, choice.description),
                        PermissionOptionKind::AllowOnce,
                    )
                })
                .collect();
            let request = RequestPermissionRequest::new(
                session_id.clone(),
                ToolCallUpdate::new(call_id.clone(), fields),
                options,
            );
            let reply = cx
                .request::<RequestPermissionResponse>(
                    CLIENT_METHOD_NAMES.session_request_permission,
                    request,
                )
                .await;
            let chosen = match reply.map(|reply| reply.outcome) {
                Ok(RequestPermissionOutcome::Selected(selected)) => selected
                    .option_id
                    .0
                    .parse::<usize>()
                    .ok()
                    .and_then(|index| question.options.get(index)),
                _ => None,
            };
            answers.push((question.id, vec![chosen?.label.clone()]));
        }
        Some(answers)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_turn_ends_as_a_turn_with_its_reason_and_a_lost_login_says_how_back() {
        let (said, response) = answer(&TurnOutcome::Failed {
            message: "the login expired".into(),
            category: crate::protocol::ErrorCategory::Auth,
        });
        assert_eq!(response.stop_reason, StopReason::EndTurn);
        let said = said.unwrap();
        assert!(said.starts_with("⚠ the login expired") && said.contains("kelp login"));
        let (said, response) = answer(&TurnOutcome::Interrupted);
        assert_eq!((said, response.stop_reason), (None, StopReason::Cancelled));
    }
}
