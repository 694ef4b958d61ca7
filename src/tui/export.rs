//! `/export`: the conversation as Markdown, as the transcript holds it: the prompts, the
//! answers, each command with its output and exit, each patch's diff and the plans (what the
//! screen alone says, notices and errors, stays out). Written to a new file (never over one) or put on the clipboard.

use std::io::Write;
use std::path::Path;

use super::app::App;
use super::bottom_pane::PickerKind;
use super::bottom_pane::picker::{Picker, PickerItem};
use super::call_lines::ToolCall;
use super::commands::Effect;
use super::history_cell::CellKind;

/// The longest run of backticks in `text`, plus one: a fence no line of it can close.
fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat(longest.max(2) + 1)
}

/// `text` in a fenced block of `language`.
fn fenced(language: &str, text: &str) -> String {
    let fence = fence_for(text);
    format!(
        "{fence}{language}\n{}\n{fence}\n\n",
        text.trim_end_matches('\n')
    )
}

/// One tool call: its line, then what it printed or the diff it made, then how it ended.
fn call_markdown(call: &ToolCall) -> String {
    let mut out = String::new();
    if call.changes.is_empty() {
        out.push_str(&format!("**{}** `{}`\n\n", call.tool, call.summary.trim()));
        if !call.output.trim().is_empty() {
            out.push_str(&fenced("text", &call.output));
        }
    } else {
        for change in &call.changes {
            out.push_str(&format!(
                "**{}** `{}` (+{} −{})\n\n",
                change.verb, change.path, change.added, change.removed
            ));
            out.push_str(&fenced("diff", &change.hunks));
        }
    }
    let ended = match &call.finished {
        None => Some("still running when exported".to_string()),
        Some(end) if end.declined => Some("declined".to_string()),
        Some(end) if end.interrupted => Some("interrupted".to_string()),
        Some(end) if !end.success => Some(match end.exit_code {
            Some(code) => format!("failed (exit code {code})"),
            None => "failed".to_string(),
        }),
        Some(_) => None,
    };
    if let Some(ended) = ended {
        out.push_str(&format!("_{ended}_\n\n"));
    }
    out
}

/// The Markdown of one transcript entry; empty for what is only the screen's (a notice).
fn cell_markdown(kind: &CellKind) -> String {
    match kind {
        CellKind::User(text) => format!("## You\n\n{}\n\n", text.trim_end()),
        CellKind::Assistant(md) if !md.source().trim().is_empty() => {
            format!("{}\n\n", md.source().trim_end())
        }
        CellKind::Tool(call) => call_markdown(call),
        CellKind::Plan { explanation, steps } => {
            let mut out = String::from("**Plan**\n\n");
            if let Some(explanation) = explanation {
                out.push_str(&format!("{}\n\n", explanation.trim_end()));
            }
            for step in steps {
                let done = step.status == crate::protocol::PlanStatus::Completed;
                out.push_str(&format!(
                    "- [{}] {}\n",
                    if done { "x" } else { " " },
                    step.step
                ));
            }
            out.push('\n');
            out
        }
        CellKind::Diff { title, diff } => format!("**{title}**\n\n{}", fenced("diff", diff)),
        CellKind::WebSearch(Some(query)) if !query.is_empty() => {
            format!("**web search** `{query}`\n\n")
        }
        _ => String::new(),
    }
}

/// The whole conversation as Markdown, under a title naming it.
pub(super) fn markdown<'a>(title: &str, cells: impl Iterator<Item = &'a CellKind>) -> String {
    let mut out = format!("# {title}\n\n");
    for kind in cells {
        out.push_str(&cell_markdown(kind));
    }
    format!("{}\n", out.trim_end())
}

/// Writes `text` to a new file at `path`: one that is there already is never written over.
pub(super) fn write_new(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

impl App {
    /// The conversation's title: its name, else its first prompt's line, else "kelp".
    fn export_title(&self) -> String {
        self.status
            .thread
            .1
            .clone()
            .or_else(|| {
                self.session
                    .prompts
                    .first()
                    .and_then(|(_, prompt)| crate::session::title_of(prompt))
            })
            .unwrap_or_else(|| "Conversation with kelp".to_string())
    }

    /// The conversation shown, as Markdown.
    fn export_markdown(&self) -> String {
        markdown(
            &self.export_title(),
            self.chat.transcript.cells().map(|cell| cell.kind()),
        )
    }

    /// The file `/export` offers: `kelp-DATE-ID.md` in the project.
    fn export_suggestion(&self) -> String {
        let date = chrono::DateTime::<chrono::Utc>::from(self.now()).format("%Y-%m-%d");
        let id = self
            .session
            .id
            .as_deref()
            .map_or("new", |id| &id[..8.min(id.len())]);
        format!("kelp-{date}-{id}.md")
    }

    /// `/export [FILE|clipboard]`.
    pub(super) fn export(&self, argument: &str) -> Vec<Effect> {
        if !self
            .chat
            .transcript
            .cells()
            .any(|cell| matches!(cell.kind(), CellKind::User(_)))
        {
            return vec![Effect::Error(
                "/export: nothing said yet in this conversation".into(),
            )];
        }
        match argument.trim() {
            "" => {
                let items = vec![
                    PickerItem {
                        label: format!("Save to {}", self.export_suggestion()),
                        detail: "in the project; you name it".to_string(),
                        current: false,
                    },
                    PickerItem {
                        label: "Copy to the clipboard".to_string(),
                        detail: "as Markdown (OSC 52 over SSH)".to_string(),
                        current: false,
                    },
                ];
                vec![Effect::OpenPicker(
                    PickerKind::Export,
                    Picker::new("Export the conversation", items, ""),
                )]
            }
            "clipboard" => vec![Effect::Copy(self.export_markdown(), "conversation")],
            file => self.export_to(file),
        }
    }

    /// `/export`'s choice: the file's name to edit in the composer, or the clipboard.
    pub(super) fn export_picked(&self, index: usize) -> Vec<Effect> {
        match index {
            0 => vec![
                Effect::Draft(format!("/export {}", self.export_suggestion())),
                Effect::Notice("Edit the file's name and press enter.".into()),
            ],
            _ => self.export("clipboard"),
        }
    }

    /// Writes the conversation to `file` (beneath the project when relative).
    fn export_to(&self, file: &str) -> Vec<Effect> {
        let path = super::session_commands::expand_path(file, &self.status.project_dir);
        match write_new(&path, &self.export_markdown()) {
            Ok(()) => vec![Effect::Notice(format!(
                "Exported the conversation to {}.",
                path.display()
            ))],
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                vec![Effect::Error(format!(
                    "/export: {} exists; give another name",
                    path.display()
                ))]
            }
            Err(e) => vec![Effect::Error(format!(
                "/export: cannot write {}: {e}",
                path.display()
            ))],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fence_is_longer_than_any_run_of_backticks_in_what_it_holds() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("a ```rust``` block"), "````");
        let held = "```\nnot the end\n```";
        let block = fenced("text", held);
        assert!(block.starts_with("````text\n"), "{block}");
        assert!(block.ends_with("\n````\n\n"), "{block}");
    }
}
