//! `process/spawn`: a process a host starts on the machine kelp serves, outside any thread and
//! without the sandbox, as Codex's (a host's own terminal pane, a dev server its UI runs): it
//! is answered as soon as the process has started, its output comes as `process/outputDelta`
//! when the host streams it (always on a terminal, `tty`), and its end as `process/exited` with
//! what was kept of its output. `process/writeStdin`, `process/resizePty` and `process/kill`
//! name it by its `processHandle`. It runs as `command/exec` does (`exec.rs`) but for the
//! sandbox: the environment commands get (credentials scrubbed, the host's `env` over it), its
//! own process group, killed when it ends, times out or the connection closes. A client over a
//! TCP port may not ask for one unless the server allows it full access.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::exec::{HostCommand, Processes, env_overrides};
use super::wire::{Answer, Out, RpcError, notify, params};
use crate::tools::{SandboxPolicy, pty};
use crate::wire::{Empty, ProcessExited, ProcessOutputDelta};

/// The most output kept of each stream when the host names no cap (Codex's).
const DEFAULT_OUTPUT_CAP: usize = 1024 * 1024;
/// How long a process runs when the host names no timeout (Codex's: `null` means none).
const DEFAULT_TIMEOUT_MS: u64 = 10_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpawnParams {
    command: Vec<String>,
    process_handle: String,
    cwd: PathBuf,
    #[serde(default)]
    tty: bool,
    #[serde(default)]
    stream_stdin: bool,
    #[serde(default)]
    stream_stdout_stderr: bool,
    /// Absent: the default; `null`: no cap.
    #[serde(default, deserialize_with = "present")]
    output_bytes_cap: Option<Option<usize>>,
    /// Absent: the default; `null`: no timeout.
    #[serde(default, deserialize_with = "present")]
    timeout_ms: Option<Option<u64>>,
    env: Option<Value>,
    size: Option<pty::Size>,
}

/// A field that is there, `null` or not, as opposed to one left out.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    field: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(field).map(Some)
}

/// `process/spawn`: starts the process and answers `{}` (or, as Codex, `-32603` when it cannot
/// start); `process/exited` follows its end.
pub fn spawn(processes: &Processes, out: &Out, raw: Value) -> Result<Answer, RpcError> {
    let p: SpawnParams = params(raw)?;
    if p.command.first().is_none_or(String::is_empty) {
        return Err(RpcError::invalid_request("command must not be empty"));
    }
    if p.process_handle.is_empty() {
        return Err(RpcError::invalid_request("processHandle must not be empty"));
    }
    if p.size.is_some() && !p.tty {
        return Err(RpcError::invalid_params(
            "process/spawn size requires tty: true",
        ));
    }
    if !p.cwd.is_absolute() {
        return Err(RpcError::invalid_params(
            "Invalid params: cwd: an absolute path",
        ));
    }
    let handle = p.process_handle.clone();
    let running = HostCommand {
        command: p.command,
        env: env_overrides(p.env.as_ref())?,
        cwd: p.cwd,
        id: Some(p.process_handle),
        tty: p.tty.then(|| p.size.unwrap_or_default()),
        stream_stdin: p.stream_stdin,
        stream_output: p.stream_stdout_stderr,
        cap: match p.output_bytes_cap {
            None => DEFAULT_OUTPUT_CAP,
            Some(cap) => cap.unwrap_or(usize::MAX),
        },
        timeout_ms: match p.timeout_ms {
            None => DEFAULT_TIMEOUT_MS,
            Some(timeout) => timeout.unwrap_or(u64::MAX / 4),
        },
        sandbox: SandboxPolicy::off(),
    }
    .start(
        processes,
        out.clone(),
        |out, process_handle, stream, delta_base64, cap_reached| {
            notify(
                out,
                ProcessOutputDelta {
                    process_handle,
                    stream,
                    delta_base64,
                    cap_reached,
                },
            )
        },
    )?;
    let out = out.clone();
    // Watched only once the answer is out, so nothing of the process comes before it.
    let watch = async move {
        let exited = match running.await {
            Ok(finished) => ProcessExited {
                process_handle: handle,
                exit_code: finished.exit_code,
                output_drain_timed_out: Some(false),
                stdout: finished.stdout.0,
                stdout_cap_reached: finished.stdout.1,
                stderr: finished.stderr.0,
                stderr_cap_reached: finished.stderr.1,
            },
            // It could not be waited on: said as an end, so a host is not left waiting.
            Err(e) => ProcessExited {
                process_handle: handle,
                exit_code: -1,
                output_drain_timed_out: Some(false),
                stdout: String::new(),
                stdout_cap_reached: false,
                stderr: e.message,
                stderr_cap_reached: false,
            },
        };
        notify(&out, exited);
    };
    Ok(Answer::of(&Empty {})?.after(move || {
        crate::task::spawn(watch);
    }))
}
