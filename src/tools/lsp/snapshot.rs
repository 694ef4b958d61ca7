//! What a command changed among the files a language server checks: the project walked (as
//! the tools walk it, ignore rules kept) before and after the command, each such file by its
//! size and time of change. Bounded: a project with more entries than [`MOST_ENTRIES`] has
//! only its first ones watched, so a command in a huge tree costs at most that walk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The most entries (files and folders, of any kind) one snapshot looks at.
pub const MOST_ENTRIES: usize = 20_000;

/// The files a server checks, with their size and time of change.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Snapshot(HashMap<PathBuf, (u64, Option<SystemTime>)>);

impl Snapshot {
    /// The files beneath `project_dir` whose extension is one of `extensions`.
    pub fn take(project_dir: &Path, extensions: &[String]) -> Self {
        let mut files = HashMap::new();
        let walk = crate::tools::walk::project_walker(project_dir, project_dir).build();
        for entry in walk.flatten().take(MOST_ENTRIES) {
            let path = entry.path();
            let checked = path
                .extension()
                .and_then(|ext| ext.to_str())
                .is_some_and(|ext| {
                    extensions
                        .iter()
                        .any(|known| known.eq_ignore_ascii_case(ext))
                });
            if !checked || !entry.file_type().is_some_and(|kind| kind.is_file()) {
                continue;
            }
            if let Ok(meta) = entry.metadata() {
                files.insert(path.to_path_buf(), (meta.len(), meta.modified().ok()));
            }
        }
        Self(files)
    }

    /// The files that differ in `after`: changed or new (`true`), or gone (`false`).
    pub fn changed(&self, after: &Self) -> Vec<(PathBuf, bool)> {
        let mut changed: Vec<(PathBuf, bool)> = after
            .0
            .iter()
            .filter(|(path, stamp)| self.0.get(*path) != Some(stamp))
            .map(|(path, _)| (path.clone(), true))
            .chain(
                self.0
                    .keys()
                    .filter(|path| !after.0.contains_key(*path))
                    .map(|path| (path.clone(), false)),
            )
            .collect();
        changed.sort();
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_that_writes_a_new_file_and_deletes_one_is_seen_doing_so() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.py"), "x = 1\n").unwrap();
        std::fs::write(dir.path().join("b.py"), "y = 1\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "n\n").unwrap();
        let exts = vec!["py".to_string()];
        let before = Snapshot::take(dir.path(), &exts);
        std::fs::write(dir.path().join("a.py"), "x = 'one'\n").unwrap();
        std::fs::remove_file(dir.path().join("b.py")).unwrap();
        std::fs::write(dir.path().join("c.py"), "z = 1\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "changed\n").unwrap();
        let after = Snapshot::take(dir.path(), &exts);
        let names: Vec<(String, bool)> = before
            .changed(&after)
            .into_iter()
            .map(|(path, there)| {
                (
                    path.file_name().unwrap().to_string_lossy().into_owned(),
                    there,
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("a.py".into(), true),
                ("b.py".into(), false),
                ("c.py".into(), true)
            ]
        );
    }
}
