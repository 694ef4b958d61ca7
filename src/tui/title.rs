//! The terminal's window title: kelp's own (what it is doing, the project), or the items the
//! person picked with `/title`, as Codex's `[tui] terminal_title` names them, joined by ` | `
//! (a space beside the spinner). `/title` turns items on and off in a picker; the title follows
//! at once and the choice is saved in kelp's config file as Codex keeps it (`[tui]
//! terminal_title`), off the UI task.

use std::time::Instant;

use super::app::App;
use super::attention::Activity;
use super::bottom_pane::picker::{Picker, PickerItem};
use super::bottom_pane::{PickerKind, Surface};
use crate::config::status_line::{StatusItem, TitleItem};

/// Codex's spinner, one frame per [`SPINNER_STEP_MS`].
const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const SPINNER_STEP_MS: u128 = 100;
/// What `activity` says while the turn waits for the person, as Codex says it.
const ACTION_REQUIRED: &str = "[ ! ] Action Required";
/// A part of the title longer than this is cut, so the others stay in sight.
const PART_MAX_CHARS: usize = 48;

/// kelp's own title: what it is doing, its name, the project.
pub fn own_title(project: &str, activity: Activity) -> String {
    let doing = match activity {
        Activity::Idle => "",
        Activity::Working => "working · ",
        Activity::Waiting => "waiting for you · ",
    };
    format!("{doing}kelp · {project}")
}

impl App {
    /// The window title now; `None`: kelp leaves the title alone (no item picked).
    pub fn window_title(&self, now: Instant) -> Option<String> {
        let activity = self.activity();
        let Some(items) = &self.status.chosen.title else {
            let project = super::call_lines::display_path(&self.status.project_dir);
            return Some(own_title(&project, activity));
        };
        if items.is_empty() {
            return None;
        }
        let mut title = String::new();
        let mut previous = None;
        for &item in items {
            let Some(part) = self.title_part(item, activity, now) else {
                continue;
            };
            if let Some(previous) = previous {
                let spinner = [previous, item].contains(&TitleItem::Activity);
                title.push_str(if spinner { " " } else { " | " });
            }
            title.push_str(&cut(&part));
            previous = Some(item);
        }
        Some(title)
    }

    /// What `item` shows now; `None` while it has nothing to show.
    fn title_part(&self, item: TitleItem, activity: Activity, now: Instant) -> Option<String> {
        match item {
            TitleItem::AppName => Some("kelp".into()),
            TitleItem::Activity => match activity {
                Activity::Idle => None,
                Activity::Working => {
                    let open = now.saturating_duration_since(self.status.chosen.opened);
                    let step = open.as_millis() / SPINNER_STEP_MS;
                    Some(SPINNER[(step % SPINNER.len() as u128) as usize].into())
                }
                Activity::Waiting => Some(ACTION_REQUIRED.into()),
            },
            TitleItem::RunState => Some(
                match activity {
                    Activity::Idle => "Ready",
                    Activity::Working => "Working",
                    Activity::Waiting => "Waiting",
                }
                .into(),
            ),
            TitleItem::Version => Some(format!("v{}", env!("CARGO_PKG_VERSION"))),
            TitleItem::FastMode => (self.status.service_tier
                == Some(crate::protocol::ServiceTier::Fast))
            .then(|| "fast".into()),
            TitleItem::TaskProgress => self
                .session
                .plan_progress
                .filter(|(_, all)| *all > 0)
                .map(|(done, all)| format!("Tasks {done}/{all}")),
            // An unnamed conversation is called by its id, as Codex does.
            TitleItem::Shared(StatusItem::ThreadTitle) => self
                .status
                .item_text(StatusItem::ThreadTitle)
                .or_else(|| self.status.item_text(StatusItem::ThreadId)),
            TitleItem::Shared(item) => self.status.item_text(item),
        }
    }

    /// `/title`, after turning the item at `row` on or off when one was chosen; the first
    /// row goes back to kelp's own title.
    pub(super) fn pick_title(&mut self, row: Option<usize>) {
        let mut picked = self.status.chosen.title.clone();
        match row {
            Some(0) => picked = None,
            Some(row) => {
                let Some(&item) = TitleItem::ALL.get(row - 1) else {
                    return;
                };
                toggle(picked.get_or_insert_with(Vec::new), item);
            }
            None => {}
        }
        if row.is_some() {
            let names = picked
                .as_ref()
                .map(|items| items.iter().map(|item| item.name().to_string()).collect());
            if let Some(dir) = self.status.config_file.parent().map(|d| d.to_path_buf()) {
                let setting = crate::config::Setting::TerminalTitle(names);
                self.status.chosen.save(&dir, setting);
            }
            self.status.chosen.title = picked.clone();
            // The branch and the project's name, read again for the items that show them.
            self.status.chosen.read_branch(&self.status.project_dir);
            self.request_redraw();
        }
        let own = ("kelp's own title", "what kelp is doing, and the project");
        let items = on_off_items(own, &TitleItem::ALL, &picked.unwrap_or_default(), |item| {
            (item.name(), item.about())
        });
        let mut picker = Picker::new("Title: enter turns an item on or off", items, "");
        picker.selected = row.unwrap_or(0);
        self.pane
            .open_picker(PickerKind::Surface(Surface::Title), picker);
    }
}

/// The rows of a picker of items each on or off (`/statusline`, `/title`): first kelp's own
/// (`own`: its label and what it shows), then every item of `all`, those in `on` ticked and
/// numbered in their order.
pub fn on_off_items<T: PartialEq>(
    own: (&str, &str),
    all: &[T],
    on: &[T],
    words: impl Fn(&T) -> (&'static str, &'static str),
) -> Vec<PickerItem> {
    let mut items = vec![PickerItem {
        label: own.0.into(),
        detail: own.1.into(),
        current: false,
    }];
    items.extend(all.iter().map(|item| {
        let (name, about) = words(item);
        let at = on.iter().position(|picked| picked == item);
        PickerItem {
            label: format!("[{}] {name}", if at.is_some() { "x" } else { " " }),
            detail: match at {
                Some(at) => format!("{}. {about}", at + 1),
                None => about.to_string(),
            },
            current: false,
        }
    }));
    items
}

/// `item` turned off when it is in `picked`, else on at the end.
pub fn toggle<T: PartialEq>(picked: &mut Vec<T>, item: T) {
    match picked.iter().position(|on| *on == item) {
        Some(at) => {
            picked.remove(at);
        }
        None => picked.push(item),
    }
}

/// `part` cut to [`PART_MAX_CHARS`], ending in `…` when cut, with no control character.
fn cut(part: &str) -> String {
    let clean: String = part.chars().filter(|c| !c.is_control()).collect();
    if clean.chars().count() <= PART_MAX_CHARS {
        return clean;
    }
    let mut cut: String = clean.chars().take(PART_MAX_CHARS - 1).collect();
    cut.push('…');
    cut
}
