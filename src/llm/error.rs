//! What went wrong with a request, classified once (PROTOCOL.md §7) into kinds a person can act
//! on. Every message is one line in plain words; a server's raw body never reaches it.

use std::time::Duration;

use chrono::{DateTime, Local, TimeZone};
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

use crate::auth::AuthError;
use crate::protocol::ErrorCategory;

/// Which kind of login a request used; errors name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoginKind {
    /// A ChatGPT login against the Codex backend.
    ChatGpt,
    /// An API key against the OpenAI API.
    ApiKey,
    /// A model provider's own key, or none.
    Provider,
}

impl std::fmt::Display for LoginKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::ChatGpt => "your ChatGPT login",
            Self::ApiKey => "your API key",
            Self::Provider => "this model provider",
        })
    }
}

/// A request that failed for good. `Display` is the one-line message for the person.
#[derive(Debug, Error)]
pub enum LlmError {
    /// The server or the network kept failing after every retry.
    #[error("could not get an answer after {retries} retries: {reason}")]
    Transient { reason: String, retries: u32 },
    /// Rate limited for longer than kelp waits by itself.
    #[error("{}", rate_limited_message(*.retry_after))]
    RateLimited { retry_after: Option<Duration> },
    /// The ChatGPT plan's usage limit is reached.
    #[error("{}", usage_limit_message(.resets_at.as_ref(), .plan.as_deref()))]
    UsageLimitReached {
        resets_at: Option<DateTime<Local>>,
        plan: Option<String>,
    },
    /// The ChatGPT plan does not include Codex.
    #[error(
        "your ChatGPT plan does not include Codex: upgrade your plan (Plus or higher) or use an API key"
    )]
    UsageNotIncluded,
    /// The API account has no quota left.
    #[error("the OpenAI account behind your API key is out of quota: check its billing")]
    QuotaExceeded,
    /// The conversation no longer fits the model's context window.
    #[error("the conversation is too long for the model: start a new one")]
    ContextTooLong,
    /// The API key was refused.
    #[error("the API key was rejected: check it and sign in again")]
    BadApiKey,
    /// The model provider's variable for its key is not set.
    #[error("Missing environment variable: `{var}` (the key of model provider `{provider}`).{}", instructions.as_deref().map(|i| format!(" {i}")).unwrap_or_default())]
    ProviderKeyMissing {
        provider: String,
        var: String,
        instructions: Option<String>,
    },
    /// The model provider refused the request's key (or that none was sent).
    #[error("model provider `{provider}` refused the request (HTTP 401): {fix}")]
    ProviderRefused { provider: String, fix: String },
    /// The model cannot be used with this login.
    #[error("the model {model} is not available with {login}: pick another model")]
    ModelNotAvailable { model: String, login: LoginKind },
    /// The ChatGPT login is no longer accepted and refreshing it did not help.
    #[error("your ChatGPT login expired or was revoked: sign in again")]
    LoginExpired,
    /// No credential could be had.
    #[error(transparent)]
    Auth(AuthError),
    /// The server refused the request for another reason.
    #[error("the server refused the request (HTTP {status}){}", detail(.message))]
    Rejected {
        status: u16,
        message: Option<String>,
    },
    /// The model failed to produce an answer.
    #[error("the model could not answer{}", detail(.message))]
    Failed { message: Option<String> },
    /// The answer stopped early (output limit, content filter).
    #[error("the answer stopped early: {}", .reason.as_deref().unwrap_or("no reason given"))]
    Incomplete { reason: Option<String> },
    /// The HTTP client could not be set up.
    #[error("cannot start the HTTP client: {0}")]
    Setup(String),
    /// The server's TLS certificate was refused; retrying cannot help.
    #[error(
        "the server's TLS certificate is {0}, so nothing was sent: check the endpoint, or add the authority of a proxy that intercepts TLS to this machine's trust store"
    )]
    UntrustedCertificate(String),
}

impl LlmError {
    /// Whether signing in again is the way on: the front end says where (`/connect`,
    /// `kelp login`) after the message.
    pub fn wants_sign_in(&self) -> bool {
        matches!(self, Self::Auth(_) | Self::LoginExpired | Self::BadApiKey)
    }

    /// The category of this error.
    pub fn category(&self) -> ErrorCategory {
        match self {
            Self::Auth(_)
            | Self::LoginExpired
            | Self::BadApiKey
            | Self::UsageNotIncluded
            | Self::ProviderKeyMissing { .. }
            | Self::ProviderRefused { .. } => ErrorCategory::Auth,
            Self::RateLimited { .. } | Self::UsageLimitReached { .. } | Self::QuotaExceeded => {
                ErrorCategory::Limit
            }
            _ => ErrorCategory::Other,
        }
    }
}

impl From<AuthError> for LlmError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::LoginExpired => Self::LoginExpired,
            other => Self::Auth(other),
        }
    }
}

fn detail(message: &Option<String>) -> String {
    message
        .as_deref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default()
}

fn rate_limited_message(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!(
            "rate limited by the server: try again in {}",
            crate::humanize::wait(wait)
        ),
        None => "rate limited by the server: wait a moment and try again".to_string(),
    }
}

fn usage_limit_message(resets_at: Option<&DateTime<Local>>, plan: Option<&str>) -> String {
    let whose = plan
        .filter(|p| !p.is_empty())
        .map(|p| format!(" of your {p} plan"))
        .unwrap_or_default();
    match resets_at {
        Some(at) => {
            let same_day = at.date_naive() == Local::now().date_naive();
            let when = if same_day {
                at.format("%H:%M").to_string()
            } else {
                at.format("%a %-d %b %H:%M").to_string()
            };
            format!("usage limit{whose} reached: it resets at {when}")
        }
        None => format!("usage limit{whose} reached: try again later"),
    }
}

/// An error object as servers send it: `{"error":{…}}`'s inside, a `response.failed`'s
/// `response.error`, or an `error` event. Every field is optional because every server
/// fills in different ones.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ServerError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    /// Epoch seconds (`usage_limit_reached`).
    #[serde(default)]
    pub resets_at: Option<i64>,
    #[serde(default)]
    pub resets_in_seconds: Option<u64>,
    #[serde(default)]
    pub plan_type: Option<String>,
}

impl ServerError {
    /// Whether the code or type is `name`.
    fn is(&self, name: &str) -> bool {
        self.code.as_deref() == Some(name) || self.kind.as_deref() == Some(name)
    }

    /// Reads an error body: `{"error":{…}}`, `{"error":"…"}`, `{"detail":"…"}` or a
    /// top-level error object. Text that is not JSON yields its first line if it looks like
    /// words (an HTML error page does not).
    pub fn from_body(body: &str) -> Self {
        let Ok(value) = serde_json::from_str::<Value>(body) else {
            let line = body.trim().lines().next().unwrap_or("");
            let words = !line.starts_with('<') && !line.starts_with('{');
            return Self {
                message: words.then(|| line.to_string()).filter(|l| !l.is_empty()),
                ..Self::default()
            };
        };
        let mut error = match value.get("error") {
            Some(inner @ Value::Object(_)) => {
                serde_json::from_value::<Self>(inner.clone()).unwrap_or_default()
            }
            Some(Value::String(message)) => Self {
                message: Some(message.clone()),
                ..Self::default()
            },
            _ => serde_json::from_value::<Self>(value.clone()).unwrap_or_default(),
        };
        if error.message.is_none() {
            error.message = value
                .get("detail")
                .and_then(|d| match d {
                    Value::String(s) => Some(s.clone()),
                    Value::Object(o) => o.get("message").and_then(Value::as_str).map(str::to_owned),
                    _ => None,
                })
                .or_else(|| {
                    value
                        .get("message")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                });
        }
        if error.code.is_none()
            && let Some(code) = value
                .get("detail")
                .and_then(|d| d.get("code"))
                .and_then(Value::as_str)
        {
            error.code = Some(code.to_string());
        }
        error
    }

    /// The server's message made fit for one line: whitespace collapsed, at most 200 chars.
    pub fn one_line_message(&self) -> Option<String> {
        let message = self.message.as_deref()?;
        let mut line = message.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() {
            return None;
        }
        if line.chars().count() > 200 {
            line = line.chars().take(199).collect::<String>() + "…";
        }
        Some(line)
    }

    /// The wait asked for in the message, as in "Please try again in 1.5s" or "in 20ms".
    pub fn try_again_in(&self) -> Option<Duration> {
        let message = self.message.as_deref()?.to_ascii_lowercase();
        let at = message.find("try again in ")? + "try again in ".len();
        let rest = &message[at..];
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        let unit = rest[number_len..].trim_start();
        let secs = if unit.starts_with("ms") {
            number / 1000.0
        } else if unit.starts_with('s') {
            number
        } else if unit.starts_with('m') {
            number * 60.0
        } else {
            return None;
        };
        Duration::try_from_secs_f64(secs).ok()
    }

    fn resets_at_local(&self) -> Option<DateTime<Local>> {
        if let Some(at) = self.resets_at {
            return Local.timestamp_opt(at, 0).single();
        }
        // A nonsense value from the server must not panic; the message then leaves the time out.
        let secs = i64::try_from(self.resets_in_seconds?).ok()?;
        Local::now().checked_add_signed(chrono::TimeDelta::try_seconds(secs)?)
    }

    fn mentions_unsupported_model(&self) -> bool {
        if [
            "model_not_found",
            "unsupported_model",
            "model_not_supported",
        ]
        .iter()
        .any(|code| self.is(code))
        {
            return true;
        }
        let message = self.message.as_deref().unwrap_or("").to_ascii_lowercase();
        message.contains("model")
            && [
                "not supported",
                "does not exist",
                "not found",
                "not available",
            ]
            .iter()
            .any(|phrase| message.contains(phrase))
    }
}

/// The request a response belonged to, for messages that name it.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub model: String,
    pub login: LoginKind,
    /// The model provider's id, for what its refusals say.
    pub provider: String,
    /// How to mend a key the provider refused (which variable holds it).
    pub provider_key_fix: String,
}

/// What to do about a failed attempt.
#[derive(Debug)]
pub enum Verdict {
    /// Try again after `delay` (or the backoff, when `None`); give `error` if out of retries.
    Retry {
        delay: Option<Duration>,
        reason: String,
        error: LlmError,
    },
    /// No connection could be made (refused, no route, no name): retried as `Retry`, and once
    /// the retries are spent kelp waits for the network to come back.
    Unreachable { reason: String },
    /// The credential was refused: refresh a ChatGPT login once and try again.
    Unauthorized,
    /// Give up with this error.
    Fatal(LlmError),
}

/// Classifies an HTTP error response (PROTOCOL.md §7).
pub fn classify_status(
    status: u16,
    headers: &HeaderMap,
    body: &str,
    ctx: &RequestContext,
) -> Verdict {
    let error = ServerError::from_body(body);
    if let Some(verdict) = classify_known(&error, ctx, Some(headers)) {
        return verdict;
    }
    match status {
        401 => match ctx.login {
            LoginKind::ChatGpt => Verdict::Unauthorized,
            LoginKind::ApiKey => Verdict::Fatal(LlmError::BadApiKey),
            LoginKind::Provider => Verdict::Fatal(LlmError::ProviderRefused {
                provider: ctx.provider.clone(),
                fix: ctx.provider_key_fix.clone(),
            }),
        },
        429 => rate_limited(retry_after(headers).or_else(|| error.try_again_in())),
        404 if error.mentions_unsupported_model() || error.message.is_none() => {
            Verdict::Fatal(model_not_available(ctx))
        }
        400 if error.mentions_unsupported_model() => Verdict::Fatal(model_not_available(ctx)),
        408 | 500..=599 => {
            let reason = format!("server error (HTTP {status})");
            Verdict::Retry {
                delay: retry_after(headers),
                reason: reason.clone(),
                error: LlmError::Transient { reason, retries: 0 },
            }
        }
        _ => Verdict::Fatal(LlmError::Rejected {
            status,
            message: error.one_line_message(),
        }),
    }
}

/// Classifies a `response.failed` or `error` event that arrived in the stream.
pub fn classify_stream_error(error: &ServerError, ctx: &RequestContext) -> Verdict {
    if let Some(verdict) = classify_known(error, ctx, None) {
        return verdict;
    }
    if error.is("server_error") || error.is("server_is_overloaded") || error.is("slow_down") {
        let reason = "the server failed while answering".to_string();
        return Verdict::Retry {
            delay: None,
            reason: reason.clone(),
            error: LlmError::Transient { reason, retries: 0 },
        };
    }
    Verdict::Fatal(LlmError::Failed {
        message: error.one_line_message(),
    })
}

/// The error codes that mean the same whatever the status or channel.
fn classify_known(
    error: &ServerError,
    ctx: &RequestContext,
    headers: Option<&HeaderMap>,
) -> Option<Verdict> {
    let fatal = |e| Some(Verdict::Fatal(e));
    if error.is("usage_limit_reached") {
        return fatal(LlmError::UsageLimitReached {
            resets_at: error.resets_at_local(),
            plan: error.plan_type.clone(),
        });
    }
    if error.is("usage_not_included") {
        return fatal(LlmError::UsageNotIncluded);
    }
    if error.is("insufficient_quota") {
        return fatal(LlmError::QuotaExceeded);
    }
    if error.is("context_length_exceeded") {
        return fatal(LlmError::ContextTooLong);
    }
    if error.is("invalid_api_key") && ctx.login == LoginKind::ApiKey {
        return fatal(LlmError::BadApiKey);
    }
    if error.is("model_not_found") {
        return fatal(model_not_available(ctx));
    }
    if error.is("rate_limit_exceeded") {
        return Some(rate_limited(
            headers
                .and_then(retry_after)
                .or_else(|| error.try_again_in()),
        ));
    }
    None
}

fn rate_limited(delay: Option<Duration>) -> Verdict {
    Verdict::Retry {
        delay,
        reason: "rate limited".to_string(),
        error: LlmError::RateLimited { retry_after: delay },
    }
}

fn model_not_available(ctx: &RequestContext) -> LlmError {
    LlmError::ModelNotAvailable {
        model: ctx.model.clone(),
        login: ctx.login,
    }
}

/// The wait a 429 or 503 asks for: `retry-after-ms`, else `Retry-After` in seconds or as an
/// HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return Duration::try_from_secs_f64(ms / 1000.0).ok();
    }
    let value = text("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.timestamp_millis() - chrono::Utc::now().timestamp_millis();
    Some(Duration::from_millis(u64::try_from(wait).unwrap_or(0)))
}

/// A reqwest error in plain words; its URL is dropped because it says nothing new.
pub fn network_words(e: &reqwest::Error) -> &'static str {
    if e.is_connect() {
        "could not connect to the server"
    } else if e.is_timeout() {
        "the connection timed out"
    } else if e.is_body() || e.is_decode() {
        "the connection broke while reading the answer"
    } else {
        "network error"
    }
}

/// Why the TLS certificate under `e` was refused, in words, when that is what failed.
pub(crate) fn refused_certificate(e: &reqwest::Error) -> Option<String> {
    use rustls::CertificateError;
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = next {
        // hyper hands rustls' error over inside io::Errors, whose `source` skips what they wrap.
        let wrapped = error
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        if let Some(rustls::Error::InvalidCertificate(why)) = error.downcast_ref::<rustls::Error>()
        {
            return Some(match why {
                CertificateError::UnknownIssuer => {
                    "signed by an authority this machine does not trust".to_string()
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "expired".to_string()
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    "not valid for this host name".to_string()
                }
                CertificateError::Revoked => "revoked".to_string(),
                other => {
                    tracing::debug!(reason = ?other, "TLS certificate refused");
                    "not accepted by this machine's trust store".to_string()
                }
            });
        }
        next = wrapped.or_else(|| error.source());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn ctx(login: LoginKind) -> RequestContext {
        RequestContext {
            model: "gpt-5.5".into(),
            login,
            provider: "mock".into(),
            provider_key_fix: "check MOCK_KEY".into(),
        }
    }

    fn fatal(status: u16, body: &str, login: LoginKind) -> LlmError {
        match classify_status(status, &HeaderMap::new(), body, &ctx(login)) {
            Verdict::Fatal(e) => e,
            other => panic!("fatal expected, got {other:?}"),
        }
    }

    #[test]
    fn absurd_reset_times_leave_the_time_out_instead_of_panicking() {
        for error in [
            r#"{"error":{"type":"usage_limit_reached","resets_in_seconds":9223372036854775807}}"#,
            r#"{"error":{"type":"usage_limit_reached","resets_in_seconds":18446744073709551615}}"#,
            r#"{"error":{"type":"usage_limit_reached","resets_in_seconds":9223372036854775}}"#,
            r#"{"error":{"type":"usage_limit_reached","resets_at":9223372036854775807}}"#,
            r#"{"error":{"type":"usage_limit_reached","resets_at":-9223372036854775808}}"#,
            r#"{"error":{"type":"usage_limit_reached","resets_at":8210298412799}}"#,
        ] {
            let e = fatal(429, error, LoginKind::ChatGpt);
            assert!(matches!(e, LlmError::UsageLimitReached { .. }), "{error}");
            let msg = e.to_string();
            assert!(msg.starts_with("usage limit reached"), "{msg}");
        }
    }

    #[test]
    fn each_error_class_has_its_own_plain_message() {
        use LoginKind::*;
        let e = fatal(
            429,
            r#"{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","plan_type":"plus","resets_at":4102444800}}"#,
            ChatGpt,
        );
        assert!(matches!(e, LlmError::UsageLimitReached { .. }));
        let msg = e.to_string();
        assert!(
            msg.starts_with("usage limit of your plus plan reached: it resets at "),
            "{msg}"
        );
        assert!(!msg.contains('{'));
        assert_eq!(e.category(), ErrorCategory::Limit);

        let e = fatal(403, r#"{"error":{"type":"usage_not_included"}}"#, ChatGpt);
        assert!(
            e.to_string()
                .contains("upgrade your plan (Plus or higher) or use an API key")
        );
        assert_eq!(e.category(), ErrorCategory::Auth);

        let e = fatal(
            429,
            r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#,
            ApiKey,
        );
        assert!(e.to_string().contains("out of quota"));

        let e = fatal(
            400,
            r#"{"error":{"message":"Your input exceeds the context window","code":"context_length_exceeded"}}"#,
            ApiKey,
        );
        assert_eq!(
            e.to_string(),
            "the conversation is too long for the model: start a new one"
        );

        let e = fatal(
            401,
            r#"{"error":{"message":"Incorrect API key provided: sk-abc"}}"#,
            ApiKey,
        );
        assert!(matches!(e, LlmError::BadApiKey));
        assert!(!e.to_string().contains("sk-abc"));
        assert_eq!(e.category(), ErrorCategory::Auth);

        let e = fatal(
            401,
            r#"{"error":{"message":"Incorrect API key provided: sk-abc","code":"invalid_api_key"}}"#,
            Provider,
        );
        assert_eq!(
            e.to_string(),
            "model provider `mock` refused the request (HTTP 401): check MOCK_KEY"
        );
        assert!(!e.wants_sign_in(), "kelp's login is not the provider's");

        let e = fatal(
            400,
            r#"{"detail":"The 'gpt-4o' model is not supported when using Codex with a ChatGPT account."}"#,
            ChatGpt,
        );
        assert_eq!(
            e.to_string(),
            "the model gpt-5.5 is not available with your ChatGPT login: pick another model"
        );
        let e = fatal(
            404,
            r#"{"error":{"message":"The model `x` does not exist","code":"model_not_found"}}"#,
            ApiKey,
        );
        assert!(e.to_string().contains("with your API key"));

        let e = fatal(
            400,
            r#"{"error":{"message":"Bad  thing\nhappened"}}"#,
            ApiKey,
        );
        assert_eq!(
            e.to_string(),
            "the server refused the request (HTTP 400): Bad thing happened"
        );
        let e = fatal(418, "<html><body>teapot</body></html>", ApiKey);
        assert_eq!(e.to_string(), "the server refused the request (HTTP 418)");
    }

    #[test]
    fn unauthorized_chatgpt_asks_for_a_refresh() {
        assert!(matches!(
            classify_status(401, &HeaderMap::new(), "", &ctx(LoginKind::ChatGpt)),
            Verdict::Unauthorized
        ));
    }

    #[test]
    fn server_errors_and_rate_limits_are_retried_with_the_asked_delay() {
        let mut headers = HeaderMap::new();
        assert!(matches!(
            classify_status(503, &headers, "oops", &ctx(LoginKind::ApiKey)),
            Verdict::Retry { delay: None, .. }
        ));
        headers.insert("retry-after", HeaderValue::from_static("1"));
        let Verdict::Retry { delay, error, .. } =
            classify_status(429, &headers, "", &ctx(LoginKind::ApiKey))
        else {
            panic!("retry expected")
        };
        assert_eq!(delay, Some(Duration::from_secs(1)));
        assert_eq!(
            error.to_string(),
            "rate limited by the server: try again in 1 s"
        );
        let Verdict::Retry { delay, .. } = classify_status(
            429,
            &HeaderMap::new(),
            r#"{"error":{"code":"rate_limit_exceeded","message":"Rate limit reached. Please try again in 1.5s."}}"#,
            &ctx(LoginKind::ApiKey),
        ) else {
            panic!("retry expected")
        };
        assert_eq!(delay, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn try_again_in_understands_the_units_servers_use() {
        let wait = |m: &str| {
            ServerError {
                message: Some(m.into()),
                ..ServerError::default()
            }
            .try_again_in()
        };
        assert_eq!(
            wait("Please try again in 20ms."),
            Some(Duration::from_millis(20))
        );
        assert_eq!(wait("try again in 7s"), Some(Duration::from_secs(7)));
        assert_eq!(wait("Try again in 2m"), Some(Duration::from_secs(120)));
        assert_eq!(wait("try again later"), None);
    }

    #[test]
    fn stream_errors_are_classified_by_code() {
        let c = ctx(LoginKind::ChatGpt);
        let err = |code: &str| ServerError {
            code: Some(code.into()),
            message: Some("m".into()),
            ..ServerError::default()
        };
        assert!(matches!(
            classify_stream_error(&err("server_error"), &c),
            Verdict::Retry { .. }
        ));
        assert!(matches!(
            classify_stream_error(&err("context_length_exceeded"), &c),
            Verdict::Fatal(LlmError::ContextTooLong)
        ));
        let Verdict::Fatal(e) = classify_stream_error(&err("weird"), &c) else {
            panic!("fatal expected")
        };
        assert_eq!(e.to_string(), "the model could not answer: m");
    }
}
