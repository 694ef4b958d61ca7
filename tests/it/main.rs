//! Integration tests: one binary, one module per area.

#[path = "../support/fake_openai/mod.rs"]
mod fake_openai;

mod fake_server;
