//! A repository is the model's to write: `.git/config` and `.gitattributes` can name programs
//! git runs. The git kelp runs itself (`/diff`, `/review`'s lists) runs none of them, sandbox or not, and a patch
//! into `.git` asks in every mode.

use std::path::Path;
use std::process::Command;

use kelp::protocol::SandboxMode;
use kelp::protocol::{ApprovalDecision, ApprovalMode, ApprovalSubject, Event, Op, TurnOutcome};
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
        // `git log` checks each commit's signature with the program the config names (a
        // program, not a shell line).
        ("log.showSignature", "true".to_string()),
        ("gpg.program", gpg_trap(dir, &run)),
    ] {
        git(dir, &["config", key, &value]);
    }
}

/// A program that runs `run` when git calls it to check a signature.
fn gpg_trap(dir: &Path, run: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(".git").join("trap-gpg");
    std::fs::write(&path, format!("#!/bin/sh\n{run}\nexit 1\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

/// Puts a commit carrying a (made-up) signature on top of `dir`'s branch.
fn signed_commit_on_top(dir: &Path) {
    let out = |args: &[&str]| {
        let output = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "git {args:?}");
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    };
    let (tree, parent) = (
        out(&["rev-parse", "HEAD^{tree}"]),
        out(&["rev-parse", "HEAD"]),
    );
    let commit = format!(
        "tree {tree}\nparent {parent}\nauthor t <t@example.com> 0 +0000\ncommitter t \
         <t@example.com> 0 +0000\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n abc\n \
         -----END PGP SIGNATURE-----\n\nsigned\n"
    );
    let path = dir.join(".git").join("signed-commit");
    std::fs::write(&path, commit).unwrap();
    let sha = out(&["hash-object", "-t", "commit", "-w", path.to_str().unwrap()]);
    std::fs::remove_file(&path).unwrap();
    out(&["update-ref", "HEAD", &sha]);
}

async fn diff(agent: &mut Agent) -> Option<String> {
    agent.send(Op::Diff);
    let seen = agent
        .until(|e| matches!(e, Event::Reply(kelp::protocol::Reply::WorkingTreeDiff(_))))
        .await;
    match seen.last() {
        Some(Event::Reply(kelp::protocol::Reply::WorkingTreeDiff(diff))) => diff.clone(),
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

        // `/review`'s lists of commits and branches: a signed commit on top, whose signature
        // plain `git log` checks with the program the config names.
        signed_commit_on_top(&dir);
        let mut plain = Command::new("git");
        plain.arg("-C").arg(&dir).args(["log", "-n", "1"]);
        let _ = plain.output().unwrap();
        assert!(marker.exists(), "plain git log runs the signature program");
        std::fs::remove_file(&marker).unwrap();
        agent.send(Op::ListRevisions);
        let seen = agent
            .until(|e| matches!(e, Event::Reply(kelp::protocol::Reply::Revisions(_))))
            .await;
        let Some(Event::Reply(kelp::protocol::Reply::Revisions(Some(found)))) = seen.last() else {
            panic!("{sandbox}: the revisions of a repository: {seen:?}");
        };
        assert_eq!(found.commits.len(), 2, "{sandbox}: {found:?}");
        assert!(
            !marker.exists(),
            "{sandbox}: /review's lists ran a program the repository names"
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

/// A folder git takes for a repository of its own (plain files a patch could write: `HEAD`,
/// `objects`, `refs`, and a `config` whose file-system monitor runs a program) and a reader
/// whose option runs a program: in `ask` neither runs unasked, while `git status` in the
/// project's own repository does. The twin, in `full-auto` unsandboxed, shows the folder's
/// config runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reading_command_runs_unasked_only_where_it_only_reads() {
    let plant = |dir: &Path| {
        git(dir, &["init", "-q"]);
        for folder in ["sub/objects", "sub/refs/heads"] {
            std::fs::create_dir_all(dir.join(folder)).unwrap();
        }
        std::fs::write(dir.join("sub/HEAD"), "ref: refs/heads/main\n").unwrap();
        let marker = dir.join("PWNED");
        let config = format!(
            "[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tworktree = ..\n\tfsmonitor = touch {}; false\n",
            marker.display()
        );
        std::fs::write(dir.join("sub/config"), config).unwrap();
        std::fs::write(dir.join("tool"), "#!/bin/sh\ntouch PWNED-TOOL\n").unwrap();
        marker
    };
    let calls = |agent: &Agent| {
        agent.fake.push_responses([
            Reply::call_with_id(
                "bare",
                "shell",
                json!({ "command": ["git", "status"], "workdir": "sub" }),
            ),
            Reply::call_with_id(
                "rg",
                "shell",
                json!({ "command": "rg --hostname-bin=./tool --hyperlink-format=default --color=always x" }),
            ),
            Reply::call_with_id("own", "shell", json!({ "command": "git status --short" })),
            Reply::text("done"),
        ]);
    };

    let mut agent = agent_setup(|config, _| config.approval = ApprovalMode::Ask).await;
    let marker = plant(agent.dir());
    calls(&agent);
    agent.submit("look around");
    for expected in ["git status", "--hostname-bin"] {
        let (id, _, subject) = agent.approval().await;
        let ApprovalSubject::Command { command, .. } = subject else {
            panic!("not a command: {subject:?}");
        };
        assert!(command.contains(expected), "{command}");
        agent.approve(id, ApprovalDecision::No { reason: None });
    }
    let (_, outcome) = agent.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    assert!(!marker.exists());

    let mut agent = agent_setup(|config, _| {
        config.approval = ApprovalMode::FullAuto;
        config.sandbox = SandboxMode::Off;
    })
    .await;
    let marker = plant(agent.dir());
    calls(&agent);
    agent.submit("look around");
    agent.finish_turn().await;
    assert!(marker.exists(), "git read the folder's config and ran it");
}
