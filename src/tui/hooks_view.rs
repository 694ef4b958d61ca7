//! `/hooks`: the person's hooks in a picker, each with its event, matcher, command and whether
//! it is trusted; Enter trusts one that waits, the first row every one that waits. The same
//! picker opens at the start when hooks wait for trust, as Codex's "Hooks need review"; Esc
//! goes on without trusting them (they do not run).

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
        let waiting = rows.iter().filter(|row| !row.trusted).count();
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
                detail: match row.trusted {
                    true => "trusted".to_string(),
                    false => "waits: enter trusts it".to_string(),
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
            .filter(|row| !row.trusted)
            .map(|row| row.hash.clone())
            .collect();
        let index = match (waiting.is_empty(), index) {
            (false, 0) => return vec![Effect::Send(Op::TrustHooks(waiting))],
            (false, index) => index - 1,
            (true, index) => index,
        };
        match self.session.hooks.get(index) {
            Some(row) if !row.trusted => vec![Effect::Send(Op::TrustHooks(vec![row.hash.clone()]))],
            Some(row) => vec![Effect::Notice(format!(
                "Already trusted: {} from {}",
                row.command,
                row.source.display()
            ))],
            None => Vec::new(),
        }
    }
}
