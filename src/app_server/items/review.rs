//! Auto-review as Codex 0.171 reports it: the call's item starts before its review (as it does
//! before a person's approval), `item/autoApprovalReview/started`, then `guardianWarning` with
//! the verdict in words and `item/autoApprovalReview/completed`; a denied call's item ends
//! declined. What the person lets through afterwards (`/approve`) Codex reports nothing of.

use super::Translator;
use crate::app_server::shapes::{At, Outgoing};
use crate::protocol::{ApprovalSubject, AutoReview, ReviewStatus};
use crate::wire;

impl Translator {
    pub(super) fn on_auto_review(
        &mut self,
        at: &At,
        review: AutoReview,
        subject: Option<Box<ApprovalSubject>>,
        out: &mut Vec<Outgoing>,
    ) {
        if review.overridden {
            return;
        }
        let action = wire::action(&review.action);
        let guardian = wire::GuardianReview::of(&review);
        if review.status == ReviewStatus::InProgress {
            if let (Some(call_id), Some(subject)) = (&review.call_id, subject)
                && !self.tools.contains_key(call_id)
            {
                let opened = self.open_asked(at, call_id.clone(), *subject);
                out.push(opened);
            }
            out.push(Outgoing::of(wire::AutoApprovalReviewStarted {
                thread_id: at.thread_id.clone(),
                turn_id: at.turn_id.clone(),
                started_at_ms: review.started_at_ms,
                review_id: review.id,
                target_item_id: review.call_id,
                review: guardian,
                action,
            }));
            return;
        }
        out.push(Outgoing::of(wire::GuardianWarning {
            thread_id: at.thread_id.clone(),
            message: wire::warning_words(&review),
        }));
        let denied = !review.approved();
        let call_id = review.call_id.clone();
        out.push(Outgoing::of(wire::AutoApprovalReviewCompleted {
            thread_id: at.thread_id.clone(),
            turn_id: at.turn_id.clone(),
            started_at_ms: review.started_at_ms,
            completed_at_ms: review.completed_at_ms.unwrap_or(at.now_ms),
            review_id: review.id,
            target_item_id: review.call_id,
            decision_source: "agent".to_string(),
            review: guardian,
            action,
        }));
        if denied && let Some(call_id) = call_id {
            self.close_declined(at, &call_id, out);
        }
    }
}
