//! The prompt editor: multi-line text with readline keys, prompt history and bracketed paste;
//! `composer/vim.rs` reads the keys in Vim mode.

mod vim;

use crate::tui::theme;
use crate::tui::wrap::draw_line;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

/// What a key did to the composer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComposerAction {
    /// The key was not for the composer.
    Ignored,
    /// The text or cursor changed.
    Changed,
    /// Enter: the text is sent and the composer is empty again.
    Submit(String),
}

/// A multi-line text field with a cursor (a byte index on a char boundary).
#[derive(Debug, Default)]
pub struct Composer {
    text: String,
    cursor: usize,
    history: Vec<String>,
    /// The history entry shown, counted from the newest; `None` while editing the draft.
    history_pos: Option<usize>,
    draft: String,
    layout: Option<Layout>,
    /// Long pastes shown as placeholders, each with the text it stands for.
    pastes: Vec<(String, String)>,
    /// Vim mode, while it is on.
    vim: Option<vim::Vim>,
}

/// A paste longer than this many characters shows as `[Pasted Content N chars]` (Codex's
/// threshold): the composer stays readable, and the text sent carries all of it.
const LARGE_PASTE_CHARS: usize = 1000;

/// The text broken into rows at a width, cached until the text or width changes.
#[derive(Debug)]
struct Layout {
    width: usize,
    /// Byte ranges of the rows.
    rows: Vec<(usize, usize)>,
}

impl Composer {
    /// An empty composer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts `older` prompts (oldest first) before the ones sent in this session.
    pub fn add_older_history(&mut self, older: Vec<String>) {
        let mine = std::mem::replace(&mut self.history, older);
        for text in mine {
            if self.history.last() != Some(&text) {
                self.history.push(text);
            }
        }
        self.history_pos = None;
    }

    /// Earlier prompts, newest first, that contain `query` (case-insensitive), without repeats.
    pub fn history_matching(&self, query: &str) -> Vec<String> {
        let query = query.to_lowercase();
        let mut seen = std::collections::HashSet::new();
        self.history
            .iter()
            .rev()
            .filter(|text| text.to_lowercase().contains(&query))
            .filter(|text| seen.insert(text.as_str()))
            .cloned()
            .collect()
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether there is no text.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Replaces the text, cursor at the end.
    pub fn set_text(&mut self, text: &str) {
        self.text = text.to_string();
        self.cursor = self.text.len();
        self.layout = None;
    }

    /// The word being typed at the cursor when it mentions a file: where its `@` is, and what
    /// follows the `@` up to the cursor. A word that goes on after the cursor is not one being
    /// typed.
    pub fn mention_at_cursor(&self) -> Option<(usize, &str)> {
        /// A longer word is no path being typed; looking no further keeps this cheap after a
        /// huge paste.
        const MAX_WORD_BYTES: usize = 4096;
        let before = &self.text[..self.cursor];
        let start = before
            .char_indices()
            .rev()
            .take_while(|(i, _)| before.len() - i <= MAX_WORD_BYTES)
            .find(|(_, c)| c.is_whitespace())
            .map(|(i, c)| i + c.len_utf8());
        let start = match start {
            Some(start) => start,
            None if before.len() <= MAX_WORD_BYTES => 0,
            None => return None,
        };
        let goes_on = self.text[self.cursor..]
            .chars()
            .next()
            .is_some_and(|c| !c.is_whitespace());
        let query = before[start..].strip_prefix('@')?;
        (!goes_on).then_some((start, query.trim_start_matches('"')))
    }

    /// Puts `@path` and a space in place of the mention that starts at `start`, quoted when the
    /// path has white space in it.
    pub fn complete_mention(&mut self, start: usize, path: &str) {
        let mention = if path.contains(char::is_whitespace) {
            format!("@\"{path}\" ")
        } else {
            format!("@{path} ")
        };
        let start = start.min(self.cursor);
        self.text.replace_range(start..self.cursor, &mention);
        self.cursor = start + mention.len();
        self.layout = None;
    }

    /// Empties the composer.
    pub fn clear(&mut self) {
        self.set_text("");
        self.history_pos = None;
        self.pastes.clear();
    }

    /// Pastes `text`: as it is, or, past [`LARGE_PASTE_CHARS`], as a placeholder that says how
    /// long it is (Ctrl+O shows it whole; what is sent carries it whole).
    pub fn paste(&mut self, text: &str) {
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        let chars = text.chars().count();
        if chars <= LARGE_PASTE_CHARS {
            return self.insert(&text);
        }
        let mut placeholder = format!("[Pasted Content {chars} chars]");
        let mut again = 2;
        while self.pastes.iter().any(|(shown, _)| *shown == placeholder) {
            placeholder = format!("[Pasted Content {chars} chars #{again}]");
            again += 1;
        }
        self.insert(&placeholder);
        self.pastes.push((placeholder, text));
    }

    /// The text with each placeholder still whole in it replaced by what was pasted (one
    /// edited away stands for nothing any more).
    fn expanded(&self) -> String {
        let mut text = self.text.clone();
        for (placeholder, pasted) in &self.pastes {
            if let Some(at) = text.find(placeholder.as_str()) {
                text.replace_range(at..at + placeholder.len(), pasted);
            }
        }
        text
    }

    /// Ctrl+O: what was pasted in place of its placeholders, to read and edit; `false` when
    /// there is none.
    pub fn expand_pastes(&mut self) -> bool {
        if self.pastes.is_empty() {
            return false;
        }
        let text = self.expanded();
        self.pastes.clear();
        self.set_text(&text);
        true
    }

    /// Clears a draft the person gave up on (Ctrl+C), keeping it in the history: ↑ brings it
    /// back if the Ctrl+C was a slip.
    pub fn discard(&mut self) {
        let draft = self.expanded();
        self.text.clear();
        self.clear();
        if !draft.trim().is_empty() {
            self.remember(draft);
        }
    }

    /// Adds `text` to the history, once when sent twice in a row.
    fn remember(&mut self, text: String) {
        if self.history.last() != Some(&text) {
            self.history.push(text);
        }
    }

    /// Inserts text at the cursor; pasted line endings become `\n`.
    pub fn insert(&mut self, text: &str) {
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        self.text.insert_str(self.cursor, &text);
        self.cursor += text.len();
        self.layout = None;
    }

    fn prev_boundary(&self, at: usize) -> usize {
        self.text[..at]
            .char_indices()
            .next_back()
            .map_or(0, |(i, _)| i)
    }

    fn next_boundary(&self, at: usize) -> usize {
        self.text[at..]
            .chars()
            .next()
            .map_or(at, |c| at + c.len_utf8())
    }

    fn line_start(&self) -> usize {
        self.text[..self.cursor].rfind('\n').map_or(0, |i| i + 1)
    }

    fn line_end(&self) -> usize {
        self.text[self.cursor..]
            .find('\n')
            .map_or(self.text.len(), |i| self.cursor + i)
    }

    fn word_back(&self) -> usize {
        let before = &self.text[..self.cursor];
        let trimmed = before.trim_end_matches(|c: char| !c.is_alphanumeric());
        trimmed
            .rfind(|c: char| !c.is_alphanumeric())
            .map_or(0, |i| {
                i + trimmed[i..].chars().next().map_or(1, char::len_utf8)
            })
    }

    fn word_forward(&self) -> usize {
        let after = &self.text[self.cursor..];
        let skip = after.len()
            - after
                .trim_start_matches(|c: char| !c.is_alphanumeric())
                .len();
        let rest = &after[skip..];
        let word = rest
            .find(|c: char| !c.is_alphanumeric())
            .unwrap_or(rest.len());
        self.cursor + skip + word
    }

    fn delete_range(&mut self, from: usize, to: usize) {
        if from < to {
            self.text.replace_range(from..to, "");
            self.cursor = from;
            self.layout = None;
        }
    }

    fn move_to(&mut self, at: usize) {
        self.cursor = at;
    }

    /// Takes the text as sent (Enter, or Tab to queue it behind a running answer): remembered
    /// in the history, the composer empty again; `None` when there is nothing but blanks.
    pub fn take_sent(&mut self) -> Option<String> {
        if self.text.trim().is_empty() {
            return None;
        }
        let text = self.expanded();
        self.clear();
        self.remember(text.clone());
        Some(text)
    }

    /// Handles a key; see [`ComposerAction`].
    pub fn handle_key(&mut self, key: KeyEvent) -> ComposerAction {
        if let Some(action) = self.vim_key(key) {
            return action;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        let shift = key.modifiers.contains(KeyModifiers::SHIFT);
        match key.code {
            KeyCode::Char('o') if ctrl && self.expand_pastes() => {}
            KeyCode::Enter if shift || alt => self.insert("\n"),
            KeyCode::Char('j') if ctrl => self.insert("\n"),
            KeyCode::Enter => {
                return match self.take_sent() {
                    Some(text) => ComposerAction::Submit(text),
                    None => ComposerAction::Ignored,
                };
            }
            KeyCode::Char('a') if ctrl => self.move_to(self.line_start()),
            KeyCode::Char('e') if ctrl => self.move_to(self.line_end()),
            KeyCode::Char('b') if ctrl => self.move_to(self.prev_boundary(self.cursor)),
            KeyCode::Char('f') if ctrl => self.move_to(self.next_boundary(self.cursor)),
            KeyCode::Char('b') if alt => self.move_to(self.word_back()),
            KeyCode::Char('f') if alt => self.move_to(self.word_forward()),
            KeyCode::Left if ctrl || alt => self.move_to(self.word_back()),
            KeyCode::Right if ctrl || alt => self.move_to(self.word_forward()),
            KeyCode::Char('w') if ctrl => self.delete_range(self.word_back(), self.cursor),
            KeyCode::Backspace if ctrl || alt => self.delete_range(self.word_back(), self.cursor),
            KeyCode::Char('d') if alt => self.delete_range(self.cursor, self.word_forward()),
            KeyCode::Char('u') if ctrl => self.delete_range(self.line_start(), self.cursor),
            KeyCode::Char('k') if ctrl => {
                let end = self.line_end();
                // At the end of a line, Ctrl+K joins the next one, as in readline.
                let end = if end == self.cursor && end < self.text.len() {
                    end + 1
                } else {
                    end
                };
                self.delete_range(self.cursor, end);
            }
            KeyCode::Char('h') if ctrl => {
                self.delete_range(self.prev_boundary(self.cursor), self.cursor)
            }
            KeyCode::Backspace => self.delete_range(self.prev_boundary(self.cursor), self.cursor),
            KeyCode::Delete => self.delete_range(self.cursor, self.next_boundary(self.cursor)),
            KeyCode::Left => self.move_to(self.prev_boundary(self.cursor)),
            KeyCode::Right => self.move_to(self.next_boundary(self.cursor)),
            KeyCode::Up => {
                if self.text[..self.cursor].contains('\n') {
                    self.vertical(-1);
                } else {
                    return self.history_step(1);
                }
            }
            KeyCode::Down => {
                if self.text[self.cursor..].contains('\n') {
                    self.vertical(1);
                } else {
                    return self.history_step(-1);
                }
            }
            KeyCode::Tab => self.insert("    "),
            KeyCode::Char(c) if !ctrl && !alt => {
                let mut buf = [0u8; 4];
                self.insert(c.encode_utf8(&mut buf));
            }
            _ => return ComposerAction::Ignored,
        }
        ComposerAction::Changed
    }

    /// Moves the cursor one logical line up or down, keeping its column where possible.
    fn vertical(&mut self, dir: i32) {
        let start = self.line_start();
        let column = self.text[start..self.cursor].chars().count();
        let target_start = if dir < 0 {
            let prev_end = start.saturating_sub(1);
            self.text[..prev_end].rfind('\n').map_or(0, |i| i + 1)
        } else {
            self.line_end() + 1
        };
        let line = &self.text[target_start..];
        let line = &line[..line.find('\n').unwrap_or(line.len())];
        let offset: usize = line.chars().take(column).map(char::len_utf8).sum();
        self.cursor = target_start + offset;
    }

    fn history_step(&mut self, back: i32) -> ComposerAction {
        if self.history.is_empty() {
            return ComposerAction::Ignored;
        }
        let next = match (self.history_pos, back) {
            (None, 1) => {
                self.draft = self.text.clone();
                Some(0)
            }
            (None, _) => return ComposerAction::Ignored,
            (Some(p), 1) => Some((p + 1).min(self.history.len() - 1)),
            (Some(0), _) => None,
            (Some(p), _) => Some(p - 1),
        };
        self.history_pos = next;
        let text = match next {
            Some(p) => self.history[self.history.len() - 1 - p].clone(),
            None => std::mem::take(&mut self.draft),
        };
        self.text = text;
        self.cursor = self.text.len();
        self.layout = None;
        ComposerAction::Changed
    }

    fn rows(&mut self, width: usize) -> &[(usize, usize)] {
        let stale = !matches!(&self.layout, Some(l) if l.width == width);
        if stale {
            let mut rows = Vec::new();
            let mut row_start = 0;
            let mut col = 0;
            // Where the row may break at a word's end: after its last space, and the columns
            // up to there.
            let mut word_break: Option<(usize, usize)> = None;
            for (i, c) in self.text.char_indices() {
                if c == '\n' {
                    rows.push((row_start, i));
                    row_start = i + 1;
                    col = 0;
                    word_break = None;
                    continue;
                }
                let w = c.width().unwrap_or(0);
                if c == ' ' && col + w > width {
                    // A space at the edge ends its row rather than start the next.
                    rows.push((row_start, i + 1));
                    row_start = i + 1;
                    col = 0;
                    word_break = None;
                    continue;
                }
                if col + w > width && col > 0 {
                    // A word too long for a row is cut where the row ends.
                    let (at, used) = word_break.take().unwrap_or((i, col));
                    rows.push((row_start, at));
                    row_start = at;
                    col -= used;
                }
                col += w;
                if c == ' ' {
                    word_break = Some((i + 1, col));
                }
            }
            rows.push((row_start, self.text.len()));
            self.layout = Some(Layout { width, rows });
        }
        self.layout.as_ref().map_or(&[], |l| l.rows.as_slice())
    }

    /// Rows the composer wants at `width` (its text width plus the prompt), at most `max`.
    pub fn desired_height(&mut self, width: u16, max: u16) -> u16 {
        let text_width = usize::from(width.saturating_sub(2).max(1));
        let rows = self.rows(text_width).len();
        u16::try_from(rows).unwrap_or(u16::MAX).clamp(1, max.max(1))
    }

    /// Draws the composer into `area` and returns where the cursor goes.
    pub fn render(&mut self, area: Rect, buf: &mut Buffer, placeholder: &str) -> Position {
        let text_width = usize::from(area.width.saturating_sub(2).max(1));
        let prompt = Span::styled("› ", theme::accent().bold());
        if self.text.is_empty() {
            let line = Line::from(vec![
                prompt,
                Span::styled(placeholder.to_string(), theme::dim()),
            ]);
            draw_line(buf, area.x, area.y, &line, area.width);
            return Position::new(area.x + 2, area.y);
        }
        let cursor = self.cursor;
        let height = usize::from(area.height.max(1));
        let rows = self.rows(text_width).to_vec();
        let cursor_row = rows
            .iter()
            .rposition(|(start, _)| *start <= cursor)
            .unwrap_or(0);
        // Keep the cursor's row in view, showing as much of the end as possible.
        let first = (cursor_row + 1)
            .saturating_sub(height)
            .min(rows.len().saturating_sub(height));
        let first = first.min(cursor_row);
        let mut cursor_pos = Position::new(area.x + 2, area.y);
        for (i, (start, end)) in rows.iter().enumerate().skip(first).take(height) {
            let y = area.y + u16::try_from(i - first).unwrap_or(0);
            let lead = if i == 0 {
                prompt.clone()
            } else {
                Span::raw("  ")
            };
            let line = Line::from(vec![lead, Span::raw(&self.text[*start..*end])]);
            draw_line(buf, area.x, y, &line, area.width);
            if i == cursor_row {
                let col: usize = self.text[*start..cursor.min(*end).max(*start)]
                    .chars()
                    .map(|c| c.width().unwrap_or(0))
                    .sum();
                let col = u16::try_from(col).unwrap_or(0);
                cursor_pos = Position::new((area.x + 2 + col).min(area.x + area.width - 1), y);
            }
        }
        cursor_pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    fn typed(text: &str) -> Composer {
        let mut c = Composer::new();
        c.insert(text);
        c
    }

    #[test]
    fn readline_keys_edit_the_current_line() {
        let mut c = typed("hello big world");
        c.handle_key(key(KeyCode::Char('w'), KeyModifiers::CONTROL));
        assert_eq!(c.text(), "hello big ");
        c.handle_key(key(KeyCode::Char('b'), KeyModifiers::ALT));
        assert_eq!(c.cursor, 6);
        c.handle_key(key(KeyCode::Char('k'), KeyModifiers::CONTROL));
        assert_eq!(c.text(), "hello ");
        c.handle_key(key(KeyCode::Char('a'), KeyModifiers::CONTROL));
        c.handle_key(key(KeyCode::Char('f'), KeyModifiers::ALT));
        assert_eq!(c.cursor, 5);
        c.handle_key(key(KeyCode::Char('u'), KeyModifiers::CONTROL));
        assert_eq!(c.text(), " ");
    }

    #[test]
    fn shift_enter_adds_a_line_and_enter_sends() {
        let mut c = typed("one");
        c.handle_key(key(KeyCode::Enter, KeyModifiers::SHIFT));
        c.insert("two");
        assert_eq!(
            c.handle_key(key(KeyCode::Enter, KeyModifiers::NONE)),
            ComposerAction::Submit("one\ntwo".into())
        );
        assert!(c.is_empty());
        c.handle_key(key(KeyCode::Up, KeyModifiers::NONE));
        assert_eq!(c.text(), "one\ntwo");
        c.handle_key(key(KeyCode::Up, KeyModifiers::NONE));
        assert_eq!(c.text(), "one\ntwo", "moved within the text first");
        assert_eq!(c.cursor, 3);
        c.handle_key(key(KeyCode::Down, KeyModifiers::NONE));
        c.handle_key(key(KeyCode::Down, KeyModifiers::NONE));
        assert_eq!(c.text(), "", "back to the empty draft");
    }

    #[test]
    fn a_mention_is_the_word_being_typed() {
        let mut c = typed("look at @src/ma");
        assert_eq!(c.mention_at_cursor(), Some((8, "src/ma")));
        c.complete_mention(8, "src/main.rs");
        assert_eq!(c.text(), "look at @src/main.rs ");
        assert_eq!(c.mention_at_cursor(), None, "the space ends it");
        c.insert("and @my");
        assert_eq!(c.mention_at_cursor(), Some((25, "my")));
        c.complete_mention(25, "my notes.md");
        assert_eq!(c.text(), "look at @src/main.rs and @\"my notes.md\" ");
        assert_eq!(typed("me@host").mention_at_cursor(), None);
        let mut c = typed("@src rest");
        c.handle_key(key(KeyCode::Char('a'), KeyModifiers::CONTROL));
        c.handle_key(key(KeyCode::Right, KeyModifiers::NONE));
        c.handle_key(key(KeyCode::Right, KeyModifiers::NONE));
        assert_eq!(
            c.mention_at_cursor(),
            None,
            "the word goes on after the cursor"
        );
    }

    #[test]
    fn pasted_text_keeps_lines_and_wraps() {
        let mut c = Composer::new();
        c.insert("a\r\nbcdefgh");
        assert_eq!(c.text(), "a\nbcdefgh");
        assert_eq!(c.desired_height(6, 10), 3);
    }

    #[test]
    fn a_long_paste_shows_as_a_placeholder_and_is_sent_whole() {
        let long = "line of text\n".repeat(100);
        let mut c = typed("look: ");
        c.paste(&long);
        c.paste(&long);
        assert_eq!(
            c.text(),
            "look: [Pasted Content 1300 chars][Pasted Content 1300 chars #2]"
        );
        assert_eq!(c.take_sent(), Some(format!("look: {long}{long}")));
        // Ctrl+O shows it whole, to edit; a short paste is never hidden.
        c.paste(&long);
        c.handle_key(key(KeyCode::Char('o'), KeyModifiers::CONTROL));
        assert_eq!(c.text(), long);
        let mut short = Composer::new();
        short.paste("a few words");
        assert_eq!(short.text(), "a few words");
        assert_eq!(
            short.handle_key(key(KeyCode::Char('o'), KeyModifiers::CONTROL)),
            ComposerAction::Ignored
        );
    }

    #[test]
    fn a_discarded_draft_comes_back_with_up() {
        let mut c = typed("a long thought");
        c.discard();
        assert!(c.is_empty());
        c.handle_key(key(KeyCode::Up, KeyModifiers::NONE));
        assert_eq!(c.text(), "a long thought");
    }

    #[test]
    fn rows_break_at_word_ends_and_cut_only_a_word_too_long() {
        let mut c = Composer::new();
        c.insert("fix the parser bug now\nsupercalifragilistic");
        let rows: Vec<&str> = c
            .rows(10)
            .to_vec()
            .iter()
            .map(|(start, end)| &c.text()[*start..*end])
            .collect();
        assert_eq!(
            rows,
            ["fix the ", "parser bug ", "now", "supercalif", "ragilistic"]
        );
    }
}
