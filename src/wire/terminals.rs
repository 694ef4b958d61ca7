//! `thread/backgroundTerminals/*` (Codex 0.171's experimental API): the commands a thread's
//! model left running (`exec_command`), listed, ended one by one, or all cleaned away.

use serde::{Deserialize, Serialize};

use super::requests::Request;

impl Request for ThreadBackgroundTerminalsListParams {
    const METHOD: &'static str = "thread/backgroundTerminals/list";
}

impl Request for ThreadBackgroundTerminalsTerminateParams {
    const METHOD: &'static str = "thread/backgroundTerminals/terminate";
}

impl Request for ThreadBackgroundTerminalsCleanParams {
    const METHOD: &'static str = "thread/backgroundTerminals/clean";
}

/// `thread/backgroundTerminals/list`: a page of a thread's background terminals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadBackgroundTerminalsListParams {
    pub thread_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `thread/backgroundTerminals/terminate`: one background terminal ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadBackgroundTerminalsTerminateParams {
    pub thread_id: String,
    pub process_id: String,
}

/// `thread/backgroundTerminals/clean`: every background terminal of a thread ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadBackgroundTerminalsCleanParams {
    pub thread_id: String,
}

/// One background terminal as a host lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadBackgroundTerminal {
    pub command: String,
    pub cwd: String,
    /// The item of the call that started it.
    pub item_id: String,
    /// Its session id, as the model's `write_stdin` names it.
    pub process_id: String,
    pub os_pid: Option<u32>,
    pub cpu_percent: Option<f64>,
    pub rss_kb: Option<u64>,
}

/// `thread/backgroundTerminals/list`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadBackgroundTerminalsList {
    pub data: Vec<ThreadBackgroundTerminal>,
    pub next_cursor: Option<String>,
}

/// `thread/backgroundTerminals/terminate`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Terminated {
    pub terminated: bool,
}
