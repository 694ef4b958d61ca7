//! The one place the TUI's colours are chosen, by role (accent, dim, good, warn, bad …), and
//! where `NO_COLOR` is decided: with it set (to anything but empty), every role is plain text
//! and only the modifiers that carry structure remain (bold, italic, underline, strike-through,
//! reverse for a selection). The QR code is the one exception: it is data, drawn black on
//! white so a phone can read it on any terminal theme.
//!
//! Each role is the terminal's own colour of its kind (cyan, dark grey, green …), which reads
//! on its background whatever its palette, unless a chosen syntax theme gives the role a colour
//! of its own ([`set_palette`]): the code and the UI around it then speak one palette.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

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

/// The terminal's background, which the colours must read on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Background {
    Dark,
    Light,
}

/// The roles a syntax theme may colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Accent,
    Dim,
    Good,
    Warn,
    Bad,
    Tool,
    Link,
}

/// Each role's colour from the chosen theme, packed ([`pack`]); 0: the terminal's own. Read on
/// every span drawn, so a load each, never a lock.
static PALETTE: [AtomicU32; 7] = [const { AtomicU32::new(0) }; 7];

const RGB: u32 = 1 << 24;
const INDEXED: u32 = 2 << 24;

fn pack(color: Color) -> u32 {
    match color {
        Color::Rgb(r, g, b) => RGB | u32::from(r) << 16 | u32::from(g) << 8 | u32::from(b),
        Color::Indexed(i) => INDEXED | u32::from(i),
        _ => 0,
    }
}

fn unpack(packed: u32) -> Option<Color> {
    let [kind, r, g, b] = packed.to_be_bytes();
    match u32::from(kind) << 24 {
        RGB => Some(Color::Rgb(r, g, b)),
        INDEXED => Some(Color::Indexed(b)),
        _ => None,
    }
}

/// The roles' colours from now on: those `colours` names (a theme's), the terminal's own for
/// the rest (all of them with none named).
pub fn set_palette(colours: &[(Role, Option<Color>)]) {
    for slot in &PALETTE {
        slot.store(0, Ordering::Relaxed);
    }
    for (role, colour) in colours {
        PALETTE[*role as usize].store(colour.map_or(0, pack), Ordering::Relaxed);
    }
}

/// The role's colour: the theme's, else `terminal`.
fn role(role: Role, terminal: Color) -> Style {
    fg(unpack(PALETTE[role as usize].load(Ordering::Relaxed)).unwrap_or(terminal))
}

/// What to act on or look at: the prompt mark, the model, a step, a selected row.
pub fn accent() -> Style {
    role(Role::Accent, Color::Cyan)
}

/// Secondary text: hints, placeholders, finished plan steps, borders of code blocks.
pub fn dim() -> Style {
    role(Role::Dim, Color::DarkGray)
}

/// Success: a login, an approval, a command that passed, an added line.
pub fn good() -> Style {
    role(Role::Good, Color::Green)
}

/// Waiting or worth a look: a running tool, a retry, a warning.
pub fn warn() -> Style {
    role(Role::Warn, Color::Yellow)
}

/// Failure: an error, a denial, a removed line.
pub fn bad() -> Style {
    role(Role::Bad, Color::Red)
}

/// A tool's name, and Markdown headings.
pub fn tool() -> Style {
    role(Role::Tool, Color::Magenta)
}

/// A link: underlined either way.
pub fn link() -> Style {
    role(Role::Link, Color::Blue).add_modifier(Modifier::UNDERLINED)
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

/// A syntax-highlighting colour; `None`: the terminal's default.
pub fn code(colour: Option<Color>) -> Style {
    colour.map_or_else(Style::new, fg)
}

/// The QR code's cells: explicit black on white, colours or not (see the module docs).
pub fn qr() -> Style {
    Style::new().fg(Color::Black).bg(Color::White)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A theme's colours pack and unpack whole; a role it leaves out stays the terminal's.
    #[test]
    fn a_palette_holds_each_roles_colour_and_lets_go_of_it() {
        for colour in [
            Color::Rgb(0x62, 0x72, 0xa4),
            Color::Indexed(5),
            Color::Rgb(0, 0, 0),
        ] {
            assert_eq!(unpack(pack(colour)), Some(colour));
        }
        assert_eq!(unpack(pack(Color::Reset)), None);
        if !colors() {
            return;
        }
        set_palette(&[(Role::Dim, Some(Color::Rgb(1, 2, 3))), (Role::Bad, None)]);
        assert_eq!(dim().fg, Some(Color::Rgb(1, 2, 3)));
        assert_eq!(bad().fg, Some(Color::Red));
        set_palette(&[]);
        assert_eq!(dim().fg, Some(Color::DarkGray));
    }
}
