//! `@path`: the file finder in the composer, and files that go with a prompt, against the fake
//! server: in an 80×24 SSH window, and from `kelp run`.

use std::path::Path;
use std::time::Duration;

use kelp::llm::types::ATTACHMENT_HEADING;

use crate::cli_run::{kelp_for, output};
use crate::fake_openai::{FakeOpenAi, Reply};
use crate::llm_stream::Login;
use crate::support::shown;
use crate::tui_e2e::over_ssh;

const WAIT: Duration = Duration::from_secs(15);
const LIB: &str = "pub fn answer() -> u32 {\n    42\n}\n";

/// A small project: two sources, a note, and a build folder that `.gitignore` leaves out.
fn project(root: &Path) {
    for (path, text) in [
        ("src/lib.rs", LIB),
        ("src/main.rs", "fn main() {}\n"),
        ("notes/todo.md", "- ship it\n"),
        ("target/debug/ignored_build_output.rs", "// built\n"),
        (".gitignore", "target/\n"),
    ] {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// The text of the user message the last request sent, every part of it.
fn last_prompt_parts(fake: &FakeOpenAi) -> Vec<String> {
    let sent = fake.requests_to("/responses");
    let input = sent.last().unwrap().json()["input"].clone();
    let user = input
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|item| item["role"] == "user")
        .unwrap()
        .clone();
    user["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|part| part["text"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_finds_a_file_and_the_prompt_carries_it() {
    let fake = FakeOpenAi::start().await;
    fake.push_response(Reply::text("It returns 42."));
    let home = tempfile::tempdir().unwrap();
    project(home.path());
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);

    pty.send("what does @ignored_build");
    let screen = pty.wait_for("no matching files", WAIT);
    assert!(!screen.contains("ignored_build_output"), "{screen}");
    for _ in 0.."ignored_build".len() {
        pty.send("\x7f");
    }
    pty.send("srclib");
    let screen = pty.wait_for("› src/lib.rs", WAIT);
    assert!(screen.contains(" Files "), "{screen}");
    pty.send("\t");
    let screen = pty.wait_until(
        |s| s.contains("› what does @src/lib.rs") && !s.contains(" Files "),
        WAIT,
        "the path in the composer and the finder closed",
    );
    assert!(!screen.contains("no matching files"), "{screen}");
    pty.send("return?\r");
    let screen = pty.wait_for("It returns 42.", WAIT);
    assert!(screen.contains("@ src/lib.rs · 3 lines"), "{screen}");

    let parts = last_prompt_parts(&fake);
    assert_eq!(parts[0], "what does @src/lib.rs return?");
    assert_eq!(
        parts[1],
        format!(
            "{ATTACHMENT_HEADING}src/lib.rs\nL1: pub fn answer() -> u32 {{\nL2:     42\nL3: }}\n"
        )
    );
    pty.send("/quit\r");
    assert!(pty.wait_exit(WAIT));
    drop(pty);

    // The saved conversation shows the prompt as typed, with the file noted, not its text.
    let resumed = over_ssh(&fake, home.path(), &["--continue"], &[]);
    let screen = resumed.wait_for("Resumed the saved conversation.", WAIT);
    assert!(
        screen.contains("› what does @src/lib.rs return?"),
        "{screen}"
    );
    assert!(screen.contains("@ src/lib.rs"), "{screen}");
    assert!(!screen.contains("L2:"), "{screen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kelp_run_attaches_files_inside_the_project_only() {
    let fake = FakeOpenAi::start().await;
    fake.push_response(Reply::text("Done."));
    let (home, mut cmd) = kelp_for(&fake, Login::ApiKey);
    project(home.path());
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "TOP SECRET\n").unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        home.path().join("link.txt"),
    )
    .unwrap();
    cmd.current_dir(home.path()).args([
        "run",
        "compare @src/main.rs, @link.txt and @notes/nothing.md",
    ]);
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", shown(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("kelp: attached src/main.rs (1 line)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("kelp: note: @link.txt not attached: leads outside the project"),
        "{stderr}"
    );
    assert!(
        stderr.contains("kelp: note: @notes/nothing.md not attached: no such file"),
        "{stderr}"
    );
    let parts = last_prompt_parts(&fake);
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert!(parts[1].contains("L1: fn main() {}"), "{parts:?}");
    assert!(!parts.concat().contains("TOP SECRET"));
}
