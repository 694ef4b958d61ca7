//! What a saved conversation is, as the faces see it: the list of sessions, a goal, how a turn ended, what a call or a patch did. Plain values; what
//! makes or reads them lives in the floor that does it (`auth`, `llm`, `session`, `config`, `mcp`,
//! `sandbox`).

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use uuid::Uuid;

/// One saved conversation as a list shows it; built from the header line and file metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    /// The conversation id.
    pub id: Uuid,
    /// The session file.
    pub path: PathBuf,
    /// The project directory it ran in.
    pub project_dir: PathBuf,
    /// The model at the start.
    pub model: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// The first line of the first prompt.
    pub first_prompt: Option<String>,
    /// The file's size in bytes.
    pub size: u64,
    /// When the file was last written (the last activity).
    pub modified: Option<SystemTime>,
    /// The name the person gave it (`/rename`), once [`SessionSummary::named`] looked.
    pub name: Option<String>,
    /// The conversation it was forked from.
    pub forked_from: Option<Uuid>,
    /// The agent of a team it is, and whose child.
    pub agent: Option<AgentOrigin>,
    /// The conversation it is a side conversation of.
    pub side_of: Option<Uuid>,
    /// Its last prompt and answer, once [`last_exchange`] looked (the client's picker).
    pub last_exchange: Option<LastExchange>,
}

/// Which agent of a team a conversation is: its task path (`/root/builder`) and the
/// conversation of the agent that spawned it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentOrigin {
    pub path: String,
    pub parent: Uuid,
}

/// A conversation's last prompt and what was answered to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastExchange {
    pub prompt: String,
    pub answer: Option<String>,
    /// The model that turn used, when the file says (kelp writes it as each turn starts).
    pub model: Option<String>,
}

/// What a call reads, lists, searches or asks an MCP server, for a face that shows each kind
/// its own way (the app-server's command actions and MCP items).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CallFacts {
    Read {
        path: PathBuf,
    },
    List {
        path: PathBuf,
    },
    Search {
        query: String,
        path: PathBuf,
    },
    Mcp {
        server: String,
        tool: String,
        arguments: serde_json::Value,
    },
    /// What is typed into a background terminal (nothing: a poll), and the call that started
    /// it.
    Typed {
        session_id: i64,
        started_by: String,
        chars: String,
    },
}

/// What kind of change a patch makes to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A new file.
    Add,
    /// A removed file.
    Delete,
    /// A changed (possibly moved) file.
    Update,
}

/// A goal and what was spent on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Goal {
    pub objective: String,
    pub status: GoalStatus,
    /// The most tokens it may take; `None`: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_budget: Option<u64>,
    pub tokens_used: u64,
    pub time_used_seconds: u64,
    /// Seconds since the epoch.
    pub created_at: i64,
    pub updated_at: i64,
}

/// A change asked of the goal; `None` keeps what is there.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GoalChange {
    /// A new objective starts a new goal (its spending from zero); the same one keeps it.
    pub objective: Option<String>,
    pub status: Option<GoalStatus>,
    /// `Some(None)` removes the budget.
    pub token_budget: Option<Option<u64>>,
}

/// Where a goal stands (Codex's statuses, by their wire names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum GoalStatus {
    /// Being worked on: each turn's end starts the next.
    Active,
    /// Set aside by the person (an interrupt pauses it too); `resume` goes on.
    Paused,
    /// The model cannot go on without the person, or a turn failed.
    Blocked,
    /// The account's usage limit stopped it.
    UsageLimited,
    /// Its token budget is spent.
    BudgetLimited,
    /// The model marked it achieved.
    Complete,
}

/// How an unfinished turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnEnd {
    /// The person interrupted it.
    Interrupted,
    /// The model stopped early (output limit, refusal, step limit).
    Stopped,
    /// It failed.
    Failed,
}
