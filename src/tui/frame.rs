//! The frame scheduler: anything may ask for a frame, requests are coalesced, and frames are
//! drawn at most 60 times a second. With no request pending, nothing wakes.

use std::time::{Duration, Instant};

/// Frames are at least this far apart (60 fps).
pub const MIN_FRAME_INTERVAL: Duration = Duration::from_nanos(16_666_667);

/// Coalesces frame requests and caps their rate.
#[derive(Debug, Default)]
pub struct FrameScheduler {
    pending: bool,
    last: Option<Instant>,
}

impl FrameScheduler {
    /// A scheduler that has drawn nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks for a frame; many requests before the frame make one frame.
    pub fn request(&mut self) {
        self.pending = true;
    }

    /// When the pending frame may be drawn (`now` if it may be drawn at once), or `None`.
    pub fn deadline(&self, now: Instant) -> Option<Instant> {
        if !self.pending {
            return None;
        }
        Some(match self.last {
            Some(last) => (last + MIN_FRAME_INTERVAL).max(now),
            None => now,
        })
    }

    /// A frame was drawn at `at`.
    pub fn drawn(&mut self, at: Instant) {
        self.pending = false;
        self.last = Some(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_coalesce_and_frames_are_capped() {
        let t0 = Instant::now();
        let mut f = FrameScheduler::new();
        assert_eq!(f.deadline(t0), None, "idle: nothing to wake for");
        f.request();
        f.request();
        assert_eq!(f.deadline(t0), Some(t0));
        f.drawn(t0);
        assert_eq!(f.deadline(t0), None);
        f.request();
        let soon = t0 + Duration::from_millis(5);
        assert_eq!(f.deadline(soon), Some(t0 + MIN_FRAME_INTERVAL));
        let later = t0 + Duration::from_millis(50);
        assert_eq!(f.deadline(later), Some(later));
    }
}
