//! The conversations an app-server holds open, as the command center lists them beside the
//! client's own: one short exchange (`thread/loaded/list`, then `thread/read` of each), each
//! thread standing as the server says (an approval waiting, a turn running, idle). The client
//! opens one by running on that server.

use std::time::Duration;

use super::Target;
use super::items::session_summary;
use super::talk::{Talk, TalkError};
use crate::protocol::{AgentRow, AgentState};
use crate::wire::requests::ThreadReadParams;
use crate::wire::{self, ActiveFlag, ThreadResponse, ThreadStatus};

/// How long the whole exchange may take: the list waits for it.
const ANSWERED_WITHIN: Duration = Duration::from_secs(2);

/// How many of the server's threads are read.
const MOST_READ: usize = 50;

/// The threads the server at `target` holds open, as rows opened on it.
pub async fn open_threads(target: &Target) -> Result<Vec<AgentRow>, TalkError> {
    let exchange = async {
        let mut talk = Talk::open(target, None, "kelp agents").await?;
        let mut rows = Vec::new();
        for thread_id in talk.loaded().await?.into_iter().take(MOST_READ) {
            let read = ThreadReadParams {
                thread_id,
                include_turns: false,
            };
            // A thread let go between the list and the read is passed over.
            match talk.ask::<_, ThreadResponse>(&read).await {
                Ok(answer) => rows.extend(row_of(answer.thread)),
                Err(TalkError::Refused { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        talk.close().await;
        Ok(rows)
    };
    tokio::time::timeout(ANSWERED_WITHIN, exchange)
        .await
        .map_err(|_| TalkError::TimedOut(ANSWERED_WITHIN.as_secs()))?
}

/// The conversations the person's own app-server holds open, when one runs; none when it
/// cannot be reached (said in the log).
pub async fn on_per_user_server() -> Vec<AgentRow> {
    let Some(socket) = crate::config::runtime::existing_default_socket() else {
        return Vec::new();
    };
    open_threads(&Target::Unix(socket))
        .await
        .unwrap_or_else(|e| {
            tracing::debug!("the per-user server's conversations: {e}");
            Vec::new()
        })
}

/// Where a thread stands, as the command center groups it.
pub fn state_of(status: &ThreadStatus) -> AgentState {
    match status {
        ThreadStatus::Active { active_flags }
            if active_flags.contains(&ActiveFlag::WaitingOnApproval) =>
        {
            AgentState::NeedsYou
        }
        ThreadStatus::Active { .. } => AgentState::Working,
        ThreadStatus::Idle => AgentState::Ready,
        _ => AgentState::Inactive,
    }
}

/// A thread the server holds open as a row opened there; none for one of no person's eyes (a
/// host's ephemeral thread, a side conversation).
fn row_of(thread: wire::Thread) -> Option<AgentRow> {
    if thread.ephemeral || thread.attached_to_thread_id.is_some() {
        return None;
    }
    let state = state_of(&thread.status);
    let path = thread.agent_path().map(str::to_string);
    let mut row = AgentRow::saved(session_summary(thread)?, state);
    // An agent's thread is previewed by its path and task: the path is said once.
    if let Some(task) = path
        .as_deref()
        .and_then(|path| row.title.strip_prefix(path)?.strip_prefix(": "))
    {
        row.title = task.to_string();
    }
    row.path = path;
    // Its file (the server's session, on this machine) stays for its last line; opening it
    // goes to the server, never resumes it here.
    row.on_server = true;
    Some(row)
}
