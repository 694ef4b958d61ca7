//! `shell`: runs one command in its own session and process group, streams its output live, keeps the head
//! and tail of it for the model, and kills the whole group on timeout or cancel.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Deserialize;
use thiserror::Error;
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use super::command_io::{Ended, GroupKiller, exit_parts, watch, write_input};
use super::output::OutputSink;
use super::paths;
use crate::sandbox::{self, SandboxError, SandboxPolicy};

/// The tool's name on the wire.
pub const NAME: &str = "shell";
/// Timeout when the model gives none.
pub const DEFAULT_TIMEOUT_MS: u64 = 120_000;
/// Shells whose `-c` takes the POSIX-style scripts models write.
const POSIX_SHELLS: &[&str] = &["bash", "zsh", "sh", "dash", "ksh"];

/// Arguments of a `shell` call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ShellArgs {
    /// What to run.
    pub command: ShellCommand,
    /// Directory to run in, relative to the project directory or absolute.
    #[serde(default)]
    pub workdir: Option<String>,
    /// Milliseconds before the command's process group is killed.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// `require_escalated`: the model asks to run the command outside the sandbox (Codex's
    /// parameter); a person is asked, with `justification`.
    #[serde(default)]
    pub sandbox_permissions: Option<String>,
    /// Codex's older word for the same request.
    #[serde(default)]
    pub with_escalated_permissions: Option<bool>,
    /// The model's question to the person when it asks to leave the sandbox.
    #[serde(default)]
    pub justification: Option<String>,
    /// Set for Codex's `exec_command`: a command still running when the call yields goes on
    /// as a background terminal (`terminals.rs`) instead of being killed at a timeout.
    #[serde(skip)]
    pub terminal: Option<super::exec_args::TerminalAsk>,
}

impl ShellArgs {
    /// `command`, run in the project with the default timeout, in the sandbox.
    pub fn new(command: ShellCommand) -> Self {
        Self {
            command,
            workdir: None,
            timeout_ms: None,
            sandbox_permissions: None,
            with_escalated_permissions: None,
            justification: None,
            terminal: None,
        }
    }

    /// Whether the model asks to run this command outside the sandbox.
    pub fn asks_to_leave_the_sandbox(&self) -> bool {
        self.sandbox_permissions.as_deref() == Some("require_escalated")
            || self.with_escalated_permissions == Some(true)
    }

    /// How long the command may run.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS))
    }
}

/// A command: a script for the user's shell, or a program and its arguments.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "serde_json::Value")]
pub enum ShellCommand {
    /// A script run by the shell with `-c`.
    Script(String),
    /// A program and its arguments, run directly.
    Argv(Vec<String>),
}

impl TryFrom<serde_json::Value> for ShellCommand {
    type Error = String;

    fn try_from(value: serde_json::Value) -> Result<Self, Self::Error> {
        use serde_json::Value;
        match value {
            Value::String(script) if script.trim().is_empty() => {
                Err("command is empty".to_string())
            }
            Value::String(script) => Ok(Self::Script(script)),
            Value::Array(items) => {
                let argv = items
                    .into_iter()
                    .map(|item| match item {
                        Value::String(s) => Ok(s),
                        other => Err(format!("command array items must be strings, got {other}")),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if argv.first().is_none_or(|program| program.is_empty()) {
                    return Err("command is empty".to_string());
                }
                Ok(Self::Argv(argv))
            }
            _ => Err("command must be a string or an array of strings".to_string()),
        }
    }
}

impl ShellCommand {
    /// The command as a person would type it; `["bash", "-lc", s]` shows as `s`.
    pub fn display(&self) -> String {
        match self {
            Self::Script(script) => script.clone(),
            Self::Argv(argv) => match argv.as_slice() {
                [shell, flag, script] if is_shell_wrapper(shell, flag) => script.clone(),
                _ => argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "),
            },
        }
    }

    /// The script inside, for a string command or an `[sh, -c, script]` array.
    pub fn script(&self) -> Option<&str> {
        match self {
            Self::Script(script) => Some(script),
            Self::Argv(argv) => match argv.as_slice() {
                [shell, flag, script] if is_shell_wrapper(shell, flag) => Some(script),
                _ => None,
            },
        }
    }
}

/// Whether `[shell, flag, …]` is a POSIX shell running a `-c` script, so that showing the
/// script alone hides nothing: the shell is named bare (`bash`) or by a system folder's
/// absolute path (`/bin/sh`). A program that is only *called* a shell (`tools/sh`, moved
/// there by a patch, or `/tmp/bash`) is shown with the rest of its words.
fn is_shell_wrapper(shell: &str, flag: &str) -> bool {
    let path = Path::new(shell);
    let system = path.parent().is_some_and(|dir| {
        dir.as_os_str().is_empty() || SYSTEM_BIN.iter().any(|bin| dir == Path::new(bin))
    });
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    system && POSIX_SHELLS.contains(&name) && matches!(flag, "-c" | "-lc")
}

/// The folders system shells live in, which only the administrator writes.
const SYSTEM_BIN: [&str; 4] = ["/bin", "/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"];

/// Quotes one argument for display when the shell would split or expand it.
fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// The shell that runs string commands: `$SHELL` when it is a POSIX shell, else bash or sh.
///
/// Models write bash-style scripts, so a fish or nushell login shell is passed over.
pub fn default_shell() -> PathBuf {
    if let Some(shell) = std::env::var_os("SHELL").map(PathBuf::from) {
        let posix = shell
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| POSIX_SHELLS.contains(&n));
        if posix && shell.is_absolute() && shell.exists() {
            return shell;
        }
    }
    let bash = PathBuf::from("/bin/bash");
    if bash.exists() {
        bash
    } else {
        PathBuf::from("/bin/sh")
    }
}

#[derive(Debug, Error)]
pub enum ShellError {
    /// There is nothing to run.
    #[error("command is empty")]
    EmptyCommand,
    /// The working directory is missing or not a directory.
    #[error("workdir {path} is not a directory")]
    BadWorkdir {
        /// The resolved directory.
        path: String,
    },
    /// The program could not be started.
    #[error("failed to start {program}: {source}")]
    Spawn {
        /// The program that failed to start.
        program: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The sandbox could not be set up; the command did not run.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// Waiting for the process failed.
    #[error("failed to wait for the command: {0}")]
    Wait(std::io::Error),
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellOutcome {
    /// Exit code, when the process exited rather than being killed by a signal.
    pub exit_code: Option<i32>,
    /// The signal that ended the process, if one did.
    pub signal: Option<i32>,
    /// Wall time from spawn to end.
    pub duration: Duration,
    /// The timeout elapsed and the process group was killed.
    pub timed_out: bool,
    /// The call was cancelled and the process group was killed.
    pub cancelled: bool,
    /// Processes left behind held the output open after the command exited, and were killed.
    pub killed_leftovers: bool,
    /// Combined stdout and stderr in arrival order, head and tail kept with a cut note between.
    pub output: String,
    /// Total bytes the command wrote.
    pub total_bytes: u64,
    /// The command failed and its output mentions a refusal the sandbox may have caused
    /// ([`sandbox::explain_block`]), or kelp's proxy refused it a host.
    pub sandbox_block: Option<String>,
    /// The person said no to a host the command tried to reach: running it again without
    /// the sandbox is not offered.
    pub network_refused_by_person: bool,
    /// What the command created at a protected path, and kelp moved aside
    /// ([`sandbox::LeftBehind::set_aside`]).
    pub set_aside: Option<String>,
    /// What the command created or changed that the person's own tools run later
    /// ([`super::runs_later`]), to say where the person looks.
    pub runs_later: Option<String>,
}

impl ShellOutcome {
    /// Whether the command ran to completion with exit code 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out && !self.cancelled
    }

    /// The text the model receives.
    pub fn to_model_text(&self, timeout: Duration) -> String {
        let mut text = String::new();
        if self.cancelled {
            text.push_str("Command cancelled by the user; its process group was killed.\n");
        } else if self.timed_out {
            text.push_str(&format!(
                "Command timed out after {} ms; its process group was killed.\n",
                timeout.as_millis()
            ));
        } else if let Some(code) = self.exit_code {
            text.push_str(&format!("Exit code: {code}\n"));
        } else if let Some(signal) = self.signal {
            text.push_str(&format!("Killed by signal {signal}\n"));
        }
        text.push_str(&format!(
            "Wall time: {:.2} seconds\n",
            self.duration.as_secs_f64()
        ));
        if self.killed_leftovers {
            text.push_str(
                "Note: background processes still holding the output open after exit were killed.\n",
            );
        }
        if let Some(block) = &self.sandbox_block {
            text.push_str(&format!(
                "Note: {block}. Do the work as the sandbox allows, or ask the user.\n"
            ));
        }
        if let Some(runs_later) = &self.runs_later {
            text.push_str(&format!("Note: {runs_later}.\n"));
        }
        if let Some(set_aside) = &self.set_aside {
            text.push_str(&format!("Note: {set_aside}.\n"));
        }
        text.push_str("Output:\n");
        if self.output.is_empty() {
            text.push_str("(no output)\n");
        } else {
            text.push_str(&self.output);
            if !self.output.ends_with('\n') {
                text.push('\n');
            }
        }
        text
    }
}

/// Runs `args` in `project_dir` (or its `workdir`), streaming lines to `sink`. `env` is laid
/// over the scrubbed environment (a `None` value unsets the name): a host's overrides, never
/// the model's.
///
/// The command gets a null stdin and its own process group. On timeout or `cancel` the whole
/// group gets SIGKILL. If this future is dropped early the group is killed too.
pub async fn run(
    args: &ShellArgs,
    project_dir: &Path,
    shell: &Path,
    sandbox: &SandboxPolicy,
    sink: &OutputSink,
    cancel: CancellationToken,
    env: &[(String, Option<String>)],
) -> Result<ShellOutcome, ShellError> {
    start(args, project_dir, shell, sandbox, env, Input::Null)?
        .finish(project_dir, sandbox, sink, cancel)
        .await
}

/// What a command reads, for [`start`].
pub enum Input {
    /// Nothing: a null stdin.
    Null,
    /// What arrives on the channel, on a pipe that closes when its sender is dropped.
    Piped(tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>),
    /// One terminal on all three streams (`far`, the command's end), what arrives on `typed`
    /// typed into it; its output is read as stdout.
    Terminal {
        terminal: super::pty::Terminal,
        far: std::os::fd::OwnedFd,
        typed: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    },
}

/// A command [`start`]ed, watched to its end by [`Running::finish`]; dropped before, its
/// process group is killed.
pub struct Running {
    child: tokio::process::Child,
    group: GroupKiller,
    /// Served for as long as the command runs.
    proxy: Option<sandbox::ServingProxy>,
    left_behind: sandbox::LeftBehind,
    runs_later: super::runs_later::Watch,
    terminal: Option<super::pty::Terminal>,
    dir: PathBuf,
    timeout: Duration,
    started: Instant,
}

/// Starts `args` in `project_dir` (or its `workdir`) in the sandbox, with `input` for its
/// standard input (a host's `command/exec/write`), or a terminal of the host's (`tty`). `env`
/// is laid over the scrubbed environment (a `None` value unsets the name): a host's
/// overrides, never the model's. A command that cannot start is an error here, before anything
/// waits on it.
pub fn start(
    args: &ShellArgs,
    project_dir: &Path,
    shell: &Path,
    sandbox: &SandboxPolicy,
    env: &[(String, Option<String>)],
    input: Input,
) -> Result<Running, ShellError> {
    let (pipes, typed, terminal) = match input {
        Input::Null => (Pipes::Plain(Stdio::null()), None, None),
        Input::Piped(chunks) => (Pipes::Plain(Stdio::piped()), Some(chunks), None),
        Input::Terminal {
            terminal,
            far,
            typed,
        } => (Pipes::Terminal(far), Some(typed), Some(terminal)),
    };
    let Prepared {
        mut command,
        dir,
        program,
        confined: Confined { left_behind, proxy },
    } = prepare(args, project_dir, shell, sandbox, env, pipes)?;
    let runs_later = super::runs_later::Watch::before(project_dir);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|source| ShellError::Spawn { program, source })?;
    // The command's copies of a terminal's far end must close here, or its end never shows.
    drop(command);
    let group = GroupKiller::new(child.id());
    if let Some(chunks) = typed {
        write_input(chunks, child.stdin.take(), terminal.clone());
    }
    Ok(Running {
        child,
        group,
        proxy: proxy.and_then(sandbox::ProxyHandoff::serve),
        left_behind,
        runs_later,
        terminal,
        dir,
        timeout: args.timeout(),
        started,
    })
}

impl Running {
    /// Streams its output to `sink` until it ends (its group killed on timeout or `cancel`),
    /// then says how it ended and what it left; `project_dir` and `sandbox` as it started.
    pub async fn finish(
        mut self,
        project_dir: &Path,
        sandbox: &SandboxPolicy,
        sink: &OutputSink,
        cancel: CancellationToken,
    ) -> Result<ShellOutcome, ShellError> {
        let Ended {
            status,
            timed_out,
            cancelled,
            killed_leftovers,
            capture,
        } = watch(
            &mut self.child,
            &mut self.group,
            sink,
            (self.timeout, &cancel),
            self.terminal.as_ref(),
        )
        .await
        .map_err(ShellError::Wait)?;
        self.group.disarm();

        let (exit_code, signal) = status.map(exit_parts).unwrap_or((None, None));
        let output = capture.render();
        let refused = self
            .proxy
            .as_ref()
            .map(sandbox::ServingProxy::refusals)
            .unwrap_or_default();
        let network_refused_by_person = refused.iter().any(|refusal| refusal.by_person);
        let sandbox_block = if exit_code == Some(0) || cancelled {
            None
        } else {
            sandbox::why_blocked(&refused, &output, sandbox, &self.dir)
        };
        let set_aside = match (
            self.left_behind.set_aside(project_dir),
            sandbox::hold_private_tmp_to(sandbox.tmp_cap),
        ) {
            (Some(moved), Some(emptied)) => Some(format!("{moved}; {emptied}")),
            (moved, emptied) => moved.or(emptied),
        };
        Ok(ShellOutcome {
            exit_code,
            signal,
            duration: self.started.elapsed(),
            timed_out,
            cancelled,
            killed_leftovers,
            total_bytes: capture.total,
            output,
            sandbox_block,
            network_refused_by_person,
            set_aside,
            runs_later: self.runs_later.after(project_dir),
        })
    }
}

/// Where a command's standard streams go: pipes (its stdin as given), or one terminal.
pub(super) enum Pipes {
    /// stdout and stderr piped, stdin as given.
    Plain(Stdio),
    /// A terminal's other end on all three, which becomes the command's controlling terminal.
    Terminal(std::os::fd::OwnedFd),
}

/// A command made ready to start in its sandbox, and what the run needs to know of it.
pub(super) struct Prepared {
    pub(super) command: Command,
    /// Where it runs.
    pub(super) dir: PathBuf,
    /// What it starts, for an error that says so.
    pub(super) program: String,
    pub(super) confined: Confined,
}

/// `args` made into a command in `project_dir` (or its `workdir`), confined by `sandbox`, its
/// streams as `pipes` say. Every way kelp runs the model's command starts here.
pub(super) fn prepare(
    args: &ShellArgs,
    project_dir: &Path,
    shell: &Path,
    sandbox: &SandboxPolicy,
    env: &[(String, Option<String>)],
    pipes: Pipes,
) -> Result<Prepared, ShellError> {
    let dir = match &args.workdir {
        Some(workdir) => paths::resolve(project_dir, Path::new(workdir)),
        None => project_dir.to_path_buf(),
    };
    if !dir.is_dir() {
        return Err(ShellError::BadWorkdir {
            path: dir.display().to_string(),
        });
    }
    let (program, rest) = program_and_args(&args.command, shell, &dir)?;
    let mut command = Command::new(&program);
    command.args(&rest).current_dir(&dir).kill_on_drop(true);
    let terminal = match pipes {
        Pipes::Plain(stdin) => {
            command
                .stdin(stdin)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            false
        }
        Pipes::Terminal(end) => {
            let copy = |end: &std::os::fd::OwnedFd| {
                end.try_clone().map_err(|source| ShellError::Spawn {
                    program: program.clone(),
                    source,
                })
            };
            command
                .stdin(Stdio::from(copy(&end)?))
                .stdout(Stdio::from(copy(&end)?))
                .stderr(Stdio::from(end));
            true
        }
    };
    let confined = confine(&mut command, sandbox, project_dir, &dir, env)?;
    if terminal {
        take_terminal(&mut command);
    }
    Ok(Prepared {
        command,
        dir,
        program,
        confined,
    })
}

/// Makes the terminal on the command's stdin its controlling one, once it is in a session of
/// its own: the last step before exec, after the sandbox's, so in the process that runs it.
fn take_terminal(command: &mut Command) {
    // SAFETY: the hook runs in the forked child and makes one raw system call on integers.
    unsafe {
        command.pre_exec(|| {
            if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// What to start: the shell with `-c` for a script, or the argv's program (a relative path with
/// a `/` taken from `dir`) with the rest.
fn program_and_args(
    command: &ShellCommand,
    shell: &Path,
    dir: &Path,
) -> Result<(String, Vec<String>), ShellError> {
    Ok(match command {
        ShellCommand::Script(script) => (
            shell.display().to_string(),
            vec!["-c".to_string(), script.clone()],
        ),
        ShellCommand::Argv(argv) => match argv.split_first() {
            // `./gradlew` means the one in the working directory, not in kelp's own: which one
            // a relative path with a `/` picks is otherwise left to the platform.
            Some((program, rest)) if program.contains('/') && Path::new(program).is_relative() => {
                (dir.join(program).display().to_string(), rest.to_vec())
            }
            Some((program, rest)) => (program.clone(), rest.to_vec()),
            None => return Err(ShellError::EmptyCommand),
        },
    })
}

/// Makes `command` run as the model's commands run: the environment scrubbed of credentials
/// with `env` laid over it (a host's overrides, never the model's; `None` unsets), a session and
/// process group of its own with no terminal and no descriptor past 0, 1 and 2, and the sandbox
/// of `sandbox` for the project at `project_dir`, entered in `dir`. Everything kelp starts on
/// the project's behalf (its own git included) goes through here. Returns what the command
/// could leave behind, to look at when it ends.
pub fn confine(
    command: &mut Command,
    sandbox: &SandboxPolicy,
    project_dir: &Path,
    dir: &Path,
    env: &[(String, Option<String>)],
) -> Result<Confined, SandboxError> {
    // The model chooses the commands, so kelp's own key and whatever credentials the user
    // exported must not be one `env` away from the transcript, sandbox or not.
    for (name, value) in std::env::vars_os() {
        if sandbox.secrets.scrubs(&name, &value) {
            command.env_remove(&name);
        }
    }
    for (name, value) in env {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    sandbox::detach(command);
    let left_behind = sandbox.left_behind(project_dir);
    let prepared = sandbox::prepare(sandbox, project_dir, dir, &left_behind)?;
    // The agent the person lent: found where the sandbox binds it, else where it is.
    if let Some(socket) = &sandbox.secrets.ssh_agent {
        let inside = prepared
            .as_ref()
            .and_then(sandbox::PreparedSandbox::agent_socket);
        command.env("SSH_AUTH_SOCK", inside.as_deref().unwrap_or(socket));
    }
    let proxy = prepared.and_then(|rules| rules.install(command));
    if proxy.is_some() {
        // Every tool's way of naming a proxy, to the one in the command's namespace (SOCKS5 on
        // the same port): a name is resolved by the proxy, which the command cannot do.
        let http = format!("http://127.0.0.1:{}", sandbox::PROXY_PORT);
        let socks = format!("socks5h://127.0.0.1:{}", sandbox::PROXY_PORT);
        for name in PROXY_VARIABLES {
            command.env(name, &http);
        }
        command.env("ALL_PROXY", &socks).env("all_proxy", &socks);
        command.env_remove("NO_PROXY").env_remove("no_proxy");
    }
    Ok(Confined { left_behind, proxy })
}

/// The variables the common tools read a proxy from: curl's and most others', npm's, pip's,
/// cargo's, yarn's.
const PROXY_VARIABLES: [&str; 9] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
    "npm_config_proxy",
    "npm_config_https_proxy",
    "PIP_PROXY",
    "CARGO_HTTP_PROXY",
    "YARN_HTTPS_PROXY",
];

/// A command made ready to run confined: what it could leave behind, to look at when it ends,
/// and with some domains reachable, what serves it the proxy once it has started.
pub struct Confined {
    pub left_behind: sandbox::LeftBehind,
    pub proxy: Option<sandbox::ProxyHandoff>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::output::{Capture, HEAD_BYTES, OutputStream, TAIL_BYTES};
    use std::sync::Arc;
    use std::sync::Mutex;
    use tokio::sync::mpsc;

    fn script(s: &str) -> ShellArgs {
        ShellArgs {
            workdir: None,
            timeout_ms: None,
            ..ShellArgs::new(ShellCommand::Script(s.to_string()))
        }
    }

    /// `args` run in `dir` by `/bin/sh`, with no sandbox and nobody watching the output.
    async fn try_run_in(dir: &Path, args: &ShellArgs) -> Result<ShellOutcome, ShellError> {
        run(
            args,
            dir,
            Path::new("/bin/sh"),
            &SandboxPolicy::off(),
            &OutputSink::none(),
            CancellationToken::new(),
            &[],
        )
        .await
    }

    async fn run_in(dir: &Path, args: &ShellArgs) -> ShellOutcome {
        try_run_in(dir, args).await.unwrap()
    }

    /// Whether `pid` is still a live process (a zombie awaiting its reaper counts as gone).
    fn alive(pid: i32) -> bool {
        // SAFETY: signal 0 only checks for existence.
        let exists = unsafe { libc::kill(pid, 0) } == 0;
        if !exists {
            return false;
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .chars()
            .next();
        !matches!(state, Some('Z' | 'X') | None)
    }

    async fn wait_gone(pid: i32) -> bool {
        for _ in 0..100 {
            if !alive(pid) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    #[tokio::test]
    async fn exit_code_and_stderr_are_captured() {
        let dir = tempfile::tempdir().unwrap();
        let outcome = run_in(dir.path(), &script("echo out; echo err >&2; exit 3")).await;
        assert_eq!(outcome.exit_code, Some(3));
        assert!(!outcome.success());
        assert!(outcome.output.contains("out\n"));
        assert!(outcome.output.contains("err\n"));
        let text = outcome.to_model_text(Duration::from_secs(1));
        assert!(text.starts_with("Exit code: 3\nWall time: "), "{text}");
        assert!(text.contains("Output:\n"));
    }

    #[tokio::test]
    async fn argv_runs_directly_in_workdir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let args = ShellArgs {
            workdir: Some("sub".to_string()),
            timeout_ms: None,
            ..ShellArgs::new(ShellCommand::Argv(vec!["pwd".to_string()]))
        };
        let outcome = run_in(dir.path(), &args).await;
        assert!(outcome.success());
        let expected = dir.path().join("sub").canonicalize().unwrap();
        assert_eq!(outcome.output.trim(), expected.display().to_string());

        // A relative program path is found in the working directory. (A link, not a fresh
        // script: exec'ing a just-written file races with forks in other test threads.)
        std::os::unix::fs::symlink("/bin/echo", dir.path().join("sub/say")).unwrap();
        let args = ShellArgs {
            workdir: Some("sub".to_string()),
            timeout_ms: None,
            ..ShellArgs::new(ShellCommand::Argv(vec![
                "./say".to_string(),
                "hello from sub".to_string(),
            ]))
        };
        assert_eq!(run_in(dir.path(), &args).await.output, "hello from sub\n");

        // No shell in between: `$HOME` stays literal.
        let args = ShellArgs {
            workdir: None,
            timeout_ms: None,
            ..ShellArgs::new(ShellCommand::Argv(vec![
                "echo".to_string(),
                "$HOME".to_string(),
            ]))
        };
        assert_eq!(run_in(dir.path(), &args).await.output, "$HOME\n");
    }

    #[tokio::test]
    async fn start_failures_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let args = ShellArgs {
            workdir: None,
            timeout_ms: None,
            ..ShellArgs::new(ShellCommand::Argv(vec!["/definitely/not/here".to_string()]))
        };
        let err = try_run_in(dir.path(), &args).await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with("failed to start /definitely/not/here")
        );
        let mut args = script("true");
        args.workdir = Some("missing".to_string());
        let err = try_run_in(dir.path(), &args).await.unwrap_err();
        assert!(matches!(err, ShellError::BadWorkdir { .. }));
    }

    #[tokio::test]
    async fn lines_stream_to_the_sink() {
        let dir = tempfile::tempdir().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = {
            let seen = Arc::clone(&seen);
            OutputSink::new(move |line| seen.lock().unwrap().push(line))
        };
        run(
            &script("echo one; echo two >&2; printf three"),
            dir.path(),
            Path::new("/bin/sh"),
            &SandboxPolicy::off(),
            &sink,
            CancellationToken::new(),
            &[],
        )
        .await
        .unwrap();
        let seen = seen.lock().unwrap().clone();
        // Two pipes have no common order; within each, lines keep theirs.
        let texts = |stream| {
            seen.iter()
                .filter(|l| l.stream == stream)
                .map(|l| l.text.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(texts(OutputStream::Stdout), ["one", "three"]);
        assert_eq!(texts(OutputStream::Stderr), ["two"]);
    }

    #[tokio::test]
    async fn timeout_kills_the_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("bg.pid");
        let mut args = script("sleep 100 & echo $! > bg.pid; echo started; sleep 100");
        args.timeout_ms = Some(300);
        let started = Instant::now();
        let outcome = run_in(dir.path(), &args).await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(outcome.timed_out);
        assert!(!outcome.success());
        assert_eq!(outcome.output, "started\n");
        let text = outcome.to_model_text(Duration::from_millis(300));
        assert!(
            text.starts_with("Command timed out after 300 ms; its process group was killed.\n")
        );
        let bg: i32 = std::fs::read_to_string(pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(
            wait_gone(bg).await,
            "background sleep {bg} survived the timeout"
        );
    }

    #[tokio::test]
    async fn cancel_kills_grandchildren_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let task = {
            let cancel = cancel.clone();
            let root = dir.path().to_path_buf();
            crate::task::spawn(async move {
                run(
                    &script("sleep 100 & echo $!; sleep 100"),
                    &root,
                    Path::new("/bin/sh"),
                    &SandboxPolicy::off(),
                    &OutputSink::channel(tx),
                    cancel,
                    &[],
                )
                .await
            })
        };
        let line = rx.recv().await.unwrap();
        let grandchild: i32 = line.text.trim().parse().unwrap();
        assert!(alive(grandchild));
        let cancelled_at = Instant::now();
        cancel.cancel();
        let outcome = task.await.unwrap().unwrap();
        assert!(cancelled_at.elapsed() < Duration::from_secs(2));
        assert!(outcome.cancelled);
        assert!(!outcome.success());
        assert!(
            outcome
                .to_model_text(Duration::ZERO)
                .starts_with("Command cancelled by the user")
        );
        assert!(
            wait_gone(grandchild).await,
            "grandchild {grandchild} survived the cancel"
        );
    }

    #[tokio::test]
    async fn leftover_background_processes_do_not_hang_the_call() {
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let outcome = run_in(dir.path(), &script("sleep 100 & echo $!")).await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(outcome.exit_code, Some(0));
        assert!(outcome.killed_leftovers);
        let bg: i32 = outcome.output.trim().parse().unwrap();
        assert!(wait_gone(bg).await);
    }

    #[tokio::test]
    async fn big_output_keeps_head_and_tail() {
        let dir = tempfile::tempdir().unwrap();
        // 100 000 numbered lines, about 1.1 MB in all.
        let outcome = run_in(dir.path(), &script("seq 1 100000")).await;
        assert!(outcome.success());
        assert!(outcome.output.starts_with("1\n2\n3\n"));
        assert!(outcome.output.ends_with("99999\n100000\n"));
        let total = outcome.total_bytes;
        assert!(total > 500_000);
        let note_line = outcome
            .output
            .lines()
            .find(|l| l.starts_with("[… "))
            .unwrap()
            .to_string();
        let cut: u64 = note_line
            .trim_start_matches("[… ")
            .trim_end_matches(" bytes cut …]")
            .parse()
            .unwrap();
        let kept = outcome.output.len() as u64 - note_line.len() as u64 - 1;
        // The note's count plus what is shown is everything, give or take the added newline.
        assert!(
            cut + kept >= total && cut + kept <= total + 1,
            "{cut} + {kept} vs {total}"
        );
        assert!(outcome.output.len() < HEAD_BYTES + TAIL_BYTES + 100);
    }

    #[test]
    fn capture_respects_utf8_boundaries() {
        let mut capture = Capture::default();
        let text = "é".repeat(HEAD_BYTES + TAIL_BYTES);
        capture.push(text.as_bytes());
        let rendered = capture.render();
        assert!(!rendered.contains('\u{FFFD}'));
        assert!(rendered.contains(" bytes cut …]\n"));
    }

    #[test]
    fn small_output_is_kept_whole() {
        let mut capture = Capture::default();
        capture.push(b"a\n");
        capture.push(&vec![b'x'; HEAD_BYTES]);
        capture.push(b"\nend\n");
        let rendered = capture.render();
        assert!(rendered.starts_with("a\n"));
        assert!(rendered.ends_with("\nend\n"));
        assert!(!rendered.contains("cut"));
    }

    #[test]
    fn command_shapes_parse_and_display() {
        let parse = |v: serde_json::Value| serde_json::from_value::<ShellArgs>(v);
        let args = parse(serde_json::json!({"command": "cargo test"})).unwrap();
        assert_eq!(args.command, ShellCommand::Script("cargo test".to_string()));
        let args = parse(serde_json::json!({"command": ["bash", "-lc", "ls -la"]})).unwrap();
        assert_eq!(args.command.display(), "ls -la");
        let args = parse(serde_json::json!({"command": ["git", "commit", "-m", "a b"]})).unwrap();
        assert_eq!(args.command.display(), "git commit -m 'a b'");
        assert!(parse(serde_json::json!({"command": []})).is_err());
        assert!(parse(serde_json::json!({"command": "  "})).is_err());
        assert!(parse(serde_json::json!({"command": 3})).is_err());
        assert!(parse(serde_json::json!({"command": ["ls", 1]})).is_err());
    }

    #[test]
    fn only_a_real_shell_is_dropped_from_the_display() {
        let shown = |argv: &[&str]| {
            let argv = argv.iter().map(ToString::to_string).collect();
            ShellCommand::Argv(argv).display()
        };
        assert_eq!(shown(&["bash", "-lc", "git status"]), "git status");
        assert_eq!(shown(&["/bin/sh", "-c", "git status"]), "git status");
        assert_eq!(shown(&["/usr/bin/zsh", "-c", "git status"]), "git status");
        // Programs merely named like a shell are what runs, so they are shown.
        assert_eq!(
            shown(&["tools/sh", "-c", "git status"]),
            "tools/sh -c 'git status'"
        );
        assert_eq!(
            shown(&["./bash", "-c", "git status"]),
            "./bash -c 'git status'"
        );
        assert_eq!(
            shown(&["/tmp/x/bash", "-c", "git status"]),
            "/tmp/x/bash -c 'git status'"
        );
    }
}
