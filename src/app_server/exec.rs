//! `command/exec`: one command a host runs under kelp's sandbox, outside any thread (a host's
//! own terminal button, a build check), with `command/exec/write` to feed its stdin
//! (`streamStdin`) and `command/exec/terminate` to stop it. Commands run as the model's do: the
//! same sandbox, a scrubbed environment (with the host's `env` laid over it), no terminal,
//! their process group killed when they end, time out or are stopped.

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
use crate::tools::shell::{self, ShellArgs, ShellCommand};
use crate::tools::{OutputSink, OutputStream, SandboxPolicy};
use crate::wire::{CommandExecOutputDelta, CommandExecuted, Empty, ExecStream};

/// The most output kept of each stream when the host names no cap.
const DEFAULT_OUTPUT_CAP: usize = 1024 * 1024;
/// How long a command runs when the host names no timeout.
const DEFAULT_TIMEOUT_MS: u64 = 10 * 60 * 1000;

/// The commands running now that a host named, by their `processId`.
#[derive(Clone, Default)]
pub struct Processes(Arc<Mutex<HashMap<String, Process>>>);

/// A command a host named: how to stop it, and its stdin while the host may still write it.
struct Process {
    cancel: CancellationToken,
    stdin: Option<tokio::sync::mpsc::UnboundedSender<Vec<u8>>>,
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
    let env = env_overrides(p.env.as_ref())?;
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
    let cancel = CancellationToken::new();
    let (stdin, stdin_chunks) = match p.stream_stdin {
        true => {
            let (sender, chunks) = tokio::sync::mpsc::unbounded_channel();
            (Some(sender), Some(chunks))
        }
        false => (None, None),
    };
    let registered = match &p.process_id {
        Some(id) => Some(Registered::new(
            &processes,
            id,
            Process {
                cancel: cancel.clone(),
                stdin,
            },
        )?),
        None => None,
    };
    let cap = if p.disable_output_cap {
        usize::MAX
    } else {
        p.output_bytes_cap.unwrap_or(DEFAULT_OUTPUT_CAP)
    };
    let captured: Arc<Mutex<[Captured; 2]>> = Arc::default();
    // A process id was required above for a host that streams.
    let streaming = p
        .process_id
        .clone()
        .filter(|_| p.stream_stdout_stderr)
        .map(|id| (out.clone(), id));
    let sink = output_sink(Arc::clone(&captured), cap, streaming);
    let args = ShellArgs {
        timeout_ms: Some(if p.disable_timeout {
            u64::MAX / 4
        } else {
            p.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS)
        }),
        ..ShellArgs::new(ShellCommand::Argv(p.command))
    };
    Ok(async move {
        let _registered = registered;
        let outcome = shell::run_with_stdin(
            &args,
            &cwd,
            &shell::default_shell(),
            &sandbox,
            &sink,
            cancel,
            &env,
            stdin_chunks,
        )
        .await
        .map_err(|e| RpcError::internal(e.to_string()))?;
        let exit_code = outcome
            .exit_code
            .or(outcome.signal.map(|signal| 128 + signal))
            .unwrap_or(-1);
        let [stdout, stderr] =
            std::mem::take(&mut *captured.lock().unwrap_or_else(PoisonError::into_inner));
        Answer::of(&CommandExecuted {
            exit_code,
            stdout: String::from_utf8_lossy(&stdout.text).into_owned(),
            stderr: String::from_utf8_lossy(&stderr.text).into_owned(),
        })
    })
}

/// What `command/exec` does not serve: an empty command, a terminal, streams without a
/// process id to name them by.
fn refuse_unserved(p: &ExecParams) -> Result<(), RpcError> {
    if p.command.first().is_none_or(String::is_empty) {
        return Err(RpcError::invalid_params(
            "Invalid params: command: empty command",
        ));
    }
    if p.tty {
        return Err(RpcError::invalid_params(
            "Invalid params: kelp runs command/exec without a terminal",
        ));
    }
    if (p.stream_stdout_stderr || p.stream_stdin) && p.process_id.is_none() {
        return Err(RpcError::invalid_params(
            "Invalid params: streamStdoutStderr and streamStdin need a processId",
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
    streaming: Option<(Out, String)>,
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
            Some((out, id)) => notify(
                out,
                CommandExecOutputDelta {
                    process_id: id.clone(),
                    stream: if index == 0 {
                        ExecStream::Stdout
                    } else {
                        ExecStream::Stderr
                    },
                    delta_base64: STANDARD.encode(taken),
                    cap_reached: kept.cap_reached,
                },
            ),
            None => kept.text.extend_from_slice(taken),
        }
    })
}

/// The host's `env`: names with a string (set) or `null` (unset), laid over the environment
/// commands get (kelp's scrubbed one: a host may give back a variable it means a command to
/// have).
fn env_overrides(env: Option<&Value>) -> Result<Vec<(String, Option<String>)>, RpcError> {
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

/// `command/exec/terminate`: stops the command the host named; its `command/exec` answers with
/// how it ended.
pub fn terminate(processes: &Processes, raw: Value) -> Result<Answer, RpcError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Terminate {
        process_id: String,
    }
    let asked: Terminate = params(raw)?;
    processes.with(&asked.process_id, |process| {
        process.cancel.cancel();
        Answer::of(&Empty {})
    })
}

/// `command/exec/write`: bytes for the stdin of the command the host named (started with
/// `streamStdin`), its stdin closed, or both.
pub fn write(processes: &Processes, raw: Value) -> Result<Answer, RpcError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Write {
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
            process.stdin = None;
        }
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
                "a command with processId {id} is already running"
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
