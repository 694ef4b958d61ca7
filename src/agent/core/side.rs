//! Side conversations (`/side`, `/btw`): a question asked beside the conversation, while its
//! turn runs or after, answered by a copy of it made at that moment, which sees everything said
//! so far and adds nothing to it. The copy is a saved conversation of its own (listed,
//! resumable), run by a core of its own in a read-only sandbox that asks nobody; its events
//! reach the face as `Reply::Side`, and follow-up questions go to it until the face closes it.

use tokio::sync::mpsc::UnboundedSender;

use super::Core;
use crate::protocol::{ApprovalMode, Event, Op, Reply, SandboxMode, Submission};

/// What the side conversation's model is told with each question.
const FRAME: &str = "This is a side conversation: the person asks about the work above while it \
goes on elsewhere. Answer the question briefly from what you know and can read; change nothing \
(the sandbox is read-only).\n\nQuestion: ";

impl Core {
    /// Asks `question` beside the conversation: in the side conversation open, or in a new copy
    /// of this one.
    pub(super) fn side(&mut self, question: String) {
        let asked = Op::Submit(Submission::text(format!("{FRAME}{question}")));
        let asked = match self.side.take() {
            Some(side) => match side.send(asked) {
                Ok(()) => {
                    self.side = Some(side);
                    return;
                }
                Err(returned) => returned.0,
            },
            None => asked,
        };
        let path = match (&self.conversation, &self.running) {
            (Some(conversation), _) => conversation.session_path(),
            (None, Some(turn)) => turn.session_path.clone(),
            (None, None) => None,
        };
        let Some(path) = path else {
            return self
                .side_error("nothing to ask beside yet: send a prompt first, or ask it there");
        };
        let copied = crate::protocol::SessionSummary::read(&path).and_then(|summary| {
            crate::session::shelf::fork_beside(&self.config.state_dir, &summary)
        });
        let copy = match copied {
            Ok(copy) => copy,
            Err(e) => return self.side_error(&format!("cannot start a side conversation: {e}")),
        };
        let mut config = self.config.clone();
        config.sandbox = SandboxMode::ReadOnly;
        config.approval = ApprovalMode::Never;
        let mut options = self.options.clone();
        options.resume = Some(copy);
        options.new_if_resume_fails = false;
        options.prompt_history = false;
        options.seat = None;
        options.terminals = None;
        options.hooks = false;
        // The main conversation's MCP servers are not started twice for a question.
        options.mcp_servers = Vec::new();
        let (ops, mut events) = super::start::spawn(config, options);
        let title: String = question.chars().take(60).collect();
        let _ = ops.send(Op::Rename(format!("side: {title}")));
        let _ = ops.send(asked);
        let main = self.events.clone();
        crate::task::spawn(async move {
            while let Some(event) = events.recv().await {
                if main
                    .send(Event::Reply(Reply::Side(Box::new(event))))
                    .is_err()
                {
                    break;
                }
            }
        });
        self.side = Some(ops);
    }

    /// Why the side conversation cannot answer, said where its answer would be.
    fn side_error(&self, why: &str) {
        let error = Event::Error(why.to_string());
        self.emit(Event::Reply(Reply::Side(Box::new(error))));
    }

    /// The face closed the side conversation: its core ends, its conversation stays saved.
    pub(super) fn close_side(&mut self) {
        if let Some(side) = self.side.take() {
            let _ = side.send(Op::Shutdown);
        }
    }
}

/// The side conversation's ops, while one is open.
pub(super) type SideOps = UnboundedSender<Op>;
