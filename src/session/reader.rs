//! Reading a saved conversation back.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::{SessionError, SessionHeader};
use crate::llm::types::Item;

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
    /// Lines that could not be read (a torn last line after a crash, or damage) and were left
    /// out.
    pub skipped_lines: usize,
}

impl SessionLog {
    /// Reads the session file at `path`. Only an unreadable file or a missing header is an
    /// error; bad item lines are skipped and counted.
    pub fn load(path: &Path) -> Result<Self, SessionError> {
        let bytes = std::fs::read(path).map_err(SessionError::io("read", path))?;
        Self::parse(path, &bytes)
    }

    /// Reads a session file's bytes; `path` is where they came from, for messages.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Self, SessionError> {
        let mut lines = bytes
            .split(|b| *b == b'\n')
            .filter(|line| !line.trim_ascii().is_empty());
        let header = parse_header(path, lines.next().unwrap_or_default())?;
        let mut items = Vec::new();
        let mut skipped_lines = 0;
        for line in lines {
            match serde_json::from_slice::<Item>(line) {
                Ok(item) => items.push(item),
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "skipped a session line");
                    skipped_lines += 1;
                }
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            header,
            items,
            skipped_lines,
        })
    }
}

/// Reads only the header line of the file at `path`, and the open file (for its metadata).
pub(super) fn read_header(path: &Path) -> Result<(SessionHeader, File), SessionError> {
    let file = File::open(path).map_err(SessionError::io("open", path))?;
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
