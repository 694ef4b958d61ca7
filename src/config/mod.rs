//! Where kelp talks to and where it keeps its files, resolved once at start-up.
//!
//! Endpoints come from the environment (PROTOCOL.md §1) so tests and the fake server can point
//! kelp at 127.0.0.1; paths follow XDG semantics on every OS, as opencode does, so the auth file
//! is easy to find and to share. Settings a person chooses (model, approval mode, sandbox) and endpoint
//! overrides may also live in `config.toml` (see [`file`]). Precedence, highest first: command
//! line flag, environment variable, config file, built-in default. `shared_keys.rs` says which settings both
//! have that a file decides. `codex_keys.rs` is the one
//! table of the settings Codex and kelp both have, for `-c` and the app-server's config methods.
//!
//! Its other files:
//! - `lsp.rs`: `lsp`, the language servers whose diagnostics follow an edit.
//! - `agents.rs`: subagents' settings and roles (`[features] multi_agent_v2`, `[agents]`).
//! - `edit.rs`: saving a choice in `config.toml` without disturbing the rest of it.
//! - `keymap.rs`: Codex's `[tui.keymap]`, the client's actions bound to keys, and kelp's
//!   leader key.
//! - `mcp.rs`: `[mcp_servers.NAME]` tables.
//! - `modes.rs`: the modes a person picks for how far the agent may go on its own.
//! - `overrides.rs`: values given on the command line, which beat the environment and the config
//!   file.
//! - `project.rs`: a trusted project's own settings and hooks (`.codex/`, `.kelp/`), what of
//!   them waits for the person's allowance.
//! - `prompts.rs`: custom prompts, in Codex's format.
//! - `providers.rs`: model providers as Codex reads them.
//! - `secret_rules.rs`: what the config says commands may not see, and may.
//! - `status_line.rs`: what the client's status line shows: kelp's, the items picked, or what a
//!   command prints; and the window title's items.
//! - `surfaces.rs`: the client's own surfaces in a config file: the status line and Codex's
//!   `[tui]` table (window title, syntax theme, Vim mode, keymap).
//! - `sources.rs`: where each setting comes from: flags, the environment, the files in layers,
//!   the defaults.
//! - `runtime.rs`: kelp's runtime folder, where a running app-server keeps its socket and the
//!   tokens of its listeners, and where each listener says which token file it reads, so that every
//!   command sandbox, of any kelp of the person's, hides it.
//! - `toml_json.rs`: `config.toml` as JSON and back, for a host that reads and writes settings as
//!   JSON (the app-server's `config/*`).
//! - `warning.rs`: what kelp could not use in its config file, and where.

pub mod agents;
pub mod codex_keys;
pub mod edit;
pub mod file;
pub mod keymap;
pub mod lsp;
pub mod mcp;
pub mod modes;
pub mod overrides;
pub mod project;
pub mod prompts;
pub mod providers;
pub mod runtime;
pub mod secret_rules;
mod shared_keys;
mod sources;
pub mod status_line;
pub mod surfaces;
pub mod toml_json;
pub mod warning;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use thiserror::Error;

pub use edit::{SaveError, Setting, save_setting};
pub use file::ConfigWarning;
pub use mcp::{McpServerConfig, McpTransport};
pub use modes::WebSearch;

use crate::protocol::{ApprovalMode, SandboxMode};
pub use overrides::{CodexKey, Overrides};
pub use providers::ModelProvider;
use sources::{
    Dirs, Endpoints, Layered, Modes, chosen_provider, context_window, default_allowed_domains,
    trimmed, var,
};

/// The public OAuth client id shared by Codex CLI and opencode.
pub const CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";
/// The value of the `originator` header and query parameter.
pub const ORIGINATOR: &str = "kelp";
/// Default OAuth issuer.
pub const DEFAULT_AUTH_ISSUER: &str = "https://auth.openai.com";
/// Default Codex backend used with a ChatGPT login.
pub const DEFAULT_CODEX_BASE_URL: &str = "https://chatgpt.com/backend-api/codex";
/// Default OpenAI API base used with an API key.
pub const DEFAULT_OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
/// The callback port registered with the issuer.
pub const DEFAULT_CALLBACK_PORT: u16 = 1455;
/// The second callback port on the issuer's allow-list, used when the first is taken.
pub const FALLBACK_CALLBACK_PORT: u16 = 1457;

/// A configuration value that cannot be used, named after the variable it came from.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{var} is not a valid http(s) URL: {value:?} ({reason})")]
    BadUrl {
        var: &'static str,
        value: String,
        reason: String,
    },
    #[error("{var} is not a port number (0-65535): {value:?}")]
    BadPort { var: &'static str, value: String },
    #[error("cannot find a home directory: set HOME or {var}")]
    NoHome { var: &'static str },
    #[error("{var} is not valid: {reason}")]
    BadValue { var: &'static str, reason: String },
    /// The provider asked for cannot be used: the reason, which names it.
    #[error("{0}")]
    Provider(String),
}

/// kelp's own file of the logins not in use, beside the auth file (`auth::logins`).
pub const LOGINS_FILE_NAME: &str = "kelp-accounts.json";

/// Everything kelp needs to know about its surroundings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// OAuth issuer, without a trailing slash.
    pub auth_issuer: String,
    /// Codex backend base (ChatGPT login), without a trailing slash.
    pub codex_base_url: String,
    /// OpenAI API base (API key), without a trailing slash.
    pub openai_base_url: String,
    /// Preferred port of the browser-login callback server; 0 means any free port.
    pub callback_port: u16,
    /// The opencode-compatible auth file; the logins not in use are kept beside it, in
    /// [`LOGINS_FILE_NAME`].
    pub auth_file: PathBuf,
    /// Where logs (and later, sessions) live.
    pub state_dir: PathBuf,
    /// Where the config file lives.
    pub config_dir: PathBuf,
    /// The model asked for; `None` leaves the choice to the login's default.
    pub model: Option<String>,
    /// The reasoning effort asked for (`minimal` … `xhigh`); `None` is the model's default.
    pub reasoning_effort: Option<String>,
    /// The processing requests ask for (`service_tier`, `/fast`).
    pub service_tier: Option<crate::protocol::ServiceTier>,
    /// How much the agent may do without asking.
    pub approval: ApprovalMode,
    /// Who approvals go to first: the person, or a reviewing model (`approvals_reviewer`,
    /// `--approve-for-me`).
    pub approvals_reviewer: crate::protocol::ApprovalsReviewer,
    /// The reviewer's model (`review_model`); `None` is the conversation's.
    pub review_model: Option<String>,
    /// The language servers whose diagnostics go back to the model after an edit (`lsp`).
    pub lsp: lsp::LspSettings,
    /// What a command may touch once it runs.
    pub sandbox: SandboxMode,
    /// The sandbox mode came from a flag (`--sandbox`, `-c sandbox_mode=…`), not a default:
    /// the person chose it for this run, even in a folder where kelp would choose otherwise.
    pub sandbox_chosen: bool,
    /// Neither the approval mode nor the sandbox was set by a flag, the environment or the
    /// file: the trust kept for the project decides them ([`Config::apply_trust`]), and the
    /// client asks for it where none is kept.
    pub trust_decides: bool,
    /// `[projects."PATH"] trust_level`: the folders the person trusts (`true`) or not, as
    /// Codex keeps them.
    pub projects: Vec<(PathBuf, bool)>,
    /// Whether sandboxed commands may open TCP connections anywhere.
    pub network: bool,
    /// `network = "domains"`: commands reach only the domains of `allowed_domains` (and those
    /// the person allows as they come), through kelp's proxy. `network` is then off.
    pub network_domains: bool,
    /// The domains commands may reach in that mode: the package registries unless the config
    /// says otherwise.
    pub allowed_domains: Vec<String>,
    /// The domains they may never reach, whatever else allows them.
    pub denied_domains: Vec<String>,
    /// Whether the TUI captures the mouse (wheel and clicks) instead of leaving selection to
    /// the terminal.
    pub mouse: bool,
    /// The terminal's background, or `auto` to ask it.
    pub theme: modes::Theme,
    /// How the client calls the person back when a turn ends or waits while they look away.
    pub notifications: modes::Notify,
    /// `notify`: a program of the person's run after each finished turn, with Codex's JSON
    /// (`agent-turn-complete`) as its last argument; and, on a server, when a turn waits for an
    /// approval no client is there to give (`approval-requested`).
    pub notify: Option<Vec<String>>,
    /// Where the interactive client's agent runs (`server`, `KELP_SERVER`).
    pub server: modes::Server,
    /// The model's context window in tokens, when kelp's own knowledge of it should not apply.
    pub context_window: Option<u64>,
    /// The MCP servers of the config file, in its order.
    pub mcp_servers: Vec<McpServerConfig>,
    /// The provider requests go to (`model_provider`; the built-in `openai` by default).
    pub model_provider: ModelProvider,
    /// Every provider there is: the built-in ones, then the config's.
    pub model_providers: Vec<ModelProvider>,
    /// Skills turned off, and more folders to find them in.
    pub skills: modes::SkillSettings,
    /// The config files read and the settings kelp and Codex share that each set (under the
    /// file's own names), kelp's first.
    pub settings_from: Vec<(PathBuf, Vec<&'static str>)>,
    /// Whether the model may search the web, and how, when a flag, `-c` or the file says
    /// (see [`Config::web_search_for`]).
    pub web_search: Option<WebSearch>,
    /// The config file's additions to, and exceptions from, what commands may not see.
    pub secrets: file::SecretRules,
    /// Folders commands may write besides the project (`--add-dir`).
    pub writable_roots: Vec<PathBuf>,
    /// Subagents: whether the model may spawn them, the team's limits, the roles.
    pub agents: agents::AgentSettings,
    /// Where the hooks are read besides the config folder, and whether untrusted ones run.
    pub hooks: HookSettings,
    /// The trusted project's own settings files and hooks (none for a folder not trusted).
    pub project: project::ProjectLayer,
    /// What the client's status line and window title show, its syntax theme, Vim mode.
    pub surfaces: surfaces::Surfaces,
    /// The command line's values these settings were read with, to read them again for
    /// another project ([`Config::in_project`]).
    pub overrides: Overrides,
}

/// What the hooks need of the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookSettings {
    /// Codex's folder (`CODEX_HOME`, else `~/.codex`), whose hooks come after kelp's.
    pub codex_home: Option<PathBuf>,
    /// Every hook runs, trusted or not (`--dangerously-bypass-hook-trust`).
    pub bypass_trust: bool,
}

impl HookSettings {
    /// No Codex folder known yet, and the bypass as the flag says.
    fn bypassing(bypass_trust: bool) -> Self {
        Self {
            codex_home: None,
            bypass_trust,
        }
    }
}

/// The package registries of the common ecosystems, which commands reach with
/// `network = "domains"` unless `allowed_domains` says otherwise: Rust, JavaScript, Python, Go,
/// Java and Ruby.
pub const DEFAULT_ALLOWED_DOMAINS: &[&str] = &[
    "crates.io",
    "*.crates.io",
    "static.rust-lang.org",
    "registry.npmjs.org",
    "registry.yarnpkg.com",
    "pypi.org",
    "files.pythonhosted.org",
    "proxy.golang.org",
    "sum.golang.org",
    "repo1.maven.org",
    "repo.maven.apache.org",
    "rubygems.org",
    "index.rubygems.org",
];

/// The model used when nobody chose one: the newest Codex-enabled model, which is also served
/// to API keys, so one default fits both logins and a switch of login keeps the model.
pub const DEFAULT_MODEL: &str = "gpt-5.5";

impl Config {
    /// Reads the configuration through `lookup` only (no config file), so tests need not touch
    /// the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Result<Self, ConfigError> {
        Self::from_sources(lookup, None, &Overrides::default()).map(|(config, _)| config)
    }

    /// What kelp starts with: flags, the process environment and `config.toml` in the config
    /// dir. A config file that cannot be used only produces warnings for the caller to show;
    /// a bad environment variable is an error.
    pub fn load(overrides: &Overrides) -> Result<(Self, Vec<ConfigWarning>), ConfigError> {
        Self::load_with(|name| std::env::var_os(name), overrides)
    }

    /// [`Config::load`] for work in `project_dir`: a trusted project's own settings are read
    /// below the person's (see [`project`]).
    pub fn load_for(
        overrides: &Overrides,
        project_dir: &Path,
    ) -> Result<(Self, Vec<ConfigWarning>), ConfigError> {
        Self::load_in(|name| std::env::var_os(name), overrides, Some(project_dir))
    }

    /// [`Config::load`] with the environment read through `lookup`.
    pub fn load_with(
        lookup: impl Fn(&str) -> Option<OsString>,
        overrides: &Overrides,
    ) -> Result<(Self, Vec<ConfigWarning>), ConfigError> {
        Self::load_in(lookup, overrides, None)
    }

    /// [`Config::load_with`], with the settings of the project in `project_dir` when the
    /// person trusts it.
    pub fn load_in(
        lookup: impl Fn(&str) -> Option<OsString>,
        overrides: &Overrides,
        project_dir: Option<&Path>,
    ) -> Result<(Self, Vec<ConfigWarning>), ConfigError> {
        // The config dir must come from the environment before the file can be read.
        let config_dir = Dirs::from_lookup(&lookup)?.config_dir;
        let path = config_dir.join(file::FILE_NAME);
        let sandbox_from_env = lookup("KELP_SANDBOX").is_some_and(|v| !v.is_empty());
        let mut unread = Vec::new();
        let mut read = |text: Result<Option<String>, ConfigWarning>| match text {
            Ok(text) => text,
            Err(warning) => {
                unread.push(warning);
                None
            }
        };
        let kelp_text = read(file::read(&path));
        // Codex's file, below kelp's, for the settings both have; kelp never writes it nor
        // changes its mode.
        let codex_path = codex_config_file(&lookup);
        let codex_text = codex_path
            .as_deref()
            .and_then(|p| read(file::read_codex(p)));
        let codex = codex_path.as_deref().zip(codex_text.as_deref());
        let kelp = kelp_text.as_deref().map(|text| (path.as_path(), text));
        let profiles = profile_files(&lookup, overrides, &config_dir, codex_path.as_deref());
        let profiles = match profiles {
            Ok(found) => found,
            Err(warning) => {
                unread.push(warning);
                Vec::new()
            }
        };
        let (mut config, mut warnings) =
            Self::from_layers(&lookup, kelp, codex, (&[], &profiles), overrides)?;
        // The person's files say which folders are trusted: only then is the project read,
        // and the settings resolved again with it beneath them.
        let trusted = project_dir.map_or_else(Vec::new, |dir| config.trusted_folders(dir));
        if !trusted.is_empty() {
            let codex_home = codex_path.as_deref().and_then(Path::parent);
            let (layer, mut said) = project::read(&trusted, &config.state_dir, codex_home);
            if !layer.files.is_empty() {
                (config, warnings) =
                    Self::from_layers(&lookup, kelp, codex, (&layer.files, &profiles), overrides)?;
            }
            warnings.append(&mut said);
            config.project = layer;
        }
        config.hooks.codex_home = codex_path.as_deref().and_then(Path::parent).map(Into::into);
        unread.append(&mut warnings);
        let mut warnings = unread;
        // A file that did not load may have asked for a stricter sandbox than the default: a
        // broken file never loosens what commands may do.
        let unloaded = warnings.iter().any(|w| {
            matches!(w, ConfigWarning::Malformed { path: p, .. } | ConfigWarning::Unreadable { path: p, .. } if *p == path)
        });
        if unloaded && !config.sandbox_chosen && !sandbox_from_env {
            config.sandbox = SandboxMode::ReadOnly;
            warnings.push(ConfigWarning::SafestSandbox { path });
        }
        Ok((config, warnings))
    }

    /// Resolves every value from its sources: `overrides` > `lookup` (the environment) >
    /// `file` (its path and text) > default. Pure: touches neither the environment nor disk.
    pub fn from_sources(
        lookup: impl Fn(&str) -> Option<OsString>,
        file: Option<(&Path, &str)>,
        overrides: &Overrides,
    ) -> Result<(Self, Vec<ConfigWarning>), ConfigError> {
        Self::from_files(lookup, file, None, overrides)
    }

    /// [`Config::from_sources`] with Codex's config file (`codex`: its path and text) read
    /// below kelp's, for the settings both have.
    pub fn from_files(
        lookup: impl Fn(&str) -> Option<OsString>,
        file: Option<(&Path, &str)>,
        codex: Option<(&Path, &str)>,
        overrides: &Overrides,
    ) -> Result<(Self, Vec<ConfigWarning>), ConfigError> {
        Self::from_layers(&lookup, file, codex, (&[], &[]), overrides)
    }

    /// [`Config::from_files`] with a project's files (`project`, the strongest first) below
    /// the person's.
    fn from_layers(
        lookup: &impl Fn(&str) -> Option<OsString>,
        file: Option<(&Path, &str)>,
        codex: Option<(&Path, &str)>,
        layers: (&[project::ProjectFile], &[sources::ProfileFile]),
        overrides: &Overrides,
    ) -> Result<(Self, Vec<ConfigWarning>), ConfigError> {
        let text = |name: &str| trimmed(lookup(name));
        let dirs = Dirs::from_lookup(lookup)?;
        let Layered {
            settings: from_file,
            warnings,
            settings_from,
            provider_chosen_in,
        } = Layered::read(&text, file, codex, layers, overrides, dirs.home.as_deref())?;
        let Endpoints {
            auth_issuer,
            codex_base_url,
            openai_base_url,
            callback_port,
            auth_file,
        } = Endpoints::read(&text, lookup, &from_file, overrides, &dirs)?;
        let Modes {
            approval,
            sandbox,
            network,
            trust_decides,
        } = Modes::read(&text, &from_file, overrides)?;
        let (model, reasoning_effort, service_tier) = model_choice(&text, &from_file, overrides);
        let server = var(&text, "KELP_SERVER", str::parse)?
            .or(from_file.server)
            .unwrap_or_default();
        let mouse = var(&text, "KELP_MOUSE", modes::parse_switch)?
            .or(from_file.mouse)
            .unwrap_or(false);
        let model_providers = providers::all(&from_file.model_providers);
        let model_provider = chosen_provider(
            overrides,
            from_file.model_provider.clone(),
            &model_providers,
            &provider_chosen_in,
        )?;
        Ok((
            Self {
                auth_issuer,
                codex_base_url,
                openai_base_url,
                callback_port,
                auth_file,
                state_dir: dirs.state_dir,
                config_dir: dirs.config_dir,
                model,
                reasoning_effort,
                service_tier,
                approval,
                approvals_reviewer: overrides
                    .approvals_reviewer
                    .or(from_file.approvals_reviewer)
                    .unwrap_or_default(),
                review_model: from_file.review_model.clone(),
                lsp: from_file.lsp.clone().settle(),
                sandbox_chosen: overrides.sandbox.is_some(),
                trust_decides,
                projects: from_file.projects,
                sandbox,
                network: network == modes::Network::On,
                network_domains: network == modes::Network::Domains,
                allowed_domains: from_file
                    .allowed_domains
                    .unwrap_or_else(default_allowed_domains),
                denied_domains: from_file.denied_domains.unwrap_or_default(),
                mouse,
                theme: var(&text, "KELP_THEME", str::parse)?
                    .or(from_file.theme)
                    .unwrap_or_default(),
                notifications: from_file.notifications.unwrap_or_default(),
                notify: from_file.notify.clone(),
                server,
                context_window: context_window(&text, from_file.context_window)?,
                mcp_servers: from_file.mcp_servers,
                model_provider,
                model_providers,
                settings_from,
                skills: modes::SkillSettings {
                    extra_roots: Vec::new(),
                    off: from_file.skills_off,
                },
                web_search: overrides.web_search.or(from_file.web_search),
                secrets: from_file.secrets.overridden(overrides.unified_exec),
                writable_roots: overrides.writable_roots.clone(),
                agents: from_file.agents.settle(overrides.multi_agent),
                hooks: HookSettings::bypassing(overrides.bypass_hook_trust),
                project: project::ProjectLayer::default(),
                overrides: overrides.clone(),
                surfaces: from_file.surfaces,
            },
            warnings,
        ))
    }

    /// A configuration whose endpoints all live on one origin (the fake server) and whose
    /// files live under `dir`: what tests use.
    pub fn for_origin(origin: &str, dir: &Path) -> Self {
        let origin = origin.trim_end_matches('/');
        Self {
            auth_issuer: origin.to_string(),
            codex_base_url: format!("{origin}/backend-api/codex"),
            openai_base_url: format!("{origin}/v1"),
            callback_port: 0,
            auth_file: dir.join("auth.json"),
            state_dir: dir.join("state"),
            config_dir: dir.join("config"),
            model: None,
            reasoning_effort: None,
            service_tier: None,
            approval: ApprovalMode::default(),
            approvals_reviewer: crate::protocol::ApprovalsReviewer::default(),
            review_model: None,
            lsp: lsp::LspSettings::default(),
            sandbox: SandboxMode::default(),
            sandbox_chosen: false,
            trust_decides: false,
            projects: Vec::new(),
            network: false,
            network_domains: false,
            allowed_domains: Vec::new(),
            denied_domains: Vec::new(),
            mouse: false,
            theme: modes::Theme::default(),
            notifications: modes::Notify::default(),
            notify: None,
            server: modes::Server::default(),
            context_window: None,
            mcp_servers: Vec::new(),
            model_provider: ModelProvider::openai(),
            model_providers: providers::built_in(),
            settings_from: Vec::new(),
            skills: modes::SkillSettings::default(),
            web_search: None,
            secrets: file::SecretRules::default(),
            writable_roots: Vec::new(),
            agents: agents::AgentSettings::default(),
            hooks: HookSettings::default(),
            project: project::ProjectLayer::default(),
            overrides: Overrides::default(),
            surfaces: surfaces::Surfaces::default(),
        }
    }

    /// The web search a turn offers when its commands run under `sandbox`: the one chosen,
    /// else cached, or live where commands run without a sandbox at all (as Codex chooses).
    pub fn web_search_for(&self, sandbox: SandboxMode) -> WebSearch {
        match self.web_search {
            Some(mode) => mode,
            None if sandbox == SandboxMode::Off => WebSearch::Live,
            None => WebSearch::Cached,
        }
    }

    /// The model a conversation uses: the one asked for (flag, environment or config file),
    /// else `saved` (the model a resumed conversation was saved with), else kelp's
    /// [`DEFAULT_MODEL`]. Every face and the core ask this, so they never disagree.
    pub fn model_or(&self, saved: Option<&str>) -> String {
        fn given(model: Option<&str>) -> Option<&str> {
            model.map(str::trim).filter(|m| !m.is_empty())
        }
        given(self.model.as_deref())
            .or(given(saved))
            .unwrap_or(DEFAULT_MODEL)
            .to_string()
    }

    /// The model a new conversation uses ([`Config::model_or`] with nothing saved).
    pub fn model_in_use(&self) -> String {
        self.model_or(None)
    }

    /// The log file in the state dir.
    pub fn log_file(&self) -> PathBuf {
        self.state_dir.join("kelp.log")
    }

    /// The trust kept for `project_dir`: its own entry, else that of the root of the git
    /// repository it is in (which decides for its subfolders); `None` when none is kept.
    pub fn trust_of(&self, project_dir: &Path) -> Option<bool> {
        let kept = |dir: &Path| {
            self.projects
                .iter()
                .find(|(path, _)| path == dir)
                .map(|(_, trusted)| *trusted)
        };
        kept(project_dir).or_else(|| kept(&trust_root(project_dir)))
    }

    /// These settings for work in `project_dir` (a host's thread or session there): read again
    /// with the project's own beneath them when the person trusts it, else these as they are.
    /// Blocking: it reads files. What could not be used, and what waits for the person's
    /// allowance, comes back as warnings.
    pub fn in_project(&self, project_dir: &Path) -> (Config, Vec<ConfigWarning>) {
        if self.trusted_folders(project_dir).is_empty() {
            return (self.clone(), Vec::new());
        }
        match Self::load_for(&self.overrides, project_dir) {
            Ok((mut config, mut warnings)) => {
                // A host's extra skill folders are its connection's, not a file's.
                config.skills.extra_roots = self.skills.extra_roots.clone();
                warnings.extend(config.project.waiting_warnings());
                (config, warnings)
            }
            Err(e) => {
                tracing::warn!(error = %e, "the settings could not be read for the project");
                (self.clone(), Vec::new())
            }
        }
    }

    /// The folders of `project_dir`'s project whose own settings kelp reads: from the root its
    /// trust is kept for down to `project_dir`, those the person trusts.
    pub fn trusted_folders(&self, project_dir: &Path) -> Vec<PathBuf> {
        let root = trust_root(project_dir);
        let mut folders: Vec<PathBuf> = project_dir
            .ancestors()
            .take_while(|dir| dir.starts_with(&root))
            .filter(|dir| self.trust_of(dir) == Some(true))
            .map(Path::to_path_buf)
            .collect();
        folders.reverse();
        folders
    }

    /// Lays the trust kept for `project_dir` over the modes no flag, variable or file set: a
    /// trusted folder's commands run in the sandbox and its patches apply unasked (`full-auto`,
    /// Codex's on-request); one not trusted asks before edits and commands, and its commands
    /// only read. Returns the trust, when one is kept.
    pub fn apply_trust(&mut self, project_dir: &Path) -> Option<bool> {
        let trusted = self.trust_of(project_dir)?;
        if self.trust_decides {
            self.set_trust(trusted);
        }
        Some(trusted)
    }

    /// The modes of a folder trusted or not (see [`Config::apply_trust`]).
    pub fn set_trust(&mut self, trusted: bool) {
        let (approval, sandbox) = Self::modes_of_trust(trusted);
        self.approval = approval;
        self.sandbox = sandbox.unwrap_or(self.sandbox);
    }

    /// The approval mode of a folder trusted or not, and the sandbox it sets (`None`: the
    /// default stays, `workspace-write`, read-only where the project holds the home folder).
    pub fn modes_of_trust(trusted: bool) -> (ApprovalMode, Option<SandboxMode>) {
        if trusted {
            (ApprovalMode::FullAuto, None)
        } else {
            (ApprovalMode::Ask, Some(SandboxMode::ReadOnly))
        }
    }
}

/// Codex's config file as this process's environment places it.
pub fn codex_config_path() -> Option<PathBuf> {
    codex_config_file(&|name: &str| std::env::var_os(name))
}

/// Codex's config file: `$CODEX_HOME/config.toml`, else `~/.codex/config.toml`.
/// The files of the profile asked for (`-p NAME`, `KELP_PROFILE`), as Codex 0.171 reads them:
/// `NAME.config.toml` beside kelp's `config.toml` and beside Codex's, kelp's first; none for a
/// name that is not a plain file name.
fn profile_files(
    lookup: &impl Fn(&str) -> Option<OsString>,
    overrides: &Overrides,
    config_dir: &Path,
    codex_file: Option<&Path>,
) -> Result<Vec<sources::ProfileFile>, ConfigWarning> {
    let asked = overrides
        .profile
        .clone()
        .or_else(|| trimmed(lookup("KELP_PROFILE")));
    let Some(name) = asked.filter(|name| {
        !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    }) else {
        return Ok(Vec::new());
    };
    let file_name = format!("{name}.config.toml");
    let mut found = Vec::new();
    let kelp = config_dir.join(&file_name);
    if let Some(text) = file::read(&kelp)? {
        found.push(sources::ProfileFile {
            path: kelp,
            dialect: file::Dialect::Kelp,
            text,
        });
    }
    if let Some(codex) = codex_file
        .and_then(Path::parent)
        .map(|dir| dir.join(&file_name))
        && let Some(text) = file::read_codex(&codex)?
    {
        found.push(sources::ProfileFile {
            path: codex,
            dialect: file::Dialect::Codex,
            text,
        });
    }
    Ok(found)
}

fn codex_config_file(lookup: &impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let dir = match lookup("CODEX_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
    {
        Some(dir) if dir.is_absolute() => dir,
        _ => PathBuf::from(lookup("HOME").filter(|v| !v.is_empty())?).join(".codex"),
    };
    Some(dir.join("config.toml"))
}

/// Where the trust of `project_dir` is kept: the root of the git repository it is in (the
/// nearest folder up with a `.git`), else the folder itself. The home folder, or a folder that
/// holds it, is never the root of a folder beneath it: a dotfiles repository trusted once would
/// otherwise trust every archive extracted under `~/Downloads`.
pub fn trust_root(project_dir: &Path) -> PathBuf {
    let home = std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .map(PathBuf::from);
    trust_root_below(project_dir, home.as_deref())
}

fn trust_root_below(project_dir: &Path, home: Option<&Path>) -> PathBuf {
    let real = |path: &Path| std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let home = home.map(real);
    let holds_home = |dir: &Path| {
        home.as_ref()
            .is_some_and(|home| home.starts_with(real(dir)))
    };
    project_dir
        .ancestors()
        .find(|dir| dir.join(".git").symlink_metadata().is_ok())
        .filter(|root| *root == project_dir || !holds_home(root))
        .unwrap_or(project_dir)
        .to_path_buf()
}

/// Checks an endpoint override and trims its trailing slashes; the error is the reason.
pub fn check_endpoint(value: &str) -> Result<String, String> {
    let parsed = url::Url::parse(value).map_err(|e| e.to_string())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("the scheme must be http or https".into());
    }
    if parsed.host_str().is_none() {
        return Err("it has no host".into());
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("it must not have a query or fragment".into());
    }
    Ok(value.trim_end_matches('/').to_string())
}

/// The model, its reasoning effort and the service tier: a flag, else the environment (for
/// the first two), else the files.
fn model_choice(
    text: &impl Fn(&str) -> Option<String>,
    from_file: &file::FileSettings,
    overrides: &Overrides,
) -> (
    Option<String>,
    Option<String>,
    Option<crate::protocol::ServiceTier>,
) {
    let model = overrides
        .model
        .clone()
        .or_else(|| text("KELP_MODEL"))
        .or_else(|| from_file.model.clone());
    let effort = overrides
        .reasoning_effort
        .clone()
        .or_else(|| text("KELP_REASONING_EFFORT").map(|v| v.to_ascii_lowercase()))
        .or_else(|| from_file.reasoning_effort.clone());
    let tier = overrides.service_tier.or(from_file.service_tier).flatten();
    (model, effort, tier)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A home folder that is a git repository (dotfiles) is not the trust root of a folder
    /// beneath it; a repository beneath the home still is its folders' root.
    #[test]
    fn the_home_folder_is_never_the_trust_root_of_a_folder_beneath_it() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let evil = home.join("Downloads/evil");
        let repo = home.join("src/app");
        std::fs::create_dir_all(home.join(".git")).unwrap();
        std::fs::create_dir_all(&evil).unwrap();
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::create_dir_all(repo.join("lib")).unwrap();
        assert_eq!(trust_root_below(&evil, Some(&home)), evil);
        assert_eq!(trust_root_below(&home, Some(&home)), home);
        assert_eq!(trust_root_below(&repo.join("lib"), Some(&home)), repo);
        // The twin: with the home elsewhere, the repository above decides.
        assert_eq!(
            trust_root_below(&evil, Some(&dir.path().join("elsewhere"))),
            home
        );
    }

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_follow_xdg_under_home() {
        let c = config(&[("HOME", "/home/ana")]).unwrap();
        assert_eq!(c.auth_issuer, DEFAULT_AUTH_ISSUER);
        assert_eq!(c.codex_base_url, DEFAULT_CODEX_BASE_URL);
        assert_eq!(c.openai_base_url, DEFAULT_OPENAI_BASE_URL);
        assert_eq!(c.callback_port, 1455);
        assert_eq!(
            c.auth_file,
            PathBuf::from("/home/ana/.local/share/kelp/auth.json")
        );
        assert_eq!(c.state_dir, PathBuf::from("/home/ana/.local/state/kelp"));
        assert_eq!(c.config_dir, PathBuf::from("/home/ana/.config/kelp"));
        assert_eq!(
            c.log_file(),
            PathBuf::from("/home/ana/.local/state/kelp/kelp.log")
        );
    }

    #[test]
    fn the_model_asked_for_beats_the_saved_one_which_beats_the_default() {
        let mut c = config(&[("HOME", "/home/ana")]).unwrap();
        c.model = None;
        assert_eq!(c.model_in_use(), DEFAULT_MODEL);
        assert_eq!(c.model_or(Some("o3")), "o3");
        assert_eq!(c.model_or(Some(" ")), DEFAULT_MODEL);
        c.model = Some("gpt-5.4".into());
        assert_eq!(c.model_in_use(), "gpt-5.4");
        assert_eq!(c.model_or(Some("o3")), "gpt-5.4");
        c.model = Some("  ".into());
        assert_eq!(c.model_or(Some("o3")), "o3");
    }

    #[test]
    fn overrides_win_and_lose_trailing_slashes() {
        let c = config(&[
            ("HOME", "/home/ana"),
            ("KELP_AUTH_ISSUER", "http://127.0.0.1:9/"),
            (
                "KELP_CODEX_BASE_URL",
                "http://127.0.0.1:9/backend-api/codex//",
            ),
            ("OPENAI_BASE_URL", "http://localhost:9/v1"),
            ("KELP_CALLBACK_PORT", "0"),
            ("XDG_DATA_HOME", "/data"),
            ("XDG_STATE_HOME", "/state"),
        ])
        .unwrap();
        assert_eq!(c.auth_issuer, "http://127.0.0.1:9");
        assert_eq!(c.codex_base_url, "http://127.0.0.1:9/backend-api/codex");
        assert_eq!(c.openai_base_url, "http://localhost:9/v1");
        assert_eq!(c.callback_port, 0);
        assert_eq!(c.auth_file, PathBuf::from("/data/kelp/auth.json"));
        assert_eq!(c.state_dir, PathBuf::from("/state/kelp"));
    }

    #[test]
    fn auth_file_override_beats_xdg() {
        let c = config(&[
            ("HOME", "/h"),
            ("XDG_DATA_HOME", "/d"),
            ("KELP_AUTH_FILE", "/x/a.json"),
        ])
        .unwrap();
        assert_eq!(c.auth_file, PathBuf::from("/x/a.json"));
    }

    #[test]
    fn relative_xdg_dirs_are_ignored_as_the_spec_says() {
        let c = config(&[("HOME", "/h"), ("XDG_DATA_HOME", "rel")]).unwrap();
        assert_eq!(c.auth_file, PathBuf::from("/h/.local/share/kelp/auth.json"));
    }

    #[test]
    fn malformed_urls_name_the_variable() {
        let err = config(&[("HOME", "/h"), ("OPENAI_BASE_URL", "not a url")]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("OPENAI_BASE_URL is not a valid http(s) URL")
        );
        let err = config(&[("HOME", "/h"), ("KELP_AUTH_ISSUER", "ftp://x")]).unwrap_err();
        assert!(err.to_string().contains("KELP_AUTH_ISSUER"), "{err}");
        let err = config(&[("HOME", "/h"), ("KELP_CALLBACK_PORT", "70000")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "KELP_CALLBACK_PORT is not a port number (0-65535): \"70000\""
        );
    }

    #[test]
    fn no_home_is_a_clear_error() {
        let err = config(&[]).unwrap_err();
        assert_eq!(
            err,
            ConfigError::NoHome {
                var: "XDG_DATA_HOME"
            }
        );
    }

    #[test]
    fn for_origin_puts_every_host_on_one_origin() {
        let c = Config::for_origin("http://127.0.0.1:5/", Path::new("/t"));
        assert_eq!(c.codex_base_url, "http://127.0.0.1:5/backend-api/codex");
        assert_eq!(c.openai_base_url, "http://127.0.0.1:5/v1");
        assert_eq!(c.auth_file, PathBuf::from("/t/auth.json"));
    }
}
