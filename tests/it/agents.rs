//! A team of agents through the core, against the fake server (which answers each request by
//! what it carries): a parent spawns children with Codex's collaboration tools, the children
//! work at once on their own models, their final answers reach the parent, a child's approval
//! names it, and interrupting the parent stops them.

use std::time::Duration;

use kelp::config::agents::AgentRole;
use kelp::protocol::{ApprovalDecision, ApprovalMode, Event, Op, Submission, TurnOutcome};
use serde_json::{Value, json};

use crate::agent_loop::{Agent, agent_setup};
use crate::fake_openai::Reply;

/// The whole input of a request, as text.
fn said(request: &Value) -> String {
    request["input"].to_string()
}

/// Whose request this is: the child named in its task, else the parent.
fn child_of(request: &Value) -> Option<&'static str> {
    let input = said(request);
    ["alpha", "beta"]
        .into_iter()
        .find(|name| input.contains(&format!("Message Type: NEW_TASK\\nTask name: /root/{name}")))
}

fn outputs(request: &Value) -> usize {
    request["input"].as_array().map_or(0, |input| {
        input
            .iter()
            .filter(|item| item["type"] == "function_call_output")
            .count()
    })
}

/// A parent with the collaboration tools on and a `worker` role whose file names its model.
async fn team(
    answer: impl Fn(&Value) -> Reply + Send + Sync + 'static,
) -> (Agent, tempfile::TempDir) {
    let roles = tempfile::tempdir().unwrap();
    let role_file = roles.path().join("worker.toml");
    std::fs::write(
        &role_file,
        "model = \"gpt-5.4-mini\"\nmodel_reasoning_effort = \"low\"\n\
         developer_instructions = \"You are the worker. Be brief.\"\n",
    )
    .unwrap();
    let agent = agent_setup(|config, _| {
        config.approval = ApprovalMode::Ask;
        config.model = Some("gpt-5.5".into());
        config.agents.enabled = true;
        config.agents.roles = vec![AgentRole {
            name: "worker".into(),
            description: "Small jobs, fast.".into(),
            config_file: Some(role_file),
        }];
    })
    .await;
    agent.fake.set_fallback(answer);
    (agent, roles)
}

fn spawn_both() -> Reply {
    Reply::call(
        "spawn_agent",
        json!({"task_name": "alpha", "message": "say hi", "agent_type": "worker"}),
    )
    .and_call(
        "spawn_agent",
        json!({"task_name": "beta", "message": "make a file", "fork_turns": "none"}),
    )
}

#[tokio::test]
async fn a_parent_spawns_two_children_that_work_at_once_and_waits_for_both_answers() {
    let (mut agent, _roles) = team(|request| match child_of(request) {
        // Slow: it is still answering while beta asks and works.
        Some("alpha") => Reply::text("alpha says hi").delay(Duration::from_millis(150)),
        Some(_) if outputs(request) == 0 => {
            Reply::call("shell", json!({"command": "touch beta-was-here"}))
        }
        Some(_) => Reply::text("beta made it"),
        None if outputs(request) == 0 => spawn_both(),
        None if said(request).matches("Message Type: FINAL_ANSWER").count() < 2 => {
            Reply::call("wait_agent", json!({"timeout_ms": 20000}))
        }
        None => Reply::text("both answered"),
    })
    .await;
    agent.submit("go team");

    // A child's events reach the face as the child's own; what it asks, the person answers.
    let seen = agent
        .until(|e| matches!(e, Event::OfAgent(of) if matches!(of.event, Event::ApprovalRequested { .. })))
        .await;
    let Some(Event::OfAgent(of)) = seen.last().cloned() else {
        unreachable!()
    };
    assert_eq!(of.path, "/root/beta");
    let Some(Event::ApprovalRequested {
        id, agent: asker, ..
    }) = of.for_person()
    else {
        unreachable!()
    };
    assert_eq!(
        asker.as_deref(),
        Some("/root/beta"),
        "the child that asks is named"
    );
    // Beta waits on the person, in the middle of its turn: alpha works meanwhile.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !agent
        .fake
        .requests_to("/responses")
        .iter()
        .any(|r| child_of(r.json()) == Some("alpha"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "alpha works while beta asks"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    agent.approve(id, ApprovalDecision::Yes);
    let (_, outcome) = agent.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    assert!(agent.dir().join("beta-was-here").exists());

    let requests: Vec<Value> = agent
        .fake
        .requests_to("/responses")
        .iter()
        .map(|r| r.json().clone())
        .collect();
    let alpha = requests
        .iter()
        .find(|r| child_of(r) == Some("alpha"))
        .unwrap();
    assert_eq!(
        alpha["model"], "gpt-5.4-mini",
        "the role's model is the one requests carry"
    );
    assert_eq!(alpha["reasoning"]["effort"], "low");
    assert!(said(alpha).contains("You are the worker. Be brief."));
    assert!(
        said(alpha).contains("go team"),
        "a forked child reads its parent's history"
    );
    let beta = requests
        .iter()
        .find(|r| child_of(r) == Some("beta"))
        .unwrap();
    assert_eq!(
        beta["model"], "gpt-5.5",
        "without a role, the parent's model"
    );
    assert!(
        !said(beta).contains("go team"),
        "fork_turns none: the task alone"
    );

    let parent: Vec<&Value> = requests.iter().filter(|r| child_of(r).is_none()).collect();
    let tools = parent[0]["tools"].as_array().unwrap();
    let namespace = tools.iter().find(|t| t["name"] == "collaboration").unwrap();
    assert_eq!(namespace["type"], "namespace");
    let last = said(parent.last().unwrap());
    assert!(last.contains("Message Type: FINAL_ANSWER\\nTask name: /root\\nSender: /root/alpha\\nPayload:\\nalpha says hi"), "{last}");
    assert!(
        last.contains("Sender: /root/beta\\nPayload:\\nbeta made it"),
        "{last}"
    );
    assert!(
        last.contains(r#"{\"task_name\":\"/root/alpha\"}"#),
        "{last}"
    );
    assert!(last.contains("Wait completed."), "{last}");
    let calls: Vec<&Value> = parent.last().unwrap()["input"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["type"] == "function_call")
        .collect();
    assert!(
        calls
            .iter()
            .all(|call| call["namespace"] == "collaboration"),
        "{calls:?}"
    );

    // Each child's conversation is saved under its parent, titled by its task.
    let saved: Vec<_> = kelp::session::list_sessions(&agent.config.state_dir, None).collect();
    let parent = saved.iter().find(|s| s.agent.is_none()).unwrap().id;
    let nested = kelp::session::under_parents(saved.clone());
    let shown: Vec<(Option<&str>, usize)> = nested
        .iter()
        .map(|(summary, depth)| (summary.first_prompt.as_deref(), *depth))
        .collect();
    assert_eq!(shown.len(), 3, "{shown:?}");
    assert_eq!(shown[0], (Some("go team"), 0));
    let mut children: Vec<_> = shown[1..].to_vec();
    children.sort();
    assert_eq!(
        children,
        [
            (Some("/root/alpha: say hi"), 1),
            (Some("/root/beta: make a file"), 1)
        ]
    );
    assert!(
        nested[1..]
            .iter()
            .all(|(child, _)| child.agent.as_ref().unwrap().parent == parent)
    );
    assert_eq!(
        kelp::session::latest_for(&agent.config.state_dir, agent.dir()).map(|s| s.id),
        Some(parent),
        "--continue reopens the person's conversation, not an agent's"
    );
}

#[tokio::test]
async fn interrupting_the_parent_stops_its_children_and_a_bad_call_is_told_to_the_model() {
    let (mut agent, _roles) = team(|request| {
        let input = said(request);
        match child_of(request) {
            // The children never finish on their own.
            Some(_) => Reply::stall("working"),
            None if input.contains("list them") && !input.contains("\"list_agents\"") => {
                Reply::call("followup_task", json!({"target": "nobody", "message": "x"}))
                    .and_call("list_agents", json!({}))
            }
            None if input.contains("list them") => Reply::text("listed"),
            None if outputs(request) == 0 => spawn_both(),
            None => Reply::call("wait_agent", json!({"timeout_ms": 600000})),
        }
    })
    .await;
    agent.submit("go team");
    // Both children are at work (their requests are out), the parent waits for them.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let requests = agent.fake.requests_to("/responses");
        let children = requests
            .iter()
            .filter(|r| child_of(r.json()).is_some())
            .count();
        let waiting = requests.iter().any(|r| outputs(r.json()) == 2);
        if children == 2 && waiting {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "both children start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    agent.interrupt();
    let (_, outcome) = agent.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Interrupted);

    agent.send(Op::Submit(Submission::text("list them")));
    let (_, outcome) = agent.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    let parent: Vec<Value> = agent
        .fake
        .requests_to("/responses")
        .iter()
        .map(|r| r.json().clone())
        .filter(|r| child_of(r).is_none())
        .collect();
    let last = said(parent.last().unwrap());
    assert!(
        last.contains("live agent path `/root/nobody` not found"),
        "{last}"
    );
    for name in ["alpha", "beta"] {
        assert!(
            last.contains(&format!(
                r#"{{\"agent_name\":\"/root/{name}\",\"agent_status\":\"interrupted\"}}"#
            )),
            "{name} was interrupted: {last}"
        );
    }

    // A new conversation: the agents the last one spawned are gone with it.
    agent.send(Op::NewConversation);
    agent.submit("list them");
    let (_, outcome) = agent.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    let last = said(
        &agent
            .fake
            .requests_to("/responses")
            .last()
            .unwrap()
            .json()
            .clone(),
    );
    assert!(
        last.contains(r#"{\"agents\":[{\"agent_name\":\"/root\",\"agent_status\":\"running\"}]}"#),
        "{last}"
    );
}

/// The parent's answers in the app-server and exec tests: spawn two agents that answer at once,
/// wait until both answered, then say so.
fn parent_waits_for_two(request: &Value) -> Reply {
    match child_of(request) {
        Some(name) => Reply::text(format!("{name} is done")),
        None if outputs(request) == 0 => Reply::call(
            "spawn_agent",
            json!({"task_name": "alpha", "message": "say hi"}),
        )
        .and_call(
            "spawn_agent",
            json!({"task_name": "beta", "message": "make a file", "fork_turns": "none"}),
        ),
        None if said(request).matches("Message Type: FINAL_ANSWER").count() < 2 => {
            Reply::call("wait_agent", json!({"timeout_ms": 20000}))
        }
        None => Reply::text("both answered"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_server_announces_the_agents_as_codex_does() {
    let fake = crate::fake_openai::FakeOpenAi::start().await;
    fake.set_fallback(parent_waits_for_two);
    let (mut server, _project, thread_id) =
        crate::app_server::Server::with_thread(&fake, "[features]\nmulti_agent_v2 = true\n");
    server.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "go team"}]}),
    );
    let seen =
        server.until(|m| m["method"] == "turn/completed" && m["params"]["threadId"] == thread_id);
    let items: Vec<&Value> = seen
        .iter()
        .filter(|m| m["method"] == "item/completed" && m["params"]["threadId"] == thread_id)
        .map(|m| &m["params"]["item"])
        .collect();
    let activity = |kind: &str| -> Vec<&str> {
        let mut paths: Vec<&str> = items
            .iter()
            .filter(|item| item["type"] == "subAgentActivity" && item["kind"] == kind)
            .map(|item| item["agentPath"].as_str().unwrap())
            .collect();
        paths.sort_unstable();
        paths
    };
    assert_eq!(activity("started"), ["/root/alpha", "/root/beta"]);
    assert_eq!(activity("completed"), ["/root/alpha", "/root/beta"]);
    let alpha = items
        .iter()
        .find(|item| item["type"] == "subAgentActivity" && item["agentPath"] == "/root/alpha")
        .unwrap();
    assert_eq!(
        alpha["model"], "gpt-5.5",
        "a worker role is not configured here: the parent's"
    );
    assert!(uuid::Uuid::parse_str(alpha["agentThreadId"].as_str().unwrap()).is_ok());
    // The agent's own thread says how it stands, as Codex 0.171 says it on the parent's
    // connection: idle as it is made, active while it works, idle once done.
    let alpha_thread = alpha["agentThreadId"].as_str().unwrap();
    let statuses: Vec<&str> = seen
        .iter()
        .filter(|m| {
            m["method"] == "thread/status/changed" && m["params"]["threadId"] == alpha_thread
        })
        .map(|m| m["params"]["status"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["idle", "active", "idle"], "{seen:#?}");
    // Its turn is its own thread's, as Codex 0.171 sends it to the parent's clients: its
    // start, its answer, its end, under one turn id, after it was made.
    let on_alpha: Vec<&Value> = seen
        .iter()
        .filter(|m| m["params"]["threadId"] == alpha_thread)
        .collect();
    let said: Vec<&str> = on_alpha
        .iter()
        .map(|m| m["method"].as_str().unwrap())
        .filter(|method| !method.ends_with("/delta"))
        .collect();
    let made = seen
        .iter()
        .position(|m| {
            m["method"] == "item/started" && m["params"]["item"]["agentThreadId"] == alpha_thread
        })
        .unwrap();
    let began = seen
        .iter()
        .position(|m| m["method"] == "turn/started" && m["params"]["threadId"] == alpha_thread)
        .unwrap();
    assert!(made < began, "{said:?}");
    let turn = &seen[began]["params"]["turn"]["id"];
    let answered = on_alpha
        .iter()
        .find(|m| m["method"] == "item/completed" && m["params"]["item"]["type"] == "agentMessage")
        .unwrap();
    assert_eq!(answered["params"]["item"]["text"], "alpha is done");
    assert_eq!(&answered["params"]["turnId"], turn);
    let ended = on_alpha
        .iter()
        .find(|m| m["method"] == "turn/completed")
        .unwrap();
    assert_eq!(&ended["params"]["turn"]["id"], turn);
    assert_eq!(ended["params"]["turn"]["status"], "completed");
    let waits: Vec<&&Value> = items
        .iter()
        .filter(|item| item["type"] == "collabAgentToolCall")
        .collect();
    assert!(!waits.is_empty(), "{items:#?}");
    assert!(waits.iter().all(|wait| wait["tool"] == "wait"
        && wait["status"] == "completed"
        && wait["senderThreadId"] == thread_id));
    assert!(
        !items.iter().any(|item| item["type"] == "commandExecution"),
        "no collaboration call shows as a command: {items:#?}"
    );
    let answer = items
        .iter()
        .rev()
        .find(|item| item["type"] == "agentMessage")
        .unwrap();
    assert_eq!(answer["text"], "both answered");
    // The agents' threads are the spawned kind, as Codex's: left out of the person's list,
    // listed when asked for by kind or by their parent, each naming its parent and path.
    let ids = |listed: &Value| -> Vec<String> {
        let mut ids: Vec<String> = listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let own = server.result("thread/list", json!({}));
    assert_eq!(ids(&own), [thread_id.as_str().unwrap()], "{own}");
    let beta_thread = items
        .iter()
        .find(|item| item["type"] == "subAgentActivity" && item["agentPath"] == "/root/beta")
        .unwrap()["agentThreadId"]
        .as_str()
        .unwrap();
    let mut agents = vec![alpha_thread.to_string(), beta_thread.to_string()];
    agents.sort();
    let spawned = server.result(
        "thread/list",
        json!({"sourceKinds": ["subAgentThreadSpawn"]}),
    );
    assert_eq!(ids(&spawned), agents, "{spawned}");
    let children = server.result("thread/list", json!({"parentThreadId": thread_id}));
    assert_eq!(ids(&children), agents, "{children}");
    let below = server.result("thread/list", json!({"ancestorThreadId": thread_id}));
    assert_eq!(ids(&below), agents, "{below}");
    let of_alpha = server.result("thread/list", json!({"parentThreadId": alpha_thread}));
    assert!(ids(&of_alpha).is_empty(), "{of_alpha}");
    let alpha_listed = children["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == alpha_thread)
        .unwrap();
    assert_eq!(
        alpha_listed["source"],
        json!({"subAgent": {"thread_spawn": {"parent_thread_id": thread_id, "depth": 1,
               "agent_path": "/root/alpha", "agent_nickname": null, "agent_role": null}}})
    );
    assert_eq!(alpha_listed["parentThreadId"], thread_id);
    assert_eq!(alpha_listed["threadSource"], "subagent");

    // Read again (a host reopening the conversation), the parent's turn shows its team as it
    // showed live, as Codex's does: each agent started and finished, the waits, and none of
    // what the agents sent it as the person's words.
    let read = server.result(
        "thread/read",
        json!({"threadId": thread_id, "includeTurns": true}),
    );
    let turns = read["thread"]["turns"].as_array().unwrap();
    let kept: Vec<String> = turns.last().unwrap()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| match item["type"].as_str().unwrap() {
            "subAgentActivity" => format!(
                "{} {}",
                item["kind"].as_str().unwrap(),
                item["agentPath"].as_str().unwrap()
            ),
            other => other.to_string(),
        })
        .collect();
    let count = |wanted: &str| kept.iter().filter(|k| *k == wanted).count();
    assert_eq!(count("userMessage"), 1, "{kept:?}");
    for agent in ["/root/alpha", "/root/beta"] {
        assert_eq!(count(&format!("started {agent}")), 1, "{kept:?}");
        assert_eq!(count(&format!("completed {agent}")), 1, "{kept:?}");
    }
    assert!(count("collabAgentToolCall") >= 1, "{kept:?}");
    assert_eq!(kept.last().map(String::as_str), Some("agentMessage"));

    // The agents' threads are loaded while their team is: a host (codex-acp reopening a
    // session) reads and resumes one, answered from its conversation as it stands.
    let loaded = server.result("thread/loaded/list", json!({}));
    for id in [alpha_thread, beta_thread, thread_id.as_str().unwrap()] {
        assert!(
            loaded["data"].as_array().unwrap().iter().any(|t| t == id),
            "{loaded}"
        );
    }
    let read = server.result("thread/read", json!({"threadId": alpha_thread}));
    assert_eq!(read["thread"]["status"]["type"], "idle", "{read}");
    let resumed = server.result("thread/resume", json!({"threadId": alpha_thread}));
    assert_eq!(resumed["thread"]["id"], alpha_thread);
    assert_eq!(resumed["thread"]["parentThreadId"], thread_id);
    assert_eq!(resumed["thread"]["status"]["type"], "idle");
    // Its own turn after what it inherited of its parent's (`fork_turns` all, the default).
    let turns = resumed["thread"]["turns"].as_array().unwrap();
    assert_eq!(turns.len(), 2, "{resumed}");
    assert!(
        turns[1]["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|item| item["text"] == "alpha is done"),
        "{resumed}"
    );

    // A host speaks to the agent on its own thread (Codex's TUI does, switched to an agent):
    // the turn is the agent's, its answer on its thread.
    let started = server.result(
        "turn/start",
        json!({"threadId": alpha_thread, "input": [{"type": "text", "text": "say more"}]}),
    );
    let turn = started["turn"]["id"].clone();
    let seen = server
        .until(|m| m["method"] == "turn/completed" && m["params"]["threadId"] == alpha_thread);
    assert_eq!(seen.last().unwrap()["params"]["turn"]["id"], turn);
    assert_eq!(
        seen.last().unwrap()["params"]["turn"]["status"],
        "completed"
    );
    let began: Vec<&Value> = seen
        .iter()
        .filter(|m| m["method"] == "turn/started")
        .collect();
    assert_eq!(began.len(), 1, "announced once: {began:?}");
    assert_eq!(began[0]["params"]["threadId"], alpha_thread);
    let answered = seen
        .iter()
        .find(|m| m["method"] == "item/completed" && m["params"]["item"]["type"] == "agentMessage")
        .unwrap();
    assert_eq!(answered["params"]["threadId"], alpha_thread);
    assert_eq!(answered["params"]["turnId"], turn);
    let asked = fake.requests_to("/responses");
    let last = asked.last().unwrap().json()["input"].to_string();
    assert!(
        last.contains("say more") && last.contains("Task name: /root/alpha"),
        "{last}"
    );
}

/// What an agent asks is asked on its own thread, as Codex 0.171 asks it (codex-acp routes it
/// to the agent's session): the agent's command item there first, the request naming the
/// agent, the answer resolved there, and the command run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_approval_is_asked_on_its_own_thread_naming_it() {
    let fake = crate::fake_openai::FakeOpenAi::start().await;
    fake.set_fallback(|request| match child_of(request) {
        Some(_) if outputs(request) == 0 => {
            Reply::call("shell", json!({"command": "touch beta-was-here"}))
        }
        Some(_) => Reply::text("beta made it"),
        None if outputs(request) == 0 => Reply::call(
            "spawn_agent",
            json!({"task_name": "beta", "message": "make a file", "fork_turns": "none"}),
        ),
        None if !said(request).contains("Message Type: FINAL_ANSWER") => {
            Reply::call("wait_agent", json!({"timeout_ms": 20000}))
        }
        None => Reply::text("beta answered"),
    });
    let (mut server, project, thread_id) = crate::app_server::Server::with_thread_asking(
        &fake,
        "[features]\nmulti_agent_v2 = true\n",
        "untrusted",
    );
    server.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "go team"}]}),
    );
    let asked = server.until(|m| m["method"] == "item/commandExecution/requestApproval");
    let seen = &asked;
    let request = seen.last().unwrap();
    let beta_thread = seen
        .iter()
        .find(|m| m["params"]["item"]["type"] == "subAgentActivity")
        .unwrap()["params"]["item"]["agentThreadId"]
        .clone();
    assert_eq!(request["params"]["threadId"], beta_thread, "{request}");
    assert_eq!(request["params"]["command"], "touch beta-was-here");
    assert_eq!(request["params"]["reason"], "asked by the agent /root/beta");
    let beta_turn = &seen
        .iter()
        .find(|m| m["method"] == "turn/started" && m["params"]["threadId"] == beta_thread)
        .unwrap()["params"]["turn"]["id"];
    assert_eq!(&request["params"]["turnId"], beta_turn);
    let item = seen
        .iter()
        .find(|m| {
            m["method"] == "item/started" && m["params"]["item"]["type"] == "commandExecution"
        })
        .unwrap();
    assert_eq!(
        item["params"]["threadId"], beta_thread,
        "the agent's item, on its thread"
    );
    assert_eq!(item["params"]["item"]["id"], request["params"]["itemId"]);
    // While it waits, a host that reads the threads sees which one waits on the person.
    let status_of = |server: &mut crate::app_server::Server, id: &Value| {
        server.result("thread/read", json!({"threadId": id}))["thread"]["status"].clone()
    };
    assert_eq!(
        status_of(&mut server, &beta_thread),
        json!({"type": "active", "activeFlags": ["waitingOnApproval"]})
    );
    assert_eq!(
        status_of(&mut server, &json!(thread_id)),
        json!({"type": "active", "activeFlags": []})
    );
    server.send_raw(&json!({"id": request["id"], "result": {"decision": "accept"}}).to_string());

    let seen =
        server.until(|m| m["method"] == "turn/completed" && m["params"]["threadId"] == thread_id);
    let resolved = seen
        .iter()
        .find(|m| m["method"] == "serverRequest/resolved")
        .unwrap();
    assert_eq!(resolved["params"]["threadId"], beta_thread);
    let ran = seen
        .iter()
        .find(|m| {
            m["method"] == "item/completed" && m["params"]["item"]["type"] == "commandExecution"
        })
        .unwrap();
    assert_eq!(ran["params"]["threadId"], beta_thread);
    assert_eq!(ran["params"]["item"]["status"], "completed");
    assert!(
        !asked
            .iter()
            .chain(&seen)
            .any(|m| m["params"]["threadId"] == thread_id
                && m["params"]["item"]["type"] == "commandExecution"),
        "the agent's command is no item of its parent's"
    );
    assert!(project.path().join("beta-was-here").exists());
    assert_eq!(
        status_of(&mut server, &beta_thread),
        json!({"type": "idle"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kelp_exec_prints_codexs_events_for_a_team() {
    let fake = crate::fake_openai::FakeOpenAi::start().await;
    fake.set_fallback(parent_waits_for_two);
    let home = tempfile::tempdir().unwrap();
    let mut cmd = crate::cli_exec::kelp_exec(&fake, home.path());
    cmd.args([
        "--skip-git-repo-check",
        "--enable",
        "multi_agent_v2",
        "go team",
    ]);
    let out = crate::cli_exec::run(cmd, "").await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = crate::cli_exec::events(&out);
    let thread = events[0]["thread_id"].clone();
    let waits: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "item.completed" && e["item"]["type"] == "collab_tool_call")
        .map(|e| &e["item"])
        .collect();
    assert!(!waits.is_empty(), "{events:#?}");
    assert!(waits.iter().all(|wait| wait["tool"] == "wait"
        && wait["status"] == "completed"
        && wait["sender_thread_id"] == thread
        && wait["receiver_thread_ids"] == json!([])
        && wait["prompt"].is_null()
        && wait["agents_states"] == json!({})));
    let last = events
        .iter()
        .rev()
        .find(|e| e["item"]["type"] == "agent_message")
        .unwrap();
    assert_eq!(last["item"]["text"], "both answered");
}

/// A git repository `shop` in `dir` with one commit, by its real path.
fn shop_repository(dir: &std::path::Path) -> std::path::PathBuf {
    let repo = dir.join("shop");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join("README.md"), "shop\n").unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "first"]);
    std::fs::canonicalize(repo).unwrap()
}

/// Runs git in `dir`, which must succeed.
fn git(dir: &std::path::Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .args(["-c", "user.name=k", "-c", "user.email=k@k"])
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

#[tokio::test]
async fn a_child_given_a_worktree_works_there_and_not_in_its_parents_folder() {
    let made_repo = std::sync::Arc::new(std::sync::Mutex::new(None));
    let repo_slot = made_repo.clone();
    let mut agent = agent_setup(move |config, options| {
        config.approval = ApprovalMode::FullAuto;
        config.model = Some("gpt-5.5".into());
        config.agents.enabled = true;
        // The repository sits in the test's folder, so kelp's folder beside it does too.
        let repo = shop_repository(&options.project_dir);
        options.project_dir = repo.clone();
        *repo_slot.lock().unwrap() = Some(repo);
    })
    .await;
    let repo = made_repo.lock().unwrap().clone().unwrap();
    agent.fake.set_fallback(|request| match child_of(request) {
        Some(_) if outputs(request) == 0 => {
            Reply::call("shell", json!({"command": "echo built > alpha-was-here"}))
        }
        Some(_) => Reply::text("alpha built it"),
        None if outputs(request) == 0 => Reply::call(
            "spawn_agent",
            json!({"task_name": "alpha", "message": "build", "worktree": true, "fork_turns": "none"}),
        ),
        None if !said(request).contains("Message Type: FINAL_ANSWER") => {
            Reply::call("wait_agent", json!({"timeout_ms": 20000}))
        }
        None => Reply::text("alpha is done"),
    });
    agent.submit("build it apart");
    let (_, outcome) = agent.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);

    let listed = kelp::agent::worktree::list(&repo).unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let worktree = &listed[0];
    assert_eq!(
        worktree.root,
        repo.parent()
            .unwrap()
            .join(".kelp-worktrees")
            .join(&worktree.id)
            .join("shop")
    );
    assert_eq!(
        std::fs::read_to_string(worktree.root.join("alpha-was-here")).unwrap(),
        "built\n",
        "the child's command ran in its worktree, in the sandbox"
    );
    assert!(!repo.join("alpha-was-here").exists());
    assert_eq!(worktree.state, kelp::agent::worktree::State::Changed(1));

    // The parent was told where the child works.
    let requests = agent.fake.requests_to("/responses");
    let last = said(requests.last().unwrap().json());
    let branch = format!("kelp/{}", worktree.id);
    assert!(last.contains(&branch), "{last}");
    // The child's conversation is saved in its worktree.
    let saved: Vec<_> = kelp::session::list_sessions(&agent.config.state_dir, None).collect();
    let child = saved.iter().find(|s| s.agent.is_some()).unwrap();
    assert_eq!(child.project_dir, worktree.root);
}

/// The command center in an 80×24 SSH window, the real client against the fake's team: the
/// agent that asks is listed under Needs you, Enter shows its conversation, the answer lets it
/// go on, and Esc comes back to the person's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_center_lists_the_agent_that_asks_under_needs_you_and_opens_it() {
    let wait = Duration::from_secs(30);
    let fake = crate::fake_openai::FakeOpenAi::start().await;
    fake.set_scenario(crate::fake_openai::Scenario::Team);
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let project_arg = project.path().to_string_lossy().into_owned();
    let mut pty = crate::tui_e2e::over_ssh(
        &fake,
        home.path(),
        &["--enable", "multi_agent_v2", "--cd", &project_arg],
        &[("KELP_APPROVAL", "ask")],
    );
    pty.wait_for("Ask anything", wait);
    pty.send("split the work\r");
    pty.wait_for("Allow it?", wait);
    // Alt+A opens the center while the approval waits.
    pty.send("\x1ba");
    let list = pty.wait_until(
        |screen| screen.contains("Needs you (1)") && screen.contains("Ready (1)"),
        wait,
        "the builder waiting and the reader done",
    );
    let at = |needle: &str| crate::pty::row_of(&list, needle);
    assert!(
        at("Needs you (1)") < at("/root/builder  Leave a note."),
        "{list}"
    );
    assert!(at("/root/builder") < at("Working (1)"), "{list}");
    assert!(
        at("Working (1)") < at("/root  (here) split the work"),
        "{list}"
    );
    assert!(
        at("Ready (1)") < at("/root/reader  Read the README"),
        "{list}"
    );
    assert!(list.contains("asks to run: touch team-notes.md"), "{list}");
    assert!(
        !list.contains("Inactive"),
        "the conversation here is listed once, as the one here: {list}"
    );
    assert!(
        list.contains("› /root/builder"),
        "the one that needs you is chosen first"
    );

    pty.send("\r");
    pty.wait_for("/root/builder · its conversation", wait);
    // The question takes no answer until it has been on screen a moment (so a key typed
    // ahead never approves); it was under the center until now.
    std::thread::sleep(Duration::from_millis(800));
    pty.send("y");
    pty.wait_for("/root/builder is done.", wait);
    assert!(project.path().join("team-notes.md").exists());
    pty.send("\x1b");
    let own = pty.wait_for("Both agents answered", wait);
    assert!(!own.contains("its conversation, as saved"), "{own}");
    pty.send("\x04");
    assert!(pty.wait_exit(wait));
}

/// The command center's screen at 80×24: three agents of this conversation and a saved one,
/// the one waiting on its approval first.
#[test]
fn the_command_center_groups_the_agents_by_what_they_wait_for() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use kelp::protocol::{
        AgentActivity, AgentActivityKind, AgentRow, AgentState, ApprovalSubject, Reply,
    };
    use std::time::SystemTime;

    let (mut app, mut sent) = crate::tui_snapshots::logged_in();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    app.freeze_time(now);
    for (path, conversation) in [("/root/reader", "c-reader"), ("/root/builder", "c-builder")] {
        app.handle_core_event(Event::AgentActivity(AgentActivity {
            id: format!("call-{path}"),
            kind: AgentActivityKind::Started,
            path: path.into(),
            conversation: conversation.into(),
            model: None,
            effort: None,
        }));
    }
    app.handle_core_event(Event::ApprovalRequested {
        id: 7,
        call_id: "call-touch".into(),
        subject: ApprovalSubject::Command {
            command: "touch team-notes.md".into(),
            workdir: "/work/project".into(),
            always_prefix: None,
        },
        agent: Some("/root/builder".into()),
    });
    app.handle_key(KeyEvent::new(KeyCode::Char('a'), KeyModifiers::ALT));
    let asked: Vec<Op> = std::iter::from_fn(|| sent.try_recv().ok()).collect();
    assert!(
        asked.contains(&Op::ListAgents { saved: true }),
        "the saved conversations are read as it opens: {asked:?}"
    );
    let row = |conversation: &str, path: Option<&str>, title: &str, state, last: &str, ago: u64| {
        AgentRow {
            conversation: conversation.into(),
            path: path.map(str::to_string),
            title: title.into(),
            project: "/work/project".into(),
            state,
            last_line: Some(last.into()),
            tokens: 2_400,
            since: Some(now - Duration::from_secs(ago)),
            file: None,
            on_server: false,
        }
    };
    app.handle_core_event(Event::Reply(Reply::Agents {
        saved: true,
        rows: vec![
            row(
                "c-reader",
                Some("/root/reader"),
                "Read the README and say what it is.",
                AgentState::Ready,
                "It is a shop.",
                40,
            ),
            row(
                "c-builder",
                Some("/root/builder"),
                "Leave a note.",
                AgentState::NeedsYou,
                "asks to run: touch team-notes.md",
                95,
            ),
            row(
                "c-old",
                None,
                "fix the login page",
                AgentState::Inactive,
                "The login page works again.",
                7_200,
            ),
        ],
    }));
    let screen = crate::tui_snapshots::draw(&mut app, 80, 24);
    insta::assert_snapshot!(screen);
    // A refresh brings the team's rows alone: the saved conversation listed as it opened stays.
    let builder = row(
        "c-builder",
        Some("/root/builder"),
        "Leave a note.",
        AgentState::NeedsYou,
        "asks to run: touch team-notes.md",
        95,
    );
    let reader = row(
        "c-reader",
        Some("/root/reader"),
        "Read the README and say what it is.",
        AgentState::Working,
        "Reading the tests now.",
        41,
    );
    app.handle_core_event(Event::Reply(Reply::Agents {
        saved: false,
        rows: vec![reader, builder],
    }));
    let refreshed = crate::tui_snapshots::draw(&mut app, 80, 24);
    assert!(refreshed.contains("Reading the tests now."), "{refreshed}");
    assert!(refreshed.contains("fix the login page"), "{refreshed}");

    // Enter opens the one chosen (the one that needs you): its conversation is asked for.
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let asked: Vec<Op> = std::iter::from_fn(|| sent.try_recv().ok()).collect();
    assert_eq!(asked, [Op::ReadAgent("c-builder".into())]);
    let shown = crate::tui_snapshots::draw(&mut app, 80, 24);
    assert!(
        shown.contains("/root/builder · its conversation"),
        "{shown}"
    );
    assert!(
        shown.contains("Allow it?"),
        "its approval waits below: {shown}"
    );
}

/// A trusted project's own role (`.codex/config.toml`, as Codex reads a project's) is offered
/// and its model is the one its agent's requests carry; an untrusted project's is not offered.
#[tokio::test]
async fn a_trusted_projects_own_role_is_offered_and_its_model_used() {
    for trusted in [true, false] {
        let mut agent = agent_setup(move |config, options| {
            config.approval = ApprovalMode::Ask;
            config.model = Some("gpt-5.5".into());
            config.agents.enabled = true;
            let root = std::fs::canonicalize(&options.project_dir).unwrap();
            std::fs::create_dir_all(root.join(".codex/agents")).unwrap();
            std::fs::write(
                root.join(".codex/config.toml"),
                "[agents.tester]\ndescription = \"Runs this project's tests.\"\n\
                 config_file = \"agents/tester.toml\"\n",
            )
            .unwrap();
            std::fs::write(
                root.join(".codex/agents/tester.toml"),
                "model = \"gpt-5.4-mini\"\n",
            )
            .unwrap();
            config.projects.push((root, trusted));
        })
        .await;
        agent.fake.set_fallback(|request| match child_of(request) {
            Some(_) => Reply::text("tested"),
            None if outputs(request) == 0 => Reply::call(
                "spawn_agent",
                json!({"task_name": "alpha", "message": "test it", "agent_type": "tester", "fork_turns": "none"}),
            ),
            None if said(request).contains("\"task_name\\\":\\\"/root/alpha\\\"")
                && !said(request).contains("FINAL_ANSWER") =>
            {
                Reply::call("wait_agent", json!({"timeout_ms": 20000}))
            }
            None => Reply::text("done"),
        });
        agent.submit("test with the project's tester");
        let (_, outcome) = agent.finish_turn().await;
        assert_eq!(outcome, TurnOutcome::Completed);
        let requests: Vec<Value> = agent
            .fake
            .requests_to("/responses")
            .iter()
            .map(|r| r.json().clone())
            .collect();
        let offered = requests[0]["tools"].to_string();
        assert_eq!(
            offered.contains("Runs this project's tests."),
            trusted,
            "{offered}"
        );
        let child = requests.iter().find(|r| child_of(r) == Some("alpha"));
        if trusted {
            assert_eq!(child.unwrap()["model"], "gpt-5.4-mini");
        } else {
            assert!(child.is_none(), "an unknown role spawns no agent");
        }
    }
}

/// A model that spawns agents with worktrees in a loop stops at the cap, told why, and no
/// checkout is made past it.
#[tokio::test]
async fn agents_make_no_worktree_past_the_cap() {
    let made_repo = std::sync::Arc::new(std::sync::Mutex::new(None));
    let repo_slot = made_repo.clone();
    let mut agent = agent_setup(move |config, options| {
        config.approval = ApprovalMode::FullAuto;
        config.agents.enabled = true;
        let repo = shop_repository(&options.project_dir);
        for _ in 0..16 {
            kelp::agent::worktree::create(&repo).unwrap();
        }
        options.project_dir = repo.clone();
        *repo_slot.lock().unwrap() = Some(repo);
    })
    .await;
    let repo = made_repo.lock().unwrap().clone().unwrap();
    agent.fake.set_fallback(|request| match outputs(request) {
        0 => Reply::call(
            "spawn_agent",
            json!({"task_name": "alpha", "message": "build", "worktree": true, "fork_turns": "none"}),
        ),
        _ => Reply::text("could not"),
    });
    agent.submit("build it apart");
    let (_, outcome) = agent.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    let requests = agent.fake.requests_to("/responses");
    let told = said(requests.last().unwrap().json());
    assert!(told.contains("worktrees of kelp's already"), "{told}");
    assert_eq!(kelp::agent::worktree::list(&repo).unwrap().len(), 16);
}
