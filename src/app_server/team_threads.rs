//! The threads of the agents a loaded thread's team runs (Codex 0.171's spawned threads),
//! which are loaded while their team is: their status among the live threads, `thread/resume`
//! of one, answered from its saved conversation as it stands, and a host's `turn/start` and
//! `turn/interrupt` on one, passed to the agent through its team's first core.

use std::collections::HashMap;
use std::sync::PoisonError;

use super::history::listed_thread;
use super::shapes::{prompt, turn_starting, user_message};
use super::threads::Threads;
use super::turns::Thread;
use super::turns::turn_answer;
use super::wire::{Answer, Caller, RpcError, now_ms, params};
use crate::protocol::{Op, Submission};
use crate::wire::requests::{ThreadResumeParams, TurnInterruptParams, TurnStartParams};
use crate::wire::{self, TurnResponse};

impl Threads {
    /// `turn/start` on the thread of a team's agent: the host's words as a task of the
    /// agent's own, its turn announced on its thread; `None` when `raw` names no agent's
    /// thread. The turn's settings are the agent's (its role's), not the request's.
    pub fn start_on_agent(&self, raw: &serde_json::Value) -> Option<Result<Answer, RpcError>> {
        let id = raw.get("threadId")?.as_str()?;
        let (team, _) = self.team_of(id)?;
        Some(start_on_agent(raw.clone(), team, id))
    }

    /// `turn/interrupt` on the thread of a team's agent; `None` when `raw` names no agent's
    /// thread.
    pub fn interrupt_agent(&self, raw: &serde_json::Value) -> Option<Result<Answer, RpcError>> {
        let id = raw.get("threadId")?.as_str()?;
        let (team, _) = self.team_of(id)?;
        Some(interrupt_agent(raw.clone(), team, id))
    }

    /// How each thread this server holds stands now, the threads of their teams' agents
    /// too: a turn running on it, or idle.
    pub fn live(&self) -> HashMap<String, wire::ThreadStatus> {
        let mut live = HashMap::new();
        for (id, thread) in &self.threads {
            let running_turn = thread.running_turn().is_some();
            let running = thread
                .running
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            live.insert(id.clone(), status_of(running_turn, running.waits_on(id)));
            live.extend(running.agents.iter().map(|(id, agent)| {
                let status = status_of(agent.turn_id.is_some(), running.waits_on(id));
                (id.clone(), status)
            }));
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
            let status = status_of(agent.turn_id.is_some(), running.waits_on(id));
            Some((thread, status))
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

/// A loaded thread's status from whether a turn runs on it and whether an approval asked on
/// it waits.
pub(super) fn status_of(running: bool, waiting: bool) -> wire::ThreadStatus {
    match (running, waiting) {
        (_, true) => wire::ThreadStatus::Active {
            active_flags: vec![wire::ActiveFlag::WaitingOnApproval],
        },
        (true, false) => wire::ThreadStatus::Active {
            active_flags: Vec::new(),
        },
        (false, false) => wire::ThreadStatus::Idle,
    }
}

/// [`Threads::start_on_agent`] for agent thread `id` of the thread `team`.
fn start_on_agent(raw: serde_json::Value, team: &Thread, id: &str) -> Result<Answer, RpcError> {
    let shown = raw.get("input").cloned().unwrap_or_default();
    let p: TurnStartParams = params(raw)?;
    let (text, images) = prompt(p.input)?;
    let turn = {
        let mut running = team.running.lock().unwrap_or_else(PoisonError::into_inner);
        let agent = running.agents.entry(id.to_string()).or_default();
        if agent.turn_id.is_some() {
            return Err(RpcError::invalid_request(
                "a turn is already running on this thread: wait for it or interrupt it",
            ));
        }
        let turn = turn_starting(uuid::Uuid::new_v4().to_string());
        agent.turn_id = Some(turn.id.clone());
        turn
    };
    let turn_id = turn.id.clone();
    let mut answer = turn_answer(&TurnResponse { turn: turn.clone() }, id, turn)?
        .heard_by(team.heard_by())
        .every_client(team.everyone.clone());
    answer
        .then
        .extend(user_message(id, &turn_id, shown, now_ms()));
    let submission = Submission {
        text,
        images,
        turn_id: Some(turn_id),
        ..Submission::default()
    };
    let ops = team.ops.clone();
    let conversation = id.to_string();
    Ok(answer.after(move || {
        let op = Box::new(Op::Submit(submission));
        let _ = ops.send(Op::ToAgent { conversation, op });
    }))
}

/// [`Threads::interrupt_agent`] for agent thread `id` of the thread `team`: its turn named is
/// stopped, after the answer (its `turn/completed` follows).
fn interrupt_agent(raw: serde_json::Value, team: &Thread, id: &str) -> Result<Answer, RpcError> {
    let p: TurnInterruptParams = params(raw)?;
    let runs = team
        .running
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .agents
        .get(id)
        .is_some_and(|agent| agent.turn_id.as_deref() == Some(p.turn_id.as_str()));
    let answer = Answer::of(&wire::Empty {})?;
    if !runs {
        return Ok(answer);
    }
    let ops = team.ops.clone();
    let conversation = id.to_string();
    Ok(answer.after(move || {
        let op = Box::new(Op::Interrupt);
        let _ = ops.send(Op::ToAgent { conversation, op });
    }))
}
