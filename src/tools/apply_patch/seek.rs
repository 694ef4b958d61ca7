//! Where a hunk fits in a file: exact lines first, then ignoring trailing white space, then
//! any surrounding white space, then with typographic punctuation read as the plain characters a
//! model types.

use super::parse::{Hunk, HunkLine};

/// A file's lines, without line endings, and how to put them back together.
pub(super) struct Text {
    pub(super) lines: Vec<String>,
    crlf: bool,
    /// Whether the last line ends with a newline; a file without one keeps it that way.
    final_newline: bool,
}

impl Text {
    pub(super) fn split(contents: &str) -> Self {
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
    pub(super) fn join(&self, lines: Vec<String>) -> String {
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
pub(super) struct Replacement {
    start: usize,
    old_len: usize,
    new: Vec<String>,
}

/// Locates every hunk, each searching forward from where the previous one ended.
///
/// The error text names the hunk and quotes it.
pub(super) fn find_replacements(
    lines: &[String],
    hunks: &[Hunk],
) -> Result<Vec<Replacement>, String> {
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

pub(super) fn apply_replacements(lines: &[String], replacements: Vec<Replacement>) -> Vec<String> {
    let mut out = lines.to_vec();
    for r in replacements.into_iter().rev() {
        out.splice(r.start..r.start + r.old_len, r.new);
    }
    out
}
