//! The login as the faces see it: how one is started, its steps, the account it ends in. Plain values; what
//! makes or reads them lives in the floor that does it (`auth`, `llm`, `session`, `config`, `mcp`,
//! `sandbox`).

use std::time::{Duration, SystemTime};

/// What a running login reports, in order, so a UI can show each step as soon as it is known.
#[derive(Debug, Clone, PartialEq)]
pub enum LoginEvent {
    /// The browser flow waits for the callback; the URL is always shown too. `opening`: a
    /// browser is being opened here (not over SSH without a display, not with `NO_BROWSER`).
    BrowserWaiting {
        authorize_url: String,
        port: u16,
        opening: bool,
    },
    /// Opening the browser here failed: the URL must be opened by hand.
    BrowserNotOpened,
    /// The device flow has a code; polling goes on in the background.
    DeviceCode {
        verification_url: String,
        user_code: String,
        expires_at: SystemTime,
    },
    /// The code arrived and is being exchanged for tokens.
    Exchanging,
    /// The login is saved.
    Done(Account),
    /// The login ended with a message a person can act on.
    Failed(String),
    /// The user cancelled; everything the login held is released.
    Cancelled,
}

/// The two ChatGPT login methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMethod {
    /// Authorization code + PKCE with a local callback server.
    Browser,
    /// The device-code flow, for SSH and headless machines.
    Device,
}

/// The login as a face shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSummary {
    /// A ChatGPT login.
    ChatGpt(Account),
    /// An API key, already masked (`sk-…abcd`).
    ApiKey { masked: String },
}

/// A login kept beside the others, as `/account` lists it: never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRow {
    /// What the person calls it (`kelp login --name`), else its email.
    pub name: String,
    /// The one requests use.
    pub active: bool,
    /// Who it is.
    pub who: AuthSummary,
    /// When it was last the one in use, in epoch seconds.
    pub last_used_secs: i64,
}

/// The issuer's answer to `usercode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCode {
    /// Identifies this login when polling.
    pub device_auth_id: String,
    /// The code the person types at the verification URL.
    pub user_code: String,
    /// How long to wait between polls.
    pub interval: Duration,
}

/// Who is logged in, read from the token claims (PROTOCOL.md §4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    pub email: Option<String>,
    pub plan: Option<String>,
    pub account_id: Option<String>,
}
