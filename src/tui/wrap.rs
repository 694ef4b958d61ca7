//! Word wrapping of styled lines to a width, with a hanging prefix for continuation lines.

use ratatui::buffer::Buffer;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// A logical line before wrapping: its spans, and what continuation lines start with (the
/// indent of a list item, the bar of a block quote).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RichLine {
    /// The line's spans, its own prefix included.
    pub line: Line<'static>,
    /// Spans that start every continuation line.
    pub hang: Vec<Span<'static>>,
}

impl RichLine {
    /// A line that wraps without a hanging prefix.
    pub fn plain(line: Line<'static>) -> Self {
        Self {
            line,
            hang: Vec::new(),
        }
    }
}

/// Writes `line` into `buf` at (`x`, `y`), at most `max_width` columns: what
/// `Buffer::set_line` writes, faster. A span of plain ASCII (most of a transcript) is written a
/// byte a cell, with none of the grapheme segmentation and width lookups every other span goes
/// through; that was a third of a frame's drawing.
pub fn draw_line(buf: &mut Buffer, x: u16, y: u16, line: &Line<'_>, max_width: u16) {
    let right = buf.area.right();
    let mut x = x;
    let mut remaining = max_width;
    for span in &line.spans {
        if remaining == 0 {
            break;
        }
        let text = span.content.as_ref();
        if !text.is_ascii() {
            let end = buf.set_stringn(x, y, text, remaining.into(), line.style.patch(span.style));
            remaining = remaining.saturating_sub(end.0.saturating_sub(x));
            x = end.0;
            continue;
        }
        let style = line.style.patch(span.style);
        for (i, byte) in text.bytes().enumerate() {
            // Control characters take no cell, as `set_line` drops them.
            if byte.is_ascii_control() {
                continue;
            }
            if remaining == 0 || x >= right {
                remaining = 0;
                break;
            }
            buf[(x, y)].set_symbol(&text[i..=i]).set_style(style);
            x += 1;
            remaining -= 1;
        }
    }
}

/// The display width of a line.
pub fn line_width(line: &Line<'_>) -> usize {
    line.spans.iter().map(|s| s.content.width()).sum()
}

pub use crate::terminal_text::printable;

/// `rich` with every span [`printable`]; `None` when it already is.
fn printable_line(rich: &RichLine) -> Option<RichLine> {
    let has_control =
        |spans: &[Span<'_>]| spans.iter().any(|s| s.content.contains(char::is_control));
    if !has_control(&rich.line.spans) && !has_control(&rich.hang) {
        return None;
    }
    let fix = |spans: &[Span<'static>]| -> Vec<Span<'static>> {
        spans
            .iter()
            .map(|s| Span::styled(printable(&s.content).into_owned(), s.style))
            .collect()
    };
    Some(RichLine {
        line: Line::from(fix(&rich.line.spans)).style(rich.line.style),
        hang: fix(&rich.hang),
    })
}

/// Wraps `rich` to `width` columns, appending the resulting lines to `out`. Control characters
/// never reach the screen (see [`printable`]).
pub fn wrap_into(rich: &RichLine, width: usize, out: &mut Vec<Line<'static>>) {
    if let Some(fixed) = printable_line(rich) {
        return wrap_into(&fixed, width, out);
    }
    let width = width.max(1);
    if line_width(&rich.line) <= width {
        out.push(rich.line.clone());
        return;
    }
    let hang_width: usize = rich.hang.iter().map(|s| s.content.width()).sum();
    // A hang as wide as the line would leave no room for text: drop it rather than loop.
    let hang: &[Span<'static>] = if hang_width * 2 > width {
        &[]
    } else {
        &rich.hang
    };
    let mut w = Wrapper {
        out,
        width,
        hang,
        line_style: rich.line.style,
        cur: Vec::new(),
        cur_width: 0,
    };
    for span in &rich.line.spans {
        let mut rest: &str = &span.content;
        while !rest.is_empty() {
            let first_space = rest.starts_with(char::is_whitespace);
            let end = rest
                .find(|c: char| c.is_whitespace() != first_space)
                .unwrap_or(rest.len());
            let (piece, tail) = rest.split_at(end);
            if first_space {
                w.space(piece, span.style);
            } else {
                w.word(piece, span.style);
            }
            rest = tail;
        }
    }
    w.finish();
}

/// Wraps every line of `rich` to `width`.
pub fn wrap_all(rich: &[RichLine], width: usize) -> Vec<Line<'static>> {
    let mut out = Vec::with_capacity(rich.len());
    for line in rich {
        wrap_into(line, width, &mut out);
    }
    out
}

struct Wrapper<'a> {
    out: &'a mut Vec<Line<'static>>,
    width: usize,
    hang: &'a [Span<'static>],
    line_style: Style,
    cur: Vec<Span<'static>>,
    cur_width: usize,
}

impl Wrapper<'_> {
    fn push(&mut self, text: &str, style: Style) {
        if let Some(last) = self.cur.last_mut()
            && last.style == style
        {
            last.content.to_mut().push_str(text);
        } else {
            self.cur.push(Span::styled(text.to_string(), style));
        }
        self.cur_width += text.width();
    }

    fn newline(&mut self) {
        // Trailing spaces at a break are invisible noise that would also confuse selection.
        if let Some(last) = self.cur.last_mut() {
            let trimmed = last.content.trim_end().len();
            last.content.to_mut().truncate(trimmed);
        }
        let spans = std::mem::take(&mut self.cur);
        self.out.push(Line::from(spans).style(self.line_style));
        self.cur_width = 0;
        for span in self.hang {
            self.cur.push(span.clone());
            self.cur_width += span.content.width();
        }
    }

    fn at_line_start(&self) -> bool {
        self.cur_width == self.hang.iter().map(|s| s.content.width()).sum::<usize>()
            && self.cur.len() == self.hang.len()
    }

    fn space(&mut self, piece: &str, style: Style) {
        let w = piece.width();
        if self.cur_width + w <= self.width {
            self.push(piece, style);
        } else {
            self.newline();
        }
    }

    fn word(&mut self, piece: &str, style: Style) {
        let w = piece.width();
        if self.cur_width + w <= self.width {
            self.push(piece, style);
            return;
        }
        let hang_width: usize = self.hang.iter().map(|s| s.content.width()).sum();
        if w <= self.width - hang_width && !self.at_line_start() {
            self.newline();
            self.push(piece, style);
            return;
        }
        // Longer than a whole line: break it where the line ends.
        let mut chunk = String::new();
        let mut chunk_width = 0;
        for c in piece.chars() {
            let cw = c.width().unwrap_or(0);
            let used = self.cur_width + chunk_width;
            if used + cw > self.width && used > hang_width {
                if !chunk.is_empty() {
                    self.push(&chunk, style);
                }
                chunk.clear();
                chunk_width = 0;
                self.newline();
            }
            chunk.push(c);
            chunk_width += cw;
        }
        if !chunk.is_empty() {
            self.push(&chunk, style);
        }
    }

    fn finish(mut self) {
        if !self.cur.is_empty() {
            let spans = std::mem::take(&mut self.cur);
            self.out.push(Line::from(spans).style(self.line_style));
        }
    }
}

/// `text` cut to `columns` terminal columns, with `…` when cut.
pub fn cut(text: &str, columns: usize) -> String {
    if text.width() <= columns {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        used += c.width().unwrap_or(0);
        if used >= columns {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// The end of `text` that fits `columns` terminal columns, with `…` in front when cut: for a
/// path, whose end names the file, or a field whose cursor is at its end.
pub fn cut_front(text: &str, columns: usize) -> String {
    if text.width() <= columns {
        return text.to_string();
    }
    let mut out: Vec<char> = Vec::new();
    let mut used = 1;
    for c in text.chars().rev() {
        let w = c.width().unwrap_or(0);
        if used + w > columns {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out.into_iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ratatui::layout::Rect;
    use ratatui::style::Color;

    /// Pieces of text from every class `set_line` treats apart: plain ASCII, control
    /// characters, accents, combining marks, wide characters, emoji, and a CRLF.
    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "a", "word ", "\t", "\x1b", "\x7f", "\r\n", "é", "e\u{301}", "中", "🦀", " ", "—",
        ])
    }

    proptest! {
        #[test]
        fn draw_line_writes_what_set_line_writes(
            spans in prop::collection::vec((prop::collection::vec(piece(), 0..6), 0u8..4), 0..5),
            x in 0u16..14,
            max_width in 0u16..16,
        ) {
            let colours = [Color::Reset, Color::Red, Color::Green, Color::Blue];
            let line = Line::from(
                spans
                    .iter()
                    .map(|(pieces, c)| Span::styled(pieces.concat(), Style::new().fg(colours[*c as usize])))
                    .collect::<Vec<_>>(),
            )
            .style(Style::new().bg(Color::Yellow));
            let area = Rect::new(0, 0, 12, 1);
            // Over something already drawn: a wide character must clear the cell it covers.
            let mut expected = Buffer::filled(area, ratatui::buffer::Cell::new("#"));
            let mut actual = expected.clone();
            expected.set_line(x.min(11), 0, &line, max_width);
            draw_line(&mut actual, x.min(11), 0, &line, max_width);
            prop_assert_eq!(actual, expected);
        }
    }

    #[test]
    fn control_characters_never_reach_the_screen_and_lines_fit() {
        let rich = RichLine::plain(Line::raw("\0\0\0\0\0@\u{0}52\x1b[31m\tend"));
        let mut out = Vec::new();
        wrap_into(&rich, 8, &mut out);
        for line in &out {
            let text = line.to_string();
            assert!(!text.contains(char::is_control), "{text:?}");
            assert!(text.width() <= 8, "{text:?} is {} wide", text.width());
        }
        assert_eq!(printable("a\tb"), "a    b");
    }

    fn texts(lines: &[Line<'_>]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn words_move_to_the_next_line_with_the_hang() {
        let rich = RichLine {
            line: Line::from("• one two three four"),
            hang: vec![Span::raw("  ")],
        };
        let mut out = Vec::new();
        wrap_into(&rich, 10, &mut out);
        assert_eq!(texts(&out), ["• one two", "  three", "  four"]);
    }

    #[test]
    fn long_words_are_broken_and_styles_kept() {
        let rich = RichLine::plain(Line::from(vec![
            Span::raw("ab "),
            Span::styled("cdefghijkl", Style::new().bold()),
        ]));
        let mut out = Vec::new();
        wrap_into(&rich, 4, &mut out);
        assert_eq!(texts(&out), ["ab c", "defg", "hijk", "l"]);
        assert_eq!(out[1].spans[0].style, Style::new().bold());
    }

    #[test]
    fn wide_characters_count_double() {
        let rich = RichLine::plain(Line::from("日本語テキスト"));
        let mut out = Vec::new();
        wrap_into(&rich, 6, &mut out);
        assert_eq!(texts(&out), ["日本語", "テキス", "ト"]);
    }
}
