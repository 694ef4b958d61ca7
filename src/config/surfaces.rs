//! What the client's own surfaces are set to in a config file: the status line (kelp's
//! `status_line`, Claude Code's `statusLine`), and Codex's `[tui]` table, read the same in
//! kelp's file and in Codex's: `status_line`, `terminal_title` (the window title's items),
//! `theme` (the syntax theme, kebab-case), `vim_mode_default` (the composer opens in Vim's
//! normal mode), `alternate_screen` (`never`: scrollback mode; kelp's own shorthand is
//! `tui = "scrollback"`) and `keymap` (see [`super::keymap`]). Codex's other `[tui]` settings
//! are its own and are left alone.

use toml_edit::Item;

use super::status_line::{self, StatusLine, TitleItem};

/// The surfaces' settings of one file, or of the files laid over each other; `None`: not set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Surfaces {
    pub status_line: Option<StatusLine>,
    /// The window title's items, in order; empty: kelp leaves the title alone.
    pub terminal_title: Option<Vec<TitleItem>>,
    /// The syntax theme's name, as `/theme` lists it.
    pub theme: Option<String>,
    /// Whether the composer starts in Vim's normal mode.
    pub vim_mode_default: Option<bool>,
    /// Whether the client takes the alternate screen (`false`: scrollback mode).
    pub alternate_screen: Option<bool>,
    /// The keys bound to the client's actions (`[tui.keymap]`).
    pub keymap: Option<super::keymap::Keymap>,
}

/// The keys of a config file's top level this module reads.
pub const KEYS: [&str; 3] = ["status_line", "statusLine", "tui"];

/// kelp's shorthand for the screen (`tui = "scrollback"`), and the `[tui] alternate_screen`
/// each stands for.
const SHORTHAND: [(&str, &str); 2] = [("scrollback", "never"), ("fullscreen", "always")];

/// `tui = "scrollback"` as the table it stands for, so a `[tui]` setting can be saved beside
/// it; `None` for anything else.
pub fn shorthand_as_table(key: &str, item: &Item) -> Option<toml_edit::Table> {
    let mode = item.as_str().filter(|_| key == "tui")?.trim();
    let (_, screen) = SHORTHAND.iter().find(|(name, _)| *name == mode)?;
    let mut table = toml_edit::Table::new();
    table.insert("alternate_screen", toml_edit::value(*screen));
    Some(table)
}

impl Surfaces {
    /// These settings over those of a file read below (each set value wins).
    pub fn over(self, lower: Self) -> Self {
        Self {
            status_line: self.status_line.or(lower.status_line),
            terminal_title: self.terminal_title.or(lower.terminal_title),
            theme: self.theme.or(lower.theme),
            vim_mode_default: self.vim_mode_default.or(lower.vim_mode_default),
            alternate_screen: self.alternate_screen.or(lower.alternate_screen),
            keymap: match (self.keymap, lower.keymap) {
                (Some(upper), Some(lower)) => Some(upper.over(lower)),
                (upper, lower) => upper.or(lower),
            },
        }
    }

    /// Reads `key` (one of [`KEYS`]); each value that is not usable is said in `bad`, and
    /// the others are kept.
    pub fn read(&mut self, key: &str, item: &Item, bad: &mut dyn FnMut(&str)) {
        if key != "tui" {
            match status_line::parse(item) {
                Ok(line) => self.status_line = Some(line),
                Err(why) => bad(&why),
            }
            return;
        }
        // kelp's own shorthand: `tui = "scrollback"` or `"fullscreen"`.
        if let Some(mode) = item.as_str() {
            let mode = mode.trim();
            return match SHORTHAND.iter().find(|(name, _)| *name == mode) {
                Some((_, screen)) => self.alternate_screen = Some(*screen != "never"),
                _ => bad("must be \"scrollback\", \"fullscreen\" or Codex's [tui] table"),
            };
        }
        let Some(table) = item.as_table_like() else {
            return bad("must be a table: [tui] status_line = [\"current-dir\"]");
        };
        if let Some(mode) = table.get("alternate_screen") {
            match mode.as_str().map(str::trim) {
                Some("auto" | "always") => self.alternate_screen = Some(true),
                Some("never") => self.alternate_screen = Some(false),
                _ => bad("[tui] alternate_screen must be \"auto\", \"always\" or \"never\""),
            }
        }
        if let Some(list) = table.get("status_line") {
            match list.as_array() {
                Some(list) => match status_line::items(list.iter().map(|v| v.as_str())) {
                    Ok(items) => self.status_line = Some(StatusLine::Items(items)),
                    Err(why) => bad(&format!("[tui] status_line: {why}")),
                },
                None => bad("[tui] status_line must be a list of items"),
            }
        }
        if let Some(list) = table.get("terminal_title") {
            match list.as_array() {
                Some(list) => match status_line::title_items(list.iter().map(|v| v.as_str())) {
                    Ok(items) => self.terminal_title = Some(items),
                    Err(why) => bad(&format!("[tui] terminal_title: {why}")),
                },
                None => bad("[tui] terminal_title must be a list of items"),
            }
        }
        if let Some(theme) = table.get("theme") {
            match theme.as_str().map(str::trim) {
                Some(name) if !name.is_empty() => self.theme = Some(name.to_string()),
                _ => bad("[tui] theme must be a theme's name in quotes (see /theme)"),
            }
        }
        if let Some(keymap) = table.get("keymap") {
            self.keymap = Some(super::keymap::Keymap::read(keymap, bad));
        }
        if let Some(vim) = table.get("vim_mode_default") {
            match vim.as_bool() {
                Some(on) => self.vim_mode_default = Some(on),
                None => bad("[tui] vim_mode_default must be true or false"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::status_line::StatusItem;

    fn read(text: &str) -> (Surfaces, Vec<String>) {
        let doc: toml_edit::DocumentMut = text.parse().unwrap();
        let (mut surfaces, mut said) = (Surfaces::default(), Vec::new());
        for (key, item) in doc.iter() {
            surfaces.read(key, item, &mut |why| said.push(why.to_string()));
        }
        (surfaces, said)
    }

    /// Codex's `[tui]` table is read as Codex writes it; what cannot be used is said and the
    /// rest kept; the upper file wins key by key.
    #[test]
    fn codex_tui_table_is_read_key_by_key() {
        let (surfaces, said) = read(
            "[tui]\nstatus_line = [\"current-dir\"]\nterminal_title = [\"spinner\", \"project\", \
             \"fast-mode\"]\ntheme = \"solarized-light\"\nvim_mode_default = true\n\
             animations = false\n",
        );
        assert!(said.is_empty(), "{said:?}");
        assert_eq!(
            surfaces.status_line,
            Some(StatusLine::Items(vec![StatusItem::CurrentDir]))
        );
        assert_eq!(
            surfaces.terminal_title,
            Some(vec![
                TitleItem::Activity,
                TitleItem::Shared(StatusItem::ProjectName),
                TitleItem::FastMode
            ])
        );
        assert_eq!(surfaces.theme.as_deref(), Some("solarized-light"));
        assert_eq!(surfaces.vim_mode_default, Some(true));

        let (broken, said) =
            read("[tui]\nterminal_title = [\"weather\"]\ntheme = 3\nvim_mode_default = \"yes\"\n");
        assert_eq!(broken, Surfaces::default());
        assert_eq!(said.len(), 3, "{said:?}");
        assert!(said[0].contains("\"weather\" is no item"), "{said:?}");

        let (never, said) = read("[tui]\nalternate_screen = \"never\"\n");
        assert_eq!((never.alternate_screen, said.len()), (Some(false), 0));
        let (shorthand, said) = read("tui = \"scrollback\"\n");
        assert_eq!((shorthand.alternate_screen, said.len()), (Some(false), 0));
        assert_eq!(read("tui = \"sideways\"\n").1.len(), 1);

        let (upper, _) = read("[tui]\ntheme = \"dracula\"\n");
        let joined = upper.over(surfaces);
        assert_eq!(joined.theme.as_deref(), Some("dracula"));
        assert_eq!(joined.vim_mode_default, Some(true));
    }
}
