//! `kelp app-server`: the core behind the Codex app-server protocol (JSON-RPC over stdio, one
//! object per line), so a host written for Codex can embed kelp. Stdout carries protocol lines
//! only; logs go to the log file.
//!
//! - `wire.rs`: an answer with the notifications that follow it, parameters read with the Codex
//!   server's errors.
//! - `account.rs`: `account/*`, the account service (`auth::accounts`) in the protocol's words.
//! - `config.rs`: what a host reads before its first screen and its settings screen writes:
//!   `config/*`, `permissionProfile/list`, `model/list`, `skills/list`, `mcpServerStatus/list`.
//! - `threads.rs`: one agent core per thread (`thread/*`). `history.rs`: the saved sessions
//!   as a host's history, read on tasks of their own. `turns.rs`: `turn/*`, the core's events pumped out as items, its approvals as
//!   server requests to the host.
//! - `goals.rs`: `thread/goal/*`. `thread_settings.rs`: `collaborationMode/list` and
//!   `thread/settings/update`.
//! - `exec.rs`: `command/exec`, one command under the sandbox outside any thread.
//! - `items.rs`: core events as items and notifications, a pure translator tested without I/O.
//! - `methods.rs`: the one table of every request method of the protocol and how kelp serves
//!   it: its handler (now, in order, or on a task of its own), an empty answer where kelp has
//!   nothing of the kind, or refused in words. `server.rs`: one connection's state and the
//!   handlers too small for a file of their own. `fs.rs`: `fs/*`, the protocol's words over
//!   `agent::files`.
//! - `exec_events.rs`: those notifications as the JSON lines of Codex's `exec
//!   --experimental-json`, for `kelp exec` and `kelp run --json`.

pub mod account;
pub mod config;
pub mod exec;
pub mod exec_events;
pub mod fs;
pub mod goals;
pub mod history;
pub mod items;
pub mod methods;
pub mod protocol;
pub mod server;
pub mod thread_settings;
pub mod threads;
pub mod turns;
pub mod wire;

use serde_json::Value;

use methods::Serve;
use server::Server;
use wire::{Incoming, RpcError, parse_line, reply};

use crate::config::{Config, Overrides};
use crate::jsonrpc::{Dialect, Stdout, Stopped, serve_stdin};

/// Serves the protocol on stdin and stdout until stdin closes or a signal stops kelp; then
/// everything running (logins, turns, commands) is cancelled.
pub async fn serve(config: Config) -> anyhow::Result<Stopped> {
    serve_with(config, Overrides::default()).await
}

/// [`serve`], with the command line's `overrides`: after a config write, the settings are read
/// again through them, so a flag still beats the file.
pub async fn serve_with(config: Config, overrides: Overrides) -> anyhow::Result<Stopped> {
    let (out, stdout) = Stdout::open(Dialect::Codex);
    let mut server = Server::new(config, overrides, out.clone())?;
    let read = serve_stdin(&out, async |line: &str| {
        handle_line(&mut server, line).await
    })
    .await;
    tracing::info!(?read, "the app-server stops");
    // A login a request still waits on stops with the connection.
    server.stop();
    drop(server);
    stdout.close(out).await;
    read.map_err(|e| anyhow::anyhow!("reading the host app's input: {e}"))
}

async fn handle_line(server: &mut Server, line: &str) {
    match parse_line(line) {
        Err((id, error)) => server.out.error(id, error),
        Ok(Incoming::Notification { method, .. }) => {
            tracing::debug!(%method, "notification from the client");
        }
        Ok(Incoming::Response { id, result }) => {
            if !server.out.answer(&id, result) {
                tracing::warn!(%id, "an answer to no request of ours");
            }
        }
        Ok(Incoming::Request { id, method, params }) => request(server, id, &method, params).await,
    }
}

/// Serves request `id` by the method's row in [`methods::METHODS`]: before `initialize`, only
/// that is served.
async fn request(server: &mut Server, id: Value, method: &str, params: Value) {
    if !server.initialized && method != "initialize" {
        reply(
            &server.out,
            id,
            Err(RpcError::invalid_request("Not initialized")),
        );
        return;
    }
    match methods::serve(method) {
        Some(Serve::Now(handle)) => {
            let answer = handle(server, params);
            reply(&server.out, id, answer);
        }
        Some(Serve::InOrder(handle)) => {
            let answer = handle(server, params).await;
            reply(&server.out, id, answer);
        }
        // A request that may wait on the network or a person runs on a task of its own: the
        // others are answered meanwhile.
        Some(Serve::Apart(handle)) => {
            let (out, work) = (server.out.clone(), handle(server, params));
            crate::task::spawn(async move { reply(&out, id, work.await) });
        }
        Some(Serve::Nothing(answer)) => reply(&server.out, id, methods::nothing(answer)),
        Some(Serve::Refused(why)) => reply(&server.out, id, Err(methods::refused(method, why))),
        None => reply(&server.out, id, Err(methods::unknown(method))),
    }
}
