//! The transcript is a list of cells. Each cell knows how to draw itself at a width and keeps
//! the wrapped lines until it changes or the width does.

use crate::humanize;
use std::time::Duration;

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::streaming::StreamingMarkdown;
use super::wrap::{RichLine, wrap_into};
use crate::protocol::{ApprovalDecision, ApprovalSubject, Attachment, PlanStatus, PlanStep};
use crate::tui::theme;

/// Output lines a collapsed tool call shows.
const COLLAPSED_OUTPUT_LINES: usize = 5;
/// Output lines an expanded tool call shows at most; the rest stays in the log of the turn.
const EXPANDED_OUTPUT_LINES: usize = 500;

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
}

/// A tool call and what it printed.
#[derive(Debug)]
pub struct ToolCall {
    pub call_id: String,
    pub tool: String,
    pub summary: String,
    pub output: String,
    pub finished: Option<ToolEnd>,
    /// The files a patch changed, each with its diff: shown instead of the call's line.
    pub changes: Vec<ShownChange>,
}

/// A file a patch changed, as the transcript shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownChange {
    /// `Edited`, `Added`, `Deleted`.
    pub verb: &'static str,
    /// The file as the diff names it (`a.rs`, or `old.rs → new.rs` for a move).
    pub path: String,
    pub added: usize,
    pub removed: usize,
    /// The diff's changed lines with their context, without its headers (`⋮` between hunks).
    pub hunks: String,
}

impl ShownChange {
    /// `change` as shown: its counts and names read off its diff.
    pub fn of(change: &crate::tools::apply_patch::FileChange) -> Self {
        use crate::protocol::ChangeKind;
        let mut from = None;
        let mut to = None;
        let (mut added, mut removed) = (0, 0);
        let mut hunks = String::new();
        for line in change.diff.lines() {
            if let Some(name) = line.strip_prefix("--- ") {
                from = name.strip_prefix("a/").map(str::to_string);
            } else if let Some(name) = line.strip_prefix("+++ ") {
                to = name.strip_prefix("b/").map(str::to_string);
            } else if line.starts_with("@@") {
                // Hunks are told apart as Codex does, without their line numbers.
                if !hunks.is_empty() {
                    hunks.push_str("⋮\n");
                }
            } else if !line.starts_with("diff --git ") {
                added += usize::from(line.starts_with('+'));
                removed += usize::from(line.starts_with('-'));
                hunks.push_str(line);
                hunks.push('\n');
            }
        }
        let shown =
            |name: Option<String>| name.unwrap_or_else(|| crate::humanize::home_path(&change.path));
        let (verb, path) = match change.kind {
            ChangeKind::Add => ("Added", shown(to)),
            ChangeKind::Delete => ("Deleted", shown(from)),
            ChangeKind::Update => match (from, to) {
                (Some(from), Some(to)) if from != to => ("Edited", format!("{from} → {to}")),
                (from, to) => ("Edited", shown(to.or(from))),
            },
        };
        Self {
            verb,
            path,
            added,
            removed,
            hunks,
        }
    }

    /// `(+1 −1)`: what was added and removed, the zero side left out of an added or deleted
    /// file.
    fn counts(&self) -> String {
        match (self.added, self.removed) {
            (added, 0) if self.verb == "Added" => format!("(+{added})"),
            (0, removed) if self.verb == "Deleted" => format!("(−{removed})"),
            (added, removed) => format!("(+{added} −{removed})"),
        }
    }
}

/// How a tool call ended.
#[derive(Debug, Clone, Copy)]
pub struct ToolEnd {
    pub success: bool,
    pub exit_code: Option<i32>,
    /// Stopped by the person (Esc), not failed on its own.
    pub interrupted: bool,
    /// How long it ran; unknown for calls restored from a saved conversation.
    pub duration: Option<Duration>,
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

/// The width of a `Label:   ` at the start of `line` (a word or two, a colon, spaces), so its
/// value wraps under itself; 0 for any other line.
fn label_width(line: &str) -> usize {
    let Some(colon) = line.find(':').filter(|at| (1..=14).contains(at)) else {
        return 0;
    };
    let label = &line[..colon];
    if !label.chars().all(|c| c.is_ascii_alphabetic() || c == ' ') {
        return 0;
    }
    let spaces = line[colon + 1..].chars().take_while(|c| *c == ' ').count();
    if spaces == 0 || colon + 1 + spaces >= line.len() {
        return 0;
    }
    colon + 1 + spaces
}

fn hanging(spans: Vec<Span<'static>>, hang: &str) -> RichLine {
    RichLine {
        line: Line::from(spans),
        hang: vec![Span::raw(hang.to_string())],
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
        CellKind::WebSearch(query) => {
            let (bullet, words) = match query.as_deref() {
                None => (Span::styled("• ", theme::warn()), "Searching the web"),
                Some("") => (Span::styled("• ", theme::good()), "Searched the web"),
                Some(_) => (Span::styled("• ", theme::good()), "Searched:"),
            };
            let mut spans = vec![bullet, Span::styled(words, Style::new().bold())];
            if let Some(query) = query.as_deref().filter(|q| !q.is_empty()) {
                spans.push(Span::raw(" "));
                spans.push(Span::raw(one_line(query)));
            }
            vec![hanging(spans, "    ")]
        }
        CellKind::Approval { subject, decision } => {
            approval_lines(subject, decision.as_ref(), expanded)
        }
        CellKind::Plan { explanation, steps } => {
            let mut out = vec![RichLine::plain(Line::from(vec![
                Span::styled("• ", theme::accent()),
                Span::styled("Plan", Style::new().bold()),
            ]))];
            if let Some(text) = explanation.as_deref().filter(|t| !t.trim().is_empty()) {
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
        } => vec![hanging(
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
        CellKind::Attached(files) => files
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
            .collect(),
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

/// Collapses whitespace so a message is one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The most diff lines a patch shows until details are shown (ctrl+o).
const COLLAPSED_DIFF_LINES: usize = 16;

/// A patch that changed files: each file's line, `• Edited calc.py (+1 −1)`, and its changed
/// lines, folded past [`COLLAPSED_DIFF_LINES`] until details are shown.
fn patch_lines(call: &ToolCall, expanded: bool) -> Vec<RichLine> {
    let mut out = Vec::new();
    let limit = if expanded {
        EXPANDED_OUTPUT_LINES
    } else {
        COLLAPSED_DIFF_LINES
    };
    let mut shown = 0;
    let mut hidden = 0;
    for change in &call.changes {
        out.push(hanging(
            vec![
                Span::styled("• ", theme::good()),
                Span::styled(format!("{} ", change.verb), Style::new().bold()),
                Span::raw(change.path.clone()),
                Span::styled(format!(" {}", change.counts()), theme::dim()),
            ],
            "    ",
        ));
        let lines = change.hunks.trim_end().lines().count();
        let room = limit.saturating_sub(shown).min(lines);
        if room > 0 {
            let kept: Vec<&str> = change.hunks.lines().take(room).collect();
            diff_lines(&kept.join("\n"), &mut out);
        }
        shown += room;
        hidden += lines - room;
    }
    if hidden > 0 {
        let hint = if expanded { "" } else { " (ctrl+o to expand)" };
        out.push(RichLine::plain(Line::from(Span::styled(
            format!("  … {hidden} more lines{hint}"),
            theme::dim(),
        ))));
    }
    out
}

fn tool_lines(call: &ToolCall, expanded: bool) -> Vec<RichLine> {
    if !call.changes.is_empty() && call.finished.is_some_and(|end| end.success) {
        return patch_lines(call, expanded);
    }
    let verb = match (&call.finished, call.tool.as_str()) {
        (None, _) => "Running",
        (Some(_), "shell") => "Ran",
        (Some(_), _) => "Called",
    };
    let bullet = match call.finished {
        None => Span::styled("• ", theme::warn()),
        Some(end) if end.success => Span::styled("• ", theme::good()),
        Some(_) => Span::styled("• ", theme::bad()),
    };
    let mut out = vec![hanging(
        vec![
            bullet,
            Span::styled(format!("{verb} "), Style::new().bold()),
            Span::styled(call.tool.clone(), theme::tool()),
            Span::raw(" "),
            Span::raw(one_line(&call.summary)),
        ],
        "    ",
    )];
    let output = call.output.trim_end_matches('\n');
    if !output.is_empty() {
        let lines: Vec<&str> = output.split('\n').collect();
        let keep = if expanded {
            EXPANDED_OUTPUT_LINES
        } else {
            COLLAPSED_OUTPUT_LINES
        };
        let hidden = lines.len().saturating_sub(keep);
        let shown = &lines[hidden..];
        if hidden > 0 {
            let hint = if expanded { "" } else { " (ctrl+o to expand)" };
            out.push(RichLine::plain(Line::from(vec![
                Span::styled("  │ ", theme::dim()),
                Span::styled(format!("… {hidden} earlier lines{hint}"), theme::dim()),
            ])));
        }
        for line in shown {
            out.push(hanging(
                vec![
                    Span::styled("  │ ", theme::dim()),
                    Span::styled(line.to_string(), theme::dim()),
                ],
                "  │ ",
            ));
        }
    }
    // A restored call that succeeded without an exit code has nothing more to say.
    if let Some(end) = call
        .finished
        .filter(|end| !(end.success && end.exit_code.is_none() && end.duration.is_none()))
    {
        let (mark, style) = if end.success {
            ("✓", theme::good())
        } else if end.interrupted {
            ("■", theme::warn())
        } else {
            ("✗", theme::bad())
        };
        let status = match end.exit_code {
            _ if end.interrupted => format!("{mark} interrupted"),
            Some(code) => format!("{mark} exit {code}"),
            None if end.success => format!("{mark} done"),
            None => format!("{mark} failed"),
        };
        let mut spans = vec![
            Span::styled("  └ ", theme::dim()),
            Span::styled(status, style),
        ];
        if let Some(duration) = end.duration {
            spans.push(Span::styled(
                format!(" · {}", humanize::elapsed(duration)),
                theme::dim(),
            ));
        }
        out.push(RichLine::plain(Line::from(spans)));
    }
    out
}

/// A command as an approval shows it: `$ ` before its first line, its other lines indented.
fn command_lines(command: &str, out: &mut Vec<RichLine>, expanded: bool) {
    let total = command.split('\n').count();
    let shown = if expanded || total <= MAX_COMMAND_LINES {
        total
    } else {
        MAX_COMMAND_LINES
    };
    for (i, line) in command.split('\n').take(shown).enumerate() {
        let prefix = if i == 0 { "  $ " } else { "    " };
        out.push(hanging(
            vec![
                Span::styled(prefix, theme::dim()),
                Span::raw(line.to_string()),
            ],
            "    ",
        ));
    }
    if shown < total {
        // The start shows and the rest is said: a long script's first lines never scroll
        // away above the question, and the whole of it is a key away.
        out.push(RichLine::plain(Line::from(Span::styled(
            format!(
                "    … {} more lines: ctrl+o shows the whole command",
                total - shown
            ),
            theme::warn(),
        ))));
    }
}

/// The most lines of a command an approval shows until details are shown.
pub const MAX_COMMAND_LINES: usize = 10;

/// The most lines of an MCP call's arguments an approval shows.
const MAX_ARGUMENT_LINES: usize = 12;

/// The first line of an approval: `▲ Run this command?`.
fn asking(question: &str) -> RichLine {
    let warn = theme::warn().bold();
    RichLine::plain(Line::from(vec![
        Span::styled("▲ ", warn),
        Span::styled(question.to_string(), warn),
    ]))
}

fn approval_lines(
    subject: &ApprovalSubject,
    decision: Option<&ApprovalDecision>,
    expanded: bool,
) -> Vec<RichLine> {
    let mut out = Vec::new();
    match subject {
        ApprovalSubject::Command {
            command, workdir, ..
        } => {
            out.push(asking("Run this command?"));
            command_lines(command, &mut out, expanded);
            out.push(RichLine::plain(Line::from(Span::styled(
                format!("  in {}", display_path(workdir)),
                theme::dim(),
            ))));
        }
        ApprovalSubject::Patch { diff, .. } => {
            out.push(asking("Apply this change?"));
            diff_lines(diff, &mut out);
        }
        ApprovalSubject::Read { summary, paths } => {
            out.push(asking("Read outside the project?"));
            out.push(hanging(
                vec![Span::styled("  ", theme::dim()), Span::raw(summary.clone())],
                "    ",
            ));
            for path in paths {
                out.push(RichLine::plain(Line::from(Span::styled(
                    format!("  · {}", display_path(path)),
                    theme::dim(),
                ))));
            }
        }
        ApprovalSubject::McpTool {
            server,
            tool,
            arguments,
        } => {
            out.push(asking("Call this MCP tool?"));
            out.push(hanging(
                vec![
                    Span::styled("  ", theme::dim()),
                    Span::raw(format!("{tool} · server {server}")),
                ],
                "    ",
            ));
            let lines: Vec<&str> = arguments.lines().collect();
            for line in lines.iter().take(MAX_ARGUMENT_LINES) {
                out.push(hanging(
                    vec![Span::styled(format!("    {line}"), theme::dim())],
                    "      ",
                ));
            }
            if lines.len() > MAX_ARGUMENT_LINES {
                out.push(RichLine::plain(Line::from(Span::styled(
                    format!("    … {} more lines", lines.len() - MAX_ARGUMENT_LINES),
                    theme::dim(),
                ))));
            }
        }
        ApprovalSubject::Unsandboxed {
            command,
            workdir,
            blocked,
            requested,
        } => {
            out.push(asking(if *requested {
                "Run this command outside the sandbox?"
            } else {
                "Run it again without the sandbox?"
            }));
            // kelp's own words about a refusal go first; the model's justification comes after
            // the command and where it runs, set apart and cut short, so it can draw no fake
            // command above the real one nor push the question off the screen.
            if !*requested {
                out.push(hanging(
                    vec![Span::raw("  "), Span::raw(blocked.clone())],
                    "  ",
                ));
            }
            command_lines(command, &mut out, expanded);
            out.push(RichLine::plain(Line::from(Span::styled(
                format!(
                    "  in {} · with your full rights, this once",
                    display_path(workdir)
                ),
                theme::dim(),
            ))));
            if *requested {
                out.push(hanging(
                    vec![
                        Span::styled("  the model says: ", theme::dim()),
                        Span::styled(
                            ApprovalSubject::models_words(blocked),
                            theme::dim().italic(),
                        ),
                    ],
                    "    ",
                ));
            }
        }
        ApprovalSubject::Network {
            host,
            port,
            via,
            command,
            workdir,
        } => {
            let rule = crate::sandbox::proxy::rules::host_rule(host, *port);
            out.push(asking(&format!("Let this command reach {rule}?")));
            out.push(hanging(
                vec![Span::raw(format!(
                    "  it asks for {host}:{port} ({}), which is not on allowed_domains; an answer holds for {host} {}",
                    via.name(),
                    crate::sandbox::proxy::rules::rule_ports(&rule),
                ))],
                "  ",
            ));
            command_lines(command, &mut out, expanded);
            out.push(RichLine::plain(Line::from(Span::styled(
                format!("  in {}", display_path(workdir)),
                theme::dim(),
            ))));
        }
    }
    if let Some(decision) = decision {
        let host = match subject {
            ApprovalSubject::Network { host, port, .. } => {
                Some(crate::sandbox::proxy::rules::host_rule(host, *port))
            }
            _ => None,
        };
        let (text, style) = match (decision, host) {
            (ApprovalDecision::Yes, Some(_)) => {
                ("✓ allowed for this command".to_string(), theme::good())
            }
            (ApprovalDecision::Always, Some(_)) => {
                ("✓ allowed for this session".to_string(), theme::good())
            }
            (ApprovalDecision::AlwaysPrefix, Some(host)) => (
                format!("✓ allowed, and commands reach {host} in this project"),
                theme::good(),
            ),
            (ApprovalDecision::NeverHere, Some(host)) => (
                format!("✗ declined, and commands are refused {host} in this project"),
                theme::bad(),
            ),
            (ApprovalDecision::NeverHere, None) => ("✗ declined".to_string(), theme::bad()),
            (ApprovalDecision::Yes, None) => ("✓ approved".to_string(), theme::good()),
            (ApprovalDecision::Always, None) => {
                ("✓ approved for this session".to_string(), theme::good())
            }
            (ApprovalDecision::AlwaysPrefix, None) => {
                let prefix = match subject {
                    ApprovalSubject::Command {
                        always_prefix: Some(prefix),
                        ..
                    } => crate::agent::command_rules::shown(prefix),
                    _ => String::new(),
                };
                (
                    format!("✓ approved, and `{prefix}` runs without asking in this project"),
                    theme::good(),
                )
            }
            (ApprovalDecision::No { reason: None }, _) => ("✗ declined".to_string(), theme::bad()),
            (
                ApprovalDecision::No {
                    reason: Some(reason),
                },
                _,
            ) => (format!("✗ declined: {}", one_line(reason)), theme::bad()),
        };
        out.push(hanging(
            vec![Span::raw("  "), Span::styled(text, style)],
            "  ",
        ));
    }
    out
}

/// A path with the home directory shown as `~`.
pub fn display_path(path: &std::path::Path) -> String {
    crate::humanize::home_path(path)
}

/// A unified diff's lines, indented two columns: additions green, removals red, hunk headers
/// in the accent colour, the rest dim.
fn diff_lines(diff: &str, out: &mut Vec<RichLine>) {
    for line in diff.trim_end().split('\n') {
        // A wrapped row keeps its line's marker, so an addition reads as one without colour.
        let (style, marker) = if line.starts_with('+') && !line.starts_with("+++") {
            (theme::good(), "+")
        } else if line.starts_with('-') && !line.starts_with("---") {
            (theme::bad(), "-")
        } else if line.starts_with("@@") {
            (theme::accent(), " ")
        } else {
            (theme::dim(), " ")
        };
        out.push(RichLine {
            line: Line::from(vec![Span::raw("  "), Span::styled(line.to_string(), style)]),
            hang: vec![Span::raw("  "), Span::styled(marker, style)],
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
