//! `/hooks`: the person's hooks in a picker, each with its event, matcher, command, whether it
//! is trusted and on, and how it last ran; Enter trusts one that waits (the first row every
//! one that waits) and turns a trusted one off or on. The same picker opens at the start when
//! hooks wait for trust, as Codex's "Hooks need review"; Esc goes on without trusting them
//! (they do not run).

use super::app::App;
use super::bottom_pane::PickerKind;
use super::bottom_pane::picker::{Picker, PickerItem};
use super::commands::Effect;
use crate::protocol::{HookRow, Op};

/// The most of a hook's event and command a row shows, so its state stays in sight at 80
/// columns (`kelp hooks` shows them whole).
const LABEL_CHARS: usize = 44;

/// `text` cut to `most` characters, the cut marked.
fn cut(text: &str, most: usize) -> String {
    match text.char_indices().nth(most) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

impl App {
    /// The core's list: shown when `/hooks` asked, or when some wait for trust.
    pub(super) fn on_hooks(&mut self, rows: Vec<HookRow>) {
        let asked = std::mem::take(&mut self.session.awaiting_hooks);
        let waiting = rows.iter().filter(|row| waits(row)).count();
        self.session.hooks = rows;
        // A question of the start (the folder's trust, the project's settings) is answered
        // first; the review is asked for again after it.
        let starting = [PickerKind::Trust, PickerKind::ProjectSettings]
            .into_iter()
            .any(|kind| self.pane.picker_mut(kind).is_some());
        if !asked && starting {
            return;
        }
        if !asked && waiting == 0 {
            self.pane.close_picker(PickerKind::Hooks);
            return;
        }
        if self.session.hooks.is_empty() {
            self.notice(
                "No hooks: kelp reads hooks.json and [hooks] in config.toml of its config folder \
                 and of CODEX_HOME."
                    .to_string(),
            );
            return;
        }
        let mut items = Vec::new();
        if waiting > 0 {
            items.push(PickerItem {
                label: format!("Trust all {waiting} waiting"),
                detail: "they run from now on".to_string(),
                current: false,
            });
        }
        items.extend(self.session.hooks.iter().map(|row| {
            let matcher = row
                .matcher
                .as_deref()
                .map(|m| format!(" [{m}]"))
                .unwrap_or_default();
            let label = format!("{}{matcher} {}", row.event, row.command);
            PickerItem {
                label: cut(&crate::terminal_text::printable(&label), LABEL_CHARS),
                detail: match (row.enabled, row.trusted, &row.last) {
                    (false, _, _) => "off: enter turns it on".to_string(),
                    (true, false, _) => "waits: enter trusts it".to_string(),
                    (true, true, None) => "on".to_string(),
                    (true, true, Some(last)) => cut(
                        &crate::terminal_text::printable(&format!("on · {last}")),
                        30,
                    ),
                },
                current: false,
            }
        }));
        let title = match waiting {
            0 => "Hooks",
            _ => "Hooks wait for your trust",
        };
        self.pane
            .open_picker(PickerKind::Hooks, Picker::new(title, items, ""));
    }

    /// What the choice `index` of the hooks' picker does.
    pub(super) fn hooks_picked(&self, index: usize) -> Vec<Effect> {
        let waiting: Vec<String> = self
            .session
            .hooks
            .iter()
            .filter(|row| waits(row))
            .map(|row| row.hash.clone())
            .collect();
        let index = match (waiting.is_empty(), index) {
            (false, 0) => return vec![Effect::Send(Op::TrustHooks(waiting))],
            (false, index) => index - 1,
            (true, index) => index,
        };
        let Some(row) = self.session.hooks.get(index) else {
            return Vec::new();
        };
        let hashes = vec![row.hash.clone()];
        let op = match (row.enabled, row.trusted) {
            (true, false) => Op::TrustHooks(hashes),
            (enabled, _) => Op::EnableHooks {
                hashes,
                enabled: !enabled,
            },
        };
        vec![Effect::AwaitHooks, Effect::Send(op)]
    }
}

/// A hook that waits for the person's trust before it runs: one turned off waits for nothing.
fn waits(row: &HookRow) -> bool {
    row.enabled && !row.trusted
}
