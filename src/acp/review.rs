//! Auto-review as codex-acp shows Codex's: a tool call of its own, `guardian_assessment:ID`,
//! a "think" titled "Guardian Review", in progress while the reviewer judges, then completed
//! (allowed) or failed (denied, timed out, not made), its text the verdict in lines and its raw
//! input and output the review as Codex's app-server reports it.

use agent_client_protocol_schema::v1::{
    Content, ContentBlock, SessionUpdate, TextContent, ToolCall, ToolCallContent, ToolCallStatus,
    ToolCallUpdate, ToolCallUpdateFields, ToolKind,
};
use serde_json::json;

use crate::protocol::{AutoReview, ReviewStatus, ReviewedAction};
use crate::wire;

/// The update a review makes: the tool call as it starts, its update as it ends; none for the
/// person's own `/approve`, of which Codex's hosts show nothing.
pub fn updates(review: &AutoReview) -> Vec<SessionUpdate> {
    if review.overridden {
        return Vec::new();
    }
    vec![update(review)]
}

fn update(review: &AutoReview) -> SessionUpdate {
    let id = format!("guardian_assessment:{}", review.id);
    let said = ContentBlock::Text(TextContent::new(verdict(review)));
    let content = vec![ToolCallContent::Content(Content::new(said))];
    let event = json!({
        "reviewId": review.id,
        "targetItemId": review.call_id,
        "startedAtMs": review.started_at_ms,
        "completedAtMs": review.completed_at_ms,
        "review": wire::GuardianReview::of(review),
        "action": wire::action(&review.action),
    });
    let status = match review.status {
        ReviewStatus::InProgress => ToolCallStatus::InProgress,
        ReviewStatus::Approved => ToolCallStatus::Completed,
        ReviewStatus::Denied | ReviewStatus::TimedOut | ReviewStatus::Aborted => {
            ToolCallStatus::Failed
        }
    };
    if review.status == ReviewStatus::InProgress {
        return SessionUpdate::ToolCall(
            ToolCall::new(id, "Guardian Review")
                .kind(ToolKind::Think)
                .status(status)
                .content(content)
                .raw_input(event),
        );
    }
    let fields = ToolCallUpdateFields::new()
        .status(status)
        .content(content)
        .raw_output(event);
    SessionUpdate::ToolCallUpdate(ToolCallUpdate::new(id, fields))
}

/// The verdict in lines, as codex-acp writes it: status, action, risk, authorization, reason.
fn verdict(review: &AutoReview) -> String {
    let status = match review.status {
        ReviewStatus::InProgress => "In progress",
        ReviewStatus::Approved => "Approved",
        ReviewStatus::Denied => "Denied",
        ReviewStatus::TimedOut => "Timed out",
        ReviewStatus::Aborted => "Aborted",
    };
    let mut lines = vec![
        format!("Status: {status}"),
        format!("Action: {}", action(&review.action)),
    ];
    if let Some(risk) = review.risk {
        lines.push(format!("Risk: {}", crate::protocol::risk_word(risk)));
    }
    if let Some(auth) = review.authorization {
        lines.push(format!(
            "Authorization: {}",
            crate::protocol::authorization_word(auth)
        ));
    }
    if review.status != ReviewStatus::InProgress && !review.rationale.is_empty() {
        lines.push(format!("Rationale: {}", review.rationale));
    }
    lines.join("\n")
}

/// The action in codex-acp's words: `exec cargo test`, `apply_patch touching src/a.rs`.
fn action(action: &ReviewedAction) -> String {
    match action {
        ReviewedAction::Command { command, .. } => format!("exec {command}"),
        ReviewedAction::Patch { files, .. } => match files.as_slice() {
            [one] => format!("apply_patch touching {}", one.display()),
            many => format!("apply_patch touching {} files", many.len()),
        },
        ReviewedAction::Network { host, port, .. } => format!("network access to {host}:{port}"),
        ReviewedAction::McpTool { server, tool } => format!("MCP {tool} on {server}"),
        ReviewedAction::Read { summary, .. } => format!("read outside the project: {summary}"),
    }
}
