//! Resuming a saved conversation: the `/resume` picker's rows, and the transcript rebuilt from
//! the conversation's history items.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Local, Utc};

use super::bottom_pane::picker::PickerItem;
use super::history_cell::{CellKind, ToolCall, ToolEnd};
use super::streaming::StreamingMarkdown;
use super::wrap::cut;
use crate::agent::protocol::Attachment;
use crate::agent::tools::ToolCall as ParsedCall;
use crate::llm::types::{Item, Role};
use crate::session::{Note, SessionSummary, TurnEnd};

/// Columns of the first prompt a picker row shows.
const PROMPT_COLUMNS: usize = 56;
/// Columns of unparseable tool arguments a restored tool cell shows.
const ARGUMENT_COLUMNS: usize = 80;

/// The cells that show `items`, in order: prompts, answers, reasoning and tool calls with their
/// output. The instructions message and developer or system messages are not shown.
pub fn cells_from_history(items: &[Item], notes: &[(usize, Note)]) -> Vec<CellKind> {
    let outputs: HashMap<&str, &str> = items
        .iter()
        .filter_map(|item| match item {
            Item::FunctionCallOutput { call_id, output } => {
                Some((call_id.as_str(), output.as_str()))
            }
            _ => None,
        })
        .collect();
    let mut cells = Vec::new();
    let mut notes = notes.iter().peekable();
    for (index, item) in items.iter().enumerate() {
        while let Some((_, note)) = notes.next_if(|(at, _)| *at <= index) {
            note_cell(note, &mut cells);
        }
        match item {
            Item::Message {
                role: Role::User, ..
            } if !item.is_instructions_message() => {
                cells.push(CellKind::User(item.typed_text()));
                let attached: Vec<Attachment> = item
                    .attached_paths()
                    .into_iter()
                    .map(|path| Attachment {
                        path: path.to_string(),
                        attached: true,
                        detail: String::new(),
                    })
                    .collect();
                if !attached.is_empty() {
                    cells.push(CellKind::Attached(attached));
                }
            }
            Item::Message {
                role: Role::Assistant,
                ..
            } => {
                let text = item.text();
                if !text.trim().is_empty() {
                    cells.push(CellKind::Assistant(StreamingMarkdown::finished(text)));
                }
            }
            Item::Message { .. } => {}
            Item::Reasoning { summary, .. } => {
                let text = summary
                    .iter()
                    .map(|part| part.text.trim())
                    .filter(|text| !text.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n\n");
                if !text.is_empty() {
                    cells.push(CellKind::Reasoning(text));
                }
            }
            Item::FunctionCall {
                name,
                arguments,
                call_id,
            } => cells.push(CellKind::Tool(restored_call(
                name,
                arguments,
                call_id,
                outputs.get(call_id.as_str()).copied(),
            ))),
            Item::FunctionCallOutput { .. } => {}
        }
    }
    for (_, note) in notes {
        note_cell(note, &mut cells);
    }
    cells
}

/// The cell a note shows as, if any: how an unfinished turn ended, as it showed live.
fn note_cell(note: &Note, cells: &mut Vec<CellKind>) {
    match note {
        Note::TurnEnded { how, message } => {
            let partial = matches!(cells.last(), Some(CellKind::Assistant(_)));
            cells.push(ended_early(*how, message.as_deref(), partial));
        }
        Note::Compacted { .. } => cells.push(CellKind::Notice(
            "Compacted here: the model went on from a summary of what is above.".to_string(),
        )),
        Note::Usage { .. } => {}
    }
}

/// The line that says a turn ended before the model finished; `partial` when an answer above
/// it was cut short, so nobody takes it for the whole one.
pub fn ended_early(how: TurnEnd, message: Option<&str>, partial: bool) -> CellKind {
    let cut = if partial {
        " — the answer above is incomplete"
    } else {
        ""
    };
    match (how, message) {
        (TurnEnd::Interrupted, _) | (_, None) => CellKind::Notice(format!("Interrupted{cut}.")),
        (TurnEnd::Stopped | TurnEnd::Failed, Some(message)) => {
            CellKind::Error(format!("{}{cut}", message.trim_end_matches('.')))
        }
    }
}

fn restored_call(name: &str, arguments: &str, call_id: &str, output: Option<&str>) -> ToolCall {
    let summary = ParsedCall::parse(name, arguments)
        .map(|call| call.arguments_summary())
        .unwrap_or_else(|_| {
            cut(
                &arguments.split_whitespace().collect::<Vec<_>>().join(" "),
                ARGUMENT_COLUMNS,
            )
        });
    let (output, finished) = match output {
        None => (
            "(no result was saved)".to_string(),
            ToolEnd {
                success: false,
                exit_code: None,
                interrupted: false,
                duration: None,
            },
        ),
        Some(text) if name == "shell" => match parse_shell_result(text) {
            Some(shell) => (
                shell.output.to_string(),
                ToolEnd {
                    success: shell.exit_code == Some(0),
                    exit_code: shell.exit_code,
                    interrupted: false,
                    duration: shell.duration,
                },
            ),
            None => (text.to_string(), done()),
        },
        Some(text) => (text.to_string(), done()),
    };
    ToolCall {
        call_id: call_id.to_string(),
        tool: name.to_string(),
        summary,
        output,
        finished: Some(finished),
    }
}

fn done() -> ToolEnd {
    ToolEnd {
        success: true,
        exit_code: None,
        interrupted: false,
        duration: None,
    }
}

/// A `shell` result as the model received it.
#[derive(Debug, PartialEq)]
struct ShellResult<'a> {
    exit_code: Option<i32>,
    duration: Option<Duration>,
    output: &'a str,
}

/// Reads the text `ShellOutcome::to_model_text` writes: status lines, then `Output:` and what
/// the command printed.
fn parse_shell_result(text: &str) -> Option<ShellResult<'_>> {
    let (head, output) = if let Some(rest) = text.strip_prefix("Output:\n") {
        ("", rest)
    } else {
        let at = text.find("\nOutput:\n")?;
        (&text[..at], &text[at + "\nOutput:\n".len()..])
    };
    let mut result = ShellResult {
        exit_code: None,
        duration: None,
        output: if output.trim_end() == "(no output)" {
            ""
        } else {
            output
        },
    };
    for line in head.lines() {
        if let Some(code) = line.strip_prefix("Exit code: ") {
            result.exit_code = code.trim().parse().ok();
        } else if let Some(time) = line
            .strip_prefix("Wall time: ")
            .and_then(|t| t.strip_suffix(" seconds"))
        {
            result.duration = time
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(|s| Duration::try_from_secs_f64(s).ok());
        }
    }
    Some(result)
}

/// The picker rows for saved conversations: the first prompt, then how long ago it was last
/// active (newest first, as the core sends them).
pub fn session_items(sessions: &[SessionSummary], now: SystemTime) -> Vec<PickerItem> {
    sessions
        .iter()
        .map(|session| {
            let prompt = session
                .first_prompt
                .as_deref()
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .unwrap_or("(no prompt)");
            PickerItem {
                label: cut(prompt, PROMPT_COLUMNS),
                detail: format!("{} · {}", age(last_active(session), now), session.model),
                current: false,
            }
        })
        .collect()
}

/// When the conversation was last written to, or else when it started.
pub fn last_active(session: &SessionSummary) -> SystemTime {
    session
        .modified
        .unwrap_or_else(|| SystemTime::from(session.started_at))
}

/// `just now`, `5m ago`, `3h ago`, `2d ago`.
pub fn age(then: SystemTime, now: SystemTime) -> String {
    let secs = now.duration_since(then).unwrap_or_default().as_secs();
    match secs {
        0..60 => "just now".to_string(),
        60..3_600 => format!("{}m ago", secs / 60),
        3_600..86_400 => format!("{}h ago", secs / 3_600),
        _ => format!("{}d ago", secs / 86_400),
    }
}

/// A time as the resume notice shows it: `Mon 3 Mar 14:05` in local time.
pub fn local_time(time: SystemTime) -> String {
    DateTime::<Utc>::from(time)
        .with_timezone(&Local)
        .format("%a %-d %b %H:%M")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::tools::ShellOutcome;
    use crate::llm::types::{Content, ReasoningSummary};

    #[test]
    fn shell_results_are_read_back_from_the_text_the_model_got() {
        let outcome = ShellOutcome {
            exit_code: Some(101),
            signal: None,
            duration: Duration::from_millis(2340),
            timed_out: false,
            cancelled: false,
            killed_leftovers: false,
            output: "test a ... FAILED\n".into(),
            total_bytes: 18,
            sandbox_block: Some("the output mentions a permission error".into()),
        };
        let text = outcome.to_model_text(Duration::from_secs(10));
        assert_eq!(
            parse_shell_result(&text),
            Some(ShellResult {
                exit_code: Some(101),
                duration: Some(Duration::from_millis(2340)),
                output: "test a ... FAILED\n",
            })
        );
        let silent = ShellOutcome {
            output: String::new(),
            exit_code: Some(0),
            ..outcome
        };
        let text = silent.to_model_text(Duration::from_secs(10));
        assert_eq!(parse_shell_result(&text).unwrap().output, "");
        assert_eq!(parse_shell_result("no such shape"), None);
    }

    #[test]
    fn history_becomes_cells_without_the_instructions() {
        let items = vec![
            Item::Message {
                role: Role::User,
                content: vec![Content::InputText {
                    text: "# AGENTS.md instructions for /p\n\nbe brief".into(),
                }],
            },
            Item::user_text("list the files"),
            Item::Reasoning {
                summary: vec![ReasoningSummary {
                    kind: "summary_text".into(),
                    text: "Listing.".into(),
                }],
                encrypted_content: Some("x".into()),
            },
            Item::FunctionCall {
                name: "list_dir".into(),
                arguments: r#"{"path":"."}"#.into(),
                call_id: "c1".into(),
            },
            Item::FunctionCall {
                name: "shell".into(),
                arguments: "{not json".into(),
                call_id: "c2".into(),
            },
            Item::FunctionCallOutput {
                call_id: "c1".into(),
                output: "src/\nCargo.toml\n".into(),
            },
            Item::assistant_text("Two entries."),
        ];
        let cells = cells_from_history(&items, &[]);
        let kinds: Vec<String> = cells
            .iter()
            .map(|c| match c {
                CellKind::User(t) => format!("user {t}"),
                CellKind::Reasoning(t) => format!("reasoning {t}"),
                CellKind::Tool(call) => format!(
                    "tool {} {} {:?} {}",
                    call.tool,
                    call.summary,
                    call.output,
                    call.finished.is_some_and(|e| e.success)
                ),
                CellKind::Assistant(md) => format!("assistant {}", md.source()),
                _ => "other".into(),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "user list the files",
                "reasoning Listing.",
                "tool list_dir . \"src/\\nCargo.toml\\n\" true",
                "tool shell {not json \"(no result was saved)\" false",
                "assistant Two entries.",
            ]
        );
    }

    #[test]
    fn ages_and_cut_prompts() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let ago = |s| age(now - Duration::from_secs(s), now);
        assert_eq!(ago(5), "just now");
        assert_eq!(ago(5 * 60), "5m ago");
        assert_eq!(ago(3 * 3600 + 10), "3h ago");
        assert_eq!(ago(2 * 86_400), "2d ago");
        assert_eq!(cut("short", 10), "short");
        assert_eq!(cut("exactly10!", 10), "exactly10!");
        assert_eq!(cut("a longer prompt", 10), "a longer …");
    }
}
