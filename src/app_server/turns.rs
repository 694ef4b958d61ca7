//! `turn/*`: a prompt (its text, images and mentions) to a thread's core, and the core's
//! events back as the protocol's items and turn notifications through the pure
//! [`Translator`]; approval requests become server→client requests whose decisions go back as
//! `Op::Approve`.

use crate::hooks::notify::Notification;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use uuid::Uuid;

use super::asks::{ask_host, ask_questions, resolved};
use super::shapes::{Outgoing, item_started_and_completed, prompt, turn_began, user_message};
use super::turn_path::{Running, Step, TurnPath};
use super::wire::{Answer, Out, RpcError, now_ms, params};
use crate::protocol::{
    ApprovalMode, CollaborationMode, Event, Op, ReviewTarget, SandboxMode, ServerStatus, Settings,
    Submission,
};
use crate::wire::requests::{
    ModeChoice, ReviewStartParams, ReviewTargetParams, TurnInterruptParams, TurnStartParams,
    TurnSteerParams,
};
use crate::wire::{
    Empty, RateLimitSnapshot, ReviewStarted, ThreadItem, Turn, TurnResponse, TurnSteered,
};

impl Thread {
    /// Stops the thread's core, interrupting the turn it runs.
    pub(super) fn stop(&self) {
        let _ = self.ops.send(Op::Interrupt);
        let _ = self.ops.send(Op::Shutdown);
    }

    /// The id of the turn running on the thread, if one is.
    pub(super) fn running_turn(&self) -> Option<String> {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .turn_id
            .clone()
    }

    /// Whether no client hears the thread, no turn runs on it and no message waits in its
    /// queue (which would be lost with the thread).
    pub(super) fn unheard(&self) -> bool {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        self.audience.is_empty() && running.turn_id.is_none() && running.queue.waiting.is_empty()
    }

    /// What every client of the thread hears, as one `Out`.
    pub(super) fn heard_by(&self) -> Out {
        self.audience.out(crate::jsonrpc::Dialect::Codex)
    }

    /// The thread's state, when no turn runs on it; refused while one does.
    pub(super) fn between_turns(&self) -> Result<std::sync::MutexGuard<'_, Running>, RpcError> {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running.turn_id.is_some() {
            return Err(RpcError::invalid_request(
                "a turn is already running on this thread: wait for it or interrupt it",
            ));
        }
        Ok(running)
    }
}

/// A thread the server holds: its core's ops, the turn it runs, and the clients that hear it.
pub struct Thread {
    pub(super) ops: UnboundedSender<Op>,
    /// The clients that started or resumed it and have not let it go.
    pub(super) audience: crate::jsonrpc::Audience,
    /// Since when no client has heard it with no turn running, while that lasts.
    pub(super) unheard_since: Option<std::time::Instant>,
    /// The folder the thread works in: a root the host's `fs/*` may reach.
    pub(super) cwd: std::path::PathBuf,
    pub(super) running: Arc<Mutex<Running>>,
    /// How the thread was answered when it opened (its history left out), for a second
    /// `thread/resume` of it.
    pub(super) opened: crate::wire::ThreadOpened,
    /// Every client: the thread's status concerns them all, as in Codex.
    pub(super) everyone: Out,
    /// Its background terminals, shared with its core (`thread/backgroundTerminals/*`).
    pub(super) terminals: crate::tools::terminals::Terminals,
}

/// The protocol's approval policy as kelp's approval mode.
/// Codex's `approvalsReviewer` when given, else `default`.
pub(super) fn reviewer_or(
    word: &Option<String>,
    default: crate::protocol::ApprovalsReviewer,
) -> Result<crate::protocol::ApprovalsReviewer, RpcError> {
    Ok(reviewer(word.as_deref())?.unwrap_or(default))
}

/// Codex's `approvalsReviewer` (`user`, `auto_review`), when given.
pub(super) fn reviewer(
    word: Option<&str>,
) -> Result<Option<crate::protocol::ApprovalsReviewer>, RpcError> {
    word.map(crate::protocol::ApprovalsReviewer::parse)
        .transpose()
        .map_err(|why| RpcError::invalid_params(format!("Invalid params: {why}")))
}

pub(super) fn approval_mode(
    policy: Option<&Value>,
    default: ApprovalMode,
) -> Result<ApprovalMode, RpcError> {
    if policy.is_none_or(Value::is_null) {
        return Ok(default);
    }
    policy
        .and_then(Value::as_str)
        .and_then(ApprovalMode::from_codex)
        .ok_or_else(|| {
            RpcError::invalid_params(
                "Invalid params: approvalPolicy: kelp takes \"untrusted\", \"on-request\" or \"never\"",
            )
        })
}

/// The mode `choice` and its settings as kelp's, laid over `settings` (they take precedence,
/// as in Codex).
pub(super) fn mode_over(choice: ModeChoice, mut settings: Settings) -> Result<Settings, RpcError> {
    let mode = CollaborationMode::from_name(&choice.mode).ok_or_else(|| {
        RpcError::invalid_params(format!(
            "Invalid params: collaborationMode.mode: kelp has \"default\" and \"plan\", not {:?}",
            choice.mode
        ))
    })?;
    settings.mode = Some(mode);
    if let Some(model) = choice.settings.model.filter(|m| !m.trim().is_empty()) {
        settings.model = Some(model);
    }
    if let Some(effort) = parsed(
        choice.settings.reasoning_effort.as_deref(),
        "reasoning_effort",
    )? {
        settings.effort = Some(effort);
    }
    Ok(settings)
}

/// The thread a turn's request names, found among the connection's.
pub trait Find<'a>: FnOnce(&str) -> Result<&'a Thread, RpcError> {}
impl<'a, F: FnOnce(&str) -> Result<&'a Thread, RpcError>> Find<'a> for F {}

/// `turn/start`: sends the prompt; the turn's events stream as notifications.
pub fn start<'a>(raw: Value, find: impl Find<'a>) -> Result<Answer, RpcError> {
    let shown = raw.get("input").cloned().unwrap_or_default();
    let p: TurnStartParams = params(raw)?;
    let approval = match &p.approval_policy {
        Some(policy) if !policy.is_null() => {
            Some(approval_mode(Some(policy), ApprovalMode::default())?)
        }
        _ => None,
    };
    let mut settings = Settings {
        model: p.model.clone(),
        approval,
        effort: parsed(p.effort.as_deref(), "effort")?,
        summary: parsed(p.summary.as_deref(), "summary")?,
        sandbox: p.sandbox_policy.as_ref().map(sandbox_choice).transpose()?,
        reviewer: reviewer(p.approvals_reviewer.as_deref())?,
        mode: None,
        service_tier: p
            .service_tier
            .as_deref()
            .map(crate::protocol::ServiceTier::parse)
            .transpose()
            .map_err(RpcError::invalid_params)?,
    };
    if let Some(choice) = p.collaboration_mode {
        settings = mode_over(choice, settings)?;
    }
    let thread = find(&p.thread_id)?;
    if let Some(mode) = settings.mode {
        thread
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .mode = mode;
    }
    let settings = Op::Override(settings);
    let (text, images) = prompt(p.input)?;
    let ops = thread.ops.clone();
    let turn = begin_turn(thread)?;
    let turn_id = turn.id.clone();
    let mut answer = turn_answer(&TurnResponse { turn: turn.clone() }, &p.thread_id, turn)?
        .heard_by(thread.heard_by())
        .every_client(thread.everyone.clone());
    let submission = Submission {
        text,
        images,
        output_schema: p.output_schema.filter(|schema| !schema.is_null()),
        turn_id: Some(turn_id.clone()),
        from_kelp: false,
    };
    answer
        .then
        .extend(user_message(&p.thread_id, &turn_id, shown, now_ms()));
    // Sent once `turn/started` is on its way, so no item of the turn comes before it.
    Ok(answer.after(move || {
        let _ = ops.send(settings);
        let _ = ops.send(Op::Submit(submission));
    }))
}

/// `review/start`: a turn on the thread that reviews `target` (review mode): its
/// `enteredReviewMode` item comes right after `turn/started`, and its `exitedReviewMode`,
/// with the review's text, before `turn/completed`.
pub fn review<'a>(raw: Value, find: impl Find<'a>) -> Result<Answer, RpcError> {
    let p: ReviewStartParams = params(raw)?;
    if p.delivery
        .as_deref()
        .is_some_and(|delivery| delivery != "inline")
    {
        return Err(RpcError::invalid_params(
            "Invalid params: delivery: kelp reviews inline only",
        ));
    }
    let invalid = |why: String| RpcError::invalid_params(format!("Invalid params: target: {why}"));
    let target = match p.target {
        ReviewTargetParams::UncommittedChanges => ReviewTarget::Uncommitted,
        ReviewTargetParams::BaseBranch { branch } => {
            ReviewTarget::base_branch(&branch).map_err(invalid)?
        }
        ReviewTargetParams::Commit { sha, title } => {
            ReviewTarget::commit(&sha, title).map_err(invalid)?
        }
        ReviewTargetParams::Custom { instructions } if instructions.trim().is_empty() => {
            return Err(invalid("empty instructions".to_string()));
        }
        ReviewTargetParams::Custom { instructions } => ReviewTarget::Custom(instructions),
    };
    let thread = find(&p.thread_id)?;
    let ops = thread.ops.clone();
    let turn = begin_turn(thread)?;
    thread
        .running
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .reviewing = true;
    let turn_id = turn.id.clone();
    let item = ThreadItem::EnteredReviewMode {
        id: format!("{turn_id}-review"),
        review: target.label(),
    };
    let started = ReviewStarted {
        review_thread_id: p.thread_id.clone(),
        turn: turn.clone(),
    };
    // `turn/started` leads, then the review's first item.
    let mut answer = turn_answer(&started, &p.thread_id, turn)?
        .heard_by(thread.heard_by())
        .every_client(thread.everyone.clone());
    answer.then.extend(item_started_and_completed(
        &p.thread_id,
        &turn_id,
        item,
        now_ms(),
    ));
    Ok(answer.after(move || {
        let _ = ops.send(Op::Review {
            target,
            turn_id: Some(turn_id),
        });
    }))
}

/// `turn/steer`: input added to the running turn, which the model reads with the turn's next
/// request; refused unless `expectedTurnId` is the turn running now.
pub fn steer<'a>(raw: Value, find: impl Find<'a>) -> Result<Answer, RpcError> {
    let shown = raw.get("input").cloned().unwrap_or_default();
    let p: TurnSteerParams = params(raw)?;
    let thread = find(&p.thread_id)?;
    match thread.running_turn() {
        Some(turn_id) if turn_id == p.expected_turn_id => {
            let (text, images) = prompt(p.input)?;
            let submission = Submission {
                text,
                images,
                ..Submission::default()
            };
            thread
                .ops
                .send(Op::Steer(submission))
                .map_err(|_| RpcError::internal("this thread's agent stopped"))?;
            let mut answer = Answer::of(&TurnSteered {
                turn_id: turn_id.clone(),
            })?;
            answer
                .then
                .extend(user_message(&p.thread_id, &turn_id, shown, now_ms()));
            Ok(answer)
        }
        Some(turn_id) => Err(RpcError::invalid_request(format!(
            "expected active turn id `{}` but found `{turn_id}`",
            p.expected_turn_id
        ))),
        None => Err(RpcError::invalid_request("no active turn to steer")),
    }
}

/// A per-turn word kelp reads (`effort`, `summary`), or the error that names what it takes.
pub(super) fn parsed<T: std::str::FromStr<Err = String>>(
    word: Option<&str>,
    field: &str,
) -> Result<Option<T>, RpcError> {
    word.map(str::parse)
        .transpose()
        .map_err(|e| RpcError::invalid_params(format!("Invalid params: {field}: {e}")))
}

/// The protocol's sandbox policy as kelp's sandbox mode and network switch. A host's own
/// sandbox (`externalSandbox`) leaves commands to it.
pub(super) fn sandbox_choice(policy: &Value) -> Result<(SandboxMode, bool), RpcError> {
    let network = policy["networkAccess"].as_bool().unwrap_or(false);
    match policy["type"].as_str() {
        Some("dangerFullAccess") => Ok((SandboxMode::Off, true)),
        Some("readOnly") => Ok((SandboxMode::ReadOnly, network)),
        Some("workspaceWrite") => Ok((SandboxMode::WorkspaceWrite, network)),
        Some("externalSandbox") => Ok((SandboxMode::Off, policy["networkAccess"] == "enabled")),
        _ => Err(RpcError::invalid_params(
            "Invalid params: sandboxPolicy: kelp takes dangerFullAccess, readOnly, workspaceWrite or externalSandbox",
        )),
    }
}

/// `turn/interrupt`: stops the stream and kills running commands; `turn/completed` with
/// `interrupted` follows.
pub fn interrupt<'a>(raw: Value, find: impl Find<'a>) -> Result<Answer, RpcError> {
    let p: TurnInterruptParams = params(raw)?;
    let thread = find(&p.thread_id)?;
    let answer = Answer::of(&Empty {})?;
    if thread.running_turn().as_deref() != Some(p.turn_id.as_str()) {
        return Ok(answer);
    }
    // After the answer: the turn's `turn/completed` follows it.
    let ops = thread.ops.clone();
    Ok(answer.after(move || {
        let _ = ops.send(Op::Interrupt);
    }))
}

/// `thread/approveGuardianDeniedAction`: a host's `/approve`: the action the review `event.id`
/// denied may run once, unreviewed, when the model asks for it again.
pub fn approve_denied<'a>(raw: Value, find: impl Find<'a>) -> Result<Answer, RpcError> {
    let p: crate::wire::ApproveDeniedParams = params(raw)?;
    let thread = find(&p.thread_id)?;
    let Some(id) = p
        .event
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Err(RpcError::invalid_params(
            "invalid Guardian denial event: missing field `id`",
        ));
    };
    let ops = thread.ops.clone();
    Ok(Answer::of(&Empty {})?.after(move || {
        let _ = ops.send(Op::ApproveDenied(Some(id)));
    }))
}

/// Marks a turn as running on `thread` (one at a time): the turn as the protocol shows it.
pub(super) fn begin_turn(thread: &Thread) -> Result<Turn, RpcError> {
    let turn_id = {
        let mut running = thread.between_turns()?;
        let id = Uuid::new_v4().to_string();
        running.turn_id = Some(id.clone());
        // The person is back: what an interrupt held goes again once this turn ends.
        running.queue.paused = false;
        id
    };
    Ok(super::shapes::turn_starting(turn_id))
}

/// The answer `result` of a request that began `turn`, followed by the thread going active
/// and the turn's `turn/started`, in the order Codex 0.169 sends them.
pub(super) fn turn_answer(
    result: &impl serde::Serialize,
    thread_id: &str,
    turn: Turn,
) -> Result<Answer, RpcError> {
    let (active, started) = turn_began(thread_id, turn);
    Ok(Answer::of(result)?.notify(active).notify(started))
}

/// The thread a pump serves.
pub(super) struct Where {
    pub(super) thread_id: String,
    pub(super) cwd: PathBuf,
    /// Every client, which hears the thread's status.
    pub(super) everyone: Out,
    /// The person's `notify` program, told of an approval no client is there to give.
    pub(super) notify: Option<Vec<String>>,
}

/// What the server keeps of what its threads report: the last rate limits and MCP servers.
pub(super) struct Reported {
    pub(super) limits: Arc<Mutex<RateLimitSnapshot>>,
    pub(super) servers: Arc<Mutex<Vec<ServerStatus>>>,
}

/// Carries one thread's core events to its clients, for as long as the core runs: the
/// [`TurnPath`] says what each event does, this task does it (writes the notifications, asks
/// the host).
pub(super) async fn pump(
    mut events: UnboundedReceiver<Event>,
    ops: UnboundedSender<Op>,
    out: Out,
    place: Where,
    running: Arc<Mutex<Running>>,
    reported: Reported,
) {
    let Where {
        thread_id,
        cwd,
        everyone,
        notify,
    } = place;
    let mut path = TurnPath::new(thread_id.clone(), cwd.clone());
    let asking = Arc::clone(
        &running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .asking,
    );
    while let Some(event) = events.recv().await {
        // The hot path: the next piece of the message streaming now.
        if let Some(line) = path.delta_line(&event, now_ms()) {
            out.send_line(line);
            continue;
        }
        let steps = {
            let mut running = running.lock().unwrap_or_else(PoisonError::into_inner);
            path.on_event(event, &mut running, now_ms())
        };
        for step in steps {
            match step {
                Step::Send(Outgoing::Line(line)) => out.send_line(line),
                Step::Send(message) => {
                    if let Ok((method, params)) = message.into_message() {
                        super::wire::audience(method, Some(&everyone), &out).notify(method, params);
                    }
                }
                Step::Ask {
                    thread,
                    turn,
                    id,
                    call_id,
                    subject,
                    agent,
                } => {
                    if let Some(argv) = notify.as_deref().filter(|_| out.heard_by_nobody()) {
                        let asked = Notification::ApprovalRequested {
                            thread_id: thread.clone(),
                            turn_id: turn.clone(),
                            cwd: cwd.display().to_string(),
                            message: subject.requested_line(),
                        };
                        crate::hooks::notify::send(argv, &cwd, &asked);
                    }
                    ask_host(
                        out.clone(),
                        ops.clone(),
                        (thread, turn),
                        Arc::clone(&asking),
                        id,
                        (call_id, agent),
                        subject,
                    )
                }
                Step::Questions {
                    thread,
                    turn,
                    id,
                    call_id,
                    questions,
                } => ask_questions(
                    out.clone(),
                    ops.clone(),
                    (thread, turn),
                    id,
                    call_id,
                    questions,
                ),
                Step::Resolved(id) => resolved(&out, &asking, id),
                Step::Limits(limits) => {
                    *reported
                        .limits
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = limits;
                }
                Step::Servers(servers) => {
                    *reported
                        .servers
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = servers;
                }
                Step::Submit(submission) => {
                    let _ = ops.send(Op::Submit(submission));
                }
            }
        }
    }
}
