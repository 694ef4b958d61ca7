//! Auto-review: who answers the questions a turn would put to the person (the person, or a
//! reviewing model first), and what a review of one action came to, as every face shows it and
//! the conversation keeps it; and the language servers' diagnostics `/diagnostics` lists, the
//! other check that keeps an agent left alone honest.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ApprovalSubject;

/// Who an approval goes to first: Codex's `approvals_reviewer`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalsReviewer {
    /// The person answers every approval.
    #[default]
    User,
    /// A reviewing model answers first; what it may not decide still goes to the person.
    AutoReview,
}

impl ApprovalsReviewer {
    /// Codex's word (`user`, `auto_review`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::AutoReview => "auto_review",
        }
    }

    /// The reviewer a word names: Codex's `user`, `auto_review` and its older
    /// `guardian_subagent`, and kelp's short `auto`.
    pub fn parse(word: &str) -> Result<Self, String> {
        match word.trim() {
            "user" => Ok(Self::User),
            "auto_review" | "auto-review" | "auto" | "guardian_subagent" => Ok(Self::AutoReview),
            other => Err(format!(
                "approvals_reviewer {other:?}: use \"user\" or \"auto_review\""
            )),
        }
    }
}

/// What a review is about, without the secrets or bulk of the question itself (a patch's
/// files, not its text): what the faces show and the conversation keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReviewedAction {
    /// A command: in the sandbox, or (`outside_sandbox`) one the model asked to run outside it.
    Command {
        command: String,
        cwd: PathBuf,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        outside_sandbox: bool,
    },
    /// A patch, by the files it changes.
    Patch { cwd: PathBuf, files: Vec<PathBuf> },
    /// A read reaching outside the project.
    Read {
        summary: String,
        paths: Vec<PathBuf>,
    },
    /// A running command's first contact with a host no list names.
    Network {
        host: String,
        port: u16,
        command: String,
    },
    /// A tool of an MCP server.
    McpTool { server: String, tool: String },
}

impl ReviewedAction {
    /// The action a question asks about.
    pub fn of(subject: &ApprovalSubject, project_dir: &Path) -> Self {
        match subject {
            ApprovalSubject::Command {
                command, workdir, ..
            } => Self::Command {
                command: command.clone(),
                cwd: workdir.clone(),
                outside_sandbox: false,
            },
            ApprovalSubject::Unsandboxed {
                command, workdir, ..
            } => Self::Command {
                command: command.clone(),
                cwd: workdir.clone(),
                outside_sandbox: true,
            },
            ApprovalSubject::Patch { changes, .. } => Self::Patch {
                cwd: project_dir.to_path_buf(),
                files: changes.iter().map(|change| change.path.clone()).collect(),
            },
            ApprovalSubject::Read { summary, paths } => Self::Read {
                summary: summary.clone(),
                paths: paths.clone(),
            },
            ApprovalSubject::McpTool { server, tool, .. } => Self::McpTool {
                server: server.clone(),
                tool: tool.clone(),
            },
            ApprovalSubject::Network {
                host,
                port,
                command,
                ..
            } => Self::Network {
                host: host.clone(),
                port: *port,
                command: command.clone(),
            },
        }
    }

    /// The action in a few words: `` `cargo publish` outside the sandbox ``, `a patch of
    /// src/main.rs`, `a connection to example.com:443`.
    pub fn shown(&self) -> String {
        match self {
            Self::Command {
                command,
                outside_sandbox,
                ..
            } => {
                let command = crate::terminal_text::printable(command);
                if *outside_sandbox {
                    format!("`{command}` outside the sandbox")
                } else {
                    format!("`{command}`")
                }
            }
            Self::Patch { files, .. } => match files.as_slice() {
                [one] => format!("a patch of {}", one.display()),
                many => format!("a patch of {} files", many.len()),
            },
            Self::Read { summary, .. } => format!("reading {summary}"),
            Self::Network { host, port, .. } => format!("a connection to {host}:{port}"),
            Self::McpTool { server, tool } => format!("the MCP tool {tool} of {server}"),
        }
    }
}

/// Where a review stands, in Codex's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    InProgress,
    Approved,
    Denied,
    /// The reviewer did not answer in time: a no.
    TimedOut,
    /// The review could not be made (the request failed, its answer could not be read) or
    /// the turn was cancelled first: a no.
    Aborted,
}

impl ReviewStatus {
    /// Codex's wire word (`inProgress`, `timedOut`, …).
    pub fn wire(self) -> &'static str {
        match self {
            Self::InProgress => "inProgress",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::TimedOut => "timedOut",
            Self::Aborted => "aborted",
        }
    }
}

/// How risky the reviewer judged the action, in Codex's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
    Critical,
}

/// How clearly the person's own words authorize the action, in Codex's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Authorization {
    Unknown,
    Low,
    Medium,
    High,
}

/// One review: what of, for which call, and, once done, what came of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoReview {
    /// Its own id (Codex's `reviewId`).
    pub id: String,
    /// The call it is about; `None` for a host a running command reaches (Codex's
    /// `targetItemId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    pub action: ReviewedAction,
    pub started_at_ms: i64,
    pub status: ReviewStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<RiskLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// The reviewer's reason, one sentence; or why there was no review.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rationale: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at_ms: Option<i64>,
    /// The person let it through after the reviewer's no (`/approve`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub overridden: bool,
}

impl AutoReview {
    /// Whether the reviewer let the action run.
    pub fn approved(&self) -> bool {
        self.status == ReviewStatus::Approved
    }

    /// The review in one line: `auto-review allowed `cargo test` (risk low): the reason`.
    pub fn line(&self) -> String {
        let what = match self.status {
            ReviewStatus::InProgress => "auto-review is looking at",
            ReviewStatus::Approved => "auto-review allowed",
            ReviewStatus::Denied => "auto-review denied",
            ReviewStatus::TimedOut => "auto-review timed out on",
            ReviewStatus::Aborted => "auto-review could not decide",
        };
        let mut line = format!("{what} {}", self.action.shown());
        if let Some(risk) = self.risk {
            line.push_str(&format!(" (risk {})", risk_word(risk)));
        }
        let rationale = crate::terminal_text::printable(self.rationale.trim());
        if !rationale.is_empty() {
            line.push_str(&format!(": {rationale}"));
        }
        if self.overridden {
            line.push_str(" (you let it through)");
        }
        line
    }
}

/// What `/diagnostics` shows: each diagnostic of the files checked so far as a line
/// (`src/a.py:3:7: error: …`), the servers running, and why there are none when that is so.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiagnosticsReport {
    pub lines: Vec<String>,
    pub servers: Vec<String>,
    pub off: Option<String>,
}

/// The risk's word (`low` … `critical`).
pub fn risk_word(risk: RiskLevel) -> &'static str {
    match risk {
        RiskLevel::Low => "low",
        RiskLevel::Medium => "medium",
        RiskLevel::High => "high",
        RiskLevel::Critical => "critical",
    }
}

/// The authorization's word (`unknown` … `high`).
pub fn authorization_word(authorization: Authorization) -> &'static str {
    match authorization {
        Authorization::Unknown => "unknown",
        Authorization::Low => "low",
        Authorization::Medium => "medium",
        Authorization::High => "high",
    }
}
