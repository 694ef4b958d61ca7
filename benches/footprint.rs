//! The footprint report: `cargo bench --bench footprint`. Builds the release binary as shipped
//! (`cargo build --release`: the binary a bench build makes carries the features that the tests'
//! dev-dependencies turn on in shared crates), then prints its size, the resident memory of an idle kelp at 80×24 in a pty
//! (median of 3, the process and its children, split into file-backed and anonymous pages), and
//! launch to first frame (median of 20). Every change that adds a dependency quotes these
//! figures before and after.

// Test, bench and fixture code: a failed unwrap is a failed run, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "../tests/support/pty.rs"]
mod pty;
mod support;

use std::time::{Duration, Instant};

use support::{median, rss_tree_kb, shipped_binary};

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let bin = shipped_binary();
    let bin = bin.as_path();
    let size = std::fs::metadata(bin).expect("the release binary").len();
    println!(
        "release binary: {size} bytes ({:.2} MB, {:.2} MiB)",
        size as f64 / 1e6,
        size as f64 / 1_048_576.0
    );

    let home = tempfile::tempdir().expect("temp home");
    let env = [
        ("OPENAI_API_KEY", "sk-bench-000000000001234"),
        ("SSH_CONNECTION", "10.0.0.1 5555 10.0.0.2 22"),
    ];
    let mut launches = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let mut kelp = pty::Pty::spawn(bin, &[], home.path(), &env, 80, 24);
        kelp.wait_for("Ask anything", Duration::from_secs(10));
        launches.push(start.elapsed().as_secs_f64() * 1e3);
        kelp.send("\x04");
        kelp.wait_exit(Duration::from_secs(10));
    }
    println!(
        "launch to first frame at 80×24 (pty): median {:.1} ms of 20",
        median(launches)
    );

    let mut idle = Vec::new();
    for _ in 0..3 {
        let mut kelp = pty::Pty::spawn(bin, &[], home.path(), &env, 80, 24);
        kelp.wait_for("Ask anything", Duration::from_secs(10));
        // Settled: the background loads (the syntax set) are done.
        std::thread::sleep(Duration::from_secs(2));
        let (file, anon) = rss_tree_kb(kelp.pid().expect("kelp's pid"));
        idle.push((file + anon, file, anon));
        kelp.send("\x04");
        kelp.wait_exit(Duration::from_secs(10));
    }
    let (total, file, anon) = median(idle);
    println!(
        "idle resident memory at 80×24 (median of 3, process tree): {total} kB = {file} kB file-backed + {anon} kB anonymous"
    );

    // A long conversation reopened: time to its drawn screen, and memory once idle; cold (no
    // index beside it: the file scanned once through) and warm (its index read), beside the
    // machine's plain read of the file.
    let project = home.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    let kelp_state = home.path().join(".local/state/kelp");
    let (id, bytes) = support::long_session(&kelp_state, &project, 2_300, 100);
    let file = support::long_session_file(&kelp_state, &id);
    let read = support::plain_read_ms(&file);
    for warm in [false, true] {
        let resumed = resumed_three_times(bin, &id, home.path(), &project, &env, warm, |pid| {
            let (file, anon) = rss_tree_kb(pid);
            file + anon
        });
        let memory = median(resumed.iter().map(|(kb, _)| *kb).collect());
        let drawn = median(resumed.iter().map(|(_, ms)| *ms).collect());
        println!(
            "a {:.0} MB session (2,300 turns, a compaction every 100) resumed at 80×24, {}: drawn in a median {drawn:.0} ms of 3 (a plain read of the file: {read:.0} ms); idle after: {memory} kB ({:.1}× a fresh client)",
            bytes as f64 / 1e6,
            if warm { "warm" } else { "cold" },
            memory as f64 / total as f64
        );
    }

    // Past 1 GiB: the peak counts too.
    let (id, bytes) = support::long_session(&kelp_state, &project, 24_000, 100);
    let file = support::long_session_file(&kelp_state, &id);
    let read = support::plain_read_ms(&file);
    for warm in [false, true] {
        let resumed = resumed_three_times(bin, &id, home.path(), &project, &env, warm, |pid| {
            support::status_kb(pid, "VmHWM")
        });
        let peak = median(resumed.iter().map(|(kb, _)| *kb).collect());
        let drawn = median(resumed.iter().map(|(_, ms)| *ms).collect());
        println!(
            "a {:.2} GiB session (24,000 turns) resumed at 80×24, {}: drawn in a median {drawn:.0} ms of 3 (a plain read of the file: {read:.0} ms); peak {peak} kB ({:.1}× a fresh client idle)",
            bytes as f64 / f64::from(1 << 30),
            if warm { "warm" } else { "cold" },
            peak as f64 / total as f64
        );
    }
}

/// `kelp --resume id` at 80×24, three times (each `warm` from the index the run before kept, or
/// cold, the index taken away first): each run's `measure` of the process 2 s after the
/// conversation is drawn (kB), and the milliseconds to that screen.
fn resumed_three_times(
    bin: &std::path::Path,
    id: &str,
    home: &std::path::Path,
    project: &std::path::Path,
    env: &[(&str, &str)],
    warm: bool,
    measure: impl Fn(u32) -> u64,
) -> Vec<(u64, f64)> {
    let file = support::long_session_file(&home.join(".local/state/kelp"), id);
    let index = kelp::session::index::index_path(&file);
    let mut resumed = Vec::new();
    for _ in 0..3 {
        if !warm {
            let _ = std::fs::remove_file(&index);
        }
        let start = Instant::now();
        let mut kelp = pty::Pty::spawn_in(bin, &["--resume", id], home, project, env, 80, 24);
        kelp.wait_for("Resumed the", Duration::from_secs(60));
        let drawn = start.elapsed().as_secs_f64() * 1e3;
        std::thread::sleep(Duration::from_secs(2));
        resumed.push((measure(kelp.pid().expect("kelp's pid")), drawn));
        kelp.send("\x04");
        kelp.wait_exit(Duration::from_secs(10));
    }
    resumed
}
