//! A list to pick from, drawn above the composer: slash-command completion, models, approval
//! modes.

use crate::tui::theme;
use crate::tui::wrap::draw_line;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Widget};
use unicode_width::UnicodeWidthStr;

/// One row of a picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickerItem {
    /// What is picked.
    pub label: String,
    /// A short explanation, dimmed.
    pub detail: String,
    /// Marks the value in use.
    pub current: bool,
}

/// What a key did to a picker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickerAction {
    /// Not a picker key.
    Ignored,
    /// The selection moved.
    Moved,
    /// Enter on the item at this index.
    Chosen(usize),
    /// Esc.
    Closed,
}

/// A titled list with a selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picker {
    /// The heading above the list.
    pub title: String,
    /// The rows.
    pub items: Vec<PickerItem>,
    /// The selected row.
    pub selected: usize,
    /// Shown when there are no rows.
    pub empty: String,
}

/// Rows a picker shows at most: the 14 slash commands, all of them at once in an 80×24 window
/// (the `slash_popup_all` snapshot); longer lists scroll, and say how many rows are out of sight.
const MAX_ROWS: usize = 14;

impl Picker {
    /// A picker over `items` with the current one selected.
    pub fn new(title: &str, items: Vec<PickerItem>, empty: &str) -> Self {
        let selected = items.iter().position(|i| i.current).unwrap_or(0);
        Self {
            title: title.to_string(),
            items,
            selected,
            empty: empty.to_string(),
        }
    }

    /// Replaces the rows, keeping the selection on the current item.
    pub fn set_items(&mut self, items: Vec<PickerItem>) {
        self.selected = items.iter().position(|i| i.current).unwrap_or(0);
        self.items = items;
    }

    /// Handles ↑/↓, Enter and Esc.
    pub fn handle_key(&mut self, key: KeyEvent) -> PickerAction {
        let n = self.items.len();
        match key.code {
            KeyCode::Up if n > 0 => {
                self.selected = (self.selected + n - 1) % n;
                PickerAction::Moved
            }
            KeyCode::Down | KeyCode::Tab if n > 0 => {
                self.selected = (self.selected + 1) % n;
                PickerAction::Moved
            }
            KeyCode::Enter if n > 0 => PickerAction::Chosen(self.selected.min(n - 1)),
            KeyCode::Esc => PickerAction::Closed,
            _ => PickerAction::Ignored,
        }
    }

    /// Rows the picker needs (title + list).
    pub fn height(&self) -> u16 {
        let rows = self.items.len().clamp(1, MAX_ROWS);
        u16::try_from(rows + 1).unwrap_or(2)
    }

    /// Draws the picker into `area`.
    pub fn render(&self, area: Rect, buf: &mut Buffer) {
        Clear.render(area, buf);
        let dim = theme::dim();
        let visible = usize::from(area.height.saturating_sub(1));
        let first = (self.selected + 1).saturating_sub(visible);
        // Rows out of sight are said, so nobody takes the list for all there is.
        let below = self.items.len().saturating_sub(first + visible);
        let mut more = Vec::new();
        if first > 0 {
            more.push(format!("↑ {first} more"));
        }
        if below > 0 {
            more.push(format!("↓ {below} more"));
        }
        let mut title = vec![
            Span::styled(format!(" {} ", self.title), Style::new().bold()),
            Span::styled("↑↓ move · enter choose · esc close", dim),
        ];
        if !more.is_empty() {
            title.push(Span::styled(
                format!(" · {}", more.join(" · ")),
                theme::warn(),
            ));
        }
        draw_line(buf, area.x, area.y, &Line::from(title), area.width);
        if self.items.is_empty() {
            let line = Line::styled(format!("   {}", self.empty), dim);
            draw_line(buf, area.x, area.y + 1, &line, area.width);
            return;
        }
        let label_width = self
            .items
            .iter()
            .map(|i| i.label.width())
            .max()
            .unwrap_or(0);
        for (row, (i, item)) in self
            .items
            .iter()
            .enumerate()
            .skip(first)
            .take(visible)
            .enumerate()
        {
            let selected = i == self.selected;
            let style = if selected {
                theme::accent().bold()
            } else {
                Style::new()
            };
            let marker = if selected { " › " } else { "   " };
            let current = if item.current { " (current)" } else { "" };
            let pad = " ".repeat(label_width.saturating_sub(item.label.width()) + 2);
            let line = Line::from(vec![
                Span::styled(marker, style),
                Span::styled(item.label.clone(), style),
                Span::raw(pad),
                Span::styled(format!("{}{current}", item.detail), dim),
            ]);
            let y = area.y + 1 + u16::try_from(row).unwrap_or(0);
            draw_line(buf, area.x, y, &line, area.width);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    #[test]
    fn selection_starts_on_the_current_item_and_wraps() {
        let item = |label: &str, current| PickerItem {
            label: label.into(),
            detail: String::new(),
            current,
        };
        let mut p = Picker::new("Model", vec![item("a", false), item("b", true)], "none");
        assert_eq!(p.selected, 1);
        p.handle_key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE));
        assert_eq!(
            p.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
            PickerAction::Chosen(0)
        );
    }
}
