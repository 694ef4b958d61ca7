//! What a session file records of a tool call beside the output the model read: the facts a
//! face showed while it ran (kind, arguments, exit code, duration, the paths it touched, a
//! patch's changes), so a reopened conversation is drawn from them, never from the text the
//! tool wrote for the model.

use std::path::PathBuf;

use crate::protocol::{CallFacts, ChangeKind};
use serde::{Deserialize, Serialize};

impl ChangeKind {
    /// The letter Codex prints for this kind: `A`, `D` or `M`.
    pub fn letter(self) -> char {
        match self {
            Self::Add => 'A',
            Self::Delete => 'D',
            Self::Update => 'M',
        }
    }
}

/// One file a patch changed, as saved: what the faces showed, and what undoing it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedChange {
    pub kind: ChangeKind,
    /// The file, absolute.
    pub path: PathBuf,
    /// Where an update moved the file, absolute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub move_to: Option<PathBuf>,
    /// The unified diff, with paths as shown to the person.
    pub diff: String,
    /// The whole text before the change, kept to undo it: absent for a new file, a file that
    /// was not UTF-8, or one larger than [`MAX_UNDO_BYTES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// The SHA-256 (hex) of the text the change left, to tell whether the file changed on disk
    /// since; absent for a deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_sha256: Option<String>,
}

/// The largest file text a session keeps to undo a change.
pub const MAX_UNDO_BYTES: usize = 1 << 20;

/// A tool call as it ran, saved after its output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    pub call_id: String,
    /// The tool's wire name.
    pub tool: String,
    /// What it worked on, without the tool's name (`src/main.rs`, `cargo test`).
    pub summary: String,
    /// The paths it read, wrote or ran in, absolute.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facts: Option<CallFacts>,
    pub success: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub duration_ms: u64,
    /// What the faces showed of it as it ran (a command's output, head and tail).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
    /// The files a patch changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<SavedChange>,
    /// A person (or the rules, with nobody to ask) refused it: it never ran.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub declined: bool,
}

/// The SHA-256 of `text`, in hex.
pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
