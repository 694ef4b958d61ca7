//! A turn: request, stream, run the tool calls, request again — until a response holds no tool
//! call (PROTOCOL.md §8).
//!
//! A response that holds text *and* function calls is not the end: the calls run and the loop
//! goes on. Ending the step on the first text is the classic early-stop bug. Every
//! `function_call` in the history gets exactly one `function_call_output`, in call order, also
//! when the turn is interrupted (the cancelled call and those never started get outputs that
//! say so), so the next request is always valid.

use std::path::PathBuf;
use std::sync::PoisonError;
use std::time::Duration;

use futures_util::future::join_all;

use super::approval::{DENIED_NO_ONE_TO_ASK, Verdict, denied_output, with_preview};
use super::asks::{ask_person, network_asker, offer_unsandboxed};
use super::compact;
use super::conversation::Conversation;
use super::goal_notes::{WrapUp, note_goal};
use super::items::AttemptItems;
use super::mentions;
use super::turn_context::forward_retry;
use super::turn_context::new_turn_id;
use super::turn_context::{TurnContext, TurnError, take_steered};
use crate::llm::types::{Item, ResponseEvent};
use crate::llm::{LlmClient, LlmError};
use crate::mcp::McpTool;
use crate::protocol::ImageInput;
use crate::protocol::SandboxMode;
use crate::protocol::TokenUsage;
use crate::protocol::TurnEnd;
use crate::protocol::{
    ApprovalDecision, ApprovalMode, Event, PlanStep, Reply, Submission, TurnOutcome,
};
use crate::session::record::CallRecord;
use crate::session::{Entry, Note};
use crate::tools::{self, OutputSink, SandboxPolicy, ToolCall, ToolDetail};

/// How many requests one turn may make before it stops, unless told otherwise.
pub const DEFAULT_MAX_STEPS: usize = 100;

/// The output of a call the model made after it was told the goal's budget is spent.
pub const BUDGET_SPENT_OUTPUT: &str =
    "not run: the goal's token budget is spent, so the turn ends here";

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

/// Runs one turn for the prompt `text`, `TurnStarted` first. The closing `TurnFinished` is the
/// caller's to send (the core, once it holds the conversation again): a front end may act on
/// that event at once (submit the next prompt).
pub async fn run_turn_unfinished(
    conversation: &mut Conversation,
    ctx: &TurnContext,
    mut submission: Submission,
) -> Result<(), TurnError> {
    let turn_id = submission.turn_id.take().unwrap_or_else(new_turn_id);
    ctx.emit(Event::TurnStarted {
        id: turn_id.clone(),
    });
    // With no login at all, no request can go out: the turn fails before the prompt is
    // recorded, and records nothing (not even how it ended, which would read as the end of
    // the turn before), so a conversation that never started leaves no session behind.
    if let Err(
        e @ (LlmError::Auth(crate::auth::AuthError::NotLoggedIn)
        | LlmError::ProviderKeyMissing { .. }),
    ) = ctx.client.credential().await
    {
        return Err(TurnError::Llm(e));
    }
    let mut partial = PartialAnswer::default();
    let result = steps(conversation, ctx, submission, turn_id, &mut partial).await;
    if let Err(e) = &result {
        keep_unfinished(conversation, ctx, e, partial.take());
    }
    let nearly_full = conversation
        .context_window()
        .is_some_and(|window| compact::over_threshold(conversation.context_used(), window));
    if result.is_ok()
        && nearly_full
        && let Err(e) = compact::compact(conversation, ctx, compact::Reason::NearlyFull, None).await
    {
        ctx.emit(Event::Error(format!(
            "could not compact the conversation: {e}"
        )));
    }
    let usage = conversation.usage();
    if usage != TokenUsage::default() {
        let context_used = conversation.context_used();
        record(
            conversation,
            ctx,
            Entry::Note(Note::Usage {
                usage,
                context_used,
            }),
        );
    }
    result
}

/// Runs a review of `target` as a turn of its own beside `conversation`, by its
/// [`reviewer`](Conversation::reviewer): the face sees a turn like
/// any other. The conversation then keeps the request and the findings (not the reviewer's
/// reads), so the next prompt can say "fix those".
pub async fn run_review(
    conversation: &mut Conversation,
    ctx: &TurnContext,
    target: &crate::protocol::ReviewTarget,
    turn_id: Option<String>,
) -> Result<(), TurnError> {
    use crate::llm::types::Item;
    use crate::session::{Entry, Note};
    let mut reviewer = conversation.reviewer();
    let turn_id = turn_id.unwrap_or_else(new_turn_id);
    let submission = crate::protocol::Submission {
        turn_id: Some(turn_id.clone()),
        ..crate::protocol::Submission::text(target.prompt())
    };
    let result = run_turn_unfinished(&mut reviewer, ctx, submission).await;
    conversation.add_usage(&reviewer.usage());
    let findings = reviewer
        .last_answer()
        .filter(|text| !text.trim().is_empty());
    // Nothing was asked of a reviewer that never sent a request (no login): nothing to keep.
    if reviewer.usage() != crate::protocol::TokenUsage::default() || findings.is_some() {
        let mut entries = vec![
            Entry::Note(Note::TurnStarted { id: turn_id }),
            Entry::Item(Item::user_text(format!("/review {}", target.label()))),
        ];
        entries.extend(findings.map(|text| Entry::Item(Item::assistant_text(text))));
        for entry in entries {
            if let Some(e) = conversation.record_once_failing(entry) {
                ctx.emit(crate::protocol::Event::Error(e.to_string()));
            }
        }
    }
    // The window the face shows is the conversation's again, not the reviewer's.
    ctx.emit(crate::protocol::Event::ContextUsed {
        used: conversation.context_used(),
        window: conversation.context_window(),
    });
    result
}

/// Saves what an unfinished turn leaves: the answer streamed so far, so the model and the
/// transcript keep it, and how the turn ended.
fn keep_unfinished(
    conversation: &mut Conversation,
    ctx: &TurnContext,
    e: &TurnError,
    text: String,
) {
    if !text.trim().is_empty() {
        record(conversation, ctx, Entry::Item(Item::assistant_text(text)));
    }
    let (how, message) = match e.outcome() {
        TurnOutcome::Interrupted => (TurnEnd::Interrupted, None),
        TurnOutcome::Stopped { message, .. } => (TurnEnd::Stopped, Some(message)),
        TurnOutcome::Failed { message, .. } => (TurnEnd::Failed, Some(message)),
        TurnOutcome::Completed => return,
    };
    record(
        conversation,
        ctx,
        Entry::Note(Note::TurnEnded { how, message }),
    );
}

/// The answer text of the response in flight, kept for a turn that ends before it completes.
/// A retry streams the answer again from its start; until the new attempt has text, the
/// longest text an attempt got to is what there is.
#[derive(Debug, Default)]
struct PartialAnswer {
    attempt: String,
    before_retry: String,
}

impl PartialAnswer {
    fn push(&mut self, delta: &str) {
        self.attempt.push_str(delta);
    }

    fn retrying(&mut self) {
        if self.attempt.len() >= self.before_retry.len() {
            self.before_retry = std::mem::take(&mut self.attempt);
        }
        self.attempt.clear();
    }

    fn take(&mut self) -> String {
        self.retrying();
        std::mem::take(&mut self.before_retry)
    }
}

async fn steps(
    conversation: &mut Conversation,
    ctx: &TurnContext,
    submission: Submission,
    turn_id: String,
    partial: &mut PartialAnswer,
) -> Result<(), TurnError> {
    let Submission {
        text,
        images,
        output_schema,
        turn_id: _,
        from_kelp,
    } = submission;
    record(
        conversation,
        ctx,
        Entry::Note(Note::TurnStarted { id: turn_id }),
    );
    if from_kelp {
        record(conversation, ctx, Entry::Item(Item::developer_text(text)));
    } else {
        add_user_message(conversation, ctx, text, images).await?;
    }
    let mcp = conversation.tool_context().mcp.clone();
    if let Some(mcp) = &mcp {
        mcp.revive();
    }
    let max_steps = ctx.max_steps.max(1);
    let mut wrap_up = WrapUp::from(conversation.usage());
    let mut compacted = false;
    for _ in 0..max_steps {
        // What the person added meanwhile goes before the next request.
        for steer in take_steered(&ctx.steered) {
            add_user_message(conversation, ctx, steer.text, steer.images).await?;
        }
        // Servers still starting are waited for here, each within its startup timeout.
        let mcp_tools = match &mcp {
            Some(mcp) => tokio::select! {
                biased;
                () = ctx.cancel.cancelled() => return Err(TurnError::Interrupted),
                tools = mcp.tools() => tools,
            },
            None => Vec::new(),
        };
        if let Some((name, why)) = mcp.as_ref().and_then(|mcp| mcp.required_down()) {
            return Err(TurnError::RequiredMcpServer(name, why));
        }
        let web_search = ctx
            .client
            .config()
            .web_search_for(conversation.tool_context().sandbox.mode);
        let mut prompt = conversation.prompt_with(
            tools::spec::mcp_specs(&mcp_tools)
                .chain(crate::llm::request::web_search_tool(web_search)),
        );
        prompt.output_schema.clone_from(&output_schema);
        *partial = PartialAnswer::default();
        let response = tokio::select! {
            biased;
            () = ctx.cancel.cancelled() => return Err(TurnError::Interrupted),
            response = stream_response(&ctx.client, &prompt, ctx, partial) => response,
        };
        let response = match response {
            // The window overflowed: compact onto a summary and ask again, once.
            Err(LlmError::ContextTooLong) if !compacted => {
                compacted = true;
                compact::compact(conversation, ctx, compact::Reason::Overflow, None).await?;
                continue;
            }
            other => other?,
        };
        if let Some(usage) = &response.usage {
            conversation.add_usage(usage);
            conversation.set_context_used(usage);
        }
        ctx.emit(Event::Usage(conversation.usage()));
        ctx.emit(Event::ContextUsed {
            used: conversation.context_used(),
            window: conversation.context_window(),
        });

        let calls: Vec<PlannedCall> = response
            .items
            .iter()
            .filter_map(|item| PlannedCall::from_item(item, &mcp_tools))
            .collect();
        *partial = PartialAnswer::default();
        for item in response.items {
            record(conversation, ctx, Entry::Item(item));
        }
        let steered = !ctx
            .steered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty();
        if calls.is_empty() && !steered {
            return Ok(());
        }
        // Told the budget is spent, the model still calls tools: each call is answered so and
        // not run, and the turn ends here, with no request more.
        if wrap_up.told() && !calls.is_empty() {
            for call in calls {
                let item = Item::FunctionCallOutput {
                    call_id: call.call_id,
                    output: BUDGET_SPENT_OUTPUT.to_string(),
                };
                record(conversation, ctx, Entry::Item(item));
            }
            ctx.emit(Event::Notice(
                "the goal's token budget is spent: the model's next tool calls were not run, and the turn ends".to_string(),
            ));
            return Ok(());
        }
        let outputs = run_calls(conversation, ctx, &calls).await;
        for (call, (output, ran)) in calls.into_iter().zip(outputs) {
            let item = Item::FunctionCallOutput {
                call_id: call.call_id,
                output,
            };
            record(conversation, ctx, Entry::Item(item));
            if let Some(ran) = ran {
                record(conversation, ctx, Entry::Note(Note::Call(Box::new(ran))));
            }
        }
        note_goal(conversation, &ctx.events);
        wrap_up.check(conversation, &ctx.events);
        if ctx.cancel.is_cancelled() {
            return Err(TurnError::Interrupted);
        }
    }
    Err(TurnError::StepLimit(max_steps))
}

/// Records the person's message: their words, the files they mention and their images, read
/// off the async threads. Interrupted while the files are read, the words are kept alone.
async fn add_user_message(
    conversation: &mut Conversation,
    ctx: &TurnContext,
    text: String,
    images: Vec<ImageInput>,
) -> Result<(), TurnError> {
    let project_dir = conversation.project_dir().to_path_buf();
    let typed = text.clone();
    let reading =
        crate::task::spawn_blocking(move || mentions::user_message(text, &images, &project_dir));
    let (message, attachments) = tokio::select! {
        biased;
        () = ctx.cancel.cancelled() => {
            record(conversation, ctx, Entry::Item(Item::user_text(typed)));
            return Err(TurnError::Interrupted);
        }
        read = reading => read.unwrap_or_else(|_| (Item::user_text(typed), Vec::new())),
    };
    if !attachments.is_empty() {
        ctx.emit(Event::Attached(attachments));
    }
    record(conversation, ctx, Entry::Item(message));
    Ok(())
}

fn record(conversation: &mut Conversation, ctx: &TurnContext, entry: Entry) {
    if let Some(e) = conversation.record_once_failing(entry) {
        ctx.emit(Event::Error(format!(
            "the conversation is not being saved: {e}"
        )));
    }
}

/// The authoritative items and usage of one response.
struct Response {
    items: Vec<Item>,
    usage: Option<TokenUsage>,
}

/// Streams one response, forwarding deltas as they come.
async fn stream_response(
    client: &LlmClient,
    prompt: &crate::llm::Prompt,
    ctx: &TurnContext,
    partial: &mut PartialAnswer,
) -> Result<Response, LlmError> {
    let mut stream = client.stream(prompt);
    let mut items = Vec::new();
    let mut shown = AttemptItems::default();
    while let Some(event) = stream.next_event().await {
        match event? {
            ResponseEvent::TextDelta(delta) => {
                partial.push(&delta);
                shown.text(ctx, delta);
            }
            ResponseEvent::ReasoningSummaryDelta(delta) => shown.reasoning(ctx, delta),
            ResponseEvent::ReasoningSummaryPartAdded(index) => shown.reasoning_part(ctx, index),
            ResponseEvent::OutputItemDone(item) => {
                shown.done(ctx, &item);
                items.push(item);
            }
            ResponseEvent::RateLimits(limits) => ctx.emit(Event::RateLimits(limits)),
            retry @ ResponseEvent::Retrying { .. } => {
                // What the failed attempt delivered is void; the next one sends it all again.
                items.clear();
                partial.retrying();
                forward_retry(ctx, retry, shown.void());
            }
            ResponseEvent::Completed { usage, .. } => {
                shown.completed(ctx);
                return Ok(Response { items, usage });
            }
            ResponseEvent::OutputItemAdded(item) => shown.added(ctx, &item),
            ResponseEvent::Created => {}
        }
    }
    // The stream ends without `Completed` only after an error, unless its task died.
    Err(LlmError::Transient {
        reason: "the response ended without an answer".to_string(),
        retries: 0,
    })
}

/// A function call of the response, parsed.
struct PlannedCall {
    call_id: String,
    name: String,
    /// The typed call, or the output the model gets for a call that cannot run.
    parsed: Result<ToolCall, String>,
}

impl PlannedCall {
    fn from_item(item: &Item, mcp_tools: &[McpTool]) -> Option<Self> {
        match item {
            Item::FunctionCall {
                name,
                arguments,
                call_id,
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
    /// It does not run: its output for the model, and what is saved of it.
    Output(String, CallRecord),
    Cancelled,
}

/// What a call comes to: its output for the model, and what is saved of it (nothing for a call
/// the turn never reached).
type CallResult = (String, Option<CallRecord>);

/// Runs the calls of one response: consecutive read-only calls together, others one by one.
/// Returns one output per call, in call order.
async fn run_calls(
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
                Prepared::Run(tool, outside) => runnable.push((index, tool, outside)),
                Prepared::Output(text, saved) => outputs[index] = Some((text, Some(saved))),
                Prepared::Cancelled => break 'batches,
            }
        }
        let results = join_all(runnable.iter().map(|(index, tool, outside)| {
            execute(conversation, ctx, &calls[*index].call_id, tool, outside)
        }))
        .await;
        for ((index, _, _), output) in runnable.iter().zip(results) {
            outputs[*index] = Some(output);
        }
        start = end;
    }
    outputs
        .into_iter()
        .map(|output| output.unwrap_or_else(|| (NOT_STARTED_OUTPUT.to_string(), None)))
        .collect()
}

/// Parses and judges a call, asking a person when the rules say so.
async fn prepare(conversation: &Conversation, ctx: &TurnContext, call: &PlannedCall) -> Prepared {
    let tool = match &call.parsed {
        Ok(tool) => tool,
        Err(message) => {
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
            return Prepared::Output(message.clone(), saved);
        }
    };
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
    let declined = |output: String| {
        let mut saved = refused(&call.call_id, tool.name(), &tool.arguments_summary());
        saved.declined = true;
        Prepared::Output(output, saved)
    };
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
    let project_dir = conversation.project_dir();
    let outside = tool.paths_outside(project_dir);
    let mut verdict = ctx.approvals.judge(tool, project_dir);
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
    if !ctx.approvals.is_interactive() || ctx.approvals.mode().never_asks() {
        let (output, note) =
            unattended_denial(ctx.approvals.mode(), tool, !outside.is_empty(), read_only);
        ctx.emit(Event::Notice(format!(
            "denied `{}`: {note}",
            tool.summary()
        )));
        return declined(output);
    }
    let Some(decision) = ask_person(ctx, &call.call_id, subject, &ctx.cancel).await else {
        return Prepared::Cancelled;
    };
    match decision {
        ApprovalDecision::Yes => Prepared::Run(tool.clone(), outside),
        ApprovalDecision::Always => {
            ctx.approvals.remember(tool, project_dir);
            Prepared::Run(tool.clone(), outside)
        }
        ApprovalDecision::AlwaysPrefix => {
            match ctx.approvals.remember_prefix(tool) {
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
    call_id: &str,
    tool: &ToolCall,
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
        ToolCall::Shell(_) => {
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
    // A command the person allowed outside the sandbox runs without it; one that reaches some
    // domains asks the person about a host no list names.
    let context = conversation.tool_context();
    // Ends with the call (or the turn): a question about a host the command asked to reach is
    // withdrawn when the command is gone.
    let call_done = ctx.cancel.child_token();
    let _call_done = call_done.clone().drop_guard();
    let changed = match (tool, &context.sandbox.domains) {
        _ if tool.asks_to_leave_the_sandbox() => {
            Some(context.clone().with_sandbox(SandboxPolicy::off()))
        }
        (ToolCall::Shell(args), Some(domains)) => {
            let asker = network_asker(
                ctx,
                call_id,
                args.command.display(),
                context.resolve(args.workdir.as_deref().unwrap_or(".")),
                call_done.clone(),
            );
            Some(context.clone().with_sandbox(SandboxPolicy {
                domains: Some(domains.asking(asker)),
                ..context.sandbox.clone()
            }))
        }
        _ => None,
    };
    let mut output = tools::execute(
        tool,
        changed.as_ref().unwrap_or(context),
        &sink,
        ctx.cancel.child_token(),
        allowed_outside,
    )
    .await;
    call_done.cancel();
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
    if let ToolDetail::Patch(changes) = &output.detail {
        ctx.emit(Event::FilesChanged {
            call_id: call_id.to_string(),
            changes: changes.clone(),
        });
    }
    if let ToolDetail::Plan(plan) = &output.detail {
        ctx.emit(Event::PlanUpdated {
            call_id: call_id.to_string(),
            explanation: plan.explanation.clone(),
            steps: PlanStep::all_of(plan),
        });
    }
    ctx.emit(Event::ToolFinished {
        call_id: call_id.to_string(),
        success: output.success,
        exit_code: output.exit_code,
        duration: output.duration,
    });
    // What a command or patch left that runs later, and what kelp moved aside of it: said to
    // the person as well as to the model.
    let runs_later = match &output.detail {
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
            tools::runs_later::touched_by_patch(&paths, &conversation.tool_context().project_dir)
        }
        ToolDetail::Plan(_) | ToolDetail::None => None,
    };
    if let Some(note) = runs_later {
        ctx.emit(Event::RunsLater(note));
    }
    saved.success = output.success;
    saved.exit_code = output.exit_code;
    saved.duration_ms = u64::try_from(output.duration.as_millis()).unwrap_or(u64::MAX);
    match output.detail {
        ToolDetail::Shell(outcome) => saved.output = outcome.output,
        ToolDetail::Patch(changes) => {
            saved.changes = changes.iter().map(tools::FileChange::saved).collect();
        }
        ToolDetail::Plan(_) | ToolDetail::None => {}
    }
    (output.text, Some(saved))
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
