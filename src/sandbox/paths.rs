//! Where a tool's path points. Relative paths resolve against a base directory and `..` folds
//! lexically, so the path a tool opens is the path that was judged. Whether it lies inside the
//! project is then decided on where it really leads: every symlink followed, for the parts that
//! exist ([`real_path`]), never on the text of the path.

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

/// Whether `path` (relative to `project_dir`, or absolute) leads inside `project_dir`, with
/// symlinks followed on both sides. The project directory itself counts as inside; a path that
/// cannot be resolved (a link loop) does not.
pub fn is_inside(project_dir: &Path, path: &Path) -> bool {
    let Ok(root) = real_path(&normalize(project_dir)) else {
        return false;
    };
    real_path(&resolve(project_dir, path)).is_ok_and(|real| real.starts_with(&root))
}

/// Where `path` (relative to `project_dir`, or absolute) really leads when that is outside
/// `project_dir`; `None` when it stays inside. A path that cannot be resolved is reported as
/// written.
pub fn outside(project_dir: &Path, path: &Path) -> Option<PathBuf> {
    let full = resolve(project_dir, path);
    let root = real_path(&normalize(project_dir)).ok()?;
    match real_path(&full) {
        Ok(real) if real.starts_with(&root) => None,
        Ok(real) => Some(real),
        Err(_) => Some(full),
    }
}

/// Whether `path` is a file with other names (hard links), which may lie outside the project:
/// reading it could read an outside file.
pub fn has_other_names(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.nlink() > 1)
}

/// How many symlinks a resolution follows before calling it a loop (the kernel's limit).
const MAX_LINKS: usize = 40;

/// Where `path` really leads: every symlink followed for the components that exist, `.` and
/// `..` applied in the order the kernel would (a `..` after a link climbs out of the link's
/// target, not back to where the link sits). Components that do not exist yet are appended as
/// written. A dangling symlink is followed to its target, since writing through it would
/// create that target. `Err` for a link loop or a component that cannot be read.
pub fn real_path(path: &Path) -> std::io::Result<PathBuf> {
    let mut todo: Vec<std::ffi::OsString> = Vec::new();
    push_reversed(&mut todo, path);
    let mut out = if path.is_absolute() {
        PathBuf::from("/")
    } else {
        std::env::current_dir()?
    };
    let mut links = 0;
    // Once a component is missing, the rest cannot exist either: it is appended as written.
    let mut missing = false;
    while let Some(part) = todo.pop() {
        match part.to_str() {
            Some("" | ".") => continue,
            Some("..") => {
                out.pop();
                // Back in a directory that may exist: look again from here.
                missing = false;
                continue;
            }
            _ => {}
        }
        let next = out.join(&part);
        if missing {
            out = next;
            continue;
        }
        match std::fs::symlink_metadata(&next) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!("too many levels of symbolic links at {}", next.display()),
                    ));
                }
                let target = std::fs::read_link(&next)?;
                if target.is_absolute() {
                    out = PathBuf::from("/");
                }
                push_reversed(&mut todo, &target);
            }
            Ok(_) => out = next,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                missing = true;
                out = next;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Pushes the components of `path` so that popping yields them in order.
fn push_reversed(todo: &mut Vec<std::ffi::OsString>, path: &Path) {
    let parts: Vec<_> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_os_string()),
            Component::ParentDir => Some("..".into()),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => None,
        })
        .collect();
    todo.extend(parts.into_iter().rev());
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

    /// A project and an outside folder with a secret, side by side in a temp dir.
    fn project_and_outside() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("project");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(project.join("src")).unwrap();
        std::fs::create_dir_all(outside.join("sub")).unwrap();
        std::fs::write(outside.join("secret.txt"), "secret\n").unwrap();
        (dir, project, outside)
    }

    #[test]
    fn links_are_judged_by_where_they_lead() {
        use std::os::unix::fs::symlink;
        let (_dir, project, out_dir) = project_and_outside();
        let real_outside = out_dir.canonicalize().unwrap();
        symlink(out_dir.join("secret.txt"), project.join("notes.txt")).unwrap();
        symlink(&out_dir, project.join("dirlink")).unwrap();
        // a -> b -> the outside folder
        symlink(project.join("b"), project.join("a")).unwrap();
        symlink(&out_dir, project.join("b")).unwrap();
        symlink("/", project.join("root")).unwrap();
        symlink("loop2", project.join("loop1")).unwrap();
        symlink("loop1", project.join("loop2")).unwrap();
        symlink(out_dir.join("new.sh"), project.join("dangling.sh")).unwrap();
        symlink("src", project.join("srclink")).unwrap();
        for escape in [
            "notes.txt",
            "dirlink/secret.txt",
            "dirlink/not-yet.txt",
            "a/secret.txt",
            "root/etc/passwd",
            "loop1",
            "loop1/x",
            "dangling.sh",
        ] {
            assert!(!is_inside(&project, Path::new(escape)), "{escape}");
            assert!(outside(&project, Path::new(escape)).is_some(), "{escape}");
        }
        assert_eq!(
            outside(&project, Path::new("notes.txt")),
            Some(real_outside.join("secret.txt"))
        );
        for inside in ["srclink/main.rs", "src/new/deeper.rs", ".", "dirlink/.."] {
            assert!(is_inside(&project, Path::new(inside)), "{inside}");
        }
        // `..` after a link leaves the link's target, as the kernel would.
        assert_eq!(
            real_path(&project.join("dirlink/sub/../secret.txt")).unwrap(),
            real_outside.join("secret.txt")
        );
        assert!(real_path(&project.join("loop1")).is_err());
    }

    #[test]
    fn hard_links_have_other_names() {
        let (_dir, project, outside) = project_and_outside();
        std::fs::hard_link(outside.join("secret.txt"), project.join("hard.txt")).unwrap();
        std::fs::write(project.join("plain.txt"), "x").unwrap();
        assert!(has_other_names(&project.join("hard.txt")));
        assert!(!has_other_names(&project.join("plain.txt")));
        assert!(!has_other_names(&project.join("src")));
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
