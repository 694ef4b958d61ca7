//! Where kelp talks to and where it keeps its files, resolved once at start-up.
//!
//! Endpoints come from the environment (PROTOCOL.md §1) so tests and the fake server can point
//! kelp at 127.0.0.1; paths follow XDG semantics on every OS, as opencode does, so the auth file
//! is easy to find and to share.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// The public OAuth client id shared by Codex CLI and opencode.
pub const CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";
/// The value of the `originator` header and query parameter.
pub const ORIGINATOR: &str = "kelp";
/// Default OAuth issuer.
pub const DEFAULT_AUTH_ISSUER: &str = "https://auth.openai.com";
/// Default Codex backend used with a ChatGPT login.
pub const DEFAULT_CODEX_BASE_URL: &str = "https://chatgpt.com/backend-api/codex";
/// Default OpenAI API base used with an API key.
pub const DEFAULT_OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
/// The model used until the person picks another with `/model`.
pub const DEFAULT_MODEL: &str = "gpt-5.5";
/// The callback port registered with the issuer.
pub const DEFAULT_CALLBACK_PORT: u16 = 1455;
/// The second callback port on the issuer's allow-list, used when the first is taken.
pub const FALLBACK_CALLBACK_PORT: u16 = 1457;

/// A configuration value that cannot be used, named after the variable it came from.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{var} is not a valid http(s) URL: {value:?} ({reason})")]
    BadUrl {
        var: &'static str,
        value: String,
        reason: String,
    },
    #[error("{var} is not a port number (0-65535): {value:?}")]
    BadPort { var: &'static str, value: String },
    #[error("cannot find a home directory: set HOME or {var}")]
    NoHome { var: &'static str },
}

/// Everything kelp needs to know about its surroundings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// OAuth issuer, without a trailing slash.
    pub auth_issuer: String,
    /// Codex backend base (ChatGPT login), without a trailing slash.
    pub codex_base_url: String,
    /// OpenAI API base (API key), without a trailing slash.
    pub openai_base_url: String,
    /// Preferred port of the browser-login callback server; 0 means any free port.
    pub callback_port: u16,
    /// The opencode-compatible auth file.
    pub auth_file: PathBuf,
    /// Where logs (and later, sessions) live.
    pub state_dir: PathBuf,
    /// Where the config file lives.
    pub config_dir: PathBuf,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    /// Reads the configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Result<Self, ConfigError> {
        let text = |name: &str| {
            lookup(name)
                .map(|v| v.to_string_lossy().trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let path = |name: &str| lookup(name).filter(|v| !v.is_empty()).map(PathBuf::from);

        let auth_issuer = endpoint(
            "KELP_AUTH_ISSUER",
            text("KELP_AUTH_ISSUER"),
            DEFAULT_AUTH_ISSUER,
        )?;
        let codex_base_url = endpoint(
            "KELP_CODEX_BASE_URL",
            text("KELP_CODEX_BASE_URL"),
            DEFAULT_CODEX_BASE_URL,
        )?;
        let openai_base_url = endpoint(
            "OPENAI_BASE_URL",
            text("OPENAI_BASE_URL"),
            DEFAULT_OPENAI_BASE_URL,
        )?;
        let callback_port = match text("KELP_CALLBACK_PORT") {
            None => DEFAULT_CALLBACK_PORT,
            Some(value) => value.parse().map_err(|_| ConfigError::BadPort {
                var: "KELP_CALLBACK_PORT",
                value,
            })?,
        };

        let home = path("HOME");
        let xdg = |var: &'static str, fallback: &[&str]| -> Result<PathBuf, ConfigError> {
            if let Some(dir) = path(var).filter(|p| p.is_absolute()) {
                return Ok(dir);
            }
            let home = home.clone().ok_or(ConfigError::NoHome { var })?;
            Ok(fallback.iter().fold(home, |acc, part| acc.join(part)))
        };
        let auth_file = match path("KELP_AUTH_FILE") {
            Some(file) => file,
            None => xdg("XDG_DATA_HOME", &[".local", "share"])?
                .join("kelp")
                .join("auth.json"),
        };
        let state_dir = xdg("XDG_STATE_HOME", &[".local", "state"])?.join("kelp");
        let config_dir = xdg("XDG_CONFIG_HOME", &[".config"])?.join("kelp");

        Ok(Self {
            auth_issuer,
            codex_base_url,
            openai_base_url,
            callback_port,
            auth_file,
            state_dir,
            config_dir,
        })
    }

    /// A configuration whose endpoints all live on one origin (the fake server) and whose
    /// files live under `dir`: what tests use.
    pub fn for_origin(origin: &str, dir: &Path) -> Self {
        let origin = origin.trim_end_matches('/');
        Self {
            auth_issuer: origin.to_string(),
            codex_base_url: format!("{origin}/backend-api/codex"),
            openai_base_url: format!("{origin}/v1"),
            callback_port: 0,
            auth_file: dir.join("auth.json"),
            state_dir: dir.join("state"),
            config_dir: dir.join("config"),
        }
    }

    /// The log file in the state dir.
    pub fn log_file(&self) -> PathBuf {
        self.state_dir.join("kelp.log")
    }
}

/// Validates an endpoint override and trims its trailing slashes.
fn endpoint(
    var: &'static str,
    value: Option<String>,
    default: &str,
) -> Result<String, ConfigError> {
    let Some(value) = value else {
        return Ok(default.to_string());
    };
    let bad = |reason: &str| ConfigError::BadUrl {
        var,
        value: value.clone(),
        reason: reason.to_string(),
    };
    let parsed = url::Url::parse(&value).map_err(|e| bad(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if parsed.host_str().is_none() {
        return Err(bad("it has no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("it must not have a query or fragment"));
    }
    Ok(value.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_follow_xdg_under_home() {
        let c = config(&[("HOME", "/home/ana")]).unwrap();
        assert_eq!(c.auth_issuer, DEFAULT_AUTH_ISSUER);
        assert_eq!(c.codex_base_url, DEFAULT_CODEX_BASE_URL);
        assert_eq!(c.openai_base_url, DEFAULT_OPENAI_BASE_URL);
        assert_eq!(c.callback_port, 1455);
        assert_eq!(
            c.auth_file,
            PathBuf::from("/home/ana/.local/share/kelp/auth.json")
        );
        assert_eq!(c.state_dir, PathBuf::from("/home/ana/.local/state/kelp"));
        assert_eq!(c.config_dir, PathBuf::from("/home/ana/.config/kelp"));
        assert_eq!(
            c.log_file(),
            PathBuf::from("/home/ana/.local/state/kelp/kelp.log")
        );
    }

    #[test]
    fn overrides_win_and_lose_trailing_slashes() {
        let c = config(&[
            ("HOME", "/home/ana"),
            ("KELP_AUTH_ISSUER", "http://127.0.0.1:9/"),
            (
                "KELP_CODEX_BASE_URL",
                "http://127.0.0.1:9/backend-api/codex//",
            ),
            ("OPENAI_BASE_URL", "http://localhost:9/v1"),
            ("KELP_CALLBACK_PORT", "0"),
            ("XDG_DATA_HOME", "/data"),
            ("XDG_STATE_HOME", "/state"),
        ])
        .unwrap();
        assert_eq!(c.auth_issuer, "http://127.0.0.1:9");
        assert_eq!(c.codex_base_url, "http://127.0.0.1:9/backend-api/codex");
        assert_eq!(c.openai_base_url, "http://localhost:9/v1");
        assert_eq!(c.callback_port, 0);
        assert_eq!(c.auth_file, PathBuf::from("/data/kelp/auth.json"));
        assert_eq!(c.state_dir, PathBuf::from("/state/kelp"));
    }

    #[test]
    fn auth_file_override_beats_xdg() {
        let c = config(&[
            ("HOME", "/h"),
            ("XDG_DATA_HOME", "/d"),
            ("KELP_AUTH_FILE", "/x/a.json"),
        ])
        .unwrap();
        assert_eq!(c.auth_file, PathBuf::from("/x/a.json"));
    }

    #[test]
    fn relative_xdg_dirs_are_ignored_as_the_spec_says() {
        let c = config(&[("HOME", "/h"), ("XDG_DATA_HOME", "rel")]).unwrap();
        assert_eq!(c.auth_file, PathBuf::from("/h/.local/share/kelp/auth.json"));
    }

    #[test]
    fn malformed_urls_name_the_variable() {
        let err = config(&[("HOME", "/h"), ("OPENAI_BASE_URL", "not a url")]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("OPENAI_BASE_URL is not a valid http(s) URL")
        );
        let err = config(&[("HOME", "/h"), ("KELP_AUTH_ISSUER", "ftp://x")]).unwrap_err();
        assert!(err.to_string().contains("KELP_AUTH_ISSUER"), "{err}");
        let err = config(&[("HOME", "/h"), ("KELP_CALLBACK_PORT", "70000")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "KELP_CALLBACK_PORT is not a port number (0-65535): \"70000\""
        );
    }

    #[test]
    fn no_home_is_a_clear_error() {
        let err = config(&[]).unwrap_err();
        assert_eq!(
            err,
            ConfigError::NoHome {
                var: "XDG_DATA_HOME"
            }
        );
    }

    #[test]
    fn for_origin_puts_every_host_on_one_origin() {
        let c = Config::for_origin("http://127.0.0.1:5/", Path::new("/t"));
        assert_eq!(c.codex_base_url, "http://127.0.0.1:5/backend-api/codex");
        assert_eq!(c.openai_base_url, "http://127.0.0.1:5/v1");
        assert_eq!(c.auth_file, PathBuf::from("/t/auth.json"));
    }
}
