//! The command line: `kelp`, `kelp login`, `kelp logout`, `kelp auth status`, `kelp run`.

mod auth_cmd;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use kelp::config::Config;

/// Exit codes scripts can rely on.
pub mod exit {
    /// Something went wrong that is not covered below.
    pub const FAILURE: u8 = 1;
    /// The command line was wrong (clap's own code).
    pub const USAGE: u8 = 2;
    /// A login failed (refused, expired, unreachable issuer).
    pub const AUTH: u8 = 3;
    /// The person cancelled (Ctrl+C), as shells report SIGINT.
    pub const CANCELLED: u8 = 130;
}

/// kelp — a fast terminal coding client for OpenAI Codex models.
#[derive(Debug, Parser)]
#[command(name = "kelp", version, about, long_about = None)]
#[command(
    after_help = "Run `kelp` with no command to start the interactive client.\n\
Endpoints can be overridden with KELP_AUTH_ISSUER, KELP_CODEX_BASE_URL, OPENAI_BASE_URL and \
KELP_CALLBACK_PORT; the auth file with KELP_AUTH_FILE."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sign in: ChatGPT in the browser, ChatGPT by device code, or an API key from stdin.
    Login(LoginArgs),
    /// Sign out: revoke a ChatGPT login and remove kelp's entry from the auth file (other
    /// entries stay).
    Logout,
    /// Inspect the login.
    #[command(subcommand)]
    Auth(AuthCommand),
}

#[derive(Debug, Args)]
struct LoginArgs {
    /// Read an OpenAI API key from standard input and store it.
    #[arg(long, conflicts_with_all = ["browser", "device"])]
    with_api_key: bool,
    /// Sign in with ChatGPT in a browser (the default on a desktop).
    #[arg(long, conflicts_with = "device")]
    browser: bool,
    /// Sign in with ChatGPT by entering a code on another device (the default over SSH or
    /// without a display).
    #[arg(long)]
    device: bool,
}

impl LoginArgs {
    fn choice(&self) -> auth_cmd::LoginChoice {
        use auth_cmd::LoginChoice;
        use kelp::auth::LoginMethod;
        if self.with_api_key {
            LoginChoice::ApiKey
        } else if self.browser {
            LoginChoice::ChatGpt(Some(LoginMethod::Browser))
        } else if self.device {
            LoginChoice::ChatGpt(Some(LoginMethod::Device))
        } else {
            LoginChoice::ChatGpt(None)
        }
    }
}

#[derive(Debug, Subcommand)]
enum AuthCommand {
    /// Show which login is active and where the auth file is (never a token). Exits 1 when not
    /// logged in.
    Status,
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => return fail(exit::USAGE, &e.to_string()),
    };
    if let Err(e) = kelp::logging::init(&config.log_file()) {
        eprintln!("kelp: logging is off: {e}");
    }
    match cli.command {
        None => interactive(config),
        Some(Command::Login(args)) => auth_cmd::login(&config, args.choice()),
        Some(Command::Logout) => auth_cmd::logout(&config),
        Some(Command::Auth(AuthCommand::Status)) => auth_cmd::status(&config),
    }
}

/// `kelp` with no command: the TUI over the core.
fn interactive(config: Config) -> ExitCode {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return fail(
            exit::USAGE,
            "the interactive client needs a terminal; see `kelp --help` for the other commands",
        );
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(exit::FAILURE, &format!("cannot start: {e}")),
    };
    let initial =
        kelp::tui::InitialState::from_local(&config, std::env::var("OPENAI_API_KEY").ok());
    let result = runtime.block_on(async {
        let (ops, events) = kelp::agent::core::spawn(config.clone());
        kelp::tui::run(&config, ops, events, initial).await
    });
    // Background work (a clipboard tool, a blocking read) must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(exit::FAILURE, &format!("{e:#}")),
    }
}

/// Prints a one-line error on stderr and returns `code`.
pub fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("kelp: {message}");
    ExitCode::from(code)
}
