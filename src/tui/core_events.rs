//! The core's events as the screen shows them: a turn's text, tools and approvals streaming
//! into the chat, the status line's figures, logins and the lists pickers wait for. Each event
//! changes the app's state; drawing follows from it.

use std::time::Instant;

use super::app::App;
use super::bottom_pane::PickerKind;
use super::connect::ConnectDialog;
use super::history_cell::CellKind;
use super::overlay::Overlay;
use super::resume;
use crate::protocol::GoalStatus;
use crate::protocol::LoginEvent;
use crate::protocol::PlanStatus;
use crate::protocol::TurnEnd;
use crate::protocol::{AuthSummary, Event, Op, Reply, TurnOutcome};

/// What of `event` this screen shows: another agent's work shows in the command center, which
/// asks for it, so of that only what the agent asks of the person (the rest draws nothing).
fn here(event: Event) -> Option<Event> {
    match event {
        Event::OfAgent(of) => of.for_person(),
        event => Some(event),
    }
}

impl App {
    /// Handles an event from the core.
    pub fn handle_core_event(&mut self, event: Event) {
        let Some(event) = here(event) else { return };
        self.redraw = true;
        match event {
            Event::TurnStarted { id } => {
                self.session.turn_began(id);
                self.turn.start(Instant::now());
                self.chat.forget_oldest();
                self.chat.start_response();
            }
            Event::ApprovalAnswered {
                id, decision: None, ..
            } if self.turn.running() => self.on_withdrawn(id),
            // Cells open with their first piece and stay open until what follows closes them;
            // an answer to an approval is the person's own, shown when given.
            // The client calls no MCP tool itself.
            Event::ItemStarted { .. }
            | Event::ReasoningDone { .. }
            | Event::ApprovalAnswered { .. }
            | Event::McpToolCalled { .. } => {}
            event @ (Event::TextDelta { .. }
            | Event::ReasoningDelta { .. }
            | Event::ReasoningPartAdded { .. }
            | Event::ToolStarted { .. }
            | Event::ToolOutput { .. }
            | Event::WebSearchStarted { .. }
            | Event::WebSearchDone { .. }) => self.chat.show(&event),
            Event::PlanUpdated { .. } => self.on_plan_updated(&event),
            Event::MessageDone { item, text } => {
                self.answered(&text);
                self.turn.last_answer = Some(text.clone());
                if self.chat.message_done(&item, &text) {
                    self.awaiting_highlighter = true;
                }
            }
            Event::CallDeclined { call_id } => self.chat.call_declined(call_id),
            Event::AutoReview { review, .. } => self.chat.review(review),
            Event::ToolFinished {
                call_id,
                success,
                exit_code,
                duration,
            } => {
                if call_id.starts_with("own-") {
                    self.turn.own_commands = self.turn.own_commands.saturating_sub(1);
                }
                let tool = self
                    .chat
                    .tool_finished(&call_id, success, exit_code, duration);
                // A command that may have left a background terminal, or ended one.
                if tool.is_some_and(|tool| {
                    tool == crate::tools::terminals::EXEC_COMMAND
                        || tool == crate::tools::terminals::WRITE_STDIN
                }) {
                    self.send(Op::ListTerminals);
                }
            }
            Event::AgentActivity(activity) => self.on_agent_activity(&activity),
            Event::OfAgent(_) => {}
            Event::ApprovalRequested {
                id, subject, agent, ..
            } => self.on_approval_requested(id, subject, agent),
            Event::QuestionsAsked { id, questions, .. } => self.on_questions(id, questions),
            Event::Retrying {
                attempt,
                max,
                delay,
                reason,
                voided,
            } => {
                let retry = CellKind::retry(attempt, max, delay, reason);
                self.chat.retrying(retry, voided)
            }
            Event::Usage(usage) => self.status.usage = usage,
            Event::ContextUsed { used, window } => self.status.context = Some((used, window)),
            Event::Compacted { before, automatic } => self.on_compacted(before, automatic),
            Event::RateLimits(limits) => self.status.rate_limits = Some(limits),
            Event::TurnFinished(outcome) => self.on_turn_finished(outcome),
            Event::GoalUpdated(goal) => self.on_goal_updated(goal),
            Event::GoalCleared => {
                self.status.goal = None;
                self.notice("Goal cleared.".to_string());
            }
            Event::FilesChanged { call_id, changes } => {
                self.chat.files_changed(&call_id, &changes);
                self.session
                    .patches
                    .extend(changes.into_iter().map(|change| change.diff));
            }
            Event::Notice(text) => self.notice(text),
            Event::RunsLater(text) => self.push_error(text),
            Event::Attached(files) => {
                self.push(CellKind::Attached(files));
            }
            Event::Error(message) => self.on_error(message),
            Event::Reply(reply) => self.on_reply(reply),
        }
    }

    /// The turn waits for the person's yes or no: the clock pauses, the question opens.
    fn on_approval_requested(
        &mut self,
        id: u64,
        subject: crate::protocol::ApprovalSubject,
        agent: Option<String>,
    ) {
        self.agents.asker.clone_from(&agent);
        // Another agent of the team asks: the person sees which.
        if let Some(agent) = agent {
            self.notice(format!("The agent {agent} asks:"));
        }
        self.turn.pause(Instant::now());
        self.pane.ask(id, &subject);
        self.chat.approval_requested(subject);
    }

    /// An agent of the team finished: said, as its answer goes to the model (the collaboration
    /// calls that started or told it show as the model's calls).
    fn on_agent_activity(&mut self, activity: &crate::protocol::AgentActivity) {
        if activity.kind == crate::protocol::AgentActivityKind::Started {
            self.agent_started(&activity.path, &activity.conversation);
        }
        if activity.kind == crate::protocol::AgentActivityKind::Completed {
            self.notice(format!("The agent {} finished.", activity.path));
        }
    }

    /// The model asks the person questions: the clock pauses, the first one opens.
    fn on_questions(&mut self, id: u64, questions: Vec<crate::protocol::Question>) {
        self.turn.pause(Instant::now());
        self.turn.asked = Some((id, questions, Vec::new()));
        self.ask_next_question();
    }

    /// An approval withdrawn while the turn goes on: a command that asked to reach a host
    /// ended before the answer.
    fn on_withdrawn(&mut self, id: u64) {
        if self.pane.drop_approval(id) {
            self.chat.approval_withdrawn();
            self.notice("The command ended before the question about its host was answered.");
        }
    }

    /// The turn ended: what waited on it goes, an early end says why, and the next queued
    /// prompt (or the goal's next turn) goes out.
    fn on_turn_finished(&mut self, outcome: TurnOutcome) {
        self.pane.drop_approvals();
        // The turn may have switched or made a branch.
        if self.status.chosen.wants_repository() {
            self.status.chosen.read_branch(&self.status.project_dir);
        }
        // Questions the turn no longer waits for.
        if self.turn.asked.take().is_some() {
            self.pane.close_picker(PickerKind::Question);
        }
        let partial = self.chat.turn_finished();
        let ended = match outcome {
            TurnOutcome::Completed => None,
            TurnOutcome::Interrupted => Some((TurnEnd::Interrupted, None)),
            TurnOutcome::Stopped { message, .. } => Some((TurnEnd::Stopped, Some(message))),
            TurnOutcome::Failed { message, .. } => Some((TurnEnd::Failed, Some(message))),
        };
        let went_on = ended.is_none() || matches!(ended, Some((TurnEnd::Stopped, _)));
        let completed = ended.is_none();
        if let Some((how, message)) = ended {
            self.push(resume::ended_early(how, message.as_deref(), partial));
        }
        if std::mem::take(&mut self.turn.goal_stopped)
            && let Some(goal) = &self.status.goal
        {
            self.notice(super::goal_view::stopped(goal));
        }
        let answer = self.turn.last_answer.take();
        match self.turn.finish(went_on) {
            Some(next) => self.submit(next),
            None if completed => {
                self.unqueue();
                self.offer_implementation(answer.as_deref());
            }
            None => self.unqueue(),
        }
    }

    fn on_goal_updated(&mut self, goal: crate::protocol::Goal) {
        // A goal that stopped says why, once, where the person looks: at the turn's
        // end (its spending counted), or now when no turn runs.
        let was = self.status.goal.as_ref().map(|g| (g.status, g.created_at));
        let stopped =
            goal.status != GoalStatus::Active && was != Some((goal.status, goal.created_at));
        let say_now = stopped && !self.turn.running();
        self.turn.goal_stopped |= stopped && self.turn.running();
        if say_now {
            self.notice(super::goal_view::stopped(&goal));
        }
        self.status.goal = Some(goal);
    }

    /// The context item stays: the `ContextUsed` that follows gives its new size.
    fn on_compacted(&mut self, before: u64, automatic: bool) {
        let why = if automatic {
            "to stay inside the model's context window"
        } else {
            "as asked"
        };
        let size = crate::humanize::tokens_aside(before);
        self.notice(format!(
            "Compacted the conversation{size} {why}: the model goes on from a summary; the transcript keeps everything."
        ));
    }

    fn on_error(&mut self, message: String) {
        self.session.forking = false;
        if let Some(dialog) = self.connect_dialog()
            && dialog.on_error(message.clone())
        {
            return;
        }
        // The list that was asked for will not come: do not leave the picker waiting.
        if std::mem::take(&mut self.session.awaiting_list) {
            self.pane.close_picker(PickerKind::Resume);
        }
        self.push_error(message);
    }

    /// Handles the core's answer to something this face asked for or chose.
    fn on_reply(&mut self, reply: Reply) {
        match reply {
            Reply::CommandRules(rules) => self.status.command_rules = rules,
            Reply::CustomPrompts(prompts) => {
                self.pane.prompts = prompts;
                if std::mem::take(&mut self.session.awaiting_presets) {
                    for effect in self.presets_picker() {
                        self.apply(effect);
                    }
                }
            }
            Reply::Skills(found) => self.notice(super::status::skills_report(&found)),
            Reply::Login(login) => self.on_login(login),
            Reply::AuthChanged(summary) => self.on_auth_changed(summary),
            Reply::Revisions(found) => self.on_revisions(found),
            Reply::Agents { rows, saved } => self.on_agents(rows, saved),
            Reply::Terminals(rows) => self.on_terminals(rows),
            Reply::Reviews(reviews) => {
                self.notice(super::review_lines::approvals_report(&reviews));
            }
            Reply::Diagnostics(report) => {
                self.notice(super::review_lines::diagnostics_report(&report));
            }
            Reply::Hooks(rows) => self.on_hooks(rows),
            Reply::Logins(rows) => self.on_logins(rows),
            Reply::Side(event) => self.on_side(*event),
            Reply::ServerQueue(waiting) => self.turn.server_queue = waiting,
            Reply::AgentTranscript {
                conversation,
                shown,
            } => self.on_agent_transcript(&conversation, shown),
            Reply::Worktree(Ok(made)) => {
                self.reopen = Some(super::session_state::Ended::Worktree(made));
                self.quit();
            }
            Reply::Worktree(Err(why)) => {
                self.push(CellKind::Error(format!("/worktree: {why}")));
            }
            Reply::Models { available, current } => {
                self.models = available;
                self.status.model = current;
                let items = self.model_items();
                if let Some(picker) = self.pane.picker_mut(PickerKind::Model) {
                    picker.set_items(items);
                }
            }
            Reply::Restored(replay) => self.restore(*replay),
            Reply::Rewound(done) => self.on_rewound(done),
            Reply::FilesUndone { restored, refused } => self.on_files_undone(restored, refused),
            Reply::SessionsSaying { term, found } => self.sessions_saying(&term, found),
            Reply::Sessions(sessions) => {
                self.session.awaiting_list = false;
                self.session.listed = sessions;
                let items = resume::session_items(&self.session.listed, self.now());
                let previews = resume::session_previews(&self.session.listed);
                if let Some(picker) = self.pane.picker_mut(PickerKind::Resume) {
                    picker.set_items(items);
                    picker.set_previews(previews);
                    picker.empty = "no saved conversations in this project yet".into();
                }
            }
            Reply::Instructions(files) => {
                self.status.instructions = Some(files);
                self.status.instructions_in_history = false;
            }
            Reply::Conversation { id } => {
                // A new conversation (not one just restored, which brought its goal) has none:
                // a late word about the old one's goal is not this one's.
                if !std::mem::take(&mut self.session.restored_now) {
                    self.status.goal = None;
                }
                self.status.thread = (Some(id.clone()), None);
                self.session.id = Some(id);
            }
            Reply::Named(name) => self.status.thread.1 = name,
            Reply::WorkingTreeDiff(diff) => self.show_diff(diff),
            Reply::ApiKeyUnchecked(why) => {
                let shown = self
                    .connect_dialog()
                    .is_some_and(|dialog| dialog.on_key_unchecked(why.clone()));
                if !shown {
                    self.push_error(format!("the API key was not saved: {why}"));
                }
            }
            Reply::PromptHistory(prompts) => self.pane.add_older_history(prompts),
            Reply::McpServers(servers) => self.status.mcp = servers,
        }
    }

    /// The repository's commits and branches: `/review`'s open picker lists them.
    fn on_revisions(&mut self, found: Option<crate::protocol::Revisions>) {
        use crate::terminal_text::printable;
        use crate::tui::bottom_pane::picker::PickerItem;
        let outside = "not a git repository: /review reviews the uncommitted files only here";
        let empty = match &found {
            None => outside,
            Some(_) => "",
        };
        self.revisions = found.unwrap_or_default();
        let commits = self
            .revisions
            .commits
            .iter()
            .map(|(sha, subject)| PickerItem {
                label: sha.clone(),
                detail: printable(subject).into_owned(),
                current: false,
            })
            .collect();
        if let Some(picker) = self.pane.picker_mut(PickerKind::ReviewCommit) {
            picker.set_items(commits);
            picker.empty = if empty.is_empty() {
                "no commits yet"
            } else {
                empty
            }
            .into();
        }
        let here = match &self.revisions.current {
            Some(branch) => printable(branch).into_owned(),
            None => "the checked-out commit".to_string(),
        };
        let branches = self
            .revisions
            .branches
            .iter()
            .map(|branch| PickerItem {
                label: printable(branch).into_owned(),
                detail: format!("what {here} changed since it left {}", printable(branch)),
                current: false,
            })
            .collect();
        // The usual base first under the cursor.
        let usual = self
            .revisions
            .branches
            .iter()
            .position(|branch| matches!(branch.as_str(), "main" | "master"));
        if let Some(picker) = self.pane.picker_mut(PickerKind::ReviewBranch) {
            picker.set_items(branches);
            // Unless a search typed meanwhile chose what shows.
            if !picker.searching() {
                picker.selected = usual.unwrap_or(0);
            }
            picker.empty = if empty.is_empty() {
                "no other local branch"
            } else {
                empty
            }
            .into();
        }
    }

    fn on_login(&mut self, event: LoginEvent) {
        if let LoginEvent::Done(account) = &event {
            let account = account.clone();
            self.connected(AuthSummary::ChatGpt(account));
            return;
        }
        match self.connect_dialog() {
            Some(dialog) => dialog.on_login_event(event),
            None => {
                if let LoginEvent::Failed(message) = event {
                    self.push_error(format!("login failed: {message}"));
                }
            }
        }
    }

    fn on_auth_changed(&mut self, summary: Option<AuthSummary>) {
        match summary {
            Some(summary) => {
                let in_dialog = self.overlay.is_some();
                if in_dialog || self.status.auth.as_ref() != Some(&summary) {
                    self.connected(summary);
                }
            }
            None => {
                let was = self.status.auth.take();
                self.models.clear();
                // The limits were the old login's.
                self.status.rate_limits = None;
                if was.is_some() {
                    self.notice("Logged out. /connect signs in again.");
                }
            }
        }
    }

    /// The first start in a folder kelp has no trust kept for: the question Codex asks, the
    /// folder (its git repository's root) named.
    pub(super) fn ask_trust(&mut self, root: &std::path::Path) {
        use super::bottom_pane::PickerKind;
        use super::bottom_pane::picker::{Picker, PickerItem};
        let mut items = vec![
            PickerItem {
                label: "Yes, trust it".into(),
                detail: "commands run in the sandbox, edits apply unasked".into(),
                current: false,
            },
            PickerItem {
                label: "No".into(),
                detail: "commands only read; edits and commands ask".into(),
                current: false,
            },
        ];
        // As Codex's `/cd`: the folder left is one choice away.
        if let Some(left) = &self.session.came_from {
            items.push(PickerItem {
                label: "Keep current directory".into(),
                detail: format!("go back to {}", crate::humanize::home_path(left)),
                current: false,
            });
        }
        let title = format!("Trust the files in {}?", crate::humanize::home_path(root));
        self.pane
            .open_picker(PickerKind::Trust, Picker::new(&title, items, ""));
    }

    /// The first start's question answered: the folder trusted, not trusted, or (after `/cd`)
    /// left for the one the client came from.
    pub(super) fn trust_picked(&self, index: usize) -> Vec<super::commands::Effect> {
        match (index, &self.session.came_from) {
            (2, Some(left)) => vec![super::commands::Effect::Reopen(
                super::session_state::Ended::ChangedDirectory(left.clone()),
            )],
            _ => self.trusted(index == 0),
        }
    }

    /// The folder trusted or not, by the first start's question or `/permissions`.
    pub(super) fn trusted(&self, trusted: bool) -> Vec<super::commands::Effect> {
        use super::commands::Effect::{self, Notice, Send};
        let (mode, _) = crate::config::Config::modes_of_trust(trusted);
        let said = if trusted {
            "Trusted — the model's commands run in the sandbox and its edits apply \
             without asking; it asks to go beyond the sandbox. /permissions changes it."
        } else {
            "Not trusted — commands only read, and edits and commands ask first. \
             /permissions changes it."
        };
        vec![
            Effect::ShowApprovalMode(mode),
            Send(Op::TrustProject(trusted)),
            Notice(said.into()),
            // The hooks' review waited for this answer.
            Send(Op::ListHooks),
        ]
    }

    /// Opens `/connect` in the overlay slot.
    pub(super) fn open_connect(&mut self) {
        // With a login in use, a new ChatGPT login is named and kept beside it.
        let dialog = ConnectDialog::new(self.headless).asking_a_name(self.status.auth.is_some());
        self.overlay = Some(Overlay::Connect(dialog));
    }

    /// The `/connect` dialog, when it is open.
    fn connect_dialog(&mut self) -> Option<&mut ConnectDialog> {
        self.overlay.as_mut().and_then(Overlay::connect)
    }

    fn connected(&mut self, summary: AuthSummary) {
        // The core reports a ChatGPT login twice (login done, then auth changed): say it once.
        if self.status.auth.as_ref() == Some(&summary) && self.overlay.is_none() {
            return;
        }
        self.overlay = None;
        match self.session.switching_to.take() {
            Some(name) => self.notice(format!(
                "Now using the login {}: {}. The others stay kept (/account).",
                crate::terminal_text::printable(&name),
                summary.describe()
            )),
            None => self.notice(format!("Connected: {}.", summary.describe())),
        }
        if self.status.auth.as_ref() != Some(&summary) {
            // Another account: the limits shown were the old one's.
            self.status.rate_limits = None;
        }
        self.status.auth = Some(summary);
        self.send(Op::RefreshModels);
    }
}

impl App {
    /// The plan, as the model last updated it: shown, and counted for the window title.
    fn on_plan_updated(&mut self, event: &Event) {
        if let Event::PlanUpdated { steps, .. } = event {
            let done = steps
                .iter()
                .filter(|step| step.status == PlanStatus::Completed);
            self.session.plan_progress = Some((done.count(), steps.len()));
        }
        self.chat.show(event);
    }
}
