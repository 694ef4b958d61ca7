//! Searching every conversation by what was said in it: `cargo bench --bench search`.
//!
//! Writes 1,000 conversations of some 5 MiB each (5 GiB in all: 20 turns of a prompt, three
//! commands with 80 KiB of output each, and an answer; `KELP_BENCH_SEARCH_SESSIONS` makes it
//! fewer), then:
//! - the first search, with no said file kept yet (each made from its conversation), and the said
//!   files' size against the conversations';
//! - a rare word (said once, in the oldest conversation, so every said file is read): the
//!   median of 9, in-process;
//! - a common word (in every answer): how long to the first conversation found, as
//!   `thread/search/stream` sends its first partial (median of 9);
//! - `kelp sessions --grep RARE --all`, the real binary: its time and its peak memory;
//! - a turn's end: bringing a said file up to date after a turn of 240 KiB (median of 20).
//!
//! These measure; they do not assert timings.

// Test, bench and fixture code: a failed unwrap is a failed run, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kelp::llm::types::Item;
use kelp::session::{self, SessionHeader, SessionWriter, said};
use support::median;

const RARE: &str = "zyxwvutsrq";
const COMMON: &str = "handshake";
const TURNS: usize = 20;

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let sessions: usize = std::env::var("KELP_BENCH_SEARCH_SESSIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000);
    let home = tempfile::tempdir().expect("a temp home");
    let state = home.path().join(".local/state/kelp");
    let started = Instant::now();
    let mut paths = Vec::with_capacity(sessions);
    let mut bytes = 0u64;
    for n in 0..sessions {
        let path = write_conversation(&state, n, sessions);
        bytes += std::fs::metadata(&path).unwrap().len();
        paths.push(path);
    }
    println!(
        "wrote {sessions} conversations, {:.2} GiB, in {:.1?}",
        gib(bytes),
        started.elapsed()
    );
    let root = session::sessions_dir(&state);

    let cold = Instant::now();
    let found = count(&root, RARE);
    println!(
        "first search, every said file made      {:>10.2?}  ({found} found)",
        cold.elapsed()
    );
    let said_bytes: u64 = paths
        .iter()
        .map(|p| std::fs::metadata(said::said_path(p)).map_or(0, |m| m.len()))
        .sum();
    println!(
        "said files: {:.1} MiB, {:.2} % of the conversations",
        said_bytes as f64 / 1024.0 / 1024.0,
        said_bytes as f64 * 100.0 / bytes as f64
    );

    let rare = timed(9, || count(&root, RARE));
    println!("rare word, every conversation read       median {rare:>10.2?}");
    let first = timed(9, || {
        let mut found = 0;
        said::search(&root, None, COMMON, |_, _| {
            found += 1;
            false
        });
        found
    });
    println!("common word, to the first found          median {first:>10.2?}");

    let mut walls = Vec::new();
    let mut peak_kb = 0;
    for _ in 0..5 {
        let (wall, kb) = grep_with_the_binary(home.path());
        walls.push(wall);
        peak_kb = peak_kb.max(kb);
    }
    println!(
        "kelp sessions --grep RARE --all          median {:>10.2?}  peak {:.1} MiB",
        median(walls),
        peak_kb as f64 / 1024.0
    );

    let last = paths.last().unwrap();
    let mut ends = Vec::new();
    for turn in 0..20 {
        let mut writer = SessionWriter::reopen(last).unwrap();
        write_turn(&mut writer, sessions, turn);
        drop(writer);
        let start = Instant::now();
        said::bring_up_to_date(last).unwrap();
        ends.push(start.elapsed());
    }
    println!(
        "a turn's end, its said lines kept        median {:>10.2?}",
        median(ends)
    );
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / 1024.0 / 1024.0 / 1024.0
}

/// How many conversations under `root` say `term`.
fn count(root: &Path, term: &str) -> usize {
    let mut found = 0;
    said::search(root, None, term, |_, _| {
        found += 1;
        true
    });
    found
}

fn timed(runs: usize, mut run: impl FnMut() -> usize) -> Duration {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        std::hint::black_box(run());
        times.push(start.elapsed());
    }
    median(times)
}

/// `kelp sessions --grep RARE --all` over the conversations in `home`: its wall time and peak
/// resident memory (kB, from the kernel's accounting of the child).
// The child is reaped by `wait4`, which gives its peak memory as `wait` cannot.
#[allow(clippy::zombie_processes)]
fn grep_with_the_binary(home: &Path) -> (Duration, u64) {
    let start = Instant::now();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_kelp"))
        .args(["sessions", "--grep", RARE, "--all"])
        .env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, with pointers to live locals.
    let waited = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(waited, child.id() as i32);
    (start.elapsed(), usage.ru_maxrss as u64)
}

/// Conversation `n` of `of`: 20 turns; the oldest says the rare word once.
fn write_conversation(state: &Path, n: usize, of: usize) -> PathBuf {
    let mut header = SessionHeader::new(format!("/home/dev/src/project-{}", n % 12), "gpt-5.5");
    header.started_at -= chrono::Duration::minutes(((of - n) * 7) as i64);
    let mut writer = SessionWriter::create(state, header);
    if n == 0 {
        writer
            .append(&Item::user_text(format!("where did {RARE} come from?")))
            .unwrap();
    }
    for turn in 0..TURNS {
        write_turn(&mut writer, n, turn);
    }
    writer.path().unwrap().to_path_buf()
}

/// One turn of some 240 KiB: a prompt, three commands with 80 KiB of output each, an answer.
fn write_turn(writer: &mut SessionWriter, n: usize, turn: usize) {
    let mut append = |item: Item| writer.append(&item).unwrap();
    append(Item::user_text(format!(
        "Turn {turn}: look at src/module_{n}.rs, the parser test fails since the refactor"
    )));
    for call in 0..3 {
        let call_id = format!("call_{n}_{turn}_{call}");
        append(Item::FunctionCall {
            name: "shell".into(),
            arguments: format!(r#"{{"command":["rg","-n","fn parse_{call}","src/"]}}"#),
            call_id: call_id.clone(),
            namespace: None,
        });
        append(Item::FunctionCallOutput {
            call_id,
            output: "src/parser.rs:42:    fn parse(&mut self) -> Result<Ast, Error> { todo }\n"
                .repeat(1_100)
                .into(),
        });
    }
    append(Item::assistant_text(format!(
        "The {COMMON} in module {n} now retries once; the parser test passes. {}",
        "The lexer kept its offsets. ".repeat(10)
    )));
}
