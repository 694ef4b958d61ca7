//! `kelp queue`: one message left in a conversation's queue on an app-server, kelp's or
//! Codex's, over one short connection: the handshake (asking for the experimental API, where
//! the queue is), the conversation found by its name when it is not given by id, opened there
//! when asked (`thread/resume`), then `thread/queue/add`. The server sends the message when the
//! turn running there ends, at once when none runs.

use std::time::Duration;

use serde_json::Value;

use super::Target;
use super::talk::{Talk, TalkError};
use crate::secret::Secret;
use crate::wire::QueuedAnswer;
use crate::wire::requests::{ThreadQueueAddParams, ThreadResumeParams, UserInput};

/// How long the whole exchange may take.
const ANSWERED_WITHIN: Duration = Duration::from_secs(30);

/// A message left in a conversation's queue: its id there, and the conversation's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub id: String,
    pub thread: String,
}

/// Leaves `message` for the conversation `thread` (its id, or its exact name) on the server at
/// `target`, opening it there first with `resume`.
pub async fn leave_message(
    target: &Target,
    token: Option<&Secret>,
    thread: &str,
    message: &str,
    resume: bool,
) -> Result<Queued, TalkError> {
    let exchange = async {
        let mut talk = Talk::open(target, token, "kelp queue").await?;
        let thread = match uuid::Uuid::parse_str(thread) {
            Ok(id) => id.to_string(),
            Err(_) => talk.named(thread).await?,
        };
        if resume {
            let open = ThreadResumeParams {
                thread_id: thread.clone(),
                ..ThreadResumeParams::default()
            };
            talk.ask::<_, Value>(&open).await?;
        } else if !talk.loaded().await?.contains(&thread) {
            return Err(TalkError::NotOpen(thread));
        }
        let add = ThreadQueueAddParams {
            thread_id: thread.clone(),
            input: UserInput::prompt(message, &[]),
            client_user_message_id: uuid::Uuid::new_v4().to_string(),
            responsesapi_client_metadata: None,
        };
        let answer: QueuedAnswer = talk.ask(&add).await?;
        talk.close().await;
        Ok(Queued {
            id: answer.queued_submission.id,
            thread,
        })
    };
    tokio::time::timeout(ANSWERED_WITHIN, exchange)
        .await
        .map_err(|_| TalkError::TimedOut(ANSWERED_WITHIN.as_secs()))?
}
