//! Finding saved conversations: newest first, reading only what the caller consumes.

use std::path::{Path, PathBuf};

use super::{SessionError, id_from_file_name, id_text_of_file_name, reader, sessions_dir};
use crate::protocol::{LastExchange, SessionSummary};

impl SessionSummary {
    /// Reads the summary of the session file at `path` (its first line only).
    pub fn read(path: &Path) -> Result<Self, SessionError> {
        let (header, file) = reader::read_header(path)?;
        let meta = file.metadata().map_err(SessionError::io("read", path))?;
        Ok(Self {
            id: header.id,
            path: path.to_path_buf(),
            project_dir: header.project_dir,
            model: header.model,
            started_at: header.started_at,
            first_prompt: header.first_prompt,
            size: meta.len(),
            modified: meta.modified().ok(),
            name: None,
            forked_from: header.forked_from,
            agent: header.agent,
            side_of: header.side_of,
            last_exchange: None,
        })
    }

    /// The conversation it belongs under: the one that spawned it as an agent, or the one it
    /// is a side conversation of.
    pub fn parent(&self) -> Option<uuid::Uuid> {
        self.agent
            .as_ref()
            .map(|origin| origin.parent)
            .or(self.side_of)
    }

    /// What lists call it: its name, else its first prompt.
    pub fn title(&self) -> Option<&str> {
        self.name.as_deref().or(self.first_prompt.as_deref())
    }
}

/// The saved conversations, newest first, optionally only those of one project directory.
/// Lazy: each folder is read and each header opened only when the iteration reaches it, so
/// taking the first few costs a few file reads however many sessions there are. Files that
/// cannot be read are skipped.
pub fn list_sessions(state_dir: &Path, project_dir: Option<&Path>) -> Sessions {
    list_under(&sessions_dir(state_dir), project_dir)
}

/// [`list_sessions`] of the sessions under `root` (the saved or the archived ones).
pub fn list_under(root: &Path, project_dir: Option<&Path>) -> Sessions {
    Sessions {
        files: SessionFiles::new(root),
        project_dir: project_dir.map(Path::to_path_buf),
    }
}

/// The newest conversation in `project_dir` (for `--continue`): the person's, not an agent a
/// team spawned nor a side conversation.
pub fn latest_for(state_dir: &Path, project_dir: &Path) -> Option<SessionSummary> {
    list_sessions(state_dir, Some(project_dir)).find(|summary| summary.parent().is_none())
}

/// `rows` with each agent a team spawned (and each side conversation) right after the
/// conversation it belongs under (its children newest first), and how deep each row sits; one
/// whose parent is not among the rows keeps its place.
pub fn under_parents(rows: Vec<SessionSummary>) -> Vec<(SessionSummary, usize)> {
    let listed: std::collections::HashSet<uuid::Uuid> = rows.iter().map(|row| row.id).collect();
    let (children, tops): (Vec<_>, Vec<_>) = rows
        .into_iter()
        .partition(|row| row.parent().is_some_and(|parent| listed.contains(&parent)));
    let mut children: Vec<Option<SessionSummary>> = children.into_iter().map(Some).collect();
    let mut out = Vec::new();
    fn place(
        row: SessionSummary,
        depth: usize,
        children: &mut Vec<Option<SessionSummary>>,
        out: &mut Vec<(SessionSummary, usize)>,
    ) {
        let id = row.id;
        out.push((row, depth));
        for at in 0..children.len() {
            let is_child = children[at]
                .as_ref()
                .is_some_and(|child| child.parent() == Some(id));
            if is_child && let Some(child) = children[at].take() {
                place(child, depth + 1, children, out);
            }
        }
    }
    for row in tops {
        place(row, 0, &mut children, &mut out);
    }
    out
}

/// The conversation whose id is `id_or_prefix` or starts with it (case-insensitive, at least
/// one character); matched on file names, so only the match is opened.
pub fn find(state_dir: &Path, id_or_prefix: &str) -> Result<SessionSummary, SessionError> {
    find_under(&sessions_dir(state_dir), id_or_prefix)
}

/// The conversation whose id is exactly `id`: what the embedding faces take, since a host that
/// names thread `a` must not reach whichever thread's id starts with it.
pub fn find_whole(state_dir: &Path, id: &str) -> Result<SessionSummary, SessionError> {
    match uuid::Uuid::try_parse(id.trim()) {
        Ok(_) => find(state_dir, id),
        Err(_) => Err(SessionError::NotAnId(id.to_string())),
    }
}

/// [`find`] among the sessions under `root`.
pub fn find_under(root: &Path, id_or_prefix: &str) -> Result<SessionSummary, SessionError> {
    let wanted = id_or_prefix.trim().to_ascii_lowercase();
    if wanted.is_empty() {
        return Err(SessionError::NoMatch(id_or_prefix.to_string()));
    }
    // The id's text is compared as the name has it, and parsed only when it matches: most names
    // differ in their first bytes, and a prefix search reads every name there is.
    let mut matches = SessionFiles::new(root).filter(|path| {
        id_text_of_file_name(path).is_some_and(|text| {
            text.get(..wanted.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(&wanted))
                && id_from_file_name(path).is_some()
        })
    });
    let Some(first) = matches.next() else {
        return Err(SessionError::NoMatch(id_or_prefix.to_string()));
    };
    let others = matches.count();
    if others > 0 {
        return Err(SessionError::Ambiguous {
            id: id_or_prefix.to_string(),
            count: others + 1,
        });
    }
    SessionSummary::read(&first)
}

/// The iterator [`list_sessions`] returns.
#[derive(Debug)]
pub struct Sessions {
    files: SessionFiles,
    project_dir: Option<PathBuf>,
}

impl Iterator for Sessions {
    type Item = SessionSummary;

    fn next(&mut self) -> Option<SessionSummary> {
        for path in self.files.by_ref() {
            match SessionSummary::read(&path) {
                Ok(summary)
                    if self
                        .project_dir
                        .as_deref()
                        .is_none_or(|dir| summary.project_dir == dir) =>
                {
                    return Some(summary);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "skipped a session file"),
            }
        }
        None
    }
}

/// Session file paths, newest first, from the `YYYY/MM/DD/<stamp>-<id>.jsonl` tree. Relies on
/// names alone (zero-padded, so name order is time order): no file is opened or stat-ed.
#[derive(Debug)]
struct SessionFiles {
    /// One entry per folder level being walked: its depth and its children still to visit,
    /// sorted oldest first so `pop` yields the newest.
    stack: Vec<(usize, Vec<PathBuf>)>,
}

/// Year, month, day: the file level is below these.
const FILE_DEPTH: usize = 3;

impl SessionFiles {
    fn new(root: &Path) -> Self {
        Self {
            stack: vec![(0, children(root, 0))],
        }
    }
}

impl Iterator for SessionFiles {
    type Item = PathBuf;

    fn next(&mut self) -> Option<PathBuf> {
        loop {
            let (depth, pending) = self.stack.last_mut()?;
            let depth = *depth;
            let Some(path) = pending.pop() else {
                self.stack.pop();
                continue;
            };
            if depth == FILE_DEPTH {
                return Some(path);
            }
            let below = children(&path, depth + 1);
            self.stack.push((depth + 1, below));
        }
    }
}

/// The entries of `dir` that belong at `depth` (digit-named folders above the files, `.jsonl`
/// files at the bottom), sorted by name. A missing or unreadable folder has none.
fn children(dir: &Path, depth: usize) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<_> = entries
        .filter_map(|entry| entry.ok().map(|e| e.file_name()))
        .filter(|name| {
            let name = name.to_string_lossy();
            if depth == FILE_DEPTH {
                name.ends_with(".jsonl") && !name.starts_with('.')
            } else {
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())
            }
        })
        .collect();
    names.sort_unstable();
    names.into_iter().map(|name| dir.join(name)).collect()
}

/// The prompts typed in `project_dir`'s saved conversations, oldest first, at most `max`, from
/// the newest `sessions` conversations: the composer's history across sessions. Each file is
/// read from its end, back to where it has given enough (at most [`PROMPT_SCAN_BYTES`]), and
/// only the lines of user messages are parsed: a gigabyte of tool output costs nothing.
pub fn recent_prompts(
    state_dir: &Path,
    project_dir: &Path,
    sessions: usize,
    max: usize,
) -> Vec<String> {
    let mut newest_first: Vec<String> = Vec::new();
    for summary in list_sessions(state_dir, Some(project_dir)).take(sessions) {
        let Ok((file, _)) =
            crate::private_file::open_regular(&summary.path, super::reader::READ_BY_PAGES)
        else {
            continue;
        };
        let wanted = max - newest_first.len();
        newest_first.extend(prompts_from_the_end(&file, wanted));
        if newest_first.len() >= max {
            break;
        }
    }
    newest_first.reverse();
    newest_first
}

/// The most of a session file [`recent_prompts`] reads, from its end.
const PROMPT_SCAN_BYTES: u64 = 32 * 1024 * 1024;

/// How much of a session file is read at a time, from its end.
const PROMPT_SCAN_CHUNK: u64 = 256 * 1024;

/// The longest line looked at for a prompt; a longer one is a tool's output, or a paste no
/// one recalls with Up.
const MAX_PROMPT_LINE: usize = 1024 * 1024;

/// Up to `wanted` prompts typed in the session `file`, newest first, read from its end.
fn prompts_from_the_end(file: &std::fs::File, wanted: usize) -> Vec<String> {
    let mut prompts = Vec::new();
    if wanted == 0 {
        return prompts;
    }
    lines_from_the_end(file, PROMPT_SCAN_BYTES, |line| {
        if let Some(prompt) = typed_prompt(line) {
            prompts.push(prompt);
        }
        prompts.len() < wanted
    });
    prompts
}

/// The most of a session file [`last_exchange`] reads, from its end: one chunk, as a list reads
/// it for each of its conversations.
const EXCHANGE_SCAN_BYTES: u64 = PROMPT_SCAN_CHUNK;

/// The most of the prompt and of the answer a preview keeps.
const EXCHANGE_CHARS: usize = 240;

/// The conversation's last exchange, for a picker's preview: the first line of the last prompt
/// typed and of the first answer after it, read from the end of the session file at `path`
/// (at most 256 KiB).
pub fn last_exchange(path: &Path) -> Option<LastExchange> {
    let (file, _) = crate::private_file::open_regular(path, super::reader::READ_BY_PAGES).ok()?;
    let mut answer = None;
    let mut prompt = None;
    let mut model = None;
    // Lines looked at past the prompt for its turn's note, which comes just before it (hooks'
    // words may lie between).
    let mut looked = 0;
    lines_from_the_end(&file, EXCHANGE_SCAN_BYTES, |line| {
        if prompt.is_some() {
            looked += 1;
            if let Some(said) = turn_model(line) {
                model = said;
                return false;
            }
            return looked < TURN_NOTE_LOOKS;
        }
        if let Some(typed) = typed_prompt(line) {
            prompt = Some(typed);
            return true;
        }
        // The earliest answer after the prompt: the last one seen going backwards.
        if let Some(text) = answer_text(line) {
            answer = Some(text);
        }
        true
    });
    let first_line = |text: String| {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or_default();
        line.chars().take(EXCHANGE_CHARS).collect::<String>()
    };
    Some(LastExchange {
        prompt: first_line(prompt?),
        answer: answer.map(first_line),
        model,
    })
}

/// How many lines before the last prompt are looked at for its turn's note.
const TURN_NOTE_LOOKS: usize = 8;

/// When `line` is a turn's note: the model it names, if any.
fn turn_model(line: &[u8]) -> Option<Option<String>> {
    const TURN: &[u8] = br#""type":"kelp_turn""#;
    if line.len() > MAX_PROMPT_LINE || !line.windows(TURN.len()).any(|at| at == TURN) {
        return None;
    }
    match serde_json::from_slice::<super::Note>(line).ok()? {
        super::Note::TurnStarted { model, .. } => Some(model),
        _ => None,
    }
}

/// The text of an answer, when `line` is one.
fn answer_text(line: &[u8]) -> Option<String> {
    const ASSISTANT: &[u8] = br#""role":"assistant""#;
    if line.len() > MAX_PROMPT_LINE || !line.windows(ASSISTANT.len()).any(|at| at == ASSISTANT) {
        return None;
    }
    let item = serde_json::from_slice::<crate::llm::types::Item>(line).ok()?;
    let text = item.typed_text();
    (!text.trim().is_empty()).then_some(text)
}

/// Calls `visit` with the lines of `file` from its end, up to `max_bytes` back, a chunk at a
/// time; it goes on while `visit` says so. A line longer than [`MAX_PROMPT_LINE`] is passed
/// over.
fn lines_from_the_end(file: &std::fs::File, max_bytes: u64, mut visit: impl FnMut(&[u8]) -> bool) {
    use std::os::unix::fs::FileExt;
    let Ok(len) = file.metadata().map(|meta| meta.len()) else {
        return;
    };
    let stop = len.saturating_sub(max_bytes);
    let mut end = len;
    // The start of the line read last: its beginning lies in the chunk before.
    let mut partial: Vec<u8> = Vec::new();
    let mut chunk = Vec::new();
    while end > stop {
        let start = end.saturating_sub(PROMPT_SCAN_CHUNK).max(stop);
        chunk.resize((end - start) as usize, 0);
        if file.read_exact_at(&mut chunk, start).is_err() {
            return;
        }
        chunk.extend_from_slice(&partial);
        // Unless this is the file's start (or the scan's), the first line goes on before it.
        let first_whole = match chunk.iter().position(|b| *b == b'\n') {
            Some(newline) if start > 0 => newline + 1,
            _ if start > 0 => chunk.len(),
            _ => 0,
        };
        for line in chunk[first_whole..].rsplit(|b| *b == b'\n') {
            if !visit(line) {
                return;
            }
        }
        partial.clear();
        if chunk[..first_whole].len() <= MAX_PROMPT_LINE {
            partial.extend_from_slice(&chunk[..first_whole]);
        }
        end = start;
    }
}

/// The text a person typed, when `line` is a user message that is not the project's
/// instructions.
fn typed_prompt(line: &[u8]) -> Option<String> {
    const USER: &[u8] = br#""role":"user""#;
    if line.len() > MAX_PROMPT_LINE || !line.windows(USER.len()).any(|at| at == USER) {
        return None;
    }
    let item = serde_json::from_slice::<crate::llm::types::Item>(line).ok()?;
    let text = (!item.is_instructions_message()).then(|| item.typed_text())?;
    (!text.trim().is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::types::Item;
    use std::io::Write;

    /// A session body of `prompts` prompts, each followed by a tool output of `output` bytes;
    /// the instructions message first.
    fn session_lines(prompts: usize, output: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut line = |item: &Item| {
            serde_json::to_writer(&mut bytes, item).unwrap();
            bytes.push(b'\n');
        };
        line(&Item::user_text(
            "# AGENTS.md instructions for /p\n\n<INSTRUCTIONS>\nbe kind\n</INSTRUCTIONS>",
        ));
        for n in 0..prompts {
            line(&Item::user_text(format!("prompt {n}")));
            line(&Item::FunctionCallOutput {
                call_id: format!("c{n}"),
                output: "x".repeat(output).into(),
            });
        }
        bytes
    }

    fn file_of(bytes: &[u8]) -> std::fs::File {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(bytes).unwrap();
        file
    }

    #[test]
    fn the_last_exchange_is_read_from_the_end_past_long_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let mut bytes = session_lines(1, 10);
        let mut line = |item: &Item| {
            serde_json::to_writer(&mut bytes, item).unwrap();
            bytes.push(b'\n');
        };
        line(&Item::assistant_text("one"));
        let turn = crate::session::Note::TurnStarted {
            id: "t2".into(),
            model: Some("gpt-5.4-mini".into()),
            account: None,
        };
        serde_json::to_writer(&mut bytes, &turn).unwrap();
        bytes.push(b'\n');
        let mut line = |item: &Item| {
            serde_json::to_writer(&mut bytes, item).unwrap();
            bytes.push(b'\n');
        };
        line(&Item::user_text("second"));
        line(&Item::FunctionCallOutput {
            call_id: "c".into(),
            output: "x".repeat(200 * 1024).into(),
        });
        line(&Item::assistant_text("two"));
        line(&Item::assistant_text("three"));
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(
            last_exchange(&path),
            Some(LastExchange {
                prompt: "second".into(),
                answer: Some("two".into()),
                model: Some("gpt-5.4-mini".into()),
            }),
            "the model its turn's note names"
        );
        // The instructions alone are no exchange; nor is a prompt past the bound read.
        std::fs::write(&path, session_lines(0, 10)).unwrap();
        assert_eq!(last_exchange(&path), None);
        std::fs::write(&path, session_lines(1, EXCHANGE_SCAN_BYTES as usize)).unwrap();
        assert_eq!(last_exchange(&path), None);
    }

    #[test]
    fn prompts_are_read_from_the_end_across_chunks_newest_first() {
        // Outputs of odd sizes put the chunk boundaries inside prompt lines and outputs alike.
        let file = file_of(&session_lines(300, 7_919));
        let all = prompts_from_the_end(&file, usize::MAX);
        let expected: Vec<String> = (0..300).rev().map(|n| format!("prompt {n}")).collect();
        assert_eq!(
            all, expected,
            "every prompt once, the instructions left out"
        );
        assert_eq!(
            prompts_from_the_end(&file, 3),
            ["prompt 299", "prompt 298", "prompt 297"]
        );
    }

    #[test]
    fn a_prompt_after_a_line_longer_than_a_chunk_is_found_and_the_long_line_passed_over() {
        let file = file_of(&session_lines(4, 3 * PROMPT_SCAN_CHUNK as usize));
        assert_eq!(
            prompts_from_the_end(&file, usize::MAX),
            ["prompt 3", "prompt 2", "prompt 1", "prompt 0"]
        );
    }

    #[test]
    fn only_the_end_of_a_huge_session_is_read() {
        // The prompts older than the scan's reach stay unread.
        let per_turn = 1024 * 1024;
        let turns = (PROMPT_SCAN_BYTES as usize / per_turn) + 8;
        let file = file_of(&session_lines(turns, per_turn));
        let found = prompts_from_the_end(&file, usize::MAX);
        assert!(
            found.len() < turns && found.len() >= turns - 9,
            "{}",
            found.len()
        );
        assert_eq!(found[0], format!("prompt {}", turns - 1));
    }
}
