//! AGENTS.md discovery in a real folder tree.

use std::path::Path;

use kelp::agent::instructions;
use kelp::llm::types::{Content, Item, Role};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn parts(item: &Item) -> Vec<String> {
    match item {
        Item::Message {
            role: Role::User,
            content,
        } => content
            .iter()
            .map(|c| match c {
                Content::InputText { text } => text.clone(),
                other => panic!("not input text: {other:?}"),
            })
            .collect(),
        other => panic!("not a user message: {other:?}"),
    }
}

/// `outside/repo/.git`, with AGENTS.md outside the repo, at its root, in `a`, and in `a/b`;
/// the project is `a/b/c`, which has none of its own.
fn tree() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().canonicalize().unwrap();
    let config_dir = base.join("config/kelp");
    let repo = base.join("outside/repo");
    write(
        &base.join("outside/AGENTS.md"),
        "NOT MINE: above the git root",
    );
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    write(&config_dir.join("AGENTS.md"), "personal: answer in English");
    write(&repo.join("AGENTS.md"), "root: run cargo fmt");
    write(&repo.join("a/AGENTS.md"), "a: prefer iterators\n\n");
    write(&repo.join("a/b/AGENTS.md"), "   \n");
    std::fs::create_dir_all(repo.join("a/b/c")).unwrap();
    (tmp, config_dir, repo)
}

#[test]
fn personal_file_first_then_root_first_up_to_the_git_root() {
    let (_tmp, config_dir, repo) = tree();
    let project = repo.join("a/b/c");
    let found = instructions::load(&config_dir, &project);
    assert!(found.warnings.is_empty(), "{:?}", found.warnings);

    let paths: Vec<_> = found.files.iter().map(|f| f.path.clone()).collect();
    assert_eq!(
        paths,
        [
            config_dir.join("AGENTS.md"),
            repo.join("AGENTS.md"),
            repo.join("a/AGENTS.md"),
            repo.join("a/b/AGENTS.md"),
        ]
    );
    assert!(found.files.iter().all(|f| !f.is_cut()));
    assert_eq!(found.files[1].bytes, "root: run cargo fmt".len() as u64);

    let message = found.message.unwrap();
    assert!(message.is_instructions_message());
    let parts = parts(&message);
    // The blank file sends nothing; nothing above the git root is read.
    assert_eq!(parts.len(), 3);
    assert_eq!(
        parts[0],
        format!(
            "# AGENTS.md instructions for {}\n\n<INSTRUCTIONS>\npersonal: answer in English\n</INSTRUCTIONS>",
            config_dir.display()
        )
    );
    assert!(parts[1].starts_with(&format!(
        "# AGENTS.md instructions for {}\n",
        repo.display()
    )));
    assert!(parts[2].contains("a: prefer iterators\n</INSTRUCTIONS>"));
    assert!(parts.iter().all(|p| !p.contains("NOT MINE")));
}

#[test]
fn a_git_file_marks_the_root_too_and_without_a_root_only_the_project_is_read() {
    let (_tmp, config_dir, repo) = tree();
    // A worktree or submodule has a `.git` file instead of a folder.
    write(&repo.join("a/.git"), "gitdir: elsewhere");
    let found = instructions::load(&config_dir, &repo.join("a/b"));
    let names: Vec<_> = found.files.iter().map(|f| f.path.clone()).collect();
    assert_eq!(
        names,
        [
            config_dir.join("AGENTS.md"),
            repo.join("a/AGENTS.md"),
            repo.join("a/b/AGENTS.md")
        ]
    );

    let plain = tempfile::tempdir().unwrap();
    let project = plain.path().join("p");
    write(&project.join("AGENTS.md"), "only me");
    write(&plain.path().join("AGENTS.md"), "not me");
    let found = instructions::load(&plain.path().join("no-config"), &project);
    assert_eq!(found.files.len(), 1);
    assert_eq!(found.files[0].path, project.join("AGENTS.md"));

    let none = instructions::load(
        &plain.path().join("no-config"),
        plain.path().join("q").as_path(),
    );
    assert_eq!(none.message, None);
    assert!(none.files.is_empty());
}

#[test]
fn the_cap_cuts_and_says_so() {
    let (_tmp, config_dir, repo) = tree();
    write(&repo.join("AGENTS.md"), &"r".repeat(100));
    // 27 personal bytes + 100 root bytes; a 60-byte cap cuts the root file and drops `a`.
    let found = instructions::load_capped(&config_dir, &repo.join("a"), 60);
    let cut: Vec<_> = found
        .files
        .iter()
        .map(|f| (f.included, f.bytes, f.is_cut()))
        .collect();
    assert_eq!(cut, [(27, 27, false), (33, 100, true), (0, 21, true)]);
    let parts = parts(&found.message.unwrap());
    assert_eq!(parts.len(), 2);
    assert!(parts[1].contains(&format!(
        "<INSTRUCTIONS>\n{}\n</INSTRUCTIONS>",
        "r".repeat(33)
    )));
    assert!(
        parts[1].ends_with(&format!(
            "[Project instructions are limited to 60 bytes; the rest was left out: {}, {}]",
            repo.join("AGENTS.md").display(),
            repo.join("a/AGENTS.md").display()
        )),
        "{}",
        parts[1]
    );

    // The real cap is 32 KiB.
    write(&repo.join("AGENTS.md"), &"x".repeat(40 * 1024));
    let found = instructions::load(&config_dir, &repo);
    assert_eq!(
        found.files.iter().map(|f| f.included).sum::<u64>(),
        instructions::MAX_BYTES as u64
    );
    assert!(parts_text(&found.message.unwrap()).contains("limited to 32 KiB"));
}

fn parts_text(item: &Item) -> String {
    parts(item).join("\n")
}
