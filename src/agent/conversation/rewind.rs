//! Going back to before a turn: the history and notes cut there, what the compaction still
//! covers, and the session file told.

use super::{BEFORE_COMPACTION, Conversation, LEFT_OUT, Rewind};
use crate::llm::types::Item;
use crate::protocol::RewindTo;
use crate::session::Note;

impl Conversation {
    /// Goes back to before the turn `to` names: it and every turn after it leave the history
    /// (the session file notes the rewind; the items stay in it, unread). Returns the words
    /// that began that turn and the patches made from it on (oldest first), to undo.
    pub fn rewind(&mut self, to: &RewindTo) -> Result<Rewind, String> {
        let starts = self.turn_starts();
        let at = match to {
            RewindTo::Turn(id) => {
                starts
                    .iter()
                    .position(|(turn, ..)| turn == id)
                    .ok_or_else(|| match self.items_base {
                        0 => format!("no turn {id} in this conversation"),
                        _ => format!("no turn {id} since the last compaction: {BEFORE_COMPACTION}"),
                    })?
            }
            RewindTo::Last(0) => return Err("numTurns must be at least 1".to_string()),
            RewindTo::Last(n) => starts.len().checked_sub(*n).ok_or_else(|| {
                format!(
                    "the conversation has {} turns, not {n} to go back",
                    starts.len()
                )
            })?,
        };
        let (_, items, notes) = starts[at].clone();
        let (items, notes) = (items - self.items_base, notes - self.notes_base);
        // What memory holds starts at a compaction: going back past it would need the items
        // it covers, which only the file keeps.
        let compaction_stays = self.notes[..notes]
            .iter()
            .any(|(_, note)| matches!(note, Note::Compacted { .. }));
        if self.items_base > 0 && !compaction_stays {
            return Err(format!(
                "that turn is before the last compaction: {BEFORE_COMPACTION}"
            ));
        }
        let prompt = self.history[items..]
            .iter()
            .find(|item| item.is_prompt())
            .map(Item::typed_text);
        let changes = self.notes[notes..]
            .iter()
            .filter_map(|(_, note)| match note {
                Note::Call(call) => Some(call.changes.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        self.history.truncate(items);
        self.notes.truncate(notes);
        let (items, notes) = (self.items_base + items, self.notes_base + notes);
        // A compaction that was dropped no longer covers anything.
        match self.notes.iter().rev().find_map(|(_, note)| match note {
            Note::Compacted {
                summary, sent_from, ..
            } => Some((summary.clone(), *sent_from)),
            _ => None,
        }) {
            Some((summary, sent_from)) => {
                self.summary = Some(summary);
                self.sent_from = sent_from.min(items);
            }
            None => {
                self.summary = None;
                self.sent_from = 0;
            }
        }
        // What was left out at the resume stays out: it is not held to be sent.
        if self.left_out && self.sent_from < self.items_base {
            let earlier = self.summary.take().map(|summary| format!("{summary}\n\n"));
            self.summary = Some(format!("{}{LEFT_OUT}", earlier.unwrap_or_default()));
            self.sent_from = self.items_base;
        }
        self.context_used = 0;
        let saved = self.session.append_note(&Note::Rewound { items, notes });
        // A goal noted in the turns gone back from is noted again when the core next looks:
        // the goal stays as it is (it belongs to the conversation, not to a turn).
        self.saved_goal = self
            .notes
            .iter()
            .rev()
            .find_map(|(_, note)| match note {
                Note::Goal { goal } => Some(goal.clone()),
                _ => None,
            })
            .flatten();
        if let Err(e) = saved {
            return Err(format!("went back, but the session file missed it: {e}"));
        }
        Ok(Rewind { prompt, changes })
    }

    /// Each turn in memory: its id, and how many items and notes of the whole history came
    /// before it began.
    fn turn_starts(&self) -> Vec<(String, usize, usize)> {
        let mut splitter = self.turns_at_base;
        let mut starts = Vec::new();
        let (items_base, notes_base) = (self.items_base, self.notes_base);
        let mut notes = self.notes.iter().enumerate().peekable();
        for (index, item) in self.history.iter().enumerate() {
            let index = items_base + index;
            while let Some((n, (_, note))) = notes.next_if(|(_, (at, _))| *at <= index) {
                if let Some(id) = splitter.on_note(note) {
                    starts.push((id, index, notes_base + n));
                }
            }
            if let Some(id) = splitter.on_item(item) {
                let before = notes.peek().map_or(self.notes.len(), |(n, _)| *n);
                starts.push((id, index, notes_base + before));
            }
        }
        let end = items_base + self.history.len();
        for (n, (_, note)) in notes {
            if let Some(id) = splitter.on_note(note) {
                starts.push((id, end, notes_base + n));
            }
        }
        starts
    }
}
