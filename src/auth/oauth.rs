//! The issuer's token endpoint (PROTOCOL.md §2.5, §4): the code exchange, the refresh request,
//! revocation, and turning a token response into the stored login.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{Value, json};
use thiserror::Error;

use super::jwt;
use super::store::OAuthEntry;
use crate::config::CLIENT_ID;
use crate::protocol::Account;

/// How long one token request may take.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);
/// Revocation is best effort on the way out; never hold the user up for long.
pub const REVOKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A token request that did not produce tokens. Never holds a token.
#[derive(Debug, Error)]
pub enum OAuthError {
    /// The request did not get an answer (connection, timeout).
    #[error("cannot reach the login server: {0}")]
    Network(String),
    /// The issuer answered with an error status.
    #[error("HTTP {status} from the login server{}", details(message))]
    Rejected {
        status: u16,
        /// `error.code`, `error` or `code` of the body, when it has one.
        code: Option<String>,
        /// The readable part of a JSON body (`error_description`, `error.message` or `error`);
        /// empty when there is none. Never raw body text: a proxy page may echo the request.
        message: String,
    },
    /// A 2xx answer kelp cannot use.
    #[error("the login server sent an answer kelp cannot read: {0}")]
    BadResponse(String),
}

/// Tokens as the issuer returns them; every field is optional because a refresh may omit any.
#[derive(Clone, Default, Deserialize)]
pub struct TokenResponse {
    /// The OpenID token with the identity claims.
    pub id_token: Option<String>,
    /// The access token (a JWT).
    pub access_token: Option<String>,
    /// The refresh token; it rotates.
    pub refresh_token: Option<String>,
    /// Seconds until the access token expires, used when its JWT has no `exp`. Read leniently
    /// (integer, float or numeric string; anything else counts as absent): by the time this is
    /// parsed the one-time code is spent, so a quibble here must not cost the login.
    #[serde(default, deserialize_with = "lenient_seconds")]
    pub expires_in: Option<i64>,
}

fn lenient_seconds<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<i64>, D::Error> {
    let value = Value::deserialize(de)?;
    let seconds = match &value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<f64>().ok().map(|f| f as i64),
        _ => None,
    };
    Ok(seconds)
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("id_token", &self.id_token.as_ref().map(|_| "<redacted>"))
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Exchanges an authorization code for tokens (form-encoded, as the issuer requires).
pub async fn exchange_code(
    http: &reqwest::Client,
    issuer: &str,
    code: &str,
    redirect_uri: &str,
    code_verifier: &str,
) -> Result<TokenResponse, OAuthError> {
    let request = http
        .post(format!("{issuer}/oauth/token"))
        .timeout(TOKEN_TIMEOUT)
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", code_verifier),
        ]);
    token_call(request).await
}

/// Trades a refresh token for new tokens.
pub async fn refresh(
    http: &reqwest::Client,
    issuer: &str,
    refresh_token: &str,
) -> Result<TokenResponse, OAuthError> {
    let request = http
        .post(format!("{issuer}/oauth/token"))
        .timeout(TOKEN_TIMEOUT)
        .json(&json!({
            "client_id": CLIENT_ID,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }));
    token_call(request).await
}

/// Revokes a refresh token.
pub async fn revoke(
    http: &reqwest::Client,
    issuer: &str,
    refresh_token: &str,
) -> Result<(), OAuthError> {
    let response = http
        .post(format!("{issuer}/oauth/revoke"))
        .timeout(REVOKE_TIMEOUT)
        .json(&json!({
            "token": refresh_token,
            "token_type_hint": "refresh_token",
            "client_id": CLIENT_ID,
        }))
        .send()
        .await
        .map_err(network)?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    Err(rejected(status.as_u16(), &body))
}

async fn token_call(request: reqwest::RequestBuilder) -> Result<TokenResponse, OAuthError> {
    let response = request.send().await.map_err(network)?;
    let status = response.status();
    let body = response.text().await.map_err(network)?;
    if !status.is_success() {
        return Err(rejected(status.as_u16(), &body));
    }
    serde_json::from_str(&body).map_err(|e| OAuthError::BadResponse(e.to_string()))
}

/// A transport error as one line without the URL (which names our issuer, not a secret, but
/// adds nothing the person can act on).
pub fn network(error: reqwest::Error) -> OAuthError {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    OAuthError::Network(format!("{kind} ({})", error.without_url()))
}

/// An error answer: its code and its most readable message (PROTOCOL.md §2.5).
pub fn rejected(status: u16, body: &str) -> OAuthError {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let error = parsed.get("error");
    let message = text(parsed.get("error_description"))
        .or_else(|| text(error.and_then(|e| e.get("message"))))
        .or_else(|| text(error))
        .or_else(|| text(parsed.get("message")))
        .or_else(|| text(parsed.get("detail")))
        .unwrap_or_default();
    let code = text(error.and_then(|e| e.get("code")))
        .or_else(|| text(error))
        .or_else(|| text(parsed.get("code")));
    OAuthError::Rejected {
        status,
        code,
        message: one_line(&message),
    }
}

fn details(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

/// Server text squeezed onto one line, so every message stays one line.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The stored entry for a token response. `previous` supplies what a refresh may omit (the
/// refresh token, when it did not rotate, and the account id).
pub fn entry_from_tokens(
    tokens: &TokenResponse,
    previous: Option<&OAuthEntry>,
) -> Result<OAuthEntry, OAuthError> {
    let access = tokens
        .access_token
        .clone()
        .ok_or_else(|| OAuthError::BadResponse("no access_token".into()))?;
    let refresh = tokens
        .refresh_token
        .clone()
        .or_else(|| previous.map(|p| p.refresh.clone()))
        .ok_or_else(|| OAuthError::BadResponse("no refresh_token".into()))?;
    let claims = jwt::login_claims(tokens.id_token.as_deref(), &access);
    let now_ms = now_ms();
    let expires_ms = claims
        .expires_at
        .map(|s| s.saturating_mul(1000))
        .or_else(|| {
            tokens
                .expires_in
                .map(|s| now_ms.saturating_add(s.saturating_mul(1000)))
        })
        // Without either, assume the usual hour so the next refresh comes in due time.
        .unwrap_or_else(|| now_ms.saturating_add(3_600_000));
    Ok(OAuthEntry {
        refresh,
        access,
        expires_ms,
        account_id: claims
            .account_id
            .or_else(|| previous.and_then(|p| p.account_id.clone())),
    })
}

/// Who a token response belongs to.
pub fn account_from_tokens(tokens: &TokenResponse, entry: &OAuthEntry) -> Account {
    let claims = jwt::login_claims(tokens.id_token.as_deref(), &entry.access);
    Account {
        email: claims.email,
        plan: claims.plan,
        account_id: entry.account_id.clone().or(claims.account_id),
    }
}

/// Wall-clock time in epoch milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_show_the_first_readable_field() {
        let e = rejected(
            400,
            r#"{"error":"invalid_grant","error_description":"code  expired\nearlier"}"#,
        );
        let OAuthError::Rejected { code, message, .. } = e else {
            panic!()
        };
        assert_eq!(code.as_deref(), Some("invalid_grant"));
        assert_eq!(message, "code expired earlier");

        let e = rejected(
            401,
            r#"{"error":{"code":"refresh_token_reused","message":"already used"}}"#,
        );
        let OAuthError::Rejected { code, message, .. } = e else {
            panic!()
        };
        assert_eq!(code.as_deref(), Some("refresh_token_reused"));
        assert_eq!(message, "already used");

        let e = rejected(400, r#"{"error":"invalid_grant"}"#);
        assert_eq!(
            e.to_string(),
            "HTTP 400 from the login server: invalid_grant"
        );
        let e = rejected(400, r#"{"code":"refresh_token_expired"}"#);
        assert!(
            matches!(e, OAuthError::Rejected { code: Some(c), .. } if c == "refresh_token_expired")
        );
    }

    #[test]
    fn expires_in_is_read_leniently() {
        let parse = |json: &str| {
            serde_json::from_str::<TokenResponse>(json)
                .unwrap()
                .expires_in
        };
        assert_eq!(
            parse(r#"{"access_token":"a","expires_in":3600}"#),
            Some(3600)
        );
        assert_eq!(
            parse(r#"{"access_token":"a","expires_in":3599.7}"#),
            Some(3599)
        );
        assert_eq!(
            parse(r#"{"access_token":"a","expires_in":" 120 "}"#),
            Some(120)
        );
        assert_eq!(parse(r#"{"access_token":"a","expires_in":"soon"}"#), None);
        assert_eq!(parse(r#"{"access_token":"a","expires_in":null}"#), None);
        assert_eq!(parse(r#"{"access_token":"a","expires_in":{}}"#), None);
        assert_eq!(parse(r#"{"access_token":"a"}"#), None);
    }

    #[test]
    fn a_body_that_is_not_json_never_reaches_the_message() {
        // A proxy error page may echo the form it was sent, tokens included.
        let body = "<html>Bad gateway for grant_type=refresh_token&refresh_token=rt-secret-123 \
                    code_verifier=cv-secret-456</html>";
        let e = rejected(500, body);
        assert_eq!(e.to_string(), "HTTP 500 from the login server");
        let debug = format!("{e:?}");
        assert!(!debug.contains("secret"), "{debug}");
    }

    #[test]
    fn a_refresh_without_a_new_refresh_token_keeps_the_old_one() {
        let previous = OAuthEntry {
            refresh: "rt_old".into(),
            access: "old".into(),
            expires_ms: 1,
            account_id: Some("acct_old".into()),
        };
        let tokens = TokenResponse {
            access_token: Some("not-a-jwt".into()),
            expires_in: Some(60),
            ..Default::default()
        };
        let entry = entry_from_tokens(&tokens, Some(&previous)).unwrap();
        assert_eq!(entry.refresh, "rt_old");
        assert_eq!(entry.account_id.as_deref(), Some("acct_old"));
        let in_a_minute = now_ms() + 60_000;
        assert!((in_a_minute - entry.expires_ms).abs() < 5_000);
        assert!(entry_from_tokens(&tokens, None).is_err());
    }

    #[test]
    fn debug_hides_tokens() {
        let tokens = TokenResponse {
            access_token: Some("secret-access".into()),
            refresh_token: Some("secret-refresh".into()),
            ..Default::default()
        };
        let shown = format!("{tokens:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}
