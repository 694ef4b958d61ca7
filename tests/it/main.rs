//! Integration tests: one binary, one module per area, each driving the real code over real
//! files and sockets.

#[path = "../support/fake_openai/mod.rs"]
mod fake_openai;

mod agent_loop;
mod auth_store;
mod cli_auth;
mod cli_run;
mod cli_sessions;
mod config_file;
mod fake_server;
mod instructions;
mod llm_errors;
mod llm_stream;
mod sessions;
mod support;
mod tools;
