//! What a host reads before its first screen and its settings screen writes: `config/*`,
//! `permissionProfile/list`, `model/list`, `skills/list`, `mcpServerStatus/list`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Notification, Text, lenient};
use crate::protocol::ReasoningEffort;

/// A page of a list that pages one way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CursorPage<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// `config/read`'s answer: the settings in use under Codex's keys, where each came from, and
/// (when asked) the layers themselves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigRead {
    pub config: Map<String, Value>,
    pub origins: BTreeMap<String, LayerMetadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<ConfigLayer>>,
}

/// Where a setting came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerMetadata {
    pub name: LayerName,
    pub version: String,
}

/// A layer: kelp's `config.toml`, or the command line and environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum LayerName {
    User { file: PathBuf },
    SessionFlags,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigLayer {
    pub name: LayerName,
    pub version: String,
    pub config: Map<String, Value>,
}

/// `config/value/write` and `config/batchWrite`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigWritten {
    pub status: &'static str,
    pub version: String,
    pub file_path: PathBuf,
}

/// A permission profile of `permissionProfile/list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PermissionProfile {
    pub id: &'static str,
    pub description: &'static str,
    pub allowed: bool,
}

/// A model of `model/list`, with the efforts kelp sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelInfo {
    #[serde(default, deserialize_with = "lenient")]
    pub id: String,
    pub model: String,
    #[serde(default, deserialize_with = "lenient")]
    pub display_name: String,
    #[serde(default, deserialize_with = "lenient")]
    pub description: String,
    #[serde(default, deserialize_with = "lenient")]
    pub hidden: bool,
    #[serde(default, deserialize_with = "lenient")]
    pub supported_reasoning_efforts: Vec<EffortOption>,
    #[serde(default, deserialize_with = "lenient")]
    pub default_reasoning_effort: ReasoningEffort,
    #[serde(default, deserialize_with = "lenient")]
    pub input_modalities: Vec<Text>,
    #[serde(default)]
    pub is_default: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EffortOption {
    pub reasoning_effort: ReasoningEffort,
    pub description: Text,
}

/// `skills/list`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkillsList {
    pub data: Vec<SkillsOfFolder>,
}

/// `hooks/list`'s answer: one entry per folder asked about, with the hooks kelp runs there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HooksList {
    pub data: Vec<HooksOfFolder>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HooksOfFolder {
    pub cwd: PathBuf,
    pub hooks: Vec<HookMetadata>,
    pub errors: Vec<SkillError>,
    pub warnings: Vec<String>,
}

/// One hook as Codex lists it: a command of the person's (`source` `user`), its event by
/// Codex's name (`preToolUse`), its trust (`trusted`, `untrusted`) and the hash it is kept by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookMetadata {
    pub key: String,
    pub event_name: String,
    pub matcher: Option<String>,
    pub timeout_sec: u64,
    pub status_message: Option<String>,
    pub additional_context_limit: Option<u64>,
    pub source_path: PathBuf,
    pub source: &'static str,
    pub plugin_id: Option<String>,
    pub environment_id: Option<String>,
    pub display_order: i64,
    pub enabled: bool,
    pub is_managed: bool,
    pub current_hash: String,
    pub trust_status: &'static str,
    pub handler_type: &'static str,
    pub command: String,
    #[serde(rename = "async")]
    pub runs_async: bool,
}

/// The skills a folder has, and the `SKILL.md` files that are not skills.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkillsOfFolder {
    pub cwd: PathBuf,
    pub skills: Vec<Skill>,
    pub errors: Vec<SkillError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skill {
    pub name: String,
    pub description: String,
    pub path: PathBuf,
    pub scope: &'static str,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkillError {
    pub path: PathBuf,
    pub message: String,
}

/// An MCP server of `mcpServerStatus/list`, as the last thread that ran it found it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct McpServerStatus {
    pub name: String,
    pub auth_status: &'static str,
    pub runtime_status: &'static str,
    pub tools: BTreeMap<String, McpTool>,
    pub tools_error: Option<String>,
    pub resources: Vec<Value>,
    pub resource_templates: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct McpTool {
    pub name: String,
    pub input_schema: Value,
}

/// A thread's settings for its turns from now on, as `thread/settings/updated` says them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadSettings {
    #[serde(deserialize_with = "lenient")]
    pub approval_policy: Text,
    #[serde(deserialize_with = "lenient")]
    pub approvals_reviewer: Text,
    /// Codex's `CollaborationMode`: `{mode, settings: {model, reasoning_effort, …}}`.
    pub collaboration_mode: Value,
    pub cwd: PathBuf,
    pub model: String,
    pub model_provider: String,
    #[serde(deserialize_with = "lenient")]
    pub sandbox_policy: super::SandboxPolicy,
    #[serde(deserialize_with = "lenient")]
    pub effort: Option<Text>,
}

notification!(
    /// A thread's settings changed (`thread/settings/update`).
    ThreadSettingsUpdated = "thread/settings/updated" {
        thread_id: String,
        thread_settings: ThreadSettings,
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::answer_fits;
    use serde_json::json;

    #[test]
    fn every_settings_answer_fits_the_schema() {
        let user = LayerName::User {
            file: "/home/a/.config/kelp/config.toml".into(),
        };
        let config: Map<String, Value> =
            json!({ "model": "gpt-5.5" }).as_object().cloned().unwrap();
        answer_fits(
            "v2/ConfigReadResponse.json",
            &ConfigRead {
                config: config.clone(),
                origins: BTreeMap::from([(
                    "model".to_string(),
                    LayerMetadata {
                        name: user.clone(),
                        version: "kelp:1".into(),
                    },
                )]),
                layers: Some(vec![
                    ConfigLayer {
                        name: LayerName::SessionFlags,
                        version: String::new(),
                        config: config.clone(),
                    },
                    ConfigLayer {
                        name: user,
                        version: "kelp:1".into(),
                        config,
                    },
                ]),
            },
        );
        answer_fits(
            "v2/ConfigWriteResponse.json",
            &ConfigWritten {
                status: "ok",
                version: "kelp:2".into(),
                file_path: "/home/a/.config/kelp/config.toml".into(),
            },
        );
        answer_fits(
            "v2/PermissionProfileListResponse.json",
            &CursorPage {
                data: vec![PermissionProfile {
                    id: ":workspace",
                    description: "the project",
                    allowed: true,
                }],
                next_cursor: None,
            },
        );
        crate::wire::read_answer_fits(
            "v2/ModelListResponse.json",
            &CursorPage {
                data: vec![ModelInfo {
                    id: "gpt-5.5".into(),
                    model: "gpt-5.5".into(),
                    display_name: "gpt-5.5".into(),
                    description: "gpt-5.5".into(),
                    hidden: false,
                    supported_reasoning_efforts: vec![EffortOption {
                        reasoning_effort: ReasoningEffort::High,
                        description: "deep".into(),
                    }],
                    default_reasoning_effort: ReasoningEffort::default(),
                    input_modalities: vec!["text".into()],
                    is_default: true,
                }],
                next_cursor: Some("50".into()),
            },
        );
        answer_fits(
            "v2/HooksListResponse.json",
            &HooksList {
                data: vec![HooksOfFolder {
                    cwd: "/p".into(),
                    hooks: vec![HookMetadata {
                        key: "abc".into(),
                        event_name: "preToolUse".into(),
                        matcher: Some("Bash".into()),
                        timeout_sec: 60,
                        status_message: None,
                        additional_context_limit: None,
                        source_path: "/h/hooks.json".into(),
                        source: "user",
                        plugin_id: None,
                        environment_id: None,
                        display_order: 0,
                        enabled: true,
                        is_managed: false,
                        current_hash: "abc".into(),
                        trust_status: "untrusted",
                        handler_type: "command",
                        command: "./guard.sh".into(),
                        runs_async: false,
                    }],
                    errors: Vec::new(),
                    warnings: Vec::new(),
                }],
            },
        );
        answer_fits(
            "v2/SkillsListResponse.json",
            &SkillsList {
                data: vec![SkillsOfFolder {
                    cwd: "/p".into(),
                    skills: vec![Skill {
                        name: "release".into(),
                        description: "cuts a release".into(),
                        path: "/p/.agents/skills/release/SKILL.md".into(),
                        scope: "repo",
                        enabled: true,
                    }],
                    errors: vec![SkillError {
                        path: "/p/.agents/skills/x/SKILL.md".into(),
                        message: "no name".into(),
                    }],
                }],
            },
        );
        answer_fits(
            "v2/ListMcpServerStatusResponse.json",
            &CursorPage {
                data: vec![McpServerStatus {
                    name: "docs".into(),
                    auth_status: "unsupported",
                    runtime_status: "connected",
                    tools: BTreeMap::from([(
                        "search".to_string(),
                        McpTool {
                            name: "search".into(),
                            input_schema: json!({ "type": "object" }),
                        },
                    )]),
                    tools_error: None,
                    resources: Vec::new(),
                    resource_templates: Vec::new(),
                }],
                next_cursor: None,
            },
        );
    }
}
