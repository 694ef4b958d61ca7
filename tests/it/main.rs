//! Integration tests: one binary, one module per area, each driving the real code over real
//! files and sockets.

// Test, bench and fixture code: a failed unwrap is a failed run, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/fake_openai/mod.rs"]
mod fake_openai;
#[path = "../support/mcp_oauth.rs"]
mod mcp_oauth;
#[path = "../support/mcp_server.rs"]
mod mcp_server;
#[path = "../support/opener_tree.rs"]
mod opener_tree;
#[path = "../support/pty.rs"]
mod pty;

mod accounts;
mod acp;
mod agent_loop;
mod agents;
mod app_server;
mod app_server_processes;
mod app_server_remote;
mod architecture;
mod auth_store;
mod auto_review;
mod cli_auth;
mod cli_exec;
mod cli_login;
mod cli_run;
mod cli_sessions;
mod codex_sdk;
mod compaction;
mod config_file;
mod containment;
mod diagnostics;
mod fake_server;
mod git_later;
mod git_safety;
mod goals;
mod hooks;
mod instructions;
mod llm_errors;
mod llm_stream;
mod login_browser;
mod login_device;
mod mcp;
mod mentions;
mod opener_prop;
mod parsers_prop;
mod patch_races;
mod project_settings;
mod providers;
mod refresh;
mod replay;
mod sandbox;
mod sandbox_attacks;
mod sessions;
mod support;
mod terminals;
mod tools;
mod tui_daily;
mod tui_e2e;
mod tui_habits;
mod tui_snapshots;
