//! Vim mode for the composer (`/vim`, `[tui] vim_mode_default`), as Codex's: in normal mode
//! the letters move and edit (`h j k l w b e 0 ^ $ gg G f F t T`, `x X D C s S r p P`,
//! `i a I A o O`, the operators `d c y` with a motion, doubled for the line, or a text object
//! such as `iw`, `a(`, `i"`; a `/` on an empty composer starts a command); Esc goes from insert
//! back to normal. Keys with Ctrl or Alt,
//! arrows, Enter and an Esc with nothing pending are the composer's as always, so sending,
//! history and interrupting work the same in both modes.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{Composer, ComposerAction};

/// Where the composer's Vim mode is.
#[derive(Debug, Default)]
pub(super) struct Vim {
    insert: bool,
    pending: Pending,
    /// What `y`, `d`, `c` and `x` took last, and whether it was whole lines.
    register: (String, bool),
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Pending {
    #[default]
    None,
    /// `d`, `c` or `y`, waiting for its motion.
    Operator(Operator),
    /// `d i` or `c a`: waiting for the text object.
    Object(Operator, bool),
    /// `f`, `F`, `t` or `T` (with the operator it serves), waiting for its character.
    Find(Option<Operator>, char),
    /// `g`, waiting for the second `g`.
    G,
    /// `r`, waiting for the replacing character.
    Replace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Delete,
    Change,
    Yank,
}

impl Composer {
    /// Turns Vim mode on (in normal mode) or off; whether it is on now.
    pub fn toggle_vim(&mut self) -> bool {
        self.set_vim(self.vim.is_none());
        self.vim.is_some()
    }

    /// Vim mode on (in normal mode) or off.
    pub fn set_vim(&mut self, on: bool) {
        self.vim = on.then(Vim::default);
    }

    /// `NORMAL` or `INSERT` while Vim mode is on.
    pub fn vim_label(&self) -> Option<&'static str> {
        self.vim
            .as_ref()
            .map(|vim| if vim.insert { "INSERT" } else { "NORMAL" })
    }

    /// Whether Esc is Vim mode's: in insert mode, or with something pending.
    pub fn vim_takes_esc(&self) -> bool {
        self.vim
            .as_ref()
            .is_some_and(|vim| vim.insert || vim.pending != Pending::None)
    }

    /// The key as Vim mode reads it; `None`: the composer's usual handling.
    pub(super) fn vim_key(&mut self, key: KeyEvent) -> Option<ComposerAction> {
        let vim = self.vim.as_mut()?;
        if key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return None;
        }
        if vim.insert {
            if key.code != KeyCode::Esc {
                return None;
            }
            vim.insert = false;
            // Leaving insert mode steps back onto the last character typed, as Vim does.
            if self.cursor > self.line_start() {
                self.cursor = self.prev_boundary(self.cursor);
            }
            return Some(ComposerAction::Changed);
        }
        let pending = std::mem::take(&mut vim.pending);
        match key.code {
            KeyCode::Esc if pending != Pending::None => Some(ComposerAction::Changed),
            KeyCode::Char(c) => {
                self.normal(pending, c);
                self.layout = None;
                Some(ComposerAction::Changed)
            }
            _ => None,
        }
    }

    fn normal(&mut self, pending: Pending, c: char) {
        match pending {
            Pending::None => self.command(c),
            Pending::Operator(op) => match c {
                'i' | 'a' => self.set_pending(Pending::Object(op, c == 'i')),
                'f' | 'F' | 't' | 'T' => self.set_pending(Pending::Find(Some(op), c)),
                // `cc` empties the line and keeps it; `dd` and `yy` take it whole.
                _ if c == op.key() && op == Operator::Change => {
                    self.apply(op, self.line_start(), self.line_end(), true)
                }
                _ if c == op.key() => {
                    let (from, to) = self.whole_line();
                    self.apply(op, from, to, true);
                }
                // `cw` on a word changes to its end, as `ce` (Vim's own exception).
                'w' if op == Operator::Change && !self.at_blank() => {
                    self.apply_motion(op, self.word_end_here(), true)
                }
                // `dw` and `yw` on a line's last word stop at its end, keeping the line break.
                'w' => {
                    let (next, end) = (self.word_start_after(), self.line_end());
                    let to = if end > self.cursor {
                        next.min(end)
                    } else {
                        next
                    };
                    self.apply_motion(op, to, false);
                }
                _ => {
                    if let Some((to, inclusive)) = self.motion(c) {
                        self.apply_motion(op, to, inclusive);
                    }
                }
            },
            Pending::Object(op, inner) => {
                if let Some((from, to)) = self.object(c, inner) {
                    self.apply(op, from, to, false);
                }
            }
            Pending::Find(op, kind) => {
                if let Some(to) = self.find(kind, c) {
                    match op {
                        Some(op) => self.apply_motion(op, to, kind.is_ascii_lowercase()),
                        None => self.cursor = to,
                    }
                }
            }
            Pending::G if c == 'g' => self.cursor = 0,
            Pending::G => {}
            Pending::Replace => {
                let end = self.next_boundary(self.cursor);
                if end > self.cursor && &self.text[self.cursor..end] != "\n" {
                    self.text
                        .replace_range(self.cursor..end, c.encode_utf8(&mut [0; 4]));
                }
            }
        }
    }

    fn command(&mut self, c: char) {
        if let Some((to, _)) = self.motion(c) {
            self.cursor = to;
            self.rest_on_character();
            return;
        }
        let end = self.line_end();
        match c {
            'i' => self.enter_insert(self.cursor),
            'a' => self.enter_insert(self.next_boundary(self.cursor).min(end)),
            'I' => self.enter_insert(self.first_non_blank()),
            'A' => self.enter_insert(end),
            'o' | 'O' => {
                let at = if c == 'o' { end } else { self.line_start() };
                self.cursor = at;
                self.insert("\n");
                if c == 'O' {
                    self.cursor = at;
                }
                self.enter_insert(self.cursor);
            }
            'x' => self.apply(Operator::Delete, self.cursor, self.next_in_line(), false),
            'X' => {
                let from = self.prev_boundary(self.cursor).max(self.line_start());
                self.apply(Operator::Delete, from, self.cursor, false);
            }
            'D' | 'C' => {
                let op = if c == 'D' {
                    Operator::Delete
                } else {
                    Operator::Change
                };
                self.apply(op, self.cursor, end, false);
            }
            's' => self.apply(Operator::Change, self.cursor, self.next_in_line(), false),
            'S' => self.apply(Operator::Change, self.line_start(), end, false),
            'p' | 'P' => self.put(c == 'p'),
            // On an empty composer a slash starts a command, as it does outside Vim mode.
            '/' if self.text.is_empty() => {
                self.enter_insert(0);
                self.insert("/");
            }
            'd' => self.set_pending(Pending::Operator(Operator::Delete)),
            'c' => self.set_pending(Pending::Operator(Operator::Change)),
            'y' => self.set_pending(Pending::Operator(Operator::Yank)),
            'f' | 'F' | 't' | 'T' => self.set_pending(Pending::Find(None, c)),
            'g' => self.set_pending(Pending::G),
            'r' => self.set_pending(Pending::Replace),
            _ => {}
        }
    }

    fn set_pending(&mut self, pending: Pending) {
        if let Some(vim) = self.vim.as_mut() {
            vim.pending = pending;
        }
    }

    fn enter_insert(&mut self, at: usize) {
        self.cursor = at;
        if let Some(vim) = self.vim.as_mut() {
            vim.insert = true;
        }
    }

    /// Where motion `c` goes from the cursor, and whether it takes the character it lands on
    /// when an operator uses it (`e`; `$` goes to the line's end, past its last character).
    fn motion(&self, c: char) -> Option<(usize, bool)> {
        let to = match c {
            'h' => self.prev_boundary(self.cursor).max(self.line_start()),
            'l' => self.next_in_line(),
            'j' | 'k' => return Some((self.line_beside(c == 'j')?, false)),
            'w' => self.word_start_after(),
            'b' => self.word_start_before(),
            'e' => return Some((self.word_end(), true)),
            '0' => self.line_start(),
            '^' => self.first_non_blank(),
            '$' => self.line_end(),
            // The last line's first non-blank, as Vim's `G`.
            'G' => {
                let last = self.text.rfind('\n').map_or(0, |i| i + 1);
                let line = &self.text[last..];
                last + (line.len() - line.trim_start_matches([' ', '\t']).len())
            }
            _ => return None,
        };
        Some((to, false))
    }

    /// `op` from the cursor to `to` (taking the character at `to` when `inclusive`).
    fn apply_motion(&mut self, op: Operator, to: usize, inclusive: bool) {
        let (from, to) = if to < self.cursor {
            (to, self.cursor)
        } else if inclusive {
            (self.cursor, self.next_boundary(to))
        } else {
            (self.cursor, to)
        };
        self.apply(op, from, to, false);
    }

    /// `op` on `from..to`: kept in the register, and taken out unless it is a yank; a change
    /// goes on in insert mode.
    fn apply(&mut self, op: Operator, from: usize, to: usize, lines: bool) {
        let taken = &self.text[from..to];
        // Whole lines are kept without the line break that joined them to the text (`dd` on
        // the last line takes the one before it); nothing taken leaves the register as it was.
        let kept = if lines {
            taken
                .strip_prefix('\n')
                .unwrap_or(taken)
                .trim_end_matches('\n')
        } else {
            taken
        };
        if from < to
            && let Some(vim) = self.vim.as_mut()
        {
            vim.register = (kept.to_string(), lines);
        }
        match op {
            // `yy` leaves the cursor where it is; `yb` goes to what it took.
            Operator::Yank if lines => {}
            Operator::Yank => self.cursor = from.min(self.cursor),
            Operator::Delete => {
                self.delete_range(from, to);
                self.rest_on_character();
            }
            Operator::Change => {
                self.delete_range(from, to);
                self.enter_insert(from);
            }
        }
    }

    /// `p` (after the cursor) or `P` (before): whole lines go below or above the line.
    fn put(&mut self, after: bool) {
        let Some((text, lines)) = self.vim.as_ref().map(|vim| vim.register.clone()) else {
            return;
        };
        if text.is_empty() {
            return;
        }
        if lines {
            if after {
                self.cursor = self.line_end();
                self.insert(&format!("\n{text}"));
                self.cursor -= text.len();
            } else {
                let start = self.line_start();
                self.cursor = start;
                self.insert(&format!("{text}\n"));
                self.cursor = start;
            }
        } else {
            if after {
                self.cursor = self.next_in_line();
            }
            self.insert(&text);
            self.cursor = self.prev_boundary(self.cursor);
        }
    }

    /// Normal mode rests on a character: a cursor past the end of a line's text steps back
    /// onto its last one.
    fn rest_on_character(&mut self) {
        if self.cursor > self.line_start() && self.cursor == self.line_end() {
            self.cursor = self.prev_boundary(self.cursor);
        }
    }

    /// `b`: the start of this word or the one before (words as `w` and `e` tell them).
    fn word_start_before(&self) -> usize {
        let before = &self.text[..self.cursor];
        let mut chars = before
            .char_indices()
            .rev()
            .skip_while(|(_, c)| c.is_whitespace());
        let Some((mut start, first)) = chars.next() else {
            return 0;
        };
        let class = char_class(first);
        for (i, c) in chars {
            if char_class(c) != class {
                break;
            }
            start = i;
        }
        start
    }

    /// The line under the cursor with its line break (the one before it on the last line).
    fn whole_line(&self) -> (usize, usize) {
        let (start, end) = (self.line_start(), self.line_end());
        if end < self.text.len() {
            (start, end + 1)
        } else {
            (start.saturating_sub(1), end)
        }
    }

    /// The next character's place on this line, or the line's end.
    fn next_in_line(&self) -> usize {
        self.next_boundary(self.cursor).min(self.line_end())
    }

    fn first_non_blank(&self) -> usize {
        let start = self.line_start();
        let line = &self.text[start..self.line_end()];
        start + (line.len() - line.trim_start_matches([' ', '\t']).len())
    }

    /// The same column of the next (`down`) or the previous line; `None` at the last or the
    /// first.
    fn line_beside(&self, down: bool) -> Option<usize> {
        let (start, end) = (self.line_start(), self.line_end());
        let column = self.text[start..self.cursor].chars().count();
        let target = if down {
            (end < self.text.len()).then_some(end + 1)?
        } else {
            let before = start.checked_sub(1)?;
            self.text[..before].rfind('\n').map_or(0, |i| i + 1)
        };
        let line = &self.text[target..];
        let line = &line[..line.find('\n').unwrap_or(line.len())];
        Some(target + line.chars().take(column).map(char::len_utf8).sum::<usize>())
    }

    /// `w`: the start of the next word (a run of word characters or of other non-blanks).
    fn word_start_after(&self) -> usize {
        let mut chars = self.text[self.cursor..].char_indices().peekable();
        let Some((_, first)) = chars.next() else {
            return self.cursor;
        };
        let class = char_class(first);
        let mut left_word = class == 0;
        for (i, c) in chars {
            let now = char_class(c);
            if now == 0 {
                left_word = true;
            } else if left_word || now != class {
                return self.cursor + i;
            }
        }
        self.text.len()
    }

    /// `e`: the last character of this word, or of the next when at its end already.
    fn word_end(&self) -> usize {
        let rest = &self.text[self.cursor..];
        let mut chars = rest
            .char_indices()
            .skip(1)
            .skip_while(|(_, c)| c.is_whitespace());
        let Some((start, first)) = chars.next() else {
            return self.cursor;
        };
        let class = char_class(first);
        let mut end = start;
        for (i, c) in chars {
            if char_class(c) != class {
                break;
            }
            end = i;
        }
        self.cursor + end
    }

    fn at_blank(&self) -> bool {
        self.text[self.cursor..]
            .chars()
            .next()
            .is_none_or(char::is_whitespace)
    }

    /// The last character of the word the cursor is on.
    fn word_end_here(&self) -> usize {
        let mut chars = self.text[self.cursor..].char_indices();
        let class = chars.next().map_or(0, |(_, c)| char_class(c));
        let end = chars
            .take_while(|(_, c)| char_class(*c) == class)
            .last()
            .map_or(0, |(i, _)| i);
        self.cursor + end
    }

    /// `f x` (to it), `t x` (before it), `F x` and `T x` (backwards), on this line.
    fn find(&self, kind: char, target: char) -> Option<usize> {
        let (start, end) = (self.line_start(), self.line_end());
        if kind.is_ascii_lowercase() {
            // At the line's end (after `$`) there is nothing after the cursor on this line.
            let from = self.next_boundary(self.cursor).min(end);
            let at = from + self.text[from..end].find(target)?;
            Some(if kind == 't' {
                self.prev_boundary(at)
            } else {
                at
            })
        } else {
            let at = start + self.text[start..self.cursor].rfind(target)?;
            Some(if kind == 'T' {
                self.next_boundary(at)
            } else {
                at
            })
        }
    }

    /// A text object around the cursor: `w` the word, or the inside of the nearest pair of
    /// brackets or quotes (`inner`), or with them.
    fn object(&self, c: char, inner: bool) -> Option<(usize, usize)> {
        if c == 'w' {
            let class = char_class(self.text[self.cursor..].chars().next()?);
            let before = &self.text[..self.cursor];
            let from = before
                .char_indices()
                .rev()
                .take_while(|(_, ch)| char_class(*ch) == class)
                .last()
                .map_or(self.cursor, |(i, _)| i);
            let after = &self.text[self.cursor..];
            let mut to = self.cursor
                + after
                    .char_indices()
                    .find(|(_, ch)| char_class(*ch) != class)
                    .map_or(after.len(), |(i, _)| i);
            if !inner {
                to += self.text[to..].len() - self.text[to..].trim_start_matches(' ').len();
            }
            return Some((from, to));
        }
        let (open, close) = match c {
            '(' | ')' | 'b' => ('(', ')'),
            '[' | ']' => ('[', ']'),
            '{' | '}' | 'B' => ('{', '}'),
            '"' | '\'' | '`' => (c, c),
            _ => return None,
        };
        let from = if open == close {
            self.text[..self.cursor].rfind(open)?
        } else if self.text[self.cursor..].starts_with(open) {
            self.cursor
        } else {
            enclosing_open(&self.text[..self.cursor], open, close)?
        };
        let after = &self.text[from + 1..];
        let to = from
            + 1
            + if open == close {
                after.find(close)?
            } else {
                matching_close(after, open, close)?
            };
        Some(if inner {
            (from + 1, to)
        } else {
            (from, to + 1)
        })
    }
}

impl Operator {
    /// The key that names it, doubled for the whole line (`dd`).
    fn key(self) -> char {
        match self {
            Self::Delete => 'd',
            Self::Change => 'c',
            Self::Yank => 'y',
        }
    }
}

/// 0 a blank, 1 a word character, 2 any other: what `w`, `e` and `iw` tell apart.
fn char_class(c: char) -> u8 {
    if c.is_whitespace() {
        0
    } else if c.is_alphanumeric() || c == '_' {
        1
    } else {
        2
    }
}

/// Where in `after` (what follows an `open`) the `close` that matches it is.
fn matching_close(after: &str, open: char, close: char) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in after.char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            if depth == 0 {
                return Some(i);
            }
            depth -= 1;
        }
    }
    None
}

/// Where the nearest `open` not closed before the end of `before` is.
fn enclosing_open(before: &str, open: char, close: char) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in before.char_indices().rev() {
        if c == close {
            depth += 1;
        } else if c == open {
            if depth == 0 {
                return Some(i);
            }
            depth -= 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Types `keys` into a composer holding `text` with the cursor at its start, in normal
    /// mode; returns the text and where the cursor is.
    fn typed(text: &str, keys: &str) -> (String, usize) {
        let mut composer = Composer::new();
        composer.set_text(text);
        composer.cursor = 0;
        composer.set_vim(true);
        for c in keys.chars() {
            let code = match c {
                '⎋' => KeyCode::Esc,
                c => KeyCode::Char(c),
            };
            composer.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
        }
        (composer.text().to_string(), composer.cursor)
    }

    #[test]
    fn motions_move_as_in_vim() {
        assert_eq!(typed("one two three", "w").1, 4);
        assert_eq!(typed("one two three", "ww").1, 8);
        assert_eq!(typed("one two three", "e").1, 2);
        assert_eq!(typed("one two three", "$").1, 12, "on the last character");
        assert_eq!(typed("one two three", "wwb").1, 4);
        assert_eq!(
            typed("foo.bar baz", "w").1,
            3,
            "punctuation is a word of its own"
        );
        assert_eq!(typed("a\nbcd\nef", "jl").1, 3);
        assert_eq!(
            typed("a\nbcd\nef", "G").1,
            6,
            "the last line's first character"
        );
        assert_eq!(typed("a\nbcd\nef", "Ggg").1, 0);
        assert_eq!(typed("say (hi)", "fh").1, 5);
        assert_eq!(typed("say (hi)", "th").1, 4);
        assert_eq!(typed("  x", "$^").1, 2);
        assert_eq!(typed("abc", "$").1, 2, "on the last character, not past it");
        assert_eq!(typed("abc", "$x").0, "ab");
        assert_eq!(
            typed("abcd\nx", "$j").1,
            5,
            "j rests on the shorter line's character"
        );
        assert_eq!(typed("foo_bar baz", "$b").1, 8);
        assert_eq!(
            typed("foo_bar baz", "$bb").1,
            0,
            "an underscore is in a word, as for w"
        );
    }

    #[test]
    fn operators_edit_and_the_register_puts_back() {
        assert_eq!(typed("one two three", "dw").0, "two three");
        assert_eq!(typed("one two three", "de").0, " two three");
        assert_eq!(typed("one two three", "wD").0, "one ");
        assert_eq!(typed("one two three", "x").0, "ne two three");
        assert_eq!(typed("a\nb\nc", "jdd").0, "a\nc");
        assert_eq!(typed("a\nb\nc", "ddp").0, "b\na\nc");
        assert_eq!(typed("a\nb\nc", "yyjp").0, "a\nb\na\nc");
        assert_eq!(
            typed("a\nb", "jddp").0,
            "a\nb",
            "the last line taken without a break"
        );
        assert_eq!(typed("a\nb", "jyyP").0, "a\nb\nb");
        assert_eq!(
            typed("foo(bar(1), 2)", "f2di(").0,
            "foo()",
            "brackets inside"
        );
        assert_eq!(
            typed("foo(bar(1), 2)", "f(da(").0,
            "foo",
            "on the opening one"
        );
        assert_eq!(
            typed("one\ntwo", "dw").0,
            "\ntwo",
            "dw keeps the line break"
        );
        assert_eq!(
            typed("xy\n\nz", "yljxkP").0,
            "xxy\n\nz",
            "x on nothing keeps it"
        );
        assert_eq!(typed("say (hello there)", "fhdi(").0, "say ()");
        assert_eq!(typed("say \"hi there\" ok", "fhda\"").0, "say  ok");
        assert_eq!(typed("one two", "ciwzero⎋").0, "zero two");
        assert_eq!(typed("one two", "wcwx⎋").0, "one x");
        assert_eq!(
            typed("one two", "cwx⎋").0,
            "x two",
            "cw keeps the blank after"
        );
        assert_eq!(typed("a two", "cwx⎋").0, "x two");
        assert_eq!(typed("one two", "cczero⎋").0, "zero");
        assert_eq!(typed("one", "rx").0, "xne");
        assert_eq!(typed("one", "dte").0, "e");
        assert_eq!(
            typed("a\nbc", "jcczz⎋").0,
            "a\nzz",
            "cc on the last line keeps it"
        );
        assert_eq!(typed("\nx", "fx").1, 0, "f on an empty line finds nothing");
        assert_eq!(
            typed("ab\ncd", "$fx").1,
            1,
            "f at a line's end finds nothing"
        );
        assert_eq!(typed("añ\nb", "$Fa").1, 0);
        let (text, cursor) = typed("ab cd", "wD");
        assert_eq!(
            (text.as_str(), cursor),
            ("ab ", 2),
            "rests on the last character"
        );
    }

    #[test]
    fn insert_mode_types_and_escape_comes_back() {
        let (text, cursor) = typed("end", "Ahere⎋");
        assert_eq!((text.as_str(), cursor), ("endhere", 6));
        assert_eq!(
            typed("b", "iа⎋").0,
            "аb",
            "any character is typed in insert mode"
        );
        assert_eq!(typed("a", "onext⎋").0, "a\nnext");
        assert_eq!(typed("a", "Otop⎋").0, "top\na");
        assert_eq!(typed("x", "d⎋x").0, "", "Esc drops the pending operator");
        assert_eq!(typed("x", "q").0, "x", "an unknown key types nothing");
        assert_eq!(typed("", "/vim").0, "/vim", "a slash starts a command");
    }
}
