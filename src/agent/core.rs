//! The core: the one task that owns the conversation. Front ends send [`Op`]s and receive
//! [`Event`]s (the Codex CLI split), so the TUI and any other front end share one agent.
//!
//! A turn runs in its own task, which borrows the conversation for its length and hands it
//! back when done; meanwhile the core keeps answering ops (interrupt, approvals, the approval
//! mode, logins). A second `Submit` while a turn runs is refused with an [`Event::Error`]:
//! a queued prompt would run against a history its author has not seen yet. `TurnFinished`
//! is sent only once the conversation is back, so a front end may submit on seeing it.

use std::path::PathBuf;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::approval::Approvals;
use super::command_rules::CommandRules;
use super::conversation::Conversation;
use super::turn::{DEFAULT_MAX_STEPS, run_turn_unfinished};
use super::turn_context::{Steered, TurnContext, outcome_of, take_steered};
use crate::auth::login::LoginMethod;
use crate::auth::{Accounts, AuthManager, ExternalAuth, SaveKeyError, mask_key};
use crate::config::{Config, Setting};
use crate::llm::types::Item;
use crate::llm::{LlmClient, StreamSettings};
use crate::mcp::{McpManager, McpUpdate};
use crate::protocol::{AuthSummary, Event, Op, Settings, Submission, TurnOutcome};
use crate::session;

mod goal;
mod history;
mod host;
mod settings;

/// How the core starts, besides the configuration.
#[derive(Clone)]
pub struct CoreOptions {
    /// The project the agent works in.
    pub project_dir: PathBuf,
    /// A session file to continue instead of starting a new conversation.
    pub resume: Option<PathBuf>,
    /// Whether a session file that cannot be read gives a new conversation (said as an error
    /// first), or stops the core before it starts.
    pub new_if_resume_fails: bool,
    /// Save nothing of the conversation: it is never listed or resumed.
    pub ephemeral: bool,
    /// Who answers the calls that ask: a person through `Op::Approve`, or nobody.
    pub approver: Approver,
    /// Streaming timeouts and retries.
    pub stream: StreamSettings,
    /// The most requests one turn makes.
    pub max_steps: usize,
    /// `OPENAI_API_KEY`, used when the auth file holds no login.
    pub env_api_key: Option<String>,
    /// `env_api_key` beats the stored login (`kelp exec`'s `CODEX_API_KEY`, as Codex's exec).
    pub env_api_key_first: bool,
    /// ChatGPT tokens an embedding host hands in; used instead of auth.json while set.
    pub external: Option<ExternalAuth>,
    /// The editor holding the project's files, when the front end has one.
    pub editor: Option<crate::agent::tools::Editor>,
    /// Where the front end signs in (`/connect`), named after a failure that needs it.
    pub sign_in: Option<&'static str>,
    /// MCP servers for this agent besides the config file's (an ACP session's).
    pub mcp_servers: Vec<crate::config::McpServerConfig>,
    /// Whether the prompts of the project's saved conversations are read for a composer's
    /// history (`Event::PromptHistory`): only a face with a composer wants them.
    pub prompt_history: bool,
}

impl std::fmt::Debug for CoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreOptions")
            .field("project_dir", &self.project_dir)
            .field("resume", &self.resume)
            .field("new_if_resume_fails", &self.new_if_resume_fails)
            .field("ephemeral", &self.ephemeral)
            .field("approver", &self.approver)
            .field("stream", &self.stream)
            .field("max_steps", &self.max_steps)
            .field("env_api_key", &self.env_api_key.as_deref().map(mask_key))
            .field("env_api_key_first", &self.env_api_key_first)
            .field("external", &self.external)
            .field("editor", &self.editor)
            .field("sign_in", &self.sign_in)
            .field("mcp_servers", &self.mcp_servers)
            .field("prompt_history", &self.prompt_history)
            .finish()
    }
}

impl CoreOptions {
    /// Options for a new conversation in `project_dir`, with the default limits and the
    /// process's `OPENAI_API_KEY`.
    pub fn new(project_dir: impl Into<PathBuf>) -> Self {
        Self {
            project_dir: project_dir.into(),
            resume: None,
            new_if_resume_fails: true,
            ephemeral: false,
            approver: Approver::Interactive,
            stream: StreamSettings::default(),
            max_steps: DEFAULT_MAX_STEPS,
            env_api_key: std::env::var("OPENAI_API_KEY").ok(),
            env_api_key_first: false,
            external: None,
            editor: None,
            sign_in: None,
            mcp_servers: Vec::new(),
            prompt_history: false,
        }
    }
}

/// Who answers the tool calls that ask for approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approver {
    /// A person, through `Op::Approve` after an `ApprovalRequested`.
    Interactive,
    /// Nobody (`kelp run`): what would ask is denied, and the model told how to allow it.
    Unattended,
}

/// What a front end can show before the core has started or any network call was made: the
/// stored login, the model a turn will use, and a problem reading the auth file.
#[derive(Debug, Clone, PartialEq)]
pub struct StartFacts {
    /// The login, if one is stored (or `OPENAI_API_KEY` is set).
    pub auth: Option<AuthSummary>,
    /// The model requests will use: the same choice the core makes.
    pub model: String,
    /// The auth file could not be read.
    pub warning: Option<String>,
}

impl StartFacts {
    /// Reads the auth file once; never prints a secret.
    pub fn read(config: &Config, env_api_key: Option<String>) -> Self {
        let store = crate::auth::AuthStore::new(&config.auth_file);
        let (auth, warning) =
            match crate::auth::accounts::stored_or_env(&store, env_api_key.as_deref()) {
                Ok(who) => (who.map(|who| who.summary()), None),
                Err(e) => (None, Some(e.to_string())),
            };
        Self {
            auth,
            model: config.model_in_use(),
            warning,
        }
    }
}

/// Starts the core on the current tokio runtime; returns where to send `Op`s and where its
/// `Event`s arrive. The core ends on `Op::Shutdown` or when the `Op` sender is dropped.
pub fn spawn(
    config: Config,
    options: CoreOptions,
) -> (UnboundedSender<Op>, UnboundedReceiver<Event>) {
    spawn_after(config, options, std::future::ready(()))
}

/// [`spawn`], the core's start (its HTTP client and the system's certificates, the project's
/// rules, skills and prompts) held until `after` ends: the client's first frame does not share
/// the machine with it. `Op`s sent meanwhile wait.
pub fn spawn_after(
    config: Config,
    options: CoreOptions,
    after: impl std::future::Future<Output = ()> + Send + 'static,
) -> (UnboundedSender<Op>, UnboundedReceiver<Event>) {
    let (op_tx, op_rx) = unbounded_channel();
    let (event_tx, event_rx) = unbounded_channel();
    crate::task::spawn(async move {
        after.await;
        find_prompts(&config.config_dir, event_tx.clone(), false);
        match Core::start(config, options, event_tx.clone()) {
            Ok(core) => {
                let rules = core.approvals.rules();
                if !rules.is_empty() {
                    let _ = event_tx.send(Event::CommandRules(rules));
                }
                core.run(op_rx).await;
            }
            Err(message) => {
                let _ = event_tx.send(Event::Error(message));
            }
        }
    });
    (op_tx, event_rx)
}

/// Reads the custom prompts of the prompts folders beside `config_dir` on a blocking thread,
/// and sends them as `CustomPrompts`: even none when `asked` (one may have been removed), else
/// only some.
fn find_prompts(config_dir: &std::path::Path, events: UnboundedSender<Event>, asked: bool) {
    let folders = crate::config::prompts::folders(config_dir, |name| std::env::var_os(name));
    crate::task::spawn(async move {
        let found = crate::task::spawn_blocking(move || crate::config::prompts::discover(&folders))
            .await
            .unwrap_or_default();
        if asked || !found.is_empty() {
            let _ = events.send(Event::CustomPrompts(found));
        }
    });
}

/// Starts the MCP servers of the config and of `options` on tasks of their own, their
/// statuses and failures becoming `events` (`McpServers`, `Notice`). The servers hold the
/// sender weakly: a front end's event stream still ends when the agent is done. `None` when
/// there are none.
fn start_mcp(
    config: &Config,
    options: &CoreOptions,
    http: &reqwest::Client,
    events: &UnboundedSender<Event>,
) -> Option<McpManager> {
    let servers: Vec<_> = config
        .mcp_servers
        .iter()
        .chain(&options.mcp_servers)
        .cloned()
        .collect();
    if servers.is_empty() {
        return None;
    }
    let events = events.downgrade();
    let project_dir = &options.project_dir;
    let project_dir = std::path::absolute(project_dir).unwrap_or_else(|_| project_dir.into());
    Some(McpManager::start(
        servers,
        http.clone(),
        project_dir,
        Some(crate::mcp::oauth::store_path(&config.auth_file)),
        move |update| {
            if let Some(events) = events.upgrade() {
                let _ = events.send(match update {
                    McpUpdate::Servers(list) => Event::McpServers(list),
                    McpUpdate::Problem(text) => Event::Notice(text),
                });
            }
        },
    ))
}

/// The prompt `/init` sends.
const INIT_PROMPT: &str = "Write an AGENTS.md file at the root of this project, for coding agents \
that will work in it. First look around: the layout (list_dir), the build files, the README, the \
test setup and a few representative source files. Then add AGENTS.md with apply_patch (do not \
overwrite an existing one). Keep it short and specific to this project: what it is; how to build, \
run, test and lint it (the exact commands); the layout and where things live; code style and \
conventions seen in the code; and anything an agent must not do. No generic advice.";

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
        target: crate::agent::review::ReviewTarget,
        turn_id: Option<String>,
    },
}

/// How long a new core may take to say which conversation it holds.
const OPEN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A core that has said which conversation it holds: what an embedding face needs before it
/// answers the host.
pub struct Opened {
    /// Where `Op`s go.
    pub ops: UnboundedSender<Op>,
    /// The core's events from here on.
    pub events: UnboundedReceiver<Event>,
    /// The conversation's session id.
    pub id: String,
    /// A resumed conversation's turns, to replay to the host.
    pub restored: Option<Box<super::replay::Replay>>,
    /// What the core said before the conversation started (an instruction file it could not
    /// read, say), for the face to pass on.
    pub notices: Vec<String>,
}

/// Starts a core (as [`spawn`]) and waits until it has started or resumed its conversation.
/// An error is one readable line: the core could not start, or did not in time.
pub async fn open(config: Config, options: CoreOptions) -> Result<Opened, String> {
    let (ops, mut events) = spawn(config, options);
    let mut restored = None;
    let mut notices = Vec::new();
    let id = tokio::time::timeout(OPEN_TIMEOUT, async {
        while let Some(event) = events.recv().await {
            match event {
                Event::Conversation { id } => return Ok(id),
                Event::Restored(replay) => restored = Some(replay),
                Event::Notice(text) => notices.push(text),
                Event::Error(message) => return Err(message),
                other => tracing::debug!(?other, "before the conversation started"),
            }
        }
        Err("the agent stopped before the conversation started".to_string())
    })
    .await
    .map_err(|_| "the agent did not start in time".to_string())??;
    Ok(Opened {
        ops,
        events,
        id,
        restored,
        notices,
    })
}

/// How many saved conversations the `/resume` picker offers.
const MAX_LISTED_SESSIONS: usize = 50;

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
    /// Where the turn began, when it works toward an active goal.
    toward_goal: Option<goal::GoalTurn>,
    /// kelp began it (toward the goal), not a face: a prompt sent meanwhile joins it.
    from_kelp: bool,
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
}

impl Core {
    fn start(
        config: Config,
        options: CoreOptions,
        events: UnboundedSender<Event>,
    ) -> Result<Self, String> {
        let http = crate::llm::client::http_client().map_err(|e| e.to_string())?;
        let mut auth = AuthManager::new(&config, http.clone(), options.env_api_key.clone());
        if options.env_api_key_first {
            auth = auth.preferring_env_key();
        }
        if let Some(external) = options.external.clone() {
            auth = auth.with_external(external);
        }
        let accounts = std::sync::Arc::new(Accounts::new(&config, auth.clone(), http.clone()));
        let client = LlmClient::with_settings(config.clone(), auth, options.stream.clone())
            .map_err(|e| e.to_string())?;
        let model = config.model_in_use();
        let mcp = start_mcp(&config, &options, &http, &events);
        let mut core = Self {
            approvals: match options.approver {
                Approver::Interactive => Approvals::interactive(config.approval),
                Approver::Unattended => Approvals::unattended(config.approval),
            }
            .with_rules(CommandRules::load(&config.config_dir, &options.project_dir)),
            config,
            options,
            client,
            accounts,
            events,
            conversation: None,
            running: None,
            model,
            chosen: Settings::default(),
            steered: Steered::default(),
            settings: None,
            mcp,
            rewound_changes: Vec::new(),
            own_commands: tokio_util::sync::CancellationToken::new(),
        };
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

    /// Reads the prompts of this project's saved conversations in the background, for the
    /// composer's history; the answer arrives as `Event::PromptHistory`.
    fn send_prompt_history(&self) {
        let state_dir = self.config.state_dir.clone();
        let project_dir = self.options.project_dir.clone();
        let events = self.events.clone();
        crate::task::spawn_blocking(move || {
            let prompts = crate::session::recent_prompts(&state_dir, &project_dir, 50, 500);
            if !prompts.is_empty() {
                let _ = events.send(Event::PromptHistory(prompts));
            }
        });
    }

    fn emit(&self, event: Event) {
        let _ = self.events.send(event);
    }

    fn new_conversation(&self) -> Conversation {
        let (mut conversation, warnings) =
            Conversation::new(&self.config, &self.options.project_dir, self.model.clone());
        conversation.set_editor(self.options.editor.clone());
        conversation.set_mcp(self.mcp.clone());
        // A host's or the person's choices hold for the next conversation too (plan mode).
        conversation.apply(&self.chosen);
        if self.options.ephemeral {
            conversation.unsaved();
        }
        for warning in warnings {
            self.emit(Event::Notice(warning));
        }
        self.emit(Event::Instructions(
            conversation.instruction_files().to_vec(),
        ));
        self.emit(Event::Conversation {
            id: conversation.id().to_string(),
        });
        conversation
    }

    /// The conversation saved at `path`, its transcript sent to the front end; why not, when
    /// it cannot be read.
    fn resumed(&mut self, path: &std::path::Path) -> Result<Conversation, String> {
        match Conversation::resume(&self.config, path) {
            Ok((mut conversation, shown)) => {
                conversation.set_editor(self.options.editor.clone());
                conversation.set_mcp(self.mcp.clone());
                conversation.apply(&self.chosen);
                self.model = conversation.model().to_string();
                self.emit(Event::Restored(Box::new(shown)));
                if conversation.left_out() {
                    self.emit(Event::Notice(
                        crate::agent::conversation::LEFT_OUT_NOTICE.to_string(),
                    ));
                }
                self.emit(Event::Conversation {
                    id: conversation.id().to_string(),
                });
                if conversation.usage() != crate::llm::types::TokenUsage::default() {
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
    }

    /// Takes the conversation back from a finished turn task, then tells the front end the
    /// turn is over — only now is the core ready for the next prompt.
    fn take_back(&mut self, joined: Result<Ended, tokio::task::JoinError>) {
        let toward_goal = self.running.take().and_then(|turn| turn.toward_goal);
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
                    category: crate::llm::ErrorCategory::Other,
                }
            }
        };
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
            Op::FindPrompts => find_prompts(&self.config.config_dir, self.events.clone(), true),
            Op::ListSkills => {
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
                    let _ = events.send(Event::Skills(found));
                });
            }
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
            Op::Interrupt => {
                match &self.running {
                    Some(turn) => turn.cancel.cancel(),
                    // Between a goal's turns: the next one does not start.
                    None => self.pause_goal(),
                }
                std::mem::take(&mut self.own_commands).cancel();
            }
            Op::RunCommand(command) => self.run_own_command(command),
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
            Op::RemoveCommandRule(prefix) => {
                if let Err(e) = self.approvals.remove_rule(&prefix) {
                    self.events.send(Event::Error(e)).ok();
                }
                self.events
                    .send(Event::CommandRules(self.approvals.rules()))
                    .ok();
            }
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
            Op::StartLogin(method) => self.start_login(method),
            Op::PasteLoginRedirect(text) => {
                if let Err(e) = self.accounts.paste_redirect(text.expose()) {
                    self.emit(Event::Error(e.to_string()));
                }
            }
            Op::CancelLogin => {
                self.accounts.stop_login(None);
            }
            Op::Resume(path) => {
                self.stop_turn().await;
                // The conversation in hand holds its own file: let it go before reopening it.
                let same = self
                    .conversation
                    .as_ref()
                    .and_then(Conversation::session_path)
                    .is_some_and(|own| own == path);
                let held = if same { self.conversation.take() } else { None };
                drop(held);
                match self.resumed(&path) {
                    Ok(conversation) => {
                        self.approvals.forget_session();
                        self.conversation = Some(conversation);
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
            Op::ListSessions => self.list_sessions(),
            // Handled by the loop.
            Op::Shutdown => {}
        }
    }

    /// `Op::Steer`: input for the running turn's next request; with none running, it joins
    /// the conversation for the next prompt.
    fn handle_steer(&mut self, submission: Submission) {
        self.steered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(submission);
        if self.running.is_none() {
            self.keep_late_steers();
        }
    }

    /// Input that came to steer a turn that had ended: it joins the conversation, so the model
    /// reads it with the next prompt; nothing the person sent is lost.
    fn keep_late_steers(&mut self) {
        let late = take_steered(&self.steered);
        let Some(conversation) = &mut self.conversation else {
            return;
        };
        for steer in late {
            if !steer.images.is_empty() {
                self.events
                    .send(Event::Error(format!(
                        "{} image(s) came after the turn ended and were not kept: send them again",
                        steer.images.len()
                    )))
                    .ok();
            }
            if let Err(e) = conversation.record(Item::user_text(steer.text)) {
                self.events.send(Event::Error(e.to_string())).ok();
            }
            self.events
                .send(Event::Notice(
                    "what you added came after the turn ended: the model reads it with your next prompt"
                        .to_string(),
                ))
                .ok();
        }
    }

    /// `/init`: a turn that asks for an `AGENTS.md`, unless the project has one.
    fn init(&mut self) {
        let Some(conversation) = &self.conversation else {
            return;
        };
        let path = conversation.project_dir().join("AGENTS.md");
        // symlink_metadata: a dangling link is still a file the patch would overwrite.
        if std::fs::symlink_metadata(&path).is_ok() {
            self.emit(Event::Error(format!(
                "{} already exists: /init does not overwrite it; edit it, or move it away first",
                path.display()
            )));
            return;
        }
        self.emit(Event::Notice(
            "Asking the model to write AGENTS.md; you approve the file before it is written."
                .to_string(),
        ));
        self.submit(Work::Prompt(Submission::text(INIT_PROMPT)));
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
        let from_kelp = matches!(&work, Work::Prompt(submission) if submission.from_kelp);
        let cancel = CancellationToken::new();
        let ctx = TurnContext {
            client: self.client.clone(),
            approvals: self.approvals.clone(),
            events: self.events.clone(),
            cancel: cancel.clone(),
            max_steps: self.options.max_steps,
            sign_in: self.options.sign_in,
            steered: std::sync::Arc::clone(&self.steered),
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
            toward_goal,
            from_kelp,
        });
    }

    /// Lists the login's models in the background; the answer arrives as `Event::Models`.
    fn refresh_models(&self) {
        crate::task::spawn(self.model_refresh().run());
    }

    fn save_api_key(&self, raw: &str, unchecked: bool) {
        let raw = raw.to_string();
        let accounts = self.accounts.clone();
        let events = self.events.clone();
        let refresh = self.model_refresh();
        let client = self.client.clone();
        crate::task::spawn(async move {
            // A key a person typed is checked first, unless they chose to save it unchecked.
            let saved = if unchecked {
                accounts.save_api_key(&raw).await
            } else {
                let check = |key: String| async move { client.check_api_key(&key).await };
                accounts.check_and_save_api_key(&raw, check).await
            };
            let event = match saved {
                Ok(masked) => Event::AuthChanged(Some(AuthSummary::ApiKey { masked })),
                Err(SaveKeyError::Unchecked(why)) => Event::ApiKeyUnchecked(why),
                Err(e) => Event::Error(e.to_string()),
            };
            let saved = matches!(event, Event::AuthChanged(_));
            if events.send(event).is_ok() && saved {
                refresh.run().await;
            }
        });
    }

    fn model_refresh(&self) -> ModelRefresh {
        ModelRefresh {
            client: self.client.clone(),
            events: self.events.clone(),
            current: self.model.clone(),
        }
    }

    /// Revokes a ChatGPT login (best effort) and removes the entry.
    fn logout(&self) {
        let accounts = self.accounts.clone();
        let events = self.events.clone();
        crate::task::spawn(async move {
            let event = match accounts.sign_out().await {
                Ok(_) => Event::AuthChanged(None),
                Err(e) => Event::Error(format!("could not log out: {e}")),
            };
            let _ = events.send(event);
        });
    }

    /// Starts a ChatGPT login; its steps arrive as `Event::Login`, and the model list is
    /// refreshed once it is saved. A new login replaces (and so cancels) a running one.
    fn start_login(&mut self, method: LoginMethod) {
        let (mut login, _replaced) = self.accounts.start_login(method, true);
        let events = self.events.clone();
        let refresh = self.model_refresh();
        crate::task::spawn(async move {
            while let Some(step) = login.steps.recv().await {
                let done = matches!(step, crate::auth::login::LoginEvent::Done(_));
                if events.send(Event::Login(step)).is_err() {
                    return;
                }
                if done {
                    refresh.run().await;
                    return;
                }
            }
        });
    }

    /// Lists this project's saved conversations off the core task (it reads file headers).
    fn list_sessions(&self) {
        let state_dir = self.config.state_dir.clone();
        let project_dir = self.options.project_dir.clone();
        let events = self.events.clone();
        // Each shows the model it will go on with: the one chosen, else the one it was saved with.
        let config = self.config.clone();
        crate::task::spawn(async move {
            let listed = crate::task::spawn_blocking(move || {
                let listed = session::list_sessions(&state_dir, Some(&project_dir))
                    .take(MAX_LISTED_SESSIONS)
                    .map(|mut summary| {
                        summary.model = config.model_or(Some(&summary.model));
                        summary.last_exchange = session::last_exchange(&summary.path);
                        summary
                    });
                session::shelf::named(&state_dir, listed)
            })
            .await;
            let event = match listed {
                Ok(sessions) => Event::Sessions(sessions),
                Err(_) => Event::Error("could not list saved conversations".to_string()),
            };
            let _ = events.send(event);
        });
    }
}

/// What a model list refresh needs, detached from the core.
struct ModelRefresh {
    client: LlmClient,
    events: UnboundedSender<Event>,
    current: String,
}

impl ModelRefresh {
    async fn run(self) {
        let event = match self.client.models().await {
            Ok(list) => Event::Models {
                available: list.models,
                current: self.current,
            },
            Err(e) => Event::Error(e.to_string()),
        };
        let _ = self.events.send(event);
    }
}
