//! Why a command's output says it was refused, in words that never claim more than kelp can
//! know: the rule of the mode, and what the person can change.

use std::path::{Path, PathBuf};

use super::{SandboxPolicy, paths};
use crate::protocol::SandboxMode;

/// What to tell the person and the model when a sandboxed command's output mentions a refusal
/// of the kind the sandbox gives, with the rule of the mode in force; `None` when nothing
/// points there.
///
/// The output is the command's to write: a script can print `EACCES: permission denied, mkdir
/// '~/.npm'` having tried nothing. Neither Landlock nor the seccomp filter tells an
/// unprivileged process what it refused, so kelp never names a path or says the sandbox did
/// it: it says what the output mentions and that it cannot tell. Paths are still read, to stay
/// quiet about refusals the sandbox cannot have caused (inside a writable place, or a file the
/// person could not write either).
pub fn explain_block(output: &str, policy: &SandboxPolicy, workdir: &Path) -> Option<String> {
    if !policy.is_active() {
        return None;
    }
    let roots = policy.writable_roots(workdir);
    let protected: Vec<PathBuf> = policy
        .protected_in(workdir)
        .iter()
        .map(|path| paths::real_path(path).unwrap_or_else(|_| path.clone()))
        .collect();
    let cannot_tell = |what: &str, allows: &str| {
        format!(
            "the output mentions {what}, and kelp cannot tell whether the sandbox caused it ({}; {allows})",
            policy.rule()
        )
    };
    let writes = match policy.mode {
        SandboxMode::ReadOnly => "`--sandbox workspace-write` lets commands write in the project",
        _ => "`--sandbox off` runs commands without the sandbox",
    };
    let mut unknown = false;
    for line in output.lines() {
        let lower = line.to_ascii_lowercase();
        if !DENIALS.iter().any(|denial| lower.contains(denial)) {
            continue;
        }
        if !policy.network
            && ["connect", "bind", "socket", "network"]
                .iter()
                .any(|w| lower.contains(w))
        {
            return Some(cannot_tell(
                "a refused network connection",
                "`--network on`, or `network = \"on\"` in config.toml, lets commands use it",
            ));
        }
        let candidates = path_candidates(line);
        unknown |= candidates.is_empty();
        for candidate in candidates {
            let full = paths::resolve(workdir, Path::new(candidate));
            let real = paths::real_path(&full).unwrap_or(full);
            if protected.iter().any(|path| real.starts_with(path)) {
                return Some(cannot_tell(
                    "a refused write to what runs later (git's config and hooks, `.envrc`, editors' tasks, `protected_paths`), which commands may not change",
                    "a patch may, once you approve it",
                ));
            }
            if !roots.iter().any(|root| real.starts_with(root)) && user_may_write(&real) {
                return Some(cannot_tell(
                    "a refused write to a place outside the sandbox's writable ones",
                    writes,
                ));
            }
        }
    }
    unknown.then(|| cannot_tell("a permission error", writes))
}

/// How programs word a refusal of the kind the sandbox gives.
const DENIALS: [&str; 3] = [
    "permission denied",
    "operation not permitted",
    "read-only file system",
];

impl SandboxPolicy {
    /// The rule of this mode, in a few words, for a note about what it blocked.
    pub fn rule(&self) -> String {
        const DOMAINS: &str = "reach only the domains of allowed_domains and those the person \
                               allows, through kelp's proxy (which answers a refusal with its \
                               reason)";
        match (self.mode, self.network, self.domains.is_some()) {
            (SandboxMode::ReadOnly, true, _) => "read-only: commands write nowhere".to_string(),
            (SandboxMode::ReadOnly, false, true) => {
                format!("read-only: commands write nowhere, and {DOMAINS}")
            }
            (SandboxMode::ReadOnly, false, false) => {
                "read-only: commands write nowhere, and use no network".to_string()
            }
            (_, true, _) => "workspace-write: commands write only inside the project, the temp dirs, kelp's cache and a copy of the package caches".to_string(),
            (_, false, true) => format!("workspace-write: commands write only inside the project, the temp dirs, kelp's cache and a copy of the package caches, and {DOMAINS}"),
            (_, false, false) => "workspace-write: commands write only inside the project, the temp dirs and kelp's cache, and use no network".to_string(),
        }
    }
}

/// Quoted strings and words that look like paths, in the forms tools print them: quoted ones
/// first, then bare words from the end of the line (the path sits next to the error, the
/// program's own name at the start).
pub(super) fn path_candidates(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for (open, close) in [('\'', '\''), ('‘', '’'), ('"', '"'), ('`', '\'')] {
        let mut rest = line;
        while let Some(start) = rest.find(open) {
            let after = &rest[start + open.len_utf8()..];
            let Some(end) = after.find(close) else { break };
            let quoted = &after[..end];
            if !quoted.is_empty() && !quoted.contains(char::is_whitespace) {
                out.push(quoted);
            }
            rest = &after[end + close.len_utf8()..];
        }
    }
    // The word just before the refusal, as shells print it: `bash: line 1: made.txt:
    // Permission denied`, `cannot create made.txt: Permission denied`.
    let lower = line.to_ascii_lowercase();
    if let Some(at) = DENIALS
        .iter()
        .find_map(|denial| lower.find(&format!(": {denial}")))
    {
        let before = line[..at].rsplit(": ").next().unwrap_or("");
        let word = before.rsplit(char::is_whitespace).next().unwrap_or("");
        let word = word.trim_matches(|c| matches!(c, '\'' | '"' | '`' | '‘' | '’'));
        if !word.is_empty() && !word.starts_with('[') && !out.contains(&word) {
            out.push(word);
        }
    }
    // Then absolute paths from the end, past the program's own name at the start.
    let after_program = line.split_once(": ").map_or(line, |(_, rest)| rest);
    out.extend(
        after_program
            .split(|c: char| c.is_whitespace() || c == ':' || c == ',')
            .filter(|word| word.starts_with('/'))
            .rev(),
    );
    out
}

/// Whether the user could write `path` (or create it in its folder) without the sandbox:
/// Landlock does not hook `access(2)`, so this tells its denials from ordinary ones.
fn user_may_write(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let writable = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes()).is_ok_and(|c| {
            // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
            unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
        })
    };
    if path.exists() {
        writable(path)
    } else {
        path.parent().is_some_and(writable)
    }
}

/// What the sandbox stopped, for a command that failed: what the proxy refused, in its words
/// (a tunnel's 403 rarely reaches the output), or what the output says was denied.
pub fn why_blocked(
    refused: &[super::proxy::Refusal],
    output: &str,
    sandbox: &SandboxPolicy,
    dir: &Path,
) -> Option<String> {
    if refused.is_empty() {
        return explain_block(output, sandbox, dir);
    }
    let whys: Vec<&str> = refused.iter().map(|refusal| refusal.why.as_str()).collect();
    Some(format!(
        "kelp's proxy refused it: {} ({})",
        whys.join("; "),
        sandbox.rule()
    ))
}
