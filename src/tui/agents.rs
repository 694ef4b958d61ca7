//! The command center in the app: `/agents` and `/subagents` open it, Enter on an agent of this
//! conversation's team shows that agent's conversation in place of this one's (the agents go
//! on working; approvals still come to the composer; Esc comes back), Enter on a saved one
//! resumes it, Enter on one the person's own app-server holds opens the client again on it, Alt+1..9 jump to this conversation (1) and its agents in the order they
//! started, Alt+0 to the agent whose approval waits. The list is asked again every few seconds
//! while it shows, and the agent shown is read again while it works.

use std::time::{Instant, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::agents_center::{AgentCenter, AgentView, CenterAction, REFRESH};
use super::app::App;
use super::chat::Chat;
use super::history_cell::CellKind;
use super::overlay::Overlay;
use crate::protocol::{AgentRow, AgentState, Op, Replay, Replayed};

impl App {
    /// The transcript on screen: this conversation's, or the agent's shown in its place.
    pub(super) fn shown_chat(&mut self) -> &mut Chat {
        match &mut self.agents.viewing {
            Some(view) => &mut view.chat,
            None => &mut self.chat,
        }
    }

    /// `/agents` (every conversation) or `/subagents` (this one's agents alone).
    pub(super) fn open_agents(&mut self, only_team: bool) {
        self.overlay = Some(Overlay::Agents(Box::new(AgentCenter::new(only_team))));
        self.ask_for_agents(true);
    }

    /// The list asked for; `saved`: with the saved conversations, read from their files (as the
    /// list opens), else the team's alone (each refresh while it shows).
    fn ask_for_agents(&mut self, saved: bool) {
        self.agents.listed_at = Some(Instant::now());
        self.send(Op::ListAgents { saved });
    }

    /// The conversation in hand, as the center lists it.
    fn own_row(&self) -> AgentRow {
        let asking_here = self.pane.asking() && self.agents.asker.is_none();
        let state = if asking_here {
            AgentState::NeedsYou
        } else if self.turn.running() {
            AgentState::Working
        } else {
            AgentState::Ready
        };
        let since = self.turn.clock.map(|clock| {
            SystemTime::now()
                .checked_sub(clock.elapsed(Instant::now()))
                .unwrap_or(SystemTime::UNIX_EPOCH)
        });
        let title = self
            .session
            .prompts
            .first()
            .map(|(_, prompt)| prompt.clone())
            .or_else(|| self.session.sent_prompt.clone())
            .unwrap_or_else(|| "this conversation".to_string());
        let title = crate::protocol::task_of_mail(&title).map_or(title.clone(), str::to_string);
        AgentRow {
            conversation: self.session.id.clone().unwrap_or_default(),
            path: (!self.agents.team.is_empty()).then(|| crate::agent::team::ROOT.to_string()),
            title: format!("(here) {}", title.lines().next().unwrap_or_default()),
            project: self.status.project_dir.clone(),
            state,
            last_line: self.agents.last_line.clone(),
            tokens: self.status.usage.total_tokens,
            since,
            file: None,
            on_server: false,
        }
    }

    /// The core's rows came; without the saved conversations (`saved` false), those listed
    /// before stay.
    pub(super) fn on_agents(&mut self, mut rows: Vec<AgentRow>, saved: bool) {
        let own = self.own_row();
        // The conversation in hand is saved too: it is listed once, as the one here.
        rows.retain(|row| row.conversation != own.conversation);
        if let Some(Overlay::Agents(center)) = &mut self.overlay {
            if !saved {
                // One the server opened since is listed once, as the server's.
                let kept: Vec<AgentRow> = center
                    .saved_rows(&own.conversation)
                    .into_iter()
                    .filter(|kept| !rows.iter().any(|row| row.conversation == kept.conversation))
                    .collect();
                rows.extend(kept);
            }
            center.set_rows(own, rows);
        }
    }

    /// This conversation's model finished an answer: its last line of words is the row's.
    pub(super) fn answered(&mut self, text: &str) {
        if let Some(line) = crate::protocol::last_words(text) {
            self.agents.last_line = Some(line.trim().to_string());
        }
    }

    /// An agent of this conversation started: its Alt slot is the next.
    pub(super) fn agent_started(&mut self, path: &str, conversation: &str) {
        if !self.agents.team.iter().any(|(known, _)| known == path) {
            self.agents
                .team
                .push((path.to_string(), conversation.to_string()));
        }
        if matches!(self.overlay, Some(Overlay::Agents(_))) {
            self.ask_for_agents(false);
        }
    }

    /// What a key of the center asks.
    pub(super) fn center_action(&mut self, action: CenterAction) {
        match action {
            CenterAction::None => {}
            CenterAction::Close => self.overlay = None,
            CenterAction::New => {
                self.overlay = None;
                if self.refuse_leaving("start a new conversation") {
                    return;
                }
                self.close_view();
                self.perform(super::bottom_pane::Command::Slash(
                    super::bottom_pane::slash::SlashCommand::New,
                    String::new(),
                ));
            }
            CenterAction::Open(row) => {
                self.overlay = None;
                self.open_row(row);
            }
        }
    }

    fn open_row(&mut self, row: AgentRow) {
        // The conversation in hand is the one row without a saved id, or with its own.
        if row.conversation == self.session.id.clone().unwrap_or_default() {
            self.close_view();
            return;
        }
        if row.on_server {
            if self.refuse_leaving("open a conversation of your kelp server") {
                return;
            }
            self.close_view();
            self.reopen = Some(super::session_state::Ended::OnServer {
                thread: row.conversation,
                project: row.project,
            });
            self.quit();
            return;
        }
        let Some(file) = row.file else {
            self.view_agent(row.conversation, row.path.unwrap_or(row.title));
            return;
        };
        if self.refuse_leaving("open another conversation") {
            return;
        }
        self.close_view();
        let since = row.since.unwrap_or_else(SystemTime::now);
        self.session.resuming_from = Some(since);
        self.send(Op::Resume(file));
    }

    /// Leaving this conversation ends the agents it spawned: refused while one works.
    fn refuse_leaving(&mut self, what: &str) -> bool {
        let working = !self.agents.team.is_empty() && self.turn.running();
        if working {
            self.push_error(format!(
                "this conversation and its agents are working: to {what}, wait for them or stop \
                 them (Esc) first"
            ));
        }
        working
    }

    /// Shows the conversation `conversation` in place of this one's, asking for its turns.
    fn view_agent(&mut self, conversation: String, name: String) {
        let mut chat = Chat::default();
        chat.push(CellKind::Notice(format!("Reading {name}…")));
        self.send(Op::ReadAgent(conversation.clone()));
        self.agents.viewing = Some(AgentView {
            conversation,
            name,
            chat,
            asked: Instant::now(),
            side: false,
        });
    }

    /// Back to this conversation.
    pub(super) fn close_view(&mut self) {
        if self.agents.viewing.take().is_some_and(|view| view.side) {
            self.send(Op::CloseSide);
        }
    }

    /// The turns of the agent shown came.
    pub(super) fn on_agent_transcript(
        &mut self,
        conversation: &str,
        shown: Result<Box<Replay>, String>,
    ) {
        let Some(view) = &mut self.agents.viewing else {
            return;
        };
        if view.conversation != conversation {
            return;
        }
        let at_end = view.chat.transcript.scroll() == super::transcript::Scroll::Bottom;
        view.chat = match shown {
            Ok(replay) => chat_of(*replay),
            Err(why) => {
                let mut chat = Chat::default();
                chat.push(CellKind::Error(format!("cannot read {}: {why}", view.name)));
                chat
            }
        };
        if at_end {
            view.chat.transcript.scroll_to_bottom();
        }
    }

    /// Alt+1..9 and Alt+0: this conversation, its agents, the one that asks; Alt+A: the
    /// center, even while an approval waits. Whether the key was one of them.
    pub(super) fn agent_key(&mut self, key: KeyEvent) -> bool {
        if !key.modifiers.contains(KeyModifiers::ALT) {
            return false;
        }
        let digit = match key.code {
            KeyCode::Char(digit @ '0'..='9') => digit,
            KeyCode::Char('a' | 'A') => {
                self.open_agents(false);
                return true;
            }
            _ => return false,
        };
        let target = match digit {
            '0' => self.agents.asker.clone().and_then(|asker| {
                self.agents
                    .team
                    .iter()
                    .find(|(path, _)| *path == asker)
                    .cloned()
            }),
            '1' => None,
            _ => {
                let slot = usize::from(digit as u8 - b'2');
                match self.agents.team.get(slot) {
                    Some(found) => Some(found.clone()),
                    None => {
                        self.status.hint = Some(format!("no agent on alt+{digit}"));
                        return true;
                    }
                }
            }
        };
        self.overlay = None;
        match target {
            Some((path, conversation)) => self.view_agent(conversation, path),
            None => self.close_view(),
        }
        true
    }

    /// A second passed: the list, or the agent shown, is asked for again when due.
    pub(super) fn refresh_agents(&mut self, now: Instant) {
        let due = |at: Instant| now.saturating_duration_since(at) >= REFRESH;
        if matches!(self.overlay, Some(Overlay::Agents(_))) && self.agents.listed_at.is_none_or(due)
        {
            self.ask_for_agents(false);
        }
        let read_again = self
            .agents
            .viewing
            .as_mut()
            .filter(|view| !view.side && due(view.asked))
            .map(|view| {
                view.asked = now;
                view.conversation.clone()
            });
        if let Some(conversation) = read_again {
            self.send(Op::ReadAgent(conversation));
        }
    }

    /// Whether something of the center moves with time.
    pub(super) fn agents_tick(&self) -> bool {
        matches!(self.overlay, Some(Overlay::Agents(_))) || self.agents.viewing.is_some()
    }
}

/// A conversation's saved turns drawn as the live path drew them: the prompts, the answers,
/// the tool calls and the plan.
fn chat_of(replay: Replay) -> Chat {
    let mut chat = Chat::default();
    for turn in replay.turns {
        chat.start_response();
        for entry in turn.entries {
            match entry {
                Replayed::Prompt(prompt) => chat.push_prompt(prompt),
                Replayed::Event(event) => chat.replay(&event),
            }
        }
        let partial = chat.turn_finished();
        if let Some((how, message)) = turn.ended {
            chat.push(super::resume::ended_early(how, message.as_deref(), partial));
        }
    }
    chat.transcript.scroll_to_bottom();
    chat
}
