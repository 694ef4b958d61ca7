//! Codex 0.171's collaboration tools (`multi_agent_v2`), with Codex's names, arguments and
//! words: one `collaboration` namespace holding `spawn_agent`, `followup_task`, `send_message`,
//! `wait_agent`, `interrupt_agent` and `list_agents`. The calls of Codex's older set
//! (`send_input`, `resume_agent`, `close_agent`, `spawn_agent` without a task name, `wait_agent`
//! on ids) are read too. What a call does is the agent core's (`agent/team.rs`); here are the
//! calls as typed values and the tools as the model is offered them.

use serde::Deserialize;
use serde_json::Value;

/// The namespace the tools are offered in, and that the model's calls carry.
pub const NAMESPACE: &str = "collaboration";

/// Every tool name of both sets.
pub const NAMES: [&str; 9] = [
    "spawn_agent",
    "followup_task",
    "send_message",
    "wait_agent",
    "interrupt_agent",
    "list_agents",
    "send_input",
    "resume_agent",
    "close_agent",
];

/// A collaboration call, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollabCall {
    /// A new agent for a task.
    Spawn(SpawnArgs),
    /// A new task for an agent: it starts a turn when the agent is idle; after its running
    /// turn is stopped, with `interrupt` (the older `send_input`).
    Followup {
        target: String,
        message: String,
        interrupt: bool,
    },
    /// A message for an agent, read at its next step; it starts no turn.
    Message { target: String, message: String },
    /// Wait for news from any agent (`targets` empty), or for these agents to finish (the
    /// older set), at most `timeout_ms`.
    Wait {
        targets: Vec<String>,
        timeout_ms: Option<u64>,
    },
    /// Stop an agent's turn; it stays for messages and tasks.
    Interrupt { target: String },
    /// The live agents, those under `path_prefix` when given.
    List { path_prefix: Option<String> },
    /// The older set: an agent closed earlier works again.
    Resume { target: String },
    /// The older set: an agent and its children end.
    Close { target: String },
}

/// What `spawn_agent` asks for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SpawnArgs {
    /// The new agent's name below its parent; `None` in the older set (kelp names it).
    #[serde(default)]
    pub task_name: Option<String>,
    pub message: String,
    #[serde(default)]
    pub agent_type: Option<String>,
    /// `all` (the default): the parent's history goes with the task; `none`: only the task.
    #[serde(default)]
    pub fork_turns: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub reasoning_effort: Option<String>,
    /// kelp's: the new agent works in a git worktree of its own.
    #[serde(default)]
    pub worktree: Option<bool>,
}

impl SpawnArgs {
    /// Whether the parent's history goes with the task.
    pub fn forks_history(&self) -> bool {
        self.fork_turns.as_deref() != Some("none")
    }
}

#[derive(Deserialize)]
struct Targeted {
    #[serde(alias = "id")]
    target: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    interrupt: bool,
}

#[derive(Deserialize)]
struct WaitArgs {
    #[serde(default, alias = "ids")]
    targets: Vec<String>,
    #[serde(default)]
    timeout_ms: Option<f64>,
}

#[derive(Deserialize)]
struct ListArgs {
    #[serde(default)]
    path_prefix: Option<String>,
}

impl CollabCall {
    /// The call of tool `name` with `arguments` (JSON); `None` when `name` is no
    /// collaboration tool. The older `send_input` with `interrupt: true` is an interrupt
    /// followed by the task, which the caller runs as a `Followup` after an `Interrupt`.
    pub fn parse(name: &str, arguments: &str) -> Option<Result<Self, String>> {
        let read = |arguments: &str| -> Result<Value, String> {
            match arguments.trim() {
                "" => Ok(Value::Object(serde_json::Map::new())),
                text => serde_json::from_str(text)
                    .map_err(|e| format!("failed to parse function arguments: {e}")),
            }
        };
        fn typed<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, String> {
            serde_json::from_value(value)
                .map_err(|e| format!("failed to parse function arguments: {e}"))
        }
        let value = match read(arguments) {
            Ok(value) => value,
            Err(e) => return NAMES.contains(&name).then_some(Err(e)),
        };
        let targeted =
            |value: Value, needs_message: bool| -> Result<(String, String, bool), String> {
                let args: Targeted = typed(value)?;
                match (args.message, needs_message) {
                    (Some(message), _) => Ok((args.target, message, args.interrupt)),
                    (None, false) => Ok((args.target, String::new(), args.interrupt)),
                    (None, true) => {
                        Err("failed to parse function arguments: missing field `message`".into())
                    }
                }
            };
        Some(match name {
            "spawn_agent" => typed(value).map(Self::Spawn),
            "followup_task" | "send_input" => {
                targeted(value, true).map(|(target, message, interrupt)| Self::Followup {
                    target,
                    message,
                    interrupt,
                })
            }
            "send_message" => {
                targeted(value, true).map(|(target, message, _)| Self::Message { target, message })
            }
            "wait_agent" => typed::<WaitArgs>(value).map(|args| Self::Wait {
                targets: args.targets,
                timeout_ms: args.timeout_ms.map(|ms| ms.max(0.0) as u64),
            }),
            "interrupt_agent" => {
                targeted(value, false).map(|(target, _, _)| Self::Interrupt { target })
            }
            "list_agents" => typed::<ListArgs>(value).map(|args| Self::List {
                path_prefix: args.path_prefix,
            }),
            "resume_agent" => targeted(value, false).map(|(target, _, _)| Self::Resume { target }),
            "close_agent" => targeted(value, false).map(|(target, _, _)| Self::Close { target }),
            _ => return None,
        })
    }

    /// The tool's name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Spawn(_) => "spawn_agent",
            Self::Followup { .. } => "followup_task",
            Self::Message { .. } => "send_message",
            Self::Wait { .. } => "wait_agent",
            Self::Interrupt { .. } => "interrupt_agent",
            Self::List { .. } => "list_agents",
            Self::Resume { .. } => "resume_agent",
            Self::Close { .. } => "close_agent",
        }
    }

    /// What the call is about, in a few words, for a face.
    pub fn summary(&self) -> String {
        let first_line = |text: &str| super::one_line(text);
        match self {
            Self::Spawn(args) => {
                let name = args.task_name.as_deref().unwrap_or("agent");
                match &args.agent_type {
                    Some(role) => format!("{name} [{role}]: {}", first_line(&args.message)),
                    None => format!("{name}: {}", first_line(&args.message)),
                }
            }
            Self::Followup {
                target, message, ..
            }
            | Self::Message { target, message } => {
                format!("{target}: {}", first_line(message))
            }
            Self::Wait { targets, .. } if targets.is_empty() => "any agent".to_string(),
            Self::Wait { targets, .. } => targets.join(", "),
            Self::List { path_prefix } => path_prefix.clone().unwrap_or_else(|| "all".into()),
            Self::Interrupt { target } | Self::Resume { target } | Self::Close { target } => {
                target.clone()
            }
        }
    }
}

/// One role the model may give an agent, as `spawn_agent`'s description lists it.
pub struct RoleLine<'a> {
    pub name: &'a str,
    pub description: &'a str,
    /// The model and effort the role sets, which the model cannot change.
    pub model: Option<&'a str>,
    pub effort: Option<&'a str>,
}

const SPAWN: &str = "Spawns an agent to work on the specified task. If your current task is `/root/task1` and you spawn_agent with task_name \"task_3\" the agent will have canonical task name `/root/task1/task_3`.\nYou are then able to refer to this agent as `task_3` or `/root/task1/task_3` interchangeably. However an agent `/root/task2/task_3` would only be able to communicate with this agent via its canonical name `/root/task1/task_3`.\nThe spawned agent will have the same tools as you and the ability to spawn its own subagents.\n\nIt will be able to send you and other running agents messages, and its final answer will be provided to you when it finishes.\nThe new agent's canonical task name will be provided to it along with the message.\n\nNote that passing `fork_turns=\"none\"` will not pass any surrounding context to the spawned subagent, which may cause the agent to lack the context it needs to complete its task, whereas `fork_turns=\"all\"` will provide the subagent with all surrounding context.";

/// The tools of the set without `spawn_agent`, as Codex 0.171 offers them.
const OTHERS: &str = r#"[
{"type":"function","name":"followup_task","description":"Send a follow-up task to an existing non-root target agent and trigger a turn if it is idle. If the target is already running, deliver the task promptly at message boundaries while sampling, or after the pending tool call completes.","strict":false,"parameters":{"type":"object","properties":{"message":{"type":"string","description":"Message text to send to the target agent."},"target":{"type":"string","description":"Agent id or canonical task name to send a follow-up task to (from spawn_agent)."}},"required":["target","message"],"additionalProperties":false}},
{"type":"function","name":"interrupt_agent","description":"Interrupt an agent's current turn, if any, and return its previous status. The agent remains available for messages and follow-up tasks.","strict":false,"parameters":{"type":"object","properties":{"target":{"type":"string","description":"Agent id or canonical task name to interrupt (from spawn_agent)."}},"required":["target"],"additionalProperties":false}},
{"type":"function","name":"list_agents","description":"List live agents in the current root thread tree. Optionally filter by task-path prefix.","strict":false,"parameters":{"type":"object","properties":{"path_prefix":{"type":"string","description":"Task-path prefix filter without a trailing slash. Omit to list all live agents."}},"additionalProperties":false}},
{"type":"function","name":"send_message","description":"Send a message to an existing agent. The message will be delivered promptly. Does not trigger a new turn.","strict":false,"parameters":{"type":"object","properties":{"message":{"type":"string","description":"Message text to queue on the target agent."},"target":{"type":"string","description":"Relative or canonical task name to message (from spawn_agent)."}},"required":["target","message"],"additionalProperties":false}},
{"type":"function","name":"wait_agent","description":"Wait for a mailbox update from any live agent, including queued messages and final-status notifications. The wait also ends early when new user input is steered into the active turn. Does not return the content; returns either a summary of which agents have updates (if any), an interruption summary for steered input, or a timeout summary if no activity arrives before the deadline.","strict":false,"parameters":{"type":"object","properties":{"timeout_ms":{"type":"number","description":"Timeout in milliseconds. Defaults to 30000, min 10000, max 3600000."}},"additionalProperties":false}}
]"#;

const SPAWN_PARAMETERS: &str = r#"{"type":"object","properties":{
"agent_type":{"type":"string"},
"fork_turns":{"type":"string","description":"Parent history to inherit. Defaults to `all`; use `none` to start without parent history. Only `all` and `none` are supported."},
"message":{"type":"string","description":"Initial plain-text task for the new agent."},
"model":{"type":"string","description":"Model override for the new agent. Omit unless an explicit override is needed."},
"reasoning_effort":{"type":"string","description":"Reasoning effort override for the new agent. Omit to inherit the parent effort."},
"task_name":{"type":"string","description":"Task name for the new agent. Use lowercase letters, digits, and underscores."},
"worktree":{"type":"boolean","description":"Run the new agent in a git worktree of its own, on a branch of its own, so agents working at once never write over each other's files; its work stays on that branch for you to merge. Omit to have it work in your folder."}
},"required":["task_name","message"],"additionalProperties":false}"#;

/// The `collaboration` namespace as the model is offered it, `spawn_agent`'s `agent_type`
/// listing `roles` with their descriptions.
pub fn spec(roles: &[RoleLine<'_>]) -> Value {
    let mut role_text = String::from(
        "Agent type override for the new agent. Omit unless explicitly asked. The selected role applies regardless of how much parent history is inherited.\nAvailable roles:",
    );
    for role in roles {
        role_text.push_str(&format!("\n{}: {{\n{}", role.name, role.description.trim()));
        match (role.model, role.effort) {
            (Some(model), Some(effort)) => role_text.push_str(&format!(
                "\n- This role's model is set to `{model}` and its reasoning effort is set to `{effort}`. These settings cannot be changed."
            )),
            (Some(model), None) => role_text.push_str(&format!(
                "\n- This role's model is set to `{model}`. This setting cannot be changed."
            )),
            _ => {}
        }
        role_text.push_str("\n}");
    }
    let mut parameters: Value = serde_json::from_str(SPAWN_PARAMETERS).unwrap_or(Value::Null);
    parameters["properties"]["agent_type"]["description"] = Value::String(role_text);
    let spawn = serde_json::json!({
        "type": "function",
        "name": "spawn_agent",
        "description": SPAWN,
        "strict": false,
        "parameters": parameters,
    });
    let mut tools: Vec<Value> = serde_json::from_str(OTHERS).unwrap_or_default();
    tools.insert(4, spawn);
    serde_json::json!({
        "type": "namespace",
        "name": NAMESPACE,
        "description": "Tools for spawning and managing sub-agents.",
        "tools": tools,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_namespace_holds_codexs_six_tools_in_its_order() {
        let spec = spec(&[RoleLine {
            name: "worker",
            description: "Small jobs.",
            model: Some("gpt-5.4-mini"),
            effort: Some("low"),
        }]);
        assert_eq!(spec["type"], "namespace");
        assert_eq!(spec["name"], "collaboration");
        let names: Vec<&str> = spec["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|tool| tool["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "followup_task",
                "interrupt_agent",
                "list_agents",
                "send_message",
                "spawn_agent",
                "wait_agent"
            ]
        );
        let roles = spec["tools"][4]["parameters"]["properties"]["agent_type"]["description"]
            .as_str()
            .unwrap();
        assert!(roles.contains("worker: {\nSmall jobs.\n- This role's model is set to `gpt-5.4-mini` and its reasoning effort is set to `low`."), "{roles}");
        assert_eq!(
            spec["tools"][4]["parameters"]["required"],
            serde_json::json!(["task_name", "message"])
        );
    }

    #[test]
    fn both_sets_of_calls_are_read() {
        let parse = |name: &str, arguments: &str| CollabCall::parse(name, arguments).unwrap();
        assert_eq!(
            parse("followup_task", r#"{"target":"alpha","message":"more"}"#),
            Ok(CollabCall::Followup {
                target: "alpha".into(),
                message: "more".into(),
                interrupt: false
            })
        );
        assert_eq!(
            parse(
                "send_input",
                r#"{"id":"abc","message":"more","interrupt":true}"#
            ),
            Ok(CollabCall::Followup {
                target: "abc".into(),
                message: "more".into(),
                interrupt: true
            })
        );
        assert_eq!(
            parse("wait_agent", r#"{"timeout_ms": 2500.5}"#),
            Ok(CollabCall::Wait {
                targets: vec![],
                timeout_ms: Some(2500)
            })
        );
        assert_eq!(
            parse("wait_agent", r#"{"ids":["a","b"]}"#),
            Ok(CollabCall::Wait {
                targets: vec!["a".into(), "b".into()],
                timeout_ms: None
            })
        );
        assert_eq!(
            parse("list_agents", ""),
            Ok(CollabCall::List { path_prefix: None })
        );
        let Ok(CollabCall::Spawn(args)) = parse(
            "spawn_agent",
            r#"{"task_name":"a","message":"m","fork_turns":"none"}"#,
        ) else {
            panic!("a spawn");
        };
        assert!(!args.forks_history());
        assert!(
            parse("send_message", r#"{"target":"a"}"#)
                .unwrap_err()
                .contains("message")
        );
        assert!(parse("spawn_agent", "{not json").is_err());
        assert_eq!(CollabCall::parse("read_file", "{}"), None);
    }
}
