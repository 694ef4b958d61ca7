//! What a command must not see, whatever it is allowed to write: the credential stores on disk
//! (hidden behind empty mounts by the namespaces) and the variables of kelp's environment that
//! look like credentials (scrubbed from every command's environment, sandbox or not).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::config::file::SecretRules;

/// A kind of secret kept below the home folder, and the places its tools keep it.
pub struct Kind {
    /// What it is, as `/status` lists it.
    pub name: &'static str,
    /// Files and folders below the home folder.
    pub places: &'static [&'static str],
}

/// Every credential store hidden by default, by kind: the one list, which `/status` names.
pub const KINDS: &[Kind] = &[
    Kind {
        name: "SSH and GPG keys",
        places: &[".ssh", ".gnupg"],
    },
    Kind {
        name: "cloud logins",
        places: &[
            ".aws",
            ".azure",
            ".config/gcloud",
            ".kube",
            ".oci",
            ".config/doctl",
            ".terraform.d/credentials.tfrc.json",
            ".config/rclone",
            ".vault-token",
        ],
    },
    Kind {
        name: "git and forge logins",
        places: &[
            ".config/gh",
            ".config/glab-cli",
            ".config/hub",
            ".git-credentials",
            ".config/git/credentials",
            ".netrc",
        ],
    },
    Kind {
        name: "registry logins",
        places: &[
            ".npmrc",
            ".yarnrc.yml",
            ".pypirc",
            ".cargo/credentials",
            ".cargo/credentials.toml",
            ".gem/credentials",
            ".m2/settings.xml",
            ".gradle/gradle.properties",
            ".nuget/NuGet/NuGet.Config",
            ".docker/config.json",
            ".config/containers/auth.json",
        ],
    },
    Kind {
        name: "database passwords",
        places: &[".pgpass", ".my.cnf"],
    },
    Kind {
        name: "other coding agents' logins",
        places: &[
            ".codex",
            ".local/share/opencode/auth.json",
            ".claude/.credentials.json",
            ".gemini/oauth_creds.json",
            ".config/github-copilot",
        ],
    },
    Kind {
        name: "password managers and their agents",
        places: &[
            ".1password",
            ".password-store",
            ".local/share/keyrings",
            ".config/Bitwarden CLI",
        ],
    },
    Kind {
        name: "agents' and terminal sessions' sockets",
        places: &[".screen", ".bitwarden-ssh-agent.sock"],
    },
    Kind {
        name: "browser profiles",
        places: &[
            ".mozilla",
            ".config/google-chrome",
            ".config/chromium",
            ".config/BraveSoftware",
            ".config/microsoft-edge",
        ],
    },
    Kind {
        name: "shell and console history",
        places: &[
            ".bash_history",
            ".zsh_history",
            ".histfile",
            ".local/share/fish/fish_history",
            ".python_history",
            ".psql_history",
            ".mysql_history",
            ".node_repl_history",
        ],
    },
];

/// Variable names that look like credentials, as Codex's default scrubs them and more: `*` is
/// any run of characters, and case does not matter.
const SECRET_NAMES: [&str; 12] = [
    "*KEY*",
    "*SECRET*",
    "*TOKEN*",
    "*PASSWORD*",
    "*PASSWD*",
    "*CREDENTIAL*",
    "*_PAT",
    "*AUTH*",
    "*DSN*",
    "*WEBHOOK*",
    "*COOKIE*",
    "*SESSION*",
];

/// What commands may not see, and the config's exceptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// Files and folders hidden from commands (those that exist when a command starts).
    pub hidden: Vec<PathBuf>,
    /// Those of them that are kelp's own (its login, sessions and config).
    pub own: Vec<PathBuf>,
    /// Variable name patterns scrubbed besides [`SECRET_NAMES`].
    pub env_drop: Vec<String>,
    /// Variable name patterns passed on although they look like credentials.
    pub env_keep: Vec<String>,
    /// The config's `keep_paths`: not hidden although on the list, and a daemon's socket there
    /// stays reachable (a database's, say).
    pub kept: Vec<PathBuf>,
    /// The ssh agent's socket, when the person lets commands use it (`ssh_agent = true` and
    /// `SSH_AUTH_SOCK` set).
    pub ssh_agent: Option<PathBuf>,
}

impl Secrets {
    /// The defaults below `home`, with kelp's own files where the standard layout puts them.
    pub fn defaults(home: Option<&Path>) -> Self {
        let mut hidden: Vec<PathBuf> = home
            .map(|home| {
                KINDS
                    .iter()
                    .flat_map(|kind| kind.places)
                    .map(|place| home.join(place))
                    .collect()
            })
            .unwrap_or_default();
        let xdg = |var: &str, fallback: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .filter(|dir| dir.is_absolute())
                .or_else(|| home.map(|home| home.join(fallback)))
        };
        let own: Vec<PathBuf> = [
            xdg("XDG_DATA_HOME", ".local/share"),
            xdg("XDG_STATE_HOME", ".local/state"),
            xdg("XDG_CONFIG_HOME", ".config"),
        ]
        .into_iter()
        .flatten()
        .map(|dir| dir.join("kelp"))
        .collect();
        hidden.extend(own.iter().cloned());
        Self {
            hidden,
            own,
            env_drop: Vec::new(),
            env_keep: Vec::new(),
            kept: Vec::new(),
            ssh_agent: None,
        }
    }

    /// The defaults, kelp's files where `config` puts them (the auth file and its folder, the
    /// sessions, the config), and the config's own additions and exceptions.
    pub fn for_config(config: &Config) -> Self {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let mut secrets = Self::defaults(home.as_deref());
        let SecretRules {
            hide_paths,
            keep_paths,
            env_drop,
            env_keep,
            ssh_agent,
            ..
        } = &config.secrets;
        secrets.ssh_agent = ssh_agent
            .then(|| std::env::var_os("SSH_AUTH_SOCK"))
            .flatten()
            .map(PathBuf::from)
            .filter(|socket| socket.is_absolute());
        secrets
            .own
            .extend(config.auth_file.parent().map(Path::to_path_buf));
        secrets.own.push(config.auth_file.clone());
        // The logins not in use, tokens and all: hidden as the auth file is, even where the
        // person keeps its folder in sight.
        secrets.own.push(
            config
                .auth_file
                .with_file_name(crate::config::LOGINS_FILE_NAME),
        );
        secrets.own.push(config.state_dir.clone());
        secrets.own.push(config.config_dir.clone());
        secrets.hidden.extend(secrets.own.iter().cloned());
        secrets.hidden.extend(hide_paths.iter().cloned());
        secrets.hidden.retain(|path| !keep_paths.contains(path));
        secrets.hidden.sort();
        secrets.hidden.dedup();
        secrets.env_drop.clone_from(env_drop);
        secrets.env_keep.clone_from(env_keep);
        secrets.kept.clone_from(keep_paths);
        secrets
    }

    /// Whether a variable is kept from commands: its name matches a credential pattern (and
    /// no `env_keep` one), or its value is a URL with a password in it.
    pub fn scrubs(&self, name: &OsStr, value: &OsStr) -> bool {
        let name = name.to_string_lossy();
        if self.env_keep.iter().any(|keep| glob(keep, &name)) {
            return false;
        }
        SECRET_NAMES.iter().any(|pattern| glob(pattern, &name))
            || self.env_drop.iter().any(|pattern| glob(pattern, &name))
            || has_url_password(&value.to_string_lossy())
    }

    /// The hidden paths worth hiding around a command in `project_dir`: those that exist, and
    /// never one that holds the project or the home folder (hiding those would hide everything).
    /// The token files of the person's app-server listeners are among them, read anew for
    /// each command: a listener started after the conversation is hidden too (a command that
    /// read its token could ask the listener for a command outside the sandbox).
    pub fn present(&self, project_dir: &Path) -> Vec<PathBuf> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        self.hidden
            .iter()
            .chain(&crate::config::runtime::listener_token_files())
            .filter(|path| path.is_absolute() && path.parent().is_some())
            .filter(|path| !project_dir.starts_with(path))
            .filter(|path| home.as_deref().is_none_or(|home| !home.starts_with(path)))
            .filter(|path| path.symlink_metadata().is_ok())
            .cloned()
            .collect()
    }

    /// Whether commands are kept from `path`: it is a hidden path, lies beneath one, or holds
    /// one (a folder a walk or a search would read them through), as written or where its links
    /// lead (a link whose target does not exist yet, too).
    pub fn keeps(&self, path: &Path) -> bool {
        let tokens = crate::config::runtime::listener_token_files();
        let touches = |path: &Path| {
            self.hidden
                .iter()
                .chain(&tokens)
                .any(|hidden| path.starts_with(hidden) || hidden.starts_with(path))
        };
        touches(path) || super::paths::real_path(path).is_ok_and(|real| touches(&real))
    }

    /// What is hidden, for `/status`: kelp's own files, the kinds of the default list, and the
    /// paths added beyond them as a person writes them (`~/` for the home folder).
    pub fn describe(&self) -> String {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let in_a_kind = |path: &Path| {
            home.as_deref()
                .and_then(|home| path.strip_prefix(home).ok())
                .is_some_and(|rest| {
                    KINDS
                        .iter()
                        .flat_map(|kind| kind.places)
                        .any(|place| rest == Path::new(place))
                })
        };
        let mut shown = vec!["kelp's own files".to_string()];
        shown.extend(KINDS.iter().map(|kind| kind.name.to_string()));
        // A path inside another hidden one says nothing more.
        shown.extend(
            self.hidden
                .iter()
                .filter(|path| !in_a_kind(path) && !self.own.contains(path))
                .filter(|path| {
                    !self
                        .hidden
                        .iter()
                        .any(|other| other != *path && path.starts_with(other))
                })
                .map(|path| {
                    match home
                        .as_deref()
                        .and_then(|home| path.strip_prefix(home).ok())
                    {
                        Some(rest) => format!("~/{}", rest.display()),
                        None => path.display().to_string(),
                    }
                }),
        );
        shown.join(", ")
    }
}

/// Whether `name` matches `pattern`, where `*` is any run of characters and case is ignored.
fn glob(pattern: &str, name: &str) -> bool {
    fn matches(pattern: &[u8], name: &[u8]) -> bool {
        match pattern.split_first() {
            None => name.is_empty(),
            Some((b'*', rest)) => (0..=name.len()).any(|skip| matches(rest, &name[skip..])),
            Some((first, rest)) => name
                .split_first()
                .is_some_and(|(n, name)| n.eq_ignore_ascii_case(first) && matches(rest, name)),
        }
    }
    matches(pattern.as_bytes(), name.as_bytes())
}

/// Whether `value` holds a URL with a password in it (`postgres://app:hunter2@db/prod`).
fn has_url_password(value: &str) -> bool {
    value.match_indices("://").any(|(at, sep)| {
        let rest = &value[at + sep.len()..];
        let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
        authority
            .rsplit_once('@')
            .and_then(|(userinfo, _)| userinfo.split_once(':'))
            .is_some_and(|(_, password)| !password.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrubbed(secrets: &Secrets, name: &str, value: &str) -> bool {
        secrets.scrubs(OsStr::new(name), OsStr::new(value))
    }

    #[test]
    fn credential_names_are_scrubbed_by_pattern_and_case_insensitively() {
        let secrets = Secrets::default();
        for name in [
            "OPENAI_API_KEY",
            "api_key",
            "GH_TOKEN",
            "client_secret",
            "Password",
            "MYSQL_PASSWD",
            "GITHUB_PAT",
            "AWS_CREDENTIALS_FILE",
            "GH_ENTERPRISE_AUTH",
            "NPM_CONFIG__AUTH",
            "SENTRY_DSN",
            "SLACK_WEBHOOK_URL",
            "JIRA_COOKIE",
            "RAILS_SESSION_STORE",
        ] {
            assert!(scrubbed(&secrets, name, "x"), "{name}");
        }
        for name in [
            "PATH",
            "HOME",
            "TERM",
            "LANG",
            "SHELL",
            "PATTERN",
            "PATH_INFO",
        ] {
            assert!(!scrubbed(&secrets, name, "x"), "{name}");
        }
    }

    #[test]
    fn urls_with_a_password_are_scrubbed_whatever_the_name() {
        let secrets = Secrets::default();
        assert!(scrubbed(
            &secrets,
            "DATABASE_URL",
            "postgres://app:hunter2@db.internal:5432/prod"
        ));
        assert!(scrubbed(&secrets, "MIRRORS", "a https://u:p@x.org/path"));
        for value in [
            "postgres://app@db/prod",
            "https://example.org/a:b@c",
            "http://localhost:8080",
            "plain",
        ] {
            assert!(!scrubbed(&secrets, "DATABASE_URL", value), "{value}");
        }
    }

    #[test]
    fn the_config_adds_and_excepts_names() {
        let secrets = Secrets {
            env_drop: vec!["corp_*".into()],
            env_keep: vec!["GH_TOKEN".into(), "SAFE_*".into()],
            ..Secrets::default()
        };
        assert!(scrubbed(&secrets, "CORP_SESSION", "x"));
        assert!(!scrubbed(&secrets, "GH_TOKEN", "x"));
        assert!(!scrubbed(&secrets, "SAFE_KEY", "x"));
        assert!(scrubbed(&secrets, "NPM_TOKEN", "x"));
    }

    #[test]
    fn globs_match_runs_and_ends() {
        assert!(glob("*_PAT", "GITHUB_PAT"));
        assert!(!glob("*_PAT", "GITHUB_PATH"));
        assert!(glob("*KEY*", "KEY"));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXbYY"));
    }

    #[test]
    fn kelps_files_and_the_configs_choices_are_hidden() {
        let dir = Path::new("/srv/kelp-test");
        let mut config = Config::for_origin("http://127.0.0.1:1", dir);
        config.secrets.hide_paths = vec![PathBuf::from("/srv/vault")];
        config.secrets.keep_paths = vec![dir.join("config")];
        let secrets = Secrets::for_config(&config);
        assert!(secrets.hidden.contains(&dir.join("auth.json")));
        assert!(secrets.hidden.contains(&dir.join("state")));
        assert!(secrets.hidden.contains(&PathBuf::from("/srv/vault")));
        assert!(!secrets.hidden.contains(&dir.join("config")));
        // The auth file's folder kept in sight: the logins in it stay hidden.
        config.secrets.keep_paths = vec![dir.to_path_buf()];
        let secrets = Secrets::for_config(&config);
        assert!(!secrets.hidden.contains(&dir.to_path_buf()));
        assert!(secrets.hidden.contains(&dir.join("auth.json")));
        assert!(secrets.hidden.contains(&dir.join("kelp-accounts.json")));
    }

    #[test]
    fn a_hidden_path_holding_the_project_is_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let project = root.path().join("project");
        std::fs::create_dir(&project).unwrap();
        std::fs::write(root.path().join("token"), "x").unwrap();
        let secrets = Secrets {
            hidden: vec![
                root.path().to_path_buf(),
                root.path().join("token"),
                root.path().join("missing"),
            ],
            ..Secrets::default()
        };
        assert_eq!(secrets.present(&project), vec![root.path().join("token")]);
    }
}
