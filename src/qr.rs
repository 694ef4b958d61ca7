//! The QR code of a URL (the device-login page), drawn with Unicode half blocks: two modules per
//! character cell, dark modules as the foreground, light ones as the background, both explicit
//! so the code scans the same on a light or a dark terminal theme.

use qrcode::{Color, QrCode};
use thiserror::Error;

/// Light modules around the code. The standard asks for 4; 2 scans reliably on phones because
/// we paint the margin explicitly white, and keeps the code small enough for a dialog.
pub const QUIET_ZONE: usize = 2;

/// Explicit black foreground and white background (256-colour cube, not the theme's palette).
const ANSI_COLOURS: &str = "\x1b[38;5;16;48;5;231m";
const ANSI_RESET: &str = "\x1b[0m";

/// The data does not fit in a QR code.
#[derive(Debug, Error)]
#[error("cannot draw a QR code for this text: {0}")]
pub struct QrError(String);

/// One character cell: the module in its upper and lower half (`true` = dark).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HalfBlock {
    /// The upper module is dark.
    pub top: bool,
    /// The lower module is dark.
    pub bottom: bool,
}

impl HalfBlock {
    /// The character to draw with a dark foreground on a light background.
    pub fn symbol(self) -> char {
        match (self.top, self.bottom) {
            (true, true) => '█',
            (true, false) => '▀',
            (false, true) => '▄',
            (false, false) => ' ',
        }
    }

    /// The inverse of [`HalfBlock::symbol`].
    pub fn from_symbol(symbol: char) -> Option<Self> {
        let (top, bottom) = match symbol {
            '█' => (true, true),
            '▀' => (true, false),
            '▄' => (false, true),
            ' ' => (false, false),
            _ => return None,
        };
        Some(Self { top, bottom })
    }
}

/// A QR code as rows of half-block cells, quiet zone included; terminal-independent so the CLI
/// and the TUI draw the same thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrCells {
    rows: Vec<Vec<HalfBlock>>,
}

impl QrCells {
    /// The QR code of `data` (error correction M, the crate's default).
    pub fn new(data: &str) -> Result<Self, QrError> {
        let code = QrCode::new(data.as_bytes()).map_err(|e| QrError(e.to_string()))?;
        Ok(Self::from_modules(&modules_with_quiet_zone(&code)))
    }

    /// Packs a square module matrix (`true` = dark) two rows per cell row; an odd last row is
    /// paired with a light one.
    fn from_modules(modules: &[Vec<bool>]) -> Self {
        let rows = modules
            .chunks(2)
            .map(|pair| {
                let top = &pair[0];
                let bottom = pair.get(1);
                top.iter()
                    .enumerate()
                    .map(|(x, &dark)| HalfBlock {
                        top: dark,
                        bottom: bottom.is_some_and(|row| row[x]),
                    })
                    .collect()
            })
            .collect();
        Self { rows }
    }

    /// The cell rows, top to bottom.
    pub fn rows(&self) -> &[Vec<HalfBlock>] {
        &self.rows
    }

    /// Width in character cells.
    pub fn width(&self) -> usize {
        self.rows.first().map_or(0, Vec::len)
    }

    /// The code as lines of text with explicit black-on-white ANSI colours, for a terminal.
    pub fn to_ansi(&self) -> String {
        let mut out = String::new();
        for row in &self.rows {
            out.push_str(ANSI_COLOURS);
            out.extend(row.iter().map(|cell| cell.symbol()));
            out.push_str(ANSI_RESET);
            out.push('\n');
        }
        out
    }
}

/// The module matrix of `code` with [`QUIET_ZONE`] light modules on every side.
pub fn modules_with_quiet_zone(code: &QrCode) -> Vec<Vec<bool>> {
    let width = code.width();
    let colours = code.to_colors();
    let full = width + 2 * QUIET_ZONE;
    let mut modules = vec![vec![false; full]; full];
    for (i, colour) in colours.iter().enumerate() {
        modules[QUIET_ZONE + i / width][QUIET_ZONE + i % width] = *colour == Color::Dark;
    }
    modules
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://auth.openai.com/codex/device";

    /// Reads the rendered text back into a module matrix, as a scanner would see it.
    fn decode(ansi: &str) -> Vec<Vec<bool>> {
        let mut modules = Vec::new();
        for line in ansi.lines() {
            let body = line
                .strip_prefix(ANSI_COLOURS)
                .and_then(|l| l.strip_suffix(ANSI_RESET))
                .expect("every line carries explicit colours and a reset");
            let cells: Vec<HalfBlock> = body
                .chars()
                .map(|c| HalfBlock::from_symbol(c).expect("only half blocks"))
                .collect();
            modules.push(cells.iter().map(|c| c.top).collect::<Vec<_>>());
            modules.push(cells.iter().map(|c| c.bottom).collect::<Vec<_>>());
        }
        modules
    }

    #[test]
    fn rendered_half_blocks_decode_to_the_crates_matrix() {
        let code = QrCode::new(URL.as_bytes()).unwrap();
        let expected = modules_with_quiet_zone(&code);
        let qr = QrCells::new(URL).unwrap();
        let mut decoded = decode(&qr.to_ansi());
        // An odd module count leaves one padding row below, which must be light.
        if decoded.len() == expected.len() + 1 {
            let pad = decoded.pop().unwrap();
            assert!(pad.iter().all(|dark| !dark));
        }
        assert_eq!(decoded, expected);
        assert_eq!(qr.width(), code.width() + 2 * QUIET_ZONE);
    }

    #[test]
    fn the_quiet_zone_is_light_and_the_finder_corner_is_dark() {
        let qr = QrCells::new(URL).unwrap();
        let first = &qr.rows()[0];
        assert!(first.iter().all(|c| !c.top && !c.bottom), "top margin");
        for row in qr.rows() {
            assert!(!row[0].top && !row[0].bottom, "left margin");
        }
        // The finder pattern starts right after the margin.
        let corner = qr.rows()[QUIET_ZONE / 2][QUIET_ZONE];
        assert!(corner.top);
    }

    #[test]
    fn symbols_round_trip() {
        for top in [false, true] {
            for bottom in [false, true] {
                let cell = HalfBlock { top, bottom };
                assert_eq!(HalfBlock::from_symbol(cell.symbol()), Some(cell));
            }
        }
    }

    #[test]
    fn too_much_data_is_an_error() {
        assert!(QrCells::new(&"x".repeat(5000)).is_err());
    }
}
