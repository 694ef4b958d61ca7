//! A worktree per conversation (`--worktree`, `/worktree`, a child agent's own): a new git
//! worktree on a branch of its own (`kelp/ID`), in a folder of kelp's beside the repository
//! (`PARENT/.kelp-worktrees/ID/REPO`), so agents working at once never write over each other's
//! files. git itself is the list of them: `kelp worktree list` reads `git worktree list` and
//! keeps those in kelp's folder; `remove` takes only one of those.
//!
//! kelp runs this git itself, outside the sandbox (it writes the repository's `worktrees/` and
//! kelp's folder), so it runs as `/diff`'s does: with every setting through which a repository
//! runs code switched off (hooks, the file-system monitor, clean and smudge filters), since
//! the model may have written the repository's configuration.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::git::{filter_settings, without_code};
use crate::protocol::Worktree;

/// The folder of kelp's beside the repository that holds its worktrees.
pub const FOLDER: &str = ".kelp-worktrees";

/// What each worktree's branch is named with, before its id.
pub const BRANCH_PREFIX: &str = "kelp/";

/// One of kelp's worktrees as `kelp worktree list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    pub root: PathBuf,
    /// Its branch; `None` when its HEAD is detached.
    pub branch: Option<String>,
    /// The commit checked out, abbreviated.
    pub head: String,
    pub state: State,
}

/// Whether a worktree holds work not committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Clean,
    /// This many files changed or not tracked.
    Changed(usize),
    /// Its folder is gone (git forgets it on `remove`).
    Missing,
}

/// The repository a folder is in, as a worktree needs it.
struct Repository {
    /// The top of the worktree the folder is in.
    top: PathBuf,
    /// The folder below `top`, with its trailing slash; empty at the top.
    prefix: String,
    /// The main worktree's folder: the one whose git folder the others share.
    home: PathBuf,
}

impl Repository {
    fn of(dir: &Path) -> Result<Self, String> {
        let out = git(
            dir,
            &[],
            &[
                "rev-parse",
                "--path-format=absolute",
                "--show-toplevel",
                "--git-common-dir",
                "--show-prefix",
            ],
        )
        .map_err(|_| format!("{} is not in a git repository", dir.display()))?;
        let mut lines = out.lines();
        let (Some(top), Some(common)) = (lines.next(), lines.next()) else {
            return Err(format!(
                "{}: git did not name its repository",
                dir.display()
            ));
        };
        let prefix = lines.next().unwrap_or_default().to_string();
        let (top, common) = (PathBuf::from(top), PathBuf::from(common));
        // A repository's own `.git` sits in its main worktree; a bare or separate git folder
        // has none, and the worktree in hand stands for it.
        let home = match common.file_name() {
            Some(name) if name == ".git" => common.parent().map(Path::to_path_buf),
            _ => None,
        }
        .unwrap_or_else(|| top.clone());
        Ok(Self { top, prefix, home })
    }

    /// kelp's folder beside the repository.
    fn folder(&self) -> PathBuf {
        self.home.parent().unwrap_or(Path::new("/")).join(FOLDER)
    }
}

/// A new worktree of the repository `project_dir` is in, on a new branch from its HEAD, with
/// the same folder below its top; why not, in a line.
pub fn create(project_dir: &Path) -> Result<Worktree, String> {
    let repository = Repository::of(project_dir)?;
    let top = &repository.top;
    if git(
        top,
        &[],
        &["rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
    )
    .is_err()
    {
        return Err("the repository has no commit yet: a worktree starts from one".into());
    }
    let folder = repository.folder();
    std::fs::create_dir_all(&folder)
        .map_err(|e| format!("cannot make {}: {e}", folder.display()))?;
    let name = repository
        .home
        .file_name()
        .map_or_else(|| "repository".into(), |name| name.to_os_string());
    let filters = filters(top);
    for _ in 0..16 {
        let id = fresh_id()?;
        let holder = folder.join(&id);
        let branch = format!("{BRANCH_PREFIX}{id}");
        let taken = git(top, &[], &["rev-parse", "--verify", "--quiet", &branch]).is_ok();
        if taken || holder.symlink_metadata().is_ok() {
            continue;
        }
        let root = holder.join(&name);
        let root_text = root.to_string_lossy().into_owned();
        let made = git(
            top,
            &filters,
            &[
                "worktree", "add", "--quiet", "-b", &branch, &root_text, "HEAD",
            ],
        );
        if let Err(why) = made {
            let _ = std::fs::remove_dir(&holder);
            return Err(format!("git worktree add: {why}"));
        }
        let below = repository.prefix.trim_end_matches('/');
        let project_dir = if below.is_empty() {
            root.clone()
        } else {
            root.join(below)
        };
        return Ok(Worktree {
            id,
            root,
            project_dir,
            branch,
        });
    }
    Err(format!(
        "no free worktree name left in {}: remove some with `kelp worktree remove`",
        folder.display()
    ))
}

/// kelp's worktrees of the repository `project_dir` is in, as git lists them.
pub fn list(project_dir: &Path) -> Result<Vec<Listed>, String> {
    let repository = Repository::of(project_dir)?;
    let folder = repository.folder();
    let listed = git(
        &repository.top,
        &[],
        &["worktree", "list", "--porcelain", "-z"],
    )?;
    let filters = filters(&repository.top);
    Ok(parse_list(&listed, &folder)
        .into_iter()
        .map(|mut worktree| {
            worktree.state = state_of(&worktree.root, &filters);
            worktree
        })
        .collect())
}

/// Removes kelp's worktree named `name` (its id, its branch or its folder), refused while it
/// holds work not committed unless `force`; its branch stays, with its commits.
pub fn remove(project_dir: &Path, name: &str, force: bool) -> Result<Listed, String> {
    let repository = Repository::of(project_dir)?;
    let found = list(project_dir)?
        .into_iter()
        .find(|worktree| {
            worktree.id == name
                || worktree.branch.as_deref() == Some(name)
                || worktree.root == Path::new(name)
        })
        .ok_or_else(|| {
            format!("no worktree of kelp's named {name:?} here: `kelp worktree list` shows them")
        })?;
    if let State::Changed(files) = found.state
        && !force
    {
        return Err(format!(
            "the worktree {} has {files} changed or new file{}: commit them on its branch, or \
             give --force to remove them with it",
            found.id,
            if files == 1 { "" } else { "s" }
        ));
    }
    let top = &repository.top;
    let root = found.root.to_string_lossy().into_owned();
    let removed = if found.state == State::Missing {
        git(top, &[], &["worktree", "prune"])
    } else {
        let mut args = vec!["worktree", "remove"];
        if force {
            args.push("--force");
        }
        args.push(&root);
        git(top, &filters(top), &args)
    };
    removed.map_err(|why| format!("git worktree remove: {why}"))?;
    // The folder holding it, kelp's, goes with it when nothing else is in it.
    if let Some(holder) = found.root.parent() {
        let _ = std::fs::remove_dir(holder);
    }
    let _ = std::fs::remove_dir(repository.folder());
    Ok(found)
}

/// `git worktree list --porcelain -z`'s records, those in `folder` kept.
fn parse_list(listed: &str, folder: &Path) -> Vec<Listed> {
    let mut found = Vec::new();
    let mut record: Vec<&str> = Vec::new();
    // Each line ends in a NUL; an empty line ends a record.
    for line in listed.split('\0') {
        if !line.is_empty() {
            record.push(line);
            continue;
        }
        if let Some(worktree) = listed_of(&record, folder) {
            found.push(worktree);
        }
        record.clear();
    }
    found
}

fn listed_of(record: &[&str], folder: &Path) -> Option<Listed> {
    let field = |name: &str| {
        record
            .iter()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
    };
    let root = PathBuf::from(field("worktree")?);
    // git's list is read from the repository's files: a path that climbs out of kelp's
    // folder (`ID/../..`) is never taken for one of kelp's, so `remove` never reaches it.
    if !root.components().all(|part| {
        matches!(
            part,
            std::path::Component::RootDir | std::path::Component::Normal(_)
        )
    }) {
        return None;
    }
    let id = root
        .strip_prefix(folder)
        .ok()?
        .components()
        .next()?
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    let branch = field("branch").map(|branch| {
        branch
            .strip_prefix("refs/heads/")
            .unwrap_or(branch)
            .to_string()
    });
    let head = field("HEAD").unwrap_or_default().chars().take(8).collect();
    Some(Listed {
        id,
        root,
        branch,
        head,
        state: State::Clean,
    })
}

fn state_of(root: &Path, filters: &[String]) -> State {
    if !root.is_dir() {
        return State::Missing;
    }
    match git(
        root,
        filters,
        &["status", "--porcelain", "--untracked-files=normal"],
    ) {
        Ok(status) if status.trim().is_empty() => State::Clean,
        Ok(status) => State::Changed(status.lines().count()),
        // A worktree git cannot read is not called clean.
        Err(_) => State::Changed(0),
    }
}

/// What switches the repository's filter drivers off for a checkout or a status.
fn filters(dir: &Path) -> Vec<String> {
    let listed = git(
        dir,
        &[],
        &["config", "--null", "--get-regexp", r"^filter\."],
    );
    filter_settings(&listed.unwrap_or_default())
}

fn fresh_id() -> Result<String, String> {
    let bytes = crate::random::bytes::<2>().map_err(|e| format!("no random name: {e}"))?;
    Ok(format!("{:02x}{:02x}", bytes[0], bytes[1]))
}

/// git in `dir` with `settings` and every code-running setting off; its stdout, or its
/// error's last line.
fn git(dir: &Path, settings: &[String], args: &[&str]) -> Result<String, String> {
    let mut command = Command::new("git");
    without_code(&mut command, settings);
    let out = command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let said = String::from_utf8_lossy(&out.stderr);
    let last = said
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("failed");
    Err(crate::terminal_text::printable(last.trim()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repository() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("shop");
        std::fs::create_dir_all(repo.join("web")).unwrap();
        std::fs::write(repo.join("web/index.html"), "hello\n").unwrap();
        for args in [
            &["init", "-q"][..],
            &["add", "."],
            &[
                "-c",
                "user.name=k",
                "-c",
                "user.email=k@k",
                "commit",
                "-q",
                "-m",
                "first",
            ],
        ] {
            let status = Command::new("git")
                .args(args)
                .current_dir(&repo)
                .status()
                .unwrap();
            assert!(status.success());
        }
        let repo = std::fs::canonicalize(repo).unwrap();
        (dir, repo)
    }

    #[test]
    fn a_worktree_is_made_beside_the_repository_listed_and_removed() {
        let (_dir, repo) = repository();
        let at_top = create(&repo).unwrap();
        assert_eq!(
            at_top.project_dir, at_top.root,
            "no trailing slash at the top"
        );
        remove(&repo, &at_top.id, false).unwrap();
        let made = create(&repo.join("web")).unwrap();
        let folder = repo.parent().unwrap().join(FOLDER);
        assert_eq!(made.root, folder.join(&made.id).join("shop"));
        assert_eq!(made.project_dir, made.root.join("web"));
        assert_eq!(made.branch, format!("kelp/{}", made.id));
        assert_eq!(
            std::fs::read_to_string(made.project_dir.join("index.html")).unwrap(),
            "hello\n"
        );

        let listed = list(&repo).unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].id, made.id);
        assert_eq!(listed[0].branch.as_deref(), Some(made.branch.as_str()));
        assert_eq!(listed[0].state, State::Clean);

        std::fs::write(made.root.join("new.txt"), "work\n").unwrap();
        assert_eq!(list(&made.project_dir).unwrap()[0].state, State::Changed(1));
        let refused = remove(&repo, &made.id, false).unwrap_err();
        assert!(refused.contains("1 changed or new file:"), "{refused}");
        assert!(made.root.is_dir());

        let removed = remove(&repo, &made.branch, true).unwrap();
        assert_eq!(removed.id, made.id);
        assert!(!made.root.exists());
        assert!(!folder.exists(), "kelp's empty folder goes too");
        assert!(list(&repo).unwrap().is_empty());
        // The branch stays, with whatever was committed on it.
        let branch = git(&repo, &[], &["rev-parse", "--verify", &made.branch]);
        assert!(branch.is_ok());
    }

    #[test]
    fn two_worktrees_get_two_names_and_only_kelps_are_listed() {
        let (dir, repo) = repository();
        let (first, second) = (create(&repo).unwrap(), create(&repo).unwrap());
        assert_ne!(first.id, second.id);
        let own = dir.path().join("own-worktree");
        let own_text = own.to_string_lossy().into_owned();
        git(
            &repo,
            &[],
            &["worktree", "add", "-q", "--detach", &own_text],
        )
        .unwrap();
        let mut ids: Vec<String> = list(&repo).unwrap().into_iter().map(|w| w.id).collect();
        ids.sort();
        let mut wanted = vec![first.id, second.id];
        wanted.sort();
        assert_eq!(ids, wanted);
        let refused = remove(&repo, &own_text, true).unwrap_err();
        assert!(refused.contains("no worktree of kelp's"), "{refused}");
        assert!(own.is_dir());
    }

    #[test]
    fn a_listed_path_that_climbs_out_of_kelps_folder_is_not_kelps() {
        let folder = Path::new("/p/.kelp-worktrees");
        let listed = "worktree /p/repo\0HEAD abc\0\0\
                      worktree /p/.kelp-worktrees/ab12/../../../home/me\0HEAD abc\0\0\
                      worktree /p/.kelp-worktrees/cd34/repo\0HEAD abc\0branch refs/heads/kelp/cd34\0\0";
        let found = parse_list(listed, folder);
        let ids: Vec<&str> = found.iter().map(|w| w.id.as_str()).collect();
        assert_eq!(ids, ["cd34"]);
        assert_eq!(found[0].branch.as_deref(), Some("kelp/cd34"));
    }

    #[test]
    fn a_repository_without_a_commit_or_no_repository_is_said() {
        let dir = tempfile::tempdir().unwrap();
        let said = create(dir.path()).unwrap_err();
        assert!(said.contains("is not in a git repository"), "{said}");
        let status = Command::new("git")
            .args(["init", "-q"])
            .current_dir(dir.path())
            .status()
            .unwrap();
        assert!(status.success());
        let said = create(dir.path()).unwrap_err();
        assert_eq!(
            said,
            "the repository has no commit yet: a worktree starts from one"
        );
    }

    #[test]
    fn a_hook_of_the_repository_does_not_run_as_kelp_makes_a_worktree() {
        let (dir, repo) = repository();
        let hook = repo.join(".git/hooks/post-checkout");
        let ran = dir.path().join("hook-ran");
        std::fs::write(&hook, format!("#!/bin/sh\ntouch {}\n", ran.display())).unwrap();
        let mut permissions = std::fs::metadata(&hook).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&hook, permissions).unwrap();
        let made = create(&repo).unwrap();
        assert!(made.root.is_dir());
        assert!(!ran.exists(), "the post-checkout hook ran");
    }
}
