//! A saved conversation as the events its turns produced live, so every face draws a reopened
//! conversation with the code that drew it live, and none reads the model's wire items.
//!
//! Each turn is named by the id it ran under (or, in a file written before turns had ids, by its
//! place: `turn-N`, the rule of [`TurnSplitter`]). Tool calls are replayed from the facts saved
//! beside them (`kelp_call`); a call saved before those existed has its facts recovered here,
//! and only here, from its arguments and the text the model read.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use crate::llm::types::{Content, Item, Role};

use crate::protocol::ChangeKind;
use crate::protocol::WebSearchAction;
use crate::protocol::{Event, ItemId, ItemKind, PlanStep};
use crate::protocol::{Replay, Replayed, ReplayedTurn, SavedPrompt};
use crate::session::record::CallRecord;
use crate::session::{Note, TurnSplitter};
use crate::tools::{self, FileChange, ToolCall};

/// The most text of the turns a reopened conversation shows again.
pub const SHOWN_BYTES: usize = 1 << 20;
/// The most turns it shows again.
pub const SHOWN_TURNS: usize = 100;

/// The newest turns of `replay` that a face shows again: at most [`SHOWN_TURNS`], and no more
/// than [`SHOWN_BYTES`] of their text (the newest always), so reopening a conversation of any
/// length costs what is shown; the turns left out are counted.
pub fn newest(mut replay: Replay) -> Replay {
    let mut bytes = 0usize;
    let mut kept = 0;
    for turn in replay.turns.iter().rev() {
        bytes += turn.entries.iter().map(entry_bytes).sum::<usize>();
        if kept > 0 && (kept == SHOWN_TURNS || bytes > SHOWN_BYTES) {
            break;
        }
        kept += 1;
    }
    let left_out = replay.turns.len() - kept;
    replay.turns.drain(..left_out);
    replay.turns.shrink_to_fit();
    replay.earlier_turns += left_out;
    replay
}

/// About how much text a replayed step holds.
fn entry_bytes(entry: &Replayed) -> usize {
    match entry {
        Replayed::Prompt(prompt) => prompt.text.len(),
        Replayed::Event(
            Event::MessageDone { text, .. }
            | Event::ReasoningDelta { delta: text, .. }
            | Event::ToolOutput { chunk: text, .. },
        ) => text.len(),
        Replayed::Event(Event::FilesChanged { changes, .. }) => {
            changes.iter().map(|change| change.diff.len()).sum()
        }
        Replayed::Event(_) => 64,
    }
}

/// The newest turns of the conversation saved at `path`, as a face shows them beside the one
/// in hand (the command center's view of another agent).
pub fn shown(path: &Path) -> Result<Replay, crate::session::SessionError> {
    let log = crate::session::SessionLog::load_recent(path, SHOWN_BYTES as u64, SHOWN_TURNS)?;
    Ok(newest(replay_from(
        &log.items,
        log.items_base,
        log.turns_at_base,
        &log.notes,
        &log.header.project_dir,
    )))
}

/// The turns of a saved history (`items`, with kelp's `notes`, each after the items before it)
/// of a conversation in `project_dir`.
pub fn replay(items: &[Item], notes: &[(usize, Note)], project_dir: &Path) -> Replay {
    replay_from(items, 0, TurnSplitter::default(), notes, project_dir)
}

/// [`replay`] of the part of a history that starts after `items_base` items (what a long
/// conversation holds in memory after a compaction), where the turns stand as
/// `turns_at_base` says; the notes count items from the start.
pub fn replay_from(
    items: &[Item],
    items_base: usize,
    turns_at_base: TurnSplitter,
    notes: &[(usize, Note)],
    project_dir: &Path,
) -> Replay {
    let records: HashMap<&str, &CallRecord> = notes
        .iter()
        .filter_map(|(_, note)| match note {
            Note::Call(record) => Some((record.call_id.as_str(), record.as_ref())),
            _ => None,
        })
        .collect();
    let mut state = State {
        replay: Replay {
            earlier_turns: turns_at_base.turns(),
            ..Replay::default()
        },
        splitter: turns_at_base,
        noted: false,
        calls: HashMap::new(),
        records,
        project_dir,
    };
    let mut notes = notes.iter().peekable();
    for (index, item) in items.iter().enumerate() {
        let index = items_base + index;
        while let Some((_, note)) = notes.next_if(|(at, _)| *at <= index) {
            state.note(note);
        }
        state.item(index, item);
    }
    for (_, note) in notes {
        state.note(note);
    }
    state.replay
}

struct State<'a> {
    replay: Replay,
    splitter: TurnSplitter,
    /// Whether the open turn began at a note (its calls have saved facts).
    noted: bool,
    /// The calls waiting for their output: name and arguments.
    calls: HashMap<&'a str, (&'a str, &'a str)>,
    records: HashMap<&'a str, &'a CallRecord>,
    project_dir: &'a Path,
}

impl<'a> State<'a> {
    fn note(&mut self, note: &'a Note) {
        if let Some(id) = self.splitter.on_note(note) {
            self.begin(id, true);
            return;
        }
        match note {
            Note::TurnEnded { how, message } => {
                if let Some(turn) = self.replay.turns.last_mut() {
                    turn.ended = Some((*how, message.clone()));
                }
            }
            Note::Compacted { automatic, .. } => self.event(Event::Compacted {
                before: 0,
                automatic: *automatic,
            }),
            Note::Usage {
                usage,
                context_used,
            } => {
                self.replay.usage = *usage;
                self.replay.context_used = *context_used;
            }
            Note::Agent { activity } => self.event(Event::AgentActivity(activity.clone())),
            Note::Review { review } => self.event(Event::AutoReview {
                review: review.clone(),
                subject: None,
            }),
            Note::TurnStarted { .. } | Note::Call(_) | Note::Rewound { .. } | Note::Goal { .. } => {
            }
        }
    }

    fn begin(&mut self, id: String, noted: bool) {
        self.noted = noted;
        self.replay.turns.push(ReplayedTurn {
            id,
            entries: Vec::new(),
            ended: None,
        });
    }

    /// Adds `event` to the open turn (events before any turn, which only a damaged file holds,
    /// are left out).
    fn event(&mut self, event: Event) {
        if let Some(turn) = self.replay.turns.last_mut() {
            turn.entries.push(Replayed::Event(event));
        }
    }

    fn item(&mut self, index: usize, item: &'a Item) {
        if let Some(id) = self.splitter.on_item(item) {
            self.begin(id, false);
        }
        match item {
            Item::Message {
                role: Role::User, ..
            } if item.is_instructions_message() => self.replay.has_instructions = true,
            Item::Message {
                role: Role::User,
                content,
            } => self.prompt(item, content),
            Item::Message {
                role: Role::Assistant,
                ..
            } => {
                let text = item.text();
                if text.trim().is_empty() {
                    return;
                }
                let id = item_id(index);
                self.event(Event::ItemStarted {
                    item: id.clone(),
                    kind: ItemKind::AgentMessage,
                });
                self.event(Event::MessageDone { item: id, text });
            }
            Item::Message { .. } => {}
            Item::Reasoning { summary, .. } => self.reasoning(index, summary),
            Item::FunctionCall {
                name,
                arguments,
                call_id,
                ..
            } => {
                self.calls.insert(call_id, (name, arguments));
            }
            Item::WebSearchCall { action, .. } => {
                let id = item_id(index);
                self.event(Event::WebSearchStarted { item: id.clone() });
                self.event(Event::WebSearchDone {
                    item: id,
                    action: action.clone().unwrap_or(WebSearchAction::Other),
                });
            }
            Item::FunctionCallOutput { call_id, output } => {
                let Some((name, arguments)) = self.calls.remove(call_id.as_str()) else {
                    return;
                };
                match self.records.get(call_id.as_str()).copied() {
                    Some(record) => self.recorded_call(record, arguments),
                    // A call a noted turn never reached saved no facts: it did not show.
                    None if self.noted => {}
                    None => self.recovered_call(call_id, name, arguments, output),
                }
            }
        }
    }

    /// The person's prompt: to the turn it began, a steer when one is there already.
    fn prompt(&mut self, item: &Item, content: &[Content]) {
        let Some(turn) = self.replay.turns.last_mut() else {
            return;
        };
        let steer = turn
            .entries
            .iter()
            .any(|entry| matches!(entry, Replayed::Prompt(_)));
        // What another agent of the team sent during the turn is no prompt of the person's:
        // the agents' activity shows what came of them, as Codex shows it.
        if steer && crate::protocol::is_team_mail(&item.typed_text()) {
            return;
        }
        turn.entries.push(Replayed::Prompt(SavedPrompt {
            text: item.typed_text(),
            attached: item
                .attached_paths()
                .into_iter()
                .map(String::from)
                .collect(),
            images: content
                .iter()
                .filter_map(|part| match part {
                    Content::InputImage { image_url, .. } => Some(image_url.clone()),
                    _ => None,
                })
                .collect(),
            steer,
        }));
    }

    /// The reasoning's summary, part by part, as it streamed.
    fn reasoning(&mut self, index: usize, summary: &[crate::llm::types::ReasoningSummary]) {
        let parts: Vec<&str> = summary
            .iter()
            .map(|part| part.text.as_str())
            .filter(|text| !text.trim().is_empty())
            .collect();
        if parts.is_empty() {
            return;
        }
        let id = item_id(index);
        self.event(Event::ItemStarted {
            item: id.clone(),
            kind: ItemKind::Reasoning,
        });
        for (index, part) in parts.iter().enumerate() {
            self.event(Event::ReasoningPartAdded {
                item: id.clone(),
                index: u32::try_from(index).unwrap_or(u32::MAX),
            });
            self.event(Event::ReasoningDelta {
                item: id.clone(),
                delta: (*part).to_string(),
            });
        }
        self.event(Event::ReasoningDone {
            item: id,
            text: parts.join("\n\n"),
        });
    }

    /// A call with its saved facts: the events it sent as it ran.
    fn recorded_call(&mut self, record: &CallRecord, arguments: &str) {
        let call_id = record.call_id.clone();
        self.event(Event::ToolStarted {
            call_id: call_id.clone(),
            tool: record.tool.clone(),
            summary: record.summary.clone(),
            paths: record.paths.clone(),
            facts: record.facts.clone(),
        });
        if !record.output.is_empty() {
            self.event(Event::ToolOutput {
                call_id: call_id.clone(),
                chunk: record.output.clone(),
            });
        }
        if !record.changes.is_empty() {
            let changes = record
                .changes
                .iter()
                .map(|change| {
                    let (old_text, new_text) = sides(&change.diff);
                    FileChange {
                        kind: change.kind,
                        path: change.path.clone(),
                        move_to: change.move_to.clone(),
                        diff: change.diff.clone(),
                        old_text: (change.kind != ChangeKind::Add).then_some(old_text),
                        new_text: (change.kind != ChangeKind::Delete).then_some(new_text),
                    }
                })
                .collect();
            self.event(Event::FilesChanged {
                call_id: call_id.clone(),
                changes,
            });
        }
        if record.success {
            self.plan(&call_id, &record.tool, arguments);
        }
        if record.declined {
            self.event(Event::CallDeclined {
                call_id: call_id.clone(),
            });
        }
        self.event(Event::ToolFinished {
            call_id,
            success: record.success,
            exit_code: record.exit_code,
            duration: Duration::from_millis(record.duration_ms),
        });
    }

    /// A call saved without its facts: what its arguments and its output for the model tell.
    fn recovered_call(&mut self, call_id: &str, name: &str, arguments: &str, output: &str) {
        let parsed = ToolCall::parse(name, arguments);
        let (summary, paths, facts) = match &parsed {
            Ok(call) => (
                call.arguments_summary(),
                call.touched_paths(self.project_dir),
                call.facts(self.project_dir),
            ),
            Err(_) => (tools::one_line(arguments), Vec::new(), None),
        };
        self.event(Event::ToolStarted {
            call_id: call_id.to_string(),
            tool: name.to_string(),
            summary,
            paths,
            facts,
        });
        let (shown, success, exit_code, duration) = match &parsed {
            Ok(ToolCall::Shell(_)) => match parse_shell_result(output) {
                Some(result) => (
                    result.output.to_string(),
                    result.exit_code == Some(0),
                    result.exit_code,
                    result.duration,
                ),
                None => (output.to_string(), true, None, None),
            },
            Ok(_) => (String::new(), true, None, None),
            Err(_) => (format!("{output}\n"), false, None, None),
        };
        if !shown.is_empty() {
            self.event(Event::ToolOutput {
                call_id: call_id.to_string(),
                chunk: shown,
            });
        }
        self.plan(call_id, name, arguments);
        self.event(Event::ToolFinished {
            call_id: call_id.to_string(),
            success,
            exit_code,
            duration: duration.unwrap_or_default(),
        });
    }

    /// The plan an `update_plan` call set.
    fn plan(&mut self, call_id: &str, tool: &str, arguments: &str) {
        if tool != tools::update_plan::NAME {
            return;
        }
        if let Ok(ToolCall::UpdatePlan(update)) = ToolCall::parse(tool, arguments) {
            self.event(Event::PlanUpdated {
                call_id: call_id.to_string(),
                explanation: update.explanation.clone(),
                steps: PlanStep::all_of(&update),
            });
        }
    }
}

/// The two sides of a unified diff's hunks: the lines before (context and removed) and after
/// (context and added). A reopened change shows these where it showed the whole texts live,
/// which the session does not keep.
fn sides(diff: &str) -> (String, String) {
    let (mut before, mut after) = (String::new(), String::new());
    let mut in_hunk = false;
    for line in diff.split_inclusive('\n') {
        if line.starts_with("@@") {
            in_hunk = true;
            continue;
        }
        if !in_hunk {
            continue;
        }
        match line.as_bytes().first() {
            Some(b' ') => {
                before.push_str(&line[1..]);
                after.push_str(&line[1..]);
            }
            Some(b'-') => before.push_str(&line[1..]),
            Some(b'+') => after.push_str(&line[1..]),
            _ => {}
        }
    }
    (before, after)
}

/// A saved item's id: its place in the history, the same on every read of the file.
fn item_id(index: usize) -> ItemId {
    format!("item-{index}").into()
}

/// A `shell` result as the model received it.
#[derive(Debug, PartialEq)]
struct ShellResult<'a> {
    exit_code: Option<i32>,
    duration: Option<Duration>,
    output: &'a str,
}

/// Reads the text `ShellOutcome::to_model_text` wrote before calls had saved facts: status
/// lines, then `Output:` and what the command printed.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::TurnEnd;
    use crate::session::record::SavedChange;
    use crate::tools::ShellOutcome;

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
            network_refused_by_person: false,
            set_aside: None,
            runs_later: None,
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

    fn call(call_id: &str, name: &str, arguments: &str) -> Item {
        Item::FunctionCall {
            name: name.into(),
            arguments: arguments.into(),
            call_id: call_id.into(),
            namespace: None,
        }
    }

    fn output(call_id: &str, text: &str) -> Item {
        Item::FunctionCallOutput {
            call_id: call_id.into(),
            output: text.into(),
        }
    }

    /// Each event in a line, for comparing whole turns.
    fn shown(turn: &ReplayedTurn) -> Vec<String> {
        turn.entries
            .iter()
            .map(|entry| match entry {
                Replayed::Prompt(p) => format!("prompt {} steer={}", p.text, p.steer),
                Replayed::Event(Event::ToolStarted {
                    call_id, summary, ..
                }) => {
                    format!("start {call_id} {summary}")
                }
                Replayed::Event(Event::ToolOutput { call_id, chunk }) => {
                    format!("output {call_id} {chunk:?}")
                }
                Replayed::Event(Event::ToolFinished {
                    call_id,
                    success,
                    exit_code,
                    duration,
                }) => format!(
                    "end {call_id} {success} {exit_code:?} {}ms",
                    duration.as_millis()
                ),
                Replayed::Event(Event::FilesChanged { changes, .. }) => {
                    format!("changed {:?}", changes[0].new_text)
                }
                Replayed::Event(Event::MessageDone { text, .. }) => format!("answer {text}"),
                Replayed::Event(Event::ReasoningDone { text, .. }) => format!("thought {text}"),
                Replayed::Event(Event::PlanUpdated { steps, .. }) => {
                    format!("plan {}", steps[0].step)
                }
                Replayed::Event(Event::AgentActivity(activity)) => {
                    format!("agent {:?} {}", activity.kind, activity.path)
                }
                Replayed::Event(_) => "-".into(),
            })
            .filter(|line| line != "-")
            .collect()
    }

    /// A team's work as its first agent's conversation saved it: the agents' activity shows
    /// where it was noted, and what the agents sent it is no prompt of the person's.
    #[test]
    fn a_teams_activity_shows_again_and_its_mail_is_no_prompt() {
        use crate::protocol::{AgentActivity, AgentActivityKind};
        let activity = |kind, id: &str| Note::Agent {
            activity: AgentActivity {
                id: id.into(),
                kind,
                path: "/root/alpha".into(),
                conversation: "c-alpha".into(),
                model: None,
                effort: None,
            },
        };
        let items = [
            Item::user_text("go team"),
            call(
                "s1",
                "spawn_agent",
                r#"{"task_name":"alpha","message":"hi"}"#,
            ),
            output("s1", r#"{"task_name":"/root/alpha"}"#),
            Item::user_text(
                "Message Type: FINAL_ANSWER\nTask name: /root\nSender: /root/alpha\nPayload:\nhi",
            ),
            Item::assistant_text("done"),
        ];
        let notes = vec![
            (0, Note::turn("u-1")),
            (3, activity(AgentActivityKind::Started, "s1")),
            (3, activity(AgentActivityKind::Completed, "done-1")),
        ];
        let replay = replay(&items, &notes, Path::new("/p"));
        assert_eq!(
            shown(&replay.turns[0]),
            [
                "prompt go team steer=false",
                "agent Started /root/alpha",
                "agent Completed /root/alpha",
                "answer done",
            ]
        );
        // Saved as a line an older kelp passes over, and read back whole.
        let line = serde_json::to_string(&notes[1].1).unwrap();
        assert!(line.contains(r#""type":"kelp_agent""#), "{line}");
        assert_eq!(serde_json::from_str::<Note>(&line).unwrap(), notes[1].1);
    }

    #[test]
    fn an_old_history_recovers_its_calls_from_what_the_model_read() {
        let items = [
            Item::user_text("# AGENTS.md instructions for /p\n\nbe brief"),
            Item::user_text("run it"),
            call("c1", "shell", r#"{"command":["cargo","test"]}"#),
            call("c2", "read_file", r#"{"path":"a.rs"}"#),
            call("c3", "shell", "{not json"),
            output(
                "c1",
                "Exit code: 101\nWall time: 2.5 seconds\nOutput:\nFAILED\n",
            ),
            output("c2", "L1: fn a() {}"),
            output("c3", "failed to parse function arguments"),
            Item::assistant_text("It fails."),
            Item::user_text("again"),
        ];
        let replay = replay(&items, &[], Path::new("/p"));
        assert!(replay.has_instructions);
        assert_eq!(replay.turns.len(), 2);
        assert_eq!(replay.turns[1].id, "turn-1");
        assert_eq!(
            shown(&replay.turns[0]),
            [
                "prompt run it steer=false",
                "start c1 cargo test",
                "output c1 \"FAILED\\n\"",
                "end c1 false Some(101) 2500ms",
                "start c2 a.rs",
                "end c2 true None 0ms",
                "start c3 {not json",
                "output c3 \"failed to parse function arguments\\n\"",
                "end c3 false None 0ms",
                "answer It fails.",
            ]
        );
    }

    #[test]
    fn a_noted_history_replays_the_saved_facts_under_the_turns_ids() {
        let record = |call_id: &str, tool: &str, summary: &str| CallRecord {
            call_id: call_id.into(),
            tool: tool.into(),
            summary: summary.into(),
            paths: Vec::new(),
            facts: None,
            success: true,
            exit_code: None,
            duration_ms: 7,
            output: String::new(),
            changes: Vec::new(),
            declined: false,
        };
        let items = [
            Item::user_text("fix it"),
            call("c1", "shell", r#"{"command":["make"]}"#),
            call(
                "c2",
                "apply_patch",
                r#"{"input":"*** Begin Patch\n*** End Patch\n"}"#,
            ),
            call(
                "c3",
                "update_plan",
                r#"{"plan":[{"step":"fix","status":"completed"}]}"#,
            ),
            call("c4", "read_file", r#"{"path":"never.rs"}"#),
            output("c1", "text the model read, which the faces never show"),
            output("c2", "Done"),
            output("c3", "Plan updated"),
            output("c4", "cancelled"),
            Item::user_text("and the docs"),
            Item::assistant_text("Half an ans"),
        ];
        let notes = vec![
            (0, Note::turn("u-1")),
            (
                6,
                Note::Call(Box::new(CallRecord {
                    success: false,
                    exit_code: Some(2),
                    output: "make: *** no rule\n".into(),
                    ..record("c1", "shell", "make")
                })),
            ),
            (
                7,
                Note::Call(Box::new(CallRecord {
                    changes: vec![SavedChange {
                        kind: ChangeKind::Update,
                        path: "/p/a.rs".into(),
                        move_to: None,
                        diff: "--- a/a.rs\n+++ b/a.rs\n@@ -1 +1 @@\n-old\n+new\n".into(),
                        before: Some("old\n".into()),
                        after_sha256: None,
                    }],
                    ..record("c2", "apply_patch", "M a.rs")
                })),
            ),
            (
                8,
                Note::Call(Box::new(record("c3", "update_plan", "1 step"))),
            ),
            (
                11,
                Note::TurnEnded {
                    how: TurnEnd::Interrupted,
                    message: None,
                },
            ),
        ];
        let replay = replay(&items, &notes, Path::new("/p"));
        assert_eq!(replay.turns.len(), 1, "steering stays in its turn");
        let turn = &replay.turns[0];
        assert_eq!(turn.id, "u-1");
        assert_eq!(
            shown(turn),
            [
                "prompt fix it steer=false",
                "start c1 make",
                "output c1 \"make: *** no rule\\n\"",
                "end c1 false Some(2) 7ms",
                "start c2 M a.rs",
                "changed Some(\"new\\n\")",
                "end c2 true None 7ms",
                "start c3 1 step",
                "plan fix",
                "end c3 true None 7ms",
                "prompt and the docs steer=true",
                "answer Half an ans",
            ],
            "the call the turn never reached is not shown"
        );
        assert!(turn.ends_in_answer());
    }

    #[test]
    fn a_recent_load_names_its_turns_as_a_whole_one_does() {
        use crate::session::{SessionHeader, SessionLog, SessionWriter};
        let state = tempfile::tempdir().unwrap();
        let mut writer = SessionWriter::create(state.path(), SessionHeader::new("/p", "m"));
        // Forty turns from before turns had ids, then twenty with ids, each steered once.
        for n in 0..40 {
            writer.append(&Item::user_text(format!("old {n}"))).unwrap();
            writer.append(&Item::assistant_text("short")).unwrap();
        }
        let mut items = 80;
        for n in 40..60 {
            let id = format!("u-{n}");
            writer.append_note(&Note::turn(id)).unwrap();
            writer.append(&Item::user_text(format!("new {n}"))).unwrap();
            // A compaction in the middle of turn 45 sends from its steering prompt on.
            if n == 45 {
                writer
                    .append_note(&Note::Compacted {
                        summary: "so far".into(),
                        sent_from: items + 1,
                        automatic: true,
                    })
                    .unwrap();
            }
            writer
                .append(&Item::user_text(format!("steer {n}")))
                .unwrap();
            writer.append(&Item::assistant_text("short")).unwrap();
            items += 3;
        }
        let path = writer.path().unwrap().to_path_buf();
        drop(writer);
        let ids = |replay: &Replay| {
            replay
                .turns
                .iter()
                .map(|t| t.id.clone())
                .collect::<Vec<_>>()
        };
        let whole = SessionLog::load(&path).unwrap();
        let whole = replay(&whole.items, &whole.notes, Path::new("/p"));
        assert_eq!(whole.turns.len(), 60);

        for (shown_turns, first) in [(3, "u-46"), (30, "turn-30")] {
            let recent = SessionLog::load_recent(&path, u64::MAX, shown_turns).unwrap();
            assert!(recent.items_base > 0, "{shown_turns}: read in part");
            let shown = replay_from(
                &recent.items,
                recent.items_base,
                recent.turns_at_base,
                &recent.notes,
                Path::new("/p"),
            );
            let shown_ids = ids(&shown);
            let from = shown_ids.iter().position(|id| id == first).unwrap();
            assert_eq!(
                shown_ids[from..],
                ids(&whole)[whole.turns.len() - (shown_ids.len() - from)..],
                "{shown_turns}: the ids a whole load gives"
            );
            let begun_by_steering = shown.turns.iter().filter(|turn| {
                turn.entries.iter().any(|entry| {
                    matches!(entry, Replayed::Prompt(p) if !p.steer && p.text.starts_with("steer"))
                })
            });
            assert_eq!(
                begun_by_steering.count(),
                0,
                "{shown_turns}: a steering prompt does not begin a turn"
            );
            assert_eq!(shown.earlier_turns + shown.turns.len(), 60);
        }
    }

    #[test]
    fn a_reopened_conversation_shows_its_newest_turns_within_a_budget() {
        let mut items = Vec::new();
        for n in 0..150 {
            items.push(Item::user_text(format!("prompt {n}")));
            items.push(Item::assistant_text("short"));
        }
        let shown = newest(replay(&items, &[], Path::new("/p")));
        assert_eq!(shown.turns.len(), SHOWN_TURNS);
        assert_eq!(shown.earlier_turns, 150 - SHOWN_TURNS);
        assert_eq!(shown.turns[0].id, format!("turn-{}", 150 - SHOWN_TURNS));

        // The newest turn shows even when it alone is over the budget.
        items.push(Item::user_text("last"));
        items.push(Item::assistant_text("x".repeat(SHOWN_BYTES + 1)));
        let shown = newest(replay(&items, &[], Path::new("/p")));
        assert_eq!(shown.turns.len(), 1);
        assert_eq!(shown.earlier_turns, 150);
    }
}
