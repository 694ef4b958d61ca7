//! `kelp login --with-api-key`, `kelp auth status` and `kelp logout`, run as a new user would.

use std::os::unix::fs::FileTypeExt;

use serde_json::Value;

use crate::support::{kelp, run_with_stdin, shown};

const KEY: &str = "sk-proj-TESTKEY0123456789abcd";

#[test]
fn a_new_user_logs_in_with_a_key_checks_status_and_logs_out() {
    let home = tempfile::tempdir().unwrap();
    let auth_file = home.path().join(".local/share/kelp/auth.json");

    let status = kelp(home.path()).args(["auth", "status"]).output().unwrap();
    assert_eq!(status.status.code(), Some(1), "{}", shown(&status));
    assert!(shown(&status).contains("Not logged in"));
    assert!(shown(&status).contains("Auth file: ~/.local/share/kelp/auth.json"));
    assert!(!auth_file.exists());

    // No server answers here: the key cannot be checked, so nothing is saved unless asked.
    let login = run_with_stdin(
        kelp(home.path()).args(["login", "--with-api-key"]),
        &format!("{KEY}\n"),
    );
    assert_eq!(login.status.code(), Some(1), "{}", shown(&login));
    assert!(
        shown(&login).contains("could not be checked"),
        "{}",
        shown(&login)
    );
    assert!(shown(&login).contains("--no-check"), "{}", shown(&login));
    assert!(!auth_file.exists());
    let login = run_with_stdin(
        kelp(home.path()).args(["login", "--with-api-key", "--no-check"]),
        &format!("{KEY}\n"),
    );
    assert!(login.status.success(), "{}", shown(&login));
    assert!(shown(&login).contains("sk-…abcd"));
    assert!(!shown(&login).contains(KEY), "the key was printed");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&auth_file).unwrap()).unwrap();
    assert_eq!(file["openai"]["type"], "api");
    assert_eq!(file["openai"]["key"], KEY);

    let status = kelp(home.path()).args(["auth", "status"]).output().unwrap();
    assert!(status.status.success(), "{}", shown(&status));
    assert!(shown(&status).contains("API key sk-…abcd"));
    assert!(!shown(&status).contains(KEY));

    let logout = kelp(home.path()).arg("logout").output().unwrap();
    assert!(logout.status.success(), "{}", shown(&logout));
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&auth_file).unwrap()).unwrap();
    assert!(file.get("openai").is_none());
    let status = kelp(home.path()).args(["auth", "status"]).output().unwrap();
    assert_eq!(status.status.code(), Some(1));

    // The log exists in the state dir and holds no secret.
    let log = std::fs::read_to_string(home.path().join(".local/state/kelp/kelp.log")).unwrap();
    assert!(!log.contains(KEY));
}

#[test]
fn bad_keys_are_refused_with_a_reason_and_nothing_is_written() {
    let home = tempfile::tempdir().unwrap();
    for (input, why) in [("\n", "empty"), ("sk-abc def\n", "whitespace")] {
        let out = run_with_stdin(kelp(home.path()).args(["login", "--with-api-key"]), input);
        assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
        assert!(shown(&out).contains(why), "{}", shown(&out));
    }
    assert!(!home.path().join(".local/share/kelp/auth.json").exists());
}

#[test]
fn the_environment_key_is_used_when_nothing_is_stored() {
    let home = tempfile::tempdir().unwrap();
    let out = kelp(home.path())
        .args(["auth", "status"])
        .env("OPENAI_API_KEY", KEY)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        shown(&out).contains("sk-…abcd from OPENAI_API_KEY"),
        "{}",
        shown(&out)
    );
    assert!(!shown(&out).contains(KEY));
}

#[test]
fn a_corrupt_auth_file_is_reported_and_kept() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("custom-auth.json");
    std::fs::write(&file, "{ broken").unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    for args in [&["auth", "status"][..], &["logout"][..]] {
        let out = kelp(home.path())
            .args(args)
            .env("KELP_AUTH_FILE", &file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", shown(&out));
        let text = shown(&out);
        assert!(
            // Named as the rest of kelp names paths: the home folder as `~`.
            text.contains("~/custom-auth.json is not valid JSON"),
            "{text}"
        );
        assert_eq!(text.trim().lines().count(), 1, "one line: {text}");
    }
    let out = run_with_stdin(
        kelp(home.path())
            .args(["login", "--with-api-key"])
            .env("KELP_AUTH_FILE", &file),
        KEY,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{ broken");
}

#[test]
fn a_malformed_endpoint_is_a_clear_error_naming_the_variable() {
    let home = tempfile::tempdir().unwrap();
    let out = kelp(home.path())
        .args(["auth", "status"])
        .env("KELP_CODEX_BASE_URL", "chatgpt.com/no-scheme")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        shown(&out).contains("KELP_CODEX_BASE_URL is not a valid http(s) URL"),
        "{}",
        shown(&out)
    );
}

#[test]
fn help_and_version_work_on_every_command() {
    let home = tempfile::tempdir().unwrap();
    let version = kelp(home.path()).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("kelp "));
    for args in [
        &["--help"][..],
        &["login", "--help"],
        &["logout", "--help"],
        &["auth", "status", "--help"],
    ] {
        let out = kelp(home.path()).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage:"),
            "{args:?}"
        );
    }
}

/// A command's help lists the flags it takes: the agent's settings where an agent runs, none
/// of them on the login commands.
#[test]
fn help_lists_only_the_flags_that_apply() {
    let home = tempfile::tempdir().unwrap();
    let help = |args: &[&str]| {
        let out = kelp(home.path()).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for args in [
        &["logout", "--help"][..],
        &["auth", "--help"],
        &["auth", "status", "--help"],
        &["login", "--help"],
    ] {
        let text = help(args);
        for flag in ["--model", "--sandbox", "--approval", "--network", "--cd"] {
            assert!(!text.contains(flag), "{args:?} lists {flag}:\n{text}");
        }
    }
    for args in [
        &["--help"][..],
        &["run", "--help"],
        &["app-server", "--help"],
    ] {
        assert!(help(args).contains("--sandbox <MODE>"), "{args:?}");
    }
    assert!(help(&["sessions", "--help"]).contains("--cd <DIR>"));
}

#[test]
fn status_with_an_expiry_beyond_the_calendar_says_unknown_instead_of_panicking() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".local/share/kelp");
    std::fs::create_dir_all(&dir).unwrap();
    let auth =
        r#"{"openai":{"type":"oauth","refresh":"r","access":"a","expires":9007199254740991}}"#;
    std::fs::write(dir.join("auth.json"), auth).unwrap();

    let status = kelp(home.path()).args(["auth", "status"]).output().unwrap();
    assert!(status.status.success(), "{}", shown(&status));
    assert!(
        shown(&status).contains("expires at an unknown time"),
        "{}",
        shown(&status)
    );
}

/// `kelp login --with-api-key` saves a key only once the API accepted it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_checked_against_the_api_before_it_is_saved() {
    let fake = crate::fake_openai::FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let auth_file = home.path().join(".local/share/kelp/auth.json");
    let login = |key: String| {
        let mut cmd = kelp(home.path());
        cmd.envs(fake.env()).args(["login", "--with-api-key"]);
        tokio::task::spawn_blocking(move || run_with_stdin(&mut cmd, &format!("{key}\n")))
    };

    let refused = login("sk-wrong-0000000000000000wxyz".into()).await.unwrap();
    assert_eq!(refused.status.code(), Some(3), "{}", shown(&refused));
    assert!(
        shown(&refused).contains("OpenAI refused this API key (HTTP 401)"),
        "{}",
        shown(&refused)
    );
    assert!(!shown(&refused).contains("wxyz"), "{}", shown(&refused));
    assert!(!auth_file.exists());

    let accepted = login(fake.api_key()).await.unwrap();
    assert!(accepted.status.success(), "{}", shown(&accepted));
    assert!(
        shown(&accepted).contains("checked and saved"),
        "{}",
        shown(&accepted)
    );
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&auth_file).unwrap()).unwrap();
    assert_eq!(file["openai"]["key"], fake.api_key());
    let checks = fake.requests_to("/v1/models");
    assert_eq!(checks.len(), 2, "one request per check");
}

/// `kelp auth status` over the auth file at `auth_file`.
fn auth_status(auth_file: &std::path::Path) -> std::process::Output {
    let home = auth_file.parent().unwrap();
    kelp(home)
        .env("KELP_AUTH_FILE", auth_file)
        .args(["auth", "status"])
        .output()
        .unwrap()
}

/// An auth file that is a FIFO is refused at once instead of hanging every command, and one
/// that is not UTF-8 gets the same "left untouched" message as one that is not JSON.
#[test]
fn a_fifo_or_non_utf8_auth_file_is_refused_at_once_and_left_alone() {
    let home = tempfile::tempdir().unwrap();
    let auth_file = home.path().join("auth.json");
    let path = std::ffi::CString::new(auth_file.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) on a path in this test's own temp folder.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    let started = std::time::Instant::now();
    let status = auth_status(&auth_file);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "it hung"
    );
    assert_ne!(status.status.code(), Some(0), "{}", shown(&status));
    assert!(
        shown(&status)
            .contains("is a FIFO (named pipe), not a regular file; kelp left it untouched"),
        "{}",
        shown(&status)
    );
    assert!(std::fs::metadata(&auth_file).unwrap().file_type().is_fifo());

    std::fs::remove_file(&auth_file).unwrap();
    std::fs::write(&auth_file, b"{\"openai\": \"\xff\xfe\"}").unwrap();
    let status = auth_status(&auth_file);
    assert!(
        shown(&status).contains("not UTF-8 text") && shown(&status).contains("left it untouched"),
        "{}",
        shown(&status)
    );
    assert_eq!(
        std::fs::read(&auth_file).unwrap(),
        b"{\"openai\": \"\xff\xfe\"}"
    );
}

/// An auth file other users may read, and a state folder they may list, are made private the
/// first time kelp meets them, and kelp says so once; Codex's config file is left as it is.
#[test]
fn an_auth_file_and_state_folder_open_to_others_are_made_private_with_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("auth.json");
    std::fs::write(
        &file,
        format!(r#"{{"openai":{{"type":"api","key":"{KEY}"}}}}"#),
    )
    .unwrap();
    std::fs::set_permissions(&file, PermissionsExt::from_mode(0o644)).unwrap();
    let state = home.path().join(".local/state/kelp");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::set_permissions(&state, PermissionsExt::from_mode(0o755)).unwrap();
    // The config may hold an MCP server's headers: it and its folder are kept private too.
    let config_dir = home.path().join(".config/kelp");
    let config = config_dir.join("config.toml");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(&config, "model = \"gpt-5.4\"\n").unwrap();
    std::fs::set_permissions(&config_dir, PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&config, PermissionsExt::from_mode(0o644)).unwrap();
    // The folder the person named for the auth file is theirs: left as it is.
    std::fs::set_permissions(home.path(), PermissionsExt::from_mode(0o755)).unwrap();
    // Codex's files are Codex's: read, never changed, their mode included.
    let codex_dir = home.path().join(".codex");
    std::fs::create_dir_all(&codex_dir).unwrap();
    let codex_config = codex_dir.join("config.toml");
    std::fs::write(
        &codex_config,
        "model = \"gpt-5.5\"\n[hooks.state.\"k\"]\nenabled = true\n",
    )
    .unwrap();
    std::fs::set_permissions(&codex_config, PermissionsExt::from_mode(0o644)).unwrap();
    std::fs::set_permissions(&codex_dir, PermissionsExt::from_mode(0o755)).unwrap();
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let status = || {
        kelp(home.path())
            .args(["auth", "status"])
            .env("KELP_AUTH_FILE", &file)
            .output()
            .unwrap()
    };
    let out = status();
    assert!(out.status.success(), "{}", shown(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "kelp: warning: {} was open to other users (mode 644); kelp made it 600",
            file.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{} was open to other users (mode 755); kelp made it 700",
            state.display()
        )),
        "{stderr}"
    );
    for (path, before, after) in [(&config, 644, 600), (&config_dir, 755, 700)] {
        assert!(
            stderr.contains(&format!(
                "{} was open to other users (mode {before}); kelp made it {after}",
                path.display()
            )),
            "{stderr}"
        );
    }
    assert!(!stderr.contains(KEY), "{stderr}");
    assert_eq!((mode(&file), mode(&state)), (0o600, 0o700));
    assert_eq!((mode(&config), mode(&config_dir)), (0o600, 0o700));
    assert_eq!(mode(home.path()), 0o755);
    assert_eq!((mode(&codex_config), mode(&codex_dir)), (0o644, 0o755));
    assert!(!stderr.contains(".codex"), "{stderr}");
    let again = status();
    assert!(again.stderr.is_empty(), "{}", shown(&again));
}

/// Codex's names: `kelp login status` is `kelp auth status`; `kelp completion SHELL` prints
/// the shell's completion script, made from the command line itself.
#[test]
fn login_status_and_completion_scripts() {
    let home = tempfile::tempdir().unwrap();
    let said = |args: &[&str]| kelp(home.path()).args(args).output().unwrap();
    let login = said(&["login", "status"]);
    let auth = said(&["auth", "status"]);
    assert_eq!(login.status.code(), Some(1));
    assert_eq!(login.stdout, auth.stdout);
    assert!(String::from_utf8_lossy(&login.stdout).starts_with("Not logged in."));
    let bash = said(&["completion", "bash"]);
    assert!(bash.status.success());
    let script = String::from_utf8_lossy(&bash.stdout);
    assert!(
        script.contains("_kelp()") && script.contains("exec"),
        "{script}"
    );
    let zsh = said(&["completion", "zsh"]);
    assert!(String::from_utf8_lossy(&zsh.stdout).starts_with("#compdef kelp"));
    for shell in ["fish", "elvish", "powershell"] {
        let out = said(&["completion", shell]);
        assert!(out.status.success() && !out.stdout.is_empty(), "{shell}");
    }
    let wrong = said(&["completion", "tcsh"]);
    assert_eq!(wrong.status.code(), Some(2));
    // No shell named: bash's, as Codex's.
    assert_eq!(said(&["completion"]).stdout, bash.stdout);
}

/// `kelp doctor`: all well with a key and endpoints that answer (exit 0); `--json` is one
/// object with each part; no login, an endpoint that does not answer, or a bad config value is
/// a ✗ and exit 1; a key never shows whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_says_what_is_well_and_what_is_not() {
    let fake = crate::fake_openai::FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let doctor = |args: &[&str], env: &[(&str, String)]| {
        let mut cmd = kelp(home.path());
        cmd.envs(fake.env()).arg("doctor").args(args);
        for (name, value) in env {
            cmd.env(name, value);
        }
        cmd.output().unwrap()
    };
    let key = ("OPENAI_API_KEY", fake.api_key());
    let out = tokio::task::block_in_place(|| doctor(&[], std::slice::from_ref(&key)));
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    // The sandbox's layers are this machine's: only they may make it less than well.
    let sandbox_well = said.contains("✓ sandbox");
    assert_eq!(out.status.success(), sandbox_well, "{}", shown(&out));
    for line in [
        "✓ kelp",
        "✓ login     API key sk-…",
        "✓ config",
        "✓ network",
    ] {
        assert!(said.contains(line), "{line}: {said}");
    }
    assert!(!said.contains(&fake.api_key()), "{said}");

    let out = tokio::task::block_in_place(|| doctor(&["--json"], std::slice::from_ref(&key)));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    for part in [
        "kelp", "login", "config", "sandbox", "terminal", "mcp", "network",
    ] {
        assert!(report[part]["ok"].is_boolean(), "{part}: {report}");
    }
    assert_eq!(report["login"]["kind"], "api_key");
    assert_eq!(report["network"]["endpoints"][0]["ok"], true);
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&fake.api_key()));

    // No login, a dead endpoint, a bad value: each a ✗.
    std::fs::create_dir_all(home.path().join(".config/kelp")).unwrap();
    std::fs::write(
        home.path().join(".config/kelp/config.toml"),
        "approval = \"sometimes\"\n",
    )
    .unwrap();
    let dead = ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1".to_string());
    let out = tokio::task::block_in_place(|| doctor(&[], &[dead]));
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    for line in [
        "✗ login     not signed in",
        "✗ config",
        "`approval`",
        "✗ network",
    ] {
        assert!(said.contains(line), "{line}: {said}");
    }

    // A provider kelp cannot use stops every other verb; the doctor says it, naming the file
    // that chose it, and checks the rest.
    let config_file = home.path().join(".config/kelp/config.toml");
    std::fs::write(
        &config_file,
        "model_provider = \"legacy\"\n[model_providers.legacy]\nname = \"Legacy\"\n\
         base_url = \"http://127.0.0.1:9/v1\"\nwire_api = \"chat\"\n",
    )
    .unwrap();
    let out = tokio::task::block_in_place(|| doctor(&["--json"], std::slice::from_ref(&key)));
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["config"]["ok"], false, "{report}");
    let warned = report["config"]["warnings"].to_string();
    assert!(
        warned.contains(&config_file.display().to_string()) && warned.contains("chat"),
        "{warned}"
    );
    assert_eq!(report["login"]["kind"], "api_key", "{report}");

    // A ChatGPT login: its kind, account and expiry, never a token; the terminal as it is.
    std::fs::remove_file(&config_file).unwrap();
    let auth_file = home.path().join(".local/share/kelp/auth.json");
    std::fs::create_dir_all(auth_file.parent().unwrap()).unwrap();
    let tokens =
        crate::llm_stream::write_login(&auth_file, &fake, crate::llm_stream::Login::ChatGpt)
            .unwrap();
    let terminal = [
        ("TERM", "xterm-256color".to_string()),
        ("TMUX", "/tmp/tmux-0/default,1,0".to_string()),
        ("SSH_CONNECTION", "10.0.0.1 50000 10.0.0.2 22".to_string()),
    ];
    let out = tokio::task::block_in_place(|| doctor(&["--json"], &terminal));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["login"]["kind"], "chatgpt", "{report}");
    assert_eq!(report["login"]["account_id"], tokens.account_id.as_str());
    assert_eq!(
        report["login"]["expires_at"].as_i64(),
        Some(tokens.expires_at_ms / 1000),
        "{report}"
    );
    for secret in [
        &tokens.access_token,
        &tokens.refresh_token,
        &tokens.id_token,
    ] {
        assert!(!text.contains(secret.as_str()), "a token in {text}");
    }
    assert_eq!(report["terminal"]["term"], "xterm-256color");
    assert_eq!(report["terminal"]["tmux"], true);
    assert_eq!(report["terminal"]["ssh"], true);
}
