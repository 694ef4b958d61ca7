//! Codex 0.171's auto-review on the wire (its "guardian"): `item/autoApprovalReview/started`
//! and `…/completed` around each review, `guardianWarning` with its verdict in words, and
//! `thread/approveGuardianDeniedAction`, a host's `/approve`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Notification;
use crate::protocol::{AutoReview, ReviewStatus, ReviewedAction};

/// `GuardianApprovalReview`: where a review stands and, once done, what it found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GuardianReview {
    pub status: String,
    pub risk_level: Option<String>,
    pub user_authorization: Option<String>,
    pub rationale: Option<String>,
}

impl GuardianReview {
    /// A review as Codex reports it.
    pub fn of(review: &AutoReview) -> Self {
        let done = review.status != ReviewStatus::InProgress;
        Self {
            status: review.status.wire().to_string(),
            risk_level: review
                .risk
                .map(|risk| crate::protocol::risk_word(risk).to_string()),
            user_authorization: review
                .authorization
                .map(|auth| crate::protocol::authorization_word(auth).to_string()),
            rationale: (done && !review.rationale.is_empty()).then(|| review.rationale.clone()),
        }
    }
}

/// `GuardianApprovalReviewAction`: the action in Codex's shapes (a read outside the project,
/// which Codex never asks about, as the read permission it would need).
pub fn action(action: &ReviewedAction) -> Value {
    let path = |path: &std::path::Path| path.display().to_string();
    match action {
        ReviewedAction::Command { command, cwd, .. } => json!({
            "type": "command",
            "source": "unifiedExec",
            "command": command,
            "cwd": path(cwd),
        }),
        ReviewedAction::Patch { cwd, files } => json!({
            "type": "applyPatch",
            "cwd": path(cwd),
            "files": files.iter().map(|file| path(file)).collect::<Vec<_>>(),
        }),
        ReviewedAction::Network { host, port, .. } => json!({
            "type": "networkAccess",
            "host": host,
            "port": port,
            "protocol": if *port == 80 { "http" } else { "https" },
            "target": format!("{host}:{port}"),
        }),
        ReviewedAction::McpTool { server, tool } => json!({
            "type": "mcpToolCall",
            "server": server,
            "toolName": tool,
        }),
        ReviewedAction::Read { summary, paths } => json!({
            "type": "requestPermissions",
            "permissions": {"fileSystem": {"read": paths.iter().map(|p| path(p)).collect::<Vec<_>>()}},
            "reason": summary,
        }),
    }
}

/// The words of `guardianWarning`, as Codex says them:
/// `Automatic approval review denied (risk: high, authorization: low): REASON`.
pub fn warning_words(review: &AutoReview) -> String {
    let verdict = match review.status {
        ReviewStatus::Approved => "approved",
        ReviewStatus::Denied => "denied",
        ReviewStatus::TimedOut => "timed out",
        ReviewStatus::Aborted | ReviewStatus::InProgress => "failed",
    };
    let mut words = format!("Automatic approval review {verdict}");
    if let (Some(risk), Some(auth)) = (review.risk, review.authorization) {
        words.push_str(&format!(
            " (risk: {}, authorization: {})",
            crate::protocol::risk_word(risk),
            crate::protocol::authorization_word(auth)
        ));
    }
    if !review.rationale.is_empty() {
        words.push_str(&format!(": {}", review.rationale));
    }
    words
}

notification!(
    /// A review began.
    AutoApprovalReviewStarted = "item/autoApprovalReview/started" {
        thread_id: String,
        turn_id: String,
        started_at_ms: i64,
        review_id: String,
        target_item_id: Option<String>,
        review: GuardianReview,
        action: Value,
    }
);

notification!(
    /// A review ended.
    AutoApprovalReviewCompleted = "item/autoApprovalReview/completed" {
        thread_id: String,
        turn_id: String,
        started_at_ms: i64,
        completed_at_ms: i64,
        review_id: String,
        target_item_id: Option<String>,
        decision_source: String,
        review: GuardianReview,
        action: Value,
    }
);

notification!(
    /// A review's verdict in words, for a host that shows only those.
    GuardianWarning = "guardianWarning" {
        thread_id: String,
        message: String,
    }
);

/// `thread/approveGuardianDeniedAction`: the host lets a denied action through once; `event`
/// is the review as Codex's core serializes it (its `id` is the review's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApproveDeniedParams {
    pub thread_id: String,
    pub event: Value,
}

/// The review a notification reports, read back (a client on a server): what its action and
/// verdict were, as far as Codex's shapes say.
pub fn review_of(
    (id, call_id, action_json): (String, Option<String>, &Value),
    review: &GuardianReview,
    (started_at_ms, completed_at_ms): (i64, Option<i64>),
) -> AutoReview {
    let text = |key: &str| action_json[key].as_str().unwrap_or_default().to_string();
    let path = |key: &str| std::path::PathBuf::from(text(key));
    let action = match action_json["type"].as_str() {
        Some("command") => ReviewedAction::Command {
            command: text("command"),
            cwd: path("cwd"),
            outside_sandbox: false,
        },
        Some("applyPatch") => ReviewedAction::Patch {
            cwd: path("cwd"),
            files: action_json["files"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(std::path::PathBuf::from)
                .collect(),
        },
        Some("networkAccess") => ReviewedAction::Network {
            host: text("host"),
            port: action_json["port"]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(0),
            command: String::new(),
        },
        Some("mcpToolCall") => ReviewedAction::McpTool {
            server: text("server"),
            tool: text("toolName"),
        },
        _ => ReviewedAction::Read {
            summary: text("reason"),
            paths: Vec::new(),
        },
    };
    let status = match review.status.as_str() {
        "approved" => ReviewStatus::Approved,
        "denied" => ReviewStatus::Denied,
        "timedOut" => ReviewStatus::TimedOut,
        "aborted" => ReviewStatus::Aborted,
        _ => ReviewStatus::InProgress,
    };
    let risk = match review.risk_level.as_deref() {
        Some("low") => Some(crate::protocol::RiskLevel::Low),
        Some("medium") => Some(crate::protocol::RiskLevel::Medium),
        Some("high") => Some(crate::protocol::RiskLevel::High),
        Some("critical") => Some(crate::protocol::RiskLevel::Critical),
        _ => None,
    };
    let authorization = match review.user_authorization.as_deref() {
        Some("unknown") => Some(crate::protocol::Authorization::Unknown),
        Some("low") => Some(crate::protocol::Authorization::Low),
        Some("medium") => Some(crate::protocol::Authorization::Medium),
        Some("high") => Some(crate::protocol::Authorization::High),
        _ => None,
    };
    AutoReview {
        id,
        call_id,
        action,
        started_at_ms,
        status,
        risk,
        authorization,
        rationale: review.rationale.clone().unwrap_or_default(),
        completed_at_ms,
        overridden: false,
    }
}
