//! Slash commands and the completion list shown while one is typed.

use super::picker::PickerItem;
use crate::protocol::CustomPrompt;

/// What the composer knows of one command: everything about it but what it does (that is
/// `App::slash`'s, one arm per command).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// The name without the slash.
    pub name: &'static str,
    /// The name Codex gives it, where it differs: what its users type.
    pub codex_name: Option<&'static str>,
    /// What it does, in a few words, for the popup and `/help`.
    pub about: &'static str,
    /// What it reads after its name, as the popup hints it (`[FOCUS]`); `None`: nothing.
    pub argument: Option<&'static str>,
    /// Whether it may run while an answer streams; one that may not says so and waits.
    pub during_turn: bool,
}

/// Declares the commands once: the enum, the popup's order and each one's [`Spec`].
macro_rules! slash_commands {
    ($($variant:ident: $name:literal $(or $codex:literal)?, $about:literal,
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
                        codex_name: None $(.or(Some($codex)))?,
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
    Model: "model", "choose the model and its reasoning effort",
        argument None, during_turn true;
    Approval: "approval" or "permissions", "what runs unasked, this folder's trust (/permissions)",
        argument None, during_turn true;
    New: "new", "start a new conversation",
        argument None, during_turn true;
    Clear: "clear", "clear the screen and start a new conversation",
        argument None, during_turn true;
    Resume: "resume", "continue a saved conversation of this project",
        argument None, during_turn true;
    Fork: "fork", "go on in a copy of this conversation; the original stays",
        argument None, during_turn false;
    Agents: "agents", "the command center: every conversation, and which needs you",
        argument None, during_turn true;
    Subagents: "subagents", "this conversation's agents: open one to watch it work",
        argument None, during_turn true;
    Side: "side" or "btw", "ask beside this conversation; the answer adds nothing to it",
        argument Some("[QUESTION]"), during_turn true;
    Worktree: "worktree", "a new conversation in a new git worktree of this repository",
        argument None, during_turn false;
    Rename: "rename", "name this conversation (/rename NAME) for the lists",
        argument Some("[NAME]"), during_turn true;
    Goal: "goal", "work toward an objective turn after turn (/goal TEXT [50k])",
        argument Some("[OBJECTIVE [BUDGET]]"), during_turn true;
    Status: "status", "login, model, tokens, limits and AGENTS.md files",
        argument None, during_turn true;
    Mcp: "mcp", "MCP servers: where each is, and its tools",
        argument None, during_turn true;
    Skills: "skills", "the skills the model is told of (SKILL.md folders)",
        argument None, during_turn true;
    Diff: "diff", "what the conversation changed (git diff, or its patches)",
        argument None, during_turn true;
    Hooks: "hooks", "your hooks: which run, and trust those that wait",
        argument None, during_turn true;
    Statusline: "statusline", "pick and order what the status line shows",
        argument None, during_turn true;
    Ps: "ps", "background terminals: the commands the model left running",
        argument None, during_turn true;
    Stop: "stop", "end a background terminal (/stop N) or all of them",
        argument Some("[N|all]"), during_turn true;
    Init: "init", "have the model write an AGENTS.md for this project",
        argument None, during_turn false;
    Review: "review", "review changes, read-only: commit SHA, base BRANCH or words",
        argument Some("[WHAT]"), during_turn false;
    Compact: "compact", "summarise the conversation to free the context window",
        argument Some("[FOCUS]"), during_turn false;
    Copy: "copy", "copy the last answer (/copy code: its last code block)",
        argument Some("[code]"), during_turn true;
    Logout: "logout", "remove the login",
        argument None, during_turn true;
    Help: "help", "keys and commands",
        argument None, during_turn true;
    Quit: "quit" or "exit", "leave kelp (/exit too)",
        argument None, during_turn true;
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

    /// The name Codex gives the command, where it differs: what its users type.
    pub fn codex_name(self) -> Option<&'static str> {
        self.spec().codex_name
    }

    /// The command named exactly by `text` (`/model`, with surrounding spaces allowed), by
    /// its name or Codex's.
    pub fn parse(text: &str) -> Option<Self> {
        let name = text.trim().strip_prefix('/')?;
        ALL.iter()
            .copied()
            .find(|c| c.name() == name || c.codex_name() == Some(name))
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
                    || (!typed.is_empty() && c.codex_name().is_some_and(|n| n.starts_with(typed)))
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
    if ALL.iter().any(|c| c.name() == prompt.name) || prompt.name == "exit" {
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
                SlashCommand::Review
            ])
        );
        assert_eq!(completions("/model x"), None);
        assert_eq!(completions("hello"), None);
        assert_eq!(SlashCommand::parse(" /quit "), Some(SlashCommand::Quit));
        assert_eq!(SlashCommand::parse("/exit"), Some(SlashCommand::Quit));
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
