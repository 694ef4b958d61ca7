//! `kelp worktree list | remove`: the git worktrees kelp made for conversations of this
//! repository (`--worktree`, `/worktree`, a child agent's own).

use std::path::Path;
use std::process::ExitCode;

use kelp::agent::worktree::{self, Listed, State};
use kelp::config::Config;
use kelp::terminal_text::printable;
use serde_json::json;

use super::common::{exit, fail};

#[derive(Debug, clap::Subcommand)]
pub enum WorktreeCommand {
    /// kelp's worktrees of this repository: name, branch, whether work waits uncommitted, the
    /// conversations saved in each, and the folder.
    List {
        /// One JSON array instead of the lines.
        #[arg(long)]
        json: bool,
    },
    /// Remove one of kelp's worktrees (by its name, branch or folder); its branch stays with
    /// its commits. Refused while it holds changes not committed, unless --force.
    Remove {
        #[arg(value_name = "NAME")]
        name: String,
        /// Remove it with the changes not committed in it.
        #[arg(long, short = 'f')]
        force: bool,
    },
}

/// `kelp worktree …` in the repository `project_dir` is in.
pub fn worktree(config: &Config, project_dir: &Path, command: WorktreeCommand) -> ExitCode {
    match command {
        WorktreeCommand::List { json } => list(config, project_dir, json),
        WorktreeCommand::Remove { name, force } => {
            match worktree::remove(project_dir, &name, force) {
                Ok(removed) => {
                    let branch = removed.branch.as_deref().unwrap_or("(detached)");
                    println!(
                        "Removed the worktree {} ({}); the branch {} stays: `git branch -D {}` \
                         deletes it.",
                        printable(&removed.id),
                        printable(&removed.root.display().to_string()),
                        printable(branch),
                        printable(branch)
                    );
                    ExitCode::SUCCESS
                }
                Err(why) => fail(exit::FAILURE, &why),
            }
        }
    }
}

fn list(config: &Config, project_dir: &Path, json: bool) -> ExitCode {
    let listed = match worktree::list(project_dir) {
        Ok(listed) => listed,
        Err(why) => return fail(exit::FAILURE, &why),
    };
    let saved: Vec<_> = kelp::session::list_sessions(&config.state_dir, None)
        .map(|summary| summary.project_dir)
        .collect();
    let conversations = |worktree: &Listed| {
        saved
            .iter()
            .filter(|dir| dir.starts_with(&worktree.root))
            .count()
    };
    if json {
        let rows: Vec<_> = listed
            .iter()
            .map(|worktree| {
                json!({
                    "id": worktree.id,
                    "path": worktree.root,
                    "branch": worktree.branch,
                    "head": worktree.head,
                    "state": state_word(worktree.state),
                    "changedFiles": match worktree.state {
                        State::Changed(files) => files,
                        _ => 0,
                    },
                    "conversations": conversations(worktree),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return ExitCode::SUCCESS;
    }
    if listed.is_empty() {
        println!(
            "No worktree of kelp's in this repository: `kelp --worktree` or /worktree makes one."
        );
        return ExitCode::SUCCESS;
    }
    println!(
        "{:<6} {:<12} {:<14} {:<6} PATH",
        "NAME", "BRANCH", "STATE", "CONVS"
    );
    for worktree in &listed {
        let state = match worktree.state {
            State::Changed(files) if files > 0 => format!("{files} changed"),
            state => state_word(state).to_string(),
        };
        println!(
            "{:<6} {:<12} {:<14} {:<6} {}",
            printable(&worktree.id),
            printable(worktree.branch.as_deref().unwrap_or("(detached)")),
            state,
            conversations(worktree),
            printable(&worktree.root.display().to_string())
        );
    }
    ExitCode::SUCCESS
}

fn state_word(state: State) -> &'static str {
    match state {
        State::Clean => "clean",
        State::Changed(_) => "changed",
        State::Missing => "missing",
    }
}
