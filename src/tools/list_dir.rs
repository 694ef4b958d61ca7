//! `list_dir`: a sorted tree of a directory that skips what `.gitignore` hides.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use ignore::WalkBuilder;
use rustix::fs::{AtFlags, FileType, OFlags};
use serde::Deserialize;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use super::opener::{self, AccessError, HeldDir, Opener};

/// The tool's name on the wire.
pub const NAME: &str = "list_dir";
/// Levels shown when the model gives no `depth`.
pub const DEFAULT_DEPTH: usize = 2;
/// Entries shown at most; the rest are counted in a note.
pub const MAX_ENTRIES: usize = 1000;
/// Past the cap, entries are counted only this far so a huge tree cannot stall the call.
const MAX_COUNTED: usize = 100_000;

/// Arguments of a `list_dir` call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ListDirArgs {
    /// Directory to list, relative to the project directory or absolute.
    #[serde(default = "current_dir")]
    pub path: String,
    /// How many levels to descend; 1 lists only the direct entries.
    #[serde(default)]
    pub depth: Option<usize>,
}

fn current_dir() -> String {
    ".".to_string()
}

/// Why a directory could not be listed.
#[derive(Debug, Error)]
pub enum ListDirError {
    /// The path does not exist or cannot be inspected.
    #[error("cannot list {path}: {source}")]
    Io {
        /// The path as the model wrote it.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The path leads somewhere a tool may not list.
    #[error("{0}")]
    Refused(String),
    /// The path is a file.
    #[error("{path} is a file, not a directory; use read_file to read it")]
    NotADirectory {
        /// The path as the model wrote it.
        path: String,
    },
    /// `depth` was 0.
    #[error("depth must be at least 1")]
    ZeroDepth,
    /// The call was cancelled before the walk finished.
    #[error("cancelled")]
    Cancelled,
}

/// Lists `dir` to `depth` levels, one entry per line, indented two spaces per level.
///
/// Directories end in `/`, symlinks in `@`. Hidden files are shown; `.git` and anything a
/// `.gitignore` (or `.ignore`) excludes are not, whether or not `dir` is in a git repository.
/// `dir` is opened through `opener`, and every entry shown is looked up again in the folder
/// held open beneath it: a folder swapped for a link while the walk runs shows nothing of where
/// the link leads.
pub fn list(
    opener: &Opener,
    dir: &Path,
    shown: &str,
    depth: Option<usize>,
    cancel: &CancellationToken,
) -> Result<String, ListDirError> {
    let depth = depth.unwrap_or(DEFAULT_DEPTH);
    if depth == 0 {
        return Err(ListDirError::ZeroDepth);
    }
    let held = opener.open_dir(dir).map_err(|e| match e {
        AccessError::Io { source, .. } if source.raw_os_error() == Some(libc::ENOTDIR) => {
            ListDirError::NotADirectory {
                path: shown.to_string(),
            }
        }
        AccessError::Io { source, .. } => ListDirError::Io {
            path: shown.to_string(),
            source,
        },
        refused => ListDirError::Refused(refused.to_string()),
    })?;

    let mut out = format!("{}/\n", dir.display());
    let mut shown_entries = 0usize;
    let mut hidden_entries = 0usize;
    let mut folders = FolderStack::default();
    for entry in walker(&held.path, opener.project_dir(), depth).build() {
        if cancel.is_cancelled() {
            return Err(ListDirError::Cancelled);
        }
        // Unreadable entries are skipped: one permission error should not hide the rest.
        let Ok(entry) = entry else { continue };
        if entry.depth() == 0 {
            continue;
        }
        if shown_entries >= MAX_ENTRIES {
            hidden_entries += 1;
            if hidden_entries >= MAX_COUNTED {
                break;
            }
            continue;
        }
        // What the entry is, asked of the folder held beneath `dir`, not of its path.
        let Some(kind) = entry
            .path()
            .strip_prefix(&held.path)
            .ok()
            .and_then(|rel| folders.kind_of(&held, rel))
        else {
            continue;
        };
        shown_entries += 1;
        let suffix = match kind {
            FileType::Symlink => "@",
            FileType::Directory => "/",
            _ => "",
        };
        let indent = "  ".repeat(entry.depth());
        out.push_str(&format!(
            "{indent}{}{suffix}\n",
            entry.file_name().to_string_lossy()
        ));
    }

    if shown_entries == 0 {
        out.push_str("  (empty)\n");
    }
    if hidden_entries > 0 {
        let more = if hidden_entries >= MAX_COUNTED {
            format!("at least {hidden_entries}")
        } else {
            hidden_entries.to_string()
        };
        out.push_str(&format!(
            "[listing capped at {MAX_ENTRIES} entries; {more} more not shown: list a subdirectory or use a smaller depth]\n"
        ));
    }
    Ok(out)
}

/// The folders above the entry being listed, each opened beneath the one before it (the first
/// beneath the listed directory) and read once from that descriptor, so a walk in file-name
/// order opens and reads each folder once, and a name is shown only if the folder held open
/// has it.
#[derive(Default)]
struct FolderStack {
    open: Vec<Folder>,
}

/// A folder held open, and what it holds: each name with its type (a link not followed).
struct Folder {
    rel: PathBuf,
    fd: OwnedFd,
    names: HashMap<OsString, FileType>,
}

impl Folder {
    /// Opens `below` beneath `base` (with `held`'s rules when there is no base yet) and reads
    /// its names.
    fn open(held: &HeldDir, base: Option<&Folder>, below: &Path, rel: &Path) -> Option<Self> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY;
        let fd = match base {
            Some(base) => opener::open_beneath(
                base.fd.as_fd(),
                below,
                flags,
                opener::Links::Beneath,
                opener::Resolver::Kernel,
            ),
            None => held.open(below, flags),
        }
        .ok()?;
        let mut names = HashMap::new();
        for entry in rustix::fs::Dir::read_from(&fd).ok()? {
            let Ok(entry) = entry else { continue };
            let name = OsStr::from_bytes(entry.file_name().to_bytes());
            let kind = match entry.file_type() {
                // Some file systems do not say in the listing: ask the folder.
                FileType::Unknown => rustix::fs::statat(&fd, name, AtFlags::SYMLINK_NOFOLLOW)
                    .map_or(FileType::Unknown, |stat| {
                        FileType::from_raw_mode(stat.st_mode)
                    }),
                kind => kind,
            };
            names.insert(name.to_os_string(), kind);
        }
        Some(Self {
            rel: rel.to_path_buf(),
            fd,
            names,
        })
    }
}

impl FolderStack {
    /// The type of the entry at `rel` (relative to `held`), not following a last link; `None`
    /// when the folder held open beneath `held` has no such name.
    fn kind_of(&mut self, held: &HeldDir, rel: &Path) -> Option<FileType> {
        let parent = rel.parent()?;
        let name = rel.file_name()?;
        while let Some(folder) = self.open.last() {
            if parent.starts_with(&folder.rel) {
                break;
            }
            self.open.pop();
        }
        let known = self.open.last().is_some_and(|folder| folder.rel == parent);
        if !known {
            let base = self.open.last();
            let below = match base {
                Some(base) => parent.strip_prefix(&base.rel).ok()?,
                None => parent,
            };
            let folder = Folder::open(held, base, below, parent)?;
            self.open.push(folder);
        }
        self.open.last()?.names.get(name).copied()
    }
}

/// The project's walk, sorted and `depth` deep.
fn walker(dir: &Path, project_dir: &Path, depth: usize) -> WalkBuilder {
    let mut builder = super::walk::project_walker(dir, project_dir);
    builder
        .max_depth(Some(depth))
        .sort_by_file_name(|a, b| a.cmp(b));
    builder
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// [`super::list`] through an opener held on the system's root: these tests are about the
    /// listing, the containment tests about the opener.
    fn list(
        dir: &Path,
        shown: &str,
        depth: Option<usize>,
        cancel: &CancellationToken,
    ) -> Result<String, ListDirError> {
        let opener = Opener::new(Path::new("/"), opener::Approved::Only(Vec::new())).unwrap();
        super::list(&opener, dir, shown, depth, cancel)
    }

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("src/deep/deeper")).unwrap();
        fs::create_dir_all(root.join("target/debug")).unwrap();
        fs::create_dir_all(root.join(".git")).unwrap();
        fs::write(root.join(".git/HEAD"), "ref").unwrap();
        fs::write(root.join(".gitignore"), "target/\n*.log\n").unwrap();
        fs::write(root.join(".env"), "X=1").unwrap();
        fs::write(root.join("Cargo.toml"), "").unwrap();
        fs::write(root.join("debug.log"), "").unwrap();
        fs::write(root.join("src/main.rs"), "").unwrap();
        fs::write(root.join("src/deep/a.rs"), "").unwrap();
        fs::write(root.join("src/deep/deeper/b.rs"), "").unwrap();
        fs::write(root.join("target/debug/kelp"), "").unwrap();
        dir
    }

    #[test]
    fn lists_sorted_tree_honouring_gitignore() {
        let dir = tree();
        let out = list(dir.path(), ".", None, &CancellationToken::new()).unwrap();
        let body: Vec<&str> = out.lines().skip(1).collect();
        assert_eq!(
            body,
            vec![
                "  .env",
                "  .gitignore",
                "  Cargo.toml",
                "  src/",
                "    deep/",
                "    main.rs",
            ]
        );
        assert_eq!(
            out.lines().next().unwrap(),
            format!("{}/", dir.path().display())
        );
    }

    #[test]
    fn depth_controls_levels() {
        let dir = tree();
        let cancel = CancellationToken::new();
        let one = list(dir.path(), ".", Some(1), &cancel).unwrap();
        assert!(one.contains("  src/\n"));
        assert!(!one.contains("main.rs"));
        let four = list(dir.path(), ".", Some(4), &cancel).unwrap();
        assert!(four.contains("        b.rs\n"));
        assert!(matches!(
            list(dir.path(), ".", Some(0), &cancel),
            Err(ListDirError::ZeroDepth)
        ));
    }

    #[test]
    fn caps_entry_count_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..(MAX_ENTRIES + 25) {
            fs::write(dir.path().join(format!("f{i:05}")), "").unwrap();
        }
        let out = list(dir.path(), ".", None, &CancellationToken::new()).unwrap();
        assert_eq!(out.lines().count(), 1 + MAX_ENTRIES + 1);
        assert!(out.ends_with(
            "[listing capped at 1000 entries; 25 more not shown: list a subdirectory or use a smaller depth]\n"
        ));
    }

    #[test]
    fn files_and_missing_paths_are_errors() {
        let dir = tree();
        let cancel = CancellationToken::new();
        let err = list(&dir.path().join("Cargo.toml"), "Cargo.toml", None, &cancel).unwrap_err();
        assert!(err.to_string().contains("is a file"));
        let err = list(&dir.path().join("nope"), "nope", None, &cancel).unwrap_err();
        assert!(err.to_string().starts_with("cannot list nope:"));
    }

    #[cfg(unix)]
    #[test]
    fn symlinked_directory_is_listed_and_links_are_marked() {
        let dir = tree();
        let link = dir.path().join("src-link");
        std::os::unix::fs::symlink(dir.path().join("src"), &link).unwrap();
        let out = list(&link, "src-link", Some(1), &CancellationToken::new()).unwrap();
        assert!(out.contains("  main.rs\n"), "{out}");
        let out = list(dir.path(), ".", Some(1), &CancellationToken::new()).unwrap();
        assert!(out.contains("  src-link@\n"), "{out}");
    }

    #[test]
    fn empty_directory() {
        let dir = tempfile::tempdir().unwrap();
        let out = list(dir.path(), ".", None, &CancellationToken::new()).unwrap();
        assert!(out.ends_with("  (empty)\n"));
    }
}
