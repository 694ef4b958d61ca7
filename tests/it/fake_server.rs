//! The fake OpenAI server itself, driven over real sockets, so the protocol tests of kelp stand
//! on something honest.

use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_openai::{
    CLIENT_ID, Config, DeviceApproval, FakeOpenAi, JsonReply, Reply, Tokens, decode_claims,
    s256_challenge,
};

const CALLBACK: &str = "http://127.0.0.1:1455/auth/callback";

fn client() -> reqwest::Client {
    kelp::http::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
}

/// The `data:` payloads of an SSE body that parse as JSON, in order.
fn sse_events(body: &str) -> Vec<Value> {
    body.split("\n\n")
        .filter_map(|block| {
            block
                .lines()
                .find_map(|line| line.strip_prefix("data: "))
                .and_then(|data| serde_json::from_str(data).ok())
        })
        .collect()
}

fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|event| event["type"].as_str().unwrap_or_default())
        .collect()
}

/// The `response.output_text.delta` payloads, in order.
fn text_deltas(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .filter(|event| event["type"] == "response.output_text.delta")
        .map(|event| event["delta"].as_str().expect("a delta"))
        .collect()
}

/// A request body the Codex backend accepts.
fn codex_body(text: &str) -> Value {
    json!({
        "model": "gpt-5.5",
        "instructions": "You are kelp.",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}],
        "tools": [], "tool_choice": "auto", "parallel_tool_calls": false,
        "store": false, "stream": true, "include": ["reasoning.encrypted_content"]
    })
}

fn codex_request(fake: &FakeOpenAi, tokens: &Tokens, body: &Value) -> reqwest::RequestBuilder {
    client()
        .post(format!("{}/responses", fake.codex_base_url()))
        .bearer_auth(&tokens.access_token)
        .header("chatgpt-account-id", &tokens.account_id)
        .header("accept", "text/event-stream")
        .json(body)
}

/// The whole SSE body of one Codex request for `text`.
async fn codex_stream(fake: &FakeOpenAi, tokens: &Tokens, text: &str) -> String {
    codex_request(fake, tokens, &codex_body(text))
        .send()
        .await
        .expect("responses answers")
        .text()
        .await
        .expect("a clean body")
}

/// The whole SSE body of one API-key request.
async fn api_stream(fake: &FakeOpenAi) -> String {
    client()
        .post(format!("{}/responses", fake.api_base_url()))
        .bearer_auth(fake.api_key())
        .json(&codex_body("hi"))
        .send()
        .await
        .expect("responses answers")
        .text()
        .await
        .expect("a clean body")
}

async fn authorize(fake: &FakeOpenAi, challenge: &str, state: &str) -> reqwest::Response {
    client()
        .get(format!("{}/oauth/authorize", fake.url()))
        .query(&[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", CALLBACK),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("state", state),
            ("scope", "openid profile email offline_access"),
        ])
        .send()
        .await
        .expect("authorize answers")
}

fn redirect_params(response: &reqwest::Response) -> Vec<(String, String)> {
    let location = response.headers()["location"]
        .to_str()
        .expect("an ASCII location");
    url::Url::parse(location)
        .expect("an absolute location")
        .query_pairs()
        .into_owned()
        .collect()
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.as_str())
}

async fn exchange(
    fake: &FakeOpenAi,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> reqwest::Response {
    client()
        .post(format!("{}/oauth/token", fake.url()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .expect("token answers")
}

async fn refresh_json(fake: &FakeOpenAi, refresh_token: &str) -> reqwest::Response {
    client()
        .post(format!("{}/oauth/token", fake.url()))
        .json(&json!({"client_id": CLIENT_ID, "grant_type": "refresh_token", "refresh_token": refresh_token}))
        .send()
        .await
        .expect("token answers")
}

#[tokio::test]
async fn authorize_and_exchange_check_pkce() {
    let fake = FakeOpenAi::start().await;
    let verifier = "v".repeat(86);
    let response = authorize(&fake, &s256_challenge(&verifier), "state-123").await;
    assert_eq!(response.status(), 302);
    let params = redirect_params(&response);
    assert_eq!(param(&params, "state"), Some("state-123"));
    let code = param(&params, "code").expect("a code").to_string();

    let wrong = exchange(&fake, &code, CALLBACK, &"w".repeat(86)).await;
    assert_eq!(wrong.status(), 400);
    let body: Value = wrong.json().await.expect("JSON");
    assert_eq!(body["error"], "invalid_grant");
    let wrong_redirect = exchange(
        &fake,
        &code,
        "http://127.0.0.1:1457/auth/callback",
        &verifier,
    )
    .await;
    assert_eq!(wrong_redirect.status(), 400);

    let ok = exchange(&fake, &code, CALLBACK, &verifier).await;
    assert_eq!(ok.status(), 200);
    let tokens: Value = ok.json().await.expect("JSON");
    for field in ["id_token", "access_token", "refresh_token", "expires_in"] {
        assert!(!tokens[field].is_null(), "{field} missing in {tokens}");
    }
    let id = decode_claims(tokens["id_token"].as_str().expect("a string")).expect("a JWT");
    assert_eq!(id["email"], "dev@example.com");
    let auth = &id["https://api.openai.com/auth"];
    assert_eq!(auth["chatgpt_account_id"], "acct_fake_123");
    assert_eq!(auth["chatgpt_plan_type"], "plus");
    let access = decode_claims(tokens["access_token"].as_str().expect("a string")).expect("a JWT");
    assert!(access["exp"].as_i64().expect("exp") > 0);

    let again = exchange(&fake, &code, CALLBACK, &verifier).await;
    assert_eq!(again.status(), 400, "a code is single use");
}

#[tokio::test]
async fn authorize_rejects_bad_requests_and_can_be_scripted_to_deny() {
    let fake = FakeOpenAi::start().await;
    let bad = authorize(&fake, "too-short", "s").await;
    assert_eq!(bad.status(), 400);

    fake.push_authorize_error("access_denied", "missing_codex_entitlement");
    let challenge = s256_challenge("verifier");
    let denied = authorize(&fake, &challenge, "s1").await;
    assert_eq!(denied.status(), 302);
    let params = redirect_params(&denied);
    assert_eq!(param(&params, "error"), Some("access_denied"));
    assert_eq!(
        param(&params, "error_description"),
        Some("missing_codex_entitlement")
    );
    assert_eq!(param(&params, "state"), Some("s1"));

    let next = authorize(&fake, &challenge, "s2").await;
    assert!(param(&redirect_params(&next), "code").is_some());
    assert_eq!(fake.requests_to("/oauth/authorize").len(), 3);
}

#[tokio::test]
async fn refresh_rotates_and_detects_reuse() {
    let fake = FakeOpenAi::start().await;
    let first = fake.mint_tokens();

    let rotated = refresh_json(&fake, &first.refresh_token).await;
    assert_eq!(rotated.status(), 200);
    let rotated: Value = rotated.json().await.expect("JSON");
    let second = rotated["refresh_token"]
        .as_str()
        .expect("a new refresh token");
    assert_ne!(second, first.refresh_token);

    let reused = refresh_json(&fake, &first.refresh_token).await;
    assert_eq!(reused.status(), 401);
    let reused: Value = reused.json().await.expect("JSON");
    assert_eq!(reused["error"]["code"], "refresh_token_reused");

    // The form-encoded shape opencode sends works too.
    let form = client()
        .post(format!("{}/oauth/token", fake.url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("refresh_token", second),
        ])
        .send()
        .await
        .expect("token answers");
    assert_eq!(form.status(), 200);
    assert_eq!(fake.refresh_count(), 3);
}

#[tokio::test]
async fn refresh_failures_can_be_scripted_and_revoke_ends_a_login() {
    let fake = FakeOpenAi::start().await;
    let tokens = fake.mint_tokens();
    fake.push_refresh_reply(JsonReply::server_error());
    fake.push_refresh_reply(JsonReply::refresh_token_expired());
    assert_eq!(
        refresh_json(&fake, &tokens.refresh_token).await.status(),
        500
    );
    let expired = refresh_json(&fake, &tokens.refresh_token).await;
    assert_eq!(expired.status(), 401);
    let expired: Value = expired.json().await.expect("JSON");
    assert_eq!(expired["error"]["code"], "refresh_token_expired");

    let revoke = client()
        .post(format!("{}/oauth/revoke", fake.url()))
        .json(&json!({"token": tokens.refresh_token, "token_type_hint": "refresh_token", "client_id": CLIENT_ID}))
        .send()
        .await
        .expect("revoke answers");
    assert_eq!(revoke.status(), 200);
    assert_eq!(fake.revoked_tokens(), vec![tokens.refresh_token.clone()]);
    let after = refresh_json(&fake, &tokens.refresh_token).await;
    assert_eq!(after.status(), 401);
    let after: Value = after.json().await.expect("JSON");
    assert_eq!(after["error"]["code"], "refresh_token_invalidated");
}

async fn usercode(fake: &FakeOpenAi) -> reqwest::Response {
    client()
        .post(format!("{}/api/accounts/deviceauth/usercode", fake.url()))
        .json(&json!({"client_id": CLIENT_ID}))
        .send()
        .await
        .expect("usercode answers")
}

async fn poll(fake: &FakeOpenAi, device_auth_id: &str, user_code: &str) -> reqwest::Response {
    client()
        .post(format!("{}/api/accounts/deviceauth/token", fake.url()))
        .json(&json!({"device_auth_id": device_auth_id, "user_code": user_code}))
        .send()
        .await
        .expect("device token answers")
}

#[tokio::test]
async fn device_code_pending_then_approved_then_exchanged() {
    let fake = FakeOpenAi::start().await;
    let issued: Value = usercode(&fake).await.json().await.expect("JSON");
    assert_eq!(issued["interval"], json!("5"), "the real shape: a string");
    let id = issued["device_auth_id"].as_str().expect("an id");
    let code = issued["user_code"].as_str().expect("a code");
    assert_eq!(fake.device_user_codes(), vec![code.to_string()]);

    let pending = poll(&fake, id, code).await;
    assert_eq!(pending.status(), 403);
    assert_eq!(
        fake.wait_for_requests_to("/deviceauth/token", 1)
            .await
            .len(),
        1
    );
    fake.approve_device(code);
    let approved = poll(&fake, id, code).await;
    assert_eq!(approved.status(), 200);
    let grant: Value = approved.json().await.expect("JSON");
    let verifier = grant["code_verifier"].as_str().expect("a verifier");
    assert_eq!(
        grant["code_challenge"].as_str(),
        Some(s256_challenge(verifier).as_str())
    );
    assert_eq!(fake.device_poll_count(), 2);

    let callback = format!("{}/deviceauth/callback", fake.url());
    let code = grant["authorization_code"].as_str().expect("a code");
    let tokens = exchange(&fake, code, &callback, verifier).await;
    assert_eq!(tokens.status(), 200);
}

#[tokio::test]
async fn device_code_interval_shapes_auto_approval_and_disabled_login() {
    let fake = FakeOpenAi::start_with(Config {
        device_interval: json!(0),
        device_approval: DeviceApproval::AfterPolls(2),
        ..Config::default()
    })
    .await;
    let issued: Value = usercode(&fake).await.json().await.expect("JSON");
    assert_eq!(issued["interval"], json!(0));
    let (id, code) = (
        issued["device_auth_id"].as_str().expect("an id"),
        issued["user_code"].as_str().expect("a code"),
    );
    let statuses = [
        poll(&fake, id, code).await.status(),
        poll(&fake, id, code).await.status(),
        poll(&fake, id, code).await.status(),
    ];
    assert_eq!(statuses.map(|status| status.as_u16()), [403, 403, 200]);

    fake.push_device_poll_reply(JsonReply::new(500, json!({"error": "boom"})));
    assert_eq!(poll(&fake, id, code).await.status(), 500);

    fake.configure(|config| config.device_login_enabled = false);
    assert_eq!(usercode(&fake).await.status(), 404);
}

#[tokio::test]
async fn scripted_stream_has_the_real_event_order() {
    let fake = FakeOpenAi::start().await;
    let tokens = fake.mint_tokens();
    fake.push_response(
        Reply::reasoning("Look first")
            .and_text("Hello there world")
            .and_call_with_id("call_1", "read_file", json!({"path": "a.rs"}))
            .primary_window(42.5, 300, 1_900_000_000),
    );
    let response = codex_request(&fake, &tokens, &codex_body("hi"))
        .send()
        .await
        .expect("responses answers");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-codex-primary-used-percent"], "42.5");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ASCII")
            .starts_with("text/event-stream")
    );
    let events = sse_events(&response.text().await.expect("a body"));
    let kinds = types(&events);
    assert_eq!(kinds.first(), Some(&"response.created"));
    assert_eq!(kinds.last(), Some(&"response.completed"));
    let deltas = text_deltas(&events);
    assert_eq!(deltas.concat(), "Hello there world");
    assert!(deltas.len() > 1);
    assert!(kinds.contains(&"response.reasoning_summary_text.delta"));
    assert!(kinds.contains(&"response.function_call_arguments.delta"));
    let done: Vec<&Value> = events
        .iter()
        .filter(|event| event["type"] == "response.output_item.done")
        .map(|event| &event["item"])
        .collect();
    assert_eq!(done.len(), 3);
    assert_eq!(done[0]["type"], "reasoning");
    assert_eq!(done[0]["summary"][0]["text"], "Look first");
    assert!(done[0]["encrypted_content"].is_string());
    assert_eq!(done[2]["call_id"], "call_1");
    assert_eq!(done[2]["arguments"], r#"{"path":"a.rs"}"#);
    let completed = &events.last().expect("events")["response"];
    assert!(completed["id"].is_string());
    assert!(completed["usage"]["total_tokens"].as_u64().expect("usage") > 0);
    assert!(completed["usage"]["input_tokens_details"]["cached_tokens"].is_u64());
    let sequence: Vec<u64> = events
        .iter()
        .map(|event| event["sequence_number"].as_u64().expect("a number"))
        .collect();
    assert!(sequence.windows(2).all(|pair| pair[0] < pair[1]));

    let recorded = fake.requests_to("/responses");
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        recorded[0].header("chatgpt-account-id"),
        Some("acct_fake_123")
    );
    assert_eq!(recorded[0].json()["input"][0]["content"][0]["text"], "hi");
    assert_eq!(fake.pending_responses(), 0);
}

#[tokio::test]
async fn unscripted_requests_get_an_echo_and_noise_is_injected_verbatim() {
    let fake = FakeOpenAi::start().await;
    let tokens = fake.mint_tokens();
    let echo = codex_stream(&fake, &tokens, "ping me").await;
    let text = text_deltas(&sse_events(&echo)).concat();
    assert!(text.contains("ping me") && text.contains("```"), "{text}");

    fake.push_response(Reply::text("a b c").with_noise());
    let noisy = codex_stream(&fake, &tokens, "x").await;
    assert!(noisy.contains("data: {this is not json\n\n"));
    assert!(noisy.contains("response.fake_unknown"));
    assert_eq!(
        types(&sse_events(&noisy)).last(),
        Some(&"response.completed")
    );
}

#[tokio::test]
async fn bad_credentials_get_401() {
    let fake = FakeOpenAi::start().await;
    let mut tokens = fake.mint_tokens();
    tokens.access_token = "not-a-token".into();
    let codex = codex_request(&fake, &tokens, &codex_body("hi"))
        .send()
        .await
        .expect("answers");
    assert_eq!(codex.status(), 401);
    let body: Value = codex.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "token_expired");

    let expired = fake.mint_tokens_with_lifetime(-10);
    let codex = codex_request(&fake, &expired, &codex_body("hi"))
        .send()
        .await
        .expect("answers");
    assert_eq!(codex.status(), 401);

    let api = client()
        .post(format!("{}/responses", fake.api_base_url()))
        .bearer_auth("sk-wrong")
        .json(&codex_body("hi"))
        .send()
        .await
        .expect("answers");
    assert_eq!(api.status(), 401);
    let body: Value = api.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert_eq!(fake.pending_responses(), 0);

    let models = client()
        .get(format!("{}/models", fake.api_base_url()))
        .bearer_auth(fake.api_key())
        .send()
        .await
        .expect("answers");
    let models: Value = models.json().await.expect("JSON");
    assert_eq!(models["data"][0]["id"], "gpt-5.5");
}

#[tokio::test]
async fn http_errors_carry_status_body_and_headers() {
    let fake = FakeOpenAi::start().await;
    let tokens = fake.mint_tokens();
    fake.push_responses([
        Reply::rate_limited(1),
        Reply::unauthorized(),
        Reply::text("after"),
    ]);
    let limited = codex_request(&fake, &tokens, &codex_body("hi"))
        .send()
        .await
        .expect("answers");
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "1");
    let once = codex_request(&fake, &tokens, &codex_body("hi"))
        .send()
        .await
        .expect("answers");
    assert_eq!(once.status(), 401);
    let then = codex_request(&fake, &tokens, &codex_body("hi"))
        .send()
        .await
        .expect("answers");
    assert_eq!(then.status(), 200);

    let missing_instructions = codex_request(
        &fake,
        &tokens,
        &json!({"model": "gpt-5.5", "store": false, "stream": true}),
    )
    .send()
    .await
    .expect("answers");
    assert_eq!(missing_instructions.status(), 400);
}

#[tokio::test]
async fn cut_streams_fail_the_body_and_stalls_end_on_shutdown() {
    let fake = FakeOpenAi::start().await;
    let tokens = fake.mint_tokens();
    fake.push_response(Reply::cut("partial answer"));
    let mut cut = codex_request(&fake, &tokens, &codex_body("hi"))
        .send()
        .await
        .expect("answers");
    assert_eq!(cut.status(), 200);
    let mut received = String::new();
    let ending = loop {
        match cut.chunk().await {
            Ok(Some(chunk)) => received.push_str(&String::from_utf8_lossy(&chunk)),
            other => break other,
        }
    };
    assert!(ending.is_err(), "the body must end abruptly, not cleanly");
    assert!(
        received.contains("\"delta\":\"partial \""),
        "deltas arrive before the cut: {received}"
    );
    assert!(!received.contains("response.output_item.done"));

    fake.push_response(Reply::stall("waiting"));
    let mut stalled = codex_request(&fake, &tokens, &codex_body("hi"))
        .send()
        .await
        .expect("answers");
    let first = stalled.chunk().await.expect("a chunk").expect("data");
    assert!(String::from_utf8_lossy(&first).contains("waiting"));
    let more = tokio::time::timeout(Duration::from_millis(50), stalled.chunk()).await;
    assert!(more.is_err(), "a stalled stream sends nothing more");

    let addr = fake.addr();
    fake.shutdown().await;
    let after = tokio::time::timeout(Duration::from_secs(2), stalled.chunk()).await;
    assert!(
        matches!(after, Ok(Ok(None) | Err(_))),
        "shutdown ends open streams"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the port is released"
    );
}

#[tokio::test]
async fn deltas_split_on_character_boundaries() {
    let fake = FakeOpenAi::start().await;
    let text = "héllo wörld 🌊 ok";
    fake.push_response(Reply::text(text).delta_chars(2));
    let events = sse_events(&api_stream(&fake).await);
    let deltas = text_deltas(&events);
    assert!(deltas.iter().all(|delta| delta.chars().count() <= 2));
    assert_eq!(deltas.concat(), text);
}

#[tokio::test]
async fn large_streams_arrive_whole() {
    let fake = FakeOpenAi::start().await;
    let tokens = fake.mint_tokens();
    fake.push_response(Reply::large(64 * 1024));
    let events = sse_events(&codex_stream(&fake, &tokens, "hi").await);
    let deltas = text_deltas(&events);
    assert_eq!(deltas.len(), 4096);
    assert!(deltas.iter().all(|delta| delta.len() == 16));
    assert_eq!(types(&events).last(), Some(&"response.completed"));
}

#[tokio::test]
async fn streams_can_end_failed_incomplete_with_an_error_or_early() {
    let fake = FakeOpenAi::start().await;
    fake.push_responses([
        Reply::failed("server_error", "boom"),
        Reply::text("partial").then_incomplete("max_output_tokens"),
        Reply::error_event("rate_limit_exceeded", "slow down"),
        Reply::text("half way").then_close(),
    ]);
    let mut last_events = Vec::new();
    for _ in 0..4 {
        let events = sse_events(&api_stream(&fake).await);
        last_events.push(events.last().expect("some events").clone());
    }
    assert_eq!(last_events[0]["type"], "response.failed");
    assert_eq!(last_events[0]["response"]["error"]["code"], "server_error");
    assert_eq!(last_events[1]["type"], "response.incomplete");
    assert_eq!(
        last_events[1]["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );
    assert_eq!(last_events[2]["type"], "error");
    assert_eq!(last_events[2]["code"], "rate_limit_exceeded");
    assert_eq!(last_events[3]["type"], "response.output_text.delta");
}
