//! The status line (login, model, folder; tokens and limits, or a hint, on the right) and the
//! `/status` report: the session facts the UI shows, kept together.

use std::path::PathBuf;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use super::history_cell::display_path;
use crate::agent::instructions::InstructionFile;
use crate::agent::protocol::{ApprovalMode, AuthSummary};
use crate::auth::login::Account;
use crate::humanize;
use crate::llm::types::{RateLimitWindow, RateLimits, TokenUsage};
use crate::tui::theme;

/// What the status line and `/status` show.
#[derive(Debug)]
pub struct Status {
    pub auth: Option<AuthSummary>,
    pub model: String,
    pub project_dir: PathBuf,
    pub approval_mode: ApprovalMode,
    /// The sandbox commands run in, described.
    pub sandbox: String,
    pub usage: TokenUsage,
    pub rate_limits: Option<RateLimits>,
    /// The AGENTS.md files of the conversation; `None` until the core reports them.
    pub instructions: Option<Vec<InstructionFile>>,
    /// A resumed conversation carries its instructions in its history, as first loaded.
    pub instructions_in_history: bool,
    /// A hint that takes the right of the status line for a moment ("ctrl+c again to quit").
    pub hint: Option<String>,
}

impl Status {
    /// Draws the status line.
    pub fn render_line(&self, area: Rect, buf: &mut Buffer) {
        let login = match &self.auth {
            Some(summary) => Span::styled(describe_login(summary), theme::good()),
            None => Span::styled("not connected · /connect", theme::warn()),
        };
        let sep = || Span::styled(" · ", theme::dim());
        let left = Line::from(vec![
            Span::raw(" "),
            login,
            sep(),
            Span::styled(self.model.clone(), theme::accent()),
            sep(),
            Span::styled(display_path(&self.project_dir), theme::dim()),
        ]);
        let right_text = match &self.hint {
            Some(hint) => hint.clone(),
            None => {
                let mut parts = Vec::new();
                if self.usage.total_tokens > 0 {
                    parts.push(format!(
                        "{} tokens",
                        humanize::count(self.usage.total_tokens)
                    ));
                }
                if let Some(limits) = &self.rate_limits {
                    for window in [limits.primary, limits.secondary].into_iter().flatten() {
                        parts.push(format!(
                            "{} {:.0}%",
                            window_name(&window),
                            window.used_percent
                        ));
                    }
                }
                parts.join(" · ")
            }
        };
        let right_style = if self.hint.is_some() {
            theme::warn()
        } else {
            theme::dim()
        };
        buf.set_line(area.x, area.y, &left, area.width);
        let right_width = u16::try_from(right_text.width() + 1).unwrap_or(u16::MAX);
        let left_width = u16::try_from(crate::tui::wrap::line_width(&left)).unwrap_or(u16::MAX);
        if !right_text.is_empty() && left_width + right_width < area.width {
            let x = area.x + area.width - right_width;
            buf.set_line(
                x,
                area.y,
                &Line::styled(right_text, right_style),
                right_width,
            );
        }
    }

    /// The `/status` report.
    pub fn report(&self) -> String {
        let login = match &self.auth {
            Some(summary) => describe_login(summary),
            None => "not connected (/connect)".to_string(),
        };
        let u = &self.usage;
        let mut text = format!(
            "Login:     {login}\nModel:     {}\nDirectory: {}\nApproval:  {} — {}\nSandbox:   {}\nTokens:    {} in ({} cached) · {} out ({} reasoning) · {} total",
            self.model,
            display_path(&self.project_dir),
            approval_name(self.approval_mode),
            approval_detail(self.approval_mode),
            self.sandbox,
            humanize::count(u.input_tokens),
            humanize::count(u.cached_input_tokens),
            humanize::count(u.output_tokens),
            humanize::count(u.reasoning_output_tokens),
            humanize::count(u.total_tokens),
        );
        match &self.rate_limits {
            Some(limits) => {
                for window in [limits.primary, limits.secondary].into_iter().flatten() {
                    text.push_str(&format!(
                        "\nLimit:     {} window {:.0}% used{}",
                        window_name(&window),
                        window.used_percent,
                        window
                            .resets_at
                            .and_then(|at| chrono::DateTime::from_timestamp(at, 0))
                            .map(|at| format!(
                                ", resets {}",
                                at.with_timezone(&chrono::Local).format("%a %H:%M")
                            ))
                            .unwrap_or_default()
                    ));
                }
            }
            None => text.push_str("\nLimits:    not reported yet"),
        }
        match self.instructions.as_deref() {
            None if self.instructions_in_history => {
                text.push_str("\nAGENTS.md: as loaded when this conversation started")
            }
            None => text.push_str("\nAGENTS.md: not loaded yet"),
            Some([]) => text.push_str("\nAGENTS.md: none found"),
            Some(files) => {
                for (i, file) in files.iter().enumerate() {
                    let label = if i == 0 { "AGENTS.md:" } else { "" };
                    let cut = if file.is_cut() {
                        format!(", cut to {}", humanize::bytes(file.included))
                    } else {
                        String::new()
                    };
                    text.push_str(&format!(
                        "\n{label:<11}{} · {}{cut}",
                        display_path(&file.path),
                        humanize::bytes(file.bytes)
                    ));
                }
            }
        }
        text
    }
}

/// The login in a few words: `ana@example.com (plus)` or `API key sk-…abcd`.
pub fn describe_login(summary: &AuthSummary) -> String {
    match summary {
        AuthSummary::ApiKey { masked } => format!("API key {masked}"),
        AuthSummary::ChatGpt(Account { email, plan, .. }) => {
            let who = email.clone().unwrap_or_else(|| "ChatGPT".to_string());
            match plan {
                Some(plan) => format!("{who} ({plan})"),
                None => who,
            }
        }
    }
}

pub fn approval_name(mode: ApprovalMode) -> &'static str {
    match mode {
        ApprovalMode::Ask => "ask",
        ApprovalMode::AutoEdit => "auto-edit",
        ApprovalMode::FullAuto => "full-auto",
    }
}

pub fn approval_detail(mode: ApprovalMode) -> &'static str {
    match mode {
        ApprovalMode::Ask => "ask before commands and edits",
        ApprovalMode::AutoEdit => "edit files in the project freely, ask before commands",
        ApprovalMode::FullAuto => "run everything inside the project without asking",
    }
}

fn window_name(window: &RateLimitWindow) -> String {
    match window.window_minutes {
        Some(m) if m >= 7 * 24 * 60 => "week".to_string(),
        Some(m) if m >= 24 * 60 && m % (24 * 60) == 0 => format!("{}d", m / (24 * 60)),
        Some(m) if m >= 60 && m % 60 == 0 => format!("{}h", m / 60),
        Some(m) => format!("{m}m"),
        None => "limit".to_string(),
    }
}
