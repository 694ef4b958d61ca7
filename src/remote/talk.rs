//! One short exchange with an app-server, kelp's or Codex's: the handshake (asking for the
//! experimental API), requests answered in turn (what the server says meanwhile passed over),
//! and the lookups `kelp queue` and the command center share: a thread by its name, the threads
//! the server holds open.

use futures_util::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::{Connection, Target, connect};
use crate::jsonrpc::Incoming;
use crate::secret::Secret;
use crate::wire::ListPage;
use crate::wire::Thread;
use crate::wire::requests::{
    Capabilities, ClientInfo, InitializeParams, Request, ThreadListParams, ThreadLoadedListParams,
};

/// Why an exchange with the server came to nothing, in words a person acts on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TalkError {
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
    #[error("the server did not answer within {0} s")]
    TimedOut(u64),
}

/// One connection's requests and their answers, in turn.
pub(super) struct Talk {
    pub(super) socket: Connection,
    next_id: u64,
}

impl Talk {
    /// Connects to `target` and shakes hands as `title`.
    pub(super) async fn open(
        target: &Target,
        token: Option<&Secret>,
        title: &str,
    ) -> Result<Self, TalkError> {
        let socket = connect(target, token)
            .await
            .map_err(TalkError::Unreachable)?;
        let mut talk = Talk { socket, next_id: 0 };
        let hello = InitializeParams {
            client_info: ClientInfo {
                name: "kelp".to_string(),
                title: Some(title.to_string()),
                version: env!("CARGO_PKG_VERSION").to_string(),
            },
            capabilities: Some(Capabilities {
                experimental_api: true,
            }),
        };
        talk.ask::<_, Value>(&hello).await?;
        talk.say(json!({"jsonrpc": "2.0", "method": "initialized"}))
            .await?;
        Ok(talk)
    }

    /// Ends the exchange.
    pub(super) async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }

    async fn say(&mut self, message: Value) -> Result<(), TalkError> {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .map_err(|e| TalkError::Unreachable(e.to_string()))
    }

    /// Sends `params` as its method's request and reads its answer, passing over what the
    /// server says meanwhile.
    pub(super) async fn ask<R: Request, T: DeserializeOwned>(
        &mut self,
        params: &R,
    ) -> Result<T, TalkError> {
        self.next_id += 1;
        let id = self.next_id;
        self.say(json!({"jsonrpc": "2.0", "id": id, "method": R::METHOD, "params": params}))
            .await?;
        loop {
            let text = match self.socket.next().await {
                Some(Ok(Message::Text(text))) => text.to_string(),
                Some(Ok(Message::Binary(bytes))) => String::from_utf8_lossy(&bytes).into_owned(),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    return Err(TalkError::Closed(R::METHOD));
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
            let refused = |words: String| TalkError::Refused {
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
    pub(super) async fn named(&mut self, name: &str) -> Result<String, TalkError> {
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
                (None, None) => return Err(TalkError::NoSuchThread(name.to_string())),
            }
        }
    }

    /// The ids of the threads the server holds open (`thread/loaded/list`), every page.
    pub(super) async fn loaded(&mut self) -> Result<Vec<String>, TalkError> {
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let list = ThreadLoadedListParams {
                cursor: cursor.take(),
                limit: None,
            };
            let page: ListPage<String> = self.ask(&list).await?;
            all.extend(page.data);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(all),
            }
        }
    }
}
