//! The turn that runs now, as the app keeps it: its clock (the spinner and elapsed time), the
//! prompts queued behind it (here, and on the server a client runs on), and the person's own
//! `!` commands still running.

use std::time::Instant;

use super::turn_clock::TurnClock;

#[derive(Debug, Default)]
pub(crate) struct TurnState {
    /// Set while a turn runs.
    pub(crate) clock: Option<TurnClock>,
    /// Prompts sent while an answer streamed, oldest first: the next goes when the turn ends.
    pub(crate) queued: Vec<String>,
    /// Messages waiting in the server's queue for this thread (a client on a server): their
    /// ids and words, oldest first; the server sends each as its own turn.
    pub(crate) server_queue: Vec<(String, String)>,
    /// Commands the person runs themselves (`!cmd`) that have not finished: Esc stops them.
    pub(crate) own_commands: usize,
    /// The goal stopped during the turn: said when the turn ends, with what it spent in all.
    pub(crate) goal_stopped: bool,
    /// The turn's last answer, for plan mode's offer when the turn ends.
    pub(crate) last_answer: Option<String>,
    /// The model's questions being answered: their id, the questions, the answers so far.
    pub(crate) asked: Option<(
        u64,
        Vec<crate::protocol::Question>,
        crate::protocol::Answers,
    )>,
}

impl TurnState {
    /// Whether a turn runs now.
    pub(crate) fn running(&self) -> bool {
        self.clock.is_some()
    }

    pub(crate) fn start(&mut self, now: Instant) {
        self.clock = Some(TurnClock::start(now));
    }

    /// An approval waits on the person: their time is not the turn's.
    pub(crate) fn pause(&mut self, now: Instant) {
        if let Some(clock) = &mut self.clock {
            clock.pause(now);
        }
    }

    /// The turn ended: the prompt queued first, if the next turn should go on with it.
    pub(crate) fn finish(&mut self, went_on: bool) -> Option<String> {
        self.clock = None;
        (went_on && !self.queued.is_empty()).then(|| self.queued.remove(0))
    }
}
