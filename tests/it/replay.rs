//! A saved conversation reopened: every face shows it as it showed live, from the facts saved
//! beside each call, never from the text the model read.

use std::time::Duration;

use kelp::agent::core::start::spawn;
use kelp::protocol::{ApprovalMode, Event, Op};
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
        let restored = matches!(event, Event::Reply(kelp::protocol::Reply::Restored(_)));
        reopened.handle_core_event(event);
        if restored {
            break;
        }
    }
    let reopened_screen = transcript(&draw(&mut reopened, 100, 60));
    assert_eq!(reopened_screen, live_screen);
}

/// Sends what the client asked for to the core, and the core's events back, until `done`
/// says an event was the last one wanted.
async fn exchange(
    app: &mut kelp::tui::App,
    ops: &mut tokio::sync::mpsc::UnboundedReceiver<Op>,
    agent: &mut crate::agent_loop::Agent,
    done: impl Fn(&Event) -> bool,
) {
    while let Ok(op) = ops.try_recv() {
        agent.send(op);
    }
    loop {
        let event = agent.next().await;
        let last = done(&event);
        app.handle_core_event(event);
        if last {
            break;
        }
    }
}

fn press(app: &mut kelp::tui::App, code: crossterm::event::KeyCode) {
    app.handle_key(crossterm::event::KeyEvent::from(code));
}

fn type_in(app: &mut kelp::tui::App, text: &str) {
    for c in text.chars() {
        press(app, crossterm::event::KeyCode::Char(c));
    }
}

/// Esc Esc: the earlier prompts; the one picked comes back to the composer with the
/// conversation cut before it, and the files the model changed from there on are put back,
/// except one edited since, which is named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esc_esc_goes_back_to_a_prompt_and_undoes_its_file_changes() {
    use crossterm::event::KeyCode;
    let mut agent = agent_setup(|config, _| config.approval = ApprovalMode::FullAuto).await;
    std::fs::write(agent.dir().join("notes.txt"), "old line\n").unwrap();
    std::fs::write(agent.dir().join("todo.txt"), "one\n").unwrap();
    let patch = "*** Begin Patch\n*** Update File: notes.txt\n@@\n-old line\n+new line\n*** Update File: todo.txt\n@@\n-one\n+two\n*** Add File: made.txt\n+made\n*** End Patch\n";
    agent.fake.push_responses([
        Reply::text("First answer."),
        Reply::call_with_id("p1", "apply_patch", json!({"input": patch})),
        Reply::text("Second answer."),
    ]);
    let (mut app, mut ops) = logged_in();
    let finished = |e: &Event| matches!(e, Event::TurnFinished(_));
    type_in(&mut app, "first question");
    press(&mut app, KeyCode::Enter);
    exchange(&mut app, &mut ops, &mut agent, finished).await;
    type_in(&mut app, "second question");
    press(&mut app, KeyCode::Enter);
    exchange(&mut app, &mut ops, &mut agent, finished).await;
    assert_eq!(
        std::fs::read_to_string(agent.dir().join("made.txt")).unwrap(),
        "made\n"
    );
    // The person edits one of the files after the model did.
    std::fs::write(agent.dir().join("todo.txt"), "two, and mine\n").unwrap();

    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Esc);
    let picker = draw(&mut app, 80, 24);
    assert!(picker.contains("Go back to before a prompt"), "{picker}");
    assert!(picker.contains("second question"), "{picker}");
    press(&mut app, KeyCode::Enter);
    exchange(&mut app, &mut ops, &mut agent, |e| {
        matches!(e, Event::Reply(kelp::protocol::Reply::Rewound(_)))
    })
    .await;
    let offer = draw(&mut app, 80, 24);
    insta::assert_snapshot!("rewind_offers_to_undo", offer);
    assert!(!offer.contains("Second answer."), "{offer}");
    press(&mut app, KeyCode::Enter);
    exchange(&mut app, &mut ops, &mut agent, |e| {
        matches!(e, Event::Reply(kelp::protocol::Reply::FilesUndone { .. }))
    })
    .await;
    let read = |name: &str| std::fs::read_to_string(agent.dir().join(name)).ok();
    assert_eq!(read("notes.txt").as_deref(), Some("old line\n"));
    assert_eq!(read("made.txt"), None);
    assert_eq!(read("todo.txt").as_deref(), Some("two, and mine\n"));
    let after = draw(&mut app, 80, 24);
    assert!(after.contains("Undid the changes to"), "{after}");
    assert!(
        after.contains("left todo.txt as it is: it changed on disk since"),
        "{after}"
    );
    // The prompt is back in the composer: sending it again goes on from the first turn.
    agent
        .fake
        .push_response(Reply::text("Second answer, again."));
    press(&mut app, KeyCode::Enter);
    exchange(&mut app, &mut ops, &mut agent, finished).await;
    let input = agent.fake.requests_to("/responses").pop().unwrap().json()["input"].to_string();
    assert!(input.contains("First answer."), "{input}");
    assert!(!input.contains("Second answer."), "{input}");
    assert_eq!(input.matches("second question").count(), 1, "{input}");
}

/// `/rename` names the conversation in the lists; `/fork` goes on in a copy, the original
/// left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_is_named_and_forked() {
    use crossterm::event::KeyCode;
    let mut agent = agent_setup(|_, _| {}).await;
    agent
        .fake
        .push_responses([Reply::text("First answer."), Reply::text("In the fork.")]);
    let (mut app, mut ops) = logged_in();
    let finished = |e: &Event| matches!(e, Event::TurnFinished(_));
    type_in(&mut app, "first question");
    press(&mut app, KeyCode::Enter);
    exchange(&mut app, &mut ops, &mut agent, finished).await;
    let notice = |e: &Event| matches!(e, Event::Notice(_) | Event::Error(_));

    // Without a name, the first prompt's line waits in the composer to be edited.
    type_in(&mut app, "/rename");
    press(&mut app, KeyCode::Enter);
    let screen = draw(&mut app, 80, 24);
    assert!(screen.contains("› /rename first question"), "{screen}");
    app.handle_key(crossterm::event::KeyEvent::new(
        KeyCode::Char('u'),
        crossterm::event::KeyModifiers::CONTROL,
    ));
    type_in(&mut app, "/rename parser work");
    press(&mut app, KeyCode::Enter);
    exchange(&mut app, &mut ops, &mut agent, notice).await;
    assert!(
        draw(&mut app, 80, 24).contains("Named this conversation \"parser work\"."),
        "{}",
        draw(&mut app, 80, 24)
    );
    let original = list_sessions(&agent.config.state_dir, None).next().unwrap();
    let before = std::fs::read(&original.path).unwrap();

    type_in(&mut app, "/fork");
    press(&mut app, KeyCode::Enter);
    exchange(&mut app, &mut ops, &mut agent, notice).await;
    let screen = draw(&mut app, 80, 24);
    assert!(screen.contains("This is a fork"), "{screen}");
    assert!(
        screen.contains("First answer."),
        "the fork shows the history: {screen}"
    );
    type_in(&mut app, "go on");
    press(&mut app, KeyCode::Enter);
    exchange(&mut app, &mut ops, &mut agent, finished).await;
    assert_eq!(
        std::fs::read(&original.path).unwrap(),
        before,
        "the original is as it was"
    );

    type_in(&mut app, "/resume");
    press(&mut app, KeyCode::Enter);
    exchange(&mut app, &mut ops, &mut agent, |e| {
        matches!(e, Event::Reply(kelp::protocol::Reply::Sessions(_)))
    })
    .await;
    let picker = draw(&mut app, 80, 24);
    assert!(
        picker.contains("parser work"),
        "the name in the list: {picker}"
    );
    assert!(
        picker.contains("first question"),
        "the fork, by its prompt: {picker}"
    );
    assert!(
        picker.contains("(fork of “parser work”)"),
        "the fork, marked with its origin: {picker}"
    );
    // Typing searches the list: only the fork's prompt has these words.
    type_in(&mut app, "first q");
    let found = draw(&mut app, 80, 24);
    assert!(found.contains("“first q”"), "{found}");
    assert_eq!(
        found.matches(" · gpt-5.5  ").count(),
        1,
        "one row left: {found}"
    );
}

/// One long run keeps a bounded transcript: past a few MiB the oldest turns leave it, and its
/// first line says the saved conversation keeps them.
#[test]
fn a_long_run_keeps_a_bounded_transcript() {
    use crossterm::event::KeyCode;
    let (mut app, _ops) = logged_in();
    let output = format!("{}\n", "y".repeat(79)).repeat(12_800);
    // A command's cell keeps the last few thousand lines of its output (~260 KB here).
    for turn in 0..24 {
        type_in(&mut app, &format!("turn {turn}"));
        press(&mut app, KeyCode::Enter);
        app.handle_core_event(Event::TurnStarted {
            id: format!("t-{turn}"),
        });
        let call_id = format!("c{turn}");
        app.handle_core_event(Event::ToolStarted {
            call_id: call_id.clone(),
            tool: "shell".into(),
            summary: format!("make part-{turn}"),
            paths: Vec::new(),
            facts: None,
        });
        app.handle_core_event(Event::ToolOutput {
            call_id: call_id.clone(),
            chunk: output.clone(),
        });
        app.handle_core_event(Event::ToolFinished {
            call_id,
            success: true,
            exit_code: Some(0),
            duration: Duration::from_millis(5),
        });
        app.handle_core_event(Event::TurnFinished(kelp::protocol::TurnOutcome::Completed));
    }
    press(&mut app, KeyCode::Home);
    let top = draw(&mut app, 80, 24);
    assert!(
        top.contains("Earlier turns are not shown here: the saved conversation keeps them."),
        "{top}"
    );
    assert!(!top.contains("› turn 0 "), "{top}");
    assert!(top.contains("› turn "), "a later turn is first: {top}");
    press(&mut app, KeyCode::End);
    let bottom = draw(&mut app, 80, 24);
    assert!(bottom.contains("exit 0"), "{bottom}");
}
