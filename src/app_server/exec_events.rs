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

use serde_json::{Value, json};

use super::items::Translator;
use crate::agent::protocol::Event;
use crate::llm::types::TokenUsage;

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
    todo: Option<(String, Value)>,
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
    pub fn thread_started(&self) -> Value {
        json!({ "type": "thread.started", "thread_id": self.thread_id })
    }

    /// The text of the turn's last answer, for `--output-last-message`.
    pub fn last_message(&self) -> Option<&str> {
        self.last_message.as_deref()
    }

    /// The lines `event` makes, appended to `out`.
    pub fn on_event(&mut self, event: Event, out: &mut Vec<Value>) {
        match &event {
            Event::TurnStarted { id } => {
                self.turn_id.clone_from(id);
                self.usage_before = self.usage;
                self.last_message = None;
                out.push(json!({ "type": "turn.started" }));
            }
            Event::Usage(total) => self.usage = *total,
            Event::TextDelta { item, delta } => {
                if self.deltas {
                    let id = self.exec_id(item);
                    out.push(json!({ "type": "text.delta", "item_id": id, "delta": delta }));
                }
                return;
            }
            Event::ReasoningDelta { item, delta } if self.deltas => {
                let id = self.exec_id(item);
                out.push(json!({ "type": "reasoning.delta", "item_id": id, "delta": delta }));
            }
            Event::ToolOutput { call_id, chunk } => self
                .outputs
                .entry(call_id.clone())
                .or_default()
                .push_str(chunk),
            Event::Retrying {
                attempt,
                max,
                reason,
                voided,
                ..
            } => {
                out.push(json!({
                    "type": "error",
                    "message": format!("Reconnecting... {attempt}/{max} ({reason})"),
                }));
                if self.deltas {
                    let voided: Vec<String> = voided.iter().map(|id| self.exec_id(id)).collect();
                    out.push(json!({ "type": "retrying", "voided": voided }));
                }
                return;
            }
            Event::Notice(message) => out.push(self.error_item(message)),
            Event::Compacted { before, automatic } if self.deltas => out.push(json!({
                "type": "compacted",
                "tokens_before": before,
                "automatic": automatic,
            })),
            _ => {}
        }
        let turn_id = self.turn_id.clone();
        let mut notes = Vec::new();
        self.translator.on_event(&turn_id, event, 0, &mut notes);
        for note in notes {
            if let Ok((method, params)) = note.into_message() {
                self.on_notification(method, params, out);
            }
        }
    }

    fn on_notification(&mut self, method: &str, params: Value, out: &mut Vec<Value>) {
        match method {
            "item/started" => {
                if let Some(item) = self.item(&params["item"], false) {
                    out.push(json!({ "type": "item.started", "item": item }));
                }
            }
            "item/completed" => {
                if let Some(item) = self.item(&params["item"], true) {
                    out.push(json!({ "type": "item.completed", "item": item }));
                }
            }
            "turn/plan/updated" => {
                let steps: Vec<Value> = params["plan"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|step| json!({ "text": step["step"], "completed": step["status"] == "completed" }))
                    .collect();
                let kind = if self.todo.is_some() {
                    "item.updated"
                } else {
                    "item.started"
                };
                let id = match &self.todo {
                    Some((id, _)) => id.clone(),
                    None => self.next_id(),
                };
                let item = json!({ "id": id, "type": "todo_list", "items": steps });
                out.push(json!({ "type": kind, "item": item }));
                self.todo = Some((id, item["items"].clone()));
            }
            "warning" => {
                if let Some(message) = params["message"].as_str() {
                    out.push(self.error_item(message));
                }
            }
            // A failure the turn ends with; retries are said from the core's event.
            "error" if params["willRetry"] == false => {
                out.push(json!({ "type": "error", "message": params["error"]["message"] }));
            }
            "turn/completed" => {
                if let Some((id, items)) = self.todo.take() {
                    let item = json!({ "id": id, "type": "todo_list", "items": items });
                    out.push(json!({ "type": "item.completed", "item": item }));
                }
                let turn = &params["turn"];
                out.push(match turn["status"].as_str() {
                    Some("completed") => {
                        json!({ "type": "turn.completed", "usage": self.turn_usage() })
                    }
                    Some("interrupted") => json!({
                        "type": "turn.failed",
                        "error": { "message": "the turn was interrupted" },
                    }),
                    _ => json!({ "type": "turn.failed", "error": turn["error"] }),
                });
            }
            _ => {}
        }
    }

    /// An app-server item as exec shows it (`completed`: as it ends), if exec shows it then.
    fn item(&mut self, item: &Value, completed: bool) -> Option<Value> {
        let v2_id = item["id"].as_str()?;
        let status = |item: &Value| match item["status"].as_str() {
            Some("inProgress") => "in_progress",
            Some("completed") => "completed",
            _ => "failed",
        };
        let shown = match item["type"].as_str()? {
            "agentMessage" if completed => {
                let text = item["text"].as_str().unwrap_or_default();
                self.last_message = Some(text.to_string());
                json!({ "type": "agent_message", "text": text })
            }
            "reasoning" if completed => {
                let parts: Vec<&str> = item["summary"]
                    .as_array()?
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                let text = parts.join("\n\n");
                if text.is_empty() {
                    return None;
                }
                json!({ "type": "reasoning", "text": text })
            }
            "commandExecution" => json!({
                "type": "command_execution",
                "command": item["command"],
                "aggregated_output": item["aggregatedOutput"].as_str().unwrap_or_default(),
                "exit_code": item["exitCode"],
                "status": status(item),
            }),
            "fileChange" => json!({
                "type": "file_change",
                "changes": item["changes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|change| json!({ "path": change["path"], "kind": change["kind"]["type"] }))
                    .collect::<Vec<_>>(),
                "status": if status(item) == "in_progress" && completed { "failed" } else { status(item) },
            }),
            "mcpToolCall" => {
                let mut shown = json!({
                    "type": "mcp_tool_call",
                    "server": item["server"],
                    "tool": item["tool"],
                    "arguments": item["arguments"],
                    "status": status(item),
                });
                if completed && status(item) == "completed" {
                    let text = self.outputs.remove(v2_id).unwrap_or_default();
                    shown["result"] = json!({
                        "content": [{ "type": "text", "text": text }],
                        "structured_content": null,
                    });
                } else if !item["error"].is_null() {
                    shown["error"] = json!({ "message": item["error"]["message"] });
                }
                shown
            }
            _ => return None,
        };
        if completed {
            self.outputs.remove(v2_id);
        }
        // The id first, as Codex writes it.
        let mut item = json!({ "id": self.exec_id(v2_id) });
        if let (Some(item), Value::Object(fields)) = (item.as_object_mut(), shown) {
            item.extend(fields);
        }
        Some(item)
    }

    /// An `error` item: a warning the turn goes on after.
    fn error_item(&mut self, message: &str) -> Value {
        let id = self.next_id();
        json!({ "type": "item.completed", "item": { "id": id, "type": "error", "message": message } })
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
    fn turn_usage(&self) -> Value {
        let turn = self.usage.minus(&self.usage_before);
        json!({
            "input_tokens": turn.input_tokens,
            "cached_input_tokens": turn.cached_input_tokens,
            "cache_write_input_tokens": 0,
            "output_tokens": turn.output_tokens,
            "reasoning_output_tokens": turn.reasoning_output_tokens,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::protocol::{CallFacts, ItemKind, PlanStatus, PlanStep};
    use std::time::Duration;

    fn run(events: Vec<Event>, deltas: bool) -> Vec<Value> {
        let mut exec = ExecEvents::new("t-1", PathBuf::from("/p"), deltas);
        let mut out = vec![exec.thread_started()];
        for event in events {
            exec.on_event(event, &mut out);
        }
        out
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
        let reasoning: crate::agent::protocol::ItemId = "rs_1".into();
        let answer: crate::agent::protocol::ItemId = "msg_1".into();
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
                Event::TurnFinished(crate::agent::protocol::TurnOutcome::Completed),
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
        let answer: crate::agent::protocol::ItemId = "msg_1".into();
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
                Event::TurnFinished(crate::agent::protocol::TurnOutcome::Interrupted),
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
