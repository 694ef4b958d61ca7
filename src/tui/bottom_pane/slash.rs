//! Slash commands and the completion list shown while one is typed.

use super::picker::PickerItem;
use crate::config::prompts::CustomPrompt;

/// A command the composer understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlashCommand {
    Connect,
    Model,
    Approval,
    New,
    Clear,
    Resume,
    Fork,
    Rename,
    Goal,
    Status,
    Mcp,
    Skills,
    Diff,
    Init,
    Review,
    Compact,
    Copy,
    Logout,
    Help,
    Quit,
}

/// Every command, in the order the popup lists them.
pub const ALL: [SlashCommand; 20] = [
    SlashCommand::Connect,
    SlashCommand::Model,
    SlashCommand::Approval,
    SlashCommand::New,
    SlashCommand::Clear,
    SlashCommand::Resume,
    SlashCommand::Fork,
    SlashCommand::Rename,
    SlashCommand::Goal,
    SlashCommand::Status,
    SlashCommand::Mcp,
    SlashCommand::Skills,
    SlashCommand::Diff,
    SlashCommand::Init,
    SlashCommand::Review,
    SlashCommand::Compact,
    SlashCommand::Copy,
    SlashCommand::Logout,
    SlashCommand::Help,
    SlashCommand::Quit,
];

impl SlashCommand {
    /// The name without the slash.
    pub fn name(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Model => "model",
            Self::Approval => "approval",
            Self::New => "new",
            Self::Clear => "clear",
            Self::Resume => "resume",
            Self::Fork => "fork",
            Self::Rename => "rename",
            Self::Goal => "goal",
            Self::Status => "status",
            Self::Mcp => "mcp",
            Self::Skills => "skills",
            Self::Diff => "diff",
            Self::Init => "init",
            Self::Review => "review",
            Self::Compact => "compact",
            Self::Copy => "copy",
            Self::Logout => "logout",
            Self::Help => "help",
            Self::Quit => "quit",
        }
    }

    /// What it does, in a few words.
    pub fn description(self) -> &'static str {
        match self {
            Self::Connect => "sign in: ChatGPT (browser or device code) or an API key",
            Self::Model => "choose the model and its reasoning effort",
            Self::Approval => "what runs unasked, this folder's trust (/permissions)",
            Self::New => "start a new conversation",
            Self::Clear => "clear the screen and start a new conversation",
            Self::Resume => "continue a saved conversation of this project",
            Self::Fork => "go on in a copy of this conversation; the original stays",
            Self::Rename => "name this conversation (/rename NAME) for the lists",
            Self::Goal => "work toward an objective turn after turn (/goal TEXT [50k])",
            Self::Status => "login, model, tokens, limits and AGENTS.md files",
            Self::Mcp => "MCP servers: where each is, and its tools",
            Self::Skills => "the skills the model is told of (SKILL.md folders)",
            Self::Diff => "what the conversation changed (git diff, or its patches)",
            Self::Init => "have the model write an AGENTS.md for this project",
            Self::Review => "review changes, read-only: commit SHA, base BRANCH or words",
            Self::Compact => "summarise the conversation to free the context window",
            Self::Copy => "copy the last answer (/copy code: its last code block)",
            Self::Logout => "remove the login",
            Self::Help => "keys and commands",
            Self::Quit => "leave kelp (/exit too)",
        }
    }

    /// The name Codex gives the command, where it differs: what its users type.
    pub fn codex_name(self) -> Option<&'static str> {
        match self {
            Self::Quit => Some("exit"),
            Self::Approval => Some("permissions"),
            _ => None,
        }
    }

    /// The command named exactly by `text` (`/model`, with surrounding spaces allowed), by
    /// its name or Codex's.
    pub fn parse(text: &str) -> Option<Self> {
        let name = text.trim().strip_prefix('/')?;
        ALL.into_iter()
            .find(|c| c.name() == name || c.codex_name() == Some(name))
    }

    /// Whether the command reads what follows its name (`/copy code`, `/compact FOCUS`).
    pub fn takes_argument(self) -> bool {
        matches!(
            self,
            Self::Copy | Self::Compact | Self::Rename | Self::Review | Self::Goal
        )
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
        ALL.into_iter()
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
