//! Reading a saved conversation back.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::{Entry, Note, SessionError, SessionHeader};
use crate::llm::types::{Item, TokenUsage};

/// The longest header line read; a header is a few hundred bytes.
const MAX_HEADER_BYTES: u64 = 64 * 1024;

/// A saved conversation: its header and its history, item for item.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionLog {
    /// The file it was read from.
    pub path: PathBuf,
    /// What the conversation is.
    pub header: SessionHeader,
    /// The history, in order: replay it as the next request's input.
    pub items: Vec<Item>,
    /// kelp's notes, each with how many items came before it.
    pub notes: Vec<(usize, Note)>,
    /// Lines that could not be read (a torn last line after a crash, or damage) and were left
    /// out.
    pub skipped_lines: usize,
}

/// Whether `path`'s bad lines are not yet logged by this process: a damaged file read on every
/// page of a listing would otherwise fill the log with the same warning.
fn first_warning_for(path: &Path) -> bool {
    static WARNED: std::sync::Mutex<Option<std::collections::HashSet<std::path::PathBuf>>> =
        std::sync::Mutex::new(None);
    WARNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get_or_insert_with(Default::default)
        .insert(path.to_path_buf())
}

/// The largest session file read whole.
pub const MAX_SESSION_BYTES: u64 = 1 << 30;

impl SessionLog {
    /// Reads the session file at `path`. Only an unreadable file or a missing header is an
    /// error; bad item lines are skipped and counted.
    pub fn load(path: &Path) -> Result<Self, SessionError> {
        let bytes = crate::private_file::read_regular(path, MAX_SESSION_BYTES)
            .map_err(SessionError::io("read", path))?;
        Self::parse(path, &bytes)
    }

    /// Reads a session file's bytes; `path` is where they came from, for messages.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Self, SessionError> {
        let mut lines = bytes
            .split(|b| *b == b'\n')
            .filter(|line| !line.trim_ascii().is_empty());
        let header = parse_header(path, lines.next().unwrap_or_default())?;
        let mut items = Vec::new();
        let mut notes = Vec::new();
        let mut skipped_lines = 0;
        for line in lines {
            match serde_json::from_slice::<Entry>(line) {
                Ok(Entry::Item(item)) => items.push(item),
                // A rewind drops what came after the place it went back to.
                Ok(Entry::Note(Note::Rewound {
                    items: kept_items,
                    notes: kept_notes,
                })) => {
                    items.truncate(kept_items);
                    notes.truncate(kept_notes);
                }
                Ok(Entry::Note(note)) => notes.push((items.len(), note)),
                Err(e) => {
                    if skipped_lines == 0 && first_warning_for(path) {
                        tracing::warn!(file = %path.display(), error = %e, "skipped a session line (and any others of this file, from now on unlogged)");
                    }
                    skipped_lines += 1;
                }
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            header,
            items,
            notes,
            skipped_lines,
        })
    }

    /// The token usage last recorded (zero for a conversation saved without one).
    pub fn usage(&self) -> TokenUsage {
        self.last_usage().0
    }

    /// The tokens the last request took when the conversation was last saved (0 if unknown).
    pub fn context_used(&self) -> u64 {
        self.last_usage().1
    }

    /// The last usage note's totals and context.
    fn last_usage(&self) -> (TokenUsage, u64) {
        self.notes
            .iter()
            .rev()
            .find_map(|(_, note)| match note {
                Note::Usage {
                    usage,
                    context_used,
                } => Some((*usage, *context_used)),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// The last compaction: its summary, and the index of the first item sent after it.
    pub fn compacted(&self) -> Option<(String, usize)> {
        self.notes.iter().rev().find_map(|(_, note)| match note {
            Note::Compacted {
                summary, sent_from, ..
            } => Some((summary.clone(), *sent_from)),
            _ => None,
        })
    }
}

/// Reads only the header line of the file at `path`, and the open file (for its metadata).
pub(super) fn read_header(path: &Path) -> Result<(SessionHeader, File), SessionError> {
    let (file, _) = crate::private_file::open_regular(path, MAX_SESSION_BYTES)
        .map_err(SessionError::io("open", path))?;
    let mut line = Vec::with_capacity(512);
    BufReader::with_capacity(1024, (&file).take(MAX_HEADER_BYTES))
        .read_until(b'\n', &mut line)
        .map_err(SessionError::io("read", path))?;
    Ok((parse_header(path, &line)?, file))
}

fn parse_header(path: &Path, line: &[u8]) -> Result<SessionHeader, SessionError> {
    serde_json::from_slice(line).map_err(|e| SessionError::NotASession {
        path: path.to_path_buf(),
        reason: format!("bad header: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::TurnEnd;

    #[test]
    fn notes_are_read_beside_the_items_they_follow() {
        let header = serde_json::to_string(&SessionHeader::new("/p", "m")).unwrap();
        let usage = TokenUsage {
            input_tokens: 3000,
            output_tokens: 300,
            total_tokens: 3300,
            ..TokenUsage::default()
        };
        let lines = [
            header,
            serde_json::to_string(&Item::user_text("go")).unwrap(),
            serde_json::to_string(&Item::assistant_text("half an ans")).unwrap(),
            serde_json::to_string(&Note::TurnEnded {
                how: TurnEnd::Interrupted,
                message: None,
            })
            .unwrap(),
            serde_json::to_string(&Note::Usage {
                usage,
                context_used: 0,
            })
            .unwrap(),
            r#"{"type":"kelp_from_the_future","x":1}"#.to_string(),
        ];
        let log = SessionLog::parse(Path::new("s.jsonl"), lines.join("\n").as_bytes()).unwrap();
        assert_eq!(log.items.len(), 2);
        assert_eq!(
            log.notes,
            [
                (
                    2,
                    Note::TurnEnded {
                        how: TurnEnd::Interrupted,
                        message: None
                    }
                ),
                (
                    2,
                    Note::Usage {
                        usage,
                        context_used: 0
                    }
                )
            ]
        );
        assert_eq!(log.usage(), usage);
        assert_eq!(log.skipped_lines, 1);
        assert!(
            lines[3].contains(r#""type":"kelp_turn_ended""#),
            "{}",
            lines[3]
        );
    }
}
