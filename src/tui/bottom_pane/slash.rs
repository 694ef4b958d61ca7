//! Slash commands and the completion list shown while one is typed.

use super::picker::PickerItem;
use crate::protocol::CustomPrompt;

/// What the composer knows of one command: everything about it but what it does (that is
/// `App::slash`'s, one arm per command).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// The name without the slash.
    pub name: &'static str,
    /// Other names it answers to: Codex's, where they differ (what its users type).
    pub aliases: &'static [&'static str],
    /// What it does, in a few words, for the popup and `/help`.
    pub about: &'static str,
    /// What it reads after its name, as the popup hints it (`[FOCUS]`); `None`: nothing.
    pub argument: Option<&'static str>,
    /// Whether it may run while an answer streams; one that may not says so and waits.
    pub during_turn: bool,
}

/// Declares the commands once: the enum, the popup's order and each one's [`Spec`].
macro_rules! slash_commands {
    ($($variant:ident: $name:literal $(or [$($alias:literal),+])?, $about:literal,
       argument $argument:expr, during_turn $during:literal;)*) => {
        /// A command the composer understands.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum SlashCommand {
            $($variant,)*
        }

        /// Every command, in the order the popup lists them.
        pub const ALL: &[SlashCommand] = &[$(SlashCommand::$variant,)*];

        impl SlashCommand {
            /// What the composer knows of it.
            pub fn spec(self) -> Spec {
                match self {
                    $(Self::$variant => Spec {
                        name: $name,
                        aliases: &[$($($alias),+)?],
                        about: $about,
                        argument: $argument,
                        during_turn: $during,
                    },)*
                }
            }
        }
    };
}

slash_commands! {
    Connect: "connect", "sign in: ChatGPT (browser or device code) or an API key",
        argument None, during_turn true;
    Account: "account" or ["accounts"], "your logins: switch which one requests use",
        argument Some("[NAME]"), during_turn false;
    Model: "model", "choose the model and its reasoning effort",
        argument None, during_turn true;
    Approval: "approval" or ["permissions"], "what runs unasked, this folder's trust (/permissions)",
        argument None, during_turn true;
    New: "new", "start a new conversation",
        argument None, during_turn true;
    Clear: "clear", "clear the screen and start a new conversation",
        argument None, during_turn true;
    Resume: "resume", "continue a saved conversation of this project",
        argument None, during_turn true;
    Fork: "fork", "go on in a copy of this conversation; the original stays",
        argument None, during_turn false;
    Agents: "agents" or ["agent"], "the command center: every conversation, and which needs you",
        argument None, during_turn true;
    Subagents: "subagents", "this conversation's agents: open one to watch it work",
        argument None, during_turn true;
    Side: "side" or ["btw"], "ask beside this conversation; the answer adds nothing to it",
        argument Some("[QUESTION]"), during_turn true;
    Worktree: "worktree", "a new conversation in a new git worktree of this repository",
        argument None, during_turn false;
    Plan: "plan", "plan mode, the model changes nothing (/plan TEXT asks it)",
        argument Some("[PROMPT]"), during_turn false;
    Rename: "rename", "name this conversation (/rename NAME) for the lists",
        argument Some("[NAME]"), during_turn true;
    Goal: "goal", "work toward an objective turn after turn (/goal TEXT [50k])",
        argument Some("[OBJECTIVE [BUDGET]]"), during_turn true;
    Recap: "recap", "summarise the conversation now, beside it; adds nothing",
        argument None, during_turn true;
    Status: "status", "login, model, tokens, limits and AGENTS.md files",
        argument None, during_turn true;
    Usage: "usage", "your plan's usage limits and this conversation's tokens",
        argument None, during_turn true;
    Fast: "fast", "fast mode: quicker answers, more of your plan (/fast on|off)",
        argument Some("[on|off]"), during_turn true;
    Config: "config" or ["debug-config"], "the config files read, in order, and what each sets",
        argument None, during_turn true;
    Warnings: "warnings", "what went wrong or was warned of in this run (F2)",
        argument None, during_turn true;
    Pwd: "pwd", "the working directory",
        argument None, during_turn true;
    Cd: "cd", "go on in another folder (/cd DIR; your home when none)",
        argument Some("[DIR]"), during_turn false;
    Mention: "mention", "mention a file: @ and the file finder",
        argument None, during_turn true;
    Presets: "presets" or ["prompts"], "your saved prompts (prompts/*.md): pick one to use",
        argument None, during_turn true;
    Mcp: "mcp", "MCP servers: where each is, and its tools",
        argument None, during_turn true;
    Skills: "skills", "the skills the model is told of (SKILL.md folders)",
        argument None, during_turn true;
    Diff: "diff", "what the conversation changed (git diff, or its patches)",
        argument None, during_turn true;
    Approve: "approve", "let the action auto-review denied last through, once",
        argument None, during_turn true;
    Approvals: "approvals", "what auto-review decided in this conversation, and why",
        argument None, during_turn true;
    Diagnostics: "diagnostics", "the language servers' errors in the files changed so far",
        argument None, during_turn false;
    Hooks: "hooks", "your hooks: which run, and trust those that wait",
        argument None, during_turn true;
    Statusline: "statusline", "pick and order what the status line shows",
        argument None, during_turn true;
    Title: "title", "pick and order what the terminal's window title shows",
        argument None, during_turn true;
    Theme: "theme", "choose the colours of code, shown as you move",
        argument None, during_turn true;
    Tui: "tui" or ["raw"], "scrollback (the terminal's own history) or fullscreen (/raw)",
        argument Some("[scrollback|fullscreen]"), during_turn true;
    Vim: "vim", "Vim's keys in the composer (normal, insert), or off again",
        argument None, during_turn true;
    Keymap: "keymap", "bind keys to actions, a leader key too; debug: name the keys",
        argument Some("[debug]"), during_turn true;
    Ps: "ps", "background terminals: the commands the model left running",
        argument None, during_turn true;
    Stop: "stop" or ["clean"], "end a background terminal (/stop N) or all of them",
        argument Some("[N|all]"), during_turn true;
    Init: "init", "have the model write an AGENTS.md for this project",
        argument None, during_turn false;
    Review: "review", "review changes, read-only: commit SHA, base BRANCH or words",
        argument Some("[WHAT]"), during_turn false;
    Compact: "compact", "summarise the conversation to free the context window",
        argument Some("[FOCUS]"), during_turn false;
    Export: "export", "the conversation as Markdown: to a file or the clipboard",
        argument Some("[FILE|clipboard]"), during_turn true;
    Copy: "copy", "copy the last answer (/copy code: its last code block)",
        argument Some("[code]"), during_turn true;
    Rollout: "rollout", "where this conversation is saved",
        argument None, during_turn true;
    Feedback: "feedback", "save a bug report (versions, log, settings) to a local file",
        argument None, during_turn true;
    Archive: "archive", "archive this conversation and leave (kelp unarchive undoes)",
        argument None, during_turn false;
    Delete: "delete", "delete this conversation for good, and leave",
        argument None, during_turn false;
    Logout: "logout", "remove the login",
        argument None, during_turn true;
    Help: "help", "keys and commands",
        argument None, during_turn true;
    Quit: "quit" or ["exit"], "leave kelp (/exit too)",
        argument None, during_turn true;
}

/// Codex's commands kelp deliberately does not serve, each with why: typed, they say so.
pub const NOT_SERVED: &[(&str, &str)] = &[
    (
        "app",
        "continues in Codex's desktop app; kelp stays in the terminal",
    ),
    (
        "apps",
        "ChatGPT's apps are OpenAI's service; kelp takes MCP servers",
    ),
    (
        "daybreak",
        "a feature of OpenAI's own service, not of a client",
    ),
    ("ide", "an editor drives kelp over ACP instead (kelp acp)"),
    (
        "import",
        "kelp reads Codex's config.toml and AGENTS.md as they are",
    ),
    (
        "memories",
        "kelp remembers only what AGENTS.md and your saved prompts say",
    ),
    ("debug-m-drop", "a debugging command of Codex's memories"),
    ("debug-m-update", "a debugging command of Codex's memories"),
    (
        "experimental",
        "kelp's flags are --enable/--disable NAME or [features]",
    ),
    (
        "personality",
        "the model takes its manner from AGENTS.md and your prompts",
    ),
    ("pets", "the screen is kept for your work"),
    ("pet", "the screen is kept for your work"),
    (
        "plugins",
        "a store of OpenAI's service; kelp takes MCP servers (/mcp)",
    ),
    (
        "sandbox-add-read-dir",
        "the sandbox reads every folder already",
    ),
    (
        "setup-default-sandbox",
        "Windows' sandbox; kelp's needs no setting up",
    ),
    ("test-approval", "a debugging command of Codex's"),
    (
        "voice",
        "a terminal over SSH has no microphone to listen to",
    ),
];

/// Why kelp does not serve the command named `name` (no slash), when it is one of Codex's.
pub fn not_served(name: &str) -> Option<&'static str> {
    NOT_SERVED
        .iter()
        .find(|(command, _)| *command == name)
        .map(|(_, why)| *why)
}

impl SlashCommand {
    /// The name without the slash.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// What it does, in a few words.
    pub fn description(self) -> &'static str {
        self.spec().about
    }

    /// The other names the command answers to: Codex's, where they differ.
    pub fn aliases(self) -> &'static [&'static str] {
        self.spec().aliases
    }

    /// Whether `name` (no slash) names the command, by its name or another.
    fn named(self, name: &str) -> bool {
        self.name() == name || self.aliases().contains(&name)
    }

    /// The command named exactly by `text` (`/model`, with surrounding spaces allowed), by
    /// its name or Codex's.
    pub fn parse(text: &str) -> Option<Self> {
        let name = text.trim().strip_prefix('/')?;
        ALL.iter().copied().find(|c| c.named(name))
    }

    /// Whether the command reads what follows its name (`/copy code`, `/compact FOCUS`).
    pub fn takes_argument(self) -> bool {
        self.spec().argument.is_some()
    }

    /// A command line that names a command taking an argument, and that argument (trimmed,
    /// maybe empty): `/compact keep the API` → `(Compact, "keep the API")`.
    pub fn parse_with_argument(text: &str) -> Option<(Self, &str)> {
        let text = text.trim();
        let (name, argument) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        Self::parse(name)
            .filter(|c| c.takes_argument())
            .map(|c| (c, argument.trim()))
    }
}

/// One row of the popup: a command of kelp's, or a custom prompt (by its place in the list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Command(SlashCommand),
    Prompt(usize),
}

/// The commands matching what is typed, when it looks like the start of a command.
pub fn completions(text: &str) -> Option<Vec<SlashCommand>> {
    let typed = text.strip_prefix('/')?;
    if typed.contains(char::is_whitespace) {
        return None;
    }
    Some(
        ALL.iter()
            .copied()
            .filter(|c| {
                c.name().starts_with(typed)
                    || (!typed.is_empty() && c.aliases().iter().any(|n| n.starts_with(typed)))
            })
            .collect(),
    )
}

/// [`completions`], then the custom `prompts` whose names match (`/prompts:NAME`, Codex's
/// form, too); a prompt named as a command of kelp's is offered only in that form.
pub fn entries(text: &str, prompts: &[CustomPrompt]) -> Option<Vec<Entry>> {
    let commands = completions(text)?;
    let typed = text.strip_prefix('/').unwrap_or_default();
    let typed = typed.strip_prefix("prompts:").unwrap_or(typed);
    let matching = prompts
        .iter()
        .enumerate()
        .filter(|(_, prompt)| prompt.name.starts_with(typed))
        .map(|(index, _)| Entry::Prompt(index));
    Some(
        commands
            .into_iter()
            .map(Entry::Command)
            .chain(matching)
            .collect(),
    )
}

/// Popup rows for `entries`.
pub fn items(entries: &[Entry], prompts: &[CustomPrompt]) -> Vec<PickerItem> {
    entries
        .iter()
        .filter_map(|entry| match entry {
            Entry::Command(c) => Some(PickerItem {
                label: format!("/{}", c.name()),
                detail: c.description().to_string(),
                current: false,
            }),
            Entry::Prompt(index) => prompts.get(*index).map(|prompt| PickerItem {
                label: format!("/{}", command_for(prompt)),
                detail: prompt.detail(),
                current: false,
            }),
        })
        .collect()
}

/// The command that runs `prompt`: its name, or `prompts:NAME` where kelp has a command of
/// that name.
pub fn command_for(prompt: &CustomPrompt) -> String {
    if ALL.iter().any(|c| c.named(&prompt.name)) {
        format!("prompts:{}", prompt.name)
    } else {
        prompt.name.clone()
    }
}

/// The custom prompt a command line names, with what follows it: `/explain src/lib.rs` or
/// `/prompts:explain src/lib.rs`. kelp's own commands come first.
pub fn prompt_line<'a>(
    text: &'a str,
    prompts: &'a [CustomPrompt],
) -> Option<(&'a CustomPrompt, &'a str)> {
    let text = text.trim();
    let (name, arguments) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let name = name.strip_prefix('/')?;
    let prompt = match name.strip_prefix("prompts:") {
        Some(name) => prompts.iter().find(|p| p.name == name)?,
        None if SlashCommand::parse(&format!("/{name}")).is_some() => return None,
        None => prompts.iter().find(|p| p.name == name)?,
    };
    Some((prompt, arguments.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_filters_the_commands() {
        assert_eq!(completions("/"), Some(ALL.to_vec()));
        assert_eq!(completions("/mo"), Some(vec![SlashCommand::Model]));
        assert_eq!(
            completions("/re"),
            Some(vec![
                SlashCommand::Resume,
                SlashCommand::Rename,
                SlashCommand::Recap,
                SlashCommand::Review
            ])
        );
        assert_eq!(completions("/model x"), None);
        assert_eq!(completions("hello"), None);
        assert_eq!(SlashCommand::parse(" /quit "), Some(SlashCommand::Quit));
        assert_eq!(SlashCommand::parse("/exit"), Some(SlashCommand::Quit));
        // Codex's other names for kelp's commands.
        assert_eq!(
            SlashCommand::parse("/debug-config"),
            Some(SlashCommand::Config)
        );
        assert_eq!(SlashCommand::parse("/agent"), Some(SlashCommand::Agents));
        assert_eq!(SlashCommand::parse("/clean"), Some(SlashCommand::Stop));
        assert_eq!(completions("/debug"), Some(vec![SlashCommand::Config]));
        // Neither a command nor an alias is among the ones kelp does not serve.
        for (name, _) in NOT_SERVED {
            assert_eq!(SlashCommand::parse(&format!("/{name}")), None, "{name}");
        }
    }
}

#[cfg(test)]
mod argument_tests {
    use super::*;

    #[test]
    fn only_commands_that_take_an_argument_are_read_with_one() {
        assert_eq!(
            SlashCommand::parse_with_argument("/compact keep the API "),
            Some((SlashCommand::Compact, "keep the API"))
        );
        assert_eq!(
            SlashCommand::parse_with_argument("/copy"),
            Some((SlashCommand::Copy, ""))
        );
        assert_eq!(SlashCommand::parse_with_argument("/copycat"), None);
        assert_eq!(SlashCommand::parse_with_argument("/model gpt"), None);
    }
}
