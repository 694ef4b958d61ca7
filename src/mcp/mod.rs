//! Model Context Protocol servers: starting them, their tools, and calls to them, with
//! `rmcp` as the client.
//!
//! Every enabled server starts at once, each on a task of its own, so none waits for another
//! and nothing waits for them: the first turn that needs tools waits for servers still
//! starting, each for at most its `startup_timeout_sec`. A server that fails to start, or stops
//! (a crash, a closed connection), is reported once and left out; the next turn starts it
//! again in the background. A call has its server's `tool_timeout_sec`; a call that times out
//! or is cancelled is abandoned, and `rmcp` tells the server with `notifications/cancelled`.

pub mod tools;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rmcp::ServiceExt;
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation, JsonObject,
};
use rmcp::service::{RoleClient, RunningService, ServiceError};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use serde_json::Value;
use tokio::io::AsyncBufReadExt;
use tokio_util::sync::CancellationToken;

use crate::config::{McpServerConfig, McpTransport};

/// The most of a server's stderr kept, to say why it stopped.
const STDERR_TAIL: usize = 2 * 1024;

/// One tool the model may call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpTool {
    /// The name the model calls it by: `server__tool`, made valid and distinct.
    pub exposed: String,
    /// The server's name in the config.
    pub server: String,
    /// The tool's own name on its server.
    pub name: String,
    /// What the server says it does.
    pub description: String,
    /// Its arguments' JSON schema, as the Responses API takes it.
    pub parameters: Value,
    /// The server marks it read-only (`annotations.readOnlyHint`).
    pub read_only: bool,
    /// The config lets it run without asking (`approved_tools`).
    pub approved: bool,
}

impl McpTool {
    /// The Responses API `tools` entry.
    pub fn spec(&self) -> Value {
        serde_json::json!({
            "type": "function",
            "name": self.exposed,
            "description": self.description,
            "strict": false,
            "parameters": self.parameters,
        })
    }
}

/// Where a server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerState {
    /// `enabled = false`.
    Disabled,
    /// Starting, or started again.
    Starting,
    /// Connected; the names of the tools it offers.
    Ready { tools: Vec<String> },
    /// It did not start, or it stopped; why.
    Failed { reason: String },
}

/// A server, as `/mcp` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerStatus {
    pub name: String,
    /// `stdio: command args` or `http: url`.
    pub endpoint: String,
    pub state: ServerState,
    /// Tools left out, each with why (a schema the Responses API refuses).
    pub skipped: Vec<String>,
}

/// What the manager tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum McpUpdate {
    /// Every server's status, after any change.
    Servers(Vec<ServerStatus>),
    /// A server failed to start or stopped: said once per failure.
    Problem(String),
}

type Notify = Arc<dyn Fn(McpUpdate) + Send + Sync>;

/// The MCP servers of one agent: cheap to clone; dropping the last clone stops them.
#[derive(Clone)]
pub struct McpManager {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for McpManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self
            .inner
            .servers
            .iter()
            .map(|s| s.config.name.as_str())
            .collect();
        f.debug_struct("McpManager")
            .field("servers", &names)
            .finish()
    }
}

impl PartialEq for McpManager {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for McpManager {}

struct Inner {
    servers: Vec<Arc<Server>>,
    http: reqwest::Client,
    /// Where stdio servers run unless their entry says otherwise.
    project_dir: PathBuf,
    notify: Notify,
}

struct Server {
    config: McpServerConfig,
    status: Mutex<Status>,
    /// The connection; held locked while (re)starting, so callers wait for one start.
    link: Arc<tokio::sync::Mutex<Option<Arc<Link>>>>,
}

struct Status {
    state: ServerState,
    skipped: Vec<String>,
    /// The last failure reported, so the same one is not said again.
    reported: Option<String>,
    /// Its last start succeeded: a turn waits for such a server to start again after it
    /// stopped, but not for one that keeps failing to start.
    was_up: bool,
}

/// A running connection and what it offers.
struct Link {
    service: RunningService<RoleClient, ClientConfig>,
    /// The tools offered: own name, description, parameters, read-only.
    tools: Vec<(String, String, Value, bool)>,
    /// Tools left out, each with why.
    skipped: Vec<String>,
    /// The end of a stdio server's stderr, to say why it stopped.
    stderr: Arc<Mutex<String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl McpManager {
    /// Starts every enabled server of `servers` in the background and returns at once.
    /// `notify` hears about status changes and failures (from the servers' tasks).
    pub fn start(
        servers: Vec<McpServerConfig>,
        http: reqwest::Client,
        project_dir: PathBuf,
        notify: impl Fn(McpUpdate) + Send + Sync + 'static,
    ) -> Self {
        let servers: Vec<Arc<Server>> = servers
            .into_iter()
            .map(|config| {
                let state = if config.enabled {
                    ServerState::Starting
                } else {
                    ServerState::Disabled
                };
                Arc::new(Server {
                    config,
                    status: Mutex::new(Status {
                        state,
                        skipped: Vec::new(),
                        reported: None,
                        was_up: false,
                    }),
                    link: Arc::new(tokio::sync::Mutex::new(None)),
                })
            })
            .collect();
        let manager = Self {
            inner: Arc::new(Inner {
                servers,
                http,
                project_dir,
                notify: Arc::new(notify),
            }),
        };
        for server in &manager.inner.servers {
            if server.config.enabled {
                manager.spawn_start(server);
            }
        }
        manager.send_statuses();
        manager
    }

    /// Whether any server is configured.
    pub fn is_empty(&self) -> bool {
        self.inner.servers.is_empty()
    }

    /// Every server's status, in the config's order.
    pub fn statuses(&self) -> Vec<ServerStatus> {
        self.inner
            .servers
            .iter()
            .map(|server| {
                let status = lock(&server.status);
                ServerStatus {
                    name: server.config.name.clone(),
                    endpoint: endpoint(&server.config.transport),
                    state: status.state.clone(),
                    skipped: status.skipped.clone(),
                }
            })
            .collect()
    }

    fn send_statuses(&self) {
        (self.inner.notify)(McpUpdate::Servers(self.statuses()));
    }

    /// Starts `server` on a task of its own; its link stays locked until it is up or failed.
    fn spawn_start(&self, server: &Arc<Server>) {
        // Taken before the task runs, so a turn asking for tools right away waits for it.
        let Ok(mut guard) = server.link.clone().try_lock_owned() else {
            return;
        };
        let (manager, server) = (self.clone(), server.clone());
        tokio::spawn(async move {
            let started = tokio::time::timeout(
                server.config.startup_timeout,
                connect(
                    &server.config,
                    &manager.inner.http,
                    &manager.inner.project_dir,
                ),
            )
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "did not start within {} s",
                    server.config.startup_timeout.as_secs_f64()
                ))
            });
            match started {
                Ok(link) => {
                    let (offered, skipped) = offered(&server.config, &link);
                    {
                        let mut status = lock(&server.status);
                        status.state = ServerState::Ready { tools: offered };
                        status.skipped = skipped;
                        status.reported = None;
                        status.was_up = true;
                    }
                    *guard = Some(Arc::new(link));
                }
                Err(reason) => {
                    *guard = None;
                    manager.failed(&server, reason);
                    lock(&server.status).was_up = false;
                }
            }
            drop(guard);
            manager.send_statuses();
        });
    }

    /// Marks `server` failed and says so, unless this very failure was said already.
    fn failed(&self, server: &Server, reason: String) {
        let say = {
            let mut status = lock(&server.status);
            status.state = ServerState::Failed {
                reason: reason.clone(),
            };
            let new = status.reported.as_deref() != Some(reason.as_str());
            status.reported = Some(reason.clone());
            new
        };
        tracing::warn!(server = %server.config.name, %reason, "MCP server unavailable");
        if say {
            (self.inner.notify)(McpUpdate::Problem(format!(
                "MCP server `{}` {reason}; kelp goes on without it",
                server.config.name
            )));
        }
    }

    /// At the start of a turn: servers that failed or stopped start again on tasks of their own.
    pub fn revive(&self) {
        for server in &self.inner.servers {
            let down = matches!(lock(&server.status).state, ServerState::Failed { .. });
            let stopped = server
                .link
                .try_lock()
                .ok()
                .and_then(|link| link.as_ref().map(|l| l.service.is_closed()))
                .unwrap_or(false);
            if stopped {
                let reason = self.stop_reason(server);
                if let Ok(mut link) = server.link.try_lock() {
                    *link = None;
                }
                self.failed(server, reason);
            }
            if down || stopped {
                lock(&server.status).state = ServerState::Starting;
                self.spawn_start(server);
            }
        }
        self.send_statuses();
    }

    /// Why a server's connection closed: the end of its stderr when it has one.
    fn stop_reason(&self, server: &Server) -> String {
        let tail = server
            .link
            .try_lock()
            .ok()
            .and_then(|link| link.as_ref().map(|l| lock(&l.stderr).clone()))
            .unwrap_or_default();
        let last = tail.lines().rev().find(|l| !l.trim().is_empty());
        match last {
            Some(line) => format!("stopped ({})", line.trim()),
            None => "stopped".to_string(),
        }
    }

    /// The tools of every server that is up. Waits for servers on their first start or
    /// starting again after they stopped (each bounded by its startup timeout); a server that
    /// failed to start last time is skipped until it is up.
    pub async fn tools(&self) -> Vec<McpTool> {
        let mut found = Vec::new();
        for server in &self.inner.servers {
            let wait = {
                let status = lock(&server.status);
                matches!(status.state, ServerState::Starting)
                    && (status.reported.is_none() || status.was_up)
            };
            let link = if wait {
                server.link.lock().await.clone()
            } else {
                server.link.try_lock().ok().and_then(|link| link.clone())
            };
            let Some(link) = link else { continue };
            for (name, description, parameters, read_only) in &link.tools {
                if server.config.offers(name) {
                    found.push((
                        server,
                        name.clone(),
                        description.clone(),
                        parameters.clone(),
                        *read_only,
                    ));
                }
            }
        }
        let names = tools::exposed_names(
            found
                .iter()
                .map(|(server, name, ..)| (server.config.name.as_str(), name.as_str())),
        );
        found
            .into_iter()
            .zip(names)
            .map(
                |((server, name, description, parameters, read_only), exposed)| McpTool {
                    exposed,
                    server: server.config.name.clone(),
                    approved: server.config.approves(&name),
                    name,
                    description,
                    parameters,
                    read_only,
                },
            )
            .collect()
    }

    /// Calls `tool` with `arguments`. Errors, timeouts and a server that stops are a failed
    /// result with a message for the model, never an error of the turn.
    pub async fn call(
        &self,
        tool: &McpTool,
        arguments: Option<JsonObject>,
        cancel: CancellationToken,
    ) -> CallOutcome {
        let Some(server) = self
            .inner
            .servers
            .iter()
            .find(|s| s.config.name == tool.server)
        else {
            return CallOutcome::failed(format!("no MCP server is named `{}`", tool.server));
        };
        let link = tokio::select! {
            biased;
            () = cancel.cancelled() => return CallOutcome::cancelled(),
            link = server.link.lock() => link.clone(),
        };
        let Some(link) = link else {
            let why = match &lock(&server.status).state {
                ServerState::Failed { reason } => format!(" ({reason})"),
                _ => String::new(),
            };
            return CallOutcome::failed(format!(
                "the MCP server `{}` is not running{why}; it is started again on the next turn",
                tool.server
            ));
        };
        let mut params = CallToolRequestParams::new(tool.name.clone());
        if let Some(arguments) = arguments {
            params = params.with_arguments(arguments);
        }
        let timeout = server.config.tool_timeout;
        // Dropping the call (cancel, timeout) makes rmcp send `notifications/cancelled`.
        let answer = tokio::select! {
            biased;
            () = cancel.cancelled() => return CallOutcome::cancelled(),
            answer = tokio::time::timeout(timeout, link.service.peer().call_tool(params)) => answer,
        };
        match answer {
            Err(_) => CallOutcome::failed(format!(
                "the MCP tool `{}` did not answer within {}; the call was cancelled",
                tool.name,
                crate::humanize::duration_words(timeout)
            )),
            Ok(Ok(result)) => CallOutcome {
                text: tools::result_text(&result),
                success: result.is_error != Some(true),
                cancelled: false,
            },
            Ok(Err(e))
                if link.service.is_closed() || matches!(e, ServiceError::TransportClosed) =>
            {
                let reason = self.stop_reason(server);
                if let Ok(mut slot) = server.link.try_lock() {
                    *slot = None;
                }
                self.failed(server, reason.clone());
                self.send_statuses();
                CallOutcome::failed(format!(
                    "the MCP server `{}` {reason} during the call; it is started again on the next turn",
                    tool.server
                ))
            }
            Ok(Err(ServiceError::McpError(e))) => CallOutcome::failed(format!(
                "the MCP server `{}` refused the call: {}",
                tool.server, e.message
            )),
            Ok(Err(e)) => CallOutcome::failed(format!(
                "the call to the MCP server `{}` failed: {e}",
                tool.server
            )),
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOutcome {
    /// What the model gets.
    pub text: String,
    /// The tool did what was asked (`isError` not set).
    pub success: bool,
    pub cancelled: bool,
}

impl CallOutcome {
    fn failed(text: String) -> Self {
        Self {
            text,
            success: false,
            cancelled: false,
        }
    }

    fn cancelled() -> Self {
        Self {
            text: "Cancelled by the user.".to_string(),
            success: false,
            cancelled: true,
        }
    }
}

/// `stdio: command args` or `http: url`, for `/mcp`.
fn endpoint(transport: &McpTransport) -> String {
    match transport {
        McpTransport::Stdio { command, args, .. } => {
            let mut text = format!("stdio: {command}");
            for arg in args {
                text.push(' ');
                text.push_str(arg);
            }
            text
        }
        McpTransport::Http { url, .. } => format!("http: {url}"),
    }
}

/// The tools `link` offers under `config`, and the ones left out with why.
fn offered(config: &McpServerConfig, link: &Link) -> (Vec<String>, Vec<String>) {
    let offered = link
        .tools
        .iter()
        .filter(|(name, ..)| config.offers(name))
        .map(|(name, ..)| name.clone())
        .collect();
    (offered, link.skipped.clone())
}

/// What kelp says of itself in `initialize`.
fn client_info() -> ClientConfig {
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("kelp", env!("CARGO_PKG_VERSION")),
    )
}

/// Starts one server and lists its tools. `Err` is a reason for a person, without secrets.
async fn connect(
    config: &McpServerConfig,
    http: &reqwest::Client,
    project_dir: &std::path::Path,
) -> Result<Link, String> {
    let stderr = Arc::new(Mutex::new(String::new()));
    let service = match &config.transport {
        McpTransport::Stdio {
            command,
            args,
            env,
            cwd,
        } => {
            let mut cmd = tokio::process::Command::new(command);
            cmd.args(args)
                .envs(env.iter().map(|(k, v)| (k, v)))
                .current_dir(cwd.as_deref().unwrap_or(project_dir))
                .kill_on_drop(true);
            // Its own process group: the terminal's signals are kelp's to handle.
            #[cfg(unix)]
            cmd.process_group(0);
            let (transport, err) = TokioChildProcess::builder(cmd)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .map_err(|e| format!("could not run `{command}`: {e}"))?;
            if let Some(err) = err {
                keep_stderr(config.name.clone(), err, stderr.clone());
            }
            client_info().serve(transport).await.map_err(|e| {
                let tail = lock(&stderr).clone();
                match tail.lines().rev().find(|l| !l.trim().is_empty()) {
                    Some(line) => format!("did not start: {e} ({})", line.trim()),
                    None => format!("did not start: {e}"),
                }
            })?
        }
        McpTransport::Http {
            url,
            headers,
            env_headers,
            bearer_token_env_var,
        } => {
            let mut transport_config = StreamableHttpClientTransportConfig::with_uri(url.as_str());
            if let Some(var) = bearer_token_env_var {
                let token = std::env::var(var)
                    .ok()
                    .filter(|t| !t.trim().is_empty())
                    .ok_or_else(|| format!("needs a bearer token in ${var}, which is not set"))?;
                transport_config = transport_config.auth_header(token);
            }
            let mut all = HashMap::new();
            let from_env = env_headers.iter().filter_map(|(name, var)| {
                std::env::var(var).ok().map(|value| (name.clone(), value))
            });
            for (name, value) in headers.iter().cloned().chain(from_env) {
                let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("has an invalid header name `{name}`"))?;
                let value = reqwest::header::HeaderValue::from_str(&value)
                    .map_err(|_| format!("has an invalid value for the header `{name}`"))?;
                all.insert(name, value);
            }
            transport_config = transport_config.custom_headers(all);
            let transport =
                StreamableHttpClientTransport::with_client(http.clone(), transport_config);
            client_info()
                .serve(transport)
                .await
                .map_err(|e| format!("did not start: {e}"))?
        }
    };
    let listed = service
        .peer()
        .list_all_tools()
        .await
        .map_err(|e| format!("did not list its tools: {e}"))?;
    let tools = listed
        .into_iter()
        .map(|tool| {
            let read_only = tool
                .annotations
                .as_ref()
                .and_then(|a| a.read_only_hint)
                .unwrap_or(false);
            let parameters = tools::function_parameters(&tool.input_schema);
            (
                tool.name.to_string(),
                tool.description.map(|d| d.to_string()).unwrap_or_default(),
                parameters,
                read_only,
            )
        })
        .collect::<Vec<_>>();
    let (mut kept, mut skipped) = (Vec::new(), Vec::new());
    for (name, description, parameters, read_only) in tools {
        match parameters {
            Ok(parameters) => kept.push((name, description, parameters, read_only)),
            Err(why) if config.offers(&name) => {
                tracing::warn!(server = %config.name, tool = %name, %why, "MCP tool skipped");
                skipped.push(format!("{name}: {why}"));
            }
            Err(_) => {}
        }
    }
    Ok(Link {
        service,
        tools: kept,
        skipped,
        stderr,
    })
}

/// Logs a stdio server's stderr and keeps its end, to say why the server stopped.
fn keep_stderr(name: String, err: tokio::process::ChildStderr, tail: Arc<Mutex<String>>) {
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(err).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::debug!(server = %name, "{line}");
            let mut kept = lock(&tail);
            kept.push_str(&line);
            kept.push('\n');
            crate::humanize::keep_tail(&mut kept, STDERR_TAIL, STDERR_TAIL * 2);
        }
    });
}
