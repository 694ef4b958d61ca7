//! The command center (`/agents`, `kelp agents`; `/subagents` for this conversation's agents
//! alone): every conversation grouped as Needs you, Working, Ready and Inactive, each with its
//! project, its last line, its tokens and how long it has stood so; ↑↓ move, Enter opens, `n`
//! starts a new conversation, Esc returns.

use std::time::{Duration, Instant, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Widget};

use super::call_lines::display_path;
use super::chat::Chat;
use super::theme;
use super::wrap::{cut, draw_line};
use crate::humanize;
use crate::protocol::{AgentRow, AgentState};
use crate::terminal_text::printable;

/// How often the list, and the agent shown, are asked for again.
pub(crate) const REFRESH: Duration = Duration::from_secs(2);

/// Another agent's conversation, shown in place of this one's.
#[derive(Debug)]
pub(crate) struct AgentView {
    pub(crate) conversation: String,
    /// Its task path, or its title for a conversation outside the team.
    pub(crate) name: String,
    pub(crate) chat: Chat,
    /// When it was last asked for.
    pub(crate) asked: Instant,
    /// The side conversation (`/side`), drawn live from its events, never read again.
    pub(crate) side: bool,
}

/// What the app keeps for the command center.
#[derive(Debug, Default)]
pub(crate) struct Agents {
    /// The agent shown in place of this conversation, when one is.
    pub(crate) viewing: Option<AgentView>,
    /// This conversation's agents, as they started: (task path, conversation), for Alt+2..9.
    pub(crate) team: Vec<(String, String)>,
    /// The agent whose approval was asked last (`None`: this conversation's own).
    pub(crate) asker: Option<String>,
    /// The last line this conversation's model wrote.
    pub(crate) last_line: Option<String>,
    /// When the list was last asked for.
    pub(crate) listed_at: Option<Instant>,
}

/// What a key in the center asks of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CenterAction {
    None,
    /// Open this row.
    Open(AgentRow),
    /// Start a new conversation.
    New,
    Close,
}

/// The list and the row chosen.
#[derive(Debug, Default)]
pub struct AgentCenter {
    /// Grouped: Needs you first, then Working, Ready, Inactive.
    rows: Vec<AgentRow>,
    selected: usize,
    /// `/subagents`: this conversation's agents only.
    pub only_team: bool,
    /// The list came: before it, the center says it is asking.
    loaded: bool,
}

impl AgentCenter {
    pub fn new(only_team: bool) -> Self {
        Self {
            only_team,
            ..Self::default()
        }
    }

    /// The rows as they stand now: `own` (the conversation in hand) first, then the core's,
    /// grouped by state; the row chosen stays chosen when it is still there.
    pub fn set_rows(&mut self, own: AgentRow, rows: Vec<AgentRow>) {
        let chosen = self.rows.get(self.selected).map(|r| r.conversation.clone());
        let mut all: Vec<AgentRow> = if self.only_team {
            // The server's agents are other conversations' teams.
            rows.into_iter()
                .filter(|row| row.path.is_some() && !row.on_server)
                .collect()
        } else {
            std::iter::once(own).chain(rows).collect()
        };
        // Stable: within a group, the order the core gave (the team's as spawned, the saved
        // ones newest first).
        all.sort_by_key(|row| row.state);
        self.selected = chosen
            .and_then(|id| all.iter().position(|row| row.conversation == id))
            .unwrap_or(0);
        self.rows = all;
        self.loaded = true;
    }

    /// The saved conversations listed now (no agent of the team, none the server holds, not
    /// `own`), for a refresh that brings the team's and the server's rows alone.
    pub fn saved_rows(&self, own: &str) -> Vec<AgentRow> {
        self.rows
            .iter()
            .filter(|row| row.path.is_none() && !row.on_server && row.conversation != own)
            .cloned()
            .collect()
    }

    pub fn rows(&self) -> &[AgentRow] {
        &self.rows
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> CenterAction {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => CenterAction::Close,
            KeyCode::Char('c') if ctrl => CenterAction::Close,
            KeyCode::Up | KeyCode::Char('k') => {
                self.selected = self.selected.saturating_sub(1);
                CenterAction::None
            }
            KeyCode::Down | KeyCode::Char('j') => {
                if self.selected + 1 < self.rows.len() {
                    self.selected += 1;
                }
                CenterAction::None
            }
            KeyCode::Home => {
                self.selected = 0;
                CenterAction::None
            }
            KeyCode::End => {
                self.selected = self.rows.len().saturating_sub(1);
                CenterAction::None
            }
            KeyCode::Enter => self
                .rows
                .get(self.selected)
                .cloned()
                .map_or(CenterAction::None, CenterAction::Open),
            KeyCode::Char('n') if !self.only_team => CenterAction::New,
            _ => CenterAction::None,
        }
    }

    /// Draws the list over `area`, the chosen row kept in sight; `now` ages the rows.
    pub fn render(&self, area: Rect, buf: &mut Buffer, now: SystemTime) {
        Clear.render(area, buf);
        if area.height < 2 {
            return;
        }
        let title = if self.only_team {
            " Subagents"
        } else {
            " Agents"
        };
        let keys = if self.only_team {
            "  ↑↓ move · enter open · esc close"
        } else {
            "  ↑↓ move · enter open · n new · esc close"
        };
        let header = Line::from(vec![
            Span::styled(title, theme::accent().bold()),
            Span::styled(keys, theme::dim()),
        ]);
        draw_line(buf, area.x, area.y, &header, area.width);
        let lines = self.lines(area.width, now);
        let body = Rect::new(area.x, area.y + 1, area.width, area.height - 1);
        // The chosen row's two lines stay on screen.
        let chosen_at = lines
            .iter()
            .position(|(row, _)| *row == Some(self.selected))
            .unwrap_or(0);
        let height = usize::from(body.height);
        let first = (chosen_at + 2).saturating_sub(height);
        for (offset, (_, line)) in lines.iter().skip(first).take(height).enumerate() {
            let y = body.y + u16::try_from(offset).unwrap_or(u16::MAX);
            draw_line(buf, body.x, y, line, body.width);
        }
    }

    /// Each line to draw, with the row it belongs to.
    fn lines(&self, width: u16, now: SystemTime) -> Vec<(Option<usize>, Line<'static>)> {
        let mut out = Vec::new();
        if !self.loaded {
            out.push((None, Line::styled("   asking for the list…", theme::dim())));
            return out;
        }
        if self.rows.is_empty() {
            let empty = if self.only_team {
                "   this conversation has spawned no agent"
            } else {
                "   no conversation yet"
            };
            out.push((None, Line::styled(empty, theme::dim())));
            return out;
        }
        let width = usize::from(width);
        let mut group = None;
        for (index, row) in self.rows.iter().enumerate() {
            if group != Some(row.state) {
                group = Some(row.state);
                let count = self.rows.iter().filter(|r| r.state == row.state).count();
                let style = match row.state {
                    AgentState::NeedsYou => theme::warn().bold(),
                    _ => theme::strong(),
                };
                out.push((None, Line::from("")));
                out.push((
                    None,
                    Line::styled(format!(" {} ({count})", row.state.heading()), style),
                ));
            }
            let chosen = index == self.selected;
            out.push((Some(index), title_line(row, chosen, width, now)));
            let last = row.last_line.as_deref().unwrap_or("");
            // The model's words and a saved title reach the terminal only as printable text.
            let detail = format!("     {}", cut(&printable(last), width.saturating_sub(6)));
            out.push((Some(index), Line::styled(detail, theme::dim())));
        }
        out
    }
}

/// A row's first line: the marker, the agent's name or title, then its project, tokens and
/// time at the right.
fn title_line(row: &AgentRow, chosen: bool, width: usize, now: SystemTime) -> Line<'static> {
    let marker = if chosen { "  › " } else { "    " };
    let name = match &row.path {
        Some(path) if row.title.is_empty() => path.clone(),
        Some(path) => format!("{path}  {}", row.title),
        None if row.title.is_empty() => "(no prompt yet)".to_string(),
        None => row.title.clone(),
    };
    let mut facts = vec![display_path(&row.project)];
    if row.on_server {
        facts.push("on your server".to_string());
    }
    if row.tokens > 0 {
        facts.push(format!("{} tok", humanize::count(row.tokens)));
    }
    if let Some(since) = row.since {
        facts.push(match row.state {
            AgentState::Working | AgentState::NeedsYou => {
                humanize::elapsed(now.duration_since(since).unwrap_or_default())
            }
            _ => super::resume::age(since, now),
        });
    }
    let facts = format!("  {}", facts.join(" · "));
    let room = width.saturating_sub(marker.len() + facts.chars().count().min(width / 2));
    let name = cut(&printable(&name), room);
    let pad =
        width.saturating_sub(marker.chars().count() + name.chars().count() + facts.chars().count());
    let name_style = if chosen {
        theme::selection()
    } else {
        ratatui::style::Style::default()
    };
    Line::from(vec![
        Span::styled(marker, theme::accent()),
        Span::styled(name, name_style),
        Span::raw(" ".repeat(pad)),
        Span::styled(cut(&facts, width / 2), theme::dim()),
    ])
}

/// Draws the agent shown: a line naming it, then its transcript.
pub(crate) fn render_view(
    view: &mut AgentView,
    area: ratatui::layout::Rect,
    buf: &mut ratatui::buffer::Buffer,
) {
    if area.height < 2 {
        view.chat.transcript.render(area, buf);
        return;
    }
    let about = if view.side {
        " · adds nothing to yours · enter: ask more · esc: back"
    } else {
        " · its conversation, as saved · esc: back to yours · /agents: all"
    };
    let header = ratatui::text::Line::from(vec![
        ratatui::text::Span::styled(format!(" {}", view.name), super::theme::accent().bold()),
        ratatui::text::Span::styled(about, super::theme::dim()),
    ]);
    super::wrap::draw_line(buf, area.x, area.y, &header, area.width);
    let below = ratatui::layout::Rect::new(area.x, area.y + 1, area.width, area.height - 1);
    view.chat.transcript.render(below, buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    fn row(id: &str, path: Option<&str>, state: AgentState) -> AgentRow {
        AgentRow {
            conversation: id.into(),
            path: path.map(str::to_string),
            title: format!("task {id}"),
            project: PathBuf::from("/p"),
            state,
            last_line: Some(format!("last of {id}\x1b]52;c;aGk=\x07")),
            tokens: 1500,
            since: Some(SystemTime::UNIX_EPOCH),
            file: None,
            on_server: false,
        }
    }

    #[test]
    fn rows_are_grouped_and_the_chosen_one_stays_chosen() {
        let mut center = AgentCenter::new(false);
        let own = row("own", Some("/root"), AgentState::Working);
        center.set_rows(
            own.clone(),
            vec![
                row("a", Some("/root/a"), AgentState::Ready),
                row("b", Some("/root/b"), AgentState::NeedsYou),
                row("old", None, AgentState::Inactive),
            ],
        );
        let order: Vec<&str> = center
            .rows()
            .iter()
            .map(|r| r.conversation.as_str())
            .collect();
        assert_eq!(order, ["b", "own", "a", "old"]);
        center.handle_key(KeyEvent::from(KeyCode::Down));
        center.handle_key(KeyEvent::from(KeyCode::Down));
        // `a` is chosen; it moves up a group when `b` is answered, and stays chosen.
        center.set_rows(
            own,
            vec![
                row("a", Some("/root/a"), AgentState::Ready),
                row("b", Some("/root/b"), AgentState::Working),
            ],
        );
        let Some(CenterAction::Open(opened)) =
            Some(center.handle_key(KeyEvent::from(KeyCode::Enter)))
        else {
            unreachable!()
        };
        assert_eq!(opened.conversation, "a");
        assert_eq!(
            center.handle_key(KeyEvent::from(KeyCode::Char('n'))),
            CenterAction::New
        );
    }

    #[test]
    fn subagents_lists_the_team_alone_and_starts_nothing() {
        let mut center = AgentCenter::new(true);
        let mut elsewhere = row("served", Some("/root/a"), AgentState::Working);
        elsewhere.on_server = true;
        center.set_rows(
            row("own", None, AgentState::Ready),
            vec![
                row("a", Some("/root/a"), AgentState::Working),
                row("old", None, AgentState::Inactive),
                elsewhere,
            ],
        );
        let order: Vec<&str> = center
            .rows()
            .iter()
            .map(|r| r.conversation.as_str())
            .collect();
        assert_eq!(order, ["a"]);
        assert_eq!(
            center.handle_key(KeyEvent::from(KeyCode::Char('n'))),
            CenterAction::None
        );
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(75);
        let lines: Vec<String> = center
            .lines(60, now)
            .into_iter()
            .map(|(_, line)| line.to_string())
            .collect();
        assert!(lines.iter().any(|l| l.contains("Working (1)")), "{lines:?}");
        assert!(
            lines
                .iter()
                .any(|l| l.contains("/root/a  task a") && l.contains("1.5k tok · 1m 15s")),
            "{lines:?}"
        );
        assert!(lines.iter().any(|l| l.contains("last of a")), "{lines:?}");
        assert!(
            lines
                .iter()
                .all(|l| !l.contains('\x1b') && !l.contains('\x07')),
            "no control character reaches the terminal: {lines:?}"
        );
    }
}
