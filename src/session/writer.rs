//! Recording a conversation as it happens.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use uuid::Uuid;

use super::{Entry, FIRST_PROMPT_CHARS, Note, SessionError, SessionHeader, reader};
use crate::llm::types::{Item, Role};
use crate::private_file;

/// Appends a conversation's items to its session file, one whole line per item.
///
/// A new conversation's file is created on its first user prompt, so the header can carry that
/// prompt for listings and an abandoned, empty conversation leaves no file; items appended
/// before it (project instructions) are kept in memory until then. Writes are blocking but
/// small (one `write` per item); call from a task that may block briefly.
#[derive(Debug)]
pub struct SessionWriter {
    header: SessionHeader,
    state: State,
}

#[derive(Debug)]
enum State {
    /// No file yet; `waiting` entries wait for the first prompt.
    Pending {
        state_dir: PathBuf,
        waiting: Vec<Entry>,
    },
    /// The file exists and is open for appending.
    Open { path: PathBuf, file: File },
    /// An ephemeral conversation: nothing is ever written.
    Unsaved,
}

impl SessionWriter {
    /// A writer for a new conversation described by `header`; touches no file until the first
    /// user prompt is appended.
    pub fn create(state_dir: &Path, header: SessionHeader) -> Self {
        Self {
            header,
            state: State::Pending {
                state_dir: state_dir.to_path_buf(),
                waiting: Vec::new(),
            },
        }
    }

    /// A writer that keeps nothing: an ephemeral conversation (a host's title request, say)
    /// leaves no file, so it is never listed or resumed.
    pub fn unsaved(header: SessionHeader) -> Self {
        Self {
            header,
            state: State::Unsaved,
        }
    }

    /// Continues the session in the file at `path` (for resume): later items are appended to it.
    /// A torn last line left by a killed process is closed off first, so it stays one skipped
    /// line instead of corrupting the next item.
    pub fn reopen(path: &Path) -> Result<Self, SessionError> {
        let mut file = Self::open_locked(path)?;
        let header = reader::read_header(path)?.0;
        let len = file
            .seek(SeekFrom::End(0))
            .map_err(SessionError::io("read", path))?;
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::End(-1))
                .and_then(|_| file.read_exact(&mut last))
                .map_err(SessionError::io("read", path))?;
            if last[0] != b'\n' {
                file.write_all(b"\n")
                    .map_err(SessionError::io("write", path))?;
            }
        }
        Ok(Self {
            header,
            state: State::Open {
                path: path.to_path_buf(),
                file,
            },
        })
    }

    /// The file at `path` opened to append, its lock held. One writer a conversation: another
    /// process (or a core of this one not yet gone) that holds it keeps it, and this one says
    /// so instead of interleaving two. A file renamed over while the lock was awaited (a
    /// conversation moved to another folder) is opened again: what is written goes to the
    /// file the path names.
    fn open_locked(path: &Path) -> Result<File, SessionError> {
        // Renamed over again and again: someone else is at work on it.
        for _ in 0..8 {
            let file = private_file::private_open_options()
                .read(true)
                .append(true)
                .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
                .open(path)
                .map_err(SessionError::io("open", path))?;
            match private_file::lock_within(&file, WRITER_WAIT) {
                Ok(()) => {}
                Err(e) if e.is_busy() => return Err(SessionError::InUse(path.to_path_buf())),
                Err(e) => return Err(SessionError::io("lock", path)(e.source)),
            }
            if private_file::same_file(&file, path) {
                return Ok(file);
            }
        }
        Err(SessionError::InUse(path.to_path_buf()))
    }

    /// The session's header (its id is the conversation id).
    pub fn header(&self) -> &SessionHeader {
        &self.header
    }

    /// Marks the conversation as an agent of a team, under the id its team gave it, before
    /// its file is made.
    pub fn set_agent(&mut self, origin: crate::protocol::AgentOrigin, id: Uuid) {
        self.header.agent = Some(origin);
        self.header.id = id;
    }

    /// The model chosen before the file is made is the one its header names.
    pub fn set_model(&mut self, model: &str) {
        if let State::Pending { .. } = self.state {
            self.header.model = model.to_string();
        }
    }

    /// The conversation id.
    pub fn id(&self) -> Uuid {
        self.header.id
    }

    /// The session file, once it exists.
    pub fn path(&self) -> Option<&Path> {
        match &self.state {
            State::Open { path, .. } => Some(path),
            State::Pending { .. } | State::Unsaved => None,
        }
    }

    /// Records one completed history item: written as one line in one write call, so a crash
    /// loses at most the item in flight. The first user prompt creates the file.
    pub fn append(&mut self, item: &Item) -> Result<(), SessionError> {
        match &mut self.state {
            State::Open { path, file } => write_line(file, path, item),
            State::Pending { .. } => self.append_pending(Entry::Item(item.clone())),
            State::Unsaved => Ok(()),
        }
    }

    /// Records one of kelp's notes, the same way as an item.
    pub fn append_note(&mut self, note: &Note) -> Result<(), SessionError> {
        match &mut self.state {
            State::Open { path, file } => {
                write_line(file, path, note)?;
                // A turn ended: what it said is made searchable now, while its lines are warm.
                // A search bringing it up to date already is left to it: the turn never waits.
                if matches!(note, Note::Usage { .. }) {
                    if let Err(e) = super::said::bring_up_to_date_when(path, false) {
                        tracing::debug!(error = %e, "what the turn said is not searchable yet");
                    }
                    // And where its lines lie, so the next open reads no more than the tail.
                    if let Err(e) = super::index::bring_up_to_date(path) {
                        tracing::debug!(error = %e, "the conversation's index is behind");
                    }
                }
                Ok(())
            }
            State::Pending { .. } => self.append_pending(Entry::Note(note.clone())),
            State::Unsaved => Ok(()),
        }
    }

    fn append_pending(&mut self, entry: Entry) -> Result<(), SessionError> {
        match &mut self.state {
            State::Open { path, file } => write_line(file, path, &entry),
            State::Unsaved => Ok(()),
            State::Pending { state_dir, waiting } => {
                // Everything stays queued until the file exists: a failed creation leaves the
                // state pending and the next append rewrites the file whole, first prompt included.
                waiting.push(entry);
                // A goal set before any prompt names the conversation, and saves it.
                // An agent's title is its task, not the history it inherited.
                let agent = self.header.agent.is_some();
                let prompt = waiting.iter().find_map(|entry| match entry {
                    Entry::Item(item) if agent => first_task(item),
                    Entry::Item(item) => first_prompt(item),
                    Entry::Note(Note::Goal { goal: Some(goal) }) => title_of(&goal.objective),
                    Entry::Note(_) => None,
                });
                let Some(prompt) = prompt else {
                    return Ok(());
                };
                self.header.first_prompt = Some(prompt);
                let (path, mut file) = create_file(state_dir, &self.header)?;
                for queued in waiting.iter() {
                    write_line(&mut file, &path, queued)?;
                }
                self.state = State::Open { path, file };
                Ok(())
            }
        }
    }
}

/// How long a reopen waits for the conversation's writer to let go: a core of this process
/// that is closing lets go within it; another process's keeps it.
pub(super) const WRITER_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Creates the session file (folders 0700, file 0600) and writes its header.
fn create_file(state_dir: &Path, header: &SessionHeader) -> Result<(PathBuf, File), SessionError> {
    let path = header.file_path(state_dir);
    let dir = private_file::parent_dir(&path);
    private_file::create_private_dir(dir).map_err(SessionError::io("create", dir))?;
    let mut file = private_file::private_open_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .map_err(SessionError::io("create", &path))?;
    // New, so nobody else holds it: the lock only tells a later reopen that it is taken.
    let _ = file.try_lock();
    write_line(&mut file, &path, header)?;
    Ok((path, file))
}

/// The first line of `item`'s text if it is a prompt the person typed, cut for listings.
pub(super) fn first_prompt(item: &Item) -> Option<String> {
    match item {
        Item::Message {
            role: Role::User, ..
        } if !item.is_instructions_message() => {
            let text = item.typed_text();
            match task_title(&text) {
                Some(title) => title_of(&title),
                None => title_of(&text),
            }
        }
        _ => None,
    }
}

/// The title of an agent's conversation, from the item that gives it its task.
fn first_task(item: &Item) -> Option<String> {
    match item {
        Item::Message {
            role: Role::User, ..
        } => task_title(&item.typed_text()).and_then(|title| title_of(&title)),
        _ => None,
    }
}

/// An agent's task (Codex's `NEW_TASK` envelope) as a title: its task path and its first words.
fn task_title(text: &str) -> Option<String> {
    let rest = text.strip_prefix("Message Type: NEW_TASK\nTask name: ")?;
    let (path, rest) = rest.split_once('\n')?;
    let payload = rest
        .split_once("Payload:\n")
        .map_or("", |(_, payload)| payload);
    let first = payload
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())?;
    Some(format!("{path}: {first}"))
}

/// A conversation's title from its first prompt: the first line with text, cut for listings.
pub fn title_of(prompt: &str) -> Option<String> {
    let line = prompt.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(line.chars().take(FIRST_PROMPT_CHARS).collect())
}

fn write_line(
    file: &mut File,
    path: &Path,
    value: &impl serde::Serialize,
) -> Result<(), SessionError> {
    let mut line = serde_json::to_vec(value).map_err(|e| SessionError::NotASession {
        path: path.to_path_buf(),
        reason: format!("cannot encode an entry: {e}"),
    })?;
    line.push(b'\n');
    // One write of the whole line: with O_APPEND a crash leaves whole lines and at most one
    // torn last line. The file is unbuffered, so there is nothing to flush.
    file.write_all(&line)
        .map_err(SessionError::io("write", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_creation_keeps_the_first_prompt_for_the_next_try() {
        let state = tempfile::tempdir().unwrap();
        let blocker = super::super::sessions_dir(state.path());
        std::fs::create_dir_all(blocker.parent().unwrap()).unwrap();
        std::fs::write(&blocker, "a file where the folder should be").unwrap();
        let mut writer = SessionWriter::create(state.path(), SessionHeader::new("/p", "m"));

        assert!(writer.append(&Item::user_text("first prompt")).is_err());
        assert_eq!(writer.path(), None);
        std::fs::remove_file(&blocker).unwrap();
        writer.append(&Item::assistant_text("the answer")).unwrap();

        let text = std::fs::read_to_string(writer.path().unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[0].contains(r#""first_prompt":"first prompt""#),
            "{text}"
        );
        assert!(lines[1].contains("first prompt"), "{text}");
        assert!(lines[2].contains("the answer"), "{text}");
    }

    #[test]
    fn an_agents_task_is_titled_by_its_path_and_first_words() {
        let task = "Message Type: NEW_TASK\nTask name: /root/builder\nSender: /root\nPayload:\nLeave a note.\nrun: touch x";
        assert_eq!(
            first_prompt(&Item::user_text(task)).as_deref(),
            Some("/root/builder: Leave a note.")
        );
    }

    #[test]
    fn the_first_prompt_skips_instructions_and_blank_lines() {
        let instructions = Item::user_text("# AGENTS.md instructions for /p\n\n<INSTRUCTIONS>x");
        assert_eq!(first_prompt(&instructions), None);
        assert_eq!(first_prompt(&Item::assistant_text("hi")), None);
        assert_eq!(
            first_prompt(&Item::user_text("\n  fix the parser  \nplease")),
            Some("fix the parser".into())
        );
        let long = "é".repeat(500);
        assert_eq!(
            first_prompt(&Item::user_text(long))
                .unwrap()
                .chars()
                .count(),
            FIRST_PROMPT_CHARS
        );
    }
}
