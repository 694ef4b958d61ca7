//! Model Context Protocol servers: starting them, their tools, and calls to them, with
//! `rmcp` as the client.
//!
//! Every enabled server starts at once, each on a task of its own, so none waits for another
//! and nothing waits for them: the first turn that needs tools waits for servers still
//! starting, each for at most its `startup_timeout_sec`. A server that fails to start, or stops
//! (a crash, a closed connection), is reported once and left out; the next turn starts it
//! again in the background. A call has its server's `tool_timeout_sec`; a call that times out
//! or is cancelled is abandoned, and `rmcp` tells the server with `notifications/cancelled`.
//!
//! Its other files:
//! - `link.rs`: a running connection to one server: starting it (stdio or HTTP) and the tools
//!   it offers.
//! - `oauth.rs`: signing in to an MCP server over streamable HTTP with OAuth, as the MCP
//!   authorization spec has it.
//! - `tools.rs`: what the model sees of MCP tools, and what it gets back.

mod link;
pub mod oauth;
pub mod tools;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rmcp::model::{CallToolRequestParams, JsonObject};
use rmcp::service::ServiceError;
use serde_json::Value;

use crate::config::{McpServerConfig, McpTransport};
use crate::protocol::{ServerState, ServerStatus};
use link::{Link, connect};

/// One tool the model may call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpTool {
    /// The name the model calls it by: `server__tool`, made valid and distinct.
    pub exposed: String,
    /// The server's name in the config.
    pub server: String,
    /// Which of the manager's servers it is (two servers may share a name: an ACP session's
    /// and the config's).
    pub slot: usize,
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
    /// The OAuth logins of servers over HTTP (`mcp-auth.json`), when there are any to use.
    logins: Option<PathBuf>,
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
        logins: Option<PathBuf>,
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
                logins,
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

    /// How `config`'s server is signed in to, when it is one over HTTP.
    fn auth_of(&self, config: &McpServerConfig) -> Option<&'static str> {
        match oauth::auth_state(config, self.inner.logins.as_deref()) {
            oauth::AuthState::Unsupported => None,
            oauth::AuthState::BearerToken => Some("a bearer token from its variable"),
            oauth::AuthState::OAuth => Some("signed in with OAuth (`kelp mcp logout` forgets it)"),
            oauth::AuthState::None => {
                Some("no sign-in (`kelp mcp login` signs in where the server wants one)")
            }
        }
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
                    auth: self.auth_of(&server.config),
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
        crate::task::spawn(async move {
            let started = tokio::time::timeout(
                server.config.startup_timeout,
                connect(
                    &server.config,
                    &manager.inner.http,
                    &manager.inner.project_dir,
                    manager.inner.logins.as_deref(),
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
                    {
                        let mut status = lock(&server.status);
                        status.state = ServerState::Ready {
                            tools: link.tools.iter().map(|t| t.name.clone()).collect(),
                        };
                        status.skipped = link.skipped.clone();
                        status.reported = None;
                        status.was_up = true;
                    }
                    if let Some(warning) = &link.warning {
                        (manager.inner.notify)(McpUpdate::Problem(format!(
                            "MCP server `{}` {warning}",
                            server.config.name
                        )));
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
            let then = if server.config.required {
                "turns fail until it starts (required = true)"
            } else {
                "kelp goes on without it"
            };
            (self.inner.notify)(McpUpdate::Problem(format!(
                "MCP server `{}` {reason}; {then}",
                server.config.name
            )));
        }
    }

    /// At the start of a turn: servers that failed or stopped start again on tasks of their own.
    pub fn revive(&self) {
        let mut changed = false;
        for server in &self.inner.servers {
            // A server being started holds its link; it is left to that start.
            let Ok(link) = server.link.try_lock() else {
                continue;
            };
            if let Some(closed) = link.as_ref().filter(|l| l.service.is_closed()).cloned() {
                drop(link);
                self.stopped(server, &closed);
            } else {
                drop(link);
            }
            if matches!(lock(&server.status).state, ServerState::Failed { .. }) {
                lock(&server.status).state = ServerState::Starting;
                self.spawn_start(server);
                changed = true;
            }
        }
        if changed {
            self.send_statuses();
        }
    }

    /// `link` of `server` has closed: it is let go and the failure said (once). Returns why.
    fn stopped(&self, server: &Server, link: &Arc<Link>) -> String {
        let reason = match link.stderr.last_line() {
            Some(line) => format!("stopped ({line})"),
            None => "stopped".to_string(),
        };
        if let Ok(mut slot) = server.link.try_lock()
            && slot.as_ref().is_some_and(|held| Arc::ptr_eq(held, link))
        {
            *slot = None;
        }
        self.failed(server, reason.clone());
        reason
    }

    /// The tools of every server that is up. Waits for servers on their first start or
    /// starting again after they stopped (each bounded by its startup timeout); a server that
    /// failed to start last time is skipped until it is up, unless it is required.
    pub async fn tools(&self) -> Vec<McpTool> {
        let mut found = Vec::new();
        for (slot, server) in self.inner.servers.iter().enumerate() {
            // A required server is waited for on every try: the turn does not go on without it.
            let wait = {
                let status = lock(&server.status);
                matches!(status.state, ServerState::Starting)
                    && (status.reported.is_none() || status.was_up || server.config.required)
            };
            let link = if wait {
                server.link.lock().await.clone()
            } else {
                server.link.try_lock().ok().and_then(|link| link.clone())
            };
            if let Some(link) = link {
                found.push((slot, server, link));
            }
        }
        let names = tools::exposed_names(found.iter().flat_map(|(_, server, link)| {
            link.tools
                .iter()
                .map(|tool| (server.config.name.as_str(), tool.name.as_str()))
        }));
        let tools = found.iter().flat_map(|(slot, server, link)| {
            link.tools.iter().map(move |tool| McpTool {
                exposed: String::new(),
                server: server.config.name.clone(),
                slot: *slot,
                name: tool.name.clone(),
                description: tool.description.clone(),
                parameters: tool.parameters.clone(),
                read_only: tool.read_only,
                approved: server.config.approves(&tool.name),
            })
        });
        tools
            .zip(names)
            .map(|(tool, exposed)| McpTool { exposed, ..tool })
            .collect()
    }

    /// A server marked `required` that is enabled and did not start, and why: a turn does not
    /// go on without it.
    pub fn required_down(&self) -> Option<(String, String)> {
        self.inner.servers.iter().find_map(|server| {
            if !server.config.required {
                return None;
            }
            match &lock(&server.status).state {
                ServerState::Failed { reason } => {
                    Some((server.config.name.clone(), reason.clone()))
                }
                _ => None,
            }
        })
    }

    /// Calls `tool` with `arguments`. Errors, timeouts and a server that stops are a failed
    /// result with a message for the model, never an error of the turn. Dropping the future
    /// (a cancelled turn) abandons the call, and rmcp tells the server with
    /// `notifications/cancelled`.
    pub async fn call(&self, tool: &McpTool, arguments: Option<JsonObject>) -> CallOutcome {
        let Some(server) = self.inner.servers.get(tool.slot) else {
            return CallOutcome::failed(format!("no MCP server is named `{}`", tool.server));
        };
        let link = server.link.lock().await.clone();
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
        let answer = tokio::time::timeout(timeout, link.service.peer().call_tool(params)).await;
        match answer {
            Err(_) => CallOutcome::failed(format!(
                "the MCP tool `{}` did not answer within {}; the call was cancelled",
                tool.name,
                crate::humanize::duration_words(timeout)
            )),
            Ok(Ok(result)) => CallOutcome {
                text: tools::result_text(&result),
                success: result.is_error != Some(true),
            },
            Ok(Err(e))
                if link.service.is_closed() || matches!(e, ServiceError::TransportClosed) =>
            {
                link.stderr.read_to_end().await;
                let reason = self.stopped(server, &link);
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
}

impl CallOutcome {
    fn failed(text: String) -> Self {
        Self {
            text,
            success: false,
        }
    }
}

/// `stdio: command args` or `http: url`, as `/mcp` and `kelp mcp list` show a server.
pub fn endpoint(transport: &McpTransport) -> String {
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

/// The `/mcp` report: each server, where it is and its tools.
pub fn report(servers: &[ServerStatus], config_file: &std::path::Path) -> String {
    if servers.is_empty() {
        return format!(
            "No MCP servers. Add one to {}, for example:\n\n\
             [mcp_servers.docs]\n\
             command = \"docs-mcp\"\n\
             args = [\"--stdio\"]\n\n\
             or, for a server over HTTP, url = \"https://…/mcp\". A server's table takes: {}.",
            crate::humanize::home_path(config_file),
            crate::config::mcp::SERVER_KEYS.join(", ")
        );
    }
    let mut text = String::from("MCP servers");
    for server in servers {
        text.push_str(&format!("\n\n{} · {}", server.name, server.endpoint));
        match &server.state {
            ServerState::Disabled => text.push_str("\n  disabled (enabled = false)"),
            ServerState::Starting => text.push_str("\n  starting…"),
            ServerState::Failed { reason } => text.push_str(&format!("\n  failed: {reason}")),
            ServerState::Ready { tools } if tools.is_empty() => {
                text.push_str("\n  ready, no tools offered")
            }
            ServerState::Ready { tools } => {
                let count = if tools.len() == 1 {
                    "1 tool".to_string()
                } else {
                    format!("{} tools", tools.len())
                };
                text.push_str(&format!("\n  ready, {count}: {}", tools.join(", ")));
            }
        }
        if let Some(auth) = server.auth {
            text.push_str(&format!("\n  auth: {auth}"));
        }
        for skipped in &server.skipped {
            text.push_str(&format!("\n  left out: {skipped}"));
        }
    }
    text
}
