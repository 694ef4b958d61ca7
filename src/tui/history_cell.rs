//! The transcript is a list of cells. Each cell knows how to draw itself at a width and keeps
//! the wrapped lines until it changes or the width does.

use std::time::Duration;

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::call_lines::{
    MAX_COMMAND_LINES, ToolCall, approval_lines, diff_lines, hanging, label_width, one_line,
    tool_lines,
};
use super::streaming::StreamingMarkdown;
use super::wrap::{RichLine, wrap_into};
use crate::protocol::{ApprovalDecision, ApprovalSubject, Attachment, PlanStatus, PlanStep};
use crate::tui::theme;

/// What a cell shows.
#[derive(Debug)]
pub enum CellKind {
    /// A prompt the user sent.
    User(String),
    /// An assistant answer, streamed as Markdown.
    Assistant(StreamingMarkdown),
    /// A reasoning summary; dimmed, and collapsed to its first line unless details are shown.
    Reasoning(String),
    /// A tool call.
    Tool(ToolCall),
    /// A question whether a command or patch may run.
    Approval {
        subject: ApprovalSubject,
        decision: Option<ApprovalDecision>,
    },
    /// The model's plan.
    Plan {
        explanation: Option<String>,
        steps: Vec<PlanStep>,
    },
    /// A failure, one readable line.
    Error(String),
    /// A transient failure being retried; `settled` once an attempt got through.
    Retry {
        attempt: u32,
        max: u32,
        delay: Duration,
        reason: String,
        settled: bool,
    },
    /// Information for the person (status, help, login changes).
    Notice(String),
    /// `/diff`: a titled unified diff, coloured.
    Diff { title: String, diff: String },
    /// The files a prompt mentioned with `@`: attached, or left out and why.
    Attached(Vec<Attachment>),
    /// A web search of the model's: `None` while it runs, then what it looked for (empty
    /// when the server did not say).
    WebSearch(Option<String>),
    /// An auto-review of an approval: under way, then what it decided.
    Review(crate::protocol::AutoReview),
}

#[derive(Debug)]
struct Cache {
    width: usize,
    expanded: bool,
    lines: Vec<Line<'static>>,
}

/// One entry of the transcript with its wrapped lines cached.
#[derive(Debug)]
pub struct HistoryCell {
    kind: CellKind,
    cache: Option<Cache>,
}

impl CellKind {
    /// A retry's line while it waits: `reconnecting attempt/max`, the reason, the delay.
    pub fn retry(attempt: u32, max: u32, delay: Duration, reason: String) -> Self {
        Self::Retry {
            attempt,
            max,
            delay,
            reason,
            settled: false,
        }
    }
}

impl HistoryCell {
    /// A cell showing `kind`.
    pub fn new(kind: CellKind) -> Self {
        Self { kind, cache: None }
    }

    /// What the cell shows.
    pub fn kind(&self) -> &CellKind {
        &self.kind
    }

    /// About how much text the cell holds (its drawn lines are of the same order).
    pub fn text_bytes(&self) -> usize {
        match &self.kind {
            CellKind::User(text)
            | CellKind::Reasoning(text)
            | CellKind::Error(text)
            | CellKind::Notice(text) => text.len(),
            CellKind::Assistant(md) => md.source().len(),
            CellKind::Tool(call) => {
                let changes: usize = call
                    .changes
                    .iter()
                    .map(|c| c.hunks.len() + c.path.len())
                    .sum();
                call.output.len() + call.summary.len() + changes
            }
            CellKind::Diff { diff, .. } => diff.len(),
            CellKind::WebSearch(query) => query.as_ref().map_or(0, String::len),
            CellKind::Review(review) => review.rationale.len() + 128,
            CellKind::Approval { .. }
            | CellKind::Plan { .. }
            | CellKind::Retry { .. }
            | CellKind::Attached(_) => 256,
        }
    }

    /// Changes the cell; the cached lines are dropped.
    pub fn kind_mut(&mut self) -> &mut CellKind {
        self.cache = None;
        &mut self.kind
    }

    /// Whether the cell looks different with details shown.
    pub fn is_collapsible(&self) -> bool {
        match &self.kind {
            CellKind::Reasoning(_) | CellKind::Tool(_) => true,
            CellKind::Approval {
                subject:
                    ApprovalSubject::Command { command, .. }
                    | ApprovalSubject::Unsandboxed { command, .. }
                    | ApprovalSubject::Network { command, .. },
                ..
            } => command.split('\n').count() > MAX_COMMAND_LINES,
            _ => false,
        }
    }

    /// The cell's lines at `width`, ending with a blank separator line.
    pub fn lines(&mut self, width: u16, expanded: bool) -> &[Line<'static>] {
        let width = usize::from(width.max(4));
        if matches!(self.kind, CellKind::Assistant(_)) {
            return match &mut self.kind {
                CellKind::Assistant(md) => md.lines(width),
                _ => &[],
            };
        }
        let expanded = expanded && self.is_collapsible();
        let fresh = matches!(&self.cache, Some(c) if c.width == width && c.expanded == expanded);
        if !fresh {
            let mut lines = Vec::new();
            for rich in logical_lines(&self.kind, expanded) {
                wrap_into(&rich, width, &mut lines);
            }
            lines.push(Line::default());
            self.cache = Some(Cache {
                width,
                expanded,
                lines,
            });
        }
        self.cache
            .as_ref()
            .map(|c| c.lines.as_slice())
            .unwrap_or(&[])
    }

    /// The number of lines at `width`.
    pub fn height(&mut self, width: u16, expanded: bool) -> usize {
        self.lines(width, expanded).len()
    }
}

/// A reasoning summary, its Markdown rendered (a bold title, not `**Title**`) and faint: folded,
/// its first line and `…` when more follows.
fn reasoning_lines(text: &str, expanded: bool) -> Vec<RichLine> {
    let mut rendered = Vec::new();
    super::markdown::render(text.trim(), false, &mut rendered);
    let faint = theme::dim().patch(theme::emphasis());
    let mut lines = rendered.into_iter().map(|mut line| {
        for span in line.line.spans.iter_mut().chain(line.hang.iter_mut()) {
            span.style = faint.patch(span.style);
        }
        line
    });
    let Some(mut first) = lines.next() else {
        return Vec::new();
    };
    first.line.spans.insert(0, Span::styled("✻ ", theme::dim()));
    first.hang.insert(0, Span::raw("  "));
    let mut out = vec![first];
    let mut rest = lines
        .filter(|line| expanded || line.line.width() > 0)
        .peekable();
    if expanded {
        out.extend(rest.map(|mut line| {
            line.line.spans.insert(0, Span::raw("  "));
            line.hang.insert(0, Span::raw("  "));
            line
        }));
    } else if rest.peek().is_some() {
        out[0].line.spans.push(Span::styled(" …", theme::dim()));
    }
    out
}

fn logical_lines(kind: &CellKind, expanded: bool) -> Vec<RichLine> {
    match kind {
        CellKind::User(text) => text
            .split('\n')
            .enumerate()
            .map(|(i, line)| {
                let prefix = if i == 0 {
                    Span::styled("› ", theme::accent().bold())
                } else {
                    Span::raw("  ")
                };
                hanging(
                    vec![prefix, Span::styled(line.to_string(), Style::new().bold())],
                    "  ",
                )
            })
            .collect(),
        CellKind::Assistant(_) => Vec::new(),
        CellKind::Reasoning(text) => reasoning_lines(text, expanded),
        CellKind::Tool(call) => tool_lines(call, expanded),
        CellKind::WebSearch(query) => vec![web_search_line(query.as_deref())],
        CellKind::Approval { subject, decision } => {
            approval_lines(subject, decision.as_ref(), expanded)
        }
        CellKind::Plan { explanation, steps } => plan_lines(explanation.as_deref(), steps),
        // A message of several lines (the config file's problems) keeps them.
        CellKind::Error(message) => message
            .split('\n')
            .enumerate()
            .map(|(i, line)| {
                hanging(
                    vec![
                        Span::styled(if i == 0 { "■ " } else { "  " }, theme::bad()),
                        Span::styled(one_line(line), theme::bad()),
                    ],
                    "  ",
                )
            })
            .collect(),
        CellKind::Retry {
            attempt,
            reason,
            settled: true,
            ..
        } => vec![retried_line(*attempt, reason)],
        // No count: the server is unreachable and kelp tries again until it is back.
        CellKind::Retry { max: 0, reason, .. } => vec![hanging(
            vec![
                Span::styled("⟳ ", theme::warn()),
                Span::styled(reconnecting_words(), theme::warn()),
                Span::styled(format!(" — {}", one_line(reason)), theme::dim()),
            ],
            "  ",
        )],
        CellKind::Retry {
            attempt,
            max,
            delay,
            reason,
            ..
        } => vec![hanging(
            vec![
                Span::styled("⟳ ", theme::warn()),
                Span::styled(format!("reconnecting {attempt}/{max}"), theme::warn()),
                Span::styled(
                    format!(" in {:.1}s — {}", delay.as_secs_f64(), one_line(reason)),
                    theme::dim(),
                ),
            ],
            "  ",
        )],
        CellKind::Attached(files) => attached_lines(files),
        CellKind::Review(review) => super::review_lines::review_lines(review),
        CellKind::Notice(text) => text
            .split('\n')
            .enumerate()
            .map(|(i, line)| {
                let prefix = if i == 0 { "• " } else { "  " };
                // A `Label:   value` line (as /status writes them) wraps under its value.
                let hang = " ".repeat(2 + label_width(line));
                hanging(
                    vec![
                        Span::styled(prefix, theme::dim()),
                        Span::raw(line.to_string()),
                    ],
                    &hang,
                )
            })
            .collect(),
        CellKind::Diff { title, diff } => {
            let mut out = vec![RichLine::plain(Line::from(vec![
                Span::styled("± ", theme::accent()),
                Span::styled(title.clone(), Style::new().bold()),
            ]))];
            diff_lines(diff, &mut out);
            out
        }
    }
}

/// A web search: under way (`None`), done, or done for a query.
fn web_search_line(query: Option<&str>) -> RichLine {
    {
        let (bullet, words) = match query {
            None => (Span::styled("• ", theme::warn()), "Searching the web"),
            Some("") => (Span::styled("• ", theme::good()), "Searched the web"),
            Some(_) => (Span::styled("• ", theme::good()), "Searched:"),
        };
        let mut spans = vec![bullet, Span::styled(words, Style::new().bold())];
        if let Some(query) = query.filter(|q| !q.is_empty()) {
            spans.push(Span::raw(" "));
            spans.push(Span::raw(one_line(query)));
        }
        hanging(spans, "    ")
    }
}

/// The plan: its explanation, then each step marked done, under way or to do.
fn plan_lines(explanation: Option<&str>, steps: &[PlanStep]) -> Vec<RichLine> {
    {
        let mut out = vec![RichLine::plain(Line::from(vec![
            Span::styled("• ", theme::accent()),
            Span::styled("Plan", Style::new().bold()),
        ]))];
        if let Some(text) = explanation.filter(|t| !t.trim().is_empty()) {
            out.push(hanging(
                vec![
                    Span::raw("  "),
                    Span::styled(text.to_string(), theme::dim()),
                ],
                "  ",
            ));
        }
        for step in steps {
            let (mark, style) = match step.status {
                PlanStatus::Completed => ("✔ ", theme::dim().patch(theme::struck())),
                PlanStatus::InProgress => ("▸ ", theme::accent().bold()),
                PlanStatus::Pending => ("□ ", Style::new()),
            };
            out.push(hanging(
                vec![
                    Span::raw("  "),
                    Span::styled(mark, style.remove_modifier(Modifier::CROSSED_OUT)),
                    Span::styled(step.step.clone(), style),
                ],
                "    ",
            ));
        }
        out
    }
}

/// A retry that worked: how many it took and why.
fn retried_line(attempt: u32, reason: &str) -> RichLine {
    hanging(
        vec![
            Span::styled("⟳ ", theme::dim()),
            Span::styled(
                format!(
                    "retried {attempt}× — {}",
                    one_line(reason).trim_end_matches('.')
                ),
                theme::dim(),
            ),
        ],
        "  ",
    )
}

/// The files a prompt attached with `@`, and why one was not.
fn attached_lines(files: &[Attachment]) -> Vec<RichLine> {
    files
        .iter()
        .map(|file| {
            let (detail, style) = match (file.attached, file.detail.is_empty()) {
                (true, true) => (String::new(), theme::dim()),
                (true, false) => (format!(" · {}", file.detail), theme::dim()),
                (false, _) => (format!(" · not attached: {}", file.detail), theme::warn()),
            };
            hanging(
                vec![
                    Span::styled("  @ ", theme::dim()),
                    Span::styled(file.path.clone(), style),
                    Span::styled(detail, style),
                ],
                "    ",
            )
        })
        .collect()
}

/// A retry's words while kelp waits for the network.
fn reconnecting_words() -> String {
    format!("reconnecting… {}", crate::protocol::retry_count(1, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::call_lines::{COLLAPSED_DIFF_LINES, ShownChange, ToolEnd};

    #[test]
    fn a_wrapped_diff_row_keeps_its_marker() {
        let diff = "@@ -1 +1 @@\n-old words that wrap onto a second row\n+new words that wrap onto a second row";
        let mut out = Vec::new();
        diff_lines(diff, &mut out);
        let rows: Vec<String> = crate::tui::wrap::wrap_all(&out, 24)
            .iter()
            .map(|l| l.to_string())
            .collect();
        assert_eq!(rows[0], "  @@ -1 +1 @@");
        let removed = rows.iter().filter(|r| r.starts_with("  -")).count();
        let added = rows.iter().filter(|r| r.starts_with("  +")).count();
        assert!(removed >= 2 && added >= 2, "{rows:?}");
        assert_eq!(1 + removed + added, rows.len(), "{rows:?}");
    }

    #[test]
    fn cached_lines_follow_changes_and_width() {
        let mut cell = HistoryCell::new(CellKind::Notice("a b c d e f".into()));
        assert_eq!(cell.height(80, false), 2);
        assert_eq!(cell.height(6, false), 4);
        if let CellKind::Notice(text) = cell.kind_mut() {
            text.push_str("\nmore");
        }
        assert_eq!(cell.height(80, false), 3);
    }

    #[test]
    fn collapsed_tool_output_keeps_the_tail() {
        let mut cell = HistoryCell::new(CellKind::Tool(ToolCall {
            call_id: "c".into(),
            tool: "shell".into(),
            summary: "seq 10".into(),
            output: (1..=10).map(|i| format!("{i}\n")).collect(),
            changes: Vec::new(),
            finished: Some(ToolEnd {
                declined: false,
                success: true,
                exit_code: Some(0),
                interrupted: false,
                duration: Some(Duration::from_millis(1500)),
            }),
        }));
        let shown: Vec<String> = cell
            .lines(60, false)
            .iter()
            .map(|l| l.to_string())
            .collect();
        assert_eq!(shown[0], "• Ran shell seq 10");
        assert!(shown[1].contains("5 earlier lines"));
        assert_eq!(shown[2], "  │ 6");
        assert_eq!(shown[7], "  └ ✓ exit 0 · 1.5s");
        assert_eq!(cell.height(60, true), 13);
    }

    #[test]
    fn a_long_patch_is_folded_with_a_count_and_shown_whole_when_expanded() {
        use crate::protocol::ChangeKind;
        use crate::tools::apply_patch::FileChange;
        let body: String = (1..=30).map(|i| format!("+line {i}\n")).collect();
        let change = FileChange {
            kind: ChangeKind::Add,
            path: "/p/notes.txt".into(),
            move_to: None,
            diff: format!("--- /dev/null\n+++ b/notes.txt\n@@ -0,0 +1,30 @@\n{body}"),
            old_text: None,
            new_text: Some(body.clone()),
        };
        let mut cell = HistoryCell::new(CellKind::Tool(ToolCall {
            call_id: "p".into(),
            tool: "apply_patch".into(),
            summary: "notes.txt".into(),
            output: String::new(),
            changes: vec![ShownChange::of(&change)],
            finished: Some(ToolEnd {
                declined: false,
                success: true,
                exit_code: None,
                interrupted: false,
                duration: None,
            }),
        }));
        let shown = |cell: &mut HistoryCell, expanded| -> Vec<String> {
            cell.lines(80, expanded)
                .iter()
                .map(|l| l.to_string())
                .collect()
        };
        // The diff counts toward the transcript's bound as the text it is.
        assert!(cell.text_bytes() > body.len(), "{}", cell.text_bytes());
        let folded = shown(&mut cell, false);
        assert_eq!(folded[0], "• Added notes.txt (+30)");
        assert_eq!(folded[1], "  +line 1");
        assert_eq!(folded[COLLAPSED_DIFF_LINES], "  +line 16");
        assert_eq!(
            folded[COLLAPSED_DIFF_LINES + 1],
            "  … 14 more lines (ctrl+o to expand)"
        );
        assert_eq!(
            folded[COLLAPSED_DIFF_LINES + 2..],
            [""],
            "a blank row after the cell"
        );
        let whole = shown(&mut cell, true);
        assert_eq!(whole[30], "  +line 30");
        assert_eq!(whole[31..], [""], "nothing folded");
    }
}
