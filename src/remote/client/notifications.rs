//! The server's notifications about the thread in hand, as the events the core would send.

use std::time::Duration;

use serde_json::Value;

use super::{Asked, Remote, decode};
use crate::protocol::ErrorCategory;
use crate::protocol::LoginEvent;
use crate::protocol::{Event, PlanStatus, PlanStep, Reply, TurnOutcome};
use crate::remote::wire;
use crate::wire::requests;

impl Remote {
    pub(super) fn on_notification(&mut self, method: &str, params: Value) {
        match method {
            "turn/started" => {
                if let Some(note) = decode::<wire::TurnNote>(params)
                    && self.ours(&note.thread_id)
                {
                    self.turn_started(note.turn.id);
                }
            }
            "turn/completed" => {
                if let Some(note) = decode::<wire::TurnNote>(params)
                    && self.ours(&note.thread_id)
                {
                    self.turn_completed(note.turn);
                }
            }
            "item/started" => {
                if let Some(note) = decode::<wire::ItemNote>(params)
                    && self.ours(&note.thread_id)
                {
                    for event in self.calls.started(note.item) {
                        self.emit(event);
                    }
                }
            }
            "item/completed" => self.item_completed(params),
            "item/agentMessage/delta"
            | "item/reasoning/summaryTextDelta"
            | "item/reasoning/summaryPartAdded"
            | "item/commandExecution/outputDelta" => self.delta(method, params),
            "turn/plan/updated" => self.plan_updated(params),
            "thread/tokenUsage/updated" => {
                if let Some(note) = decode::<wire::UsageNote>(params)
                    && self.ours(&note.thread_id)
                {
                    let usage = note.token_usage;
                    self.context_used = usage.last.total_tokens;
                    self.emit(Event::Usage(usage.total.into()));
                    self.emit(Event::ContextUsed {
                        used: usage.last.total_tokens,
                        window: usage.model_context_window,
                    });
                }
            }
            "thread/compacted" => self.emit(Event::Compacted {
                before: self.context_used,
                automatic: false,
            }),
            "account/rateLimits/updated" => {
                if let Some(note) = decode::<wire::LimitsNote>(params) {
                    self.emit(Event::RateLimits(note.rate_limits.into()));
                }
            }
            "error" => {
                if let Some(note) = decode::<wire::ErrorNote>(params)
                    && self.ours(&note.thread_id)
                {
                    if note.will_retry {
                        self.emit(retrying(note.error));
                    } else {
                        self.failure = Some(note.error);
                    }
                }
            }
            "warning" | "configWarning" | "deprecationNotice" => {
                if let Some(note) = decode::<wire::WarningNote>(params)
                    && note.thread_id.as_deref().is_none_or(|t| self.ours(t))
                {
                    self.emit(Event::Notice(note.message));
                }
            }
            "account/login/completed" => self.login_completed(params),
            "account/updated" => self.request(
                &requests::AccountReadParams::default(),
                Asked::Account { login_done: false },
            ),
            _ => {}
        }
    }

    /// `item/completed`: a call begun before this client joined the thread is shown whole.
    fn item_completed(&mut self, params: Value) {
        if let Some(note) = decode::<wire::ItemNote>(params)
            && self.ours(&note.thread_id)
        {
            // A call begun before this client joined the thread: shown whole.
            if let Some(id) = note.item.call_id()
                && !self.calls.known(id)
            {
                for event in self.calls.started(note.item.clone()) {
                    self.emit(event);
                }
            }
            for event in self.calls.completed(note.item) {
                self.emit(event);
            }
        }
    }

    /// A piece of an answer, of a reasoning summary, or of a command's output.
    fn delta(&mut self, method: &str, params: Value) {
        let Some(delta) = decode::<wire::Delta>(params) else {
            return;
        };
        if !self.ours(&delta.thread_id) {
            return;
        }
        let item: crate::protocol::ItemId = delta.item_id.as_str().into();
        let event = match method {
            "item/agentMessage/delta" => Event::TextDelta {
                item,
                delta: delta.delta,
            },
            "item/reasoning/summaryTextDelta" => Event::ReasoningDelta {
                item,
                delta: delta.delta,
            },
            "item/reasoning/summaryPartAdded" => Event::ReasoningPartAdded {
                item,
                index: delta.summary_index,
            },
            _ => {
                self.calls.output_streamed(&delta.item_id);
                Event::ToolOutput {
                    call_id: delta.item_id,
                    chunk: delta.delta,
                }
            }
        };
        self.emit(event);
    }

    /// `turn/plan/updated`: the model's plan, its steps' statuses in kelp's words.
    fn plan_updated(&mut self, params: Value) {
        if let Some(note) = decode::<wire::PlanNote>(params)
            && self.ours(&note.thread_id)
        {
            let steps = note
                .plan
                .into_iter()
                .map(|step| PlanStep {
                    step: step.step,
                    status: match step.status.as_str() {
                        "completed" => PlanStatus::Completed,
                        "inProgress" => PlanStatus::InProgress,
                        _ => PlanStatus::Pending,
                    },
                })
                .collect();
            self.emit(Event::PlanUpdated {
                call_id: format!("plan-{}", note.turn_id),
                explanation: note.explanation,
                steps,
            });
        }
    }

    /// `account/login/completed`: the account and the models read again, or why it failed.
    fn login_completed(&mut self, params: Value) {
        self.login = None;
        let Some(done) = decode::<wire::LoginDone>(params) else {
            return;
        };
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
fn retrying(said: wire::Said) -> Event {
    let counts = said.message.split_whitespace().find_map(|word| {
        let (attempt, max) = word.split_once('/')?;
        Some((attempt.parse().ok()?, max.parse().ok()?))
    });
    let (attempt, max) = counts.unwrap_or((1, 1));
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
