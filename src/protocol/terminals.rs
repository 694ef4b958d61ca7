//! Background terminals as `/ps` and a host's list show them: the commands the model left
//! running in a conversation (`exec_command`), each with what a person needs to find it.

use std::path::PathBuf;
use std::time::Duration;

/// One background terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackgroundTerminal {
    /// Its session id, as the model and `/stop` name it.
    pub id: i64,
    /// The command, as the person would type it.
    pub command: String,
    /// Where it runs.
    pub workdir: PathBuf,
    /// The call that started it.
    pub call_id: String,
    /// The process kelp started, as this machine numbers it.
    pub pid: Option<u32>,
    /// The TCP ports its processes listen on (a dev server's).
    pub ports: Vec<u16>,
    /// The memory its processes hold, in kB.
    pub rss_kb: Option<u64>,
    /// How long it has run (`None`: a server that does not say).
    pub running_for: Option<Duration>,
    /// The last line it printed, printable.
    pub last_line: String,
    /// It has ended (its exit code, when it exited), and the model has not read its end yet.
    pub ended: Option<Option<i32>>,
    /// It has a terminal, so it takes typed input.
    pub tty: bool,
}

/// One of the person's hooks as `/hooks` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookRow {
    /// What its trust is kept by (`kelp hooks trust` names it).
    pub hash: String,
    /// Its event, by Codex's name (`PreToolUse`).
    pub event: String,
    pub matcher: Option<String>,
    pub command: String,
    /// The file that names it.
    pub source: PathBuf,
    pub trusted: bool,
    /// Not turned off by the person.
    pub enabled: bool,
    /// How it last ran in this conversation (`ok`, `blocked: …`, `failed …`).
    pub last: Option<String>,
}
