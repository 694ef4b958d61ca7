//! `kelp app-server`: the core behind the Codex app-server protocol (JSON-RPC over stdio, one
//! object per line), so a host written for Codex can embed kelp. Stdout carries protocol lines
//! only; logs go to the log file.
//!
//! - `wire.rs`: an answer with the notifications that follow it, parameters read with the Codex
//!   server's errors.
//! - `account.rs`: `account/*`, the account service (`auth::accounts`) in the protocol's words.
//! - `config.rs`: what a host reads before its first screen and its settings screen writes:
//!   `config/*`, `permissionProfile/list`, `model/list`, `skills/list`, `mcpServerStatus/list`.
//! - `threads.rs`: one agent core per thread (`thread/*`). `history.rs`: the saved sessions
//!   as a host's history, read on tasks of their own. `turns.rs`: `turn/*`, the core's events pumped out as items, its approvals as
//!   server requests to the host.
//! - `exec.rs`: `command/exec`, one command under the sandbox outside any thread.
//! - `items.rs`: core events as items and notifications, a pure translator tested without I/O.
//! - `methods.rs`: every request method of the protocol and how kelp serves it: done, an
//!   empty answer where kelp has nothing of the kind, or refused in words. `fs.rs`: `fs/*`,
//!   the protocol's words over `agent::files`.
//! - `exec_events.rs`: those notifications as the JSON lines of Codex's `exec
//!   --experimental-json`, for `kelp exec` and `kelp run --json`.

pub mod account;
pub mod config;
pub mod exec;
pub mod exec_events;
pub mod fs;
pub mod history;
pub mod items;
pub mod methods;
pub mod threads;
pub mod turns;
pub mod wire;

use std::future::Future;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use account::Accounts;
use threads::Threads;
use wire::{Answer, Incoming, Out, RpcError, params, parse_line, reply};

use crate::auth::ExternalAuth;
use crate::config::{Config, Overrides};
use crate::jsonrpc::{Dialect, Stdout, Stopped, serve_stdin};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitializeParams {
    client_info: ClientInfo,
    #[serde(default)]
    capabilities: Option<Capabilities>,
}

#[derive(Deserialize)]
struct ClientInfo {
    name: String,
    version: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Capabilities {
    #[serde(default)]
    experimental_api: bool,
}

/// A request's work, served on a task of its own.
type Work = std::pin::Pin<Box<dyn Future<Output = Result<Answer, RpcError>> + Send>>;

/// One connection's state.
struct Server {
    config: Config,
    /// The command line's settings, which beat the file when it is read again.
    overrides: Overrides,
    out: Out,
    initialized: bool,
    experimental: bool,
    /// Shared with the requests served on tasks of their own.
    accounts: Arc<Accounts>,
    threads: Threads,
    /// Requests made outside a thread (`model/list`), with the connection's credentials.
    llm: crate::llm::LlmClient,
    /// The `command/exec` commands running with a host's process id.
    processes: exec::Processes,
}

/// Serves the protocol on stdin and stdout until stdin closes or a signal stops kelp; then
/// everything running (logins, turns, commands) is cancelled.
pub async fn serve(config: Config) -> anyhow::Result<Stopped> {
    serve_with(config, Overrides::default()).await
}

/// [`serve`], with the command line's `overrides`: after a config write, the settings are read
/// again through them, so a flag still beats the file.
pub async fn serve_with(config: Config, overrides: Overrides) -> anyhow::Result<Stopped> {
    let (out, stdout) = Stdout::open(Dialect::Codex);
    let http = crate::llm::client::http_client()?;
    let external = ExternalAuth::new(std::sync::Arc::new(account::HostTokens(out.clone())));
    let accounts = Accounts::new(config.clone(), http, out.clone(), external.clone());
    let llm = crate::llm::LlmClient::with_settings(
        config.clone(),
        accounts.manager().clone(),
        crate::llm::StreamSettings::default(),
    )?;
    let mut server = Server {
        accounts: Arc::new(accounts),
        llm,
        threads: Threads::new(config.clone(), out.clone(), external),
        config,
        overrides,
        out: out.clone(),
        initialized: false,
        experimental: false,
        processes: exec::Processes::default(),
    };
    let read = serve_stdin(&out, async |line: &str| server.handle_line(line).await).await;
    tracing::info!(?read, "the app-server stops");
    // A login a request still waits on stops with the connection.
    server.accounts.stop();
    server.processes.stop_all();
    drop(server);
    stdout.close(out).await;
    read.map_err(|e| anyhow::anyhow!("reading the host app's input: {e}"))
}

impl Server {
    async fn handle_line(&mut self, line: &str) {
        match parse_line(line) {
            Err((id, error)) => self.out.error(id, error),
            Ok(Incoming::Notification { method, .. }) => {
                tracing::debug!(%method, "notification from the client");
            }
            Ok(Incoming::Response { id, result }) => {
                if !self.out.answer(&id, result) {
                    tracing::warn!(%id, "an answer to no request of ours");
                }
            }
            Ok(Incoming::Request { id, method, params }) => {
                match self.detached(&method, params) {
                    // A request that may wait on the network or a person runs on a task of its
                    // own: the others are answered meanwhile.
                    Ok(work) => {
                        let out = self.out.clone();
                        crate::task::spawn(async move { reply(&out, id, work.await) });
                    }
                    Err(params) => {
                        let answer = self.call(&method, params).await;
                        reply(&self.out, id, answer);
                    }
                }
            }
        }
    }

    /// The work of a request that may take long and touches no thread (a login's start, a
    /// logout's revocation, a model list), to be served on a task of its own; `Err` gives the
    /// params back for every other request, served in order.
    fn detached(&self, method: &str, params: Value) -> Result<Work, Value> {
        if !self.initialized {
            return Err(params);
        }
        let accounts = Arc::clone(&self.accounts);
        Ok(match method {
            "account/login/start" => {
                let experimental = self.experimental;
                Box::pin(async move { accounts.start(params, experimental).await })
            }
            "account/logout" => Box::pin(async move { accounts.logout().await }),
            "account/read" => Box::pin(async move { accounts.read().await }),
            "model/list" => {
                let llm = self.llm.clone();
                let default = crate::llm::models::choose_model(self.config.model.as_deref());
                Box::pin(async move { models(&llm, &default, params).await })
            }
            "account/rateLimits/read" => {
                let llm = self.llm.clone();
                let last = self.threads.last_limits();
                Box::pin(async move { Ok(rate_limits(&llm, &last).await) })
            }
            "fuzzyFileSearch" => Box::pin(async move { fuzzy_file_search(params).await }),
            "fs/readFile" | "fs/writeFile" | "fs/createDirectory" | "fs/getMetadata"
            | "fs/readDirectory" | "fs/remove" | "fs/copy" => {
                let roots = crate::agent::files::Roots::new(self.threads.roots());
                let method = method.to_string();
                Box::pin(async move { fs::serve(&method, roots, params).await })
            }
            // Saved threads are files: a long read must not hold up the connection.
            "thread/list" | "thread/read" | "thread/turns/list" | "thread/items/list" => {
                let saved = self.threads.saved();
                let method = method.to_string();
                Box::pin(async move {
                    match method.as_str() {
                        "thread/list" => saved.list(params).await,
                        "thread/read" => saved.read(params).await,
                        "thread/turns/list" => saved.turns(params).await,
                        _ => saved.items(params).await,
                    }
                })
            }
            // The call waits for the tool; the thread and its core are found first, in order.
            "mcpServer/tool/call" => match self.threads.call_mcp_tool(params) {
                Ok(call) => Box::pin(call),
                Err(error) => Box::pin(async move { Err(error) }),
            },
            // A command answers when it ends; the others (its terminate) are served meanwhile.
            "command/exec" => match exec::exec(
                self.config.clone(),
                self.out.clone(),
                self.processes.clone(),
                params,
            ) {
                Ok(run) => Box::pin(run),
                Err(error) => Box::pin(async move { Err(error) }),
            },
            _ => return Err(params),
        })
    }

    async fn call(&mut self, method: &str, params: Value) -> Result<Answer, RpcError> {
        if method == "initialize" {
            return self.initialize(params);
        }
        if !self.initialized {
            return Err(RpcError::invalid_request("Not initialized"));
        }
        match method {
            "account/login/cancel" => self.accounts.cancel(params),
            "config/read" => config::read(&self.config, params),
            "config/value/write" => {
                let written = config::write_value(&self.config, params);
                self.reload();
                written
            }
            "config/batchWrite" => {
                let written = config::batch_write(&self.config, params);
                self.reload();
                written
            }
            "permissionProfile/list" => Ok(config::permission_profiles()),

            "skills/list" => config::skills(params, &self.config),
            "mcpServerStatus/list" => Ok(config::mcp_servers(
                &self.config,
                &self.threads.mcp_servers(),
            )),
            "thread/start" => self.threads.start(params).await,
            "thread/resume" => self.threads.resume(params).await,
            "thread/loaded/list" => self.threads.loaded(params),
            "thread/fork" => self.threads.fork(params).await,
            "thread/name/set" => self.threads.set_name(params).await,
            "thread/archive" => self.threads.archive(params).await,
            "thread/delete" => self.threads.delete(params).await,
            "thread/unarchive" => self.threads.unarchive(params).await,
            "thread/unsubscribe" => self.threads.unsubscribe(params),
            "thread/compact/start" => self.threads.compact(params),
            "thread/revert" => self.threads.revert(params).await,
            "thread/rollback" => self.threads.rollback(params).await,
            "turn/start" => turns::start(params, |id| self.threads.thread(id)),
            "turn/interrupt" => turns::interrupt(params, |id| self.threads.thread(id)),
            "turn/steer" => turns::steer(params, |id| self.threads.thread(id)),
            "review/start" => turns::review(params, |id| self.threads.thread(id)),
            "command/exec/terminate" => exec::terminate(&self.processes, params),
            "command/exec/write" => exec::write(&self.processes, params),
            "modelProvider/list" => Ok(model_providers(&self.config)),
            "app/read" => app_read(params),
            // MCP servers start with each thread's core: a new thread takes the file's.
            "config/mcpServer/reload" => {
                self.reload();
                Ok(json!({}).into())
            }
            other => absent(other),
        }
    }

    /// Reads the settings again after a write to the config file: threads started from now on
    /// use them.
    fn reload(&mut self) {
        match Config::load(&self.overrides) {
            Ok((config, warnings)) => {
                for warning in warnings {
                    tracing::warn!(%warning, "the config file after a write");
                }
                self.threads.set_config(config.clone());
                self.config = config;
            }
            Err(e) => tracing::warn!(error = %e, "the settings could not be read again"),
        }
    }

    fn initialize(&mut self, raw: Value) -> Result<Answer, RpcError> {
        if self.initialized {
            return Err(RpcError::invalid_request("Already initialized"));
        }
        let p: InitializeParams = params(raw)?;
        self.initialized = true;
        self.experimental = p.capabilities.unwrap_or_default().experimental_api;
        let term = std::env::var("TERM_PROGRAM")
            .or_else(|_| std::env::var("TERM"))
            .unwrap_or_else(|_| "unknown".to_string());
        let home = crate::private_file::parent_dir(&self.config.auth_file);
        Ok(json!({
            "userAgent": format!(
                "kelp/{} ({}; {}) {term} ({}; {})",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS,
                std::env::consts::ARCH,
                p.client_info.name,
                p.client_info.version,
            ),
            "codexHome": std::path::absolute(home).unwrap_or_else(|_| home.to_path_buf()),
            "platformFamily": std::env::consts::FAMILY,
            "platformOs": std::env::consts::OS,
        })
        .into())
    }
}

/// A method kelp does not do: the answer when there is nothing of the kind, a refusal in
/// words, or, for a method the protocol does not have, the error that lists those it has.
fn absent(method: &str) -> Result<Answer, RpcError> {
    match methods::serve(method) {
        Some(methods::Serve::Nothing(answer)) => serde_json::from_str::<Value>(answer)
            .map(Answer::from)
            .map_err(|e| RpcError::internal(e.to_string())),
        Some(methods::Serve::Refused(why)) => Err(RpcError::invalid_request(format!(
            "{method} is not available: {why}"
        ))),
        // A method of the table without its handler here is kelp's mistake, said as one.
        Some(methods::Serve::Done) => Err(RpcError::internal(format!(
            "{method} has no handler in this build"
        ))),
        None => Err(RpcError::invalid_request(format!(
            "Invalid request: unknown variant `{method}`, expected one of {}",
            methods::METHODS
                .iter()
                .map(|(name, _)| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// `modelProvider/list`: kelp's one provider, OpenAI (the Codex backend with a ChatGPT login,
/// the API with a key), not changeable here.
fn model_providers(config: &Config) -> Answer {
    json!({
        "canChangeDefault": false,
        "defaultProviderId": "openai",
        "data": [{
            "id": "openai",
            "name": "OpenAI",
            "baseUrl": config.openai_base_url,
            "canEdit": false,
            "settings": { "type": "openai" },
        }],
    })
    .into()
}

/// `app/read`: kelp has no apps, so every id asked for is missing.
fn app_read(raw: Value) -> Result<Answer, RpcError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Read {
        app_ids: Vec<String>,
    }
    let asked: Read = params(raw)?;
    Ok(json!({ "apps": [], "missingAppIds": asked.app_ids }).into())
}

/// `account/rateLimits/read`: the plan's windows as the backend says them now (kept as the
/// last snapshot), or, for an API key or when it does not say, the last ones a response
/// reported (none yet: an empty snapshot).
async fn rate_limits(llm: &crate::llm::LlmClient, last: &std::sync::Mutex<Value>) -> Answer {
    let fresh = llm
        .rate_limits()
        .await
        .map(|limits| items::rate_limits(&limits));
    let mut last = last
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(fresh) = fresh {
        *last = fresh;
    }
    json!({ "rateLimits": *last }).into()
}

/// Files `fuzzyFileSearch` returns at most, over all its roots.
const SEARCH_LIMIT: usize = 50;

/// `fuzzyFileSearch`: the files of each root that match the query as the `@` finder matches
/// them (ignore rules respected), best first.
async fn fuzzy_file_search(raw: Value) -> Result<Answer, RpcError> {
    #[derive(Deserialize)]
    struct Search {
        query: String,
        roots: Vec<std::path::PathBuf>,
    }
    let asked: Search = wire::params(raw)?;
    let files = crate::task::spawn_blocking(move || {
        let mut files: Vec<Value> = Vec::new();
        for root in &asked.roots {
            for found in crate::agent::mentions::search_files(root, &asked.query, SEARCH_LIMIT) {
                let file_name = found
                    .path
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                files.push(json!({
                    "root": root,
                    "path": found.path,
                    "file_name": file_name,
                    "score": found.score,
                    "indices": found.indices,
                    "match_type": "file",
                }));
            }
        }
        files.sort_by(|a, b| b["score"].as_u64().cmp(&a["score"].as_u64()));
        files.truncate(SEARCH_LIMIT);
        files
    })
    .await
    .map_err(|e| RpcError::internal(e.to_string()))?;
    Ok(json!({ "files": files }).into())
}

/// `model/list`: the login's models (the built-in list for a ChatGPT login when there is no login
/// yet, so a host can show its picker before signing in); `default` is a new thread's model.
async fn models(
    llm: &crate::llm::LlmClient,
    default: &str,
    params: Value,
) -> Result<Answer, RpcError> {
    let list = match llm.models().await {
        Ok(list) => list,
        Err(e) => {
            tracing::info!(error = %e, "model/list without a login: the built-in list");
            crate::llm::models::ModelList {
                models: crate::llm::models::builtin_models(crate::llm::LoginKind::ChatGpt),
                source: crate::llm::models::ModelSource::BuiltIn,
            }
        }
    };
    config::models(&list, default, params)
}
