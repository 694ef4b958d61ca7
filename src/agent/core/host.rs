//! What a host or the person asks of the core outside a turn: a call of one of the thread's
//! MCP tools, a command the person runs themselves (`!cmd`), the git reads of `/diff` and
//! `/review`'s pickers, the worktree of `/worktree`.

use serde_json::Value;

use super::Core;
use crate::protocol::{Event, Reply};

impl Core {
    /// `/diff`: the project's `git diff HEAD`, by git confined as a command is.
    pub(super) fn diff(&self) {
        let (project_dir, sandbox, events) = self.git_context();
        crate::task::spawn(async move {
            let diff = crate::agent::git::working_tree_diff(&project_dir, &sandbox).await;
            let _ = events.send(Event::Reply(Reply::WorkingTreeDiff(diff)));
        });
    }

    /// `/review`'s pickers: the repository's commits and branches.
    pub(super) fn revisions(&self) {
        let (project_dir, sandbox, events) = self.git_context();
        crate::task::spawn(async move {
            let found = crate::agent::git::revisions(&project_dir, &sandbox).await;
            let _ = events.send(Event::Reply(Reply::Revisions(found)));
        });
    }

    /// `/worktree`: a new worktree of the project's repository, made off the core's loop.
    pub(super) fn make_worktree(&self) {
        let project_dir = self.options.project_dir.clone();
        let events = self.events.clone();
        crate::task::spawn(async move {
            let made =
                crate::task::spawn_blocking(move || crate::agent::worktree::create(&project_dir))
                    .await
                    .unwrap_or_else(|e| Err(format!("making the worktree failed: {e}")));
            let _ = events.send(Event::Reply(Reply::Worktree(made)));
        });
    }

    /// What git runs with for the person's own commands: the project, the conversation's
    /// sandbox (git makes it read-only), and where the answer goes.
    fn git_context(
        &self,
    ) -> (
        std::path::PathBuf,
        crate::sandbox::SandboxPolicy,
        tokio::sync::mpsc::UnboundedSender<Event>,
    ) {
        let sandbox = match &self.conversation {
            Some(conversation) => conversation.tool_context().sandbox.clone(),
            None => crate::sandbox::SandboxPolicy::for_config(&self.config),
        };
        (
            self.options.project_dir.clone(),
            sandbox,
            self.events.clone(),
        )
    }

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

/// How long a command the person runs may take before it is stopped.
const OWN_COMMAND_TIMEOUT_MS: u64 = 10 * 60 * 1000;

impl Core {
    /// Runs `command` for the person, as the model's commands run (the conversation's
    /// sandbox, a scrubbed environment), off the core's loop; it shows as a `shell` call and
    /// is not sent to the model.
    pub(super) fn run_own_command(&mut self, command: String) {
        use crate::tools::{OutputSink, ShellArgs, ShellCommand, shell};
        let Some(conversation) = &self.conversation else {
            return self.emit(Event::Error(
                "a turn is running: run the command when it is done".to_string(),
            ));
        };
        let context = conversation.tool_context().clone();
        let events = self.events.clone();
        let cancel = self.own_commands.child_token();
        let call_id = format!("own-{}", uuid::Uuid::new_v4().simple());
        crate::task::spawn(async move {
            let _ = events.send(Event::ToolStarted {
                call_id: call_id.clone(),
                tool: shell::NAME.to_string(),
                summary: command.clone(),
                paths: Vec::new(),
                facts: None,
            });
            let sink = {
                let (events, call_id) = (events.clone(), call_id.clone());
                OutputSink::new(move |line| {
                    let _ = events.send(Event::ToolOutput {
                        call_id: call_id.clone(),
                        chunk: format!("{}\n", line.text),
                    });
                })
            };
            let args = ShellArgs {
                workdir: None,
                timeout_ms: Some(OWN_COMMAND_TIMEOUT_MS),
                ..ShellArgs::new(ShellCommand::Script(command))
            };
            let ran = shell::run(
                &args,
                &context.project_dir,
                &context.shell,
                &context.sandbox,
                &sink,
                cancel,
                &[],
            )
            .await;
            let (success, exit_code, duration) = match ran {
                Ok(outcome) => (
                    outcome.exit_code == Some(0),
                    outcome.exit_code,
                    outcome.duration,
                ),
                Err(e) => {
                    let _ = events.send(Event::ToolOutput {
                        call_id: call_id.clone(),
                        chunk: format!("{e}\n"),
                    });
                    (false, None, std::time::Duration::ZERO)
                }
            };
            let _ = events.send(Event::ToolFinished {
                call_id,
                success,
                exit_code,
                duration,
            });
        });
    }
}
