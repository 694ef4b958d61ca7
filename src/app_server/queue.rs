//! `thread/queue/*` (Codex's experimental message queue): messages from a host or `kelp queue`
//! wait in a loaded thread's queue and each is sent as a turn of its own when the turn before it
//! ends, or at once on an idle thread. An interrupted turn pauses the queue until
//! `thread/queue/start`. The queue lives with the loaded thread, beside its running turn, which
//! the handlers and the turn's path share (`queued.rs` holds it and its dispatch); each change
//! is handed to its keeper (`queue_file.rs`), so a server that stops loses none of it.

use serde_json::Value;
use uuid::Uuid;

use super::queued::{Dispatched, MAX_QUEUED, dispatch};
use super::shapes::prompt;
use super::turns::{Find, Thread};
use super::wire::{Answer, Page, RpcError, params};
use crate::protocol::Op;
use crate::wire::requests::UserInput;
use crate::wire::requests::{
    ThreadQueueAddParams, ThreadQueueDeleteParams, ThreadQueueListParams, ThreadQueueReorderParams,
    ThreadQueueStartParams, ThreadQueueUpdateParams,
};
use crate::wire::{
    Empty, ListPage, QueueDeleted, QueuedAnswer, QueuedSubmission, ThreadQueueChanged, Turn,
    TurnResponse,
};

/// A list's page when the host names none.
const PAGE: usize = 50;

/// A queue request's params and the loaded thread it names, for a client that asked for the
/// experimental API.
pub(super) fn asked<'a, P: serde::de::DeserializeOwned>(
    method: &str,
    raw: Value,
    allowed: bool,
    find: impl Find<'a>,
) -> Result<(P, &'a Thread), RpcError> {
    super::wire::experimental_only(method, allowed)?;
    let id = raw
        .get("threadId")
        .and_then(Value::as_str)
        .map(str::to_string);
    let p: P = params(raw)?;
    Ok((p, find(&id.unwrap_or_default())?))
}

/// The thread's running turn and queue, held.
fn held(thread: &Thread) -> std::sync::MutexGuard<'_, super::turn_path::Running> {
    thread
        .running
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the thread's clients hear after an answer: the queue changed.
fn changed(answer: Answer, thread: &Thread, thread_id: &str) -> Answer {
    answer
        .notify(ThreadQueueChanged {
            thread_id: thread_id.to_string(),
        })
        .heard_by(thread.heard_by())
}

/// An answer that started `dispatched` on `thread`: the notes, then the prompt to the core.
fn started(answer: Answer, thread: &Thread, dispatched: Dispatched) -> Answer {
    let mut answer = answer
        .heard_by(thread.heard_by())
        .every_client(thread.everyone.clone());
    for note in dispatched.notes {
        let (method, params) = note.into_message();
        answer = answer.then(method, params);
    }
    let ops = thread.ops.clone();
    let submission = dispatched.submission;
    answer.after(move || {
        let _ = ops.send(Op::Submit(submission));
    })
}

/// A message's input as kelp can send it: not empty, and of kinds a prompt takes.
fn checked_input(input: Vec<UserInput>) -> Result<Vec<UserInput>, RpcError> {
    if input.is_empty() {
        return Err(RpcError::invalid_request(
            "only user input can be added to the user-message queue",
        ));
    }
    prompt(input.clone())?;
    Ok(input)
}

/// `thread/queue/add`: the message waits; on an idle thread it is sent at once.
pub fn add<'a>(raw: Value, allowed: bool, find: impl Find<'a>) -> Result<Answer, RpcError> {
    let (p, thread): (ThreadQueueAddParams, _) = asked("thread/queue/add", raw, allowed, find)?;
    let queued = QueuedSubmission {
        id: Uuid::new_v4().to_string(),
        input: checked_input(p.input)?,
        client_user_message_id: p.client_user_message_id,
        responsesapi_client_metadata: p.responsesapi_client_metadata,
    };
    let answer = Answer::of(&QueuedAnswer {
        queued_submission: queued.clone(),
    })?;
    let mut running = held(thread);
    if running.queue.waiting.len() >= MAX_QUEUED {
        return Err(RpcError::invalid_request(format!(
            "queue cannot contain more than {MAX_QUEUED} submissions"
        )));
    }
    if running.queue.waiting.is_empty() {
        // Nothing was held back: an interrupt's hold ends with what it held.
        running.queue.paused = false;
    }
    let idle = running.turn_id.is_none() && !running.goal_goes_on();
    if idle && running.queue.waiting.is_empty() {
        let dispatched = dispatch(&mut running.turn_id, &p.thread_id, queued)?;
        return Ok(started(answer, thread, dispatched));
    }
    running.queue.waiting.push(queued);
    running.queue.kept();
    Ok(changed(answer, thread, &p.thread_id))
}

/// `thread/queue/list`: the messages waiting, in the order they will be sent.
pub fn list<'a>(raw: Value, allowed: bool, find: impl Find<'a>) -> Result<Answer, RpcError> {
    let (p, thread): (ThreadQueueListParams, _) = asked("thread/queue/list", raw, allowed, find)?;
    let page = Page::read(p.cursor.as_deref(), p.limit, PAGE).map_err(|_| {
        RpcError::invalid_request(format!(
            "invalid queue pagination cursor: {}",
            p.cursor.as_deref().unwrap_or_default()
        ))
    })?;
    let running = held(thread);
    let waiting = &running.queue.waiting;
    let data = waiting
        .iter()
        .skip(page.skip)
        .take(page.size)
        .cloned()
        .collect();
    Answer::of(&ListPage {
        data,
        next_cursor: page.next(page.skip.saturating_add(page.size) < waiting.len()),
        backwards_cursor: None,
    })
}

/// `thread/queue/update`: a waiting message's input replaced; its metadata too when given and
/// not empty.
pub fn update<'a>(raw: Value, allowed: bool, find: impl Find<'a>) -> Result<Answer, RpcError> {
    let (p, thread): (ThreadQueueUpdateParams, _) =
        asked("thread/queue/update", raw, allowed, find)?;
    let input = checked_input(p.input)?;
    let mut running = held(thread);
    let queued = waiting_one(&mut running.queue.waiting, &p.queued_submission_id)?;
    queued.input = input;
    if let Some(metadata) = p.responsesapi_client_metadata.filter(|m| !m.is_empty()) {
        queued.responsesapi_client_metadata = Some(metadata);
    }
    let answer = Answer::of(&QueuedAnswer {
        queued_submission: queued.clone(),
    })?;
    running.queue.kept();
    Ok(changed(answer, thread, &p.thread_id))
}

/// `thread/queue/delete`: a waiting message dropped; `false` for one not waiting (sent, or
/// never there).
pub fn delete<'a>(raw: Value, allowed: bool, find: impl Find<'a>) -> Result<Answer, RpcError> {
    let (p, thread): (ThreadQueueDeleteParams, _) =
        asked("thread/queue/delete", raw, allowed, find)?;
    let mut running = held(thread);
    let waiting = &mut running.queue.waiting;
    let before = waiting.len();
    waiting.retain(|queued| queued.id != p.queued_submission_id);
    let deleted = waiting.len() < before;
    if waiting.is_empty() {
        running.queue.paused = false;
    }
    running.queue.kept();
    Ok(changed(
        Answer::of(&QueueDeleted { deleted })?,
        thread,
        &p.thread_id,
    ))
}

/// `thread/queue/reorder`: the waiting messages in the order given, which names each once.
pub fn reorder<'a>(raw: Value, allowed: bool, find: impl Find<'a>) -> Result<Answer, RpcError> {
    let (p, thread): (ThreadQueueReorderParams, _) =
        asked("thread/queue/reorder", raw, allowed, find)?;
    let mut running = held(thread);
    let waiting = &mut running.queue.waiting;
    let mut asked = p.queued_submission_ids.clone();
    let mut held: Vec<&str> = waiting.iter().map(|queued| queued.id.as_str()).collect();
    asked.sort();
    held.sort_unstable();
    if asked.len() != held.len() || asked.iter().zip(&held).any(|(a, h)| a != h) {
        return Err(RpcError::invalid_request(
            "queue reorder must include every queued submission exactly once",
        ));
    }
    let mut old = std::mem::take(waiting);
    for id in &p.queued_submission_ids {
        if let Some(at) = old.iter().position(|queued| &queued.id == id) {
            waiting.push(old.swap_remove(at));
        }
    }
    running.queue.kept();
    Ok(changed(Answer::of(&Empty {})?, thread, &p.thread_id))
}

/// `thread/queue/start`: a waiting message (the first, when none is named) sent now on the
/// idle thread; the queue goes on from there.
pub fn start<'a>(raw: Value, allowed: bool, find: impl Find<'a>) -> Result<Answer, RpcError> {
    let (p, thread): (ThreadQueueStartParams, _) = asked("thread/queue/start", raw, allowed, find)?;
    let mut running = held(thread);
    if running.turn_id.is_some() || running.goal_goes_on() {
        return Err(RpcError::invalid_request(
            "thread already has an active or pending turn",
        ));
    }
    let at = match &p.queued_submission_id {
        None if running.queue.waiting.is_empty() => {
            return Err(RpcError::invalid_request("queue is empty"));
        }
        None => 0,
        Some(id) => position(&running.queue.waiting, id)?,
    };
    // Taken from the queue only once it is a turn: a message that cannot be sent stays.
    let queued = running.queue.waiting[at].clone();
    let dispatched = dispatch(&mut running.turn_id, &p.thread_id, queued)?;
    running.queue.waiting.remove(at);
    running.queue.paused = false;
    running.queue.kept();
    let answer = Answer::of(&TurnResponse {
        turn: Turn {
            items_view: Some("notLoaded".into()),
            ..dispatched.turn.clone()
        },
    })?;
    Ok(started(answer, thread, dispatched))
}

/// Where the waiting message `id` is.
fn position(waiting: &[QueuedSubmission], id: &str) -> Result<usize, RpcError> {
    waiting
        .iter()
        .position(|queued| queued.id == id)
        .ok_or_else(|| RpcError::invalid_request(format!("queued submission not found: {id}")))
}

/// The waiting message `id`, to change.
fn waiting_one<'a>(
    waiting: &'a mut [QueuedSubmission],
    id: &str,
) -> Result<&'a mut QueuedSubmission, RpcError> {
    let at = position(waiting, id)?;
    Ok(&mut waiting[at])
}
