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
    for hunk in diff
        .unified_diff()
        .context_radius(DIFF_CONTEXT)
        .iter_hunks()
    {
        out.push_str(&hunk.to_string());
    }
    out
}
