//! What the config says commands may not see (credential stores, variables, protected paths),
//! what it lets through, and the limits it sets on them; laid over one another file by file.

use std::path::PathBuf;

/// The config's say over what commands may not see: `hide_paths` and `keep_paths` (files and
/// folders, added to or taken from the credential stores hidden by default), `env_drop` and
/// `env_keep` (variable names, `*` matching any run of characters, added to or taken from the
/// patterns scrubbed by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretRules {
    pub hide_paths: Vec<PathBuf>,
    pub keep_paths: Vec<PathBuf>,
    pub env_drop: Vec<String>,
    pub env_keep: Vec<String>,
    /// `ssh_agent = true`: commands get `SSH_AUTH_SOCK` and may use the agent (for `git push`
    /// over ssh); off by default, as the agent signs with every key it holds.
    pub ssh_agent: bool,
    /// Paths in a project, relative to it, that commands may not change in `workspace-write`
    /// besides the default ones (git's config and hooks, `.envrc`, `.vscode`, `.idea`, `.codex`, `.agents/skills`).
    pub protected_paths: Vec<String>,
    /// `tool_caches`: the package caches commands may fill, each as a copy of their own (the
    /// defaults when `None`).
    pub tool_caches: Option<Vec<PathBuf>>,
    /// `max_command_timeout_ms`: the longest a model's command may ask to run (an hour when
    /// `None`).
    pub max_command_timeout_ms: Option<u64>,
    /// `private_tmp_max_mb`: the most the commands' private `/tmp` may hold when a command
    /// ends (1024 MB when `None`).
    pub private_tmp_max_mb: Option<u64>,
    /// `max_background_terminals`: how many background terminals a conversation may keep
    /// running (64 when `None`).
    pub max_background_terminals: Option<usize>,
    /// `[features] unified_exec`: the model runs commands with `exec_command` and
    /// `write_stdin` (on when `None`), or, off, with `shell`.
    pub unified_exec: Option<bool>,
}

impl SecretRules {
    /// These rules with a command line's `features.unified_exec`, which wins over the file's.
    pub fn overridden(self, unified_exec: Option<bool>) -> Self {
        Self {
            unified_exec: unified_exec.or(self.unified_exec),
            ..self
        }
    }

    /// These rules laid over those of a file below: the paths and variables of both, each
    /// single value this file's where it sets one.
    pub(super) fn over(self, lower: SecretRules) -> SecretRules {
        fn join<T>(mut high: Vec<T>, low: Vec<T>) -> Vec<T> {
            high.extend(low);
            high
        }
        SecretRules {
            hide_paths: join(self.hide_paths, lower.hide_paths),
            keep_paths: join(self.keep_paths, lower.keep_paths),
            env_drop: join(self.env_drop, lower.env_drop),
            env_keep: join(self.env_keep, lower.env_keep),
            ssh_agent: self.ssh_agent || lower.ssh_agent,
            protected_paths: join(self.protected_paths, lower.protected_paths),
            tool_caches: self.tool_caches.or(lower.tool_caches),
            max_command_timeout_ms: self.max_command_timeout_ms.or(lower.max_command_timeout_ms),
            private_tmp_max_mb: self.private_tmp_max_mb.or(lower.private_tmp_max_mb),
            max_background_terminals: self
                .max_background_terminals
                .or(lower.max_background_terminals),
            unified_exec: self.unified_exec.or(lower.unified_exec),
        }
    }
}
