//! What the model's server reports and is asked for, as the faces see it: usage, rate limits, the reasoning asked for, a web search, the kind of an error. Plain values; what
//! makes or reads them lives in the floor that does it (`auth`, `llm`, `session`, `config`, `mcp`,
//! `sandbox`).

use serde::{Deserialize, Serialize};

/// What a front end does about an error: scripts get a distinct exit code for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCategory {
    /// Log in again, or with something else.
    Auth,
    /// Wait, or raise a limit.
    Limit,
    /// Anything else.
    Other,
}

/// The rate limits the Codex backend reported with a response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RateLimits {
    pub primary: Option<RateLimitWindow>,
    pub secondary: Option<RateLimitWindow>,
}

/// One rate-limit window from the `x-codex-{primary,secondary}-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateLimitWindow {
    pub used_percent: f64,
    pub window_minutes: Option<u64>,
    /// Epoch seconds.
    pub resets_at: Option<i64>,
}

/// Token counts of one response (`response.completed` → `usage`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_output_tokens: u64,
    pub total_tokens: u64,
}

/// What a web search did: searched (one query or several), opened a page, or looked for a
/// pattern in one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WebSearchAction {
    Search {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        query: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        queries: Option<Vec<String>>,
    },
    OpenPage {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
    },
    FindInPage {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pattern: Option<String>,
    },
    /// An action kelp has no words for.
    #[serde(other)]
    Other,
}

/// The processing a request asks for, as Codex names it: `fast` (sent as the `priority`
/// service tier: quicker answers for more of the plan's credits) or `flex` (slower, cheaper).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceTier {
    Fast,
    Flex,
}

impl ServiceTier {
    /// Codex's word for it: `fast`, `flex`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Fast => "fast",
            Self::Flex => "flex",
        }
    }

    /// What a request's `service_tier` says.
    pub fn request_value(self) -> &'static str {
        match self {
            Self::Fast => "priority",
            Self::Flex => "flex",
        }
    }

    /// The tier Codex's word (or the API's) names; `Ok(None)` for `default`, Codex's word for
    /// none.
    pub fn parse(word: &str) -> Result<Option<Self>, String> {
        match word.trim().to_ascii_lowercase().as_str() {
            "fast" | "priority" => Ok(Some(Self::Fast)),
            "flex" => Ok(Some(Self::Flex)),
            "default" | "" => Ok(None),
            other => Err(format!(
                "service tier {other:?}: use \"fast\", \"flex\" or \"default\""
            )),
        }
    }
}

/// How hard a reasoning model thinks before it answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReasoningEffort {
    Minimal,
    Low,
    #[default]
    Medium,
    High,
    XHigh,
}

/// How much of its reasoning a reasoning model sums up for the person.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SummaryStyle {
    #[default]
    Auto,
    Concise,
    Detailed,
    /// No summary is asked for.
    None,
}
