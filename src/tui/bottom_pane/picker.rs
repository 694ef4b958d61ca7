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

impl PickerItem {
    /// Fixed choices (a label and its explanation each), none of them in use.
    pub fn choices(choices: &[(&str, &str)]) -> Vec<Self> {
        choices
            .iter()
            .map(|(label, detail)| Self {
                label: (*label).to_string(),
                detail: (*detail).to_string(),
                current: false,
            })
            .collect()
    }
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
    /// Type to search, when the picker offers it ([`Picker::searchable`]).
    search: Option<Search>,
    /// The keys it answers to, said after the title, when they are not a list's.
    keys_hint: Option<String>,
    /// Lines shown under the list for the selected row, by its index among all rows (the last
    /// exchange of a conversation to resume); none when empty.
    previews: Vec<Vec<Line<'static>>>,
}

/// Rows a preview takes at most.
const PREVIEW_ROWS: usize = 2;

/// A picker's search as its query is typed: every row, and which of them `items` shows, best
/// match first (nucleo's fuzzy score over the label and the detail).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Search {
    query: String,
    all: Vec<PickerItem>,
    shown: Vec<usize>,
    /// Rows found elsewhere for a query (a conversation that says it), by their index among
    /// all: shown after the rows the query matches, while it is that query.
    found: (String, Vec<usize>),
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
            search: None,
            keys_hint: None,
            previews: Vec::new(),
        }
    }

    /// Sets the lines shown under the list for each row (by its index among all rows).
    pub fn set_previews(&mut self, previews: Vec<Vec<String>>) {
        let said = |text: String| Line::styled(text, theme::dim().italic());
        self.previews = previews
            .into_iter()
            .map(|lines| lines.into_iter().map(said).collect())
            .collect();
    }

    /// Sets the lines shown under the list for each row, in their own colours (a theme's
    /// sample).
    pub fn set_styled_previews(&mut self, previews: Vec<Vec<Line<'static>>>) {
        self.previews = previews;
    }

    /// The selected row's index among all the rows (not only those a search shows); `None`
    /// when a search shows none.
    pub fn selected_row(&self) -> Option<usize> {
        match &self.search {
            Some(search) => search.shown.get(self.selected).copied(),
            None => (self.selected < self.items.len()).then_some(self.selected),
        }
    }

    /// The preview of the selected row.
    fn preview(&self) -> &[Line<'static>] {
        self.selected_row()
            .and_then(|at| self.previews.get(at))
            .map_or(&[], Vec::as_slice)
    }

    /// Rows kept under the list for previews: the most any row has.
    fn preview_rows(&self) -> usize {
        self.previews
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(0)
            .min(PREVIEW_ROWS)
    }

    /// Says these keys after the title in place of a list's (a picker waiting for a key).
    pub fn with_keys_hint(mut self, hint: &str) -> Self {
        self.keys_hint = Some(hint.to_string());
        self
    }

    /// Says something else above the rows (what a key press just did).
    pub fn set_title(&mut self, title: &str) {
        self.title = title.to_string();
    }

    /// The same picker, its rows searched as a query is typed (Backspace takes a character
    /// back); the index a choice reports is the row's among all of them.
    pub fn searchable(mut self) -> Self {
        self.search = Some(Search {
            shown: (0..self.items.len()).collect(),
            all: self.items.clone(),
            query: String::new(),
            found: (String::new(), Vec::new()),
        });
        self
    }

    /// Replaces the rows, keeping the selection on the current item (and the query typed).
    pub fn set_items(&mut self, items: Vec<PickerItem>) {
        self.selected = items.iter().position(|i| i.current).unwrap_or(0);
        match &mut self.search {
            Some(search) => {
                search.all = items;
                self.refilter();
            }
            None => self.items = items,
        }
    }

    /// Adds `items` after those listed, the cursor left where it is.
    pub fn add_items(&mut self, items: Vec<PickerItem>) {
        match &mut self.search {
            Some(search) => {
                search.all.extend(items);
                self.refilter();
            }
            None => self.items.extend(items),
        }
    }

    /// The query typed, when the picker is searchable.
    pub fn query(&self) -> Option<&str> {
        self.search.as_ref().map(|search| search.query.as_str())
    }

    /// Rows (by their index among all) found elsewhere for `query`: shown after those it
    /// matches, while it is the query typed (any case).
    pub fn set_found(&mut self, query: &str, rows: Vec<usize>) {
        if let Some(search) = &mut self.search {
            search.found = (query.to_string(), rows);
            self.refilter();
        }
    }

    /// Whether a search query is typed.
    pub fn searching(&self) -> bool {
        self.search
            .as_ref()
            .is_some_and(|search| !search.query.is_empty())
    }

    /// Row `at` among all the picker's rows (a choice's index), the ones a search hides too.
    pub fn row(&self, at: usize) -> Option<&PickerItem> {
        match &self.search {
            Some(search) => search.all.get(at),
            None => self.items.get(at),
        }
    }

    /// Shows the rows the query matches, best first, the best selected.
    fn refilter(&mut self) {
        let Some(search) = &mut self.search else {
            return;
        };
        if search.query.is_empty() {
            search.shown = (0..search.all.len()).collect();
        } else {
            use nucleo::pattern::{CaseMatching, Normalization, Pattern};
            let pattern = Pattern::parse(&search.query, CaseMatching::Smart, Normalization::Smart);
            let mut matcher = nucleo::Matcher::new(nucleo::Config::DEFAULT);
            let mut text = Vec::new();
            let mut scored: Vec<(usize, u32)> = search
                .all
                .iter()
                .enumerate()
                .filter_map(|(at, item)| {
                    let haystack = format!("{} {}", item.label, item.detail);
                    let score =
                        pattern.score(nucleo::Utf32Str::new(&haystack, &mut text), &mut matcher)?;
                    Some((at, score))
                })
                .collect();
            // Best first; equal scores keep the list's order (newest first for sessions).
            scored.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            search.shown = scored.into_iter().map(|(at, _)| at).collect();
            let (found_for, found) = &search.found;
            if found_for.trim().eq_ignore_ascii_case(search.query.trim()) {
                for at in found.iter().filter(|at| **at < search.all.len()) {
                    if !search.shown.contains(at) {
                        search.shown.push(*at);
                    }
                }
            }
            self.selected = 0;
        }
        self.items = search
            .shown
            .iter()
            .map(|&at| search.all[at].clone())
            .collect();
        self.selected = self.selected.min(self.items.len().saturating_sub(1));
    }

    /// Handles ↑/↓, Enter and Esc, and typing when the picker is searchable.
    pub fn handle_key(&mut self, key: KeyEvent) -> PickerAction {
        if let Some(search) = &mut self.search {
            let plain = !key.modifiers.intersects(
                crossterm::event::KeyModifiers::CONTROL | crossterm::event::KeyModifiers::ALT,
            );
            match key.code {
                KeyCode::Char(c) if plain => {
                    search.query.push(c);
                    self.refilter();
                    return PickerAction::Moved;
                }
                KeyCode::Backspace if search.query.pop().is_some() => {
                    self.refilter();
                    return PickerAction::Moved;
                }
                _ => {}
            }
        }
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
            KeyCode::Enter if n > 0 => {
                let at = self.selected.min(n - 1);
                let at = self
                    .search
                    .as_ref()
                    .and_then(|search| search.shown.get(at).copied())
                    .unwrap_or(at);
                PickerAction::Chosen(at)
            }
            KeyCode::Esc => PickerAction::Closed,
            _ => PickerAction::Ignored,
        }
    }

    /// Rows the picker needs (title + list).
    pub fn height(&self) -> u16 {
        let rows = self.items.len().clamp(1, MAX_ROWS) + self.preview_rows();
        u16::try_from(rows + 1).unwrap_or(2)
    }

    /// Draws the picker into `area`.
    pub fn render(&self, area: Rect, buf: &mut Buffer) {
        Clear.render(area, buf);
        let dim = theme::dim();
        let preview_rows = self
            .preview_rows()
            .min(usize::from(area.height.saturating_sub(2)));
        let visible = usize::from(area.height.saturating_sub(1)) - preview_rows;
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
        let mut title = vec![Span::styled(
            format!(" {} ", self.title),
            Style::new().bold(),
        )];
        match self.search.as_ref().map(|search| search.query.as_str()) {
            Some("") => title.push(Span::styled("type to search · ", dim)),
            Some(query) => {
                title.push(Span::styled(format!("“{query}” "), theme::accent()));
                title.push(Span::styled("· ", dim));
            }
            None => {}
        }
        let keys = self
            .keys_hint
            .as_deref()
            .unwrap_or("↑↓ move · enter choose · esc close");
        title.push(Span::styled(keys.to_string(), dim));
        if !more.is_empty() {
            title.push(Span::styled(
                format!(" · {}", more.join(" · ")),
                theme::warn(),
            ));
        }
        draw_line(buf, area.x, area.y, &Line::from(title), area.width);
        if self.items.is_empty() {
            let empty = match self.search.as_ref().map(|search| search.query.as_str()) {
                Some(query) if !query.is_empty() => format!("nothing matches “{query}”"),
                _ => self.empty.clone(),
            };
            let line = Line::styled(format!("   {empty}"), dim);
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
            // A narrow window cuts the detail, marked, and keeps "(current)" in sight.
            let room = usize::from(area.width)
                .saturating_sub(marker.width() + label_width + 2 + current.width());
            let detail = crate::tui::wrap::cut(&item.detail, room);
            let line = Line::from(vec![
                Span::styled(marker, style),
                Span::styled(item.label.clone(), style),
                Span::raw(pad),
                Span::styled(format!("{detail}{current}"), dim),
            ]);
            let y = area.y + 1 + u16::try_from(row).unwrap_or(0);
            draw_line(buf, area.x, y, &line, area.width);
        }
        let below_list = area.y + area.height - u16::try_from(preview_rows).unwrap_or(0);
        for (row, shown) in self.preview().iter().take(preview_rows).enumerate() {
            let mut line = shown.clone();
            line.spans.insert(0, Span::raw("   "));
            draw_line(
                buf,
                area.x,
                below_list + u16::try_from(row).unwrap_or(0),
                &line,
                area.width,
            );
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

    #[test]
    fn a_searchable_picker_shows_the_best_matches_and_chooses_among_all_rows() {
        let item = |label: &str, detail: &str| PickerItem {
            label: label.into(),
            detail: detail.into(),
            current: false,
        };
        let key = |code| KeyEvent::new(code, KeyModifiers::NONE);
        let mut p = Picker::new(
            "Resume",
            vec![
                item("fix the login", "2m ago"),
                item("parser: read headers once", "1h ago"),
                item("write the docs", "2d ago"),
            ],
            "none",
        )
        .searchable();
        for c in "hdrs".chars() {
            assert_eq!(p.handle_key(key(KeyCode::Char(c))), PickerAction::Moved);
        }
        assert_eq!(p.items.len(), 1, "{:?}", p.items);
        assert_eq!(p.items[0].label, "parser: read headers once");
        assert_eq!(
            p.selected_row(),
            Some(1),
            "the row among all, for a preview"
        );
        assert_eq!(p.handle_key(key(KeyCode::Enter)), PickerAction::Chosen(1));
        assert_eq!(
            p.row(1).map(|row| row.label.as_str()),
            Some("parser: read headers once")
        );
        for _ in 0..4 {
            p.handle_key(key(KeyCode::Backspace));
        }
        assert_eq!(p.items.len(), 3, "the whole list again");
        p.handle_key(key(KeyCode::Char('z')));
        p.handle_key(key(KeyCode::Char('z')));
        assert!(p.items.is_empty());
        assert_eq!(p.selected_row(), None);
        assert_eq!(p.handle_key(key(KeyCode::Enter)), PickerAction::Ignored);
        // Rows that arrive later are searched with the query typed.
        p.set_items(vec![item("zz top", "now")]);
        assert_eq!(p.items.len(), 1);
    }
}
