//! What a conversation's tools share with a face or another agent: the editor that holds the
//! files, the background terminals, the language servers, the MCP servers.

use super::Conversation;

impl Conversation {
    /// Reads and writes files through `editor` from now on (or the disk again with `None`).
    pub fn set_editor(&mut self, editor: Option<crate::tools::Editor>) {
        self.tool_context = self.tool_context.clone().with_editor(editor);
    }

    /// Keeps background terminals in `terminals`, shared with a face; `None` leaves its own.
    pub fn set_terminals(&mut self, terminals: Option<crate::tools::terminals::Terminals>) {
        if let Some(terminals) = terminals {
            self.tool_context.terminals = terminals;
        }
    }

    /// Checks edits with `lsp`'s servers (another agent's of the same folder).
    pub fn set_language_servers(&mut self, lsp: crate::tools::lsp::LanguageServers) {
        self.tool_context.lsp = lsp;
    }

    /// Offers the tools of `mcp`'s servers from the next request on.
    pub fn set_mcp(&mut self, mcp: Option<crate::mcp::McpManager>) {
        self.tool_context = self.tool_context.clone().with_mcp(mcp);
    }
}
