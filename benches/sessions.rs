//! Listing saved conversations: 2,000 realistic session files, timed cold-cache-free (the OS
//! caches them after creation, as it would on a machine in daily use).
//!
//! `cargo bench --bench sessions` prints the median of several runs for each way kelp lists.

// Test, bench and fixture code: a failed unwrap is a failed run, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use kelp::llm::types::{Item, ReasoningSummary};
use kelp::session::{self, SessionHeader, SessionWriter};

const SESSIONS: usize = 2_000;
const PROJECTS: usize = 12;
const RUNS: usize = 9;

fn main() {
    // Only `cargo bench` runs this; `cargo nextest run --all-targets` lists every target's tests
    // by running it, and would choke on the figures.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let state = tempfile::tempdir().expect("a temp dir");
    let started = Instant::now();
    let mut bytes = 0u64;
    for n in 0..SESSIONS {
        bytes += write_session(state.path(), n);
    }
    println!(
        "created {SESSIONS} sessions ({:.1} MiB) in {:.1?}",
        bytes as f64 / 1024.0 / 1024.0,
        started.elapsed()
    );

    let project = project(3);
    let some_id = session::list_sessions(state.path(), None)
        .nth(SESSIONS / 2)
        .expect("a session")
        .id
        .to_string();
    report("list all, newest first", || {
        session::list_sessions(state.path(), None).count()
    });
    report("list one project", || {
        session::list_sessions(state.path(), Some(Path::new(&project))).count()
    });
    report("first 20 of one project (the picker)", || {
        session::list_sessions(state.path(), Some(Path::new(&project)))
            .take(20)
            .count()
    });
    report("latest for a project (--continue)", || {
        usize::from(session::latest_for(state.path(), Path::new(&project)).is_some())
    });
    report("find by an 8-character id prefix", || {
        usize::from(session::find(state.path(), &some_id[..8]).is_ok())
    });
}

fn project(n: usize) -> String {
    format!("/home/dev/src/project-{n}")
}

/// One conversation of a realistic shape: instructions, a few turns of prompts, reasoning with
/// encrypted content, tool calls with outputs of a few KiB, and answers.
fn write_session(state: &Path, n: usize) -> u64 {
    let mut header = SessionHeader::new(project(n % PROJECTS), "gpt-5.5");
    header.started_at -= chrono::Duration::minutes((n * 97) as i64);
    let mut writer = SessionWriter::create(state, header);
    let mut append = |item: Item| writer.append(&item).expect("append");
    append(Item::user_text(format!(
        "# AGENTS.md instructions for {}\n\n<INSTRUCTIONS>\n{}\n</INSTRUCTIONS>",
        project(n % PROJECTS),
        "Run cargo fmt and clippy before you finish. ".repeat(20)
    )));
    let turns = 1 + n % 6;
    for turn in 0..turns {
        append(Item::user_text(format!(
            "Turn {turn}: please look at src/module_{n}.rs and fix the failing test; {}",
            "it started after the refactor. ".repeat(1 + n % 4)
        )));
        append(Item::Reasoning {
            summary: vec![ReasoningSummary {
                kind: "summary_text".into(),
                text: "**Inspecting the module** before editing".into(),
            }],
            encrypted_content: Some("gAAAAABpQ".repeat(150)),
        });
        for call in 0..3 {
            let call_id = format!("call_{n}_{turn}_{call}");
            append(Item::FunctionCall {
                name: "shell".into(),
                arguments: format!(r#"{{"command":["rg","-n","fn parse","src/"],"call":{call}}}"#),
                call_id: call_id.clone(),
                namespace: None,
            });
            append(Item::FunctionCallOutput {
                call_id,
                output: "src/parser.rs:42:    fn parse(&mut self) -> Result<Ast, Error> {\n"
                    .repeat(20 + (n + call) % 40)
                    .into(),
            });
        }
        append(Item::assistant_text(
            "I fixed the off-by-one in the lexer and the test passes now. ".repeat(8),
        ));
    }
    let path = writer.path().expect("written").to_path_buf();
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn report(what: &str, mut run: impl FnMut() -> usize) {
    let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
    let mut found = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        found = std::hint::black_box(run());
        times.push(start.elapsed());
    }
    times.sort();
    println!(
        "{what:<40} median {:>10.2?}  (min {:.2?}, max {:.2?}, {found} found, {RUNS} runs)",
        times[RUNS / 2],
        times[0],
        times[RUNS - 1]
    );
}
