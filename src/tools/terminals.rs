//! Background terminals, with Codex's tools: `exec_command` runs a command and, when it is
//! still running as its call yields, leaves it running in its sandbox as a session with an id;
//! `write_stdin` types into a session (one with a terminal) or polls it, and gets what it
//! printed since. Arguments and output are Codex 0.171's unified exec's.
//!
//! A conversation holds its sessions in one [`Terminals`]: they end with it (dropping the last
//! handle kills every process group; a kelp killed by a signal takes them down through the
//! sandbox's death signal), at `/stop`, or to make room: past the limit
//! (`max_background_terminals`) the least recently used one is ended, and the model told.
//! Each keeps at most a bounded head and tail of what nobody has read yet
//! ([`super::output::HEAD_BYTES`], [`super::output::TAIL_BYTES`]), whatever it prints.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::shell::{ShellArgs, ShellCommand, ShellOutcome};
use super::terminal_io::{self, Ending, Io};
use super::{OutputSink, ToolContext, ToolDetail, ToolOutput, ToolParseError};
use crate::protocol::BackgroundTerminal;

pub use super::exec_args::{EXEC_COMMAND, TerminalAsk, TerminalFacts, WRITE_STDIN, WriteStdinArgs};

/// The line a call that leaves its command running ends its shown output with, before the
/// terminal's number (a face that keeps the call open reads the number from it).
pub const STILL_RUNNING: &str = "… still running as background terminal ";

/// The words a `write_stdin` call's summary starts with, before its terminal's number.
pub const SESSION_WORD: &str = "session ";

/// The terminal a line of shown output says its call left running.
pub fn left_running(line: &str) -> Option<i64> {
    let rest = line.strip_prefix(STILL_RUNNING)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The terminal a `write_stdin` call's summary names.
pub fn polled(summary: &str) -> Option<i64> {
    let rest = summary.strip_prefix(SESSION_WORD)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// How many may run at once unless `max_background_terminals` says otherwise (Codex's).
pub const DEFAULT_LIMIT: usize = 64;
/// The most recently used sessions, never ended to make room.
const KEPT_RECENT: usize = 8;
/// Codex's bounds on how long a call waits before it answers, in milliseconds.
const EXEC_YIELD_MS: u64 = 10_000;
const WRITE_YIELD_MS: u64 = 250;
const MIN_YIELD_MS: u64 = 250;
const MAX_YIELD_MS: u64 = 30_000;
const MIN_POLL_YIELD_MS: u64 = 5_000;
const MAX_POLL_YIELD_MS: u64 = 300_000;
/// Output the model gets per call unless it asks for less, in Codex's tokens of 4 bytes.
const DEFAULT_MAX_OUTPUT_TOKENS: usize = 10_000;
/// What every session's environment says: no pager waits for a key nobody presses.
const ENV: [(&str, &str); 2] = [("PAGER", "cat"), ("GIT_PAGER", "cat")];

#[derive(Deserialize)]
struct ExecCommandArgs {
    cmd: String,
    #[serde(default)]
    workdir: Option<String>,
    #[serde(default)]
    shell: Option<String>,
    #[serde(default)]
    tty: bool,
    #[serde(default)]
    yield_time_ms: Option<u64>,
    #[serde(default)]
    max_output_tokens: Option<usize>,
    #[serde(default)]
    sandbox_permissions: Option<String>,
    #[serde(default)]
    justification: Option<String>,
}

/// An `exec_command` call, as the command it runs (approved, sandboxed and shown as a `shell`
/// call's) with what it asks of a background terminal.
pub fn parse_exec(arguments: &str) -> Result<ShellArgs, ToolParseError> {
    let args: ExecCommandArgs = serde_json::from_str(arguments)?;
    if args.cmd.trim().is_empty() {
        return Err(ToolParseError::Invalid("cmd is empty".to_string()));
    }
    let command = match args.shell.filter(|shell| !shell.trim().is_empty()) {
        Some(shell) => ShellCommand::Argv(vec![shell, "-c".to_string(), args.cmd]),
        None => ShellCommand::Script(args.cmd),
    };
    Ok(ShellArgs {
        workdir: args.workdir.filter(|dir| !dir.is_empty()),
        sandbox_permissions: args.sandbox_permissions,
        justification: args.justification,
        terminal: Some(TerminalAsk {
            yield_ms: args.yield_time_ms,
            max_output_tokens: args.max_output_tokens,
            tty: args.tty,
            call_id: String::new(),
        }),
        ..ShellArgs::new(command)
    })
}

/// A conversation's background terminals; cheap to clone, two equal when they are the same.
#[derive(Clone, Default)]
pub struct Terminals(Arc<Mutex<Store>>);

#[derive(Default)]
struct Store {
    next_id: i64,
    limit: Option<usize>,
    sessions: BTreeMap<i64, Session>,
    /// The private `/tmp`'s cap, as the last session started under it.
    tmp_cap: u64,
    /// A task measures the private `/tmp` while sessions run.
    watching_tmp: bool,
    /// That it emptied the private `/tmp`, for the model's next poll.
    tmp_note: Option<String>,
}

/// How often the private `/tmp` is measured while background terminals run: it lives on the
/// machine's disk, and a command that never ends would otherwise fill it past its cap, which a
/// command is held to only as it ends.
const TMP_CHECK: Duration = Duration::from_secs(5);

struct Session {
    command: String,
    workdir: PathBuf,
    call_id: String,
    tty: bool,
    sandboxed: bool,
    started: Instant,
    last_used: Instant,
    pid: Option<u32>,
    io: Arc<Io>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.io.kill();
    }
}

impl std::fmt::Debug for Terminals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Terminals({})", self.store().sessions.len())
    }
}

impl PartialEq for Terminals {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Terminals {}

impl Terminals {
    /// Sessions past `limit` end the least recently used one.
    pub fn with_limit(limit: usize) -> Self {
        let terminals = Self::default();
        terminals.store().limit = Some(limit.max(1));
        terminals
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many run (or ended, unread).
    pub fn count(&self) -> usize {
        self.store().sessions.len()
    }

    /// What judging a `write_stdin` to `id` needs; `None` for no such session.
    pub fn facts(&self, id: i64) -> Option<TerminalFacts> {
        self.store().sessions.get(&id).map(|session| TerminalFacts {
            call_id: session.call_id.clone(),
            command: session.command.clone(),
            workdir: session.workdir.clone(),
            tty: session.tty,
            sandboxed: session.sandboxed,
        })
    }

    /// Every session, oldest first.
    ///
    /// The store is read under its lock; `/proc` (ports, memory) after, so a list never holds
    /// up a call starting or polling a terminal.
    pub fn list(&self) -> Vec<BackgroundTerminal> {
        let rows: Vec<BackgroundTerminal> = {
            let store = self.store();
            store
                .sessions
                .iter()
                .map(|(id, session)| BackgroundTerminal {
                    id: *id,
                    command: session.command.clone(),
                    workdir: session.workdir.clone(),
                    call_id: session.call_id.clone(),
                    pid: session.pid,
                    ports: Vec::new(),
                    rss_kb: None,
                    running_for: Some(session.started.elapsed()),
                    last_line: session.io.last_line(),
                    ended: session.io.ending().map(|ending| ending.exit_code),
                    tty: session.tty,
                })
                .collect()
        };
        rows.into_iter()
            .map(|row| match row.pid.filter(|_| row.ended.is_none()) {
                Some(pid) => {
                    let (ports, rss_kb) = super::listening::held_by(pid);
                    BackgroundTerminal {
                        ports,
                        rss_kb: Some(rss_kb),
                        ..row
                    }
                }
                None => row,
            })
            .collect()
    }

    /// Ends session `id` (every one with `None`); how many were ended.
    pub fn stop(&self, id: Option<i64>) -> usize {
        let ended: Vec<Session> = {
            let mut store = self.store();
            match id {
                Some(id) => store.sessions.remove(&id).into_iter().collect(),
                None => std::mem::take(&mut store.sessions).into_values().collect(),
            }
        };
        ended.len()
    }

    /// Runs an `exec_command` call.
    pub async fn exec(
        &self,
        args: &ShellArgs,
        ctx: &ToolContext,
        sink: &OutputSink,
        cancel: CancellationToken,
    ) -> ToolOutput {
        let started = Instant::now();
        let ask = args.terminal.clone().unwrap_or_default();
        let made_room = self.make_room();
        let env: Vec<(String, Option<String>)> = ENV
            .iter()
            .map(|(name, value)| (name.to_string(), Some(value.to_string())))
            .collect();
        let running = match terminal_io::start(
            args,
            &ctx.project_dir,
            &ctx.shell,
            &ctx.sandbox,
            ask.tty,
            &env,
        ) {
            Ok(running) => running,
            Err(e) => return ToolOutput::failure(e.to_string(), started.elapsed()),
        };
        self.watch_tmp(ctx.sandbox.tmp_cap);
        let id = {
            let mut store = self.store();
            store.next_id += 1;
            let id = store.next_id;
            store.sessions.insert(
                id,
                Session {
                    command: args.command.display(),
                    workdir: running.dir,
                    call_id: ask.call_id.clone(),
                    tty: ask.tty,
                    sandboxed: ctx.sandbox.mode != crate::protocol::SandboxMode::Off,
                    started,
                    last_used: started,
                    pid: running.pid,
                    io: Arc::clone(&running.io),
                },
            );
            id
        };
        let waited = ask
            .yield_ms
            .unwrap_or(EXEC_YIELD_MS)
            .clamp(MIN_YIELD_MS, MAX_YIELD_MS);
        let mut answer = self
            .wait(
                id,
                &running.io,
                waited,
                sink,
                &cancel,
                ask.max_output_tokens,
            )
            .await;
        if let Some(note) = made_room {
            answer.text = format!("Note: {note}\n{}", answer.text);
        }
        answer.duration = started.elapsed();
        answer
    }

    /// Runs a `write_stdin` call: types its `chars`, then waits for output or the end.
    pub async fn write(
        &self,
        args: &WriteStdinArgs,
        sink: &OutputSink,
        cancel: CancellationToken,
    ) -> ToolOutput {
        let started = Instant::now();
        let found = {
            let mut store = self.store();
            store.sessions.get_mut(&args.session_id).map(|session| {
                session.last_used = Instant::now();
                (Arc::clone(&session.io), session.tty)
            })
        };
        let Some((io, tty)) = found else {
            return ToolOutput::failure(
                format!("Unknown process id {}", args.session_id),
                started.elapsed(),
            );
        };
        let waited = if args.chars.is_empty() {
            let asked = args.yield_time_ms.unwrap_or(MIN_POLL_YIELD_MS);
            asked.clamp(MIN_POLL_YIELD_MS, MAX_POLL_YIELD_MS)
        } else if !tty {
            return ToolOutput::failure(
                "stdin is closed for this session; rerun exec_command with tty=true to keep stdin open"
                    .to_string(),
                started.elapsed(),
            );
        } else {
            if let Err(e) = io.type_in(args.chars.as_bytes()).await {
                return ToolOutput::failure(
                    format!("failed to write to stdin: {e}"),
                    started.elapsed(),
                );
            }
            let asked = args.yield_time_ms.unwrap_or(WRITE_YIELD_MS);
            asked.clamp(MIN_YIELD_MS, MAX_YIELD_MS)
        };
        let mut answer = self
            .wait(
                args.session_id,
                &io,
                waited,
                sink,
                &cancel,
                args.max_output_tokens,
            )
            .await;
        answer.duration = started.elapsed();
        answer
    }

    /// Waits `waited` ms or until the session ends, showing its output on `sink` meanwhile,
    /// then answers with what it printed; an ended session is gone after this.
    async fn wait(
        &self,
        id: i64,
        io: &Io,
        waited: u64,
        sink: &OutputSink,
        cancel: &CancellationToken,
        max_output_tokens: Option<usize>,
    ) -> ToolOutput {
        let started = Instant::now();
        io.watch(sink);
        let deadline = tokio::time::Instant::now() + Duration::from_millis(waited);
        let cancelled = tokio::select! {
            biased;
            () = cancel.cancelled() => true,
            () = io.until_ended_or(deadline) => false,
        };
        io.unwatch();
        if cancelled {
            // A command the person stopped mid-wait is ended, not left running unseen.
            self.stop(Some(id));
            return ToolOutput {
                cancelled: true,
                ..ToolOutput::failure(
                    "Command cancelled by the user; its process group was killed.".to_string(),
                    started.elapsed(),
                )
            };
        }
        let (output, total) = io.take_unread();
        let ending = io.ending();
        let tmp_note = {
            let mut store = self.store();
            if ending.is_some() {
                store.sessions.remove(&id);
            }
            store.tmp_note.take()
        };
        let budget = max_output_tokens.unwrap_or(DEFAULT_MAX_OUTPUT_TOKENS);
        let mut text = model_text(id, ending.as_ref(), &output, total, budget, started);
        if let Some(note) = tmp_note {
            text = format!("Note: {note}\n{text}");
        }
        let outcome = ShellOutcome {
            exit_code: ending.as_ref().and_then(|e| e.exit_code),
            signal: ending.as_ref().and_then(|e| e.signal),
            duration: ending.as_ref().map_or(started.elapsed(), |e| e.duration),
            timed_out: false,
            cancelled: false,
            killed_leftovers: ending.as_ref().is_some_and(|e| e.killed_leftovers),
            output,
            total_bytes: total,
            sandbox_block: ending.as_ref().and_then(|e| e.sandbox_block.clone()),
            network_refused_by_person: ending.as_ref().is_some_and(|e| e.network_refused_by_person),
            set_aside: ending.as_ref().and_then(|e| e.set_aside.clone()),
            runs_later: ending.as_ref().and_then(|e| e.runs_later.clone()),
        };
        if ending.is_none() {
            sink.emit(
                super::OutputStream::Stderr,
                format!("{STILL_RUNNING}{id} (/ps lists it, /stop {id} ends it)").as_bytes(),
            );
        }
        ToolOutput {
            text,
            // Running on is no failure; an end is judged by its exit code.
            success: ending.as_ref().is_none_or(|e| e.exit_code == Some(0)),
            exit_code: outcome.exit_code,
            duration: started.elapsed(),
            timed_out: false,
            cancelled: false,
            detail: ToolDetail::Shell(outcome),
        }
    }

    /// Holds the private `/tmp` to `cap` every [`TMP_CHECK`] for as long as sessions run (one
    /// task per conversation's terminals, gone with them); what it emptied is told at the next
    /// poll.
    fn watch_tmp(&self, cap: u64) {
        {
            let mut store = self.store();
            store.tmp_cap = cap;
            if std::mem::replace(&mut store.watching_tmp, true) {
                return;
            }
        }
        let store = Arc::downgrade(&self.0);
        crate::task::spawn(async move {
            loop {
                tokio::time::sleep(TMP_CHECK).await;
                let Some(terminals) = store.upgrade().map(Terminals) else {
                    return;
                };
                let cap = {
                    let mut held = terminals.store();
                    if held.sessions.is_empty() {
                        held.watching_tmp = false;
                        return;
                    }
                    held.tmp_cap
                };
                let hold = move || crate::sandbox::hold_private_tmp_to(cap);
                if let Ok(Some(note)) = tokio::task::spawn_blocking(hold).await {
                    terminals.store().tmp_note = Some(note);
                }
            }
        });
    }

    /// Ends the least recently used session when another would pass the limit, sparing the
    /// most recent ones and preferring one that has ended; what the model is told of it.
    fn make_room(&self) -> Option<String> {
        let mut store = self.store();
        let limit = store.limit.unwrap_or(DEFAULT_LIMIT);
        if store.sessions.len() < limit {
            return None;
        }
        let mut by_use: Vec<(i64, Instant, bool)> = store
            .sessions
            .iter()
            .map(|(id, s)| (*id, s.last_used, s.io.ending().is_some()))
            .collect();
        by_use.sort_by_key(|(_, used, _)| *used);
        let spared = by_use.len().saturating_sub(KEPT_RECENT).max(1);
        let candidates = &by_use[..spared.min(by_use.len())];
        let (id, _, _) = candidates
            .iter()
            .find(|(_, _, ended)| *ended)
            .or_else(|| candidates.first())?;
        let session = store.sessions.remove(id)?;
        Some(format!(
            "background terminal {id} (`{}`) was ended to make room: at most {limit} run at once (max_background_terminals)",
            crate::tools::one_line(&session.command)
        ))
    }
}

/// The answer in Codex's words: a chunk id, the wall time, how it stands, then its output,
/// cut to `budget` tokens (its head and tail, a note between).
fn model_text(
    id: i64,
    ending: Option<&Ending>,
    output: &str,
    total: u64,
    budget: usize,
    started: Instant,
) -> String {
    let mut text = format!(
        "Chunk ID: {}\nWall time: {:.4} seconds\n",
        chunk_id(),
        started.elapsed().as_secs_f64()
    );
    match ending {
        Some(ending) => {
            let code = ending
                .exit_code
                .or(ending.signal.map(|signal| 128 + signal))
                .unwrap_or(-1);
            text.push_str(&format!("Process exited with code {code}\n"));
        }
        None => text.push_str(&format!("Process running with session ID {id}\n")),
    }
    let max_bytes = budget.saturating_mul(4);
    let shown = if output.len() > max_bytes {
        text.push_str(&format!("Original token count: {}\n", total.div_ceil(4)));
        cut_middle(output, max_bytes)
    } else {
        output.to_string()
    };
    if let Some(ending) = ending {
        let notes = [
            ending.killed_leftovers.then(|| {
                "background processes still holding the output open after exit were killed"
                    .to_string()
            }),
            ending.sandbox_block.clone().map(|block| {
                format!("{block}. Do the work as the sandbox allows, or ask the user")
            }),
            ending.runs_later.clone(),
            ending.set_aside.clone(),
        ];
        for note in notes.into_iter().flatten() {
            text.push_str(&format!("Note: {note}.\n"));
        }
    }
    text.push_str("Output:\n");
    text.push_str(&shown);
    text
}

/// The first and last halves of `max_bytes` of `text`, whole characters, a note between.
fn cut_middle(text: &str, max_bytes: usize) -> String {
    let half = max_bytes / 2;
    let mut head_end = half.min(text.len());
    while !text.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = text.len().saturating_sub(half).max(head_end);
    while !text.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    let cut = tail_start - head_end;
    format!(
        "{}\n[… {cut} bytes cut …]\n{}",
        &text[..head_end],
        &text[tail_start..]
    )
}

/// Six hex digits, as Codex's chunk ids.
fn chunk_id() -> String {
    let bytes = crate::random::bytes::<3>().unwrap_or_default();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
