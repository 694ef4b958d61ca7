//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `kelp` binary, run as a new user would: a private HOME and none of the caller's kelp,
/// XDG or OpenAI variables.
pub fn kelp(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kelp"));
    cmd.env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "kelp=debug")
        .envs(NOWHERE)
        .stdin(Stdio::null());
    cmd
}

/// Endpoints on a closed loopback port, so a test that names no server reaches none (a test's
/// own variables, set later, win).
pub const NOWHERE: [(&str, &str); 3] = [
    ("KELP_AUTH_ISSUER", "http://127.0.0.1:9"),
    (
        "KELP_CODEX_BASE_URL",
        "http://127.0.0.1:9/backend-api/codex",
    ),
    ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1"),
];

/// Runs `cmd` with `input` on stdin.
pub fn run_with_stdin(cmd: &mut Command, input: &str) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kelp starts");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // A command that refuses before reading stdin closes it: that is not the test's failure.
    if let Err(e) = stdin.write_all(input.as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    drop(stdin);
    child.wait_with_output().expect("kelp finishes")
}

/// Stdout and stderr as one string, for assertions about what a person sees.
pub fn shown(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// An HTTP client for tests: never a proxy, never following redirects (tests play the browser
/// step by step).
pub fn http() -> reqwest::Client {
    kelp::http::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
}

/// Login options pointing at `issuer`, saving under `dir`, on any free port, without a browser.
pub fn login_options(issuer: &str, dir: &Path) -> kelp::auth::LoginOptions {
    let config = kelp::config::Config::for_origin(issuer, dir);
    kelp::auth::LoginOptions {
        open_browser: false,
        ..kelp::auth::LoginOptions::from_config(&config)
    }
}

/// The auth file as JSON.
pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("the auth file exists"))
        .expect("the auth file is JSON")
}

/// Wall-clock time in epoch milliseconds.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970");
    i64::try_from(since.as_millis()).expect("a sane clock")
}

/// A temp dir the command sandbox does not let commands write: not under `/tmp`, `$TMPDIR` or
/// `~/.cache/kelp`, which `workspace-write` opens. Under `$HOME`, else beside the build;
/// `None` (the test says so) when every candidate lies in a writable root.
pub fn dir_outside_the_sandbox() -> Option<tempfile::TempDir> {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let writable: Vec<std::path::PathBuf> = [
        Some(std::env::temp_dir()),
        Some("/tmp".into()),
        home.as_ref().map(|h| h.join(".cache/kelp")),
    ]
    .into_iter()
    .flatten()
    .map(|p| p.canonicalize().unwrap_or(p))
    .collect();
    let candidates = [home, Some(env!("CARGO_TARGET_TMPDIR").into())];
    for base in candidates.into_iter().flatten() {
        let real = base.canonicalize().unwrap_or_else(|_| base.clone());
        if !writable.iter().any(|root| real.starts_with(root))
            && let Ok(dir) = tempfile::Builder::new()
                .prefix(".kelp-test-")
                .tempdir_in(&base)
        {
            return Some(dir);
        }
    }
    eprintln!("every place for an outside folder is writable under the sandbox; nothing to test");
    None
}

/// The one retry scenario every face is tested with: a stream cut after some text, then the
/// retry's whole answer. The rule (docs/architecture.md, the retry rule): the cut attempt's items are
/// void, and the retry's answer comes as a new item with a new id.
pub mod retry_scenario {
    use crate::fake_openai::Reply;

    /// What the cut attempt streams.
    pub const CUT: &str = "FIRST try, cut off in the";
    /// The retry's whole answer.
    pub const WHOLE: &str = "The whole answer, on the second try.";

    /// The two replies, in order.
    pub fn replies() -> [Reply; 2] {
        [Reply::cut(CUT), Reply::text(WHOLE)]
    }
}

/// The `output` sent back for each call id, from the last request.
pub fn tool_outputs(fake: &crate::fake_openai::FakeOpenAi) -> Vec<(String, String)> {
    let sent = fake.requests_to("/responses");
    let last = sent.last().unwrap().json();
    last["input"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "function_call_output")
        .map(|i| {
            (
                i["call_id"].as_str().unwrap().to_string(),
                i["output"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// An executable `BROWSER` that runs `body` (`$1` is the URL), written into `dir`.
pub fn browser_script(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("fake-browser");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

/// A memory figure of `/proc/<process>/status` in kB: `VmRSS` (resident now) or `VmHWM` (the
/// peak); `process` is a pid, or `self`.
pub fn status_kb(process: impl std::fmt::Display, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{process}/status"))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|kb| kb.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// The model's question in plan mode (`request_user_input`): which database, Postgres
/// recommended or SQLite.
pub fn which_database() -> crate::fake_openai::Reply {
    crate::fake_openai::Reply::call(
        "request_user_input",
        serde_json::json!({"questions": [{"id": "db", "header": "Database", "question": "Which database?",
            "options": [{"label": "Postgres (Recommended)", "description": "what prod runs"},
                        {"label": "SQLite", "description": "one file"}]}]}),
    )
}

/// The model's second request carries the answer "SQLite" to [`which_database`], in Codex's
/// shape.
pub fn assert_sqlite_was_answered(fake: &crate::fake_openai::FakeOpenAi) {
    let requests = fake.requests_to("/responses");
    assert!(
        requests[1]
            .json()
            .to_string()
            .contains(r#"{\"answers\":{\"db\":{\"answers\":[\"SQLite\"]}}}"#),
        "{}",
        requests[1].json()
    );
}
