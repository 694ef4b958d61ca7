//! `command/exec`: one command a host runs under kelp's sandbox, outside any thread (a host's
//! own terminal button, a build check), with `command/exec/write` to feed its stdin
//! (`streamStdin`, or typed into its terminal with `tty`), `command/exec/resize` for its
//! terminal and `command/exec/terminate` to stop it. Commands run as the model's do: the same
//! sandbox, a scrubbed environment (with the host's `env` laid over it), their process group
//! killed when they end, time out or are stopped. `process/*` (`spawned.rs`) runs the same way
//! without the sandbox.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::turns::sandbox_choice;
use super::wire::{Answer, Out, RpcError, notify, params};
use crate::config::Config;
use crate::tools::pty;
use crate::tools::shell::{self, Input, ShellArgs, ShellCommand};
use crate::tools::{OutputSink, OutputStream, SandboxPolicy};
use crate::wire::{CommandExecOutputDelta, CommandExecuted, Empty, ExecStream};

/// The most output kept of each stream when the host names no cap.
const DEFAULT_OUTPUT_CAP: usize = 1024 * 1024;
/// How long a command runs when the host names no timeout.
const DEFAULT_TIMEOUT_MS: u64 = 10 * 60 * 1000;

/// The commands running now that a host named, by their `processId` (or, for `process/spawn`,
/// `processHandle`): one registry per kind, per connection.
#[derive(Clone, Default)]
pub struct Processes(Arc<Mutex<HashMap<String, Process>>>);

/// A command a host named: how to stop it, its stdin while the host may still write it, and
/// its terminal when it runs on one.
struct Process {
    cancel: CancellationToken,
    stdin: Option<tokio::sync::mpsc::UnboundedSender<Vec<u8>>>,
    terminal: Option<pty::Terminal>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecParams {
    command: Vec<String>,
    cwd: Option<PathBuf>,
    process_id: Option<String>,
    #[serde(default)]
    stream_stdout_stderr: bool,
    #[serde(default)]
    stream_stdin: bool,
    #[serde(default)]
    tty: bool,
    size: Option<pty::Size>,
    timeout_ms: Option<u64>,
    #[serde(default)]
    disable_timeout: bool,
    output_bytes_cap: Option<usize>,
    #[serde(default)]
    disable_output_cap: bool,
    sandbox_policy: Option<Value>,
    #[serde(default)]
    env: Option<Value>,
}

/// What one stream of a command wrote, up to its cap.
#[derive(Default)]
struct Captured {
    /// What was kept of the stream, when it is answered at the end rather than streamed.
    text: Vec<u8>,
    /// How many of the stream's bytes were passed on, streamed or kept.
    bytes: usize,
    cap_reached: bool,
}

/// A command a host runs, as `command/exec` and `process/spawn` both ask it.
pub(super) struct HostCommand {
    pub(super) command: Vec<String>,
    pub(super) cwd: PathBuf,
    /// The name the host gives it, to write to, resize and stop it by.
    pub(super) id: Option<String>,
    /// On a terminal of this size; implies both streams.
    pub(super) tty: Option<pty::Size>,
    pub(super) stream_stdin: bool,
    pub(super) stream_output: bool,
    pub(super) cap: usize,
    pub(super) timeout_ms: u64,
    pub(super) env: Vec<(String, Option<String>)>,
    pub(super) sandbox: SandboxPolicy,
}

/// How a host's command ended: its exit code (128 + the signal that killed it), and what was
/// kept of each stream (nothing of one that streamed), with whether its cap was reached.
pub(super) struct Finished {
    pub(super) exit_code: i32,
    pub(super) stdout: (String, bool),
    pub(super) stderr: (String, bool),
}

/// Sends one piece of a streamed command's output: its id, stream, bytes (base64) and whether
/// the cap was reached with it.
pub(super) type Delta = fn(&Out, String, ExecStream, String, bool);

/// `command/exec`: runs the command and answers when it has ended, with its exit code and
/// output (or, when the host streams it, the output as `command/exec/outputDelta` first). Its
/// `processId` is taken before this returns, so a `command/exec/write` or `terminate` the host
/// sends right after finds it.
pub fn exec(
    config: Config,
    out: Out,
    processes: Processes,
    raw: Value,
) -> Result<impl std::future::Future<Output = Result<Answer, RpcError>> + use<>, RpcError> {
    let p: ExecParams = params(raw)?;
    refuse_unserved(&p)?;
    let cwd = match p.cwd {
        Some(dir) => dir,
        None => std::env::current_dir().map_err(|e| RpcError::internal(e.to_string()))?,
    };
    let sandbox = match &p.sandbox_policy {
        Some(policy) if !policy.is_null() => {
            let (mode, network) = sandbox_choice(policy)?;
            SandboxPolicy::for_config(&config).with_mode(mode, network)
        }
        _ => SandboxPolicy::for_project(&config, &cwd),
    };
    let host_command = HostCommand {
        command: p.command,
        env: env_overrides(p.env.as_ref())?,
        cwd,
        id: p.process_id,
        tty: p.tty.then(|| p.size.unwrap_or_default()),
        stream_stdin: p.stream_stdin,
        stream_output: p.stream_stdout_stderr,
        cap: if p.disable_output_cap {
            usize::MAX
        } else {
            p.output_bytes_cap.unwrap_or(DEFAULT_OUTPUT_CAP)
        },
        timeout_ms: if p.disable_timeout {
            u64::MAX / 4
        } else {
            p.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS)
        },
        sandbox,
    };
    let running = host_command.start(
        &processes,
        out,
        |out, process_id, stream, delta_base64, cap_reached| {
            notify(
                out,
                CommandExecOutputDelta {
                    process_id,
                    stream,
                    delta_base64,
                    cap_reached,
                },
            )
        },
    )?;
    Ok(async move {
        let finished = running.await?;
        Answer::of(&CommandExecuted {
            exit_code: finished.exit_code,
            stdout: finished.stdout.0,
            stderr: finished.stderr.0,
        })
    })
}

impl HostCommand {
    /// Starts the command: its id is taken before this returns, so a write or a stop the host
    /// sends right after finds it; the future runs it to its end.
    pub(super) fn start(
        self,
        processes: &Processes,
        out: Out,
        delta: Delta,
    ) -> Result<impl std::future::Future<Output = Result<Finished, RpcError>> + use<>, RpcError>
    {
        let cancel = CancellationToken::new();
        let (stdin, typed) = match self.stream_stdin || self.tty.is_some() {
            true => {
                let (sender, chunks) = tokio::sync::mpsc::unbounded_channel();
                (Some(sender), Some(chunks))
            }
            false => (None, None),
        };
        let terminal = match self.tty {
            Some(size) => Some(pty::open(size).map_err(|e| {
                RpcError::internal(format!("cannot open a terminal for the command: {e}"))
            })?),
            None => None,
        };
        let input = match (terminal, typed) {
            (Some((terminal, far)), Some(typed)) => Input::Terminal {
                terminal,
                far,
                typed,
            },
            (_, Some(chunks)) => Input::Piped(chunks),
            _ => Input::Null,
        };
        let registered = match &self.id {
            Some(id) => Some(Registered::new(
                processes,
                id,
                Process {
                    cancel: cancel.clone(),
                    stdin,
                    terminal: match &input {
                        Input::Terminal { terminal, .. } => Some(terminal.clone()),
                        _ => None,
                    },
                },
            )?),
            None => None,
        };
        let captured: Arc<Mutex<[Captured; 2]>> = Arc::default();
        // A process id was required for a host that streams.
        let streaming = self
            .id
            .clone()
            .filter(|_| self.stream_output || self.tty.is_some())
            .map(|id| (out, id, delta));
        let sink = output_sink(Arc::clone(&captured), self.cap, streaming);
        let args = ShellArgs {
            timeout_ms: Some(self.timeout_ms),
            ..ShellArgs::new(ShellCommand::Argv(self.command))
        };
        let running = shell::start(
            &args,
            &self.cwd,
            &shell::default_shell(),
            &self.sandbox,
            &self.env,
            input,
        )
        .map_err(|e| RpcError::internal(format!("failed to spawn process: {e}")))?;
        Ok(async move {
            let _registered = registered;
            let outcome = running
                .finish(&self.cwd, &self.sandbox, &sink, cancel)
                .await
                .map_err(|e| RpcError::internal(e.to_string()))?;
            let exit_code = match outcome.timed_out {
                true => 124,
                false => outcome
                    .exit_code
                    .or(outcome.signal.map(|signal| 128 + signal))
                    .unwrap_or(-1),
            };
            let [stdout, stderr] =
                std::mem::take(&mut *captured.lock().unwrap_or_else(PoisonError::into_inner));
            let kept = |captured: Captured| {
                (
                    String::from_utf8_lossy(&captured.text).into_owned(),
                    captured.cap_reached,
                )
            };
            Ok(Finished {
                exit_code,
                stdout: kept(stdout),
                stderr: kept(stderr),
            })
        })
    }
}

/// What `command/exec` does not serve: an empty command, a terminal or streams without a
/// process id to name them by, a size without a terminal.
fn refuse_unserved(p: &ExecParams) -> Result<(), RpcError> {
    if p.command.first().is_none_or(String::is_empty) {
        return Err(RpcError::invalid_params(
            "Invalid params: command: empty command",
        ));
    }
    if (p.stream_stdout_stderr || p.stream_stdin || p.tty) && p.process_id.is_none() {
        return Err(RpcError::invalid_params(
            "Invalid params: tty, streamStdoutStderr and streamStdin need a processId",
        ));
    }
    if p.size.is_some() && !p.tty {
        return Err(RpcError::invalid_params(
            "Invalid params: size is only for a command with tty",
        ));
    }
    Ok(())
}

/// Where the command's bytes go: as it wrote them, up to the host's cap on each stream, as
/// Codex's (nothing cut from the middle, nothing added); to the host as they come when it
/// `streaming`, else kept in `captured` for the answer.
fn output_sink(
    captured: Arc<Mutex<[Captured; 2]>>,
    cap: usize,
    streaming: Option<(Out, String, Delta)>,
) -> OutputSink {
    OutputSink::bytes(move |stream, bytes| {
        let index = usize::from(stream == OutputStream::Stderr);
        let mut all = captured.lock().unwrap_or_else(PoisonError::into_inner);
        let kept = &mut all[index];
        if kept.cap_reached {
            return;
        }
        let room = cap.saturating_sub(kept.bytes);
        let taken = &bytes[..bytes.len().min(room)];
        kept.bytes += taken.len();
        kept.cap_reached = taken.len() < bytes.len();
        match &streaming {
            Some((out, id, delta)) => delta(
                out,
                id.clone(),
                if index == 0 {
                    ExecStream::Stdout
                } else {
                    ExecStream::Stderr
                },
                STANDARD.encode(taken),
                kept.cap_reached,
            ),
            None => kept.text.extend_from_slice(taken),
        }
    })
}

/// The host's `env`: names with a string (set) or `null` (unset), laid over the environment
/// commands get (kelp's scrubbed one: a host may give back a variable it means a command to
/// have).
pub(super) fn env_overrides(
    env: Option<&Value>,
) -> Result<Vec<(String, Option<String>)>, RpcError> {
    let Some(env) = env.filter(|env| !env.is_null()) else {
        return Ok(Vec::new());
    };
    let bad = || RpcError::invalid_params("Invalid params: env: an object of strings or nulls");
    let env = env.as_object().ok_or_else(bad)?;
    env.iter()
        .map(|(name, value)| match value {
            Value::Null => Ok((name.clone(), None)),
            Value::String(value)
                if !name.is_empty() && !name.contains(['=', '\0']) && !value.contains('\0') =>
            {
                Ok((name.clone(), Some(value.clone())))
            }
            _ => Err(bad()),
        })
        .collect()
}

/// `command/exec/terminate` (and `process/kill`): stops the command the host named; its
/// `command/exec` answers with how it ended (`process/exited` says it for a spawned one).
pub fn terminate(processes: &Processes, raw: Value) -> Result<Answer, RpcError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Terminate {
        #[serde(alias = "processHandle")]
        process_id: String,
    }
    let asked: Terminate = params(raw)?;
    processes.with(&asked.process_id, |process| {
        process.cancel.cancel();
        Answer::of(&Empty {})
    })
}

/// `command/exec/write` (and `process/writeStdin`): bytes for the stdin of the command the
/// host named (started with `streamStdin`, or on a terminal, where they are typed), its stdin
/// closed, or both.
pub fn write(processes: &Processes, raw: Value) -> Result<Answer, RpcError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Write {
        #[serde(alias = "processHandle")]
        process_id: String,
        delta_base64: Option<String>,
        #[serde(default)]
        close_stdin: bool,
    }
    let asked: Write = params(raw)?;
    let bytes = match &asked.delta_base64 {
        Some(data) => STANDARD
            .decode(data.as_bytes())
            .map_err(|e| RpcError::invalid_params(format!("Invalid params: deltaBase64: {e}")))?,
        None => Vec::new(),
    };
    processes.with(&asked.process_id, |process| {
        let Some(stdin) = &process.stdin else {
            return Err(RpcError::invalid_request(format!(
                "the stdin of {} is closed, or was not asked for with streamStdin",
                asked.process_id
            )));
        };
        if !bytes.is_empty() {
            // A command that has ended reads nothing more: what it did not read is dropped.
            let _ = stdin.send(bytes);
        }
        if asked.close_stdin {
            // A terminal has no stdin to close: the end of input is typed, as at a keyboard.
            if process.terminal.is_some() {
                let _ = stdin.send(vec![0x04]);
            }
            process.stdin = None;
        }
        Answer::of(&Empty {})
    })
}

/// `command/exec/resize` (and `process/resizePty`): a new size for the terminal of the command
/// the host named.
pub fn resize(processes: &Processes, raw: Value) -> Result<Answer, RpcError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Resize {
        #[serde(alias = "processHandle")]
        process_id: String,
        size: pty::Size,
    }
    let asked: Resize = params(raw)?;
    if asked.size.rows == 0 || asked.size.cols == 0 {
        return Err(RpcError::invalid_params(
            "Invalid params: size: rows and cols must be at least 1",
        ));
    }
    processes.with(&asked.process_id, |process| {
        let Some(terminal) = &process.terminal else {
            return Err(RpcError::invalid_request(format!(
                "{} runs without a terminal (tty) to resize",
                asked.process_id
            )));
        };
        terminal
            .resize(asked.size)
            .map_err(|e| RpcError::internal(format!("cannot resize the terminal: {e}")))?;
        Answer::of(&Empty {})
    })
}

impl Processes {
    /// Stops every command still running (the connection closed).
    pub fn stop_all(&self) {
        for process in self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
        {
            process.cancel.cancel();
        }
    }

    /// Runs `act` on the running command `id`, or says there is none.
    fn with(
        &self,
        id: &str,
        act: impl FnOnce(&mut Process) -> Result<Answer, RpcError>,
    ) -> Result<Answer, RpcError> {
        match self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(id)
        {
            Some(process) => act(process),
            None => Err(RpcError::invalid_request(format!(
                "no running command {id}"
            ))),
        }
    }
}

/// A process id taken while its command runs; let go when the command ends.
struct Registered {
    processes: Processes,
    id: String,
}

impl Registered {
    fn new(processes: &Processes, id: &str, process: Process) -> Result<Self, RpcError> {
        let mut running = processes.0.lock().unwrap_or_else(PoisonError::into_inner);
        if running.contains_key(id) {
            return Err(RpcError::invalid_request(format!(
                "duplicate active process id: {id} is still running"
            )));
        }
        running.insert(id.to_string(), process);
        Ok(Self {
            processes: processes.clone(),
            id: id.to_string(),
        })
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.processes
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}
