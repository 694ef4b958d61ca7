//! Turns a [`Reply`] (or a [`JsonReply`]) into an HTTP response; streamed replies become real
//! Responses API SSE.
//!
//! Events are generated lazily (a 1 MiB reply is 65 536 deltas) and written by a task through a
//! small channel, coalesced into 64 KiB chunks unless the reply asks for a delay between events.

use std::io;
use std::iter;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::{Body as HttpBody, Bytes};
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::reply::{Body, Ending, Item, JsonReply, Reply, Stream, Usage};

/// Flush threshold when no delay is asked for.
const CHUNK_BYTES: usize = 64 * 1024;

/// When streamed replies last wrote a text delta and last ended, so a benchmark can time what
/// happens after the last byte.
#[derive(Debug, Default)]
pub struct StreamClock {
    last_delta: Mutex<Option<Instant>>,
    last_end: Mutex<Option<Instant>>,
}

impl StreamClock {
    /// The instant a chunk holding an `output_text.delta` was last handed to the HTTP server.
    pub fn last_delta(&self) -> Option<Instant> {
        *self
            .last_delta
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The instant a streamed reply last handed its final chunk to the HTTP server.
    pub fn last_end(&self) -> Option<Instant> {
        *self.last_end.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stamp(slot: &Mutex<Option<Instant>>) {
        *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    }
}

/// One step of a stream: an event to send, or an abrupt ending.
enum Frame {
    Event(Value),
    Cut,
    Stall,
}

type Frames = Box<dyn Iterator<Item = Frame> + Send>;

/// The HTTP response for `reply`; `model` is echoed in the `response` objects.
pub fn respond(
    reply: Reply,
    model: &str,
    shutdown: CancellationToken,
    clock: Arc<StreamClock>,
) -> Response {
    let Reply {
        body,
        headers,
        delay,
    } = reply;
    let (mut all_headers, body) = match body {
        Body::Json(json_reply) => {
            let mut response = json_reply.into_response();
            append_headers(&mut response, headers);
            return response;
        }
        Body::RawSse(raw) => (sse_headers(), HttpBody::from(raw)),
        Body::Sse(mut stream) => {
            let (tx, mut rx) = mpsc::channel(1);
            let injections = std::mem::take(&mut stream.injections);
            let frames = frames(stream, model);
            tokio::spawn(pump(frames, injections, delay, tx, shutdown, clock));
            let chunks = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
            (sse_headers(), HttpBody::from_stream(chunks))
        }
    };
    all_headers.extend(headers);
    let mut response = Response::new(body);
    append_headers(&mut response, all_headers);
    response
}

impl IntoResponse for JsonReply {
    fn into_response(self) -> Response {
        let mut response = super::json_reply(self.status, self.body);
        append_headers(&mut response, self.headers);
        response
    }
}

fn sse_headers() -> Vec<(String, String)> {
    vec![
        (
            "content-type".to_string(),
            "text/event-stream; charset=utf-8".to_string(),
        ),
        ("cache-control".to_string(), "no-cache".to_string()),
        (
            "x-request-id".to_string(),
            format!("req_{}", uuid::Uuid::new_v4().simple()),
        ),
    ]
}

fn append_headers(response: &mut Response, headers: Vec<(String, String)>) {
    for (name, value) in headers {
        response.headers_mut().append(
            HeaderName::try_from(name).expect("a valid header name"),
            HeaderValue::try_from(value).expect("a valid header value"),
        );
    }
}

/// Writes the frames as SSE, honouring delay, injections and abrupt endings. Stops as soon as
/// the client is gone or the fake shuts down.
async fn pump(
    frames: Frames,
    mut injections: Vec<(usize, String)>,
    delay: Duration,
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
    shutdown: CancellationToken,
    clock: Arc<StreamClock>,
) {
    let mut pending = Pending {
        delta: false,
        clock: &clock,
    };
    injections.sort_by_key(|(after, _)| *after);
    let mut injections = injections.into_iter().peekable();
    let mut buf = String::new();
    let mut sent = 0usize;
    while let Some((_, raw)) = injections.next_if(|(after, _)| *after == 0) {
        buf.push_str(&raw);
    }
    for frame in frames {
        if !delay.is_zero() {
            if !pending.flush(&tx, &mut buf).await {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = shutdown.cancelled() => return,
                () = tx.closed() => return,
            }
        }
        match frame {
            Frame::Event(mut event) => {
                let kind = event["type"].as_str().unwrap_or("message").to_string();
                event["sequence_number"] = json!(sent);
                buf.push_str("event: ");
                buf.push_str(&kind);
                buf.push_str("\ndata: ");
                buf.push_str(&event.to_string());
                buf.push_str("\n\n");
                sent += 1;
                pending.delta |= kind == "response.output_text.delta";
                while let Some((_, raw)) = injections.next_if(|(after, _)| *after <= sent) {
                    buf.push_str(&raw);
                }
            }
            Frame::Cut => {
                if !pending.flush(&tx, &mut buf).await {
                    return;
                }
                // The channel holds one chunk: once there is room again the server has taken the
                // last data. hyper drops what it has not flushed when a body fails, so pause long
                // enough for that data to reach the socket even on a busy machine.
                let Ok(permit) = tx.reserve().await else {
                    return;
                };
                tokio::time::sleep(Duration::from_millis(25)).await;
                permit.send(Err(io::Error::other("stream cut by the fake server")));
                return;
            }
            Frame::Stall => {
                if pending.flush(&tx, &mut buf).await {
                    tokio::select! {
                        () = shutdown.cancelled() => {}
                        () = tx.closed() => {}
                    }
                }
                return;
            }
        }
        if buf.len() >= CHUNK_BYTES && !pending.flush(&tx, &mut buf).await {
            return;
        }
        if shutdown.is_cancelled() {
            return;
        }
    }
    for (_, raw) in injections {
        buf.push_str(&raw);
    }
    if pending.flush(&tx, &mut buf).await {
        StreamClock::stamp(&clock.last_end);
    }
}

/// Whether the buffer holds a text delta not yet handed over, for [`StreamClock`].
struct Pending<'a> {
    delta: bool,
    clock: &'a StreamClock,
}

impl Pending<'_> {
    /// [`flush`], stamping the clock when a text delta went out.
    async fn flush(
        &mut self,
        tx: &mpsc::Sender<Result<Bytes, io::Error>>,
        buf: &mut String,
    ) -> bool {
        let sent = flush(tx, buf).await;
        if sent && std::mem::take(&mut self.delta) {
            StreamClock::stamp(&self.clock.last_delta);
        }
        sent
    }
}

/// Sends what is buffered; false when the client is gone.
async fn flush(tx: &mpsc::Sender<Result<Bytes, io::Error>>, buf: &mut String) -> bool {
    if buf.is_empty() {
        return true;
    }
    let chunk = Bytes::from(std::mem::take(buf));
    tx.send(Ok(chunk)).await.is_ok()
}

/// Every event of `stream`, in wire order.
fn frames(stream: Stream, model: &str) -> Frames {
    let response_id = format!("resp_fake_{}", uuid::Uuid::new_v4().simple());
    let created_at = super::now_ms() / 1000;
    let model = model.to_string();
    let response = move |status: &str| {
        json!({
            "id": response_id, "object": "response", "created_at": created_at,
            "status": status, "model": model, "output": [], "usage": null
        })
    };
    let Stream {
        items,
        ending,
        usage,
        delta_chars,
        ..
    } = stream;
    let items: Arc<[(String, Item)]> = items
        .into_iter()
        .enumerate()
        .map(|(index, item)| (item_id(index, &item), item))
        .collect();
    let abrupt = ending.is_abrupt();
    let head = [
        json!({"type": "response.created", "response": response("in_progress")}),
        json!({"type": "response.in_progress", "response": response("in_progress")}),
    ];
    let last = items.len().saturating_sub(1);
    let body_items = Arc::clone(&items);
    let body = (0..items.len()).flat_map(move |index| {
        let (id, item) = &body_items[index];
        item_events(index, id, item, delta_chars, abrupt && index == last)
    });
    let final_response = response.clone();
    let tail = iter::once_with(move || {
        let output =
            || -> Vec<Value> { items.iter().map(|(id, item)| done_item(id, item)).collect() };
        let mut done = final_response("completed");
        match ending {
            Ending::Completed => {
                done["output"] = json!(output());
                done["usage"] = usage_json(usage.unwrap_or_else(|| estimate_usage(&items)));
                Some(Frame::Event(
                    json!({"type": "response.completed", "response": done}),
                ))
            }
            Ending::Failed { code, message } => {
                done["status"] = json!("failed");
                done["output"] = json!(output());
                done["error"] = json!({"code": code, "message": message});
                Some(Frame::Event(
                    json!({"type": "response.failed", "response": done}),
                ))
            }
            Ending::Incomplete { reason } => {
                done["status"] = json!("incomplete");
                done["output"] = json!(output());
                done["incomplete_details"] = json!({"reason": reason});
                done["usage"] = usage_json(usage.unwrap_or_else(|| estimate_usage(&items)));
                Some(Frame::Event(
                    json!({"type": "response.incomplete", "response": done}),
                ))
            }
            Ending::ErrorEvent { code, message } => Some(Frame::Event(
                json!({"type": "error", "code": code, "message": message, "param": null}),
            )),
            Ending::Close => None,
            Ending::Cut => Some(Frame::Cut),
            Ending::Stall => Some(Frame::Stall),
        }
    })
    .flatten();
    Box::new(head.into_iter().chain(body).map(Frame::Event).chain(tail))
}

fn item_id(index: usize, item: &Item) -> String {
    let prefix = match item {
        Item::Message { .. } => "msg",
        Item::Reasoning { .. } => "rs",
        Item::Call { .. } => "fc",
        Item::WebSearch { .. } => "ws",
    };
    format!("{prefix}_fake_{index}_{}", uuid::Uuid::new_v4().simple())
}

/// The events of one output item; `truncated` leaves out everything after the deltas.
fn item_events(
    index: usize,
    id: &str,
    item: &Item,
    delta_chars: Option<usize>,
    truncated: bool,
) -> Box<dyn Iterator<Item = Value> + Send> {
    let id = id.to_string();
    let (added, text, delta_type, start, finish): (Value, Arc<str>, &str, Vec<Value>, Vec<Value>) =
        match item {
            // No deltas: the server searches, saying where it stands.
            Item::WebSearch { .. } => (
                json!({"id": id, "type": "web_search_call", "status": "in_progress"}),
                Arc::from(""),
                "",
                ["in_progress", "searching"]
                    .iter()
                    .map(|stage| {
                        json!({
                            "type": format!("response.web_search_call.{stage}"),
                            "item_id": id, "output_index": index
                        })
                    })
                    .collect(),
                vec![json!({
                    "type": "response.web_search_call.completed", "item_id": id,
                    "output_index": index
                })],
            ),
            Item::Message { text } => (
                json!({"id": id, "type": "message", "status": "in_progress", "content": [], "role": "assistant"}),
                Arc::clone(text),
                "response.output_text.delta",
                vec![json!({
                    "type": "response.content_part.added", "item_id": id, "output_index": index,
                    "content_index": 0, "part": {"type": "output_text", "annotations": [], "text": ""}
                })],
                vec![
                    json!({
                        "type": "response.output_text.done", "item_id": id, "output_index": index,
                        "content_index": 0, "text": &**text
                    }),
                    json!({
                        "type": "response.content_part.done", "item_id": id, "output_index": index,
                        "content_index": 0,
                        "part": {"type": "output_text", "annotations": [], "text": &**text}
                    }),
                ],
            ),
            Item::Reasoning { summary, .. } => (
                json!({"id": id, "type": "reasoning", "summary": []}),
                Arc::clone(summary),
                "response.reasoning_summary_text.delta",
                vec![json!({
                    "type": "response.reasoning_summary_part.added", "item_id": id,
                    "output_index": index, "summary_index": 0,
                    "part": {"type": "summary_text", "text": ""}
                })],
                vec![
                    json!({
                        "type": "response.reasoning_summary_text.done", "item_id": id,
                        "output_index": index, "summary_index": 0, "text": &**summary
                    }),
                    json!({
                        "type": "response.reasoning_summary_part.done", "item_id": id,
                        "output_index": index, "summary_index": 0,
                        "part": {"type": "summary_text", "text": &**summary}
                    }),
                ],
            ),
            Item::Call {
                name,
                arguments,
                call_id,
                custom: false,
            } => (
                json!({
                    "id": id, "type": "function_call", "status": "in_progress",
                    "arguments": "", "call_id": call_id, "name": name
                }),
                Arc::clone(arguments),
                "response.function_call_arguments.delta",
                Vec::new(),
                vec![json!({
                    "type": "response.function_call_arguments.done", "item_id": id,
                    "output_index": index, "arguments": &**arguments
                })],
            ),
            Item::Call {
                name,
                arguments,
                call_id,
                custom: true,
            } => (
                json!({
                    "id": id, "type": "custom_tool_call", "status": "in_progress",
                    "input": "", "call_id": call_id, "name": name
                }),
                Arc::clone(arguments),
                "response.custom_tool_call_input.delta",
                Vec::new(),
                vec![json!({
                    "type": "response.custom_tool_call_input.done", "item_id": id,
                    "output_index": index, "input": &**arguments
                })],
            ),
        };
    let first = iter::once(
        json!({"type": "response.output_item.added", "output_index": index, "item": added}),
    )
    .chain(start);
    let position = match item {
        Item::Message { .. } => json!({"content_index": 0}),
        Item::Reasoning { .. } => json!({"summary_index": 0}),
        Item::Call { .. } | Item::WebSearch { .. } => json!({}),
    };
    let delta_id = id.clone();
    let delta_text = Arc::clone(&text);
    let deltas = Deltas::new(text, delta_chars).map(move |range| {
        let mut event = json!({
            "type": delta_type, "item_id": delta_id, "output_index": index,
            "delta": &delta_text[range]
        });
        for (key, value) in position.as_object().expect("an object") {
            event[key] = value.clone();
        }
        event
    });
    if truncated {
        return Box::new(first.chain(deltas));
    }
    let done = json!({"type": "response.output_item.done", "output_index": index, "item": done_item(&id, item)});
    Box::new(first.chain(deltas).chain(finish).chain(iter::once(done)))
}

/// The authoritative item, as in `response.output_item.done` and `response.output`.
fn done_item(id: &str, item: &Item) -> Value {
    match item {
        Item::WebSearch { query } => json!({
            "id": id, "type": "web_search_call", "status": "completed",
            "action": {"type": "search", "query": query, "sources": [
                {"type": "url", "url": "https://example.com/search-result"}
            ]}
        }),
        Item::Message { text } => json!({
            "id": id, "type": "message", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "annotations": [], "text": &**text}]
        }),
        Item::Reasoning {
            summary,
            encrypted_content,
        } => json!({
            "id": id, "type": "reasoning",
            "summary": [{"type": "summary_text", "text": &**summary}],
            "encrypted_content": encrypted_content
        }),
        Item::Call {
            name,
            arguments,
            call_id,
            custom: false,
        } => {
            let mut call = json!({
                "id": id, "type": "function_call", "status": "completed",
                "arguments": &**arguments, "call_id": call_id, "name": name
            });
            // Codex's collaboration tools are offered in a namespace, which the call names.
            if kelp::tools::collab::NAMES.contains(&name.as_str()) {
                call["namespace"] = json!("collaboration");
            }
            call
        }
        Item::Call {
            name,
            arguments,
            call_id,
            custom: true,
        } => json!({
            "id": id, "type": "custom_tool_call", "status": "completed",
            "input": &**arguments, "call_id": call_id, "name": name
        }),
    }
}

fn usage_json(usage: Usage) -> Value {
    json!({
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.input_tokens + usage.output_tokens
    })
}

/// 100 input tokens and one output token per 4 characters.
fn estimate_usage(items: &[(String, Item)]) -> Usage {
    let tokens = |chars: usize| (chars as u64).div_ceil(4);
    let mut output = 0;
    let mut reasoning = 0;
    for (_, item) in items {
        match item {
            Item::Message { text } => output += tokens(text.len()),
            Item::Call { arguments, .. } => output += tokens(arguments.len()),
            Item::Reasoning { summary, .. } => reasoning += tokens(summary.len()),
            Item::WebSearch { query } => output += tokens(query.len()),
        }
    }
    Usage {
        input_tokens: 100,
        cached_tokens: 0,
        output_tokens: output + reasoning,
        reasoning_tokens: reasoning,
    }
}

/// Byte ranges of the deltas of `text`: `chars` characters each, or one word (with its trailing
/// whitespace) each.
struct Deltas {
    text: Arc<str>,
    pos: usize,
    chars: Option<usize>,
}

impl Deltas {
    fn new(text: Arc<str>, chars: Option<usize>) -> Self {
        Self {
            text,
            pos: 0,
            chars,
        }
    }
}

impl Iterator for Deltas {
    type Item = std::ops::Range<usize>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = &self.text[self.pos..];
        if rest.is_empty() {
            return None;
        }
        let len = match self.chars {
            Some(chars) => rest
                .char_indices()
                .nth(chars)
                .map_or(rest.len(), |(i, _)| i),
            None => {
                let word = rest
                    .char_indices()
                    .skip_while(|(_, c)| c.is_whitespace())
                    .find(|(_, c)| c.is_whitespace())
                    .map_or(rest.len(), |(i, _)| i);
                rest[word..]
                    .char_indices()
                    .find(|(_, c)| !c.is_whitespace())
                    .map_or(rest.len(), |(i, _)| word + i)
            }
        };
        let start = self.pos;
        self.pos += len;
        Some(start..self.pos)
    }
}
