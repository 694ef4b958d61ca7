//! `/account`: the logins kept, the one in use marked. Enter on another puts it in use (the
//! next request carries its token and account; nothing is revoked), the last row adds one
//! (`/connect`, which asks what to keep it as). `/account NAME` switches at once.

use std::time::{Duration, SystemTime};

use super::app::App;
use super::bottom_pane::PickerKind;
use super::bottom_pane::picker::{Picker, PickerItem};
use super::commands::Effect;
use crate::protocol::{LoginRow, Op};
use crate::terminal_text::printable;

impl App {
    /// `/account [NAME]`.
    pub(super) fn account_command(&self, argument: &str) -> Vec<Effect> {
        let name = argument.trim();
        if !name.is_empty() {
            return vec![Effect::SwitchLogin(name.to_string())];
        }
        let picker = Picker::new("Accounts", Vec::new(), "asking for the logins kept…");
        vec![
            Effect::Send(Op::ListLogins),
            Effect::OpenPicker(PickerKind::Accounts, picker),
        ]
    }

    /// The core's list of logins: shown in `/account`'s picker when it is open.
    pub(super) fn on_logins(&mut self, rows: Vec<LoginRow>) {
        let now = self.now();
        let mut items: Vec<PickerItem> = rows.iter().map(|row| item(row, now)).collect();
        items.push(PickerItem {
            label: "Add a login…".to_string(),
            detail: "kept beside these (/connect)".to_string(),
            current: false,
        });
        self.session.logins = rows;
        if let Some(picker) = self.pane.picker_mut(PickerKind::Accounts) {
            picker.set_items(items);
        }
    }

    /// What the choice `index` of `/account`'s picker does.
    pub(super) fn account_picked(&self, index: usize) -> Vec<Effect> {
        match self.session.logins.get(index) {
            Some(row) if row.active => vec![Effect::Notice(format!(
                "{} is the login in use.",
                printable(&row.name)
            ))],
            Some(row) => vec![Effect::SwitchLogin(row.name.clone())],
            None => vec![Effect::OpenConnect],
        }
    }
}

/// A login as a row: its name, then who it is and when it was last in use.
fn item(row: &LoginRow, now: SystemTime) -> PickerItem {
    let when = if row.active {
        "in use".to_string()
    } else {
        let secs = u64::try_from(row.last_used_secs).unwrap_or(0);
        let then = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        format!("used {}", super::resume::age(then, now))
    };
    PickerItem {
        label: printable(&row.name).into_owned(),
        detail: format!("{} · {when}", printable(&row.who.describe())),
        // The one in use is said in its detail and listed first, where the cursor starts.
        current: false,
    }
}
