//! Which hooks the person trusted: the hash of each (its event, matcher and command), kept in
//! `trusted-hooks` in kelp's state folder. A hook whose command or matcher changes has another
//! hash, and waits again. Those the person turned off are kept the same way, in
//! `disabled-hooks`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::HookEvent;
use crate::kept_hashes;

fn file(state_dir: &Path) -> PathBuf {
    state_dir.join("trusted-hooks")
}

/// The hash a hook's trust is kept by.
pub(super) fn hash_of(event: HookEvent, matcher: Option<&str>, command: &str) -> String {
    kept_hashes::hash_of(&[event.name(), matcher.unwrap_or(""), command])
}

/// The hashes of the hooks trusted so far (none when the file is missing or unreadable).
pub fn trusted_hashes(state_dir: &Path) -> BTreeSet<String> {
    kept_hashes::read(&file(state_dir))
}

fn disabled_file(state_dir: &Path) -> PathBuf {
    state_dir.join("disabled-hooks")
}

/// The hashes of the hooks the person turned off.
pub fn disabled_hashes(state_dir: &Path) -> BTreeSet<String> {
    kept_hashes::read(&disabled_file(state_dir))
}

/// Turns the hooks of `hashes` on or off.
pub fn set_enabled(
    state_dir: &Path,
    hashes: &[String],
    enabled: bool,
) -> Result<(), crate::private_file::FileError> {
    match enabled {
        true => kept_hashes::change(&disabled_file(state_dir), &[], hashes),
        false => kept_hashes::add(&disabled_file(state_dir), hashes),
    }
}

/// Adds `hashes` to the trusted ones.
pub fn trust(state_dir: &Path, hashes: &[String]) -> Result<(), crate::private_file::FileError> {
    kept_hashes::add(&file(state_dir), hashes)
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
