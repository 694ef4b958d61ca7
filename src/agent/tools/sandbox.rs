//! The kernel sandbox for the commands the model writes. Approval is a prompt, not a boundary:
//! in `auto-edit` and `full-auto` a command runs with the user's rights, so each one runs under
//! Landlock, applied in the child between fork and exec (kelp itself is never restricted).
//!
//! `workspace-write` lets a command read everywhere and write only beneath the project, the
//! temp dirs and kelp's cache (plus the harmless devices such as `/dev/null`); `read-only`
//! writes nowhere; `network = false` (the default) also denies TCP connect and bind (Landlock
//! ABI 4 and later). Where the kernel has no Landlock, kelp says so and falls back to approvals.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr,
    RulesetCreated, RulesetCreatedAttr, RulesetError, RulesetStatus, path_beneath_rules,
};

use super::paths;
use crate::config::SandboxMode;

/// The filesystem rights kelp asks for: ABI 5 adds device ioctls, so a program that opens
/// `/dev/tty` itself still works. Later ABIs would also fence Unix sockets (ssh-agent, DNS).
const FS_ABI: ABI = ABI::V5;

/// Devices any ordinary command writes to.
const DEVICES: [&str; 7] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/tty",
    "/dev/random",
    "/dev/urandom",
    "/dev/shm",
];

/// What a command may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxPolicy {
    /// How much it may write.
    pub mode: SandboxMode,
    /// Whether it may open TCP connections.
    pub network: bool,
    /// Directories it may write besides the project: the temp dirs and kelp's cache.
    pub extra_writable: Vec<PathBuf>,
}

impl Default for SandboxPolicy {
    /// No sandbox: what a library user gets unless it asks for one.
    fn default() -> Self {
        Self::off()
    }
}

impl SandboxPolicy {
    /// No sandbox.
    pub fn off() -> Self {
        Self {
            mode: SandboxMode::Off,
            network: true,
            extra_writable: Vec::new(),
        }
    }

    /// `mode` and `network`, with the temp dirs and kelp's cache writable.
    pub fn new(mode: SandboxMode, network: bool) -> Self {
        let mut extra = vec![std::env::temp_dir(), PathBuf::from("/tmp")];
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")));
        extra.extend(cache.map(|dir| dir.join("kelp")));
        Self {
            mode,
            network,
            extra_writable: extra,
        }
    }

    /// Whether commands run sandboxed: asked for and possible on this kernel.
    pub fn is_active(&self) -> bool {
        self.mode != SandboxMode::Off && support().abi().is_some()
    }

    /// Where a command may write, as real paths.
    pub fn writable_roots(&self, project_dir: &Path) -> Vec<PathBuf> {
        match self.mode {
            SandboxMode::Off => vec![PathBuf::from("/")],
            SandboxMode::ReadOnly => Vec::new(),
            SandboxMode::WorkspaceWrite => std::iter::once(project_dir)
                .chain(self.extra_writable.iter().map(PathBuf::as_path))
                .map(|dir| paths::real_path(dir).unwrap_or_else(|_| dir.to_path_buf()))
                .collect(),
        }
    }

    /// One line for `/status` and help: the mode and whether the kernel enforces it.
    pub fn describe(&self) -> String {
        let network = if self.network {
            "network allowed"
        } else {
            "no network"
        };
        match (self.mode, support()) {
            (SandboxMode::Off, _) => "off: commands run with your full rights".to_string(),
            (mode, Support::Available { abi }) if *abi < 4 && !self.network => format!(
                "{mode} (Landlock ABI {abi}; too old to block the network, so it is not blocked)"
            ),
            (mode, Support::Available { abi }) => format!("{mode}, {network} (Landlock ABI {abi})"),
            (mode, Support::Missing { reason }) => {
                format!("{mode} asked, but unavailable ({reason}): approvals only")
            }
        }
    }

    /// What to tell a person once at start when the sandbox asked for cannot be had.
    pub fn startup_warning(&self) -> Option<String> {
        match (self.mode, support()) {
            (SandboxMode::Off, _) | (_, Support::Available { .. }) => None,
            (_, Support::Missing { reason }) => Some(format!(
                "the kernel sandbox is unavailable ({reason}): commands run with your full rights, guarded by approvals only"
            )),
        }
    }
}

/// Whether this kernel can sandbox commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Support {
    /// Landlock works, at this ABI version.
    Available { abi: i32 },
    /// It does not, and why.
    Missing { reason: String },
}

impl Support {
    fn abi(&self) -> Option<i32> {
        match self {
            Self::Available { abi } => Some(*abi),
            Self::Missing { .. } => None,
        }
    }
}

/// What this kernel offers, asked once.
pub fn support() -> &'static Support {
    static SUPPORT: OnceLock<Support> = OnceLock::new();
    SUPPORT.get_or_init(probe)
}

#[cfg(target_os = "linux")]
fn probe() -> Support {
    // LANDLOCK_CREATE_RULESET_VERSION: asks for the ABI version without creating anything.
    const VERSION: libc::c_uint = 1;
    // SAFETY: with a null attribute pointer, size 0 and this flag the call only returns a
    // number; it reads and writes no memory.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            VERSION,
        )
    };
    if abi >= 1 {
        return Support::Available {
            abi: i32::try_from(abi).unwrap_or(i32::MAX),
        };
    }
    let reason = match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::ENOSYS) => "this kernel has no Landlock".to_string(),
        Some(libc::EOPNOTSUPP) => {
            "Landlock is turned off in this kernel's boot options".to_string()
        }
        _ => format!("Landlock: {}", std::io::Error::last_os_error()),
    };
    Support::Missing { reason }
}

#[cfg(not(target_os = "linux"))]
fn probe() -> Support {
    Support::Missing {
        reason: "Landlock is a Linux feature".to_string(),
    }
}

/// The rules for one command, built in the parent: building allocates and opens files, which
/// the forked child of a threaded process must not do.
pub struct PreparedSandbox(RulesetCreated);

/// The sandbox could not be set up for a command.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the sandbox: {0}")]
pub struct SandboxError(#[from] RulesetError);

/// The rules for a command run under `policy` in `project_dir`; `None` when it runs
/// unsandboxed (off, or no Landlock here).
pub fn prepare(
    policy: &SandboxPolicy,
    project_dir: &Path,
) -> Result<Option<PreparedSandbox>, SandboxError> {
    let Some(abi) = support().abi().filter(|_| policy.mode != SandboxMode::Off) else {
        return Ok(None);
    };
    let all = AccessFs::from_all(FS_ABI);
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)?;
    if !policy.network && abi >= 4 {
        // Handled with no rule that allows a port: every TCP connect and bind is denied.
        ruleset = ruleset.handle_access(AccessNet::from_all(ABI::V4))?;
    }
    let created = ruleset
        .create()?
        .add_rules(path_beneath_rules(["/"], AccessFs::from_read(FS_ABI)))?
        .add_rules(path_beneath_rules(DEVICES, all))?
        .add_rules(path_beneath_rules(policy.writable_roots(project_dir), all))?;
    Ok(Some(PreparedSandbox(created)))
}

impl PreparedSandbox {
    /// Makes `command` restrict itself just before it execs; if that fails, it never runs.
    pub fn install(self, command: &mut tokio::process::Command) {
        let mut rules = Some(self.0);
        // SAFETY: the hook runs in the forked child; it only moves the prepared ruleset out of
        // its slot and makes the two system calls of `restrict_self`, allocating nothing (its
        // error is a raw OS error).
        unsafe {
            command.pre_exec(move || {
                let rules = rules
                    .take()
                    .ok_or_else(|| std::io::Error::from_raw_os_error(libc::EINVAL))?;
                match rules.restrict_self() {
                    Ok(status) if status.ruleset != RulesetStatus::NotEnforced => Ok(()),
                    Ok(_) => Err(std::io::Error::from_raw_os_error(libc::ENOSYS)),
                    Err(_) => Err(std::io::Error::last_os_error()),
                }
            });
        }
    }
}

/// Why a sandboxed command's failure looks like the sandbox's doing, read off its output:
/// `blocked by the sandbox: write to /etc/x`, or the network. `None` when nothing points there.
pub fn explain_block(output: &str, policy: &SandboxPolicy, workdir: &Path) -> Option<String> {
    if !policy.is_active() {
        return None;
    }
    let roots = policy.writable_roots(workdir);
    for line in output.lines() {
        let lower = line.to_ascii_lowercase();
        if !(lower.contains("permission denied") || lower.contains("operation not permitted")) {
            continue;
        }
        if !policy.network
            && ["connect", "bind", "socket", "network"]
                .iter()
                .any(|w| lower.contains(w))
        {
            return Some(
                "blocked by the sandbox: a network connection (network is off)".to_string(),
            );
        }
        for candidate in path_candidates(line) {
            let full = paths::resolve(workdir, Path::new(candidate));
            let real = paths::real_path(&full).unwrap_or(full);
            if !roots.iter().any(|root| real.starts_with(root)) && user_may_write(&real) {
                return Some(format!(
                    "blocked by the sandbox: write to {}",
                    real.display()
                ));
            }
        }
    }
    None
}

/// Quoted strings and words that look like paths, in the forms tools print them: quoted ones
/// first, then bare words from the end of the line (the path sits next to the error, the
/// program's own name at the start).
fn path_candidates(line: &str) -> Vec<&str> {
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
    out.extend(
        line.split(|c: char| c.is_whitespace() || c == ':' || c == ',')
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_found_in_the_usual_error_shapes() {
        for (line, path) in [
            ("touch: cannot touch '/etc/x': Permission denied", "/etc/x"),
            (
                "mkdir: cannot create directory ‘/opt/y’: Permission denied",
                "/opt/y",
            ),
            ("bash: /etc/z: Permission denied", "/etc/z"),
            (
                "/bin/sh: 1: cannot create /srv/v: Permission denied",
                "/srv/v",
            ),
            (
                "PermissionError: [Errno 13] Permission denied: '/srv/w'",
                "/srv/w",
            ),
        ] {
            assert_eq!(path_candidates(line).first(), Some(&path), "{line}");
        }
    }

    #[test]
    fn modes_describe_themselves() {
        assert!(SandboxPolicy::off().describe().starts_with("off"));
        let policy = SandboxPolicy::new(SandboxMode::WorkspaceWrite, false);
        assert!(policy.describe().starts_with("workspace-write"));
        assert!(policy.extra_writable.contains(&PathBuf::from("/tmp")));
        assert!(
            SandboxPolicy::new(SandboxMode::ReadOnly, false)
                .writable_roots(Path::new("/p"))
                .is_empty()
        );
    }
}
