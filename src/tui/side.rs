//! `/side` (`/btw`): a question asked beside the conversation, while its turn runs or after,
//! answered in a view over the transcript (the whole screen at 80×24) by a copy of the
//! conversation that adds nothing to it. What is typed while the view is open asks it more;
//! Esc comes back, and the side conversation stays saved (`/resume` lists it).

use std::time::Instant;

use super::agents_center::AgentView;
use super::app::App;
use super::chat::Chat;
use super::history_cell::CellKind;
use crate::protocol::{Event, Op, Reply};

impl App {
    /// Whether the side conversation is what the screen shows.
    pub(super) fn side_open(&self) -> bool {
        self.agents.viewing.as_ref().is_some_and(|view| view.side)
    }

    /// Asks `question` beside the conversation, opening the view when it is not open.
    pub(super) fn ask_side(&mut self, question: String) {
        let question = question.trim().to_string();
        if question.is_empty() {
            self.notice("/side QUESTION asks beside this conversation: it sees what was said and adds nothing to it.");
            return;
        }
        if !self.side_open() {
            self.agents.viewing = Some(AgentView {
                conversation: String::new(),
                name: "Side conversation".to_string(),
                chat: Chat::default(),
                asked: Instant::now(),
                side: true,
            });
        }
        if let Some(view) = &mut self.agents.viewing {
            view.chat.push(CellKind::User(question.clone()));
            view.chat.start_response();
            view.chat.transcript.scroll_to_bottom();
        }
        self.send(Op::Side(question));
    }

    /// An event of the side conversation: drawn in its view while it is open.
    pub(super) fn on_side(&mut self, event: Event) {
        let Some(view) = self.agents.viewing.as_mut().filter(|view| view.side) else {
            return;
        };
        let chat = &mut view.chat;
        match event {
            Event::Reply(Reply::Conversation { id }) => view.conversation = id,
            Event::TurnFinished(_) => {
                chat.turn_finished();
            }
            Event::Error(message) => {
                chat.push(CellKind::Error(message));
            }
            // The answers, the calls and their ends, drawn as a saved turn's are.
            other => chat.replay(&other),
        }
        chat.transcript.scroll_to_bottom();
    }
}
