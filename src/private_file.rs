//! Files only their owner may read, written so a crash never leaves them torn.
//!
//! The auth file, the config file and saved conversations all hold things a person would not
//! want other users of the machine to read (tokens, prompts), so folders are created 0700 and
//! files 0600 from the first byte, never chmod-ed afterwards. Whole-file rewrites go through
//! [`replace`]: temp file in the same folder, fsync, rename, fsync the folder. Project files the
//! model edits take the same steps with their own modes ([`replace_in`]), in a folder the tools'
//! opener already holds open, so the temp file and the rename never resolve a path again: the
//! one atomic writer of the program.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use thiserror::Error;

/// A step of [`replace`] or [`lock_beside`] failed; `action` says which, for the caller's
/// one-line message ("cannot {action} {path}: {source}").
#[derive(Debug, Error)]
#[error("cannot {action}: {source}")]
pub struct FileError {
    /// What was being done, phrased to precede the file's path.
    pub action: &'static str,
    /// The OS error.
    #[source]
    pub source: io::Error,
}

impl FileError {
    /// Whether this is [`lock_beside_within`] giving up on a lock another process holds.
    pub fn is_busy(&self) -> bool {
        self.action == "lock" && self.source.kind() == io::ErrorKind::WouldBlock
    }
}

fn step(action: &'static str) -> impl FnOnce(io::Error) -> FileError {
    move |source| FileError { action, source }
}

/// Creates `dir` and its missing parents with mode 0700 (an existing folder is left as it is).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Open options that create files with mode 0600.
pub fn private_open_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Opens `path` for reading without waiting (a FIFO or a terminal in its place cannot hang
/// the caller, nor become its controlling terminal), with its metadata for the caller to judge
/// before any read.
pub fn open_without_waiting(path: &Path) -> io::Result<(File, std::fs::Metadata)> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    Ok((file, meta))
}

/// The folder `path` lives in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// `path` with `suffix` appended to its file name (`auth.json` → `auth.json.lock`).
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    parent_dir(path).join(name)
}

/// How long [`lock_beside`] waits for another process to let go. Holders keep the lock across
/// a token refresh (network calls with retries), so this is generous; a holder that hangs
/// longer must not hang us with it.
pub const LOCK_WAIT: Duration = Duration::from_secs(30);
/// How often a busy lock is tried again.
const LOCK_POLL: Duration = Duration::from_millis(50);

/// Takes the advisory lock (flock on Unix) on `<path>.lock`, creating the folder if needed,
/// waiting at most [`LOCK_WAIT`] for another holder. The lock is released when the returned
/// handle is dropped.
pub fn lock_beside(path: &Path) -> Result<File, FileError> {
    lock_beside_within(path, LOCK_WAIT)
}

/// [`lock_beside`] waiting at most `wait`. A lock still busy then fails with
/// [`FileError::is_busy`] true.
pub fn lock_beside_within(path: &Path, wait: Duration) -> Result<File, FileError> {
    create_private_dir(parent_dir(path)).map_err(step("create the folder of"))?;
    let file = private_open_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(sibling(path, ".lock"))
        .map_err(step("open the lock file of"))?;
    let deadline = Instant::now() + wait;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(TryLockError::Error(e)) => return Err(step("lock")(e)),
            Err(TryLockError::WouldBlock) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(FileError {
                        action: "lock",
                        source: io::Error::new(
                            io::ErrorKind::WouldBlock,
                            "it is locked by another kelp process; try again",
                        ),
                    });
                }
                std::thread::sleep(left.min(LOCK_POLL));
            }
        }
    }
}

/// How old a temp file of [`replace`]'s naming must be before a later save removes it: a
/// writer that was killed between writing it and the rename left it, holding a full copy of
/// the file (every credential, for auth.json). A live writer takes milliseconds.
const STALE_TEMP: Duration = Duration::from_secs(60);

/// The random part of a temp file's name.
const TEMP_RANDOM_CHARS: usize = 6;

/// Atomically replaces `path` with `contents`: a temp file in the same folder (mode 0600 from
/// creation), fsync, rename over the old file, fsync the folder. A reader sees the old or the
/// new file whole; a crash at any point leaves one of them. Writers that race should hold
/// [`lock_beside`]; temp files that killed writers left behind are removed first.
pub fn replace(path: &Path, contents: &[u8]) -> Result<(), FileError> {
    let dir = parent_dir(path);
    create_private_dir(dir).map_err(step("create the folder of"))?;
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(path.file_name().unwrap_or_default());
    prefix.push(".");
    remove_stale_temps(dir, &prefix);
    let folder = File::open(dir).map_err(step("open the folder of"))?;
    let name = path.file_name().unwrap_or_default();
    write_and_rename(folder.as_fd(), &prefix, 0o600, name, contents, None)
}

/// [`replace`] for a file that is not kelp's own (a project file the model edits), in a folder
/// already open (`dir`, readable so it can be synced): a new file gets the usual
/// `0666 & !umask`, and `permissions` (the replaced file's) are kept. The temp file is created in that very folder (`O_EXCL | O_NOFOLLOW`) and renamed to `name`
/// within it, so nothing is looked up by path between the two and no link swapped into the
/// path can redirect the write.
pub fn replace_in(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    contents: &[u8],
    permissions: Option<&fs::Permissions>,
) -> Result<(), FileError> {
    write_and_rename(
        dir,
        OsStr::new(".kelp-"),
        0o666,
        name,
        contents,
        permissions,
    )
}

/// The steps every replace shares: a temp file `<prefix>XXXXXX.tmp` created new in `dir` with
/// `mode`, written, given `permissions`, synced, renamed over `name`, the folder synced. A
/// failure removes the temp file.
fn write_and_rename(
    dir: BorrowedFd<'_>,
    prefix: &OsStr,
    mode: u32,
    name: &OsStr,
    contents: &[u8],
    permissions: Option<&fs::Permissions>,
) -> Result<(), FileError> {
    use rustix::fs::{AtFlags, Mode, OFlags};
    let mut attempts = 0;
    let (temp_name, file) = loop {
        let mut temp_name = prefix.to_os_string();
        let random = random_chars().map_err(step("name a temporary file beside"))?;
        temp_name.push(random);
        temp_name.push(".tmp");
        let created = rustix::fs::openat(
            dir,
            &temp_name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        );
        match created {
            Ok(fd) => break (temp_name, File::from(fd)),
            Err(rustix::io::Errno::EXIST) if attempts < 16 => attempts += 1,
            Err(e) => return Err(step("create a temporary file beside")(e.into())),
        }
    };
    let remove_temp = || {
        let _ = rustix::fs::unlinkat(dir, &temp_name, AtFlags::empty());
    };
    let mut writer = &file;
    let written = writer
        .write_all(contents)
        .and_then(|()| match permissions {
            Some(permissions) => file.set_permissions(permissions.clone()),
            None => Ok(()),
        })
        .and_then(|()| file.sync_all());
    if let Err(e) = written {
        remove_temp();
        return Err(step("write")(e));
    }
    if let Err(e) = rustix::fs::renameat(dir, &temp_name, dir, name) {
        remove_temp();
        return Err(step("replace")(e.into()));
    }
    // The rename is durable only once the folder itself is synced.
    let _ = rustix::fs::fsync(dir);
    Ok(())
}

/// The random part of a temp file's name: [`TEMP_RANDOM_CHARS`] of `[A-Za-z0-9_-]`, one per
/// random byte: 64 symbols, so none is likelier.
fn random_chars() -> std::io::Result<String> {
    const SYMBOLS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let mut raw = [0u8; TEMP_RANDOM_CHARS];
    getrandom::fill(&mut raw).map_err(|e| {
        std::io::Error::other(format!("the operating system gave no random bytes ({e})"))
    })?;
    Ok(raw
        .iter()
        .map(|b| char::from(SYMBOLS[usize::from(b % 64)]))
        .collect())
}

/// Removes temp files of [`replace`]'s naming (`.<name>.XXXXXX.tmp`) older than
/// [`STALE_TEMP`] from `dir`. Best effort: one that cannot be removed stays.
fn remove_stale_temps(dir: &Path, prefix: &std::ffi::OsStr) {
    let (Ok(entries), Some(prefix)) = (fs::read_dir(dir), prefix.to_str()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let is_ours = name
            .to_str()
            .and_then(|name| name.strip_prefix(prefix))
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .is_some_and(|random| {
                random.len() == TEMP_RANDOM_CHARS
                    && random
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            });
        // `DirEntry::metadata` does not follow links: only plain files of ours go.
        let stale = entry.metadata().is_ok_and(|meta| {
            meta.is_file()
                && meta
                    .modified()
                    .ok()
                    .and_then(|at| at.elapsed().ok())
                    .is_some_and(|age| age > STALE_TEMP)
        });
        if is_ours && stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sibling_and_parent_handle_bare_names() {
        assert_eq!(
            sibling(Path::new("a/b.json"), ".lock"),
            PathBuf::from("a/b.json.lock")
        );
        assert_eq!(
            sibling(Path::new("b.json"), ".lock"),
            PathBuf::from("./b.json.lock")
        );
        assert_eq!(parent_dir(Path::new("x")), Path::new("."));
    }

    #[test]
    fn a_held_lock_makes_the_next_one_give_up_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        let held = lock_beside(&path).unwrap();
        let err = lock_beside_within(&path, Duration::from_millis(200)).unwrap_err();
        assert!(err.is_busy(), "{err}");
        drop(held);
        lock_beside_within(&path, Duration::from_millis(200)).unwrap();
    }

    #[test]
    fn temp_names_are_filename_safe_and_vary() {
        let names: Vec<String> = (0..4).map(|_| random_chars().unwrap()).collect();
        for name in &names {
            assert_eq!(name.len(), TEMP_RANDOM_CHARS);
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
                "{name}"
            );
        }
        // 4 × 36 random bits: all equal only if the generator is broken.
        assert!(names.iter().any(|name| *name != names[0]), "{names:?}");
    }

    #[test]
    fn replace_leaves_no_temp_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deep").join("file.toml");
        replace(&path, b"one").unwrap();
        replace(&path, b"two").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "two");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("file.toml")]);
    }
}
