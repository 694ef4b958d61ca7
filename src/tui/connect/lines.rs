//! The dialog's lines: a paragraph with a hanging indent, a row of keys, and drawing them
//! wrapped from the top of an area. Shared by every screen.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::tui::theme;
use crate::tui::wrap::{RichLine, draw_line, wrap_into};

/// A paragraph whose wrapped rows start `indent` columns in.
pub(super) fn hang(spans: Vec<Span<'static>>, indent: usize) -> RichLine {
    RichLine {
        line: Line::from(spans),
        hang: vec![Span::raw(" ".repeat(indent))],
    }
}

/// The keys a screen takes and what each does: `enter sign in · esc back`.
pub(super) fn keys_line(keys: &[(&str, &str)]) -> RichLine {
    let mut spans = Vec::new();
    for (i, (key, what)) in keys.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", theme::dim()));
        }
        spans.push(Span::styled(key.to_string(), Style::new().bold()));
        spans.push(Span::styled(format!(" {what}"), theme::dim()));
    }
    RichLine::plain(Line::from(spans))
}

/// Wraps and draws `lines` from the top of `area`; returns the rows used.
pub(super) fn draw(area: Rect, buf: &mut Buffer, lines: &[RichLine]) -> u16 {
    let mut wrapped = Vec::new();
    for line in lines {
        wrap_into(line, usize::from(area.width), &mut wrapped);
    }
    let mut y = area.y;
    for line in wrapped.iter().take(usize::from(area.height)) {
        draw_line(buf, area.x, y, line, area.width);
        y += 1;
    }
    y - area.y
}

/// A failure said in red after a `✗`, its wrapped rows under its words.
pub(super) fn failed(message: &str) -> RichLine {
    hang(
        vec![
            Span::styled("✗ ", theme::bad()),
            Span::styled(message.to_string(), theme::bad()),
        ],
        2,
    )
}
