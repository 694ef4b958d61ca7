//! The approval view: `y` yes, `a` always, `n` no and a reason for the model, `esc` no.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::{KeyOutcome, theme};
use crate::agent::protocol::ApprovalDecision;
use crate::tui::wrap::draw_line;

/// An approval request waiting for the person.
#[derive(Debug)]
pub struct ApprovalView {
    id: u64,
    /// `Some` while the person types why they said no.
    reason: Option<String>,
    /// Only "this once" makes sense (running without the sandbox): no "always".
    once_only: bool,
}

impl ApprovalView {
    pub fn new(id: u64, once_only: bool) -> Self {
        Self {
            id,
            reason: None,
            once_only,
        }
    }

    fn decided(&self, decision: ApprovalDecision) -> KeyOutcome {
        KeyOutcome::Decided {
            id: self.id,
            decision,
        }
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> KeyOutcome {
        if let Some(reason) = &mut self.reason {
            match key.code {
                KeyCode::Enter => {
                    let reason = reason.trim().to_string();
                    let reason = (!reason.is_empty()).then_some(reason);
                    return self.decided(ApprovalDecision::No { reason });
                }
                KeyCode::Esc => self.reason = None,
                KeyCode::Backspace => {
                    reason.pop();
                }
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    reason.push(c);
                }
                _ => {}
            }
            return KeyOutcome::Consumed;
        }
        match key.code {
            KeyCode::Char('y' | 'Y') => self.decided(ApprovalDecision::Yes),
            KeyCode::Char('a' | 'A') if !self.once_only => self.decided(ApprovalDecision::Always),
            KeyCode::Char('n' | 'N') => {
                self.reason = Some(String::new());
                KeyOutcome::Consumed
            }
            KeyCode::Esc => self.decided(ApprovalDecision::No { reason: None }),
            // Scrolling the transcript to read what is asked about is the app's.
            KeyCode::PageUp | KeyCode::PageDown => KeyOutcome::Ignored,
            _ => KeyOutcome::Consumed,
        }
    }

    /// Pasted text goes into the reason, when one is being typed.
    pub fn paste(&mut self, text: &str) {
        if let Some(reason) = &mut self.reason {
            reason.push_str(text);
        }
    }

    /// Rows the view needs.
    pub fn height(&self) -> u16 {
        if self.reason.is_some() { 2 } else { 1 }
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer) {
        let key = |k: &str| Span::styled(k.to_string(), theme::warn().bold());
        let line = match &self.reason {
            None if self.once_only => Line::from(vec![
                Span::styled("Allow it? ", Style::new().bold()),
                key("y"),
                Span::raw(" yes, this once  "),
                key("n"),
                Span::raw(" no, and say why"),
            ]),
            None => Line::from(vec![
                Span::styled("Allow it? ", Style::new().bold()),
                key("y"),
                Span::raw(" yes  "),
                key("a"),
                Span::raw(" always (this session)  "),
                key("n"),
                Span::raw(" no, and say why"),
            ]),
            Some(_) => Line::from(vec![
                Span::styled("Why not? ", Style::new().bold()),
                Span::styled(
                    "(optional, told to the model) · enter send · esc back",
                    theme::dim(),
                ),
            ]),
        };
        draw_line(buf, area.x, area.y, &line, area.width);
        if let Some(reason) = &self.reason
            && area.height > 1
        {
            let field = Line::from(vec![
                Span::styled("› ", theme::accent().bold()),
                Span::raw(reason.clone()),
                Span::styled("▏", theme::accent()),
            ]);
            draw_line(buf, area.x, area.y + 1, &field, area.width);
        }
    }
}
