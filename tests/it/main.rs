//! Integration tests: one binary, one module per area, each driving the real code over real
//! files and sockets.

mod auth_store;
mod cli_auth;
#[path = "../support/pty.rs"]
mod pty;
mod support;
mod tui_e2e;
mod tui_snapshots;
