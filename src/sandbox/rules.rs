//! Landlock's part of the sandbox: probing the ABI, the rules a command's ruleset holds (reads
//! everywhere but what is hidden, writes where the mode lets, TCP, signals and sockets), and
//! the rule added in the child beneath each cache overlay once it is mounted.

use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, NetPort, Ruleset, RulesetAttr,
    RulesetCreated, RulesetCreatedAttr, RulesetError, Scope, path_beneath_rules,
};

use super::{SandboxPolicy, daemons, namespaces};
use crate::protocol::SandboxMode;

/// The filesystem rights kelp asks for: ABI 5 adds device ioctls, so a program that opens
/// `/dev/tty` itself still works.
pub(super) const FS_ABI: ABI = ABI::V5;

/// Devices any ordinary command writes to; with namespaces `/dev/shm` too, which is then the
/// command's own.
pub(super) const DEVICES: [&str; 6] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/tty",
    "/dev/random",
    "/dev/urandom",
];

/// What the namespaces replace with the command's own (the person's terminals, the machine's
/// shared memory): without them, out of reach.
pub(super) const SHARED_DEVICES: [&str; 2] = ["/dev/pts", "/dev/shm"];

#[cfg(target_os = "linux")]
pub(super) fn probe_landlock() -> Result<i32, String> {
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
        return Ok(i32::try_from(abi).unwrap_or(i32::MAX));
    }
    Err(match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::ENOSYS) => "this kernel has no Landlock".to_string(),
        Some(libc::EOPNOTSUPP) => {
            "Landlock is turned off in this kernel's boot options".to_string()
        }
        _ => format!("Landlock: {}", std::io::Error::last_os_error()),
    })
}

/// A Landlock ruleset made in the parent, and the right to write beneath each cache overlay,
/// added in the child once the overlays are mounted (a rule names a folder as mounted: the
/// parent sees only the cache beneath).
pub(super) struct Landlock {
    pub(super) ruleset: std::os::fd::OwnedFd,
    pub(super) write_access: u64,
}

/// What a command may not read when no mount namespace hides it, as real paths: the credential
/// stores, the user's daemons, the person's terminals and the machine's shared memory.
pub(super) fn unreadable(policy: &SandboxPolicy, project_dir: &Path) -> Vec<PathBuf> {
    policy
        .secrets
        .present(project_dir)
        .into_iter()
        .chain(daemons::daemon_paths(project_dir))
        .chain(SHARED_DEVICES.map(PathBuf::from))
        .filter_map(|path| std::fs::canonicalize(path).ok())
        .collect()
}

/// Where a command may read everything but `hidden`, for Landlock, which only grants, and whose
/// grant reaches everything beneath it: each folder on the way to a hidden path may only be
/// listed, and every other entry in it is granted whole. An entry that is a link to, into or
/// above a hidden path is left out, as the grant would follow it. Returns the folders that may
/// be listed and the paths that may be read.
pub(super) fn read_grants(hidden: &[PathBuf]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let on_the_way = |path: &Path| hidden.iter().any(|hole| hole.starts_with(path));
    let (mut listable, mut readable) = (Vec::new(), Vec::new());
    let mut folders = vec![PathBuf::from("/")];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        listable.push(folder);
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if hidden.contains(&path) {
                continue;
            }
            if kind.is_dir() && on_the_way(&path) {
                folders.push(path);
                continue;
            }
            if kind.is_symlink() {
                match std::fs::canonicalize(&path) {
                    Ok(target)
                        if !on_the_way(&target)
                            && !hidden.iter().any(|hole| target.starts_with(hole)) => {}
                    _ => continue,
                }
            }
            readable.push(path);
        }
    }
    (listable, readable)
}

/// The Landlock rules: read everywhere (but `unreadable`, when given), write where the mode
/// lets, and with ABI 6 no signal or abstract socket across the sandbox's edge.
pub(super) fn landlock_rules(
    policy: &SandboxPolicy,
    project_dir: &Path,
    private_tmp: Option<&Path>,
    unreadable: Option<&[PathBuf]>,
    abi: i32,
) -> Result<RulesetCreated, RulesetError> {
    let mut writable = policy.writable_roots(project_dir);
    let private_tmp_writable = match policy.mode {
        SandboxMode::WorkspaceWrite => true,
        SandboxMode::ReadOnly => policy.private_tmp_in_read_only,
        SandboxMode::Off => false,
    };
    if private_tmp_writable {
        writable.extend(private_tmp.map(Path::to_path_buf));
    }
    let all = AccessFs::from_all(FS_ABI);
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)?
        .scope(Scope::AbstractUnixSocket | Scope::Signal)?;
    if !policy.network && abi >= 4 {
        // Handled with no rule that allows a port: every TCP connect and bind is denied.
        ruleset = ruleset.handle_access(AccessNet::from_all(ABI::V4))?;
    }
    // From ABI 9: a Unix socket is reached only beneath the places a command may write (the
    // project, the private /tmp and the ssh agent bound into it) and the places `keep_paths`
    // names, not a daemon's elsewhere.
    ruleset = ruleset.handle_access(AccessFs::ResolveUnix)?;
    let sockets: Vec<PathBuf> = policy
        .writable_roots(project_dir)
        .into_iter()
        .chain(private_tmp.map(Path::to_path_buf))
        .chain(policy.secrets.kept.iter().cloned())
        .collect();
    let (listable, readable, devices) = match unreadable {
        Some(hidden) => {
            let (listable, readable) = read_grants(hidden);
            (listable, readable, DEVICES.map(PathBuf::from).to_vec())
        }
        None => (
            Vec::new(),
            vec![PathBuf::from("/")],
            DEVICES
                .into_iter()
                .chain(["/dev/shm"])
                .map(PathBuf::from)
                .collect(),
        ),
    };
    let mut created = ruleset.create()?;
    if !policy.network && policy.domains.is_some() && abi >= 4 {
        // The one TCP connection a command may make: to kelp's proxy, in its own namespace.
        created = created.add_rule(NetPort::new(namespaces::PROXY_PORT, AccessNet::ConnectTcp))?;
    }
    created
        .add_rules(path_beneath_rules(listable, AccessFs::ReadDir))?
        .add_rules(path_beneath_rules(readable, AccessFs::from_read(FS_ABI)))?
        .add_rules(path_beneath_rules(devices, all))?
        .add_rules(path_beneath_rules(writable, all))?
        .add_rules(path_beneath_rules(sockets, AccessFs::ResolveUnix))
}

impl Landlock {
    /// Lets the command write beneath the cache at `cache` when an overlay is mounted there
    /// (one the kernel refused leaves the person's own cache, which stays read-only).
    ///
    /// # Safety
    /// Call only in the forked child: raw system calls on what the parent prepared.
    pub(super) unsafe fn grant_overlay(&self, cache: &std::ffi::CStr) {
        use std::os::fd::AsRawFd;
        /// `struct landlock_path_beneath_attr`, packed as the kernel reads it.
        #[repr(C, packed)]
        struct PathBeneath {
            allowed_access: u64,
            parent_fd: i32,
        }
        const OVERLAYFS_SUPER_MAGIC: libc::c_long = 0x794c_7630;
        const LANDLOCK_RULE_PATH_BENEATH: libc::c_long = 1;
        // SAFETY: open, fstatfs, the rule's system call and close on a C string, a stack
        // buffer and descriptors; nothing allocates.
        unsafe {
            let fd = libc::open(
                cache.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            );
            if fd < 0 {
                return;
            }
            let mut fs: libc::statfs = std::mem::zeroed();
            if libc::fstatfs(fd, &raw mut fs) == 0
                && libc::c_long::from(fs.f_type as i32) == OVERLAYFS_SUPER_MAGIC
            {
                let rule = PathBeneath {
                    allowed_access: self.write_access,
                    parent_fd: fd,
                };
                libc::syscall(
                    libc::SYS_landlock_add_rule,
                    self.ruleset.as_raw_fd() as libc::c_long,
                    LANDLOCK_RULE_PATH_BENEATH,
                    &raw const rule,
                    0 as libc::c_long,
                );
            }
            libc::close(fd);
        }
    }

    /// Restricts this process (the command, before exec) to the ruleset: no new privileges
    /// first, as Landlock requires of an unprivileged process.
    pub(super) fn restrict_self(self) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        // SAFETY: prctl and the restriction's system call on integers.
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::syscall(
                    libc::SYS_landlock_restrict_self,
                    self.ruleset.as_raw_fd() as libc::c_long,
                    0 as libc::c_long,
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
}
