//! The tokens the issuer hands out, and what became of each (rotated, revoked, expired).

use std::collections::HashMap;

use serde_json::{Value, json};

use super::{CLIENT_ID, Config, jwt, now_ms, pkce};

/// A login as the issuer returns it: valid on the fake that minted it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tokens {
    pub id_token: String,
    pub access_token: String,
    pub refresh_token: String,
    /// The access token's `exp`, in epoch milliseconds (auth.json's `expires`).
    pub expires_at_ms: i64,
    /// `chatgpt_account_id` of the claims (auth.json's `accountId`).
    pub account_id: String,
}

impl Tokens {
    /// This login as an opencode `auth.json` entry (`{"type":"oauth","refresh","access",
    /// "expires","accountId"}`), to write under a provider key such as `"openai"`.
    pub fn auth_json_entry(&self) -> Value {
        json!({
            "type": "oauth",
            "refresh": self.refresh_token,
            "access": self.access_token,
            "expires": self.expires_at_ms,
            "accountId": self.account_id,
        })
    }

    /// The `/oauth/token` response body.
    pub fn to_json(&self) -> Value {
        json!({
            "id_token": self.id_token,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_in": ((self.expires_at_ms - now_ms()) / 1000).max(0),
            "token_type": "Bearer",
            "scope": "openid profile email offline_access",
        })
    }
}

/// Why an access token is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessDenied {
    Unknown,
    Expired,
    Revoked,
}

/// What a refresh token may still do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshState {
    Active,
    /// Rotated away: presenting it again is `refresh_token_reused`.
    Used,
    Revoked,
}

struct Access {
    expires_at_ms: i64,
    account_id: String,
    revoked: bool,
}

/// Every token minted by one fake.
#[derive(Default)]
pub struct Registry {
    access: HashMap<String, Access>,
    refresh: HashMap<String, RefreshState>,
    revoked: Vec<String>,
}

impl Registry {
    /// Mints an id/access/refresh triple for the identity in `config`; the access token lives
    /// `lifetime_secs` (may be negative: already expired).
    pub fn mint(&mut self, config: &Config, issuer: &str, lifetime_secs: i64) -> Tokens {
        let now = now_ms() / 1000;
        let exp = now + lifetime_secs;
        let auth = json!({
            "chatgpt_account_id": config.account_id,
            "chatgpt_plan_type": config.plan,
            "chatgpt_user_id": config.user_id,
            "user_id": config.user_id,
        });
        let profile = json!({"email": config.email, "email_verified": true});
        let id_token = jwt::encode(&json!({
            "iss": issuer, "aud": [CLIENT_ID], "sub": config.user_id,
            "iat": now, "exp": now + 3600, "auth_time": now,
            "email": config.email, "email_verified": true,
            "https://api.openai.com/auth": auth,
            "https://api.openai.com/profile": profile,
        }));
        let access_token = jwt::encode(&json!({
            "iss": issuer, "aud": ["https://api.openai.com/v1"], "sub": config.user_id,
            "client_id": CLIENT_ID, "iat": now, "nbf": now, "exp": exp,
            "jti": uuid::Uuid::new_v4().to_string(),
            "scp": ["openid", "profile", "email", "offline_access"],
            "https://api.openai.com/auth": auth,
            "https://api.openai.com/profile": profile,
        }));
        let refresh_token = format!("rt_fake_{}", pkce::random_b64(32));
        self.access.insert(
            access_token.clone(),
            Access {
                expires_at_ms: exp * 1000,
                account_id: config.account_id.clone(),
                revoked: false,
            },
        );
        self.refresh
            .insert(refresh_token.clone(), RefreshState::Active);
        Tokens {
            id_token,
            access_token,
            refresh_token,
            expires_at_ms: exp * 1000,
            account_id: config.account_id.clone(),
        }
    }

    /// The account id of a live access token.
    pub fn check_access(&self, token: &str) -> Result<&str, AccessDenied> {
        let access = self.access.get(token).ok_or(AccessDenied::Unknown)?;
        if access.revoked {
            Err(AccessDenied::Revoked)
        } else if now_ms() >= access.expires_at_ms {
            Err(AccessDenied::Expired)
        } else {
            Ok(&access.account_id)
        }
    }

    /// The state of a refresh token (`None`: never issued here).
    pub fn refresh_state(&self, token: &str) -> Option<RefreshState> {
        self.refresh.get(token).copied()
    }

    /// Marks an active refresh token as rotated away.
    pub fn mark_used(&mut self, token: &str) {
        self.refresh.insert(token.to_string(), RefreshState::Used);
    }

    /// Revokes a refresh or access token; false when this fake never issued it.
    pub fn revoke(&mut self, token: &str) -> bool {
        self.revoked.push(token.to_string());
        if let Some(state) = self.refresh.get_mut(token) {
            *state = RefreshState::Revoked;
            true
        } else if let Some(access) = self.access.get_mut(token) {
            access.revoked = true;
            true
        } else {
            false
        }
    }

    /// Every token passed to `/oauth/revoke`, in order.
    pub fn revoked(&self) -> &[String] {
        &self.revoked
    }

    /// Makes every access token issued so far expired.
    pub fn expire_all(&mut self) {
        let now = now_ms();
        for access in self.access.values_mut() {
            access.expires_at_ms = access.expires_at_ms.min(now);
        }
    }
}
