//! The core: the one task that owns the conversation. Front ends send [`Op`]s and receive
//! [`Event`]s (the Codex CLI split), so the TUI and any other front end share one agent.
//!
//! A turn runs in its own task, which borrows the conversation for its length and hands it
//! back when done; meanwhile the core keeps answering ops (interrupt, approvals, the approval
//! mode, logins). A second `Submit` while a turn runs is refused with an [`Event::Error`]:
//! a queued prompt would run against a history its author has not seen yet. `TurnFinished`
//! is sent only once the conversation is back, so a front end may submit on seeing it.

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::approval::Approvals;
use super::command_rules::CommandRules;
use super::conversation::Conversation;
use super::turn::run_turn_unfinished;
use super::turn_context::{Steered, TurnContext, new_turn_id, outcome_of};
use crate::auth::{Accounts, AuthManager};
use crate::config::{Config, Setting};
use crate::llm::LlmClient;
use crate::mcp::McpManager;
use crate::protocol::{Event, Op, Reply, Settings, Submission, TurnOutcome};

mod goal;
mod history;
mod hooks;
mod host;
mod input;
mod logins;
mod reviews;
mod sessions;
mod settings;
mod side;
pub mod start;
mod terminals;

use start::{Approver, CoreOptions, find_prompts, start_mcp};

/// The prompt `/init` sends.
/// What a turn task does.
enum Work {
    /// Answer a prompt.
    Prompt(Submission),
    /// Compact the conversation, keeping the focus in particular.
    Compact {
        focus: Option<String>,
        turn_id: Option<String>,
    },
    /// Review code changes beside the conversation.
    Review {
        target: crate::protocol::ReviewTarget,
        turn_id: Option<String>,
    },
}

/// What woke the core.
enum Next {
    Op(Option<Op>),
    TurnEnded(Result<Ended, tokio::task::JoinError>),
}

/// What a finished turn task hands back.
type Ended = (Box<Conversation>, TurnOutcome);

/// A turn in flight: its cancel switch and the task that returns the conversation.
struct RunningTurn {
    cancel: CancellationToken,
    task: JoinHandle<Ended>,
    /// The conversation's goal, reachable while the turn holds the conversation.
    goal: crate::session::goal::GoalCell,
    /// The conversation's background terminals, listed and stopped while the turn runs.
    terminals: crate::tools::terminals::Terminals,
    /// The conversation's saved file, which a side conversation copies while the turn runs.
    session_path: Option<std::path::PathBuf>,
    /// Where the turn began, when it works toward an active goal.
    toward_goal: Option<goal::GoalTurn>,
    /// kelp began it (toward the goal), not a face: a prompt sent meanwhile joins it.
    from_kelp: bool,
    /// A prompt's turn: its id and the person's words (the prompt, then what steered it), for
    /// the person's `notify` program once it ends.
    asked: Option<(String, Vec<String>)>,
}

/// How a team started by this core starts its children: as this core was started, each with
/// its seat, a new conversation and no composer.
fn child_spawner(options: &CoreOptions) -> super::team::Spawner {
    let options = options.clone();
    std::sync::Arc::new(move |config, seat| {
        let mut options = options.clone();
        options.resume = None;
        options.prompt_history = false;
        if let Some(dir) = seat.project_dir() {
            options.project_dir = dir.to_path_buf();
        }
        options.seat = Some(seat);
        start::spawn(config, options)
    })
}

struct Core {
    config: Config,
    options: CoreOptions,
    client: LlmClient,
    /// Who is signed in, the one login slot, saving a key, signing out.
    accounts: std::sync::Arc<Accounts>,
    approvals: Approvals,
    events: UnboundedSender<Event>,
    /// `None` only while a turn holds it.
    conversation: Option<Conversation>,
    running: Option<RunningTurn>,
    /// The model the next turn uses (a change during a turn applies when it ends).
    model: String,
    /// Input added to the running turn, shared with it.
    steered: Steered,
    /// A host's choices of effort, summary and sandbox, applied again to the conversation
    /// a turn hands back (a change during a turn applies when it ends).
    chosen: Settings,
    /// Feeds the one task that saves settings, started on the first change, so saves happen
    /// in order and the last choice is the one that stays.
    settings: Option<UnboundedSender<Setting>>,
    /// The MCP servers, started with the core; `None` when none is configured.
    mcp: Option<McpManager>,
    /// Stops the commands the person runs themselves (`!cmd`).
    own_commands: tokio_util::sync::CancellationToken,
    /// The file changes of the turns the last rewind dropped, oldest first.
    rewound_changes: Vec<crate::session::record::SavedChange>,
    /// Its place in a team of agents, when the collaboration tools are on.
    seat: Option<super::team::Seat>,
    /// The side conversation open beside this one (`/side`).
    side: Option<side::SideOps>,
    /// The person's hooks, and `SessionStart`'s source until the first turn fires it.
    hooks: crate::hooks::Hooks,
    session_start: Option<&'static str>,
}

impl Core {
    fn start(
        config: Config,
        options: CoreOptions,
        events: UnboundedSender<Event>,
        ops: tokio::sync::mpsc::WeakUnboundedSender<Op>,
    ) -> Result<Self, String> {
        let shared = match options.seat.as_ref().map(super::team::Seat::shared) {
            // A child agent works on its team's login, client, servers and approvals.
            Some(shared) => shared,
            None => Self::own_parts(&config, &options, &events)?,
        };
        let model = config.model_in_use();
        let seat = match &options.seat {
            Some(seat) => Some(seat.clone()),
            None => super::team::Team::start(
                &config,
                &options.project_dir,
                child_spawner(&options),
                shared.clone(),
                ops,
            ),
        };
        let super::team::Shared {
            client,
            accounts,
            mcp,
            approvals,
            ..
        } = shared;
        let mut core = Self {
            approvals,
            seat,
            config,
            options,
            client,
            accounts,
            events,
            conversation: None,
            running: None,
            side: None,
            model,
            chosen: Settings::default(),
            steered: Steered::default(),
            settings: None,
            mcp,
            rewound_changes: Vec::new(),
            own_commands: tokio_util::sync::CancellationToken::new(),
            hooks: crate::hooks::Hooks::default(),
            session_start: None,
        };
        core.load_hooks();
        let conversation = match core.options.resume.clone() {
            Some(path) => match core.resumed(&path) {
                Ok(conversation) => conversation,
                Err(e) if core.options.new_if_resume_fails => {
                    core.emit(Event::Error(format!(
                        "cannot resume the conversation: {e}; starting a new one"
                    )));
                    core.new_conversation()
                }
                Err(e) => return Err(format!("cannot resume the conversation: {e}")),
            },
            None => core.new_conversation(),
        };
        for note in crate::private_file::take_tightened() {
            core.emit(Event::Notice(note));
        }
        if let Some(warning) = conversation.tool_context().sandbox.startup_warning() {
            core.emit(Event::Notice(warning));
        }
        core.conversation = Some(conversation);
        if core.options.prompt_history {
            core.send_prompt_history();
        }
        Ok(core)
    }

    fn emit(&self, event: Event) {
        let _ = self.events.send(event);
    }

    /// What a first agent makes for itself: its login and HTTP client, its MCP servers, its
    /// approvals, and its face.
    fn own_parts(
        config: &Config,
        options: &CoreOptions,
        events: &UnboundedSender<Event>,
    ) -> Result<super::team::Shared, String> {
        let http = crate::llm::client::http_client().map_err(|e| e.to_string())?;
        let mut auth = AuthManager::new(config, http.clone(), options.env_api_key.clone());
        if options.env_api_key_first {
            auth = auth.preferring_env_key();
        }
        if let Some(external) = options.external.clone() {
            auth = auth.with_external(external);
        }
        let accounts = std::sync::Arc::new(Accounts::new(config, auth.clone(), http.clone()));
        let client = LlmClient::with_settings(config.clone(), auth, options.stream.clone())
            .map_err(|e| e.to_string())?;
        let mcp = start_mcp(config, options, &http, events);
        let approvals = match options.approver {
            Approver::Interactive => Approvals::interactive(config.approval),
            Approver::Unattended => Approvals::unattended(config.approval),
        }
        .with_rules(CommandRules::load(&config.config_dir, &options.project_dir));
        approvals.desk(|desk| {
            desk.reviewer = config.approvals_reviewer;
            desk.model.clone_from(&config.review_model);
        });
        Ok(super::team::Shared {
            client,
            accounts,
            mcp,
            approvals,
            face: events.clone(),
        })
    }

    fn new_conversation(&self) -> Conversation {
        self.end_team();
        let (mut conversation, warnings) =
            Conversation::new(&self.config, &self.options.project_dir, self.model.clone());
        conversation.set_editor(self.options.editor.clone());
        conversation.set_terminals(self.options.terminals.clone());
        conversation.set_mcp(self.mcp.clone());
        if let Some(lsp) = self
            .seat
            .as_ref()
            .and_then(super::team::Seat::language_servers)
        {
            conversation.set_language_servers(lsp);
        }
        if let Some((origin, id)) = self.seat.as_ref().and_then(super::team::Seat::origin) {
            conversation.set_agent(origin, id);
        }
        for item in self.seat.iter().flat_map(super::team::Seat::opening) {
            if let Err(e) = conversation.record(item) {
                self.emit(Event::Error(e.to_string()));
            }
        }
        // A host's or the person's choices hold for the next conversation too (plan mode).
        conversation.apply(&self.chosen);
        if self.options.ephemeral {
            conversation.unsaved();
        }
        for warning in warnings {
            self.emit(Event::Notice(warning));
        }
        self.emit(Event::Reply(Reply::Instructions(
            conversation.instruction_files().to_vec(),
        )));
        self.emit(Event::Reply(Reply::Conversation {
            id: conversation.id().to_string(),
        }));
        conversation
    }

    /// The agents the conversation in hand spawned end with it.
    fn end_team(&self) {
        if let Some(seat) = &self.seat {
            seat.leave();
        }
    }

    /// The conversation saved at `path`, its transcript sent to the front end; why not, when
    /// it cannot be read.
    fn resumed(&mut self, path: &std::path::Path) -> Result<Conversation, String> {
        match Conversation::resume(&self.config, path) {
            Ok((mut conversation, shown)) => {
                self.end_team();
                conversation.set_editor(self.options.editor.clone());
                conversation.set_terminals(self.options.terminals.clone());
                conversation.set_mcp(self.mcp.clone());
                conversation.apply(&self.chosen);
                self.model = conversation.model().to_string();
                self.emit(Event::Reply(Reply::Restored(Box::new(shown))));
                if conversation.left_out() {
                    self.emit(Event::Notice(
                        crate::agent::conversation::LEFT_OUT_NOTICE.to_string(),
                    ));
                }
                if let Some(notice) = conversation.model_change_notice() {
                    self.emit(Event::Notice(notice));
                }
                self.emit(Event::Reply(Reply::Conversation {
                    id: conversation.id().to_string(),
                }));
                let names = crate::session::shelf::names(&self.config.state_dir);
                if let Some(name) = names.get(&conversation.id()) {
                    self.emit(Event::Reply(Reply::Named(Some(name.clone()))));
                }
                if conversation.usage() != crate::protocol::TokenUsage::default() {
                    self.emit(Event::Usage(conversation.usage()));
                }
                // How full the window was when it was saved, for a face to show at once.
                if conversation.context_used() > 0 {
                    self.emit(Event::ContextUsed {
                        used: conversation.context_used(),
                        window: conversation.context_window(),
                    });
                }
                // The conversation brings its own model: the front end learns it with the list.
                self.refresh_models();
                Ok(conversation)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    async fn run(mut self, mut ops: UnboundedReceiver<Op>) {
        'ops: loop {
            let next = match self.running.as_mut() {
                Some(turn) => tokio::select! {
                    op = ops.recv() => Next::Op(op),
                    joined = &mut turn.task => Next::TurnEnded(joined),
                },
                None => Next::Op(ops.recv().await),
            };
            match next {
                Next::Op(Some(Op::Shutdown) | None) => break,
                Next::Op(Some(op)) => self.handle(op).await,
                Next::TurnEnded(joined) => {
                    self.take_back(joined);
                    // What the faces sent meanwhile goes first: a prompt beats the goal's next
                    // turn, which then waits for the prompt's turn to end.
                    while let Ok(op) = ops.try_recv() {
                        if op == Op::Shutdown {
                            break 'ops;
                        }
                        self.handle(op).await;
                    }
                    self.continue_goal();
                }
            }
        }
        self.stop_turn().await;
        self.end_team();
        self.session_end().await;
    }

    /// Takes the conversation back from a finished turn task, then tells the front end the
    /// turn is over — only now is the core ready for the next prompt.
    fn take_back(&mut self, joined: Result<Ended, tokio::task::JoinError>) {
        let (toward_goal, asked) = self
            .running
            .take()
            .map_or((None, None), |turn| (turn.toward_goal, turn.asked));
        let outcome = match joined {
            Ok((mut conversation, outcome)) => {
                conversation.set_model(self.model.clone());
                conversation.apply(&self.chosen);
                self.conversation = Some(*conversation);
                self.keep_late_steers();
                self.account_goal(toward_goal, &outcome);
                if let Some(conversation) = &mut self.conversation {
                    super::goal_notes::note_goal(conversation, &self.events);
                }
                outcome
            }
            Err(e) => {
                // Only a panic gets here; the history went with it.
                tracing::error!(error = %e, "a turn task failed");
                self.conversation = Some(self.new_conversation());
                TurnOutcome::Failed {
                    message: "the turn failed unexpectedly; a new conversation was started"
                        .to_string(),
                    category: crate::protocol::ErrorCategory::Other,
                }
            }
        };
        if let (TurnOutcome::Completed, Some(asked)) = (&outcome, asked) {
            self.notify_turn_complete(asked);
        }
        self.emit(Event::TurnFinished(outcome));
    }

    /// Cancels the running turn, if any, and waits until it handed the conversation back.
    async fn stop_turn(&mut self) {
        if let Some(turn) = self.running.as_mut() {
            turn.cancel.cancel();
            let joined = (&mut turn.task).await;
            self.take_back(joined);
        }
    }

    async fn handle(&mut self, op: Op) {
        match op {
            Op::Submit(submission) => self.submit(Work::Prompt(submission)),
            Op::Steer(submission) => self.handle_steer(submission),
            Op::Compact { focus, turn_id } => self.submit(Work::Compact { focus, turn_id }),
            Op::Review { target, turn_id } => self.submit(Work::Review { target, turn_id }),
            Op::Init => self.init(),
            Op::Diff => self.diff(),
            Op::ListRevisions => self.revisions(),
            Op::MakeWorktree => self.make_worktree(),
            Op::ListAgents { saved } => self.list_agents(saved),
            Op::ReadAgent(id) => self.read_agent(id),
            Op::ToAgent { conversation, op } => {
                if let Some(seat) = &self.seat {
                    seat.send_to(&conversation, *op);
                }
            }
            Op::ListTerminals => self.list_terminals(),
            Op::ListHooks => self.list_hooks(),
            Op::TrustHooks(hashes) => self.trust_hooks(&hashes),
            Op::EnableHooks { hashes, enabled } => self.enable_hooks(&hashes, enabled),
            Op::Side(question) => self.side(question),
            Op::CloseSide => self.close_side(),
            Op::StopTerminals(id) => self.stop_terminals(id),
            // Only a server keeps a queue of messages from outside.
            Op::TakeQueued(_) => {}
            Op::FindPrompts => find_prompts(&self.config.config_dir, self.events.clone(), true),
            Op::ListSkills => self.list_skills(),
            Op::Rewind(to) => self.rewind(&to),
            Op::Fork => self.fork(),
            Op::CallMcpTool {
                id,
                server,
                tool,
                arguments,
            } => self.call_mcp_tool(id, server, tool, arguments),
            Op::Rename(name) => self.rename(&name),
            Op::SetGoal(change) => self.set_goal(change),
            Op::ClearGoal => self.clear_goal(),
            Op::UndoRewound => self.undo_rewound(),
            Op::Interrupt => self.interrupt(),
            Op::RunCommand(command) => self.run_own_command(command),
            Op::ApproveDenied(id) => self.approve_denied(id.as_deref()),
            Op::ListReviews => self.list_reviews(),
            Op::ListDiagnostics => self.list_diagnostics(),
            Op::Approve { id, decision } => {
                if !self.approvals.answer(id, decision) {
                    self.emit(Event::Error(format!("no approval request {id} is waiting")));
                }
            }
            Op::AnswerQuestions { id, answers } => {
                if !self.approvals.answer_questions(id, answers) {
                    self.emit(Event::Error(format!("no questions {id} are waiting")));
                }
            }
            Op::NewConversation => {
                self.stop_turn().await;
                self.approvals.forget_session();
                self.conversation = Some(self.new_conversation());
            }
            Op::SetModel(model) => {
                self.use_model(model.clone());
                self.remember(Setting::Model(model));
            }
            Op::SetApprovalMode(mode) => {
                self.approvals.set_mode(mode);
                self.remember(Setting::Approval(mode));
            }
            Op::TrustProject(trusted) => self.trust_project(trusted),
            Op::RemoveCommandRule(rule) => self.remove_rule(&rule),
            Op::Override(settings) => self.override_settings(settings),
            Op::SetEffort(effort) => {
                self.override_settings(Settings {
                    effort: Some(effort),
                    ..Settings::default()
                });
                self.remember(Setting::ReasoningEffort(effort.as_str().to_string()));
            }
            Op::RefreshModels => self.refresh_models(),
            Op::SaveApiKey { key, unchecked } => self.save_api_key(key.expose(), unchecked),
            Op::Logout => self.logout(),
            Op::StartLogin { method, name } => self.start_login(method, name),
            Op::ListLogins => self.list_logins(),
            Op::SwitchLogin(name) => self.switch_login(name),
            Op::PasteLoginRedirect(text) => {
                if let Err(e) = self.accounts.paste_redirect(text.expose()) {
                    self.emit(Event::Error(e.to_string()));
                }
            }
            Op::CancelLogin => {
                self.accounts.stop_login(None);
            }
            Op::Resume(path) => self.resume(&path).await,
            Op::ListSessions => self.list_sessions(),
            Op::SearchSessions(term) => self.search_sessions(term),
            // Handled by the loop.
            Op::Shutdown => {}
        }
    }

    /// `Op::ListSkills`: the skills found, read off the async threads.
    fn list_skills(&self) {
        let (config_dir, settings, project_dir) = (
            self.config.config_dir.clone(),
            self.config.skills.clone(),
            self.options.project_dir.clone(),
        );
        let events = self.events.clone();
        crate::task::spawn(async move {
            let found = crate::task::spawn_blocking(move || {
                super::skills::discover(&config_dir, &settings, &project_dir, |name| {
                    std::env::var_os(name)
                })
            })
            .await
            .unwrap_or_default();
            let _ = events.send(Event::Reply(Reply::Skills(found)));
        });
    }

    /// `Op::Interrupt`: stops the running turn (or, between a goal's turns, the next one) and
    /// the person's own commands.
    fn interrupt(&mut self) {
        match &self.running {
            Some(turn) => turn.cancel.cancel(),
            // Between a goal's turns: the next one does not start.
            None => self.pause_goal(),
        }
        if let Some(seat) = &self.seat {
            seat.interrupt_below();
        }
        std::mem::take(&mut self.own_commands).cancel();
    }

    /// `Op::RemoveCommandRule`: forgets a rule kept for this project.
    fn remove_rule(&mut self, rule: &crate::protocol::ProjectRule) {
        if let Err(e) = self.approvals.remove_rule(rule) {
            self.events.send(Event::Error(e)).ok();
        }
        self.events
            .send(Event::Reply(Reply::CommandRules(self.approvals.rules())))
            .ok();
    }

    /// `Op::Resume`: the saved conversation at `path` in place of the one in hand.
    async fn resume(&mut self, path: &std::path::Path) {
        self.stop_turn().await;
        // The conversation in hand holds its own file: let it go before reopening it.
        let same = self
            .conversation
            .as_ref()
            .and_then(Conversation::session_path)
            .is_some_and(|own| own == path);
        let held = if same { self.conversation.take() } else { None };
        drop(held);
        match self.resumed(path) {
            Ok(conversation) => {
                self.approvals.forget_session();
                self.conversation = Some(conversation);
                self.restore_reviews();
            }
            // The conversation in hand stays (a new one, if it was the one asked for).
            Err(e) => {
                if self.conversation.is_none() {
                    self.conversation = Some(self.new_conversation());
                }
                self.emit(Event::Error(format!("cannot resume the conversation: {e}")))
            }
        }
    }

    fn submit(&mut self, work: Work) {
        // The person's prompt during a turn kelp began toward the goal joins that turn, as
        // input added to it: the goal's turns never stand in the person's way.
        if let (Some(turn), Work::Prompt(submission)) = (&self.running, &work)
            && turn.from_kelp
            && !submission.from_kelp
            && submission.turn_id.is_none()
            && submission.output_schema.is_none()
        {
            let Work::Prompt(submission) = work else {
                return;
            };
            return self.handle_steer(submission);
        }
        if self.running.is_some() {
            self.emit(Event::Error(
                "a turn is already running: wait for it to finish or interrupt it".to_string(),
            ));
            return;
        }
        let toward_goal = self.goal_turn_start();
        let Some(mut conversation) = self.conversation.take() else {
            return;
        };
        let goal = conversation.goal_cell();
        let terminals = conversation.tool_context().terminals.clone();
        let session_path = conversation.session_path();
        let from_kelp = matches!(&work, Work::Prompt(submission) if submission.from_kelp);
        let mut work = work;
        let asked = match &mut work {
            Work::Prompt(submission) if !submission.from_kelp => {
                let id = submission.turn_id.get_or_insert_with(new_turn_id).clone();
                Some((id, vec![submission.text.clone()]))
            }
            _ => None,
        };
        let cancel = CancellationToken::new();
        let ctx = TurnContext {
            client: self.client.clone(),
            approvals: self.approvals.clone(),
            events: self.events.clone(),
            cancel: cancel.clone(),
            max_steps: self.options.max_steps,
            sign_in: self.options.sign_in,
            steered: std::sync::Arc::clone(&self.steered),
            seat: self.seat.clone(),
            hooks: self.hooks.clone(),
            turn_id: None,
            session_start: self.session_start.take(),
        };
        let task = crate::task::spawn(async move {
            let result = match work {
                Work::Prompt(submission) => {
                    run_turn_unfinished(&mut conversation, &ctx, submission).await
                }
                Work::Review { target, turn_id } => {
                    crate::agent::turn::run_review(&mut conversation, &ctx, &target, turn_id).await
                }
                Work::Compact { focus, turn_id } => {
                    let focus = focus.as_deref();
                    crate::agent::compact::as_asked(&mut conversation, &ctx, focus, turn_id).await
                }
            };
            (Box::new(conversation), outcome_of(&result, ctx.sign_in))
        });
        self.running = Some(RunningTurn {
            cancel,
            task,
            goal,
            terminals,
            session_path,
            toward_goal,
            from_kelp,
            asked,
        });
    }
}
