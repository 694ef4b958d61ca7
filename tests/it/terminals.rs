//! Background terminals (`exec_command`, `write_stdin`) through the core against the fake
//! server: a program that outlives its call, polled and typed into by the model, and gone with
//! the conversation or with kelp, checked by its process.

use std::time::Duration;

use kelp::protocol::{ApprovalMode, Event, Op, TurnOutcome};
use serde_json::{Value, json};

use crate::agent_loop::{agent_setup, alive, output_for, pids_with_argument};
use crate::fake_openai::Reply;

/// The session id an `exec_command` output names (`Process running with session ID N`).
fn session_id(output: &str) -> Option<i64> {
    output
        .lines()
        .find_map(|line| line.strip_prefix("Process running with session ID "))
        .and_then(|id| id.trim().parse().ok())
}

/// The output the model got for `call_id` in this request body, if it holds one.
fn output_in(body: &Value, call_id: &str) -> Option<String> {
    body["input"].as_array()?.iter().find_map(|item| {
        (item["type"] == "function_call_output" && item["call_id"] == call_id)
            .then(|| item["output"].as_str().unwrap_or_default().to_string())
    })
}

/// A model that starts `exec` (as call `e1`), then sends `then` with the session id the first
/// output named (as call `w1`), then ends the turn.
fn model_polls(
    fake: &crate::fake_openai::FakeOpenAi,
    exec: Value,
    then: impl Fn(i64) -> Value + Send + Sync + 'static,
) {
    fake.push_response(Reply::call_with_id("e1", "exec_command", exec));
    fake.set_fallback(move |body| {
        if output_in(body, "w1").is_some() {
            return Reply::text("done");
        }
        match output_in(body, "e1").as_deref().and_then(session_id) {
            Some(id) => Reply::call_with_id("w1", "write_stdin", then(id)),
            None => Reply::text("no session"),
        }
    });
}

/// A model that leaves `cmd` running in a background terminal (call `e1`), then ends its turn.
async fn left_running(a: &mut crate::agent_loop::Agent, cmd: &str, yield_ms: u64) {
    a.fake.push_responses([
        Reply::call_with_id(
            "e1",
            "exec_command",
            json!({"cmd": cmd, "yield_time_ms": yield_ms}),
        ),
        Reply::text("left running"),
    ]);
    a.submit("start a long one");
    a.finish_turn().await;
}

/// The next list of background terminals the core sends.
async fn listed_terminals(
    a: &mut crate::agent_loop::Agent,
) -> Vec<kelp::protocol::BackgroundTerminal> {
    let listed = a
        .until(|e| matches!(e, Event::Reply(kelp::protocol::Reply::Terminals(_))))
        .await;
    match listed.last() {
        Some(Event::Reply(kelp::protocol::Reply::Terminals(rows))) => rows.clone(),
        _ => unreachable!(),
    }
}

async fn waits_until_gone(pid: i32) -> bool {
    for _ in 0..150 {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_outlives_its_call_and_a_poll_gets_what_it_printed_later() {
    let mut a = agent_setup(|config, _| config.approval = ApprovalMode::FullAuto).await;
    model_polls(
        &a.fake,
        json!({"cmd": "echo early; sleep 2; echo later-X", "yield_time_ms": 300}),
        |id| json!({"session_id": id, "chars": "", "yield_time_ms": 5000}),
    );
    a.submit("start it and wait");
    let (events, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    let inputs = a.inputs();
    let first = output_for(&inputs[1], "e1");
    assert!(first.contains("Process running with session ID"), "{first}");
    assert!(first.contains("Output:\nearly"), "{first}");
    assert!(!first.contains("later-X"), "{first}");
    let polled = output_for(&inputs[2], "w1");
    assert!(polled.contains("later-X"), "{polled}");
    assert!(!polled.contains("early"), "read once: {polled}");
    assert!(polled.contains("Process exited with code 0"), "{polled}");
    // The person saw it go on in the background.
    assert!(events.iter().any(|e| matches!(
        e,
        Event::ToolOutput { call_id, chunk } if call_id == "e1" && chunk.contains("still running as background terminal")
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_on_a_terminal_answers_what_the_model_types() {
    let mut a = agent_setup(|config, _| config.approval = ApprovalMode::FullAuto).await;
    model_polls(
        &a.fake,
        json!({"cmd": "test -t 0 && echo on-a-terminal; read -r name; echo hello-$name", "tty": true, "yield_time_ms": 500}),
        |id| json!({"session_id": id, "chars": "kelp\n", "yield_time_ms": 3000}),
    );
    a.submit("talk to it");
    let (_, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    let inputs = a.inputs();
    assert!(output_for(&inputs[1], "e1").contains("on-a-terminal"));
    let answered = output_for(&inputs[2], "w1");
    assert!(answered.contains("hello-kelp"), "{answered}");
    assert!(
        answered.contains("Process exited with code 0"),
        "{answered}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_into_a_program_without_a_terminal_is_refused_in_codex_words() {
    let mut a = agent_setup(|config, _| config.approval = ApprovalMode::FullAuto).await;
    model_polls(
        &a.fake,
        json!({"cmd": "sleep 30.2231", "yield_time_ms": 250}),
        |id| json!({"session_id": id, "chars": "y\n"}),
    );
    a.submit("type");
    a.finish_turn().await;
    let refused = output_for(&a.inputs()[2], "w1").to_string();
    assert!(
        refused.contains("stdin is closed for this session"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_into_a_terminal_asks_where_a_command_would_and_no_stops_it() {
    let mut a = agent_setup(|config, _| config.approval = ApprovalMode::Ask).await;
    model_polls(
        &a.fake,
        json!({"cmd": "bash", "tty": true, "yield_time_ms": 250}),
        |id| json!({"session_id": id, "chars": "touch typed-file\n"}),
    );
    a.submit("type");
    // Starting it asks, as any command does here.
    let (id, call_id, _) = a.approval().await;
    assert_eq!(call_id, "e1");
    a.approve(id, kelp::protocol::ApprovalDecision::Yes);
    let (id, call_id, subject) = a.approval().await;
    assert_eq!(call_id, "w1");
    let kelp::protocol::ApprovalSubject::Command { command, .. } = subject else {
        panic!("{subject:?}");
    };
    assert!(
        command.contains("touch typed-file") && command.contains("`bash`"),
        "{command}"
    );
    a.approve(id, kelp::protocol::ApprovalDecision::No { reason: None });
    a.finish_turn().await;
    assert!(output_for(&a.inputs()[2], "w1").starts_with("denied"));
    // Nothing was typed: the shell never made the file.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!a.dir().join("typed-file").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_terminal_ends_with_its_conversation() {
    let mut a = agent_setup(|config, _| config.approval = ApprovalMode::FullAuto).await;
    left_running(&mut a, "sleep 60.7781", 250).await;
    assert!(session_id(output_for(&a.inputs()[1], "e1")).is_some());
    let [pid] = pids_with_argument("60.7781")[..] else {
        panic!("one sleep");
    };
    assert!(alive(pid));
    drop(a);
    assert!(
        waits_until_gone(pid).await,
        "{pid} outlived its conversation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_ends_a_background_terminal_and_the_list_shows_it_before() {
    let mut a = agent_setup(|config, _| config.approval = ApprovalMode::FullAuto).await;
    left_running(&mut a, "echo serving; exec sleep 60.4417", 300).await;
    a.send(Op::ListTerminals);
    let rows = listed_terminals(&mut a).await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].command.contains("sleep 60.4417"));
    assert_eq!(rows[0].last_line, "serving");
    assert_eq!(rows[0].call_id, "e1");
    let [pid] = pids_with_argument("60.4417")[..] else {
        panic!("one sleep");
    };
    a.send(Op::StopTerminals(Some(rows[0].id)));
    assert!(waits_until_gone(pid).await, "{pid} survived /stop");
    assert!(listed_terminals(&mut a).await.is_empty());
}

/// `kelp exec` leaves a program running in a background terminal, then waits on a model that
/// never answers: killed by `signal`, kelp takes the program with it.
async fn killed_kelp_takes_its_terminals(signal: i32, marker: &str) {
    let fake = crate::fake_openai::FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    fake.push_responses([
        Reply::call_with_id(
            "e1",
            "exec_command",
            json!({"cmd": format!("sleep {marker}"), "yield_time_ms": 250}),
        ),
        Reply::stall("thinking"),
    ]);
    let mut cmd = crate::cli_exec::kelp_exec(&fake, home.path());
    cmd.current_dir(project.path())
        .arg("--skip-git-repo-check")
        .arg("start it")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut kelp = cmd.spawn().unwrap();
    let mut found = Vec::new();
    for _ in 0..500 {
        found = pids_with_argument(marker);
        if !found.is_empty() && fake.requests_to("/responses").len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let [pid] = found[..] else {
        panic!("one sleep, not {found:?}");
    };
    // Its twin: while kelp lives, so does the program it left running.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(alive(pid), "the program ended before kelp did");
    let kelp_pid = i32::try_from(kelp.id()).unwrap();
    // SAFETY: a signal to the child this test started.
    unsafe {
        libc::kill(kelp_pid, signal);
    }
    let _ = tokio::task::spawn_blocking(move || kelp.wait()).await;
    assert!(
        waits_until_gone(pid).await,
        "the program outlived kelp killed by signal {signal}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_terminal_goes_with_kelp_whatever_signal_ends_it() {
    for (signal, marker) in [
        (libc::SIGTERM, "61.1501"),
        (libc::SIGINT, "61.1502"),
        (libc::SIGHUP, "61.1503"),
        (libc::SIGKILL, "61.1504"),
    ] {
        killed_kelp_takes_its_terminals(signal, marker).await;
    }
}

/// The output of a background terminal that ran `script` under `sandbox` with the network
/// `network`, polled until it ended.
async fn sandboxed_session(
    sandbox: kelp::protocol::SandboxMode,
    network: bool,
    script: String,
) -> (String, crate::agent_loop::Agent) {
    let mut a = agent_setup(|config, _| {
        config.approval = ApprovalMode::FullAuto;
        config.sandbox = sandbox;
        config.network = network;
    })
    .await;
    model_polls(
        &a.fake,
        json!({"cmd": script, "yield_time_ms": 250}),
        |id| json!({"session_id": id, "chars": "", "yield_time_ms": 10000}),
    );
    a.submit("run it in the background");
    a.finish_turn().await;
    let polled = output_for(&a.inputs()[2], "w1").to_string();
    (polled, a)
}

/// Whether this machine gives commands the whole sandbox (namespaces and Landlock).
fn whole_sandbox() -> bool {
    let support = kelp::sandbox::support();
    support.namespaces.is_ok() && support.landlock.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_terminal_writes_only_where_a_command_may_and_its_twin_outside_does() {
    if !whole_sandbox() {
        return;
    }
    // Outside the project and outside `/tmp` (which a command sees as its own private one).
    let outside = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let target = outside.path().join("left-by-a-terminal");
    let script = format!(
        "sleep 0.5; echo in > inside.txt; echo out > {} && echo wrote-outside || echo refused-outside",
        target.display()
    );
    let (polled, a) = sandboxed_session(
        kelp::protocol::SandboxMode::WorkspaceWrite,
        false,
        script.clone(),
    )
    .await;
    assert!(polled.contains("refused-outside"), "{polled}");
    assert!(!target.exists());
    assert!(a.dir().join("inside.txt").exists());
    // The twin: the same terminal with the sandbox off writes there.
    let (polled, _) = sandboxed_session(kelp::protocol::SandboxMode::Off, false, script).await;
    assert!(polled.contains("wrote-outside"), "{polled}");
    assert!(target.exists());
}

/// The private `/tmp` is held to its cap while a background terminal runs, not only as a
/// command ends: a program that fills it and runs on finds it emptied within seconds, and the
/// model's next poll says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_terminal_cannot_fill_the_private_tmp_past_its_cap_while_it_runs() {
    if !whole_sandbox() {
        return;
    }
    let mut a = agent_setup(|config, _| {
        config.approval = ApprovalMode::FullAuto;
        config.secrets.private_tmp_max_mb = Some(1);
    })
    .await;
    model_polls(
        &a.fake,
        json!({"cmd": "head -c 3000000 /dev/zero > /tmp/big && echo filled; sleep 60",
               "yield_time_ms": 1000}),
        |id| json!({"session_id": id, "chars": "", "yield_time_ms": 8000}),
    );
    a.submit("fill it and go on");
    a.finish_turn().await;
    let inputs = a.inputs();
    let started = output_for(&inputs[1], "e1");
    assert!(started.contains("filled"), "{started}");
    assert!(
        started.contains("Process running with session ID"),
        "{started}"
    );
    let polled = output_for(&inputs[2], "w1");
    assert!(
        polled.contains("private /tmp held more than 1 MB"),
        "{polled}"
    );
    assert!(
        polled.contains("Process running with session ID"),
        "{polled}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_terminal_keeps_the_conversations_network_mode_and_its_twin_with_it_on_connects()
 {
    if !whole_sandbox() {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = format!(
        "sleep 0.5; (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && echo connected || echo no-network"
    );
    let (polled, _) = sandboxed_session(
        kelp::protocol::SandboxMode::WorkspaceWrite,
        false,
        script.clone(),
    )
    .await;
    assert!(polled.contains("no-network"), "{polled}");
    let (polled, _) =
        sandboxed_session(kelp::protocol::SandboxMode::WorkspaceWrite, true, script).await;
    assert!(polled.contains("connected"), "{polled}");
    drop(listener);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_shows_the_port_a_dev_server_listens_on_in_its_sandbox() {
    if !std::path::Path::new("/usr/bin/python3").exists() {
        return;
    }
    let mut a = agent_setup(|config, _| {
        config.approval = ApprovalMode::FullAuto;
        config.sandbox = kelp::protocol::SandboxMode::WorkspaceWrite;
        // A server binds a port: with the network off the sandbox refuses it that.
        config.network = true;
    })
    .await;
    a.fake.push_responses([
        Reply::call_with_id(
            "e1",
            "exec_command",
            json!({"cmd": "python3 -u -m http.server 0 --bind 127.0.0.1", "yield_time_ms": 300}),
        ),
        Reply::text("serving"),
    ]);
    a.submit("start the dev server");
    a.finish_turn().await;
    // A loaded machine may start Python slower than the call's yield: the list is read
    // until the server has said where it serves, within a bound.
    let mut rows = Vec::new();
    for _ in 0..100 {
        a.send(Op::ListTerminals);
        rows = listed_terminals(&mut a).await;
        if rows[0].last_line.contains("Serving HTTP") && !rows[0].ports.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let printed: u16 = rows[0]
        .last_line
        .split("port ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("a port in {rows:?}"));
    assert_eq!(rows[0].ports, vec![printed], "{rows:?}");
}

/// Whether a request body is the side conversation's.
fn is_side(body: &Value) -> bool {
    body["input"]
        .to_string()
        .contains("This is a side conversation")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_side_question_is_answered_while_a_turn_streams_and_the_main_turn_never_sees_it() {
    let mut a = agent_setup(|config, _| config.approval = ApprovalMode::FullAuto).await;
    a.fake.push_response(Reply::text("The plan is PELICAN."));
    a.submit("what is the plan");
    a.finish_turn().await;
    a.fake.set_fallback(|body| {
        if is_side(body) {
            Reply::text("SIDE-ANSWER: the plan was PELICAN")
        } else if body["input"].to_string().contains("go on") {
            Reply::stall("Working on it")
        } else {
            Reply::text("main answer")
        }
    });
    a.submit("go on");
    a.until(|e| matches!(e, Event::TextDelta { .. })).await;
    a.send(Op::Side("what was the plan again?".to_string()));
    let side = a
        .until(|e| matches!(e, Event::Reply(kelp::protocol::Reply::Side(inner)) if matches!(**inner, Event::TurnFinished(_))))
        .await;
    let answered = side.iter().any(|e| matches!(
        e,
        Event::Reply(kelp::protocol::Reply::Side(inner))
            if matches!(&**inner, Event::MessageDone { text, .. } if text.contains("SIDE-ANSWER"))
    ));
    assert!(answered, "{side:#?}");
    // The side conversation saw the main one's words so far.
    let side_request = a
        .fake
        .requests_to("/responses")
        .into_iter()
        .find(|r| is_side(r.json()))
        .unwrap();
    assert!(
        side_request.json()["input"]
            .to_string()
            .contains("The plan is PELICAN.")
    );
    a.interrupt();
    a.finish_turn().await;
    a.fake.push_response(Reply::text("main answer"));
    a.submit("and after?");
    a.finish_turn().await;
    let main = a.inputs().last().unwrap().clone();
    let main = serde_json::Value::Array(main).to_string();
    assert!(main.contains("and after?"));
    assert!(!main.contains("what was the plan again"), "{main}");
    assert!(!main.contains("SIDE-ANSWER"), "{main}");
    // It is a saved conversation of its own, which can be resumed.
    a.send(Op::CloseSide);
    a.send(Op::ListSessions);
    let listed = a
        .until(|e| matches!(e, Event::Reply(kelp::protocol::Reply::Sessions(_))))
        .await;
    let Some(Event::Reply(kelp::protocol::Reply::Sessions(saved))) = listed.last() else {
        unreachable!()
    };
    let side = saved
        .iter()
        .find(|s| {
            s.name
                .as_deref()
                .is_some_and(|name| name.starts_with("side: what was the plan"))
        })
        .unwrap_or_else(|| panic!("{saved:#?}"));
    // A child of the main conversation: listed under it, passed over by `--continue`.
    let main_id = saved
        .iter()
        .find(|s| s.first_prompt.as_deref() == Some("what is the plan") && s.side_of.is_none())
        .map(|s| s.id);
    assert_eq!(side.side_of, main_id, "{saved:#?}");
    let rows = kelp::session::under_parents(saved.clone());
    let at = |id| rows.iter().position(|(row, _)| Some(row.id) == id).unwrap();
    assert_eq!(at(Some(side.id)), at(main_id) + 1);
    assert_eq!(rows[at(Some(side.id))].1, 1, "one level under it");
    a.send(Op::Resume(side.path.clone()));
    let restored = a
        .until(|e| matches!(e, Event::Reply(kelp::protocol::Reply::Restored(_))))
        .await;
    let Some(Event::Reply(kelp::protocol::Reply::Restored(replay))) = restored.last() else {
        unreachable!()
    };
    assert!(format!("{replay:?}").contains("SIDE-ANSWER"));
}
