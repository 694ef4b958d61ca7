//! The values the contract carries beside its `Op`s and `Event`s: an image, a mention's file,
//! an instruction file, a patch's change of a file, a review's target, the skills found, the
//! model's questions. Plain data; what reads or makes them lives in the agent.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ChangeKind;

/// An image the person (or their host or editor) adds to a prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageInput {
    /// An `https:` or `data:` URL, sent as it is.
    Url(String),
    /// A file on this machine, named by the host (any path: the person chose it).
    File(PathBuf),
    /// Base64 bytes with their MIME type, as an editor sends a pasted image.
    Data { mime_type: String, base64: String },
}

/// One instruction file that was found, for `/status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstructionFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// How many of its bytes were sent (fewer than `bytes` when the cap cut it).
    pub included: u64,
}

/// A file mentioned in a prompt, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The path as written (without the `@`).
    pub path: String,
    /// Whether its text went with the prompt.
    pub attached: bool,
    /// For a person: "52 lines", "the first 2000 lines", or why it was left out.
    pub detail: String,
}

/// Whose a skill is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    User,
    Repo,
}

/// One skill found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skill {
    pub name: String,
    pub description: String,
    /// Its `SKILL.md`.
    pub path: PathBuf,
    pub scope: Scope,
}

/// What was found: the skills, and the files that could not be read as one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// The skills the model is told of.
    pub skills: Vec<Skill>,
    /// The skills turned off in the config (`[[skills.config]] enabled = false`).
    pub off: Vec<Skill>,
    /// A `SKILL.md` that is not a skill, and why.
    pub errors: Vec<(PathBuf, String)>,
}

/// One question and its choices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub id: String,
    pub header: String,
    pub question: String,
    pub options: Vec<Choice>,
}

/// One choice of a question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub label: String,
    pub description: String,
}

/// The person's answers, by question id (each a list: Codex's shape).
pub type Answers = Vec<(String, Vec<String>)>;

/// What a review looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewTarget {
    /// The working tree: staged, unstaged and untracked files.
    Uncommitted,
    /// The current branch against `branch`.
    BaseBranch(String),
    /// One commit, with the title a host shows it by.
    Commit { sha: String, title: Option<String> },
    /// The person's own instructions.
    Custom(String),
}

/// One file's change, as previewed or applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// Add, delete or update.
    pub kind: ChangeKind,
    /// The file, absolute.
    pub path: PathBuf,
    /// Where an update moves the file, absolute.
    pub move_to: Option<PathBuf>,
    /// The unified diff of this change, with paths as shown to the user.
    pub diff: String,
    /// The whole text before the change: `None` for a new file, or one that is not UTF-8.
    pub old_text: Option<String>,
    /// The whole text after it: `None` for a deleted file.
    pub new_text: Option<String>,
}
