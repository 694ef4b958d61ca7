//! `thread/fork`: a saved thread copied under a new id and opened, whole or through a turn, or
//! as a side conversation of it (Codex 0.171's attached thread).

use serde_json::Value;

use super::threads::Threads;
use super::wire::{Answer, Caller, RpcError, params};
use crate::wire::requests::ThreadResumeParams;

impl Threads {
    /// `thread/fork`: a copy of a saved session under a new id, opened as a new thread; the
    /// original stays as it was. With `attachToSource` the copy is a side conversation of it
    /// (attached to it, hidden from `thread/list`, in the read-only sandbox unless the host
    /// names one), as `/side` makes.
    pub async fn fork(&mut self, caller: Caller, raw: Value) -> Result<Answer, RpcError> {
        let mut p: ThreadResumeParams = params(raw)?;
        let beside = p.attach_to_source;
        if beside && p.last_turn_id.is_some() {
            return Err(RpcError::invalid_request(
                "attachToSource copies the whole thread: it cannot be combined with lastTurnId",
            ));
        }
        if beside && p.sandbox.is_none() {
            p.sandbox = Some("read-only".to_string());
        }
        let source = self.find(&p.thread_id).await?;
        let through = p.last_turn_id.clone();
        let state_dir = self.state_dir();
        let original = source.clone();
        let copy = crate::task::spawn_blocking(move || {
            let path = match beside {
                true => crate::session::shelf::fork_beside(&state_dir, &original)?,
                false => crate::session::shelf::fork(&state_dir, &original, through.as_deref())?,
            };
            crate::protocol::SessionSummary::read(&path)
        })
        .await
        .map_err(|e| RpcError::internal(e.to_string()))?
        .map_err(|e| match e {
            crate::session::SessionError::NoSuchTurn { .. } => {
                RpcError::invalid_request(format!("{}: {e}", p.thread_id))
            }
            e => RpcError::internal(format!("could not fork {}: {e}", p.thread_id)),
        })?;
        let from = source.id.to_string();
        self.open_saved(caller, p, copy, Some(from)).await
    }
}
