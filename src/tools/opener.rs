//! The one way a tool reaches a file: opened relative to a directory already held open, never
//! by re-resolving a path. The project root is opened once per call; every file beneath it is
//! opened from that descriptor with `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`, so the
//! kernel itself refuses a `..` or a link that would leave the root, at the moment of the open.
//! Where the kernel lacks `openat2` (before Linux 5.6, or a seccomp filter that hides it) the
//! same rules are kept by a walk, one component at a time with `O_NOFOLLOW`, each link read and
//! followed by hand.
//!
//! A path outside the project is opened only when a person approved where it really leads:
//! that real path, with no symbolic link anywhere on the way (`RESOLVE_NO_SYMLINKS`), so a
//! link swapped in after the approval is refused rather than followed.
//!
//! Files are opened without waiting (`O_NONBLOCK`, so a FIFO cannot hang a read) and looked at
//! (`fstat`) before a byte is read: callers refuse FIFOs, sockets and devices in words
//! ([`kind_of`]). Writes get the open directory and the name in it ([`Opener::dir_for_write`]),
//! and [`crate::private_file::replace_in`] creates its temp file and renames it within that
//! directory, so no path is resolved twice and there is no window to swap a link into.

use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use thiserror::Error;

use super::paths;

/// How many symbolic links one resolution follows before calling it a loop (the kernel's).
const MAX_LINKS: usize = 40;

/// Why a file could not be opened, in words that name it.
#[derive(Debug, Error)]
pub enum AccessError {
    /// The path leads outside the project (through a link, or as written), unapproved.
    #[error("{path} leads outside the project, to {}, and that was not approved", .real.display())]
    Outside {
        /// The path as shown to the model.
        path: String,
        /// Where it really leads.
        real: PathBuf,
    },
    /// A link on the way changed between two looks at it: someone is swapping it.
    #[error("{path} changed while it was being opened (a link on the way now leads elsewhere)")]
    Changed {
        /// The path as shown to the model.
        path: String,
    },
    /// The path names something that is not a regular file.
    #[error("{path} is {kind}, not a regular file")]
    NotRegular {
        /// The path as shown to the model.
        path: String,
        /// What it is, with its article: "a FIFO (named pipe)".
        kind: &'static str,
    },
    /// Any other failure of the system call.
    #[error("cannot open {path}: {source}")]
    Io {
        /// The path as shown to the model.
        path: String,
        /// The OS error.
        source: io::Error,
    },
}

impl AccessError {
    fn io(path: &str, source: io::Error) -> Self {
        match source.raw_os_error() {
            // Opening a socket, or a device with no driver behind it.
            Some(libc::ENXIO) => Self::NotRegular {
                path: path.to_string(),
                kind: "a socket or a device with nothing behind it",
            },
            _ => Self::Io {
                path: path.to_string(),
                source,
            },
        }
    }

    /// Whether the file does not exist (a patch may create it).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

pub use crate::private_file::kind_of;

/// How links are treated on the way from a held directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Relative links are followed while they stay beneath the directory; an absolute link, or
    /// a `..` that would climb above it, is refused with `EXDEV` (`RESOLVE_BENEATH`).
    Beneath,
    /// Any link on the way is refused with `ELOOP` (`RESOLVE_NO_SYMLINKS`).
    None,
}

/// Which resolver does the work: the kernel's, or the walk that stands in for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolver {
    /// `openat2`, where the kernel has it; the walk where it turns out not to.
    Kernel,
    /// Component by component with `O_NOFOLLOW`, links read and followed by hand.
    Walk,
}

/// Set once `openat2` turned out to be missing, so later opens go straight to the walk.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// Opens `rel` beneath `start` by the rules of `links`, with `flags` (`O_CLOEXEC` added).
/// `rel` must be relative; an empty one opens `start` itself.
pub fn open_beneath(
    start: BorrowedFd<'_>,
    rel: &Path,
    flags: OFlags,
    links: Links,
    resolver: Resolver,
) -> io::Result<OwnedFd> {
    if rel.is_absolute() {
        return Err(io::Error::from_raw_os_error(libc::EXDEV));
    }
    let flags = flags | OFlags::CLOEXEC;
    if resolver == Resolver::Kernel && !NO_OPENAT2.load(Ordering::Relaxed) {
        let how = match links {
            Links::Beneath => ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
            Links::None => {
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS
            }
        };
        let path = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        match rustix::fs::openat2(start, path, flags, Mode::empty(), how) {
            Err(rustix::io::Errno::NOSYS) => NO_OPENAT2.store(true, Ordering::Relaxed),
            // Older container seccomp profiles answer an unknown call with EPERM; opening the
            // start itself cannot be refused for permission, so the same answer there means
            // the call is hidden, not that this file is forbidden.
            Err(rustix::io::Errno::PERM)
                if rustix::fs::openat2(start, ".", OFlags::PATH, Mode::empty(), how).err()
                    == Some(rustix::io::Errno::PERM) =>
            {
                NO_OPENAT2.store(true, Ordering::Relaxed)
            }
            // Retried by the kernel's own advice: a rename elsewhere raced the lookup.
            Err(rustix::io::Errno::AGAIN) => {
                return walk(start, rel, flags, links).map_err(io::Error::from);
            }
            other => return other.map_err(io::Error::from),
        }
    }
    walk(start, rel, flags, links).map_err(io::Error::from)
}

/// The walk [`open_beneath`] falls back on: each directory opened from the one before with
/// `O_NOFOLLOW`, so nothing is ever resolved by path; a link met is read and its target taken
/// apart into the components still to walk.
fn walk(
    start: BorrowedFd<'_>,
    rel: &Path,
    flags: OFlags,
    links: Links,
) -> rustix::io::Result<OwnedFd> {
    use rustix::io::Errno;
    let mut todo: Vec<OsString> = Vec::new();
    push_components(&mut todo, rel)?;
    // The directories walked into below `start`; `..` pops one.
    let mut dirs: Vec<OwnedFd> = Vec::new();
    let mut followed = 0;
    loop {
        let here = dirs.last().map_or(start, |dir| dir.as_fd());
        let Some(part) = todo.pop() else {
            // Everything walked: the last directory is the answer.
            return rustix::fs::openat(here, ".", flags, Mode::empty());
        };
        if part == "." {
            continue;
        }
        if part == ".." {
            if dirs.pop().is_none() {
                return Err(Errno::XDEV);
            }
            continue;
        }
        let last = todo.is_empty();
        let step_flags = if last {
            flags | OFlags::NOFOLLOW
        } else {
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
        };
        match rustix::fs::openat(here, part.as_os_str(), step_flags, Mode::empty()) {
            Ok(fd) if last => return Ok(fd),
            Ok(fd) => dirs.push(fd),
            // A link where a file or a directory was expected: read it, then walk its target.
            Err(e @ (Errno::LOOP | Errno::NOTDIR | Errno::MLINK)) => {
                let Ok(target) = rustix::fs::readlinkat(here, part.as_os_str(), Vec::new()) else {
                    return Err(e);
                };
                if links == Links::None {
                    return Err(Errno::LOOP);
                }
                followed += 1;
                if followed > MAX_LINKS {
                    return Err(Errno::LOOP);
                }
                let target = Path::new(OsStr::from_bytes(target.as_bytes()));
                if target.is_absolute() {
                    return Err(Errno::XDEV);
                }
                push_components(&mut todo, target)?;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Pushes the parts of `path` so that popping yields them in order. Split on `/` as the
/// kernel does, not by `Path::components`: an empty part or a `.` stays, as `.`, because it
/// asks that what comes before it be a directory (`file/.` is `ENOTDIR`).
fn push_components(todo: &mut Vec<OsString>, path: &Path) -> rustix::io::Result<()> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.starts_with(b"/") {
        return Err(rustix::io::Errno::XDEV);
    }
    let parts = bytes.split(|&b| b == b'/').map(|part| match part {
        b"" => OsString::from("."),
        part => OsStr::from_bytes(part).to_os_string(),
    });
    let parts: Vec<OsString> = parts.collect();
    todo.extend(parts.into_iter().rev());
    Ok(())
}

/// Whether a path's last component, when it is a link, is followed to where it leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Last {
    /// Followed: the file it leads to is read or written.
    Follow,
    /// Kept: the link itself is what is removed.
    Keep,
}

/// Where a path is opened from: beneath the project root, or (approved) from `/` with no link
/// on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    /// Relative to the project root.
    Beneath(PathBuf),
    /// An approved real path outside the project.
    Approved(PathBuf),
}

/// Which outside paths a person approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approved {
    /// These real paths (or, for a file with other hard links, the path as written).
    Only(Vec<PathBuf>),
    /// Any: for a preview a person is about to judge, never for the model's reads or writes.
    Any,
}

/// A directory held open, for walks that list or search below it.
#[derive(Debug)]
pub struct HeldDir {
    fd: OwnedFd,
    /// The path it was opened by, absolute: what a walk's entries start with.
    pub path: PathBuf,
}

impl HeldDir {
    /// A directory already opened (by [`Opener::open`]) at `path`.
    pub fn new(fd: OwnedFd, path: &Path) -> Self {
        Self {
            fd,
            path: paths::normalize(path),
        }
    }

    /// Opens `rel` (relative to this directory, and staying beneath it) with `flags`.
    pub fn open(&self, rel: &Path, flags: OFlags) -> io::Result<OwnedFd> {
        open_beneath(
            self.fd.as_fd(),
            rel,
            flags,
            Links::Beneath,
            Resolver::Kernel,
        )
    }

    /// Opens the regular file `rel` for reading, without waiting; anything else is refused.
    pub fn open_file(&self, rel: &Path) -> io::Result<(File, Metadata)> {
        let file = File::from(self.open(rel, read_flags())?);
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, kind_of(&meta)));
        }
        Ok((file, meta))
    }
}

/// The project's files, as one tool call may reach them.
#[derive(Debug)]
pub struct Opener {
    root: OwnedFd,
    /// The project directory as given, normalized: paths are first taken relative to it.
    root_path: PathBuf,
    /// Where the project directory really is, links followed.
    root_real: PathBuf,
    approved: Approved,
    /// `/`, opened when an approved outside path is first reached.
    filesystem_root: OnceLock<io::Result<OwnedFd>>,
}

/// Flags for reading a file: never wait for a writer, never become a controlling terminal.
fn read_flags() -> OFlags {
    OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY
}

impl Opener {
    /// Holds the project directory open for one call; `approved` are the outside paths a
    /// person allowed it.
    pub fn new(project_dir: &Path, approved: Approved) -> io::Result<Self> {
        let root_path = paths::normalize(project_dir);
        let root = rustix::fs::open(
            &root_path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let root_real = paths::real_path(&root_path)?;
        Ok(Self {
            root,
            root_path,
            root_real,
            approved,
            filesystem_root: OnceLock::new(),
        })
    }

    /// The project directory, normalized.
    pub fn project_dir(&self) -> &Path {
        &self.root_path
    }

    /// How `path` is shown in messages: relative to the project when inside it.
    pub fn shown(&self, path: &Path) -> String {
        paths::display(&self.root_path, path)
    }

    /// Whether a person approved `path` (a real path, or a hard-linked file as written).
    pub fn is_approved(&self, path: &Path) -> bool {
        match &self.approved {
            Approved::Only(paths) => paths.iter().any(|p| p == path),
            Approved::Any => true,
        }
    }

    /// Opens `path` (absolute) for reading, without waiting: whatever it is, with its
    /// metadata, for the caller to judge ([`Opener::open_regular`] for files only).
    pub fn open(&self, path: &Path) -> Result<(File, Metadata), AccessError> {
        let fd = self.attempt(path, Last::Follow, |place| {
            self.open_at(place, read_flags())
        })?;
        let file = File::from(fd);
        let meta = file
            .metadata()
            .map_err(|source| AccessError::io(&self.shown(path), source))?;
        Ok((file, meta))
    }

    /// [`Opener::open`], refusing anything but a regular file.
    pub fn open_regular(&self, path: &Path) -> Result<(File, Metadata), AccessError> {
        let (file, meta) = self.open(path)?;
        if !meta.is_file() {
            return Err(AccessError::NotRegular {
                path: self.shown(path),
                kind: kind_of(&meta),
            });
        }
        Ok((file, meta))
    }

    /// Opens the directory `path` to list or search below it.
    pub fn open_dir(&self, path: &Path) -> Result<HeldDir, AccessError> {
        let fd = self.attempt(path, Last::Follow, |place| {
            self.open_at(place, OFlags::PATH | OFlags::DIRECTORY)
        })?;
        Ok(HeldDir::new(fd, path))
    }

    /// The directory a write of `path` goes into, open (its missing folders created, none
    /// through a link), and the name to write in it. A last component that is a link is
    /// followed once, to where it leads now, so the link stays and its target changes.
    pub fn dir_for_write(&self, path: &Path) -> Result<(OwnedFd, OsString), AccessError> {
        let (dir, name) = self.attempt(path, Last::Follow, |place| self.parent_at(place, true))?;
        if !is_link(&dir, &name) {
            return Ok((dir, name));
        }
        let place = self.place_real(path, Last::Follow)?;
        let (dir, name) = self
            .parent_at(&place, true)
            .map_err(|e| self.second_try_error(path, e))?;
        if is_link(&dir, &name) {
            return Err(AccessError::Changed {
                path: self.shown(path),
            });
        }
        Ok((dir, name))
    }

    /// The directory `path` is removed from, open, and its name there; a last component that
    /// is a link is the link itself.
    pub fn dir_for_remove(&self, path: &Path) -> Result<(OwnedFd, OsString), AccessError> {
        self.attempt(path, Last::Keep, |place| self.parent_at(place, false))
    }

    /// Runs `op` on `path` beneath the root as written; when a link on the way leads out
    /// (`EXDEV`), runs it once more on where the path really leads now: beneath the root
    /// (an absolute link back in), or an approved outside path, or nowhere. The path is put in
    /// words for a message only when there is one to give.
    fn attempt<T>(
        &self,
        path: &Path,
        last: Last,
        op: impl Fn(&Place) -> io::Result<T>,
    ) -> Result<T, AccessError> {
        let full = paths::resolve(&self.root_path, path);
        if let Ok(rel) = full.strip_prefix(&self.root_path) {
            match op(&Place::Beneath(rel.to_path_buf())) {
                Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {}
                other => return other.map_err(|e| AccessError::io(&self.shown(path), e)),
            }
        }
        let place = self.place_real(&full, last)?;
        op(&place).map_err(|e| self.second_try_error(path, e))
    }

    /// The error of an attempt on where a path really led: a link that leads out now, where a
    /// moment ago it did not, is a path being swapped.
    fn second_try_error(&self, path: &Path, e: io::Error) -> AccessError {
        match e.raw_os_error() {
            Some(libc::EXDEV | libc::ELOOP) => AccessError::Changed {
                path: self.shown(path),
            },
            _ => AccessError::io(&self.shown(path), e),
        }
    }

    /// Where `path` really leads, as a place to open it from, if that is allowed; with
    /// [`Last::Keep`] a last component that is a link is the link, not where it leads.
    fn place_real(&self, path: &Path, last: Last) -> Result<Place, AccessError> {
        let real = match (last, path.parent(), path.file_name()) {
            (Last::Keep, Some(parent), Some(name)) => {
                paths::real_path(parent).map(|p| p.join(name))
            }
            _ => paths::real_path(path),
        }
        .map_err(|source| AccessError::io(&self.shown(path), source))?;
        if let Ok(rel) = real.strip_prefix(&self.root_real) {
            return Ok(Place::Beneath(rel.to_path_buf()));
        }
        if self.is_approved(&real) {
            return Ok(Place::Approved(real));
        }
        Err(AccessError::Outside {
            path: self.shown(path),
            real,
        })
    }

    /// The directory a place starts from, the path below it, and the rule for links.
    fn start<'a>(&'a self, place: &'a Place) -> io::Result<(BorrowedFd<'a>, &'a Path, Links)> {
        match place {
            Place::Beneath(rel) => Ok((self.root.as_fd(), rel, Links::Beneath)),
            Place::Approved(real) => {
                let root = self.filesystem_root.get_or_init(|| {
                    rustix::fs::open(
                        "/",
                        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                    .map_err(io::Error::from)
                });
                let fd = root
                    .as_ref()
                    .map_err(|e| io::Error::new(e.kind(), e.to_string()))?;
                let rel = real.strip_prefix("/").unwrap_or(real);
                Ok((fd.as_fd(), rel, Links::None))
            }
        }
    }

    fn open_at(&self, place: &Place, flags: OFlags) -> io::Result<OwnedFd> {
        let (start, rel, links) = self.start(place)?;
        if matches!(place, Place::Approved(_)) && !flags.contains(OFlags::PATH) {
            // Outside the project a device may be anywhere, and opening one can do something
            // (rewind a tape): it is looked at first, without opening it, and only a regular
            // file or a folder is opened, then checked to be the same one.
            let look = open_beneath(start, rel, OFlags::PATH, links, Resolver::Kernel)?;
            let seen = rustix::fs::fstat(&look)?;
            let kind = FileType::from_raw_mode(seen.st_mode);
            if !matches!(kind, FileType::RegularFile | FileType::Directory) {
                return Ok(look);
            }
            let fd = open_beneath(start, rel, flags, links, Resolver::Kernel)?;
            let opened = rustix::fs::fstat(&fd)?;
            if (opened.st_dev, opened.st_ino) != (seen.st_dev, seen.st_ino) {
                return Err(io::Error::from_raw_os_error(libc::ELOOP));
            }
            return Ok(fd);
        }
        open_beneath(start, rel, flags, links, Resolver::Kernel)
    }

    /// The parent directory of a place, opened to write in (created when `create`), and the
    /// last component's name.
    fn parent_at(&self, place: &Place, create: bool) -> io::Result<(OwnedFd, OsString)> {
        let (start, rel, links) = self.start(place)?;
        let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "it is the project directory itself",
            ));
        };
        let dir = if create {
            dir_creating(start, parent, links)?
        } else {
            open_beneath(start, parent, dir_flags(), links, Resolver::Kernel)?
        };
        Ok((dir, name.to_os_string()))
    }
}

/// A directory opened to write in: readable, so it can be synced after a rename.
fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY
}

/// Opens the directory `rel` beneath `start`, creating the folders that are missing one at a
/// time: each made in the directory opened before it and opened with `O_NOFOLLOW`, so a link
/// swapped in for a new folder is refused, not followed.
fn dir_creating(start: BorrowedFd<'_>, rel: &Path, links: Links) -> io::Result<OwnedFd> {
    match open_beneath(start, rel, dir_flags(), links, Resolver::Kernel) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        other => return other,
    }
    let parts: Vec<&OsStr> = rel.iter().collect();
    // The deepest folder that exists; everything after it is created.
    let mut existing = parts.len();
    let mut dir = loop {
        existing -= 1;
        let prefix: PathBuf = parts[..existing].iter().collect();
        match open_beneath(start, &prefix, dir_flags(), links, Resolver::Kernel) {
            Err(e) if e.kind() == io::ErrorKind::NotFound && existing > 0 => {}
            other => break other?,
        }
    };
    for part in &parts[existing..] {
        match rustix::fs::mkdirat(&dir, *part, Mode::from_raw_mode(0o777)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
        dir = rustix::fs::openat(
            &dir,
            *part,
            dir_flags() | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
    }
    Ok(dir)
}

/// Whether `name` in `dir` is a symbolic link (not followed).
fn is_link(dir: &OwnedFd, name: &OsStr) -> bool {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|stat| FileType::from_raw_mode(stat.st_mode) == FileType::Symlink)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("project");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(project.join("src")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(project.join("src/lib.rs"), "inside\n").unwrap();
        std::fs::write(outside.join("secret"), "secret\n").unwrap();
        symlink("src", project.join("rel")).unwrap();
        symlink(project.join("src"), project.join("abs")).unwrap();
        symlink("../outside", project.join("out")).unwrap();
        symlink(&outside, project.join("absout")).unwrap();
        symlink("loop", project.join("loop")).unwrap();
        (dir, project, outside)
    }

    fn read(opener: &Opener, path: &Path) -> Result<String, AccessError> {
        let (file, _) = opener.open_regular(path)?;
        Ok(std::io::read_to_string(file).unwrap())
    }

    #[test]
    fn links_inside_are_followed_and_links_out_refused() {
        let (_dir, project, outside) = tree();
        let opener = Opener::new(&project, Approved::Only(Vec::new())).unwrap();
        for inside in [
            "src/lib.rs",
            "rel/lib.rs",
            "abs/lib.rs",
            "rel/../src/lib.rs",
        ] {
            assert_eq!(read(&opener, &project.join(inside)).unwrap(), "inside\n");
        }
        for out in ["out/secret", "absout/secret", "../outside/secret"] {
            let err = read(&opener, &project.join(out)).unwrap_err();
            assert!(matches!(err, AccessError::Outside { .. }), "{out}: {err}");
        }
        let err = read(&opener, &project.join("loop")).unwrap_err();
        assert!(err.to_string().contains("loop"), "{err}");

        let real = outside.canonicalize().unwrap().join("secret");
        let approved = Opener::new(&project, Approved::Only(vec![real])).unwrap();
        assert_eq!(
            read(&approved, &project.join("out/secret")).unwrap(),
            "secret\n"
        );
    }

    #[test]
    fn the_walk_keeps_the_kernels_rules() {
        let (_dir, project, _outside) = tree();
        let root =
            rustix::fs::open(&project, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        for resolver in [Resolver::Kernel, Resolver::Walk] {
            let open = |rel: &str, links| {
                open_beneath(
                    root.as_fd(),
                    Path::new(rel),
                    OFlags::RDONLY,
                    links,
                    resolver,
                )
                .map_err(|e| e.raw_os_error())
            };
            assert!(open("rel/lib.rs", Links::Beneath).is_ok(), "{resolver:?}");
            assert!(open("", Links::Beneath).is_ok(), "{resolver:?}");
            assert_eq!(
                open("out/secret", Links::Beneath).err(),
                Some(Some(libc::EXDEV))
            );
            assert_eq!(
                open("abs/lib.rs", Links::Beneath).err(),
                Some(Some(libc::EXDEV))
            );
            assert_eq!(open("../x", Links::Beneath).err(), Some(Some(libc::EXDEV)));
            assert_eq!(open("loop", Links::Beneath).err(), Some(Some(libc::ELOOP)));
            assert_eq!(
                open("rel/lib.rs", Links::None).err(),
                Some(Some(libc::ELOOP))
            );
            assert_eq!(
                open("src/none", Links::Beneath).err(),
                Some(Some(libc::ENOENT))
            );
        }
    }

    #[test]
    fn a_removal_through_an_absolute_link_removes_the_link_not_its_target() {
        let (_dir, project, _outside) = tree();
        std::fs::write(project.join("src/file"), "keep\n").unwrap();
        symlink("file", project.join("src/link")).unwrap();
        let opener = Opener::new(&project, Approved::Only(Vec::new())).unwrap();
        // `abs` is an absolute link back into the project: the second try finds the folder.
        let (dir, name) = opener.dir_for_remove(&project.join("abs/link")).unwrap();
        assert_eq!(name, "link");
        rustix::fs::unlinkat(&dir, &name, AtFlags::empty()).unwrap();
        assert!(project.join("src/file").exists());
        assert!(!project.join("src/link").is_symlink());
    }

    #[test]
    fn writes_create_folders_beneath_and_never_through_a_link_out() {
        let (_dir, project, outside) = tree();
        let opener = Opener::new(&project, Approved::Only(Vec::new())).unwrap();
        let (_, name) = opener
            .dir_for_write(&project.join("new/deep/file"))
            .unwrap();
        assert_eq!(name, "file");
        assert!(project.join("new/deep").is_dir());
        let err = opener
            .dir_for_write(&project.join("out/made/file"))
            .unwrap_err();
        assert!(matches!(err, AccessError::Outside { .. }), "{err}");
        assert!(!outside.join("made").exists());
    }
}
