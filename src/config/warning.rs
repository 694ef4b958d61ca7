//! What kelp could not use in its config file, and where: the warning every reader of the
//! file gives, and the helpers the readers share (a `~/` path, a byte offset as line and
//! column). Below `file.rs` and `mcp.rs`, which both use it.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// Something in the config file kelp could not use; shown to the person, never fatal.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ConfigWarning {
    #[error("{path}:{line}:{column}: {message}; the file is ignored")]
    Malformed {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: unknown key `{key}` is ignored")]
    UnknownKey { path: PathBuf, key: String },
    #[error("{path}: `{key}` {reason}; it is ignored")]
    BadValue {
        path: PathBuf,
        key: String,
        reason: String,
    },
    /// An entry of a table (an MCP server) that cannot be used, where it is.
    #[error("{path}:{line}:{column}: {message}")]
    BadEntry {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("cannot read {path}: {reason}; the file is ignored")]
    Unreadable { path: PathBuf, reason: String },
}

/// `path` with a leading `~/` made `home`; a path that is neither that nor absolute is `None`.
pub(super) fn expand_home(path: &str, home: Option<&Path>) -> Option<PathBuf> {
    match path.strip_prefix("~/") {
        Some(rest) => home.map(|home| home.join(rest)),
        None => Some(PathBuf::from(path)).filter(|p| p.is_absolute()),
    }
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
pub(super) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}
