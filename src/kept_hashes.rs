//! What the person allowed once, kept by hash: one SHA-256 per line in a private file of
//! kelp's state folder, written whole under a lock so two kelps never lose one another's. A
//! thing that changes has another hash, and is asked about again. The hooks' trust and a
//! project's settings keep theirs this way.

use std::collections::BTreeSet;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::private_file;

/// The most a file of hashes is read of: far more hashes than anyone allows.
const MAX_BYTES: u64 = 1024 * 1024;

/// The hash of `parts`, each ended by a NUL so that no two lists of parts hash alike.
pub fn hash_of(parts: &[&str]) -> String {
    let mut digest = Sha256::new();
    for part in parts {
        digest.update(part.as_bytes());
        digest.update([0]);
    }
    digest
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The hashes kept in `path` (none when the file is missing or unreadable).
pub fn read(path: &Path) -> BTreeSet<String> {
    private_file::read_private(path, MAX_BYTES)
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

/// Adds `hashes` to those kept in `path`, creating its folder (private) if needed.
pub fn add(path: &Path, hashes: &[String]) -> Result<(), private_file::FileError> {
    change(path, hashes, &[])
}

/// Adds `added` to the hashes kept in `path` and takes `removed` out, in one write under the
/// lock.
pub fn change(
    path: &Path,
    added: &[String],
    removed: &[String],
) -> Result<(), private_file::FileError> {
    if let Some(folder) = path.parent() {
        private_file::create_private_dir(folder).map_err(|source| private_file::FileError {
            action: "create",
            source,
        })?;
    }
    let _lock = private_file::lock_beside(path)?;
    let mut all = read(path);
    all.extend(added.iter().cloned());
    all.retain(|hash| !removed.contains(hash));
    let text: String = all.iter().map(|hash| format!("{hash}\n")).collect();
    private_file::replace(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parts hash apart however they are cut, and what is kept adds up across writes.
    #[test]
    fn hashes_tell_parts_apart_and_adding_keeps_what_was_there() {
        assert_ne!(hash_of(&["ab", "c"]), hash_of(&["a", "bc"]));
        assert_ne!(hash_of(&["a"]), hash_of(&["a", ""]));
        assert_eq!(hash_of(&["x", "y"]), hash_of(&["x", "y"]));
        let state = tempfile::tempdir().unwrap();
        let path = state.path().join("kelp").join("allowed");
        assert!(read(&path).is_empty());
        add(&path, &[hash_of(&["one"])]).unwrap();
        add(&path, &[hash_of(&["two"]), hash_of(&["one"])]).unwrap();
        assert_eq!(
            read(&path),
            BTreeSet::from([hash_of(&["one"]), hash_of(&["two"])])
        );
    }
}
