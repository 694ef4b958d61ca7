//! Values given on the command line, which beat the environment and the config file: kelp's
//! own flags, and Codex's `-c key=value` (what hosts written for Codex pass), whose keys kelp
//! has are applied and the rest named back to be logged.

use super::modes::WebSearch;

use crate::protocol::{ApprovalMode, SandboxMode};

/// Values given on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--model`, or `-c model=…`.
    pub model: Option<String>,
    /// `-c model_reasoning_effort=…`.
    pub reasoning_effort: Option<String>,
    /// `-c service_tier=fast|flex|default`.
    pub service_tier: Option<Option<crate::protocol::ServiceTier>>,
    /// `--approval`, or `-c approval_policy=…`.
    pub approval: Option<ApprovalMode>,
    /// `--approve-for-me`, or `-c approvals_reviewer=…`.
    pub approvals_reviewer: Option<crate::protocol::ApprovalsReviewer>,
    /// `--sandbox`, or `-c sandbox_mode=…`.
    pub sandbox: Option<SandboxMode>,
    /// `--network`, or `-c sandbox_workspace_write.network_access=…`.
    pub network: Option<super::modes::Network>,
    /// `-c mcp_servers.NAME.KEY=…` and `-c model_providers.NAME[.KEY]=…`: each key path
    /// (`mcp_servers.docs.args`) and its value as given, laid over the config file's tables.
    pub tables: Vec<(String, String)>,
    /// `-c model_provider=…`: the provider requests go to.
    pub model_provider: Option<String>,
    /// `--search` (live), or `-c web_search=…`.
    pub web_search: Option<WebSearch>,
    /// `-c openai_base_url=…`: the OpenAI API base (beats `OPENAI_BASE_URL`).
    pub openai_base_url: Option<String>,
    /// `--add-dir`: folders commands may write besides the project.
    pub writable_roots: Vec<std::path::PathBuf>,
    /// The approval mode when neither a flag, the environment nor the file sets one.
    pub default_approval: Option<ApprovalMode>,
    /// The sandbox mode when neither a flag, the environment nor the file sets one.
    pub default_sandbox: Option<SandboxMode>,
    /// `--profile NAME`: `NAME.config.toml` beside the config file (Codex 0.171's), and the
    /// config file's `[profiles.NAME]`, laid over its top level.
    pub profile: Option<String>,
    /// `--enable multi_agent_v2`, `-c features.multi_agent_v2=…`: the collaboration tools.
    pub multi_agent: Option<bool>,
    /// `--disable unified_exec`, `-c features.unified_exec=…`: `exec_command` or `shell`.
    pub unified_exec: Option<bool>,
    /// Every hook runs, trusted or not (`--dangerously-bypass-hook-trust`).
    pub bypass_hook_trust: bool,
}

/// What one `-c key=value` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodexKey {
    /// kelp has the setting, and took the value.
    Applied,
    /// kelp has no such setting (a Codex feature flag, say): the key, to be logged.
    Ignored(String),
}

impl Overrides {
    /// Applies Codex's `-c key=value`: the value is TOML (`-c model="gpt-5.4"`,
    /// `-c 'mcp_servers.docs.args=["--port","9"]'`), or else taken as a bare string, as Codex
    /// takes it. An error says what is wrong with a key kelp has.
    pub fn set_codex(&mut self, pair: &str) -> Result<CodexKey, String> {
        let Some((key, raw)) = pair.split_once('=') else {
            return Err(format!("-c {pair}: expected key=value"));
        };
        let key = key.trim();
        let raw = raw.trim();
        let value = toml_value(raw);
        let text = || {
            value
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("-c {key}: expected a string"))
        };
        if let Some(setting) = super::codex_keys::by_codex(key) {
            let given = match &value {
                toml_edit::Value::String(text) => serde_json::json!(text.value()),
                toml_edit::Value::Boolean(on) => serde_json::json!(*on.value()),
                _ => serde_json::Value::Null,
            };
            let kelp = setting.to_kelp(&given).map_err(|why| format!("-c {why}"))?;
            let text = || kelp.as_str().unwrap_or_default().to_string();
            match setting.kelp {
                "model" => self.model = Some(text()),
                "reasoning_effort" => self.reasoning_effort = Some(text()),
                "approval" => self.approval = text().parse().ok(),
                "sandbox" => self.sandbox = text().parse().ok(),
                _ => self.network = kelp.as_bool().map(super::modes::Network::from),
            }
            return Ok(CodexKey::Applied);
        }
        match key {
            "openai_base_url" => {
                let url = text()?;
                self.openai_base_url = Some(
                    super::check_endpoint(&url)
                        .map_err(|reason| format!("-c openai_base_url={url}: {reason}"))?,
                );
            }
            "model_provider" => self.model_provider = Some(text()?),
            "approvals_reviewer" => {
                let reviewer = crate::protocol::ApprovalsReviewer::parse(&text()?)
                    .map_err(|why| format!("-c {why}"))?;
                self.approvals_reviewer = Some(reviewer);
            }
            "service_tier" => {
                let tier = crate::protocol::ServiceTier::parse(&text()?)
                    .map_err(|why| format!("-c {why}"))?;
                self.service_tier = Some(tier);
            }
            "web_search" => {
                let mode = text()?;
                self.web_search = Some(
                    mode.parse()
                        .map_err(|why| format!("-c web_search: {why}"))?,
                );
            }
            // Codex's older switches for the same tool.
            "features.web_search_request" | "tools.web_search" => match value.as_bool() {
                Some(on) => {
                    self.web_search = Some(if on {
                        WebSearch::Live
                    } else {
                        WebSearch::Disabled
                    })
                }
                None => return Err(format!("-c {key}: expected true or false")),
            },
            "features.unified_exec" => match value.as_bool() {
                Some(on) => self.unified_exec = Some(on),
                None => return Err(format!("-c {key}: expected true or false")),
            },
            "features.multi_agent_v2" => match value.as_bool() {
                Some(on) => self.multi_agent = Some(on),
                None => return Err(format!("-c {key}: expected true or false")),
            },
            // kelp's lists for `network = "domains"`, laid over the file's as a table key is.
            "allowed_domains" | "denied_domains" => {
                self.tables.push((key.to_string(), raw.to_string()))
            }
            _ => match table_key(key) {
                Some(Err(why)) => return Err(format!("-c {key}: {why}")),
                Some(Ok(())) => self.tables.push((key.to_string(), raw.to_string())),
                None => return Ok(CodexKey::Ignored(key.to_string())),
            },
        }
        Ok(CodexKey::Applied)
    }
}

/// `raw` as a TOML value, or as a bare string when it is not one.
fn toml_value(raw: &str) -> toml_edit::Value {
    format!("value = {raw}")
        .parse::<toml_edit::DocumentMut>()
        .ok()
        .and_then(|doc| {
            doc.get("value")
                .and_then(toml_edit::Item::as_value)
                .cloned()
        })
        .unwrap_or_else(|| raw.into())
}

/// Whether `key` is a path into a table `-c` may set (`mcp_servers.NAME.KEY`,
/// `model_providers.NAME` or `model_providers.NAME.KEY`); `Err` says what is missing.
fn table_key(key: &str) -> Option<Result<(), &'static str>> {
    let (top, path) = key.split_once('.')?;
    let least = match top {
        super::mcp::KEY => 2,
        super::providers::KEY => 1,
        _ => return None,
    };
    let parts: Vec<&str> = path.split('.').collect();
    if parts.len() < least || parts.iter().any(|part| part.is_empty()) {
        return Some(Err(if least == 2 {
            "a server name and a setting are needed (mcp_servers.NAME.KEY)"
        } else {
            "a provider name is needed (model_providers.NAME or model_providers.NAME.KEY)"
        }));
    }
    Some(Ok(()))
}

/// Lays the table keys given with `-c` over the config file's text: each key given on the
/// command line replaces the file's, the rest of the file stays as it is.
pub fn with_tables(file_text: &str, keys: &[(String, String)]) -> Option<String> {
    if keys.is_empty() {
        return None;
    }
    let mut doc: toml_edit::DocumentMut = file_text.parse().unwrap_or_default();
    for (path, raw) in keys {
        let parts: Vec<&str> = path.split('.').collect();
        let (last, parents) = parts.split_last()?;
        let mut table: &mut dyn toml_edit::TableLike = doc.as_table_mut();
        for part in parents {
            table = table
                .entry(part)
                .or_insert_with(toml_edit::table)
                .as_table_like_mut()?;
        }
        table.insert(last, toml_edit::Item::Value(toml_value(raw)));
    }
    Some(doc.to_string())
}

/// The config file's text with the profile in force laid over its top level, as Codex's
/// profiles work: `profile` (a flag's or the environment's, else the file's own `profile =
/// "NAME"`) names a `[profiles.NAME]` table whose keys replace the top level's. `Ok(None)`
/// when no profile is asked for; `Err` names a profile the file does not have.
pub fn with_profile(file_text: &str, profile: Option<&str>) -> Result<Option<String>, String> {
    let mut doc: toml_edit::DocumentMut = match file_text.parse() {
        Ok(doc) => doc,
        // A file that does not parse is said by its own reader.
        Err(_) => return Ok(None),
    };
    let chosen = profile
        .map(str::to_string)
        .or_else(|| doc.get("profile")?.as_str().map(str::to_string));
    let Some(name) = chosen else {
        return Ok(None);
    };
    let table = doc
        .get("profiles")
        .and_then(|profiles| profiles.get(&name))
        .and_then(toml_edit::Item::as_table_like)
        .map(|table| {
            table
                .iter()
                .map(|(key, item)| (key.to_string(), item.clone()))
                .collect::<Vec<_>>()
        })
        .ok_or_else(|| {
            format!(
                "no profile {name}: neither {name}.config.toml beside config.toml nor \
                 [profiles.{name}] in it"
            )
        })?;
    doc.remove("profiles");
    doc.remove("profile");
    for (key, item) in table {
        doc.insert(&key, item);
    }
    Ok(Some(doc.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_lays_its_keys_over_the_top_level() {
        let text = "model = \"gpt-5.5\"\nsandbox = \"workspace-write\"\nprofile = \"fast\"\n\
                    [profiles.fast]\nmodel = \"gpt-5.4-mini\"\nreasoning_effort = \"low\"\n\
                    [profiles.safe]\nsandbox = \"read-only\"\n";
        let fast = with_profile(text, None).unwrap().unwrap();
        assert!(fast.contains("model = \"gpt-5.4-mini\""), "{fast}");
        assert!(fast.contains("reasoning_effort = \"low\""), "{fast}");
        assert!(fast.contains("sandbox = \"workspace-write\""), "{fast}");
        assert!(!fast.contains("profiles"), "{fast}");
        let safe = with_profile(text, Some("safe")).unwrap().unwrap();
        assert!(safe.contains("sandbox = \"read-only\"") && safe.contains("gpt-5.5"));
        assert_eq!(
            with_profile(text, Some("slow")),
            Err(
                "no profile slow: neither slow.config.toml beside config.toml nor \
                 [profiles.slow] in it"
                    .to_string()
            )
        );
        assert_eq!(with_profile("model = \"m\"\n", None), Ok(None));
    }

    #[test]
    fn codex_keys_kelp_has_are_applied_and_others_named() {
        let mut flags = Overrides::default();
        assert_eq!(flags.set_codex("model=\"gpt-5.4\""), Ok(CodexKey::Applied));
        assert_eq!(
            flags.set_codex("model_reasoning_effort=High"),
            Ok(CodexKey::Applied)
        );
        assert_eq!(
            flags.set_codex("approval_policy=never"),
            Ok(CodexKey::Applied)
        );
        assert_eq!(
            flags.set_codex("sandbox_mode=read-only"),
            Ok(CodexKey::Applied)
        );
        assert_eq!(
            flags.set_codex("sandbox_workspace_write.network_access=true"),
            Ok(CodexKey::Applied)
        );
        assert_eq!(
            flags.set_codex("mcp_servers.docs.args=[\"--port\", \"9\"]"),
            Ok(CodexKey::Applied)
        );
        assert_eq!(
            flags.set_codex("features.code_mode_host=true"),
            Ok(CodexKey::Ignored("features.code_mode_host".into()))
        );
        assert_eq!(flags.model.as_deref(), Some("gpt-5.4"));
        assert_eq!(flags.reasoning_effort.as_deref(), Some("high"));
        assert_eq!(flags.approval, Some(ApprovalMode::Never));
        assert_eq!(flags.sandbox, Some(SandboxMode::ReadOnly));
        assert_eq!(flags.network, Some(crate::config::modes::Network::On));
        assert_eq!(
            flags.tables,
            [(
                "mcp_servers.docs.args".to_string(),
                "[\"--port\", \"9\"]".to_string()
            )]
        );
        assert!(flags.set_codex("approval_policy=sometimes").is_err());
        assert!(flags.set_codex("no-equals-sign").is_err());
        assert!(flags.set_codex("mcp_servers.docs").is_err());
    }

    #[test]
    fn providers_and_web_search_are_taken_as_the_sdk_passes_them() {
        let mut flags = Overrides::default();
        // The TypeScript SDK flattens its config object into dotted keys.
        for pair in [
            "model_provider=\"mock\"",
            "model_providers.mock.name=\"Mock provider for test\"",
            "model_providers.mock.base_url=\"http://127.0.0.1:9/v1\"",
            "model_providers.mock.wire_api=\"responses\"",
            "model_providers.other={ name = \"O\", base_url = \"http://127.0.0.1:8/v1\" }",
            "model_providers.other.env_key=\"O_KEY\"",
            "web_search=\"live\"",
        ] {
            assert_eq!(flags.set_codex(pair), Ok(CodexKey::Applied), "{pair}");
        }
        assert_eq!(flags.model_provider.as_deref(), Some("mock"));
        assert_eq!(flags.web_search, Some(WebSearch::Live));
        let merged: toml::Table =
            toml::from_str(&with_tables("model = \"m\"\n", &flags.tables).unwrap()).unwrap();
        assert_eq!(
            merged["model_providers"]["mock"]["name"].as_str(),
            Some("Mock provider for test")
        );
        assert_eq!(
            merged["model_providers"]["other"]["env_key"].as_str(),
            Some("O_KEY")
        );
        assert_eq!(
            merged["model_providers"]["other"]["name"].as_str(),
            Some("O")
        );
        assert_eq!(
            flags.set_codex("features.web_search_request=false"),
            Ok(CodexKey::Applied)
        );
        assert_eq!(flags.web_search, Some(WebSearch::Disabled));
        assert!(flags.set_codex("web_search=\"sometimes\"").is_err());
        assert!(flags.set_codex("model_providers.=1").is_err());
    }

    #[test]
    fn server_keys_given_on_the_command_line_replace_the_files_keys_only() {
        let file = "model = \"m\"\n[mcp_servers.docs]\ncommand = \"docs-server\"\nargs = [\"a\"]\n";
        let mut flags = Overrides::default();
        flags.set_codex("mcp_servers.docs.args=[\"b\"]").unwrap();
        flags
            .set_codex("mcp_servers.new.url=\"http://127.0.0.1:9/mcp\"")
            .unwrap();
        let merged: toml::Table =
            toml::from_str(&with_tables(file, &flags.tables).unwrap()).unwrap();
        assert_eq!(merged["model"].as_str(), Some("m"));
        assert_eq!(
            merged["mcp_servers"]["docs"]["command"].as_str(),
            Some("docs-server")
        );
        assert_eq!(merged["mcp_servers"]["docs"]["args"][0].as_str(), Some("b"));
        assert!(merged["mcp_servers"]["new"]["url"].is_str());
        assert_eq!(with_tables(file, &[]), None);
    }
}
