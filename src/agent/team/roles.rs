//! The roles a team offers: the person's (kelp's config, then Codex's), each with what its file
//! sets, and below them a trusted project's own, from its `.codex/config.toml` (`[agents.NAME]`
//! tables, as Codex reads a project's). A project's files are the repository's, which the model
//! may have written: they are read through the tools' opener beneath the project's root (a link
//! out of it, or a role file outside it, is refused), a project's role never replaces one of
//! the person's by name, and its sandbox only ever narrows the parent's, as every role's does.

use std::io::Read;
use std::path::Path;

use crate::config::agents::{self, AgentRole, MAX_ROLE_FILE, RoleSettings};
use crate::tools::opener::{Approved, Opener};

/// A role, and what its file sets or why it cannot be read.
pub(super) type Role = (AgentRole, Result<RoleSettings, String>);

/// The person's roles, then those of the project at `trusted_root` (`None`: not trusted, or no
/// project), each read once.
pub(super) fn roles(own: &[AgentRole], trusted_root: Option<&Path>) -> Vec<Role> {
    let mut found: Vec<Role> = own
        .iter()
        .map(|role| (role.clone(), role.settings()))
        .collect();
    if let Some(root) = trusted_root {
        for role in project_roles(root) {
            if !found.iter().any(|(known, _)| known.name == role.0.name) {
                found.push(role);
            }
        }
    }
    found
}

/// The roles of `root/.codex/config.toml`, their files read beneath `root`.
fn project_roles(root: &Path) -> Vec<Role> {
    let Ok(opener) = Opener::new(root, Approved::Only(Vec::new())) else {
        return Vec::new();
    };
    let folder = root.join(".codex");
    let file = folder.join("config.toml");
    let Ok(text) = read(&opener, &file)
        .and_then(|bytes| String::from_utf8(bytes).map_err(|_| "not UTF-8".to_string()))
    else {
        return Vec::new();
    };
    let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
        tracing::warn!(file = %file.display(), "a project's config.toml that is not TOML");
        return Vec::new();
    };
    let Some(item) = doc.get(agents::KEY) else {
        return Vec::new();
    };
    // `~/` means nothing in a repository's file: its paths are the repository's.
    let listed = agents::parse(item, &folder, None, &mut |why| {
        tracing::warn!(file = %file.display(), why, "a project's [agents] not read");
    });
    listed
        .roles
        .into_iter()
        .map(|role| {
            let settings = match &role.config_file {
                None => Ok(RoleSettings::default()),
                Some(path) => {
                    read(&opener, path).and_then(|bytes| AgentRole::settings_in(path, bytes))
                }
            };
            (role, settings)
        })
        .collect()
}

/// A project file's bytes, opened beneath the project's root.
fn read(opener: &Opener, path: &Path) -> Result<Vec<u8>, String> {
    let (file, meta) = opener
        .open_regular(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if meta.len() > MAX_ROLE_FILE {
        return Err(format!(
            "{} is more than the {MAX_ROLE_FILE} bytes kelp reads",
            path.display()
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_ROLE_FILE)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn project() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap().join("repo");
        std::fs::create_dir_all(root.join(".codex/agents")).unwrap();
        (dir, root)
    }

    #[test]
    fn a_trusted_projects_roles_come_below_the_persons_and_read_only_beneath_it() {
        let (dir, root) = project();
        let outside = dir.path().join("secret.toml");
        std::fs::write(&outside, "model = \"leaked\"\n").unwrap();
        std::os::unix::fs::symlink(&outside, root.join(".codex/agents/linked.toml")).unwrap();
        std::fs::write(
            root.join(".codex/agents/tester.toml"),
            "model = \"gpt-5.4-mini\"\ndeveloper_instructions = \"Run the tests.\"\n",
        )
        .unwrap();
        std::fs::write(
            root.join(".codex/config.toml"),
            format!(
                "[agents.tester]\ndescription = \"Runs the tests.\"\nconfig_file = \"agents/tester.toml\"\n\
                 [agents.reviewer]\ndescription = \"The project's reviewer.\"\n\
                 [agents.linked]\ndescription = \"x\"\nconfig_file = \"agents/linked.toml\"\n\
                 [agents.away]\ndescription = \"y\"\nconfig_file = {:?}\n",
                outside.display()
            ),
        )
        .unwrap();
        let own = [AgentRole {
            name: "reviewer".into(),
            description: "Mine.".into(),
            config_file: None,
        }];
        let found = roles(&own, Some(&root));
        let names: Vec<&str> = found.iter().map(|(role, _)| role.name.as_str()).collect();
        assert_eq!(names, ["reviewer", "tester", "linked", "away"]);
        assert_eq!(
            found[0].0.description, "Mine.",
            "the person's role wins by name"
        );
        let tester = found[1].1.as_ref().unwrap();
        assert_eq!(tester.model.as_deref(), Some("gpt-5.4-mini"));
        assert_eq!(
            tester.developer_instructions.as_deref(),
            Some("Run the tests.")
        );
        for (role, settings) in &found[2..] {
            let why = settings.as_ref().unwrap_err();
            assert!(!why.contains("leaked"), "{}: {why}", role.name);
        }
        // Not trusted: none of the project's.
        assert_eq!(roles(&own, None).len(), 1);
    }
}
