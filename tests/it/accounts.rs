//! Several ChatGPT logins against the fake issuer: `kelp login --name`, `kelp accounts`, a
//! switch in the core between two turns (the next request carries the other login), a refresh
//! that leaves the kept logins byte for byte, and the app-server's `accountSession/*`.

use std::process::Stdio;
use std::time::Duration;

use kelp::auth::{AuthManager, AuthStore, Logins, OAuthEntry, OpenAiEntry};
use kelp::config::Config;
use kelp::protocol::{ApprovalMode, Event, Op, Reply, TurnOutcome};
use kelp::session::{Note, SessionLog, list_sessions};
use serde_json::{Value, json};

use crate::agent_loop::agent_setup;
use crate::app_server::Server;
use crate::fake_openai::{Config as FakeConfig, FakeOpenAi, Tokens};
use crate::support::{http, kelp, read_json};

/// The fake's next logins are `email`'s, in workspace `account_id`.
pub(crate) fn sign_in_as(fake: &FakeOpenAi, email: &str, account_id: &str) {
    let (email, account_id) = (email.to_string(), account_id.to_string());
    fake.configure(move |c| {
        c.user_id = format!("user-{account_id}");
        c.email = email;
        c.account_id = account_id;
    });
}

/// `tokens` as the entry a login saves.
pub(crate) fn entry(tokens: &Tokens) -> OpenAiEntry {
    OpenAiEntry::OAuth(OAuthEntry {
        refresh: tokens.refresh_token.clone(),
        access: tokens.access_token.clone(),
        expires_ms: tokens.expires_at_ms,
        account_id: Some(tokens.account_id.clone()),
    })
}

/// A home whose auth file holds `home@example.com`'s login beside another provider's entry.
fn home_with_one_login(fake: &FakeOpenAi) -> (tempfile::TempDir, Tokens) {
    let home = tempfile::tempdir().unwrap();
    sign_in_as(fake, "home@example.com", "acct-home");
    let tokens = fake.mint_tokens();
    let auth = home.path().join(".local/share/kelp/auth.json");
    std::fs::create_dir_all(auth.parent().unwrap()).unwrap();
    let file = json!({
        "anthropic": {"type": "api", "key": "sk-ant-kept"},
        "openai": tokens.auth_json_entry(),
    });
    std::fs::write(&auth, serde_json::to_string_pretty(&file).unwrap()).unwrap();
    (home, tokens)
}

fn kelp_against(fake: &FakeOpenAi, home: &std::path::Path) -> tokio::process::Command {
    let mut cmd = kelp(home);
    cmd.envs(fake.env());
    tokio::process::Command::from(cmd)
}

async fn run(fake: &FakeOpenAi, home: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = kelp_against(fake, home).args(args).output().await.unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_login_by_name_keeps_the_first_and_the_cli_switches_between_them() {
    let fake = FakeOpenAi::start_with(FakeConfig {
        device_interval: json!("1"),
        ..FakeConfig::default()
    })
    .await;
    let (home, first) = home_with_one_login(&fake);
    let auth = home.path().join(".local/share/kelp/auth.json");
    let kept = home.path().join(".local/share/kelp/kelp-accounts.json");

    sign_in_as(&fake, "work@example.com", "acct-work");
    let child = kelp_against(&fake, home.path())
        .args(["login", "--device", "--name", "work"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    fake.wait_for_requests_to("/deviceauth/usercode", 1).await;
    // The request is recorded as it arrives, the code it is given a moment later.
    let code = loop {
        if let Some(code) = fake.device_user_codes().pop() {
            break code;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    fake.approve_device(&code);
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("kelp login finishes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("Kept as work, beside home@example.com"),
        "{stdout}"
    );

    // The new login is in use where opencode reads it; the first is kept, nothing else moved.
    let file = read_json(&auth);
    assert_eq!(file["openai"]["accountId"], "acct-work");
    assert_eq!(file["anthropic"]["key"], "sk-ant-kept");
    let saved = read_json(&kept);
    assert_eq!(
        saved["kept"]["home@example.com"]["refresh"],
        first.refresh_token.as_str()
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let (ok, listed, _) = run(&fake, home.path(), &["accounts"]).await;
    assert!(ok);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert!(lines[0].starts_with("* work") && lines[0].contains("in use"));
    assert!(lines[1].starts_with("  home@example.com") && lines[1].contains("used "));

    let (ok, json_out, _) = run(&fake, home.path(), &["accounts", "list", "--json"]).await;
    assert!(ok);
    let listed: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(listed[0]["name"], "work");
    assert_eq!(listed[0]["active"], true);
    assert_eq!(listed[1]["email"], "home@example.com");
    assert!(
        !json_out.contains(&first.refresh_token) && !json_out.contains("rt_fake"),
        "never a token: {json_out}"
    );

    let (ok, said, _) = run(
        &fake,
        home.path(),
        &["accounts", "switch", "home@example.com"],
    )
    .await;
    assert!(ok, "{said}");
    assert!(said.contains("Now using home@example.com"), "{said}");
    let file = read_json(&auth);
    assert_eq!(file["openai"]["refresh"], first.refresh_token.as_str());
    assert_eq!(read_json(&kept)["kept"]["work"]["accountId"], "acct-work");
    assert!(fake.revoked_tokens().is_empty(), "a switch revokes nothing");

    let (ok, _, err) = run(&fake, home.path(), &["accounts", "switch", "nobody"]).await;
    assert!(!ok);
    assert!(
        err.contains("no login is named \"nobody\": kelp keeps home@example.com, work"),
        "{err}"
    );

    let (ok, said, _) = run(&fake, home.path(), &["accounts", "remove", "work"]).await;
    assert!(ok, "{said}");
    assert_eq!(fake.revoked_tokens().len(), 1, "a removed login is revoked");
    assert!(read_json(&kept)["kept"].get("work").is_none());
}

#[tokio::test]
async fn a_refresh_of_the_login_in_use_leaves_the_kept_ones_byte_for_byte() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let auth = dir.path().join("auth.json");
    let store = AuthStore::new(&auth);
    let logins = Logins::beside(&store);
    sign_in_as(&fake, "work@example.com", "acct-work");
    logins
        .adopt(Some("work"), &entry(&fake.mint_tokens()))
        .unwrap();
    sign_in_as(&fake, "home@example.com", "acct-home");
    let expiring = fake.mint_tokens_with_lifetime(60);
    logins.adopt(Some("home"), &entry(&expiring)).unwrap();
    let kept_before = std::fs::read(logins.path()).unwrap();

    let config = Config {
        auth_file: auth.clone(),
        ..Config::for_origin(&fake.url(), dir.path())
    };
    let manager = AuthManager::new(&config, http(), None);
    manager.credential().await.unwrap();
    assert_eq!(fake.refresh_count(), 1);
    let Some(OpenAiEntry::OAuth(now)) = store.load().unwrap().openai() else {
        panic!("the login in use is ChatGPT's");
    };
    assert_ne!(now.refresh, expiring.refresh_token, "rotated");
    assert_eq!(std::fs::read(logins.path()).unwrap(), kept_before);
    assert_eq!(manager.login_name().await.as_deref(), Some("home"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switch_between_turns_sends_the_next_request_with_the_other_login() {
    let mut a = agent_setup(|config, _| config.approval = ApprovalMode::Ask).await;
    let store = AuthStore::new(&a.config.auth_file);
    store.update(|file| file.remove_openai()).unwrap();
    let logins = Logins::beside(&store);
    sign_in_as(&a.fake, "work@example.com", "acct-work");
    let work = a.fake.mint_tokens();
    logins.adopt(Some("work"), &entry(&work)).unwrap();
    sign_in_as(&a.fake, "home@example.com", "acct-home");
    let home = a.fake.mint_tokens();
    logins.adopt(None, &entry(&home)).unwrap();

    a.submit("first");
    assert_eq!(a.finish_turn().await.1, TurnOutcome::Completed);
    a.send(Op::ListLogins);
    let seen = a
        .until(|e| matches!(e, Event::Reply(Reply::Logins(_))))
        .await;
    let Some(Event::Reply(Reply::Logins(rows))) = seen.last() else {
        unreachable!()
    };
    let names: Vec<(&str, bool)> = rows.iter().map(|r| (r.name.as_str(), r.active)).collect();
    assert_eq!(names, [("home@example.com", true), ("work", false)]);

    a.send(Op::SwitchLogin("work".into()));
    let seen = a
        .until(|e| matches!(e, Event::Reply(Reply::AuthChanged(_))))
        .await;
    let Some(Event::Reply(Reply::AuthChanged(Some(now)))) = seen.last() else {
        panic!("the login in use after the switch: {seen:?}");
    };
    assert_eq!(now.describe(), "work@example.com (plus)");
    a.submit("second");
    assert_eq!(a.finish_turn().await.1, TurnOutcome::Completed);

    let sent = a.fake.requests_to("/responses");
    let bearer = |at: usize| sent[at].header("authorization").map(str::to_string);
    let account = |at: usize| sent[at].header("chatgpt-account-id").map(str::to_string);
    assert_eq!(bearer(0), Some(format!("Bearer {}", home.access_token)));
    assert_eq!(account(0).as_deref(), Some("acct-home"));
    let last = sent.len() - 1;
    assert_eq!(bearer(last), Some(format!("Bearer {}", work.access_token)));
    assert_eq!(account(last).as_deref(), Some("acct-work"));

    // The conversation remembers which login each turn ran on.
    let sessions: Vec<_> = list_sessions(&a.config.state_dir, None).collect();
    let log = SessionLog::load(&sessions[0].path).unwrap();
    let accounts: Vec<Option<String>> = log
        .notes
        .iter()
        .filter_map(|(_, note)| match note {
            Note::TurnStarted { account, .. } => Some(account.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        accounts,
        [Some("home@example.com".into()), Some("work".into())]
    );
}

/// `accountSession/list|switch` in Codex 0.171's shapes (checked against its schema by the
/// server harness): the ChatGPT logins kept, a switch to another workspace's login, and
/// `account/updated` after it; refused without the experimental API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_server_lists_and_switches_the_logins_kept() {
    let fake = FakeOpenAi::start().await;
    let (home, _) = home_with_one_login(&fake);
    let auth = home.path().join(".local/share/kelp/auth.json");
    let logins = Logins::beside(&AuthStore::new(&auth));
    sign_in_as(&fake, "work@example.com", "acct-work");
    let work = fake.mint_tokens();
    logins.adopt(Some("work"), &entry(&work)).unwrap();

    let mut server = Server::start_in(&fake, home);
    server.initialize(false);
    let (refused, _) = server.call("accountSession/list", json!({}));
    assert_eq!(
        refused["error"]["message"],
        "accountSession/list requires experimentalApi capability"
    );

    let mut server = server.restarted(&fake);
    server.initialize(true);
    let listed = server.result("accountSession/list", json!({}));
    assert_eq!(listed["activeSessionId"], "work");
    let sessions = listed["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{listed}");
    assert_eq!(sessions[0]["email"], "work@example.com");
    assert_eq!(sessions[0]["isActive"], true);
    assert_eq!(sessions[1]["sessionId"], "home@example.com");
    assert_eq!(sessions[1]["workspaces"][0]["accountId"], "acct-home");

    let (wrong, _) = server.call(
        "accountSession/switch",
        json!({"sessionId": "home@example.com", "accountId": "acct-work"}),
    );
    assert!(
        wrong["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is not for workspace"),
        "{wrong}"
    );
    let (answer, _) = server.call(
        "accountSession/switch",
        json!({"sessionId": "home@example.com", "accountId": "acct-home"}),
    );
    assert_eq!(
        answer["result"]["activeSessionId"], "home@example.com",
        "{answer}"
    );
    let updated = server.notification("account/updated");
    assert_eq!(updated, json!({"authMode": "chatgpt", "planType": "plus"}));
    let read = server.result("account/read", json!({}));
    assert_eq!(read["account"]["email"], "home@example.com");
}
