//! Refreshing a ChatGPT login (PROTOCOL.md §4) without ever losing it.
//!
//! Refresh tokens rotate, so two refreshes of the same token make the second one fail with
//! `refresh_token_reused` and can end the login. Within a process the manager makes refreshes
//! single-flight; across processes this module takes the auth file's lock, re-reads the file,
//! and adopts tokens another process stored meanwhile instead of refreshing again. New tokens
//! are written before anyone uses them.

use std::time::Duration;

use super::error::AuthError;
use super::oauth::{self, OAuthError, TokenResponse};
use super::store::{AuthStore, OAuthEntry, OpenAiEntry};
use super::with_store;

/// Error codes after which a refresh token will never work again.
const PERMANENT_CODES: &[&str] = &[
    "refresh_token_expired",
    "refresh_token_reused",
    "refresh_token_invalidated",
];

/// How transient failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Requests in all, the first included.
    pub attempts: u32,
    /// The wait before the first retry; it doubles after each.
    pub base_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            base_delay: Duration::from_millis(250),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry `n` (1-based): base × 2^(n-1), ±10 % so processes spread out.
    fn delay(&self, retry: u32) -> Duration {
        crate::random::backoff(self.base_delay, retry)
    }
}

/// What to do with a failed refresh request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The refresh token is dead: the person must log in again.
    Permanent,
    /// Worth another try: network, 5xx, 429.
    Transient,
    /// Anything else: give up now but keep the login, it may work later.
    Other,
}

/// Sorts a refresh failure (PROTOCOL.md §4).
pub fn classify(error: &OAuthError) -> FailureKind {
    match error {
        OAuthError::Network(_) => FailureKind::Transient,
        OAuthError::Rejected { status, code, .. } => {
            if *status == 401
                || code
                    .as_deref()
                    .is_some_and(|c| PERMANENT_CODES.contains(&c))
            {
                FailureKind::Permanent
            } else if *status >= 500 || *status == 429 || *status == 408 {
                FailureKind::Transient
            } else {
                FailureKind::Other
            }
        }
        OAuthError::BadResponse(_) => FailureKind::Other,
    }
}

/// Which tokens the caller holds and why they need replacing.
#[derive(Debug, Clone, Copy)]
pub enum Stale<'a> {
    /// The access token expires soon; this is the entry the caller read.
    Expiring(&'a OAuthEntry),
    /// The server refused this access token (401).
    Rejected { access: &'a str },
}

impl Stale<'_> {
    /// Whether `current` (read under the lock) still holds the tokens the caller had: if not,
    /// someone else already replaced them and they can be adopted.
    fn still_held_in(&self, current: &OAuthEntry) -> bool {
        match self {
            Self::Expiring(held) => {
                held.access == current.access && held.refresh == current.refresh
            }
            Self::Rejected { access } => *access == current.access,
        }
    }
}

/// Replaces stale tokens with fresh ones under the auth file's lock: adopts what another
/// process stored meanwhile, else refreshes and stores the result before returning it.
/// `Ok(None)`: the file holds no ChatGPT login any more (logged out, or switched to a key).
pub async fn refresh_stored(
    store: &AuthStore,
    http: &reqwest::Client,
    issuer: &str,
    stale: Stale<'_>,
    policy: RetryPolicy,
) -> Result<Option<OAuthEntry>, AuthError> {
    // Held until the new tokens are on disk, so other processes wait and then adopt them.
    let _lock = with_store(store, |s| s.lock()).await?;
    let Some(current) = read_oauth(store).await? else {
        return Ok(None);
    };
    if !stale.still_held_in(&current) {
        tracing::info!("adopting the ChatGPT tokens another process refreshed");
        return Ok(Some(current));
    }
    let tokens = match refresh_with_retry(http, issuer, &current.refresh, policy).await {
        Ok(tokens) => tokens,
        Err(error) => {
            let kind = classify(&error);
            tracing::warn!(%error, ?kind, "refreshing the ChatGPT login failed");
            // A writer that ignores the lock (an older opencode) may have rotated the token
            // under us; its tokens are as good as ours would have been.
            if let Some(now) = read_oauth(store).await?
                && now.refresh != current.refresh
            {
                return Ok(Some(now));
            }
            return Err(match kind {
                FailureKind::Permanent => AuthError::LoginExpired,
                FailureKind::Transient | FailureKind::Other => {
                    AuthError::RefreshFailed(format!("{error}; try again in a moment"))
                }
            });
        }
    };
    let fresh = oauth::entry_from_tokens(&tokens, Some(&current))
        .map_err(|e| AuthError::RefreshFailed(e.to_string()))?;
    let stored = OpenAiEntry::OAuth(fresh.clone());
    // The lock is ours already (taking it again would deadlock on flock): the store's
    // read-modify-write without the locking step.
    with_store(store, move |s| {
        s.update_locked(|file| file.set_openai(&stored))
    })
    .await?;
    tracing::info!("ChatGPT login refreshed");
    Ok(Some(fresh))
}

async fn read_oauth(store: &AuthStore) -> Result<Option<OAuthEntry>, AuthError> {
    let file = with_store(store, |s| s.load()).await?;
    Ok(match file.openai() {
        Some(OpenAiEntry::OAuth(entry)) => Some(entry),
        _ => None,
    })
}

/// One refresh, retried with backoff while failures are transient.
pub async fn refresh_with_retry(
    http: &reqwest::Client,
    issuer: &str,
    refresh_token: &str,
    policy: RetryPolicy,
) -> Result<TokenResponse, OAuthError> {
    let mut attempt = 1;
    loop {
        match oauth::refresh(http, issuer, refresh_token).await {
            Ok(tokens) => return Ok(tokens),
            Err(error)
                if classify(&error) == FailureKind::Transient && attempt < policy.attempts =>
            {
                tracing::info!(%error, attempt, of = policy.attempts, "refresh failed; retrying");
                tokio::time::sleep(policy.delay(attempt)).await;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(status: u16, code: Option<&str>) -> OAuthError {
        OAuthError::Rejected {
            status,
            code: code.map(str::to_string),
            message: "m".into(),
        }
    }

    #[test]
    fn failures_are_sorted_as_the_protocol_says() {
        assert_eq!(classify(&rejected(401, None)), FailureKind::Permanent);
        for code in PERMANENT_CODES {
            assert_eq!(classify(&rejected(400, Some(code))), FailureKind::Permanent);
        }
        assert_eq!(classify(&rejected(502, None)), FailureKind::Transient);
        assert_eq!(classify(&rejected(429, None)), FailureKind::Transient);
        assert_eq!(
            classify(&OAuthError::Network("x".into())),
            FailureKind::Transient
        );
        assert_eq!(
            classify(&rejected(400, Some("invalid_request"))),
            FailureKind::Other
        );
    }

    #[test]
    fn backoff_doubles_within_jitter() {
        let policy = RetryPolicy::default();
        for (retry, base) in [(1, 250.0), (2, 500.0), (3, 1000.0)] {
            let ms = policy.delay(retry).as_secs_f64() * 1000.0;
            assert!(
                ms >= base * 0.9 - 1.0 && ms <= base * 1.1 + 1.0,
                "{retry}: {ms}"
            );
        }
    }
}
