//! Which models a login can use (PROTOCOL.md §9): the server's list where it offers one,
//! filtered to what kelp can talk to, else a built-in list; and the default model.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::{LlmError, LoginKind};
use super::request;
use crate::auth::Credential;
use crate::config::Config;

/// Codex-enabled models of a ChatGPT login, newest first, for when the server gives no list.
pub const CHATGPT_MODELS: &[&str] = &["gpt-5.5", "gpt-5.4", "gpt-5.4-mini", "gpt-5.3-codex-spark"];
/// Responses-capable models of an API key, for when the server gives no list.
pub const API_KEY_MODELS: &[&str] = &[
    "gpt-5.5",
    "gpt-5.4",
    "gpt-5.4-mini",
    "gpt-5",
    "gpt-5-mini",
    "gpt-4.1",
    "o4-mini",
    "o3",
];
pub use crate::config::DEFAULT_MODEL;

/// How long the model list may take; it is never worth holding anything up for.
const LIST_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether a ChatGPT login can use `model`: gpt-5.4 and newer, and gpt-5.3-codex-spark.
pub fn is_codex_enabled(model: &str) -> bool {
    if model == "gpt-5.3-codex-spark" {
        return true;
    }
    let Some(version) = model.strip_prefix("gpt-") else {
        return false;
    };
    let version = version.split('-').next().unwrap_or("");
    let mut parts = version.split('.');
    let major: u32 = match parts.next().and_then(|p| p.parse().ok()) {
        Some(major) => major,
        None => return false,
    };
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    major > 5 || (major == 5 && minor >= 4)
}

/// Whether an API model answers on the Responses API: chat and reasoning models, not
/// embeddings, speech, images, moderation or the old completion models.
pub fn is_responses_model(model: &str) -> bool {
    let model = model.to_ascii_lowercase();
    let family = model.starts_with("gpt-")
        || model.starts_with("chatgpt-")
        || model.starts_with("codex")
        || (model.starts_with('o') && model[1..].starts_with(|c: char| c.is_ascii_digit()));
    const NOT_TEXT: &[&str] = &[
        "embedding",
        "tts",
        "whisper",
        "dall-e",
        "moderation",
        "audio",
        "realtime",
        "transcribe",
        "image",
        "search",
        "instruct",
        "davinci",
        "babbage",
    ];
    family && !NOT_TEXT.iter().any(|word| model.contains(word))
}

/// The context window of `model` in tokens, for the models kelp knows (a slug may carry a
/// date or other suffix): the GPT-5 family takes 272k of input, gpt-4.1 about a million, the
/// o-series 200k.
pub fn context_window(model: &str) -> Option<u64> {
    let model = model.to_ascii_lowercase();
    let known: &[(&str, u64)] = &[
        ("gpt-5.3-codex-spark", 128_000),
        ("gpt-5", 272_000),
        ("gpt-4.1", 1_047_576),
        ("gpt-4o", 128_000),
        ("o4-mini", 200_000),
        ("o3", 200_000),
        ("codex-mini", 200_000),
    ];
    known
        .iter()
        .find(|(prefix, _)| model.starts_with(prefix))
        .map(|(_, window)| *window)
}

/// Where a model list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelSource {
    /// The server's `GET /models`.
    Server,
    /// kelp's built-in list (the server had none, or did not answer in time).
    BuiltIn,
}

/// The models a login can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelList {
    pub models: Vec<String>,
    pub source: ModelSource,
}

/// Server lists already fetched, per login.
#[derive(Debug, Default)]
pub struct ModelCache {
    lists: HashMap<String, Vec<String>>,
}

/// The built-in list for a login.
pub fn builtin_models(login: LoginKind) -> Vec<String> {
    let list = match login {
        LoginKind::ChatGpt => CHATGPT_MODELS,
        LoginKind::ApiKey => API_KEY_MODELS,
        // Another provider's models are its own: only its list says them.
        LoginKind::Provider => &[],
    };
    list.iter().map(|m| m.to_string()).collect()
}

/// The usable models of a `GET /models` answer (`{"data":[{"id"}]}` from the API,
/// `{"models":[{"slug"}]}` from the Codex backend), in the server's order.
pub fn parse_model_list(body: &Value, login: LoginKind) -> Vec<String> {
    let entries = body
        .get("data")
        .or_else(|| body.get("models"))
        .and_then(Value::as_array);
    let keep = match login {
        LoginKind::ChatGpt => is_codex_enabled,
        LoginKind::ApiKey => is_responses_model,
        LoginKind::Provider => |_: &str| true,
    };
    let mut models: Vec<String> = Vec::new();
    for entry in entries.into_iter().flatten() {
        let slug = entry
            .get("slug")
            .or_else(|| entry.get("id"))
            .and_then(Value::as_str)
            .or_else(|| entry.as_str());
        if let Some(slug) = slug.filter(|s| keep(s))
            && !models.iter().any(|m| m == slug)
        {
            models.push(slug.to_string());
        }
    }
    models
}

/// Who a list belongs to, without keeping a secret as the key.
fn cache_key(credential: &Credential) -> String {
    match credential {
        Credential::ChatGpt { account_id, .. } => {
            format!("chatgpt:{}", account_id.as_deref().unwrap_or(""))
        }
        Credential::ApiKey { key } => {
            let digest = Sha256::digest(key.as_bytes());
            let short: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
            format!("api:{short}")
        }
        // One client talks to one provider.
        Credential::Provider { .. } => "provider".to_string(),
    }
}

impl ModelCache {
    /// The models `credential` can use. Asks the server once per login (at most 5 s); falls
    /// back to the built-in list, which is not cached so a later call asks again. Run it in its
    /// own task: it must never hold up start-up.
    pub async fn list(
        cache: &Mutex<Self>,
        http: &reqwest::Client,
        config: &Config,
        credential: &Credential,
    ) -> ModelList {
        let login = request::login_kind(credential);
        let key = cache_key(credential);
        if let Ok(cache) = cache.lock()
            && let Some(models) = cache.lists.get(&key)
        {
            return ModelList {
                models: models.clone(),
                source: ModelSource::Server,
            };
        }
        let models = match fetch_models(http, config, credential, login).await {
            Some(models) if !models.is_empty() => models,
            _ => {
                return ModelList {
                    models: builtin_models(login),
                    source: ModelSource::BuiltIn,
                };
            }
        };
        if let Ok(mut cache) = cache.lock() {
            cache.lists.insert(key, models.clone());
        }
        ModelList {
            models,
            source: ModelSource::Server,
        }
    }
}

async fn fetch_models(
    http: &reqwest::Client,
    config: &Config,
    credential: &Credential,
    login: LoginKind,
) -> Option<Vec<String>> {
    let response = http
        .get(request::endpoint(config, credential, "models"))
        .headers(request::headers(config, credential))
        .timeout(LIST_TIMEOUT)
        .send()
        .await;
    let response = match response {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => {
            tracing::info!(
                status = r.status().as_u16(),
                "no model list from the server"
            );
            return None;
        }
        Err(e) => {
            tracing::info!(error = %e.without_url(), "no model list from the server");
            return None;
        }
    };
    let body: Value = response.json().await.ok()?;
    Some(parse_model_list(&body, login))
}

/// How long the check of a new API key may take.
const KEY_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

pub use crate::auth::KeyCheck;

/// Checks `key` with the cheapest authenticated request there is, `GET /models`.
pub async fn check_api_key(http: &reqwest::Client, config: &Config, key: &str) -> KeyCheck {
    let credential = Credential::ApiKey {
        key: key.to_string(),
    };
    let response = http
        .get(format!("{}/models", config.openai_base_url))
        .headers(request::auth_headers(&credential))
        .timeout(KEY_CHECK_TIMEOUT)
        .send()
        .await;
    match response {
        Ok(r) if r.status().is_success() || r.status().as_u16() == 429 => KeyCheck::Accepted,
        Ok(r) if matches!(r.status().as_u16(), 401 | 403) => KeyCheck::Refused(format!(
            "OpenAI refused this API key (HTTP {}): check that it is whole and not revoked",
            r.status().as_u16()
        )),
        Ok(r) => KeyCheck::Unchecked(format!(
            "the OpenAI API answered HTTP {}",
            r.status().as_u16()
        )),
        Err(e) => {
            let refused = super::error::refused_certificate(&e);
            let words = super::error::network_words(&e);
            tracing::info!(error = %e.without_url(), "the API key could not be checked");
            if let Some(why) = refused {
                return KeyCheck::Unchecked(LlmError::UntrustedCertificate(why).to_string());
            }
            KeyCheck::Unchecked(format!(
                "{words} (the OpenAI API at {})",
                config.openai_base_url
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chatgpt_keeps_codex_enabled_models_only() {
        for m in [
            "gpt-5.5",
            "gpt-5.4",
            "gpt-5.4-mini",
            "gpt-5.3-codex-spark",
            "gpt-6",
        ] {
            assert!(is_codex_enabled(m), "{m}");
        }
        for m in ["gpt-5.2", "gpt-5.3-codex", "gpt-5", "gpt-4o", "o3"] {
            assert!(!is_codex_enabled(m), "{m}");
        }
        let list =
            json!({"models":[{"slug":"gpt-5.5"},{"slug":"gpt-5.2"},{"slug":"gpt-5.4-mini"}]});
        assert_eq!(
            parse_model_list(&list, LoginKind::ChatGpt),
            vec!["gpt-5.5", "gpt-5.4-mini"]
        );
    }

    #[test]
    fn api_keys_keep_responses_models_only() {
        let list = json!({"object":"list","data":[
            {"id":"gpt-5.5"},{"id":"text-embedding-3-small"},{"id":"tts-1"},{"id":"whisper-1"},
            {"id":"dall-e-3"},{"id":"omni-moderation-latest"},{"id":"o4-mini"},{"id":"gpt-4o-realtime-preview"},
            {"id":"gpt-4.1"},{"id":"davinci-002"},{"id":"gpt-image-1"}
        ]});
        assert_eq!(
            parse_model_list(&list, LoginKind::ApiKey),
            vec!["gpt-5.5", "o4-mini", "gpt-4.1"]
        );
    }

    #[test]
    fn the_built_in_lists_hold_only_models_their_login_serves() {
        assert!(CHATGPT_MODELS.iter().all(|m| is_codex_enabled(m)));
        assert!(API_KEY_MODELS.iter().all(|m| is_responses_model(m)));
    }

    #[test]
    fn cache_keys_hold_no_secret() {
        let key = cache_key(&Credential::ApiKey {
            key: "sk-secret-123".into(),
        });
        assert!(key.starts_with("api:") && !key.contains("secret"));
    }
}
