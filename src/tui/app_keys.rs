//! The keys the client itself reads once the views over the composer, the slash popup, the
//! `@` finder and the composer passed them by: Esc (stop, close, Esc Esc), Shift+Tab, the
//! transcript's scrolling, Ctrl+O, F2, Alt+, and Alt+.; and Ctrl+C, which reads the moment.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::App;
use super::bottom_pane::slash::SlashCommand;
use super::bottom_pane::{Command, KeyOutcome};
use crate::protocol::Op;

impl App {
    /// A key nothing before took.
    pub(super) fn app_key(&mut self, key: KeyEvent) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc if self.agents.viewing.is_some() => self.close_view(),
            KeyCode::Esc if self.turn.running() => self.interrupt(),
            KeyCode::Esc if self.turn.own_commands > 0 => self.send(Op::Interrupt),
            KeyCode::Esc if self.pane.is_idle() => self.esc_when_idle(),
            // As Codex: Shift+Tab goes through the collaboration modes.
            KeyCode::BackTab if self.pane.is_idle() => self.cycle_mode(),
            KeyCode::PageUp => self.shown_chat().transcript.page_up(),
            KeyCode::PageDown => self.shown_chat().transcript.page_down(),
            KeyCode::Home => self.shown_chat().transcript.scroll_to_top(),
            KeyCode::End => self.shown_chat().transcript.scroll_to_bottom(),
            KeyCode::Char('o') if ctrl => self.shown_chat().transcript.toggle_expanded(),
            KeyCode::F(2) => self.perform(Command::Slash(SlashCommand::Warnings, String::new())),
            KeyCode::Char('.') if key.modifiers == KeyModifiers::ALT => self.step_effort(true),
            KeyCode::Char(',') if key.modifiers == KeyModifiers::ALT => self.step_effort(false),
            _ => {}
        }
    }

    pub(super) fn ctrl_c(&mut self) {
        if let Some(overlay) = self.overlay.take() {
            if let Some(op) = overlay.on_close() {
                self.send(op);
            }
            // Closing the dialog was the first of the two presses that quit.
            self.quit_armed = true;
            self.status.hint = Some("press ctrl+c again to quit".into());
            return;
        }
        if self.turn.running() {
            self.ctrl_c_while_running();
            return;
        }
        match self.pane.cancel() {
            KeyOutcome::Ignored => {}
            KeyOutcome::Command(command) => return self.perform(command),
            _ => return,
        }
        if self.quit_armed {
            self.quit();
        } else {
            self.quit_armed = true;
            self.status.hint = Some("press ctrl+c again to quit".into());
        }
    }
}
