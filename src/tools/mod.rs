//! The tools the model calls to read, search and edit the project: how a call is parsed,
//! judged (read-only? which paths?), summarised for the UI and run.
//!
//! A turn loop uses it in three steps: [`ToolCall::parse`] the `function_call` item (an error's
//! text is the output the model gets), ask for approval using [`ToolCall::is_read_only`],
//! [`ToolCall::touched_paths`] and, for patches, [`ApplyPatchCall::preview`], then [`execute`].
//!
//! A floor of its own, beneath the conversation task (`agent/`) and above the sandbox it starts
//! commands in: `opener.rs` is the one way a tool reaches a file (beneath the project root held
//! open, or an approved real path with no link on the way, never waiting on a FIFO);
//! `sandbox::paths` judges where a path leads, for approval; `apply_patch/` is `parse.rs` (the
//! grammar), `seek.rs` (where a hunk fits), `plan.rs` (every file's new state, then the writes),
//! `diff.rs` (the previews), `undo.rs` (saved patches put back); `shell.rs` runs a command in
//! the sandbox, `output.rs` keeps and streams what it prints; `runs_later.rs` names the files the person's own tools run later.
//!
//! Its other files:
//! - `exec_args.rs`: what `exec_command` and `write_stdin` ask beyond a plain command.
//! - `command_io.rs`: a started command's output read to its end, its input, its group killed.
//! - `collab.rs`: Codex's collaboration tools (`spawn_agent`, `wait_agent`…), as calls and specs.
//! - `goal_tools.rs`: `get_goal` and `update_goal`.
//! - `grep_files.rs`: `grep_files`.
//! - `list_dir.rs`: `list_dir`.
//! - `lsp/`: the language servers whose diagnostics follow a change to the project's files.
//! - `listening.rs`: the ports a background terminal's processes listen on.
//! - `pty.rs`: a pseudo-terminal a command runs on, read, typed into and resized.
//! - `read_file.rs`: `read_file`. `view_image.rs`: `view_image`, an image file shown to the
//!   model.
//! - `run.rs`: [`execute`], each tool run in its place.
//! - `spec.rs`: the tool definitions sent to the model.
//! - `terminal_io.rs`: one background terminal's process, its output and its end.
//! - `terminals.rs`: `exec_command` and `write_stdin`, a conversation's background terminals.
//! - `update_plan.rs`: `update_plan`.
//! - `user_input.rs`: `request_user_input`.
//! - `walk.rs`: the project's walk, as every tool and the `@` finder see it.

pub mod apply_patch;
pub mod collab;
mod command_io;
pub mod exec_args;
pub mod goal_tools;
pub mod grep_files;
pub mod list_dir;
pub mod listening;
pub mod lsp;
pub mod opener;
pub mod output;
pub mod pty;
pub mod read_file;
pub mod run;
pub mod runs_later;
pub mod shell;
pub mod spec;
mod terminal_io;
pub mod terminals;
pub mod update_plan;
pub mod user_input;
pub mod view_image;
pub mod walk;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use serde::de::DeserializeOwned;
use thiserror::Error;

use crate::protocol::CallFacts;
pub use crate::sandbox::SandboxPolicy;
pub use crate::sandbox::paths::{self, is_inside, real_path};

pub use apply_patch::{ApplyPatchCall, FileChange, PatchError, PatchParseError, PatchPreview};
pub use grep_files::GrepFilesArgs;
pub use list_dir::ListDirArgs;
pub use output::{OutputLine, OutputSink, OutputStream};
pub use read_file::ReadFileArgs;
pub use run::execute;
pub use shell::{ShellArgs, ShellCommand, ShellOutcome};
pub use spec::tool_specs;
pub use update_plan::{PlanItem, PlanUpdate, StepStatus};

use crate::mcp::{McpManager, McpTool};

/// Files as an editor holds them, unsaved changes included. When a front end has one (an ACP
/// client with `fs` capabilities), `read_file` and `apply_patch` read and write through it, so
/// the model sees and edits what the person sees; everything else uses the disk.
pub trait EditorFiles: Send + Sync {
    /// The text of `path` (absolute), or why the editor could not give it.
    fn read(&self, path: PathBuf) -> BoxFuture<'static, Result<String, String>>;
    /// Replaces the text of `path` (absolute), creating the file if need be.
    fn write(&self, path: PathBuf, text: String) -> BoxFuture<'static, Result<(), String>>;
}

/// A shared [`EditorFiles`]; two are equal when they are the same editor.
#[derive(Clone)]
pub struct Editor(pub Arc<dyn EditorFiles>);

impl std::fmt::Debug for Editor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Editor")
    }
}

impl PartialEq for Editor {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Editor {}

impl Editor {
    /// The texts the editor has of `paths`; a path it cannot give is left to the disk.
    pub async fn texts(&self, paths: Vec<PathBuf>) -> apply_patch::Overlay {
        let mut overlay = apply_patch::Overlay::new();
        for path in paths {
            if overlay.contains_key(&path) {
                continue;
            }
            match self.0.read(path.clone()).await {
                Ok(text) => {
                    overlay.insert(path, text);
                }
                Err(why) => tracing::debug!(path = %path.display(), %why, "not from the editor"),
            }
        }
        overlay
    }
}

/// Where tools run: the project directory every relative path resolves against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolContext {
    /// The project root, absolute.
    pub project_dir: PathBuf,
    /// The shell that runs string commands (`<shell> -c <script>`).
    pub shell: PathBuf,
    /// What commands may touch once they run.
    pub sandbox: SandboxPolicy,
    /// The editor holding the files, if the front end has one.
    pub editor: Option<Editor>,
    /// The MCP servers whose tools the model may call.
    pub mcp: Option<McpManager>,
    /// The conversation's goal, which the goal tools read and mark.
    pub goal: Option<crate::session::goal::GoalCell>,
    /// The conversation's background terminals (`exec_command`), shared by its clones.
    pub terminals: terminals::Terminals,
    /// The conversation's language servers, shared by its clones.
    pub lsp: lsp::LanguageServers,
}

impl ToolContext {
    /// A context for `project_dir` (made absolute against the current directory), using the
    /// user's POSIX shell, with no sandbox (see [`ToolContext::with_sandbox`]).
    pub fn new(project_dir: impl Into<PathBuf>) -> Self {
        let dir = project_dir.into();
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        Self {
            project_dir: paths::normalize(&dir),
            shell: shell::default_shell(),
            sandbox: SandboxPolicy::off(),
            editor: None,
            mcp: None,
            goal: None,
            terminals: terminals::Terminals::default(),
            lsp: lsp::LanguageServers::default(),
        }
    }

    /// The same context with commands run under `sandbox`.
    pub fn with_sandbox(self, sandbox: SandboxPolicy) -> Self {
        Self { sandbox, ..self }
    }

    /// The same context with files read and written through `editor`.
    pub fn with_editor(self, editor: Option<Editor>) -> Self {
        Self { editor, ..self }
    }

    /// The same context with the tools of `mcp`'s servers.
    pub fn with_mcp(self, mcp: Option<McpManager>) -> Self {
        Self { mcp, ..self }
    }

    /// What a patch would do, reading the files the editor holds from the editor.
    pub async fn preview_patch(&self, patch: &ApplyPatchCall) -> Result<PatchPreview, PatchError> {
        let overlay = match &self.editor {
            Some(editor) => editor.texts(patch.paths(&self.project_dir)).await,
            None => apply_patch::Overlay::new(),
        };
        let (patch, dir) = (patch.clone(), self.project_dir.clone());
        crate::task::spawn_blocking(move || patch.preview_over(&dir, &overlay))
            .await
            .unwrap_or_else(|e| {
                Err(PatchError::Verify {
                    path: String::new(),
                    reason: format!("the preview failed: {e}"),
                })
            })
    }

    /// Resolves a path from a tool call against the project directory.
    pub fn resolve(&self, path: &str) -> PathBuf {
        paths::resolve(&self.project_dir, Path::new(path))
    }
}

/// A tool call, parsed and typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolCall {
    /// Show lines of a file.
    ReadFile(ReadFileArgs),
    /// Show the model an image file.
    ViewImage(view_image::ViewImageArgs),
    /// Show a directory tree.
    ListDir(ListDirArgs),
    /// Search file contents.
    GrepFiles(GrepFilesArgs),
    /// Run a command (`shell`, or `exec_command`, which may leave it running).
    Shell(ShellArgs),
    /// Type into a background terminal, or poll it.
    WriteStdin(terminals::WriteStdinArgs),
    /// Change files with a patch (also what a `shell` call running `apply_patch` becomes).
    ApplyPatch(ApplyPatchCall),
    /// Replace the task plan.
    UpdatePlan(PlanUpdate),
    /// Read the conversation's goal, or mark it complete or blocked.
    Goal(goal_tools::GoalCall),
    /// Ask the person questions (the turn asks them; nothing runs here).
    AskPerson(Vec<user_input::Question>),
    /// A tool of an MCP server (boxed: it is much larger than the others).
    Mcp(Box<McpCall>),
    /// A collaboration tool: an agent spawned, told, waited for (run by the agent's team).
    Collab(collab::CollabCall),
}

/// A call to an MCP server's tool: which tool, and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpCall {
    pub tool: McpTool,
    pub arguments: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A call that cannot run; its text is the `function_call_output` the model receives.
#[derive(Debug, Error)]
pub enum ToolParseError {
    /// No tool has this name.
    #[error("unsupported call: {0}")]
    Unsupported(String),
    /// The arguments parse but cannot be used: why.
    #[error("{0}")]
    Invalid(String),
    /// The arguments are not valid JSON or do not fit the tool's schema.
    #[error("failed to parse function arguments: {0}")]
    Arguments(#[from] serde_json::Error),
    /// The `apply_patch` input is not a valid patch.
    #[error(transparent)]
    Patch(#[from] PatchParseError),
    /// An MCP tool's arguments are not a JSON object.
    #[error("failed to parse function arguments: they must be a JSON object")]
    NotAnObject,
}

impl ToolCall {
    /// Whether this is a command the model asks to run outside the sandbox.
    pub fn asks_to_leave_the_sandbox(&self) -> bool {
        matches!(self, Self::Shell(args) if args.asks_to_leave_the_sandbox())
    }

    /// This call without a request to leave the sandbox (where there is no sandbox to leave).
    pub fn in_the_sandbox(&self) -> Self {
        match self {
            Self::Shell(args) => Self::Shell(shell::ShellArgs {
                sandbox_permissions: None,
                with_escalated_permissions: None,
                ..args.clone()
            }),
            other => other.clone(),
        }
    }
    /// Parses a `function_call` item's `name` and `arguments` (a JSON string), for kelp's own
    /// tools.
    pub fn parse(name: &str, arguments: &str) -> Result<Self, ToolParseError> {
        Self::parse_with(name, arguments, &[])
    }

    /// [`ToolCall::parse`], with the MCP tools offered to the model in the same request.
    pub fn parse_with(
        name: &str,
        arguments: &str,
        mcp_tools: &[McpTool],
    ) -> Result<Self, ToolParseError> {
        match name {
            read_file::NAME => Ok(Self::ReadFile(from_json(arguments)?)),
            view_image::NAME => Ok(Self::ViewImage(from_json(arguments)?)),
            list_dir::NAME => Ok(Self::ListDir(from_json(arguments)?)),
            grep_files::NAME => Ok(Self::GrepFiles(from_json(arguments)?)),
            update_plan::NAME => Ok(Self::UpdatePlan(from_json(arguments)?)),
            user_input::NAME => user_input::parse(arguments)
                .map(Self::AskPerson)
                .map_err(ToolParseError::Invalid),
            goal_tools::GET | goal_tools::UPDATE => {
                match goal_tools::GoalCall::parse(name, arguments) {
                    Some(Ok(call)) => Ok(Self::Goal(call)),
                    Some(Err(e)) => Err(e.into()),
                    None => Err(ToolParseError::Unsupported(name.to_string())),
                }
            }
            shell::NAME => {
                let args: ShellArgs = from_json(arguments)?;
                // Codex models often run `apply_patch` through the shell; there is no such
                // program, and the edit deserves a diff preview, so it becomes a patch call.
                if let Some(input) = apply_patch::from_shell(&args.command) {
                    return Ok(Self::ApplyPatch(ApplyPatchCall::parse(
                        input,
                        args.workdir,
                    )?));
                }
                Ok(Self::Shell(args))
            }
            terminals::EXEC_COMMAND => Ok(Self::Shell(terminals::parse_exec(arguments)?)),
            terminals::WRITE_STDIN => Ok(Self::WriteStdin(from_json(arguments)?)),
            apply_patch::NAME => {
                let input = match from_json::<apply_patch::ApplyPatchArgs>(arguments) {
                    Ok(args) => args.input,
                    // A freeform (custom tool) call carries the patch itself, not JSON.
                    Err(_) if arguments.trim_start().starts_with("*** Begin Patch") => {
                        arguments.to_string()
                    }
                    Err(e) => return Err(e.into()),
                };
                Ok(Self::ApplyPatch(ApplyPatchCall::parse(input, None)?))
            }
            other if collab::NAMES.contains(&other) => {
                match collab::CollabCall::parse(other, arguments) {
                    Some(Ok(call)) => Ok(Self::Collab(call)),
                    Some(Err(why)) => Err(ToolParseError::Invalid(why)),
                    None => Err(ToolParseError::Unsupported(other.to_string())),
                }
            }
            other => match mcp_tools.iter().find(|tool| tool.exposed == other) {
                Some(tool) => Ok(Self::Mcp(Box::new(McpCall {
                    tool: tool.clone(),
                    arguments: mcp_arguments(arguments)?,
                }))),
                None => Err(ToolParseError::Unsupported(other.to_string())),
            },
        }
    }

    /// The tool's wire name.
    pub fn name(&self) -> &str {
        match self {
            Self::ReadFile(_) => read_file::NAME,
            Self::ViewImage(_) => view_image::NAME,
            Self::ListDir(_) => list_dir::NAME,
            Self::GrepFiles(_) => grep_files::NAME,
            Self::Shell(args) if args.terminal.is_some() => terminals::EXEC_COMMAND,
            Self::Shell(_) => shell::NAME,
            Self::WriteStdin(_) => terminals::WRITE_STDIN,
            Self::ApplyPatch(_) => apply_patch::NAME,
            Self::UpdatePlan(_) => update_plan::NAME,
            Self::Goal(call) => call.name(),
            Self::AskPerson(_) => user_input::NAME,
            Self::Mcp(call) => &call.tool.exposed,
            Self::Collab(call) => call.name(),
        }
    }

    /// Whether the call only reads (or only updates the plan): no approval needed for that.
    pub fn is_read_only(&self) -> bool {
        match self {
            Self::ReadFile(_)
            | Self::ViewImage(_)
            | Self::ListDir(_)
            | Self::GrepFiles(_)
            | Self::UpdatePlan(_)
            | Self::Goal(_)
            | Self::AskPerson(_)
            | Self::Collab(_) => true,
            Self::Mcp(call) => call.tool.read_only,
            // A poll only reads what the session printed.
            Self::WriteStdin(args) => args.chars.is_empty(),
            Self::Shell(_) | Self::ApplyPatch(_) => false,
        }
    }

    /// A one-line description for the UI, such as `shell: cargo test` or `read_file src/main.rs`.
    pub fn summary(&self) -> String {
        // Commands, patches and plans read better after a colon: `shell: cargo test`.
        let separator = match self {
            Self::Shell(_)
            | Self::WriteStdin(_)
            | Self::ApplyPatch(_)
            | Self::UpdatePlan(_)
            | Self::Goal(_)
            | Self::AskPerson(_)
            | Self::Mcp(_)
            | Self::Collab(_) => ": ",
            _ => " ",
        };
        format!("{}{separator}{}", self.name(), self.arguments_summary())
    }

    /// What the call works on, without the tool's name: the path, the command, the files.
    pub fn arguments_summary(&self) -> String {
        match self {
            Self::ReadFile(args) => match args.offset {
                Some(offset) if offset > 1 => {
                    format!("{} (from line {offset})", args.path)
                }
                _ => args.path.clone(),
            },
            Self::ListDir(args) => args.path.clone(),
            Self::ViewImage(args) => args.path.clone(),
            Self::GrepFiles(args) => {
                let mut text = format!(
                    "{:?} in {}",
                    args.pattern,
                    args.path.as_deref().unwrap_or(".")
                );
                if let Some(include) = &args.include {
                    text.push_str(&format!(" ({include})"));
                }
                text
            }
            Self::Shell(args) => one_line(&args.command.display()),
            Self::WriteStdin(args) => match (&args.target, args.chars.is_empty()) {
                (Some(target), true) => format!(
                    "{}{} ({})",
                    terminals::SESSION_WORD,
                    args.session_id,
                    one_line(&target.command)
                ),
                (None, true) => format!("{}{}", terminals::SESSION_WORD, args.session_id),
                (_, false) => format!(
                    "{}{} ← {:?}",
                    terminals::SESSION_WORD,
                    args.session_id,
                    args.chars
                ),
            },
            Self::ApplyPatch(call) => {
                let files: Vec<String> = call
                    .patch
                    .ops
                    .iter()
                    .map(|op| match op {
                        apply_patch::FileOp::Add { path, .. } => format!("A {}", path.display()),
                        apply_patch::FileOp::Delete { path } => format!("D {}", path.display()),
                        apply_patch::FileOp::Update {
                            path,
                            move_to: Some(to),
                            ..
                        } => format!("M {} → {}", path.display(), to.display()),
                        apply_patch::FileOp::Update { path, .. } => {
                            format!("M {}", path.display())
                        }
                    })
                    .collect();
                files.join(", ")
            }
            Self::UpdatePlan(plan) => match plan.plan.len() {
                1 => "1 step".to_string(),
                n => format!("{n} steps"),
            },
            Self::Goal(call) => call.summary(),
            Self::AskPerson(questions) => questions
                .iter()
                .map(|q| q.question.as_str())
                .collect::<Vec<_>>()
                .join(" · "),
            Self::Mcp(call) => match &call.arguments {
                Some(arguments) if !arguments.is_empty() => {
                    one_line(&serde_json::Value::Object(arguments.clone()).to_string())
                }
                _ => "(no arguments)".to_string(),
            },
            Self::Collab(call) => call.summary(),
        }
    }

    /// What a face shows of a read, a listing, a search or an MCP call; paths absolute.
    pub fn facts(&self, project_dir: &Path) -> Option<CallFacts> {
        let at = |path: &str| paths::resolve(project_dir, Path::new(path));
        Some(match self {
            Self::ReadFile(args) => CallFacts::Read {
                path: at(&args.path),
            },
            Self::ListDir(args) => CallFacts::List {
                path: at(&args.path),
            },
            Self::GrepFiles(args) => CallFacts::Search {
                query: args.pattern.clone(),
                path: at(args.path.as_deref().unwrap_or(".")),
            },
            Self::Mcp(call) => CallFacts::Mcp {
                server: call.tool.server.clone(),
                tool: call.tool.name.clone(),
                arguments: serde_json::Value::Object(call.arguments.clone().unwrap_or_default()),
            },
            Self::WriteStdin(args) => CallFacts::Typed {
                session_id: args.session_id,
                started_by: args.target.as_ref()?.call_id.clone(),
                chars: args.chars.clone(),
            },
            Self::Shell(_)
            | Self::ViewImage(_)
            | Self::ApplyPatch(_)
            | Self::UpdatePlan(_)
            | Self::Goal(_)
            | Self::AskPerson(_)
            | Self::Collab(_) => {
                return None;
            }
        })
    }

    /// Every path the call reads, writes or runs in, absolute and lexically normalized.
    ///
    /// For `shell` that is the working directory only: what a command touches cannot be known.
    pub fn touched_paths(&self, project_dir: &Path) -> Vec<PathBuf> {
        let resolve = |p: &str| paths::resolve(project_dir, Path::new(p));
        match self {
            Self::ReadFile(args) => vec![resolve(&args.path)],
            Self::ViewImage(args) => vec![resolve(&args.path)],
            Self::ListDir(args) => vec![resolve(&args.path)],
            Self::GrepFiles(args) => vec![resolve(args.path.as_deref().unwrap_or("."))],
            Self::Shell(args) => vec![resolve(args.workdir.as_deref().unwrap_or("."))],
            Self::ApplyPatch(call) => call.paths(project_dir),
            Self::UpdatePlan(_)
            | Self::WriteStdin(_)
            | Self::Goal(_)
            | Self::AskPerson(_)
            | Self::Mcp(_)
            | Self::Collab(_) => Vec::new(),
        }
    }

    /// Where the touched paths really lead when that is outside `project_dir`: symlinks are
    /// followed, so a link inside the project that points out counts as outside. A file read
    /// that has other names (hard links) counts too, since one of them may lie outside.
    pub fn paths_outside(&self, project_dir: &Path) -> Vec<PathBuf> {
        self.outside_with_where(project_dir)
            .into_iter()
            .map(|(_, real)| real)
            .collect()
    }

    /// [`ToolCall::paths_outside`], each with the touched path it came from.
    pub fn outside_with_where(&self, project_dir: &Path) -> Vec<(PathBuf, PathBuf)> {
        let mut out = Vec::new();
        for path in self.touched_paths(project_dir) {
            match paths::outside(project_dir, &path) {
                Some(real) => out.push((path, real)),
                None if matches!(self, Self::ReadFile(_) | Self::ViewImage(_))
                    && paths::has_other_names(&path) =>
                {
                    out.push((path.clone(), path));
                }
                None => {}
            }
        }
        out
    }
}

fn from_json<T: DeserializeOwned>(arguments: &str) -> Result<T, serde_json::Error> {
    serde_json::from_str(arguments)
}

/// An MCP call's arguments: a JSON object, or nothing (an empty string or `null`).
fn mcp_arguments(
    arguments: &str,
) -> Result<Option<serde_json::Map<String, serde_json::Value>>, ToolParseError> {
    if arguments.trim().is_empty() {
        return Ok(None);
    }
    match from_json::<serde_json::Value>(arguments)? {
        serde_json::Value::Object(map) => Ok(Some(map)),
        serde_json::Value::Null => Ok(None),
        _ => Err(ToolParseError::NotAnObject),
    }
}

/// The first line of `text`, at most 200 characters, marked when cut.
pub(crate) fn one_line(text: &str) -> String {
    let first = text.trim().lines().next().unwrap_or("");
    let mut out: String = first.chars().take(200).collect();
    if out.len() < first.len() || text.trim().lines().nth(1).is_some() {
        out.push_str(" …");
    }
    out
}

/// Extra, tool-specific results for the UI.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ToolDetail {
    /// Nothing beyond the text.
    #[default]
    None,
    /// How a command ended.
    Shell(ShellOutcome),
    /// The files a patch changed.
    Patch(Vec<FileChange>),
    /// The plan to show as a checklist.
    Plan(PlanUpdate),
    /// An image the model asked to look at (`view_image`), as a `data:` URL it is sent.
    Image(String),
}

/// The result of running a tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutput {
    /// What the model receives as the `function_call_output`.
    pub text: String,
    /// Whether the tool did what was asked (for `shell`: exit code 0).
    pub success: bool,
    /// The command's exit code (`shell` only).
    pub exit_code: Option<i32>,
    /// How long the tool ran.
    pub duration: Duration,
    /// The command hit its timeout and was killed.
    pub timed_out: bool,
    /// The call was cancelled.
    pub cancelled: bool,
    /// Tool-specific results.
    pub detail: ToolDetail,
}

impl ToolOutput {
    pub fn ok(text: String, duration: Duration) -> Self {
        Self {
            text,
            success: true,
            exit_code: None,
            duration,
            timed_out: false,
            cancelled: false,
            detail: ToolDetail::None,
        }
    }

    pub fn failure(text: String, duration: Duration) -> Self {
        Self {
            success: false,
            ..Self::ok(text, duration)
        }
    }

    fn cancelled(duration: Duration) -> Self {
        Self {
            cancelled: true,
            ..Self::failure("Cancelled by the user.".to_string(), duration)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_tool_and_bad_json_give_the_protocol_strings() {
        let err = ToolCall::parse("frobnicate", "{}").unwrap_err();
        assert_eq!(err.to_string(), "unsupported call: frobnicate");

        let bad = "{\"path\": ";
        let serde_err = serde_json::from_str::<serde_json::Value>(bad).unwrap_err();
        let err = ToolCall::parse("read_file", bad).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("failed to parse function arguments: {serde_err}")
        );

        let err = ToolCall::parse("read_file", "{}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to parse function arguments: missing field `path` at line 1 column 2"
        );
        let err = ToolCall::parse("shell", r#"{"command": 5}"#).unwrap_err();
        assert!(err.to_string().starts_with(
            "failed to parse function arguments: command must be a string or an array of strings"
        ));
    }

    #[test]
    fn every_tool_parses() {
        let calls = [
            (
                "read_file",
                r#"{"path":"src/main.rs","offset":10,"limit":5}"#,
            ),
            ("list_dir", r#"{"path":"src","depth":1}"#),
            ("grep_files", r#"{"pattern":"fn main","include":"*.rs"}"#),
            ("shell", r#"{"command":["cargo","test"],"timeout_ms":1000}"#),
            ("shell", r#"{"command":"ls | wc -l","workdir":"src"}"#),
            (
                "apply_patch",
                r#"{"input":"*** Begin Patch\n*** Delete File: x\n*** End Patch"}"#,
            ),
            (
                "update_plan",
                r#"{"plan":[{"step":"a","status":"pending"}]}"#,
            ),
        ];
        for (name, args) in calls {
            let call = ToolCall::parse(name, args).unwrap();
            assert_eq!(call.name(), name);
        }
    }

    #[test]
    fn summaries_read_like_commands() {
        let summary = |name, args| ToolCall::parse(name, args).unwrap().summary();
        assert_eq!(
            summary("shell", r#"{"command":"cargo test"}"#),
            "shell: cargo test"
        );
        assert_eq!(
            summary(
                "shell",
                r#"{"command":["bash","-lc","echo hi\necho there"]}"#
            ),
            "shell: echo hi …"
        );
        assert_eq!(
            summary("read_file", r#"{"path":"src/main.rs"}"#),
            "read_file src/main.rs"
        );
        assert_eq!(
            summary("read_file", r#"{"path":"a.rs","offset":40}"#),
            "read_file a.rs (from line 40)"
        );
        assert_eq!(summary("list_dir", r#"{"path":"src"}"#), "list_dir src");
        assert_eq!(
            summary(
                "grep_files",
                r#"{"pattern":"todo","path":"src","include":"*.rs"}"#
            ),
            "grep_files \"todo\" in src (*.rs)"
        );
        assert_eq!(
            summary(
                "apply_patch",
                r#"{"input":"*** Begin Patch\n*** Add File: a\n+x\n*** Update File: b\n*** Move to: c\n@@\n-1\n+2\n*** End Patch"}"#
            ),
            "apply_patch: A a, M b → c"
        );
        assert_eq!(
            summary(
                "update_plan",
                r#"{"plan":[{"step":"a","status":"pending"}]}"#
            ),
            "update_plan: 1 step"
        );
    }

    #[test]
    fn read_only_and_touched_paths() {
        let root = Path::new("/proj");
        let call = ToolCall::parse("read_file", r#"{"path":"../etc/passwd"}"#).unwrap();
        assert!(call.is_read_only());
        assert_eq!(call.touched_paths(root), vec![PathBuf::from("/etc/passwd")]);
        assert_eq!(call.paths_outside(root), vec![PathBuf::from("/etc/passwd")]);

        let call = ToolCall::parse("grep_files", r#"{"pattern":"x"}"#).unwrap();
        assert!(call.is_read_only());
        assert_eq!(call.touched_paths(root), vec![PathBuf::from("/proj")]);
        assert!(call.paths_outside(root).is_empty());

        let call = ToolCall::parse("shell", r#"{"command":"make","workdir":"build"}"#).unwrap();
        assert!(!call.is_read_only());
        assert_eq!(call.touched_paths(root), vec![PathBuf::from("/proj/build")]);

        let call = ToolCall::parse(
            "apply_patch",
            r#"{"input":"*** Begin Patch\n*** Add File: src/a.rs\n+x\n*** Delete File: /tmp/b\n*** End Patch"}"#,
        )
        .unwrap();
        assert!(!call.is_read_only());
        assert_eq!(
            call.touched_paths(root),
            vec![PathBuf::from("/proj/src/a.rs"), PathBuf::from("/tmp/b")]
        );
        assert_eq!(call.paths_outside(root), vec![PathBuf::from("/tmp/b")]);

        let call = ToolCall::parse("update_plan", r#"{"plan":[]}"#).unwrap();
        assert!(call.is_read_only());
        assert!(call.touched_paths(root).is_empty());
    }

    #[test]
    fn apply_patch_through_the_shell_becomes_a_patch_call() {
        let args = serde_json::json!({
            "command": ["bash", "-lc", "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch\nEOF"],
            "workdir": "sub"
        });
        let call = ToolCall::parse("shell", &args.to_string()).unwrap();
        let ToolCall::ApplyPatch(patch) = &call else {
            panic!("expected a patch call, got {call:?}");
        };
        assert_eq!(patch.workdir.as_deref(), Some("sub"));
        assert_eq!(
            call.touched_paths(Path::new("/p")),
            vec![PathBuf::from("/p/sub/a.txt")]
        );
    }

    #[test]
    fn apply_patch_accepts_a_raw_patch_and_reports_bad_ones() {
        let raw = "*** Begin Patch\n*** Delete File: x\n*** End Patch";
        assert!(matches!(
            ToolCall::parse("apply_patch", raw),
            Ok(ToolCall::ApplyPatch(_))
        ));
        let err = ToolCall::parse("apply_patch", r#"{"input":"just text"}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid patch: the first line must be '*** Begin Patch'"
        );
    }
}
