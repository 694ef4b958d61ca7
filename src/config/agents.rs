//! Subagents' settings as Codex 0.171 reads them: `[features] multi_agent_v2` turns the
//! collaboration tools on, `[agents] max_threads, max_depth` bound the team, and each
//! `[agents.NAME]` table (`description`, `config_file`) is a role the model may give an agent it
//! spawns, its file naming the model, effort, instructions and sandbox the role's agents use.

use std::path::{Path, PathBuf};

use toml_edit::Item;

use crate::protocol::SandboxMode;

/// The config file's table of agents.
pub const KEY: &str = "agents";
/// Codex's table of feature flags, of which kelp reads `multi_agent_v2`.
pub const FEATURES: &str = "features";
/// The flag that turns the collaboration tools on.
pub const FLAG: &str = "multi_agent_v2";

/// How many agents of one team may work at once, the first agent included (Codex's
/// concurrency slots).
pub const DEFAULT_MAX_THREADS: usize = 4;
/// How deep children may spawn children: the first agent's children are at depth 1.
pub const DEFAULT_MAX_DEPTH: usize = 3;
/// The most agents a setting may allow at once.
const MOST_THREADS: usize = 64;

/// What one config file says about agents; `None` where it says nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentsFile {
    pub enabled: Option<bool>,
    pub max_threads: Option<usize>,
    pub max_depth: Option<usize>,
    pub roles: Vec<AgentRole>,
}

impl AgentsFile {
    /// This file's settings over those of a file read below it: single values win, roles are
    /// joined, this file's winning by name.
    pub fn over(self, lower: Self) -> Self {
        let mut roles = self.roles;
        for role in lower.roles {
            if !roles.iter().any(|known| known.name == role.name) {
                roles.push(role);
            }
        }
        Self {
            enabled: self.enabled.or(lower.enabled),
            max_threads: self.max_threads.or(lower.max_threads),
            max_depth: self.max_depth.or(lower.max_depth),
            roles,
        }
    }

    /// The settings in force: the defaults where no file says, `enabled` from a flag first.
    pub fn settle(self, enabled: Option<bool>) -> AgentSettings {
        AgentSettings {
            enabled: enabled.or(self.enabled).unwrap_or(false),
            max_threads: self.max_threads.unwrap_or(DEFAULT_MAX_THREADS),
            max_depth: self.max_depth.unwrap_or(DEFAULT_MAX_DEPTH),
            roles: self.roles,
        }
    }
}

/// The team's settings in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSettings {
    /// Whether the model gets the collaboration tools.
    pub enabled: bool,
    /// How many agents may work at once, the first one included.
    pub max_threads: usize,
    /// How deep agents may spawn agents.
    pub max_depth: usize,
    /// The configured roles, before the built-in ones.
    pub roles: Vec<AgentRole>,
}

impl Default for AgentSettings {
    fn default() -> Self {
        AgentsFile::default().settle(None)
    }
}

/// A kind of agent the model may spawn (`agent_type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRole {
    pub name: String,
    /// What it is for, shown to the model.
    pub description: String,
    /// The TOML file with its model, effort, instructions and sandbox.
    pub config_file: Option<PathBuf>,
}

/// What a role's file sets for the agents of that role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleSettings {
    pub model: Option<String>,
    pub reasoning_effort: Option<String>,
    pub developer_instructions: Option<String>,
    pub sandbox: Option<SandboxMode>,
}

impl AgentRole {
    /// What the role's file sets (nothing without one); why not, when it cannot be read.
    pub fn settings(&self) -> Result<RoleSettings, String> {
        let Some(path) = &self.config_file else {
            return Ok(RoleSettings::default());
        };
        let bytes = crate::private_file::read_regular(path, MAX_ROLE_FILE)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::settings_in(path, bytes)
    }

    /// What a role's file read as `bytes` sets; `path` names it in what is wrong.
    pub fn settings_in(path: &Path, bytes: Vec<u8>) -> Result<RoleSettings, String> {
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("{} is not UTF-8 text", path.display()))?;
        let doc = text
            .parse::<toml_edit::DocumentMut>()
            .map_err(|e| format!("{} is not valid TOML: {}", path.display(), e.message()))?;
        let text_of = |key: &str| {
            doc.get(key)
                .and_then(Item::as_str)
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_string)
        };
        let sandbox = match text_of("sandbox_mode") {
            Some(mode) => Some(
                mode.parse()
                    .map_err(|why| format!("{}: sandbox_mode: {why}", path.display()))?,
            ),
            None => None,
        };
        Ok(RoleSettings {
            model: text_of("model"),
            reasoning_effort: text_of("model_reasoning_effort"),
            developer_instructions: text_of("developer_instructions"),
            sandbox,
        })
    }
}

/// The most a role's file may hold (a project's `config.toml` too).
pub const MAX_ROLE_FILE: u64 = 256 * 1024;

/// Reads `[agents]`: its limits and its role tables, each role's `config_file` relative to
/// `dir` (the config file's folder) unless absolute or under `~/`. `bad` hears what is wrong.
pub fn parse(
    item: &Item,
    dir: &Path,
    home: Option<&Path>,
    bad: &mut dyn FnMut(&str),
) -> AgentsFile {
    let mut file = AgentsFile::default();
    let Some(table) = item.as_table_like() else {
        bad("must be a table ([agents] and [agents.NAME])");
        return file;
    };
    let mut limit = |value: &Item, name: &str, most: usize| match value.as_integer() {
        Some(n) if n >= 1 && n as u64 <= most as u64 => Some(n as usize),
        _ => {
            bad(&format!("{name} must be a whole number from 1 to {most}"));
            None
        }
    };
    for (key, value) in table.iter() {
        match key {
            "max_threads" => file.max_threads = limit(value, "max_threads", MOST_THREADS),
            "max_depth" => file.max_depth = limit(value, "max_depth", 16),
            // Codex's other `[agents]` settings (job timeouts, nicknames) are its own.
            name => {
                if let Some(role) = value.as_table_like() {
                    let text = |key: &str| role.get(key).and_then(Item::as_str).map(str::trim);
                    let config_file = text("config_file").filter(|p| !p.is_empty()).map(|p| {
                        super::warning::expand_home(p, home)
                            .map_or_else(|| dir.join(p), |path| dir.join(path))
                    });
                    file.roles.push(AgentRole {
                        name: name.to_string(),
                        description: text("description").unwrap_or_default().to_string(),
                        config_file,
                    });
                }
            }
        }
    }
    file
}

/// Reads `[features] multi_agent_v2`; kelp reads `unified_exec` too ([`feature`]), Codex's
/// other flags are its own.
pub fn parse_features(item: &Item, bad: &mut dyn FnMut(&str)) -> Option<bool> {
    if item.as_table_like().is_none() {
        bad("must be a table of feature flags");
        return None;
    }
    feature(item, FLAG, bad)
}

/// The flag that gives the model `exec_command` and `write_stdin` (on unless set false).
pub const UNIFIED_EXEC: &str = "unified_exec";

/// Reads one flag of `[features]`.
pub fn feature(item: &Item, name: &str, bad: &mut dyn FnMut(&str)) -> Option<bool> {
    let value = item.as_table_like()?.get(name)?;
    match value.as_bool() {
        Some(on) => Some(on),
        None => {
            bad(&format!("{name} must be true or false"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agents(text: &str) -> (AgentsFile, Vec<String>) {
        let doc = text.parse::<toml_edit::DocumentMut>().unwrap();
        let mut reasons = Vec::new();
        let file = parse(
            doc.get(KEY).unwrap(),
            Path::new("/home/me/.codex"),
            Some(Path::new("/home/me")),
            &mut |why| reasons.push(why.to_string()),
        );
        (file, reasons)
    }

    #[test]
    fn roles_and_limits_are_read_as_codex_writes_them() {
        let (file, reasons) = agents(
            "[agents]\nmax_threads = 6\n[agents.worker]\ndescription = \"Small jobs.\"\n\
             config_file = \"worker.toml\"\n[agents.critic]\nconfig_file = \"~/roles/critic.toml\"\n",
        );
        assert!(reasons.is_empty(), "{reasons:?}");
        assert_eq!(file.max_threads, Some(6));
        assert_eq!(file.roles[0].name, "worker");
        assert_eq!(file.roles[0].description, "Small jobs.");
        assert_eq!(
            file.roles[0].config_file.as_deref(),
            Some(Path::new("/home/me/.codex/worker.toml"))
        );
        assert_eq!(
            file.roles[1].config_file.as_deref(),
            Some(Path::new("/home/me/roles/critic.toml"))
        );
        let settled = file.settle(None);
        assert!(!settled.enabled);
        assert_eq!(settled.max_depth, DEFAULT_MAX_DEPTH);
    }

    #[test]
    fn a_bad_limit_is_said_and_dropped() {
        let (file, reasons) = agents("[agents]\nmax_threads = 0\nmax_depth = \"deep\"\n");
        assert_eq!(file.max_threads, None);
        assert_eq!(file.max_depth, None);
        assert_eq!(reasons.len(), 2, "{reasons:?}");
    }

    #[test]
    fn kelps_roles_win_by_name_over_codexs() {
        let role = |name: &str, description: &str| AgentRole {
            name: name.into(),
            description: description.into(),
            config_file: None,
        };
        let kelp = AgentsFile {
            roles: vec![role("worker", "kelp's")],
            ..AgentsFile::default()
        };
        let codex = AgentsFile {
            enabled: Some(true),
            roles: vec![role("worker", "codex's"), role("critic", "codex's")],
            ..AgentsFile::default()
        };
        let both = kelp.over(codex);
        assert_eq!(both.enabled, Some(true));
        assert_eq!(
            both.roles,
            vec![role("worker", "kelp's"), role("critic", "codex's")]
        );
        assert!(!both.settle(Some(false)).enabled, "a flag beats the files");
    }

    #[test]
    fn a_roles_file_names_its_model_effort_instructions_and_sandbox() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("worker.toml");
        std::fs::write(
            &path,
            "model = \"gpt-5.4-mini\"\nmodel_reasoning_effort = \"low\"\n\
             developer_instructions = \"Be brief.\"\nsandbox_mode = \"read-only\"\n",
        )
        .unwrap();
        let role = AgentRole {
            name: "worker".into(),
            description: String::new(),
            config_file: Some(path),
        };
        assert_eq!(
            role.settings().unwrap(),
            RoleSettings {
                model: Some("gpt-5.4-mini".into()),
                reasoning_effort: Some("low".into()),
                developer_instructions: Some("Be brief.".into()),
                sandbox: Some(SandboxMode::ReadOnly),
            }
        );
        let missing = AgentRole {
            config_file: Some(dir.path().join("gone.toml")),
            ..role
        };
        assert!(missing.settings().unwrap_err().contains("gone.toml"));
    }
}
