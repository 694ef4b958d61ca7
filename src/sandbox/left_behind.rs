//! What a command could leave that runs later, looked at before it starts and set aside when
//! it ends; and where a project's commands keep their copies of the package caches.

use std::path::{Path, PathBuf};

use super::{Repositories, SandboxPolicy, paths};
use crate::protocol::SandboxMode;

/// Where the commands of `project_dir` keep their copies of the package caches: one folder per
/// project beneath kelp's state folder, named after the project's real path
/// (`tool-caches/home%ana%app`), so what one project's commands put in a cache (a `build.rs`
/// in cargo's sources) is never built by another's.
pub fn layers_of(state_dir: &Path, project_dir: &Path) -> PathBuf {
    let real = paths::real_path(project_dir).unwrap_or_else(|_| project_dir.to_path_buf());
    let name: String = real
        .to_string_lossy()
        .chars()
        .map(|c| if c == '/' { '%' } else { c })
        .collect();
    state_dir
        .join("tool-caches")
        .join(name.trim_start_matches('%'))
}

/// What a command in `workspace-write` could leave that runs later, looked at before it starts
/// ([`SandboxPolicy::left_behind`]) and again when it ends ([`LeftBehind::set_aside`]).
#[derive(Debug, Default)]
pub struct LeftBehind {
    /// The protected paths that do not exist yet (a mount can only cover what exists), each
    /// with the folder it is reached from when moved aside.
    pub(super) absent: Vec<(PathBuf, PathBuf)>,
    /// The project's repositories as the command found them.
    pub(super) repositories: Option<Repositories>,
}

impl SandboxPolicy {
    /// What a command about to run in `project_dir` could leave behind: nothing to look at
    /// unless it may write there, sandboxed.
    pub fn left_behind(&self, project_dir: &Path) -> LeftBehind {
        if self.mode != SandboxMode::WorkspaceWrite || !self.is_active() {
            return LeftBehind::default();
        }
        let repositories = Repositories::scan(project_dir);
        let mut absent = self.absent_protected(project_dir);
        absent.extend(
            repositories
                .absent()
                .into_iter()
                .map(|path| (project_dir.to_path_buf(), path)),
        );
        absent.sort();
        absent.dedup();
        LeftBehind {
            absent,
            repositories: Some(repositories),
        }
    }
}

impl LeftBehind {
    /// Once the command has ended (and its namespace with it: nothing of it can write again),
    /// moves aside what it created that runs later unsandboxed: a protected path that did not
    /// exist before (an `.envrc` direnv would load, a `.vscode` task, a repository's
    /// `commondir`), to `NAME.refused-by-kelp`, and a `.git` that is new beneath the project,
    /// unless it is what `git init` or `git clone` makes. Returns the note for the model and
    /// the person, if anything was moved.
    pub fn set_aside(&self, project_dir: &Path) -> Option<String> {
        let mut moved = Vec::new();
        for (from, path) in &self.absent {
            if path.symlink_metadata().is_err() {
                continue;
            }
            let shown = path.strip_prefix(project_dir).unwrap_or(path).display();
            match super::repositories::set_aside(from, path) {
                Ok(_) => moved.push(format!("{shown}")),
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot set aside"),
            }
        }
        let mut looked_everywhere = true;
        if let Some(repositories) = &self.repositories {
            let (repositories, complete) = repositories.set_aside_new(project_dir);
            looked_everywhere = complete;
            moved.extend(repositories);
        }
        let moved = (!moved.is_empty()).then(|| {
            format!(
                "the command created {}, which runs later outside the sandbox, so kelp moved it aside (NAME.refused-by-kelp); a patch may write it once approved",
                moved.join(", ")
            )
        });
        let unlooked = (!looked_everywhere).then(|| {
            "the project holds more folders than kelp looks through for repositories a command made, so one past them may be there: look before you run git in this project".to_string()
        });
        match (moved, unlooked) {
            (Some(moved), Some(unlooked)) => Some(format!("{moved}; {unlooked}")),
            (moved, unlooked) => moved.or(unlooked),
        }
    }
}
