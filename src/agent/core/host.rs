//! What a host asks of the core outside a turn: a call of one of the thread's MCP tools.

use serde_json::Value;

use super::Core;
use crate::agent::protocol::Event;

impl Core {
    /// Calls `tool` of the MCP server `server` with `arguments`, off the core's loop; the
    /// answer is `Event::McpToolCalled { id, .. }`.
    pub(super) fn call_mcp_tool(
        &self,
        id: u64,
        server: String,
        tool: String,
        arguments: Option<Value>,
    ) {
        let events = self.events.clone();
        let Some(mcp) = self.mcp.clone() else {
            let outcome = Err("no MCP server is configured for this thread".to_string());
            return self.emit(Event::McpToolCalled { id, outcome });
        };
        crate::task::spawn(async move {
            let arguments = match arguments {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Object(fields)) => Ok(Some(fields)),
                Some(_) => Err("the arguments must be a JSON object".to_string()),
            };
            let outcome = match arguments {
                Err(why) => Err(why),
                Ok(arguments) => {
                    let found = mcp
                        .tools()
                        .await
                        .into_iter()
                        .find(|found| found.server == server && found.name == tool);
                    match found {
                        None => Err(format!("the MCP server `{server}` has no tool `{tool}`")),
                        Some(found) => {
                            let called = mcp.call(&found, arguments).await;
                            Ok((called.text, called.success))
                        }
                    }
                }
            };
            let _ = events.send(Event::McpToolCalled { id, outcome });
        });
    }
}
