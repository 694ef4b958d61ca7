//! The core's side of a goal (`session::goal`): setting and clearing it, counting each turn's
//! spending against it, and starting the next turn toward it when one ends.

use std::time::Instant;

use super::{Core, Work};
use crate::protocol::ErrorCategory;
use crate::protocol::TokenUsage;
use crate::protocol::{Event, StopCause, Submission, TurnOutcome};
use crate::protocol::{Goal, GoalChange, GoalStatus};
use crate::session::{goal, goal::GoalCell};

/// Where a turn toward a goal began: the goal (by when it was made), the conversation's usage
/// and the time, so its end counts what it spent.
pub(super) struct GoalTurn {
    created_at: i64,
    usage: TokenUsage,
    started: Instant,
}

impl Core {
    /// The goal's cell: the conversation's, or the running turn's while one holds it.
    fn goal_cell(&self) -> Option<GoalCell> {
        match (&self.conversation, &self.running) {
            (Some(conversation), _) => Some(conversation.goal_cell()),
            (None, Some(turn)) => Some(turn.goal.clone()),
            (None, None) => None,
        }
    }

    /// `Op::SetGoal`: the goal changed as asked, noted and said; an active goal starts
    /// being worked on when no turn runs.
    pub(super) fn set_goal(&mut self, change: GoalChange) {
        let Some(cell) = self.goal_cell() else {
            return;
        };
        let changed = Goal::changed(cell.get().as_ref(), change, goal::now());
        match changed {
            Ok(goal) => {
                cell.put(Some(goal.clone()));
                let waits = goal.status == GoalStatus::Active
                    && self.conversation.as_ref().is_some_and(|c| c.is_planning());
                self.note_goal(Event::GoalUpdated(goal));
                if waits {
                    self.emit(Event::Notice(
                        "The goal waits for plan mode to end: its work starts in the default mode."
                            .to_string(),
                    ));
                }
                self.continue_goal();
            }
            Err(e) => self.emit(Event::Error(e)),
        }
    }

    /// `Op::ClearGoal`.
    pub(super) fn clear_goal(&mut self) {
        if let Some(cell) = self.goal_cell() {
            cell.put(None);
            self.note_goal(Event::GoalCleared);
        }
    }

    /// Tells the faces of a change to the goal, and notes it in the session file when the
    /// conversation is here (a running turn notes it when its calls end, or the core when
    /// the turn hands the conversation back).
    fn note_goal(&mut self, event: Event) {
        match &mut self.conversation {
            Some(conversation) => {
                crate::agent::goal_notes::note_goal(conversation, &self.events);
            }
            None => self.emit(event),
        }
    }

    /// Where a turn toward the active goal begins, for [`Core::account_goal`] to count from.
    pub(super) fn goal_turn_start(&self) -> Option<GoalTurn> {
        // A plan turn is not spent on the goal (as in Codex).
        let conversation = self.conversation.as_ref().filter(|c| !c.is_planning())?;
        let goal = conversation.goal_cell().get()?;
        (goal.status == GoalStatus::Active).then(|| GoalTurn {
            created_at: goal.created_at,
            usage: conversation.usage(),
            started: Instant::now(),
        })
    }

    /// A turn that began toward the goal ended: what it spent is counted, and how it ended
    /// may stop the goal (an interrupt pauses it, a failure blocks it, a usage limit limits
    /// it). Then the goal is noted and said, before the turn's end.
    pub(super) fn account_goal(&mut self, start: Option<GoalTurn>, outcome: &TurnOutcome) {
        // The person stopped a turn that was not the goal's: the goal waits for them too.
        if start.is_none() && *outcome == TurnOutcome::Interrupted {
            return self.pause_goal();
        }
        let (Some(start), Some(conversation)) = (start, &mut self.conversation) else {
            return;
        };
        let cell = conversation.goal_cell();
        {
            let mut held = cell.lock();
            let Some(goal) = held.as_mut().filter(|g| g.created_at == start.created_at) else {
                return;
            };
            let spent = conversation.usage().minus(&start.usage);
            goal.account(&spent, start.started.elapsed().as_secs(), goal::now());
            if goal.status == GoalStatus::Active {
                goal.status = match outcome {
                    // A refusal would be refused again: the person is needed.
                    TurnOutcome::Stopped {
                        cause: StopCause::Refusal,
                        ..
                    } => GoalStatus::Blocked,
                    TurnOutcome::Completed | TurnOutcome::Stopped { .. } => GoalStatus::Active,
                    TurnOutcome::Interrupted => GoalStatus::Paused,
                    TurnOutcome::Failed {
                        category: ErrorCategory::Limit,
                        ..
                    } => GoalStatus::UsageLimited,
                    TurnOutcome::Failed { .. } => GoalStatus::Blocked,
                };
            }
        }
        crate::agent::goal_notes::note_goal(conversation, &self.events);
    }

    /// An interrupt with no goal turn to stop: an active goal is paused, noted and said.
    pub(super) fn pause_goal(&mut self) {
        let Some(cell) = self.goal_cell() else {
            return;
        };
        let paused = {
            let mut held = cell.lock();
            match held.as_mut() {
                Some(goal) if goal.status == GoalStatus::Active => {
                    goal.status = GoalStatus::Paused;
                    goal.updated_at = goal::now();
                    Some(goal.clone())
                }
                _ => None,
            }
        };
        if let Some(goal) = paused {
            self.note_goal(Event::GoalUpdated(goal));
        }
    }

    /// Starts the next turn toward the goal, when it is active and nothing else runs.
    pub(super) fn continue_goal(&mut self) {
        // Plan mode plans and waits for the person: the goal goes on once they implement.
        let planning = self.conversation.as_ref().is_some_and(|c| c.is_planning());
        if self.running.is_some() || planning {
            return;
        }
        let Some(goal) = self.goal_cell().and_then(|cell| cell.get()) else {
            return;
        };
        if goal.status != GoalStatus::Active {
            return;
        }
        self.submit(Work::Prompt(Submission {
            text: goal.continuation(),
            from_kelp: true,
            ..Submission::default()
        }));
    }
}
