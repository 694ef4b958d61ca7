//! Searching threads by what was said in them, as Codex 0.171's experimental API does:
//! `thread/search` (a page of threads, each with a snippet of the line that matched),
//! `thread/search/stream` (the same, its first finds sent ahead as `thread/search/partial`),
//! and `thread/searchOccurrences` (each matching line of one thread). Shapes from Codex
//! 0.171's schema (`app-server generate-json-schema --experimental`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Notification, Thread};

/// `thread/search` and `thread/search/stream`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadSearchParams {
    /// What to find (letters of any case).
    pub search_term: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Only archived threads (`true`), or only the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
    /// Where the threads came from; none: the person's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kinds: Option<Vec<String>>,
    /// Side conversations too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub include_attached_threads: bool,
}

/// A thread found, with the line that holds the term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadSearchResult {
    pub thread: Thread,
    pub snippet: String,
}

notification!(
    /// `thread/search/stream`'s finds so far, ahead of its answer.
    ThreadSearchPartial = "thread/search/partial" {
        request_id: Value,
        data: Vec<ThreadSearchResult>,
    }
);

/// `thread/searchOccurrences`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadSearchOccurrencesParams {
    pub thread_id: String,
    pub search_term: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// One line of a thread that holds the term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadSearchOccurrence {
    pub item_id: String,
    pub snippet: String,
    /// Where the term is in `snippet`, in UTF-16 code units.
    pub snippet_match_range: TextRange,
    pub turn_cursor: String,
    pub turn_id: String,
}

/// A range of UTF-16 code units, the end exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextRange {
    pub start: u32,
    pub end: u32,
}
