//! Hands out a usable credential: the stored login, else `OPENAI_API_KEY`.

use thiserror::Error;

use super::store::{AuthStore, OpenAiEntry, StoreError};
use super::{Credential, CredentialSource};
use crate::config::Config;

/// Why no usable credential could be had. Messages are one line and never hold a secret.
#[derive(Debug, Error)]
pub enum AuthError {
    #[error("not logged in: run /connect (or `kelp login`), or set OPENAI_API_KEY")]
    NotLoggedIn,
    #[error("your ChatGPT login expired or was revoked: run /connect (or `kelp login`) again")]
    LoginExpired,
    #[error("could not refresh the ChatGPT login: {0}")]
    RefreshFailed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The one place requests get their credential from.
#[derive(Debug, Clone)]
pub struct AuthManager {
    store: AuthStore,
    env_api_key: Option<String>,
}

impl AuthManager {
    /// A manager over the configured auth file, falling back to `env_api_key`.
    pub fn new(config: &Config, env_api_key: Option<String>) -> Self {
        Self {
            store: AuthStore::new(&config.auth_file),
            env_api_key: env_api_key.filter(|k| !k.trim().is_empty()),
        }
    }

    /// The auth file behind this manager.
    pub fn store(&self) -> &AuthStore {
        &self.store
    }

    /// The stored entry if there is one, else the environment's key.
    pub fn resolve(&self) -> Result<Option<(Credential, CredentialSource)>, AuthError> {
        let stored = self.store.load()?.openai();
        Ok(match stored {
            Some(OpenAiEntry::Api { key }) => {
                Some((Credential::ApiKey { key }, CredentialSource::AuthFile))
            }
            Some(OpenAiEntry::OAuth(tokens)) => Some((
                Credential::ChatGpt {
                    access_token: tokens.access,
                    account_id: tokens.account_id,
                },
                CredentialSource::AuthFile,
            )),
            None => self
                .env_api_key
                .clone()
                .map(|key| (Credential::ApiKey { key }, CredentialSource::Environment)),
        })
    }

    /// A credential ready for a request.
    pub async fn credential(&self) -> Result<Credential, AuthError> {
        self.resolve()?
            .map(|(credential, _)| credential)
            .ok_or(AuthError::NotLoggedIn)
    }

    /// A fresh credential after the server answered 401 to `rejected`; callers ask once per
    /// request. This version only adopts a login stored since `rejected` was handed out (by
    /// another process, or a refresh elsewhere); it does not talk to the issuer.
    pub async fn refresh_after_unauthorized(
        &self,
        rejected: &Credential,
    ) -> Result<Credential, AuthError> {
        match self.resolve()? {
            Some((current, _)) if &current != rejected => Ok(current),
            _ => Err(AuthError::LoginExpired),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::store::OAuthEntry;

    fn assert_shareable<T: Clone + Send + Sync + 'static>() {}

    #[test]
    fn the_manager_can_be_shared_between_tasks() {
        assert_shareable::<AuthManager>();
    }

    #[tokio::test]
    async fn a_401_adopts_a_newer_stored_login_once_and_then_says_expired() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::for_origin("http://127.0.0.1:9", dir.path());
        let manager = AuthManager::new(&config, None);
        let store = |access: &str| {
            manager
                .store()
                .update(|file| {
                    file.set_openai(&OpenAiEntry::OAuth(OAuthEntry {
                        refresh: "r".into(),
                        access: access.into(),
                        expires_ms: 0,
                        account_id: Some("acct".into()),
                    }))
                })
                .unwrap()
        };
        store("old");
        let rejected = manager.credential().await.unwrap();
        assert!(matches!(
            manager.refresh_after_unauthorized(&rejected).await,
            Err(AuthError::LoginExpired)
        ));
        store("new");
        let fresh = manager.refresh_after_unauthorized(&rejected).await.unwrap();
        assert_eq!(
            fresh,
            Credential::ChatGpt {
                access_token: "new".into(),
                account_id: Some("acct".into())
            }
        );
    }
}
