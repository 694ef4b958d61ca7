//! The one account service every face calls (the core for the TUI and `kelp run`, the
//! app-server, ACP, `kelp auth status`): who is signed in, one login at a time, the first step
//! of a login to show, saving an API key and signing out. The faces only translate what it
//! says into their wire or screen.

use std::future::Future;
use std::sync::{Mutex, PoisonError};

use tokio::sync::mpsc;
use uuid::Uuid;

use super::external::ExternalAuth;
use super::login::{LoginHandle, LoginOptions, LoginOutcome, PasteError, start_login_with};
use super::logins::{Logins, LoginsError, Removed};
use super::manager::{AuthManager, LogoutReport, StoredLogin};
use super::store::{AuthStore, OpenAiEntry, StoreError};
use super::{AuthError, CredentialSource, SaveKeyError, mask_key, validate_api_key, with_store};
use crate::config::Config;
use crate::protocol::AuthSummary;
use crate::protocol::{Account, LoginEvent, LoginMethod};

/// Names one login for as long as it runs (the app-server's `loginId`).
pub type LoginId = Uuid;

/// Who is signed in. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedIn {
    /// A ChatGPT login saved in the auth file.
    ChatGpt(StoredLogin),
    /// ChatGPT tokens an embedding host handed in (kept in memory only).
    HostTokens(Account),
    /// An API key, masked, from the auth file or `OPENAI_API_KEY`.
    ApiKey {
        masked: String,
        source: CredentialSource,
    },
}

impl SignedIn {
    /// The summary every face shows (the TUI's status line, the hosts' account).
    pub fn summary(&self) -> AuthSummary {
        match self {
            Self::ChatGpt(login) => AuthSummary::ChatGpt(login.account.clone()),
            Self::HostTokens(account) => AuthSummary::ChatGpt(account.clone()),
            Self::ApiKey { masked, .. } => AuthSummary::ApiKey {
                masked: masked.clone(),
            },
        }
    }
}

impl AuthSummary {
    /// The login in a few words: `ana@example.com (plus)` or `API key sk-…abcd`.
    pub fn describe(&self) -> String {
        match self {
            Self::ApiKey { masked } => format!("API key {masked}"),
            Self::ChatGpt(Account { email, plan, .. }) => {
                let who = email.clone().unwrap_or_else(|| "ChatGPT".to_string());
                match plan {
                    Some(plan) => format!("{who} ({plan})"),
                    None => who,
                }
            }
        }
    }
}

/// A login just started: its id, and its steps as they happen.
pub struct Login {
    pub id: LoginId,
    pub steps: mpsc::UnboundedReceiver<LoginEvent>,
}

/// What a face shows first of a login: where to sign in, or how it already ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstStep {
    /// The browser sign-in URL, and the local port its callback comes back to.
    Browser { url: String, port: u16 },
    /// The device code and where to enter it.
    DeviceCode { url: String, code: String },
    /// It ended before there was anything to show.
    Ended(LoginOutcome),
}

impl Login {
    /// Waits until the flow has a URL or a code to show, or has ended.
    pub async fn first_step(&mut self) -> FirstStep {
        loop {
            match self.steps.recv().await {
                Some(LoginEvent::BrowserWaiting {
                    authorize_url,
                    port,
                    ..
                }) => {
                    return FirstStep::Browser {
                        url: authorize_url,
                        port,
                    };
                }
                Some(LoginEvent::DeviceCode {
                    verification_url,
                    user_code,
                    ..
                }) => {
                    return FirstStep::DeviceCode {
                        url: verification_url,
                        code: user_code,
                    };
                }
                Some(step) => {
                    if let Some(outcome) = step.outcome() {
                        return FirstStep::Ended(outcome);
                    }
                }
                None => return FirstStep::Ended(LoginOutcome::Cancelled),
            }
        }
    }

    /// Waits for the login's end.
    pub async fn outcome(&mut self) -> LoginOutcome {
        while let Some(step) = self.steps.recv().await {
            if let Some(outcome) = step.outcome() {
                return outcome;
            }
        }
        LoginOutcome::Cancelled
    }
}

/// What a face keeps beside a running login (the app-server's task that reports its end). It
/// is stopped before the login is, so it never reports an end the face reports itself.
pub trait Companion {
    fn stop(&self);
}

impl Companion for () {
    fn stop(&self) {}
}

impl Companion for tokio::task::JoinHandle<()> {
    fn stop(&self) {
        self.abort();
    }
}

/// A login that was stopped while it ran, with what its face kept beside it (stopped too).
pub struct Stopped<T> {
    pub id: LoginId,
    pub kept: Option<T>,
}

/// The running login: its handle (dropping it cancels the flow) and the face's companion
/// (the app-server's task that reports its end).
struct Held<T> {
    id: LoginId,
    handle: LoginHandle,
    kept: Option<T>,
}

/// What removing a login by name did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginRemoved {
    /// A kept login was dropped; for a ChatGPT one, `Ok` when the issuer revoked it.
    Kept { revoked: Option<Result<(), String>> },
    /// It was the login in use: signed out of.
    SignedOut(SignedOut),
}

/// How a signing-out went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedOut {
    /// The host's tokens were forgotten; nothing was revoked, they are the host's.
    HostTokens,
    /// The stored login was revoked (best effort) and removed, if there was one.
    Stored(LogoutReport),
}

/// The account service of one face: over the process's credentials (`AuthManager`, shared with
/// the model client) and one login slot. `T` is what a face keeps beside the running login.
pub struct Accounts<T = ()> {
    manager: AuthManager,
    login_options: LoginOptions,
    http: reqwest::Client,
    slot: Mutex<Option<Held<T>>>,
}

impl<T: Companion> Accounts<T> {
    /// The service for `config` over `manager`'s credentials.
    pub fn new(config: &Config, manager: AuthManager, http: reqwest::Client) -> Self {
        Self {
            manager,
            login_options: LoginOptions::from_config(config),
            http,
            slot: Mutex::new(None),
        }
    }

    /// The service for `config` over its own credentials: the auth file, then `env_api_key`
    /// (`OPENAI_API_KEY`); with `host`, the tokens an embedding host hands in come first.
    pub fn from_config(
        config: &Config,
        http: reqwest::Client,
        env_api_key: Option<String>,
        host: Option<ExternalAuth>,
    ) -> Self {
        let mut manager = AuthManager::new(config, http.clone(), env_api_key);
        if let Some(host) = host {
            manager = manager.with_external(host);
        }
        Self::new(config, manager, http)
    }

    /// The credentials behind it, as requests use them.
    pub fn manager(&self) -> &AuthManager {
        &self.manager
    }

    /// Who is signed in: a host's tokens first, then the auth file, then `OPENAI_API_KEY`.
    /// Reads the file on the calling thread; never talks to the network.
    pub fn signed_in_now(&self) -> Result<Option<SignedIn>, AuthError> {
        if let Some(host) = self.host_tokens() {
            return Ok(Some(host));
        }
        Ok(self.pick(self.manager.store().load()?.openai()))
    }

    /// [`Self::signed_in_now`] with the file read off the async threads (its lock may wait).
    pub async fn signed_in(&self) -> Result<Option<SignedIn>, AuthError> {
        if let Some(host) = self.host_tokens() {
            return Ok(Some(host));
        }
        let file = with_store(self.manager.store(), AuthStore::load).await?;
        Ok(self.pick(file.openai()))
    }

    fn host_tokens(&self) -> Option<SignedIn> {
        let tokens = self.manager.external_auth()?.tokens()?;
        Some(SignedIn::HostTokens(tokens.account()))
    }

    fn pick(&self, stored: Option<OpenAiEntry>) -> Option<SignedIn> {
        let stored = stored.filter(|_| !self.manager.env_key_wins());
        entry_or_env(stored, self.manager.env_api_key())
    }

    /// Starts a ChatGPT login in the slot. The login running before it stops and is returned
    /// (a face reports it replaced); `open_browser`: open the system browser here.
    pub fn start_login(
        &self,
        method: LoginMethod,
        open_browser: bool,
    ) -> (Login, Option<Stopped<T>>) {
        self.start_named_login(method, open_browser, None)
    }

    /// [`Self::start_login`], the login kept as `name` beside the others (`None`: the name it
    /// had, else its email).
    pub fn start_named_login(
        &self,
        method: LoginMethod,
        open_browser: bool,
        name: Option<String>,
    ) -> (Login, Option<Stopped<T>>) {
        // The old login goes first: it frees the callback port the new one will want.
        let stopped = self.lock().take().and_then(stop_running);
        let mut options = self.login_options.clone();
        options.open_browser = open_browser && method == LoginMethod::Browser;
        options.name = name;
        let (tx, steps) = mpsc::unbounded_channel();
        let handle = start_login_with(method, options, self.http.clone(), tx);
        let id = Uuid::new_v4();
        let previous = self.lock().replace(Held {
            id,
            handle,
            kept: None,
        });
        // Another caller's login that started meanwhile is stopped as well; the face hears of
        // the first one only.
        if let Some(previous) = previous {
            stop_running(previous);
        }
        (Login { id, steps }, stopped)
    }

    /// Keeps `companion` beside login `id` while it is the one in the slot.
    pub fn keep(&self, id: LoginId, companion: T) {
        if let Some(held) = self.lock().as_mut().filter(|held| held.id == id) {
            held.kept = Some(companion);
        }
    }

    /// Stops the running login: the one named `id`, or whichever runs. `None` when no login
    /// (or not that one) is running.
    pub fn stop_login(&self, id: Option<LoginId>) -> Option<Stopped<T>> {
        let held = self
            .lock()
            .take_if(|held| id.is_none_or(|id| held.id == id) && !held.handle.is_finished())?;
        stop_running(held)
    }

    /// Hands a pasted redirect URL (or bare code) to the running browser login.
    pub fn paste_redirect(&self, text: &str) -> Result<(), PasteError> {
        match self.lock().as_ref() {
            Some(held) if !held.handle.is_finished() => held.handle.paste(text),
            _ => Err(PasteError::NoLogin),
        }
    }

    /// Stores `raw` as the login as given: what the hosts do (`account/login/start`, as Codex
    /// does) and ACP (a key the editor set). Returns the key masked for display.
    pub async fn save_api_key(&self, raw: &str) -> Result<String, SaveKeyError> {
        let key = validate_api_key(raw).map_err(SaveKeyError::Invalid)?;
        self.store_api_key(key).await
    }

    /// Stores `raw` as the login once `check` (one request) shows the API accepts it: what
    /// the TUI and `kelp login --with-api-key` do with a key a person typed.
    pub async fn check_and_save_api_key<F>(
        &self,
        raw: &str,
        check: impl FnOnce(String) -> F,
    ) -> Result<String, SaveKeyError>
    where
        F: Future<Output = KeyCheck>,
    {
        let key = validate_api_key(raw).map_err(SaveKeyError::Invalid)?;
        match check(key.clone()).await {
            KeyCheck::Accepted => self.store_api_key(key).await,
            KeyCheck::Refused(why) => Err(SaveKeyError::Refused(why)),
            KeyCheck::Unchecked(why) => Err(SaveKeyError::Unchecked(why)),
        }
    }

    async fn store_api_key(&self, key: String) -> Result<String, SaveKeyError> {
        let masked = mask_key(&key);
        // A login in use before is kept beside the key, not lost to it.
        with_store(self.manager.store(), move |store| {
            Logins::beside(store)
                .adopt(None, &OpenAiEntry::Api { key })
                .map(drop)
        })
        .await?;
        Ok(masked)
    }

    /// Signs out: stops a running login, then forgets a host's tokens, or else revokes the
    /// stored ChatGPT login (best effort) and removes kelp's entry, other entries kept.
    pub async fn sign_out(&self) -> Result<SignedOut, AuthError> {
        if let Some(held) = self.lock().take() {
            stop_running(held);
        }
        if self
            .manager
            .external_auth()
            .is_some_and(ExternalAuth::clear)
        {
            return Ok(SignedOut::HostTokens);
        }
        self.manager.logout().await.map(SignedOut::Stored)
    }

    /// Every login kept, the one in use first: `kelp accounts`, `/account`,
    /// `accountSession/list`. Never a secret.
    pub async fn logins(&self) -> Result<Vec<crate::protocol::LoginRow>, AuthError> {
        Ok(with_store(self.manager.store(), |store| Logins::beside(store).list()).await?)
    }

    /// Puts the login named `name` in use: the next request carries its token and account.
    /// The one in use before is kept; nothing is revoked.
    pub async fn switch_login(&self, name: &str) -> Result<crate::protocol::LoginRow, LoginsError> {
        let name = name.to_string();
        with_store(self.manager.store(), move |store| {
            Logins::beside(store).switch(&name)
        })
        .await
    }

    /// Removes the login named `name`: a kept one is revoked (best effort) and dropped, the
    /// one in use is signed out of.
    pub async fn remove_login(&self, name: &str) -> Result<LoginRemoved, LoginsError> {
        let owned = name.to_string();
        let removed = with_store(self.manager.store(), move |store| {
            Logins::beside(store).remove(&owned)
        })
        .await?;
        let revoked = match removed.entry() {
            OpenAiEntry::OAuth(entry) => Some(self.manager.revoke(entry).await),
            OpenAiEntry::Api { .. } => None,
        };
        Ok(match removed {
            Removed::Kept(_) => LoginRemoved::Kept { revoked },
            Removed::Active(_) => LoginRemoved::SignedOut(SignedOut::Stored(LogoutReport {
                removed: true,
                revoked,
            })),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Held<T>>> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Stops `held` if it still runs, its companion first; a finished login's own report may be on
/// its way, so it is left alone and not returned.
fn stop_running<T: Companion>(held: Held<T>) -> Option<Stopped<T>> {
    if held.handle.is_finished() {
        return None;
    }
    if let Some(companion) = &held.kept {
        companion.stop();
    }
    held.handle.cancel();
    Some(Stopped {
        id: held.id,
        kept: held.kept,
    })
}

/// Who the auth file says is signed in, else `env_api_key` (`OPENAI_API_KEY`): what a face
/// shows before it has a service (the TUI's first frame). Reads the file on this thread.
pub fn stored_or_env(
    store: &AuthStore,
    env_api_key: Option<&str>,
) -> Result<Option<SignedIn>, StoreError> {
    let env_api_key = env_api_key.filter(|key| !key.trim().is_empty());
    Ok(entry_or_env(store.load()?.openai(), env_api_key))
}

/// The stored entry, else the environment's key.
fn entry_or_env(stored: Option<OpenAiEntry>, env_api_key: Option<&str>) -> Option<SignedIn> {
    match stored {
        Some(OpenAiEntry::OAuth(entry)) => Some(SignedIn::ChatGpt(StoredLogin::from_entry(&entry))),
        Some(OpenAiEntry::Api { key }) => Some(SignedIn::ApiKey {
            masked: mask_key(&key),
            source: CredentialSource::AuthFile,
        }),
        None => env_api_key.map(|key| SignedIn::ApiKey {
            masked: mask_key(key),
            source: CredentialSource::Environment,
        }),
    }
}

/// What one authenticated request said about an API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    /// The API accepted it (a rate limit or an empty quota counts: the key itself is good).
    Accepted,
    /// The API refused it; one line saying so, without the key.
    Refused(String),
    /// The check could not run (no network, a server error); one line saying why.
    Unchecked(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_auth_file_comes_before_the_environment_and_a_blank_key_is_no_login() {
        let dir = tempfile::tempdir().unwrap();
        let store = AuthStore::new(dir.path().join("auth.json"));
        let env = Some("sk-env-000000000000000000001234");
        let who = stored_or_env(&store, env).unwrap();
        assert_eq!(
            who,
            Some(SignedIn::ApiKey {
                masked: "sk-…1234".into(),
                source: CredentialSource::Environment
            })
        );
        assert_eq!(stored_or_env(&store, Some("  ")).unwrap(), None);
        store
            .update(|file| {
                file.set_openai(&OpenAiEntry::Api {
                    key: "sk-file-00000000000000000000abcd".into(),
                })
            })
            .unwrap();
        let who = stored_or_env(&store, env).unwrap().unwrap();
        assert_eq!(
            who.summary(),
            AuthSummary::ApiKey {
                masked: "sk-…abcd".into()
            }
        );
        assert!(matches!(
            who,
            SignedIn::ApiKey {
                source: CredentialSource::AuthFile,
                ..
            }
        ));
    }
}
