//! The `Event`s a turn sends a face, and [`Line`]: what of them a face that prints lines
//! (`kelp run`, `kelp exec`) reads, so those faces name only what they print and a new event
//! they do not print is one arm here (`None`), not one in each of them.

use std::path::PathBuf;
use std::time::Duration;

use super::{
    ApprovalDecision, ApprovalSubject, Attachment, CallFacts, FileChange, ItemId, ItemKind,
    PlanStep, Question, RateLimits, Reply, TokenUsage, TurnOutcome,
};

/// Something the front end should show.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A turn began, under `id`: the id it is saved with, and the one a reload names it by.
    TurnStarted { id: String },
    /// The files the prompt mentions (`@path`): which went with it, and why others did not.
    Attached(Vec<Attachment>),
    /// An item of the turn began: an answer or a reasoning summary. (A tool call begins with
    /// `ToolStarted`, its call id the item's id.)
    ItemStarted { item: ItemId, kind: ItemKind },
    /// A piece of the answer `item`.
    TextDelta { item: ItemId, delta: String },
    /// A piece of the reasoning summary `item`.
    ReasoningDelta { item: ItemId, delta: String },
    /// The reasoning item begins part `index` of its summary: the deltas after it are that
    /// part's (a part after the first is a new section).
    ReasoningPartAdded { item: ItemId, index: u32 },
    /// The answer `item` is complete: the authoritative text.
    MessageDone { item: ItemId, text: String },
    /// The reasoning summary `item` is complete: its whole text.
    ReasoningDone { item: ItemId, text: String },
    /// The model began a web search (the Responses API's own tool; nothing runs here).
    WebSearchStarted { item: ItemId },
    /// The web search ended: what it did (`WebSearchAction::detail` says it in words).
    WebSearchDone {
        item: ItemId,
        action: crate::protocol::WebSearchAction,
    },
    /// A tool call (an item, its id `call_id`) began; `summary` is what it works on (path,
    /// command, files), without the tool's name.
    ToolStarted {
        call_id: String,
        tool: String,
        summary: String,
        /// The paths it reads, writes or runs in, absolute (for an editor to show or follow).
        paths: Vec<PathBuf>,
        /// What a host shows of a read, a listing, a search or an MCP call.
        facts: Option<CallFacts>,
    },
    /// Output of a running tool (streamed for `shell`).
    ToolOutput { call_id: String, chunk: String },
    /// The files a patch call changed, each with its diff (before its `ToolFinished`).
    FilesChanged {
        call_id: String,
        changes: Vec<FileChange>,
    },
    /// A tool call ended.
    ToolFinished {
        call_id: String,
        success: bool,
        exit_code: Option<i32>,
        duration: Duration,
    },
    /// The call was refused (by the person, or by the rules with nobody to ask): it never ran.
    /// Sent as a saved conversation is shown again, before its `ToolFinished`, where the
    /// question that refused it is not shown.
    CallDeclined { call_id: String },
    /// The agent waits for a yes or no.
    ApprovalRequested {
        id: u64,
        call_id: String,
        subject: ApprovalSubject,
        /// The agent of the team that asks (`/root/alpha`); `None` for the one the face runs.
        agent: Option<String>,
    },
    /// The model asks the person questions (`request_user_input`); the turn waits for
    /// `Op::AnswerQuestions` with the same `id`.
    QuestionsAsked {
        id: u64,
        call_id: String,
        questions: Vec<Question>,
    },
    /// A reviewing model began to judge an approval in the person's place, or judged it; the
    /// question itself goes with a live review's start (a face opens the call's item from it).
    AutoReview {
        review: crate::protocol::AutoReview,
        subject: Option<Box<ApprovalSubject>>,
    },
    /// An approval request was answered (`None`: withdrawn, the turn was interrupted first).
    ApprovalAnswered {
        id: u64,
        call_id: String,
        decision: Option<ApprovalDecision>,
    },
    /// The model updated its plan (with the `update_plan` call `call_id`).
    PlanUpdated {
        call_id: String,
        explanation: Option<String>,
        steps: Vec<PlanStep>,
    },
    /// A transient failure is being retried ("reconnecting 2/5"); `max` 0: the retries are
    /// spent and the server is unreachable, so kelp waits for the network, trying again until
    /// it is back ([`reconnecting`]). The failed attempt's items are `voided`: the retry
    /// streams the answer again as new items (the rule every face follows, in
    /// docs/architecture.md's retry rule).
    Retrying {
        attempt: u32,
        max: u32,
        delay: Duration,
        reason: String,
        voided: Vec<ItemId>,
    },
    /// Token usage of the conversation so far.
    Usage(TokenUsage),
    /// How full the context window is: the tokens the last request took, and the window
    /// (when kelp knows it).
    ContextUsed { used: u64, window: Option<u64> },
    /// The conversation was compacted onto a summary; `before`: the tokens it took before,
    /// `automatic`: kelp did it (the window was nearly full or overflowed), not the person.
    Compacted { before: u64, automatic: bool },
    /// Rate limits reported by the server.
    RateLimits(RateLimits),
    /// A turn ended.
    TurnFinished(TurnOutcome),
    /// A message for the person that belongs to no turn.
    Notice(String),
    /// What the person should read where they look, on every face, that does not stop the
    /// turn: a command or patch left a file that the person's own tools run later (a
    /// `.cargo/config.toml` naming a `rustc-wrapper`, an `.npmrc` naming a `script-shell`).
    RunsLater(String),
    /// An error that belongs to no turn, one readable line.
    Error(String),
    /// The conversation's goal changed: set, marked by the model, paused by an interrupt, or
    /// its spending counted at a turn's end.
    GoalUpdated(crate::protocol::Goal),
    /// The conversation's goal was cleared.
    GoalCleared,
    /// An agent of the team this one spawned started, was told something, was interrupted or
    /// finished (Codex's `subAgentActivity`).
    AgentActivity(AgentActivity),
    /// An event of another agent of the team, as its own conversation sees it: a face that
    /// shows each agent's thread (the app-server) follows it there; the others read only what
    /// the person must answer or know ([`OfAgent::for_person`]).
    OfAgent(Box<OfAgent>),
    /// The answer to `Op::CallMcpTool` `id`: the tool's text and whether it succeeded, or why
    /// it could not be called.
    McpToolCalled {
        id: u64,
        outcome: Result<(String, bool), String>,
    },
    /// What answers a face's own request (`ListSessions`, `Diff`, a login) or choice (a rule
    /// added), apart from the turn's stream; kept in order with it.
    Reply(Reply),
}

/// What a face that prints lines reads of an event: the answer's and the reasoning's pieces, a
/// tool's start, output and end, a retry, the usage, words for the person, the turn's bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Line<'a> {
    TurnStarted {
        id: &'a str,
    },
    Attached(&'a [Attachment]),
    Text {
        item: &'a ItemId,
        delta: &'a str,
    },
    Reasoning {
        item: &'a ItemId,
        delta: &'a str,
    },
    MessageDone {
        item: &'a ItemId,
        text: &'a str,
    },
    ToolStarted {
        tool: &'a str,
        summary: &'a str,
    },
    ToolOutput {
        call_id: &'a str,
        chunk: &'a str,
    },
    ToolFinished {
        success: bool,
        exit_code: Option<i32>,
    },
    WebSearchDone {
        action: &'a crate::protocol::WebSearchAction,
    },
    Retrying {
        attempt: u32,
        max: u32,
        reason: &'a str,
        voided: &'a [ItemId],
    },
    Usage(&'a TokenUsage),
    Compacted {
        before: u64,
        automatic: bool,
    },
    Notice(&'a str),
    /// A review done (one in progress is not printed).
    Reviewed(&'a crate::protocol::AutoReview),
    RunsLater(&'a str),
    Error(&'a str),
    TurnFinished(&'a TurnOutcome),
}

/// A retry in Codex's words: `Reconnecting... 2/5`, or `Reconnecting... waiting for network`
/// while kelp waits for an unreachable server (`max` 0).
pub fn reconnecting(attempt: u32, max: u32) -> String {
    format!("Reconnecting... {}", retry_count(attempt, max))
}

/// A retry's count in words: `2/5`, or `waiting for network` when the retries are spent and
/// kelp waits for the network (`max` 0).
pub fn retry_count(attempt: u32, max: u32) -> String {
    if max == 0 {
        WAITING_FOR_NETWORK.to_string()
    } else {
        format!("{attempt}/{max}")
    }
}

const WAITING_FOR_NETWORK: &str = "waiting for network";

/// The count a retry's message says ([`reconnecting`]'s, kelp's or Codex's), read back:
/// `(attempt, max)`, `max` 0 while it waits for the network; `None` when it says none.
pub fn reconnecting_count(message: &str) -> Option<(u32, u32)> {
    if message.trim_end().ends_with(WAITING_FOR_NETWORK) {
        return Some((1, 0));
    }
    message.split_whitespace().find_map(|word| {
        let (attempt, max) = word.split_once('/')?;
        Some((attempt.parse().ok()?, max.parse().ok()?))
    })
}

impl Event {
    /// What a face that prints lines reads of this event; `None` for what only a face that
    /// draws the turn's items, asks the person, or keeps a thread shows.
    pub fn line(&self) -> Option<Line<'_>> {
        Some(match self {
            Self::TurnStarted { id } => Line::TurnStarted { id },
            Self::Attached(files) => Line::Attached(files),
            Self::TextDelta { item, delta } => Line::Text { item, delta },
            Self::ReasoningDelta { item, delta } => Line::Reasoning { item, delta },
            Self::MessageDone { item, text } => Line::MessageDone { item, text },
            Self::ToolStarted { tool, summary, .. } => Line::ToolStarted { tool, summary },
            Self::ToolOutput { call_id, chunk } => Line::ToolOutput { call_id, chunk },
            Self::ToolFinished {
                success, exit_code, ..
            } => Line::ToolFinished {
                success: *success,
                exit_code: *exit_code,
            },
            Self::WebSearchDone { action, .. } => Line::WebSearchDone { action },
            Self::Retrying {
                attempt,
                max,
                reason,
                voided,
                ..
            } => Line::Retrying {
                attempt: *attempt,
                max: *max,
                reason,
                voided,
            },
            Self::Usage(usage) => Line::Usage(usage),
            Self::Compacted { before, automatic } => Line::Compacted {
                before: *before,
                automatic: *automatic,
            },
            Self::Notice(words) => Line::Notice(words),
            Self::AutoReview { review, .. }
                if review.status != crate::protocol::ReviewStatus::InProgress =>
            {
                Line::Reviewed(review)
            }
            Self::RunsLater(words) => Line::RunsLater(words),
            Self::Error(words) => Line::Error(words),
            Self::TurnFinished(outcome) => Line::TurnFinished(outcome),
            Self::ItemStarted { .. }
            | Self::ReasoningPartAdded { .. }
            | Self::ReasoningDone { .. }
            | Self::WebSearchStarted { .. }
            | Self::FilesChanged { .. }
            | Self::ApprovalRequested { .. }
            | Self::QuestionsAsked { .. }
            | Self::ApprovalAnswered { .. }
            | Self::AutoReview { .. }
            | Self::CallDeclined { .. }
            | Self::PlanUpdated { .. }
            | Self::ContextUsed { .. }
            | Self::RateLimits(_)
            | Self::GoalUpdated(_)
            | Self::GoalCleared
            | Self::AgentActivity(_)
            | Self::OfAgent(_)
            | Self::McpToolCalled { .. }
            | Self::Reply(_) => return None,
        })
    }
}

/// What happened to an agent of the team: which (its task path and conversation), what, and,
/// as it starts, the model and effort it works with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AgentActivity {
    /// The call that did it, or an id of its own for an agent that finished.
    pub id: String,
    pub kind: AgentActivityKind,
    pub path: String,
    pub conversation: String,
    pub model: Option<String>,
    pub effort: Option<String>,
}

/// An event of an agent of the team other than the one the face runs.
#[derive(Debug, Clone, PartialEq)]
pub struct OfAgent {
    /// Its task path (`/root/alpha`).
    pub path: String,
    /// Its conversation's id: its thread.
    pub conversation: String,
    pub event: Event,
}

impl OfAgent {
    /// What a face that shows one conversation makes of it: the approvals and questions the
    /// agent asks (naming it), their answers, and its errors as notices; nothing else.
    pub fn for_person(self) -> Option<Event> {
        match self.event {
            Event::ApprovalRequested {
                id,
                call_id,
                subject,
                ..
            } => Some(Event::ApprovalRequested {
                id,
                call_id,
                subject,
                agent: Some(self.path),
            }),
            event @ (Event::QuestionsAsked { .. } | Event::ApprovalAnswered { .. }) => Some(event),
            Event::Error(why) => Some(Event::Notice(format!("agent {}: {why}", self.path))),
            _ => None,
        }
    }
}

/// What happened to an agent, in Codex's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentActivityKind {
    Started,
    Interacted,
    Interrupted,
    Completed,
}

#[cfg(test)]
mod retry_words {
    use super::*;

    /// What one face says of a retry, another reads back: the count, or the wait for the
    /// network; Codex's own message reads the same.
    #[test]
    fn a_retry_said_is_read_back() {
        assert_eq!(reconnecting(2, 5), "Reconnecting... 2/5");
        assert_eq!(reconnecting_count(&reconnecting(2, 5)), Some((2, 5)));
        assert_eq!(reconnecting(1, 0), "Reconnecting... waiting for network");
        assert_eq!(reconnecting_count(&reconnecting(1, 0)), Some((1, 0)));
        assert_eq!(reconnecting_count("stream disconnected"), None);
    }
}
