//! The core's work on the conversation's history between turns: going back to before a turn
//! and undoing its file changes, forking, naming.

use super::Core;
use crate::agent::conversation::Conversation;
use crate::protocol::{Event, Reply};
use crate::session;

impl Core {
    /// Goes back to before a turn, between turns only.
    pub(super) fn rewind(&mut self, to: &crate::protocol::RewindTo) {
        let done = match &mut self.conversation {
            None => Err("a turn is running: interrupt it or wait for it first".to_string()),
            Some(conversation) => conversation.rewind(to).map(|rewind| {
                let project_dir = conversation.project_dir();
                let mut files: Vec<String> = Vec::new();
                for change in &rewind.changes {
                    let path = change.move_to.as_ref().unwrap_or(&change.path);
                    let shown = path.strip_prefix(project_dir).unwrap_or(path);
                    let shown = shown.display().to_string();
                    if !files.contains(&shown) {
                        files.push(shown);
                    }
                }
                self.rewound_changes = rewind.changes;
                crate::protocol::Rewound {
                    replay: Box::new(crate::agent::replay::replay_from(
                        conversation.history(),
                        conversation.items_base(),
                        conversation.turns_at_base(),
                        conversation.notes(),
                        project_dir,
                    )),
                    prompt: rewind.prompt,
                    files,
                }
            }),
        };
        self.emit(Event::Reply(Reply::Rewound(done)));
        // The goal stays as it is: noted again if the turns gone back from held its notes.
        if let Some(conversation) = &mut self.conversation {
            crate::agent::goal_notes::note_goal(conversation, &self.events);
        }
    }

    /// Continues in a copy of the conversation: the original's file stays as it was.
    pub(super) fn fork(&mut self) {
        let Some(conversation) = &self.conversation else {
            return self.emit(Event::Error(
                "a turn is running: fork when it is done".to_string(),
            ));
        };
        let Some(path) = conversation.session_path() else {
            return self.emit(Event::Error(
                "nothing to fork yet: send a prompt first".to_string(),
            ));
        };
        let original = conversation.id();
        let copied = crate::protocol::SessionSummary::read(&path)
            .and_then(|summary| session::shelf::fork(&self.config.state_dir, &summary, None));
        match copied {
            Ok(copy) => match self.resumed(&copy) {
                Ok(forked) => {
                    self.approvals.forget_session();
                    self.conversation = Some(forked);
                    self.restore_reviews();
                    self.emit(Event::Notice(format!(
                        "This is a fork: it goes on separately, and the original stays as it was \
                         (kelp --resume {original})."
                    )));
                }
                Err(e) => self.emit(Event::Error(format!("could not open the fork: {e}"))),
            },
            Err(e) => self.emit(Event::Error(format!("could not fork: {e}"))),
        }
    }

    /// Names the conversation in the lists.
    pub(super) fn rename(&mut self, name: &str) {
        let Some(id) = self.conversation.as_ref().map(Conversation::id) else {
            return self.emit(Event::Error(
                "a turn is running: rename when it is done".to_string(),
            ));
        };
        let name = name.trim();
        let event = match session::shelf::set_name(&self.config.state_dir, id, name) {
            Ok(()) => {
                let named = (!name.is_empty()).then(|| name.to_string());
                self.emit(Event::Reply(Reply::Named(named)));
                match name.is_empty() {
                    true => Event::Notice(
                        "This conversation has no name now: the lists show its first prompt."
                            .to_string(),
                    ),
                    false => Event::Notice(format!("Named this conversation \"{name}\".")),
                }
            }
            Err(e) => Event::Error(format!("could not name the conversation: {e}")),
        };
        self.emit(event);
    }

    /// Puts back the files the turns the last rewind dropped changed, off the async threads.
    pub(super) fn undo_rewound(&mut self) {
        let changes = std::mem::take(&mut self.rewound_changes);
        let project_dir = match &self.conversation {
            Some(conversation) => conversation.project_dir().to_path_buf(),
            None => self.options.project_dir.clone(),
        };
        let events = self.events.clone();
        crate::task::spawn_blocking(move || {
            let done = crate::tools::apply_patch::undo::undo(&changes, &project_dir);
            let _ = events.send(Event::Reply(Reply::FilesUndone {
                restored: done.restored,
                refused: done.refused,
            }));
        });
    }
}
