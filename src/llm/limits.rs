//! The ChatGPT plan's usage windows asked for outside a response (`GET
//! /backend-api/wham/usage`, as Codex asks for them), for a host's usage screen before the
//! first turn reports any.

use std::time::Duration;

use serde::Deserialize;

use super::request;
use crate::auth::Credential;
use crate::config::Config;
use crate::protocol::{RateLimitWindow, RateLimits};

/// How long the question may take: a usage screen waits on it.
const LIMITS_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
struct Usage {
    rate_limit: Option<Windows>,
}

#[derive(Deserialize)]
struct Windows {
    primary_window: Option<Window>,
    secondary_window: Option<Window>,
}

#[derive(Deserialize)]
struct Window {
    used_percent: f64,
    limit_window_seconds: Option<u64>,
    reset_at: Option<i64>,
}

impl From<Window> for RateLimitWindow {
    fn from(window: Window) -> Self {
        Self {
            used_percent: window.used_percent,
            window_minutes: window.limit_window_seconds.map(|seconds| seconds / 60),
            resets_at: window.reset_at,
        }
    }
}

/// Where the usage lives: beside the Codex endpoint, under the backend's root.
fn usage_url(config: &Config) -> String {
    let backend = config.codex_base_url.trim_end_matches('/');
    let root = backend.strip_suffix("/codex").unwrap_or(backend);
    format!("{root}/wham/usage")
}

/// The plan's windows now; `None` for an API key (no plan), or when the backend does not say
/// (logged, never a secret).
pub async fn fetch(
    http: &reqwest::Client,
    config: &Config,
    credential: &Credential,
) -> Option<RateLimits> {
    if !matches!(credential, Credential::ChatGpt { .. }) {
        return None;
    }
    let response = http
        .get(usage_url(config))
        .headers(request::auth_headers(credential))
        .timeout(LIMITS_TIMEOUT)
        .send()
        .await;
    let response = match response {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => {
            tracing::info!(status = r.status().as_u16(), "no usage from the backend");
            return None;
        }
        Err(e) => {
            tracing::info!(error = %e.without_url(), "no usage from the backend");
            return None;
        }
    };
    let usage: Usage = response.json().await.ok()?;
    let windows = usage.rate_limit?;
    Some(RateLimits {
        primary: windows.primary_window.map(Into::into),
        secondary: windows.secondary_window.map(Into::into),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usage_lives_beside_the_codex_endpoint() {
        let mut config = Config::for_origin("http://127.0.0.1:9", std::path::Path::new("/x"));
        assert_eq!(
            usage_url(&config),
            "http://127.0.0.1:9/backend-api/wham/usage"
        );
        config.codex_base_url = "https://chatgpt.com/backend-api/codex/".into();
        assert_eq!(
            usage_url(&config),
            "https://chatgpt.com/backend-api/wham/usage"
        );
    }
}
