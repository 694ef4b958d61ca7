//! One background terminal's process: started in the sandbox on pipes or on a terminal of its
//! own, its output read by a task of its own into a bounded buffer of what nobody has read yet,
//! its end noted with what a command's end tells (exit code, what the sandbox stopped, what it
//! left that runs later), and its process group killed at the latest when the last handle goes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::command_io::{self, DRAIN_GRACE, GroupKiller, KILL_DRAIN};
use super::output::{Capture, MAX_STREAM_LINE, OutputSink, OutputStream};
use super::pty::{self, Terminal};
use super::shell::{self, Confined, Pipes, Prepared, ShellArgs, ShellError};
use crate::sandbox::{self, SandboxPolicy};

/// The most of a last line kept for `/ps`.
const LAST_LINE_MAX: usize = 200;
/// The most a call that watches shows live, per call; the model still gets the rest.
const LIVE_MAX: usize = 64 * 1024;

/// How a background terminal's process ended, and what its end tells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ending {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub killed_leftovers: bool,
    pub sandbox_block: Option<String>,
    pub network_refused_by_person: bool,
    pub set_aside: Option<String>,
    pub runs_later: Option<String>,
    /// From start to end.
    pub duration: Duration,
}

/// What a session's reader shares with the calls that poll it.
pub(super) struct Io {
    state: Mutex<Unread>,
    ended: watch::Sender<bool>,
    /// The process group, killed when the session is ended; disarmed once nothing of it lives.
    group: Mutex<GroupKiller>,
    /// The terminal's near end, for what the model types; `None` on pipes.
    terminal: Option<Terminal>,
}

#[derive(Default)]
struct Unread {
    capture: Capture,
    last_line: Vec<u8>,
    partial: Vec<u8>,
    live: Option<(OutputSink, usize)>,
    ending: Option<Ending>,
}

impl Io {
    fn state(&self) -> MutexGuard<'_, Unread> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ends the process group now.
    pub(super) fn kill(&self) {
        self.group
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .kill();
    }

    /// How it ended, once it has.
    pub(super) fn ending(&self) -> Option<Ending> {
        self.state().ending.clone()
    }

    /// Waits until the process has ended and its output is read, or `deadline`.
    pub(super) async fn until_ended_or(&self, deadline: tokio::time::Instant) {
        let mut ended = self.ended.subscribe();
        let _ = tokio::time::timeout_at(deadline, ended.wait_for(|ended| *ended)).await;
    }

    /// What it printed since the last take, rendered, and how many bytes that was.
    pub(super) fn take_unread(&self) -> (String, u64) {
        let mut state = self.state();
        let capture = std::mem::take(&mut state.capture);
        (capture.render(), capture.total)
    }

    /// The last line it printed, for `/ps`.
    pub(super) fn last_line(&self) -> String {
        let state = self.state();
        let line = if state.partial.iter().any(|b| !b.is_ascii_whitespace()) {
            &state.partial
        } else {
            &state.last_line
        };
        let text = String::from_utf8_lossy(line);
        crate::terminal_text::printable(text.trim())
            .chars()
            .take(LAST_LINE_MAX)
            .collect()
    }

    /// Shows what it prints on `sink` as it comes, until [`Io::unwatch`].
    pub(super) fn watch(&self, sink: &OutputSink) {
        self.state().live = Some((sink.clone(), 0));
    }

    pub(super) fn unwatch(&self) {
        self.state().live = None;
    }

    /// Types `bytes` into its terminal.
    pub(super) async fn type_in(&self, bytes: &[u8]) -> std::io::Result<()> {
        match &self.terminal {
            Some(terminal) => terminal.type_in(bytes).await,
            None => Err(std::io::ErrorKind::BrokenPipe.into()),
        }
    }

    fn took(&self, bytes: &[u8]) {
        let mut state = self.state();
        state.capture.push(bytes);
        for piece in bytes.split_inclusive(|&b| b == b'\n') {
            match piece.strip_suffix(b"\n") {
                Some(end) => {
                    state.partial.extend_from_slice(end);
                    let line = std::mem::take(&mut state.partial);
                    show_live(&mut state.live, &line);
                    if line.iter().any(|b| !b.is_ascii_whitespace()) {
                        state.last_line = line;
                        state.last_line.truncate(MAX_STREAM_LINE);
                    }
                }
                None => {
                    state.partial.extend_from_slice(piece);
                    if state.partial.len() >= MAX_STREAM_LINE {
                        let line = std::mem::take(&mut state.partial);
                        show_live(&mut state.live, &line);
                        state.last_line = line;
                    }
                }
            }
        }
    }
}

/// One line to the watching call's sink, while its share lasts.
fn show_live(live: &mut Option<(OutputSink, usize)>, line: &[u8]) {
    if let Some((sink, shown)) = live
        && *shown < LIVE_MAX
    {
        *shown += line.len() + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        sink.emit(OutputStream::Stdout, line);
    }
}

/// A background terminal's process, started.
pub(super) struct Started {
    pub(super) io: Arc<Io>,
    pub(super) pid: Option<u32>,
    pub(super) dir: PathBuf,
}

/// Starts `args` in `project_dir` under `sandbox`, on a terminal of its own when `tty`, and its
/// reader. `env` is laid over the scrubbed environment.
pub(super) fn start(
    args: &ShellArgs,
    project_dir: &Path,
    shell_path: &Path,
    sandbox: &SandboxPolicy,
    tty: bool,
    env: &[(String, Option<String>)],
) -> Result<Started, ShellError> {
    let (pipes, terminal) = if tty {
        let (near, far) = pty::open(pty::Size::default()).map_err(|source| ShellError::Spawn {
            program: "a terminal".to_string(),
            source,
        })?;
        (Pipes::Terminal(far), Some(near))
    } else {
        (Pipes::Plain(std::process::Stdio::null()), None)
    };
    let Prepared {
        mut command,
        dir,
        program,
        confined: Confined { left_behind, proxy },
    } = shell::prepare(args, project_dir, shell_path, sandbox, env, pipes)?;
    let runs_later = super::runs_later::Watch::before(project_dir);
    let started = Instant::now();
    let child = command
        .spawn()
        .map_err(|source| ShellError::Spawn { program, source })?;
    // The command's copies of the terminal's far end must close here, or its end never shows.
    drop(command);
    let pid = child.id();
    let (ended, _) = watch::channel(false);
    let io = Arc::new(Io {
        state: Mutex::new(Unread::default()),
        ended,
        group: Mutex::new(GroupKiller::new(pid)),
        terminal,
    });
    let after = AfterEnd {
        proxy: proxy.and_then(sandbox::ProxyHandoff::serve),
        left_behind,
        runs_later,
        sandbox: sandbox.clone(),
        project_dir: project_dir.to_path_buf(),
        dir: dir.clone(),
        started,
    };
    crate::task::spawn(pump(child, Arc::clone(&io), after));
    Ok(Started { io, pid, dir })
}

/// What is looked at once the process ends.
struct AfterEnd {
    /// Served for as long as the process runs.
    proxy: Option<sandbox::ServingProxy>,
    left_behind: sandbox::LeftBehind,
    runs_later: super::runs_later::Watch,
    sandbox: SandboxPolicy,
    project_dir: PathBuf,
    dir: PathBuf,
    started: Instant,
}

/// Reads the process's output until it has exited and its output has closed (what it left
/// running that holds the output past [`DRAIN_GRACE`] is killed), then notes how it ended.
async fn pump(mut child: tokio::process::Child, io: Arc<Io>, after: AfterEnd) {
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let mut terminal_open = io.terminal.is_some();
    let (mut out_buf, mut err_buf, mut tty_buf) =
        (vec![0u8; 8192], vec![0u8; 8192], vec![0u8; 8192]);
    let grace = tokio::time::sleep(DRAIN_GRACE);
    tokio::pin!(grace);
    let mut status = None;
    let mut killed_leftovers = false;
    loop {
        if status.is_some() && stdout.is_none() && stderr.is_none() && !terminal_open {
            break;
        }
        tokio::select! {
            read = command_io::read_some(&mut stdout, &mut out_buf), if stdout.is_some() => match read {
                Some(n) => io.took(&out_buf[..n]),
                None => stdout = None,
            },
            read = command_io::read_some(&mut stderr, &mut err_buf), if stderr.is_some() => match read {
                Some(n) => io.took(&err_buf[..n]),
                None => stderr = None,
            },
            read = pty::read_from(io.terminal.as_ref(), &mut tty_buf), if terminal_open => match read {
                Some(n) => io.took(&tty_buf[..n]),
                None => terminal_open = false,
            },
            waited = child.wait(), if status.is_none() => {
                status = Some(waited.ok());
                grace.as_mut().reset(tokio::time::Instant::now() + DRAIN_GRACE);
            },
            () = &mut grace, if status.is_some() => {
                killed_leftovers = true;
                io.kill();
                let _ = tokio::time::timeout(KILL_DRAIN, async {
                    while let Some(n) = command_io::read_some(&mut stdout, &mut out_buf).await {
                        io.took(&out_buf[..n]);
                    }
                }).await;
                break;
            },
        }
    }
    // Nothing of the group is left to kill, and its id may be reused from now on.
    io.group
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .disarm();
    let status = status.flatten();
    let (exit_code, signal) = status.map(command_io::exit_parts).unwrap_or((None, None));
    let refused = after
        .proxy
        .as_ref()
        .map(sandbox::ServingProxy::refusals)
        .unwrap_or_default();
    let sandbox_block = if exit_code == Some(0) {
        None
    } else {
        let unread = io.state().capture.render();
        sandbox::why_blocked(&refused, &unread, &after.sandbox, &after.dir)
    };
    let set_aside = match (
        after.left_behind.set_aside(&after.project_dir),
        sandbox::hold_private_tmp_to(after.sandbox.tmp_cap),
    ) {
        (Some(moved), Some(emptied)) => Some(format!("{moved}; {emptied}")),
        (moved, emptied) => moved.or(emptied),
    };
    let ending = Ending {
        exit_code,
        signal,
        killed_leftovers,
        sandbox_block,
        network_refused_by_person: refused.iter().any(|refusal| refusal.by_person),
        set_aside,
        runs_later: after.runs_later.after(&after.project_dir),
        duration: after.started.elapsed(),
    };
    io.state().ending = Some(ending);
    io.ended.send_replace(true);
}
