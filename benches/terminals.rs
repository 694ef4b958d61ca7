//! A background terminal whose command prints without end: `cargo bench --bench terminals`.
//! `yes` runs in a session (`exec_command`, through `execute` as the turn loop calls it) for
//! 20 s while a poll (`write_stdin`) reads it every 2 s; prints, for each poll, how much it
//! printed since the last one and the resident memory of the process holding the session
//! (this one), and at the end the median memory and the peak. The memory must stay flat
//! whatever the command prints: each session keeps a bounded head and tail of its unread
//! output.

// Test, bench and fixture code: a failed unwrap is a failed run, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use kelp::tools::{OutputSink, ToolCall, ToolContext, execute};
use support::{median, status_kb};
use tokio_util::sync::CancellationToken;

const POLLS: usize = 10;

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().unwrap();
    let ctx = ToolContext::new(dir.path());
    let call = |name: &str, arguments: serde_json::Value| {
        let call = ToolCall::parse(name, &arguments.to_string()).unwrap();
        runtime.block_on(execute(
            &call,
            &ctx,
            &OutputSink::none(),
            CancellationToken::new(),
            &[],
        ))
    };
    let before = status_kb("self", "VmRSS");
    let started = call(
        "exec_command",
        serde_json::json!({"cmd": "exec yes kelp-background-terminal-output", "yield_time_ms": 250}),
    );
    let id: i64 = started
        .text
        .lines()
        .find_map(|line| line.strip_prefix("Process running with session ID "))
        .and_then(|id| id.trim().parse().ok())
        .expect("the command runs on");
    println!("rss before the command: {before} kB");
    let mut samples = Vec::new();
    let mut printed_total = 0u64;
    for poll in 1..=POLLS {
        let polled = call(
            "write_stdin",
            serde_json::json!({"session_id": id, "chars": "", "yield_time_ms": 2000}),
        );
        // What was kept, and what the note between its head and tail says was cut.
        let cut = polled
            .text
            .lines()
            .find_map(|line| line.strip_prefix("[… ")?.strip_suffix(" bytes cut …]"))
            .and_then(|count| count.trim().parse::<u64>().ok())
            .unwrap_or(0);
        let printed = cut + polled.text.len() as u64;
        printed_total += printed;
        let rss = status_kb("self", "VmRSS");
        samples.push(rss);
        println!(
            "poll {poll:2}: {:7.1} MB printed since the last, {:6.2} GB in all, rss {rss} kB, answer {} bytes",
            printed as f64 / 1e6,
            printed_total as f64 / 1e9,
            polled.text.len()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    ctx.terminals.stop(None);
    println!(
        "median rss while it printed: {} kB (peak {} kB, {} kB before it)",
        median(samples),
        status_kb("self", "VmHWM"),
        before
    );
}
