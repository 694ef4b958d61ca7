//! The interactive client as the command line starts it: `kelp`, `kelp resume`, `kelp fork`,
//! `--resume`/`--continue`, `-i`, a prompt, and `--remote` (a server's core instead of one
//! here).

use std::path::PathBuf;
use std::process::ExitCode;

use kelp::agent::core::start::CoreOptions;
use kelp::config::{Config, Overrides};

use super::app_server_cmd;
use super::args::{Cli, Command, ForkArgs};
use super::common::{exit, fail, runtime};
use super::sessions_cmd::{self, ResumeRequest};

/// What the command line asks of the client: a conversation to resume or to pick, a first
/// prompt and its images, the server to run on.
pub(super) struct Asked {
    resume: Option<ResumeRequest>,
    pick_session: bool,
    prompt: Option<String>,
    images: Vec<PathBuf>,
    remote: Option<String>,
    remote_auth_token_env: Option<String>,
    /// Run in a new worktree of the repository (`--worktree`).
    worktree: bool,
    /// Open on the command center (`kelp agents`).
    pub(super) open_agents: bool,
    /// Scrollback mode for this run (`--no-alt-screen`).
    no_alt_screen: bool,
}

/// Takes what the client is asked for from `cli`, and the command left (`kelp resume …` is
/// `--resume …`, or `--continue`, as Codex users type it: no command is left); flags that go
/// with the client alone are refused with another command.
pub(super) fn asked(cli: &mut Cli) -> Result<(Asked, Option<Command>), ExitCode> {
    let (mut resume_flag, mut continue_flag, mut command) =
        (cli.resume.take(), cli.continue_, cli.command.take());
    if let Some(Command::Resume(args)) = &command {
        if resume_flag.is_some() || continue_flag {
            return Err(fail(
                exit::USAGE,
                "give `kelp resume` or --resume/--continue, not both",
            ));
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
    let refused = if command.is_none() {
        None
    } else if !cli.image.is_empty() {
        Some("-i/--image goes with the interactive client (`kelp -i FILE`) or after `kelp exec`")
    } else if cli.remote.is_some() {
        Some(
            "--remote attaches the interactive client (`kelp --remote ADDR`, or `kelp --remote \
             ADDR resume`); give no other command with it",
        )
    } else if cli.worktree {
        Some("--worktree goes with the interactive client (`kelp --worktree`) or after `kelp exec`")
    } else if resume.is_some() || pick_session {
        Some("--resume and --continue start the interactive client; give no command with them")
    } else {
        None
    };
    if let Some(why) = refused {
        return Err(fail(exit::USAGE, why));
    }
    let asked = Asked {
        resume,
        pick_session,
        prompt: cli.prompt.take(),
        images: std::mem::take(&mut cli.image),
        remote: cli.remote.take(),
        remote_auth_token_env: cli.remote_auth_token_env.take(),
        worktree: cli.worktree,
        open_agents: false,
        no_alt_screen: cli.no_alt_screen,
    };
    Ok((asked, command))
}

/// `kelp` (and `kelp resume`): the client in `project_dir`, on a core here or on a server's.
pub(super) fn client(
    mut config: Config,
    overrides: &Overrides,
    mut project_dir: PathBuf,
    cli: Asked,
    warning_lines: Vec<String>,
) -> ExitCode {
    let mut notice = None;
    if cli.no_alt_screen {
        config.surfaces.alternate_screen = Some(false);
    }
    if cli.worktree {
        match in_new_worktree(&mut config, &project_dir) {
            Ok((made, said)) => {
                project_dir = made.project_dir;
                notice = Some(said);
            }
            Err(why) => return fail(exit::FAILURE, &format!("--worktree: {why}")),
        }
    }
    let resume = cli.resume;
    let pick_session = cli.pick_session;
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
        let wanted = wanted_of(&config, overrides, &project_dir, open);
        let mut remote = match remote_core(address, cli.remote_auth_token_env.as_deref(), wanted) {
            Ok(remote) => remote,
            Err(why) => return fail(exit::USAGE, &why.to_string()),
        };
        remote.start_server = per_user_socket;
        let start = Start {
            session: None,
            pick_session,
            fork_picked: false,
            prompt: cli.prompt,
            images: cli.images,
            remote: Some(remote),
            notice,
            open_agents: cli.open_agents,
            came_from: None,
        };
        return interactive(config, overrides, project_dir, start, warning_lines);
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
        images: cli.images,
        remote: None,
        notice,
        open_agents: cli.open_agents,
        came_from: None,
    };
    interactive(config, overrides, project_dir, start, warning_lines)
}

/// What the client asks of the server it runs on: the thread to open, in `project_dir`, with
/// the settings this command line and configuration give.
fn wanted_of(
    config: &Config,
    overrides: &Overrides,
    project_dir: &std::path::Path,
    open: kelp::remote::Open,
) -> kelp::remote::Wanted {
    kelp::remote::Wanted {
        project_dir: project_dir.to_path_buf(),
        model: overrides.model.clone(),
        approval: Some(config.approval),
        sandbox: Some(config.sandbox),
        effort: None,
        service_tier: None,
        open,
    }
}

/// The client opened again on the person's own app-server (started again if it stopped
/// meanwhile), on the thread `thread` it holds, in its folder `project`, with the settings
/// read for that folder (not the ones of the folder the client started in).
fn on_per_user_server(overrides: &Overrides, (thread, project): (String, PathBuf)) -> ExitCode {
    if !project.is_dir() {
        return fail(
            exit::FAILURE,
            &format!(
                "{} is not there any more: the conversation {thread} stays on your server",
                project.display()
            ),
        );
    }
    let (config, warnings) = match Config::load_for(overrides, &project) {
        Ok(loaded) => loaded,
        Err(e) => return fail(exit::USAGE, &e.to_string()),
    };
    let socket = match app_server_cmd::per_user_socket() {
        Ok(socket) => socket,
        Err(message) => return fail(exit::FAILURE, &message),
    };
    let open = kelp::remote::Open::Thread(thread);
    let start = Start {
        remote: Some(RemoteCore {
            target: kelp::remote::Target::Unix(socket.clone()),
            token: None,
            wanted: wanted_of(&config, overrides, &project, open),
            start_server: Some(socket),
        }),
        ..Start::default()
    };
    let warnings = kelp::config::warning::report(&warnings);
    interactive(config, overrides, project, start, warnings)
}

/// `kelp fork`: a copy of a saved conversation, continued in the client, or the picker.
pub(super) fn fork(
    config: Config,
    overrides: &Overrides,
    project_dir: PathBuf,
    args: ForkArgs,
    warning_lines: Vec<String>,
) -> ExitCode {
    // Neither an id nor --last: pick one in the client, as Codex's `fork` does.
    if args.session.is_none() && !args.last {
        let start = Start {
            session: None,
            pick_session: true,
            fork_picked: true,
            prompt: None,
            images: Vec::new(),
            remote: None,
            notice: None,
            open_agents: false,
            came_from: None,
        };
        return interactive(config, overrides, project_dir, start, warning_lines);
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
        notice: None,
        open_agents: false,
        came_from: None,
    };
    interactive(config, overrides, project_dir, start, warning_lines)
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
    /// A line the client says as it opens.
    notice: Option<String>,
    /// Open on the command center.
    open_agents: bool,
    /// `/cd` opened it from this folder: the trust question offers to go back.
    came_from: Option<PathBuf>,
}

/// What the client's first screen starts with: the folder's trust (applied, or to ask), the
/// configuration's warnings, the first prompt and its images, the server it runs on.
fn first_screen(
    config: &mut Config,
    project_dir: &std::path::Path,
    start: &mut Start,
    config_warnings: Vec<String>,
    env_api_key: Option<String>,
) -> Result<kelp::tui::InitialState, ExitCode> {
    // The trust kept for the folder sets the modes nothing else chose; with none kept, the
    // client asks.
    // On a server, its own config keeps the folder's trust.
    let trust = config.apply_trust(project_dir);
    let ask_trust = (trust.is_none() && config.trust_decides && start.remote.is_none())
        .then(|| kelp::config::trust_root(project_dir));
    let mut initial =
        kelp::tui::InitialState::from_local(config, project_dir.to_path_buf(), env_api_key);
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
    initial.prompt = start.prompt.take();
    initial.notice = start.notice.take();
    initial.resuming = start.session.is_some();
    initial.open_agents = start.open_agents;
    initial.came_from = start.came_from.take();
    // Named from where kelp was started, as a shell completes them; a file that is not there
    // is said now, not after the first prompt went without it.
    for image in std::mem::take(&mut start.images) {
        let path = std::path::absolute(&image).unwrap_or(image);
        if !path.is_file() {
            return Err(fail(
                exit::USAGE,
                &format!("-i {}: no such file", path.display()),
            ));
        }
        initial.images.push(path);
    }
    if let Some(remote) = &start.remote {
        // The server holds the login and runs the commands: what this machine has is not it.
        initial.server = Some(remote.target.to_string());
        initial.auth = None;
        initial.sandbox = "as the app-server runs its commands".into();
    }
    Ok(initial)
}

/// `kelp` with no command: the TUI over the core.
fn interactive(
    mut config: Config,
    overrides: &Overrides,
    project_dir: PathBuf,
    mut start: Start,
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
    // `/worktree` opens the client again on the configuration it started with.
    let (as_started, started_in) = (config.clone(), project_dir.clone());
    let env_api_key = std::env::var("OPENAI_API_KEY").ok();
    let initial = match first_screen(
        &mut config,
        &project_dir,
        &mut start,
        config_warnings,
        env_api_key.clone(),
    ) {
        Ok(initial) => initial,
        Err(code) => return code,
    };
    let mut options = CoreOptions::new(project_dir);
    options.resume = start.session;
    options.env_api_key = env_api_key;
    options.sign_in = Some("/connect");
    options.prompt_history = true;
    options.elsewhere = Some(std::sync::Arc::new(|| {
        Box::pin(kelp::remote::served::on_per_user_server())
    }));
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
        let ran = kelp::tui::run(&config, ops, events, initial, Some(first_frame)).await;
        kelp::task::let_end(kelp::task::LET_END_BOUND).await;
        ran
    });
    // Background work (a clipboard tool, a blocking read) must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok((ended, summary)) => when_ended(ended, summary, as_started, started_in, overrides),
        Err(e) => fail(exit::FAILURE, &format!("{e:#}")),
    }
}

/// What the command line does once the client ended as `ended`: open it again (a project's
/// settings allowed, a new worktree), shelve the conversation (`/archive`, `/delete`), or say
/// how to come back to it; `as_started` is the configuration it started with, in `started_in`.
fn when_ended(
    ended: kelp::tui::Ended,
    summary: Option<kelp::tui::app::ExitSummary>,
    as_started: Config,
    started_in: PathBuf,
    overrides: &Overrides,
) -> ExitCode {
    match (ended, summary) {
        (kelp::tui::Ended::ProjectSettingsAllowed(hashes), summary) => {
            if let Err(e) = kelp::config::project::allow(&as_started.state_dir, &hashes) {
                return fail(exit::FAILURE, &format!("cannot keep the allowance: {e}"));
            }
            let resume = summary.map(|summary| summary.id);
            let notice = "The project's settings are in force.".to_string();
            open_again(overrides, started_in, resume, notice, None)
        }
        (kelp::tui::Ended::ChangedDirectory(folder), summary) => {
            changed_directory(&as_started, overrides, started_in, folder, summary)
        }
        // The core has ended: the conversation's file is whole, and shelved now.
        (kelp::tui::Ended::Archive, Some(summary)) => {
            super::sessions_cmd::archive(&as_started, &summary.id)
        }
        (kelp::tui::Ended::Delete, Some(summary)) => {
            super::sessions_cmd::delete(&as_started, &summary.id, true)
        }
        (ended, summary) => {
            if let Some(summary) = summary {
                // The terminal may be gone (SIGHUP): nothing to report then.
                let _ =
                    std::io::Write::write_all(&mut std::io::stdout(), summary.lines().as_bytes());
            }
            match ended {
                kelp::tui::Ended::Quit => ExitCode::SUCCESS,
                kelp::tui::Ended::Signal(n) => ExitCode::from(128u8.saturating_add(n as u8)),
                kelp::tui::Ended::Worktree(made) => {
                    let mut config = as_started;
                    let said = trusted_as_its_source(&mut config, &started_in, &made);
                    let start = Start {
                        notice: Some(said),
                        ..Start::default()
                    };
                    interactive(config, overrides, made.project_dir, start, Vec::new())
                }
                kelp::tui::Ended::OnServer { thread, project } => {
                    on_per_user_server(overrides, (thread, project))
                }
                kelp::tui::Ended::ProjectSettingsAllowed(_)
                | kelp::tui::Ended::ChangedDirectory(_)
                | kelp::tui::Ended::Archive
                | kelp::tui::Ended::Delete => ExitCode::SUCCESS,
            }
        }
    }
}

/// `/cd`: the conversation saved (if it was) goes on in `folder`, and the client opens there on
/// it; one another process holds stays where it is, and the client with it.
fn changed_directory(
    as_started: &Config,
    overrides: &Overrides,
    started_in: PathBuf,
    folder: PathBuf,
    summary: Option<kelp::tui::app::ExitSummary>,
) -> ExitCode {
    let Some(summary) = summary else {
        let notice = format!("Working directory changed to: {}", folder.display());
        return open_again(overrides, folder, None, notice, Some(started_in));
    };
    let moved = kelp::session::find_whole(&as_started.state_dir, &summary.id)
        .and_then(|found| kelp::session::shelf::move_to(&found.path, &folder));
    match moved {
        Ok(()) => {
            let notice = format!("Working directory changed to: {}", folder.display());
            open_again(
                overrides,
                folder,
                Some(summary.id),
                notice,
                Some(started_in),
            )
        }
        Err(e) => {
            let notice = format!("The conversation stays in {}: {e}", started_in.display());
            open_again(overrides, started_in, Some(summary.id), notice, None)
        }
    }
}

/// The client opened again in `project_dir`, its configuration read again (a project's
/// settings just allowed, another folder chosen), on the conversation it had (`resume`, when it
/// was saved), the first notice saying why; `came_from` the folder `/cd` left.
fn open_again(
    overrides: &Overrides,
    project_dir: PathBuf,
    resume: Option<String>,
    notice: String,
    came_from: Option<PathBuf>,
) -> ExitCode {
    let (config, warnings) = match Config::load_for(overrides, &project_dir) {
        Ok(loaded) => loaded,
        Err(e) => return fail(exit::USAGE, &e.to_string()),
    };
    let session = resume.and_then(|id| {
        kelp::session::find_whole(&config.state_dir, &id)
            .ok()
            .map(|found| found.path)
    });
    let start = Start {
        session,
        notice: Some(notice),
        came_from,
        ..Start::default()
    };
    let warnings = kelp::config::warning::report(&warnings);
    interactive(config, overrides, project_dir, start, warnings)
}

/// `--worktree`: a new worktree of the repository `project_dir` is in, trusted as that folder
/// is, and the line that says where the conversation runs.
fn in_new_worktree(
    config: &mut Config,
    project_dir: &std::path::Path,
) -> Result<(kelp::protocol::Worktree, String), String> {
    let made = kelp::agent::worktree::create(project_dir)?;
    let said = trusted_as_its_source(config, project_dir, &made);
    Ok((made, said))
}

/// The worktree `made` from `source` is trusted (or not) as `source` is, for this run; the
/// line that says where the conversation now runs.
fn trusted_as_its_source(
    config: &mut Config,
    source: &std::path::Path,
    made: &kelp::protocol::Worktree,
) -> String {
    // The person may have answered the trust question since the client started.
    let trusted = config
        .trust_of(source)
        .or_else(|| trust_saved_since(config, source));
    if let Some(trusted) = trusted {
        config.projects.push((made.root.clone(), trusted));
    }
    format!(
        "This conversation runs in the worktree {} on the branch {}; `kelp worktree remove {}` \
         removes it when you are done.",
        made.root.display(),
        made.branch,
        made.id
    )
}

/// The trust kept for `source` in kelp's config file as it is now.
fn trust_saved_since(config: &Config, source: &std::path::Path) -> Option<bool> {
    use kelp::config::file;
    let path = config.config_dir.join(file::FILE_NAME);
    let text = file::read(&path).ok().flatten()?;
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let (saved, _) = file::parse(&path, &text, home.as_deref());
    let root = kelp::config::trust_root(source);
    saved
        .projects
        .iter()
        .find(|(dir, _)| *dir == root || dir == source)
        .map(|(_, trusted)| *trusted)
}

/// What `--remote ADDR` and `--remote-auth-token-env VAR` ask for, checked before the screen
/// changes.
fn remote_core(
    address: &str,
    token_env: Option<&str>,
    wanted: kelp::remote::Wanted,
) -> Result<RemoteCore, super::common::RemoteFlagError> {
    let (target, token) = super::common::target_and_token(address, token_env)?;
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
