//! Draws the shared QR code (`crate::qr`, half-block cells) into a ratatui buffer: dark modules
//! as a black foreground on an explicit white background, so it scans on any terminal theme.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use crate::qr::QrCells;
use crate::tui::theme;

/// A QR code ready to draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrView {
    cells: QrCells,
}

impl QrView {
    /// The QR code of `text`, or `None` if it cannot be encoded.
    pub fn new(text: &str) -> Option<Self> {
        QrCells::new(text).ok().map(|cells| Self { cells })
    }

    /// Columns it takes.
    pub fn width(&self) -> u16 {
        u16::try_from(self.cells.width()).unwrap_or(u16::MAX)
    }

    /// Rows it takes.
    pub fn height(&self) -> u16 {
        u16::try_from(self.cells.rows().len()).unwrap_or(u16::MAX)
    }

    /// Draws the code at the top left of `area`; what does not fit is left out.
    pub fn render(&self, area: Rect, buf: &mut Buffer) {
        let style = theme::qr();
        for (row, cells) in self
            .cells
            .rows()
            .iter()
            .enumerate()
            .take(usize::from(area.height))
        {
            for (col, cell) in cells.iter().enumerate().take(usize::from(area.width)) {
                let x = area.x + u16::try_from(col).unwrap_or(0);
                let y = area.y + u16::try_from(row).unwrap_or(0);
                let mut symbol = [0u8; 4];
                buf[(x, y)]
                    .set_symbol(cell.symbol().encode_utf8(&mut symbol))
                    .set_style(style);
            }
        }
    }
}
