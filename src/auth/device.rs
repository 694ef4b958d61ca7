//! The device-code login (PROTOCOL.md §3), for SSH sessions and machines without a browser:
//! ask for a user code, show it, poll until the person approves it elsewhere, then exchange.

use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::{Value, json};

use super::flow::{Flow, LoginError};

use super::oauth::{self, OAuthError};
use super::pkce;
use crate::config::CLIENT_ID;
use crate::protocol::DeviceCode;
use crate::protocol::{Account, LoginEvent};

/// Used when the server sends no usable `interval`.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// Never poll faster than this, whatever the server says.
const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// A server asking for longer waits would outlive the code; capping also keeps time math finite.
const MAX_INTERVAL: Duration = Duration::from_secs(60);
/// What a `slow_down` answer adds to the interval (RFC 8628 §3.5).
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
struct UserCodeBody {
    device_auth_id: String,
    #[serde(alias = "usercode")]
    user_code: String,
    #[serde(default)]
    interval: Value,
}

/// What a successful poll returns: the server made the PKCE pair.
#[derive(Deserialize)]
struct Grant {
    authorization_code: String,
    code_verifier: String,
    #[serde(default)]
    code_challenge: Option<String>,
}

/// The page where the person enters the code.
pub fn verification_url(issuer: &str) -> String {
    format!("{issuer}/codex/device")
}

/// The redirect URI the device grant is exchanged with.
pub fn device_redirect_uri(issuer: &str) -> String {
    format!("{issuer}/deviceauth/callback")
}

/// Whether a user code looks like one a person types: a few letters, digits and dashes
/// (`ABCD-12345`). Anything else is refused rather than shown.
fn plausible_user_code(code: &str) -> bool {
    (4..=32).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `interval` arrives as a JSON string of seconds ("5"), sometimes as a number.
pub fn parse_interval(value: &Value) -> Duration {
    let seconds = match value {
        Value::String(text) => text.trim().parse::<f64>().ok(),
        Value::Number(number) => number.as_f64(),
        _ => None,
    };
    seconds
        .filter(|s| s.is_finite())
        .and_then(|s| Duration::try_from_secs_f64(s.min(MAX_INTERVAL.as_secs_f64())).ok())
        .unwrap_or(DEFAULT_INTERVAL)
        .clamp(MIN_INTERVAL, MAX_INTERVAL)
}

/// Runs the device flow until the code is approved and the login saved, or it fails or expires.
/// Cancelling is dropping this future.
pub(crate) async fn run(flow: &Flow) -> Result<Account, LoginError> {
    let issuer = &flow.options.issuer;
    let code = request_user_code(&flow.http, issuer).await?;
    let lifetime = flow.options.device_expiry;
    let deadline = tokio::time::Instant::now() + lifetime;
    flow.emit(LoginEvent::DeviceCode {
        verification_url: verification_url(issuer),
        user_code: code.user_code.clone(),
        expires_at: SystemTime::now() + lifetime,
    });
    let grant = poll_until_approved(flow, &code, deadline).await?;
    if let Some(challenge) = &grant.code_challenge
        && *challenge != pkce::challenge_for(&grant.code_verifier)
    {
        tracing::warn!("the device grant's PKCE pair does not match; exchanging anyway");
    }
    flow.emit(LoginEvent::Exchanging);
    let tokens = oauth::exchange_code(
        &flow.http,
        issuer,
        &grant.authorization_code,
        &device_redirect_uri(issuer),
        &grant.code_verifier,
    )
    .await?;
    let entry = oauth::entry_from_tokens(&tokens, None)?;
    let account = oauth::account_from_tokens(&tokens, &entry);
    super::logins::save_login(&flow.store, flow.options.name.clone(), entry).await?;
    Ok(account)
}

/// `POST …/deviceauth/usercode`.
pub async fn request_user_code(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<DeviceCode, LoginError> {
    let response = http
        .post(format!("{issuer}/api/accounts/deviceauth/usercode"))
        .timeout(REQUEST_TIMEOUT)
        .json(&json!({"client_id": CLIENT_ID}))
        .send()
        .await
        .map_err(oauth::network)?;
    let status = response.status();
    let body = response.text().await.map_err(oauth::network)?;
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(LoginError::DeviceLoginDisabled);
    }
    if !status.is_success() {
        return Err(oauth::rejected(status.as_u16(), &body).into());
    }
    let parsed: UserCodeBody = serde_json::from_str(&body)
        .map_err(|e| OAuthError::BadResponse(format!("device code: {e}")))?;
    if !plausible_user_code(&parsed.user_code) {
        // Not shown: it is the server's text, and a code is short letters and digits.
        return Err(OAuthError::BadResponse(format!(
            "a device code of {} characters that are not all letters, digits and dashes",
            parsed.user_code.chars().count()
        ))
        .into());
    }
    Ok(DeviceCode {
        device_auth_id: parsed.device_auth_id,
        user_code: parsed.user_code,
        interval: parse_interval(&parsed.interval),
    })
}

/// Polls until the code is approved, following RFC 8628: `slow_down` adds 5 s to the interval
/// for good; a server error, a 429, a network failure or an answer kelp cannot read is retried
/// with a growing wait until the code expires; only `access_denied` and `expired_token` end the
/// login early. A login that expires while its polls fail says the last failure.
async fn poll_until_approved(
    flow: &Flow,
    code: &DeviceCode,
    deadline: tokio::time::Instant,
) -> Result<Grant, LoginError> {
    let mut interval = code.interval;
    let mut failures = 0u32;
    let mut last_failure = None;
    loop {
        match poll_once(flow, code).await {
            Ok(Some(grant)) => return Ok(grant),
            Ok(None) => {
                failures = 0;
                last_failure = None;
            }
            Err(OAuthError::Rejected {
                code: Some(code),
                message,
                ..
            }) if matches!(code.as_str(), "expired_token" | "access_denied") => {
                return Err(if code == "expired_token" {
                    LoginError::DeviceCodeExpired
                } else if message.is_empty() {
                    LoginError::Denied("the code was declined".to_string())
                } else {
                    LoginError::Denied(message)
                });
            }
            Err(OAuthError::Rejected {
                code: Some(code), ..
            }) if code == "slow_down" => {
                interval = (interval + SLOW_DOWN_STEP).min(MAX_INTERVAL);
                failures = 0;
                last_failure = None;
                tracing::info!(interval = ?interval, "device poll: slow down");
            }
            Err(OAuthError::Rejected {
                code: Some(code), ..
            }) if code == "authorization_pending" => {}
            Err(error) => {
                failures += 1;
                tracing::info!(%error, failures, "device poll failed; trying again");
                last_failure = Some(error);
            }
        }
        // After failures the wait doubles, up to the longest interval.
        let wait = interval
            .saturating_mul(1 << failures.min(4))
            .min(MAX_INTERVAL.max(interval));
        let now = tokio::time::Instant::now();
        if now.checked_add(wait).is_none_or(|next| next >= deadline) {
            // The code dies before the next poll could be answered.
            tokio::time::sleep_until(deadline).await;
            return Err(match last_failure {
                Some(error) => error.into(),
                None => LoginError::DeviceCodeExpired,
            });
        }
        tokio::time::sleep(wait).await;
    }
}

/// One poll: `Some` once approved, `None` while pending (403 or 404).
async fn poll_once(flow: &Flow, code: &DeviceCode) -> Result<Option<Grant>, OAuthError> {
    let response = flow
        .http
        .post(format!(
            "{}/api/accounts/deviceauth/token",
            flow.options.issuer
        ))
        .timeout(REQUEST_TIMEOUT)
        .json(&json!({
            "device_auth_id": code.device_auth_id,
            "user_code": code.user_code,
        }))
        .send()
        .await
        .map_err(oauth::network)?;
    let status = response.status();
    if matches!(status.as_u16(), 403 | 404) {
        return Ok(None);
    }
    let body = response.text().await.map_err(oauth::network)?;
    if !status.is_success() {
        return Err(oauth::rejected(status.as_u16(), &body));
    }
    serde_json::from_str(&body)
        .map(Some)
        .map_err(|e| OAuthError::BadResponse(format!("device grant: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_intervals_are_clamped_instead_of_panicking() {
        assert_eq!(parse_interval(&json!("1e300")), MAX_INTERVAL);
        assert_eq!(parse_interval(&json!(1e300)), MAX_INTERVAL);
        assert_eq!(parse_interval(&json!("3600")), MAX_INTERVAL);
        assert_eq!(parse_interval(&json!("-5")), DEFAULT_INTERVAL);
        assert_eq!(parse_interval(&json!("NaN")), DEFAULT_INTERVAL);
        assert_eq!(parse_interval(&json!("0")), MIN_INTERVAL);
    }

    #[test]
    fn interval_is_a_string_or_a_number() {
        assert_eq!(parse_interval(&json!("5")), Duration::from_secs(5));
        assert_eq!(parse_interval(&json!(" 7 ")), Duration::from_secs(7));
        assert_eq!(parse_interval(&json!(3)), Duration::from_secs(3));
        assert_eq!(parse_interval(&json!(2.5)), Duration::from_millis(2500));
        assert_eq!(parse_interval(&Value::Null), DEFAULT_INTERVAL);
        assert_eq!(parse_interval(&json!("soon")), DEFAULT_INTERVAL);
        assert_eq!(parse_interval(&json!(0)), MIN_INTERVAL);
        assert_eq!(parse_interval(&json!(-4)), DEFAULT_INTERVAL);
    }
}
