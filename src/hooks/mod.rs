//! Hooks as Codex 0.171 and Claude Code run them: commands of the person's, named in
//! `hooks.json` (kelp's config folder, then `CODEX_HOME`'s) or in `config.toml`'s `[hooks]`
//! tables, that kelp runs at points of a conversation (a prompt sent, a tool call before and
//! after, the turn's end, the session's start) with Claude Code's JSON on stdin, and whose
//! answers it honours: exit code 2 blocks with stderr as the reason; stdout's JSON may block
//! (`decision`), decide a tool call (`permissionDecision`), add context for the model
//! (`additionalContext`), stop the turn (`continue: false`) or tell the person
//! (`systemMessage`).
//!
//! A hook runs as the person, outside the sandbox: one runs only once the person has trusted it
//! (kept by a hash of its event, matcher and command, so a changed hook asks again), or with
//! `--dangerously-bypass-hook-trust`.
//!
//! - `config.rs`: the hooks the files name, read and checked.
//! - `trust.rs`: the hashes of the hooks the person trusted, and of those turned off, kept in
//!   kelp's state folder.
//! - `run.rs`: the hooks of one event run together, each bounded in time and output.
//! - `answer.rs`: what their exit codes and output say, as one verdict.
//! - `notify.rs`: Codex's `notify` program, told of a finished turn (and of an approval nobody
//!   is there to give).

mod answer;
mod config;
pub mod notify;
mod run;
mod trust;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use answer::{Permission, Verdict};
pub use config::{load, load_for};
pub use run::{Ran, shell};
pub use trust::{set_enabled, trust, trusted_hashes};

/// Where in a conversation a hook runs, by Codex's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HookEvent {
    SessionStart,
    UserPromptSubmit,
    PreToolUse,
    PermissionRequest,
    PostToolUse,
    Stop,
    SubagentStart,
    SubagentStop,
    PreCompact,
    PostCompact,
    SessionEnd,
}

impl HookEvent {
    pub const ALL: [Self; 11] = [
        Self::SessionStart,
        Self::UserPromptSubmit,
        Self::PreToolUse,
        Self::PermissionRequest,
        Self::PostToolUse,
        Self::Stop,
        Self::SubagentStart,
        Self::SubagentStop,
        Self::PreCompact,
        Self::PostCompact,
        Self::SessionEnd,
    ];

    /// Its name in files and payloads.
    pub fn name(self) -> &'static str {
        match self {
            Self::SessionStart => "SessionStart",
            Self::UserPromptSubmit => "UserPromptSubmit",
            Self::PreToolUse => "PreToolUse",
            Self::PermissionRequest => "PermissionRequest",
            Self::PostToolUse => "PostToolUse",
            Self::Stop => "Stop",
            Self::SubagentStart => "SubagentStart",
            Self::SubagentStop => "SubagentStop",
            Self::PreCompact => "PreCompact",
            Self::PostCompact => "PostCompact",
            Self::SessionEnd => "SessionEnd",
        }
    }

    fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.name() == name)
    }
}

/// How long a hook may run when its entry names no `timeout` (seconds), as Claude Code's.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// One hook: the command an event runs, for the tools its matcher names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub event: HookEvent,
    /// A pattern of tool names (`Bash`, `Edit|Write`); none, `""` or `*`: every tool.
    pub matcher: Option<String>,
    pub command: String,
    pub timeout: Duration,
    /// The file that names it.
    pub source: PathBuf,
    /// The person trusted it as it is now.
    pub trusted: bool,
    /// Not turned off by the person (`/hooks`, `kelp hooks disable`).
    pub enabled: bool,
}

impl Hook {
    /// What its trust is kept by: its event, matcher and command, so any change asks again.
    pub fn hash(&self) -> String {
        trust::hash_of(self.event, self.matcher.as_deref(), &self.command)
    }

    /// Whether it runs for a call of the tool that payloads name `names[0]` (with the other
    /// names it answers to): the matcher is a whole-name pattern.
    fn matches(&self, names: &[&str]) -> bool {
        let Some(pattern) = self.matcher.as_deref().map(str::trim) else {
            return true;
        };
        if pattern.is_empty() || pattern == "*" {
            return true;
        }
        let Ok(regex) = grep_regex::RegexMatcher::new(&format!("^(?:{pattern})$")) else {
            // An unreadable pattern matches the one name written the same, nothing else.
            return names.contains(&pattern);
        };
        use grep_matcher::Matcher;
        names
            .iter()
            .any(|name| regex.is_match(name.as_bytes()).unwrap_or(false))
    }
}

/// Every hook the files name, and whether untrusted ones run too; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    all: Arc<Vec<Hook>>,
    bypass_trust: bool,
    /// How each hook last ran, by its hash, for `/hooks`.
    last: Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
}

impl Hooks {
    pub fn new(all: Vec<Hook>, bypass_trust: bool) -> Self {
        Self {
            all: Arc::new(all),
            bypass_trust,
            last: Arc::default(),
        }
    }

    /// These hooks, keeping what `earlier` (the same files read before) knew of how each ran.
    pub fn keeping_results_of(mut self, earlier: &Hooks) -> Self {
        self.last = earlier.last.clone();
        self
    }

    /// How the hook of `hash` last ran (`ok`, `blocked: …`, `failed …`), once it has.
    pub fn last_result(&self, hash: &str) -> Option<String> {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(hash)
            .cloned()
    }

    /// Every hook, in the order the files name them.
    pub fn all(&self) -> &[Hook] {
        &self.all
    }

    /// The hooks that wait for the person's trust (none with the bypass; none turned off).
    pub fn untrusted(&self) -> Vec<&Hook> {
        match self.bypass_trust {
            true => Vec::new(),
            false => self
                .all
                .iter()
                .filter(|hook| !hook.trusted && hook.enabled)
                .collect(),
        }
    }

    /// Whether `event` has a hook that would run for a tool of these `names` (none for events
    /// without tools): what spares building a payload nobody reads.
    pub fn any_for(&self, event: HookEvent, names: &[&str]) -> bool {
        !self.runnable(event, names).is_empty()
    }

    /// The hooks `event` runs for a tool of these `names`: trusted (or the bypass), matched,
    /// each command once.
    fn runnable(&self, event: HookEvent, names: &[&str]) -> Vec<&Hook> {
        let mut seen = std::collections::HashSet::new();
        self.all
            .iter()
            .filter(|hook| hook.event == event && hook.enabled)
            .filter(|hook| hook.trusted || self.bypass_trust)
            .filter(|hook| names.is_empty() || hook.matches(names))
            .filter(|hook| seen.insert(hook.command.as_str()))
            .collect()
    }

    /// Runs `event`'s hooks for a tool of these `names` (none: not a tool event) together in
    /// `cwd`, each given `payload` on stdin, and says what they decided.
    pub async fn fire(
        &self,
        event: HookEvent,
        names: &[&str],
        cwd: &Path,
        payload: &serde_json::Value,
    ) -> Verdict {
        let hooks = self.runnable(event, names);
        if hooks.is_empty() {
            return Verdict::default();
        }
        let ran = run::all(&hooks, cwd, payload).await;
        {
            let mut last = self
                .last
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (hook, ran) in hooks.iter().zip(&ran) {
                last.insert(hook.hash(), answer::outcome(ran));
            }
        }
        answer::verdict(event, &ran)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(matcher: Option<&str>) -> Hook {
        Hook {
            event: HookEvent::PreToolUse,
            matcher: matcher.map(String::from),
            command: "true".into(),
            timeout: DEFAULT_TIMEOUT,
            source: PathBuf::from("/h.json"),
            trusted: true,
            enabled: true,
        }
    }

    /// Matchers read as Codex's: whole names, alternatives, patterns; a command is `Bash`, a
    /// patch `Edit|Write` as well as `apply_patch`.
    #[test]
    fn matchers_take_whole_tool_names_and_patterns() {
        let bash = &["Bash", "shell", "exec_command"];
        let patch = &["apply_patch", "Edit", "Write"];
        for (matcher, on_bash, on_patch) in [
            (None, true, true),
            (Some(""), true, true),
            (Some("*"), true, true),
            (Some(".*"), true, true),
            (Some("Bash"), true, false),
            (Some("Ba"), false, false),
            (Some("Edit|Write"), false, true),
            (Some("apply_patch"), false, true),
            (Some("Write"), false, true),
            (Some("("), false, false),
        ] {
            assert_eq!(hook(matcher).matches(bash), on_bash, "{matcher:?} on Bash");
            assert_eq!(
                hook(matcher).matches(patch),
                on_patch,
                "{matcher:?} on a patch"
            );
        }
    }

    /// Only trusted hooks run (or all with the bypass), each command once per event.
    #[test]
    fn untrusted_hooks_wait_and_a_command_runs_once() {
        let mut untrusted = hook(Some("Bash"));
        untrusted.command = "echo new".into();
        untrusted.trusted = false;
        let hooks = Hooks::new(
            vec![hook(None), hook(Some("Bash")), untrusted.clone()],
            false,
        );
        let bash = &["Bash", "shell"];
        assert_eq!(hooks.runnable(HookEvent::PreToolUse, bash).len(), 1);
        assert_eq!(hooks.untrusted(), [&untrusted]);
        assert!(!hooks.any_for(HookEvent::Stop, &[]));
        let bypassed = Hooks::new(hooks.all().to_vec(), true);
        assert_eq!(bypassed.runnable(HookEvent::PreToolUse, bash).len(), 2);
        assert!(bypassed.untrusted().is_empty());
        // One turned off runs in no case, and waits for no trust.
        let mut off = hooks.all().to_vec();
        off.iter_mut().for_each(|hook| hook.enabled = false);
        let off = Hooks::new(off, true);
        assert!(off.runnable(HookEvent::PreToolUse, bash).is_empty());
        let off = Hooks::new(off.all().to_vec(), false);
        assert!(off.untrusted().is_empty());
    }
}
