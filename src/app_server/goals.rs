//! `thread/goal/*`: a thread's goal (`session::goal`), set, read and cleared by a host, in
//! Codex 0.169's shapes. The core keeps the goal and works toward it; the thread's pump keeps
//! the last one it reported (`Running::goal`) for the reads, and `thread/goal/updated` and
//! `thread/goal/cleared` follow each change from the core.

use std::sync::PoisonError;

use serde::Deserialize;
use serde_json::Value;

use super::threads::Threads;
use super::wire::{Answer, RpcError, params};
use crate::protocol::Op;
use crate::protocol::{Goal, GoalChange, GoalStatus};
use crate::session::goal;
use crate::wire::{GoalAnswer, GoalCleared, ThreadGoal};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GoalSet {
    thread_id: String,
    #[serde(default)]
    objective: Option<String>,
    #[serde(default)]
    status: Option<GoalStatus>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThreadOnly {
    thread_id: String,
}

/// `tokenBudget` as Codex reads it: absent keeps the budget, `null` removes it.
fn token_budget(raw: &Value) -> Result<Option<Option<u64>>, RpcError> {
    match raw.get("tokenBudget") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(value) => value.as_u64().map(|n| Some(Some(n))).ok_or_else(|| {
            RpcError::invalid_params("Invalid params: tokenBudget: a whole number of tokens")
        }),
    }
}

impl Threads {
    /// `thread/goal/set`: the goal changed as asked (a new objective starts a new goal); the
    /// core works toward an active one at once when no turn runs.
    pub fn set_goal(&self, raw: Value) -> Result<Answer, RpcError> {
        let token_budget = token_budget(&raw)?;
        let asked: GoalSet = params(raw)?;
        let thread = self.thread(&asked.thread_id)?;
        let change = GoalChange {
            objective: asked.objective,
            status: asked.status,
            token_budget,
        };
        let goal = {
            let mut running = thread
                .running
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let goal = Goal::changed(running.goal.as_ref(), change.clone(), goal::now())
                .map_err(|e| RpcError::invalid_params(format!("Invalid params: {e}")))?;
            running.goal = Some(goal.clone());
            goal
        };
        let ops = thread.ops.clone();
        let answer = Answer::of(&GoalAnswer {
            goal: Some(ThreadGoal {
                thread_id: asked.thread_id,
                goal,
            }),
        })?;
        Ok(answer.after(move || {
            let _ = ops.send(Op::SetGoal(change));
        }))
    }

    /// `thread/goal/get`: a loaded thread's goal, or a saved one's as its file last noted it.
    pub async fn get_goal(&self, raw: Value) -> Result<Answer, RpcError> {
        let asked: ThreadOnly = params(raw)?;
        let goal = match self.thread(&asked.thread_id) {
            Ok(thread) => thread
                .running
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .goal
                .clone(),
            Err(_) => {
                let summary = self.find(&asked.thread_id).await?;
                crate::task::spawn_blocking(move || {
                    crate::session::SessionLog::load_recent(&summary.path, 0, 1)
                        .ok()
                        .and_then(|log| log.goal())
                })
                .await
                .map_err(|e| RpcError::internal(e.to_string()))?
            }
        };
        Answer::of(&GoalAnswer {
            goal: goal.map(|goal| ThreadGoal {
                thread_id: asked.thread_id,
                goal,
            }),
        })
    }

    /// `thread/goal/clear`: whether there was a goal; `thread/goal/cleared` follows.
    pub fn clear_goal(&self, raw: Value) -> Result<Answer, RpcError> {
        let asked: ThreadOnly = params(raw)?;
        let thread = self.thread(&asked.thread_id)?;
        let had = thread
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .goal
            .take()
            .is_some();
        let answer = Answer::of(&GoalCleared { cleared: had })?;
        let ops = thread.ops.clone();
        Ok(answer.after(move || {
            if had {
                let _ = ops.send(Op::ClearGoal);
            }
        }))
    }
}
