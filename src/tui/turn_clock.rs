//! How long a turn has worked: the time it waits on the person (an approval) is not its own.

use std::time::{Duration, Instant};

/// The clock of the running turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnClock {
    started: Instant,
    /// Since when it waits on the person, while it does.
    paused_at: Option<Instant>,
    /// The waits that are over.
    paused: Duration,
}

impl TurnClock {
    /// A clock started at `now`.
    pub fn start(now: Instant) -> Self {
        Self {
            started: now,
            paused_at: None,
            paused: Duration::ZERO,
        }
    }

    /// The turn waits on the person from `now` (a second call changes nothing).
    pub fn pause(&mut self, now: Instant) {
        self.paused_at.get_or_insert(now);
    }

    /// The turn works again from `now`.
    pub fn resume(&mut self, now: Instant) {
        if let Some(at) = self.paused_at.take() {
            self.paused += now.saturating_duration_since(at);
        }
    }

    /// Whether the turn waits on the person.
    pub fn is_paused(&self) -> bool {
        self.paused_at.is_some()
    }

    /// How long the turn has waited on the person until `now`, in the wait under way (zero
    /// when it does not wait).
    pub fn waited(&self, now: Instant) -> Duration {
        self.paused_at
            .map_or(Duration::ZERO, |at| now.saturating_duration_since(at))
    }

    /// The time the turn has worked until `now`, waits left out.
    pub fn elapsed(&self, now: Instant) -> Duration {
        self.paused_at
            .unwrap_or(now)
            .saturating_duration_since(self.started)
            .saturating_sub(self.paused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_left_out() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut clock = TurnClock::start(t0);
        assert_eq!(clock.elapsed(at(3)), Duration::from_secs(3));
        clock.pause(at(3));
        clock.pause(at(5));
        assert!(clock.is_paused());
        assert_eq!(
            clock.elapsed(at(60)),
            Duration::from_secs(3),
            "stopped while waiting"
        );
        assert_eq!(
            clock.waited(at(60)),
            Duration::from_secs(57),
            "the wait counts up"
        );
        clock.resume(at(60));
        assert_eq!(clock.waited(at(61)), Duration::ZERO);
        assert_eq!(clock.elapsed(at(62)), Duration::from_secs(5));
        clock.resume(at(70));
        assert_eq!(clock.elapsed(at(70)), Duration::from_secs(13));
    }
}
