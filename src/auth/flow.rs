//! The vocabulary of a login, shared by the dispatcher (`login.rs`) and the flows it starts
//! (`browser.rs`, `device.rs`): what a login reports, how it ends, why it fails, and the
//! surroundings a running flow works in. Below all of them, so none imports another around a
//! loop.

use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::{mpsc, watch};

use super::oauth::OAuthError;
use super::store::{AuthStore, StoreError};
use crate::config::{Config, FALLBACK_CALLBACK_PORT};
use crate::protocol::{Account, LoginEvent};

/// How a login ended; the same as its last [`LoginEvent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// The login is saved.
    Done(Account),
    /// One line saying what went wrong and what to do next.
    Failed(String),
    /// Cancelled by the person (or by another kelp login taking over the port).
    Cancelled,
}

impl LoginEvent {
    /// How the login ended, when this is its last step.
    pub fn outcome(&self) -> Option<LoginOutcome> {
        match self {
            Self::Done(account) => Some(LoginOutcome::Done(account.clone())),
            Self::Failed(message) => Some(LoginOutcome::Failed(message.clone())),
            Self::Cancelled => Some(LoginOutcome::Cancelled),
            _ => None,
        }
    }
}

impl From<LoginOutcome> for LoginEvent {
    fn from(outcome: LoginOutcome) -> Self {
        match outcome {
            LoginOutcome::Done(account) => Self::Done(account),
            LoginOutcome::Failed(message) => Self::Failed(message),
            LoginOutcome::Cancelled => Self::Cancelled,
        }
    }
}

/// Why a login failed. Each message is one line that says what to do next.
#[derive(Debug, Error)]
pub enum LoginError {
    #[error(
        "ports {primary} and {fallback} are both in use: close the program holding them (another \
         login?), or sign in with a device code instead (`kelp login --device`)"
    )]
    PortsBusy { primary: u16, fallback: u16 },
    #[error(
        "cannot listen on 127.0.0.1:{port} for the browser's answer ({reason}): sign in with a \
         device code instead (`kelp login --device`)"
    )]
    Listen { port: u16, reason: String },
    #[error(
        "Codex is not enabled for your workspace: ask its admin to enable Codex, or use an API key \
         (`kelp login --with-api-key`)"
    )]
    NoCodexEntitlement,
    #[error("sign-in refused: {0}. Start the login again if that was a mistake")]
    Denied(String),
    #[error("the sign-in page sent back no authorization code: start the login again")]
    MissingCode,
    #[error("the browser login timed out after {0}: start it again")]
    TimedOut(String),
    #[error(
        "device code login is not enabled for this account: enable it in ChatGPT (Settings → \
         Security → device code login for Codex), or sign in in a browser instead (`kelp login \
         --browser`)"
    )]
    DeviceLoginDisabled,
    #[error("the device code expired before it was approved: start the login again")]
    DeviceCodeExpired,
    #[error("{0}: start the login again")]
    Server(OAuthError),
    #[error("{0}: check the connection and start the login again")]
    Network(OAuthError),
    #[error("the login worked but could not be saved: {0}")]
    Save(#[from] StoreError),
    #[error("the login worked but could not be kept: {0}")]
    NotKept(String),
    #[error("the login was cancelled")]
    Cancelled,
    #[error("cannot make the login's secret: {0}")]
    NoSecret(String),
}

impl From<super::logins::LoginsError> for LoginError {
    fn from(error: super::logins::LoginsError) -> Self {
        match error {
            super::logins::LoginsError::Store(error) => Self::Save(error),
            other => Self::NotKept(other.to_string()),
        }
    }
}

impl From<OAuthError> for LoginError {
    fn from(error: OAuthError) -> Self {
        match error {
            OAuthError::Network(_) => Self::Network(error),
            other => Self::Server(other),
        }
    }
}

/// Why a pasted redirect URL (or code) was not taken. The login keeps waiting.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PasteError {
    #[error("only the browser login takes a pasted URL")]
    NotBrowser,
    #[error("nothing was pasted: paste the whole URL from the browser's address bar")]
    Empty,
    #[error(
        "that URL belongs to a different login attempt (its state does not match): paste the URL \
         of this one"
    )]
    StateMismatch,
    #[error(
        "that holds no authorization code: paste the whole URL from the browser's address bar \
         after signing in"
    )]
    NoCode,
    #[error("the login has already finished")]
    Finished,
    #[error("no browser login is waiting")]
    NoLogin,
}

/// What a paste carried, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pasted {
    /// An authorization code to exchange.
    Code(String),
    /// The redirect carried `error=`: the login fails with it.
    Error {
        error: String,
        description: Option<String>,
    },
}

/// Everything a login needs; [`LoginOptions::from_config`] gives the real values, tests shorten
/// the waits and pick their own ports.
#[derive(Debug, Clone)]
pub struct LoginOptions {
    /// The OAuth issuer, without a trailing slash.
    pub issuer: String,
    /// Where the login is saved.
    pub auth_file: PathBuf,
    /// Preferred callback port (0: any free port).
    pub callback_port: u16,
    /// Used when `callback_port` stays busy.
    pub fallback_port: Option<u16>,
    /// How long to wait for a busy callback port after asking its server to exit.
    pub busy_port_wait: Duration,
    /// Open the system browser (tests play the browser themselves).
    pub open_browser: bool,
    /// How long the browser flow waits for the person.
    pub browser_timeout: Duration,
    /// How long a device code lives.
    pub device_expiry: Duration,
    /// The name the login is kept under beside others (`kelp login --name`); `None`: the name
    /// it had, else its email.
    pub name: Option<String>,
}

impl LoginOptions {
    /// The real settings for `config`: ports 1455 then 1457, 10 minutes for the browser,
    /// 15 for a device code.
    pub fn from_config(config: &Config) -> Self {
        let primary = config.callback_port;
        Self {
            issuer: config.auth_issuer.clone(),
            auth_file: config.auth_file.clone(),
            callback_port: primary,
            // Only the two allow-listed ports make sense as a pair; any free port needs no
            // fallback.
            fallback_port: (primary != 0 && primary != FALLBACK_CALLBACK_PORT)
                .then_some(FALLBACK_CALLBACK_PORT),
            busy_port_wait: Duration::from_secs(2),
            open_browser: true,
            browser_timeout: Duration::from_secs(10 * 60),
            device_expiry: Duration::from_secs(15 * 60),
            name: None,
        }
    }
}

/// The shared surroundings of a running flow.
pub(crate) struct Flow {
    pub options: LoginOptions,
    pub http: reqwest::Client,
    pub store: AuthStore,
    pub events: mpsc::UnboundedSender<LoginEvent>,
    /// Held by everything that outlives the outcome (the lingering callback server); see
    /// [`LoginHandle::released`].
    pub busy: watch::Sender<()>,
}

impl Flow {
    /// Reports a step; a UI that went away does not stop the login.
    pub fn emit(&self, event: LoginEvent) {
        let _ = self.events.send(event);
    }
}
