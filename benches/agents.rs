//! A team of agents in one client: `cargo bench --bench agents`. The shipped binary runs at
//! 80×24 in a pty against the fake server, its model spawning 1, 5 and 20 agents (Codex's
//! collaboration tools) that stay at work (their answers never come) while it waits for them.
//! Prints, for each team, the resident memory of the client (median of 3) and what each agent
//! adds, and the CPU the client spends in 5 s of that waiting (which should be none).

// Test, bench and fixture code: a failed unwrap is a failed run, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/fake_openai/mod.rs"]
mod fake_openai;
#[allow(dead_code)]
#[path = "../tests/support/pty.rs"]
mod pty;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fake_openai::{FakeOpenAi, Reply};
use serde_json::json;
use support::{median, rss_tree_kb, shipped_binary};

const TEAMS: [usize; 3] = [1, 5, 20];

/// The CPU time `pid` has used, in clock ticks (user and system).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command's name, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |at: usize| {
        fields
            .get(at)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    field(11) + field(12)
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let bin = shipped_binary();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let fake = runtime.block_on(FakeOpenAi::start());
    let team_size = Arc::new(AtomicUsize::new(1));
    let size = Arc::clone(&team_size);
    fake.set_fallback(move |request| {
        let input = request["input"].to_string();
        if input.contains("Message Type: NEW_TASK") {
            return Reply::stall("working");
        }
        let spawned = input.contains("\"spawn_agent\"");
        if spawned {
            return Reply::call("wait_agent", json!({"timeout_ms": 3_600_000}));
        }
        let mut reply = Reply::text("A team will take this.");
        for n in 0..size.load(Ordering::SeqCst) {
            reply = reply.and_call(
                "spawn_agent",
                json!({"task_name": format!("agent_{n}"), "message": "work", "fork_turns": "none"}),
            );
        }
        reply
    });
    let home = tempfile::tempdir().expect("a temporary home");
    let config_dir = home.path().join(".config/kelp");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("config.toml"),
        "[features]\nmulti_agent_v2 = true\n[agents]\nmax_threads = 32\n",
    )
    .unwrap();
    let project = home.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    let mut env: Vec<(&str, String)> = fake.env();
    env.push(("OPENAI_API_KEY", fake.api_key()));
    env.push(("SSH_CONNECTION", "10.0.0.1 5555 10.0.0.2 22".into()));
    env.push(("KELP_APPROVAL", "full-auto".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let mut rows = Vec::new();
    for agents in TEAMS {
        team_size.store(agents, Ordering::SeqCst);
        let mut samples = Vec::new();
        let mut cpu = Vec::new();
        for _ in 0..3 {
            fake.clear_requests();
            let mut kelp = pty::Pty::spawn_in(&bin, &[], home.path(), &project, &env, 80, 24);
            kelp.wait_for("Ask anything", Duration::from_secs(10));
            kelp.send("go\r");
            let deadline = Instant::now() + Duration::from_secs(30);
            while fake
                .requests_to("/responses")
                .iter()
                .filter(|r| r.body.contains("Message Type: NEW_TASK"))
                .count()
                < agents
            {
                assert!(Instant::now() < deadline, "{agents} agents start");
                std::thread::sleep(Duration::from_millis(20));
            }
            // Settled: every agent is at work and the first one waits.
            std::thread::sleep(Duration::from_secs(2));
            let pid = kelp.pid().expect("kelp's pid");
            let (file, anon) = rss_tree_kb(pid);
            samples.push(file + anon);
            let before = cpu_ticks(pid);
            std::thread::sleep(Duration::from_secs(5));
            cpu.push(cpu_ticks(pid) - before);
            drop(kelp);
        }
        let kb = median(samples);
        let ticks = median(cpu);
        println!(
            "{agents:>2} agents at work, the first waiting: {kb} kB resident (median of 3); CPU in 5 s of waiting: {ticks} ticks"
        );
        rows.push((agents, kb));
    }
    let (first, first_kb) = rows[0];
    for &(agents, kb) in &rows[1..] {
        println!(
            "each agent past the first {first}: {:.0} kB ({agents} agents)",
            (kb as f64 - first_kb as f64) / (agents - first) as f64
        );
    }
}
