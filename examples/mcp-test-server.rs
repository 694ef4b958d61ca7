//! The tests' MCP server over stdio (`tests/support/mcp_server.rs`).
//!
//! `mcp-test-server [--never-start]`; `KELP_TEST_MCP_LOG` names the file its log lines go to,
//! `KELP_TEST_MCP_ENV` a file it writes its environment to at start (`NAME=value` lines), and
//! `KELP_TEST_MCP_TOOLS` a number of tools it lists besides its own. With `--never-start` it
//! reads nothing and answers nothing, as a server that hangs at start.

// Test fixture code: a failed unwrap is a failed run, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mcp_server.rs"]
mod mcp_server;

use rmcp::ServiceExt;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if std::env::args().any(|arg| arg == "--never-start") {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
    }
    if let Some(path) = std::env::var_os("KELP_TEST_MCP_ENV") {
        let lines: String = std::env::vars_os()
            .map(|(name, value)| format!("{}={}\n", name.display(), value.display()))
            .collect();
        std::fs::write(path, lines).unwrap();
    }
    let log = std::env::var_os("KELP_TEST_MCP_LOG").map(std::path::PathBuf::from);
    let extra = std::env::var("KELP_TEST_MCP_TOOLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let server = mcp_server::TestServer::new(log)
        .with_extra_tools(extra)
        .serve(rmcp::transport::stdio())
        .await
        .expect("the client initializes");
    let _ = server.waiting().await;
}
