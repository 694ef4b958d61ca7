//! Slash commands and the completion list shown while one is typed.

use super::picker::PickerItem;

/// A command the composer understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlashCommand {
    Connect,
    Model,
    Approval,
    New,
    Resume,
    Fork,
    Rename,
    Status,
    Mcp,
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
pub const ALL: [SlashCommand; 17] = [
    SlashCommand::Connect,
    SlashCommand::Model,
    SlashCommand::Approval,
    SlashCommand::New,
    SlashCommand::Resume,
    SlashCommand::Fork,
    SlashCommand::Rename,
    SlashCommand::Status,
    SlashCommand::Mcp,
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
            Self::Resume => "resume",
            Self::Fork => "fork",
            Self::Rename => "rename",
            Self::Status => "status",
            Self::Mcp => "mcp",
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
            Self::Approval => "choose what may run without asking; forget a kept prefix",
            Self::New => "start a new conversation",
            Self::Resume => "continue a saved conversation of this project",
            Self::Fork => "go on in a copy of this conversation; the original stays",
            Self::Rename => "name this conversation (/rename NAME) for the lists",
            Self::Status => "login, model, tokens, limits and AGENTS.md files",
            Self::Mcp => "MCP servers: where each is, and its tools",
            Self::Diff => "what the conversation changed (git diff, or its patches)",
            Self::Init => "have the model write an AGENTS.md for this project",
            Self::Review => "review the current changes (/review WHAT: what to look at)",
            Self::Compact => "summarise the conversation to free the context window",
            Self::Copy => "copy the last answer (/copy code: its last code block)",
            Self::Logout => "remove the login",
            Self::Help => "keys and commands",
            Self::Quit => "leave kelp (/exit too)",
        }
    }

    /// The command named exactly by `text` (`/model`, with surrounding spaces allowed).
    pub fn parse(text: &str) -> Option<Self> {
        let name = text.trim().strip_prefix('/')?;
        // Codex's name for leaving, which its users type.
        if name == "exit" {
            return Some(Self::Quit);
        }
        ALL.into_iter().find(|c| c.name() == name)
    }

    /// Whether the command reads what follows its name (`/copy code`, `/compact FOCUS`).
    pub fn takes_argument(self) -> bool {
        matches!(
            self,
            Self::Copy | Self::Compact | Self::Rename | Self::Review
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

/// The commands matching what is typed, when it looks like the start of a command.
pub fn completions(text: &str) -> Option<Vec<SlashCommand>> {
    let typed = text.strip_prefix('/')?;
    if typed.contains(char::is_whitespace) {
        return None;
    }
    Some(
        ALL.into_iter()
            .filter(|c| c.name().starts_with(typed))
            .collect(),
    )
}

/// Popup rows for `commands`.
pub fn items(commands: &[SlashCommand]) -> Vec<PickerItem> {
    commands
        .iter()
        .map(|c| PickerItem {
            label: format!("/{}", c.name()),
            detail: c.description().to_string(),
            current: false,
        })
        .collect()
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
