//! `grep_files`: a regex search over the project that skips what `.gitignore` hides, done
//! in-process with ripgrep's own crates.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use grep_regex::RegexMatcherBuilder;
use grep_searcher::sinks::Lossy;
use grep_searcher::{BinaryDetection, SearcherBuilder};
use ignore::overrides::OverrideBuilder;
use serde::Deserialize;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use super::opener::{AccessError, HeldDir, Opener};

/// The tool's name on the wire.
pub const NAME: &str = "grep_files";
/// Matches returned when the model gives no `limit`.
pub const DEFAULT_LIMIT: usize = 100;
/// The most matches one call may ask for.
pub const MAX_LIMIT: usize = 2000;
/// Characters kept of a matching line.
const MAX_LINE_CHARS: usize = 300;
/// The most a search holds of one file at a time: a longer line skips the file.
const MAX_SEARCH_HEAP: usize = 8 * 1024 * 1024;

/// Arguments of a `grep_files` call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GrepFilesArgs {
    /// Regular expression (Rust regex syntax) to look for.
    pub pattern: String,
    /// File or directory to search; the project directory when absent.
    #[serde(default)]
    pub path: Option<String>,
    /// Glob that file names must match, such as `*.rs` or `*.{ts,tsx}`.
    #[serde(default)]
    pub include: Option<String>,
    /// Most matches to return.
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Why a search could not run.
#[derive(Debug, Error)]
pub enum GrepError {
    /// The pattern is empty.
    #[error("pattern is empty")]
    EmptyPattern,
    /// The pattern is not a valid regular expression.
    #[error("invalid regex {pattern:?}: {message}")]
    InvalidRegex {
        /// The pattern as given.
        pattern: String,
        /// What the regex parser said.
        message: String,
    },
    /// The `include` glob is malformed.
    #[error("invalid include glob {glob:?}: {message}")]
    InvalidInclude {
        /// The glob as given.
        glob: String,
        /// What the glob parser said.
        message: String,
    },
    /// `limit` was 0.
    #[error("limit must be at least 1")]
    ZeroLimit,
    /// The search root does not exist.
    #[error("cannot search {path}: {source}")]
    Io {
        /// The path as the model wrote it.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The path leads somewhere a tool may not search.
    #[error("{0}")]
    Refused(String),
    /// The call was cancelled before the search finished.
    #[error("cancelled")]
    Cancelled,
}

/// Searches `root` for `args.pattern`, returning `path:line: text` lines.
///
/// Paths are shown relative to the project when inside it. Binary files are skipped. `root` is
/// opened through `opener`, and every file searched is opened beneath it, never by its path: a
/// folder swapped for a link while the search runs gives nothing of where the link leads.
pub fn search(
    opener: &Opener,
    root: &Path,
    args: &GrepFilesArgs,
    cancel: &CancellationToken,
) -> Result<String, GrepError> {
    if args.pattern.is_empty() {
        return Err(GrepError::EmptyPattern);
    }
    let limit = args.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    if limit == 0 {
        return Err(GrepError::ZeroLimit);
    }
    let matcher = RegexMatcherBuilder::new()
        .line_terminator(Some(b'\n'))
        .build(&args.pattern)
        .map_err(|e| GrepError::InvalidRegex {
            pattern: args.pattern.clone(),
            message: e.to_string(),
        })?;
    let shown_root = args.path.clone().unwrap_or_else(|| ".".to_string());
    let (root_file, root_meta) = opener.open(root).map_err(|e| match e {
        AccessError::Io { source, .. } => GrepError::Io {
            path: shown_root.clone(),
            source,
        },
        refused => GrepError::Refused(refused.to_string()),
    })?;
    let root = root.to_path_buf();
    let root = root.as_path();
    let include = include_filter(args.include.as_deref(), root)?;

    let mut searcher = SearcherBuilder::new()
        .binary_detection(BinaryDetection::quit(0))
        .line_number(true)
        // A file is searched line by line; one line of a gigabyte would be held whole.
        .heap_limit(Some(MAX_SEARCH_HEAP))
        .build();
    let mut out = String::new();
    let mut found = 0usize;
    let mut hit_limit = false;
    let mut hard_linked = 0usize;
    let mut too_long: Vec<String> = Vec::new();
    // Searches one file already open; true once the limit is reached.
    let search_one = |path: &Path, file: std::fs::File, meta: std::fs::Metadata| {
        if !meta.is_file()
            || include
                .as_ref()
                .is_some_and(|include| !include.matched(path, false).is_whitelist())
        {
            return false;
        }
        // Another name of the same file may lie outside the project: not searched unasked.
        if meta.nlink() > 1 {
            hard_linked += 1;
            return false;
        }
        let shown = opener.shown(path);
        let sink = Lossy(|line_number, line: &str| {
            if found >= limit {
                hit_limit = true;
                return Ok(false);
            }
            found += 1;
            out.push_str(&format!("{shown}:{line_number}: {}\n", clip(line)));
            Ok(true)
        });
        // A file that cannot be read is skipped; the search goes on. One whose line outgrew
        // the heap limit is skipped and said.
        // (grep-searcher says so only in the error's words.)
        if let Err(e) = searcher.search_file(&matcher, &file, sink)
            && e.to_string().contains("allocation limit")
        {
            too_long.push(shown);
        }
        hit_limit
    };

    each_file(opener, root, (root_file, root_meta), cancel, search_one)?;

    let skipped_note = skipped_note(hard_linked, &too_long);
    if found == 0 {
        return Ok(format!("No matches found.\n{skipped_note}")
            .trim_end()
            .to_string());
    }
    out.push_str(&skipped_note);
    if hit_limit {
        out.push_str(&format!(
            "[stopped at the limit of {limit} matches; narrow the pattern, path or include, or raise limit]\n"
        ));
    }
    Ok(out)
}

/// The `include` glob, checked per file rather than handed to the walker as an override:
/// overrides take precedence over .gitignore, and an include glob must not bring ignored files
/// back.
fn include_filter(
    include: Option<&str>,
    root: &Path,
) -> Result<Option<ignore::overrides::Override>, GrepError> {
    Ok(match include.filter(|g| !g.trim().is_empty()) {
        Some(glob) => {
            let invalid = |e: ignore::Error| GrepError::InvalidInclude {
                glob: glob.to_string(),
                message: e.to_string(),
            };
            let mut builder = OverrideBuilder::new(root);
            builder.add(glob).map_err(invalid)?;
            Some(builder.build().map_err(invalid)?)
        }
        None => None,
    })
}

/// Calls `search_one` with each file beneath `root` (itself, when it is a file), each opened
/// beneath the folder held open rather than by its path, until it says the limit is reached.
fn each_file(
    opener: &Opener,
    root: &Path,
    (root_file, root_meta): (std::fs::File, std::fs::Metadata),
    cancel: &CancellationToken,
    mut search_one: impl FnMut(&Path, std::fs::File, std::fs::Metadata) -> bool,
) -> Result<(), GrepError> {
    if !root_meta.is_dir() {
        // One file: the one already open.
        search_one(root, root_file, root_meta);
    } else {
        let held = HeldDir::new(root_file.into(), root);
        let mut walk = super::walk::project_walker(root, opener.project_dir());
        walk.sort_by_file_name(|a, b| a.cmp(b));
        for entry in walk.build() {
            if cancel.is_cancelled() {
                return Err(GrepError::Cancelled);
            }
            let Ok(entry) = entry else { continue };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            // Opened beneath the folder held open, not by its path; gone or swapped, skipped.
            let Some((file, meta)) = entry
                .path()
                .strip_prefix(&held.path)
                .ok()
                .and_then(|rel| held.open_file(rel).ok())
            else {
                continue;
            };
            if search_one(entry.path(), file, meta) {
                break;
            }
        }
    }
    Ok(())
}

/// What the search left out and why, one bracketed line each; empty when nothing was.
fn skipped_note(hard_linked: usize, too_long: &[String]) -> String {
    let hard_linked = match hard_linked {
        0 => String::new(),
        n => format!(
            "[skipped {n} file{} with other hard links, which may lie outside the project; read_file asks before reading one]\n",
            if n == 1 { "" } else { "s" }
        ),
    };
    match too_long {
        [] => hard_linked,
        files => format!(
            "{hard_linked}[skipped {} with a line of more than {} MiB: {}]\n",
            if files.len() == 1 { "a file" } else { "files" },
            MAX_SEARCH_HEAP >> 20,
            files.join(", ")
        ),
    }
}

/// A matching line without its line ending, cut to `MAX_LINE_CHARS`.
fn clip(line: &str) -> String {
    let line = line.trim_end_matches(['\n', '\r']);
    if line.chars().count() <= MAX_LINE_CHARS {
        return line.to_string();
    }
    let kept: String = line.chars().take(MAX_LINE_CHARS).collect();
    format!("{kept} [… line truncated]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// [`super::search`] in the project `project_dir`.
    fn search(
        root: &Path,
        project_dir: &Path,
        args: &GrepFilesArgs,
        cancel: &CancellationToken,
    ) -> Result<String, GrepError> {
        let opener = Opener::new(project_dir, crate::tools::opener::Approved::Any);
        super::search(&opener.unwrap(), root, args, cancel)
    }

    fn args(pattern: &str) -> GrepFilesArgs {
        GrepFilesArgs {
            pattern: pattern.to_string(),
            path: None,
            include: None,
            limit: None,
        }
    }

    fn project() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("src")).unwrap();
        fs::create_dir_all(root.join("target")).unwrap();
        fs::write(root.join(".gitignore"), "target/\nsecret.txt\n").unwrap();
        fs::write(root.join("src/main.rs"), "fn main() {\n    needle();\n}\n").unwrap();
        fs::write(root.join("src/lib.rs"), "pub fn needle() {}\n").unwrap();
        fs::write(root.join("notes.md"), "a needle in notes\n").unwrap();
        fs::write(root.join("secret.txt"), "needle\n").unwrap();
        fs::write(root.join("target/out.rs"), "needle\n").unwrap();
        fs::write(root.join("blob.bin"), b"needle\x00\x01").unwrap();
        dir
    }

    #[test]
    fn finds_matches_skipping_ignored_and_binary_files() {
        let dir = project();
        let out = search(
            dir.path(),
            dir.path(),
            &args("needle"),
            &CancellationToken::new(),
        )
        .unwrap();
        assert_eq!(
            out,
            "notes.md:1: a needle in notes\nsrc/lib.rs:1: pub fn needle() {}\nsrc/main.rs:2:     needle();\n"
        );
    }

    #[test]
    fn include_glob_filters_files() {
        let dir = project();
        let mut a = args("needle");
        a.include = Some("*.rs".to_string());
        let out = search(dir.path(), dir.path(), &a, &CancellationToken::new()).unwrap();
        assert_eq!(
            out,
            "src/lib.rs:1: pub fn needle() {}\nsrc/main.rs:2:     needle();\n"
        );
        // secret.txt matches the glob but stays hidden: .gitignore wins over include.
        a.include = Some("*.{md,txt}".to_string());
        let out = search(dir.path(), dir.path(), &a, &CancellationToken::new()).unwrap();
        assert_eq!(out, "notes.md:1: a needle in notes\n");
        a.include = Some("src/**/main.rs".to_string());
        let out = search(dir.path(), dir.path(), &a, &CancellationToken::new()).unwrap();
        assert_eq!(out, "src/main.rs:2:     needle();\n");
    }

    #[test]
    fn limit_cuts_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let text: String = (0..50).map(|i| format!("hit {i}\n")).collect();
        fs::write(dir.path().join("many.txt"), text).unwrap();
        let mut a = args("hit");
        a.limit = Some(3);
        let out = search(dir.path(), dir.path(), &a, &CancellationToken::new()).unwrap();
        assert_eq!(
            out,
            "many.txt:1: hit 0\nmany.txt:2: hit 1\nmany.txt:3: hit 2\n\
             [stopped at the limit of 3 matches; narrow the pattern, path or include, or raise limit]\n"
        );
    }

    #[test]
    fn exactly_limit_matches_has_no_note() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("two.txt"), "hit\nhit\n").unwrap();
        let mut a = args("hit");
        a.limit = Some(2);
        let out = search(dir.path(), dir.path(), &a, &CancellationToken::new()).unwrap();
        assert_eq!(out, "two.txt:1: hit\ntwo.txt:2: hit\n");
    }

    #[test]
    fn subpath_and_no_matches() {
        let dir = project();
        let out = search(
            &dir.path().join("src"),
            dir.path(),
            &args("fn main"),
            &CancellationToken::new(),
        )
        .unwrap();
        assert_eq!(out, "src/main.rs:1: fn main() {\n");
        let out = search(
            dir.path(),
            dir.path(),
            &args("absent_word"),
            &CancellationToken::new(),
        )
        .unwrap();
        assert_eq!(out, "No matches found.");
    }

    #[test]
    fn invalid_regex_is_a_clear_error() {
        let dir = project();
        let err = search(
            dir.path(),
            dir.path(),
            &args("fn ("),
            &CancellationToken::new(),
        )
        .unwrap_err();
        assert!(matches!(err, GrepError::InvalidRegex { .. }));
        assert!(
            err.to_string().starts_with("invalid regex \"fn (\":"),
            "{err}"
        );
    }
}
