//! The tools end to end through `execute`, as the turn loop will call them.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use kelp::tools::{
    OutputSink, OutputStream, ToolCall, ToolContext, ToolDetail, ToolOutput, execute,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn context(root: &Path) -> ToolContext {
    ToolContext {
        shell: "/bin/sh".into(),
        ..ToolContext::new(root)
    }
}

async fn run(root: &Path, name: &str, args: serde_json::Value) -> ToolOutput {
    let call = ToolCall::parse(name, &args.to_string()).unwrap();
    execute(
        &call,
        &context(root),
        &OutputSink::none(),
        CancellationToken::new(),
        &[],
    )
    .await
}

#[tokio::test]
async fn file_tools_resolve_against_the_project() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("src")).unwrap();
    fs::write(root.join(".gitignore"), "build/\n").unwrap();
    fs::create_dir_all(root.join("build")).unwrap();
    fs::write(root.join("build/gen.rs"), "fn main() {}\n").unwrap();
    fs::write(
        root.join("src/main.rs"),
        "fn main() {\n    println!(\"hi\");\n}\n",
    )
    .unwrap();

    let out = run(
        root,
        "read_file",
        serde_json::json!({"path": "src/main.rs", "offset": 2, "limit": 1}),
    )
    .await;
    assert!(out.success);
    assert_eq!(
        out.text,
        "L2:     println!(\"hi\");\n[the file goes on after line 2; call read_file with offset=3 to read on]\n"
    );

    let out = run(root, "list_dir", serde_json::json!({"path": "."})).await;
    assert!(out.success);
    assert!(out.text.contains("  src/\n    main.rs\n"));
    assert!(!out.text.contains("build"));

    let out = run(
        root,
        "grep_files",
        serde_json::json!({"pattern": "fn main", "include": "*.rs"}),
    )
    .await;
    assert!(out.success);
    assert_eq!(out.text, "src/main.rs:1: fn main() {\n");

    let out = run(root, "read_file", serde_json::json!({"path": "missing.rs"})).await;
    assert!(!out.success);
    assert!(out.text.starts_with("cannot read missing.rs:"));

    let out = run(root, "grep_files", serde_json::json!({"pattern": "("})).await;
    assert!(!out.success);
    assert!(out.text.starts_with("invalid regex \"(\":"));
}

#[tokio::test]
async fn shell_streams_lines_and_reports_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let call = ToolCall::parse("shell", r#"{"command":"echo out; echo err >&2; exit 7"}"#).unwrap();
    let out = execute(
        &call,
        &context(dir.path()),
        &OutputSink::channel(tx),
        CancellationToken::new(),
        &[],
    )
    .await;
    assert!(!out.success);
    assert_eq!(out.exit_code, Some(7));
    assert!(out.text.starts_with("Exit code: 7\n"));
    assert!(out.text.contains("out\n") && out.text.contains("err\n"));
    let mut lines = Vec::new();
    while let Ok(line) = rx.try_recv() {
        lines.push((line.stream, line.text));
    }
    lines.sort();
    assert_eq!(
        lines,
        vec![
            (OutputStream::Stdout, "out".to_string()),
            (OutputStream::Stderr, "err".to_string())
        ]
    );
    assert!(matches!(out.detail, ToolDetail::Shell(ref o) if o.exit_code == Some(7)));
}

#[tokio::test]
async fn shell_timeout_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = run(
        dir.path(),
        "shell",
        serde_json::json!({"command": ["sleep", "30"], "timeout_ms": 200}),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(out.timed_out);
    assert!(!out.success);
    assert!(out.text.starts_with("Command timed out after 200 ms"));
}

/// A model that asks for a day is held to the ceiling, and told so.
#[tokio::test]
async fn a_commands_timeout_is_held_to_the_ceiling() {
    let dir = tempfile::tempdir().unwrap();
    let mut ctx = context(dir.path());
    ctx.sandbox.max_timeout = Duration::from_millis(300);
    let call = ToolCall::parse(
        "shell",
        r#"{"command":["sleep","30"],"timeout_ms":86400000}"#,
    )
    .unwrap();
    let started = Instant::now();
    let out = execute(
        &call,
        &ctx,
        &OutputSink::none(),
        CancellationToken::new(),
        &[],
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(out.timed_out);
    assert!(
        out.text.starts_with(
            "Note: the command asked for a timeout of 86400000 ms, above the limit of 300 ms"
        ),
        "{}",
        out.text
    );
    assert!(
        out.text.contains("Command timed out after 300 ms"),
        "{}",
        out.text
    );
    assert_eq!(
        kelp::sandbox::DEFAULT_MAX_TIMEOUT,
        Duration::from_secs(3600),
        "an hour unless the config says otherwise"
    );
}

#[tokio::test]
async fn cancel_stops_a_running_command_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let cancel = CancellationToken::new();
    let call = ToolCall::parse("shell", r#"{"command":"sleep 30 & sleep 30"}"#).unwrap();
    let ctx = context(dir.path());
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let out = execute(&call, &ctx, &OutputSink::none(), cancel, &[]).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(out.cancelled);
    assert!(!out.success);

    // An already cancelled call does not start.
    let cancel = CancellationToken::new();
    cancel.cancel();
    let out = execute(&call, &ctx, &OutputSink::none(), cancel, &[]).await;
    assert!(out.cancelled);
}

#[tokio::test]
async fn apply_patch_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(root.join("a.rs"), "fn a() {\n    1\n}\n").unwrap();
    fs::write(root.join("b.rs"), "fn b() {\n    2\n}\n").unwrap();

    let bad = "*** Begin Patch
*** Update File: a.rs
@@ fn a() {
-    1
+    10
*** Update File: b.rs
@@ fn b() {
-    3
+    30
*** Add File: c.rs
+fn c() {}
*** End Patch";
    let out = run(root, "apply_patch", serde_json::json!({"input": bad})).await;
    assert!(!out.success);
    assert!(
        out.text
            .contains("b.rs: hunk 1 of 1 did not match the file:\n@@ fn b() {\n-    3\n+    30"),
        "{}",
        out.text
    );
    assert_eq!(
        fs::read_to_string(root.join("a.rs")).unwrap(),
        "fn a() {\n    1\n}\n"
    );
    assert_eq!(
        fs::read_to_string(root.join("b.rs")).unwrap(),
        "fn b() {\n    2\n}\n"
    );
    assert!(!root.join("c.rs").exists());

    let good = bad.replace("-    3\n+    30", "-    2\n+    20");
    let out = run(root, "apply_patch", serde_json::json!({"input": good})).await;
    assert!(out.success, "{}", out.text);
    assert_eq!(
        out.text,
        "Success. Updated the following files:\nM a.rs\nM b.rs\nA c.rs\n"
    );
    assert_eq!(
        fs::read_to_string(root.join("a.rs")).unwrap(),
        "fn a() {\n    10\n}\n"
    );
    assert_eq!(
        fs::read_to_string(root.join("b.rs")).unwrap(),
        "fn b() {\n    20\n}\n"
    );
    assert_eq!(
        fs::read_to_string(root.join("c.rs")).unwrap(),
        "fn c() {}\n"
    );
    let ToolDetail::Patch(changes) = out.detail else {
        panic!("expected patch details");
    };
    assert_eq!(changes.len(), 3);
    assert!(changes[0].diff.contains("-    1\n+    10\n"));
}

#[tokio::test]
async fn update_plan_returns_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        "update_plan",
        serde_json::json!({"plan": [{"step": "write tests", "status": "in_progress"}]}),
    )
    .await;
    assert!(out.success);
    assert_eq!(out.text, "Plan updated");
    let ToolDetail::Plan(plan) = out.detail else {
        panic!("expected a plan");
    };
    assert_eq!(plan.plan[0].step, "write tests");
}

/// A path judged inside and then swapped for a symlink that leads out (the check-then-use
/// race) is refused when the call runs, and again by the patch as it writes.
#[tokio::test]
async fn a_path_swapped_for_an_outside_link_after_the_check_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "outside\n").unwrap();
    std::fs::write(project.join("notes.txt"), "inside\n").unwrap();

    let read = ToolCall::parse("read_file", r#"{"path":"notes.txt"}"#).unwrap();
    let patch = kelp::tools::ApplyPatchCall::parse(
        "*** Begin Patch\n*** Update File: notes.txt\n@@\n-outside\n+changed\n*** End Patch\n"
            .to_string(),
        None,
    )
    .unwrap();
    assert!(read.paths_outside(&project).is_empty(), "judged inside");

    std::fs::remove_file(project.join("notes.txt")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), project.join("notes.txt")).unwrap();

    let ctx = context(&project);
    let out = execute(
        &read,
        &ctx,
        &OutputSink::none(),
        CancellationToken::new(),
        &[],
    )
    .await;
    assert!(!out.success);
    assert!(out.text.starts_with("refused:"), "{}", out.text);
    assert!(!out.text.contains("outside\n"));

    let err = patch.apply(&project, &[]).unwrap_err().to_string();
    assert!(err.contains("leads outside the project"), "{err}");
    assert_eq!(
        std::fs::read_to_string(outside.join("secret.txt")).unwrap(),
        "outside\n"
    );

    // Approved for that real path (a person saw it), the same patch writes through the link.
    let real = outside.canonicalize().unwrap().join("secret.txt");
    patch.apply(&project, &[real]).unwrap();
    assert_eq!(
        std::fs::read_to_string(outside.join("secret.txt")).unwrap(),
        "changed\n"
    );
    assert!(
        std::fs::symlink_metadata(project.join("notes.txt"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// A search of one file outside the project that a person approved reads that file, and only
/// it (its folder was not approved).
#[tokio::test]
async fn grep_of_one_approved_outside_file() {
    let dir = tempfile::tempdir().unwrap();
    let (project, outside) = (dir.path().join("p"), dir.path().join("o"));
    fs::create_dir_all(&project).unwrap();
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("notes.txt"), "one needle\n").unwrap();
    fs::write(outside.join("other.txt"), "another needle\n").unwrap();
    let file = outside.canonicalize().unwrap().join("notes.txt");
    let call = ToolCall::parse(
        "grep_files",
        &serde_json::json!({"pattern": "needle", "path": file}).to_string(),
    )
    .unwrap();
    let ctx = context(&project);
    let approved = execute(
        &call,
        &ctx,
        &OutputSink::none(),
        CancellationToken::new(),
        std::slice::from_ref(&file),
    )
    .await;
    assert_eq!(approved.text, format!("{}:1: one needle\n", file.display()));
    let refused = execute(
        &call,
        &ctx,
        &OutputSink::none(),
        CancellationToken::new(),
        &[],
    )
    .await;
    assert!(!refused.success);
    assert!(refused.text.starts_with("refused:"), "{}", refused.text);
}

/// One line of 256 MiB in the project: grep_files skips that file and says so, and its heap
/// stays small; the other files are searched.
#[tokio::test]
async fn grep_files_skips_a_file_whose_line_outgrows_its_heap() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("small.txt"), "a needle here\n").unwrap();
    let mut big = std::fs::File::create(dir.path().join("huge.min.js")).unwrap();
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..256 {
        big.write_all(&chunk).unwrap();
    }
    big.write_all(b"needle\n").unwrap();
    drop(big);
    let before = crate::support::status_kb("self", "VmHWM");
    let out = run(
        dir.path(),
        "grep_files",
        serde_json::json!({"pattern": "needle"}),
    )
    .await
    .text;
    let grown = crate::support::status_kb("self", "VmHWM").saturating_sub(before);
    assert!(out.contains("small.txt:1: a needle here"), "{out}");
    assert!(
        out.contains("[skipped a file with a line of more than 8 MiB: huge.min.js]"),
        "{out}"
    );
    assert!(
        grown < 64 * 1024,
        "the search grew the process by {grown} KiB"
    );
}
