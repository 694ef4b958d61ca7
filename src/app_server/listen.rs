//! `kelp app-server --listen unix://[PATH] | ws://HOST:PORT`: the protocol over WebSocket, as
//! Codex's app-server serves it, for clients that stay while their connections come and go (an
//! editor over SSH, `kelp --remote`, `codex --remote`).
//!
//! - Every connection is HTTP/1.1 first (hyper's server): `GET /readyz` and `/healthz` answer
//!   200; an upgrade to WebSocket (tungstenite's framing) carries one JSON-RPC message per
//!   text frame (frames up to 16 MiB, messages up to 64 MiB, as Codex's); anything else is a
//!   400.
//! - A request that carries an `Origin` header comes from a web page in the person's browser,
//!   which may reach any loopback port: refused (403) before any JSON-RPC.
//! - `--ws-auth capability-token` (a token file, or its SHA-256), on a TCP listener: an upgrade
//!   without `Authorization: Bearer TOKEN` or with another token gets 401. A TCP listener
//!   beyond loopback refuses to start without one. A Unix socket's guard is its mode, as in
//!   Codex.
//! - A Unix socket lives in kelp's private runtime folder (0700, the person's own) with mode
//!   0600; `unix://PATH` makes PATH a link to it, as Codex does. A socket left by a server that
//!   died is replaced; one a live server answers on is not.
//!
//! Each connection is a client of the one [`Hub`]: threads are shared, and a client that goes
//! away leaves its threads' turns running.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use super::Hub;
use crate::config::runtime::runtime_folder;
use crate::config::{Config, Overrides};
use crate::jsonrpc::{Dialect, MAX_BACKLOG, Out, RpcError, Stopped};

/// Where `kelp app-server` serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// One client on stdin and stdout (the default).
    Stdio,
    /// A Unix socket: at this path (a link to kelp's socket), or kelp's own.
    Unix(Option<PathBuf>),
    /// A TCP port.
    Ws(SocketAddr),
}

/// A `--listen` URL kelp does not serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListenError {
    #[error("{0}: give an address and a port, as ws://127.0.0.1:4500")]
    NoAddress(String),
    #[error("{0}: kelp serves stdio://, unix://[PATH] or ws://HOST:PORT")]
    Scheme(String),
}

impl std::str::FromStr for Listen {
    type Err = ListenError;

    fn from_str(url: &str) -> Result<Self, ListenError> {
        if url == "stdio://" || url == "stdio" {
            return Ok(Self::Stdio);
        }
        if let Some(path) = url.strip_prefix("unix://") {
            return Ok(Self::Unix((!path.is_empty()).then(|| PathBuf::from(path))));
        }
        if let Some(address) = url.strip_prefix("ws://") {
            let address = address.trim_end_matches('/');
            return address
                .parse()
                .map(Self::Ws)
                .map_err(|_| ListenError::NoAddress(url.to_string()));
        }
        Err(ListenError::Scheme(url.to_string()))
    }
}

/// Why the token a WebSocket listener is to check cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("--ws-token-file {}: give an absolute path", .0.display())]
    NotAbsolute(PathBuf),
    #[error("--ws-token-file {}: {error}", .file.display())]
    Unreadable {
        file: PathBuf,
        error: std::io::Error,
    },
    #[error("--ws-token-file {}: the file is empty", .0.display())]
    Empty(PathBuf),
    #[error("--ws-token-sha256: give the token's SHA-256 as 64 hex digits")]
    BadSha256,
    #[error("--ws-auth capability-token needs --ws-token-file or --ws-token-sha256")]
    NoToken,
}

/// Who may open a WebSocket: anyone who reaches the listener, or the holder of a token (kept
/// as its SHA-256 only).
#[derive(Clone, PartialEq, Eq)]
pub enum Access {
    Open,
    Token([u8; 32]),
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Open => "Open",
            Self::Token(_) => "Token(…)",
        })
    }
}

impl Access {
    /// The token read from `file`, an absolute path (its surrounding whitespace trimmed, as
    /// Codex reads it).
    pub fn token_file(file: &Path) -> Result<Self, AccessError> {
        if !file.is_absolute() {
            return Err(AccessError::NotAbsolute(file.to_path_buf()));
        }
        let text = std::fs::read_to_string(file).map_err(|error| AccessError::Unreadable {
            file: file.to_path_buf(),
            error,
        })?;
        let token = text.trim();
        if token.is_empty() {
            return Err(AccessError::Empty(file.to_path_buf()));
        }
        Ok(Self::Token(Sha256::digest(token.as_bytes()).into()))
    }

    /// The token's SHA-256 as 64 hex digits.
    pub fn token_sha256(hex: &str) -> Result<Self, AccessError> {
        let hex = hex.trim();
        let digits: Option<Vec<u8>> = (hex.len() == 64)
            .then(|| {
                (0..32)
                    .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
                    .collect()
            })
            .flatten();
        let digits = digits.ok_or(AccessError::BadSha256)?;
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&digits);
        Ok(Self::Token(hash))
    }

    /// Whether `authorization` (the header's value) lets its holder in, or why not in Codex's
    /// words. The token presented is hashed and the hashes compared in constant time.
    fn admits(&self, authorization: Option<&HeaderValue>) -> Result<(), &'static str> {
        let Self::Token(expected) = self else {
            return Ok(());
        };
        let Some(value) = authorization else {
            return Err("missing websocket bearer token");
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, token)| {
                scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()
            })
            .map(|(_, token)| token.trim())
            .ok_or("invalid authorization header")?;
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let differ = presented
            .iter()
            .zip(expected)
            .fold(0u8, |differ, (a, b)| differ | (a ^ b));
        if differ == 0 {
            Ok(())
        } else {
            Err("invalid websocket bearer token")
        }
    }
}

/// How a listener lets clients in, and what they may ask.
#[derive(Debug, Clone)]
pub struct Options {
    pub access: Access,
    /// Whether a client over a TCP port may ask for commands without the sandbox
    /// (`--ws-allow-full-access`); one over the Unix socket always may.
    pub tcp_full_access: bool,
}

/// Serves `listen` until a signal stops kelp; then every client's work is stopped, and the
/// socket (and its link) removed.
pub async fn serve(
    config: Config,
    overrides: Overrides,
    listen: Listen,
    options: Options,
) -> anyhow::Result<Stopped> {
    let Options {
        access,
        tcp_full_access,
    } = options;
    let hub = Arc::new(Hub::new(config, overrides)?);
    hub.sweep_unheard().await;
    let sweeper = Arc::clone(&hub);
    let sweeping = crate::task::spawn(async move {
        loop {
            tokio::time::sleep(SWEEP_EVERY).await;
            sweeper.sweep(UNLOAD_AFTER).await;
        }
    });
    let clients = Arc::new(tokio::sync::Semaphore::new(MAX_CLIENTS));
    let gate = |access, full_access| {
        Arc::new(Gate {
            hub: Arc::clone(&hub),
            access,
            full_access,
            clients: Arc::clone(&clients),
        })
    };
    let stopped = match listen {
        Listen::Stdio => anyhow::bail!("stdio:// is served by app_server::serve_with"),
        Listen::Ws(address) => {
            if !address.ip().is_loopback() && access == Access::Open {
                anyhow::bail!(
                    "--listen ws://{address}: a listener beyond this machine needs --ws-auth capability-token and a token"
                );
            }
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .map_err(|e| anyhow::anyhow!("--listen ws://{address}: {e}"))?;
            let bound = listener.local_addr()?;
            // Any process of any user reaches a loopback port (and a sandboxed command with
            // the network, too): without a token of the person's, kelp makes one.
            let made = match access {
                Access::Open => Some(MadeToken::new(bound.port())?),
                Access::Token(_) => None,
            };
            let access = made.as_ref().map_or(access, |made| made.access.clone());
            eprintln!("kelp app-server (WebSockets)");
            eprintln!("  listening on: ws://{bound}");
            if let Some(made) = &made {
                eprintln!(
                    "  auth: send Authorization: Bearer with the token in {} (kelp made it; --ws-auth capability-token sets your own)",
                    made.path.display()
                );
            }
            eprintln!("  readyz: http://{bound}/readyz");
            eprintln!("  healthz: http://{bound}/healthz");
            if bound.ip().is_loopback() {
                eprintln!(
                    "  note: binds localhost only (use SSH port-forwarding for remote access)"
                );
            } else {
                eprintln!("  note: websocket auth is required for non-localhost listeners");
            }
            tokio::select! {
                () = accept_tcp(listener, gate(access, tcp_full_access)) => 0,
                signal = crate::task::stop_requested() => signal,
            }
        }
        Listen::Unix(link) => {
            if access != Access::Open {
                eprintln!(
                    "kelp app-server: a Unix socket asks no token: its mode lets only you in"
                );
            }
            let socket = Socket::bind(link.as_deref())?;
            eprintln!("kelp app-server (WebSockets)");
            eprintln!("  listening on: unix://{}", socket.shown().display());
            tokio::select! {
                () = accept_unix(&socket.listener, gate(Access::Open, true)) => 0,
                signal = crate::task::stop_requested() => signal,
            }
        }
    };
    tracing::info!(signal = stopped, "the app-server stops listening");
    sweeping.abort();
    hub.stop().await;
    Ok(Stopped::Signal(stopped))
}

/// How long a thread no client hears, with no turn running, stays loaded for one to come back
/// (Codex's `thread_unload_delay_secs`).
const UNLOAD_AFTER: std::time::Duration = std::time::Duration::from_secs(60);
/// How often the threads are looked over for that.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// What every connection passes through before it is a client.
struct Gate {
    hub: Arc<Hub>,
    access: Access,
    /// Whether its clients may ask for commands without the sandbox.
    full_access: bool,
    /// A permit per client, [`MAX_CLIENTS`] in all: a process that opens connection after
    /// connection cannot make the server hold a queue for each without end.
    clients: Arc<tokio::sync::Semaphore>,
}

/// The most clients served at once (editors, terminals, phones): far above what a person
/// uses, far below what would strain the server.
const MAX_CLIENTS: usize = 64;

async fn accept_tcp(listener: tokio::net::TcpListener, gate: Arc<Gate>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                crate::task::spawn(http(stream, Arc::clone(&gate)));
            }
            Err(error) => pause_after(&error).await,
        }
    }
}

async fn accept_unix(listener: &tokio::net::UnixListener, gate: Arc<Gate>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                crate::task::spawn(http(stream, Arc::clone(&gate)));
            }
            Err(error) => pause_after(&error).await,
        }
    }
}

/// A failed accept (out of file descriptors, usually) is logged and tried again shortly.
async fn pause_after(error: &std::io::Error) {
    tracing::warn!(%error, "the app-server could not accept a connection");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
}

/// Serves one connection's HTTP requests, until one of them becomes a WebSocket.
async fn http<S>(stream: S, gate: Arc<Gate>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| {
        let gate = Arc::clone(&gate);
        async move { Ok::<_, Infallible>(route(gate, request)) }
    });
    // A connection that never finishes its request is let go, so idle ones cannot pile up.
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_WAIT)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    if let Err(error) = connection.await {
        tracing::debug!(%error, "an app-server connection ended");
    }
}

type Response = hyper::Response<Full<Bytes>>;

/// The most bytes of one frame a client may send, which the upgrade's answer says as Codex's
/// does.
const MAX_FRAME: usize = 16 << 20;

fn status(code: StatusCode, body: &'static str) -> Response {
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = code;
    if !body.is_empty() {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    response
}

fn route(gate: Arc<Gate>, mut request: Request<Incoming>) -> Response {
    let headers = request.headers();
    if headers.contains_key(header::ORIGIN) {
        tracing::warn!("a request from a web page (it sent Origin) was refused");
        return status(StatusCode::FORBIDDEN, "");
    }
    let upgrade = headers
        .get(header::UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"));
    if !upgrade {
        return match (request.method(), request.uri().path()) {
            (&hyper::Method::GET, "/readyz" | "/healthz") => status(StatusCode::OK, ""),
            _ => status(
                StatusCode::BAD_REQUEST,
                "Connection header did not include 'upgrade'",
            ),
        };
    }
    if let Err(why) = gate.access.admits(headers.get(header::AUTHORIZATION)) {
        tracing::warn!("a WebSocket was refused: {why}");
        return status(StatusCode::UNAUTHORIZED, why);
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return status(
            StatusCode::BAD_REQUEST,
            "Bad Request: no Sec-WebSocket-Key\n",
        );
    };
    let Ok(permit) = Arc::clone(&gate.clients).try_acquire_owned() else {
        tracing::warn!("a WebSocket was refused: {MAX_CLIENTS} clients are connected");
        return status(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many clients are connected: try again when one has left\n",
        );
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let upgraded = hyper::upgrade::on(&mut request);
    crate::task::spawn(async move {
        let _permit = permit;
        match upgraded.await {
            Ok(upgraded) => {
                let socket = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(frame_limits()),
                )
                .await;
                client(&gate.hub, socket, gate.full_access).await;
            }
            Err(error) => tracing::info!(%error, "a WebSocket upgrade failed"),
        }
    });
    let mut response = status(StatusCode::SWITCHING_PROTOCOLS, "");
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(
        "x-codex-websocket-max-unfragmented-message-bytes",
        HeaderValue::from(MAX_FRAME),
    );
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

/// The most bytes of frames written before one flush.
const WRITE_BATCH: usize = 64 << 10;

/// How long a connection may take to send its request's head.
const HEADER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// How much may wait for a client that has stopped reading before it is let go: what the
/// server says is not dropped for it, and not held without end either.
const MAX_CLIENT_BACKLOG: usize = 64 << 20;

/// The largest message a client may send: a prompt with its images, well within.
const MAX_MESSAGE: usize = 64 << 20;

pub(super) fn frame_limits() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_FRAME))
}

/// One client over a WebSocket: each text frame a JSON-RPC message to the hub, each line kelp
/// says a text frame back, until either side closes.
pub async fn client<S>(hub: &Hub, socket: WebSocketStream<S>, full_access: bool)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut frames) = socket.split();
    let (out, mut lines) = Out::new(Dialect::Codex);
    let backlog = out.backlog();
    let written = Arc::clone(&backlog);
    // A burst of lines (a stream of deltas) goes out as frames written together, one flush.
    let mut writer = crate::task::spawn(async move {
        'connection: while let Some(line) = lines.recv().await {
            let mut batch = 0;
            let mut next = Some(line);
            while let Some(line) = next.take() {
                batch += line.len() + 1;
                if sink.feed(Message::text(line)).await.is_err() {
                    break 'connection;
                }
                if batch < WRITE_BATCH {
                    next = lines.try_recv().ok();
                }
            }
            if sink.flush().await.is_err() {
                break;
            }
            written.done(batch);
        }
        let _ = sink.close().await;
    });
    let mut connection = hub.connect(out.clone(), full_access).await;
    tracing::info!(
        client = connection.id(),
        "a client connected over WebSocket"
    );
    loop {
        let frame = tokio::select! {
            // A client that stops reading is not read from either, until it does.
            frame = async {
                backlog.below(MAX_BACKLOG).await;
                frames.next().await
            } => frame,
            // Its socket failed: nothing more reaches it.
            _ = &mut writer => break,
            () = backlog.above(MAX_CLIENT_BACKLOG) => {
                tracing::warn!(client = connection.id(), "a client stopped reading: let go");
                break;
            }
        };
        let Some(frame) = frame else {
            break;
        };
        match frame {
            Ok(Message::Text(text)) => {
                hub.handle_line(&mut connection, text.as_str().trim_end())
                    .await;
            }
            Ok(Message::Binary(bytes)) => match std::str::from_utf8(&bytes) {
                Ok(text) => hub.handle_line(&mut connection, text.trim_end()).await,
                Err(_) => out.error(serde_json::Value::Null, RpcError::not_utf8()),
            },
            Ok(Message::Close(_)) => break,
            Ok(_) => {}
            Err(error) => {
                tracing::info!(%error, "a client's WebSocket failed");
                break;
            }
        }
    }
    tracing::info!(client = connection.id(), "a client went away");
    hub.disconnect(connection).await;
    drop(out);
    // What the client can no longer read is not waited for.
    writer.abort();
}

/// A token kelp made for a TCP listener given none, kept in a file of the person's only (in
/// the runtime folder) for their clients to read, and removed with the listener.
struct MadeToken {
    path: PathBuf,
    access: Access,
}

impl MadeToken {
    fn new(port: u16) -> anyhow::Result<Self> {
        use std::io::Write;
        let token: String = crate::random::bytes::<32>()?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let path = runtime_folder()?.join(format!("app-server-ws-{port}.token"));
        let _ = std::fs::remove_file(&path);
        let mut file = crate::private_file::private_open_options()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        writeln!(file, "{token}")?;
        Ok(Self {
            access: Access::Token(Sha256::digest(token.as_bytes()).into()),
            path,
        })
    }
}

impl Drop for MadeToken {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The listening Unix socket, removed (with the link to it) when dropped.
struct Socket {
    listener: tokio::net::UnixListener,
    path: PathBuf,
    link: Option<PathBuf>,
}

impl Socket {
    /// Binds kelp's socket in its private runtime folder, and `link` to it when given.
    fn bind(link: Option<&Path>) -> anyhow::Result<Self> {
        let folder = runtime_folder()?;
        let name = match link {
            None => "app-server.sock".to_string(),
            Some(link) => {
                let absolute = std::path::absolute(link)?;
                let hash = Sha256::digest(absolute.as_os_str().as_encoded_bytes());
                let short: String = hash[..8].iter().map(|b| format!("{b:02x}")).collect();
                format!("app-server-{short}.sock")
            }
        };
        let path = folder.join(name);
        clear_stale(&path)?;
        let listener = tokio::net::UnixListener::bind(&path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        let mut socket = Self {
            listener,
            path,
            link: None,
        };
        if let Some(link) = link {
            clear_stale(link)?;
            std::os::unix::fs::symlink(&socket.path, link)
                .map_err(|e| anyhow::anyhow!("{}: {e}", link.display()))?;
            socket.link = Some(link.to_path_buf());
        }
        Ok(socket)
    }

    /// The path clients are told to use.
    fn shown(&self) -> &Path {
        self.link.as_deref().unwrap_or(&self.path)
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // The link only while it still leads here: what another put in its place stays.
        if let Some(link) = &self.link
            && std::fs::read_link(link).is_ok_and(|to| to == self.path)
        {
            let _ = std::fs::remove_file(link);
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The path of kelp's own app-server socket, which `kelp app-server proxy` reaches by default.
pub fn default_socket() -> anyhow::Result<PathBuf> {
    Ok(runtime_folder()?.join(crate::config::runtime::SOCKET_NAME))
}

/// Removes a socket (or a link to one) at `path` that no server answers on; refuses one a live
/// server answers on, and anything that is not a socket or a link.
fn clear_stale(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    let kind = meta.file_type();
    if !kind.is_socket() && !kind.is_symlink() {
        anyhow::bail!(
            "{} exists and is not a socket: kelp leaves it as it is",
            path.display()
        );
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        anyhow::bail!(
            "{}: an app-server already listens there (`kelp app-server proxy` reaches it)",
            path.display()
        );
    }
    std::fs::remove_file(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_urls_are_read_as_codex_writes_them() {
        assert_eq!("stdio://".parse::<Listen>(), Ok(Listen::Stdio));
        assert_eq!("unix://".parse::<Listen>(), Ok(Listen::Unix(None)));
        assert_eq!(
            "unix:///tmp/a.sock".parse::<Listen>(),
            Ok(Listen::Unix(Some(PathBuf::from("/tmp/a.sock"))))
        );
        assert_eq!(
            "ws://127.0.0.1:4500".parse::<Listen>(),
            Ok(Listen::Ws("127.0.0.1:4500".parse().unwrap()))
        );
        assert!("ws://localhost".parse::<Listen>().is_err());
        assert!("http://127.0.0.1:1".parse::<Listen>().is_err());
    }

    #[test]
    fn only_the_token_admits() {
        let hash = Sha256::digest(b"s3cret-token");
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        let access = Access::token_sha256(&hex).unwrap();
        let header = |value: &str| HeaderValue::from_str(value).unwrap();
        assert_eq!(access.admits(Some(&header("Bearer s3cret-token"))), Ok(()));
        assert_eq!(
            access.admits(Some(&header("bearer  s3cret-token "))),
            Ok(())
        );
        assert_eq!(
            access.admits(Some(&header("Bearer s3cret-tokem"))),
            Err("invalid websocket bearer token")
        );
        assert_eq!(
            access.admits(Some(&header("Basic czNjcmV0"))),
            Err("invalid authorization header")
        );
        assert_eq!(
            access.admits(Some(&header("Bearer"))),
            Err("invalid authorization header")
        );
        assert_eq!(access.admits(None), Err("missing websocket bearer token"));
        assert_eq!(Access::Open.admits(None), Ok(()));
        assert!(Access::token_sha256("abc").is_err());
        assert!(!format!("{access:?}").contains(&hex[..8]));
    }
}
