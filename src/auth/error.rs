//! Why no usable credential could be had: shared by the manager that hands out credentials and
//! the refresh that renews them, so neither imports the other.

use thiserror::Error;

use super::store::StoreError;

/// Why no usable credential could be had. Messages are one line and never hold a secret.
#[derive(Debug, Error)]
pub enum AuthError {
    #[error("not logged in: set OPENAI_API_KEY or sign in")]
    NotLoggedIn,
    #[error("your ChatGPT login expired or was revoked: sign in again")]
    LoginExpired,
    #[error("could not refresh the ChatGPT login: {0}")]
    RefreshFailed(String),
    #[error("the API key was rejected: check it and sign in again")]
    ApiKeyRejected,
    #[error(transparent)]
    Store(#[from] StoreError),
}
