//! What the person sends beside a prompt's own turn: input that steers the running turn,
//! input that came after its turn ended (kept for the next prompt, never lost), and `/init`.

use super::{Core, Work};
use crate::agent::turn_context::take_steered;
use crate::llm::types::Item;
use crate::protocol::{Event, Submission};

const INIT_PROMPT: &str = "Write an AGENTS.md file at the root of this project, for coding agents \
that will work in it. First look around: the layout (list_dir), the build files, the README, the \
test setup and a few representative source files. Then add AGENTS.md with apply_patch (do not \
overwrite an existing one). Keep it short and specific to this project: what it is; how to build, \
run, test and lint it (the exact commands); the layout and where things live; code style and \
conventions seen in the code; and anything an agent must not do. No generic advice.";

impl Core {
    /// `Op::Steer`: input for the running turn's next request; with none running, it joins
    /// the conversation for the next prompt.
    pub(super) fn handle_steer(&mut self, submission: Submission) {
        if let Some((_, said)) = self.running.as_mut().and_then(|turn| turn.asked.as_mut()) {
            said.push(submission.text.clone());
        }
        self.steered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(submission);
        if self.running.is_none() {
            self.keep_late_steers();
        }
    }

    /// Input that came to steer a turn that had ended: it joins the conversation, so the model
    /// reads it with the next prompt; nothing the person sent is lost.
    pub(super) fn keep_late_steers(&mut self) {
        let late = take_steered(&self.steered);
        let Some(conversation) = &mut self.conversation else {
            return;
        };
        for steer in late {
            if !steer.images.is_empty() {
                self.events
                    .send(Event::Error(format!(
                        "{} image(s) came after the turn ended and were not kept: send them again",
                        steer.images.len()
                    )))
                    .ok();
            }
            if let Err(e) = conversation.record(Item::user_text(steer.text)) {
                self.events.send(Event::Error(e.to_string())).ok();
            }
            self.events
                .send(Event::Notice(
                    "what you added came after the turn ended: the model reads it with your next prompt"
                        .to_string(),
                ))
                .ok();
        }
    }

    /// `/init`: a turn that asks for an `AGENTS.md`, unless the project has one.
    pub(super) fn init(&mut self) {
        let Some(conversation) = &self.conversation else {
            return;
        };
        let path = conversation.project_dir().join("AGENTS.md");
        // symlink_metadata: a dangling link is still a file the patch would overwrite.
        if std::fs::symlink_metadata(&path).is_ok() {
            self.emit(Event::Error(format!(
                "{} already exists: /init does not overwrite it; edit it, or move it away first",
                path.display()
            )));
            return;
        }
        self.emit(Event::Notice(
            "Asking the model to write AGENTS.md; you approve the file before it is written."
                .to_string(),
        ));
        self.submit(Work::Prompt(Submission::text(INIT_PROMPT)));
    }
}
