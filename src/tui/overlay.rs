//! The one overlay slot: what covers the chat and takes every key, paste and Ctrl+C while it
//! is open: the `/connect` dialog or the command center (`/agents`). The app routes input and
//! drawing through the slot; only login events reach into the dialog itself, and the list of
//! agents into the center.

use std::time::SystemTime;

use crossterm::event::KeyEvent;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::agents_center::AgentCenter;
use super::connect::{ConnectDialog, DialogAction};
use crate::protocol::Op;

/// What the slot holds.
#[derive(Debug)]
pub enum Overlay {
    /// `/connect`: the three ways to sign in.
    Connect(ConnectDialog),
    /// `/agents`, `/subagents`: the command center.
    Agents(Box<AgentCenter>),
}

impl Overlay {
    /// A key, and what the overlay wants done about it.
    pub fn handle_key(&mut self, key: KeyEvent) -> DialogAction {
        match self {
            Self::Connect(dialog) => dialog.handle_key(key),
            Self::Agents(center) => DialogAction::Center(center.handle_key(key)),
        }
    }

    /// A paste, and what the overlay wants done about it.
    pub fn on_paste(&mut self, text: &str) -> DialogAction {
        match self {
            Self::Connect(dialog) => dialog.on_paste(text),
            Self::Agents(_) => DialogAction::None,
        }
    }

    /// Draws it over `area`; `now` drives any countdown.
    pub fn render(&self, area: Rect, buf: &mut Buffer, now: SystemTime) {
        match self {
            Self::Connect(dialog) => dialog.render(area, buf, now),
            Self::Agents(center) => center.render(area, buf, now),
        }
    }

    /// Whether it shows something that changes each second.
    pub fn ticks(&self) -> bool {
        match self {
            Self::Connect(dialog) => dialog.shows_countdown(),
            // The app asks for the list again each second it shows.
            Self::Agents(_) => false,
        }
    }

    /// What closing it must stop, for the core: a login that waits.
    pub fn on_close(&self) -> Option<Op> {
        match self {
            Self::Connect(dialog) => dialog.is_waiting().then_some(Op::CancelLogin),
            Self::Agents(_) => None,
        }
    }

    /// The `/connect` dialog, when that is what shows.
    pub fn connect(&mut self) -> Option<&mut ConnectDialog> {
        match self {
            Self::Connect(dialog) => Some(dialog),
            Self::Agents(_) => None,
        }
    }
}
