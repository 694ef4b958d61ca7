//! Model providers as Codex reads them: `[model_providers.NAME]` tables and `model_provider =
//! "NAME"`, which picks the one requests go to.
//!
//! ```toml
//! model_provider = "azure"
//!
//! [model_providers.azure]
//! name = "Azure OpenAI"
//! base_url = "https://team.openai.azure.com/openai/v1"
//! env_key = "AZURE_OPENAI_API_KEY"        # the key, read from this variable
//! query_params = { api-version = "2025-04-01-preview" }
//! http_headers = { "X-Team" = "core" }
//! env_http_headers = { "X-Trace" = "TRACE_ID" }   # header ← variable, when set
//! request_max_retries = 4
//! stream_max_retries = 5
//! stream_idle_timeout_ms = 300000
//! ```
//!
//! The built-in `openai` provider is kelp's own login (a ChatGPT sign-in or an API key) and
//! cannot be redefined; `ollama` and `lmstudio` are the local servers at their usual ports. A
//! provider without `requires_openai_auth = true` is never sent the ChatGPT token or the
//! stored API key: only its own `env_key` (or `experimental_bearer_token`), or nothing.

use std::path::Path;

use toml_edit::Item;

use super::mcp::{nonempty_string, pairs, read};
use super::warning::ConfigWarning;

/// The table that holds the providers.
pub const KEY: &str = "model_providers";
/// The built-in provider: kelp's own login.
pub const OPENAI: &str = "openai";
/// The one wire protocol kelp speaks.
pub const RESPONSES: &str = "responses";

/// The most retries a provider may ask for, as Codex caps them.
const MAX_RETRIES: u64 = 100;

/// One model provider: where requests go and what they carry.
#[derive(Clone, PartialEq, Eq)]
pub struct ModelProvider {
    /// Its key in `model_providers` (`model_provider = "ID"`).
    pub id: String,
    /// What people call it.
    pub name: String,
    /// The Responses API's base (`…/v1`); `None` for the built-in `openai`, whose base follows
    /// the login (the Codex backend or the OpenAI API).
    pub base_url: Option<String>,
    /// The variable that holds its API key.
    pub env_key: Option<String>,
    /// What to tell a person whose `env_key` is not set.
    pub env_key_instructions: Option<String>,
    /// A key written in the config itself (Codex's `experimental_bearer_token`).
    pub bearer_token: Option<String>,
    /// The wire protocol it speaks; kelp can use only `responses`.
    pub wire_api: String,
    /// Added to every request's URL (Azure's `api-version`).
    pub query_params: Vec<(String, String)>,
    /// Sent with every request.
    pub http_headers: Vec<(String, String)>,
    /// Headers whose values come from variables (header → variable), sent when set.
    pub env_http_headers: Vec<(String, String)>,
    /// Retries of a request the server refused or never answered.
    pub request_max_retries: Option<u64>,
    /// Retries of a stream cut after it began.
    pub stream_max_retries: Option<u64>,
    /// How long a stream may stay silent before it counts as cut.
    pub stream_idle_timeout_ms: Option<u64>,
    /// Whether it takes kelp's own login (the ChatGPT token or the stored API key).
    pub requires_openai_auth: bool,
}

// By hand: the bearer token and header values may be secrets; only their names are shown.
impl std::fmt::Debug for ModelProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names =
            |pairs: &[(String, String)]| pairs.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        f.debug_struct("ModelProvider")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("env_key", &self.env_key)
            .field("bearer_token", &self.bearer_token.as_ref().map(|_| "…"))
            .field("wire_api", &self.wire_api)
            .field("query_params", &self.query_params)
            .field("http_headers", &names(&self.http_headers))
            .field("env_http_headers", &self.env_http_headers)
            .field("requires_openai_auth", &self.requires_openai_auth)
            .finish_non_exhaustive()
    }
}

impl ModelProvider {
    /// A provider at `base_url` with nothing else set: no key, no headers, default limits.
    pub fn at(id: &str, name: &str, base_url: Option<&str>) -> Self {
        Self {
            id: id.to_string(),
            name: name.to_string(),
            base_url: base_url.map(str::to_string),
            env_key: None,
            env_key_instructions: None,
            bearer_token: None,
            wire_api: RESPONSES.to_string(),
            query_params: Vec::new(),
            http_headers: Vec::new(),
            env_http_headers: Vec::new(),
            request_max_retries: None,
            stream_max_retries: None,
            stream_idle_timeout_ms: None,
            requires_openai_auth: false,
        }
    }

    /// The built-in provider: kelp's own login, and the organisation and project headers
    /// OpenAI's API reads, from the variables its SDKs use.
    pub fn openai() -> Self {
        Self {
            requires_openai_auth: true,
            env_http_headers: vec![
                ("OpenAI-Organization".into(), "OPENAI_ORGANIZATION".into()),
                ("OpenAI-Project".into(), "OPENAI_PROJECT".into()),
            ],
            ..Self::at(OPENAI, "OpenAI", None)
        }
    }

    /// The provider in a line, for `/status`, `kelp auth status` and `kelp doctor`: its name
    /// and id, where requests go, and what they carry (`is_set` says whether a variable is).
    pub fn describe(&self, is_set: impl Fn(&str) -> bool) -> String {
        let base = self.base_url.as_deref().unwrap_or("the login's endpoint");
        let key = match (&self.env_key, &self.bearer_token) {
            _ if self.requires_openai_auth => "kelp's login".to_string(),
            (Some(var), _) if is_set(var) => format!("the key in {var}"),
            (Some(var), _) => format!("the key in {var}, which is not set"),
            (None, Some(_)) => "its experimental_bearer_token".to_string(),
            (None, None) => "no key".to_string(),
        };
        format!("{} ({}) at {base}, with {key}", self.name, self.id)
    }

    /// Whether this is the built-in `openai` provider.
    pub fn is_openai(&self) -> bool {
        self.id == OPENAI
    }

    /// The retries of a refused or unanswered request, capped.
    pub fn request_retries(&self) -> Option<u32> {
        self.request_max_retries.map(capped)
    }

    /// The retries of a cut stream, capped.
    pub fn stream_retries(&self) -> Option<u32> {
        self.stream_max_retries.map(capped)
    }

    /// Why kelp cannot talk to it, when it cannot.
    fn unusable(&self) -> Option<String> {
        (self.wire_api != RESPONSES).then(|| {
            format!(
                "model provider `{}` speaks wire_api = \"{}\"; kelp speaks the Responses API \
                 only: set wire_api = \"responses\" if the server has it",
                self.id, self.wire_api
            )
        })
    }
}

fn capped(retries: u64) -> u32 {
    retries.min(MAX_RETRIES) as u32
}

/// The providers every config has, before its own: `openai`, and the local servers.
pub fn built_in() -> Vec<ModelProvider> {
    vec![
        ModelProvider::openai(),
        ModelProvider::at("ollama", "Ollama", Some("http://localhost:11434/v1")),
        ModelProvider::at("lmstudio", "LM Studio", Some("http://localhost:1234/v1")),
    ]
}

/// Every provider: the built-in ones, then the config's in its order (a built-in name the
/// config uses again keeps the built-in, as Codex does).
pub fn all(configured: &[ModelProvider]) -> Vec<ModelProvider> {
    let mut providers = built_in();
    for provider in configured {
        if !providers.iter().any(|known| known.id == provider.id) {
            providers.push(provider.clone());
        }
    }
    providers
}

/// The provider `id` names among `providers`; the error says why it cannot be used.
pub fn choose(id: &str, providers: &[ModelProvider]) -> Result<ModelProvider, String> {
    let Some(provider) = providers.iter().find(|p| p.id == id) else {
        let known: Vec<&str> = providers.iter().map(|p| p.id.as_str()).collect();
        return Err(format!(
            "model_provider = \"{id}\" names no provider: define [model_providers.{id}] in the \
             config, or choose one of {}",
            known.join(", ")
        ));
    };
    match provider.unusable() {
        Some(why) => Err(why),
        None => Ok(provider.clone()),
    }
}

/// Every key a provider's table may hold. `supports_websockets` and
/// `websocket_connect_timeout_ms` are taken and mean nothing: kelp streams over SSE.
pub const PROVIDER_KEYS: &[&str] = &[
    "name",
    "base_url",
    "env_key",
    "env_key_instructions",
    "experimental_bearer_token",
    "wire_api",
    "query_params",
    "http_headers",
    "env_http_headers",
    "request_max_retries",
    "stream_max_retries",
    "stream_idle_timeout_ms",
    "requires_openai_auth",
    "supports_websockets",
    "websocket_connect_timeout_ms",
];

/// Reads the `[model_providers]` table `item` of the file at `path` (its `text` gives lines
/// and columns). Every problem is one warning; a provider that cannot be read is left out.
pub fn parse(path: &Path, text: &str, item: &Item) -> (Vec<ModelProvider>, Vec<ConfigWarning>) {
    super::warning::named_tables(
        path,
        text,
        item,
        KEY,
        "model provider",
        |id, entry, warn| {
            if id == OPENAI {
                return Err(format!(
                    "is built in and cannot be redefined (set openai_base_url to move it); \
                 [{KEY}.{OPENAI}] is ignored"
                ));
            }
            provider(id, entry, warn).map_err(|reason| format!("{reason}; it is left out"))
        },
    )
}

/// One provider's table; `Err` says why it is left out. A key that cannot be read is warned
/// about through `warn` and ignored.
fn provider(
    id: &str,
    table: &dyn toml_edit::TableLike,
    warn: &mut dyn FnMut(Option<std::ops::Range<usize>>, String),
) -> Result<ModelProvider, String> {
    for (key, _) in table.iter() {
        if !PROVIDER_KEYS.contains(&key) {
            let why = match key {
                "auth" | "aws" => "is not something kelp can do",
                _ => "is not a setting kelp knows",
            };
            warn(
                table.key(key).and_then(|k| k.span()),
                format!("model provider `{id}`: `{key}` {why}; it is ignored"),
            );
        }
    }
    let mut bad = |key: &str, item: &Item, reason: &str| {
        warn(
            item.span()
                .or_else(|| table.key(key).and_then(|k| k.span())),
            format!("model provider `{id}`: `{key}` {reason}; it is ignored"),
        );
    };
    let text = |key: &str, bad: &mut dyn FnMut(&str, &Item, &str)| {
        read(table, key, nonempty_string, "must be a string", bad)
    };
    let base_url = match table.get("base_url") {
        None => return Err("needs a base_url (the server's …/v1)".to_string()),
        Some(item) => match nonempty_string(item).map(|url| super::check_endpoint(&url)) {
            Some(Ok(url)) => url,
            Some(Err(reason)) => return Err(format!("has a base_url kelp cannot use ({reason})")),
            None => return Err("needs a base_url in quotes".to_string()),
        },
    };
    let mut provider = ModelProvider::at(id, id, Some(&base_url));
    if let Some(name) = text("name", &mut bad) {
        provider.name = name;
    }
    provider.env_key = text("env_key", &mut bad);
    provider.env_key_instructions = text("env_key_instructions", &mut bad);
    provider.bearer_token = text("experimental_bearer_token", &mut bad);
    if let Some(wire_api) = text("wire_api", &mut bad) {
        provider.wire_api = wire_api;
    }
    let mut table_of = |key: &str| {
        read(table, key, pairs, "must be a table of strings", &mut bad).unwrap_or_default()
    };
    provider.query_params = table_of("query_params");
    provider.http_headers = table_of("http_headers");
    provider.env_http_headers = table_of("env_http_headers");
    for (key, slot) in [
        ("request_max_retries", &mut provider.request_max_retries),
        ("stream_max_retries", &mut provider.stream_max_retries),
        (
            "stream_idle_timeout_ms",
            &mut provider.stream_idle_timeout_ms,
        ),
    ] {
        *slot = read(
            table,
            key,
            |item| item.as_integer().and_then(|n| u64::try_from(n).ok()),
            "must be a whole number, 0 or more",
            &mut bad,
        );
    }
    if provider.stream_idle_timeout_ms == Some(0) {
        provider.stream_idle_timeout_ms = None;
        bad(
            "stream_idle_timeout_ms",
            table.get("stream_idle_timeout_ms").unwrap_or(&Item::None),
            "must be more than 0",
        );
    }
    provider.requires_openai_auth = read(
        table,
        "requires_openai_auth",
        Item::as_bool,
        "must be true or false",
        &mut bad,
    )
    .unwrap_or(false);
    read(
        table,
        "supports_websockets",
        Item::as_bool,
        "must be true or false",
        &mut bad,
    );
    Ok(provider)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> (Vec<ModelProvider>, Vec<String>) {
        let doc = toml_edit::Document::parse(text).unwrap();
        let item = doc.as_table().get(KEY).unwrap();
        let (providers, warnings) = parse(Path::new("/c/config.toml"), text, item);
        (
            providers,
            warnings.iter().map(ToString::to_string).collect(),
        )
    }

    #[test]
    fn every_key_codex_reads_is_read() {
        let (providers, warnings) = parse_text(
            "[model_providers.azure]\nname = \"Azure\"\nbase_url = \"https://a.example/openai/v1/\"\n\
             env_key = \"AZURE_KEY\"\nenv_key_instructions = \"ask ops\"\nwire_api = \"responses\"\n\
             query_params = { api-version = \"2025-04-01-preview\" }\n\
             http_headers = { X-Team = \"core\" }\nenv_http_headers = { X-Trace = \"TRACE\" }\n\
             request_max_retries = 2\nstream_max_retries = 500\nstream_idle_timeout_ms = 1500\n\
             requires_openai_auth = true\nsupports_websockets = false\n",
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        let azure = &providers[0];
        assert_eq!(azure.id, "azure");
        assert_eq!(azure.name, "Azure");
        assert_eq!(
            azure.base_url.as_deref(),
            Some("https://a.example/openai/v1")
        );
        assert_eq!(azure.env_key.as_deref(), Some("AZURE_KEY"));
        assert_eq!(azure.env_key_instructions.as_deref(), Some("ask ops"));
        assert_eq!(
            azure.query_params,
            [("api-version".into(), "2025-04-01-preview".into())]
        );
        assert_eq!(azure.http_headers, [("X-Team".into(), "core".into())]);
        assert_eq!(azure.env_http_headers, [("X-Trace".into(), "TRACE".into())]);
        assert_eq!(azure.request_retries(), Some(2));
        assert_eq!(azure.stream_retries(), Some(100));
        assert_eq!(azure.stream_idle_timeout_ms, Some(1500));
        assert!(azure.requires_openai_auth);
    }

    #[test]
    fn what_cannot_be_used_is_said_where_it_is() {
        let (providers, warnings) = parse_text(
            "[model_providers.openai]\nbase_url = \"http://x/v1\"\n\
             [model_providers.nourl]\nname = \"n\"\n\
             [model_providers.odd]\nbase_url = \"http://127.0.0.1:9/v1\"\nretries = 3\n\
             stream_max_retries = -1\nauth = { command = \"x\" }\n",
        );
        assert_eq!(providers.len(), 1, "{providers:?}");
        assert_eq!(providers[0].id, "odd");
        assert_eq!(providers[0].stream_max_retries, None);
        let all = warnings.join("\n");
        assert!(
            all.contains("`openai` is built in and cannot be redefined"),
            "{all}"
        );
        assert!(all.contains("`nourl` needs a base_url"), "{all}");
        assert!(
            all.contains("`retries` is not a setting kelp knows"),
            "{all}"
        );
        assert!(all.contains("`auth` is not something kelp can do"), "{all}");
        assert!(
            all.contains("`stream_max_retries` must be a whole number"),
            "{all}"
        );
        assert!(all.starts_with("/c/config.toml:1:"), "{all}");
    }

    #[test]
    fn the_chosen_provider_must_exist_and_speak_responses() {
        let (configured, _) = parse_text(
            "[model_providers.mock]\nbase_url = \"http://127.0.0.1:9/v1\"\n\
             [model_providers.old]\nbase_url = \"http://127.0.0.1:9/v1\"\nwire_api = \"chat\"\n\
             [model_providers.ollama]\nbase_url = \"http://elsewhere/v1\"\n",
        );
        let providers = all(&configured);
        assert_eq!(choose("mock", &providers).unwrap().name, "mock");
        assert!(choose("openai", &providers).unwrap().requires_openai_auth);
        assert_eq!(
            choose("ollama", &providers).unwrap().base_url.as_deref(),
            Some("http://localhost:11434/v1")
        );
        let old = choose("old", &providers).unwrap_err();
        assert!(old.contains("wire_api = \"chat\""), "{old}");
        let missing = choose("nope", &providers).unwrap_err();
        assert!(missing.contains("[model_providers.nope]"), "{missing}");
        assert!(
            missing.contains("openai, ollama, lmstudio, mock, old"),
            "{missing}"
        );
    }

    #[test]
    fn debug_never_shows_a_token_or_a_header_value() {
        let mut provider = ModelProvider::at("p", "P", Some("http://x/v1"));
        provider.bearer_token = Some("sk-secret-token".into());
        provider.http_headers = vec![("X-Key".into(), "hidden-value".into())];
        let shown = format!("{provider:?}");
        assert!(!shown.contains("sk-secret-token") && !shown.contains("hidden-value"));
        assert!(shown.contains("X-Key"), "{shown}");
    }
}
