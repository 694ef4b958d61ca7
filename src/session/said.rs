//! What was said in a conversation, kept beside its file for searching every conversation by
//! content: the prompts typed, the answers, the commands run and the files patched or read,
//! one line of text a line, each after where it came from. A tool's output is never kept, so
//! the file stays a few percent of the conversation's; a search reads these files, never the
//! conversations, one at a time (memory stays that of the largest one).
//!
//! The file (`NAME.said` beside `NAME.jsonl`) is brought up to date from where it stopped:
//! by the writer when a turn ends, and by a search before it reads it; a lost one is made
//! again from the conversation, a stale one (its conversation shorter than it says) anew. Lines
//! are `OFFSET\tKIND\tTEXT`, OFFSET counted after the header (so `/cd`'s new header moves
//! nothing), KIND `p` (prompt), `a` (answer), `c` (command), `f` (file) or `.` (read up to
//! here, no text). Writing it holds its lock, so a search and a writer never both append.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::llm::types::{Item, Role};
use crate::private_file;

/// What a kept line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Prompt,
    Answer,
    Command,
    File,
}

impl Kind {
    fn letter(self) -> char {
        match self {
            Self::Prompt => 'p',
            Self::Answer => 'a',
            Self::Command => 'c',
            Self::File => 'f',
        }
    }

    fn of(letter: u8) -> Option<Self> {
        Some(match letter {
            b'p' => Self::Prompt,
            b'a' => Self::Answer,
            b'c' => Self::Command,
            b'f' => Self::File,
            _ => return None,
        })
    }
}

/// The longest line kept: a longer one is cut (a search finds what is in its first part).
const MAX_LINE_BYTES: usize = 512;

/// The most of a said file a search reads: what a conversation says beyond it is not found.
const MAX_SAID_BYTES: u64 = 64 * 1024 * 1024;

/// Where the said lines of the conversation at `session` are kept.
pub fn said_path(session: &Path) -> PathBuf {
    session.with_extension("said")
}

/// One line of a conversation that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub kind: Kind,
    /// The line, as said (cut to [`MAX_LINE_BYTES`]).
    pub line: String,
    /// Where the match begins and ends in `line`, in bytes.
    pub range: (usize, usize),
    /// Where the entry it came from ends, counted after the header.
    pub at: u64,
}

/// The lines of the conversation at `session` that hold `term` (ASCII letters of any case),
/// oldest first, at most `max`; its said file brought up to date first.
pub fn find_in(session: &Path, term: &str, max: usize) -> std::io::Result<Vec<Found>> {
    let said = bring_up_to_date(session)?;
    let needle = term.trim().to_ascii_lowercase();
    if needle.is_empty() || max == 0 {
        return Ok(Vec::new());
    }
    let mut text = Vec::new();
    private_file::open_regular(&said, super::reader::READ_BY_PAGES)?
        .0
        .take(MAX_SAID_BYTES)
        .read_to_end(&mut text)?;
    let mut folded = text.clone();
    folded.make_ascii_lowercase();
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(hit) = finder.find(&folded[from..]).map(|at| at + from) {
        let start = folded[..hit]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |at| at + 1);
        let end = memchr::memchr(b'\n', &folded[hit..]).map_or(folded.len(), |at| hit + at);
        match parse_line(&text[start..end], hit - start, needle.len()) {
            Some(line) => {
                found.push(line);
                if found.len() == max {
                    break;
                }
                from = end;
            }
            // In the line's offset or kind: its text may still hold it.
            None => from = hit + 1,
        }
    }
    Ok(found)
}

/// The saved conversations under `root` (the saved or the archived ones; of `project` alone,
/// when given) whose said lines hold `term`, newest first, each with its first matching line;
/// `visit` returns `false` to stop. One conversation's said file is in memory at a time.
pub fn search(
    root: &Path,
    project: Option<&Path>,
    term: &str,
    mut visit: impl FnMut(crate::protocol::SessionSummary, Found) -> bool,
) {
    for summary in super::list_under(root, project) {
        let first = find_in(&summary.path, term, 1)
            .ok()
            .and_then(|f| f.into_iter().next());
        if let Some(first) = first
            && !visit(summary, first)
        {
            return;
        }
    }
}

/// A said line, with the match at `at` (bytes into it) of `len` bytes; `None` for a
/// checkpoint, a broken line, or a match in its offset or kind.
fn parse_line(line: &[u8], at: usize, len: usize) -> Option<Found> {
    let mut fields = line.splitn(3, |b| *b == b'\t');
    let offset = fields.next()?;
    let kind = Kind::of(*fields.next()?.first()?)?;
    let text = fields.next()?;
    let text_start = offset.len() + 3;
    let match_start = at.checked_sub(text_start)?;
    let text = std::str::from_utf8(text).ok()?;
    let end = (match_start + len).min(text.len());
    Some(Found {
        kind,
        line: text.to_string(),
        range: (match_start, end),
        at: std::str::from_utf8(offset).ok()?.parse().ok()?,
    })
}

/// Brings the said file of the conversation at `session` up to date with it: the entries
/// written since it was last brought up to date are read (a tool's output passed over
/// unparsed, by its first bytes), and their said lines appended. Returns the said file's path.
pub fn bring_up_to_date(session: &Path) -> std::io::Result<PathBuf> {
    bring_up_to_date_when(session, true).map(|(said, _)| said)
}

/// [`bring_up_to_date`], waiting for another bringing it up to date (`wait`), or leaving it
/// to that one; whether it was done here.
pub fn bring_up_to_date_when(session: &Path, wait: bool) -> std::io::Result<(PathBuf, bool)> {
    let said = said_path(session);
    // The conversation first: one that is gone leaves no said file behind.
    let (mut conversation, _) = private_file::open_regular(session, super::reader::READ_BY_PAGES)?;
    let mut out = private_file::private_open_options()
        .read(true)
        .append(true)
        .create(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_NOFOLLOW)
        .open(&said)?;
    // Something else named like it (a FIFO) is never read nor written.
    if !out.metadata()?.is_file() {
        return Err(std::io::Error::other(format!(
            "{} is not a regular file",
            said.display()
        )));
    }
    if wait {
        out.lock()?;
    } else if out.try_lock().is_err() {
        return Ok((said, false));
    }
    let mut reader = BufReader::new(&mut conversation);
    let mut header = Vec::new();
    reader.read_until(b'\n', &mut header)?;
    let body_start = header.len() as u64;
    let body_len = reader
        .get_ref()
        .metadata()?
        .len()
        .saturating_sub(body_start);
    let mut done = read_up_to(&mut out)?;
    if done > body_len {
        // Longer than its conversation: another one's, or from before a rewrite. Anew.
        out.set_len(0)?;
        done = 0;
    }
    if done == body_len {
        return Ok((said, true));
    }
    reader.seek(SeekFrom::Start(body_start + done))?;
    let mut lines = String::new();
    let mut line = Vec::new();
    let mut at = done;
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line)?;
        // A torn last line (a writer at work) waits for the next time.
        if read == 0 || line.last() != Some(&b'\n') {
            break;
        }
        at += read as u64;
        for (kind, text) in said_of(&line) {
            push_line(&mut lines, at, kind, &text);
        }
    }
    // Nothing whole since (a writer's line half written): nothing to note.
    if at == done {
        return Ok((said, true));
    }
    lines.push_str(&format!("{at}\t.\t\n"));
    out.write_all(lines.as_bytes())?;
    Ok((said, true))
}

/// Where the said file says it was brought up to: the offset of its last line.
fn read_up_to(said: &mut File) -> std::io::Result<u64> {
    let len = said.seek(SeekFrom::End(0))?;
    let tail = len.min(MAX_LINE_BYTES as u64 * 4);
    said.seek(SeekFrom::Start(len - tail))?;
    let mut end = Vec::new();
    said.take(tail).read_to_end(&mut end)?;
    let Some(last) = end
        .strip_suffix(b"\n")
        .map(|rest| rest.rsplit(|b| *b == b'\n').next().unwrap_or(rest))
    else {
        // Empty, or cut off mid-line by a crash: made anew.
        said.set_len(0)?;
        return Ok(0);
    };
    let offset = last.split(|b| *b == b'\t').next().unwrap_or_default();
    match std::str::from_utf8(offset)
        .ok()
        .and_then(|o| o.parse().ok())
    {
        Some(at) => Ok(at),
        None => {
            said.set_len(0)?;
            Ok(0)
        }
    }
}

fn push_line(lines: &mut String, at: u64, kind: Kind, text: &str) {
    for part in text.lines() {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let mut end = part.len().min(MAX_LINE_BYTES);
        while !part.is_char_boundary(end) {
            end -= 1;
        }
        let part = part[..end].replace('\t', " ");
        lines.push_str(&format!("{at}\t{}\t{part}\n", kind.letter()));
    }
}

/// What one line of a session file says that is kept: a typed prompt, an answer, a command,
/// the files a patch or a read names. A tool's output is passed over unparsed.
fn said_of(line: &[u8]) -> Vec<(Kind, String)> {
    if line.starts_with(br#"{"type":"function_call_output""#)
        || line.starts_with(br#"{"type":"reasoning""#)
        || line.starts_with(br#"{"type":"kelp_"#)
    {
        return Vec::new();
    }
    let Ok(item) = serde_json::from_slice::<Item>(line) else {
        return Vec::new();
    };
    match &item {
        Item::Message {
            role: Role::User, ..
        } if item.is_prompt() => vec![(Kind::Prompt, item.typed_text())],
        Item::Message {
            role: Role::Assistant,
            ..
        } => vec![(Kind::Answer, item.text())],
        Item::FunctionCall {
            name, arguments, ..
        } => call_said(name, arguments),
        _ => Vec::new(),
    }
}

/// A tool call's command, or the files it names.
fn call_said(name: &str, arguments: &str) -> Vec<(Kind, String)> {
    let Ok(arguments) = serde_json::from_str::<serde_json::Value>(arguments) else {
        return Vec::new();
    };
    let text = |key: &str| {
        arguments
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    match name {
        "shell" | "exec_command" | "shell_command" => {
            let command = match arguments.get("command").or_else(|| arguments.get("cmd")) {
                Some(serde_json::Value::Array(words)) => words
                    .iter()
                    .filter_map(|w| w.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                Some(serde_json::Value::String(command)) => command.clone(),
                _ => return Vec::new(),
            };
            vec![(Kind::Command, command)]
        }
        "apply_patch" => text("input")
            .map(|patch| {
                patch
                    .lines()
                    .filter_map(|l| {
                        ["*** Add File: ", "*** Update File: ", "*** Delete File: "]
                            .iter()
                            .find_map(|head| l.strip_prefix(head))
                    })
                    .map(|path| (Kind::File, path.trim().to_string()))
                    .collect()
            })
            .unwrap_or_default(),
        "read_file" | "list_dir" | "view_image" => text("path")
            .map(|path| vec![(Kind::File, path)])
            .unwrap_or_default(),
        "grep_files" => text("pattern")
            .map(|pattern| vec![(Kind::Command, format!("grep {pattern}"))])
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Note, SessionHeader, SessionWriter};

    fn conversation(state: &Path) -> PathBuf {
        let mut writer = SessionWriter::create(state, SessionHeader::new("/p", "gpt-5.5"));
        writer
            .append(&Item::user_text("Fix the TLS bug\nin the proxy"))
            .unwrap();
        writer
            .append(&Item::FunctionCall {
                name: "shell".into(),
                arguments: r#"{"command":["rg","handshake"]}"#.into(),
                call_id: "c1".into(),
                namespace: None,
            })
            .unwrap();
        writer
            .append(&Item::FunctionCallOutput {
                call_id: "c1".into(),
                // Far longer than a read's buffer: passed over, never kept.
                output: "src/tls.rs: handshake timeout\n".repeat(4_000).into(),
            })
            .unwrap();
        writer
            .append(&Item::FunctionCall {
                name: "apply_patch".into(),
                arguments: serde_json::json!({"input": "*** Begin Patch\n*** Update File: src/tls.rs\n@@\n-a\n+b\n*** End Patch"}).to_string(),
                call_id: "c2".into(),
                namespace: None,
            })
            .unwrap();
        writer
            .append(&Item::assistant_text("The handshake now retries once."))
            .unwrap();
        writer.append_note(&Note::turn("t1")).unwrap();
        crate::session::find(state, &writer.id().to_string())
            .unwrap()
            .path
    }

    #[test]
    fn prompts_answers_commands_and_files_are_found_and_outputs_are_not() {
        let state = tempfile::tempdir().unwrap();
        let path = conversation(state.path());
        let found = find_in(&path, "HANDSHAKE", 10).unwrap();
        let kinds: Vec<Kind> = found.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, [Kind::Command, Kind::Answer], "{found:?}");
        assert_eq!(found[0].line, "rg handshake");
        assert_eq!(
            &found[0].line[found[0].range.0..found[0].range.1],
            "handshake"
        );
        assert_eq!(find_in(&path, "tls bug", 10).unwrap()[0].kind, Kind::Prompt);
        assert_eq!(
            find_in(&path, "in the proxy", 10).unwrap()[0].line,
            "in the proxy"
        );
        assert_eq!(
            find_in(&path, "src/tls.rs", 10).unwrap()[0].kind,
            Kind::File
        );
        assert!(
            find_in(&path, "timeout", 10).unwrap().is_empty(),
            "outputs are not kept"
        );
        assert_eq!(find_in(&path, "handshake", 1).unwrap().len(), 1);
        // A digit is in every line's offset too: the lines whose text holds one are found.
        let mut writer = SessionWriter::reopen(&path).unwrap();
        writer.append(&Item::user_text("try 1 more time")).unwrap();
        drop(writer);
        let ones = find_in(&path, "1", 10).unwrap();
        assert_eq!(ones.len(), 1, "{ones:?}");
        assert_eq!(ones[0].line, "try 1 more time");
    }

    #[test]
    fn the_said_file_follows_its_conversation_and_is_made_again_when_lost() {
        let state = tempfile::tempdir().unwrap();
        let path = conversation(state.path());
        bring_up_to_date(&path).unwrap();
        let first = std::fs::read_to_string(said_path(&path)).unwrap();
        // Up to date: nothing more is written.
        bring_up_to_date(&path).unwrap();
        assert_eq!(std::fs::read_to_string(said_path(&path)).unwrap(), first);
        let mut writer = SessionWriter::reopen(&path).unwrap();
        writer.append(&Item::user_text("and the cache")).unwrap();
        drop(writer);
        assert_eq!(find_in(&path, "cache", 10).unwrap().len(), 1);
        assert_eq!(find_in(&path, "tls bug", 10).unwrap().len(), 1, "once");
        // Moved to another folder: the header changes, the offsets do not.
        crate::session::shelf::move_to(&path, Path::new("/q")).unwrap();
        assert_eq!(find_in(&path, "tls bug", 10).unwrap().len(), 1);
        std::fs::remove_file(said_path(&path)).unwrap();
        assert_eq!(find_in(&path, "cache", 10).unwrap().len(), 1, "made again");
        // A said file longer than its conversation is another's: made anew.
        std::fs::write(said_path(&path), "999999999\t.\t\n").unwrap();
        assert_eq!(find_in(&path, "tls bug", 10).unwrap().len(), 1);
    }
}
