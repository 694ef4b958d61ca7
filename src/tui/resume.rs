//! Resuming a saved conversation: the `/resume` picker's rows, and how a turn that ended early
//! is told (live and reopened alike).

use std::time::SystemTime;

use chrono::{DateTime, Local, Utc};

use unicode_width::UnicodeWidthStr;

use super::bottom_pane::picker::PickerItem;
use super::history_cell::CellKind;
use super::wrap::cut;
use crate::protocol::{SessionSummary, TurnEnd};

/// Columns of the first prompt a picker row shows.
const PROMPT_COLUMNS: usize = 56;

/// Columns of the title of the conversation a fork came from.
const FORK_TITLE_COLUMNS: usize = 24;

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

/// The picker rows for saved conversations: the first prompt, then how long ago it was last
/// active (newest first, as the core sends them).
pub fn session_items(sessions: &[SessionSummary], now: SystemTime) -> Vec<PickerItem> {
    sessions
        .iter()
        .map(|session| {
            let prompt = session
                .title()
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .unwrap_or("(no prompt)");
            // A fork (a side conversation) says which conversation it came from: by its
            // title when that one is listed too, else by its id's start; the prompt gives it
            // the room.
            let kind = if session.side_of.is_some() {
                "side of"
            } else {
                "fork of"
            };
            let fork_note = session.forked_from.map(|origin| {
                let title = sessions
                    .iter()
                    .find(|listed| listed.id == origin)
                    .and_then(SessionSummary::title)
                    .map(|title| format!("“{}”", cut(title.trim(), FORK_TITLE_COLUMNS)))
                    .unwrap_or_else(|| origin.to_string()[..8].to_string());
                format!("({kind} {title})")
            });
            let label = match &fork_note {
                Some(note) => {
                    let room = PROMPT_COLUMNS.saturating_sub(note.width() + 1);
                    format!("{} {note}", cut(prompt, room))
                }
                None => cut(prompt, PROMPT_COLUMNS),
            };
            PickerItem {
                label,
                detail: format!("{} · {}", age(last_active(session), now), session.model),
                current: false,
            }
        })
        .collect()
}

/// Each conversation's last exchange, for the picker to show under the selected one: the last
/// prompt and the first line of its answer, on one line each.
pub fn session_previews(sessions: &[SessionSummary]) -> Vec<Vec<String>> {
    // `last_exchange` keeps first lines only; what they hold is the model's and the person's.
    let first_line = |text: &str| crate::terminal_text::printable(text).into_owned();
    sessions
        .iter()
        .map(|session| match &session.last_exchange {
            Some(exchange) => {
                let mut lines = vec![format!("last asked: {}", first_line(&exchange.prompt))];
                if let Some(answer) = &exchange.answer {
                    lines.push(format!("answered:   {}", first_line(answer)));
                }
                lines
            }
            None => Vec::new(),
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
    use std::time::Duration;

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
