//! The command line: `kelp`, `kelp login [status]`, `kelp logout`, `kelp auth status`, `kelp accounts`,
//! `kelp sessions`, `kelp resume`, `kelp fork`, `kelp archive`, `kelp unarchive`, `kelp delete`,
//! `kelp queue`, `kelp agents`, `kelp worktree`, `kelp features`, `kelp run`, `kelp exec`, `kelp review`, `kelp mcp`, `kelp hooks`, `kelp project`, `kelp doctor`, `kelp app-server`,
//! `kelp acp`, `kelp sandbox check`, `kelp completion`, and Codex's verbs kelp does not have,
//! refused in words. This file only dispatches.
//!
//! Its other files:
//! - `accounts_cmd.rs`: `kelp accounts [list | switch | remove]`, the logins kelp keeps.
//! - `app_server_cmd.rs`: `kelp app-server`.
//! - `args.rs`: the command line's shape as clap reads it.
//! - `client_cmd.rs`: the interactive client: `kelp`, `kelp resume`, `kelp fork`, `--remote`.
//! - `common.rs`: the exit codes, the runtime, lines said through the terminal filter, the
//!   app-server a `--remote` names.
//! - `auth_cmd.rs`: `kelp login`, `kelp logout`, `kelp auth status`.
//! - `doctor_cmd.rs`: `kelp doctor [--json]`.
//! - `exec_cmd.rs`: `kelp exec`.
//! - `exec_human.rs`: `kelp exec`'s words for a person (without `--json`), as Codex's exec prints them.
//! - `flags.rs`: the flags of an agent's work, which every command that runs one takes, before the
//!   command or after it.
//! - `hooks_cmd.rs`: `kelp hooks [list | trust]`, the person's hooks and their trust.
//! - `mcp_cmd.rs`: `kelp mcp`, as Codex's.
//! - `project_cmd.rs`: `kelp project [show | allow]`, a trusted project's own settings.
//! - `features_cmd.rs`: `kelp features list | enable | disable`, the feature flags kelp acts on.
//! - `queue_cmd.rs`: `kelp queue`, as Codex's: a message left for a conversation on a server.
//! - `run_cmd.rs`: `kelp run`.
//! - `sandbox_cmd.rs`: `kelp sandbox check`.
//! - `sessions_cmd.rs`: `kelp sessions`, and turning `--resume`/`--continue` into a session file.
//! - `setup.rs`: the flags, the configuration and the project directory every command starts from.
//! - `worktree_cmd.rs`: `kelp worktree list | remove`, the worktrees kelp made.

mod accounts_cmd;
mod app_server_cmd;
mod args;
mod auth_cmd;
mod client_cmd;
mod common;
mod doctor_cmd;
mod exec_cmd;
mod exec_human;
mod features_cmd;
mod flags;
mod hooks_cmd;
mod mcp_cmd;
mod project_cmd;
mod queue_cmd;
mod run_cmd;
mod sandbox_cmd;
mod sessions_cmd;
mod setup;
mod worktree_cmd;

use std::process::ExitCode;

use clap::Parser;

use args::*;
use common::{exit, fail, say_err, serve_stdio};
use setup::Setup;

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    // No process of the user, and so no command the model writes, may read kelp's memory or
    // its `/proc/<pid>/environ` (the API key, the tokens): kelp is not dumpable.
    // SAFETY: prctl with these options takes plain integers.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    let code = run_cli();
    kelp::sandbox::remove_private_tmp();
    // Files of kelp's that were open to other users and were made private, not yet said.
    for note in kelp::private_file::take_tightened() {
        say_err(&format!("kelp: warning: {note}"));
    }
    code
}

fn run_cli() -> ExitCode {
    let mut cli = Cli::parse();
    if let Some(code) = said_at_once(&cli) {
        return code;
    }
    let Setup {
        config,
        overrides,
        warnings: warning_lines,
        cd,
    } = match setup::prepare(&mut cli) {
        Ok(setup) => setup,
        Err(code) => return code,
    };
    let (asked, command) = match client_cmd::asked(&mut cli) {
        Ok(asked) => asked,
        Err(code) => return code,
    };
    // Only the commands that work on a project need its directory (so `kelp login` works in a
    // folder that has since been deleted).
    let project_dir = || setup::project_dir(cd.as_deref()).map_err(|m| fail(exit::USAGE, &m));
    match command {
        // `kelp resume` became what the client is asked.
        None | Some(Command::Resume(_)) => in_project(project_dir(), |dir| {
            client_cmd::client(config, &overrides, dir, asked, warning_lines)
        }),
        Some(Command::Agents) => in_project(project_dir(), |dir| {
            let mut asked = asked;
            asked.open_agents = true;
            client_cmd::client(config, &overrides, dir, asked, warning_lines)
        }),
        Some(Command::Fork(args)) => in_project(project_dir(), |dir| {
            client_cmd::fork(config, &overrides, dir, args, warning_lines)
        }),
        Some(Command::Mcp(command)) => mcp_cmd::mcp(&config, command),
        Some(Command::Hooks { command }) => hooks_cmd::hooks(&config, command),
        Some(Command::Project { command, .. }) => in_project(project_dir(), |dir| {
            project_cmd::project(&config, &dir, command)
        }),
        Some(Command::Doctor { json, .. }) => in_project(project_dir(), |dir| {
            doctor_cmd::doctor(&config, &dir, &warning_lines, json)
        }),
        Some(Command::Review(args)) => {
            in_project(project_dir(), |dir| run_cmd::review(&config, &dir, args))
        }
        Some(Command::Queue(args)) => queue_cmd::queue(&config, args),
        Some(Command::Features(command)) => features_cmd::features(&config, command),
        Some(Command::Worktree(command)) => in_project(project_dir(), |dir| {
            worktree_cmd::worktree(&config, &dir, command)
        }),
        Some(Command::Archive { session }) => sessions_cmd::archive(&config, &session),
        Some(Command::Unarchive { session }) => sessions_cmd::unarchive(&config, &session),
        Some(Command::Delete { session, yes }) => sessions_cmd::delete(&config, &session, yes),
        Some(Command::Login(LoginArgs {
            action: Some(LoginAction::Status),
            ..
        })) => auth_cmd::status(&config),
        Some(Command::Login(args)) => auth_cmd::login(&config, args.choice()),
        Some(Command::Logout) => auth_cmd::logout(&config),
        Some(Command::Auth(AuthCommand::Status)) => auth_cmd::status(&config),
        Some(Command::Accounts { command }) => accounts_cmd::accounts(&config, command),
        Some(Command::Sessions(args)) => in_project(project_dir(), |dir| {
            let listing = sessions_cmd::Listing {
                all: args.all,
                json: args.json,
                limit: args.limit,
            };
            match &args.grep {
                Some(text) => sessions_cmd::grep(&config, &dir, &listing, text),
                None => sessions_cmd::list(&config, &dir, &listing),
            }
        }),
        Some(Command::Sandbox(SandboxCommand::Check { .. })) => {
            in_project(project_dir(), |dir| sandbox_cmd::check(&config, &dir))
        }
        Some(Command::Run(args)) => {
            in_project(project_dir(), |dir| run_cmd::run(&config, &dir, args))
        }
        Some(Command::Exec(args)) => {
            in_project(project_dir(), |dir| exec_cmd::exec(&config, &dir, *args))
        }
        Some(Command::AppServer(args)) => app_server_cmd::app_server(config, overrides, args),
        Some(Command::Acp(args)) if args.device_login => auth_cmd::login(
            &config,
            auth_cmd::LoginChoice::ChatGpt {
                method: Some(kelp::protocol::LoginMethod::Device),
                qr: false,
                name: None,
            },
        ),
        Some(Command::Acp(_)) => serve_stdio(config, kelp::acp::serve),
        // Answered before the configuration was read.
        Some(Command::Completion { .. } | Command::CodexOnly { .. }) => ExitCode::SUCCESS,
    }
}

/// The commands with nothing to configure, which only say something: their exit code.
fn said_at_once(cli: &Cli) -> Option<ExitCode> {
    match &cli.command {
        Some(Command::Completion { shell }) => {
            use clap::CommandFactory;
            let mut command = Cli::command();
            clap_complete::generate(*shell, &mut command, "kelp", &mut std::io::stdout());
            Some(ExitCode::SUCCESS)
        }
        Some(Command::CodexOnly { .. }) => {
            let (verb, instead) = codex_only_verb();
            Some(fail(
                exit::USAGE,
                &format!(
                    "`{verb}` is a Codex command kelp does not have: {instead} (`kelp -- {verb}` \
                     sends the word as a prompt)"
                ),
            ))
        }
        _ => None,
    }
}

/// Runs a command that works on the project in its directory, or says why there is none.
fn in_project(
    dir: Result<std::path::PathBuf, ExitCode>,
    run: impl FnOnce(std::path::PathBuf) -> ExitCode,
) -> ExitCode {
    dir.map_or_else(|code| code, run)
}
