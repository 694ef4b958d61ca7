//! What the team's agents are told, in Codex's words: the envelope of one agent's words to
//! another, what the first agent and a child are told of their team, and the namespace of tools
//! with the roles listed, and where an agent stands ([`Status`]).

use serde_json::{Value, json};

use crate::config::agents::{AgentRole, RoleSettings};
use crate::tools::collab::RoleLine;

/// Codex's envelope of one agent's words to another.
pub(super) fn envelope(kind: &str, recipient: &str, sender: &str, payload: &str) -> String {
    format!("Message Type: {kind}\nTask name: {recipient}\nSender: {sender}\nPayload:\n{payload}")
}

/// What the first agent is told about its team.
pub(super) fn root_instructions(max_threads: usize) -> String {
    format!(
        "You are `/root`, the primary agent in a team of agents collaborating to fulfill the user's goals.\n\n\
You can spawn sub-agents to handle subtasks, and those sub-agents can spawn their own sub-agents.\n\
All agents in the team, including the agents that you can assign tasks to, are equally intelligent and capable, and have access to the same set of tools.\n\n\
You can use `spawn_agent` to create a new agent, `followup_task` to give an existing agent a new task and trigger a turn, and `send_message` to pass a message to a running agent without triggering a turn.\n\
You can decide how much context you want to propagate to your sub-agents with the `fork_turns` parameter.\n\n\
You will receive messages in the form:\n```\nMessage Type: MESSAGE | FINAL_ANSWER\nTask name: <recipient>\nSender: <author>\nPayload:\n<payload text>\n```\n\n\
All agents share the same directory: edits made by one agent are immediately visible to all other agents.\n\n\
When calling `wait_agent`, prefer longer waits (minutes) to avoid busy polling.\n\n\
There are {max_threads} available concurrency slots, meaning that up to {max_threads} agents can be active at once, including you.\n\n\
Do not spawn sub-agents unless the user or applicable AGENTS.md/skill instructions explicitly ask for sub-agents, delegation, or parallel agent work."
    )
}

/// What a child is told about its team.
pub(super) const CHILD_INSTRUCTIONS: &str = "You are an agent in a team of agents collaborating to complete a task.\n\n\
You can spawn sub-agents to handle subtasks, and those sub-agents can spawn their own sub-agents. All agents in the team are equally intelligent and capable, and have access to the same set of tools.\n\n\
You can use `spawn_agent` to create a new agent, `followup_task` to give an existing agent a new task and trigger a turn, and `send_message` to pass a message to a running agent.\n\n\
Your task arrives as a `Message Type: NEW_TASK` message. When you are done, your final answer is delivered to the agent that gave you the task.";

/// What a forked child is told of the history it starts with.
pub(super) const FORKED: &str = "You are now a newly spawned child agent. The preceding conversation is inherited parent context. Follow your own role, identity, and task below; earlier identities, tasks, and action-specific approvals belong to your ancestors. Inherited tool calls are historical records; live tool sessions and process handles are not inherited. Report your result to your parent.";

/// The built-in roles, after the configured ones, as Codex lists them.
const BUILT_IN: [(&str, &str); 2] = [
    ("default", "Default agent."),
    (
        "explorer",
        "Use `explorer` for specific codebase questions.\nExplorers are fast and authoritative: they read and search, and change nothing (a read-only sandbox).\nYou are encouraged to spawn several explorers in parallel when you have distinct questions about the codebase that can be answered independently.",
    ),
];

/// The `collaboration` namespace offering `roles` (a role whose file cannot be read is offered
/// without its model, and refused with why when spawned), then the built-in ones.
pub(super) fn spec_of(roles: &[(AgentRole, Result<RoleSettings, String>)]) -> Value {
    let mut lines: Vec<RoleLine<'_>> = roles
        .iter()
        .map(|(role, settings)| {
            let settings = settings.as_ref().ok();
            RoleLine {
                name: &role.name,
                description: &role.description,
                model: settings.and_then(|s| s.model.as_deref()),
                effort: settings.and_then(|s| s.reasoning_effort.as_deref()),
            }
        })
        .collect();
    for (name, description) in BUILT_IN {
        if !roles.iter().any(|(role, _)| role.name == name) {
            lines.push(RoleLine {
                name,
                description,
                model: None,
                effort: None,
            });
        }
    }
    crate::tools::collab::spec(&lines)
}

/// Where an agent stands, in Codex's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    PendingInit,
    Running,
    Completed(Option<String>),
    Errored(String),
    Interrupted,
    Shutdown,
}

impl Status {
    /// As Codex's tools say it: `"running"`, `{"completed": "…"}`.
    pub fn to_json(&self) -> Value {
        match self {
            Self::PendingInit => json!("pending_init"),
            Self::Running => json!("running"),
            Self::Completed(text) => json!({ "completed": text }),
            Self::Errored(why) => json!({ "errored": why }),
            Self::Interrupted => json!("interrupted"),
            Self::Shutdown => json!("shutdown"),
        }
    }

    /// Whether the agent is done with its task.
    pub fn is_final(&self) -> bool {
        !matches!(self, Self::PendingInit | Self::Running)
    }
}
