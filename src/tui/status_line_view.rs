//! `/statusline`: the items of the status line in a picker, each on or off; Enter turns the
//! one under the cursor on (at the end) or off, the line follows at once and the choice is
//! saved in kelp's config file (`status_line = [...]`), off the UI task. The first row goes
//! back to kelp's own line. With a command of the person's as the status line, it says so.
//! The other surfaces' pickers (`/title`, `/theme`) are reached from here too.

use super::app::App;
use super::bottom_pane::picker::Picker;
use super::bottom_pane::{PickerKind, Surface};
use super::history_cell::CellKind;
use super::status_command::StatusNews;
use crate::config::status_line::{StatusItem, StatusLine};

impl App {
    /// News from the status line's tasks: a redraw when it changed, a save that failed said.
    pub(super) fn on_status_news(&mut self, news: StatusNews) {
        if let StatusNews::Saved(Err(why)) = &news {
            self.push(CellKind::Error(format!("The choice was not saved: {why}")));
        }
        if self.status.chosen.on_news(news) {
            self.request_redraw();
        }
    }

    /// A surface's picker, after acting on the row picked.
    pub(super) fn pick_surface(&mut self, surface: Surface, row: Option<usize>) {
        match surface {
            Surface::StatusLine => self.pick_status_line(row),
            Surface::Title => self.pick_title(row),
            Surface::Theme => self.pick_theme(row),
        }
    }

    /// `/statusline`, after turning the item at `row` on or off when one was chosen.
    fn pick_status_line(&mut self, row: Option<usize>) {
        if let StatusLine::Command(command) = &self.status.chosen.chosen {
            let said = format!(
                "The status line is what your command prints (`{command}`, status_line in \
                 config.toml); remove it there to pick items here."
            );
            self.notice(crate::terminal_text::printable(&said).into_owned());
            return;
        }
        let mut picked = match &self.status.chosen.chosen {
            StatusLine::Items(items) => items.clone(),
            _ => Vec::new(),
        };
        match row {
            Some(0) => picked.clear(),
            Some(row) => {
                let Some(&item) = StatusItem::ALL.get(row - 1) else {
                    return;
                };
                super::title::toggle(&mut picked, item);
            }
            None => {}
        }
        if row.is_some() {
            let config_dir = self
                .status
                .config_file
                .parent()
                .map(std::path::Path::to_path_buf);
            if let Some(dir) = config_dir {
                let names = picked.iter().map(|item| item.name().to_string()).collect();
                self.status
                    .chosen
                    .save(&dir, crate::config::Setting::StatusLine(names));
            }
            self.status.chosen.chosen = StatusLine::Items(picked.clone());
            // The branch and the project's name, read again for the items that show them.
            self.status.chosen.read_branch(&self.status.project_dir);
            self.request_redraw();
        }
        let own = ("kelp's own line", "login, model, folder, tokens, limits");
        let items = super::title::on_off_items(own, &StatusItem::ALL, &picked, |item| {
            (item.name(), item.about())
        });
        let mut picker = Picker::new("Status line: enter turns an item on or off", items, "");
        picker.selected = row.unwrap_or(0);
        self.pane
            .open_picker(PickerKind::Surface(Surface::StatusLine), picker);
    }
}
