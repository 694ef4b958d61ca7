//! Review mode: a turn that reviews code changes instead of making them (the TUI's `/review`,
//! the app-server's `review/start`). The model reads the changes with its own tools (`git
//! diff` in the sandbox), so the prompt stays short and the turn bounded, as in Codex.

/// What a review looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewTarget {
    /// The working tree: staged, unstaged and untracked files.
    Uncommitted,
    /// The current branch against `branch`.
    BaseBranch(String),
    /// One commit, with the title a host shows it by.
    Commit { sha: String, title: Option<String> },
    /// The person's own instructions.
    Custom(String),
}

/// How a reviewer works, before what to review.
const GUIDANCE: &str = "You are reviewing code changes, not making them: do not edit files or \
run commands that change anything. Read the changes with git and the files around them. Report \
only real problems the author would want fixed (bugs, security holes, data loss, broken \
behaviour, missing error handling), most severe first, each with its file and line and why it \
matters, and say plainly when you find none.";

impl ReviewTarget {
    /// A name or revision a review passes to git, refused when git would take it for an
    /// option or it holds what no ref holds.
    fn checked(what: &str, value: &str) -> Result<String, String> {
        let value = value.trim();
        if value.is_empty()
            || value.starts_with('-')
            || value.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!("{what} {value:?} is not a git {what}"));
        }
        Ok(value.to_string())
    }

    /// The target, its names checked.
    pub fn base_branch(branch: &str) -> Result<Self, String> {
        Self::checked("branch", branch).map(Self::BaseBranch)
    }

    /// The target, its names checked.
    pub fn commit(sha: &str, title: Option<String>) -> Result<Self, String> {
        Ok(Self::Commit {
            sha: Self::checked("commit", sha)?,
            title: title.filter(|title| !title.trim().is_empty()),
        })
    }

    /// The prompt of the review's turn.
    pub fn prompt(&self) -> String {
        let what = match self {
            Self::Uncommitted => "Review the current code changes (staged, unstaged, and \
                                  untracked files) and provide prioritized findings."
                .to_string(),
            Self::BaseBranch(branch) => format!(
                "Review the code changes against the base branch '{branch}'. Find the merge \
                 base first (`git merge-base HEAD {branch}`), then run `git diff` against it to \
                 see what would be merged into {branch}. Provide prioritized, actionable \
                 findings."
            ),
            Self::Commit {
                sha,
                title: Some(title),
            } => format!(
                "Review the code changes introduced by commit {sha} (\"{title}\"). Provide \
                 prioritized, actionable findings."
            ),
            Self::Commit { sha, title: None } => format!(
                "Review the code changes introduced by commit {sha}. Provide prioritized, \
                 actionable findings."
            ),
            Self::Custom(instructions) => instructions.trim().to_string(),
        };
        format!("{GUIDANCE}\n\n{what}")
    }

    /// What the review looks at, in a few words for the person.
    pub fn label(&self) -> String {
        match self {
            Self::Uncommitted => "current changes".to_string(),
            Self::BaseBranch(branch) => format!("changes against '{branch}'"),
            Self::Commit {
                sha,
                title: Some(title),
            } => format!("commit {}: {title}", short(sha)),
            Self::Commit { sha, title: None } => format!("commit {}", short(sha)),
            Self::Custom(instructions) => instructions.trim().to_string(),
        }
    }
}

/// A commit id as people write it: its first seven characters.
fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_git_would_take_for_options_are_refused() {
        for bad in ["", "-o/tmp/x", "--output=/tmp/x", "main branch", "a\nb"] {
            assert!(ReviewTarget::base_branch(bad).is_err(), "{bad:?}");
            assert!(ReviewTarget::commit(bad, None).is_err(), "{bad:?}");
        }
        let target = ReviewTarget::commit("0123456789abcdef", Some("Fix it".into())).unwrap();
        assert_eq!(target.label(), "commit 0123456: Fix it");
        assert!(
            target
                .prompt()
                .contains("commit 0123456789abcdef (\"Fix it\")")
        );
        assert!(
            ReviewTarget::base_branch("main")
                .unwrap()
                .prompt()
                .contains("git merge-base HEAD main")
        );
    }
}
