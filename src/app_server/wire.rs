//! The app-server's side of the JSON-RPC lines ([`crate::jsonrpc`], in its Codex dialect): a
//! method's [`Answer`] with the notifications that follow it, the [`Caller`] it answers, and
//! parameters read with the error the Codex app-server gives.

use serde_json::Value;

pub use crate::jsonrpc::{Incoming, Out, RpcError, now_ms, parse_line};

/// The client whose request is being served: its connection's id and lines.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: u64,
    pub out: Out,
    /// It asked for Codex's experimental API when it initialized.
    pub experimental: bool,
    /// It may ask for commands without the sandbox: a host on stdio or the person's own Unix
    /// socket may; a client over a TCP port only when the server was started allowing it.
    pub full_access: bool,
    /// The id of the request being served (`thread/search/stream`'s partials name it).
    pub request: Value,
}

/// Whether request `method` with `params` asks for commands without the sandbox: a
/// `process/spawn` (a host's process runs as the person), or anywhere in `params` a `sandbox` or
/// `sandbox_mode` Codex names as full access, a `sandboxPolicy` of `dangerFullAccess` or
/// `externalSandbox` (the host's own, which leaves commands unsandboxed here), a config edit
/// that writes such a `sandbox_mode`, or an MCP server (`mcp_servers`, in a config or an edit
/// of one), whose command runs with the person's rights. The person's words (`input`) are not
/// read.
pub fn asks_for_full_access(method: &str, params: &Value) -> bool {
    if method == "process/spawn" {
        return true;
    }
    let unsandboxed = |value: &Value| {
        value.as_str().is_some_and(|name| {
            crate::protocol::SandboxMode::from_codex(name)
                == Some(crate::protocol::SandboxMode::Off)
                || name == "off"
        })
    };
    let mut stack = vec![params];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(fields) => {
                for (key, field) in fields {
                    let asks = match key.as_str() {
                        "input" => continue,
                        "sandbox" | "sandbox_mode" | "sandboxMode" => unsandboxed(field),
                        "sandboxPolicy" | "sandbox_policy" => matches!(
                            field["type"].as_str(),
                            Some("dangerFullAccess" | "externalSandbox")
                        ),
                        "mcp_servers" | "mcpServers" => true,
                        "keyPath" => field.as_str().is_some_and(|path| {
                            path == "mcp_servers"
                                || path.starts_with("mcp_servers.")
                                || ((path == "sandbox_mode" || path.ends_with(".sandbox_mode"))
                                    && fields.get("value").is_some_and(unsandboxed))
                        }),
                        _ => false,
                    };
                    if asks {
                        return true;
                    }
                    stack.push(field);
                }
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    false
}

/// A method's answer (its result serialised), the notifications that follow it in order, and
/// what to do once it is on its way (so what that sets off is reported after the answer, never
/// before).
pub struct Answer {
    pub result: String,
    pub then: Vec<(&'static str, Value)>,
    /// Who hears the notifications, when not only the client that asked (a thread's clients).
    pub heard_by: Option<Out>,
    /// Every client, which hears the notifications Codex sends to all
    /// ([`crate::wire::to_every_client`]) when they are among them.
    pub every_client: Option<Out>,
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
        Self::serialized(result.to_string())
    }

    fn serialized(result: String) -> Self {
        Self {
            result,
            then: Vec::new(),
            heard_by: None,
            every_client: None,
            after: None,
        }
    }

    /// `result` as the protocol's JSON, serialised straight from it (no tree of values in
    /// between).
    pub fn of(result: &impl serde::Serialize) -> Result<Self, RpcError> {
        serde_json::to_string(result)
            .map(Self::serialized)
            .map_err(|e| RpcError::internal(format!("an answer did not serialize: {e}")))
    }

    /// [`Answer::of`] on a blocking thread, for a result whose serialising reads a file (a
    /// saved thread's turns).
    pub async fn of_read(result: impl serde::Serialize + Send + 'static) -> Result<Self, RpcError> {
        crate::task::spawn_blocking(move || serde_json::to_string(&result))
            .await
            .map_err(|e| RpcError::internal(e.to_string()))?
            .map(Self::serialized)
            .map_err(|e| RpcError::invalid_request(format!("cannot read the thread: {e}")))
    }

    /// Runs `action` once the answer and its notifications are queued.
    pub fn after(mut self, action: impl FnOnce() + Send + 'static) -> Self {
        self.after = Some(Box::new(action));
        self
    }

    /// Sends the notifications to `out`'s clients (the one that asked among them), not only
    /// to the one that asked.
    pub fn heard_by(mut self, out: Out) -> Self {
        self.heard_by = Some(out);
        self
    }

    /// Sends the notifications meant for every client ([`crate::wire::to_every_client`])
    /// to `everyone`, the rest as [`Answer::heard_by`] says.
    pub fn every_client(mut self, everyone: Out) -> Self {
        self.every_client = Some(everyone);
        self
    }

    /// Sends `notification` right after the answer.
    pub fn notify(mut self, notification: impl crate::wire::Notification) -> Self {
        self.then.push(notification.into_message());
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

/// Writes `notification`, its method from its type.
pub fn notify(out: &Out, notification: impl crate::wire::Notification) {
    let (method, params) = notification.into_message();
    out.notify(method, params);
}

/// Who hears notification `method`: `everyone` (when given) for one Codex sends to every
/// client, else `rest`.
pub fn audience<'a>(method: &str, everyone: Option<&'a Out>, rest: &'a Out) -> &'a Out {
    match everyone {
        Some(everyone) if crate::wire::to_every_client(method) => everyone,
        _ => rest,
    }
}

/// Answers request `id` with `answer` (then its notifications), or the error.
pub fn reply(out: &Out, id: Value, answer: Result<Answer, RpcError>) {
    match answer {
        Ok(answer) => {
            out.respond_serialized(&id, answer.result);
            let heard_by = answer.heard_by.as_ref().unwrap_or(out);
            for (method, params) in answer.then {
                audience(method, answer.every_client.as_ref(), heard_by).notify(method, params);
            }
            if let Some(action) = answer.after {
                action();
            }
        }
        Err(error) => out.error(id, error),
    }
}

/// Reads `params` as `T`, naming the field at fault.
pub fn params<T: serde::de::DeserializeOwned>(params: Value) -> Result<T, RpcError> {
    crate::jsonrpc::params(params)
        .map_err(|e| RpcError::invalid_params(format!("Invalid params: {e}")))
}

/// A page a list request asks for: `cursor` is how many items came before (kelp's cursors are
/// offsets), `limit` the page size (`default` when absent or 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub skip: usize,
    pub size: usize,
}

impl Page {
    pub fn read(
        cursor: Option<&str>,
        limit: Option<u32>,
        default: usize,
    ) -> Result<Self, RpcError> {
        let skip = match cursor {
            None => 0,
            Some(cursor) => cursor
                .parse::<usize>()
                .map_err(|_| RpcError::invalid_request(format!("invalid cursor: {cursor}")))?,
        };
        let size = limit
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n > 0)
            .unwrap_or(default);
        Ok(Self { skip, size })
    }

    /// The cursor of the page after this one, when `more` items follow it.
    pub fn next(self, more: bool) -> Option<String> {
        more.then(|| self.skip.saturating_add(self.size).to_string())
    }
}

/// The experimental API's methods answer only a client that asked for it, as in Codex.
pub(super) fn experimental_only(method: &str, allowed: bool) -> Result<(), RpcError> {
    if allowed {
        Ok(())
    } else {
        Err(RpcError::invalid_request(format!(
            "{method} requires experimentalApi capability"
        )))
    }
}
