//! The core's reads of the saved conversations beside its own: the `/resume` list, the
//! composer's prompt history, the command center's list and its view of another agent, all
//! off the core task.

use super::Core;
use crate::protocol::{AgentRow, AgentState, Event, Reply};
use crate::session;

/// How many saved conversations the `/resume` picker offers.
pub(super) const MAX_LISTED_SESSIONS: usize = 50;

impl Core {
    /// Reads the prompts of this project's saved conversations in the background, for the
    /// composer's history; the answer arrives as `Event::Reply(Reply::PromptHistory)`.
    pub(super) fn send_prompt_history(&self) {
        let state_dir = self.config.state_dir.clone();
        let project_dir = self.options.project_dir.clone();
        let events = self.events.clone();
        crate::task::spawn_blocking(move || {
            let prompts = crate::session::recent_prompts(&state_dir, &project_dir, 50, 500);
            if !prompts.is_empty() {
                let _ = events.send(Event::Reply(Reply::PromptHistory(prompts)));
            }
        });
    }

    /// Lists this project's saved conversations off the core task (it reads file headers).
    pub(super) fn list_sessions(&self) {
        let state_dir = self.config.state_dir.clone();
        let project_dir = self.options.project_dir.clone();
        let events = self.events.clone();
        // Each shows its own model: the one its last turn used, else the one it started with.
        crate::task::spawn(async move {
            let listed = crate::task::spawn_blocking(move || {
                // An agent a team spawned is its parent's, reopened through it.
                let listed = session::list_sessions(&state_dir, Some(&project_dir))
                    .filter(|summary| summary.agent.is_none())
                    .take(MAX_LISTED_SESSIONS)
                    .map(|mut summary| {
                        summary.last_exchange = session::last_exchange(&summary.path);
                        if let Some(model) = summary
                            .last_exchange
                            .as_ref()
                            .and_then(|exchange| exchange.model.clone())
                        {
                            summary.model = model;
                        }
                        summary
                    });
                session::shelf::named(&state_dir, listed)
            })
            .await;
            let event = match listed {
                Ok(sessions) => Event::Reply(Reply::Sessions(sessions)),
                Err(_) => Event::Error("could not list saved conversations".to_string()),
            };
            let _ = events.send(event);
        });
    }

    /// This project's saved conversations that say `term`, off the core task (it reads their
    /// said files), as `Reply::SessionsSaying`.
    pub(super) fn search_sessions(&self, term: String) {
        let state_dir = self.config.state_dir.clone();
        let project_dir = self.options.project_dir.clone();
        let events = self.events.clone();
        crate::task::spawn_blocking(move || {
            let mut found = Vec::new();
            let root = session::sessions_dir(&state_dir);
            session::said::search(&root, Some(&project_dir), &term, |summary, hit| {
                if summary.agent.is_none() {
                    found.push((summary, hit.line));
                }
                found.len() < MAX_LISTED_SESSIONS
            });
            let (summaries, lines): (Vec<_>, Vec<_>) = found.into_iter().unzip();
            let named = session::shelf::named(&state_dir, summaries);
            let found = named.into_iter().zip(lines).collect();
            let _ = events.send(Event::Reply(Reply::SessionsSaying { term, found }));
        });
    }

    /// The command center's rows: the agents this conversation's team spawned, the
    /// conversations held elsewhere (the person's own app-server's, when one runs), then, `with_saved`,
    /// the saved conversations of every project, newest first (the one in hand is the face's
    /// to show).
    pub(super) fn list_agents(&self, with_saved: bool) {
        let team = self
            .seat
            .as_ref()
            .map(super::super::team::Seat::rows)
            .unwrap_or_default();
        let mut live: Vec<String> = team.iter().map(|row| row.conversation.clone()).collect();
        if let Some(conversation) = &self.conversation {
            live.push(conversation.id().to_string());
        }
        let state_dir = self.config.state_dir.clone();
        let events = self.events.clone();
        let elsewhere = self.options.elsewhere.clone();
        crate::task::spawn(async move {
            let served = match elsewhere {
                Some(list) => list().await,
                None => Vec::new(),
            };
            live.extend(served.iter().map(|row| row.conversation.clone()));
            let read = crate::task::spawn_blocking(move || {
                let served = served.into_iter().map(|mut row| {
                    row.last_line = row
                        .file
                        .as_deref()
                        .and_then(session::last_exchange)
                        .and_then(|last| last.answer);
                    row
                });
                let mut rows: Vec<AgentRow> = team.into_iter().chain(served).collect();
                if with_saved {
                    let saved = session::list_sessions(&state_dir, None)
                        .filter(|summary| summary.agent.is_none())
                        .filter(|summary| !live.contains(&summary.id.to_string()))
                        .take(MAX_LISTED_SESSIONS)
                        .map(|mut summary| {
                            summary.last_exchange = session::last_exchange(&summary.path);
                            AgentRow::saved(summary, AgentState::Inactive)
                        });
                    rows.extend(saved);
                }
                rows
            });
            if let Ok(rows) = read.await {
                let _ = events.send(Event::Reply(Reply::Agents {
                    rows,
                    saved: with_saved,
                }));
            }
        });
    }

    /// The newest turns of the saved conversation `id`, read off the core task.
    pub(super) fn read_agent(&self, id: String) {
        let state_dir = self.config.state_dir.clone();
        let events = self.events.clone();
        crate::task::spawn_blocking(move || {
            let shown = session::find_whole(&state_dir, &id)
                .and_then(|found| crate::agent::replay::shown(&found.path))
                .map(Box::new)
                .map_err(|e| e.to_string());
            let _ = events.send(Event::Reply(Reply::AgentTranscript {
                conversation: id,
                shown,
            }));
        });
    }
}
