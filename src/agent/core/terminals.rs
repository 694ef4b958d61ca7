//! The conversation's background terminals as a face sees them: `/ps` lists them and `/stop`
//! ends them, while a turn runs as well as between turns.

use super::Core;
use crate::protocol::{Event, Reply};
use crate::tools::terminals::Terminals;

impl Core {
    /// The background terminals of the conversation in hand, held by a running turn or not.
    fn terminals(&self) -> Option<Terminals> {
        match (&self.conversation, &self.running) {
            (Some(conversation), _) => Some(conversation.tool_context().terminals.clone()),
            (None, Some(turn)) => Some(turn.terminals.clone()),
            (None, None) => None,
        }
    }

    /// Answers with every background terminal, oldest first (their ports read on the
    /// blocking pool: it walks `/proc`).
    pub(super) fn list_terminals(&self) {
        let Some(terminals) = self.terminals() else {
            self.emit(Event::Reply(Reply::Terminals(Vec::new())));
            return;
        };
        let events = self.events.clone();
        crate::task::spawn_blocking(move || {
            let _ = events.send(Event::Reply(Reply::Terminals(terminals.list())));
        });
    }

    /// Ends background terminal `id` (every one with `None`), then lists what is left.
    pub(super) fn stop_terminals(&self, id: Option<i64>) {
        if let Some(terminals) = self.terminals() {
            let ended = terminals.stop(id);
            if ended == 0
                && let Some(id) = id
            {
                self.emit(Event::Error(format!(
                    "no background terminal {id}: /ps lists them"
                )));
            }
        }
        self.list_terminals();
    }
}
