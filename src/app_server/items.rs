//! Core events as app-server notifications: agent messages, reasoning, commands and file
//! changes started, growing and completed under the core's item ids; a retry as the `error`
//! notification that says it will retry; rate limits; the turn's end. A pure translator, as
//! ACP's `updates.rs` is: no I/O and no clock (the caller passes the time), so it is tested
//! event by event. Approvals are the thread's: they need the host's answer.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use super::shapes::{
    At, Outgoing, agent_message, command_action, delta_line, delta_prefix, file_update, reasoning,
    web_search,
};
use crate::protocol::{
    ApprovalDecision, ApprovalSubject, CallFacts, Event, ItemId, ItemKind, TokenUsage, TurnOutcome,
};
use crate::tools::apply_patch::diff::TurnDiff;
use crate::wire::{
    self as wire, ActiveFlag, CommandAction, FileUpdateChange, ItemStatus, Message,
    RateLimitSnapshot, ThreadItem, ThreadStatus, Turn, TurnStatus, WebSearchAction,
};
use crate::{tools, tools::FileChange};

mod review;

/// A tool call the host sees as an item, while it runs.
#[derive(Debug)]
enum ToolItem {
    /// A shell command, or a read, listing or search shown as one with its command action.
    Command {
        command: String,
        output: String,
        actions: Vec<CommandAction>,
    },
    FileChange {
        changes: Vec<FileUpdateChange>,
    },
    Mcp {
        server: String,
        tool: String,
        arguments: Value,
    },
    /// `wait_agent`, which Codex shows as its collaboration call `wait`.
    Wait,
    /// `view_image`: the image file the model looked at.
    Image {
        path: PathBuf,
    },
}

/// The translation state of one thread: the items open now.
#[derive(Debug)]
pub struct Translator {
    thread_id: String,
    cwd: PathBuf,
    /// The agent message streaming now, and its delta notification up to `"delta":`, written
    /// once so each delta costs a string escape and a copy.
    message: Option<(ItemId, String)>,
    /// The reasoning summary streaming now, and its text so far: an interrupted or failed
    /// turn still completes it.
    reasoning: Option<(ItemId, String)>,
    /// The part of the reasoning summary its deltas belong to.
    summary_index: u32,
    tools: HashMap<String, ToolItem>,
    /// The open tool items that an approval opened and that have not run: a refusal ends them
    /// `declined`, where one that ran (a sandboxed command asked about again) waits for its end.
    asked: HashSet<String>,
    /// Patches that run and whose item has not started: it starts with its changes, once they
    /// are known (as Codex starts it), or at its end when it changed nothing.
    unstarted: HashSet<String>,
    /// The conversation's token usage at the last report, to tell the last request's apart.
    usage: TokenUsage,
    /// What the turn's patches changed, for `turn/diff/updated`.
    diff: TurnDiff,
    /// A patch changed the diff since the last `turn/diff/updated`.
    diff_unsent: bool,
}

impl Translator {
    /// Nothing open yet, for thread `thread_id` working in `cwd`.
    pub fn new(thread_id: String, cwd: PathBuf) -> Self {
        Self {
            thread_id,
            cwd,
            message: None,
            reasoning: None,
            summary_index: 0,
            tools: HashMap::new(),
            asked: HashSet::new(),
            unstarted: HashSet::new(),
            usage: TokenUsage::default(),
            diff: TurnDiff::default(),
            diff_unsent: false,
        }
    }

    /// The hot path: the line for the next piece of the message streaming now, if `event` is
    /// one; the turn id is in the line already.
    pub fn delta_line(&self, event: &Event, now_ms: i64) -> Option<String> {
        let Event::TextDelta { item, delta } = event else {
            return None;
        };
        let (open, prefix) = self.message.as_ref()?;
        (std::sync::Arc::ptr_eq(open, item) || open == item)
            .then(|| delta_line(prefix, delta, now_ms))
    }

    /// What `event` of turn `turn_id` sends, at `now_ms`, appended to `out`.
    pub fn on_event(&mut self, turn_id: &str, event: Event, now_ms: i64, out: &mut Vec<Outgoing>) {
        if let Some(line) = self.delta_line(&event, now_ms) {
            out.push(Outgoing::Line(line));
            return;
        }
        let at = At {
            thread_id: self.thread_id.clone(),
            turn_id: turn_id.to_string(),
            now_ms,
        };
        match event {
            Event::ItemStarted { item, kind } => self.on_item_started(&at, item, kind, out),
            Event::ReasoningPartAdded { item, index } => {
                self.summary_index = index;
                out.push(at.summary_part(&item, index));
            }
            // A piece of a message that never started (its start went to another turn).
            Event::TextDelta { .. } => {}
            Event::ReasoningDelta { item, delta } => self.on_reasoning_delta(at, item, delta, out),
            Event::MessageDone { item, text } => {
                self.message.take_if(|(open, _)| *open == item);
                out.push(at.completed(agent_message(&item, &text)));
            }
            Event::ReasoningDone { item, text } => {
                self.reasoning.take_if(|(open, _)| *open == item);
                out.push(at.completed(reasoning(&item, Some(&text))));
            }
            // As Codex's: the search starts with nothing said, and ends with what it did.
            Event::WebSearchStarted { item } => out.push(at.started(ThreadItem::WebSearch {
                id: item.to_string(),
                query: String::new(),
                action: Some(WebSearchAction::Other),
            })),
            Event::WebSearchDone { item, action } => {
                out.push(at.completed(web_search(&item, &action)))
            }
            Event::ApprovalRequested {
                call_id, subject, ..
            } => self.on_approval_requested(&at, call_id, subject, out),
            Event::ApprovalAnswered {
                call_id, decision, ..
            } => self.on_answered(&at, &call_id, decision.as_ref(), out),
            Event::AutoReview { review, subject } => self.on_auto_review(&at, review, subject, out),
            Event::ToolStarted {
                call_id,
                tool,
                summary,
                facts,
                ..
            } => self.on_tool_started(&at, call_id, &tool, summary, facts, out),
            Event::FilesChanged { call_id, changes } => {
                self.on_files_changed(&at, &call_id, &changes, out)
            }
            Event::ToolOutput { call_id, chunk } => {
                if let Some(ToolItem::Command { output, .. }) = self.tools.get_mut(&call_id) {
                    output.push_str(&chunk);
                    out.push(at.output(call_id, chunk));
                }
            }
            Event::ToolFinished {
                call_id,
                success,
                exit_code,
                duration,
            } => self.on_tool_finished(&at, &call_id, success, exit_code, duration, out),
            Event::PlanUpdated {
                explanation, steps, ..
            } => out.push(at.plan(explanation, &steps)),
            Event::Compacted { .. } => at.compacted(out),
            Event::Usage(total) => self.on_usage(at, total, out),
            retry @ Event::Retrying { .. } => self.on_retrying(&at, retry, out),
            Event::Attached(files) => out.extend(at.left_out(&files)),
            // Something the person must know that is not the turn's failure (the conversation
            // no longer being saved, say): a warning the host shows, the turn going on.
            Event::Error(message) | Event::RunsLater(message) => out.push(at.warning(message)),
            Event::GoalUpdated(goal) => out.push(at.goal(goal)),
            Event::GoalCleared => out.push(Outgoing::of(wire::ThreadGoalClearedNotification {
                thread_id: at.thread_id,
            })),
            Event::RateLimits(limits) => out.push(Outgoing::of(wire::RateLimitsUpdated {
                rate_limits: RateLimitSnapshot::from(&limits),
            })),
            Event::TurnFinished(outcome) => self.on_turn_finished(&at, outcome, out),
            Event::AgentActivity(activity) => out.extend(at.agent_activity(activity)),
            // Events this face does not show: each new one must be placed here or given
            // an arm of its own.
            // (A saved call refused: its end says it failed, as Codex's rollout reads.)
            Event::Reply(_)
            | Event::CallDeclined { .. }
            | Event::TurnStarted { .. }
            | Event::QuestionsAsked { .. }
            | Event::ContextUsed { .. }
            | Event::Notice(..)
            // (Another agent's events are its own thread's, translated there.)
            | Event::OfAgent(_)
            | Event::McpToolCalled { .. } => {}
        }
    }

    fn on_item_started(&mut self, at: &At, item: ItemId, kind: ItemKind, out: &mut Vec<Outgoing>) {
        match kind {
            ItemKind::AgentMessage => {
                out.push(at.started(agent_message(&item, "")));
                let prefix = delta_prefix(&self.thread_id, &at.turn_id, &item);
                self.message = Some((item, prefix));
            }
            ItemKind::Reasoning => {
                out.push(at.started(reasoning(&item, None)));
                self.reasoning = Some((item, String::new()));
                self.summary_index = 0;
            }
        }
    }

    fn on_reasoning_delta(&mut self, at: At, item: ItemId, delta: String, out: &mut Vec<Outgoing>) {
        if let Some((open, text)) = &mut self.reasoning
            && *open == item
        {
            text.push_str(&delta);
        }
        out.push(Outgoing::of(wire::ReasoningSummaryTextDelta {
            thread_id: at.thread_id,
            turn_id: at.turn_id,
            item_id: item.to_string(),
            delta,
            summary_index: self.summary_index,
        }));
    }

    /// No approval comes for an item the host has not seen: a call that asks is an item from
    /// then on (a patch with its changes), so the host shows what it approves.
    fn on_approval_requested(
        &mut self,
        at: &At,
        call_id: String,
        subject: ApprovalSubject,
        out: &mut Vec<Outgoing>,
    ) {
        let waiting = at.status(ThreadStatus::Active {
            active_flags: vec![ActiveFlag::WaitingOnApproval],
        });
        if self.tools.contains_key(&call_id) {
            out.push(waiting);
            return;
        }
        // Codex 0.169 says the thread waits before a command's item starts, and after a
        // patch's.
        let patch = matches!(subject, ApprovalSubject::Patch { .. });
        let opened = self.open_asked(at, call_id, subject);
        if patch {
            out.extend([opened, waiting]);
        } else {
            out.extend([waiting, opened]);
        }
    }

    /// Opens the item of call `call_id`, which asks `subject` before it may run: a refusal
    /// ends it declined.
    fn open_asked(&mut self, at: &At, call_id: String, subject: ApprovalSubject) -> Outgoing {
        let item = match subject {
            ApprovalSubject::Patch { changes, .. } => ToolItem::FileChange {
                changes: changes.iter().map(file_update).collect(),
            },
            ApprovalSubject::Command { command, .. }
            | ApprovalSubject::Unsandboxed { command, .. }
            | ApprovalSubject::Network { command, .. }
            | ApprovalSubject::Read {
                summary: command, ..
            } => ToolItem::Command {
                command,
                output: String::new(),
                actions: Vec::new(),
            },
            ApprovalSubject::McpTool {
                server,
                tool,
                arguments,
            } => ToolItem::Mcp {
                server,
                tool,
                arguments: serde_json::from_str(&arguments).unwrap_or_else(|_| json!({})),
            },
        };
        self.asked.insert(call_id.clone());
        at.started(self.open_tool(call_id, item))
    }

    /// A refused or withdrawn approval ends its item here: nothing runs. Another answer says
    /// the thread no longer waits.
    fn on_answered(
        &mut self,
        at: &At,
        call_id: &str,
        decision: Option<&ApprovalDecision>,
        out: &mut Vec<Outgoing>,
    ) {
        if !matches!(decision, None | Some(ApprovalDecision::No { .. })) {
            out.push(at.status(ThreadStatus::Active {
                active_flags: Vec::new(),
            }));
        } else {
            self.close_declined(at, call_id, out);
        }
    }

    /// Ends the item of call `call_id` declined, when it was opened by asking and never ran.
    fn close_declined(&mut self, at: &At, call_id: &str, out: &mut Vec<Outgoing>) {
        if self.asked.remove(call_id)
            && let Some(item) = self.tools.remove(call_id)
        {
            let item = self.tool_item(call_id, &item, ItemStatus::Declined, None, None);
            out.push(at.completed(item));
        }
    }

    fn on_tool_started(
        &mut self,
        at: &At,
        call_id: String,
        tool: &str,
        summary: String,
        facts: Option<CallFacts>,
        out: &mut Vec<Outgoing>,
    ) {
        // Opened when it asked: what a read, listing or search touches is known now.
        if self.tools.contains_key(&call_id) {
            self.asked.remove(&call_id);
            if let (
                Some(ToolItem::Command {
                    command, actions, ..
                }),
                Some(facts),
            ) = (self.tools.get_mut(&call_id), facts)
                && actions.is_empty()
                && !matches!(facts, CallFacts::Mcp { .. })
            {
                *actions = vec![command_action(command, facts)];
            }
            return;
        }
        let item = match (tool, facts) {
            // Typed into a command's terminal: said of that command's item, as Codex does.
            (
                _,
                Some(CallFacts::Typed {
                    session_id,
                    started_by,
                    chars,
                }),
            ) => {
                out.push(Outgoing::of(wire::TerminalInteraction {
                    thread_id: at.thread_id.clone(),
                    turn_id: at.turn_id.clone(),
                    item_id: started_by,
                    process_id: session_id.to_string(),
                    stdin: chars,
                }));
                return;
            }
            (tools::shell::NAME | tools::terminals::EXEC_COMMAND, _) => ToolItem::Command {
                command: summary,
                output: String::new(),
                actions: Vec::new(),
            },
            // Codex says an image was viewed once it was read: its item waits for the end.
            (tools::view_image::NAME, _) => {
                self.unstarted.insert(call_id.clone());
                let path = self.cwd.join(&summary);
                self.tools.insert(call_id, ToolItem::Image { path });
                return;
            }
            (tools::apply_patch::NAME, _) => {
                self.unstarted.insert(call_id.clone());
                let changes = Vec::new();
                self.tools.insert(call_id, ToolItem::FileChange { changes });
                return;
            }
            (
                _,
                Some(CallFacts::Mcp {
                    server,
                    tool,
                    arguments,
                }),
            ) => ToolItem::Mcp {
                server,
                tool,
                arguments,
            },
            (_, Some(facts)) => {
                let command = format!("{tool} {summary}");
                ToolItem::Command {
                    actions: vec![command_action(&command, facts)],
                    command,
                    output: String::new(),
                }
            }
            // Codex shows only the wait of its collaboration calls as an item; the others are
            // the agents' activity (`Event::AgentActivity`).
            ("wait_agent", None) => ToolItem::Wait,
            (_, None) => return,
        };
        out.push(at.started(self.open_tool(call_id, item)));
    }

    fn on_files_changed(
        &mut self,
        at: &At,
        call_id: &str,
        changes: &[FileChange],
        out: &mut Vec<Outgoing>,
    ) {
        if let Some(ToolItem::FileChange { changes: listed }) = self.tools.get_mut(call_id) {
            *listed = changes.iter().map(file_update).collect();
        }
        if let Some(item) = self.start_deferred(call_id) {
            out.push(at.started(item));
        }
        // The turn's diff follows the patch's item's end, as in Codex.
        self.diff.add(changes);
        self.diff_unsent = true;
    }

    fn on_tool_finished(
        &mut self,
        at: &At,
        call_id: &str,
        success: bool,
        exit_code: Option<i32>,
        duration: Duration,
        out: &mut Vec<Outgoing>,
    ) {
        // An image that could not be read was never viewed: no item says it was.
        if !success && matches!(self.tools.get(call_id), Some(ToolItem::Image { .. })) {
            self.unstarted.remove(call_id);
            self.tools.remove(call_id);
            return;
        }
        if let Some(item) = self.start_deferred(call_id) {
            out.push(at.started(item));
        }
        if let Some(item) = self.tools.remove(call_id) {
            let status = if success {
                ItemStatus::Completed
            } else {
                ItemStatus::Failed
            };
            let item = self.tool_item(call_id, &item, status, exit_code, Some(duration));
            out.push(at.completed(item));
        }
        out.extend(self.unsent_diff(&at.turn_id));
    }

    /// Outside a turn (a resumed conversation's total) the usage is only the baseline.
    fn on_usage(&mut self, at: At, total: TokenUsage, out: &mut Vec<Outgoing>) {
        if at.turn_id.is_empty() {
            self.usage = total;
            return;
        }
        let last = total.minus(&self.usage);
        self.usage = total;
        out.push(Outgoing::of(wire::ThreadTokenUsageUpdated {
            thread_id: at.thread_id,
            turn_id: at.turn_id,
            token_usage: wire::ThreadTokenUsage {
                total: (&total).into(),
                last: (&last).into(),
                model_context_window: None,
            },
        }));
    }

    /// The voided items are never completed, as Codex leaves an item of a retried stream; the
    /// retry's items come under new ids.
    /// A retry: the items it voids stream no more.
    fn on_retrying(&mut self, at: &At, retry: Event, out: &mut Vec<Outgoing>) {
        if let Event::Retrying {
            attempt,
            max,
            reason,
            voided,
            ..
        } = retry
        {
            self.message.take_if(|(open, _)| voided.contains(open));
            self.reasoning.take_if(|(open, _)| voided.contains(open));
            out.push(at.retrying(attempt, max, reason));
        }
    }

    fn on_turn_finished(&mut self, at: &At, outcome: TurnOutcome, out: &mut Vec<Outgoing>) {
        if let TurnOutcome::Failed { message, .. } | TurnOutcome::Stopped { message, .. } = &outcome
        {
            out.push(Outgoing::of(wire::TurnErrorNotification {
                thread_id: at.thread_id.clone(),
                turn_id: at.turn_id.clone(),
                error: Message::new(message.clone()),
                will_retry: false,
            }));
        }
        self.message = None;
        // Cut short: every call still open ends, declined if it never ran.
        for call_id in std::mem::take(&mut self.unstarted) {
            if let Some(item) = self.tools.get(&call_id) {
                let item = self.tool_item(&call_id, item, ItemStatus::InProgress, None, None);
                out.push(at.started(item));
            }
        }
        for (call_id, item) in std::mem::take(&mut self.tools) {
            let status = if self.asked.contains(&call_id) {
                ItemStatus::Declined
            } else {
                ItemStatus::Failed
            };
            out.push(at.completed(self.tool_item(&call_id, &item, status, None, None)));
        }
        self.asked.clear();
        // Cut short by an interrupt or a failure: it ends with what came.
        if let Some((item, text)) = self.reasoning.take() {
            out.push(at.completed(reasoning(&item, Some(&text))));
        }
        out.extend(self.unsent_diff(&at.turn_id));
        self.diff = TurnDiff::default();
        // Idle first, then the turn's end, as Codex 0.169 sends them.
        out.push(at.status(ThreadStatus::Idle));
        let (status, error) = match outcome {
            TurnOutcome::Completed => (TurnStatus::Completed, None),
            TurnOutcome::Interrupted => (TurnStatus::Interrupted, None),
            TurnOutcome::Stopped { message, .. } | TurnOutcome::Failed { message, .. } => {
                (TurnStatus::Failed, Some(Message::new(message)))
            }
        };
        out.push(Outgoing::of(wire::TurnCompleted {
            thread_id: at.thread_id.clone(),
            turn: Turn {
                error,
                completed_at: Some(at.now_ms / 1000),
                ..Turn::new(&at.turn_id, status)
            },
        }));
    }

    /// `turn/diff/updated` with the turn's diff, when a patch changed it since the last one.
    fn unsent_diff(&mut self, turn_id: &str) -> Option<Outgoing> {
        std::mem::take(&mut self.diff_unsent).then(|| {
            Outgoing::of(wire::TurnDiffUpdated {
                thread_id: self.thread_id.clone(),
                turn_id: turn_id.to_string(),
                diff: self.diff.unified(&self.cwd),
            })
        })
    }

    /// A patch's item as it starts, if it waited for its changes.
    fn start_deferred(&mut self, call_id: &str) -> Option<ThreadItem> {
        self.unstarted.remove(call_id).then_some(())?;
        let item = self.tools.get(call_id)?;
        Some(self.tool_item(call_id, item, ItemStatus::InProgress, None, None))
    }

    /// Keeps `item` open as call `call_id`; returns it as `item/started` shows it.
    fn open_tool(&mut self, call_id: String, item: ToolItem) -> ThreadItem {
        let shown = self.tool_item(&call_id, &item, ItemStatus::InProgress, None, None);
        self.tools.insert(call_id, item);
        shown
    }

    fn tool_item(
        &self,
        id: &str,
        item: &ToolItem,
        status: ItemStatus,
        exit_code: Option<i32>,
        duration: Option<Duration>,
    ) -> ThreadItem {
        let duration_ms = duration.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let id = id.to_string();
        match item {
            ToolItem::Command {
                command,
                output,
                actions,
            } => ThreadItem::CommandExecution {
                id,
                command: command.clone(),
                command_actions: actions.clone(),
                cwd: self.cwd.clone(),
                status,
                aggregated_output: (!output.is_empty()).then(|| output.clone()),
                exit_code,
                duration_ms,
            },
            ToolItem::FileChange { changes } => ThreadItem::FileChange {
                id,
                changes: changes.clone(),
                status,
            },
            ToolItem::Mcp {
                server,
                tool,
                arguments,
            } => ThreadItem::McpToolCall {
                id,
                server: server.clone(),
                tool: tool.clone(),
                arguments: arguments.clone(),
                // The protocol has no `declined` for an MCP call: it failed, and says why.
                status: match status {
                    ItemStatus::Declined => ItemStatus::Failed,
                    other => other,
                },
                error: match status {
                    ItemStatus::Declined => Some(Message::new("the call was declined")),
                    ItemStatus::Failed => Some(Message::new("the tool call failed")),
                    _ => None,
                },
                duration_ms,
            },
            ToolItem::Image { path } => ThreadItem::ImageView {
                id,
                path: path.clone(),
            },
            ToolItem::Wait => ThreadItem::CollabAgentToolCall {
                id,
                tool: "wait".into(),
                status: match status {
                    ItemStatus::Declined => ItemStatus::Failed,
                    other => other,
                },
                sender_thread_id: self.thread_id.clone(),
                receiver_thread_ids: Vec::new(),
                prompt: None,
                model: None,
                reasoning_effort: None,
                agents_states: serde_json::Map::new(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ChangeKind;

    fn run(events: Vec<Event>) -> Vec<Outgoing> {
        let mut translator = Translator::new("t1".into(), PathBuf::from("/p"));
        let mut out = Vec::new();
        for event in events {
            translator.on_event("u1", event, 1_000, &mut out);
        }
        out
    }

    /// Each notification as a host reads it: its method and params.
    fn messages(out: &[Outgoing]) -> Vec<(String, Value)> {
        out.iter()
            .map(|o| match o.clone().into_message() {
                Ok((method, params)) => (method.to_string(), params),
                Err(line) => {
                    let mut message: Value = serde_json::from_str(&line).unwrap();
                    let method = message["method"].as_str().unwrap().to_string();
                    (method, message["params"].take())
                }
            })
            .collect()
    }

    fn methods(out: &[Outgoing]) -> Vec<String> {
        messages(out)
            .into_iter()
            .map(|(method, _)| method)
            .collect()
    }

    fn params(out: &[Outgoing], at: usize) -> Value {
        messages(out).swap_remove(at).1
    }

    #[test]
    fn a_retried_message_is_left_open_and_the_retry_is_a_new_item() {
        let (cut, whole): (ItemId, ItemId) = ("msg_a".into(), "msg_b".into());
        let out = run(vec![
            Event::ItemStarted {
                item: cut.clone(),
                kind: ItemKind::AgentMessage,
            },
            Event::TextDelta {
                item: cut.clone(),
                delta: "half \"quoted\"".into(),
            },
            Event::Retrying {
                attempt: 1,
                max: 5,
                delay: Duration::from_millis(10),
                reason: "cut".into(),
                voided: vec![cut.clone()],
            },
            // A late piece of the voided item is dropped.
            Event::TextDelta {
                item: cut,
                delta: "late".into(),
            },
            Event::ItemStarted {
                item: whole.clone(),
                kind: ItemKind::AgentMessage,
            },
            Event::MessageDone {
                item: whole,
                text: "all".into(),
            },
        ]);
        assert_eq!(
            methods(&out),
            [
                "item/started",
                "item/agentMessage/delta",
                "error",
                "item/started",
                "item/completed"
            ]
        );
        let Outgoing::Line(line) = &out[1] else {
            panic!("a delta line: {out:?}");
        };
        let delta: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            delta["params"],
            json!({"threadId": "t1", "turnId": "u1", "itemId": "msg_a", "delta": "half \"quoted\""})
        );
        assert_eq!(delta["emittedAtMs"], 1_000);
        // The line written by hand reads as the protocol's own notification.
        let read = wire::ServerNotification::read(
            delta["method"].as_str().unwrap(),
            delta["params"].clone(),
        );
        assert!(
            matches!(&read, Ok(wire::ServerNotification::Turn(wire::TurnNote::AgentMessageDelta(d))) if d.delta == "half \"quoted\""),
            "{read:?}"
        );
        assert_eq!(
            params(&out, 4)["item"],
            json!({"type": "agentMessage", "id": "msg_b", "text": "all"})
        );
    }

    #[test]
    fn each_part_of_a_reasoning_summary_is_announced_and_its_deltas_name_it() {
        let thinking: ItemId = "rs_a".into();
        let delta = |text: &str| Event::ReasoningDelta {
            item: thinking.clone(),
            delta: text.into(),
        };
        let part = |index| Event::ReasoningPartAdded {
            item: thinking.clone(),
            index,
        };
        let out = run(vec![
            Event::ItemStarted {
                item: thinking.clone(),
                kind: ItemKind::Reasoning,
            },
            part(0),
            delta("Reading the parser"),
            part(1),
            delta("Checking the tests"),
        ]);
        assert_eq!(
            methods(&out),
            [
                "item/started",
                "item/reasoning/summaryPartAdded",
                "item/reasoning/summaryTextDelta",
                "item/reasoning/summaryPartAdded",
                "item/reasoning/summaryTextDelta",
            ]
        );
        let index = |at: usize| params(&out, at)["summaryIndex"].clone();
        assert_eq!(
            [index(1), index(2), index(3), index(4)],
            [json!(0), json!(0), json!(1), json!(1)]
        );
        assert_eq!(params(&out, 3)["itemId"], "rs_a");
        assert_eq!(params(&out, 3)["threadId"], "t1");
    }

    #[test]
    fn a_reasoning_summary_cut_by_the_turn_end_is_completed_with_what_came() {
        let thinking: ItemId = "rs_a".into();
        let out = run(vec![
            Event::ItemStarted {
                item: thinking.clone(),
                kind: ItemKind::Reasoning,
            },
            Event::ReasoningDelta {
                item: thinking,
                delta: "Weighing".into(),
            },
            Event::TurnFinished(TurnOutcome::Interrupted),
        ]);
        assert_eq!(
            methods(&out),
            [
                "item/started",
                "item/reasoning/summaryTextDelta",
                "item/completed",
                "thread/status/changed",
                "turn/completed"
            ]
        );
        assert_eq!(params(&out, 2)["item"]["summary"], json!(["Weighing"]));
    }

    /// Every item an approval opens ends: a refused MCP call as `failed` (the protocol has no
    /// `declined` for one), a command the sandbox stopped and refused a second run when its run
    /// ends, and an approved call the interrupt kept from running when the turn ends.
    #[test]
    fn every_item_an_approval_opens_is_completed_once_in_the_protocols_words() {
        let ask = |call_id: &str, subject| Event::ApprovalRequested {
            id: 1,
            call_id: call_id.into(),
            subject,
            agent: None,
        };
        let answer = |call_id: &str, decision| Event::ApprovalAnswered {
            id: 1,
            call_id: call_id.into(),
            decision,
        };
        let command = |command: &str| ApprovalSubject::Command {
            command: command.into(),
            workdir: PathBuf::from("/p"),
            always_prefix: None,
        };
        let out = run(vec![
            ask(
                "m1",
                ApprovalSubject::McpTool {
                    server: "docs".into(),
                    tool: "search".into(),
                    arguments: String::new(),
                },
            ),
            answer("m1", Some(ApprovalDecision::No { reason: None })),
            ask("c1", command("touch /etc/x")),
            answer("c1", Some(ApprovalDecision::Yes)),
            Event::ToolStarted {
                call_id: "c1".into(),
                tool: tools::shell::NAME.into(),
                summary: "touch /etc/x".into(),
                paths: Vec::new(),
                facts: None,
            },
            ask(
                "c1",
                ApprovalSubject::Unsandboxed {
                    command: "touch /etc/x".into(),
                    workdir: PathBuf::from("/p"),
                    blocked: "the output mentions a permission error".into(),
                    requested: false,
                    always_prefix: None,
                },
            ),
            answer("c1", Some(ApprovalDecision::No { reason: None })),
            Event::ToolFinished {
                call_id: "c1".into(),
                success: false,
                exit_code: Some(1),
                duration: Duration::from_millis(5),
            },
            ask("c2", command("ls")),
            answer("c2", Some(ApprovalDecision::Yes)),
            Event::TurnFinished(TurnOutcome::Interrupted),
        ]);
        let items = |method: &str| -> Vec<Value> {
            messages(&out)
                .into_iter()
                .filter(|(m, _)| m == method)
                .map(|(_, mut params)| params["item"].take())
                .collect()
        };
        let started: Vec<Value> = items("item/started")
            .iter()
            .map(|item| item["id"].clone())
            .collect();
        assert_eq!(started, [json!("m1"), json!("c1"), json!("c2")]);
        let completed = items("item/completed");
        let ended: Vec<(&str, &str)> = completed
            .iter()
            .map(|item| {
                (
                    item["id"].as_str().unwrap(),
                    item["status"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            ended,
            [("m1", "failed"), ("c1", "failed"), ("c2", "declined")]
        );
        assert_eq!(completed[0]["type"], "mcpToolCall");
        assert_eq!(completed[0]["arguments"], json!({}));
        assert_eq!(completed[0]["error"]["message"], "the call was declined");
        assert_eq!(completed[1]["exitCode"], 1);
    }

    #[test]
    fn an_old_saved_history_becomes_turns_one_per_prompt() {
        use crate::llm::types::Item;
        let items = vec![
            Item::user_text("# AGENTS.md instructions for /p\n\nbe brief"),
            Item::user_text("list it"),
            Item::FunctionCall {
                name: tools::shell::NAME.into(),
                arguments: r#"{"command":"ls"}"#.into(),
                call_id: "c1".into(),
                namespace: None,
            },
            Item::FunctionCallOutput {
                call_id: "c1".into(),
                output: "a.txt\n".into(),
            },
            Item::assistant_text("One file."),
            Item::user_text("thanks"),
        ];
        let cwd = std::path::Path::new("/p");
        let turns = super::super::history::history_turns(
            &crate::agent::replay::replay(&items, &[], cwd),
            "t1",
            cwd,
        );
        let turns = serde_json::to_value(turns).unwrap();
        assert_eq!(turns.as_array().unwrap().len(), 2);
        let first = turns[0]["items"].as_array().unwrap();
        let kinds: Vec<&str> = first.iter().map(|i| i["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["userMessage", "commandExecution", "agentMessage"]);
        assert_eq!(first[1]["command"], "ls");
        assert_eq!(first[1]["aggregatedOutput"], "a.txt\n");
        assert_eq!(turns[1]["items"][0]["content"][0]["text"], "thanks");
        assert_eq!(turns[1]["id"], "turn-1");
    }

    #[test]
    fn an_image_is_said_viewed_once_read_and_not_at_all_when_it_could_not_be() {
        let view = |call_id: &str, success: bool| {
            [
                Event::ToolStarted {
                    call_id: call_id.into(),
                    tool: tools::view_image::NAME.into(),
                    summary: "plot.png".into(),
                    paths: Vec::new(),
                    facts: None,
                },
                Event::ToolFinished {
                    call_id: call_id.into(),
                    success,
                    exit_code: None,
                    duration: Duration::from_millis(3),
                },
            ]
        };
        let out = run(view("i1", true)
            .into_iter()
            .chain(view("i2", false))
            .collect());
        assert_eq!(methods(&out), ["item/started", "item/completed"]);
        for at in 0..2 {
            let item = &params(&out, at)["item"];
            assert_eq!(item["type"], "imageView");
            assert_eq!(item["id"], "i1");
            assert_eq!(item["path"], "/p/plot.png");
        }
    }

    #[test]
    fn commands_and_patches_are_items_named_by_their_tools_constants() {
        let out = run(vec![
            Event::ToolStarted {
                call_id: "c1".into(),
                tool: tools::shell::NAME.into(),
                summary: "ls".into(),
                paths: Vec::new(),
                facts: None,
            },
            Event::ToolOutput {
                call_id: "c1".into(),
                chunk: "a\n".into(),
            },
            Event::ToolFinished {
                call_id: "c1".into(),
                success: true,
                exit_code: Some(0),
                duration: Duration::from_millis(5),
            },
            Event::ToolStarted {
                call_id: "c2".into(),
                tool: tools::read_file::NAME.into(),
                summary: "a.txt".into(),
                paths: Vec::new(),
                facts: None,
            },
            Event::TurnFinished(TurnOutcome::Completed),
        ]);
        assert_eq!(
            methods(&out),
            [
                "item/started",
                "item/commandExecution/outputDelta",
                "item/completed",
                "thread/status/changed",
                "turn/completed"
            ]
        );
        let params = params(&out, 2);
        assert_eq!(params["item"]["type"], "commandExecution");
        assert_eq!(params["item"]["aggregatedOutput"], "a\n");
        assert_eq!(params["item"]["exitCode"], 0);
        assert_eq!(params["item"]["durationMs"], 5);
        assert_eq!(params["item"]["cwd"], "/p");
    }

    #[test]
    fn changes_are_shaped_as_codex_sends_them() {
        let change = |kind, diff: &str, move_to: Option<&str>| FileChange {
            kind,
            path: PathBuf::from("/p/a.rs"),
            move_to: move_to.map(PathBuf::from),
            diff: diff.into(),
            old_text: Some("old\n".into()),
            new_text: Some("new\n".into()),
        };
        let update = "--- a/a.rs\n+++ b/a.rs\n@@ -1 +1 @@\n-old\n+new\n";
        assert_eq!(
            file_update(&change(ChangeKind::Update, update, None)).diff,
            "@@ -1 +1 @@\n-old\n+new\n"
        );
        assert_eq!(
            file_update(&change(ChangeKind::Update, update, Some("/p/b.rs"))).diff,
            "@@ -1 +1 @@\n-old\n+new\n\n\nMoved to: /p/b.rs"
        );
        let added = "--- /dev/null\n+++ b/a.rs\n@@ -0,0 +1 @@\n+new\n";
        assert_eq!(
            file_update(&change(ChangeKind::Add, added, None)).diff,
            "new\n"
        );
        assert_eq!(
            file_update(&change(ChangeKind::Delete, added, None)).diff,
            "old\n"
        );
    }

    #[test]
    fn a_patch_item_starts_with_its_changes() {
        let change = FileChange {
            kind: ChangeKind::Update,
            path: PathBuf::from("/p/a.rs"),
            move_to: None,
            diff: "-old\n+new\n".into(),
            old_text: Some("old\n".into()),
            new_text: Some("new\n".into()),
        };
        let out = run(vec![
            Event::ToolStarted {
                call_id: "p1".into(),
                tool: tools::apply_patch::NAME.into(),
                summary: "M a.rs".into(),
                paths: Vec::new(),
                facts: None,
            },
            Event::FilesChanged {
                call_id: "p1".into(),
                changes: vec![change],
            },
            Event::ToolFinished {
                call_id: "p1".into(),
                success: true,
                exit_code: None,
                duration: Duration::from_millis(3),
            },
            // One that changed nothing still starts, at its end.
            Event::ToolStarted {
                call_id: "p2".into(),
                tool: tools::apply_patch::NAME.into(),
                summary: "M b.rs".into(),
                paths: Vec::new(),
                facts: None,
            },
            Event::ToolFinished {
                call_id: "p2".into(),
                success: false,
                exit_code: None,
                duration: Duration::from_millis(1),
            },
        ]);
        let sent = messages(&out);
        let items: Vec<(&str, &Value)> = sent
            .iter()
            .filter(|(method, _)| method.starts_with("item/"))
            .map(|(method, params)| (method.as_str(), &params["item"]))
            .collect();
        assert_eq!(items.len(), 4, "{out:?}");
        assert_eq!(items[0].0, "item/started");
        assert_eq!(items[0].1["changes"][0]["path"], "/p/a.rs");
        assert_eq!(items[0].1["changes"][0]["diff"], "-old\n+new\n");
        assert_eq!(items[1].0, "item/completed");
        assert_eq!(items[1].1["status"], "completed");
        assert_eq!((items[2].0, items[3].0), ("item/started", "item/completed"));
        assert_eq!(items[3].1["status"], "failed");
    }
}
