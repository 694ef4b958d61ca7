//! The agent's tool loop through the core's channels, against the fake server: what the model
//! receives back (request bodies), what a front end sees (events), and what is saved.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kelp::agent::calls::NOT_STARTED_OUTPUT;
use kelp::agent::core::start::{CoreOptions, spawn};
use kelp::auth::{AuthStore, OpenAiEntry};
use kelp::config::Config;
use kelp::llm::StreamSettings;
use kelp::protocol::Replayed;
use kelp::protocol::{
    ApprovalDecision, ApprovalMode, ApprovalSubject, CallFacts, Event, Op, StopCause, Submission,
    TurnOutcome,
};
use kelp::session::{SessionLog, list_sessions};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::fake_openai::{FakeOpenAi, Reply, encrypted_content_for};

/// A core over a fresh home and project, logged in to the fake with its API key.
pub(crate) struct Agent {
    pub(crate) fake: FakeOpenAi,
    pub(crate) config: Config,
    _home: TempDir,
    project: TempDir,
    ops: UnboundedSender<Op>,
    events: UnboundedReceiver<Event>,
}

async fn agent(mode: ApprovalMode) -> Agent {
    agent_with(mode, 100).await
}

async fn agent_with(mode: ApprovalMode, max_steps: usize) -> Agent {
    agent_setup(|config, options| {
        config.approval = mode;
        options.max_steps = max_steps;
    })
    .await
}

/// An agent whose configuration and options `setup` adjusts first.
pub(crate) async fn agent_setup(setup: impl FnOnce(&mut Config, &mut CoreOptions)) -> Agent {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let mut config = Config::for_origin(&fake.url(), home.path());
    AuthStore::new(&config.auth_file)
        .update(|file| {
            file.set_openai(&OpenAiEntry::Api {
                key: fake.api_key(),
            })
        })
        .unwrap();
    let mut options = CoreOptions::new(project.path());
    options.env_api_key = None;
    options.stream = StreamSettings {
        base_backoff: Duration::from_millis(1),
        ..StreamSettings::default()
    };
    setup(&mut config, &mut options);
    let (ops, mut events) = spawn(config.clone(), options);
    // A new conversation first says which instruction files it loaded (none here); the MCP
    // servers' first statuses may come before.
    let first = loop {
        let event = tokio::time::timeout(Duration::from_secs(15), events.recv()).await;
        if !matches!(
            event,
            Ok(Some(Event::Reply(kelp::protocol::Reply::McpServers(_))))
        ) {
            break event;
        }
    };
    assert_eq!(
        first.ok().flatten(),
        Some(Event::Reply(
            kelp::protocol::Reply::Instructions(Vec::new())
        ))
    );
    // Then which conversation it holds: its session id.
    let second = tokio::time::timeout(Duration::from_secs(15), events.recv()).await;
    assert!(
        matches!(second.ok().flatten(), Some(Event::Reply(kelp::protocol::Reply::Conversation { id })) if uuid::Uuid::parse_str(&id).is_ok())
    );
    Agent {
        fake,
        config,
        _home: home,
        project,
        ops,
        events,
    }
}

impl Agent {
    pub(crate) fn dir(&self) -> &Path {
        self.project.path()
    }

    /// The options a core of this agent's project starts with.
    pub(crate) fn options(&self) -> CoreOptions {
        let mut options = CoreOptions::new(self.project.path());
        options.env_api_key = None;
        options
    }

    pub(crate) fn send(&self, op: Op) {
        self.ops.send(op).unwrap();
    }

    pub(crate) fn submit(&self, text: &str) {
        self.ops.send(Op::Submit(Submission::text(text))).unwrap();
    }

    pub(crate) async fn next(&mut self) -> Event {
        tokio::time::timeout(Duration::from_secs(15), self.events.recv())
            .await
            .expect("an event within 15 s")
            .expect("the core is running")
    }

    /// Events up to and including the first one `stop` accepts.
    pub(crate) async fn until(&mut self, stop: impl Fn(&Event) -> bool) -> Vec<Event> {
        let mut seen = Vec::new();
        loop {
            let event = self.next().await;
            let done = stop(&event);
            seen.push(event);
            if done {
                return seen;
            }
        }
    }

    /// Events of the running turn up to its end, and how it ended.
    pub(crate) async fn finish_turn(&mut self) -> (Vec<Event>, TurnOutcome) {
        let seen = self.until(|e| matches!(e, Event::TurnFinished(_))).await;
        let Some(Event::TurnFinished(outcome)) = seen.last().cloned() else {
            unreachable!()
        };
        (seen, outcome)
    }

    /// Waits for the next approval request: its id, call id and subject.
    pub(crate) async fn approval(&mut self) -> (u64, String, ApprovalSubject) {
        let seen = self
            .until(|e| matches!(e, Event::ApprovalRequested { .. }))
            .await;
        match seen.last().cloned() {
            Some(Event::ApprovalRequested {
                id,
                call_id,
                subject,
                ..
            }) => (id, call_id, subject),
            _ => unreachable!(),
        }
    }

    /// The output the last request sent back for `call_id`.
    pub(crate) fn last_output(&self, call_id: &str) -> String {
        let inputs = self.inputs();
        output_for(inputs.last().expect("a request was sent"), call_id).to_string()
    }

    pub(crate) fn interrupt(&self) {
        self.ops.send(Op::Interrupt).unwrap();
    }

    pub(crate) fn approve(&self, id: u64, decision: ApprovalDecision) {
        self.ops.send(Op::Approve { id, decision }).unwrap();
    }

    /// The `input` of every `/responses` request so far.
    pub(crate) fn inputs(&self) -> Vec<Vec<Value>> {
        self.fake
            .requests_to("/responses")
            .iter()
            .map(|r| r.json()["input"].as_array().cloned().unwrap_or_default())
            .collect()
    }
}

/// The `output` sent back for `call_id` in `input`; panics if there is not exactly one.
pub(crate) fn output_for<'a>(input: &'a [Value], call_id: &str) -> &'a str {
    let outputs: Vec<&Value> = input
        .iter()
        .filter(|i| i["type"] == "function_call_output" && i["call_id"] == call_id)
        .collect();
    assert_eq!(outputs.len(), 1, "one output for {call_id}: {input:#?}");
    outputs[0]["output"].as_str().unwrap()
}

/// The `(type, call_id)` of every item, to check order.
fn shape(input: &[Value]) -> Vec<(String, String)> {
    input
        .iter()
        .map(|i| {
            (
                i["type"].as_str().unwrap_or("").to_string(),
                i["call_id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn pair(kind: &str, call_id: &str) -> (String, String) {
    (kind.to_string(), call_id.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_and_a_call_in_one_response_continue_the_loop() {
    let mut a = agent(ApprovalMode::Ask).await;
    std::fs::write(a.dir().join("notes.txt"), "the answer is 42\n").unwrap();
    a.fake.push_responses([
        Reply::reasoning("look at the notes")
            .and_text("Let me read the notes first.")
            .and_call_with_id("call_r1", "read_file", json!({"path": "notes.txt"})),
        Reply::text("The notes say 42."),
    ]);
    a.submit("what do the notes say?");
    let (events, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);

    let inputs = a.inputs();
    assert_eq!(inputs.len(), 2, "the text did not end the turn");
    let second = &inputs[1];
    assert_eq!(
        shape(second),
        vec![
            pair("message", ""),
            pair("reasoning", ""),
            pair("message", ""),
            pair("function_call", "call_r1"),
            pair("function_call_output", "call_r1"),
        ]
    );
    assert_eq!(second[0]["content"][0]["text"], "what do the notes say?");
    assert_eq!(
        second[1]["encrypted_content"],
        encrypted_content_for("look at the notes")
    );
    assert_eq!(second[3]["name"], "read_file");
    assert!(output_for(second, "call_r1").contains("the answer is 42"));

    assert!(events.contains(&Event::ToolStarted {
        call_id: "call_r1".into(),
        tool: "read_file".into(),
        summary: "notes.txt".into(),
        paths: vec![a.dir().join("notes.txt")],
        facts: Some(CallFacts::Read {
            path: a.dir().join("notes.txt")
        }),
    }));
    assert!(events.iter().any(|e| matches!(
        e,
        Event::ToolFinished { call_id, success: true, .. } if call_id == "call_r1"
    )));
    let messages: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::MessageDone { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        messages,
        ["Let me read the notes first.", "The notes say 42."]
    );
    // The request carried the tools under their Codex names.
    let requests = a.fake.requests_to("/responses");
    let body = requests[0].json();
    // The native web search has a type and no name.
    let tools: Vec<&str> = body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for name in [
        "exec_command",
        "write_stdin",
        "apply_patch",
        "read_file",
        "view_image",
        "list_dir",
        "grep_files",
        "update_plan",
    ] {
        assert!(tools.contains(&name), "{tools:?}");
    }
}

/// `view_image`, as Codex's: the image goes to the model as the call's output, a content item
/// with its bytes as a data URL, sent again with the history; a file that is no image, or one outside the project unapproved, is refused in words and nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_image_shows_the_model_the_image_itself() {
    use base64::Engine;
    let mut a = agent(ApprovalMode::Never).await;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR plot";
    std::fs::write(a.dir().join("plot.png"), png).unwrap();
    std::fs::write(a.dir().join("fake.png"), "not an image").unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.png"), png).unwrap();
    a.fake.push_responses([
        Reply::call_with_id("v1", "view_image", json!({"path": "plot.png"}))
            .and_call_with_id("v2", "view_image", json!({"path": "fake.png"}))
            .and_call_with_id(
                "v3",
                "view_image",
                json!({"path": outside.path().join("secret.png")}),
            ),
        Reply::text("A plot."),
    ]);
    a.submit("look at the plot");
    let (_, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    let inputs = a.inputs();
    let output = |call_id: &str| -> Value {
        inputs[1]
            .iter()
            .find(|i| i["type"] == "function_call_output" && i["call_id"] == call_id)
            .unwrap()["output"]
            .clone()
    };
    let url = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    );
    assert_eq!(
        output("v1"),
        json!([{"type": "input_image", "image_url": url, "detail": "high"}])
    );
    let fake = output("v2");
    assert!(
        fake.as_str()
            .unwrap()
            .starts_with("unable to read image at `fake.png`"),
        "{fake}"
    );
    let secret = output("v3").to_string();
    assert!(
        !secret.contains("base64"),
        "nothing of it is sent: {secret}"
    );
    // The next turn's request carries the image again, as it was first sent.
    a.fake.push_response(Reply::text("Still a plot."));
    a.submit("and now?");
    a.finish_turn().await;
    let again = a.inputs();
    let kept = again[2]
        .iter()
        .find(|i| i["type"] == "function_call_output" && i["call_id"] == "v1")
        .unwrap();
    assert_eq!(kept["output"][0]["image_url"], url);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_calls_get_their_outputs_in_call_order() {
    let mut a = agent(ApprovalMode::FullAuto).await;
    std::fs::write(a.dir().join("a.txt"), "alpha\n").unwrap();
    std::fs::write(a.dir().join("b.txt"), "beta\n").unwrap();
    a.fake.push_responses([
        Reply::call_with_id("p1", "read_file", json!({"path": "a.txt"}))
            .and_call_with_id("p2", "read_file", json!({"path": "b.txt"}))
            .and_call_with_id("p3", "shell", json!({"command": "echo gamma"}))
            .and_call_with_id("p4", "list_dir", json!({"path": "."})),
        Reply::text("done"),
    ]);
    a.submit("read both");
    let (_, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    let second = &a.inputs()[1];
    assert_eq!(
        shape(&second[1..]),
        vec![
            pair("function_call", "p1"),
            pair("function_call", "p2"),
            pair("function_call", "p3"),
            pair("function_call", "p4"),
            pair("function_call_output", "p1"),
            pair("function_call_output", "p2"),
            pair("function_call_output", "p3"),
            pair("function_call_output", "p4"),
        ]
    );
    assert!(output_for(second, "p1").contains("alpha"));
    assert!(output_for(second, "p2").contains("beta"));
    assert!(output_for(second, "p3").contains("gamma"));
    assert!(output_for(second, "p4").contains("b.txt"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_tools_and_bad_arguments_are_told_to_the_model() {
    let mut a = agent(ApprovalMode::Ask).await;
    a.fake.push_responses([
        Reply::call_with_id("u1", "frobnicate", json!({})).and_call_with_id(
            "b1",
            "read_file",
            json!("{\"path\": "),
        ),
        Reply::text("sorry"),
    ]);
    a.submit("go");
    let (events, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    let second = &a.inputs()[1];
    assert_eq!(output_for(second, "u1"), "unsupported call: frobnicate");
    let serde_error = serde_json::from_str::<Value>("{\"path\": ").unwrap_err();
    assert_eq!(
        output_for(second, "b1"),
        format!("failed to parse function arguments: {serde_error}")
    );
    assert!(events.iter().any(|e| matches!(
        e,
        Event::ToolFinished { call_id, success: false, .. } if call_id == "u1"
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_call_passes_the_reason_to_the_model() {
    let mut a = agent(ApprovalMode::Ask).await;
    a.fake.push_responses([
        Reply::call_with_id("s1", "shell", json!({"command": "touch made.txt"})),
        Reply::text("All right, I will not."),
    ]);
    a.submit("make a file");
    let (id, call_id, subject) = a.approval().await;
    assert_eq!(call_id, "s1");
    assert_eq!(
        subject,
        ApprovalSubject::Command {
            command: "touch made.txt".into(),
            workdir: PathBuf::from(a.dir()),
            always_prefix: Some(vec!["touch".into()]),
        }
    );
    a.approve(
        id,
        ApprovalDecision::No {
            reason: Some("use the Makefile instead".into()),
        },
    );
    let (events, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    assert!(!a.dir().join("made.txt").exists());
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::ToolStarted { .. }))
    );
    assert_eq!(
        output_for(&a.inputs()[1], "s1"),
        "denied by the user: use the Makefile instead"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_approves_the_same_command_for_the_session_and_patches_show_a_diff() {
    let mut a = agent(ApprovalMode::Ask).await;
    a.fake.push_responses([
        Reply::call_with_id("a1", "shell", json!({"command": "echo first >> log.txt"})),
        Reply::call_with_id("a2", "shell", json!({"command": "echo first >> log.txt"})),
        Reply::call_with_id("a3", "shell", json!({"command": "echo other"})),
        Reply::call_with_id(
            "a4",
            "apply_patch",
            json!({"input": "*** Begin Patch\n*** Add File: new.txt\n+fresh\n*** End Patch"}),
        ),
        Reply::text("done"),
    ]);
    a.submit("log it");
    let (id, call_id, _) = a.approval().await;
    assert_eq!(call_id, "a1");
    a.approve(id, ApprovalDecision::Always);
    // a2 runs without asking; the next request is a3, a different command.
    let (id, call_id, _) = a.approval().await;
    assert_eq!(call_id, "a3");
    a.approve(id, ApprovalDecision::Yes);
    let (id, call_id, subject) = a.approval().await;
    assert_eq!(call_id, "a4");
    let ApprovalSubject::Patch { diff, changes } = subject else {
        panic!("expected a patch request, got {subject:?}");
    };
    assert!(diff.contains("+fresh"), "{diff}");
    // Each file comes with its whole text before and after, for a side-by-side view.
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].old_text, None);
    assert_eq!(changes[0].new_text.as_deref(), Some("fresh\n"));
    a.approve(id, ApprovalDecision::Yes);
    let (_, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);

    let inputs = a.inputs();
    assert_eq!(inputs.len(), 5);
    assert!(output_for(&inputs[2], "a2").starts_with("Exit code: 0"));
    assert_eq!(
        std::fs::read_to_string(a.dir().join("log.txt")).unwrap(),
        "first\nfirst\n",
        "both runs of the always-approved command happened"
    );
    assert!(output_for(&inputs[3], "a3").contains("other"));
    assert_eq!(
        std::fs::read_to_string(a.dir().join("new.txt")).unwrap(),
        "fresh\n"
    );
}

/// "Always in this project" keeps the command's prefix in `rules.toml`: a later plain command
/// that starts with it runs without asking, a chained one still asks, and the next kelp of the
/// same project starts with the rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_kept_for_the_project_lets_its_commands_through_and_nothing_more() {
    let mut a = agent(ApprovalMode::Ask).await;
    a.fake.push_responses([
        Reply::call_with_id("p1", "shell", json!({"command": "touch one.txt"})),
        Reply::call_with_id("p2", "shell", json!({"command": "touch two.txt"})),
        Reply::call_with_id(
            "p3",
            "shell",
            json!({"command": "touch three.txt; rm two.txt"}),
        ),
        Reply::text("done"),
    ]);
    a.submit("make files");
    let (id, call_id, subject) = a.approval().await;
    assert_eq!(call_id, "p1");
    assert!(matches!(
        subject,
        ApprovalSubject::Command { always_prefix: Some(ref prefix), .. } if prefix == &["touch"]
    ));
    a.approve(id, ApprovalDecision::AlwaysPrefix);
    // p2 runs without asking; p3 chains a second command and asks.
    let (id, call_id, _) = a.approval().await;
    assert_eq!(call_id, "p3");
    a.approve(id, ApprovalDecision::No { reason: None });
    let (_, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    assert!(a.dir().join("two.txt").exists() && !a.dir().join("three.txt").exists());
    let rules = std::fs::read_to_string(a.config.config_dir.join("rules.toml")).unwrap();
    assert!(rules.contains("prefix = [\"touch\"]"), "{rules}");

    let (_ops, mut events) = spawn(a.config.clone(), a.options());
    let started = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match events.recv().await {
                Some(Event::Reply(kelp::protocol::Reply::CommandRules(rules))) => break rules,
                Some(_) => {}
                None => panic!("the core ended"),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(
        started,
        [kelp::protocol::ProjectRule::Prefix(vec![
            "touch".to_string()
        ])]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_step_limit_stops_a_model_that_never_finishes() {
    let mut a = agent_with(ApprovalMode::Ask, 3).await;
    a.fake
        .set_fallback(|_| Reply::call("list_dir", json!({"path": "."})));
    a.submit("loop forever");
    let (_, outcome) = a.finish_turn().await;
    let TurnOutcome::Stopped {
        cause: StopCause::StepLimit,
        message,
    } = outcome
    else {
        panic!("expected the step limit, got {outcome:?}");
    };
    assert!(message.starts_with("stopped after 3 steps"), "{message}");
    assert_eq!(a.inputs().len(), 3);

    // The history stayed valid: the next turn replays three calls, each with its output.
    a.fake.push_response(Reply::text("ok, stopping"));
    a.submit("stop");
    let (_, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    let last = a.inputs().pop().unwrap();
    let kinds: Vec<String> = shape(&last).into_iter().map(|(kind, _)| kind).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "function_call").count(), 3);
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "function_call_output")
            .count(),
        3
    );
    assert_eq!(last.last().unwrap()["content"][0]["text"], "stop");
}

/// The processes with `argument` among their arguments.
pub(crate) fn pids_with_argument(argument: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if cmdline
            .split(|b| *b == 0)
            .any(|arg| arg == argument.as_bytes())
        {
            pids.push(pid);
        }
    }
    pids
}

/// Whether `pid` is a live process (a zombie counts as gone).
pub(crate) fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    if unsafe { libc::kill(pid, 0) } != 0 {
        return false;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .trim_start()
        .chars()
        .next();
    !matches!(state, Some('Z' | 'X') | None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_kills_a_running_command_and_keeps_the_history_valid() {
    let mut a = agent(ApprovalMode::FullAuto).await;
    a.fake.push_responses([
        Reply::call_with_id(
            "k1",
            "shell",
            // The background child's pid as the command sees it may be one of its own PID
            // namespace, so the test finds it by its unusual argument instead.
            json!({"command": "sleep 30.4771 & echo $! > child.pid; echo started; sleep 30"}),
        )
        .and_call_with_id("k2", "read_file", json!({"path": "child.pid"})),
        Reply::text("fine, stopped"),
    ]);
    a.submit("wait a while");
    a.until(|e| matches!(e, Event::ToolOutput { chunk, .. } if chunk == "started\n"))
        .await;
    // The child may not have run `sleep` yet (forked, not yet executed): give it a moment.
    let mut children = pids_with_argument("30.4771");
    for _ in 0..250 {
        if !children.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        children = pids_with_argument("30.4771");
    }
    let [child] = children[..] else {
        panic!("one background child, not {children:?}");
    };
    assert!(alive(child));
    a.ops.send(Op::Interrupt).unwrap();
    let (events, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Interrupted);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::ToolFinished { call_id, success: false, .. } if call_id == "k1"
    )));
    let mut gone = false;
    for _ in 0..100 {
        if !alive(child) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "the command's child {child} survived the interrupt");

    a.submit("and now?");
    let (_, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    let inputs = a.inputs();
    assert_eq!(inputs.len(), 2);
    let next = &inputs[1];
    assert_eq!(
        shape(&next[1..5]),
        vec![
            pair("function_call", "k1"),
            pair("function_call", "k2"),
            pair("function_call_output", "k1"),
            pair("function_call_output", "k2"),
        ]
    );
    assert!(
        output_for(next, "k1").contains("cancelled"),
        "{}",
        output_for(next, "k1")
    );
    assert_eq!(output_for(next, "k2"), NOT_STARTED_OUTPUT);
    assert_eq!(next[5]["content"][0]["text"], "and now?");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_response_voids_what_the_failed_attempt_sent() {
    let mut a = agent(ApprovalMode::Ask).await;
    a.fake.push_responses([
        Reply::call_with_id("v1", "list_dir", json!({"path": "."}))
            .and_text("partial")
            .then_cut(),
        Reply::text("complete answer"),
    ]);
    a.submit("hello");
    let (events, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    assert!(events.iter().any(|e| matches!(e, Event::Retrying { .. })));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::ToolStarted { .. }))
    );
    // The call of the cut attempt never ran: no third request carries it.
    assert_eq!(a.inputs().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_item_is_saved_to_the_session_file() {
    let mut a = agent(ApprovalMode::Ask).await;
    std::fs::write(a.dir().join("AGENTS.md"), "Answer briefly.\n").unwrap();
    // Instructions are read when a conversation starts: start one now that the file exists.
    a.ops.send(Op::NewConversation).unwrap();
    a.fake.push_responses([
        Reply::reasoning("think")
            .and_text("Looking.")
            .and_call_with_id("f1", "list_dir", json!({"path": "."})),
        Reply::text("There is AGENTS.md."),
    ]);
    a.submit("what is here?");
    let (_, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);

    let sessions: Vec<_> = list_sessions(&a.config.state_dir, None).collect();
    assert_eq!(sessions.len(), 1);
    let log = SessionLog::load(&sessions[0].path).unwrap();
    assert_eq!(log.skipped_lines, 0);
    let mut expected = a.inputs().pop().unwrap();
    expected.push(json!({
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "There is AGENTS.md."}]
    }));
    let saved: Vec<Value> = log
        .items
        .iter()
        .map(|item| serde_json::to_value(item).unwrap())
        .collect();
    assert_eq!(saved, expected);
    assert!(
        saved[0]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Answer briefly."),
        "the instructions come first: {saved:#?}"
    );
    assert_eq!(saved.len(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_submit_while_a_turn_runs_is_refused() {
    let mut a = agent(ApprovalMode::Ask).await;
    a.fake.push_responses([
        Reply::call_with_id("w1", "shell", json!({"command": "true"})),
        Reply::text("done"),
    ]);
    a.submit("first");
    let (id, _, _) = a.approval().await;
    a.submit("second");
    let seen = a.until(|e| matches!(e, Event::Error(_))).await;
    assert!(
        matches!(seen.last(), Some(Event::Error(m)) if m.contains("already running")),
        "{seen:?}"
    );
    a.approve(id, ApprovalDecision::Yes);
    let (_, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    let inputs = a.inputs();
    assert_eq!(inputs.len(), 2);
    assert!(
        !inputs[1]
            .iter()
            .any(|i| i["content"][0]["text"] == "second")
    );
}

fn no_login_stored(config: &Config) -> bool {
    AuthStore::new(&config.auth_file)
        .load()
        .unwrap()
        .openai()
        .is_none()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_saved_and_removed_and_models_listed() {
    let mut a = agent(ApprovalMode::Ask).await;
    a.ops.send(Op::Logout).unwrap();
    assert_eq!(
        a.next().await,
        Event::Reply(kelp::protocol::Reply::AuthChanged(None))
    );
    assert!(no_login_stored(&a.config));

    let save = |key: &str| Op::SaveApiKey {
        key: key.into(),
        unchecked: false,
    };
    a.ops.send(save("not a key")).unwrap();
    assert!(matches!(a.next().await, Event::Error(_)));
    // A key the API refuses is not saved.
    a.ops.send(save("sk-wrong-0000000000000000wxyz")).unwrap();
    let Event::Error(message) = a.next().await else {
        panic!("expected the refusal");
    };
    assert!(
        message.contains("refused this API key (HTTP 401)"),
        "{message}"
    );
    assert!(!message.contains("wxyz"), "{message}");
    assert!(no_login_stored(&a.config));

    a.ops.send(save(&a.fake.api_key())).unwrap();
    let Event::Reply(kelp::protocol::Reply::AuthChanged(Some(summary))) = a.next().await else {
        panic!("expected the new login");
    };
    let kelp::protocol::AuthSummary::ApiKey { masked } = summary else {
        panic!("expected an API key login");
    };
    assert!(
        masked.ends_with("abcd") && !masked.contains("0000000000"),
        "{masked}"
    );
    let Event::Reply(kelp::protocol::Reply::Models { available, current }) = a.next().await else {
        panic!("expected the model list after a login");
    };
    assert!(available.contains(&"gpt-4.1".to_string()), "{available:?}");
    assert!(!available.contains(&"whisper-1".to_string()));
    assert_eq!(current, "gpt-5.5");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_login_through_the_core_saves_the_login_and_lists_its_models() {
    use kelp::protocol::{LoginEvent, LoginMethod};
    let mut a = agent(ApprovalMode::Ask).await;
    a.fake.configure(|c| c.device_interval = json!("1"));
    a.ops
        .send(Op::StartLogin {
            method: LoginMethod::Device,
            name: None,
        })
        .unwrap();
    let Event::Reply(kelp::protocol::Reply::Login(LoginEvent::DeviceCode { user_code, .. })) =
        a.next().await
    else {
        panic!("expected the device code first");
    };
    a.fake.approve_device(&user_code);
    let seen = a
        .until(|e| {
            matches!(
                e,
                Event::Reply(kelp::protocol::Reply::Login(LoginEvent::Done(_)))
                    | Event::Reply(kelp::protocol::Reply::Login(LoginEvent::Failed(_)))
            )
        })
        .await;
    let Some(Event::Reply(kelp::protocol::Reply::Login(LoginEvent::Done(account)))) = seen.last()
    else {
        panic!("the login did not finish: {seen:?}");
    };
    assert_eq!(account.email.as_deref(), Some("dev@example.com"));
    let Some(OpenAiEntry::OAuth(entry)) =
        AuthStore::new(&a.config.auth_file).load().unwrap().openai()
    else {
        panic!("the ChatGPT login was not saved");
    };
    assert_eq!(entry.account_id.as_deref(), Some("acct_fake_123"));
    // The model list now comes from the Codex backend of the new login.
    let Event::Reply(kelp::protocol::Reply::Models { available, .. }) = a.next().await else {
        panic!("expected the model list after the login");
    };
    assert!(available.contains(&"gpt-5.5".to_string()), "{available:?}");
    assert!(!available.contains(&"gpt-4.1".to_string()), "{available:?}");

    // A prompt now goes to the Codex backend with the new token.
    a.submit("hello");
    let (_, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    let last = a.fake.requests_to("/responses").pop().unwrap();
    assert!(last.path.starts_with("/backend-api/codex"), "{}", last.path);
    assert_eq!(last.header("chatgpt-account-id"), Some("acct_fake_123"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_browser_login_in_the_core_ends_it() {
    use kelp::protocol::{LoginEvent, LoginMethod};
    // SAFETY: nextest runs every test in its own process, so no other thread reads the
    // environment concurrently; `true` stands in for a browser so none opens.
    unsafe { std::env::set_var("BROWSER", "true") };
    let mut a = agent(ApprovalMode::Ask).await;
    a.ops
        .send(Op::StartLogin {
            method: LoginMethod::Browser,
            name: None,
        })
        .unwrap();
    let Event::Reply(kelp::protocol::Reply::Login(LoginEvent::BrowserWaiting { port, .. })) =
        a.next().await
    else {
        panic!("expected the browser to be waited for");
    };
    a.ops.send(Op::CancelLogin).unwrap();
    assert_eq!(
        a.next().await,
        Event::Reply(kelp::protocol::Reply::Login(LoginEvent::Cancelled))
    );
    // The browser command is forked while the listener is open, and a child holds a copy of it
    // until its exec closes it: allow that moment, but the port must come free.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while let Err(e) = std::net::TcpListener::bind(("127.0.0.1", port)) {
        assert!(
            std::time::Instant::now() < deadline,
            "the callback port is still taken: {e}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_and_approval_choices_are_saved_to_the_config_file() {
    let mut a = agent(ApprovalMode::Ask).await;
    let file = a.config.config_dir.join("config.toml");
    std::fs::create_dir_all(&a.config.config_dir).unwrap();
    std::fs::write(&file, "# mine\nreasoning_effort = \"high\"\n").unwrap();
    a.ops.send(Op::SetModel("gpt-5.4".into())).unwrap();
    a.ops
        .send(Op::SetApprovalMode(ApprovalMode::AutoEdit))
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&file).unwrap();
        if text.contains("gpt-5.4") && text.contains("auto-edit") {
            assert!(
                text.starts_with("# mine\nreasoning_effort = \"high\""),
                "{text}"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not saved: {text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The next request uses the chosen model.
    a.submit("which model?");
    a.finish_turn().await;
    assert_eq!(
        a.fake.requests_to("/responses").pop().unwrap().json()["model"],
        "gpt-5.4"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_model_changes_leave_the_last_one_in_the_config_file() {
    let a = agent(ApprovalMode::Ask).await;
    let file = a.config.config_dir.join("config.toml");
    let models: Vec<String> = (0..20).map(|i| format!("model-{i}")).collect();
    for model in &models {
        a.ops.send(Op::SetModel(model.clone())).unwrap();
    }
    // Saved after every model change, so once it is in the file they all are.
    a.ops
        .send(Op::SetApprovalMode(ApprovalMode::AutoEdit))
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if text.contains("auto-edit") {
            break text;
        }
        assert!(std::time::Instant::now() < deadline, "not saved: {text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let saved: toml::Table = text.parse().unwrap();
    assert_eq!(saved["model"].as_str(), Some("model-19"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_conversation_is_listed_resumed_and_continued() {
    let mut a = agent(ApprovalMode::Ask).await;
    a.fake.push_response(Reply::text("first answer"));
    a.submit("first question");
    a.finish_turn().await;

    a.ops.send(Op::NewConversation).unwrap();
    assert_eq!(
        a.next().await,
        Event::Reply(kelp::protocol::Reply::Instructions(Vec::new()))
    );
    let Event::Reply(kelp::protocol::Reply::Conversation { id: second }) = a.next().await else {
        panic!("expected the new conversation's id");
    };
    a.ops.send(Op::ListSessions).unwrap();
    let Event::Reply(kelp::protocol::Reply::Sessions(sessions)) = a.next().await else {
        panic!("expected the saved conversations");
    };
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0].first_prompt.as_deref(), Some("first question"));

    a.ops.send(Op::Resume(sessions[0].path.clone())).unwrap();
    let Event::Reply(kelp::protocol::Reply::Restored(replay)) = a.next().await else {
        panic!("expected the restored transcript");
    };
    assert_eq!(replay.turns.len(), 1);
    let shown: Vec<String> = replay.turns[0]
        .entries
        .iter()
        .map(|entry| match entry {
            Replayed::Prompt(prompt) => prompt.text.clone(),
            Replayed::Event(Event::MessageDone { text, .. }) => text.clone(),
            Replayed::Event(other) => format!("{other:?}"),
        })
        .filter(|shown| !shown.starts_with("ItemStarted"))
        .collect();
    assert_eq!(shown, ["first question", "first answer"]);
    assert_eq!(
        a.next().await,
        Event::Reply(kelp::protocol::Reply::Conversation {
            id: sessions[0].id.to_string()
        }),
        "the resumed conversation keeps its id"
    );
    let Event::Usage(usage) = a.next().await else {
        panic!("expected the saved token usage");
    };
    assert_eq!(usage.total_tokens, 103, "the usage it was saved with");
    assert_eq!(
        a.next().await,
        Event::ContextUsed {
            used: 103,
            window: Some(272_000)
        },
        "how full the window was when it was saved"
    );
    assert_ne!(second, sessions[0].id.to_string());
    let Event::Reply(kelp::protocol::Reply::Models { current, .. }) = a.next().await else {
        panic!("expected the model of the resumed conversation");
    };
    assert_eq!(current, "gpt-5.5");

    a.submit("second question");
    a.finish_turn().await;
    let input = a.fake.requests_to("/responses").pop().unwrap().json()["input"].clone();
    let sent: Vec<&str> = input
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["content"][0]["text"].as_str())
        .collect();
    assert_eq!(sent, ["first question", "first answer", "second question"]);

    // After `/model`, each saved conversation is listed with its own model, the one its last
    // turn used, until a turn uses the new one.
    a.ops.send(Op::SetModel("gpt-5.4".into())).unwrap();
    let listed = async |a: &mut Agent| {
        a.ops.send(Op::ListSessions).unwrap();
        loop {
            if let Event::Reply(kelp::protocol::Reply::Sessions(sessions)) = a.next().await {
                break sessions;
            }
        }
    };
    let sessions = listed(&mut a).await;
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0].model, "gpt-5.5", "{sessions:?}");
    a.fake.push_response(Reply::text("third answer"));
    a.submit("third question");
    a.finish_turn().await;
    let sessions = listed(&mut a).await;
    assert_eq!(sessions[0].model, "gpt-5.4", "{sessions:?}");
    // Resumed by a client whose config names another model, it says so, as Codex does.
    a.ops.send(Op::SetModel("gpt-5.5".into())).unwrap();
    a.ops.send(Op::Resume(sessions[0].path.clone())).unwrap();
    let notice = loop {
        match a.next().await {
            Event::Notice(notice) => break notice,
            Event::Reply(kelp::protocol::Reply::Conversation { .. }) => {
                panic!("resumed without a word of the model")
            }
            _ => {}
        }
    };
    assert!(
        notice.contains("recorded with model `gpt-5.4` but is resuming with `gpt-5.5`"),
        "{notice}"
    );
}

/// A folder outside what the sandbox lets commands write, the file a command would make there,
/// and that command; `None` (said) where this kernel has no sandbox to test.
fn a_write_outside_the_sandbox() -> Option<(tempfile::TempDir, PathBuf, String)> {
    if kelp::sandbox::support().landlock.is_err() {
        eprintln!("no sandbox on this kernel; nothing to test");
        return None;
    }
    let outside = crate::support::dir_outside_the_sandbox()?;
    let target = outside.path().join("made.txt");
    let command = format!("echo x > {}", target.display());
    Some((outside, target, command))
}

/// In `ask` mode, a command the sandbox stopped is shown plainly, and a person may let it run
/// once more without the sandbox; declined, the model is told what was blocked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_the_sandbox_stopped_may_run_again_unsandboxed_when_a_person_says_so() {
    let Some((_outside, target, command)) = a_write_outside_the_sandbox() else {
        return;
    };
    let mut a = agent(ApprovalMode::Ask).await;
    a.fake.push_responses([
        Reply::call_with_id("s1", "shell", json!({ "command": command })),
        Reply::call_with_id("s2", "shell", json!({ "command": command })),
        Reply::text("done"),
    ]);
    a.submit("write it");
    for (call, rerun) in [("s1", false), ("s2", true)] {
        let (id, call_id, _) = a.approval().await;
        assert_eq!(call_id, call);
        a.approve(id, ApprovalDecision::Yes);
        let seen = a
            .until(|e| matches!(e, Event::ApprovalRequested { .. }))
            .await;
        let blocked = "the output mentions a refused write to a place outside the sandbox's \
             writable ones, and kelp cannot tell whether the sandbox caused it (workspace-write: \
             commands write only inside the project, the temp dirs and kelp's cache, and use no \
             network; `--sandbox off` runs commands without the sandbox)"
            .to_string();
        assert!(seen.contains(&Event::Notice(blocked.clone())), "{seen:?}");
        let Some(Event::ApprovalRequested { id, subject, .. }) = seen.last().cloned() else {
            unreachable!()
        };
        assert_eq!(
            subject,
            ApprovalSubject::Unsandboxed {
                command: command.clone(),
                workdir: PathBuf::from(a.dir()),
                blocked,
                requested: false,
                // A redirection is more than one plain command: no prefix is offered.
                always_prefix: None,
            }
        );
        assert!(!target.exists(), "the sandboxed run wrote outside");
        let decision = if rerun {
            ApprovalDecision::Yes
        } else {
            ApprovalDecision::No { reason: None }
        };
        a.approve(id, decision);
    }
    let (_, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    assert!(target.exists(), "the approved unsandboxed run wrote");
    let inputs = a.inputs();
    assert!(
        output_for(&inputs[1], "s1").contains("Note: the output mentions a refused write"),
        "{}",
        output_for(&inputs[1], "s1")
    );
    assert!(
        output_for(&inputs[2], "s2")
            .starts_with("The first run failed with a refusal the sandbox may have caused; the user let it run again"),
        "{}",
        output_for(&inputs[2], "s2")
    );
}

/// In `full-auto` (Codex's on-request) a command runs in the sandbox unasked; one the model
/// asks to run outside it (`sandbox_permissions: "require_escalated"`) asks with the model's
/// question, and once allowed runs without the sandbox (its write outside the project lands).
/// In `never` the same request is refused, unasked, and the model is told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_the_model_asks_to_run_outside_the_sandbox_asks_in_every_mode() {
    let Some((_outside, target, command)) = a_write_outside_the_sandbox() else {
        return;
    };
    let escalated = json!({
        "command": command,
        "sandbox_permissions": "require_escalated",
        "justification": "Write the build stamp outside the project?"
    });
    let mut a = agent(ApprovalMode::FullAuto).await;
    a.fake.push_responses([
        Reply::call_with_id("s0", "shell", json!({ "command": "touch inside.txt" })),
        Reply::call_with_id("s1", "shell", escalated.clone()),
        Reply::text("done"),
    ]);
    a.submit("stamp it");
    let (id, call_id, subject) = a.approval().await;
    assert_eq!(call_id, "s1", "the sandboxed command ran unasked");
    assert!(a.project.path().join("inside.txt").exists());
    assert_eq!(
        subject,
        ApprovalSubject::Unsandboxed {
            command: command.clone(),
            workdir: a.project.path().canonicalize().unwrap(),
            blocked: "Write the build stamp outside the project?".into(),
            requested: true,
            always_prefix: None,
        }
    );
    assert!(!target.exists(), "nothing ran before the answer");
    a.approve(id, ApprovalDecision::Yes);
    let (_, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    assert!(
        target.exists(),
        "the allowed command ran outside the sandbox"
    );
    std::fs::remove_file(&target).unwrap();

    let mut a = agent(ApprovalMode::Never).await;
    a.fake.push_responses([
        Reply::call_with_id("s1", "shell", escalated),
        Reply::text("done"),
    ]);
    a.submit("stamp it");
    let (seen, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, Event::ApprovalRequested { .. })),
        "never asks"
    );
    assert!(!target.exists());
    assert!(
        a.last_output("s1")
            .contains("outside the sandbox needs the user's approval"),
        "{}",
        a.last_output("s1")
    );
}

/// Codex's "don't ask again for commands that start with …" on the question to run outside
/// the sandbox: the prefix is kept in `rules.toml` to run outside unasked when the model asks
/// to; a command the prefix does not start, or a chained one, still asks; and a bare
/// interpreter is offered only as the whole command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_kept_to_run_outside_the_sandbox_runs_its_commands_there_unasked() {
    let Some(outside) = crate::support::dir_outside_the_sandbox() else {
        return;
    };
    let [one, two, three] =
        ["one.txt", "two.txt", "three.txt"].map(|name| outside.path().join(name));
    let escalated = |command: String| {
        json!({
            "command": command,
            "sandbox_permissions": "require_escalated",
            "justification": "Stamp the build outside the project?"
        })
    };
    let mut a = agent(ApprovalMode::FullAuto).await;
    a.fake.push_responses([
        Reply::call_with_id("o1", "shell", escalated(format!("touch {}", one.display()))),
        Reply::call_with_id("o2", "shell", escalated(format!("touch {}", two.display()))),
        Reply::call_with_id(
            "o3",
            "shell",
            escalated(format!("touch {}; rm {}", three.display(), two.display())),
        ),
        Reply::call_with_id(
            "o4",
            "shell",
            escalated("python3 -c 'print(1)'".to_string()),
        ),
        Reply::text("done"),
    ]);
    a.submit("stamp it");
    let (id, call_id, subject) = a.approval().await;
    assert_eq!(call_id, "o1");
    assert!(matches!(
        subject,
        ApprovalSubject::Unsandboxed { always_prefix: Some(ref prefix), .. } if prefix == &["touch"]
    ));
    a.approve(id, ApprovalDecision::AlwaysPrefix);
    // o2 runs outside unasked; o3 chains a second command and asks.
    let (id, call_id, _) = a.approval().await;
    assert_eq!(call_id, "o3");
    a.approve(id, ApprovalDecision::No { reason: None });
    // An interpreter's rule is the whole command, never `python3` alone.
    let (id, call_id, subject) = a.approval().await;
    assert_eq!(call_id, "o4");
    assert!(matches!(
        subject,
        ApprovalSubject::Unsandboxed { always_prefix: Some(ref prefix), .. }
            if prefix == &["python3", "-c", "print(1)"]
    ));
    a.approve(id, ApprovalDecision::No { reason: None });
    let (_, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    assert!(one.exists() && two.exists(), "both ran outside the sandbox");
    assert!(!three.exists());
    let rules = std::fs::read_to_string(a.config.config_dir.join("rules.toml")).unwrap();
    assert!(
        rules.contains("prefix = [\"touch\"]") && rules.contains("sandbox = \"off\""),
        "{rules}"
    );
    // Read back as a rule to run outside, not as a plain prefix in the sandbox.
    let kept = kelp::agent::command_rules::CommandRules::load(&a.config.config_dir, a.dir());
    assert_eq!(
        kept.rules(),
        [kelp::protocol::ProjectRule::Unsandboxed(vec![
            "touch".to_string()
        ])]
    );
}

/// Input added while the answer streams keeps the turn going until the model has answered it;
/// input that comes after the turn joins the conversation for the next prompt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steer_is_answered_in_the_same_turn_and_a_late_one_is_kept() {
    let mut a = agent(ApprovalMode::Ask).await;
    a.fake.push_responses([
        Reply::text("Looking at the parser now.").delay(Duration::from_millis(100)),
        Reply::text("The tests pass too."),
        Reply::text("Noted."),
    ]);
    a.submit("fix the parser");
    a.until(|e| matches!(e, Event::TextDelta { .. })).await;
    a.ops
        .send(Op::Steer(Submission::text("and check the tests")))
        .unwrap();
    let (_, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    let inputs = a.inputs();
    assert_eq!(inputs.len(), 2, "one turn, two requests");
    let last = inputs[1].last().unwrap();
    assert_eq!(last["content"][0]["text"], "and check the tests");
    assert_eq!(inputs[1][inputs[1].len() - 2]["role"], "assistant");

    a.ops.send(Op::Steer(Submission::text("use tabs"))).unwrap();
    let seen = a.until(|e| matches!(e, Event::Notice(_))).await;
    assert!(matches!(seen.last(), Some(Event::Notice(n)) if n.contains("next prompt")));
    a.submit("go on");
    a.finish_turn().await;
    let inputs = a.inputs();
    let texts: Vec<&Value> = inputs[2]
        .iter()
        .rev()
        .take(2)
        .map(|item| &item["content"][0]["text"])
        .collect();
    assert_eq!(texts, ["go on", "use tabs"]);
}
