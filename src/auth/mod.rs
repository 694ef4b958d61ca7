//! Credentials, and the one account service every face calls. Knows nothing of the UI.
//!
//! - `accounts.rs`: who is signed in, the one login slot (a new login stops the old; stop by id;
//!   a pasted redirect), the first step of a login to show, saving an API key (checked or as
//!   given, per caller) and signing out. The core, the app-server, ACP and `kelp auth status`
//!   call it and only translate what it says.
//! - `store.rs`: auth.json (opencode's shape), locked, atomic, 0600, other entries kept.
//!   `logins.rs`: several logins, the one in use in auth.json and the others under names in
//!   `kelp-accounts.json` beside it (`kelp accounts`, `/account`, `accountSession/*`).
//! - `manager.rs`: the credential for a request, refreshed when due; host tokens first, then the
//!   file, then `OPENAI_API_KEY`. `refresh.rs`: single-flight refresh across processes.
//!   `error.rs`: `AuthError`, shared by both. `external.rs`: tokens an embedding host hands in.
//! - `login.rs`: one login as a state machine (`Choosing → Waiting → Done | Failed | Cancelled`);
//!   `flow.rs`: its vocabulary (events, outcomes, errors, options). `browser.rs` + `pkce.rs`:
//!   the browser login with its callback server on 127.0.0.1; `device.rs`: the device code;
//!   `oauth.rs`: the token endpoint; `jwt.rs`: claims and `Account`.

pub mod accounts;
pub mod browser;
pub mod device;
pub mod error;
pub mod external;
pub mod flow;
pub mod jwt;
pub mod login;
pub mod logins;
pub mod manager;
pub mod oauth;
pub mod pkce;
pub mod refresh;
pub mod store;

pub use accounts::{Accounts, FirstStep, KeyCheck, Login, LoginId, SignedIn, SignedOut};
pub use error::AuthError;
pub use external::{ExternalAuth, ExternalTokens, TokenSource};
pub use login::{
    LoginError, LoginHandle, LoginOptions, LoginOutcome, PasteError, detect_method, start_login,
    start_login_with,
};
pub use logins::{Logins, LoginsError, Removed};
pub use manager::{AuthManager, StoredLogin};
pub use store::{AuthFile, AuthStore, OAuthEntry, OpenAiEntry, StoreError};

/// Runs blocking work on the auth file (its lock waits on other processes) off the async
/// threads. A panic inside resurfaces in the caller, as it would have without the hop.
pub(crate) async fn with_store<T: Send + 'static, E: From<StoreError> + Send + 'static>(
    store: &AuthStore,
    work: impl FnOnce(&AuthStore) -> Result<T, E> + Send + 'static,
) -> Result<T, E> {
    let owned = store.clone();
    match crate::task::spawn_blocking(move || work(&owned)).await {
        Ok(result) => result,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(_) => Err(StoreError::Io {
                action: "finish working on",
                path: store.path().to_path_buf(),
                source: std::io::Error::other("the runtime is shutting down"),
            }
            .into()),
        },
    }
}

/// What a request is authorised with. Secrets are redacted from `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// An OpenAI API key, used against the OpenAI API.
    ApiKey { key: String },
    /// A ChatGPT login, used against the Codex backend.
    ChatGpt {
        access_token: String,
        account_id: Option<String>,
    },
    /// A model provider's own key (its `env_key`, or `experimental_bearer_token`), or none:
    /// what a provider that does not take kelp's login is sent.
    Provider { key: Option<String> },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ApiKey { key } => f
                .debug_struct("ApiKey")
                .field("key", &mask_key(key))
                .finish(),
            Self::ChatGpt { account_id, .. } => f
                .debug_struct("ChatGpt")
                .field("access_token", &"<redacted>")
                .field("account_id", account_id)
                .finish(),
            Self::Provider { key } => f
                .debug_struct("Provider")
                .field("key", &key.as_deref().map(mask_key))
                .finish(),
        }
    }
}

/// Where the active credential came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialSource {
    /// kelp's entry in the auth file.
    AuthFile,
    /// The `OPENAI_API_KEY` environment variable.
    Environment,
}

/// Shows enough of an API key to recognise it and never enough to use it: `sk-…abcd`.
pub fn mask_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    // Short keys would be mostly revealed by prefix + suffix, so show nothing of them.
    if chars.len() < 12 {
        return "…".to_string();
    }
    let prefix = if key.starts_with("sk-") { "sk-" } else { "" };
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{prefix}…{tail}")
}

/// The longest API key kelp stores.
const MAX_API_KEY_BYTES: usize = 1024;

/// Checks a pasted API key: non-empty, at most 1,024 characters, nothing but printable ASCII
/// without whitespace.
pub fn validate_api_key(raw: &str) -> Result<String, &'static str> {
    let key = raw.trim();
    if key.is_empty() {
        return Err("the API key is empty");
    }
    if key.chars().any(char::is_whitespace) {
        return Err("the API key has whitespace inside it; paste it again as one word");
    }
    if !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err("the API key has characters an API key never has; paste it again");
    }
    // OpenAI's keys are under 200 characters; the auth file is read up to 1 MiB, and a key
    // that made it larger would leave every login in it unreadable.
    if key.len() > MAX_API_KEY_BYTES {
        return Err(
            "the API key is longer than any API key (over 1,024 characters); paste it again",
        );
    }
    Ok(key.to_string())
}

/// Why an API key was not stored.
#[derive(Debug, thiserror::Error)]
pub enum SaveKeyError {
    /// It is not a usable key (the reason says why).
    #[error("{0}")]
    Invalid(&'static str),
    /// The API refused it; one line saying so, without the key.
    #[error("{0}")]
    Refused(String),
    /// It could not be checked (no network, a server error): one line saying why.
    #[error("the key could not be checked: {0}")]
    Unchecked(String),
    /// The auth file could not be written.
    #[error("could not save the API key: {0}")]
    Store(#[from] StoreError),
    /// The login in use before could not be kept beside it.
    #[error("could not save the API key: {0}")]
    NotKept(String),
}

impl From<LoginsError> for SaveKeyError {
    fn from(error: LoginsError) -> Self {
        match error {
            LoginsError::Store(error) => Self::Store(error),
            other => Self::NotKept(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_only_prefix_and_last_four() {
        assert_eq!(mask_key("sk-proj-abcdefghijklmnop1234"), "sk-…1234");
        assert_eq!(mask_key("abcdefghijklmnop9876"), "…9876");
        assert_eq!(mask_key("sk-short"), "…");
    }

    #[test]
    fn api_keys_are_trimmed_and_checked() {
        assert_eq!(validate_api_key("  sk-abc\n").unwrap(), "sk-abc");
        assert_eq!(validate_api_key(" \n").unwrap_err(), "the API key is empty");
        assert!(
            validate_api_key("sk-a b")
                .unwrap_err()
                .contains("whitespace")
        );
        assert!(validate_api_key("sk-ä").is_err());
    }

    #[test]
    fn credential_debug_is_redacted() {
        let shown = format!(
            "{:?} {:?}",
            Credential::ApiKey {
                key: "sk-abcdefghijklmnopqrstu".into()
            },
            Credential::ChatGpt {
                access_token: "eyJsecret".into(),
                account_id: None
            }
        );
        assert!(
            !shown.contains("abcdefghijklmnop") && !shown.contains("eyJsecret"),
            "{shown}"
        );
    }
}
