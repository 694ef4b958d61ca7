//! `kelp login` (ChatGPT), `kelp auth status` and `kelp logout` as a person runs them, against
//! the fake issuer.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use crate::fake_openai::{Config, FakeOpenAi};
use crate::support::{http, kelp, read_json};

async fn fake() -> FakeOpenAi {
    // Poll every second so the run takes about one.
    FakeOpenAi::start_with(Config {
        device_interval: json!("1"),
        ..Config::default()
    })
    .await
}

fn kelp_against(fake: &FakeOpenAi, home: &std::path::Path) -> tokio::process::Command {
    let mut cmd = kelp(home);
    cmd.envs(fake.env());
    tokio::process::Command::from(cmd)
}

/// Waits until the fake has issued a device code and returns it.
async fn issued_code(fake: &FakeOpenAi) -> String {
    fake.wait_for_requests_to("/deviceauth/usercode", 1).await;
    fake.device_user_codes().remove(0)
}

#[tokio::test]
async fn device_login_end_to_end_then_status_shows_who_without_tokens() {
    let fake = fake().await;
    let home = tempfile::tempdir().unwrap();
    let child = kelp_against(&fake, home.path())
        .args(["login", "--device"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The person opens the device page and approves the code.
    let code = issued_code(&fake).await;
    let page = http()
        .get(format!("{}/codex/device?user_code={code}", fake.url()))
        .send()
        .await
        .unwrap();
    assert!(page.status().is_success());

    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("kelp login finishes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("{}/codex/device", fake.url())),
        "{stdout}"
    );
    assert!(stdout.contains(&code), "{stdout}");
    assert!(
        stdout.contains('▀') || stdout.contains('▄'),
        "a QR code: {stdout}"
    );
    assert!(stdout.contains("Code expires at"), "{stdout}");
    assert!(
        stdout.contains("cancel if someone else gave it to you"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Logged in to ChatGPT as dev@example.com (plus)."),
        "{stdout}"
    );

    let auth_file = home.path().join(".local/share/kelp/auth.json");
    let entry = read_json(&auth_file)["openai"].clone();
    assert_eq!(entry["type"], "oauth");
    let status = kelp_against(&fake, home.path())
        .args(["auth", "status"])
        .output()
        .await
        .unwrap();
    let shown = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{shown}");
    assert!(shown.contains("Logged in with ChatGPT"), "{shown}");
    assert!(shown.contains("Email:     dev@example.com"), "{shown}");
    assert!(shown.contains("Plan:      plus"), "{shown}");
    assert!(shown.contains("Account:   acct_fake_123"), "{shown}");
    assert!(shown.contains("Token:     expires"), "{shown}");
    for secret in ["access", "refresh"] {
        let token = entry[secret].as_str().unwrap();
        assert!(!shown.contains(token), "the {secret} token was shown");
        let log = std::fs::read_to_string(home.path().join(".local/state/kelp/kelp.log"))
            .unwrap_or_default();
        assert!(!log.contains(token), "the {secret} token was logged");
    }

    let logout = kelp_against(&fake, home.path())
        .arg("logout")
        .output()
        .await
        .unwrap();
    assert!(logout.status.success());
    assert_eq!(
        fake.revoked_tokens(),
        vec![entry["refresh"].as_str().unwrap().to_string()]
    );
    assert!(read_json(&auth_file).get("openai").is_none());
}

/// `kelp login --device` against `fake` in a new home, to its end.
async fn device_login(fake: &FakeOpenAi) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    kelp_against(fake, home.path())
        .args(["login", "--device"])
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_disabled_device_login_exits_with_the_auth_code_and_says_what_to_do() {
    let fake = FakeOpenAi::start_with(Config {
        device_login_enabled: false,
        ..Config::default()
    })
    .await;
    let out = device_login(&fake).await;
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Settings → Security"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

/// A user code that is a terminal escape (an OSC 52 clipboard write) is refused in one plain
/// line, and nothing of it reaches the terminal.
#[tokio::test]
async fn a_user_code_that_is_not_a_code_is_refused_and_never_printed() {
    let fake = FakeOpenAi::start_with(Config {
        device_user_code: Some("\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2JABCD".into()),
        ..Config::default()
    })
    .await;
    let out = device_login(&fake).await;
    assert!(!out.status.success());
    let all = [out.stdout.as_slice(), out.stderr.as_slice()].concat();
    assert!(!all.contains(&0x1b), "{}", String::from_utf8_lossy(&all));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("a device code of 28 characters that are not all letters, digits and dashes"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[tokio::test]
async fn over_ssh_login_picks_the_device_code_and_ctrl_c_cancels_it() {
    let fake = fake().await;
    let home = tempfile::tempdir().unwrap();
    let child = kelp_against(&fake, home.path())
        .arg("login")
        .env("SSH_CONNECTION", "10.0.0.1 50000 10.0.0.2 22")
        .env("DISPLAY", ":0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    issued_code(&fake).await;
    fake.wait_for_requests_to("/deviceauth/token", 1).await;
    let pid = i32::try_from(child.id().unwrap()).unwrap();
    // SAFETY: sending SIGINT to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("kelp exits after Ctrl+C")
        .unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Login cancelled."));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Enter the code"));
    assert!(!home.path().join(".local/share/kelp/auth.json").exists());
}

#[tokio::test]
async fn browser_login_serves_the_success_page_before_exiting() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let mut child = kelp_against(&fake, home.path())
        .args(["login", "--browser"])
        .env("KELP_CALLBACK_PORT", "0")
        // The browser is played by this test; `true` stands in for the real one.
        .env("BROWSER", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let authorize_url = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("kelp prints the sign-in URL")
            .unwrap()
            .expect("kelp prints the sign-in URL");
        if line.contains("/oauth/authorize?") {
            break line.trim().to_string();
        }
    };

    let response = http().get(&authorize_url).send().await.unwrap();
    let callback = response.headers()[reqwest::header::LOCATION]
        .to_str()
        .unwrap()
        .replacen("http://localhost:", "http://127.0.0.1:", 1);
    let response = http().get(&callback).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::FOUND);
    assert_eq!(response.headers()[reqwest::header::LOCATION], "/success");
    let origin = callback.split("/auth/callback").next().unwrap();
    // The token exchange and saving happen meanwhile; the page must still be served after.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let page = http()
        .get(format!("{origin}/success"))
        .send()
        .await
        .expect("the callback server is still up for the success page");
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("You are signed in to kelp")
    );

    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("kelp login finishes")
        .unwrap();
    assert!(status.success());
    assert_eq!(
        read_json(&home.path().join(".local/share/kelp/auth.json"))["openai"]["type"],
        "oauth"
    );
}

/// `kelp login` over SSH in an 80×24 window: the QR code first, then the link, the code and
/// "Waiting…" last, all on screen at once; in a shorter window the QR code gives way to a line
/// saying how to see it, and the code stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_login_keeps_the_link_and_code_on_an_80x24_ssh_screen() {
    let fake = FakeOpenAi::start().await;
    for rows in [24u16, 20] {
        let home = tempfile::tempdir().unwrap();
        let mut env: Vec<(&str, String)> = fake.env();
        env.push(("SSH_CONNECTION", "10.0.0.1 50000 10.0.0.2 22".into()));
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut pty = crate::pty::Pty::spawn(
            std::path::Path::new(env!("CARGO_BIN_EXE_kelp")),
            &["login"],
            home.path(),
            &pairs,
            80,
            rows,
        );
        let screen = pty.wait_for("Waiting for approval", Duration::from_secs(10));
        let code = fake.device_user_codes().pop().unwrap();
        assert_eq!(code.len(), 10, "a real code's shape: {code}");
        assert!(
            screen.contains(&format!("Enter the code {code}")),
            "{screen}"
        );
        assert!(
            screen.contains(&format!("Open {}/codex/device", fake.url())),
            "{screen}"
        );
        if rows == 24 {
            let modules = pty.qr_modules().expect("the QR code on screen");
            assert_eq!(
                crate::tui_e2e::decode_qr(&modules),
                format!("{}/codex/device", fake.url())
            );
        } else {
            assert!(pty.qr_modules().is_none(), "{screen}");
            assert!(screen.contains("kelp login --device --qr"), "{screen}");
        }
        pty.send("\x03");
        assert_eq!(pty.wait_exit_code(Duration::from_secs(10)), 130);
    }
}

/// With no display, a `BROWSER` that names a program (as VS Code's remote terminals set one)
/// is the person's choice: kelp runs it with the sign-in URL, and the login completes.
#[tokio::test]
async fn a_browser_program_runs_without_a_display() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let opened = home.path().join("opened-url");
    let script = crate::support::browser_script(
        home.path(),
        &format!("printf '%s' \"$1\" > {}", opened.display()),
    );
    // `kelp` clears the environment: no DISPLAY, no WAYLAND_DISPLAY.
    let child = kelp_against(&fake, home.path())
        .args(["login", "--browser"])
        .env("KELP_CALLBACK_PORT", "0")
        .env("BROWSER", &script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(url) = std::fs::read_to_string(&opened)
                && !url.is_empty()
            {
                return url;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("kelp ran the BROWSER program with the URL");
    assert!(url.contains("/oauth/authorize?"), "{url}");

    // The program's browser signs in.
    let response = http().get(&url).send().await.unwrap();
    let callback = response.headers()[reqwest::header::LOCATION]
        .to_str()
        .unwrap()
        .replacen("http://localhost:", "http://127.0.0.1:", 1);
    http().get(&callback).send().await.unwrap();
    let origin = callback.split("/auth/callback").next().unwrap();
    let _ = http().get(format!("{origin}/success")).send().await;
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("kelp login finishes")
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        read_json(&home.path().join(".local/share/kelp/auth.json"))["openai"]["type"],
        "oauth"
    );
}

/// Where the callback cannot reach kelp, the person pastes the page's address; once the login
/// is saved kelp exits at once (no browser is coming for the success page), and stops reading
/// what is typed next. It used to wait 5 s for that page, eating the next command's keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_redirect_exits_as_soon_as_the_login_is_saved() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let mut env: Vec<(&str, String)> = fake.env();
    env.push(("KELP_CALLBACK_PORT", "0".into()));
    env.push(("BROWSER", "true".into()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut pty = crate::pty::Pty::spawn(
        std::path::Path::new(env!("CARGO_BIN_EXE_kelp")),
        &["login", "--browser"],
        home.path(),
        &pairs,
        200,
        24,
    );
    pty.wait_for("/oauth/authorize?", Duration::from_secs(10));
    let output = String::from_utf8_lossy(&pty.output()).to_string();
    let start = output.find("http://127.0.0.1").unwrap();
    let url: String = output[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '\x1b')
        .collect();
    let response = http().get(&url).send().await.unwrap();
    let redirect = response.headers()[reqwest::header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    // Typed as a terminal without bracketed paste (which kelp login does not ask for) sends it.
    pty.send(&format!("{redirect}\r"));
    pty.wait_for("Saved to", Duration::from_secs(10));
    // No browser is coming for the success page: the login exits at once, not seconds later.
    assert_eq!(pty.wait_exit_code(Duration::from_millis(500)), 0);
}
