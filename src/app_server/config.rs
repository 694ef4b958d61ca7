//! What a host reads before its first screen, in the words of Codex's protocol: `config/read`
//! (kelp's effective settings under Codex's key names, and the layers they came from),
//! `permissionProfile/list`, `model/list`, `skills/list` and `mcpServerStatus/list`.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::wire::{Answer, Page, RpcError, params};
use crate::config::{Config, McpServerConfig, McpTransport, codex_keys};
use crate::llm::models::ModelList;
use crate::protocol::ReasoningEffort;
use crate::protocol::{ServerState, ServerStatus};
use crate::wire::requests::ModelListParams;
use crate::wire::{
    ConfigLayer, ConfigRead, ConfigWritten, CursorPage, EffortOption, LayerMetadata, LayerName,
    McpServerStatus, McpTool, ModelInfo, PermissionProfile, Skill, SkillError, SkillsList,
    SkillsOfFolder,
};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ReadParams {
    #[serde(default)]
    include_layers: bool,
}

/// kelp's `config.toml` keys with a Codex name, and how a value is said there (the one table
/// in `config::codex_keys`), nested under its Codex key path.
fn codex_key(kelp_key: &str, value: &Value) -> Option<(String, Value)> {
    let setting = codex_keys::by_kelp(kelp_key)?;
    Some(setting.nested(setting.to_codex(value)?))
}

/// The user layer: kelp's `config.toml` read through the config module, its Codex keys.
struct UserLayer {
    file: PathBuf,
    version: String,
    config: Map<String, Value>,
}

impl UserLayer {
    fn read(config_dir: &Path) -> Self {
        let found = crate::config::toml_json::read(config_dir);
        let mut config: Map<String, Value> = found
            .table
            .iter()
            .filter_map(|(key, value)| codex_key(key, value))
            .collect();
        // The file's servers as the settings in use show them, through the same reader and
        // the same table: the values of their variables and headers (secrets, often) are never
        // said, and a server the file holds is not mistaken for a flag's.
        if found.table.contains_key("mcp_servers") {
            let home = std::env::var_os("HOME").map(PathBuf::from);
            let (settings, _) =
                crate::config::file::parse(&found.path, &found.text, home.as_deref());
            let servers = settings
                .mcp_servers
                .iter()
                .map(|server| (server.name.clone(), mcp_table(server)))
                .collect();
            config.insert("mcp_servers".into(), Value::Object(servers));
        }
        Self {
            file: found.path,
            version: found.version,
            config,
        }
    }

    fn name(&self) -> LayerName {
        LayerName::User {
            file: self.file.clone(),
        }
    }

    fn metadata(&self) -> LayerMetadata {
        LayerMetadata {
            name: self.name(),
            version: self.version.clone(),
        }
    }
}

/// `config/read`: the settings kelp uses, under Codex's key names. A value the user layer
/// (`config.toml`) does not hold came from the command line or the environment: the
/// `sessionFlags` layer.
pub fn read(config: &Config, raw: Value) -> Result<Answer, RpcError> {
    let wanted: ReadParams = if raw.is_null() {
        ReadParams::default()
    } else {
        params(raw)?
    };
    let user = UserLayer::read(&config.config_dir);
    let effective = effective(config);
    let session_flags: Map<String, Value> = effective
        .iter()
        .filter(|(key, value)| !value.is_null() && user.config.get(*key) != Some(value))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    let origins = effective
        .keys()
        .filter_map(|key| {
            let origin = if session_flags.contains_key(key) {
                LayerMetadata {
                    name: LayerName::SessionFlags,
                    version: String::new(),
                }
            } else if user.config.contains_key(key) {
                user.metadata()
            } else {
                return None;
            };
            Some((key.clone(), origin))
        })
        .collect();
    let layers = wanted.include_layers.then(|| {
        let flags = (!session_flags.is_empty()).then(|| ConfigLayer {
            name: LayerName::SessionFlags,
            version: String::new(),
            config: session_flags.clone(),
        });
        let file = ConfigLayer {
            name: user.name(),
            version: user.version.clone(),
            config: user.config.clone(),
        };
        flags.into_iter().chain([file]).collect()
    });
    Answer::of(&ConfigRead {
        config: effective,
        origins,
        layers,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EditParams {
    key_path: String,
    merge_strategy: Merge,
    value: Value,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum Merge {
    Replace,
    Upsert,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WriteParams {
    #[serde(flatten)]
    edit: EditParams,
    expected_version: Option<String>,
    file_path: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchParams {
    edits: Vec<EditParams>,
    expected_version: Option<String>,
    file_path: Option<PathBuf>,
}

/// `config/value/write`: one setting into kelp's `config.toml`, comments and layout kept.
pub fn write_value(config: &Config, raw: Value) -> Result<Answer, RpcError> {
    let asked: WriteParams = params(raw)?;
    write(
        config,
        &[asked.edit],
        asked.expected_version,
        asked.file_path,
    )
}

/// `config/batchWrite`: several settings in one write.
pub fn batch_write(config: &Config, raw: Value) -> Result<Answer, RpcError> {
    let asked: BatchParams = params(raw)?;
    write(
        config,
        &asked.edits,
        asked.expected_version,
        asked.file_path,
    )
}

/// `modelProvider/default/set` (Codex 0.171): the provider new threads use, one of those
/// configured, written as `model_provider` in kelp's `config.toml`, as Codex writes its own.
pub fn set_default_provider(config: &Config, raw: Value) -> Result<Answer, RpcError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct DefaultSet {
        provider_id: String,
    }
    let asked: DefaultSet = params(raw)?;
    if !config
        .model_providers
        .iter()
        .any(|provider| provider.id == asked.provider_id)
    {
        return Err(RpcError::invalid_request(format!(
            "Model provider `{}` is not configured.",
            asked.provider_id
        )));
    }
    let edit = crate::config::edit::Edit {
        path: vec!["model_provider".to_string()],
        value: crate::config::toml_json::toml_item(&Value::from(asked.provider_id)),
        merge: false,
    };
    written(config, &[edit], None)
}

/// Writes `edits` (Codex's keys, turned into kelp's) to the user's `config.toml`. Settings
/// take effect for threads started after, as a restart would. Codex's `hooks.state` (how a
/// host trusts a hook or turns it off, by the key and hash `hooks/list` gave) is kept where
/// kelp keeps the hooks' state, not in the file.
fn write(
    config: &Config,
    edits: &[EditParams],
    expected: Option<String>,
    file: Option<PathBuf>,
) -> Result<Answer, RpcError> {
    let (hook_states, edits): (Vec<&EditParams>, Vec<&EditParams>) = edits
        .iter()
        .partition(|edit| edit.key_path.starts_with("hooks.state."));
    for edit in hook_states {
        hook_state(config, edit).map_err(RpcError::invalid_params)?;
    }
    let own = config.config_dir.join(crate::config::file::FILE_NAME);
    if let Some(file) = file.filter(|f| *f != own) {
        return Err(RpcError::invalid_params(format!(
            "kelp writes its own config file only ({}), not {}",
            own.display(),
            file.display()
        )));
    }
    // Only hooks' state: the config file is left as it is, not rewritten (nor created).
    if edits.is_empty() {
        let file = crate::config::toml_json::read(&config.config_dir);
        return Answer::of(&ConfigWritten {
            status: "ok",
            version: file.version,
            file_path: file.path,
        });
    }
    let kelp_edits = edits
        .into_iter()
        .map(kelp_edit)
        .collect::<Result<Vec<_>, _>>()
        .map_err(RpcError::invalid_params)?;
    written(config, &kelp_edits, expected)
}

/// `edits` written to kelp's `config.toml` (when it is still at `expected`), answered as Codex
/// answers a config write.
fn written(
    config: &Config,
    edits: &[crate::config::edit::Edit],
    expected: Option<String>,
) -> Result<Answer, RpcError> {
    let (path, version) = crate::config::edit::edit_file(
        &config.config_dir,
        edits,
        expected.as_deref(),
    )
    .map_err(|e| match e {
        crate::config::SaveError::Changed { .. }
        | crate::config::SaveError::Key { .. }
        | crate::config::SaveError::Unloadable { .. } => RpcError::invalid_request(e.to_string()),
        other => RpcError::internal(other.to_string()),
    })?;
    Answer::of(&ConfigWritten {
        status: "ok",
        version,
        file_path: path,
    })
}

/// `hooks.state."KEY".trusted_hash = HASH` (trusts the hook whose hash it is, as `hooks/list`
/// gave it) or `hooks.state."KEY".enabled = BOOL` (turns the hook of that key on or off).
fn hook_state(config: &Config, edit: &EditParams) -> Result<(), String> {
    let rest = &edit.key_path["hooks.state.".len()..];
    let (key, field) = match rest.strip_prefix('"') {
        Some(quoted) => quoted
            .split_once("\".")
            .map(|(key, field)| (key.replace("\\\"", "\""), field))
            .ok_or_else(|| format!("{}: an unclosed quoted key", edit.key_path))?,
        None => rest
            .split_once('.')
            .map(|(key, field)| (key.to_string(), field))
            .ok_or_else(|| format!("{}: no field of the hook's state", edit.key_path))?,
    };
    // A hook's key and hash are kelp's SHA-256 in hex: anything else names no hook, and could
    // break the one-hash-a-line file they are kept in.
    let is_hash = |text: &str| text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit());
    let trusted_hash = (field == "trusted_hash")
        .then(|| edit.value.as_str())
        .flatten();
    if !is_hash(&key) || trusted_hash.is_some_and(|hash| !is_hash(hash)) {
        return Err(format!(
            "{}: not a hook's key and hash as hooks/list gives them",
            edit.key_path
        ));
    }
    let kept = match (field, &edit.value) {
        ("trusted_hash", Value::String(hash)) => {
            crate::hooks::trust(&config.state_dir, std::slice::from_ref(hash))
        }
        ("enabled", Value::Bool(on)) => crate::hooks::set_enabled(&config.state_dir, &[key], *on),
        _ => {
            return Err(format!(
                "{}: kelp keeps a hook's trusted_hash (a string) and enabled (true or false)",
                edit.key_path
            ));
        }
    };
    kept.map_err(|e| format!("cannot keep the hook's state: {e}"))
}

/// A Codex setting as kelp's: its key path in kelp's file and the value kelp writes there.
fn kelp_edit(edit: &EditParams) -> Result<crate::config::edit::Edit, String> {
    let unknown = || {
        format!(
            "kelp has no setting {}: it takes {}",
            edit.key_path,
            codex_keys::names()
        )
    };
    let parts: Vec<String> = edit.key_path.split('.').map(str::to_string).collect();
    let (path, value): (Vec<String>, Value) = if parts[0] == "mcp_servers" {
        (parts, edit.value.clone())
    } else {
        let setting = codex_keys::by_codex(&edit.key_path).ok_or_else(unknown)?;
        let value = match &edit.value {
            Value::Null => Value::Null,
            given => setting.to_kelp(given)?,
        };
        (vec![setting.kelp.to_string()], value)
    };
    Ok(crate::config::edit::Edit {
        path,
        value: crate::config::toml_json::toml_item(&value),
        merge: edit.merge_strategy == Merge::Upsert,
    })
}

/// kelp's effective settings under Codex's key names.
fn effective(config: &Config) -> Map<String, Value> {
    let servers: Map<String, Value> = config
        .mcp_servers
        .iter()
        .map(|server| (server.name.clone(), mcp_table(server)))
        .collect();
    let mut out = Map::new();
    for setting in &codex_keys::SETTINGS {
        let kelp = match setting.kelp {
            "model" => json!(config.model),
            "reasoning_effort" => json!(config.reasoning_effort),
            "approval" => json!(config.approval.as_str()),
            "sandbox" => json!(config.sandbox.as_str()),
            _ => json!(config.network),
        };
        let (key, value) = setting.nested(setting.to_codex(&kelp).unwrap_or(Value::Null));
        out.insert(key, value);
    }
    out.insert("mcp_servers".into(), Value::Object(servers));
    // Only a choice is said: the built-in provider is no one's setting.
    if !config.model_provider.is_openai() {
        out.insert("model_provider".into(), json!(config.model_provider.id));
    }
    if let Some(mode) = config.web_search {
        out.insert("web_search".into(), json!(mode.as_str()));
    }
    out
}

/// A server of the config file as Codex's `[mcp_servers.NAME]` table. The environment and
/// headers it is given are left out: their values may be secrets.
fn mcp_table(server: &McpServerConfig) -> Value {
    let mut table = match &server.transport {
        McpTransport::Stdio {
            command, args, cwd, ..
        } => json!({ "command": command, "args": args, "cwd": cwd }),
        McpTransport::Http {
            url,
            bearer_token_env_var,
            ..
        } => json!({ "url": url, "bearer_token_env_var": bearer_token_env_var }),
    };
    table["enabled"] = json!(server.enabled);
    table["startup_timeout_sec"] = json!(server.startup_timeout.as_secs_f64());
    table["tool_timeout_sec"] = json!(server.tool_timeout.as_secs_f64());
    table["enabled_tools"] = json!(server.enabled_tools);
    table["disabled_tools"] = json!(server.disabled_tools);
    table
}

/// `permissionProfile/list`: Codex's three built-in profiles, which are kelp's sandbox modes.
pub fn permission_profiles() -> Result<Answer, RpcError> {
    let profile = |id, description| PermissionProfile {
        id,
        description,
        allowed: true,
    };
    Answer::of(&CursorPage {
        data: vec![
            profile(
                ":read-only",
                "Commands read everywhere and write nowhere (kelp's read-only sandbox).",
            ),
            profile(
                ":workspace",
                "Commands write only inside the project and the temp folder (kelp's workspace-write sandbox).",
            ),
            profile(
                ":danger-full-access",
                "No sandbox: commands run with your full rights, guarded by approvals only.",
            ),
        ],
        next_cursor: None,
    })
}

/// How many models one `model/list` page holds when the host names no limit.
const MODEL_PAGE: usize = 50;

/// The reasoning efforts kelp sends, each with what it is for.
/// `model/list`: the models the login can use (the built-in list when no request could tell),
/// each with the efforts kelp sends and its default, in pages; `default` is the one a new
/// thread uses.
pub fn models(list: &ModelList, default: &str, raw: Value) -> Result<Answer, RpcError> {
    let asked: ModelListParams = if raw.is_null() {
        ModelListParams::default()
    } else {
        params(raw)?
    };
    let page = Page::read(asked.cursor.as_deref(), asked.limit, MODEL_PAGE)?;
    let efforts: Vec<EffortOption> = ReasoningEffort::OFFERED
        .iter()
        .map(|(effort, description)| EffortOption {
            reasoning_effort: *effort,
            description: (*description).into(),
        })
        .collect();
    let data = list
        .models
        .iter()
        .skip(page.skip)
        .take(page.size)
        .map(|model| ModelInfo {
            id: model.clone(),
            model: model.clone(),
            display_name: model.clone(),
            description: format!("{model}, as your login offers it"),
            hidden: false,
            supported_reasoning_efforts: efforts.clone(),
            default_reasoning_effort: ReasoningEffort::default(),
            input_modalities: vec!["text".into()],
            is_default: model == default,
        })
        .collect();
    Answer::of(&CursorPage {
        data,
        next_cursor: page.next(page.skip.saturating_add(page.size) < list.models.len()),
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SkillsParams {
    #[serde(default)]
    cwds: Vec<PathBuf>,
}

/// `skills/list`: the skills each folder asked about has (the person's and its project's),
/// and the `SKILL.md` files that are not skills, as Codex lists them.
pub fn skills(raw: Value, config: &Config) -> Result<Answer, RpcError> {
    let asked: SkillsParams = if raw.is_null() {
        SkillsParams::default()
    } else {
        params(raw)?
    };
    let data = asked
        .cwds
        .iter()
        .map(|cwd| {
            let found =
                crate::agent::skills::discover(&config.config_dir, &config.skills, cwd, |name| {
                    std::env::var_os(name)
                });
            let shown = |enabled: bool| {
                move |skill: &crate::protocol::Skill| Skill {
                    name: skill.name.clone(),
                    description: skill.description.clone(),
                    path: skill.path.clone(),
                    scope: skill.scope.as_str(),
                    enabled,
                }
            };
            let skills = found
                .skills
                .iter()
                .map(shown(true))
                .chain(found.off.iter().map(shown(false)))
                .collect();
            let errors = found
                .errors
                .iter()
                .map(|(path, message)| SkillError {
                    path: path.clone(),
                    message: message.clone(),
                })
                .collect();
            SkillsOfFolder {
                cwd: cwd.clone(),
                skills,
                errors,
            }
        })
        .collect();
    Answer::of(&SkillsList { data })
}

/// `mcpServerStatus/list`: kelp's MCP servers as the last thread that ran them found them
/// (`seen`), else as the config file names them, not started yet.
pub fn mcp_servers(config: &Config, seen: &[ServerStatus]) -> Result<Answer, RpcError> {
    let data = config
        .mcp_servers
        .iter()
        .map(|server| {
            let status = seen.iter().find(|s| s.name == server.name);
            let (runtime, tools, error) = match status.map(|s| &s.state) {
                _ if !server.enabled => ("disabled", Vec::new(), None),
                Some(ServerState::Ready { tools }) => ("connected", tools.clone(), None),
                Some(ServerState::Starting) => ("starting", Vec::new(), None),
                Some(ServerState::Failed { reason }) => {
                    ("failed", Vec::new(), Some(reason.clone()))
                }
                Some(ServerState::Disabled) => ("disabled", Vec::new(), None),
                None => ("notStarted", Vec::new(), None),
            };
            let tools = tools
                .into_iter()
                .map(|tool| {
                    let entry = McpTool {
                        name: tool.clone(),
                        input_schema: json!({ "type": "object" }),
                    };
                    (tool, entry)
                })
                .collect();
            McpServerStatus {
                name: server.name.clone(),
                auth_status: auth_status(config, server),
                runtime_status: runtime,
                tools,
                tools_error: error,
                resources: Vec::new(),
                resource_templates: Vec::new(),
            }
        })
        .collect();
    Answer::of(&CursorPage {
        data,
        next_cursor: None,
    })
}

/// A server's sign-in as Codex's `authStatus` says it.
fn auth_status(config: &Config, server: &McpServerConfig) -> &'static str {
    use crate::mcp::oauth;
    let store = oauth::store_path(&config.auth_file);
    oauth::auth_state(server, Some(&store))
        .as_codex_says()
        .app_server
}
