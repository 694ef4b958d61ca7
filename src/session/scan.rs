//! The first pass over a saved conversation: each line's kind and place, rewinds applied, and
//! where each turn begins, without keeping any text. What [`super::SessionLog::load_recent`]
//! decides from, what a host paging a long thread reads by, and what `index.rs` keeps beside
//! the file so the next reader goes on from where this one stopped.

use std::io::BufRead;
use std::path::Path;

use super::{Note, SessionError};
use crate::llm::types::Item;

/// The most of a file's bytes since its last compaction a resumed conversation holds to send.
/// About half a file's bytes are the items sent, half kelp's notes of them (a command's output
/// is in both), so this holds about the text of the largest context window of the models kelp
/// offers (400,000 tokens, some 1.6 MB): a request of more would be refused. A conversation
/// grows past it only when compaction did not run.
pub const MAX_SENT_BYTES: u64 = 3 * 1024 * 1024;

/// Whether `path`'s bad lines are not yet logged by this process: a damaged file read on every
/// page of a listing would otherwise fill the log with the same warning.
pub(super) fn first_warning_for(path: &Path) -> bool {
    static WARNED: std::sync::Mutex<Option<std::collections::HashSet<std::path::PathBuf>>> =
        std::sync::Mutex::new(None);
    WARNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get_or_insert_with(Default::default)
        .insert(path.to_path_buf())
}

/// Where a line of a session file is.
#[derive(Debug, Clone, Copy)]
pub(super) struct Place {
    pub(super) offset: u64,
    pub(super) len: u32,
    /// An item that is the project's instructions message.
    pub(super) instructions: bool,
}

/// Where a turn begins in a session file.
#[derive(Debug)]
pub(super) struct TurnStart {
    /// How many items come before it.
    pub(super) items_before: usize,
    /// Its first line's offset.
    pub(super) offset: u64,
    /// Whether it began at a note (so a prompt after it steers it).
    pub(super) noted: bool,
    /// Its id: the one it ran with, or `turn-N` by its place.
    pub(super) id: String,
}

/// A session file's lines by kind and place, rewinds applied: what [`SessionLog::load_recent`]
/// decides from before it reads any text it keeps.
#[derive(Debug, Default)]
pub(super) struct Scan {
    pub(super) items: Vec<Place>,
    /// Each note with how many items came before it.
    pub(super) notes: Vec<(usize, Place)>,
    /// Which of `notes` are goal notes, by their index there.
    pub(super) goal_notes: Vec<usize>,
    /// Where each turn begins.
    pub(super) turns: Vec<TurnStart>,
    /// The items the last compaction left to send from.
    pub(super) sent_from: usize,
    pub(super) skipped_lines: usize,
    /// Where the lines read end.
    pub(super) end: u64,
    /// Whether the last line read had no end yet (a writer is writing it, or died writing it):
    /// a scan that stops there is not kept for a later one to go on from.
    pub(super) torn: bool,
    /// Where the turns stand at `end`, for a scan that goes on from there.
    pub(super) splitter: super::TurnSplitter,
    /// Each compaction so far: how many notes came before it, and the item it sends from.
    pub(super) compactions: Vec<(usize, usize)>,
}

impl Scan {
    /// A note that moves turns: a rewind (what it undid is forgotten), a turn's start, a
    /// compaction (what was sent after it).
    fn on_turn_note(&mut self, line: &[u8], place: Place) {
        let Ok(note) = serde_json::from_slice::<Note>(line) else {
            self.skipped_lines += 1;
            return;
        };
        match &note {
            Note::Rewound { items, notes } => {
                self.items.truncate(*items);
                self.notes.truncate(*notes);
                self.goal_notes.retain(|index| index < notes);
                self.turns.retain(|turn| turn.items_before < *items);
                self.compactions.retain(|(note, _)| note < notes);
                return;
            }
            Note::Compacted { sent_from, .. } => {
                self.compactions.push((self.notes.len(), *sent_from));
            }
            _ => {}
        }
        if let Some(id) = self.splitter.on_note(&note) {
            self.begin_turn(id, place.offset, true);
        }
        self.notes.push((self.items.len(), place));
    }

    /// A turn `id` begins at the line at `offset`, after the items read so far; `noted` if at
    /// its note.
    fn begin_turn(&mut self, id: String, offset: u64, noted: bool) {
        let items_before = self.items.len();
        self.turns.push(TurnStart {
            items_before,
            offset,
            noted,
            id,
        });
    }

    /// The first item kept: since the last compaction, and from the first of the newest turns
    /// that fit `shown_bytes` and `shown_turns` (the newest always); and where the items to
    /// send are cut, when those since the compaction are more than [`MAX_SENT_BYTES`] (from
    /// the first of the newest turns that fit it).
    pub(super) fn keep_from(&self, shown_bytes: u64, shown_turns: usize) -> (usize, Option<usize>) {
        let mut first_shown = self.items.len();
        let mut first_sendable = self.items.len();
        let mut showing = true;
        for (n, turn) in self.turns.iter().rev().enumerate() {
            let after = self.end - turn.offset;
            if n == 0 || after <= MAX_SENT_BYTES {
                first_sendable = turn.items_before;
            }
            showing &= n == 0 || (n < shown_turns && after <= shown_bytes);
            if showing {
                first_shown = turn.items_before;
            } else if after > MAX_SENT_BYTES {
                break;
            }
        }
        let sent_bytes = self
            .items
            .get(self.sent_from)
            .map_or(0, |item| self.end - item.offset);
        let sent_cut = (sent_bytes > MAX_SENT_BYTES && first_sendable > self.sent_from)
            .then_some(first_sendable);
        (
            first_shown.min(sent_cut.unwrap_or(self.sent_from)),
            sent_cut,
        )
    }
}

impl Scan {
    /// The first pass of [`SessionLog::load_recent`]: each line's kind and place from `start`
    /// (where `reader` stands) to the end, going on from where this scan stopped, parsing only
    /// what decides where turns begin (kelp's small notes, the person's messages), or every line
    /// when `strict`.
    pub(super) fn read_on(
        &mut self,
        reader: &mut impl BufRead,
        start: u64,
        path: &Path,
        strict: bool,
    ) -> Result<(), SessionError> {
        #[derive(serde::Deserialize)]
        struct Probe {
            #[serde(rename = "type")]
            kind: String,
            #[serde(default)]
            role: Option<String>,
        }
        let scan = self;
        let skipped_before = scan.skipped_lines;
        let mut offset = start;
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = reader
                .read_until(b'\n', &mut line)
                .map_err(SessionError::io("read", path))?;
            if read == 0 {
                break;
            }
            let place = Place {
                offset,
                len: u32::try_from(read).unwrap_or(u32::MAX),
                instructions: false,
            };
            offset += read as u64;
            scan.torn = !line.ends_with(b"\n");
            if line.trim_ascii().is_empty() {
                continue;
            }
            let by_head = if strict {
                None
            } else {
                kind_by_its_head(&line)
            };
            let probe = match by_head {
                Some(kind) => Probe {
                    kind: kind.to_string(),
                    role: None,
                },
                None => match serde_json::from_slice::<Probe>(&line) {
                    Ok(probe) => probe,
                    Err(_) => {
                        scan.skipped_lines += 1;
                        continue;
                    }
                },
            };
            match probe.kind.as_str() {
                "kelp_rewound" | "kelp_turn" | "kelp_compacted" => {
                    scan.on_turn_note(&line, place);
                }
                kind if kind.starts_with("kelp_") => {
                    if kind == "kelp_goal" {
                        scan.goal_notes.push(scan.notes.len());
                    }
                    scan.notes.push((scan.items.len(), place));
                }
                "message" if probe.role.as_deref() == Some("user") => {
                    let Ok(item) = serde_json::from_slice::<Item>(&line) else {
                        scan.skipped_lines += 1;
                        continue;
                    };
                    if let Some(id) = scan.splitter.on_item(&item) {
                        scan.begin_turn(id, place.offset, false);
                    }
                    scan.items.push(Place {
                        instructions: item.is_instructions_message(),
                        ..place
                    });
                }
                _ => scan.items.push(place),
            }
        }
        if scan.skipped_lines > skipped_before && first_warning_for(path) {
            tracing::warn!(file = %path.display(), lines = scan.skipped_lines, "skipped a session line (and any others of this file, from now on unlogged)");
        }
        scan.end = offset;
        scan.sent_from = scan
            .compactions
            .last()
            .map_or(0, |(_, sent_from)| *sent_from)
            .min(scan.items.len());
        Ok(())
    }
}

/// The kind of a line whose kind alone says where it goes (a tool's output, a call, reasoning,
/// the model's message, most of kelp's notes), read off its head as kelp writes every entry
/// (`{"type":"<kind>",…}`, the tag first) without reading the rest: these lines are nearly all
/// of a long file's bytes. `None` for a line that must be parsed (a person's message, a note
/// that moves turns or items) or is not so shaped. A line taken so and damaged after its head
/// is found when it is read, if it is kept ([`SessionLog::load_recent`] then reads the file
/// the strict way); one not kept counts as the item the writer counted when it wrote it.
pub(super) fn kind_by_its_head(line: &[u8]) -> Option<&str> {
    let rest = line.strip_prefix(br#"{"type":""#)?;
    let end = rest.iter().take(64).position(|b| *b == b'"')?;
    let kind = std::str::from_utf8(&rest[..end]).ok()?;
    let after = &rest[end + 1..];
    let shaped = line.trim_ascii_end().ends_with(b"}") && after.starts_with(b",");
    let decided = match kind {
        "kelp_rewound" | "kelp_turn" | "kelp_compacted" => false,
        "message" => after.starts_with(br#","role":"assistant""#),
        _ => kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
    };
    (shaped && decided).then_some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_by_the_head_are_those_kelp_writes_and_no_others() {
        let output = serde_json::to_string(&Item::FunctionCallOutput {
            call_id: "c".into(),
            output: "ok".into(),
        })
        .unwrap();
        assert_eq!(
            kind_by_its_head(output.as_bytes()),
            Some("function_call_output")
        );
        let answer = serde_json::to_string(&Item::assistant_text("hi")).unwrap();
        assert_eq!(kind_by_its_head(answer.as_bytes()), Some("message"));
        // What moves turns or items is parsed, and so is what is not shaped as kelp writes.
        let prompt = serde_json::to_string(&Item::user_text("hi")).unwrap();
        let turn = serde_json::to_string(&Note::turn("t")).unwrap();
        for line in [
            prompt.as_str(),
            turn.as_str(),
            r#"{"type":"message","content":[],"role":"assistant"}"#,
            r#"{"type":"reasoning","summary":[]"#,
            r#" {"type":"reasoning","summary":[]}"#,
            r#"{"type":"Reasoning","summary":[]}"#,
        ] {
            assert_eq!(kind_by_its_head(line.as_bytes()), None, "{line}");
        }
    }
}
