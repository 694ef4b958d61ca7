//! `read_file`: a line-numbered window of a text file, streamed so a huge file costs only the
//! window that is shown.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::Deserialize;
use thiserror::Error;

use super::opener::{self, AccessError, Opener};

/// The tool's name on the wire.
pub const NAME: &str = "read_file";
/// Lines returned when the model gives no `limit`.
pub const DEFAULT_LIMIT: usize = 2000;
/// Characters kept of one line; the rest is replaced by a marker.
pub const MAX_LINE_CHARS: usize = 2000;
/// Upper bound on the text returned by one call.
pub const MAX_OUTPUT_BYTES: usize = 256 * 1024;
/// How much of the file's start is checked for NUL bytes to call it binary.
const BINARY_SNIFF_BYTES: usize = 8 * 1024;
/// Bytes of one line held in memory: enough for `MAX_LINE_CHARS` of any UTF-8.
const MAX_LINE_BYTES: usize = MAX_LINE_CHARS * 4;

/// Arguments of a `read_file` call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReadFileArgs {
    /// File to read, relative to the project directory or absolute.
    pub path: String,
    /// First line to show, 1-based.
    #[serde(default)]
    pub offset: Option<usize>,
    /// How many lines to show.
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Why a file could not be shown.
#[derive(Debug, Error)]
pub enum ReadFileError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path as the model wrote it.
        path: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The path leads somewhere a tool may not read, or to something that is not a file.
    #[error("{0}")]
    Refused(String),
    /// The path is a directory.
    #[error("{path} is a directory; use list_dir to see its entries")]
    IsDirectory {
        /// The path as the model wrote it.
        path: String,
    },
    /// The file has NUL bytes near its start.
    #[error("{path} is a binary file ({size} bytes); read_file only shows text")]
    Binary {
        /// The path as the model wrote it.
        path: String,
        /// The file's size in bytes.
        size: u64,
    },
    /// `offset` was 0.
    #[error("offset must be at least 1: lines are numbered from 1")]
    ZeroOffset,
    /// `limit` was 0.
    #[error("limit must be at least 1")]
    ZeroLimit,
    /// `offset` lies beyond the last line.
    #[error("offset {offset} is past the end of {path}, which has {lines} lines")]
    PastEnd {
        /// The path as the model wrote it.
        path: String,
        /// The requested first line.
        offset: usize,
        /// How many lines the file has.
        lines: usize,
    },
}

/// Reads lines `offset..offset+limit` of `file` and formats them as `L<n>: <text>`.
///
/// The file is opened through `opener` (beneath the project, or at an approved real path),
/// without waiting: a FIFO, socket or device is refused in words, and so is a file with other
/// hard links unless that path was approved. `shown` is the path as the model wrote it, used in
/// messages.
pub fn read(
    opener: &Opener,
    file: &Path,
    shown: &str,
    offset: Option<usize>,
    limit: Option<usize>,
) -> Result<String, ReadFileError> {
    let (handle, meta) = opener.open(file).map_err(|e| match e {
        AccessError::Io { source, .. } => ReadFileError::Io {
            path: shown.to_string(),
            source,
        },
        refused => ReadFileError::Refused(refused.to_string()),
    })?;
    if meta.is_dir() {
        return Err(ReadFileError::IsDirectory {
            path: shown.to_string(),
        });
    }
    if !meta.is_file() {
        return Err(ReadFileError::Refused(format!(
            "{shown} is {}, not a regular file; read_file reads regular files only",
            opener::kind_of(&meta)
        )));
    }
    if meta.nlink() > 1 && !opener.is_approved(file) {
        return Err(ReadFileError::Refused(format!(
            "{shown} has other hard links, which may lie outside the project, and reading it was not approved"
        )));
    }
    read_open(handle, meta.len(), shown, offset, limit)
}

/// [`read`] from a file already opened (and checked) by the caller; `size` is its length.
pub fn read_open(
    mut handle: File,
    size: u64,
    shown: &str,
    offset: Option<usize>,
    limit: Option<usize>,
) -> Result<String, ReadFileError> {
    let (offset, limit) = window(offset, limit)?;
    let io_err = |source| ReadFileError::Io {
        path: shown.to_string(),
        source,
    };
    let mut head = Vec::with_capacity(BINARY_SNIFF_BYTES);
    (&mut handle)
        .take(BINARY_SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(io_err)?;
    if head.contains(&0) {
        return Err(ReadFileError::Binary {
            path: shown.to_string(),
            size,
        });
    }
    let mut reader = BufReader::new(Cursor::new(head).chain(handle));
    render(&mut reader, shown, offset, limit)
}

/// The same window of a text an editor holds (its unsaved changes included).
pub fn read_text(
    text: &str,
    shown: &str,
    offset: Option<usize>,
    limit: Option<usize>,
) -> Result<String, ReadFileError> {
    let (offset, limit) = window(offset, limit)?;
    render(&mut Cursor::new(text.as_bytes()), shown, offset, limit)
}

/// The 1-based first line and the line count, checked.
fn window(offset: Option<usize>, limit: Option<usize>) -> Result<(usize, usize), ReadFileError> {
    let offset = offset.unwrap_or(1);
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if offset == 0 {
        return Err(ReadFileError::ZeroOffset);
    }
    if limit == 0 {
        return Err(ReadFileError::ZeroLimit);
    }
    Ok((offset, limit))
}

/// Formats the requested window from an already opened reader.
fn render(
    reader: &mut impl BufRead,
    shown: &str,
    offset: usize,
    limit: usize,
) -> Result<String, ReadFileError> {
    let io_err = |source| ReadFileError::Io {
        path: shown.to_string(),
        source,
    };
    let mut line = Vec::new();
    let mut number = 0usize;
    // Skip to the window without keeping any bytes.
    while number + 1 < offset {
        if next_line(reader, 0, &mut line).map_err(io_err)?.is_none() {
            break;
        }
        number += 1;
    }

    let mut out = String::new();
    let mut last_shown = None;
    let mut stopped_by_cap = false;
    let mut taken = 0usize;
    // When the skip hit the end of the file early, there is no window to show.
    while number + 1 >= offset && taken < limit {
        let Some(total_len) = next_line(reader, MAX_LINE_BYTES, &mut line).map_err(io_err)? else {
            break;
        };
        number += 1;
        taken += 1;
        let entry = format!("L{number}: {}\n", line_text(&line, total_len));
        if out.len() + entry.len() > MAX_OUTPUT_BYTES {
            stopped_by_cap = true;
            number -= 1;
            break;
        }
        out.push_str(&entry);
        last_shown = Some(number);
    }

    let Some(last) = last_shown else {
        if stopped_by_cap {
            // Unreachable in practice: one capped line is far below the output cap.
            return Ok(String::new());
        }
        if number == 0 && offset == 1 {
            return Ok("(empty file)".to_string());
        }
        return Err(ReadFileError::PastEnd {
            path: shown.to_string(),
            offset,
            lines: number,
        });
    };
    if stopped_by_cap {
        out.push_str(&format!(
            "[output capped at {} KiB after line {last}; call read_file with offset={} to read on]\n",
            MAX_OUTPUT_BYTES / 1024,
            last + 1
        ));
    } else if !reader.fill_buf().map_err(io_err)?.is_empty() {
        out.push_str(&format!(
            "[the file goes on after line {last}; call read_file with offset={} to read on]\n",
            last + 1
        ));
    }
    Ok(out)
}

/// The text of one line, cut to `MAX_LINE_CHARS` with a marker saying so.
fn line_text(kept: &[u8], total_len: usize) -> String {
    let cut_while_reading = total_len > kept.len();
    let bytes = kept.strip_suffix(b"\r").unwrap_or(kept);
    let text = String::from_utf8_lossy(bytes);
    if !cut_while_reading && text.chars().count() <= MAX_LINE_CHARS {
        return text.into_owned();
    }
    let kept: String = text.chars().take(MAX_LINE_CHARS).collect();
    format!("{kept} [… line truncated: {total_len} bytes in all]")
}

/// Reads the next line into `buf`, keeping at most `keep` bytes of it (without the newline).
///
/// Returns the line's full length in bytes, or `None` at end of file. Bytes beyond `keep` are
/// skipped, never buffered, so a multi-gigabyte line costs no memory.
fn next_line(
    reader: &mut impl BufRead,
    keep: usize,
    buf: &mut Vec<u8>,
) -> io::Result<Option<usize>> {
    buf.clear();
    let mut total = 0usize;
    let mut saw_any = false;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(saw_any.then_some(total));
        }
        saw_any = true;
        let (part, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], Some(i + 1)),
            None => (chunk, None),
        };
        let room = keep.saturating_sub(buf.len());
        buf.extend_from_slice(&part[..part.len().min(room)]);
        total += part.len();
        let consumed = done.unwrap_or(part.len());
        reader.consume(consumed);
        if done.is_some() {
            return Ok(Some(total));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// [`super::read`] through an opener held on the file's folder.
    fn read(
        path: &Path,
        shown: &str,
        offset: Option<usize>,
        limit: Option<usize>,
    ) -> Result<String, ReadFileError> {
        let opener = Opener::new(path.parent().unwrap(), opener::Approved::Only(Vec::new()));
        super::read(&opener.unwrap(), path, shown, offset, limit)
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn numbers_lines_and_honours_range() {
        let dir = tempfile::tempdir().unwrap();
        let text: String = (1..=10).map(|i| format!("line {i}\n")).collect();
        let path = write(dir.path(), "a.txt", text.as_bytes());

        let all = read(&path, "a.txt", None, None).unwrap();
        assert!(all.starts_with("L1: line 1\nL2: line 2\n"));
        assert!(all.ends_with("L10: line 10\n"));

        let window = read(&path, "a.txt", Some(3), Some(2)).unwrap();
        assert_eq!(
            window,
            "L3: line 3\nL4: line 4\n[the file goes on after line 4; call read_file with offset=5 to read on]\n"
        );

        let tail = read(&path, "a.txt", Some(9), Some(100)).unwrap();
        assert_eq!(tail, "L9: line 9\nL10: line 10\n");
    }

    #[test]
    fn bad_ranges_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "a.txt", b"one\ntwo\n");
        let err = read(&path, "a.txt", Some(5), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "offset 5 is past the end of a.txt, which has 2 lines"
        );
        assert!(matches!(
            read(&path, "a.txt", Some(0), None),
            Err(ReadFileError::ZeroOffset)
        ));
        assert!(matches!(
            read(&path, "a.txt", None, Some(0)),
            Err(ReadFileError::ZeroLimit)
        ));
        let empty = write(dir.path(), "empty.txt", b"");
        assert_eq!(
            read(&empty, "empty.txt", None, None).unwrap(),
            "(empty file)"
        );
    }

    #[test]
    fn last_line_without_newline_and_crlf() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "w.txt", b"a\r\nb");
        assert_eq!(read(&path, "w.txt", None, None).unwrap(), "L1: a\nL2: b\n");
    }

    #[test]
    fn long_lines_are_truncated_with_a_marker() {
        let dir = tempfile::tempdir().unwrap();
        let long = "x".repeat(50_000);
        let path = write(
            dir.path(),
            "long.txt",
            format!("short\n{long}\nafter\n").as_bytes(),
        );
        let out = read(&path, "long.txt", None, None).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "L1: short");
        assert!(lines[1].starts_with(&format!("L2: {}", "x".repeat(MAX_LINE_CHARS))));
        assert!(lines[1].ends_with("[… line truncated: 50000 bytes in all]"));
        assert!(lines[1].len() < MAX_LINE_CHARS + 100);
        assert_eq!(lines[2], "L3: after");
    }

    #[test]
    fn multibyte_long_line_cut_on_char_boundary() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "u.txt", "é".repeat(3000).as_bytes());
        let out = read(&path, "u.txt", None, None).unwrap();
        assert!(out.starts_with(&format!("L1: {}", "é".repeat(MAX_LINE_CHARS))));
        assert!(out.contains("line truncated: 6000 bytes"));
        assert!(!out.contains('\u{FFFD}'));
    }

    #[test]
    fn huge_file_output_is_capped_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.txt");
        let mut file = std::io::BufWriter::new(File::create(&path).unwrap());
        let line = "y".repeat(199);
        for _ in 0..50_000 {
            writeln!(file, "{line}").unwrap();
        }
        file.flush().unwrap();
        drop(file);

        let out = read(&path, "huge.txt", None, Some(50_000)).unwrap();
        assert!(out.len() <= MAX_OUTPUT_BYTES + 200);
        let note = out.lines().last().unwrap();
        let shown = out.lines().filter(|l| l.starts_with('L')).count();
        assert_eq!(
            note,
            format!(
                "[output capped at 256 KiB after line {shown}; call read_file with offset={} to read on]",
                shown + 1
            )
        );
        // The window picks up exactly where the note says.
        let next = read(&path, "huge.txt", Some(shown + 1), Some(1)).unwrap();
        assert!(next.starts_with(&format!("L{}: y", shown + 1)));
        // Deep offsets work without reading the whole file into memory.
        let end = read(&path, "huge.txt", Some(50_000), None).unwrap();
        assert_eq!(end, format!("L50000: {line}\n"));
    }

    #[test]
    fn binary_files_get_a_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "blob.bin", b"\x7fELF\x00\x01\x02garbage");
        let err = read(&path, "blob.bin", None, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "blob.bin is a binary file (14 bytes); read_file only shows text"
        );
    }

    #[test]
    fn directories_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let err = read(dir.path(), "src", None, None).unwrap_err();
        assert!(err.to_string().contains("is a directory; use list_dir"));
        let err = read(&dir.path().join("nope"), "nope", None, None).unwrap_err();
        assert!(err.to_string().starts_with("cannot read nope:"));
    }
}
