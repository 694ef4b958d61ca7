//! Goals over the app-server, as hosts written for Codex 0.169 drive them: set, worked toward
//! turn after turn until the budget is spent or the model marks it complete, paused by an
//! interrupt, kept across a restart, cleared. Every line is checked against Codex's schema.

use serde_json::{Value, json};

use crate::app_server::{Server, logged_in};
use crate::fake_openai::{FakeOpenAi, Reply};

const CONTINUE: &str = "Continue working toward the active goal.";

fn started_thread(server: &mut Server, project: &tempfile::TempDir) -> String {
    let started = server.result("thread/start", json!({"cwd": project.path()}));
    started["thread"]["id"].as_str().unwrap().to_string()
}

/// The output of the first tool call a request to the model carries.
fn tool_output(request: &Value) -> String {
    request["input"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["type"] == "function_call_output")
        .unwrap()["output"]
        .as_str()
        .unwrap()
        .to_string()
}

fn methods(messages: &[Value]) -> Vec<&str> {
    messages
        .iter()
        .filter_map(|m| m["method"].as_str())
        .collect()
}

/// Whether a request to the model carried the goal's continuation, and offered the goal tools.
fn continues_the_goal(request: &Value) -> bool {
    let said = request["input"].as_array().unwrap().iter().any(|item| {
        item["role"] == "developer"
            && item["content"][0]["text"]
                .as_str()
                .unwrap()
                .contains(CONTINUE)
    });
    let offered = request["tools"]
        .as_array()
        .unwrap()
        .iter()
        .any(|tool| tool["name"] == "update_goal");
    said && offered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_goal_runs_turns_until_its_budget_is_spent_and_outlives_a_restart() {
    let fake = FakeOpenAi::start().await;
    // Each answer costs about 100 tokens (the fake's estimate): three turns spend 250.
    fake.set_fallback(|_| Reply::text("Still working on it."));
    let (mut server, project) = logged_in(&fake);
    let thread_id = started_thread(&mut server, &project);

    let set = server.result(
        "thread/goal/set",
        json!({"threadId": thread_id, "objective": "make the tests pass", "tokenBudget": 250}),
    );
    assert_eq!(set["goal"]["status"], "active");
    assert_eq!(set["goal"]["tokenBudget"], 250);
    assert_eq!(set["goal"]["threadId"], thread_id.as_str());

    // The core starts the turns itself; the host learns of each as of its own.
    let seen = server.until(|m| {
        m["method"] == "thread/goal/updated" && m["params"]["goal"]["status"] == "budgetLimited"
    });
    let turns = methods(&seen)
        .iter()
        .filter(|m| **m == "turn/started")
        .count();
    assert_eq!(turns, 3, "{:#?}", methods(&seen));
    let spent = seen.last().unwrap()["params"].clone();
    assert!(
        spent["goal"]["tokensUsed"].as_u64().unwrap() >= 250,
        "{spent}"
    );
    assert!(
        spent["turnId"].is_string(),
        "said within the turn that spent it: {spent}"
    );
    let after = server.until(|m| m["method"] == "turn/completed");
    assert_eq!(
        after.last().unwrap()["params"]["turn"]["status"],
        "completed"
    );
    // Spent: no turn follows.
    let (read, between) = server.call("thread/goal/get", json!({"threadId": thread_id}));
    assert!(!methods(&between).contains(&"turn/started"), "{between:#?}");
    assert_eq!(read["result"]["goal"]["status"], "budgetLimited");
    let requests = fake.requests_to("/responses");
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| continues_the_goal(r.json())));
    let first = requests[0].json().to_string();
    assert!(
        first.contains("make the tests pass") && first.contains("of 250"),
        "{first}"
    );

    // After a restart: read from the saved thread, then resumed, then cleared.
    let mut server = server.restarted(&fake);
    server.initialize(false);
    // A saved thread says where it is kept: the Python SDK will not start a goal without it.
    let kept = server.result("thread/read", json!({"threadId": thread_id}));
    let path = kept["thread"]["path"].as_str().unwrap();
    assert!(
        path.ends_with(".jsonl") && std::path::Path::new(path).exists(),
        "{kept}"
    );
    let saved = server.result("thread/goal/get", json!({"threadId": thread_id}));
    assert_eq!(saved["goal"], read["result"]["goal"]);
    server.result("thread/resume", json!({"threadId": thread_id}));
    let resumed = server.result("thread/goal/get", json!({"threadId": thread_id}));
    assert_eq!(resumed["goal"], read["result"]["goal"]);
    let cleared = server.result("thread/goal/clear", json!({"threadId": thread_id}));
    assert_eq!(cleared, json!({"cleared": true}));
    let note = server.notification("thread/goal/cleared");
    assert_eq!(note["threadId"], thread_id.as_str());
    let none = server.result("thread/goal/get", json!({"threadId": thread_id}));
    assert_eq!(none["goal"], Value::Null);
    let again = server.result("thread/goal/clear", json!({"threadId": thread_id}));
    assert_eq!(again, json!({"cleared": false}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_marks_its_goal_complete_and_an_interrupt_pauses_one() {
    let fake = FakeOpenAi::start().await;
    fake.push_responses([
        Reply::call("update_goal", json!({"status": "complete"})),
        Reply::text("Done: every test passes."),
    ]);
    let (mut server, project) = logged_in(&fake);
    let thread_id = started_thread(&mut server, &project);
    server.result(
        "thread/goal/set",
        json!({"threadId": thread_id, "objective": "make the tests pass"}),
    );
    let seen = server.until(|m| {
        m["method"] == "thread/goal/updated" && m["params"]["goal"]["status"] == "complete"
    });
    assert!(methods(&seen).contains(&"turn/started"));
    server.until(|m| m["method"] == "turn/completed");
    let (read, between) = server.call("thread/goal/get", json!({"threadId": thread_id}));
    assert!(!methods(&between).contains(&"turn/started"), "{between:#?}");
    assert_eq!(read["result"]["goal"]["status"], "complete");
    // What the model was told when it marked it.
    let requests = fake.requests_to("/responses");
    let output = tool_output(requests[1].json());
    assert!(output.contains(r#""status":"complete""#), "{output}");

    // A new objective, a turn that hangs, an interrupt: the goal is paused, nothing follows.
    fake.push_response(Reply::stall("Looking"));
    server.result(
        "thread/goal/set",
        json!({"threadId": thread_id, "objective": "write the docs"}),
    );
    let started = server.notification("turn/started");
    let turn_id = started["turn"]["id"].clone();
    // The request is out (its reply began) before the interrupt.
    server.notification("item/agentMessage/delta");
    server.result(
        "turn/interrupt",
        json!({"threadId": thread_id, "turnId": turn_id}),
    );
    let seen = server.until(|m| m["method"] == "turn/completed");
    let paused = seen
        .iter()
        .find(|m| m["method"] == "thread/goal/updated")
        .expect("the goal's update comes before the turn's end");
    assert_eq!(paused["params"]["goal"]["status"], "paused");
    assert_eq!(paused["params"]["goal"]["objective"], "write the docs");
    assert_eq!(
        seen.last().unwrap()["params"]["turn"]["status"],
        "interrupted"
    );
    // Resumed by the host, the work goes on.
    fake.push_response(Reply::call("update_goal", json!({"status": "blocked"})));
    fake.push_response(Reply::text("I need the docs' audience."));
    server.result(
        "thread/goal/set",
        json!({"threadId": thread_id, "status": "active"}),
    );
    server.until(|m| {
        m["method"] == "thread/goal/updated" && m["params"]["goal"]["status"] == "blocked"
    });
    server.until(|m| m["method"] == "turn/completed");
    // Refused in words: a budget of nothing, a change to no goal.
    let (refused, _) = server.call(
        "thread/goal/set",
        json!({"threadId": thread_id, "tokenBudget": 0}),
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("more than 0"),
        "{refused}"
    );
}

fn offers(request: &Value, tool: &str) -> bool {
    request["tools"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == tool)
}

/// Plan mode as codex-acp 2.6 switches it: the presets listed, the thread switched with
/// `thread/settings/update`, a plan turn that changes nothing (its command read-only, its
/// patch declined, no patch tool offered), then back to the default mode to implement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_turn_changes_nothing_and_the_default_mode_implements() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let modes = server.result("collaborationMode/list", json!({}));
    let names: Vec<&str> = modes["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mode"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["plan", "default"]);
    // Nothing asks: what the sandbox lets run, runs.
    let started = server.result(
        "thread/start",
        json!({"cwd": project.path(), "approvalPolicy": "never"}),
    );
    let thread_id = started["thread"]["id"].as_str().unwrap().to_string();
    let plan = json!({"mode": "plan", "settings": {"model": "gpt-5.5", "reasoning_effort": null, "developer_instructions": null}});
    let (answer, _) = server.call(
        "thread/settings/update",
        json!({"threadId": thread_id, "collaborationMode": plan}),
    );
    assert_eq!(answer["result"], json!({}));
    let said = server.notification("thread/settings/updated");
    assert_eq!(said["threadSettings"]["collaborationMode"]["mode"], "plan");

    fake.push_responses([
        Reply::call("shell", json!({"command": "touch made.txt"})),
        Reply::call(
            "apply_patch",
            json!({"input": "*** Begin Patch\n*** Add File: notes.md\n+hello\n*** End Patch\n"}),
        ),
        Reply::call(
            "update_plan",
            json!({"plan": [{"step": "write notes.md", "status": "pending"}]}),
        ),
        Reply::text("<proposed_plan>\n1. Write notes.md\n</proposed_plan>"),
    ]);
    let seen = server.turn(&json!(thread_id), "plan the notes");
    assert_eq!(
        seen.last().unwrap()["params"]["turn"]["status"],
        "completed"
    );
    // The command ran, in a sandbox that let it write nothing.
    let command = seen
        .iter()
        .find(|m| {
            m["method"] == "item/completed" && m["params"]["item"]["type"] == "commandExecution"
        })
        .expect("the command's item");
    assert_ne!(command["params"]["item"]["exitCode"], 0, "{command}");
    assert!(!project.path().join("made.txt").exists());
    assert!(!project.path().join("notes.md").exists());
    assert!(methods(&seen).contains(&"turn/plan/updated"), "{seen:#?}");
    let requests = fake.requests_to("/responses");
    assert!(requests.iter().all(|r| !offers(r.json(), "apply_patch")));
    let instructions = requests[0].json()["instructions"].as_str().unwrap();
    assert!(instructions.contains("# Plan mode"), "{instructions}");
    let declined = requests[2].json()["input"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|item| item["type"] == "function_call_output")
        .unwrap()["output"]
        .to_string();
    assert!(declined.contains("plan mode"), "{declined}");

    // "Implement the plan": the default mode, its tools and sandbox back.
    server.result(
        "thread/settings/update",
        json!({"threadId": thread_id, "collaborationMode": {"mode": "default", "settings": {"model": "gpt-5.5"}}}),
    );
    fake.push_response(Reply::text("Implementing it."));
    server.turn(&json!(thread_id), "Implement the plan.");
    let last = fake.requests_to("/responses").pop().unwrap();
    assert!(offers(last.json(), "apply_patch"));
    assert!(
        !last.json()["instructions"]
            .as_str()
            .unwrap()
            .contains("# Plan mode")
    );

    // What Codex hosts call beyond the stable schema is answered in words.
    for (method, words) in [
        ("turn/settings/update", "between turns"),
        ("thread/sample", "samples no thread"),
    ] {
        let (refused, _) = server.call(method, json!({"threadId": thread_id, "turnId": "t"}));
        let message = refused["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{method}: {message}");
    }
}

/// The model asks the person in plan mode (`request_user_input`): the host is asked with
/// `item/tool/requestUserInput`, and its answers are what the model reads back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_asks_the_host_a_question_in_plan_mode() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let thread_id = started_thread(&mut server, &project);
    server.result(
        "thread/settings/update",
        json!({"threadId": thread_id, "collaborationMode": {"mode": "plan", "settings": {"model": "gpt-5.5"}}}),
    );
    fake.push_responses([
        crate::support::which_database(),
        Reply::text("<proposed_plan>\n1. Use SQLite\n</proposed_plan>"),
    ]);
    server.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "plan the storage"}]}),
    );
    let seen = server.until(|m| m["method"] == "item/tool/requestUserInput");
    let request = seen.last().unwrap();
    let question = &request["params"]["questions"][0];
    assert_eq!(question["question"], "Which database?");
    assert_eq!(question["options"][1]["label"], "SQLite");
    assert_eq!(question["isOther"], true);
    server.send_raw(
        &json!({"id": request["id"], "result": {"answers": {"db": {"answers": ["SQLite"]}}}})
            .to_string(),
    );
    server.until(|m| m["method"] == "turn/completed");
    let requests = fake.requests_to("/responses");
    assert!(
        requests[0].json()["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "request_user_input"),
        "offered in plan mode"
    );
    let output = tool_output(requests[1].json());
    assert_eq!(output, r#"{"answers":{"db":{"answers":["SQLite"]}}}"#);
}

/// A budget spent within a turn: the model is told once to wrap up before its next request,
/// the turn ends, and the goal stops there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_spent_within_a_turn_tells_the_model_to_wrap_up() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let started = server.result(
        "thread/start",
        json!({"cwd": project.path(), "approvalPolicy": "never"}),
    );
    let thread_id = started["thread"]["id"].as_str().unwrap().to_string();
    fake.push_responses([
        Reply::call("shell", json!({"command": "true"})).usage(400, 0, 10, 0),
        Reply::text("Wrapped up: the parser is half done.").usage(400, 0, 10, 0),
    ]);
    server.result(
        "thread/goal/set",
        json!({"threadId": thread_id, "objective": "rewrite the parser", "tokenBudget": 300}),
    );
    let seen = server.until(|m| {
        m["method"] == "thread/goal/updated" && m["params"]["goal"]["status"] == "budgetLimited"
    });
    assert_eq!(
        methods(&seen)
            .iter()
            .filter(|m| **m == "turn/started")
            .count(),
        1
    );
    server.until(|m| m["method"] == "turn/completed");
    let requests = fake.requests_to("/responses");
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests.iter().map(told_to_wrap_up).collect::<Vec<_>>(),
        [0, 1],
        "told once, after the first response spent it"
    );
}

/// How many times a request tells the model the budget is spent.
fn told_to_wrap_up(request: &crate::fake_openai::Recorded) -> usize {
    request.json()["input"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| {
            item["role"] == "developer"
                && item["content"][0]["text"]
                    .as_str()
                    .is_some_and(|text| text.contains("is spent"))
        })
        .count()
}

/// The budget is a cap: a model told to wrap up that keeps calling tools ends the turn at its
/// next call (answered "budget spent", not run, and no request more), where it once took every
/// response the model had; `thread/goal/get` counts the tokens really used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_that_keeps_calling_tools_past_its_budget_is_stopped() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let started = server.result(
        "thread/start",
        json!({"cwd": project.path(), "approvalPolicy": "never"}),
    );
    let thread_id = started["thread"]["id"].as_str().unwrap().to_string();
    let marker = project.path().join("ran");
    let call = json!({"command": format!("echo x >> {}", marker.display())});
    fake.push_responses((0..30).map(|_| Reply::call("shell", call.clone()).usage(1_000, 0, 0, 0)));
    server.result(
        "thread/goal/set",
        json!({"threadId": thread_id, "objective": "keep going", "tokenBudget": 2000}),
    );
    server.until(|m| {
        m["method"] == "thread/goal/updated" && m["params"]["goal"]["status"] == "budgetLimited"
    });
    server.until(|m| m["method"] == "turn/completed");
    let requests = fake.requests_to("/responses");
    assert_eq!(requests.len(), 3, "no request after the wrap-up's answer");
    let ran = std::fs::read_to_string(&marker).unwrap_or_default();
    assert_eq!(
        ran.lines().count(),
        2,
        "the call after the wrap-up is not run"
    );
    let goal = server.result("thread/goal/get", json!({"threadId": thread_id}));
    assert_eq!(goal["goal"]["tokensUsed"], 3000, "{goal}");
    assert_eq!(goal["goal"]["status"], "budgetLimited");
}

/// The output of the last tool call the newest request to the model carries.
fn last_tool_output(fake: &FakeOpenAi) -> String {
    let request = fake.requests_to("/responses").pop().unwrap();
    request.json()["input"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|item| item["type"] == "function_call_output")
        .unwrap()["output"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Plan mode's commands, which run unasked, reach none of the person's loopback services even
/// where the network is on for the work: a plan turn's connection to a port on this machine
/// never arrives, and the same command in the default mode does (the twin).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_turns_commands_get_no_network() {
    let fake = FakeOpenAi::start().await;
    let mut server = Server::start_with(
        &fake,
        tempfile::tempdir().unwrap(),
        &["app-server", "--listen", "stdio://", "--network", "on"],
        &[],
    );
    server.initialize(false);
    server.result(
        "account/login/start",
        json!({"type": "apiKey", "apiKey": fake.api_key()}),
    );
    let project = tempfile::tempdir().unwrap();
    let service = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    service.set_nonblocking(true).unwrap();
    let port = service.local_addr().unwrap().port();
    let connect = format!("bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}' && echo reached");
    let started = server.result(
        "thread/start",
        json!({"cwd": project.path(), "approvalPolicy": "never", "sandbox": "workspace-write"}),
    );
    let thread_id = started["thread"]["id"].as_str().unwrap().to_string();
    let mode = |name: &str| json!({"threadId": thread_id, "collaborationMode": {"mode": name, "settings": {"model": "gpt-5.5"}}});
    fake.push_responses([
        Reply::call("shell", json!({"command": connect})),
        Reply::text("Done."),
    ]);
    server.turn(&json!(thread_id), "connect");
    let output = last_tool_output(&fake);
    assert!(output.contains("reached"), "the service is there: {output}");
    assert!(service.accept().is_ok());
    server.result("thread/settings/update", mode("plan"));
    fake.push_responses([
        Reply::call("shell", json!({"command": connect})),
        Reply::text("<proposed_plan>\n1. Nothing\n</proposed_plan>"),
    ]);
    server.turn(&json!(thread_id), "look around");
    let output = last_tool_output(&fake);
    assert!(!output.contains("reached"), "{output}");
    assert!(
        service.accept().is_err(),
        "a plan turn's command reached the service"
    );

    server.result("thread/settings/update", mode("default"));
    fake.push_responses([
        Reply::call("shell", json!({"command": connect})),
        Reply::text("Done."),
    ]);
    server.turn(&json!(thread_id), "connect");
    let output = last_tool_output(&fake);
    assert!(output.contains("reached"), "{output}");
    assert!(service.accept().is_ok(), "in the default mode it arrives");
}
