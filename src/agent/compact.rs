//! Keeping a long conversation inside the model's context window. When a turn ends with the
//! request above [`THRESHOLD_PERCENT`] of the window, when the server says the context is full,
//! or when the person asks (`/compact`), the model writes a summary of the conversation for
//! coding work; the requests from then on carry the project instructions, that summary and (when
//! a turn is still to be answered) its prompt, instead of the old items. The session file keeps
//! every item and notes where the compaction happened, so a resumed conversation goes on from
//! the summary while its transcript still shows everything.

use super::conversation::Conversation;
use super::turn_context::{TurnContext, TurnError, forward_retry, new_turn_id};
use crate::hooks::HookEvent;
use crate::llm::LlmError;
use crate::llm::types::{Item, ResponseEvent, Role};
use crate::protocol::Event;
use crate::terminal_text::printable;

/// How full the window may get, in percent of it, before a finished turn compacts.
pub const THRESHOLD_PERCENT: u64 = 85;

/// What the model is asked to write: what a colleague picking up the work would need.
const SUMMARY_REQUEST: &str = "The conversation so far is about to be replaced by a summary, \
because it no longer fits the context window. Write that summary now, for yourself to continue \
the work from. Do not call tools. Cover, under short headings:\n\
- Goal: what the user wants, in their words where they matter.\n\
- Decisions: what was decided and why, including approaches rejected.\n\
- Files: every file read, created, changed or deleted, with what changed.\n\
- Commands: commands run that matter, and what they showed (failing tests, errors).\n\
- State: what is done, what is in progress, and the open tasks, in order.\n\
- The user's latest request and whether it is finished.\n\
Be specific (paths, names, numbers); leave out greetings and what no longer matters.";

/// Whether a request that used `used` tokens of a `window` leaves too little room.
pub fn over_threshold(used: u64, window: u64) -> bool {
    window > 0 && used.saturating_mul(100) >= window.saturating_mul(THRESHOLD_PERCENT)
}

/// Why the conversation is compacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A turn ended above the threshold.
    NearlyFull,
    /// The server refused a request as too long; the turn is retried once afterwards.
    Overflow,
    /// The person asked (`/compact`).
    Asked,
}

/// `/compact` (or `thread/compact/start`): a turn of its own under `turn_id` (one is made when
/// `None`), saved as one, that compacts the conversation keeping `focus` in particular.
pub async fn as_asked(
    conversation: &mut Conversation,
    ctx: &TurnContext,
    focus: Option<&str>,
    turn_id: Option<String>,
) -> Result<(), TurnError> {
    let id = turn_id.unwrap_or_else(new_turn_id);
    ctx.emit(Event::TurnStarted { id: id.clone() });
    let started = crate::session::Entry::Note(crate::session::Note::turn(id));
    if let Some(e) = conversation.record_once_failing(started) {
        ctx.emit(Event::Error(e.to_string()));
    }
    compact(conversation, ctx, Reason::Asked, focus).await
}

/// Asks the model for a summary (with the person's `focus`, if any) and compacts the
/// conversation onto it. With [`Reason::Overflow`] the turn's prompt is kept after the summary,
/// so the retried request still asks it.
pub async fn compact(
    conversation: &mut Conversation,
    ctx: &TurnContext,
    reason: Reason,
    focus: Option<&str>,
) -> Result<(), TurnError> {
    // As Claude Code's, these hooks are told and may speak, but keep nothing from happening.
    let trigger = if reason == Reason::Asked {
        "manual"
    } else {
        "auto"
    };
    let fields =
        serde_json::json!({"trigger": trigger, "custom_instructions": focus.unwrap_or("")});
    let said = super::hook_points::fire(conversation, ctx, HookEvent::PreCompact, &[], fields);
    if let Some(words) = said.await.block {
        ctx.emit(Event::Notice(format!(
            "PreCompact hook: {}",
            printable(&words)
        )));
    }
    let before = conversation.context_used();
    let (summary, summary_tokens) = tokio::select! {
        biased;
        () = ctx.cancel.cancelled() => return Err(TurnError::Interrupted),
        summary = summarize(conversation, ctx, focus) => summary?,
    };
    // A backend that reports no usage: about four characters a token, never nothing.
    let summary_tokens = summary_tokens.unwrap_or_else(|| (summary.len() as u64).div_ceil(4));
    let keep_prompt = reason == Reason::Overflow;
    if let Some(e) = conversation.compact(summary, keep_prompt, reason != Reason::Asked) {
        ctx.emit(Event::Error(format!(
            "the conversation is not being saved: {e}"
        )));
    }
    // Until the next request says, the context is about the summary's size.
    conversation.estimate_context_used(summary_tokens);
    ctx.emit(Event::Compacted {
        before,
        automatic: reason != Reason::Asked,
    });
    ctx.emit(Event::ContextUsed {
        used: conversation.context_used(),
        window: conversation.context_window(),
    });
    let fields = serde_json::json!({ "trigger": trigger });
    super::hook_points::fire(conversation, ctx, HookEvent::PostCompact, &[], fields).await;
    Ok(())
}

/// The model's summary of the history sent so far. Nothing streams to the front end but
/// retries: the summary is not an answer.
async fn summarize(
    conversation: &mut Conversation,
    ctx: &TurnContext,
    focus: Option<&str>,
) -> Result<(String, Option<u64>), TurnError> {
    let mut prompt = conversation.prompt();
    prompt.tools.clear();
    prompt.parallel_tool_calls = false;
    let mut request = SUMMARY_REQUEST.to_string();
    if let Some(focus) = focus.map(str::trim).filter(|f| !f.is_empty()) {
        request.push_str(&format!(
            "\n\nThe user asks the summary to keep in particular: {focus}"
        ));
    }
    prompt.input.push(Item::user_text(request));
    // A summary request that is itself too long drops the oldest items until it fits.
    loop {
        match summary_of(ctx, &prompt).await {
            Err(LlmError::ContextTooLong) if prompt.input.len() > 2 => {
                drop_oldest(&mut prompt.input);
            }
            Err(e) => return Err(TurnError::Llm(e)),
            Ok((summary, usage)) => {
                // The summary's tokens are spent like any answer's.
                if let Some(usage) = &usage {
                    conversation.add_usage(usage);
                    ctx.emit(Event::Usage(conversation.usage()));
                }
                if summary.trim().is_empty() {
                    return Err(TurnError::Llm(LlmError::Failed {
                        message: Some("the model wrote an empty summary".to_string()),
                    }));
                }
                return Ok((summary, usage.map(|u| u.output_tokens)));
            }
        }
    }
}

/// Drops the oldest item that can go without breaking the request: never the instructions
/// message, and a call goes with its output.
fn drop_oldest(input: &mut Vec<Item>) {
    let Some(at) = input
        .iter()
        .position(|item| !item.is_instructions_message())
    else {
        return;
    };
    if let Item::FunctionCall { call_id, .. } = input.remove(at) {
        input.retain(
            |item| !matches!(item, Item::FunctionCallOutput { call_id: id, .. } if *id == call_id),
        );
    }
}

/// The summary's text and the usage of the request that wrote it.
async fn summary_of(
    ctx: &TurnContext,
    prompt: &crate::llm::Prompt,
) -> Result<(String, Option<crate::protocol::TokenUsage>), LlmError> {
    let mut stream = ctx.client.stream(prompt);
    let mut text = String::new();
    while let Some(event) = stream.next_event().await {
        match event? {
            ResponseEvent::TextDelta(delta) => text.push_str(&delta),
            ResponseEvent::OutputItemDone(
                item @ Item::Message {
                    role: Role::Assistant,
                    ..
                },
            ) => text = item.text(),
            retry @ ResponseEvent::Retrying { .. } => {
                text.clear();
                // A summary is not shown as it streams: there is nothing to void.
                forward_retry(ctx, retry, Vec::new());
            }
            ResponseEvent::Completed { usage, .. } => return Ok((text, usage)),
            _ => {}
        }
    }
    Err(LlmError::Transient {
        reason: "the summary ended without an answer".to_string(),
        retries: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_the_oldest_item_keeps_instructions_and_takes_a_call_with_its_output() {
        let mut input = vec![
            Item::user_text("# AGENTS.md instructions for /p\n\n<INSTRUCTIONS>x"),
            Item::FunctionCall {
                name: "list_dir".into(),
                arguments: "{}".into(),
                call_id: "c1".into(),
                namespace: None,
            },
            Item::FunctionCallOutput {
                call_id: "c1".into(),
                output: "a.rs".into(),
            },
            Item::user_text("summarize"),
        ];
        drop_oldest(&mut input);
        assert_eq!(input.len(), 2);
        assert!(input[0].is_instructions_message());
        assert_eq!(input[1].text(), "summarize");
    }

    #[test]
    fn the_threshold_is_85_percent_of_a_known_window() {
        assert!(!over_threshold(84_999, 100_000));
        assert!(over_threshold(85_000, 100_000));
        assert!(!over_threshold(1_000_000, 0));
    }
}
