//! Ctrl+C while a turn runs: what happens to it, as Codex asks. Cancel it and stay; run it in
//! the background, which on a server (`--remote`, the per-user server) means leaving kelp while
//! the turn goes on there to its end (`kelp resume` comes back to it); or stop it and leave.
//! With the agent inside this kelp a turn cannot outlive it, and the choice says so and how
//! to have it otherwise. Ctrl+C again, with the choice open, cancels the turn.

use super::app::App;
use super::bottom_pane::PickerKind;
use super::bottom_pane::picker::{Picker, PickerItem};
use super::commands::Effect;

/// The choices, in `still_running_picked`'s order.
const CANCEL: (&str, &str) = ("Cancel the turn", "stop it and stay in kelp");
const BACKGROUND: &str = "Run in background";
const ON_A_SERVER: &str = "leave kelp; the turn goes on at the server";
const IN_THIS_KELP: &str = "ends with kelp here; needs server = \"per-user\"";
const EXIT: (&str, &str) = ("Exit kelp", "stop the turn and leave");

impl App {
    /// Ctrl+C while a turn runs: asks what happens to it; asked already, cancels it.
    pub(super) fn ctrl_c_while_running(&mut self) {
        if self.pane.close_picker(PickerKind::StillRunning) {
            self.apply(Effect::Interrupt);
            return;
        }
        let background = match self.status.server {
            Some(_) => ON_A_SERVER,
            None => IN_THIS_KELP,
        };
        let items = PickerItem::choices(&[CANCEL, (BACKGROUND, background), EXIT]);
        self.pane.open_picker(
            PickerKind::StillRunning,
            Picker::new("The turn is still running", items, ""),
        );
    }

    /// What the choice `index` does.
    pub(super) fn still_running_picked(&self, index: usize) -> Vec<Effect> {
        match index {
            0 => vec![Effect::Interrupt],
            1 if self.status.server.is_some() => vec![Effect::LeaveRunning, Effect::Quit],
            1 => vec![Effect::Notice(
                "The agent runs inside this kelp, so its turn ends when kelp does; the turn goes \
                 on here. With server = \"per-user\" in the config, turns run on a server of \
                 yours and go on when kelp closes (kelp resume comes back to them)."
                    .to_string(),
            )],
            2 => vec![Effect::Interrupt, Effect::Quit],
            _ => Vec::new(),
        }
    }
}
