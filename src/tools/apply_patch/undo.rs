//! Undoing saved patches: each file put back as it was before, newest change first, through
//! the same opener as the patches (beneath the project root, never through a link out). A file
//! that is not as the change left it (edited since, by a person or a command) is left alone and
//! named: undoing it would lose that work.

use std::collections::HashSet;
use std::fs::Metadata;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::super::opener::{Approved, Opener};
use super::plan::{reason, remove_files, write_file};
use crate::protocol::ChangeKind;
use crate::session::record::{MAX_UNDO_BYTES, SavedChange, sha256_hex};

/// What an undo did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Undone {
    /// The files put back, as shown to the person.
    pub restored: Vec<String>,
    /// The files left as they are, each with why.
    pub refused: Vec<(String, String)>,
}

/// Undoes `changes` (oldest first, as they were made) in `project_dir`, newest first.
pub fn undo(changes: &[SavedChange], project_dir: &Path) -> Undone {
    let mut done = Undone::default();
    let opener = match Opener::new(project_dir, Approved::Only(Vec::new())) {
        Ok(opener) => opener,
        Err(e) => {
            done.refused.push((
                project_dir.display().to_string(),
                format!("cannot open the project: {e}"),
            ));
            return done;
        }
    };
    // A file refused once stays refused: its older changes cannot be undone over it.
    let mut stuck: HashSet<PathBuf> = HashSet::new();
    let mut restored: Vec<PathBuf> = Vec::new();
    for change in changes.iter().rev() {
        let now_at = change.move_to.as_ref().unwrap_or(&change.path);
        if stuck.contains(now_at) || stuck.contains(&change.path) {
            continue;
        }
        match undo_one(&opener, change) {
            Ok(()) => {
                restored.retain(|p| p != now_at && p != &change.path);
                restored.push(change.path.clone());
                if let Some(moved) = &change.move_to {
                    restored.push(moved.clone());
                }
            }
            Err(why) => {
                stuck.insert(now_at.clone());
                stuck.insert(change.path.clone());
                restored.retain(|p| p != now_at && p != &change.path);
                done.refused.push((opener.shown(now_at), why));
            }
        }
    }
    restored.dedup();
    done.restored = restored.iter().map(|p| opener.shown(p)).collect();
    done
}

fn undo_one(opener: &Opener, change: &SavedChange) -> Result<(), String> {
    let now_at = change.move_to.as_ref().unwrap_or(&change.path);
    // The file must be as the change left it.
    let current = read_text(opener, now_at)?;
    match (&change.after_sha256, &current) {
        (None, None) => {}
        (Some(want), Some((text, _))) if sha256_hex(text) == *want => {}
        (Some(_), None) => return Err("it was removed since".to_string()),
        (None, Some(_)) => return Err("a file was created there since".to_string()),
        (Some(_), Some(_)) => return Err("it changed on disk since".to_string()),
    }
    match change.kind {
        ChangeKind::Add => remove_files(std::slice::from_ref(now_at), opener, Vec::new())
            .map_err(|e| e.to_string()),
        ChangeKind::Delete | ChangeKind::Update => {
            let before = change.before.as_deref().ok_or_else(|| {
                "what it held before was not kept (not UTF-8, or larger than 1 MiB)".to_string()
            })?;
            // The file read is the one replaced, with its permissions (a script stays
            // executable); one swapped in since the check is refused. A moved file's text goes
            // back to a path that holds nothing now.
            let (permissions, identity) = match (&change.move_to, &current) {
                (None, Some((_, meta))) => {
                    (Some(meta.permissions()), Some((meta.dev(), meta.ino())))
                }
                _ => (None, None),
            };
            write_file(
                opener,
                &change.path,
                before.as_bytes(),
                permissions.as_ref(),
                identity,
            )?;
            if change.move_to.is_some() {
                remove_files(std::slice::from_ref(now_at), opener, Vec::new())
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        }
    }
}

/// The text of the file at `path` and what it is, `None` when there is none.
fn read_text(opener: &Opener, path: &Path) -> Result<Option<(String, Metadata)>, String> {
    let (file, meta) = match opener.open_regular(path) {
        Ok(found) => found,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(reason(&e)),
    };
    if meta.len() > MAX_UNDO_BYTES as u64 {
        return Err("it changed on disk since".to_string());
    }
    let mut bytes = Vec::new();
    (&file)
        .take(MAX_UNDO_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    String::from_utf8(bytes)
        .map(|text| Some((text, meta)))
        .map_err(|_| "it changed on disk since".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::apply_patch::{ApplyPatchCall, FileChange};

    /// Applies `patch` in `dir` as the tool does and returns its changes as saved.
    fn applied(dir: &Path, patch: &str) -> Vec<SavedChange> {
        let call = ApplyPatchCall::parse(patch.to_string(), None).unwrap();
        let (_, changes) = call.apply(dir, &[]).unwrap();
        changes.iter().map(FileChange::saved).collect()
    }

    #[test]
    fn patches_are_undone_newest_first_and_edited_files_are_left_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "one\n").unwrap();
        std::fs::write(dir.path().join("b.txt"), "bee\n").unwrap();
        std::fs::write(dir.path().join("gone.txt"), "keep me\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.path().join("a.txt"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let mut changes = applied(
            dir.path(),
            "*** Begin Patch\n*** Update File: a.txt\n@@\n-one\n+two\n*** Add File: new.txt\n+fresh\n*** Delete File: gone.txt\n*** End Patch\n",
        );
        changes.extend(applied(
            dir.path(),
            "*** Begin Patch\n*** Update File: a.txt\n@@\n-two\n+three\n*** Update File: b.txt\n@@\n-bee\n+buzz\n*** End Patch\n",
        ));
        // A person edits b.txt after the model did.
        std::fs::write(dir.path().join("b.txt"), "buzz, and mine\n").unwrap();

        let done = undo(&changes, dir.path());
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).ok();
        assert_eq!(
            read("a.txt").as_deref(),
            Some("one\n"),
            "both changes undone"
        );
        let mode = std::fs::metadata(dir.path().join("a.txt"))
            .unwrap()
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o755,
            "its permissions kept"
        );
        assert_eq!(read("new.txt"), None);
        assert_eq!(read("gone.txt").as_deref(), Some("keep me\n"));
        assert_eq!(read("b.txt").as_deref(), Some("buzz, and mine\n"));
        assert_eq!(
            done.refused,
            [("b.txt".to_string(), "it changed on disk since".to_string())]
        );
        let mut restored = done.restored.clone();
        restored.sort();
        assert_eq!(restored, ["a.txt", "gone.txt", "new.txt"]);
    }
}
