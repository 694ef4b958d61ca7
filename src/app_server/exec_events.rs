//! Core events as the JSON lines of Codex's `exec --experimental-json`, which the TypeScript
//! SDK (`@openai/codex-sdk`) reads: `thread.started`, `turn.started`, `item.started` /
//! `item.updated` / `item.completed`, `turn.completed` with the turn's usage, `turn.failed`,
//! `error`. Codex's own exec makes them from its app-server's notifications; so does this,
//! from the [`Translator`] the app-server uses, so a tool call is the same item on both faces.
//! Pure, as the translator is: no I/O.
//!
//! The shapes, checked against `codex exec --experimental-json` 0.169: items are numbered
//! `item_0`, `item_1`, … in the order they first show; an answer or a reasoning summary is
//! only completed; a command, a patch and an MCP call start and complete; the plan is one
//! `todo_list` item, started, updated and completed with the turn; a retry is an `error` event
//! (`Reconnecting... 2/5 (…)`) and a warning an `error` item.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use super::items::Translator;
use super::shapes::Outgoing;
use crate::protocol::TokenUsage;
use crate::protocol::{Event, Line};
use crate::wire::{
    ItemStatus, Message, PatchChangeKind, PlanStepStatus, ServerNotification, ThreadItem, Turn,
    TurnStatus,
};

/// One line of `exec --experimental-json`, as the TypeScript SDK's `ThreadEvent` reads it (and
/// kelp's own streaming pieces, for `kelp run --json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum ExecEvent {
    #[serde(rename = "thread.started")]
    ThreadStarted { thread_id: String },
    #[serde(rename = "turn.started")]
    TurnStarted,
    #[serde(rename = "item.started")]
    ItemStarted { item: ExecItem },
    #[serde(rename = "item.updated")]
    ItemUpdated { item: ExecItem },
    #[serde(rename = "item.completed")]
    ItemCompleted { item: ExecItem },
    #[serde(rename = "turn.completed")]
    TurnCompleted { usage: ExecUsage },
    #[serde(rename = "turn.failed")]
    TurnFailed { error: Message },
    /// A retry (`Reconnecting... 2/5 (…)`), or the failure.
    #[serde(rename = "error")]
    Error { message: String },
    #[serde(rename = "text.delta")]
    TextDelta { item_id: String, delta: String },
    #[serde(rename = "reasoning.delta")]
    ReasoningDelta { item_id: String, delta: String },
    /// The items a retry voids: it streams them again.
    #[serde(rename = "retrying")]
    Retrying { voided: Vec<String> },
    #[serde(rename = "compacted")]
    Compacted { tokens_before: u64, automatic: bool },
}

/// An item under its exec id (`item_N`), the id first as Codex writes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecItem {
    pub id: String,
    #[serde(flatten)]
    pub details: ExecDetails,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExecDetails {
    AgentMessage {
        text: String,
    },
    Reasoning {
        text: String,
    },
    CommandExecution {
        command: String,
        aggregated_output: String,
        exit_code: Option<i32>,
        status: &'static str,
    },
    FileChange {
        changes: Vec<ExecChange>,
        status: &'static str,
    },
    McpToolCall(Box<McpCall>),
    TodoList {
        items: Vec<TodoItem>,
    },
    /// A warning the turn goes on after.
    Error {
        message: String,
    },
    /// A web search of the model's; its action as the Responses API says it.
    WebSearch {
        query: String,
        action: crate::protocol::WebSearchAction,
    },
    /// A collaboration call Codex shows (its `wait`).
    CollabToolCall {
        tool: String,
        sender_thread_id: String,
        receiver_thread_ids: Vec<String>,
        prompt: Option<String>,
        agents_states: serde_json::Map<String, Value>,
        status: &'static str,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct McpCall {
    pub server: String,
    pub tool: String,
    pub arguments: Value,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<McpResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Message>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecChange {
    pub path: PathBuf,
    pub kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct McpResult {
    pub content: Vec<crate::wire::TextContent>,
    pub structured_content: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TodoItem {
    pub text: String,
    pub completed: bool,
}

/// The turn's usage as the SDK's `Usage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ExecUsage {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub cache_write_input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_output_tokens: u64,
}

/// The translation state of one `exec` run.
#[derive(Debug)]
pub struct ExecEvents {
    thread_id: String,
    translator: Translator,
    turn_id: String,
    /// Each item's exec id (`item_N`) by the id the translator gave it.
    ids: HashMap<String, String>,
    /// How many exec ids were given.
    given: usize,
    /// What each tool call printed, for an MCP call's result.
    outputs: HashMap<String, String>,
    /// The plan of this turn: its item id and its steps as the last update had them.
    todo: Option<(String, Vec<TodoItem>)>,
    /// The conversation's usage when the turn started, and now.
    usage_before: TokenUsage,
    usage: TokenUsage,
    /// Also what Codex leaves out (`kelp run --json`): `text.delta` and `reasoning.delta` under
    /// the id of the item they build, `retrying` with the items it voids, `compacted`.
    deltas: bool,
    /// The text of the last answer completed.
    last_message: Option<String>,
}

impl ExecEvents {
    /// Nothing said yet of thread `thread_id` working in `cwd`; `deltas` adds kelp's streaming
    /// pieces.
    pub fn new(thread_id: &str, cwd: PathBuf, deltas: bool) -> Self {
        Self {
            thread_id: thread_id.to_string(),
            translator: Translator::new(thread_id.to_string(), cwd),
            turn_id: String::new(),
            ids: HashMap::new(),
            given: 0,
            outputs: HashMap::new(),
            todo: None,
            usage_before: TokenUsage::default(),
            usage: TokenUsage::default(),
            deltas,
            last_message: None,
        }
    }

    /// The first line: the thread a later `exec resume` continues.
    pub fn thread_started(&self) -> ExecEvent {
        ExecEvent::ThreadStarted {
            thread_id: self.thread_id.clone(),
        }
    }

    /// The text of the turn's last answer, for `--output-last-message`.
    pub fn last_message(&self) -> Option<&str> {
        self.last_message.as_deref()
    }

    /// The lines `event` makes, appended to `out`.
    pub fn on_event(&mut self, event: Event, out: &mut Vec<ExecEvent>) {
        if !self.own_lines(&event, out) {
            return;
        }
        let turn_id = self.turn_id.clone();
        let mut notes = Vec::new();
        self.translator.on_event(&turn_id, event, 0, &mut notes);
        for note in notes {
            match note {
                Outgoing::Started(started) => {
                    if let Some(item) = self.item(&started.item, false) {
                        out.push(ExecEvent::ItemStarted { item });
                    }
                }
                Outgoing::Completed(completed) => {
                    if let Some(item) = self.item(&completed.item, true) {
                        out.push(ExecEvent::ItemCompleted { item });
                    }
                }
                Outgoing::Notify(notification) => self.on_notification(notification, out),
                // The deltas, written as lines already: exec takes them from the core's events.
                Outgoing::Line(_) => {}
            }
        }
    }

    /// The lines exec makes of `event` itself, before the items the app-server's translator
    /// makes of it; `false` when the translator is not to see it.
    fn own_lines(&mut self, event: &Event, out: &mut Vec<ExecEvent>) -> bool {
        let Some(line) = event.line() else {
            return true;
        };
        match line {
            Line::TurnStarted { id } => {
                self.turn_id = id.to_string();
                self.usage_before = self.usage;
                self.last_message = None;
                out.push(ExecEvent::TurnStarted);
            }
            Line::Usage(total) => self.usage = *total,
            Line::Text { item, delta } => {
                if self.deltas {
                    let item_id = self.exec_id(item);
                    out.push(ExecEvent::TextDelta {
                        item_id,
                        delta: delta.to_string(),
                    });
                }
                return false;
            }
            Line::Reasoning { item, delta } if self.deltas => {
                let item_id = self.exec_id(item);
                out.push(ExecEvent::ReasoningDelta {
                    item_id,
                    delta: delta.to_string(),
                });
            }
            Line::ToolOutput { call_id, chunk } => self
                .outputs
                .entry(call_id.to_string())
                .or_default()
                .push_str(chunk),
            Line::Retrying {
                attempt,
                max,
                reason,
                voided,
            } => {
                out.push(ExecEvent::Error {
                    message: format!("{} ({reason})", crate::protocol::reconnecting(attempt, max)),
                });
                if self.deltas {
                    let voided = voided.iter().map(|id| self.exec_id(id)).collect();
                    out.push(ExecEvent::Retrying { voided });
                }
                return false;
            }
            Line::Notice(message) | Line::RunsLater(message) => {
                out.push(self.error_item(message));
            }
            Line::Compacted { before, automatic } if self.deltas => {
                out.push(ExecEvent::Compacted {
                    tokens_before: before,
                    automatic,
                });
            }
            // No line of exec's own (the streaming pieces too, when not `deltas`): the items
            // the app-server's translator makes of these still show below.
            Line::Reasoning { .. }
            | Line::Compacted { .. }
            | Line::Attached(_)
            | Line::MessageDone { .. }
            | Line::ToolStarted { .. }
            | Line::ToolFinished { .. }
            | Line::WebSearchDone { .. }
            | Line::Error(_)
            // As Codex's exec: a review shows only as its call's item, declined or run.
            | Line::Reviewed(_)
            | Line::TurnFinished(_) => {}
        }
        true
    }

    /// The lines a notification makes: the plan as a to-do list, a warning, the failure a turn
    /// ends with (retries are said from the core's event), the turn's end.
    fn on_notification(&mut self, notification: ServerNotification, out: &mut Vec<ExecEvent>) {
        use crate::wire::TurnNote;
        use ServerNotification as Note;
        match notification {
            Note::Turn(TurnNote::TurnPlanUpdated(plan)) => {
                let steps: Vec<TodoItem> = plan
                    .plan
                    .into_iter()
                    .map(|step| TodoItem {
                        text: step.step,
                        completed: step.status == PlanStepStatus::Completed,
                    })
                    .collect();
                let (id, updated) = match &self.todo {
                    Some((id, _)) => (id.clone(), true),
                    None => (self.next_id(), false),
                };
                let item = ExecItem {
                    id: id.clone(),
                    details: ExecDetails::TodoList {
                        items: steps.clone(),
                    },
                };
                out.push(if updated {
                    ExecEvent::ItemUpdated { item }
                } else {
                    ExecEvent::ItemStarted { item }
                });
                self.todo = Some((id, steps));
            }
            Note::Turn(TurnNote::TurnErrorNotification(failed)) if !failed.will_retry => {
                out.push(ExecEvent::Error {
                    message: failed.error.message,
                });
            }
            Note::Turn(TurnNote::TurnCompleted(done)) => self.turn_completed(done.turn, out),
            Note::Said(said) => out.push(self.error_item(said.words())),
            // Nothing of exec's own: its items come as `Outgoing::Started` and `Completed`, its
            // pieces and retries from the core's events; a thread's keeping, the account and a
            // host's commands are not exec's.
            Note::Turn(_) | Note::Thread(_) | Note::Account(_) | Note::Host(_) => {}
        }
    }

    /// The turn's end: the to-do list completes, then the turn, with its usage or its failure.
    fn turn_completed(&mut self, turn: Turn, out: &mut Vec<ExecEvent>) {
        if let Some((id, items)) = self.todo.take() {
            let item = ExecItem {
                id,
                details: ExecDetails::TodoList { items },
            };
            out.push(ExecEvent::ItemCompleted { item });
        }
        out.push(match turn.status {
            TurnStatus::Completed => ExecEvent::TurnCompleted {
                usage: self.turn_usage(),
            },
            TurnStatus::Interrupted => ExecEvent::TurnFailed {
                error: Message::new("the turn was interrupted"),
            },
            TurnStatus::Failed | TurnStatus::InProgress | TurnStatus::Unknown => {
                ExecEvent::TurnFailed {
                    error: turn
                        .error
                        .unwrap_or_else(|| Message::new("the turn failed")),
                }
            }
        });
    }

    /// An app-server item as exec shows it (`completed`: as it ends), if exec shows it then.
    fn item(&mut self, item: &ThreadItem, completed: bool) -> Option<ExecItem> {
        let (v2_id, details) = match item {
            ThreadItem::AgentMessage { id, text } if completed => {
                self.last_message = Some(text.clone());
                (id, ExecDetails::AgentMessage { text: text.clone() })
            }
            ThreadItem::Reasoning { id, summary, .. } if completed => {
                let text = summary.join("\n\n");
                if text.is_empty() {
                    return None;
                }
                (id, ExecDetails::Reasoning { text })
            }
            ThreadItem::CommandExecution {
                id,
                command,
                aggregated_output,
                exit_code,
                status,
                ..
            } => (
                id,
                ExecDetails::CommandExecution {
                    command: command.clone(),
                    aggregated_output: aggregated_output.clone().unwrap_or_default(),
                    exit_code: *exit_code,
                    status: shown(*status),
                },
            ),
            ThreadItem::FileChange {
                id,
                changes,
                status,
            } => (id, file_change(changes, *status, completed)),
            ThreadItem::McpToolCall {
                id,
                server,
                tool,
                arguments,
                status,
                error,
                ..
            } => {
                let done = completed && *status == ItemStatus::Completed;
                let result = done.then(|| McpResult {
                    content: vec![crate::wire::TextContent::new(
                        self.outputs.remove(id).unwrap_or_default(),
                    )],
                    structured_content: None,
                });
                let call = McpCall {
                    server: server.clone(),
                    tool: tool.clone(),
                    arguments: arguments.clone(),
                    status: shown(*status),
                    result,
                    error: error.clone().filter(|_| !done),
                };
                (id, ExecDetails::McpToolCall(Box::new(call)))
            }
            ThreadItem::WebSearch { id, query, action } => (
                id,
                ExecDetails::WebSearch {
                    query: query.clone(),
                    action: model_action(action.clone()),
                },
            ),
            ThreadItem::CollabAgentToolCall {
                id,
                tool,
                status,
                sender_thread_id,
                receiver_thread_ids,
                prompt,
                agents_states,
                ..
            } => (
                id,
                ExecDetails::CollabToolCall {
                    tool: tool.clone(),
                    sender_thread_id: sender_thread_id.clone(),
                    receiver_thread_ids: receiver_thread_ids.clone(),
                    prompt: prompt.clone(),
                    agents_states: agents_states.clone(),
                    status: shown(*status),
                },
            ),
            _ => return None,
        };
        if completed {
            self.outputs.remove(v2_id);
        }
        Some(ExecItem {
            id: self.exec_id(v2_id),
            details,
        })
    }

    /// An `error` item: a warning the turn goes on after.
    fn error_item(&mut self, message: &str) -> ExecEvent {
        ExecEvent::ItemCompleted {
            item: ExecItem {
                id: self.next_id(),
                details: ExecDetails::Error {
                    message: message.to_string(),
                },
            },
        }
    }

    /// The exec id of the item the core or translator calls `id`, given on first sight.
    fn exec_id(&mut self, id: &str) -> String {
        if let Some(known) = self.ids.get(id) {
            return known.clone();
        }
        let fresh = self.next_id();
        self.ids.insert(id.to_string(), fresh.clone());
        fresh
    }

    fn next_id(&mut self) -> String {
        let id = format!("item_{}", self.given);
        self.given += 1;
        id
    }

    /// The turn's usage as the SDK's `Usage`.
    fn turn_usage(&self) -> ExecUsage {
        let turn = self.usage.minus(&self.usage_before);
        ExecUsage {
            input_tokens: turn.input_tokens,
            cached_input_tokens: turn.cached_input_tokens,
            cache_write_input_tokens: 0,
            output_tokens: turn.output_tokens,
            reasoning_output_tokens: turn.reasoning_output_tokens,
        }
    }
}

/// An item's status in exec's words.
fn shown(status: ItemStatus) -> &'static str {
    match status {
        ItemStatus::InProgress => "in_progress",
        ItemStatus::Completed => "completed",
        ItemStatus::Failed | ItemStatus::Declined | ItemStatus::Unknown => "failed",
    }
}

/// A patch's item: each file and what was done to it.
fn file_change(
    changes: &[crate::wire::FileUpdateChange],
    status: ItemStatus,
    completed: bool,
) -> ExecDetails {
    let changes = changes
        .iter()
        .map(|change| ExecChange {
            path: change.path.clone(),
            kind: match change.kind {
                PatchChangeKind::Add => "add",
                PatchChangeKind::Delete => "delete",
                PatchChangeKind::Update { .. } => "update",
            },
        })
        .collect();
    // A patch still open as its item ends never applied.
    let status = match status {
        ItemStatus::InProgress if completed => "failed",
        other => shown(other),
    };
    ExecDetails::FileChange { changes, status }
}

/// A web search's action as the contract has it.
fn model_action(action: Option<crate::wire::WebSearchAction>) -> crate::protocol::WebSearchAction {
    use crate::protocol::WebSearchAction as Model;
    use crate::wire::WebSearchAction as Wire;
    match action.unwrap_or(Wire::Other) {
        Wire::Search { query, queries } => Model::Search { query, queries },
        Wire::OpenPage { url } => Model::OpenPage { url },
        Wire::FindInPage { url, pattern } => Model::FindInPage { url, pattern },
        Wire::Other => Model::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{CallFacts, ItemKind, PlanStatus, PlanStep};
    use serde_json::json;
    use std::time::Duration;

    fn run(events: Vec<Event>, deltas: bool) -> Vec<Value> {
        let mut exec = ExecEvents::new("t-1", PathBuf::from("/p"), deltas);
        let mut out = vec![exec.thread_started()];
        for event in events {
            exec.on_event(event, &mut out);
        }
        out.iter()
            .map(|event| serde_json::to_value(event).unwrap())
            .collect()
    }

    fn plan(done: usize) -> Event {
        let step = |n: usize| PlanStep {
            step: format!("step {n}"),
            status: if n < done {
                PlanStatus::Completed
            } else {
                PlanStatus::Pending
            },
        };
        Event::PlanUpdated {
            call_id: format!("plan-{done}"),
            explanation: None,
            steps: vec![step(0), step(1)],
        }
    }

    fn usage(input: u64, output: u64) -> TokenUsage {
        TokenUsage {
            input_tokens: input,
            output_tokens: output,
            total_tokens: input + output,
            ..TokenUsage::default()
        }
    }

    #[test]
    fn a_turn_reads_as_codex_exec_writes_it() {
        let reasoning: crate::protocol::ItemId = "rs_1".into();
        let answer: crate::protocol::ItemId = "msg_1".into();
        let out = run(
            vec![
                // A resumed conversation's total before the turn: not this turn's usage.
                Event::Usage(usage(1000, 100)),
                Event::TurnStarted { id: "u-1".into() },
                Event::ItemStarted {
                    item: reasoning.clone(),
                    kind: ItemKind::Reasoning,
                },
                Event::ReasoningDelta {
                    item: reasoning.clone(),
                    delta: "Thinking".into(),
                },
                Event::ReasoningDone {
                    item: reasoning,
                    text: "Thinking".into(),
                },
                plan(0),
                Event::Retrying {
                    attempt: 1,
                    max: 5,
                    delay: Duration::from_millis(10),
                    reason: "the stream was cut".into(),
                    voided: vec![],
                },
                Event::ToolStarted {
                    call_id: "m1".into(),
                    tool: "docs__search".into(),
                    summary: "docs search".into(),
                    paths: vec![],
                    facts: Some(CallFacts::Mcp {
                        server: "docs".into(),
                        tool: "search".into(),
                        arguments: json!({ "q": "kelp" }),
                    }),
                },
                Event::ToolOutput {
                    call_id: "m1".into(),
                    chunk: "found it".into(),
                },
                Event::ToolFinished {
                    call_id: "m1".into(),
                    success: true,
                    exit_code: None,
                    duration: Duration::from_millis(3),
                },
                plan(1),
                Event::Notice("a note the person should read".into()),
                Event::ItemStarted {
                    item: answer.clone(),
                    kind: ItemKind::AgentMessage,
                },
                Event::TextDelta {
                    item: answer.clone(),
                    delta: "Done".into(),
                },
                Event::MessageDone {
                    item: answer,
                    text: "Done".into(),
                },
                Event::Usage(usage(1300, 130)),
                Event::TurnFinished(crate::protocol::TurnOutcome::Completed),
            ],
            false,
        );
        let expected = [
            json!({ "type": "thread.started", "thread_id": "t-1" }),
            json!({ "type": "turn.started" }),
            json!({ "type": "item.completed", "item": { "id": "item_0", "type": "reasoning", "text": "Thinking" } }),
            json!({ "type": "item.started", "item": { "id": "item_1", "type": "todo_list", "items": [
                { "text": "step 0", "completed": false }, { "text": "step 1", "completed": false }] } }),
            json!({ "type": "error", "message": "Reconnecting... 1/5 (the stream was cut)" }),
            json!({ "type": "item.started", "item": { "id": "item_2", "type": "mcp_tool_call",
                "server": "docs", "tool": "search", "arguments": { "q": "kelp" }, "status": "in_progress" } }),
            json!({ "type": "item.completed", "item": { "id": "item_2", "type": "mcp_tool_call",
                "server": "docs", "tool": "search", "arguments": { "q": "kelp" }, "status": "completed",
                "result": { "content": [{ "type": "text", "text": "found it" }], "structured_content": null } } }),
            json!({ "type": "item.updated", "item": { "id": "item_1", "type": "todo_list", "items": [
                { "text": "step 0", "completed": true }, { "text": "step 1", "completed": false }] } }),
            json!({ "type": "item.completed", "item": { "id": "item_3", "type": "error", "message": "a note the person should read" } }),
            json!({ "type": "item.completed", "item": { "id": "item_4", "type": "agent_message", "text": "Done" } }),
            json!({ "type": "item.completed", "item": { "id": "item_1", "type": "todo_list", "items": [
                { "text": "step 0", "completed": true }, { "text": "step 1", "completed": false }] } }),
            json!({ "type": "turn.completed", "usage": { "input_tokens": 300, "cached_input_tokens": 0,
                "cache_write_input_tokens": 0, "output_tokens": 30, "reasoning_output_tokens": 0 } }),
        ];
        assert_eq!(out, expected);
    }

    #[test]
    fn kelps_run_adds_the_deltas_and_a_cut_turn_fails() {
        let answer: crate::protocol::ItemId = "msg_1".into();
        let out = run(
            vec![
                Event::TurnStarted { id: "u-1".into() },
                Event::ItemStarted {
                    item: answer.clone(),
                    kind: ItemKind::AgentMessage,
                },
                Event::TextDelta {
                    item: answer.clone(),
                    delta: "Hal".into(),
                },
                Event::TurnFinished(crate::protocol::TurnOutcome::Interrupted),
            ],
            true,
        );
        assert_eq!(
            out[2..],
            [
                json!({ "type": "text.delta", "item_id": "item_0", "delta": "Hal" }),
                json!({ "type": "turn.failed", "error": { "message": "the turn was interrupted" } }),
            ]
        );
    }
}
