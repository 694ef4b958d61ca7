//! `thread/search` and `thread/search/stream`: the saved threads where a term was said (a
//! prompt, an answer, a command, a file's name), newest first, each with the line that holds
//! it, through the said files kept beside each conversation ([`crate::session::said`]); the
//! stream sends each find of the page ahead as `thread/search/partial`, then answers as
//! `thread/search` does. A search reads one conversation's said file at a time.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::Value;

use super::history::{Sources, listed_thread, shelf_of};
use super::wire::{Answer, Out, Page, RpcError, notify, params};
use crate::session::said::{self, Found};
use crate::wire::{
    ListPage, ThreadSearchParams, ThreadSearchPartial, ThreadSearchResult, ThreadStatus,
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
