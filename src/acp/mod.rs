//! `kelp acp`: the core as an Agent Client Protocol agent (JSON-RPC 2.0 over stdio), for editors
//! such as Zed that run coding agents as subprocesses. The protocol's types are the
//! `agent-client-protocol-schema` crate's; the lines they travel on are kelp's own JSON-RPC
//! ([`crate::jsonrpc`]). Stdout carries protocol messages only; when stdin closes, every session
//! stops and kelp exits.
//!
//! - `mod.rs`: the connection, requests routed to their handlers, `$/cancel_request`,
//!   `initialize`.
//! - `auth.rs`: the sign-in methods offered, `authenticate` over the account service
//!   (`auth::accounts`), device codes by URL elicitation.
//! - `session.rs`: one agent core per session, its prompts and commands; `pump.rs`: its events
//!   as updates, permission requests, stop reasons.
//!   `modes.rs`: kelp's approval modes as the session's modes; `options.rs`: mode, model and
//!   effort as config options. `history.rs`: `session/list`
//!   and `session/delete`.
//! - `review.rs`: an auto-review as codex-acp shows Codex's (a "Guardian Review" tool call).
//! - `updates.rs`: core events as `session/update`s (a pure translator), a saved session's replay;
//!   `open_terminals.rs`: a background terminal's call kept open until its command ends;
//!   `permission.rs`: a permission request's options, and the decision each stands for.
//! - `commands.rs`: the slash commands an editor offers, run by the core as in the TUI.
//! - `editor.rs`: the client's `fs/*` as the core's `EditorFiles`.

pub mod auth;
pub mod commands;
pub mod editor;
pub mod history;
pub mod modes;
mod open_terminals;
pub mod options;
pub mod permission;
mod pump;
mod review;
pub mod session;
pub mod updates;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use agent_client_protocol_schema::v1::{
    AgentAuthCapabilities, AgentCapabilities, AuthenticateRequest, CLIENT_METHOD_NAMES,
    CancelNotification, ClientCapabilities, CloseSessionRequest, CloseSessionResponse,
    ContentBlock, DeleteSessionRequest, Error, ForkSessionRequest, Implementation,
    InitializeRequest, InitializeResponse, ListSessionsRequest, LoadSessionRequest,
    LogoutCapabilities, McpCapabilities, NewSessionRequest, PromptCapabilities, PromptRequest,
    ResumeSessionRequest, SessionCapabilities, SessionCloseCapabilities, SessionDeleteCapabilities,
    SessionForkCapabilities, SessionListCapabilities, SessionNotification,
    SessionResumeCapabilities, SetSessionConfigOptionRequest, SetSessionModeRequest,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::jsonrpc::{Dialect, Incoming, Out, Stdout, Stopped, parse_line, serve_stdin};

/// The protocol version kelp speaks.
const PROTOCOL_VERSION: u16 = 1;

/// The connection to the editor, as the agent side holds it: requests to the client, and
/// notifications.
#[derive(Debug, Clone)]
pub struct Connection(Out);

impl Connection {
    /// Sends request `method` to the client and waits for its answer, read as `T`. The client's
    /// error comes back as it sent it.
    pub async fn request<T: DeserializeOwned>(
        &self,
        method: &'static str,
        params: impl Serialize,
    ) -> Result<T, Error> {
        let params = serde_json::to_value(params).map_err(Error::into_internal_error)?;
        let answer = self.call(method, params).await?;
        serde_json::from_value(answer).map_err(|e| {
            Error::internal_error().data(format!("the client's answer to {method}: {e}"))
        })
    }

    async fn call(&self, method: &str, params: Value) -> Result<Value, Error> {
        let answer = self
            .0
            .request(method, params)
            .await
            .map_err(|_| Error::internal_error().data("the client went away"))?;
        answer.map_err(|error| {
            serde_json::from_value(error.clone())
                .unwrap_or_else(|_| Error::internal_error().data(error))
        })
    }

    /// Sends a `session/update`.
    pub fn notify(&self, notification: SessionNotification) {
        self.0
            .notify(CLIENT_METHOD_NAMES.session_update, notification);
    }

    fn answer(&self, id: Value, result: Result<Value, Error>) {
        match result {
            Ok(result) => self.0.respond(id, result),
            Err(error) => self.0.fail(id, error_object(&error)),
        }
    }
}

/// An error as the `error` member of an answer.
fn error_object(error: &Error) -> Value {
    serde_json::to_value(error).unwrap_or_else(
        |_| serde_json::json!({ "code": i32::from(error.code), "message": error.message }),
    )
}

/// Where the answer to one of the client's requests goes; answered once.
#[derive(Debug)]
pub struct Reply {
    cx: Connection,
    id: Value,
    /// Its place among the requests in flight, given back with the answer.
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Reply {
    /// The request's id.
    pub fn id(&self) -> &Value {
        &self.id
    }

    /// Answers with `result`.
    pub fn send(self, result: Result<impl Serialize, Error>) {
        let result = result
            .and_then(|value| serde_json::to_value(value).map_err(Error::into_internal_error));
        self.cx.answer(self.id, result);
    }

    /// Answers with `error`.
    pub fn fail(self, error: Error) {
        self.cx.answer(self.id, Err(error));
    }
}

/// Reads a request's `params` as `T`; a mismatch is `invalid_params`, naming the field at fault.
fn parse<T: DeserializeOwned>(params: Value) -> Result<T, Error> {
    crate::jsonrpc::params(params).map_err(|e| Error::invalid_params().data(e))
}

/// Answers `reply` with what `work` comes to, in a task of its own: a sign-in waits minutes for
/// a person, and may itself need the client's answers (an elicitation) to get there, so no
/// request waits on another.
fn answer_later<T: Serialize + 'static>(
    reply: Reply,
    work: impl std::future::Future<Output = Result<T, Error>> + Send + 'static,
) {
    crate::task::spawn(async move { reply.send(work.await) });
}

/// The state of one connection: what the client can do, its sessions, its login in progress.
pub struct Face {
    config: Config,
    cx: Connection,
    client: Mutex<ClientCapabilities>,
    sessions: session::Sessions,
    /// Who is signed in and the one login slot.
    accounts: crate::auth::Accounts,
    /// The requests the client may take back with `$/cancel_request`, by their id as JSON.
    cancellable: Mutex<HashMap<String, CancellationToken>>,
    /// Places for the requests in flight that wait on nothing of the client's: a client
    /// sending them faster than they are answered waits in the pipe, not in kelp's memory.
    slots: Arc<tokio::sync::Semaphore>,
}

/// Requests answered without waiting on the client, in flight at once at most.
const IN_FLIGHT: usize = 16;

/// Requests that may wait on the client (an elicitation, a permission, an editor's file):
/// never held back, or the client's answers behind them could not be read.
const WAITS_ON_CLIENT: [&str; 2] = ["authenticate", "session/prompt"];

impl Face {
    fn new(config: Config, http: reqwest::Client, cx: Connection) -> Self {
        Self {
            sessions: session::Sessions::default(),
            accounts: {
                let env_api_key = std::env::var("OPENAI_API_KEY").ok();
                crate::auth::Accounts::from_config(&config, http, env_api_key, None)
            },
            client: Mutex::default(),
            cancellable: Mutex::default(),
            slots: Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT)),
            config,
            cx,
        }
    }

    /// What the client said it can do in `initialize`.
    fn client(&self) -> ClientCapabilities {
        self.client
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A token that `$/cancel_request` for request `id` cancels, until [`Face::settled`].
    fn cancellation(&self, id: &Value) -> CancellationToken {
        let token = CancellationToken::new();
        self.cancellable
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_string(), token.clone());
        token
    }

    /// Request `id` has its answer: it can no longer be taken back.
    fn settled(&self, id: &Value) {
        self.cancellable
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id.to_string());
    }

    /// Handles one line from the client; a request that waits on nothing of the client's
    /// first waits for a place among those in flight.
    async fn handle_line(self: &Arc<Self>, line: &str) {
        match parse_line(line) {
            Err((id, error)) => {
                let code =
                    i32::try_from(error.code).unwrap_or(crate::jsonrpc::INVALID_REQUEST as i32);
                self.cx
                    .0
                    .fail(id, error_object(&Error::new(code, error.message)));
            }
            Ok(Incoming::Request { id, method, params }) => {
                let slot = if WAITS_ON_CLIENT.contains(&method.as_str()) {
                    None
                } else {
                    Arc::clone(&self.slots).acquire_owned().await.ok()
                };
                let reply = Reply {
                    cx: self.cx.clone(),
                    id,
                    _slot: slot,
                };
                self.request(&method, params, reply);
            }
            Ok(Incoming::Notification { method, params }) => self.notification(&method, params),
            Ok(Incoming::Response { id, result }) => {
                if !self.cx.0.answer(&id, result) {
                    tracing::warn!(%id, "an answer to no request of ours");
                }
            }
        }
    }

    /// Routes a request to its method. The ones that take time answer from tasks of their own.
    fn request(self: &Arc<Self>, method: &str, params: Value, reply: Reply) {
        macro_rules! with {
            ($kind:ty, |$request:ident| $body:expr) => {
                match parse::<$kind>(params) {
                    Ok($request) => $body,
                    Err(error) => reply.fail(error),
                }
            };
        }
        match method {
            "initialize" => with!(InitializeRequest, |request| self.initialize(request, reply)),
            "authenticate" => with!(AuthenticateRequest, |request| {
                auth::authenticate(Arc::clone(self), request, reply)
            }),
            "logout" => auth::logout(Arc::clone(self), reply),
            "session/new" => with!(NewSessionRequest, |request| {
                session::new(Arc::clone(self), request, reply)
            }),
            "session/load" => with!(LoadSessionRequest, |request| {
                session::load(Arc::clone(self), request, reply)
            }),
            "session/prompt" => with!(PromptRequest, |request| {
                let slash = match request.prompt.first() {
                    Some(ContentBlock::Text(text)) => commands::parse(&text.text),
                    _ => None,
                };
                match slash {
                    Some(slash) => self
                        .sessions
                        .command(self, &request.session_id.0, slash, reply),
                    None => self.sessions.prompt(request, reply),
                }
            }),
            "session/resume" => with!(ResumeSessionRequest, |request| {
                session::resume(Arc::clone(self), request, reply)
            }),
            "session/fork" => with!(ForkSessionRequest, |request| {
                session::fork(Arc::clone(self), request, reply)
            }),
            "session/list" => with!(ListSessionsRequest, |request| {
                history::list(Arc::clone(self), request, reply)
            }),
            "session/delete" => with!(DeleteSessionRequest, |request| {
                history::delete(Arc::clone(self), request, reply)
            }),
            "session/set_mode" => with!(SetSessionModeRequest, |request| {
                reply.send(self.sessions.set_mode(&request, &self.config, &self.cx))
            }),
            "session/set_config_option" => with!(SetSessionConfigOptionRequest, |request| {
                reply.send(self.sessions.set_option(&request, &self.config, &self.cx))
            }),
            "session/close" => with!(CloseSessionRequest, |request| {
                let face = Arc::clone(self);
                answer_later(reply, async move {
                    face.sessions.close(&request.session_id.0).await;
                    Ok(CloseSessionResponse::new())
                })
            }),
            other => reply.fail(Error::method_not_found().data(other.to_string())),
        }
    }

    fn notification(&self, method: &str, params: Value) {
        match method {
            "session/cancel" => match parse::<CancelNotification>(params) {
                Ok(notification) => self.sessions.cancel(&notification.session_id.0),
                Err(e) => tracing::info!(error = %e.message, "a session/cancel kelp cannot read"),
            },
            "$/cancel_request" => {
                let id = params.get("requestId").unwrap_or(&Value::Null);
                let token = self
                    .cancellable
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&id.to_string());
                if let Some(token) = token {
                    token.cancel();
                }
            }
            other => tracing::debug!(method = %other, "a notification kelp does not take"),
        }
    }

    /// `initialize`: kelp's capabilities and the ways to sign in this client can use.
    ///
    /// The auth methods are extended as JSON because one of them, `env_var`, is a kind the
    /// crate's v1 types do not have yet (see [`auth::env_var_method`]).
    fn initialize(&self, request: InitializeRequest, reply: Reply) {
        if let Some(info) = &request.client_info {
            tracing::info!(client = %info.name, version = %info.version, "acp initialize");
        }
        *self.client.lock().unwrap_or_else(PoisonError::into_inner) =
            request.client_capabilities.clone();
        let methods = auth::methods(&request.client_capabilities, &auth::environment());
        let capabilities = AgentCapabilities::new()
            .load_session(true)
            .mcp_capabilities(McpCapabilities::new().http(true))
            .prompt_capabilities(PromptCapabilities::new().embedded_context(true).image(true))
            .session_capabilities(
                SessionCapabilities::new()
                    .close(SessionCloseCapabilities::new())
                    .list(SessionListCapabilities::new())
                    .resume(SessionResumeCapabilities::new())
                    .fork(SessionForkCapabilities::new())
                    .delete(SessionDeleteCapabilities::new()),
            )
            .auth(AgentAuthCapabilities::new().logout(LogoutCapabilities::new()));
        let response = InitializeResponse::new(PROTOCOL_VERSION.into())
            .agent_capabilities(capabilities)
            .auth_methods(methods.typed)
            .agent_info(
                Implementation::new("kelp", env!("CARGO_PKG_VERSION")).title("kelp".to_string()),
            );
        let mut value = match serde_json::to_value(&response) {
            Ok(value) => value,
            Err(e) => return reply.fail(Error::into_internal_error(e)),
        };
        if let Some(list) = value
            .get_mut("authMethods")
            .and_then(serde_json::Value::as_array_mut)
        {
            list.extend(methods.env_var);
        }
        reply.send(Ok(value));
    }
}

/// Serves the protocol on stdin and stdout until stdin closes or a signal stops kelp; then
/// every session's turn and commands are stopped.
pub async fn serve(config: Config) -> anyhow::Result<Stopped> {
    let http = crate::llm::client::http_client()?;
    let (out, stdout) = Stdout::open(Dialect::JsonRpc2);
    let face = Arc::new(Face::new(config, http, Connection(out.clone())));
    let read = serve_stdin(&out, async |line: &str| face.handle_line(line).await).await;
    tracing::info!(?read, "the ACP agent stops");
    face.accounts.stop_login(None);
    face.sessions.shut_down().await;
    drop(face);
    stdout.close(out).await;
    read.map_err(|e| anyhow::anyhow!("reading the ACP client's input: {e}"))
}
