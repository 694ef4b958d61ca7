//! A reopened conversation drawn in place of the transcript: each prompt as the composer sent
//! it, each replayed event through the live path, so it looks as it did live.

use super::app::App;
use super::resume;
use crate::protocol::{Replay, Replayed};

impl App {
    /// Shows a resumed conversation in place of the current transcript, drawn as it was live:
    /// each prompt as the composer sent it, each event through the live path.
    pub(super) fn restore(&mut self, replay: Replay) {
        let goal = replay.goal.clone();
        self.redraw_conversation(replay);
        self.status.goal = goal;
        self.session.restored_now = true;
        self.session.saved = true;
        // A fork says so itself.
        if std::mem::take(&mut self.session.forking) {
            return;
        }
        let notice = match self.session.resuming_from.take() {
            Some(at) => format!("Resumed the conversation from {}.", resume::local_time(at)),
            None => "Resumed the saved conversation.".to_string(),
        };
        self.notice(notice);
        if let Some(notice) = self.session.start_notice.take() {
            self.notice(notice);
        }
        if std::mem::take(&mut self.session.fork_picked) {
            self.perform(super::bottom_pane::Command::Slash(
                super::bottom_pane::slash::SlashCommand::Fork,
                String::new(),
            ));
        }
    }

    /// Draws `replay` in place of the transcript.
    pub(super) fn redraw_conversation(&mut self, replay: Replay) {
        self.clear_conversation();
        self.remember_prompts(&replay);
        match replay.earlier_turns {
            0 => {}
            1 => self.notice("1 earlier turn is not shown: the saved conversation keeps it."),
            n => self.notice(format!(
                "{n} earlier turns are not shown: the saved conversation keeps them."
            )),
        }
        self.status.instructions = None;
        self.status.instructions_in_history = replay.has_instructions;
        for turn in replay.turns {
            let cut_short = turn.ends_in_answer();
            for entry in turn.entries {
                match entry {
                    Replayed::Prompt(prompt) => self.chat.push_prompt(prompt),
                    Replayed::Event(event) => self.handle_core_event(event),
                }
            }
            let partial = self.chat.turn_finished() | cut_short;
            if let Some((how, message)) = turn.ended {
                self.push(resume::ended_early(how, message.as_deref(), partial));
            }
        }
        // Restored answers are parsed when first drawn; have the highlighter ready for them.
        if self.awaiting_highlighter && !super::highlight::is_loaded() {
            super::highlight::start_loading();
        }
        self.chat.start_response();
    }
}
