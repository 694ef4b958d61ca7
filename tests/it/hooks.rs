//! Hooks fired for real against the fake model: each event's payload as Codex 0.171 sends it
//! (measured on its `codex exec` against the fake), and each answer honoured: `PreToolUse`
//! blocking a command, `UserPromptSubmit` adding context or blocking the prompt, `PostToolUse`
//! seeing the output, `Stop` blocking once and the turn going on, `SessionStart` once,
//! `PermissionRequest` deciding before the person is asked, a team's child starting and
//! stopping with `SubagentStart` and `SubagentStop`, `SessionEnd` as kelp exits; hooks the
//! person has not trusted do not run.

use std::path::{Path, PathBuf};

use kelp::config::Config;
use kelp::protocol::{ApprovalMode, Event, TurnOutcome};
use serde_json::{Value, json};

use crate::agent_loop::{Agent, agent_setup};
use crate::fake_openai::Reply;

/// A hook script in `dir` named `name`: `body` after a line that appends its stdin (the
/// payload) to `NAME.jsonl` beside it.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(format!("{name}.sh"));
    let log = dir.join(format!("{name}.jsonl"));
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\npayload=$(cat)\nprintf '%s\\n' \"$payload\" >> '{}'\n{body}\n",
            log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The payloads hook `name` was given, in order.
fn payloads(dir: &Path, name: &str) -> Vec<Value> {
    std::fs::read_to_string(dir.join(format!("{name}.jsonl")))
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Writes `hooks` as the config folder's `hooks.json` and, when `trusted`, trusts them all.
fn install(config: &Config, hooks: Value, trusted: bool) {
    std::fs::create_dir_all(&config.config_dir).unwrap();
    std::fs::write(
        config.config_dir.join("hooks.json"),
        json!({ "hooks": hooks }).to_string(),
    )
    .unwrap();
    if trusted {
        let (loaded, warnings) =
            kelp::hooks::load(&config.config_dir, None, &config.state_dir, false);
        assert!(warnings.is_empty(), "{warnings:?}");
        let hashes: Vec<String> = loaded.all().iter().map(|hook| hook.hash()).collect();
        kelp::hooks::trust(&config.state_dir, &hashes).unwrap();
    }
}

fn command_hook(command: &Path) -> Value {
    json!([{ "type": "command", "command": command }])
}

/// An agent in full-auto whose config folder holds `hooks` (`(event, matcher, script)`),
/// trusted.
async fn with_hooks(hooks: &[(&str, Option<&str>, PathBuf)]) -> Agent {
    with_hooks_and(hooks, |_| {}).await
}

/// [`with_hooks`], the configuration then changed by `tweak`.
async fn with_hooks_and(
    hooks: &[(&str, Option<&str>, PathBuf)],
    tweak: impl FnOnce(&mut Config) + Send + 'static,
) -> Agent {
    let mut events = serde_json::Map::new();
    for (event, matcher, command) in hooks {
        let mut group = json!({ "hooks": command_hook(command) });
        if let Some(matcher) = matcher {
            group["matcher"] = json!(matcher);
        }
        events
            .entry(event.to_string())
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .unwrap()
            .push(group);
    }
    agent_setup(|config, _| {
        config.approval = ApprovalMode::FullAuto;
        install(config, Value::Object(events), true);
        tweak(config);
    })
    .await
}

/// The text of every `function_call_output` the model was sent.
fn outputs_sent(a: &Agent) -> Vec<String> {
    a.inputs()
        .iter()
        .flatten()
        .filter(|item| item["type"] == "function_call_output")
        .map(|item| item["output"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A `PreToolUse` hook (matcher `Bash`) blocks `rm -rf` by exit code 2: the file survives, the
/// model gets Codex's words with the hook's reason; its payload is Codex's. The twin without
/// the hook deletes the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_tool_use_hook_blocks_rm_rf_and_the_model_gets_the_reason() {
    let scripts = tempfile::tempdir().unwrap();
    let guard = script(
        scripts.path(),
        "guard",
        "case \"$payload\" in *'rm -rf'*) echo 'no rm -rf in this project' >&2; exit 2;; esac",
    );
    let mut a = with_hooks(&[("PreToolUse", Some("Bash"), guard)]).await;
    std::fs::write(a.dir().join("keep.txt"), "precious").unwrap();
    a.fake.push_responses([
        Reply::call_with_id("c1", "shell", json!({"command": "rm -rf keep.txt"})),
        Reply::text("Could not delete it."),
    ]);
    a.submit("clean up");
    let (_, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    assert!(a.dir().join("keep.txt").exists(), "the hook kept the file");
    let outputs = outputs_sent(&a);
    assert!(
        outputs.iter().any(|o| o.contains(
            "Command blocked by PreToolUse hook: no rm -rf in this project. Command: rm -rf keep.txt"
        )),
        "{outputs:#?}"
    );
    let seen = payloads(scripts.path(), "guard");
    assert_eq!(seen.len(), 1, "{seen:#?}");
    let payload = &seen[0];
    assert_eq!(payload["hook_event_name"], "PreToolUse");
    assert_eq!(payload["tool_name"], "Bash");
    assert_eq!(payload["tool_input"], json!({"command": "rm -rf keep.txt"}));
    assert_eq!(payload["tool_use_id"], "c1");
    assert_eq!(payload["cwd"], json!(a.dir()));
    assert_eq!(payload["permission_mode"], "bypassPermissions");
    assert_eq!(payload["model"], "gpt-5.5");
    assert!(
        payload["session_id"]
            .as_str()
            .is_some_and(|id| uuid::Uuid::parse_str(id).is_ok())
    );
    assert!(payload["turn_id"].is_string(), "{payload}");
    assert!(payload["transcript_path"].is_string(), "{payload}");

    // The twin: without the hook the same call deletes it.
    let mut twin = agent_setup(|config, _| config.approval = ApprovalMode::FullAuto).await;
    std::fs::write(twin.dir().join("keep.txt"), "precious").unwrap();
    twin.fake.push_responses([
        Reply::call_with_id("c1", "shell", json!({"command": "rm -rf keep.txt"})),
        Reply::text("Deleted."),
    ]);
    twin.submit("clean up");
    twin.finish_turn().await;
    assert!(!twin.dir().join("keep.txt").exists());
}

/// `UserPromptSubmit`: its `additionalContext` and its plain stdout reach the model's request;
/// a hook that exits 2 keeps the prompt from being sent at all, and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_prompt_submit_hook_adds_context_or_blocks_the_prompt() {
    let scripts = tempfile::tempdir().unwrap();
    let context = script(
        scripts.path(),
        "context",
        r#"case "$payload" in *secret*) echo 'prompts may not name secrets' >&2; exit 2;; esac
echo '{"hookSpecificOutput": {"hookEventName": "UserPromptSubmit", "additionalContext": "The branch is release-7."}}'"#,
    );
    let plain = script(scripts.path(), "plain", "echo 'Today is a Friday.'");
    let mut a = with_hooks(&[
        ("UserPromptSubmit", None, context),
        ("UserPromptSubmit", None, plain),
    ])
    .await;
    a.fake.push_response(Reply::text("Noted."));
    a.submit("what branch is this?");
    a.finish_turn().await;
    let sent = Value::Array(a.inputs().pop().unwrap()).to_string();
    assert!(sent.contains("The branch is release-7."), "{sent}");
    assert!(sent.contains("Today is a Friday."), "{sent}");
    let seen = payloads(scripts.path(), "context");
    assert_eq!(seen[0]["hook_event_name"], "UserPromptSubmit");
    assert_eq!(seen[0]["prompt"], "what branch is this?");

    let requests = a.fake.requests_to("/responses").len();
    a.submit("print the secret token");
    let (events, _) = a.finish_turn().await;
    assert_eq!(a.fake.requests_to("/responses").len(), requests, "not sent");
    assert!(
        events.iter().any(|e| matches!(e, Event::Error(why)
            if why.contains("a UserPromptSubmit hook blocked the prompt: prompts may not name secrets"))),
        "{events:#?}"
    );
}

/// `PostToolUse` sees the call's output; a `Stop` hook that blocks once makes the turn go on
/// with its reason (its second firing says `stop_hook_active`); `SessionStart` fires once,
/// with the first turn, its context in the request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_tool_use_stop_and_session_start_run_and_a_blocking_stop_goes_on() {
    let scripts = tempfile::tempdir().unwrap();
    let post = script(scripts.path(), "post", "exit 0");
    let stop = script(
        scripts.path(),
        "stop",
        r#"case "$payload" in *'"stop_hook_active":false'*)
  echo '{"decision": "block", "reason": "Run the tests before you stop."}';; esac"#,
    );
    let start = script(
        scripts.path(),
        "start",
        r#"echo '{"hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": "House rule: no unwrap."}}'"#,
    );
    let mut a = with_hooks(&[
        ("PostToolUse", Some("Bash"), post),
        ("Stop", None, stop),
        ("SessionStart", None, start),
    ])
    .await;
    a.fake.push_responses([
        Reply::call_with_id("c1", "shell", json!({"command": "echo built"})),
        Reply::text("Built it."),
        Reply::text("Tests pass too."),
    ]);
    a.submit("build it");
    let (_, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    let inputs = a.inputs();
    assert_eq!(inputs.len(), 3, "the Stop hook had it go on once");
    let last = Value::Array(inputs[2].clone()).to_string();
    assert!(last.contains("Run the tests before you stop."), "{last}");
    let first = Value::Array(inputs[0].clone()).to_string();
    assert!(first.contains("House rule: no unwrap."), "{first}");

    let post_seen = payloads(scripts.path(), "post");
    assert_eq!(post_seen.len(), 1);
    assert_eq!(post_seen[0]["tool_name"], "Bash");
    assert_eq!(post_seen[0]["tool_input"], json!({"command": "echo built"}));
    assert!(
        post_seen[0]["tool_response"]
            .as_str()
            .is_some_and(|out| out.contains("built")),
        "{:#?}",
        post_seen[0]
    );
    let stop_seen = payloads(scripts.path(), "stop");
    let active: Vec<&Value> = stop_seen.iter().map(|p| &p["stop_hook_active"]).collect();
    assert_eq!(active, [&json!(false), &json!(true)]);
    assert_eq!(stop_seen[0]["last_assistant_message"], "Built it.");
    assert_eq!(stop_seen[1]["last_assistant_message"], "Tests pass too.");

    a.fake.push_response(Reply::text("Again."));
    a.submit("once more");
    a.finish_turn().await;
    let start_seen = payloads(scripts.path(), "start");
    assert_eq!(start_seen.len(), 1, "once per session: {start_seen:#?}");
    assert_eq!(start_seen[0]["source"], "startup");
}

/// A hook the person has not trusted does not run, and the person is told at the start; with
/// the bypass it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_hook_does_not_run_until_trusted_or_bypassed() {
    for bypass in [false, true] {
        let scripts = tempfile::tempdir().unwrap();
        let hook = script(scripts.path(), "untrusted", "exit 0");
        let events = json!({"UserPromptSubmit": [{ "hooks": command_hook(&hook) }]});
        let fake = crate::fake_openai::FakeOpenAi::start().await;
        let home = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        let mut config = Config::for_origin(&fake.url(), home.path());
        config.hooks.bypass_trust = bypass;
        install(&config, events, false);
        kelp::auth::AuthStore::new(&config.auth_file)
            .update(|file| {
                file.set_openai(&kelp::auth::OpenAiEntry::Api {
                    key: fake.api_key(),
                })
            })
            .unwrap();
        let mut options = kelp::agent::core::start::CoreOptions::new(project.path());
        options.env_api_key = None;
        let (ops, mut events) = kelp::agent::core::start::spawn(config, options);
        let first = tokio::time::timeout(std::time::Duration::from_secs(15), events.recv())
            .await
            .unwrap()
            .unwrap();
        let said = format!("{first:?}");
        match bypass {
            false => assert!(said.contains("1 hook waits for your trust"), "{said}"),
            true => assert!(said.contains("--dangerously-bypass-hook-trust"), "{said}"),
        }
        fake.push_response(Reply::text("Hello."));
        ops.send(kelp::protocol::Op::Submit(
            kelp::protocol::Submission::text("hi"),
        ))
        .unwrap();
        loop {
            let event = tokio::time::timeout(std::time::Duration::from_secs(15), events.recv())
                .await
                .unwrap()
                .unwrap();
            if matches!(event, Event::TurnFinished(_)) {
                break;
            }
        }
        assert_eq!(
            payloads(scripts.path(), "untrusted").len(),
            usize::from(bypass),
            "bypass {bypass}"
        );
    }
}

/// `/compact` fires `PreCompact` (its trigger and the focus) before the summary and
/// `PostCompact` after; neither keeps the compaction from happening.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_fires_pre_and_post_compact() {
    let scripts = tempfile::tempdir().unwrap();
    let pre = script(scripts.path(), "pre", "echo 'not now' >&2; exit 2");
    let post = script(scripts.path(), "post", "exit 0");
    let mut a = with_hooks(&[("PreCompact", None, pre), ("PostCompact", None, post)]).await;
    a.fake
        .push_responses([Reply::text("First."), Reply::text("SUMMARY-TEXT")]);
    a.submit("hello");
    a.finish_turn().await;
    a.send(kelp::protocol::Op::Compact {
        focus: Some("the parser".into()),
        turn_id: None,
    });
    let (events, _) = a.finish_turn().await;
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::Compacted {
                automatic: false,
                ..
            }
        )),
        "compacted all the same: {events:#?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Notice(n) if n == "PreCompact hook: not now")),
        "{events:#?}"
    );
    let pre = payloads(scripts.path(), "pre");
    assert_eq!(pre.len(), 1);
    assert_eq!(pre[0]["trigger"], "manual");
    assert_eq!(pre[0]["custom_instructions"], "the parser");
    let post = payloads(scripts.path(), "post");
    assert_eq!(post.len(), 1);
    assert_eq!(post[0]["hook_event_name"], "PostCompact");
}

/// A `PreToolUse` hook's `allow` lets a call run unasked as `full-auto` would (in ask mode, a
/// command runs without its question), but a patch to a protected path still asks: the hook
/// does not lift what no mode lets run unasked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hooks_allow_runs_unasked_what_full_auto_would_and_no_more() {
    let scripts = tempfile::tempdir().unwrap();
    let allow = script(
        scripts.path(),
        "allow",
        r#"echo '{"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow"}}'"#,
    );
    let events = json!({"PreToolUse": [{ "matcher": ".*", "hooks": command_hook(&allow) }]});
    let mut a = agent_setup(|config, _| {
        config.approval = ApprovalMode::Ask;
        install(config, events, true);
    })
    .await;
    let patch = "*** Begin Patch\n*** Add File: .git/hooks/pre-commit\n+#!/bin/sh\n*** End Patch\n";
    a.fake.push_responses([
        Reply::call_with_id("c1", "shell", json!({"command": "touch made.txt"})),
        Reply::call_with_id("p1", "apply_patch", json!({"input": patch})),
        Reply::text("Done."),
    ]);
    a.submit("make it");
    let (id, call_id, _) = a.approval().await;
    assert_eq!(
        call_id, "p1",
        "the command ran unasked; the protected patch asks"
    );
    assert!(a.dir().join("made.txt").exists());
    a.approve(id, kelp::protocol::ApprovalDecision::No { reason: None });
    a.finish_turn().await;
    assert!(!a.dir().join(".git/hooks/pre-commit").exists());
}

/// `PermissionRequest` runs where the person would be asked, before they are: a hook's allow
/// runs the call unasked, its deny refuses it with the hook's message for the model, and when
/// no hook decides the person is asked as ever. Its payload is Codex's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permission_request_hook_decides_before_the_person_is_asked() {
    let scripts = tempfile::tempdir().unwrap();
    let decide = script(
        scripts.path(),
        "decide",
        r#"case "$payload" in
  *'rm '*) echo '{"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": {"behavior": "deny", "message": "nothing is removed here"}}}';;
  *allowed.txt*) echo '{"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": {"behavior": "allow"}}}';;
esac"#,
    );
    let mut a = with_hooks_and(&[("PermissionRequest", Some("Bash"), decide)], |config| {
        config.approval = ApprovalMode::Ask;
    })
    .await;
    std::fs::write(a.dir().join("keep.txt"), "precious").unwrap();
    a.fake.push_responses([
        Reply::call_with_id("c1", "shell", json!({"command": "touch allowed.txt"})),
        Reply::call_with_id("c2", "shell", json!({"command": "rm keep.txt"})),
        Reply::call_with_id("c3", "shell", json!({"command": "touch asked.txt"})),
        Reply::text("Done."),
    ]);
    a.submit("tidy up");
    let (id, call_id, _) = a.approval().await;
    assert_eq!(
        call_id, "c3",
        "the hook decided the first two; the third is asked"
    );
    assert!(a.dir().join("allowed.txt").exists(), "allowed unasked");
    assert!(a.dir().join("keep.txt").exists(), "denied");
    a.approve(id, kelp::protocol::ApprovalDecision::Yes);
    let (_, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    assert!(a.dir().join("asked.txt").exists());
    let outputs = outputs_sent(&a);
    assert!(
        outputs
            .iter()
            .any(|o| o.contains("denied by a PermissionRequest hook: nothing is removed here")),
        "{outputs:#?}"
    );
    let seen = payloads(scripts.path(), "decide");
    assert_eq!(seen.len(), 3, "{seen:#?}");
    assert_eq!(seen[0]["hook_event_name"], "PermissionRequest");
    assert_eq!(seen[0]["tool_name"], "Bash");
    assert_eq!(
        seen[0]["tool_input"],
        json!({"command": "touch allowed.txt"})
    );
    assert_eq!(seen[0]["permission_mode"], "default");
    assert!(seen[0]["turn_id"].is_string(), "{:#?}", seen[0]);
}

/// A team's child starts with `SubagentStart` (its context in the child's request, not the
/// parent's) and ends its turn with `SubagentStop` instead of `Stop`, named by its id and
/// role, with its own conversation and its parent's; a blocking `SubagentStop` makes the child
/// go on with the reason, and its second answer is what the parent gets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_childs_turn_starts_and_stops_with_the_subagent_hooks() {
    let scripts = tempfile::tempdir().unwrap();
    let start = script(
        scripts.path(),
        "substart",
        r#"echo '{"hookSpecificOutput": {"hookEventName": "SubagentStart", "additionalContext": "Child rule: be terse."}}'"#,
    );
    let stop = script(
        scripts.path(),
        "substop",
        r#"case "$payload" in *'"stop_hook_active":false'*)
  echo '{"decision": "block", "reason": "Check your answer."}';; esac"#,
    );
    let parent_stop = script(scripts.path(), "stop", "exit 0");
    let a = with_hooks_and(
        &[
            ("SubagentStart", None, start),
            ("SubagentStop", None, stop),
            ("Stop", None, parent_stop),
        ],
        |config| config.agents.enabled = true,
    )
    .await;
    let is_child = |request: &Value| {
        request["input"]
            .to_string()
            .contains("Task name: /root/alpha")
    };
    a.fake.set_fallback(move |request| {
        let said = request["input"].to_string();
        match (is_child(request), said.contains("Check your answer.")) {
            (true, false) => Reply::text("alpha first"),
            (true, true) => Reply::text("alpha checked"),
            (false, _) if !said.contains("function_call_output") => Reply::call(
                "spawn_agent",
                json!({"task_name": "alpha", "message": "say hi"}),
            ),
            (false, _) if !said.contains("Message Type: FINAL_ANSWER") => {
                Reply::call("wait_agent", json!({"timeout_ms": 20000}))
            }
            (false, _) => Reply::text("the team is done"),
        }
    });
    let mut a = a;
    a.submit("go team");
    let (_, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);

    let requests: Vec<Value> = a
        .fake
        .requests_to("/responses")
        .iter()
        .map(|r| r.json().clone())
        .collect();
    let (child, parent): (Vec<&Value>, Vec<&Value>) = requests.iter().partition(|r| is_child(r));
    assert!(
        child[0]["input"]
            .to_string()
            .contains("Child rule: be terse.")
    );
    assert!(
        parent
            .iter()
            .all(|r| !r["input"].to_string().contains("Child rule"))
    );
    let last = parent.last().unwrap()["input"].to_string();
    assert!(
        last.contains("alpha checked"),
        "the answer after the block: {last}"
    );

    let started = payloads(scripts.path(), "substart");
    assert_eq!(started.len(), 1, "{started:#?}");
    assert_eq!(started[0]["hook_event_name"], "SubagentStart");
    assert_eq!(started[0]["agent_type"], "default");
    let agent_id = started[0]["agent_id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(agent_id).is_ok(), "{agent_id}");
    let stopped = payloads(scripts.path(), "substop");
    let active: Vec<&Value> = stopped.iter().map(|p| &p["stop_hook_active"]).collect();
    assert_eq!(active, [&json!(false), &json!(true)]);
    assert_eq!(stopped[0]["last_assistant_message"], "alpha first");
    assert_eq!(stopped[0]["agent_id"], agent_id);
    let parents = payloads(scripts.path(), "stop");
    assert_eq!(parents.len(), 1, "Stop is the parent's alone: {parents:#?}");
    assert!(parents[0].get("agent_id").is_none());
    assert_eq!(stopped[0]["transcript_path"], parents[0]["transcript_path"]);
    assert_ne!(
        stopped[0]["agent_transcript_path"],
        stopped[0]["transcript_path"]
    );
    assert!(
        stopped[0]["agent_transcript_path"].is_string(),
        "{:#?}",
        stopped[0]
    );
    // The tree's session, as Codex's: the first agent's conversation.
    assert_eq!(stopped[0]["session_id"], parents[0]["session_id"]);
    assert_eq!(started[0]["session_id"], parents[0]["session_id"]);
}

/// `SessionEnd` runs as kelp exits, after the conversation is saved: `kelp run` waits for it,
/// so its payload (Codex's: the session, its file, the folder, `reason`) is there once the
/// process is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_end_runs_before_kelp_exits() {
    let fake = crate::fake_openai::FakeOpenAi::start().await;
    fake.push_response(Reply::text("Bye."));
    let (home, mut cmd) = crate::cli_run::kelp_for(&fake, crate::llm_stream::Login::ApiKey);
    let scripts = tempfile::tempdir().unwrap();
    // Slow enough that an exit not waiting for it would leave no payload.
    let end = script(scripts.path(), "end", "sleep 0.5; echo ended > \"$0.done\"");
    let config_dir = home.path().join(".config/kelp");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("hooks.json"),
        json!({"hooks": {"SessionEnd": [{ "hooks": command_hook(&end) }]}}).to_string(),
    )
    .unwrap();
    let project = tempfile::tempdir().unwrap();
    cmd.current_dir(project.path())
        .args(["run", "--dangerously-bypass-hook-trust", "say bye"]);
    let out = crate::cli_run::output(cmd).await;
    assert!(out.status.success(), "{}", crate::support::shown(&out));
    assert!(
        scripts.path().join("end.sh.done").exists(),
        "the hook finished before kelp exited"
    );
    let seen = payloads(scripts.path(), "end");
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(seen[0]["hook_event_name"], "SessionEnd");
    assert_eq!(seen[0]["reason"], "other");
    assert_eq!(
        seen[0]["cwd"],
        json!(project.path().canonicalize().unwrap())
    );
    let transcript = seen[0]["transcript_path"].as_str().unwrap();
    let saved = std::fs::read_to_string(transcript).unwrap();
    assert!(saved.contains("Bye."), "saved before the hook ran");
    assert!(saved.contains(seen[0]["session_id"].as_str().unwrap()));
}
