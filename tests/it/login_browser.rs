//! The browser login against the fake issuer, with the test playing the browser over real
//! sockets on 127.0.0.1.

use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;

use kelp::auth::{LoginHandle, LoginOptions, LoginOutcome, PasteError, start_login_with};

use kelp::protocol::{LoginEvent, LoginMethod};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::fake_openai::{FakeOpenAi, s256_challenge};
use crate::support::{http, login_options, now_ms, read_json};

struct Browser {
    handle: LoginHandle,
    events: UnboundedReceiver<LoginEvent>,
    authorize_url: String,
    port: u16,
}

async fn start(options: LoginOptions) -> Browser {
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let handle = start_login_with(LoginMethod::Browser, options, http(), tx);
    let Some(LoginEvent::BrowserWaiting {
        authorize_url,
        port,
        ..
    }) = events.recv().await
    else {
        panic!("the first event is BrowserWaiting")
    };
    Browser {
        handle,
        events,
        authorize_url,
        port,
    }
}

/// Asks the issuer to authorize, as the browser would, and returns where it redirects.
async fn authorize(url: &str) -> String {
    let response = http().get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()[reqwest::header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    // The redirect names localhost; the server listens on 127.0.0.1 only.
    location.replacen("http://localhost:", "http://127.0.0.1:", 1)
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn the_browser_flow_saves_the_login_and_shows_the_success_page() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut login = start(login_options(&fake.url(), dir.path())).await;

    assert!(
        login
            .authorize_url
            .starts_with(&format!("{}/oauth/authorize?", fake.url()))
    );
    let redirect_uri = format!(
        "redirect_uri=http%3A%2F%2Flocalhost%3A{}%2Fauth%2Fcallback",
        login.port
    );
    assert!(
        login.authorize_url.contains(&redirect_uri),
        "{}",
        login.authorize_url
    );

    let callback = authorize(&login.authorize_url).await;
    assert!(callback.starts_with(&format!(
        "http://127.0.0.1:{}/auth/callback?code=",
        login.port
    )));
    let response = http().get(&callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()[reqwest::header::LOCATION], "/success");
    let page = http()
        .get(format!("http://127.0.0.1:{}/success", login.port))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("You are signed in to kelp")
    );

    let config = fake.config();
    let LoginOutcome::Done(account) = login.handle.wait().await else {
        panic!("the login succeeds")
    };
    assert_eq!(account.email.as_deref(), Some(config.email.as_str()));
    assert_eq!(account.plan.as_deref(), Some(config.plan.as_str()));
    assert_eq!(
        account.account_id.as_deref(),
        Some(config.account_id.as_str())
    );
    assert_eq!(login.events.recv().await, Some(LoginEvent::Exchanging));
    assert_eq!(login.events.recv().await, Some(LoginEvent::Done(account)));

    let file = read_json(&dir.path().join("auth.json"));
    let entry = &file["openai"];
    assert_eq!(entry["type"], "oauth");
    assert_eq!(entry["accountId"], config.account_id.as_str());
    let expires = entry["expires"].as_i64().expect("an integer");
    assert!(
        expires > now_ms() + 30 * 60_000,
        "milliseconds, about an hour ahead"
    );
    assert!(expires < now_ms() + 2 * 3_600_000);
    assert!(entry["access"].as_str().is_some_and(|a| a.contains('.')));
    assert!(entry["refresh"].as_str().is_some_and(|r| !r.is_empty()));

    // The code exchange was form-encoded with the verifier of the challenge sent earlier.
    let challenge = fake.requests_to("/oauth/authorize")[0]
        .query_param("code_challenge")
        .unwrap();
    let exchange = &fake.requests_to("/oauth/token")[0];
    assert_eq!(
        exchange.form_value("grant_type").as_deref(),
        Some("authorization_code")
    );
    assert_eq!(
        exchange.form_value("redirect_uri").unwrap(),
        format!("http://localhost:{}/auth/callback", login.port)
    );
    let verifier = exchange.form_value("code_verifier").unwrap();
    assert_eq!(verifier.len(), 86);
    assert_eq!(s256_challenge(&verifier), challenge);
}

#[tokio::test]
async fn a_wrong_state_gets_400_and_the_login_still_completes() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let login = start(login_options(&fake.url(), dir.path())).await;
    let base = format!("http://127.0.0.1:{}", login.port);

    for query in [
        "code=stolen&state=wrong",
        "code=stolen",
        "error=access_denied",
    ] {
        let response = http()
            .get(format!("{base}/auth/callback?{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(response.text().await.unwrap(), "State mismatch");
    }
    let other = http()
        .get(format!("{base}/favicon.ico"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    assert!(!login.handle.is_finished());

    let callback = authorize(&login.authorize_url).await;
    let response = http().get(&callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert!(matches!(login.handle.wait().await, LoginOutcome::Done(_)));
}

#[tokio::test]
async fn access_denied_ends_the_login_with_the_readable_message() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    fake.push_authorize_error("access_denied", "You declined to sign in.");
    let login = start(login_options(&fake.url(), dir.path())).await;
    let callback = authorize(&login.authorize_url).await;
    let page = http()
        .get(&callback)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("You declined to sign in."), "{page}");
    let LoginOutcome::Failed(message) = login.handle.wait().await else {
        panic!("the login fails")
    };
    assert!(message.contains("You declined to sign in."), "{message}");
    assert!(!message.contains('\n'));
    assert!(!dir.path().join("auth.json").exists());
}

#[tokio::test]
async fn a_missing_codex_entitlement_says_codex_is_not_enabled() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    fake.push_authorize_error("access_denied", "missing_codex_entitlement");
    let login = start(login_options(&fake.url(), dir.path())).await;
    let callback = authorize(&login.authorize_url).await;
    http().get(&callback).send().await.unwrap();
    let LoginOutcome::Failed(message) = login.handle.wait().await else {
        panic!("the login fails")
    };
    assert!(
        message.starts_with("Codex is not enabled for your workspace"),
        "{message}"
    );
}

#[tokio::test]
async fn a_busy_port_is_asked_to_cancel_then_the_fallback_is_used() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    // Something that holds the primary port and answers like an older login server.
    let holder = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let primary = holder.local_addr().unwrap().port();
    let (seen_tx, seen_rx) = tokio::sync::oneshot::channel();
    let holding = tokio::spawn(async move {
        let (mut socket, _) = holder.accept().await.unwrap();
        let mut request = vec![0u8; 1024];
        let n = socket.read(&mut request).await.unwrap();
        let _ = seen_tx.send(String::from_utf8_lossy(&request[..n]).to_string());
        socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        // Keep the port: this old server does not exit.
        std::future::pending::<()>().await;
    });
    let fallback = free_port();
    let options = LoginOptions {
        callback_port: primary,
        fallback_port: Some(fallback),
        busy_port_wait: Duration::from_millis(300),
        ..login_options(&fake.url(), dir.path())
    };
    let login = start(options).await;
    assert_eq!(login.port, fallback);
    assert!(
        login
            .authorize_url
            .contains(&format!("localhost%3A{fallback}%2F"))
    );
    let request = seen_rx.await.unwrap();
    assert!(request.starts_with("GET /cancel HTTP/1.1\r\n"), "{request}");

    let callback = authorize(&login.authorize_url).await;
    http().get(&callback).send().await.unwrap();
    assert!(matches!(login.handle.wait().await, LoginOutcome::Done(_)));
    holding.abort();
}

#[tokio::test]
async fn both_ports_busy_is_a_clear_error_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let first = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let second = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let (a, b) = (
        first.local_addr().unwrap().port(),
        second.local_addr().unwrap().port(),
    );
    // Nothing answers /cancel here: the request just waits in the backlog until it times out.
    let options = LoginOptions {
        callback_port: a,
        fallback_port: Some(b),
        busy_port_wait: Duration::from_millis(200),
        ..login_options("http://127.0.0.1:9", dir.path())
    };
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let handle = start_login_with(LoginMethod::Browser, options, http(), tx);
    let LoginOutcome::Failed(message) = handle.wait().await else {
        panic!("the login fails")
    };
    assert!(
        message.contains(&format!("ports {a} and {b} are both in use")),
        "{message}"
    );
    assert!(message.contains("kelp login --device"), "{message}");
    assert_eq!(events.recv().await, Some(LoginEvent::Failed(message)));
}

#[tokio::test]
async fn a_pasted_redirect_url_completes_the_login_without_the_callback() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let login = start(login_options(&fake.url(), dir.path())).await;
    // The browser on the other machine got the redirect but could not load it.
    let callback = authorize(&login.authorize_url).await;
    let pasted = callback.replacen("http://127.0.0.1:", "http://localhost:", 1);

    let foreign = pasted.replace("state=", "state=x");
    assert_eq!(login.handle.paste(&foreign), Err(PasteError::StateMismatch));
    assert_eq!(login.handle.paste("   "), Err(PasteError::Empty));
    assert!(!login.handle.is_finished());

    login.handle.paste(&format!("  {pasted}\n")).unwrap();
    assert!(matches!(login.handle.wait().await, LoginOutcome::Done(_)));
    assert_eq!(
        read_json(&dir.path().join("auth.json"))["openai"]["type"],
        "oauth"
    );
    assert_eq!(login.handle.paste(&pasted), Err(PasteError::Finished));
}

#[tokio::test]
async fn a_pasted_bare_code_completes_the_login() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let login = start(login_options(&fake.url(), dir.path())).await;
    let callback = authorize(&login.authorize_url).await;
    let code = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    login.handle.paste(&code).unwrap();
    assert!(matches!(login.handle.wait().await, LoginOutcome::Done(_)));
}

#[tokio::test]
async fn cancel_frees_the_port_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let login = start(login_options("http://127.0.0.1:9", dir.path())).await;
    login.handle.cancel();
    let outcome = tokio::time::timeout(Duration::from_millis(100), login.handle.wait())
        .await
        .expect("the login ends within 100 ms of the cancel");
    assert_eq!(outcome, LoginOutcome::Cancelled);
    TcpListener::bind((Ipv4Addr::LOCALHOST, login.port)).expect("the port is free again");
}

#[tokio::test]
async fn dropping_the_handle_cancels_and_frees_the_port() {
    let dir = tempfile::tempdir().unwrap();
    let Browser {
        handle,
        mut events,
        port,
        ..
    } = start(login_options("http://127.0.0.1:9", dir.path())).await;
    drop(handle);
    let last = tokio::time::timeout(Duration::from_millis(100), events.recv())
        .await
        .expect("the login ends within 100 ms of the drop");
    assert_eq!(last, Some(LoginEvent::Cancelled));
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("the port is free again");
}

/// The login's state from its authorize URL.
fn state_of(authorize_url: &str) -> String {
    let query = authorize_url.split_once('?').unwrap().1;
    url::form_urlencoded::parse(query.as_bytes())
        .find_map(|(k, v)| (k == "state").then(|| v.into_owned()))
        .unwrap()
}

/// `GET /cancel` ends the login only with its state: any page on the machine can send the
/// request, so one without the state is refused and the login goes on.
#[tokio::test]
async fn get_cancel_ends_the_login_only_with_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let login = start(login_options("http://127.0.0.1:9", dir.path())).await;
    let cancel = format!("http://127.0.0.1:{}/cancel", login.port);
    let response = http().get(&cancel).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let wrong = http()
        .get(format!("{cancel}?state=guess"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert!(!login.handle.is_finished(), "the login goes on");

    let state = state_of(&login.authorize_url);
    let response = http()
        .get(format!("{cancel}?state={state}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "Login cancelled");
    assert_eq!(login.handle.wait().await, LoginOutcome::Cancelled);
}

/// A page whose name was rebound to 127.0.0.1 (DNS rebinding) sends its own name as the host:
/// it is refused, even with the right state, and the login completes for the real redirect,
/// which a browser may send to ::1 as well as 127.0.0.1.
#[tokio::test]
async fn requests_for_another_host_are_refused_and_localhost_is_served_on_both_addresses() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let login = start(login_options(&fake.url(), dir.path())).await;
    let state = state_of(&login.authorize_url);
    let rebound = http()
        .get(format!(
            "http://127.0.0.1:{}/cancel?state={state}",
            login.port
        ))
        .header(
            reqwest::header::HOST,
            format!("evil.example:{}", login.port),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), StatusCode::MISDIRECTED_REQUEST);

    let callback = authorize(&login.authorize_url).await;
    let on_v6 = std::net::TcpListener::bind("[::1]:0").is_ok();
    let callback = if on_v6 {
        callback.replacen("http://127.0.0.1:", "http://[::1]:", 1)
    } else {
        eprintln!("this machine has no IPv6 loopback: the callback goes to 127.0.0.1");
        callback
    };
    let response = http()
        .get(&callback)
        .header(reqwest::header::HOST, format!("localhost:{}", login.port))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert!(matches!(login.handle.wait().await, LoginOutcome::Done(_)));
}

#[tokio::test]
async fn the_browser_login_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let options = LoginOptions {
        browser_timeout: Duration::from_millis(200),
        ..login_options("http://127.0.0.1:9", dir.path())
    };
    let login = start(options).await;
    let LoginOutcome::Failed(message) = login.handle.wait().await else {
        panic!("the login fails")
    };
    assert!(message.contains("timed out"), "{message}");
    TcpListener::bind((Ipv4Addr::LOCALHOST, login.port)).expect("the port is free again");
}
