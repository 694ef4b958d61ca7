//! Random trees of folders, files and links (relative, absolute, loops, `..`) in a project with
//! an outside folder beside it, built from bytes, and the opener's promise checked on them:
//! nothing outside the project is ever opened, and nothing outside is created. Shared by the
//! property test (`tests/it/opener_prop.rs`) and the `opener` fuzz target.

use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use kelp::tools::opener::{self, Approved, Links, Opener, Resolver};
use rustix::fs::{Mode, OFlags};

/// Names the nodes and the queries are made of.
const NAMES: &[&str] = &["a", "b", "c", ".x", "secret"];

/// A project, an outside folder with a secret, and the paths to try.
pub struct Tree {
    _dir: tempfile::TempDir,
    base: PathBuf,
    /// The project root.
    pub project: PathBuf,
    /// The folder beside it that nothing may reach.
    pub outside: PathBuf,
    /// Paths relative to the project, to open.
    pub queries: Vec<PathBuf>,
}

/// Reads the bytes as a small program: each op makes a folder, a file or a link in a folder
/// made so far (inside or outside), or adds a query.
pub fn build(bytes: &[u8]) -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let project = base.join("project");
    let outside = base.join("outside");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), "SECRET\n").unwrap();
    let targets: Vec<String> = [
        "..",
        "../..",
        "../../..",
        "a",
        "a/b",
        ".",
        "../outside",
        "../../outside/secret",
        "b/../..",
        "c",
        "/",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        outside.display().to_string(),
        outside.join("secret").display().to_string(),
        project.display().to_string(),
        project.join("a").display().to_string(),
    ])
    .collect();
    let mut folders = vec![project.clone(), outside.clone()];
    let mut queries = Vec::new();
    let mut bytes = bytes.iter().copied();
    let mut next = move || bytes.next();
    while let Some(op) = next() {
        let pick = |n: usize, byte: Option<u8>| byte.map_or(0, |b| b as usize % n);
        match op % 4 {
            3 => {
                let len = pick(6, next()) + 1;
                let mut query = PathBuf::new();
                for _ in 0..len {
                    let choice = pick(NAMES.len() + 2, next());
                    query.push(match choice {
                        c if c < NAMES.len() => NAMES[c],
                        c if c == NAMES.len() => "..",
                        _ => ".",
                    });
                }
                queries.push(query);
            }
            kind => {
                let parent = folders[pick(folders.len(), next())].clone();
                let path = parent.join(NAMES[pick(NAMES.len(), next())]);
                if std::fs::symlink_metadata(&path).is_ok() {
                    continue;
                }
                match kind {
                    0 => {
                        std::fs::create_dir(&path).unwrap();
                        folders.push(path);
                    }
                    1 => std::fs::write(&path, "file\n").unwrap(),
                    _ => symlink(&targets[pick(targets.len(), next())], &path).unwrap(),
                }
            }
        }
    }
    Tree {
        _dir: dir,
        base,
        project,
        outside,
        queries,
    }
}

/// Where an open descriptor really is, as the kernel says.
fn where_is(fd: impl AsRawFd) -> PathBuf {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap()
}

/// Every path under `dir`, links not followed: what must not change outside.
fn snapshot(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(folder) = todo.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                todo.push(entry.path());
            }
            out.push(entry.path());
        }
    }
    out.sort();
    out
}

/// Opens every query every way the tools do and checks that what was opened lies inside the
/// project, that the kernel and the walk agree, and that nothing outside was created.
pub fn check(tree: &Tree) {
    let before = snapshot(&tree.base);
    let root = rustix::fs::open(
        &tree.project,
        OFlags::PATH | OFlags::DIRECTORY,
        Mode::empty(),
    )
    .unwrap();
    let inside = |fd: &dyn AsRawFd, how: &str, query: &Path| {
        let real = where_is(fd.as_raw_fd());
        assert!(
            real.starts_with(&tree.project),
            "{how} of {} opened {}",
            query.display(),
            real.display()
        );
    };
    let opener = Opener::new(&tree.project, Approved::Only(Vec::new())).unwrap();
    let flags = OFlags::RDONLY | OFlags::NONBLOCK;
    for query in &tree.queries {
        let kernel =
            opener::open_beneath(root.as_fd(), query, flags, Links::Beneath, Resolver::Kernel);
        let walk = opener::open_beneath(root.as_fd(), query, flags, Links::Beneath, Resolver::Walk);
        if let Ok(fd) = &kernel {
            inside(fd, "the kernel", query);
        }
        if let Ok(fd) = &walk {
            inside(fd, "the walk", query);
        }
        assert_eq!(
            kernel.is_ok(),
            walk.is_ok(),
            "{}: kernel {kernel:?}, walk {walk:?}",
            query.display()
        );
        let full = tree.project.join(query);
        if let Ok((file, _)) = opener.open(&full) {
            inside(&file, "the opener", query);
        }
        if let Ok(held) = opener.open_dir(&full)
            && let Ok(fd) = held.open(Path::new(""), OFlags::PATH)
        {
            inside(&fd, "a held folder", query);
        }
        if let Ok((dir, _name)) = opener.dir_for_write(&full) {
            inside(&dir, "a write's folder", query);
        }
    }
    // Folders a write needed were made inside only.
    let after: Vec<PathBuf> = snapshot(&tree.base)
        .into_iter()
        .filter(|path| !path.starts_with(&tree.project))
        .collect();
    let before: Vec<PathBuf> = before
        .into_iter()
        .filter(|path| !path.starts_with(&tree.project))
        .collect();
    assert_eq!(before, after, "something was created outside the project");
    assert_eq!(
        std::fs::read_to_string(tree.outside.join("secret")).unwrap(),
        "SECRET\n"
    );
}
