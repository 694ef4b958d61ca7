//! The claims kelp reads from the issuer's JWTs (PROTOCOL.md §4). Signatures are not checked:
//! the tokens come straight from the issuer over TLS, and the server checks them on every use.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use thiserror::Error;

/// The namespaced claim holding the ChatGPT account fields.
const AUTH_CLAIM: &str = "https://api.openai.com/auth";
/// The namespaced claim holding the profile (email).
const PROFILE_CLAIM: &str = "https://api.openai.com/profile";

/// Why a token's claims could not be read. Never holds the token.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("the token is not a JWT (expected three dot-separated parts)")]
    NotAJwt,
    #[error("the token's payload is not base64url")]
    BadEncoding,
    #[error("the token's payload is not a JSON object")]
    BadJson,
}

/// What kelp needs to know about a login, read from one token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    /// The person's email.
    pub email: Option<String>,
    /// `chatgpt_plan_type`: plus, pro, team…
    pub plan: Option<String>,
    /// The ChatGPT account id sent as `chatgpt-account-id`.
    pub account_id: Option<String>,
    /// `chatgpt_user_id`, else `user_id`.
    pub user_id: Option<String>,
    /// `exp`, epoch seconds.
    pub expires_at: Option<i64>,
}

impl Claims {
    /// Fills every field this one lacks from `other`.
    pub fn or(self, other: Claims) -> Claims {
        Claims {
            email: self.email.or(other.email),
            plan: self.plan.or(other.plan),
            account_id: self.account_id.or(other.account_id),
            user_id: self.user_id.or(other.user_id),
            expires_at: self.expires_at.or(other.expires_at),
        }
    }
}

/// The decoded payload (middle segment) of a JWT.
pub fn payload(token: &str) -> Result<Map<String, Value>, JwtError> {
    let mut parts = token.split('.');
    let (Some(_header), Some(body), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::NotAJwt);
    };
    // Some encoders pad anyway; the padding carries no data.
    let bytes = URL_SAFE_NO_PAD
        .decode(body.trim_end_matches('='))
        .map_err(|_| JwtError::BadEncoding)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JwtError::BadJson),
    }
}

/// The claims of one token, with the fallbacks of PROTOCOL.md §4 (opencode's included).
pub fn claims(token: &str) -> Result<Claims, JwtError> {
    let payload = payload(token)?;
    let text = |value: Option<&Value>| {
        value
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let auth = payload.get(AUTH_CLAIM);
    let profile = payload.get(PROFILE_CLAIM);
    let field = |claim: Option<&Value>, name: &str| text(claim.and_then(|c| c.get(name)));
    Ok(Claims {
        email: text(payload.get("email")).or_else(|| field(profile, "email")),
        plan: field(auth, "chatgpt_plan_type"),
        account_id: field(auth, "chatgpt_account_id")
            .or_else(|| text(payload.get("chatgpt_account_id")))
            .or_else(|| {
                text(
                    payload
                        .get("organizations")
                        .and_then(|orgs| orgs.get(0))
                        .and_then(|org| org.get("id")),
                )
            }),
        user_id: field(auth, "chatgpt_user_id").or_else(|| field(auth, "user_id")),
        expires_at: payload
            .get("exp")
            .and_then(|exp| exp.as_i64().or_else(|| exp.as_f64().map(|f| f as i64))),
    })
}

/// The login's identity: the id token's claims first, the access token's for what it lacks.
/// Expiry always comes from the access token, since that is the token whose life matters.
pub fn login_claims(id_token: Option<&str>, access_token: &str) -> Claims {
    let access = claims(access_token).unwrap_or_default();
    let id = id_token
        .and_then(|token| claims(token).ok())
        .unwrap_or_default();
    Claims {
        expires_at: access.expires_at,
        ..id.or(access)
    }
}

/// A token carrying `payload`, with no real signature: the shape kelp reads claims from.
#[cfg(test)]
pub(crate) fn unsigned_token(payload: &Value) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.sig",
        part(&serde_json::json!({"alg":"RS256","typ":"JWT"})),
        part(payload)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jwt(payload: &Value) -> String {
        unsigned_token(payload)
    }

    #[test]
    fn reads_the_namespaced_claims_of_an_id_token() {
        let token = jwt(&json!({
            "email": "ana@example.com",
            "exp": 1_800_000_000,
            AUTH_CLAIM: {
                "chatgpt_account_id": "acct_1",
                "chatgpt_plan_type": "pro",
                "chatgpt_user_id": "user_1",
                "user_id": "user_old"
            }
        }));
        assert_eq!(
            claims(&token).unwrap(),
            Claims {
                email: Some("ana@example.com".into()),
                plan: Some("pro".into()),
                account_id: Some("acct_1".into()),
                user_id: Some("user_1".into()),
                expires_at: Some(1_800_000_000),
            }
        );
    }

    #[test]
    fn email_falls_back_to_the_profile_claim() {
        let token = jwt(&json!({PROFILE_CLAIM: {"email": "bo@example.com"}}));
        assert_eq!(
            claims(&token).unwrap().email.as_deref(),
            Some("bo@example.com")
        );
    }

    #[test]
    fn user_id_falls_back_to_user_id() {
        let token = jwt(&json!({AUTH_CLAIM: {"user_id": "user_2"}}));
        assert_eq!(claims(&token).unwrap().user_id.as_deref(), Some("user_2"));
    }

    #[test]
    fn account_id_falls_back_to_top_level_then_organizations() {
        let top = jwt(&json!({
            "chatgpt_account_id": "acct_top",
            "organizations": [{"id": "org_1"}]
        }));
        assert_eq!(
            claims(&top).unwrap().account_id.as_deref(),
            Some("acct_top")
        );
        let orgs = jwt(&json!({"organizations": [{"id": "org_1"}, {"id": "org_2"}]}));
        assert_eq!(claims(&orgs).unwrap().account_id.as_deref(), Some("org_1"));
        let namespaced_wins = jwt(&json!({
            "chatgpt_account_id": "acct_top",
            AUTH_CLAIM: {"chatgpt_account_id": "acct_ns"}
        }));
        assert_eq!(
            claims(&namespaced_wins).unwrap().account_id.as_deref(),
            Some("acct_ns")
        );
    }

    #[test]
    fn the_access_token_fills_what_the_id_token_lacks() {
        let id = jwt(&json!({"email": "ana@example.com", "exp": 1}));
        let access = jwt(&json!({
            "exp": 1_900_000_000,
            AUTH_CLAIM: {"chatgpt_account_id": "acct_a", "chatgpt_plan_type": "plus"}
        }));
        let merged = login_claims(Some(&id), &access);
        assert_eq!(merged.email.as_deref(), Some("ana@example.com"));
        assert_eq!(merged.account_id.as_deref(), Some("acct_a"));
        assert_eq!(merged.plan.as_deref(), Some("plus"));
        assert_eq!(merged.expires_at, Some(1_900_000_000));
        // No id token at all, or a broken one: the access token alone.
        assert_eq!(
            login_claims(None, &access).account_id.as_deref(),
            Some("acct_a")
        );
        assert_eq!(
            login_claims(Some("garbage"), &access).plan.as_deref(),
            Some("plus")
        );
    }

    #[test]
    fn malformed_tokens_are_errors_not_panics() {
        assert_eq!(claims("abc"), Err(JwtError::NotAJwt));
        assert_eq!(claims("a.b.c.d"), Err(JwtError::NotAJwt));
        assert_eq!(claims("a.!!!.c"), Err(JwtError::BadEncoding));
        let array = format!("h.{}.s", URL_SAFE_NO_PAD.encode("[1]"));
        assert_eq!(claims(&array), Err(JwtError::BadJson));
        let padded = format!("h.{}=.s", URL_SAFE_NO_PAD.encode(r#"{"email":"x@y.z"}"#));
        assert_eq!(claims(&padded).unwrap().email.as_deref(), Some("x@y.z"));
    }
}
