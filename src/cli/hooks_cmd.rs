//! `kelp hooks`: the hooks of the config folders (kelp's, then `CODEX_HOME`'s), each with its
//! state, event, matcher, command and file; `kelp hooks trust` lets them run, `kelp hooks
//! disable` and `enable` turn them off and on.

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;
use kelp::config::Config;
use kelp::hooks::Hook;

use super::common::{exit, fail};

#[derive(Debug, Subcommand)]
pub(super) enum HooksCommand {
    /// Every hook, trusted or waiting for your trust (the default).
    List,
    /// Trust hooks so they run: those whose hash starts with each HASH, or every one with
    /// --all. A hook runs with your full rights, outside the sandbox: read it first.
    Trust {
        #[arg(value_name = "HASH")]
        hashes: Vec<String>,
        #[arg(long, conflicts_with = "hashes")]
        all: bool,
    },
    /// Turn hooks off, trusted or not, so they do not run (nor wait for trust): those whose
    /// hash starts with each HASH, or every one with --all.
    Disable {
        #[arg(value_name = "HASH")]
        hashes: Vec<String>,
        #[arg(long, conflicts_with = "hashes")]
        all: bool,
    },
    /// Turn hooks that were turned off on again.
    Enable {
        #[arg(value_name = "HASH")]
        hashes: Vec<String>,
        #[arg(long, conflicts_with = "hashes")]
        all: bool,
    },
}

/// The hooks as kelp reads them now.
fn loaded(config: &Config) -> (Vec<Hook>, Vec<String>) {
    let (hooks, warnings) = kelp::hooks::load_for(config);
    (hooks.all().to_vec(), warnings)
}

pub(super) fn hooks(config: &Config, command: Option<HooksCommand>) -> ExitCode {
    let (hooks, warnings) = loaded(config);
    for warning in &warnings {
        super::common::say_err(&format!("kelp: hooks: {warning}"));
    }
    match command.unwrap_or(HooksCommand::List) {
        HooksCommand::List => list(&hooks),
        HooksCommand::Trust { hashes, all } => change(config, &hooks, &hashes, all, Change::Trust),
        HooksCommand::Disable { hashes, all } => {
            change(config, &hooks, &hashes, all, Change::Enable(false))
        }
        HooksCommand::Enable { hashes, all } => {
            change(config, &hooks, &hashes, all, Change::Enable(true))
        }
    }
}

fn list(hooks: &[Hook]) -> ExitCode {
    let mut out = std::io::stdout().lock();
    if hooks.is_empty() {
        let _ = writeln!(
            out,
            "No hooks: kelp reads hooks.json and [hooks] in config.toml of its config folder and of CODEX_HOME."
        );
        return ExitCode::SUCCESS;
    }
    for hook in hooks {
        let state = match (hook.enabled, hook.trusted) {
            (false, _) => "off",
            (true, true) => "trusted",
            (true, false) => "waits for trust",
        };
        let matcher = hook
            .matcher
            .as_deref()
            .map(|m| format!(" [{m}]"))
            .unwrap_or_default();
        let line = format!(
            "{}  {state}  {}{matcher}  {}  ({})",
            &hook.hash()[..12],
            hook.event.name(),
            hook.command,
            hook.source.display()
        );
        let _ = writeln!(out, "{}", kelp::terminal_text::printable(&line));
    }
    ExitCode::SUCCESS
}

/// What `kelp hooks` changes of the hooks named.
#[derive(Clone, Copy)]
enum Change {
    Trust,
    Enable(bool),
}

impl Change {
    fn verb(self) -> &'static str {
        match self {
            Change::Trust => "trust",
            Change::Enable(true) => "turn on",
            Change::Enable(false) => "turn off",
        }
    }

    fn done(self) -> &'static str {
        match self {
            Change::Trust => "Trusted",
            Change::Enable(true) => "Turned on",
            Change::Enable(false) => "Turned off",
        }
    }
}

fn change(
    config: &Config,
    hooks: &[Hook],
    wanted: &[String],
    all: bool,
    change: Change,
) -> ExitCode {
    if !all && wanted.is_empty() {
        return fail(
            exit::USAGE,
            &format!(
                "name the hooks to {} by the hash `kelp hooks` shows, or give --all",
                change.verb()
            ),
        );
    }
    let mut chosen = Vec::new();
    for prefix in wanted {
        let matching: Vec<&Hook> = hooks
            .iter()
            .filter(|hook| !prefix.is_empty() && hook.hash().starts_with(prefix.as_str()))
            .collect();
        match matching.as_slice() {
            [] => return fail(exit::USAGE, &format!("no hook's hash starts with {prefix}")),
            [_, _, ..] if matching.iter().any(|h| h.hash() != matching[0].hash()) => {
                return fail(
                    exit::USAGE,
                    &format!("{prefix} starts more than one hook's hash: give more of it"),
                );
            }
            found => chosen.push(found[0].hash()),
        }
    }
    if all {
        chosen = hooks.iter().map(Hook::hash).collect();
    }
    let kept = match change {
        Change::Trust => kelp::hooks::trust(&config.state_dir, &chosen),
        Change::Enable(on) => kelp::hooks::set_enabled(&config.state_dir, &chosen, on),
    };
    if let Err(e) = kept {
        return fail(exit::FAILURE, &format!("cannot keep the hooks' state: {e}"));
    }
    let mut out = std::io::stdout().lock();
    for hook in hooks.iter().filter(|hook| chosen.contains(&hook.hash())) {
        let line = format!(
            "{} {} hook: {}",
            change.done(),
            hook.event.name(),
            hook.command
        );
        let _ = writeln!(out, "{}", kelp::terminal_text::printable(&line));
    }
    ExitCode::SUCCESS
}
