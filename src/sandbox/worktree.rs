//! Where git keeps a linked worktree: a project whose `.git` is a file naming a folder inside
//! the repository's `.git/worktrees/`, taken only as git lays it out, and the parts of that
//! folder git reads as instructions.

use std::path::{Path, PathBuf};

/// Where git keeps a worktree (a project whose `.git` is a file naming a folder inside the
/// repository's `.git/worktrees/`).
pub(super) struct Worktree {
    /// The worktree's own folder: its `HEAD`, `index` and logs.
    pub(super) git_dir: PathBuf,
    /// The repository's `.git`, shared by its worktrees.
    pub(super) common_dir: PathBuf,
}

impl Worktree {
    /// What git reads in the worktree's own folder as instructions, which the folder being
    /// writable (a commit there writes its `HEAD` and index) must not make writable: where the
    /// repository is (`commondir`, `gitdir`), the worktree's own config (`config.worktree`),
    /// `hooks`, `info` (its sparse-checkout) and `modules` (its submodules' repositories, whose
    /// configs the person's `git status` in the worktree reads).
    pub(super) fn instructions(&self) -> impl Iterator<Item = PathBuf> + '_ {
        [
            "commondir",
            "gitdir",
            "config.worktree",
            "hooks",
            "info",
            "modules",
        ]
        .into_iter()
        .map(|name| self.git_dir.join(name))
    }

    /// The worktree `project_dir` is, read from its `.git` file; `None` for a plain repository
    /// or none. Its folders become writable, so they are taken only as git lays them out: the
    /// folder named is `worktrees/NAME` in the repository its `commondir` names, and names this
    /// `.git` file back in its `gitdir` (which no command could have written: it lies outside
    /// the project). A `.git` file a command planted to name another folder is passed over.
    pub(super) fn of(project_dir: &Path) -> Option<Self> {
        let pointer = project_dir.join(".git");
        let line = |path: &Path| {
            let text = crate::private_file::read_regular(path, 4096).ok()?;
            let text = String::from_utf8(text).ok()?;
            Some(text.lines().next()?.trim().to_string())
        };
        let real = |path: &Path| std::fs::canonicalize(path).ok();
        let named = line(&pointer)?;
        let git_dir = real(&project_dir.join(named.strip_prefix("gitdir:")?.trim()))?;
        let common_dir = real(&git_dir.join(line(&git_dir.join("commondir"))?))?;
        let back = line(&git_dir.join("gitdir"))?;
        let laid_out = git_dir.parent() == Some(&common_dir.join("worktrees"))
            && real(&git_dir.join(back)) == real(&pointer)
            && common_dir.is_dir();
        laid_out.then_some(Self {
            git_dir,
            common_dir,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worktree_is_taken_only_as_git_lays_it_out() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let (repo, tree) = (base.join("repo"), base.join("tree"));
        std::fs::create_dir(&repo).unwrap();
        let git = |args: &[&str]| {
            let ok = std::process::Command::new("git")
                .arg("-C")
                .arg(&repo)
                .args(["-c", "user.email=a@b", "-c", "user.name=a"])
                .args(args)
                .output()
                .unwrap()
                .status
                .success();
            assert!(ok, "git {args:?}");
        };
        git(&["init", "-q"]);
        git(&["commit", "-q", "--allow-empty", "-m", "start"]);
        git(&["worktree", "add", "-q", "-b", "b", tree.to_str().unwrap()]);
        let worktree = Worktree::of(&tree).unwrap();
        assert_eq!(worktree.git_dir, repo.join(".git/worktrees/tree"));
        assert_eq!(worktree.common_dir, repo.join(".git"));
        assert!(Worktree::of(&repo).is_none(), "a plain repository");

        // A `.git` file planted in another project to name this worktree's folder does not
        // make that folder, or the repository's objects, writable there.
        let planted = base.join("planted");
        std::fs::create_dir(&planted).unwrap();
        let named = format!("gitdir: {}\n", worktree.git_dir.display());
        std::fs::write(planted.join(".git"), named).unwrap();
        assert!(Worktree::of(&planted).is_none());
        // Nor a folder that is not a repository's worktree.
        std::fs::write(
            planted.join(".git"),
            format!("gitdir: {}\n", base.display()),
        )
        .unwrap();
        assert!(Worktree::of(&planted).is_none());
    }
}
