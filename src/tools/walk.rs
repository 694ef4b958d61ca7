//! The project's walk, as every tool and the `@` finder see it: hidden files included, `.git`
//! never entered, and the ignore rules kept (`.ignore`, `.gitignore`, `.git/info/exclude` and
//! the person's global git ignore file) even outside a git repository.
//!
//! The ignore rules the walks keep (`.ignore`, `.gitignore`, `.git/info/exclude` and
//! the person's global git ignore file), read by kelp rather than by the walker: a file inside
//! the project through the tools' opener, every file without waiting and at most
//! [`MAX_RULES_BYTES`] of it. The walker itself would open a `.gitignore` by path and read it
//! whole, so a FIFO of that name would hang every listing and a link to `/dev/zero` would fill
//! the memory.
//!
//! The precedence is the walker's own as kelp configured it (no git repository required): a
//! `.ignore` decides first, then `.gitignore`, then `.git/info/exclude`, then the global file;
//! within each, the deepest folder first, up to the root of the file system.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use super::opener::{Approved, Opener};

/// A walk of `root` (in or below `project_dir`, or an approved folder outside it) by the
/// project's rules.
pub fn project_walker(root: &Path, project_dir: &Path) -> ignore::WalkBuilder {
    let rules = IgnoreRules::new(project_dir);
    let mut builder = ignore::WalkBuilder::new(root);
    builder
        .hidden(false)
        .require_git(false)
        // The walker reads none of these itself: the rules below do, safely.
        .ignore(false)
        .git_ignore(false)
        .git_exclude(false)
        .git_global(false)
        .parents(false)
        .filter_entry(move |entry| {
            entry.file_name() != ".git"
                && (entry.depth() == 0
                    || !rules
                        .is_ignored(entry.path(), entry.file_type().is_some_and(|t| t.is_dir())))
        });
    builder
}

/// The most of one ignore file that is read: far past any real one.
pub const MAX_RULES_BYTES: u64 = 1024 * 1024;

/// One folder's rules.
struct Folder {
    ignore: Gitignore,
    gitignore: Gitignore,
    exclude: Gitignore,
}

impl Folder {
    fn is_empty(&self) -> bool {
        self.ignore.is_empty() && self.gitignore.is_empty() && self.exclude.is_empty()
    }
}

/// The rules of a folder and of every folder above it that has any, deepest first.
type Chain = Arc<Vec<Arc<Folder>>>;

/// Tells one walk's rules from another's in the per-thread memory of the last folder.
static NEXT_RULES_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The last folder whose entries this thread judged, and its chain: a walk yields a
    /// folder's entries together, so most entries need no lookup in the shared map.
    static LAST_FOLDER: RefCell<Option<(u64, PathBuf, Chain)>> = const { RefCell::new(None) };
}

/// The rules of one walk, read once per folder as the walk reaches it.
pub struct IgnoreRules {
    id: u64,
    opener: Option<Opener>,
    global: Gitignore,
    chains: RwLock<HashMap<PathBuf, Chain>>,
}

impl IgnoreRules {
    /// Rules for walks in or below `project_dir`: files inside it are read through the
    /// opener held on it.
    pub fn new(project_dir: &Path) -> Self {
        Self {
            id: NEXT_RULES_ID.fetch_add(1, Ordering::Relaxed),
            opener: Opener::new(project_dir, Approved::Only(Vec::new())).ok(),
            global: Gitignore::global().0,
            chains: RwLock::new(HashMap::new()),
        }
    }

    /// Whether the rules leave `path` (absolute, a directory when `is_dir`) out.
    pub fn is_ignored(&self, path: &Path, is_dir: bool) -> bool {
        let Some(parent) = path.parent() else {
            return false;
        };
        LAST_FOLDER.with(|last| {
            let mut last = last.borrow_mut();
            match &*last {
                // Bytes, not `Path`'s component by component comparison: this runs per entry.
                Some((id, dir, chain))
                    if *id == self.id && dir.as_os_str() == parent.as_os_str() =>
                {
                    self.decide(chain, path, is_dir)
                }
                _ => {
                    let chain = self.chain(parent);
                    let ignored = self.decide(&chain, path, is_dir);
                    *last = Some((self.id, parent.to_path_buf(), chain));
                    ignored
                }
            }
        })
    }

    /// What `chain` and the global file say of `path`.
    fn decide(&self, chain: &[Arc<Folder>], path: &Path, is_dir: bool) -> bool {
        if chain.is_empty() && self.global.is_empty() {
            return false;
        }
        let decide = |pick: fn(&Folder) -> &Gitignore| {
            chain
                .iter()
                .map(|folder| pick(folder).matched(path, is_dir))
                .find(|found| !found.is_none())
                .map(|found| found.is_ignore())
        };
        decide(|f| &f.ignore)
            .or_else(|| decide(|f| &f.gitignore))
            .or_else(|| decide(|f| &f.exclude))
            .unwrap_or_else(|| self.global.matched(path, is_dir).is_ignore())
    }

    fn chain(&self, dir: &Path) -> Chain {
        if let Ok(chains) = self.chains.read()
            && let Some(chain) = chains.get(dir)
        {
            return Arc::clone(chain);
        }
        let folder = self.read_folder(dir);
        let mut folders = Vec::new();
        if !folder.is_empty() {
            folders.push(Arc::new(folder));
        }
        if let Some(parent) = dir.parent() {
            folders.extend(self.chain(parent).iter().cloned());
        }
        let chain = Arc::new(folders);
        if let Ok(mut chains) = self.chains.write() {
            chains.insert(dir.to_path_buf(), Arc::clone(&chain));
        }
        chain
    }

    fn read_folder(&self, dir: &Path) -> Folder {
        let git = dir.join(".git");
        Folder {
            ignore: self.rules(dir, &dir.join(".ignore")),
            gitignore: self.rules(dir, &dir.join(".gitignore")),
            exclude: if std::fs::symlink_metadata(&git).is_ok() {
                self.rules(dir, &git.join("info").join("exclude"))
            } else {
                Gitignore::empty()
            },
        }
    }

    /// The rules in `file`, for paths below `dir`; none when it is missing or not a readable
    /// regular file (a line that is no glob is left out, as git does).
    fn rules(&self, dir: &Path, file: &Path) -> Gitignore {
        let Some(text) = self.read_text(file) else {
            return Gitignore::empty();
        };
        let mut builder = GitignoreBuilder::new(dir);
        for line in text.lines() {
            let _ = builder.add_line(Some(file.to_path_buf()), line);
        }
        builder.build().unwrap_or_else(|_| Gitignore::empty())
    }

    /// At most [`MAX_RULES_BYTES`] of the regular file `path`, opened without waiting; inside
    /// the project, through the opener, so a link out of it is not followed.
    fn read_text(&self, path: &Path) -> Option<String> {
        let inside = self
            .opener
            .as_ref()
            .filter(|opener| path.starts_with(opener.project_dir()));
        let (file, meta) = match inside {
            Some(opener) => opener.open_regular(path).ok()?,
            None => {
                use std::os::unix::fs::OpenOptionsExt;
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
                    .open(path)
                    .ok()?;
                let meta = file.metadata().ok()?;
                (file, meta)
            }
        };
        if !meta.is_file() {
            return None;
        }
        let mut bytes = Vec::new();
        Read::take(&file as &File, MAX_RULES_BYTES)
            .read_to_end(&mut bytes)
            .ok()?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// The files the project's walk yields under `root`, relative and sorted.
    fn walked(root: &Path) -> Vec<String> {
        let mut found: Vec<String> = project_walker(root, root)
            .build()
            .flatten()
            .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
            .map(|e| e.path().strip_prefix(root).unwrap().display().to_string())
            .collect();
        found.sort();
        found
    }

    #[test]
    fn the_rules_keep_the_walkers_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join(".git/info")).unwrap();
        fs::create_dir_all(root.join("sub/deep")).unwrap();
        for file in [
            "a.log",
            "keep.log",
            "b.tmp",
            "sub/c.log",
            "sub/deep/d.log",
            "excluded.txt",
            "plain.rs",
        ] {
            fs::write(root.join(file), "").unwrap();
        }
        fs::write(root.join(".gitignore"), "*.log\n!keep.log\n*.tmp\n").unwrap();
        // A deeper folder's file decides first for what is under it.
        fs::write(root.join("sub/.gitignore"), "!c.log\n").unwrap();
        // `.ignore` decides before `.gitignore`.
        fs::write(root.join(".ignore"), "!b.tmp\n").unwrap();
        fs::write(root.join(".git/info/exclude"), "excluded.txt\n").unwrap();
        assert_eq!(
            walked(root),
            [
                ".gitignore",
                ".ignore",
                "b.tmp",
                "keep.log",
                "plain.rs",
                "sub/.gitignore",
                "sub/c.log"
            ]
        );
    }

    #[test]
    fn the_rules_of_folders_above_the_walk_apply() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        fs::create_dir_all(repo.join(".git")).unwrap();
        fs::write(dir.path().join(".gitignore"), "*.rs\n").unwrap();
        fs::write(dir.path().join(".ignore"), "*.md\n").unwrap();
        for file in ["main.rs", "notes.md", "keep.txt"] {
            fs::write(repo.join(file), "").unwrap();
        }
        assert_eq!(walked(&repo), ["keep.txt"]);
    }

    #[test]
    fn an_ignore_file_that_is_no_regular_file_is_passed_over_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(root.join("main.rs"), "").unwrap();
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::write(root.join("sub/lib.rs"), "").unwrap();
        let fifo = std::ffi::CString::new(root.join(".gitignore").to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        std::os::unix::fs::symlink("/dev/zero", root.join("sub/.ignore")).unwrap();
        assert_eq!(walked(root), ["main.rs", "sub/lib.rs"]);
    }
}
