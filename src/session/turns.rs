//! Where the saved turns of a conversation begin, and their ids: one rule for every reader
//! (the replay, a fork through a turn, a rewind).
//!
//! A turn begins at a `kelp_turn` note, which names it by the id it had while it ran; the
//! prompts after it in the same turn are steering. A prompt with no note before it (a file
//! written before turns had ids) begins a turn of its own, named by its place: `turn-0`,
//! `turn-1`, … counted over all the turns before it.

use super::{Entry, Note};
use crate::llm::types::Item;

/// Reads a conversation's entries in order and says where each turn begins.
#[derive(Debug, Default)]
pub struct TurnSplitter {
    /// Turns begun so far.
    count: usize,
    /// The turn open now, if it began at a note: whether its prompt came yet.
    noted: Option<bool>,
}

impl TurnSplitter {
    /// The id of the turn `entry` begins, if it begins one.
    pub fn next(&mut self, entry: &Entry) -> Option<String> {
        match entry {
            Entry::Note(note) => self.on_note(note),
            Entry::Item(item) => self.on_item(item),
        }
    }

    /// The id of the turn `note` begins, if it begins one.
    pub fn on_note(&mut self, note: &Note) -> Option<String> {
        let Note::TurnStarted { id } = note else {
            return None;
        };
        self.count += 1;
        self.noted = Some(false);
        Some(id.clone())
    }

    /// The id of the turn `item` begins, if it begins one.
    pub fn on_item(&mut self, item: &Item) -> Option<String> {
        if !item.is_prompt() {
            return None;
        }
        match &mut self.noted {
            Some(prompted) => {
                *prompted = true;
                None
            }
            None => {
                self.count += 1;
                Some(format!("turn-{}", self.count - 1))
            }
        }
    }

    /// How many turns have begun.
    pub fn turns(&self) -> usize {
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(entries: &[Entry]) -> Vec<String> {
        let mut splitter = TurnSplitter::default();
        entries.iter().filter_map(|e| splitter.next(e)).collect()
    }

    #[test]
    fn old_prompts_are_numbered_and_noted_turns_keep_their_ids() {
        let prompt = |text: &str| Entry::Item(Item::user_text(text));
        let note = |id: &str| Entry::Note(Note::TurnStarted { id: id.into() });
        let instructions = Entry::Item(Item::user_text("# AGENTS.md instructions for /p\n"));
        let entries = [
            instructions,
            prompt("old one"),
            Entry::Item(Item::assistant_text("a")),
            prompt("old two"),
            note("u-1"),
            prompt("new"),
            prompt("steering the same turn"),
            note("u-2"),
            prompt("next"),
        ];
        assert_eq!(ids(&entries), ["turn-0", "turn-1", "u-1", "u-2"]);
    }
}
