//! Auto-review between turns: `/approve` (the action the reviewer denied last may run once,
//! and the model is told before its next request), `/approvals` (the conversation's reviews),
//! and the reviews a reopened conversation kept; and `/diagnostics`, the language servers'.

use super::Core;
use crate::protocol::{Event, Reply};
use crate::session::Note;

impl Core {
    /// `Op::ApproveDenied`.
    pub(super) fn approve_denied(&mut self, id: Option<&str>) {
        match self.approvals.desk(|desk| desk.approve_denied(id)) {
            Some(review) => {
                self.emit(Event::Notice(format!(
                    "You let {} through once: the model is told, and it runs without review if \
                     the model asks for it again",
                    review.action.shown()
                )));
                self.emit(Event::AutoReview {
                    review,
                    subject: None,
                });
            }
            None => self.emit(Event::Error(
                "auto-review has denied nothing in this conversation since (/approvals lists its decisions)"
                    .to_string(),
            )),
        }
    }

    /// `Op::ListReviews`.
    pub(super) fn list_reviews(&self) {
        let reviews = self.approvals.desk(|desk| desk.seen());
        self.emit(Event::Reply(Reply::Reviews(reviews)));
    }

    /// `Op::ListDiagnostics`: read on a task of its own (a check under way holds the servers).
    pub(super) fn list_diagnostics(&self) {
        let Some(conversation) = &self.conversation else {
            let report = crate::protocol::DiagnosticsReport {
                off: Some("a turn is running: ask again when it ends".to_string()),
                ..Default::default()
            };
            self.emit(Event::Reply(Reply::Diagnostics(report)));
            return;
        };
        let context = conversation.tool_context();
        let (lsp, dir) = (context.lsp.clone(), context.project_dir.clone());
        let events = self.events.clone();
        crate::task::spawn(async move {
            let report = lsp.report(&dir).await;
            let _ = events.send(Event::Reply(Reply::Diagnostics(report)));
        });
    }

    /// The reviews of the conversation now in hand (reopened, forked), for `/approvals`.
    pub(super) fn restore_reviews(&self) {
        let kept = self.conversation.iter().flat_map(|conversation| {
            conversation
                .notes()
                .iter()
                .filter_map(|(_, note)| match note {
                    Note::Review { review } => Some(review.clone()),
                    _ => None,
                })
        });
        let kept: Vec<_> = kept.collect();
        self.approvals.desk(|desk| desk.restore(kept));
    }
}
