//! JSON-RPC over lines, as both embedding faces speak it: one JSON object per line in each
//! direction, requests answered by id, and requests of kelp's own whose answers come back on
//! the same input. Everything written goes through one [`Out`], so stdout carries protocol
//! lines and nothing else.
//!
//! The two faces differ only in their [`Dialect`]: the Codex app-server writes no `"jsonrpc"`
//! field and stamps notifications with `emittedAtMs`; the Agent Client Protocol is plain
//! JSON-RPC 2.0.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use serde_json::{Map, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, oneshot};

/// JSON-RPC's code for a line that is not JSON.
pub const PARSE_ERROR: i64 = -32700;
/// A message that is not a request, a notification or an answer.
pub const INVALID_REQUEST: i64 = -32600;
/// Parameters that do not fit the method.
pub const INVALID_PARAMS: i64 = -32602;
/// Something failed inside, or upstream.
pub const INTERNAL_ERROR: i64 = -32603;

/// How a face's lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// The Codex app-server: no `"jsonrpc"` field (accepted when a client sends it, never
    /// written), notifications stamped with `emittedAtMs`.
    Codex,
    /// JSON-RPC 2.0 as the spec has it: `"jsonrpc":"2.0"` on every message.
    JsonRpc2,
}

/// A JSON-RPC error to send back (or one a peer answered with): a code and one line.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

impl RpcError {
    /// `-32600` with `message`.
    /// A line that is not UTF-8, so not JSON.
    pub fn not_utf8() -> Self {
        Self {
            code: PARSE_ERROR,
            message: "Parse error: the line is not valid UTF-8".to_string(),
        }
    }

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
    /// The answer to one of kelp's own requests.
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
        // An answer to nothing the reader can name (an error about a line it could not read,
        // `"id": null`): still an answer, and JSON-RPC never answers one.
        (None, id) if object.contains_key("result") || object.contains_key("error") => {
            let result = match object.remove("error") {
                Some(error) => Err(error),
                None => Ok(object.remove("result").unwrap_or(Value::Null)),
            };
            Ok(Incoming::Response {
                id: id.unwrap_or(Value::Null),
                result,
            })
        }
        (_, Some(id)) if !is_id(&id) && !id.is_null() => Err((
            Value::Null,
            RpcError::invalid_request("Invalid request: `id` must be a string or an integer"),
        )),
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

/// The client's answer to one of kelp's requests: its `result`, or its `error` object.
pub type ClientAnswer = Result<Value, Value>;

/// Kelp's requests waiting for their answers, by id, shared by every client of one server:
/// an answer from any of them reaches the request, whichever client it was put to.
#[derive(Debug, Clone, Default)]
pub struct Requests {
    waiting: Arc<Mutex<HashMap<i64, Waiter>>>,
    next_id: Arc<AtomicI64>,
}

#[derive(Debug)]
struct Waiter {
    /// The one client asked, or none when every client of an audience was.
    client: Option<u64>,
    /// A yes lets something run without the sandbox: only a client that may ask for that may
    /// give it.
    full_access: bool,
    answer: oneshot::Sender<ClientAnswer>,
}

impl Requests {
    /// A new request's id, and where its answer will come.
    fn register(
        &self,
        client: Option<u64>,
        full_access: bool,
    ) -> (i64, oneshot::Receiver<ClientAnswer>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (answer, rx) = oneshot::channel();
        self.lock().insert(
            id,
            Waiter {
                client,
                full_access,
                answer,
            },
        );
        (id, rx)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Waiter>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_waiting(&self, id: i64) -> bool {
        self.lock().contains_key(&id)
    }
}

/// A notification as written: `params` serialised straight into the line.
#[derive(Serialize)]
struct Note<'a, P> {
    #[serde(skip_serializing_if = "Option::is_none")]
    jsonrpc: Option<&'static str>,
    method: &'a str,
    params: &'a P,
    #[serde(rename = "emittedAtMs", skip_serializing_if = "Option::is_none")]
    emitted_at_ms: Option<i64>,
}

/// Where everything a face says goes: a queue to the one task that writes to its client (or
/// to each client of an [`Audience`]), and kelp's own requests waiting for their answers.
#[derive(Debug, Clone)]
pub struct Out {
    sink: Sink,
    requests: Requests,
    /// The client this `Out` writes to, as its server knows it (0 for a face's one client).
    client: u64,
    dialect: Dialect,
}

#[derive(Debug, Clone)]
enum Sink {
    /// One client's queue.
    Client {
        lines: mpsc::UnboundedSender<String>,
        /// What waits to be written, which holds back the reading of the client's input.
        backlog: Arc<crate::stdio::Backlog>,
    },
    /// Every client of an audience: a line goes to each, and a request too (the first answer
    /// counts).
    Audience(Audience),
}

/// The clients that hear about one thing (a thread, or the whole server), each through the
/// [`Out`] of its connection. A request to an audience goes to every member, and again to
/// each that joins before it is answered: whoever answers first decides.
#[derive(Debug, Clone)]
pub struct Audience {
    members: Arc<Mutex<Vec<Out>>>,
    /// The requests put to the audience, as written, for members that join later.
    asked: Arc<Mutex<Vec<(i64, String)>>>,
    requests: Requests,
}

impl Audience {
    /// No member yet; its requests are answered through `requests`.
    pub fn new(requests: &Requests) -> Self {
        Self {
            members: Arc::default(),
            asked: Arc::default(),
            requests: requests.clone(),
        }
    }

    /// `out`'s client hears from now on (once, however often it joins), and is put the
    /// requests still waiting for an answer.
    pub fn join(&self, out: &Out) {
        {
            let mut members = self.members.lock().unwrap_or_else(PoisonError::into_inner);
            if members.iter().any(|member| member.client == out.client) {
                return;
            }
            members.push(out.clone());
        }
        for line in self.still_asked() {
            out.send_line(line);
        }
    }

    /// Client `client` hears no more; `true` when it was a member.
    pub fn leave(&self, client: u64) -> bool {
        let mut members = self.members.lock().unwrap_or_else(PoisonError::into_inner);
        let before = members.len();
        members.retain(|member| member.client != client);
        members.len() != before
    }

    /// Whether no client hears.
    pub fn is_empty(&self) -> bool {
        self.members
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    fn each(&self) -> Vec<Out> {
        self.members
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The requests put to the audience and not answered yet, as written.
    fn still_asked(&self) -> Vec<String> {
        let mut asked = self.asked.lock().unwrap_or_else(PoisonError::into_inner);
        asked.retain(|(id, _)| self.requests.is_waiting(*id));
        asked.iter().map(|(_, line)| line.clone()).collect()
    }

    /// The requests its members answer.
    pub fn requests(&self) -> &Requests {
        &self.requests
    }

    /// An [`Out`] that speaks to every member, in `dialect`.
    pub fn out(&self, dialect: Dialect) -> Out {
        Out {
            sink: Sink::Audience(self.clone()),
            requests: self.requests.clone(),
            client: 0,
            dialect,
        }
    }
}

impl Out {
    /// An `Out` that writes `dialect`, and the receiving end of its lines.
    pub fn new(dialect: Dialect) -> (Self, mpsc::UnboundedReceiver<String>) {
        Self::client_of(&Requests::default(), 0, dialect)
    }

    /// An `Out` to client `client` of a server whose requests are `requests`, and the receiving
    /// end of its lines.
    pub fn client_of(
        requests: &Requests,
        client: u64,
        dialect: Dialect,
    ) -> (Self, mpsc::UnboundedReceiver<String>) {
        let (lines, rx) = mpsc::unbounded_channel();
        let out = Self {
            sink: Sink::Client {
                lines,
                backlog: Arc::default(),
            },
            requests: requests.clone(),
            client,
            dialect,
        };
        (out, rx)
    }

    /// The same lines, to client `client` of a server whose requests are `requests` (before any
    /// request went out through it).
    pub fn as_client_of(mut self, requests: &Requests, client: u64) -> Self {
        self.requests = requests.clone();
        self.client = client;
        self
    }

    /// The client this `Out` writes to, as its server knows it.
    /// Whether this writes to an audience no client is in now (a thread left running on a
    /// server); a client's own `Out` always has its client.
    pub fn heard_by_nobody(&self) -> bool {
        matches!(&self.sink, Sink::Audience(audience) if audience.is_empty())
    }

    pub fn client(&self) -> u64 {
        self.client
    }

    /// The bytes queued for this client and not yet written (nothing waits for an audience:
    /// each member counts its own).
    pub fn backlog(&self) -> Arc<crate::stdio::Backlog> {
        match &self.sink {
            Sink::Client { backlog, .. } => Arc::clone(backlog),
            Sink::Audience(_) => Arc::default(),
        }
    }

    /// Sends a line already serialised (the hot path of streamed deltas).
    pub fn send_line(&self, line: String) {
        match &self.sink {
            Sink::Client { lines, backlog } => {
                backlog.add(line.len() + 1);
                let _ = lines.send(line);
            }
            Sink::Audience(audience) => {
                let mut members = audience.each();
                if let Some(last) = members.pop() {
                    for member in members {
                        member.send_line(line.clone());
                    }
                    last.send_line(line);
                }
            }
        }
    }

    /// A message of this dialect, its fields after the `"jsonrpc"` one (when there is one).
    fn message(&self, fields: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
        let mut message = Map::new();
        if self.dialect == Dialect::JsonRpc2 {
            message.insert("jsonrpc".into(), "2.0".into());
        }
        message.extend(fields.into_iter().map(|(k, v)| (k.to_string(), v)));
        Value::Object(message)
    }

    fn send(&self, message: Value) {
        // Serialising a Value cannot fail; a closed stdout means the host is gone.
        if let Ok(line) = serde_json::to_string(&message) {
            self.send_line(line);
        }
    }

    /// Answers request `id` with `result`.
    pub fn respond(&self, id: Value, result: Value) {
        self.send(self.message([("id", id), ("result", result)]));
    }

    /// Answers request `id` with `result`, serialised already: the line is made around it
    /// where it lies, so an answer of a long thread's history is held once, not copied.
    pub fn respond_serialized(&self, id: &Value, mut result: String) {
        let head = match self.dialect {
            Dialect::JsonRpc2 => format!(r#"{{"jsonrpc":"2.0","id":{id},"result":"#),
            Dialect::Codex => format!(r#"{{"id":{id},"result":"#),
        };
        result.insert_str(0, &head);
        result.push('}');
        self.send_line(result);
    }

    /// Answers request `id` with an error object as the face shapes it.
    pub fn fail(&self, id: Value, error: Value) {
        self.send(self.message([("id", id), ("error", error)]));
    }

    /// Answers request `id` with a code and a message.
    pub fn error(&self, id: Value, error: RpcError) {
        let mut object = Map::new();
        object.insert("code".into(), error.code.into());
        object.insert("message".into(), error.message.into());
        self.fail(id, Value::Object(object));
    }

    /// Sends a notification; `params` is serialised straight into its line.
    pub fn notify(&self, method: &str, params: impl Serialize) {
        let note = Note {
            jsonrpc: (self.dialect == Dialect::JsonRpc2).then_some("2.0"),
            method,
            params: &params,
            emitted_at_ms: (self.dialect == Dialect::Codex).then(now_ms),
        };
        match serde_json::to_string(&note) {
            Ok(line) => self.send_line(line),
            Err(e) => tracing::warn!(%method, "a notification could not be written: {e}"),
        }
    }

    /// Sends a request to the client; the receiver gets its answer (`Err`: the client's error
    /// object). It is dropped unanswered by [`Out::forget_requests`], or when the last `Out`
    /// goes.
    pub fn request(&self, method: &str, params: Value) -> oneshot::Receiver<ClientAnswer> {
        self.numbered_request(method, params).1
    }

    /// [`Out::request`], with the id the request went out under. An audience's request goes
    /// to every member (and to each that joins before the answer); with no member, it waits
    /// for one.
    pub fn numbered_request(
        &self,
        method: &str,
        params: Value,
    ) -> (i64, oneshot::Receiver<ClientAnswer>) {
        self.numbered_request_granting(method, params, false)
    }

    /// [`Out::numbered_request`] for a request whose yes grants `full_access`: a run without
    /// the sandbox ([`Out::grants_full_access`]).
    pub fn numbered_request_granting(
        &self,
        method: &str,
        params: Value,
        full_access: bool,
    ) -> (i64, oneshot::Receiver<ClientAnswer>) {
        let asked = match &self.sink {
            Sink::Client { .. } => Some(self.client),
            Sink::Audience(_) => None,
        };
        let (id, rx) = self.requests.register(asked, full_access);
        let message = self.message([
            ("id", id.into()),
            ("method", method.into()),
            ("params", params),
        ]);
        // Serialising a Value cannot fail.
        let line = serde_json::to_string(&message).unwrap_or_default();
        if let Sink::Audience(audience) = &self.sink {
            audience
                .asked
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((id, line.clone()));
        }
        self.send_line(line);
        (id, rx)
    }

    /// Whether a yes to request `id`, still waiting, lets something run without the sandbox.
    pub fn grants_full_access(&self, id: &Value) -> bool {
        id.as_i64().is_some_and(|id| {
            self.requests
                .lock()
                .get(&id)
                .is_some_and(|waiter| waiter.full_access)
        })
    }

    /// Delivers the client's answer to one of kelp's requests; `false` for an id nobody waits
    /// for (answered already, by this client or another), or one put to another client alone.
    pub fn answer(&self, id: &Value, result: ClientAnswer) -> bool {
        let Some(id) = id.as_i64() else {
            return false;
        };
        let waiting = {
            let mut requests = self.requests.lock();
            let ours = requests
                .get(&id)
                .is_some_and(|waiter| waiter.client.is_none_or(|asked| asked == self.client));
            if ours { requests.remove(&id) } else { None }
        };
        waiting.is_some_and(|waiter| waiter.answer.send(result).is_ok())
    }

    /// Drops request `id` unanswered: it no longer needs an answer (its turn ended first). A
    /// client that joins the audience later is not asked it.
    pub fn cancel_request(&self, id: i64) {
        self.requests.lock().remove(&id);
        if let Sink::Audience(audience) = &self.sink {
            audience.still_asked();
        }
    }

    /// Drops every request put to this client alone and still waiting: it is gone, no answer
    /// will come. A request put to an audience waits for another member.
    pub fn forget_requests(&self) {
        self.requests
            .lock()
            .retain(|_, waiter| waiter.client != Some(self.client));
    }
}

/// A face's stdout: the task writing the lines of its [`Out`].
pub struct Stdout {
    writer: tokio::task::JoinHandle<()>,
}

impl Stdout {
    /// An [`Out`] in `dialect` whose lines a task writes to stdout, in batches.
    pub fn open(dialect: Dialect) -> (Out, Self) {
        let (out, lines) = Out::new(dialect);
        let writer = crate::task::spawn(crate::stdio::write_lines(
            lines,
            tokio::io::stdout(),
            out.backlog(),
        ));
        (out, Self { writer })
    }

    /// Drops `out`, the last of its clones, and lets what is queued go out, waiting at most
    /// half a second for a client that stopped reading.
    pub async fn close(self, out: Out) {
        drop(out);
        let _ = tokio::time::timeout(std::time::Duration::from_millis(500), self.writer).await;
    }
}

/// How many bytes of output may wait for the client before its input is no longer read.
pub const MAX_BACKLOG: usize = 8 * 1024 * 1024;

/// Why a face stopped serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// The client closed kelp's stdin: the usual end.
    InputClosed,
    /// SIGINT, SIGTERM or SIGHUP, by number: the exit status says so (128 + n).
    Signal(i32),
}

/// Hands each non-blank line of stdin to `handle` until stdin closes or cannot be read, or a
/// signal asks kelp to stop. Then no answer to kelp's own requests can come: they are dropped,
/// so nothing waits on a client that is gone (an approval reads as refused, a token refresh as
/// failed). The face then stops what it started as it does when stdin closes.
pub async fn serve_stdin(out: &Out, mut handle: impl AsyncFnMut(&str)) -> std::io::Result<Stopped> {
    let mut input = BufReader::new(tokio::io::stdin());
    let mut bytes = Vec::new();
    let backlog = out.backlog();
    let read = async {
        loop {
            bytes.clear();
            // A client that stops reading kelp's output is not read from either, until it
            // does: what waits for it stays bounded, and none of it is dropped.
            backlog.below(MAX_BACKLOG).await;
            match input.read_until(b'\n', &mut bytes).await {
                Ok(0) => break Ok(Stopped::InputClosed),
                Ok(_) => match std::str::from_utf8(&bytes) {
                    Ok(line) if line.trim().is_empty() => {}
                    Ok(line) => handle(line.trim_end_matches(['\n', '\r'])).await,
                    // One bad line is answered and skipped; the connection goes on.
                    Err(_) => out.error(Value::Null, RpcError::not_utf8()),
                },
                Err(e) => break Err(e),
            }
        }
    };
    let stopped = tokio::select! {
        read = read => read,
        signal = crate::task::stop_requested() => Ok(Stopped::Signal(signal)),
    };
    out.forget_requests();
    stopped
}

/// Reads `params` as `T` (absent params as `{}`); `Err` is serde's message, naming the field at
/// fault.
pub fn params<T: serde::de::DeserializeOwned>(params: Value) -> Result<T, String> {
    let params = match params {
        Value::Null => Value::Object(Map::new()),
        other => other,
    };
    serde_json::from_value(params).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        // An error answer to a line the client could not read is an answer too: never
        // answered back.
        assert_eq!(
            parse_line(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"bad"}}"#)
                .unwrap(),
            Incoming::Response {
                id: Value::Null,
                result: Err(json!({"code":-32700,"message":"bad"})),
            }
        );
        let (id, error) = parse_line("{not json").unwrap_err();
        assert_eq!((id, error.code), (Value::Null, PARSE_ERROR));
        let (id, error) = parse_line(r#"{"id":7,"method":3}"#).unwrap_err();
        assert_eq!((id, error.code), (json!(7), INVALID_REQUEST));
    }

    fn written(dialect: Dialect, say: impl FnOnce(&Out)) -> Vec<Value> {
        let (out, mut lines) = Out::new(dialect);
        say(&out);
        let mut written = Vec::new();
        while let Ok(line) = lines.try_recv() {
            written.push(serde_json::from_str(&line).unwrap());
        }
        written
    }

    #[test]
    fn each_dialect_writes_its_own_envelope() {
        let say = |out: &Out| {
            out.respond(json!(1), json!({}));
            out.notify("session/update", json!({ "x": 1 }));
            out.error(json!("a"), RpcError::invalid_params("no"));
            drop(out.request("fs/read_text_file", json!({})));
        };
        let codex = written(Dialect::Codex, say);
        assert!(
            codex.iter().all(|m| m.get("jsonrpc").is_none()),
            "{codex:?}"
        );
        assert!(codex[1]["emittedAtMs"].is_i64(), "{codex:?}");
        let plain = written(Dialect::JsonRpc2, say);
        assert!(plain.iter().all(|m| m["jsonrpc"] == "2.0"), "{plain:?}");
        assert!(plain[1].get("emittedAtMs").is_none(), "{plain:?}");
        assert_eq!(
            plain[2]["error"],
            json!({ "code": -32602, "message": "no" })
        );
        assert_eq!(
            (&plain[3]["id"], &plain[3]["method"]),
            (&json!(0), &json!("fs/read_text_file"))
        );
    }

    #[tokio::test]
    async fn an_audiences_request_is_put_to_each_member_and_the_first_answer_decides() {
        let requests = Requests::default();
        let (one, mut one_lines) = Out::client_of(&requests, 1, Dialect::Codex);
        let (two, mut two_lines) = Out::client_of(&requests, 2, Dialect::Codex);
        let audience = Audience::new(&requests);
        audience.join(&one);
        let (id, answer) = audience
            .out(Dialect::Codex)
            .numbered_request("ask", json!({}));
        // One that joins before the answer is asked too, under the same id.
        audience.join(&two);
        let asked = |lines: &mut mpsc::UnboundedReceiver<String>| {
            serde_json::from_str::<Value>(&lines.try_recv().unwrap()).unwrap()["id"].clone()
        };
        assert_eq!(asked(&mut one_lines), json!(id));
        assert_eq!(asked(&mut two_lines), json!(id));
        assert!(two.answer(&json!(id), Ok(json!("two"))));
        assert!(!one.answer(&json!(id), Ok(json!("one"))), "too late");
        assert_eq!(answer.await.unwrap(), Ok(json!("two")));
        // A request put to one client alone is that client's to answer, and goes when it does.
        let (alone, _answer) = one.numbered_request("mine", json!({}));
        assert!(!two.answer(&json!(alone), Ok(json!("not yours"))));
        one.forget_requests();
        assert!(!one.answer(&json!(alone), Ok(json!("gone"))));
        // A member that joins after the answer is not asked again.
        let (three, mut three_lines) = Out::client_of(&requests, 3, Dialect::Codex);
        audience.join(&three);
        assert!(three_lines.try_recv().is_err());
    }

    #[tokio::test]
    async fn an_answer_reaches_its_request_and_forgotten_requests_end() {
        let (out, _lines) = Out::new(Dialect::JsonRpc2);
        let first = out.request("a", Value::Null);
        let second = out.request("b", Value::Null);
        assert!(out.answer(&json!(0), Ok(json!("yes"))));
        assert!(
            !out.answer(&json!(0), Ok(json!("again"))),
            "answered once only"
        );
        assert!(!out.answer(&json!("0"), Ok(json!("a string id"))));
        assert_eq!(first.await.unwrap(), Ok(json!("yes")));
        out.forget_requests();
        assert!(second.await.is_err(), "a forgotten request ends unanswered");
    }
}
