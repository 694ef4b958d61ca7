//! Markdown to styled logical lines: headings, emphasis, lists, block quotes, links, tables and
//! code blocks (highlighted when asked to and the highlighter is ready).

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use super::highlight;
use super::wrap::RichLine;
use crate::tui::theme;

/// What rendering a piece of Markdown produced besides its lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Rendered {
    /// A code block with a language was drawn plain because the highlighter was not ready.
    pub plain_code: bool,
    /// A code block was coloured for the background known then.
    pub coloured_code: bool,
}

/// Renders `src` to logical lines appended to `out`. `highlight` asks for syntax colours in code
/// blocks (off for the still-streaming tail, where the block is not complete anyway).
pub fn render(src: &str, highlight: bool, out: &mut Vec<RichLine>) -> Rendered {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TASKLISTS);
    let mut r = Renderer {
        out,
        start_len: 0,
        highlight,
        cur: Vec::new(),
        styles: vec![Style::new()],
        containers: Vec::new(),
        lists: Vec::new(),
        code: None,
        table: None,
        link: None,
        need_blank: false,
        rendered: Rendered::default(),
    };
    r.start_len = r.out.len();
    let src = with_plan_heading(without_row_start(src));
    for event in Parser::new_ext(&src, options) {
        r.event(event);
    }
    r.flush();
    r.rendered
}

/// `src` without a last line that is only the `|` a table row starts with: an answer cut
/// (or still streaming) there would show a stray pipe below the table.
/// A plan mode answer's plan (`<proposed_plan>` … `</proposed_plan>`, Codex's tags) under a
/// heading of its own, its tags not shown.
fn with_plan_heading(src: &str) -> std::borrow::Cow<'_, str> {
    if !src.contains("proposed_plan>") {
        return std::borrow::Cow::Borrowed(src);
    }
    std::borrow::Cow::Owned(
        src.replace("<proposed_plan>", "\n### Proposed plan\n\n")
            .replace("</proposed_plan>", "\n"),
    )
}

fn without_row_start(src: &str) -> &str {
    let start = src.rfind('\n').map_or(0, |i| i + 1);
    let last = &src[start..];
    if last.contains('|') && last.chars().all(|c| c == '|' || c.is_whitespace()) {
        &src[..start]
    } else {
        src
    }
}

/// Lines of a code block drawn plain, as an unfinished block is: one per line of `code`.
pub fn code_lines(code: &str, out: &mut Vec<RichLine>) {
    let code = code.strip_suffix('\n').unwrap_or(code);
    out.extend(
        code.split('\n')
            .map(|l| RichLine::plain(Line::from(Span::styled(l.to_string(), code_style())))),
    );
}

/// The text of the last fenced or indented code block in `src`.
pub fn last_code_block(src: &str) -> Option<String> {
    let mut last = None;
    let mut current: Option<String> = None;
    for event in Parser::new_ext(src, Options::empty()) {
        match event {
            Event::Start(Tag::CodeBlock(_)) => current = Some(String::new()),
            Event::Text(text) => {
                if let Some(code) = &mut current {
                    code.push_str(&text);
                }
            }
            Event::End(TagEnd::CodeBlock) => last = current.take(),
            _ => {}
        }
    }
    last
}

struct Container {
    first: Vec<Span<'static>>,
    rest: Vec<Span<'static>>,
    first_used: bool,
}

struct Table {
    alignments: Vec<pulldown_cmark::Alignment>,
    rows: Vec<Vec<String>>,
    header_rows: usize,
    cell: String,
    in_head: bool,
}

struct Renderer<'a> {
    out: &'a mut Vec<RichLine>,
    start_len: usize,
    highlight: bool,
    cur: Vec<Span<'static>>,
    styles: Vec<Style>,
    containers: Vec<Container>,
    lists: Vec<Option<u64>>,
    code: Option<(String, String)>,
    table: Option<Table>,
    link: Option<(String, String)>,
    need_blank: bool,
    rendered: Rendered,
}

fn heading_style(level: HeadingLevel) -> Style {
    theme::heading(level as usize)
}

fn code_style() -> Style {
    theme::accent()
}

impl Renderer<'_> {
    fn style(&self) -> Style {
        self.styles.last().copied().unwrap_or_default()
    }

    fn push_style(&mut self, f: impl FnOnce(Style) -> Style) {
        let s = f(self.style());
        self.styles.push(s);
    }

    fn pop_style(&mut self) {
        if self.styles.len() > 1 {
            self.styles.pop();
        }
    }

    fn text(&mut self, text: &str, style: Style) {
        if let Some((_, link_text)) = &mut self.link {
            link_text.push_str(text);
        }
        self.cur.push(Span::styled(text.to_string(), style));
    }

    fn prefix(&mut self) -> (Vec<Span<'static>>, Vec<Span<'static>>) {
        let mut first = Vec::new();
        let mut hang = Vec::new();
        for c in &mut self.containers {
            if c.first_used {
                first.extend(c.rest.iter().cloned());
            } else {
                first.extend(c.first.iter().cloned());
                c.first_used = true;
            }
            hang.extend(c.rest.iter().cloned());
        }
        (first, hang)
    }

    fn emit(&mut self, spans: Vec<Span<'static>>) {
        let (mut first, hang) = self.prefix();
        first.extend(spans);
        self.out.push(RichLine {
            line: Line::from(first),
            hang,
        });
    }

    fn flush(&mut self) {
        if !self.cur.is_empty() {
            let spans = std::mem::take(&mut self.cur);
            self.emit(spans);
        }
    }

    fn block_start(&mut self) {
        self.flush();
        if self.need_blank && self.out.len() > self.start_len {
            let (_, hang) = self.prefix();
            let hang: Vec<Span<'static>> = hang
                .into_iter()
                .filter(|s| !s.content.trim().is_empty())
                .collect();
            self.out.push(RichLine::plain(Line::from(hang)));
        }
        self.need_blank = false;
    }

    fn block_end(&mut self) {
        self.flush();
        self.need_blank = true;
    }

    fn event(&mut self, event: Event<'_>) {
        if let Some(table) = &mut self.table {
            match event {
                Event::Text(t) | Event::Code(t) => {
                    table.cell.push_str(&t);
                    return;
                }
                Event::Start(Tag::TableHead) => table.in_head = true,
                Event::End(TagEnd::TableHead) => {
                    table.in_head = false;
                    table.header_rows = table.rows.len();
                }
                Event::Start(Tag::TableRow) => table.rows.push(Vec::new()),
                Event::Start(Tag::TableCell) => {
                    if table.in_head && table.rows.is_empty() {
                        table.rows.push(Vec::new());
                    }
                    table.cell.clear();
                }
                Event::End(TagEnd::TableCell) => {
                    let cell = std::mem::take(&mut table.cell);
                    if let Some(row) = table.rows.last_mut() {
                        row.push(cell);
                    }
                }
                Event::End(TagEnd::Table) => {
                    if let Some(table) = self.table.take() {
                        self.table(table);
                    }
                    self.need_blank = true;
                }
                _ => {}
            }
            return;
        }
        if let Some((_, code)) = &mut self.code {
            match event {
                Event::Text(t) => code.push_str(&t),
                Event::End(TagEnd::CodeBlock) => {
                    if let Some((lang, code)) = self.code.take() {
                        self.code_block(&lang, &code);
                    }
                    self.need_blank = true;
                }
                _ => {}
            }
            return;
        }
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => {
                let style = self.style();
                let mut lines = t.split('\n');
                if let Some(first) = lines.next() {
                    self.text(first, style);
                }
                for line in lines {
                    self.flush();
                    self.text(line, style);
                }
            }
            Event::Code(t) => {
                let style = self.style().patch(code_style());
                self.text(&t, style);
            }
            Event::InlineMath(t) | Event::DisplayMath(t) => {
                let style = self.style().patch(code_style());
                self.text(&t, style);
            }
            Event::Html(t) | Event::InlineHtml(t) => {
                let style = self.style();
                self.text(t.trim_end_matches('\n'), style);
                if t.ends_with('\n') {
                    self.flush();
                }
            }
            // Model answers mean a single newline as a line break (as Codex shows them); in a
            // list item it is only the source's wrapping.
            Event::SoftBreak if self.lists.is_empty() => self.flush(),
            Event::SoftBreak => {
                let style = self.style();
                self.text(" ", style);
            }
            Event::HardBreak => self.flush(),
            Event::Rule => {
                self.block_start();
                self.emit(vec![Span::styled("─".repeat(24), theme::dim())]);
                self.need_blank = true;
            }
            Event::TaskListMarker(done) => {
                let mark = if done { "[x] " } else { "[ ] " };
                self.text(mark, theme::accent());
            }
            Event::FootnoteReference(name) => {
                let style = self.style();
                self.text(&format!("[^{name}]"), style);
            }
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => self.block_start(),
            Tag::Heading { level, .. } => {
                self.block_start();
                self.push_style(|s| s.patch(heading_style(level)));
            }
            Tag::BlockQuote(_) => {
                self.block_start();
                let bar = vec![Span::styled("│ ", theme::good())];
                self.containers.push(Container {
                    first: bar.clone(),
                    rest: bar,
                    first_used: false,
                });
                self.push_style(|s| s.patch(theme::emphasis()));
            }
            Tag::CodeBlock(kind) => {
                self.block_start();
                let lang = match kind {
                    CodeBlockKind::Fenced(lang) => lang.to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                self.code = Some((lang, String::new()));
            }
            Tag::List(start) => {
                if self.lists.is_empty() {
                    self.block_start();
                } else {
                    self.flush();
                }
                self.lists.push(start);
            }
            Tag::Item => {
                self.flush();
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let m = format!("{n}. ");
                        *n += 1;
                        m
                    }
                    _ => "• ".to_string(),
                };
                let width = marker.width();
                self.containers.push(Container {
                    first: vec![Span::styled(marker, theme::accent())],
                    rest: vec![Span::raw(" ".repeat(width))],
                    first_used: false,
                });
                // Items of a loose list hold paragraphs; their first one must not add a gap.
                self.need_blank = false;
            }
            Tag::Emphasis => self.push_style(|s| s.patch(theme::emphasis())),
            Tag::Strong => self.push_style(|s| s.patch(theme::strong())),
            Tag::Strikethrough => self.push_style(|s| s.patch(theme::struck())),
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.link = Some((dest_url.to_string(), String::new()));
                self.push_style(|s| s.patch(theme::link()));
            }
            Tag::Table(alignments) => {
                self.block_start();
                self.table = Some(Table {
                    alignments,
                    rows: Vec::new(),
                    header_rows: 0,
                    cell: String::new(),
                    in_head: false,
                });
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => self.block_end(),
            TagEnd::Heading(_) => {
                self.pop_style();
                self.block_end();
            }
            TagEnd::BlockQuote(_) => {
                self.flush();
                self.containers.pop();
                self.pop_style();
                self.need_blank = true;
            }
            TagEnd::List(_) => {
                self.flush();
                self.lists.pop();
                if self.lists.is_empty() {
                    self.need_blank = true;
                }
            }
            TagEnd::Item => {
                self.flush();
                self.containers.pop();
            }
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough => self.pop_style(),
            TagEnd::Link | TagEnd::Image => {
                self.pop_style();
                if let Some((url, text)) = self.link.take()
                    && !url.is_empty()
                    && url != text
                    && !url.starts_with('#')
                {
                    self.cur
                        .push(Span::styled(format!(" ({url})"), theme::dim()));
                }
            }
            _ => {}
        }
    }

    fn code_block(&mut self, lang: &str, code: &str) {
        // Without colours nothing else sets a code block apart: keep its fences.
        let fenced = !theme::colors();
        if fenced {
            self.emit(vec![Span::styled(format!("```{lang}"), theme::dim())]);
        }
        self.code_body(lang, code);
        if fenced {
            self.emit(vec![Span::styled("```", theme::dim())]);
        }
    }

    fn code_body(&mut self, lang: &str, code: &str) {
        let code = code.strip_suffix('\n').unwrap_or(code);
        let highlighted = if self.highlight && !lang.is_empty() {
            let lines = highlight::highlight(lang, code);
            if lines.is_none() && !highlight::is_loaded() {
                self.rendered.plain_code = true;
            }
            lines
        } else {
            None
        };
        match highlighted {
            Some(lines) => {
                self.rendered.coloured_code = true;
                for line in lines {
                    self.emit(line.spans);
                }
            }
            None => {
                for l in code.split('\n') {
                    self.emit(vec![Span::styled(l.to_string(), code_style())]);
                }
            }
        }
    }

    fn table(&mut self, table: Table) {
        let columns = table.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0usize; columns];
        for row in &table.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.width());
            }
        }
        let border = theme::dim();
        for (r, row) in table.rows.iter().enumerate() {
            let header = r < table.header_rows;
            let mut spans = Vec::new();
            for (i, width) in widths.iter().enumerate() {
                if i > 0 {
                    spans.push(Span::styled(" │ ", border));
                }
                let cell = row.get(i).map(String::as_str).unwrap_or("");
                let pad = width.saturating_sub(cell.width());
                let (before, after) = match table.alignments.get(i) {
                    Some(pulldown_cmark::Alignment::Right) => (pad, 0),
                    Some(pulldown_cmark::Alignment::Center) => (pad / 2, pad - pad / 2),
                    _ => (0, pad),
                };
                let style = if header {
                    theme::strong()
                } else {
                    Style::new()
                };
                let text = format!("{}{cell}{}", " ".repeat(before), " ".repeat(after));
                spans.push(Span::styled(text, style));
            }
            self.emit(spans);
            if header && r + 1 == table.header_rows {
                let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
                self.emit(vec![Span::styled(rule.join("─┼─"), border)]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(src: &str) -> Vec<String> {
        let mut out = Vec::new();
        render(src, false, &mut out);
        out.iter().map(|l| l.line.to_string()).collect()
    }

    #[test]
    fn blocks_are_separated_and_lists_marked() {
        let lines = text("# Title\n\nSome *text*.\n\n- one\n- two\n  1. sub\n\n> quoted\n");
        assert_eq!(
            lines,
            [
                "Title",
                "",
                "Some text.",
                "",
                "• one",
                "• two",
                "  1. sub",
                "",
                "│ quoted"
            ]
        );
    }

    #[test]
    fn code_blocks_keep_their_lines_and_links_show_urls() {
        let lines = text("```rust\nfn a() {}\n\nlet b;\n```\nsee [docs](https://x.y)\n");
        assert_eq!(
            lines,
            ["fn a() {}", "", "let b;", "", "see docs (https://x.y)"]
        );
    }

    #[test]
    fn tables_align_columns() {
        let lines = text("| a | bb |\n|---|---|\n| ccc | d |\n");
        assert_eq!(lines, ["a   │ bb", "────┼───", "ccc │ d "]);
    }

    #[test]
    fn tables_follow_their_column_alignment() {
        let lines = text("| left | mid | right |\n|:---|:---:|---:|\n| a | b | c |\n");
        assert_eq!(
            lines,
            [
                "left │ mid │ right",
                "─────┼─────┼──────",
                "a    │  b  │     c"
            ]
        );
    }

    #[test]
    fn a_row_cut_at_its_first_pipe_leaves_no_stray_pipe() {
        let lines = text("| a | b |\n|---|---|\n| c | d |\n|");
        assert_eq!(lines, ["a │ b", "──┼──", "c │ d"]);
        assert_eq!(text("use `a | b`\n"), ["use a | b"]);
    }
}
