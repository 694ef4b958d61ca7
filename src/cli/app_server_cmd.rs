//! `kelp app-server`: the Codex app-server protocol on stdin and stdout (the default), or as a
//! server on a Unix socket or a port (`--listen`), and `kelp app-server proxy`, which carries
//! stdio to that socket.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use kelp::app_server::listen::{Access, AccessError, Listen};
use kelp::config::{Config, Overrides};

use super::common::{exit, fail, runtime, serve_stdio};
use super::flags::AgentFlags;

#[derive(Debug, Args)]
pub struct AppServerArgs {
    #[command(flatten)]
    pub agent: AgentFlags,
    /// Where to serve: `stdio://` (the default: one host on stdin and stdout), `unix://[PATH]`
    /// (a socket of the person's own; PATH a link to it), or `ws://HOST:PORT`. The last two
    /// speak WebSocket, as Codex's app-server does, and answer `GET /readyz` and `/healthz`.
    #[arg(long, value_name = "URL", default_value = "stdio://")]
    listen: Listen,
    /// How a WebSocket client proves it may connect: `capability-token`, with --ws-token-file
    /// or --ws-token-sha256 (a listener beyond loopback needs one).
    #[arg(long, value_name = "MODE")]
    ws_auth: Option<WsAuth>,
    /// The file holding the token a client sends as `Authorization: Bearer TOKEN` (absolute).
    #[arg(long, value_name = "FILE", requires = "ws_auth")]
    ws_token_file: Option<PathBuf>,
    /// The SHA-256 of that token, as 64 hex digits, instead of the file.
    #[arg(
        long,
        value_name = "HEX",
        requires = "ws_auth",
        conflicts_with = "ws_token_file"
    )]
    ws_token_sha256: Option<String>,
    /// Let a client over a TCP port (`ws://`) ask for commands without the sandbox
    /// (`dangerFullAccess` or `externalSandbox` in `thread/start`, `turn/start` or
    /// `command/exec`): refused otherwise, since any process that holds the token, a
    /// sandboxed command with the network among them, reaches a loopback port.
    #[arg(long)]
    ws_allow_full_access: bool,
    /// Accepted for hosts written for Codex; kelp sends no analytics.
    #[arg(long, hide = true)]
    analytics_default_enabled: bool,
    #[command(subcommand)]
    action: Option<AppServerCommand>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum WsAuth {
    CapabilityToken,
}

#[derive(Debug, Subcommand)]
enum AppServerCommand {
    /// Carry stdin and stdout to a running `kelp app-server --listen unix://` (one JSON-RPC
    /// message per line): `ssh HOST kelp app-server proxy` serves a host on another machine.
    Proxy {
        /// The server's socket (default: kelp's own, as `--listen unix://` makes it).
        #[arg(long, value_name = "PATH")]
        sock: Option<PathBuf>,
    },
}

/// Serves as `args` say until stdin closes (stdio) or a signal stops kelp.
pub fn app_server(config: Config, overrides: Overrides, args: AppServerArgs) -> ExitCode {
    if let Some(AppServerCommand::Proxy { sock }) = args.action {
        return run(kelp::app_server::relay::proxy(sock));
    }
    let access = match (args.ws_auth, &args.ws_token_file, args.ws_token_sha256) {
        (None, ..) => Ok(Access::Open),
        (Some(WsAuth::CapabilityToken), Some(file), None) => Access::token_file(file),
        (Some(WsAuth::CapabilityToken), None, Some(hex)) => Access::token_sha256(&hex),
        (Some(WsAuth::CapabilityToken), ..) => Err(AccessError::NoToken),
    };
    let access = match access {
        Ok(access) => access,
        Err(why) => return fail(exit::USAGE, &why.to_string()),
    };
    // While the listener lives, every command sandbox of the person's hides its token file.
    let _record = match (&args.listen, &args.ws_token_file) {
        (Listen::Ws(_), Some(file)) => match kelp::config::runtime::TokenFileRecord::write(file) {
            Ok(record) => Some(record),
            Err(why) => {
                return fail(
                    exit::FAILURE,
                    &format!("cannot note the token file for the sandbox to hide: {why}"),
                );
            }
        },
        _ => None,
    };
    let options = kelp::app_server::listen::Options {
        access,
        tcp_full_access: args.ws_allow_full_access,
    };
    match args.listen {
        Listen::Stdio => serve_stdio(config, move |config| {
            kelp::app_server::serve_with(config, overrides)
        }),
        listen => serve_stdio(config, move |config| {
            kelp::app_server::listen::serve(config, overrides, listen, options)
        }),
    }
}

/// Runs `work` to its end: exit 0, or 1 with its error in one line.
fn run(work: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let ended = runtime.block_on(work);
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match ended {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(exit::FAILURE, &format!("{e:#}")),
    }
}

/// Where the person's own app-server on this machine listens (`server = "per-user"`):
/// kelp's socket.
pub(crate) fn per_user_socket() -> Result<PathBuf, String> {
    kelp::app_server::listen::default_socket().map_err(|e| format!("{e:#}"))
}

/// The per-user server on `socket`: the one listening there, or one started now, apart from
/// this terminal's session so that it outlives it; or why there is none, in one line. Run after
/// the client's first frame: a server that starts does not hold the screen back.
pub(crate) fn ensure_per_user_server(socket: &Path, state_dir: &Path) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let address = format!("unix://{}", socket.display());
    if std::os::unix::net::UnixStream::connect(socket).is_ok() {
        return Ok(());
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find kelp itself: {e}"))?;
    let log = state_dir.join("app-server.log");
    let _ = kelp::private_file::create_private_dir(state_dir);
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let mut server = std::process::Command::new(exe);
    server
        .args(["app-server", "--listen", &address])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(stderr);
    // SAFETY: setsid is async-signal-safe and touches nothing of the parent's. A session of its
    // own: no terminal's hangup reaches the server.
    unsafe {
        server.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = server
        .spawn()
        .map_err(|e| format!("cannot start the per-user app-server: {e}"))?;
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(5) {
        if std::os::unix::net::UnixStream::connect(socket).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "the per-user app-server stopped at start ({status}): see {}",
                log.display()
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err(format!(
        "the per-user app-server did not listen on {} within 5 s: see {}",
        socket.display(),
        log.display()
    ))
}
