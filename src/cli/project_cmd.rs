//! `kelp project [show | allow]`: a trusted project's own settings files, what each sets and
//! what waits for the person's allowance, and the allowance itself.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use kelp::config::Config;

use super::common::{exit, fail};

#[derive(Debug, Subcommand)]
pub(super) enum ProjectCommand {
    /// Each settings file of the project, what it sets, and what waits for your allowance
    /// (the default).
    Show,
    /// Allow the settings that wait, as `kelp project` shows them; kelp uses them from its
    /// next start here. A change to them asks again.
    Allow,
}

pub(super) fn project(
    config: &Config,
    project_dir: &Path,
    command: Option<ProjectCommand>,
) -> ExitCode {
    if config.trusted_folders(project_dir).is_empty() {
        let root = kelp::config::trust_root(project_dir);
        return fail(
            exit::FAILURE,
            &format!(
                "{} is not a folder you trust, so kelp reads none of its own settings: the \
                 client asks at its first start there",
                kelp::humanize::home_path(&root)
            ),
        );
    }
    match command.unwrap_or(ProjectCommand::Show) {
        ProjectCommand::Show => show(config),
        ProjectCommand::Allow => allow(config),
    }
}

fn show(config: &Config) -> ExitCode {
    let layer = &config.project;
    let mut out = std::io::stdout().lock();
    let mut say = |line: String| {
        let _ = writeln!(out, "{}", kelp::terminal_text::printable(&line));
    };
    if layer.files.is_empty() && layer.hooks.is_empty() {
        say("The project has no settings of its own (.codex/config.toml, .kelp/config.toml, .codex/hooks.json).".into());
        return ExitCode::SUCCESS;
    }
    for file in &layer.files {
        say(kelp::humanize::home_path(&file.path));
        let free = config
            .settings_from
            .iter()
            .find(|(path, _)| *path == file.path)
            .map(|(_, keys)| keys.join(", "))
            .filter(|keys| !keys.is_empty());
        if let Some(keys) = free {
            say(format!("  in force: {keys}"));
        }
        if let Some(asks) = &file.asks {
            let state = if asks.allowed {
                "allowed"
            } else {
                "waits for your allowance (`kelp project allow`)"
            };
            say(format!("  {state}:"));
            for line in &asks.lines {
                say(format!("    {line}"));
            }
        }
    }
    for hooks in &layer.hooks {
        say(format!(
            "{}: hooks, which run once trusted (`kelp hooks`)",
            kelp::humanize::home_path(&hooks.path)
        ));
    }
    ExitCode::SUCCESS
}

fn allow(config: &Config) -> ExitCode {
    let waiting = config.project.waiting();
    if waiting.is_empty() {
        println!("Nothing waits for your allowance.");
        return ExitCode::SUCCESS;
    }
    let hashes: Vec<String> = waiting.iter().map(|w| w.hash.clone()).collect();
    if let Err(e) = kelp::config::project::allow(&config.state_dir, &hashes) {
        return fail(exit::FAILURE, &format!("cannot keep the allowance: {e}"));
    }
    let mut out = std::io::stdout().lock();
    for file in &waiting {
        let _ = writeln!(
            out,
            "Allowed from {}:",
            kelp::terminal_text::printable(&kelp::humanize::home_path(&file.path))
        );
        for line in &file.lines {
            let _ = writeln!(out, "  {}", kelp::terminal_text::printable(line));
        }
    }
    let _ = writeln!(out, "kelp uses them from its next start here.");
    ExitCode::SUCCESS
}
