//! kelp's approval modes as ACP session modes: what an editor's mode picker lists, and the
//! settings a mode stands for. A mode holds for the session (`session/set_mode`), not the
//! config file.

use agent_client_protocol_schema::v1::{SessionMode, SessionModeState};

use crate::agent::protocol::Settings;
use crate::config::{ApprovalMode, Config, SandboxMode};

/// One mode: its id, name, what it lets through, and kelp's settings for it.
struct Mode {
    id: &'static str,
    name: &'static str,
    description: &'static str,
    approval: ApprovalMode,
    /// `None`: the sandbox the config file names.
    sandbox: Option<SandboxMode>,
}

const MODES: [Mode; 4] = [
    Mode {
        id: "read-only",
        name: "Read only",
        description: "Reads and searches; commands run in a read-only sandbox, edits ask",
        approval: ApprovalMode::Ask,
        sandbox: Some(SandboxMode::ReadOnly),
    },
    Mode {
        id: "ask",
        name: "Ask",
        description: "Reads run; every command and edit asks first",
        approval: ApprovalMode::Ask,
        sandbox: None,
    },
    Mode {
        id: "auto-edit",
        name: "Auto edit",
        description: "Edits inside the project run; commands ask first",
        approval: ApprovalMode::AutoEdit,
        sandbox: None,
    },
    Mode {
        id: "full-auto",
        name: "Full auto",
        description: "Edits and commands inside the project run without asking, in the sandbox",
        approval: ApprovalMode::FullAuto,
        sandbox: None,
    },
];

/// The mode a session starts in: the config file's approval mode.
pub fn initial(config: &Config) -> &'static str {
    MODES
        .iter()
        .find(|mode| mode.sandbox.is_none() && mode.approval == config.approval)
        .map_or("ask", |mode| mode.id)
}

/// The modes an editor lists, `current` chosen.
pub fn state(current: &str) -> SessionModeState {
    let modes = MODES
        .iter()
        .map(|mode| SessionMode::new(mode.id, mode.name).description(mode.description))
        .collect();
    SessionModeState::new(current.to_string(), modes)
}

/// The settings mode `id` stands for, or `None` for a mode kelp does not have.
pub fn settings(id: &str, config: &Config) -> Option<Settings> {
    let mode = MODES.iter().find(|mode| mode.id == id)?;
    let sandbox = mode.sandbox.unwrap_or(config.sandbox);
    let network = mode.sandbox.is_none() && config.network;
    Some(Settings {
        approval: Some(mode.approval),
        sandbox: Some((sandbox, network)),
        ..Settings::default()
    })
}

/// Mode `id` as kelp names it, if it is one.
pub fn id_of(id: &str) -> Option<&'static str> {
    MODES.iter().find(|mode| mode.id == id).map(|mode| mode.id)
}

/// Each mode's id and name, for a picker.
pub fn choices() -> Vec<(String, String)> {
    MODES
        .iter()
        .map(|mode| (mode.id.to_string(), mode.name.to_string()))
        .collect()
}

/// The ids, for an error that names them.
pub fn ids() -> String {
    MODES
        .iter()
        .map(|mode| mode.id)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_is_ask_in_a_read_only_sandbox_and_the_others_keep_the_configs() {
        let mut config =
            Config::for_origin("http://127.0.0.1:9", std::path::Path::new("/nonexistent"));
        config.network = true;
        let read_only = settings("read-only", &config).unwrap();
        assert_eq!(read_only.approval, Some(ApprovalMode::Ask));
        assert_eq!(read_only.sandbox, Some((SandboxMode::ReadOnly, false)));
        let full = settings("full-auto", &config).unwrap();
        assert_eq!(full.sandbox, Some((config.sandbox, true)));
        assert!(settings("yolo", &config).is_none());
        config.approval = ApprovalMode::AutoEdit;
        assert_eq!(initial(&config), "auto-edit");
    }
}
