//! The core's questions to a thread's host: its approval requests as
//! `item/commandExecution/requestApproval` (a command, an MCP call, a read, a host a command
//! asks to reach, as Codex asks each) and `item/fileChange/requestApproval`, the model's
//! questions as `item/tool/requestUserInput`, and the host's answers back to the core.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::wire::{Out, now_ms};
use crate::agent::host_asks::{self, Verdict};
use crate::protocol::{ApprovalDecision, ApprovalSubject, Op};
use crate::wire::{
    ApprovalResponse, ApprovalResponseDecision, CommandExecutionRequestApproval,
    FileChangeRequestApproval, NetworkApprovalContext, NetworkPolicyAmendment,
    NetworkPolicyRuleAction, Notification, ServerRequest, ServerRequestResolved,
    ToolRequestUserInput, ToolRequestUserInputResponse, UserInputQuestion,
};

/// Puts the model's questions to the host (`item/tool/requestUserInput`); the answers go to
/// the core (`host_asks`), an error or no answer as none.
pub(super) fn ask_questions(
    out: Out,
    ops: UnboundedSender<Op>,
    ids: (String, String),
    id: u64,
    call_id: String,
    questions: Vec<crate::protocol::Question>,
) {
    let (thread_id, turn_id) = ids;
    let order: Vec<String> = questions.iter().map(|q| q.id.clone()).collect();
    let (method, params) = ToolRequestUserInput {
        thread_id,
        turn_id,
        item_id: call_id,
        questions: questions
            .into_iter()
            .map(|q| UserInputQuestion {
                id: q.id,
                header: q.header,
                question: q.question,
                is_other: true,
                is_secret: false,
                options: q.options,
            })
            .collect(),
        is_blocking: true,
    }
    .into_message();
    let (_, answer) = out.numbered_request(method, params);
    host_asks::questions(ops, id, CancellationToken::new(), async move {
        let mut given =
            serde_json::from_value::<ToolRequestUserInputResponse>(answer.await.ok()?.ok()?)
                .ok()?;
        Some(
            order
                .iter()
                .filter_map(|id| Some((id.clone(), given.answers.remove(id)?.answers)))
                .collect(),
        )
    });
}

/// The approval requests out with the host: by the core's approval id, the request's id and
/// the thread it was asked on.
pub(super) type Asking = Arc<Mutex<HashMap<u64, (i64, String)>>>;

/// Tells the host that the request of approval `id` needs no answer any more (answered, or
/// dropped when the turn ended first), once.
pub(super) fn resolved(out: &Out, asking: &Asking, id: u64) {
    let request = asking
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&id);
    if let Some((request_id, thread_id)) = request {
        // An answer removed it already; an interrupt leaves it to be dropped here.
        out.cancel_request(request_id);
        let (method, params) = ServerRequestResolved {
            thread_id,
            request_id,
        }
        .into_message();
        out.notify(method, params);
    }
}

/// Asks the thread's clients about an approval request; the first decision goes to the core
/// (`host_asks`). `cancel` denies and interrupts the turn; an error denies. With no client
/// there, the turn waits for one to resume the thread and answer, as in Codex.
pub(super) fn ask_host(
    out: Out,
    ops: UnboundedSender<Op>,
    ids: (String, String),
    asking: Asking,
    id: u64,
    (call_id, agent): (String, Option<String>),
    subject: ApprovalSubject,
) {
    let (thread_id, turn_id) = ids;
    // The host a rule the host answers with must name, for it to be kept.
    let network = match &subject {
        ApprovalSubject::Network { host, port, .. } => {
            Some(crate::sandbox::proxy::rules::host_rule(host, *port))
        }
        _ => None,
    };
    // A yes runs the command without the sandbox: only a client that may ask for that gives it.
    let grants_full_access = matches!(subject, ApprovalSubject::Unsandboxed { .. });
    let (method, params) = Asked {
        thread_id: &thread_id,
        turn_id: &turn_id,
        item_id: &call_id,
        started_at_ms: now_ms(),
        agent: agent.as_deref(),
    }
    .request(subject);
    let (request_id, answer) = out.numbered_request_granting(method, params, grants_full_access);
    asking
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(id, (request_id, thread_id));
    host_asks::approval(ops, id, CancellationToken::new(), async move {
        let answer = answer.await;
        resolved(&out, &asking, id);
        let response = serde_json::from_value::<ApprovalResponse>(answer.ok()?.ok()?).ok()?;
        Some(verdict(response.decision, network.as_deref()))
    });
}

/// What identifies one approval request: the thread, the turn, the item asked about, when,
/// and the agent of the team that asks (`None`: the thread's own).
struct Asked<'a> {
    thread_id: &'a str,
    turn_id: &'a str,
    item_id: &'a str,
    started_at_ms: i64,
    agent: Option<&'a str>,
}

impl Asked<'_> {
    /// Why it is asked, the agent that asks named first, for a host that shows one thread.
    fn reason(&self, why: Option<String>) -> Option<String> {
        match (self.agent, why) {
            (Some(agent), Some(why)) => Some(format!("asked by the agent {agent}: {why}")),
            (Some(agent), None) => Some(format!("asked by the agent {agent}")),
            (None, why) => why,
        }
    }

    /// A command request for `command`, run in `cwd`, with why it is asked.
    fn command(
        &self,
        command: String,
        cwd: Option<PathBuf>,
        reason: Option<String>,
    ) -> CommandExecutionRequestApproval {
        CommandExecutionRequestApproval {
            thread_id: self.thread_id.to_string(),
            turn_id: self.turn_id.to_string(),
            item_id: self.item_id.to_string(),
            started_at_ms: self.started_at_ms,
            command: Some(command),
            cwd,
            reason: self.reason(reason),
            proposed_execpolicy_amendment: None,
            network_approval_context: None,
            proposed_network_policy_amendments: None,
        }
    }

    /// The request a host is asked for `subject`, as Codex shapes it: a patch is a file
    /// change, anything else a command (an MCP call, a read outside, a host to reach).
    fn request(&self, subject: ApprovalSubject) -> (&'static str, serde_json::Value) {
        match subject {
            ApprovalSubject::Patch { .. } => FileChangeRequestApproval {
                thread_id: self.thread_id.to_string(),
                turn_id: self.turn_id.to_string(),
                item_id: self.item_id.to_string(),
                started_at_ms: self.started_at_ms,
                reason: self.reason(None),
            }
            .into_message(),
            ApprovalSubject::Command {
                command: shown,
                workdir,
                always_prefix,
            } => CommandExecutionRequestApproval {
                proposed_execpolicy_amendment: Some(always_prefix),
                ..self.command(shown, Some(workdir), None)
            }
            .into_message(),
            ApprovalSubject::Unsandboxed {
                command: shown,
                workdir,
                blocked,
                requested,
                always_prefix,
            } => CommandExecutionRequestApproval {
                // As Codex: the rule offered lets the prefix run outside the sandbox too.
                proposed_execpolicy_amendment: Some(always_prefix),
                ..self.command(
                    shown,
                    Some(workdir),
                    Some(ApprovalSubject::unsandboxed_question(&blocked, requested)),
                )
            }
            .into_message(),
            ApprovalSubject::McpTool {
                server,
                tool,
                arguments,
            } => self
                .command(
                    format!("{server}: {tool} {arguments}")
                        .trim_end()
                        .to_string(),
                    None,
                    Some(format!(
                        "calls the tool `{tool}` of the MCP server `{server}`"
                    )),
                )
                .into_message(),
            ApprovalSubject::Network {
                host,
                port,
                via,
                workdir,
                ..
            } => self.network(&host, port, via, workdir).into_message(),
            ApprovalSubject::Read { summary, paths } => self
                .command(
                    summary,
                    None,
                    Some(format!(
                        "reads outside the project: {}",
                        ApprovalSubject::outside_paths(&paths)
                    )),
                )
                .into_message(),
        }
    }

    /// As Codex asks it: the command a host shows is `network-access` and the target, the
    /// rules it may keep are to allow or deny the host.
    fn network(
        &self,
        host: &str,
        port: u16,
        via: crate::protocol::Via,
        workdir: PathBuf,
    ) -> CommandExecutionRequestApproval {
        let scheme = match via {
            crate::protocol::Via::Http => "http",
            crate::protocol::Via::Https => "https",
            crate::protocol::Via::Socks5 => "socks5h",
        };
        CommandExecutionRequestApproval {
            network_approval_context: Some(NetworkApprovalContext {
                host: host.to_string(),
                protocol: via.into(),
            }),
            // A rule holds for the web's ports of the host, or names the other port.
            proposed_network_policy_amendments: Some(
                [
                    NetworkPolicyRuleAction::Allow,
                    NetworkPolicyRuleAction::Deny,
                ]
                .map(|action| NetworkPolicyAmendment {
                    host: crate::sandbox::proxy::rules::host_rule(host, port),
                    action,
                })
                .to_vec(),
            ),
            ..self.command(
                format!(
                    "network-access {scheme}://{}:{port}",
                    if host.contains(':') {
                        format!("[{host}]")
                    } else {
                        host.to_string()
                    }
                ),
                Some(workdir),
                Some(format!("{host} is not on allowed_domains")),
            )
        }
    }
}

/// What the core takes a host's decision for; `network`: the host the request was about. A
/// network rule is kept only for that host: one naming another is a yes or a no, this once.
fn verdict(decision: ApprovalResponseDecision, network: Option<&str>) -> Verdict {
    use ApprovalResponseDecision as Host;
    match decision {
        Host::ApplyNetworkPolicyAmendment {
            network_policy_amendment: NetworkPolicyAmendment { action, host },
        } if network.is_some_and(|asked| asked.eq_ignore_ascii_case(&host)) => {
            Verdict::Decided(match action {
                NetworkPolicyRuleAction::Allow => ApprovalDecision::AlwaysPrefix,
                NetworkPolicyRuleAction::Deny => ApprovalDecision::NeverHere,
            })
        }
        Host::Accept => Verdict::Decided(ApprovalDecision::Yes),
        // A command rule answers a command; to a question about a host it is a yes once.
        Host::AcceptWithExecpolicyAmendment { .. } if network.is_some() => {
            Verdict::Decided(ApprovalDecision::Yes)
        }
        Host::AcceptWithExecpolicyAmendment { .. } => {
            Verdict::Decided(ApprovalDecision::AlwaysPrefix)
        }
        Host::AcceptForSession => Verdict::Decided(ApprovalDecision::Always),
        Host::ApplyNetworkPolicyAmendment {
            network_policy_amendment:
                NetworkPolicyAmendment {
                    action: NetworkPolicyRuleAction::Allow,
                    ..
                },
        } => Verdict::Decided(ApprovalDecision::Yes),
        Host::Cancel => Verdict::Stop,
        Host::Decline | Host::ApplyNetworkPolicyAmendment { .. } => {
            Verdict::Decided(ApprovalDecision::No { reason: None })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A network rule is kept only for the host the request asked about; one naming another is
    /// a yes or a no this once, and a command rule answering a host is a yes once.
    #[test]
    fn a_network_rule_is_kept_only_for_the_host_asked_about() {
        use NetworkPolicyRuleAction::{Allow, Deny};
        let rule = |host: &str, action| ApprovalResponseDecision::ApplyNetworkPolicyAmendment {
            network_policy_amendment: NetworkPolicyAmendment {
                host: host.into(),
                action,
            },
        };
        let decided = |verdict: Verdict| match verdict {
            Verdict::Decided(decision) => Some(decision),
            _ => None,
        };
        let no = ApprovalDecision::No { reason: None };
        for (answer, asked, wanted) in [
            (
                rule("pypi.example", Allow),
                Some("pypi.example"),
                ApprovalDecision::AlwaysPrefix,
            ),
            (
                rule("PyPI.example", Deny),
                Some("pypi.example"),
                ApprovalDecision::NeverHere,
            ),
            (
                rule("*.example", Allow),
                Some("pypi.example"),
                ApprovalDecision::Yes,
            ),
            (rule("*.example", Deny), Some("pypi.example"), no.clone()),
            (rule("pypi.example", Allow), None, ApprovalDecision::Yes),
            (rule("pypi.example", Deny), None, no),
            (
                ApprovalResponseDecision::AcceptWithExecpolicyAmendment {
                    execpolicy_amendment: vec!["curl".into()],
                },
                Some("pypi.example"),
                ApprovalDecision::Yes,
            ),
        ] {
            assert_eq!(decided(verdict(answer, asked)), Some(wanted), "{asked:?}");
        }
    }
}
