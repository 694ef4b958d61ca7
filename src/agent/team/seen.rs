//! What the command center shows of each agent of the team, noted from its events as they
//! pass: whether it waits on the person, the last line it wrote or the tool it runs, the tokens
//! it took, and since when it stands as it does.

use std::path::PathBuf;
use std::time::SystemTime;

use crate::protocol::{AgentRow, AgentState, ApprovalSubject, Event};

/// The longest last line kept, in characters.
const LAST_LINE_CHARS: usize = 200;

/// An agent as the command center sees it.
#[derive(Debug, Clone)]
pub(super) struct Seen {
    /// Approvals and questions it asked that wait for an answer.
    asking: usize,
    last_line: Option<String>,
    tokens: u64,
    since: SystemTime,
    /// Its task's first line.
    title: String,
    project: PathBuf,
}

impl Seen {
    pub(super) fn new(task: &str, project: PathBuf) -> Self {
        Self {
            asking: 0,
            last_line: None,
            tokens: 0,
            since: SystemTime::now(),
            title: first_line(task).unwrap_or_default(),
            project,
        }
    }

    /// Whether `event` changes what is seen: only those take the roster's lock.
    pub(super) fn notes(event: &Event) -> bool {
        matches!(
            event,
            Event::TurnStarted { .. }
                | Event::TurnFinished(_)
                | Event::MessageDone { .. }
                | Event::ToolStarted { .. }
                | Event::Usage(_)
                | Event::ApprovalRequested { .. }
                | Event::QuestionsAsked { .. }
                | Event::ApprovalAnswered { .. }
        )
    }

    pub(super) fn note(&mut self, event: &Event) {
        match event {
            Event::TurnStarted { .. } | Event::TurnFinished(_) => {
                self.since = SystemTime::now();
                self.asking = 0;
            }
            Event::MessageDone { text, .. } => {
                if let Some(line) = last_line(text) {
                    self.last_line = Some(line);
                }
            }
            Event::ToolStarted { summary, .. } => {
                self.last_line = first_line(summary).map(|line| format!("• {line}"));
            }
            Event::Usage(usage) => self.tokens = usage.total_tokens,
            Event::ApprovalRequested { subject, .. } => {
                self.asking += 1;
                self.last_line = Some(match subject {
                    ApprovalSubject::Command { command, .. } => first_line(command).map_or_else(
                        || "asks to run a command".into(),
                        |c| format!("asks to run: {c}"),
                    ),
                    ApprovalSubject::Patch { .. } => "asks to apply a patch".to_string(),
                    _ => "asks you".to_string(),
                });
            }
            Event::QuestionsAsked { .. } => {
                self.asking += 1;
                self.last_line = Some("asks you a question".to_string());
            }
            Event::ApprovalAnswered { .. } => self.asking = self.asking.saturating_sub(1),
            _ => {}
        }
    }

    /// Its row, given its path, its conversation and whether a turn of it runs.
    pub(super) fn row(&self, path: &str, conversation: &str, working: bool) -> AgentRow {
        let state = if self.asking > 0 {
            AgentState::NeedsYou
        } else if working {
            AgentState::Working
        } else {
            AgentState::Ready
        };
        AgentRow {
            conversation: conversation.to_string(),
            path: Some(path.to_string()),
            title: self.title.clone(),
            project: self.project.clone(),
            state,
            last_line: self.last_line.clone(),
            tokens: self.tokens,
            since: Some(self.since),
            file: None,
            on_server: false,
        }
    }
}

impl super::Team {
    /// Notes `event` of the agent at `path` for the command center.
    pub(super) fn note(&self, path: &str, event: &Event) {
        if !Seen::notes(event) {
            return;
        }
        if let Some(seen) = self
            .roster()
            .iter_mut()
            .find(|m| m.path == path)
            .and_then(|m| m.seen.as_mut())
        {
            seen.note(event);
        }
    }
}

impl super::Seat {
    /// The command center's rows of the agents this team spawned, in the order they started;
    /// an agent that was closed is left out.
    pub fn rows(&self) -> Vec<crate::protocol::AgentRow> {
        self.team
            .roster()
            .iter()
            .filter(|m| m.status != super::Status::Shutdown)
            .filter_map(|m| {
                let working = !m.status.is_final();
                m.seen
                    .as_ref()
                    .map(|seen| seen.row(&m.path, &m.id, working))
            })
            .collect()
    }
}

fn first_line(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(|line| line.chars().take(LAST_LINE_CHARS).collect())
}

fn last_line(text: &str) -> Option<String> {
    crate::protocol::last_words(text).map(|line| line.chars().take(LAST_LINE_CHARS).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::TokenUsage;

    #[test]
    fn an_agent_that_asks_needs_you_until_answered_and_shows_its_last_line() {
        let mut seen = Seen::new("\n  build the site\nthen test it", PathBuf::from("/p"));
        assert_eq!(seen.row("/root/a", "c", true).title, "build the site");
        seen.note(&Event::MessageDone {
            item: "m1".into(),
            text: "Working on it.\n\nFirst the build.\n".into(),
        });
        seen.note(&Event::Usage(TokenUsage {
            total_tokens: 1234,
            ..TokenUsage::default()
        }));
        let asked = Event::ApprovalRequested {
            id: 1,
            call_id: "c1".into(),
            subject: ApprovalSubject::Command {
                command: "make".into(),
                workdir: PathBuf::from("/p"),
                always_prefix: None,
            },
            agent: None,
        };
        assert!(Seen::notes(&asked));
        assert_eq!(
            seen.row("/root/a", "c", true).last_line.as_deref(),
            Some("First the build.")
        );
        seen.note(&asked);
        let row = seen.row("/root/a", "c", true);
        assert_eq!(row.state, AgentState::NeedsYou);
        assert_eq!(row.last_line.as_deref(), Some("asks to run: make"));
        assert_eq!(row.tokens, 1234);
        seen.note(&Event::ApprovalAnswered {
            id: 1,
            call_id: "c1".into(),
            decision: None,
        });
        assert_eq!(seen.row("/root/a", "c", true).state, AgentState::Working);
        assert_eq!(seen.row("/root/a", "c", false).state, AgentState::Ready);
        assert!(!Seen::notes(&Event::TextDelta {
            item: "m1".into(),
            delta: "x".into()
        }));
    }
}
