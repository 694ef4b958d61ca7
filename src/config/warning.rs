//! What kelp could not use in its config file, and where: the warning every reader of the
//! file gives, and the helpers the readers share (a `~/` path, a byte offset as line and
//! column). Below `file.rs` and `mcp.rs`, which both use it.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// Something in the config file kelp could not use; shown to the person, never fatal.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ConfigWarning {
    #[error("{}:{line}:{column}: {message}; the file is ignored", crate::humanize::home_path(.path))]
    Malformed {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}:{line}:{column}: unknown key `{key}` is ignored{}", crate::humanize::home_path(.path), did_you_mean(.suggestion))]
    UnknownKey {
        path: PathBuf,
        line: usize,
        column: usize,
        key: String,
        /// A known key a letter or two away, for a near miss.
        suggestion: Option<&'static str>,
    },
    #[error("{}:{line}:{column}: `{key}` {reason}; it is ignored", crate::humanize::home_path(.path))]
    BadValue {
        path: PathBuf,
        line: usize,
        column: usize,
        key: String,
        reason: String,
    },
    /// An entry of a table (an MCP server) that cannot be used, where it is.
    #[error("{}:{line}:{column}: {message}", crate::humanize::home_path(.path))]
    BadEntry {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("cannot read {}: {reason}; the file is ignored", crate::humanize::home_path(.path))]
    Unreadable { path: PathBuf, reason: String },
    /// The file did not load, so what it may have chosen is not known: the sandbox falls back
    /// to the safest mode rather than the default.
    #[error(
        "{}: until it loads, commands run read-only, the safest sandbox (`--sandbox` \
         chooses another for a run)", crate::humanize::home_path(.path))]
    SafestSandbox { path: PathBuf },
    /// A trusted project's settings that would widen what runs unasked or where secrets go,
    /// unused until the person allows them.
    #[error(
        "{}: {} until you allow {}: `kelp project` shows {}, `kelp project allow` allows {}",
        crate::humanize::home_path(.path),
        waiting_keys(.lines),
        if .lines.len() == 1 { "it" } else { "them" },
        if .lines.len() == 1 { "it" } else { "them" },
        if .lines.len() == 1 { "it" } else { "them" })]
    WaitsForAllowance { path: PathBuf, lines: Vec<String> },
}

/// The settings that wait, named by their keys.
fn waiting_keys(lines: &[String]) -> String {
    let keys: Vec<&str> = lines
        .iter()
        .map(|line| line.split(" = ").next().unwrap_or(line))
        .collect();
    match keys.as_slice() {
        [one] => format!("`{one}` is not used"),
        many => format!("{} settings are not used ({})", many.len(), keys_list(many)),
    }
}

fn keys_list(keys: &[&str]) -> String {
    keys.iter()
        .map(|key| format!("`{key}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn did_you_mean(suggestion: &Option<&'static str>) -> String {
    suggestion
        .map(|key| format!("; did you mean `{key}`?"))
        .unwrap_or_default()
}

impl ConfigWarning {
    fn path(&self) -> &Path {
        match self {
            Self::Malformed { path, .. }
            | Self::UnknownKey { path, .. }
            | Self::BadValue { path, .. }
            | Self::BadEntry { path, .. }
            | Self::Unreadable { path, .. }
            | Self::SafestSandbox { path }
            | Self::WaitsForAllowance { path, .. } => path,
        }
    }
}

/// The warnings as a person reads them: one per line, each file named once above its own
/// (`config.toml:` then `  3:1: unknown key …`).
pub fn report(warnings: &[ConfigWarning]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut named: Option<&Path> = None;
    for warning in warnings {
        let path = warning.path();
        let shown = warning.to_string();
        let prefix = format!("{}:", crate::humanize::home_path(path));
        match shown.strip_prefix(&prefix) {
            Some(rest) => {
                if named != Some(path) {
                    lines.push(format!("{}:", crate::humanize::home_path(path)));
                    named = Some(path);
                }
                lines.push(format!("  {}", rest.trim_start()));
            }
            // Not about a place in the file (it could not be read): the line says it all.
            None => {
                lines.push(shown);
                named = None;
            }
        }
    }
    lines
}

/// The known key nearest `key`, when one is at most two edits away (a typo, not a new word).
pub(super) fn nearest(key: &str, known: &[&'static str]) -> Option<&'static str> {
    known
        .iter()
        .map(|candidate| (edits(key, candidate), *candidate))
        .filter(|(distance, _)| *distance <= 2 && *distance < key.chars().count())
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// The fewest single-character insertions, deletions, substitutions and swaps of neighbours
/// that turn `a` into `b` (optimal string alignment: `modle` is one swap from `model`).
fn edits(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// `path` with a leading `~/` made `home`; a path that is neither that nor absolute is `None`.
pub(super) fn expand_home(path: &str, home: Option<&Path>) -> Option<PathBuf> {
    match path.strip_prefix("~/") {
        Some(rest) => home.map(|home| home.join(rest)),
        None => Some(PathBuf::from(path)).filter(|p| p.is_absolute()),
    }
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
pub(super) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Where in the file a warning points: a span of its text.
pub type Span = Option<std::ops::Range<usize>>;

/// Reads a table of named entries (`[KEY.NAME]`, the MCP servers or the model providers) of
/// the file at `path` (its `text` gives lines and columns): `read` makes each entry of its
/// table, or says why it is left out (`Err`), and warns of single keys through the `warn` it
/// is given. `noun` names an entry in the warnings (`MCP server`). Entries come out in the
/// file's order; the warnings in the order of their places.
pub fn named_tables<T>(
    path: &Path,
    text: &str,
    item: &toml_edit::Item,
    key: &str,
    noun: &str,
    mut read: impl FnMut(
        &str,
        &dyn toml_edit::TableLike,
        &mut dyn FnMut(Span, String),
    ) -> Result<T, String>,
) -> (Vec<T>, Vec<ConfigWarning>) {
    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    let mut warn = |span: Span, message: String| {
        let (line, column) = line_column(text, span.map_or(0, |s| s.start));
        warnings.push(ConfigWarning::BadEntry {
            path: path.to_path_buf(),
            line,
            column,
            message,
        });
    };
    let Some(table) = item.as_table_like() else {
        warn(
            item.span(),
            format!("`{key}` must be a table of them ([{key}.NAME]); it is ignored"),
        );
        return (entries, warnings);
    };
    for (name, entry) in table.iter() {
        let span = entry
            .span()
            .or_else(|| table.key(name).and_then(|k| k.span()));
        let Some(entry) = entry.as_table_like() else {
            warn(
                span,
                format!("{noun} `{name}` must be a table ([{key}.{name}]); it is left out"),
            );
            continue;
        };
        match read(name, entry, &mut warn) {
            Ok(read) => entries.push(read),
            Err(reason) => warn(span, format!("{noun} `{name}` {reason}")),
        }
    }
    warnings.sort_by_key(|warning| match warning {
        ConfigWarning::BadEntry { line, column, .. } => (*line, *column),
        _ => (0, 0),
    });
    (entries, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_near_miss_finds_its_key_and_a_new_word_does_not() {
        let known = ["mouse", "model", "theme", "network"];
        assert_eq!(nearest("mose", &known), Some("mouse"));
        assert_eq!(nearest("modle", &known), Some("model"));
        assert_eq!(nearest("netwrok", &known), Some("network"));
        assert_eq!(nearest("profiles", &known), None);
        assert_eq!(nearest("x", &known), None);
        assert_eq!(edits("kitten", "sitting"), 3);
        assert_eq!(edits("modle", "model"), 1);
    }

    #[test]
    fn the_report_names_each_file_once_and_gives_a_line_per_warning() {
        let path = PathBuf::from("/c/config.toml");
        let warnings = [
            ConfigWarning::UnknownKey {
                path: path.clone(),
                line: 1,
                column: 1,
                key: "mose".into(),
                suggestion: Some("mouse"),
            },
            ConfigWarning::BadValue {
                path,
                line: 2,
                column: 9,
                key: "theme".into(),
                reason: "must be \"auto\", \"dark\" or \"light\"".into(),
            },
            ConfigWarning::Unreadable {
                path: PathBuf::from("/c/other.toml"),
                reason: "permission denied".into(),
            },
        ];
        assert_eq!(
            report(&warnings),
            [
                "/c/config.toml:",
                "  1:1: unknown key `mose` is ignored; did you mean `mouse`?",
                "  2:9: `theme` must be \"auto\", \"dark\" or \"light\"; it is ignored",
                "cannot read /c/other.toml: permission denied; the file is ignored",
            ]
        );
    }
}
