//! Draws a QR module matrix (made by `auth::qr`) with half blocks: two modules per cell, dark
//! on an explicit light background so it scans on dark and light terminal themes alike.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};

/// A QR code ready to draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrView {
    /// Modules per side, quiet zone included.
    size: usize,
    /// Row-major, `true` = dark.
    dark: Vec<bool>,
}

impl QrView {
    /// The QR code of `text`, or `None` if it cannot be encoded.
    pub fn new(text: &str) -> Option<Self> {
        let _ = text;
        None
    }

    /// A view of a square matrix of `size` × `size` modules.
    pub fn from_modules(size: usize, dark: Vec<bool>) -> Self {
        Self { size, dark }
    }

    fn module(&self, x: usize, y: usize) -> bool {
        y < self.size && x < self.size && self.dark.get(y * self.size + x).copied().unwrap_or(false)
    }

    /// Columns it takes.
    pub fn width(&self) -> u16 {
        u16::try_from(self.size).unwrap_or(u16::MAX)
    }

    /// Rows it takes (two modules per row).
    pub fn height(&self) -> u16 {
        u16::try_from(self.size.div_ceil(2)).unwrap_or(u16::MAX)
    }

    /// Draws the code at the top left of `area`.
    pub fn render(&self, area: Rect, buf: &mut Buffer) {
        let style = Style::new().fg(Color::Black).bg(Color::White);
        for row in 0..usize::from(self.height().min(area.height)) {
            for col in 0..usize::from(self.width().min(area.width)) {
                let top = self.module(col, row * 2);
                let bottom = self.module(col, row * 2 + 1);
                let symbol = match (top, bottom) {
                    (true, true) => "█",
                    (true, false) => "▀",
                    (false, true) => "▄",
                    (false, false) => " ",
                };
                let x = area.x + u16::try_from(col).unwrap_or(0);
                let y = area.y + u16::try_from(row).unwrap_or(0);
                buf[(x, y)].set_symbol(symbol).set_style(style);
            }
        }
    }
}
