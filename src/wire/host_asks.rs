//! What the server asks the host: approvals of a command, a patch or a host to reach, and the
//! model's questions; and the host's answers as Codex's hosts write them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ServerRequest, known, lenient};

/// Asks the host to approve a command (or an MCP call or a read, shown as a command).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandExecutionRequestApproval {
    pub thread_id: String,
    pub turn_id: String,
    pub item_id: String,
    #[serde(default)]
    pub started_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The rule the person may keep for commands that start so.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "known"
    )]
    pub proposed_execpolicy_amendment: Option<Option<Vec<String>>>,
    /// A running command's first contact with a host no list names: the host, and how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_approval_context: Option<NetworkApprovalContext>,
    /// The rules for that host the person may keep: allow it, or deny it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub proposed_network_policy_amendments: Option<Vec<NetworkPolicyAmendment>>,
}

/// The host a command asks to reach, as Codex's network approval names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkApprovalContext {
    pub host: String,
    pub protocol: NetworkApprovalProtocol,
}

impl NetworkApprovalContext {
    /// The port asked for: the one of the `network-access` target Codex shows as the command
    /// (`network-access https://host:443`, `[v6]:port`, a path after it), else the protocol's
    /// own.
    pub fn port(&self, command: &str) -> u16 {
        let authority = command
            .strip_prefix("network-access ")
            .and_then(|target| target.split_once("://"))
            .map(|(_, rest)| rest.split('/').next().unwrap_or_default());
        authority
            .and_then(|authority| authority.rsplit_once(':'))
            .filter(|(host, _)| !host.starts_with('[') || host.ends_with(']'))
            .and_then(|(_, port)| port.parse().ok())
            .unwrap_or(match self.protocol {
                NetworkApprovalProtocol::Http => 80,
                _ => 443,
            })
    }
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

impl From<NetworkApprovalProtocol> for crate::protocol::Via {
    fn from(protocol: NetworkApprovalProtocol) -> Self {
        match protocol {
            NetworkApprovalProtocol::Http => Self::Http,
            NetworkApprovalProtocol::Https => Self::Https,
            NetworkApprovalProtocol::Socks5Tcp | NetworkApprovalProtocol::Socks5Udp => Self::Socks5,
        }
    }
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalResponse {
    pub decision: ApprovalResponseDecision,
}

/// What the person chose; a string but for the two that carry a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileChangeRequestApproval {
    pub thread_id: String,
    pub turn_id: String,
    pub item_id: String,
    #[serde(default)]
    pub started_at_ms: i64,
    /// Why it is asked: kelp names the agent of a team that asks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ServerRequest for FileChangeRequestApproval {
    const METHOD: &'static str = "item/fileChange/requestApproval";
}

/// Asks the host to put the model's questions to the person (`request_user_input`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolRequestUserInput {
    pub thread_id: String,
    pub turn_id: String,
    pub item_id: String,
    pub questions: Vec<UserInputQuestion>,
    #[serde(default)]
    pub is_blocking: bool,
}

/// One question, as Codex asks it: the person may always answer in their own words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInputQuestion {
    pub id: String,
    #[serde(default)]
    pub header: String,
    pub question: String,
    #[serde(default)]
    pub is_other: bool,
    #[serde(default)]
    pub is_secret: bool,
    /// Codex sends `null` for a question answered only in words.
    #[serde(default, deserialize_with = "lenient")]
    pub options: Vec<crate::protocol::Choice>,
}

/// The host's answers to the model's questions, by question id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolRequestUserInputResponse {
    pub answers: std::collections::HashMap<String, ToolRequestUserInputAnswer>,
}

/// One question's answers: the options chosen, or the person's own words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolRequestUserInputAnswer {
    pub answers: Vec<String>,
}

impl ServerRequest for ToolRequestUserInput {
    const METHOD: &'static str = "item/tool/requestUserInput";
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The port of a host's question is read from the target Codex asks with.
    #[test]
    fn the_port_of_a_hosts_question_is_read_from_codexs_target() {
        let context = |protocol| NetworkApprovalContext {
            host: "h".into(),
            protocol,
        };
        use NetworkApprovalProtocol::{Http, Https, Socks5Tcp};
        assert_eq!(context(Https).port("network-access https://h:8443/x"), 8443);
        assert_eq!(
            context(Https).port("network-access https://[::1]:9443"),
            9443
        );
        assert_eq!(context(Https).port("network-access https://[::1]"), 443);
        assert_eq!(context(Http).port("curl http://h:1234"), 80);
        assert_eq!(
            context(Socks5Tcp).port("network-access socks5-tcp://h:1080"),
            1080
        );
    }
}
