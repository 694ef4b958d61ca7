//! A patch applied in memory: every file's final state, checked before anything is written,
//! then committed — each file atomically, removals last. Every file is read and written through
//! the tools' [`Opener`]: opened beneath the project root (or at an approved real path), never
//! by resolving its path again, so a link swapped in while the patch runs is refused.

use std::fs::Permissions;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::diff::{added_diff, deleted_diff, update_diff};
use super::parse::{FileOp, Patch};
use super::seek::{Text, apply_replacements, find_replacements};
use super::{Applied, FileChange, MAX_FILE_BYTES, MAX_PATCH_BYTES, Overlay, PatchError};
use crate::humanize;
use crate::protocol::ChangeKind;
use crate::sandbox::paths;
use crate::tools::opener::{AccessError, Opener};

/// What an update or a removal says of a folder where it expected a file.
const NOT_A_FILE: &str = "is a directory, not a file";

/// Which file on disk a patch read: its device and inode.
type Identity = (u64, u64);

/// What a file will be once the patch is applied.
enum Slot {
    /// Written with these contents (and, when it replaces a file, that file's permissions and
    /// which file it was, so a different one found there at the write is not replaced).
    Write {
        contents: String,
        permissions: Option<Permissions>,
        identity: Option<Identity>,
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
    /// Bytes of file text the changes hold so far.
    held: u64,
}

/// A file as it stands before the patch (on disk, or as an earlier operation left it).
struct Current {
    /// The text, or `None` when the file is not UTF-8.
    contents: Option<String>,
    permissions: Option<Permissions>,
    /// The file on disk it was read from, when it was.
    identity: Option<Identity>,
}

impl Plan {
    pub(super) fn build(
        patch: &Patch,
        base: &Path,
        project_dir: &Path,
        overlay: &Overlay,
        opener: &Opener,
    ) -> Result<Self, PatchError> {
        let mut plan = Plan {
            slots: Vec::new(),
            changes: Vec::new(),
            summary: Vec::new(),
            held: 0,
        };
        for op in &patch.ops {
            plan.add_op(op, base, project_dir, overlay, opener)?;
        }
        Ok(plan)
    }

    fn add_op(
        &mut self,
        op: &FileOp,
        base: &Path,
        project_dir: &Path,
        overlay: &Overlay,
        opener: &Opener,
    ) -> Result<(), PatchError> {
        match op {
            FileOp::Add { path, contents } => {
                let abs = paths::resolve(base, path);
                let shown = paths::display(project_dir, &abs);
                self.add(abs, &shown, contents, overlay, opener)?;
            }
            FileOp::Delete { path } => {
                let abs = paths::resolve(base, path);
                let shown = paths::display(project_dir, &abs);
                self.delete(abs, &shown, overlay, opener)?;
            }
            FileOp::Update {
                path,
                move_to,
                hunks,
            } => {
                let abs = paths::resolve(base, path);
                let shown = paths::display(project_dir, &abs);
                let Some(current) = self.current(&abs, &shown, NOT_A_FILE, overlay, opener)? else {
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
                let moves = dest.as_ref().is_some_and(|dest| *dest != abs);
                let write = Slot::Write {
                    contents: new_text.clone(),
                    permissions: current.permissions,
                    // A move writes a new name, whatever is there; in place, the file read.
                    identity: current.identity.filter(|_| !moves),
                };
                match &dest {
                    Some(dest) if *dest != abs => {
                        if is_dir(opener, dest) {
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
                self.record(change, dest_shown.as_deref().unwrap_or(&shown))?;
            }
        }
        Ok(())
    }

    /// A file added at `abs`: written whole, over whatever file is there.
    fn add(
        &mut self,
        abs: PathBuf,
        shown: &str,
        contents: &str,
        overlay: &Overlay,
        opener: &Opener,
    ) -> Result<(), PatchError> {
        let in_the_way = "cannot add the file: a directory is in the way";
        let (old_text, permissions, identity) =
            match self.current(&abs, shown, in_the_way, overlay, opener)? {
                Some(current) => (current.contents, current.permissions, current.identity),
                None => (None, None, None),
            };
        let diff = added_diff(shown, contents);
        self.set(
            abs.clone(),
            Slot::Write {
                contents: contents.to_string(),
                permissions,
                identity,
            },
        );
        let change = FileChange {
            kind: ChangeKind::Add,
            path: abs,
            move_to: None,
            diff,
            old_text,
            new_text: Some(contents.to_string()),
        };
        self.record(change, shown)
    }

    /// The file at `abs` deleted: it must be there.
    fn delete(
        &mut self,
        abs: PathBuf,
        shown: &str,
        overlay: &Overlay,
        opener: &Opener,
    ) -> Result<(), PatchError> {
        let Some(current) = self.current(&abs, shown, NOT_A_FILE, overlay, opener)? else {
            return Err(verify(shown, "cannot delete the file: it does not exist"));
        };
        let diff = deleted_diff(shown, current.contents.as_deref());
        self.set(abs.clone(), Slot::Remove);
        let change = FileChange {
            kind: ChangeKind::Delete,
            path: abs,
            move_to: None,
            diff,
            old_text: current.contents,
            new_text: None,
        };
        self.record(change, shown)
    }

    /// Keeps `change`, unless the patch would then hold more than [`MAX_PATCH_BYTES`] of file
    /// text: many small hunks on one large file each keep a whole copy of it.
    fn record(&mut self, change: FileChange, shown: &str) -> Result<(), PatchError> {
        let size = |text: &Option<String>| text.as_ref().map_or(0, String::len) as u64;
        self.held += size(&change.old_text) + size(&change.new_text) + change.diff.len() as u64;
        if self.held > MAX_PATCH_BYTES {
            return Err(verify(
                shown,
                &format!(
                    "the patch would hold more than {} of file text by here; split it into smaller patches",
                    humanize::bytes(MAX_PATCH_BYTES)
                ),
            ));
        }
        self.summary
            .push(format!("{} {shown}", change.kind.letter()));
        self.changes.push(change);
        Ok(())
    }

    fn set(&mut self, path: PathBuf, slot: Slot) {
        match self.slots.iter_mut().find(|(p, _)| *p == path) {
            Some((_, existing)) => *existing = slot,
            None => self.slots.push((path, slot)),
        }
    }

    /// The file as earlier operations of this patch left it, else as the editor holds it, else
    /// as it is on disk: a regular file of at most [`MAX_FILE_BYTES`], opened without waiting.
    /// A folder there is refused with `folder`, the words for the operation at hand.
    fn current(
        &self,
        path: &Path,
        shown: &str,
        folder: &str,
        overlay: &Overlay,
        opener: &Opener,
    ) -> Result<Option<Current>, PatchError> {
        if let Some((_, slot)) = self.slots.iter().find(|(p, _)| p == path) {
            return Ok(match slot {
                Slot::Write {
                    contents,
                    permissions,
                    identity,
                } => Some(Current {
                    contents: Some(contents.clone()),
                    permissions: permissions.clone(),
                    identity: *identity,
                }),
                Slot::Remove => None,
            });
        }
        if let Some(text) = overlay.get(path) {
            let permissions = opener.open(path).ok().map(|(_, meta)| meta.permissions());
            return Ok(Some(Current {
                contents: Some(text.clone()),
                permissions,
                identity: None,
            }));
        }
        let (file, meta) = match opener.open(path) {
            Ok(opened) => opened,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(refused(shown, &e)),
        };
        if meta.is_dir() {
            return Err(verify(shown, folder));
        }
        if !meta.is_file() {
            let kind = crate::tools::opener::kind_of(&meta);
            return Err(verify(
                shown,
                &format!("is {kind}, not a regular file; apply_patch edits regular files only"),
            ));
        }
        let too_large = || {
            verify(
                shown,
                &format!(
                    "is {}; apply_patch edits files of up to {}",
                    humanize::bytes(meta.len()),
                    humanize::bytes(MAX_FILE_BYTES)
                ),
            )
        };
        if meta.len() > MAX_FILE_BYTES {
            return Err(too_large());
        }
        // Bounded even if the file grows after the look at its size.
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| verify(shown, &format!("cannot read the file: {e}")))?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(too_large());
        }
        Ok(Some(Current {
            contents: String::from_utf8(bytes).ok(),
            permissions: Some(meta.permissions()),
            identity: Some((meta.dev(), meta.ino())),
        }))
    }

    /// Writes every file, then removes files, so a failed write never loses a moved file.
    /// Each file is written in the folder the opener holds, so a link swapped in on the way
    /// (after the check below, or while earlier files were written) is refused, never
    /// followed out; the error says which files were and were not written.
    pub(super) fn commit(self, opener: &Opener, to_editor: bool) -> Result<Applied, PatchError> {
        // Judged again before anything is written: a path may have been swapped for a link
        // since the approval check, and then the whole patch is refused, not half of it.
        for (path, _) in &self.slots {
            if let Some(real) = paths::outside(opener.project_dir(), path)
                && !opener.is_approved(&real)
            {
                return Err(verify(
                    &opener.shown(path),
                    &format!(
                        "it leads outside the project, to {}, and that was not approved",
                        real.display()
                    ),
                ));
            }
        }
        let mut written = Vec::new();
        let mut editor_writes = Vec::new();
        let writes: Vec<_> = self
            .slots
            .iter()
            .filter_map(|(path, slot)| match slot {
                Slot::Write {
                    contents,
                    permissions,
                    identity,
                } => Some((path, contents, permissions, identity)),
                Slot::Remove => None,
            })
            .collect();
        let removals: Vec<PathBuf> = self
            .slots
            .iter()
            .filter(|(_, slot)| matches!(slot, Slot::Remove))
            .map(|(path, _)| path.clone())
            .collect();
        for (index, (path, contents, permissions, identity)) in writes.iter().enumerate() {
            if to_editor {
                editor_writes.push(((*path).clone(), (*contents).clone()));
                continue;
            }
            let written_or = write_file(
                opener,
                path,
                contents.as_bytes(),
                permissions.as_ref(),
                **identity,
            );
            if let Err(reason) = written_or {
                let not_written = writes[index..]
                    .iter()
                    .map(|(path, ..)| *path)
                    .chain(&removals)
                    .map(|path| opener.shown(path))
                    .collect();
                return Err(PatchError::Write {
                    path: opener.shown(path),
                    reason,
                    written,
                    not_written,
                });
            }
            written.push(opener.shown(path));
        }
        // Through an editor the writes happen later: so must the removals, or a moved file
        // whose new copy fails to arrive would be gone.
        let editor_removals = if to_editor {
            removals
        } else {
            remove_files(&removals, opener, written)?;
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

/// Writes one file atomically in the folder the opener holds for it, keeping `permissions`.
///
/// A last component that is a link inside the project is followed (to where it leads now, and
/// only if that is inside or approved) so the link survives and its target changes. A
/// hard-linked file gets a new inode: its other names keep the old contents. A file the patch
/// read must still be the one there (`identity`): another swapped in, even inside the project,
/// is not replaced with text made from the first.
pub(super) fn write_file(
    opener: &Opener,
    path: &Path,
    contents: &[u8],
    permissions: Option<&Permissions>,
    identity: Option<Identity>,
) -> Result<(), String> {
    let (dir, name) = opener.dir_for_write(path).map_err(|e| reason(&e))?;
    if let Some(read) = identity {
        let now = rustix::fs::statat(&dir, &name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
            .map(|stat| (stat.st_dev, stat.st_ino));
        if now != Ok(read) {
            return Err(
                "it is no longer the file the patch read (it was replaced or removed meanwhile)"
                    .to_string(),
            );
        }
    }
    crate::private_file::replace_in(dir.as_fd(), &name, contents, permissions)
        .map_err(|e| e.to_string())
}

/// An opener's refusal without the path, which the patch's message puts first.
pub(super) fn reason(e: &AccessError) -> String {
    match e {
        AccessError::Outside { real, .. } => format!(
            "it leads outside the project, to {}, and that was not approved",
            real.display()
        ),
        AccessError::Changed { .. } => {
            "it changed while it was being written (a link on the way now leads elsewhere)"
                .to_string()
        }
        AccessError::NotRegular { kind, .. } => format!("it is {kind}, not a regular file"),
        AccessError::Io { source, .. } => source.to_string(),
    }
}

/// A file the opener would not open, as a verification failure: nothing was written yet.
fn refused(shown: &str, e: &AccessError) -> PatchError {
    let why = match e {
        AccessError::Changed { .. } => {
            "it changed while it was being read (a link on the way now leads elsewhere)".to_string()
        }
        other => reason(other),
    };
    verify(shown, &format!("cannot read the file: {why}"))
}

/// Whether `path` is a folder, as the opener finds it (never through a link out).
fn is_dir(opener: &Opener, path: &Path) -> bool {
    opener.open(path).is_ok_and(|(_, meta)| meta.is_dir())
}

fn verify(shown: &str, reason: &str) -> PatchError {
    PatchError::Verify {
        path: shown.to_string(),
        reason: reason.to_string(),
    }
}

/// Removes each file, after all writes, in the folder the opener holds for it (a last
/// component that is a link is the link, not its target); a file already gone (added and
/// deleted within one patch) is fine. `written` lists what changed before, for the error.
pub(super) fn remove_files(
    removals: &[PathBuf],
    opener: &Opener,
    mut written: Vec<String>,
) -> Result<(), PatchError> {
    for (index, path) in removals.iter().enumerate() {
        let failed = |reason: String, written: Vec<String>| PatchError::Write {
            path: opener.shown(path),
            reason,
            written,
            not_written: removals[index..].iter().map(|p| opener.shown(p)).collect(),
        };
        let (dir, name) = match opener.dir_for_remove(path) {
            Ok(found) => found,
            // Already gone, folder and all.
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(failed(reason(&e), written)),
        };
        match rustix::fs::unlinkat(&dir, &name, rustix::fs::AtFlags::empty()) {
            Ok(()) => written.push(opener.shown(path)),
            Err(rustix::io::Errno::NOENT) => {}
            Err(e) => return Err(failed(io::Error::from(e).to_string(), written)),
        }
    }
    Ok(())
}
