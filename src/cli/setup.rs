//! What every command starts from: the agent's flags from before the command and after it,
//! the `-c` overrides, the configuration loaded (its warnings said), the log file, and the
//! project directory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kelp::config::{CodexKey, Config, Overrides};
use kelp::protocol::{ApprovalMode, SandboxMode};

use super::args::{Cli, Command, SandboxCommand};
use super::common::{exit, fail, say_err};
use super::flags::AgentFlags;

/// The configuration a command runs with, and what was said about it.
pub(super) struct Setup {
    pub(super) config: Config,
    pub(super) overrides: Overrides,
    /// The configuration's problems, one line each (the client shows them on its screen).
    pub(super) warnings: Vec<String>,
    /// `--cd`, before or after the command.
    pub(super) cd: Option<PathBuf>,
}

/// Reads the flags of `cli` (taking the agent's flags from its command) and loads the
/// configuration; a wrong flag or config is said and its exit code returned.
pub(super) fn prepare(cli: &mut Cli) -> Result<Setup, ExitCode> {
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
        Some(Command::Doctor { cd, .. } | Command::Project { cd, .. }) => AgentFlags {
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
    let (overrides, ignored) = overrides(&agent, cli.command.as_ref())?;
    let mut provider_problem = None;
    // A trusted project's own settings lie below the person's; a folder that cannot be read
    // has none (and is said by the command that needs it).
    let project = project_dir(agent.cd.as_deref()).ok();
    let load = |overrides: &Overrides| match &project {
        Some(dir) => Config::load_for(overrides, dir),
        None => Config::load(overrides),
    };
    let loaded = match load(&overrides) {
        // The doctor says what is wrong with the provider, and checks the rest, instead of
        // stopping at it.
        Err(kelp::config::ConfigError::Provider(why))
            if matches!(cli.command, Some(Command::Doctor { .. })) =>
        {
            provider_problem = Some(why);
            let mut built_in = overrides.clone();
            built_in.model_provider = Some(kelp::config::providers::OPENAI.to_string());
            load(&built_in)
        }
        other => other,
    };
    let (config, warnings) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => return Err(fail(exit::USAGE, &e.to_string())),
    };
    if let Some(unknown) = agent
        .strict_config
        .then(|| unknown_key(&warnings))
        .flatten()
    {
        return Err(fail(exit::FAILURE, &unknown));
    }
    let mut warnings = warnings;
    // The interactive client asks about them on its own screen.
    let client = matches!(
        cli.command,
        None | Some(Command::Resume(_) | Command::Fork(_) | Command::Agents)
    );
    if !client {
        warnings.extend(config.project.waiting_warnings());
    }
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
    Ok(Setup {
        config,
        overrides,
        warnings: warning_lines,
        cd: agent.cd,
    })
}

/// The settings `agent`'s flags and `-c` pairs (and exec's own flags, for `command`) lay over
/// the config files, and the `-c` keys kelp has no setting for.
fn overrides(
    agent: &AgentFlags,
    command: Option<&Command>,
) -> Result<(Overrides, Vec<String>), ExitCode> {
    let mut overrides = Overrides::default();
    let mut ignored = Vec::new();
    for pair in &agent.codex_pairs() {
        match overrides.set_codex(pair) {
            Ok(CodexKey::Applied) => {}
            Ok(CodexKey::Ignored(key)) => ignored.push(key),
            Err(why) => return Err(fail(exit::USAGE, &why)),
        }
    }
    if let Some(Command::Exec(args)) = command
        && let Err(why) = args.apply(&mut overrides)
    {
        return Err(fail(exit::USAGE, &why));
    }
    // kelp's own flags beat a `-c` of the same setting.
    overrides.model = agent.model.clone().or(overrides.model);
    overrides.approval = agent.approval.or(overrides.approval);
    overrides.sandbox = agent.sandbox.or(overrides.sandbox);
    if agent.dangerously_bypass_approvals_and_sandbox {
        overrides.approval = Some(ApprovalMode::Never);
        overrides.sandbox = Some(SandboxMode::Off);
    } else if agent.full_auto || agent.approve_for_me {
        overrides.approval = overrides.approval.or(Some(ApprovalMode::FullAuto));
        overrides.sandbox = overrides.sandbox.or(Some(SandboxMode::WorkspaceWrite));
    }
    if agent.approve_for_me {
        overrides.approvals_reviewer = Some(kelp::protocol::ApprovalsReviewer::AutoReview);
    }
    overrides.network = agent.network.or(overrides.network);
    if agent.search {
        overrides.web_search = Some(kelp::config::WebSearch::Live);
    }
    overrides.profile = agent.profile.clone();
    overrides.bypass_hook_trust = agent.dangerously_bypass_hook_trust;
    Ok((overrides, ignored))
}

/// The project directory: `--cd DIR` or the current directory, made absolute and canonical so
/// sessions of one folder match however it was named.
pub(super) fn project_dir(cd: Option<&Path>) -> Result<PathBuf, String> {
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

/// The first key of a config file kelp does not know, as `--strict-config` refuses it.
fn unknown_key(warnings: &[kelp::config::ConfigWarning]) -> Option<String> {
    warnings.iter().find_map(|warning| match warning {
        kelp::config::ConfigWarning::UnknownKey {
            path,
            line,
            column,
            key,
            ..
        } => Some(format!(
            "{}:{line}:{column}: unknown configuration field `{key}` (--strict-config)",
            path.display()
        )),
        _ => None,
    })
}
