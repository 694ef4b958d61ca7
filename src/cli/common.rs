//! What every verb of the command line uses: the exit codes, the async runtime, lines said
//! through the terminal filter, and the app-server a `--remote` names.

use std::process::ExitCode;

use kelp::config::Config;

/// Exit codes scripts can rely on.
pub mod exit {
    /// Something went wrong that is not covered below.
    pub const FAILURE: u8 = 1;
    /// The command line was wrong (clap's own code).
    pub const USAGE: u8 = 2;
    /// Not logged in, or the login failed, expired or was rejected.
    pub const AUTH: u8 = 3;
    /// A rate limit, usage limit or quota stopped the request.
    pub const LIMIT: u8 = 4;
    /// The person cancelled (Ctrl+C), as shells report SIGINT.
    pub const CANCELLED: u8 = 130;
}

/// The async runtime of a command: two workers, all drivers on.
pub fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| fail(exit::FAILURE, &format!("cannot start: {e}")))
}

/// Prints a one-line error on stderr and returns `code`.
pub fn fail(code: u8, message: &str) -> ExitCode {
    say_err(&format!("kelp: {message}"));
    ExitCode::from(code)
}

/// Writes `line` to stderr through the terminal filter: what kelp says may carry a folder's,
/// a file's, a host's or a model's words, whose control characters would act on the terminal.
/// A stderr that is gone (the terminal closed) loses the line; it does not panic.
pub fn say_err(line: &str) {
    use std::io::Write;
    let line = kelp::terminal_text::printable_lines(line);
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Writes `line` to stdout through the terminal filter (see [`say_err`]).
pub fn say(line: &str) {
    println!("{}", kelp::terminal_text::printable_lines(line));
}

/// Runs an embedding face on stdin and stdout until stdin closes, then exits 0; stopped by a
/// signal, it exits 128 + the signal's number, as a shell reports it.
pub fn serve_stdio<F>(config: Config, serve: impl FnOnce(Config) -> F) -> ExitCode
where
    F: std::future::Future<Output = anyhow::Result<kelp::jsonrpc::Stopped>>,
{
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let result = runtime.block_on(async {
        let served = serve(config).await;
        kelp::task::let_end(kelp::task::LET_END_BOUND).await;
        served
    });
    // Logins, turns and commands still running are cancelled, not waited for.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(kelp::jsonrpc::Stopped::InputClosed) => ExitCode::SUCCESS,
        Ok(kelp::jsonrpc::Stopped::Signal(signal)) => ExitCode::from(128 + signal as u8),
        Err(e) => fail(exit::FAILURE, &format!("{e:#}")),
    }
}

/// The app-server `--remote` names and the token `--remote-auth-token-env` holds, checked to
/// go only where it stays private.
pub fn target_and_token(
    address: &str,
    token_env: Option<&str>,
) -> Result<(kelp::remote::Target, Option<kelp::secret::Secret>), RemoteFlagError> {
    let target: kelp::remote::Target = address.parse()?;
    let token = match token_env {
        Some(name) => match std::env::var(name) {
            Ok(token) if !token.trim().is_empty() => Some(kelp::secret::Secret::from(token.trim())),
            _ => return Err(RemoteFlagError::NoToken(name.to_string())),
        },
        None => None,
    };
    target.may_carry(token.as_ref())?;
    Ok((target, token))
}

/// Why `--remote` or `--remote-auth-token-env` cannot be used as given.
#[derive(Debug, thiserror::Error)]
pub enum RemoteFlagError {
    #[error("--remote {0}")]
    Target(#[from] kelp::remote::TargetError),
    #[error("--remote-auth-token-env {0}: the variable is not set (or empty)")]
    NoToken(String),
}
