//! A trusted project's settings that wait for the person's allowance, asked about as the
//! client opens: each shown, then allowed (kelp opens again with them in force) or left
//! unused for now.

use super::app::App;
use super::bottom_pane::PickerKind;
use super::bottom_pane::picker::{Picker, PickerItem};
use super::commands::Effect;
use super::history_cell::CellKind;
use super::session_state::Ended;
use crate::config::project::Waiting;

impl App {
    /// Shows what the project's files ask for, and the question.
    pub(super) fn ask_project_settings(&mut self, waiting: Vec<Waiting>) {
        let mut lines = vec![
            "This project's own settings would widen what runs unasked or where secrets go, so \
             they wait for you:"
                .to_string(),
        ];
        for file in &waiting {
            lines.push(crate::humanize::home_path(&file.path));
            lines.extend(file.lines.iter().map(|line| format!("  {line}")));
        }
        // Each line filtered on its own: the file's words reach no terminal raw.
        let shown: Vec<String> = lines
            .iter()
            .map(|line| crate::terminal_text::printable(line).into_owned())
            .collect();
        self.push(CellKind::Notice(shown.join("\n")));
        self.session.project_waiting = waiting.into_iter().map(|file| file.hash).collect();
        let items = vec![
            PickerItem {
                label: "Allow them".into(),
                detail: "kelp opens again with them; a change asks again".into(),
                current: false,
            },
            PickerItem {
                label: "Not now".into(),
                detail: "unused; `kelp project allow` later".into(),
                current: false,
            },
        ];
        self.pane.open_picker(
            PickerKind::ProjectSettings,
            Picker::new("Use the project's settings?", items, ""),
        );
    }

    /// The answer: allowed, the client quits to open again with them.
    pub(super) fn project_settings_picked(&self, allowed: bool) -> Vec<Effect> {
        if allowed {
            let hashes = self.session.project_waiting.clone();
            return vec![Effect::Reopen(Ended::ProjectSettingsAllowed(hashes))];
        }
        vec![
            Effect::Notice("Unused for now: `kelp project allow` allows them later.".to_string()),
            // The hooks' review waited for this answer.
            Effect::Send(crate::protocol::Op::ListHooks),
        ]
    }
}
