//! The one place the TUI's colours are chosen, by role (accent, dim, good, warn, bad …), and
//! where `NO_COLOR` is decided: with it set (to anything but empty), every role is plain text
//! and only the modifiers that carry structure remain (bold, italic, underline, strike-through,
//! reverse for a selection). The QR code is the one exception: it is data, drawn black on
//! white so a phone can read it on any terminal theme.

use std::sync::OnceLock;

use ratatui::style::{Color, Modifier, Style};

/// Whether colours are on: decided once, from `NO_COLOR` (<https://no-color.org>).
pub fn colors() -> bool {
    static COLORS: OnceLock<bool> = OnceLock::new();
    *COLORS.get_or_init(|| std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()))
}

fn fg(color: Color) -> Style {
    if colors() {
        Style::new().fg(color)
    } else {
        Style::new()
    }
}

/// What to act on or look at: the prompt mark, the model, a step, a selected row.
pub fn accent() -> Style {
    fg(Color::Cyan)
}

/// Secondary text: hints, placeholders, finished plan steps, borders of code blocks.
pub fn dim() -> Style {
    fg(Color::DarkGray)
}

/// Success: a login, an approval, a command that passed, an added line.
pub fn good() -> Style {
    fg(Color::Green)
}

/// Waiting or worth a look: a running tool, a retry, a warning.
pub fn warn() -> Style {
    fg(Color::Yellow)
}

/// Failure: an error, a denial, a removed line.
pub fn bad() -> Style {
    fg(Color::Red)
}

/// A tool's name, and Markdown headings.
pub fn tool() -> Style {
    fg(Color::Magenta)
}

/// A link: underlined either way.
pub fn link() -> Style {
    fg(Color::Blue).add_modifier(Modifier::UNDERLINED)
}

/// A Markdown heading of `level` (1 is the top).
pub fn heading(level: usize) -> Style {
    match level {
        1 => tool().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
        2 => tool().add_modifier(Modifier::BOLD),
        _ => Style::new().add_modifier(Modifier::BOLD | Modifier::ITALIC),
    }
}

/// Emphasis, strong and struck-through text.
pub fn emphasis() -> Style {
    Style::new().add_modifier(Modifier::ITALIC)
}

/// Bold.
pub fn strong() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

/// Struck through (a finished plan step, `~~text~~`).
pub fn struck() -> Style {
    Style::new().add_modifier(Modifier::CROSSED_OUT)
}

/// Selected text: dark on grey, or reversed without colours.
pub fn selection() -> Style {
    if colors() {
        Style::new().fg(Color::Black).bg(Color::DarkGray)
    } else {
        Style::new().add_modifier(Modifier::REVERSED)
    }
}

/// A syntax-highlighting colour.
pub fn rgb(r: u8, g: u8, b: u8) -> Style {
    fg(Color::Rgb(r, g, b))
}

/// The QR code's cells: explicit black on white, colours or not (see the module docs).
pub fn qr() -> Style {
    Style::new().fg(Color::Black).bg(Color::White)
}
