//! The scrollable list of history cells. Drawing walks only the cells on screen, so a frame
//! costs the same for ten cells as for ten thousand; the scroll position is an anchor (a cell
//! and a line in it), which stays put when new output arrives below.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::history_cell::HistoryCell;
use crate::tui::theme;
use crate::tui::wrap::draw_line;

/// Where the view is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scroll {
    /// Following the newest output.
    Bottom,
    /// The top row shows this line of this cell.
    Anchor { cell: usize, line: usize },
}

/// The transcript: cells, the scroll position, and whether details are expanded.
#[derive(Debug)]
pub struct Transcript {
    cells: Vec<HistoryCell>,
    scroll: Scroll,
    expanded: bool,
    width: u16,
    height: u16,
    /// Scrollback mode: the cell and line up to which the lines are in the terminal's
    /// scrollback already, and how many lines that cell had then.
    flushed: (usize, usize),
    flushed_of: usize,
}

impl Default for Transcript {
    fn default() -> Self {
        Self {
            cells: Vec::new(),
            scroll: Scroll::Bottom,
            expanded: false,
            width: 80,
            height: 24,
            flushed: (0, 0),
            flushed_of: 0,
        }
    }
}

impl Transcript {
    /// Appends a cell and returns its index.
    pub fn push(&mut self, cell: HistoryCell) -> usize {
        self.cells.push(cell);
        self.cells.len() - 1
    }

    /// The cell at `index`.
    pub fn get_mut(&mut self, index: usize) -> Option<&mut HistoryCell> {
        self.cells.get_mut(index)
    }

    /// The last cell.
    pub fn last_mut(&mut self) -> Option<&mut HistoryCell> {
        self.cells.last_mut()
    }

    /// All cells, to read.
    pub fn cells(&self) -> impl DoubleEndedIterator<Item = &HistoryCell> {
        self.cells.iter()
    }

    /// All cells.
    pub fn cells_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut HistoryCell> {
        self.cells.iter_mut()
    }

    /// How many cells there are.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether there are no cells.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Removes the cell at `index`; later cells move up by one, and a view anchored below it
    /// stays on the same content.
    pub fn remove(&mut self, index: usize) -> Option<HistoryCell> {
        if index >= self.cells.len() {
            return None;
        }
        let cell = self.cells.remove(index);
        self.flushed = match self.flushed.0.cmp(&index) {
            std::cmp::Ordering::Less => self.flushed,
            std::cmp::Ordering::Equal => (index, 0),
            std::cmp::Ordering::Greater => (self.flushed.0 - 1, self.flushed.1),
        };
        if let Scroll::Anchor { cell: anchor, line } = self.scroll {
            self.scroll = match anchor.cmp(&index) {
                std::cmp::Ordering::Less => self.scroll,
                std::cmp::Ordering::Equal => Scroll::Anchor {
                    cell: anchor,
                    line: 0,
                },
                std::cmp::Ordering::Greater => Scroll::Anchor {
                    cell: anchor - 1,
                    line,
                },
            };
        }
        Some(cell)
    }

    /// Removes the oldest cells until the others hold at most `bytes` of text (the newest
    /// always stays); returns how many were removed.
    pub fn drop_oldest(&mut self, bytes: usize) -> usize {
        let mut kept = 0usize;
        let keep_from = self
            .cells
            .iter()
            .rposition(|cell| {
                kept += cell.text_bytes();
                kept > bytes
            })
            .map_or(0, |over| (over + 1).min(self.cells.len() - 1));
        if keep_from == 0 {
            return 0;
        }
        self.cells.drain(..keep_from);
        self.flushed = match self.flushed.0.checked_sub(keep_from) {
            Some(cell) => (cell, self.flushed.1),
            None => (0, 0),
        };
        if let Scroll::Anchor { cell, line } = self.scroll {
            self.scroll = match cell.checked_sub(keep_from) {
                Some(cell) => Scroll::Anchor { cell, line },
                None => Scroll::Anchor { cell: 0, line: 0 },
            };
        }
        keep_from
    }

    /// Puts `cell` first.
    pub fn push_front(&mut self, cell: HistoryCell) {
        self.cells.insert(0, cell);
        self.flushed.0 += 1;
        if let Scroll::Anchor { cell, line } = self.scroll {
            self.scroll = Scroll::Anchor {
                cell: cell + 1,
                line,
            };
        }
    }

    /// Removes every cell and follows the bottom again.
    pub fn clear(&mut self) {
        self.cells.clear();
        self.flushed = (0, 0);
        self.scroll = Scroll::Bottom;
    }

    /// The scroll position.
    pub fn scroll(&self) -> Scroll {
        self.scroll
    }

    /// Whether reasoning and tool output are shown in full.
    pub fn expanded(&self) -> bool {
        self.expanded
    }

    /// Shows or hides details.
    pub fn toggle_expanded(&mut self) {
        self.expanded = !self.expanded;
        // Heights change, so a line anchor may point past a cell's end: keep the cell only.
        if let Scroll::Anchor { cell, .. } = self.scroll {
            self.scroll = Scroll::Anchor { cell, line: 0 };
        }
    }

    fn cell_width(&self) -> u16 {
        self.width.saturating_sub(2).max(4)
    }

    fn height_of(&mut self, index: usize) -> usize {
        let (w, e) = (self.cell_width(), self.expanded);
        self.cells[index].height(w, e)
    }

    /// The top of the view when following the bottom, or `None` if everything fits.
    fn bottom_top(&mut self) -> Option<(usize, usize)> {
        let mut remaining = usize::from(self.height);
        let mut i = self.cells.len();
        while i > 0 {
            i -= 1;
            let h = self.height_of(i);
            if h >= remaining {
                return Some((i, h - remaining));
            }
            remaining -= h;
        }
        None
    }

    fn top(&mut self) -> (usize, usize) {
        match self.scroll {
            Scroll::Anchor { cell, line } => (cell, line),
            Scroll::Bottom => self.bottom_top().unwrap_or((0, 0)),
        }
    }

    /// Whether at most a screenful remains from `(cell, line)` to the end.
    fn fits_from(&mut self, cell: usize, line: usize) -> bool {
        let mut rows = 0;
        for i in cell..self.cells.len() {
            rows += self.height_of(i);
            if i == cell {
                rows -= line.min(rows);
            }
            if rows > usize::from(self.height) {
                return false;
            }
        }
        true
    }

    /// Scrollback mode: the lines not yet in the terminal's scrollback that have gone above
    /// the view as it follows the bottom (with `all`, the ones in it too), at the width last
    /// drawn; from now on they count as there.
    pub fn take_scrolled_off(&mut self, all: bool) -> Vec<Line<'static>> {
        let end = match all {
            true => (self.cells.len(), 0),
            false => self.bottom_top().unwrap_or((0, 0)),
        };
        let (w, expanded) = (self.cell_width(), self.expanded);
        let mut taken = Vec::new();
        let (mut cell, mut line) = self.flushed;
        // A cell written in part and laid out again since (a new width, details shown, a
        // table that grew) counts as written in the same share.
        if line > 0 && cell < self.cells.len() && self.flushed_of > 0 {
            let now = self.cells[cell].lines(w, expanded).len();
            line = line * now / self.flushed_of;
        }
        while (cell, line) < end && cell < self.cells.len() {
            let lines = self.cells[cell].lines(w, expanded);
            let stop = if cell == end.0 { end.1 } else { lines.len() };
            taken.extend(lines.iter().take(stop).skip(line).cloned());
            (cell, line) = if stop < lines.len() {
                (cell, stop)
            } else {
                (cell + 1, 0)
            };
        }
        self.flushed = (cell, line);
        self.flushed_of = match self.cells.get_mut(cell) {
            Some(partly) if line > 0 => partly.lines(w, expanded).len(),
            _ => 0,
        };
        taken
    }

    /// Scrolls up by `n` rows.
    pub fn scroll_up(&mut self, n: usize) {
        if self.cells.is_empty() || self.bottom_top().is_none() {
            return;
        }
        let (mut cell, mut line) = self.top();
        let mut n = n;
        while n > 0 {
            if line > 0 {
                let d = line.min(n);
                line -= d;
                n -= d;
            } else if cell == 0 {
                break;
            } else {
                cell -= 1;
                line = self.height_of(cell);
            }
        }
        self.scroll = Scroll::Anchor { cell, line };
    }

    /// Scrolls down by `n` rows; reaching the end follows the bottom again.
    pub fn scroll_down(&mut self, n: usize) {
        let Scroll::Anchor { mut cell, mut line } = self.scroll else {
            return;
        };
        line += n;
        while cell + 1 < self.cells.len() {
            let h = self.height_of(cell);
            if line < h {
                break;
            }
            line -= h;
            cell += 1;
        }
        self.scroll = if self.fits_from(cell, line) {
            Scroll::Bottom
        } else {
            Scroll::Anchor { cell, line }
        };
    }

    /// Scrolls up a page.
    pub fn page_up(&mut self) {
        self.scroll_up(usize::from(self.height.saturating_sub(1)).max(1));
    }

    /// Scrolls down a page.
    pub fn page_down(&mut self) {
        self.scroll_down(usize::from(self.height.saturating_sub(1)).max(1));
    }

    /// Jumps to the first line.
    pub fn scroll_to_top(&mut self) {
        if self.bottom_top().is_some() {
            self.scroll = Scroll::Anchor { cell: 0, line: 0 };
        }
    }

    /// Follows the newest output.
    pub fn scroll_to_bottom(&mut self) {
        self.scroll = Scroll::Bottom;
    }

    /// Draws the visible part into `area`.
    pub fn render(&mut self, area: Rect, buf: &mut Buffer) {
        self.width = area.width;
        self.height = area.height;
        if area.height == 0 || area.width < 3 {
            return;
        }
        if let Scroll::Anchor { cell, line } = self.scroll
            && (cell >= self.cells.len() || self.fits_from(cell, line))
        {
            self.scroll = Scroll::Bottom;
        }
        let (start_cell, start_line) = self.top();
        let (w, expanded) = (self.cell_width(), self.expanded);
        let x = area.x + 1;
        // Scrolled up, the last row is the hint's own: it covers no line of the transcript.
        let scrolled = self.scroll != Scroll::Bottom;
        let bottom = area.y + area.height - u16::from(scrolled && area.height > 1);
        let mut y = area.y;
        let mut skip = start_line;
        for cell in self.cells.iter_mut().skip(start_cell) {
            let lines = cell.lines(w, expanded);
            for line in lines.iter().skip(skip) {
                if y >= bottom {
                    break;
                }
                draw_line(buf, x, y, line, w);
                y += 1;
            }
            skip = 0;
            if y >= bottom {
                break;
            }
        }
        if scrolled {
            let hint = Line::styled(" ↓ more below · End to follow ", theme::selection());
            let hint_width = 30.min(area.width);
            draw_line(
                buf,
                area.x + area.width - hint_width,
                area.y + area.height - 1,
                &hint,
                hint_width,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::history_cell::CellKind;

    fn transcript(n: usize) -> Transcript {
        let mut t = Transcript::default();
        for i in 0..n {
            t.push(HistoryCell::new(CellKind::Notice(format!("message {i}"))));
        }
        t
    }

    fn top_text(t: &mut Transcript, area: Rect) -> String {
        let mut buf = Buffer::empty(area);
        t.render(area, &mut buf);
        (0..area.width)
            .map(|x| buf[(x, 0)].symbol().to_string())
            .collect::<String>()
            .trim()
            .to_string()
    }

    #[test]
    fn follows_the_bottom_and_stays_put_when_scrolled_up() {
        let area = Rect::new(0, 0, 30, 10);
        let mut t = transcript(100);
        // Each cell is two rows (text + gap): the last five cells fill the view.
        assert_eq!(top_text(&mut t, area), "• message 95");
        t.scroll_up(4);
        assert_eq!(top_text(&mut t, area), "• message 93");
        t.push(HistoryCell::new(CellKind::Notice("new".into())));
        assert_eq!(top_text(&mut t, area), "• message 93");
        t.scroll_down(100);
        assert_eq!(t.scroll(), Scroll::Bottom);
        assert_eq!(top_text(&mut t, area), "• message 96");
        t.scroll_to_top();
        assert_eq!(top_text(&mut t, area), "• message 0");
        // A page is the view less one row: nine rows down is the gap after message 4.
        t.page_down();
        assert_eq!(t.scroll(), Scroll::Anchor { cell: 4, line: 1 });
    }

    /// Scrollback mode: each line goes into the history once, as it leaves the view, and the
    /// place written up to follows the cells when old ones are dropped.
    #[test]
    fn lines_leave_for_the_scrollback_once_each() {
        let area = Rect::new(0, 0, 30, 4);
        let mut t = transcript(3);
        top_text(&mut t, area);
        let text = |lines: Vec<Line<'static>>| -> Vec<String> {
            lines.iter().map(|line| line.to_string()).collect()
        };
        // Six rows, four in view: message 0 and its gap are above it.
        assert_eq!(text(t.take_scrolled_off(false)), ["• message 0", ""]);
        assert!(t.take_scrolled_off(false).is_empty(), "not twice");
        t.push(HistoryCell::new(CellKind::Notice("message 3".into())));
        assert_eq!(text(t.take_scrolled_off(false)), ["• message 1", ""]);
        // The oldest two dropped: what is written stays written.
        t.drop_oldest(20);
        t.push(HistoryCell::new(CellKind::Notice("message 4".into())));
        assert_eq!(text(t.take_scrolled_off(false)), ["• message 2", ""]);
        assert_eq!(
            text(t.take_scrolled_off(true)),
            ["• message 3", "", "• message 4", ""],
            "leaving takes the rest"
        );
    }

    #[test]
    fn short_transcripts_start_at_the_top_and_do_not_scroll() {
        let area = Rect::new(0, 0, 30, 10);
        let mut t = transcript(2);
        t.scroll_up(3);
        assert_eq!(t.scroll(), Scroll::Bottom);
        assert_eq!(top_text(&mut t, area), "• message 0");
    }
}
