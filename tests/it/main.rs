//! Integration tests: one binary, one module per area, each driving the real code over real
//! files and sockets.

#[path = "../support/fake_openai/mod.rs"]
mod fake_openai;

mod auth_store;
mod cli_auth;
mod fake_server;
#[path = "../support/pty.rs"]
mod pty;
mod support;
mod tui_e2e;
mod tui_snapshots;
