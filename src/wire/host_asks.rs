//! What the server asks the host: approvals of a command, a patch or a host to reach, and the
//! model's questions; and the host's answers as Codex's hosts write them.

use std::path::PathBuf;

use serde::Serialize;

use super::ServerRequest;

/// Asks the host to approve a command (or an MCP call or a read, shown as a command).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandExecutionRequestApproval {
    pub thread_id: String,
    pub turn_id: String,
    pub item_id: String,
    pub started_at_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The rule the person may keep for commands that start so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposed_execpolicy_amendment: Option<Option<Vec<String>>>,
    /// A running command's first contact with a host no list names: the host, and how.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_approval_context: Option<NetworkApprovalContext>,
    /// The rules for that host the person may keep: allow it, or deny it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposed_network_policy_amendments: Option<Vec<NetworkPolicyAmendment>>,
}

/// The host a command asks to reach, as Codex's network approval names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkApprovalContext {
    pub host: String,
    pub protocol: NetworkApprovalProtocol,
}

/// How the command asked for the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NetworkApprovalProtocol {
    Http,
    Https,
    Socks5Tcp,
    Socks5Udp,
}

impl From<crate::protocol::Via> for NetworkApprovalProtocol {
    fn from(via: crate::protocol::Via) -> Self {
        use crate::protocol::Via;
        match via {
            Via::Http => Self::Http,
            Via::Https => Self::Https,
            Via::Socks5 => Self::Socks5Tcp,
        }
    }
}

impl ServerRequest for CommandExecutionRequestApproval {
    const METHOD: &'static str = "item/commandExecution/requestApproval";
}

/// The host's answer to an approval request (command, patch, MCP call or read), as Codex's
/// `CommandExecutionApprovalDecision` and `FileChangeApprovalDecision` spell it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ApprovalResponse {
    pub decision: ApprovalResponseDecision,
}

/// What the person chose; a string but for the two that carry a rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ApprovalResponseDecision {
    Accept,
    /// Run it, and what is like it, without asking again this session.
    AcceptForSession,
    /// Run it, and keep the rule the request proposed for commands that start so.
    AcceptWithExecpolicyAmendment {
        #[serde(default)]
        execpolicy_amendment: Vec<String>,
    },
    /// A rule for a network host, kept for the project: allow it (a yes, to a request about
    /// anything but a host) or refuse it (a no).
    ApplyNetworkPolicyAmendment {
        network_policy_amendment: NetworkPolicyAmendment,
    },
    /// No, and the turn goes on.
    Decline,
    /// No, and the turn stops.
    Cancel,
}

/// A host's network rule: allow or deny `host`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct NetworkPolicyAmendment {
    pub host: String,
    pub action: NetworkPolicyRuleAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NetworkPolicyRuleAction {
    Allow,
    Deny,
}

/// Asks the host to approve a patch, whose item (with its changes) it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileChangeRequestApproval {
    pub thread_id: String,
    pub turn_id: String,
    pub item_id: String,
    pub started_at_ms: i64,
}

impl ServerRequest for FileChangeRequestApproval {
    const METHOD: &'static str = "item/fileChange/requestApproval";
}

/// Asks the host to put the model's questions to the person (`request_user_input`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolRequestUserInput {
    pub thread_id: String,
    pub turn_id: String,
    pub item_id: String,
    pub questions: Vec<UserInputQuestion>,
    pub is_blocking: bool,
}

/// One question, as Codex asks it: the person may always answer in their own words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInputQuestion {
    pub id: String,
    pub header: String,
    pub question: String,
    pub is_other: bool,
    pub is_secret: bool,
    pub options: Vec<crate::protocol::Choice>,
}

/// The host's answers to the model's questions, by question id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ToolRequestUserInputResponse {
    pub answers: std::collections::HashMap<String, ToolRequestUserInputAnswer>,
}

/// One question's answers: the options chosen, or the person's own words.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ToolRequestUserInputAnswer {
    pub answers: Vec<String>,
}

impl ServerRequest for ToolRequestUserInput {
    const METHOD: &'static str = "item/tool/requestUserInput";
}
