//! Markdown that arrives in pieces. Finished blocks are rendered once and kept; only the open
//! tail block is parsed again, so streaming a long answer costs O(n) overall.

use ratatui::text::Line;

use super::markdown;
use super::wrap::{RichLine, wrap_into};

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
    plain_code: bool,
    finished: bool,
    wrapped: Wrapped,
}

#[derive(Debug, Default)]
struct Wrapped {
    width: usize,
    /// How many of `blocks` are wrapped into `lines[..committed_lines]`.
    blocks_done: usize,
    committed_lines: usize,
    /// The source length the tail was wrapped at.
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
    pub fn finished(text: &str) -> Self {
        Self {
            source: text.to_string(),
            scanned: text.len(),
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

    /// Appends a delta.
    pub fn push(&mut self, delta: &str) {
        self.source.push_str(delta);
        self.scan();
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
        if !lines.is_empty() && !self.blocks.is_empty() {
            self.blocks.push(RichLine::default());
        }
        self.blocks.extend(lines);
        self.committed = at;
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
            w.tail_at = None;
        }
        if w.tail_at != Some(self.source.len()) {
            w.lines.truncate(w.committed_lines);
            let tail = &self.source[self.committed..];
            if !tail.trim().is_empty() {
                let mut rich = Vec::new();
                markdown::render(tail, false, &mut rich);
                if !rich.is_empty() && w.committed_lines > 0 {
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
