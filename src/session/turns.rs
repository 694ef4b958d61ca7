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
#[derive(Debug, Default, Clone, Copy, PartialEq)]
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
        let Note::TurnStarted { id, .. } = note else {
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

    /// Where the splitter stands after `turns` turns began and the last of them had its
    /// prompt: `last_noted` if it began at a note, so that a prompt after it steers it.
    pub fn after(turns: usize, last_noted: bool) -> Self {
        Self {
            count: turns,
            noted: last_noted.then_some(true),
        }
    }

    /// What it holds, to keep: the turns begun, and whether the open one began at a note and
    /// had its prompt.
    pub(super) fn parts(&self) -> (usize, Option<bool>) {
        (self.count, self.noted)
    }

    /// A splitter that holds `parts`, as [`Self::parts`] gave them.
    pub(super) fn from_parts((count, noted): (usize, Option<bool>)) -> Self {
        Self { count, noted }
    }

    /// Reads `items` (the first at index `base`) with the notes among them, each after the
    /// items before it, in the order they were saved.
    pub fn read_through(&mut self, items: &[Item], base: usize, notes: &[(usize, Note)]) {
        let mut notes = notes.iter().peekable();
        for (index, item) in items.iter().enumerate() {
            while let Some((_, note)) = notes.next_if(|(at, _)| *at <= base + index) {
                self.on_note(note);
            }
            self.on_item(item);
        }
        for (_, note) in notes {
            self.on_note(note);
        }
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
        let note = |id: &str| Entry::Note(Note::turn(id));
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

        // Reading the first entries in one go leaves the splitter where reading them one by
        // one does, for each place the rest could start from.
        for cut in 0..=entries.len() {
            let mut one_by_one = TurnSplitter::default();
            entries[..cut].iter().for_each(|e| drop(one_by_one.next(e)));
            let (mut items, mut notes) = (Vec::new(), Vec::new());
            for entry in &entries[..cut] {
                match entry {
                    Entry::Item(item) => items.push(item.clone()),
                    Entry::Note(note) => notes.push((items.len(), note.clone())),
                }
            }
            let mut at_once = TurnSplitter::default();
            at_once.read_through(&items, 0, &notes);
            assert_eq!(at_once, one_by_one, "after {cut} entries");
        }
    }
}
