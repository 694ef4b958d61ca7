//! `config.toml`: precedence, forgiving reads, and saving without losing a comment.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;

use kelp::config::{Config, ConfigWarning, Overrides, Setting, save_setting};

use kelp::protocol::{ApprovalMode, SandboxMode};

use crate::support::{kelp, shown};

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
    let map: HashMap<String, OsString> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), OsString::from(v)))
        .collect();
    move |name| map.get(name).cloned()
}

const FILE: &str = r#"
model = "file-model"
reasoning_effort = "low"
approval = "auto-edit"
sandbox = "read_only"
network = true
openai_base_url = "http://127.0.0.1:7/v1"
callback_port = 0
"#;

#[test]
fn a_flag_beats_the_environment_which_beats_the_file_which_beats_the_default() {
    let path = Path::new("/home/ana/.config/kelp/config.toml");
    let home = [("HOME", "/home/ana")];
    let (defaults, _) = Config::from_sources(env(&home), None, &Overrides::default()).unwrap();
    assert_eq!(defaults.model, None);
    assert_eq!(defaults.approval, ApprovalMode::Ask);
    assert_eq!(defaults.openai_base_url, "https://api.openai.com/v1");
    assert_eq!(defaults.callback_port, 1455);
    assert_eq!(defaults.sandbox, SandboxMode::WorkspaceWrite);
    assert!(!defaults.network, "no network for commands unless asked");

    let (from_file, warnings) =
        Config::from_sources(env(&home), Some((path, FILE)), &Overrides::default()).unwrap();
    assert_eq!(warnings, vec![]);
    assert_eq!(from_file.model.as_deref(), Some("file-model"));
    assert_eq!(from_file.reasoning_effort.as_deref(), Some("low"));
    assert_eq!(from_file.approval, ApprovalMode::AutoEdit);
    assert_eq!(from_file.openai_base_url, "http://127.0.0.1:7/v1");
    assert_eq!(from_file.callback_port, 0);
    assert_eq!(from_file.sandbox, SandboxMode::ReadOnly);
    assert!(from_file.network);

    let with_env = env(&[
        ("HOME", "/home/ana"),
        ("KELP_MODEL", "env-model"),
        ("KELP_APPROVAL", "full-auto"),
        ("OPENAI_BASE_URL", "http://127.0.0.1:8/v1"),
        ("KELP_CALLBACK_PORT", "1457"),
        ("KELP_SANDBOX", "off"),
        ("KELP_NETWORK", "off"),
    ]);
    let (from_env, _) =
        Config::from_sources(&with_env, Some((path, FILE)), &Overrides::default()).unwrap();
    assert_eq!(from_env.model.as_deref(), Some("env-model"));
    assert_eq!(from_env.approval, ApprovalMode::FullAuto);
    assert_eq!(from_env.openai_base_url, "http://127.0.0.1:8/v1");
    assert_eq!(from_env.callback_port, 1457);
    assert_eq!(from_env.sandbox, SandboxMode::Off);
    assert!(!from_env.network);
    assert_eq!(
        from_env.reasoning_effort.as_deref(),
        Some("low"),
        "the file fills in"
    );

    let flags = Overrides {
        model: Some("flag-model".into()),
        approval: Some(ApprovalMode::Ask),
        sandbox: Some(SandboxMode::WorkspaceWrite),
        network: Some(true.into()),
        ..Overrides::default()
    };
    let (from_flags, _) = Config::from_sources(&with_env, Some((path, FILE)), &flags).unwrap();
    assert_eq!(from_flags.model.as_deref(), Some("flag-model"));
    assert_eq!(from_flags.approval, ApprovalMode::Ask);
    assert_eq!(from_flags.sandbox, SandboxMode::WorkspaceWrite);
    assert!(from_flags.network);
    let bad = env(&[("HOME", "/h"), ("KELP_SANDBOX", "strict")]);
    let err = Config::from_sources(&bad, None, &Overrides::default()).unwrap_err();
    assert!(err.to_string().contains("KELP_SANDBOX"), "{err}");
}

#[test]
fn a_malformed_file_is_a_warning_with_line_and_column_and_defaults_apply() {
    let path = Path::new("/c/config.toml");
    let text = "model = \"ok\"\napproval = \"ask\nthird = 1\n";
    let (config, warnings) = Config::from_sources(
        env(&[("HOME", "/h")]),
        Some((path, text)),
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(config.model, None, "nothing from a broken file is used");
    assert_eq!(warnings.len(), 1);
    let ConfigWarning::Malformed { line, column, .. } = &warnings[0] else {
        panic!("{warnings:?}");
    };
    assert_eq!((*line, *column), (2, 16), "{}", warnings[0]);
    let shown = warnings[0].to_string();
    assert!(shown.starts_with("/c/config.toml:2:16: "), "{shown}");
    assert!(!shown.contains('\n'), "one line: {shown}");
}

#[test]
fn unknown_keys_are_named_and_the_rest_is_used() {
    let (config, warnings) = Config::from_sources(
        env(&[("HOME", "/h")]),
        Some((
            Path::new("/c/config.toml"),
            "modle = \"x\"\nmodel = \"m\"\n[profiles.fast]\nmodel = \"y\"\n",
        )),
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(config.model.as_deref(), Some("m"));
    let shown: Vec<_> = warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        ["/c/config.toml:1:1: unknown key `modle` is ignored; did you mean `model`?"]
    );
}

/// Profiles as Codex has them: `[profiles.NAME]` laid over the top level when `--profile NAME`,
/// `KELP_PROFILE` or the file's own `profile = "NAME"` chooses it; a flag still beats it, and a
/// profile the file lacks is an error that names it.
#[test]
fn a_chosen_profile_is_laid_over_the_file() {
    let file = "model = \"m\"\napproval = \"ask\"\n[profiles.fast]\nmodel = \"mini\"\n\
                approval = \"full-auto\"\nreasoning_effort = \"low\"\n";
    let load = |vars: &[(&str, &str)], text: &str, overrides: &Overrides| {
        Config::from_sources(
            env(vars),
            Some((Path::new("/c/config.toml"), text)),
            overrides,
        )
    };
    let plain = load(&[("HOME", "/h")], file, &Overrides::default())
        .unwrap()
        .0;
    assert_eq!(plain.model.as_deref(), Some("m"));
    let flag = Overrides {
        profile: Some("fast".into()),
        ..Overrides::default()
    };
    let (fast, warnings) = load(&[("HOME", "/h")], file, &flag).unwrap();
    assert_eq!(warnings, []);
    assert_eq!(fast.model.as_deref(), Some("mini"));
    assert_eq!(fast.approval, ApprovalMode::FullAuto);
    assert_eq!(fast.reasoning_effort.as_deref(), Some("low"));
    let by_env = load(
        &[("HOME", "/h"), ("KELP_PROFILE", "fast")],
        file,
        &Overrides::default(),
    );
    assert_eq!(by_env.unwrap().0.model.as_deref(), Some("mini"));
    let default = format!("profile = \"fast\"\n{file}");
    let by_file = load(&[("HOME", "/h")], &default, &Overrides::default());
    assert_eq!(by_file.unwrap().0.model.as_deref(), Some("mini"));
    let beaten = Overrides {
        model: Some("flagged".into()),
        ..flag
    };
    assert_eq!(
        load(&[("HOME", "/h")], file, &beaten)
            .unwrap()
            .0
            .model
            .as_deref(),
        Some("flagged")
    );
    let missing = Overrides {
        profile: Some("slow".into()),
        ..Overrides::default()
    };
    let error = load(&[("HOME", "/h")], file, &missing)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "--profile is not valid: no profile slow: neither slow.config.toml beside config.toml \
         nor [profiles.slow] in it"
    );
}

#[test]
fn the_binary_starts_despite_a_broken_config_and_says_where() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join(".config/kelp/config.toml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "model = \"gpt\"\napproval = = \"ask\"\n").unwrap();
    let out = kelp(home.path()).args(["auth", "status"]).output().unwrap();
    let text = shown(&out);
    // The file named once, then a line per problem with its line and column.
    assert!(
        text.contains("kelp: warning: ~/.config/kelp/config.toml:\n  2:"),
        "{text}"
    );
    // The command still ran: it reports the (absent) login.
    assert!(text.contains("Not logged in"), "{text}");

    std::fs::write(&file, "colour = \"blue\"\n").unwrap();
    let out = kelp(home.path()).args(["auth", "status"]).output().unwrap();
    assert!(
        shown(&out).contains("unknown key `colour` is ignored"),
        "{}",
        shown(&out)
    );

    let out = kelp(home.path())
        .args(["--approval", "sometimes", "auth", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        shown(&out).contains("not an approval mode"),
        "{}",
        shown(&out)
    );
}

#[test]
fn saving_a_setting_keeps_comments_order_and_other_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let original = "# my kelp settings\nmodel = \"gpt-5.4\" # the fast one\n\n# endpoints\nopenai_base_url = \"http://127.0.0.1:9/v1\"\nfuture_key = [1, 2]\n";
    std::fs::write(&path, original).unwrap();

    save_setting(dir.path(), &Setting::Model("gpt-5.5".into())).unwrap();
    save_setting(dir.path(), &Setting::Approval(ApprovalMode::AutoEdit)).unwrap();
    let saved = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        saved,
        "# my kelp settings\nmodel = \"gpt-5.5\" # the fast one\n\n# endpoints\nopenai_base_url = \"http://127.0.0.1:9/v1\"\nfuture_key = [1, 2]\napproval = \"auto-edit\"\n"
    );

    // A new file is created, folder and all.
    let fresh = dir.path().join("new/kelp");
    save_setting(&fresh, &Setting::ReasoningEffort("high".into())).unwrap();
    assert_eq!(
        std::fs::read_to_string(fresh.join("config.toml")).unwrap(),
        "reasoning_effort = \"high\"\n"
    );

    // A broken file is never overwritten.
    std::fs::write(&path, "model = \n").unwrap();
    let err = save_setting(dir.path(), &Setting::Model("x".into())).unwrap_err();
    assert!(err.to_string().contains("line 1, column 9"), "{err}");
    assert!(err.to_string().contains("left it untouched"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "model = \n");
}

#[test]
fn a_symlinked_config_is_edited_where_it_points() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("dotfiles/kelp.toml");
    std::fs::create_dir_all(real.parent().unwrap()).unwrap();
    std::fs::write(&real, "# tracked\n# model = \"old\"\n").unwrap();
    let config_dir = dir.path().join("config");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::os::unix::fs::symlink(&real, config_dir.join("config.toml")).unwrap();
    save_setting(&config_dir, &Setting::Model("m".into())).unwrap();
    assert!(
        config_dir
            .join("config.toml")
            .symlink_metadata()
            .unwrap()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_to_string(&real).unwrap(),
        "# tracked\n# model = \"old\"\nmodel = \"m\"\n"
    );
}

/// A config file that does not load may have asked for a read-only sandbox: kelp does not fall
/// back to the looser default but to read-only, and says so; a flag or the environment still
/// chooses.
#[test]
fn a_file_that_does_not_load_never_loosens_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let config_dir = dir.path().join("kelp");
    std::fs::create_dir_all(&config_dir).unwrap();
    let file = config_dir.join("config.toml");
    std::fs::write(&file, "sandbox = \"read-only\"\napproval = = \"ask\"\n").unwrap();
    let config_home = dir.path().to_string_lossy().into_owned();
    let vars = [("HOME", "/h"), ("XDG_CONFIG_HOME", config_home.as_str())];
    let (config, warnings) = Config::load_with(env(&vars), &Overrides::default()).unwrap();
    assert_eq!(config.sandbox, SandboxMode::ReadOnly);
    let shown: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown.last().map(String::as_str),
        Some(
            format!(
                "{}: until it loads, commands run read-only, the safest sandbox (`--sandbox` chooses another for a run)",
                file.display()
            )
            .as_str()
        ),
        "{shown:?}"
    );
    let flagged = Overrides {
        sandbox: Some(SandboxMode::WorkspaceWrite),
        ..Overrides::default()
    };
    let (config, _) = Config::load_with(env(&vars), &flagged).unwrap();
    assert_eq!(config.sandbox, SandboxMode::WorkspaceWrite);
    let with_env = [
        ("HOME", "/h"),
        ("XDG_CONFIG_HOME", config_home.as_str()),
        ("KELP_SANDBOX", "workspace-write"),
    ];
    let (config, _) = Config::load_with(env(&with_env), &Overrides::default()).unwrap();
    assert_eq!(config.sandbox, SandboxMode::WorkspaceWrite);
}

/// Codex's `config.toml` is read below kelp's, for the settings both have: kelp's file wins
/// key by key, tables are joined, Codex's own settings are left alone without a word, a
/// profile may live in either file, and what is wrong in Codex's file names Codex's file.
#[test]
fn codexs_config_is_read_below_kelps_and_named_where_it_is_wrong() {
    let home = tempfile::tempdir().unwrap();
    let codex_home = home.path().join("codex-home");
    std::fs::create_dir_all(&codex_home).unwrap();
    let codex_file = codex_home.join("config.toml");
    std::fs::write(
        &codex_file,
        r#"
model = "codex-model"
model_reasoning_effort = "High"
approval_policy = "never"
sandbox_mode = "read-only"
notify = ["notify-send"]
web_search = "live"

[sandbox_workspace_write]
network_access = true

[tui]
theme = "whatever"

[mcp_servers.docs]
command = "docs-mcp"

[mcp_servers.shared]
command = "codex-shared"

[model_providers.gateway]
name = "Gateway"
base_url = "http://127.0.0.1:9/v1"

[projects."/work/app"]
trust_level = "trusted"

[profiles.deep]
model_reasoning_effort = "xhigh"
sandbox_mode = "nonsense"
"#,
    )
    .unwrap();
    let kelp_dir = home.path().join(".config/kelp");
    std::fs::create_dir_all(&kelp_dir).unwrap();
    let kelp_file = kelp_dir.join("config.toml");
    std::fs::write(
        &kelp_file,
        "model = \"kelp-model\"\n[mcp_servers.shared]\ncommand = \"kelp-shared\"\n",
    )
    .unwrap();
    let home_text = home.path().to_str().unwrap().to_string();
    let codex_text = codex_home.to_str().unwrap().to_string();
    let vars = [
        ("HOME", home_text.as_str()),
        ("CODEX_HOME", codex_text.as_str()),
    ];
    let (config, warnings) = Config::load_with(env(&vars), &Overrides::default()).unwrap();
    assert_eq!(warnings, [], "Codex's own settings are not mistakes");
    assert_eq!(config.model.as_deref(), Some("kelp-model"));
    assert_eq!(config.reasoning_effort.as_deref(), Some("high"));
    assert_eq!(config.approval, ApprovalMode::Never);
    assert_eq!(config.sandbox, SandboxMode::ReadOnly);
    assert!(config.network);
    assert_eq!(config.web_search, Some(kelp::config::WebSearch::Live));
    let servers: Vec<(&str, String)> = config
        .mcp_servers
        .iter()
        .map(|s| (s.name.as_str(), format!("{:?}", s.transport)))
        .collect();
    assert_eq!(servers.len(), 2, "{servers:?}");
    assert!(
        servers
            .iter()
            .any(|(name, how)| *name == "shared" && how.contains("kelp-shared"))
    );
    assert!(config.model_providers.iter().any(|p| p.id == "gateway"));
    assert_eq!(config.trust_of(Path::new("/work/app")), Some(true));
    assert_eq!(
        config.settings_from,
        [
            (kelp_file.clone(), vec!["model", "mcp_servers"]),
            (
                codex_file.clone(),
                vec![
                    "model_reasoning_effort",
                    "approval_policy",
                    "sandbox_mode",
                    "sandbox_workspace_write.network_access",
                    "web_search",
                    "mcp_servers",
                    "model_providers",
                    "projects"
                ]
            )
        ]
    );

    // A profile only Codex's file has; its bad value is named in Codex's file.
    let deep = Overrides {
        profile: Some("deep".into()),
        ..Overrides::default()
    };
    let (config, warnings) = Config::load_with(env(&vars), &deep).unwrap();
    assert_eq!(config.reasoning_effort.as_deref(), Some("xhigh"));
    let said: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].contains("codex-home/config.toml") && said[0].contains("`sandbox_mode`"),
        "{said:?}"
    );
    let missing = Overrides {
        profile: Some("nowhere".into()),
        ..Overrides::default()
    };
    assert!(Config::load_with(env(&vars), &missing).is_err());

    // A provider Codex's file chooses that kelp cannot use is refused naming that file.
    std::fs::write(
        &codex_file,
        "model_provider = \"legacy\"\n[model_providers.legacy]\nname = \"Legacy\"\n\
         base_url = \"http://127.0.0.1:9/v1\"\nwire_api = \"chat\"\n",
    )
    .unwrap();
    let refused = Config::load_with(env(&vars), &Overrides::default()).unwrap_err();
    let said = refused.to_string();
    assert!(
        said.starts_with(&format!("{}: ", codex_file.display())) && said.contains("chat"),
        "{said}"
    );
}

/// A profile chooses the provider and the web search, as Codex's profiles do; without it the
/// file's top level holds.
#[test]
fn a_profile_chooses_the_provider_and_the_web_search() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".config/kelp");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        "web_search = \"disabled\"\n\
         [model_providers.gateway]\nname = \"Gateway\"\nbase_url = \"http://127.0.0.1:9/v1\"\n\
         [profiles.gw]\nmodel_provider = \"gateway\"\nweb_search = \"cached\"\n",
    )
    .unwrap();
    let home_text = home.path().to_str().unwrap().to_string();
    let vars = [("HOME", home_text.as_str())];
    let (plain, _) = Config::load_with(env(&vars), &Overrides::default()).unwrap();
    assert_eq!(plain.model_provider.id, "openai");
    assert_eq!(plain.web_search, Some(kelp::config::WebSearch::Disabled));
    let gw = Overrides {
        profile: Some("gw".into()),
        ..Overrides::default()
    };
    let (profiled, warnings) = Config::load_with(env(&vars), &gw).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(profiled.model_provider.id, "gateway");
    assert_eq!(profiled.model_provider.name, "Gateway");
    assert_eq!(profiled.web_search, Some(kelp::config::WebSearch::Cached));
}

/// `network = "domains"` and its lists: the file's, a profile's, `-c`'s over them, and the
/// package registries when nothing names any; `KELP_NETWORK=domains` and a bad value said.
#[test]
fn the_domains_a_command_may_reach_come_from_the_file_a_profile_and_c() {
    let path = Path::new("/home/ana/.config/kelp/config.toml");
    let home = [("HOME", "/home/ana")];
    let file = r#"
network = "domains"
allowed_domains = ["crates.io", "*.crates.io"]
denied_domains = ["evil.example"]

[profiles.python]
allowed_domains = ["pypi.org", "files.pythonhosted.org"]
"#;
    let (config, warnings) =
        Config::from_sources(env(&home), Some((path, file)), &Overrides::default()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(config.network_domains && !config.network);
    assert_eq!(config.allowed_domains, ["crates.io", "*.crates.io"]);
    assert_eq!(config.denied_domains, ["evil.example"]);

    let mut profiled = Overrides {
        profile: Some("python".into()),
        ..Overrides::default()
    };
    let (config, _) = Config::from_sources(env(&home), Some((path, file)), &profiled).unwrap();
    assert_eq!(
        config.allowed_domains,
        ["pypi.org", "files.pythonhosted.org"]
    );
    profiled
        .set_codex(r#"allowed_domains=["localhost:4873"]"#)
        .unwrap();
    let (config, _) = Config::from_sources(env(&home), Some((path, file)), &profiled).unwrap();
    assert_eq!(config.allowed_domains, ["localhost:4873"]);
    assert_eq!(config.denied_domains, ["evil.example"]);

    let by_env = [("HOME", "/home/ana"), ("KELP_NETWORK", "domains")];
    let (config, _) = Config::from_sources(env(&by_env), None, &Overrides::default()).unwrap();
    assert!(config.network_domains);
    assert!(
        config
            .allowed_domains
            .iter()
            .any(|d| d == "registry.npmjs.org")
    );
    let bad = [("HOME", "/home/ana"), ("KELP_NETWORK", "some")];
    let err = Config::from_sources(env(&bad), None, &Overrides::default()).unwrap_err();
    assert!(err.to_string().contains("not on, off or domains"), "{err}");
}

/// `tui = "scrollback"` (kelp's shorthand) becomes the table it stands for when a `[tui]`
/// setting is saved beside it: the screen stays as it was and the new key is kept.
#[test]
fn a_tui_setting_saved_beside_the_shorthand_keeps_the_screen_it_chose() {
    let dir = tempfile::tempdir().unwrap();
    let config_dir = dir.path().join("kelp");
    std::fs::create_dir_all(&config_dir).unwrap();
    let path = config_dir.join("config.toml");
    std::fs::write(&path, "model = \"m\"\ntui = \"scrollback\"\n").unwrap();
    save_setting(
        &config_dir,
        &Setting::SyntaxTheme(Some("solarized-light".into())),
    )
    .unwrap();
    let saved = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        saved,
        "model = \"m\"\n\n[tui]\nalternate_screen = \"never\"\ntheme = \"solarized-light\"\n"
    );
    let config_home = dir.path().to_string_lossy().into_owned();
    let vars = [("HOME", "/h"), ("XDG_CONFIG_HOME", config_home.as_str())];
    let (config, warnings) = Config::load_with(env(&vars), &Overrides::default()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(config.surfaces.alternate_screen, Some(false));
    assert_eq!(config.surfaces.theme.as_deref(), Some("solarized-light"));
}

/// `kelp features` as Codex's: the flags kelp acts on with their stage and state (this command
/// line's flags over the file), one turned on in kelp's `config.toml` keeping the rest of it,
/// and a flag kelp lacks refused in words.
#[test]
fn features_are_listed_and_turned_on_and_off_in_the_config_file() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".config/kelp");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), "# mine\nmodel = \"m\"\n").unwrap();
    let run = |args: &[&str]| {
        let out = kelp(home.path()).args(args).output().unwrap();
        let said = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        (out.status.code(), said(&out.stdout), said(&out.stderr))
    };
    let (code, listed, _) = run(&["features", "list"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        listed,
        "multi_agent_v2  stable  false\nunified_exec    stable  true\n"
    );
    let (code, said, _) = run(&["features", "enable", "multi_agent_v2"]);
    assert_eq!(code, Some(0));
    assert_eq!(said, "Enabled feature `multi_agent_v2` in config.toml.\n");
    let (_, said, _) = run(&["features", "disable", "unified_exec"]);
    assert_eq!(said, "Disabled feature `unified_exec` in config.toml.\n");
    let text = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(text.starts_with("# mine\nmodel = \"m\"\n"), "{text}");
    assert!(
        text.contains("[features]\nmulti_agent_v2 = true\nunified_exec = false\n"),
        "{text}"
    );
    let (_, listed, _) = run(&["features", "list"]);
    assert_eq!(
        listed,
        "multi_agent_v2  stable  true\nunified_exec    stable  false\n"
    );
    let (_, listed, _) = run(&["--enable", "unified_exec", "features", "list"]);
    assert!(listed.contains("unified_exec    stable  true"), "{listed}");
    let (code, out, err) = run(&["features", "enable", "js_repl"]);
    assert_eq!(code, Some(1));
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("Unknown feature flag: js_repl; kelp has multi_agent_v2 and unified_exec"),
        "{err}"
    );
}

/// `--strict-config`, as Codex 0.171's: a key kelp does not know stops the command, named with
/// its place, instead of a warning it goes on after.
#[test]
fn strict_config_refuses_a_key_kelp_does_not_know() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".config/kelp");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), "model = \"m\"\nmodle = \"x\"\n").unwrap();
    let lenient = kelp(home.path())
        .args(["features", "list"])
        .output()
        .unwrap();
    assert!(lenient.status.success(), "{}", shown(&lenient));
    assert!(
        String::from_utf8_lossy(&lenient.stderr).contains("unknown key `modle` is ignored"),
        "{}",
        shown(&lenient)
    );
    let strict = kelp(home.path())
        .args(["--strict-config", "features", "list"])
        .output()
        .unwrap();
    assert_eq!(strict.status.code(), Some(1), "{}", shown(&strict));
    assert!(strict.stdout.is_empty(), "{}", shown(&strict));
    let said = String::from_utf8_lossy(&strict.stderr);
    assert!(
        said.contains("config.toml:2:1: unknown configuration field `modle` (--strict-config)"),
        "{said}"
    );
    std::fs::write(dir.join("config.toml"), "model = \"m\"\n").unwrap();
    let clean = kelp(home.path())
        .args(["--strict-config", "features", "list"])
        .output()
        .unwrap();
    assert!(clean.status.success(), "{}", shown(&clean));
}
