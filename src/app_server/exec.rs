//! `command/exec`: one command a host runs under kelp's sandbox, outside any thread (a host's
//! own terminal button, a build check), with `command/exec/terminate` to stop it and
//! `command/exec/write` to feed its stdin. Commands run as the model's do: the same sandbox, a
//! scrubbed environment (with the host's `env` laid over it), no terminal and no stdin unless
//! the host streams one, their process group killed when they end, time out or are stopped.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::turns::sandbox_choice;
use super::wire::{Answer, Out, RpcError, params};
use crate::agent::tools::shell::{self, ShellArgs, ShellCommand};
use crate::agent::tools::{OutputSink, OutputStream, SandboxPolicy};
use crate::config::Config;

/// The most output kept of each stream when the host names no cap.
const DEFAULT_OUTPUT_CAP: usize = 1024 * 1024;
/// How long a command runs when the host names no timeout.
const DEFAULT_TIMEOUT_MS: u64 = 10 * 60 * 1000;

/// The commands running now that a host named, by their `processId`.
#[derive(Clone, Default)]
pub struct Processes(Arc<Mutex<HashMap<String, Running>>>);

/// A command a host named: how to stop it, and its stdin when the host writes one.
#[derive(Clone)]
struct Running {
    cancel: CancellationToken,
    stdin: Option<tokio::sync::mpsc::UnboundedSender<Option<Vec<u8>>>>,
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
    text: String,
    cap_reached: bool,
}

/// `command/exec`: runs the command and answers when it has ended, with its exit code and
/// output (or, when the host streams it, the output as `command/exec/outputDelta` first).
pub fn exec(
    config: Config,
    out: Out,
    processes: Processes,
    raw: Value,
) -> impl std::future::Future<Output = Result<Answer, RpcError>> + Send + 'static {
    // Checked and registered at once, before the next request is read: a host may write to the
    // command's stdin, or stop it, right after asking for it.
    let started = start(&config, &processes, raw);
    async move { run(out, started?).await }
}

/// A command checked and registered under its `processId`, not yet running.
struct Started {
    p: ExecParams,
    env: Vec<(String, Option<String>)>,
    cwd: PathBuf,
    sandbox: SandboxPolicy,
    cancel: CancellationToken,
    feed: Option<shell::StdinFeed>,
    /// Holds the process id until the command ends.
    _registered: Option<Registered>,
}

fn start(config: &Config, processes: &Processes, raw: Value) -> Result<Started, RpcError> {
    let p: ExecParams = params(raw)?;
    if p.command.first().is_none_or(String::is_empty) {
        return Err(RpcError::invalid_params(
            "Invalid params: command: empty command",
        ));
    }
    if p.tty {
        return Err(RpcError::invalid_params(
            "Invalid params: kelp runs command/exec without a terminal (tty); streamStdin gives \
             it a stdin",
        ));
    }
    if p.stream_stdin && p.process_id.is_none() {
        return Err(RpcError::invalid_params(
            "Invalid params: streamStdin needs a processId",
        ));
    }
    if p.stream_stdout_stderr && p.process_id.is_none() {
        return Err(RpcError::invalid_params(
            "Invalid params: streamStdoutStderr needs a processId",
        ));
    }
    let env = env_overrides(p.env.as_ref())?;
    let cwd = match p.cwd.clone() {
        Some(dir) => dir,
        None => std::env::current_dir().map_err(|e| RpcError::internal(e.to_string()))?,
    };
    let sandbox = match &p.sandbox_policy {
        Some(policy) if !policy.is_null() => {
            let (mode, network) = sandbox_choice(policy)?;
            SandboxPolicy::for_config(config).with_mode(mode, network)
        }
        _ => SandboxPolicy::for_config(config),
    };
    let cancel = CancellationToken::new();
    let (stdin, feed) = match p.stream_stdin {
        true => {
            let (stdin, feed) = tokio::sync::mpsc::unbounded_channel();
            (Some(stdin), Some(feed))
        }
        false => (None, None),
    };
    let registered = match &p.process_id {
        Some(id) => Some(Registered::new(
            processes,
            id,
            Running {
                cancel: cancel.clone(),
                stdin,
            },
        )?),
        None => None,
    };
    Ok(Started {
        p,
        env,
        cwd,
        sandbox,
        cancel,
        feed,
        _registered: registered,
    })
}

/// Runs a started command to its end: its exit code and output, or its output streamed first.
async fn run(out: Out, started: Started) -> Result<Answer, RpcError> {
    let Started {
        p,
        env,
        cwd,
        sandbox,
        cancel,
        feed,
        _registered,
    } = started;
    let cap = if p.disable_output_cap {
        usize::MAX
    } else {
        p.output_bytes_cap.unwrap_or(DEFAULT_OUTPUT_CAP)
    };
    let captured: Arc<Mutex<[Captured; 2]>> = Arc::default();
    let sink = {
        let captured = Arc::clone(&captured);
        let streaming = p
            .stream_stdout_stderr
            .then(|| (out.clone(), p.process_id.clone()));
        OutputSink::new(move |line| {
            let index = usize::from(line.stream == OutputStream::Stderr);
            let mut all = captured.lock().unwrap_or_else(PoisonError::into_inner);
            let kept = &mut all[index];
            if kept.cap_reached {
                return;
            }
            let mut text = line.text;
            text.push('\n');
            if kept.text.len() + text.len() > cap {
                let room = cap.saturating_sub(kept.text.len());
                let cut = (0..=room)
                    .rev()
                    .find(|&at| text.is_char_boundary(at))
                    .unwrap_or(0);
                text.truncate(cut);
                kept.cap_reached = true;
            }
            match &streaming {
                Some((out, id)) => out.notify(
                    "command/exec/outputDelta",
                    json!({
                        "processId": id,
                        "stream": if index == 0 { "stdout" } else { "stderr" },
                        "deltaBase64": STANDARD.encode(text.as_bytes()),
                        "capReached": kept.cap_reached,
                    }),
                ),
                None => kept.text.push_str(&text),
            }
        })
    };
    let args = ShellArgs {
        command: ShellCommand::Argv(p.command),
        workdir: None,
        timeout_ms: Some(if p.disable_timeout {
            u64::MAX / 4
        } else {
            p.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS)
        }),
    };
    let outcome = shell::run(
        &args,
        &cwd,
        &shell::default_shell(),
        &sandbox,
        &sink,
        cancel,
        shell::HostIo { env, stdin: feed },
    )
    .await
    .map_err(|e| RpcError::internal(e.to_string()))?;
    let exit_code = outcome
        .exit_code
        .or(outcome.signal.map(|signal| 128 + signal))
        .unwrap_or(-1);
    let [stdout, stderr] =
        std::mem::take(&mut *captured.lock().unwrap_or_else(PoisonError::into_inner));
    Ok(json!({ "exitCode": exit_code, "stdout": stdout.text, "stderr": stderr.text }).into())
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
    processes.running(&asked.process_id)?.cancel.cancel();
    Ok(json!({}).into())
}

/// `command/exec/write`: bytes for the stdin of a command started with `streamStdin`, its end
/// (`closeStdin`), or both.
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
    let bytes =
        match asked.delta_base64.as_deref() {
            Some(encoded) => Some(STANDARD.decode(encoded).map_err(|e| {
                RpcError::invalid_params(format!("Invalid params: deltaBase64: {e}"))
            })?),
            None => None,
        };
    let stdin = processes.running(&asked.process_id)?.stdin.ok_or_else(|| {
        RpcError::invalid_request(format!(
            "command {} was not started with streamStdin",
            asked.process_id
        ))
    })?;
    let closed = || RpcError::invalid_request(format!("{}: stdin is closed", asked.process_id));
    if let Some(bytes) = bytes {
        stdin.send(Some(bytes)).map_err(|_| closed())?;
    }
    if asked.close_stdin {
        stdin.send(None).map_err(|_| closed())?;
    }
    Ok(json!({}).into())
}

impl Processes {
    /// Stops every command still running (the connection closed).
    pub fn stop_all(&self) {
        for running in self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
        {
            running.cancel.cancel();
        }
    }

    /// The command running under `id`.
    fn running(&self, id: &str) -> Result<Running, RpcError> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
            .ok_or_else(|| RpcError::invalid_request(format!("no running command {id}")))
    }
}

/// A process id taken while its command runs; let go when the command ends.
struct Registered {
    processes: Processes,
    id: String,
}

impl Registered {
    fn new(processes: &Processes, id: &str, running: Running) -> Result<Self, RpcError> {
        let mut all = processes.0.lock().unwrap_or_else(PoisonError::into_inner);
        if all.contains_key(id) {
            return Err(RpcError::invalid_request(format!(
                "a command with processId {id} is already running"
            )));
        }
        all.insert(id.to_string(), running);
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
