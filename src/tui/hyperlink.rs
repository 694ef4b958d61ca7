//! URLs on screen as OSC 8 hyperlinks, so a terminal that supports them opens the whole URL on
//! a click even where it wraps across rows. Applied to a finished frame: each row's piece of a
//! URL goes into its first cell, wrapped in the link's escape sequence, with a forced width so
//! ratatui's diff leaves the rest of the piece's cells alone.
//!
//! A URL laid out edge to edge (its rows full to the last column, going on at column 0) is
//! written as one run instead, so the terminal wraps it itself and marks its rows as one line:
//! a mouse selection, tmux's copy mode included, then copies the URL whole.

use std::num::NonZeroU16;

use ratatui::buffer::{Buffer, CellDiffOption};

/// Where a URL starts.
const SCHEMES: [&str; 2] = ["https://", "http://"];

/// A URL's piece on one row: `x..end` on row `y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Piece {
    y: u16,
    x: u16,
    end: u16,
}

/// Turns every URL in `buf` into a hyperlink.
pub fn mark(buf: &mut Buffer) {
    let area = buf.area;
    let rows: Vec<Vec<char>> = (area.top()..area.bottom())
        .map(|y| row_chars(buf, y))
        .collect();
    let mut links: Vec<(String, Vec<Piece>)> = Vec::new();
    let mut y = 0;
    while y < rows.len() {
        let mut x = 0;
        let mut next_row = y + 1;
        while let Some(start) = find_scheme(&rows[y], x) {
            let end = url_end(&rows[y], start);
            let mut url: String = rows[y][start..end].iter().collect();
            let mut pieces = vec![piece(area.top(), y, start, end)];
            // A URL that runs to the edge of the screen (a margin column allowed) goes on at
            // the start of the next row.
            let width = usize::from(area.width);
            let mut row = y;
            let mut row_end = end;
            while row_end + 1 >= width && row + 1 < rows.len() {
                let next = &rows[row + 1];
                let Some(from) = next.iter().position(|c| *c != ' ') else {
                    break;
                };
                let to = url_end(next, from);
                if to == from || find_scheme(next, from) == Some(from) {
                    break;
                }
                url.extend(&next[from..to]);
                pieces.push(piece(area.top(), row + 1, from, to));
                row += 1;
                row_end = to;
                next_row = row + 1;
            }
            let url = url
                .trim_end_matches(['.', ',', ';', ':', ')', '\'', '"'])
                .to_string();
            let shown: usize = pieces.iter().map(|p| usize::from(p.end - p.x)).sum();
            trim_last_piece(&mut pieces, shown.saturating_sub(url.chars().count()));
            links.push((url, pieces));
            if row != y {
                break;
            }
            x = end;
        }
        y = next_row.max(y + 1);
    }
    for (id, (url, pieces)) in links.iter().enumerate() {
        if let Some(run) = edge_to_edge(pieces, area.width) {
            link_piece(buf, area.left(), run, url, id);
            continue;
        }
        for p in pieces {
            link_piece(buf, area.left(), *p, url, id);
        }
    }
}

/// The pieces as one run in the terminal's flow (`end` counted from the first row's start),
/// when each row but the last is full to the edge and each but the first starts at column 0.
fn edge_to_edge(pieces: &[Piece], width: u16) -> Option<Piece> {
    let (first, last) = (pieces.first()?, pieces.last()?);
    if pieces.len() < 2 {
        return None;
    }
    let flows = pieces
        .windows(2)
        .all(|pair| pair[0].end == width && pair[1].x == 0 && pair[1].y == pair[0].y + 1);
    let rows = last.y - first.y;
    let end = rows.checked_mul(width)?.checked_add(last.end)?;
    flows.then_some(Piece {
        y: first.y,
        x: first.x,
        end,
    })
}

fn piece(top: u16, row: usize, start: usize, end: usize) -> Piece {
    let at = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    Piece {
        y: top + at(row),
        x: at(start),
        end: at(end),
    }
}

/// Takes `cut` characters (trimmed punctuation) off the end of the last pieces.
fn trim_last_piece(pieces: &mut Vec<Piece>, mut cut: usize) {
    while cut > 0 {
        let Some(last) = pieces.last_mut() else {
            return;
        };
        let len = usize::from(last.end - last.x);
        if len > cut {
            last.end -= u16::try_from(cut).unwrap_or(0);
            return;
        }
        cut -= len;
        pieces.pop();
    }
}

/// The row's characters, one per cell; a wide character's trailing cell is a NUL, so nothing
/// matches across it.
fn row_chars(buf: &Buffer, y: u16) -> Vec<char> {
    let area = buf.area;
    let mut out: Vec<char> = (area.left()..area.right())
        .map(|x| {
            let symbol = buf[(x, y)].symbol();
            let mut chars = symbol.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_ascii_graphic() || c == ' ' => c,
                _ => '\0',
            }
        })
        .collect();
    while out.last() == Some(&' ') {
        out.pop();
    }
    out
}

fn find_scheme(row: &[char], from: usize) -> Option<usize> {
    (from..row.len()).find(|&i| {
        SCHEMES.iter().any(|scheme| {
            scheme.len() <= row.len() - i && scheme.chars().zip(&row[i..]).all(|(a, b)| a == *b)
        })
    })
}

/// Where the URL that starts at `start` ends: at a space, a quote, a bracket that cannot be
/// part of it, or anything not printable ASCII.
fn url_end(row: &[char], start: usize) -> usize {
    row[start..]
        .iter()
        .position(|c| {
            !c.is_ascii_graphic()
                || matches!(c, '"' | '<' | '>' | '`' | '\\' | '{' | '}' | '|' | '^')
        })
        .map_or(row.len(), |n| start + n)
}

/// Puts the piece's text into its first cell inside the link's escape sequence. The `id` ties
/// a wrapped URL's pieces together, so the terminal underlines them as one. A piece may run
/// past the row's end into the rows below (an edge-to-edge run).
fn link_piece(buf: &mut Buffer, left: u16, piece: Piece, url: &str, id: usize) {
    let Some(width) = NonZeroU16::new(piece.end.saturating_sub(piece.x)) else {
        return;
    };
    let row = buf.area.width.max(1);
    let text: String = (piece.x..piece.end)
        .map(|x| {
            buf[(left + x % row, piece.y + x / row)]
                .symbol()
                .to_string()
        })
        .collect();
    let symbol = format!("\x1b]8;id=kelp{id};{url}\x1b\\{text}\x1b]8;;\x1b\\");
    buf[(left + piece.x, piece.y)]
        .set_symbol(&symbol)
        .set_diff_option(CellDiffOption::ForcedWidth(width));
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;

    fn links(lines: &[&str]) -> Vec<String> {
        let width = lines.iter().map(|l| l.len()).max().unwrap_or(1) as u16;
        let mut buf = Buffer::empty(Rect::new(0, 0, width, lines.len() as u16));
        for (y, line) in lines.iter().enumerate() {
            buf.set_string(0, y as u16, line, ratatui::style::Style::new());
        }
        mark(&mut buf);
        let mut out = Vec::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                let symbol = buf[(x, y)].symbol();
                if let Some(rest) = symbol.strip_prefix("\x1b]8;id=") {
                    out.push(rest.replace("\x1b\\", "|").replace("\x1b]8;;", ""));
                }
            }
        }
        out
    }

    #[test]
    fn a_url_is_linked_without_its_trailing_punctuation() {
        assert_eq!(
            links(&["see docs (https://x.y/a?b=1). next"]),
            ["kelp0;https://x.y/a?b=1|https://x.y/a?b=1|"]
        );
    }

    #[test]
    fn a_wrapped_url_is_one_link_over_its_rows() {
        assert_eq!(
            links(&[
                " open https://auth.example/cod",
                "   ex/device?x=1",
                " then more"
            ]),
            [
                "kelp0;https://auth.example/codex/device?x=1|https://auth.example/cod|",
                "kelp0;https://auth.example/codex/device?x=1|ex/device?x=1|",
            ]
        );
    }

    #[test]
    fn a_url_laid_edge_to_edge_is_one_run_the_terminal_wraps() {
        let found = links(&["go https://a.b/", "cdefghijklmnopq", "rs then"]);
        assert_eq!(
            found,
            ["kelp0;https://a.b/cdefghijklmnopqrs|https://a.b/cdefghijklmnopqrs|"]
        );
        let mut buf = Buffer::empty(Rect::new(0, 0, 15, 3));
        for (y, line) in ["go https://a.b/", "cdefghijklmnopq", "rs then"]
            .iter()
            .enumerate()
        {
            buf.set_string(0, y as u16, line, ratatui::style::Style::new());
        }
        mark(&mut buf);
        // The diff writes the run once, from its first cell, and skips the cells it covers.
        let empty = Buffer::empty(buf.area);
        let written: Vec<(u16, u16)> = empty.diff(&buf).iter().map(|(x, y, _)| (*x, *y)).collect();
        assert_eq!(
            written,
            [(0, 0), (1, 0), (3, 0), (3, 2), (4, 2), (5, 2), (6, 2)]
        );
    }

    #[test]
    fn text_without_urls_is_left_alone() {
        assert!(links(&["nothing to see: http:/ broken", "https:"]).is_empty());
    }
}
