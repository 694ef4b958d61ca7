//! `thread/queue/*` (Codex's experimental message queue): the answers about messages that wait
//! for a thread's turn to end, each sent as a turn of its own, and the notification that the
//! queue changed. Its requests' params are in `requests.rs` with the rest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Notification;
use super::requests::UserInput;

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
    use crate::wire::requests::{
        ThreadQueueAddParams, ThreadQueueDeleteParams, ThreadQueueListParams,
        ThreadQueueReorderParams, ThreadQueueStartParams, ThreadQueueUpdateParams, UserInput,
    };
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
