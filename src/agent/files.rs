//! A host's own file operations (the app-server's `fs/*`): read, write, list, inspect, make,
//! remove and copy, beneath the folders the host opened threads on, through the opener the
//! tools use. Each path is opened from its root's descriptor, never re-resolved, so a link
//! cannot lead an operation out of the roots; removal and copying walk by descriptor too.

use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use crate::private_file::{names_in, open_folder};

use crate::tools::opener::{AccessError, Approved, Opener};
use crate::tools::paths;

/// The largest file `read` returns: a host reads sources and settings, not disk images.
pub const MAX_READ_BYTES: u64 = 64 << 20;

/// Why an operation failed, in one line that names the path.
#[derive(Debug, thiserror::Error)]
pub enum FileOpError {
    #[error("{0} is not beneath a folder this connection opened a thread on")]
    Outside(String),
    #[error("{0} is not an absolute path")]
    Relative(String),
    #[error("{0}")]
    Access(#[from] AccessError),
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{0} is over {MAX_READ_BYTES} bytes")]
    TooLarge(String),
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> FileOpError + '_ {
    move |source| FileOpError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// What a path is, as `fs/getMetadata` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata {
    pub is_directory: bool,
    pub is_file: bool,
    pub is_symlink: bool,
    pub created_ms: i64,
    pub modified_ms: i64,
}

/// One entry of a directory: its name, and what it is (a link is neither).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub is_directory: bool,
    pub is_file: bool,
}

/// The folders operations may reach.
#[derive(Debug, Clone, Default)]
pub struct Roots(Vec<PathBuf>);

impl Roots {
    /// `roots` (absolute folders).
    pub fn new(roots: impl IntoIterator<Item = PathBuf>) -> Self {
        Self(
            roots
                .into_iter()
                .map(|root| paths::normalize(&root))
                .collect(),
        )
    }

    /// The opener of the root `path` lies beneath.
    fn opener(&self, path: &Path) -> Result<Opener, FileOpError> {
        if !path.is_absolute() {
            return Err(FileOpError::Relative(path.display().to_string()));
        }
        let path = paths::normalize(path);
        let root = self
            .0
            .iter()
            .filter(|root| path.starts_with(root))
            .max_by_key(|root| root.as_os_str().len())
            .ok_or_else(|| FileOpError::Outside(path.display().to_string()))?;
        Opener::new(root, Approved::Only(Vec::new())).map_err(io_error(root))
    }

    /// The bytes of the regular file `path`.
    pub fn read(&self, path: &Path) -> Result<Vec<u8>, FileOpError> {
        let opener = self.opener(path)?;
        let (file, meta) = opener.open_regular(path)?;
        if meta.len() > MAX_READ_BYTES {
            return Err(FileOpError::TooLarge(path.display().to_string()));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(MAX_READ_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error(path))?;
        if bytes.len() as u64 > MAX_READ_BYTES {
            return Err(FileOpError::TooLarge(path.display().to_string()));
        }
        Ok(bytes)
    }

    /// Writes `bytes` to `path` whole (a new file, or replacing one, keeping its permissions),
    /// its missing folders made.
    pub fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), FileOpError> {
        let opener = self.opener(path)?;
        let (dir, name) = opener.dir_for_write(path)?;
        let kept = rustix::fs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW)
            .ok()
            .filter(|stat| FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile)
            .map(|stat| std::os::unix::fs::PermissionsExt::from_mode(stat.st_mode & 0o7777));
        crate::private_file::replace_in(dir.as_fd(), &name, bytes, kept.as_ref())
            .map_err(|e| io_error(path)(io::Error::other(e.to_string())))
    }

    /// Makes the folder `path`; `recursive`: its missing parents too, and no error when it is
    /// there already.
    pub fn create_dir(&self, path: &Path, recursive: bool) -> Result<(), FileOpError> {
        let opener = self.opener(path)?;
        let (dir, name) = if recursive {
            opener.dir_for_write(path)?
        } else {
            opener.dir_for_remove(path)?
        };
        match rustix::fs::mkdirat(&dir, &name, Mode::from_raw_mode(0o777)) {
            Err(rustix::io::Errno::EXIST) if recursive && is_dir_at(&dir, &name) => Ok(()),
            other => other.map_err(|e| io_error(path)(e.into())),
        }
    }

    /// What `path` is; a link is said to be one, and what it leads to is what it is.
    pub fn metadata(&self, path: &Path) -> Result<Metadata, FileOpError> {
        let opener = self.opener(path)?;
        let is_symlink = match opener.dir_for_remove(path) {
            Ok((dir, name)) => rustix::fs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|stat| FileType::from_raw_mode(stat.st_mode) == FileType::Symlink),
            // The root itself.
            Err(_) => false,
        };
        let (_, meta) = opener.open(path)?;
        let ms = |time: io::Result<std::time::SystemTime>| {
            time.ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        };
        Ok(Metadata {
            is_directory: meta.is_dir(),
            is_file: meta.is_file(),
            is_symlink,
            created_ms: ms(meta.created()),
            modified_ms: ms(meta.modified()),
        })
    }

    /// The entries of the folder `path`, by name.
    pub fn read_dir(&self, path: &Path) -> Result<Vec<Entry>, FileOpError> {
        let opener = self.opener(path)?;
        let held = opener.open_dir(path)?;
        let dir = held
            .open(Path::new("."), OFlags::RDONLY | OFlags::DIRECTORY)
            .map_err(io_error(path))?;
        let mut entries = Vec::new();
        for name in names_in(&dir).map_err(io_error(path))? {
            let kind = rustix::fs::statat(&dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)
                .map(|stat| FileType::from_raw_mode(stat.st_mode))
                .ok();
            entries.push(Entry {
                is_directory: kind == Some(FileType::Directory),
                is_file: kind == Some(FileType::RegularFile),
                name: name.to_string_lossy().into_owned(),
            });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// Removes `path` (a link itself, not what it leads to); a folder with what is in it when
    /// `recursive`; a missing path is no error when `force`.
    pub fn remove(&self, path: &Path, recursive: bool, force: bool) -> Result<(), FileOpError> {
        let opener = self.opener(path)?;
        let (dir, name) = match opener.dir_for_remove(path) {
            Err(e) if force && is_not_found(&e) => return Ok(()),
            other => other?,
        };
        let removed = if is_dir_at(&dir, &name) {
            if recursive {
                crate::private_file::remove_tree_at(dir.as_fd(), &name)
            } else {
                rustix::fs::unlinkat(&dir, &name, AtFlags::REMOVEDIR).map_err(io::Error::from)
            }
        } else {
            rustix::fs::unlinkat(&dir, &name, AtFlags::empty()).map_err(io::Error::from)
        };
        match removed {
            Err(e) if force && e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other.map_err(io_error(path)),
        }
    }

    /// Copies the file `from` to `to`, or the folder with all it holds when `recursive`
    /// (links are copied as links; FIFOs, sockets and devices are left out).
    pub fn copy(&self, from: &Path, to: &Path, recursive: bool) -> Result<(), FileOpError> {
        let source = self.opener(from)?;
        let target = self.opener(to)?;
        let (from_dir, from_name) = source.dir_for_remove(from)?;
        let (to_dir, to_name) = target.dir_for_write(to)?;
        if is_dir_at(&from_dir, &from_name) && !recursive {
            return Err(io_error(from)(io::Error::new(
                io::ErrorKind::IsADirectory,
                "a folder is copied with recursive: true",
            )));
        }
        // A folder copied into itself would copy its own copy, again and again.
        let real = |path: &Path| {
            crate::sandbox::paths::real_path(path).unwrap_or_else(|_| path.to_path_buf())
        };
        if is_dir_at(&from_dir, &from_name) && real(to).starts_with(real(from)) {
            return Err(io_error(from)(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a folder cannot be copied into itself",
            )));
        }
        copy_at(&from_dir, &from_name, &to_dir, &to_name).map_err(io_error(from))
    }
}

fn is_not_found(error: &AccessError) -> bool {
    error.is_not_found()
}

fn is_dir_at(dir: &OwnedFd, name: &OsStr) -> bool {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|stat| FileType::from_raw_mode(stat.st_mode) == FileType::Directory)
}

/// How deep a folder tree is copied: each level holds two descriptors open, and a tree deeper
/// than this (one command makes a chain thousands deep) is refused in words rather than walked
/// out of descriptors.
const MAX_DEPTH: usize = 200;

fn too_deep() -> io::Error {
    io::Error::other(format!(
        "the folder is more than {MAX_DEPTH} folders deep; kelp copies no deeper (a command can copy it)"
    ))
}

/// Copies `name` in `from` to `to_name` in `to`: a file's bytes and mode, a link as a link,
/// a folder with all it holds, walked on a stack of its own.
fn copy_at(from: &OwnedFd, name: &OsStr, to: &OwnedFd, to_name: &OsStr) -> io::Result<()> {
    let Some(folders) = copy_entry(from, name, to, to_name)? else {
        return Ok(());
    };
    // Each level: the source folder and its copy held open, and the names still to copy.
    let mut levels = vec![folders];
    loop {
        let depth = levels.len();
        let Some((source, target, names)) = levels.last_mut() else {
            break;
        };
        let Some(child) = names.pop() else {
            levels.pop();
            continue;
        };
        if let Some(folders) = copy_entry(source, &child, target, &child)? {
            if depth >= MAX_DEPTH {
                return Err(too_deep());
            }
            levels.push(folders);
        }
    }
    Ok(())
}

/// Copies one entry; for a folder, makes its copy and returns both held open with the names
/// in the source, for the caller to copy next.
fn copy_entry(
    from: &OwnedFd,
    name: &OsStr,
    to: &OwnedFd,
    to_name: &OsStr,
) -> io::Result<Option<(OwnedFd, OwnedFd, Vec<std::ffi::OsString>)>> {
    let stat = rustix::fs::statat(from, name, AtFlags::SYMLINK_NOFOLLOW)?;
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::Directory => {
            match rustix::fs::mkdirat(to, to_name, Mode::from_raw_mode(stat.st_mode & 0o7777)) {
                Err(rustix::io::Errno::EXIST) if is_dir_at(to, to_name) => {}
                other => other?,
            }
            let source = open_folder(from.as_fd(), name)?;
            let target = open_folder(to.as_fd(), to_name)?;
            let names = names_in(&source)?;
            Ok(Some((source, target, names)))
        }
        FileType::Symlink => {
            let target = rustix::fs::readlinkat(from, name, Vec::new())?;
            rustix::fs::symlinkat(target.as_c_str(), to, to_name)?;
            Ok(None)
        }
        FileType::RegularFile => {
            let file = std::fs::File::from(rustix::fs::openat(
                from,
                name,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                Mode::empty(),
            )?);
            let mut bytes = Vec::new();
            file.take(MAX_READ_BYTES + 1).read_to_end(&mut bytes)?;
            if bytes.len() as u64 > MAX_READ_BYTES {
                return Err(io::Error::new(
                    io::ErrorKind::FileTooLarge,
                    format!("a file over {MAX_READ_BYTES} bytes is not copied"),
                ));
            }
            let mode = std::os::unix::fs::PermissionsExt::from_mode(stat.st_mode & 0o7777);
            crate::private_file::replace_in(to.as_fd(), to_name, &bytes, Some(&mode))
                .map_err(|e| io::Error::other(e.to_string()))?;
            Ok(None)
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_operation_stays_beneath_the_roots_and_does_what_it_says() {
        let outside = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let root_dir = root.path().canonicalize().unwrap();
        let roots = Roots::new([root_dir.clone()]);
        let at = |rel: &str| root_dir.join(rel);

        roots.write(&at("a/b/note.txt"), b"hello").unwrap();
        assert_eq!(roots.read(&at("a/b/note.txt")).unwrap(), b"hello");
        roots.create_dir(&at("a/c"), false).unwrap();
        roots.create_dir(&at("a/c"), true).unwrap();
        assert!(roots.create_dir(&at("x/y"), false).is_err(), "no parent");
        let names: Vec<String> = roots
            .read_dir(&at("a"))
            .unwrap()
            .into_iter()
            .map(|e| format!("{} {} {}", e.name, e.is_directory, e.is_file))
            .collect();
        assert_eq!(names, ["b true false", "c true false"]);
        let meta = roots.metadata(&at("a/b/note.txt")).unwrap();
        assert!(meta.is_file && !meta.is_directory && !meta.is_symlink && meta.modified_ms > 0);

        roots.copy(&at("a"), &at("copy"), true).unwrap();
        assert_eq!(roots.read(&at("copy/b/note.txt")).unwrap(), b"hello");
        assert!(roots.copy(&at("a"), &at("copy2"), false).is_err());
        roots.remove(&at("copy"), true, false).unwrap();
        assert!(!at("copy").exists());
        roots.remove(&at("copy"), true, true).unwrap();
        assert!(roots.remove(&at("copy"), true, false).is_err());

        // A link out of the root is neither followed to read or list, nor written through.
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(outside.path(), at("out")).unwrap();
        assert!(roots.read(&at("out/secret")).is_err());
        assert!(roots.read_dir(&at("out")).is_err());
        assert!(roots.write(&at("out/planted"), b"x").is_err());
        assert!(!outside.path().join("planted").exists());
        assert!(
            roots
                .metadata(&at("out"))
                .is_err_and(|e| e.to_string().contains("outside"))
        );
        // Removing the link removes the link, not what it leads to.
        roots.remove(&at("out"), true, false).unwrap();
        assert!(outside.path().join("secret").exists());
        // A path outside every root, or a relative one, is refused before anything is opened.
        for path in [outside.path().join("secret"), PathBuf::from("a/b/note.txt")] {
            assert!(roots.read(&path).is_err(), "{}", path.display());
        }
        assert!(matches!(
            roots.read(&root_dir.join("../elsewhere")),
            Err(FileOpError::Outside(_))
        ));
    }
}
