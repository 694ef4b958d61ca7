//! Where the turn calls the person's hooks (`crate::hooks`): the payload every event carries
//! (the conversation's id and file, the folder, the model, the approval mode as Claude Code
//! names it, the turn), the tool call's before and after (`PreToolUse` may block a call, let
//! it run unasked in the sandbox, have it asked, or rewrite a command; `PostToolUse`'s reason
//! and context reach the model with the output), and what a hook says to the person.

use serde_json::{Value, json};

use super::conversation::Conversation;
use super::turn_context::TurnContext;
use crate::hooks::{HookEvent, Permission, Verdict};
use crate::protocol::{ApprovalMode, Event};
use crate::tools::ToolCall;
use crate::tools::shell::ShellCommand;

/// Runs `event`'s hooks for a tool of `names` (none: not a tool event) with the payload every
/// event carries and `fields`; tells the person what the hooks said to them.
pub(super) async fn fire(
    conversation: &Conversation,
    ctx: &TurnContext,
    event: HookEvent,
    names: &[&str],
    fields: Value,
) -> Verdict {
    if !ctx.hooks.any_for(event, names) {
        return Verdict::default();
    }
    let mut payload = json!({
        "session_id": conversation.id().to_string(),
        "transcript_path": conversation.session_path(),
        "cwd": conversation.project_dir(),
        "hook_event_name": event.name(),
        "model": conversation.model(),
        "permission_mode": permission_mode(ctx.approvals.mode(), conversation.is_planning()),
    });
    if let Some(turn) = &ctx.turn_id {
        payload["turn_id"] = json!(turn);
    }
    if let Some(child) = ctx.seat.as_ref().and_then(|seat| seat.as_child()) {
        payload["session_id"] = json!(child.session_id);
        payload["agent_id"] = json!(child.agent_id);
        payload["agent_type"] = json!(child.agent_type);
    }
    if let (Some(payload), Value::Object(fields)) = (payload.as_object_mut(), fields) {
        payload.extend(fields);
    }
    let verdict = ctx
        .hooks
        .fire(event, names, conversation.project_dir(), &payload)
        .await;
    for message in &verdict.messages {
        ctx.emit(Event::Notice(format!("{} hook: {message}", event.name())));
    }
    verdict
}

/// The approval mode as Claude Code's hooks name it.
fn permission_mode(mode: ApprovalMode, planning: bool) -> &'static str {
    match (mode, planning) {
        (_, true) => "plan",
        (ApprovalMode::Ask, _) => "default",
        (ApprovalMode::AutoEdit, _) => "acceptEdits",
        (ApprovalMode::FullAuto | ApprovalMode::Never, _) => "bypassPermissions",
    }
}

/// The names a tool's call answers to in matchers, the payload's first: a command is `Bash`
/// (as Codex's payloads name it), a patch `apply_patch` and also `Edit` and `Write`.
fn tool_names(tool: &str) -> &'static [&'static str] {
    match tool {
        crate::tools::shell::NAME | crate::tools::terminals::EXEC_COMMAND => {
            &["Bash", "shell", "exec_command"]
        }
        crate::tools::apply_patch::NAME => &["apply_patch", "Edit", "Write"],
        crate::tools::terminals::WRITE_STDIN => &["write_stdin"],
        crate::tools::read_file::NAME => &["read_file", "Read"],
        crate::tools::list_dir::NAME => &["list_dir", "LS"],
        crate::tools::grep_files::NAME => &["grep_files", "Grep"],
        _ => &[],
    }
}

/// The tool a payload names, and its input, as Codex's payloads give them: a command is `Bash`
/// with its `command`, a patch `apply_patch` with the patch as `command`.
fn tool_payload(tool: &ToolCall) -> (&'static [&'static str], Value) {
    let names = tool_names(tool.name());
    let input = match tool {
        ToolCall::Shell(args) => json!({ "command": args.command.display() }),
        ToolCall::ApplyPatch(call) => json!({ "command": call.input }),
        other => json!({ "summary": other.arguments_summary() }),
    };
    (names, input)
}

/// Runs `PermissionRequest` for `tool`, which would now be put to the person, as Codex does
/// before its approval: `Some(Ok)` a hook allowed it, `Some(Err(reason))` one denied it (any
/// deny wins), `None` none decided and the person is asked.
pub(super) async fn permission(
    conversation: &Conversation,
    ctx: &TurnContext,
    tool: &ToolCall,
) -> Option<Result<(), String>> {
    let (names, input) = tool_payload(tool);
    if names.is_empty() {
        return None;
    }
    let fields = json!({"tool_name": names[0], "tool_input": input});
    let verdict = fire(
        conversation,
        ctx,
        HookEvent::PermissionRequest,
        names,
        fields,
    )
    .await;
    if let Some(reason) = verdict.block.or(verdict.stop) {
        return Some(Err(reason));
    }
    (verdict.permission == Some(Permission::Allow)).then_some(Ok(()))
}

/// What `PreToolUse` made of a call.
pub(super) enum Before {
    /// It goes to the approvals as `tool` (rewritten by a hook, or as it was); a hook's
    /// `allow` lets it run unasked where it stays in the sandbox, its `ask` asks.
    Judge(ToolCall, Option<Permission>),
    /// It does not run: the model is told this.
    Blocked(String),
}

/// Runs `PreToolUse` for `tool`.
pub(super) async fn before(
    conversation: &Conversation,
    ctx: &TurnContext,
    call_id: &str,
    tool: &ToolCall,
) -> Before {
    let (names, input) = tool_payload(tool);
    if names.is_empty() {
        return Before::Judge(tool.clone(), None);
    }
    let fields = json!({"tool_name": names[0], "tool_input": input, "tool_use_id": call_id});
    let verdict = fire(conversation, ctx, HookEvent::PreToolUse, names, fields).await;
    if let Some(reason) = verdict.block.or(verdict.stop) {
        let what = match tool {
            ToolCall::Shell(args) => format!("Command: {}", args.command.display()),
            other => format!("Call: {}", other.summary()),
        };
        return Before::Blocked(format!(
            "Command blocked by PreToolUse hook: {reason}. {what}"
        ));
    }
    let rewritten = match (tool, verdict.updated_input) {
        (ToolCall::Shell(args), Some(input)) => {
            match input.get("command").and_then(Value::as_str) {
                Some(command) => {
                    let mut args = args.clone();
                    args.command = ShellCommand::Script(command.to_string());
                    ctx.emit(Event::Notice(format!(
                        "a PreToolUse hook changed the command to `{}`",
                        crate::tools::one_line(command)
                    )));
                    ToolCall::Shell(args)
                }
                None => tool.clone(),
            }
        }
        _ => tool.clone(),
    };
    Before::Judge(rewritten, verdict.permission)
}

/// The approvals' verdict on `tool`, as a `PreToolUse` hook's `permission` changes it: `allow`
/// judges it as `full-auto` does (it runs unasked in the sandbox and the project; a protected
/// path, a path outside or leaving the sandbox still asks); `ask` asks what kelp's `ask` mode
/// would.
pub(super) fn permitted(
    ctx: &TurnContext,
    tool: &ToolCall,
    project_dir: &std::path::Path,
    permission: Option<Permission>,
) -> crate::agent::approval::Verdict {
    use crate::agent::approval::Verdict;
    let verdict = ctx.approvals.judge(tool, project_dir);
    match (permission, &verdict) {
        (Some(Permission::Allow), Verdict::Ask(_) | Verdict::AskPatch) => {
            ctx.approvals.judge_allowed(tool, project_dir)
        }
        (Some(Permission::Ask), Verdict::Run) => ctx.approvals.judge_asking(tool, project_dir),
        _ => verdict,
    }
}

/// Runs `PostToolUse` for `tool`, which ran and answered `output`; what the model is told
/// besides: a hook's reason to reconsider, its context.
pub(super) async fn after(
    conversation: &Conversation,
    ctx: &TurnContext,
    call_id: &str,
    tool: &ToolCall,
    output: &str,
) -> Option<String> {
    let (names, input) = tool_payload(tool);
    if names.is_empty() {
        return None;
    }
    let fields = json!({
        "tool_name": names[0],
        "tool_input": input,
        "tool_response": output,
        "tool_use_id": call_id,
    });
    let verdict = fire(conversation, ctx, HookEvent::PostToolUse, names, fields).await;
    let mut said: Vec<String> = verdict
        .block
        .map(|reason| format!("PostToolUse hook blocked the tool result: {reason}"))
        .into_iter()
        .collect();
    said.extend(verdict.context);
    (!said.is_empty()).then(|| said.join("\n"))
}
