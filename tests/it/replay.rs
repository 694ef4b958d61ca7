//! A saved conversation reopened: every face shows it as it showed live, from the facts saved
//! beside each call, never from the text the model read.

use std::time::Duration;

use kelp::agent::core::spawn;
use kelp::agent::protocol::{ApprovalMode, Event, Op};
use kelp::session::list_sessions;
use serde_json::{Value, json};

use crate::agent_loop::agent_setup;
use crate::fake_openai::Reply;
use crate::tui_snapshots::{draw, logged_in};

const PATCH: &str =
    "*** Begin Patch\n*** Update File: notes.txt\n@@\n-old line\n+new line\n*** End Patch\n";

/// The replies of a turn that reads, searches, runs a failing command, patches a file and plans.
fn working_turn() -> Vec<Reply> {
    vec![
        Reply::reasoning("Looking at the notes first.")
            .and_call_with_id("c1", "read_file", json!({"path": "notes.txt"}))
            .and_call_with_id("c2", "grep_files", json!({"pattern": "old"})),
        Reply::call_with_id(
            "c3",
            "shell",
            json!({"command": ["sh", "-c", "echo checking; exit 3"]}),
        ),
        Reply::call_with_id("c4", "apply_patch", json!({"input": PATCH})),
        Reply::call_with_id(
            "c5",
            "update_plan",
            json!({"plan": [{"step": "fix the notes", "status": "completed"}]}),
        ),
        Reply::text("The notes are fixed."),
    ]
}

/// The transcript part of a screen: from the prompt to the last answer.
fn transcript(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().collect();
    let first = lines.iter().position(|l| l.contains("› fix the notes"));
    let last = lines
        .iter()
        .rposition(|l| l.contains("The notes are fixed."));
    match (first, last) {
        (Some(first), Some(last)) => lines[first..=last].join("\n"),
        _ => panic!("no transcript on the screen:\n{screen}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reopened_conversation_is_drawn_as_it_was_live() {
    let mut agent = agent_setup(|config, _| config.approval = ApprovalMode::FullAuto).await;
    std::fs::write(agent.dir().join("notes.txt"), "old line\n").unwrap();
    agent.fake.push_responses(working_turn());

    // Live: the person types in the client, the core runs the turn, the client draws it.
    let (mut live, mut ops) = logged_in();
    for c in "fix the notes".chars() {
        live.handle_key(crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Char(c),
        ));
    }
    live.handle_key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Enter,
    ));
    while let Ok(op) = ops.try_recv() {
        agent.send(op);
    }
    loop {
        let event = agent.next().await;
        let finished = matches!(event, Event::TurnFinished(_));
        live.handle_core_event(event);
        if finished {
            break;
        }
    }
    assert_eq!(
        std::fs::read_to_string(agent.dir().join("notes.txt")).unwrap(),
        "new line\n"
    );
    let live_screen = transcript(&draw(&mut live, 100, 60));
    for shown in ["checking", "exit 3", "notes.txt", "fix the notes"] {
        assert!(live_screen.contains(shown), "{shown:?}:\n{live_screen}");
    }
    agent.send(Op::Shutdown);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // What the model read is rewritten: the reopened screen must not depend on it.
    let saved = list_sessions(&agent.config.state_dir, None).next().unwrap();
    let text = std::fs::read_to_string(&saved.path).unwrap();
    let rewritten: Vec<String> = text
        .lines()
        .map(|line| {
            let mut entry: Value = serde_json::from_str(line).unwrap();
            if entry["type"] == "function_call_output" {
                entry["output"] = json!("(the model read something else here)");
            }
            entry.to_string()
        })
        .collect();
    std::fs::write(&saved.path, rewritten.join("\n") + "\n").unwrap();

    // Reopened in a new core and a new client.
    let mut options = agent.options();
    options.resume = Some(saved.path.clone());
    let (_ops, mut events) = spawn(agent.config.clone(), options);
    let (mut reopened, _rx) = logged_in();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(15), events.recv())
            .await
            .unwrap()
            .unwrap();
        let restored = matches!(event, Event::Restored(_));
        reopened.handle_core_event(event);
        if restored {
            break;
        }
    }
    let reopened_screen = transcript(&draw(&mut reopened, 100, 60));
    assert_eq!(reopened_screen, live_screen);
}
