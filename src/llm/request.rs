//! One Responses API request: where it goes, its headers and its body (PROTOCOL.md §6).

use std::path::Path;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::error::LoginKind;
use super::types::Item;
use crate::auth::Credential;
use crate::config::{Config, ModelProvider, ORIGINATOR};
use crate::protocol::{ReasoningEffort, SummaryStyle};

/// kelp's system prompt, with `{cwd}` where the working directory goes.
const INSTRUCTIONS_TEMPLATE: &str = include_str!("../../assets/instructions.md");

/// kelp's system prompt for a session working in `cwd`.
pub fn instructions(cwd: &Path) -> String {
    INSTRUCTIONS_TEMPLATE.replace("{cwd}", &cwd.display().to_string())
}

impl ReasoningEffort {
    /// Every effort, least first.
    pub const ALL: [Self; 5] = [
        Self::Minimal,
        Self::Low,
        Self::Medium,
        Self::High,
        Self::XHigh,
    ];

    /// The efforts kelp offers for a model, least first, each with what it is for: the pickers
    /// of the TUI and ACP and the app-server's `model/list` show these.
    pub const OFFERED: [(Self, &'static str); 4] = [
        (Self::Low, "Fast responses with lighter reasoning"),
        (
            Self::Medium,
            "Balances speed and reasoning depth for everyday tasks",
        ),
        (Self::High, "Greater reasoning depth for complex problems"),
        (
            Self::XHigh,
            "Extra high reasoning depth for complex problems",
        ),
    ];

    /// The effort's word in the config file and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minimal => "minimal",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::XHigh => "xhigh",
        }
    }
}

impl std::str::FromStr for ReasoningEffort {
    type Err = String;

    /// Reads `minimal`, `low`, `medium`, `high` or `xhigh` (the config file's words).
    fn from_str(value: &str) -> Result<Self, String> {
        Ok(match value.trim().to_ascii_lowercase().as_str() {
            "minimal" => Self::Minimal,
            "low" => Self::Low,
            "medium" => Self::Medium,
            "high" => Self::High,
            "xhigh" => Self::XHigh,
            other => {
                return Err(format!(
                    "unknown reasoning effort {other:?}: use minimal, low, medium, high or xhigh"
                ));
            }
        })
    }
}

impl std::str::FromStr for SummaryStyle {
    type Err = String;

    /// Reads `auto`, `concise`, `detailed` or `none` (Codex's words).
    fn from_str(value: &str) -> Result<Self, String> {
        Ok(match value.trim().to_ascii_lowercase().as_str() {
            "auto" => Self::Auto,
            "concise" => Self::Concise,
            "detailed" => Self::Detailed,
            "none" => Self::None,
            other => {
                return Err(format!(
                    "unknown reasoning summary {other:?}: use auto, concise, detailed or none"
                ));
            }
        })
    }
}

/// Everything one request says, apart from the credential.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    /// The model's slug, e.g. `gpt-5.5`.
    pub model: String,
    /// The system prompt; must not be empty (the ChatGPT backend refuses it).
    pub instructions: String,
    /// The whole history, replayed statelessly.
    pub input: Vec<Item>,
    /// Tool specs, as the API takes them.
    pub tools: Vec<Value>,
    /// Whether the model may call several tools in one response.
    pub parallel_tool_calls: bool,
    /// Used only with reasoning models.
    pub reasoning_effort: ReasoningEffort,
    /// Used only with reasoning models.
    pub summary: SummaryStyle,
    /// The processing asked for (`priority` for Codex's fast mode); `None`: the default.
    pub service_tier: Option<crate::protocol::ServiceTier>,
    /// A JSON Schema the final answer must follow (structured output).
    pub output_schema: Option<Value>,
    /// The conversation's id: `session-id` header and `prompt_cache_key`.
    pub conversation_id: Uuid,
}

impl Prompt {
    /// A prompt for `model` with kelp's instructions for `cwd`, no history and no tools.
    pub fn new(model: impl Into<String>, cwd: &Path) -> Self {
        Self {
            model: model.into(),
            instructions: instructions(cwd),
            input: Vec::new(),
            tools: Vec::new(),
            parallel_tool_calls: false,
            reasoning_effort: ReasoningEffort::default(),
            summary: SummaryStyle::default(),
            service_tier: None,
            output_schema: None,
            conversation_id: Uuid::new_v4(),
        }
    }
}

/// The Responses API's own web search tool, as Codex offers it: `cached` answers from
/// OpenAI's index without live access; `disabled` offers no tool.
pub fn web_search_tool(mode: crate::config::WebSearch) -> Option<Value> {
    use crate::config::WebSearch;
    let live = match mode {
        WebSearch::Disabled => return None,
        WebSearch::Cached => false,
        WebSearch::Live => true,
    };
    Some(serde_json::json!({ "type": "web_search", "external_web_access": live }))
}

/// Whether `model` reasons (and so takes `reasoning` and returns encrypted reasoning): every
/// gpt-5 model, the o-series and the codex models.
pub fn is_reasoning_model(model: &str) -> bool {
    let model = model.to_ascii_lowercase();
    model.starts_with("gpt-5")
        || model.contains("codex")
        || (model.starts_with('o') && model[1..].starts_with(|c: char| c.is_ascii_digit()))
}

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    instructions: &'a str,
    input: &'a [Item],
    tools: &'a [Value],
    tool_choice: &'static str,
    parallel_tool_calls: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning: Option<Reasoning>,
    store: bool,
    stream: bool,
    include: &'static [&'static str],
    prompt_cache_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_tier: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<TextFormat<'a>>,
}

#[derive(Serialize)]
struct Reasoning {
    effort: ReasoningEffort,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<SummaryStyle>,
}

/// `text.format`: the answer as JSON that follows a schema, strictly (as Codex asks it).
#[derive(Serialize)]
struct TextFormat<'a> {
    format: JsonSchemaFormat<'a>,
}

#[derive(Serialize)]
struct JsonSchemaFormat<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'static str,
    schema: &'a Value,
    strict: bool,
}

/// The JSON body of `prompt`, serialised once and re-sent as is on every retry.
pub fn body(prompt: &Prompt) -> Result<Vec<u8>, serde_json::Error> {
    let reasoning = is_reasoning_model(&prompt.model);
    serde_json::to_vec(&Body {
        model: &prompt.model,
        instructions: &prompt.instructions,
        input: &prompt.input,
        tools: &prompt.tools,
        tool_choice: "auto",
        parallel_tool_calls: prompt.parallel_tool_calls,
        reasoning: reasoning.then_some(Reasoning {
            effort: prompt.reasoning_effort,
            summary: (prompt.summary != SummaryStyle::None).then_some(prompt.summary),
        }),
        store: false,
        stream: true,
        // Non-reasoning models refuse to include reasoning they do not produce.
        include: if reasoning {
            &["reasoning.encrypted_content"]
        } else {
            &[]
        },
        prompt_cache_key: prompt.conversation_id.to_string(),
        service_tier: prompt
            .service_tier
            .map(crate::protocol::ServiceTier::request_value),
        text: prompt.output_schema.as_ref().map(|schema| TextFormat {
            format: JsonSchemaFormat {
                kind: "json_schema",
                name: "codex_output_schema",
                schema,
                strict: true,
            },
        }),
    })
}

/// The login kind of a credential.
pub fn login_kind(credential: &Credential) -> LoginKind {
    match credential {
        Credential::ApiKey { .. } => LoginKind::ApiKey,
        Credential::ChatGpt { .. } => LoginKind::ChatGpt,
        Credential::Provider { .. } => LoginKind::Provider,
    }
}

/// The base URL a request goes to: the model provider's, else (the built-in `openai`) the
/// one of the login: the Codex backend for ChatGPT, the OpenAI API for a key.
pub fn base_url<'c>(config: &'c Config, credential: &Credential) -> &'c str {
    match (&config.model_provider.base_url, credential) {
        (Some(base), _) => base,
        (None, Credential::ChatGpt { .. }) => &config.codex_base_url,
        (None, _) => &config.openai_base_url,
    }
}

/// The URL of `path` under the base, with the provider's query parameters (Azure's
/// `api-version`).
pub fn endpoint(config: &Config, credential: &Credential, path: &str) -> String {
    let url = format!("{}/{path}", base_url(config, credential));
    let params = &config.model_provider.query_params;
    if params.is_empty() {
        return url;
    }
    match url::Url::parse(&url) {
        Ok(mut parsed) => {
            parsed.query_pairs_mut().extend_pairs(params);
            parsed.into()
        }
        Err(_) => url,
    }
}

/// `POST` target of a response request.
pub fn responses_url(config: &Config, credential: &Credential) -> String {
    endpoint(config, credential, "responses")
}

/// What a provider that does not take kelp's login is sent: its `env_key`'s value (an error
/// when the variable is not set), else its `experimental_bearer_token`, else no key at all.
/// `var` reads the environment.
pub fn provider_credential(
    provider: &ModelProvider,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Credential, super::LlmError> {
    if let Some(name) = &provider.env_key {
        return match var(name).filter(|value| !value.trim().is_empty()) {
            Some(key) => Ok(Credential::Provider {
                key: Some(key.trim().to_string()),
            }),
            None => Err(super::LlmError::ProviderKeyMissing {
                provider: provider.id.clone(),
                var: name.clone(),
                instructions: provider.env_key_instructions.clone(),
            }),
        };
    }
    Ok(Credential::Provider {
        key: provider.bearer_token.clone(),
    })
}

/// How to mend a key `provider` refused, for the error that says so.
pub fn provider_key_fix(provider: &ModelProvider) -> String {
    match (&provider.env_key, &provider.bearer_token) {
        (Some(var), _) => format!("check the key in {var}"),
        (None, Some(_)) => "check its experimental_bearer_token".to_string(),
        (None, None) => "no key was sent: set env_key in its [model_providers] table".to_string(),
    }
}

/// The model provider's own headers: `http_headers` as written, and `env_http_headers` from
/// the variables that are set (`var` reads the environment). A name or value a header cannot
/// hold is left out.
pub fn provider_headers(
    provider: &ModelProvider,
    var: impl Fn(&str) -> Option<String>,
) -> HeaderMap {
    let from_env = provider
        .env_http_headers
        .iter()
        .filter_map(|(name, variable)| {
            Some((name, var(variable).filter(|v| !v.trim().is_empty())?))
        });
    let mut headers = HeaderMap::new();
    for (name, value) in provider
        .http_headers
        .iter()
        .map(|(name, value)| (name, value.clone()))
        .chain(from_env)
    {
        if let (Ok(name), Ok(mut value)) = (
            reqwest::header::HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value),
        ) {
            value.set_sensitive(true);
            headers.insert(name, value);
        }
    }
    headers
}

/// The headers of every request to the provider in use: the login's, then the provider's.
pub fn headers(config: &Config, credential: &Credential) -> HeaderMap {
    let mut headers = auth_headers(credential);
    headers.extend(provider_headers(&config.model_provider, |name| {
        std::env::var(name).ok()
    }));
    headers
}

/// `User-Agent`: `kelp/<version> (<os>; <arch>) <terminal>`.
pub fn user_agent() -> String {
    let terminal = std::env::var("TERM_PROGRAM")
        .ok()
        .filter(|t| !t.is_empty())
        .or_else(|| std::env::var("TERM").ok().filter(|t| !t.is_empty()))
        .unwrap_or_else(|| "unknown".to_string());
    // A header value must be visible ASCII; a terminal name is never worth failing a request.
    let terminal: String = terminal
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(64)
        .collect();
    format!(
        "{ORIGINATOR}/{} ({}; {}) {terminal}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// The `originator` header: kelp's, or the one a host written for Codex names in
/// `CODEX_INTERNAL_ORIGINATOR_OVERRIDE` (the TypeScript SDK sends `codex_sdk_ts`), as Codex
/// honours it.
fn originator() -> HeaderValue {
    static VALUE: std::sync::OnceLock<HeaderValue> = std::sync::OnceLock::new();
    VALUE
        .get_or_init(|| {
            std::env::var("CODEX_INTERNAL_ORIGINATOR_OVERRIDE")
                .ok()
                .filter(|name| !name.is_empty() && name.len() <= 64)
                .and_then(|name| HeaderValue::from_str(&name).ok())
                .unwrap_or(HeaderValue::from_static(ORIGINATOR))
        })
        .clone()
}

/// The headers every request of a login carries: auth, originator, agent, account.
pub fn auth_headers(credential: &Credential) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let (token, account) = match credential {
        Credential::ApiKey { key } => (Some(key.as_str()), None),
        Credential::ChatGpt {
            access_token,
            account_id,
        } => (Some(access_token.as_str()), account_id.as_deref()),
        Credential::Provider { key } => (key.as_deref(), None),
    };
    if let Some(token) = token
        && let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {token}"))
    {
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    if let Some(account) = account.and_then(|a| HeaderValue::from_str(a).ok()) {
        headers.insert("chatgpt-account-id", account);
    }
    headers.insert("originator", originator());
    if let Ok(agent) = HeaderValue::from_str(&user_agent()) {
        headers.insert(USER_AGENT, agent);
    }
    headers
}

/// All headers of a streaming response request.
pub fn stream_headers(
    config: &Config,
    credential: &Credential,
    conversation_id: Uuid,
) -> HeaderMap {
    let mut headers = headers(config, credential);
    headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(id) = HeaderValue::from_str(&conversation_id.to_string()) {
        headers.insert("session-id", id);
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasoning_efforts_read_the_config_words() {
        assert_eq!("XHigh".parse(), Ok(ReasoningEffort::XHigh));
        assert_eq!("low".parse(), Ok(ReasoningEffort::Low));
        assert!("max".parse::<ReasoningEffort>().is_err());
        let body = |effort| {
            let mut prompt = Prompt::new("gpt-5.5", Path::new("/p"));
            prompt.reasoning_effort = effort;
            serde_json::from_slice::<Value>(&body(&prompt).unwrap()).unwrap()
        };
        assert_eq!(body(ReasoningEffort::XHigh)["reasoning"]["effort"], "xhigh");
    }

    #[test]
    fn a_service_tier_is_sent_as_the_api_names_it_and_none_is_not_sent() {
        use crate::protocol::ServiceTier;
        let tier = |service_tier| {
            let mut prompt = Prompt::new("gpt-5.5", Path::new("/p"));
            prompt.service_tier = service_tier;
            serde_json::from_slice::<Value>(&body(&prompt).unwrap()).unwrap()["service_tier"]
                .clone()
        };
        assert_eq!(tier(Some(ServiceTier::Fast)), "priority");
        assert_eq!(tier(Some(ServiceTier::Flex)), "flex");
        assert_eq!(tier(None), Value::Null);
        assert_eq!(ServiceTier::parse("Priority"), Ok(Some(ServiceTier::Fast)));
        assert_eq!(ServiceTier::parse("default"), Ok(None));
        assert!(ServiceTier::parse("turbo").is_err());
    }

    #[test]
    fn reasoning_models_are_recognised() {
        for m in [
            "gpt-5.5",
            "gpt-5.3-codex-spark",
            "o3",
            "o4-mini",
            "codex-mini-latest",
        ] {
            assert!(is_reasoning_model(m), "{m}");
        }
        for m in ["gpt-4.1", "gpt-4o", "omni-moderation-latest"] {
            assert!(!is_reasoning_model(m), "{m}");
        }
    }

    #[test]
    fn instructions_name_the_working_directory_and_the_tools() {
        let text = instructions(Path::new("/src/proj"));
        assert!(text.contains("`/src/proj`"));
        assert!(!text.contains("{cwd}"));
        for tool in [
            "read_file",
            "list_dir",
            "grep_files",
            "shell",
            "apply_patch",
            "update_plan",
        ] {
            assert!(text.contains(tool), "{tool}");
        }
    }

    #[test]
    fn the_body_has_the_stateless_fields_and_none_of_the_forbidden_ones() {
        let mut prompt = Prompt::new("gpt-4.1", Path::new("/p"));
        prompt.input.push(Item::user_text("hi"));
        let body: Value = serde_json::from_slice(&body(&prompt).unwrap()).unwrap();
        assert!(body.get("reasoning").is_none());
        assert_eq!(body["include"], serde_json::json!([]));
        for field in ["previous_response_id", "max_output_tokens", "temperature"] {
            assert!(body.get(field).is_none(), "{field}");
        }
    }

    #[test]
    fn web_search_is_the_native_tool_live_or_cached() {
        use crate::config::WebSearch;
        assert_eq!(
            web_search_tool(WebSearch::Live),
            Some(serde_json::json!({"type": "web_search", "external_web_access": true}))
        );
        assert_eq!(
            web_search_tool(WebSearch::Cached),
            Some(serde_json::json!({"type": "web_search", "external_web_access": false}))
        );
        assert_eq!(web_search_tool(WebSearch::Disabled), None);
    }

    #[test]
    fn a_provider_gets_its_own_key_its_headers_and_its_query() {
        let mut provider = ModelProvider::at("azure", "Azure", Some("https://a.example/v1"));
        provider.env_key = Some("AZURE_KEY".into());
        provider.env_key_instructions = Some("Ask ops for one.".into());
        provider.http_headers = vec![("X-Team".into(), "core".into())];
        provider.env_http_headers = vec![
            ("X-Trace".into(), "TRACE".into()),
            ("X-Unset".into(), "UNSET".into()),
        ];
        let env = |name: &str| match name {
            "AZURE_KEY" => Some("az-key".to_string()),
            "TRACE" => Some("t-1".to_string()),
            _ => None,
        };
        assert_eq!(
            provider_credential(&provider, env).unwrap(),
            Credential::Provider {
                key: Some("az-key".into())
            }
        );
        let missing = provider_credential(&provider, |_| None).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "Missing environment variable: `AZURE_KEY` (the key of model provider `azure`). Ask ops for one."
        );
        let headers = provider_headers(&provider, env);
        assert_eq!(headers["x-team"], "core");
        assert_eq!(headers["x-trace"], "t-1");
        assert!(headers.get("x-unset").is_none());
        // No key anywhere: nothing is sent, not kelp's login.
        let open = ModelProvider::at("local", "Local", Some("http://127.0.0.1:9/v1"));
        let credential = provider_credential(&open, env).unwrap();
        assert!(auth_headers(&credential).get(AUTHORIZATION).is_none());

        let mut config = Config::for_origin("http://127.0.0.1:1", Path::new("/t"));
        provider.query_params = vec![("api-version".into(), "2025-04-01 preview".into())];
        config.model_provider = provider;
        assert_eq!(
            responses_url(&config, &credential),
            "https://a.example/v1/responses?api-version=2025-04-01+preview"
        );
    }

    #[test]
    fn the_authorization_header_is_marked_sensitive() {
        let headers = auth_headers(&Credential::ApiKey { key: "sk-x".into() });
        assert!(headers[AUTHORIZATION].is_sensitive());
        assert!(headers.get("chatgpt-account-id").is_none());
        assert!(user_agent().starts_with("kelp/"));
    }
}
