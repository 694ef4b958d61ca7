//! `config.toml` in the config dir, read forgivingly (saving a setting is `edit.rs`'s).
//!
//! A person edits this file by hand, so nothing in it may stop kelp from starting: a malformed
//! file, an unknown key or a bad value each become a one-line warning (with the line and column
//! for syntax errors) and kelp goes on with what it could use.

use std::io;
use std::path::{Path, PathBuf};

use toml_edit::Item;

use super::{modes, modes::Theme};

pub use super::secret_rules::SecretRules;
pub use super::warning::ConfigWarning;
use super::warning::{expand_home, line_column};
use crate::protocol::{ApprovalMode, SandboxMode};

/// The file's name inside the config dir.
pub const FILE_NAME: &str = "config.toml";

/// Every key the file may hold.
pub const KEYS: &[&str] = &[
    "model",
    "reasoning_effort",
    "service_tier",
    "approval",
    "approvals_reviewer",
    "review_model",
    "lsp",
    "sandbox",
    "network",
    "allowed_domains",
    "denied_domains",
    "mouse",
    "theme",
    "notifications",
    "notify",
    "server",
    "context_window",
    "auth_issuer",
    "codex_base_url",
    "openai_base_url",
    "callback_port",
    "auth_file",
    "mcp_servers",
    "model_provider",
    "model_providers",
    "web_search",
    "skills",
    "hide_paths",
    "keep_paths",
    "env_keep",
    "env_drop",
    "ssh_agent",
    "protected_paths",
    "tool_caches",
    "max_command_timeout_ms",
    "private_tmp_max_mb",
    "max_background_terminals",
    "profile",
    "profiles",
    "projects",
    "agents",
    "features",
    "hooks",
    "status_line",
    "statusLine",
    "tui",
];

/// The values the file sets; `None` where it sets nothing usable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSettings {
    pub model: Option<String>,
    pub reasoning_effort: Option<String>,
    /// `service_tier`: Codex's `fast` or `flex`; `Some(None)` for `default`.
    pub service_tier: Option<Option<crate::protocol::ServiceTier>>,
    pub approval: Option<ApprovalMode>,
    /// `approvals_reviewer`: who approvals go to first (Codex's key and words).
    pub approvals_reviewer: Option<crate::protocol::ApprovalsReviewer>,
    /// `review_model`: the auto-reviewer's model.
    pub review_model: Option<String>,
    /// `lsp`: the language servers' diagnostics after an edit.
    pub lsp: super::lsp::LspFile,
    pub sandbox: Option<SandboxMode>,
    pub network: Option<modes::Network>,
    /// The domains commands may reach with `network = "domains"` (`*.crates.io` for those
    /// beneath), and those they may not (which win).
    pub allowed_domains: Option<Vec<String>>,
    pub denied_domains: Option<Vec<String>>,
    pub mouse: Option<bool>,
    pub theme: Option<Theme>,
    pub notifications: Option<modes::Notify>,
    /// `notify = ["program", "arg"]`: run after each turn with Codex's JSON appended.
    pub notify: Option<Vec<String>>,
    pub server: Option<modes::Server>,
    pub context_window: Option<u64>,
    pub auth_issuer: Option<String>,
    pub codex_base_url: Option<String>,
    pub openai_base_url: Option<String>,
    pub callback_port: Option<u16>,
    pub auth_file: Option<PathBuf>,
    /// `[mcp_servers.NAME]`, in the file's order.
    pub mcp_servers: Vec<super::mcp::McpServerConfig>,
    /// `model_provider = "NAME"`: the provider requests go to.
    pub model_provider: Option<String>,
    /// `[model_providers.NAME]`, in the file's order.
    pub model_providers: Vec<super::providers::ModelProvider>,
    /// `web_search = "live" | "cached" | "disabled"`.
    pub web_search: Option<modes::WebSearch>,
    /// `[[skills.config]]` entries with `enabled = false`, as Codex keeps them.
    pub skills_off: Vec<modes::SkillOff>,
    /// What the sandbox keeps from commands besides its defaults, and what it lets through.
    pub secrets: SecretRules,
    /// `[projects."PATH"] trust_level = "trusted" | "untrusted"`, as Codex keeps it.
    pub projects: Vec<(PathBuf, bool)>,
    /// `[features] multi_agent_v2`, `[agents]` and its roles.
    pub agents: super::agents::AgentsFile,
    /// The status line, the window title, the syntax theme, Vim mode: `status_line`
    /// (Claude Code's `statusLine`) and Codex's `[tui]` table.
    pub surfaces: super::surfaces::Surfaces,
}

impl FileSettings {
    /// These settings laid over those of a file read below this one (`lower`: Codex's): each
    /// value this file sets wins, and the tables (MCP servers, model providers, projects' trust)
    /// are joined, this file's entry winning by name. What commands may not see is joined too
    /// ([`SecretRules::over`]).
    pub fn over(self, lower: FileSettings) -> FileSettings {
        let mut mcp_servers = self.mcp_servers;
        for server in lower.mcp_servers {
            if !mcp_servers.iter().any(|known| known.name == server.name) {
                mcp_servers.push(server);
            }
        }
        let mut model_providers = self.model_providers;
        for provider in lower.model_providers {
            if !model_providers.iter().any(|known| known.id == provider.id) {
                model_providers.push(provider);
            }
        }
        let mut projects = self.projects;
        for (dir, trusted) in lower.projects {
            if !projects.iter().any(|(known, _)| *known == dir) {
                projects.push((dir, trusted));
            }
        }
        FileSettings {
            model: self.model.or(lower.model),
            reasoning_effort: self.reasoning_effort.or(lower.reasoning_effort),
            service_tier: self.service_tier.or(lower.service_tier),
            approval: self.approval.or(lower.approval),
            approvals_reviewer: self.approvals_reviewer.or(lower.approvals_reviewer),
            review_model: self.review_model.or(lower.review_model),
            lsp: self.lsp.over(lower.lsp),
            sandbox: self.sandbox.or(lower.sandbox),
            network: self.network.or(lower.network),
            allowed_domains: self.allowed_domains.or(lower.allowed_domains),
            denied_domains: self.denied_domains.or(lower.denied_domains),
            mouse: self.mouse.or(lower.mouse),
            theme: self.theme.or(lower.theme),
            notifications: self.notifications.or(lower.notifications),
            notify: self.notify.or(lower.notify),
            server: self.server.or(lower.server),
            context_window: self.context_window.or(lower.context_window),
            auth_issuer: self.auth_issuer.or(lower.auth_issuer),
            codex_base_url: self.codex_base_url.or(lower.codex_base_url),
            openai_base_url: self.openai_base_url.or(lower.openai_base_url),
            callback_port: self.callback_port.or(lower.callback_port),
            auth_file: self.auth_file.or(lower.auth_file),
            mcp_servers,
            model_provider: self.model_provider.or(lower.model_provider),
            model_providers,
            web_search: self.web_search.or(lower.web_search),
            skills_off: self
                .skills_off
                .into_iter()
                .chain(lower.skills_off)
                .collect(),
            secrets: self.secrets.over(lower.secrets),
            projects,
            agents: self.agents.over(lower.agents),
            surfaces: self.surfaces.over(lower.surfaces),
        }
    }
}

/// The largest config file read: settings and a few servers take a few KiB.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Reads the file's text; `Ok(None)` when there is no file. A FIFO, a folder or a file over
/// 1 MiB in its place is a warning, never a hang. A file or folder open to other users is made
/// private first, with a note: the file may hold an MCP server's secrets.
pub fn read(path: &Path) -> Result<Option<String>, ConfigWarning> {
    read_as(path, crate::private_file::read_private)
}

/// [`read`] for Codex's file, left as it is: kelp never changes another tool's files, its mode
/// included.
pub fn read_codex(path: &Path) -> Result<Option<String>, ConfigWarning> {
    read_as(path, crate::private_file::read_regular)
}

fn read_as(
    path: &Path,
    read_bytes: fn(&Path, u64) -> io::Result<Vec<u8>>,
) -> Result<Option<String>, ConfigWarning> {
    let text = read_bytes(path, MAX_CONFIG_BYTES).and_then(|bytes| {
        String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    });
    match text {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ConfigWarning::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
    }
}

/// Whose config file a text is: kelp's own, or Codex's, read for the settings both have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Kelp,
    Codex,
}

/// Parses the file's `text` (read from `path`, named in warnings). `home` expands a leading
/// `~/` in `auth_file`.
pub fn parse(path: &Path, text: &str, home: Option<&Path>) -> (FileSettings, Vec<ConfigWarning>) {
    parse_as(Dialect::Kelp, path, text, home)
}

/// [`parse`] of kelp's file, or of Codex's (`dialect`): its keys are read under kelp's names
/// and its other settings skipped.
pub fn parse_as(
    dialect: Dialect,
    path: &Path,
    text: &str,
    home: Option<&Path>,
) -> (FileSettings, Vec<ConfigWarning>) {
    let mut settings = FileSettings::default();
    let mut warnings = Vec::new();
    // The parsed document keeps where each value is, for the warnings about MCP servers.
    let doc = match toml_edit::Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            warnings.push(malformed(path, text, &e));
            return (settings, warnings);
        }
    };
    for (written, item) in doc.iter() {
        let key = match dialect {
            Dialect::Kelp => written,
            Dialect::Codex => match super::codex_keys::kelp_key(written) {
                Some(key) => key,
                None => continue,
            },
        };
        let (line, column) = line_column(
            text,
            doc.key(written)
                .and_then(|k| k.span())
                .map_or(0, |span| span.start),
        );
        let string = item.as_str().map(str::trim).filter(|s| !s.is_empty());
        let entry = Entry {
            key,
            item,
            string,
            home,
            dialect,
        };
        let mut reasons = Vec::new();
        let mut bad = |reason: &str| reasons.push(reason.to_string());
        let known = entry.model_keys(&mut settings, &mut bad)
            || entry.sandbox_keys(&mut settings, &mut bad)
            || entry.interface_keys(&mut settings, &mut bad)
            || entry.tables(&mut settings, (path, text), &mut warnings, &mut bad);
        if !known {
            warnings.push(ConfigWarning::UnknownKey {
                path: path.to_path_buf(),
                line,
                column,
                key: key.to_string(),
                suggestion: super::warning::nearest(key, KEYS),
            });
        }
        warnings.extend(reasons.into_iter().map(|reason| ConfigWarning::BadValue {
            path: path.to_path_buf(),
            line,
            column,
            key: written.to_string(),
            reason,
        }));
    }
    (settings, warnings)
}

/// One top-level key as read: its name (in kelp's words), its value, the value as a
/// non-empty string where it is one, and what `~/` and the dialect mean here.
#[derive(Clone, Copy)]
struct Entry<'a> {
    key: &'a str,
    item: &'a Item,
    string: Option<&'a str>,
    home: Option<&'a Path>,
    dialect: Dialect,
}

impl Entry<'_> {
    /// The model, its provider and the session's trust and approval. `false` when the key is none of them.
    fn model_keys(self, settings: &mut FileSettings, bad: &mut dyn FnMut(&str)) -> bool {
        let (key, item, string) = (self.key, self.item, self.string);
        match key {
            "model" => match string {
                Some(model) => settings.model = Some(model.to_string()),
                None => bad("must be a model name in quotes"),
            },
            "reasoning_effort" => match string {
                Some(effort) => settings.reasoning_effort = Some(effort.to_ascii_lowercase()),
                None => bad("must be a string such as \"medium\" or \"high\""),
            },
            "service_tier" => match string.map(crate::protocol::ServiceTier::parse) {
                Some(Ok(tier)) => settings.service_tier = Some(tier),
                _ => bad("must be \"fast\", \"flex\" or \"default\""),
            },
            "approval" => match string.map(str::parse::<ApprovalMode>) {
                Some(Ok(mode)) => settings.approval = Some(mode),
                _ => bad(
                    "must be \"ask\", \"auto-edit\", \"full-auto\" or \"never\" (or Codex's \"untrusted\", \"on-request\")",
                ),
            },
            "approvals_reviewer" => match string.map(crate::protocol::ApprovalsReviewer::parse) {
                Some(Ok(reviewer)) => settings.approvals_reviewer = Some(reviewer),
                _ => bad("must be \"user\" or \"auto_review\""),
            },
            "review_model" => match string {
                Some(model) if !model.trim().is_empty() => {
                    settings.review_model = Some(model.trim().to_string());
                }
                _ => bad("must be a model name in quotes"),
            },
            "projects" => match item.as_table_like() {
                Some(projects) => {
                    for (dir, entry) in projects.iter() {
                        let level = entry
                            .as_table_like()
                            .and_then(|project| project.get("trust_level"))
                            .and_then(|level| level.as_str());
                        match level {
                            Some("trusted") => settings.projects.push((dir.into(), true)),
                            Some("untrusted") => settings.projects.push((dir.into(), false)),
                            _ => bad(&format!(
                                "[projects.{dir:?}] trust_level must be \"trusted\" or \"untrusted\""
                            )),
                        }
                    }
                }
                None => bad("must be [projects.\"PATH\"] tables"),
            },
            "context_window" => match item.as_integer().map(u64::try_from) {
                Some(Ok(tokens)) if tokens >= 1_000 => settings.context_window = Some(tokens),
                _ => bad("must be a number of tokens, 1000 or more"),
            },
            "model_provider" => match string {
                Some(id) => settings.model_provider = Some(id.to_string()),
                None => bad("must be the name of a provider in quotes, such as \"openai\""),
            },
            "web_search" => match string.map(str::parse::<modes::WebSearch>) {
                Some(Ok(mode)) => settings.web_search = Some(mode),
                _ => bad("must be \"live\", \"cached\" or \"disabled\""),
            },
            _ => return false,
        }
        true
    }

    /// What the sandbox lets commands reach. `false` when the key is none of them.
    fn sandbox_keys(self, settings: &mut FileSettings, bad: &mut dyn FnMut(&str)) -> bool {
        let (key, item, string, home, dialect) =
            (self.key, self.item, self.string, self.home, self.dialect);
        match key {
            "sandbox" => match string.map(str::parse::<SandboxMode>) {
                Some(Ok(mode)) => settings.sandbox = Some(mode),
                _ => bad("must be \"workspace-write\", \"read-only\" or \"off\""),
            },
            "network" => match item
                .as_bool()
                .map(|on| Ok(modes::Network::from(on)))
                .or_else(|| string.map(modes::parse_network))
            {
                Some(Ok(network)) => settings.network = Some(network),
                _ => bad("must be true, false or \"domains\""),
            },
            "allowed_domains" | "denied_domains" => match string_list(item) {
                Some(domains) if key == "allowed_domains" => {
                    settings.allowed_domains = Some(domains)
                }
                Some(domains) => settings.denied_domains = Some(domains),
                None => bad("must be a list of domains, such as [\"crates.io\", \"*.crates.io\"]"),
            },
            "hide_paths" | "keep_paths" | "tool_caches" => {
                let list = string_list(item).map(|paths| {
                    paths
                        .iter()
                        .map(|p| expand_home(p, home))
                        .collect::<Option<Vec<_>>>()
                });
                match list {
                    Some(Some(paths)) if key == "hide_paths" => settings.secrets.hide_paths = paths,
                    Some(Some(paths)) if key == "keep_paths" => {
                        settings.secrets.keep_paths = paths;
                    }
                    Some(Some(paths)) => settings.secrets.tool_caches = Some(paths),
                    _ => bad("must be a list of absolute paths or paths starting with ~/"),
                }
            }
            "protected_paths" => match string_list(item) {
                Some(paths)
                    if paths
                        .iter()
                        .all(|p| !p.starts_with('/') && !p.contains("..")) =>
                {
                    settings.secrets.protected_paths = paths;
                }
                _ => bad("must be a list of paths relative to the project, such as \".husky\""),
            },
            "max_command_timeout_ms" => match item.as_integer().map(u64::try_from) {
                Some(Ok(ms)) if ms > 0 => settings.secrets.max_command_timeout_ms = Some(ms),
                _ => bad("must be a number of milliseconds above 0, such as 3600000"),
            },
            "max_background_terminals" => match item.as_integer().map(usize::try_from) {
                Some(Ok(count)) if count > 0 => {
                    settings.secrets.max_background_terminals = Some(count);
                }
                _ => bad("must be a number above 0, such as 64"),
            },
            "private_tmp_max_mb" => match item.as_integer().map(u64::try_from) {
                Some(Ok(mb)) if mb > 0 => settings.secrets.private_tmp_max_mb = Some(mb),
                _ => bad("must be a number of megabytes above 0, such as 1024"),
            },
            "ssh_agent" => match item.as_bool() {
                Some(on) => settings.secrets.ssh_agent = on,
                None => bad("must be true or false"),
            },
            "env_drop" | "env_keep" => match string_list(item) {
                Some(names) if key == "env_drop" => settings.secrets.env_drop = names,
                Some(names) => settings.secrets.env_keep = names,
                None => bad("must be a list of variable names such as \"GITHUB_*\""),
            },
            // Codex's `[sandbox_workspace_write] network_access`.
            "sandbox_workspace_write" if dialect == Dialect::Codex => {
                match item.get("network_access").map(|v| v.as_bool()) {
                    Some(Some(on)) => settings.network = Some(modes::Network::from(on)),
                    Some(None) => bad("network_access must be true or false"),
                    None => {}
                }
            }
            _ => return false,
        }
        true
    }

    /// The screen, the server and where login goes. `false` when the key is none of them.
    fn interface_keys(self, settings: &mut FileSettings, bad: &mut dyn FnMut(&str)) -> bool {
        let (key, item, string, home) = (self.key, self.item, self.string, self.home);
        match key {
            "mouse" => match item
                .as_bool()
                .map(Ok)
                .or_else(|| string.map(modes::parse_switch))
            {
                Some(Ok(on)) => settings.mouse = Some(on),
                _ => bad("must be true or false"),
            },
            "theme" => match string.map(str::parse::<Theme>) {
                Some(Ok(theme)) => settings.theme = Some(theme),
                _ => bad("must be \"auto\", \"dark\" or \"light\""),
            },
            "server" => match string.map(str::parse::<modes::Server>) {
                Some(Ok(server)) => settings.server = Some(server),
                _ => bad("must be \"none\", \"per-user\" or \"over-ssh\""),
            },
            "status_line" | "statusLine" | "tui" => settings.surfaces.read(key, item, bad),
            "lsp" => settings.lsp.read(item, bad),
            "notify" => match item.as_array().map(|list| {
                list.iter()
                    .map(|arg| arg.as_str().map(str::to_string))
                    .collect::<Option<Vec<String>>>()
            }) {
                Some(Some(argv)) if !argv.is_empty() => settings.notify = Some(argv),
                _ => bad("must be a program and its arguments: [\"notify-send\", \"kelp\"]"),
            },
            "notifications" => match string.map(str::parse::<modes::Notify>) {
                Some(Ok(notify)) => settings.notifications = Some(notify),
                _ => bad("must be \"bell\", \"desktop\" or \"off\""),
            },
            "auth_issuer" | "codex_base_url" | "openai_base_url" => {
                let checked = match string {
                    Some(url) => super::check_endpoint(url),
                    None => Err("must be a URL in quotes".to_string()),
                };
                match checked {
                    Ok(url) if key == "auth_issuer" => settings.auth_issuer = Some(url),
                    Ok(url) if key == "codex_base_url" => settings.codex_base_url = Some(url),
                    Ok(url) => settings.openai_base_url = Some(url),
                    Err(reason) => bad(&format!("is not a valid http(s) URL ({reason})")),
                }
            }
            "callback_port" => match item.as_integer().map(u16::try_from) {
                Some(Ok(port)) => settings.callback_port = Some(port),
                _ => bad("must be a port number from 0 to 65535"),
            },
            "auth_file" => match string.and_then(|s| expand_home(s, home)) {
                Some(file) => settings.auth_file = Some(file),
                None => bad("must be an absolute path or start with ~/"),
            },
            _ => return false,
        }
        true
    }

    /// The tables: profiles, providers, skills and MCP servers, whose own warnings go to
    /// `warnings`. `false` when the key is none of them.
    fn tables(
        self,
        settings: &mut FileSettings,
        (path, text): (&Path, &str),
        warnings: &mut Vec<ConfigWarning>,
        bad: &mut dyn FnMut(&str),
    ) -> bool {
        let (key, item, home) = (self.key, self.item, self.home);
        match key {
            // Used before this: a profile's keys are laid over the top level.
            "profile" if item.as_str().is_some() => {}
            "profile" => bad("must be the name of a [profiles.NAME] table"),
            // Read by the hooks (`hooks/config.rs`), which say what they cannot use.
            "profiles" | "hooks" if item.is_table_like() => {}
            "hooks" => bad("must be tables of events such as [[hooks.PreToolUse]]"),
            "profiles" => bad("must be tables such as [profiles.fast]"),
            super::providers::KEY => {
                let (providers, mut found) = super::providers::parse(path, text, item);
                settings.model_providers = providers;
                warnings.append(&mut found);
            }
            // Codex's `[[skills.config]] path = "…" | name = "…", enabled = false`.
            "skills" if !item.is_table_like() => {
                bad("must be a table ([[skills.config]] entries)");
            }
            "skills" => match item
                .get("config")
                .map(|entries| entries.as_array_of_tables())
            {
                None => {}
                Some(Some(entries)) => {
                    for entry in entries {
                        if entry.get("enabled").and_then(Item::as_bool) != Some(false) {
                            continue;
                        }
                        let path = entry
                            .get("path")
                            .and_then(Item::as_str)
                            .and_then(|p| expand_home(p, home));
                        let name = entry.get("name").and_then(Item::as_str).map(str::to_string);
                        if path.is_none() && name.is_none() {
                            bad("[[skills.config]] needs a path or a name");
                            continue;
                        }
                        settings.skills_off.push(modes::SkillOff { path, name });
                    }
                }
                Some(None) => bad("config must be [[skills.config]] tables"),
            },
            super::agents::KEY => {
                let dir = path.parent().unwrap_or(Path::new("."));
                let read = super::agents::parse(item, dir, home, bad);
                settings.agents = super::agents::AgentsFile {
                    enabled: settings.agents.enabled,
                    ..read
                };
            }
            super::agents::FEATURES => {
                settings.agents.enabled = super::agents::parse_features(item, bad);
                settings.secrets.unified_exec =
                    super::agents::feature(item, super::agents::UNIFIED_EXEC, bad);
            }
            super::mcp::KEY => {
                let (servers, mut found) = super::mcp::parse(path, text, item, home);
                settings.mcp_servers = servers;
                warnings.append(&mut found);
            }
            _ => return false,
        }
        true
    }
}

/// A TOML array of non-empty strings, trimmed; `None` for anything else.
fn string_list(item: &Item) -> Option<Vec<String>> {
    item.as_array()?
        .iter()
        .map(|value| {
            let text = value.as_str()?.trim();
            (!text.is_empty()).then(|| text.to_string())
        })
        .collect()
}

/// Where a syntax error is and what it is, on one line.
pub(super) struct SyntaxError {
    pub(super) line: usize,
    pub(super) column: usize,
    pub(super) message: String,
}

impl SyntaxError {
    pub(super) fn new(text: &str, e: &toml_edit::TomlError) -> Self {
        let (line, column) = line_column(text, e.span().map_or(0, |span| span.start));
        let message = e
            .message()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        Self {
            line,
            column,
            message,
        }
    }
}

fn malformed(path: &Path, text: &str, e: &toml_edit::TomlError) -> ConfigWarning {
    let SyntaxError {
        line,
        column,
        message,
    } = SyntaxError::new(text, e);
    ConfigWarning::Malformed {
        path: path.to_path_buf(),
        line,
        column,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::edit::*;

    #[test]
    fn line_and_column_count_characters_from_one() {
        let text = "a = 1\nbé = x\n";
        assert_eq!(line_column(text, 0), (1, 1));
        let x = text.find('x').unwrap();
        assert_eq!(line_column(text, x), (2, 6));
        assert_eq!(line_column(text, 10_000), (3, 1));
    }

    #[test]
    fn values_are_typed_and_checked() {
        let path = Path::new("/c/config.toml");
        let (settings, warnings) = parse(
            path,
            "model = \" gpt-5.5 \"\nreasoning_effort = \"HIGH\"\napproval = \"full_auto\"\n\
             callback_port = 0\nauth_file = \"~/a.json\"\nopenai_base_url = \"http://h:1/v1/\"\n",
            Some(Path::new("/home/ana")),
        );
        assert_eq!(warnings, vec![]);
        assert_eq!(settings.model.as_deref(), Some("gpt-5.5"));
        assert_eq!(settings.reasoning_effort.as_deref(), Some("high"));
        assert_eq!(settings.approval, Some(ApprovalMode::FullAuto));
        assert_eq!(settings.callback_port, Some(0));
        assert_eq!(settings.auth_file, Some(PathBuf::from("/home/ana/a.json")));
        assert_eq!(settings.openai_base_url.as_deref(), Some("http://h:1/v1"));
    }

    #[test]
    fn bad_values_warn_by_key_and_are_dropped() {
        let path = Path::new("/c/config.toml");
        let (settings, warnings) = parse(
            path,
            "model = 5\napproval = \"sometimes\"\ncallback_port = 70000\nauth_file = \"rel\"\n\
             auth_issuer = \"ftp://x\"\n",
            None,
        );
        assert_eq!(settings, FileSettings::default());
        let keys: Vec<_> = warnings
            .iter()
            .map(|w| match w {
                ConfigWarning::BadValue { key, .. } => key.as_str(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(
            keys,
            [
                "model",
                "approval",
                "callback_port",
                "auth_file",
                "auth_issuer"
            ]
        );
        assert_eq!(
            warnings[1].to_string(),
            "/c/config.toml:2:1: `approval` must be \"ask\", \"auto-edit\", \"full-auto\" or \"never\" (or Codex's \"untrusted\", \"on-request\"); it is ignored"
        );
    }

    #[test]
    fn a_folders_trust_is_kept_as_codex_keeps_it_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "# mine\nmodel = \"gpt-5.5\"\n").unwrap();
        for (root, trusted) in [("/src/app", true), ("/tmp/x.y", false), ("/src/app", true)] {
            let setting = Setting::Trust {
                root: root.into(),
                trusted,
            };
            save_setting(dir.path(), &setting).unwrap();
        }
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert!(text.starts_with("# mine\nmodel = \"gpt-5.5\"\n"), "{text}");
        assert!(
            text.contains("[projects.\"/src/app\"]\ntrust_level = \"trusted\""),
            "{text}"
        );
        assert!(!text.contains("[projects]"), "{text}");
        let (settings, warnings) = parse(&dir.path().join(FILE_NAME), &text, None);
        assert_eq!(warnings, []);
        assert_eq!(
            settings.projects,
            [("/src/app".into(), true), ("/tmp/x.y".into(), false)]
        );
        let (_, warnings) = parse(
            Path::new("/c/config.toml"),
            "[projects.\"/p\"]\ntrust_level = \"sure\"\n",
            None,
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }

    #[test]
    fn secret_rules_are_lists_of_paths_and_names() {
        let text = "hide_paths = [\"~/vault\", \"/srv/keys\"]\nkeep_paths = [\"~/.ssh\"]\n\
                    env_drop = [\"CORP_*\"]\nenv_keep = [\"GH_TOKEN\"]\nssh_agent = true\n\
                    tool_caches = [\"~/.cargo/registry\"]\n";
        let (settings, warnings) = parse(Path::new("c"), text, Some(Path::new("/home/ana")));
        assert_eq!(warnings, []);
        assert_eq!(
            settings.secrets,
            SecretRules {
                hide_paths: vec!["/home/ana/vault".into(), "/srv/keys".into()],
                keep_paths: vec!["/home/ana/.ssh".into()],
                env_drop: vec!["CORP_*".into()],
                env_keep: vec!["GH_TOKEN".into()],
                ssh_agent: true,
                protected_paths: Vec::new(),
                tool_caches: Some(vec!["/home/ana/.cargo/registry".into()]),
                max_command_timeout_ms: None,
                private_tmp_max_mb: None,
                max_background_terminals: None,
                unified_exec: None,
            }
        );
        let (_, warnings) = parse(Path::new("c"), "hide_paths = [\"relative\"]", None);
        assert!(matches!(&warnings[..], [ConfigWarning::BadValue { .. }]));
    }

    #[test]
    fn every_known_key_is_understood() {
        for key in KEYS {
            let (_, warnings) = parse(Path::new("c"), &format!("{key} = [1]"), None);
            assert!(
                matches!(
                    &warnings[..],
                    [ConfigWarning::BadValue { .. } | ConfigWarning::BadEntry { .. }]
                ),
                "{key}: {warnings:?}"
            );
        }
    }
}
