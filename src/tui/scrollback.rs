//! Scrollback mode (`--no-alt-screen`, `[tui] alternate_screen = "never"`, `/tui`): the UI
//! draws on the terminal's own screen, and the transcript's lines that have gone above the view
//! are written into the terminal's scrollback, where its own selection and search (tmux's
//! copy-mode among them) find them. Lines go there by the one move every terminal keeps: rows
//! scrolled off the top of a screen-wide scroll. The screen is blanked through ratatui first,
//! so its idea of the screen stays true, and the next frame draws the UI whole; all of it in
//! one synchronized update. During a turn this happens at most every [`FLUSH_EVERY`], so a
//! long answer does not repaint the screen for each line it adds; the lines wait meanwhile,
//! never lost. On leaving, what the screen shows is written too, and stays above the shell's
//! prompt.

use std::io::{self, Write};
use std::time::Duration;

use crossterm::cursor::MoveTo;
use crossterm::queue;
use ratatui::backend::Backend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::terminal::Tui;
use super::wrap::draw_line;

/// During a turn, lines go into the scrollback at most this often.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// Writes `lines` into the scrollback above the UI; the caller draws the UI again after.
pub fn flush(terminal: &mut Tui, lines: &[Line<'static>]) -> io::Result<()> {
    write_lines(terminal, lines, false)
}

/// Leaving: writes `lines` (the rest of the transcript) where the UI was, the cursor below
/// them for the shell.
pub fn leave(terminal: &mut Tui, lines: &[Line<'static>]) -> io::Result<()> {
    write_lines(terminal, lines, true)
}

/// The screen blanked through ratatui, then `lines` drawn from the top a screenful at a time,
/// each screenful scrolled off into the scrollback; with `keep_last`, the last one stays on
/// the screen and the cursor goes below it.
fn write_lines(terminal: &mut Tui, lines: &[Line<'static>], keep_last: bool) -> io::Result<()> {
    let size = terminal.size()?;
    let (width, rows) = (size.width.max(1), size.height.max(1));
    // The blank frame writes only what differs from the last one, and leaves ratatui sure the
    // screen is blank, as it is after the scroll.
    terminal.draw(|frame| frame.buffer_mut().reset())?;
    let chunks: Vec<&[Line<'static>]> = lines.chunks(usize::from(rows)).collect();
    let out = terminal.backend_mut();
    for (i, chunk) in chunks.iter().enumerate() {
        let height = u16::try_from(chunk.len()).unwrap_or(rows);
        let mut buffer = Buffer::empty(Rect::new(0, 0, width, height));
        for (row, line) in chunk.iter().enumerate() {
            let y = u16::try_from(row).unwrap_or(0);
            // The transcript's margin: one column on the left.
            draw_line(&mut buffer, 1, y, line, width.saturating_sub(1));
        }
        // Each row up to its last character only (the screen is blank past it): a line kept
        // without trailing blanks reflows whole when the terminal is narrowed, and copies so.
        let w = usize::from(width);
        let ends: Vec<usize> = buffer
            .content
            .chunks(w)
            .map(|row| {
                row.iter()
                    .rposition(|cell| cell.symbol() != " ")
                    .map_or(0, |at| at + 1)
            })
            .collect();
        let cells = buffer.content.iter().enumerate().filter_map(|(at, cell)| {
            let (x, y) = (at % w, at / w);
            (x < ends[y]).then(|| {
                (
                    u16::try_from(x).unwrap_or(0),
                    u16::try_from(y).unwrap_or(0),
                    cell,
                )
            })
        });
        Backend::draw(out, cells)?;
        crossterm::queue!(out, crossterm::style::ResetColor)?;
        if keep_last && i + 1 == chunks.len() {
            queue!(out, MoveTo(0, height.min(rows - 1)))?;
            if height >= rows {
                out.write_all(b"\n")?;
            }
        } else {
            queue!(out, MoveTo(0, rows - 1))?;
            out.write_all("\n".repeat(chunk.len()).as_bytes())?;
            queue!(out, MoveTo(0, 0))?;
        }
    }
    Write::flush(out)
}
