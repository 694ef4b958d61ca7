//! `kelp mcp`, as Codex's: add, list, get and remove the MCP servers of kelp's config file.
//! The list is every server kelp starts (kelp's file, then Codex's below it); only kelp's own
//! file is ever written.

use std::process::ExitCode;

use kelp::config::edit::{Edit, edit_file};
use kelp::config::{Config, McpServerConfig, McpTransport};
use serde_json::{Value, json};
use toml_edit::{Array, InlineTable, Item, Table};

use super::common::{exit, fail};

/// What `kelp mcp` was asked to do.
#[derive(Debug, clap::Subcommand)]
pub enum McpCommand {
    /// Add a server to kelp's config file: a program kelp starts (`kelp mcp add docs --
    /// docs-mcp --stdio`), or one at a URL (`--url https://…/mcp`).
    Add(AddArgs),
    /// List the servers kelp starts, from kelp's config file and Codex's.
    List {
        /// One JSON array instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Show one server's settings.
    Get {
        name: String,
        /// One JSON object instead of the lines.
        #[arg(long)]
        json: bool,
    },
    /// Remove a server from kelp's config file.
    Remove { name: String },
    /// Sign in to a server over HTTP with OAuth: prints the page to open (and opens it on a
    /// desktop); the tokens are kept in mcp-auth.json beside auth.json, never in config.toml.
    Login {
        name: String,
        /// OAuth scopes to ask for, comma-separated (else the server entry's `scopes`, else
        /// the server's own).
        #[arg(long, value_delimiter = ',')]
        scopes: Option<Vec<String>>,
    },
    /// Forget a server's OAuth login.
    Logout { name: String },
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The server's name: the prefix of its tools' names.
    name: String,
    /// A variable set for a program the server is (repeatable).
    #[arg(long, value_name = "KEY=VALUE", conflicts_with = "url")]
    env: Vec<String>,
    /// The server's URL (streamable HTTP), instead of a program.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// With --url: the variable that holds the bearer token to send.
    #[arg(long, value_name = "VAR", requires = "url")]
    bearer_token_env_var: Option<String>,
    /// The program and its arguments, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// Runs `kelp mcp …`.
pub fn mcp(config: &Config, command: McpCommand) -> ExitCode {
    match command {
        McpCommand::Add(args) => add(config, args),
        McpCommand::List { json } => list(config, json),
        McpCommand::Get { name, json } => get(config, &name, json),
        McpCommand::Remove { name } => remove(config, &name),
        McpCommand::Login { name, scopes } => login(config, &name, scopes),
        McpCommand::Logout { name } => logout(config, &name),
    }
}

fn kelp_file(config: &Config) -> String {
    kelp::humanize::home_path(&config.config_dir.join(kelp::config::file::FILE_NAME))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn add(config: &Config, args: AddArgs) -> ExitCode {
    if !valid_name(&args.name) {
        return fail(
            exit::USAGE,
            &format!(
                "{:?} is not a server name: letters, digits, - and _ only",
                args.name
            ),
        );
    }
    let mut table = Table::new();
    match (&args.url, args.command.split_first()) {
        (Some(_), Some(_)) => {
            return fail(
                exit::USAGE,
                "give the server a program (after --) or a --url, not both",
            );
        }
        (None, None) => {
            return fail(
                exit::USAGE,
                "give the server a program (`kelp mcp add NAME -- COMMAND ARGS…`) or a --url",
            );
        }
        (Some(url), None) => {
            if let Err(why) = kelp::config::check_endpoint(url) {
                return fail(exit::USAGE, &format!("--url {url}: {why}"));
            }
            table.insert("url", toml_edit::value(url.as_str()));
            if let Some(var) = &args.bearer_token_env_var {
                table.insert("bearer_token_env_var", toml_edit::value(var.as_str()));
            }
        }
        (None, Some((program, rest))) => {
            table.insert("command", toml_edit::value(program.as_str()));
            if !rest.is_empty() {
                let mut list = Array::new();
                for arg in rest {
                    list.push(arg.as_str());
                }
                table.insert("args", toml_edit::value(list));
            }
            if !args.env.is_empty() {
                let mut env = InlineTable::new();
                for pair in &args.env {
                    let Some((key, value)) = pair.split_once('=') else {
                        return fail(exit::USAGE, &format!("--env {pair}: expected KEY=VALUE"));
                    };
                    env.insert(key.trim(), value.into());
                }
                table.insert("env", toml_edit::value(env));
            }
        }
    }
    let replaced = config.mcp_servers.iter().any(|s| s.name == args.name);
    let edit = Edit {
        path: vec!["mcp_servers".into(), args.name.clone()],
        value: Some(Item::Table(table)),
        merge: false,
    };
    match edit_file(&config.config_dir, &[edit], None) {
        Ok(_) => {
            let verb = if replaced { "Replaced" } else { "Added" };
            println!(
                "{verb} MCP server `{}` in {}; it starts with the next session.",
                args.name,
                kelp_file(config)
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(exit::FAILURE, &e.to_string()),
    }
}

/// How `server` is signed in to, in Codex's words.
fn auth_of(config: &Config, server: &McpServerConfig) -> kelp::mcp::oauth::AuthWords {
    let store = kelp::mcp::oauth::store_path(&config.auth_file);
    kelp::mcp::oauth::auth_state(server, Some(&store)).as_codex_says()
}

/// A server as Codex's `mcp list --json` shows it. Values of variables and headers are left
/// out: they may be secrets.
fn to_json(config: &Config, server: &McpServerConfig) -> Value {
    let transport = match &server.transport {
        McpTransport::Stdio {
            command,
            args,
            env,
            env_vars,
            cwd,
        } => json!({
            "type": "stdio",
            "command": command,
            "args": args,
            "env": env.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            "env_vars": env_vars,
            "cwd": cwd,
        }),
        McpTransport::Http {
            url,
            headers,
            env_headers,
            bearer_token_env_var,
        } => json!({
            "type": "streamable_http",
            "url": url,
            "bearer_token_env_var": bearer_token_env_var,
            "http_headers": headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            "env_http_headers": env_headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
        }),
    };
    json!({
        "name": server.name,
        "enabled": server.enabled,
        "transport": transport,
        "startup_timeout_sec": server.startup_timeout.as_secs_f64(),
        "tool_timeout_sec": server.tool_timeout.as_secs_f64(),
        "enabled_tools": server.enabled_tools,
        "disabled_tools": server.disabled_tools,
        "approved_tools": server.approved_tools,
        "auth_status": auth_of(config, server).json,
    })
}

fn list(config: &Config, as_json: bool) -> ExitCode {
    if as_json {
        let all: Vec<Value> = config
            .mcp_servers
            .iter()
            .map(|server| to_json(config, server))
            .collect();
        super::common::say(&Value::Array(all).to_string());
        return ExitCode::SUCCESS;
    }
    if config.mcp_servers.is_empty() {
        super::common::say(&format!(
            "No MCP servers. Add one with `kelp mcp add NAME -- COMMAND ARGS…` (or --url URL); \
             they are kept in {}.",
            kelp_file(config)
        ));
        return ExitCode::SUCCESS;
    }
    let width = config
        .mcp_servers
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    super::common::say(&format!(
        "{:<width$}  {:<8}  {:<13}  COMMAND OR URL",
        "NAME", "STATUS", "AUTH"
    ));
    for server in &config.mcp_servers {
        let status = if server.enabled {
            "enabled"
        } else {
            "disabled"
        };
        super::common::say(&format!(
            "{:<width$}  {status:<8}  {:<13}  {}",
            server.name,
            auth_of(config, server).label,
            kelp::mcp::endpoint(&server.transport)
        ));
    }
    ExitCode::SUCCESS
}

fn get(config: &Config, name: &str, as_json: bool) -> ExitCode {
    let Some(server) = config.mcp_servers.iter().find(|s| s.name == name) else {
        return fail(
            exit::FAILURE,
            &format!("no MCP server `{name}` (`kelp mcp list` lists them)"),
        );
    };
    if as_json {
        super::common::say(&to_json(config, server).to_string());
        return ExitCode::SUCCESS;
    }
    let facts = to_json(config, server);
    super::common::say(&server.name);
    super::common::say(&format!("  enabled: {}", server.enabled));
    super::common::say(&format!("  auth: {}", auth_of(config, server).label));
    if let Some(transport) = facts["transport"].as_object() {
        for (key, value) in transport {
            if value.is_null() || value.as_array().is_some_and(Vec::is_empty) {
                continue;
            }
            let shown = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            super::common::say(&format!("  {key}: {shown}"));
        }
    }
    super::common::say(&format!(
        "  startup timeout: {} s, tool timeout: {} s",
        server.startup_timeout.as_secs_f64(),
        server.tool_timeout.as_secs_f64()
    ));
    ExitCode::SUCCESS
}

fn remove(config: &Config, name: &str) -> ExitCode {
    let path = config.config_dir.join(kelp::config::file::FILE_NAME);
    let in_kelps = config
        .settings_from
        .iter()
        .find(|(file, _)| *file == path)
        .is_some_and(|_| server_in_file(&path, name));
    if !in_kelps {
        let elsewhere = config.mcp_servers.iter().any(|s| s.name == name);
        return fail(
            exit::FAILURE,
            &if elsewhere {
                format!(
                    "MCP server `{name}` is in Codex's config file, which kelp does not write: \
                     remove it there"
                )
            } else {
                format!("no MCP server `{name}` in {}", kelp_file(config))
            },
        );
    }
    let edit = Edit {
        path: vec!["mcp_servers".into(), name.to_string()],
        value: None,
        merge: false,
    };
    match edit_file(&config.config_dir, &[edit], None) {
        Ok(_) => {
            println!("Removed MCP server `{name}` from {}.", kelp_file(config));
            ExitCode::SUCCESS
        }
        Err(e) => fail(exit::FAILURE, &e.to_string()),
    }
}

fn login(config: &Config, name: &str, scopes: Option<Vec<String>>) -> ExitCode {
    use kelp::config::mcp::{NoSignIn, no_sign_in_message, sign_in_target};
    let (url, scopes) = match sign_in_target(&config.mcp_servers, name, scopes) {
        Ok(target) => target,
        Err(why) => {
            let code = match why {
                NoSignIn::Program => exit::USAGE,
                NoSignIn::Unknown => exit::FAILURE,
            };
            return fail(
                code,
                &no_sign_in_message(why, name, "(`kelp mcp list` lists them)"),
            );
        }
    };
    let runtime = match super::common::runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let http = match kelp::llm::client::http_client() {
        Ok(http) => http,
        Err(e) => return fail(exit::FAILURE, &format!("cannot set up HTTP: {e}")),
    };
    let store = kelp::mcp::oauth::store_path(&config.auth_file);
    let done = runtime.block_on(async {
        let pending = kelp::mcp::oauth::begin(&http, &url, &scopes).await?;
        println!("Sign in to MCP server `{name}`: open this page in a browser on this machine:\n");
        println!("  {}\n", pending.authorize_url);
        if kelp::auth::browser::opens_here() {
            let _ = webbrowser::open(&pending.authorize_url);
        }
        println!(
            "Waiting for the sign-in (at most {} minutes; Ctrl+C to stop)…",
            kelp::mcp::oauth::LOGIN_TIMEOUT.as_secs() / 60
        );
        tokio::select! {
            done = pending.finish(&http, &store, name) => done,
            _ = kelp::task::stop_requested() => Err("stopped".to_string()),
        }
    });
    match done {
        Ok(()) => {
            println!(
                "Signed in to MCP server `{name}`; the login is kept in {}.",
                kelp::humanize::home_path(&store)
            );
            ExitCode::SUCCESS
        }
        Err(why) => fail(exit::AUTH, &format!("MCP server `{name}`: {why}")),
    }
}

fn logout(config: &Config, name: &str) -> ExitCode {
    let store = kelp::mcp::oauth::store_path(&config.auth_file);
    match kelp::mcp::oauth::logout(&store, name) {
        Ok(true) => {
            println!("Signed out of MCP server `{name}`.");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            println!("No login of MCP server `{name}` was kept; nothing to sign out.");
            ExitCode::SUCCESS
        }
        Err(e) => fail(exit::FAILURE, &e),
    }
}

/// Whether kelp's file at `path` has a `[mcp_servers.NAME]` table.
fn server_in_file(path: &std::path::Path, name: &str) -> bool {
    kelp::config::file::read(path)
        .ok()
        .flatten()
        .and_then(|text| text.parse::<toml_edit::DocumentMut>().ok())
        .is_some_and(|doc| {
            doc.get("mcp_servers")
                .and_then(|servers| servers.get(name))
                .is_some()
        })
}
