//! The git repositories a project holds, at any depth, and the parts of each that git reads as
//! instructions.
//!
//! The person's own git, run later outside kelp with their rights, reads every repository it
//! meets from the project: `git status` recurses into each submodule's checkout and runs a
//! `git status` there, which reads that repository's `config` (`core.fsmonitor` names a
//! program it runs), `hooks`, `info/` (attributes, and an `exclude` that hides files from
//! `git status`), `modules/` (the submodules' own repositories), `config.worktree`,
//! `commondir` (which moves all of these elsewhere) and a worktree's `gitdir`. A command may
//! change none of them: each repository's folder is pinned (bound over itself, so it can be
//! neither renamed away nor removed and then replaced), those parts of it are bound read-only,
//! and a `.git` that is new when the command ends is moved aside unless it is what `git init`
//! or `git clone` makes (a config of plain settings, sample hooks only).

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// The name git looks for in every folder.
const GIT: &str = ".git";

/// What git reads in a repository's folder as instructions (a program to run, a file to hide,
/// another folder to read them from).
const INSTRUCTIONS: [&str; 6] = [
    "config",
    "config.worktree",
    "hooks",
    "info",
    "modules",
    "commondir",
];

/// What git reads in a worktree's own folder (`worktrees/NAME`) as instructions.
const WORKTREE_INSTRUCTIONS: [&str; 3] = ["commondir", "gitdir", "config.worktree"];

/// The most folders one scan walks: a larger tree is scanned that far, and said in the log.
const MAX_FOLDERS: usize = 200_000;

/// One `.git` found: a repository's folder, or a file or link that names one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    path: PathBuf,
    /// Device and inode of the entry itself (a link's own): the same path with another
    /// identity is a new repository.
    id: (u64, u64),
    folder: bool,
}

/// A folder of the project as it was last read.
#[derive(Debug)]
struct Read {
    /// Device, inode and status-change time (seconds, nanoseconds) when it was read.
    id: (u64, u64),
    changed: (i64, i64),
    /// When it was read: a change in the same tick of the file system's clock as the one
    /// before it would leave the time as it was, so a folder changed shortly before it was
    /// read is read again.
    read_at: SystemTime,
    subfolders: Vec<OsString>,
    gits: Vec<Found>,
}

/// How close to its reading a folder's last change must be for the folder to be read again:
/// far longer than any file system's clock tick.
const SETTLED: Duration = Duration::from_secs(1);

/// The folders of one project as last read, by path.
#[derive(Debug, Default)]
struct Walk {
    folders: HashMap<PathBuf, Read>,
}

impl Walk {
    /// The `.git` entries beneath `root` now, reading again only the folders that changed.
    fn refresh(&mut self, root: &Path, max_folders: usize) -> Repositories {
        let mut found = Vec::new();
        let mut seen = HashMap::with_capacity(self.folders.len());
        let mut stack = vec![root.to_path_buf()];
        let mut complete = true;
        while let Some(folder) = stack.pop() {
            if seen.len() >= max_folders {
                complete = false;
                tracing::warn!(
                    project = %root.display(),
                    "the project has more than {MAX_FOLDERS} folders; the scan for repositories stopped there"
                );
                break;
            }
            let Ok(meta) = folder.symlink_metadata() else {
                continue;
            };
            if !meta.is_dir() {
                continue;
            }
            let id = (meta.dev(), meta.ino());
            let changed = (meta.ctime(), meta.ctime_nsec());
            let read = match self.folders.remove(&folder) {
                Some(read) if read.id == id && read.changed == changed && settled(&read) => read,
                _ => read_folder(&folder, id, changed),
            };
            found.extend(read.gits.iter().cloned());
            stack.extend(read.subfolders.iter().map(|name| folder.join(name)));
            seen.insert(folder, read);
        }
        // What was not met again is gone.
        self.folders = seen;
        found.sort_by(|a, b| a.path.cmp(&b.path));
        Repositories { found, complete }
    }
}

/// Whether `read` was read long enough after its last change that any later change shows in
/// its status-change time.
fn settled(read: &Read) -> bool {
    let changed = SystemTime::UNIX_EPOCH
        + Duration::new(
            u64::try_from(read.changed.0).unwrap_or(0),
            u32::try_from(read.changed.1).unwrap_or(0),
        );
    read.read_at
        .duration_since(changed)
        .is_ok_and(|after| after >= SETTLED)
}

/// Reads `folder`'s entries: its subfolders (not links to folders) and its `.git`, if any.
fn read_folder(folder: &Path, id: (u64, u64), changed: (i64, i64)) -> Read {
    let read_at = SystemTime::now();
    let mut subfolders = Vec::new();
    let mut gits = Vec::new();
    for entry in std::fs::read_dir(folder).into_iter().flatten().flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let name = entry.file_name();
        if name == GIT {
            if let Ok(meta) = entry.path().symlink_metadata() {
                gits.push(Found {
                    path: entry.path(),
                    id: (meta.dev(), meta.ino()),
                    folder: kind.is_dir(),
                });
            }
        } else if kind.is_dir() {
            subfolders.push(name);
        }
    }
    Read {
        id,
        changed,
        read_at,
        subfolders,
        gits,
    }
}

/// The `.git` entries beneath a project, as they are at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Repositories {
    found: Vec<Found>,
    /// Whether the walk reached every folder: a command could make more than it walks to hide
    /// a repository past them, and then that is said, never passed over in silence.
    complete: bool,
}

impl Repositories {
    /// Every `.git` beneath `project_dir`, the project's own included, found by a walk that
    /// follows no link and does not descend into a repository's folder. It walks on a stack of
    /// its own (a tree of any depth costs no recursion), and it is kept per project between
    /// commands: a folder whose status-change time is as it was is not read again, only
    /// looked at (a new entry, a rename into it, even a `touch` that sets its times back,
    /// each changes that time, which no process can set).
    pub fn scan(project_dir: &Path) -> Self {
        static KEPT: Mutex<Vec<(PathBuf, Walk)>> = Mutex::new(Vec::new());
        let mut kept = KEPT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let at = match kept.iter().position(|(project, _)| project == project_dir) {
            Some(at) => at,
            None => {
                // A few projects at most (the app-server's threads may have several).
                if kept.len() >= 4 {
                    kept.remove(0);
                }
                kept.push((project_dir.to_path_buf(), Walk::default()));
                kept.len() - 1
            }
        };
        kept[at].1.refresh(project_dir, MAX_FOLDERS)
    }

    /// The repositories' folders, each to be bound over itself: a mount point can be neither
    /// renamed nor removed, so no command swaps a repository for one of its own.
    pub fn folders(&self) -> Vec<PathBuf> {
        self.found
            .iter()
            .filter(|found| found.folder)
            .map(|found| found.path.clone())
            .collect()
    }

    /// What to bind read-only: each repository's instructions that exist (those of its
    /// worktrees too), and each `.git` that is a file or a link naming a repository elsewhere.
    pub fn read_only(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for found in &self.found {
            if !found.folder {
                out.push(found.path.clone());
                continue;
            }
            out.extend(instructions(&found.path).filter(|path| path.symlink_metadata().is_ok()));
        }
        out
    }

    /// Each repository's instructions that do not exist yet: a mount can only cover what
    /// exists, so what a command creates there is moved aside when it ends.
    pub fn absent(&self) -> Vec<PathBuf> {
        self.found
            .iter()
            .filter(|found| found.folder)
            .flat_map(|found| INSTRUCTIONS.map(|name| found.path.join(name)))
            .filter(|path| path.symlink_metadata().is_err())
            .collect()
    }

    /// Moves aside every `.git` beneath `project_dir` that was not here (by identity, not by
    /// name) when `self` was taken, unless it is a repository such as `git init` or `git clone`
    /// makes; returns the moved ones, relative to the project, and whether every folder was
    /// looked in.
    pub fn set_aside_new(&self, project_dir: &Path) -> (Vec<String>, bool) {
        let now = Self::scan(project_dir);
        let complete = now.complete;
        let mut moved = Vec::new();
        for found in now.found {
            if self.found.iter().any(|before| before.id == found.id) {
                continue;
            }
            if found.folder && is_plain_repository(&found.path) {
                continue;
            }
            let shown = found.path.strip_prefix(project_dir).unwrap_or(&found.path);
            match set_aside(project_dir, &found.path) {
                Ok(()) => moved.push(shown.display().to_string()),
                Err(e) => {
                    tracing::warn!(path = %found.path.display(), error = %e, "cannot set aside")
                }
            }
        }
        (moved, complete)
    }
}

/// The instructions of the repository whose folder is `git_dir`, and of its worktrees.
fn instructions(git_dir: &Path) -> impl Iterator<Item = PathBuf> + '_ {
    let worktrees = std::fs::read_dir(git_dir.join("worktrees"))
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|worktree| WORKTREE_INSTRUCTIONS.map(|name| worktree.path().join(name)));
    INSTRUCTIONS
        .iter()
        .map(move |name| git_dir.join(name))
        .chain(worktrees)
}

/// Renames `path`, beneath `project_dir`, to `NAME.refused-by-kelp` beside it (with a number
/// where that name is taken), so nothing of it is read as a repository and the person can look
/// at it. The folder it lies in is reached from the project a folder at a time, following no
/// link: a folder swapped for a link meanwhile (by a command of another thread) leads the
/// rename nowhere outside.
pub fn set_aside(project_dir: &Path, path: &Path) -> std::io::Result<()> {
    use std::os::fd::AsFd;
    let (Some(name), Ok(within)) = (path.file_name(), path.strip_prefix(project_dir)) else {
        return Err(std::io::ErrorKind::InvalidInput.into());
    };
    // The project as the person named it, links and all; beneath it, no link.
    let mut folder = rustix::fs::openat(
        rustix::fs::CWD,
        project_dir,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    for part in within.parent().into_iter().flat_map(Path::components) {
        folder = crate::private_file::open_folder(folder.as_fd(), part.as_os_str())?;
    }
    for attempt in 1..=100 {
        let mut aside = name.to_os_string();
        aside.push(".refused-by-kelp");
        if attempt > 1 {
            aside.push(format!("-{attempt}"));
        }
        if rustix::fs::statat(
            &folder,
            aside.as_os_str(),
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .is_ok()
        {
            continue;
        }
        return Ok(rustix::fs::renameat(
            &folder,
            name,
            &folder,
            aside.as_os_str(),
        )?);
    }
    Err(std::io::ErrorKind::AlreadyExists.into())
}

/// Whether the repository folder `git_dir` holds nothing git would run or take as another
/// place's: what `git init` or `git clone` leaves (a config of plain settings, sample hooks,
/// `info/exclude`), with no `commondir`, `config.worktree`, worktrees or submodules.
fn is_plain_repository(git_dir: &Path) -> bool {
    let Ok(meta) = git_dir.symlink_metadata() else {
        return false;
    };
    if !meta.is_dir() {
        return false;
    }
    let absent = |name: &str| git_dir.join(name).symlink_metadata().is_err();
    if !["commondir", "config.worktree", "worktrees", "modules"]
        .into_iter()
        .all(absent)
    {
        return false;
    }
    let only =
        |folder: &str, allowed: &dyn Fn(&str, &std::fs::FileType) -> bool| match std::fs::read_dir(
            git_dir.join(folder),
        ) {
            Ok(entries) => entries.flatten().all(|entry| {
                entry.file_type().is_ok_and(|kind| {
                    entry
                        .file_name()
                        .to_str()
                        .is_some_and(|name| allowed(name, &kind))
                })
            }),
            Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        };
    let samples = only("hooks", &|name, kind| {
        kind.is_file() && name.ends_with(".sample")
    });
    let exclude = only("info", &|name, kind| kind.is_file() && name == "exclude");
    let config = match crate::private_file::read_regular(&git_dir.join("config"), 64 * 1024) {
        Ok(bytes) => String::from_utf8(bytes).is_ok_and(|text| is_plain_config(&text)),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    };
    samples && exclude && config
}

/// The settings a fresh repository's config may hold: those `git init` and `git clone` write,
/// none of which names a program, a file to include or another place to read from.
const PLAIN_SETTINGS: [&str; 13] = [
    "core.repositoryformatversion",
    "core.filemode",
    "core.bare",
    "core.logallrefupdates",
    "core.ignorecase",
    "core.precomposeunicode",
    "core.symlinks",
    "extensions.objectformat",
    "remote.*.url",
    "remote.*.fetch",
    "branch.*.remote",
    "branch.*.merge",
    "init.defaultbranch",
];

/// Whether a git config holds only [`PLAIN_SETTINGS`], in the plain forms git writes them: a
/// section header alone on its line, then `key = value` lines. Anything else (a continued
/// line, a key beside its header, an old-style `[section.sub]`, an include) is not plain.
pub fn is_plain_config(text: &str) -> bool {
    let mut section: Option<(String, bool)> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.ends_with('\\') {
            return false;
        }
        if let Some(header) = line.strip_prefix('[') {
            let Some(header) = header.strip_suffix(']') else {
                return false;
            };
            let (name, sub) = match header.split_once(char::is_whitespace) {
                Some((name, sub)) => {
                    let sub = sub.trim();
                    if !(sub.len() >= 2 && sub.starts_with('"') && sub.ends_with('"')) {
                        return false;
                    }
                    (name, true)
                }
                None => (header, false),
            };
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return false;
            }
            section = Some((name.to_ascii_lowercase(), sub));
            continue;
        }
        let Some((section, sub)) = &section else {
            return false;
        };
        let key = line.split('=').next().unwrap_or("").trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return false;
        }
        let key = key.to_ascii_lowercase();
        let allowed = PLAIN_SETTINGS.iter().any(|setting| {
            let (want_section, rest) = setting.split_once('.').unwrap_or((setting, ""));
            let (want_sub, want_key) = match rest.split_once('.') {
                Some(("*", key)) => (true, key),
                _ => (false, rest),
            };
            want_section == section && want_sub == *sub && want_key == key
        });
        if !allowed {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_init_and_clone_write_is_plain_and_a_program_is_not() {
        let init = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n";
        assert!(is_plain_config(init));
        let clone = format!(
            "{init}[remote \"origin\"]\n\turl = https://example.com/r.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n[branch \"main\"]\n\tremote = origin\n\tmerge = refs/heads/main\n"
        );
        assert!(is_plain_config(&clone));
        for planted in [
            "[core]\n\tfsmonitor = touch pwned\n",
            "[core] fsmonitor = touch pwned\n",
            "[core]\n\thooksPath = hooks2\n",
            "[include]\n\tpath = ../x\n",
            "[includeIf \"gitdir:/\"]\n\tpath = ../x\n",
            "[alias]\n\tst = !touch pwned\n",
            "[core.x]\n\tbare = false\n",
            "[core]\n\tbare = false \\\n\n",
            "bare = false\n",
            "[diff \"x\"]\n\ttextconv = sh\n",
            "[remote]\n\turl = x\n",
        ] {
            assert!(!is_plain_config(planted), "{planted:?}");
        }
    }

    #[test]
    fn a_deep_tree_is_scanned_without_recursion() {
        let dir = tempfile::tempdir().unwrap();
        let mut deep = dir.path().to_path_buf();
        for _ in 0..3_000 {
            deep.push("d");
        }
        // Made relative to a held folder, a step at a time: the whole path is past PATH_MAX.
        let mut at = dir.path().to_path_buf();
        std::fs::create_dir(at.join(".git")).unwrap();
        for step in 0..3_000 {
            at.push("d");
            std::fs::create_dir(&at).unwrap_or_else(|e| panic!("{step}: {e}"));
            if at.as_os_str().len() > 3_500 {
                break;
            }
        }
        std::fs::write(at.join(".git"), "gitdir: elsewhere\n").unwrap();
        let found = Repositories::scan(dir.path());
        assert_eq!(found.folders(), vec![dir.path().join(".git")]);
        assert_eq!(found.read_only(), vec![at.join(".git")]);
    }

    /// A folder on the way swapped for a link to another project leads the rename nowhere:
    /// that project's `.git` stays as it was.
    #[test]
    fn setting_aside_follows_no_link_beneath_the_project() {
        let project = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        std::fs::create_dir(other.path().join(".git")).unwrap();
        std::os::unix::fs::symlink(other.path(), project.path().join("a")).unwrap();
        assert!(set_aside(project.path(), &project.path().join("a/.git")).is_err());
        assert!(other.path().join(".git").is_dir());

        std::fs::create_dir_all(project.path().join("b/.git")).unwrap();
        std::fs::create_dir_all(project.path().join("b/.git.refused-by-kelp")).unwrap();
        set_aside(project.path(), &project.path().join("b/.git")).unwrap();
        assert!(project.path().join("b/.git.refused-by-kelp-2").is_dir());
        assert!(!project.path().join("b/.git").exists());
    }

    /// A walk cut short says so, so a repository hidden past the folders it reads is never
    /// passed over in silence.
    #[test]
    fn a_walk_cut_short_says_so() {
        let project = tempfile::tempdir().unwrap();
        for folder in ["a", "b", "c", "d"] {
            std::fs::create_dir(project.path().join(folder)).unwrap();
        }
        assert!(!Walk::default().refresh(project.path(), 3).complete);
        assert!(Walk::default().refresh(project.path(), 10).complete);
    }
}
