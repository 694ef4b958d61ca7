//! Codex's `notify`: a program of the person's (`notify = ["notify-send", "kelp"]`) told of a
//! finished turn by one more argument, Codex's JSON (`agent-turn-complete`, with the thread,
//! the turn, the folder, what was asked and the last answer). A server also tells it of an
//! approval that waits with no client there to give it (`approval-requested`, kelp's own
//! type: a notifier written for Codex passes over a type it does not know), so a turn sent to
//! the background reaches the person whether it ends or needs them.
//!
//! The program runs as the person, as their hooks do, and only from their own config files (a
//! project's `notify` is refused). kelp neither waits for it nor reads what it prints.

use std::path::Path;
use std::process::{Command, Stdio};

use serde::Serialize;

/// What the program is told, in Codex's kebab-case fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Notification {
    #[serde(rename_all = "kebab-case")]
    AgentTurnComplete {
        thread_id: String,
        turn_id: String,
        cwd: String,
        input_messages: Vec<String>,
        last_assistant_message: Option<String>,
    },
    #[serde(rename_all = "kebab-case")]
    ApprovalRequested {
        thread_id: String,
        turn_id: String,
        cwd: String,
        /// What waits, in a line: `Approval requested: cargo test`.
        message: String,
    },
}

/// Runs `argv` with `notification`'s JSON as its last argument, in `cwd`, and leaves it to
/// run; a program that cannot start is logged, never shown in the conversation.
pub fn send(argv: &[String], cwd: &Path, notification: &Notification) {
    let Some((program, args)) = argv.split_first() else {
        return;
    };
    let Ok(json) = serde_json::to_string(notification) else {
        return;
    };
    let started = Command::new(program)
        .args(args)
        .arg(json)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match started {
        // Reaped apart, so an ended notifier leaves no zombie behind.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => tracing::warn!(program = %program, error = %e, "notify could not start"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON is Codex's, field for field (its `legacy_notify` test's shape).
    #[test]
    fn a_finished_turn_is_told_in_codexs_words() {
        let done = Notification::AgentTurnComplete {
            thread_id: "b5f6c1c2-1111-2222-3333-444455556666".into(),
            turn_id: "12345".into(),
            cwd: "/p".into(),
            input_messages: vec!["Rename `foo` to `bar`.".into()],
            last_assistant_message: Some("Renamed.".into()),
        };
        assert_eq!(
            serde_json::to_value(&done).unwrap(),
            serde_json::json!({
                "type": "agent-turn-complete",
                "thread-id": "b5f6c1c2-1111-2222-3333-444455556666",
                "turn-id": "12345",
                "cwd": "/p",
                "input-messages": ["Rename `foo` to `bar`."],
                "last-assistant-message": "Renamed.",
            })
        );
    }

    /// The program gets its own arguments, then the JSON, and runs in the folder given.
    #[test]
    fn the_program_gets_the_json_last() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("said");
        let argv = [
            "sh".to_string(),
            "-c".to_string(),
            format!(
                "printf '%s|%s|%s' \"$0\" \"$1\" \"$PWD\" > {}",
                out.display()
            ),
            "first".to_string(),
        ];
        let asked = Notification::ApprovalRequested {
            thread_id: "t".into(),
            turn_id: "u".into(),
            cwd: "/p".into(),
            message: "Approval requested: ls".into(),
        };
        send(&argv, dir.path(), &asked);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !out.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        let said = std::fs::read_to_string(&out).unwrap();
        let json = serde_json::to_string(&asked).unwrap();
        let here = dir.path().canonicalize().unwrap();
        assert_eq!(said, format!("first|{json}|{}", here.display()));
        send(&["/nowhere/notifier".to_string()], dir.path(), &asked);
    }
}
