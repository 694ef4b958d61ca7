//! Conversations that outgrow the context window: compaction onto a summary when a turn ends
//! nearly full, when the server says the context is too long, and when the person asks; and a
//! resumed compacted conversation goes on from the summary. The real binary against the fake.

use std::process::{Command, Output};

use serde_json::Value;

use crate::fake_openai::{FakeOpenAi, Reply};
use crate::llm_stream::{Login, write_login};
use crate::support::{kelp, shown};

/// `kelp` with an API key login to `fake` in `home`, and a window of `window` tokens.
fn kelp_with_window(fake: &FakeOpenAi, home: &std::path::Path, window: &str) -> Command {
    let auth_file = home.join("auth.json");
    write_login(&auth_file, fake, Login::ApiKey);
    let mut cmd = kelp(home);
    cmd.envs(fake.env())
        .env("KELP_AUTH_FILE", &auth_file)
        .env("KELP_CONTEXT_WINDOW", window);
    cmd
}

async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// The texts of a request's input messages, in order.
fn message_texts(request: &Value) -> Vec<String> {
    request["input"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["type"] == "message")
        .map(|item| {
            item["content"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|part| part["text"].as_str())
                .collect()
        })
        .collect()
}

fn session_id(out: &Output) -> String {
    let first = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .unwrap();
    first["thread_id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_that_ends_nearly_full_compacts_and_the_resumed_conversation_sends_the_summary() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    fake.push_responses([
        // 950 of a 1000-token window: above 85%, so the turn ends by compacting.
        Reply::text("The parser lives in src/parse.rs.").usage(900, 0, 50, 0),
        Reply::text("Goal: fix the parser. Files: src/parse.rs. Open: the failing test."),
        Reply::text("Going on from the summary.").usage(120, 0, 10, 0),
    ]);
    let mut cmd = kelp_with_window(&fake, home.path(), "1000");
    cmd.args(["run", "--json", "where is the parser?"]);
    let first = output(cmd).await;
    assert!(first.status.success(), "{}", shown(&first));
    let events: Vec<Value> = String::from_utf8_lossy(&first.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "compacted" && e["automatic"] == true),
        "{events:?}"
    );
    let completed = events
        .iter()
        .rfind(|e| e["type"] == "turn.completed")
        .unwrap();
    let usage = &completed["usage"];
    assert!(
        usage["input_tokens"].as_u64().unwrap() + usage["output_tokens"].as_u64().unwrap() > 950,
        "the summary's tokens count too: {completed}"
    );
    let sent = fake.requests_to("/responses");
    assert_eq!(sent.len(), 2, "the answer, then the summary request");
    let summary_request = sent[1].json();
    assert!(
        summary_request["tools"]
            .as_array()
            .is_none_or(|t| t.is_empty())
    );
    let texts = message_texts(summary_request);
    assert!(
        texts.last().unwrap().contains("Write that summary now"),
        "{texts:?}"
    );

    // Resumed, the conversation sends the summary, not the old items.
    let mut cmd = kelp_with_window(&fake, home.path(), "1000");
    cmd.args([
        "run",
        "--json",
        "--resume",
        &session_id(&first),
        "now fix it",
    ]);
    let second = output(cmd).await;
    assert!(second.status.success(), "{}", shown(&second));
    let texts = message_texts(fake.requests_to("/responses")[2].json());
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts[0].contains("This conversation was compacted"),
        "{texts:?}"
    );
    assert!(texts[0].contains("Goal: fix the parser."), "{texts:?}");
    assert_eq!(texts[1], "now fix it");
    assert!(!texts.iter().any(|t| t.contains("where is the parser?")));

    // The session file still holds every item.
    let sessions = kelp::session::list_sessions(&home.path().join(".local/state/kelp"), None)
        .collect::<Vec<_>>();
    let log = kelp::session::SessionLog::load(&sessions[0].path).unwrap();
    let all: Vec<String> = log.items.iter().map(|i| i.text()).collect();
    assert!(all.contains(&"where is the parser?".to_string()), "{all:?}");
    assert!(all.contains(&"The parser lives in src/parse.rs.".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_length_exceeded_compacts_and_retries_the_turn_once() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    fake.push_responses([
        Reply::context_length_exceeded(),
        Reply::text("Goal: rename the module."),
        Reply::text("Renamed after compacting."),
    ]);
    let mut cmd = kelp_with_window(&fake, home.path(), "200000");
    cmd.args(["run", "rename the module"]);
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Renamed after compacting.\n"
    );
    let sent = fake.requests_to("/responses");
    assert_eq!(sent.len(), 3);
    let retried = message_texts(sent[2].json());
    assert!(
        retried[0].contains("Goal: rename the module."),
        "{retried:?}"
    );
    assert_eq!(retried.last().unwrap(), "rename the module");

    // Only once: a second overflow after compacting is the turn's error.
    fake.push_responses([
        Reply::context_length_exceeded(),
        Reply::text("Goal: still too big."),
        Reply::context_length_exceeded(),
    ]);
    let mut cmd = kelp_with_window(&fake, home.path(), "200000");
    cmd.args(["run", "do it again"]);
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(shown(&out).contains("too long"), "{}", shown(&out));
    assert_eq!(fake.requests_to("/responses").len(), 6);
}

/// In the client: the status line says how full the window is, `/compact FOCUS` asks for a
/// summary that keeps the focus, the transcript notes it in one line and keeps everything, and
/// a resumed session shows where it happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compact_by_hand_in_the_client_with_a_focus() {
    const WAIT: std::time::Duration = std::time::Duration::from_secs(15);
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    fake.push_responses([
        Reply::text("We agreed on a REST API.").usage(6200, 0, 20, 0),
        Reply::text("Goal: the API design, REST."),
    ]);
    let env = [("KELP_CONTEXT_WINDOW", "10000")];
    let mut pty = crate::tui_e2e::over_ssh(&fake, home.path(), &[], &env);
    pty.wait_for("Ask anything", WAIT);
    pty.send("design the API\r");
    let screen = pty.wait_for("62% context", WAIT);
    assert!(screen.contains("We agreed on a REST API."), "{screen}");
    pty.send("/compact keep the API design\r");
    let screen = pty.wait_for("Compacted the conversation (6.2k tokens) as asked", WAIT);
    assert!(
        screen.contains("We agreed on a REST API."),
        "the transcript keeps it:\n{screen}"
    );
    let request = fake.requests_to("/responses").pop().unwrap();
    let texts = message_texts(request.json());
    assert!(
        texts
            .last()
            .unwrap()
            .contains("The user asks the summary to keep in particular: keep the API design"),
        "{texts:?}"
    );
    pty.send("/quit\r");
    assert!(pty.wait_exit(WAIT));
    drop(pty);

    let mut resumed = crate::tui_e2e::over_ssh(&fake, home.path(), &["--continue"], &env);
    let screen = resumed.wait_for("Resumed the saved conversation.", WAIT);
    assert!(
        screen.contains("Compacted the conversation as asked"),
        "drawn as it was live: {screen}"
    );
    assert!(screen.contains("We agreed on a REST API."), "{screen}");
    resumed.send("\x04");
    assert!(resumed.wait_exit(WAIT));
}
