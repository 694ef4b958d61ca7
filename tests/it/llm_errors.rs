//! Each error class of PROTOCOL.md §7, from the fake over real sockets, with the one-line
//! message a person sees.

use std::time::Duration;

use chrono::{Local, TimeZone};
use kelp::llm::types::ResponseEvent;
use kelp::llm::{LlmError, StreamSettings};
use kelp::protocol::ErrorCategory;
use serde_json::json;

use crate::fake_openai::{FakeOpenAi, JsonReply, Reply};
use crate::llm_stream::{Login, collect, final_text, prompt, retries, setup, setup_with};

/// The error a single scripted reply ends in.
async fn error_for(login: Login, reply: Reply) -> LlmError {
    let fake = FakeOpenAi::start().await;
    let s = setup(&fake, login);
    fake.push_response(reply);
    let (events, error) = collect(&s.client, &prompt("hi")).await;
    let error = error.unwrap_or_else(|| panic!("an error expected, got {events:?}"));
    assert_eq!(
        fake.requests_to("/responses").len(),
        1,
        "not retried: {error}"
    );
    let message = error.to_string();
    assert!(
        !message.contains('{') && !message.contains('\n'),
        "{message}"
    );
    error
}

#[tokio::test]
async fn usage_limit_reached_names_the_plan_and_the_local_reset_time() {
    let resets_at = Local::now().timestamp() + 2 * 3600;
    let error = error_for(
        Login::ChatGpt,
        Reply::usage_limit_reached(resets_at, "plus"),
    )
    .await;
    let local = Local.timestamp_opt(resets_at, 0).unwrap();
    let when = if local.date_naive() == Local::now().date_naive() {
        local.format("%H:%M").to_string()
    } else {
        local.format("%a %-d %b %H:%M").to_string()
    };
    assert_eq!(
        error.to_string(),
        format!("usage limit of your plus plan reached: it resets at {when}")
    );
    assert_eq!(error.category(), ErrorCategory::Limit);
}

#[tokio::test]
async fn a_plan_without_codex_suggests_upgrading_or_an_api_key() {
    let error = error_for(Login::ChatGpt, Reply::usage_not_included()).await;
    assert_eq!(
        error.to_string(),
        "your ChatGPT plan does not include Codex: upgrade your plan (Plus or higher) or use an API key"
    );
    assert_eq!(error.category(), ErrorCategory::Auth);
}

#[tokio::test]
async fn insufficient_quota_points_at_billing() {
    let error = error_for(Login::ApiKey, Reply::insufficient_quota()).await;
    assert_eq!(
        error.to_string(),
        "the OpenAI account behind your API key is out of quota: check its billing"
    );
    assert_eq!(error.category(), ErrorCategory::Limit);
}

#[tokio::test]
async fn a_full_context_asks_for_a_new_conversation() {
    let error = error_for(Login::ApiKey, Reply::context_length_exceeded()).await;
    assert_eq!(
        error.to_string(),
        "the conversation is too long for the model: start a new one"
    );
}

#[tokio::test]
async fn a_rejected_api_key_is_said_without_showing_it() {
    let fake = FakeOpenAi::start().await;
    let s = setup(&fake, Login::ApiKey);
    fake.configure(|c| c.api_key = "sk-another-key-000000000000".into());
    let (_, error) = collect(&s.client, &prompt("hi")).await;
    let error = error.expect("an error");
    assert!(matches!(error, LlmError::BadApiKey), "{error:?}");
    assert!(error.to_string().starts_with("the API key was rejected"));
    assert!(!error.to_string().contains("sk-test"));
    assert_eq!(error.category(), ErrorCategory::Auth);
    assert_eq!(fake.requests_to("/responses").len(), 1);
}

#[tokio::test]
async fn an_unavailable_model_is_named_with_the_login() {
    let error = error_for(Login::ApiKey, Reply::model_not_found("gpt-5.5")).await;
    assert_eq!(
        error.to_string(),
        "the model gpt-5.5 is not available with your API key: pick another model"
    );
    let error = error_for(
        Login::ChatGpt,
        Reply::http(
            400,
            json!({"detail": "The 'gpt-5.5' model is not supported when using Codex with a ChatGPT account."}),
        ),
    )
    .await;
    assert_eq!(
        error.to_string(),
        "the model gpt-5.5 is not available with your ChatGPT login: pick another model"
    );
}

#[tokio::test]
async fn an_expired_chatgpt_login_that_cannot_be_refreshed_says_so() {
    let fake = FakeOpenAi::start().await;
    let s = setup(&fake, Login::ChatGpt);
    fake.expire_access_tokens();
    fake.push_refresh_reply(JsonReply::refresh_token_expired());
    let (_, error) = collect(&s.client, &prompt("hi")).await;
    let error = error.expect("an error");
    assert!(matches!(error, LlmError::LoginExpired), "{error:?}");
    assert_eq!(error.category(), ErrorCategory::Auth);
}

#[tokio::test]
async fn not_being_logged_in_says_how_to_log_in() {
    let fake = FakeOpenAi::start().await;
    let s = setup(&fake, Login::ApiKey);
    std::fs::remove_file(&s.client.config().auth_file).unwrap();
    let (_, error) = collect(&s.client, &prompt("hi")).await;
    let error = error.expect("an error");
    assert!(error.to_string().starts_with("not logged in"), "{error}");
    assert_eq!(error.category(), ErrorCategory::Auth);
    assert!(fake.requests_to("/responses").is_empty());
}

#[tokio::test]
async fn a_failed_response_gives_the_servers_reason_in_one_line() {
    let error = error_for(
        Login::ApiKey,
        Reply::failed("invalid_prompt", "Your prompt was flagged.\nSorry."),
    )
    .await;
    assert_eq!(
        error.to_string(),
        "the model could not answer: Your prompt was flagged. Sorry."
    );
}

#[tokio::test]
async fn an_incomplete_response_says_why_it_stopped() {
    let error = error_for(Login::ApiKey, Reply::incomplete("max_output_tokens")).await;
    assert_eq!(
        error.to_string(),
        "the answer stopped early: max_output_tokens"
    );
}

#[tokio::test]
async fn in_stream_server_errors_and_rate_limits_are_retried() {
    let fake = FakeOpenAi::start().await;
    let s = setup(&fake, Login::ApiKey);
    fake.push_responses([
        Reply::failed("server_error", "The server had an error."),
        Reply::error_event(
            "rate_limit_exceeded",
            "Rate limit reached. Please try again in 50ms.",
        ),
        Reply::text("made it"),
    ]);
    let (events, error) = collect(&s.client, &prompt("hi")).await;
    assert!(error.is_none(), "{error:?}");
    let delays: Vec<Duration> = events
        .iter()
        .filter_map(|e| match e {
            ResponseEvent::Retrying { delay, .. } => Some(*delay),
            _ => None,
        })
        .collect();
    assert_eq!(delays.len(), 2);
    assert_eq!(delays[1], Duration::from_millis(50));
    assert_eq!(final_text(&events), "made it");
}

#[tokio::test]
async fn retries_stop_after_five_with_the_last_reason() {
    let fake = FakeOpenAi::start().await;
    let settings = StreamSettings {
        base_backoff: Duration::from_millis(5),
        ..StreamSettings::default()
    };
    let s = setup_with(&fake, Login::ApiKey, settings);
    fake.push_responses((0..6).map(|_| Reply::server_error()));
    let (events, error) = collect(&s.client, &prompt("hi")).await;
    let error = error.expect("an error");
    assert_eq!(
        error.to_string(),
        "could not get an answer after 5 retries: server error (HTTP 500)"
    );
    let seen: Vec<u32> = retries(&events).iter().map(|r| r.0).collect();
    assert_eq!(seen, vec![1, 2, 3, 4, 5]);
    assert_eq!(fake.requests_to("/responses").len(), 6);
}

#[tokio::test]
async fn a_rate_limit_longer_than_kelp_waits_is_an_error_at_once() {
    let error = error_for(Login::ApiKey, Reply::rate_limited(3600)).await;
    assert_eq!(
        error.to_string(),
        "rate limited by the server: try again in 60 min"
    );
    assert_eq!(error.category(), ErrorCategory::Limit);
}

/// A TLS server on 127.0.0.1 with a self-signed certificate no trust store knows; it counts the
/// connections it is offered and answers nothing beyond the handshake.
fn untrusted_tls_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let cert = rustls::pki_types::CertificateDer::from(
        include_bytes!("../support/tls/untrusted-cert.der").to_vec(),
    );
    let key = rustls::pki_types::PrivateKeyDer::try_from(
        include_bytes!("../support/tls/untrusted-key.der").to_vec(),
    )
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            counted.fetch_add(1, Ordering::SeqCst);
            let config = config.clone();
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, stream);
                let mut buf = [0u8; 1024];
                // The client refuses the certificate: the read ends with its alert.
                let _ = std::io::Read::read(&mut tls, &mut buf);
            });
        }
    });
    (port, connections)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_stops_at_once_with_a_clear_message() {
    let (port, connections) = untrusted_tls_server();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = crate::support::kelp(home.path());
    cmd.env("OPENAI_API_KEY", "sk-test-untrusted-0000000000000000")
        .env("OPENAI_BASE_URL", format!("https://127.0.0.1:{port}/v1"))
        .args(["run", "hello"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "the server's TLS certificate is signed by an authority this machine does not trust, so nothing was sent"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("retr"), "no retry can help: {stderr}");
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one attempt, no retries"
    );
}
