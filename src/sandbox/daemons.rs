//! The daemons a command must not reach: the sockets and folders of those that run what they
//! are asked (the session bus, container and VM managers, GNU screen), the user's runtime
//! folder, and every socket bound when a command starts, read from `/proc/net/unix`.

use std::path::{Path, PathBuf};

/// Sockets and folders of daemons that run what they are asked, hidden like credentials: the
/// session bus, container and VM managers, GNU screen's sessions. With the network on, every
/// other socket bound when a command starts is hidden too ([`bound_sockets`]), and Landlock,
/// from ABI 9, refuses every socket outside the project.
const DAEMON_PATHS: [&str; 17] = [
    "/run/dbus",
    "/var/run/dbus",
    "/run/docker.sock",
    "/var/run/docker.sock",
    "/run/containerd",
    "/run/crio",
    "/run/snapd.socket",
    "/run/snapd-snap.socket",
    "/run/podman",
    "/run/libvirt",
    "/var/run/libvirt",
    "/var/lib/lxd",
    "/var/snap/lxd/common/lxd",
    "/var/lib/incus",
    "/run/incus",
    "/run/screen",
    "/var/run/screen",
];

/// The user's daemons' sockets and folders: [`DAEMON_PATHS`] and the user's runtime folder,
/// both at `/run/user/<uid>` and where `XDG_RUNTIME_DIR` says it is (podman's and docker's
/// logins, the session bus and gpg-agent live there), unless that folder holds `project_dir`
/// or the home folder, which a command must still see.
pub fn daemon_paths(project_dir: &Path) -> impl Iterator<Item = PathBuf> {
    // SAFETY: getuid cannot fail and touches no memory.
    let run_user = PathBuf::from(format!("/run/user/{}", unsafe { libc::getuid() }));
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let real = |path: &Path| super::paths::real_path(path).unwrap_or_else(|_| path.to_path_buf());
    let (project, home) = (real(project_dir), home.as_deref().map(real));
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .map(|dir| real(&dir))
        .filter(|dir| {
            dir != Path::new("/")
                && !project.starts_with(dir)
                && !home.as_ref().is_some_and(|home| home.starts_with(dir))
        });
    DAEMON_PATHS
        .iter()
        .map(PathBuf::from)
        .chain([run_user])
        .chain(runtime)
}

/// The largest socket table read: a busy desktop's is some 100 KiB. A longer one (a command
/// binding sockets by the thousand) is not trusted to be whole.
const MAX_SOCKET_TABLE: u64 = 8 * 1024 * 1024;

/// The paths of the Unix sockets bound in kelp's network namespace, the places every daemon
/// listens at wherever it keeps its socket (`/proc/net/unix`); `None` when the table cannot be
/// read whole.
pub fn bound_sockets() -> Option<Vec<PathBuf>> {
    use std::io::Read;
    let mut table = Vec::new();
    std::fs::File::open("/proc/net/unix")
        .ok()?
        .take(MAX_SOCKET_TABLE + 1)
        .read_to_end(&mut table)
        .ok()?;
    (table.len() as u64 <= MAX_SOCKET_TABLE).then(|| parse_socket_table(&table))
}

/// The absolute paths in a `/proc/net/unix` table, each once. A line is seven fields, then a
/// space and the name the socket was bound to, if any: an abstract one (`@…`) is no place in
/// the file system, and a relative one says nothing of where. A name with a newline in it
/// makes a line of its own, which adds a path but never takes another line's.
pub fn parse_socket_table(table: &[u8]) -> Vec<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let name = |line: &[u8]| -> Option<PathBuf> {
        let mut rest = line;
        for _ in 0..7 {
            let field = rest.iter().position(|&b| b != b' ')?;
            rest = &rest[field..];
            rest = &rest[rest.iter().position(|&b| b == b' ')?..];
        }
        let path = rest.strip_prefix(b" ")?;
        path.starts_with(b"/")
            .then(|| PathBuf::from(std::ffi::OsStr::from_bytes(path)))
    };
    let mut paths: Vec<PathBuf> = table
        .split(|&b| b == b'\n')
        .skip(1)
        .filter_map(name)
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

#[cfg(test)]
mod tests {
    use super::parse_socket_table;
    use proptest::prelude::*;
    use std::path::PathBuf;

    #[test]
    fn the_socket_table_gives_each_bound_path_once() {
        let table = b"Num       RefCount Protocol Flags    Type St Inode Path\n\
            0000000000000000: 00000002 00000000 00010000 0001 01  2345 /run/screen/S-ana/42.pts-0\n\
            0000000000000000: 00000003 00000000 00000000 0001 03 12346 /run/screen/S-ana/42.pts-0\n\
            0000000000000000: 00000002 00000000 00010000 0001 01 12347 @/tmp/.X11-unix/X0\n\
            0000000000000000: 00000002 00000000 00010000 0001 01 12348 relative.sock\n\
            0000000000000000: 00000002 00000000 00000000 0002 01 12349 /home/ana/a b.sock\n\
            0000000000000000: 00000003 00000000 00000000 0001 03 12350\n";
        assert_eq!(
            parse_socket_table(table),
            [
                PathBuf::from("/home/ana/a b.sock"),
                PathBuf::from("/run/screen/S-ana/42.pts-0"),
            ]
        );
    }

    #[test]
    fn a_socket_bound_here_is_in_this_machines_table() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("daemon.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let paths = super::bound_sockets().expect("/proc/net/unix readable");
        assert!(paths.contains(&socket), "{paths:?}");
    }

    proptest! {
        /// A name a command binds may hold any byte, newlines included: the parse never fails,
        /// keeps the real lines' paths, and gives only absolute paths found in the table.
        #[test]
        fn any_names_keep_the_real_lines(names in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..8)) {
            use std::os::unix::ffi::OsStrExt;
            let mut table = b"Num       RefCount Protocol Flags    Type St Inode Path\n".to_vec();
            for (inode, name) in names.iter().enumerate() {
                table.extend(format!("0000000000000000: 00000002 00000000 00010000 0001 01 {inode:5} ").as_bytes());
                table.extend(name);
                table.push(b'\n');
                table.extend(format!("0000000000000000: 00000002 00000000 00010000 0001 01 {inode:5} /real/{inode}\n").as_bytes());
            }
            let paths = parse_socket_table(&table);
            for inode in 0..names.len() {
                let real = PathBuf::from(format!("/real/{inode}"));
                prop_assert!(paths.contains(&real));
            }
            for path in &paths {
                prop_assert!(path.is_absolute());
                let bytes = path.as_os_str().as_bytes();
                prop_assert!(table.windows(bytes.len()).any(|window| window == bytes));
            }
        }
    }
}
