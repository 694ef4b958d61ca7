//! The modes a person picks for how far the agent may go on its own: the approval mode (what
//! runs without asking) and the sandbox (what a command may touch once it runs). They live
//! here, below the agent, because the config file, the flags and every front end share them.

use crate::protocol::{ApprovalMode, SandboxMode};

impl ApprovalMode {
    /// Every mode, in the order a picker shows them.
    pub const ALL: [ApprovalMode; 4] = [Self::Ask, Self::AutoEdit, Self::FullAuto, Self::Never];

    /// The mode's name in flags and the config file: `ask`, `auto-edit`, `full-auto`, `never`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ask => "ask",
            Self::AutoEdit => "auto-edit",
            Self::FullAuto => "full-auto",
            Self::Never => "never",
        }
    }

    /// The mode's name as Codex's `approval_policy`. `auto-edit`, which Codex has not, is said
    /// as `untrusted`, the policy that asks before the commands it asks before.
    pub fn codex_name(self) -> &'static str {
        match self {
            Self::Ask | Self::AutoEdit => "untrusted",
            Self::FullAuto => "on-request",
            Self::Never => "never",
        }
    }

    /// The mode a Codex `approval_policy` names (`on-failure`, which Codex retired, as
    /// `on-request`).
    pub fn from_codex(policy: &str) -> Option<Self> {
        match policy {
            "untrusted" => Some(Self::Ask),
            "on-request" | "on-failure" => Some(Self::FullAuto),
            "never" => Some(Self::Never),
            _ => None,
        }
    }

    /// Whether nobody is asked in this mode: what would ask is refused.
    pub fn never_asks(self) -> bool {
        self == Self::Never
    }
}

impl std::fmt::Display for ApprovalMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ApprovalMode {
    type Err = String;

    /// Parses kelp's names (`ask`, `auto-edit`, `full-auto`, `never`) and Codex's
    /// (`untrusted`, `on-request`, `on-failure`); case and `_`/`-` do not matter.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        by_name(s, Self::ALL, Self::as_str)
            .or_else(|| Self::from_codex(&s.trim().to_ascii_lowercase().replace('_', "-")))
            .ok_or_else(|| {
                format!(
                    "{s:?} is not an approval mode (ask, auto-edit, full-auto, never, or Codex's \
                     untrusted, on-request)"
                )
            })
    }
}

impl SandboxMode {
    /// Every mode, in the order help lists them.
    pub const ALL: [SandboxMode; 3] = [Self::WorkspaceWrite, Self::ReadOnly, Self::Off];

    /// The mode's name as Codex's `sandbox_mode`.
    pub fn codex_name(self) -> &'static str {
        match self {
            Self::WorkspaceWrite => "workspace-write",
            Self::ReadOnly => "read-only",
            Self::Off => "danger-full-access",
        }
    }

    /// The mode a Codex `sandbox_mode` names.
    pub fn from_codex(mode: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.codex_name() == mode)
    }

    /// The mode's name in flags and the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WorkspaceWrite => "workspace-write",
            Self::ReadOnly => "read-only",
            Self::Off => "off",
        }
    }
}

impl std::fmt::Display for SandboxMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SandboxMode {
    type Err = String;

    /// Parses `workspace-write`, `read-only` or `off` (case and `_`/`-` do not matter).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL
            .into_iter()
            .find(|mode| mode.as_str() == wanted || mode.codex_name() == wanted)
            .ok_or_else(|| {
                format!(
                    "{s:?} is not a sandbox mode (workspace-write, read-only, off, or Codex's \
                     danger-full-access)"
                )
            })
    }
}

/// The mode of `all` named `s`; case, surrounding blanks and `_` for `-` do not matter.
fn by_name<T: Copy, const N: usize>(
    s: &str,
    all: [T; N],
    name: fn(T) -> &'static str,
) -> Option<T> {
    let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
    all.into_iter().find(|mode| name(*mode) == wanted)
}

/// How far a sandboxed command's network reaches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Network {
    /// None at all (the default).
    #[default]
    Off,
    /// Through kelp's proxy, to the domains the person allows (`allowed_domains`), nothing else.
    Domains,
    /// Everywhere.
    On,
}

impl From<bool> for Network {
    fn from(on: bool) -> Self {
        if on { Self::On } else { Self::Off }
    }
}

/// Parses the network setting: a yes/no ([`parse_switch`]) or `domains`.
pub fn parse_network(s: &str) -> Result<Network, String> {
    if s.trim().eq_ignore_ascii_case("domains") {
        return Ok(Network::Domains);
    }
    parse_switch(s)
        .map(Network::from)
        .map_err(|_| format!("{s:?} is not on, off or domains"))
}

/// Parses a yes/no setting: `true`/`false`, `on`/`off`, `yes`/`no`, `1`/`0`.
pub fn parse_switch(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "1" => Ok(true),
        "false" | "off" | "no" | "0" => Ok(false),
        _ => Err(format!("{s:?} is not on or off (true, false)")),
    }
}

/// Where the interactive client's agent runs: in the client, or in a kelp app-server of the
/// person's own on this machine (started when none runs), whose turns outlive the terminal: a
/// dropped SSH connection leaves a turn running, and `kelp resume` comes back to it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Server {
    /// In the client (the default).
    #[default]
    None,
    /// Always in the per-user server.
    PerUser,
    /// In the per-user server when the client runs in an SSH session.
    OverSsh,
}

impl Server {
    /// Whether the client runs on the per-user server, given whether it is in an SSH session.
    pub fn per_user(self, over_ssh: bool) -> bool {
        match self {
            Self::None => false,
            Self::PerUser => true,
            Self::OverSsh => over_ssh,
        }
    }
}

impl std::str::FromStr for Server {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "none" | "off" => Ok(Self::None),
            "per-user" => Ok(Self::PerUser),
            "over-ssh" => Ok(Self::OverSsh),
            other => Err(format!(
                "unknown server {other:?}: use none, per-user or over-ssh"
            )),
        }
    }
}

/// How the client calls the person back when a turn ends or waits for them while they look
/// elsewhere: the terminal's bell, a desktop notification (which tmux passes on), or nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Notify {
    #[default]
    Bell,
    /// A desktop notification in the form the terminal speaks: OSC 777 where it is known to
    /// (foot, urxvt, VTE's terminals), else OSC 9 (iTerm2, WezTerm, Ghostty, kitty …).
    Desktop,
    /// OSC 9 whatever the terminal.
    Osc9,
    /// OSC 777 (`notify`) whatever the terminal.
    Osc777,
    Off,
}

impl Notify {
    /// What `Desktop` is for the terminal these variables describe (`TERM`, `VTE_VERSION`);
    /// the others stay as they are.
    pub fn for_terminal(self, var: impl Fn(&str) -> Option<String>) -> Self {
        if self != Self::Desktop {
            return self;
        }
        let term = var("TERM").unwrap_or_default();
        let speaks_777 = term.starts_with("foot")
            || term.starts_with("rxvt")
            || var("VTE_VERSION").is_some_and(|version| !version.is_empty());
        if speaks_777 { Self::Osc777 } else { Self::Osc9 }
    }
}

impl std::str::FromStr for Notify {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "bell" => Ok(Self::Bell),
            "desktop" => Ok(Self::Desktop),
            "osc9" => Ok(Self::Osc9),
            "osc777" => Ok(Self::Osc777),
            "off" | "false" | "none" => Ok(Self::Off),
            other => Err(format!(
                "unknown notifications {other:?}: use bell, desktop, osc9, osc777 or off"
            )),
        }
    }
}

/// The terminal's background, for colours that must read on it: asked of the terminal
/// (`auto`), or set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Theme {
    #[default]
    Auto,
    Dark,
    Light,
}

impl std::str::FromStr for Theme {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "dark" => Ok(Self::Dark),
            "light" => Ok(Self::Light),
            other => Err(format!("unknown theme {other:?}: use auto, dark or light")),
        }
    }
}

/// Which skills the model is told of besides the usual folders, and which not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkillSettings {
    /// More folders to look for skills in (a host's `skills/extraRoots/set`).
    pub extra_roots: Vec<std::path::PathBuf>,
    /// Skills turned off (`[[skills.config]] enabled = false`), by path or by name.
    pub off: Vec<SkillOff>,
}

/// A skill turned off: the one at `path`, or every one called `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillOff {
    pub path: Option<std::path::PathBuf>,
    pub name: Option<String>,
}

impl SkillSettings {
    /// Whether the skill called `name`, at `path`, is turned off.
    pub fn is_off(&self, name: &str, path: &std::path::Path) -> bool {
        self.off
            .iter()
            .any(|off| off.path.as_deref() == Some(path) || off.name.as_deref() == Some(name))
    }
}

/// Whether the model may search the web, through the Responses API's own `web_search` tool:
/// `live` fetches pages now, `cached` answers from OpenAI's index only (no live access), as
/// Codex's modes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WebSearch {
    Live,
    #[default]
    Cached,
    Disabled,
}

impl WebSearch {
    /// Every mode, as the config names them.
    pub const ALL: [WebSearch; 3] = [Self::Live, Self::Cached, Self::Disabled];

    /// The mode's name: `live`, `cached` or `disabled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Cached => "cached",
            Self::Disabled => "disabled",
        }
    }
}

impl std::str::FromStr for WebSearch {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        by_name(value, Self::ALL, Self::as_str)
            .ok_or_else(|| format!("{value:?} is not a web search mode (live, cached or disabled)"))
    }
}
