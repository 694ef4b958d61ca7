//! Auto-review (Codex's `approvals_reviewer = "auto_review"`, `--approve-for-me`): a question a
//! turn would put to the person goes first to a reviewing model, which allows or denies it with
//! a reason; what it may never decide goes to the person as before.
//!
//! - `prompt.rs`: what the reviewer is sent (its instructions, the action, the conversation's
//!   recent context, the project's rules) and how its answer is read.
//! - `transcript.rs`: the conversation's recent context, bounded, the person's words told
//!   apart from everything else.
//!
//! The hard limits ([`person_only`]): a patch that writes git metadata, another protected path
//! or a file the person's tools run later (in any folder, the shell's start-up files too), or a
//! path the sandbox hides; a read of a path the sandbox hides; a command the person
//! marked "always ask"; typing into a terminal that runs outside the sandbox. And a command the
//! reviewer lets leave the sandbox still runs in it, with the network on (`calls.rs`): the
//! reviewer widens the network, never the sandbox's protections. Only the person's own yes
//! (in the dialog, or `/approve` after a denial) runs a command outside the sandbox.

pub mod prompt;
mod transcript;

use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::conversation::Conversation;
use super::turn_context::TurnContext;
use crate::llm::types::{ResponseEvent, Role};
use crate::protocol::{
    ApprovalSubject, ApprovalsReviewer, AutoReview, Event, ReasoningEffort, ReviewStatus,
    ReviewedAction, TokenUsage,
};
use crate::tools::{ToolCall, ToolContext};

/// The longest a review may take before it counts as a no.
pub const REVIEW_TIMEOUT: Duration = Duration::from_secs(90);

/// Auto-review's part of the approval state, which a team's agents share: who answers first,
/// the review model, every review (`/approvals`), and each agent's own [`Book`].
#[derive(Debug, Default)]
pub struct Desk {
    pub reviewer: ApprovalsReviewer,
    /// `review_model`: the reviewer's model; `None` is the conversation's.
    pub model: Option<String>,
    /// Each agent's book, by its task path (`/root` for the first agent).
    books: std::collections::HashMap<String, Book>,
    /// Every review of the team, oldest first (`/approvals`).
    seen: Vec<AutoReview>,
    /// Counts reviews, so the newest denial of any agent is the one `/approve` lets through.
    reviews: u64,
}

/// What auto-review keeps for one agent: what the reviewer denied it (for `/approve`), what the
/// person let through since, what its model is to be told, and the reviews and tokens its
/// conversation has yet to keep.
#[derive(Debug, Default)]
struct Book {
    /// The actions the reviewer denied, oldest first, each by its count and key ([`key_of`]).
    denied: Vec<(u64, String, AutoReview)>,
    let_through: Vec<String>,
    to_tell: Vec<String>,
    unkept: Vec<AutoReview>,
    spent: Option<TokenUsage>,
}

/// The most reviews `/approvals` keeps in memory (the conversations' files keep them all).
const MAX_SEEN: usize = 500;
/// The most denials per agent `/approve` may still let through.
const MAX_DENIED: usize = 20;

impl Desk {
    /// Whether a reviewer answers first.
    pub fn on(&self) -> bool {
        self.reviewer == ApprovalsReviewer::AutoReview
    }

    /// A new conversation: nothing denied, nothing let through, nothing to keep.
    pub fn forget_session(&mut self) {
        self.books.clear();
        self.seen.clear();
    }

    /// A reopened conversation: the reviews it kept (none waits for `/approve` any more).
    pub fn restore(&mut self, reviews: impl IntoIterator<Item = AutoReview>) {
        self.forget_session();
        self.seen.extend(reviews);
        let over = self.seen.len().saturating_sub(MAX_SEEN);
        self.seen.drain(..over);
    }

    /// The team's reviews, oldest first.
    pub fn seen(&self) -> Vec<AutoReview> {
        self.seen.clone()
    }

    fn book(&mut self, agent: &str) -> &mut Book {
        self.books.entry(agent.to_string()).or_default()
    }

    /// What the model of `agent` is to be told before its next request.
    pub fn take_to_tell(&mut self, agent: &str) -> Vec<String> {
        std::mem::take(&mut self.book(agent).to_tell)
    }

    /// `/approve`: the action denied last, of any agent (or the review `id` denied), may run
    /// once for the agent it was denied to, as if the person had said yes; the review, marked
    /// so, to keep and show. `None` when no such denial waits (none was made, or it was let
    /// through already).
    pub fn approve_denied(&mut self, id: Option<&str>) -> Option<AutoReview> {
        let (agent, at) = self
            .books
            .iter()
            .flat_map(|(agent, book)| {
                book.denied
                    .iter()
                    .enumerate()
                    .map(move |(at, (count, _, review))| (agent, at, *count, review))
            })
            .filter(|(_, _, _, review)| id.is_none_or(|id| review.id == id))
            .max_by_key(|(_, _, count, _)| *count)
            .map(|(agent, at, _, _)| (agent.clone(), at))?;
        let book = self.book(&agent);
        let (_, key, mut review) = book.denied.remove(at);
        book.let_through.push(key);
        review.overridden = true;
        book.unkept.push(review.clone());
        book.to_tell.push(format!(
            "The user has approved one action auto-review denied, after seeing why: {}. \
             Treat this as approval to perform that exact action once, in the same context; \
             it does not authorize similar actions with other payloads. Request it again as \
             it was (the same call with the same arguments) if it is still needed.",
            review.action.shown()
        ));
        if let Some(seen) = self.seen.iter_mut().rev().find(|seen| seen.id == review.id) {
            seen.overridden = true;
        }
        Some(review)
    }

    /// Whether the person let this very action through (`/approve`) for `agent`; it is let
    /// through once.
    pub fn take_let_through(&mut self, agent: &str, subject: &ApprovalSubject) -> bool {
        let key = key_of(subject);
        let book = self.book(agent);
        let found = book.let_through.iter().position(|kept| *kept == key);
        found.map(|at| book.let_through.remove(at)).is_some()
    }

    /// The reviews of `agent`'s calls since its conversation last kept them, and the tokens
    /// they took.
    pub fn take_unkept(&mut self, agent: &str) -> (Vec<AutoReview>, Option<TokenUsage>) {
        let book = self.book(agent);
        (std::mem::take(&mut book.unkept), book.spent.take())
    }

    fn done(
        &mut self,
        agent: &str,
        subject: &ApprovalSubject,
        review: &AutoReview,
        usage: Option<TokenUsage>,
    ) {
        self.reviews += 1;
        let count = self.reviews;
        let book = self.book(agent);
        if !review.approved() {
            book.denied.push((count, key_of(subject), review.clone()));
            let over = book.denied.len().saturating_sub(MAX_DENIED);
            book.denied.drain(..over);
        }
        book.unkept.push(review.clone());
        if let Some(usage) = usage {
            book.spent
                .get_or_insert_with(TokenUsage::default)
                .add(&usage);
        }
        self.seen.push(review.clone());
        let over = self.seen.len().saturating_sub(MAX_SEEN);
        self.seen.drain(..over);
    }
}

/// An action's identity for `/approve`: the whole question (the command and its folder, the
/// patch's diff, the host and the command), so nothing else is let through in its name.
fn key_of(subject: &ApprovalSubject) -> String {
    crate::session::record::sha256_hex(&format!("{subject:?}"))
}

/// Why only the person may decide `subject`, when that is so: the hard limits of the module
/// docs.
pub fn person_only(
    subject: &ApprovalSubject,
    tool: Option<&ToolCall>,
    context: &ToolContext,
    always_asks: impl Fn(&str) -> Option<Vec<String>>,
) -> Option<String> {
    let project_dir = &context.project_dir;
    let hidden = |path: &Path| context.sandbox.secrets.keeps(path);
    match subject {
        ApprovalSubject::Patch { changes, .. } => {
            let mut written: Vec<_> = changes.iter().map(|change| change.path.clone()).collect();
            if let Some(tool) = tool {
                written.extend(tool.touched_paths(project_dir));
            }
            let root = crate::tools::paths::normalize(project_dir);
            if written
                .iter()
                .any(|path| super::approval::is_protected(project_dir, path) || runs_later(path))
                || crate::sandbox::patch_makes_a_repository(&root, &written)
            {
                return Some(
                    "it writes git metadata, a protected path or a file your tools run later"
                        .to_string(),
                );
            }
            written
                .iter()
                .any(|path| hidden(path))
                .then(|| "it writes a file the sandbox keeps hidden".to_string())
        }
        ApprovalSubject::Read { paths, .. } => paths
            .iter()
            .any(|path| hidden(path))
            .then(|| "it reads a file the sandbox keeps hidden".to_string()),
        ApprovalSubject::Command { command, .. }
        | ApprovalSubject::Unsandboxed { command, .. }
        // A host a command reaches: the command's own words decide.
        | ApprovalSubject::Network { command, .. } => {
            // Typed keys are judged by what is typed, not by the question that shows them.
            let words = match tool {
                Some(ToolCall::WriteStdin(args)) => {
                    if args.target.as_ref().is_some_and(|target| !target.sandboxed) {
                        return Some(
                            "it types into a terminal running outside the sandbox".to_string(),
                        );
                    }
                    args.chars.as_str()
                }
                _ => command.as_str(),
            };
            always_asks(words).map(|prefix| {
                format!(
                    "you marked `{}` to be always asked",
                    crate::agent::command_rules::shown(&prefix)
                )
            })
        }
        ApprovalSubject::McpTool { .. } => None,
    }
}

/// The sandbox a command the reviewer let out of it runs in: the same, with the network on:
/// its protections, hidden files and writable folders as they were. (With some domains
/// reachable the command keeps the proxy, its hosts reviewed one by one: `calls.rs`.)
pub fn widened(sandbox: &crate::tools::SandboxPolicy) -> crate::tools::SandboxPolicy {
    crate::tools::SandboxPolicy {
        network: true,
        domains: None,
        ..sandbox.clone()
    }
}

/// What beneath the home folder the person's shell, desktop, editors and tools run later: the
/// shells' start-up files, git's config, the folders on `PATH` that hold the person's own
/// programs, Python's user site (its `.pth` files run at every start), kelp's own config (its
/// hooks, status line and language servers are commands), and the like.
const RUN_LATER_AT_HOME: &[&str] = &[
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".profile",
    ".zshrc",
    ".zshenv",
    ".zprofile",
    ".zlogin",
    ".zlogout",
    ".cshrc",
    ".tcshrc",
    ".kshrc",
    ".mkshrc",
    ".config/fish",
    ".config/nushell",
    ".xprofile",
    ".xinitrc",
    ".xsession",
    ".xsessionrc",
    ".pam_environment",
    ".config/environment.d",
    ".config/autostart",
    ".config/systemd",
    ".local/share/applications",
    ".gitconfig",
    ".config/git",
    ".local/bin",
    "bin",
    ".cargo/bin",
    ".cargo/env",
    "go/bin",
    ".deno/bin",
    ".bun/bin",
    ".npm-global",
    ".local/lib",
    ".config/kelp",
    ".tmux.conf",
    ".config/tmux",
    ".vimrc",
    ".config/nvim",
    ".emacs",
    ".emacs.d",
    ".config/direnv",
    ".direnvrc",
    ".docker/config.json",
    ".ssh",
    ".gnupg",
];

/// Whether a file of this name runs in any folder it is in: Python runs every `.pth` file of a
/// site folder and its `sitecustomize` and `usercustomize` modules at start.
fn runs_wherever(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| {
            name.ends_with(".pth") || name == "sitecustomize.py" || name == "usercustomize.py"
        })
}

/// Whether writing `path`, wherever it is, leaves what runs later unsandboxed: git metadata or
/// a path the sandbox protects beneath any folder (another repository's `.git/hooks`, its
/// `.envrc`), a file of [`crate::tools::runs_later`] there (`.cargo/config.toml`, `.npmrc`), a
/// file Python runs wherever it is, or what [`RUN_LATER_AT_HOME`] names. Judged as written and
/// where links lead.
fn runs_later(path: &Path) -> bool {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    runs_later_with(path, home.as_deref())
}

fn runs_later_with(path: &Path, home: Option<&Path>) -> bool {
    let written = crate::tools::paths::normalize(path);
    // Where its links lead, a link to a place that does not exist yet included.
    let real = crate::tools::paths::real_path(&written).ok();
    let judged = |path: &Path| {
        path.components().any(|part| part.as_os_str() == ".git")
            || runs_wherever(path)
            || path.ancestors().skip(1).any(|folder| {
                let Ok(rel) = path.strip_prefix(folder) else {
                    return false;
                };
                crate::sandbox::PROTECTED
                    .iter()
                    .any(|protected| rel.starts_with(protected))
                    || crate::tools::runs_later::touched_by_patch(&[path], folder).is_some()
            })
            || home.is_some_and(|home| {
                path.strip_prefix(home)
                    .is_ok_and(|rel| RUN_LATER_AT_HOME.iter().any(|file| rel.starts_with(file)))
            })
    };
    judged(&written) || real.as_deref().is_some_and(judged)
}

/// What a review reads of the conversation, taken when a call asks: its recent context, the
/// project's rules, and the model to ask.
#[derive(Debug, Clone)]
pub struct Context {
    transcript: String,
    rules: Option<String>,
    model: String,
    project_dir: std::path::PathBuf,
}

impl Context {
    /// The context of `conversation` now, as the turn `ctx` runs it: reviewed by the review
    /// model; a child of a team (an agent another agent spawned) has no prompt of the person's.
    pub fn of(conversation: &Conversation, ctx: &TurnContext) -> Self {
        let model = ctx.approvals.desk(|desk| desk.model.clone());
        let child = ctx.agent_path() != super::team::ROOT;
        Self::with(conversation, model, child)
    }

    fn with(conversation: &Conversation, model: Option<String>, child: bool) -> Self {
        Self {
            transcript: transcript::recent(conversation.history(), child),
            rules: conversation.project_rules(),
            model: model.unwrap_or_else(|| conversation.model().to_string()),
            project_dir: conversation.project_dir().to_path_buf(),
        }
    }
}

/// Reviews `subject` (the call `call_id`'s, or a host its running command reaches): the faces
/// see it begin and end, the conversation keeps it, and what the reviewer denied is what
/// `/approve` lets through. A review that fails, times out or is cancelled is a no.
pub async fn review(
    ctx: &TurnContext,
    context: &Context,
    call_id: &str,
    subject: &ApprovalSubject,
    until: &CancellationToken,
) -> AutoReview {
    // A host is the command's, not a call of its own (Codex names no target item for it).
    let host = matches!(subject, ApprovalSubject::Network { .. });
    let mut review = AutoReview {
        id: uuid::Uuid::new_v4().to_string(),
        call_id: (!host).then(|| call_id.to_string()),
        action: ReviewedAction::of(subject, &context.project_dir),
        started_at_ms: crate::jsonrpc::now_ms(),
        status: ReviewStatus::InProgress,
        risk: None,
        authorization: None,
        rationale: String::new(),
        completed_at_ms: None,
        overridden: false,
    };
    ctx.emit(Event::AutoReview {
        review: review.clone(),
        subject: Some(Box::new(subject.clone())),
    });
    let mut asked = crate::llm::Prompt::new(context.model.clone(), &context.project_dir);
    asked.instructions = prompt::INSTRUCTIONS.to_string();
    asked.input = vec![crate::llm::types::Item::user_text(prompt::request(
        subject,
        &context.transcript,
        context.rules.as_deref(),
    ))];
    asked.output_schema = Some(prompt::output_schema());
    asked.reasoning_effort = ReasoningEffort::Low;
    let (answer, usage) = tokio::select! {
        biased;
        () = until.cancelled() => (Err((ReviewStatus::Aborted, "the turn ended first".to_string())), None),
        answer = tokio::time::timeout(REVIEW_TIMEOUT, answer_of(ctx, &asked)) => match answer {
            Ok((answer, usage)) => (answer.map_err(|why| (ReviewStatus::Aborted, why)), usage),
            Err(_) => (
                Err((ReviewStatus::TimedOut, format!("no answer in {} s", REVIEW_TIMEOUT.as_secs()))),
                None,
            ),
        },
    };
    match answer {
        Ok(answer) => {
            review.status = if answer.allow {
                ReviewStatus::Approved
            } else {
                ReviewStatus::Denied
            };
            review.risk = Some(answer.risk);
            review.authorization = Some(answer.authorization);
            review.rationale = answer.rationale;
        }
        Err((status, why)) => {
            review.status = status;
            review.rationale = why;
        }
    }
    review.completed_at_ms = Some(crate::jsonrpc::now_ms());
    ctx.approvals
        .desk(|desk| desk.done(ctx.agent_path(), subject, &review, usage));
    ctx.emit(Event::AutoReview {
        review: review.clone(),
        subject: None,
    });
    review
}

/// The reviewer's answer read, or why there is none; and the tokens its request took.
async fn answer_of(
    ctx: &TurnContext,
    asked: &crate::llm::Prompt,
) -> (Result<prompt::Answer, String>, Option<TokenUsage>) {
    let mut stream = ctx.client.stream(asked);
    let mut text = String::new();
    while let Some(event) = stream.next_event().await {
        match event {
            Err(e) => return (Err(format!("the review request failed: {e}")), None),
            Ok(ResponseEvent::TextDelta(delta)) => text.push_str(&delta),
            Ok(ResponseEvent::OutputItemDone(
                item @ crate::llm::types::Item::Message {
                    role: Role::Assistant,
                    ..
                },
            )) => text = item.text(),
            // A retry streams the answer again from its start.
            Ok(ResponseEvent::Retrying { .. }) => text.clear(),
            Ok(ResponseEvent::Completed { usage, .. }) => {
                return (prompt::read_answer(&text), usage);
            }
            Ok(_) => {}
        }
    }
    (Err("the review ended without an answer".to_string()), None)
}

/// What the model reads of a denial: the reviewer's reason, and that it must not go around it
/// (Codex's terms); or, when no review could be made, that this is no finding.
pub fn denied_output(review: &AutoReview) -> String {
    const AFTER: &str = "the user can let this exact action through once with /approve";
    match review.status {
        ReviewStatus::Denied => {
            let why = match review.rationale.as_str() {
                "" => "auto-review gave no reason",
                why => why,
            };
            format!(
                "This action was rejected by auto-review, which judges approvals for the user.\n\
                 Reason: {why}\n\
                 Do not try to reach the same outcome another way (a workaround, indirect \
                 execution, getting around the policy). Go on only with a materially safer \
                 alternative, or stop and ask the user: {AFTER}."
            )
        }
        _ => format!(
            "Auto-review could not judge this action ({}), so it was not run. This is not a \
             finding that it is unsafe. Do not go around the check: resolve the error or ask \
             the user: {AFTER}.",
            review.rationale
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(words: &str) -> ApprovalSubject {
        ApprovalSubject::Command {
            command: words.to_string(),
            workdir: "/project".into(),
            always_prefix: None,
        }
    }

    fn denial(desk: &mut Desk, agent: &str, subject: &ApprovalSubject) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let review = AutoReview {
            id: id.clone(),
            call_id: Some(format!("call-{id}")),
            action: ReviewedAction::of(subject, Path::new("/project")),
            started_at_ms: 1,
            status: ReviewStatus::Denied,
            risk: None,
            authorization: None,
            rationale: "no".to_string(),
            completed_at_ms: Some(2),
            overridden: false,
        };
        desk.done(agent, subject, &review, None);
        id
    }

    #[test]
    fn what_runs_later_is_the_persons_to_write() {
        let home = tempfile::tempdir().unwrap();
        let home = home.path();
        let later = |rel: &str| runs_later_with(&home.join(rel), Some(home));
        for rel in [
            ".bashrc",
            ".cargo/bin/cargo-fmt",
            "bin/ls",
            ".local/lib/python3.12/site-packages/evil.pth",
            ".config/kelp/hooks.toml",
            "src/app/.git/hooks/pre-commit",
            "other/.npmrc",
            "proj/.venv/lib/python3.12/site-packages/sitecustomize.py",
            "proj/.venv/lib/python3.12/site-packages/x.pth",
        ] {
            assert!(later(rel), "{rel}");
        }
        for rel in [
            "notes.txt",
            "binary/x",
            "proj/src/main.rs",
            ".config/kelpish",
        ] {
            assert!(!later(rel), "{rel}");
        }
        // A link that leads there counts where it leads.
        std::fs::create_dir_all(home.join("proj")).unwrap();
        std::os::unix::fs::symlink(home.join("bin"), home.join("proj/tools")).unwrap();
        assert!(later("proj/tools/ls"));
    }

    #[test]
    fn each_agent_keeps_its_own_denials_and_what_approve_lets_through() {
        let mut desk = Desk::default();
        let (first, second) = (command("rm -rf build"), command("curl example.com"));
        denial(&mut desk, "/root", &first);
        let child = denial(&mut desk, "/root/worker", &second);

        // Each conversation keeps its own agent's reviews.
        assert_eq!(desk.take_unkept("/root").0.len(), 1);
        let (worker, _) = desk.take_unkept("/root/worker");
        assert_eq!(worker.iter().map(|r| &r.id).collect::<Vec<_>>(), [&child]);

        // `/approve` lets the newest denial through, for the agent it was denied to alone.
        let approved = desk.approve_denied(None).expect("a denial waits");
        assert_eq!(approved.id, child);
        assert!(desk.take_to_tell("/root").is_empty());
        assert_eq!(desk.take_to_tell("/root/worker").len(), 1);
        assert!(!desk.take_let_through("/root", &second));
        assert!(desk.take_let_through("/root/worker", &second));
        assert!(!desk.take_let_through("/root/worker", &second), "once");
        assert_eq!(desk.take_unkept("/root/worker").0.len(), 1, "the override");
        assert!(desk.take_unkept("/root").0.is_empty());

        // The first agent's denial is next; by id, any agent's.
        let next = desk.approve_denied(None).expect("the first agent's");
        assert_eq!(
            next.action,
            ReviewedAction::of(&first, Path::new("/project"))
        );
        assert!(desk.take_let_through("/root", &first));
        assert!(desk.approve_denied(None).is_none());
        assert!(desk.seen().iter().all(|review| review.overridden));
    }
}
