//! Which language server checks which file: the config's servers first, then those kelp knows,
//! found on `PATH` (the first of each one's commands that is there).

use std::path::{Path, PathBuf};

use crate::config::lsp::ServerEntry;

/// A server kelp knows: its name, the commands that start it (the first found wins), the
/// extensions it checks, and the language ids it is told for them.
struct Known {
    name: &'static str,
    commands: &'static [&'static [&'static str]],
    languages: &'static [(&'static str, &'static str)],
}

const KNOWN: &[Known] = &[
    Known {
        name: "pyright",
        commands: &[
            &["basedpyright-langserver", "--stdio"],
            &["pyright-langserver", "--stdio"],
        ],
        languages: &[("py", "python"), ("pyi", "python")],
    },
    Known {
        name: "typescript",
        commands: &[&["typescript-language-server", "--stdio"]],
        languages: &[
            ("ts", "typescript"),
            ("mts", "typescript"),
            ("cts", "typescript"),
            ("tsx", "typescriptreact"),
            ("js", "javascript"),
            ("mjs", "javascript"),
            ("cjs", "javascript"),
            ("jsx", "javascriptreact"),
        ],
    },
    Known {
        name: "rust-analyzer",
        commands: &[&["rust-analyzer"]],
        languages: &[("rs", "rust")],
    },
    Known {
        name: "gopls",
        commands: &[&["gopls"]],
        languages: &[("go", "go")],
    },
    Known {
        name: "clangd",
        commands: &[&["clangd"]],
        languages: &[
            ("c", "c"),
            ("h", "c"),
            ("cc", "cpp"),
            ("cpp", "cpp"),
            ("cxx", "cpp"),
            ("hpp", "cpp"),
        ],
    },
];

/// The server for one file: its name, its command, and the file's language id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub name: String,
    pub command: Vec<String>,
    pub language: String,
}

/// The server that checks `file`, when the config names one or kelp finds one on `path_var`.
pub fn for_file(file: &Path, configured: &[ServerEntry], path_var: Option<&str>) -> Option<Chosen> {
    let extension = file.extension()?.to_str()?.to_ascii_lowercase();
    let language_of = |name: &str| {
        KNOWN
            .iter()
            .flat_map(|known| known.languages)
            .find(|(ext, _)| *ext == extension)
            .map_or_else(|| name.to_string(), |(_, language)| (*language).to_string())
    };
    if let Some(entry) = configured
        .iter()
        .find(|entry| !entry.disabled && entry.extensions.contains(&extension))
    {
        return Some(Chosen {
            name: entry.name.clone(),
            command: entry.command.clone(),
            language: language_of(&entry.name),
        });
    }
    let known = KNOWN
        .iter()
        .find(|known| known.languages.iter().any(|(ext, _)| *ext == extension))?;
    if configured
        .iter()
        .any(|entry| entry.disabled && entry.name == known.name)
    {
        return None;
    }
    let command = known
        .commands
        .iter()
        .find_map(|command| on_path(command[0], path_var).map(|found| (found, command)))?;
    let (program, command) = command;
    Some(Chosen {
        name: known.name.to_string(),
        command: std::iter::once(program.display().to_string())
            .chain(command[1..].iter().map(|word| (*word).to_string()))
            .collect(),
        language: language_of(known.name),
    })
}

/// The extensions some server checks here: the config's servers', and those of the servers
/// kelp knows that are on `path_var` and not turned off.
pub fn extensions(configured: &[ServerEntry], path_var: Option<&str>) -> Vec<String> {
    let mine = configured
        .iter()
        .filter(|entry| !entry.disabled)
        .flat_map(|entry| entry.extensions.iter().cloned());
    let found = KNOWN
        .iter()
        .filter(|known| {
            !configured
                .iter()
                .any(|entry| entry.disabled && entry.name == known.name)
        })
        .filter(|known| {
            known
                .commands
                .iter()
                .any(|command| on_path(command[0], path_var).is_some())
        })
        .flat_map(|known| known.languages.iter().map(|(ext, _)| (*ext).to_string()));
    let mut all: Vec<String> = mine.chain(found).collect();
    all.sort();
    all.dedup();
    all
}

/// Where `program` is on `path_var` (`PATH`'s value), as an executable file.
fn on_path(program: &str, path_var: Option<&str>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path_var?)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_gets_the_configured_server_else_one_found_on_path() {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("pyright-langserver");
        std::fs::write(&program, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().display().to_string();
        let found = for_file(Path::new("/p/a.py"), &[], Some(&path)).unwrap();
        assert_eq!(found.name, "pyright");
        assert_eq!(
            found.command,
            [program.display().to_string(), "--stdio".into()]
        );
        assert_eq!(found.language, "python");
        assert_eq!(for_file(Path::new("/p/a.ts"), &[], Some(&path)), None);
        assert_eq!(for_file(Path::new("/p/README"), &[], Some(&path)), None);
        let off = ServerEntry {
            name: "pyright".into(),
            disabled: true,
            ..ServerEntry::default()
        };
        assert_eq!(
            for_file(
                Path::new("/p/a.py"),
                std::slice::from_ref(&off),
                Some(&path)
            ),
            None
        );
        let ruff = ServerEntry {
            name: "ruff".into(),
            command: vec!["ruff".into(), "server".into()],
            extensions: vec!["py".into()],
            disabled: false,
        };
        let chosen = for_file(Path::new("/p/a.py"), &[off, ruff], None).unwrap();
        assert_eq!(
            (chosen.name.as_str(), chosen.language.as_str()),
            ("ruff", "python")
        );
    }
}
