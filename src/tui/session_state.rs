//! The conversation the screen shows, as the app keeps it: which saved session it is, what its
//! turns began with (for Esc Esc), the patches it applied (for `/diff` outside git), and the
//! saved conversations `/resume` lists. Nothing here draws.

use std::time::SystemTime;

use crate::protocol::{SessionSummary, TokenUsage};

#[derive(Debug, Default)]
pub(crate) struct SessionState {
    /// The conversation in use.
    pub(crate) id: Option<String>,
    /// A conversation was just restored: the next `Conversation` event names it (its goal
    /// came with it).
    pub(crate) restored_now: bool,
    /// Whether it has a saved file to resume (a prompt was sent or it was resumed).
    pub(crate) saved: bool,
    /// The diffs of the patches applied in this conversation, for `/diff` outside git.
    pub(crate) patches: Vec<String>,
    /// The prompts that began this conversation's turns, oldest first, with the turns' ids:
    /// what Esc Esc goes back to.
    pub(crate) prompts: Vec<(String, String)>,
    /// The prompt sent and waiting for its turn's id.
    pub(crate) sent_prompt: Option<String>,
    /// `/fork` was sent: the conversation that comes back is the copy.
    pub(crate) forking: bool,
    /// The person left with its turn running on the server (Ctrl+C's "run in background").
    pub(crate) left_running: bool,
    /// The conversation picked next is forked once it is back (`kelp fork` with no id).
    pub(crate) fork_picked: bool,
    /// The saved conversations the `/resume` picker lists.
    pub(crate) listed: Vec<SessionSummary>,
    /// `/resume` asked for the list and it has not come.
    pub(crate) awaiting_list: bool,
    /// `/ps` or `/stop` asked for the background terminals' list and it has not come.
    pub(crate) awaiting_terminals: bool,
    /// `/hooks` asked for the hooks and they have not come.
    pub(crate) awaiting_hooks: bool,
    /// `/presets` asked for the prompt files and they have not come.
    pub(crate) awaiting_presets: bool,
    /// The hashes of the project's settings the question at the start asks about.
    pub(crate) project_waiting: Vec<String>,
    /// The login `/account` asked to put in use, until the core says it is.
    pub(crate) switching_to: Option<String>,
    /// The logins kept, as `/account` last listed them.
    pub(crate) logins: Vec<crate::protocol::LoginRow>,
    /// The person's hooks, as last listed.
    pub(crate) hooks: Vec<crate::protocol::HookRow>,
    /// What the client opened again for says, once the conversation it resumes is drawn.
    pub(crate) start_notice: Option<String>,
    /// When the conversation being resumed was last active, for the notice.
    pub(crate) resuming_from: Option<SystemTime>,
    /// The plan's steps done, of all, as last updated (the title's `task-progress`).
    pub(crate) plan_progress: Option<(usize, usize)>,
    /// What `/resume`'s search last asked the conversations' words for.
    pub(crate) searched: String,
    /// The folder `/cd` left to open here: the trust question offers to go back to it.
    pub(crate) came_from: Option<std::path::PathBuf>,
}

impl SessionState {
    /// A turn began under `id`: the prompt that was sent is what it began with.
    pub(crate) fn turn_began(&mut self, id: String) {
        if let Some(prompt) = self.sent_prompt.take() {
            self.prompts.push((id, prompt));
        }
    }

    /// Forgets what belonged to the conversation the screen showed.
    pub(crate) fn clear(&mut self) {
        self.saved = false;
        self.patches.clear();
        self.prompts.clear();
        self.plan_progress = None;
    }

    /// The id to come back to after leaving, when the conversation was saved.
    pub(crate) fn to_resume(&self) -> Option<String> {
        self.id.clone().filter(|_| self.saved)
    }
}

/// Why the UI ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The person quit, or input or the core went away.
    Quit,
    /// SIGTERM or SIGHUP, by number: the exit status says so (128 + n).
    Signal(i32),
    /// `/worktree` made this worktree: the client opens again in it, on a new conversation.
    Worktree(crate::protocol::Worktree),
    /// The person allowed the project's settings of these hashes: the client keeps the
    /// allowance and opens again with them, on the same conversation.
    ProjectSettingsAllowed(Vec<String>),
    /// The person opened a conversation their own app-server holds open: the client opens
    /// again on that server, on the thread `thread`, in its folder `project`.
    OnServer {
        thread: String,
        project: std::path::PathBuf,
    },
    /// `/cd`: the conversation goes on in this folder; the client opens again there, on it.
    ChangedDirectory(std::path::PathBuf),
    /// `/archive`: the conversation is archived once the client is gone.
    Archive,
    /// `/delete`, confirmed: the conversation is deleted once the client is gone.
    Delete,
}

/// What the person needs after leaving: how to come back, and what the conversation used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitSummary {
    /// The session id, for `kelp --resume`.
    pub id: String,
    /// Token usage of the conversation.
    pub usage: TokenUsage,
    /// The app-server it ran on (`--remote`), which the way back names.
    pub server: Option<String>,
    /// The person left with its turn still running there.
    pub left_running: bool,
}

impl ExitSummary {
    /// The lines printed on the normal screen after the UI is gone.
    pub fn lines(&self) -> String {
        let u = &self.usage;
        let mut text = String::new();
        if u.total_tokens > 0 {
            text.push_str(&format!(
                "Token usage: {}\n",
                super::status::describe_usage(u)
            ));
        }
        if let (true, Some(server)) = (self.left_running, &self.server) {
            text.push_str(&format!(
                "Its turn goes on at {server}. A notify program in config.toml is told when \
                 it ends or waits for you.\n"
            ));
        }
        match &self.server {
            Some(server) => text.push_str(&format!(
                "To continue it: kelp --remote {server} resume {}\n",
                self.id
            )),
            None => text.push_str(&format!("To continue it: kelp --resume {}\n", self.id)),
        }
        text
    }
}
