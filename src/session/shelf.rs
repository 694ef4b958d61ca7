//! What a person (or their host) does to saved sessions besides continuing them: archive one
//! out of the lists and back, copy one into a new conversation (a fork), and give one a name.
//!
//! Archived sessions keep their path below `<state dir>/archived_sessions/`, so they are found
//! by id the same way. Names are lines appended to `<state dir>/session_names.jsonl` (the last
//! line for an id wins; an empty name clears it): one write call per name, no rewrite, so two
//! kelp processes naming sessions at once lose nothing.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{SessionError, SessionHeader, reader, sessions_dir};

use crate::private_file;
use crate::protocol::SessionSummary;

/// The most of the names file that is read: thousands of renames.
const MAX_NAMES_BYTES: u64 = 8 * 1024 * 1024;

/// The folder archived sessions live under.
pub fn archived_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("archived_sessions")
}

fn names_file(state_dir: &Path) -> PathBuf {
    state_dir.join("session_names.jsonl")
}

/// Moves the session at `path` (below `from`) to the same place below `to`; returns where it is
/// now. A session already there is never overwritten.
fn shelve(path: &Path, from: &Path, to: &Path) -> Result<PathBuf, SessionError> {
    let relative = path
        .strip_prefix(from)
        .map_err(|_| SessionError::io("move", path)(std::io::Error::other("not a session")))?;
    let target = to.join(relative);
    let dir = private_file::parent_dir(&target);
    private_file::create_private_dir(dir).map_err(SessionError::io("create", dir))?;
    if target.exists() {
        return Err(SessionError::io("move", &target)(std::io::Error::from(
            std::io::ErrorKind::AlreadyExists,
        )));
    }
    std::fs::rename(path, &target).map_err(SessionError::io("move", path))?;
    // What was said and its index go with it; a lost one is made again when needed.
    let _ = std::fs::rename(
        super::said::said_path(path),
        super::said::said_path(&target),
    );
    let _ = std::fs::rename(
        super::index::index_path(path),
        super::index::index_path(&target),
    );
    Ok(target)
}

/// Archives the saved session `session`: it leaves the lists and `--continue`, and stays
/// readable. Returns its new path.
pub fn archive(state_dir: &Path, session: &SessionSummary) -> Result<PathBuf, SessionError> {
    shelve(
        &session.path,
        &sessions_dir(state_dir),
        &archived_dir(state_dir),
    )
}

/// The session a person names under `root` (the saved or the archived ones): by its id or a
/// prefix of it, else by the name it was given (`kelp archive "parser fix"`), else by the
/// title the lists show for one without a name (its first prompt's first line). A name or
/// title two sessions share is ambiguous, as a short prefix is.
pub fn find_by_id_or_name(
    state_dir: &Path,
    root: &Path,
    wanted: &str,
) -> Result<SessionSummary, SessionError> {
    match super::list::find_under(root, wanted) {
        Err(SessionError::NoMatch(_)) => {}
        found => return found,
    }
    let wanted = wanted.trim();
    let ids: Vec<Uuid> = names(state_dir)
        .into_iter()
        .filter(|(_, name)| name == wanted)
        .map(|(id, _)| id)
        .collect();
    let mut found = ids
        .iter()
        .filter_map(|id| super::list::find_under(root, &id.to_string()).ok());
    match (found.next(), found.next()) {
        (Some(_), Some(_)) => Err(SessionError::Ambiguous {
            id: wanted.to_string(),
            count: ids.len(),
        }),
        (Some(mut one), None) => {
            one.name = Some(wanted.to_string());
            Ok(one)
        }
        (None, _) => by_title(root, wanted),
    }
}

/// The one session under `root` whose first prompt's first line is `wanted`, as the lists
/// show it.
fn by_title(root: &Path, wanted: &str) -> Result<SessionSummary, SessionError> {
    let shown = |summary: &SessionSummary| {
        let prompt = summary.first_prompt.as_deref().unwrap_or("");
        prompt.lines().next().unwrap_or("").trim() == wanted
    };
    let mut found = super::list::list_under(root, None).filter(|summary| shown(summary));
    match (found.next(), found.next()) {
        (Some(one), None) => Ok(one),
        (Some(_), Some(_)) => Err(SessionError::Ambiguous {
            id: wanted.to_string(),
            count: 2 + found.count(),
        }),
        (None, _) => Err(SessionError::NoMatch(wanted.to_string())),
    }
}

/// Deletes the session whose id is `id`, saved or archived: its file goes for good.
pub fn delete(state_dir: &Path, id: &str) -> Result<PathBuf, SessionError> {
    if uuid::Uuid::try_parse(id.trim()).is_err() {
        return Err(SessionError::NotAnId(id.to_string()));
    }
    let found = super::list::find_under(&sessions_dir(state_dir), id)
        .or_else(|_| super::list::find_under(&archived_dir(state_dir), id))?;
    std::fs::remove_file(&found.path).map_err(SessionError::io("delete", &found.path))?;
    let _ = std::fs::remove_file(super::said::said_path(&found.path));
    let _ = std::fs::remove_file(super::index::index_path(&found.path));
    Ok(found.path)
}

/// Brings the archived session whose id is `id`, whole, back among the saved ones.
pub fn unarchive(state_dir: &Path, id: &str) -> Result<SessionSummary, SessionError> {
    if uuid::Uuid::try_parse(id.trim()).is_err() {
        return Err(SessionError::NotAnId(id.to_string()));
    }
    let archived = super::list::find_under(&archived_dir(state_dir), id)?;
    let path = shelve(
        &archived.path,
        &archived_dir(state_dir),
        &sessions_dir(state_dir),
    )?;
    SessionSummary::read(&path)
}

/// Copies the session `source` into a new conversation with a new id, started now: the same
/// history (through the turn whose id is `through` only, when given), to go on differently.
/// Returns the new file.
pub fn fork(
    state_dir: &Path,
    source: &SessionSummary,
    through: Option<&str>,
) -> Result<PathBuf, SessionError> {
    copy(state_dir, source, through, false)
}

/// [`fork`] of the whole of `source` as a side conversation of it (`/side`): marked as its
/// child, so lists show it under `source` and `--continue` passes it over.
pub fn fork_beside(state_dir: &Path, source: &SessionSummary) -> Result<PathBuf, SessionError> {
    copy(state_dir, source, None, true)
}

fn copy(
    state_dir: &Path,
    source: &SessionSummary,
    through: Option<&str>,
    beside: bool,
) -> Result<PathBuf, SessionError> {
    let (old, mut file) = reader::read_header(&source.path)?;
    file.seek(SeekFrom::Start(0))
        .map_err(SessionError::io("read", &source.path))?;
    let mut rest = BufReader::new(file);
    // The header line is skipped: the new one replaces it.
    let mut header_line = Vec::new();
    rest.read_until(b'\n', &mut header_line)
        .map_err(SessionError::io("read", &source.path))?;
    let copied = match through {
        None => u64::MAX,
        Some(turn) => {
            let cut =
                end_of_turn(&mut rest, turn).map_err(SessionError::io("read", &source.path))?;
            rest.seek(SeekFrom::Start(header_line.len() as u64))
                .map_err(SessionError::io("read", &source.path))?;
            match cut {
                Ok(bytes) => bytes,
                Err(turns) => {
                    return Err(SessionError::NoSuchTurn {
                        turn: turn.to_string(),
                        turns,
                    });
                }
            }
        }
    };
    let mut rest = rest.take(copied);
    let header = SessionHeader {
        id: Uuid::new_v4(),
        started_at: Utc::now(),
        kelp_version: env!("CARGO_PKG_VERSION").to_string(),
        forked_from: Some(old.id),
        side_of: beside.then_some(old.id),
        ..old
    };
    let path = header.file_path(state_dir);
    let dir = private_file::parent_dir(&path);
    private_file::create_private_dir(dir).map_err(SessionError::io("create", dir))?;
    write_with_header(&path, &header, &mut rest)?;
    Ok(path)
}

/// Writes a new session file at `path` (never one that is there): `header`, then `rest`.
fn write_with_header(
    path: &Path,
    header: &SessionHeader,
    rest: &mut impl Read,
) -> Result<(), SessionError> {
    let mut file = private_file::private_open_options()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(SessionError::io("create", path))?;
    let mut line = serde_json::to_vec(header)
        .map_err(|e| SessionError::io("write", path)(std::io::Error::other(e.to_string())))?;
    line.push(b'\n');
    file.write_all(&line)
        .and_then(|()| std::io::copy(rest, &mut file).map(drop))
        .and_then(|()| file.sync_all())
        .map_err(SessionError::io("write", path))
}

/// The conversation saved at `path` goes on in `project_dir` (`/cd`): its header says so
/// from now on, to every list and every reopening. The file is written again beside itself
/// and renamed over itself while its writer's lock is held, so a reader finds the old file or
/// the new one, whole, and a writer waiting for the lock opens the new one.
pub fn move_to(path: &Path, project_dir: &Path) -> Result<(), SessionError> {
    let (old, mut file) = reader::read_header(path)?;
    match private_file::lock_within(&file, super::writer::WRITER_WAIT) {
        Ok(()) => {}
        Err(e) if e.is_busy() => return Err(SessionError::InUse(path.to_path_buf())),
        Err(e) => return Err(SessionError::io("lock", path)(e.source)),
    }
    // Renamed over while the lock was awaited (moved again): the file the path names is not
    // the one held, and is left to whoever did it.
    if !private_file::same_file(&file, path) {
        return Err(SessionError::InUse(path.to_path_buf()));
    }
    file.seek(SeekFrom::Start(0))
        .map_err(SessionError::io("read", path))?;
    let mut rest = BufReader::new(&file);
    let mut header_line = Vec::new();
    rest.read_until(b'\n', &mut header_line)
        .map_err(SessionError::io("read", path))?;
    let header = SessionHeader {
        project_dir: project_dir.to_path_buf(),
        ..old
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let moving = path.with_file_name(format!(".{name}.moving"));
    // A copy a crash left behind is stale: this one replaces it.
    let _ = std::fs::remove_file(&moving);
    let written = write_with_header(&moving, &header, &mut rest)
        .and_then(|()| std::fs::rename(&moving, path).map_err(SessionError::io("rename", path)));
    if written.is_err() {
        let _ = std::fs::remove_file(&moving);
    }
    written
}

/// How many bytes of `lines` (a session file after its header) hold the turns up to the one
/// whose id is `turn`, that one included: up to where the next begins, or all of them when none
/// does; `Err` with the number of turns when no turn has that id.
fn end_of_turn(lines: &mut impl BufRead, turn: &str) -> std::io::Result<Result<u64, usize>> {
    let mut splitter = super::TurnSplitter::default();
    let mut found = false;
    let mut offset = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = lines.read_until(b'\n', &mut line)?;
        if read == 0 {
            return Ok(if found {
                Ok(offset)
            } else {
                Err(splitter.turns())
            });
        }
        if let Ok(entry) = serde_json::from_slice::<super::Entry>(&line)
            && let Some(id) = splitter.next(&entry)
        {
            if found {
                return Ok(Ok(offset));
            }
            found = id == turn;
        }
        offset += read as u64;
    }
}

#[derive(Serialize, Deserialize)]
struct NameLine {
    id: Uuid,
    name: String,
}

/// `sessions`, each with the name it was given, if any.
pub fn named(
    state_dir: &Path,
    sessions: impl IntoIterator<Item = SessionSummary>,
) -> Vec<SessionSummary> {
    let names = names(state_dir);
    sessions
        .into_iter()
        .map(|mut session| {
            session.name = names.get(&session.id).cloned();
            session
        })
        .collect()
}

/// The longest name a session takes, in characters.
pub const MAX_NAME_CHARS: usize = 256;

/// Past this size the names file is rewritten with each session's last name only, so renames
/// never push it past what [`names`] reads.
const COMPACT_NAMES_AT: u64 = 1024 * 1024;

/// Names session `id` (an empty name clears it). A name over [`MAX_NAME_CHARS`] is refused:
/// what is written must be what the lists read back.
pub fn set_name(state_dir: &Path, id: Uuid, name: &str) -> Result<(), SessionError> {
    let path = names_file(state_dir);
    let name = name.trim();
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(SessionError::NameTooLong {
            chars: name.chars().count(),
        });
    }
    private_file::create_private_dir(state_dir).map_err(SessionError::io("create", state_dir))?;
    let _lock =
        private_file::lock_beside(&path).map_err(|e| SessionError::io("lock", &path)(e.source))?;
    let size = std::fs::metadata(&path).map_or(0, |meta| meta.len());
    if size >= COMPACT_NAMES_AT {
        let mut all = names(state_dir);
        match name {
            "" => all.remove(&id),
            name => all.insert(id, name.to_string()),
        };
        let mut text = Vec::new();
        for (id, name) in &all {
            text.extend(name_line(&path, *id, name)?);
        }
        return private_file::replace(&path, &text)
            .map_err(|e| SessionError::io("write", &path)(e.source));
    }
    let mut line = name_line(&path, id, name)?;
    let mut file = private_file::private_open_options()
        .read(true)
        .append(true)
        .create(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(&path)
        .map_err(SessionError::io("open", &path))?;
    // A FIFO or a device in its place would take the name and keep nothing.
    let meta = file.metadata().map_err(SessionError::io("open", &path))?;
    if !meta.is_file() {
        return Err(SessionError::io("open", &path)(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("it is {}, not a regular file", private_file::kind_of(&meta)),
        )));
    }
    // A line torn by a killed process is closed off, so it stays one skipped line.
    let mut last = [0u8; 1];
    let torn = file.seek(SeekFrom::End(-1)).is_ok()
        && file.read_exact(&mut last).is_ok()
        && last[0] != b'\n';
    if torn {
        line.insert(0, b'\n');
    }
    file.write_all(&line)
        .map_err(SessionError::io("write", &path))
}

/// One line of the names file.
fn name_line(path: &Path, id: Uuid, name: &str) -> Result<Vec<u8>, SessionError> {
    let mut line = serde_json::to_vec(&NameLine {
        id,
        name: name.to_string(),
    })
    .map_err(|e| SessionError::io("write", path)(std::io::Error::other(e.to_string())))?;
    line.push(b'\n');
    Ok(line)
}

/// Every session's name. A missing or unreadable file is no names (logged); a torn line is
/// skipped.
pub fn names(state_dir: &Path) -> HashMap<Uuid, String> {
    let path = names_file(state_dir);
    let file = match private_file::open_without_waiting(&path) {
        Ok((file, meta)) if meta.is_file() => file,
        Ok(_) => return HashMap::new(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return HashMap::new(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "the session names are unread");
            return HashMap::new();
        }
    };
    let mut names = HashMap::new();
    let lines = BufReader::new(File::take(file, MAX_NAMES_BYTES)).lines();
    for line in lines.map_while(Result::ok) {
        if let Ok(NameLine { id, name }) = serde_json::from_str(&line) {
            if name.is_empty() {
                names.remove(&id);
            } else {
                names.insert(id, name);
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::types::Item;
    use crate::session::{SessionLog, SessionWriter, find};

    fn saved(state: &Path, prompt: &str) -> SessionSummary {
        let mut writer = SessionWriter::create(state, SessionHeader::new("/p", "gpt-5.5"));
        writer.append(&Item::user_text(prompt)).unwrap();
        writer.append(&Item::assistant_text("done")).unwrap();
        find(state, &writer.id().to_string()).unwrap()
    }

    #[test]
    fn an_archived_session_leaves_the_list_and_comes_back() {
        let state = tempfile::tempdir().unwrap();
        let session = saved(state.path(), "fix it");
        let moved = archive(state.path(), &session).unwrap();
        assert!(moved.starts_with(archived_dir(state.path())));
        assert!(find(state.path(), &session.id.to_string()).is_err());
        let listed: Vec<_> = super::super::list::list_under(&archived_dir(state.path()), None)
            .map(|s| s.id)
            .collect();
        assert_eq!(listed, [session.id]);
        let back = unarchive(state.path(), &session.id.to_string()).unwrap();
        assert_eq!(back.path, session.path);
        assert!(unarchive(state.path(), &session.id.to_string()).is_err());
    }

    #[test]
    fn a_fork_has_a_new_id_and_the_same_history() {
        let state = tempfile::tempdir().unwrap();
        let session = saved(state.path(), "fix it");
        let path = fork(state.path(), &session, None).unwrap();
        let copy = SessionLog::load(&path).unwrap();
        let original = SessionLog::load(&session.path).unwrap();
        assert_ne!(copy.header.id, original.header.id);
        assert_eq!(copy.header.first_prompt.as_deref(), Some("fix it"));
        assert_eq!(copy.items, original.items);
        assert_eq!(copy.skipped_lines, 0);
    }

    #[test]
    fn a_moved_conversation_names_its_new_folder_and_keeps_every_line() {
        use std::os::unix::fs::PermissionsExt;
        let state = tempfile::tempdir().unwrap();
        let session = saved(state.path(), "fix it");
        let before = std::fs::read(&session.path).unwrap();
        move_to(&session.path, Path::new("/q")).unwrap();
        let after = std::fs::read(&session.path).unwrap();
        let rest = |bytes: &[u8]| bytes[bytes.iter().position(|b| *b == b'\n').unwrap()..].to_vec();
        assert_eq!(rest(&after), rest(&before));
        let moved = find(state.path(), &session.id.to_string()).unwrap();
        assert_eq!(moved.project_dir, Path::new("/q"));
        assert_eq!(moved.first_prompt.as_deref(), Some("fix it"));
        let mode = std::fs::metadata(&session.path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let leftovers = std::fs::read_dir(session.path.parent().unwrap())
            .unwrap()
            .count();
        assert_eq!(leftovers, 1, "only the session file is left in its folder");
        // Reopened, it goes on in the moved file.
        let mut writer = SessionWriter::reopen(&session.path).unwrap();
        writer.append(&Item::user_text("and more")).unwrap();
        drop(writer);
        let log = SessionLog::load(&session.path).unwrap();
        assert_eq!(log.header.project_dir, Path::new("/q"));
        assert_eq!(log.items.len(), 3);
    }

    #[test]
    fn a_conversation_held_by_a_writer_is_not_moved() {
        let state = tempfile::tempdir().unwrap();
        let session = saved(state.path(), "fix it");
        let _writer = SessionWriter::reopen(&session.path).unwrap();
        let refused = move_to(&session.path, Path::new("/q")).unwrap_err();
        assert!(matches!(refused, SessionError::InUse(_)), "{refused}");
        assert_eq!(
            find(state.path(), &session.id.to_string())
                .unwrap()
                .project_dir,
            Path::new("/p")
        );
    }

    #[test]
    fn a_fork_through_a_turn_keeps_the_turns_up_to_it() {
        let state = tempfile::tempdir().unwrap();
        let mut writer = SessionWriter::create(state.path(), SessionHeader::new("/p", "gpt-5.5"));
        // An old turn, numbered by its place, then two with ids.
        writer.append(&Item::user_text("zero")).unwrap();
        for (id, prompt, answer) in [("u-1", "one", "first"), ("u-2", "two", "second")] {
            writer.append_note(&super::super::Note::turn(id)).unwrap();
            writer.append(&Item::user_text(prompt)).unwrap();
            writer.append(&Item::assistant_text(answer)).unwrap();
        }
        let session = find(state.path(), &writer.id().to_string()).unwrap();
        let old = SessionLog::load(&fork(state.path(), &session, Some("turn-0")).unwrap()).unwrap();
        assert_eq!(old.items, [Item::user_text("zero")]);
        let first = SessionLog::load(&fork(state.path(), &session, Some("u-1")).unwrap()).unwrap();
        assert_eq!(
            first.items,
            [
                Item::user_text("zero"),
                Item::user_text("one"),
                Item::assistant_text("first")
            ]
        );
        let all = SessionLog::load(&fork(state.path(), &session, Some("u-2")).unwrap()).unwrap();
        assert_eq!(all.items.len(), 5);
        assert!(matches!(
            fork(state.path(), &session, Some("u-3")),
            Err(SessionError::NoSuchTurn { turns: 3, .. })
        ));
    }

    #[test]
    fn the_last_name_wins_and_an_empty_one_clears_it() {
        let state = tempfile::tempdir().unwrap();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        set_name(state.path(), a, "first").unwrap();
        set_name(state.path(), b, "other").unwrap();
        set_name(state.path(), a, " parser fix ").unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(names_file(state.path()))
            .unwrap()
            .write_all(b"{\"id\":\"torn")
            .unwrap();
        let names = names(state.path());
        assert_eq!(names[&a], "parser fix");
        assert_eq!(names[&b], "other");
        set_name(state.path(), b, "").unwrap();
        assert!(!super::names(state.path()).contains_key(&b));
    }

    #[test]
    fn a_fifo_in_place_of_the_names_file_is_named_not_written_into() {
        let state = tempfile::tempdir().unwrap();
        let path = names_file(state.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        rustix::fs::mkfifoat(rustix::fs::CWD, &path, rustix::fs::Mode::from(0o600)).unwrap();
        let error = set_name(state.path(), Uuid::new_v4(), "lost").unwrap_err();
        assert!(error.to_string().contains("a FIFO"), "{error}");
    }

    /// Renames never stop being read back: the file is compacted long before the reader's
    /// limit, and a name too long for a list is refused rather than written.
    #[test]
    fn renames_by_the_thousand_all_read_back_and_long_names_are_refused() {
        let state = tempfile::tempdir().unwrap();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        set_name(state.path(), b, "the other one").unwrap();
        let long = "n".repeat(MAX_NAME_CHARS - 8);
        for round in 0..30_000 {
            set_name(state.path(), a, &format!("{long}{round:08}")).unwrap();
        }
        let all = names(state.path());
        assert_eq!(all[&a], format!("{long}{:08}", 29_999));
        assert_eq!(all[&b], "the other one");
        let size = std::fs::metadata(names_file(state.path())).unwrap().len();
        assert!(size <= COMPACT_NAMES_AT + 1024, "{size} bytes");
        let refused = set_name(state.path(), a, &"x".repeat(MAX_NAME_CHARS + 1));
        assert!(matches!(
            refused,
            Err(SessionError::NameTooLong { chars: 257 })
        ));
        assert_eq!(names(state.path())[&a], format!("{long}{:08}", 29_999));
    }
}
