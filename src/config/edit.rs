//! Saving what the person chose in `config.toml` without disturbing the rest of it: the
//! document edited in place with `toml_edit` (comments, order and other keys survive), and the
//! file replaced atomically under a lock, as the auth file is.

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;
use toml_edit::{DocumentMut, Item, Value};

use super::file::{FILE_NAME, MAX_CONFIG_BYTES, SyntaxError};
use super::surfaces;
use crate::private_file;
use crate::protocol::ApprovalMode;

/// A choice made in the client that is remembered in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// `/model`.
    Model(String),
    /// The reasoning effort picked with the model.
    ReasoningEffort(String),
    /// `/approval`.
    Approval(ApprovalMode),
    /// The answer to the trust question (or `/permissions`) for a folder: `[projects."PATH"]
    /// trust_level`.
    Trust { root: PathBuf, trusted: bool },
    /// `/statusline`: the items picked, in order (none: kelp's own line).
    StatusLine(Vec<String>),
    /// `/title`: the window title's items, in order (`[tui] terminal_title`, as Codex keeps
    /// it); `None`: kelp's own title (the key removed).
    TerminalTitle(Option<Vec<String>>),
    /// `/theme`: the syntax theme (`[tui] theme`); `None`: by the background (the key removed).
    SyntaxTheme(Option<String>),
    /// `kelp features enable|disable`: a feature flag (`[features] NAME`).
    Feature { name: String, on: bool },
    /// `/keymap`: the keys of an action (`[tui.keymap.CONTEXT] ACTION`, one key as a string,
    /// several as a list, none as `[]`); `None`: its defaults (the key removed).
    KeyBinding {
        context: String,
        action: String,
        keys: Option<Vec<String>>,
    },
}

impl Setting {
    /// The key path the setting is stored under.
    pub fn path(&self) -> Vec<String> {
        match self {
            Self::Model(_) => vec!["model".into()],
            Self::ReasoningEffort(_) => vec!["reasoning_effort".into()],
            Self::Approval(_) => vec!["approval".into()],
            Self::Trust { root, .. } => vec![
                "projects".into(),
                root.to_string_lossy().into_owned(),
                "trust_level".into(),
            ],
            Self::StatusLine(_) => vec!["status_line".into()],
            Self::TerminalTitle(_) => vec!["tui".into(), "terminal_title".into()],
            Self::SyntaxTheme(_) => vec!["tui".into(), "theme".into()],
            Self::Feature { name, .. } => vec!["features".into(), name.clone()],
            Self::KeyBinding {
                context, action, ..
            } => vec![
                "tui".into(),
                "keymap".into(),
                context.clone(),
                action.clone(),
            ],
        }
    }

    /// The value to store; `None`: the key is removed.
    fn value(&self) -> Option<Value> {
        Some(match self {
            Self::TerminalTitle(None)
            | Self::SyntaxTheme(None)
            | Self::KeyBinding { keys: None, .. } => return None,
            Self::KeyBinding {
                keys: Some(keys), ..
            } if keys.len() == 1 => Value::from(keys[0].as_str()),
            Self::KeyBinding {
                keys: Some(keys), ..
            } => Value::Array(keys.iter().map(String::as_str).collect()),
            Self::Model(s) | Self::ReasoningEffort(s) | Self::SyntaxTheme(Some(s)) => {
                Value::from(s.as_str())
            }
            Self::Approval(mode) => Value::from(mode.as_str()),
            Self::Feature { on, .. } => Value::from(*on),
            Self::Trust { trusted: true, .. } => Value::from("trusted"),
            Self::Trust { trusted: false, .. } => Value::from("untrusted"),
            Self::StatusLine(items) | Self::TerminalTitle(Some(items)) => {
                Value::Array(items.iter().map(String::as_str).collect())
            }
        })
    }
}

/// Why a setting could not be saved. One line, naming the file.
#[derive(Debug, Error)]
pub enum SaveError {
    #[error(
        "{} is not valid TOML (line {line}, column {column}: {message}); kelp left it untouched: fix it, then try again", crate::humanize::home_path(.path))]
    Malformed {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{} changed since it was read; read it again, then write", crate::humanize::home_path(.path))]
    Changed { path: PathBuf },
    #[error("cannot set {key}: {why}")]
    Key { key: String, why: &'static str },
    #[error("{} would not load after this change ({why}); nothing was written", crate::humanize::home_path(.path))]
    Unloadable { path: PathBuf, why: String },
    #[error("cannot {action} {}: {source}", crate::humanize::home_path(.path))]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Saves `setting` in `config_dir/config.toml`, keeping every other key, comment and the
/// layout; creates the file if needed. A symlinked file (dotfile managers) is edited where it
/// points. A file that does not parse is left untouched and reported.
pub fn save_setting(config_dir: &Path, setting: &Setting) -> Result<(), SaveError> {
    let edit = Edit {
        path: setting.path(),
        value: setting.value().map(Item::Value),
        merge: false,
    };
    edit_file(config_dir, &[edit], None).map(|_| ())
}

/// One change to the file: the value at a dotted key path (`mcp_servers.docs.command`), or
/// its removal (`None`). `merge`: a table given for a table is laid over the old one, key by
/// key, instead of replacing it.
#[derive(Debug, Clone)]
pub struct Edit {
    pub path: Vec<String>,
    pub value: Option<Item>,
    pub merge: bool,
}

/// What the file's text is now, for a writer that must not overwrite a change it has not seen
/// (the app-server's `expectedVersion`).
pub fn version(text: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    format!("kelp:{:016x}", hasher.finish())
}

/// Applies `edits` to `config_dir/config.toml` in one write, keeping every other key, comment
/// and the layout (as [`save_setting`]). With `expected`, nothing is written unless the file
/// is still at that [`version`]. Returns the file written and its new version.
pub fn edit_file(
    config_dir: &Path,
    edits: &[Edit],
    expected: Option<&str>,
) -> Result<(PathBuf, String), SaveError> {
    edit_document(config_dir, expected, |doc| {
        for edit in edits {
            apply(doc, edit).map_err(|why| SaveError::Key {
                key: edit.path.join("."),
                why,
            })?;
        }
        Ok(())
    })
}

/// [`edit_file`] with the change made by `change` on the parsed document, under the file's
/// lock: for a change that depends on what the file holds (an entry of an array of tables).
pub fn edit_document(
    config_dir: &Path,
    expected: Option<&str>,
    change: impl FnOnce(&mut DocumentMut) -> Result<(), SaveError>,
) -> Result<(PathBuf, String), SaveError> {
    let link = config_dir.join(FILE_NAME);
    let path = std::fs::canonicalize(&link).unwrap_or(link);
    let io_err = |action: &'static str, source: io::Error| SaveError::Io {
        action,
        path: path.clone(),
        source,
    };
    let file_err = |e: private_file::FileError| io_err(e.action, e.source);

    let _lock = private_file::lock_beside(&path).map_err(file_err)?;
    let before = crate::private_file::read_regular(&path, MAX_CONFIG_BYTES).and_then(|bytes| {
        String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    });
    let before = match before {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io_err("read", e)),
    };
    if let Some(expected) = expected
        && expected != version(&before)
    {
        return Err(SaveError::Changed { path });
    }
    let mut doc = before.parse::<DocumentMut>().map_err(|e| {
        let SyntaxError {
            line,
            column,
            message,
        } = SyntaxError::new(&before, &e);
        SaveError::Malformed {
            path: path.clone(),
            line,
            column,
            message,
        }
    })?;
    change(&mut doc)?;
    let after = doc.to_string();
    // What is written must be what kelp reads back: a file its reader refuses would be
    // ignored whole, every setting in it with it.
    if after.len() as u64 > MAX_CONFIG_BYTES {
        return Err(SaveError::Unloadable {
            path,
            why: format!("it would be over {} KiB", MAX_CONFIG_BYTES / 1024),
        });
    }
    if let Err(e) = toml_edit::Document::parse(after.as_str()) {
        return Err(SaveError::Unloadable {
            path,
            why: SyntaxError::new(&after, &e).message,
        });
    }
    if after != before {
        private_file::replace(&path, after.as_bytes()).map_err(file_err)?;
    }
    let written = version(&after);
    Ok((path, written))
}

/// One edit on the parsed document.
fn apply(doc: &mut DocumentMut, edit: &Edit) -> Result<(), &'static str> {
    let Some((last, parents)) = edit.path.split_last() else {
        return Err("an empty key");
    };
    if parents.is_empty()
        && !edit.merge
        && let Some(Item::Value(new)) = &edit.value
    {
        set_top_value(doc, last, new.clone());
        return Ok(());
    }
    let mut table = doc.as_table_mut();
    for (depth, part) in parents.iter().enumerate() {
        // A table made only to hold the next one is written as its header alone
        // (`[projects."/src/app"]`, never an empty `[projects]` above it).
        let holds_a_table = depth + 1 < parents.len() || matches!(edit.value, Some(Item::Table(_)));
        // Written afresh (`[tui]`, not the key as `tui = ` spelled it).
        let shorthand = table.get(part).filter(|_| depth == 0);
        if let Some(expanded) = shorthand.and_then(|item| surfaces::shorthand_as_table(part, item))
        {
            table.remove(part);
            table.insert(part, Item::Table(expanded));
        }
        let entry = table.entry(part).or_insert_with(|| {
            let mut new = toml_edit::Table::new();
            new.set_implicit(holds_a_table);
            Item::Table(new)
        });
        if let Some(inline) = entry.as_inline_table().cloned() {
            *entry = Item::Table(inline.into_table());
        }
        table = entry
            .as_table_mut()
            .ok_or("a part of the key is a value, not a table")?;
    }
    match (&edit.value, table.get_mut(last)) {
        (None, _) => {
            table.remove(last);
        }
        (Some(new), Some(old)) if edit.merge && old.is_table_like() && new.is_table_like() => {
            let old = old.as_table_like_mut().ok_or("not a table")?;
            for (key, value) in new.as_table_like().into_iter().flat_map(|t| t.iter()) {
                old.insert(key, value.clone());
            }
        }
        (Some(new), _) => {
            table.insert(last, new.clone());
        }
    }
    Ok(())
}

/// Sets a top-level value, keeping the spacing and a comment that trails the old one.
fn set_top_value(doc: &mut DocumentMut, key: &str, new: Value) {
    match doc.get_mut(key).and_then(Item::as_value_mut) {
        Some(old) => {
            let decor = old.decor().clone();
            *old = new;
            *old.decor_mut() = decor;
        }
        None => {
            // Comments after the last key belong to the document's tail; in a file with no
            // tables they would land below the new key, so they become its prefix instead and
            // the text keeps its order.
            let tail = doc.trailing().as_str().unwrap_or_default().to_string();
            let only_values = doc.iter().all(|(_, item)| item.is_value());
            doc[key] = Item::Value(new);
            if only_values
                && !tail.is_empty()
                && let Some(mut key) = doc.key_mut(key)
            {
                key.leaf_decor_mut().set_prefix(tail);
                doc.set_trailing("");
            }
        }
    }
}

/// Turns the skill at `path` (or called `name`) on or off in kelp's config file, as Codex
/// keeps it: a `[[skills.config]]` entry with `enabled = false` while off, none while on.
pub fn set_skill_enabled(
    config_dir: &Path,
    path: Option<&Path>,
    name: Option<&str>,
    enabled: bool,
) -> Result<PathBuf, SaveError> {
    let key = || SaveError::Key {
        key: "skills.config".into(),
        why: "is not an array of [[skills.config]] tables",
    };
    edit_document(config_dir, None, |doc| {
        let skills = doc
            .entry("skills")
            .or_insert_with(|| {
                let mut table = toml_edit::Table::new();
                table.set_implicit(true);
                Item::Table(table)
            })
            .as_table_mut()
            .ok_or_else(key)?;
        let entries = skills
            .entry("config")
            .or_insert_with(|| Item::ArrayOfTables(toml_edit::ArrayOfTables::new()))
            .as_array_of_tables_mut()
            .ok_or_else(key)?;
        let path_text = path.map(|p| p.display().to_string());
        entries.retain(|entry| {
            let same_path = path_text.is_some()
                && entry.get("path").and_then(Item::as_str) == path_text.as_deref();
            let same_name = name.is_some() && entry.get("name").and_then(Item::as_str) == name;
            !(same_path || same_name)
        });
        if !enabled {
            let mut entry = toml_edit::Table::new();
            if let Some(path) = &path_text {
                entry.insert("path", toml_edit::value(path.as_str()));
            }
            if let Some(name) = name {
                entry.insert("name", toml_edit::value(name));
            }
            entry.insert("enabled", toml_edit::value(false));
            entries.push(entry);
        }
        Ok(())
    })
    .map(|(path, _)| path)
}
