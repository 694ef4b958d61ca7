//! How a tool call and an approval question are drawn in the transcript: a command and its
//! output, a patch's files and changed lines, an MCP call, and what the person is asked.

use std::time::Duration;

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::wrap::RichLine;
use crate::humanize;
use crate::protocol::{ApprovalDecision, ApprovalSubject};
use crate::tui::theme;

/// Output lines a collapsed tool call shows.
pub const COLLAPSED_OUTPUT_LINES: usize = 5;
/// Output lines an expanded tool call shows at most; the rest stays in the log of the turn.
pub const EXPANDED_OUTPUT_LINES: usize = 500;

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
    /// Refused before it ran (by the person, or the rules).
    pub declined: bool,
    /// Stopped by the person (Esc), not failed on its own.
    pub interrupted: bool,
    /// How long it ran; unknown for calls restored from a saved conversation.
    pub duration: Option<Duration>,
}

/// The width of a `Label:   ` at the start of `line` (a word or two, a colon, spaces), so its
/// value wraps under itself; 0 for any other line.
pub fn label_width(line: &str) -> usize {
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

pub fn hanging(spans: Vec<Span<'static>>, hang: &str) -> RichLine {
    RichLine {
        line: Line::from(spans),
        hang: vec![Span::raw(hang.to_string())],
    }
}

/// Collapses whitespace so a message is one line.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The most diff lines a patch shows until details are shown (ctrl+o).
pub const COLLAPSED_DIFF_LINES: usize = 16;

/// A patch that changed files: each file's line, `• Edited calc.py (+1 −1)`, and its changed
/// lines, folded past [`COLLAPSED_DIFF_LINES`] until details are shown.
pub(super) fn patch_lines(call: &ToolCall, expanded: bool) -> Vec<RichLine> {
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

pub(super) fn tool_lines(call: &ToolCall, expanded: bool) -> Vec<RichLine> {
    if !call.changes.is_empty() && call.finished.is_some_and(|end| end.success) {
        return patch_lines(call, expanded);
    }
    let verb = match (&call.finished, call.tool.as_str()) {
        (None, _) => "Running",
        (Some(_), "shell" | "exec_command") => "Ran",
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
            _ if end.declined => format!("{mark} declined"),
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
pub(super) fn command_lines(command: &str, out: &mut Vec<RichLine>, expanded: bool) {
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

pub(super) fn approval_lines(
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
            mcp_tool_lines(server, tool, arguments, &mut out);
        }
        ApprovalSubject::Unsandboxed {
            command,
            workdir,
            blocked,
            requested,
            ..
        } => {
            unsandboxed_lines(command, workdir, blocked, *requested, expanded, &mut out);
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
        out.push(decision_line(subject, decision));
    }
    out
}

/// A command to run outside the sandbox: asked for by the model (`requested`, with its words
/// as `blocked`) or offered again after the sandbox `blocked` it.
fn unsandboxed_lines(
    command: &str,
    workdir: &std::path::Path,
    blocked: &str,
    requested: bool,
    expanded: bool,
    out: &mut Vec<RichLine>,
) {
    out.push(asking(if requested {
        "Run this command outside the sandbox?"
    } else {
        "Run it again without the sandbox?"
    }));
    // kelp's own words about a refusal go first; the model's justification comes after
    // the command and where it runs, set apart and cut short, so it can draw no fake
    // command above the real one nor push the question off the screen.
    if !requested {
        out.push(hanging(
            vec![Span::raw("  "), Span::raw(blocked.to_string())],
            "  ",
        ));
    }
    command_lines(command, out, expanded);
    out.push(RichLine::plain(Line::from(Span::styled(
        format!(
            "  in {} · with your full rights, this once",
            display_path(workdir)
        ),
        theme::dim(),
    ))));
    if requested {
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

/// What the person answered, under the question.
fn decision_line(subject: &ApprovalSubject, decision: &ApprovalDecision) -> RichLine {
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
    hanging(vec![Span::raw("  "), Span::styled(text, style)], "  ")
}

/// An MCP tool call: the tool, its server and its arguments, cut after a few lines.
fn mcp_tool_lines(server: &str, tool: &str, arguments: &str, out: &mut Vec<RichLine>) {
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

/// A path with the home directory shown as `~`.
pub fn display_path(path: &std::path::Path) -> String {
    crate::humanize::home_path(path)
}

/// A unified diff's lines, indented two columns: additions green, removals red, hunk headers
/// in the accent colour, the rest dim.
pub fn diff_lines(diff: &str, out: &mut Vec<RichLine>) {
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
