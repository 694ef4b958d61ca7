//! One thread's core events on their way to its clients: the [`Translator`]'s notifications,
//! and what the thread keeps of a running turn beside them (a turn the core began itself, taken
//! up as one the host started; a review, whose answer is its `exitedReviewMode` item; the goal;
//! a revert or a host's MCP call waiting for the core). Pure: an event in, the [`Step`]s out,
//! no I/O, so it is tested event by event; the pump only carries the steps out.

use std::collections::HashMap;
use std::path::PathBuf;

use tokio::sync::oneshot;

use super::items::Translator;
use super::shapes::{Outgoing, item_notes, turn_began};
use crate::protocol::{
    ApprovalSubject, CollaborationMode, Event, Goal, GoalStatus, OfAgent, Question,
    ReasoningEffort, Reply, ServerStatus, TurnOutcome,
};
use crate::wire::{RateLimitSnapshot, ThreadItem};

/// What a thread's request handlers share with its [`TurnPath`]: the turn running, and what
/// waits on the core. The handlers write what they asked for; the path writes what the core
/// did.
#[derive(Debug, Default)]
pub(super) struct Running {
    pub(super) turn_id: Option<String>,
    /// A `thread/revert` waiting for the core: how many turns are left, or why it could not.
    pub(super) reverting: Option<oneshot::Sender<Result<usize, String>>>,
    /// The host's MCP tool calls waiting for the core, by the id they were sent with.
    pub(super) mcp_calls: HashMap<u64, McpCallWaiter>,
    /// The id of the next one.
    pub(super) next_mcp_call: u64,
    /// The running turn is a review (`review/start`): it ends with an `exitedReviewMode` item.
    pub(super) reviewing: bool,
    /// The thread's goal as the core last reported it.
    pub(super) goal: Option<Goal>,
    /// The collaboration mode and effort a host last chose (`thread/settings/update`).
    pub(super) mode: CollaborationMode,
    pub(super) effort: Option<ReasoningEffort>,
    /// The messages waiting for the turn to end (`thread/queue/*`).
    pub(super) queue: super::queued::Queue,
    /// The other agents of the thread's team, by their threads' ids: their threads come
    /// through this one's core.
    pub(super) agents: HashMap<String, LiveAgent>,
    /// The approval requests out with the thread's clients (its agents' too): a thread with
    /// one waits on the person.
    pub(super) asking: super::asks::Asking,
}

/// An agent of a thread's team, as its own thread: the turn it runs.
#[derive(Debug, Clone, Default)]
pub(super) struct LiveAgent {
    /// Its turn running, set by its `TurnStarted` (or, for one a host started on the agent's
    /// thread, by the handler before, which announced it).
    pub(super) turn_id: Option<String>,
}

impl Running {
    /// Whether an approval asked on the thread `id` (this one's or an agent's) waits.
    pub(super) fn waits_on(&self, id: &str) -> bool {
        self.asking
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .any(|(_, asked_on)| asked_on == id)
    }

    /// Whether the core starts the thread's next turn itself (its goal is being worked on, out
    /// of plan mode): the queue's messages wait for the goal's turns.
    pub(super) fn goal_goes_on(&self) -> bool {
        self.mode != CollaborationMode::Plan
            && self
                .goal
                .as_ref()
                .is_some_and(|goal| goal.status == GoalStatus::Active)
    }
}

/// Where the answer of a host's MCP tool call goes: the tool's text and success, or why not.
pub(super) type McpCallWaiter = oneshot::Sender<Result<(String, bool), String>>;

/// What the pump does for one event, in order.
#[derive(Debug)]
pub(super) enum Step {
    /// A notification for the thread's clients (or every client, for a method Codex sends to
    /// all).
    Send(Outgoing),
    /// Ask the host about approval `id` of turn `turn` of thread `thread` (this one's, or
    /// an agent's of its team).
    Ask {
        thread: String,
        turn: String,
        id: u64,
        call_id: String,
        subject: ApprovalSubject,
        /// The agent of the team that asks, when not the thread's own.
        agent: Option<String>,
    },
    /// Ask the host the model's questions `id` of turn `turn` of thread `thread`.
    Questions {
        thread: String,
        turn: String,
        id: u64,
        call_id: String,
        questions: Vec<Question>,
    },
    /// The host's request about approval `id` needs no answer any more.
    Resolved(u64),
    /// The rate limits the server last reported, for `account/rateLimits/read`.
    Limits(RateLimitSnapshot),
    /// The MCP servers as the thread's core last found them.
    Servers(Vec<ServerStatus>),
    /// A waiting message's prompt for the core: its turn was announced in the steps before.
    Submit(crate::protocol::Submission),
}

/// What `event` asks of the host on thread `thread`'s turn `turn` (`agent`: the team's agent
/// whose thread it is, else the one the event names): the model's questions and a withdrawn
/// approval's end go into `steps` now; an approval is returned, to be asked once the
/// translation is out (a patch's item, with its changes, comes first).
fn asks_of(
    event: &Event,
    (thread, turn): (&str, &str),
    agent: Option<String>,
    steps: &mut Vec<Step>,
) -> Option<Step> {
    match event {
        Event::ApprovalRequested {
            id,
            call_id,
            subject,
            agent: named,
        } => {
            return Some(Step::Ask {
                thread: thread.to_string(),
                turn: turn.to_string(),
                id: *id,
                call_id: call_id.clone(),
                subject: subject.clone(),
                agent: agent.or_else(|| named.clone()),
            });
        }
        Event::QuestionsAsked {
            id,
            call_id,
            questions,
        } => steps.push(Step::Questions {
            thread: thread.to_string(),
            turn: turn.to_string(),
            id: *id,
            call_id: call_id.clone(),
            questions: questions.clone(),
        }),
        // Dropped (the turn was interrupted first): the host's request is moot.
        Event::ApprovalAnswered {
            id, decision: None, ..
        } => steps.push(Step::Resolved(*id)),
        _ => {}
    }
    None
}

/// The state of one thread's running turn, between the core and the thread's clients.
#[derive(Debug)]
pub(super) struct TurnPath {
    thread_id: String,
    cwd: PathBuf,
    translator: Translator,
    /// The translation of each other agent of the team, by its thread's id.
    agents: HashMap<String, Translator>,
    /// Whether the turn running is a review, read once as it starts (`review/start` marks it
    /// before the core begins the turn), not on the deltas' path.
    reviewing: bool,
    /// The turn's last answer: what a review found.
    last_answer: String,
}

impl TurnPath {
    pub(super) fn new(thread_id: String, cwd: PathBuf) -> Self {
        Self {
            translator: Translator::new(thread_id.clone(), cwd.clone()),
            cwd,
            agents: HashMap::new(),
            thread_id,
            reviewing: false,
            last_answer: String::new(),
        }
    }

    /// The hot path: the line for the next piece of the message streaming now, if `event` is
    /// one and goes out (a review's answer does not).
    pub(super) fn delta_line(&self, event: &Event, now_ms: i64) -> Option<String> {
        (!self.reviewing)
            .then(|| self.translator.delta_line(event, now_ms))
            .flatten()
    }

    /// What `event` does, at `now_ms`, with what the handlers share in `running`.
    pub(super) fn on_event(
        &mut self,
        event: Event,
        running: &mut Running,
        now_ms: i64,
    ) -> Vec<Step> {
        let event = match event {
            Event::OfAgent(of) => return self.on_agent_event(*of, running, now_ms),
            event => event,
        };
        let mut steps = Vec::new();
        if let Event::TurnStarted { id } = &event {
            self.turn_started(id, running, &mut steps);
        }
        // What may let the queue's next message go once the translation is out: a turn's end
        // (an interrupt pauses the queue), or a goal no longer worked on between turns.
        let queue_moves = match &event {
            Event::TurnFinished(outcome) => Some(matches!(outcome, TurnOutcome::Interrupted)),
            Event::GoalUpdated(goal) if goal.status != GoalStatus::Active => Some(false),
            Event::GoalCleared => Some(false),
            _ => None,
        };
        let turn = running.turn_id.clone().unwrap_or_default();
        let ask = asks_of(&event, (&self.thread_id, &turn), None, &mut steps);
        match &event {
            Event::RateLimits(limits) => steps.push(Step::Limits(limits.into())),
            Event::Reply(Reply::McpServers(servers)) => steps.push(Step::Servers(servers.clone())),
            Event::GoalUpdated(goal) => running.goal = Some(goal.clone()),
            Event::GoalCleared => running.goal = None,
            Event::MessageDone { text, .. } => self.last_answer.clone_from(text),
            Event::TurnFinished(_) => self.turn_finished(&turn, running, now_ms, &mut steps),
            Event::Reply(Reply::Rewound(done)) => {
                if let Some(waiting) = running.reverting.take() {
                    let left = done.as_ref().map(|rewound| rewound.replay.turns.len());
                    let _ = waiting.send(left.map_err(Clone::clone));
                }
            }
            Event::McpToolCalled { id, outcome } => {
                if let Some(waiting) = running.mcp_calls.remove(id) {
                    let _ = waiting.send(outcome.clone());
                }
            }
            Event::Notice(text) => tracing::info!(thread = %self.thread_id, "{text}"),
            Event::Error(text) => tracing::warn!(thread = %self.thread_id, "{text}"),
            // The rest is the translator's alone.
            _ => {}
        }
        // A review's answer is its `exitedReviewMode` item, as in Codex: no `agentMessage` of
        // it goes out, or a host would show the findings twice.
        let answer_text = matches!(event, Event::TextDelta { .. } | Event::MessageDone { .. });
        if !(self.reviewing && answer_text) {
            let mut outgoing = Vec::new();
            self.translator
                .on_event(&turn, event, now_ms, &mut outgoing);
            steps.extend(outgoing.into_iter().map(Step::Send));
        }
        steps.extend(ask);
        if let Some(interrupted) = queue_moves {
            self.send_queued(running, interrupted, &mut steps);
        }
        steps
    }

    /// The queue's next message as a turn of its own, once the one before ended (`interrupted`
    /// pauses the queue) or a goal no longer goes on between turns.
    fn send_queued(&self, running: &mut Running, interrupted: bool, steps: &mut Vec<Step>) {
        if running.goal_goes_on() {
            return;
        }
        let Some(next) =
            running
                .queue
                .next_after_turn(&mut running.turn_id, &self.thread_id, interrupted)
        else {
            return;
        };
        steps.extend(
            next.notes
                .into_iter()
                .map(|note| Step::Send(Outgoing::Notify(note))),
        );
        steps.push(Step::Submit(next.submission));
    }

    /// An event of another agent of the team, on that agent's own thread as Codex 0.171 says
    /// it: its turns' bounds, items and usage; what it asks, asked there naming it.
    fn on_agent_event(&mut self, of: OfAgent, running: &mut Running, now_ms: i64) -> Vec<Step> {
        let OfAgent {
            path,
            conversation,
            event,
        } = of;
        let live = running.agents.entry(conversation.clone()).or_default();
        let translator = self
            .agents
            .entry(conversation.clone())
            .or_insert_with(|| Translator::new(conversation.clone(), self.cwd.clone()));
        let mut steps = Vec::new();
        if let Event::TurnStarted { id } = &event
            && live.turn_id.is_none()
        {
            live.turn_id = Some(id.clone());
            let (active, started) = turn_began(&conversation, super::shapes::turn_starting(id));
            steps.extend([
                Step::Send(Outgoing::of(active)),
                Step::Send(Outgoing::of(started)),
            ]);
        }
        let turn = live.turn_id.clone().unwrap_or_default();
        let ask = asks_of(&event, (&conversation, &turn), Some(path), &mut steps);
        if let Event::TurnFinished(_) = &event {
            live.turn_id = None;
        }
        let mut outgoing = Vec::new();
        translator.on_event(&turn, event, now_ms, &mut outgoing);
        steps.extend(outgoing.into_iter().map(Step::Send));
        steps.extend(ask);
        steps
    }

    /// A turn begins: a review or not, and, when the core began it itself (toward the thread's
    /// goal), the host learns of it as of one it started.
    fn turn_started(&mut self, id: &str, running: &mut Running, steps: &mut Vec<Step>) {
        self.reviewing = running.reviewing;
        self.last_answer.clear();
        if running.turn_id.is_some() {
            return;
        }
        running.turn_id = Some(id.to_string());
        let turn = super::shapes::turn_starting(id);
        let (active, started) = turn_began(&self.thread_id, turn);
        steps.extend([
            Step::Send(Outgoing::of(active)),
            Step::Send(Outgoing::of(started)),
        ]);
    }

    /// The turn `turn` ends: a review with what it found, before `turn/completed`.
    fn turn_finished(
        &mut self,
        turn: &str,
        running: &mut Running,
        now_ms: i64,
        steps: &mut Vec<Step>,
    ) {
        self.reviewing = false;
        running.turn_id = None;
        if std::mem::take(&mut running.reviewing) {
            let item = ThreadItem::ExitedReviewMode {
                id: format!("{turn}-reviewed"),
                review: self.last_answer.clone(),
            };
            steps.extend(
                item_notes(&self.thread_id, turn, item, now_ms)
                    .map(|note| Step::Send(Outgoing::Notify(note))),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::Value;

    use super::*;
    use crate::protocol::{ItemKind, TurnOutcome};

    /// Each step as the pump would carry it: a notification's method and params, or what it
    /// asks or records, in words.
    fn said(steps: Vec<Step>) -> Vec<(String, Value)> {
        steps
            .into_iter()
            .map(|step| match step {
                Step::Send(message) => {
                    let (method, params) = match message.into_message() {
                        Ok(message) => message,
                        Err(line) => {
                            let value: Value = serde_json::from_str(&line).unwrap();
                            let method = value["method"].as_str().unwrap().to_string();
                            return (method, value["params"].clone());
                        }
                    };
                    (method.to_string(), params)
                }
                Step::Ask { turn, id, .. } => (format!("ask {id}"), Value::String(turn)),
                Step::Questions { turn, id, .. } => {
                    (format!("questions {id}"), Value::String(turn))
                }
                Step::Resolved(id) => (format!("resolved {id}"), Value::Null),
                Step::Limits(_) => ("limits".into(), Value::Null),
                Step::Servers(servers) => ("servers".into(), servers.len().into()),
                Step::Submit(submission) => ("submit".into(), Value::String(submission.text)),
            })
            .collect()
    }

    fn methods(steps: Vec<Step>) -> Vec<String> {
        said(steps).into_iter().map(|(method, _)| method).collect()
    }

    fn path() -> TurnPath {
        TurnPath::new("th".into(), PathBuf::from("/p"))
    }

    fn message(path: &mut TurnPath, running: &mut Running, text: &str) -> Vec<String> {
        let item: crate::protocol::ItemId = Arc::from("m1");
        let mut out = methods(path.on_event(
            Event::ItemStarted {
                item: item.clone(),
                kind: ItemKind::AgentMessage,
            },
            running,
            1,
        ));
        let delta = Event::TextDelta {
            item: item.clone(),
            delta: text.into(),
        };
        // As the pump: a delta on the hot path, or through the path.
        match path.delta_line(&delta, 2) {
            Some(_) => out.push("delta line".to_string()),
            None => out.extend(methods(path.on_event(delta, running, 2))),
        }
        out.extend(methods(path.on_event(
            Event::MessageDone {
                item,
                text: text.into(),
            },
            running,
            3,
        )));
        out
    }

    #[test]
    fn a_turn_the_core_began_itself_is_announced_as_one_the_host_started() {
        let mut path = path();
        let mut running = Running::default();
        let steps = said(path.on_event(Event::TurnStarted { id: "t1".into() }, &mut running, 0));
        assert_eq!(
            steps.iter().map(|(m, _)| m.as_str()).collect::<Vec<_>>(),
            ["thread/status/changed", "turn/started"]
        );
        assert_eq!(steps[1].1["turn"]["id"], "t1");
        assert_eq!(running.turn_id.as_deref(), Some("t1"));

        // One the host started (its handler set the id) is announced by the handler alone.
        let mut running = Running {
            turn_id: Some("t2".into()),
            ..Running::default()
        };
        assert!(
            methods(path.on_event(Event::TurnStarted { id: "t2".into() }, &mut running, 0))
                .is_empty()
        );
        let finished =
            methods(path.on_event(Event::TurnFinished(TurnOutcome::Completed), &mut running, 5));
        assert_eq!(finished, ["thread/status/changed", "turn/completed"]);
        assert_eq!(running.turn_id, None);
    }

    #[test]
    fn a_reviews_answer_is_its_exited_review_mode_item_and_no_message() {
        let mut path = path();
        let mut running = Running {
            turn_id: Some("r1".into()),
            reviewing: true,
            ..Running::default()
        };
        path.on_event(Event::TurnStarted { id: "r1".into() }, &mut running, 0);
        let streamed = message(&mut path, &mut running, "two findings");
        assert_eq!(
            streamed,
            ["item/started"],
            "only the empty message's start goes out"
        );
        let end = said(path.on_event(Event::TurnFinished(TurnOutcome::Completed), &mut running, 9));
        let sent: Vec<_> = end.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(
            sent,
            [
                "item/started",
                "item/completed",
                "thread/status/changed",
                "turn/completed"
            ]
        );
        assert_eq!(end[1].1["item"]["type"], "exitedReviewMode");
        assert_eq!(end[1].1["item"]["review"], "two findings");
        assert!(!running.reviewing, "the next turn is no review");

        // The next turn's answer goes out as a message again, its deltas on the hot path.
        running.turn_id = Some("t2".into());
        path.on_event(Event::TurnStarted { id: "t2".into() }, &mut running, 10);
        assert_eq!(
            message(&mut path, &mut running, "hi"),
            ["item/started", "delta line", "item/completed"]
        );
    }

    #[test]
    fn approvals_and_questions_are_asked_of_the_host_after_the_item_they_are_about() {
        let mut path = path();
        let mut running = Running {
            turn_id: Some("t1".into()),
            ..Running::default()
        };
        let asked = said(path.on_event(
            Event::ApprovalRequested {
                id: 7,
                call_id: "c1".into(),
                subject: ApprovalSubject::Command {
                    command: "rm -rf build".into(),
                    workdir: PathBuf::from("/p"),
                    always_prefix: None,
                },
                agent: None,
            },
            &mut running,
            1,
        ));
        let sent: Vec<_> = asked.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(sent, ["thread/status/changed", "item/started", "ask 7"]);
        assert_eq!(asked[2].1, "t1");
        let questions = methods(path.on_event(
            Event::QuestionsAsked {
                id: 8,
                call_id: "c2".into(),
                questions: Vec::new(),
            },
            &mut running,
            2,
        ));
        assert_eq!(questions, ["questions 8"]);
        // Withdrawn by an interrupt: the host's request is resolved, the item declined.
        let withdrawn = methods(path.on_event(
            Event::ApprovalAnswered {
                id: 7,
                call_id: "c1".into(),
                decision: None,
            },
            &mut running,
            3,
        ));
        assert_eq!(withdrawn, ["resolved 7", "item/completed"]);
    }

    #[test]
    fn the_goal_and_what_waits_on_the_core_are_kept_for_the_handlers() {
        let mut path = path();
        let mut running = Running::default();
        let goal = Goal {
            objective: "ship it".into(),
            status: crate::protocol::GoalStatus::Active,
            token_budget: None,
            tokens_used: 0,
            time_used_seconds: 0,
            created_at: 0,
            updated_at: 0,
        };
        path.on_event(Event::GoalUpdated(goal.clone()), &mut running, 0);
        assert_eq!(running.goal, Some(goal));
        path.on_event(Event::GoalCleared, &mut running, 0);
        assert_eq!(running.goal, None);

        let (sender, mut answer) = oneshot::channel();
        running.mcp_calls.insert(3, sender);
        path.on_event(
            Event::McpToolCalled {
                id: 3,
                outcome: Ok(("done".into(), true)),
            },
            &mut running,
            0,
        );
        assert_eq!(answer.try_recv().unwrap(), Ok(("done".to_string(), true)));
        assert!(running.mcp_calls.is_empty());

        let servers = path.on_event(Event::Reply(Reply::McpServers(Vec::new())), &mut running, 0);
        assert_eq!(methods(servers), ["servers"]);
    }

    /// A waiting message goes as its own turn once the turn before has ended (after its
    /// `turn/completed`); an interrupted turn holds the rest until the host starts them.
    #[test]
    fn a_waiting_message_goes_when_the_turn_ends_and_an_interrupt_holds_the_rest() {
        use crate::wire::QueuedSubmission;
        use crate::wire::requests::UserInput;
        let mut path = TurnPath::new("t1".into(), "/p".into());
        let mut running = Running {
            turn_id: Some("u1".into()),
            ..Running::default()
        };
        for text in ["first", "second"] {
            running.queue.waiting.push(QueuedSubmission {
                id: text.into(),
                input: UserInput::prompt(text, &[]),
                client_user_message_id: format!("m-{text}"),
                responsesapi_client_metadata: None,
            });
        }
        let steps =
            said(path.on_event(Event::TurnFinished(TurnOutcome::Completed), &mut running, 5));
        let names: Vec<&str> = steps.iter().map(|(name, _)| name.as_str()).collect();
        let completed = names.iter().position(|n| *n == "turn/completed").unwrap();
        let started = names.iter().position(|n| *n == "turn/started").unwrap();
        assert!(completed < started, "{names:?}");
        assert_eq!(
            steps.last().unwrap(),
            &("submit".to_string(), Value::from("first"))
        );
        let new_turn = running.turn_id.clone().unwrap();
        assert_ne!(new_turn, "u1");
        assert_eq!(steps[started].1["turn"]["id"], new_turn.as_str());
        assert_eq!(running.queue.waiting.len(), 1);

        let steps = said(path.on_event(
            Event::TurnFinished(TurnOutcome::Interrupted),
            &mut running,
            9,
        ));
        assert!(steps.iter().all(|(name, _)| name != "submit"), "{steps:?}");
        assert!(running.queue.paused);
        assert_eq!(running.queue.waiting[0].id, "second");
        assert_eq!(running.turn_id, None);
    }
}
