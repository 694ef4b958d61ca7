//! The choices of an ACP permission request, as an editor offers them, and the decision the
//! chosen one stands for: this once, this session, a rule for the project (a command's prefix,
//! one outside the sandbox, a host), or no.

use agent_client_protocol_schema::v1::{PermissionOption, PermissionOptionKind};

use crate::protocol::{ApprovalDecision, ApprovalSubject};

/// The permission options, by id.
const ALLOW_ONCE: &str = "allow_once";
const ALLOW_ALWAYS: &str = "allow_always";
/// A rule kept for the project: a command's prefix, or a host allowed or refused.
const ALLOW_IN_PROJECT: &str = "allow_in_project";
const REJECT_IN_PROJECT: &str = "reject_in_project";
const REJECT: &str = "reject";

/// The options an editor offers for `subject`.
pub fn options(subject: &ApprovalSubject) -> Vec<PermissionOption> {
    let option =
        |id: &str, name: &str, kind| PermissionOption::new(id.to_string(), name.to_string(), kind);
    let always = match subject {
        ApprovalSubject::Command { .. } => Some("Always allow this command"),
        ApprovalSubject::Patch { .. } => Some("Allow all edits in this session"),
        ApprovalSubject::Read { .. } => Some("Always allow reading there"),
        ApprovalSubject::McpTool { .. } => Some("Always allow this tool"),
        ApprovalSubject::Network { .. } => Some("Allow it for this session"),
        ApprovalSubject::Unsandboxed { .. } => None,
    };
    let once = match subject {
        ApprovalSubject::Unsandboxed { .. } => "Run without the sandbox, once",
        ApprovalSubject::Network { .. } => "Allow it for this command",
        _ => "Allow once",
    };
    let mut options = vec![option(ALLOW_ONCE, once, PermissionOptionKind::AllowOnce)];
    options
        .extend(always.map(|name| option(ALLOW_ALWAYS, name, PermissionOptionKind::AllowAlways)));
    let rule = match subject {
        ApprovalSubject::Network { host, port, .. } => {
            Some(crate::sandbox::proxy::rules::host_rule(host, *port))
        }
        _ => None,
    };
    let prefix = |words: &[String]| crate::agent::command_rules::shown(words);
    let in_project = match subject {
        ApprovalSubject::Command {
            always_prefix: Some(words),
            ..
        } => Some(format!("Always allow `{}` in this project", prefix(words))),
        ApprovalSubject::Unsandboxed {
            always_prefix: Some(words),
            ..
        } => Some(format!(
            "Always run `{}` outside the sandbox in this project",
            prefix(words)
        )),
        _ => rule
            .as_ref()
            .map(|rule| format!("Always allow {rule} in this project")),
    };
    if let Some(name) = &in_project {
        options.push(option(
            ALLOW_IN_PROJECT,
            name,
            PermissionOptionKind::AllowAlways,
        ));
    }
    options.push(option(REJECT, "Reject", PermissionOptionKind::RejectOnce));
    if let Some(rule) = &rule {
        options.push(option(
            REJECT_IN_PROJECT,
            &format!("Never allow {rule} in this project"),
            PermissionOptionKind::RejectAlways,
        ));
    }
    options
}

/// The decision a chosen permission option stands for; anything else (a cancelled request, an
/// unknown option) rejects.
pub fn decision(option_id: Option<&str>) -> ApprovalDecision {
    match option_id {
        Some(ALLOW_ONCE) => ApprovalDecision::Yes,
        Some(ALLOW_ALWAYS) => ApprovalDecision::Always,
        Some(ALLOW_IN_PROJECT) => ApprovalDecision::AlwaysPrefix,
        Some(REJECT_IN_PROJECT) => ApprovalDecision::NeverHere,
        _ => ApprovalDecision::No { reason: None },
    }
}
