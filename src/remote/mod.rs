//! `kelp --remote ADDR`: the client's core is an app-server, kelp's or Codex's, reached over a
//! unix socket or a WebSocket. [`spawn`] gives a face the same `Op` sender and `Event` receiver
//! the local core does; behind them one task holds the connection and [`client::Remote`]
//! translates: `Op`s become the server's requests (`turn/start`, approvals' answers,
//! `thread/resume`, `account/login/start`), its notifications become `Event`s. What it sends and
//! reads are the `wire` floor's types, the very ones kelp's app-server writes.
//!
//! The turn runs on the server: a client that loses its connection says so and how to come
//! back, and the turn goes on there to its end, to be seen again with `kelp --remote ADDR
//! resume`. A token (`--remote-auth-token-env VAR`) goes only to a unix socket or a loopback
//! address: over any other plain `ws://` it would cross the network in clear.
//!
//! Its other files:
//! - `items.rs`: the items of a thread as the server tells them (`item/started`, `item/completed`,
//!   a resumed thread's turns) become the events the core sends for the same things.
//! - `client/`: the client's side of one connection to an app-server.
//! - `queue.rs`: `kelp queue`, one message left in a conversation's queue over one short
//!   connection.
//! - `served.rs`: the conversations a server holds open, as the command center lists them.
//! - `talk.rs`: one short exchange with a server, which `queue.rs` and `served.rs` hold.

mod client;
mod items;
pub mod queue;
pub mod served;
pub mod talk;

use std::path::PathBuf;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

pub use client::{Open, Wanted};

use crate::protocol::{Event, Op, TurnOutcome};
use crate::secret::Secret;

/// Where the app-server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `unix://PATH`: WebSocket framing over a unix socket, as Codex serves it.
    Unix(PathBuf),
    /// `ws://HOST:PORT`.
    Ws { host: String, port: u16 },
}

/// Why an address is not one the client reaches, or may not carry the token to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error(
        "{0}: name the socket (unix:///PATH); `kelp app-server --listen unix://` says where it \
         listens"
    )]
    NoSocket(String),
    #[error("{0}: give unix:///PATH or ws://HOST:PORT (wss:// is not supported)")]
    Scheme(String),
    #[error("{0}: give the port (ws://HOST:PORT)")]
    NoPort(String),
    #[error("{0}: give the host (ws://HOST:PORT)")]
    NoHost(String),
    #[error(
        "{0}: a token goes only to a unix socket or a loopback address; over plain ws:// to \
         another machine it would cross the network in clear (reach it through an SSH tunnel \
         instead)"
    )]
    TokenInClear(String),
}

impl std::str::FromStr for Target {
    type Err = TargetError;

    fn from_str(address: &str) -> Result<Self, TargetError> {
        if let Some(path) = address.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(TargetError::NoSocket(address.to_string()));
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        let Some(rest) = address.strip_prefix("ws://") else {
            return Err(TargetError::Scheme(address.to_string()));
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = rest
            .rsplit_once(':')
            .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
            .ok_or_else(|| TargetError::NoPort(address.to_string()))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(TargetError::NoHost(address.to_string()));
        }
        Ok(Self::Ws {
            host: host.to_string(),
            port,
        })
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unix(path) => write!(f, "unix://{}", path.display()),
            Self::Ws { host, port } if host.contains(':') => write!(f, "ws://[{host}]:{port}"),
            Self::Ws { host, port } => write!(f, "ws://{host}:{port}"),
        }
    }
}

impl Target {
    /// Whether `token` may go there, or why not: a token goes only to a unix socket or a
    /// loopback address. Checked as the command line is read and again before connecting.
    pub fn may_carry(&self, token: Option<&Secret>) -> Result<(), TargetError> {
        if token.is_none() || self.keeps_a_token_private() {
            return Ok(());
        }
        Err(TargetError::TokenInClear(self.to_string()))
    }

    fn keeps_a_token_private(&self) -> bool {
        match self {
            Self::Unix(_) => true,
            Self::Ws { host, .. } => {
                host == "localhost"
                    || host
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
        }
    }
}

/// The client's core, an app-server at `target`: the same channels as
/// [`crate::agent::core::start::spawn_after`], the connection made once `ready` ends (the first
/// frame is up, and the server started where the client starts it), or why it cannot be.
pub fn spawn(
    target: Target,
    token: Option<Secret>,
    wanted: Wanted,
    config_dir: PathBuf,
    ready: impl std::future::Future<Output = Result<(), String>> + Send + 'static,
) -> (UnboundedSender<Op>, UnboundedReceiver<Event>) {
    let (op_tx, op_rx) = unbounded_channel();
    let (event_tx, event_rx) = unbounded_channel();
    crate::task::spawn(async move {
        let ready = ready.await;
        // The person's own custom prompts, found where they are once the first frame is up,
        // as a local core finds them: the client expands them before the words go out.
        crate::agent::core::start::find_prompts(&config_dir, event_tx.clone(), false);
        let place = Place { target, config_dir };
        match ready {
            Ok(()) => run(place, token, wanted, op_rx, event_tx).await,
            Err(why) => {
                let _ = event_tx.send(Event::Error(why));
                gone(&place, op_rx, &event_tx).await;
            }
        }
    });
    (op_tx, event_rx)
}

/// Where the client is: the server it talks to, and the folder of the person's own config.
struct Place {
    target: Target,
    config_dir: PathBuf,
}

/// Holds the connection until the face ends or the server goes; then answers what the face
/// still sends by saying the server is gone.
async fn run(
    place: Place,
    token: Option<Secret>,
    wanted: Wanted,
    mut ops: UnboundedReceiver<Op>,
    events: UnboundedSender<Event>,
) {
    let target = &place.target;
    let socket = match connect(target, token.as_ref()).await {
        Ok(socket) => socket,
        Err(why) => {
            let _ = events.send(Event::Error(why));
            return gone(&place, ops, &events).await;
        }
    };
    let (mut sink, mut frames) = socket.split();
    let mut remote = client::Remote::new(wanted, events.clone());
    remote.start();
    let lost = 'connection: loop {
        for message in remote.take_outgoing() {
            if let Err(e) = sink.send(Message::text(message.to_string())).await {
                break 'connection e.to_string();
            }
        }
        tokio::select! {
            op = ops.recv() => match op {
                None | Some(Op::Shutdown) => {
                    let _ = sink.close().await;
                    return;
                }
                Some(Op::FindPrompts) => {
                    crate::agent::core::start::find_prompts(&place.config_dir, events.clone(), true);
                }
                Some(op) => remote.on_op(op),
            },
            frame = frames.next() => match frame {
                Some(Ok(Message::Text(text))) => remote.on_message(text.as_str()),
                Some(Ok(Message::Binary(bytes))) => {
                    remote.on_message(&String::from_utf8_lossy(&bytes))
                }
                Some(Ok(Message::Close(_))) | None => break "the server closed the connection".to_string(),
                Some(Err(e)) => break e.to_string(),
                Some(Ok(_)) => {}
            },
        }
    };
    let resume = match remote.thread() {
        Some(thread) => format!("`kelp --remote {target} resume {thread}` comes back to it"),
        None => format!("`kelp --remote {target}` connects again"),
    };
    if remote.turn_running() {
        let message = format!(
            "lost the app-server at {target} ({lost}); the turn goes on there, and {resume}"
        );
        let _ = events.send(Event::TurnFinished(TurnOutcome::Failed {
            message,
            category: crate::protocol::ErrorCategory::Other,
        }));
    } else {
        let _ = events.send(Event::Error(format!(
            "lost the app-server at {target} ({lost}); {resume}"
        )));
    }
    gone(&place, ops, &events).await
}

/// After the connection is gone: each request the face makes is answered with why nothing
/// happens, so no turn waits forever.
async fn gone(place: &Place, mut ops: UnboundedReceiver<Op>, events: &UnboundedSender<Event>) {
    while let Some(op) = ops.recv().await {
        let why = format!("not connected to the app-server at {}", place.target);
        let event = match op {
            Op::Shutdown => return,
            Op::Submit(_) | Op::Compact { .. } | Op::Review { .. } => {
                Event::TurnFinished(TurnOutcome::Failed {
                    message: why,
                    category: crate::protocol::ErrorCategory::Other,
                })
            }
            // Sent by the face on its own (at start, as a picker opens): said once already.
            Op::FindPrompts => {
                crate::agent::core::start::find_prompts(&place.config_dir, events.clone(), true);
                continue;
            }
            Op::ListSkills | Op::RefreshModels | Op::ListSessions => continue,
            _ => Event::Error(why),
        };
        let _ = events.send(event);
    }
}

/// A unix or TCP stream, as one type under the WebSocket.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Stream for S {}

type Connection = tokio_tungstenite::WebSocketStream<Box<dyn Stream>>;

/// Connects and upgrades, the token (if any) as `Authorization: Bearer`.
async fn connect(target: &Target, token: Option<&Secret>) -> Result<Connection, String> {
    target.may_carry(token).map_err(|e| e.to_string())?;
    let url = match target {
        Target::Unix(_) => "ws://localhost/".to_string(),
        Target::Ws { .. } => format!("{target}/"),
    };
    let mut request = url
        .into_client_request()
        .map_err(|e| format!("{target}: {e}"))?;
    if let Some(token) = token {
        let value = format!("Bearer {}", token.expose())
            .parse()
            .map_err(|_| "the token holds characters a header cannot carry".to_string())?;
        request.headers_mut().insert("authorization", value);
    }
    let unreachable = |e: std::io::Error| format!("cannot reach the app-server at {target}: {e}");
    let stream: Box<dyn Stream> = match target {
        Target::Unix(path) => Box::new(
            tokio::net::UnixStream::connect(path)
                .await
                .map_err(unreachable)?,
        ),
        Target::Ws { host, port } => Box::new(
            tokio::net::TcpStream::connect((host.as_str(), *port))
                .await
                .map_err(unreachable)?,
        ),
    };
    let (socket, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .map_err(|e| refusal(target, e))?;
    Ok(socket)
}

/// Why the server would not take the connection, in one line (a 401 said as the token).
fn refusal(target: &Target, error: tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error;
    match error {
        Error::Http(response) if response.status() == 401 => format!(
            "the app-server at {target} refused the token (401): give the one it was started \
             with in the variable --remote-auth-token-env names"
        ),
        Error::Http(response) => format!(
            "the app-server at {target} refused the connection ({})",
            response.status()
        ),
        e => format!("cannot reach the app-server at {target}: {e}"),
    }
}
