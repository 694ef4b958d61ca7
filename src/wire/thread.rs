//! Threads, their turns and items, and the notifications that carry them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Message, Notification, Text, ThreadItem, known, lenient};

/// A turn: its items (empty where the notifications carry them), how it ended, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Turn {
    pub id: String,
    #[serde(default)]
    pub items: Vec<ThreadItem>,
    pub status: TurnStatus,
    #[serde(default, deserialize_with = "lenient")]
    pub error: Option<Message>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<i64>,
    /// Whether `items` holds the turn's items (`full`) or was left empty (`notLoaded`), where a
    /// list says so.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub items_view: Option<Text>,
}

impl Turn {
    /// Turn `id`, its items not given here, in `status`.
    pub fn new(id: impl Into<String>, status: TurnStatus) -> Self {
        Self {
            id: id.into(),
            items: Vec::new(),
            status,
            error: None,
            started_at: None,
            completed_at: None,
            items_view: None,
        }
    }
}

/// A thread: a kelp session, its turns where the answer carries them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Thread {
    pub id: String,
    #[serde(default, deserialize_with = "lenient")]
    pub session_id: String,
    #[serde(default, deserialize_with = "lenient")]
    pub preview: String,
    #[serde(default, deserialize_with = "lenient")]
    pub ephemeral: bool,
    #[serde(default, deserialize_with = "lenient")]
    pub model_provider: String,
    #[serde(default, deserialize_with = "lenient")]
    pub created_at: i64,
    #[serde(default, deserialize_with = "lenient")]
    pub updated_at: i64,
    #[serde(default, deserialize_with = "lenient")]
    pub status: ThreadStatus,
    #[serde(default, deserialize_with = "lenient")]
    pub cwd: PathBuf,
    #[serde(default, deserialize_with = "lenient")]
    pub cli_version: Text,
    /// Where the thread came from: `appServer`, or for an agent of a team Codex's
    /// `{"subAgent": {"thread_spawn": {…}}}`; a server may say more.
    #[serde(default, deserialize_with = "lenient")]
    pub source: serde_json::Value,
    #[serde(default)]
    pub turns: Turns,
    #[serde(default, deserialize_with = "lenient")]
    pub project_id: Option<String>,
    /// The session file, once the thread is saved (hosts check it before a goal).
    #[serde(default, deserialize_with = "lenient")]
    pub path: Option<PathBuf>,
    /// Said when known (a saved thread's name, null when it has none).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "known"
    )]
    pub name: Option<Option<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "known"
    )]
    pub forked_from_id: Option<Option<String>>,
    /// The thread this one is a side conversation of (Codex 0.171's attached thread).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub attached_to_thread_id: Option<String>,
    /// The thread of the agent that spawned this one (an agent of a team).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub parent_thread_id: Option<String>,
    /// `subagent` for an agent of a team, as Codex marks its spawned threads.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub thread_source: Option<Text>,
    /// Said in a thread's opening answer: kelp gives the history whole (`legacy`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub history_mode: Option<Text>,
}

impl Thread {
    /// Thread `id` working in `cwd`, idle, with no turns.
    pub fn new(id: &str, cwd: &std::path::Path, preview: &str, created: i64, updated: i64) -> Self {
        Self {
            id: id.to_string(),
            session_id: id.to_string(),
            preview: preview.to_string(),
            ephemeral: false,
            model_provider: crate::config::providers::OPENAI.to_string(),
            created_at: created,
            updated_at: updated,
            status: ThreadStatus::Idle,
            cwd: cwd.to_path_buf(),
            cli_version: env!("CARGO_PKG_VERSION").into(),
            source: serde_json::Value::from("appServer"),
            turns: Turns::default(),
            project_id: None,
            path: None,
            name: None,
            forked_from_id: None,
            attached_to_thread_id: None,
            parent_thread_id: None,
            thread_source: None,
            history_mode: None,
        }
    }

    /// Marks it as the agent at `path` (`/root/alpha`) of a team, spawned by `parent`'s
    /// thread, as Codex's spawned threads are marked.
    pub fn spawned_by(&mut self, parent: &str, path: &str) {
        let depth = path.trim_matches('/').split('/').count().saturating_sub(1);
        self.source = serde_json::json!({"subAgent": {"thread_spawn": {
            "parent_thread_id": parent,
            "depth": depth,
            "agent_path": path,
            "agent_nickname": null,
            "agent_role": null,
        }}});
        self.parent_thread_id = Some(parent.to_string());
        self.thread_source = Some("subagent".into());
    }

    /// The task path of the agent whose thread this is (`/root/reader`), as its source says.
    pub fn agent_path(&self) -> Option<&str> {
        self.source
            .pointer("/subAgent/thread_spawn/agent_path")
            .and_then(serde_json::Value::as_str)
    }
}

/// A thread's turns as an answer carries them: built, or a saved thread's read from its file
/// while the answer is written, a few at a time, so a long history is never held whole.
#[derive(Debug, Clone)]
pub enum Turns {
    Built(Vec<Turn>),
    Saved(std::sync::Arc<dyn TurnSource>),
}

/// Why a run of saved turns could not be read (the file's own error).
pub type TurnSourceError = Box<dyn std::error::Error + Send + Sync>;

/// Turns read while an answer is written: a saved thread's, from its file, a run at a time.
pub trait TurnSource: std::fmt::Debug + Send + Sync {
    /// How many turns there are.
    fn count(&self) -> usize;
    /// Each run of turns, in order, or why one could not be read.
    fn runs(&self) -> Box<dyn Iterator<Item = Result<Vec<Turn>, TurnSourceError>> + '_>;
    /// What tells two sources of the same turns (the index they read).
    fn identity(&self) -> *const ();
}

impl Turns {
    /// The turns in hand: built, or read from a server. A saved thread's are read from its
    /// file only while an answer is written, so none are in hand.
    pub fn in_hand(&self) -> &[Turn] {
        match self {
            Self::Built(turns) => turns,
            Self::Saved(_) => &[],
        }
    }
}

impl Default for Turns {
    fn default() -> Self {
        Self::Built(Vec::new())
    }
}

impl From<Vec<Turn>> for Turns {
    fn from(turns: Vec<Turn>) -> Self {
        Self::Built(turns)
    }
}

impl PartialEq for Turns {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Built(one), Self::Built(other)) => one == other,
            (Self::Saved(one), Self::Saved(other)) => one.identity() == other.identity(),
            _ => false,
        }
    }
}

impl<'de> Deserialize<'de> for Turns {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<Turn>::deserialize(deserializer).map(Self::Built)
    }
}

impl Serialize for Turns {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Built(turns) => turns.serialize(serializer),
            Self::Saved(saved) => {
                use serde::ser::{Error, SerializeSeq};
                let mut turns = serializer.serialize_seq(Some(saved.count()))?;
                for run in saved.runs() {
                    for turn in run.map_err(S::Error::custom)? {
                        turns.serialize_element(&turn)?;
                    }
                }
                turns.end()
            }
        }
    }
}

/// One page of a list, with the cursors either way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListPage<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub next_cursor: Option<String>,
    #[serde(default)]
    pub backwards_cursor: Option<String>,
}

/// An answer that is a thread (`thread/read`, `thread/unarchive`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadResponse {
    pub thread: Thread,
}

/// How a thread was answered when it opened (`thread/start`, `resume`, `fork`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadOpened {
    pub thread: Thread,
    #[serde(default, deserialize_with = "lenient")]
    pub model: String,
    #[serde(default, deserialize_with = "lenient")]
    pub model_provider: String,
    #[serde(default, deserialize_with = "lenient")]
    pub cwd: PathBuf,
    /// Codex's words for it (`on-request`, …; a newer server may give an object).
    #[serde(default, deserialize_with = "lenient")]
    pub approval_policy: Text,
    #[serde(default, deserialize_with = "lenient")]
    pub approvals_reviewer: Text,
    #[serde(default, deserialize_with = "lenient")]
    pub sandbox: SandboxPolicy,
    /// Where a host that pages the history backwards starts, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items_backwards_cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turns_backwards_cursor: Option<String>,
}

/// An answer with nothing to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Empty {}

/// `turn/start`'s answer (and `thread/compact/start`'s turn).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnResponse {
    pub turn: Turn,
}

/// `review/start`'s answer: the review runs inline, on the thread itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewStarted {
    pub review_thread_id: String,
    pub turn: Turn,
}

/// `turn/steer`'s answer: the turn the input joined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnSteered {
    pub turn_id: String,
}

/// `thread/unsubscribe`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Unsubscribed {
    pub status: &'static str,
}

/// `thread/revert`'s answer: the thread as it is now, and where its history starts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadRevertResponse {
    pub thread: Thread,
    pub items_backwards_cursor: Option<String>,
    pub turns_backwards_cursor: Option<String>,
}

/// kelp's sandbox mode in the protocol's words.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum SandboxPolicy {
    DangerFullAccess,
    ReadOnly {
        network_access: bool,
    },
    WorkspaceWrite {
        writable_roots: Vec<PathBuf>,
        network_access: bool,
        exclude_tmpdir_env_var: bool,
        exclude_slash_tmp: bool,
    },
    /// A policy a newer server has words for; never written.
    #[default]
    #[serde(other, skip_serializing)]
    Unknown,
}

/// `thread/items/list`'s entry: an item and its turn.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnItem {
    pub item: ThreadItem,
    pub turn_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TurnStatus {
    InProgress,
    Completed,
    Interrupted,
    Failed,
    /// A status a newer server has words for; never written.
    #[serde(other, skip_serializing)]
    Unknown,
}

/// A plan step of `turn/plan/updated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnPlanStep {
    pub step: String,
    pub status: PlanStepStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PlanStepStatus {
    InProgress,
    Completed,
    /// Also a status a newer server has other words for: not begun, as far as kelp knows.
    #[serde(other)]
    Pending,
}

/// Token counts (`TokenUsageBreakdown`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TokenUsageBreakdown {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_output_tokens: u64,
    pub total_tokens: u64,
}

/// The conversation's tokens so far, and its last request's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadTokenUsage {
    pub total: TokenUsageBreakdown,
    pub last: TokenUsageBreakdown,
    /// The model's context window, where the server says it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_context_window: Option<u64>,
}

/// A thread's state: idle, or working (and perhaps waiting on the person).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ThreadStatus {
    /// The server holds no core for it any more (no client heard it a while).
    NotLoaded,
    Idle,
    Active {
        active_flags: Vec<ActiveFlag>,
    },
    /// A state a newer server has words for; never written.
    #[default]
    #[serde(other, skip_serializing)]
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ActiveFlag {
    WaitingOnApproval,
    /// What else a newer server says a thread waits on; never written.
    #[serde(other, skip_serializing)]
    Unknown,
}

/// The same token counts both ways: kelp's and the protocol's name them alike.
macro_rules! token_counts_both_ways {
    ($($field:ident),*) => {
        impl From<TokenUsageBreakdown> for crate::protocol::TokenUsage {
            fn from(tokens: TokenUsageBreakdown) -> Self {
                Self { $($field: tokens.$field),* }
            }
        }

        impl From<&crate::protocol::TokenUsage> for TokenUsageBreakdown {
            fn from(tokens: &crate::protocol::TokenUsage) -> Self {
                Self { $($field: tokens.$field),* }
            }
        }
    };
}

token_counts_both_ways!(
    input_tokens,
    cached_input_tokens,
    output_tokens,
    reasoning_output_tokens,
    total_tokens
);

notification!(
    /// An item begins (a message streaming, a command running).
    ItemStarted = "item/started" {
        thread_id: String,
        turn_id: String,
        item: ThreadItem,
        #[serde(default)]
        started_at_ms: i64,
    }
);

notification!(
    /// An item ends, whole.
    ItemCompleted = "item/completed" {
        thread_id: String,
        turn_id: String,
        item: ThreadItem,
        #[serde(default)]
        completed_at_ms: i64,
    }
);

notification!(
    /// A piece of the model's answer. kelp's server writes these lines itself, a prefix made
    /// once per message (`app_server::shapes::delta_prefix`); a client reads them as this.
    AgentMessageDelta = "item/agentMessage/delta" {
        thread_id: String,
        turn_id: String,
        item_id: String,
        delta: String,
    }
);

notification!(
    /// A new part of a reasoning summary begins.
    ReasoningSummaryPartAdded = "item/reasoning/summaryPartAdded" {
        thread_id: String,
        turn_id: String,
        item_id: String,
        summary_index: u32,
    }
);

notification!(
    /// A piece of a reasoning summary's part.
    ReasoningSummaryTextDelta = "item/reasoning/summaryTextDelta" {
        thread_id: String,
        turn_id: String,
        item_id: String,
        delta: String,
        summary_index: u32,
    }
);

notification!(
    /// A piece of a running command's output.
    CommandExecutionOutputDelta = "item/commandExecution/outputDelta" {
        thread_id: String,
        turn_id: String,
        item_id: String,
        delta: String,
    }
);

notification!(
    /// What the model typed into (or, with nothing, polled) a command it left running as a
    /// background terminal: its item, and its session as Codex names it.
    TerminalInteraction = "item/commandExecution/terminalInteraction" {
        thread_id: String,
        turn_id: String,
        item_id: String,
        process_id: String,
        stdin: String,
    }
);

notification!(
    /// The turn's diff so far, one per file over all its patches.
    TurnDiffUpdated = "turn/diff/updated" {
        thread_id: String,
        turn_id: String,
        diff: String,
    }
);

notification!(
    /// The model's plan, whole, as it stands now.
    TurnPlanUpdated = "turn/plan/updated" {
        thread_id: String,
        turn_id: String,
        explanation: Option<String>,
        plan: Vec<TurnPlanStep>,
    }
);

notification!(
    /// The conversation was compacted in this turn.
    ThreadCompacted = "thread/compacted" {
        thread_id: String,
        turn_id: String,
    }
);

notification!(
    /// The tokens after a request.
    ThreadTokenUsageUpdated = "thread/tokenUsage/updated" {
        thread_id: String,
        turn_id: String,
        token_usage: ThreadTokenUsage,
    }
);

notification!(
    /// A retry on its way (`will_retry`), or why the turn failed.
    TurnErrorNotification = "error" {
        thread_id: String,
        turn_id: String,
        error: Message,
        will_retry: bool,
    }
);

notification!(
    /// Something the person should read that does not end the turn.
    Warning = "warning" {
        #[serde(default)]
        thread_id: Option<String>,
        message: String,
    }
);

notification!(
    /// A setting a server could not take as written.
    ConfigWarning = "configWarning" {
        summary: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        details: Option<String>,
    }
);

notification!(
    /// Something a server will stop doing.
    DeprecationNotice = "deprecationNotice" {
        summary: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        details: Option<String>,
    }
);

/// Declares notifications that name only their thread.
macro_rules! thread_notification {
    ($($(#[$doc:meta])* $name:ident = $method:literal;)*) => {
        $(notification!($(#[$doc])* $name = $method { thread_id: String });)*
    };
}

thread_notification! {
    /// A thread moved to the archive.
    ThreadArchived = "thread/archived";
    /// A thread came back from the archive.
    ThreadUnarchived = "thread/unarchived";
    /// A saved thread was deleted for good.
    ThreadDeleted = "thread/deleted";
    /// A thread's core stopped; the thread stays saved.
    ThreadClosed = "thread/closed";
    /// A thread went back to before a turn.
    ThreadReverted = "thread/reverted";
}

notification!(
    /// A thread was named (or its name cleared).
    ThreadNameUpdated = "thread/name/updated" {
        thread_id: String,
        thread_name: Option<String>,
    }
);

/// A thread's goal as the protocol shows it: kelp's goal with its thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadGoal {
    pub thread_id: String,
    #[serde(flatten)]
    pub goal: crate::protocol::Goal,
}

/// `thread/goal/set` and `thread/goal/get`'s answer (`goal` null: none).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoalAnswer {
    pub goal: Option<ThreadGoal>,
}

/// `thread/goal/clear`'s answer: whether there was a goal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoalCleared {
    pub cleared: bool,
}

notification!(
    /// A thread's goal changed: set, marked, paused, or its spending counted at a turn's end.
    ThreadGoalUpdated = "thread/goal/updated" {
        thread_id: String,
        turn_id: Option<String>,
        goal: ThreadGoal,
    }
);

notification!(
    /// A thread's goal was cleared.
    ThreadGoalClearedNotification = "thread/goal/cleared" {
        thread_id: String,
    }
);

notification!(
    /// An approval request needs no answer any more.
    ServerRequestResolved = "serverRequest/resolved" {
        thread_id: String,
        request_id: i64,
    }
);

notification!(
    /// A thread opened (started, resumed or forked).
    ThreadStarted = "thread/started" {
        thread: Thread,
    }
);

notification!(
    /// A turn began.
    TurnStarted = "turn/started" {
        thread_id: String,
        turn: Turn,
    }
);

notification!(
    /// A turn ended.
    TurnCompleted = "turn/completed" {
        thread_id: String,
        turn: Turn,
    }
);

notification!(
    /// The thread went idle, active, or waits on the person.
    ThreadStatusChanged = "thread/status/changed" {
        thread_id: String,
        status: ThreadStatus,
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::*;
    use serde_json::json;

    use crate::wire::fits;

    fn every_item() -> Vec<ThreadItem> {
        let command = |status, actions| ThreadItem::CommandExecution {
            id: "c1".into(),
            command: "ls".into(),
            command_actions: actions,
            cwd: "/p".into(),
            status,
            aggregated_output: Some("a\n".into()),
            exit_code: Some(0),
            duration_ms: Some(5),
        };
        vec![
            ThreadItem::UserMessage {
                id: "u".into(),
                content: json!([{ "type": "text", "text": "hi", "text_elements": [] }]),
            },
            ThreadItem::AgentMessage {
                id: "m".into(),
                text: "hello".into(),
            },
            ThreadItem::Reasoning {
                id: "r".into(),
                summary: vec!["thinking".into()],
                content: Vec::new(),
            },
            command(ItemStatus::InProgress, Vec::new()),
            command(
                ItemStatus::Declined,
                vec![
                    CommandAction::Read {
                        command: "read a".into(),
                        name: Some("a".into()),
                        path: "/p/a".into(),
                    },
                    CommandAction::ListFiles {
                        command: "ls".into(),
                        path: "/p".into(),
                    },
                    CommandAction::Search {
                        command: "grep x".into(),
                        query: "x".into(),
                        path: "/p".into(),
                    },
                    CommandAction::Unknown {
                        command: "make".into(),
                    },
                ],
            ),
            ThreadItem::FileChange {
                id: "p".into(),
                changes: vec![
                    FileUpdateChange {
                        path: "/p/a".into(),
                        kind: PatchChangeKind::Add,
                        diff: "+a\n".into(),
                    },
                    FileUpdateChange {
                        path: "/p/b".into(),
                        kind: PatchChangeKind::Delete,
                        diff: "-b\n".into(),
                    },
                    FileUpdateChange {
                        path: "/p/c".into(),
                        kind: PatchChangeKind::Update {
                            move_path: Some("/p/d".into()),
                        },
                        diff: "-c\n+d\n".into(),
                    },
                ],
                status: ItemStatus::Completed,
            },
            ThreadItem::McpToolCall {
                id: "t".into(),
                server: "docs".into(),
                tool: "search".into(),
                arguments: json!({ "q": 1 }),
                status: ItemStatus::Failed,
                error: Some(Message::new("the call was declined")),
                duration_ms: None,
            },
            ThreadItem::EnteredReviewMode {
                id: "e".into(),
                review: "current changes".into(),
            },
            ThreadItem::ExitedReviewMode {
                id: "x".into(),
                review: "all good".into(),
            },
            ThreadItem::ContextCompaction { id: "k".into() },
            ThreadItem::WebSearch {
                id: "w0".into(),
                query: String::new(),
                action: Some(WebSearchAction::Other),
            },
            ThreadItem::WebSearch {
                id: "w1".into(),
                query: "rust 2024".into(),
                action: Some(WebSearchAction::Search {
                    query: Some("rust 2024".into()),
                    queries: None,
                }),
            },
            ThreadItem::WebSearch {
                id: "w2".into(),
                query: "'x' in https://e".into(),
                action: Some(WebSearchAction::FindInPage {
                    url: Some("https://e".into()),
                    pattern: Some("x".into()),
                }),
            },
            ThreadItem::WebSearch {
                id: "w3".into(),
                query: "https://e".into(),
                action: Some(WebSearchAction::OpenPage {
                    url: Some("https://e".into()),
                }),
            },
            ThreadItem::CollabAgentToolCall {
                id: "call_9".into(),
                tool: "wait".into(),
                status: ItemStatus::InProgress,
                sender_thread_id: "t".into(),
                receiver_thread_ids: Vec::new(),
                prompt: None,
                model: None,
                reasoning_effort: None,
                agents_states: serde_json::Map::new(),
            },
            ThreadItem::SubAgentActivity {
                id: "call_1".into(),
                kind: crate::wire::SubAgentActivityKind::Started,
                agent_thread_id: "0193c0de-0000-7000-8000-000000000001".into(),
                agent_path: "/root/alpha".into(),
                model: Some("gpt-5.4-mini".into()),
                reasoning_effort: Some("low".into()),
            },
            ThreadItem::SubAgentActivity {
                id: "subagent-completed-1".into(),
                kind: crate::wire::SubAgentActivityKind::Completed,
                agent_thread_id: "0193c0de-0000-7000-8000-000000000001".into(),
                agent_path: "/root/alpha".into(),
                model: None,
                reasoning_effort: None,
            },
        ]
    }

    #[test]
    fn every_item_fits_the_schema_as_it_starts_and_completes() {
        for item in every_item() {
            fits(
                ItemStarted {
                    thread_id: "t".into(),
                    turn_id: "u".into(),
                    item: item.clone(),
                    started_at_ms: 1,
                }
                .into_message(),
            );
            fits(
                ItemCompleted {
                    thread_id: "t".into(),
                    turn_id: "u".into(),
                    item,
                    completed_at_ms: 2,
                }
                .into_message(),
            );
        }
    }

    #[test]
    fn every_answer_a_client_reads_fits_the_schema_and_reads_back() {
        let mut thread = Thread::new("t", std::path::Path::new("/p"), "hi", 1, 2);
        thread.name = Some(Some("named".into()));
        thread.path = Some("/s/t.jsonl".into());
        thread.turns = Turns::Built(vec![Turn {
            items: every_item(),
            error: Some(Message::new("cut")),
            ..Turn::new("u", TurnStatus::Failed)
        }]);
        let opened = ThreadOpened {
            thread: thread.clone(),
            model: "gpt-5.5".into(),
            model_provider: "openai".into(),
            cwd: "/p".into(),
            approval_policy: "on-request".into(),
            approvals_reviewer: "user".into(),
            sandbox: SandboxPolicy::WorkspaceWrite {
                writable_roots: vec!["/p".into()],
                network_access: false,
                exclude_tmpdir_env_var: false,
                exclude_slash_tmp: false,
            },
            items_backwards_cursor: None,
            turns_backwards_cursor: None,
        };
        crate::wire::read_answer_fits("v2/ThreadStartResponse.json", &opened);
        crate::wire::read_answer_fits("v2/ThreadResumeResponse.json", &opened);
        // An agent of a team, marked as Codex marks a spawned thread.
        let mut spawned = Thread::new("c", std::path::Path::new("/p"), "/root/alpha: go", 1, 2);
        spawned.spawned_by("9f0e5d1c-1111-2222-3333-444455556666", "/root/alpha");
        assert_eq!(spawned.source["subAgent"]["thread_spawn"]["depth"], 1);
        let listed = ListPage {
            data: vec![thread, spawned],
            next_cursor: Some("c".into()),
            backwards_cursor: None,
        };
        crate::wire::read_answer_fits("v2/ThreadListResponse.json", &listed);
        let started = TurnResponse {
            turn: Turn::new("u", TurnStatus::InProgress),
        };
        crate::wire::read_answer_fits("v2/TurnStartResponse.json", &started);
    }

    /// A newer server's words read as kelp can: an item, a status or a method it does not
    /// know, a field in a shape it does not expect, a field it does not use left out.
    #[test]
    fn what_a_newer_server_says_reads_as_far_as_kelp_knows_it() {
        let item: ThreadItem =
            serde_json::from_value(json!({"type": "imageGeneration", "id": "i1"})).unwrap();
        assert_eq!(item, ThreadItem::Unknown);
        let note = ServerNotification::read(
            "item/started",
            json!({"threadId": "t", "turnId": "u", "item": {"type": "agentMessage", "id": "m", "text": ""}}),
        )
        .unwrap();
        let ServerNotification::Turn(TurnNote::ItemStarted(started)) = note else {
            panic!("{note:?}");
        };
        assert_eq!(started.started_at_ms, 0);
        let thread: Thread = serde_json::from_value(json!({
            "id": "t", "cwd": "/p", "source": {"subAgent": "review"},
            "status": {"type": "systemError"}, "turns": [{"id": "u", "status": "cancelled"}],
        }))
        .unwrap();
        assert_eq!(thread.source, json!({"subAgent": "review"}), "kept as said");
        assert_eq!(thread.status, ThreadStatus::Unknown);
        assert_eq!(thread.turns.in_hand()[0].status, TurnStatus::Unknown);
        assert!(matches!(
            ServerNotification::read("thread/realtime/started", json!({})),
            Err(crate::wire::ReadError::UnknownMethod(method)) if method == "thread/realtime/started"
        ));
        assert!(matches!(
            ServerNotification::read("turn/started", json!({"threadId": 7})),
            Err(crate::wire::ReadError::Malformed { .. })
        ));
    }

    #[test]
    fn every_approval_request_fits_the_schema() {
        let command = CommandExecutionRequestApproval {
            thread_id: "t".into(),
            turn_id: "u".into(),
            item_id: "c".into(),
            started_at_ms: 1,
            command: Some("cargo test".into()),
            cwd: Some("/p".into()),
            reason: None,
            proposed_execpolicy_amendment: Some(Some(vec!["cargo".into(), "test".into()])),
            network_approval_context: None,
            proposed_network_policy_amendments: None,
        };
        let bare = CommandExecutionRequestApproval {
            cwd: None,
            reason: Some("reads outside the project: /etc".into()),
            proposed_execpolicy_amendment: None,
            ..command.clone()
        };
        let network = CommandExecutionRequestApproval {
            command: Some("network-access https://example.com:443".into()),
            reason: Some("example.com is not on allowed_domains".into()),
            proposed_execpolicy_amendment: None,
            network_approval_context: Some(NetworkApprovalContext {
                host: "example.com".into(),
                protocol: crate::protocol::Via::Https.into(),
            }),
            proposed_network_policy_amendments: Some(
                [
                    NetworkPolicyRuleAction::Allow,
                    NetworkPolicyRuleAction::Deny,
                ]
                .map(|action| NetworkPolicyAmendment {
                    host: "example.com".into(),
                    action,
                })
                .to_vec(),
            ),
            ..command.clone()
        };
        let patch = FileChangeRequestApproval {
            thread_id: "t".into(),
            turn_id: "u".into(),
            item_id: "p".into(),
            started_at_ms: 1,
            reason: Some("asked by the agent /root/builder".into()),
        };
        for command in [command, bare, network] {
            crate::wire::ask_fits(command);
        }
        crate::wire::ask_fits(patch);
        crate::wire::ask_fits(ToolRequestUserInput {
            thread_id: "t".into(),
            turn_id: "u".into(),
            item_id: "c".into(),
            questions: vec![UserInputQuestion {
                id: "db".into(),
                header: "Database".into(),
                question: "Which one?".into(),
                is_other: true,
                is_secret: false,
                options: vec![crate::protocol::Choice {
                    label: "Postgres".into(),
                    description: "what prod runs".into(),
                }],
            }],
            is_blocking: true,
        });
    }

    fn a_goal() -> ThreadGoal {
        let change = crate::protocol::GoalChange {
            objective: Some("ship".into()),
            token_budget: Some(Some(50_000)),
            ..Default::default()
        };
        ThreadGoal {
            thread_id: "t".into(),
            goal: crate::protocol::Goal::changed(None, change, 1).unwrap(),
        }
    }

    #[test]
    fn the_goal_answers_fit_the_schema() {
        let some = GoalAnswer {
            goal: Some(a_goal()),
        };
        crate::wire::answer_fits("v2/ThreadGoalSetResponse.json", &some);
        crate::wire::answer_fits("v2/ThreadGoalGetResponse.json", &some);
        crate::wire::answer_fits("v2/ThreadGoalGetResponse.json", &GoalAnswer { goal: None });
        crate::wire::answer_fits(
            "v2/ThreadGoalClearResponse.json",
            &GoalCleared { cleared: true },
        );
    }

    #[test]
    fn every_notification_fits_the_schema() {
        let ids = || ("t".to_string(), "u".to_string());
        let (thread_id, turn_id) = ids();
        let usage = TokenUsageBreakdown {
            input_tokens: 10,
            cached_input_tokens: 2,
            output_tokens: 3,
            reasoning_output_tokens: 1,
            total_tokens: 13,
        };
        let turn = |status, error: Option<Message>| Turn {
            items: every_item(),
            error,
            started_at: Some(1),
            completed_at: Some(2),
            ..Turn::new("u", status)
        };
        let mut thread = Thread::new("t", std::path::Path::new("/p"), "hi", 1, 2);
        thread.name = Some(None);
        thread.forked_from_id = Some(Some("s".into()));
        thread.history_mode = Some("legacy".into());
        thread.turns = Turns::Built(vec![Turn {
            items_view: Some("full".into()),
            ..turn(TurnStatus::Completed, None)
        }]);
        let messages = [
            ThreadStarted { thread }.into_message(),
            ThreadArchived {
                thread_id: thread_id.clone(),
            }
            .into_message(),
            ThreadUnarchived {
                thread_id: thread_id.clone(),
            }
            .into_message(),
            ThreadDeleted {
                thread_id: thread_id.clone(),
            }
            .into_message(),
            ThreadClosed {
                thread_id: thread_id.clone(),
            }
            .into_message(),
            ThreadReverted {
                thread_id: thread_id.clone(),
            }
            .into_message(),
            ThreadNameUpdated {
                thread_id: thread_id.clone(),
                thread_name: None,
            }
            .into_message(),
            ThreadGoalUpdated {
                thread_id: thread_id.clone(),
                turn_id: None,
                goal: a_goal(),
            }
            .into_message(),
            ThreadGoalClearedNotification {
                thread_id: thread_id.clone(),
            }
            .into_message(),
            ServerRequestResolved {
                thread_id: thread_id.clone(),
                request_id: 3,
            }
            .into_message(),
            ReasoningSummaryPartAdded {
                thread_id: thread_id.clone(),
                turn_id: turn_id.clone(),
                item_id: "r".into(),
                summary_index: 1,
            }
            .into_message(),
            ReasoningSummaryTextDelta {
                thread_id: thread_id.clone(),
                turn_id: turn_id.clone(),
                item_id: "r".into(),
                delta: "x".into(),
                summary_index: 1,
            }
            .into_message(),
            CommandExecutionOutputDelta {
                thread_id: thread_id.clone(),
                turn_id: turn_id.clone(),
                item_id: "c".into(),
                delta: "out".into(),
            }
            .into_message(),
            TerminalInteraction {
                thread_id: thread_id.clone(),
                turn_id: turn_id.clone(),
                item_id: "c".into(),
                process_id: "1".into(),
                stdin: "q\n".into(),
            }
            .into_message(),
            TurnDiffUpdated {
                thread_id: thread_id.clone(),
                turn_id: turn_id.clone(),
                diff: "--- a\n+++ b\n".into(),
            }
            .into_message(),
            TurnPlanUpdated {
                thread_id: thread_id.clone(),
                turn_id: turn_id.clone(),
                explanation: None,
                plan: vec![
                    TurnPlanStep {
                        step: "read".into(),
                        status: PlanStepStatus::Completed,
                    },
                    TurnPlanStep {
                        step: "fix".into(),
                        status: PlanStepStatus::InProgress,
                    },
                    TurnPlanStep {
                        step: "test".into(),
                        status: PlanStepStatus::Pending,
                    },
                ],
            }
            .into_message(),
            ThreadCompacted {
                thread_id: thread_id.clone(),
                turn_id: turn_id.clone(),
            }
            .into_message(),
            ThreadTokenUsageUpdated {
                thread_id: thread_id.clone(),
                turn_id: turn_id.clone(),
                token_usage: ThreadTokenUsage {
                    model_context_window: None,
                    total: usage,
                    last: usage,
                },
            }
            .into_message(),
            TurnErrorNotification {
                thread_id: thread_id.clone(),
                turn_id: turn_id.clone(),
                error: Message::new("cut"),
                will_retry: true,
            }
            .into_message(),
            Warning {
                thread_id: None,
                message: "left out".into(),
            }
            .into_message(),
            TurnStarted {
                thread_id: thread_id.clone(),
                turn: Turn {
                    completed_at: None,
                    items: Vec::new(),
                    ..turn(TurnStatus::InProgress, None)
                },
            }
            .into_message(),
            TurnCompleted {
                thread_id: thread_id.clone(),
                turn: turn(TurnStatus::Failed, Some(Message::new("500"))),
            }
            .into_message(),
            TurnCompleted {
                thread_id: thread_id.clone(),
                turn: turn(TurnStatus::Interrupted, None),
            }
            .into_message(),
            ThreadStatusChanged {
                thread_id: thread_id.clone(),
                status: ThreadStatus::Active {
                    active_flags: vec![ActiveFlag::WaitingOnApproval],
                },
            }
            .into_message(),
            ThreadStatusChanged {
                thread_id,
                status: ThreadStatus::Idle,
            }
            .into_message(),
            RateLimitsUpdated {
                rate_limits: RateLimitSnapshot {
                    primary: Some(RateLimitWindow {
                        used_percent: 5,
                        window_duration_mins: Some(300),
                        resets_at: Some(1),
                    }),
                    secondary: None,
                },
            }
            .into_message(),
        ];
        for message in messages {
            fits(message);
        }
    }

    #[test]
    fn every_approval_decision_codex_names_is_read_and_anything_else_is_not() {
        let read = |decision: Value| {
            serde_json::from_value::<ApprovalResponse>(json!({ "decision": decision }))
                .map(|response| response.decision)
        };
        assert_eq!(
            read(json!("accept")).unwrap(),
            ApprovalResponseDecision::Accept
        );
        assert_eq!(
            read(json!("acceptForSession")).unwrap(),
            ApprovalResponseDecision::AcceptForSession
        );
        assert_eq!(
            read(
                json!({"acceptWithExecpolicyAmendment": {"execpolicy_amendment": ["npm", "test"]}})
            )
            .unwrap(),
            ApprovalResponseDecision::AcceptWithExecpolicyAmendment {
                execpolicy_amendment: vec!["npm".into(), "test".into()]
            }
        );
        assert_eq!(
            read(json!({"applyNetworkPolicyAmendment": {
                "network_policy_amendment": {"host": "crates.io", "action": "deny"}
            }}))
            .unwrap(),
            ApprovalResponseDecision::ApplyNetworkPolicyAmendment {
                network_policy_amendment: NetworkPolicyAmendment {
                    host: "crates.io".into(),
                    action: NetworkPolicyRuleAction::Deny,
                }
            }
        );
        assert_eq!(
            read(json!("decline")).unwrap(),
            ApprovalResponseDecision::Decline
        );
        assert_eq!(
            read(json!("cancel")).unwrap(),
            ApprovalResponseDecision::Cancel
        );
        for unreadable in [json!("yes"), json!(true), json!({"accept": 1}), json!(null)] {
            assert!(read(unreadable.clone()).is_err(), "{unreadable} was read");
        }
    }
}
