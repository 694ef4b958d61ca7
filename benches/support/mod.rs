//! What the bench binaries share: the median of their samples, picking rows by name, a
//! process's memory figures, the shipped binary, and a long saved conversation.

// Each bench binary compiles this module and uses part of it.
#![allow(dead_code)]

/// The middle sample (the upper one of an even count).
pub fn median<T: Copy + PartialOrd>(mut samples: Vec<T>) -> T {
    samples.sort_by(|a, b| a.partial_cmp(b).expect("comparable samples"));
    samples[samples.len() / 2]
}

/// Whether a row runs: every row, or, given a word after `--bench` (`cargo bench --bench sse
/// 1KiB`), the rows whose names hold it once their spaces are left out.
pub fn row_filter() -> impl Fn(&str) -> bool {
    let only = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    move |name| {
        only.as_deref()
            .is_none_or(|word| name.replace(' ', "").contains(word))
    }
}

/// A memory figure of `/proc/<process>/status` in kB (`VmRSS`, resident now; `VmHWM`, the
/// peak); `process` is a pid, or `self`. 0 where it cannot be read.
pub fn status_kb(process: impl std::fmt::Display, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{process}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|kb| kb.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Writes a saved conversation of `turns` turns (each a prompt, a reasoning summary, a command
/// with 20 KB of output and an answer; a compaction every `compact_every` turns, none when 0)
/// into kelp's state folder `kelp_state`; returns its id and size.
pub fn long_session(
    kelp_state: &std::path::Path,
    project: &std::path::Path,
    turns: usize,
    compact_every: usize,
) -> (String, u64) {
    use serde_json::json;
    use std::io::Write;
    let id = uuid::Uuid::new_v4().to_string();
    let dir = kelp_state.join("sessions/2026/01/01");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("2026-01-01T00-00-00.000Z-{id}.jsonl"));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut line = |value: serde_json::Value| writeln!(out, "{value}").unwrap();
    line(
        json!({"kelp_session": 1, "id": id, "project_dir": project, "model": "gpt-5.5",
        "started_at": "2026-01-01T00:00:00.000Z", "kelp_version": "0.1.0",
        "first_prompt": "turn 0: run the tests and fix what fails"}),
    );
    let output = format!("{}\n", "x".repeat(79)).repeat(250);
    let mut items = 0;
    for turn in 0..turns {
        line(json!({"type": "kelp_turn", "id": format!("t-{turn}")}));
        line(
            json!({"type": "message", "role": "user", "content": [{"type": "input_text",
            "text": format!("turn {turn}: run the tests and fix what fails")}]}),
        );
        line(
            json!({"type": "reasoning", "summary": [{"type": "summary_text",
            "text": "Running the tests first. ".repeat(20)}], "encrypted_content": "g".repeat(2000)}),
        );
        line(
            json!({"type": "function_call", "name": "shell", "call_id": format!("c{turn}"),
            "arguments": json!({"command": ["cargo", "test"]}).to_string()}),
        );
        line(
            json!({"type": "function_call_output", "call_id": format!("c{turn}"),
            "output": format!("Exit code: 0\nWall time: 1.2 seconds\nOutput:\n{output}")}),
        );
        line(
            json!({"type": "kelp_call", "call_id": format!("c{turn}"), "tool": "shell",
            "summary": "cargo test", "success": true, "exit_code": 0, "duration_ms": 1200,
            "output": output}),
        );
        line(
            json!({"type": "message", "role": "assistant", "content": [{"type": "output_text",
            "text": "The tests pass now. ".repeat(50)}]}),
        );
        items += 5;
        line(
            json!({"type": "kelp_usage", "usage": {"input_tokens": 1000, "cached_input_tokens": 0,
            "output_tokens": 100, "reasoning_output_tokens": 0, "total_tokens": 1100},
            "context_used": 50_000}),
        );
        if compact_every > 0 && turn % compact_every == compact_every - 1 {
            line(
                json!({"type": "kelp_compacted", "summary": "We ran the tests. ".repeat(40),
                "sent_from": items, "automatic": true}),
            );
        }
    }
    out.into_inner().unwrap().sync_all().unwrap();
    (id, std::fs::metadata(&path).unwrap().len())
}

/// The file of the conversation `id` that [`long_session`] wrote under `kelp_state`.
pub fn long_session_file(kelp_state: &std::path::Path, id: &str) -> std::path::PathBuf {
    kelp_state.join(format!(
        "sessions/2026/01/01/2026-01-01T00-00-00.000Z-{id}.jsonl"
    ))
}

/// The machine's plain read of `path`, start to end in 1 MiB reads (the page cache warm, as
/// for the opens measured beside it): the median of 3, in ms.
pub fn plain_read_ms(path: &std::path::Path) -> f64 {
    use std::io::Read;
    let mut samples = Vec::new();
    let mut buffer = vec![0; 1 << 20];
    for _ in 0..3 {
        let start = std::time::Instant::now();
        let mut file = std::fs::File::open(path).unwrap();
        while file.read(&mut buffer).unwrap() > 0 {}
        samples.push(start.elapsed().as_secs_f64() * 1e3);
    }
    median(samples)
}

/// `RssFile` and `RssAnon` of `pid` and every process below it, in kB.
pub fn rss_tree_kb(pid: u32) -> (u64, u64) {
    let field = |status: &str, name: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let mut total = (0, 0);
    let mut todo = vec![pid];
    while let Some(pid) = todo.pop() {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            total.0 += field(&status, "RssFile:") + field(&status, "RssShmem:");
            total.1 += field(&status, "RssAnon:");
        }
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        todo.extend(
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
    }
    total
}

/// Builds `kelp` with `cargo build --release` and returns where the binary is.
pub fn shipped_binary() -> std::path::PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args([
            "build",
            "--release",
            "--bin",
            "kelp",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "cargo build --release failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["target"]["name"] == "kelp")
        .find_map(|message| message["executable"].as_str().map(std::path::PathBuf::from))
        .expect("cargo names the kelp binary")
}
