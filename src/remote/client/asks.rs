//! What the server asks of the person (a command or a patch to approve, the model's questions),
//! put to them as the core puts it, and their answer sent back in Codex's words.

use serde_json::{Value, json};

use super::{Remote, Waiting, WaitingKind};
use crate::protocol::{ApprovalDecision, ApprovalSubject, Event};
use crate::wire::{
    self, ApprovalResponse, ApprovalResponseDecision as Decision, NetworkPolicyAmendment,
    NetworkPolicyRuleAction, ReadError, ServerAsk,
};

impl Remote {
    pub(super) fn on_request(&mut self, request: Value, method: &str, params: Value) {
        let asked = match ServerAsk::read(method, params) {
            Ok(asked) => asked,
            Err(ReadError::UnknownMethod(method)) => {
                return self.refuse(request, &format!("{method} is not something kelp answers"));
            }
            Err(e @ ReadError::Malformed { .. }) => {
                tracing::warn!(error = %e, "an app-server request not understood");
                return self.refuse(request, "the request's params were not understood");
            }
        };
        self.next_wait += 1;
        let id = self.next_wait;
        match asked {
            ServerAsk::CommandExecutionRequestApproval(asked) => {
                self.command_approval(id, request, *asked)
            }
            ServerAsk::FileChangeRequestApproval(asked) => {
                let changes = self.calls.changes_of(&asked.item_id);
                let diff = changes.iter().map(|c| c.diff.as_str()).collect::<String>();
                self.waiting.insert(
                    id,
                    Waiting {
                        request,
                        kind: WaitingKind::Patch,
                    },
                );
                self.emit(Event::ApprovalRequested {
                    id,
                    call_id: asked.item_id,
                    subject: ApprovalSubject::Patch { diff, changes },
                    agent: self.calls.agent_of(&asked.thread_id),
                });
            }
            ServerAsk::ToolRequestUserInput(asked) => {
                self.waiting.insert(
                    id,
                    Waiting {
                        request,
                        kind: WaitingKind::Questions,
                    },
                );
                let questions = asked
                    .questions
                    .into_iter()
                    .map(|q| crate::protocol::Question {
                        id: q.id,
                        header: q.header,
                        question: q.question,
                        options: q.options,
                    })
                    .collect();
                self.emit(Event::QuestionsAsked {
                    id,
                    call_id: asked.item_id,
                    questions,
                });
            }
        }
    }

    /// A command to approve: a plain one, one to run outside the sandbox, or a host it asks to
    /// reach.
    fn command_approval(
        &mut self,
        id: u64,
        request: Value,
        asked: wire::CommandExecutionRequestApproval,
    ) {
        let command = asked.command.unwrap_or_default();
        let workdir = asked.cwd.unwrap_or_else(|| self.wanted.project_dir.clone());
        let prefix = asked.proposed_execpolicy_amendment.flatten();
        let mut kind = WaitingKind::Command {
            prefix: prefix.clone(),
        };
        let subject = match (asked.network_approval_context, asked.reason) {
            (Some(network), _) => {
                kind = WaitingKind::Network {
                    host: network.host.clone(),
                };
                // The running command the host asks for, where this client saw it
                // start; else the `network-access` target Codex asks with.
                ApprovalSubject::Network {
                    port: network.port(&command),
                    via: network.protocol.into(),
                    host: network.host,
                    command: self.calls.command_of(&asked.item_id).unwrap_or(command),
                    workdir,
                }
            }
            (None, Some(reason)) if reason.contains("sandbox") => {
                // kelp's server says which: its own words about a refusal, or the
                // model's ask in its words.
                let (blocked, requested) = match (
                    reason.strip_suffix("; run it again without the sandbox?"),
                    reason.strip_prefix("the model asks to run this outside the sandbox, saying: "),
                ) {
                    (Some(refusal), _) => (refusal.to_string(), false),
                    (None, Some(words)) => (words.to_string(), true),
                    (None, None) => (reason, true),
                };
                ApprovalSubject::Unsandboxed {
                    command,
                    workdir,
                    blocked,
                    requested,
                    always_prefix: prefix,
                }
            }
            (None, _) => ApprovalSubject::Command {
                command,
                workdir,
                always_prefix: prefix,
            },
        };
        self.waiting.insert(id, Waiting { request, kind });
        self.emit(Event::ApprovalRequested {
            id,
            call_id: asked.item_id,
            subject,
            agent: self.calls.agent_of(&asked.thread_id),
        });
    }

    fn refuse(&mut self, request: Value, message: &str) {
        self.outgoing.push(json!({
            "jsonrpc": "2.0",
            "id": request,
            "error": {"code": -32601, "message": message},
        }));
    }

    /// The person's answer to an approval, as the server reads it.
    pub(super) fn decide(&mut self, id: u64, decision: ApprovalDecision) {
        let Some(waiting) = self.waiting.remove(&id) else {
            self.emit(Event::Error(format!("no approval request {id} is waiting")));
            return;
        };
        let host_rule = |host: &String, action| Decision::ApplyNetworkPolicyAmendment {
            network_policy_amendment: NetworkPolicyAmendment {
                host: host.clone(),
                action,
            },
        };
        let decision = match (decision, &waiting.kind) {
            (ApprovalDecision::Yes, _) => Decision::Accept,
            (ApprovalDecision::Always, _) => Decision::AcceptForSession,
            (
                ApprovalDecision::AlwaysPrefix,
                WaitingKind::Command {
                    prefix: Some(prefix),
                },
            ) => Decision::AcceptWithExecpolicyAmendment {
                execpolicy_amendment: prefix.clone(),
            },
            (ApprovalDecision::AlwaysPrefix, WaitingKind::Network { host }) => {
                host_rule(host, NetworkPolicyRuleAction::Allow)
            }
            (ApprovalDecision::AlwaysPrefix, _) => Decision::AcceptForSession,
            (ApprovalDecision::NeverHere, WaitingKind::Network { host }) => {
                host_rule(host, NetworkPolicyRuleAction::Deny)
            }
            (ApprovalDecision::NeverHere, _) | (ApprovalDecision::No { .. }, _) => {
                Decision::Decline
            }
        };
        self.answer(waiting.request, &ApprovalResponse { decision });
    }
}
