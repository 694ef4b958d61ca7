//! The command line: `kelp`, `kelp login [status]`, `kelp logout`, `kelp auth status`,
//! `kelp sessions`, `kelp resume`, `kelp fork`, `kelp archive`, `kelp unarchive`, `kelp delete`,
//! `kelp run`, `kelp exec`, `kelp review`, `kelp mcp`, `kelp doctor`, `kelp app-server`,
//! `kelp acp`, `kelp sandbox check`, `kelp completion`, and Codex's verbs kelp does not have,
//! refused in words.
//!
//! Its other files:
//! - `app_server_cmd.rs`: `kelp app-server`.
//! - `args.rs`: the command line's shape as clap reads it.
//! - `auth_cmd.rs`: `kelp login`, `kelp logout`, `kelp auth status`.
//! - `doctor_cmd.rs`: `kelp doctor [--json]`.
//! - `exec_cmd.rs`: `kelp exec`.
//! - `flags.rs`: the flags of an agent's work, which every command that runs one takes, before the
//!   command or after it.
//! - `mcp_cmd.rs`: `kelp mcp`, as Codex's.
//! - `run_cmd.rs`: `kelp run`.
//! - `sandbox_cmd.rs`: `kelp sandbox check`.
//! - `sessions_cmd.rs`: `kelp sessions`, and turning `--resume`/`--continue` into a session file.

mod app_server_cmd;
mod args;
mod auth_cmd;
mod doctor_cmd;
mod exec_cmd;
mod flags;
mod mcp_cmd;
mod run_cmd;
mod sandbox_cmd;
mod sessions_cmd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use kelp::agent::core::start::CoreOptions;
use kelp::config::{CodexKey, Config, Overrides};
use kelp::protocol::{ApprovalMode, SandboxMode};

use args::*;
use flags::AgentFlags;
use sessions_cmd::ResumeRequest;

/// Exit codes scripts can rely on.
pub mod exit {
    /// Something went wrong that is not covered below.
    pub const FAILURE: u8 = 1;
    /// The command line was wrong (clap's own code).
    pub const USAGE: u8 = 2;
    /// Not logged in, or the login failed, expired or was rejected.
    pub const AUTH: u8 = 3;
    /// A rate limit, usage limit or quota stopped the request.
    pub const LIMIT: u8 = 4;
    /// The person cancelled (Ctrl+C), as shells report SIGINT.
    pub const CANCELLED: u8 = 130;
}

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
    // Nothing to configure: these only say something.
    match &cli.command {
        Some(Command::Completion { shell }) => {
            use clap::CommandFactory;
            let mut command = Cli::command();
            clap_complete::generate(*shell, &mut command, "kelp", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Some(Command::CodexOnly { .. }) => {
            let (verb, instead) = codex_only_verb();
            return fail(
                exit::USAGE,
                &format!(
                    "`{verb}` is a Codex command kelp does not have: {instead} (`kelp -- {verb}` \
                     sends the word as a prompt)"
                ),
            );
        }
        _ => {}
    }
    // The agent's flags, from before the command and after it (these win).
    let after = match &mut cli.command {
        Some(Command::Run(args)) => std::mem::take(&mut args.agent),
        Some(Command::Exec(args)) => std::mem::take(&mut args.agent),
        Some(Command::AppServer(args)) => std::mem::take(&mut args.agent),
        Some(Command::Acp(args)) => std::mem::take(&mut args.agent),
        Some(Command::Resume(args)) => std::mem::take(&mut args.agent),
        Some(Command::Fork(args)) => std::mem::take(&mut args.agent),
        Some(Command::Review(args)) => std::mem::take(&mut args.agent),
        Some(Command::Sessions(args)) => AgentFlags {
            cd: args.cd.take(),
            ..AgentFlags::default()
        },
        Some(Command::Doctor { cd, .. }) => AgentFlags {
            cd: cd.take(),
            ..AgentFlags::default()
        },
        Some(Command::Sandbox(SandboxCommand::Check { cd })) => AgentFlags {
            cd: cd.take(),
            ..AgentFlags::default()
        },
        _ => AgentFlags::default(),
    };
    let agent = std::mem::take(&mut cli.agent).merged(after);
    let mut overrides = Overrides::default();
    let mut ignored = Vec::new();
    for pair in &agent.codex {
        match overrides.set_codex(pair) {
            Ok(CodexKey::Applied) => {}
            Ok(CodexKey::Ignored(key)) => ignored.push(key),
            Err(why) => return fail(exit::USAGE, &why),
        }
    }
    if let Some(Command::Exec(args)) = &cli.command
        && let Err(why) = args.apply(&mut overrides)
    {
        return fail(exit::USAGE, &why);
    }
    // kelp's own flags beat a `-c` of the same setting.
    overrides.model = agent.model.clone().or(overrides.model);
    overrides.approval = agent.approval.or(overrides.approval);
    overrides.sandbox = agent.sandbox.or(overrides.sandbox);
    if agent.dangerously_bypass_approvals_and_sandbox {
        overrides.approval = Some(ApprovalMode::Never);
        overrides.sandbox = Some(SandboxMode::Off);
    } else if agent.full_auto {
        overrides.approval = overrides.approval.or(Some(ApprovalMode::FullAuto));
        overrides.sandbox = overrides.sandbox.or(Some(SandboxMode::WorkspaceWrite));
    }
    overrides.network = agent.network.or(overrides.network);
    if agent.search {
        overrides.web_search = Some(kelp::config::WebSearch::Live);
    }
    overrides.profile = agent.profile.clone();
    let mut provider_problem = None;
    let loaded = match Config::load(&overrides) {
        // The doctor says what is wrong with the provider, and checks the rest, instead of
        // stopping at it.
        Err(kelp::config::ConfigError::Provider(why))
            if matches!(cli.command, Some(Command::Doctor { .. })) =>
        {
            provider_problem = Some(why);
            let mut built_in = overrides.clone();
            built_in.model_provider = Some(kelp::config::providers::OPENAI.to_string());
            Config::load(&built_in)
        }
        other => other,
    };
    let (config, warnings) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => return fail(exit::USAGE, &e.to_string()),
    };
    let mut warning_lines = kelp::config::warning::report(&warnings);
    warning_lines.extend(provider_problem);
    // The interactive client shows them on its own screen.
    if cli.command.is_some() {
        for line in &warning_lines {
            if line.starts_with(' ') {
                say_err(line);
            } else {
                say_err(&format!("kelp: warning: {line}"));
            }
        }
    }
    if let Err(e) = kelp::logging::init(&config.log_file()) {
        eprintln!("kelp: logging is off: {e}");
    }
    for key in &ignored {
        tracing::info!(%key, "-c: kelp has no such setting; ignored");
        // Said where a person or a host's log sees it; the client's screen is its own.
        if cli.command.is_some() {
            say_err(&format!(
                "kelp: warning: -c {key}: kelp has no such setting; ignored"
            ));
        }
    }
    // Only the commands that work on a project need its directory (so `kelp login` works in a
    // folder that has since been deleted).
    let project_dir = || project_dir(agent.cd.as_deref()).map_err(|m| fail(exit::USAGE, &m));
    // `kelp resume …` is `--resume …` (or `--continue`), as Codex users type it.
    let (mut resume_flag, mut continue_flag, mut command) =
        (cli.resume, cli.continue_, cli.command);
    if let Some(Command::Resume(args)) = &command {
        if resume_flag.is_some() || continue_flag {
            return fail(
                exit::USAGE,
                "give `kelp resume` or --resume/--continue, not both",
            );
        }
        continue_flag = args.last;
        resume_flag = (!args.last).then(|| args.id.clone());
        command = None;
    }
    // `--resume` without an id: the client opens with the picker of this directory's.
    let pick_session = !continue_flag && matches!(resume_flag, Some(None));
    let resume = match (continue_flag, resume_flag) {
        (true, _) => Some(ResumeRequest::Latest),
        (false, Some(Some(id))) => Some(ResumeRequest::Id(id)),
        (false, _) => None,
    };
    if !cli.image.is_empty() && command.is_some() {
        return fail(
            exit::USAGE,
            "-i/--image goes with the interactive client (`kelp -i FILE`) or after `kelp exec`",
        );
    }
    if cli.remote.is_some() && command.is_some() {
        return fail(
            exit::USAGE,
            "--remote attaches the interactive client (`kelp --remote ADDR`, or `kelp --remote ADDR \
             resume`); give no other command with it",
        );
    }
    if (resume.is_some() || pick_session) && command.is_some() {
        return fail(
            exit::USAGE,
            "--resume and --continue start the interactive client; give no command with them",
        );
    }
    match command {
        // `kelp resume` became the flags above.
        None | Some(Command::Resume(_)) => {
            let project_dir = match project_dir() {
                Ok(dir) => dir,
                Err(code) => return code,
            };
            let over_ssh = ["SSH_CONNECTION", "SSH_TTY"]
                .iter()
                .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()));
            let per_user = cli.remote.is_none() && config.server.per_user(over_ssh);
            // The per-user server is started, if need be, once the first frame is up.
            let mut per_user_socket = None;
            let address = match (&cli.remote, per_user) {
                (Some(address), _) => Some(address.clone()),
                (None, true) => match app_server_cmd::per_user_socket() {
                    Ok(socket) => {
                        let address = format!("unix://{}", socket.display());
                        per_user_socket = Some(socket);
                        Some(address)
                    }
                    Err(message) => return fail(exit::FAILURE, &message),
                },
                (None, false) => None,
            };
            if let Some(address) = &address {
                let open = match resume {
                    Some(ResumeRequest::Latest) => kelp::remote::Open::Newest,
                    // The server is this machine's: an id prefix or a name is found here.
                    Some(ResumeRequest::Id(id)) if per_user => {
                        match kelp::session::find(&config.state_dir, &id) {
                            Ok(found) => kelp::remote::Open::Thread(found.id.to_string()),
                            Err(e) => return fail(exit::FAILURE, &e.to_string()),
                        }
                    }
                    Some(ResumeRequest::Id(id)) => kelp::remote::Open::Thread(id),
                    None => kelp::remote::Open::New,
                };
                let wanted = kelp::remote::Wanted {
                    project_dir: project_dir.clone(),
                    model: overrides.model.clone(),
                    approval: Some(config.approval),
                    sandbox: Some(config.sandbox),
                    effort: None,
                    open,
                };
                let mut remote =
                    match remote_core(address, cli.remote_auth_token_env.as_deref(), wanted) {
                        Ok(remote) => remote,
                        Err(message) => return fail(exit::USAGE, &message),
                    };
                remote.start_server = per_user_socket;
                let start = Start {
                    session: None,
                    pick_session,
                    fork_picked: false,
                    prompt: cli.prompt,
                    images: cli.image,
                    remote: Some(remote),
                };
                return interactive(config, project_dir, start, warning_lines);
            }
            let session = match &resume {
                Some(request) => match sessions_cmd::resolve(&config, &project_dir, request) {
                    Ok(path) => Some(path),
                    Err(code) => return code,
                },
                None => None,
            };
            let start = Start {
                session,
                pick_session,
                fork_picked: false,
                prompt: cli.prompt,
                images: cli.image,
                remote: None,
            };
            interactive(config, project_dir, start, warning_lines)
        }
        Some(Command::Fork(args)) => {
            let project_dir = match project_dir() {
                Ok(dir) => dir,
                Err(code) => return code,
            };
            // Neither an id nor --last: pick one in the client, as Codex's `fork` does.
            if args.session.is_none() && !args.last {
                let start = Start {
                    session: None,
                    pick_session: true,
                    fork_picked: true,
                    prompt: None,
                    images: Vec::new(),
                    remote: None,
                };
                return interactive(config, project_dir, start, warning_lines);
            }
            let copy = match sessions_cmd::fork(&config, &project_dir, args.session.as_deref()) {
                Ok(copy) => copy,
                Err(code) => return code,
            };
            let start = Start {
                session: Some(copy),
                pick_session: false,
                fork_picked: false,
                prompt: None,
                images: Vec::new(),
                remote: None,
            };
            interactive(config, project_dir, start, warning_lines)
        }
        Some(Command::Mcp(command)) => mcp_cmd::mcp(&config, command),
        Some(Command::Doctor { json, .. }) => match project_dir() {
            Ok(dir) => doctor_cmd::doctor(&config, &dir, &warning_lines, json),
            Err(code) => code,
        },
        Some(Command::Review(args)) => match project_dir() {
            Ok(dir) => run_cmd::review(&config, &dir, args),
            Err(code) => code,
        },
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
        Some(Command::Sessions(args)) => match project_dir() {
            Ok(dir) => sessions_cmd::list(&config, &dir, args.all, args.json, args.limit),
            Err(code) => code,
        },
        Some(Command::Sandbox(SandboxCommand::Check { .. })) => match project_dir() {
            Ok(dir) => sandbox_cmd::check(&config, &dir),
            Err(code) => code,
        },
        Some(Command::Run(args)) => match project_dir() {
            Ok(dir) => run_cmd::run(&config, &dir, args),
            Err(code) => code,
        },
        Some(Command::Exec(args)) => match project_dir() {
            Ok(dir) => exec_cmd::exec(&config, &dir, *args),
            Err(code) => code,
        },
        Some(Command::AppServer(args)) => app_server_cmd::app_server(config, overrides, args),
        Some(Command::Acp(args)) if args.device_login => auth_cmd::login(
            &config,
            auth_cmd::LoginChoice::ChatGpt {
                method: Some(kelp::protocol::LoginMethod::Device),
                qr: false,
            },
        ),
        Some(Command::Acp(_)) => serve_stdio(config, kelp::acp::serve),
        // Answered before the configuration was read.
        Some(Command::Completion { .. } | Command::CodexOnly { .. }) => ExitCode::SUCCESS,
    }
}

/// Runs an embedding face on stdin and stdout until stdin closes, then exits 0; stopped by a
/// signal, it exits 128 + the signal's number, as a shell reports it.
pub(crate) fn serve_stdio<F>(config: Config, serve: impl FnOnce(Config) -> F) -> ExitCode
where
    F: std::future::Future<Output = anyhow::Result<kelp::jsonrpc::Stopped>>,
{
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let result = runtime.block_on(serve(config));
    // Logins, turns and commands still running are cancelled, not waited for.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(kelp::jsonrpc::Stopped::InputClosed) => ExitCode::SUCCESS,
        Ok(kelp::jsonrpc::Stopped::Signal(signal)) => ExitCode::from(128 + signal as u8),
        Err(e) => fail(exit::FAILURE, &format!("{e:#}")),
    }
}

/// The project directory: `--cd DIR` or the current directory, made absolute and canonical so
/// sessions of one folder match however it was named.
fn project_dir(cd: Option<&Path>) -> Result<PathBuf, String> {
    let (dir, named) = match cd {
        Some(dir) => (dir.to_path_buf(), format!("--cd {}", dir.display())),
        None => {
            let dir = std::env::current_dir()
                .map_err(|e| format!("cannot read the current directory: {e}"))?;
            let named = format!("the current directory {}", dir.display());
            (dir, named)
        }
    };
    match std::fs::canonicalize(&dir) {
        Ok(dir) if dir.is_dir() => Ok(dir),
        Ok(_) => Err(format!("{named}: not a directory")),
        Err(e) => Err(format!("{named}: {e}")),
    }
}

/// How the interactive client starts: in a saved conversation, with the picker of them open,
/// with a prompt sent.
#[derive(Debug, Default)]
struct Start {
    session: Option<PathBuf>,
    pick_session: bool,
    /// With `pick_session`: fork the conversation picked.
    fork_picked: bool,
    prompt: Option<String>,
    /// Images for the first prompt, as given (`-i`).
    images: Vec<PathBuf>,
    /// The app-server to run on (`--remote`), instead of a core here.
    remote: Option<RemoteCore>,
}

/// `kelp` with no command: the TUI over the core.
fn interactive(
    mut config: Config,
    project_dir: PathBuf,
    start: Start,
    config_warnings: Vec<String>,
) -> ExitCode {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return fail(
            exit::USAGE,
            "the interactive client needs a terminal; see `kelp --help` for the other commands",
        );
    }
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    // The trust kept for the folder sets the modes nothing else chose; with none kept, the
    // client asks.
    // On a server, its own config keeps the folder's trust.
    let trust = config.apply_trust(&project_dir);
    let ask_trust = (trust.is_none() && config.trust_decides && start.remote.is_none())
        .then(|| kelp::config::trust_root(&project_dir));
    let env_api_key = std::env::var("OPENAI_API_KEY").ok();
    let mut initial =
        kelp::tui::InitialState::from_local(&config, project_dir.clone(), env_api_key.clone());
    // The alternate screen would hide what was printed before it: show config problems inside.
    if !config_warnings.is_empty() {
        let mut text = config_warnings.join("\n");
        if let Some(warning) = initial.warning.take() {
            text = format!("{warning}\n{text}");
        }
        initial.warning = Some(text);
    }
    initial.pick_session = start.pick_session;
    initial.fork_picked = start.fork_picked;
    initial.ask_trust = ask_trust;
    initial.prompt = start.prompt;
    // Named from where kelp was started, as a shell completes them; a file that is not there
    // is said now, not after the first prompt went without it.
    for image in start.images {
        let path = std::path::absolute(&image).unwrap_or(image);
        if !path.is_file() {
            return fail(exit::USAGE, &format!("-i {}: no such file", path.display()));
        }
        initial.images.push(path);
    }
    let mut options = CoreOptions::new(project_dir);
    options.resume = start.session;
    options.env_api_key = env_api_key;
    options.sign_in = Some("/connect");
    options.prompt_history = true;
    if let Some(remote) = &start.remote {
        // The server holds the login and runs the commands: what this machine has is not it.
        initial.server = Some(remote.target.to_string());
        initial.auth = None;
        initial.sandbox = "as the app-server runs its commands".into();
    }
    let result = runtime.block_on(async {
        let (first_frame, drawn) = tokio::sync::oneshot::channel();
        let (ops, events) = match start.remote {
            Some(remote) => {
                let state_dir = config.state_dir.clone();
                let ready = async move {
                    let _ = drawn.await;
                    let Some(socket) = remote.start_server else {
                        return Ok(());
                    };
                    kelp::task::spawn_blocking(move || {
                        app_server_cmd::ensure_per_user_server(&socket, &state_dir)
                    })
                    .await
                    .unwrap_or_else(|e| Err(format!("the per-user app-server: {e}")))
                };
                let config_dir = config.config_dir.clone();
                kelp::remote::spawn(
                    remote.target,
                    remote.token,
                    remote.wanted,
                    config_dir,
                    ready,
                )
            }
            None => kelp::agent::core::start::spawn_after(config.clone(), options, async {
                let _ = drawn.await;
            }),
        };
        kelp::tui::run(&config, ops, events, initial, Some(first_frame)).await
    });
    // Background work (a clipboard tool, a blocking read) must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok((ended, summary)) => {
            if let Some(summary) = summary {
                // The terminal may be gone (SIGHUP): nothing to report then.
                let _ =
                    std::io::Write::write_all(&mut std::io::stdout(), summary.lines().as_bytes());
            }
            match ended {
                kelp::tui::Ended::Quit => ExitCode::SUCCESS,
                kelp::tui::Ended::Signal(n) => ExitCode::from(128u8.saturating_add(n as u8)),
            }
        }
        Err(e) => fail(exit::FAILURE, &format!("{e:#}")),
    }
}

/// The async runtime of a command: two workers, all drivers on.
pub fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| fail(exit::FAILURE, &format!("cannot start: {e}")))
}

/// Prints a one-line error on stderr and returns `code`.
pub fn fail(code: u8, message: &str) -> ExitCode {
    say_err(&format!("kelp: {message}"));
    ExitCode::from(code)
}

/// Writes `line` to stderr through the terminal filter: what kelp says may carry a folder's,
/// a file's, a host's or a model's words, whose control characters would act on the terminal.
pub fn say_err(line: &str) {
    eprintln!("{}", kelp::terminal_text::printable_lines(line));
}

/// Writes `line` to stdout through the terminal filter (see [`say_err`]).
pub fn say(line: &str) {
    println!("{}", kelp::terminal_text::printable_lines(line));
}

/// What `--remote ADDR` and `--remote-auth-token-env VAR` ask for, checked before the screen
/// changes.
fn remote_core(
    address: &str,
    token_env: Option<&str>,
    wanted: kelp::remote::Wanted,
) -> Result<RemoteCore, String> {
    let target: kelp::remote::Target = address.parse().map_err(|e| format!("--remote {e}"))?;
    let token = match token_env {
        Some(name) => match std::env::var(name) {
            Ok(token) if !token.trim().is_empty() => Some(kelp::secret::Secret::from(token.trim())),
            _ => {
                return Err(format!(
                    "--remote-auth-token-env {name}: the variable is not set (or empty)"
                ));
            }
        },
        None => None,
    };
    target
        .may_carry(token.as_ref())
        .map_err(|why| format!("--remote {why}"))?;
    Ok(RemoteCore {
        target,
        token,
        wanted,
        start_server: None,
    })
}

/// The app-server the client runs on, and what it asks of it.
#[derive(Debug)]
struct RemoteCore {
    target: kelp::remote::Target,
    token: Option<kelp::secret::Secret>,
    wanted: kelp::remote::Wanted,
    /// The per-user server's socket, to listen on once the first frame is up.
    start_server: Option<PathBuf>,
}
