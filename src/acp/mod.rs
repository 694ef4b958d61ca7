//! `kelp acp`: kelp as an Agent Client Protocol agent (JSON-RPC 2.0 over stdio, one object per
//! line), for editors such as Zed that run coding agents as subprocesses.
//!
//! A thin face over what the TUI uses: logins go through the one login state machine and auth
//! store ([`auth`]), conversations through agent cores driven by `Op`/`Event` ([`session`]),
//! whose events become `session/update` notifications ([`updates`]). The protocol types and the
//! connection are the `agent-client-protocol` crate's. Stdout carries protocol messages only;
//! logs go to the log file. When stdin closes, every session stops and kelp exits.

pub mod auth;
pub mod editor;
pub mod session;
pub mod updates;

use std::sync::{Arc, Mutex, PoisonError};

use agent_client_protocol::v1::Responder;
use agent_client_protocol::v1::schema::{
    AgentAuthCapabilities, AgentCapabilities, AuthenticateRequest, CancelNotification,
    ClientCapabilities, CloseSessionRequest, CloseSessionResponse, Implementation,
    InitializeRequest, InitializeResponse, LoadSessionRequest, LogoutCapabilities, LogoutRequest,
    McpCapabilities, NewSessionRequest, PromptCapabilities, PromptRequest, SessionCapabilities,
    SessionCloseCapabilities,
};
use agent_client_protocol::{
    Agent, Client, Handled, JsonRpcMessage, Lines, UntypedMessage, on_receive_notification,
    on_receive_request,
};

use crate::config::Config;

/// The connection to the editor, as the agent side holds it.
pub type Connection = agent_client_protocol::v1::ConnectionTo<Client>;

/// The protocol version kelp speaks.
const PROTOCOL_VERSION: u16 = 1;

/// The state of one connection: what the client can do, its sessions, its login in progress.
pub struct Face {
    config: Config,
    http: reqwest::Client,
    client: Mutex<ClientCapabilities>,
    sessions: session::Sessions,
    logins: auth::Logins,
}

impl Face {
    fn new(config: Config, http: reqwest::Client) -> Self {
        Self {
            sessions: session::Sessions::default(),
            logins: auth::Logins::default(),
            client: Mutex::default(),
            config,
            http,
        }
    }

    /// What the client said it can do in `initialize`.
    fn client(&self) -> ClientCapabilities {
        self.client
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// `initialize`: kelp's capabilities and the ways to sign in this client can use.
    ///
    /// Answered as JSON because one of the methods, `env_var`, is a kind the crate's v1 types
    /// do not have yet (see [`auth::env_var_method`]).
    fn initialize(
        &self,
        raw: UntypedMessage,
        responder: Responder,
    ) -> agent_client_protocol::Result<()> {
        let request = match InitializeRequest::parse_message(raw.method(), raw.params()) {
            Ok(request) => request,
            Err(error) => return responder.respond_with_error(error),
        };
        tracing::info!(
            client = ?request.client_info.as_ref().map(|i| (&i.name, &i.version)),
            protocol = ?request.protocol_version,
            "acp initialize"
        );
        *self.client.lock().unwrap_or_else(PoisonError::into_inner) =
            request.client_capabilities.clone();
        let methods = auth::methods(&request.client_capabilities, &auth::environment());
        let capabilities = AgentCapabilities::new()
            .load_session(true)
            .mcp_capabilities(McpCapabilities::new().http(true))
            .prompt_capabilities(PromptCapabilities::new().embedded_context(true))
            .session_capabilities(SessionCapabilities::new().close(SessionCloseCapabilities::new()))
            .auth(AgentAuthCapabilities::new().logout(LogoutCapabilities::new()));
        let response = InitializeResponse::new(PROTOCOL_VERSION.into())
            .agent_capabilities(capabilities)
            .auth_methods(methods.typed)
            .agent_info(
                Implementation::new("kelp", env!("CARGO_PKG_VERSION")).title("kelp".to_string()),
            );
        let mut value = match serde_json::to_value(&response) {
            Ok(value) => value,
            Err(e) => return responder.respond_with_internal_error(e),
        };
        if let Some(list) = value
            .get_mut("authMethods")
            .and_then(serde_json::Value::as_array_mut)
        {
            list.extend(methods.env_var);
        }
        responder.respond(value)
    }
}

/// Answers `responder` with what `work` comes to, in a task of its own. Handlers run inside the
/// connection's dispatch loop, which must not wait on them: a sign-in waits minutes for a person,
/// and may itself need the client's answers (an elicitation) to get there.
fn answer_later<T>(
    responder: Responder<T>,
    work: impl std::future::Future<Output = agent_client_protocol::Result<T>> + Send + 'static,
) where
    T: agent_client_protocol::JsonRpcResponse + Send + 'static,
{
    tokio::spawn(async move {
        let _ = responder.respond_with_result(work.await);
    });
}

/// Serves the protocol on stdin and stdout until stdin closes; then every session's turn and
/// commands are stopped.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let http = crate::llm::client::http_client()?;
    let face = Arc::new(Face::new(config, http));
    let (lines, to_write) = tokio::sync::mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(crate::stdio::write_lines(to_write, tokio::io::stdout()));
    let outgoing = futures_util::sink::unfold(lines, |lines, line: String| async move {
        lines.send(line).map_err(std::io::Error::other)?;
        Ok::<_, std::io::Error>(lines)
    });
    let transport = Lines::new(Box::pin(outgoing), crate::stdio::stdin_lines());
    let result = Agent
        .v1()
        .name("kelp")
        .on_receive_request(
            {
                let face = Arc::clone(&face);
                async move |raw: UntypedMessage, responder: Responder, _cx: Connection| {
                    if raw.method() != "initialize" {
                        return Ok(Handled::No {
                            message: (raw, responder),
                            retry: false,
                        });
                    }
                    face.initialize(raw, responder)?;
                    Ok(Handled::Yes)
                }
            },
            on_receive_request!(),
        )
        .on_receive_request(
            {
                let face = Arc::clone(&face);
                async move |request: AuthenticateRequest, responder, cx: Connection| {
                    auth::authenticate(Arc::clone(&face), request, responder, cx);
                    Ok(())
                }
            },
            on_receive_request!(),
        )
        .on_receive_request(
            {
                let face = Arc::clone(&face);
                async move |_: LogoutRequest, responder, _cx: Connection| {
                    auth::logout(Arc::clone(&face), responder);
                    Ok(())
                }
            },
            on_receive_request!(),
        )
        .on_receive_request(
            {
                let face = Arc::clone(&face);
                async move |request: NewSessionRequest, responder, cx: Connection| {
                    session::new(Arc::clone(&face), request, responder, cx);
                    Ok(())
                }
            },
            on_receive_request!(),
        )
        .on_receive_request(
            {
                let face = Arc::clone(&face);
                async move |request: LoadSessionRequest, responder, cx: Connection| {
                    session::load(Arc::clone(&face), request, responder, cx);
                    Ok(())
                }
            },
            on_receive_request!(),
        )
        .on_receive_request(
            {
                let face = Arc::clone(&face);
                async move |request: PromptRequest, responder, _cx: Connection| {
                    face.sessions.prompt(request, responder)
                }
            },
            on_receive_request!(),
        )
        .on_receive_request(
            {
                let face = Arc::clone(&face);
                async move |request: CloseSessionRequest, responder, _cx: Connection| {
                    let face = Arc::clone(&face);
                    answer_later(responder, async move {
                        face.sessions.close(&request.session_id.0).await;
                        Ok(CloseSessionResponse::new())
                    });
                    Ok(())
                }
            },
            on_receive_request!(),
        )
        .on_receive_notification(
            {
                let face = Arc::clone(&face);
                async move |notification: CancelNotification, _cx: Connection| {
                    face.sessions.cancel(&notification.session_id.0);
                    Ok(())
                }
            },
            on_receive_notification!(),
        )
        .connect_to(transport)
        .await;
    tracing::info!("stdin closed: the ACP agent stops");
    face.logins.cancel();
    face.sessions.shut_down().await;
    // What is queued still goes out (the connection dropped its sender).
    let _ = tokio::time::timeout(std::time::Duration::from_millis(500), writer).await;
    result.map_err(|e| anyhow::anyhow!("the ACP connection failed: {e}"))
}
