//! A running connection to one MCP server: starting it (a stdio program with a scrubbed
//! environment, or streamable HTTP with its token and headers) and the tools it offers.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::TryFutureExt;
use futures_util::future::Either;
use rmcp::ServiceExt;
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation};
use rmcp::service::{RoleClient, RunningService, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess, Transport};
use serde_json::Value;
use std::sync::Mutex;
use tokio::io::AsyncBufReadExt;

use super::{lock, oauth, tools};
use crate::config::{McpServerConfig, McpTransport};

/// The most of a server's stderr kept, to say why it stopped.
pub(super) const STDERR_TAIL: usize = 2 * 1024;

/// How long a server's stopping waits for the rest of its stderr: the process has usually
/// exited, and its last words may still be in the pipe when its stdout is seen to close.
pub(super) const STDERR_END_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// A tool as its server lists it, once its schema is made one the Responses API takes.
pub(super) struct ServerTool {
    pub(super) name: String,
    pub(super) description: String,
    pub(super) parameters: Value,
    pub(super) read_only: bool,
}

/// A running connection and what it offers.
pub(super) struct Link {
    pub(super) service: RunningService<RoleClient, ClientConfig>,
    /// The tools the config lets the model see.
    pub(super) tools: Vec<ServerTool>,
    /// What to tell the person once it is up (tools left out past the cap).
    pub(super) warning: Option<String>,
    /// Tools left out, each with why.
    pub(super) skipped: Vec<String>,
    pub(super) stderr: Arc<StderrTail>,
}

/// The end of a stdio server's stderr, kept to say why it stopped.
#[derive(Default)]
pub(super) struct StderrTail {
    pub(super) text: Mutex<String>,
    /// Cancelled once stderr is read to its end, or when there is none to read.
    pub(super) ended: tokio_util::sync::CancellationToken,
}

impl StderrTail {
    /// Waits for the reader to reach the end of stderr, at most [`STDERR_END_WAIT`].
    pub(super) async fn read_to_end(&self) {
        let _ = tokio::time::timeout(STDERR_END_WAIT, self.ended.cancelled()).await;
    }

    /// The last line the server wrote to stderr so far.
    pub(super) fn last_line(&self) -> Option<String> {
        let tail = lock(&self.text);
        let line = tail.lines().rev().find(|l| !l.trim().is_empty())?;
        Some(line.trim().to_string())
    }
}

/// What kelp says of itself in `initialize`.
pub(super) fn client_info() -> ClientConfig {
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("kelp", env!("CARGO_PKG_VERSION")),
    )
}

/// The variables of kelp's environment every stdio server gets, as Codex passes them.
pub(super) const SERVER_ENV: [&str; 10] = [
    "HOME", "LOGNAME", "PATH", "SHELL", "USER", "LANG", "LC_ALL", "TERM", "TMPDIR", "TZ",
];

/// The most tools one server offers the model: each goes into every request, so a server that
/// lists thousands would crowd out the conversation.
pub(super) const MAX_TOOLS: usize = 100;

/// The largest argument schema of one tool, as JSON, that is sent.
pub(super) const MAX_SCHEMA_BYTES: usize = 16 * 1024;

/// Starts one server and lists its tools. `Err` is a reason for a person, without secrets.
pub(super) async fn connect(
    config: &McpServerConfig,
    http: &reqwest::Client,
    project_dir: &std::path::Path,
    logins: Option<&std::path::Path>,
) -> Result<Link, String> {
    let stderr = Arc::new(StderrTail::default());
    // Whether the token came from a sign-in kept here: a refusal then needs no new one.
    let (wire, signed_in) = match &config.transport {
        McpTransport::Stdio {
            command,
            args,
            env,
            env_vars,
            cwd,
        } => {
            let wire = stdio_wire(
                &config.name,
                command,
                args,
                env,
                env_vars,
                cwd.as_deref().unwrap_or(project_dir),
                &stderr,
            )?;
            (wire, false)
        }
        McpTransport::Http {
            url,
            headers,
            env_headers,
            bearer_token_env_var,
        } => {
            let wired = http_wire(
                config,
                url,
                headers,
                env_headers,
                bearer_token_env_var.as_deref(),
                http,
                logins,
            )
            .await?;
            stderr.ended.cancel();
            wired
        }
    };
    let service = match client_info().serve(wire).await {
        Ok(service) => service,
        Err(e) => {
            stderr.read_to_end().await;
            // A server over HTTP that refuses kelp for want of a sign-in says how to give one.
            if e.is_authorization_required() && !signed_in {
                return Err(format!(
                    "needs a sign-in: run `kelp mcp login {}` ({e})",
                    config.name
                ));
            }
            return Err(match stderr.last_line() {
                Some(line) => format!("did not start: {e} ({line})"),
                None => format!("did not start: {e}"),
            });
        }
    };
    let listed = service
        .peer()
        .list_all_tools()
        .await
        .map_err(|e| format!("did not list its tools: {e}"))?;
    let (tools, skipped, warning) = offered_tools(config, listed);
    Ok(Link {
        service,
        tools,
        skipped,
        warning,
        stderr,
    })
}

/// A stdio server: `command` run in `cwd` with only the variables a program needs, those the
/// config passes on by name and the config's own; its stderr kept in `stderr`.
fn stdio_wire(
    name: &str,
    command: &str,
    args: &[String],
    env: &[(String, String)],
    env_vars: &[String],
    cwd: &std::path::Path,
    stderr: &Arc<StderrTail>,
) -> Result<Wire, String> {
    let mut cmd = tokio::process::Command::new(command);
    // Not kelp's environment (its key, the person's cloud and forge tokens): the few
    // variables a program needs to run, those the config passes on by name, and the
    // config's own.
    cmd.env_clear();
    for name in SERVER_ENV
        .iter()
        .copied()
        .chain(env_vars.iter().map(String::as_str))
    {
        if let Some(value) = std::env::var_os(name) {
            cmd.env(name, value);
        }
    }
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .kill_on_drop(true);
    // Its own process group: the terminal's signals are kelp's to handle.
    #[cfg(unix)]
    cmd.process_group(0);
    let (transport, err) = TokioChildProcess::builder(cmd)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not run `{command}`: {e}"))?;
    match err {
        Some(err) => keep_stderr(name.to_string(), err, stderr.clone()),
        None => stderr.ended.cancel(),
    }
    Ok(Wire::Stdio(transport))
}

/// A server over streamable HTTP, with its bearer token (from a variable, or from an OAuth
/// login kept in `logins`) and headers; whether the token came from a login.
async fn http_wire(
    config: &McpServerConfig,
    url: &str,
    headers: &[(String, String)],
    env_headers: &[(String, String)],
    bearer_token_env_var: Option<&str>,
    http: &reqwest::Client,
    logins: Option<&std::path::Path>,
) -> Result<(Wire, bool), String> {
    let mut signed_in = false;
    let mut transport_config = StreamableHttpClientTransportConfig::with_uri(url);
    if let Some(var) = bearer_token_env_var {
        let token = std::env::var(var)
            .ok()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| format!("needs a bearer token in ${var}, which is not set"))?;
        transport_config = transport_config.auth_header(token);
    } else if let Some(store) = logins
        && let Some(token) = oauth::access_token(http, store, &config.name, url).await
    {
        signed_in = true;
        transport_config = transport_config.auth_header(token);
    }
    let mut all = HashMap::new();
    let from_env = env_headers
        .iter()
        .filter_map(|(name, var)| std::env::var(var).ok().map(|value| (name.clone(), value)));
    for (name, value) in headers.iter().cloned().chain(from_env) {
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("has an invalid header name `{name}`"))?;
        let value = reqwest::header::HeaderValue::from_str(&value)
            .map_err(|_| format!("has an invalid value for the header `{name}`"))?;
        all.insert(name, value);
    }
    transport_config = transport_config.custom_headers(all);
    let wire = Wire::Http(StreamableHttpClientTransport::with_client(
        http.clone(),
        transport_config,
    ));
    Ok((wire, signed_in))
}

/// The tools of `listed` the config lets the model see, each with a schema the Responses API
/// takes; those left out, with why; a warning when there were more than [`MAX_TOOLS`].
fn offered_tools(
    config: &McpServerConfig,
    listed: Vec<rmcp::model::Tool>,
) -> (Vec<ServerTool>, Vec<String>, Option<String>) {
    let (mut tools, mut skipped) = (Vec::new(), Vec::new());
    for tool in listed.into_iter().filter(|t| config.offers(&t.name)) {
        let name = tool.name.to_string();
        match tools::function_parameters(&tool.input_schema).and_then(|parameters| {
            let size = parameters.to_string().len();
            if size > MAX_SCHEMA_BYTES {
                return Err(format!(
                    "its input schema is {}, over the {} kelp sends",
                    crate::humanize::bytes(size as u64),
                    crate::humanize::bytes(MAX_SCHEMA_BYTES as u64)
                ));
            }
            Ok(parameters)
        }) {
            Ok(parameters) => tools.push(ServerTool {
                read_only: tool
                    .annotations
                    .as_ref()
                    .and_then(|a| a.read_only_hint)
                    .unwrap_or(false),
                description: tool.description.map(|d| d.to_string()).unwrap_or_default(),
                name,
                parameters,
            }),
            Err(why) => {
                tracing::warn!(server = %config.name, tool = %name, %why, "MCP tool skipped");
                skipped.push(format!("{name}: {why}"));
            }
        }
    }
    let mut warning = None;
    if tools.len() > MAX_TOOLS {
        let left_out = tools.len() - MAX_TOOLS;
        tools.truncate(MAX_TOOLS);
        let note = format!(
            "offers {} tools: the first {MAX_TOOLS} are offered to the model, {left_out} left out (narrow them with `enabled_tools`)",
            MAX_TOOLS + left_out
        );
        skipped.push(format!("{left_out} tools past the first {MAX_TOOLS}"));
        tracing::warn!(server = %config.name, left_out, "MCP tools capped");
        warning = Some(note);
    }
    (tools, skipped, warning)
}

/// Either kind of server behind one transport type, so that rmcp's service loop and request
/// plumbing are compiled once rather than once per transport.
enum Wire {
    Stdio(TokioChildProcess),
    Http(StreamableHttpClientTransport<reqwest::Client>),
}

impl Transport<RoleClient> for Wire {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        match self {
            Wire::Stdio(t) => Either::Left(t.send(item)),
            Wire::Http(t) => Either::Right(t.send(item).map_err(std::io::Error::other)),
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        match self {
            Wire::Stdio(t) => t.receive().await,
            Wire::Http(t) => t.receive().await,
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        match self {
            Wire::Stdio(t) => t.close().await,
            Wire::Http(t) => t.close().await.map_err(std::io::Error::other),
        }
    }
}

/// Logs a stdio server's stderr and keeps its end, to say why the server stopped.
pub(super) fn keep_stderr(name: String, err: tokio::process::ChildStderr, tail: Arc<StderrTail>) {
    crate::task::spawn(async move {
        let mut lines = tokio::io::BufReader::new(err).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::info!(server = %name, "{line}");
            let mut kept = lock(&tail.text);
            kept.push_str(&line);
            kept.push('\n');
            crate::humanize::keep_tail(&mut kept, STDERR_TAIL, STDERR_TAIL * 2);
        }
        tail.ended.cancel();
    });
}
