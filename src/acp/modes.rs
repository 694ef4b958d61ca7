//! kelp's approval modes, and plan mode, as ACP session modes: what an editor's mode picker lists, and the
//! settings a mode stands for. A mode holds for the session (`session/set_mode`), not the
//! config file.

use std::path::Path;

use agent_client_protocol_schema::v1::{SessionMode, SessionModeState};

use crate::config::Config;

use crate::protocol::{ApprovalMode, ApprovalsReviewer, SandboxMode};
use crate::protocol::{CollaborationMode, Settings};

/// One mode: its id, name, what it lets through, and kelp's settings for it.
struct Mode {
    id: &'static str,
    name: &'static str,
    description: &'static str,
    /// `None`: the config file's.
    approval: Option<ApprovalMode>,
    /// `None`: the sandbox the config file names.
    sandbox: Option<SandboxMode>,
    /// Codex's plan mode: the model plans and changes nothing.
    plan: bool,
    /// Who answers what would ask: the person, or auto-review first (codex-acp's "Auto review").
    reviewer: ApprovalsReviewer,
}

const MODES: [Mode; 6] = [
    Mode {
        id: "read-only",
        name: "Read only",
        description: "Reads and searches; commands run in a read-only sandbox, edits ask",
        approval: Some(ApprovalMode::Ask),
        sandbox: Some(SandboxMode::ReadOnly),
        plan: false,
        reviewer: ApprovalsReviewer::User,
    },
    Mode {
        id: "ask",
        name: "Ask",
        description: "Reads run; every command and edit asks first",
        approval: Some(ApprovalMode::Ask),
        sandbox: None,
        plan: false,
        reviewer: ApprovalsReviewer::User,
    },
    Mode {
        id: "auto-edit",
        name: "Auto edit",
        description: "Edits inside the project run; commands ask first",
        approval: Some(ApprovalMode::AutoEdit),
        sandbox: None,
        plan: false,
        reviewer: ApprovalsReviewer::User,
    },
    Mode {
        id: "full-auto",
        name: "Full auto",
        description: "Edits and commands inside the project run without asking, in the sandbox",
        approval: Some(ApprovalMode::FullAuto),
        sandbox: None,
        plan: false,
        reviewer: ApprovalsReviewer::User,
    },
    Mode {
        id: "auto-review",
        name: "Auto review",
        description: "Edits and commands run in the sandbox; what would ask you goes to a reviewing model first",
        approval: Some(ApprovalMode::FullAuto),
        sandbox: None,
        plan: false,
        reviewer: ApprovalsReviewer::AutoReview,
    },
    Mode {
        id: "plan",
        name: "Plan",
        description: "Plans without changing anything: commands only read, no edit; the answer is a plan",
        approval: None,
        sandbox: None,
        plan: true,
        reviewer: ApprovalsReviewer::User,
    },
];

/// The mode a session starts in: the config file's approval mode.
pub fn initial(config: &Config) -> &'static str {
    MODES
        .iter()
        .find(|mode| {
            mode.sandbox.is_none()
                && mode.approval == Some(config.approval)
                && mode.reviewer == config.approvals_reviewer
        })
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
        approval: mode.approval.or(Some(config.approval)),
        sandbox: Some((sandbox, network)),
        mode: Some(if mode.plan {
            CollaborationMode::Plan
        } else {
            CollaborationMode::Default
        }),
        // Plan mode keeps the reviewer as it was.
        reviewer: (!mode.plan).then_some(mode.reviewer),
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

/// The file in the state folder that keeps each session's chosen mode, so `session/load` in a
/// later agent finds it as it was left: `{"SESSION_ID": "MODE_ID", …}`.
const KEPT: &str = "acp-modes.json";

/// The most sessions whose mode is kept; the oldest choices go first.
const MAX_KEPT: usize = 500;

/// The mode chosen for `session_id` in an earlier agent, if it is one kelp has.
pub fn kept(state_dir: &Path, session_id: &str) -> Option<&'static str> {
    let modes = read_kept(state_dir);
    let chosen = modes.iter().find(|(id, _)| id == session_id)?;
    id_of(&chosen.1)
}

/// Keeps `mode` as the one chosen for `session_id` (best effort: a failure only costs the
/// choice on a later load).
pub fn keep(state_dir: &Path, session_id: &str, mode: &str) {
    if crate::private_file::create_private_dir(state_dir).is_err() {
        return;
    }
    let Ok(_lock) = crate::private_file::lock_beside(&state_dir.join(KEPT)) else {
        return;
    };
    let mut modes = read_kept(state_dir);
    modes.retain(|(id, _)| id != session_id);
    modes.push((session_id.to_string(), mode.to_string()));
    let excess = modes.len().saturating_sub(MAX_KEPT);
    modes.drain(..excess);
    let object: serde_json::Map<String, serde_json::Value> = modes
        .into_iter()
        .map(|(id, mode)| (id, serde_json::Value::String(mode)))
        .collect();
    let _ = crate::private_file::replace(
        &state_dir.join(KEPT),
        serde_json::Value::Object(object).to_string().as_bytes(),
    );
}

/// The kept choices, oldest first; a missing or damaged file keeps none.
fn read_kept(state_dir: &Path) -> Vec<(String, String)> {
    let Ok(bytes) = crate::private_file::read_private(&state_dir.join(KEPT), 1 << 20) else {
        return Vec::new();
    };
    match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes) {
        Ok(object) => object
            .into_iter()
            .filter_map(|(id, mode)| Some((id, mode.as_str()?.to_string())))
            .collect(),
        Err(_) => Vec::new(),
    }
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
        assert_eq!(full.mode, Some(CollaborationMode::Default));
        let plan = settings("plan", &config).unwrap();
        assert_eq!(plan.mode, Some(CollaborationMode::Plan));
        assert_eq!(plan.approval, Some(config.approval));
        config.approval = ApprovalMode::AutoEdit;
        assert_eq!(initial(&config), "auto-edit");
    }

    #[test]
    fn a_chosen_mode_is_kept_per_session_and_the_oldest_go_past_the_bound() {
        let state = tempfile::tempdir().unwrap();
        assert_eq!(kept(state.path(), "s1"), None);
        keep(state.path(), "s1", "full-auto");
        keep(state.path(), "s2", "read-only");
        keep(state.path(), "s1", "auto-edit");
        assert_eq!(kept(state.path(), "s1"), Some("auto-edit"));
        assert_eq!(kept(state.path(), "s2"), Some("read-only"));
        let full: serde_json::Map<String, serde_json::Value> = (0..MAX_KEPT)
            .map(|i| (format!("n{i}"), serde_json::json!("ask")))
            .collect();
        std::fs::write(state.path().join(KEPT), serde_json::to_vec(&full).unwrap()).unwrap();
        keep(state.path(), "s3", "full-auto");
        assert_eq!(kept(state.path(), "n0"), None, "the oldest went");
        assert_eq!(kept(state.path(), "n1"), Some("ask"));
        assert_eq!(kept(state.path(), "s3"), Some("full-auto"));
        std::fs::write(state.path().join(KEPT), "not json").unwrap();
        assert_eq!(kept(state.path(), "n1"), None);
    }
}
