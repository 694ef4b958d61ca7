//! The login state machine shared by `kelp login` and the `/connect` dialog:
//! `Choosing → Waiting{url, code, expires} → Done | Failed | Cancelled`.

use std::time::SystemTime;

/// The two ChatGPT login methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMethod {
    /// Authorization code + PKCE with a local callback server.
    Browser,
    /// The device-code flow, for SSH and headless machines.
    Device,
}

/// Who is logged in, read from the token claims (PROTOCOL.md §4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    pub email: Option<String>,
    pub plan: Option<String>,
    pub account_id: Option<String>,
}

/// What a running login reports, in order, so a UI can show each step as soon as it is known.
#[derive(Debug, Clone, PartialEq)]
pub enum LoginEvent {
    /// The browser flow waits for the callback; the URL is always shown too.
    BrowserWaiting { authorize_url: String, port: u16 },
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
