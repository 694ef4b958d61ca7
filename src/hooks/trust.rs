//! Which hooks the person trusted: the hash of each (its event, matcher and command), one per
//! line in `trusted-hooks` in kelp's state folder, written whole under a lock so two kelps never
//! lose one another's. A hook whose command or matcher changes has another hash, and waits
//! again.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::HookEvent;
use crate::private_file;

/// The most the file is read of: far more hashes than anyone trusts.
const MAX_BYTES: u64 = 1024 * 1024;

fn file(state_dir: &Path) -> PathBuf {
    state_dir.join("trusted-hooks")
}

/// The hash a hook's trust is kept by.
pub(super) fn hash_of(event: HookEvent, matcher: Option<&str>, command: &str) -> String {
    let mut digest = Sha256::new();
    for part in [event.name(), matcher.unwrap_or(""), command] {
        digest.update(part.as_bytes());
        digest.update([0]);
    }
    digest
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The hashes of the hooks trusted so far (none when the file is missing or unreadable).
pub fn trusted_hashes(state_dir: &Path) -> BTreeSet<String> {
    private_file::read_private(&file(state_dir), MAX_BYTES)
        .map(|bytes| {
            String::from_utf8_lossy(&bytes)
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Adds `hashes` to the trusted ones.
pub fn trust(state_dir: &Path, hashes: &[String]) -> Result<(), private_file::FileError> {
    let path = file(state_dir);
    private_file::create_private_dir(state_dir).map_err(|source| private_file::FileError {
        action: "create",
        source,
    })?;
    let _lock = private_file::lock_beside(&path)?;
    let mut all = trusted_hashes(state_dir);
    all.extend(hashes.iter().cloned());
    let text: String = all.iter().map(|hash| format!("{hash}\n")).collect();
    private_file::replace(&path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hash names one event, matcher and command; trust is kept across reads and adds up.
    #[test]
    fn a_trusted_hash_is_kept_and_a_changed_hook_is_another() {
        let state = tempfile::tempdir().unwrap();
        let rm = hash_of(HookEvent::PreToolUse, Some("Bash"), "./guard.sh");
        assert_ne!(
            rm,
            hash_of(HookEvent::PreToolUse, Some("Bash"), "./guard.sh -v")
        );
        assert_ne!(rm, hash_of(HookEvent::PreToolUse, None, "./guard.sh"));
        assert_ne!(
            rm,
            hash_of(HookEvent::PostToolUse, Some("Bash"), "./guard.sh")
        );
        assert!(trusted_hashes(state.path()).is_empty());
        trust(state.path(), std::slice::from_ref(&rm)).unwrap();
        let stop = hash_of(HookEvent::Stop, None, "./stop.sh");
        trust(state.path(), std::slice::from_ref(&stop)).unwrap();
        assert_eq!(trusted_hashes(state.path()), BTreeSet::from([rm, stop]));
    }
}
