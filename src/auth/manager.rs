//! Hands out a usable credential: the stored login (refreshed when due), else `OPENAI_API_KEY`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::external::ExternalAuth;
use super::oauth::{self, now_ms};
use super::refresh::{self, RetryPolicy, Stale};
use super::store::{AuthStore, OAuthEntry, OpenAiEntry};
use super::{Credential, CredentialSource, with_store};
use crate::config::Config;
use crate::protocol::Account;

/// Refresh before use when the access token has less than this left.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

pub use super::error::AuthError;

/// A ChatGPT login as stored: who it is and until when its access token works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLogin {
    /// Email, plan and account id, from the access token's claims.
    pub account: Account,
    /// When the access token expires (it is refreshed before use).
    pub expires_at: SystemTime,
}

impl StoredLogin {
    /// Reads the summary of a stored entry; never exposes the tokens.
    pub fn from_entry(entry: &OAuthEntry) -> Self {
        let expires_at = u64::try_from(entry.expires_ms)
            .map_or(UNIX_EPOCH, |ms| UNIX_EPOCH + Duration::from_millis(ms));
        Self {
            account: entry.account(),
            expires_at,
        }
    }
}

/// What `logout` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutReport {
    /// An entry was removed from the auth file.
    pub removed: bool,
    /// For a ChatGPT login: `Ok` when the issuer revoked the refresh token, else why not.
    pub revoked: Option<Result<(), String>>,
}

/// The one place requests get their credential from. Cheap to clone; clones share the
/// single-flight refresh.
#[derive(Debug, Clone)]
pub struct AuthManager {
    inner: Arc<Inner>,
}

struct Inner {
    store: AuthStore,
    /// Tokens a host app hands in; while set they are the credential and auth.json is unused.
    external: Option<ExternalAuth>,
    env_api_key: Option<String>,
    /// The environment's key beats the stored login (Codex's `exec` with `CODEX_API_KEY`).
    env_key_first: bool,
    http: reqwest::Client,
    issuer: String,
    retry: RetryPolicy,
    /// Makes refreshes single-flight within the process.
    refreshing: tokio::sync::Mutex<()>,
}

// By hand so the environment's API key never shows in full.
impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("store", &self.store)
            .field(
                "env_api_key",
                &self.env_api_key.as_deref().map(super::mask_key),
            )
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl AuthManager {
    /// A manager over the configured auth file, falling back to `env_api_key`.
    pub fn new(config: &Config, http: reqwest::Client, env_api_key: Option<String>) -> Self {
        Self::with_retry(config, http, env_api_key, RetryPolicy::default())
    }

    /// [`AuthManager::new`] with an explicit retry policy for transient refresh failures.
    pub fn with_retry(
        config: &Config,
        http: reqwest::Client,
        env_api_key: Option<String>,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store: AuthStore::new(&config.auth_file),
                external: None,
                env_api_key: env_api_key.filter(|k| !k.trim().is_empty()),
                env_key_first: false,
                http,
                issuer: config.auth_issuer.clone(),
                retry,
                refreshing: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The same manager, using `external` tokens whenever a host has handed some in.
    pub fn with_external(self, external: ExternalAuth) -> Self {
        self.changed(|inner| inner.external = Some(external))
    }

    /// The same manager, using the environment's key (when there is one) before the stored
    /// login, as Codex's `exec` uses `CODEX_API_KEY`.
    pub fn preferring_env_key(self) -> Self {
        self.changed(|inner| inner.env_key_first = true)
    }

    fn changed(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            store: shared.store.clone(),
            external: shared.external.clone(),
            env_api_key: shared.env_api_key.clone(),
            env_key_first: shared.env_key_first,
            http: shared.http.clone(),
            issuer: shared.issuer.clone(),
            retry: shared.retry,
            refreshing: tokio::sync::Mutex::new(()),
        });
        change(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Whether the environment's key is used whatever the auth file holds.
    pub fn env_key_wins(&self) -> bool {
        self.inner.env_key_first && self.inner.env_api_key.is_some()
    }

    fn external(&self) -> Option<&ExternalAuth> {
        self.inner.external.as_ref().filter(|e| e.is_active())
    }

    /// Where a host's tokens go, when this manager takes them (set or not).
    pub fn external_auth(&self) -> Option<&ExternalAuth> {
        self.inner.external.as_ref()
    }

    /// `OPENAI_API_KEY`, used when the auth file holds no login.
    pub fn env_api_key(&self) -> Option<&str> {
        self.inner.env_api_key.as_deref()
    }

    /// The auth file behind this manager.
    pub fn store(&self) -> &AuthStore {
        &self.inner.store
    }

    /// The stored entry if there is one, else the environment's key. Reads the file on the
    /// calling thread and never refreshes.
    pub fn resolve(&self) -> Result<Option<(Credential, CredentialSource)>, AuthError> {
        if self.env_key_wins() {
            return Ok(self.pick(None));
        }
        let stored = self.inner.store.load()?.openai();
        Ok(self.pick(stored))
    }

    fn pick(&self, stored: Option<OpenAiEntry>) -> Option<(Credential, CredentialSource)> {
        match stored {
            Some(OpenAiEntry::Api { key }) => {
                Some((Credential::ApiKey { key }, CredentialSource::AuthFile))
            }
            Some(OpenAiEntry::OAuth(tokens)) => {
                Some((chatgpt(&tokens), CredentialSource::AuthFile))
            }
            None => self
                .inner
                .env_api_key
                .clone()
                .map(|key| (Credential::ApiKey { key }, CredentialSource::Environment)),
        }
    }

    /// The stored ChatGPT login's summary, if the stored login is one.
    pub fn stored_login(&self) -> Result<Option<StoredLogin>, AuthError> {
        Ok(match self.inner.store.load()?.openai() {
            Some(OpenAiEntry::OAuth(entry)) => Some(StoredLogin::from_entry(&entry)),
            _ => None,
        })
    }

    /// A credential ready for a request: a ChatGPT access token that expires within
    /// [`REFRESH_MARGIN`] is refreshed first. If that refresh fails for a reason that may pass
    /// (issuer down, lock busy) while the token has not expired yet, the token is used as it is.
    pub async fn credential(&self) -> Result<Credential, AuthError> {
        if let Some(credential) = self.external().and_then(ExternalAuth::credential) {
            return Ok(credential);
        }
        let stored = self.load_entry().await?;
        match stored {
            Some(OpenAiEntry::OAuth(entry)) if expires_soon(&entry) => {
                match self.refresh(Stale::Expiring(&entry)).await {
                    Err(error @ (AuthError::RefreshFailed(_) | AuthError::Store(_)))
                        if !expired(&entry) =>
                    {
                        tracing::warn!(
                            %error,
                            "using the current ChatGPT access token until it expires"
                        );
                        Ok(chatgpt(&entry))
                    }
                    other => other,
                }
            }
            other => self
                .pick(other)
                .map(|(credential, _)| credential)
                .ok_or(AuthError::NotLoggedIn),
        }
    }

    /// After a 401 with `rejected`: refreshes once (or adopts tokens someone else refreshed
    /// meanwhile) and returns the credential to retry with.
    pub async fn refresh_after_unauthorized(
        &self,
        rejected: &Credential,
    ) -> Result<Credential, AuthError> {
        // A host's tokens are the host's to renew: kelp asks it, never the issuer.
        if let Some(external) = self.external() {
            return external.refresh().await.map_err(AuthError::RefreshFailed);
        }
        match rejected {
            Credential::ApiKey { .. } | Credential::Provider { .. } => {
                Err(AuthError::ApiKeyRejected)
            }
            Credential::ChatGpt { access_token, .. } => {
                self.refresh(Stale::Rejected {
                    access: access_token,
                })
                .await
            }
        }
    }

    /// Removes the login: revokes a ChatGPT refresh token first (best effort, short timeout),
    /// then deletes kelp's entry; every other entry stays.
    pub async fn logout(&self) -> Result<LogoutReport, AuthError> {
        // No refresh may write tokens back while the entry goes away.
        let _refreshing = self.inner.refreshing.lock().await;
        let revoked = match self.load_entry().await? {
            Some(OpenAiEntry::OAuth(entry)) => Some(
                oauth::revoke(&self.inner.http, &self.inner.issuer, &entry.refresh)
                    .await
                    .map_err(|e| e.to_string()),
            ),
            _ => None,
        };
        let removed = with_store(&self.inner.store, |s| s.update(|f| f.remove_openai())).await?;
        Ok(LogoutReport { removed, revoked })
    }

    /// The name of the login requests use now (`kelp accounts`), never a secret: the host's
    /// account's email while its tokens are in use; `None` for the environment's key or none.
    pub async fn login_name(&self) -> Option<String> {
        if let Some(tokens) = self.external().and_then(ExternalAuth::tokens) {
            return tokens.account().email;
        }
        if self.env_key_wins() {
            return None;
        }
        with_store(&self.inner.store, |store| {
            super::logins::Logins::beside(store).active_name()
        })
        .await
        .ok()
        .flatten()
    }

    /// Revokes a kept login's refresh token (best effort, short timeout): it is being removed.
    pub async fn revoke(&self, entry: &OAuthEntry) -> Result<(), String> {
        oauth::revoke(&self.inner.http, &self.inner.issuer, &entry.refresh)
            .await
            .map_err(|e| e.to_string())
    }

    async fn load_entry(&self) -> Result<Option<OpenAiEntry>, AuthError> {
        if self.env_key_wins() {
            return Ok(None);
        }
        Ok(with_store(&self.inner.store, |s| s.load()).await?.openai())
    }

    async fn refresh(&self, stale: Stale<'_>) -> Result<Credential, AuthError> {
        let _refreshing = self.inner.refreshing.lock().await;
        let inner = &self.inner;
        match refresh::refresh_stored(&inner.store, &inner.http, &inner.issuer, stale, inner.retry)
            .await?
        {
            Some(entry) => Ok(chatgpt(&entry)),
            // The ChatGPT login went away meanwhile: whatever is there now.
            None => self
                .pick(self.load_entry().await?)
                .map(|(credential, _)| credential)
                .ok_or(AuthError::NotLoggedIn),
        }
    }
}

fn chatgpt(entry: &OAuthEntry) -> Credential {
    Credential::ChatGpt {
        access_token: entry.access.clone(),
        account_id: entry.account_id.clone(),
    }
}

fn expires_soon(entry: &OAuthEntry) -> bool {
    let margin = i64::try_from(REFRESH_MARGIN.as_millis()).unwrap_or(i64::MAX);
    entry.expires_ms.saturating_sub(now_ms()) < margin
}

fn expired(entry: &OAuthEntry) -> bool {
    entry.expires_ms <= now_ms()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(expires_ms: i64) -> OAuthEntry {
        OAuthEntry {
            refresh: "r".into(),
            access: "a".into(),
            expires_ms,
            account_id: Some("acct".into()),
        }
    }

    #[test]
    fn the_margin_is_five_minutes() {
        let now = now_ms();
        assert!(expires_soon(&entry(now + 4 * 60_000)));
        assert!(expires_soon(&entry(now - 1)));
        assert!(!expires_soon(&entry(now + 6 * 60_000)));
    }

    #[test]
    fn a_summary_without_claims_still_has_the_account_and_expiry() {
        let summary = StoredLogin::from_entry(&entry(1_800_000_000_000));
        assert_eq!(summary.account.account_id.as_deref(), Some("acct"));
        assert_eq!(summary.account.email, None);
        assert_eq!(
            summary.expires_at,
            UNIX_EPOCH + Duration::from_secs(1_800_000_000)
        );
    }

    #[test]
    fn the_manager_is_shareable() {
        fn shareable<T: Send + Sync + Clone + 'static>() {}
        shareable::<AuthManager>();
    }
}
