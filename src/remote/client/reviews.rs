//! Auto-review on a server: its notifications as the core's review events, `/approvals` from
//! the reviews seen, and `/approve` through `thread/approveGuardianDeniedAction`.

use serde_json::json;

use super::{Asked, Remote};
use crate::protocol::{AutoReview, Event, Reply};
use crate::wire::{self, TurnNote};

impl Remote {
    /// `item/autoApprovalReview/started` or `…/completed`.
    pub(super) fn on_review_note(&mut self, note: TurnNote) {
        let review = match note {
            TurnNote::AutoApprovalReviewStarted(note) => wire::review_of(
                (note.review_id, note.target_item_id, &note.action),
                &note.review,
                (note.started_at_ms, None),
            ),
            TurnNote::AutoApprovalReviewCompleted(note) => wire::review_of(
                (note.review_id, note.target_item_id, &note.action),
                &note.review,
                (note.started_at_ms, Some(note.completed_at_ms)),
            ),
            _ => return,
        };
        if review.status != crate::protocol::ReviewStatus::InProgress {
            self.reviews.push(review.clone());
        }
        self.emit(Event::AutoReview {
            review,
            subject: None,
        });
    }

    /// `/diagnostics`: a server's language servers are its own.
    pub(super) fn no_diagnostics(&mut self) {
        let report = crate::protocol::DiagnosticsReport {
            off: Some("the server's language servers are its own: ask it there".to_string()),
            ..Default::default()
        };
        self.emit(Event::Reply(Reply::Diagnostics(report)));
    }

    /// `/approvals`: the reviews seen on this thread.
    pub(super) fn list_reviews(&mut self) {
        self.emit(Event::Reply(Reply::Reviews(self.reviews.clone())));
    }

    /// `/approve`: the denial `id`, or the last one seen, let through once by the server.
    pub(super) fn approve_denied(&mut self, thread: String, id: Option<String>) {
        let denied = |review: &&mut AutoReview| !review.approved() && !review.overridden;
        let found = match &id {
            Some(id) => self.reviews.iter_mut().rev().find(|r| r.id == *id),
            None => self.reviews.iter_mut().rev().find(denied),
        };
        let Some(review) = found else {
            self.emit(Event::Error(
                "auto-review has denied nothing on this thread since (/approvals lists its decisions)"
                    .to_string(),
            ));
            return;
        };
        review.overridden = true;
        let params = wire::ApproveDeniedParams {
            thread_id: thread,
            event: json!({"id": review.id, "status": "denied"}),
        };
        self.request(&params, Asked::Quiet("letting the denied action through"));
    }
}
