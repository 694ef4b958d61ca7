//! `kelp run` end to end: the release binary streams 1 MiB of 16-byte deltas from the fake
//! server to a pipe; prints the median wall time from start to exit. `cargo bench --bench run_e2e`.

// Test, bench and fixture code: a failed unwrap is a failed run, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/fake_openai/mod.rs"]
mod fake_openai;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fake_openai::{FakeOpenAi, Reply};

const ANSWER_BYTES: usize = 1 << 20;
const ITERATIONS: usize = 7;

fn main() {
    // Only `cargo bench` runs this; test runners that list or run every target get nothing.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let fake = runtime.block_on(FakeOpenAi::start());
    fake.set_fallback(|_| Reply::large(ANSWER_BYTES));
    let home = tempfile::tempdir().expect("a temporary home");

    let mut times = Vec::new();
    for _ in 0..ITERATIONS {
        let start = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_kelp"))
            .env_clear()
            .env("HOME", home.path())
            .env("OPENAI_API_KEY", fake.api_key())
            .env("OPENAI_BASE_URL", fake.api_base_url())
            .args(["run", "stream a lot"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("kelp starts");
        let mut stdout = Vec::with_capacity(ANSWER_BYTES + 1);
        child
            .stdout
            .take()
            .expect("piped stdout")
            .read_to_end(&mut stdout)
            .expect("kelp's output");
        let status = child.wait().expect("kelp ends");
        times.push(start.elapsed());
        assert!(status.success(), "kelp run failed");
        assert_eq!(stdout.len(), ANSWER_BYTES, "the whole answer arrived");
    }
    times.sort();
    let median: Duration = times[times.len() / 2];
    println!(
        "kelp run, 1 MiB answer in {} deltas of 16 bytes to a pipe: median {:.0} ms of {ITERATIONS} runs (min {:.0} ms, max {:.0} ms)",
        ANSWER_BYTES / 16,
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
    );
}
