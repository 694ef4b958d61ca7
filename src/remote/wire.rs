//! What an app-server sends a client, decoded as typed values (the requests it makes are
//! `crate::wire::requests`). The shapes are Codex 0.169's
//! (`tests/fixtures/codex-app-server-schema/`), read leniently: a field the client does not use
//! may be missing or new, and an item or a notification it does not know is passed over, so a
//! newer server still drives it.

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

/// One message from the server: a request (`id` and `method`), a notification (`method`), or
/// the answer to one of the client's requests (`id` and `result` or `error`).
#[derive(Debug, Deserialize)]
pub struct Incoming {
    #[serde(default)]
    pub id: Option<Value>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub params: Value,
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub error: Option<RpcError>,
}

/// A JSON-RPC error: its words are what the person reads.
#[derive(Debug, Clone, Deserialize)]
pub struct RpcError {
    pub message: String,
}

/// An error said in words, as turns and tool calls carry it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Said {
    #[serde(default)]
    pub message: String,
    /// Codex's kind of the error (`unauthorized`, `usageLimitExceeded`, or an object).
    #[serde(default)]
    pub codex_error_info: Option<Value>,
    /// What lies behind it (a retry's cause).
    #[serde(default)]
    pub additional_details: Option<String>,
}

/// An item of a turn.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Item {
    UserMessage {
        #[serde(default)]
        content: Vec<Value>,
    },
    AgentMessage {
        id: String,
        #[serde(default)]
        text: String,
    },
    Reasoning {
        id: String,
        #[serde(default)]
        summary: Vec<String>,
    },
    CommandExecution {
        id: String,
        command: String,
        #[serde(default)]
        cwd: PathBuf,
        status: ItemStatus,
        #[serde(default)]
        aggregated_output: Option<String>,
        #[serde(default)]
        exit_code: Option<i32>,
        #[serde(default)]
        duration_ms: Option<u64>,
    },
    FileChange {
        id: String,
        #[serde(default)]
        changes: Vec<Change>,
        status: ItemStatus,
    },
    McpToolCall {
        id: String,
        server: String,
        tool: String,
        status: ItemStatus,
        #[serde(default)]
        duration_ms: Option<u64>,
    },
    WebSearch {
        id: String,
        #[serde(default)]
        action: Option<SearchAction>,
    },
    EnteredReviewMode {
        review: String,
    },
    #[serde(other)]
    Unshown,
}

impl Item {
    /// The id of a tool call's item (a command, a patch, an MCP call).
    pub fn call_id(&self) -> Option<&str> {
        match self {
            Self::CommandExecution { id, .. }
            | Self::FileChange { id, .. }
            | Self::McpToolCall { id, .. } => Some(id),
            _ => None,
        }
    }
}

/// Where an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ItemStatus {
    InProgress,
    Completed,
    Failed,
    Declined,
    #[serde(other)]
    Unknown,
}

/// A file a patch changes, as Codex fills it: a new file's text, a deleted one's, or an
/// update's hunks.
#[derive(Debug, Clone, Deserialize)]
pub struct Change {
    pub path: PathBuf,
    pub kind: ChangeKind,
    #[serde(default)]
    pub diff: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ChangeKind {
    Add,
    Delete,
    Update {
        #[serde(default)]
        move_path: Option<PathBuf>,
    },
}

/// What a web search did.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum SearchAction {
    Search {
        #[serde(default)]
        query: Option<String>,
        #[serde(default)]
        queries: Option<Vec<String>>,
    },
    OpenPage {
        #[serde(default)]
        url: Option<String>,
    },
    FindInPage {
        #[serde(default)]
        url: Option<String>,
        #[serde(default)]
        pattern: Option<String>,
    },
    #[serde(other)]
    Other,
}

impl From<SearchAction> for crate::protocol::WebSearchAction {
    fn from(action: SearchAction) -> Self {
        match action {
            SearchAction::Search { query, queries } => Self::Search { query, queries },
            SearchAction::OpenPage { url } => Self::OpenPage { url },
            SearchAction::FindInPage { url, pattern } => Self::FindInPage { url, pattern },
            SearchAction::Other => Self::Other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TurnStatus {
    InProgress,
    Completed,
    Interrupted,
    Failed,
    #[serde(other)]
    Unknown,
}

/// A turn, with its items where the message carries them.
#[derive(Debug, Clone, Deserialize)]
pub struct Turn {
    pub id: String,
    #[serde(default)]
    pub items: Vec<Item>,
    pub status: TurnStatus,
    #[serde(default)]
    pub error: Option<Said>,
}

/// A thread, as lists and opening answers carry it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Thread {
    pub id: String,
    #[serde(default)]
    pub preview: String,
    #[serde(default)]
    pub created_at: i64,
    #[serde(default)]
    pub updated_at: i64,
    #[serde(default)]
    pub path: Option<PathBuf>,
    #[serde(default)]
    pub cwd: PathBuf,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub forked_from_id: Option<String>,
    #[serde(default)]
    pub turns: Vec<Turn>,
}

/// The answer to `thread/start`, `thread/resume` and `thread/fork`.
#[derive(Debug, Clone, Deserialize)]
pub struct ThreadOpened {
    pub thread: Thread,
    #[serde(default)]
    pub model: Option<String>,
}

/// The answer to `thread/list`.
#[derive(Debug, Clone, Deserialize)]
pub struct ThreadList {
    pub data: Vec<Thread>,
}

/// The answer to `turn/start`.
#[derive(Debug, Clone, Deserialize)]
pub struct TurnOpened {
    pub turn: Turn,
}

/// The answer to `model/list`.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelList {
    pub data: Vec<Model>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Model {
    pub model: String,
    #[serde(default)]
    pub is_default: bool,
}

/// The answer to `account/read`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountRead {
    #[serde(default)]
    pub account: Option<Account>,
    #[serde(default)]
    pub requires_openai_auth: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Account {
    ApiKey,
    Chatgpt {
        #[serde(default)]
        email: Option<String>,
        #[serde(default)]
        plan_type: Option<String>,
    },
    #[serde(other)]
    Other,
}

/// The answer to `account/login/start`.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum LoginStarted {
    ApiKey,
    Chatgpt {
        login_id: String,
        auth_url: String,
    },
    ChatgptDeviceCode {
        login_id: String,
        verification_url: String,
        user_code: String,
    },
    #[serde(other)]
    Other,
}

/// `turn/started`, `turn/completed`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnNote {
    pub thread_id: String,
    pub turn: Turn,
}

/// `item/started`, `item/completed`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemNote {
    pub thread_id: String,
    pub item: Item,
}

/// A piece of an item's text: an answer's, a reasoning summary's, a command's output.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delta {
    pub thread_id: String,
    pub item_id: String,
    #[serde(default)]
    pub delta: String,
    #[serde(default)]
    pub summary_index: u32,
}

/// `turn/plan/updated`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanNote {
    pub thread_id: String,
    pub turn_id: String,
    #[serde(default)]
    pub explanation: Option<String>,
    pub plan: Vec<PlanStep>,
}

#[derive(Debug, Deserialize)]
pub struct PlanStep {
    pub step: String,
    pub status: String,
}

/// `thread/tokenUsage/updated`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageNote {
    pub thread_id: String,
    pub token_usage: TokenUsage,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenUsage {
    pub total: Tokens,
    pub last: Tokens,
    #[serde(default)]
    pub model_context_window: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Tokens {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_output_tokens: u64,
    pub total_tokens: u64,
}

impl From<Tokens> for crate::protocol::TokenUsage {
    fn from(tokens: Tokens) -> Self {
        Self {
            input_tokens: tokens.input_tokens,
            cached_input_tokens: tokens.cached_input_tokens,
            output_tokens: tokens.output_tokens,
            reasoning_output_tokens: tokens.reasoning_output_tokens,
            total_tokens: tokens.total_tokens,
        }
    }
}

/// `account/rateLimits/updated`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitsNote {
    pub rate_limits: Limits,
}

#[derive(Debug, Deserialize)]
pub struct Limits {
    #[serde(default)]
    pub primary: Option<LimitWindow>,
    #[serde(default)]
    pub secondary: Option<LimitWindow>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitWindow {
    pub used_percent: f64,
    #[serde(default)]
    pub window_duration_mins: Option<u64>,
    #[serde(default)]
    pub resets_at: Option<i64>,
}

impl From<Limits> for crate::protocol::RateLimits {
    fn from(limits: Limits) -> Self {
        let window = |w: LimitWindow| crate::protocol::RateLimitWindow {
            used_percent: w.used_percent,
            window_minutes: w.window_duration_mins,
            resets_at: w.resets_at,
        };
        Self {
            primary: limits.primary.map(window),
            secondary: limits.secondary.map(window),
        }
    }
}

/// `error`: a turn's failure, or one it retries after.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorNote {
    pub thread_id: String,
    pub error: Said,
    #[serde(default)]
    pub will_retry: bool,
}

/// `warning`, `deprecationNotice`, `configWarning`: words for the person.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WarningNote {
    #[serde(default)]
    pub thread_id: Option<String>,
    #[serde(alias = "summary")]
    pub message: String,
}

/// `account/login/completed`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginDone {
    #[serde(default)]
    pub success: bool,
    #[serde(default)]
    pub error: Option<String>,
}

/// `item/commandExecution/requestApproval`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandApproval {
    pub item_id: String,
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub proposed_execpolicy_amendment: Option<Vec<String>>,
    /// Present when a running command asks to reach a host no list names.
    #[serde(default)]
    pub network_approval_context: Option<NetworkContext>,
}

/// The host a command asks to reach, and how (`http`, `https`, `socks5Tcp`, `socks5Udp`).
#[derive(Debug, Deserialize)]
pub struct NetworkContext {
    pub host: String,
    pub protocol: String,
}

impl NetworkContext {
    /// How the command asked, as kelp's proxy names it.
    pub fn via(&self) -> crate::protocol::Via {
        use crate::protocol::Via;
        match self.protocol.as_str() {
            "http" => Via::Http,
            "https" => Via::Https,
            _ => Via::Socks5,
        }
    }

    /// The port the command asked for: the one of the `network-access` target Codex shows as
    /// the command (`network-access https://host:443`, `[v6]:port`, a path after it), else
    /// the protocol's own.
    pub fn port(&self, command: &str) -> u16 {
        let authority = command
            .strip_prefix("network-access ")
            .and_then(|target| target.split_once("://"))
            .map(|(_, rest)| rest.split('/').next().unwrap_or_default());
        authority
            .and_then(|authority| authority.rsplit_once(':'))
            .filter(|(host, _)| !host.starts_with('[') || host.ends_with(']'))
            .and_then(|(_, port)| port.parse().ok())
            .unwrap_or(if self.protocol == "http" { 80 } else { 443 })
    }
}

/// `item/fileChange/requestApproval`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatchApproval {
    pub item_id: String,
}
