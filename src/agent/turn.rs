//! A turn: request, stream, run the tool calls, request again — until a response holds no tool
//! call (PROTOCOL.md §8).
//!
//! A response that holds text *and* function calls is not the end: the calls run and the loop
//! goes on. Ending the step on the first text is the classic early-stop bug. Every
//! `function_call` in the history gets exactly one `function_call_output`, in call order, also
//! when the turn is interrupted (the cancelled call and those never started get outputs that
//! say so), so the next request is always valid.

use std::sync::PoisonError;

use super::calls::{PlannedCall, run_calls};
use super::compact;
use super::conversation::Conversation;
use super::goal_notes::{WrapUp, note_goal};
use super::hook_points;
use super::items::AttemptItems;
use super::mentions;
use super::turn_context::forward_retry;
use super::turn_context::new_turn_id;
use super::turn_context::{TurnContext, TurnError, take_steered};
use crate::hooks::HookEvent;
use crate::llm::types::{Item, ResponseEvent};
use crate::llm::{LlmClient, LlmError};
use crate::protocol::ImageInput;
use crate::protocol::TokenUsage;
use crate::protocol::TurnEnd;
use crate::protocol::{Event, Submission, TurnOutcome};
use crate::session::{Entry, Note};
use crate::tools;

/// How many requests one turn may make before it stops, unless told otherwise.
pub const DEFAULT_MAX_STEPS: usize = 100;

/// The output of a call the model made after it was told the goal's budget is spent.
pub const BUDGET_SPENT_OUTPUT: &str =
    "not run: the goal's token budget is spent, so the turn ends here";

/// Runs one turn for the prompt `text`, `TurnStarted` first. The closing `TurnFinished` is the
/// caller's to send (the core, once it holds the conversation again): a front end may act on
/// that event at once (submit the next prompt).
pub async fn run_turn_unfinished(
    conversation: &mut Conversation,
    ctx: &TurnContext,
    mut submission: Submission,
) -> Result<(), TurnError> {
    let turn_id = submission.turn_id.take().unwrap_or_else(new_turn_id);
    let ctx = &TurnContext {
        turn_id: Some(turn_id.clone()),
        ..ctx.clone()
    };
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
            Entry::Note(Note::turn(turn_id)),
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
    if !open_turn(conversation, ctx, turn_id, (text, images), from_kelp).await? {
        return Ok(());
    }
    let mut stops_blocked = 0;
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
        take_team_news(conversation, ctx);
        keep_reviews(conversation, ctx);
        let mcp_tools = mcp_tools(mcp.as_ref(), ctx).await?;
        let web_search = ctx
            .client
            .config()
            .web_search_for(conversation.tool_context().sandbox.mode);
        let mut prompt = conversation.prompt_with(
            tools::spec::mcp_specs(&mcp_tools)
                .chain(crate::llm::request::web_search_tool(web_search))
                .chain(ctx.seat.as_ref().map(super::team::Seat::spec)),
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
        note_usage(conversation, ctx, response.usage.as_ref());

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
            // A Stop hook that blocks has the turn go on with its reason, a few times at most.
            if stop_hook(conversation, ctx, &mut stops_blocked).await {
                continue;
            }
            return Ok(());
        }
        // Told the budget is spent: the calls are answered so, not run.
        if wrap_up.told() && !calls.is_empty() {
            answer_unrun(conversation, ctx, calls);
            return Ok(());
        }
        let outputs = run_calls(conversation, ctx, &calls).await;
        record_outputs(conversation, ctx, calls, outputs);
        note_goal(conversation, &ctx.events);
        wrap_up.check(conversation, &ctx.events);
        if ctx.cancel.is_cancelled() {
            return Err(TurnError::Interrupted);
        }
    }
    Err(TurnError::StepLimit(max_steps))
}

/// The tools of the MCP servers, once those still starting are up (each within its startup
/// timeout); a required server that is down ends the turn.
async fn mcp_tools(
    mcp: Option<&crate::mcp::McpManager>,
    ctx: &TurnContext,
) -> Result<Vec<crate::mcp::McpTool>, TurnError> {
    let tools = match mcp {
        Some(mcp) => tokio::select! {
            biased;
            () = ctx.cancel.cancelled() => return Err(TurnError::Interrupted),
            tools = mcp.tools() => tools,
        },
        None => Vec::new(),
    };
    if let Some((name, why)) = mcp.and_then(|mcp| mcp.required_down()) {
        return Err(TurnError::RequiredMcpServer(name, why));
    }
    Ok(tools)
}

/// Counts a response's tokens and tells the faces the totals and how full the window is.
fn note_usage(conversation: &mut Conversation, ctx: &TurnContext, usage: Option<&TokenUsage>) {
    if let Some(usage) = usage {
        conversation.add_usage(usage);
        conversation.set_context_used(usage);
    }
    ctx.emit(Event::Usage(conversation.usage()));
    ctx.emit(Event::ContextUsed {
        used: conversation.context_used(),
        window: conversation.context_window(),
    });
}

/// What came of the agents it spawned, and what the other agents of its team sent it meanwhile
/// (in Codex's envelopes), into the conversation before its next request.
fn take_team_news(conversation: &mut Conversation, ctx: &TurnContext) {
    for activity in ctx.seat.iter().flat_map(super::team::Seat::take_activities) {
        record(conversation, ctx, Entry::Note(Note::Agent { activity }));
    }
    for mail in ctx.seat.iter().flat_map(super::team::Seat::take_mail) {
        record(conversation, ctx, Entry::Item(Item::user_text(mail)));
    }
}

/// Records each call's output for the model, and what ran for the history.
fn record_outputs(
    conversation: &mut Conversation,
    ctx: &TurnContext,
    calls: Vec<PlannedCall>,
    outputs: Vec<super::calls::CallResult>,
) {
    // Before the calls' records: a reopened conversation shows each review before its call,
    // as it was shown live.
    keep_reviews(conversation, ctx);
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
}

/// The auto-reviews of the calls just run, kept in the conversation (their tokens spent as
/// any request's), and what the model is to be told of the person's `/approve`.
fn keep_reviews(conversation: &mut Conversation, ctx: &TurnContext) {
    let agent = ctx.agent_path();
    for told in ctx.approvals.desk(|desk| desk.take_to_tell(agent)) {
        record(conversation, ctx, Entry::Item(Item::developer_text(told)));
    }
    let (reviews, spent) = ctx.approvals.desk(|desk| desk.take_unkept(agent));
    for review in reviews {
        record(conversation, ctx, Entry::Note(Note::Review { review }));
    }
    if let Some(spent) = spent {
        conversation.add_usage(&spent);
        ctx.emit(Event::Usage(conversation.usage()));
    }
}

/// Told the budget is spent, the model still called tools: each call is answered so and not
/// run, and the turn ends, with no request more.
fn answer_unrun(conversation: &mut Conversation, ctx: &TurnContext, calls: Vec<PlannedCall>) {
    for call in calls {
        let item = Item::FunctionCallOutput {
            call_id: call.call_id,
            output: BUDGET_SPENT_OUTPUT.into(),
        };
        record(conversation, ctx, Entry::Item(item));
    }
    ctx.emit(Event::Notice(
        "the goal's token budget is spent: the model's next tool calls were not run, and the turn ends".to_string(),
    ));
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

/// Opens the turn: `SessionStart` on the conversation's first turn here, its prompt past the
/// `UserPromptSubmit` hooks (a blocked one is not sent, nor kept: `false`, the turn ends before
/// it began), the turn noted, then the hooks' context and the prompt.
async fn open_turn(
    conversation: &mut Conversation,
    ctx: &TurnContext,
    turn_id: String,
    (text, images): (String, Vec<ImageInput>),
    from_kelp: bool,
) -> Result<bool, TurnError> {
    // As Codex: the session's start before the prompt.
    // A team's child starts as Codex's do: `SubagentStart`, not the session's start.
    let child = ctx.seat.as_ref().and_then(|seat| seat.as_child()).is_some();
    let started = match (ctx.session_start, child) {
        (Some(_), true) => {
            let event = HookEvent::SubagentStart;
            let fields = serde_json::json!({});
            hook_points::fire(conversation, ctx, event, &[], fields)
                .await
                .context
        }
        (Some(source), false) => {
            let fields = serde_json::json!({ "source": source });
            let event = HookEvent::SessionStart;
            hook_points::fire(conversation, ctx, event, &[], fields)
                .await
                .context
        }
        (None, _) => Vec::new(),
    };
    let prompted = match from_kelp {
        true => Default::default(),
        false => {
            let fields = serde_json::json!({ "prompt": text });
            hook_points::fire(conversation, ctx, HookEvent::UserPromptSubmit, &[], fields).await
        }
    };
    if let Some(reason) = prompted.block.or(prompted.stop) {
        ctx.emit(Event::Error(format!(
            "a UserPromptSubmit hook blocked the prompt: {}",
            crate::terminal_text::printable(&reason)
        )));
        return Ok(false);
    }
    // Each turn says its model and login: a list shows the ones a conversation last used.
    let turn = Note::TurnStarted {
        id: turn_id,
        model: Some(conversation.model().to_string()),
        account: ctx.client.auth().login_name().await,
    };
    record(conversation, ctx, Entry::Note(turn));
    hook_context(conversation, ctx, started);
    if from_kelp {
        record(conversation, ctx, Entry::Item(Item::developer_text(text)));
    } else {
        add_user_message(conversation, ctx, text, images).await?;
        hook_context(conversation, ctx, prompted.context);
    }
    Ok(true)
}

/// What hooks added for the model, each as a developer message.
fn hook_context(conversation: &mut Conversation, ctx: &TurnContext, context: Vec<String>) {
    for text in context {
        record(conversation, ctx, Entry::Item(Item::developer_text(text)));
    }
}

/// How many times one turn's Stop hooks may have it go on.
const MAX_STOPS_BLOCKED: u32 = 3;

/// Runs the Stop hooks as the turn would end: whether it goes on, because one blocked (and the
/// turn has not gone on for them [`MAX_STOPS_BLOCKED`] times); its reason is then recorded.
async fn stop_hook(conversation: &mut Conversation, ctx: &TurnContext, blocked: &mut u32) -> bool {
    let mut fields = serde_json::json!({
        "stop_hook_active": *blocked > 0,
        "last_assistant_message": conversation.last_answer(),
    });
    // A team's child ends its turn as Codex's do: `SubagentStop`, its own conversation as
    // `agent_transcript_path` and its parent's as `transcript_path`.
    let event = match ctx.seat.as_ref().and_then(|seat| seat.as_child()) {
        Some(child) => {
            fields["agent_transcript_path"] = serde_json::json!(conversation.session_path());
            fields["transcript_path"] = serde_json::json!(child.parent_transcript);
            HookEvent::SubagentStop
        }
        None => HookEvent::Stop,
    };
    let verdict = hook_points::fire(conversation, ctx, event, &[], fields).await;
    if let Some(reason) = verdict.stop {
        ctx.emit(Event::Notice(format!(
            "a {} hook ended the turn: {}",
            event.name(),
            crate::terminal_text::printable(&reason)
        )));
        return false;
    }
    let Some(reason) = verdict.block else {
        return false;
    };
    if *blocked >= MAX_STOPS_BLOCKED {
        ctx.emit(Event::Notice(format!(
            "a {} hook blocked the turn's end {MAX_STOPS_BLOCKED} times: it ends here",
            event.name()
        )));
        return false;
    }
    *blocked += 1;
    record(conversation, ctx, Entry::Item(Item::developer_text(reason)));
    true
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
