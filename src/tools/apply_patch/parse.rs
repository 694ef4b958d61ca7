//! The `*** Begin Patch` grammar: a patch parsed into file operations and hunks, leniently where
//! models slip, and a patch recognised inside a `shell` call.

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::super::shell::ShellCommand;

const BEGIN_PATCH: &str = "*** Begin Patch";
const END_PATCH: &str = "*** End Patch";
const ADD_FILE: &str = "*** Add File: ";
const DELETE_FILE: &str = "*** Delete File: ";
const UPDATE_FILE: &str = "*** Update File: ";
const MOVE_TO: &str = "*** Move to: ";
const END_OF_FILE: &str = "*** End of File";

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
    pub(super) fn old_lines(&self) -> Vec<&str> {
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
