//! The app-server's framing: one JSON object per line in both directions, JSON-RPC 2.0 without
//! the `"jsonrpc"` field (accepted when a client sends it, never written), notifications
//! stamped with `emittedAtMs`. Everything written goes through one [`Out`], so stdout carries
//! protocol lines and nothing else.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, oneshot};

/// JSON-RPC's code for a line that is not JSON.
pub const PARSE_ERROR: i64 = -32700;
/// What the Codex app-server answers for a request it will not take: not initialized, already
/// initialized, an unknown method, a state that forbids it.
pub const INVALID_REQUEST: i64 = -32600;
/// Parameters that do not fit the method.
pub const INVALID_PARAMS: i64 = -32602;
/// Something failed inside, or upstream.
pub const INTERNAL_ERROR: i64 = -32603;

/// A JSON-RPC error to send back.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

impl RpcError {
    /// `-32600` with `message`.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self {
            code: INVALID_REQUEST,
            message: message.into(),
        }
    }

    /// `-32602` with `message`.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self {
            code: INVALID_PARAMS,
            message: message.into(),
        }
    }

    /// `-32603` with `message`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            code: INTERNAL_ERROR,
            message: message.into(),
        }
    }
}

/// A method's answer, the notifications that follow it in order, and what to do once it is on
/// its way (so what that sets off is reported after the answer, never before).
pub struct Answer {
    pub result: Value,
    pub then: Vec<(&'static str, Value)>,
    pub after: Option<Box<dyn FnOnce() + Send>>,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer")
            .field("result", &self.result)
            .field("then", &self.then)
            .finish_non_exhaustive()
    }
}

impl Answer {
    /// `result`, with nothing after it.
    pub fn new(result: Value) -> Self {
        Self {
            result,
            then: Vec::new(),
            after: None,
        }
    }

    /// Runs `action` once the answer and its notifications are queued.
    pub fn after(mut self, action: impl FnOnce() + Send + 'static) -> Self {
        self.after = Some(Box::new(action));
        self
    }

    /// Sends notification `method` right after the answer.
    pub fn then(mut self, method: &'static str, params: Value) -> Self {
        self.then.push((method, params));
        self
    }
}

impl From<Value> for Answer {
    fn from(result: Value) -> Self {
        Self::new(result)
    }
}

/// A line read from the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A call that wants an answer.
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    /// A call that wants none.
    Notification { method: String, params: Value },
    /// The answer to one of the server's own requests.
    Response {
        id: Value,
        result: Result<Value, Value>,
    },
}

/// Reads one line; `Err` carries the error to answer and the id it belongs to (`null` when the
/// line has none that can be read).
pub fn parse_line(line: &str) -> Result<Incoming, (Value, RpcError)> {
    let value: Value = serde_json::from_str(line).map_err(|e| {
        (
            Value::Null,
            RpcError {
                code: PARSE_ERROR,
                message: format!("Parse error: {e}"),
            },
        )
    })?;
    let Value::Object(mut object) = value else {
        return Err((
            Value::Null,
            RpcError::invalid_request("Invalid request: a message is a JSON object"),
        ));
    };
    let id = object.remove("id");
    let params = object.remove("params").unwrap_or(Value::Null);
    match (object.remove("method"), id) {
        (Some(Value::String(method)), Some(id)) if is_id(&id) => {
            Ok(Incoming::Request { id, method, params })
        }
        (Some(Value::String(method)), None) => Ok(Incoming::Notification { method, params }),
        (None, Some(id)) if is_id(&id) => {
            let result = match (object.remove("result"), object.remove("error")) {
                (_, Some(error)) => Err(error),
                (Some(result), None) => Ok(result),
                (None, None) => Ok(Value::Null),
            };
            Ok(Incoming::Response { id, result })
        }
        (_, id) => Err((
            id.filter(is_id).unwrap_or(Value::Null),
            RpcError::invalid_request("Invalid request: `method` must be a string"),
        )),
    }
}

/// A request id is a string or an integer.
fn is_id(id: &Value) -> bool {
    id.is_string() || id.is_i64() || id.is_u64()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The client's answer to one of the server's requests: its `result`, or its `error` object.
pub type ClientAnswer = Result<Value, Value>;

/// The server's requests waiting for their answers, by id.
type Waiting = Arc<Mutex<HashMap<i64, oneshot::Sender<ClientAnswer>>>>;

/// Where everything the server says goes: a queue to the one task that writes stdout, and the
/// server's own requests waiting for their answers.
#[derive(Debug, Clone)]
pub struct Out {
    lines: mpsc::UnboundedSender<String>,
    waiting: Waiting,
    next_id: Arc<AtomicI64>,
}

impl Out {
    /// An `Out` and the receiving end of its lines.
    pub fn new() -> (Self, mpsc::UnboundedReceiver<String>) {
        let (lines, rx) = mpsc::unbounded_channel();
        let out = Self {
            lines,
            waiting: Arc::default(),
            next_id: Arc::new(AtomicI64::new(0)),
        };
        (out, rx)
    }

    /// Sends a line already serialised (the hot path of streamed deltas).
    pub fn send_line(&self, line: String) {
        let _ = self.lines.send(line);
    }

    fn send(&self, message: Value) {
        // Serialising a Value cannot fail; a closed stdout means the host is gone.
        if let Ok(line) = serde_json::to_string(&message) {
            let _ = self.lines.send(line);
        }
    }

    /// Answers request `id` with `result`.
    pub fn respond(&self, id: Value, result: Value) {
        self.send(json!({ "id": id, "result": result }));
    }

    /// Answers request `id` with an error.
    pub fn error(&self, id: Value, error: RpcError) {
        self.send(json!({
            "id": id,
            "error": { "code": error.code, "message": error.message },
        }));
    }

    /// Answers with `answer` (then its notifications), or the error.
    pub fn reply(&self, id: Value, answer: Result<Answer, RpcError>) {
        match answer {
            Ok(answer) => {
                self.respond(id, answer.result);
                for (method, params) in answer.then {
                    self.notify(method, params);
                }
                if let Some(action) = answer.after {
                    action();
                }
            }
            Err(error) => self.error(id, error),
        }
    }

    /// Sends a notification.
    pub fn notify(&self, method: &str, params: Value) {
        self.send(json!({ "method": method, "params": params, "emittedAtMs": now_ms() }));
    }

    /// Sends a request to the client; the receiver gets its answer (`Err`: the client's error
    /// object). Dropped unanswered when the connection ends.
    pub fn request(&self, method: &str, params: Value) -> oneshot::Receiver<ClientAnswer> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, tx);
        self.send(json!({ "id": id, "method": method, "params": params }));
        rx
    }

    /// Delivers the client's answer to one of the server's requests; `false` for an id nobody
    /// waits for.
    pub fn answer(&self, id: &Value, result: ClientAnswer) -> bool {
        let Some(id) = id.as_i64() else {
            return false;
        };
        let waiting = self
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        waiting.is_some_and(|tx| tx.send(result).is_ok())
    }
}

/// Reads `params` as `T`, naming the field at fault.
pub fn params<T: serde::de::DeserializeOwned>(params: Value) -> Result<T, RpcError> {
    let params = match params {
        Value::Null => Value::Object(Map::new()),
        other => other,
    };
    serde_json::from_value(params)
        .map_err(|e| RpcError::invalid_params(format!("Invalid params: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_by_their_shape() {
        assert_eq!(
            parse_line(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#).unwrap(),
            Incoming::Request {
                id: json!(1),
                method: "initialize".into(),
                params: json!({}),
            }
        );
        assert_eq!(
            parse_line(r#"{"method":"initialized"}"#).unwrap(),
            Incoming::Notification {
                method: "initialized".into(),
                params: Value::Null,
            }
        );
        assert_eq!(
            parse_line(r#"{"id":"a","error":{"code":1,"message":"no"}}"#).unwrap(),
            Incoming::Response {
                id: json!("a"),
                result: Err(json!({"code":1,"message":"no"})),
            }
        );
        let (id, error) = parse_line("{not json").unwrap_err();
        assert_eq!((id, error.code), (Value::Null, PARSE_ERROR));
        let (id, error) = parse_line(r#"{"id":7,"method":3}"#).unwrap_err();
        assert_eq!((id, error.code), (json!(7), INVALID_REQUEST));
    }
}
