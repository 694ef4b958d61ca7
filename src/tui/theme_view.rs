//! `/theme`: the syntax themes in a picker, each row with a sample coloured by it. Moving the
//! cursor shows the transcript's code, and the UI around it, in the theme under it at once; Enter keeps it and saves
//! it in kelp's config file as Codex keeps it (`[tui] theme`), Esc goes back to the one before.
//! The first row leaves the choice to the terminal's background.

use super::app::App;
use super::bottom_pane::picker::{Picker, PickerItem};
use super::bottom_pane::{PickerKind, Surface};
use super::highlight::{self, Background};
use super::syntax_themes::{self, BY_BACKGROUND, THEMES};

impl App {
    /// `/theme`: opens the picker, or keeps the theme at `row` (0: the background's).
    pub(super) fn pick_theme(&mut self, row: Option<usize>) {
        let Some(row) = row else {
            return self.open_theme_picker();
        };
        let name = row
            .checked_sub(1)
            .and_then(|at| THEMES.get(at))
            .map(|t| t.0);
        self.show_theme(name);
        if let Some(dir) = self.status.config_file.parent().map(|d| d.to_path_buf()) {
            let setting = crate::config::Setting::SyntaxTheme(name.map(str::to_string));
            self.status.chosen.save(&dir, setting);
        }
        self.status.chosen.theme_saved = name.map(str::to_string);
        self.notice(match name {
            Some(name) => format!("Syntax theme: {name}."),
            None => "Syntax theme: the one for the terminal's background.".to_string(),
        });
    }

    /// The cursor is on `row` of `/theme` (`None`: it closed without a choice): the code is
    /// shown in that theme (or the saved one again).
    pub(super) fn preview_theme(&mut self, row: Option<usize>) {
        let name = match row {
            Some(row) => row
                .checked_sub(1)
                .and_then(|at| THEMES.get(at))
                .map(|t| t.0),
            None => self.status.chosen.theme_saved.as_deref(),
        };
        self.show_theme(name.map(str::to_string).as_deref());
    }

    /// Colours the transcript's code with the theme called `name` (`None`: the background's).
    fn show_theme(&mut self, name: Option<&str>) {
        match highlight::choose_theme(name) {
            Ok(true) => self.on_background_changed(),
            Ok(false) => {}
            Err(why) => self.notice(why),
        }
    }

    fn open_theme_picker(&mut self) {
        let chosen = highlight::chosen_theme();
        let made_for = |background: Option<Background>| match background {
            Some(Background::Dark) => "for a dark background",
            Some(Background::Light) => "for a light background",
            None => "in the terminal's own colours",
        };
        let mut items = vec![PickerItem {
            label: "auto".into(),
            detail: "as the terminal's background is".into(),
            current: chosen.is_none(),
        }];
        items.extend(THEMES.iter().map(|(name, _, background)| PickerItem {
            label: (*name).into(),
            detail: made_for(*background).to_string(),
            current: chosen == Some(*name),
        }));
        let light = matches!(highlight::background(), Some((Background::Light, _)));
        let auto = BY_BACKGROUND[usize::from(light)];
        let mut previews = vec![highlight::sample(auto)];
        previews.extend((0..THEMES.len()).map(highlight::sample));
        let mut picker = Picker::new("Syntax theme", items, "no theme of that name").searchable();
        picker.set_styled_previews(previews);
        picker.selected = chosen
            .and_then(syntax_themes::theme_index)
            .map_or(0, |at| at + 1);
        self.pane
            .open_picker(PickerKind::Surface(Surface::Theme), picker);
    }
}
