//! One conversation: its history, settings and session file.
//!
//! The history is what every request replays (PROTOCOL.md §6). A new conversation starts with
//! the project's `AGENTS.md` message; every completed item is recorded to the session file as
//! soon as it is complete, so a resumed conversation continues exactly where it stopped.
//! Going back to before a turn is `conversation/rewind.rs`; what its tools share with a face
//! or another agent (the editor, terminals, language servers, MCP servers),
//! `conversation/shared.rs`.

mod rewind;
mod shared;

use std::path::{Path, PathBuf};

use serde_json::Value;
use uuid::Uuid;

use super::instructions;

use crate::config::Config;
use crate::llm::types::{Content, Item, Role};
use crate::llm::{Prompt, models};
use crate::protocol::InstructionFile;
use crate::protocol::TokenUsage;
use crate::protocol::{CollaborationMode, Replay, Settings};
use crate::protocol::{Goal, GoalStatus};
use crate::protocol::{ReasoningEffort, SummaryStyle};
use crate::session::goal::GoalCell;
use crate::session::{Entry, Note, SessionError, SessionHeader, SessionLog, SessionWriter};
use crate::tools::{SandboxPolicy, ToolContext, tool_specs};

/// Why a rewind cannot go back past the last compaction, and what can.
const BEFORE_COMPACTION: &str = "only the saved file keeps what came before it; fork the \
     conversation through that turn instead (thread/fork with lastTurnId)";

/// What a call interrupted by a crash gets as its output when the conversation is resumed.
const LOST_OUTPUT: &str = "aborted: kelp stopped before this call finished";

/// What the model is told in place of the part of a resumed conversation too long to send.
const LEFT_OUT: &str = "The earlier part of this conversation was longer than any context \
window takes and is left out; only its most recent turns follow.";

/// What the model is told in plan mode, after kelp's instructions.
const PLAN_INSTRUCTIONS: &str = "\n\n# Plan mode\n\nYou are in plan mode: plan the work, do not \
do it. Read, list, search and run commands that only look (the sandbox is read-only: nothing \
you run can change a file); no patch can be applied. Ask the person about what only they can \
decide. Then answer with the plan: keep the checklist up to date with `update_plan`, and end \
with the plan in full between `<proposed_plan>` and `</proposed_plan>`: the steps, the files \
each touches, and how the result will be checked. Do not ask whether to proceed: the person \
says \"implement the plan\" when they want it done.";

/// What the person is told when a resumed conversation is sent only in its newest part.
pub const LEFT_OUT_NOTICE: &str = "This conversation is longer than a request can carry (it \
was not compacted in time): the model is sent its newest turns only; the saved conversation \
keeps them all. /compact summarises what is sent.";

/// A conversation: history, model, tools, project and session file.
#[derive(Debug)]
pub struct Conversation {
    model: String,
    reasoning_effort: ReasoningEffort,
    /// The service tier requests ask for (`/fast`, a host's `serviceTier`).
    service_tier: Option<crate::protocol::ServiceTier>,
    summary_style: SummaryStyle,
    tool_context: ToolContext,
    tools: Vec<Value>,
    /// The history in memory: the items from `items_base` on. Those before it are covered by
    /// a compaction's summary, so no request carries them; the session file keeps them.
    history: Vec<Item>,
    items_base: usize,
    /// Where the turns stand at `items_base`, so the turns after it keep their ids.
    turns_at_base: crate::session::TurnSplitter,
    /// The project instructions from before `items_base`, which every request still carries.
    preamble: Vec<Item>,
    /// kelp's notes beside the history in memory (from `notes_base` on), each with how many
    /// items came before it in the whole history.
    notes: Vec<(usize, Note)>,
    notes_base: usize,
    session: SessionWriter,
    usage: TokenUsage,
    /// The items from here on are sent; those before it are covered by `summary`.
    sent_from: usize,
    /// The summary a compaction replaced the items before `sent_from` with.
    summary: Option<String>,
    /// Whether the items since the last compaction were more than a request carries when the
    /// conversation was resumed, and the older of them are not sent.
    left_out: bool,
    /// The model a resumed conversation last used, when it goes on with another.
    recorded_model: Option<String>,
    /// Tokens the last request took (its input and output): how full the window is.
    context_used: u64,
    /// The configured context window, which beats what kelp knows of the model.
    context_window_override: Option<u64>,
    /// Whether saving failed already, so the person is told once, not per item.
    save_failed: bool,
    /// The AGENTS.md files this conversation started with (empty for a resumed one: their text
    /// is already in its history).
    instruction_files: Vec<InstructionFile>,
    /// A reviewer's conversation ([`Conversation::reviewer`]): it reads and reports, and no
    /// patch of its runs.
    reviewing: bool,
    /// The goal as the session file last noted it: a change since is noted next.
    saved_goal: Option<Goal>,
    /// Plan mode: the sandbox chosen for working, kept while commands only read.
    planning: Option<(crate::protocol::SandboxMode, bool)>,
}

/// What going back leaves to do: the words of the turn gone back to, for the person to edit and
/// send again, and the file changes made from it on.
#[derive(Debug, Clone, PartialEq)]
pub struct Rewind {
    pub prompt: Option<String>,
    pub changes: Vec<crate::session::record::SavedChange>,
}

/// Where tools run: `project_dir`, with the sandbox the configuration asks for, and a goal
/// cell of the conversation's own.
fn tool_context(config: &Config, project_dir: &Path) -> ToolContext {
    let limit = config
        .secrets
        .max_background_terminals
        .unwrap_or(crate::tools::terminals::DEFAULT_LIMIT);
    ToolContext {
        goal: Some(GoalCell::default()),
        terminals: crate::tools::terminals::Terminals::with_limit(limit),
        lsp: crate::tools::lsp::LanguageServers::new(&config.lsp),
        ..ToolContext::new(project_dir)
            .with_sandbox(SandboxPolicy::for_project(config, project_dir))
    }
}

impl Conversation {
    /// A new conversation in `project_dir`, starting with the project's instructions. Returns
    /// warnings about instruction files that could not be read. Reads files: bounded and small.
    pub fn new(config: &Config, project_dir: &Path, model: String) -> (Self, Vec<String>) {
        let tool_context = tool_context(config, project_dir);
        let header = SessionHeader::new(tool_context.project_dir.clone(), model.clone());
        let session = SessionWriter::create(&config.state_dir, header);
        let loaded = instructions::load(&config.config_dir, &tool_context.project_dir);
        let skills = super::skills::discover(
            &config.config_dir,
            &config.skills,
            &tool_context.project_dir,
            |name| std::env::var_os(name),
        );
        let mut conversation = Self::with(config, model, tool_context, session);
        conversation.instruction_files = loaded.files;
        let mut warnings = loaded.warnings;
        let mut message = loaded.message;
        // The skills go last in the instructions message: what each is for and its file.
        if let Some(text) = super::skills::instructions(&skills.skills) {
            let part = Content::InputText { text };
            match &mut message {
                Some(Item::Message { content, .. }) => content.push(part),
                _ => {
                    message = Some(Item::Message {
                        role: Role::User,
                        content: vec![part],
                    });
                }
            }
        }
        if let Some(message) = message
            && let Err(e) = conversation.record(message)
        {
            warnings.push(e.to_string());
        }
        (conversation, warnings)
    }

    /// A reviewer beside this conversation (`/review`, `review/start`), as Codex runs one: the
    /// same model, project and tools, none of the history but the project's instructions (a
    /// review judges the code, not the talk that made it), commands in a read-only sandbox, no
    /// `apply_patch` offered or run, and nothing saved: its findings join this conversation
    /// when it ends.
    pub fn reviewer(&self) -> Self {
        let mut tool_context = self.tool_context.clone();
        // A review reads: its commands run unasked, so they reach no network (at most the
        // allowed domains), as plan mode's.
        tool_context.sandbox = tool_context
            .sandbox
            .with_mode(crate::protocol::SandboxMode::ReadOnly, false);
        tool_context.goal = None;
        let history = self
            .preamble
            .iter()
            .chain(&self.history)
            .filter(|item| item.is_instructions_message())
            .cloned()
            .collect();
        Self {
            model: self.model.clone(),
            reasoning_effort: self.reasoning_effort,
            service_tier: self.service_tier,
            summary_style: self.summary_style,
            tool_context,
            tools: self
                .tools
                .iter()
                .filter(|tool| tool["name"] != "apply_patch")
                .cloned()
                .collect(),
            history,
            items_base: 0,
            turns_at_base: crate::session::TurnSplitter::default(),
            preamble: Vec::new(),
            notes: Vec::new(),
            notes_base: 0,
            session: SessionWriter::unsaved(self.session.header().clone()),
            usage: TokenUsage::default(),
            sent_from: 0,
            left_out: false,
            recorded_model: None,
            summary: None,
            context_used: 0,
            context_window_override: self.context_window_override,
            save_failed: false,
            instruction_files: Vec::new(),
            reviewing: true,
            saved_goal: None,
            planning: None,
        }
    }

    /// Whether this is a reviewer's conversation, whose patches never run.
    pub fn is_reviewer(&self) -> bool {
        self.reviewing
    }

    /// The last thing the model answered, as text (a reviewer's findings).
    pub fn last_answer(&self) -> Option<String> {
        self.history.iter().rev().find_map(|item| match item {
            Item::Message {
                role: Role::Assistant,
                content,
            } => Some(
                content
                    .iter()
                    .filter_map(|part| match part {
                        Content::OutputText { text } => Some(text.as_str()),
                        _ => None,
                    })
                    .collect::<String>(),
            ),
            _ => None,
        })
    }

    /// Keeps this conversation out of the saved ones: nothing of it is written (an embedding
    /// host's ephemeral thread).
    pub fn unsaved(&mut self) {
        self.session = SessionWriter::unsaved(self.session.header().clone());
    }

    /// Continues the conversation saved at `path`, in its own project directory; the model is
    /// the configured one, else the one it was saved with. Returns it with its newest turns as
    /// a face shows them again (bounded: see [`super::replay::newest`]).
    pub fn resume(config: &Config, path: &Path) -> Result<(Self, Replay), SessionError> {
        let log = SessionLog::load_recent(
            path,
            super::replay::SHOWN_BYTES as u64,
            super::replay::SHOWN_TURNS,
        )?;
        let session = SessionWriter::reopen(path)?;
        let model = config.model_or(Some(log.last_model()));
        let recorded_model = (model != log.last_model()).then(|| log.last_model().to_string());
        let tool_context = tool_context(config, &log.header.project_dir);
        let mut conversation = Self::with(config, model, tool_context, session);
        conversation.usage = log.usage();
        conversation.recorded_model = recorded_model;
        conversation.context_used = log.context_used();
        conversation.saved_goal = log.goal();
        conversation.goal_cell().put(log.goal());
        if let Some((summary, sent_from)) = log.compacted() {
            conversation.summary = Some(summary);
            conversation.sent_from = sent_from.min(log.items_base + log.items.len());
        }
        // More since the last compaction than any request could carry: the newest part is
        // sent, and the model is told the rest was left out.
        if let Some(cut) = log.sent_cut {
            let earlier = conversation
                .summary
                .take()
                .map(|summary| format!("{summary}\n\n"));
            conversation.summary = Some(format!("{}{LEFT_OUT}", earlier.unwrap_or_default()));
            conversation.sent_from = cut.min(log.items_base + log.items.len());
            conversation.left_out = true;
        }
        let mut shown = super::replay::newest(super::replay::replay_from(
            &log.items,
            log.items_base,
            log.turns_at_base,
            &log.notes,
            &log.header.project_dir,
        ));
        shown.has_instructions |= !log.preamble.is_empty();
        shown.goal = log.goal();
        conversation.history = log.items;
        conversation.notes = log.notes;
        conversation.items_base = log.items_base;
        conversation.turns_at_base = log.turns_at_base;
        conversation.notes_base = log.notes_base;
        conversation.preamble = log.preamble;
        conversation.forget_what_is_not_sent();
        crate::task::give_back_freed_memory();
        // A crash between a call and its output leaves a call the API would reject without one.
        for call_id in unanswered_calls(&conversation.history) {
            conversation.record(Item::FunctionCallOutput {
                call_id,
                output: LOST_OUTPUT.into(),
            })?;
        }
        Ok((conversation, shown))
    }

    fn with(
        config: &Config,
        model: String,
        tool_context: ToolContext,
        session: SessionWriter,
    ) -> Self {
        let tools = match tool_specs(config.secrets.unified_exec != Some(false)) {
            Value::Array(tools) => tools,
            other => vec![other],
        };
        Self {
            model,
            reasoning_effort: parse_effort(config.reasoning_effort.as_deref()),
            service_tier: config.service_tier,
            summary_style: SummaryStyle::default(),
            tool_context,
            tools,
            history: Vec::new(),
            items_base: 0,
            turns_at_base: crate::session::TurnSplitter::default(),
            preamble: Vec::new(),
            notes: Vec::new(),
            notes_base: 0,
            session,
            usage: TokenUsage::default(),
            sent_from: 0,
            left_out: false,
            recorded_model: None,
            summary: None,
            context_used: 0,
            context_window_override: config.context_window,
            save_failed: false,
            instruction_files: Vec::new(),
            reviewing: false,
            saved_goal: None,
            planning: None,
        }
    }

    /// The AGENTS.md files loaded when this conversation started, for `/status`.
    pub fn instruction_files(&self) -> &[InstructionFile] {
        &self.instruction_files
    }

    /// The project's instructions (AGENTS.md) as the model reads them, when there are any.
    pub fn project_rules(&self) -> Option<String> {
        self.preamble
            .iter()
            .chain(&self.history)
            .find(|item| item.is_instructions_message())
            .map(Item::text)
    }

    /// The conversation id (`session-id`, `prompt_cache_key`, the session file's name).
    pub fn id(&self) -> Uuid {
        self.session.id()
    }

    /// The model the next request uses.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Uses `model` from the next request on.
    pub fn set_model(&mut self, model: String) {
        self.session.set_model(&model);
        self.model = model;
    }

    /// A host's choices for the requests from now on (those it leaves `None` stay); the
    /// model and approval mode are the core's to apply.
    pub fn apply(&mut self, settings: &Settings) {
        if let Some(effort) = settings.effort {
            self.reasoning_effort = effort;
        }
        if let Some(summary) = settings.summary {
            self.summary_style = summary;
        }
        if let Some(tier) = settings.service_tier {
            self.service_tier = tier;
        }
        if let Some((mode, network)) = settings.sandbox {
            match &mut self.planning {
                // Planning keeps commands read-only: the choice waits for the work.
                Some(kept) => *kept = (mode, network),
                None => {
                    self.tool_context.sandbox =
                        self.tool_context.sandbox.clone().with_mode(mode, network);
                }
            }
        }
        if let Some(mode) = settings.mode {
            self.set_mode(mode);
        }
    }

    /// Plans (commands read only, no patch offered or run) or works again.
    fn set_mode(&mut self, mode: CollaborationMode) {
        let sandbox = &self.tool_context.sandbox;
        match (mode, self.planning) {
            // Planning reads: its commands get no network (or only the allowed domains,
            // through the proxy), so an unasked command reaches none of the person's
            // loopback services.
            (CollaborationMode::Plan, None) => {
                self.planning = Some((sandbox.mode, sandbox.network));
                self.tool_context.sandbox = sandbox
                    .clone()
                    .with_mode(crate::protocol::SandboxMode::ReadOnly, false);
            }
            (CollaborationMode::Default, Some((mode, network))) => {
                self.tool_context.sandbox = sandbox.clone().with_mode(mode, network);
                self.planning = None;
            }
            _ => {}
        }
    }

    /// Whether the conversation is in plan mode.
    pub fn is_planning(&self) -> bool {
        self.planning.is_some()
    }

    /// Where tools run.
    pub fn tool_context(&self) -> &ToolContext {
        &self.tool_context
    }

    /// The project directory.
    pub fn project_dir(&self) -> &Path {
        &self.tool_context.project_dir
    }

    /// The history in memory, in order: all of it, or since the last compaction.
    pub fn history(&self) -> &[Item] {
        &self.history
    }

    /// Whether the older items since the last compaction are left out of the requests (there
    /// were more than a request carries when it was resumed).
    pub fn left_out(&self) -> bool {
        self.left_out
    }

    /// What to tell the person when a resumed conversation goes on with another model than
    /// the one it last used (the config names one), as Codex warns.
    pub fn model_change_notice(&self) -> Option<String> {
        let recorded = self.recorded_model.as_deref()?;
        Some(format!(
            "This conversation was recorded with model `{recorded}` but is resuming with `{}`. \
             Consider switching back to `{recorded}` (/model) as it may affect the answers.",
            self.model
        ))
    }

    /// How many items of the whole history come before [`Conversation::history`].
    pub fn items_base(&self) -> usize {
        self.items_base
    }

    /// Where the turns stand at [`Self::items_base`].
    pub fn turns_at_base(&self) -> crate::session::TurnSplitter {
        self.turns_at_base
    }

    /// kelp's notes beside the history in memory (how unfinished turns ended, usage), each with
    /// how many items of the whole history came before it.
    pub fn notes(&self) -> &[(usize, Note)] {
        &self.notes
    }

    /// Drops from memory what a compaction covers (the session file keeps it): a long
    /// conversation holds what its requests carry, not everything it ever said.
    fn forget_what_is_not_sent(&mut self) {
        if self.summary.is_none() {
            return;
        }
        let cut = self
            .sent_from
            .saturating_sub(self.items_base)
            .min(self.history.len());
        if cut == 0 {
            return;
        }
        let notes = self
            .notes
            .iter()
            .position(|(at, _)| *at >= self.items_base + cut)
            .unwrap_or(self.notes.len());
        self.turns_at_base.read_through(
            &self.history[..cut],
            self.items_base,
            &self.notes[..notes],
        );
        let kept_instructions = self
            .history
            .drain(..cut)
            .filter(Item::is_instructions_message);
        self.preamble.extend(kept_instructions);
        self.items_base += cut;
        self.notes.drain(..notes);
        self.notes_base += notes;
        self.history.shrink_to_fit();
        self.notes.shrink_to_fit();
    }

    /// The session file, once the first prompt created it.
    pub fn session_path(&self) -> Option<PathBuf> {
        self.session.path().map(Path::to_path_buf)
    }

    /// The conversation's goal, shared with its turns' tools (a reviewer has none of its own:
    /// an empty cell).
    pub fn goal_cell(&self) -> GoalCell {
        self.tool_context.goal.clone().unwrap_or_default()
    }

    /// The goal, when it changed since the session file last noted it: the note to write now
    /// (`None` inside: cleared).
    pub fn goal_unsaved(&mut self) -> Option<Option<Goal>> {
        let now = self.goal_cell().get();
        if now == self.saved_goal || self.reviewing {
            return None;
        }
        self.saved_goal.clone_from(&now);
        Some(now)
    }

    /// Token usage summed over the conversation.
    pub fn usage(&self) -> TokenUsage {
        self.usage
    }

    /// Adds one response's usage.
    pub fn add_usage(&mut self, usage: &TokenUsage) {
        self.usage.add(usage);
    }

    /// Appends a completed item to the history and the session file. The history always gets
    /// it; an error means only the file missed it.
    pub fn record(&mut self, item: Item) -> Result<(), SessionError> {
        let saved = self.session.append(&item);
        self.history.push(item);
        saved
    }

    /// Records a note beside the history, in memory and in the session file.
    pub fn record_note(&mut self, note: Note) -> Result<(), SessionError> {
        let saved = self.session.append_note(&note);
        self.notes
            .push((self.items_base + self.history.len(), note));
        saved
    }

    /// Like [`Conversation::record`], but reports a saving failure only the first time.
    pub fn record_once_failing(&mut self, entry: Entry) -> Option<SessionError> {
        let saved = match entry {
            Entry::Item(item) => self.record(item),
            Entry::Note(note) => self.record_note(note),
        };
        match saved {
            Err(e) if !self.save_failed => {
                self.save_failed = true;
                Some(e)
            }
            _ => None,
        }
    }

    /// Tokens the last request took, input and output: how full the context window is.
    pub fn context_used(&self) -> u64 {
        self.context_used
    }

    /// Notes what the last request took of the context window.
    /// An estimate of the context until a request reports it (after a compaction: the
    /// summary's size).
    pub fn estimate_context_used(&mut self, tokens: u64) {
        self.context_used = tokens;
    }

    pub fn set_context_used(&mut self, usage: &TokenUsage) {
        self.context_used = usage.input_tokens + usage.output_tokens;
    }

    /// The context window of the model in use, in tokens, if known.
    pub fn context_window(&self) -> Option<u64> {
        self.context_window_override
            .or_else(|| models::context_window(&self.model))
    }

    /// Replaces what is sent from now on with `summary` (after the project instructions),
    /// keeping the last prompt after it when `keep_prompt` (a turn still to be answered). The
    /// history and the session file keep every item; the file notes where this happened.
    /// Returns a saving failure, reported once.
    pub fn compact(
        &mut self,
        summary: String,
        keep_prompt: bool,
        automatic: bool,
    ) -> Option<SessionError> {
        let last_prompt = self.history.iter().rposition(|item| {
            matches!(
                item,
                Item::Message {
                    role: Role::User,
                    ..
                }
            ) && !item.is_instructions_message()
        });
        self.sent_from = self.items_base
            + match (keep_prompt, last_prompt) {
                (true, Some(at)) => at,
                _ => self.history.len(),
            };
        self.summary = Some(summary.clone());
        self.left_out = false;
        self.context_used = 0;
        let failed = self.record_once_failing(Entry::Note(Note::Compacted {
            summary,
            sent_from: self.sent_from,
            automatic,
        }));
        self.forget_what_is_not_sent();
        failed
    }

    /// The next request: the history sent (the project instructions, a compaction's summary,
    /// then the items since) with the tools.
    /// The next request, offering kelp's tools and `extra_tools` (MCP tools' specs).
    pub fn prompt_with(&self, extra_tools: impl IntoIterator<Item = Value>) -> Prompt {
        let mut prompt = self.prompt();
        prompt.tools.extend(extra_tools);
        prompt
    }

    /// The next request, offering kelp's own tools.
    pub fn prompt(&self) -> Prompt {
        let mut prompt = Prompt::new(self.model.clone(), &self.tool_context.project_dir);
        prompt.input = self.sent_history();
        prompt.tools = self.tools.clone();
        if self.is_planning() {
            prompt.tools.retain(|tool| tool["name"] != "apply_patch");
            prompt.tools.push(crate::tools::user_input::spec());
            prompt.instructions.push_str(PLAN_INSTRUCTIONS);
        }
        // The goal tools, while there is a goal to work toward.
        if self
            .goal_cell()
            .get()
            .is_some_and(|goal| goal.status == GoalStatus::Active)
        {
            prompt.tools.extend(crate::tools::goal_tools::specs());
        }
        prompt.parallel_tool_calls = true;
        prompt.reasoning_effort = self.reasoning_effort;
        prompt.summary = self.summary_style;
        prompt.service_tier = self.service_tier;
        prompt.conversation_id = self.id();
        prompt
    }
}

impl Conversation {
    /// The items a request carries: everything, or after a compaction the instructions, the
    /// summary and the items since.
    fn sent_history(&self) -> Vec<Item> {
        let Some(summary) = &self.summary else {
            return self.history.clone();
        };
        let sent_from = self
            .sent_from
            .saturating_sub(self.items_base)
            .min(self.history.len());
        let mut input: Vec<Item> = self
            .preamble
            .iter()
            .chain(&self.history[..sent_from])
            .filter(|item| item.is_instructions_message())
            .cloned()
            .collect();
        input.push(Item::user_text(format!(
            "{}\n\n{summary}",
            crate::llm::types::SUMMARY_HEADING
        )));
        input.extend_from_slice(&self.history[sent_from..]);
        input
    }
}

/// The configured effort, or the default when unset or not an effort kelp knows.
pub fn parse_effort(configured: Option<&str>) -> ReasoningEffort {
    match configured.map(str::parse) {
        Some(Ok(effort)) => effort,
        Some(Err(e)) => {
            tracing::warn!(error = %e, "using the default reasoning effort");
            ReasoningEffort::default()
        }
        None => ReasoningEffort::default(),
    }
}

impl Conversation {
    /// What a child agent forked from this conversation starts with: the history the model
    /// reads, less the project's instructions (the child has its own), each call still running
    /// answered `aborted`, as Codex hands it over.
    pub fn forked_history(&self) -> Vec<Item> {
        let mut items: Vec<Item> = self
            .sent_history()
            .into_iter()
            .filter(|item| !item.is_instructions_message())
            .collect();
        for call_id in unanswered_calls(&items) {
            items.push(Item::FunctionCallOutput {
                call_id,
                output: "aborted".into(),
            });
        }
        items
    }

    /// Marks this new conversation as an agent of a team, its parent named, under the id its
    /// team gave it, before it is saved.
    pub fn set_agent(&mut self, origin: crate::protocol::AgentOrigin, id: Uuid) {
        self.session.set_agent(origin, id);
    }

    /// The reasoning effort requests carry.
    pub fn reasoning_effort(&self) -> ReasoningEffort {
        self.reasoning_effort
    }
}

/// The call ids of function calls with no output after them.
fn unanswered_calls(history: &[Item]) -> Vec<String> {
    let answered: std::collections::HashSet<&str> = history
        .iter()
        .filter_map(|item| match item {
            Item::FunctionCallOutput { call_id, .. } => Some(call_id.as_str()),
            _ => None,
        })
        .collect();
    history
        .iter()
        .filter_map(|item| match item {
            Item::FunctionCall { call_id, .. } if !answered.contains(call_id.as_str()) => {
                Some(call_id.clone())
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::RewindTo;

    #[test]
    fn efforts_parse_and_unknown_ones_fall_back() {
        assert_eq!(parse_effort(None), ReasoningEffort::Medium);
        assert_eq!(parse_effort(Some("high")), ReasoningEffort::High);
        assert_eq!(parse_effort(Some("minimal")), ReasoningEffort::Minimal);
        assert_eq!(parse_effort(Some("xhigh")), ReasoningEffort::XHigh);
        assert_eq!(parse_effort(Some("max")), ReasoningEffort::Medium);
    }

    #[test]
    fn a_resumed_conversation_answers_calls_a_crash_left_open() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::for_origin("http://127.0.0.1:9", dir.path());
        let (mut first, _) = Conversation::new(&config, dir.path(), "gpt-5.5".into());
        first.record(Item::user_text("list files")).unwrap();
        first
            .record(Item::FunctionCall {
                name: "list_dir".into(),
                arguments: "{}".into(),
                call_id: "c1".into(),
                namespace: None,
            })
            .unwrap();
        let path = first.session_path().unwrap();
        drop(first);

        let (resumed, _) = Conversation::resume(&config, &path).unwrap();
        assert_eq!(resumed.history().len(), 3);
        assert_eq!(
            resumed.history()[2],
            Item::FunctionCallOutput {
                call_id: "c1".into(),
                output: LOST_OUTPUT.into()
            }
        );
        let saved = SessionLog::load(&path).unwrap();
        assert_eq!(saved.items, resumed.history());
    }

    /// A config for `dir` and a session file begun there with the project's instructions.
    fn saved_with_instructions(dir: &Path) -> (Config, SessionWriter, Item) {
        let config = Config::for_origin("http://127.0.0.1:9", dir);
        let mut writer =
            SessionWriter::create(&config.state_dir, SessionHeader::new(dir, "gpt-5.5"));
        let instructions = Item::user_text("# AGENTS.md instructions for /p\n\nbe brief");
        writer.append(&instructions).unwrap();
        (config, writer, instructions)
    }

    #[test]
    fn a_resumed_conversation_past_what_a_request_carries_sends_its_newest_turns() {
        let dir = tempfile::tempdir().unwrap();
        let (config, mut writer, instructions) = saved_with_instructions(dir.path());
        // Never compacted: 1 MiB a turn, past what any request carries.
        let turns = (crate::session::MAX_SENT_BYTES / (1 << 20)) as usize + 6;
        let output = "o".repeat(1 << 20);
        for n in 0..turns {
            writer.append_note(&Note::turn(format!("t{n}"))).unwrap();
            writer
                .append(&Item::user_text(format!("turn {n}")))
                .unwrap();
            writer.append(&Item::assistant_text(&output)).unwrap();
        }
        let path = writer.path().unwrap().to_path_buf();
        drop(writer);

        let (resumed, _) = Conversation::resume(&config, &path).unwrap();
        assert!(resumed.left_out());
        let input = resumed.prompt().input;
        assert_eq!(input[0], instructions, "the instructions stay");
        assert!(input[1].text().contains(LEFT_OUT), "{:?}", input[1]);
        let sent_turns = (input.len() - 2) / 2;
        assert!(
            sent_turns > 0 && sent_turns < turns,
            "{sent_turns} of {turns}"
        );
        assert_eq!(
            input[2],
            Item::user_text(format!("turn {}", turns - sent_turns))
        );
        let sent: usize = input.iter().map(|item| item.text().len()).sum();
        assert!(sent as u64 <= crate::session::MAX_SENT_BYTES, "{sent}");
        assert_eq!(
            input.last(),
            Some(&Item::assistant_text(&output)),
            "the newest turn is sent"
        );
    }

    #[test]
    fn a_resumed_compacted_conversation_holds_only_what_requests_carry() {
        let dir = tempfile::tempdir().unwrap();
        let (config, mut writer, instructions) = saved_with_instructions(dir.path());
        for (n, (id, prompt)) in [("t1", "one"), ("t2", "two"), ("t3", "three")]
            .into_iter()
            .enumerate()
        {
            writer.append_note(&Note::turn(id)).unwrap();
            writer.append(&Item::user_text(prompt)).unwrap();
            writer
                .append(&Item::assistant_text(format!("answer {prompt}")))
                .unwrap();
            if n == 1 {
                writer
                    .append_note(&Note::Compacted {
                        summary: "we said one and two".into(),
                        sent_from: 5,
                        automatic: true,
                    })
                    .unwrap();
            }
        }
        let path = writer.path().unwrap().to_path_buf();
        drop(writer);

        let (mut resumed, shown) = Conversation::resume(&config, &path).unwrap();
        assert_eq!(shown.turns.len(), 3, "what is shown is not what is sent");
        assert_eq!(resumed.items_base(), 5);
        assert_eq!(
            resumed.history(),
            [
                Item::user_text("three"),
                Item::assistant_text("answer three")
            ]
        );
        let input = resumed.prompt().input;
        assert_eq!(input.len(), 4, "{input:?}");
        assert_eq!(input[0], instructions);
        assert!(input[1].text().contains("we said one and two"), "{input:?}");
        assert_eq!(input[3], Item::assistant_text("answer three"));

        let refused = resumed.rewind(&RewindTo::Turn("t2".into())).unwrap_err();
        assert!(refused.contains("since the last compaction"), "{refused}");
        let back = resumed.rewind(&RewindTo::Turn("t3".into())).unwrap();
        assert_eq!(back.prompt.as_deref(), Some("three"));
        assert_eq!(resumed.history(), []);
        let saved = SessionLog::load(&path).unwrap();
        assert_eq!(saved.items.len(), 5, "the file reads back the same history");
        assert_eq!(resumed.prompt().input.len(), 2);
    }
}
