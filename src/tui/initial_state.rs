//! What the client's first frame shows, read from local state before any network call: the
//! login, the model, the project, the modes, and what the command line asked for.

use std::path::PathBuf;

use super::status::{self, SandboxShown};
use crate::agent::core::start::StartFacts;
use crate::auth::detect_method;
use crate::config::Config;
use crate::protocol::{ApprovalMode, AuthSummary, LoginMethod};
use crate::tools::SandboxPolicy;

/// What the first frame needs, read from local state before any network call.
#[derive(Debug, Clone, PartialEq)]
pub struct InitialState {
    /// The model provider, when it is not the built-in `openai`.
    pub provider: Option<status::ProviderShown>,
    /// The config files read and the shared settings each set.
    pub settings_from: Vec<(PathBuf, Vec<&'static str>)>,
    /// The login, if one is stored (or `OPENAI_API_KEY` is set).
    pub auth: Option<AuthSummary>,
    /// The model requests will use.
    pub model: String,
    /// The reasoning effort requests ask for.
    pub effort: crate::protocol::ReasoningEffort,
    /// The processing requests ask for (`service_tier`), shown in the status line.
    pub service_tier: Option<crate::protocol::ServiceTier>,
    /// The project the agent works in.
    pub project_dir: PathBuf,
    /// What may run without asking.
    pub approval_mode: ApprovalMode,
    /// The sandbox commands run in (`workspace-write, no network (Landlock ABI 7)`), as
    /// `/status` says it.
    pub sandbox: status::SandboxShown,
    /// An SSH session or a machine without a display: the device code is the login to offer.
    pub headless: bool,
    /// A problem found while reading local state (an unreadable auth file), shown at start.
    pub warning: Option<String>,
    /// Capture the mouse (wheel and clicks) rather than leave selection to the terminal.
    pub mouse: bool,
    /// Open the picker of this project's saved conversations (`kelp --resume`).
    pub pick_session: bool,
    /// With `pick_session`: the conversation picked is forked (`kelp fork` with no id).
    pub fork_picked: bool,
    /// Ask whether this folder (the root of its git repository, as shown) is trusted: no
    /// trust is kept for it, and no flag, variable or setting chose the modes.
    pub ask_trust: Option<PathBuf>,
    /// A prompt to send at once (`kelp "fix the bug"`); it waits in the composer while there
    /// is no login yet.
    pub prompt: Option<String>,
    /// The config file kelp reads, named where the person is told to add to it.
    pub config_file: PathBuf,
    /// kelp's state folder: saved conversations, the log, `/feedback`'s reports.
    pub state_dir: PathBuf,
    /// Images that go with the first prompt (`kelp -i FILE`).
    pub images: Vec<PathBuf>,
    /// The app-server the agent runs on (`kelp --remote ADDR`), which holds the login: the
    /// client asks for none at start.
    pub server: Option<String>,
    /// A line to say as the client opens (the worktree `--worktree` made).
    pub notice: Option<String>,
    /// A saved conversation comes back as the client starts: the notice is said after it.
    pub resuming: bool,
    /// Open on the command center (`kelp agents`).
    pub open_agents: bool,
    /// `/cd` opened the client here from this folder: the trust question offers to go back.
    pub came_from: Option<PathBuf>,
    /// The trusted project's settings that wait for the person's allowance, asked about at
    /// the start.
    pub project_waiting: Vec<crate::config::project::Waiting>,
    /// The status line, window title, syntax theme and Vim mode the config chose.
    pub surfaces: crate::config::surfaces::Surfaces,
}

impl InitialState {
    /// What the first frame shows, known before any network call: the stored login and the
    /// model (both from the agent's side), the sandbox, and whether this machine is headless.
    pub fn from_local(config: &Config, project_dir: PathBuf, env_api_key: Option<String>) -> Self {
        let facts = StartFacts::read(config, env_api_key);
        let sandbox =
            SandboxShown::Policy(Box::new(SandboxPolicy::for_project(config, &project_dir)));
        Self {
            provider: status::ProviderShown::of(&config.model_provider),
            settings_from: config.settings_from.clone(),
            auth: facts.auth,
            model: facts.model,
            effort: crate::agent::conversation::parse_effort(config.reasoning_effort.as_deref()),
            service_tier: config.service_tier,
            project_dir,
            approval_mode: config.approval,
            sandbox,
            headless: detect_method() == LoginMethod::Device,
            warning: facts.warning,
            mouse: config.mouse,
            pick_session: false,
            fork_picked: false,
            ask_trust: None,
            prompt: None,
            config_file: config.config_dir.join(crate::config::file::FILE_NAME),
            state_dir: config.state_dir.clone(),
            images: Vec::new(),
            server: None,
            notice: None,
            resuming: false,
            open_agents: false,
            came_from: None,
            project_waiting: config.project.waiting(),
            surfaces: config.surfaces.clone(),
        }
    }
}
