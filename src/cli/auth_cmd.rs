//! `kelp login`, `kelp logout`, `kelp auth status`.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use kelp::{
    auth, auth::Accounts, auth::CredentialSource, auth::LoginHandle, auth::LoginOutcome,
    auth::SaveKeyError, auth::SignedIn, auth::SignedOut, auth::StoredLogin,
};

use kelp::config::Config;
use kelp::protocol::{Account, LoginEvent, LoginMethod};
use kelp::qr::QrCells;
use tokio::sync::mpsc;

use super::common::{exit, fail};

/// Which login `kelp login` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginChoice {
    /// An API key from stdin; `check`: only once the API accepts it.
    ApiKey { check: bool },
    /// A ChatGPT login by the given method, or the one that suits this machine; `qr`: print
    /// the device code's QR code even when the window is too small for it.
    ChatGpt {
        method: Option<LoginMethod>,
        qr: bool,
        name: Option<String>,
    },
}

/// `kelp login`.
pub fn login(config: &Config, choice: LoginChoice) -> ExitCode {
    match choice {
        LoginChoice::ApiKey { check } => login_with_api_key(config, check),
        LoginChoice::ChatGpt { method, qr, name } => {
            let method = method.unwrap_or_else(auth::detect_method);
            with_runtime(|| chatgpt_login(config, method, qr, name))
        }
    }
}

fn login_with_api_key(config: &Config, check: bool) -> ExitCode {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        return fail(
            exit::FAILURE,
            &format!("cannot read the API key from stdin: {e}"),
        );
    }
    if let Err(why) = auth::validate_api_key(&input) {
        return fail(exit::USAGE, why);
    }
    with_runtime(|| async move {
        let (accounts, http) = match accounts(config) {
            Ok(service) => service,
            Err(e) => return fail(exit::FAILURE, &e),
        };
        let saved = if check {
            let check = |key: String| async move {
                kelp::llm::models::check_api_key(&http, config, &key).await
            };
            accounts.check_and_save_api_key(&input, check).await
        } else {
            accounts.save_api_key(&input).await
        };
        match saved {
            Ok(masked) => {
                let checked = if check { "checked and " } else { "" };
                println!(
                    "Logged in with API key {masked} ({checked}saved to {})",
                    config.auth_file.display()
                );
                ExitCode::SUCCESS
            }
            Err(SaveKeyError::Invalid(why)) => fail(exit::USAGE, why),
            Err(SaveKeyError::Refused(why)) => {
                fail(exit::AUTH, &format!("{why}; nothing was saved"))
            }
            Err(SaveKeyError::Unchecked(why)) => fail(
                exit::FAILURE,
                &format!(
                    "the key could not be checked: {why}; nothing was saved \
                     (to save it unchecked: kelp login --with-api-key --no-check)"
                ),
            ),
            Err(e) => fail(exit::FAILURE, &e.to_string()),
        }
    })
}

/// The account service over the process's one HTTP client and `OPENAI_API_KEY`.
pub(super) fn accounts(config: &Config) -> Result<(Accounts, reqwest::Client), String> {
    let http = http_client()?;
    let env_api_key = std::env::var("OPENAI_API_KEY").ok();
    Ok((
        Accounts::from_config(config, http.clone(), env_api_key, None),
        http,
    ))
}

async fn chatgpt_login(
    config: &Config,
    method: LoginMethod,
    force_qr: bool,
    name: Option<String>,
) -> ExitCode {
    let http = match http_client() {
        Ok(http) => http,
        Err(e) => return fail(exit::FAILURE, &e),
    };
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let options = auth::LoginOptions {
        name,
        ..auth::LoginOptions::from_config(config)
    };
    let handle = auth::start_login_with(method, options, http, events_tx);
    let pasting = method == LoginMethod::Browser && std::io::stdin().is_terminal();
    let mut pastes = if pasting {
        read_lines()
    } else {
        mpsc::unbounded_channel().1
    };
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut interrupted = false;
    let mut pasted = false;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => {
                    let last = matches!(
                        event,
                        LoginEvent::Done(_) | LoginEvent::Failed(_) | LoginEvent::Cancelled
                    );
                    show(&event, pasting, config, force_qr);
                    if last {
                        break;
                    }
                }
                None => break,
            },
            Some(line) = pastes.recv() => pasted |= paste(&handle, &line),
            _ = &mut ctrl_c, if !interrupted => {
                interrupted = true;
                handle.cancel();
            }
        }
    }
    let outcome = handle.wait().await;
    // The runtime ends with this function: keep it until the browser got the success page,
    // unless the login came pasted, when no browser is coming for it. Exiting at once also
    // stops the reading of stdin, which would swallow what the person types next.
    if !pasted {
        handle.released().await;
    }
    match outcome {
        LoginOutcome::Done(_) => {
            say_kept_beside(config);
            ExitCode::SUCCESS
        }
        LoginOutcome::Failed(_) => ExitCode::from(exit::AUTH),
        LoginOutcome::Cancelled => ExitCode::from(exit::CANCELLED),
    }
}

/// After a login: the logins kept beside it, so the person knows the one before is not lost.
fn say_kept_beside(config: &Config) {
    let store = kelp::auth::AuthStore::new(&config.auth_file);
    let Ok(logins) = kelp::auth::Logins::beside(&store).list() else {
        return;
    };
    let (in_use, others): (Vec<_>, Vec<_>) = logins.iter().partition(|login| login.active);
    let (Some(in_use), false) = (in_use.first(), others.is_empty()) else {
        return;
    };
    let names: Vec<String> = others
        .iter()
        .map(|login| kelp::terminal_text::printable(&login.name).into_owned())
        .collect();
    println!(
        "Kept as {}, beside {}: `kelp accounts switch NAME` changes which is in use.",
        kelp::terminal_text::printable(&in_use.name),
        names.join(", ")
    );
}

/// Hands a typed line to the login; whether it took it.
fn paste(handle: &LoginHandle, line: &str) -> bool {
    if line.trim().is_empty() {
        return false;
    }
    match handle.paste(line) {
        Ok(()) => {
            println!("Got it, finishing the login…");
            true
        }
        Err(e) => {
            eprintln!("kelp: {e}");
            false
        }
    }
}

/// Lines typed on stdin, read on a plain thread: a blocked read must not keep the runtime
/// from shutting down.
fn read_lines() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn show(event: &LoginEvent, pasting: bool, config: &Config, force_qr: bool) {
    let terminal = std::io::stdout().is_terminal();
    let bold = |text: &str| {
        if terminal {
            format!("\x1b[1m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    };
    // An OSC 8 hyperlink: a terminal that supports it opens the whole URL even where it wraps.
    let link = |url: &str| {
        if terminal {
            format!("\x1b]8;;{url}\x1b\\{url}\x1b]8;;\x1b\\")
        } else {
            url.to_string()
        }
    };
    match event {
        LoginEvent::BrowserWaiting {
            authorize_url,
            port,
            opening,
        } => {
            if *opening {
                println!("Sign in with ChatGPT in your browser. If it does not open, visit:\n");
            } else {
                println!(
                    "No browser can open here: open this URL in a browser on any machine and \
                     sign in:\n"
                );
            }
            println!("  {}\n", link(authorize_url));
            println!("Waiting for the browser on port {port} (Ctrl+C to cancel).");
            if pasting {
                println!(
                    "If the browser runs on another machine, it ends on a page that fails to \
                     load: copy that page's URL from the address bar, paste it here and press \
                     Enter."
                );
            }
        }
        LoginEvent::BrowserNotOpened => println!(
            "The browser did not open here: open the URL above in a browser on any machine."
        ),
        LoginEvent::DeviceCode {
            verification_url,
            user_code,
            expires_at,
        } => {
            // The QR first and the URL and code last, beside "Waiting…": the essentials stay
            // on screen in a 24-row window, whatever scrolls off the top.
            println!("Sign in with ChatGPT on any device: scan the QR code, or open the link.");
            match QrCells::new(verification_url) {
                Ok(qr) => match qr_room(
                    &qr,
                    terminal
                        .then(crossterm::terminal::size)
                        .and_then(Result::ok),
                ) {
                    // A terminal that reports no size (0 rows: some editors' embedded ones)
                    // would wrap the code's rows into noise.
                    Err((_, 0)) if !force_qr => println!(
                        "(This terminal does not say its size, so no QR code is drawn: run \
                         `kelp login --device --qr` to draw it anyway.)"
                    ),
                    Err((rows, have)) if !force_qr => println!(
                        "(The QR code needs a window {rows} rows tall; this one has {have}. \
                         Make it taller, or run `kelp login --device --qr` and scroll up.)"
                    ),
                    _ => print!("{}", indent(&qr.to_ansi(), "  ")),
                },
                Err(e) => tracing::info!(%e, "no QR code"),
            }
            println!(
                "Code expires {}; cancel if someone else gave it to you.",
                when_as(*expires_at, "%H:%M")
            );
            println!("  1. Open {}", link(verification_url));
            println!(
                "  2. Enter the code {}",
                bold(&kelp::terminal_text::printable(user_code))
            );
            println!("Waiting for approval (Ctrl+C to cancel)…");
        }
        LoginEvent::Exchanging => println!("Signing in…"),
        LoginEvent::Done(account) => {
            println!("Logged in to ChatGPT as {}.", who(account));
            println!("Saved to {}", kelp::humanize::home_path(&config.auth_file));
        }
        LoginEvent::Failed(message) => eprintln!("kelp: {message}"),
        LoginEvent::Cancelled => eprintln!("Login cancelled."),
    }
    let _ = std::io::stdout().flush();
}

/// Rows the device screen needs besides the QR code: one line before it, four after, and the
/// row the cursor waits on.
const DEVICE_TEXT_ROWS: usize = 6;

/// Whether the QR code and the lines after it fit a terminal window of `size` (columns, rows;
/// `None`: not a terminal); else the rows they need and the rows there are (0: a terminal that
/// reports no size).
fn qr_room(qr: &QrCells, size: Option<(u16, u16)>) -> Result<(), (usize, u16)> {
    let Some((columns, rows)) = size else {
        return Ok(());
    };
    let needed = qr.rows().len() + DEVICE_TEXT_ROWS;
    if rows == 0 || columns == 0 {
        return Err((needed, 0));
    }
    if needed <= usize::from(rows) && qr.width() + 2 <= usize::from(columns) {
        Ok(())
    } else {
        Err((needed, rows))
    }
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|line| format!("{prefix}{line}\n"))
        .collect()
}

/// "ana@example.com (plus)".
fn who(account: &Account) -> String {
    let name = account.email.as_deref().unwrap_or("an unknown account");
    match &account.plan {
        Some(plan) => format!("{name} ({plan})"),
        None => name.to_string(),
    }
}

/// "at 14:32 (in 15 minutes)" / "at 14:32 (3 minutes ago)", in local time.
fn when(at: SystemTime) -> String {
    when_as(at, "%Y-%m-%d %H:%M")
}

/// [`when`] with the local time in `format`.
fn when_as(at: SystemTime, format: &str) -> String {
    // A stored expiry beyond chrono's range would panic in the plain conversion.
    let local = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .and_then(|since| i64::try_from(since.as_millis()).ok())
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|utc| utc.with_timezone(&chrono::Local));
    let Some(local) = local else {
        return "at an unknown time".to_string();
    };
    let now = SystemTime::now();
    let relative = match at.duration_since(now) {
        Ok(ahead) => format!("in {}", rough(ahead)),
        Err(e) => format!("{} ago", rough(e.duration())),
    };
    format!("at {} ({relative})", local.format(format))
}

fn rough(d: Duration) -> String {
    let secs = d.as_secs();
    let (n, unit) = match secs {
        0..60 => (secs, "second"),
        60..7200 => ((secs + 30) / 60, "minute"),
        7200..172_800 => ((secs + 1800) / 3600, "hour"),
        _ => ((secs + 43_200) / 86_400, "day"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// `kelp logout`.
pub fn logout(config: &Config) -> ExitCode {
    with_runtime(|| async {
        let (accounts, _) = match accounts(config) {
            Ok(service) => service,
            Err(e) => return fail(exit::FAILURE, &e),
        };
        let path = config.auth_file.display().to_string();
        match accounts.sign_out().await {
            Ok(SignedOut::Stored(report)) => {
                if let Some(Err(why)) = &report.revoked {
                    eprintln!(
                        "kelp: could not revoke the ChatGPT login ({why}); removing it anyway"
                    );
                }
                if report.removed {
                    println!("Logged out (removed the openai entry from {path}).");
                } else {
                    println!("Not logged in; nothing to remove from {path}.");
                }
                ExitCode::SUCCESS
            }
            // The command line never holds a host's tokens.
            Ok(SignedOut::HostTokens) => ExitCode::SUCCESS,
            Err(e) => fail(exit::FAILURE, &e.to_string()),
        }
    })
}

/// `kelp auth status`. Never talks to the network.
pub fn status(config: &Config) -> ExitCode {
    let (accounts, _) = match accounts(config) {
        Ok(service) => service,
        Err(e) => return fail(exit::FAILURE, &e),
    };
    let file = kelp::humanize::home_path(&config.auth_file);
    let provider = &config.model_provider;
    if !provider.is_openai() {
        println!(
            "Provider:  {}",
            provider.describe(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()))
        );
        // Its key is its own: kelp's login is not what it needs.
        if !provider.requires_openai_auth {
            let missing = provider
                .env_key
                .as_deref()
                .filter(|var| std::env::var_os(var).is_none_or(|v| v.is_empty()));
            return match missing {
                Some(var) => fail(
                    exit::FAILURE,
                    &format!("{var} is not set: requests to {} need it", provider.name),
                ),
                None => ExitCode::SUCCESS,
            };
        }
    }
    match accounts.signed_in_now() {
        Ok(Some(who)) => {
            match who {
                SignedIn::ApiKey {
                    masked,
                    source: CredentialSource::AuthFile,
                } => println!("Logged in with API key {masked}"),
                SignedIn::ApiKey { masked, .. } => {
                    println!("Using API key {masked} from OPENAI_API_KEY");
                }
                SignedIn::ChatGpt(login) => {
                    println!("Logged in with ChatGPT");
                    show_chatgpt(&login);
                }
                SignedIn::HostTokens(_) => println!("Logged in with ChatGPT"),
            }
            println!("Auth file: {file}");
            ExitCode::SUCCESS
        }
        Ok(None) => {
            println!("Not logged in. Run `kelp login`, or set OPENAI_API_KEY.");
            println!("Auth file: {file}");
            ExitCode::from(exit::FAILURE)
        }
        Err(e) => fail(exit::FAILURE, &e.to_string()),
    }
}

fn show_chatgpt(login: &StoredLogin) {
    let unknown = "unknown";
    let account = &login.account;
    println!("Email:     {}", account.email.as_deref().unwrap_or(unknown));
    println!("Plan:      {}", account.plan.as_deref().unwrap_or(unknown));
    println!(
        "Account:   {}",
        account.account_id.as_deref().unwrap_or(unknown)
    );
    let expiry = when(login.expires_at);
    if login.expires_at > SystemTime::now() {
        println!("Token:     expires {expiry}; refreshed automatically");
    } else {
        println!("Token:     expired {expiry}; refreshed on next use");
    }
}

/// The process's one HTTP client, shared with the llm layer.
fn http_client() -> Result<reqwest::Client, String> {
    kelp::llm::client::http_client().map_err(|e| format!("cannot set up HTTP: {e}"))
}

/// Runs `work` on a small runtime. Leftover blocking work (a browser that never returns) does
/// not hold up the exit.
pub(super) fn with_runtime<F: Future<Output = ExitCode>>(work: impl FnOnce() -> F) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(exit::FAILURE, &format!("cannot start: {e}")),
    };
    let code = runtime.block_on(work());
    runtime.shutdown_timeout(Duration::from_millis(500));
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_qr_code_is_drawn_only_where_it_fits_and_the_size_is_known() {
        let qr = QrCells::new("https://auth.openai.com/codex/device").unwrap();
        let needed = qr.rows().len() + DEVICE_TEXT_ROWS;
        assert_eq!(qr_room(&qr, None), Ok(()), "not a terminal: printed");
        assert_eq!(qr_room(&qr, Some((80, 24))), Ok(()));
        assert_eq!(qr_room(&qr, Some((80, 20))), Err((needed, 20)));
        assert_eq!(qr_room(&qr, Some((0, 0))), Err((needed, 0)), "no size said");
        assert_eq!(qr_room(&qr, Some((80, 0))), Err((needed, 0)));
    }
}
