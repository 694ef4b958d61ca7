//! The items of a thread as the server tells them (`item/started`, `item/completed`, a
//! resumed thread's turns) become the events the core sends for the same things: an answer, a
//! reasoning summary, a command, a patch with its diff, an MCP call, a web search.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::protocol::{Event, ItemKind, Replay, Replayed, ReplayedTurn, SavedPrompt};
use crate::tools::FileChange;
use crate::wire::{self, ItemStatus, ThreadItem as Item};

/// The tool calls of the thread in hand, between their start and their end.
#[derive(Debug, Default)]
pub struct Calls {
    project_dir: PathBuf,
    /// When each call began here, for the duration of one the server does not time.
    begun: HashMap<String, Instant>,
    /// The changes of each patch, for its approval and its end.
    changes: HashMap<String, Vec<FileChange>>,
    /// Commands whose output streamed (their end does not show it again).
    streamed: HashSet<String>,
    /// Each running command, for a question asked while it runs (a host it asks to reach).
    commands: HashMap<String, String>,
    /// The task path of each agent of the thread's team, by its own thread's id.
    agents: HashMap<String, String>,
}

impl Calls {
    pub fn new(project_dir: PathBuf) -> Self {
        Self {
            project_dir,
            ..Self::default()
        }
    }

    /// Whether the call `id` began while this client listened.
    pub fn known(&self, id: &str) -> bool {
        self.begun.contains_key(id)
    }

    /// The changes of the patch `id`, as its start said them.
    pub fn changes_of(&self, id: &str) -> Vec<FileChange> {
        self.changes.get(id).cloned().unwrap_or_default()
    }

    /// The running command `id`, as its start said it.
    pub fn command_of(&self, id: &str) -> Option<String> {
        self.commands.get(id).cloned()
    }

    /// The task path of the agent of the thread's team whose thread is `thread_id`.
    pub fn agent_of(&self, thread_id: &str) -> Option<String> {
        self.agents.get(thread_id).cloned()
    }

    /// Output of the command `id` streamed: its end does not repeat it.
    pub fn output_streamed(&mut self, id: &str) {
        self.streamed.insert(id.to_string());
    }

    /// A thread's turns as the transcript a reopened conversation draws.
    pub fn replay(&mut self, turns: &[wire::Turn]) -> Replay {
        let turns = turns
            .iter()
            .map(|turn| {
                let mut entries = Vec::new();
                let mut prompts = 0;
                for item in &turn.items {
                    if let Item::UserMessage { content, .. } = item {
                        entries.push(Replayed::Prompt(saved_prompt(content, prompts > 0)));
                        prompts += 1;
                        continue;
                    }
                    for event in self.started(item.clone()) {
                        entries.push(Replayed::Event(event));
                    }
                    for event in self.completed(item.clone()) {
                        entries.push(Replayed::Event(event));
                    }
                }
                let ended = match turn.status {
                    wire::TurnStatus::Interrupted => {
                        Some((crate::protocol::TurnEnd::Interrupted, None))
                    }
                    wire::TurnStatus::Failed => Some((
                        crate::protocol::TurnEnd::Failed,
                        turn.error.as_ref().map(|e| e.message.clone()),
                    )),
                    _ => None,
                };
                ReplayedTurn {
                    id: turn.id.clone(),
                    entries,
                    ended,
                }
            })
            .collect();
        Replay {
            turns,
            ..Replay::default()
        }
    }

    /// What an item's start shows.
    pub fn started(&mut self, item: Item) -> Vec<Event> {
        match item {
            Item::AgentMessage { id, .. } => vec![Event::ItemStarted {
                item: id.into(),
                kind: ItemKind::AgentMessage,
            }],
            Item::Reasoning { id, .. } => vec![Event::ItemStarted {
                item: id.into(),
                kind: ItemKind::Reasoning,
            }],
            Item::CommandExecution {
                id, command, cwd, ..
            } => {
                self.begun.insert(id.clone(), Instant::now());
                self.commands.insert(id.clone(), command.clone());
                vec![Event::ToolStarted {
                    call_id: id,
                    tool: "shell".to_string(),
                    summary: command,
                    paths: vec![cwd],
                    facts: None,
                }]
            }
            Item::FileChange { id, changes, .. } => {
                let changes: Vec<FileChange> = changes
                    .into_iter()
                    .map(|change| file_change(change, &self.project_dir))
                    .collect();
                let summary = changes
                    .iter()
                    .map(|c| shown_path(&c.path, &self.project_dir))
                    .collect::<Vec<_>>()
                    .join(", ");
                let paths = changes.iter().map(|c| c.path.clone()).collect();
                self.begun.insert(id.clone(), Instant::now());
                self.changes.insert(id.clone(), changes);
                vec![Event::ToolStarted {
                    call_id: id,
                    tool: "apply_patch".to_string(),
                    summary,
                    paths,
                    facts: None,
                }]
            }
            Item::McpToolCall {
                id, server, tool, ..
            } => {
                self.begun.insert(id.clone(), Instant::now());
                vec![Event::ToolStarted {
                    call_id: id,
                    tool: format!("{server}.{tool}"),
                    summary: String::new(),
                    paths: Vec::new(),
                    facts: None,
                }]
            }
            Item::WebSearch { id, .. } => vec![Event::WebSearchStarted { item: id.into() }],
            Item::EnteredReviewMode { review, .. } => {
                vec![Event::Notice(format!("Reviewing {review}"))]
            }
            Item::ImageView { id, path } => {
                self.begun.insert(id.clone(), Instant::now());
                vec![Event::ToolStarted {
                    call_id: id,
                    tool: crate::tools::view_image::NAME.to_string(),
                    summary: shown_path(&path, &self.project_dir),
                    paths: vec![path],
                    facts: None,
                }]
            }
            Item::CollabAgentToolCall { id, .. } => {
                self.begun.insert(id.clone(), Instant::now());
                vec![Event::ToolStarted {
                    call_id: id,
                    tool: "wait_agent".to_string(),
                    summary: "any agent".to_string(),
                    paths: Vec::new(),
                    facts: None,
                }]
            }
            // Shown once, as it completes.
            Item::UserMessage { .. }
            | Item::ExitedReviewMode { .. }
            | Item::ContextCompaction { .. }
            | Item::SubAgentActivity { .. }
            | Item::Unknown => Vec::new(),
        }
    }

    /// What an item's end shows.
    pub fn completed(&mut self, item: Item) -> Vec<Event> {
        match item {
            Item::AgentMessage { id, text } => vec![Event::MessageDone {
                item: id.into(),
                text,
            }],
            Item::Reasoning { id, summary, .. } => vec![Event::ReasoningDone {
                item: id.into(),
                text: summary.join("\n\n"),
            }],
            Item::CommandExecution {
                id,
                status,
                aggregated_output,
                exit_code,
                duration_ms,
                ..
            } => {
                self.commands.remove(&id);
                let mut events = Vec::new();
                if !self.streamed.remove(&id)
                    && let Some(output) = aggregated_output.filter(|o| !o.is_empty())
                {
                    events.push(Event::ToolOutput {
                        call_id: id.clone(),
                        chunk: output,
                    });
                }
                events.push(self.finished(id, status, exit_code, duration_ms));
                events
            }
            Item::FileChange {
                id,
                changes,
                status,
            } => {
                let changes: Vec<FileChange> = match self.changes.remove(&id) {
                    Some(known) if changes.is_empty() => known,
                    _ => changes
                        .into_iter()
                        .map(|change| file_change(change, &self.project_dir))
                        .collect(),
                };
                let mut events = Vec::new();
                if status == ItemStatus::Completed {
                    events.push(Event::FilesChanged {
                        call_id: id.clone(),
                        changes,
                    });
                }
                events.push(self.finished(id, status, None, None));
                events
            }
            Item::McpToolCall {
                id,
                status,
                duration_ms,
                ..
            } => vec![self.finished(id, status, None, duration_ms)],
            Item::CollabAgentToolCall { id, status, .. } => {
                vec![self.finished(id, status, None, None)]
            }
            // Codex says an image was viewed only once it was read.
            Item::ImageView { id, .. } => {
                vec![self.finished(id, ItemStatus::Completed, None, None)]
            }
            Item::SubAgentActivity {
                id,
                kind,
                agent_thread_id,
                agent_path,
                model,
                reasoning_effort,
            } => self.agent_activity(
                id,
                kind,
                (agent_thread_id, agent_path),
                (model, reasoning_effort),
            ),
            Item::WebSearch { id, action, .. } => match action {
                Some(action) => vec![Event::WebSearchDone {
                    item: id.into(),
                    action: action.into(),
                }],
                None => Vec::new(),
            },
            Item::UserMessage { .. }
            | Item::EnteredReviewMode { .. }
            | Item::ExitedReviewMode { .. }
            | Item::ContextCompaction { .. }
            | Item::Unknown => Vec::new(),
        }
    }

    /// An agent of the team's activity, its thread kept for what it asks.
    fn agent_activity(
        &mut self,
        id: String,
        kind: crate::wire::SubAgentActivityKind,
        (thread, path): (String, String),
        (model, effort): (Option<String>, Option<String>),
    ) -> Vec<Event> {
        let Some(kind) = activity(kind) else {
            return Vec::new();
        };
        self.agents.insert(thread.clone(), path.clone());
        vec![Event::AgentActivity(crate::protocol::AgentActivity {
            id,
            kind,
            path,
            conversation: thread,
            model,
            effort,
        })]
    }

    fn finished(
        &mut self,
        id: String,
        status: ItemStatus,
        exit_code: Option<i32>,
        duration_ms: Option<u64>,
    ) -> Event {
        let started = self.begun.remove(&id);
        let duration = duration_ms
            .map(Duration::from_millis)
            .or_else(|| started.map(|at| at.elapsed()))
            .unwrap_or_default();
        Event::ToolFinished {
            call_id: id,
            success: status == ItemStatus::Completed && exit_code.is_none_or(|code| code == 0),
            exit_code,
            duration,
        }
    }
}

/// The person's input as saved: its words, and its images' paths or URLs.
fn saved_prompt(content: &Value, steer: bool) -> SavedPrompt {
    let mut text = String::new();
    let mut images = Vec::new();
    for input in content.as_array().into_iter().flatten() {
        match input.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(input.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("image") => {
                images.extend(input.get("url").and_then(Value::as_str).map(str::to_string))
            }
            Some("localImage") => images.extend(
                input
                    .get("path")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            ),
            _ => {}
        }
    }
    SavedPrompt {
        text,
        attached: Vec::new(),
        images,
        steer,
    }
}

/// A listed thread as the picker shows a saved conversation; `None` for one whose id is not
/// a conversation id.
pub fn session_summary(thread: wire::Thread) -> Option<crate::protocol::SessionSummary> {
    let id = uuid::Uuid::parse_str(&thread.id).ok()?;
    let at = |secs: i64| chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default();
    let first_prompt = Some(thread.preview.lines().next().unwrap_or("").to_string())
        .filter(|line| !line.is_empty());
    Some(crate::protocol::SessionSummary {
        id,
        path: thread
            .path
            .unwrap_or_else(|| PathBuf::from(format!("thread:{}", thread.id))),
        project_dir: thread.cwd,
        model: String::new(),
        started_at: at(thread.created_at),
        first_prompt,
        size: 0,
        side_of: thread
            .attached_to_thread_id
            .as_deref()
            .and_then(|id| uuid::Uuid::parse_str(id).ok()),
        modified: Some(
            SystemTime::UNIX_EPOCH + Duration::from_secs(thread.updated_at.max(0) as u64),
        ),
        name: thread.name.flatten(),
        forked_from: thread
            .forked_from_id
            .flatten()
            .and_then(|id| uuid::Uuid::parse_str(&id).ok()),
        agent: None,
        last_exchange: None,
    })
}

/// The id of a tool call's item (a command, a patch, an MCP call).
pub fn call_id(item: &Item) -> Option<&str> {
    match item {
        Item::CommandExecution { id, .. }
        | Item::FileChange { id, .. }
        | Item::McpToolCall { id, .. } => Some(id),
        _ => None,
    }
}

/// A path as a diff names it: beneath the project, relative to it.
fn shown_path(path: &Path, project: &Path) -> String {
    path.strip_prefix(project)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// A changed file as the server says it (a new file's text, a deleted one's, an update's
/// hunks), as the unified diff a face draws.
fn file_change(change: wire::FileUpdateChange, project: &Path) -> FileChange {
    use crate::protocol::ChangeKind;
    let path = if change.path.is_absolute() {
        change.path
    } else {
        project.join(change.path)
    };
    let name = shown_path(&path, project);
    let whole = |sign: char, text: &str| -> String {
        let count = text.lines().count();
        let range = match sign {
            '+' => format!("@@ -0,0 +1,{count} @@"),
            _ => format!("@@ -1,{count} +0,0 @@"),
        };
        let mut out = range;
        for line in text.lines() {
            out.push('\n');
            out.push(sign);
            out.push_str(line);
        }
        out.push('\n');
        out
    };
    match change.kind {
        wire::PatchChangeKind::Add => FileChange {
            kind: ChangeKind::Add,
            diff: format!("--- /dev/null\n+++ b/{name}\n{}", whole('+', &change.diff)),
            new_text: Some(change.diff),
            old_text: None,
            move_to: None,
            path,
        },
        wire::PatchChangeKind::Delete => FileChange {
            kind: ChangeKind::Delete,
            diff: format!("--- a/{name}\n+++ /dev/null\n{}", whole('-', &change.diff)),
            old_text: Some(change.diff),
            new_text: None,
            move_to: None,
            path,
        },
        wire::PatchChangeKind::Update { move_path } => {
            let hunks = match change.diff.split_once("\n\nMoved to: ") {
                Some((hunks, _)) => hunks.to_string(),
                None => change.diff,
            };
            let move_to = move_path.map(|to| {
                if to.is_absolute() {
                    to
                } else {
                    project.join(to)
                }
            });
            let to_name = move_to
                .as_deref()
                .map_or(name.clone(), |to| shown_path(to, project));
            let hunks = if hunks.ends_with('\n') {
                hunks
            } else {
                format!("{hunks}\n")
            };
            FileChange {
                kind: ChangeKind::Update,
                diff: format!("--- a/{name}\n+++ b/{to_name}\n{hunks}"),
                old_text: None,
                new_text: None,
                move_to,
                path,
            }
        }
    }
}

/// What happened to an agent, in kelp's words; `None` for a kind a newer server has.
fn activity(kind: crate::wire::SubAgentActivityKind) -> Option<crate::protocol::AgentActivityKind> {
    use crate::protocol::AgentActivityKind as Kind;
    use crate::wire::SubAgentActivityKind as Said;
    Some(match kind {
        Said::Started => Kind::Started,
        Said::Interacted => Kind::Interacted,
        Said::Interrupted => Kind::Interrupted,
        Said::Completed => Kind::Completed,
        Said::Unknown => return None,
    })
}
