//! `kelp doctor [--json]`: everything a bug report needs, in one look: the binary, the login
//! (never a token), the config files and what is wrong in them, the sandbox's layers, the
//! terminal, each MCP server, and whether each endpoint answers. Exit 0 when all is well.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kelp::auth::{Accounts, SignedIn};
use kelp::config::Config;
use kelp::mcp::McpManager;
use kelp::protocol::SandboxMode;
use kelp::protocol::ServerState;
use kelp::sandbox::{self, SandboxPolicy};
use serde_json::{Value, json};

/// How long an endpoint may take to answer before it counts as not answering.
const ENDPOINT_TIMEOUT: Duration = Duration::from_secs(3);

/// One part of the report: whether it is well, a line for a person, and the facts for a
/// script.
struct Part {
    name: &'static str,
    ok: bool,
    said: Vec<String>,
    facts: Value,
}

/// Runs the checks for `project_dir`; `warnings` are the config's, as read at start.
pub fn doctor(config: &Config, project_dir: &Path, warnings: &[String], json: bool) -> ExitCode {
    let runtime = match super::common::runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let parts = vec![
        binary(),
        login(config),
        config_files(config, warnings),
        sandbox_layers(config, project_dir),
        terminal(),
        runtime.block_on(mcp_servers(config, project_dir)),
        runtime.block_on(endpoints(config)),
    ];
    let well = parts.iter().all(|part| part.ok);
    if json {
        let mut object = serde_json::Map::new();
        object.insert("ok".into(), json!(well));
        for part in &parts {
            let mut facts = part.facts.clone();
            if let Some(map) = facts.as_object_mut() {
                map.insert("ok".into(), json!(part.ok));
            }
            object.insert(part.name.into(), facts);
        }
        super::common::say(&kelp::terminal_text::json_without_c1(
            Value::Object(object).to_string(),
        ));
    } else {
        for part in &parts {
            let mark = if part.ok { "✓" } else { "✗" };
            let mut lines = part.said.iter();
            if let Some(first) = lines.next() {
                super::common::say(&format!("{mark} {:<9} {first}", part.name));
            }
            for line in lines {
                super::common::say(&format!("  {:<9} {line}", ""));
            }
        }
        super::common::say(if well {
            "All is well."
        } else {
            "Something needs a look (✗ above)."
        });
    }
    ExitCode::from(if well { 0 } else { 1 })
}

fn binary() -> Part {
    let path = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let version = env!("CARGO_PKG_VERSION");
    Part {
        name: "kelp",
        ok: true,
        said: vec![format!(
            "{version} at {path} ({} {})",
            std::env::consts::OS,
            std::env::consts::ARCH
        )],
        facts: json!({ "version": version, "binary": path, "os": std::env::consts::OS, "arch": std::env::consts::ARCH }),
    }
}

fn login(config: &Config) -> Part {
    let provider = &config.model_provider;
    let own_key = !provider.requires_openai_auth;
    let provider_facts = json!({
        "id": provider.id,
        "name": provider.name,
        "base_url": provider.base_url,
        "env_key": provider.env_key,
    });
    let set = |var: &str| std::env::var_os(var).is_some_and(|v| !v.is_empty());
    if own_key {
        let missing = provider.env_key.as_deref().filter(|var| !set(var));
        return Part {
            name: "login",
            ok: missing.is_none(),
            said: vec![format!("not needed: {}", provider.describe(set))],
            facts: json!({ "kind": "provider", "provider": provider_facts }),
        };
    }
    let http = match kelp::llm::client::http_client() {
        Ok(http) => http,
        Err(e) => return failed_part("login", format!("cannot set up HTTP: {e}")),
    };
    let accounts: Accounts =
        Accounts::from_config(config, http, std::env::var("OPENAI_API_KEY").ok(), None);
    let (ok, said, facts) = match accounts.signed_in_now() {
        Ok(Some(SignedIn::ChatGpt(login))) => {
            let expires = login
                .expires_at
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let fresh = login.expires_at > SystemTime::now();
            let account = &login.account;
            (
                true,
                format!(
                    "ChatGPT {}{}; its token {} (refreshed by itself)",
                    account.email.as_deref().unwrap_or("account"),
                    account
                        .plan
                        .as_deref()
                        .map(|plan| format!(" ({plan})"))
                        .unwrap_or_default(),
                    if fresh { "is fresh" } else { "has expired" }
                ),
                json!({
                    "kind": "chatgpt",
                    "email": account.email,
                    "plan": account.plan,
                    "account_id": account.account_id,
                    "expires_at": expires,
                }),
            )
        }
        Ok(Some(SignedIn::HostTokens(account))) => (
            true,
            "ChatGPT tokens a host handed in".to_string(),
            json!({ "kind": "host_tokens", "email": account.email }),
        ),
        Ok(Some(SignedIn::ApiKey { masked, source })) => {
            let (from, said) = match source {
                kelp::auth::CredentialSource::AuthFile => ("auth_file", "the auth file"),
                kelp::auth::CredentialSource::Environment => ("OPENAI_API_KEY", "OPENAI_API_KEY"),
            };
            (
                true,
                format!("API key {masked} from {said}"),
                json!({ "kind": "api_key", "key": masked, "source": from }),
            )
        }
        Ok(None) => (
            false,
            "not signed in: run `kelp login`, or set OPENAI_API_KEY".to_string(),
            json!({ "kind": "none" }),
        ),
        Err(e) => (
            false,
            e.to_string(),
            json!({ "kind": "unknown", "error": e.to_string() }),
        ),
    };
    let mut facts = facts;
    facts["auth_file"] = json!(config.auth_file);
    facts["provider"] = provider_facts;
    let mut said = vec![said];
    if !provider.is_openai() {
        said.push(format!("for {}", provider.describe(set)));
    }
    Part {
        name: "login",
        ok,
        said,
        facts,
    }
}

fn config_files(config: &Config, warnings: &[String]) -> Part {
    let kelp_file = config.config_dir.join(kelp::config::file::FILE_NAME);
    let mut files = vec![kelp_file];
    files.extend(kelp::config::codex_config_path());
    for (path, _) in &config.settings_from {
        if !files.contains(path) {
            files.push(path.clone());
        }
    }
    let listed: Vec<Value> = files
        .iter()
        .map(|path| {
            let settings = config
                .settings_from
                .iter()
                .find(|(from, _)| from == path)
                .map(|(_, keys)| keys.clone())
                .unwrap_or_default();
            json!({ "path": path, "exists": path.exists(), "settings": settings })
        })
        .collect();
    let mut said: Vec<String> = files
        .iter()
        .map(|path| {
            let home_path = kelp::humanize::home_path(path);
            match config.settings_from.iter().find(|(from, _)| from == path) {
                Some((_, keys)) => format!("{home_path}: {}", keys.join(", ")),
                None if path.exists() => format!("{home_path}: read"),
                None => format!("{home_path}: none"),
            }
        })
        .collect();
    said.extend(warnings.iter().map(|w| w.trim().to_string()));
    Part {
        name: "config",
        ok: warnings.is_empty(),
        said,
        facts: json!({ "files": listed, "warnings": warnings }),
    }
}

fn sandbox_layers(config: &Config, project_dir: &Path) -> Part {
    let policy = SandboxPolicy::for_project(config, project_dir);
    let support = sandbox::support();
    let layer = |result: Result<String, &String>| match result {
        Ok(on) => on,
        Err(why) => format!("missing: {why}"),
    };
    let namespaces = layer(support.namespaces.as_ref().map(|()| "on".to_string()));
    let landlock = layer(support.landlock.as_ref().map(|abi| format!("ABI {abi}")));
    let seccomp = layer(support.seccomp.as_ref().map(|()| "on".to_string()));
    let complete = policy.mode == SandboxMode::Off
        || (support.namespaces.is_ok() && support.landlock.is_ok() && support.seccomp.is_ok());
    Part {
        name: "sandbox",
        ok: complete,
        said: vec![
            policy.describe(),
            format!("namespaces {namespaces}; Landlock {landlock}; seccomp {seccomp}"),
            "`kelp sandbox check` runs a command in it".to_string(),
        ],
        facts: json!({
            "mode": policy.mode.as_str(),
            "network": match (policy.network, &policy.domains) {
                (true, _) => "on",
                (false, Some(_)) => "domains",
                (false, None) => "off",
            },
            "allowed_domains": policy.domains.as_ref().map(|_| &config.allowed_domains),
            "denied_domains": policy.domains.as_ref().map(|_| &config.denied_domains),
            "namespaces": namespaces,
            "landlock": landlock,
            "seccomp": seccomp,
        }),
    }
}

fn terminal() -> Part {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let size = crossterm::terminal::size().ok();
    let ssh = var("SSH_CONNECTION").is_some() || var("SSH_TTY").is_some();
    let tmux = var("TMUX").is_some();
    let term = var("TERM").unwrap_or_else(|| "unset".into());
    let mut said = format!("TERM={term}");
    if let Some((columns, rows)) = size {
        said.push_str(&format!(", {columns}×{rows}"));
    }
    if tmux {
        said.push_str(", in tmux");
    }
    if ssh {
        said.push_str(", over SSH");
    }
    if !std::io::stdout().is_terminal() {
        said.push_str(", stdout is not a terminal");
    }
    Part {
        name: "terminal",
        ok: true,
        said: vec![said],
        facts: json!({
            "term": term,
            "term_program": var("TERM_PROGRAM"),
            "columns": size.map(|s| s.0),
            "rows": size.map(|s| s.1),
            "tmux": tmux,
            "ssh": ssh,
        }),
    }
}

async fn mcp_servers(config: &Config, project_dir: &Path) -> Part {
    if config.mcp_servers.is_empty() {
        return Part {
            name: "mcp",
            ok: true,
            said: vec!["no servers configured".to_string()],
            facts: json!({ "servers": [] }),
        };
    }
    let http = match kelp::llm::client::http_client() {
        Ok(http) => http,
        Err(e) => return failed_part("mcp", format!("cannot set up HTTP: {e}")),
    };
    let manager = McpManager::start(
        config.mcp_servers.clone(),
        http,
        project_dir.to_path_buf(),
        Some(kelp::mcp::oauth::store_path(&config.auth_file)),
        |_| {},
    );
    // Each server within its own startup timeout.
    let _ = manager.tools().await;
    let statuses = manager.statuses();
    let mut ok = true;
    let mut said = Vec::new();
    let mut servers = Vec::new();
    for status in &statuses {
        let (state, line) = match &status.state {
            ServerState::Ready { tools } => (
                json!({ "state": "ready", "tools": tools }),
                format!("{}: ready, {} tools", status.name, tools.len()),
            ),
            ServerState::Disabled => (
                json!({ "state": "disabled" }),
                format!("{}: disabled", status.name),
            ),
            ServerState::Starting => {
                ok = false;
                (
                    json!({ "state": "starting" }),
                    format!("{}: still starting", status.name),
                )
            }
            ServerState::Failed { reason } => {
                ok = false;
                (
                    json!({ "state": "failed", "reason": reason }),
                    format!("{}: failed: {reason}", status.name),
                )
            }
        };
        let auth = auth_of(config, &status.name);
        let mut entry = json!({ "name": status.name, "endpoint": status.endpoint, "auth": auth });
        if let (Some(entry), Some(state)) = (entry.as_object_mut(), state.as_object()) {
            entry.extend(state.clone());
        }
        servers.push(entry);
        said.push(line);
    }
    Part {
        name: "mcp",
        ok,
        said,
        facts: json!({ "servers": servers }),
    }
}

/// How server `name` is signed in to: `oauth` (a kept login), `bearer_token` (a variable's),
/// `none`, or `unsupported` (a program kelp starts).
fn auth_of(config: &Config, name: &str) -> &'static str {
    use kelp::mcp::oauth::{self, AuthState};
    let Some(server) = config.mcp_servers.iter().find(|s| s.name == name) else {
        return "none";
    };
    let store = oauth::store_path(&config.auth_file);
    match oauth::auth_state(server, Some(&store)) {
        AuthState::Unsupported => "unsupported",
        AuthState::BearerToken => "bearer_token",
        AuthState::OAuth => "oauth",
        AuthState::None => "none",
    }
}

/// Whether each endpoint kelp talks to answers at all (any HTTP answer counts).
async fn endpoints(config: &Config) -> Part {
    let provider = &config.model_provider;
    let mut wanted: Vec<(&str, String)> = Vec::new();
    match &provider.base_url {
        Some(base) => wanted.push(("model provider", base.clone())),
        None => {
            wanted.push(("OpenAI API", config.openai_base_url.clone()));
            wanted.push(("Codex backend", config.codex_base_url.clone()));
        }
    }
    if provider.requires_openai_auth {
        wanted.push(("sign-in", config.auth_issuer.clone()));
    }
    let http = match kelp::llm::client::http_client() {
        Ok(http) => http,
        Err(e) => return failed_part("network", format!("cannot set up HTTP: {e}")),
    };
    let asked = wanted.iter().map(|(name, url)| {
        let http = http.clone();
        async move {
            let started = Instant::now();
            let answer = http.get(url).timeout(ENDPOINT_TIMEOUT).send().await;
            let ms = started.elapsed().as_millis();
            match answer {
                Ok(response) => (
                    true,
                    format!("{name}: {url} answers (HTTP {}, {ms} ms)", response.status().as_u16()),
                    json!({ "name": name, "url": url, "ok": true, "status": response.status().as_u16(), "ms": ms }),
                ),
                Err(e) => {
                    let why = if e.is_timeout() {
                        format!("no answer in {} s", ENDPOINT_TIMEOUT.as_secs())
                    } else {
                        kelp::llm::error::network_words(&e).to_string()
                    };
                    (
                        false,
                        format!("{name}: {url}: {why}"),
                        json!({ "name": name, "url": url, "ok": false, "error": why }),
                    )
                }
            }
        }
    });
    let answers = futures_util::future::join_all(asked).await;
    Part {
        name: "network",
        ok: answers.iter().all(|(ok, _, _)| *ok),
        said: answers.iter().map(|(_, line, _)| line.clone()).collect(),
        facts: json!({ "endpoints": answers.into_iter().map(|(_, _, facts)| facts).collect::<Vec<_>>() }),
    }
}

fn failed_part(name: &'static str, why: String) -> Part {
    Part {
        name,
        ok: false,
        said: vec![why.clone()],
        facts: json!({ "error": why }),
    }
}
