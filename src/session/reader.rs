//! Reading a saved conversation back.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek};
use std::path::{Path, PathBuf};

use super::scan::{Place, Scan, first_warning_for};
use super::{Entry, Note, SessionError, SessionHeader};
use crate::llm::types::Item;
use crate::protocol::TokenUsage;

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
    /// How many items of the whole history come before `items` (0 for a whole load): the
    /// notes count items from the start.
    pub items_base: usize,
    /// How many notes come before `notes`.
    pub notes_base: usize,
    /// Where the turns stand at `items_base`: how many began before it, and whether a prompt
    /// there would steer the last of them.
    pub turns_at_base: super::TurnSplitter,
    /// The instruction messages (AGENTS.md) among the items before `items_base`.
    pub preamble: Vec<Item>,
    /// Where the items to send start when those since the last compaction were more than
    /// [`super::MAX_SENT_BYTES`] and the older ones were left out: more than any model's context
    /// window takes, which no request could carry.
    pub sent_cut: Option<usize>,
    /// The last goal note, when it lies before `notes` (a goal set many turns ago).
    pub earlier_goal: Option<Note>,
}

/// The largest session file read whole (only [`SessionLog::load`] does).
pub const MAX_SESSION_BYTES: u64 = 1 << 30;

/// The size of the session files read a line or a page at a time, which hold only what they
/// keep: any. The writer appends whatever a conversation grows to, and a conversation the
/// readers refused would be out of the person's reach.
pub const READ_BY_PAGES: u64 = u64::MAX;

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
            items_base: 0,
            notes_base: 0,
            turns_at_base: super::TurnSplitter::default(),
            preamble: Vec::new(),
            sent_cut: None,
            earlier_goal: None,
        })
    }

    /// Reads the recent part of the session file at `path`: the items since the last
    /// compaction and those of the newest turns up to about `shown_bytes` (at most
    /// `shown_turns` turns), with the notes from there on. A first pass reads each line's
    /// place and kind without keeping its text, so the memory a load takes follows what is
    /// kept, not the file's size.
    pub fn load_recent(
        path: &Path,
        shown_bytes: u64,
        shown_turns: usize,
    ) -> Result<Self, SessionError> {
        // A kept line the quick scan took for an entry and is not one: the file is scanned
        // again parsing every line, and at the last read whole.
        for strict in [false, true] {
            if let Some(log) = Self::load_recent_by(path, shown_bytes, shown_turns, strict)? {
                return Ok(log);
            }
        }
        Self::load(path)
    }

    /// [`Self::load_recent`] after a scan that parses every line (`strict`) or reads most by
    /// their heads; `None` when a kept line is no entry.
    fn load_recent_by(
        path: &Path,
        shown_bytes: u64,
        shown_turns: usize,
        strict: bool,
    ) -> Result<Option<Self>, SessionError> {
        let (SessionIndex { header, scan, .. }, mut reader) = SessionIndex::scanned(path, strict)?;
        let (keep_from, sent_cut) = scan.keep_from(shown_bytes, shown_turns);
        // Turns begin in the order of the items before them.
        let turns_before = scan
            .turns
            .partition_point(|turn| turn.items_before < keep_from);
        let last_noted = turns_before > 0 && scan.turns[turns_before - 1].noted;
        let mut log = Self {
            path: path.to_path_buf(),
            header,
            items: Vec::new(),
            notes: Vec::new(),
            skipped_lines: scan.skipped_lines,
            items_base: keep_from,
            notes_base: scan.notes.iter().filter(|(at, _)| *at < keep_from).count(),
            // A file from before turns had ids names them by their place, counted from its start.
            turns_at_base: super::TurnSplitter::after(turns_before, last_noted),
            preamble: Vec::new(),
            sent_cut,
            earlier_goal: None,
        };
        // The kept lines in the file's order, read in one pass forward: items and notes
        // interleave in the file, and each is where its list puts it.
        let items = scan
            .items
            .iter()
            .enumerate()
            .filter(|(index, line)| *index >= keep_from || line.instructions)
            .map(|(index, line)| (line, Kept::Item(index)));
        let notes = scan
            .notes
            .iter()
            .filter(|(at, _)| *at >= keep_from)
            .map(|(at, line)| (line, Kept::Note(*at)));
        // A goal set before the turns kept is still the conversation's.
        let notes_base = log.notes_base;
        let earlier_goal = scan
            .goal_notes
            .last()
            .filter(|index| **index < notes_base)
            .map(|index| (&scan.notes[*index].1, Kept::EarlierGoal));
        let mut kept: Vec<(&Place, Kept)> = items.chain(notes).chain(earlier_goal).collect();
        kept.sort_by_key(|(line, _)| line.offset);
        // The first pass left the reader at the end.
        if read_kept(&mut reader, scan.end, &kept, &mut log)? > 0 {
            return Ok(None);
        }
        Ok(Some(log))
    }

    /// The token usage last recorded (zero for a conversation saved without one).
    pub fn usage(&self) -> TokenUsage {
        self.last_usage().0
    }

    /// The model the conversation last used: its last turn's, else the one it started with.
    pub fn last_model(&self) -> &str {
        self.notes
            .iter()
            .rev()
            .find_map(|(_, note)| match note {
                Note::TurnStarted {
                    model: Some(model), ..
                } => Some(model.as_str()),
                _ => None,
            })
            .unwrap_or(&self.header.model)
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

    /// The conversation's goal as last saved (`None`: none, or cleared).
    pub fn goal(&self) -> Option<crate::protocol::Goal> {
        self.notes
            .iter()
            .rev()
            .map(|(_, note)| note)
            .chain(&self.earlier_goal)
            .find_map(|note| match note {
                Note::Goal { goal } => Some(goal.clone()),
                _ => None,
            })
            .flatten()
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

/// Reads the `kept` lines (in the file's order) into `log` from `reader`, which stands at
/// `at_offset`: an item before `log.items_base` into its preamble. Returns how many of them
/// were no entry after all, which are left out.
fn read_kept(
    reader: &mut BufReader<File>,
    mut at_offset: u64,
    kept: &[(&Place, Kept)],
    log: &mut SessionLog,
) -> Result<usize, SessionError> {
    let path = log.path.clone();
    let mut bytes = Vec::new();
    let mut bad = 0;
    for (line, what) in kept {
        let to = |offset: u64| i64::try_from(offset).unwrap_or(i64::MAX);
        reader
            .seek_relative(to(line.offset) - to(at_offset))
            .map_err(SessionError::io("read", &path))?;
        bytes.resize(line.len as usize, 0);
        reader
            .read_exact(&mut bytes)
            .map_err(SessionError::io("read", &path))?;
        at_offset = line.offset + u64::from(line.len);
        match what {
            Kept::Item(index) => match serde_json::from_slice::<Item>(&bytes) {
                Ok(item) if *index < log.items_base => log.preamble.push(item),
                Ok(item) => log.items.push(item),
                Err(_) => bad += 1,
            },
            Kept::Note(at) => match serde_json::from_slice::<Note>(&bytes) {
                Ok(note) => log.notes.push((*at, note)),
                Err(_) => bad += 1,
            },
            Kept::EarlierGoal => match serde_json::from_slice::<Note>(&bytes) {
                Ok(note) => log.earlier_goal = Some(note),
                Err(_) => bad += 1,
            },
        }
    }
    Ok(bad)
}

/// A session file's turns, where each begins and where its lines lie, without their text:
/// what a host paging a long thread needs to read only the page's lines. Its size follows the
/// file's lines, not its bytes (some 24 bytes a line).
#[derive(Debug)]
pub struct SessionIndex {
    path: PathBuf,
    header: SessionHeader,
    scan: Scan,
    /// Where the lines after the header begin.
    body_start: u64,
}

impl SessionIndex {
    /// Reads the file at `path` once through, keeping each line's place and kind.
    pub fn read(path: &Path) -> Result<Self, SessionError> {
        Self::scanned(path, false).map(|(index, _)| index)
    }

    /// [`Self::read`], parsing every line when `strict`, and the reader it read with, left at
    /// the file's end.
    fn scanned(path: &Path, strict: bool) -> Result<(Self, BufReader<File>), SessionError> {
        let (file, _) = crate::private_file::open_regular(path, READ_BY_PAGES)
            .map_err(SessionError::io("open", path))?;
        let mut reader = BufReader::with_capacity(64 * 1024, file);
        let mut line = Vec::new();
        reader
            .read_until(b'\n', &mut line)
            .map_err(SessionError::io("read", path))?;
        let header = parse_header(path, &line)?;
        let body_start = line.len() as u64;
        // The scan kept beside the file, gone on from where it stopped; a strict scan (a kept
        // line the quick one misread) reads every line again.
        let kept = (!strict)
            .then(|| super::index::load(path, reader.get_ref(), body_start))
            .flatten();
        let (mut scan, from) = match kept {
            Some(scan) => {
                let end = scan.end;
                reader
                    .seek(std::io::SeekFrom::Start(end))
                    .map_err(SessionError::io("read", path))?;
                (scan, end)
            }
            None => (Scan::default(), body_start),
        };
        scan.read_on(&mut reader, from, path, strict)?;
        if !strict && scan.end - from >= super::index::KEEP_AFTER_BYTES {
            super::index::save(path, reader.get_ref(), body_start, &scan);
        }
        let index = Self {
            path: path.to_path_buf(),
            header,
            scan,
            body_start,
        };
        Ok((index, reader))
    }

    /// The turn the line ending `at` bytes after the header belongs to (a said file's offset).
    pub fn turn_ending_at(&self, at: u64) -> Option<usize> {
        let offset = self.body_start + at.checked_sub(1)?;
        self.scan
            .turns
            .partition_point(|turn| turn.offset <= offset)
            .checked_sub(1)
    }

    /// How many turns the conversation has (rewinds applied).
    pub fn turns(&self) -> usize {
        self.scan.turns.len()
    }

    /// Where the turn `id` stands among the turns.
    pub fn position_of(&self, id: &str) -> Option<usize> {
        self.scan.turns.iter().position(|turn| turn.id == id)
    }

    /// `range` of the turns cut into runs of turns of about `bytes` of the file each (a longer
    /// turn is a run of its own), in order: what a read through many turns holds at a time.
    pub fn runs(&self, range: std::ops::Range<usize>, bytes: u64) -> Vec<std::ops::Range<usize>> {
        let turns = &self.scan.turns;
        let end = range.end.min(turns.len());
        let offset_of = |turn: usize| turns.get(turn).map_or(self.scan.end, |turn| turn.offset);
        let mut runs = Vec::new();
        let mut start = range.start.min(end);
        while start < end {
            let mut next = start + 1;
            while next < end && offset_of(next + 1) - offset_of(start) <= bytes {
                next += 1;
            }
            runs.push(start..next);
            start = next;
        }
        runs
    }

    /// The turns in `range` (clamped to those there are), read from the file: their items and
    /// notes, placed as in the whole history, for the replay to start from.
    pub fn load_turns(&self, range: std::ops::Range<usize>) -> Result<SessionLog, SessionError> {
        let turns = &self.scan.turns;
        let first = range.start.min(turns.len());
        let last = range.end.clamp(first, turns.len());
        let offset_of = |turn: usize| turns.get(turn).map_or(self.scan.end, |turn| turn.offset);
        let (start, end) = (offset_of(first), offset_of(last));
        let within = |place: &Place| place.offset >= start && place.offset < end;
        let items_base = self
            .scan
            .items
            .partition_point(|place| place.offset < start);
        let mut log = SessionLog {
            path: self.path.clone(),
            header: self.header.clone(),
            items: Vec::new(),
            notes: Vec::new(),
            skipped_lines: self.scan.skipped_lines,
            items_base,
            notes_base: self
                .scan
                .notes
                .partition_point(|(_, place)| place.offset < start),
            turns_at_base: super::TurnSplitter::after(first, first > 0 && turns[first - 1].noted),
            preamble: Vec::new(),
            sent_cut: None,
            earlier_goal: None,
        };
        let items = (self.scan.items.iter().enumerate())
            .skip(items_base)
            .take_while(|(_, place)| place.offset < end)
            .map(|(index, place)| (place, Kept::Item(index)));
        let notes = (self.scan.notes.iter())
            .filter(|(_, place)| within(place))
            .map(|(at, place)| (place, Kept::Note(*at)));
        let mut kept: Vec<(&Place, Kept)> = items.chain(notes).collect();
        kept.sort_by_key(|(line, _)| line.offset);
        let (file, _) = crate::private_file::open_regular(&self.path, READ_BY_PAGES)
            .map_err(SessionError::io("open", &self.path))?;
        let mut reader = BufReader::with_capacity(64 * 1024, file);
        log.skipped_lines += read_kept(&mut reader, 0, &kept, &mut log)?;
        Ok(log)
    }
}

/// A line [`SessionLog::load_recent`] keeps: the item at this index, or a note after this
/// many items.
enum Kept {
    Item(usize),
    Note(usize),
    /// The last goal note, from before the notes kept.
    EarlierGoal,
}

/// Reads only the header line of the file at `path`, and the open file (for its metadata).
pub(super) fn read_header(path: &Path) -> Result<(SessionHeader, File), SessionError> {
    let (file, _) = crate::private_file::open_regular(path, READ_BY_PAGES)
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
    use crate::protocol::TurnEnd;

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

    #[test]
    fn a_kept_line_damaged_after_its_head_is_left_out_as_a_whole_load_leaves_it() {
        let state = tempfile::tempdir().unwrap();
        let path = state.path().join("s.jsonl");
        let lines = [
            serde_json::to_string(&SessionHeader::new("/p", "m")).unwrap(),
            serde_json::to_string(&Note::turn("t-0")).unwrap(),
            serde_json::to_string(&Item::user_text("go")).unwrap(),
            r#"{"type":"function_call_output","call_id":"c","output":"cut short}"#.to_string(),
            serde_json::to_string(&Item::assistant_text("done")).unwrap(),
        ];
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let whole = SessionLog::load(&path).unwrap();
        assert_eq!(whole.skipped_lines, 1);
        let recent = SessionLog::load_recent(&path, u64::MAX, 100).unwrap();
        assert_eq!(recent.items, whole.items);
        assert_eq!(recent.notes, whole.notes);
        assert_eq!(recent.skipped_lines, 1);
    }

    #[test]
    fn a_recent_load_is_the_tail_of_a_whole_one() {
        let state = tempfile::tempdir().unwrap();
        let instructions = super::super::index::fixture::instructions();
        let (writer, path) = super::super::index::fixture::conversation(state.path(), 60);
        drop(writer);
        let whole = SessionLog::load(&path).unwrap();
        // A budget of a few turns: fewer than the compaction keeps.
        let recent = SessionLog::load_recent(&path, 4_000, 3).unwrap();
        assert!(recent.items_base > 0 && recent.items_base < whole.items.len());
        assert_eq!(recent.items, whole.items[recent.items_base..]);
        assert_eq!(
            recent.notes,
            whole.notes[recent.notes_base..],
            "the notes, counted from the start"
        );
        assert_eq!(recent.preamble, [instructions]);
        assert_eq!(recent.compacted(), whole.compacted());
        // A budget for every turn: everything after the instructions, which come apart.
        let roomy = SessionLog::load_recent(&path, u64::MAX, 1000).unwrap();
        assert_eq!(roomy.items_base, 1);
        assert_eq!(roomy.items, whole.items[1..]);
        assert_eq!(roomy.preamble, whole.items[..1]);
    }
}
