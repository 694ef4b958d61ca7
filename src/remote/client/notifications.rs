//! The server's notifications about the thread in hand, as the events the core would send.

use std::time::Duration;

use serde_json::Value;

use super::{Asked, Remote, items};
use crate::protocol::ErrorCategory;
use crate::protocol::LoginEvent;
use crate::protocol::{Event, ItemId, PlanStatus, PlanStep, Reply, TurnOutcome};
use crate::wire::{
    self, AccountNote, ReadError, ServerNotification as Note, ThreadNote, TurnNote, requests,
};

impl Remote {
    pub(super) fn on_notification(&mut self, method: &str, params: Value) {
        let note = match Note::read(method, params) {
            Ok(note) => note,
            // A newer server's: passed over, as Codex's own client does.
            Err(ReadError::UnknownMethod(method)) => {
                return tracing::debug!(method, "a notification kelp does not know");
            }
            Err(e @ ReadError::Malformed { .. }) => {
                if method == <wire::LoginCompleted as wire::Notification>::METHOD {
                    // Whatever it said, the sign-in under way is over.
                    self.login = None;
                }
                return tracing::warn!(error = %e, "an app-server notification not understood");
            }
        };
        match note {
            Note::Turn(note) if self.ours(note.thread_id()) => self.on_turn_note(note),
            // An agent of the team's call, kept for what it asks (a patch's changes).
            Note::Turn(TurnNote::ItemStarted(note))
                if self.calls.agent_of(&note.thread_id).is_some() =>
            {
                let _ = self.calls.started(note.item);
            }
            Note::Turn(TurnNote::ItemCompleted(note))
                if self.calls.agent_of(&note.thread_id).is_some() =>
            {
                let _ = self.calls.completed(note.item);
            }
            Note::Said(said) if said.thread_id().is_none_or(|t| self.ours(t)) => {
                self.emit(Event::Notice(said.words().to_string()));
            }
            Note::Thread(ThreadNote::ThreadQueueChanged(changed))
                if self.ours(&changed.thread_id) =>
            {
                self.list_queue();
            }
            Note::Account(AccountNote::LoginCompleted(done)) => self.login_completed(*done),
            Note::Account(AccountNote::AccountUpdated(_)) => self.request(
                &requests::AccountReadParams::default(),
                Asked::Account { login_done: false },
            ),
            Note::Account(AccountNote::RateLimitsUpdated(note)) => {
                self.emit(Event::RateLimits(note.rate_limits.into()));
            }
            // Another thread's turn or words; what this client does not show: the threads'
            // keeping, an MCP server's sign-in, a host's standalone command.
            Note::Turn(_)
            | Note::Said(_)
            | Note::Thread(_)
            | Note::Account(AccountNote::McpLoginCompleted(_))
            | Note::Host(_) => {}
        }
    }

    /// A notification of this client's thread's turns: its start and end, its items and their
    /// pieces, its plan, usage and failure.
    fn on_turn_note(&mut self, note: TurnNote) {
        match note {
            TurnNote::TurnStarted(note) => self.turn_started(note.turn.id),
            TurnNote::TurnCompleted(note) => self.turn_completed(note.turn),
            TurnNote::ItemStarted(note) => {
                for event in self.calls.started(note.item) {
                    self.emit(event);
                }
            }
            TurnNote::ItemCompleted(note) => self.item_completed(note.item),
            // The call that typed shows as its own; the command's item says nothing more.
            TurnNote::TerminalInteraction(_) => {}
            TurnNote::AgentMessageDelta(delta) => self.emit(Event::TextDelta {
                item: ItemId::from(delta.item_id.as_str()),
                delta: delta.delta,
            }),
            TurnNote::ReasoningSummaryTextDelta(delta) => self.emit(Event::ReasoningDelta {
                item: ItemId::from(delta.item_id.as_str()),
                delta: delta.delta,
            }),
            TurnNote::ReasoningSummaryPartAdded(part) => self.emit(Event::ReasoningPartAdded {
                item: ItemId::from(part.item_id.as_str()),
                index: part.summary_index,
            }),
            TurnNote::CommandExecutionOutputDelta(delta) => {
                self.calls.output_streamed(&delta.item_id);
                self.emit(Event::ToolOutput {
                    call_id: delta.item_id,
                    chunk: delta.delta,
                });
            }
            TurnNote::TurnPlanUpdated(plan) => self.plan_updated(*plan),
            TurnNote::ThreadTokenUsageUpdated(note) => {
                let usage = note.token_usage;
                self.context_used = usage.last.total_tokens;
                self.emit(Event::Usage(usage.total.into()));
                self.emit(Event::ContextUsed {
                    used: usage.last.total_tokens,
                    window: usage.model_context_window,
                });
            }
            TurnNote::ThreadCompacted(_) => self.emit(Event::Compacted {
                before: self.context_used,
                automatic: false,
            }),
            note @ (TurnNote::AutoApprovalReviewStarted(_)
            | TurnNote::AutoApprovalReviewCompleted(_)) => self.on_review_note(note),
            TurnNote::TurnErrorNotification(note) if note.will_retry => {
                self.emit(retrying(note.error));
            }
            TurnNote::TurnErrorNotification(note) => self.failure = Some(note.error),
            // The face draws a patch's diff from its item; the turn's whole diff is for hosts.
            TurnNote::TurnDiffUpdated(_) => {}
        }
    }

    /// `item/completed`: a call begun before this client joined the thread is shown whole.
    fn item_completed(&mut self, item: wire::ThreadItem) {
        if let Some(id) = items::call_id(&item)
            && !self.calls.known(id)
        {
            for event in self.calls.started(item.clone()) {
                self.emit(event);
            }
        }
        for event in self.calls.completed(item) {
            self.emit(event);
        }
    }

    /// `turn/plan/updated`: the model's plan, its steps' statuses in kelp's words.
    fn plan_updated(&mut self, plan: wire::TurnPlanUpdated) {
        let steps = plan
            .plan
            .into_iter()
            .map(|step| PlanStep {
                step: step.step,
                status: match step.status {
                    wire::PlanStepStatus::Completed => PlanStatus::Completed,
                    wire::PlanStepStatus::InProgress => PlanStatus::InProgress,
                    wire::PlanStepStatus::Pending => PlanStatus::Pending,
                },
            })
            .collect();
        self.emit(Event::PlanUpdated {
            call_id: format!("plan-{}", plan.turn_id),
            explanation: plan.explanation,
            steps,
        });
    }

    /// `account/login/completed`: the account and the models read again, or why it failed.
    fn login_completed(&mut self, done: wire::LoginCompleted) {
        self.login = None;
        if done.success {
            let asked = Asked::Account { login_done: true };
            self.request(&requests::AccountReadParams::default(), asked);
            self.request(&requests::ModelListParams::default(), Asked::Models);
        } else {
            let why = done
                .error
                .unwrap_or_else(|| "the sign-in did not finish".to_string());
            self.emit(Event::Reply(Reply::Login(LoginEvent::Failed(why))));
        }
    }

    fn turn_completed(&mut self, turn: wire::Turn) {
        if self
            .turn
            .as_deref()
            .is_some_and(|running| running != turn.id)
        {
            return;
        }
        self.turn = None;
        let failure = self.failure.take();
        let outcome = match turn.status {
            wire::TurnStatus::Interrupted => TurnOutcome::Interrupted,
            wire::TurnStatus::Failed => {
                let said = turn.error.or(failure).unwrap_or_default();
                let message = if said.message.is_empty() {
                    "the turn failed on the server".to_string()
                } else {
                    said.message
                };
                TurnOutcome::Failed {
                    category: category_of(&message, said.codex_error_info.as_ref()),
                    message,
                }
            }
            _ => TurnOutcome::Completed,
        };
        self.emit(Event::TurnFinished(outcome));
    }
}

/// A failure the server retries after (`Reconnecting... 2/5`), as the retry line a face shows.
fn retrying(said: wire::Message) -> Event {
    let (attempt, max) = crate::protocol::reconnecting_count(&said.message).unwrap_or((1, 1));
    let reason = said
        .additional_details
        .filter(|details| !details.trim().is_empty())
        .unwrap_or(said.message);
    Event::Retrying {
        attempt,
        max,
        delay: Duration::ZERO,
        reason,
        voided: Vec::new(),
    }
}

/// Signing in again or waiting for a limit, where the server's words or its kind of error say so.
pub(super) fn category_of(message: &str, info: Option<&Value>) -> ErrorCategory {
    let kind = info
        .and_then(|info| {
            info.as_str()
                .map(str::to_string)
                .or_else(|| info.as_object()?.keys().next().cloned())
        })
        .unwrap_or_default();
    let lower = message.to_lowercase();
    if kind == "unauthorized" || lower.contains("sign in") || lower.contains("log in") {
        ErrorCategory::Auth
    } else if kind == "usageLimitExceeded" || lower.contains("usage limit") {
        ErrorCategory::Limit
    } else {
        ErrorCategory::Other
    }
}
