//! A patch applied in memory: every file's final state, checked before anything is written,
//! then committed — each file atomically, removals last.

use std::fs::Permissions;
use std::io;
use std::path::{Path, PathBuf};

use super::diff::{added_diff, deleted_diff, update_diff};
use super::parse::{FileOp, Patch};
use super::seek::{Text, apply_replacements, find_replacements};
use super::{Applied, ChangeKind, FileChange, Overlay, PatchError};
use crate::agent::tools::paths;

/// What a file will be once the patch is applied.
enum Slot {
    /// Written with these contents (and, when it replaces a file, that file's permissions).
    Write {
        contents: String,
        permissions: Option<Permissions>,
    },
    /// Removed.
    Remove,
}

/// The in-memory result of a patch: every file's final state, checked before any write.
pub(super) struct Plan {
    /// Final state per absolute path, in the order first touched.
    slots: Vec<(PathBuf, Slot)>,
    pub(super) changes: Vec<FileChange>,
    summary: Vec<String>,
}

/// A file as it stands before the patch (on disk, or as an earlier operation left it).
struct Current {
    /// The text, or `None` when the file is not UTF-8.
    contents: Option<String>,
    permissions: Option<Permissions>,
}

impl Plan {
    pub(super) fn build(
        patch: &Patch,
        base: &Path,
        project_dir: &Path,
        overlay: &Overlay,
    ) -> Result<Self, PatchError> {
        let mut plan = Plan {
            slots: Vec::new(),
            changes: Vec::new(),
            summary: Vec::new(),
        };
        for op in &patch.ops {
            plan.add_op(op, base, project_dir, overlay)?;
        }
        Ok(plan)
    }

    fn add_op(
        &mut self,
        op: &FileOp,
        base: &Path,
        project_dir: &Path,
        overlay: &Overlay,
    ) -> Result<(), PatchError> {
        match op {
            FileOp::Add { path, contents } => {
                let abs = paths::resolve(base, path);
                let shown = paths::display(project_dir, &abs);
                if abs.is_dir() {
                    return Err(verify(
                        &shown,
                        "cannot add the file: a directory is in the way",
                    ));
                }
                let (old_text, permissions) = match self.current(&abs, &shown, overlay)? {
                    Some(current) => (current.contents, current.permissions),
                    None => (None, None),
                };
                let diff = added_diff(&shown, contents);
                self.set(
                    abs.clone(),
                    Slot::Write {
                        contents: contents.clone(),
                        permissions,
                    },
                );
                let change = FileChange {
                    kind: ChangeKind::Add,
                    path: abs,
                    move_to: None,
                    diff,
                    old_text,
                    new_text: Some(contents.clone()),
                };
                self.record(change, &shown);
            }
            FileOp::Delete { path } => {
                let abs = paths::resolve(base, path);
                let shown = paths::display(project_dir, &abs);
                let Some(current) = self.current(&abs, &shown, overlay)? else {
                    return Err(verify(&shown, "cannot delete the file: it does not exist"));
                };
                let diff = deleted_diff(&shown, current.contents.as_deref());
                self.set(abs.clone(), Slot::Remove);
                let change = FileChange {
                    kind: ChangeKind::Delete,
                    path: abs,
                    move_to: None,
                    diff,
                    old_text: current.contents,
                    new_text: None,
                };
                self.record(change, &shown);
            }
            FileOp::Update {
                path,
                move_to,
                hunks,
            } => {
                let abs = paths::resolve(base, path);
                let shown = paths::display(project_dir, &abs);
                let Some(current) = self.current(&abs, &shown, overlay)? else {
                    return Err(verify(&shown, "cannot update the file: it does not exist"));
                };
                let Some(contents) = &current.contents else {
                    return Err(verify(
                        &shown,
                        "is not UTF-8 text; apply_patch edits text files only",
                    ));
                };
                let text = Text::split(contents);
                let replacements = find_replacements(&text.lines, hunks)
                    .map_err(|reason| verify(&shown, &reason))?;
                let dest = move_to.as_ref().map(|to| paths::resolve(base, to));
                let dest_shown = dest.as_ref().map(|d| paths::display(project_dir, d));
                let new_lines = apply_replacements(&text.lines, replacements);
                let diff = update_diff(
                    &shown,
                    dest_shown.as_deref().unwrap_or(&shown),
                    &text.lines,
                    &new_lines,
                );
                let new_text = text.join(new_lines);
                let write = Slot::Write {
                    contents: new_text.clone(),
                    permissions: current.permissions,
                };
                match &dest {
                    Some(dest) if *dest != abs => {
                        if dest.is_dir() {
                            return Err(verify(
                                dest_shown.as_deref().unwrap_or_default(),
                                "cannot move the file there: a directory is in the way",
                            ));
                        }
                        self.set(dest.clone(), write);
                        self.set(abs.clone(), Slot::Remove);
                    }
                    _ => self.set(abs.clone(), write),
                }
                let change = FileChange {
                    kind: ChangeKind::Update,
                    path: abs,
                    move_to: dest,
                    diff,
                    old_text: Some(contents.clone()),
                    new_text: Some(new_text),
                };
                self.record(change, dest_shown.as_deref().unwrap_or(&shown));
            }
        }
        Ok(())
    }

    fn record(&mut self, change: FileChange, shown: &str) {
        self.summary
            .push(format!("{} {shown}", change.kind.letter()));
        self.changes.push(change);
    }

    fn set(&mut self, path: PathBuf, slot: Slot) {
        match self.slots.iter_mut().find(|(p, _)| *p == path) {
            Some((_, existing)) => *existing = slot,
            None => self.slots.push((path, slot)),
        }
    }

    /// The file as earlier operations of this patch left it, else as the editor holds it, else
    /// as it is on disk.
    fn current(
        &self,
        path: &Path,
        shown: &str,
        overlay: &Overlay,
    ) -> Result<Option<Current>, PatchError> {
        if let Some((_, slot)) = self.slots.iter().find(|(p, _)| p == path) {
            return Ok(match slot {
                Slot::Write {
                    contents,
                    permissions,
                } => Some(Current {
                    contents: Some(contents.clone()),
                    permissions: permissions.clone(),
                }),
                Slot::Remove => None,
            });
        }
        if let Some(text) = overlay.get(path) {
            let permissions = std::fs::metadata(path).ok().map(|m| m.permissions());
            return Ok(Some(Current {
                contents: Some(text.clone()),
                permissions,
            }));
        }
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(verify(shown, &format!("cannot read the file: {e}"))),
        };
        if meta.is_dir() {
            return Err(verify(shown, "is a directory, not a file"));
        }
        let bytes = std::fs::read(path)
            .map_err(|e| verify(shown, &format!("cannot read the file: {e}")))?;
        Ok(Some(Current {
            contents: String::from_utf8(bytes).ok(),
            permissions: Some(meta.permissions()),
        }))
    }

    /// Writes every file, then removes files, so a failed write never loses a moved file.
    pub(super) fn commit(
        self,
        project_dir: &Path,
        allowed_outside: &[PathBuf],
        to_editor: bool,
    ) -> Result<Applied, PatchError> {
        // Judged again at the last moment, before anything is written: a path may have been
        // swapped for a symlink since the approval check.
        for (path, _) in &self.slots {
            if let Some(real) = paths::outside(project_dir, path)
                && !allowed_outside.contains(&real)
            {
                return Err(verify(
                    &paths::display(project_dir, path),
                    &format!(
                        "it leads outside the project, to {}, and that was not approved",
                        real.display()
                    ),
                ));
            }
        }
        let mut written = Vec::new();
        let mut editor_writes = Vec::new();
        for (path, slot) in &self.slots {
            if let Slot::Write {
                contents,
                permissions,
            } = slot
            {
                if to_editor {
                    editor_writes.push((path.clone(), contents.clone()));
                    continue;
                }
                write_atomic(path, contents.as_bytes(), permissions.as_ref()).map_err(
                    |source| PatchError::Write {
                        path: paths::display(project_dir, path),
                        source,
                        written: written.clone(),
                    },
                )?;
                written.push(paths::display(project_dir, path));
            }
        }
        let removals: Vec<PathBuf> = self
            .slots
            .iter()
            .filter(|(_, slot)| matches!(slot, Slot::Remove))
            .map(|(path, _)| path.clone())
            .collect();
        // Through an editor the writes happen later: so must the removals, or a moved file
        // whose new copy fails to arrive would be gone.
        let editor_removals = if to_editor {
            removals
        } else {
            remove_files(&removals, project_dir, written)?;
            Vec::new()
        };
        let summary = format!(
            "Success. Updated the following files:\n{}\n",
            self.summary.join("\n")
        );
        Ok(Applied {
            summary,
            changes: self.changes,
            editor_writes,
            editor_removals,
        })
    }
}

fn verify(shown: &str, reason: &str) -> PatchError {
    PatchError::Verify {
        path: shown.to_string(),
        reason: reason.to_string(),
    }
}

/// Removes each file, after all writes; a file already gone (added and deleted within one
/// patch) is fine. `written` lists what changed before, for the error.
pub(super) fn remove_files(
    removals: &[PathBuf],
    project_dir: &Path,
    mut written: Vec<String>,
) -> Result<(), PatchError> {
    for path in removals {
        match std::fs::remove_file(path) {
            Ok(()) => written.push(paths::display(project_dir, path)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(PatchError::Write {
                    path: paths::display(project_dir, path),
                    source,
                    written,
                });
            }
        }
    }
    Ok(())
}

/// Replaces `path` atomically through the one atomic writer, keeping `permissions`.
///
/// A symlink is followed (to the target that was checked) so the link survives and its target
/// changes; the rename itself never follows one. A hard-linked file gets a new inode: its other
/// names keep the old contents.
fn write_atomic(path: &Path, contents: &[u8], permissions: Option<&Permissions>) -> io::Result<()> {
    let target = paths::real_path(path)?;
    crate::private_file::replace_keeping(&target, contents, permissions).map_err(|e| e.source)
}
