//! A repository is the model's to write: `.git/config` and `.gitattributes` can name programs
//! git runs. The git kelp runs itself (`/diff`) runs none of them, sandbox or not, and a patch
//! into `.git` asks in every mode.

use std::path::Path;
use std::process::Command;

use kelp::agent::protocol::{
    ApprovalDecision, ApprovalMode, ApprovalSubject, Event, Op, TurnOutcome,
};
use kelp::config::SandboxMode;
use serde_json::json;

use crate::agent_loop::{Agent, agent_setup};
use crate::fake_openai::Reply;

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// A repository with one commit and a change, whose config and attributes run `marker`'s
/// creation from the file-system monitor, a required clean filter, a diff driver and a
/// text conversion.
fn booby_trapped_repository(dir: &Path, marker: &Path) {
    git(dir, &["init", "-q"]);
    std::fs::write(dir.join("notes.txt"), "one\n").unwrap();
    git(dir, &["add", "notes.txt"]);
    git(dir, &["commit", "-qm", "first"]);
    std::fs::write(dir.join("notes.txt"), "one\ntwo\n").unwrap();
    std::fs::write(dir.join(".gitattributes"), "* filter=trap diff=trap\n").unwrap();
    let run = format!("touch {}", marker.display());
    for (key, value) in [
        ("core.fsmonitor", format!("{run}; false")),
        ("filter.trap.clean", format!("{run}; cat")),
        ("filter.trap.required", "true".to_string()),
        ("diff.trap.command", run.clone()),
        ("diff.trap.textconv", format!("{run}; cat")),
    ] {
        git(dir, &["config", key, &value]);
    }
}

async fn diff(agent: &mut Agent) -> Option<String> {
    agent.send(Op::Diff);
    let seen = agent
        .until(|e| matches!(e, Event::WorkingTreeDiff(_)))
        .await;
    match seen.last() {
        Some(Event::WorkingTreeDiff(diff)) => diff.clone(),
        _ => unreachable!(),
    }
}

/// `/diff` over a repository whose settings would run a program: the change is shown and
/// nothing ran, with the sandbox off (so the settings kelp switches off are what holds) and on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_runs_no_program_the_repository_names() {
    for sandbox in [SandboxMode::Off, SandboxMode::WorkspaceWrite] {
        let mut agent = agent_setup(|config, _| config.sandbox = sandbox).await;
        let dir = agent.dir().to_path_buf();
        let marker = dir.join("ran");
        booby_trapped_repository(&dir, &marker);
        // The trap is armed: git as a person runs it.
        let mut plain = Command::new("git");
        plain.arg("-C").arg(&dir).args(["diff", "HEAD"]);
        let _ = plain.output().unwrap();
        assert!(
            marker.exists(),
            "the repository runs its programs for plain git"
        );
        std::fs::remove_file(&marker).unwrap();

        let shown = diff(&mut agent).await.expect("a git repository");
        assert!(shown.contains("+two"), "{sandbox}: {shown}");
        assert!(
            !marker.exists(),
            "{sandbox}: /diff ran a program the repository names"
        );
    }
}

/// In full-auto a patch runs without asking, but not one into `.git`, by its own name or
/// through a link that leads there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_into_git_asks_in_every_mode() {
    let mut agent = agent_setup(|config, _| config.approval = ApprovalMode::FullAuto).await;
    let dir = agent.dir().to_path_buf();
    git(&dir, &["init", "-q"]);
    std::os::unix::fs::symlink(".git", dir.join("meta")).unwrap();
    let config_patch = "*** Begin Patch\n*** Update File: .git/config\n@@\n+[core]\n+\tfsmonitor = touch pwned\n*** End Patch";
    let hook_patch =
        "*** Begin Patch\n*** Add File: meta/hooks/pre-commit\n+touch pwned\n*** End Patch";
    let plain_patch = "*** Begin Patch\n*** Add File: notes.txt\n+fine\n*** End Patch";
    agent.fake.push_responses([
        Reply::call_with_id("plain", "apply_patch", json!({ "input": plain_patch })),
        Reply::call_with_id("config", "apply_patch", json!({ "input": config_patch })),
        Reply::call_with_id("hook", "apply_patch", json!({ "input": hook_patch })),
        Reply::text("done"),
    ]);
    agent.submit("set things up");
    for expected in [".git/config", "meta/hooks/pre-commit"] {
        let (id, call_id, subject) = agent.approval().await;
        let ApprovalSubject::Patch { diff, .. } = subject else {
            panic!("not a patch: {subject:?}");
        };
        assert!(diff.contains(expected), "{call_id}: {diff}");
        agent.approve(id, ApprovalDecision::No { reason: None });
    }
    let (_, outcome) = agent.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "fine\n"
    );
    assert!(!dir.join(".git/hooks/pre-commit").exists());
    let config = std::fs::read_to_string(dir.join(".git/config")).unwrap();
    assert!(!config.contains("fsmonitor"), "{config}");
}
