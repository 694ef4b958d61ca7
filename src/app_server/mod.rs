//! `kelp app-server`: the core behind the Codex app-server protocol (JSON-RPC over stdio, one
//! object per line, or over WebSocket to several clients), so a host written for Codex can embed
//! kelp. Stdout carries protocol lines only; logs go to the log file.
//!
//! - `wire.rs`: an answer with the notifications that follow it, parameters read with the Codex
//!   server's errors.
//! - `account.rs`: `account/*`, the account service (`auth::accounts`) in the protocol's words.
//! - `config.rs`: what a host reads before its first screen and its settings screen writes:
//!   `config/*`, `permissionProfile/list`, `model/list`, `skills/list`, `mcpServerStatus/list`.
//! - `threads.rs`: one agent core per thread (`thread/*`). `history.rs`: the saved sessions
//!   as a host's history, read on tasks of their own; `search.rs`: `thread/search` and its
//!   stream, threads found by what was said in them. `turns.rs`: `turn/*`, and the pump that
//!   carries a thread's events out; `turn_path.rs`: what each event does, the running turn's
//!   state (a turn the core began itself, a review, the goal, what waits on the core) owned in
//!   one place and tested without I/O; `asks.rs`: its approvals and the model's questions as
//!   server requests to the host, and the answers back.
//! - `terminals.rs`: `thread/backgroundTerminals/*`, the commands a thread's model left running.
//! - `team_threads.rs`: the threads of a team's agents, loaded while their team is: their
//!   status, and `thread/resume` of one.
//! - `queue.rs`: `thread/queue/*`, messages that wait in a loaded thread's queue and are each
//!   sent as a turn of its own when the turn before ends; `queued.rs`: the queue itself and
//!   how a waiting message becomes a turn, pure; `queue_file.rs`: the queue kept on disk, so a
//!   server that stops loses none of it.
//! - `forks.rs`: `thread/fork`, a copy of a thread, or a side conversation of it.
//! - `project_config.rs`: a thread's settings where it works, a trusted project's own beneath
//!   the server's.
//! - `goals.rs`: `thread/goal/*`. `thread_settings.rs`: `collaborationMode/list` and
//!   `thread/settings/update`.
//! - `exec.rs`: `command/exec`, one command under the sandbox outside any thread;
//!   `spawned.rs`: `process/*`, a host's process without the sandbox.
//! - `items.rs`: core events as items and notifications, a pure translator tested without I/O;
//!   `shapes.rs`: what each item and notification is made of, as pure functions.
//! - `methods.rs`: the one table of every request method of the protocol and how kelp serves
//!   it: its handler (now, in order, or on a task of its own), an empty answer where kelp has
//!   nothing of the kind, or refused in words. `server.rs`: one connection's state and the
//!   handlers too small for a file of their own. `fs.rs`: `fs/*`, the protocol's words over
//!   `agent::files`.
//! - `listen.rs`: `--listen unix://` and `ws://`: the protocol over WebSocket for clients that
//!   come and go (each a [`Connection`] of the one [`Hub`]); `relay.rs`: `kelp app-server proxy`.
//! - `exec_events.rs`: those notifications as the JSON lines of Codex's `exec
//!   --experimental-json`, for `kelp exec` and `kelp run --json`.
//!
//! The protocol's shapes are a floor below the faces, `wire/`: this face writes them and
//! `kelp --remote` reads them.

pub mod account;
mod asks;
pub mod config;
pub mod exec;
pub mod exec_events;
pub mod forks;
pub mod fs;
pub mod goals;
pub mod history;
pub mod items;
pub mod listen;
pub mod methods;
mod project_config;
pub mod queue;
mod queue_file;
mod queued;
pub mod relay;
pub mod search;
pub mod server;
pub mod shapes;
mod spawned;
mod team_threads;
pub mod terminals;
pub mod thread_settings;
pub mod threads;
pub mod turn_path;
pub mod turns;
pub mod wire;

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

use methods::Serve;
use server::Server;
use wire::{Caller, Incoming, RpcError, parse_line, reply};

use crate::config::{Config, Overrides};
use crate::jsonrpc::{Dialect, Out, Stdout, Stopped, serve_stdin};

/// Serves the protocol on stdin and stdout until stdin closes or a signal stops kelp; then
/// everything running (logins, turns, commands) is cancelled.
pub async fn serve(config: Config) -> anyhow::Result<Stopped> {
    serve_with(config, Overrides::default()).await
}

/// [`serve`], with the command line's `overrides`: after a config write, the settings are read
/// again through them, so a flag still beats the file.
pub async fn serve_with(config: Config, overrides: Overrides) -> anyhow::Result<Stopped> {
    let (out, stdout) = Stdout::open(Dialect::Codex);
    let hub = Hub::new(config, overrides)?;
    let mut connection = hub.connect(out.clone(), true).await;
    let read = serve_stdin(&out, async |line: &str| {
        hub.handle_line(&mut connection, line).await;
    })
    .await;
    tracing::info!(?read, "the app-server stops");
    // The one client is gone: what it set off stops with it.
    hub.disconnect(connection).await;
    hub.stop().await;
    drop(hub);
    stdout.close(out).await;
    read.map_err(|e| anyhow::anyhow!("reading the host app's input: {e}"))
}

/// The server and its clients: each connection initializes and is answered on its own; the
/// threads, accounts and settings are shared.
pub struct Hub {
    server: tokio::sync::Mutex<Server>,
    next_client: AtomicU64,
}

/// One client's connection: its lines, and whether it has initialized.
pub struct Connection {
    caller: Caller,
    initialized: bool,
}

impl Connection {
    /// The id the server knows this client by.
    pub fn id(&self) -> u64 {
        self.caller.id
    }
}

impl Hub {
    /// A server with no client yet, with the command line's `overrides`.
    pub fn new(config: Config, overrides: Overrides) -> anyhow::Result<Self> {
        Ok(Self {
            server: tokio::sync::Mutex::new(Server::new(config, overrides)?),
            next_client: AtomicU64::new(1),
        })
    }

    /// A client connected, writing to `out`: once it initializes it hears what concerns every
    /// client, and a thread's events once it starts or resumes it. `full_access`: whether it
    /// may ask for commands without the sandbox.
    pub async fn connect(&self, out: Out, full_access: bool) -> Connection {
        let id = self.next_client.fetch_add(1, Ordering::Relaxed);
        let server = self.server.lock().await;
        let out = out.as_client_of(&server.requests, id);
        Connection {
            caller: Caller {
                id,
                out,
                experimental: false,
                full_access,
                request: Value::Null,
            },
            initialized: false,
        }
    }

    /// The client of `connection` went away: its requests waiting for an answer end
    /// unanswered, and it hears no more. Its threads' turns run on to their end.
    pub async fn disconnect(&self, connection: Connection) {
        connection.caller.out.forget_requests();
        let mut server = self.server.lock().await;
        server.everyone.leave(connection.id());
        server.threads.leave(connection.id());
    }

    /// Leaves the threads no client hears to [`Hub::sweep`], which the caller runs from now on.
    pub async fn sweep_unheard(&self) {
        self.server
            .lock()
            .await
            .threads
            .leave_unheard_to_the_sweep();
    }

    /// Unloads the threads no client has heard for `after` with no turn running.
    pub async fn sweep(&self, after: std::time::Duration) {
        self.server.lock().await.threads.sweep(after);
    }

    /// Stops everything the server set off: logins, commands, every thread's turn.
    pub async fn stop(&self) {
        let mut server = self.server.lock().await;
        server.stop();
        server.threads.shut_down();
    }

    /// Serves one line from the client of `connection`.
    pub async fn handle_line(&self, connection: &mut Connection, line: &str) {
        let out = &connection.caller.out;
        match parse_line(line) {
            Err((id, error)) => out.error(id, error),
            Ok(Incoming::Notification { method, .. }) => {
                tracing::debug!(%method, "notification from the client");
            }
            Ok(Incoming::Response { id, mut result }) => {
                // A client that may not ask for a run without the sandbox may not grant one
                // either: its answer to that question is a no.
                if !connection.caller.full_access && out.grants_full_access(&id) {
                    tracing::warn!(%id, "a client over a TCP port answered a question about running without the sandbox: taken as a no");
                    result = Err(serde_json::json!({
                        "code": -32600,
                        "message": "a client over a TCP port may not let a command run without the sandbox"
                    }));
                }
                if !out.answer(&id, result) {
                    tracing::warn!(%id, "an answer to no request of ours");
                }
            }
            Ok(Incoming::Request { id, method, params }) => {
                // The method alone: params may carry a key or a token.
                tracing::debug!(%method, "request from the client");
                self.request(connection, id, &method, params).await;
            }
        }
    }

    /// Serves request `id` by the method's row in [`methods::METHODS`]: before `initialize`,
    /// only that is served, once per connection.
    async fn request(&self, connection: &mut Connection, id: Value, method: &str, params: Value) {
        let out = connection.caller.out.clone();
        if !connection.caller.full_access && wire::asks_for_full_access(method, &params) {
            tracing::warn!(%method, "a client over a TCP port asked for commands without the sandbox");
            let why = RpcError::invalid_request(
                "kelp's app-server runs no command without the sandbox, nor adds an MCP server, for a client over a TCP port (any process holding the token reaches it, a sandboxed command with the network among them): connect over its Unix socket, or start it with --ws-allow-full-access",
            );
            return reply(&out, id, Err(why));
        }
        let mut server = self.server.lock().await;
        server.caller = connection.caller.clone();
        server.caller.request = id.clone();
        match (methods::serve(method), connection.initialized) {
            (Some(Serve::Handshake), false) => {
                let answer = server.initialize(params).map(|(answer, experimental)| {
                    connection.initialized = true;
                    connection.caller.experimental = experimental;
                    answer
                });
                if connection.initialized {
                    server.everyone.join(&connection.caller.out);
                }
                reply(&out, id, answer);
            }
            (Some(Serve::Handshake), true) => {
                let already = RpcError::invalid_request("Already initialized");
                reply(&out, id, Err(already));
            }
            (_, false) => reply(&out, id, Err(RpcError::invalid_request("Not initialized"))),
            (Some(Serve::Now(handle)), true) => {
                let answer = handle(&mut server, params);
                reply(&out, id, answer);
            }
            (Some(Serve::InOrder(handle)), true) => {
                let answer = handle(&mut server, params).await;
                reply(&out, id, answer);
            }
            // A request that may wait on the network or a person runs on a task of its own:
            // the others are answered meanwhile.
            (Some(Serve::Apart(handle)), true) => {
                let work = handle(&server, params);
                crate::task::spawn(async move { reply(&out, id, work.await) });
            }
            (Some(Serve::Nothing(answer)), true) => reply(&out, id, methods::nothing(answer)),
            (Some(Serve::Refused(why)), true) => {
                reply(&out, id, Err(methods::refused(method, why)));
            }
            (None, true) => reply(&out, id, Err(methods::unknown(method))),
        }
    }
}
