//! Canned conversations for replies nobody scripted: what the standalone server answers.

use serde_json::{Value, json};

use super::Reply;
use super::reply::echo_markdown;

/// How the fake answers a `/responses` request when no [`Reply`] is queued.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scenario {
    /// A Markdown reply echoing the last user message ([`Reply::echo`]).
    #[default]
    Echo,
    /// A reasoning summary, then the echo.
    Reasoning,
    /// 1 MiB of text in 16-byte deltas.
    Large,
    /// Calls `read_file` once, then answers with what the tool returned.
    Tool,
    /// Runs the prompt as a `shell` command, then answers with what it printed.
    Shell,
    /// A day's work in one prompt: runs it as a `shell` command, writes what it printed to
    /// `kelp-notes.md` with `apply_patch`, then answers (a command and a patch to approve). A
    /// prompt that starts with `search ` is answered as [`Scenario::Search`] answers it.
    Coding,
    /// Calls the MCP tool `tests__echo` (the test MCP server named `tests`) with the prompt,
    /// then answers with what it returned.
    Mcp,
    /// Searches the web for the prompt with the Responses API's own tool when the request
    /// offers it (saying whether live or cached), then answers; says so when it is not offered.
    Search,
    /// Works toward a goal: each turn the client starts toward it (a request offering
    /// `update_goal`) answers with a step done, and the third marks it complete; a prompt is
    /// echoed.
    Goal,
    /// A team at work (Codex's collaboration tools): the prompt spawns two agents, `reader`
    /// (answers at once) and `builder` (runs `touch team-notes.md`, a command to approve), waits
    /// for both, then answers with what they said.
    Team,
}

impl Scenario {
    /// Parses a scenario name (`echo`, `reasoning`, `large`, `tool`, `shell`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "echo" => Some(Self::Echo),
            "reasoning" => Some(Self::Reasoning),
            "large" => Some(Self::Large),
            "tool" => Some(Self::Tool),
            "shell" => Some(Self::Shell),
            "mcp" => Some(Self::Mcp),
            "coding" => Some(Self::Coding),
            "search" => Some(Self::Search),
            "goal" => Some(Self::Goal),
            "team" => Some(Self::Team),
            _ => None,
        }
    }

    /// The reply to the request `body`.
    pub fn reply(self, body: &Value) -> Reply {
        let user = last_user_text(body);
        // kelp's auto-reviewer (`--approve-for-me`), in every scenario: it denies what deletes
        // or fetches (`rm `, `curl`), and allows the rest.
        if body["instructions"]
            .as_str()
            .is_some_and(|text| text.starts_with("You review one action"))
        {
            let action = user
                .rsplit("# The action to judge")
                .next()
                .unwrap_or_default();
            let risky = action.contains("rm ") || action.contains("curl");
            return Reply::text(if risky {
                r#"{"risk_level":"high","user_authorization":"low","outcome":"deny","rationale":"it deletes or fetches what the user did not ask for"}"#
            } else {
                r#"{"risk_level":"low","user_authorization":"high","outcome":"allow","rationale":"the user asked for exactly this"}"#
            });
        }
        // In plan mode (a client that says so in its instructions), every scenario plans.
        if body["instructions"]
            .as_str()
            .is_some_and(|text| text.contains("# Plan mode"))
        {
            return match last_tool_output(body) {
                Some(_) => Reply::text(format!(
                    "Here is the plan.\n\n<proposed_plan>\n1. Read what `{user}` touches.\n\
                     2. Make the change.\n3. Run the tests.\n</proposed_plan>"
                )),
                None => Reply::text("Planning it.").and_call(
                    "update_plan",
                    json!({"plan": [
                        {"step": "Read the code", "status": "completed"},
                        {"step": "Make the change", "status": "pending"},
                        {"step": "Run the tests", "status": "pending"}
                    ]}),
                ),
            };
        }
        match self {
            Self::Echo => Reply::echo(&user),
            Self::Reasoning => {
                Reply::reasoning("Reading the message and preparing a friendly echo.")
                    .and_text(echo_markdown(&user))
            }
            Self::Large => Reply::large(1 << 20),
            Self::Tool => match last_tool_output(body) {
                Some(output) => Reply::text(format!(
                    "The file starts with:\n\n```\n{}\n```\n",
                    output.lines().take(8).collect::<Vec<_>>().join("\n")
                )),
                None => Reply::text("Let me look at the README first.")
                    .and_call("read_file", read_file_arguments(body, "README.md")),
            },
            Self::Shell => match last_tool_output(body) {
                Some(output) => Reply::text(format!(
                    "The command said:\n\n```\n{}\n```\n",
                    output.lines().take(12).collect::<Vec<_>>().join("\n")
                )),
                // `outside WHY -- COMMAND`: the model asks to run COMMAND outside the sandbox,
                // saying WHY (to try that question).
                None => match user
                    .strip_prefix("outside ")
                    .and_then(|rest| rest.split_once(" -- "))
                {
                    Some((why, command)) => Reply::text("Running it outside.").and_call(
                        "shell",
                        json!({ "command": command, "sandbox_permissions": "require_escalated",
                                "justification": why }),
                    ),
                    None => {
                        Reply::text("Running it.").and_call("shell", json!({ "command": user }))
                    }
                },
            },
            // The tools as the client declares them: kelp's `shell`, or Codex's `exec_command` (or
            // `shell_command`) and its freeform `apply_patch`, so the same scenario drives either.
            Self::Coding if user.starts_with("search ") => Self::Search.reply(body),
            Self::Coding => match (tool_outputs_since_user(body), last_tool_output(body)) {
                (0, _) if declares(body, "exec_command") => {
                    Reply::text("Running it.").and_call("exec_command", json!({ "cmd": user }))
                }
                (0, _) if declares(body, "shell_command") => {
                    Reply::text("Running it.").and_call("shell_command", json!({ "command": user }))
                }
                (0, _) => Reply::text("Running it.").and_call("shell", json!({ "command": user })),
                (1, Some(output)) => {
                    let printed = output.trim_end().lines().last().unwrap_or_default();
                    let patch = format!(
                        "*** Begin Patch\n*** Add File: kelp-notes.md\n+{printed}\n*** End Patch\n"
                    );
                    let reply = Reply::text("Writing it down.");
                    if declares_custom(body, "apply_patch") {
                        reply.and_custom_call("apply_patch", patch)
                    } else {
                        reply.and_call("apply_patch", json!({ "input": patch }))
                    }
                }
                _ => Reply::text("Done: the command ran, and what it printed is in kelp-notes.md."),
            },
            Self::Search => match web_search_tool(body) {
                Some(tool) => {
                    let how = if tool["external_web_access"] == true {
                        "live"
                    } else {
                        "cached"
                    };
                    Reply::web_search(&user)
                        .and_text(format!("Searched the web ({how}) for: {user}"))
                }
                None => Reply::text("Web search is off: I answer from what I know."),
            },
            Self::Team => team_reply(body),
            Self::Goal => match last_tool_output(body) {
                Some(_) => Reply::text("The goal is met: every step is done."),
                None if !declares(body, "update_goal") => Reply::echo(&user),
                None => match continuations(body) {
                    turn if turn >= 3 => Reply::text("The last step is done.")
                        .and_call("update_goal", json!({ "status": "complete" })),
                    turn => Reply::text(format!("Step {turn} of the goal is done.")),
                },
            },
            Self::Mcp => match last_tool_output(body) {
                Some(output) => Reply::text(format!("The MCP tool said: {output}")),
                None => Reply::text("Asking the MCP server.")
                    .and_call("tests__echo", json!({ "text": user })),
            },
        }
    }
}

/// The text of the last user message in `input` (string content or `input_text` parts).
pub fn last_user_text(body: &Value) -> String {
    let Some(input) = body["input"].as_array() else {
        return body["input"].as_str().unwrap_or_default().to_string();
    };
    input
        .iter()
        .rev()
        .find(|item| item["role"] == "user")
        .map(|item| match &item["content"] {
            Value::String(text) => text.clone(),
            // Codex wraps an image in text parts of its own (`<image>` … `</image>`).
            Value::Array(parts) => parts
                .iter()
                .filter_map(|part| part["text"].as_str())
                .filter(|text| {
                    let text = text.trim_start();
                    !text.starts_with("<image") && !text.starts_with("</image")
                })
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        })
        .unwrap_or_default()
}

/// How many messages of the client's own (developer messages) the conversation holds: the
/// turns it started toward a goal.
fn continuations(body: &Value) -> usize {
    body["input"].as_array().map_or(0, |input| {
        input
            .iter()
            .filter(|item| item["role"] == "developer")
            .count()
    })
}

/// How many tool outputs came since the last user message.
fn tool_outputs_since_user(body: &Value) -> usize {
    body["input"].as_array().map_or(0, |input| {
        input
            .iter()
            .rev()
            .take_while(|item| item["role"] != "user")
            .filter(|item| {
                item["type"] == "function_call_output" || item["type"] == "custom_tool_call_output"
            })
            .count()
    })
}

/// Whether the request declares a tool named `name`.
fn declares(body: &Value, name: &str) -> bool {
    body["tools"]
        .as_array()
        .is_some_and(|tools| tools.iter().any(|tool| tool["name"] == name))
}

/// The request's native web search tool, if it offers one.
fn web_search_tool(body: &Value) -> Option<&Value> {
    body["tools"]
        .as_array()?
        .iter()
        .find(|tool| tool["type"] == "web_search")
}

/// Whether the request declares `name` as a freeform (custom) tool.
fn declares_custom(body: &Value, name: &str) -> bool {
    body["tools"].as_array().is_some_and(|tools| {
        tools
            .iter()
            .any(|tool| tool["name"] == name && tool["type"] == "custom")
    })
}

/// The output of the last input item when it is a `function_call_output`.
/// The team scenario's answer: a child's by its task, the parent's by how far its prompt got.
fn team_reply(body: &Value) -> Reply {
    let input = body["input"].as_array().cloned().unwrap_or_default();
    let text_of = |item: &Value| {
        item["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    // What came since the person's last prompt (mail from agents is not a prompt).
    let since = input
        .iter()
        .rposition(|item| {
            item["role"] == "user"
                && !text_of(item).starts_with("Message Type:")
                && !text_of(item).starts_with('<')
        })
        .map_or(&input[..], |at| &input[at..]);
    let task = since
        .iter()
        .map(text_of)
        .find(|text| text.starts_with("Message Type: NEW_TASK"));
    if let Some(task) = task {
        let name = task
            .lines()
            .nth(1)
            .and_then(|line| line.strip_prefix("Task name: "))
            .unwrap_or("agent")
            .to_string();
        let command = task.lines().find_map(|line| line.strip_prefix("run: "));
        return match (command, last_tool_output(body)) {
            (Some(command), None) => Reply::call("shell", json!({"command": command})),
            _ => Reply::text(format!("{name} is done.")),
        };
    }
    let answers = since
        .iter()
        .map(text_of)
        .filter(|text| text.starts_with("Message Type: FINAL_ANSWER"))
        .count();
    let spawned = since
        .iter()
        .any(|item| item["type"] == "function_call" && item["name"] == "spawn_agent");
    if !spawned {
        return Reply::text("Two agents will take this.")
            .and_call(
                "spawn_agent",
                json!({"task_name": "reader", "message": "Read the README and say what it is.", "fork_turns": "none"}),
            )
            .and_call(
                "spawn_agent",
                json!({"task_name": "builder", "message": "Leave a note.\nrun: touch team-notes.md", "fork_turns": "none"}),
            );
    }
    if answers < 2 {
        return Reply::call("wait_agent", json!({"timeout_ms": 600000}));
    }
    Reply::text("Both agents answered: the reader read the README, the builder left team-notes.md.")
}

fn last_tool_output(body: &Value) -> Option<String> {
    let last = body["input"].as_array()?.last()?;
    if last["type"] != "function_call_output" && last["type"] != "custom_tool_call_output" {
        return None;
    }
    Some(match &last["output"] {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    })
}

/// Arguments for the client's `read_file` tool: the path goes in whichever of `file_path` or
/// `path` its schema declares.
fn read_file_arguments(body: &Value, path: &str) -> Value {
    let declares = |field: &str| {
        body["tools"].as_array().is_some_and(|tools| {
            tools.iter().any(|tool| {
                tool["name"] == "read_file" && !tool["parameters"]["properties"][field].is_null()
            })
        })
    };
    if declares("file_path") && !declares("path") {
        json!({ "file_path": path })
    } else {
        json!({ "path": path })
    }
}
