//! Review mode: a turn that reviews code changes instead of making them (the TUI's `/review`,
//! the app-server's `review/start`). The model reads the changes with its own tools (`git
//! diff` in the sandbox), so the prompt stays short and the turn bounded, as in Codex.
use crate::protocol::ReviewTarget;

/// How a reviewer works, before what to review.
const GUIDANCE: &str = "You are reviewing code changes, not making them: do not edit files or \
run commands that change anything. Read the changes with git and the files around them. Report \
only real problems the author would want fixed (bugs, security holes, data loss, broken \
behaviour, missing error handling), most severe first, each with its file and line and why it \
matters, and say plainly when you find none.";

impl ReviewTarget {
    /// A name or revision a review passes to git, and names in the prompt the model is told to
    /// run: refused when git would take it for an option, when it breaks git's rules for a ref
    /// name (`git check-ref-format`: no `..`, `@{`, `//`, a part starting with `.`, a `.lock`
    /// end), or when it holds anything but letters, digits and `. _ / @ ^ ~ + -`, so no shell
    /// the model runs it through expands any of it (`main$(touch x)`).
    fn checked(what: &str, value: &str) -> Result<String, String> {
        let value = value.trim();
        let plain = |c: char| c.is_ascii_alphanumeric() || "._/@^~+-".contains(c);
        let breaks_git_rules = value.contains("..")
            || value.contains("@{")
            || value.contains("//")
            || value.ends_with('/')
            || value.ends_with(".lock")
            || value.split('/').any(|part| part.starts_with('.'));
        if value.is_empty()
            || value.starts_with('-')
            || breaks_git_rules
            || !value.chars().all(plain)
        {
            return Err(format!(
                "{what} {value:?} is not a git {what} (letters, digits and . _ / @ ^ ~ + - only)"
            ));
        }
        Ok(value.to_string())
    }

    /// What `/review WORDS` asks for, as the TUI and ACP take it: nothing for the uncommitted
    /// changes, `commit SHA` for one commit, `base BRANCH` for the changes against a branch,
    /// and any other words as the reviewer's instructions.
    pub fn parse(words: &str) -> Result<Self, String> {
        let words = words.trim();
        let mut parts = words.splitn(2, char::is_whitespace);
        let (first, rest) = (
            parts.next().unwrap_or_default(),
            parts.next().map(str::trim),
        );
        match (first, rest) {
            ("", _) => Ok(Self::Uncommitted),
            ("commit", Some(sha)) => Self::commit(sha, None),
            ("base", Some(branch)) => Self::base_branch(branch),
            ("commit" | "base", None) => Err(format!(
                "/review {first} needs a {}",
                if first == "commit" {
                    "commit (/review commit SHA)"
                } else {
                    "branch (/review base BRANCH)"
                }
            )),
            _ => Ok(Self::Custom(words.to_string())),
        }
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
    fn review_words_name_the_target() {
        assert_eq!(ReviewTarget::parse("  "), Ok(ReviewTarget::Uncommitted));
        assert_eq!(
            ReviewTarget::parse("base main"),
            Ok(ReviewTarget::BaseBranch("main".into()))
        );
        assert_eq!(
            ReviewTarget::parse("commit 0123abc"),
            Ok(ReviewTarget::Commit {
                sha: "0123abc".into(),
                title: None
            })
        );
        assert_eq!(
            ReviewTarget::parse("the error handling in src/net"),
            Ok(ReviewTarget::Custom("the error handling in src/net".into()))
        );
        assert!(ReviewTarget::parse("commit").is_err());
        assert!(ReviewTarget::parse("base --output=/tmp/x").is_err());
        assert!(ReviewTarget::parse("commit a b").is_err());
    }

    #[test]
    fn names_git_would_take_for_options_are_refused() {
        for bad in [
            "",
            "-o/tmp/x",
            "--output=/tmp/x",
            "main branch",
            "a\nb",
            "main$(touch${IFS}PWNED)",
            "main`id`",
            "main;id",
            "a..b",
            "main@{-1}",
            ".hidden",
            "x.lock",
            "'main'",
        ] {
            assert!(ReviewTarget::base_branch(bad).is_err(), "{bad:?}");
            assert!(ReviewTarget::commit(bad, None).is_err(), "{bad:?}");
        }
        for good in ["main", "origin/main", "release-1.2", "HEAD~2", "v1.0^"] {
            assert!(ReviewTarget::base_branch(good).is_ok(), "{good:?}");
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
