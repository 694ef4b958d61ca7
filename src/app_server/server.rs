//! The server's state (its settings, accounts, threads and commands) and the small
//! handlers that need no file of their own: `initialize`, `model/list`, `modelProvider/list`,
//! `app/read`, `account/rateLimits/read`, `fuzzyFileSearch`. Which method runs which handler is
//! `methods.rs`'s table.

use std::future::Future;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::account::{self, Accounts};
use super::exec;
use super::threads::Threads;
use super::wire::{self, Answer, Caller, Out, RpcError, params};
use crate::auth::ExternalAuth;
use crate::config::{Config, Overrides};
use crate::jsonrpc::{Audience, Dialect, Requests};
use crate::wire::requests::InitializeParams;
use crate::wire::{
    AppsRead, FileFound, FilesFound, GatewayAuth, HooksList, HooksOfFolder, Initialized,
    ModelProvider, ModelProviders, ProviderCapabilities, ProviderSettings, RateLimitSnapshot,
    RateLimitsRead,
};

/// A request's work, served on a task of its own.
pub type Work = std::pin::Pin<Box<dyn Future<Output = Result<Answer, RpcError>> + Send>>;

/// The server's state, shared by its connections.
pub struct Server {
    pub(super) config: Config,
    /// The command line's settings, which beat the file when it is read again.
    pub(super) overrides: Overrides,
    /// The client whose request is being served (set before each request).
    pub(super) caller: Caller,
    /// Every connected client: what concerns the server as a whole (an account's login).
    pub(super) everyone: Audience,
    /// The server's requests waiting for an answer from any client.
    pub(super) requests: Requests,
    /// Shared with the requests served on tasks of their own.
    pub(super) accounts: Arc<Accounts>,
    pub(super) threads: Threads,
    /// Requests made outside a thread (`model/list`), with the connection's credentials.
    pub(super) llm: crate::llm::LlmClient,
    /// The `command/exec` commands running with a host's process id.
    pub(super) processes: exec::Processes,
    /// The `process/spawn` processes running, by their handles.
    pub(super) spawned: exec::Processes,
}

impl Server {
    /// A server with no client yet, with the command line's `overrides` (after a config
    /// write, the settings are read again through them, so a flag still beats the file).
    pub fn new(config: Config, overrides: Overrides) -> anyhow::Result<Self> {
        let http = crate::llm::client::http_client()?;
        let requests = Requests::default();
        let everyone = Audience::new(&requests);
        let all = everyone.out(Dialect::Codex);
        let external = ExternalAuth::new(Arc::new(account::HostTokens(all.clone())));
        let accounts = Accounts::new(config.clone(), http, all.clone(), external.clone());
        let llm = crate::llm::LlmClient::with_settings(
            config.clone(),
            accounts.manager().clone(),
            crate::llm::StreamSettings::default(),
        )?;
        Ok(Self {
            accounts: Arc::new(accounts),
            llm,
            threads: Threads::new(config.clone(), external, &everyone),
            config,
            overrides,
            caller: Caller {
                id: 0,
                out: all,
                experimental: false,
                full_access: false,
                request: serde_json::Value::Null,
            },
            everyone,
            requests,
            processes: exec::Processes::default(),
            spawned: exec::Processes::default(),
        })
    }

    /// The folders the connection's threads opened, beneath which `fs/*` works.
    pub(super) fn file_roots(&self) -> crate::agent::files::Roots {
        crate::agent::files::Roots::new(self.threads.roots())
    }

    /// A new thread's model.
    pub(super) fn default_model(&self) -> String {
        self.config.model_in_use()
    }

    /// Stops what the connection set off: a login a request still waits on, the commands.
    pub fn stop(&self) {
        self.accounts.stop();
        self.processes.stop_all();
        self.spawned.stop_all();
    }

    /// Reads the settings again after a write to the config file: threads started from now on
    /// use them.
    pub(super) fn reload(&mut self) {
        match Config::load(&self.overrides) {
            Ok((mut config, warnings)) => {
                // The host's extra skill folders are this connection's, not the file's.
                config.skills.extra_roots = self.config.skills.extra_roots.clone();
                for warning in warnings {
                    tracing::warn!(%warning, "the config file after a write");
                }
                self.threads.set_config(config.clone());
                self.config = config;
            }
            Err(e) => tracing::warn!(error = %e, "the settings could not be read again"),
        }
    }

    /// `skills/extraRoots/set`: more folders to find skills in, for this connection's
    /// `skills/list` and the threads it starts from now on.
    pub(super) fn set_skill_roots(&mut self, raw: Value) -> Result<Answer, RpcError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Roots {
            extra_roots: Vec<std::path::PathBuf>,
        }
        let asked: Roots = params(raw)?;
        if let Some(relative) = asked.extra_roots.iter().find(|root| !root.is_absolute()) {
            return Err(RpcError::invalid_params(format!(
                "{} is not an absolute path",
                relative.display()
            )));
        }
        self.config.skills.extra_roots = asked.extra_roots;
        self.threads.set_config(self.config.clone());
        Answer::of(&serde_json::json!({}))
    }

    /// `skills/config/write`: turns a skill (by path or name) on or off in kelp's config
    /// file, as Codex keeps it; threads started from now on follow it.
    pub(super) fn write_skill_config(&mut self, raw: Value) -> Result<Answer, RpcError> {
        #[derive(Deserialize)]
        struct Write {
            enabled: bool,
            name: Option<String>,
            path: Option<std::path::PathBuf>,
        }
        let asked: Write = params(raw)?;
        if asked.name.is_none() && asked.path.is_none() {
            return Err(RpcError::invalid_params(
                "give the skill's path or its name".to_string(),
            ));
        }
        crate::config::edit::set_skill_enabled(
            &self.config.config_dir,
            asked.path.as_deref(),
            asked.name.as_deref(),
            asked.enabled,
        )
        .map_err(|e| RpcError::internal(e.to_string()))?;
        self.reload();
        Answer::of(&serde_json::json!({ "effectiveEnabled": asked.enabled }))
    }

    /// `initialize`: the answer, and whether the client asked for the experimental API.
    pub(super) fn initialize(&self, raw: Value) -> Result<(Answer, bool), RpcError> {
        let p: InitializeParams = params(raw)?;
        let experimental = p.capabilities.unwrap_or_default().experimental_api;
        let term = std::env::var("TERM_PROGRAM")
            .or_else(|_| std::env::var("TERM"))
            .unwrap_or_else(|_| "unknown".to_string());
        let home = crate::private_file::parent_dir(&self.config.auth_file);
        Answer::of(&Initialized {
            // kelp's version with `+kelp` as its build: a client that compares it with its own
            // Codex release (Codex's, connected with `--remote`) sees a build of another line,
            // not an older Codex to update.
            user_agent: format!(
                "kelp/{}+kelp ({}; {}) {term} ({}; {})",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS,
                std::env::consts::ARCH,
                p.client_info.name,
                p.client_info.version,
            ),
            codex_home: std::path::absolute(home).unwrap_or_else(|_| home.to_path_buf()),
            platform_family: std::env::consts::FAMILY,
            platform_os: std::env::consts::OS,
        })
        .map(|answer| (answer, experimental))
    }
}

/// `modelProvider/list`: the built-in providers and the config's, and the one in use (set in
/// the config, not here).
pub(super) fn model_providers(config: &Config) -> Result<Answer, RpcError> {
    let data = config
        .model_providers
        .iter()
        .map(|provider| {
            let settings = if provider.is_openai() {
                ProviderSettings::Openai
            } else {
                ProviderSettings::CustomGateway {
                    auth: match (&provider.env_key, provider.requires_openai_auth) {
                        (_, true) => GatewayAuth::ExternallyConfigured,
                        (Some(var), false) => GatewayAuth::EnvironmentVariable {
                            env_key: var.clone(),
                        },
                        (None, false) if provider.bearer_token.is_some() => {
                            GatewayAuth::ExternallyConfigured
                        }
                        (None, false) => GatewayAuth::None,
                    },
                }
            };
            ModelProvider {
                id: provider.id.clone(),
                name: provider.name.clone(),
                base_url: Some(
                    provider
                        .base_url
                        .clone()
                        .unwrap_or_else(|| config.openai_base_url.clone()),
                ),
                can_edit: false,
                settings,
            }
        })
        .collect();
    Answer::of(&ModelProviders {
        can_change_default: false,
        default_provider_id: config.model_provider.id.clone(),
        data,
    })
}

/// `modelProvider/capabilities/read`: what the provider in use offers through kelp: the
/// native web search, no image generation.
pub(super) fn provider_capabilities() -> Result<Answer, RpcError> {
    Answer::of(&ProviderCapabilities {
        image_generation: false,
        web_search: true,
    })
}

/// `mcpServer/oauth/login`: starts the OAuth sign-in of a server over HTTP (as `kelp mcp
/// login`), answers with the page the host opens, and says how it ended with
/// `mcpServer/oauthLogin/completed`.
pub(super) async fn mcp_login(config: Config, out: Out, raw: Value) -> Result<Answer, RpcError> {
    #[derive(Deserialize)]
    struct Login {
        name: String,
        #[serde(default)]
        scopes: Option<Vec<String>>,
    }
    let asked: Login = params(raw)?;
    let (url, scopes) =
        crate::config::mcp::sign_in_target(&config.mcp_servers, &asked.name, asked.scopes)
            .map_err(|why| {
                RpcError::invalid_params(crate::config::mcp::no_sign_in_message(
                    why,
                    &asked.name,
                    "in the config",
                ))
            })?;
    let http = crate::llm::client::http_client().map_err(|e| RpcError::internal(e.to_string()))?;
    let pending = crate::mcp::oauth::begin(&http, &url, &scopes)
        .await
        .map_err(|why| RpcError::internal(format!("MCP server `{}`: {why}", asked.name)))?;
    let login_id = uuid::Uuid::new_v4().to_string();
    let authorization_url = pending.authorize_url.clone();
    let store = crate::mcp::oauth::store_path(&config.auth_file);
    let (name, id) = (asked.name, login_id.clone());
    crate::task::spawn(async move {
        let ended = pending.finish(&http, &store, &name).await;
        wire::notify(
            &out,
            crate::wire::McpLoginCompleted {
                name,
                login_id: Some(id),
                success: ended.is_ok(),
                error: ended.err(),
            },
        );
    });
    Answer::of(&serde_json::json!({
        "authorizationUrl": authorization_url,
        "loginId": login_id,
    }))
}

/// `hooks/list`: one entry per folder asked about (the server's own folder when none is), each
/// with the person's hooks and, in a trusted project, the project's, in Codex's shape; a host
/// trusts one or turns it off by writing Codex's `hooks.state` (`config/batchWrite`).
pub(super) fn hooks_list(config: &crate::config::Config, raw: Value) -> Result<Answer, RpcError> {
    #[derive(Deserialize, Default)]
    struct Asked {
        #[serde(default)]
        cwds: Vec<std::path::PathBuf>,
    }
    let asked: Asked = if raw.is_null() {
        Asked::default()
    } else {
        params(raw)?
    };
    let cwds = if asked.cwds.is_empty() {
        std::env::current_dir().into_iter().collect()
    } else {
        asked.cwds
    };
    Answer::of(&HooksList {
        data: cwds
            .into_iter()
            .map(|cwd| {
                // The person's hooks, and a trusted project's own.
                let (config, _) = config.in_project(&cwd);
                let (hooks, warnings) = crate::hooks::load_for(&config);
                let of_project = |hook: &crate::hooks::Hook| {
                    config
                        .project
                        .hooks
                        .iter()
                        .any(|file| file.path == hook.source)
                };
                HooksOfFolder {
                    cwd,
                    hooks: hooks
                        .all()
                        .iter()
                        .zip(0..)
                        .map(|(hook, order)| hook_metadata(hook, order, of_project(hook)))
                        .collect(),
                    errors: Vec::new(),
                    warnings,
                }
            })
            .collect(),
    })
}

/// A hook in Codex's words.
fn hook_metadata(
    hook: &crate::hooks::Hook,
    order: i64,
    of_project: bool,
) -> crate::wire::HookMetadata {
    let name = hook.event.name();
    let mut event_name = name[..1].to_ascii_lowercase();
    event_name.push_str(&name[1..]);
    crate::wire::HookMetadata {
        key: hook.hash(),
        event_name,
        matcher: hook.matcher.clone(),
        timeout_sec: hook.timeout.as_secs(),
        status_message: None,
        additional_context_limit: None,
        source_path: hook.source.clone(),
        source: if of_project { "project" } else { "user" },
        plugin_id: None,
        environment_id: None,
        display_order: order,
        enabled: hook.enabled,
        is_managed: false,
        current_hash: hook.hash(),
        trust_status: if hook.trusted { "trusted" } else { "untrusted" },
        handler_type: "command",
        command: hook.command.clone(),
        runs_async: false,
    }
}

/// `app/read`: kelp has no apps, so every id asked for is missing.
pub(super) fn app_read(raw: Value) -> Result<Answer, RpcError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Read {
        app_ids: Vec<String>,
    }
    let asked: Read = params(raw)?;
    Answer::of(&AppsRead {
        apps: Vec::new(),
        missing_app_ids: asked.app_ids,
    })
}

/// `account/rateLimits/read`: the plan's windows as the backend says them now (kept as the
/// last snapshot), or, for an API key or when it does not say, the last ones a response
/// reported (none yet: an empty snapshot).
pub(super) async fn rate_limits(
    llm: crate::llm::LlmClient,
    last: Arc<std::sync::Mutex<RateLimitSnapshot>>,
) -> Result<Answer, RpcError> {
    let fresh = llm
        .rate_limits()
        .await
        .map(|limits| RateLimitSnapshot::from(&limits));
    let mut last = last
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(fresh) = fresh {
        *last = fresh;
    }
    Answer::of(&RateLimitsRead { rate_limits: *last })
}

/// Files `fuzzyFileSearch` returns at most, over all its roots.
const SEARCH_LIMIT: usize = 50;

/// `fuzzyFileSearch`: the files of each root that match the query as the `@` finder matches
/// them (ignore rules respected), best first.
pub(super) async fn fuzzy_file_search(raw: Value) -> Result<Answer, RpcError> {
    #[derive(Deserialize)]
    struct Search {
        query: String,
        roots: Vec<std::path::PathBuf>,
    }
    let asked: Search = wire::params(raw)?;
    let files = crate::task::spawn_blocking(move || {
        let mut files: Vec<FileFound> = Vec::new();
        for root in &asked.roots {
            for found in crate::agent::mentions::search_files(root, &asked.query, SEARCH_LIMIT) {
                let file_name = found
                    .path
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                files.push(FileFound {
                    root: root.clone(),
                    path: found.path,
                    file_name,
                    score: found.score,
                    indices: found.indices,
                    match_type: "file",
                });
            }
        }
        files.sort_by_key(|file| std::cmp::Reverse(file.score));
        files.truncate(SEARCH_LIMIT);
        files
    })
    .await
    .map_err(|e| RpcError::internal(e.to_string()))?;
    Answer::of(&FilesFound { files })
}

/// `model/list`: the login's models (the built-in list for a ChatGPT login when there is no login
/// yet, so a host can show its picker before signing in); `default` is a new thread's model.
pub(super) async fn models(
    llm: crate::llm::LlmClient,
    default: String,
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
    super::config::models(&list, &default, params)
}
