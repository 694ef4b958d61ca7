//! What one `POST …/responses` answers: a scripted SSE stream or an HTTP error.
//!
//! A streamed reply is a list of output items (text, reasoning, function calls) sent with the real
//! Responses API event shapes, then an ending (`response.completed` unless told otherwise).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// A plain HTTP answer with a JSON body: used for errors on `/responses` and for scripted issuer
/// answers (refresh, device polls).
#[derive(Clone, Debug)]
pub struct JsonReply {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
}

impl JsonReply {
    /// `status` with `body` and no extra headers.
    pub fn new(status: u16, body: Value) -> Self {
        Self {
            status,
            body,
            headers: Vec::new(),
        }
    }

    /// Adds a response header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// 401 `refresh_token_expired`.
    pub fn refresh_token_expired() -> Self {
        refresh_error(
            "refresh_token_expired",
            "Your refresh token has expired. Please log out and sign in again.",
        )
    }

    /// 401 `refresh_token_invalidated` (revoked, e.g. after a password change).
    pub fn refresh_token_invalidated() -> Self {
        refresh_error(
            "refresh_token_invalidated",
            "Your refresh token has been invalidated. Please log out and sign in again.",
        )
    }

    /// 401 `refresh_token_reused` (another client rotated it first).
    pub fn refresh_token_reused() -> Self {
        refresh_error(
            "refresh_token_reused",
            "Your refresh token has already been used to generate a new access token. Please try signing in again.",
        )
    }

    /// 500 with an OpenAI-style error body.
    pub fn server_error() -> Self {
        Self::new(
            500,
            json!({"error": {
                "message": "The server had an error while processing your request. Sorry about that!",
                "type": "server_error", "param": null, "code": null
            }}),
        )
    }
}

fn refresh_error(code: &str, message: &str) -> JsonReply {
    JsonReply::new(
        401,
        json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}}),
    )
}

/// One scripted answer to `POST …/responses`. Build with the constructors, refine with the
/// `and_*` (more output items), `then_*` (how the stream ends) and option methods.
#[derive(Clone, Debug)]
pub struct Reply {
    pub(super) body: Body,
    pub(super) headers: Vec<(String, String)>,
    pub(super) delay: Duration,
}

#[derive(Clone, Debug)]
pub(super) enum Body {
    Json(JsonReply),
    Sse(Stream),
    RawSse(String),
}

/// The plan of a streamed reply.
#[derive(Clone, Debug, Default)]
pub(super) struct Stream {
    pub items: Vec<Item>,
    pub ending: Ending,
    /// Raw bytes written after the n-th event (0 = before the first one).
    pub injections: Vec<(usize, String)>,
    pub usage: Option<Usage>,
    /// Characters per text delta; `None` splits at word boundaries.
    pub delta_chars: Option<usize>,
}

#[derive(Clone, Debug)]
pub(super) enum Item {
    Message {
        text: Arc<str>,
    },
    Reasoning {
        summary: Arc<str>,
        encrypted_content: String,
    },
    Call {
        name: String,
        arguments: Arc<str>,
        call_id: String,
        /// A freeform tool's call (`custom_tool_call`): `arguments` is its raw input.
        custom: bool,
    },
    /// A search with the Responses API's own web search tool, for `query`.
    WebSearch {
        query: String,
    },
}

/// How a streamed reply ends.
#[derive(Clone, Debug, Default)]
pub(super) enum Ending {
    #[default]
    Completed,
    Failed {
        code: String,
        message: String,
    },
    Incomplete {
        reason: String,
    },
    ErrorEvent {
        code: String,
        message: String,
    },
    /// Clean end of the body (terminating chunk) without `response.completed`.
    Close,
    /// The connection is aborted mid-body.
    Cut,
    /// No more bytes, the connection stays open until the client leaves.
    Stall,
}

impl Ending {
    /// Abrupt endings stop right after the last delta: the last item is never `done`.
    pub fn is_abrupt(&self) -> bool {
        matches!(self, Ending::Close | Ending::Cut | Ending::Stall)
    }
}

/// Token counts reported in `response.completed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub cached_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
}

static NEXT_CALL_ID: AtomicU64 = AtomicU64::new(1);

fn fresh_call_id() -> String {
    format!("call_fake_{}", NEXT_CALL_ID.fetch_add(1, Ordering::Relaxed))
}

/// `arguments` as the wire carries them: a JSON string. A `Value::String` is taken verbatim so a
/// test can send arguments that do not parse.
fn arguments_string(arguments: Value) -> Arc<str> {
    match arguments {
        Value::String(raw) => raw.into(),
        other => other.to_string().into(),
    }
}

/// The default `encrypted_content` of a reasoning item: opaque to the client, but derived from
/// the summary so a test can predict what must be replayed.
pub fn encrypted_content_for(summary: &str) -> String {
    format!("gAAAAfake{}", URL_SAFE_NO_PAD.encode(summary))
}

/// A paragraph quoting `user_text`, a list and a fenced code block.
pub fn echo_markdown(user_text: &str) -> String {
    let quoted = match user_text.trim() {
        "" => "(nothing)",
        text => text,
    };
    format!(
        "You said: **{quoted}**\n\n\
         This answer comes from the fake OpenAI server, so you can try kelp without an account:\n\n\
         - it streams this reply in small deltas\n\
         - it echoes your last message\n\
         - it records every request it receives\n\n\
         ```rust\nfn main() {{\n    println!(\"{}\");\n}}\n```\n",
        quoted.escape_default()
    )
}

impl Reply {
    fn from_body(body: Body) -> Self {
        Self {
            body,
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    fn stream_mut(&mut self) -> &mut Stream {
        match &mut self.body {
            Body::Sse(stream) => stream,
            _ => panic!("this option only applies to a streamed reply"),
        }
    }

    fn push(mut self, item: Item) -> Self {
        self.stream_mut().items.push(item);
        self
    }

    /// A streamed reply without output items (then `response.completed`, unless changed).
    pub fn empty() -> Self {
        Self::from_body(Body::Sse(Stream::default()))
    }

    /// An assistant message, streamed in several `response.output_text.delta`s (one per word).
    pub fn text(text: impl Into<String>) -> Self {
        Self::empty().and_text(text)
    }

    /// A reasoning item whose summary streams as `response.reasoning_summary_text.delta`s.
    /// Usually followed by `.and_text(…)`.
    pub fn reasoning(summary: impl Into<String>) -> Self {
        Self::empty().and_reasoning(summary)
    }

    /// A function call with `arguments` serialized to a JSON string (a `Value::String` is sent
    /// verbatim) and a fresh, process-unique `call_id` (`call_fake_N`).
    pub fn call(name: impl Into<String>, arguments: Value) -> Self {
        Self::empty().and_call(name, arguments)
    }

    /// A function call with a chosen `call_id`.
    pub fn call_with_id(
        call_id: impl Into<String>,
        name: impl Into<String>,
        arguments: Value,
    ) -> Self {
        Self::empty().and_call_with_id(call_id, name, arguments)
    }

    /// A message of `bytes` ASCII bytes streamed as 16-byte deltas (generated lazily).
    pub fn large(bytes: usize) -> Self {
        const PATTERN: &str = "kelp streams ok\n";
        let text: String = PATTERN.chars().cycle().take(bytes).collect();
        Self::text(text).delta_chars(PATTERN.len())
    }

    /// The friendly Markdown answer of the standalone server ([`echo_markdown`]).
    pub fn echo(user_text: &str) -> Self {
        Self::text(echo_markdown(user_text))
    }

    /// Streams `response.created` then `response.failed` with `error.code`/`error.message`.
    pub fn failed(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::empty().then_fail(code, message)
    }

    /// Streams `response.created` then `response.incomplete` with `incomplete_details.reason`.
    pub fn incomplete(reason: impl Into<String>) -> Self {
        Self::empty().then_incomplete(reason)
    }

    /// Streams `response.created` then a top-level `error` event.
    pub fn error_event(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::empty().then_error_event(code, message)
    }

    /// Streams `partial_text` as deltas, then aborts the connection (no `response.completed`).
    pub fn cut(partial_text: impl Into<String>) -> Self {
        Self::text(partial_text).then_cut()
    }

    /// Streams `partial_text` as deltas, then sends nothing more and keeps the connection open
    /// until the client hangs up (or the fake shuts down).
    pub fn stall(partial_text: impl Into<String>) -> Self {
        Self::text(partial_text).then_stall()
    }

    /// A body sent verbatim with `Content-Type: text/event-stream`.
    pub fn raw_sse(body: impl Into<String>) -> Self {
        Self::from_body(Body::RawSse(body.into()))
    }

    /// An HTTP error: `status` with a JSON body.
    pub fn http(status: u16, body: Value) -> Self {
        Self::from_body(Body::Json(JsonReply::new(status, body)))
    }

    /// 401 `token_expired`, as the Codex backend answers an expired or revoked access token.
    pub fn unauthorized() -> Self {
        Self::http(
            401,
            json!({"error": {
                "message": "Provided authentication token is expired. Please try signing in again.",
                "type": null, "param": null, "code": "token_expired"
            }}),
        )
    }

    /// 429 `rate_limit_exceeded` with `Retry-After: <secs>`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::http(
            429,
            json!({"error": {
                "message": format!("Rate limit reached for requests. Please try again in {retry_after_secs}s."),
                "type": "requests", "param": null, "code": "rate_limit_exceeded"
            }}),
        )
        .header("retry-after", retry_after_secs.to_string())
    }

    /// 429 `usage_limit_reached` (ChatGPT plan limit) with `resets_at` (epoch seconds).
    pub fn usage_limit_reached(resets_at: i64, plan_type: &str) -> Self {
        let resets_in = resets_at - super::now_ms() / 1000;
        Self::http(
            429,
            json!({"error": {
                "type": "usage_limit_reached",
                "message": "The usage limit has been reached",
                "plan_type": plan_type,
                "resets_at": resets_at,
                "resets_in_seconds": resets_in.max(0)
            }}),
        )
    }

    /// 429 `usage_not_included`: the ChatGPT plan has no Codex.
    pub fn usage_not_included() -> Self {
        Self::http(
            429,
            json!({"error": {
                "type": "usage_not_included",
                "message": "To use Codex with your ChatGPT plan, upgrade to Plus: https://openai.com/chatgpt/pricing."
            }}),
        )
    }

    /// 429 `insufficient_quota`: API billing.
    pub fn insufficient_quota() -> Self {
        Self::http(
            429,
            json!({"error": {
                "message": "You exceeded your current quota, please check your plan and billing details.",
                "type": "insufficient_quota", "param": null, "code": "insufficient_quota"
            }}),
        )
    }

    /// 400 `context_length_exceeded`.
    pub fn context_length_exceeded() -> Self {
        Self::http(
            400,
            json!({"error": {
                "message": "Your input exceeds the context window of this model. Please adjust your input and try again.",
                "type": "invalid_request_error", "param": "input", "code": "context_length_exceeded"
            }}),
        )
    }

    /// 500 `server_error`.
    pub fn server_error() -> Self {
        Self::from_body(Body::Json(JsonReply::server_error()))
    }

    /// 404 `model_not_found` for `model`.
    pub fn model_not_found(model: &str) -> Self {
        Self::http(
            404,
            json!({"error": {
                "message": format!("The model `{model}` does not exist or you do not have access to it."),
                "type": "invalid_request_error", "param": null, "code": "model_not_found"
            }}),
        )
    }

    /// Appends an assistant message.
    pub fn and_text(self, text: impl Into<String>) -> Self {
        self.push(Item::Message {
            text: text.into().into(),
        })
    }

    /// Appends a reasoning item (see [`encrypted_content_for`] for its `encrypted_content`).
    pub fn and_reasoning(self, summary: impl Into<String>) -> Self {
        let summary: String = summary.into();
        let encrypted_content = encrypted_content_for(&summary);
        self.push(Item::Reasoning {
            summary: summary.into(),
            encrypted_content,
        })
    }

    /// A web search for `query` (the server's own tool: nothing for the client to run).
    pub fn web_search(query: impl Into<String>) -> Self {
        Self::empty().and_web_search(query)
    }

    /// Adds a web search for `query`.
    pub fn and_web_search(self, query: impl Into<String>) -> Self {
        self.push(Item::WebSearch {
            query: query.into(),
        })
    }

    /// Appends a function call with a fresh `call_id`.
    pub fn and_call(self, name: impl Into<String>, arguments: Value) -> Self {
        self.and_call_with_id(fresh_call_id(), name, arguments)
    }

    /// Appends a function call with a chosen `call_id`.
    pub fn and_call_with_id(
        self,
        call_id: impl Into<String>,
        name: impl Into<String>,
        arguments: Value,
    ) -> Self {
        self.push(Item::Call {
            name: name.into(),
            arguments: arguments_string(arguments),
            call_id: call_id.into(),
            custom: false,
        })
    }

    /// Appends a call of a freeform (custom) tool with its raw `input`, as a client that
    /// declares the tool with `"type": "custom"` receives it.
    pub fn and_custom_call(self, name: impl Into<String>, input: impl Into<String>) -> Self {
        self.push(Item::Call {
            name: name.into(),
            arguments: Arc::from(input.into()),
            call_id: fresh_call_id(),
            custom: true,
        })
    }

    /// Ends with `response.failed` instead of `response.completed`.
    pub fn then_fail(mut self, code: impl Into<String>, message: impl Into<String>) -> Self {
        self.stream_mut().ending = Ending::Failed {
            code: code.into(),
            message: message.into(),
        };
        self
    }

    /// Ends with `response.incomplete` (`incomplete_details.reason`).
    pub fn then_incomplete(mut self, reason: impl Into<String>) -> Self {
        self.stream_mut().ending = Ending::Incomplete {
            reason: reason.into(),
        };
        self
    }

    /// Ends with a top-level `error` event.
    pub fn then_error_event(mut self, code: impl Into<String>, message: impl Into<String>) -> Self {
        self.stream_mut().ending = Ending::ErrorEvent {
            code: code.into(),
            message: message.into(),
        };
        self
    }

    /// Ends the body cleanly right after the last delta, without `response.completed`.
    pub fn then_close(mut self) -> Self {
        self.stream_mut().ending = Ending::Close;
        self
    }

    /// Aborts the connection right after the last delta.
    pub fn then_cut(mut self) -> Self {
        self.stream_mut().ending = Ending::Cut;
        self
    }

    /// Hangs right after the last delta, connection open, until the client gives up.
    pub fn then_stall(mut self) -> Self {
        self.stream_mut().ending = Ending::Stall;
        self
    }

    /// Writes `raw` verbatim after the `after_event`-th SSE event (0 = before the first).
    pub fn inject_raw(mut self, after_event: usize, raw: impl Into<String>) -> Self {
        self.stream_mut().injections.push((after_event, raw.into()));
        self
    }

    /// Adds what a sturdy client must skip: an SSE comment, an event of an unknown type and a
    /// `data:` line that is not JSON (after events 1, 4 and 5: for a text reply, the malformed
    /// line lands between the first two deltas).
    pub fn with_noise(self) -> Self {
        self.inject_raw(1, ": keep-alive\n\n")
            .inject_raw(
                4,
                "event: response.fake_unknown\ndata: {\"type\":\"response.fake_unknown\",\"note\":\"ignore me\"}\n\n",
            )
            .inject_raw(5, "event: response.output_text.delta\ndata: {this is not json\n\n")
    }

    /// Characters per text/summary/arguments delta (default: one word per delta).
    pub fn delta_chars(mut self, chars: usize) -> Self {
        assert!(chars > 0, "delta size must be positive");
        self.stream_mut().delta_chars = Some(chars);
        self
    }

    /// The usage reported in `response.completed` (default: 100 input tokens, output tokens
    /// estimated at 4 characters each). `total_tokens` = input + output.
    pub fn usage(mut self, input: u64, cached: u64, output: u64, reasoning: u64) -> Self {
        self.stream_mut().usage = Some(Usage {
            input_tokens: input,
            cached_tokens: cached,
            output_tokens: output,
            reasoning_tokens: reasoning,
        });
        self
    }

    /// Sleeps this long before each SSE event, so a UI can be watched streaming.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Adds a response header (on any kind of reply).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The `x-codex-primary-*` rate-limit headers.
    pub fn primary_window(self, used_percent: f64, window_minutes: u64, reset_at: i64) -> Self {
        self.window("primary", used_percent, window_minutes, reset_at)
    }

    /// The `x-codex-secondary-*` rate-limit headers.
    pub fn secondary_window(self, used_percent: f64, window_minutes: u64, reset_at: i64) -> Self {
        self.window("secondary", used_percent, window_minutes, reset_at)
    }

    fn window(self, which: &str, used_percent: f64, window_minutes: u64, reset_at: i64) -> Self {
        self.header(
            format!("x-codex-{which}-used-percent"),
            used_percent.to_string(),
        )
        .header(
            format!("x-codex-{which}-window-minutes"),
            window_minutes.to_string(),
        )
        .header(format!("x-codex-{which}-reset-at"), reset_at.to_string())
    }
}
