//! What a face that embeds kelp owes the core when the core asks: each approval and each set
//! of the model's questions is put to the host on a task of its own (the face's pump goes on
//! with the turn's events meanwhile), and whatever comes of it (an answer, a refusal, the host
//! gone, the turn cancelled first) goes back to the core as its `Op`, so nothing is left
//! waiting and nothing is answered twice. The app-server and ACP share it; only the asking
//! differs.

use std::future::Future;

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::protocol::{Answers, ApprovalDecision, Op};

/// The host's answer to an approval, as the core takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The person decided.
    Decided(ApprovalDecision),
    /// No, and the turn stops (Codex's `cancel`, an editor that cancelled the prompt).
    Stop,
}

/// Puts an approval to the host on a task of its own and hands the core what came of it:
/// `asking` is the host's answer, `None` when it failed or never came (a no). An approval
/// whose turn was `cancelled` first is moot: the core dropped it, and nothing goes back.
pub fn approval(
    ops: UnboundedSender<Op>,
    id: u64,
    cancelled: CancellationToken,
    asking: impl Future<Output = Option<Verdict>> + Send + 'static,
) {
    crate::task::spawn(async move {
        let Some(verdict) = unless_cancelled(&cancelled, asking).await else {
            return;
        };
        let no = ApprovalDecision::No { reason: None };
        match verdict.unwrap_or(Verdict::Decided(no.clone())) {
            Verdict::Decided(decision) => {
                let _ = ops.send(Op::Approve { id, decision });
            }
            Verdict::Stop => {
                let _ = ops.send(Op::Approve { id, decision: no });
                let _ = ops.send(Op::Interrupt);
            }
        }
    });
}

/// Puts the model's questions to the host on a task of its own and hands the core the
/// answers (`None`: dismissed, failed or never answered; the model goes on without them).
pub fn questions(
    ops: UnboundedSender<Op>,
    id: u64,
    cancelled: CancellationToken,
    asking: impl Future<Output = Option<Answers>> + Send + 'static,
) {
    crate::task::spawn(async move {
        if let Some(answers) = unless_cancelled(&cancelled, asking).await {
            let _ = ops.send(Op::AnswerQuestions { id, answers });
        }
    });
}

/// What `asking` gives, or `None` once `cancelled` (even if both are ready).
async fn unless_cancelled<T>(
    cancelled: &CancellationToken,
    asking: impl Future<Output = T>,
) -> Option<T> {
    let out = tokio::select! {
        biased;
        () = cancelled.cancelled() => return None,
        out = asking => out,
    };
    (!cancelled.is_cancelled()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc::unbounded_channel;

    async fn next(ops: &mut tokio::sync::mpsc::UnboundedReceiver<Op>) -> Option<Op> {
        tokio::time::timeout(std::time::Duration::from_secs(5), ops.recv())
            .await
            .ok()
            .flatten()
    }

    #[tokio::test]
    async fn each_answer_reaches_the_core_as_its_op_and_a_missing_one_is_a_no() {
        let (tx, mut rx) = unbounded_channel();
        let live = CancellationToken::new();
        approval(tx.clone(), 1, live.clone(), async {
            Some(Verdict::Decided(ApprovalDecision::Always))
        });
        assert!(matches!(
            next(&mut rx).await,
            Some(Op::Approve {
                id: 1,
                decision: ApprovalDecision::Always
            })
        ));
        approval(tx.clone(), 2, live.clone(), async { None });
        assert!(matches!(
            next(&mut rx).await,
            Some(Op::Approve {
                id: 2,
                decision: ApprovalDecision::No { reason: None }
            })
        ));
        approval(tx.clone(), 3, live.clone(), async { Some(Verdict::Stop) });
        assert!(matches!(
            next(&mut rx).await,
            Some(Op::Approve {
                id: 3,
                decision: ApprovalDecision::No { .. }
            })
        ));
        assert!(matches!(next(&mut rx).await, Some(Op::Interrupt)));
        let answers = vec![("color".to_string(), vec!["blue".to_string()])];
        let given = answers.clone();
        questions(tx.clone(), 4, live, async move { Some(given) });
        assert!(matches!(
            next(&mut rx).await,
            Some(Op::AnswerQuestions { id: 4, answers: Some(a) }) if a == answers
        ));
    }

    #[tokio::test]
    async fn a_cancelled_turn_gets_no_answer_even_one_already_given() {
        let (tx, mut rx) = unbounded_channel();
        let cancelled = CancellationToken::new();
        cancelled.cancel();
        approval(tx.clone(), 1, cancelled.clone(), async {
            Some(Verdict::Decided(ApprovalDecision::Yes))
        });
        questions(tx.clone(), 2, cancelled, async { Some(Vec::new()) });
        // A live ask after them: its op is the first (and only) one to arrive.
        approval(tx, 3, CancellationToken::new(), async { None });
        assert!(matches!(
            next(&mut rx).await,
            Some(Op::Approve { id: 3, .. })
        ));
        assert!(rx.try_recv().is_err());
    }
}
