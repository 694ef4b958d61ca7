//! A small MCP server for the tests, on rmcp's server side. Its tools:
//! - `echo {text}` answers `echo: <text>`;
//! - `lookup {key}` is marked read-only and answers with text and structured content;
//! - `wait` is marked read-only and answers only when cancelled;
//! - `crash` writes a line to stderr and ends the process (stdio only);
//! - `bad_schema` takes a string, which the Responses API refuses as parameters;
//! - with [`TestServer::with_extra_tools`], `huge` (an argument schema of 20 kB) and that many
//!   more tools `extra_0`, `extra_1`…
//!
//! What happens is appended, a line each, to the log file it is given: `called <tool>`,
//! `waiting`, `cancelled <reason>`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CancelledNotificationParam,
    ContentBlock, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::{NotificationContext, RequestContext, RoleServer};
use rmcp::{ErrorData, ServerHandler};
use serde_json::{Value, json};

#[derive(Clone)]
pub struct TestServer {
    log: Option<PathBuf>,
    extra_tools: usize,
}

impl TestServer {
    pub fn new(log: Option<PathBuf>) -> Self {
        Self {
            log,
            extra_tools: 0,
        }
    }

    /// The server with `count` more tools, and `huge`, listed after its own.
    #[allow(dead_code)]
    pub fn with_extra_tools(self, count: usize) -> Self {
        Self {
            extra_tools: count,
            ..self
        }
    }

    fn note(&self, line: &str) {
        if let Some(path) = &self.log
            && let Ok(mut file) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
        {
            let _ = writeln!(file, "{line}");
        }
    }
}

fn schema(value: Value) -> Arc<serde_json::Map<String, Value>> {
    match value {
        Value::Object(map) => Arc::new(map),
        _ => Arc::new(serde_json::Map::new()),
    }
}

fn tools() -> Vec<Tool> {
    let read_only = ToolAnnotations::new().read_only(true);
    vec![
        Tool::new(
            "echo",
            "Says the text back.",
            schema(json!({
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"]
            })),
        ),
        Tool::new(
            "lookup",
            "Looks a key up.",
            schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {"key": {"type": "string"}}
            })),
        )
        .annotate(read_only.clone()),
        Tool::new("wait", "Waits until cancelled.", schema(json!({}))).annotate(read_only),
        Tool::new(
            "crash",
            "Ends the server.",
            schema(json!({"type": "object"})),
        ),
        Tool::new(
            "bad_schema",
            "Takes a bare string.",
            schema(json!({"type": "string"})),
        ),
    ]
}

impl ServerHandler for TestServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let mut all = tools();
        if self.extra_tools > 0 {
            let properties: serde_json::Map<String, Value> = (0..600)
                .map(|n| (format!("field_{n:04}"), json!({"type": "string"})))
                .collect();
            all.push(Tool::new(
                "huge",
                "Takes 600 fields.",
                schema(json!({"type": "object", "properties": properties})),
            ));
        }
        all.extend((0..self.extra_tools).map(|n| {
            Tool::new(
                format!("extra_{n}"),
                "One of many.",
                schema(json!({"type": "object"})),
            )
        }));
        Ok(ListToolsResult::with_all_items(all))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.note(&format!("called {}", request.name));
        let argument = |name: &str| {
            request
                .arguments
                .as_ref()
                .and_then(|a| a.get(name))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let result = match request.name.as_ref() {
            "echo" => CallToolResult::success(vec![ContentBlock::text(format!(
                "echo: {}",
                argument("text")
            ))]),
            "lookup" => {
                let key = argument("key");
                let mut result =
                    CallToolResult::success(vec![ContentBlock::text(format!("found {key}"))]);
                result.structured_content = Some(json!({"key": key, "hits": 2}));
                result
            }
            "wait" => {
                self.note("waiting");
                context.ct.cancelled().await;
                return Err(ErrorData::internal_error("cancelled", None));
            }
            "crash" => {
                eprintln!("boom: crashed on purpose");
                std::process::exit(3);
            }
            other => CallToolResult::error(vec![ContentBlock::text(format!("no tool {other}"))]),
        };
        Ok(result.into())
    }

    async fn on_cancelled(
        &self,
        notification: CancelledNotificationParam,
        _context: NotificationContext<RoleServer>,
    ) {
        self.note(&format!(
            "cancelled {}",
            notification.reason.unwrap_or_default()
        ));
    }
}
