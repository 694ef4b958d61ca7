//! How a core is started: its options, what a face shows before it runs (the stored login,
//! the model), the task spawned and, for an embedding face, the wait until it holds its
//! conversation; the MCP servers and custom prompts it starts with.

use std::path::PathBuf;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::Core;
use crate::agent::turn::DEFAULT_MAX_STEPS;
use crate::auth::{ExternalAuth, mask_key};
use crate::config::Config;
use crate::llm::StreamSettings;
use crate::mcp::{McpManager, McpUpdate};
use crate::protocol::{AuthSummary, Event, Op, Reply};

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
    pub editor: Option<crate::tools::Editor>,
    /// Where the front end signs in (`/connect`), named after a failure that needs it.
    pub sign_in: Option<&'static str>,
    /// MCP servers for this agent besides the config file's (an ACP session's).
    pub mcp_servers: Vec<crate::config::McpServerConfig>,
    /// Whether the prompts of the project's saved conversations are read for a composer's
    /// history (`Event::Reply(Reply::PromptHistory)`): only a face with a composer wants them.
    pub prompt_history: bool,
    /// A child agent's place in its team (the first agent makes its team itself).
    pub seat: Option<crate::agent::team::Seat>,
    /// The background terminals its conversations use, held by the face too (an app-server
    /// thread lists and ends them); `None`: each conversation has its own.
    pub terminals: Option<crate::tools::terminals::Terminals>,
    /// Whether the person's hooks run in its conversations: not in a side conversation, which
    /// is kelp's own work beside the person's (as Codex runs none in its internal agents).
    pub hooks: bool,
    /// Lists the conversations held elsewhere that the command center shows beside this
    /// core's (the person's own app-server's, given by the face that can reach it).
    pub elsewhere: Option<ElsewhereAgents>,
}

/// What lists the conversations held elsewhere, as the command center's rows.
pub type ElsewhereAgents = std::sync::Arc<
    dyn Fn() -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Vec<crate::protocol::AgentRow>> + Send>,
        > + Send
        + Sync,
>;

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
            .field("seat", &self.seat)
            .field("hooks", &self.hooks)
            .field("elsewhere", &self.elsewhere.is_some())
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
            seat: None,
            terminals: None,
            hooks: true,
            elsewhere: None,
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
    let weak_ops = op_tx.downgrade();
    crate::task::spawn_let_end(async move {
        after.await;
        find_prompts(&config.config_dir, event_tx.clone(), false);
        match Core::start(config, options, event_tx.clone(), weak_ops) {
            Ok(core) => {
                let rules = core.approvals.rules();
                if !rules.is_empty() {
                    let _ = event_tx.send(Event::Reply(Reply::CommandRules(rules)));
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
pub fn find_prompts(config_dir: &std::path::Path, events: UnboundedSender<Event>, asked: bool) {
    let folders = crate::config::prompts::folders(config_dir, |name| std::env::var_os(name));
    crate::task::spawn(async move {
        let found = crate::task::spawn_blocking(move || crate::config::prompts::discover(&folders))
            .await
            .unwrap_or_default();
        if asked || !found.is_empty() {
            let _ = events.send(Event::Reply(Reply::CustomPrompts(found)));
        }
    });
}

/// Starts the MCP servers of the config and of `options` on tasks of their own, their
/// statuses and failures becoming `events` (`McpServers`, `Notice`). The servers hold the
/// sender weakly: a front end's event stream still ends when the agent is done. `None` when
/// there are none.
pub(super) fn start_mcp(
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
                    McpUpdate::Servers(list) => Event::Reply(Reply::McpServers(list)),
                    McpUpdate::Problem(text) => Event::Notice(text),
                });
            }
        },
    ))
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
    pub restored: Option<Box<crate::protocol::Replay>>,
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
                Event::Reply(Reply::Conversation { id }) => return Ok(id),
                Event::Reply(Reply::Restored(replay)) => restored = Some(replay),
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
