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
//!
//! A folder needs no `.git` to be a repository: git's discovery takes any folder holding
//! `HEAD`, `objects` and `refs` (or `HEAD` and a `commondir`) for one, bare, in it and in every
//! folder beneath it (`safe.bareRepository` is `all` unless the person set it). Such a folder is
//! found by the same walk, at any depth, the project's root included, and kept as a `.git` is:
//! its instructions read-only, and, when a command makes it one, its `HEAD` moved aside so git
//! takes it for a repository no more.

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

/// What makes a found path a repository for git.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A `.git` folder.
    GitFolder,
    /// A `.git` file or link, which names a repository elsewhere.
    GitPointer,
    /// A folder git takes for a bare repository by what it holds (`HEAD`, `objects`, `refs`):
    /// the path is the folder itself.
    Bare,
}

/// One repository found: a `.git` folder, a file or link that names one, or a folder git
/// takes for one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    path: PathBuf,
    /// Device and inode of the entry itself (a link's own): the same path with another
    /// identity is a new repository.
    id: (u64, u64),
    kind: Kind,
}

impl Found {
    /// Whether the path is a repository's folder, whose instructions lie inside it.
    fn is_folder(&self) -> bool {
        self.kind != Kind::GitPointer
    }
}

/// The entries that make a folder a repository for git's discovery (`is_git_directory`):
/// `HEAD`, and `objects` and `refs`, or a `commondir` that names where those are.
fn holds_a_repository(has: impl Fn(&str) -> bool) -> bool {
    has("HEAD") && ((has("objects") && has("refs")) || has("commondir"))
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
    let mut names = Vec::new();
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
                    kind: if kind.is_dir() {
                        Kind::GitFolder
                    } else {
                        Kind::GitPointer
                    },
                });
            }
            continue;
        }
        if kind.is_dir() {
            subfolders.push(name.clone());
        }
        // Compared as bytes: the walk reads every entry of up to 200,000 folders.
        if [&b"HEAD"[..], b"objects", b"refs", b"commondir"].contains(&name.as_encoded_bytes()) {
            names.push(name);
        }
    }
    if holds_a_repository(|name| names.iter().any(|held| held == name)) {
        gits.push(Found {
            path: folder.to_path_buf(),
            id,
            kind: Kind::Bare,
        });
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
    /// A folder git takes for a repository by what it holds is not pinned: it is a folder of
    /// the project, which builds remove and make again; one swapped meanwhile is new, and
    /// judged so when the command ends.
    pub fn folders(&self) -> Vec<PathBuf> {
        self.found
            .iter()
            .filter(|found| found.kind == Kind::GitFolder)
            .map(|found| found.path.clone())
            .collect()
    }

    /// What to bind read-only: each repository's instructions that exist (those of its
    /// worktrees too), and each `.git` that is a file or a link naming a repository elsewhere.
    pub fn read_only(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for found in &self.found {
            if !found.is_folder() {
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
            .filter(|found| found.is_folder())
            .flat_map(|found| INSTRUCTIONS.map(|name| found.path.join(name)))
            .filter(|path| path.symlink_metadata().is_err())
            .collect()
    }

    /// Moves aside every repository beneath `project_dir` that was not here (by identity and
    /// kind, not by name) when `self` was taken, unless it is one such as `git init` or `git
    /// clone` makes: a `.git` whole, and of a folder git takes for a repository by what it
    /// holds, its `HEAD`. A `.git` folder moved aside has its `HEAD` moved too, so git takes it
    /// for a repository no more either. Returns the moved ones, relative to the project, and
    /// whether every folder was looked in.
    pub fn set_aside_new(&self, project_dir: &Path) -> (Vec<String>, bool) {
        let now = Self::scan(project_dir);
        let complete = now.complete;
        let mut moved = Vec::new();
        for found in now.found {
            let known = |before: &Found| before.id == found.id && before.kind == found.kind;
            if self.found.iter().any(known) {
                continue;
            }
            if found.is_folder() && is_plain_repository(&found.path) {
                continue;
            }
            let path = match found.kind {
                Kind::Bare => found.path.join("HEAD"),
                Kind::GitFolder | Kind::GitPointer => found.path.clone(),
            };
            let shown = path.strip_prefix(project_dir).unwrap_or(&path);
            match set_aside(project_dir, &path) {
                Ok(aside) => {
                    if found.kind == Kind::GitFolder
                        && let Err(e) = set_aside(project_dir, &aside.join("HEAD"))
                        && e.kind() != std::io::ErrorKind::NotFound
                    {
                        tracing::warn!(path = %aside.display(), error = %e, "cannot set HEAD aside");
                    }
                    moved.push(match found.kind {
                        Kind::Bare => format!(
                            "{} (it made a folder git takes for a repository, whose settings or hooks git would run)",
                            shown.display()
                        ),
                        Kind::GitFolder | Kind::GitPointer => format!(
                            "{} (a repository whose settings or hooks git would run)",
                            shown.display()
                        ),
                    });
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot set aside")
                }
            }
        }
        (moved, complete)
    }
}

/// Whether writing `written` (a patch's paths, resolved, beneath `project_dir`) would make a
/// folder one git takes for a repository by what it holds, or write what git reads in such a
/// folder: a patch there asks in every mode, as one into a `.git` does. A folder counts when
/// it holds, on disk or through the patch, `HEAD` and `objects` and `refs` (or a `commondir`),
/// and the patch writes one of those or one of its instructions.
///
/// Paths are judged as written and where their links lead (`lnk/HEAD` with `lnk` a link to
/// `pkg` writes `pkg/HEAD`).
pub fn patch_makes_a_repository(project_dir: &Path, written: &[PathBuf]) -> bool {
    let real = |path: &Path| super::paths::real_path(path).unwrap_or_else(|_| path.to_path_buf());
    let led_to: Vec<PathBuf> = written.iter().map(|path| real(path)).collect();
    makes_a_repository(project_dir, written) || makes_a_repository(&real(project_dir), &led_to)
}

fn makes_a_repository(project_dir: &Path, written: &[PathBuf]) -> bool {
    const PARTS: [&str; 10] = [
        "HEAD",
        "objects",
        "refs",
        "commondir",
        "config",
        "config.worktree",
        "hooks",
        "info",
        "modules",
        "worktrees",
    ];
    written.iter().any(|path| {
        path.ancestors()
            .skip(1)
            .take_while(|folder| folder.starts_with(project_dir))
            .any(|folder| {
                let Ok(within) = path.strip_prefix(folder) else {
                    return false;
                };
                let touches_a_part = within
                    .components()
                    .next()
                    .is_some_and(|first| PARTS.iter().any(|part| first.as_os_str() == *part));
                let has = |name: &str| {
                    let entry = folder.join(name);
                    entry.symlink_metadata().is_ok()
                        || written.iter().any(|other| other.starts_with(&entry))
                };
                touches_a_part && holds_a_repository(has)
            })
    })
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
/// rename nowhere outside. Returns where it was put.
pub fn set_aside(project_dir: &Path, path: &Path) -> std::io::Result<PathBuf> {
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
    // The names a command could take first to make the move fail run out at 100; then one
    // made of random bytes, which it cannot guess.
    for attempt in 1..=101 {
        let mut aside = name.to_os_string();
        aside.push(".refused-by-kelp");
        if attempt == 101 {
            let random: String = crate::random::bytes::<8>()?
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            aside.push(format!("-{random}"));
        } else if attempt > 1 {
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
        rustix::fs::renameat(&folder, name, &folder, aside.as_os_str())?;
        return Ok(path.with_file_name(aside));
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
        // Every numbered name taken first: a name of random bytes still moves it.
        std::fs::create_dir_all(project.path().join("c/.git")).unwrap();
        std::fs::create_dir(project.path().join("c/.git.refused-by-kelp")).unwrap();
        for n in 2..=100 {
            std::fs::create_dir(project.path().join(format!("c/.git.refused-by-kelp-{n}")))
                .unwrap();
        }
        let aside = set_aside(project.path(), &project.path().join("c/.git")).unwrap();
        assert!(aside.is_dir() && !project.path().join("c/.git").exists());
    }

    /// A folder holding `HEAD`, `objects` and `refs` is a repository to git, at any depth and
    /// at the project's root: its instructions are read-only, and one a command makes, unless
    /// plain, has its `HEAD` moved aside.
    #[test]
    fn a_folder_git_takes_for_a_repository_is_found_without_a_git() {
        let project = tempfile::tempdir().unwrap();
        let root = project.path();
        let make = |folder: &Path, config: &str| {
            std::fs::create_dir_all(folder.join("objects")).unwrap();
            std::fs::create_dir_all(folder.join("refs/heads")).unwrap();
            std::fs::write(folder.join("HEAD"), "ref: refs/heads/main\n").unwrap();
            std::fs::write(folder.join("config"), config).unwrap();
        };
        std::fs::create_dir_all(root.join("a/b/c")).unwrap();
        // Two of the three make no repository.
        std::fs::create_dir_all(root.join("a/objects")).unwrap();
        std::fs::create_dir_all(root.join("a/refs")).unwrap();
        let before = Walk::default().refresh(root, 100);
        assert!(before.found.is_empty(), "{before:?}");

        let planted = "[core]\n\tfsmonitor = touch pwned\n";
        make(&root.join("a/b/c"), planted);
        make(root, planted);
        std::fs::create_dir_all(root.join("plain")).unwrap();
        make(&root.join("plain"), "[core]\n\tbare = true\n");
        let mut walk = Walk::default();
        let now = walk.refresh(root, 100);
        let bare: Vec<&Path> = now.found.iter().map(|f| f.path.as_path()).collect();
        assert_eq!(bare, [root, &root.join("a/b/c"), &root.join("plain")]);
        assert!(now.read_only().contains(&root.join("a/b/c/config")));
        assert!(now.absent().contains(&root.join("hooks")));
        assert!(
            now.folders().is_empty(),
            "a folder of the project is not pinned"
        );

        // Made by a command: the planted ones lose their HEAD, the plain one stays.
        let (moved, complete) = before.set_aside_new(root);
        assert!(complete);
        assert_eq!(moved.len(), 2, "{moved:?}");
        assert!(
            moved
                .iter()
                .all(|m| m.contains("HEAD (it made a folder git takes"))
        );
        assert!(root.join("HEAD.refused-by-kelp").is_file());
        assert!(root.join("a/b/c/HEAD.refused-by-kelp").is_file());
        assert!(root.join("plain/HEAD").is_file());
        // There when the command started, it is not the command's to lose.
        make(&root.join("a/b/c"), planted);
        let (moved, _) = Repositories::scan(root).set_aside_new(root);
        assert!(moved.is_empty(), "{moved:?}");
    }

    /// A patch that writes the four files of a repository, or into one git takes for one, is
    /// told apart from one that writes a folder named `refs` or `config` alone.
    #[test]
    fn a_patch_that_makes_a_repository_is_told() {
        let project = tempfile::tempdir().unwrap();
        let root = project.path();
        let paths = |names: &[&str]| names.iter().map(|n| root.join(n)).collect::<Vec<_>>();
        let four = paths(&[
            "pkg/HEAD",
            "pkg/objects/x",
            "pkg/refs/heads/main",
            "pkg/config",
        ]);
        assert!(patch_makes_a_repository(root, &four));
        let at_root = paths(&["HEAD", "objects/x", "refs/heads/main", "config"]);
        assert!(patch_makes_a_repository(root, &at_root));
        assert!(!patch_makes_a_repository(
            root,
            &paths(&["pkg/config", "pkg/refs/x"])
        ));
        assert!(!patch_makes_a_repository(
            root,
            &paths(&["docs/HEAD", "src/config"])
        ));
        // Once a folder holds the three, a patch to its config asks.
        std::fs::create_dir_all(root.join("pkg/objects")).unwrap();
        std::fs::create_dir_all(root.join("pkg/refs")).unwrap();
        std::fs::write(root.join("pkg/HEAD"), "ref: refs/heads/main\n").unwrap();
        assert!(patch_makes_a_repository(root, &paths(&["pkg/config"])));
        assert!(patch_makes_a_repository(
            root,
            &paths(&["pkg/hooks/pre-commit"])
        ));
        assert!(!patch_makes_a_repository(root, &paths(&["pkg/README.md"])));
        // Through a link: `lnk/HEAD` is `other/HEAD`, beside the patch's `other/objects`.
        std::fs::create_dir(root.join("other")).unwrap();
        std::os::unix::fs::symlink(root.join("other"), root.join("lnk")).unwrap();
        let linked = paths(&["lnk/HEAD", "other/objects/x", "other/refs/heads/main"]);
        assert!(patch_makes_a_repository(root, &linked));
    }

    /// A `.git` moved aside is no repository for git either: its `HEAD` goes aside with it.
    #[test]
    fn a_git_folder_moved_aside_loses_its_head_too() {
        let project = tempfile::tempdir().unwrap();
        let before = Repositories::scan(project.path());
        let git = project.path().join("sub/.git");
        std::fs::create_dir_all(git.join("objects")).unwrap();
        std::fs::create_dir_all(git.join("refs")).unwrap();
        std::fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::write(git.join("config"), "[core]\n\tpager = touch pwned\n").unwrap();
        let (moved, _) = before.set_aside_new(project.path());
        assert_eq!(moved.len(), 1, "{moved:?}");
        let aside = project.path().join("sub/.git.refused-by-kelp");
        assert!(aside.join("HEAD.refused-by-kelp").is_file());
        assert!(!aside.join("HEAD").exists());
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
