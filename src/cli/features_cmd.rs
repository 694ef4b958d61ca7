//! `kelp features list | enable | disable FEATURE`: the feature flags kelp acts on, named as
//! Codex 0.171 names them, their state as this command line and the config file leave it, and
//! a flag turned on or off in kelp's `config.toml` (`[features] FEATURE = true`), as Codex's
//! `features` does in its own.

use std::process::ExitCode;

use kelp::config::{Config, Setting, save_setting};

use super::common::{exit, fail};

#[derive(Debug, clap::Subcommand)]
pub enum FeaturesCommand {
    /// The flags kelp acts on, with their stage and whether each is on (the config file, then
    /// this command line's -c, --enable and --disable).
    List,
    /// Turn a flag on in kelp's config.toml.
    Enable {
        #[arg(value_name = "FEATURE")]
        name: String,
    },
    /// Turn a flag off in kelp's config.toml.
    Disable {
        #[arg(value_name = "FEATURE")]
        name: String,
    },
}

/// The flags kelp acts on: Codex's name, its stage, and what it gives.
const FLAGS: [(&str, &str); 2] = [("multi_agent_v2", "stable"), ("unified_exec", "stable")];

/// `kelp features …`.
pub fn features(config: &Config, command: FeaturesCommand) -> ExitCode {
    match command {
        FeaturesCommand::List => {
            print!("{}", listed(config));
            ExitCode::SUCCESS
        }
        FeaturesCommand::Enable { name } => turn(config, &name, true),
        FeaturesCommand::Disable { name } => turn(config, &name, false),
    }
}

/// Whether the flag `name` is on as `config` stands.
fn is_on(config: &Config, name: &str) -> bool {
    match name {
        "multi_agent_v2" => config.agents.enabled,
        _ => config.secrets.unified_exec.unwrap_or(true),
    }
}

/// The list as Codex prints it: name, stage and state in columns.
fn listed(config: &Config) -> String {
    let name_width = FLAGS.iter().map(|(name, _)| name.len()).max().unwrap_or(0) + 2;
    let stage_width = FLAGS
        .iter()
        .map(|(_, stage)| stage.len())
        .max()
        .unwrap_or(0)
        + 2;
    FLAGS
        .iter()
        .map(|(name, stage)| {
            let on = is_on(config, name);
            format!("{name:<name_width$}{stage:<stage_width$}{on}\n")
        })
        .collect()
}

/// Writes `[features] name = on` in kelp's config file, saying it as Codex does.
fn turn(config: &Config, name: &str, on: bool) -> ExitCode {
    if !FLAGS.iter().any(|(known, _)| *known == name) {
        let known: Vec<&str> = FLAGS.iter().map(|(known, _)| *known).collect();
        return fail(
            exit::FAILURE,
            &format!(
                "Unknown feature flag: {}; kelp has {}",
                kelp::terminal_text::printable(name),
                known.join(" and ")
            ),
        );
    }
    let setting = Setting::Feature {
        name: name.to_string(),
        on,
    };
    if let Err(e) = save_setting(&config.config_dir, &setting) {
        return fail(exit::FAILURE, &e.to_string());
    }
    let done = if on { "Enabled" } else { "Disabled" };
    println!("{done} feature `{name}` in config.toml.");
    ExitCode::SUCCESS
}
