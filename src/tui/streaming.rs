//! Markdown that arrives in pieces. Finished blocks are rendered once and kept. Inside the open
//! tail block, lines of a paragraph or a code fence that a newline ended are final too: they are
//! rendered and wrapped once, and only the last line or two is parsed again per frame. So a
//! frame costs the same however long the open block grows, and streaming costs O(n) overall.
//! (Other open blocks, such as a long list with no blank line, are parsed again whole.)

use ratatui::text::Line;

use super::wrap::{RichLine, wrap_into};
use super::{highlight, markdown};

/// An assistant answer being streamed (or finished), rendered as Markdown.
#[derive(Debug, Default)]
pub struct StreamingMarkdown {
    source: String,
    /// `source[..committed]` is rendered into `blocks`.
    committed: usize,
    /// Complete lines before this byte have been scanned for block boundaries.
    scanned: usize,
    /// The fence (character and length) open at `scanned`, if any.
    fence: Option<(char, usize)>,
    /// A blank line outside a fence ended here; it becomes a boundary once the next line
    /// shows it does not continue the block (indented continuation lines would).
    candidate: Option<usize>,
    blocks: Vec<RichLine>,
    /// The final lines of the open block (the one starting at `committed`).
    open: OpenBlock,
    plain_code: bool,
    coloured_code: bool,
    finished: bool,
    wrapped: Wrapped,
}

/// What the open block is, as far as its final lines have shown.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Segment {
    /// Nothing but blank lines so far.
    #[default]
    Undecided,
    /// A paragraph of plain lines: each is drawn as its own line, so a final one never changes.
    Paragraph,
    /// Inside a fenced code block opened by this fence character and length.
    Fence(char, usize),
    /// Anything else (lists, tables, quotes…): parsed whole until the block is committed.
    Other,
}

/// The open block's lines that are final: `source[committed..settled]`, rendered into `rich`.
#[derive(Debug, Default)]
struct OpenBlock {
    settled: usize,
    segment: Segment,
    /// Colours the open code fence's lines as they end, when the highlighter is ready.
    code: Option<Box<highlight::LineHighlighter>>,
    rich: Vec<RichLine>,
    /// The segment before ended: the next one's first line is set off by a blank line.
    need_blank: bool,
}

impl OpenBlock {
    fn at(settled: usize) -> Self {
        Self {
            settled,
            ..Self::default()
        }
    }

    fn separate(&mut self) {
        if self.need_blank && !self.rich.is_empty() {
            self.rich.push(RichLine::default());
        }
        self.need_blank = false;
    }

    /// Moves `settled` over every complete line of `source` that can no longer change how it
    /// is drawn, rendering those lines.
    fn settle(&mut self, source: &str) {
        loop {
            let rest = &source[self.settled..];
            let Some(nl) = rest.find('\n') else { return };
            let line = &rest[..=nl];
            match self.segment {
                Segment::Undecided => {
                    if line.trim().is_empty() {
                        self.settled += line.len();
                    } else if let Some(fence) = fence_opener(line) {
                        self.segment = Segment::Fence(fence.0, fence.1);
                        let info = line.trim_start_matches(' ')[fence.1..].trim();
                        self.code = (!info.is_empty())
                            .then(|| highlight::LineHighlighter::new(info))
                            .flatten()
                            .map(Box::new);
                        self.settled += line.len();
                    } else if is_plain(line) {
                        self.segment = Segment::Paragraph;
                    } else {
                        self.segment = Segment::Other;
                    }
                }
                Segment::Paragraph => {
                    // A line is final once the next one shows it is neither a setext heading's
                    // text nor a table's header.
                    let mut end = 0;
                    let mut next_segment = None;
                    for piece in rest.split_inclusive('\n') {
                        if !piece.ends_with('\n') {
                            break;
                        }
                        if piece.trim().is_empty() {
                            next_segment = Some(Segment::Undecided);
                            break;
                        }
                        if fence_opener(piece).is_some() {
                            next_segment = Some(Segment::Undecided);
                            break;
                        }
                        if !is_plain(piece) {
                            next_segment = Some(Segment::Other);
                            break;
                        }
                        end += piece.len();
                    }
                    // A blank line or a fence ends the paragraph: every line before it is final.
                    // Otherwise the last plain line waits for a next line to vouch for it.
                    let ended = next_segment == Some(Segment::Undecided);
                    let end = if ended {
                        end
                    } else {
                        rest[..end]
                            .trim_end_matches('\n')
                            .rfind('\n')
                            .map_or(0, |i| i + 1)
                    };
                    if end > 0 {
                        self.separate();
                        markdown::render(&rest[..end], false, &mut self.rich);
                        self.settled += end;
                    }
                    match next_segment {
                        Some(Segment::Undecided) => {
                            self.segment = Segment::Undecided;
                            self.need_blank = true;
                        }
                        Some(other) => self.segment = other,
                        None => return,
                    }
                }
                Segment::Fence(ch, len) => {
                    if closes_fence(line, ch, len) {
                        self.segment = Segment::Undecided;
                        if let Some(code) = self.code.take() {
                            code.finish();
                        }
                        self.need_blank = true;
                    } else {
                        self.separate();
                        match self.code.as_mut().and_then(|code| code.line(line)) {
                            Some(coloured) => self.rich.push(RichLine::plain(coloured)),
                            None => markdown::code_lines(line, &mut self.rich),
                        }
                    }
                    self.settled += line.len();
                }
                Segment::Other => return,
            }
        }
    }
}

/// The fence character and length when `line` opens a code fence.
fn fence_opener(line: &str) -> Option<(char, usize)> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() >= 4 {
        return None;
    }
    let c = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let run = trimmed.chars().take_while(|x| *x == c).count();
    // A backtick fence's info string holds no backtick.
    let info_ok = c == '~' || !trimmed[run..].contains('`');
    (run >= 3 && info_ok).then_some((c, run))
}

/// Whether `line` closes a fence opened with `run` × `c`.
fn closes_fence(line: &str, c: char, run: usize) -> bool {
    let trimmed = line.trim_start_matches(' ');
    let len = trimmed.chars().take_while(|x| *x == c).count();
    line.len() - trimmed.len() < 4 && len >= run && trimmed[len..].trim().is_empty()
}

/// A line that can only be paragraph text: it starts no block of its own and cannot turn the
/// line before it into a heading or a table header.
fn is_plain(line: &str) -> bool {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() >= 4 || line.starts_with('\t') {
        return false;
    }
    let mut chars = trimmed.chars();
    match chars.next() {
        None => false,
        Some('#' | '>' | '-' | '*' | '+' | '_' | '=' | '|' | '<' | '`' | '~') => false,
        Some(c) if c.is_ascii_digit() => {
            let rest = trimmed.trim_start_matches(|c: char| c.is_ascii_digit());
            // An ordered list item: digits, then `.` or `)`, then a space or the line's end.
            let marker_end = rest.strip_prefix('.').or_else(|| rest.strip_prefix(')'));
            !marker_end.is_some_and(|after| after.starts_with([' ', '\n', '\r']))
        }
        Some(_) => !trimmed.contains('|'),
    }
}

#[derive(Debug, Default)]
struct Wrapped {
    width: usize,
    /// How many of `blocks` are wrapped into `lines[..committed_lines]`.
    blocks_done: usize,
    committed_lines: usize,
    /// How many of the open block's final lines are wrapped into
    /// `lines[committed_lines..settled_lines]`.
    settled_done: usize,
    settled_lines: usize,
    /// The source length the live rest was wrapped at.
    tail_at: Option<usize>,
    lines: Vec<Line<'static>>,
}

impl StreamingMarkdown {
    /// An empty answer that is still streaming.
    pub fn new() -> Self {
        Self::default()
    }

    /// A finished answer, parsed only when first drawn: a restored conversation costs nothing
    /// for the messages that never scroll into view.
    pub fn finished(text: impl Into<String>) -> Self {
        let source = text.into();
        Self {
            scanned: source.len(),
            source,
            finished: true,
            ..Self::default()
        }
    }

    /// The text so far.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether a code block was drawn plain while the highlighter loaded.
    pub fn has_plain_code(&self) -> bool {
        self.plain_code
    }

    /// Whether a code block was coloured for a background that may since have changed.
    pub fn has_coloured_code(&self) -> bool {
        self.coloured_code
    }

    /// Appends a delta.
    pub fn push(&mut self, delta: &str) {
        self.source.push_str(delta);
        if !self.finished && delta.contains('\n') {
            // The lines that ended settle in the block they belong to before a boundary may
            // commit it: a code fence closed here hands its coloured lines to the commit.
            self.open.settle(&self.source);
        }
        self.scan();
        if !self.finished {
            self.open.settle(&self.source);
        }
    }

    /// Ends the stream with the authoritative text; everything is rendered in full.
    pub fn finish(&mut self, text: &str) {
        if text != self.source {
            *self = Self {
                source: text.to_string(),
                ..Self::default()
            };
        }
        self.commit_to(self.source.len());
        self.finished = true;
    }

    /// Renders everything again, e.g. once the highlighter is ready.
    pub fn rerender(&mut self) {
        let text = std::mem::take(&mut self.source);
        let finished = self.finished;
        *self = Self::default();
        self.push(&text);
        if finished {
            self.finish(&text);
        }
    }

    fn scan(&mut self) {
        let mut boundary = None;
        while let Some(nl) = self.source[self.scanned..].find('\n') {
            let start = self.scanned;
            let end = start + nl + 1;
            let line = &self.source[start..end];
            let trimmed = line.trim_start_matches(' ');
            let indent = line.len() - trimmed.len();
            if let Some(candidate) = self.candidate.take() {
                if trimmed.trim().is_empty() {
                    self.candidate = Some(candidate);
                } else if indent == 0 && !line.starts_with('\t') {
                    boundary = Some(candidate);
                }
            }
            if indent < 4 {
                let fence_char = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
                if let Some(c) = fence_char {
                    let run = trimmed.chars().take_while(|x| *x == c).count();
                    if run >= 3 {
                        match self.fence {
                            None => self.fence = Some((c, run)),
                            Some((open, len))
                                if open == c && run >= len && trimmed[run..].trim().is_empty() =>
                            {
                                self.fence = None;
                            }
                            Some(_) => {}
                        }
                    }
                }
            }
            if self.fence.is_none() && trimmed.trim().is_empty() && self.candidate.is_none() {
                self.candidate = Some(end);
            }
            self.scanned = end;
        }
        if let Some(at) = boundary {
            self.commit_to(at);
        }
    }

    fn commit_to(&mut self, at: usize) {
        if at <= self.committed {
            return;
        }
        let chunk = &self.source[self.committed..at];
        let mut lines = Vec::new();
        let rendered = markdown::render(chunk, true, &mut lines);
        self.plain_code |= rendered.plain_code;
        self.coloured_code |= rendered.coloured_code;
        if !lines.is_empty() && !self.blocks.is_empty() {
            self.blocks.push(RichLine::default());
        }
        self.blocks.extend(lines);
        self.committed = at;
        self.open = OpenBlock::at(at);
    }

    /// The answer wrapped to `width`, with a blank line after it. Finished blocks are wrapped
    /// once per width; the tail is re-rendered only when the text grew.
    pub fn lines(&mut self, width: usize) -> &[Line<'static>] {
        if self.finished {
            self.commit_to(self.source.len());
        }
        let w = &mut self.wrapped;
        if w.width != width {
            *w = Wrapped {
                width,
                ..Wrapped::default()
            };
        }
        if w.blocks_done < self.blocks.len() {
            w.lines.truncate(w.committed_lines);
            for line in &self.blocks[w.blocks_done..] {
                wrap_into(line, width, &mut w.lines);
            }
            w.blocks_done = self.blocks.len();
            w.committed_lines = w.lines.len();
            w.settled_done = 0;
            w.settled_lines = w.committed_lines;
            w.tail_at = None;
        }
        let open = &self.open;
        if w.settled_done < open.rich.len() {
            w.lines.truncate(w.settled_lines);
            if w.settled_done == 0 && w.committed_lines > 0 {
                w.lines.push(Line::default());
            }
            for line in &open.rich[w.settled_done..] {
                wrap_into(line, width, &mut w.lines);
            }
            w.settled_done = open.rich.len();
            w.settled_lines = w.lines.len();
            w.tail_at = None;
        }
        if w.tail_at != Some(self.source.len()) {
            w.lines.truncate(w.settled_lines);
            let live = &self.source[open.settled.max(self.committed)..];
            if !live.trim().is_empty() {
                let mut rich = Vec::new();
                match open.segment {
                    Segment::Fence(..) => markdown::code_lines(live, &mut rich),
                    _ => {
                        markdown::render(live, false, &mut rich);
                    }
                }
                let gap = if open.rich.is_empty() {
                    w.committed_lines > 0
                } else {
                    open.need_blank
                };
                if !rich.is_empty() && gap {
                    w.lines.push(Line::default());
                }
                for line in &rich {
                    wrap_into(line, width, &mut w.lines);
                }
            }
            w.lines.push(Line::default());
            w.tail_at = Some(self.source.len());
        }
        &w.lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(md: &mut StreamingMarkdown) -> Vec<String> {
        md.lines(40).iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn streamed_pieces_render_like_the_whole() {
        let text = "# Head\n\nA paragraph\nwith two lines.\n\n```sh\nls\n\necho\n```\n\n- a\n- b\n\n    indented code\n\nend";
        let mut streamed = StreamingMarkdown::new();
        for chunk in text.as_bytes().chunks(3) {
            streamed.push(std::str::from_utf8(chunk).unwrap());
            let _ = streamed.lines(40);
        }
        let mut whole = StreamingMarkdown::new();
        whole.finish(text);
        assert_eq!(shown(&mut streamed), shown(&mut whole));
        assert!(streamed.committed > 0, "finished blocks were committed");
        streamed.finish(text);
        assert_eq!(shown(&mut streamed), shown(&mut whole));
    }

    #[test]
    fn final_lines_of_a_long_open_block_are_not_parsed_again() {
        for text in [
            "kelp streams ok\n".repeat(5_000),
            format!("Here:\n```rust\n{}", "let x = 1;\n".repeat(5_000)),
        ] {
            let mut streamed = StreamingMarkdown::new();
            for chunk in text.as_bytes().chunks(16) {
                streamed.push(std::str::from_utf8(chunk).unwrap());
                let _ = streamed.lines(40);
                assert!(
                    streamed.source.len() - streamed.open.settled < 64,
                    "the live rest stays a line or two"
                );
            }
            assert_eq!(streamed.committed, 0, "one open block");
            // The same lines as the block parsed whole, code drawn plain as while streaming.
            let mut parsed = Vec::new();
            markdown::render(&text, false, &mut parsed);
            let mut expected: Vec<String> = Vec::new();
            for line in &parsed {
                let mut out = Vec::new();
                wrap_into(line, 40, &mut out);
                expected.extend(out.iter().map(|l| l.to_string()));
            }
            expected.push(String::new());
            assert_eq!(shown(&mut streamed), expected);
        }
    }

    #[test]
    fn a_line_that_may_be_a_heading_underline_keeps_the_line_before_it_live() {
        let mut md = StreamingMarkdown::new();
        md.push("Title\nmore\n");
        assert_eq!(
            md.open.settled,
            "Title\n".len(),
            "`more` could still be underlined"
        );
        md.push("---\n");
        assert_eq!(md.open.segment, Segment::Other);
        let mut whole = StreamingMarkdown::new();
        whole.finish("Title\nmore\n---\n");
        md.finish("Title\nmore\n---\n");
        assert_eq!(shown(&mut md), shown(&mut whole));
    }

    #[test]
    fn finished_lines_of_an_open_code_block_are_coloured_while_it_streams() {
        super::highlight::load_now();
        let mut md = StreamingMarkdown::new();
        md.push("Here:\n\n```rust\nfn main() {\n    let x = 1;\n    pri");
        let lines = md.lines(80).to_vec();
        let line = |text: &str| {
            lines
                .iter()
                .find(|l| l.to_string().trim_end() == text)
                .unwrap_or_else(|| panic!("no {text:?} in {lines:?}"))
        };
        let colours = |l: &Line<'_>| {
            l.spans
                .iter()
                .filter_map(|s| s.style.fg)
                .collect::<std::collections::HashSet<_>>()
                .len()
        };
        assert!(
            colours(line("fn main() {")) > 1,
            "{:?}",
            line("fn main() {")
        );
        assert!(colours(line("    let x = 1;")) > 1);
        // The line still being written stays plain until its newline.
        assert!(colours(line("    pri")) <= 1);
    }

    #[test]
    fn single_newlines_are_line_breaks_except_in_lists() {
        let mut md = StreamingMarkdown::new();
        md.finish("Line one.\nLine two.\n\n- item\n  wrapped\n");
        assert_eq!(
            shown(&mut md),
            ["Line one.", "Line two.", "", "• item wrapped", ""]
        );
    }

    #[test]
    fn a_blank_line_inside_a_fence_is_no_boundary() {
        let mut md = StreamingMarkdown::new();
        md.push("```\na\n\nb\n");
        assert_eq!(md.committed, 0);
        md.push("```\n\nafter\n");
        assert_eq!(&md.source[..md.committed], "```\na\n\nb\n```\n\n");
    }

    #[test]
    fn a_finished_answer_is_parsed_when_first_drawn() {
        let text = "# Head\n\nbody\n";
        let mut lazy = StreamingMarkdown::finished(text);
        assert_eq!(lazy.committed, 0);
        let mut whole = StreamingMarkdown::new();
        whole.finish(text);
        assert_eq!(shown(&mut lazy), shown(&mut whole));
        assert_eq!(lazy.committed, text.len());
    }

    #[test]
    fn a_changed_final_text_replaces_the_stream() {
        let mut md = StreamingMarkdown::new();
        md.push("draft");
        md.finish("final");
        assert_eq!(shown(&mut md), ["final", ""]);
    }
}
