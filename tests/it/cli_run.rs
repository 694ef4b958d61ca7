//! `kelp run` as a script would use it: the real binary against the fake server.

use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::fake_openai::{FakeOpenAi, Reply};
use crate::llm_stream::{Login, write_login};
use crate::support::{kelp, run_with_stdin, shown};

/// `kelp` pointed at `fake`, with `login` stored in a fresh home.
pub(crate) fn kelp_for(fake: &FakeOpenAi, login: Login) -> (tempfile::TempDir, Command) {
    let home = tempfile::tempdir().unwrap();
    let auth_file = home.path().join("auth.json");
    write_login(&auth_file, fake, login);
    let mut cmd = kelp(home.path());
    cmd.envs(fake.env()).env("KELP_AUTH_FILE", &auth_file);
    (home, cmd)
}

/// Runs `cmd` off the runtime's threads so the fake keeps serving.
pub(crate) async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answer_streams_to_stdout_and_the_exit_code_is_zero() {
    let fake = FakeOpenAi::start().await;
    fake.push_response(Reply::text("Hello from the fake, in pieces."));
    let (_home, mut cmd) = kelp_for(&fake, Login::ChatGpt);
    cmd.args(["run", "--model", "gpt-5.4", "say hello"]);
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Hello from the fake, in pieces.\n"
    );
    assert!(out.stderr.is_empty(), "{}", shown(&out));
    let sent = fake.requests_to("/responses");
    assert_eq!(sent[0].json()["model"], "gpt-5.4");
    assert_eq!(
        sent[0].json()["input"][0]["content"][0]["text"],
        "say hello"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prompt_comes_from_stdin_when_absent_or_a_dash() {
    let fake = FakeOpenAi::start().await;
    fake.push_responses([Reply::text("one"), Reply::text("two")]);
    for args in [vec!["run"], vec!["run", "-"]] {
        let (_home, mut cmd) = kelp_for(&fake, Login::ApiKey);
        cmd.args(&args);
        let out = tokio::task::spawn_blocking(move || run_with_stdin(&mut cmd, "from stdin\n"))
            .await
            .unwrap();
        assert!(out.status.success(), "{}", shown(&out));
    }
    let sent = fake.requests_to("/responses");
    assert_eq!(sent.len(), 2);
    for request in sent {
        assert_eq!(request.path, "/v1/responses");
        assert_eq!(
            request.json()["input"][0]["content"][0]["text"],
            "from stdin\n"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_mode_prints_one_event_per_line() {
    let fake = FakeOpenAi::start().await;
    fake.push_response(Reply::text("alpha beta").usage(50, 0, 3, 0));
    let (_home, mut cmd) = kelp_for(&fake, Login::ApiKey);
    cmd.args(["run", "--json", "go"]);
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", shown(&out));
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    // Codex's exec events, and kelp's deltas between them.
    assert_eq!(types[..2], ["thread.started", "turn.started"]);
    assert!(events[0]["thread_id"].is_string());
    assert_eq!(types.last(), Some(&"turn.completed"));
    let text: String = events
        .iter()
        .filter(|e| e["type"] == "text.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, "alpha beta");
    let done = events
        .iter()
        .find(|e| e["type"] == "item.completed")
        .unwrap();
    assert_eq!(done["item"]["text"], "alpha beta");
    // The message is named as Codex's exec names items, the same on each of its pieces.
    let id = done["item"]["id"].as_str().unwrap();
    assert_eq!(id, "item_0");
    assert_eq!(done["item"]["type"], "agent_message");
    assert!(
        events
            .iter()
            .filter(|e| e["type"] == "text.delta")
            .all(|e| e["item_id"] == id),
        "{events:?}"
    );
    let usage = &events.last().unwrap()["usage"];
    assert_eq!(usage["input_tokens"], 50);
    assert_eq!(usage["output_tokens"], 3);
}

/// The thread id of `kelp run --json`'s first event continues that conversation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_resumes_what_it_just_ran_by_the_session_id() {
    let fake = FakeOpenAi::start().await;
    fake.push_responses([
        Reply::text("The word is kelp."),
        Reply::text("It was kelp."),
    ]);
    let (home, mut cmd) = kelp_for(&fake, Login::ApiKey);
    cmd.args(["run", "--json", "remember: kelp"]);
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", shown(&out));
    let first: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    let id = first["thread_id"].as_str().unwrap().to_string();

    let mut cmd = crate::support::kelp(home.path());
    cmd.envs(fake.env())
        .env("KELP_AUTH_FILE", home.path().join("auth.json"))
        .args(["run", "--json", "--resume", &id, "which word?"]);
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", shown(&out));
    let first: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first["thread_id"], id.as_str());
    let input = fake.requests_to("/responses")[1].json()["input"].clone();
    let texts: Vec<&str> = input
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|item| item["content"][0]["text"].as_str())
        .collect();
    assert_eq!(
        texts,
        ["remember: kelp", "The word is kelp.", "which word?"]
    );

    let mut cmd = crate::support::kelp(home.path());
    cmd.args(["run", "--resume", "no-such-session", "hi"]);
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no session matches"),
        "{}",
        shown(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_is_noted_on_stderr_and_the_answer_still_arrives() {
    let fake = FakeOpenAi::start().await;
    fake.push_responses([Reply::server_error(), Reply::text("steady")]);
    let (_home, mut cmd) = kelp_for(&fake, Login::ApiKey);
    cmd.args(["run", "hi"]);
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "steady\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("kelp: reconnecting 1/5… server error (HTTP 500)"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_one_line_on_stderr_with_an_exit_code_per_kind() {
    let fake = FakeOpenAi::start().await;
    let resets_at = chrono::Local::now().timestamp() + 600;
    fake.push_responses([
        Reply::usage_limit_reached(resets_at, "plus"),
        Reply::usage_not_included(),
        // Too long even after compacting onto a summary: the one retry fails too.
        Reply::context_length_exceeded(),
        Reply::text("Goal: say hi."),
        Reply::context_length_exceeded(),
    ]);
    for (code, start) in [
        (4, "kelp: usage limit of your plus plan reached"),
        (3, "kelp: your ChatGPT plan does not include Codex"),
        (1, "kelp: the conversation is too long"),
    ] {
        let (_home, mut cmd) = kelp_for(&fake, Login::ChatGpt);
        cmd.args(["run", "hi"]);
        let out = output(cmd).await;
        assert_eq!(out.status.code(), Some(code), "{}", shown(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Notes (the compaction before the retry) come first; the error is one line.
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.starts_with("kelp: note:"))
            .collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        assert!(errors[0].starts_with(start), "{stderr}");
        assert!(out.stdout.is_empty(), "{}", shown(&out));
    }

    let home = tempfile::tempdir().unwrap();
    let mut cmd = kelp(home.path());
    cmd.envs(fake.env()).args(["run", "hi"]);
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(3), "{}", shown(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("kelp: not logged in"), "{stderr}");
    assert!(stderr.contains("sign in with `kelp login`"), "{stderr}");
    assert!(!stderr.contains("/connect"), "{stderr}");
    // Nothing was asked of the model: no empty conversation is left to list or resume.
    let mut list = kelp(home.path());
    list.envs(fake.env()).args(["sessions", "--all", "--json"]);
    let listed = output(list).await;
    assert!(listed.status.success(), "{}", shown(&listed));
    assert!(listed.stdout.is_empty(), "{}", shown(&listed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_prompt_is_a_usage_error() {
    let fake = FakeOpenAi::start().await;
    let (_home, mut cmd) = kelp_for(&fake, Login::ApiKey);
    cmd.arg("run");
    let out = tokio::task::spawn_blocking(move || run_with_stdin(&mut cmd, "  \n"))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(shown(&out).contains("no prompt"));
    assert!(fake.requests_to("/responses").is_empty());
}

/// The `output` sent back for `call_id` in a request's input.
fn output_for(request: &crate::fake_openai::Recorded, call_id: &str) -> String {
    let input = request.json()["input"].as_array().cloned().unwrap();
    let outputs: Vec<String> = input
        .iter()
        .filter(|i| i["type"] == "function_call_output" && i["call_id"] == call_id)
        .map(|i| i["output"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(outputs.len(), 1, "one output for {call_id}: {input:#?}");
    outputs[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_reads_and_searches_the_project_to_answer() {
    let fake = FakeOpenAi::start().await;
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("notes.txt"),
        "the entry point is main\n",
    )
    .unwrap();
    std::fs::create_dir(project.path().join("src")).unwrap();
    std::fs::write(project.path().join("src/main.rs"), "fn main() {}\n").unwrap();
    fake.push_responses([
        Reply::call_with_id("r1", "read_file", json!({"path": "notes.txt"})),
        Reply::call_with_id("g1", "grep_files", json!({"pattern": "fn main"})),
        Reply::text("main is in src/main.rs"),
    ]);
    let (_home, mut cmd) = kelp_for(&fake, Login::ApiKey);
    cmd.arg("--cd")
        .arg(project.path())
        .args(["run", "where is main?"]);
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "main is in src/main.rs\n"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("kelp: ▸ read_file notes.txt\n"), "{stderr}");
    assert!(
        stderr.contains("kelp: ▸ grep_files \"fn main\" in .\n"),
        "{stderr}"
    );
    let sent = fake.requests_to("/responses");
    assert_eq!(sent.len(), 3);
    assert!(output_for(&sent[1], "r1").contains("the entry point is main"));
    assert!(output_for(&sent[2], "g1").contains("src/main.rs"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_denies_what_needs_approval_and_says_how_to_allow_it() {
    let fake = FakeOpenAi::start().await;
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir(project.path().join("src")).unwrap();
    fake.push_responses([
        Reply::call_with_id("d1", "shell", json!({"command": "rm -rf src"})),
        Reply::text("I left it alone."),
        Reply::call_with_id("d2", "shell", json!({"command": "echo hi > made.txt"})),
        Reply::text("Made it."),
    ]);
    let (home, mut cmd) = kelp_for(&fake, Login::ApiKey);
    cmd.arg("--cd")
        .arg(project.path())
        .args(["run", "clean up"]);
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "I left it alone.\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("kelp: note: denied `shell: rm -rf src`: it needs approval"),
        "{stderr}"
    );
    assert!(
        stderr.contains("(rerun with --approval full-auto)"),
        "{stderr}"
    );
    assert!(project.path().join("src").is_dir());
    let sent = fake.requests_to("/responses");
    assert_eq!(
        output_for(&sent[1], "d1"),
        "denied: needs approval and nobody is here to give it (--approval full-auto)"
    );

    // With full-auto the same kind of command runs.
    let mut cmd = kelp(home.path());
    cmd.envs(fake.env())
        .env("KELP_AUTH_FILE", home.path().join("auth.json"))
        .arg("--cd")
        .arg(project.path())
        .args(["--approval", "full-auto", "run", "make a file"]);
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Made it.\n");
    assert_eq!(
        std::fs::read_to_string(project.path().join("made.txt")).unwrap(),
        "hi\n"
    );
}

/// The model's commands never see credentials from kelp's environment: set on the `kelp run`
/// process only (the test's own environment is left alone), read back through `env`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_looking_variables_do_not_reach_the_models_commands() {
    let fake = FakeOpenAi::start().await;
    let project = tempfile::tempdir().unwrap();
    fake.push_responses([
        Reply::call_with_id("e1", "shell", json!({"command": "env"})),
        Reply::text("checked"),
    ]);
    let (_home, mut cmd) = kelp_for(&fake, Login::ApiKey);
    cmd.arg("--cd")
        .arg(project.path())
        .args(["--approval", "full-auto", "run", "show the environment"])
        .env("OPENAI_API_KEY", "sk-parent-secret-1")
        .env("github_token", "tok-parent-secret-2")
        .env("MY_Secret_THING", "parent-secret-3")
        .env("DB_PASSWORD", "parent-secret-4")
        .env("AWS_ACCESS_KEY_ID", "parent-secret-5")
        .env("KELP_HARMLESS", "visible-value");
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", shown(&out));
    let sent = fake.requests_to("/responses");
    let env = output_for(&sent[1], "e1");
    for n in 1..=5 {
        assert!(
            !env.contains(&format!("secret-{n}")),
            "secret {n} leaked: {env}"
        );
    }
    assert!(env.contains("KELP_HARMLESS=visible-value"), "{env}");
    assert!(env.contains("PATH="), "{env}");
}

/// In `auto-edit`, a denial names what would allow the call, never the mode in use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auto_edit_denial_says_what_would_allow_it() {
    let fake = FakeOpenAi::start().await;
    let project = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let outside = elsewhere.path().join("notes.txt");
    let patch = format!(
        "*** Begin Patch\n*** Add File: {}\n+hello\n*** End Patch\n",
        outside.display()
    );
    fake.push_responses([
        Reply::call_with_id("p1", "apply_patch", json!({"input": patch})).and_call_with_id(
            "s1",
            "shell",
            json!({"command": "make"}),
        ),
        Reply::text("Left both alone."),
    ]);
    let (_home, mut cmd) = kelp_for(&fake, Login::ApiKey);
    cmd.arg("--cd").arg(project.path()).args([
        "--approval",
        "auto-edit",
        "run",
        "write notes and build",
    ]);
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", shown(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("--approval auto-edit"), "{stderr}");
    assert!(
        stderr.contains("outside the project, which only a person can allow"),
        "{stderr}"
    );
    assert!(
        stderr.contains("denied `shell: make`: it needs approval and nobody is here to give it (rerun with --approval full-auto)"),
        "{stderr}"
    );
    assert!(!outside.exists());
}

/// kelp is built without reqwest's system-proxy feature (macOS and Windows settings only): the
/// proxy variables still route its requests. The API's host here resolves nowhere; only the
/// proxy, the fake on 127.0.0.1, is ever reached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_variables_are_honoured() {
    let fake = FakeOpenAi::start().await;
    fake.push_response(Reply::text("Through the proxy."));
    let (_home, mut cmd) = kelp_for(&fake, Login::ApiKey);
    cmd.env("OPENAI_BASE_URL", "http://api.kelp-proxy-test.invalid/v1")
        .env("HTTP_PROXY", fake.url())
        .args(["run", "hello"]);
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Through the proxy.\n");
    let sent = fake.requests_to("/responses");
    assert_eq!(sent.len(), 1);
    let host = sent[0]
        .headers
        .iter()
        .find(|(name, _)| name == "host")
        .map(|(_, value)| value.as_str());
    assert_eq!(
        host,
        Some("api.kelp-proxy-test.invalid"),
        "sent through the proxy"
    );
}

/// The model's text and a command's words reach the terminal through the TUI's filter: an
/// escape sequence, a C1 control and a carriage return (which would let `echo hello` hide what
/// runs) show as U+FFFD. `--json` keeps the text exact, C1 escaped too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kelp_run_writes_no_control_character_to_the_terminal() {
    let answer = "Done \u{1b}]52;c;cm0gLXJmIH4=\u{7} and \u{9b}31mred";
    let command = "true\r\u{1b}[2Kecho hidden-part";
    for json_mode in [false, true] {
        let fake = FakeOpenAi::start().await;
        fake.push_responses([
            Reply::call_with_id("c", "shell", serde_json::json!({ "command": command })),
            Reply::text(answer),
        ]);
        let (_home, mut cmd) = kelp_for(&fake, Login::ApiKey);
        cmd.args(["--approval", "full-auto", "run"]);
        if json_mode {
            cmd.arg("--json");
        }
        cmd.arg("go");
        let out = output(cmd).await;
        assert!(out.status.success(), "{}", shown(&out));
        let (stdout, stderr) = (
            String::from_utf8(out.stdout.clone()).unwrap(),
            String::from_utf8(out.stderr.clone()).unwrap(),
        );
        let is_control = |c: char| c.is_control() && c != '\n';
        assert!(!stderr.contains(is_control), "{stderr:?}");
        if json_mode {
            assert!(!stdout.contains(is_control), "{stdout:?}");
            assert!(stdout.contains(r"\u009b31mred"), "{stdout}");
            let texts: String = stdout
                .lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .filter(|v| v["type"] == "text.delta")
                .map(|v| v["delta"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(texts, answer, "--json keeps the text exact");
        } else {
            assert!(!stdout.contains(is_control), "{stdout:?}");
            assert!(stdout.contains("Done \u{FFFD}]52;c;"), "{stdout:?}");
            assert!(
                stderr.contains("▸ shell true\u{FFFD}\u{FFFD}[2Kecho hidden-part"),
                "{stderr:?}"
            );
        }
    }
}

/// Runs `cmd` to its end with stdout and stderr discarded; its peak resident memory in KiB
/// (the largest of it and the descendants it waited for: kelp, here).
async fn peak_kib(mut cmd: Command) -> (std::process::ExitStatus, i64) {
    use std::os::unix::process::ExitStatusExt;
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // The child is waited for by wait4 below, which std does not see.
    #[allow(clippy::zombie_processes)]
    tokio::task::spawn_blocking(move || {
        let child = cmd.spawn().unwrap();
        let pid = child.id() as libc::pid_t;
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 writes only the status and the usage given.
        let waited = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut usage) };
        assert_eq!(waited, pid);
        (std::process::ExitStatus::from_raw(status), usage.ru_maxrss)
    })
    .await
    .unwrap()
}

/// A command that prints 256 MiB of short lines (and one that prints one line of 256 MiB)
/// leaves kelp under 100 MiB: the live stream of a call is bounded, and the model still gets
/// the output's head and tail with the count of what was cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_output_keeps_kelp_small() {
    for (shape, command) in [
        ("short lines", "yes 0123456789abcdef | head -c 256M"),
        ("one line", "head -c 256M /dev/zero | tr '\\0' x"),
    ] {
        let fake = FakeOpenAi::start().await;
        fake.push_responses([
            Reply::call_with_id("flood", "shell", serde_json::json!({ "command": command })),
            Reply::text("done"),
        ]);
        let (_home, mut cmd) = kelp_for(&fake, Login::ApiKey);
        cmd.args(["--approval", "full-auto", "run", "--json", "go"]);
        let (status, peak) = peak_kib(cmd).await;
        assert!(status.success(), "{shape}: {status:?}");
        assert!(peak < 100 * 1024, "{shape}: kelp peaked at {peak} KiB");
        let output = crate::support::tool_outputs(&fake)
            .into_iter()
            .find_map(|(id, text)| (id == "flood").then_some(text))
            .unwrap();
        assert!(output.contains("Exit code: 0"), "{shape}: {output}");
        assert!(
            output.len() < 64 * 1024,
            "{shape}: {} bytes to the model",
            output.len()
        );
    }
}

/// `kelp review`, as Codex's: the review turn without the client, its target from the flags
/// (the working tree by default), the findings on stdout, exec's events with `--json`; a
/// revision git would take for an option is refused before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_runs_without_the_client_and_prints_the_findings() {
    let fake = FakeOpenAi::start().await;
    let project = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=k", "-c", "user.email=k@e"])
            .args(args)
            .current_dir(project.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", shown(&out));
    };
    git(&["init", "-q"]);
    std::fs::write(project.path().join("a.txt"), "one\n").unwrap();
    git(&["add", "."]);
    git(&["commit", "-qm", "first"]);
    std::fs::write(project.path().join("a.txt"), "two\n").unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&[], "Review the current code changes"),
        (&["--uncommitted"], "Review the current code changes"),
        (&["--commit", "HEAD"], "introduced by commit HEAD"),
        (
            &["check the error handling only"],
            "check the error handling only",
        ),
    ];
    for (args, asked) in cases {
        fake.push_response(Reply::text("No problems found."));
        let (_home, mut cmd) = kelp_for(&fake, Login::ApiKey);
        cmd.current_dir(project.path()).arg("review").args(args);
        let out = output(cmd).await;
        assert!(out.status.success(), "{args:?}: {}", shown(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("No problems found."),
            "{}",
            shown(&out)
        );
        let request = fake.requests_to("/responses").pop().unwrap();
        assert!(request.body.contains(asked), "{args:?}: {}", request.body);
    }
    fake.push_response(Reply::text("One finding."));
    let (_home, mut cmd) = kelp_for(&fake, Login::ApiKey);
    cmd.current_dir(project.path())
        .args(["review", "--json", "--base", "main"]);
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", shown(&out));
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.first().unwrap()["type"], "thread.started");
    assert_eq!(lines.last().unwrap()["type"], "turn.completed");
    assert!(
        lines.iter().any(|e| e["item"]["text"] == "One finding."),
        "{lines:?}"
    );
    let sent = fake.requests_to("/responses").len();
    let (_home, mut cmd) = kelp_for(&fake, Login::ApiKey);
    cmd.current_dir(project.path())
        .args(["review", "--base", "--upload-pack=evil"]);
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert_eq!(fake.requests_to("/responses").len(), sent);
}
