//! The real `kelp` in a pseudo-terminal: what a person sees and types.

use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::fake_openai::{Config as FakeConfig, FakeOpenAi, last_user_text};
use crate::pty::Pty;

const WAIT: Duration = Duration::from_secs(10);

fn kelp_in_pty(home: &Path, env: &[(&str, &str)]) -> Pty {
    kelp_in_pty_with(home, &[], env)
}

fn kelp_in_pty_with(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Pty {
    kelp_in_pty_sized(home, args, env, 100, 30)
}

fn kelp_in_pty_sized(
    home: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    cols: u16,
    rows: u16,
) -> Pty {
    Pty::spawn(
        Path::new(env!("CARGO_BIN_EXE_kelp")),
        args,
        home,
        env,
        cols,
        rows,
    )
}

fn auth_file(home: &Path) -> std::path::PathBuf {
    home.join(".local/share/kelp/auth.json")
}

#[test]
fn first_start_without_a_login_opens_connect() {
    let home = tempfile::tempdir().unwrap();
    let mut pty = kelp_in_pty(home.path(), &[]);
    // A frame can arrive in pieces: wait for its last row (the status line) too.
    let screen = pty.wait_until(
        |s| s.contains("How do you want to sign in?") && s.contains("not connected"),
        WAIT,
        "the connect dialog and the status line",
    );
    assert!(screen.contains("1. ChatGPT Plus/Pro — browser"), "{screen}");
    assert!(screen.contains("3. API key"), "{screen}");
    // Esc closes the dialog and leaves the composer.
    pty.send("\x1b");
    pty.wait_for("Ask anything", WAIT);
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

#[test]
fn over_ssh_the_device_code_is_recommended() {
    let home = tempfile::tempdir().unwrap();
    let pty = kelp_in_pty(
        home.path(),
        &[
            ("SSH_CONNECTION", "10.0.0.1 5555 10.0.0.2 22"),
            ("DISPLAY", ":0"),
        ],
    );
    let screen = pty.wait_for("recommended here", WAIT);
    let line = screen
        .lines()
        .find(|l| l.contains("recommended here"))
        .unwrap();
    assert!(
        line.contains("› 2. ChatGPT Plus/Pro — headless"),
        "{screen}"
    );
}

#[test]
fn an_api_key_typed_into_the_dialog_is_saved_and_never_shown() {
    let home = tempfile::tempdir().unwrap();
    let mut pty = kelp_in_pty(home.path(), &[]);
    pty.wait_for("How do you want to sign in?", WAIT);
    pty.send("3");
    pty.wait_for("Paste an OpenAI API key", WAIT);
    let secret = "sk-proj-SECRETsecretSECRET0123456789abcd";
    pty.paste(secret);
    let screen = pty.wait_for(&format!("{} characters", secret.len()), WAIT);
    assert!(
        !screen.contains("SECRET") && !screen.contains("secret"),
        "{screen}"
    );
    pty.send("\r");
    // No server answers here: the key cannot be checked, and is saved only when asked to.
    let screen = pty.wait_for("It is not saved yet.", WAIT);
    assert!(
        screen.contains("could not connect to the server"),
        "{screen}"
    );
    assert!(!auth_file(home.path()).exists());
    pty.send("\r");
    let screen = pty.wait_for("API key sk-…abcd", WAIT);
    assert!(screen.contains("Connected: API key sk-…abcd."), "{screen}");
    let stored = std::fs::read_to_string(auth_file(home.path())).unwrap();
    assert!(stored.contains(secret));
    pty.send("/quit\r");
    assert!(pty.wait_exit(WAIT));
    let output = String::from_utf8_lossy(&pty.output()).to_string();
    assert!(!output.contains("SECRET"), "the key reached the terminal");
}

#[test]
fn quit_restores_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let mut pty = kelp_in_pty(
        home.path(),
        &[("OPENAI_API_KEY", "sk-test-0000000000001234")],
    );
    let screen = pty.wait_for("Ask anything", WAIT);
    assert!(screen.contains("API key sk-…1234"), "{screen}");
    assert!(pty.alternate_screen());
    pty.send("/quit");
    pty.wait_for("leave kelp", WAIT);
    pty.send("\r");
    assert!(pty.wait_exit(WAIT));
    assert!(!pty.alternate_screen(), "back on the main screen");
    let output = pty.output();
    let tail = String::from_utf8_lossy(&output);
    let last_enter = tail.rfind("\x1b[?1049h").unwrap();
    let after = &tail[last_enter..];
    for (sequence, what) in [
        ("\x1b[?1049l", "alternate screen left"),
        ("\x1b[?2004l", "bracketed paste off"),
        ("\x1b[?1000l", "mouse reporting off"),
        ("\x1b[?25h", "cursor shown"),
    ] {
        assert!(after.contains(sequence), "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_streams_its_markdown_answer_onto_the_screen() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let key = fake.api_key();
    let mut pty = against_fake(&fake, home.path(), &[("OPENAI_API_KEY", key.as_str())]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("hello there\r");
    // The fake echoes the prompt in a Markdown answer with a list and a code block.
    let screen = pty.wait_for("println!(\"hello there\");", WAIT);
    assert!(screen.contains("› hello there"), "{screen}");
    assert!(screen.contains("You said: hello there"), "{screen}");
    assert!(
        !screen.contains("**"),
        "Markdown is rendered, not shown raw:\n{screen}"
    );
    assert!(!screen.contains(&key), "the key is on screen:\n{screen}");
    let request = fake.requests_to("/responses").pop().unwrap();
    assert_eq!(
        request.json()["input"][0]["content"][0]["text"],
        "hello there"
    );
    pty.send("\x03\x03");
    assert!(pty.wait_exit(WAIT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_color_leaves_structure_and_drops_every_colour() {
    let fake = FakeOpenAi::start().await;
    let key = fake.api_key();
    let mut styles = Vec::new();
    for no_color in [None, Some("1")] {
        let home = tempfile::tempdir().unwrap();
        let mut env = vec![("OPENAI_API_KEY", key.as_str())];
        env.extend(no_color.map(|v| ("NO_COLOR", v)));
        let mut pty = against_fake(&fake, home.path(), &env);
        pty.wait_for("Ask anything", WAIT);
        pty.send("hello there\r");
        // Compared once the turn is over, so both screens hold the same things.
        let screen = pty.wait_until(
            |s| s.contains("println!(\"hello there\");") && !s.contains("esc to interrupt"),
            WAIT,
            "the finished answer",
        );
        // Without colours the code block keeps its fences, so it still stands apart.
        assert_eq!(no_color.is_some(), screen.contains("```rust"), "{screen}");
        styles.push(pty.styled_cells());
        pty.send("\x03\x03");
        assert!(pty.wait_exit(WAIT));
    }
    let [(colored, bold), (colored_without, bold_without)] = styles[..] else {
        unreachable!()
    };
    assert!(colored > 0, "the same screen in colour has coloured cells");
    assert_eq!(colored_without, 0, "NO_COLOR: no cell has a colour");
    assert!(bold > 0 && bold_without == bold, "bold stays for structure");
}

/// Decodes a QR module matrix (`true` = dark) with an independent decoder, drawing each module
/// as a 4×4 pixel square.
pub(crate) fn decode_qr(modules: &[Vec<bool>]) -> String {
    const SCALE: usize = 4;
    let height = modules.len();
    let width = modules.iter().map(Vec::len).max().unwrap_or(0);
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width * SCALE, height * SCALE, |x, y| {
            let dark = modules[y / SCALE].get(x / SCALE).copied().unwrap_or(false);
            if dark { 0 } else { 255 }
        });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on screen");
    grids[0].decode().expect("the QR code decodes").1
}

fn against_fake(fake: &FakeOpenAi, home: &Path, extra: &[(&str, &str)]) -> Pty {
    against_fake_with(fake, home, &[], extra)
}

/// kelp with `args`, pointed at `fake`; `extra` variables win over the defaults.
fn against_fake_with(fake: &FakeOpenAi, home: &Path, args: &[&str], extra: &[(&str, &str)]) -> Pty {
    let env = fake_env(fake, extra);
    kelp_in_pty_with(home, args, &as_pairs(&env))
}

/// kelp with `args` in an 80×24 SSH window (the default of a fresh SSH session), logged in to
/// `fake` with its API key; `extra` variables win over the defaults.
pub(crate) fn over_ssh(
    fake: &FakeOpenAi,
    home: &Path,
    args: &[&str],
    extra: &[(&str, &str)],
) -> Pty {
    let key = fake.api_key();
    let mut env = vec![
        ("OPENAI_API_KEY", key.as_str()),
        ("SSH_CONNECTION", "10.0.0.1 50000 10.0.0.2 22"),
    ];
    env.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    env.extend_from_slice(extra);
    let env = fake_env(fake, &env);
    kelp_in_pty_sized(home, args, &as_pairs(&env), 80, 24)
}

fn as_pairs<'a>(env: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The fake's variables with `extra` winning over them.
fn fake_env<'a>(fake: &'a FakeOpenAi, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, String)> {
    let mut all = fake.env();
    all.push(("KELP_CALLBACK_PORT", "0".to_string()));
    all.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    all.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    all
}

/// An 80×24 SSH window, the default of a fresh SSH session: the code as text a mouse can select,
/// the URL on one line and a QR code that a phone can scan, all at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_login_through_the_dialog_over_ssh() {
    let fake = FakeOpenAi::start_with(FakeConfig {
        device_interval: serde_json::json!("1"),
        ..FakeConfig::default()
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let mut env: Vec<(&str, String)> = fake.env();
    env.push(("SSH_CONNECTION", "10.0.0.1 5555 10.0.0.2 22".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut pty = Pty::spawn(
        Path::new(env!("CARGO_BIN_EXE_kelp")),
        &[],
        home.path(),
        &env,
        80,
        24,
    );
    pty.wait_for("recommended here", WAIT);
    pty.send("\r");
    // A frame can arrive in pieces: wait for the dialog's last rows, not only its first.
    let screen = pty.wait_until(
        |s| s.contains("expires in") && s.contains("esc cancel"),
        WAIT,
        "the device code screen",
    );
    let code = fake.device_user_codes().remove(0);
    assert!(
        code.len() == 10 && code.as_bytes()[4] == b'-',
        "a real-shaped code: {code}"
    );
    assert!(
        screen.contains(&code),
        "the code as contiguous text:\n{screen}"
    );
    let url = format!("{}/codex/device", fake.url());
    assert!(
        screen.lines().any(|line| line.contains(&url)),
        "the URL on one line:\n{screen}"
    );
    let modules = pty
        .qr_modules()
        .unwrap_or_else(|| panic!("a QR code:\n{screen}"));
    assert_eq!(decode_qr(&modules), url);
    assert!(
        screen.contains("Continue only if you started this"),
        "{screen}"
    );

    fake.approve_device(&code);
    let screen = pty.wait_for("Connected:", Duration::from_secs(20));
    assert!(!screen.contains("not connected"), "{screen}");
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
    assert!(auth_file(home.path()).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_device_login_is_explained_and_other_methods_offered() {
    let fake = FakeOpenAi::start_with(FakeConfig {
        device_login_enabled: false,
        ..FakeConfig::default()
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let mut pty = against_fake(&fake, home.path(), &[]);
    pty.wait_for("How do you want to sign in?", WAIT);
    pty.send("2");
    let screen = pty.wait_for("Pick a method to try again", WAIT);
    assert!(screen.contains("Settings → Security"), "{screen}");
    assert!(screen.contains("3. API key"), "{screen}");
    // Esc on the list closes the dialog; the client stays usable.
    pty.send("\x1b");
    pty.wait_for("Ask anything", WAIT);
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// A port that was free a moment ago on 127.0.0.1.
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esc_during_a_browser_login_frees_the_callback_port() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let port_text = port.to_string();
    let mut pty = against_fake(
        &fake,
        home.path(),
        &[("KELP_CALLBACK_PORT", &port_text), ("BROWSER", "/bin/true")],
    );
    pty.wait_for("How do you want to sign in?", WAIT);
    pty.send("1");
    pty.wait_for("Waiting for the browser", WAIT);
    let screen = pty.wait_for("/oauth/authorize", WAIT);
    assert!(screen.contains(&fake.url()), "{screen}");
    assert!(
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err(),
        "the login listens on the chosen port"
    );
    pty.send("\x1b");
    pty.wait_for("How do you want to sign in?", WAIT);
    let start = Instant::now();
    while TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "port {port} is still held after Esc"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_login_through_the_dialog_connects_the_account() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    // The browser: follow the authorize URL, whose 302 lands on kelp's callback. IPv4 only, so
    // `localhost` in the redirect means 127.0.0.1.
    let browser =
        crate::support::browser_script(bin.path(), r#"exec curl -4 -s -L -o /dev/null "$1""#);
    let mut pty = against_fake(
        &fake,
        home.path(),
        &[("BROWSER", browser.to_str().unwrap()), ("DISPLAY", ":0")],
    );
    pty.wait_for("How do you want to sign in?", WAIT);
    pty.send("1");
    // The status line is the last row of the frame that says "Connected".
    let screen = pty.wait_until(
        |s| {
            s.contains("Connected: dev@example.com (plus).")
                && s.lines()
                    .last()
                    .is_some_and(|l| l.contains("dev@example.com (plus)"))
        },
        Duration::from_secs(20),
        "the account on the status line",
    );
    assert!(!screen.contains("not connected"), "{screen}");
    let stored = std::fs::read_to_string(auth_file(home.path())).unwrap();
    assert!(stored.contains("\"refresh\""), "the login is saved");
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_login_then_a_streamed_answer() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let mut pty = against_fake(&fake, home.path(), &[]);
    pty.wait_for("How do you want to sign in?", WAIT);
    pty.send("3");
    pty.wait_for("Paste an OpenAI API key", WAIT);
    pty.paste(&fake.api_key());
    pty.send("\r");
    pty.wait_for("Connected: API key", WAIT);
    pty.send("hello from the pty\r");
    // The fake's default reply echoes the prompt as Markdown, streamed in small deltas.
    let screen = pty.wait_for("it records every request it receives", WAIT);
    assert!(screen.contains("› hello from the pty"), "{screen}");
    assert!(screen.contains("You said: hello from the pty"), "{screen}");
    assert!(
        screen.contains("• it streams this reply in small deltas"),
        "{screen}"
    );
    let sent = fake.requests_to("/v1/responses");
    assert_eq!(sent.len(), 1);
    assert_eq!(last_user_text(sent[0].json()), "hello from the pty");
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continue_shows_the_old_transcript_and_sends_its_history() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let key = fake.api_key();
    let env = [("OPENAI_API_KEY", key.as_str())];

    let mut first = against_fake(&fake, home.path(), &env);
    first.wait_for("Ask anything", WAIT);
    first.send("remember the word driftwood\r");
    first.wait_for("it records every request it receives", WAIT);
    first.send("/quit\r");
    assert!(first.wait_exit(WAIT));
    drop(first);

    let mut second = against_fake_with(&fake, home.path(), &["--continue"], &env);
    let screen = second.wait_for("Resumed the saved conversation.", WAIT);
    assert!(screen.contains("› remember the word driftwood"), "{screen}");
    assert!(
        screen.contains("You said: remember the word driftwood"),
        "{screen}"
    );
    second.send("what was the word?\r");
    second.wait_for("You said: what was the word?", WAIT);

    let sent = fake.requests_to("/responses");
    assert_eq!(sent.len(), 2);
    let input = sent[1].json()["input"].as_array().unwrap().clone();
    let texts: Vec<(String, String)> = input
        .iter()
        .filter(|item| item["type"] == "message")
        .map(|item| {
            let text = item["content"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|part| part["text"].as_str())
                .collect::<String>();
            (item["role"].as_str().unwrap_or_default().to_string(), text)
        })
        .collect();
    let position = |role: &str, start: &str| {
        texts
            .iter()
            .position(|(r, t)| r == role && t.starts_with(start))
            .unwrap_or_else(|| panic!("no {role} message starting {start:?} in {texts:?}"))
    };
    let old_prompt = position("user", "remember the word driftwood");
    let old_answer = position("assistant", "You said: **remember the word driftwood**");
    let new_prompt = position("user", "what was the word?");
    assert!(
        old_prompt < old_answer && old_answer < new_prompt,
        "{texts:?}"
    );
    second.send("\x04");
    assert!(second.wait_exit(WAIT));
}

/// The person's status line command, at 80×24 over SSH: its first line is drawn with its
/// colour, a title or a screen clear it prints reaches no terminal, it is told the tokens once
/// a turn ends; a command that fails leaves kelp's own line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_line_is_what_the_persons_command_prints() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join(".config/kelp");
    std::fs::create_dir_all(&config).unwrap();
    let script = home.path().join("line.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\njson=$(cat)\n\
         out=$(printf '%s' \"$json\" | sed -n 's/.*\"total_output_tokens\":\\([0-9]*\\).*/\\1/p')\n\
         printf '\\033[32mmy-line\\033[0m out=%s\\033]0;owned\\007\\033[2J\\n' \"$out\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(
        config.join("config.toml"),
        format!(
            "status_line = {{ type = \"command\", command = {:?} }}\n",
            script.display().to_string()
        ),
    )
    .unwrap();
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    let screen = pty.wait_for("my-line out=0", WAIT);
    assert!(
        !screen.contains("API key sk-"),
        "kelp's own line went: {screen}"
    );
    assert_eq!(pty.colour_of("my-line"), Some(vt100::Color::Idx(2)));
    assert!(!String::from_utf8_lossy(&pty.output()).contains("owned"));
    pty.send("hello there\r");
    pty.wait_until(
        |screen| screen.contains("my-line out=") && !screen.contains("my-line out=0"),
        WAIT,
        "the tokens told",
    );
    std::fs::write(&script, "#!/bin/sh\necho broken >&2\nexit 3\n").unwrap();
    pty.send("again\r");
    pty.wait_until(
        |screen| screen.contains("API key sk-"),
        WAIT,
        "kelp's own line back",
    );
}
