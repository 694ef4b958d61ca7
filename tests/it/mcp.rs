//! MCP servers end to end: the real core and `kelp run` against the fake OpenAI server, with
//! the test suite's own MCP server (`tests/support/mcp_server.rs`, rmcp's server side) started
//! over stdio as a child process and served over streamable HTTP on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kelp::config::{McpServerConfig, McpTransport};
use kelp::protocol::ServerState;
use kelp::protocol::{ApprovalDecision, ApprovalMode, ApprovalSubject, Event, TurnOutcome};
use serde_json::json;

use crate::agent_loop::{Agent, agent_setup, output_for};
use crate::cli_run::{kelp_for, output};
use crate::fake_openai::{FakeOpenAi, Reply};
use crate::llm_stream::Login;
use crate::mcp_server::TestServer;
use crate::support::shown;

/// The stdio test server, built by cargo with the tests (an example target).
pub(crate) fn server_binary() -> PathBuf {
    let kelp = Path::new(env!("CARGO_BIN_EXE_kelp"));
    kelp.parent()
        .unwrap()
        .join("examples")
        .join("mcp-test-server")
}

/// A stdio server named `tests` whose log lines go to `log`.
fn stdio_server(log: &Path) -> McpServerConfig {
    let mut server = McpServerConfig::stdio("tests", server_binary().to_string_lossy(), Vec::new());
    if let McpTransport::Stdio { env, .. } = &mut server.transport {
        env.push(("KELP_TEST_MCP_LOG".into(), log.display().to_string()));
    }
    server
}

fn log_lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Waits until the log has a line starting with `prefix`.
async fn logged(log: &Path, prefix: &str) -> Vec<String> {
    for _ in 0..200 {
        let lines = log_lines(log);
        if lines.iter().any(|l| l.starts_with(prefix)) {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no `{prefix}` in the log: {:?}", log_lines(log));
}

/// The last statuses of the servers among `events`.
fn last_statuses(events: &[Event]) -> Vec<kelp::protocol::ServerStatus> {
    events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Reply(kelp::protocol::Reply::McpServers(list)) => Some(list.clone()),
            _ => None,
        })
        .expect("the servers' statuses")
}

/// The notices among `events`.
fn notices(events: &[Event]) -> Vec<&String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Notice(text) => Some(text),
            _ => None,
        })
        .collect()
}

/// The names of the tools the last request offered.
fn offered(agent: &Agent) -> Vec<String> {
    let requests = agent.fake.requests_to("/responses");
    let body = requests.last().unwrap().json();
    body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| Some(t["name"].as_str()?.to_string()))
        .collect()
}

async fn mcp_agent(mode: ApprovalMode, servers: Vec<McpServerConfig>) -> Agent {
    agent_setup(move |config, _| {
        config.approval = mode;
        config.mcp_servers = servers;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_tools_are_offered_approved_ones_run_and_others_ask_read_only_hints_too() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mcp.log");
    let mut server = stdio_server(&log);
    server.approved_tools = vec!["echo".into()];
    let mut a = mcp_agent(ApprovalMode::AutoEdit, vec![server]).await;
    a.fake.push_responses([
        Reply::call_with_id("call_l", "tests__lookup", json!({"key": "kelp"})).and_call_with_id(
            "call_e",
            "tests__echo",
            json!({"text": "hi"}),
        ),
        Reply::text("done"),
    ]);
    a.submit("use the tools");
    // The lookup asks, even in auto-edit, though its server marks it read-only (`readOnlyHint`
    // is the server's word, not the person's); the echo the person approved runs.
    let mut events = a
        .until(|e| matches!(e, Event::ApprovalRequested { .. }))
        .await;
    let Some(Event::ApprovalRequested {
        id,
        call_id,
        subject,
        ..
    }) = events.last().cloned()
    else {
        unreachable!()
    };
    assert_eq!(call_id, "call_l");
    let ApprovalSubject::McpTool {
        server,
        tool,
        arguments,
    } = subject
    else {
        panic!("not an MCP approval: {subject:?}");
    };
    assert_eq!((server.as_str(), tool.as_str()), ("tests", "lookup"));
    assert!(arguments.contains("\"key\": \"kelp\""), "{arguments}");
    a.approve(id, ApprovalDecision::Yes);
    let (rest, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    events.extend(rest);

    let names = offered(&a);
    for name in [
        "exec_command",
        "tests__echo",
        "tests__lookup",
        "tests__wait",
        "tests__crash",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    assert!(
        !names.iter().any(|n| n == "tests__bad_schema"),
        "a string schema is not offered: {names:?}"
    );
    let requests = a.fake.requests_to("/responses");
    let body = requests[0].json();
    let lookup = body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "tests__lookup")
        .unwrap()
        .clone();
    assert_eq!(lookup["description"], "Looks a key up.");
    assert_eq!(
        lookup["parameters"],
        json!({"type": "object", "properties": {"key": {"type": "string"}}}),
        "$schema is dropped"
    );

    let input = a.inputs().last().unwrap().clone();
    assert_eq!(
        output_for(&input, "call_l"),
        "found kelp\nstructured content: {\"key\":\"kelp\",\"hits\":2}"
    );
    assert_eq!(output_for(&input, "call_e"), "echo: hi");
    assert_eq!(log_lines(&log), ["called lookup", "called echo"]);

    let started: Vec<(String, String)> = events
        .iter()
        .filter_map(|e| match e {
            Event::ToolStarted { tool, summary, .. } => Some((tool.clone(), summary.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        started,
        [
            (
                "tests__lookup".to_string(),
                "{\"key\":\"kelp\"}".to_string()
            ),
            ("tests__echo".to_string(), "{\"text\":\"hi\"}".to_string()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_lists_ready_servers_their_tools_and_what_was_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut off = McpServerConfig::stdio("off", "/nonexistent/mcp", Vec::new());
    off.enabled = false;
    let mut only = stdio_server(&dir.path().join("mcp.log"));
    only.disabled_tools = vec!["crash".into()];
    let mut a = mcp_agent(ApprovalMode::Ask, vec![only, off]).await;
    a.fake.push_response(Reply::text("hello"));
    a.submit("hi");
    let (events, _) = a.finish_turn().await;
    let names = offered(&a);
    assert!(!names.iter().any(|n| n == "tests__crash"), "{names:?}");
    let last = last_statuses(&events);
    assert_eq!(last.len(), 2);
    assert_eq!(
        last[0].state,
        ServerState::Ready {
            tools: vec!["echo".into(), "lookup".into(), "wait".into()]
        }
    );
    assert_eq!(
        last[0].skipped,
        ["bad_schema: its input schema is of type \"string\", not an object"]
    );
    assert_eq!(last[1].state, ServerState::Disabled);
    let report = kelp::mcp::report(&last, std::path::Path::new("/c/config.toml"));
    assert!(
        report.contains("tests · stdio: ") && report.contains("ready, 3 tools: echo, lookup, wait"),
        "{report}"
    );
    assert!(
        report.contains("off · stdio: /nonexistent/mcp\n  disabled"),
        "{report}"
    );
}

/// The test server over streamable HTTP on 127.0.0.1; returns its URL.
async fn http_server(log: PathBuf) -> String {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
    let service = StreamableHttpService::new(
        move || Ok(TestServer::new(Some(log.clone()))),
        LocalSessionManager::default().into(),
        StreamableHttpServerConfig::default(),
    );
    let router = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_server_works_the_same_and_full_auto_does_not_ask() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mcp.log");
    let url = http_server(log.clone()).await;
    let mut server = McpServerConfig::http("web", url);
    if let McpTransport::Http { headers, .. } = &mut server.transport {
        headers.push(("X-Kelp-Test".into(), "yes".into()));
    }
    let mut a = mcp_agent(ApprovalMode::FullAuto, vec![server]).await;
    a.fake.push_responses([
        Reply::call_with_id("call_e", "web__echo", json!({"text": "over http"})),
        Reply::text("done"),
    ]);
    a.submit("echo it");
    let (events, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::ApprovalRequested { .. })),
        "full-auto runs MCP tools without asking"
    );
    assert_eq!(a.last_output("call_e"), "echo: over http");
    assert_eq!(log_lines(&log), ["called echo"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_starts_times_out_once_and_the_turn_goes_on() {
    let mut slow = McpServerConfig::stdio(
        "slow",
        server_binary().to_string_lossy(),
        vec!["--never-start".into()],
    );
    slow.startup_timeout = Duration::from_millis(500);
    let mut a = mcp_agent(ApprovalMode::Ask, vec![slow]).await;
    a.fake
        .push_responses([Reply::text("no tools needed"), Reply::text("still fine")]);
    a.submit("hello");
    let (events, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    let notices = notices(&events);
    assert_eq!(
        notices,
        ["MCP server `slow` did not start within 0.5 s; kelp goes on without it"]
    );
    assert!(!offered(&a).iter().any(|n| n.starts_with("slow__")));
    // The next turn starts it again in the background, and does not wait for it or say the
    // same failure twice.
    a.submit("again");
    let (events, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    assert!(
        !events.iter().any(|e| matches!(e, Event::Notice(_))),
        "{events:?}"
    );
}

/// A server the config marks `required` (Codex's key) that cannot start fails the turn in words
/// before anything reaches the model; one not required is gone without, as above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_server_that_cannot_start_fails_the_turn_before_the_model_is_asked() {
    let mut docs = McpServerConfig::stdio("docs", "/nonexistent/docs-mcp", Vec::new());
    docs.required = true;
    let mut a = mcp_agent(ApprovalMode::Ask, vec![docs]).await;
    // The first turn may come before or after the first start failed (and is started again):
    // the second surely comes after.
    let mut said = Vec::new();
    for prompt in ["hello", "again"] {
        a.submit(prompt);
        let (events, outcome) = a.finish_turn().await;
        said.extend(notices(&events).into_iter().cloned());
        let TurnOutcome::Failed { message, .. } = outcome else {
            panic!("{prompt}: {outcome:?}");
        };
        assert!(
            message.starts_with(
                "the MCP server `docs` is required (`required = true`) and did not start: "
            ),
            "{message}"
        );
    }
    assert!(a.fake.requests_to("/responses").is_empty());
    // Said once, and not as if kelp went on without it.
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].ends_with("; turns fail until it starts (required = true)"),
        "{said:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_call_is_a_tool_error_and_the_next_turn_restarts_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mcp.log");
    let mut server = stdio_server(&log);
    server.approved_tools = vec!["crash".into(), "echo".into()];
    let mut a = mcp_agent(ApprovalMode::Ask, vec![server]).await;
    a.fake.push_responses([
        Reply::call_with_id("call_c", "tests__crash", json!({})),
        Reply::text("it crashed"),
        Reply::call_with_id("call_e", "tests__echo", json!({"text": "back"})),
        Reply::text("it is back"),
    ]);
    a.submit("crash it");
    let (events, outcome) = a.finish_turn().await;
    assert_eq!(
        outcome,
        TurnOutcome::Completed,
        "a crash is not a failed turn"
    );
    let crashed = a.last_output("call_c");
    assert_eq!(
        crashed,
        "the MCP server `tests` stopped (boom: crashed on purpose) during the call; it is started again on the next turn"
    );
    let notices = events
        .iter()
        .filter(|e| matches!(e, Event::Notice(t) if t.contains("`tests` stopped")))
        .count();
    assert_eq!(notices, 1, "said once: {events:?}");

    a.submit("try again");
    let (_, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Completed);
    assert_eq!(a.last_output("call_e"), "echo: back");
    assert_eq!(log_lines(&log), ["called crash", "called echo"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupting_a_turn_cancels_the_running_call_on_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mcp.log");
    let mut server = stdio_server(&log);
    server.approved_tools = vec!["wait".into()];
    let mut a = mcp_agent(ApprovalMode::Ask, vec![server]).await;
    a.fake
        .push_response(Reply::call_with_id("call_w", "tests__wait", json!({})));
    a.submit("wait");
    logged(&log, "waiting").await;
    a.interrupt();
    let (_, outcome) = a.finish_turn().await;
    assert_eq!(outcome, TurnOutcome::Interrupted);
    let lines = logged(&log, "cancelled").await;
    assert_eq!(lines[..2], ["called wait", "waiting"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_past_its_timeout_is_a_tool_error_and_is_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mcp.log");
    let mut server = stdio_server(&log);
    server.tool_timeout = Duration::from_millis(300);
    server.approved_tools = vec!["wait".into()];
    let mut a = mcp_agent(ApprovalMode::Ask, vec![server]).await;
    a.fake.push_responses([
        Reply::call_with_id("call_w", "tests__wait", json!({})),
        Reply::text("it timed out"),
    ]);
    a.submit("wait");
    let (_, outcome) = a.finish_turn().await;
    assert_eq!(
        outcome,
        TurnOutcome::Completed,
        "a timeout is not a failed turn"
    );
    let text = a.last_output("call_w");
    assert!(
        text.starts_with("the MCP tool `wait` did not answer within"),
        "{text}"
    );
    logged(&log, "cancelled").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kelp_run_uses_the_config_file_servers_and_warns_about_a_bad_entry() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mcp.log");
    let env_dump = dir.path().join("env.txt");
    let fake = FakeOpenAi::start().await;
    fake.push_responses([
        Reply::call_with_id("call_l", "tests__lookup", json!({"key": "x"})),
        Reply::text("looked it up"),
    ]);
    let (home, mut cmd) = kelp_for(&fake, Login::ApiKey);
    let config_dir = home.path().join(".config/kelp");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("config.toml"),
        format!(
            "[mcp_servers.broken]\nargs = [\"x\"]\n\n[mcp_servers.tests]\ncommand = {:?}\n\
             env = {{ KELP_TEST_MCP_LOG = {:?}, KELP_TEST_MCP_ENV = {:?} }}\n\
             env_vars = [\"DOCS_TOKEN\"]\napproved_tools = [\"lookup\"]\n",
            server_binary().display().to_string(),
            log.display().to_string(),
            env_dump.display().to_string(),
        ),
    )
    .unwrap();
    cmd.env("OPENAI_API_KEY", "sk-kelps-own-key")
        .env("GITHUB_TOKEN", "ghp_the_persons_forge")
        .env("AWS_SECRET_ACCESS_KEY", "the-persons-cloud")
        .env("DOCS_TOKEN", "docs-passed-by-name")
        .env("LANG", "C.UTF-8");
    cmd.args(["run", "look it up"]);
    let out = output(cmd).await;
    let all = shown(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains(
            "config.toml:\n  1:1: MCP server `broken` needs `command` (a stdio server) or `url` (HTTP); it is left out"
        ),
        "{all}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "looked it up\n");
    assert_eq!(log_lines(&log), ["called lookup"]);
    // The server got a short list of kelp's variables, the one its config names, and its own;
    // not kelp's key, the auth file's place, or the person's other tokens.
    let env = std::fs::read_to_string(&env_dump).unwrap();
    let names: Vec<&str> = env
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(n, _)| n)
        .collect();
    for wanted in ["PATH", "HOME", "LANG", "DOCS_TOKEN", "KELP_TEST_MCP_LOG"] {
        assert!(names.contains(&wanted), "{wanted} in {names:?}");
    }
    for kept_back in [
        "OPENAI_API_KEY",
        "GITHUB_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "KELP_AUTH_FILE",
    ] {
        assert!(!names.contains(&kept_back), "{kept_back} in {names:?}");
    }
    let input = fake.requests_to("/responses")[1].json()["input"].clone();
    assert_eq!(
        output_for(input.as_array().unwrap(), "call_l"),
        "found x\nstructured content: {\"key\":\"x\",\"hits\":2}"
    );
}

/// A server that lists hundreds of tools offers the model the first 100, and one whose schema
/// is larger than kelp sends is left out; the person is told once, naming the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_with_too_many_tools_is_capped_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = stdio_server(&dir.path().join("mcp.log"));
    if let McpTransport::Stdio { env, .. } = &mut server.transport {
        env.push(("KELP_TEST_MCP_TOOLS".into(), "150".into()));
    }
    let mut a = mcp_agent(ApprovalMode::Ask, vec![server]).await;
    a.fake.push_response(Reply::text("hello"));
    a.submit("hi");
    let (events, _) = a.finish_turn().await;
    let names = offered(&a);
    let from_tests = names.iter().filter(|n| n.starts_with("tests__")).count();
    assert_eq!(from_tests, 100, "{names:?}");
    assert!(!names.iter().any(|n| n == "tests__huge"), "{names:?}");
    let notices = notices(&events);
    assert_eq!(
        notices,
        [
            "MCP server `tests` offers 154 tools: the first 100 are offered to the model, 54 left out (narrow them with `enabled_tools`)"
        ]
    );
    let last = last_statuses(&events);
    assert!(
        last[0]
            .skipped
            .iter()
            .any(|s| s.starts_with("huge: its input schema is ")),
        "{:?}",
        last[0].skipped
    );
    assert!(
        last[0]
            .skipped
            .contains(&"54 tools past the first 100".to_string()),
        "{:?}",
        last[0].skipped
    );
}

/// An HTTP server that redirects elsewhere does not take its configured headers there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_headers_go_only_to_the_configured_origin() {
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let elsewhere_url = format!("http://{}/collect", elsewhere.local_addr().unwrap());
    let record = seen.clone();
    let collector = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let record = record.clone();
        async move {
            let mut record = record.lock().unwrap();
            record.extend(
                headers
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or(""))),
            );
            axum::http::StatusCode::NOT_FOUND
        }
    });
    tokio::spawn(async move { axum::serve(elsewhere, collector).await });
    let redirecting = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", redirecting.local_addr().unwrap());
    let redirect = axum::Router::new().fallback(move || {
        let to = elsewhere_url.clone();
        async move { axum::response::Redirect::temporary(&to) }
    });
    tokio::spawn(async move { axum::serve(redirecting, redirect).await });

    let mut server = McpServerConfig::http("web", url);
    if let McpTransport::Http { headers, .. } = &mut server.transport {
        headers.push(("X-Api-Key".into(), "the-servers-secret".into()));
    }
    let mut a = mcp_agent(ApprovalMode::FullAuto, vec![server]).await;
    a.fake.push_response(Reply::text("hello"));
    a.submit("hi");
    let (events, _) = a.finish_turn().await;
    assert!(
        events.iter().any(|e| matches!(e, Event::Notice(text) if text.starts_with("MCP server `web` did not start"))),
        "{events:?}"
    );
    let seen = seen.lock().unwrap();
    assert!(
        !seen.iter().any(|h| h.contains("the-servers-secret")),
        "the header followed the redirect: {seen:?}"
    );
}

/// `kelp mcp`, as Codex's: add a program and a URL to kelp's config file (and replace one),
/// list and get them (no variable's value shown), remove one; a server only Codex's file has
/// is listed but never removed from it; `login` refuses what takes no sign-in.
#[test]
fn kelp_mcp_adds_lists_gets_and_removes_servers() {
    let home = tempfile::tempdir().unwrap();
    let codex = home.path().join(".codex");
    std::fs::create_dir_all(&codex).unwrap();
    std::fs::write(
        codex.join("config.toml"),
        "[mcp_servers.codex_only]\ncommand = \"codex-server\"\n",
    )
    .unwrap();
    let mcp = |args: &[&str]| {
        crate::support::kelp(home.path())
            .arg("mcp")
            .args(args)
            .output()
            .unwrap()
    };
    let out = mcp(&[
        "add",
        "docs",
        "--env",
        "DOCS_TOKEN=s3cret",
        "--",
        "docs-mcp",
        "--stdio",
    ]);
    assert!(out.status.success(), "{}", shown(&out));
    let out = mcp(&[
        "add",
        "tracker",
        "--url",
        "https://mcp.example.com/mcp",
        "--bearer-token-env-var",
        "TRACKER_TOKEN",
    ]);
    assert!(out.status.success(), "{}", shown(&out));
    let file = home.path().join(".config/kelp/config.toml");
    let written: toml::Table = toml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(
        written["mcp_servers"]["docs"]["args"].as_array().unwrap()[0].as_str(),
        Some("--stdio")
    );
    assert_eq!(
        written["mcp_servers"]["tracker"]["bearer_token_env_var"].as_str(),
        Some("TRACKER_TOKEN")
    );

    let listed = mcp(&["list", "--json"]);
    let all: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["docs", "tracker", "codex_only"]);
    let auth: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["auth_status"].as_str().unwrap())
        .collect();
    assert_eq!(auth, ["unsupported", "bearer_token", "unsupported"]);
    assert!(!String::from_utf8_lossy(&listed.stdout).contains("s3cret"));
    let table = String::from_utf8_lossy(&mcp(&["list"]).stdout).to_string();
    assert!(
        table.contains("docs-mcp --stdio") && table.contains("https://mcp.example.com/mcp"),
        "{table}"
    );
    assert!(
        table.lines().next().unwrap().contains(" AUTH ")
            && table
                .lines()
                .any(|l| l.starts_with("tracker") && l.contains("Bearer token")),
        "{table}"
    );
    let got = mcp(&["get", "tracker", "--json"]);
    let tracker: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap();
    assert_eq!(tracker["transport"]["type"], "streamable_http");
    assert_eq!(mcp(&["get", "nothing"]).status.code(), Some(1));

    // Added again: replaced, not doubled.
    let out = mcp(&["add", "docs", "--", "other-docs"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("Replaced"),
        "{}",
        shown(&out)
    );

    let out = mcp(&["remove", "docs"]);
    assert!(out.status.success(), "{}", shown(&out));
    let out = mcp(&["remove", "codex_only"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Codex's config file"),
        "{}",
        shown(&out)
    );
    let left: toml::Table = toml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(left["mcp_servers"].get("docs").is_none());
    assert!(left["mcp_servers"].get("tracker").is_some());

    let out = mcp(&["add", "bad name", "--", "x"]);
    assert_eq!(out.status.code(), Some(2));
    // A program kelp starts takes no sign-in; one that is not there, neither.
    let out = mcp(&["login", "codex_only"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("takes no sign-in"),
        "{}",
        shown(&out)
    );
    assert_eq!(mcp(&["login", "nothing"]).status.code(), Some(1));
    let out = mcp(&["logout", "tracker"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("nothing to sign out"),
        "{}",
        shown(&out)
    );
}

/// `kelp mcp login` against a server behind OAuth, as the MCP authorization spec has it:
/// discovery from the server's 401, registration, PKCE, the loopback callback; the tokens kept
/// in `mcp-auth.json` (private), never in `config.toml`; the server then starts and a tool call
/// of the model's goes through with the token, a token past its end is refreshed before use,
/// and `logout` forgets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_server_is_signed_in_to_used_refreshed_and_signed_out_of() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (url, oauth) = crate::mcp_oauth::start(Some(dir.path().join("mcp.log"))).await;
    let home = tempfile::tempdir().unwrap();
    let config_dir = home.path().join(".config/kelp");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("config.toml"),
        format!(
            "[mcp_servers.secure]\nurl = \"{url}\"\napproved_tools = [\"echo\"]\n\
             scopes = [\"tools\"]\n"
        ),
    )
    .unwrap();
    let model = FakeOpenAi::start().await;
    let kelp = |args: &[&str]| {
        let mut cmd = crate::support::kelp(home.path());
        cmd.env("SSH_CONNECTION", "10.0.0.1 1 10.0.0.2 22")
            .env("OPENAI_API_KEY", model.api_key())
            .env("OPENAI_BASE_URL", model.api_base_url())
            .args(args);
        cmd
    };
    let mcp_state = |cmd: std::process::Command| async move {
        let out = output(cmd).await;
        let report: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", shown(&out)));
        report["mcp"]["servers"][0].clone()
    };

    // Not signed in: the server does not start, and says how to sign in.
    let before = mcp_state(kelp(&["doctor", "--json"])).await;
    assert_eq!(before["state"], "failed", "{before}");
    assert!(
        before["reason"]
            .as_str()
            .unwrap()
            .contains("kelp mcp login secure"),
        "{before}"
    );

    // The sign-in: the page kelp prints is opened (here by a plain HTTP client, which follows
    // the authorization server's redirect to kelp's callback).
    let mut login = kelp(&["mcp", "login", "secure"]);
    login
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = login.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    // The page is read from what kelp prints, and the rest is read on, as a terminal would.
    let (found, page) = std::sync::mpsc::channel();
    let drained = std::thread::spawn(move || {
        let mut said = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.trim().strip_prefix("http") {
                let _ = found.send(format!("http{rest}"));
            }
            said.push(line);
        }
        said
    });
    let page = tokio::task::spawn_blocking(move || page.recv().expect("an authorization page"))
        .await
        .unwrap();
    assert!(page.contains("code_challenge_method=S256"), "{page}");
    assert!(
        page.contains("&scope=tools"),
        "the entry's scopes are asked for: {page}"
    );
    // kelp's HTTP client follows no redirect: the browser's step is taken by hand.
    let browser = kelp::llm::client::http_client().unwrap();
    let approved = browser.get(&page).send().await.unwrap();
    assert_eq!(approved.status().as_u16(), 302);
    let callback = approved.headers()["location"].to_str().unwrap().to_string();
    assert!(callback.starts_with("http://127.0.0.1:"), "{callback}");
    let landed = browser.get(&callback).send().await.unwrap();
    assert!(landed.status().is_success());
    assert!(landed.text().await.unwrap().contains("Signed in"));
    let done = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(done.status.success(), "{}", shown(&done));
    let said = drained.join().unwrap().join("\n");
    assert!(said.contains("Signed in to MCP server `secure`"), "{said}");

    let store = home.path().join(".local/share/kelp/mcp-auth.json");
    let kept = std::fs::read_to_string(&store).unwrap();
    assert!(
        kept.contains("\"secure\"") && kept.contains("access-"),
        "{kept}"
    );
    assert_eq!(
        std::fs::metadata(&store).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let config = std::fs::read_to_string(config_dir.join("config.toml")).unwrap();
    assert!(
        !config.contains("access-") && !config.contains("refresh-"),
        "{config}"
    );

    // Used: the server starts with the token and lists its tools.
    let after = mcp_state(kelp(&["doctor", "--json"])).await;
    assert_eq!(after["state"], "ready", "{after}");
    assert_eq!(after["auth"], "oauth", "{after}");
    let first_token = oauth.lock().unwrap().valid_tokens[0].clone();
    assert!(oauth.lock().unwrap().bearers_seen.contains(&first_token));
    // A tool call of the model's goes through with the token.
    model.push_responses([
        Reply::call_with_id("call_s", "secure__echo", json!({"text": "with the token"})),
        Reply::text("done"),
    ]);
    let out = output(kelp(&["run", "use the secure tool"])).await;
    assert!(out.status.success(), "{}", shown(&out));
    let sent = model.requests_to("/responses").pop().unwrap().body;
    assert!(sent.contains("echo: with the token"), "{sent}");

    // A token past its end is refreshed before use.
    let mut all: serde_json::Value = serde_json::from_str(&kept).unwrap();
    all["secure"]["expires_at_ms"] = serde_json::json!(1);
    std::fs::write(&store, all.to_string()).unwrap();
    let refreshed = mcp_state(kelp(&["doctor", "--json"])).await;
    assert_eq!(refreshed["state"], "ready", "{refreshed}");
    assert_eq!(oauth.lock().unwrap().refreshes, 1);
    let newest = oauth.lock().unwrap().valid_tokens.last().unwrap().clone();
    assert_ne!(newest, first_token);
    assert!(std::fs::read_to_string(&store).unwrap().contains(&newest));

    // Signed out: forgotten, and the server needs a sign-in again.
    let out = output(kelp(&["mcp", "logout", "secure"])).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert!(!std::fs::read_to_string(&store).unwrap().contains("secure"));
    let gone = mcp_state(kelp(&["doctor", "--json"])).await;
    assert_eq!(gone["state"], "failed", "{gone}");
}
