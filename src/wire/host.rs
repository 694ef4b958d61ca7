//! What a host asks outside a thread: `initialize`, `fs/*`, `command/exec`, the file search,
//! the model providers, an MCP tool called for it, and the answers that say nothing.

use std::path::PathBuf;

use serde::Serialize;

use super::Notification;

/// `initialize`'s answer: who kelp is, and where it keeps its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Initialized {
    pub user_agent: String,
    pub codex_home: PathBuf,
    pub platform_family: &'static str,
    pub platform_os: &'static str,
}

/// `fs/readFile`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileRead {
    pub data_base64: String,
}

/// `fs/getMetadata`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileMetadata {
    pub is_directory: bool,
    pub is_file: bool,
    pub is_symlink: bool,
    pub created_at_ms: i64,
    pub modified_at_ms: i64,
}

/// `fs/readDirectory`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirectoryRead {
    pub entries: Vec<DirectoryEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryEntry {
    pub file_name: String,
    pub is_directory: bool,
    pub is_file: bool,
}

/// `command/exec`'s answer once the command ended (its output empty where it streamed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandExecuted {
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Which stream of a command a piece came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ExecStream {
    Stdout,
    Stderr,
}

notification!(
    /// A piece of a `command/exec` command's output, for a host that streams it.
    CommandExecOutputDelta = "command/exec/outputDelta" {
        process_id: String,
        stream: ExecStream,
        delta_base64: String,
        cap_reached: bool,
    }
);

/// `fuzzyFileSearch`'s answer, best first (its fields snake case, as Codex's are).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FilesFound {
    pub files: Vec<FileFound>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileFound {
    pub root: PathBuf,
    pub path: String,
    pub file_name: String,
    pub score: u32,
    pub indices: Vec<u32>,
    pub match_type: &'static str,
}

/// `modelProvider/list`'s answer: the providers of the config, and the one in use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelProviders {
    pub can_change_default: bool,
    pub default_provider_id: String,
    pub data: Vec<ModelProvider>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelProvider {
    pub id: String,
    pub name: String,
    pub base_url: Option<String>,
    pub can_edit: bool,
    pub settings: ProviderSettings,
}

/// What a provider is: OpenAI's own, or another endpoint and where its key comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ProviderSettings {
    Openai,
    CustomGateway { auth: GatewayAuth },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "camelCase")]
pub enum GatewayAuth {
    /// Nothing is sent.
    None,
    /// The key in a variable.
    #[serde(rename_all = "camelCase")]
    EnvironmentVariable { env_key: String },
    /// Set up elsewhere: the config's own token, or kelp's login.
    ExternallyConfigured,
}

/// `modelProvider/capabilities/read`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderCapabilities {
    pub image_generation: bool,
    pub web_search: bool,
}

/// `app/read`'s answer: kelp has no apps, so every id asked for is missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppsRead {
    pub apps: Vec<serde_json::Value>,
    pub missing_app_ids: Vec<String>,
}

/// `mcpServer/tool/call`'s answer: what the tool said, as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolCalled {
    pub content: Vec<TextContent>,
    pub is_error: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextContent {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub text: String,
}

impl TextContent {
    pub fn new(text: String) -> Self {
        Self { kind: "text", text }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Empty, answer_fits, fits};

    #[test]
    fn every_host_answer_fits_the_schema() {
        answer_fits(
            "v1/InitializeResponse.json",
            &Initialized {
                user_agent: "kelp/1 (linux; x86_64) xterm (host; 1)".into(),
                codex_home: "/home/a/.local/share/opencode".into(),
                platform_family: "unix",
                platform_os: "linux",
            },
        );
        answer_fits(
            "v2/FsReadFileResponse.json",
            &FileRead {
                data_base64: "aGk=".into(),
            },
        );
        answer_fits(
            "v2/FsGetMetadataResponse.json",
            &FileMetadata {
                is_directory: false,
                is_file: true,
                is_symlink: false,
                created_at_ms: 1,
                modified_at_ms: 2,
            },
        );
        answer_fits(
            "v2/FsReadDirectoryResponse.json",
            &DirectoryRead {
                entries: vec![DirectoryEntry {
                    file_name: "a.rs".into(),
                    is_directory: false,
                    is_file: true,
                }],
            },
        );
        for empty in [
            "v2/FsWriteFileResponse.json",
            "v2/FsCreateDirectoryResponse.json",
            "v2/FsRemoveResponse.json",
            "v2/FsCopyResponse.json",
            "v2/CommandExecWriteResponse.json",
            "v2/CommandExecTerminateResponse.json",
        ] {
            answer_fits(empty, &Empty {});
        }
        answer_fits(
            "v2/CommandExecResponse.json",
            &CommandExecuted {
                exit_code: 0,
                stdout: "hi\n".into(),
                stderr: String::new(),
            },
        );
        answer_fits(
            "FuzzyFileSearchResponse.json",
            &FilesFound {
                files: vec![FileFound {
                    root: "/p".into(),
                    path: "src/main.rs".into(),
                    file_name: "main.rs".into(),
                    score: 9,
                    indices: vec![4, 5],
                    match_type: "file",
                }],
            },
        );
        answer_fits(
            "v2/ModelProviderListResponse.json",
            &ModelProviders {
                can_change_default: false,
                default_provider_id: "mock".into(),
                data: vec![
                    ModelProvider {
                        id: "openai".into(),
                        name: "OpenAI".into(),
                        base_url: Some("http://127.0.0.1:1/v1".into()),
                        can_edit: false,
                        settings: ProviderSettings::Openai,
                    },
                    ModelProvider {
                        id: "mock".into(),
                        name: "Mock".into(),
                        base_url: Some("http://127.0.0.1:2/v1".into()),
                        can_edit: false,
                        settings: ProviderSettings::CustomGateway {
                            auth: GatewayAuth::EnvironmentVariable {
                                env_key: "MOCK_KEY".into(),
                            },
                        },
                    },
                    ModelProvider {
                        id: "local".into(),
                        name: "Local".into(),
                        base_url: None,
                        can_edit: false,
                        settings: ProviderSettings::CustomGateway {
                            auth: GatewayAuth::None,
                        },
                    },
                ],
            },
        );
        answer_fits(
            "v2/ModelProviderCapabilitiesReadResponse.json",
            &ProviderCapabilities {
                image_generation: false,
                web_search: true,
            },
        );
        answer_fits(
            "v2/AppsReadResponse.json",
            &AppsRead {
                apps: Vec::new(),
                missing_app_ids: vec!["x".into()],
            },
        );
        answer_fits(
            "v2/McpServerToolCallResponse.json",
            &ToolCalled {
                content: vec![TextContent::new("found".into())],
                is_error: false,
            },
        );
        for stream in [ExecStream::Stdout, ExecStream::Stderr] {
            fits(
                CommandExecOutputDelta {
                    process_id: "p".into(),
                    stream,
                    delta_base64: "aGk=".into(),
                    cap_reached: false,
                }
                .into_message(),
            );
        }
    }
}
