//! `thread/search` and `thread/search/stream`, and `thread/searchOccurrences` within one
//! thread: the saved threads where a term was said (a
//! prompt, an answer, a command, a file's name), newest first, each with the line that holds
//! it, through the said files kept beside each conversation ([`crate::session::said`]); the
//! stream sends each find of the page ahead as `thread/search/partial`, then answers as
//! `thread/search` does. A search reads one conversation's said file at a time.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::Value;

use super::history::{Saved, Sources, listed_thread, shelf_of, turn_values};
use super::wire::{Answer, Out, Page, RpcError, notify, params};
use crate::session::said::{self, Found, Kind};
use crate::wire::{
    ListPage, TextRange, ThreadItem, ThreadSearchOccurrence, ThreadSearchOccurrencesParams,
    ThreadSearchParams, ThreadSearchPartial, ThreadSearchResult, ThreadStatus,
};

/// How many threads one page holds when the host names no limit.
const PAGE: usize = 25;

/// The longest term `thread/search/stream` takes, as Codex's (65,536 bytes).
const MAX_TERM_BYTES: usize = 64 * 1024;

/// Where the finds of a streamed search go ahead of its answer: the connection, and the id
/// of the request they belong to.
pub struct Partials {
    pub out: Out,
    pub request: Value,
}

/// `thread/search` (`partials`: `thread/search/stream`), over the threads saved under
/// `state_dir`; a thread the server holds says how it stands now (`live`).
pub async fn search(
    state_dir: PathBuf,
    raw: Value,
    live: HashMap<String, ThreadStatus>,
    partials: Option<Partials>,
) -> Result<Answer, RpcError> {
    let asked: ThreadSearchParams = params(raw)?;
    let term = asked.search_term.trim().to_string();
    if term.is_empty() {
        return Err(RpcError::invalid_params(
            "Invalid params: searchTerm must not be empty",
        ));
    }
    if term.len() > MAX_TERM_BYTES {
        return Err(RpcError::invalid_params(
            "Invalid params: searchTerm is longer than 65,536 bytes",
        ));
    }
    let page = Page::read(asked.cursor.as_deref(), asked.limit, PAGE)?;
    let sources = Sources::asked(asked.source_kinds.as_deref(), None, None)?;
    let attached = asked.include_attached_threads;
    let root = shelf_of(&state_dir, asked.archived == Some(true));
    let found = crate::task::spawn_blocking(move || {
        let names = crate::session::shelf::names(&state_dir);
        let (mut found, mut passed) = (Vec::new(), 0);
        said::search(&root, None, &term, |summary, hit| {
            if (summary.side_of.is_some() && !attached) || !sources.admits(&summary) {
                return true;
            }
            if passed < page.skip {
                passed += 1;
                return true;
            }
            let mut thread = listed_thread(&summary, &names);
            thread.status = live
                .get(&thread.id)
                .cloned()
                .unwrap_or(ThreadStatus::NotLoaded);
            let result = ThreadSearchResult {
                thread,
                snippet: snippet(&hit),
            };
            if let Some(partials) = partials.as_ref().filter(|_| found.len() < page.size) {
                let batch = ThreadSearchPartial {
                    request_id: partials.request.clone(),
                    data: vec![result.clone()],
                };
                notify(&partials.out, batch);
            }
            found.push(result);
            // One more than the page says whether another follows.
            found.len() <= page.size
        });
        found
    })
    .await
    .map_err(|e| RpcError::internal(e.to_string()))?;
    let more = found.len() > page.size;
    let data: Vec<ThreadSearchResult> = found.into_iter().take(page.size).collect();
    Answer::of(&ListPage {
        data,
        next_cursor: page.next(more),
        backwards_cursor: None,
    })
}

/// The line that matched, cut to some 160 characters around the match.
fn snippet(hit: &Found) -> String {
    const AROUND: usize = 80;
    let (start, end) = hit.range;
    let mut from = start.saturating_sub(AROUND);
    while !hit.line.is_char_boundary(from) {
        from -= 1;
    }
    let mut to = (end + AROUND).min(hit.line.len());
    while !hit.line.is_char_boundary(to) {
        to += 1;
    }
    let mut text = hit.line[from..to].to_string();
    if from > 0 {
        text.insert(0, '…');
    }
    if to < hit.line.len() {
        text.push('…');
    }
    text
}

/// How many occurrences one page holds when the host names no limit.
const OCCURRENCES_PAGE: usize = 50;

/// `thread/searchOccurrences`: where in one saved thread the term was said, in a prompt or an
/// answer (as Codex searches the visible messages), oldest first: each with its item and turn
/// (read for the turns that hold one only), the line as the snippet and where the term is in it.
pub async fn occurrences(saved: Saved, raw: Value) -> Result<Answer, RpcError> {
    let asked: ThreadSearchOccurrencesParams = params(raw)?;
    let term = asked.search_term.trim().to_string();
    if term.is_empty() {
        return Err(RpcError::invalid_params(
            "Invalid params: searchTerm must not be empty",
        ));
    }
    let page = Page::read(asked.cursor.as_deref(), asked.limit, OCCURRENCES_PAGE)?;
    let (summary, index) = saved.indexed(&asked.thread_id).await?;
    let found = crate::task::spawn_blocking(move || {
        let lines = said::find_in(&summary.path, &term, usize::MAX).unwrap_or_default();
        let mut found = Vec::new();
        let mut turns: HashMap<usize, Vec<crate::wire::Turn>> = HashMap::new();
        for line in lines
            .into_iter()
            .filter(|f| matches!(f.kind, Kind::Prompt | Kind::Answer))
        {
            let Some(at) = index.turn_ending_at(line.at) else {
                continue;
            };
            let turn = turns
                .entry(at)
                .or_insert_with(|| turn_values(&summary, &index, at..at + 1).unwrap_or_default());
            let Some((turn_id, item_id)) = turn.first().and_then(|turn| {
                let item = turn
                    .items
                    .iter()
                    .find_map(|item| said_in(item, &line.line))?;
                Some((turn.id.clone(), item))
            }) else {
                continue;
            };
            found.push(ThreadSearchOccurrence {
                item_id,
                snippet: line.line.clone(),
                snippet_match_range: utf16_range(&line.line, line.range),
                // `thread/turns/list` is newest first: this turn heads the page at its place.
                turn_cursor: (index.turns() - 1 - at).to_string(),
                turn_id,
            });
        }
        found
    })
    .await
    .map_err(|e| RpcError::internal(e.to_string()))?;
    let more = found.len() > page.skip.saturating_add(page.size);
    let data: Vec<ThreadSearchOccurrence> =
        found.into_iter().skip(page.skip).take(page.size).collect();
    Answer::of(&serde_json::json!({
        "data": data,
        "nextCursor": page.next(more),
    }))
}

/// The id of `item` when it is a prompt or an answer whose text holds `line`.
fn said_in(item: &ThreadItem, line: &str) -> Option<String> {
    match item {
        ThreadItem::AgentMessage { id, text } if text.contains(line) => Some(id.clone()),
        ThreadItem::UserMessage { id, content }
            if content.to_string().contains(&json_text(line)) =>
        {
            Some(id.clone())
        }
        _ => None,
    }
}

/// `text` as it appears inside a JSON string.
fn json_text(text: &str) -> String {
    let quoted = serde_json::Value::from(text).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

/// A byte range of `line` in UTF-16 code units, as the protocol counts.
fn utf16_range(line: &str, (start, end): (usize, usize)) -> TextRange {
    let units = |bytes: usize| {
        let cut = line.get(..bytes).unwrap_or(line);
        u32::try_from(cut.encode_utf16().count()).unwrap_or(u32::MAX)
    };
    TextRange {
        start: units(start),
        end: units(end),
    }
}
