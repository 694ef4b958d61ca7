//! What a turn does for the conversation's goal: notes each change to it in the session file
//! and tells the faces, and tells the model once to wrap up when the budget runs out within
//! the turn.

use tokio::sync::mpsc::UnboundedSender;

use super::conversation::Conversation;
use crate::llm::types::Item;
use crate::protocol::Event;
use crate::protocol::TokenUsage;
use crate::session::{Entry, Note};

/// Notes the goal in the session file and tells the faces, when it changed (the model marked
/// it, or the person did while the turn ran).
pub fn note_goal(conversation: &mut Conversation, events: &UnboundedSender<Event>) {
    if let Some(goal) = conversation.goal_unsaved() {
        record(
            conversation,
            events,
            Entry::Note(Note::Goal { goal: goal.clone() }),
        );
        let _ = events.send(match goal {
            Some(goal) => Event::GoalUpdated(goal),
            None => Event::GoalCleared,
        });
    }
}

/// A turn's watch on the goal's budget: where the turn's spending started, and whether the
/// model was told.
pub struct WrapUp {
    usage_at_start: TokenUsage,
    told: bool,
}

impl From<TokenUsage> for WrapUp {
    fn from(usage_at_start: TokenUsage) -> Self {
        Self {
            usage_at_start,
            told: false,
        }
    }
}

impl WrapUp {
    /// Whether the model was told to wrap up: a call it makes after that is not run, and the
    /// turn ends (the budget is a cap, not a hint).
    pub fn told(&self) -> bool {
        self.told
    }

    /// When the budget is spent with what the turn used so far: the model is told, once, to
    /// wrap up (the goal is counted and stopped when the turn ends).
    pub fn check(&mut self, conversation: &mut Conversation, events: &UnboundedSender<Event>) {
        if self.told {
            return;
        }
        let spent = conversation.usage().minus(&self.usage_at_start);
        if let Some(goal) = conversation.goal_cell().get()
            && goal.spent_with(&spent)
        {
            self.told = true;
            record(
                conversation,
                events,
                Entry::Item(Item::developer_text(goal.wrap_up())),
            );
        }
    }
}

fn record(conversation: &mut Conversation, events: &UnboundedSender<Event>, entry: Entry) {
    if let Some(e) = conversation.record_once_failing(entry) {
        let _ = events.send(Event::Error(format!(
            "the conversation is not being saved: {e}"
        )));
    }
}
