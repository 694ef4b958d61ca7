//! Where each setting comes from, in order: flags, the environment, kelp's config file over
//! Codex's (with a profile and `-c` tables), then the defaults; read by [`super::Config`].

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{
    ConfigError, ConfigWarning, DEFAULT_ALLOWED_DOMAINS, DEFAULT_AUTH_ISSUER,
    DEFAULT_CALLBACK_PORT, DEFAULT_CODEX_BASE_URL, DEFAULT_OPENAI_BASE_URL, ModelProvider,
    Overrides, check_endpoint, file, modes, overrides, providers,
};
use crate::protocol::{ApprovalMode, SandboxMode};

/// The folders kelp's paths derive from, read from the environment alone.
pub(super) struct Dirs {
    pub(super) home: Option<PathBuf>,
    pub(super) data_home: Result<PathBuf, ConfigError>,
    pub(super) state_dir: PathBuf,
    pub(super) config_dir: PathBuf,
}

impl Dirs {
    pub(super) fn from_lookup(
        lookup: &impl Fn(&str) -> Option<OsString>,
    ) -> Result<Self, ConfigError> {
        let path = |name: &str| lookup(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let home = path("HOME");
        let xdg = |var: &'static str, fallback: &[&str]| -> Result<PathBuf, ConfigError> {
            if let Some(dir) = path(var).filter(|p| p.is_absolute()) {
                return Ok(dir);
            }
            let home = home.clone().ok_or(ConfigError::NoHome { var })?;
            Ok(fallback.iter().fold(home, |acc, part| acc.join(part)))
        };
        // The data home is only needed when no auth file is named, so its absence is deferred.
        let data_home = xdg("XDG_DATA_HOME", &[".local", "share"]);
        if let Err(e) = &data_home
            && lookup("KELP_AUTH_FILE").filter(|v| !v.is_empty()).is_none()
        {
            return Err(e.clone());
        }
        Ok(Self {
            state_dir: xdg("XDG_STATE_HOME", &[".local", "state"])?.join("kelp"),
            config_dir: xdg("XDG_CONFIG_HOME", &[".config"])?.join("kelp"),
            data_home,
            home,
        })
    }

    pub(super) fn data_dir(&self) -> Result<PathBuf, ConfigError> {
        self.data_home.clone()
    }
}

/// Where kelp signs in and sends requests, and where the login is kept: flags, then the
/// environment, then the file, then the defaults.
pub(super) struct Endpoints {
    pub(super) auth_issuer: String,
    pub(super) codex_base_url: String,
    pub(super) openai_base_url: String,
    pub(super) callback_port: u16,
    pub(super) auth_file: PathBuf,
}

impl Endpoints {
    pub(super) fn read(
        text: &impl Fn(&str) -> Option<String>,
        lookup: &impl Fn(&str) -> Option<OsString>,
        from_file: &file::FileSettings,
        overrides: &Overrides,
        dirs: &Dirs,
    ) -> Result<Self, ConfigError> {
        let endpoint =
            |var: &'static str, file_value: Option<String>, default: &str| match text(var) {
                Some(value) => check_endpoint(&value).map_err(|reason| ConfigError::BadUrl {
                    var,
                    value,
                    reason,
                }),
                None => Ok(file_value.unwrap_or_else(|| default.to_string())),
            };
        let auth_issuer = endpoint(
            "KELP_AUTH_ISSUER",
            from_file.auth_issuer.clone(),
            DEFAULT_AUTH_ISSUER,
        )?;
        let codex_base_url = endpoint(
            "KELP_CODEX_BASE_URL",
            from_file.codex_base_url.clone(),
            DEFAULT_CODEX_BASE_URL,
        )?;
        let openai_base_url = match &overrides.openai_base_url {
            Some(url) => url.clone(),
            None => endpoint(
                "OPENAI_BASE_URL",
                from_file.openai_base_url.clone(),
                DEFAULT_OPENAI_BASE_URL,
            )?,
        };
        let callback_port = match text("KELP_CALLBACK_PORT") {
            None => from_file.callback_port.unwrap_or(DEFAULT_CALLBACK_PORT),
            Some(value) => value.parse().map_err(|_| ConfigError::BadPort {
                var: "KELP_CALLBACK_PORT",
                value,
            })?,
        };
        let auth_file = match lookup("KELP_AUTH_FILE").filter(|v| !v.is_empty()) {
            Some(file) => PathBuf::from(file),
            None => match from_file.auth_file.clone() {
                Some(file) => file,
                None => dirs.data_dir()?.join("kelp").join("auth.json"),
            },
        };

        Ok(Self {
            auth_issuer,
            codex_base_url,
            openai_base_url,
            callback_port,
            auth_file,
        })
    }
}

/// What runs unasked, how commands are fenced and whether they reach the network: flags, then
/// the environment, then the file, then the defaults a folder's trust gives.
pub(super) struct Modes {
    pub(super) approval: ApprovalMode,
    pub(super) sandbox: SandboxMode,
    pub(super) network: modes::Network,
    /// Nothing chose approval or sandbox, so the folder's trust picks them.
    pub(super) trust_decides: bool,
}

impl Modes {
    pub(super) fn read(
        text: &impl Fn(&str) -> Option<String>,
        from_file: &file::FileSettings,
        overrides: &Overrides,
    ) -> Result<Self, ConfigError> {
        let approval = chosen(overrides.approval, || {
            var(&text, "KELP_APPROVAL", str::parse)
        })?
        .or(from_file.approval)
        .or(overrides.default_approval)
        .unwrap_or_default();
        let sandbox = chosen(overrides.sandbox, || var(&text, "KELP_SANDBOX", str::parse))?
            .or(from_file.sandbox)
            .or(overrides.default_sandbox)
            .unwrap_or_default();
        let network = chosen(overrides.network, || {
            var(&text, "KELP_NETWORK", modes::parse_network)
        })?
        .or(from_file.network)
        .unwrap_or_default();
        let trust_decides = overrides.approval.is_none()
            && overrides.sandbox.is_none()
            && text("KELP_APPROVAL").is_none()
            && text("KELP_SANDBOX").is_none()
            && from_file.approval.is_none()
            && from_file.sandbox.is_none();
        Ok(Self {
            approval,
            sandbox,
            network,
            trust_decides,
        })
    }
}

/// The flag's value, else the variable's: the variable is read (and a bad one refused) only
/// when no flag chose.
fn chosen<T>(
    flag: Option<T>,
    variable: impl FnOnce() -> Result<Option<T>, ConfigError>,
) -> Result<Option<T>, ConfigError> {
    match flag {
        Some(value) => Ok(Some(value)),
        None => variable(),
    }
}

/// The provider named by the flag or the file (OpenAI when neither names one), among
/// `model_providers`; the error says which file chose a provider that is not there.
pub(super) fn chosen_provider(
    overrides: &Overrides,
    from_file: Option<String>,
    model_providers: &[ModelProvider],
    chosen_in: &str,
) -> Result<ModelProvider, ConfigError> {
    let provider_id = overrides
        .model_provider
        .clone()
        .or(from_file)
        .unwrap_or_else(|| providers::OPENAI.to_string());
    providers::choose(&provider_id, model_providers).map_err(|why| {
        ConfigError::Provider(match chosen_in {
            "" => why,
            source => format!("{source}: {why}"),
        })
    })
}

/// A variable's value, trimmed; `None` when unset or blank.
pub(super) fn trimmed(value: Option<OsString>) -> Option<String> {
    value
        .map(|v| v.to_string_lossy().trim().to_string())
        .filter(|v| !v.is_empty())
}

/// [`DEFAULT_ALLOWED_DOMAINS`] as the list a config holds.
pub(super) fn default_allowed_domains() -> Vec<String> {
    DEFAULT_ALLOWED_DOMAINS
        .iter()
        .map(|d| d.to_string())
        .collect()
}

/// `KELP_CONTEXT_WINDOW` over the file's `context_window`.
pub(super) fn context_window(
    text: &impl Fn(&str) -> Option<String>,
    from_file: Option<u64>,
) -> Result<Option<u64>, ConfigError> {
    Ok(match text("KELP_CONTEXT_WINDOW") {
        Some(value) => Some(
            value
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|tokens| *tokens >= 1_000)
                .ok_or_else(|| ConfigError::BadValue {
                    var: "KELP_CONTEXT_WINDOW",
                    reason: format!("{value:?} is not a number of tokens, 1000 or more"),
                })?,
        ),
        None => from_file,
    })
}

/// Variable `name` of the environment (`text`) read by `parse`, if it is set; a value `parse`
/// refuses is an error that names the variable.
pub(super) fn var<T>(
    text: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, ConfigError> {
    text(name)
        .map(|value| parse(&value).map_err(|reason| ConfigError::BadValue { var: name, reason }))
        .transpose()
}

/// A profile's own file (Codex 0.171's `-p NAME`: `NAME.config.toml` beside `config.toml`),
/// laid over the person's files.
#[derive(Debug, Clone)]
pub struct ProfileFile {
    pub path: PathBuf,
    pub dialect: file::Dialect,
    pub text: String,
}

/// kelp's config file laid over Codex's, with the profile in force and the tables `-c` gave.
pub(super) struct Layered {
    pub(super) settings: file::FileSettings,
    pub(super) warnings: Vec<ConfigWarning>,
    /// Each file and the settings of both that it gave.
    pub(super) settings_from: Vec<(PathBuf, Vec<&'static str>)>,
    /// Where the provider in force was chosen, for the error when it cannot be used.
    pub(super) provider_chosen_in: String,
}

impl Layered {
    pub(super) fn read(
        text: &impl Fn(&str) -> Option<String>,
        file: Option<(&Path, &str)>,
        codex: Option<(&Path, &str)>,
        (project, profiles): (&[super::project::ProjectFile], &[ProfileFile]),
        overrides: &Overrides,
        home: Option<&Path>,
    ) -> Result<Self, ConfigError> {
        // The profile in force is laid over each file's top level first; a profile asked for
        // may be in either file.
        let profile = overrides.profile.clone().or_else(|| text("KELP_PROFILE"));
        let codex_profiled =
            codex.map(|(_, body)| overrides::with_profile(body, profile.as_deref()));
        let codex_has_it = matches!(codex_profiled, Some(Ok(Some(_))));
        let profiled =
            match overrides::with_profile(file.map_or("", |(_, body)| body), profile.as_deref()) {
                // The profile's own file is the profile.
                Err(_) if codex_has_it || !profiles.is_empty() => Ok(None),
                other => other,
            }
            .map_err(|reason| ConfigError::BadValue {
                var: "--profile",
                reason,
            })?;
        let codex_text = match (&codex_profiled, codex) {
            (Some(Ok(Some(text))), Some((path, _))) => Some((path, text.as_str())),
            (_, codex) => codex,
        };
        let (from_codex, mut codex_warnings) = match codex_text {
            Some((path, body)) => file::parse_as(file::Dialect::Codex, path, body, home),
            None => Default::default(),
        };
        let file = match (&profiled, file) {
            (Some(text), Some((path, _))) => Some((path, text.as_str())),
            (_, file) => file,
        };
        // MCP servers and model providers given with `-c` are laid over the file's, key by key.
        let merged = overrides::with_tables(file.map_or("", |(_, body)| body), &overrides.tables);
        let file = match (&merged, file) {
            (Some(text), Some((path, _))) => Some((path, text.as_str())),
            (Some(text), None) => Some((Path::new("-c"), text.as_str())),
            (None, file) => file,
        };
        let (from_file, mut warnings) = match file {
            Some((path, body)) => file::parse(path, body, home),
            None => Default::default(),
        };
        warnings.append(&mut codex_warnings);
        let settings = from_file.clone().over(from_codex.clone());
        // A profile's files above both (kelp's above Codex's): what they set wins.
        let (mut settings, mut from_profiles) =
            over_profiles(settings, profiles, home, &mut warnings);
        let mut from_project = Vec::new();
        for file in project {
            let (read, mut said) = file::parse_as(file.dialect, &file.path, &file.in_force, home);
            warnings.append(&mut said);
            let keys = read.shared_keys(file.dialect, Some(&settings));
            if !keys.is_empty() {
                from_project.push((file.path.clone(), keys));
            }
            settings = settings.over(read);
        }
        let mut settings_from = Vec::new();
        for (source, settings, dialect, above) in [
            (file, &from_file, file::Dialect::Kelp, None),
            (codex, &from_codex, file::Dialect::Codex, Some(&from_file)),
        ] {
            if let Some((path, _)) = source {
                let keys = settings.shared_keys(dialect, above);
                if !keys.is_empty() {
                    settings_from.push((path.to_path_buf(), keys));
                }
            }
        }
        // Where the provider in force was chosen, for the error when it cannot be used.
        let provider_chosen_in = if overrides.model_provider.is_some() {
            "-c model_provider".to_string()
        } else if let (Some((path, _)), Some(_)) = (file, &from_file.model_provider) {
            path.display().to_string()
        } else if let (Some((path, _)), Some(_)) = (codex, &from_codex.model_provider) {
            path.display().to_string()
        } else {
            String::new()
        };
        settings_from.append(&mut from_profiles);
        settings_from.append(&mut from_project);
        Ok(Self {
            settings,
            warnings,
            settings_from,
            provider_chosen_in,
        })
    }
}

/// `settings` with a profile's files laid over them (the first the strongest), and the
/// settings each gave.
fn over_profiles(
    mut settings: file::FileSettings,
    profiles: &[ProfileFile],
    home: Option<&Path>,
    warnings: &mut Vec<ConfigWarning>,
) -> (file::FileSettings, Vec<(PathBuf, Vec<&'static str>)>) {
    let mut from_profiles = Vec::new();
    for profile in profiles.iter().rev() {
        let (read, mut said) = file::parse_as(profile.dialect, &profile.path, &profile.text, home);
        warnings.append(&mut said);
        let keys = read.shared_keys(profile.dialect, None);
        if !keys.is_empty() {
            from_profiles.push((profile.path.clone(), keys));
        }
        settings = read.over(settings);
    }
    (settings, from_profiles)
}
