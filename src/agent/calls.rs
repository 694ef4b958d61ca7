//! The model's calls of one step: each parsed, prepared (judged by the approval mode, asked
//! of the person where it must be, refused where nobody can say yes), then run, the reading
//! ones side by side, and each answered once, in call order.

use std::path::PathBuf;
use std::time::Duration;

use futures_util::future::join_all;

use super::approval::{DENIED_NO_ONE_TO_ASK, Verdict, denied_output, with_preview};
use super::asks::{self, Answered, network_asker, offer_unsandboxed};
use super::auto_review;
use super::conversation::Conversation;
use super::hook_points;
use super::turn_context::TurnContext;
use crate::llm::types::{CallOutput, Item};
use crate::mcp::McpTool;
use crate::protocol::{ApprovalDecision, ApprovalMode, Event, PlanStep, Reply, SandboxMode};
use crate::session::record::CallRecord;
use crate::tools::{self, OutputSink, SandboxPolicy, ToolCall, ToolDetail};

/// The output of a call that never started because the turn was interrupted first.
pub const NOT_STARTED_OUTPUT: &str = "cancelled: the turn was interrupted before this call ran";

/// What a call that would ask gets with nobody to ask: its output for the model, and a note
/// for the person that names what would allow it (never the mode already in use).
fn unattended_denial(
    mode: ApprovalMode,
    tool: &ToolCall,
    outside: bool,
    read_only: bool,
) -> (String, String) {
    if read_only && matches!(tool, ToolCall::ApplyPatch(_)) {
        return (
            "denied: the sandbox is read-only, so no file may change".to_string(),
            "the sandbox is read-only (rerun with --sandbox workspace-write)".to_string(),
        );
    }
    if tool.asks_to_leave_the_sandbox() {
        return (
            "denied: running a command outside the sandbox needs the user's approval, and \
             none can be asked for here; do without it"
                .to_string(),
            "the model asked to run it outside the sandbox, which only a person can allow"
                .to_string(),
        );
    }
    if mode.never_asks() {
        return (
            "denied: it needs the user's approval, and the approval policy is never".to_string(),
            "it needs approval, and the approval policy is never (/permissions changes it)"
                .to_string(),
        );
    }
    if outside {
        // No mode lets a path outside the project through without a person.
        return (
            "denied: it touches paths outside the project and nobody is here to approve it"
                .to_string(),
            "it touches paths outside the project, which only a person can allow: run it in \
             the interactive client, or give a --cd that contains those paths"
                .to_string(),
        );
    }
    let needed = match (tool, mode) {
        (ToolCall::ApplyPatch(_), ApprovalMode::Ask) => "auto-edit",
        _ => "full-auto",
    };
    (
        format!("{DENIED_NO_ONE_TO_ASK} (--approval {needed})"),
        format!("it needs approval and nobody is here to give it (rerun with --approval {needed})"),
    )
}

/// A function call of the response, parsed.
pub(super) struct PlannedCall {
    pub(super) call_id: String,
    name: String,
    /// The typed call, or the output the model gets for a call that cannot run.
    parsed: Result<ToolCall, String>,
}

impl PlannedCall {
    pub(super) fn from_item(item: &Item, mcp_tools: &[McpTool]) -> Option<Self> {
        match item {
            Item::FunctionCall {
                name,
                arguments,
                call_id,
                ..
            } => Some(Self {
                call_id: call_id.clone(),
                name: name.clone(),
                parsed: ToolCall::parse_with(name, arguments, mcp_tools).map_err(|e| e.to_string()),
            }),
            _ => None,
        }
    }

    fn is_read_only(&self) -> bool {
        self.parsed.as_ref().is_ok_and(ToolCall::is_read_only)
    }
}

/// What a call comes to before it runs.
enum Prepared {
    /// Run it; the outside paths it was judged with (approved, remembered, or none).
    Run(ToolCall, Vec<PathBuf>),
    /// A command that asked to leave the sandbox, which the auto-reviewer allowed: it runs in
    /// the sandbox still, with the network on (`auto_review::widened`).
    RunWidened(ToolCall, Vec<PathBuf>),
    /// It does not run: its output for the model, and what is saved of it.
    Output(String, CallRecord),
    Cancelled,
}

/// What a call comes to: its output for the model, and what is saved of it (nothing for a call
/// the turn never reached).
pub(super) type CallResult = (CallOutput, Option<CallRecord>);

/// Runs the calls of one response: consecutive read-only calls together, others one by one.
/// Returns one output per call, in call order.
pub(super) async fn run_calls(
    conversation: &Conversation,
    ctx: &TurnContext,
    calls: &[PlannedCall],
) -> Vec<CallResult> {
    let mut outputs: Vec<Option<CallResult>> = vec![None; calls.len()];
    let mut start = 0;
    'batches: while start < calls.len() && !ctx.cancel.is_cancelled() {
        let end = if calls[start].is_read_only() {
            calls[start..]
                .iter()
                .position(|c| !c.is_read_only())
                .map_or(calls.len(), |n| start + n)
        } else {
            start + 1
        };
        let mut runnable = Vec::new();
        for (index, call) in calls.iter().enumerate().take(end).skip(start) {
            match prepare(conversation, ctx, call).await {
                Prepared::Run(tool, outside) => runnable.push((index, tool, outside, false)),
                Prepared::RunWidened(tool, outside) => runnable.push((index, tool, outside, true)),
                Prepared::Output(text, saved) => outputs[index] = Some((text.into(), Some(saved))),
                Prepared::Cancelled => break 'batches,
            }
        }
        let results = join_all(runnable.iter().map(|(index, tool, outside, widened)| {
            let call = (calls[*index].call_id.as_str(), tool, *widened);
            execute(conversation, ctx, call, outside)
        }))
        .await;
        for ((index, ..), output) in runnable.iter().zip(results) {
            outputs[*index] = Some(output);
        }
        start = end;
    }
    outputs
        .into_iter()
        .map(|output| output.unwrap_or_else(|| (NOT_STARTED_OUTPUT.into(), None)))
        .collect()
}

/// Parses and judges a call, asking a person when the rules say so.
async fn prepare(conversation: &Conversation, ctx: &TurnContext, call: &PlannedCall) -> Prepared {
    let tool = match &call.parsed {
        Ok(tool) => tool,
        Err(message) => return unparsed(ctx, call, message),
    };
    let placed = placed(conversation, &call.call_id, tool);
    let tool = placed.as_ref().unwrap_or(tool);
    // With no sandbox there is none to leave: the request is a plain command.
    let unconfined;
    let tool = if tool.asks_to_leave_the_sandbox()
        && conversation.tool_context().sandbox.mode == SandboxMode::Off
    {
        unconfined = tool.in_the_sandbox();
        &unconfined
    } else {
        tool
    };
    let declined = |output: String| declined(call, tool, output);
    if conversation.is_reviewer() && matches!(tool, ToolCall::ApplyPatch(_)) {
        return declined(
            "denied: this is a review: it reads and reports, and changes no file".into(),
        );
    }
    if let ToolCall::AskPerson(questions) = tool {
        return ask_questions(ctx, call, questions.clone()).await;
    }
    // Plan mode changes nothing: no patch, no MCP tool that may write, no command outside
    // the read-only sandbox.
    let writes = match tool {
        ToolCall::ApplyPatch(_) => true,
        ToolCall::Mcp(call) => !call.tool.read_only,
        other => other.asks_to_leave_the_sandbox(),
    };
    if conversation.is_planning() && writes {
        return declined(
            "denied: this is plan mode: it plans and changes nothing; give the plan instead".into(),
        );
    }
    let (hooked, permission) =
        match hook_points::before(conversation, ctx, &call.call_id, tool).await {
            hook_points::Before::Blocked(output) => return declined(output),
            hook_points::Before::Judge(tool, permission) => (tool, permission),
        };
    let tool = &hooked;
    let project_dir = conversation.project_dir();
    let outside = tool.paths_outside(project_dir);
    let mut verdict = hook_points::permitted(ctx, tool, project_dir, permission);
    // In a read-only sandbox the person chose, nothing changes a file unasked: a patch asks in
    // every mode, as Codex's read-only does. (The read-only kelp falls back to in a home folder,
    // with a note, guards commands against start-up files; patches are shown as ever.)
    let sandbox = &conversation.tool_context().sandbox;
    let read_only = sandbox.mode == SandboxMode::ReadOnly && sandbox.note.is_none();
    if read_only && verdict == Verdict::Run && matches!(tool, ToolCall::ApplyPatch(_)) {
        verdict = Verdict::AskPatch;
    }
    let verdict = with_preview(verdict, tool, conversation.tool_context()).await;
    let subject = match verdict {
        Verdict::Run => return Prepared::Run(tool.clone(), outside),
        Verdict::Fail(message) => return declined(message),
        Verdict::Ask(subject) => subject,
        // `with_preview` turns every patch into `Ask` or `Fail`; nothing else reaches here.
        Verdict::AskPatch => return declined("the patch could not be previewed".into()),
    };
    if !asks::someone_answers(ctx) {
        let (output, note) =
            unattended_denial(ctx.approvals.mode(), tool, !outside.is_empty(), read_only);
        ctx.emit(Event::Notice(format!(
            "denied `{}`: {note}",
            tool.summary()
        )));
        return declined(output);
    }
    put_to_person(conversation, ctx, call, tool, subject, outside).await
}

/// `tool`, not run: the model is told `output`.
fn declined(call: &PlannedCall, tool: &ToolCall, output: String) -> Prepared {
    let mut saved = refused(&call.call_id, tool.name(), &tool.arguments_summary());
    saved.declined = true;
    Prepared::Output(output, saved)
}

/// What becomes of `tool`, which asks: a `PermissionRequest` hook decides, or the person.
async fn put_to_person(
    conversation: &Conversation,
    ctx: &TurnContext,
    call: &PlannedCall,
    tool: &ToolCall,
    subject: crate::protocol::ApprovalSubject,
    outside: Vec<PathBuf>,
) -> Prepared {
    let declined = |output: String| declined(call, tool, output);
    match hook_points::permission(conversation, ctx, tool).await {
        Some(Ok(())) => return Prepared::Run(tool.clone(), outside),
        Some(Err(reason)) => {
            let reason = crate::terminal_text::printable(&reason).into_owned();
            return declined(format!("denied by a PermissionRequest hook: {reason}"));
        }
        None => {}
    }
    let project_dir = conversation.project_dir();
    let review = || auto_review::Context::of(conversation, ctx);
    let until = (conversation.tool_context(), &ctx.cancel);
    let asked = (call.call_id.as_str(), Some(tool));
    let decision = match asks::decide(ctx, review, asked, subject, until).await {
        None => return Prepared::Cancelled,
        Some(Answered::Person(decision)) => decision,
        Some(Answered::Reviewer) if tool.asks_to_leave_the_sandbox() => {
            return Prepared::RunWidened(tool.clone(), outside);
        }
        Some(Answered::Reviewer) => return Prepared::Run(tool.clone(), outside),
        Some(Answered::ReviewerDenied(output) | Answered::Nobody(output)) => {
            return declined(output);
        }
    };
    match decision {
        ApprovalDecision::Yes => Prepared::Run(tool.clone(), outside),
        ApprovalDecision::Always => {
            ctx.approvals.remember(tool, project_dir);
            Prepared::Run(tool.clone(), outside)
        }
        ApprovalDecision::AlwaysPrefix => {
            match ctx
                .approvals
                .remember_prefix(tool, tool.asks_to_leave_the_sandbox())
            {
                Ok(()) => ctx.emit(Event::Reply(Reply::CommandRules(ctx.approvals.rules()))),
                // The command still runs this once; the rule is not kept, and the person is told.
                Err(e) => ctx.emit(Event::Error(e)),
            }
            Prepared::Run(tool.clone(), outside)
        }
        ApprovalDecision::No { reason } => declined(denied_output(reason.as_deref())),
        // Only a host is refused for good; about a call it is a plain no.
        ApprovalDecision::NeverHere => declined(denied_output(None)),
    }
}

/// `tool` with what it needs of the conversation's background terminals: the call that starts
/// one, or the one typed into (judged by what it runs).
fn placed(conversation: &Conversation, call_id: &str, tool: &ToolCall) -> Option<ToolCall> {
    match tool {
        ToolCall::Shell(args) if args.terminal.is_some() => {
            let mut args = args.clone();
            if let Some(ask) = &mut args.terminal {
                ask.call_id = call_id.to_string();
            }
            Some(ToolCall::Shell(args))
        }
        ToolCall::WriteStdin(args) => {
            Some(ToolCall::WriteStdin(tools::terminals::WriteStdinArgs {
                target: conversation.tool_context().terminals.facts(args.session_id),
                ..args.clone()
            }))
        }
        _ => None,
    }
}

/// A call kelp could not read: shown as a failed call, its error the model's output.
fn unparsed(ctx: &TurnContext, call: &PlannedCall, message: &str) -> Prepared {
    ctx.emit(Event::ToolStarted {
        call_id: call.call_id.clone(),
        tool: call.name.clone(),
        summary: call.name.clone(),
        paths: Vec::new(),
        facts: None,
    });
    ctx.emit(Event::ToolOutput {
        call_id: call.call_id.clone(),
        chunk: format!("{message}\n"),
    });
    ctx.emit(Event::ToolFinished {
        call_id: call.call_id.clone(),
        success: false,
        exit_code: None,
        duration: Duration::ZERO,
    });
    let saved = CallRecord {
        output: format!("{message}\n"),
        ..refused(&call.call_id, &call.name, &call.name)
    };
    Prepared::Output(message.to_string(), saved)
}

/// The model's questions, put to the person: their answers are the call's output. Nobody to
/// ask (`kelp run`, `exec`), or no answer, and the model is told to go on without.
async fn ask_questions(
    ctx: &TurnContext,
    call: &PlannedCall,
    questions: Vec<crate::protocol::Question>,
) -> Prepared {
    let mut saved = refused(&call.call_id, &call.name, &call.name);
    let unanswered = |saved: CallRecord, why: &str| {
        Prepared::Output(
            format!(
                "the person did not answer ({why}): go on with your best judgement and say what you assumed"
            ),
            saved,
        )
    };
    if !ctx.approvals.is_interactive() {
        return unanswered(saved, "nobody is here to ask");
    }
    let (id, answer) = ctx.approvals.register_questions();
    ctx.emit(Event::QuestionsAsked {
        id,
        call_id: call.call_id.clone(),
        questions,
    });
    let answers = tokio::select! {
        biased;
        () = ctx.cancel.cancelled() => {
            ctx.approvals.withdraw(id);
            return Prepared::Cancelled;
        }
        answers = answer => answers.ok().flatten(),
    };
    match answers {
        Some(answers) => {
            saved.success = true;
            saved.declined = false;
            Prepared::Output(tools::user_input::output(&answers), saved)
        }
        None => unanswered(saved, "they declined"),
    }
}

/// Runs one approved call, reporting its start, live output and end.
async fn execute(
    conversation: &Conversation,
    ctx: &TurnContext,
    (call_id, tool, widened): (&str, &ToolCall, bool),
    allowed_outside: &[PathBuf],
) -> CallResult {
    let project_dir = conversation.project_dir();
    let mut saved = CallRecord {
        paths: tool.touched_paths(project_dir),
        facts: tool.facts(project_dir),
        ..refused(call_id, tool.name(), &tool.arguments_summary())
    };
    ctx.emit(Event::ToolStarted {
        call_id: call_id.to_string(),
        tool: saved.tool.clone(),
        summary: saved.summary.clone(),
        paths: saved.paths.clone(),
        facts: saved.facts.clone(),
    });
    let sink = match tool {
        ToolCall::Shell(_) | ToolCall::WriteStdin(_) => {
            let events = ctx.events.clone();
            let call_id = call_id.to_string();
            OutputSink::new(move |line| {
                let _ = events.send(Event::ToolOutput {
                    call_id: call_id.clone(),
                    chunk: format!("{}\n", line.text),
                });
            })
        }
        _ => OutputSink::none(),
    };
    // Ends with the call (or the turn): a question about a host the command asked to reach is
    // withdrawn when the command is gone.
    let call_done = ctx.cancel.child_token();
    let _call_done = call_done.clone().drop_guard();
    let context = conversation.tool_context();
    let changed = fenced_context(conversation, ctx, (call_id, tool, widened), &call_done);
    let watched = watch_files(context, tool).await;
    let mut output = run_tool(
        conversation,
        ctx,
        (call_id, tool),
        changed.as_ref().unwrap_or(context),
        &sink,
        allowed_outside,
    )
    .await;
    call_done.cancel();
    if widened {
        output.text = format!("{WIDENED_NOTE}\n{}", output.text);
    }
    if let Some(rerun) = offer_unsandboxed(
        conversation,
        ctx,
        call_id,
        tool,
        &output,
        &sink,
        allowed_outside,
    )
    .await
    {
        output = rerun;
    }
    tell_detail(ctx, call_id, &output.detail);
    if let Some(said) = diagnostics_after(ctx, context, &output.detail, watched).await {
        output.text = format!("{}\n\n{said}", output.text.trim_end());
    }
    ctx.emit(Event::ToolFinished {
        call_id: call_id.to_string(),
        success: output.success,
        exit_code: output.exit_code,
        duration: output.duration,
    });
    if let Some(note) = runs_later(&output.detail, &context.project_dir) {
        ctx.emit(Event::RunsLater(note));
    }
    if let Some(said) = hook_points::after(conversation, ctx, call_id, tool, &output.text).await {
        output.text = format!("{}\n\n{said}", output.text.trim_end());
    }
    let images = match &output.detail {
        ToolDetail::Image(url) => vec![url.clone()],
        _ => Vec::new(),
    };
    saved.success = output.success;
    saved.exit_code = output.exit_code;
    saved.duration_ms = u64::try_from(output.duration.as_millis()).unwrap_or(u64::MAX);
    match output.detail {
        ToolDetail::Shell(outcome) => saved.output = outcome.output,
        ToolDetail::Patch(changes) => {
            saved.changes = changes.iter().map(tools::FileChange::saved).collect();
        }
        ToolDetail::Plan(_) | ToolDetail::None | ToolDetail::Image(_) => {}
    }
    let text = output.text;
    (CallOutput { text, images }, Some(saved))
}

/// What the language servers say the files a patch changed now hold that they did not; what
/// the person must know of the servers (one that cannot start, is slow, died) is said to them.
async fn diagnostics_after(
    ctx: &TurnContext,
    context: &tools::ToolContext,
    detail: &ToolDetail,
    watched: Option<tools::lsp::snapshot::Snapshot>,
) -> Option<String> {
    let lsp = &context.lsp;
    let (dir, sandbox) = (&context.project_dir, &context.sandbox);
    let check = async {
        match (detail, watched) {
            (_, Some(before)) => Some(lsp.after_command(&before, dir, sandbox).await),
            (ToolDetail::Patch(changes), None) => {
                Some(lsp.after_change(&patched(changes), dir, sandbox).await)
            }
            _ => None,
        }
    };
    // An interrupt does not wait for a check.
    let checked = tokio::select! {
        biased;
        () = ctx.cancel.cancelled() => None,
        checked = check => checked,
    }?;
    for note in checked.notes {
        ctx.emit(Event::Notice(note));
    }
    checked.report
}

/// Before a command: the files a language server checks, to tell which it changed.
async fn watch_files(
    context: &tools::ToolContext,
    tool: &ToolCall,
) -> Option<tools::lsp::snapshot::Snapshot> {
    match tool {
        ToolCall::Shell(_) | ToolCall::WriteStdin(_) => {
            context.lsp.before_command(&context.project_dir).await
        }
        _ => None,
    }
}

/// A patch's changes as the language servers check them: a moved file closed where it was.
fn patched(changes: &[tools::FileChange]) -> Vec<tools::lsp::Change> {
    changes
        .iter()
        .flat_map(|change| {
            let moved = change.move_to.as_ref().map(|_| tools::lsp::Change {
                path: change.path.clone(),
                before: change.old_text.clone(),
                after: None,
            });
            let now = tools::lsp::Change {
                path: change
                    .move_to
                    .clone()
                    .unwrap_or_else(|| change.path.clone()),
                before: change.old_text.clone(),
                after: change.new_text.clone(),
            };
            moved.into_iter().chain(std::iter::once(now))
        })
        .collect()
}

/// What a patch changed or a plan now says, told to the faces as the call ends.
fn tell_detail(ctx: &TurnContext, call_id: &str, detail: &ToolDetail) {
    match detail {
        ToolDetail::Patch(changes) => ctx.emit(Event::FilesChanged {
            call_id: call_id.to_string(),
            changes: changes.clone(),
        }),
        ToolDetail::Plan(plan) => ctx.emit(Event::PlanUpdated {
            call_id: call_id.to_string(),
            explanation: plan.explanation.clone(),
            steps: PlanStep::all_of(plan),
        }),
        ToolDetail::Shell(_) | ToolDetail::Image(_) | ToolDetail::None => {}
    }
}

/// Runs a call: a collaboration call through the agent's team, any other through the tools.
async fn run_tool(
    conversation: &Conversation,
    ctx: &TurnContext,
    (call_id, tool): (&str, &ToolCall),
    context: &tools::ToolContext,
    sink: &OutputSink,
    allowed_outside: &[PathBuf],
) -> tools::ToolOutput {
    match (tool, &ctx.seat) {
        (ToolCall::Collab(call), Some(seat)) => {
            seat.run((call, call_id), conversation, &ctx.cancel, &ctx.events)
                .await
        }
        _ => {
            tools::execute(
                tool,
                context,
                sink,
                ctx.cancel.child_token(),
                allowed_outside,
            )
            .await
        }
    }
}

/// What the model reads before the output of a command the auto-reviewer let out of the
/// sandbox, which ran in it still.
const WIDENED_NOTE: &str = "Auto-review allowed this command, and it ran in the sandbox with \
                            the network on: writes stay inside the project.";

/// The context a call runs in, when it is not the conversation's: with the network for a
/// command the auto-reviewer let out of the sandbox (`widened`); without the sandbox for a
/// command the person allowed outside it; for a command that reaches some domains, one that
/// asks the person about a host no list names, until `call_done`.
fn fenced_context(
    conversation: &Conversation,
    ctx: &TurnContext,
    (call_id, tool, widened): (&str, &ToolCall, bool),
    call_done: &tokio_util::sync::CancellationToken,
) -> Option<tools::ToolContext> {
    let context = conversation.tool_context();
    let widened_sandbox = || auto_review::widened(&context.sandbox);
    match (tool, &context.sandbox.domains) {
        // With some domains reachable, the reviewer's yes widens nothing: each host no list
        // names is asked about (reviewed) as the command reaches it, refused ones stay refused.
        _ if widened && context.sandbox.domains.is_none() => {
            Some(context.clone().with_sandbox(widened_sandbox()))
        }
        _ if tool.asks_to_leave_the_sandbox() => {
            Some(context.clone().with_sandbox(SandboxPolicy::off()))
        }
        (ToolCall::Shell(args), Some(domains)) => {
            let review = auto_review::Context::of(conversation, ctx);
            let workdir = context.resolve(args.workdir.as_deref().unwrap_or("."));
            let asker = network_asker(
                ctx,
                (call_id, args.command.display(), workdir),
                (context, review),
                call_done.clone(),
            );
            Some(context.clone().with_sandbox(SandboxPolicy {
                domains: Some(domains.asking(asker)),
                ..context.sandbox.clone()
            }))
        }
        _ => None,
    }
}

/// What a command or patch left that runs later, and what kelp moved aside of it: said to the
/// person as well as to the model.
fn runs_later(detail: &ToolDetail, project_dir: &std::path::Path) -> Option<String> {
    match detail {
        ToolDetail::Shell(outcome) => match (&outcome.runs_later, &outcome.set_aside) {
            (Some(later), Some(aside)) => Some(format!("{later}; {aside}")),
            (later, aside) => later.clone().or_else(|| aside.clone()),
        },
        ToolDetail::Patch(changes) => {
            let paths: Vec<&std::path::Path> = changes
                .iter()
                .flat_map(|change| std::iter::once(&change.path).chain(&change.move_to))
                .map(PathBuf::as_path)
                .collect();
            tools::runs_later::touched_by_patch(&paths, project_dir)
        }
        ToolDetail::Plan(_) | ToolDetail::None | ToolDetail::Image(_) => None,
    }
}

/// What is saved of a call that did not run (refused, or not a call kelp could read); the
/// fields of one that ran are filled in as it ends.
fn refused(call_id: &str, tool: &str, summary: &str) -> CallRecord {
    CallRecord {
        call_id: call_id.to_string(),
        tool: tool.to_string(),
        summary: summary.to_string(),
        paths: Vec::new(),
        facts: None,
        success: false,
        exit_code: None,
        duration_ms: 0,
        output: String::new(),
        changes: Vec::new(),
        declined: false,
    }
}
