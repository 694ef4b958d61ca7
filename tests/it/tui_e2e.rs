//! The real `kelp` in a pseudo-terminal: what a person sees and types.

use std::path::Path;
use std::time::Duration;

use crate::fake_openai::{Config as FakeConfig, FakeOpenAi};
use crate::pty::Pty;

const WAIT: Duration = Duration::from_secs(10);

fn kelp_in_pty(home: &Path, env: &[(&str, &str)]) -> Pty {
    Pty::spawn(
        Path::new(env!("CARGO_BIN_EXE_kelp")),
        &[],
        home,
        env,
        100,
        30,
    )
}

fn auth_file(home: &Path) -> std::path::PathBuf {
    home.join(".local/share/kelp/auth.json")
}

#[test]
fn first_start_without_a_login_opens_connect() {
    let home = tempfile::tempdir().unwrap();
    let mut pty = kelp_in_pty(home.path(), &[]);
    let screen = pty.wait_for("How do you want to sign in?", WAIT);
    assert!(screen.contains("1. ChatGPT Plus/Pro — browser"), "{screen}");
    assert!(screen.contains("3. API key"), "{screen}");
    assert!(screen.contains("not connected"), "{screen}");
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

fn against_fake(fake: &FakeOpenAi, home: &Path, extra: &[(&str, &str)]) -> Pty {
    let env: Vec<(&str, String)> = fake.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.push(("KELP_CALLBACK_PORT", "0"));
    all.extend_from_slice(extra);
    kelp_in_pty(home, &all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_login_through_the_dialog_over_ssh() {
    let fake = FakeOpenAi::start_with(FakeConfig {
        device_interval: serde_json::json!("1"),
        ..FakeConfig::default()
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let mut pty = against_fake(&fake, home.path(), &[("SSH_TTY", "/dev/pts/3")]);
    pty.wait_for("recommended here", WAIT);
    pty.send("\r");
    let screen = pty.wait_for("code expires in", WAIT);
    let code = fake.device_user_codes().remove(0);
    let first_group = code.split('-').next().unwrap();
    let caps: String = first_group.chars().map(|c| format!("│ {c} ")).collect();
    assert!(
        screen.contains(&caps),
        "the code in large letters:\n{screen}"
    );
    assert!(
        screen.contains(&format!("{}/codex/device", fake.url())),
        "{screen}"
    );
    assert!(
        screen.contains('▀') || screen.contains('▄'),
        "a QR code:\n{screen}"
    );
    assert!(screen.contains("Continue only if you started this login"));

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
