//! The private `/tmp` of this kelp's commands: one folder per running kelp, held by a lock
//! beside it so a later kelp sweeps only those of kelps gone, emptied past its cap, and removed
//! when kelp ends.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The folder mounted over `/tmp` in every command of this kelp, made at the first command.
/// The private `/tmp` of this kelp's commands, and the lock beside it that says a live kelp
/// holds it.
struct HeldTmp {
    dir: PathBuf,
    _lock: std::fs::File,
}

static PRIVATE_TMP: OnceLock<Option<HeldTmp>> = OnceLock::new();

pub(super) fn private_tmp() -> Option<&'static PathBuf> {
    PRIVATE_TMP
        .get_or_init(|| {
            sweep_abandoned_tmps();
            let pid = std::process::id();
            (0..100).find_map(|attempt| {
                let dir = PathBuf::from(format!("/tmp/kelp-{pid}-{attempt}"));
                // Neither follows nor reuses what is there: a planted name is skipped.
                let lock = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                    .open(lock_beside(&dir))
                    .ok()?;
                lock.try_lock().ok()?;
                std::fs::DirBuilder::new().mode(0o700).create(&dir).ok()?;
                Some(HeldTmp { dir, _lock: lock })
            })
        })
        .as_ref()
        .map(|held| &held.dir)
}

/// `/tmp/kelp-PID-N.lock`: held by the kelp whose commands use `/tmp/kelp-PID-N`, outside
/// what those commands see.
fn lock_beside(dir: &Path) -> PathBuf {
    let mut name = dir.as_os_str().to_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

/// Removes the private `/tmp`s this user's kelps left when they were killed outright (SIGKILL
/// gives no time to clean up): each whose lock no live kelp holds.
fn sweep_abandoned_tmps() {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: getuid cannot fail and touches no memory.
    let uid = unsafe { libc::getuid() };
    let Ok(entries) = std::fs::read_dir("/tmp") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|name| name.strip_prefix("kelp-")) else {
            continue;
        };
        let numbered = rest.split_once('-').is_some_and(|(pid, n)| {
            [pid, n]
                .iter()
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
        });
        let dir = entry.path();
        let ours = dir
            .symlink_metadata()
            .is_ok_and(|meta| meta.is_dir() && meta.uid() == uid);
        if !numbered || !ours {
            continue;
        }
        let Ok(lock) = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(lock_beside(&dir))
        else {
            continue;
        };
        if lock.try_lock().is_ok() {
            tracing::info!(dir = %dir.display(), "removing a private /tmp no live kelp holds");
            let _ = crate::private_file::remove_tree(&dir);
            let _ = std::fs::remove_file(lock_beside(&dir));
        }
    }
}

/// The private `/tmp`, if commands have one: Landlock needs its own rule for it, as it does
/// not look at the `/tmp` it covers.
pub fn private_tmp_dir() -> Option<&'static Path> {
    private_tmp().map(PathBuf::as_path)
}

/// Removes the private `/tmp` of this kelp's commands, if one was made: at exit.
pub fn remove_private_tmp() {
    if let Some(Some(held)) = PRIVATE_TMP.get() {
        // What commands left there is theirs to shape: a chain of folders of any depth.
        let _ = crate::private_file::remove_tree(&held.dir);
        let _ = std::fs::remove_file(lock_beside(&held.dir));
    }
}

/// Whether what the private `/tmp` holds takes more than `cap` bytes on disk, counted on a
/// stack of its own and no further than the cap.
fn private_tmp_over(dir: &Path, cap: u64) -> bool {
    use std::os::unix::fs::MetadataExt;
    let mut used = 0u64;
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            used = used.saturating_add(meta.blocks().saturating_mul(512));
            if used > cap {
                return true;
            }
            if meta.is_dir() {
                folders.push(entry.path());
            }
        }
    }
    false
}

/// Empties the private `/tmp` when what commands left there takes more than `cap` bytes: it
/// lives on the machine's disk, so its size is held at the end of each command. Returns the
/// note for the model and the person when it was emptied.
pub fn hold_private_tmp_to(cap: u64) -> Option<String> {
    let dir = PRIVATE_TMP.get()?.as_ref().map(|held| &held.dir)?;
    if !private_tmp_over(dir, cap) {
        return None;
    }
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let _ = crate::private_file::remove_tree(&entry.path());
    }
    Some(format!(
        "the commands' private /tmp held more than {} MB (private_tmp_max_mb in config.toml), so kelp emptied it",
        cap / (1024 * 1024)
    ))
}
