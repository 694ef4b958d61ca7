//! `/ps` and `/stop` on a server: the thread's background terminals there, through Codex
//! 0.171's `thread/backgroundTerminals/*`.

use super::{Asked, Remote};
use crate::protocol::BackgroundTerminal;
use crate::wire::{
    ThreadBackgroundTerminal, ThreadBackgroundTerminalsCleanParams,
    ThreadBackgroundTerminalsListParams, ThreadBackgroundTerminalsTerminateParams,
};

impl Remote {
    /// Asks for the thread's background terminals.
    pub(super) fn list_terminals(&mut self, thread: String) {
        let params = ThreadBackgroundTerminalsListParams {
            thread_id: thread,
            cursor: None,
            limit: None,
        };
        self.request(&params, Asked::Terminals);
    }

    /// Ends one background terminal (every one with `None`), then lists those left.
    pub(super) fn stop_terminals(&mut self, thread: String, id: Option<i64>) {
        match id {
            Some(id) => {
                let params = ThreadBackgroundTerminalsTerminateParams {
                    thread_id: thread.clone(),
                    process_id: id.to_string(),
                };
                self.request(&params, Asked::Quiet("ending the background terminal"));
            }
            None => {
                let params = ThreadBackgroundTerminalsCleanParams {
                    thread_id: thread.clone(),
                };
                self.request(&params, Asked::Quiet("ending the background terminals"));
            }
        }
        self.list_terminals(thread);
    }
}

/// A terminal the server listed, as `/ps` shows it; `None` for one whose id is not kelp's
/// number (a server that names them otherwise cannot be told to end it by number).
pub(super) fn row(listed: ThreadBackgroundTerminal) -> Option<BackgroundTerminal> {
    Some(BackgroundTerminal {
        id: listed.process_id.trim().parse().ok()?,
        command: listed.command,
        workdir: listed.cwd.into(),
        call_id: listed.item_id,
        pid: listed.os_pid,
        ports: Vec::new(),
        rss_kb: listed.rss_kb,
        running_for: None,
        last_line: String::new(),
        ended: None,
        tty: false,
    })
}
