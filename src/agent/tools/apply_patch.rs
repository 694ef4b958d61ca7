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

use std::fs::Permissions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use super::paths;
use super::shell::ShellCommand;

/// The tool's name on the wire.
pub const NAME: &str = "apply_patch";
/// Context lines around each change in a preview diff.
const DIFF_CONTEXT: usize = 3;
/// Lines of a deleted file shown in a preview before the rest is summarised.
const MAX_DELETED_PREVIEW_LINES: usize = 200;

const BEGIN_PATCH: &str = "*** Begin Patch";
const END_PATCH: &str = "*** End Patch";
const ADD_FILE: &str = "*** Add File: ";
const DELETE_FILE: &str = "*** Delete File: ";
const UPDATE_FILE: &str = "*** Update File: ";
const MOVE_TO: &str = "*** Move to: ";
const END_OF_FILE: &str = "*** End of File";

/// Arguments of an `apply_patch` call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ApplyPatchArgs {
    /// The whole patch, from `*** Begin Patch` to `*** End Patch`.
    #[serde(alias = "patch")]
    pub input: String,
}

/// A parsed patch: file operations in the order written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    /// The operations, applied in order.
    pub ops: Vec<FileOp>,
}

/// One file operation of a patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOp {
    /// Create (or overwrite) a file with these contents.
    Add {
        /// Path as written in the patch.
        path: PathBuf,
        /// The new file's contents.
        contents: String,
    },
    /// Remove a file.
    Delete {
        /// Path as written in the patch.
        path: PathBuf,
    },
    /// Change a file in place, optionally moving it.
    Update {
        /// Path as written in the patch.
        path: PathBuf,
        /// Where the file moves to, as written in the patch.
        move_to: Option<PathBuf>,
        /// The changes, in file order.
        hunks: Vec<Hunk>,
    },
}

/// One `@@` hunk of an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    /// The line after `@@ `, which must appear before the hunk's lines.
    pub context: Option<String>,
    /// The hunk's lines in order.
    pub lines: Vec<HunkLine>,
    /// The hunk must match at the end of the file.
    pub end_of_file: bool,
    /// The hunk as written, quoted in errors.
    pub text: String,
}

/// One line of a hunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HunkLine {
    /// A line that stays (` `).
    Context(String),
    /// A line that goes (`-`).
    Remove(String),
    /// A line that comes (`+`).
    Add(String),
}

impl Hunk {
    fn old_lines(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter_map(|line| match line {
                HunkLine::Context(s) | HunkLine::Remove(s) => Some(s.as_str()),
                HunkLine::Add(_) => None,
            })
            .collect()
    }
}

/// A patch that is not in the `*** Begin Patch` format.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PatchParseError {
    /// The patch as a whole is malformed.
    #[error("invalid patch: {0}")]
    Invalid(String),
    /// A line of the patch is malformed.
    #[error("invalid patch, line {line}: {message}")]
    Line {
        /// 1-based line number within the patch.
        line: usize,
        /// What is wrong.
        message: String,
    },
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
    #[error("failed to write {path}: {source}{}", written_note(.written))]
    Write {
        /// The file that could not be written or removed.
        path: String,
        /// The underlying error.
        source: io::Error,
        /// Files already changed before the failure.
        written: Vec<String>,
    },
}

/// ` (already changed: a, b)` after a failure part way, or that nothing changed.
pub(crate) fn written_note(written: &[String]) -> String {
    if written.is_empty() {
        " (no file was changed)".to_string()
    } else {
        format!(" (already changed: {})", written.join(", "))
    }
}

/// What kind of change a patch makes to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// A new file.
    Add,
    /// A removed file.
    Delete,
    /// A changed (possibly moved) file.
    Update,
}

impl ChangeKind {
    /// The letter Codex prints for this kind: `A`, `D` or `M`.
    pub fn letter(self) -> char {
        match self {
            Self::Add => 'A',
            Self::Delete => 'D',
            Self::Update => 'M',
        }
    }
}

/// One file's change, as previewed or applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// Add, delete or update.
    pub kind: ChangeKind,
    /// The file, absolute.
    pub path: PathBuf,
    /// Where an update moves the file, absolute.
    pub move_to: Option<PathBuf>,
    /// The unified diff of this change, with paths as shown to the user.
    pub diff: String,
    /// The whole text before the change: `None` for a new file, or one that is not UTF-8.
    pub old_text: Option<String>,
    /// The whole text after it: `None` for a deleted file.
    pub new_text: Option<String>,
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
        let plan = Plan::build(
            &self.patch,
            &self.base_dir(project_dir),
            project_dir,
            overlay,
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
        let plan = Plan::build(
            &self.patch,
            &self.base_dir(project_dir),
            project_dir,
            overlay.unwrap_or(&empty),
        )?;
        plan.commit(project_dir, allowed_outside, overlay.is_some())
    }
}

/// Parses `input` and previews it against `project_dir`: the affected paths and the diff.
pub fn preview(input: &str, project_dir: &Path) -> Result<PatchPreview, PatchError> {
    ApplyPatchCall::parse(input.to_string(), None)?.preview(project_dir)
}

/// The patch text when a `shell` command only runs `apply_patch`, as Codex models often do:
/// `["apply_patch", patch]` or `apply_patch <<'EOF' … EOF` through a shell.
pub fn from_shell(command: &ShellCommand) -> Option<String> {
    if let ShellCommand::Argv(argv) = command
        && let [program, patch] = argv.as_slice()
        && is_apply_patch_program(program)
    {
        return Some(patch.clone());
    }
    heredoc_body(command.script()?)
}

fn is_apply_patch_program(program: &str) -> bool {
    matches!(
        Path::new(program).file_name().and_then(|n| n.to_str()),
        Some("apply_patch" | "applypatch")
    )
}

/// The body of `apply_patch <<'DELIM' … DELIM` when that is all the script does.
fn heredoc_body(script: &str) -> Option<String> {
    let script = script.trim();
    let (first, rest) = script.split_once('\n')?;
    let mut words = first.trim().splitn(2, char::is_whitespace);
    if !is_apply_patch_program(words.next()?) {
        return None;
    }
    let redirect = words.next()?.trim();
    let delimiter = redirect.strip_prefix("<<")?.trim_start_matches('-').trim();
    let delimiter = delimiter.trim_matches(|c| c == '\'' || c == '"');
    if delimiter.is_empty() || delimiter.contains(char::is_whitespace) {
        return None;
    }
    let mut body = Vec::new();
    let mut lines = rest.lines();
    for line in lines.by_ref() {
        if line.trim() == delimiter {
            break;
        }
        body.push(line);
    }
    // Anything after the heredoc would have run too; such a script is left to the shell.
    if lines.any(|l| !l.trim().is_empty()) {
        return None;
    }
    Some(body.join("\n"))
}

/// Parses a patch in the `*** Begin Patch` format.
///
/// Lenient where models slip: whitespace around markers, blank lines between operations, a
/// heredoc wrapper (`<<'EOF'` … `EOF`), git-style `@@ -1,2 +1,3 @@` headers.
pub fn parse_patch(input: &str) -> Result<Patch, PatchParseError> {
    let all: Vec<&str> = input.trim().lines().collect();
    let lines = strip_heredoc(&all);
    match lines.first() {
        Some(first) if first.trim() == BEGIN_PATCH => {}
        _ => {
            return Err(PatchParseError::Invalid(
                "the first line must be '*** Begin Patch'".to_string(),
            ));
        }
    }
    if lines.len() < 2 || lines.last().is_none_or(|l| l.trim() != END_PATCH) {
        return Err(PatchParseError::Invalid(
            "the last line must be '*** End Patch'".to_string(),
        ));
    }
    let body = &lines[1..lines.len() - 1];
    let mut parser = Parser { lines: body, at: 0 };
    let mut ops = Vec::new();
    while let Some(op) = parser.next_op()? {
        ops.push(op);
    }
    if ops.is_empty() {
        return Err(PatchParseError::Invalid(
            "the patch has no file operations".to_string(),
        ));
    }
    Ok(Patch { ops })
}

fn strip_heredoc<'a>(lines: &'a [&'a str]) -> &'a [&'a str] {
    match lines {
        [first, inner @ .., last]
            if matches!(first.trim(), "<<EOF" | "<<'EOF'" | "<<\"EOF\"")
                && last.trim() == "EOF" =>
        {
            inner
        }
        _ => lines,
    }
}

/// Walks the lines between `*** Begin Patch` and `*** End Patch`.
struct Parser<'a> {
    lines: &'a [&'a str],
    at: usize,
}

impl<'a> Parser<'a> {
    /// 1-based line number in the whole patch of the current line.
    fn line_number(&self) -> usize {
        self.at + 2
    }

    fn error(&self, message: impl Into<String>) -> PatchParseError {
        PatchParseError::Line {
            line: self.line_number(),
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<&'a str> {
        self.lines.get(self.at).copied()
    }

    fn next_op(&mut self) -> Result<Option<FileOp>, PatchParseError> {
        while self.peek().is_some_and(|l| l.trim().is_empty()) {
            self.at += 1;
        }
        let Some(line) = self.peek() else {
            return Ok(None);
        };
        let header = line.trim();
        if let Some(path) = header.strip_prefix(ADD_FILE) {
            let path = self.path(path)?;
            self.at += 1;
            let mut contents = String::new();
            while let Some(added) = self.peek().and_then(|l| l.strip_prefix('+')) {
                contents.push_str(added);
                contents.push('\n');
                self.at += 1;
            }
            Ok(Some(FileOp::Add { path, contents }))
        } else if let Some(path) = header.strip_prefix(DELETE_FILE) {
            let path = self.path(path)?;
            self.at += 1;
            Ok(Some(FileOp::Delete { path }))
        } else if let Some(path) = header.strip_prefix(UPDATE_FILE) {
            let path = self.path(path)?;
            self.at += 1;
            let move_to = match self.peek().and_then(|l| l.trim().strip_prefix(MOVE_TO)) {
                Some(to) => {
                    let to = self.path(to)?;
                    self.at += 1;
                    Some(to)
                }
                None => None,
            };
            let mut hunks = Vec::new();
            loop {
                while self.peek().is_some_and(|l| l.trim().is_empty()) {
                    self.at += 1;
                }
                match self.peek() {
                    None => break,
                    Some(l) if l.trim_start().starts_with("***") => break,
                    Some(_) => hunks.push(self.hunk(hunks.is_empty())?),
                }
            }
            if hunks.is_empty() && move_to.is_none() {
                return Err(self.error(format!(
                    "'*** Update File: {}' has no hunks",
                    path.display()
                )));
            }
            Ok(Some(FileOp::Update {
                path,
                move_to,
                hunks,
            }))
        } else {
            Err(self.error(format!(
                "'{header}' is not a file operation; expected '*** Add File: path', \
                 '*** Delete File: path' or '*** Update File: path'"
            )))
        }
    }

    fn path(&self, raw: &str) -> Result<PathBuf, PatchParseError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(self.error("the file path is empty"));
        }
        Ok(PathBuf::from(raw))
    }

    /// Parses one hunk; the first hunk of a file may omit its `@@` header.
    fn hunk(&mut self, first: bool) -> Result<Hunk, PatchParseError> {
        let mut text = Vec::new();
        let Some(header) = self.peek() else {
            return Err(self.error("expected a hunk"));
        };
        let context = if let Some(rest) = header.trim_end().strip_prefix("@@") {
            text.push(header);
            self.at += 1;
            hunk_context(rest)
        } else if first {
            None
        } else {
            return Err(self.error(format!(
                "expected a hunk header '@@' or '@@ context line', got '{header}'"
            )));
        };

        let mut lines = Vec::new();
        let mut end_of_file = false;
        while let Some(line) = self.peek() {
            if line.trim() == END_OF_FILE {
                text.push(line);
                self.at += 1;
                end_of_file = true;
                break;
            }
            let parsed = match line.chars().next() {
                // A bare empty line is an empty context line: editors strip the lone space.
                None => HunkLine::Context(String::new()),
                Some(' ') => HunkLine::Context(line[1..].to_string()),
                Some('-') => HunkLine::Remove(line[1..].to_string()),
                Some('+') => HunkLine::Add(line[1..].to_string()),
                Some(_) => break,
            };
            lines.push(parsed);
            text.push(line);
            self.at += 1;
        }
        // Blank lines between hunks were read as context; they belong to no hunk.
        while matches!(lines.last(), Some(HunkLine::Context(s)) if s.is_empty())
            && self
                .peek()
                .is_some_and(|l| l.trim_start().starts_with("@@"))
        {
            lines.pop();
            text.pop();
        }
        if lines.is_empty() {
            return Err(match self.peek() {
                Some(line) if !line.trim_start().starts_with("***") && !line.starts_with("@@") => {
                    self.error(format!(
                        "unexpected line '{line}' in a hunk; every line must start with ' ', '-' or '+'"
                    ))
                }
                _ => self.error("the hunk has no lines"),
            });
        }
        Ok(Hunk {
            context,
            lines,
            end_of_file,
            text: text.join("\n"),
        })
    }
}

/// The context of a `@@` header: `@@ fn main()` gives `fn main()`; git-style line ranges
/// (`@@ -3,7 +3,8 @@ fn main()`) are dropped since this format locates hunks by content.
fn hunk_context(rest: &str) -> Option<String> {
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let rest = if rest.starts_with('-') && rest.contains(" @@") {
        rest.split_once(" @@")
            .map_or("", |(_, after)| after.trim_start())
    } else {
        rest
    };
    (!rest.trim().is_empty()).then(|| rest.to_string())
}

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
struct Plan {
    /// Final state per absolute path, in the order first touched.
    slots: Vec<(PathBuf, Slot)>,
    changes: Vec<FileChange>,
    summary: Vec<String>,
}

/// A file as it stands before the patch (on disk, or as an earlier operation left it).
struct Current {
    /// The text, or `None` when the file is not UTF-8.
    contents: Option<String>,
    permissions: Option<Permissions>,
}

impl Plan {
    fn build(
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
                let diff = update_diff(
                    &shown,
                    dest_shown.as_deref().unwrap_or(&shown),
                    &text.lines,
                    &replacements,
                );
                let new_text = text.join(apply_replacements(&text.lines, replacements));
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
    fn commit(
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
        for (path, slot) in &self.slots {
            if matches!(slot, Slot::Remove) {
                match std::fs::remove_file(path) {
                    Ok(()) => written.push(paths::display(project_dir, path)),
                    // Added and deleted within this one patch: never reached the disk.
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
        }
        let summary = format!(
            "Success. Updated the following files:\n{}\n",
            self.summary.join("\n")
        );
        Ok(Applied {
            summary,
            changes: self.changes,
            editor_writes,
        })
    }
}

fn verify(shown: &str, reason: &str) -> PatchError {
    PatchError::Verify {
        path: shown.to_string(),
        reason: reason.to_string(),
    }
}

/// Replaces `path` atomically: a temporary file in the same directory, then a rename.
///
/// A replaced file keeps its permissions; a new file gets the usual `0666 & !umask`. A symlink
/// is followed (to the target that was checked) so the link survives and its target changes;
/// the rename itself never follows one. A hard-linked file gets a new inode: its other names
/// keep the old contents.
fn write_atomic(path: &Path, contents: &[u8], permissions: Option<&Permissions>) -> io::Result<()> {
    let target = paths::real_path(path)?;
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".kelp-patch-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(Permissions::from_mode(0o666));
    }
    let mut file = builder.tempfile_in(&dir)?;
    file.write_all(contents)?;
    if let Some(permissions) = permissions {
        file.as_file().set_permissions(permissions.clone())?;
    }
    file.as_file().sync_all()?;
    file.persist(&target).map_err(|e| e.error)?;
    Ok(())
}

/// A file's lines, without line endings, and how to put them back together.
struct Text {
    lines: Vec<String>,
    crlf: bool,
    /// Whether the last line ends with a newline; a file without one keeps it that way.
    final_newline: bool,
}

impl Text {
    fn split(contents: &str) -> Self {
        let crlf = contents.contains("\r\n");
        let mut lines: Vec<String> = contents
            .split('\n')
            .map(|l| {
                if crlf {
                    l.strip_suffix('\r').unwrap_or(l).to_string()
                } else {
                    l.to_string()
                }
            })
            .collect();
        if lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        Self {
            lines,
            crlf,
            final_newline: contents.is_empty() || contents.ends_with('\n'),
        }
    }

    /// Joins lines with the file's own line ending.
    fn join(&self, lines: Vec<String>) -> String {
        if lines.is_empty() {
            return String::new();
        }
        let eol = if self.crlf { "\r\n" } else { "\n" };
        let mut out = lines.join(eol);
        if self.final_newline {
            out.push_str(eol);
        }
        out
    }
}

/// Lines `start..start + old_len` of a file become `new`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Replacement {
    start: usize,
    old_len: usize,
    new: Vec<String>,
}

/// Locates every hunk, each searching forward from where the previous one ended.
///
/// The error text names the hunk and quotes it.
fn find_replacements(lines: &[String], hunks: &[Hunk]) -> Result<Vec<Replacement>, String> {
    let mut out = Vec::new();
    let mut from = 0usize;
    for (index, hunk) in hunks.iter().enumerate() {
        let fail = |what: &str| {
            format!(
                "hunk {} of {} {what}:\n{}",
                index + 1,
                hunks.len(),
                hunk.text
            )
        };
        if let Some(context) = &hunk.context {
            match seek(lines, &[context.as_str()], from, false) {
                Some(at) => from = at + 1,
                None => {
                    return Err(fail(&format!(
                        "has a context line '{context}' that is not in the file"
                    )));
                }
            }
        }
        let mut hunk_lines: &[HunkLine] = &hunk.lines;
        let mut old: Vec<&str> = hunk.old_lines();
        if old.is_empty() {
            // Pure insertion: after its context line when it has one, else at the end.
            let at = if hunk.context.is_some() && !hunk.end_of_file {
                from
            } else {
                lines.len()
            };
            out.push(Replacement {
                start: at,
                old_len: 0,
                new: new_lines(hunk_lines, &[]),
            });
            from = at;
            continue;
        }
        let mut found = seek(lines, &old, from, hunk.end_of_file);
        // A trailing blank context line often stands for the file's final newline.
        if found.is_none()
            && matches!(hunk_lines.last(), Some(HunkLine::Context(s)) if s.is_empty())
        {
            hunk_lines = &hunk_lines[..hunk_lines.len() - 1];
            old.pop();
            found = seek(lines, &old, from, hunk.end_of_file);
        }
        let Some(at) = found else {
            return Err(fail("did not match the file"));
        };
        let original = &lines[at..at + old.len()];
        out.push(Replacement {
            start: at,
            old_len: old.len(),
            new: new_lines(hunk_lines, original),
        });
        from = at + old.len();
    }
    Ok(out
        .into_iter()
        .filter_map(|r| trim_unchanged(r, lines))
        .collect())
}

/// The lines a hunk leaves, taking context lines from the file itself, so a fuzzy match never
/// rewrites the whitespace of lines the hunk meant to keep.
fn new_lines(hunk: &[HunkLine], original: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut old_index = 0usize;
    for line in hunk {
        match line {
            HunkLine::Context(s) => {
                out.push(
                    original
                        .get(old_index)
                        .cloned()
                        .unwrap_or_else(|| s.clone()),
                );
                old_index += 1;
            }
            HunkLine::Remove(_) => old_index += 1,
            HunkLine::Add(s) => out.push(s.clone()),
        }
    }
    out
}

/// Shrinks a replacement to the lines that really change, so the diff is minimal; `None` when
/// nothing changes at all.
fn trim_unchanged(mut r: Replacement, lines: &[String]) -> Option<Replacement> {
    let old = &lines[r.start..r.start + r.old_len];
    let prefix = old.iter().zip(&r.new).take_while(|(a, b)| a == b).count();
    let room = (old.len() - prefix).min(r.new.len() - prefix);
    let suffix = old
        .iter()
        .rev()
        .zip(r.new.iter().rev())
        .take(room)
        .take_while(|(a, b)| a == b)
        .count();
    r.new = r.new[prefix..r.new.len() - suffix].to_vec();
    r.start += prefix;
    r.old_len -= prefix + suffix;
    (r.old_len > 0 || !r.new.is_empty()).then_some(r)
}

/// Typographic punctuation as the ASCII a model types for it: dashes and minus signs as `-`,
/// curly single and double quotes as `'` and `"`, and the many kinds of space as a space.
fn plain_punctuation(c: char) -> char {
    match c {
        '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
        '\u{2018}'..='\u{201B}' => '\'',
        '\u{201C}'..='\u{201F}' => '"',
        '\u{00A0}' | '\u{2002}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => ' ',
        other => other,
    }
}

/// Finds `pattern` in `lines` at or after `from`: exactly, then ignoring trailing whitespace,
/// then ignoring surrounding whitespace, then also treating typographic punctuation as its
/// ASCII form (models write `'` where a file has `’`). With `eof`, the end of the file is tried
/// first.
fn seek(lines: &[String], pattern: &[&str], from: usize, eof: bool) -> Option<usize> {
    if pattern.len() > lines.len() {
        return None;
    }
    let last_start = lines.len() - pattern.len();
    /// How two lines may differ and still match, strictest first.
    type Same = fn(&str, &str) -> bool;
    let passes: [Same; 4] = [
        |a, b| a == b,
        |a, b| a.trim_end() == b.trim_end(),
        |a, b| a.trim() == b.trim(),
        |a, b| {
            a.trim()
                .chars()
                .map(plain_punctuation)
                .eq(b.trim().chars().map(plain_punctuation))
        },
    ];
    let matches_at = |at: usize, same: Same| {
        lines[at..at + pattern.len()]
            .iter()
            .zip(pattern)
            .all(|(line, want)| same(line, want))
    };
    for same in passes {
        if eof && last_start >= from && matches_at(last_start, same) {
            return Some(last_start);
        }
        if let Some(at) = (from..=last_start).find(|&at| matches_at(at, same)) {
            return Some(at);
        }
    }
    None
}

fn apply_replacements(lines: &[String], replacements: Vec<Replacement>) -> Vec<String> {
    let mut out = lines.to_vec();
    for r in replacements.into_iter().rev() {
        out.splice(r.start..r.start + r.old_len, r.new);
    }
    out
}

fn added_diff(shown: &str, contents: &str) -> String {
    let lines: Vec<&str> = contents.lines().collect();
    let mut out = format!("--- /dev/null\n+++ b/{shown}\n");
    if !lines.is_empty() {
        out.push_str(&format!("@@ -0,0 +1,{} @@\n", lines.len()));
        for line in lines {
            out.push_str(&format!("+{line}\n"));
        }
    }
    out
}

fn deleted_diff(shown: &str, contents: Option<&str>) -> String {
    let mut out = format!("--- a/{shown}\n+++ /dev/null\n");
    let Some(contents) = contents else {
        out.push_str("(binary file)\n");
        return out;
    };
    let lines: Vec<&str> = contents.lines().collect();
    if !lines.is_empty() {
        out.push_str(&format!("@@ -1,{} +0,0 @@\n", lines.len()));
        for line in lines.iter().take(MAX_DELETED_PREVIEW_LINES) {
            out.push_str(&format!("-{line}\n"));
        }
        if lines.len() > MAX_DELETED_PREVIEW_LINES {
            out.push_str(&format!(
                "[… {} more deleted lines …]\n",
                lines.len() - MAX_DELETED_PREVIEW_LINES
            ));
        }
    }
    out
}

/// A unified diff built from the replacements themselves, so the preview shows exactly what
/// will be written.
fn update_diff(from: &str, to: &str, lines: &[String], replacements: &[Replacement]) -> String {
    let mut out = format!("--- a/{from}\n+++ b/{to}\n");
    let mut index = 0usize;
    // Lines added minus lines removed by the replacements before the current group.
    let mut shift: isize = 0;
    while index < replacements.len() {
        let mut end = index + 1;
        while end < replacements.len() {
            let prev = &replacements[end - 1];
            if replacements[end].start > prev.start + prev.old_len + 2 * DIFF_CONTEXT {
                break;
            }
            end += 1;
        }
        let group = &replacements[index..end];
        let first = &group[0];
        let last = &group[group.len() - 1];
        let old_start = first.start.saturating_sub(DIFF_CONTEXT);
        let old_end = (last.start + last.old_len + DIFF_CONTEXT).min(lines.len());
        let mut body = String::new();
        let mut at = old_start;
        let mut group_shift: isize = 0;
        for r in group {
            for line in &lines[at..r.start] {
                body.push_str(&format!(" {line}\n"));
            }
            for line in &lines[r.start..r.start + r.old_len] {
                body.push_str(&format!("-{line}\n"));
            }
            for line in &r.new {
                body.push_str(&format!("+{line}\n"));
            }
            at = r.start + r.old_len;
            group_shift += r.new.len() as isize - r.old_len as isize;
        }
        for line in &lines[at..old_end] {
            body.push_str(&format!(" {line}\n"));
        }
        let old_count = old_end - old_start;
        let new_count = (old_count as isize + group_shift).max(0) as usize;
        let new_start = (old_start as isize + shift).max(0) as usize;
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            range(old_start, old_count),
            range(new_start, new_count)
        ));
        out.push_str(&body);
        shift += group_shift;
        index = end;
    }
    out
}

/// A unified-diff range: 1-based start and count, with an empty range naming the line before.
fn range(start: usize, count: usize) -> String {
    if count == 0 {
        format!("{start},0")
    } else {
        format!("{},{count}", start + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
