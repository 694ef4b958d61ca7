//! The agents the command center lists (`/agents`, `kelp agents`): each conversation this
//! client holds or has saved, with where it stands; and what tells the agents' words to each
//! other from a person's ([`is_team_mail`]).

use std::path::PathBuf;
use std::time::SystemTime;

/// Whether `text` is what one agent of a team sent another (Codex's envelope: `Message Type:
/// …`, `Sender: /root/…`), not a person's words.
pub fn is_team_mail(text: &str) -> bool {
    text.starts_with("Message Type: ") && text.contains("\nSender: /")
}

/// The task path a piece of team mail is addressed to (its `Task name:`), which names the
/// conversation it opens better than the envelope's first line.
pub fn task_of_mail(text: &str) -> Option<&str> {
    if !is_team_mail(text) {
        return None;
    }
    text.lines()
        .find_map(|line| line.strip_prefix("Task name: "))
}

/// Where a conversation stands, as the command center groups them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AgentState {
    /// An approval or a question waits for the person.
    NeedsYou,
    /// A turn runs.
    Working,
    /// Open in this client, done with its turn: ready for the next task.
    Ready,
    /// Saved, not open.
    Inactive,
}

impl AgentState {
    /// The group's heading.
    pub fn heading(self) -> &'static str {
        match self {
            Self::NeedsYou => "Needs you",
            Self::Working => "Working",
            Self::Ready => "Ready",
            Self::Inactive => "Inactive",
        }
    }
}

/// The last line of words of an answer, trimmed, as the command center shows it: not the
/// fence that closes a code block.
pub fn last_words(text: &str) -> Option<&str> {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with("```") && !line.starts_with("~~~"))
}

/// One conversation as the command center shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRow {
    /// Its conversation's id.
    pub conversation: String,
    /// Its task path in this client's team (`/root`, `/root/alpha`); `None` for a conversation
    /// outside it.
    pub path: Option<String>,
    /// What it is about: its name, its task or its first prompt.
    pub title: String,
    pub project: PathBuf,
    pub state: AgentState,
    /// The last line it wrote.
    pub last_line: Option<String>,
    /// Tokens its requests took.
    pub tokens: u64,
    /// Since when it stands as it does: its turn's start while it works, else when it was
    /// last active.
    pub since: Option<SystemTime>,
    /// Its saved file, for a conversation not open here (opening it resumes it).
    pub file: Option<PathBuf>,
    /// Held open by the person's own app-server (the per-user server), not this client:
    /// opening it runs the client on that server.
    pub on_server: bool,
}

impl AgentRow {
    /// A saved conversation's row, standing as `state`: titled by its name or first prompt,
    /// dated by when it was last written, opened by its file.
    pub fn saved(summary: super::SessionSummary, state: AgentState) -> Self {
        Self {
            conversation: summary.id.to_string(),
            path: None,
            title: summary.name.or(summary.first_prompt).unwrap_or_default(),
            project: summary.project_dir,
            state,
            last_line: summary.last_exchange.and_then(|last| last.answer),
            tokens: 0,
            since: summary.modified.or(Some(summary.started_at.into())),
            file: Some(summary.path),
            on_server: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer that ends with a code block is shown by its last words, not by the fence.
    #[test]
    fn the_last_words_pass_over_a_closing_fence() {
        let answer = "Here it is:\n\n```rust\nfn main() {}\n```\n\n";
        assert_eq!(last_words(answer), Some("fn main() {}"));
        assert_eq!(last_words("Done.\n  \n"), Some("Done."));
        assert_eq!(last_words("~~~\n"), None);
    }

    /// A conversation an agent's task opened is named by the task's path, not the envelope.
    #[test]
    fn team_mail_names_the_task_it_opens() {
        let task = "Message Type: NEW_TASK\nTask name: /root/builder\nSender: /root\nPayload:\nGo.";
        assert_eq!(task_of_mail(task), Some("/root/builder"));
        assert_eq!(task_of_mail("Task name: /root/x\nplease"), None);
    }
}
