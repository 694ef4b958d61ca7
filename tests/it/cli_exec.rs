//! `kelp exec` as a host built on `codex exec --experimental-json` drives it: the real binary,
//! the command line the TypeScript SDK builds, against the fake server.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::fake_openai::{FakeOpenAi, Reply, Scenario};
use crate::llm_stream::{Login, write_login};
use crate::support::{kelp, run_with_stdin, shown};

/// `kelp` with a ChatGPT login stored in `home` and only the issuer pointed at `fake`: the
/// API base comes from the command line, as the SDK gives it.
pub(crate) fn kelp_exec(fake: &FakeOpenAi, home: &Path) -> Command {
    let auth_file = home.join("auth.json");
    write_login(&auth_file, fake, Login::ChatGpt);
    let mut cmd = kelp(home);
    cmd.env("KELP_AUTH_ISSUER", fake.url())
        .env("KELP_AUTH_FILE", &auth_file)
        .env("CODEX_API_KEY", fake.api_key())
        .args(["exec", "--experimental-json", "--config"])
        .arg(format!("openai_base_url=\"{}\"", fake.api_base_url()));
    cmd
}

/// Runs `cmd` with `input` on stdin, off the runtime's threads so the fake keeps serving.
pub(crate) async fn run(mut cmd: Command, input: &str) -> Output {
    let input = input.to_string();
    tokio::task::spawn_blocking(move || run_with_stdin(&mut cmd, &input))
        .await
        .unwrap()
}

/// Each line of stdout as JSON: nothing else is there.
pub(crate) fn events(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?} is not JSON: {e}"))
        })
        .collect()
}

/// Each event as `type`, or `type item-type item-status` for an item's.
fn outline(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|event| {
            let item = &event["item"];
            match item["type"].as_str() {
                Some(kind) => format!(
                    "{} {kind} {}",
                    event["type"].as_str().unwrap(),
                    item["status"].as_str().unwrap_or("-")
                )
                .trim_end()
                .to_string(),
                None => event["type"].as_str().unwrap().to_string(),
            }
        })
        .collect()
}

/// The outline of a turn of the fake's `coding` scenario, its patch shown as `patch`: the
/// prompt run as a command, a patch writing what it printed, an answer.
fn coding_turn(patch: &[&'static str]) -> Vec<&'static str> {
    let mut outline = vec![
        "thread.started",
        "turn.started",
        "item.completed agent_message -",
        "item.started command_execution in_progress",
        "item.completed command_execution completed",
        "item.completed agent_message -",
    ];
    outline.extend(patch);
    outline.extend(["item.completed agent_message -", "turn.completed"]);
    outline
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdks_command_line_runs_a_turn_that_codex_would_report_the_same() {
    let fake = FakeOpenAi::start().await;
    fake.set_scenario(Scenario::Coding);
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let project_dir = project.path().canonicalize().unwrap();
    let mut cmd = kelp_exec(&fake, home.path());
    cmd.env("CODEX_INTERNAL_ORIGINATOR_OVERRIDE", "codex_sdk_ts")
        .args(["--model", "gpt-5.4", "--sandbox", "workspace-write", "--cd"])
        .arg(&project_dir)
        .arg("--skip-git-repo-check");
    let out = run(cmd, "echo hello-from-shell").await;
    assert!(out.status.success(), "{}", shown(&out));
    let events = events(&out);
    assert_eq!(
        outline(&events),
        coding_turn(&[
            "item.started file_change in_progress",
            "item.completed file_change completed",
        ]),
        "{events:#?}"
    );
    let items: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "item.completed")
        .map(|e| &e["item"])
        .collect();
    let ids: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["item_0", "item_1", "item_2", "item_3", "item_4"]);
    assert_eq!(items[1]["command"], "echo hello-from-shell");
    assert_eq!(items[1]["aggregated_output"], "hello-from-shell\n");
    assert_eq!(items[1]["exit_code"], 0);
    assert_eq!(
        items[3]["changes"],
        json!([{ "path": project_dir.join("kelp-notes.md"), "kind": "add" }])
    );
    assert_eq!(
        items[4]["text"],
        "Done: the command ran, and what it printed is in kelp-notes.md."
    );
    let thread_id = events[0]["thread_id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(thread_id).is_ok(), "{thread_id}");
    let usage = &events.last().unwrap()["usage"];
    for field in [
        "input_tokens",
        "cached_input_tokens",
        "cache_write_input_tokens",
        "output_tokens",
        "reasoning_output_tokens",
    ] {
        assert!(usage[field].is_u64(), "{field} in {usage}");
    }
    assert_eq!(
        std::fs::read_to_string(project_dir.join("kelp-notes.md")).unwrap(),
        "hello-from-shell\n"
    );
    // CODEX_API_KEY beats the stored ChatGPT login; the base URL came from `--config`.
    let requests = fake.requests_to("/responses");
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert_eq!(request.path, "/v1/responses");
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {}", fake.api_key()).as_str())
        );
        assert_eq!(request.header("originator"), Some("codex_sdk_ts"));
        assert_eq!(request.json()["model"], "gpt-5.4");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_resume_continues_the_thread_with_a_schema_and_the_last_message() {
    let fake = FakeOpenAi::start().await;
    fake.push_responses([
        Reply::text("The word is kelp."),
        Reply::text("{\"word\":\"kelp\"}"),
        Reply::text("Still kelp."),
    ]);
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    // A git repository: no --skip-git-repo-check needed.
    std::fs::create_dir(project.path().join(".git")).unwrap();
    let mut first = kelp_exec(&fake, home.path());
    first.current_dir(project.path());
    let out = run(first, "remember: kelp").await;
    assert!(out.status.success(), "{}", shown(&out));
    let thread_id = events(&out)[0]["thread_id"].as_str().unwrap().to_string();

    // Without --json: the last answer on stdout, and in the file -o names.
    let schema = json!({
        "type": "object",
        "properties": { "word": { "type": "string" } },
        "required": ["word"],
        "additionalProperties": false,
    });
    let schema_file = project.path().join("schema.json");
    std::fs::write(&schema_file, schema.to_string()).unwrap();
    let last_file = project.path().join("last.txt");
    let mut second = kelp(home.path());
    // No CODEX_API_KEY: the stored ChatGPT login.
    second
        .current_dir(project.path())
        .envs(fake.env())
        .env("KELP_AUTH_FILE", home.path().join("auth.json"))
        .args(["exec", "--output-schema"])
        .arg(&schema_file)
        .arg("-o")
        .arg(&last_file)
        .args(["resume", &thread_id]);
    let out = run(second, "which word?").await;
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"word\":\"kelp\"}\n"
    );
    // Without --json the session is named in the header on stderr as the run starts, as
    // Codex's exec names it.
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .any(|line| line == format!("session id: {thread_id}")),
        "{}",
        shown(&out)
    );
    assert_eq!(
        std::fs::read_to_string(&last_file).unwrap(),
        "{\"word\":\"kelp\"}"
    );
    let request = &fake.requests_to("/responses")[1];
    assert_eq!(request.path, "/backend-api/codex/responses");
    let request = request.json().clone();
    assert_eq!(
        request["text"]["format"],
        json!({ "type": "json_schema", "name": "codex_output_schema", "schema": schema, "strict": true })
    );
    let input = request["input"].to_string();
    assert!(input.contains("remember: kelp"), "{input}");

    // `resume --last PROMPT` takes the newest of this directory: the same thread.
    let mut third = kelp_exec(&fake, home.path());
    third
        .current_dir(project.path())
        .args(["resume", "--last", "and now?"]);
    let out = run(third, "").await;
    assert!(out.status.success(), "{}", shown(&out));
    let events = events(&out);
    assert_eq!(events[0]["thread_id"], thread_id.as_str());
    assert_eq!(
        events.iter().rev().nth(1).unwrap()["item"]["text"],
        "Still kelp."
    );
    let input = fake.requests_to("/responses")[2].json()["input"].to_string();
    assert!(input.contains("which word?") && input.contains("and now?"));
}

/// In a folder the person trusts (kept in the config as Codex keeps it), `kelp exec` needs no
/// git repository and applies the model's patch unasked, as `codex exec` does there; in a git
/// repository not trusted, its commands only read and the patch is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_in_a_trusted_folder_applies_the_models_patch() {
    let fake = FakeOpenAi::start().await;
    let patch = "*** Begin Patch\n*** Add File: fixed.txt\n+done\n*** End Patch\n";
    let home = tempfile::tempdir().unwrap();
    let trusted = tempfile::tempdir().unwrap();
    let config_dir = home.path().join(".config/kelp");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("config.toml"),
        format!(
            "[projects.{:?}]\ntrust_level = \"trusted\"\n",
            trusted.path().canonicalize().unwrap()
        ),
    )
    .unwrap();
    fake.push_responses([
        Reply::call_with_id("p1", "apply_patch", json!({"input": patch})),
        Reply::text("Fixed."),
    ]);
    let mut cmd = kelp_exec(&fake, home.path());
    cmd.current_dir(trusted.path());
    let out = run(cmd, "fix it").await;
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(
        std::fs::read_to_string(trusted.path().join("fixed.txt")).unwrap(),
        "done\n"
    );

    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir(repo.path().join(".git")).unwrap();
    fake.push_responses([
        Reply::call_with_id("p1", "apply_patch", json!({"input": patch})),
        Reply::text("Could not."),
    ]);
    let mut cmd = kelp_exec(&fake, home.path());
    cmd.current_dir(repo.path());
    let out = run(cmd, "fix it").await;
    assert!(out.status.success(), "{}", shown(&out));
    assert!(!repo.path().join("fixed.txt").exists());
}

/// Codex 0.171's profiles: `-p work` reads `work.config.toml` beside kelp's `config.toml` and
/// beside Codex's, laid over the person's files (kelp's profile above Codex's, Codex's above
/// both bases), and a `[profiles.NAME]` table still works: the requests carry what each gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_is_read_from_its_own_file_beside_each_config() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let kelp_dir = home.path().join(".config/kelp");
    let codex_dir = home.path().join(".codex");
    std::fs::create_dir_all(&kelp_dir).unwrap();
    std::fs::create_dir_all(&codex_dir).unwrap();
    std::fs::write(
        kelp_dir.join("config.toml"),
        "model = \"gpt-5.4\"\n[profiles.old]\nmodel = \"gpt-5.2\"\n",
    )
    .unwrap();
    std::fs::write(kelp_dir.join("work.config.toml"), "model = \"gpt-5.5\"\n").unwrap();
    std::fs::write(
        codex_dir.join("work.config.toml"),
        "model = \"gpt-5.1\"\nmodel_reasoning_effort = \"high\"\n",
    )
    .unwrap();
    let mut sent = Vec::new();
    for profile in [&[][..], &["-p", "work"][..], &["--profile", "old"][..]] {
        fake.push_response(Reply::text("ok"));
        let mut cmd = kelp_exec(&fake, home.path());
        cmd.current_dir(project.path())
            .arg("--skip-git-repo-check")
            .args(profile);
        let out = run(cmd, "hi").await;
        assert!(out.status.success(), "{profile:?}: {}", shown(&out));
        let requests = fake.requests_to("/responses");
        let request = requests.last().unwrap().json();
        sent.push((
            request["model"].clone(),
            request["reasoning"]["effort"].clone(),
        ));
    }
    assert_eq!(sent[0].0, "gpt-5.4");
    assert_eq!(sent[1], (json!("gpt-5.5"), json!("high")), "{sent:?}");
    assert_eq!(sent[2].0, "gpt-5.2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_exec_cannot_do_is_refused_in_words_with_an_exit_code() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();

    // Outside a git repository, as Codex's exec.
    let mut cmd = kelp_exec(&fake, home.path());
    cmd.current_dir(project.path());
    let out = run(cmd, "hi").await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "Not inside a trusted directory and --skip-git-repo-check was not specified."
        ),
        "{}",
        shown(&out)
    );

    // A setting kelp has no feature for, and a profile the config file lacks.
    for (refused, said) in [
        (
            &["--config", "web_search=\"sometimes\""][..],
            "is not a web search mode",
        ),
        (
            &["--profile", "work"][..],
            "no profile work: neither work.config.toml",
        ),
    ] {
        let mut cmd = kelp_exec(&fake, home.path());
        cmd.current_dir(project.path())
            .arg("--skip-git-repo-check")
            .args(refused);
        let out = run(cmd, "hi").await;
        assert_eq!(out.status.code(), Some(2), "{refused:?}: {}", shown(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.lines().count() == 1 && stderr.contains(said),
            "{stderr}"
        );
    }
    assert!(fake.requests_to("/responses").is_empty());

    // A rejected key: the turn fails in events, the reason goes to stderr, the exit code says
    // it is the login.
    let mut cmd = kelp_exec(&fake, home.path());
    cmd.current_dir(project.path())
        .env("CODEX_API_KEY", "sk-not-the-right-one-0000")
        .arg("--skip-git-repo-check");
    let out = run(cmd, "hi").await;
    assert_eq!(out.status.code(), Some(3), "{}", shown(&out));
    let events = events(&out);
    assert_eq!(
        outline(&events),
        ["thread.started", "turn.started", "error", "turn.failed"]
    );
    let message = events[3]["error"]["message"].as_str().unwrap();
    assert!(!message.contains("sk-not-the-right-one"), "{message}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("sk-not-the-right-one"), "{stderr}");

    // A Codex setting kelp does not have is ignored, and said so on stderr (stdout stays
    // Codex's events alone).
    fake.push_response(Reply::text("Ignored."));
    let mut cmd = kelp_exec(&fake, home.path());
    cmd.current_dir(project.path()).args([
        "--skip-git-repo-check",
        "-c",
        "show_raw_agent_reasoning=true",
    ]);
    let out = run(cmd, "hi").await;
    assert!(out.status.success(), "{}", shown(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "kelp: warning: -c show_raw_agent_reasoning: kelp has no such setting; ignored"
        ),
        "{}",
        shown(&out)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("{\"type\":\"thread.started\""));

    // `--profile NAME`, as the SDK passes Codex's: the config file's profile is used.
    let config = home.path().join(".config/kelp/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "[profiles.work]\nmodel = \"gpt-5.4-mini\"\n").unwrap();
    fake.push_response(Reply::text("Profiled."));
    let mut cmd = kelp_exec(&fake, home.path());
    cmd.current_dir(project.path())
        .args(["--skip-git-repo-check", "--profile", "work"]);
    let out = run(cmd, "hi").await;
    assert!(out.status.success(), "{}", shown(&out));
    let sent = fake.requests_to("/responses").pop().unwrap();
    assert_eq!(sent.json()["model"], "gpt-5.4-mini");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_dir_lets_a_sandboxed_command_write_there_too() {
    let fake = FakeOpenAi::start().await;
    fake.set_scenario(Scenario::Shell);
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    // Outside the temp dir, which commands may write anyway (a private one of their own), and
    // wherever the checkout lives.
    let Some(extra) = crate::support::dir_outside_the_sandbox() else {
        return;
    };
    let target = extra.path().join("made.txt");
    let command = format!("echo made > {}", target.display());
    for add_dir in [false, true] {
        let mut cmd = kelp_exec(&fake, home.path());
        cmd.current_dir(project.path()).args([
            "--skip-git-repo-check",
            "--sandbox",
            "workspace-write",
        ]);
        if add_dir {
            cmd.arg("--add-dir").arg(extra.path());
        }
        let out = run(cmd, &command).await;
        assert!(out.status.success(), "{}", shown(&out));
        let events = events(&out);
        let ran = events
            .iter()
            .rfind(|e| e["type"] == "item.completed" && e["item"]["type"] == "command_execution")
            .unwrap();
        assert_eq!(
            ran["item"]["exit_code"],
            if add_dir { 0 } else { 1 },
            "{ran}"
        );
        assert_eq!(target.exists(), add_dir);
    }
}

/// Each flag the manual gives `kelp exec` (`docs/command-line.md`) is in its help.
#[test]
fn the_manual_and_exec_help_name_the_same_flags() {
    let manual =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/command-line.md"))
            .unwrap();
    let row = manual
        .lines()
        .find(|line| line.starts_with("| `kelp exec"))
        .expect("the manual has a row for kelp exec");
    let out = kelp(Path::new("/nonexistent"))
        .args(["exec", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    let flags: Vec<&str> = row
        .split('`')
        .skip(1)
        .step_by(2)
        .flat_map(|code| code.split([' ', '/', '=']))
        .filter(|word| word.starts_with("--") && word.len() > 2)
        .collect();
    assert!(flags.len() > 10, "{flags:?}");
    for flag in flags {
        assert!(
            help.contains(flag),
            "{flag} is not in kelp exec --help:\n{help}"
        );
    }
}

/// As Codex's exec: nobody is asked, and unless told otherwise the sandbox is read-only, for
/// patches too; the refusal is an `error` item and the turn goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_exec_never_asks_and_changes_no_file() {
    let fake = FakeOpenAi::start().await;
    fake.set_scenario(Scenario::Coding);
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let mut cmd = kelp_exec(&fake, home.path());
    cmd.current_dir(project.path()).arg("--skip-git-repo-check");
    let out = run(cmd, "echo read-only-here").await;
    assert!(out.status.success(), "{}", shown(&out));
    let events = events(&out);
    assert_eq!(outline(&events), coding_turn(&["item.completed error -"]));
    let refusal = events[6]["item"]["message"].as_str().unwrap();
    assert!(refusal.contains("read-only"), "{refusal}");
    assert!(!project.path().join("kelp-notes.md").exists());
}

/// `-o FILE` where the model's command made `FILE` a link to a file outside (a stand-in for
/// `~/.bashrc`): kelp does not write through it, says so and fails; a link that was the
/// person's before the turn is theirs to write through.
#[tokio::test]
async fn the_last_message_never_follows_a_link_made_during_the_turn() {
    let fake = FakeOpenAi::start().await;
    fake.set_scenario(Scenario::Shell);
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let Some(outside) = crate::support::dir_outside_the_sandbox() else {
        return;
    };
    let bashrc = outside.path().join("bashrc");
    std::fs::write(&bashrc, "original\n").unwrap();
    let exec = || {
        let mut cmd = kelp_exec(&fake, home.path());
        cmd.current_dir(project.path())
            .args(["--skip-git-repo-check", "--sandbox", "workspace-write"])
            .args(["-o", "answer.txt"]);
        cmd
    };
    let out = run(exec(), &format!("ln -s {} answer.txt", bashrc.display())).await;
    assert!(!out.status.success(), "{}", shown(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("answer.txt: it became a link during the turn"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&bashrc).unwrap(), "original\n");

    // The person's own link, there before the turn, is followed.
    let out = run(exec(), "true").await;
    assert!(out.status.success(), "{}", shown(&out));
    assert_ne!(std::fs::read_to_string(&bashrc).unwrap(), "original\n");
}

/// A host that stops reading: once `kelp exec --json` cannot write an event, the turn stops as
/// Ctrl-C would (the model's command killed before it could finish), and the exit is a
/// failure, as Codex's exec stops at its first failed write.
#[tokio::test]
async fn a_closed_stdout_stops_the_turn_and_fails() {
    use std::io::BufRead;
    use std::process::Stdio;
    let fake = FakeOpenAi::start().await;
    fake.set_scenario(Scenario::Shell);
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let marker = project.path().join("finished");
    let mut cmd = kelp_exec(&fake, home.path());
    cmd.current_dir(project.path())
        .args(["--skip-git-repo-check", "--sandbox", "workspace-write"])
        .arg("sleep 3 && touch finished")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        assert!(first.contains("thread.started"), "{first}");
        drop(stdout);
        let started = std::time::Instant::now();
        let out = child.wait_with_output().unwrap();
        (out, started.elapsed())
    })
    .await
    .unwrap();
    let (out, took) = out;
    assert!(!out.status.success(), "{}", shown(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the turn was stopped"),
        "{}",
        shown(&out)
    );
    assert!(took < std::time::Duration::from_secs(3), "{took:?}");
    std::thread::sleep(std::time::Duration::from_millis(3500));
    assert!(!marker.exists(), "the command ran on for no one");
}

/// Web search as the SDK asks for it: `web_search` live, cached (the default) or disabled puts
/// the Responses API's own tool in the request or leaves it out, and a search is Codex's
/// `web_search` item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_search_is_offered_as_asked_and_a_search_is_an_item() {
    let fake = FakeOpenAi::start().await;
    fake.set_scenario(Scenario::Search);
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    for (given, tool) in [
        (
            Some("live"),
            Some(json!({"type": "web_search", "external_web_access": true})),
        ),
        (
            None,
            Some(json!({"type": "web_search", "external_web_access": false})),
        ),
        (Some("disabled"), None),
    ] {
        let mut cmd = kelp_exec(&fake, home.path());
        cmd.current_dir(project.path()).arg("--skip-git-repo-check");
        if let Some(mode) = given {
            cmd.arg("--config").arg(format!("web_search=\"{mode}\""));
        }
        let out = run(cmd, "tokio release notes").await;
        assert!(out.status.success(), "{given:?}: {}", shown(&out));
        let body = fake.requests_to("/responses").pop().unwrap().json().clone();
        let offered: Vec<&Value> = body["tools"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["type"] == "web_search")
            .collect();
        assert_eq!(offered.first().copied(), tool.as_ref(), "{given:?}");
        let events = events(&out);
        let searched: Vec<&Value> = events
            .iter()
            .filter(|e| e["item"]["type"] == "web_search")
            .collect();
        if tool.is_none() {
            assert!(searched.is_empty(), "{events:?}");
            continue;
        }
        assert_eq!(
            outline(&events),
            [
                "thread.started",
                "turn.started",
                "item.started web_search -",
                "item.completed web_search -",
                "item.completed agent_message -",
                "turn.completed"
            ]
        );
        assert_eq!(searched[1]["item"]["query"], "tokio release notes");
        assert_eq!(
            searched[1]["item"]["action"],
            json!({"type": "search", "query": "tokio release notes"})
        );
        assert_eq!(searched[0]["item"]["id"], searched[1]["item"]["id"]);
    }
}

/// A turn the server fails ends with Codex's `turn.failed` and exit 1; a folder given to
/// `--add-dir` that is not there is a warning, as Codex's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_turn_is_turn_failed_and_a_missing_add_dir_a_warning() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    fake.push_response(
        Reply::text("Half an answer").then_fail("invalid_prompt", "The prompt was flagged."),
    );
    let mut cmd = kelp_exec(&fake, home.path());
    cmd.current_dir(project.path()).args([
        "--skip-git-repo-check",
        "--add-dir",
        "/no/such/folder/here",
    ]);
    let out = run(cmd, "hi").await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--add-dir /no/such/folder/here: no such folder; it is left out"),
        "{stderr}"
    );
    let events = events(&out);
    let last = events.last().unwrap();
    assert_eq!(last["type"], "turn.failed", "{events:?}");
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("The prompt was flagged."),
        "{last}"
    );
    assert_eq!(
        fake.requests_to("/responses").len(),
        1,
        "a refusal is not retried"
    );

    // A rate limit longer than kelp waits by itself fails the turn the same way.
    fake.push_response(Reply::rate_limited(3600));
    let mut cmd = kelp_exec(&fake, home.path());
    cmd.current_dir(project.path()).arg("--skip-git-repo-check");
    let out = run(cmd, "hi").await;
    assert_eq!(out.status.code(), Some(4), "{}", shown(&out));
    let limited = self::events(&out);
    let last = limited.last().unwrap();
    assert_eq!(last["type"], "turn.failed", "{limited:?}");
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rate limit"),
        "{last}"
    );
}

/// `kelp e` is `kelp exec`, as Codex's alias.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_is_exec() {
    let fake = FakeOpenAi::start().await;
    fake.push_response(Reply::text("Short for exec."));
    let home = tempfile::tempdir().unwrap();
    let mut cmd = kelp(home.path());
    cmd.current_dir(home.path())
        .env("OPENAI_API_KEY", fake.api_key())
        .env("OPENAI_BASE_URL", fake.api_base_url())
        .args(["e", "--json", "--skip-git-repo-check", "hello"]);
    let out = run(cmd, "").await;
    assert!(out.status.success(), "{}", shown(&out));
    let events = events(&out);
    assert_eq!(
        events.last().unwrap()["type"],
        "turn.completed",
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["item"]["text"] == "Short for exec."),
        "{events:?}"
    );
}

/// A home folder that is a git repository (dotfiles), trusted once, does not trust a folder
/// beneath it that is no repository of its own (an archive extracted in `~/Downloads`): there
/// `kelp exec` refuses the model's patch as in any folder not trusted. Trusted itself (the
/// twin), the folder takes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_home_repository_trusts_no_folder_beneath_it() {
    let fake = FakeOpenAi::start().await;
    let patch = "*** Begin Patch\n*** Add File: fixed.txt\n+done\n*** End Patch\n";
    let home = tempfile::tempdir().unwrap();
    let home_dir = home.path().canonicalize().unwrap();
    std::fs::create_dir(home_dir.join(".git")).unwrap();
    let evil = home_dir.join("Downloads/evil");
    std::fs::create_dir_all(&evil).unwrap();
    let config_dir = home_dir.join(".config/kelp");
    std::fs::create_dir_all(&config_dir).unwrap();
    let trust = |folders: &[&Path]| {
        let text: String = folders
            .iter()
            .map(|dir| format!("[projects.{dir:?}]\ntrust_level = \"trusted\"\n"))
            .collect();
        std::fs::write(config_dir.join("config.toml"), text).unwrap();
    };
    let exec = async |fake: &FakeOpenAi| {
        fake.push_responses([
            Reply::call_with_id("p1", "apply_patch", json!({"input": patch})),
            Reply::text("Done."),
        ]);
        let mut cmd = kelp_exec(fake, &home_dir);
        cmd.current_dir(&evil);
        let out = run(cmd, "fix it").await;
        assert!(out.status.success(), "{}", shown(&out));
    };
    trust(&[&home_dir]);
    exec(&fake).await;
    assert!(
        !evil.join("fixed.txt").exists(),
        "the home's trust reached a folder beneath it"
    );
    trust(&[&home_dir, &evil]);
    exec(&fake).await;
    assert_eq!(
        std::fs::read_to_string(evil.join("fixed.txt")).unwrap(),
        "done\n"
    );
}

/// `kelp exec --worktree` works in a new worktree of the repository, trusted as the repository
/// is; `kelp worktree list` shows it with its conversation and `remove` takes it away, the
/// branch staying.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_in_a_worktree_leaves_the_repository_as_it_was() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let holder = tempfile::tempdir().unwrap();
    let repo = holder.path().join("shop");
    std::fs::create_dir(&repo).unwrap();
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(["-c", "user.name=k", "-c", "user.email=k@k"])
            .args(args)
            .current_dir(&repo)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    };
    std::fs::write(repo.join("README.md"), "shop\n").unwrap();
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "first"]);
    let repo = repo.canonicalize().unwrap();
    let config_dir = home.path().join(".config/kelp");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("config.toml"),
        format!("[projects.{repo:?}]\ntrust_level = \"trusted\"\n"),
    )
    .unwrap();
    let patch = "*** Begin Patch\n*** Add File: fixed.txt\n+done\n*** End Patch\n";
    fake.push_responses([
        Reply::call_with_id("p1", "apply_patch", json!({"input": patch})),
        Reply::text("Fixed."),
    ]);
    let mut cmd = kelp_exec(&fake, home.path());
    cmd.current_dir(&repo).arg("--worktree");
    let out = run(cmd, "fix it").await;
    assert!(out.status.success(), "{}", shown(&out));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("kelp: working in the worktree "), "{said}");
    assert!(
        !repo.join("fixed.txt").exists(),
        "the repository is untouched"
    );

    let mut list = kelp(home.path());
    list.current_dir(&repo).args(["worktree", "list", "--json"]);
    let out = list.output().unwrap();
    assert!(out.status.success(), "{}", shown(&out));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let worktree = &listed[0];
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let root = Path::new(worktree["path"].as_str().unwrap());
    assert_eq!(
        root.parent().unwrap().parent().unwrap(),
        holder
            .path()
            .canonicalize()
            .unwrap()
            .join(".kelp-worktrees")
    );
    assert_eq!(
        std::fs::read_to_string(root.join("fixed.txt")).unwrap(),
        "done\n",
        "the patch applied in the worktree, trusted as its repository"
    );
    let id = worktree["id"].as_str().unwrap();
    assert_eq!(worktree["branch"], format!("kelp/{id}"));
    assert_eq!(worktree["state"], "changed");
    assert_eq!(worktree["conversations"], 1);

    let mut refused = kelp(home.path());
    refused.current_dir(&repo).args(["worktree", "remove", id]);
    let out = refused.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--force"),
        "{}",
        shown(&out)
    );
    let mut removed = kelp(home.path());
    removed
        .current_dir(&repo)
        .args(["worktree", "remove", "--force", id]);
    let out = removed.output().unwrap();
    assert!(out.status.success(), "{}", shown(&out));
    assert!(!root.exists());
    let mut list = kelp(home.path());
    list.current_dir(&repo).args(["worktree", "list"]);
    let out = list.output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("No worktree of kelp's"),
        "{}",
        shown(&out)
    );
}

/// Without `--json`, a person reads on stderr what Codex's exec prints: the header with the
/// session id, the prompt, each command with its exit and output, the patch with its file and
/// the diff, the answers and the tokens used; stdout holds only the last answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_speaks_to_a_person_as_codex_exec_does() {
    let fake = FakeOpenAi::start().await;
    let patch = "*** Begin Patch\n*** Add File: notes.md\n+out\n*** End Patch\n";
    fake.push_responses([
        Reply::call_with_id("c1", "shell", json!({"command": "echo out; exit 3"})),
        Reply::call_with_id("p1", "apply_patch", json!({"input": patch})),
        Reply::text("Done: noted."),
    ]);
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let project_dir = project.path().canonicalize().unwrap();
    let mut cmd = kelp(home.path());
    cmd.current_dir(&project_dir)
        .env("OPENAI_API_KEY", fake.api_key())
        .env("OPENAI_BASE_URL", fake.api_base_url())
        .args([
            "exec",
            "--skip-git-repo-check",
            "--sandbox",
            "workspace-write",
        ])
        .args(["-m", "gpt-5.4", "--color", "never", "note it"]);
    let out = run(cmd, "").await;
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Done: noted.\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let workdir = format!("workdir: {}", project_dir.display());
    let command = format!("echo out; exit 3 in {}", project_dir.display());
    let patched = project_dir.join("notes.md").display().to_string();
    let expected = [
        "--------",
        workdir.as_str(),
        "model: gpt-5.4",
        "provider: openai",
        "approval: never",
        "sandbox: workspace-write [workdir]",
        "--------",
        "user",
        "note it",
        "exec",
        command.as_str(),
        "out",
        "apply patch",
        "patch: completed",
        patched.as_str(),
        "+++ b/notes.md",
        "+out",
        "codex",
        "Done: noted.",
        "tokens used",
    ];
    // Each expected line, in this order.
    let mut rest = lines.iter();
    for line in expected {
        assert!(
            rest.any(|shown| *shown == line),
            "{line:?} missing or out of order in:\n{stderr}"
        );
    }
    let session = lines
        .iter()
        .find_map(|line| line.strip_prefix("session id: "));
    assert!(
        session.is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()),
        "{stderr}"
    );
    let exited = lines.iter().find(|line| line.starts_with(" exited 3 in "));
    assert!(exited.is_some_and(|line| line.ends_with("ms:")), "{stderr}");
    let tokens = lines
        .iter()
        .position(|line| *line == "tokens used")
        .unwrap();
    assert!(
        lines[tokens + 1].replace(',', "").parse::<u64>().is_ok(),
        "{stderr}"
    );
    assert!(!stderr.contains('\x1b'), "--color never paints nothing");
}

/// The network drops mid-answer for 30 s (the server's port refuses every connection) and
/// comes back: once its retries are spent kelp says it waits for the network, tries again
/// by itself, and the turn finishes with the answer, no key pressed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_waits_out_a_lost_network_and_finishes() {
    let mut fake = FakeOpenAi::start().await;
    fake.push_responses([Reply::stall("Halfway"), Reply::text("Back again.")]);
    let home = tempfile::tempdir().unwrap();
    let mut cmd = kelp(home.path());
    cmd.current_dir(home.path())
        .env("OPENAI_API_KEY", fake.api_key())
        .env("OPENAI_BASE_URL", fake.api_base_url())
        .args(["exec", "--json", "--skip-git-repo-check", "hello"]);
    let running = tokio::spawn(run(cmd, ""));
    fake.wait_for_requests_to("/responses", 1).await;
    let outage = std::time::Duration::from_secs(30);
    let gone = std::time::Instant::now();
    fake.go_away_for(outage).await;
    let out = running.await.unwrap();
    assert!(out.status.success(), "{}", shown(&out));
    assert!(gone.elapsed() >= outage);
    let events = events(&out);
    let said: Vec<&str> = events
        .iter()
        .filter(|event| event["type"] == "error")
        .map(|event| event["message"].as_str().unwrap())
        .collect();
    assert!(
        said.iter()
            .any(|message| message
                .starts_with("Reconnecting... waiting for network (could not connect")),
        "{said:?}"
    );
    assert_eq!(
        events.last().unwrap()["type"],
        "turn.completed",
        "{events:?}"
    );
    let answer = events
        .iter()
        .rev()
        .find(|event| event["item"]["type"] == "agent_message");
    assert_eq!(answer.unwrap()["item"]["text"], "Back again.", "{events:?}");
}

/// `service_tier = "fast"` in the config file asks for Codex's fast tier (the API's
/// `priority`) on every request; `-c service_tier=default` asks for none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_files_service_tier_reaches_the_request() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let config = home.path().join(".config/kelp/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "service_tier = \"fast\"\n").unwrap();
    for (flags, sent) in [
        (&[][..], Some("priority")),
        (&["-c", "service_tier=default"][..], None),
    ] {
        fake.push_response(Reply::text("Quick."));
        let mut cmd = kelp_exec(&fake, home.path());
        cmd.current_dir(project.path())
            .args(["--skip-git-repo-check"])
            .args(flags);
        let out = run(cmd, "hi").await;
        assert!(out.status.success(), "{}", shown(&out));
        let request = fake.requests_to("/responses").pop().unwrap();
        assert_eq!(
            request.json().get("service_tier").and_then(Value::as_str),
            sent,
            "{flags:?}"
        );
    }
}
