//! The kernel sandbox for the commands the model writes: a floor of its own beneath the tools,
//! which promises that a command it starts sees and changes only what its policy gives.
//! Approval is a prompt, not a boundary:
//! in `auto-edit` and `full-auto` a command runs with the user's rights, so each one runs in
//! layers set up in the child between fork and exec (kelp itself is never restricted):
//!
//! 1. namespaces ([`namespaces`]): the credential stores and the user's daemons hidden, a
//!    private `/tmp`, its own process tree, and with the network off no network at all;
//! 2. Landlock: `workspace-write` lets a command read everywhere and write only beneath the
//!    project, the temp dirs and kelp's cache (with the network on, a copy of the package
//!    caches too; plus the harmless devices such as `/dev/null`), `read-only` writes nowhere; with the network off no TCP connect or bind (ABI 4); no
//!    signal to, and no abstract socket of, anything outside (ABI 6);
//! 3. seccomp ([`seccomp`]): what the other two leave open.
//!
//! Each layer the kernel refuses is said once and shown by `/status`; the others still hold.
//!
//! [`proxy`] is the proxy, run by kelp outside the sandbox, through which a command may reach
//! the domains the person allows and nothing else.
//!
//! Its other files:
//! - `daemons.rs`: the daemons a command must not reach, and the sockets bound when it starts.
//! - `explain.rs`: why a command's output says it was refused, in words.
//! - `left_behind.rs`: what a command could leave that runs later, set aside when it ends; where
//!   a project's commands keep their copies of the package caches.
//! - `paths.rs`: where a tool's path points.
//! - `private_tmp.rs`: the private `/tmp` of this kelp's commands, held, capped and swept.
//! - `repositories.rs`: the git repositories a project holds, at any depth, and the parts of each
//!   that git reads as instructions.
//! - `rules.rs`: Landlock's part of the sandbox.
//! - `secrets.rs`: what a command must not see, whatever it is allowed to write.
//! - `worktree.rs`: where git keeps a linked worktree, and what of it git reads as instructions.

mod daemons;
mod explain;
mod left_behind;
mod namespaces;
pub mod paths;
mod private_tmp;
pub mod proxy;
mod repositories;
mod rules;
mod seccomp;
pub mod secrets;
mod worktree;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use landlock::{ABI, Access, AccessFs, RulesetError};

use crate::config::Config;

use crate::protocol::SandboxMode;
pub use explain::{explain_block, why_blocked};
pub use left_behind::{LeftBehind, layers_of};
pub use namespaces::PROXY_PORT;
pub use private_tmp::{hold_private_tmp_to, remove_private_tmp};
pub use proxy::handoff::{Domains, ProxyHandoff, ServingProxy};
pub use repositories::{Repositories, is_plain_config, patch_makes_a_repository};
use rules::{FS_ABI, Landlock, landlock_rules, probe_landlock, unreadable};
pub use secrets::Secrets;
use worktree::Worktree;

/// Set, kelp makes no namespaces, as on a kernel that refuses them (Ubuntu 23.10 and later,
/// Docker): to try the sandbox that such a machine gets.
pub const NO_NAMESPACES_VAR: &str = "KELP_SANDBOX_NO_NAMESPACES";

/// Set (to anything but `0`), kelp runs commands as on a kernel that refuses seccomp filters:
/// no filter, and so no namespaces either (see [`Support::seccomp`]).
pub const NO_SECCOMP_VAR: &str = "KELP_SANDBOX_NO_SECCOMP";

/// What a command may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxPolicy {
    /// How much it may write.
    pub mode: SandboxMode,
    /// Whether it may use the network.
    pub network: bool,
    /// Directories it may write besides the project: the temp dirs and kelp's cache.
    pub extra_writable: Vec<PathBuf>,
    /// What it may not see: credential files and variables.
    pub secrets: Secrets,
    /// Why the mode is not the one configured, to say once at start.
    pub note: Option<String>,
    /// Paths in the project that commands may not change in `workspace-write`, relative to it:
    /// [`PROTECTED`] and the config's `protected_paths`.
    pub protected: Vec<String>,
    /// Package caches a command may fill in `workspace-write`, each as a copy of its own:
    /// [`TOOL_CACHES`] under the home folder, or the config's `tool_caches`.
    pub caches: Vec<PathBuf>,
    /// Where kelp keeps the commands' copies of the caches, for this project alone: beneath
    /// kelp's state folder, which commands cannot see, so only the overlay a command with the
    /// network on gets writes there.
    pub cache_layers: Option<PathBuf>,
    /// The longest a model's command may ask to run (`max_command_timeout_ms`).
    pub max_timeout: std::time::Duration,
    /// The most the commands' private `/tmp` may hold, in bytes, when a command ends
    /// (`private_tmp_max_mb`).
    pub tmp_cap: u64,
    /// `network = "domains"`: with the network otherwise off, commands reach kelp's proxy,
    /// which lets them through to the domains the person allows.
    pub domains: Option<Domains>,
    /// In `read-only`, the commands' private `/tmp` may be written too (what a language server
    /// needs for its caches; nothing of the person's).
    pub private_tmp_in_read_only: bool,
}

/// What the commands' private `/tmp` may hold unless `private_tmp_max_mb` says otherwise.
pub const DEFAULT_TMP_CAP_MB: u64 = 1024;

/// How long a model's command may ask to run unless `max_command_timeout_ms` says otherwise.
pub const DEFAULT_MAX_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

/// The package caches a build fills, under the home folder. A command writes them through a
/// layer of kelp's own (an overlay in its mount namespace): the tools the person runs later,
/// outside, never see what a command put there (a changed `build.rs` in cargo's extracted
/// sources would otherwise run with the person's rights at their next build).
pub const TOOL_CACHES: [&str; 11] = [
    ".cargo/registry",
    ".cargo/git",
    ".npm",
    ".cache/pip",
    ".cache/uv",
    ".cache/yarn",
    ".cache/go-build",
    "go/pkg/mod",
    ".local/share/pnpm/store",
    ".m2/repository",
    ".gradle/caches",
];

/// What runs later, unsandboxed, and so is read-only to commands by default: git's config and
/// hooks (`core.fsmonitor`, `pre-commit`), direnv's `.envrc`, editors' task files, and the
/// project's agent config that kelp and Codex read (`.codex`: Codex's `config.toml` starts MCP
/// servers, and its skills and `.agents/skills` tell kelp's model what to do).
pub const PROTECTED: [&str; 7] = [
    ".git/config",
    ".git/hooks",
    ".envrc",
    ".vscode",
    ".idea",
    ".codex",
    ".agents/skills",
];

impl Default for SandboxPolicy {
    /// No sandbox: what a library user gets unless it asks for one.
    fn default() -> Self {
        Self::off()
    }
}

impl SandboxPolicy {
    /// No sandbox (the environment is still scrubbed of credentials).
    pub fn off() -> Self {
        Self {
            mode: SandboxMode::Off,
            network: true,
            extra_writable: Vec::new(),
            secrets: Secrets::default(),
            note: None,
            protected: Vec::new(),
            caches: Vec::new(),
            cache_layers: None,
            max_timeout: DEFAULT_MAX_TIMEOUT,
            tmp_cap: DEFAULT_TMP_CAP_MB * 1024 * 1024,
            domains: None,
            private_tmp_in_read_only: false,
        }
    }

    /// `mode` and `network`, with the temp dirs and kelp's cache writable and the default
    /// credential stores hidden.
    pub fn new(mode: SandboxMode, network: bool) -> Self {
        let mut extra = vec![std::env::temp_dir(), PathBuf::from("/tmp")];
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|home| home.join(".cache")));
        let kelp_cache = cache.map(|dir| dir.join("kelp"));
        extra.extend(kelp_cache.clone());
        Self {
            mode,
            network,
            extra_writable: extra,
            secrets: Secrets::defaults(home.as_deref()),
            note: None,
            protected: PROTECTED.map(String::from).to_vec(),
            caches: home
                .as_ref()
                .map(|home| TOOL_CACHES.iter().map(|cache| home.join(cache)).collect())
                .unwrap_or_default(),
            // Per project, and only once the project is known (`for_project`).
            cache_layers: None,
            max_timeout: DEFAULT_MAX_TIMEOUT,
            tmp_cap: DEFAULT_TMP_CAP_MB * 1024 * 1024,
            domains: None,
            private_tmp_in_read_only: false,
        }
    }

    /// The sandbox `config` asks for, hiding kelp's own files where it keeps them.
    pub fn for_config(config: &Config) -> Self {
        let mut policy = Self {
            secrets: Secrets::for_config(config),
            ..Self::new(config.sandbox, config.network)
        };
        policy
            .protected
            .extend(config.secrets.protected_paths.iter().cloned());
        policy
            .extra_writable
            .extend(config.writable_roots.iter().cloned());
        if let Some(caches) = &config.secrets.tool_caches {
            policy.caches.clone_from(caches);
        }
        if let Some(ms) = config.secrets.max_command_timeout_ms {
            policy.max_timeout = std::time::Duration::from_millis(ms);
        }
        if let Some(mb) = config.secrets.private_tmp_max_mb {
            policy.tmp_cap = mb.saturating_mul(1024 * 1024);
        }
        if config.network_domains && !config.network && config.sandbox != SandboxMode::Off {
            policy.domains = Some(Domains::of(config));
        }
        policy
    }

    /// Whether a command may download anything: the network on, or some domains through the
    /// proxy.
    pub fn downloads(&self) -> bool {
        self.network || self.domains.is_some()
    }

    /// The caches that exist, each with the folder of kelp's layer over it, for a command in
    /// `workspace-write` with the network on: what fills a cache is a download, and each
    /// overlay costs a command about a millisecond to mount.
    pub fn cache_layers(&self) -> Vec<namespaces::CacheLayer> {
        let Some(layers) = self.cache_layers.as_deref() else {
            return Vec::new();
        };
        if self.mode != SandboxMode::WorkspaceWrite || !self.downloads() {
            return Vec::new();
        }
        self.caches
            .iter()
            .filter_map(|cache| std::fs::canonicalize(cache).ok())
            .filter(|cache| cache.is_dir())
            .map(|cache| {
                // One folder per cache, named after its path: `root.cargo%registry`.
                let name: String = cache
                    .to_string_lossy()
                    .chars()
                    .map(|c| if c == '/' { '%' } else { c })
                    .collect();
                namespaces::CacheLayer {
                    layer: layers.join(name.trim_start_matches('%')),
                    cache,
                }
            })
            .collect()
    }

    /// The protected paths that exist in the project, for a command in `workspace-write`; in a
    /// worktree, its `.git` file and, in the folder git keeps for it, the files that say where
    /// the repository is and how it is configured.
    pub fn protected_in(&self, project_dir: &Path) -> Vec<PathBuf> {
        if self.mode != SandboxMode::WorkspaceWrite {
            return Vec::new();
        }
        let worktree = Worktree::of(project_dir);
        let pointers = worktree.iter().flat_map(|worktree| {
            std::iter::once(project_dir.join(".git")).chain(worktree.instructions())
        });
        self.protected
            .iter()
            .map(|rel| project_dir.join(rel))
            .chain(pointers)
            .filter(|path| path.symlink_metadata().is_ok())
            .collect()
    }

    /// The protected paths of the project that do not exist yet, for a command in
    /// `workspace-write`: a mount can only cover what exists, so these are looked at again
    /// when the command ends ([`LeftBehind::set_aside`]). `.git/commondir` is one: created, it
    /// would point git at another repository's config.
    /// In a worktree, so are the instructions git would read in the worktree's own folder
    /// outside the project (its `config.worktree`, once `extensions.worktreeConfig` is on),
    /// each with that folder to be reached from. Each path comes with the folder it is reached
    /// from when moved aside.
    fn absent_protected(&self, project_dir: &Path) -> Vec<(PathBuf, PathBuf)> {
        if self.mode != SandboxMode::WorkspaceWrite || !self.is_active() {
            return Vec::new();
        }
        let in_project = self
            .protected
            .iter()
            .map(String::as_str)
            .chain([".git/commondir"])
            .map(|rel| (project_dir.to_path_buf(), project_dir.join(rel)));
        let in_worktree = Worktree::of(project_dir).into_iter().flat_map(|worktree| {
            let own = worktree.git_dir.clone();
            worktree
                .instructions()
                .map(move |path| (own.clone(), path))
                .collect::<Vec<_>>()
        });
        in_project
            .chain(in_worktree)
            .filter(|(_, path)| path.symlink_metadata().is_err())
            .collect()
    }

    /// The sandbox `config` asks for, for commands of the project at `project_dir`. A project
    /// that is, or holds, the home folder is no place to write freely (a command would append
    /// to `~/.bashrc` or `~/.config/autostart`): `workspace-write` becomes `read-only` there,
    /// with a note saying why, unless the person chose the mode with a flag.
    pub fn for_project(config: &Config, project_dir: &Path) -> Self {
        let mut policy = Self::for_config(config);
        policy.cache_layers = Some(layers_of(&config.state_dir, project_dir));
        let home = std::env::var_os("HOME").filter(|home| !home.is_empty());
        if policy.mode == SandboxMode::WorkspaceWrite
            && !config.sandbox_chosen
            && let Some(home) = home
        {
            let real = |path: &Path| paths::real_path(path).unwrap_or_else(|_| path.into());
            let (home, project) = (real(Path::new(&home)), real(project_dir));
            if home.starts_with(&project) {
                policy.mode = SandboxMode::ReadOnly;
                policy.note = Some(format!(
                    "commands are read-only here: {} holds your home folder, where a command could change your shell's start-up files (`--sandbox workspace-write` allows writes anyway)",
                    project.display()
                ));
            }
        }
        policy
    }

    /// The same policy with another mode and network setting.
    pub fn with_mode(self, mode: SandboxMode, network: bool) -> Self {
        Self {
            mode,
            network,
            ..self
        }
    }

    /// The Unix sockets a command with the network on could connect to and may not, as real
    /// paths, for the namespace to hide: every one bound in kelp's network namespace (a daemon's
    /// wherever it listens: a password manager's agent, a terminal multiplexer's session, a
    /// container manager's), but those beneath a place the command may write, in `/tmp` (the
    /// command's is private, the machine's out of sight), beneath `keep_paths`, already hidden,
    /// or the ssh agent the person lends. `None` when the table cannot be read whole: then
    /// commands get no Unix socket at all.
    fn unreached_sockets(&self, project_dir: &Path, hidden: &[PathBuf]) -> Option<Vec<PathBuf>> {
        use std::os::unix::fs::FileTypeExt;
        let real = |path: &Path| paths::real_path(path).unwrap_or_else(|_| path.to_path_buf());
        let reachable: Vec<PathBuf> = self
            .writable_roots(project_dir)
            .into_iter()
            .chain(self.secrets.kept.iter().map(|path| real(path)))
            .chain(hidden.iter().map(|path| real(path)))
            .chain([PathBuf::from("/tmp")])
            .collect();
        let agent = self.secrets.ssh_agent.as_deref().map(real);
        let sockets = daemons::bound_sockets()?
            .into_iter()
            .filter(|bound| !bound.starts_with("/tmp"))
            .filter_map(|bound| std::fs::canonicalize(bound).ok())
            .filter(|socket| !reachable.iter().any(|place| socket.starts_with(place)))
            .filter(|socket| agent.as_ref() != Some(socket))
            .filter(|socket| {
                std::fs::metadata(socket).is_ok_and(|meta| meta.file_type().is_socket())
            })
            .collect::<Vec<_>>();
        Some(sockets)
    }

    /// Whether commands run sandboxed: asked for, and some layer possible on this kernel.
    pub fn is_active(&self) -> bool {
        let support = support();
        self.mode != SandboxMode::Off && (support.landlock.is_ok() || support.namespaces.is_ok())
    }

    /// Where a command may write, as real paths: in a git worktree, also what a commit there
    /// writes outside it (its own folder in the repository, and the repository's objects, refs
    /// and logs; not the repository's config or hooks).
    pub fn writable_roots(&self, project_dir: &Path) -> Vec<PathBuf> {
        match self.mode {
            SandboxMode::Off => vec![PathBuf::from("/")],
            SandboxMode::ReadOnly => Vec::new(),
            SandboxMode::WorkspaceWrite => {
                let worktree = Worktree::of(project_dir);
                let git = worktree.iter().flat_map(|worktree| {
                    let common = &worktree.common_dir;
                    [
                        worktree.git_dir.clone(),
                        common.join("objects"),
                        common.join("refs"),
                        common.join("logs"),
                    ]
                });
                std::iter::once(project_dir.to_path_buf())
                    .chain(self.extra_writable.iter().cloned())
                    .chain(git)
                    .map(|dir| paths::real_path(&dir).unwrap_or(dir))
                    .collect()
            }
        }
    }

    /// One line for `/status` and help: the mode and the layers the kernel enforces.
    pub fn describe(&self) -> String {
        let network = match (&self.domains, self.network) {
            (_, true) => "network allowed".to_string(),
            (Some(domains), false) if support().namespaces.is_ok() => format!(
                "network only to the allowed domains, through kelp's proxy ({})",
                domains.summary()
            ),
            (Some(_), false) => "no network (reaching some domains needs namespaces)".to_string(),
            (None, false) => "no network".to_string(),
        };
        if self.mode == SandboxMode::Off {
            return "off: commands run with your full rights".to_string();
        }
        let support = support();
        let mut layers = Vec::new();
        match &support.namespaces {
            Ok(()) => layers.push("namespaces".to_string()),
            Err(reason) => layers.push(format!("no namespaces: {reason}")),
        }
        match &support.landlock {
            Ok(abi) if *abi < 4 && !self.network => layers.push(format!(
                "Landlock ABI {abi}, too old to block TCP: the namespace does"
            )),
            Ok(abi) => layers.push(format!("Landlock ABI {abi}")),
            Err(reason) => layers.push(format!("no Landlock: {reason}")),
        }
        match &support.seccomp {
            Ok(()) => layers.push("seccomp".to_string()),
            Err(reason) => layers.push(format!("no seccomp: {reason}")),
        }
        if !self.is_active() {
            return format!(
                "{} asked, but unavailable ({}): approvals only",
                self.mode,
                layers.join("; ")
            );
        }
        format!("{}, {network} ({})", self.mode, layers.join("; "))
    }

    /// What commands cannot see, for `/status`.
    pub fn describe_hidden(&self) -> Option<String> {
        if !self.is_active() {
            return None;
        }
        let secrets = self.secrets.describe();
        if support().namespaces.is_err() {
            // Landlock alone: the same stores unread, the sockets refused whole by seccomp.
            let sockets = match support().seccomp {
                Ok(()) => "Unix sockets are refused",
                Err(_) => "Unix sockets are not refused (no seccomp here)",
            };
            return support().landlock.is_ok().then(|| {
                format!(
                    "{secrets}, /run/user, your terminals and /dev/shm (unreadable); {sockets}; /tmp is the machine's"
                )
            });
        }
        let agent = match &self.secrets.ssh_agent {
            Some(_) => "the ssh agent is theirs to use (ssh_agent = true)",
            None => "the ssh agent is not (ssh_agent = true in config.toml lends it)",
        };
        Some(format!(
            "{secrets}, /run/user, and with the network on every daemon's socket outside the project (keep_paths keeps one); /tmp is private; {agent}"
        ))
    }

    /// The package caches commands fill, each in a copy of their own, for `/status`; `None`
    /// where there are none, or no namespaces to lay the copies in.
    pub fn describe_caches(&self) -> Option<String> {
        if !self.is_active() || support().namespaces.is_err() {
            return None;
        }
        let shown: Vec<String> = self
            .cache_layers()
            .iter()
            .map(|layer| crate::humanize::home_path(&layer.cache))
            .collect();
        let layers = self
            .cache_layers
            .as_deref()
            .map(crate::humanize::home_path)
            .unwrap_or_default();
        (!shown.is_empty()).then(|| {
            format!(
                "{} (with the network on, commands write a copy of this project's own, kept in {layers}: remove that folder to empty it; tool_caches in config.toml)",
                shown.join(", ")
            )
        })
    }

    /// What to tell a person once at start when a layer of the sandbox cannot be had.
    pub fn startup_warning(&self) -> Option<String> {
        if let Some(note) = &self.note {
            return Some(note.clone());
        }
        if self.mode == SandboxMode::Off {
            return None;
        }
        match (&support().namespaces, &support().landlock) {
            (Ok(()), Ok(_)) => None,
            (Err(ns), Err(landlock)) => Some(format!(
                "the kernel sandbox is unavailable ({ns}; {landlock}): commands run with your full rights, guarded by approvals only"
            )),
            (Err(reason), Ok(_)) => Some(format!(
                "command namespaces are unavailable ({reason}): credential stores are not hidden from commands, and Unix sockets are refused instead; Landlock still limits writes"
            )),
            (Ok(()), Err(reason)) => Some(format!(
                "Landlock is unavailable ({reason}): commands may write anywhere you can; namespaces still hide credentials and your processes"
            )),
        }
    }
}

/// What this kernel offers for sandboxing commands, asked once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Support {
    /// Landlock's ABI version, or why there is none.
    pub landlock: Result<i32, String>,
    /// Whether unprivileged user, mount and PID namespaces can be made, or why not.
    pub namespaces: Result<(), String>,
    /// Whether a seccomp filter can be installed, or why not. Without one, a command would be
    /// root in its namespace with `mount` and `umount` at hand, free to undo the mounts that
    /// hide secrets: kelp then makes no namespaces and relies on Landlock alone.
    pub seccomp: Result<(), String>,
}

/// What this kernel offers, asked once.
pub fn support() -> &'static Support {
    static SUPPORT: OnceLock<Support> = OnceLock::new();
    SUPPORT.get_or_init(|| {
        let set =
            |var: &str| std::env::var_os(var).is_some_and(|set| !set.is_empty() && set != "0");
        let seccomp = if set(NO_SECCOMP_VAR) {
            Err(format!("seccomp turned off by {NO_SECCOMP_VAR}"))
        } else {
            seccomp::Filter::probe()
        };
        let namespaces = if set(NO_NAMESPACES_VAR) {
            Err(format!("namespaces turned off by {NO_NAMESPACES_VAR}"))
        } else if seccomp.is_err() {
            Err("without seccomp a command could undo the namespace's mounts".to_string())
        } else {
            namespaces::probe()
        };
        Support {
            landlock: probe_landlock(),
            namespaces,
            seccomp,
        }
    })
}

/// Everything one command's sandbox needs, built in the parent: building allocates and opens
/// files, which the forked child of a threaded process must not do.
pub struct PreparedSandbox {
    /// With some domains reachable: what serves the proxy once the command has started.
    proxy: Option<ProxyHandoff>,
    jail: Option<namespaces::Jail>,
    landlock: Option<Landlock>,
    /// The seccomp program; `None` where the kernel refuses filters.
    filter: Option<Vec<libc::sock_filter>>,
}

/// The sandbox could not be set up for a command.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot set up the sandbox: {0}")]
    Landlock(#[from] RulesetError),
    #[error("cannot set up the sandbox's namespaces: {0}")]
    Namespaces(#[from] std::io::Error),
}

/// The sandbox for a command run under `policy` in `workdir` of the project at `project_dir`;
/// `None` when it runs unsandboxed (off, or no layer possible here).
pub fn prepare(
    policy: &SandboxPolicy,
    project_dir: &Path,
    workdir: &Path,
    left: &LeftBehind,
) -> Result<Option<PreparedSandbox>, SandboxError> {
    if !policy.is_active() {
        return Ok(None);
    }
    let support = support();
    // Landlock from ABI 9 keeps every socket outside in any case, those bound later included.
    let landlock_keeps_sockets = support.landlock.as_ref().is_ok_and(|abi| *abi >= 9);
    let mut sockets_unlisted = false;
    let mut handoff = None;
    let jail = match support.namespaces {
        Ok(()) => {
            let hidden = policy.secrets.present(project_dir);
            let mut read_only = policy.protected_in(project_dir);
            let mut pinned = Vec::new();
            if let Some(repositories) = &left.repositories {
                read_only.extend(repositories.read_only());
                pinned = repositories.folders();
            }
            read_only.sort();
            read_only.dedup();
            let mut jail = namespaces::Jail::new(
                policy.network,
                &hidden,
                namespaces::KeptAsWas {
                    pinned: &pinned,
                    read_only: &read_only,
                },
                &policy.cache_layers(),
                policy.secrets.ssh_agent.as_deref(),
                project_dir,
                workdir,
            )?;
            // Some domains: the command's namespace hands kelp a listener to serve the proxy on.
            if let (false, Some(domains)) = (policy.network, &policy.domains) {
                let (parent, child) = std::os::unix::net::UnixStream::pair()?;
                jail.hand_proxy_listener_to(child);
                handoff = Some(domains.handoff(parent));
            }
            // With the network off, seccomp refuses every socket.
            if policy.network && !landlock_keeps_sockets {
                match policy.unreached_sockets(project_dir, &hidden) {
                    Some(sockets) => Some(jail.hide_sockets(&sockets)?),
                    None => {
                        sockets_unlisted = true;
                        Some(jail)
                    }
                }
            } else {
                Some(jail)
            }
        }
        Err(_) => None,
    };
    let landlock = match support.landlock {
        Ok(abi) => {
            let private_tmp = jail
                .as_ref()
                .filter(|jail| jail.hides_tmp())
                .and_then(|_| private_tmp::private_tmp_dir());
            // Without a mount namespace to hide them, Landlock keeps them unread.
            let unreadable = jail.is_none().then(|| unreadable(policy, project_dir));
            let ruleset =
                landlock_rules(policy, project_dir, private_tmp, unreadable.as_deref(), abi)?;
            Option::<std::os::fd::OwnedFd>::from(ruleset).map(|ruleset| Landlock {
                ruleset,
                // What a writable root gets, as far as this kernel knows the rights.
                write_access: AccessFs::from_all(ABI::from(abi.min(FS_ABI as i32))).bits(),
            })
        }
        Err(_) => None,
    };
    // Through the proxy, a command needs an IP socket (its namespace has only the loopback,
    // where the proxy listens), never a Unix one (a daemon's socket leads out of it).
    let filter = seccomp::Filter {
        deny_sockets: !policy.network && handoff.is_none(),
        deny_unix: sockets_unlisted
            || handoff.is_some()
            || !jail.as_ref().is_some_and(namespaces::Jail::hides_tmp),
    };
    Ok(Some(PreparedSandbox {
        jail,
        landlock,
        filter: support.seccomp.is_ok().then(|| filter.program()),
        proxy: handoff,
    }))
}

impl PreparedSandbox {
    /// Where the command finds the ssh agent's socket, when it may use it and its `/tmp` is
    /// private.
    pub fn agent_socket(&self) -> Option<PathBuf> {
        self.jail.as_ref().and_then(namespaces::Jail::agent_socket)
    }

    /// Makes `command` enter its sandbox just before it execs; if that fails, it never runs.
    /// With some domains reachable, what to serve the proxy with once it has started.
    pub fn install(self, command: &mut tokio::process::Command) -> Option<ProxyHandoff> {
        let Self {
            jail,
            mut landlock,
            filter,
            proxy,
        } = self;
        // SAFETY: the hook runs in the forked child; it makes raw system calls on what was
        // prepared here, moves the ruleset out of its slot and allocates nothing (its errors
        // are raw OS errors).
        unsafe {
            command.pre_exec(move || {
                if let Some(jail) = &jail {
                    jail.enter()?;
                }
                if let Some(landlock) = landlock.take() {
                    let overlays = jail.iter().flat_map(namespaces::Jail::overlaid);
                    for cache in overlays {
                        landlock.grant_overlay(cache);
                    }
                    landlock.restrict_self()?;
                }
                match &filter {
                    Some(filter) => seccomp::Filter::install(filter),
                    None => Ok(()),
                }
            });
        }
        proxy
    }
}

/// Makes `command` start cut off from kelp's terminal and descriptors, on every path (sandboxed,
/// with a layer missing, or with the sandbox off): a session of its own (a new process group
/// too, which the killers signal), so it has no controlling terminal and `/dev/tty` does not
/// open; no descriptor but 0, 1 and 2 (a parent's `exec 7>>log` would otherwise reach it, and
/// writes through an open descriptor pass Landlock); and a session keyring of its own, so the
/// keys of kelp's session are not its to read.
///
/// And it dies with kelp: killed by a signal kelp could not handle (SIGKILL, or a host that
/// ends `kelp app-server` hard), kelp takes down its direct child, and with it the sandbox's
/// namespace and everything in it.
pub fn detach(command: &mut tokio::process::Command) {
    // SAFETY: getpid cannot fail.
    let kelp = unsafe { libc::getpid() };
    // SAFETY: the hook runs in the forked child and makes raw system calls on integers only.
    unsafe {
        command.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Tokio forks from a worker thread, which lives as long as kelp's runtime: the
            // death signal fires when kelp goes. If kelp went before this line, go now.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            if libc::getppid() != kelp {
                libc::_exit(1);
            }
            close_inherited_at_exec();
            // KEYCTL_JOIN_SESSION_KEYRING with no name: a new anonymous session keyring. A
            // kernel without keys has nothing to hide.
            libc::syscall(libc::SYS_keyctl, 1 as libc::c_long, 0 as libc::c_long);
            Ok(())
        });
    }
}

/// Marks every descriptor above 2 close-on-exec, so exec leaves the standard three only.
///
/// # Safety
/// Call only in a forked child before exec: it changes descriptors the process shares with
/// nobody else then.
unsafe fn close_inherited_at_exec() {
    // CLOSE_RANGE_CLOEXEC (Linux 5.11): one call; older kernels get a loop over the usual limit.
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range and fcntl take integers.
    unsafe {
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) != 0 {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            let top = if libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut limit) == 0 {
                limit.rlim_cur.min(65_536)
            } else {
                4_096
            };
            for fd in 3..libc::c_int::try_from(top).unwrap_or(4_096) {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use explain::path_candidates;

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
                "/usr/bin/bash: line 1: made.txt: Permission denied",
                "made.txt",
            ),
            (
                "/bin/sh: 1: cannot create made.txt: Permission denied",
                "made.txt",
            ),
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
        assert!(
            policy.describe().contains("seccomp"),
            "{}",
            policy.describe()
        );
        assert!(policy.extra_writable.contains(&PathBuf::from("/tmp")));
        assert!(
            SandboxPolicy::new(SandboxMode::ReadOnly, false)
                .writable_roots(Path::new("/p"))
                .is_empty()
        );
    }
}
