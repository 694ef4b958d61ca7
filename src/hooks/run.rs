//! The hooks of one event run together: each a shell command in the project folder with the
//! payload on stdin, as the person (outside the sandbox: it was trusted), in a process group of
//! its own that is killed when its time runs out; what it prints is kept up to a bound.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::Hook;

/// The most kept of each stream of a hook.
const MAX_OUTPUT: usize = 64 * 1024;
/// After a hook exits, how long what it left running may hold its output open.
const DRAIN: Duration = Duration::from_millis(500);

/// How one command ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    pub command: String,
    /// Its exit code; `None` when it did not exit by itself (killed, timed out, not started).
    pub exit: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Why it did not run to its end: its time ran out, it could not start.
    pub failure: Option<String>,
}

/// Runs `hooks` together in `cwd`, each given `payload`.
pub(super) async fn all(hooks: &[&Hook], cwd: &Path, payload: &serde_json::Value) -> Vec<Ran> {
    let input = payload.to_string();
    futures_util::future::join_all(
        hooks
            .iter()
            .map(|hook| shell(&hook.command, hook.timeout, cwd, &input)),
    )
    .await
}

/// Runs `command` with `/bin/sh -c` in `cwd`, as the person, `input` on its stdin, stopped
/// (its whole process group) after `timeout`: a hook, or the person's status line command.
pub async fn shell(command_line: &str, timeout: Duration, cwd: &Path, input: &str) -> Ran {
    let mut ran = Ran {
        command: command_line.to_string(),
        exit: None,
        stdout: String::new(),
        stderr: String::new(),
        failure: None,
    };
    let mut command = tokio::process::Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(command_line)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            ran.failure = Some(format!("could not start: {e}"));
            return ran;
        }
    };
    let group = child.id().and_then(|pid| i32::try_from(pid).ok());
    let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let input = input.as_bytes().to_vec();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let work = async {
        let reading = async { tokio::join!(bounded(stdout, &mut out), bounded(stderr, &mut err)) };
        let waiting = async {
            // A hook that reads nothing closes its stdin: what it did not read is not its answer.
            if let Some(mut stdin) = stdin {
                let _ = stdin.write_all(&input).await;
            }
            child.wait().await
        };
        tokio::pin!(reading, waiting);
        let status = tokio::select! {
            status = &mut waiting => {
                // Exited: what it left running may hold its output open only so long.
                let _ = tokio::time::timeout(DRAIN, &mut reading).await;
                status
            }
            _ = &mut reading => waiting.await,
        };
        status
    };
    let finished = tokio::time::timeout(timeout, work).await;
    ran.stdout = String::from_utf8_lossy(&out).into_owned();
    ran.stderr = String::from_utf8_lossy(&err).into_owned();
    match finished {
        Ok(Ok(status)) => {
            ran.exit = status.code();
            if let Some(signal) = status.signal() {
                ran.failure = Some(format!("ended by signal {signal}"));
            }
        }
        Ok(Err(e)) => ran.failure = Some(format!("could not be waited on: {e}")),
        Err(_) => {
            ran.failure = Some(format!(
                "did not finish within {} s, and was stopped",
                timeout.as_secs_f64()
            ));
        }
    }
    if let Some(group) = group.filter(|_| ran.exit.is_none()) {
        // SAFETY: kill(2) on the hook's own process group, which it was started in.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
    }
    ran
}

/// Reads `pipe` into `kept` until it closes, keeping [`MAX_OUTPUT`] at most (the rest is read
/// and dropped, so the hook never blocks on a full pipe).
async fn bounded(pipe: Option<impl AsyncRead + Unpin>, kept: &mut Vec<u8>) {
    let Some(mut pipe) = pipe else {
        return;
    };
    let mut buf = vec![0u8; 8192];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_OUTPUT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::HookEvent;

    fn hook(command: &str, timeout: Duration) -> Hook {
        Hook {
            event: HookEvent::Stop,
            matcher: None,
            command: command.into(),
            timeout,
            source: "/h.json".into(),
            trusted: true,
            enabled: true,
        }
    }

    /// Each hook reads the payload, its exit code and output are kept (bounded), hooks run
    /// together, and one past its time is stopped.
    #[tokio::test]
    async fn hooks_run_together_bounded_in_time_and_output() {
        let dir = tempfile::tempdir().unwrap();
        let echo = hook("cat; echo oops >&2; exit 2", Duration::from_secs(10));
        let flood = hook("yes | head -c 1000000", Duration::from_secs(10));
        let slow = hook("sleep 30", Duration::from_millis(300));
        let started = std::time::Instant::now();
        let ran = all(
            &[&echo, &flood, &slow],
            dir.path(),
            &serde_json::json!({"a": 1}),
        )
        .await;
        assert!(started.elapsed() < Duration::from_secs(5), "together");
        assert_eq!(ran[0].stdout, r#"{"a":1}"#);
        assert_eq!((ran[0].exit, ran[0].stderr.as_str()), (Some(2), "oops\n"));
        assert_eq!((ran[1].exit, ran[1].stdout.len()), (Some(0), MAX_OUTPUT));
        assert_eq!(ran[2].exit, None);
        assert!(
            ran[2]
                .failure
                .as_deref()
                .unwrap()
                .contains("did not finish")
        );
    }
}
