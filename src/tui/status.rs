//! The status line (login, model, folder; tokens and limits, or a hint, on the right) and the
//! `/status` report: the session facts the UI shows, kept together.

use std::path::PathBuf;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use super::call_lines::display_path;
use super::status_command::{StatusCommand, StatusFacts};
use crate::config::status_line::{StatusItem, StatusLine};
use crate::humanize;
use crate::protocol::InstructionFile;
use crate::protocol::{ApprovalMode, AuthSummary};
use crate::protocol::{RateLimitWindow, RateLimits, TokenUsage};
use crate::protocol::{ServerState, ServerStatus};
use crate::tui::theme;
use crate::tui::wrap::draw_line;

/// The sandbox as `/status` says it: said already, or worked out when asked. Working it out
/// probes the kernel (two forked children) and looks through the home for the stores it hides:
/// nothing the first frame needs, so not before it.
#[derive(Debug, Clone, PartialEq)]
pub enum SandboxShown {
    Said(String),
    Policy(Box<crate::tools::SandboxPolicy>),
}

impl SandboxShown {
    /// The report: the layers this machine gives, what is hidden, the caches.
    pub fn text(&self) -> String {
        let policy = match self {
            Self::Said(text) => return text.clone(),
            Self::Policy(policy) => policy,
        };
        let mut report = policy.describe();
        if let Some(hidden) = policy.describe_hidden() {
            report.push_str(&format!("\nHidden:    {hidden}"));
        }
        if let Some(caches) = policy.describe_caches() {
            report.push_str(&format!("\nCaches:    {caches}"));
        }
        report
    }
}

impl From<&str> for SandboxShown {
    fn from(text: &str) -> Self {
        Self::Said(text.to_string())
    }
}

/// What the status line and `/status` show.
#[derive(Debug)]
pub struct Status {
    /// The model provider, when it is not the built-in `openai`.
    pub provider: Option<ProviderShown>,
    /// The app-server the agent runs on (`--remote`).
    pub server: Option<String>,
    /// The config files read and the shared settings each set (kelp's, then Codex's).
    pub settings_from: Vec<(PathBuf, Vec<&'static str>)>,
    pub auth: Option<AuthSummary>,
    pub model: String,
    pub effort: crate::protocol::ReasoningEffort,
    pub project_dir: PathBuf,
    pub approval_mode: ApprovalMode,
    /// The sandbox commands run in.
    pub sandbox: SandboxShown,
    pub usage: TokenUsage,
    pub rate_limits: Option<RateLimits>,
    /// The AGENTS.md files of the conversation; `None` until the core reports them.
    pub instructions: Option<Vec<InstructionFile>>,
    /// A resumed conversation carries its instructions in its history, as first loaded.
    pub instructions_in_history: bool,
    /// A hint that takes the right of the status line for a moment ("ctrl+c again to quit").
    pub hint: Option<String>,
    /// Tokens the last request took, and the model's context window when known.
    pub context: Option<(u64, Option<u64>)>,
    /// The MCP servers, as last reported.
    pub mcp: Vec<ServerStatus>,
    /// The config file, where `/mcp` says a server is added.
    pub config_file: PathBuf,
    /// kelp's state folder on this machine: saved conversations, the log, reports.
    pub state_dir: PathBuf,
    /// This project's rules that let commands run without asking, by prefix.
    pub command_rules: Vec<crate::protocol::ProjectRule>,
    /// The conversation's goal, shown while there is one.
    pub goal: Option<crate::protocol::Goal>,
    /// Plan first, or work (Shift+Tab).
    pub mode: crate::protocol::CollaborationMode,
    /// How many background terminals the conversation keeps running (`/ps`).
    pub background_terminals: usize,
    /// The status line the person chose, and what its command last printed.
    pub chosen: StatusCommand,
    /// The conversation's id and name, for the status line's items.
    pub thread: (Option<String>, Option<String>),
    /// `/fast`: the service tier requests ask for.
    pub service_tier: Option<crate::protocol::ServiceTier>,
}

impl Status {
    /// The model as the status line shows it: with its service tier when it is not the
    /// default (`gpt-5.5 fast`), as Codex's footer says it.
    fn model_shown(&self) -> String {
        match self.service_tier {
            Some(tier) => format!("{} {}", self.model, tier.name()),
            None => self.model.clone(),
        }
    }
}

/// An effort as the wire names it (`low`, `xhigh`).
fn effort_name(effort: crate::protocol::ReasoningEffort) -> String {
    serde_json::to_value(effort)
        .ok()
        .and_then(|name| name.as_str().map(String::from))
        .unwrap_or_default()
}

/// A model provider other than the built-in `openai`, as the status shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderShown {
    /// What people call it.
    pub name: String,
    /// It, where it is and what it is sent, in a line.
    pub line: String,
    /// It takes its own key (or none), not kelp's login.
    pub own_key: bool,
}

impl ProviderShown {
    /// How `provider` shows, unless it is the built-in `openai`.
    pub fn of(provider: &crate::config::ModelProvider) -> Option<Self> {
        (!provider.is_openai()).then(|| Self {
            name: provider.name.clone(),
            line: provider.describe(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty())),
            own_key: !provider.requires_openai_auth,
        })
    }
}

impl Status {
    /// What the status line's command is told now: facts that change with the conversation,
    /// not with the clock.
    pub fn facts(&self, session_id: Option<String>) -> StatusFacts {
        StatusFacts {
            session_id,
            model: self.model.clone(),
            effort: effort_name(self.effort),
            project_dir: self.project_dir.clone(),
            input_tokens: self.usage.input_tokens,
            output_tokens: self.usage.output_tokens,
            context: self.context,
            rate_limits: self.rate_limits,
        }
    }

    /// Draws the status line: the login, model and folder on the left; a hint, or the tokens
    /// and limits, on the right. What does not fit goes, least important first (the folder,
    /// the limits, the login, the tokens, the model); a hint, which explains what a key just
    /// did, never goes.
    pub fn render_line(&self, area: Rect, buf: &mut Buffer) {
        let hint = || {
            let hint = self.hint.clone()?;
            Some(vec![Segment::new(hint, theme::warn(), u8::MAX)])
        };
        match &self.chosen.chosen {
            // The command's line, whole as it printed it; a hint still takes the right.
            StatusLine::Command(_) if let Some(line) = &self.chosen.line => {
                let mut line = line.clone();
                line.spans.insert(0, Span::raw(" "));
                return Self::draw(area, buf, line, hint().unwrap_or_default());
            }
            StatusLine::Items(items) if !items.is_empty() => {
                let mut left = self.picked(items);
                let mut right = hint().unwrap_or_default();
                Segment::fit(&mut left, &mut right, usize::from(area.width));
                return Self::draw(area, buf, Segment::line(&left, " "), right);
            }
            _ => {}
        }
        let login = match (&self.provider, &self.auth) {
            (Some(provider), _) if provider.own_key => {
                Segment::new(provider.name.clone(), theme::good(), 2)
            }
            (_, Some(summary)) => Segment::new(summary.describe(), theme::good(), 2),
            (_, None) => Segment::new("not connected · /connect", theme::warn(), 2),
        };
        let mut left = vec![login];
        // The mode outranks everything while it is not the default: it changes what the
        // model may do.
        if self.mode == crate::protocol::CollaborationMode::Plan {
            left.push(Segment::new(
                "plan mode (shift+tab)".to_string(),
                theme::warn(),
                u8::MAX,
            ));
        }
        left.extend([
            Segment::new(self.model_shown(), theme::accent(), 5),
            Segment::new(display_path(&self.project_dir), theme::dim(), 0),
        ]);
        let mut right = match &self.hint {
            Some(hint) => vec![Segment::new(hint.clone(), theme::warn(), u8::MAX)],
            None => {
                let mut parts = Vec::new();
                if let Some(goal) = &self.goal {
                    // Codex's words; the goal outranks the figures while it runs.
                    parts.push(Segment::new(goal.footer(), theme::accent(), 6));
                }
                if self.background_terminals > 0 {
                    let count = self.background_terminals;
                    let text = match count {
                        1 => "1 background terminal · /ps".to_string(),
                        n => format!("{n} background terminals · /ps"),
                    };
                    parts.push(Segment::new(text, theme::warn(), 6));
                }
                if let Some((used, Some(window))) = self.context
                    && window > 0
                {
                    let percent = used.saturating_mul(100) / window;
                    let style = if percent >= crate::agent::compact::THRESHOLD_PERCENT {
                        theme::warn()
                    } else {
                        theme::dim()
                    };
                    parts.push(Segment::new(format!("{percent}% context"), style, 4));
                }
                if self.usage.total_tokens > 0 {
                    let tokens = format!("{} tokens", humanize::count(self.usage.total_tokens));
                    parts.push(Segment::new(tokens, theme::dim(), 3));
                }
                if let Some(limits) = &self.rate_limits {
                    for window in [limits.primary, limits.secondary].into_iter().flatten() {
                        let text =
                            format!("{} limit {:.0}%", window_name(&window), window.used_percent);
                        parts.push(Segment::new(text, theme::dim(), 1));
                    }
                }
                parts
            }
        };
        Segment::fit(&mut left, &mut right, usize::from(area.width));
        Self::draw(area, buf, Segment::line(&left, " "), right);
    }

    /// The items the person picked, as segments: the first stays longest.
    fn picked(&self, items: &[StatusItem]) -> Vec<Segment> {
        let total = items.len();
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let priority = u8::try_from(total - i).unwrap_or(u8::MAX - 1);
                let style = if i == 0 {
                    theme::accent()
                } else {
                    theme::dim()
                };
                Some(Segment::new(self.item_text(*item)?, style, priority))
            })
            .collect()
    }

    /// What `item` shows now; `None` while there is nothing to show (no branch, no tokens).
    pub(super) fn item_text(&self, item: StatusItem) -> Option<String> {
        let limit = |secondary: bool| {
            let limits = self.rate_limits.as_ref()?;
            let window = if secondary {
                limits.secondary
            } else {
                limits.primary
            }?;
            Some(format!(
                "{} limit {:.0}%",
                window_name(&window),
                window.used_percent
            ))
        };
        let context = self
            .context
            .and_then(|(used, window)| Some((used, window.filter(|w| *w > 0)?)));
        let effort = || effort_name(self.effort);
        let count = |n: u64, what: &str| (n > 0).then(|| format!("{} {what}", humanize::count(n)));
        match item {
            StatusItem::Model => Some(self.model_shown()),
            StatusItem::ModelWithReasoning => Some(format!("{} {}", self.model_shown(), effort())),
            StatusItem::Reasoning => Some(effort()),
            StatusItem::CurrentDir => Some(display_path(&self.project_dir)),
            StatusItem::ProjectName => self.chosen.project.clone(),
            StatusItem::GitBranch => self.chosen.branch.clone(),
            StatusItem::ThreadTitle => self.thread.1.clone(),
            StatusItem::ThreadId => self.thread.0.clone(),
            StatusItem::ApprovalMode => Some(self.approval_mode.to_string()),
            StatusItem::ContextRemaining => context
                .map(|(used, window)| format!("{}% left", 100 - (used * 100 / window).min(100))),
            StatusItem::ContextUsed => {
                context.map(|(used, window)| format!("{}% context", used * 100 / window))
            }
            StatusItem::FiveHourLimit => limit(false),
            StatusItem::WeeklyLimit => limit(true),
            StatusItem::UsedTokens => count(self.usage.total_tokens, "tokens"),
            StatusItem::TotalInputTokens => count(self.usage.input_tokens, "in"),
            StatusItem::TotalOutputTokens => count(self.usage.output_tokens, "out"),
        }
    }

    /// Draws `left` from the line's start and `right` against its end.
    fn draw(area: Rect, buf: &mut Buffer, left_line: Line<'static>, right: Vec<Segment>) {
        draw_line(buf, area.x, area.y, &left_line, area.width);
        let right_line = Segment::line(&right, "");
        let right_width = crate::tui::wrap::line_width(&right_line);
        if right_width > 0 {
            let right_width = u16::try_from(right_width + 1)
                .unwrap_or(u16::MAX)
                .min(area.width);
            let x = area.x + area.width - right_width;
            draw_line(buf, x, area.y, &right_line, right_width);
        }
    }

    /// The project's standing answers, by kind.
    fn push_rules(&self, text: &mut String) {
        if !self.command_rules.is_empty() {
            use crate::protocol::ProjectRule;
            let listed = |kind: std::mem::Discriminant<ProjectRule>| -> Vec<String> {
                self.command_rules
                    .iter()
                    .filter(|rule| std::mem::discriminant(*rule) == kind)
                    .map(ProjectRule::shown)
                    .collect()
            };
            let said: Vec<String> = [
                (ProjectRule::Prefix(Vec::new()), "run without asking here"),
                (
                    ProjectRule::Unsandboxed(Vec::new()),
                    "run outside the sandbox without asking here",
                ),
                (ProjectRule::Host(String::new()), "reached by commands here"),
                (
                    ProjectRule::RefusedHost(String::new()),
                    "refused to commands here",
                ),
            ]
            .into_iter()
            .map(|(kind, what)| (listed(std::mem::discriminant(&kind)), what))
            .filter(|(rules, _)| !rules.is_empty())
            .map(|(rules, what)| format!("{} {what}", rules.join(", ")))
            .collect();
            text.push_str(&format!(
                "\nAlways:    {} (/approval forgets one)",
                said.join("; ")
            ));
        }
    }

    /// Each rate-limit window, with when it resets.
    pub(super) fn push_limits(&self, text: &mut String) {
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
    }

    /// The AGENTS.md files the model is told, and their sizes.
    fn push_instructions(&self, text: &mut String) {
        match self.instructions.as_deref() {
            None if self.instructions_in_history => {
                text.push_str("\nAGENTS.md: as loaded when this conversation started")
            }
            // The server reads the project's instructions and does not say which.
            None if self.server.is_some() => {
                text.push_str("\nAGENTS.md: as the app-server reads them")
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
    }

    /// The `/status` report; `session` is the conversation's id once it has one.
    pub fn report(&self, session: Option<&str>) -> String {
        let login = match (&self.auth, &self.provider) {
            (Some(summary), _) => summary.describe(),
            (None, Some(provider)) if provider.own_key => {
                "none (the provider takes its own key)".to_string()
            }
            (None, _) => "not connected (/connect)".to_string(),
        };
        let u = &self.usage;
        let mut text = match &self.server {
            Some(server) => format!("Server:    {server} (the agent runs there)\n"),
            None => String::new(),
        };
        if let Some(provider) = &self.provider {
            text += &format!("Provider:  {}\n", provider.line);
        }
        text += &format!(
            "Login:     {login}\nModel:     {}, {} reasoning effort\nDirectory: {}\nApproval:  {} — {}\nSandbox:   {}\nTokens:    {}",
            self.model,
            self.effort.as_str(),
            display_path(&self.project_dir),
            approval_name(self.approval_mode),
            approval_detail(self.approval_mode),
            self.sandbox.text(),
            describe_usage(u),
        );
        if self.mode == crate::protocol::CollaborationMode::Plan {
            let network = match &self.sandbox {
                SandboxShown::Policy(policy) if policy.domains.is_some() => {
                    "the network only to the allowed domains"
                }
                _ => "no network",
            };
            text.push_str(&format!(
                "\nMode:      plan (commands only read, with {network}; no patch; shift+tab works)"
            ));
        }
        text.push_str(&format!(
            "\nSession:   {}",
            session.unwrap_or("none yet (the first prompt starts one)")
        ));
        if let Some(goal) = &self.goal {
            text.push_str(&format!(
                "\nGoal:      {} — {}{}",
                goal.objective,
                goal.footer(),
                match goal.token_budget {
                    Some(budget) => format!(", budget {}", humanize::count(budget)),
                    None => String::new(),
                }
            ));
        }
        if !self.settings_from.is_empty() {
            let files: Vec<String> = self
                .settings_from
                .iter()
                .map(|(path, keys)| format!("{} ({})", display_path(path), keys.join(", ")))
                .collect();
            text.push_str(&format!("\nSettings:  {}", files.join("; ")));
        }
        self.push_rules(&mut text);
        match self.context {
            Some((used, Some(window))) if window > 0 => text.push_str(&format!(
                "\nContext:   {} of {} tokens ({}%); compacts itself at {}%, or /compact",
                humanize::count(used),
                humanize::count(window),
                used.saturating_mul(100) / window,
                crate::agent::compact::THRESHOLD_PERCENT
            )),
            Some((used, _)) => text.push_str(&format!(
                "\nContext:   {} tokens (the model's window is not known)",
                humanize::count(used)
            )),
            None => {}
        }
        self.push_limits(&mut text);
        push_code_colours(&mut text);
        if !self.mcp.is_empty() {
            let ready = self
                .mcp
                .iter()
                .filter(|s| matches!(s.state, ServerState::Ready { .. }))
                .count();
            text.push_str(&format!(
                "\nMCP:       {} of {} servers ready (/mcp)",
                ready,
                self.mcp.len()
            ));
        }
        self.push_instructions(&mut text);
        text
    }
}

/// The syntax theme chosen, or which background the code colours are for and what said so.
fn push_code_colours(text: &mut String) {
    if let Some(theme) = crate::tui::highlight::chosen_theme() {
        text.push_str(&format!("\nCode:      the {theme} theme (/theme)"));
    } else if let Some((background, source)) = crate::tui::highlight::background() {
        use crate::tui::highlight::{Background, BackgroundSource};
        let shade = match background {
            Background::Light => "light",
            Background::Dark => "dark",
        };
        let why = match source {
            BackgroundSource::Setting => "the theme setting",
            BackgroundSource::Terminal => "the terminal's answer",
            BackgroundSource::Colorfgbg => "COLORFGBG",
            BackgroundSource::Remembered => "the terminal's last answer",
            BackgroundSource::Assumed => "assumed; set theme = \"light\" if not",
        };
        text.push_str(&format!(
            "\nCode:      colours for a {shade} background ({why})"
        ));
    }
}

/// Token usage in one line: `3.0k in (1.0k cached) · 300 out (100 reasoning) · 3.3k total`.
pub fn describe_usage(u: &TokenUsage) -> String {
    format!(
        "{} in ({} cached) · {} out ({} reasoning) · {} total",
        humanize::count(u.input_tokens),
        humanize::count(u.cached_input_tokens),
        humanize::count(u.output_tokens),
        humanize::count(u.reasoning_output_tokens),
        humanize::count(u.total_tokens),
    )
}

/// A mode's name as the client shows it: kelp's, with Codex's where it has one of its own.
pub fn approval_name(mode: ApprovalMode) -> &'static str {
    match mode {
        ApprovalMode::Ask => "ask (untrusted)",
        ApprovalMode::AutoEdit => "auto-edit",
        ApprovalMode::FullAuto => "full-auto (on-request)",
        ApprovalMode::Never => "never",
    }
}

/// What a mode runs without asking, in a few words (they fit 80 columns beside its name).
pub fn approval_detail(mode: ApprovalMode) -> &'static str {
    match mode {
        ApprovalMode::Ask => "ask before edits and most commands",
        ApprovalMode::AutoEdit => "edits apply; commands ask",
        ApprovalMode::FullAuto => "sandboxed commands and edits run unasked",
        ApprovalMode::Never => "never asks; what would ask is refused",
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

/// A piece of the status line, and how long it stays when room runs out (higher stays).
struct Segment {
    text: String,
    style: ratatui::style::Style,
    priority: u8,
}

impl Segment {
    fn new(text: impl Into<String>, style: ratatui::style::Style, priority: u8) -> Self {
        Self {
            text: text.into(),
            style,
            priority,
        }
    }

    /// Drops segments, least important first, until `left` and `right` fit in `width`; a
    /// hint (the highest priority) never goes.
    fn fit(left: &mut Vec<Segment>, right: &mut Vec<Segment>, width: usize) {
        while Segment::width_of(left) + Segment::width_of(right) + 3 > width {
            let lowest = left
                .iter()
                .chain(right.iter())
                .map(|s| s.priority)
                .filter(|p| *p < u8::MAX)
                .min();
            let Some(lowest) = lowest else { break };
            // The last of the lowest goes first (the second limit before the first).
            if let Some(i) = right.iter().rposition(|s| s.priority == lowest) {
                right.remove(i);
            } else if let Some(i) = left.iter().rposition(|s| s.priority == lowest) {
                left.remove(i);
            }
        }
    }

    /// Columns `segments` take joined by ` · `.
    fn width_of(segments: &[Segment]) -> usize {
        let text: usize = segments.iter().map(|s| s.text.width()).sum();
        text + 3 * segments.len().saturating_sub(1)
    }

    /// `segments` joined by a dim ` · `, after `lead`.
    fn line(segments: &[Segment], lead: &str) -> Line<'static> {
        let mut spans = vec![Span::raw(lead.to_string())];
        for (i, segment) in segments.iter().enumerate() {
            if i > 0 {
                spans.push(Span::styled(" · ", theme::dim()));
            }
            spans.push(Span::styled(segment.text.clone(), segment.style));
        }
        Line::from(spans)
    }
}

/// `/skills`: each skill the model is told of, with what it is for and its file, then the
/// `SKILL.md` files that are not skills.
pub fn skills_report(found: &crate::protocol::Found) -> String {
    if found.skills.is_empty() && found.errors.is_empty() {
        return "No skills: a skill is a folder with a SKILL.md (front matter: name, description) \
                in ~/.config/kelp/skills, ~/.codex/skills, or the project's .codex/skills"
            .to_string();
    }
    let mut text = String::from("Skills the model is told of (it reads one when a task fits):");
    for skill in &found.skills {
        text.push_str(&format!(
            "\n  {} ({}): {}\n    {}",
            skill.name,
            skill.scope.as_str(),
            skill.description,
            display_path(&skill.path)
        ));
    }
    for (path, why) in &found.errors {
        text.push_str(&format!("\n  not a skill: {}: {why}", display_path(path)));
    }
    text
}
