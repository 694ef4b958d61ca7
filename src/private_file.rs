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

/// Whether `file` is the file `path` names now (not one renamed over it since it was opened).
pub fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(held), Ok(named)) => (held.dev(), held.ino()) == (named.dev(), named.ino()),
        _ => false,
    }
}

/// Opens kelp's own file at `path` for reading: without waiting, and only when it is a regular
/// file of at most `max_bytes` (a FIFO named like a session file, `config.toml` or
/// `kelp.log` would otherwise hang whoever reads it). The error says what is wrong in words.
pub fn open_regular(path: &Path, max_bytes: u64) -> io::Result<(File, fs::Metadata)> {
    let (file, meta) = open_without_waiting(path)?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is {}, not a regular file",
                path.display(),
                kind_of(&meta)
            ),
        ));
    }
    if meta.len() > max_bytes {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is {} bytes, more than the {max_bytes} kelp reads",
                path.display(),
                meta.len()
            ),
        ));
    }
    // Regular: reads no longer need to return at once.
    let flags = rustix::fs::fcntl_getfl(&file)?;
    rustix::fs::fcntl_setfl(&file, flags - rustix::fs::OFlags::NONBLOCK)?;
    Ok((file, meta))
}

/// The whole of kelp's own file at `path`, through [`open_regular`].
pub fn read_regular(path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let (file, meta) = open_regular(path, max_bytes)?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max_bytes).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// [`read_regular`] for a private file of kelp's own (the config, which may hold an MCP
/// server's headers): the file, and the folder it is in, are made private first when others
/// may read them.
pub fn read_private(path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let (file, meta) = open_regular(path, max_bytes)?;
    keep_private(path, &meta, Some(&file));
    keep_folder_private(path);
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max_bytes).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Keeps the folder `path` is in private ([`keep_private`]) when it is kelp's own, named
/// `kelp` as in the standard layout; a folder the person named (a shared auth file beside
/// another tool's, say) is theirs to set.
pub fn keep_folder_private(path: &Path) {
    let folder = parent_dir(path);
    if folder.file_name().is_some_and(|name| name == "kelp")
        && let Ok(meta) = fs::symlink_metadata(folder)
        && meta.is_dir()
    {
        keep_private(folder, &meta, None);
    }
}

/// What `meta` is, with its article, for a message: "a FIFO (named pipe)".
pub fn kind_of(meta: &fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    if kind.is_file() {
        "a regular file"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else {
        "not a file"
    }
}

/// Files and folders of kelp's whose mode let others in, and were made private since the last
/// look: for a notice.
static TIGHTENED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Makes kelp's own file (open as `file`, found at `path`) or folder private when others may
/// read or write it: 0600 for a file, 0700 for a folder, with a note for the person.
pub fn keep_private(path: &Path, meta: &fs::Metadata, file: Option<&File>) {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return;
    }
    let private = if meta.is_dir() { 0o700 } else { 0o600 } & mode;
    let permissions = fs::Permissions::from_mode(private);
    let made = match file {
        Some(file) => file.set_permissions(permissions),
        None => fs::set_permissions(path, permissions),
    };
    let note = match made {
        Ok(()) => format!(
            "{} was open to other users (mode {mode:o}); kelp made it {private:o}",
            path.display()
        ),
        Err(e) => format!(
            "{} is open to other users (mode {mode:o}) and kelp could not change that: {e}",
            path.display()
        ),
    };
    tracing::warn!("{note}");
    TIGHTENED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(note);
}

/// The notes of [`keep_private`] since the last call.
pub fn take_tightened() -> Vec<String> {
    std::mem::take(
        &mut *TIGHTENED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
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
    lock_within(&file, wait)?;
    Ok(file)
}

/// Takes the exclusive advisory lock on `file`, waiting up to `wait` for another holder to let
/// go; the lock goes with the file's last descriptor. A holder past the wait is
/// [`FileError::is_busy`].
pub fn lock_within(file: &File, wait: Duration) -> Result<(), FileError> {
    let deadline = Instant::now() + wait;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
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
    replace_when(path, contents, Swap::Always).map(drop)
}

/// Which version of a file was read: its identity, size and modification time. A writer that
/// ignores the lock (opencode rewrites auth.json in place) changes at least one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
}

impl FileStamp {
    /// The stamp of what `meta` describes.
    pub fn of(meta: &fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
        }
    }

    /// The stamp of what `stat` describes.
    fn of_stat(stat: &rustix::fs::Stat) -> Self {
        Self {
            dev: stat.st_dev,
            ino: stat.st_ino,
            size: u64::try_from(stat.st_size).unwrap_or(0),
            mtime: (
                stat.st_mtime,
                i64::try_from(stat.st_mtime_nsec).unwrap_or(0),
            ),
        }
    }

    /// Whether the file was emptied (or never written).
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }
}

/// [`replace`], unless the file no longer is the version `read` (`None`: no file). The new file
/// is exchanged with the old one in one step (`RENAME_EXCHANGE`), and the old one, now out of
/// the way, is looked at: if another writer changed it after it was read (opencode truncates
/// it when it starts a write), the two are exchanged back and nothing of theirs is lost.
/// `Ok(false)`: it changed, nothing was replaced, and the caller reads it again.
pub fn replace_if_unchanged(
    path: &Path,
    contents: &[u8],
    read: Option<FileStamp>,
) -> Result<bool, FileError> {
    replace_when(path, contents, Swap::IfStill(read))
}

/// How the new file takes the old one's place.
#[derive(Clone, Copy)]
enum Swap {
    /// Renamed over it, whatever it is.
    Always,
    /// Only while it is the version read (`None`: while there is none).
    IfStill(Option<FileStamp>),
}

/// [`replace`], the new file taking the old one's place as `swap` says.
fn replace_when(path: &Path, contents: &[u8], swap: Swap) -> Result<bool, FileError> {
    let dir = parent_dir(path);
    create_private_dir(dir).map_err(step("create the folder of"))?;
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(path.file_name().unwrap_or_default());
    prefix.push(".");
    remove_stale_temps(dir, &prefix);
    let folder = File::open(dir).map_err(step("open the folder of"))?;
    let name = path.file_name().unwrap_or_default();
    write_and_rename(folder.as_fd(), &prefix, 0o600, name, contents, None, swap)
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
        Swap::Always,
    )
    .map(drop)
}

/// The steps every replace shares: a temp file `<prefix>XXXXXX.tmp` created new in `dir` with
/// `mode`, written, given `permissions`, synced, put in `name`'s place as `swap` says, the
/// folder synced. A failure, or a file that changed meanwhile, removes the temp file;
/// `Ok(false)` is the file that changed.
fn write_and_rename(
    dir: BorrowedFd<'_>,
    prefix: &OsStr,
    mode: u32,
    name: &OsStr,
    contents: &[u8],
    permissions: Option<&fs::Permissions>,
    swap: Swap,
) -> Result<bool, FileError> {
    use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags};
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
    let swapped = match swap {
        Swap::Always => rustix::fs::renameat(dir, &temp_name, dir, name).map(|()| true),
        // There was no file: there still must be none.
        Swap::IfStill(None) => {
            match rustix::fs::renameat_with(dir, &temp_name, dir, name, RenameFlags::NOREPLACE) {
                Err(rustix::io::Errno::EXIST) => Ok(false),
                other => other.map(|()| true),
            }
        }
        Swap::IfStill(Some(read)) => exchange_if_still(dir, &temp_name, name, read),
    };
    let swapped = match swapped {
        Ok(swapped) => swapped,
        Err(e) => {
            remove_temp();
            return Err(step("replace")(e.into()));
        }
    };
    // The temp name now holds the old file (exchanged), the new one (not wanted), or nothing.
    remove_temp();
    if !swapped {
        return Ok(false);
    }
    // The rename is durable only once the folder itself is synced.
    let _ = rustix::fs::fsync(dir);
    Ok(true)
}

/// Exchanges the new file `temp` with `name`, and keeps the exchange only if what it took out
/// of the way is still the version `read`; otherwise exchanges them back. A file that changed
/// before the exchange is not exchanged at all: while the new file stands at `name`, another
/// writer may read it and write its own round into it, which exchanging back would discard. On
/// a file system without exchange, the old file is looked at just before a plain rename.
fn exchange_if_still(
    dir: BorrowedFd<'_>,
    temp: &OsStr,
    name: &OsStr,
    read: FileStamp,
) -> rustix::io::Result<bool> {
    use rustix::fs::{AtFlags, RenameFlags};
    let is_read = |at: &OsStr| {
        rustix::fs::statat(dir, at, AtFlags::SYMLINK_NOFOLLOW)
            .is_ok_and(|stat| FileStamp::of_stat(&stat) == read)
    };
    // Changed already (while the new file was written and synced): nothing is exchanged, so
    // no reader meets the new file only for it to be taken back.
    if !is_read(name) {
        return Ok(false);
    }
    match rustix::fs::renameat_with(dir, temp, dir, name, RenameFlags::EXCHANGE) {
        Ok(()) if is_read(temp) => Ok(true),
        Ok(()) => {
            rustix::fs::renameat_with(dir, temp, dir, name, RenameFlags::EXCHANGE).map(|()| false)
        }
        // Gone since it was read: it changed.
        Err(rustix::io::Errno::NOENT) => Ok(false),
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) if is_read(name) => {
            rustix::fs::renameat(dir, temp, dir, name).map(|()| true)
        }
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => Ok(false),
        Err(e) => Err(e),
    }
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

/// Removes `path` and, when it is a folder, everything beneath it, never following a link:
/// on a stack of its own and with one folder held open at a time, so a tree of any depth (one
/// command makes a chain tens of thousands deep) costs neither recursion nor descriptors. It
/// climbs back with `..`, each step checked against the folder it came down through, so a
/// folder moved meanwhile stops it rather than leading it elsewhere.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    let Some(name) = path.file_name() else {
        return Err(io::ErrorKind::InvalidInput.into());
    };
    let parent = open_folder(rustix::fs::CWD, parent_dir(path).as_os_str())?;
    remove_tree_at(parent.as_fd(), name)
}

/// [`remove_tree`] of `name` in the folder `dir`.
pub fn remove_tree_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    use rustix::fs::{AtFlags, FileType};
    let is_folder = |at: BorrowedFd<'_>, name: &OsStr| {
        rustix::fs::statat(at, name, AtFlags::SYMLINK_NOFOLLOW)
            .is_ok_and(|stat| FileType::from_raw_mode(stat.st_mode) == FileType::Directory)
    };
    if !is_folder(dir, name) {
        return Ok(rustix::fs::unlinkat(dir, name, AtFlags::empty())?);
    }
    // Each level, from the top down: the folder's identity, its name, and the names in it not
    // yet removed. Only the deepest is held open.
    let mut current = open_folder(dir, name)?;
    let mut levels = vec![(
        identity(&current)?,
        name.to_os_string(),
        names_in(&current)?,
    )];
    loop {
        let Some((_, _, names)) = levels.last_mut() else {
            return Ok(());
        };
        if let Some(child) = names.pop() {
            if is_folder(current.as_fd(), &child) {
                let inner = open_folder(current.as_fd(), &child)?;
                levels.push((identity(&inner)?, child, names_in(&inner)?));
                current = inner;
            } else {
                rustix::fs::unlinkat(&current, child.as_os_str(), AtFlags::empty())?;
            }
            continue;
        }
        let Some((_, own, _)) = levels.pop() else {
            return Ok(());
        };
        match levels.last() {
            Some((above, _, _)) => {
                let parent = open_folder(current.as_fd(), OsStr::new(".."))?;
                if identity(&parent)? != *above {
                    return Err(io::Error::other(
                        "a folder was moved while it was being removed",
                    ));
                }
                rustix::fs::unlinkat(&parent, own.as_os_str(), AtFlags::REMOVEDIR)?;
                current = parent;
            }
            None => {
                rustix::fs::unlinkat(dir, own.as_os_str(), AtFlags::REMOVEDIR)?;
                return Ok(());
            }
        }
    }
}

/// Opens the folder `name` in `dir`, refusing a link.
pub fn open_folder(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<std::os::fd::OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    Ok(rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

fn identity(folder: &std::os::fd::OwnedFd) -> io::Result<(u64, u64)> {
    let stat = rustix::fs::fstat(folder)?;
    Ok((stat.st_dev, stat.st_ino))
}

/// The names in the open folder, `.` and `..` left out.
pub fn names_in(folder: &std::os::fd::OwnedFd) -> io::Result<Vec<std::ffi::OsString>> {
    use std::os::unix::ffi::OsStrExt;
    let mut names = Vec::new();
    let mut listing = rustix::fs::Dir::read_from(folder)?;
    while let Some(entry) = listing.read() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsStr::from_bytes(name).to_os_string());
        }
    }
    Ok(names)
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
