//! A trusted project's own settings: `.codex/config.toml` (in Codex's words) and
//! `.kelp/config.toml` (in kelp's), in the project's root and in each folder down to where
//! kelp runs, read as layers below the person's own files (a deeper folder's over its parent's).
//! A folder the person has not trusted is never read.
//!
//! A project is written by whoever wrote the repository, so its settings are sorted three ways:
//! what it sets freely (the model and how it thinks, and what narrows what commands may see
//! or change); what only the person sets (where kelp signs in and sends the login, which folders are
//! trusted, how their terminal looks), refused with a warning; and everything else (approval,
//! sandbox, network, MCP servers, providers, agents, what commands may see), which would widen
//! what runs unasked or where secrets go: it takes effect once the person allows it, shown, kept
//! by the hash of the file's path and of exactly those settings, so a change asks again.
//! A project's hooks are read here too, and wait for the hooks' own trust; its `[agents]` roles
//! are the team's to read.
//!
//! The files are opened beneath the project's folder without following a link, so a
//! repository cannot point kelp at another file of the person's.

use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags, openat, statat};
use toml_edit::{DocumentMut, Item};

use super::file::{self, Dialect, MAX_CONFIG_BYTES};
use super::warning::ConfigWarning;

/// The folders a project's settings live in, in each of its folders, with the words each
/// uses; kelp's wins over Codex's in one folder.
const FOLDERS: &[(&str, Dialect)] = &[(".kelp", Dialect::Kelp), (".codex", Dialect::Codex)];

/// What a project sets freely, in kelp's words. The limits on commands (their longest run,
/// the private `/tmp`, background terminals) are not among them: a project that raised them
/// would undo a ceiling the person relies on.
const FREE: &[&str] = &[
    "model",
    "reasoning_effort",
    "web_search",
    "context_window",
    "skills",
    "hide_paths",
    "env_drop",
    "protected_paths",
    "denied_domains",
];

/// What only the person sets, in kelp's words.
const PERSONS_OWN: &[&str] = &[
    "auth_issuer",
    "codex_base_url",
    "openai_base_url",
    "callback_port",
    "auth_file",
    "projects",
    "server",
    "profile",
    "profiles",
    "mouse",
    "theme",
    "notifications",
    "notify",
];

/// The file the allowances are kept in, in kelp's state folder.
fn allowances(state_dir: &Path) -> PathBuf {
    state_dir.join("allowed-project-settings")
}

/// A project's settings file as it is used: what it sets freely, and what waits for the
/// person's allowance (in force when allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectFile {
    pub path: PathBuf,
    pub dialect: Dialect,
    /// The settings in force, as TOML: the free ones, and the others once allowed.
    pub in_force: String,
    /// The settings that wait for an allowance; `None` when the file has none.
    pub asks: Option<Asks>,
}

/// The settings of a project's file that wait for the person's allowance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asks {
    /// Each setting as the question shows it (`approval_policy = "never"`,
    /// `mcp_servers.db = { command = "npx", … }`).
    pub lines: Vec<String>,
    /// What the allowance is kept by.
    pub hash: String,
    pub allowed: bool,
}

/// The settings a project's files ask for and the person has not allowed yet, for a face to
/// ask about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub path: PathBuf,
    pub lines: Vec<String>,
    pub hash: String,
}

/// The hooks a project's folder names: `hooks.json`, or its `config.toml`'s `[hooks]` as the
/// same JSON (`{"hooks": …}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectHooks {
    pub path: PathBuf,
    pub json: String,
}

/// Everything a project's folders hold for kelp.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectLayer {
    /// Its settings files, the deepest (the strongest) first.
    pub files: Vec<ProjectFile>,
    pub hooks: Vec<ProjectHooks>,
}

impl ProjectLayer {
    /// What waits for the person's allowance.
    pub fn waiting(&self) -> Vec<Waiting> {
        self.files
            .iter()
            .filter_map(|file| {
                let asks = file.asks.as_ref().filter(|asks| !asks.allowed)?;
                Some(Waiting {
                    path: file.path.clone(),
                    lines: asks.lines.clone(),
                    hash: asks.hash.clone(),
                })
            })
            .collect()
    }

    /// What waits for the person's allowance, as the warnings a face without a question says.
    pub fn waiting_warnings(&self) -> Vec<ConfigWarning> {
        self.waiting()
            .into_iter()
            .map(|waiting| ConfigWarning::WaitsForAllowance {
                path: waiting.path,
                lines: waiting.lines,
            })
            .collect()
    }
}

/// Reads the settings and hooks of `folders` (the project's trusted folders, its root first),
/// marking what the person allowed (kept in `state_dir`). `codex_home`, Codex's own folder
/// (`~/.codex` in a project at the home folder), is the person's and never a project's. What
/// cannot be used is a warning.
pub fn read(
    folders: &[PathBuf],
    state_dir: &Path,
    codex_home: Option<&Path>,
) -> (ProjectLayer, Vec<ConfigWarning>) {
    let allowed = crate::kept_hashes::read(&allowances(state_dir));
    let mut layer = ProjectLayer::default();
    let mut warnings = Vec::new();
    for folder in folders.iter().rev() {
        for &(sub, dialect) in FOLDERS {
            if codex_home.is_some_and(|home| same_folder(home, &folder.join(sub))) {
                continue;
            }
            let mut read_one = |name: &str| {
                let path = folder.join(sub).join(name);
                match read_beneath(folder, sub, name) {
                    Ok(text) => text.map(|text| (path, text)),
                    Err(e) => {
                        warnings.push(ConfigWarning::Unreadable {
                            path,
                            reason: e.to_string(),
                        });
                        None
                    }
                }
            };
            if let Some((path, json)) = read_one("hooks.json") {
                layer.hooks.push(ProjectHooks { path, json });
            }
            let Some((path, text)) = read_one(file::FILE_NAME) else {
                continue;
            };
            match sort(dialect, &path, &text) {
                Ok(sorted) => {
                    warnings.extend(sorted.refused);
                    if let Some(json) = sorted.hooks {
                        layer.hooks.push(ProjectHooks {
                            path: path.clone(),
                            json,
                        });
                    }
                    let asks = sorted.asks.map(|(lines, text)| {
                        let hash = hash_of(&path, &text);
                        Asks {
                            allowed: allowed.contains(&hash),
                            lines,
                            hash,
                        }
                    });
                    let in_force = match &asks {
                        Some(asks) if asks.allowed => sorted.with_asks,
                        _ => sorted.free,
                    };
                    layer.files.push(ProjectFile {
                        path,
                        dialect,
                        in_force,
                        asks,
                    });
                }
                // Said by the parser, where the layer is read.
                Err(()) => layer.files.push(ProjectFile {
                    path,
                    dialect,
                    in_force: text,
                    asks: None,
                }),
            }
        }
    }
    (layer, warnings)
}

/// Keeps the person's allowance of the settings hashed `hashes`.
pub fn allow(state_dir: &Path, hashes: &[String]) -> Result<(), crate::private_file::FileError> {
    crate::kept_hashes::add(&allowances(state_dir), hashes)
}

fn same_folder(a: &Path, b: &Path) -> bool {
    let real = |path: &Path| std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    real(a) == real(b)
}

fn hash_of(path: &Path, asks: &str) -> String {
    crate::kept_hashes::hash_of(&[&path.to_string_lossy(), asks])
}

/// A project's file sorted: the free settings, those that ask (each as shown, and all as
/// TOML), both together, the hooks, and the warnings for what only the person sets.
struct Sorted {
    free: String,
    asks: Option<(Vec<String>, String)>,
    with_asks: String,
    hooks: Option<String>,
    refused: Vec<ConfigWarning>,
}

/// Sorts `text`'s top-level settings; `Err` when it is not TOML (the parser says why).
fn sort(dialect: Dialect, path: &Path, text: &str) -> Result<Sorted, ()> {
    let doc: DocumentMut = text.parse().map_err(|_| ())?;
    let mut free = DocumentMut::new();
    let mut asks = DocumentMut::new();
    let mut with_asks = DocumentMut::new();
    let mut lines = Vec::new();
    let mut hooks = None;
    let mut refused = Vec::new();
    for (written, item) in doc.iter() {
        let key = match dialect {
            Dialect::Kelp => Some(written),
            Dialect::Codex => super::codex_keys::kelp_key(written),
        };
        match key {
            // Codex's own settings, which kelp leaves alone; a kelp key it does not know is
            // warned about by the parser.
            None => continue,
            // Its roles are the team's to read (`agent/team/roles.rs`): beneath the project, a
            // role's file never out of it, its sandbox only narrowing; never a second time here.
            Some("agents") => continue,
            Some("hooks") => {
                let events = super::toml_json::item_json(item);
                hooks = Some(serde_json::json!({ "hooks": events }).to_string());
                continue;
            }
            Some(key) if PERSONS_OWN.contains(&key) => {
                let (line, column) = super::warning::line_column(text, offset_of(text, written));
                refused.push(ConfigWarning::BadValue {
                    path: path.to_path_buf(),
                    line,
                    column,
                    key: written.to_string(),
                    reason: "is the person's own setting, which a project's file cannot make"
                        .to_string(),
                });
                continue;
            }
            // A key of kelp's it does not know goes with the free ones, for the parser to warn of.
            Some(key)
                if FREE.contains(&key)
                    || (dialect == Dialect::Kelp && !file::KEYS.contains(&key)) =>
            {
                free.insert(written, item.clone());
            }
            Some(_) => {
                lines.extend(shown(written, item));
                asks.insert(written, item.clone());
            }
        }
        with_asks.insert(written, item.clone());
    }
    Ok(Sorted {
        free: free.to_string(),
        asks: (!lines.is_empty()).then(|| (lines, asks.to_string())),
        with_asks: with_asks.to_string(),
        hooks,
        refused,
    })
}

/// Where the top-level key `written` starts in `text` (its table's header for a table).
fn offset_of(text: &str, written: &str) -> usize {
    let Ok(doc) = toml_edit::Document::parse(text) else {
        return 0;
    };
    let item = doc.get(written);
    doc.key(written)
        .and_then(|key| key.span())
        .or_else(|| item.and_then(Item::span))
        .or_else(|| {
            item.and_then(Item::as_table)
                .and_then(toml_edit::Table::span)
        })
        .map_or(0, |span| span.start)
}

/// A setting as the question shows it, one line per entry of a table.
fn shown(key: &str, item: &Item) -> Vec<String> {
    match item.as_table_like() {
        Some(table) => table
            .iter()
            .map(|(name, entry)| format!("{key}.{name} = {}", inline(entry)))
            .collect(),
        None => vec![format!("{key} = {}", inline(item))],
    }
}

/// A value on one line: a table as `{ key = value, … }`.
fn inline(item: &Item) -> String {
    match item.as_table_like() {
        Some(table) => {
            let entries: Vec<String> = table
                .iter()
                .map(|(name, entry)| format!("{name} = {}", inline(entry)))
                .collect();
            format!("{{ {} }}", entries.join(", "))
        }
        None => item
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn link() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "it is a link, and a project's settings are read only from its own files",
    )
}

/// The text of `folder/sub/name`, opened without following a link on the way from `folder`;
/// `None` when it is not there. Anything but a regular file of at most 1 MiB is an error.
pub fn read_beneath(folder: &Path, sub: &str, name: &str) -> io::Result<Option<String>> {
    let open = |dir: Option<&OwnedFd>, path: &Path, flags: OFlags| -> io::Result<Option<OwnedFd>> {
        let flags = flags | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let opened = match dir {
            Some(dir) => openat(dir, path, flags, Mode::empty()),
            None => openat(CWD, path, flags, Mode::empty()),
        };
        // A link is refused with ELOOP, or with ENOTDIR where a folder was asked for.
        let a_link = || {
            let at = match dir {
                Some(dir) => statat(dir, path, AtFlags::SYMLINK_NOFOLLOW),
                None => statat(CWD, path, AtFlags::SYMLINK_NOFOLLOW),
            };
            at.is_ok_and(|stat| FileType::from_raw_mode(stat.st_mode) == FileType::Symlink)
        };
        match opened {
            Ok(fd) => Ok(Some(fd)),
            Err(rustix::io::Errno::LOOP) => Err(link()),
            Err(rustix::io::Errno::NOTDIR) if a_link() => Err(link()),
            Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => Ok(None),
            Err(e) => Err(e.into()),
        }
    };
    let directory = OFlags::RDONLY | OFlags::DIRECTORY;
    let Some(top) = open(None, folder, directory)? else {
        return Ok(None);
    };
    let Some(inner) = open(Some(&top), Path::new(sub), directory)? else {
        return Ok(None);
    };
    let Some(fd) = open(
        Some(&inner),
        Path::new(name),
        OFlags::RDONLY | OFlags::NONBLOCK,
    )?
    else {
        return Ok(None);
    };
    let file = std::fs::File::from(fd);
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "it is {}, not a regular file",
                crate::private_file::kind_of(&meta)
            ),
        ));
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "it is {} bytes, more than the {MAX_CONFIG_BYTES} kelp reads",
                meta.len()
            ),
        ));
    }
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES).read_to_string(&mut text)?;
    Ok(Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link on the way (the folder or the file) is refused in words, never followed: a
    /// repository cannot have kelp read another file of the person's as its settings.
    #[test]
    fn a_link_to_settings_elsewhere_is_refused_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("config.toml"), "model = \"theirs\"\n").unwrap();
        let by_folder = dir.path().join("by-folder");
        std::fs::create_dir_all(&by_folder).unwrap();
        std::os::unix::fs::symlink(&elsewhere, by_folder.join(".codex")).unwrap();
        let by_file = dir.path().join("by-file");
        std::fs::create_dir_all(by_file.join(".codex")).unwrap();
        std::os::unix::fs::symlink(
            elsewhere.join("config.toml"),
            by_file.join(".codex/config.toml"),
        )
        .unwrap();
        for project in [by_folder, by_file] {
            let (layer, warnings) = read(std::slice::from_ref(&project), dir.path(), None);
            assert!(layer.files.is_empty(), "{project:?}: {layer:?}");
            let said: Vec<String> = warnings.iter().map(ToString::to_string).collect();
            assert!(
                said.iter().any(|line| line.contains("it is a link")),
                "{project:?}: {said:?}"
            );
        }
    }

    /// A file's settings sorted: the free ones in force, the person's own refused, the rest
    /// waiting under a hash that changes with any of them (and with the file's place).
    #[test]
    fn settings_are_sorted_and_the_waiting_ones_hashed() {
        let text = "model = \"m\"\napproval_policy = \"never\"\nopenai_base_url = \"http://x\"\n\
                    chatgpt_base_url = \"http://x\"\n[mcp_servers.db]\ncommand = \"npx\"\n\
                    [agents.tester]\ndescription = \"Runs the tests.\"\n";
        let path = Path::new("/p/.codex/config.toml");
        let sorted = sort(Dialect::Codex, path, text).unwrap();
        assert_eq!(sorted.free.trim(), "model = \"m\"");
        let (lines, asks) = sorted.asks.unwrap();
        assert_eq!(
            lines,
            [
                "approval_policy = \"never\"",
                "mcp_servers.db = { command = \"npx\" }"
            ]
        );
        assert!(sorted.with_asks.contains("approval_policy") && sorted.with_asks.contains("npx"));
        // The team reads a project's roles itself, beneath the project.
        assert!(!sorted.with_asks.contains("tester") && !sorted.free.contains("tester"));
        // Codex's own settings are left alone; kelp's file names the endpoint kelp reads.
        assert!(sorted.refused.is_empty(), "{:?}", sorted.refused);
        let kelp = sort(Dialect::Kelp, path, "openai_base_url = \"http://x\"\n").unwrap();
        assert_eq!(kelp.refused.len(), 1);
        assert!(kelp.free.trim().is_empty() && kelp.asks.is_none());
        let changed = sort(Dialect::Codex, path, &text.replace("npx", "npm")).unwrap();
        let hash = hash_of(path, &asks);
        assert_ne!(hash, hash_of(path, &changed.asks.unwrap().1));
        assert_ne!(hash, hash_of(Path::new("/q/.codex/config.toml"), &asks));
    }

    /// In a project at the home folder, `~/.codex` is Codex's own folder, read as the person's
    /// file, never as the project's.
    #[test]
    fn codexs_own_folder_is_never_a_projects() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".codex")).unwrap();
        std::fs::write(home.path().join(".codex/config.toml"), "model = \"m\"\n").unwrap();
        let folders = [home.path().to_path_buf()];
        let state = home.path().join("state");
        assert_eq!(read(&folders, &state, None).0.files.len(), 1);
        let codex_home = home.path().join(".codex");
        assert!(read(&folders, &state, Some(&codex_home)).0.files.is_empty());
    }
}
