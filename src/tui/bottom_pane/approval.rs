//! The approval view: `y` yes, `a` always (this session), `p` always for a command's prefix in
//! this project, `n` no and a reason for the model, `esc` no. For a host a command asks to
//! reach: `y` this command, `a` this session, `p` always in this project, `x` never in it. For
//! a command outside the sandbox: `y` this once, `p` its prefix outside, always in this project.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::{KeyOutcome, theme};
use crate::protocol::{ApprovalDecision, ApprovalSubject};
use crate::tui::call_lines::{MAX_COMMAND_LINES, display_path};
use crate::tui::wrap::{cut, cut_front, draw_line, line_width};

/// An approval request waiting for the person.
#[derive(Debug)]
pub struct ApprovalView {
    id: u64,
    /// `Some` while the person types why they said no.
    reason: Option<String>,
    /// Only "this once" makes sense (running without the sandbox): no "always".
    once_only: bool,
    /// The prefix `p` lets run without asking in this project from now on (`cargo test`).
    prefix: Option<String>,
    /// A host a command asks to reach: `y` is for this command, `p` keeps it for the project.
    host: bool,
    /// The question, naming the file a change is to: a long diff scrolls its header away.
    question: String,
    /// When the question was first on screen: until [`ARMING`] after it, keys do not answer.
    drawn_at: std::cell::Cell<Option<std::time::Instant>>,
}

/// How long a question is on screen before keys answer it: a person typing their next message
/// when it opens must not approve a command with the `a` of "also".
pub const ARMING: std::time::Duration = std::time::Duration::from_millis(500);

/// The gap between two keys that ends a burst of typing: a key after it starts a new one.
pub const TYPING_PAUSE: std::time::Duration = std::time::Duration::from_millis(500);

impl ApprovalView {
    /// The view asking about request `id` for `subject`, with paths shown from `project_dir`.
    pub fn new(id: u64, subject: &ApprovalSubject, project_dir: Option<&std::path::Path>) -> Self {
        let shown =
            |path: &std::path::Path| match project_dir.and_then(|p| path.strip_prefix(p).ok()) {
                Some(inside) => inside.display().to_string(),
                None => display_path(path),
            };
        let question = match subject {
            ApprovalSubject::Patch { changes, .. } => match changes.as_slice() {
                [one] => format!("Change {}?", shown(&one.path)),
                many => format!("Change these {} files?", many.len()),
            },
            ApprovalSubject::Command { command, .. }
            | ApprovalSubject::Unsandboxed { command, .. }
                if command.split('\n').count() > MAX_COMMAND_LINES =>
            {
                format!("Run all {} lines?", command.split('\n').count())
            }
            ApprovalSubject::Network { host, port, .. } => {
                format!(
                    "Reach {}?",
                    crate::sandbox::proxy::rules::host_rule(host, *port)
                )
            }
            _ => "Allow it?".to_string(),
        };
        let prefix = match subject {
            ApprovalSubject::Command {
                always_prefix: Some(prefix),
                ..
            }
            | ApprovalSubject::Unsandboxed {
                always_prefix: Some(prefix),
                ..
            } => Some(crate::agent::command_rules::shown(prefix)),
            _ => None,
        };
        Self {
            id,
            reason: None,
            prefix,
            host: matches!(subject, ApprovalSubject::Network { .. }),
            once_only: matches!(subject, ApprovalSubject::Unsandboxed { .. }),
            question,
            drawn_at: std::cell::Cell::new(None),
        }
    }

    /// The request this view asks about.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Whether it asks about a host a command wants to reach.
    pub fn is_host(&self) -> bool {
        self.host
    }

    /// When the question was first on screen, if it has been.
    pub fn drawn_at(&self) -> Option<std::time::Instant> {
        self.drawn_at.get()
    }

    /// Whether keys answer the question: it has been on screen for [`ARMING`].
    pub fn armed(&self) -> bool {
        self.drawn_at.get().is_some_and(|at| at.elapsed() >= ARMING)
    }

    fn decided(&self, decision: ApprovalDecision) -> KeyOutcome {
        KeyOutcome::Decided {
            id: self.id,
            decision,
        }
    }

    /// Whether the reason for a refusal is being typed: letters are the reason's.
    pub fn typing_reason(&self) -> bool {
        self.reason.is_some()
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> KeyOutcome {
        if let Some(reason) = &mut self.reason {
            match key.code {
                KeyCode::Enter => {
                    let reason = reason.trim().to_string();
                    let reason = (!reason.is_empty()).then_some(reason);
                    return self.decided(ApprovalDecision::No { reason });
                }
                KeyCode::Esc => self.reason = None,
                KeyCode::Backspace => {
                    reason.pop();
                }
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    reason.push(c);
                }
                _ => {}
            }
            return KeyOutcome::Consumed;
        }
        match key.code {
            KeyCode::Char('y' | 'Y') => self.decided(ApprovalDecision::Yes),
            KeyCode::Char('a' | 'A') if !self.once_only => self.decided(ApprovalDecision::Always),
            KeyCode::Char('p' | 'P') if self.prefix.is_some() || self.host => {
                self.decided(ApprovalDecision::AlwaysPrefix)
            }
            KeyCode::Char('x' | 'X') if self.host => self.decided(ApprovalDecision::NeverHere),
            KeyCode::Char('n' | 'N') => {
                self.reason = Some(String::new());
                KeyOutcome::Consumed
            }
            KeyCode::Esc => self.decided(ApprovalDecision::No { reason: None }),
            // Scrolling the transcript to read what is asked about is the app's, and so is
            // showing a long command whole (Ctrl+O).
            KeyCode::PageUp | KeyCode::PageDown => KeyOutcome::Ignored,
            KeyCode::Char('o') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                KeyOutcome::Ignored
            }
            _ => KeyOutcome::Consumed,
        }
    }

    /// Pasted text goes into the reason, when one is being typed.
    pub fn paste(&mut self, text: &str) {
        if let Some(reason) = &mut self.reason {
            reason.push_str(text);
        }
    }

    /// Rows the view needs.
    pub fn height(&self) -> u16 {
        if self.reason.is_some() { 2 } else { 1 }
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer) {
        if self.drawn_at.get().is_none() {
            self.drawn_at.set(Some(std::time::Instant::now()));
        }
        let key = |k: &str| Span::styled(k.to_string(), theme::warn().bold());
        let choices: Vec<(&str, String)> = if self.once_only {
            // Outside the sandbox: this once, or the prefix kept for it in this project.
            match &self.prefix {
                Some(prefix) => vec![
                    ("y", "this once".into()),
                    ("p", format!("`{}` outside, always here", cut(prefix, 20))),
                    ("n", "no".into()),
                ],
                None => vec![
                    ("y", "yes, this once".into()),
                    ("n", "no, and say why".into()),
                ],
            }
        } else if self.host {
            vec![
                ("y", "this command".into()),
                ("a", "session".into()),
                ("p", "always here".into()),
                ("x", "never".into()),
                ("n", "no".into()),
            ]
        } else if let Some(prefix) = &self.prefix {
            vec![
                ("y", "yes".into()),
                ("a", "this session".into()),
                ("p", format!("`{}` here always", cut(prefix, 24))),
                ("n", "no".into()),
            ]
        } else {
            vec![
                ("y", "yes".into()),
                ("a", "always (this session)".into()),
                ("n", "no, and say why".into()),
            ]
        };
        let last = choices.len() - 1;
        let keys: Vec<Span> = choices
            .into_iter()
            .enumerate()
            .flat_map(|(at, (letter, what))| {
                let gap = if at == last { "" } else { "  " };
                [key(letter), Span::raw(format!(" {what}{gap}"))]
            })
            .collect();
        // The keys always show whole; a long path gives up its front, never the file's name.
        let room = usize::from(area.width)
            .saturating_sub(line_width(&Line::from(keys.clone())) + 1)
            .max(12);
        let question = cut_front(&self.question, room);
        let line = match &self.reason {
            None => {
                let mut spans = vec![Span::styled(format!("{question} "), Style::new().bold())];
                spans.extend(keys);
                Line::from(spans)
            }
            Some(_) => Line::from(vec![
                Span::styled("Why not? ", Style::new().bold()),
                Span::styled(
                    "(optional, told to the model) · enter send · esc back",
                    theme::dim(),
                ),
            ]),
        };
        draw_line(buf, area.x, area.y, &line, area.width);
        if let Some(reason) = &self.reason
            && area.height > 1
        {
            let field = Line::from(vec![
                Span::styled("› ", theme::accent().bold()),
                Span::raw(reason.clone()),
                Span::styled("▏", theme::accent()),
            ]);
            draw_line(buf, area.x, area.y + 1, &field, area.width);
        }
    }
}
