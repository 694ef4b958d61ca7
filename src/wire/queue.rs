//! `thread/queue/*` (Codex's experimental message queue): messages that wait for a thread's turn
//! to end and are each sent as a turn of their own, and the notification that the queue changed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Notification;
use super::requests::{Request, UserInput};

/// Declares the queue's requests, each params type with its method.
macro_rules! queue_requests {
    ($($name:ident = $method:literal),* $(,)?) => {
        $(impl Request for $name {
            const METHOD: &'static str = $method;
        })*
    };
}

queue_requests! {
    ThreadQueueAddParams = "thread/queue/add",
    ThreadQueueListParams = "thread/queue/list",
    ThreadQueueUpdateParams = "thread/queue/update",
    ThreadQueueDeleteParams = "thread/queue/delete",
    ThreadQueueReorderParams = "thread/queue/reorder",
    ThreadQueueStartParams = "thread/queue/start",
}

/// `thread/queue/add`: a message for the thread, sent when its turn ends (at once when idle).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadQueueAddParams {
    pub thread_id: String,
    pub input: Vec<UserInput>,
    pub client_user_message_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responsesapi_client_metadata: Option<BTreeMap<String, String>>,
}

/// `thread/queue/list`: the messages waiting, a page at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadQueueListParams {
    pub thread_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `thread/queue/update`: a waiting message's input replaced (its metadata too, when given
/// and not empty).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadQueueUpdateParams {
    pub thread_id: String,
    pub queued_submission_id: String,
    pub input: Vec<UserInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responsesapi_client_metadata: Option<BTreeMap<String, String>>,
}

/// `thread/queue/delete`: a waiting message dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadQueueDeleteParams {
    pub thread_id: String,
    pub queued_submission_id: String,
}

/// `thread/queue/reorder`: the waiting messages in a new order, every one named once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadQueueReorderParams {
    pub thread_id: String,
    pub queued_submission_ids: Vec<String>,
}

/// `thread/queue/start`: a waiting message (the first, when none is named) sent now, on an
/// idle thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadQueueStartParams {
    pub thread_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_submission_id: Option<String>,
}

/// A message waiting in a thread's queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuedSubmission {
    pub id: String,
    pub input: Vec<UserInput>,
    pub client_user_message_id: String,
    /// Kept with the message and given back as it was (Codex sends it with the request).
    #[serde(default)]
    pub responsesapi_client_metadata: Option<BTreeMap<String, String>>,
}

/// `thread/queue/add` and `thread/queue/update`'s answer: the message as it waits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuedAnswer {
    pub queued_submission: QueuedSubmission,
}

/// `thread/queue/delete`'s answer: whether it was still waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueDeleted {
    pub deleted: bool,
}

notification!(
    /// A thread's queue changed: a message added, edited, dropped, moved, or sent.
    ThreadQueueChanged = "thread/queue/changed" {
        thread_id: String,
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::requests::UserInput;
    use crate::wire::{ListPage, Turn, TurnResponse, TurnStatus, fits, read_answer_fits_in};

    fn waiting() -> QueuedSubmission {
        QueuedSubmission {
            id: "q1".into(),
            input: UserInput::prompt("then run the tests", &[]),
            client_user_message_id: "m1".into(),
            responsesapi_client_metadata: Some(BTreeMap::from([("k".into(), "v".into())])),
        }
    }

    #[test]
    fn every_queue_shape_fits_codexs_schema_and_reads_back() {
        let queue = "0.171.0/v2";
        let answer = QueuedAnswer {
            queued_submission: waiting(),
        };
        read_answer_fits_in(queue, "ThreadQueueAddResponse.json", &answer);
        read_answer_fits_in(queue, "ThreadQueueUpdateResponse.json", &answer);
        let bare = QueuedSubmission {
            responsesapi_client_metadata: None,
            ..waiting()
        };
        let listed = ListPage {
            data: vec![waiting(), bare],
            next_cursor: Some("2".into()),
            backwards_cursor: None,
        };
        crate::wire::answer_fits_in(queue, "ThreadQueueListResponse.json", &listed);
        read_answer_fits_in(
            queue,
            "ThreadQueueDeleteResponse.json",
            &QueueDeleted { deleted: true },
        );
        let started = TurnResponse {
            turn: Turn::new("u", TurnStatus::InProgress),
        };
        read_answer_fits_in(queue, "ThreadQueueStartResponse.json", &started);
        crate::wire::answer_fits_in(
            queue,
            "ThreadQueueReorderResponse.json",
            &crate::wire::Empty {},
        );
        let add = ThreadQueueAddParams {
            thread_id: "t".into(),
            input: waiting().input,
            client_user_message_id: "m1".into(),
            responsesapi_client_metadata: None,
        };
        read_answer_fits_in(queue, "ThreadQueueAddParams.json", &add);
        let update = ThreadQueueUpdateParams {
            thread_id: "t".into(),
            queued_submission_id: "q1".into(),
            input: waiting().input,
            responsesapi_client_metadata: Some(BTreeMap::new()),
        };
        read_answer_fits_in(queue, "ThreadQueueUpdateParams.json", &update);
        let list = ThreadQueueListParams {
            thread_id: "t".into(),
            cursor: Some("2".into()),
            limit: Some(10),
        };
        read_answer_fits_in(queue, "ThreadQueueListParams.json", &list);
        let delete = ThreadQueueDeleteParams {
            thread_id: "t".into(),
            queued_submission_id: "q1".into(),
        };
        read_answer_fits_in(queue, "ThreadQueueDeleteParams.json", &delete);
        let reorder = ThreadQueueReorderParams {
            thread_id: "t".into(),
            queued_submission_ids: vec!["q2".into(), "q1".into()],
        };
        read_answer_fits_in(queue, "ThreadQueueReorderParams.json", &reorder);
        let start = ThreadQueueStartParams {
            thread_id: "t".into(),
            queued_submission_id: None,
        };
        read_answer_fits_in(queue, "ThreadQueueStartParams.json", &start);
        fits(
            ThreadQueueChanged {
                thread_id: "t".into(),
            }
            .into_message(),
        );
    }
}
