//! kelp's runtime folder, where a running app-server keeps its socket and the tokens of its
//! listeners, and where each listener says which token file it reads, so that every command
//! sandbox, of any kelp of the person's, hides it.
//!
//! The folder is `$XDG_RUNTIME_DIR/kelp`, else `kelp/run` in kelp's state folder: a folder
//! under the person's home that only they can make (never a name in `/tmp` another user could
//! make first). Commands see neither: the runtime folder and the state folder are hidden.

use std::path::{Path, PathBuf};

/// Why kelp has no runtime folder of the person's, or cannot write in it.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("neither XDG_RUNTIME_DIR nor HOME is set: kelp has no folder of yours for its socket")]
    NoFolder,
    #[error("{} is not a folder of this user's: kelp will not put its socket there", .0.display())]
    NotTheirs(PathBuf),
    // The I/O error is in the words, not a source: printed with its causes, it would be
    // said twice.
    #[error("{}: {error}", .path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl RuntimeError {
    /// An I/O error at `path`, for `map_err`.
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |error| Self::Io {
            path: path.to_path_buf(),
            error,
        }
    }
}

/// The folder, made 0700 if it is missing; refused when it is a link or another user's (a
/// planted folder would see the socket).
pub fn runtime_folder() -> Result<PathBuf, RuntimeError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let folder = runtime_folder_path()?;
    crate::private_file::create_private_dir(&folder).map_err(RuntimeError::io(&folder))?;
    let meta = std::fs::symlink_metadata(&folder).map_err(RuntimeError::io(&folder))?;
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    if !meta.is_dir() || meta.uid() != uid {
        return Err(RuntimeError::NotTheirs(folder));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700))
            .map_err(RuntimeError::io(&folder))?;
    }
    Ok(folder)
}

/// The name of the person's own app-server's socket in the folder.
pub const SOCKET_NAME: &str = "app-server.sock";

/// Where the person's own app-server listens when one may: the socket in their runtime folder,
/// which is not made here.
pub fn existing_default_socket() -> Option<PathBuf> {
    let socket = existing_runtime_folder()?.join(SOCKET_NAME);
    socket.exists().then_some(socket)
}

/// The folder when it is there already and the person's own (never made, never changed): where
/// a server of theirs may listen.
pub fn existing_runtime_folder() -> Option<PathBuf> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let folder = runtime_folder_path().ok()?;
    let meta = std::fs::symlink_metadata(&folder).ok()?;
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let private = meta.permissions().mode() & 0o022 == 0;
    (meta.is_dir() && meta.uid() == uid && private).then_some(folder)
}

/// Where the folder is, as the environment says: `$XDG_RUNTIME_DIR/kelp`, else
/// `$XDG_STATE_HOME/kelp/run`, else `~/.local/state/kelp/run`.
pub fn runtime_folder_path() -> Result<PathBuf, RuntimeError> {
    let var = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute())
    };
    if let Some(dir) = var("XDG_RUNTIME_DIR") {
        return Ok(dir.join("kelp"));
    }
    let state = var("XDG_STATE_HOME")
        .or_else(|| var("HOME").map(|home| home.join(".local/state")))
        .ok_or(RuntimeError::NoFolder)?;
    Ok(state.join("kelp").join("run"))
}

/// The folder of the listeners' records in `runtime`: one file per listening server, holding
/// the path of the token file it reads.
fn listeners_in(runtime: &Path) -> PathBuf {
    runtime.join("listeners")
}

/// A running listener's record of its token file: written when it starts listening, removed
/// when it stops (a server killed outright leaves it, and its file stays hidden, which costs
/// nothing).
#[derive(Debug)]
pub struct TokenFileRecord {
    record: PathBuf,
}

impl TokenFileRecord {
    /// Records that this process's listener reads its token from `token_file` (absolute).
    pub fn write(token_file: &Path) -> Result<Self, RuntimeError> {
        Self::write_in(&runtime_folder()?, token_file)
    }

    fn write_in(runtime: &Path, token_file: &Path) -> Result<Self, RuntimeError> {
        use std::io::Write;
        use std::os::unix::ffi::OsStrExt;
        let folder = listeners_in(runtime);
        crate::private_file::create_private_dir(&folder).map_err(RuntimeError::io(&folder))?;
        let record = folder.join(format!("{}.token-file", std::process::id()));
        let mut file = crate::private_file::private_open_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&record)
            .map_err(RuntimeError::io(&record))?;
        file.write_all(token_file.as_os_str().as_bytes())
            .map_err(RuntimeError::io(&record))?;
        Ok(Self { record })
    }
}

impl Drop for TokenFileRecord {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.record);
    }
}

/// The most records read: far more listeners than a person runs.
const MAX_RECORDS: usize = 256;

/// The token files the person's listeners read, as their records name them (and as real
/// paths, where a link leads elsewhere): each hidden from every command. Every place a kelp
/// of the person's may keep its runtime folder is read, not only this process's: a server
/// started by the session manager (with `XDG_RUNTIME_DIR`) and a client in a shell without it
/// see each other's listeners.
pub fn listener_token_files() -> Vec<PathBuf> {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let var = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute())
    };
    let mut places: Vec<PathBuf> = [
        var("XDG_RUNTIME_DIR").map(|dir| dir.join("kelp")),
        Some(PathBuf::from(format!("/run/user/{uid}/kelp"))),
        var("XDG_STATE_HOME").map(|dir| dir.join("kelp/run")),
        var("HOME").map(|home| home.join(".local/state/kelp/run")),
    ]
    .into_iter()
    .flatten()
    .collect();
    places.dedup();
    let mut files: Vec<PathBuf> = places
        .iter()
        .flat_map(|place| token_files_in(place))
        .collect();
    files.sort();
    files.dedup();
    files
}

fn token_files_in(runtime: &Path) -> Vec<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let mut files = Vec::new();
    for entry in std::fs::read_dir(listeners_in(runtime))
        .into_iter()
        .flatten()
        .flatten()
        .take(MAX_RECORDS)
    {
        let Ok(bytes) = crate::private_file::read_regular(&entry.path(), 4096) else {
            continue;
        };
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(&bytes));
        if !path.is_absolute() {
            continue;
        }
        if let Ok(real) = std::fs::canonicalize(&path)
            && real != path
        {
            files.push(real);
        }
        files.push(path);
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record names its token file while its listener lives, and goes with it.
    #[test]
    fn a_listeners_record_names_its_token_file_while_it_lives() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "t\n").unwrap();
        let record = TokenFileRecord::write_in(dir.path(), &token).unwrap();
        assert_eq!(token_files_in(dir.path()), [token.canonicalize().unwrap()]);
        drop(record);
        assert!(token_files_in(dir.path()).is_empty());
    }
}
