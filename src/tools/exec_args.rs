//! What Codex's `exec_command` and `write_stdin` ask beyond a plain command, as the calls carry
//! it: shared by the command that runs (`shell.rs`'s arguments) and the background terminals
//! that keep it (`terminals.rs`).

use std::path::PathBuf;

use serde::Deserialize;

/// The tools' names on the wire.
pub const EXEC_COMMAND: &str = "exec_command";
pub const WRITE_STDIN: &str = "write_stdin";

/// What an `exec_command` call asks beyond a `shell` call's.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TerminalAsk {
    /// How long to wait before answering with a session id (`yield_time_ms`).
    pub yield_ms: Option<u64>,
    /// The most output the model wants back, in tokens.
    pub max_output_tokens: Option<usize>,
    /// A terminal of its own, so it takes typed input.
    pub tty: bool,
    /// The call that starts it, to list it by.
    pub call_id: String,
}

/// A `write_stdin` call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WriteStdinArgs {
    pub session_id: i64,
    /// What to type; empty: only poll.
    #[serde(default)]
    pub chars: String,
    #[serde(default)]
    pub yield_time_ms: Option<u64>,
    #[serde(default)]
    pub max_output_tokens: Option<usize>,
    /// The session it names, looked up before the call is judged.
    #[serde(skip)]
    pub target: Option<TerminalFacts>,
}

/// What judging a `write_stdin` call needs of its session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalFacts {
    /// The call that started it.
    pub call_id: String,
    pub command: String,
    pub workdir: PathBuf,
    pub tty: bool,
    /// It runs in the sandbox (not one the person let out of it).
    pub sandboxed: bool,
}
