//! What a host reads before its first screen, in the words of Codex's protocol: `config/read`
//! (kelp's effective settings under Codex's key names, and the layers they came from),
//! `permissionProfile/list`, `model/list`, `skills/list` and `mcpServerStatus/list`.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::wire::{Answer, Page, RpcError, params};
use crate::config::{Config, McpServerConfig, McpTransport, codex_keys};
use crate::llm::models::ModelList;
use crate::llm::request::ReasoningEffort;
use crate::mcp::{ServerState, ServerStatus};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ReadParams {
    #[serde(default)]
    include_layers: bool,
}

/// kelp's `config.toml` keys with a Codex name, and how a value is said there (the one table
/// in `config::codex_keys`), nested under its Codex key path.
fn codex_key(kelp_key: &str, value: &Value) -> Option<(String, Value)> {
    if kelp_key == "mcp_servers" {
        return Some((kelp_key.to_string(), value.clone()));
    }
    let setting = codex_keys::by_kelp(kelp_key)?;
    Some(setting.nested(setting.to_codex(value)?))
}

/// The user layer: kelp's `config.toml`, its Codex keys, and a version that changes with it.
struct UserLayer {
    file: PathBuf,
    version: String,
    config: Map<String, Value>,
}

impl UserLayer {
    fn read(config_dir: &Path) -> Self {
        let file = config_dir.join(crate::config::file::FILE_NAME);
        let text = crate::config::file::read(&file)
            .ok()
            .flatten()
            .unwrap_or_default();
        let table: Map<String, Value> = text
            .parse::<toml_edit::DocumentMut>()
            .map(|doc| table_json(doc.as_table()))
            .unwrap_or_default();
        let config = table
            .iter()
            .filter_map(|(key, value)| codex_key(key, value))
            .collect();
        Self {
            file: std::path::absolute(&file).unwrap_or(file),
            version: crate::config::file::version(&text),
            config,
        }
    }

    fn name(&self) -> Value {
        json!({ "type": "user", "file": self.file })
    }
}

/// A TOML table as JSON (dates as their text).
fn table_json(table: &dyn toml_edit::TableLike) -> Map<String, Value> {
    table
        .iter()
        .filter_map(|(key, item)| Some((key.to_string(), item_json(item)?)))
        .collect()
}

fn item_json(item: &toml_edit::Item) -> Option<Value> {
    match item {
        toml_edit::Item::None => None,
        toml_edit::Item::Value(value) => Some(value_json(value)),
        toml_edit::Item::Table(table) => Some(Value::Object(table_json(table))),
        toml_edit::Item::ArrayOfTables(tables) => Some(Value::Array(
            tables
                .iter()
                .map(|t| Value::Object(table_json(t)))
                .collect(),
        )),
    }
}

fn value_json(value: &toml_edit::Value) -> Value {
    match value {
        toml_edit::Value::String(s) => json!(s.value()),
        toml_edit::Value::Integer(i) => json!(i.value()),
        toml_edit::Value::Float(f) => json!(f.value()),
        toml_edit::Value::Boolean(b) => json!(b.value()),
        toml_edit::Value::Datetime(d) => json!(d.value().to_string()),
        toml_edit::Value::Array(items) => Value::Array(items.iter().map(value_json).collect()),
        toml_edit::Value::InlineTable(table) => Value::Object(table_json(table)),
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
    let mut origins = Map::new();
    for key in effective.keys() {
        let origin = if session_flags.contains_key(key) {
            json!({ "name": { "type": "sessionFlags" }, "version": "" })
        } else if user.config.contains_key(key) {
            json!({ "name": user.name(), "version": user.version })
        } else {
            continue;
        };
        origins.insert(key.clone(), origin);
    }
    let mut answer = json!({ "config": effective, "origins": origins });
    if wanted.include_layers {
        let mut layers = vec![json!({
            "name": user.name(),
            "version": user.version,
            "config": user.config,
        })];
        if !session_flags.is_empty() {
            layers.insert(
                0,
                json!({ "name": { "type": "sessionFlags" }, "version": "", "config": session_flags }),
            );
        }
        answer["layers"] = json!(layers);
    }
    Ok(answer.into())
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

/// Writes `edits` (Codex's keys, turned into kelp's) to the user's `config.toml`. Settings
/// take effect for threads started after, as a restart would.
fn write(
    config: &Config,
    edits: &[EditParams],
    expected: Option<String>,
    file: Option<PathBuf>,
) -> Result<Answer, RpcError> {
    let own = config.config_dir.join(crate::config::file::FILE_NAME);
    if let Some(file) = file.filter(|f| *f != own) {
        return Err(RpcError::invalid_params(format!(
            "kelp writes its own config file only ({}), not {}",
            own.display(),
            file.display()
        )));
    }
    let kelp_edits = edits
        .iter()
        .map(kelp_edit)
        .collect::<Result<Vec<_>, _>>()
        .map_err(RpcError::invalid_params)?;
    let (path, version) =
        crate::config::file::edit_file(&config.config_dir, &kelp_edits, expected.as_deref())
            .map_err(|e| match e {
                crate::config::SaveError::Changed { .. }
                | crate::config::SaveError::Key { .. }
                | crate::config::SaveError::Unloadable { .. } => {
                    RpcError::invalid_request(e.to_string())
                }
                other => RpcError::internal(other.to_string()),
            })?;
    Ok(json!({ "status": "ok", "version": version, "filePath": path }).into())
}

/// A Codex setting as kelp's: its key path in kelp's file and the value kelp writes there.
fn kelp_edit(edit: &EditParams) -> Result<crate::config::file::Edit, String> {
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
    Ok(crate::config::file::Edit {
        path,
        value: toml_item(&value),
        merge: edit.merge_strategy == Merge::Upsert,
    })
}

/// A JSON value as TOML: objects as tables, `null` as no value (the key is removed).
fn toml_item(value: &Value) -> Option<toml_edit::Item> {
    match value {
        Value::Null => None,
        Value::Object(map) => {
            let mut table = toml_edit::Table::new();
            for (key, value) in map {
                if let Some(item) = toml_item(value) {
                    table.insert(key, item);
                }
            }
            Some(toml_edit::Item::Table(table))
        }
        other => toml_value(other).map(toml_edit::Item::Value),
    }
}

fn toml_value(value: &Value) -> Option<toml_edit::Value> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64()?.into(),
        },
        Value::String(s) => s.as_str().into(),
        Value::Array(items) => {
            let mut array = toml_edit::Array::new();
            for item in items.iter().filter_map(toml_value) {
                array.push(item);
            }
            array.into()
        }
        Value::Object(map) => {
            let mut table = toml_edit::InlineTable::new();
            for (key, value) in map {
                if let Some(value) = toml_value(value) {
                    table.insert(key, value);
                }
            }
            table.into()
        }
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
pub fn permission_profiles() -> Answer {
    json!({
        "data": [
            {
                "id": ":read-only",
                "description": "Commands read everywhere and write nowhere (kelp's read-only sandbox).",
                "allowed": true,
            },
            {
                "id": ":workspace",
                "description": "Commands write only inside the project and the temp folder (kelp's workspace-write sandbox).",
                "allowed": true,
            },
            {
                "id": ":danger-full-access",
                "description": "No sandbox: commands run with your full rights, guarded by approvals only.",
                "allowed": true,
            },
        ],
        "nextCursor": null,
    })
    .into()
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ModelParams {
    cursor: Option<String>,
    limit: Option<u32>,
}

/// How many models one `model/list` page holds when the host names no limit.
const MODEL_PAGE: usize = 50;

/// The reasoning efforts kelp sends, each with what it is for.
/// `model/list`: the models the login can use (the built-in list when no request could tell),
/// each with the efforts kelp sends and its default, in pages; `default` is the one a new
/// thread uses.
pub fn models(list: &ModelList, default: &str, raw: Value) -> Result<Answer, RpcError> {
    let asked: ModelParams = if raw.is_null() {
        ModelParams::default()
    } else {
        params(raw)?
    };
    let page = Page::read(asked.cursor.as_deref(), asked.limit, MODEL_PAGE)?;
    let efforts: Vec<Value> = ReasoningEffort::OFFERED
        .iter()
        .map(|(effort, description)| {
            json!({ "reasoningEffort": effort, "description": description })
        })
        .collect();
    let data: Vec<Value> = list
        .models
        .iter()
        .skip(page.skip)
        .take(page.size)
        .map(|model| {
            json!({
                "id": model,
                "model": model,
                "displayName": model,
                "description": format!("{model}, as your login offers it"),
                "hidden": false,
                "supportedReasoningEfforts": efforts,
                "defaultReasoningEffort": ReasoningEffort::default(),
                "inputModalities": ["text"],
                "isDefault": model == default,
            })
        })
        .collect();
    let next = page.next(page.skip.saturating_add(page.size) < list.models.len());
    Ok(json!({ "data": data, "nextCursor": next }).into())
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
    let data: Vec<Value> = asked
        .cwds
        .iter()
        .map(|cwd| {
            let found = crate::agent::skills::discover(&config.config_dir, cwd, |name| {
                std::env::var_os(name)
            });
            let skills: Vec<Value> = found
                .skills
                .iter()
                .map(|skill| {
                    json!({
                        "name": skill.name,
                        "description": skill.description,
                        "path": skill.path,
                        "scope": skill.scope.as_str(),
                        "enabled": true,
                    })
                })
                .collect();
            let errors: Vec<Value> = found
                .errors
                .iter()
                .map(|(path, message)| json!({ "path": path, "message": message }))
                .collect();
            json!({ "cwd": cwd, "skills": skills, "errors": errors })
        })
        .collect();
    Ok(json!({ "data": data }).into())
}

/// `mcpServerStatus/list`: kelp's MCP servers as the last thread that ran them found them
/// (`seen`), else as the config file names them, not started yet.
pub fn mcp_servers(config: &Config, seen: &[ServerStatus]) -> Answer {
    let data: Vec<Value> = config
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
            let tools: Map<String, Value> = tools
                .into_iter()
                .map(|tool| {
                    let entry = json!({ "name": tool, "inputSchema": { "type": "object" } });
                    (tool, entry)
                })
                .collect();
            json!({
                "name": server.name,
                "authStatus": "unsupported",
                "runtimeStatus": runtime,
                "tools": tools,
                "toolsError": error,
                "resources": [],
                "resourceTemplates": [],
            })
        })
        .collect();
    json!({ "data": data, "nextCursor": null }).into()
}
