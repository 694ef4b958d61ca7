//! What every step of a turn shares, kept below the tool loop (`turn.rs`) and compaction
//! (`compact.rs`), which both use it: the context a turn runs in, how a turn fails and how a
//! front end sees that, and the one stream event that reaches the front end (a retry).

use thiserror::Error;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::approval::Approvals;
use crate::llm::types::ResponseEvent;
use crate::llm::{LlmClient, LlmError};
use crate::protocol::ErrorCategory;
use crate::protocol::{Event, StopCause, TurnOutcome};

/// A new turn's id.
pub fn new_turn_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// What a turn needs besides the conversation.
#[derive(Debug, Clone)]
pub struct TurnContext {
    /// Sends the requests.
    pub client: LlmClient,
    /// Decides and asks about tool calls.
    pub approvals: Approvals,
    /// Where the front end's events go.
    pub events: UnboundedSender<Event>,
    /// Stops the turn: the stream is dropped, running commands are killed.
    pub cancel: CancellationToken,
    /// The most requests one turn makes.
    pub max_steps: usize,
    /// Where this front end signs in (`/connect`), said after a failure that needs it.
    pub sign_in: Option<&'static str>,
    /// Input added to the running turn (`Op::Steer`), taken before its next request.
    pub steered: Steered,
    /// The agent's place in its team, when the collaboration tools are on.
    pub seat: Option<super::team::Seat>,
    /// The person's hooks.
    pub hooks: crate::hooks::Hooks,
    /// The turn's id, once it has one (hooks name it).
    pub turn_id: Option<String>,
    /// The conversation's first turn here: `SessionStart` fires first, with this source
    /// (`startup`, `resume`).
    pub session_start: Option<&'static str>,
}

/// What the person adds while a turn runs, waiting for the turn's next request.
pub type Steered = std::sync::Arc<std::sync::Mutex<Vec<crate::protocol::Submission>>>;

/// Takes what waits in `steered`, oldest first.
pub fn take_steered(steered: &Steered) -> Vec<crate::protocol::Submission> {
    std::mem::take(
        &mut *steered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
}

impl TurnContext {
    /// The task path of the agent this turn is of: `/root` for the first, or without a team.
    pub fn agent_path(&self) -> &str {
        self.seat
            .as_ref()
            .map_or(super::team::ROOT, super::team::Seat::path)
    }

    pub(crate) fn emit(&self, event: Event) {
        // A front end that went away cannot be told anything; the turn still ends cleanly.
        let _ = self.events.send(event);
    }
}

/// Why a turn did not complete.
#[derive(Debug, Error)]
pub enum TurnError {
    /// The request failed.
    #[error(transparent)]
    Llm(#[from] LlmError),
    /// The model kept calling tools.
    #[error(
        "stopped after {0} steps: the model kept calling tools without finishing; send a message to let it go on"
    )]
    StepLimit(usize),
    /// The person interrupted it.
    #[error("interrupted")]
    Interrupted,
    /// An MCP server the config marks `required` did not start: its name, and why.
    #[error("the MCP server `{0}` is required (`required = true`) and did not start: {1}")]
    RequiredMcpServer(String, String),
}

impl TurnError {
    /// How the front end sees the end of the turn.
    pub fn outcome(&self) -> TurnOutcome {
        match self {
            Self::Interrupted => TurnOutcome::Interrupted,
            Self::StepLimit(_) => TurnOutcome::Stopped {
                cause: StopCause::StepLimit,
                message: self.to_string(),
            },
            Self::Llm(LlmError::Incomplete { reason }) => {
                let cause = match reason.as_deref() {
                    Some("max_output_tokens") => Some(StopCause::OutputLimit),
                    Some("content_filter") => Some(StopCause::Refusal),
                    _ => None,
                };
                match cause {
                    Some(cause) => TurnOutcome::Stopped {
                        cause,
                        message: self.to_string(),
                    },
                    None => TurnOutcome::Failed {
                        message: self.to_string(),
                        category: ErrorCategory::Other,
                    },
                }
            }
            Self::Llm(e) => TurnOutcome::Failed {
                message: e.to_string(),
                category: e.category(),
            },
            Self::RequiredMcpServer(..) => TurnOutcome::Failed {
                message: self.to_string(),
                category: ErrorCategory::Other,
            },
        }
    }
}

/// How a turn's result looks to a front end; a failure that needs a new sign-in says where
/// (`sign_in`: `/connect`, `` `kelp login` ``), when the front end has a place.
pub fn outcome_of(result: &Result<(), TurnError>, sign_in: Option<&str>) -> TurnOutcome {
    match result {
        Ok(()) => TurnOutcome::Completed,
        Err(TurnError::Llm(e)) if e.wants_sign_in() && sign_in.is_some() => TurnOutcome::Failed {
            message: format!("{e} with {}", sign_in.unwrap_or_default()),
            category: e.category(),
        },
        Err(e) => e.outcome(),
    }
}

/// Tells the front end about a retry of the stream (the one event of its kind that reaches it)
/// and the items it voids.
pub(crate) fn forward_retry(
    ctx: &TurnContext,
    event: ResponseEvent,
    voided: Vec<crate::protocol::ItemId>,
) {
    if let ResponseEvent::Retrying {
        attempt,
        max,
        delay,
        reason,
    } = event
    {
        ctx.emit(Event::Retrying {
            attempt,
            max,
            delay,
            reason,
            voided,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incomplete(reason: Option<&str>) -> TurnOutcome {
        TurnError::Llm(LlmError::Incomplete {
            reason: reason.map(str::to_string),
        })
        .outcome()
    }

    #[test]
    fn an_answer_cut_short_says_why() {
        assert!(matches!(
            incomplete(Some("max_output_tokens")),
            TurnOutcome::Stopped { cause: StopCause::OutputLimit, message }
                if message.contains("max_output_tokens")
        ));
        assert!(matches!(
            incomplete(Some("content_filter")),
            TurnOutcome::Stopped {
                cause: StopCause::Refusal,
                ..
            }
        ));
        assert!(matches!(incomplete(None), TurnOutcome::Failed { .. }));
        assert_eq!(TurnError::Interrupted.outcome(), TurnOutcome::Interrupted);
    }
}
