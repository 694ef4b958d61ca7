//! Each sandboxed command in namespaces of its own, built in-process between fork and exec:
//!
//! - a user namespace (the person's own ids mapped to themselves), which lets the rest be made
//!   without privilege;
//! - a mount namespace where the credential stores are empty mounts, `/tmp` is a folder private
//!   to this kelp (so commands share temp files from one call to the next, but not the sockets
//!   of the user's tmux, ssh-agent or X server), and `/run/user/<uid>`, the session bus and
//!   docker's socket are hidden like credentials; `/dev/pts` is a devpts of its own (the
//!   person's terminals are not there to read keys from) and `/dev/shm` an empty tmpfs;
//! - a PID namespace: a command can neither see nor signal kelp or any other process of the
//!   user, and everything it starts, `setsid` daemons included, dies with it;
//! - an IPC namespace, and with the network off a network namespace (only a loopback that is
//!   down: no IP of any kind, and no abstract Unix socket of the host's).
//!
//! The process tree: the child kelp spawns stays outside the PID namespace and waits; its child
//! is the namespace's init, which reaps and reports the exit of its own child, the command.
//! Everything the forked children do is a raw system call on data prepared in the parent.

use std::ffi::{CString, c_int};
use std::io;
use std::os::unix::ffi::OsStrExt;

use std::path::{Path, PathBuf};

use super::daemons::daemon_paths;
use super::private_tmp::private_tmp;

/// A package cache (`~/.cargo/registry`, `~/.npm` …) and the folder of kelp's layer over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheLayer {
    /// The cache, as a real path.
    pub cache: PathBuf,
    /// Where the command's writes to it go: `upper` and overlayfs's `work` inside.
    pub layer: PathBuf,
}

impl CacheLayer {
    /// The cache and its overlay's options, with the layer's folders made; `None` for a path
    /// the options cannot carry (overlayfs splits them at `,` and `:`).
    fn prepare(&self) -> io::Result<Option<(CString, CString)>> {
        let (upper, work) = (self.layer.join("upper"), self.layer.join("work"));
        let named = [&self.cache, &upper, &work];
        if named.iter().any(|path| {
            let text = path.as_os_str().as_bytes();
            text.iter().any(|b| matches!(b, b',' | b':' | b'\\'))
        }) {
            return Ok(None);
        }
        for dir in [&upper, &work] {
            crate::private_file::create_private_dir(dir)?;
        }
        let mut options = b"lowerdir=".to_vec();
        options.extend(self.cache.as_os_str().as_bytes());
        options.extend(b",upperdir=");
        options.extend(upper.as_os_str().as_bytes());
        options.extend(b",workdir=");
        options.extend(work.as_os_str().as_bytes());
        options.extend(b",userxattr");
        let options = CString::new(options).map_err(|_| io::ErrorKind::InvalidInput)?;
        Ok(Some((c_path(&self.cache)?, options)))
    }
}

/// Where the ssh agent's socket is found inside the private `/tmp`, when the person lets
/// commands use it.
pub const AGENT_SOCKET: &str = "kelp-ssh-agent.sock";

/// What a command may not change in the project: folders bound over themselves (each
/// repository's `.git`: a mount point can be neither renamed nor removed), then paths bound
/// read-only over themselves (`.git/config`, `.envrc` …).
pub struct KeptAsWas<'a> {
    pub pinned: &'a [PathBuf],
    pub read_only: &'a [PathBuf],
}

/// The namespaces and mounts of one command, prepared in the parent: the forked child must not
/// allocate.
pub struct Jail {
    flags: c_int,
    uid_map: CString,
    gid_map: CString,
    hidden_dirs: Vec<CString>,
    hidden_files: Vec<CString>,
    /// Folders in the project bound over themselves, so they can be neither renamed nor
    /// removed (each repository's `.git`).
    pinned: Vec<CString>,
    /// Paths in the project bound read-only over themselves (`.git/config`, `.git/hooks` …).
    read_only: Vec<CString>,
    /// The package caches a command fills as a copy of its own: each cache, and the overlay
    /// options that put kelp's layer over it (writes go to the layer, the cache stays as it
    /// was for the tools the person runs outside).
    overlays: Vec<(CString, CString)>,
    /// The private `/tmp`, and where the project is bound inside it when it lives below `/tmp`.
    tmp: Option<PrivateTmp>,
    workdir: CString,
    /// With the network reaching only some domains: the socket that gets the listener the
    /// command reaches kelp's proxy on, made in the command's network namespace.
    proxy_to: Option<std::os::unix::net::UnixStream>,
}

/// The port a command reaches kelp's proxy on, inside its own network namespace (where nothing
/// else listens): `HTTP_PROXY=http://127.0.0.1:3128`.
pub const PROXY_PORT: u16 = 3128;

struct PrivateTmp {
    dir: CString,
    project: Option<(CString, CString)>,
    /// The ssh agent's socket, and the file in the private `/tmp` it is bound over.
    agent: Option<(CString, CString)>,
}

/// Why the namespaces could not be made, at which step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Unshare = 1,
    IdMaps = 2,
    Mounts = 3,
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| io::ErrorKind::InvalidInput.into())
}

fn namespace_flags(network: bool) -> c_int {
    let base = libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC;
    if network {
        base
    } else {
        base | libc::CLONE_NEWNET
    }
}

fn id_maps() -> (CString, CString) {
    // SAFETY: getuid and getgid cannot fail and touch no memory.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let map = |id: u32| CString::new(format!("{id} {id} 1\n")).unwrap_or_default();
    (map(uid), map(gid))
}

impl Jail {
    /// The jail for a command run in `workdir` for the project at `project_dir`, hiding the
    /// `hidden` paths that exist (credential stores) and the user's daemons.
    pub fn new(
        network: bool,
        hidden: &[PathBuf],
        kept: KeptAsWas<'_>,
        caches: &[CacheLayer],
        agent: Option<&Path>,
        project_dir: &Path,
        workdir: &Path,
    ) -> io::Result<Self> {
        let (uid_map, gid_map) = id_maps();
        let mut hidden_dirs = Vec::new();
        let mut hidden_files = Vec::new();
        for path in hidden.iter().cloned().chain(daemon_paths(project_dir)) {
            // Mounting follows links, so a link's target is what gets covered.
            match std::fs::metadata(&path) {
                Ok(meta) if meta.is_dir() => hidden_dirs.push(c_path(&path)?),
                Ok(_) => hidden_files.push(c_path(&path)?),
                Err(_) => {}
            }
        }
        let tmp = match private_tmp() {
            Some(dir) => {
                let project = super::paths::real_path(project_dir)?;
                let inside = match project.strip_prefix("/tmp") {
                    Ok(rel) if !rel.as_os_str().is_empty() => {
                        let place = dir.join(rel);
                        std::fs::create_dir_all(&place)?;
                        Some((c_path(&project)?, c_path(&place)?))
                    }
                    _ => None,
                };
                let agent = match agent {
                    Some(socket) => {
                        use std::os::unix::fs::OpenOptionsExt;
                        let place = dir.join(AGENT_SOCKET);
                        // The file the socket is bound over; the bind replaces nothing outside.
                        std::fs::OpenOptions::new()
                            .write(true)
                            .create(true)
                            .truncate(false)
                            .mode(0o600)
                            .open(&place)?;
                        Some((c_path(socket)?, c_path(&place)?))
                    }
                    None => None,
                };
                Some(PrivateTmp {
                    dir: c_path(dir)?,
                    project: inside,
                    agent,
                })
            }
            None => None,
        };
        let overlays = caches
            .iter()
            .filter_map(|layer| layer.prepare().transpose())
            .collect::<io::Result<_>>()?;
        Ok(Self {
            flags: namespace_flags(network),
            overlays,
            uid_map,
            gid_map,
            hidden_dirs,
            hidden_files,
            pinned: kept
                .pinned
                .iter()
                .map(|path| c_path(path))
                .collect::<io::Result<_>>()?,
            read_only: kept
                .read_only
                .iter()
                .map(|path| c_path(path))
                .collect::<io::Result<_>>()?,
            tmp,
            workdir: c_path(workdir)?,
            proxy_to: None,
        })
    }

    /// Makes the command's network namespace hand a listener on `127.0.0.1:PROXY_PORT` to the
    /// other end of `socket` (one end of a Unix socket pair, open until the command starts),
    /// so kelp serves its proxy there while the command has no other route out.
    pub fn hand_proxy_listener_to(&mut self, socket: std::os::unix::net::UnixStream) {
        self.proxy_to = Some(socket);
    }

    /// Also hides `sockets`, each bound over by an empty file: a connection finds no one.
    pub fn hide_sockets(mut self, sockets: &[PathBuf]) -> io::Result<Self> {
        for socket in sockets {
            self.hidden_files.push(c_path(socket)?);
        }
        Ok(self)
    }

    /// The caches the command gets a copy of its own of: where Landlock must let it write,
    /// once the overlays are mounted.
    pub fn overlaid(&self) -> impl Iterator<Item = &CString> {
        self.overlays.iter().map(|(cache, _)| cache)
    }

    /// Whether commands get the private `/tmp`, which keeps the sockets there out of reach.
    pub fn hides_tmp(&self) -> bool {
        self.tmp.is_some()
    }

    /// Where the command finds the ssh agent's socket, when it may use it.
    pub fn agent_socket(&self) -> Option<PathBuf> {
        self.tmp
            .as_ref()
            .and_then(|tmp| tmp.agent.as_ref())
            .map(|_| Path::new("/tmp").join(AGENT_SOCKET))
    }

    /// Enters the namespaces and makes the mounts, in the child of a fork; returns only in the
    /// command's own process, the PID namespace's second process, which then execs.
    ///
    /// # Safety
    /// Call only in a freshly forked child, which this turns into three processes.
    pub unsafe fn enter(&self) -> io::Result<()> {
        // SAFETY: (for all below) raw system calls on C strings and integers prepared in the
        // parent; nothing allocates, as a forked child of a threaded process must not.
        unsafe {
            enter_namespaces(self.flags, &self.uid_map, &self.gid_map).map_err(|(_, e)| e)?;
            if let Some(socket) = &self.proxy_to {
                hand_out_listener(std::os::fd::AsRawFd::as_raw_fd(socket))?;
            }
            self.mount_all()?;
            let init = libc::fork();
            if init < 0 {
                return Err(io::Error::last_os_error());
            }
            if init > 0 {
                // The child kelp waits on: outside the namespace, holding nothing.
                close_inherited();
                libc::_exit(exit_code(wait_for(init, false)));
            }
            // PID 1: dies with the waiter, shows the namespace's own processes in /proc.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            let proc_flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
            libc::mount(
                c"proc".as_ptr(),
                c"/proc".as_ptr(),
                c"proc".as_ptr(),
                proc_flags,
                std::ptr::null(),
            );
            let command = libc::fork();
            if command < 0 {
                return Err(io::Error::last_os_error());
            }
            if command > 0 {
                close_inherited();
                // When PID 1 exits, the kernel kills whatever else the command left.
                libc::_exit(exit_code(wait_for(command, true)));
            }
            // The command: a session of its own, so no controlling terminal to read or type into.
            libc::setsid();
        }
        Ok(())
    }

    /// The mounts, in an order where each still finds its paths: the devices, credential
    /// stores, then the project into the private `/tmp`, then that over `/tmp`.
    unsafe fn mount_all(&self) -> io::Result<()> {
        let null = std::ptr::null();
        let no_data = std::ptr::null();
        let hide_flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        // SAFETY: see `enter`.
        unsafe {
            mount_private_devices()?;
            // The overlays first: their layers lie in kelp's state folder, which is hidden
            // next. A cache whose overlay the kernel refuses stays read-only: the command runs,
            // and Landlock grants writes only where an overlay is found.
            for (cache, options) in &self.overlays {
                libc::mount(
                    c"overlay".as_ptr(),
                    cache.as_ptr(),
                    c"overlay".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV,
                    options.as_ptr().cast(),
                );
            }
            for dir in &self.hidden_dirs {
                let mounted = libc::mount(
                    c"tmpfs".as_ptr(),
                    dir.as_ptr(),
                    c"tmpfs".as_ptr(),
                    hide_flags,
                    c"mode=555".as_ptr().cast(),
                );
                check_mount(mounted)?;
            }
            for file in &self.hidden_files {
                let mounted = libc::mount(
                    c"/dev/null".as_ptr(),
                    file.as_ptr(),
                    null,
                    libc::MS_BIND,
                    no_data,
                );
                check_mount(mounted)?;
            }
            for folder in &self.pinned {
                check_mount(libc::mount(
                    folder.as_ptr(),
                    folder.as_ptr(),
                    null,
                    libc::MS_BIND,
                    no_data,
                ))?;
            }
            for path in &self.read_only {
                bind_read_only(path)?;
            }
            if let Some(tmp) = &self.tmp {
                let bind = libc::MS_BIND | libc::MS_REC;
                for (source, place) in tmp.project.iter().chain(&tmp.agent) {
                    check_mount(libc::mount(
                        source.as_ptr(),
                        place.as_ptr(),
                        null,
                        bind,
                        no_data,
                    ))?;
                }
                check_mount(libc::mount(
                    tmp.dir.as_ptr(),
                    c"/tmp".as_ptr(),
                    null,
                    bind,
                    no_data,
                ))?;
                // The old working directory is still open beneath the new /tmp: go to the
                // same path in the new one where there is one.
                libc::chdir(self.workdir.as_ptr());
            }
        }
        Ok(())
    }
}

/// A devpts instance of the namespace's own over `/dev/pts`, with `/dev/ptmx` to match, so no
/// terminal of the person's is there to open; where the kernel refuses a devpts here, an empty
/// folder instead. And an empty `/dev/shm`, so nothing is shared through the host's.
///
/// # Safety
/// Call only in the child, inside its mount namespace.
unsafe fn mount_private_devices() -> io::Result<()> {
    let no_exec = libc::MS_NOSUID | libc::MS_NOEXEC;
    // SAFETY: raw system calls on static C strings.
    unsafe {
        let devpts = libc::mount(
            c"devpts".as_ptr(),
            c"/dev/pts".as_ptr(),
            c"devpts".as_ptr(),
            no_exec,
            c"newinstance,ptmxmode=0666,mode=0620".as_ptr().cast(),
        );
        if devpts == 0 {
            check_mount(libc::mount(
                c"/dev/pts/ptmx".as_ptr(),
                c"/dev/ptmx".as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            ))?;
        } else {
            check_mount(libc::mount(
                c"tmpfs".as_ptr(),
                c"/dev/pts".as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_RDONLY | no_exec | libc::MS_NODEV,
                c"mode=555".as_ptr().cast(),
            ))?;
        }
        check_mount(libc::mount(
            c"tmpfs".as_ptr(),
            c"/dev/shm".as_ptr(),
            c"tmpfs".as_ptr(),
            no_exec | libc::MS_NODEV,
            c"mode=1777".as_ptr().cast(),
        ))
    }
}

/// Binds `path` over itself and makes that read-only: what runs later (git's config and hooks,
/// `.envrc`) stays as the person left it, and since nothing may be renamed over a mount point
/// it cannot be replaced either. Flags the mount already had that a user namespace may not
/// drop are kept on a second try.
///
/// # Safety
/// Call only in the child, inside its mount namespace.
unsafe fn bind_read_only(path: &CString) -> io::Result<()> {
    let null = std::ptr::null();
    // SAFETY: raw system calls on a prepared C string.
    unsafe {
        check_mount(libc::mount(
            path.as_ptr(),
            path.as_ptr(),
            null,
            libc::MS_BIND,
            null.cast(),
        ))?;
        let remount = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY;
        for kept in [
            0,
            libc::MS_NOSUID | libc::MS_NODEV,
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        ] {
            if libc::mount(null, path.as_ptr(), null, remount | kept, null.cast()) == 0 {
                return Ok(());
            }
        }
        check_mount(-1)
    }
}

/// A mount's result: a path gone since the parent looked is nothing left to hide.
fn check_mount(result: c_int) -> io::Result<()> {
    if result == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::ENOENT) => Ok(()),
        _ => Err(error),
    }
}

/// unshare, the id maps, and mounts made private to the new namespace.
unsafe fn enter_namespaces(
    flags: c_int,
    uid_map: &CString,
    gid_map: &CString,
) -> Result<(), (Step, io::Error)> {
    let fail = |step| (step, io::Error::last_os_error());
    // SAFETY: raw system calls on prepared C strings.
    unsafe {
        // Writing one's own id maps needs a dumpable process, and kelp makes itself not.
        libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0);
        if libc::unshare(flags) != 0 {
            return Err(fail(Step::Unshare));
        }
        for (file, text) in [
            (c"/proc/self/setgroups", c"deny"),
            (c"/proc/self/uid_map", uid_map.as_c_str()),
            (c"/proc/self/gid_map", gid_map.as_c_str()),
        ] {
            if !write_file(file, text) {
                return Err(fail(Step::IdMaps));
            }
        }
        // Not dumpable again: the waiter and the namespace's init keep a copy of kelp's memory
        // and environment until the command ends. (The command's exec makes it dumpable.)
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        let private = libc::MS_REC | libc::MS_PRIVATE;
        let null = std::ptr::null();
        if libc::mount(null, c"/".as_ptr(), null, private, std::ptr::null()) != 0 {
            return Err(fail(Step::Mounts));
        }
    }
    Ok(())
}

unsafe fn write_file(path: &std::ffi::CStr, text: &std::ffi::CStr) -> bool {
    // SAFETY: open/write/close on a valid C string and buffer.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return false;
        }
        let bytes = text.to_bytes();
        let written = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        libc::close(fd);
        usize::try_from(written).is_ok_and(|n| n == bytes.len())
    }
}

/// Closes every descriptor but the standard three: the waiting processes must not hold the
/// pipe through which the parent learns that the command's exec happened.
/// In a new network namespace: brings its loopback up, listens on `127.0.0.1:PROXY_PORT` and
/// sends the listener over `socket` (`SCM_RIGHTS`), then closes both here. Raw system calls on
/// the stack only, as in the rest of the forked child.
unsafe fn hand_out_listener(socket: c_int) -> io::Result<()> {
    let fail = |fd: c_int| {
        let error = io::Error::last_os_error();
        // SAFETY: close takes an integer.
        unsafe { libc::close(fd) };
        Err(error)
    };
    // SAFETY: system calls on stack values of the sizes the kernel reads.
    unsafe {
        let probe = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if probe < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut request: libc::ifreq = std::mem::zeroed();
        request.ifr_name[0] = b'l' as libc::c_char;
        request.ifr_name[1] = b'o' as libc::c_char;
        if libc::ioctl(probe, libc::SIOCGIFFLAGS, &raw mut request) < 0 {
            return fail(probe);
        }
        request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(probe, libc::SIOCSIFFLAGS, &raw const request) < 0 {
            return fail(probe);
        }
        libc::close(probe);
        let listener = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if listener < 0 {
            return Err(io::Error::last_os_error());
        }
        let address = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: PROXY_PORT.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be(),
            },
            sin_zero: [0; 8],
        };
        let size = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        if libc::bind(listener, (&raw const address).cast(), size) != 0
            || libc::listen(listener, 128) != 0
        {
            return fail(listener);
        }
        // One byte of data, with the listener as the message's rights.
        let mut byte = [0u8; 1];
        let mut part = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        let mut control = [0u64; 4];
        let mut message: libc::msghdr = std::mem::zeroed();
        message.msg_iov = &raw mut part;
        message.msg_iovlen = 1;
        message.msg_control = control.as_mut_ptr().cast();
        message.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<c_int>() as u32) as usize;
        let header = libc::CMSG_FIRSTHDR(&raw const message);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<c_int>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(header).cast::<c_int>(), listener);
        let sent = libc::sendmsg(socket, &raw const message, libc::MSG_NOSIGNAL);
        libc::close(listener);
        libc::close(socket);
        if sent != 1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

unsafe fn close_inherited() {
    // SAFETY: close_range and close take integers.
    unsafe {
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
            for fd in 3..1024 {
                libc::close(fd);
            }
        }
    }
}

/// Waits for `pid`, through interruptions; its wait status, or -1. Given `reap_all`, as PID 1,
/// it reaps every orphan on the way.
unsafe fn wait_for(pid: libc::pid_t, reap_all: bool) -> c_int {
    let mut status = 0;
    let waited_for = if reap_all { -1 } else { pid };
    loop {
        // SAFETY: waitpid writes only `status`.
        let waited = unsafe { libc::waitpid(waited_for, &raw mut status, 0) };
        if waited == pid {
            return status;
        }
        if waited < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return -1;
        }
    }
}

/// The exit code that passes a wait status on: a signal's death as a shell reports it.
fn exit_code(status: c_int) -> c_int {
    if status < 0 {
        1
    } else if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        1
    }
}

/// Whether this kernel lets kelp make the namespaces, tried once in a throwaway child.
pub fn probe() -> Result<(), String> {
    let (uid_map, gid_map) = id_maps();
    let flags = namespace_flags(false);
    // SAFETY: the child makes raw system calls on the prepared strings and exits; the parent
    // waits for it.
    let status = unsafe {
        let pid = libc::fork();
        if pid < 0 {
            return Err(format!("cannot fork: {}", io::Error::last_os_error()));
        }
        if pid == 0 {
            let code = match enter_namespaces(flags, &uid_map, &gid_map) {
                Ok(()) => {
                    let mounted = libc::mount(
                        c"tmpfs".as_ptr(),
                        c"/tmp".as_ptr(),
                        c"tmpfs".as_ptr(),
                        0,
                        std::ptr::null(),
                    );
                    if mounted == 0 {
                        0
                    } else {
                        probe_code(Step::Mounts, &io::Error::last_os_error())
                    }
                }
                Err((step, error)) => probe_code(step, &error),
            };
            libc::_exit(code);
        }
        wait_for(pid, false)
    };
    if status < 0 || !libc::WIFEXITED(status) {
        return Err("the namespace probe did not finish".to_string());
    }
    match libc::WEXITSTATUS(status) {
        0 => Ok(()),
        code => {
            let error = io::Error::from_raw_os_error(code % 64);
            Err(match code / 64 {
                1 => format!("user namespaces are not allowed here ({error})"),
                2 => format!("this user namespace may not map ids ({error})"),
                _ => format!("mounts are not allowed in a user namespace here ({error})"),
            })
        }
    }
}

/// A step and an errno in one exit code (errnos that matter here are below 64).
fn probe_code(step: Step, error: &io::Error) -> c_int {
    step as c_int * 64 + error.raw_os_error().unwrap_or(1).min(63)
}
