//! kelp: a terminal coding client for OpenAI Codex models.
//!
//! Four layers, data flowing one way: `tui` → `agent` → `llm` → HTTP, with `auth` beside `llm`.

pub mod acp;
pub mod agent;
pub mod app_server;
pub mod auth;
pub mod config;
pub mod hooks;
pub mod http;
pub mod humanize;
pub mod jsonrpc;
pub mod kept_hashes;
pub mod llm;
pub mod logging;
pub mod mcp;
pub mod private_file;
pub mod protocol;
pub mod qr;
pub mod random;
pub mod remote;
pub mod sandbox;
pub mod secret;
pub mod session;
pub mod stdio;
pub mod task;
pub mod terminal_text;
pub mod tools;
pub mod tui;
pub mod wire;
