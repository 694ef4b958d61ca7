//! What a turn puts to the person while it runs a call: an approval and its answer, a host a
//! running command asks to reach (`network = "domains"`), and a second run without the sandbox
//! of a command whose output shows a refusal.

use std::path::PathBuf;
use std::sync::Arc;

use super::auto_review;
use super::conversation::Conversation;
use super::turn_context::TurnContext;
use crate::protocol::{ApprovalDecision, ApprovalSubject, Event, ProjectRule, Reply};
use crate::sandbox::proxy::{Answer, Ask, FirstContact};
use crate::tools::{self, OutputSink, SandboxPolicy, ToolCall, ToolDetail};
use tokio_util::sync::CancellationToken;

/// Asks a person about `subject` and waits for the answer; `None` when `until` (the turn, or
/// what the question is about) is cancelled first, and the question is withdrawn.
pub(super) async fn ask_person(
    ctx: &TurnContext,
    call_id: &str,
    subject: ApprovalSubject,
    until: &CancellationToken,
) -> Option<ApprovalDecision> {
    let (id, answer) = ctx.approvals.register();
    ctx.emit(Event::ApprovalRequested {
        id,
        call_id: call_id.to_string(),
        subject,
        agent: None,
    });
    let decision = tokio::select! {
        biased;
        () = until.cancelled() => {
            ctx.approvals.withdraw(id);
            None
        }
        decision = answer => Some(decision.unwrap_or(ApprovalDecision::No { reason: None })),
    };
    ctx.emit(Event::ApprovalAnswered {
        id,
        call_id: call_id.to_string(),
        decision: decision.clone(),
    });
    decision
}

/// Who answered a question about a call, and how.
pub(super) enum Answered {
    /// The person (or `/approve`, which is theirs: the action the reviewer denied, let through).
    Person(ApprovalDecision),
    /// The auto-reviewer allowed it.
    Reviewer,
    /// The auto-reviewer denied it, or could not review it: what the model reads.
    ReviewerDenied(String),
    /// Only the person may allow it, and nobody is here to ask: what the model reads.
    Nobody(String),
}

/// Whether questions go anywhere: the mode asks, and a person or the auto-reviewer answers.
pub(super) fn someone_answers(ctx: &TurnContext) -> bool {
    let approvals = &ctx.approvals;
    !approvals.mode().never_asks()
        && (approvals.is_interactive() || approvals.desk(|desk| desk.on()))
}

/// Puts `subject` to whoever answers it: what `/approve` let through runs; with auto-review on,
/// the reviewer decides what is not the person's alone (`auto_review::person_only`); the
/// person decides the rest, when there is one. `None`: `until` was cancelled first.
pub(super) async fn decide(
    ctx: &TurnContext,
    review: impl FnOnce() -> auto_review::Context,
    (call_id, tool): (&str, Option<&ToolCall>),
    subject: ApprovalSubject,
    (context, until): (&tools::ToolContext, &CancellationToken),
) -> Option<Answered> {
    let approvals = &ctx.approvals;
    let always_asks = |command: &str| approvals.always_asks(command);
    let person_only = auto_review::person_only(&subject, tool, context, always_asks);
    if person_only.is_none()
        && approvals.desk(|desk| desk.take_let_through(ctx.agent_path(), &subject))
    {
        return Some(Answered::Person(ApprovalDecision::Yes));
    }
    if approvals.desk(|desk| desk.on()) {
        match person_only {
            None => {
                let review = auto_review::review(ctx, &review(), call_id, &subject, until).await;
                if until.is_cancelled() {
                    return None;
                }
                return Some(if review.approved() {
                    Answered::Reviewer
                } else {
                    Answered::ReviewerDenied(auto_review::denied_output(&review))
                });
            }
            Some(why) if !approvals.is_interactive() => {
                ctx.emit(Event::Notice(format!(
                    "denied without review: {why}, which only you may allow"
                )));
                return Some(Answered::Nobody(format!(
                    "denied: only the user may allow this ({why}), and nobody is here to ask"
                )));
            }
            Some(why) => ctx.emit(Event::Notice(format!(
                "auto-review leaves this to you: {why}"
            ))),
        }
    }
    ask_person(ctx, call_id, subject, until)
        .await
        .map(Answered::Person)
}

/// The most hosts no list names that one command puts to the person: past them the rest are
/// refused unasked, so a command cannot bury the person in questions.
const MAX_HOST_QUESTIONS: usize = 16;

/// What one command's questions about hosts have come to: how many were put to the person,
/// whether the person refused one (then the rest are refused unasked: one no ends them), and
/// the lock that puts them one at a time.
#[derive(Default)]
struct HostQuestions {
    asked: std::sync::atomic::AtomicUsize,
    refused: std::sync::atomic::AtomicBool,
    one_at_a_time: tokio::sync::Mutex<()>,
}

/// Whom a command that reaches some domains asks about a host no list names: a host the person
/// refused or allowed for the project, or allowed for the conversation, is answered so
/// unasked; otherwise the person is asked, as about any call (nobody in `never`, nor where
/// nobody is there to ask), until `command_done` (the command ended: the question is
/// withdrawn).
pub(super) fn network_asker(
    ctx: &TurnContext,
    (call_id, command, workdir): (&str, String, PathBuf),
    (context, review): (&tools::ToolContext, auto_review::Context),
    command_done: CancellationToken,
) -> Ask {
    use std::sync::atomic::Ordering;
    let (ctx, call_id) = (ctx.clone(), call_id.to_string());
    let questions = Arc::new(HostQuestions::default());
    let (context, review) = (Arc::new(context.clone()), Arc::new(review));
    Arc::new(move |contact: FirstContact| {
        let (ctx, call_id, done) = (ctx.clone(), call_id.clone(), command_done.clone());
        let questions = Arc::clone(&questions);
        let (context, review) = (Arc::clone(&context), Arc::clone(&review));
        let subject = ApprovalSubject::Network {
            host: contact.host.clone(),
            port: contact.port,
            via: contact.via,
            command: command.clone(),
            workdir: workdir.clone(),
        };
        Box::pin(async move {
            let approvals = &ctx.approvals;
            // An answer holds for the web's ports of the host, or for the one port asked.
            let rule = crate::sandbox::proxy::rules::host_rule(&contact.host, contact.port);
            let known = |approvals: &super::approval::Approvals| {
                // A host refused without a port is refused on every port.
                if approvals.host_refused(&contact.host) || approvals.host_refused(&rule) {
                    Some(Answer::Refused(Some(
                        "it is refused in this project (/approval forgets that)".to_string(),
                    )))
                } else {
                    approvals.host_allowed(&rule).then_some(Answer::Allowed)
                }
            };
            if let Some(answer) = known(approvals) {
                return answer;
            }
            if !someone_answers(&ctx) {
                return Answer::Unasked(None);
            }
            let _one = questions.one_at_a_time.lock().await;
            // Answered meanwhile, by this command's last question or another conversation's.
            if let Some(answer) = known(approvals) {
                return answer;
            }
            if questions.refused.load(Ordering::Relaxed) {
                return Answer::Refused(Some("they refused this command another host".to_string()));
            }
            if questions.asked.fetch_add(1, Ordering::Relaxed) >= MAX_HOST_QUESTIONS {
                return Answer::Unasked(Some(format!(
                    "this command asked about {MAX_HOST_QUESTIONS} such hosts already"
                )));
            }
            // A review reads the conversation as the command started.
            let review = || review.as_ref().clone();
            let asked = (call_id.as_str(), None);
            let decision = match decide(&ctx, review, asked, subject, (&context, &done)).await {
                // The turn was cancelled or the command ended: nobody said no.
                None => return Answer::Unasked(None),
                Some(Answered::Person(decision)) => decision,
                Some(Answered::Reviewer) => return Answer::Allowed,
                Some(Answered::ReviewerDenied(why)) => {
                    questions.refused.store(true, Ordering::Relaxed);
                    return Answer::Refused(Some(why));
                }
                Some(Answered::Nobody(why)) => return Answer::Unasked(Some(why)),
            };
            let answer = host_answer(&ctx, rule, decision);
            if matches!(answer, Answer::Refused(_)) {
                questions.refused.store(true, Ordering::Relaxed);
            }
            answer
        })
    })
}

/// What the person's answer about a host comes to: reached, refused, and what is kept of it
/// (for the conversation, or as a rule of the project's).
fn host_answer(ctx: &TurnContext, rule: String, decision: ApprovalDecision) -> Answer {
    let approvals = &ctx.approvals;
    match decision {
        ApprovalDecision::Yes => Answer::Allowed,
        ApprovalDecision::Always => {
            approvals.remember_host(&rule);
            Answer::Allowed
        }
        decision @ (ApprovalDecision::AlwaysPrefix | ApprovalDecision::NeverHere) => {
            let allowed = decision == ApprovalDecision::AlwaysPrefix;
            let rule = if allowed {
                ProjectRule::Host(rule)
            } else {
                ProjectRule::RefusedHost(rule)
            };
            match approvals.keep_host_rule(rule) {
                Ok(()) => ctx.emit(Event::Reply(Reply::CommandRules(approvals.rules()))),
                // It holds for this conversation still; the rule is not kept, and the person
                // is told.
                Err(e) => ctx.emit(Event::Error(e)),
            }
            if allowed {
                Answer::Allowed
            } else {
                Answer::Refused(None)
            }
        }
        ApprovalDecision::No { reason } => Answer::Refused(reason),
    }
}

/// After a sandboxed command failed with a refusal in its output, in `ask` mode: says what the
/// output mentions (never that the sandbox did it, which kelp cannot know), and offers to run it
/// once more without the sandbox. Returns the output of that second run, if a person allowed it.
pub(super) async fn offer_unsandboxed(
    conversation: &Conversation,
    ctx: &TurnContext,
    call_id: &str,
    tool: &ToolCall,
    output: &tools::ToolOutput,
    sink: &OutputSink,
    allowed_outside: &[PathBuf],
) -> Option<tools::ToolOutput> {
    let (ToolCall::Shell(args), ToolDetail::Shell(outcome)) = (tool, &output.detail) else {
        return None;
    };
    let blocked = outcome.sandbox_block.clone()?;
    ctx.emit(Event::Notice(blocked.clone()));
    // Asked once when it ran outside already; never when nobody may be asked, nor in plan
    // mode, which keeps commands in the read-only sandbox; nor when the person refused it a
    // host just now (outside the sandbox it would reach it).
    if tool.asks_to_leave_the_sandbox()
        || outcome.network_refused_by_person
        || conversation.is_planning()
        || !someone_answers(ctx)
    {
        return None;
    }
    let context = conversation.tool_context();
    // A prefix the person kept for running outside lets it run again unasked.
    let mut policy = SandboxPolicy::off();
    let mut who = "the user let it run again without the sandbox";
    if !ctx.approvals.allows_outside(tool) {
        let subject = ApprovalSubject::Unsandboxed {
            command: args.command.display(),
            workdir: context.resolve(args.workdir.as_deref().unwrap_or(".")),
            blocked,
            requested: false,
            always_prefix: crate::agent::command_rules::prefix_of(&args.command),
        };
        let review = || auto_review::Context::of(conversation, ctx);
        let asked = (call_id, Some(tool));
        match decide(ctx, review, asked, subject, (context, &ctx.cancel)).await? {
            Answered::Person(ApprovalDecision::Yes | ApprovalDecision::Always) => {}
            Answered::Person(ApprovalDecision::AlwaysPrefix) => {
                match ctx.approvals.remember_prefix(tool, true) {
                    Ok(()) => ctx.emit(Event::Reply(Reply::CommandRules(ctx.approvals.rules()))),
                    Err(e) => ctx.emit(Event::Error(e)),
                }
            }
            // What the reviewer lets out runs in the sandbox still, with the network on.
            Answered::Reviewer => {
                policy = auto_review::widened(&context.sandbox);
                who = "auto-review let it run again in the sandbox with the network on";
            }
            Answered::ReviewerDenied(why) | Answered::Nobody(why) => {
                let mut kept = output.clone();
                kept.text = format!("{}\n\n{why}", kept.text.trim_end());
                return Some(kept);
            }
            Answered::Person(ApprovalDecision::No { .. } | ApprovalDecision::NeverHere) => {
                return None;
            }
        }
    }
    let unsandboxed = context.clone().with_sandbox(policy);
    let mut rerun = tools::execute(
        tool,
        &unsandboxed,
        sink,
        ctx.cancel.child_token(),
        allowed_outside,
    )
    .await;
    rerun.text = format!(
        "The first run failed with a refusal the sandbox may have caused; {who}.\n{}",
        rerun.text
    );
    Some(rerun)
}
