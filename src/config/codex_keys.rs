//! The Codex settings kelp has, in one table: each one's key in Codex's config, its key in
//! kelp's `config.toml`, and how a value is said in each. The command line's `-c key=value`,
//! and the app-server's `config/read` and `config/value/write`, all read it.

use serde_json::{Value, json};

use crate::protocol::{ApprovalMode, SandboxMode};

/// How a setting's value is said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A string, the same in both.
    Text,
    /// A reasoning effort: a string, lower-cased for kelp.
    Effort,
    /// Codex's approval policy, kelp's approval mode.
    Approval,
    /// Codex's sandbox mode name, kelp's.
    Sandbox,
    /// `true` or `false`.
    Switch,
}

/// One setting both have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodexSetting {
    /// Its key path in Codex's config, dotted (`sandbox_workspace_write.network_access`).
    pub codex: &'static str,
    /// Its key in kelp's `config.toml`.
    pub kelp: &'static str,
    kind: Kind,
}

/// Every setting both have. (`mcp_servers` is the same table in both, passed through.)
pub const SETTINGS: [CodexSetting; 5] = [
    CodexSetting {
        codex: "model",
        kelp: "model",
        kind: Kind::Text,
    },
    CodexSetting {
        codex: "model_reasoning_effort",
        kelp: "reasoning_effort",
        kind: Kind::Effort,
    },
    CodexSetting {
        codex: "approval_policy",
        kelp: "approval",
        kind: Kind::Approval,
    },
    CodexSetting {
        codex: "sandbox_mode",
        kelp: "sandbox",
        kind: Kind::Sandbox,
    },
    CodexSetting {
        codex: "sandbox_workspace_write.network_access",
        kelp: "network",
        kind: Kind::Switch,
    },
];

/// The setting Codex calls `key`.
pub fn by_codex(key: &str) -> Option<&'static CodexSetting> {
    SETTINGS.iter().find(|setting| setting.codex == key)
}

/// The setting kelp's file calls `key`.
pub fn by_kelp(key: &str) -> Option<&'static CodexSetting> {
    SETTINGS.iter().find(|setting| setting.kelp == key)
}

/// The Codex keys kelp takes, for a message: `model, model_reasoning_effort, …`.
pub fn names() -> String {
    SETTINGS
        .iter()
        .map(|setting| setting.codex)
        .chain(["mcp_servers"])
        .collect::<Vec<_>>()
        .join(", ")
}

impl CodexSetting {
    /// A value as Codex gives it, as kelp writes it in its file; or why it cannot be.
    pub fn to_kelp(&self, value: &Value) -> Result<Value, String> {
        let key = self.codex;
        let text = || {
            value
                .as_str()
                .ok_or_else(|| format!("{key} takes a string"))
        };
        Ok(match self.kind {
            Kind::Text => json!(text()?),
            Kind::Effort => json!(text()?.to_ascii_lowercase()),
            Kind::Approval => {
                let policy = text()?;
                let mode = ApprovalMode::from_codex(policy).ok_or_else(|| {
                    format!("{key}={policy}: kelp takes untrusted, on-request or never")
                })?;
                json!(mode.as_str())
            }
            Kind::Sandbox => {
                let name = text()?;
                let mode = SandboxMode::from_codex(name).ok_or_else(|| {
                    format!(
                        "{key}={name}: kelp takes read-only, workspace-write or danger-full-access"
                    )
                })?;
                json!(mode.as_str())
            }
            Kind::Switch => json!(
                value
                    .as_bool()
                    .ok_or_else(|| format!("{key} takes true or false"))?
            ),
        })
    }

    /// A value as kelp's file holds it, as Codex says it; `None` when kelp's is not one.
    pub fn to_codex(&self, value: &Value) -> Option<Value> {
        Some(match self.kind {
            Kind::Text | Kind::Effort => json!(value.as_str()?),
            Kind::Approval => json!(value.as_str()?.parse::<ApprovalMode>().ok()?.codex_name()),
            Kind::Sandbox => json!(value.as_str()?.parse::<SandboxMode>().ok()?.codex_name()),
            Kind::Switch => json!(value.as_bool()?),
        })
    }

    /// `value` under this setting's Codex key path, nested: `{"sandbox_workspace_write":
    /// {"network_access": true}}`.
    pub fn nested(&self, value: Value) -> (String, Value) {
        let mut parts = self.codex.rsplit('.');
        let mut nested = value;
        let mut top = parts.next().unwrap_or(self.codex);
        for parent in parts {
            nested = json!({ top: nested });
            top = parent;
        }
        (top.to_string(), nested)
    }
}

/// The kelp key a key of Codex's config file is read as; `None` for Codex's own settings,
/// which kelp leaves alone (without a warning: they are not mistakes).
pub(super) fn kelp_key(key: &str) -> Option<&str> {
    Some(match key {
        "model_reasoning_effort" => "reasoning_effort",
        "approval_policy" => "approval",
        "sandbox_mode" => "sandbox",
        "model"
        | "mcp_servers"
        | "model_provider"
        | "model_providers"
        | "projects"
        | "web_search"
        | "profile"
        | "profiles"
        | "sandbox_workspace_write"
        | "agents"
        | "features"
        | "hooks"
        | "tui"
        | "notify"
        | "approvals_reviewer"
        | "review_model"
        | "skills" => key,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_setting_goes_there_and_back() {
        for (codex, given, kelp) in [
            ("model", json!("gpt-5.4"), json!("gpt-5.4")),
            ("model_reasoning_effort", json!("HIGH"), json!("high")),
            ("approval_policy", json!("on-request"), json!("full-auto")),
            ("sandbox_mode", json!("danger-full-access"), json!("off")),
            (
                "sandbox_workspace_write.network_access",
                json!(true),
                json!(true),
            ),
        ] {
            let setting = by_codex(codex).unwrap();
            assert_eq!(setting.to_kelp(&given).unwrap(), kelp, "{codex}");
            assert_eq!(by_kelp(setting.kelp), Some(setting));
            let back = setting.to_codex(&kelp).unwrap();
            assert_eq!(
                back.as_str().map(str::to_ascii_lowercase),
                given.as_str().map(str::to_ascii_lowercase)
            );
        }
        assert!(
            by_codex("approval_policy")
                .unwrap()
                .to_kelp(&json!("sometimes"))
                .is_err()
        );
        assert!(
            by_codex("sandbox_workspace_write.network_access")
                .unwrap()
                .to_kelp(&json!("yes"))
                .is_err()
        );
        assert_eq!(
            by_kelp("network").unwrap().nested(json!(false)),
            (
                "sandbox_workspace_write".to_string(),
                json!({"network_access": false})
            )
        );
    }
}
