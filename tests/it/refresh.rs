//! Refreshing a ChatGPT login against the fake issuer: rotation, persistence, single flight
//! within a process and across processes, and failures that must never delete the login.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kelp::auth::refresh::RetryPolicy;
use kelp::auth::{AuthError, AuthManager, AuthStore, Credential};
use kelp::config::Config;
use serde_json::{Value, json};

use crate::fake_openai::{FakeOpenAi, JsonReply, Tokens};
use crate::support::{http, now_ms, read_json};

/// Another provider's entry that every write must carry along untouched.
fn foreign() -> Value {
    json!({"type": "oauth", "refresh": "gho_r", "access": "tid=1", "expires": 1_764_000_000_000i64,
           "enterpriseUrl": "https://ghe.example.com"})
}

/// Writes `tokens` as kelp's entry beside a foreign one, as a login would have.
fn write_login(path: &Path, tokens: &Tokens) {
    let file = json!({
        "github-copilot": foreign(),
        "openai": {
            "type": "oauth",
            "refresh": tokens.refresh_token,
            "access": tokens.access_token,
            "expires": tokens.expires_at_ms,
            "accountId": tokens.account_id,
            "x-extra": "kept"
        }
    });
    std::fs::write(path, serde_json::to_string_pretty(&file).unwrap()).unwrap();
}

fn manager(fake: &FakeOpenAi, auth_file: &Path) -> AuthManager {
    let config = Config {
        auth_file: auth_file.to_path_buf(),
        ..Config::for_origin(&fake.url(), auth_file.parent().unwrap())
    };
    let quick = RetryPolicy {
        attempts: 3,
        base_delay: Duration::from_millis(10),
    };
    AuthManager::with_retry(&config, http(), None, quick)
}

fn access_of(credential: &Credential) -> &str {
    match credential {
        Credential::ChatGpt { access_token, .. } => access_token,
        other => panic!("a ChatGPT credential expected, not {other:?}"),
    }
}

#[tokio::test]
async fn a_token_near_expiry_is_refreshed_rotated_and_persisted_keeping_other_entries() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.json");
    let old = fake.mint_tokens_with_lifetime(4 * 60);
    write_login(&path, &old);
    let manager = manager(&fake, &path);

    let credential = manager.credential().await.unwrap();
    assert_eq!(fake.refresh_count(), 1);
    assert_ne!(access_of(&credential), old.access_token);
    let Credential::ChatGpt { account_id, .. } = &credential else {
        unreachable!()
    };
    assert_eq!(account_id.as_deref(), Some("acct_fake_123"));

    let file = read_json(&path);
    let entry = &file["openai"];
    assert_eq!(entry["access"], access_of(&credential));
    assert_ne!(entry["refresh"], old.refresh_token.as_str(), "rotated");
    assert!(entry["expires"].as_i64().unwrap() > now_ms() + 50 * 60_000);
    assert_eq!(entry["x-extra"], "kept");
    assert_eq!(file["github-copilot"], foreign());

    // The new tokens are good for an hour: no second refresh, and they work on the backend.
    let again = manager.credential().await.unwrap();
    assert_eq!(again, credential);
    assert_eq!(fake.refresh_count(), 1);
    let refresh_body = fake.requests_to("/oauth/token")[0].json().clone();
    assert_eq!(refresh_body["grant_type"], "refresh_token");
    assert_eq!(refresh_body["refresh_token"], old.refresh_token.as_str());
}

#[tokio::test]
async fn a_fresh_token_is_used_as_it_is() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.json");
    let tokens = fake.mint_tokens();
    write_login(&path, &tokens);
    let credential = manager(&fake, &path).credential().await.unwrap();
    assert_eq!(access_of(&credential), tokens.access_token);
    assert_eq!(fake.refresh_count(), 0);
}

#[tokio::test]
async fn a_401_refreshes_once_and_a_stale_401_adopts_the_new_tokens() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.json");
    write_login(&path, &fake.mint_tokens());
    let manager = manager(&fake, &path);
    let rejected = manager.credential().await.unwrap();

    let fresh = manager.refresh_after_unauthorized(&rejected).await.unwrap();
    assert_ne!(fresh, rejected);
    assert_eq!(fake.refresh_count(), 1);
    // A second request that failed with the same old token gets the new one without a refresh.
    let again = manager.refresh_after_unauthorized(&rejected).await.unwrap();
    assert_eq!(again, fresh);
    assert_eq!(fake.refresh_count(), 1);
}

#[tokio::test]
async fn concurrent_callers_in_one_process_share_one_refresh() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.json");
    write_login(&path, &fake.mint_tokens_with_lifetime(-10));
    let manager = manager(&fake, &path);
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let manager = manager.clone();
            tokio::spawn(async move { manager.credential().await.unwrap() })
        })
        .collect();
    let mut credentials = Vec::new();
    for call in calls {
        credentials.push(call.await.unwrap());
    }
    assert_eq!(fake.refresh_count(), 1);
    assert!(credentials.windows(2).all(|w| w[0] == w[1]));
}

#[tokio::test]
async fn permanent_refresh_failures_ask_to_reconnect_and_keep_the_entry() {
    for reply in [
        JsonReply::refresh_token_reused(),
        JsonReply::refresh_token_expired(),
        JsonReply::refresh_token_invalidated(),
    ] {
        let fake = FakeOpenAi::start().await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        write_login(&path, &fake.mint_tokens_with_lifetime(60));
        let before = std::fs::read_to_string(&path).unwrap();
        fake.push_refresh_reply(reply);

        let error = manager(&fake, &path).credential().await.unwrap_err();
        assert!(matches!(error, AuthError::LoginExpired), "{error:?}");
        assert_eq!(
            error.to_string(),
            "your ChatGPT login expired or was revoked: sign in again"
        );
        assert_eq!(
            fake.refresh_count(),
            1,
            "a permanent failure is not retried"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            before,
            "entry kept"
        );
    }
}

#[tokio::test]
async fn transient_refresh_failures_are_retried_with_a_bound() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.json");
    write_login(&path, &fake.mint_tokens_with_lifetime(60));
    fake.push_refresh_reply(JsonReply::server_error());
    fake.push_refresh_reply(JsonReply::server_error());
    let manager = manager(&fake, &path);
    manager.credential().await.unwrap();
    assert_eq!(fake.refresh_count(), 3);

    // Only an expired token makes a failed refresh an error (see the next test).
    write_login(&path, &fake.mint_tokens_with_lifetime(-60));
    for _ in 0..3 {
        fake.push_refresh_reply(JsonReply::server_error());
    }
    let error = manager.credential().await.unwrap_err();
    assert!(matches!(error, AuthError::RefreshFailed(_)), "{error:?}");
    assert_eq!(fake.refresh_count(), 6, "three attempts, then it gives up");
    assert!(AuthStore::new(&path).load().unwrap().openai().is_some());
}

#[tokio::test]
async fn an_issuer_outage_keeps_using_a_token_that_has_not_expired() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.json");
    let old = fake.mint_tokens_with_lifetime(60);
    write_login(&path, &old);
    let before = std::fs::read_to_string(&path).unwrap();
    for _ in 0..3 {
        fake.push_refresh_reply(JsonReply::server_error());
    }

    let credential = manager(&fake, &path).credential().await.unwrap();
    assert_eq!(access_of(&credential), old.access_token);
    assert_eq!(fake.refresh_count(), 3, "it did try");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
}

#[tokio::test]
async fn logout_revokes_the_refresh_token_and_removes_only_our_entry() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.json");
    let tokens = fake.mint_tokens();
    write_login(&path, &tokens);
    let report = manager(&fake, &path).logout().await.unwrap();
    assert!(report.removed);
    assert_eq!(report.revoked, Some(Ok(())));
    assert_eq!(fake.revoked_tokens(), vec![tokens.refresh_token]);
    let file = read_json(&path);
    assert!(file.get("openai").is_none());
    assert_eq!(file["github-copilot"], foreign());
}

#[tokio::test]
async fn logout_removes_the_entry_even_when_revoking_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.json");
    let fake = FakeOpenAi::start().await;
    write_login(&path, &fake.mint_tokens());
    let manager = manager(&fake, &path);
    fake.shutdown().await;
    let report = manager.logout().await.unwrap();
    assert!(report.removed);
    assert!(matches!(report.revoked, Some(Err(_))));
    assert!(read_json(&path).get("openai").is_none());
}

// ---- Two processes racing ------------------------------------------------------------------

const CHILD_ENV: &str = "KELP_TEST_REFRESH_CHILD";

/// `issuer|auth file|folder for the child's signals|child id`.
fn child_args() -> Option<(String, PathBuf, PathBuf, String)> {
    let value = std::env::var(CHILD_ENV).ok()?;
    let mut parts = value.split('|');
    Some((
        parts.next()?.to_string(),
        PathBuf::from(parts.next()?),
        PathBuf::from(parts.next()?),
        parts.next()?.to_string(),
    ))
}

/// The child side of the race: says it is ready, waits for the start signal, asks for a
/// credential, and writes the access token it got.
#[test]
#[ignore = "run as a child process by two_processes_racing_make_exactly_one_refresh"]
fn refreshing_child() {
    let Some((issuer, auth_file, signals, id)) = child_args() else {
        return;
    };
    std::fs::write(signals.join(format!("ready-{id}")), "").unwrap();
    while !signals.join("go").exists() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let access = runtime.block_on(async {
        let config = Config {
            auth_file,
            ..Config::for_origin(&issuer, &signals)
        };
        let manager = AuthManager::new(&config, http(), None);
        let credential = manager.credential().await.unwrap();
        access_of(&credential).to_string()
    });
    std::fs::write(signals.join(format!("access-{id}")), access).unwrap();
}

fn spawn_child(issuer: &str, auth_file: &Path, signals: &Path, id: usize) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "refresh::refreshing_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            CHILD_ENV,
            format!(
                "{issuer}|{}|{}|{id}",
                auth_file.display(),
                signals.display()
            ),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_racing_make_exactly_one_refresh_and_share_its_tokens() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.json");
    let old = fake.mint_tokens_with_lifetime(60);
    write_login(&path, &old);
    let signals = dir.path().join("signals");
    std::fs::create_dir(&signals).unwrap();

    let mut children: Vec<Child> = (0..2)
        .map(|id| spawn_child(&fake.url(), &path, &signals, id))
        .collect();
    // Both are up and waiting before either may start, so they really race.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !(0..2).all(|id| signals.join(format!("ready-{id}")).exists()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the children never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    std::fs::write(signals.join("go"), "").unwrap();
    for child in &mut children {
        let status = tokio::task::block_in_place(|| child.wait().unwrap());
        assert!(status.success());
    }

    assert_eq!(fake.refresh_count(), 1, "exactly one refresh request");
    let stored = read_json(&path);
    let stored_access = stored["openai"]["access"].as_str().unwrap();
    assert_ne!(stored_access, old.access_token);
    assert_ne!(stored["openai"]["refresh"], old.refresh_token.as_str());
    for id in 0..2 {
        let got = std::fs::read_to_string(signals.join(format!("access-{id}"))).unwrap();
        assert_eq!(got, stored_access, "child {id} ended with the new tokens");
    }
    assert_eq!(stored["github-copilot"], foreign());
}
