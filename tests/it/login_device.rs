//! The device-code login against the fake issuer. Timers run on tokio's paused clock, so the
//! 5-second poll interval and the 15-minute expiry cost no real time.

use std::time::{Duration, SystemTime};

use kelp::auth::{LoginHandle, LoginOutcome, start_login_with};

use kelp::protocol::{LoginEvent, LoginMethod};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::fake_openai::{Config, DeviceApproval, FakeOpenAi, JsonReply};
use crate::support::{http, login_options, read_json};

async fn fake_with(change: impl FnOnce(&mut Config)) -> FakeOpenAi {
    let mut config = Config::default();
    change(&mut config);
    FakeOpenAi::start_with(config).await
}

fn start(fake: &FakeOpenAi, dir: &std::path::Path) -> (LoginHandle, UnboundedReceiver<LoginEvent>) {
    let (tx, events) = tokio::sync::mpsc::unbounded_channel();
    let handle = start_login_with(
        LoginMethod::Device,
        login_options(&fake.url(), dir),
        http(),
        tx,
    );
    (handle, events)
}

/// Pending twice, then approved: the code is shown at once, polls follow `interval`.
async fn pending_twice_then_success(interval: Value) {
    let fake = fake_with(|c| {
        c.device_interval = interval;
        c.device_approval = DeviceApproval::AfterPolls(2);
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let started = tokio::time::Instant::now();
    let (handle, mut events) = start(&fake, dir.path());

    let Some(LoginEvent::DeviceCode {
        verification_url,
        user_code,
        expires_at,
    }) = events.recv().await
    else {
        panic!("the first event is the device code")
    };
    assert_eq!(verification_url, format!("{}/codex/device", fake.url()));
    assert_eq!(fake.device_user_codes(), vec![user_code]);
    let lifetime = expires_at.duration_since(SystemTime::now()).unwrap();
    assert!(lifetime > Duration::from_secs(14 * 60) && lifetime <= Duration::from_secs(15 * 60));

    assert_eq!(events.recv().await, Some(LoginEvent::Exchanging));
    let LoginOutcome::Done(account) = handle.wait().await else {
        panic!("the login succeeds")
    };
    assert_eq!(account.email.as_deref(), Some("dev@example.com"));
    assert_eq!(events.recv().await, Some(LoginEvent::Done(account)));
    assert_eq!(fake.device_poll_count(), 3);
    // First poll at once, then one interval before each of the other two.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_secs(11),
        "{waited:?}"
    );

    let polls = fake.requests_to("/deviceauth/token");
    assert!(polls[0].json()["device_auth_id"].is_string());
    let exchange = &fake.requests_to("/oauth/token")[0];
    assert_eq!(
        exchange.form_value("redirect_uri").unwrap(),
        format!("{}/deviceauth/callback", fake.url())
    );
    let file = read_json(&dir.path().join("auth.json"));
    assert_eq!(file["openai"]["type"], "oauth");
    assert_eq!(file["openai"]["accountId"], "acct_fake_123");
    assert!(file["openai"]["expires"].is_i64());
}

#[tokio::test(start_paused = true)]
async fn pending_twice_then_success_with_the_interval_as_a_string() {
    pending_twice_then_success(json!("5")).await;
}

#[tokio::test(start_paused = true)]
async fn pending_twice_then_success_with_the_interval_as_a_number() {
    pending_twice_then_success(json!(5)).await;
}

#[tokio::test(start_paused = true)]
async fn the_usercode_alias_and_a_manual_approval_work() {
    let fake = fake_with(|c| c.device_usercode_alias = true).await;
    let dir = tempfile::tempdir().unwrap();
    let (handle, mut events) = start(&fake, dir.path());
    let Some(LoginEvent::DeviceCode { user_code, .. }) = events.recv().await else {
        panic!("the first event is the device code")
    };
    fake.wait_for_requests_to("/deviceauth/token", 2).await;
    fake.approve_device(&user_code);
    assert!(matches!(handle.wait().await, LoginOutcome::Done(_)));
}

#[tokio::test]
async fn a_disabled_device_login_says_how_to_enable_it() {
    let fake = fake_with(|c| c.device_login_enabled = false).await;
    let dir = tempfile::tempdir().unwrap();
    let (handle, _events) = start(&fake, dir.path());
    let LoginOutcome::Failed(message) = handle.wait().await else {
        panic!("the login fails")
    };
    assert!(
        message.contains("device code login is not enabled"),
        "{message}"
    );
    assert!(message.contains("Settings → Security"), "{message}");
    assert!(message.contains("--browser"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn an_unapproved_code_expires_after_fifteen_minutes() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let started = tokio::time::Instant::now();
    let (handle, _events) = start(&fake, dir.path());
    let LoginOutcome::Failed(message) = handle.wait().await else {
        panic!("the login fails")
    };
    assert!(message.contains("expired"), "{message}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(15 * 60) && waited < Duration::from_secs(15 * 60 + 5),
        "{waited:?}"
    );
    // Every 5 s for 15 minutes, the first at once.
    assert_eq!(fake.device_poll_count(), 180);
    assert!(!dir.path().join("auth.json").exists());
}

#[tokio::test(start_paused = true)]
async fn cancel_stops_polling_at_once() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (handle, mut events) = start(&fake, dir.path());
    assert!(matches!(
        events.recv().await,
        Some(LoginEvent::DeviceCode { .. })
    ));
    fake.wait_for_requests_to("/deviceauth/token", 2).await;
    handle.cancel();
    assert_eq!(handle.wait().await, LoginOutcome::Cancelled);
    assert_eq!(events.recv().await, Some(LoginEvent::Cancelled));
    let polls = fake.device_poll_count();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(fake.device_poll_count(), polls, "no poll after the cancel");
}

/// RFC 8628 while polling: a 500, a 502 page and a network-level hiccup are retried (the wait
/// doubling after each), `slow_down` adds 5 s to the interval for good, and the login goes
/// through once the code is approved.
#[tokio::test(start_paused = true)]
async fn server_errors_and_slow_down_while_polling_are_waited_out() {
    let fake = fake_with(|c| c.device_approval = DeviceApproval::AfterPolls(0)).await;
    fake.push_device_poll_reply(JsonReply::new(
        500,
        json!({"error": {"message": "device auth is down"}}),
    ));
    fake.push_device_poll_reply(JsonReply::new(429, json!({"error": "slow_down"})));
    fake.push_device_poll_reply(JsonReply::new(502, json!("<html>bad gateway</html>")));
    let dir = tempfile::tempdir().unwrap();
    let started = tokio::time::Instant::now();
    let (handle, _events) = start(&fake, dir.path());
    let LoginOutcome::Done(account) = handle.wait().await else {
        panic!("the login survives the failures")
    };
    assert_eq!(account.email.as_deref(), Some("dev@example.com"));
    assert_eq!(fake.device_poll_count(), 4);
    // 500 at 0 s, then twice the 5 s interval; slow_down at 10 s makes it 10 s; the 502 at
    // 20 s doubles that; approved at 40 s.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(40) && waited < Duration::from_secs(41),
        "{waited:?}"
    );
    assert!(dir.path().join("auth.json").exists());
}

/// The person declining the code ends the login at once, in their words; a code that keeps
/// failing until it expires says the last failure.
#[tokio::test(start_paused = true)]
async fn a_declined_code_ends_the_login_and_failures_until_expiry_are_named() {
    let fake = FakeOpenAi::start().await;
    fake.push_device_poll_reply(JsonReply::new(503, json!({})));
    fake.push_device_poll_reply(JsonReply::new(
        400,
        json!({"error": "access_denied", "error_description": "The user declined."}),
    ));
    let dir = tempfile::tempdir().unwrap();
    let (handle, _events) = start(&fake, dir.path());
    let LoginOutcome::Failed(message) = handle.wait().await else {
        panic!("the login fails")
    };
    assert!(
        message.contains("sign-in refused: The user declined."),
        "{message}"
    );
    assert_eq!(fake.device_poll_count(), 2);

    let fake = FakeOpenAi::start().await;
    for _ in 0..200 {
        fake.push_device_poll_reply(JsonReply::new(
            500,
            json!({"error": {"message": "device auth is down"}}),
        ));
    }
    let (handle, _events) = start(&fake, dir.path());
    let LoginOutcome::Failed(message) = handle.wait().await else {
        panic!("the login fails")
    };
    assert!(
        message.contains("HTTP 500 from the login server: device auth is down"),
        "{message}"
    );
    assert!(
        fake.device_poll_count() < 40,
        "{}",
        fake.device_poll_count()
    );
}
