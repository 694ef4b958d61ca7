//! Saved conversations, so a closed terminal or a dropped SSH connection loses nothing.
//!
//! Each conversation is one append-only JSON Lines file under `<state dir>/sessions/YYYY/MM/DD/`,
//! named `<start time>-<id>.jsonl` so that newest-first is the reverse order of the names and a
//! session is found by id without opening a file. The first line is a [`SessionHeader`]; every
//! other line is one history [`Item`](crate::llm::types::Item), written whole in one write call
//! as soon as it is complete. A killed process loses at most the item in flight, and a torn or
//! malformed line is skipped (and counted) on load, never fatal. Folders are 0700 and files 0600:
//! prompts can be private.
//!
//! The pieces a front end uses: [`SessionWriter`] records a conversation (new or resumed),
//! [`SessionLog::load`] reads one back, [`list_sessions`], [`latest_for`] and [`find`] pick one;
//! `shelf.rs` archives, forks and names them; `record.rs` is what a tool call saves beside its
//! output, `turns.rs` where saved turns begin, `goal.rs` a conversation's goal (its statuses,
//! changes and spending).
//!
//! Its other files:
//! - `list.rs`: finding saved conversations.
//! - `reader.rs`: reading a saved conversation back; `scan.rs`: its first pass, each line's
//!   kind and place and where its turns begin; `index.rs`: that pass kept beside the file
//!   (`NAME.index`), so the next reader goes on from where it stopped.
//! - `said.rs`: what was said in each conversation, kept beside it for searching them all.
//! - `writer.rs`: recording a conversation as it happens.

pub mod goal;
pub mod index;
mod list;
mod reader;
pub mod record;
pub mod said;
mod scan;
pub mod shelf;
mod turns;
mod writer;

use std::io;
use std::path::{Path, PathBuf};

use crate::protocol::TurnEnd;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

pub use list::{
    Sessions, find, find_under, find_whole, last_exchange, latest_for, list_sessions, list_under,
    recent_prompts, under_parents,
};
pub use reader::{SessionIndex, SessionLog};
pub use scan::MAX_SENT_BYTES;
pub use turns::TurnSplitter;
pub use writer::{SessionWriter, title_of};

/// The version of the file layout, written in every header.
pub const FORMAT_VERSION: u32 = 1;

/// How many characters of the first prompt the header keeps (for listings).
pub const FIRST_PROMPT_CHARS: usize = 200;

/// The folder all sessions live under.
pub fn sessions_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("sessions")
}

/// A line of a session file after the header: a history item, or a note kelp keeps beside the
/// history (never sent to the model). Items come first so a line is read as an item when it
/// can be; older kelp versions skip notes as lines they cannot read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Entry {
    Item(crate::llm::types::Item),
    Note(Note),
}

/// What kelp records about a conversation besides its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Note {
    /// A turn ended before the model finished; any answer just before is partial.
    #[serde(rename = "kelp_turn_ended")]
    TurnEnded {
        how: TurnEnd,
        /// The one-line reason shown when it ended (none for an interruption).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// The conversation was compacted: requests from here on carry `summary` and the items
    /// from `sent_from` (an index into the items) on, instead of the items before.
    #[serde(rename = "kelp_compacted")]
    Compacted {
        summary: String,
        sent_from: usize,
        /// kelp did it (the window was nearly full or overflowed), not the person.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        automatic: bool,
    },
    /// The conversation's token usage so far, written when a turn ends.
    #[serde(rename = "kelp_usage")]
    Usage {
        usage: crate::protocol::TokenUsage,
        /// Tokens the last request took: how full the context window was.
        #[serde(default, skip_serializing_if = "is_zero")]
        context_used: u64,
    },
    /// A turn begins: the items from here to the next turn are its own, and `id` is the id
    /// every face knew it by while it ran.
    #[serde(rename = "kelp_turn")]
    TurnStarted {
        id: String,
        /// The model its requests use (absent in files of older kelp versions).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        /// The name of the login its requests use (`kelp accounts`); never a secret.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<String>,
    },
    /// A tool call ran (or was refused), written after its output.
    #[serde(rename = "kelp_call")]
    Call(Box<record::CallRecord>),
    /// The conversation went back: only the first `items` items and `notes` notes before this
    /// one stay; what follows goes on from there.
    #[serde(rename = "kelp_rewound")]
    Rewound { items: usize, notes: usize },
    /// The conversation's goal as it is from here on (set, marked, its spending counted), or
    /// `None`: cleared.
    #[serde(rename = "kelp_goal")]
    Goal { goal: Option<crate::protocol::Goal> },
    /// An agent this one spawned started, was told something, was interrupted or finished:
    /// what a reopened conversation shows of its team where it happened.
    #[serde(rename = "kelp_agent")]
    Agent {
        activity: crate::protocol::AgentActivity,
    },
    /// Auto-review judged an approval in the person's place (or the person let what it denied
    /// through): what `/approvals` lists and a reopened conversation shows.
    #[serde(rename = "kelp_review")]
    Review { review: crate::protocol::AutoReview },
}

impl Note {
    /// Turn `id` begins, its model not said.
    pub fn turn(id: impl Into<String>) -> Self {
        Self::TurnStarted {
            id: id.into(),
            model: None,
            account: None,
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The first line of a session file: what the conversation is, without reading the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionHeader {
    /// The file layout version ([`FORMAT_VERSION`]).
    pub kelp_session: u32,
    /// The conversation id, also sent as `session-id` and `prompt_cache_key`.
    pub id: Uuid,
    /// The project directory the conversation ran in (canonical).
    pub project_dir: PathBuf,
    /// The model at the start.
    pub model: String,
    /// When the conversation started.
    #[serde(with = "rfc3339")]
    pub started_at: DateTime<Utc>,
    /// The kelp version that started it.
    pub kelp_version: String,
    /// The first line of the first prompt, cut to [`FIRST_PROMPT_CHARS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_prompt: Option<String>,
    /// The conversation this one is a fork of (`/fork`), which lists name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forked_from: Option<Uuid>,
    /// The agent of a team this conversation is, and its parent's conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<crate::protocol::AgentOrigin>,
    /// The conversation this one is a side conversation of (`/side`): listed under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side_of: Option<Uuid>,
}

impl SessionHeader {
    /// The header of a conversation starting now in `project_dir` with `model`, with a new id.
    pub fn new(project_dir: impl Into<PathBuf>, model: impl Into<String>) -> Self {
        Self {
            kelp_session: FORMAT_VERSION,
            id: Uuid::new_v4(),
            project_dir: project_dir.into(),
            model: model.into(),
            started_at: Utc::now(),
            kelp_version: env!("CARGO_PKG_VERSION").to_string(),
            first_prompt: None,
            forked_from: None,
            agent: None,
            side_of: None,
        }
    }

    /// Where this session's file lives under `state_dir`.
    pub fn file_path(&self, state_dir: &Path) -> PathBuf {
        let day = self.started_at.format("%Y/%m/%d").to_string();
        let stamp = self.started_at.format("%Y-%m-%dT%H-%M-%S%.3fZ");
        sessions_dir(state_dir)
            .join(day)
            .join(format!("{stamp}-{}.jsonl", self.id))
    }
}

/// Why a session could not be saved, found or read. One line, naming the file or the id.
#[derive(Debug, Error)]
pub enum SessionError {
    #[error("no session matches {0:?}")]
    NoMatch(String),
    #[error("{0:?} is not a whole session id")]
    NotAnId(String),
    #[error("a name of {chars} characters is too long: a session's name takes at most 256")]
    NameTooLong { chars: usize },
    #[error(
        "{0} is open in another kelp: continue it there, or close that one first (two at once \
         would mix their turns in one file)"
    )]
    InUse(PathBuf),
    #[error("{id:?} matches {count} sessions; give more of the id")]
    Ambiguous { id: String, count: usize },
    #[error("{path} is not a kelp session file ({reason})")]
    NotASession { path: PathBuf, reason: String },
    #[error("no such turn {turn}: the conversation has {turns} turns")]
    NoSuchTurn { turn: String, turns: usize },
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl SessionError {
    fn io(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}

/// The session id in a file name (`…-<uuid>.jsonl`), without opening the file.
fn id_from_file_name(path: &Path) -> Option<Uuid> {
    Uuid::parse_str(id_text_of_file_name(path)?).ok()
}

/// The last 36 characters of a session file's name before `.jsonl`: where its id is written,
/// in hyphenated form, if the name is one kelp wrote.
fn id_text_of_file_name(path: &Path) -> Option<&str> {
    let stem = path.file_name()?.to_str()?.strip_suffix(".jsonl")?;
    stem.get(stem.len().checked_sub(36)?..)
}

/// RFC 3339 timestamps in UTC with milliseconds, readable by people and `jq`.
mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer, de};

    pub fn serialize<S: Serializer>(time: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&time.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_sort_by_start_time_and_carry_the_id() {
        let mut header = SessionHeader::new("/p", "m");
        header.started_at = DateTime::parse_from_rfc3339("2026-03-04T05:06:07.089Z")
            .unwrap()
            .with_timezone(&Utc);
        let path = header.file_path(Path::new("/s"));
        assert_eq!(
            path,
            PathBuf::from(format!(
                "/s/sessions/2026/03/04/2026-03-04T05-06-07.089Z-{}.jsonl",
                header.id
            ))
        );
        assert_eq!(id_from_file_name(&path), Some(header.id));
        assert_eq!(id_from_file_name(Path::new("x.jsonl")), None);
    }

    #[test]
    fn the_header_round_trips_through_json() {
        let mut header = SessionHeader::new("/p", "gpt-5.5");
        header.first_prompt = Some("fix the bug".into());
        let line = serde_json::to_string(&header).unwrap();
        assert!(line.contains("\"kelp_session\":1"), "{line}");
        let back: SessionHeader = serde_json::from_str(&line).unwrap();
        assert_eq!(
            back.started_at.timestamp_millis(),
            header.started_at.timestamp_millis()
        );
        assert_eq!(back.id, header.id);
        assert_eq!(back.first_prompt, header.first_prompt);
    }
}
