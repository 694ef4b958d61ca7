//! The threads of the agents a loaded thread's team runs (Codex 0.171's spawned threads),
//! which are loaded while their team is: their status among the live threads, and
//! `thread/resume` of one, answered from its saved conversation as it stands.

use std::collections::HashMap;
use std::sync::PoisonError;

use super::history::listed_thread;
use super::threads::Threads;
use super::turns::Thread;
use super::wire::{Answer, Caller, RpcError};
use crate::wire::{self, requests::ThreadResumeParams};

impl Threads {
    /// How each thread this server holds stands now, the threads of their teams' agents
    /// too: a turn running on it, or idle.
    pub fn live(&self) -> HashMap<String, wire::ThreadStatus> {
        let mut live = HashMap::new();
        for (id, thread) in &self.threads {
            live.insert(id.clone(), status_of(thread.running_turn().is_some()));
            let running = thread
                .running
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            live.extend(
                running
                    .agents
                    .iter()
                    .map(|(id, agent)| (id.clone(), status_of(agent.turn_id.is_some()))),
            );
        }
        live
    }

    /// The loaded thread whose team holds the agent of thread `id`, and how that agent
    /// stands.
    pub(super) fn team_of(&self, id: &str) -> Option<(&Thread, wire::ThreadStatus)> {
        self.threads.values().find_map(|thread| {
            let running = thread
                .running
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let agent = running.agents.get(id)?;
            Some((thread, status_of(agent.turn_id.is_some())))
        })
    }

    /// `thread/resume` of the thread of an agent a loaded thread's team runs: its core is the
    /// team's, so it is answered from its saved conversation as it stands, and the caller
    /// hears the team's thread, through which the agent's events come.
    pub(super) async fn join_agent(
        &self,
        caller: Caller,
        p: &ThreadResumeParams,
        summary: &crate::protocol::SessionSummary,
        (team, status): (&Thread, wire::ThreadStatus),
    ) -> Result<Answer, RpcError> {
        let names = self.saved.names().await;
        let mut answer = team.opened.clone();
        answer.thread = listed_thread(summary, &names);
        answer.thread.status = status;
        answer.thread.history_mode = Some("legacy".into());
        answer.model.clone_from(&summary.model);
        answer.cwd.clone_from(&summary.project_dir);
        if !p.exclude_turns {
            let turns = self.saved.history(&p.thread_id).await;
            answer.thread.turns = turns.map(|(_, turns)| turns).unwrap_or_default();
        }
        let audience = team.audience.clone();
        Ok(Answer::of_read(answer)
            .await?
            .after(move || audience.join(&caller.out)))
    }
}

/// A thread's status from whether a turn runs on it.
pub(super) fn status_of(running: bool) -> wire::ThreadStatus {
    if running {
        wire::ThreadStatus::Active {
            active_flags: Vec::new(),
        }
    } else {
        wire::ThreadStatus::Idle
    }
}
