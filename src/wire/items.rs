//! The items of a turn: what the person said, what the model said or thought, what it ran,
//! and the words of an error.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::lenient;

/// An item of a turn: what the person said, what the model said or thought, what it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ThreadItem {
    /// The person's input, its items as the host sent them (or as kelp saved them).
    UserMessage {
        #[serde(default)]
        id: String,
        #[serde(default)]
        content: Value,
    },
    AgentMessage {
        id: String,
        text: String,
    },
    Reasoning {
        id: String,
        #[serde(default)]
        summary: Vec<String>,
        #[serde(default, deserialize_with = "lenient")]
        content: Vec<String>,
    },
    /// A shell command, or a read, listing or search shown as one with its action.
    CommandExecution {
        id: String,
        command: String,
        #[serde(default, deserialize_with = "lenient")]
        command_actions: Vec<CommandAction>,
        #[serde(default)]
        cwd: PathBuf,
        status: ItemStatus,
        aggregated_output: Option<String>,
        exit_code: Option<i32>,
        duration_ms: Option<u64>,
    },
    FileChange {
        id: String,
        #[serde(default)]
        changes: Vec<FileUpdateChange>,
        status: ItemStatus,
    },
    McpToolCall {
        id: String,
        server: String,
        tool: String,
        #[serde(default)]
        arguments: Value,
        /// Never `declined`: the protocol has no such status for an MCP call.
        status: ItemStatus,
        #[serde(default, deserialize_with = "lenient")]
        error: Option<Message>,
        duration_ms: Option<u64>,
    },
    EnteredReviewMode {
        #[serde(default)]
        id: String,
        review: String,
    },
    ExitedReviewMode {
        #[serde(default)]
        id: String,
        review: String,
    },
    ContextCompaction {
        id: String,
    },
    /// A web search of the model's (the Responses API's own tool): started with an empty
    /// query, completed with what it looked for.
    WebSearch {
        id: String,
        #[serde(default)]
        query: String,
        #[serde(default, deserialize_with = "lenient")]
        action: Option<WebSearchAction>,
    },
    /// An image file the model looked at (`view_image`).
    ImageView {
        id: String,
        path: PathBuf,
    },
    /// A collaboration call of the thread's agent that Codex 0.171 shows as one (its
    /// `wait_agent`, whose tool is `wait`).
    CollabAgentToolCall {
        id: String,
        tool: String,
        status: ItemStatus,
        sender_thread_id: String,
        #[serde(default)]
        receiver_thread_ids: Vec<String>,
        #[serde(default, deserialize_with = "lenient")]
        prompt: Option<String>,
        #[serde(default, deserialize_with = "lenient")]
        model: Option<String>,
        #[serde(default, deserialize_with = "lenient")]
        reasoning_effort: Option<String>,
        #[serde(default)]
        agents_states: serde_json::Map<String, Value>,
    },
    /// An agent the thread's agent spawned started, was told something, was interrupted or
    /// finished (Codex 0.171's `multi_agent_v2`).
    SubAgentActivity {
        id: String,
        kind: SubAgentActivityKind,
        agent_thread_id: String,
        agent_path: String,
        #[serde(default, deserialize_with = "lenient")]
        model: Option<String>,
        #[serde(default, deserialize_with = "lenient")]
        reasoning_effort: Option<String>,
    },
    /// An item of a kind this kelp does not know (a newer server's), read and passed over;
    /// never written.
    #[serde(other, skip_serializing)]
    Unknown,
}

/// What happened to a spawned agent, in Codex's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SubAgentActivityKind {
    Started,
    Interacted,
    Interrupted,
    Completed,
    /// A kind a newer server has words for; never written.
    #[serde(other, skip_serializing)]
    Unknown,
}

/// What a web search did, in the app-server's words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum WebSearchAction {
    Search {
        query: Option<String>,
        queries: Option<Vec<String>>,
    },
    OpenPage {
        url: Option<String>,
    },
    FindInPage {
        url: Option<String>,
        pattern: Option<String>,
    },
    #[serde(other)]
    Other,
}

impl From<&crate::protocol::WebSearchAction> for WebSearchAction {
    fn from(action: &crate::protocol::WebSearchAction) -> Self {
        use crate::protocol::WebSearchAction as Model;
        match action.clone() {
            Model::Search { query, queries } => Self::Search { query, queries },
            Model::OpenPage { url } => Self::OpenPage { url },
            Model::FindInPage { url, pattern } => Self::FindInPage { url, pattern },
            Model::Other => Self::Other,
        }
    }
}

impl From<WebSearchAction> for crate::protocol::WebSearchAction {
    fn from(action: WebSearchAction) -> Self {
        match action {
            WebSearchAction::Search { query, queries } => Self::Search { query, queries },
            WebSearchAction::OpenPage { url } => Self::OpenPage { url },
            WebSearchAction::FindInPage { url, pattern } => Self::FindInPage { url, pattern },
            WebSearchAction::Other => Self::Other,
        }
    }
}

/// Where an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ItemStatus {
    InProgress,
    Completed,
    Failed,
    Declined,
    /// A status a newer server has words for; never written.
    #[serde(other, skip_serializing)]
    Unknown,
}

/// What a read, listing or search did, for a host that shows it as such.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum CommandAction {
    Read {
        command: String,
        name: Option<String>,
        path: PathBuf,
    },
    ListFiles {
        command: String,
        path: PathBuf,
    },
    Search {
        command: String,
        query: String,
        path: PathBuf,
    },
    Unknown {
        command: String,
    },
}

/// A changed file: its path, kind and unified diff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileUpdateChange {
    pub path: PathBuf,
    pub kind: PatchChangeKind,
    #[serde(default)]
    pub diff: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum PatchChangeKind {
    Add,
    Delete,
    /// `move_path` is snake case in the protocol too.
    Update {
        move_path: Option<PathBuf>,
    },
}

/// An error said in words (`TurnError`, `McpToolCallError`); a turn's may say its kind and
/// what lies behind it, as Codex's server does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    #[serde(default)]
    pub message: String,
    /// Codex's kind of the error (`unauthorized`, `usageLimitExceeded`, or an object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codex_error_info: Option<Value>,
    /// What lies behind it (a retry's cause).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_details: Option<String>,
}

impl Message {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            codex_error_info: None,
            additional_details: None,
        }
    }
}
