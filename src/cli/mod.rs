//! The command line: `kelp`, `kelp login`, `kelp logout`, `kelp auth status`, `kelp run`.

mod auth_cmd;
mod run_cmd;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use kelp::config::Config;

/// Exit codes scripts can rely on.
pub mod exit {
    /// Something went wrong that is not covered below.
    pub const FAILURE: u8 = 1;
    /// The command line was wrong (clap's own code).
    pub const USAGE: u8 = 2;
    /// The login is missing, expired, rejected, or cannot use Codex.
    pub const AUTH: u8 = 3;
    /// A rate limit, usage limit or quota stopped the request.
    pub const LIMIT: u8 = 4;
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
    /// Sign out: remove kelp's login from the auth file (other entries stay).
    Logout,
    /// Inspect the login.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Answer one prompt without the interactive client, streaming the answer to stdout.
    Run(run_cmd::RunArgs),
}

#[derive(Debug, Args)]
struct LoginArgs {
    /// Read an OpenAI API key from standard input and store it.
    #[arg(long)]
    with_api_key: bool,
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
        None => {
            println!(
                "The interactive client is not built yet; use `kelp login` and `kelp auth status`."
            );
            ExitCode::SUCCESS
        }
        Some(Command::Login(args)) => auth_cmd::login(&config, args.with_api_key),
        Some(Command::Logout) => auth_cmd::logout(&config),
        Some(Command::Auth(AuthCommand::Status)) => auth_cmd::status(&config),
        Some(Command::Run(args)) => run_cmd::run(&config, args),
    }
}

/// Prints a one-line error on stderr and returns `code`.
pub fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("kelp: {message}");
    ExitCode::from(code)
}
