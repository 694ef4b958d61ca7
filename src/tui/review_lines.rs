//! An auto-review in the transcript: one cell per review, updated in place as it ends — what
//! it looked at, what it decided and why, and, for a denial, that `/approve` lets the action
//! through once. `/approvals` lists the conversation's reviews in the same words, and
//! `/diagnostics` the language servers' diagnostics.

use ratatui::style::Style;
use ratatui::text::Span;

use super::bottom_pane::slash::SlashCommand;
use super::call_lines::{hanging, one_line};
use super::theme;
use super::wrap::RichLine;
use crate::protocol::{AutoReview, Op, ReviewStatus};

/// The cell's lines.
pub fn review_lines(review: &AutoReview) -> Vec<RichLine> {
    let (mark, style, verdict) = match review.status {
        ReviewStatus::InProgress => ("◇ ", theme::warn(), "Auto-review is looking at"),
        ReviewStatus::Approved => ("✔ ", theme::good(), "Auto-review allowed"),
        ReviewStatus::Denied => ("✘ ", theme::bad(), "Auto-review denied"),
        ReviewStatus::TimedOut => ("✘ ", theme::bad(), "Auto-review timed out on"),
        ReviewStatus::Aborted => ("✘ ", theme::bad(), "Auto-review could not judge"),
    };
    let mut head = vec![
        Span::styled(mark, style),
        Span::styled(verdict, Style::new().bold()),
        Span::raw(" "),
        Span::raw(one_line(&review.action.shown())),
    ];
    if let Some(risk) = review.risk {
        head.push(Span::styled(
            format!(" · risk {}", crate::protocol::risk_word(risk)),
            theme::dim(),
        ));
    }
    let mut lines = vec![hanging(head, "  ")];
    let rationale = one_line(&crate::terminal_text::printable(&review.rationale));
    if review.status != ReviewStatus::InProgress && !rationale.is_empty() {
        lines.push(hanging(
            vec![Span::raw("  "), Span::styled(rationale, theme::dim())],
            "  ",
        ));
    }
    if review.overridden {
        lines.push(hanging(
            vec![
                Span::raw("  "),
                Span::styled("you let it through once", theme::good()),
            ],
            "  ",
        ));
    } else if !matches!(
        review.status,
        ReviewStatus::InProgress | ReviewStatus::Approved
    ) {
        lines.push(hanging(
            vec![
                Span::raw("  "),
                Span::styled("/approve lets it through once", theme::dim()),
            ],
            "  ",
        ));
    }
    lines
}

/// `/diagnostics`: the diagnostics of the files checked so far, one per line, and the servers.
pub fn diagnostics_report(report: &crate::protocol::DiagnosticsReport) -> String {
    let mut said = match (&report.off, report.lines.len()) {
        (Some(why), _) => format!("No diagnostics: {why}."),
        (None, 0) => "No diagnostics in the files checked so far.".to_string(),
        (None, n) => format!("Diagnostics of the files checked so far ({n}):"),
    };
    for line in report.lines.iter().take(MOST_LINES) {
        said.push('\n');
        said.push_str(&crate::terminal_text::printable(line));
    }
    if report.lines.len() > MOST_LINES {
        said.push_str(&format!("\n…and {} more", report.lines.len() - MOST_LINES));
    }
    if !report.servers.is_empty() {
        said.push_str(&format!(
            "\nLanguage servers: {}",
            report.servers.join(", ")
        ));
    }
    said
}

/// The most diagnostics `/diagnostics` lists.
const MOST_LINES: usize = 50;

/// `/approvals`: the conversation's reviews, oldest first, one line each; or that there are
/// none, and whether auto-review is on.
pub fn approvals_report(reviews: &[AutoReview]) -> String {
    if reviews.is_empty() {
        return "Auto-review has decided nothing in this conversation. It answers approvals for \
                you with kelp --approve-for-me, or approvals_reviewer = \"auto_review\" in \
                config.toml."
            .to_string();
    }
    let mut report = format!(
        "Auto-review's decisions in this conversation ({}):",
        reviews.len()
    );
    for review in reviews {
        let mark = match review.status {
            ReviewStatus::Approved => "✔",
            ReviewStatus::InProgress => "◇",
            _ if review.overridden => "↺",
            _ => "✘",
        };
        report.push_str(&format!("\n{mark} {}", one_line(&review.line())));
    }
    report
}

/// What `/approve`, `/approvals` and `/diagnostics` ask the core: what watches the agent's
/// work for the person.
pub(super) fn checks_op(command: SlashCommand) -> Op {
    match command {
        SlashCommand::Approve => Op::ApproveDenied(None),
        SlashCommand::Approvals => Op::ListReviews,
        _ => Op::ListDiagnostics,
    }
}
