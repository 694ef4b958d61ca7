//! The model races its own tools: a background process swaps a folder or a file for a link to
//! the outside while a long patch is being written, or between the approval and the write; and
//! special files (a FIFO, a device, a huge file) are handed to `read_file` and `apply_patch`.
//! Nothing is written outside, every call answers at once in words, and memory stays bounded.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use kelp::tools::{ApplyPatchCall, OutputSink, ToolCall, ToolContext, ToolOutput, execute};
use tokio_util::sync::CancellationToken;

/// Files the long patch adds before the one the racer aims at.
const FILES_BEFORE: usize = 299;
/// How often each race is played.
const ROUNDS: usize = 50;
/// How long any one call may take before it counts as hung.
const AT_ONCE: Duration = Duration::from_secs(20);

/// A project and a home folder beside it whose `.bashrc` the racer aims at.
struct Scene {
    _dir: tempfile::TempDir,
    project: PathBuf,
    home: PathBuf,
}

fn scene() -> Scene {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    let home = dir.path().join("home");
    std::fs::create_dir_all(project.join("d")).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join(".bashrc"), "ORIGINAL\n").unwrap();
    Scene {
        _dir: dir,
        project,
        home,
    }
}

/// Runs `call` as the turn loop does, with nothing outside approved; a hang fails the test.
async fn run(project: &Path, call: &ToolCall, allowed: &[PathBuf]) -> ToolOutput {
    let ctx = ToolContext {
        shell: "/bin/sh".into(),
        ..ToolContext::new(project)
    };
    let sink = OutputSink::none();
    let out = execute(call, &ctx, &sink, CancellationToken::new(), allowed);
    tokio::time::timeout(AT_ONCE, out)
        .await
        .expect("the call answered at once")
}

/// A patch that adds `FILES_BEFORE` files, then `last`.
fn long_patch(last: &str) -> ToolCall {
    let mut patch = String::from("*** Begin Patch\n");
    for i in 0..FILES_BEFORE {
        patch.push_str(&format!("*** Add File: f{i:03}.txt\n+{i}\n"));
    }
    patch.push_str(last);
    patch.push_str("*** End Patch\n");
    let args = serde_json::json!({ "input": patch });
    ToolCall::parse("apply_patch", &args.to_string()).unwrap()
}

/// A process that waits until the patch's first file exists, then runs `swap` in the project,
/// as a command the model started in the background would.
fn racer(project: &Path, swap: &str) -> Child {
    let script = format!("while [ ! -e f000.txt ]; do :; done; {swap}");
    Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .current_dir(project)
        .spawn()
        .unwrap()
}

/// Waits for the racer; one that never saw its cue is stopped.
fn finish(mut racer: Child) {
    for _ in 0..200 {
        if racer.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    racer.kill().unwrap();
    racer.wait().unwrap();
}

/// One round: a fresh project with `files`, the racer beside the patch, and nothing changed in
/// the home folder afterwards, whoever won.
async fn play(s: &Scene, call: &ToolCall, swap: &str, files: &[(&str, &str)]) -> ToolOutput {
    std::fs::remove_dir_all(&s.project).unwrap();
    std::fs::create_dir_all(s.project.join("d")).unwrap();
    for (path, text) in files {
        std::fs::write(s.project.join(path), text).unwrap();
    }
    let racer = racer(&s.project, swap);
    let out = run(&s.project, call, &[]).await;
    finish(racer);
    assert_eq!(
        std::fs::read_to_string(s.home.join(".bashrc")).unwrap(),
        "ORIGINAL\n",
        "a write went outside: {}",
        out.text
    );
    assert_eq!(
        std::fs::read_dir(&s.home).unwrap().count(),
        1,
        "{}",
        out.text
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_swapped_for_a_link_mid_patch_never_redirects_a_write() {
    let s = scene();
    let call = long_patch("*** Add File: d/.bashrc\n+planted\n");
    let swap = format!("mv d d.moved && ln -s '{}' d", s.home.display());
    let mut refused = 0;
    for round in 0..ROUNDS {
        let out = play(&s, &call, &swap, &[]).await;
        if out.success {
            // The racer came too late: the file went where the patch said, inside.
            let inside = ["d/.bashrc", "d.moved/.bashrc"].iter().any(|p| {
                std::fs::read_to_string(s.project.join(p)).is_ok_and(|t| t == "planted\n")
            });
            assert!(inside, "round {round}: {}", out.text);
            continue;
        }
        refused += 1;
        // The result says what happened: which file, why, what was and was not written.
        assert!(
            out.text
                .starts_with("failed to write d/.bashrc: it leads outside the project, to ")
                || out.text.starts_with(
                    "failed to write d/.bashrc: it changed while it was being written"
                ),
            "round {round}: {}",
            out.text
        );
        assert!(
            out.text.contains("already changed: f000.txt, f001.txt"),
            "{}",
            out.text
        );
        assert!(
            out.text.ends_with("; not changed: d/.bashrc)"),
            "{}",
            out.text
        );
    }
    eprintln!("refused {refused} of {ROUNDS} rounds");
    // The race was really played, not lost by a slow racer every time.
    assert!(refused > 0, "the racer never swapped the folder in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_swapped_for_a_link_mid_patch_is_refused_and_its_target_untouched() {
    let s = scene();
    let call = long_patch("*** Update File: d/notes.txt\n@@\n-inside\n+changed\n");
    let swap = format!(
        "rm d/notes.txt && ln -s '{}' d/notes.txt",
        s.home.join(".bashrc").display()
    );
    let mut refused = 0;
    for _ in 0..ROUNDS / 2 {
        let out = play(&s, &call, &swap, &[("d/notes.txt", "inside\n")]).await;
        if !out.success {
            refused += 1;
            assert!(
                out.text
                    .starts_with("failed to write d/notes.txt: it leads outside the project"),
                "{}",
                out.text
            );
            assert!(
                out.text.ends_with("; not changed: d/notes.txt)"),
                "{}",
                out.text
            );
        }
    }
    assert!(refused > 0, "the racer never swapped the file in time");
}

#[tokio::test]
async fn a_file_swapped_for_a_link_between_approval_and_write_is_refused() {
    let s = scene();
    std::fs::write(s.project.join("d/notes.txt"), "inside\n").unwrap();
    let patch = ApplyPatchCall::parse(
        "*** Begin Patch\n*** Update File: d/notes.txt\n@@\n-inside\n+changed\n*** End Patch\n"
            .to_string(),
        None,
    )
    .unwrap();
    // What a person approved: a change inside the project.
    let preview = patch.preview(&s.project).unwrap();
    assert_eq!(preview.changes[0].new_text.as_deref(), Some("changed\n"));
    let call = ToolCall::ApplyPatch(patch.clone());
    assert!(call.paths_outside(&s.project).is_empty());

    std::fs::remove_file(s.project.join("d/notes.txt")).unwrap();
    std::os::unix::fs::symlink(s.home.join(".bashrc"), s.project.join("d/notes.txt")).unwrap();

    let out = run(&s.project, &call, &[]).await;
    assert!(!out.success);
    assert!(out.text.contains("d/notes.txt"), "{}", out.text);
    assert!(
        out.text.contains("leads outside the project"),
        "{}",
        out.text
    );
    assert_eq!(
        std::fs::read_to_string(s.home.join(".bashrc")).unwrap(),
        "ORIGINAL\n"
    );
}

/// The most memory this test process has held, in kB.
fn peak_memory_kb() -> u64 {
    crate::support::status_kb("self", "VmHWM")
}

fn read_call(path: &str) -> ToolCall {
    ToolCall::parse(
        "read_file",
        &serde_json::json!({ "path": path }).to_string(),
    )
    .unwrap()
}

fn update_call(path: &str) -> ToolCall {
    let patch = format!("*** Begin Patch\n*** Update File: {path}\n@@\n-a\n+b\n*** End Patch\n");
    ToolCall::parse(
        "apply_patch",
        &serde_json::json!({ "input": patch }).to_string(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_fifo_is_refused_in_words_by_read_file_and_apply_patch() {
    let s = scene();
    let fifo = std::ffi::CString::new(s.project.join("pipe").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let out = run(&s.project, &read_call("pipe"), &[]).await;
    assert!(!out.success);
    assert_eq!(
        out.text,
        "pipe is a FIFO (named pipe), not a regular file; read_file reads regular files only"
    );
    let out = run(&s.project, &update_call("pipe"), &[]).await;
    assert!(!out.success);
    assert_eq!(
        out.text,
        "apply_patch verification failed; nothing was written. pipe: is a FIFO (named pipe), not a regular file; apply_patch edits regular files only"
    );
    let add = "*** Begin Patch\n*** Add File: pipe\n+x\n*** End Patch\n";
    let call = ToolCall::parse(
        "apply_patch",
        &serde_json::json!({ "input": add }).to_string(),
    )
    .unwrap();
    let out = run(&s.project, &call, &[]).await;
    assert!(out.text.contains("is a FIFO (named pipe)"), "{}", out.text);
}

#[tokio::test]
async fn a_device_through_a_link_is_refused_even_when_approved() {
    let s = scene();
    std::os::unix::fs::symlink("/dev/zero", s.project.join("zero")).unwrap();
    // Unapproved, it leads outside.
    let out = run(&s.project, &read_call("zero"), &[]).await;
    assert!(out.text.contains("/dev/zero"), "{}", out.text);
    assert!(!out.success);
    // A person approved reading /dev/zero: still not a file.
    let approved = [PathBuf::from("/dev/zero")];
    let out = run(&s.project, &read_call("zero"), &approved).await;
    assert_eq!(
        out.text,
        "zero is a character device, not a regular file; read_file reads regular files only"
    );
    let out = run(&s.project, &update_call("zero"), &approved).await;
    assert!(
        out.text.ends_with(
            "zero: is a character device, not a regular file; apply_patch edits regular files only"
        ),
        "{}",
        out.text
    );
    assert!(peak_memory_kb() < 200_000, "{} kB", peak_memory_kb());
}

#[tokio::test]
async fn a_huge_file_is_refused_by_apply_patch_before_it_is_read() {
    let s = scene();
    let big = std::fs::File::create(s.project.join("big.txt")).unwrap();
    // Sparse: 1.5 GiB of length, almost no disk.
    big.set_len(3 << 29).unwrap();
    drop(big);
    let out = run(&s.project, &update_call("big.txt"), &[]).await;
    assert_eq!(
        out.text,
        "apply_patch verification failed; nothing was written. big.txt: is 1.5 GB; apply_patch edits files of up to 16.0 MB"
    );
    let out = run(&s.project, &read_call("big.txt"), &[]).await;
    assert!(out.text.contains("binary file"), "{}", out.text);
    assert!(peak_memory_kb() < 200_000, "{} kB", peak_memory_kb());
}

/// A racer flips a folder between itself and a link to the outside (`renameat2` with
/// `RENAME_EXCHANGE`, so it is always one or the other) while `list_dir` and `grep_files` walk
/// the project again and again; a big folder sorted before it keeps the walk long between
/// seeing the folder and reading it. No name or line from the outside ever shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_flipped_to_a_link_mid_walk_shows_nothing_of_the_outside() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let s = scene();
    std::fs::create_dir_all(s.project.join("c")).unwrap();
    for i in 0..900 {
        std::fs::write(s.project.join(format!("c/plain{i:04}.txt")), "plain\n").unwrap();
    }
    for i in 0..50 {
        std::fs::write(s.project.join(format!("d/inside{i:02}.txt")), "needle\n").unwrap();
        std::fs::write(s.home.join(format!("outside{i:02}.txt")), "SECRET-LINE\n").unwrap();
    }
    std::os::unix::fs::symlink(&s.home, s.project.join("e.link")).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let racer = {
        let (stop, project) = (Arc::clone(&stop), s.project.clone());
        std::thread::spawn(move || {
            let (d, link) = (project.join("d"), project.join("e.link"));
            while !stop.load(Ordering::Relaxed) {
                rustix::fs::renameat_with(
                    rustix::fs::CWD,
                    &d,
                    rustix::fs::CWD,
                    &link,
                    rustix::fs::RenameFlags::EXCHANGE,
                )
                .unwrap();
            }
        })
    };
    let list = ToolCall::parse("list_dir", r#"{"path": ".", "depth": 3}"#).unwrap();
    let grep = ToolCall::parse("grep_files", r#"{"pattern": "SECRET|needle"}"#).unwrap();
    let mut leaks = Vec::new();
    for _ in 0..40 {
        for call in [&list, &grep] {
            let out = run(&s.project, call, &[]).await;
            if out.text.contains("outside") || out.text.contains("SECRET-LINE") {
                leaks.push(out.text);
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    racer.join().unwrap();
    assert!(
        leaks.is_empty(),
        "{} calls showed the outside: {}",
        leaks.len(),
        leaks[0]
    );
}

#[tokio::test]
async fn many_hunks_on_one_large_file_stop_at_the_patch_cap() {
    let s = scene();
    // 10 MB of lines; every update keeps a whole copy before and after.
    let text: String = (0..500_000).map(|i| format!("line {i:012}\n")).collect();
    std::fs::write(s.project.join("big.txt"), &text).unwrap();
    let mut patch = String::from("*** Begin Patch\n");
    for i in 0..20 {
        patch.push_str(&format!(
            "*** Update File: big.txt\n@@\n-line {:012}\n+changed {i}\n",
            i * 1000
        ));
    }
    patch.push_str("*** End Patch\n");
    let call = ToolCall::parse(
        "apply_patch",
        &serde_json::json!({ "input": patch }).to_string(),
    )
    .unwrap();
    let out = run(&s.project, &call, &[]).await;
    assert!(
        out.text.ends_with("big.txt: the patch would hold more than 64.0 MB of file text by here; split it into smaller patches"),
        "{}",
        out.text
    );
    assert_eq!(
        std::fs::read_to_string(s.project.join("big.txt")).unwrap(),
        text
    );
    assert!(peak_memory_kb() < 400_000, "{} kB", peak_memory_kb());
}

/// A file the patch read, swapped mid-patch for a link to another file of the project: the
/// other file keeps its text, and the patch says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_swapped_for_a_link_inside_is_not_written_with_anothers_text() {
    let s = scene();
    let call = long_patch("*** Update File: d/a.txt\n@@\n-inside\n+changed\n");
    let swap = "rm d/a.txt && ln -s b.txt d/a.txt";
    let mut refused = 0;
    for _ in 0..10 {
        let files = [("d/a.txt", "inside\n"), ("d/b.txt", "other\n")];
        let out = play(&s, &call, swap, &files).await;
        assert_eq!(
            std::fs::read_to_string(s.project.join("d/b.txt")).unwrap(),
            "other\n",
            "{}",
            out.text
        );
        if !out.success {
            refused += 1;
            assert!(
                out.text.starts_with(
                    "failed to write d/a.txt: it is no longer the file the patch read"
                ),
                "{}",
                out.text
            );
        }
    }
    assert!(refused > 0, "the racer never swapped the file in time");
}
