//! Core events as ACP `session/update`s: message and thought chunks, tool calls with their
//! kind, title, locations and content (text, diffs, command output), and the plan. Also the
//! replay of a saved conversation for `session/load`, and the permission request for an
//! approval.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use agent_client_protocol_schema::v1::{
    Content, ContentBlock, ContentChunk, Diff, MessageId, PermissionOption, Plan, PlanEntry,
    PlanEntryPriority, PlanEntryStatus, SessionUpdate, TextContent, ToolCall, ToolCallContent,
    ToolCallLocation, ToolCallStatus, ToolCallUpdate, ToolCallUpdateFields, ToolKind, UsageUpdate,
};

use crate::humanize;
use crate::protocol::ChangeKind;
use crate::protocol::TurnEnd;
use crate::protocol::{ApprovalDecision, ApprovalSubject, Event, ItemId, PlanStatus, PlanStep};
use crate::protocol::{Replay, Replayed};
use crate::{tools, tools::FileChange};

/// The most command output a tool call shows: the tail, so the end of a long build is there.
const OUTPUT_SHOWN: usize = 64 * 1024;
/// How often a running command's output is sent again: each update carries the whole tail, so
/// a command printing line by line must not send one per line.
pub const OUTPUT_EVERY: Duration = Duration::from_millis(150);

/// A text content block.
fn text(text: impl Into<String>) -> ContentBlock {
    ContentBlock::Text(TextContent::new(text.into()))
}

/// Whether text is the answer or the model's thinking.
#[derive(Debug, Clone, Copy)]
enum Said {
    Message,
    Thought,
}

impl Said {
    fn update(self, chunk: ContentChunk) -> SessionUpdate {
        match self {
            Self::Message => SessionUpdate::AgentMessageChunk(chunk),
            Self::Thought => SessionUpdate::AgentThoughtChunk(chunk),
        }
    }
}

/// A piece of the message `item`, named by it: a retry's answer is a new message, not more of
/// the voided one.
fn chunk(body: String, item: &ItemId) -> ContentChunk {
    ContentChunk::new(text(body)).message_id(Some(MessageId::new(item.clone())))
}

fn text_content(body: impl Into<String>) -> ToolCallContent {
    ToolCallContent::Content(Content::new(text(body)))
}

/// What a tool call is, as an editor shows it.
#[derive(Debug, Clone)]
struct Shown {
    kind: ToolKind,
    title: String,
    locations: Vec<ToolCallLocation>,
}

/// A tool by its wire name, summary and paths: its kind and a title that reads well.
fn describe(tool: &str, summary: &str, paths: &[PathBuf], project_dir: &Path) -> Shown {
    let relative = || {
        paths
            .iter()
            .map(|p| tools::paths::display(project_dir, p))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (kind, title) = match tool {
        tools::read_file::NAME => (ToolKind::Read, format!("Read {summary}")),
        tools::list_dir::NAME => (ToolKind::Search, format!("List {summary}")),
        tools::grep_files::NAME => (ToolKind::Search, format!("Search {summary}")),
        tools::shell::NAME | tools::terminals::EXEC_COMMAND => {
            (ToolKind::Execute, summary.to_string())
        }
        tools::apply_patch::NAME => (ToolKind::Edit, format!("Edit {}", relative())),
        tools::update_plan::NAME => (ToolKind::Think, "Update the plan".to_string()),
        other => (ToolKind::Other, format!("{other} {summary}")),
    };
    let locations = match tool {
        tools::shell::NAME | tools::terminals::EXEC_COMMAND => Vec::new(),
        _ => paths.iter().cloned().map(ToolCallLocation::new).collect(),
    };
    Shown {
        kind,
        title,
        locations,
    }
}

/// A patch's changes as ACP diffs: each file's whole text before and after.
fn diffs(changes: &[FileChange]) -> Vec<ToolCallContent> {
    changes
        .iter()
        .map(|change| {
            let path = change
                .move_to
                .clone()
                .unwrap_or_else(|| change.path.clone());
            let diff = Diff::new(path, change.new_text.clone().unwrap_or_default());
            ToolCallContent::Diff(diff.old_text(change.old_text.clone()))
        })
        .collect()
}

/// The kind a patch has once its changes are known: a pure delete or move says so.
fn patch_kind(changes: &[FileChange]) -> ToolKind {
    if !changes.is_empty() && changes.iter().all(|c| c.kind == ChangeKind::Delete) {
        ToolKind::Delete
    } else if !changes.is_empty()
        && changes
            .iter()
            .all(|c| c.move_to.is_some() && c.old_text == c.new_text)
    {
        ToolKind::Move
    } else {
        ToolKind::Edit
    }
}

fn plan(steps: &[PlanStep]) -> SessionUpdate {
    SessionUpdate::Plan(Plan::new(
        steps
            .iter()
            .map(|step| {
                let status = match step.status {
                    PlanStatus::Pending => PlanEntryStatus::Pending,
                    PlanStatus::InProgress => PlanEntryStatus::InProgress,
                    PlanStatus::Completed => PlanEntryStatus::Completed,
                };
                PlanEntry::new(step.step.clone(), PlanEntryPriority::Medium, status)
            })
            .collect(),
    ))
}

/// A command's output as the tool call shows it: the tail, in a fence.
fn output_content(output: &str) -> ToolCallContent {
    let shown = humanize::tail(output, OUTPUT_SHOWN);
    let tail = if shown.len() < output.len() {
        format!("…\n{shown}")
    } else {
        output.to_string()
    };
    text_content(format!("```\n{}\n```", tail.trim_end_matches('\n')))
}

/// One tool call the editor knows of.
#[derive(Debug, Default)]
struct Call {
    /// The tail of its output so far (commands), at most [`OUTPUT_SHOWN`] and a line.
    output: String,
    /// Output came that the editor has not been sent yet.
    unsent: bool,
    /// When output was last sent.
    sent_at: Option<Instant>,
    /// The background terminal its command went on in, past its call (`exec_command`).
    left_running: Option<i64>,
    /// The background terminal it polls or types into (`write_stdin`).
    polls: Option<i64>,
}

impl Call {
    fn push_output(&mut self, chunk: &str) {
        self.left_running = tools::terminals::left_running(chunk).or(self.left_running);
        self.output.push_str(chunk);
        humanize::keep_tail(&mut self.output, OUTPUT_SHOWN, 2 * OUTPUT_SHOWN);
        self.unsent = true;
    }

    /// Whether unsent output waits, and from when it may go (`None`: at once).
    fn due(&self) -> Option<Option<Instant>> {
        self.unsent
            .then(|| self.sent_at.map(|at| at + OUTPUT_EVERY))
    }
}

/// The translation state of one session: which tool calls the editor has seen, and the
/// message streaming now.
#[derive(Debug)]
pub struct Translator {
    project_dir: PathBuf,
    calls: HashMap<String, Call>,
    /// The calls whose commands went on as background terminals, by terminal: each stays an
    /// open tool call until a poll sees its command end.
    pub(super) open_terminals: super::open_terminals::OpenTerminals,
    /// The messages and thoughts of which a chunk has gone out.
    streamed: HashSet<ItemId>,
}

impl Translator {
    /// Nothing seen yet, for a session in `project_dir`.
    pub fn new(project_dir: PathBuf) -> Self {
        Self {
            project_dir,
            calls: HashMap::new(),
            open_terminals: Default::default(),
            streamed: HashSet::new(),
        }
    }

    fn web_search_started(&mut self, item: &ItemId) -> Vec<SessionUpdate> {
        self.calls.insert(item.to_string(), Call::default());
        vec![SessionUpdate::ToolCall(
            ToolCall::new(item.to_string(), "Searching the web")
                .kind(ToolKind::Fetch)
                .status(ToolCallStatus::InProgress),
        )]
    }

    /// The updates one core event makes (approvals and the end of a turn are the caller's).
    pub fn on_event(&mut self, event: Event) -> Vec<SessionUpdate> {
        match event {
            // Each chunk names its item as the message it belongs to: a retry's answer is a
            // new message, not more of the voided one.
            Event::TextDelta { item, delta } => self.piece(item, delta, Said::Message),
            Event::ReasoningDelta { item, delta } => self.piece(item, delta, Said::Thought),
            // A later part of the summary is a new paragraph of the thought.
            Event::ReasoningPartAdded { item, index } if index > 0 => {
                self.piece(item, "\n\n".to_string(), Said::Thought)
            }
            Event::MessageDone { item, text } => self.whole(&item, text, Said::Message),
            Event::ReasoningDone { item, text } => self.whole(&item, text, Said::Thought),
            Event::Retrying { voided, .. } => {
                for item in &voided {
                    self.streamed.remove(item);
                }
                Vec::new()
            }
            Event::ToolStarted {
                call_id,
                tool,
                summary,
                paths,
                ..
            } => self.tool_started(call_id, &tool, &summary, &paths),
            Event::ToolOutput { call_id, chunk } => {
                if let Some(call) = self.calls.get_mut(&call_id) {
                    call.push_output(&chunk);
                }
                Vec::new()
            }
            Event::FilesChanged { call_id, changes } => self.files_changed(call_id, &changes),
            // Refused: failed now, not again when the turn ends.
            Event::ApprovalAnswered {
                call_id,
                decision: Some(ApprovalDecision::No { .. }),
                ..
            } => self.refused(call_id),
            Event::ToolFinished {
                call_id,
                success,
                exit_code,
                ..
            } => self.tool_finished(call_id, success, exit_code),
            // A web search of the model's is a fetch the client can show, as codex-acp's.
            Event::WebSearchStarted { item } => self.web_search_started(&item),
            Event::WebSearchDone { item, action } => self.web_search_done(&item, &action),
            Event::AutoReview { review, .. } => super::review::updates(&review),
            Event::PlanUpdated { steps, .. } => vec![plan(&steps)],
            // An agent of the team finished: a done tool call of its own, as codex-acp shows
            // Codex's (the collaboration calls that started it are the parent's tool calls).
            Event::AgentActivity(activity)
                if activity.kind == crate::protocol::AgentActivityKind::Completed =>
            {
                vec![SessionUpdate::ToolCall(
                    ToolCall::new(activity.id, format!("The agent {} finished", activity.path))
                        .kind(ToolKind::Other)
                        .status(ToolCallStatus::Completed),
                )]
            }
            // A compaction is said, as the client shows no item for it.
            Event::Compacted { before, automatic } => vec![compacted(before, automatic)],
            // How full the context window is, after each response and a compaction.
            Event::ContextUsed {
                used,
                window: Some(size),
            } => vec![SessionUpdate::UsageUpdate(UsageUpdate::new(used, size))],
            // Events this face does not show: each new one must be placed here or given
            // an arm of its own.
            Event::ReasoningPartAdded { .. }
            // (An approval allowed or unanswered: the call's own update says how it went.)
            | Event::ApprovalAnswered { .. }
            | Event::CallDeclined { .. }
            | Event::ContextUsed { window: None, .. }
            | Event::Reply(_)
            | Event::TurnStarted { .. }
            | Event::Attached(..)
            | Event::ItemStarted { .. }
            // (The collaboration calls that made it are the parent's tool calls.)
            | Event::AgentActivity(_)
            | Event::OfAgent(_)
            | Event::ApprovalRequested { .. }
            | Event::QuestionsAsked { .. }
            | Event::Usage(..)
            | Event::RateLimits(..)
            | Event::TurnFinished(..)
            | Event::Notice(..)
            | Event::RunsLater(..)
            | Event::Error(..)
            | Event::GoalUpdated(..)
            | Event::GoalCleared
            | Event::McpToolCalled { .. } => Vec::new(),
        }
    }

    /// A call began: its line, or the update of the line its approval opened. The plan shows
    /// as a plan, not as a tool call.
    fn tool_started(
        &mut self,
        call_id: String,
        tool: &str,
        summary: &str,
        paths: &[std::path::PathBuf],
    ) -> Vec<SessionUpdate> {
        if tool == tools::update_plan::NAME {
            return Vec::new();
        }
        let shown = describe(tool, summary, paths, &self.project_dir);
        let known = self.calls.contains_key(&call_id);
        let call = self.calls.entry(call_id.clone()).or_default();
        call.polls = super::open_terminals::polled(tool, summary);
        if known {
            let fields = ToolCallUpdateFields::new()
                .status(ToolCallStatus::InProgress)
                .kind(shown.kind)
                .title(shown.title)
                .locations(shown.locations);
            return vec![SessionUpdate::ToolCallUpdate(ToolCallUpdate::new(
                call_id, fields,
            ))];
        }
        vec![SessionUpdate::ToolCall(
            ToolCall::new(call_id, shown.title)
                .kind(shown.kind)
                .status(ToolCallStatus::InProgress)
                .locations(shown.locations),
        )]
    }

    /// A call ended: its status, and the output no update carried yet.
    ///
    /// A command that went on as a background terminal leaves its call open (in progress, its
    /// output shown) until a poll of that terminal sees the command end, which closes it too.
    fn tool_finished(
        &mut self,
        call_id: String,
        success: bool,
        exit_code: Option<i32>,
    ) -> Vec<SessionUpdate> {
        let Some(call) = self.calls.remove(&call_id) else {
            return Vec::new();
        };
        let status = self
            .open_terminals
            .status(&call_id, call.left_running, success);
        let mut fields = ToolCallUpdateFields::new().status(status);
        if call.unsent || call.left_running.is_some() {
            fields = fields.content(vec![output_content(&call.output)]);
        }
        let finished = SessionUpdate::ToolCallUpdate(ToolCallUpdate::new(call_id, fields));
        std::iter::once(finished)
            .chain(self.open_terminals.closed_by(call.polls, exit_code))
            .collect()
    }

    /// A web search ended: what it looked for, on the line its start opened (or a new one).
    fn web_search_done(
        &mut self,
        item: &ItemId,
        action: &crate::protocol::WebSearchAction,
    ) -> Vec<SessionUpdate> {
        let query = action.detail();
        let title = if query.is_empty() {
            "Searched the web".to_string()
        } else {
            format!("Searched: {query}")
        };
        let raw = serde_json::json!({ "query": query, "action": action });
        if self.calls.remove(&**item).is_none() {
            return vec![SessionUpdate::ToolCall(
                ToolCall::new(item.to_string(), title)
                    .kind(ToolKind::Fetch)
                    .status(ToolCallStatus::Completed)
                    .raw_input(raw),
            )];
        }
        let fields = ToolCallUpdateFields::new()
            .status(ToolCallStatus::Completed)
            .title(title)
            .raw_input(raw);
        vec![SessionUpdate::ToolCallUpdate(ToolCallUpdate::new(
            item.to_string(),
            fields,
        ))]
    }

    /// A patch's files, with their diffs, on its line.
    fn files_changed(&mut self, call_id: String, changes: &[FileChange]) -> Vec<SessionUpdate> {
        if !self.calls.contains_key(&call_id) {
            return Vec::new();
        }
        let fields = ToolCallUpdateFields::new()
            .kind(patch_kind(changes))
            .content(diffs(changes));
        vec![SessionUpdate::ToolCallUpdate(ToolCallUpdate::new(
            call_id, fields,
        ))]
    }

    /// A call the person refused: failed now, not again when the turn ends.
    fn refused(&mut self, call_id: String) -> Vec<SessionUpdate> {
        if self.calls.remove(&call_id).is_none() {
            return Vec::new();
        }
        let fields = ToolCallUpdateFields::new().status(ToolCallStatus::Failed);
        vec![SessionUpdate::ToolCallUpdate(ToolCallUpdate::new(
            call_id, fields,
        ))]
    }

    /// A piece of the message or thought `item`.
    fn piece(&mut self, item: ItemId, text: String, said: Said) -> Vec<SessionUpdate> {
        let update = said.update(chunk(text, &item));
        self.streamed.insert(item);
        vec![update]
    }

    /// The message or thought `item`, whole: sent only when no piece of it was.
    fn whole(&mut self, item: &ItemId, text: String, said: Said) -> Vec<SessionUpdate> {
        if self.streamed.remove(item) || text.is_empty() {
            Vec::new()
        } else {
            vec![said.update(chunk(text, item))]
        }
    }

    /// Command output that came since the last update, one update per command and at most one
    /// each [`OUTPUT_EVERY`]; `None` for `now` sends all that waits (the end of a turn).
    pub fn flush(&mut self, now: Option<Instant>) -> Vec<SessionUpdate> {
        self.calls
            .iter_mut()
            .filter(|(_, call)| {
                call.due().is_some_and(|due| match (due, now) {
                    (Some(due), Some(now)) => due <= now,
                    _ => true,
                })
            })
            .map(|(id, call)| {
                call.unsent = false;
                call.sent_at = Some(now.unwrap_or_else(Instant::now));
                let fields =
                    ToolCallUpdateFields::new().content(vec![output_content(&call.output)]);
                SessionUpdate::ToolCallUpdate(ToolCallUpdate::new(id.clone(), fields))
            })
            .collect()
    }

    /// When output waiting to be sent is next due, if any waits.
    pub fn next_flush(&self) -> Option<Instant> {
        self.calls
            .values()
            .filter_map(|call| call.due().map(|due| due.unwrap_or_else(Instant::now)))
            .min()
    }

    /// At the end of a turn: calls that never finished (rejected, or cut off by a cancel) end
    /// as failed, so none stays pending in the editor.
    pub fn end_turn(&mut self) -> Vec<SessionUpdate> {
        self.streamed.clear();
        let mut updates = self.flush(None);
        updates.extend(self.calls.drain().map(|(id, _)| {
            let fields = ToolCallUpdateFields::new().status(ToolCallStatus::Failed);
            SessionUpdate::ToolCallUpdate(ToolCallUpdate::new(id, fields))
        }));
        updates
    }

    /// What the editor shows about a call that waits for approval.
    fn shown_for(&self, subject: &ApprovalSubject) -> (Shown, Vec<ToolCallContent>) {
        match subject {
            ApprovalSubject::Command { command, .. } => (
                describe(tools::shell::NAME, command, &[], &self.project_dir),
                Vec::new(),
            ),
            ApprovalSubject::Unsandboxed {
                command,
                blocked,
                requested,
                ..
            } => (
                describe(tools::shell::NAME, command, &[], &self.project_dir),
                vec![text_content(ApprovalSubject::unsandboxed_question(
                    blocked, *requested,
                ))],
            ),
            ApprovalSubject::Network {
                host,
                port,
                command,
                ..
            } => (
                describe(tools::shell::NAME, command, &[], &self.project_dir),
                vec![text_content(
                    crate::sandbox::proxy::rules::network_question(host, *port),
                )],
            ),
            ApprovalSubject::Patch { changes, .. } => {
                let paths: Vec<PathBuf> = changes
                    .iter()
                    .flat_map(|c| std::iter::once(c.path.clone()).chain(c.move_to.clone()))
                    .collect();
                let mut shown = describe(tools::apply_patch::NAME, "", &paths, &self.project_dir);
                shown.kind = patch_kind(changes);
                (shown, diffs(changes))
            }
            ApprovalSubject::McpTool {
                server,
                tool,
                arguments,
            } => (
                Shown {
                    kind: ToolKind::Other,
                    title: format!("{server}: {tool}"),
                    locations: Vec::new(),
                },
                vec![text_content(if arguments.is_empty() {
                    format!("Calls the tool `{tool}` of the MCP server `{server}`")
                } else {
                    format!(
                        "Calls the tool `{tool}` of the MCP server `{server}` with\n```json\n{arguments}\n```"
                    )
                })],
            ),
            ApprovalSubject::Read { summary, paths } => (
                Shown {
                    kind: ToolKind::Read,
                    title: summary.clone(),
                    locations: paths.iter().cloned().map(ToolCallLocation::new).collect(),
                },
                vec![text_content(format!(
                    "Reads outside the project: {}",
                    ApprovalSubject::outside_paths(paths)
                ))],
            ),
        }
    }

    /// For an approval: the `tool_call` that introduces the call if the editor has not seen it
    /// yet, and the tool call and options of the permission request.
    pub fn approval(
        &mut self,
        call_id: &str,
        subject: &ApprovalSubject,
        agent: Option<&str>,
    ) -> (Option<SessionUpdate>, ToolCallUpdate, Vec<PermissionOption>) {
        let (mut shown, content) = self.shown_for(subject);
        // Another agent of the team asks: its call is shown under its name.
        if let Some(agent) = agent {
            shown.title = format!("{agent}: {}", shown.title);
        }
        let announce = (!self.calls.contains_key(call_id)).then(|| {
            self.calls.insert(call_id.to_string(), Call::default());
            SessionUpdate::ToolCall(
                ToolCall::new(call_id.to_string(), shown.title.clone())
                    .kind(shown.kind)
                    .status(ToolCallStatus::Pending)
                    .locations(shown.locations.clone())
                    .content(content.clone()),
            )
        });
        let fields = ToolCallUpdateFields::new()
            .kind(shown.kind)
            .title(shown.title)
            .locations(shown.locations)
            .content(content);
        let options = super::permission::options(subject);
        (
            announce,
            ToolCallUpdate::new(call_id.to_string(), fields),
            options,
        )
    }
}

/// A saved conversation as the updates that showed it live: what the person wrote, then each
/// turn's events through the live translation (answers, thoughts, plans, tool calls with their
/// output and diffs).
pub fn replay(replay: &Replay, project_dir: &Path) -> Vec<SessionUpdate> {
    let mut translator = Translator::new(project_dir.to_path_buf());
    let mut updates = Vec::new();
    for turn in &replay.turns {
        for entry in &turn.entries {
            match entry {
                Replayed::Prompt(prompt) => updates.push(SessionUpdate::UserMessageChunk(
                    ContentChunk::new(text(prompt.text.clone())),
                )),
                Replayed::Event(event) => updates.extend(translator.on_event(event.clone())),
            }
        }
        updates.extend(translator.end_turn());
        if let Some(note) = turn
            .ended
            .as_ref()
            .and_then(|(how, message)| ended(*how, message))
        {
            updates.push(said(note));
        }
    }
    updates
}

/// How a saved turn that did not finish ended, said as a note of its own (live, the prompt's
/// stop reason said it, and a failure's message).
fn ended(how: TurnEnd, message: &Option<String>) -> Option<String> {
    match (how, message) {
        (TurnEnd::Failed, Some(message)) => Some(failure_note(message)),
        (TurnEnd::Failed, None) => Some(failure_note("the turn failed")),
        (TurnEnd::Stopped, Some(message)) => Some(format!("⚠ {message}")),
        (TurnEnd::Interrupted, _) => Some("Interrupted.".to_string()),
        (TurnEnd::Stopped, None) => None,
    }
}

/// A failed turn as the message that ends it.
pub fn failure_note(message: &str) -> String {
    format!("⚠ {message}")
}

/// A compaction, said as the client shows no item for it.
fn compacted(before: u64, automatic: bool) -> SessionUpdate {
    let why = if automatic {
        "to stay inside the context window"
    } else {
        "as asked"
    };
    let text = format!(
        "Compacted the conversation{} onto a summary {why}: the model goes on from it.\n",
        crate::humanize::tokens_aside(before)
    );
    said(text)
}

/// `text` as a message of its own the editor shows: never run on with the answer before it.
pub fn said(text: String) -> SessionUpdate {
    SessionUpdate::AgentMessageChunk(
        ContentChunk::new(ContentBlock::Text(TextContent::new(text)))
            .message_id(Some(MessageId::new(uuid::Uuid::new_v4().to_string()))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acp::permission::decision;

    fn started(t: &mut Translator, id: &str) {
        t.on_event(Event::ToolStarted {
            call_id: id.into(),
            tool: tools::shell::NAME.into(),
            summary: "make".into(),
            paths: Vec::new(),
            facts: None,
        });
    }

    fn output(t: &mut Translator, id: &str, chunk: &str) {
        t.on_event(Event::ToolOutput {
            call_id: id.into(),
            chunk: chunk.into(),
        });
    }

    fn status_of(update: &SessionUpdate) -> (String, Option<ToolCallStatus>) {
        match update {
            SessionUpdate::ToolCallUpdate(update) => {
                (update.tool_call_id.to_string(), update.fields.status)
            }
            other => panic!("{other:?}"),
        }
    }

    /// A command that went on as a background terminal stays an open tool call (its output
    /// shown) until the poll that sees it end closes it.
    #[test]
    fn a_background_terminal_stays_an_open_call_until_a_poll_sees_it_end() {
        let mut t = Translator::new(PathBuf::from("/p"));
        t.on_event(Event::ToolStarted {
            call_id: "e1".into(),
            tool: tools::terminals::EXEC_COMMAND.into(),
            summary: "npm run dev".into(),
            paths: Vec::new(),
            facts: None,
        });
        output(&mut t, "e1", "ready on :5173\n");
        output(
            &mut t,
            "e1",
            &format!(
                "{}3 (/ps lists it, /stop 3 ends it)\n",
                tools::terminals::STILL_RUNNING
            ),
        );
        let left = t.on_event(Event::ToolFinished {
            call_id: "e1".into(),
            success: true,
            exit_code: None,
            duration: Duration::from_secs(10),
        });
        assert_eq!(
            status_of(&left[0]),
            ("e1".into(), Some(ToolCallStatus::InProgress))
        );
        assert!(
            serde_json::to_string(&left)
                .unwrap()
                .contains("ready on :5173")
        );
        // A poll that finds it running closes nothing; the one that sees its end closes it.
        for (poll, exit_code) in [("w1", None), ("w2", Some(0))] {
            t.on_event(Event::ToolStarted {
                call_id: poll.into(),
                tool: tools::terminals::WRITE_STDIN.into(),
                summary: format!("{}3 (npm run dev)", tools::terminals::SESSION_WORD),
                paths: Vec::new(),
                facts: None,
            });
            let ended = t.on_event(Event::ToolFinished {
                call_id: poll.into(),
                success: true,
                exit_code,
                duration: Duration::from_secs(5),
            });
            let statuses: Vec<_> = ended.iter().map(status_of).collect();
            match exit_code {
                None => assert_eq!(statuses, [(poll.into(), Some(ToolCallStatus::Completed))]),
                Some(_) => assert_eq!(
                    statuses,
                    [
                        (poll.into(), Some(ToolCallStatus::Completed)),
                        ("e1".into(), Some(ToolCallStatus::Completed))
                    ]
                ),
            }
        }
    }

    #[test]
    fn command_output_goes_out_at_most_once_a_period_and_as_its_tail() {
        let mut t = Translator::new(PathBuf::from("/p"));
        started(&mut t, "c1");
        let start = Instant::now();
        for i in 0..1000 {
            output(&mut t, "c1", &format!("line {i}\n"));
        }
        assert_eq!(
            t.flush(Some(start)).len(),
            1,
            "the first output goes at once"
        );
        output(&mut t, "c1", "more\n");
        assert!(t.flush(Some(start)).is_empty(), "then it waits");
        let due = t.next_flush().expect("output waits");
        assert!(due >= start + OUTPUT_EVERY, "{:?}", due - start);
        let sent = t.flush(Some(due));
        assert_eq!(sent.len(), 1);
        // Megabytes of output keep only the tail the editor is shown.
        for _ in 0..100 {
            output(&mut t, "c1", &"x".repeat(16 * 1024));
        }
        output(&mut t, "c1", "the end\n");
        assert!(t.calls["c1"].output.len() <= 2 * OUTPUT_SHOWN);
        let shown = serde_json::to_string(&t.flush(None)).unwrap();
        assert!(shown.contains("the end"), "{}", &shown[shown.len() - 100..]);
        assert!(t.next_flush().is_none());
    }

    /// A running command's first contact with a host: the call the editor already shows is
    /// asked about, and its options are this command, this session and this project, each read
    /// back as the core's decision.
    #[test]
    fn a_host_a_command_asks_to_reach_offers_the_command_the_session_and_the_project() {
        let mut t = Translator::new(PathBuf::from("/p"));
        started(&mut t, "c1");
        let subject = ApprovalSubject::Network {
            host: "pypi.example".into(),
            port: 443,
            via: crate::protocol::Via::Https,
            command: "pip install x".into(),
            workdir: PathBuf::from("/p"),
        };
        let (announce, call, options) = t.approval("c1", &subject, None);
        assert!(announce.is_none(), "the editor has the call already");
        let shown = serde_json::to_string(&call).unwrap();
        assert!(
            shown.contains("Let commands reach pypi.example on ports 80 and 443 (this one asks for 443)? It is not on allowed_domains"),
            "{shown}"
        );
        let read: Vec<(String, ApprovalDecision)> = options
            .iter()
            .map(|option| {
                let id = option.option_id.to_string();
                (option.name.clone(), decision(Some(id.as_str())))
            })
            .collect();
        assert_eq!(
            read,
            [
                (
                    "Allow it for this command".to_string(),
                    ApprovalDecision::Yes
                ),
                (
                    "Allow it for this session".to_string(),
                    ApprovalDecision::Always
                ),
                (
                    "Always allow pypi.example in this project".to_string(),
                    ApprovalDecision::AlwaysPrefix
                ),
                ("Reject".to_string(), ApprovalDecision::No { reason: None }),
                (
                    "Never allow pypi.example in this project".to_string(),
                    ApprovalDecision::NeverHere
                ),
            ]
        );
    }
}
