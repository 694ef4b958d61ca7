//! Where a tool's path points: relative paths resolve against a base directory and `..` folds
//! lexically, so an approval layer can judge a path that does not exist yet.

use std::path::{Component, Path, PathBuf};

/// Folds `.` and `..` out of `path` without touching the filesystem.
///
/// `..` at the root stays at the root, as the kernel does. Symlinks are not followed: the
/// answer is about the path as written.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                let at_root = matches!(
                    out.components().next_back(),
                    None | Some(Component::RootDir | Component::Prefix(_))
                );
                let ends_in_parent =
                    matches!(out.components().next_back(), Some(Component::ParentDir));
                if at_root && out.has_root() {
                    // `/..` is `/`.
                } else if at_root || ends_in_parent {
                    // A relative path that climbs above its start keeps its `..`.
                    out.push("..");
                } else {
                    out.pop();
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Resolves `path` against `base` (unless it is absolute) and normalizes the result.
pub fn resolve(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        normalize(path)
    } else {
        normalize(&base.join(path))
    }
}

/// Whether `path` (relative to `project_dir`, or absolute) lies inside `project_dir`.
///
/// Both sides are normalized lexically; neither has to exist. The project directory itself
/// counts as inside.
pub fn is_inside(project_dir: &Path, path: &Path) -> bool {
    let root = normalize(project_dir);
    resolve(&root, path).starts_with(&root)
}

/// How a path is shown to the model and the user: relative to the project when inside it.
pub fn display(project_dir: &Path, path: &Path) -> String {
    let root = normalize(project_dir);
    let full = resolve(&root, path);
    match full.strip_prefix(&root) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_string(),
        Ok(rel) => rel.display().to_string(),
        Err(_) => full.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_folds_dots() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("/../x")), PathBuf::from("/x"));
        assert_eq!(normalize(Path::new("a/../../b")), PathBuf::from("../b"));
        assert_eq!(normalize(Path::new("./a/")), PathBuf::from("a"));
    }

    #[test]
    fn inside_and_outside() {
        let root = Path::new("/work/proj");
        assert!(is_inside(root, Path::new("src/main.rs")));
        assert!(is_inside(root, Path::new(".")));
        assert!(is_inside(root, Path::new("/work/proj/a/../b")));
        assert!(is_inside(root, Path::new("does/not/exist/yet.txt")));
        assert!(!is_inside(root, Path::new("../other/file")));
        assert!(!is_inside(root, Path::new("src/../../x")));
        assert!(!is_inside(root, Path::new("/etc/passwd")));
        assert!(!is_inside(root, Path::new("/work/project-other/x")));
    }

    #[test]
    fn display_is_relative_inside() {
        let root = Path::new("/work/proj");
        assert_eq!(display(root, Path::new("/work/proj/src/a.rs")), "src/a.rs");
        assert_eq!(display(root, Path::new("src/../Cargo.toml")), "Cargo.toml");
        assert_eq!(display(root, Path::new(".")), ".");
        assert_eq!(display(root, Path::new("/tmp/x")), "/tmp/x");
    }
}
