//! TUI benchmarks: `cargo bench --bench tui`.
//!
//! - frame: drawing a frame (TestBackend, 120×40) with 10 and with 10,000 messages;
//! - stream: 1 MiB of Markdown in 16-byte deltas applied and drawn, frames every 64 deltas;
//! - keystroke: a key press and the frame that echoes it, with 10,000 messages, idle and while
//!   an answer streams;
//! - restore: a resumed conversation of 10,000 items shown and its first frame drawn;
//! - launch: the real binary in a pseudo-terminal, from spawn to the first frame with the
//!   composer (median of 20), then its idle RSS and whether it writes anything while idle.
//!
//! These measure; they do not assert timings (the machine's load is not ours to control).

#[allow(dead_code)]
#[path = "../tests/support/pty.rs"]
mod pty;

use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use kelp::agent::protocol::{AuthSummary, Event, Op, TurnOutcome};
use kelp::llm::types::Item;
use kelp::tui::{App, InitialState};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

const ANSWER: &str = "Here is what I found in `src/parser.rs`:\n\n- the header is read **twice**\n- errors lose their *line number*\n\n```rust\nfn parse(input: &str) -> Result<Header, Error> {\n    let line = input.lines().next().ok_or(Error::Empty)?;\n    Header::from_line(line)\n}\n```\n\nI would fix the second one first.\n";

fn new_app() -> (App, UnboundedReceiver<Op>) {
    let (tx, rx) = unbounded_channel();
    let app = App::new(
        tx,
        InitialState {
            auth: Some(AuthSummary::ApiKey {
                masked: "sk-…abcd".into(),
            }),
            model: "gpt-5.5".into(),
            project_dir: "/work/project".into(),
            approval_mode: Default::default(),
            headless: false,
            warning: None,
        },
    );
    (app, rx)
}

fn press(app: &mut App, code: KeyCode) {
    app.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
}

/// An app with `messages` transcript cells (prompts and answers alternating).
fn app_with(messages: usize) -> (App, UnboundedReceiver<Op>) {
    let (mut app, mut rx) = new_app();
    for i in 0..messages / 2 {
        app.handle_terminal_event(TermEvent::Paste(format!(
            "question {i}: what does parse do?"
        )));
        press(&mut app, KeyCode::Enter);
        app.handle_core_event(Event::TurnStarted);
        app.handle_core_event(Event::MessageDone(ANSWER.to_string()));
        app.handle_core_event(Event::TurnFinished(TurnOutcome::Completed));
        while rx.try_recv().is_ok() {}
    }
    (app, rx)
}

struct Stats {
    median: Duration,
    p99: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Stats {
        median: at(0.5),
        p99: at(0.99),
    }
}

fn terminal() -> Terminal<TestBackend> {
    Terminal::new(TestBackend::new(120, 40)).expect("test backend")
}

fn bench_frames(messages: usize) -> Stats {
    let (mut app, _rx) = app_with(messages);
    let mut term = terminal();
    for _ in 0..50 {
        term.draw(|f| app.render(f)).expect("draw");
    }
    let mut samples = Vec::new();
    for _ in 0..2000 {
        let start = Instant::now();
        term.draw(|f| app.render(f)).expect("draw");
        samples.push(start.elapsed());
    }
    stats(samples)
}

/// Restoring `items` history items (prompts and answers alternating) and drawing the first
/// frame, median of 20.
fn bench_restore(items: usize) -> Stats {
    let history: Vec<Item> = (0..items)
        .map(|i| match i % 2 {
            0 => Item::user_text(format!("question {i}: what does parse do?")),
            _ => Item::assistant_text(ANSWER),
        })
        .collect();
    let mut samples = Vec::new();
    for _ in 0..20 {
        let (mut app, _rx) = new_app();
        let mut term = terminal();
        let event = Event::Restored {
            items: history.clone(),
        };
        let start = Instant::now();
        app.handle_core_event(event);
        term.draw(|f| app.render(f)).expect("draw");
        samples.push(start.elapsed());
    }
    stats(samples)
}

fn markdown_mib() -> String {
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 1 << 20 {
        text.push_str(&format!(
            "### Part {i}\n\nThis paragraph explains step {i} with `code`, **bold** and a [link](https://example.com/{i}).\n\n- item one of {i}\n- item two of {i}\n\n```rust\nlet value_{i} = compute({i});\n```\n\n"
        ));
        i += 1;
    }
    text.truncate(1 << 20);
    text
}

fn bench_stream() -> (Duration, usize) {
    let text = markdown_mib();
    let (mut app, _rx) = new_app();
    let mut term = terminal();
    let start = Instant::now();
    app.handle_core_event(Event::TurnStarted);
    let mut frames = 0;
    for (n, chunk) in text.as_bytes().chunks(16).enumerate() {
        app.handle_core_event(Event::TextDelta(
            String::from_utf8_lossy(chunk).into_owned(),
        ));
        if n % 64 == 63 {
            term.draw(|f| app.render(f)).expect("draw");
            frames += 1;
        }
    }
    term.draw(|f| app.render(f)).expect("draw");
    let elapsed = start.elapsed();
    let screen = term.backend().to_string();
    // The last word, without Markdown marks, must be on screen: the stream is fully drawn.
    let last_word = text.split_whitespace().last().unwrap_or_default();
    let last_word = last_word.trim_matches(|c: char| "`*#_[]()".contains(c));
    assert!(
        screen.contains(last_word),
        "the end of the stream ({last_word:?}) is on screen:\n{screen}"
    );
    (elapsed, frames + 1)
}

fn bench_keystrokes(streaming: bool) -> Stats {
    let (mut app, _rx) = app_with(10_000);
    let mut term = terminal();
    if streaming {
        app.handle_core_event(Event::TurnStarted);
    }
    term.draw(|f| app.render(f)).expect("draw");
    let mut samples = Vec::new();
    for i in 0..2000 {
        if streaming {
            // A delta arrived since the last frame, as it would mid-answer.
            app.handle_core_event(Event::TextDelta(format!("word{i} ")));
        }
        let start = Instant::now();
        press(&mut app, KeyCode::Char('x'));
        term.draw(|f| app.render(f)).expect("draw");
        samples.push(start.elapsed());
        if i % 200 == 199 {
            app.handle_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
        }
    }
    stats(samples)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn bench_launch() {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_kelp"));
    let home = tempfile::tempdir().expect("temp home");
    let env = [("OPENAI_API_KEY", "sk-bench-000000000001234")];
    let mut samples = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let mut kelp = pty::Pty::spawn(bin, &[], home.path(), &env, 100, 30);
        kelp.wait_for("Ask anything", Duration::from_secs(10));
        samples.push(start.elapsed());
        kelp.send("\x04");
        kelp.wait_exit(Duration::from_secs(10));
    }
    let s = stats(samples);
    println!(
        "launch to first frame (pty, 20 launches): median {:.1} ms, p99 {:.1} ms",
        ms(s.median),
        ms(s.p99)
    );

    let mut kelp = pty::Pty::spawn(bin, &[], home.path(), &env, 100, 30);
    kelp.wait_for("Ask anything", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(500));
    let before = kelp.output().len();
    std::thread::sleep(Duration::from_secs(3));
    let written = kelp.output().len() - before;
    let rss = kelp.pid().and_then(rss_kib);
    println!(
        "idle: {written} bytes written to the terminal in 3 s; RSS {}",
        rss.map_or("unknown".into(), |k| format!(
            "{:.1} MiB",
            k as f64 / 1024.0
        ))
    );
    kelp.send("\x04");
    kelp.wait_exit(Duration::from_secs(10));
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    // The syntax set loads in the background in the app; load it here so no sample pays for it.
    kelp::tui::highlight::load_now();
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let run = |name: &str| only.as_deref().is_none_or(|o| name.contains(o));

    if run("frame") {
        for messages in [10, 10_000] {
            let s = bench_frames(messages);
            println!(
                "frame draw, {messages:>6} messages (120×40): median {:.3} ms, p99 {:.3} ms",
                ms(s.median),
                ms(s.p99)
            );
        }
    }
    if run("stream") {
        let (elapsed, frames) = bench_stream();
        println!(
            "stream 1 MiB in 16-byte deltas, {frames} frames: {:.0} ms in all",
            ms(elapsed)
        );
    }
    if run("keystroke") {
        for streaming in [false, true] {
            let s = bench_keystrokes(streaming);
            let label = if streaming { "while streaming" } else { "idle" };
            println!(
                "keystroke to frame, 10,000 messages, {label}: median {:.3} ms, p99 {:.3} ms",
                ms(s.median),
                ms(s.p99)
            );
        }
    }
    if run("restore") {
        let s = bench_restore(10_000);
        println!(
            "restore 10,000 history items and draw (120×40): median {:.3} ms, p99 {:.3} ms",
            ms(s.median),
            ms(s.p99)
        );
    }
    if run("launch") {
        bench_launch();
    }
}
