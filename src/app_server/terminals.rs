//! `thread/backgroundTerminals/*` (Codex 0.171's experimental API): a loaded thread's
//! background terminals, the commands its model left running with `exec_command`, listed with
//! their process and memory, ended one by one (`terminate`) or all at once (`clean`). Hosts
//! send them without asking for the experimental API (Codex lists them in it), so every client
//! is answered.

use serde_json::Value;

use super::queue::asked;
use super::turns::Find;
use super::wire::{Answer, Page, RpcError};
use crate::wire::{
    Empty, Terminated, ThreadBackgroundTerminal, ThreadBackgroundTerminalsCleanParams,
    ThreadBackgroundTerminalsList, ThreadBackgroundTerminalsListParams,
    ThreadBackgroundTerminalsTerminateParams,
};

/// The background terminals of a thread opened with `config`, which its core and its host
/// share.
pub fn for_thread(config: &crate::config::Config) -> crate::tools::terminals::Terminals {
    let limit = config.secrets.max_background_terminals;
    crate::tools::terminals::Terminals::with_limit(
        limit.unwrap_or(crate::tools::terminals::DEFAULT_LIMIT),
    )
}

/// A list's page when the host names none.
const PAGE: usize = 50;

/// `thread/backgroundTerminals/list`: the thread's background terminals, oldest first, read
/// (their ports and memory from `/proc`) on a blocking thread, so no other request waits.
pub fn list<'a>(raw: Value, find: impl Find<'a>) -> Result<Listing, RpcError> {
    let (p, thread): (ThreadBackgroundTerminalsListParams, _) =
        asked("thread/backgroundTerminals/list", raw, true, find)?;
    let page = Page::read(p.cursor.as_deref(), p.limit, PAGE)?;
    Ok(Listing(thread.terminals.clone(), page))
}

/// A thread's terminals and the page of them asked for, to read apart from the request loop.
pub struct Listing(crate::tools::terminals::Terminals, Page);

impl Listing {
    /// The page, its rows read on a blocking thread.
    pub async fn answer(self) -> Result<Answer, RpcError> {
        let Self(terminals, page) = self;
        let rows = crate::task::spawn_blocking(move || terminals.list())
            .await
            .map_err(|e| RpcError::internal(e.to_string()))?;
        page_of(&rows, page)
    }
}

/// One page of the rows, in Codex 0.171's shape.
fn page_of(rows: &[crate::protocol::BackgroundTerminal], page: Page) -> Result<Answer, RpcError> {
    let data = rows
        .iter()
        .skip(page.skip)
        .take(page.size)
        .map(|row| ThreadBackgroundTerminal {
            command: row.command.clone(),
            cwd: row.workdir.display().to_string(),
            item_id: row.call_id.clone(),
            process_id: row.id.to_string(),
            os_pid: row.pid,
            cpu_percent: None,
            rss_kb: row.rss_kb,
        })
        .collect();
    Answer::of(&ThreadBackgroundTerminalsList {
        data,
        next_cursor: page.next(page.skip.saturating_add(page.size) < rows.len()),
    })
}

/// `thread/backgroundTerminals/terminate`: ends one; whether there was such a one.
pub fn terminate<'a>(raw: Value, find: impl Find<'a>) -> Result<Answer, RpcError> {
    let (p, thread): (ThreadBackgroundTerminalsTerminateParams, _) =
        asked("thread/backgroundTerminals/terminate", raw, true, find)?;
    let ended = match p.process_id.trim().parse::<i64>() {
        Ok(id) => thread.terminals.stop(Some(id)),
        Err(_) => 0,
    };
    Answer::of(&Terminated {
        terminated: ended > 0,
    })
}

/// `thread/backgroundTerminals/clean`: ends every one.
pub fn clean<'a>(raw: Value, find: impl Find<'a>) -> Result<Answer, RpcError> {
    let (_, thread): (ThreadBackgroundTerminalsCleanParams, _) =
        asked("thread/backgroundTerminals/clean", raw, true, find)?;
    thread.terminals.stop(None);
    Answer::of(&Empty {})
}
