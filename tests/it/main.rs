//! Integration tests: one binary, one module per area, each driving the real code over real
//! files and sockets.

mod auth_store;
mod cli_auth;
mod cli_sessions;
mod config_file;
mod instructions;
mod sessions;
mod support;
