//! Streaming a response from the fake server over real sockets: text, reasoning, usage, the
//! request on the wire for both logins, retries of cut and stalled streams, the 401 refresh.

use std::path::Path;
use std::time::{Duration, Instant};

use kelp::auth::AuthManager;
use kelp::config::Config;
use kelp::llm::models::ModelSource;
use kelp::llm::types::{Item, ReasoningSummary, ResponseEvent};
use kelp::llm::{LlmClient, LlmError, Prompt, StreamSettings};
use kelp::protocol::{RateLimitWindow, TokenUsage};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::fake_openai::{FakeOpenAi, Reply, Tokens, encrypted_content_for};

/// Which login a test client uses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Login {
    ChatGpt,
    ApiKey,
}

/// A client whose auth file (in a fresh folder) holds `login` for `fake`.
pub struct Setup {
    /// Holds the auth file; removed when the test ends.
    pub _dir: TempDir,
    pub client: LlmClient,
    pub tokens: Option<Tokens>,
}

/// Writes the auth file for `login`.
pub fn write_login(path: &Path, fake: &FakeOpenAi, login: Login) -> Option<Tokens> {
    let (entry, tokens) = match login {
        Login::ChatGpt => {
            let tokens = fake.mint_tokens();
            (tokens.auth_json_entry(), Some(tokens))
        }
        Login::ApiKey => (json!({"type": "api", "key": fake.api_key()}), None),
    };
    std::fs::write(path, json!({ "openai": entry }).to_string()).unwrap();
    // 0600, as kelp and opencode write it (a looser file is made private, with a warning).
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    tokens
}

/// A client for `fake` with `login` and `settings`.
pub fn setup_with(fake: &FakeOpenAi, login: Login, settings: StreamSettings) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::for_origin(&fake.url(), dir.path());
    let tokens = write_login(&config.auth_file, fake, login);
    let auth = AuthManager::new(&config, kelp::llm::client::http_client().unwrap(), None);
    let client = LlmClient::with_settings(config, auth, settings).unwrap();
    Setup {
        _dir: dir,
        client,
        tokens,
    }
}

/// A client for `fake` with `login` and the default limits.
pub fn setup(fake: &FakeOpenAi, login: Login) -> Setup {
    setup_with(fake, login, StreamSettings::default())
}

/// A prompt asking `text` of gpt-5.5.
pub fn prompt(text: &str) -> Prompt {
    let mut prompt = Prompt::new("gpt-5.5", Path::new("/work/project"));
    prompt.input.push(Item::user_text(text));
    prompt
}

/// Every event of one response, and the error that ended it, if one did.
pub async fn collect(
    client: &LlmClient,
    prompt: &Prompt,
) -> (Vec<ResponseEvent>, Option<LlmError>) {
    let mut stream = client.stream(prompt);
    let mut events = Vec::new();
    while let Some(event) = tokio::time::timeout(Duration::from_secs(20), stream.next_event())
        .await
        .expect("the response ends within 20 s")
    {
        match event {
            Ok(event) => events.push(event),
            Err(error) => return (events, Some(error)),
        }
    }
    (events, None)
}

/// The text deltas after the last `Retrying`: what the caller keeps.
pub fn final_text(events: &[ResponseEvent]) -> String {
    let start = events
        .iter()
        .rposition(|e| matches!(e, ResponseEvent::Retrying { .. }))
        .map_or(0, |i| i + 1);
    events[start..]
        .iter()
        .filter_map(|e| match e {
            ResponseEvent::TextDelta(d) => Some(d.as_str()),
            _ => None,
        })
        .collect()
}

/// The `Retrying` events as (attempt, max, reason).
pub fn retries(events: &[ResponseEvent]) -> Vec<(u32, u32, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            ResponseEvent::Retrying {
                attempt,
                max,
                reason,
                ..
            } => Some((*attempt, *max, reason.clone())),
            _ => None,
        })
        .collect()
}

fn done_items(events: &[ResponseEvent]) -> Vec<&Item> {
    events
        .iter()
        .filter_map(|e| match e {
            ResponseEvent::OutputItemDone(item) => Some(item),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn text_streams_in_order_and_equals_the_done_item_with_usage() {
    let fake = FakeOpenAi::start().await;
    let s = setup(&fake, Login::ApiKey);
    let answer = "Hello there, this answer streams word by word.";
    fake.push_response(Reply::text(answer).usage(120, 20, 11, 3));

    let (events, error) = collect(&s.client, &prompt("hi")).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(events.first(), Some(&ResponseEvent::Created));
    let deltas: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            ResponseEvent::TextDelta(d) => Some(d.as_str()),
            _ => None,
        })
        .collect();
    assert!(deltas.len() > 5, "{deltas:?}");
    assert_eq!(deltas.concat(), answer);
    assert_eq!(done_items(&events), vec![&Item::assistant_text(answer)]);
    let Some(ResponseEvent::Completed { usage, response_id }) = events.last() else {
        panic!("completed last: {events:?}")
    };
    assert!(!response_id.is_empty());
    assert_eq!(
        *usage,
        Some(TokenUsage {
            input_tokens: 120,
            cached_input_tokens: 20,
            output_tokens: 11,
            reasoning_output_tokens: 3,
            total_tokens: 131
        })
    );
}

#[tokio::test]
async fn reasoning_summaries_stream_and_reasoning_is_replayed_without_ids() {
    let fake = FakeOpenAi::start().await;
    let s = setup(&fake, Login::ChatGpt);
    fake.push_response(Reply::reasoning("Look at the tests first.").and_text("Done."));

    let mut p = prompt("fix it");
    let (events, error) = collect(&s.client, &p).await;
    assert!(error.is_none(), "{error:?}");
    let summary: String = events
        .iter()
        .filter_map(|e| match e {
            ResponseEvent::ReasoningSummaryDelta(d) => Some(d.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(summary, "Look at the tests first.");
    let items: Vec<Item> = done_items(&events).into_iter().cloned().collect();
    assert_eq!(
        items,
        vec![
            Item::Reasoning {
                summary: vec![ReasoningSummary {
                    kind: "summary_text".into(),
                    text: "Look at the tests first.".into()
                }],
                encrypted_content: Some(encrypted_content_for("Look at the tests first.")),
            },
            Item::assistant_text("Done.")
        ]
    );

    // The next request replays the history statelessly, reasoning and all, without ids.
    p.input.extend(items);
    p.input.push(Item::user_text("thanks"));
    fake.push_response(Reply::text("You're welcome."));
    let (_, error) = collect(&s.client, &p).await;
    assert!(error.is_none(), "{error:?}");
    let sent = fake.requests_to("/responses");
    let input = sent[1].json()["input"].as_array().unwrap().clone();
    assert_eq!(input.len(), 4);
    assert_eq!(
        input[1],
        json!({"type": "reasoning", "summary": [{"type": "summary_text", "text": "Look at the tests first."}],
               "encrypted_content": encrypted_content_for("Look at the tests first.")})
    );
    assert_eq!(
        input[2],
        json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Done."}]})
    );
    assert!(input.iter().all(|item| item.get("id").is_none()));
}

#[tokio::test]
async fn unknown_events_and_a_malformed_data_line_do_not_break_the_stream() {
    let fake = FakeOpenAi::start().await;
    let s = setup(&fake, Login::ApiKey);
    let answer = "one two three four five six";
    fake.push_response(Reply::text(answer).with_noise());
    let (events, error) = collect(&s.client, &prompt("noise")).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(final_text(&events), answer);
    assert!(matches!(
        events.last(),
        Some(ResponseEvent::Completed { .. })
    ));
}

/// The parts of a recorded request every login shares (PROTOCOL.md §6).
fn assert_common_request(sent: &crate::fake_openai::Recorded, p: &Prompt, tools: &[Value]) {
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.header("accept"), Some("text/event-stream"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(sent.header("originator"), Some("kelp"));
    let agent = sent.header("user-agent").unwrap();
    assert!(
        agent.starts_with(&format!("kelp/{} (", env!("CARGO_PKG_VERSION"))),
        "{agent}"
    );
    let id = p.conversation_id.to_string();
    assert_eq!(sent.header("session-id"), Some(id.as_str()));

    let body = sent.json();
    let fields: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        vec![
            "model",
            "instructions",
            "input",
            "tools",
            "tool_choice",
            "parallel_tool_calls",
            "reasoning",
            "store",
            "stream",
            "include",
            "prompt_cache_key"
        ]
    );
    assert_eq!(body["model"], "gpt-5.5");
    let instructions = body["instructions"].as_str().unwrap();
    assert!(instructions.contains("You are kelp"));
    assert!(instructions.contains("`/work/project`"));
    assert_eq!(
        body["input"],
        json!([{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "what is here?"}]}])
    );
    assert_eq!(body["tools"], json!(tools));
    assert_eq!(body["tool_choice"], "auto");
    assert_eq!(body["parallel_tool_calls"], true);
    assert_eq!(
        body["reasoning"],
        json!({"effort": "high", "summary": "auto"})
    );
    assert_eq!(body["store"], false);
    assert_eq!(body["stream"], true);
    assert_eq!(body["include"], json!(["reasoning.encrypted_content"]));
    assert_eq!(body["prompt_cache_key"], id.as_str());
}

fn wire_prompt() -> (Prompt, Vec<Value>) {
    let tools = vec![json!({
        "type": "function", "name": "read_file", "description": "Read a file",
        "strict": false, "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}
    })];
    let mut p = prompt("what is here?");
    p.tools = tools.clone();
    p.parallel_tool_calls = true;
    p.reasoning_effort = kelp::protocol::ReasoningEffort::High;
    (p, tools)
}

#[tokio::test]
async fn a_chatgpt_request_carries_the_account_and_the_stateless_body() {
    let fake = FakeOpenAi::start().await;
    let s = setup(&fake, Login::ChatGpt);
    let tokens = s.tokens.clone().unwrap();
    let (p, tools) = wire_prompt();
    fake.push_response(Reply::text("ok"));
    let (_, error) = collect(&s.client, &p).await;
    assert!(error.is_none(), "{error:?}");

    let sent = fake.requests_to("/responses");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/backend-api/codex/responses");
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {}", tokens.access_token).as_str())
    );
    assert_eq!(
        sent[0].header("chatgpt-account-id"),
        Some(tokens.account_id.as_str())
    );
    assert_common_request(&sent[0], &p, &tools);
}

#[tokio::test]
async fn an_api_key_request_goes_to_the_api_without_an_account_header() {
    let fake = FakeOpenAi::start().await;
    let s = setup(&fake, Login::ApiKey);
    let (p, tools) = wire_prompt();
    fake.push_response(Reply::text("ok"));
    let (_, error) = collect(&s.client, &p).await;
    assert!(error.is_none(), "{error:?}");

    let sent = fake.requests_to("/responses");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/v1/responses");
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {}", fake.api_key()).as_str())
    );
    assert_eq!(sent[0].header("chatgpt-account-id"), None);
    assert_common_request(&sent[0], &p, &tools);
}

#[tokio::test]
async fn rate_limit_headers_reach_the_caller() {
    let fake = FakeOpenAi::start().await;
    let s = setup(&fake, Login::ChatGpt);
    fake.push_response(
        Reply::text("ok")
            .primary_window(42.0, 300, 1_900_000_000)
            .secondary_window(7.5, 10080, 1_900_500_000),
    );
    let (events, _) = collect(&s.client, &prompt("hi")).await;
    let limits = events
        .iter()
        .find_map(|e| match e {
            ResponseEvent::RateLimits(l) => Some(*l),
            _ => None,
        })
        .expect("a rate-limit event");
    assert_eq!(
        limits.primary,
        Some(RateLimitWindow {
            used_percent: 42.0,
            window_minutes: Some(300),
            resets_at: Some(1_900_000_000)
        })
    );
    assert_eq!(limits.secondary.unwrap().used_percent, 7.5);
}

#[tokio::test]
async fn two_server_errors_are_retried_and_the_third_attempt_answers() {
    let fake = FakeOpenAi::start().await;
    let s = setup(&fake, Login::ApiKey);
    fake.push_responses([
        Reply::server_error(),
        Reply::server_error(),
        Reply::text("third time lucky"),
    ]);
    let (events, error) = collect(&s.client, &prompt("hi")).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(
        retries(&events),
        vec![
            (1, 5, "server error (HTTP 500)".to_string()),
            (2, 5, "server error (HTTP 500)".to_string())
        ]
    );
    assert_eq!(fake.requests_to("/responses").len(), 3);
    assert_eq!(final_text(&events), "third time lucky");
}

#[tokio::test]
async fn a_stream_cut_before_completion_restarts_and_the_caller_sees_where() {
    let fake = FakeOpenAi::start().await;
    let s = setup(&fake, Login::ChatGpt);
    fake.push_responses([
        Reply::cut("the first words of"),
        Reply::text("the whole answer, this time"),
    ]);
    let (events, error) = collect(&s.client, &prompt("hi")).await;
    assert!(error.is_none(), "{error:?}");
    let retried = events
        .iter()
        .position(|e| matches!(e, ResponseEvent::Retrying { .. }))
        .expect("a retry");
    // Deltas of the cut attempt came before the Retrying event; the caller discards them.
    assert!(
        events[..retried]
            .iter()
            .any(|e| matches!(e, ResponseEvent::TextDelta(_)))
    );
    assert_eq!(retries(&events).len(), 1);
    assert_eq!(final_text(&events), "the whole answer, this time");
    assert_eq!(fake.requests_to("/responses").len(), 2);
}

#[tokio::test]
async fn a_stream_closed_without_completion_is_retried() {
    let fake = FakeOpenAi::start().await;
    let s = setup(&fake, Login::ApiKey);
    fake.push_responses([Reply::text("half").then_close(), Reply::text("all")]);
    let (events, error) = collect(&s.client, &prompt("hi")).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(
        retries(&events),
        vec![(1, 5, "stream disconnected before completion".to_string())]
    );
    assert_eq!(final_text(&events), "all");
}

#[tokio::test]
async fn a_stalled_stream_is_retried_after_the_idle_timeout() {
    let fake = FakeOpenAi::start().await;
    let settings = StreamSettings {
        idle_timeout: Duration::from_millis(400),
        ..StreamSettings::default()
    };
    let s = setup_with(&fake, Login::ApiKey, settings);
    fake.push_responses([Reply::stall("waiting for"), Reply::text("unstuck")]);
    let (events, error) = collect(&s.client, &prompt("hi")).await;
    assert!(error.is_none(), "{error:?}");
    let retried = retries(&events);
    assert_eq!(retried.len(), 1, "{retried:?}");
    assert!(retried[0].2.contains("sent nothing"), "{retried:?}");
    assert_eq!(final_text(&events), "unstuck");
}

#[tokio::test]
async fn a_429_with_retry_after_waits_that_long_then_answers() {
    let fake = FakeOpenAi::start().await;
    let s = setup(&fake, Login::ApiKey);
    fake.push_responses([Reply::rate_limited(1), Reply::text("after the wait")]);
    let started = Instant::now();
    let (events, error) = collect(&s.client, &prompt("hi")).await;
    assert!(error.is_none(), "{error:?}");
    let sent = fake.requests_to("/responses");
    assert_eq!(sent.len(), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "retried after {:?}",
        started.elapsed()
    );
    let delay = events.iter().find_map(|e| match e {
        ResponseEvent::Retrying { delay, .. } => Some(*delay),
        _ => None,
    });
    assert_eq!(delay, Some(Duration::from_secs(1)));
    assert_eq!(final_text(&events), "after the wait");
}

#[tokio::test]
async fn a_401_with_a_chatgpt_login_refreshes_once_and_retries_with_the_new_token() {
    let fake = FakeOpenAi::start().await;
    let s = setup(&fake, Login::ChatGpt);
    let first = s.tokens.clone().unwrap();
    // Another process rotates the login while the server rejects the token it had.
    let newer = fake.mint_tokens();
    let auth_file = s.client.config().auth_file.clone();
    let entry = newer.auth_json_entry();
    let calls = std::sync::atomic::AtomicUsize::new(0);
    fake.set_fallback(move |_| {
        if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            std::fs::write(&auth_file, json!({ "openai": entry }).to_string()).unwrap();
            Reply::unauthorized()
        } else {
            Reply::text("refreshed and answered")
        }
    });

    let (events, error) = collect(&s.client, &prompt("hi")).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(final_text(&events), "refreshed and answered");
    let sent = fake.requests_to("/responses");
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {}", first.access_token).as_str())
    );
    assert_eq!(
        sent[1].header("authorization"),
        Some(format!("Bearer {}", newer.access_token).as_str())
    );
    assert!(retries(&events).is_empty());
}

#[tokio::test]
async fn a_second_401_after_the_refresh_says_the_login_expired() {
    let fake = FakeOpenAi::start().await;
    let s = setup(&fake, Login::ChatGpt);
    let newer = fake.mint_tokens();
    let auth_file = s.client.config().auth_file.clone();
    let entry = newer.auth_json_entry();
    fake.set_fallback(move |_| {
        std::fs::write(&auth_file, json!({ "openai": entry }).to_string()).unwrap();
        Reply::unauthorized()
    });
    let (_, error) = collect(&s.client, &prompt("hi")).await;
    let error = error.expect("an error");
    assert!(matches!(error, LlmError::LoginExpired), "{error:?}");
    assert_eq!(
        error.to_string(),
        "your ChatGPT login expired or was revoked: sign in again"
    );
    // One refresh, one retry: never a loop.
    assert_eq!(fake.requests_to("/responses").len(), 2);
}

#[tokio::test]
async fn model_lists_come_from_the_server_filtered_per_login_and_cached() {
    let fake = FakeOpenAi::start().await;
    fake.configure(|c| {
        c.codex_models = ["gpt-5.5", "gpt-5.2", "gpt-5.3-codex", "gpt-5.4-mini"]
            .map(String::from)
            .to_vec();
    });
    let chatgpt = setup(&fake, Login::ChatGpt);
    let list = chatgpt.client.models().await.unwrap();
    assert_eq!(list.source, ModelSource::Server);
    assert_eq!(list.models, vec!["gpt-5.5", "gpt-5.4-mini"]);
    let again = chatgpt.client.models().await.unwrap();
    assert_eq!(again, list);
    assert_eq!(fake.requests_to("/backend-api/codex/models").len(), 1);

    let api = setup(&fake, Login::ApiKey);
    let list = api.client.models().await.unwrap();
    assert_eq!(
        list.models,
        vec![
            "gpt-5.5",
            "gpt-5.4",
            "gpt-5.4-mini",
            "gpt-5.3-codex-spark",
            "gpt-4.1"
        ]
    );
    assert_eq!(fake.requests_to("/v1/models").len(), 1);
}

#[tokio::test]
async fn without_a_server_list_the_built_in_one_is_used() {
    let fake = FakeOpenAi::start().await;
    let s = setup(&fake, Login::ChatGpt);
    fake.expire_access_tokens();
    let list = s.client.models().await.unwrap();
    assert_eq!(list.source, ModelSource::BuiltIn);
    assert_eq!(
        list.models,
        kelp::llm::models::CHATGPT_MODELS
            .iter()
            .map(|m| m.to_string())
            .collect::<Vec<_>>()
    );
}
