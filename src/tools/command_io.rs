//! What every way kelp runs a command shares once it has started: its output read from pipes
//! or its terminal until it ends (its time, a cancel, or what it left holding the output past a
//! grace ending it), what a host or the model sends written to its input, and its process
//! group killed at the latest when the handle goes.

use std::process::ExitStatus;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::sync::CancellationToken;

use super::output::{Capture, OutputSink, OutputStream, Received};

/// After the command exits, how long processes it left behind may keep its output open.
pub(super) const DRAIN_GRACE: Duration = Duration::from_millis(500);
/// After a kill, how long to wait for the last buffered output.
pub(super) const KILL_DRAIN: Duration = Duration::from_millis(100);
/// Writes what arrives on `chunks` to the command's stdin pipe, or types it into its terminal;
/// ends when the sender is dropped (a pipe closes then) or the command stops reading.
pub(super) fn write_input(
    mut chunks: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    pipe: Option<tokio::process::ChildStdin>,
    terminal: Option<super::pty::Terminal>,
) {
    crate::task::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let mut pipe = pipe;
        while let Some(chunk) = chunks.recv().await {
            let written = match (&terminal, &mut pipe) {
                (Some(terminal), _) => terminal.type_in(&chunk).await,
                (None, Some(pipe)) => pipe.write_all(&chunk).await,
                (None, None) => break,
            };
            if written.is_err() {
                break;
            }
        }
    });
}

/// How a command's run ended, and what it wrote.
pub(super) struct Ended {
    pub(super) status: Option<ExitStatus>,
    pub(super) timed_out: bool,
    pub(super) cancelled: bool,
    pub(super) killed_leftovers: bool,
    pub(super) capture: Capture,
}

/// Reads the command's output until it exits and its pipes close, or its time runs out,
/// `cancel` fires, or what it left running outlives [`DRAIN_GRACE`]; in those three cases its
/// group is killed and what it wrote before dying is still collected, briefly.
pub(super) async fn watch(
    child: &mut tokio::process::Child,
    group: &mut GroupKiller,
    sink: &OutputSink,
    (timeout, cancel): (Duration, &CancellationToken),
    terminal: Option<&super::pty::Terminal>,
) -> std::io::Result<Ended> {
    let mut stdout = child.stdout.take();
    let mut terminal = terminal;
    let mut stderr = child.stderr.take();

    let mut received = Received::new(sink);
    let mut out_buf = vec![0u8; 8192];
    let mut err_buf = vec![0u8; 8192];
    let mut tty_buf = vec![0u8; 8192];

    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    // Armed (reset to now + DRAIN_GRACE) only once the command has exited.
    let grace = tokio::time::sleep(DRAIN_GRACE);
    tokio::pin!(grace);

    let mut status: Option<ExitStatus> = None;
    let mut timed_out = false;
    let mut cancelled = false;
    let mut killed_leftovers = false;

    loop {
        if status.is_some() && stdout.is_none() && stderr.is_none() && terminal.is_none() {
            break;
        }
        tokio::select! {
            read = super::pty::read_from(terminal, &mut tty_buf), if terminal.is_some() => match read {
                Some(n) => received.took(OutputStream::Stdout, &tty_buf[..n]),
                None => terminal = None,
            },
            read = read_some(&mut stdout, &mut out_buf), if stdout.is_some() => match read {
                Some(n) => received.took(OutputStream::Stdout, &out_buf[..n]),
                None => stdout = None,
            },
            read = read_some(&mut stderr, &mut err_buf), if stderr.is_some() => match read {
                Some(n) => received.took(OutputStream::Stderr, &err_buf[..n]),
                None => stderr = None,
            },
            waited = child.wait(), if status.is_none() => {
                status = Some(waited?);
                grace.as_mut().reset(tokio::time::Instant::now() + DRAIN_GRACE);
            },
            () = &mut grace, if status.is_some() => {
                killed_leftovers = true;
                group.kill();
                break;
            },
            () = &mut deadline, if status.is_none() => {
                timed_out = true;
                group.kill();
                break;
            },
            () = cancel.cancelled() => {
                cancelled = true;
                group.kill();
                break;
            },
        }
    }

    if timed_out || cancelled || killed_leftovers {
        // The group is dead; collect what it wrote before dying, but never wait long.
        let _ = tokio::time::timeout(KILL_DRAIN, async {
            while let Some(n) = read_some(&mut stdout, &mut out_buf).await {
                received.took(OutputStream::Stdout, &out_buf[..n]);
            }
            while let Some(n) = read_some(&mut stderr, &mut err_buf).await {
                received.took(OutputStream::Stderr, &err_buf[..n]);
            }
            while let Some(n) = super::pty::read_from(terminal, &mut tty_buf).await {
                received.took(OutputStream::Stdout, &tty_buf[..n]);
            }
        })
        .await;
    }
    if status.is_none() {
        status = Some(child.wait().await?);
    }
    Ok(Ended {
        status,
        timed_out,
        cancelled,
        killed_leftovers,
        capture: received.finish(),
    })
}

/// Reads once from an open pipe; `None` at end of file or on error.
pub(super) async fn read_some<R: AsyncRead + Unpin>(
    pipe: &mut Option<R>,
    buf: &mut [u8],
) -> Option<usize> {
    let reader = pipe.as_mut()?;
    match reader.read(buf).await {
        Ok(0) | Err(_) => None,
        Ok(n) => Some(n),
    }
}

#[cfg(unix)]
pub(super) fn exit_parts(status: ExitStatus) -> (Option<i32>, Option<i32>) {
    use std::os::unix::process::ExitStatusExt;
    (status.code(), status.signal())
}

#[cfg(not(unix))]
fn exit_parts(status: ExitStatus) -> (Option<i32>, Option<i32>) {
    (status.code(), None)
}

/// Kills a process group with SIGKILL, at the latest when dropped.
pub(super) struct GroupKiller {
    pgid: Option<i32>,
}

impl GroupKiller {
    pub(super) fn new(pid: Option<u32>) -> Self {
        Self {
            pgid: pid.and_then(|p| i32::try_from(p).ok()).filter(|&p| p > 0),
        }
    }

    pub(super) fn kill(&self) {
        #[cfg(unix)]
        if let Some(pgid) = self.pgid {
            // SAFETY: kill(2) takes plain integers and touches no memory of ours. The group id is
            // the child's pid, which cannot be reused while any process of the group lives.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }

    /// Stops the drop from killing: the command finished and nothing of it is left to kill.
    pub(super) fn disarm(&mut self) {
        self.pgid = None;
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        self.kill();
    }
}
