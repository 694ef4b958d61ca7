//! The unified diffs a preview shows.

/// Context lines around each change in a preview diff.
const DIFF_CONTEXT: usize = 3;
/// Lines of a deleted file shown in a preview before the rest is summarised.
const MAX_DELETED_PREVIEW_LINES: usize = 200;

pub(super) fn added_diff(shown: &str, contents: &str) -> String {
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

pub(super) fn deleted_diff(shown: &str, contents: Option<&str>) -> String {
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

/// The unified diff from `old` to `new` text of the file shown as `shown` (`None`: the file
/// does not exist on that side), as `git diff` writes it: what a turn changed in a file
/// over all its patches.
pub fn file_diff(shown: &str, old: Option<&str>, new: Option<&str>) -> String {
    let (from, to) = (format!("a/{shown}"), format!("b/{shown}"));
    let diff = similar::TextDiff::from_lines(old.unwrap_or(""), new.unwrap_or(""));
    let mut out = format!(
        "diff --git {from} {to}\n--- {}\n+++ {}\n",
        if old.is_some() {
            from.as_str()
        } else {
            "/dev/null"
        },
        if new.is_some() {
            to.as_str()
        } else {
            "/dev/null"
        },
    );
    push_hunks(&mut out, &diff);
    out
}

/// Appends `diff`'s hunks, with the previews' context, to `out`.
fn push_hunks<'a>(out: &mut String, diff: &'a similar::TextDiff<'a, 'a, 'a, str>) {
    for hunk in diff
        .unified_diff()
        .context_radius(DIFF_CONTEXT)
        .iter_hunks()
    {
        out.push_str(&hunk.to_string());
    }
}

/// The unified diff of an update, line endings aside (a CRLF file diffs as its lines), by
/// `similar`.
pub(super) fn update_diff(from: &str, to: &str, old: &[String], new: &[String]) -> String {
    let joined = |lines: &[String]| {
        let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
        text
    };
    let (old, new) = (joined(old), joined(new));
    let diff = similar::TextDiff::from_lines(&old, &new);
    let mut out = format!("--- a/{from}\n+++ b/{to}\n");
    push_hunks(&mut out, &diff);
    out
}

/// What a turn changed, file by file: each file's text before the turn's first patch of it and
/// after its last, so the turn's diff is one diff per file however many patches touched it.
#[derive(Debug, Default)]
pub struct TurnDiff {
    /// By path: the text before (`None`: the file did not exist) and now (`None`: deleted).
    files: std::collections::BTreeMap<std::path::PathBuf, (Option<String>, Option<String>)>,
}

impl TurnDiff {
    /// Takes in the changes of one applied patch.
    pub fn add(&mut self, changes: &[super::FileChange]) {
        for change in changes {
            let before = match change.kind {
                crate::protocol::ChangeKind::Add => None,
                _ => change.old_text.clone(),
            };
            let moved = change.move_to.is_some();
            let entry = self
                .files
                .entry(change.path.clone())
                .or_insert((before, None));
            entry.1 = if moved { None } else { change.new_text.clone() };
            if let Some(to) = &change.move_to {
                self.files.entry(to.clone()).or_insert((None, None)).1 = change.new_text.clone();
            }
        }
    }

    /// The turn's unified diff, paths shown relative to `cwd`; empty when nothing changed.
    pub fn unified(&self, cwd: &std::path::Path) -> String {
        self.files
            .iter()
            .filter(|(_, (before, now))| before != now)
            .map(|(path, (before, now))| {
                let shown = path.strip_prefix(cwd).unwrap_or(path).display().to_string();
                file_diff(&shown, before.as_deref(), now.as_deref())
            })
            .collect()
    }
}

#[cfg(test)]
mod turn_diff_tests {
    use super::super::FileChange;
    use super::*;
    use crate::protocol::ChangeKind;
    use std::path::{Path, PathBuf};

    fn change(kind: ChangeKind, path: &str, old: Option<&str>, new: Option<&str>) -> FileChange {
        FileChange {
            kind,
            path: PathBuf::from(path),
            move_to: None,
            diff: String::new(),
            old_text: old.map(str::to_string),
            new_text: new.map(str::to_string),
        }
    }

    #[test]
    fn two_patches_of_one_file_are_one_diff_from_its_first_text() {
        let mut turn = TurnDiff::default();
        turn.add(&[change(
            ChangeKind::Update,
            "/p/a.rs",
            Some("one\n"),
            Some("two\n"),
        )]);
        turn.add(&[
            change(
                ChangeKind::Update,
                "/p/a.rs",
                Some("two\n"),
                Some("three\n"),
            ),
            change(ChangeKind::Add, "/p/new.rs", None, Some("fresh\n")),
        ]);
        assert_eq!(
            turn.unified(Path::new("/p")),
            "diff --git a/a.rs b/a.rs\n--- a/a.rs\n+++ b/a.rs\n@@ -1 +1 @@\n-one\n+three\n\
             diff --git a/new.rs b/new.rs\n--- /dev/null\n+++ b/new.rs\n@@ -0,0 +1 @@\n+fresh\n"
        );
        // Put back as it was: no change left.
        turn.add(&[
            change(
                ChangeKind::Update,
                "/p/a.rs",
                Some("three\n"),
                Some("one\n"),
            ),
            change(ChangeKind::Delete, "/p/new.rs", Some("fresh\n"), None),
        ]);
        assert_eq!(turn.unified(Path::new("/p")), "");
    }
}
