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

/// An item of the window title (`/title`, Codex's `[tui] terminal_title`): the status line's
/// items and a few of the title's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TitleItem {
    /// "kelp".
    AppName,
    /// A spinner while a turn works, "[ ! ] Action Required" while it waits for the person.
    Activity,
    /// Ready, Working or Waiting.
    RunState,
    /// kelp's version.
    Version,
    /// "fast" while `/fast` is on.
    FastMode,
    /// The plan's steps done, of all (`2/5`).
    TaskProgress,
    /// What the status line shows for the same item.
    Shared(StatusItem),
}

impl TitleItem {
    /// Every item, in the order `/title` offers them (Codex's).
    pub const ALL: [TitleItem; 21] = [
        Self::AppName,
        Self::Shared(StatusItem::ProjectName),
        Self::Shared(StatusItem::CurrentDir),
        Self::Activity,
        Self::RunState,
        Self::Shared(StatusItem::ThreadTitle),
        Self::Shared(StatusItem::GitBranch),
        Self::Shared(StatusItem::ContextRemaining),
        Self::Shared(StatusItem::ContextUsed),
        Self::Shared(StatusItem::FiveHourLimit),
        Self::Shared(StatusItem::WeeklyLimit),
        Self::Version,
        Self::Shared(StatusItem::UsedTokens),
        Self::Shared(StatusItem::TotalInputTokens),
        Self::Shared(StatusItem::TotalOutputTokens),
        Self::Shared(StatusItem::ThreadId),
        Self::FastMode,
        Self::Shared(StatusItem::Model),
        Self::Shared(StatusItem::ModelWithReasoning),
        Self::Shared(StatusItem::Reasoning),
        Self::TaskProgress,
    ];

    /// Its name in the config, Codex's.
    pub fn name(self) -> &'static str {
        match self {
            Self::AppName => "app-name",
            Self::Activity => "activity",
            Self::RunState => "run-state",
            Self::Version => "codex-version",
            Self::FastMode => "fast-mode",
            Self::TaskProgress => "task-progress",
            Self::Shared(item) => item.name(),
        }
    }

    /// What it shows, as `/title` says it.
    pub fn about(self) -> &'static str {
        match self {
            Self::AppName => "kelp's name",
            Self::Activity => "a spinner at work, a call when you are needed",
            Self::RunState => "Ready, Working or Waiting",
            Self::Version => "kelp's version",
            Self::FastMode => "whether fast mode is on",
            Self::TaskProgress => "the plan's steps done",
            Self::Shared(item) => item.about(),
        }
    }

    /// The item named `name` (Codex's names and the other spellings it reads).
    pub fn named(name: &str) -> Option<Self> {
        let name = name.trim().to_ascii_lowercase().replace('_', "-");
        match name.as_str() {
            "spinner" => Some(Self::Activity),
            "status" => Some(Self::RunState),
            "thread" => Some(Self::Shared(StatusItem::ThreadTitle)),
            "kelp-version" | "version" => Some(Self::Version),
            _ => Self::ALL
                .into_iter()
                .find(|item| item.name() == name)
                .or_else(|| StatusItem::named(&name).map(Self::Shared)),
        }
    }
}

/// Reads `status_line` (or Claude Code's `statusLine`): a list of items, or a command as a
/// string or a `{ type = "command", command = "…" }` table. The error says what it must be.
pub fn parse(item: &Item) -> Result<StatusLine, String> {
    const MUST: &str = "must be a list of items ([\"model-with-reasoning\", \"current-dir\"]) or \
                        a command ({ type = \"command\", command = \"…\" })";
    if let Some(list) = item.as_array() {
        return items(list.iter().map(|value| value.as_str())).map(StatusLine::Items);
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

/// The status line's items named in a list, each once, in order.
pub fn items<'a>(names: impl Iterator<Item = Option<&'a str>>) -> Result<Vec<StatusItem>, String> {
    picked(names, StatusItem::named, || {
        StatusItem::ALL.iter().map(|item| item.name()).collect()
    })
}

/// The window title's items named in a list, each once, in order.
pub fn title_items<'a>(
    names: impl Iterator<Item = Option<&'a str>>,
) -> Result<Vec<TitleItem>, String> {
    picked(names, TitleItem::named, || {
        TitleItem::ALL.iter().map(|item| item.name()).collect()
    })
}

fn picked<'a, T: PartialEq>(
    names: impl Iterator<Item = Option<&'a str>>,
    named: impl Fn(&str) -> Option<T>,
    known: impl Fn() -> Vec<&'static str>,
) -> Result<Vec<T>, String> {
    let mut picked = Vec::new();
    for name in names {
        let name = name.ok_or("its items must be names in quotes")?;
        let item =
            named(name).ok_or_else(|| format!("{name:?} is no item: {}", known().join(", ")))?;
        if !picked.contains(&item) {
            picked.push(item);
        }
    }
    Ok(picked)
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
    }
}
