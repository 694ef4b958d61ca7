//! Slash commands in an editor: the ones that make sense beside an editor's own UI, offered
//! with `available_commands_update` and run when a prompt starts with one, by the core as the
//! TUI runs them.

use agent_client_protocol_schema::v1::{
    AvailableCommand, AvailableCommandInput, AvailableCommandsUpdate, ContentBlock, ContentChunk,
    MessageId, SessionUpdate, TextContent, UnstructuredCommandInput,
};

/// The commands: name, what it does, and the hint for what may follow it.
const COMMANDS: [(&str, &str, Option<&str>); 8] = [
    (
        "compact",
        "Summarise the conversation so far to free the context window",
        Some("what the summary should keep"),
    ),
    ("init", "Write an AGENTS.md for this project", None),
    (
        "review",
        "Review the current changes read-only, and report findings with file and line",
        Some("commit SHA, base BRANCH, or what to look at instead (optional)"),
    ),
    ("diff", "Show what changed in the project (git diff)", None),
    (
        "goal",
        "Work toward an objective turn after turn, until it is met or its budget is spent",
        Some("OBJECTIVE [BUDGET such as 50k], or pause, resume, clear"),
    ),
    ("status", "The login, model, effort and mode", None),
    ("mcp", "The MCP servers and their tools", None),
    ("logout", "Sign kelp out", None),
];

/// A command a prompt starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slash {
    Compact(Option<String>),
    Init,
    /// A review turn: of the uncommitted changes, or of what the words say (see
    /// [`crate::protocol::ReviewTarget::parse`]).
    Review(Option<String>),
    Diff,
    /// `/goal` and what follows it.
    Goal(String),
    Status,
    Mcp,
    Logout,
}

/// The commands, as the update that offers them.
pub fn offered() -> SessionUpdate {
    let commands = COMMANDS
        .iter()
        .map(|(name, description, hint)| {
            let command = AvailableCommand::new(*name, *description);
            match hint {
                Some(hint) => command.input(AvailableCommandInput::Unstructured(
                    UnstructuredCommandInput::new(*hint),
                )),
                None => command,
            }
        })
        .collect();
    SessionUpdate::AvailableCommandsUpdate(AvailableCommandsUpdate::new(commands))
}

/// The command `text` starts with, if it is one of kelp's (anything else is a prompt).
pub fn parse(text: &str) -> Option<Slash> {
    let rest = text.trim_start().strip_prefix('/')?;
    let (name, argument) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let argument = argument.trim();
    Some(match name {
        "compact" => Slash::Compact((!argument.is_empty()).then(|| argument.to_string())),
        "init" => Slash::Init,
        "review" => Slash::Review((!argument.is_empty()).then(|| argument.to_string())),
        "diff" => Slash::Diff,
        "goal" => Slash::Goal(argument.to_string()),
        "status" => Slash::Status,
        "mcp" => Slash::Mcp,
        "logout" => Slash::Logout,
        _ => return None,
    })
}

/// `text` as a message of its own the editor shows: never run on with the answer before it.
pub fn said(text: String) -> SessionUpdate {
    SessionUpdate::AgentMessageChunk(
        ContentChunk::new(ContentBlock::Text(TextContent::new(text)))
            .message_id(Some(MessageId::new(uuid::Uuid::new_v4().to_string()))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prompt_is_a_command_only_when_it_starts_with_one_of_kelps() {
        assert_eq!(parse("/compact"), Some(Slash::Compact(None)));
        assert_eq!(
            parse(" /compact  the API design "),
            Some(Slash::Compact(Some("the API design".into())))
        );
        assert_eq!(parse("/diff"), Some(Slash::Diff));
        assert_eq!(
            parse("/goal ship it 50k"),
            Some(Slash::Goal("ship it 50k".into()))
        );
        assert_eq!(parse("/usr/bin is on the PATH"), None);
        assert_eq!(parse("fix /init"), None);
    }
}
