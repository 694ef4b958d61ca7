//! The login state machine shared by `kelp login` and the `/connect` dialog:
//! `Choosing → Waiting{url, code, expires} → Done | Failed | Cancelled`.
//!
//! [`start_login`] runs one login in a tokio task and reports each step as a [`LoginEvent`];
//! the returned [`LoginHandle`] cancels it (also when dropped), takes a pasted redirect URL, and
//! resolves to the [`LoginOutcome`]. Front ends only show events and forward the person's
//! actions; the flows themselves live in `browser.rs` and `device.rs`.

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::pkce::{self, Pkce};
use super::store::AuthStore;
use super::{browser, device};
use crate::config::Config;
use crate::protocol::{LoginEvent, LoginMethod};

pub(crate) use super::flow::{Flow, Pasted};
pub use super::flow::{LoginError, LoginOptions, LoginOutcome, PasteError};

/// A running login. Dropping it cancels the login.
pub struct LoginHandle {
    method: LoginMethod,
    cancel: CancellationToken,
    /// The browser flow's `state`, to check pasted URLs before they reach the flow.
    state: Option<String>,
    pastes: mpsc::UnboundedSender<Pasted>,
    outcome: watch::Receiver<Option<LoginOutcome>>,
    busy: watch::Receiver<()>,
}

// By hand so the browser flow's `state` stays out of logs.
impl std::fmt::Debug for LoginHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginHandle")
            .field("method", &self.method)
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}

impl LoginHandle {
    /// Which method this login uses.
    pub fn method(&self) -> LoginMethod {
        self.method
    }

    /// Stops the login at once: the callback port is freed, polling stops.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Takes the redirect URL (or the bare code) that the browser could not deliver because it
    /// runs on another machine. A full URL must carry this login's `state`.
    pub fn paste(&self, text: &str) -> Result<(), PasteError> {
        let Some(state) = &self.state else {
            return Err(PasteError::NotBrowser);
        };
        let pasted = parse_paste(text, state)?;
        self.pastes.send(pasted).map_err(|_| PasteError::Finished)
    }

    /// Whether the login has ended.
    pub fn is_finished(&self) -> bool {
        self.outcome.borrow().is_some()
    }

    /// Waits for the login to end. When it resolves, everything the login held (the callback
    /// port, the poll loop) has been released, except that a successful browser login keeps
    /// serving its success page for a moment.
    pub async fn wait(&self) -> LoginOutcome {
        let mut outcome = self.outcome.clone();
        match outcome.wait_for(Option::is_some).await {
            Ok(done) => done.clone().unwrap_or(LoginOutcome::Cancelled),
            Err(_) => LoginOutcome::Failed(
                "the login stopped unexpectedly: start it again (details are in the log)".into(),
            ),
        }
    }
}

impl LoginHandle {
    /// Waits until the login holds nothing any more: after [`Self::wait`], a successful
    /// browser login still serves its success page for a moment, and a process that exits
    /// before this resolves leaves the browser with a connection error instead of that page.
    pub async fn released(&self) {
        let mut busy = self.busy.clone();
        // Nobody sends; this ends when the last holder of the sender is gone.
        while busy.changed().await.is_ok() {}
    }
}

impl Drop for LoginHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Starts a login with the real settings for `config`. Must be called inside a tokio runtime.
pub fn start_login(
    method: LoginMethod,
    config: &Config,
    http: reqwest::Client,
    events: mpsc::UnboundedSender<LoginEvent>,
) -> LoginHandle {
    start_login_with(method, LoginOptions::from_config(config), http, events)
}

/// Starts a login with explicit options. Must be called inside a tokio runtime.
pub fn start_login_with(
    method: LoginMethod,
    options: LoginOptions,
    http: reqwest::Client,
    events: mpsc::UnboundedSender<LoginEvent>,
) -> LoginHandle {
    let cancel = CancellationToken::new();
    let (outcome_tx, outcome_rx) = watch::channel(None);
    let (paste_tx, paste_rx) = mpsc::unbounded_channel();
    let browser_secrets = (method == LoginMethod::Browser).then(browser_secrets);
    let state = browser_secrets
        .as_ref()
        .and_then(|secrets| secrets.as_ref().ok())
        .map(|(_, state)| state.clone());
    let (busy_tx, busy_rx) = watch::channel(());
    let flow = Flow {
        busy: busy_tx,
        store: AuthStore::new(&options.auth_file),
        options,
        http,
        events,
    };
    let token = cancel.clone();
    crate::task::spawn(async move {
        let outcome = run(&flow, browser_secrets, paste_rx, token).await;
        // Finished before the last step goes out: whoever hears that step finds the login
        // over, and a stop that comes now leaves its report alone.
        let _ = outcome_tx.send(Some(outcome.clone()));
        flow.emit(outcome.into());
    });
    LoginHandle {
        method,
        cancel,
        state,
        pastes: paste_tx,
        outcome: outcome_rx,
        busy: busy_rx,
    }
}

/// The browser login's PKCE pair and `state`.
fn browser_secrets() -> Result<(Pkce, String), LoginError> {
    let secret = |e: std::io::Error| LoginError::NoSecret(e.to_string());
    Ok((
        Pkce::generate().map_err(secret)?,
        pkce::generate_state().map_err(secret)?,
    ))
}

async fn run(
    flow: &Flow,
    browser_secrets: Option<Result<(Pkce, String), LoginError>>,
    mut pastes: mpsc::UnboundedReceiver<Pasted>,
    cancel: CancellationToken,
) -> LoginOutcome {
    let result = match browser_secrets {
        Some(Ok((pkce, state))) => browser::run(flow, pkce, state, &mut pastes, &cancel).await,
        Some(Err(error)) => Err(error),
        None => {
            tokio::select! {
                biased;
                () = cancel.cancelled() => Err(LoginError::Cancelled),
                result = device::run(flow) => result,
            }
        }
    };
    match result {
        Ok(account) => LoginOutcome::Done(account),
        Err(LoginError::Cancelled) => LoginOutcome::Cancelled,
        Err(error) => {
            tracing::info!(%error, "login failed");
            LoginOutcome::Failed(error.to_string())
        }
    }
}

/// Checks a paste: a full redirect URL must carry `state`; a bare code is taken as it is.
pub(crate) fn parse_paste(text: &str, state: &str) -> Result<Pasted, PasteError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(PasteError::Empty);
    }
    let query = match text.split_once('?') {
        Some((_, query)) => Some(query),
        None if text.contains('=') => Some(text),
        None => None,
    };
    let Some(query) = query else {
        if text.chars().any(char::is_whitespace) || text.contains('/') {
            return Err(PasteError::NoCode);
        }
        return Ok(Pasted::Code(text.to_string()));
    };
    let query = query.split('#').next().unwrap_or_default();
    let mut code = None;
    let mut got_state = None;
    let mut error = None;
    let mut description = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let value = Some(value.into_owned()).filter(|v| !v.is_empty());
        match key.as_ref() {
            "code" => code = value,
            "state" => got_state = value,
            "error" => error = value,
            "error_description" => description = value,
            _ => {}
        }
    }
    if got_state.as_deref() != Some(state) {
        return Err(PasteError::StateMismatch);
    }
    if let Some(error) = error {
        return Ok(Pasted::Error { error, description });
    }
    code.map(Pasted::Code).ok_or(PasteError::NoCode)
}

/// The method to offer first: a device code over SSH or without a display, else the browser.
pub fn detect_method() -> LoginMethod {
    detect_method_from(|name| std::env::var_os(name).filter(|v| !v.is_empty()).is_some())
}

/// [`detect_method`] over an explicit environment (`is_set(name)`), for tests.
pub fn detect_method_from(is_set: impl Fn(&str) -> bool) -> LoginMethod {
    let over_ssh = is_set("SSH_CONNECTION") || is_set("SSH_TTY");
    // macOS and Windows always have a display; elsewhere X11 or Wayland must be there.
    let headless = cfg!(all(unix, not(target_os = "macos")))
        && !is_set("DISPLAY")
        && !is_set("WAYLAND_DISPLAY");
    if over_ssh || headless {
        LoginMethod::Device
    } else {
        LoginMethod::Browser
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_handle_keeps_the_state_out_of_debug() {
        let (pastes, _) = mpsc::unbounded_channel();
        let (_, outcome) = watch::channel(None);
        let (_, busy) = watch::channel(());
        let handle = LoginHandle {
            method: LoginMethod::Browser,
            cancel: CancellationToken::new(),
            state: Some("state-s3cr3t-value".into()),
            pastes,
            outcome,
            busy,
        };
        assert!(!format!("{handle:?}").contains("state-s3cr3t-value"));
    }

    #[test]
    fn pasted_urls_are_checked_against_the_state() {
        let url = "http://localhost:1455/auth/callback?code=ac_1&state=s123";
        assert_eq!(parse_paste(url, "s123"), Ok(Pasted::Code("ac_1".into())));
        assert_eq!(
            parse_paste(&format!("  {url}#frag\n"), "s123"),
            Ok(Pasted::Code("ac_1".into()))
        );
        assert_eq!(parse_paste(url, "other"), Err(PasteError::StateMismatch));
        assert_eq!(
            parse_paste("localhost:1455/auth/callback?code=ac_1", "s123"),
            Err(PasteError::StateMismatch)
        );
        assert_eq!(
            parse_paste("code=ac_2&state=s123", "s123"),
            Ok(Pasted::Code("ac_2".into()))
        );
        assert_eq!(
            parse_paste("http://localhost:1455/auth/callback?state=s123", "s123"),
            Err(PasteError::NoCode)
        );
        assert_eq!(
            parse_paste(
                "http://localhost:1455/auth/callback?error=access_denied&error_description=no%20way&state=s123",
                "s123"
            ),
            Ok(Pasted::Error {
                error: "access_denied".into(),
                description: Some("no way".into())
            })
        );
    }

    #[test]
    fn a_bare_code_is_taken_as_it_is() {
        assert_eq!(
            parse_paste(" ac_xyz \n", "s"),
            Ok(Pasted::Code("ac_xyz".into()))
        );
        assert_eq!(parse_paste("", "s"), Err(PasteError::Empty));
        assert_eq!(parse_paste("two words", "s"), Err(PasteError::NoCode));
        assert_eq!(
            parse_paste("http://localhost:1455/auth/callback", "s"),
            Err(PasteError::NoCode)
        );
    }

    #[test]
    fn ssh_or_no_display_means_device_code() {
        let env = |set: &'static [&'static str]| move |name: &str| set.contains(&name);
        assert_eq!(
            detect_method_from(env(&["SSH_CONNECTION", "DISPLAY"])),
            LoginMethod::Device
        );
        assert_eq!(
            detect_method_from(env(&["SSH_TTY", "WAYLAND_DISPLAY"])),
            LoginMethod::Device
        );
        assert_eq!(detect_method_from(env(&["DISPLAY"])), LoginMethod::Browser);
        assert_eq!(
            detect_method_from(env(&["WAYLAND_DISPLAY"])),
            LoginMethod::Browser
        );
        let bare = detect_method_from(env(&[]));
        if cfg!(all(unix, not(target_os = "macos"))) {
            assert_eq!(bare, LoginMethod::Device);
        } else {
            assert_eq!(bare, LoginMethod::Browser);
        }
    }

    #[test]
    fn options_pair_the_allow_listed_ports() {
        let mut config = Config::for_origin("http://127.0.0.1:1", std::path::Path::new("/t"));
        assert_eq!(LoginOptions::from_config(&config).fallback_port, None);
        config.callback_port = 1455;
        let options = LoginOptions::from_config(&config);
        assert_eq!(
            (options.callback_port, options.fallback_port),
            (1455, Some(1457))
        );
        config.callback_port = 1457;
        assert_eq!(LoginOptions::from_config(&config).fallback_port, None);
    }

    #[test]
    fn durations_read_naturally() {}
}
