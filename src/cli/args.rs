//! The command line's shape as clap reads it: the flags every face shares, the commands and
//! their arguments, and Codex's verbs kelp refuses in words.

use std::path::PathBuf;

use super::flags::AgentFlags;
use clap::{Args, Parser, Subcommand};

/// kelp — a fast terminal coding client for OpenAI Codex models.
#[derive(Debug, Parser)]
#[command(name = "kelp", version, about, long_about = None)]
#[command(
    after_help = "Run `kelp` with no command to start the interactive client.\n\
Endpoints can be overridden with KELP_AUTH_ISSUER, KELP_CODEX_BASE_URL, OPENAI_BASE_URL and \
KELP_CALLBACK_PORT; the auth file with KELP_AUTH_FILE; the sandbox with KELP_SANDBOX and \
KELP_NETWORK. Settings are read from \
~/.config/kelp/config.toml; a flag beats the environment, which beats the file."
)]
pub struct Cli {
    #[command(flatten)]
    pub(super) agent: AgentFlags,
    /// Resume a saved conversation: the one with ID (or an id prefix), or pick one of this
    /// directory's.
    #[arg(long, value_name = "ID", conflicts_with = "continue_")]
    pub(super) resume: Option<Option<String>>,
    /// Continue the newest saved conversation of this directory.
    #[arg(long = "continue")]
    pub(super) continue_: bool,
    /// Run a new conversation in a new git worktree of this repository, on a branch of its
    /// own (`kelp/ID`), in `.kelp-worktrees/` beside the repository; `kelp worktree list`
    /// shows them.
    #[arg(long, conflicts_with_all = ["resume", "continue_", "remote"])]
    pub(super) worktree: bool,
    /// Scrollback mode, as Codex's flag: the client draws on the terminal's own screen and the
    /// conversation goes into its scrollback, where the terminal's selection and search (tmux's
    /// too) reach it; `[tui] alternate_screen = "never"` makes it the default, `/tui` switches.
    #[arg(long)]
    pub(super) no_alt_screen: bool,
    /// A prompt to send as the client starts (`kelp "fix the failing test"`).
    #[arg(value_name = "PROMPT")]
    pub(super) prompt: Option<String>,
    /// Attach an image to the first prompt (repeatable, or comma-separated).
    #[arg(long, short = 'i', value_name = "FILE", value_delimiter = ',')]
    pub(super) image: Vec<PathBuf>,
    /// Run the client on an app-server, kelp's or Codex's, instead of an agent of its own:
    /// unix:///PATH (what `kelp app-server --listen unix://` says) or ws://HOST:PORT. Turns run
    /// there and go on when the client goes; `kelp --remote ADDR resume` comes back to them.
    #[arg(long, value_name = "ADDR")]
    pub(super) remote: Option<String>,
    /// The environment variable that holds the app-server's token (its --ws-token-file),
    /// sent as a bearer token; only to a unix socket or a loopback address.
    #[arg(long, value_name = "VAR", requires = "remote")]
    pub(super) remote_auth_token_env: Option<String>,
    #[command(subcommand)]
    pub(super) command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Sign in: ChatGPT in the browser, ChatGPT by device code, or an API key from stdin.
    Login(LoginArgs),
    /// Sign out: revoke a ChatGPT login and remove kelp's entry from the auth file (other
    /// entries stay).
    Logout,
    /// Inspect the login.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// The logins kelp keeps (`kelp login --name NAME` adds one): list them, switch to one
    /// (nothing is revoked), remove one.
    Accounts {
        #[command(subcommand)]
        command: Option<super::accounts_cmd::AccountsCommand>,
    },
    /// List saved conversations of this directory, newest first.
    Sessions(SessionsArgs),
    /// Continue a saved conversation in the client, as Codex's `resume`: the one with ID (or
    /// an id prefix), the newest of this directory with --last, or pick one.
    Resume(ResumeArgs),
    /// Answer one prompt without the interactive client, streaming the answer to stdout.
    Run(super::run_cmd::RunArgs),
    /// Codex's `exec` on kelp, for hosts built on `codex exec --experimental-json` (the Codex
    /// SDK): one prompt, Codex's JSON events with --json, `exec resume ID | --last`.
    #[command(visible_alias = "e")]
    Exec(Box<super::exec_cmd::ExecArgs>),
    /// Serve the Codex app-server protocol (JSON-RPC) for host apps and editor extensions that
    /// embed kelp: on stdin and stdout, or as a server on a Unix socket or a port that clients
    /// (`kelp --remote`, `codex --remote`, an editor over SSH) come and go from.
    AppServer(super::app_server_cmd::AppServerArgs),
    /// Serve the Agent Client Protocol on stdin and stdout, for editors such as Zed that run
    /// kelp as a coding agent.
    Acp(AcpArgs),
    /// The command sandbox on this machine.
    #[command(subcommand)]
    Sandbox(SandboxCommand),
    /// Check this installation, as a bug report wants it: the binary, the login (never a
    /// token), the config files and their mistakes, the sandbox's layers, the terminal, each
    /// MCP server, and whether each endpoint answers. Exit 0 when all is well, 1 otherwise.
    Doctor {
        /// One JSON object instead of the lines.
        #[arg(long)]
        json: bool,
        /// The project directory (default: the current directory).
        #[arg(long = "cd", short = 'C', value_name = "DIR")]
        cd: Option<PathBuf>,
    },
    /// The hooks of the config folders (kelp's and CODEX_HOME's hooks.json and [hooks]): list
    /// them with their state, trust them so they run.
    Hooks {
        #[command(subcommand)]
        command: Option<super::hooks_cmd::HooksCommand>,
    },
    /// A trusted project's own settings (.codex/config.toml, .kelp/config.toml): what each
    /// sets, and what waits for your allowance; `kelp project allow` allows it.
    Project {
        #[command(subcommand)]
        command: Option<super::project_cmd::ProjectCommand>,
        /// The project directory (default: the current directory).
        #[arg(long = "cd", short = 'C', value_name = "DIR", global = true)]
        cd: Option<PathBuf>,
    },
    /// The MCP servers of kelp's config file, as Codex's `mcp`: add, list, get, remove.
    #[command(subcommand)]
    Mcp(super::mcp_cmd::McpCommand),
    /// Review code changes without the client, as Codex's `review`: the working tree's changes
    /// (the default), the branch against --base BRANCH, one --commit SHA, or your own
    /// instructions; the findings go to stdout (--json: exec's events).
    Review(super::run_cmd::ReviewArgs),
    /// Copy a saved conversation into a new one and continue the copy in the client, as
    /// Codex's `fork`: the one with ID (or an id prefix, or its name), or the newest of this
    /// directory with --last.
    Fork(ForkArgs),
    /// The command center, as Codex's `agents`: the client opened on every conversation (this
    /// one, the agents it spawns, the saved ones of every project), grouped as Needs you,
    /// Working, Ready and Inactive; Enter opens one, `n` starts one.
    Agents,
    /// Leave a message for a conversation on the per-user server (or --remote's), as Codex's
    /// `queue`: sent when the turn running there ends, at once when none runs; --resume opens
    /// a saved conversation there first.
    Queue(super::queue_cmd::QueueArgs),
    /// The git worktrees kelp made for conversations (`--worktree`, `/worktree`, a child
    /// agent's own) of this repository: list them, remove one.
    #[command(subcommand)]
    Worktree(super::worktree_cmd::WorktreeCommand),
    /// The feature flags kelp acts on, named as Codex names them: list them, turn one on or
    /// off in kelp's config.toml.
    #[command(subcommand)]
    Features(super::features_cmd::FeaturesCommand),
    /// Archive a saved conversation (by id, id prefix or name): it leaves `kelp sessions`,
    /// `--continue` and the pickers until unarchived, and stays readable.
    Archive {
        #[arg(value_name = "ID|NAME")]
        session: String,
    },
    /// Bring an archived conversation back among the saved ones.
    Unarchive {
        #[arg(value_name = "ID|NAME")]
        session: String,
    },
    /// Delete a saved or archived conversation for good; asks first on a terminal.
    Delete {
        #[arg(value_name = "ID|NAME")]
        session: String,
        /// Delete without asking (for scripts); `--force` as Codex's.
        #[arg(long, short = 'y', visible_alias = "force")]
        yes: bool,
    },
    /// Print the completion script of SHELL (bash, zsh, fish, elvish or powershell): for
    /// bash, `kelp completion bash > ~/.local/share/bash-completion/completions/kelp`.
    Completion {
        #[arg(value_name = "SHELL", default_value = "bash")]
        shell: clap_complete::Shell,
    },
    /// Codex's verbs kelp does not serve: said in one line, never sent to the model as a
    /// prompt (`kelp -- apply` sends the word).
    #[command(
        hide = true,
        name = "apply",
        aliases = [
            "a", "cloud", "plugin", "update", "remote-control",
            "exec-server", "migrate-rollouts", "mcp-server", "debug", "execpolicy",
            "cloud-tasks", "responses-api-proxy", "stdio-to-uds", "migrate-nfs-db"
        ]
    )]
    CodexOnly {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        rest: Vec<String>,
    },
}

/// Codex's verbs that kelp does not serve, and what kelp offers instead.
pub(super) const CODEX_ONLY: [(&str, &str); 15] = [
    (
        "apply",
        "kelp applies the model's patches in the project as it works (Esc Esc undoes them); it has no Codex Cloud diffs to apply",
    ),
    (
        "a",
        "kelp applies the model's patches in the project as it works (Esc Esc undoes them); it has no Codex Cloud diffs to apply",
    ),
    (
        "cloud",
        "kelp works on this machine; it has no Codex Cloud tasks",
    ),
    (
        "plugin",
        "kelp has no plugins: MCP servers ([mcp_servers] in config.toml) and skills give the model tools",
    ),
    (
        "update",
        "kelp does not update itself: install the new release the way you installed this one",
    ),
    (
        "remote-control",
        "kelp has no remote control: `kelp app-server` serves hosts, `kelp acp` editors",
    ),
    (
        "exec-server",
        "kelp has no exec server: `kelp exec` runs a prompt, `kelp app-server` serves hosts",
    ),
    (
        "mcp-server",
        "kelp is not an MCP server: `kelp acp` serves editors and `kelp app-server` hosts",
    ),
    (
        "migrate-rollouts",
        "kelp keeps its own conversations (`kelp sessions` lists them); Codex's stay Codex's",
    ),
    (
        "migrate-nfs-db",
        "kelp keeps no SQLite database: its conversations are files (`kelp sessions` lists them)",
    ),
    (
        "debug",
        "kelp's log is kelp.log in its state folder; `kelp doctor` checks the install, `kelp sandbox check` the sandbox",
    ),
    (
        "execpolicy",
        "kelp keeps the command prefixes you allow per project (\"always\" in an approval); `kelp sandbox` runs a command in the sandbox",
    ),
    (
        "cloud-tasks",
        "kelp works on this machine; it has no Codex Cloud tasks",
    ),
    (
        "responses-api-proxy",
        "kelp runs no proxy: it reads its key or login itself (model_providers in config.toml for another endpoint)",
    ),
    (
        "stdio-to-uds",
        "`kelp app-server proxy --sock PATH` relays stdio to kelp's app-server socket",
    ),
];

/// The Codex verb the command line names (the first word that is one), and what kelp says
/// about it.
pub(super) fn codex_only_verb() -> (&'static str, &'static str) {
    std::env::args()
        .skip(1)
        .find_map(|arg| CODEX_ONLY.iter().find(|(verb, _)| *verb == arg).copied())
        .unwrap_or(CODEX_ONLY[0])
}

#[derive(Debug, Args)]
pub(super) struct ResumeArgs {
    #[command(flatten)]
    pub(super) agent: AgentFlags,
    /// The conversation's id, or a prefix of it.
    #[arg(value_name = "ID", conflicts_with = "last")]
    pub(super) id: Option<String>,
    /// The newest conversation of this directory (as `--continue`).
    #[arg(long)]
    pub(super) last: bool,
}

#[derive(Debug, Args)]
pub(super) struct ForkArgs {
    #[command(flatten)]
    pub(super) agent: AgentFlags,
    /// The conversation's id, an id prefix, or its name.
    #[arg(value_name = "ID|NAME", conflicts_with = "last")]
    pub(super) session: Option<String>,
    /// The newest conversation of this directory.
    #[arg(long)]
    pub(super) last: bool,
}

#[derive(Debug, Args)]
pub(super) struct AcpArgs {
    #[command(flatten)]
    pub(super) agent: AgentFlags,
    /// Sign in with ChatGPT by device code in this terminal, then exit: what an editor runs for
    /// its terminal sign-in (the same as `kelp login --device`).
    #[arg(long)]
    pub(super) device_login: bool,
}

#[derive(Debug, Args)]
pub(super) struct SessionsArgs {
    /// The project directory (default: the current directory).
    #[arg(long = "cd", short = 'C', value_name = "DIR")]
    pub(super) cd: Option<PathBuf>,
    /// List the conversations of every directory.
    #[arg(long)]
    pub(super) all: bool,
    /// One JSON object per line, for scripts.
    #[arg(long)]
    pub(super) json: bool,
    /// Show at most N.
    #[arg(long, short = 'n', value_name = "N")]
    pub(super) limit: Option<usize>,
    /// Only the conversations where TEXT was said (a prompt, an answer, a command, a file's
    /// name; letters of any case), each with the first line that holds it.
    #[arg(long, value_name = "TEXT")]
    pub(super) grep: Option<String>,
}

#[derive(Debug, Args)]
pub(super) struct LoginArgs {
    /// `kelp login status`: Codex's name for `kelp auth status`.
    #[command(subcommand)]
    pub(super) action: Option<LoginAction>,
    /// Read an OpenAI API key from standard input, check it with one request to the OpenAI
    /// API, and store it.
    #[arg(long, conflicts_with_all = ["browser", "device"])]
    pub(super) with_api_key: bool,
    /// With --with-api-key: store the key without checking it (for a machine that cannot reach
    /// the API yet).
    #[arg(long, requires = "with_api_key")]
    pub(super) no_check: bool,
    /// Sign in with ChatGPT in a browser (the default on a desktop).
    #[arg(long, conflicts_with = "device")]
    pub(super) browser: bool,
    /// Sign in with ChatGPT by entering a code on another device (the default over SSH or
    /// without a display).
    #[arg(long)]
    pub(super) device: bool,
    /// With the device code: print its QR code even when the window is too small to show it
    /// with the code (scroll up to scan it).
    #[arg(long, conflicts_with_all = ["with_api_key", "browser"])]
    pub(super) qr: bool,
    /// Keep this ChatGPT login under NAME beside the others (`kelp accounts` lists them); the
    /// login in use before stays kept under its own name.
    #[arg(long, value_name = "NAME", conflicts_with = "with_api_key", value_parser = login_name)]
    pub(super) name: Option<String>,
}

fn login_name(name: &str) -> Result<String, String> {
    kelp::auth::logins::check_name(name)
        .map(|()| name.to_string())
        .map_err(|e| e.to_string())
}

impl LoginArgs {
    pub(super) fn choice(&self) -> super::auth_cmd::LoginChoice {
        use super::auth_cmd::LoginChoice;
        use kelp::protocol::LoginMethod;
        if self.with_api_key {
            LoginChoice::ApiKey {
                check: !self.no_check,
            }
        } else {
            let method = if self.browser {
                Some(LoginMethod::Browser)
            } else if self.device {
                Some(LoginMethod::Device)
            } else {
                None
            };
            LoginChoice::ChatGpt {
                method,
                qr: self.qr,
                name: self.name.clone(),
            }
        }
    }
}

#[derive(Debug, Subcommand)]
pub(super) enum SandboxCommand {
    /// Say which layers this machine gives commands (and why any is missing), what they may
    /// not see or change here, and run one in it. Exits 1 when a layer is missing or the
    /// command did not run.
    Check {
        /// The project directory (default: the current directory).
        #[arg(long = "cd", short = 'C', value_name = "DIR")]
        cd: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum LoginAction {
    /// Show which login is active (as `kelp auth status`).
    Status,
}

#[derive(Debug, Subcommand)]
pub(super) enum AuthCommand {
    /// Show which login is active and where the auth file is (never a token). Exits 1 when not
    /// logged in.
    Status,
}
