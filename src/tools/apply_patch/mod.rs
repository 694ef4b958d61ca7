//! `apply_patch`: the Codex `*** Begin Patch` format. A patch is parsed, matched against the
//! files and turned into new contents entirely in memory; only when every hunk fits is anything
//! written, each file atomically.
//!
//! ```text
//! *** Begin Patch
//! *** Add File: path        then `+` lines
//! *** Delete File: path
//! *** Update File: path     then optionally `*** Move to: new/path`
//! @@ optional context line  then ` ` context, `-` removed and `+` added lines,
//! *** End of File           optionally, to anchor the hunk at the end of the file
//! *** End Patch
//! ```
//!
//! Its other files:
//! - `diff.rs`: the unified diffs a preview shows.
//! - `parse.rs`: the `*** Begin Patch` grammar.
//! - `plan.rs`: a patch applied in memory.
//! - `seek.rs`: where a hunk fits in a file.
//! - `undo.rs`: undoing saved patches.

pub mod diff;
mod parse;
mod plan;
mod seek;
pub mod undo;

use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use super::opener::{Approved, Opener};
use super::paths;
pub use parse::{FileOp, Hunk, HunkLine, Patch, PatchParseError, from_shell, parse_patch};
use plan::Plan;

/// The tool's name on the wire.
pub const NAME: &str = "apply_patch";
/// The largest file a patch reads: a source file is far smaller, and a patch holds each file's
/// old and new text in memory.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// The most file text one patch holds in all (each change keeps the whole text before and
/// after, for previews and editors).
pub const MAX_PATCH_BYTES: u64 = 64 * 1024 * 1024;

/// Arguments of an `apply_patch` call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ApplyPatchArgs {
    /// The whole patch, from `*** Begin Patch` to `*** End Patch`.
    #[serde(alias = "patch")]
    pub input: String,
}

/// Why a patch was not applied.
#[derive(Debug, Error)]
pub enum PatchError {
    /// The patch text is malformed.
    #[error(transparent)]
    Parse(#[from] PatchParseError),
    /// The patch does not fit the files; nothing was written.
    #[error("apply_patch verification failed; nothing was written. {path}: {reason}")]
    Verify {
        /// The file the failing operation is about, as shown to the model.
        path: String,
        /// What did not fit, quoting the hunk where one failed.
        reason: String,
    },
    /// Writing failed part way.
    #[error("failed to write {path}: {reason}{}", written_note(.written, .not_written))]
    Write {
        /// The file that could not be written or removed.
        path: String,
        /// Why, in words.
        reason: String,
        /// Files already changed before the failure.
        written: Vec<String>,
        /// Files the patch did not get to change, the failed one first.
        not_written: Vec<String>,
    },
    /// The project directory itself could not be opened.
    #[error("cannot open the project directory: {0}")]
    Project(io::Error),
}

/// ` (already changed: a, b; not changed: c, d)` after a failure part way.
pub(crate) fn written_note(written: &[String], not_written: &[String]) -> String {
    let changed = if written.is_empty() {
        "no file was changed".to_string()
    } else {
        format!("already changed: {}", written.join(", "))
    };
    if not_written.is_empty() {
        format!(" ({changed})")
    } else {
        format!(" ({changed}; not changed: {})", not_written.join(", "))
    }
}

pub use crate::protocol::FileChange;

impl FileChange {
    /// The change as a session saves it: what the faces show, and what undoing it needs.
    pub fn saved(&self) -> crate::session::record::SavedChange {
        use crate::session::record::{MAX_UNDO_BYTES, sha256_hex};
        crate::session::record::SavedChange {
            kind: self.kind,
            path: self.path.clone(),
            move_to: self.move_to.clone(),
            diff: self.diff.clone(),
            before: self
                .old_text
                .clone()
                .filter(|text| text.len() <= MAX_UNDO_BYTES),
            after_sha256: self.new_text.as_deref().map(sha256_hex),
        }
    }
}

/// Files as an editor holds them (unsaved changes included), by absolute path: read in place
/// of the disk.
pub type Overlay = std::collections::HashMap<PathBuf, String>;

/// A patch that was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The Codex-style summary for the model (`A path`, `M path`, `D path`).
    pub summary: String,
    /// Each file's change.
    pub changes: Vec<FileChange>,
    /// The texts still to be written through the editor, in order (when it holds the files).
    pub editor_writes: Vec<(PathBuf, String)>,
    /// The files to remove from disk once those writes are done.
    pub editor_removals: Vec<PathBuf>,
}

impl Applied {
    /// Removes [`Applied::editor_removals`], after the editor has written everything;
    /// `written` names what the editor changed, for the error.
    pub fn remove_after_editor(
        &self,
        project_dir: &Path,
        allowed_outside: &[PathBuf],
        written: Vec<String>,
    ) -> Result<(), PatchError> {
        let opener = opener_for(project_dir, Approved::Only(allowed_outside.to_vec()))?;
        plan::remove_files(&self.editor_removals, &opener, written)
    }
}

/// What a patch would do, computed without writing: for an approval prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchPreview {
    /// The changes in patch order.
    pub changes: Vec<FileChange>,
}

impl PatchPreview {
    /// Every path the patch touches, absolute: sources, move targets, additions, deletions.
    pub fn paths(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for change in &self.changes {
            out.push(change.path.clone());
            out.extend(change.move_to.clone());
        }
        out
    }

    /// The whole patch as one unified diff.
    pub fn diff(&self) -> String {
        self.changes.iter().map(|c| c.diff.as_str()).collect()
    }
}

/// A parsed `apply_patch` call, with the directory its relative paths resolve against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyPatchCall {
    /// The patch text as the model sent it.
    pub input: String,
    /// The parsed patch.
    pub patch: Patch,
    /// Directory relative paths resolve against, relative to the project; the project if `None`.
    pub workdir: Option<String>,
}

impl ApplyPatchCall {
    /// Parses `input`; `workdir` comes from a `shell` call that ran `apply_patch`.
    pub fn parse(input: String, workdir: Option<String>) -> Result<Self, PatchParseError> {
        let patch = parse_patch(&input)?;
        Ok(Self {
            input,
            patch,
            workdir,
        })
    }

    /// The directory the patch's relative paths resolve against.
    pub fn base_dir(&self, project_dir: &Path) -> PathBuf {
        match &self.workdir {
            Some(dir) => paths::resolve(project_dir, Path::new(dir)),
            None => paths::normalize(project_dir),
        }
    }

    /// Every path the patch names, absolute and normalized, move targets included.
    pub fn paths(&self, project_dir: &Path) -> Vec<PathBuf> {
        let base = self.base_dir(project_dir);
        let mut out = Vec::new();
        for op in &self.patch.ops {
            match op {
                FileOp::Add { path, .. } | FileOp::Delete { path } => {
                    out.push(paths::resolve(&base, path));
                }
                FileOp::Update { path, move_to, .. } => {
                    out.push(paths::resolve(&base, path));
                    out.extend(move_to.as_ref().map(|to| paths::resolve(&base, to)));
                }
            }
        }
        out
    }

    /// Computes the changes and their diff without writing anything. Reads the files.
    pub fn preview(&self, project_dir: &Path) -> Result<PatchPreview, PatchError> {
        self.preview_over(project_dir, &Overlay::new())
    }

    /// [`ApplyPatchCall::preview`], with the files in `overlay` read from there.
    pub fn preview_over(
        &self,
        project_dir: &Path,
        overlay: &Overlay,
    ) -> Result<PatchPreview, PatchError> {
        // A preview is for a person to judge: it may show an outside file not yet approved.
        let opener = opener_for(project_dir, Approved::Any)?;
        let plan = Plan::build(
            &self.patch,
            &self.base_dir(project_dir),
            project_dir,
            overlay,
            &opener,
        )?;
        Ok(PatchPreview {
            changes: plan.changes,
        })
    }

    /// Applies the patch: all of it, or (if any hunk fails to match) nothing. Every file it
    /// writes or removes must lead inside the project, or be one of `allowed_outside` (real
    /// paths a person approved), when it is written.
    ///
    /// Returns the Codex-style summary (`A path`, `M path`, `D path`) and the changes.
    pub fn apply(
        &self,
        project_dir: &Path,
        allowed_outside: &[PathBuf],
    ) -> Result<(String, Vec<FileChange>), PatchError> {
        let applied = self.apply_over(project_dir, allowed_outside, None)?;
        Ok((applied.summary, applied.changes))
    }

    /// [`ApplyPatchCall::apply`] for files an editor holds: the files in `overlay` are read
    /// from there, and with an overlay the new texts are returned to be written through the
    /// editor instead of to disk (removals still go to disk: an editor cannot delete).
    pub fn apply_over(
        &self,
        project_dir: &Path,
        allowed_outside: &[PathBuf],
        overlay: Option<&Overlay>,
    ) -> Result<Applied, PatchError> {
        let empty = Overlay::new();
        let opener = opener_for(project_dir, Approved::Only(allowed_outside.to_vec()))?;
        let plan = Plan::build(
            &self.patch,
            &self.base_dir(project_dir),
            project_dir,
            overlay.unwrap_or(&empty),
            &opener,
        )?;
        plan.commit(&opener, overlay.is_some())
    }
}

/// The project held open for one patch.
fn opener_for(project_dir: &Path, approved: Approved) -> Result<Opener, PatchError> {
    Opener::new(project_dir, approved).map_err(PatchError::Project)
}

/// Parses `input` and previews it against `project_dir`: the affected paths and the diff.
pub fn preview(input: &str, project_dir: &Path) -> Result<PatchPreview, PatchError> {
    ApplyPatchCall::parse(input.to_string(), None)?.preview(project_dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ChangeKind;
    use crate::tools::ShellCommand;

    #[test]
    fn typographic_punctuation_matches_what_a_model_types() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("notes.md"),
            "It\u{2019}s \u{201C}done\u{201D} \u{2014} mostly.\nKeep\u{00A0}this.\n",
        )
        .unwrap();
        let summary = apply(
            dir.path(),
            "*** Begin Patch\n*** Update File: notes.md\n@@\n-It's \"done\" - mostly.\n+It is done.\n Keep this.\n*** End Patch\n",
        )
        .unwrap();
        assert!(summary.contains("M notes.md"), "{summary}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("notes.md")).unwrap(),
            "It is done.\nKeep\u{00A0}this.\n",
            "context lines keep the file's own characters"
        );
    }
    use std::fs;

    fn apply(root: &Path, patch: &str) -> Result<String, PatchError> {
        apply_allowing(root, patch, &[])
    }

    fn apply_allowing(root: &Path, patch: &str, allowed: &[PathBuf]) -> Result<String, PatchError> {
        let call = ApplyPatchCall::parse(patch.to_string(), None)?;
        call.apply(root, allowed).map(|(summary, _)| summary)
    }

    fn read(root: &Path, path: &str) -> String {
        fs::read_to_string(root.join(path)).unwrap()
    }

    #[test]
    fn adds_a_file_creating_directories() {
        let dir = tempfile::tempdir().unwrap();
        let summary = apply(
            dir.path(),
            "*** Begin Patch\n*** Add File: docs/new/notes.md\n+# Notes\n+\n+text\n*** End Patch\n",
        )
        .unwrap();
        assert_eq!(
            summary,
            "Success. Updated the following files:\nA docs/new/notes.md\n"
        );
        assert_eq!(read(dir.path(), "docs/new/notes.md"), "# Notes\n\ntext\n");
    }

    #[cfg(unix)]
    #[test]
    fn new_files_get_ordinary_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        apply(
            dir.path(),
            "*** Begin Patch\n*** Add File: a.txt\n+a\n*** End Patch",
        )
        .unwrap();
        let mode = fs::metadata(dir.path().join("a.txt"))
            .unwrap()
            .permissions()
            .mode();
        // Readable by others (as with `touch`), not the 0600 of a temporary file.
        assert_eq!(mode & 0o044, 0o044, "mode {mode:o}");
    }

    #[test]
    fn updates_with_several_hunks() {
        let dir = tempfile::tempdir().unwrap();
        let original: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        fs::write(dir.path().join("f.txt"), &original).unwrap();
        let summary = apply(
            dir.path(),
            "*** Begin Patch
*** Update File: f.txt
@@
 line 2
-line 3
+line three
 line 4
@@ line 20
 line 21
-line 22
+line twenty-two
+line twenty-two and a half
 line 23
*** End Patch",
        )
        .unwrap();
        assert_eq!(summary, "Success. Updated the following files:\nM f.txt\n");
        let expected = original
            .replace("line 3\n", "line three\n")
            .replace("line 22\n", "line twenty-two\nline twenty-two and a half\n");
        assert_eq!(read(dir.path(), "f.txt"), expected);
    }

    #[test]
    fn each_change_carries_the_whole_text_before_and_after() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("keep.txt"), "one\ntwo\n").unwrap();
        fs::write(dir.path().join("gone.txt"), "bye\n").unwrap();
        let patch = "*** Begin Patch\n*** Update File: keep.txt\n@@\n one\n-two\n+2\n\
                     *** Delete File: gone.txt\n*** Add File: new.txt\n+hi\n*** End Patch";
        let preview = preview(patch, dir.path()).unwrap();
        let texts: Vec<_> = preview
            .changes
            .iter()
            .map(|c| (c.kind, c.old_text.as_deref(), c.new_text.as_deref()))
            .collect();
        assert_eq!(
            texts,
            [
                (ChangeKind::Update, Some("one\ntwo\n"), Some("one\n2\n")),
                (ChangeKind::Delete, Some("bye\n"), None),
                (ChangeKind::Add, None, Some("hi\n")),
            ]
        );
    }

    #[test]
    fn a_preview_is_a_unified_diff_with_three_lines_of_context() {
        let dir = tempfile::tempdir().unwrap();
        let text: String = (1..=10).map(|i| format!("line {i}\n")).collect();
        fs::write(dir.path().join("f.txt"), text).unwrap();
        let diff = preview(
            "*** Begin Patch\n*** Update File: f.txt\n@@\n line 4\n-line 5\n+line five\n line 6\n*** End Patch",
            dir.path(),
        )
        .unwrap()
        .diff();
        assert_eq!(
            diff,
            "--- a/f.txt\n+++ b/f.txt\n@@ -2,7 +2,7 @@\n line 2\n line 3\n line 4\n-line 5\n\
             +line five\n line 6\n line 7\n line 8\n"
        );
    }

    #[test]
    fn deletes_a_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("old.txt"), "bye\n").unwrap();
        let summary = apply(
            dir.path(),
            "*** Begin Patch\n*** Delete File: old.txt\n*** End Patch",
        )
        .unwrap();
        assert_eq!(
            summary,
            "Success. Updated the following files:\nD old.txt\n"
        );
        assert!(!dir.path().join("old.txt").exists());
    }

    #[cfg(unix)]
    #[test]
    fn moves_and_edits_keeping_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("bin/run.sh");
        fs::create_dir_all(src.parent().unwrap()).unwrap();
        fs::write(&src, "#!/bin/sh\necho old\n").unwrap();
        fs::set_permissions(&src, fs::Permissions::from_mode(0o751)).unwrap();
        let summary = apply(
            dir.path(),
            "*** Begin Patch
*** Update File: bin/run.sh
*** Move to: scripts/start.sh
@@
 #!/bin/sh
-echo old
+echo new
*** End Patch",
        )
        .unwrap();
        assert_eq!(
            summary,
            "Success. Updated the following files:\nM scripts/start.sh\n"
        );
        assert!(!src.exists());
        let dest = dir.path().join("scripts/start.sh");
        assert_eq!(fs::read_to_string(&dest).unwrap(), "#!/bin/sh\necho new\n");
        assert_eq!(
            fs::metadata(&dest).unwrap().permissions().mode() & 0o7777,
            0o751
        );
    }

    #[cfg(unix)]
    #[test]
    fn update_in_place_keeps_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tool");
        fs::write(&path, "a\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o700)).unwrap();
        apply(
            dir.path(),
            "*** Begin Patch\n*** Update File: tool\n@@\n-a\n+b\n*** End Patch",
        )
        .unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "b\n");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
            0o700
        );
    }

    #[test]
    fn tolerates_trailing_whitespace_and_keeps_the_files_context() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("w.py"),
            "def f():   \n    x = 1 \n    return x\n",
        )
        .unwrap();
        apply(
            dir.path(),
            "*** Begin Patch
*** Update File: w.py
@@
 def f():
-    x = 1
+    x = 2
     return x
*** End Patch",
        )
        .unwrap();
        // The context line keeps its trailing spaces: only the changed line is rewritten.
        assert_eq!(
            read(dir.path(), "w.py"),
            "def f():   \n    x = 2\n    return x\n"
        );
    }

    #[test]
    fn falls_back_to_ignoring_indentation() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("i.txt"), "\tkeep\n\told\n").unwrap();
        apply(
            dir.path(),
            "*** Begin Patch\n*** Update File: i.txt\n@@\n keep\n-old\n+\tnew\n*** End Patch",
        )
        .unwrap();
        assert_eq!(read(dir.path(), "i.txt"), "\tkeep\n\tnew\n");
    }

    #[test]
    fn a_failing_hunk_in_a_later_file_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(root.join("a.txt"), "alpha\nbeta\n").unwrap();
        fs::write(root.join("b.txt"), "one\ntwo\nthree\n").unwrap();
        fs::write(root.join("gone.txt"), "still here\n").unwrap();
        let err = apply(
            root,
            "*** Begin Patch
*** Update File: a.txt
@@
-alpha
+ALPHA
*** Add File: c.txt
+new
*** Delete File: gone.txt
*** Update File: b.txt
@@
 one
-two
+TWO
@@
 three
-four
+FOUR
*** End Patch",
        )
        .unwrap_err();
        let message = err.to_string();
        assert_eq!(
            message,
            "apply_patch verification failed; nothing was written. b.txt: hunk 2 of 2 did not match the file:\n@@\n three\n-four\n+FOUR"
        );
        assert_eq!(read(root, "a.txt"), "alpha\nbeta\n");
        assert_eq!(read(root, "b.txt"), "one\ntwo\nthree\n");
        assert_eq!(read(root, "gone.txt"), "still here\n");
        assert!(!root.join("c.txt").exists());
        // No temporary files were left behind either.
        let names: Vec<_> = fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
    }

    #[test]
    fn missing_context_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("m.rs"), "fn a() {}\n").unwrap();
        let err = apply(
            dir.path(),
            "*** Begin Patch\n*** Update File: m.rs\n@@ fn b()\n-x\n+y\n*** End Patch",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("m.rs: hunk 1 of 1 has a context line 'fn b()' that is not in the file:\n@@ fn b()\n-x\n+y"),
            "{err}"
        );
    }

    #[test]
    fn a_folder_where_a_file_goes_is_named() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("docs")).unwrap();
        let err = apply(
            dir.path(),
            "*** Begin Patch\n*** Add File: docs\n+x\n*** End Patch",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .ends_with("docs: cannot add the file: a directory is in the way"),
            "{err}"
        );
        let err = apply(
            dir.path(),
            "*** Begin Patch\n*** Delete File: docs\n*** End Patch",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .ends_with("docs: is a directory, not a file"),
            "{err}"
        );
    }

    #[test]
    fn updating_or_deleting_a_missing_file_fails() {
        let dir = tempfile::tempdir().unwrap();
        let err = apply(
            dir.path(),
            "*** Begin Patch\n*** Delete File: nope\n*** End Patch",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "apply_patch verification failed; nothing was written. nope: cannot delete the file: it does not exist"
        );
        let err = apply(
            dir.path(),
            "*** Begin Patch\n*** Update File: nope\n@@\n-a\n+b\n*** End Patch",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .ends_with("nope: cannot update the file: it does not exist")
        );
    }

    #[test]
    fn end_of_file_anchor_and_insertion_after_context() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("e.txt"), "x\nend\nx\nend\n").unwrap();
        apply(
            dir.path(),
            "*** Begin Patch\n*** Update File: e.txt\n@@\n x\n-end\n+END\n*** End of File\n*** End Patch",
        )
        .unwrap();
        assert_eq!(read(dir.path(), "e.txt"), "x\nend\nx\nEND\n");

        fs::write(dir.path().join("i.rs"), "mod a;\nfn main() {\n}\n").unwrap();
        apply(
            dir.path(),
            "*** Begin Patch\n*** Update File: i.rs\n@@ fn main() {\n+    run();\n*** End Patch",
        )
        .unwrap();
        assert_eq!(
            read(dir.path(), "i.rs"),
            "mod a;\nfn main() {\n    run();\n}\n"
        );
    }

    #[test]
    fn crlf_files_stay_crlf() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("w.txt"), "a\r\nb\r\nc\r\n").unwrap();
        apply(
            dir.path(),
            "*** Begin Patch\n*** Update File: w.txt\n@@\n a\n-b\n+B\n*** End Patch",
        )
        .unwrap();
        assert_eq!(read(dir.path(), "w.txt"), "a\r\nB\r\nc\r\n");
    }

    #[test]
    fn a_missing_final_newline_stays_missing() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("n.txt"), "a\nb\nc").unwrap();
        apply(
            dir.path(),
            "*** Begin Patch\n*** Update File: n.txt\n@@\n-a\n+A\n*** End Patch",
        )
        .unwrap();
        assert_eq!(read(dir.path(), "n.txt"), "A\nb\nc");
    }

    #[test]
    fn later_operations_see_earlier_ones() {
        let dir = tempfile::tempdir().unwrap();
        apply(
            dir.path(),
            "*** Begin Patch
*** Add File: n.txt
+one
*** Update File: n.txt
@@
-one
+two
*** End Patch",
        )
        .unwrap();
        assert_eq!(read(dir.path(), "n.txt"), "two\n");
    }

    #[test]
    fn preview_shows_a_unified_diff_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let original: String = (1..=12).map(|i| format!("{i}\n")).collect();
        fs::write(dir.path().join("n.txt"), &original).unwrap();
        let preview = preview(
            "*** Begin Patch
*** Update File: n.txt
@@
 5
-6
+six
 7
*** Add File: new.txt
+hello
*** End Patch",
            dir.path(),
        )
        .unwrap();
        assert_eq!(
            preview.diff(),
            "--- a/n.txt
+++ b/n.txt
@@ -3,7 +3,7 @@
 3
 4
 5
-6
+six
 7
 8
 9
--- /dev/null
+++ b/new.txt
@@ -0,0 +1,1 @@
+hello
"
        );
        assert_eq!(
            preview.paths(),
            vec![dir.path().join("n.txt"), dir.path().join("new.txt")]
        );
        assert_eq!(preview.changes[0].kind, ChangeKind::Update);
        assert_eq!(read(dir.path(), "n.txt"), original);
        assert!(!dir.path().join("new.txt").exists());
    }

    #[test]
    fn parse_errors_are_specific() {
        let err = parse_patch("*** Update File: a\n*** End Patch").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid patch: the first line must be '*** Begin Patch'"
        );
        let err = parse_patch("*** Begin Patch\n*** Add File: a\n+x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid patch: the last line must be '*** End Patch'"
        );
        let err = parse_patch("*** Begin Patch\n*** Frobnicate: a\n*** End Patch").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid patch, line 2: '*** Frobnicate: a' is not a file operation")
        );
        let err = parse_patch("*** Begin Patch\n*** Update File: a\n*** End Patch").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid patch, line 3: '*** Update File: a' has no hunks"
        );
        let err =
            parse_patch("*** Begin Patch\n*** Update File: a\n@@\nnot a diff line\n*** End Patch")
                .unwrap_err();
        assert!(
            err.to_string()
                .contains("line 4: unexpected line 'not a diff line'"),
            "{err}"
        );
    }

    #[test]
    fn parser_is_lenient_where_models_slip() {
        let patch = parse_patch(
            "<<'EOF'\n*** Begin Patch\n*** Update File: a.rs\n@@ -1,3 +1,3 @@ fn main() {\n-a\n+b\n\n@@\n-c\n+d\n*** End Patch\nEOF",
        )
        .unwrap();
        let FileOp::Update { hunks, .. } = &patch.ops[0] else {
            panic!("expected an update");
        };
        assert_eq!(hunks.len(), 2);
        assert_eq!(hunks[0].context.as_deref(), Some("fn main() {"));
        assert_eq!(
            hunks[0].lines,
            vec![HunkLine::Remove("a".into()), HunkLine::Add("b".into())]
        );
        // The first hunk of a file may come without a header.
        let patch =
            parse_patch("*** Begin Patch\n*** Update File: a\n x\n+y\n*** End Patch").unwrap();
        assert!(
            matches!(&patch.ops[0], FileOp::Update { hunks, .. } if hunks[0].context.is_none())
        );
    }

    #[test]
    fn shell_forms_of_apply_patch_are_recognised() {
        let patch = "*** Begin Patch\n*** Add File: a\n+x\n*** End Patch";
        let argv = ShellCommand::Argv(vec!["apply_patch".into(), patch.into()]);
        assert_eq!(from_shell(&argv).as_deref(), Some(patch));
        let script = ShellCommand::Argv(vec![
            "bash".into(),
            "-lc".into(),
            format!("apply_patch <<'EOF'\n{patch}\nEOF\n"),
        ]);
        assert_eq!(from_shell(&script).as_deref(), Some(patch));
        let plain = ShellCommand::Script(format!("applypatch << \"PATCH\"\n{patch}\nPATCH"));
        assert_eq!(from_shell(&plain).as_deref(), Some(patch));
        let more = ShellCommand::Script(format!("apply_patch <<'EOF'\n{patch}\nEOF\nrm -rf x"));
        assert_eq!(from_shell(&more), None);
        assert_eq!(from_shell(&ShellCommand::Script("ls".into())), None);
    }

    #[test]
    fn paths_resolve_against_workdir() {
        let call = ApplyPatchCall::parse(
            "*** Begin Patch\n*** Update File: a.rs\n*** Move to: ../b.rs\n@@\n-x\n+y\n*** Add File: /etc/x\n+1\n*** End Patch".into(),
            Some("sub".into()),
        )
        .unwrap();
        assert_eq!(
            call.paths(Path::new("/p")),
            vec![
                PathBuf::from("/p/sub/a.rs"),
                PathBuf::from("/p/b.rs"),
                PathBuf::from("/etc/x")
            ]
        );
    }
}
