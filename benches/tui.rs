//! TUI benchmarks: `cargo bench --bench tui`.
//!
//! - frame: drawing a frame (TestBackend, 120×40) with 10 and with 10,000 messages;
//! - stream: 1 MiB of Markdown in 16-byte deltas applied and drawn, frames every 64 deltas;
//! - keystroke: a key press and the frame that echoes it, with 10,000 messages, idle and while
//!   an answer streams;
//! - finder: the `@` file finder over 100,000 paths: each keystroke of a mention and the frame
//!   that shows it (the frame waits for the matcher at most 8 ms), and how many of those frames
//!   showed their keystroke's final results rather than the previous ones;
//! - restore: a resumed conversation of 10,000 items shown and its first frame drawn;
//! - long-run: one client through 2,000 turns of a 20 KB command output each: resident memory
//!   after 500 turns and after 2,000 (bounded: the oldest turns leave the transcript);
//! - launch: the real binary in a pseudo-terminal, from spawn to the first frame with the
//!   composer (median of 20), then its idle RSS and whether it writes anything while idle;
//! - realistic: the real binary in a pseudo-terminal against the fake OpenAI server: CPU (% of
//!   one core) and terminal bytes while a ~5 s answer streams at ~200 deltas/s (median of 3),
//!   then the time from the fake writing the last delta of a short answer to its last word on
//!   screen (median of 10).
//! - open-block: the real binary in a pseudo-terminal against the fake: one answer of 16-byte
//!   deltas with no blank line (one open paragraph, and one open code fence), 0.5, 1 and 2 MiB,
//!   from the prompt to its last line on screen, median of 3 each; linear growth means
//!   2 MiB / 0.5 MiB ≈ 4.
//!
//! These measure; they do not assert timings (the machine's load is not ours to control).

// Test, bench and fixture code: a failed unwrap is a failed run, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "../tests/support/pty.rs"]
mod pty;

#[path = "../tests/support/fake_openai/mod.rs"]
mod fake_openai;
mod support;

use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use kelp::llm::types::Item;
use kelp::protocol::{AuthSummary, Event, Op, TurnOutcome};
use kelp::tui::{App, InitialState};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use support::{median, row_filter};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

const ANSWER: &str = "Here is what I found in `src/parser.rs`:\n\n- the header is read **twice**\n- errors lose their *line number*\n\n```rust\nfn parse(input: &str) -> Result<Header, Error> {\n    let line = input.lines().next().ok_or(Error::Empty)?;\n    Header::from_line(line)\n}\n```\n\nI would fix the second one first.\n";

fn new_app() -> (App, UnboundedReceiver<Op>) {
    let (tx, rx) = unbounded_channel();
    let app = App::new(
        tx,
        InitialState {
            provider: None,
            settings_from: Vec::new(),
            auth: Some(AuthSummary::ApiKey {
                masked: "sk-…abcd".into(),
            }),
            model: "gpt-5.5".into(),
            effort: Default::default(),
            service_tier: None,
            project_dir: "/work/project".into(),
            approval_mode: Default::default(),
            sandbox: "workspace-write, no network (Landlock ABI 7)".into(),
            headless: false,
            warning: None,
            mouse: false,
            pick_session: false,
            fork_picked: false,
            ask_trust: None,
            prompt: None,
            config_file: "/home/ana/.config/kelp/config.toml".into(),
            state_dir: "/home/ana/.local/state/kelp".into(),
            images: Vec::new(),
            server: None,
            notice: None,
            resuming: false,
            open_agents: false,
            came_from: None,
            project_waiting: Vec::new(),
            surfaces: Default::default(),
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
        app.handle_core_event(Event::TurnStarted { id: "u1".into() });
        app.handle_core_event(Event::MessageDone {
            item: format!("msg_{i}").into(),
            text: ANSWER.to_string(),
        });
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

/// This process's resident memory, in kB.
fn rss_kb() -> u64 {
    support::status_kb("self", "VmRSS")
}

/// One long run in one client: 2,000 turns, each a prompt, a command with 20 KB of output and
/// an answer, a frame drawn after each; resident memory after 500 turns and after 2,000.
fn bench_long_run() -> (u64, u64) {
    let (mut app, mut rx) = new_app();
    let mut term = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
    let output = format!("{}\n", "x".repeat(79)).repeat(250);
    let mut at_500 = 0;
    for turn in 0..2_000 {
        app.handle_terminal_event(TermEvent::Paste(format!("turn {turn}: run the tests")));
        press(&mut app, KeyCode::Enter);
        app.handle_core_event(Event::TurnStarted {
            id: format!("t-{turn}"),
        });
        let call_id = format!("c{turn}");
        app.handle_core_event(Event::ToolStarted {
            call_id: call_id.clone(),
            tool: "shell".into(),
            summary: "cargo test".into(),
            paths: Vec::new(),
            facts: None,
        });
        app.handle_core_event(Event::ToolOutput {
            call_id: call_id.clone(),
            chunk: output.clone(),
        });
        app.handle_core_event(Event::ToolFinished {
            call_id,
            success: true,
            exit_code: Some(0),
            duration: Duration::from_millis(1200),
        });
        app.handle_core_event(Event::MessageDone {
            item: format!("msg_{turn}").into(),
            text: ANSWER.to_string(),
        });
        app.handle_core_event(Event::TurnFinished(TurnOutcome::Completed));
        term.draw(|f| app.render(f)).expect("draw");
        while rx.try_recv().is_ok() {}
        if turn == 499 {
            at_500 = rss_kb();
        }
    }
    (at_500, rss_kb())
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

/// Restoring `items` history items (prompts and answers alternating): replaying them and
/// drawing the first frame, median of 20.
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
        let start = Instant::now();
        let event = Event::Reply(kelp::protocol::Reply::Restored(Box::new(
            kelp::agent::replay::replay(&history, &[], std::path::Path::new("/p")),
        )));
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
    app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    let item: kelp::protocol::ItemId = "msg_stream".into();
    let mut frames = 0;
    for (n, chunk) in text.as_bytes().chunks(16).enumerate() {
        app.handle_core_event(Event::TextDelta {
            item: item.clone(),
            delta: String::from_utf8_lossy(chunk).into_owned(),
        });
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
        app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    }
    term.draw(|f| app.render(f)).expect("draw");
    let item: kelp::protocol::ItemId = "msg_typing".into();
    let mut samples = Vec::new();
    for i in 0..2000 {
        if streaming {
            // A delta arrived since the last frame, as it would mid-answer.
            app.handle_core_event(Event::TextDelta {
                item: item.clone(),
                delta: format!("word{i} "),
            });
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
    Some(support::status_kb(pid, "VmRSS")).filter(|kb| *kb > 0)
}

fn bench_launch() {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_kelp"));
    let home = tempfile::tempdir().expect("temp home");
    let env = [("OPENAI_API_KEY", "sk-bench-000000000001234")];
    // The terminal's answer to the background query at once, and a round trip over SSH later
    // (100 ms a leg): the first frame waits for neither.
    for (terminal, delay) in [("answering at once", "0"), ("answering in 200 ms", "200")] {
        let env = [
            env[0],
            (pty::BACKGROUND, "rgb:ffff/ffff/ffff"),
            (pty::ANSWER_DELAY_MS, delay),
        ];
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
            "launch to first frame (pty, 20 launches, the terminal {terminal}): median {:.1} ms, p99 {:.1} ms",
            ms(s.median),
            ms(s.p99)
        );
    }

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

/// User plus system CPU time of `pid` so far.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it are space-separated.
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    // utime and stime are fields 14 and 15 of stat(5); fields[0] is field 3.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let per_second = u64::try_from(per_second).ok().filter(|&t| t > 0)?;
    Some(Duration::from_micros(ticks * 1_000_000 / per_second))
}

/// About `bytes` of Markdown prose ending with `marker` (which appears nowhere else).
fn answer_ending_with(bytes: usize, marker: &str) -> String {
    let mut text = String::new();
    let mut i = 0;
    while text.len() < bytes {
        text.push_str(&format!(
            "Step {i} reads the `header` of the file, checks **each** field and keeps the line number for errors.\n\n"
        ));
        i += 1;
    }
    text.truncate(bytes);
    text.push_str(&format!("\n\nDone: {marker}"));
    text
}

/// The real binary at 120×40 in a pty, logged in with an API key against a fresh fake, with its
/// composer up. The runtime serves the fake for as long as it is kept.
fn kelp_against_fake() -> (
    fake_openai::FakeOpenAi,
    pty::Pty,
    tempfile::TempDir,
    tokio::runtime::Runtime,
) {
    kelp_against_fake_with(None)
}

/// [`kelp_against_fake`] with `config` as kelp's `config.toml`.
fn kelp_against_fake_with(
    config: Option<&str>,
) -> (
    fake_openai::FakeOpenAi,
    pty::Pty,
    tempfile::TempDir,
    tokio::runtime::Runtime,
) {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let fake = rt.block_on(fake_openai::FakeOpenAi::start());
    let key = fake.api_key();
    let fake_env = fake.env();
    let mut env: Vec<(&str, &str)> = vec![("OPENAI_API_KEY", &key)];
    env.extend(fake_env.iter().map(|(k, v)| (*k, v.as_str())));
    let home = tempfile::tempdir().expect("temp home");
    // The folder is trusted already: the first start's question would take the first Enter.
    let trusted = format!(
        "[projects.{:?}]\ntrust_level = \"trusted\"\n",
        home.path().canonicalize().expect("the home folder")
    );
    let dir = home.path().join(".config/kelp");
    std::fs::create_dir_all(&dir).expect("config folder");
    let text = format!("{}{trusted}", config.unwrap_or(""));
    std::fs::write(dir.join("config.toml"), text).expect("config written");
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_kelp"));
    let kelp = pty::Pty::spawn(bin, &[], home.path(), &env, 120, 40);
    kelp.wait_for("Ask anything", Duration::from_secs(10));
    (fake, kelp, home, rt)
}

fn bench_realistic() {
    use fake_openai::Reply;
    let (fake, mut kelp, _home, _rt) = kelp_against_fake();
    let pid = kelp.pid().expect("kelp's pid");
    let mut turn = 0;
    // Sends a prompt, waits for `marker` on screen and for the stream's end, then lets the turn
    // settle so the next prompt starts from an idle app.
    let mut ask = |kelp: &mut pty::Pty, reply: Reply, marker: &str| {
        turn += 1;
        fake.push_response(reply);
        let before_end = fake.last_stream_end();
        kelp.send(&format!("question {turn}: what does parse do?\r"));
        let start = Instant::now();
        kelp.wait_until(
            |screen| screen.contains(marker),
            Duration::from_secs(30),
            marker,
        );
        let on_screen = Instant::now();
        while fake.last_stream_end() == before_end {
            assert!(start.elapsed() < Duration::from_secs(30), "the stream ends");
            std::thread::sleep(Duration::from_millis(1));
        }
        (start, on_screen)
    };

    // 1. CPU while a ~16 KB answer streams as 16-byte deltas, 5 ms apart.
    let (mut cpu, mut bytes, mut rates) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..3 {
        let marker = format!("cpu-marker-{run}");
        let text = answer_ending_with(16_000, &marker);
        let deltas = text.len().div_ceil(16);
        let reply = Reply::text(text)
            .delta_chars(16)
            .delay(Duration::from_millis(5));
        let cpu_before = cpu_time(pid).expect("kelp's CPU time");
        let written_before = kelp.output().len();
        let (start, _) = ask(&mut kelp, reply, &marker);
        let wall = start.elapsed();
        let used = cpu_time(pid).expect("kelp's CPU time") - cpu_before;
        cpu.push(used.as_secs_f64() / wall.as_secs_f64() * 100.0);
        bytes.push((kelp.output().len() - written_before) as f64);
        rates.push(deltas as f64 / wall.as_secs_f64());
        std::thread::sleep(Duration::from_millis(300));
    }
    println!(
        "streaming ~16 KB at {:.0} deltas/s (pty, median of 3): kelp CPU {:.1}% of one core, {:.0} KiB written to the terminal",
        median(rates),
        median(cpu),
        median(bytes) / 1024.0
    );

    // 2. Last byte to screen: short streamed answers whose last delta ends with a marker.
    let (mut from_delta, mut from_end) = (Vec::new(), Vec::new());
    for run in 0..10 {
        let marker = format!("latency-marker-{run}");
        let reply = Reply::text(answer_ending_with(600, &marker))
            .delta_chars(16)
            .delay(Duration::from_millis(5));
        let (_, on_screen) = ask(&mut kelp, reply, &marker);
        let last_delta = fake.last_delta_written().expect("a delta was written");
        let end = fake.last_stream_end().expect("the stream ended");
        // Signed: the marker may be on screen before the stream's closing events are written.
        let signed_ms = |from: Instant| match on_screen.checked_duration_since(from) {
            Some(after) => ms(after),
            None => -ms(from - on_screen),
        };
        from_delta.push(signed_ms(last_delta));
        from_end.push(signed_ms(end));
        std::thread::sleep(Duration::from_millis(300));
    }
    println!(
        "last delta written to last word on screen (pty, median of 10): {:.1} ms (stream end to screen: {:.1} ms)",
        median(from_delta),
        median(from_end)
    );
    kelp.send("\x04");
    kelp.wait_exit(Duration::from_secs(10));
    drop(fake);
}

/// Time from sending a prompt to the last line of one open block of `bytes` on screen.
fn bench_open_block() {
    use fake_openai::Reply;
    let (fake, mut kelp, _home, _rt) = kelp_against_fake();
    for (kind, opening) in [("paragraph", ""), ("code fence", "```text\n")] {
        let mut seconds = Vec::new();
        for mib in [0.5f64, 1.0, 2.0] {
            let mut samples = Vec::new();
            for run in 0..3 {
                let bytes = (mib * 1024.0 * 1024.0) as usize;
                let marker = format!("open-block-end-{}-{bytes}-{run}", kind.len());
                let mut text = String::from(opening);
                while text.len() < bytes {
                    text.push_str("kelp streams ok\n");
                }
                text.push_str(&marker);
                let before_end = fake.last_stream_end();
                fake.push_response(Reply::text(text).delta_chars(16));
                kelp.paste(&format!("open block {bytes} {run}"));
                kelp.send("\r");
                let start = Instant::now();
                kelp.wait_until(
                    |screen| screen.contains(&marker),
                    Duration::from_secs(120),
                    &marker,
                );
                samples.push(start.elapsed().as_secs_f64());
                while fake.last_stream_end() == before_end {
                    std::thread::sleep(Duration::from_millis(5));
                }
                std::thread::sleep(Duration::from_millis(300));
            }
            seconds.push(median(samples));
        }
        println!(
            "one open {kind} of 16-byte deltas, prompt to last line on screen (pty, median of 3): 0.5 MiB {:.2} s, 1 MiB {:.2} s, 2 MiB {:.2} s; 2 MiB / 0.5 MiB = {:.1}",
            seconds[0],
            seconds[1],
            seconds[2],
            seconds[2] / seconds[0]
        );
    }
    kelp.send("\x04");
    kelp.wait_exit(Duration::from_secs(10));
    drop(fake);
}

/// 100,000 paths shaped like a large repository's: a few top folders, many modules, files of
/// several kinds.
fn repository_paths() -> Vec<String> {
    let tops = [
        "src",
        "tests",
        "docs",
        "crates/core/src",
        "crates/ui/src",
        "vendor/lib",
        "tools",
    ];
    let modules = [
        "parser", "render", "network", "storage", "auth", "config", "events", "layout", "cache",
        "protocol", "session", "widgets", "input", "output", "queue", "schema", "codec",
    ];
    let words = [
        "handler", "builder", "state", "error", "types", "util", "client", "server", "table",
        "reader", "writer", "index", "stream", "buffer", "message", "worker", "model", "view",
        "composer", "finder", "theme", "frame", "history", "status", "picker", "diff",
    ];
    let exts = ["rs", "md", "toml", "json", "ts", "py"];
    (0..100_000)
        .map(|i| {
            format!(
                "{}/{}/{}_{}/{}_{i}.{}",
                tops[i % tops.len()],
                modules[(i / 7) % modules.len()],
                words[(i / 119) % words.len()],
                i % 13,
                words[(i / 3) % words.len()],
                exts[i % exts.len()],
            )
        })
        .collect()
}

struct FinderStats {
    keys: Stats,
    max: Duration,
    /// Keystrokes whose own frame already showed their final results.
    complete: usize,
    samples: usize,
}

/// Typing mentions into the composer with the finder over 100,000 paths: each key and the frame
/// after it, then a later frame to see whether the first one was already complete.
fn bench_finder() -> FinderStats {
    let (mut app, _rx) = app_with(10);
    app.use_file_finder(kelp::tui::FileFinder::with_files(repository_paths()));
    let mut term = terminal();
    term.draw(|f| app.render(f)).expect("draw");
    let mut samples = Vec::new();
    let mut complete = 0;
    for _ in 0..3 {
        for query in [
            "@composer",
            "@src/render",
            "@docsmsg",
            "@crates/ui/theme_4",
            "@zzz",
        ] {
            for c in query.chars() {
                let start = Instant::now();
                press(&mut app, KeyCode::Char(c));
                term.draw(|f| app.render(f)).expect("draw");
                samples.push(start.elapsed());
                let first = term.backend().buffer().clone();
                std::thread::sleep(Duration::from_millis(60));
                term.draw(|f| app.render(f)).expect("draw");
                if *term.backend().buffer() == first {
                    complete += 1;
                }
            }
            app.handle_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
        }
    }
    let max = samples.iter().copied().max().unwrap_or_default();
    let count = samples.len();
    FinderStats {
        keys: stats(samples),
        max,
        complete,
        samples: count,
    }
}

/// How long the matcher takes to finish the results of one more typed character, over 100,000
/// paths: the finder alone, waiting in 1 ms steps until it is done.
fn bench_finder_settle() -> Stats {
    let mut finder = kelp::tui::FileFinder::with_files(repository_paths());
    while finder.tick_within(1) {}
    let mut samples = Vec::new();
    for _ in 0..3 {
        for query in [
            "composer",
            "src/render",
            "docsmsg",
            "crates/ui/theme_4",
            "zzz",
        ] {
            for end in 1..=query.len() {
                let start = Instant::now();
                finder.set_query(&query[..end]);
                while finder.tick_within(1) {}
                samples.push(start.elapsed());
            }
            finder.set_query("");
            while finder.tick_within(1) {}
        }
    }
    stats(samples)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    // The syntax set loads in the background in the app; load it here so no sample pays for it.
    kelp::tui::highlight::load_now();
    let run = row_filter();

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
    if run("finder") {
        let s = bench_finder();
        println!(
            "@ finder, 100,000 files, keystroke to frame: median {:.3} ms, p99 {:.3} ms, max {:.3} ms; {} of {} frames showed their own results",
            ms(s.keys.median),
            ms(s.keys.p99),
            ms(s.max),
            s.complete,
            s.samples
        );
        let s = bench_finder_settle();
        println!(
            "@ finder, 100,000 files, one more character to complete results: median {:.3} ms, p99 {:.3} ms",
            ms(s.median),
            ms(s.p99)
        );
    }
    if run("restore") {
        let s = bench_restore(10_000);
        println!(
            "restore 10,000 history items and draw (120×40): median {:.3} ms, p99 {:.3} ms",
            ms(s.median),
            ms(s.p99)
        );
    }
    if run("long-run") {
        let (at_500, at_2000) = bench_long_run();
        println!(
            "one run of 2,000 turns (a 20 KB command output and an answer each, drawn at 80×24): resident {at_500} kB after 500 turns, {at_2000} kB after 2,000"
        );
    }
    if run("launch") {
        bench_launch();
    }
    if run("realistic") {
        bench_realistic();
    }
    if run("open-block") {
        bench_open_block();
    }
    if run("status-command") {
        bench_status_command();
    }
}

/// A key typed to its echo on screen in the real binary, right after each turn ends (when the
/// status line's command is told the new tokens and runs): kelp's own line, and a command that
/// takes 500 ms. The command runs on a task of its own, so typing never waits for it.
fn bench_status_command() {
    use fake_openai::Reply;
    let slow =
        "status_line = { type = \"command\", command = \"sleep 0.5; echo slow-status-line\" }\n";
    for (label, config) in [
        ("kelp's own status line", None),
        ("a 500 ms status command", Some(slow)),
    ] {
        let (fake, mut kelp, _home, _rt) = kelp_against_fake_with(config);
        let mut samples = Vec::new();
        for round in 0..8 {
            let marker = format!("answer-{round}-done");
            fake.push_response(Reply::text(marker.clone()));
            kelp.send(&format!("question {round}\r"));
            kelp.wait_until(
                |screen| screen.contains(&marker),
                Duration::from_secs(20),
                &marker,
            );
            let mut typed = String::new();
            for key in "qwertyuiop".chars() {
                typed.push(key);
                let start = Instant::now();
                kelp.send(&key.to_string());
                kelp.wait_until(
                    |screen| screen.contains(&typed),
                    Duration::from_secs(5),
                    &typed,
                );
                samples.push(start.elapsed());
            }
            // Ctrl+U empties the composer for the next round.
            kelp.send("\x15");
            kelp.wait_until(
                |screen| !screen.contains(&typed),
                Duration::from_secs(5),
                "cleared",
            );
        }
        if config.is_some() {
            kelp.wait_for("slow-status-line", Duration::from_secs(5));
        }
        let s = stats(samples);
        println!(
            "keystroke to echo right after a turn (pty, 80 keys), {label}: median {:.1} ms, p99 {:.1} ms",
            ms(s.median),
            ms(s.p99)
        );
        kelp.send("\x04");
        kelp.wait_exit(Duration::from_secs(10));
    }
}
