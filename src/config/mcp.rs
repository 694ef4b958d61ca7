//! `[mcp_servers.NAME]` tables: the Model Context Protocol servers whose tools the model may
//! use, in the shape Codex users know.
//!
//! ```toml
//! [mcp_servers.docs]
//! command = "docs-mcp"          # a stdio server: command, args, env, cwd
//! args = ["--stdio"]
//! env = { DOCS_DIR = "/srv/docs" }  # set for the server
//! env_vars = ["DOCS_TOKEN"]          # passed on from kelp's environment
//!
//! [mcp_servers.tracker]
//! url = "https://mcp.example.com/mcp"   # a streamable HTTP server
//! bearer_token_env_var = "TRACKER_TOKEN"
//! http_headers = { "X-Team" = "core" }
//! ```
//!
//! Every server may also set `enabled`, `startup_timeout_sec`, `tool_timeout_sec`,
//! `enabled_tools` (only these are offered), `disabled_tools` (never offered) and
//! `approved_tools` (run without asking). As everywhere in the file, nothing here stops kelp
//! from starting: a bad entry is a warning with its line and column, and the server (or the
//! key) is left out.

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml_edit::{Item, Value};

use super::warning::{ConfigWarning, expand_home};

/// The table that holds the servers.
pub const KEY: &str = "mcp_servers";

/// How long a server may take to start and list its tools, unless it says otherwise.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one tool call may take, unless the server's entry says otherwise.
pub const DEFAULT_TOOL_TIMEOUT: Duration = Duration::from_secs(60);

/// One MCP server, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpServerConfig {
    /// The table's name: the prefix of its tools' names (`NAME__tool`).
    pub name: String,
    /// How kelp reaches it.
    pub transport: McpTransport,
    /// `false` keeps the entry without starting the server.
    pub enabled: bool,
    /// How long starting and listing the tools may take.
    pub startup_timeout: Duration,
    /// How long one call may take.
    pub tool_timeout: Duration,
    /// When set, only these tools are offered to the model.
    pub enabled_tools: Option<Vec<String>>,
    /// These tools are never offered.
    pub disabled_tools: Vec<String>,
    /// These tools run without asking, as read-only ones do.
    pub approved_tools: Vec<String>,
    /// The OAuth scopes `kelp mcp login` asks for (Codex's `scopes`); none: the server's own.
    pub scopes: Vec<String>,
    /// A turn fails, saying why, while this server cannot start (Codex's `required`).
    pub required: bool,
}

/// How a server is reached.
#[derive(Clone, PartialEq, Eq)]
pub enum McpTransport {
    /// A program kelp starts, speaking JSON-RPC on its stdin and stdout.
    Stdio {
        command: String,
        args: Vec<String>,
        /// Set for the server, beside the few variables every server gets.
        env: Vec<(String, String)>,
        /// Variables of kelp's environment passed on by name (Codex's `env_vars`).
        env_vars: Vec<String>,
        /// Where it runs; the project directory when absent.
        cwd: Option<PathBuf>,
    },
    /// A server at a URL, over streamable HTTP.
    Http {
        url: String,
        /// Sent with every request.
        headers: Vec<(String, String)>,
        /// Headers whose values come from environment variables (name → variable).
        env_headers: Vec<(String, String)>,
        /// The environment variable holding a bearer token.
        bearer_token_env_var: Option<String>,
    },
}

impl std::fmt::Debug for McpTransport {
    // Environment values and header values may be secrets: only their names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |pairs: &Vec<(String, String)>| {
            pairs.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>()
        };
        match self {
            Self::Stdio {
                command,
                args,
                env,
                env_vars,
                cwd,
            } => f
                .debug_struct("Stdio")
                .field("command", command)
                .field("args", args)
                .field("env_vars", env_vars)
                .field("env", &names(env))
                .field("cwd", cwd)
                .finish(),
            Self::Http {
                url,
                headers,
                env_headers,
                bearer_token_env_var,
            } => f
                .debug_struct("Http")
                .field("url", url)
                .field("headers", &names(headers))
                .field("env_headers", env_headers)
                .field("bearer_token_env_var", bearer_token_env_var)
                .finish(),
        }
    }
}

impl McpServerConfig {
    /// A stdio server with the defaults.
    pub fn stdio(name: impl Into<String>, command: impl Into<String>, args: Vec<String>) -> Self {
        Self::with(
            name.into(),
            McpTransport::Stdio {
                command: command.into(),
                args,
                env: Vec::new(),
                env_vars: Vec::new(),
                cwd: None,
            },
        )
    }

    /// A streamable HTTP server with the defaults.
    pub fn http(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self::with(
            name.into(),
            McpTransport::Http {
                url: url.into(),
                headers: Vec::new(),
                env_headers: Vec::new(),
                bearer_token_env_var: None,
            },
        )
    }

    fn with(name: String, transport: McpTransport) -> Self {
        Self {
            name,
            transport,
            enabled: true,
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
            tool_timeout: DEFAULT_TOOL_TIMEOUT,
            enabled_tools: None,
            disabled_tools: Vec::new(),
            approved_tools: Vec::new(),
            scopes: Vec::new(),
            required: false,
        }
    }

    /// Whether the model is offered `tool` of this server.
    pub fn offers(&self, tool: &str) -> bool {
        let enabled = self
            .enabled_tools
            .as_ref()
            .is_none_or(|allowed| allowed.iter().any(|t| t == tool));
        enabled && !self.disabled_tools.iter().any(|t| t == tool)
    }

    /// Whether `tool` may run without asking.
    pub fn approves(&self, tool: &str) -> bool {
        self.approved_tools.iter().any(|t| t == tool)
    }
}

/// Why a server cannot be signed in to with OAuth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSignIn {
    /// No server has the name.
    Unknown,
    /// It is a program kelp starts, not a server over HTTP.
    Program,
}

/// The server `name` of `servers` that `kelp mcp login` and a host's `mcpServer/oauth/login`
/// sign in to: its URL, and the scopes to ask for (`asked` when given, else its `scopes`).
pub fn sign_in_target(
    servers: &[McpServerConfig],
    name: &str,
    asked: Option<Vec<String>>,
) -> Result<(String, Vec<String>), NoSignIn> {
    let server = servers
        .iter()
        .find(|s| s.name == name)
        .ok_or(NoSignIn::Unknown)?;
    match &server.transport {
        McpTransport::Http { url, .. } => {
            Ok((url.clone(), asked.unwrap_or_else(|| server.scopes.clone())))
        }
        McpTransport::Stdio { .. } => Err(NoSignIn::Program),
    }
}

/// What a face says when `name` takes no sign-in: `unknown` for a name no server has.
pub fn no_sign_in_message(why: NoSignIn, name: &str, unknown: &str) -> String {
    match why {
        NoSignIn::Unknown => format!("no MCP server `{name}` {unknown}"),
        NoSignIn::Program => {
            format!("MCP server `{name}` is a program kelp starts: it takes no sign-in")
        }
    }
}

/// Every key a server's table may hold.
pub const SERVER_KEYS: &[&str] = &[
    "command",
    "args",
    "env",
    "env_vars",
    "cwd",
    "url",
    "http_headers",
    "env_http_headers",
    "bearer_token_env_var",
    "enabled",
    "startup_timeout_sec",
    "startup_timeout_ms",
    "tool_timeout_sec",
    "scopes",
    "required",
    "enabled_tools",
    "disabled_tools",
    "approved_tools",
];

/// Reads the `[mcp_servers]` table `item` of the file at `path` (its `text` gives lines and
/// columns). Servers come out in the file's order; every problem is one warning.
pub fn parse(
    path: &Path,
    text: &str,
    item: &Item,
    home: Option<&Path>,
) -> (Vec<McpServerConfig>, Vec<ConfigWarning>) {
    super::warning::named_tables(path, text, item, KEY, "MCP server", |name, entry, warn| {
        server(name, entry, home, warn).map_err(|reason| format!("{reason}; it is left out"))
    })
}

/// One server's table; `Err` says why the whole server is left out. Problems with single keys
/// are warned about through `warn` and the key is ignored.
fn server(
    name: &str,
    table: &dyn toml_edit::TableLike,
    home: Option<&Path>,
    warn: &mut dyn FnMut(Option<std::ops::Range<usize>>, String),
) -> Result<McpServerConfig, String> {
    if name.is_empty() {
        return Err("needs a name".to_string());
    }
    for (key, _) in table.iter() {
        if key == "bearer_token" {
            warn(
                table.key(key).and_then(|k| k.span()),
                format!(
                    "MCP server `{name}`: a token written in the file is not read; put it in a \
                     variable and name that in `bearer_token_env_var`"
                ),
            );
        } else if !SERVER_KEYS.contains(&key) {
            warn(
                table.key(key).and_then(|k| k.span()),
                format!("MCP server `{name}`: `{key}` is not a setting kelp knows; it is ignored"),
            );
        }
    }
    let mut bad = |key: &str, item: &Item, reason: &str| {
        warn(
            item.span()
                .or_else(|| table.key(key).and_then(|k| k.span())),
            format!("MCP server `{name}`: `{key}` {reason}; it is ignored"),
        );
    };
    let transport = transport(table, home, &mut bad)?;
    let mut server = McpServerConfig::with(name.to_string(), transport);
    read_limits(&mut server, table, &mut bad);
    Ok(server)
}

/// How the server is reached: a command (stdio) or a URL (HTTP), with the keys of that kind;
/// keys of the other kind are warned about. `Err` when neither or both are set.
fn transport(
    table: &dyn toml_edit::TableLike,
    home: Option<&Path>,
    mut bad: &mut dyn FnMut(&str, &Item, &str),
) -> Result<McpTransport, String> {
    let get = |key: &str| table.get(key);
    let command = read(
        table,
        "command",
        nonempty_string,
        "must be a program name or path in quotes",
        &mut bad,
    );
    let url = get("url").and_then(|item| {
        match nonempty_string(item).map(|url| super::check_endpoint(&url)) {
            Some(Ok(url)) => Some(url),
            Some(Err(reason)) => {
                bad(
                    "url",
                    item,
                    &format!("is not a valid http(s) URL ({reason})"),
                );
                None
            }
            None => {
                bad("url", item, "must be a URL in quotes");
                None
            }
        }
    });
    let transport = match (command, url) {
        (Some(_), Some(_)) => return Err("sets both `command` and `url`: choose one".to_string()),
        (None, None) => return Err("needs `command` (a stdio server) or `url` (HTTP)".to_string()),
        (Some(command), None) => McpTransport::Stdio {
            command,
            args: read(
                table,
                "args",
                strings,
                "must be an array of strings",
                &mut bad,
            )
            .unwrap_or_default(),
            env: read(table, "env", pairs, "must be a table of strings", &mut bad)
                .unwrap_or_default(),
            env_vars: read(
                table,
                "env_vars",
                strings,
                "must be an array of variable names",
                &mut bad,
            )
            .unwrap_or_default(),
            cwd: read(
                table,
                "cwd",
                |item| nonempty_string(item).and_then(|s| expand_home(&s, home)),
                "must be an absolute path or start with ~/",
                &mut bad,
            ),
        },
        (None, Some(url)) => McpTransport::Http {
            url,
            headers: read(
                table,
                "http_headers",
                pairs,
                "must be a table of strings",
                &mut bad,
            )
            .unwrap_or_default(),
            env_headers: read(
                table,
                "env_http_headers",
                pairs,
                "must be a table of variable names",
                &mut bad,
            )
            .unwrap_or_default(),
            bearer_token_env_var: read(
                table,
                "bearer_token_env_var",
                nonempty_string,
                "must be a variable name in quotes",
                &mut bad,
            ),
        },
    };
    for key in ["args", "env", "env_vars", "cwd"] {
        if let (Some(item), McpTransport::Http { .. }) = (get(key), &transport) {
            bad(key, item, "is for stdio servers (with `command`)");
        }
    }
    for key in ["http_headers", "env_http_headers", "bearer_token_env_var"] {
        if let (Some(item), McpTransport::Stdio { .. }) = (get(key), &transport) {
            bad(key, item, "is for HTTP servers (with `url`)");
        }
    }
    Ok(transport)
}

/// Whether the server is on and required, its time limits and its tool lists.
fn read_limits(
    server: &mut McpServerConfig,
    table: &dyn toml_edit::TableLike,
    mut bad: &mut dyn FnMut(&str, &Item, &str),
) {
    let get = |key: &str| table.get(key);
    for (key, slot) in [
        ("enabled", &mut server.enabled),
        ("required", &mut server.required),
    ] {
        if let Some(item) = get(key) {
            match item.as_bool() {
                Some(value) => *slot = value,
                None => bad(key, item, "must be true or false"),
            }
        }
    }
    // Codex's older name, in milliseconds; the one in seconds wins when both are set.
    if let (Some(item), None) = (get("startup_timeout_ms"), get("startup_timeout_sec")) {
        match item.as_integer().and_then(|ms| u64::try_from(ms).ok()) {
            Some(ms @ 1..=86_400_000) => server.startup_timeout = Duration::from_millis(ms),
            _ => bad(
                "startup_timeout_ms",
                item,
                "must be a number of milliseconds, more than 0",
            ),
        }
    }
    for (key, slot) in [
        ("startup_timeout_sec", &mut server.startup_timeout),
        ("tool_timeout_sec", &mut server.tool_timeout),
    ] {
        if let Some(item) = get(key) {
            match seconds(item) {
                Some(duration) => *slot = duration,
                None => bad(key, item, "must be a number of seconds, more than 0"),
            }
        }
    }
    let mut list = |key: &str| {
        read(
            table,
            key,
            strings,
            "must be an array of tool names",
            &mut bad,
        )
    };
    server.enabled_tools = list("enabled_tools");
    server.disabled_tools = list("disabled_tools").unwrap_or_default();
    server.approved_tools = list("approved_tools").unwrap_or_default();
    server.scopes = read(
        table,
        "scopes",
        strings,
        "must be an array of OAuth scopes",
        &mut bad,
    )
    .unwrap_or_default();
}

/// `key`'s value as `parse` reads it; a value it cannot read is warned about through `bad` as
/// not being what was `wanted`, and is `None` like a missing one.
pub(super) fn read<T>(
    table: &dyn toml_edit::TableLike,
    key: &str,
    parse: impl Fn(&Item) -> Option<T>,
    wanted: &str,
    bad: &mut dyn FnMut(&str, &Item, &str),
) -> Option<T> {
    let item = table.get(key)?;
    let value = parse(item);
    if value.is_none() {
        bad(key, item, wanted);
    }
    value
}

pub(super) fn nonempty_string(item: &Item) -> Option<String> {
    item.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn strings(item: &Item) -> Option<Vec<String>> {
    let array = item.as_array()?;
    array
        .iter()
        .map(|value| value.as_str().map(str::to_string))
        .collect()
}

/// A table of string values, in order.
pub(super) fn pairs(item: &Item) -> Option<Vec<(String, String)>> {
    let table = item.as_table_like()?;
    table
        .iter()
        .map(|(key, value)| {
            let value = value.as_value().and_then(Value::as_str)?;
            Some((key.to_string(), value.to_string()))
        })
        .collect()
}

fn seconds(item: &Item) -> Option<Duration> {
    let value = item
        .as_integer()
        .map(|n| n as f64)
        .or_else(|| item.as_float())?;
    (value > 0.0 && value <= 86_400.0).then(|| Duration::from_secs_f64(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> (Vec<McpServerConfig>, Vec<String>) {
        let doc = toml_edit::Document::parse(text).unwrap();
        let item = doc.as_table().get(KEY).unwrap();
        let (servers, warnings) = parse(Path::new("/c/config.toml"), text, item, None);
        (servers, warnings.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn stdio_and_http_servers_with_every_setting() {
        let (servers, warnings) = parse_text(
            r#"
[mcp_servers.docs]
command = "docs-mcp"
args = ["--stdio", "-v"]
env = { DOCS_DIR = "/srv/docs" }
env_vars = ["DOCS_TOKEN"]
cwd = "/srv"
startup_timeout_sec = 2.5
tool_timeout_sec = 30
enabled_tools = ["search", "fetch"]
disabled_tools = ["fetch"]
approved_tools = ["search"]

[mcp_servers.tracker]
url = "http://127.0.0.1:9/mcp"
bearer_token_env_var = "TRACKER_TOKEN"
http_headers = { "X-Team" = "core" }
enabled = false
"#,
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(servers.len(), 2);
        let docs = &servers[0];
        assert_eq!(docs.name, "docs");
        assert_eq!(
            docs.transport,
            McpTransport::Stdio {
                command: "docs-mcp".into(),
                args: vec!["--stdio".into(), "-v".into()],
                env: vec![("DOCS_DIR".into(), "/srv/docs".into())],
                env_vars: vec!["DOCS_TOKEN".into()],
                cwd: Some(PathBuf::from("/srv")),
            }
        );
        assert_eq!(docs.startup_timeout, Duration::from_millis(2500));
        assert_eq!(docs.tool_timeout, Duration::from_secs(30));
        assert!(docs.offers("search"));
        assert!(!docs.offers("fetch"), "denied beats allowed");
        assert!(!docs.offers("other"), "not in the allow list");
        assert!(docs.approves("search") && !docs.approves("fetch"));
        let tracker = &servers[1];
        assert!(!tracker.enabled);
        assert_eq!(tracker.startup_timeout, DEFAULT_STARTUP_TIMEOUT);
        assert_eq!(
            tracker.transport,
            McpTransport::Http {
                url: "http://127.0.0.1:9/mcp".into(),
                headers: vec![("X-Team".into(), "core".into())],
                env_headers: Vec::new(),
                bearer_token_env_var: Some("TRACKER_TOKEN".into()),
            }
        );
    }

    #[test]
    fn bad_entries_are_warnings_with_line_and_column() {
        let text = "model = \"x\"\n\
[mcp_servers.broken]\n\
args = [\"a\"]\n\
\n\
[mcp_servers.good]\n\
command = \"ok\"\n\
tool_timeout_sec = \"soon\"\n\
colour = \"blue\"\n\
\n\
[mcp_servers.both]\n\
command = \"x\"\n\
url = \"http://127.0.0.1/\"\n";
        let (servers, warnings) = parse_text(text);
        assert_eq!(servers.len(), 1);
        assert_eq!(servers[0].name, "good");
        assert_eq!(servers[0].tool_timeout, DEFAULT_TOOL_TIMEOUT);
        assert_eq!(
            warnings,
            [
                "/c/config.toml:2:1: MCP server `broken` needs `command` (a stdio server) or `url` (HTTP); it is left out",
                "/c/config.toml:7:20: MCP server `good`: `tool_timeout_sec` must be a number of seconds, more than 0; it is ignored",
                "/c/config.toml:8:1: MCP server `good`: `colour` is not a setting kelp knows; it is ignored",
                "/c/config.toml:10:1: MCP server `both` sets both `command` and `url`: choose one; it is left out",
            ]
        );
    }

    #[test]
    fn codexs_own_keys_are_read_and_an_inline_token_is_refused_in_words() {
        let text = "[mcp_servers.docs]\n\
command = \"docs-mcp\"\n\
startup_timeout_ms = 2500\n\
required = true\n\
\n\
[mcp_servers.tracker]\n\
url = \"http://127.0.0.1:9/mcp\"\n\
scopes = [\"read\", \"write\"]\n\
startup_timeout_sec = 3\n\
startup_timeout_ms = 9000\n\
bearer_token = \"tok-in-the-file\"\n";
        let (servers, warnings) = parse_text(text);
        assert_eq!(servers[0].startup_timeout, Duration::from_millis(2500));
        assert!(servers[0].required && servers[0].scopes.is_empty());
        assert_eq!(servers[1].startup_timeout, Duration::from_secs(3));
        assert_eq!(servers[1].scopes, ["read", "write"]);
        assert!(!servers[1].required);
        assert_eq!(
            warnings,
            [
                "/c/config.toml:11:1: MCP server `tracker`: a token written in the file is not read; put it in a variable and name that in `bearer_token_env_var`"
            ]
        );
        assert!(!format!("{servers:?}").contains("tok-in-the-file"));
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let mut server = McpServerConfig::http("t", "http://127.0.0.1/mcp");
        if let McpTransport::Http { headers, .. } = &mut server.transport {
            headers.push(("Authorization".into(), "Bearer sk-secret".into()));
        }
        let shown = format!("{server:?}");
        assert!(
            shown.contains("Authorization") && !shown.contains("sk-secret"),
            "{shown}"
        );
    }
}
