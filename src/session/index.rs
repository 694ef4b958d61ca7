//! A conversation's first pass kept beside it (`NAME.index` beside `NAME.jsonl`), so opening a
//! long one reads the index and the lines written since, not the whole file: where each line
//! is and what kind, where each turn begins, the compactions and goal notes, and where the
//! turns stood at the end it covers. The writer brings it up to date when a turn ends; a
//! reader that had to scan much keeps what it scanned. One that is lost, damaged, or of
//! another file (shorter than it says, or other bytes before its end) is scanned for again.
//!
//! The file is binary, little-endian: `KELPIDX1`, the header's length when it was written
//! (offsets move with a header rewritten by `/cd`), the end covered, the 32 bytes before that
//! end, then the scan's counts and lists, each list led by its length.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::SessionError;
use super::scan::{Place, Scan, TurnStart};
use crate::private_file;

const MAGIC: &[u8; 8] = b"KELPIDX1";

/// The bytes before the covered end that must match for the index to be this file's.
const TAIL: usize = 32;

/// A reader that scanned at least this much of a file keeps what it scanned.
pub(super) const KEEP_AFTER_BYTES: u64 = 1024 * 1024;

/// The largest conversation the writer scans whole at a turn's end when it has no index yet
/// (one written before indexes): a longer one waits for its next reader, off the turn.
const SCAN_AT_TURN_END_BYTES: u64 = 64 * 1024 * 1024;

/// Where the index of the conversation at `session` is kept.
pub fn index_path(session: &Path) -> PathBuf {
    session.with_extension("index")
}

/// The scan kept for the session file `file` (at `path`) whose lines begin at `body_start`,
/// when it is this file's; `None` otherwise, or when there is none.
pub(super) fn load(path: &Path, file: &File, body_start: u64) -> Option<Scan> {
    let (index, _) = private_file::open_regular(&index_path(path), u64::MAX).ok()?;
    let len = index.metadata().ok()?.len();
    // A few dozen bytes a line of at least a few: never near the file it indexes.
    let size = file.metadata().ok()?.len();
    if len > size.saturating_mul(2).saturating_add(4096) {
        return None;
    }
    // Read as it goes: the index of a 1 GiB conversation is a few MB, never held whole.
    let (kept_body_start, tail, scan) =
        decode_from(Bytes::new(BufReader::with_capacity(64 * 1024, index), len))?;
    let by = i64::try_from(body_start).ok()? - i64::try_from(kept_body_start).ok()?;
    let scan = shifted(scan, by)?;
    if scan.end > size || scan.end < body_start {
        return None;
    }
    let from = scan.end.saturating_sub(TAIL as u64).max(body_start);
    let mut before_end = vec![0; usize::try_from(scan.end - from).ok()?];
    file.read_exact_at(&mut before_end, from).ok()?;
    (before_end == tail).then_some(scan)
}

/// Keeps `scan` of the session file `file` (at `path`, its lines from `body_start`) beside
/// it. Best effort: a lost index costs the next reader a scan, nothing else.
pub(super) fn save(path: &Path, file: &File, body_start: u64, scan: &Scan) {
    if scan.torn {
        return;
    }
    let from = scan.end.saturating_sub(TAIL as u64).max(body_start);
    let mut tail = vec![0; usize::try_from(scan.end - from).unwrap_or(0)];
    if file.read_exact_at(&mut tail, from).is_err() {
        return;
    }
    if let Err(e) = write_beside(&index_path(path), |out| {
        write_index(out, body_start, &tail, scan)
    }) {
        tracing::debug!(error = %e, "the conversation's index was not kept");
    }
}

/// Writes the file at `path` with `write`, whole or not at all (a file of this process beside
/// it, renamed over it). Not synced to the disk: an index lost in a crash is scanned for again,
/// and a turn's end does not wait on the disk for it.
fn write_beside(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    // Each write its own file: two in one process (a turn's end, a reader) never share one.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let write_id = WRITES.fetch_add(1, Ordering::Relaxed);
    let temp = private_file::sibling(path, &format!(".{}-{write_id}.tmp", std::process::id()));
    let written = private_file::private_open_options()
        .custom_flags(libc::O_NOFOLLOW)
        .write(true)
        .create_new(true)
        .open(&temp)
        .and_then(|file| {
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, file);
            write(&mut out)?;
            out.flush()
        })
        .and_then(|()| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// Brings the index of the conversation at `path` up to date with what was written since it:
/// what the writer does when a turn ends. A conversation with no index yet and longer than
/// [`SCAN_AT_TURN_END_BYTES`] is left to its next reader.
pub fn bring_up_to_date(path: &Path) -> Result<(), SessionError> {
    let (file, meta) =
        private_file::open_regular(path, u64::MAX).map_err(SessionError::io("open", path))?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut line = Vec::new();
    reader
        .read_until(b'\n', &mut line)
        .map_err(SessionError::io("read", path))?;
    let body_start = line.len() as u64;
    let mut scan = match load(path, reader.get_ref(), body_start) {
        Some(scan) => scan,
        None if meta.len() > SCAN_AT_TURN_END_BYTES => return Ok(()),
        None => Scan {
            end: body_start,
            ..Scan::default()
        },
    };
    let from = scan.end;
    reader
        .seek(SeekFrom::Start(from))
        .map_err(SessionError::io("read", path))?;
    scan.read_on(&mut reader, from, path, false)?;
    if scan.end > from || !index_path(path).exists() {
        save(path, reader.get_ref(), body_start, &scan);
    }
    Ok(())
}

/// Whether `bytes` read as an index, and if so, the number of lines it places: what the fuzz
/// target and the property tests drive the reader of untrusted bytes with.
pub fn lines_placed(bytes: &[u8]) -> Option<usize> {
    decode(bytes).map(|(_, _, scan)| scan.items.len() + scan.notes.len())
}

/// `scan` with every offset moved by `by` bytes (a header rewritten longer or shorter);
/// `None` when one would fall outside the file.
fn shifted(mut scan: Scan, by: i64) -> Option<Scan> {
    if by == 0 {
        return Some(scan);
    }
    for place in &mut scan.items {
        place.offset = place.offset.checked_add_signed(by)?;
    }
    for (_, place) in &mut scan.notes {
        place.offset = place.offset.checked_add_signed(by)?;
    }
    for turn in &mut scan.turns {
        turn.offset = turn.offset.checked_add_signed(by)?;
    }
    scan.end = scan.end.checked_add_signed(by)?;
    Some(scan)
}

fn write_index(
    out: &mut impl std::io::Write,
    body_start: u64,
    tail: &[u8],
    scan: &Scan,
) -> std::io::Result<()> {
    let put = |out: &mut dyn std::io::Write, value: u64| out.write_all(&value.to_le_bytes());
    out.write_all(MAGIC)?;
    for value in [body_start, scan.end, tail.len() as u64] {
        put(out, value)?;
    }
    out.write_all(tail)?;
    let (turns_begun, open_turn) = scan.splitter.parts();
    put(out, scan.skipped_lines as u64)?;
    put(out, turns_begun as u64)?;
    out.write_all(&[match open_turn {
        None => 0,
        Some(false) => 1,
        Some(true) => 2,
    }])?;
    put(out, scan.compactions.len() as u64)?;
    for (note, sent_from) in &scan.compactions {
        put(out, *note as u64)?;
        put(out, *sent_from as u64)?;
    }
    let place = |out: &mut dyn std::io::Write, place: &Place| {
        out.write_all(&place.offset.to_le_bytes())?;
        out.write_all(&place.len.to_le_bytes())?;
        out.write_all(&[u8::from(place.instructions)])
    };
    put(out, scan.items.len() as u64)?;
    for item in &scan.items {
        place(out, item)?;
    }
    put(out, scan.notes.len() as u64)?;
    for (at, note) in &scan.notes {
        put(out, *at as u64)?;
        place(out, note)?;
    }
    put(out, scan.goal_notes.len() as u64)?;
    for note in &scan.goal_notes {
        put(out, *note as u64)?;
    }
    put(out, scan.turns.len() as u64)?;
    for turn in &scan.turns {
        // An id past 4 GiB cannot be kept: the index is not (a reader scans instead).
        let id_len = u32::try_from(turn.id.len()).map_err(std::io::Error::other)?;
        put(out, turn.items_before as u64)?;
        put(out, turn.offset)?;
        out.write_all(&[u8::from(turn.noted)])?;
        out.write_all(&id_len.to_le_bytes())?;
        out.write_all(turn.id.as_bytes())?;
    }
    Ok(())
}

/// The header's length, the bytes before the end, and the scan an index holds; `None` for
/// bytes that are not one whole index.
fn decode(bytes: &[u8]) -> Option<(u64, Vec<u8>, Scan)> {
    decode_from(Bytes::new(bytes, bytes.len() as u64))
}

/// [`decode`], reading as it goes.
fn decode_from(mut at: Bytes<impl Read>) -> Option<(u64, Vec<u8>, Scan)> {
    if at.take(8)? != MAGIC {
        return None;
    }
    let body_start = at.u64()?;
    let end = at.u64()?;
    let tail_len = at.count(1)?;
    let tail = at.take(tail_len)?;
    let skipped_lines = at.usize()?;
    let turns_begun = at.usize()?;
    let open_turn = match at.u8()? {
        0 => None,
        1 => Some(false),
        2 => Some(true),
        _ => return None,
    };
    let mut compactions = Vec::new();
    for _ in 0..at.count(16)? {
        compactions.push((at.usize()?, at.usize()?));
    }
    let mut items = Vec::new();
    for _ in 0..at.count(13)? {
        items.push(at.place()?);
    }
    let mut notes = Vec::new();
    for _ in 0..at.count(21)? {
        notes.push((at.usize()?, at.place()?));
    }
    let mut goal_notes = Vec::new();
    for _ in 0..at.count(8)? {
        goal_notes.push(at.usize()?);
    }
    let mut turns = Vec::new();
    for _ in 0..at.count(21)? {
        let items_before = at.usize()?;
        let offset = at.u64()?;
        let noted = at.u8()? != 0;
        let id_len = usize::try_from(u32::from_le_bytes(at.array()?)).ok()?;
        let id = String::from_utf8(at.take(id_len)?).ok()?;
        turns.push(TurnStart {
            items_before,
            offset,
            noted,
            id,
        });
    }
    let notes_count = notes.len();
    let in_order = goal_notes.iter().all(|note| *note < notes_count)
        && compactions.iter().all(|(note, _)| *note <= notes_count);
    if at.left != 0 || !in_order || !consistent(&items, &notes, &turns, end) {
        return None;
    }
    let sent_from = compactions
        .last()
        .map_or(0, |(_, sent_from)| *sent_from)
        .min(items.len());
    let scan = Scan {
        items,
        notes,
        goal_notes,
        turns,
        sent_from,
        skipped_lines,
        end,
        torn: false,
        splitter: super::TurnSplitter::from_parts((turns_begun, open_turn)),
        compactions,
    };
    Some((body_start, tail, scan))
}

/// Whether every line and turn lies before `end`, as a scan leaves them: what a reader of the
/// index trusts before seeking to them.
fn consistent(items: &[Place], notes: &[(usize, Place)], turns: &[TurnStart], end: u64) -> bool {
    let within = |place: &Place| place.offset.saturating_add(u64::from(place.len)) <= end;
    // In the file's order, as a scan finds them: readers search and subtract by it.
    items.iter().all(within)
        && notes
            .iter()
            .all(|(at, place)| *at <= items.len() && within(place))
        && turns
            .iter()
            .all(|turn| turn.items_before <= items.len() && turn.offset <= end)
        && items.iter().map(|place| place.offset).is_sorted()
        && notes.iter().map(|(_, place)| place.offset).is_sorted()
        && notes.iter().map(|(at, _)| *at).is_sorted()
        && turns.iter().map(|turn| turn.offset).is_sorted()
        && turns.iter().map(|turn| turn.items_before).is_sorted()
}

/// The unread bytes of an index, read as they are asked for.
struct Bytes<R> {
    from: R,
    /// How many are left: no list is longer than they could hold.
    left: u64,
}

impl<R: Read> Bytes<R> {
    fn new(from: R, len: u64) -> Self {
        Self { from, left: len }
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.left = self.left.checked_sub(N as u64)?;
        let mut bytes = [0; N];
        self.from.read_exact(&mut bytes).ok()?;
        Some(bytes)
    }

    fn take(&mut self, n: usize) -> Option<Vec<u8>> {
        self.left = self.left.checked_sub(n as u64)?;
        let mut bytes = vec![0; n];
        self.from.read_exact(&mut bytes).ok()?;
        Some(bytes)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.array()?))
    }

    fn usize(&mut self) -> Option<usize> {
        usize::try_from(self.u64()?).ok()
    }

    /// A list's length, when that many records of at least `each` bytes could follow.
    fn count(&mut self, each: u64) -> Option<usize> {
        let n = self.u64()?;
        (n.checked_mul(each)? <= self.left).then_some(usize::try_from(n).ok()?)
    }

    fn place(&mut self) -> Option<Place> {
        Some(Place {
            offset: self.u64()?,
            len: u32::from_le_bytes(self.array()?),
            instructions: self.u8()? != 0,
        })
    }
}

#[cfg(test)]
pub(super) mod fixture {
    use std::path::{Path, PathBuf};

    use crate::llm::types::Item;
    use crate::session::{Note, SessionHeader, SessionWriter};

    /// The instructions message a fixture conversation begins with.
    pub(in crate::session) fn instructions() -> Item {
        Item::user_text("# AGENTS.md instructions for /p\n\nbe brief")
    }

    /// A conversation of `turns` turns (a rewind at turn 50, a compaction at 39), written as
    /// the writer writes one, the index kept at each turn's end.
    pub(in crate::session) fn conversation(dir: &Path, turns: usize) -> (SessionWriter, PathBuf) {
        let mut writer = SessionWriter::create(dir, SessionHeader::new("/p", "gpt-5.5"));
        writer
            .append(&Item::user_text(
                "# AGENTS.md instructions for /p\n\nbe brief",
            ))
            .unwrap();
        let mut items = 1;
        for turn in 0..turns {
            add_turn(&mut writer, turn, &mut items);
        }
        let path = writer.path().unwrap().to_path_buf();
        (writer, path)
    }

    pub(in crate::session) fn add_turn(writer: &mut SessionWriter, turn: usize, items: &mut usize) {
        writer
            .append_note(&Note::turn(format!("t-{turn}")))
            .unwrap();
        writer
            .append(&Item::user_text(format!("prompt {turn}")))
            .unwrap();
        writer
            .append(&Item::assistant_text("answer ".repeat(200)))
            .unwrap();
        *items += 2;
        if turn == 39 {
            let compacted = Note::Compacted {
                summary: "so far".into(),
                sent_from: *items,
                automatic: true,
            };
            writer.append_note(&compacted).unwrap();
        }
        if turn == 50 {
            // Back to before this turn: its note and those of the turns before (a turn note
            // and a usage note each, and the compaction).
            let rewound = Note::Rewound {
                items: *items - 2,
                notes: turn * 2 + 1,
            };
            writer.append_note(&rewound).unwrap();
            writer.append_note(&Note::turn("again")).unwrap();
            writer.append(&Item::user_text("prompt 50, again")).unwrap();
            *items -= 1;
        }
        writer
            .append_note(&Note::Usage {
                usage: Default::default(),
                context_used: 0,
            })
            .unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::{add_turn, conversation};
    use super::*;
    use crate::llm::types::Item;
    use crate::session::{Note, SessionHeader, SessionLog};
    use proptest::prelude::*;

    /// What a recent load holds: where its items and notes start, they, and its preamble.
    type Recent = (usize, usize, Vec<Item>, Vec<(usize, Note)>, Vec<Item>);

    /// What a recent load holds, to compare loads made with and without the index.
    fn recent(path: &Path) -> Recent {
        let log = SessionLog::load_recent(path, 4_000, 3).unwrap();
        (
            log.items_base,
            log.notes_base,
            log.items,
            log.notes,
            log.preamble,
        )
    }

    fn without_index(path: &Path) -> Recent {
        let kept = std::fs::read(index_path(path)).ok();
        let _ = std::fs::remove_file(index_path(path));
        let log = SessionLog::load_recent(path, 4_000, 3).unwrap();
        if let Some(kept) = kept {
            std::fs::write(index_path(path), kept).unwrap();
        }
        (
            log.items_base,
            log.notes_base,
            log.items,
            log.notes,
            log.preamble,
        )
    }

    #[test]
    fn a_load_from_the_index_and_the_lines_after_it_is_a_load_of_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let (mut writer, path) = conversation(dir.path(), 60);
        assert!(index_path(&path).exists(), "kept at the turns' ends");
        let scanned = without_index(&path);
        assert_eq!(recent(&path), scanned);
        // Turns written after the index was kept (a reader meanwhile, a writer that died): the
        // index covers the start, the rest is scanned.
        let kept = std::fs::read(index_path(&path)).unwrap();
        let mut items = 0;
        for turn in 60..64 {
            add_turn(&mut writer, turn, &mut items);
        }
        std::fs::write(index_path(&path), &kept).unwrap();
        assert_eq!(recent(&path), without_index(&path));
        let turns = crate::session::SessionIndex::read(&path).unwrap().turns();
        assert_eq!(turns, 64, "the rewound turn counted once");
    }

    #[test]
    fn an_index_of_other_bytes_or_of_a_shorter_file_is_scanned_for_again() {
        let dir = tempfile::tempdir().unwrap();
        let (_writer, path) = conversation(dir.path(), 20);
        let whole = without_index(&path);
        let kept = std::fs::read(index_path(&path)).unwrap();
        // The same length, other bytes before the end the index covers.
        let mut text = std::fs::read(&path).unwrap();
        let at = text.len() - 10;
        text[at] = b'X';
        std::fs::write(&path, &text).unwrap();
        let file = File::open(&path).unwrap();
        let body_start = text.iter().position(|b| *b == b'\n').unwrap() as u64 + 1;
        assert!(load(&path, &file, body_start).is_none());
        // A shorter file.
        text.truncate(text.len() / 2);
        std::fs::write(&path, &text).unwrap();
        std::fs::write(index_path(&path), &kept).unwrap();
        let file = File::open(&path).unwrap();
        assert!(load(&path, &file, body_start).is_none());
        assert_ne!(recent(&path), whole, "read as it is now");
    }

    #[test]
    fn a_header_rewritten_longer_or_shorter_moves_the_places_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let (_writer, path) = conversation(dir.path(), 30);
        let before = without_index(&path);
        for project in ["/a/much/longer/project/folder/than/before", "/"] {
            let text = std::fs::read_to_string(&path).unwrap();
            let (header, body) = text.split_once('\n').unwrap();
            let mut header: SessionHeader = serde_json::from_str(header).unwrap();
            header.project_dir = project.into();
            let header = serde_json::to_string(&header).unwrap();
            std::fs::write(&path, format!("{header}\n{body}")).unwrap();
            let file = File::open(&path).unwrap();
            assert!(
                load(&path, &file, header.len() as u64 + 1).is_some(),
                "{project}"
            );
            assert_eq!(recent(&path), before, "{project}");
        }
    }

    proptest! {
        #[test]
        fn any_bytes_read_as_an_index_or_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = lines_placed(&bytes);
            let mut framed = MAGIC.to_vec();
            framed.extend_from_slice(&bytes);
            let _ = lines_placed(&framed);
        }

        #[test]
        fn a_kept_index_reads_back_as_it_was(
            lines in proptest::collection::vec((0u32..5000, any::<bool>()), 0..64),
            cut in any::<proptest::sample::Index>(),
        ) {
            let mut scan = Scan::default();
            let mut offset = 100;
            for (len, instructions) in &lines {
                scan.items.push(Place { offset, len: *len, instructions: *instructions });
                offset += u64::from(*len);
            }
            scan.end = offset;
            let mut bytes = Vec::new();
            write_index(&mut bytes, 100, b"tail", &scan).unwrap();
            let (body_start, tail, read) = decode(&bytes).unwrap();
            prop_assert_eq!(body_start, 100);
            prop_assert_eq!(tail, b"tail".to_vec());
            prop_assert_eq!(read.items.len(), lines.len());
            prop_assert_eq!(read.end, scan.end);
            // Any index cut short is refused, never half read.
            let at = cut.index(bytes.len());
            prop_assert!(decode(&bytes[..at]).is_none());
        }
    }
}
