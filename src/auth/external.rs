//! ChatGPT tokens that a host app owns and hands in (the app-server's external tokens mode).
//! They live in memory only, never in auth.json, and kelp never refreshes them itself: after a
//! 401 it asks the host, through a [`TokenSource`], and waits at most [`HOST_WAIT`].

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::Credential;
use super::jwt;
use crate::protocol::Account;

/// How long kelp waits for the host to hand in new tokens.
pub const HOST_WAIT: Duration = Duration::from_secs(10);

/// Tokens a host handed in. The access token stays out of `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ExternalTokens {
    pub access_token: String,
    pub account_id: String,
    /// The plan the host says the account has, when it says.
    pub plan: Option<String>,
}

impl std::fmt::Debug for ExternalTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalTokens")
            .field("access_token", &"<redacted>")
            .field("account_id", &self.account_id)
            .field("plan", &self.plan)
            .finish()
    }
}

impl ExternalTokens {
    /// Checks that the access token is a JWT (its claims give the email); `Err` says why not,
    /// without the token.
    pub fn checked(self) -> Result<Self, String> {
        jwt::claims(&self.access_token)
            .map_err(|e| format!("the access token is not a JWT: {e}"))?;
        Ok(self)
    }

    /// Who the tokens belong to.
    pub fn account(&self) -> Account {
        let claims = jwt::claims(&self.access_token).unwrap_or_default();
        Account {
            email: claims.email,
            plan: self.plan.clone().or(claims.plan),
            account_id: Some(self.account_id.clone()),
        }
    }

    fn credential(&self) -> Credential {
        Credential::ChatGpt {
            access_token: self.access_token.clone(),
            account_id: Some(self.account_id.clone()),
        }
    }
}

/// A future answering with new tokens, or why there are none.
pub type TokensFuture = Pin<Box<dyn Future<Output = Result<ExternalTokens, String>> + Send>>;

/// Where new tokens come from after a 401: the host.
pub trait TokenSource: Send + Sync {
    /// New tokens for the account that was rejected (`previous_account_id`).
    fn refresh(&self, previous_account_id: Option<String>) -> TokensFuture;
}

/// The tokens in use (none: the mode is off) and the host to ask for new ones. Cheap to clone;
/// clones share the tokens, so every thread of a connection sees a change at once.
#[derive(Clone, Default)]
pub struct ExternalAuth {
    tokens: Arc<Mutex<Option<ExternalTokens>>>,
    source: Arc<Mutex<Option<Arc<dyn TokenSource>>>>,
}

impl std::fmt::Debug for ExternalAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalAuth")
            .field("active", &self.is_active())
            .finish_non_exhaustive()
    }
}

impl ExternalAuth {
    /// Off, with `source` to ask after a 401 once tokens are set.
    pub fn new(source: Arc<dyn TokenSource>) -> Self {
        let auth = Self::default();
        *auth.source.lock().unwrap_or_else(PoisonError::into_inner) = Some(source);
        auth
    }

    /// Whether tokens were handed in (and not cleared).
    pub fn is_active(&self) -> bool {
        self.tokens().is_some()
    }

    /// The tokens in use.
    pub fn tokens(&self) -> Option<ExternalTokens> {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Uses `tokens` from now on (replacing any).
    pub fn set(&self, tokens: ExternalTokens) {
        *self.tokens.lock().unwrap_or_else(PoisonError::into_inner) = Some(tokens);
    }

    /// Leaves the mode; returns whether it was on.
    pub fn clear(&self) -> bool {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .is_some()
    }

    /// The credential for a request, while the mode is on.
    pub fn credential(&self) -> Option<Credential> {
        self.tokens().map(|t| t.credential())
    }

    /// After a 401: asks the host for new tokens (at most [`HOST_WAIT`]) and returns the
    /// credential to retry with.
    pub async fn refresh(&self) -> Result<Credential, String> {
        let previous = self.tokens().map(|t| t.account_id);
        let source = self
            .source
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or("no host to ask for new ChatGPT tokens")?;
        let fresh = tokio::time::timeout(HOST_WAIT, source.refresh(previous))
            .await
            .map_err(|_| {
                format!(
                    "the host app did not hand in new ChatGPT tokens within {} s",
                    HOST_WAIT.as_secs()
                )
            })??
            .checked()?;
        let credential = fresh.credential();
        self.set(fresh);
        Ok(credential)
    }
}
