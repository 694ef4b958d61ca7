//! Going back to an earlier prompt (Esc Esc, as in Codex): the picker of the prompts sent,
//! the conversation cut to before the one picked with its words back in the composer, and
//! then the offer to undo what the model changed in the files from there on.

use std::time::{Duration, Instant};

use super::app::App;
use super::bottom_pane::PickerKind;
use super::bottom_pane::picker::{Picker, PickerItem};
use super::wrap::cut;
use crate::protocol::{Op, Replay, Replayed, RewindTo, Rewound};

/// How soon the second Esc must follow the first.
const DOUBLE_ESC: Duration = Duration::from_millis(1000);
/// Columns of a prompt a picker row shows.
const PROMPT_COLUMNS: usize = 64;

impl App {
    /// Esc with nothing to cancel: the first arms, the second opens the earlier prompts.
    pub(super) fn esc_when_idle(&mut self) {
        if self.session.prompts.is_empty() {
            return;
        }
        let now = Instant::now();
        if self.esc_at.take().is_some_and(|at| now - at <= DOUBLE_ESC) {
            self.open_rewind_picker();
        } else {
            self.esc_at = Some(now);
            self.status.hint = Some("esc again: go back to an earlier prompt".into());
        }
    }

    fn open_rewind_picker(&mut self) {
        let items = self
            .session
            .prompts
            .iter()
            .rev()
            .map(|(_, prompt)| PickerItem {
                label: cut(prompt.lines().next().unwrap_or_default(), PROMPT_COLUMNS),
                detail: String::new(),
                current: false,
            })
            .collect();
        let picker = Picker::new("Go back to before a prompt", items, "");
        self.pane.open_picker(PickerKind::Rewind, picker);
    }

    /// A prompt picked (counted from the newest): the conversation goes back to before it.
    pub(super) fn rewind_to(&mut self, newest_first: usize) {
        let Some(at) = self.session.prompts.len().checked_sub(newest_first + 1) else {
            return;
        };
        let id = self.session.prompts[at].0.clone();
        self.send(Op::Rewind(RewindTo::Turn(id)));
    }

    /// The core went back: the transcript as it is now, the prompt in the composer, and the
    /// files to offer to undo.
    pub(super) fn on_rewound(&mut self, done: Result<Rewound, String>) {
        let rewound = match done {
            Ok(rewound) => rewound,
            Err(why) => return self.push_error(format!("could not go back: {why}")),
        };
        // The tokens spent stay spent: the usage shown is kept.
        let usage = self.status.usage;
        // The goal is the conversation's, not a turn's: going back keeps it.
        let goal = self.status.goal.take();
        self.redraw_conversation(*rewound.replay);
        self.status.goal = goal;
        self.status.usage = usage;
        self.session.saved = true;
        if let Some(prompt) = &rewound.prompt {
            self.pane.set_text(prompt);
        }
        self.notice("Went back to before that prompt: edit it and send it again.");
        if rewound.files.is_empty() {
            return;
        }
        let files = rewound.files.join(", ");
        let items = vec![
            PickerItem {
                label: "Undo the file changes".into(),
                detail: cut(&files, PROMPT_COLUMNS),
                current: false,
            },
            PickerItem {
                label: "Keep the files as they are".into(),
                detail: String::new(),
                current: false,
            },
        ];
        let title = match rewound.files.len() {
            1 => "The model changed 1 file after that point".to_string(),
            n => format!("The model changed {n} files after that point"),
        };
        self.pane
            .open_picker(PickerKind::UndoFiles, Picker::new(&title, items, ""));
    }

    /// The answer to the undo offer.
    pub(super) fn undo_picked(&mut self, index: usize) {
        if index == 0 {
            self.send(Op::UndoRewound);
        }
    }

    /// What the undo did.
    pub(super) fn on_files_undone(
        &mut self,
        restored: Vec<String>,
        refused: Vec<(String, String)>,
    ) {
        if !restored.is_empty() {
            self.notice(format!(
                "Undid the changes to {} (the patches only: what commands did stays).",
                restored.join(", ")
            ));
        }
        for (file, why) in refused {
            self.push_error(format!("left {file} as it is: {why}"));
        }
    }

    /// The prompts a replayed conversation began its turns with, for the rewind picker.
    pub(super) fn remember_prompts(&mut self, replay: &Replay) {
        self.session.prompts = replay
            .turns
            .iter()
            .filter_map(|turn| {
                turn.entries.iter().find_map(|entry| match entry {
                    Replayed::Prompt(prompt) if !prompt.steer => {
                        Some((turn.id.clone(), prompt.text.clone()))
                    }
                    _ => None,
                })
            })
            .collect();
    }
}
