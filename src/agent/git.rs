//! The git kelp runs itself (`/diff`). The project's `.git/config` and `.gitattributes` are the
//! model's to write (a patch may add `core.fsmonitor = "<command>"`), so git runs as a model's
//! command runs: confined ([`shell::confine`]: the scrubbed environment, no terminal, the sandbox
//! read-only with no network), and with every setting through which a repository runs code
//! switched off: the file-system monitor, hooks, external diff programs, text conversions, clean
//! and smudge filters, and the system's configuration.

use std::path::Path;
use std::process::Stdio;

use tokio::process::Command;

use crate::protocol::Revisions;
use crate::protocol::SandboxMode;
use crate::sandbox::SandboxPolicy;
use crate::tools::shell;

/// The most of a diff `/diff` shows; the rest is cut with a note.
const MAX_DIFF_BYTES: usize = 512 * 1024;

/// Settings that make git run a program, each switched off on the command line (which beats
/// every configuration file).
const NO_CODE: [&str; 8] = [
    "core.fsmonitor=",
    // `git log` would check each signature with the `gpg.program` the repository names.
    "log.showSignature=false",
    // A folder that merely looks like a repository (`HEAD`, `objects`, `refs`, `config` a
    // command could commit) is not taken for one.
    "safe.bareRepository=explicit",
    "core.hooksPath=/dev/null",
    "diff.external=",
    "core.pager=cat",
    "core.sshCommand=",
    "credential.helper=",
];

/// `git diff HEAD` in `dir` (staged and unstaged changes), then the untracked files; `None`
/// outside a git repository. `sandbox` is the conversation's: git runs in it read-only.
pub async fn working_tree_diff(dir: &Path, sandbox: &SandboxPolicy) -> Option<String> {
    let git = Git::in_repository(dir, sandbox).await?;
    let filters = git.filter_overrides().await;
    let diff = |base: &'static str| {
        let filters = &filters;
        let git = &git;
        async move {
            let args = ["diff", base, "--no-color", "--no-ext-diff", "--no-textconv"];
            git.run(filters, &args).await
        }
    };
    // A repository without a commit yet has no HEAD: its changes are all staged or untracked.
    let mut text = match diff("HEAD").await {
        Some(text) => text,
        None => diff("--cached").await.unwrap_or_default(),
    };
    let untracked = git
        .run(&filters, &["ls-files", "--others", "--exclude-standard"])
        .await
        .unwrap_or_default();
    if !untracked.trim().is_empty() {
        text.push_str("\nUntracked files:\n");
        for file in untracked.lines() {
            text.push_str(&format!("  {file}\n"));
        }
    }
    if crate::humanize::keep_head(&mut text, MAX_DIFF_BYTES) {
        text.push_str("\n… the rest is cut; run `git diff HEAD` to see it all\n");
    }
    Some(text)
}

/// How many commits `/review`'s picker offers.
const MAX_COMMITS: &str = "100";

/// The recent commits and local branches of the repository `dir` is in, git run as in
/// [`working_tree_diff`]; `None` outside a git repository.
pub async fn revisions(dir: &Path, sandbox: &SandboxPolicy) -> Option<Revisions> {
    let git = Git::in_repository(dir, sandbox).await?;
    // A repository without a commit yet has no log: no commits, not a failure.
    let log = git
        .run(
            &[],
            &["log", "--no-color", "--format=%h%x09%s", "-n", MAX_COMMITS],
        )
        .await
        .unwrap_or_default();
    let commits = log
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(sha, subject)| (sha.to_string(), subject.to_string()))
        .collect();
    let current = git
        .run(&[], &["symbolic-ref", "--quiet", "--short", "HEAD"])
        .await
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty());
    // The branches themselves: `git branch` would list a detached HEAD as "(HEAD detached …)".
    let branches = git
        .run(
            &[],
            &["for-each-ref", "--format=%(refname:short)", "refs/heads/"],
        )
        .await
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|name| !name.is_empty() && Some(*name) != current.as_deref())
        .map(str::to_string)
        .collect();
    Some(Revisions {
        commits,
        branches,
        current,
    })
}

/// git in one folder, confined.
struct Git<'a> {
    dir: &'a Path,
    sandbox: SandboxPolicy,
}

impl<'a> Git<'a> {
    /// git in `dir`, in the conversation's `sandbox` made read-only; `None` when `dir` is not
    /// in a git repository (or git cannot run).
    async fn in_repository(dir: &'a Path, sandbox: &SandboxPolicy) -> Option<Self> {
        let sandbox = match sandbox.mode {
            SandboxMode::Off => sandbox.clone(),
            _ => sandbox.clone().with_mode(SandboxMode::ReadOnly, false),
        };
        let git = Git { dir, sandbox };
        git.run(&[], &["rev-parse", "--is-inside-work-tree"])
            .await?;
        Some(git)
    }

    /// Runs git with `settings` (`name=value`) and `args`; its stdout when it succeeds.
    async fn run(&self, settings: &[String], args: &[&str]) -> Option<String> {
        let mut command = Command::new("git");
        without_code(command.as_std_mut(), settings);
        command
            .arg("--no-optional-locks")
            .args(args)
            .current_dir(self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        // kelp's own git reads the repository; it reaches no domain.
        let sandbox = SandboxPolicy {
            domains: None,
            ..self.sandbox.clone()
        };
        shell::confine(&mut command, &sandbox, self.dir, self.dir, &[]).ok()?;
        let out = command.output().await.ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// A clean, smudge and process program for every filter driver the configuration names is
    /// set to nothing, which git takes as no filter (the file is compared as it is), and none is
    /// required, or git would refuse the diff instead.
    async fn filter_overrides(&self) -> Vec<String> {
        let listed = self
            .run(&[], &["config", "--null", "--get-regexp", r"^filter\."])
            .await
            .unwrap_or_default();
        filter_settings(&listed)
    }
}

/// git as kelp runs it itself: every setting through which a repository runs code off (and
/// `settings` besides), the system's configuration unread, no prompt for a password.
pub(super) fn without_code(command: &mut std::process::Command, settings: &[String]) {
    for setting in NO_CODE
        .iter()
        .copied()
        .chain(settings.iter().map(String::as_str))
    {
        command.arg("-c").arg(setting);
    }
    command
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0");
}

/// What switches off every filter driver `listed` names (`git config --null --get-regexp
/// '^filter\.'`): a clean, smudge and process program set to nothing, which git takes as no
/// filter, and none required, or git would refuse the work instead.
pub(super) fn filter_settings(listed: &str) -> Vec<String> {
    let mut drivers: Vec<&str> = listed
        .split('\0')
        .filter_map(|entry| {
            let key = entry.split('\n').next()?;
            let rest = key.strip_prefix("filter.")?;
            Some(&rest[..rest.rfind('.')?])
        })
        .collect();
    drivers.sort_unstable();
    drivers.dedup();
    drivers
        .iter()
        .flat_map(|name| {
            ["clean=", "smudge=", "process=", "required=false"]
                .map(|setting| format!("filter.{name}.{setting}"))
        })
        .collect()
}
