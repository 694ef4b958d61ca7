//! The protocol's items and notifications made from the core's values, as pure functions:
//! what an event's item is (a command's actions, a patch's changes as Codex fills them, a plan
//! step), the delta line written once per message, and [`Outgoing`], what the server writes for
//! one event. The translator in `items.rs` decides when; this file says what. And the other way:
//! a turn's input as kelp's prompt ([`prompt`]).

use serde_json::Value;

use super::wire::RpcError;
use crate::protocol::{CallFacts, ChangeKind, ImageInput, PlanStatus, PlanStep};
use crate::tools::FileChange;
use crate::wire::requests::UserInput;
use crate::wire::{
    self as wire, CommandAction, FileUpdateChange, Notification, PatchChangeKind, PlanStepStatus,
    ThreadItem, ThreadStatus, ThreadStatusChanged, Turn, TurnPlanStep, TurnStarted,
};

/// What the server writes for one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// A notification.
    Notify(wire::ServerNotification),
    /// A notification already written as a line (a delta: one string escape and a copy).
    Line(String),
    /// An item's start and end, kept typed: a history and `kelp exec` take the item whole
    /// from them, never read back from JSON.
    Started(Box<wire::ItemStarted>),
    Completed(Box<wire::ItemCompleted>),
}

impl Outgoing {
    /// Notification `notification`.
    pub fn of(notification: impl Into<wire::ServerNotification>) -> Self {
        Self::Notify(notification.into())
    }

    /// The notification's method and params, unless it is a line already.
    pub fn into_message(self) -> Result<(&'static str, Value), String> {
        match self {
            Self::Notify(notification) => Ok(notification.into_message()),
            Self::Started(started) => Ok(started.into_message()),
            Self::Completed(completed) => Ok(completed.into_message()),
            Self::Line(line) => Err(line),
        }
    }
}

/// Where and when an event of a turn happens: what every notification of it names.
pub(super) struct At {
    pub(super) thread_id: String,
    pub(super) turn_id: String,
    pub(super) now_ms: i64,
}

impl At {
    pub(super) fn started(&self, item: ThreadItem) -> Outgoing {
        Outgoing::Started(Box::new(wire::ItemStarted {
            thread_id: self.thread_id.clone(),
            turn_id: self.turn_id.clone(),
            item,
            started_at_ms: self.now_ms,
        }))
    }

    pub(super) fn completed(&self, item: ThreadItem) -> Outgoing {
        Outgoing::Completed(Box::new(wire::ItemCompleted {
            thread_id: self.thread_id.clone(),
            turn_id: self.turn_id.clone(),
            item,
            completed_at_ms: self.now_ms,
        }))
    }

    pub(super) fn warning(&self, message: String) -> Outgoing {
        Outgoing::of(wire::Warning {
            thread_id: Some(self.thread_id.clone()),
            message,
        })
    }

    /// A warning for each file the prompt mentions that did not go with it.
    pub(super) fn left_out(&self, files: &[crate::protocol::Attachment]) -> Vec<Outgoing> {
        files
            .iter()
            .filter(|file| !file.attached)
            .map(|file| self.warning(format!("{} was left out: {}", file.path, file.detail)))
            .collect()
    }

    pub(super) fn summary_part(&self, item: &str, index: u32) -> Outgoing {
        Outgoing::of(wire::ReasoningSummaryPartAdded {
            thread_id: self.thread_id.clone(),
            turn_id: self.turn_id.clone(),
            item_id: item.to_string(),
            summary_index: index,
        })
    }

    pub(super) fn output(&self, call_id: String, chunk: String) -> Outgoing {
        Outgoing::of(wire::CommandExecutionOutputDelta {
            thread_id: self.thread_id.clone(),
            turn_id: self.turn_id.clone(),
            item_id: call_id,
            delta: chunk,
        })
    }

    pub(super) fn plan(&self, explanation: Option<String>, steps: &[PlanStep]) -> Outgoing {
        Outgoing::of(wire::TurnPlanUpdated {
            thread_id: self.thread_id.clone(),
            turn_id: self.turn_id.clone(),
            explanation,
            plan: steps.iter().map(plan_step).collect(),
        })
    }

    /// The goal's change, in its turn if one runs.
    pub(super) fn goal(&self, goal: crate::protocol::Goal) -> Outgoing {
        Outgoing::of(wire::ThreadGoalUpdated {
            thread_id: self.thread_id.clone(),
            turn_id: (!self.turn_id.is_empty()).then(|| self.turn_id.clone()),
            goal: wire::ThreadGoal {
                thread_id: self.thread_id.clone(),
                goal,
            },
        })
    }

    /// The turn's compaction, named by its turn (a turn compacts once).
    pub(super) fn compacted(&self, out: &mut Vec<Outgoing>) {
        let item = ThreadItem::ContextCompaction {
            id: format!("{}-compaction", self.turn_id),
        };
        out.push(self.started(item.clone()));
        out.push(self.completed(item));
        out.push(Outgoing::of(wire::ThreadCompacted {
            thread_id: self.thread_id.clone(),
            turn_id: self.turn_id.clone(),
        }));
    }

    /// `thread/status/changed` to `status`.
    pub(super) fn status(&self, status: wire::ThreadStatus) -> Outgoing {
        Outgoing::of(wire::ThreadStatusChanged {
            thread_id: self.thread_id.clone(),
            status,
        })
    }

    /// A retry as Codex says it: an `error` the turn goes on after, `Reconnecting... 2/5` (or
    /// `... waiting for network`) with its cause as the details.
    pub(super) fn retrying(&self, attempt: u32, max: u32, reason: String) -> Outgoing {
        Outgoing::of(wire::TurnErrorNotification {
            thread_id: self.thread_id.clone(),
            turn_id: self.turn_id.clone(),
            error: wire::Message {
                additional_details: Some(reason),
                ..wire::Message::new(crate::protocol::reconnecting(attempt, max))
            },
            will_retry: true,
        })
    }
}

/// A read, listing or search as the protocol's `CommandAction`.
pub(super) fn command_action(command: &str, facts: CallFacts) -> CommandAction {
    let command = command.to_string();
    match facts {
        CallFacts::Read { path } => CommandAction::Read {
            command,
            name: path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned()),
            path,
        },
        CallFacts::List { path } => CommandAction::ListFiles { command, path },
        CallFacts::Search { query, path } => CommandAction::Search {
            command,
            query,
            path,
        },
        CallFacts::Mcp { .. } | CallFacts::Typed { .. } => CommandAction::Unknown { command },
    }
}

/// A web search that ended, with what it did.
pub(super) fn web_search(item: &str, action: &crate::protocol::WebSearchAction) -> ThreadItem {
    ThreadItem::WebSearch {
        id: item.to_string(),
        query: action.detail(),
        action: Some(action.into()),
    }
}

/// A plan step as the protocol's `TurnPlanStep`.
pub(super) fn plan_step(step: &PlanStep) -> TurnPlanStep {
    let status = match step.status {
        PlanStatus::Pending => PlanStepStatus::Pending,
        PlanStatus::InProgress => PlanStepStatus::InProgress,
        PlanStatus::Completed => PlanStepStatus::Completed,
    };
    TurnPlanStep {
        step: step.step.clone(),
        status,
    }
}

pub(super) fn agent_message(id: &str, text: &str) -> ThreadItem {
    ThreadItem::AgentMessage {
        id: id.to_string(),
        text: text.to_string(),
    }
}

pub(super) fn reasoning(id: &str, summary: Option<&str>) -> ThreadItem {
    ThreadItem::Reasoning {
        id: id.to_string(),
        summary: summary.into_iter().map(str::to_string).collect(),
        content: Vec::new(),
    }
}

/// `{"method":"item/agentMessage/delta","params":{…,"delta":` for one message.
pub(super) fn delta_prefix(thread_id: &str, turn_id: &str, item_id: &str) -> String {
    let quoted = |s: &str| Value::String(s.to_string()).to_string();
    format!(
        r#"{{"method":"item/agentMessage/delta","params":{{"threadId":{},"turnId":{},"itemId":{},"delta":"#,
        quoted(thread_id),
        quoted(turn_id),
        quoted(item_id)
    )
}

/// The whole delta notification: the message's prefix, the delta, and the time.
pub(super) fn delta_line(prefix: &str, delta: &str, now_ms: i64) -> String {
    let mut line = String::with_capacity(prefix.len() + delta.len() + 40);
    line.push_str(prefix);
    line.push_str(&Value::String(delta.to_string()).to_string());
    line.push_str(&format!(r#"}},"emittedAtMs":{now_ms}}}"#));
    line
}

/// A changed file as the protocol's `FileUpdateChange`, as Codex fills it: a new file's text,
/// a deleted file's text, or an update's hunks (no `---`/`+++` header, which a host would
/// show as changed lines), with where a move took it.
pub(super) fn file_update(change: &FileChange) -> FileUpdateChange {
    let hunks = || {
        let start = change.diff.find("\n@@").map_or(0, |at| at + 1);
        change.diff[start..].to_string()
    };
    let (kind, diff) = match change.kind {
        ChangeKind::Add => (
            PatchChangeKind::Add,
            change.new_text.clone().unwrap_or_else(hunks),
        ),
        ChangeKind::Delete => (
            PatchChangeKind::Delete,
            change.old_text.clone().unwrap_or_else(hunks),
        ),
        ChangeKind::Update => (
            PatchChangeKind::Update {
                move_path: change.move_to.clone(),
            },
            match &change.move_to {
                Some(to) => format!("{}\n\nMoved to: {}", hunks(), to.display()),
                None => hunks(),
            },
        ),
    };
    FileUpdateChange {
        path: change.path.clone(),
        kind,
        diff,
    }
}

/// The person's input to a turn (or its steering) as a `userMessage` item, the host's input
/// items as it sent them, under a new id: `item/started` and `item/completed` at once, whole when
/// it arrives.
pub fn user_message(
    thread_id: &str,
    turn_id: &str,
    input: Value,
    now_ms: i64,
) -> [(&'static str, Value); 2] {
    let item = ThreadItem::UserMessage {
        id: uuid::Uuid::new_v4().to_string(),
        content: input,
    };
    item_started_and_completed(thread_id, turn_id, item, now_ms)
}

/// A turn starting now under `id`, as the protocol shows it.
pub fn turn_starting(id: impl Into<String>) -> Turn {
    Turn {
        started_at: Some(chrono::Utc::now().timestamp()),
        ..Turn::new(id, wire::TurnStatus::InProgress)
    }
}

/// What a turn's start says, in the order Codex 0.169 sends it: the thread goes active, then
/// `turn/started`.
pub fn turn_began(thread_id: &str, turn: Turn) -> (ThreadStatusChanged, TurnStarted) {
    (
        ThreadStatusChanged {
            thread_id: thread_id.to_string(),
            status: ThreadStatus::Active {
                active_flags: Vec::new(),
            },
        },
        TurnStarted {
            thread_id: thread_id.to_string(),
            turn,
        },
    )
}

/// An item that is whole when it begins: its `item/started` and `item/completed`.
pub fn item_notes(
    thread_id: &str,
    turn_id: &str,
    item: ThreadItem,
    now_ms: i64,
) -> [wire::ServerNotification; 2] {
    [
        wire::ItemStarted {
            thread_id: thread_id.to_string(),
            turn_id: turn_id.to_string(),
            item: item.clone(),
            started_at_ms: now_ms,
        }
        .into(),
        wire::ItemCompleted {
            thread_id: thread_id.to_string(),
            turn_id: turn_id.to_string(),
            item,
            completed_at_ms: now_ms,
        }
        .into(),
    ]
}

/// [`item_notes`] as method and params, to send after an answer.
pub fn item_started_and_completed(
    thread_id: &str,
    turn_id: &str,
    item: ThreadItem,
    now_ms: i64,
) -> [(&'static str, Value); 2] {
    item_notes(thread_id, turn_id, item, now_ms).map(wire::ServerNotification::into_message)
}

/// A turn's input as kelp's prompt: the texts (and mentioned files as `@path`), and the images.
pub fn prompt(input: Vec<UserInput>) -> Result<(String, Vec<ImageInput>), RpcError> {
    let mut text = Vec::new();
    let mut images = Vec::new();
    for item in input {
        match item {
            UserInput::Text { text: t, .. } => text.push(t),
            UserInput::Image { url: Some(url) } => images.push(ImageInput::Url(url)),
            UserInput::Image { .. } => {
                return Err(RpcError::invalid_params(
                    "Invalid params: input: kelp takes an image by its url or a localImage path",
                ));
            }
            UserInput::LocalImage { path } => images.push(ImageInput::File(path)),
            UserInput::Mention { path } if !path.contains("://") => {
                text.push(crate::agent::mentions::mention_of(&path));
            }
            UserInput::Mention { path } => tracing::info!(%path, "a mention kelp has no app for"),
            UserInput::Skill {} => tracing::info!("a skill input: kelp has no skills"),
            UserInput::Other => {
                return Err(RpcError::invalid_params(
                    "Invalid params: input: kelp takes text, images and mentions, not audio",
                ));
            }
        }
    }
    Ok((text.join("\n"), images))
}

impl At {
    /// An agent of the team's activity: Codex's `subAgentActivity` item, started and completed
    /// at once, and, as it is made, the agent's own thread idle, as Codex 0.171 says it on the
    /// parent's connection (its turns then say it active and idle, on its own thread).
    pub(super) fn agent_activity(&self, activity: crate::protocol::AgentActivity) -> Vec<Outgoing> {
        use crate::protocol::AgentActivityKind as Kind;
        let made = (activity.kind == Kind::Started).then(|| {
            Outgoing::of(wire::ThreadStatusChanged {
                thread_id: activity.conversation.clone(),
                status: ThreadStatus::Idle,
            })
        });
        let item = sub_agent_activity(activity);
        let (started, completed) = (self.started(item.clone()), self.completed(item));
        [Some(started), made, Some(completed)]
            .into_iter()
            .flatten()
            .collect()
    }
}

/// An agent of the team's activity as Codex's `subAgentActivity` item.
fn sub_agent_activity(activity: crate::protocol::AgentActivity) -> ThreadItem {
    use crate::protocol::AgentActivityKind as Kind;
    use crate::wire::SubAgentActivityKind;
    ThreadItem::SubAgentActivity {
        id: activity.id,
        kind: match activity.kind {
            Kind::Started => SubAgentActivityKind::Started,
            Kind::Interacted => SubAgentActivityKind::Interacted,
            Kind::Interrupted => SubAgentActivityKind::Interrupted,
            Kind::Completed => SubAgentActivityKind::Completed,
        },
        agent_thread_id: activity.conversation,
        agent_path: activity.path,
        model: activity.model,
        reasoning_effort: activity.effort,
    }
}
