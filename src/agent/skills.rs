//! Skills, in Codex's format: a folder holding a `SKILL.md` whose front matter names it and says
//! what it is for (`name:`, `description:`), the rest being instructions the model reads when
//! the skill fits the task. kelp finds them, lists them (`/skills`, the app-server's
//! `skills/list`) and tells the model of each, as Codex does: name, description and where its
//! `SKILL.md` is, so the model opens the file itself when it needs it.
//!
//! Found, each name once, the first found kept:
//! - the person's (`user`): `skills/` beside `config.toml`, then Codex's `$CODEX_HOME/skills`
//!   (`~/.codex/skills`);
//! - the project's (`repo`): `.codex/skills` and `.agents/skills` in the project folder and in
//!   the folders above it up to the git root. These are read through the tools' opener held on
//!   the project's root: a link that leads out of it is not followed.
//!
//! A skill folder may sit up to three folders deep under a skills folder.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::config::prompts::{front_field, front_matter};
use crate::protocol::{Found, Scope, Skill};
use crate::tools::opener::{Approved, Opener};

impl Scope {
    /// The protocol's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Repo => "repo",
        }
    }
}

/// The name of a skill's file.
pub const FILE_NAME: &str = "SKILL.md";
/// How much of a `SKILL.md` is read for its front matter.
const MAX_HEAD_BYTES: u64 = 16 * 1024;
/// How many skills are told to the model at most.
const MAX_SKILLS: usize = 64;
/// How deep under a skills folder a skill's folder may be.
const MAX_DEPTH: usize = 3;
/// The longest name and description kept.
const MAX_NAME: usize = 64;
const MAX_DESCRIPTION: usize = 1024;

/// The skills of `project_dir`, with the person's from `config_dir`, Codex's home (found
/// through `lookup`, the environment) and `settings`' extra folders; those `settings` turn off
/// are set apart.
pub fn discover(
    config_dir: &Path,
    settings: &crate::config::modes::SkillSettings,
    project_dir: &Path,
    lookup: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Found {
    let mut found = discover_all(config_dir, &settings.extra_roots, project_dir, lookup);
    let (on, off) = std::mem::take(&mut found.skills)
        .into_iter()
        .partition(|skill| !settings.is_off(&skill.name, &skill.path));
    found.skills = on;
    found.off = off;
    found
}

fn discover_all(
    config_dir: &Path,
    extra_roots: &[PathBuf],
    project_dir: &Path,
    lookup: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Found {
    let codex_home = lookup("CODEX_HOME")
        .filter(|home| !home.is_empty())
        .map(PathBuf::from)
        .or_else(|| lookup("HOME").map(|home| PathBuf::from(home).join(".codex")));
    let mut found = Found::default();
    let user = std::iter::once(config_dir.join("skills"))
        .chain(codex_home.map(|home| home.join("skills")))
        .chain(extra_roots.iter().cloned());
    for folder in user {
        scan(&folder, None, Scope::User, &mut found);
    }
    let root = project_dir
        .ancestors()
        .find(|dir| dir.join(".git").symlink_metadata().is_ok())
        .unwrap_or(project_dir);
    if let Ok(opener) = Opener::new(root, Approved::Only(Vec::new())) {
        let mut dirs: Vec<&Path> = project_dir
            .ancestors()
            .take_while(|dir| dir.starts_with(root))
            .collect();
        dirs.dedup();
        for dir in dirs {
            for folder in [".codex/skills", ".agents/skills"] {
                scan(&dir.join(folder), Some(&opener), Scope::Repo, &mut found);
            }
        }
    }
    found
}

/// Adds the skills beneath `folder`, read through `opener` when given.
fn scan(folder: &Path, opener: Option<&Opener>, scope: Scope, found: &mut Found) {
    let mut pending = vec![(folder.to_path_buf(), 0)];
    while let Some((dir, depth)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut subdirs: Vec<PathBuf> = entries
            .flatten()
            .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
            .map(|entry| entry.path())
            .collect();
        subdirs.sort();
        let mut deeper = Vec::new();
        for sub in subdirs {
            let file = sub.join(FILE_NAME);
            if file.symlink_metadata().is_ok() {
                if found.skills.len() >= MAX_SKILLS {
                    return;
                }
                match read_skill(&file, opener) {
                    Ok((name, description)) => {
                        if !found.skills.iter().any(|skill| skill.name == name) {
                            found.skills.push(Skill {
                                name,
                                description,
                                path: file,
                                scope,
                            });
                        }
                    }
                    Err(why) => found.errors.push((file, why)),
                }
            } else if depth + 1 < MAX_DEPTH {
                deeper.push((sub, depth + 1));
            }
        }
        // Taken from the end: the first in name order next.
        pending.extend(deeper.into_iter().rev());
    }
}

/// The name and description of the skill at `file`.
fn read_skill(file: &Path, opener: Option<&Opener>) -> Result<(String, String), String> {
    let (handle, meta) = match opener {
        Some(opener) => opener.open(file).map_err(|e| e.to_string())?,
        None => crate::private_file::open_without_waiting(file).map_err(|e| e.to_string())?,
    };
    if !meta.is_file() {
        return Err("it is not a regular file".to_string());
    }
    let mut head = Vec::new();
    handle
        .take(MAX_HEAD_BYTES)
        .read_to_end(&mut head)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&head);
    let front = front_matter(&text)
        .0
        .ok_or("it has no front matter (--- name: … description: … ---)")?;
    let name = front_field(front, "name").ok_or("its front matter has no name")?;
    let description =
        front_field(front, "description").ok_or("its front matter has no description")?;
    let clean = |text: String, max: usize| {
        crate::terminal_text::printable(&text)
            .chars()
            .take(max)
            .collect::<String>()
    };
    Ok((clean(name, MAX_NAME), clean(description, MAX_DESCRIPTION)))
}

/// What the model is told of `skills`, as the last part of the instructions message; `None`
/// when there are none.
pub fn instructions(skills: &[Skill]) -> Option<String> {
    if skills.is_empty() {
        return None;
    }
    let mut text = format!(
        "{}\nA skill is a set of instructions kept in a file. Each entry gives its name, what it \
         is for, and its file. When a task matches a skill's description, or the person names \
         the skill, read its file with read_file and follow it; read only what the task \
         needs. Do not carry a skill over to later tasks unless it fits them too.\n",
        crate::llm::types::SKILLS_HEADING
    );
    for skill in skills {
        text.push_str(&format!(
            "- {}: {} (file: {})\n",
            skill.name,
            skill.description,
            skill.path.display()
        ));
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn skills_are_found_for_the_person_and_the_project_each_name_once() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let (config, codex, project) = (base.join("cfg"), base.join("codex"), base.join("app"));
        std::fs::create_dir_all(project.join(".git")).unwrap();
        let skill = |name: &str, what: &str| {
            format!("---\nname: {name}\ndescription: {what}\n---\n\nSteps for {name}.\n")
        };
        write(
            &config.join("skills/pdf/SKILL.md"),
            &skill("pdf", "Fill PDF forms"),
        );
        write(
            &codex.join("skills/pdf/SKILL.md"),
            &skill("pdf", "Codex's copy"),
        );
        write(
            &codex.join("skills/team/release/SKILL.md"),
            &skill("release", "Cut a release"),
        );
        write(
            &project.join(".codex/skills/migrate/SKILL.md"),
            &skill("migrate", "Write a DB migration"),
        );
        write(
            &project.join(".codex/skills/broken/SKILL.md"),
            "no front matter",
        );
        // A project's skill that leads out of it is not read.
        write(
            &base.join("secret/SKILL.md"),
            &skill("secret", "SECRET-TEXT"),
        );
        let leak = project.join(".agents/skills/leak");
        std::fs::create_dir_all(&leak).unwrap();
        std::os::unix::fs::symlink(base.join("secret/SKILL.md"), leak.join("SKILL.md")).unwrap();
        let lookup = |name: &str| (name == "CODEX_HOME").then(|| codex.clone().into_os_string());
        let found = discover(&config, &Default::default(), &project, lookup);
        let names: Vec<(&str, Scope)> = found
            .skills
            .iter()
            .map(|s| (s.name.as_str(), s.scope))
            .collect();
        assert_eq!(
            names,
            [
                ("pdf", Scope::User),
                ("release", Scope::User),
                ("migrate", Scope::Repo)
            ]
        );
        assert_eq!(found.skills[0].description, "Fill PDF forms");
        let errors: Vec<String> = found
            .errors
            .iter()
            .map(|(path, _)| path.strip_prefix(&project).unwrap().display().to_string())
            .collect();
        assert_eq!(
            errors,
            [
                ".codex/skills/broken/SKILL.md",
                ".agents/skills/leak/SKILL.md"
            ]
        );
        // Turned off by name, and a folder of more: the one is set apart, the other found.
        let extra = base.join("team-skills");
        write(&extra.join("deploy/SKILL.md"), &skill("deploy", "Ship it"));
        let settings = crate::config::modes::SkillSettings {
            extra_roots: vec![extra],
            off: vec![crate::config::modes::SkillOff {
                path: None,
                name: Some("pdf".into()),
            }],
        };
        let chosen = discover(&config, &settings, &project, lookup);
        let on: Vec<&str> = chosen.skills.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(on, ["release", "deploy", "migrate"]);
        assert_eq!(chosen.off[0].name, "pdf");
        let told = instructions(&found.skills).unwrap();
        assert!(
            told.contains("- migrate: Write a DB migration (file: "),
            "{told}"
        );
        assert!(!told.contains("SECRET-TEXT"), "{told}");
    }
}
