//! A loaded thread's queue of waiting messages (`thread/queue/*`), and [`dispatch`], the one way
//! a waiting message becomes a turn, for the queue's handlers (`queue.rs`) and for the turn's
//! path as a turn ends alike. Pure: no I/O, the caller sends what it makes.

use uuid::Uuid;

use super::shapes::{item_notes, prompt, turn_began, turn_starting};
use super::wire::{RpcError, now_ms};
use crate::protocol::Submission;
use crate::wire::{QueuedSubmission, ServerNotification, ThreadItem, ThreadQueueChanged, Turn};

/// The most messages one thread's queue holds, as in Codex.
pub const MAX_QUEUED: usize = 100;

/// A thread's waiting messages.
#[derive(Debug, Default)]
pub(super) struct Queue {
    pub(super) waiting: Vec<QueuedSubmission>,
    /// An interrupted turn holds the messages waiting then: none is sent until
    /// `thread/queue/start`, or a turn the person starts, or the queue empties.
    pub(super) paused: bool,
    /// Where each change goes to be kept on disk (`queue_file.rs`); none for a thread that is
    /// not saved.
    pub(super) keeper: Option<tokio::sync::watch::Sender<Vec<QueuedSubmission>>>,
}

/// A waiting message as the turn it starts now: what the thread's clients hear (the queue
/// changed, the thread active, `turn/started`, the person's message) and the prompt for the
/// core.
#[derive(Debug)]
pub(super) struct Dispatched {
    pub(super) turn: Turn,
    pub(super) notes: Vec<ServerNotification>,
    pub(super) submission: Submission,
}

/// Starts the waiting message `queued` as a turn of the thread `thread_id`, marking it running.
pub(super) fn dispatch(
    running_turn: &mut Option<String>,
    thread_id: &str,
    queued: QueuedSubmission,
) -> Result<Dispatched, RpcError> {
    let (text, images) = prompt(queued.input.clone())?;
    let turn_id = Uuid::new_v4().to_string();
    *running_turn = Some(turn_id.clone());
    let turn = turn_starting(turn_id.clone());
    let changed = ThreadQueueChanged {
        thread_id: thread_id.to_string(),
    };
    let (active, started) = turn_began(thread_id, turn.clone());
    let said = ThreadItem::UserMessage {
        id: queued.client_user_message_id.clone(),
        content: serde_json::to_value(&queued.input).unwrap_or_default(),
    };
    let mut notes: Vec<ServerNotification> = vec![changed.into(), active.into(), started.into()];
    notes.extend(item_notes(thread_id, &turn_id, said, now_ms()));
    Ok(Dispatched {
        turn,
        notes,
        submission: Submission {
            text,
            images,
            output_schema: None,
            turn_id: Some(turn_id),
            from_kelp: false,
        },
    })
}

impl Queue {
    /// A queue holding what a server that stopped left waiting (held: the turn it waited for
    /// was cut), kept through `keeper` from now on.
    pub(super) fn restored(
        waiting: Vec<QueuedSubmission>,
        keeper: Option<tokio::sync::watch::Sender<Vec<QueuedSubmission>>>,
    ) -> Self {
        Self {
            paused: !waiting.is_empty(),
            waiting,
            keeper,
        }
    }

    /// The queue changed: its keeper is given the new state.
    pub(super) fn kept(&self) {
        if let Some(keeper) = &self.keeper {
            keeper.send_replace(self.waiting.clone());
        }
    }

    /// The next waiting message, sent as the turn that ended leaves the thread idle (no
    /// `running_turn`); none when the queue is empty or paused (`interrupted`: the turn was
    /// stopped, which pauses it).
    pub(super) fn next_after_turn(
        &mut self,
        running_turn: &mut Option<String>,
        thread_id: &str,
        interrupted: bool,
    ) -> Option<Dispatched> {
        // An interrupt holds what waits then; with nothing waiting there is nothing to hold.
        if interrupted && !self.waiting.is_empty() {
            self.paused = true;
        }
        if self.paused || running_turn.is_some() || self.waiting.is_empty() {
            return None;
        }
        let queued = self.waiting.remove(0);
        self.kept();
        dispatch(running_turn, thread_id, queued)
            .map_err(|e| tracing::warn!(error = %e.message, "a queued message could not be sent"))
            .ok()
    }
}
