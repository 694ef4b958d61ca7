//! What the client's status line shows: kelp's own line, the items the person picked (Codex's
//! `[tui] status_line = ["model-with-reasoning", "current-dir", …]`, `/statusline`), or the
//! first line a command of theirs prints (Claude Code's `statusLine = { type = "command",
//! command = "…" }`, which ccstatusline and its kind are written for).

use toml_edit::Item;

/// The status line the person chose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StatusLine {
    /// kelp's own: the login, the model, the folder; tokens and limits on the right.
    #[default]
    Builtin,
    /// These items, in this order.
    Items(Vec<StatusItem>),
    /// What this shell command prints, given Claude Code's JSON on stdin.
    Command(String),
}

/// An item of the status line, named as Codex names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    Model,
    ModelWithReasoning,
    Reasoning,
    CurrentDir,
    ProjectName,
    GitBranch,
    ThreadTitle,
    ThreadId,
    ApprovalMode,
    ContextRemaining,
    ContextUsed,
    FiveHourLimit,
    WeeklyLimit,
    UsedTokens,
    TotalInputTokens,
    TotalOutputTokens,
}

impl StatusItem {
    /// Every item, in the order `/statusline` offers them.
    pub const ALL: [StatusItem; 16] = [
        Self::ModelWithReasoning,
        Self::Model,
        Self::Reasoning,
        Self::CurrentDir,
        Self::ProjectName,
        Self::ThreadTitle,
        Self::GitBranch,
        Self::FiveHourLimit,
        Self::WeeklyLimit,
        Self::UsedTokens,
        Self::TotalInputTokens,
        Self::TotalOutputTokens,
        Self::ContextRemaining,
        Self::ContextUsed,
        Self::ApprovalMode,
        Self::ThreadId,
    ];

    /// Its name in the config, Codex's.
    pub fn name(self) -> &'static str {
        match self {
            Self::Model => "model",
            Self::ModelWithReasoning => "model-with-reasoning",
            Self::Reasoning => "reasoning",
            Self::CurrentDir => "current-dir",
            Self::ProjectName => "project-name",
            Self::GitBranch => "git-branch",
            Self::ThreadTitle => "thread-title",
            Self::ThreadId => "thread-id",
            Self::ApprovalMode => "approval-mode",
            Self::ContextRemaining => "context-remaining",
            Self::ContextUsed => "context-used",
            Self::FiveHourLimit => "five-hour-limit",
            Self::WeeklyLimit => "weekly-limit",
            Self::UsedTokens => "used-tokens",
            Self::TotalInputTokens => "total-input-tokens",
            Self::TotalOutputTokens => "total-output-tokens",
        }
    }

    /// What it shows, as `/statusline` says it.
    pub fn about(self) -> &'static str {
        match self {
            Self::Model => "the model",
            Self::ModelWithReasoning => "the model with its reasoning effort",
            Self::Reasoning => "the reasoning effort",
            Self::CurrentDir => "the folder",
            Self::ProjectName => "the project's name",
            Self::GitBranch => "the git branch",
            Self::ThreadTitle => "the conversation's name",
            Self::ThreadId => "the conversation's id",
            Self::ApprovalMode => "what runs without asking",
            Self::ContextRemaining => "context left",
            Self::ContextUsed => "context used",
            Self::FiveHourLimit => "the 5-hour limit used",
            Self::WeeklyLimit => "the weekly limit used",
            Self::UsedTokens => "tokens used",
            Self::TotalInputTokens => "input tokens",
            Self::TotalOutputTokens => "output tokens",
        }
    }

    /// The item named `name` (Codex's names and the other spellings it reads).
    pub fn named(name: &str) -> Option<Self> {
        let name = name.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL
            .into_iter()
            .find(|item| item.name() == name)
            .or(match name.as_str() {
                "model-name" => Some(Self::Model),
                "project" | "project-root" => Some(Self::ProjectName),
                "session-id" => Some(Self::ThreadId),
                "approval" => Some(Self::ApprovalMode),
                "context-usage" => Some(Self::ContextUsed),
                _ => None,
            })
    }
}

/// Reads `status_line` (or Claude Code's `statusLine`): a list of items, or a command as a
/// string or a `{ type = "command", command = "…" }` table. The error says what it must be.
pub fn parse(item: &Item) -> Result<StatusLine, String> {
    const MUST: &str = "must be a list of items ([\"model-with-reasoning\", \"current-dir\"]) or \
                        a command ({ type = \"command\", command = \"…\" })";
    if let Some(list) = item.as_array() {
        return items(list.iter().map(|value| value.as_str()));
    }
    if let Some(table) = item.as_table_like() {
        if let Some(kind) = table.get("type").and_then(Item::as_str)
            && kind != "command"
        {
            return Err(format!("type {kind:?}: only \"command\" is known"));
        }
        return match table.get("command").and_then(Item::as_str).map(str::trim) {
            Some(command) if !command.is_empty() => Ok(StatusLine::Command(command.to_string())),
            _ => Err(MUST.to_string()),
        };
    }
    match item.as_str().map(str::trim) {
        Some(command) if !command.is_empty() => Ok(StatusLine::Command(command.to_string())),
        _ => Err(MUST.to_string()),
    }
}

/// Codex's `[tui]` table: its `status_line` list, when it has one.
pub fn from_tui(item: &Item) -> Option<Result<StatusLine, String>> {
    let Some(table) = item.as_table_like() else {
        return Some(Err(
            "must be a table: [tui] status_line = [\"current-dir\"]".to_string(),
        ));
    };
    let list = table.get("status_line")?;
    Some(match list.as_array() {
        Some(list) => items(list.iter().map(|value| value.as_str())),
        None => Err("[tui] status_line must be a list of items".to_string()),
    })
}

fn items<'a>(names: impl Iterator<Item = Option<&'a str>>) -> Result<StatusLine, String> {
    let mut picked = Vec::new();
    for name in names {
        let name = name.ok_or("its items must be names in quotes")?;
        let item = StatusItem::named(name).ok_or_else(|| {
            let known: Vec<&str> = StatusItem::ALL.iter().map(|item| item.name()).collect();
            format!("{name:?} is no item: {}", known.join(", "))
        })?;
        if !picked.contains(&item) {
            picked.push(item);
        }
    }
    Ok(StatusLine::Items(picked))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<StatusLine, String> {
        let doc: toml_edit::DocumentMut = text.parse().unwrap();
        parse(doc.get("status_line").unwrap())
    }

    /// Items by Codex's names and spellings, a command as Claude Code writes it or as a string,
    /// and what is neither refused in words.
    #[test]
    fn items_and_commands_are_read_as_codex_and_claude_code_write_them() {
        assert_eq!(
            read("status_line = [\"model-with-reasoning\", \"project-root\", \"git_branch\"]"),
            Ok(StatusLine::Items(vec![
                StatusItem::ModelWithReasoning,
                StatusItem::ProjectName,
                StatusItem::GitBranch
            ]))
        );
        assert_eq!(
            read("status_line = { type = \"command\", command = \"npx -y ccstatusline@latest\" }"),
            Ok(StatusLine::Command("npx -y ccstatusline@latest".into()))
        );
        assert_eq!(
            read("status_line = \"~/bin/line.sh\""),
            Ok(StatusLine::Command("~/bin/line.sh".into()))
        );
        assert!(
            read("status_line = [\"weather\"]")
                .unwrap_err()
                .contains("no item")
        );
        assert!(read("status_line = { type = \"static\", command = \"x\" }").is_err());
        assert!(read("status_line = 3").is_err());
        let doc: toml_edit::DocumentMut =
            "[tui]\nstatus_line = [\"current-dir\"]\n".parse().unwrap();
        assert_eq!(
            from_tui(doc.get("tui").unwrap()),
            Some(Ok(StatusLine::Items(vec![StatusItem::CurrentDir])))
        );
    }
}
