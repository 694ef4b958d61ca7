//! `kelp queue`: one message left in a conversation's queue on an app-server, kelp's or
//! Codex's, over one short connection: the handshake (asking for the experimental API, where
//! the queue is), the conversation found by its name when it is not given by id, opened there
//! when asked (`thread/resume`), then `thread/queue/add`. The server sends the message when the
//! turn running there ends, at once when none runs.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::{Connection, Target, connect};
use crate::jsonrpc::Incoming;
use crate::secret::Secret;
use crate::wire::requests::{
    Capabilities, ClientInfo, InitializeParams, Request, ThreadListParams, ThreadLoadedListParams,
    ThreadQueueAddParams, ThreadResumeParams, UserInput,
};
use crate::wire::{ListPage, QueuedAnswer, Thread};

/// How long the whole exchange may take.
const ANSWERED_WITHIN: Duration = Duration::from_secs(30);

/// A message left in a conversation's queue: its id there, and the conversation's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub id: String,
    pub thread: String,
}

/// Why the message was not left, in words a person acts on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("{0}")]
    Unreachable(String),
    #[error("no conversation on the server is named {0:?}")]
    NoSuchThread(String),
    #[error(
        "the conversation {0} is not open on the server: --resume opens it there and sends the \
         message"
    )]
    NotOpen(String),
    #[error("the server refused {method}: {words}")]
    Refused { method: &'static str, words: String },
    #[error("the server closed the connection before it answered {0}")]
    Closed(&'static str),
    #[error("the server did not answer within {} s", ANSWERED_WITHIN.as_secs())]
    TimedOut,
}

/// Leaves `message` for the conversation `thread` (its id, or its exact name) on the server at
/// `target`, opening it there first with `resume`.
pub async fn leave_message(
    target: &Target,
    token: Option<&Secret>,
    thread: &str,
    message: &str,
    resume: bool,
) -> Result<Queued, QueueError> {
    let exchange = async {
        let socket = connect(target, token)
            .await
            .map_err(QueueError::Unreachable)?;
        let mut talk = Talk { socket, next_id: 0 };
        let hello = InitializeParams {
            client_info: ClientInfo {
                name: "kelp".to_string(),
                title: Some("kelp queue".to_string()),
                version: env!("CARGO_PKG_VERSION").to_string(),
            },
            capabilities: Some(Capabilities {
                experimental_api: true,
            }),
        };
        talk.ask::<_, Value>(&hello).await?;
        talk.say(json!({"jsonrpc": "2.0", "method": "initialized"}))
            .await?;
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
        } else if !talk.loaded(&thread).await? {
            return Err(QueueError::NotOpen(thread));
        }
        let add = ThreadQueueAddParams {
            thread_id: thread.clone(),
            input: UserInput::prompt(message, &[]),
            client_user_message_id: uuid::Uuid::new_v4().to_string(),
            responsesapi_client_metadata: None,
        };
        let answer: QueuedAnswer = talk.ask(&add).await?;
        let _ = talk.socket.close(None).await;
        Ok(Queued {
            id: answer.queued_submission.id,
            thread,
        })
    };
    tokio::time::timeout(ANSWERED_WITHIN, exchange)
        .await
        .map_err(|_| QueueError::TimedOut)?
}

/// One connection's requests and their answers, in turn.
struct Talk {
    socket: Connection,
    next_id: u64,
}

impl Talk {
    async fn say(&mut self, message: Value) -> Result<(), QueueError> {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .map_err(|e| QueueError::Unreachable(e.to_string()))
    }

    /// Sends `params` as its method's request and reads its answer, passing over what the
    /// server says meanwhile.
    async fn ask<R: Request, T: DeserializeOwned>(&mut self, params: &R) -> Result<T, QueueError> {
        self.next_id += 1;
        let id = self.next_id;
        self.say(json!({"jsonrpc": "2.0", "id": id, "method": R::METHOD, "params": params}))
            .await?;
        loop {
            let text = match self.socket.next().await {
                Some(Ok(Message::Text(text))) => text.to_string(),
                Some(Ok(Message::Binary(bytes))) => String::from_utf8_lossy(&bytes).into_owned(),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    return Err(QueueError::Closed(R::METHOD));
                }
                Some(Ok(_)) => continue,
            };
            let Ok(Incoming::Response {
                id: answered,
                result,
            }) = crate::jsonrpc::parse_line(&text)
            else {
                continue;
            };
            if answered.as_u64() != Some(id) {
                continue;
            }
            let refused = |words: String| QueueError::Refused {
                method: R::METHOD,
                words,
            };
            return match result {
                Ok(result) => serde_json::from_value(result).map_err(|e| refused(e.to_string())),
                Err(error) => Err(refused(
                    error
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("no reason given")
                        .to_string(),
                )),
            };
        }
    }

    /// The id of the conversation named exactly `name`, of all the server lists, page by page.
    async fn named(&mut self, name: &str) -> Result<String, QueueError> {
        let mut cursor = None;
        loop {
            let list = ThreadListParams {
                limit: Some(100),
                cursor: cursor.take(),
                ..ThreadListParams::default()
            };
            let page: ListPage<Thread> = self.ask(&list).await?;
            let found = page
                .data
                .into_iter()
                .find(|thread| thread.name.as_ref().and_then(Option::as_deref) == Some(name));
            match (found, page.next_cursor) {
                (Some(thread), _) => return Ok(thread.id),
                (None, Some(next)) => cursor = Some(next),
                (None, None) => return Err(QueueError::NoSuchThread(name.to_string())),
            }
        }
    }

    /// Whether the server holds the conversation `id` open (`thread/loaded/list`).
    async fn loaded(&mut self, id: &str) -> Result<bool, QueueError> {
        let mut cursor = None;
        loop {
            let list = ThreadLoadedListParams {
                cursor: cursor.take(),
                limit: None,
            };
            let page: ListPage<String> = self.ask(&list).await?;
            if page.data.iter().any(|loaded| loaded == id) {
                return Ok(true);
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(false),
            }
        }
    }
}
