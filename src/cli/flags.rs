//! The flags of an agent's work, which every command that runs one takes, before the command
//! or after it.

use std::path::PathBuf;

use clap::Args;
use kelp::protocol::{ApprovalMode, SandboxMode};

/// The settings of an agent's work: given before the command (`kelp --model m run …`) or after
/// it, by the commands that run an agent (the client, `run`, `app-server`, `acp`); the login
/// commands take none of them.
#[derive(Debug, Default, Clone, Args)]
pub struct AgentFlags {
    /// The model to use (beats KELP_MODEL and the config file).
    #[arg(long, short = 'm', value_name = "MODEL")]
    pub(super) model: Option<String>,
    /// What the agent may do without asking: Codex's untrusted (kelp's ask), on-request
    /// (full-auto: commands run in the sandbox, asks to go beyond it) or never; or kelp's
    /// auto-edit (patches apply, commands ask).
    #[arg(
        long,
        short = 'a',
        visible_alias = "ask-for-approval",
        value_name = "POLICY",
        value_parser = parse_approval
    )]
    pub(super) approval: Option<ApprovalMode>,
    /// Commands run in the sandbox and patches apply without asking: -a on-request with
    /// --sandbox workspace-write (either may still be given).
    #[arg(long, conflicts_with = "dangerously_bypass_approvals_and_sandbox")]
    pub(super) full_auto: bool,
    /// Route approvals through auto-review (Codex's): a reviewing model answers first what
    /// would ask you, with -a on-request and --sandbox workspace-write. What it may never
    /// allow (git metadata, hidden files, what you marked always ask) still comes to you.
    #[arg(long, conflicts_with = "dangerously_bypass_approvals_and_sandbox")]
    pub(super) approve_for_me: bool,
    /// No sandbox and no approvals: the model's commands run with your full rights, unasked.
    /// Only inside a machine or container that is itself the boundary.
    #[arg(long, visible_alias = "yolo")]
    pub(super) dangerously_bypass_approvals_and_sandbox: bool,
    /// What a command the model runs may touch: workspace-write (write only inside the project,
    /// the temp dir and kelp's cache), read-only, or off (Codex's danger-full-access). Enforced
    /// by the kernel (namespaces that hide credentials, Landlock, seccomp).
    #[arg(long, short = 's', value_name = "MODE", value_parser = parse_sandbox)]
    pub(super) sandbox: Option<SandboxMode>,
    /// Let sandboxed commands open network connections (default: off), or reach only the
    /// domains of allowed_domains (the package registries unless the config says otherwise)
    /// and those you allow when a command first asks, through kelp's proxy.
    #[arg(long, value_name = "ON|OFF|DOMAINS", num_args = 0..=1, default_missing_value = "on", value_parser = parse_network)]
    pub(super) network: Option<kelp::config::modes::Network>,
    /// Let the model search the web live (web_search = "live"; the default is "cached", answers
    /// from OpenAI's index without live access).
    #[arg(long)]
    pub(super) search: bool,
    /// A Codex setting, as hosts written for Codex pass it (`-c model="gpt-5.4"`): the value is
    /// TOML, or else a string. kelp applies model, model_reasoning_effort, approval_policy,
    /// sandbox_mode, sandbox_workspace_write.network_access, openai_base_url, web_search,
    /// model_provider, model_providers.NAME[.KEY] and mcp_servers.NAME.KEY; other keys are
    /// ignored with a warning on stderr. Repeatable; beats the environment and the config file.
    #[arg(short = 'c', long = "config", value_name = "KEY=VALUE")]
    pub(super) codex: Vec<String>,
    /// The project directory (default: the current directory).
    #[arg(long = "cd", short = 'C', value_name = "DIR")]
    pub(super) cd: Option<PathBuf>,
    /// The profile laid over the config: NAME.config.toml beside config.toml (kelp's and
    /// Codex's, as Codex 0.171 reads it) and the file's [profiles.NAME] (beats KELP_PROFILE and
    /// the file's own `profile = "NAME"`).
    #[arg(long, short = 'p', value_name = "NAME")]
    pub(super) profile: Option<String>,
    /// Turn a Codex feature on, as `-c features.NAME=true`: kelp acts on multi_agent_v2 (the
    /// model may spawn agents that work beside it) and unified_exec (on by default: commands
    /// run with exec_command and may go on in the background); others are ignored with a
    /// warning.
    #[arg(long, value_name = "FEATURE")]
    pub(super) enable: Vec<String>,
    /// Turn a Codex feature off, as `-c features.NAME=false`.
    #[arg(long, value_name = "FEATURE")]
    pub(super) disable: Vec<String>,
    /// Run every hook of the config's, trusted or not, for this run: hooks run with your full
    /// rights, outside the sandbox. Only for automation that vets its hooks itself.
    #[arg(long)]
    pub(super) dangerously_bypass_hook_trust: bool,
    /// Refuse to start when a config file holds a top-level key kelp does not know, instead of
    /// warning and going on without it.
    #[arg(long)]
    pub(super) strict_config: bool,
}

impl AgentFlags {
    /// These flags, with `after` (given after the command) winning over them.
    pub(super) fn merged(self, after: AgentFlags) -> Self {
        let mut codex = self.codex;
        codex.extend(after.codex);
        let mut enable = self.enable;
        enable.extend(after.enable);
        let mut disable = self.disable;
        disable.extend(after.disable);
        Self {
            model: after.model.or(self.model),
            approval: after.approval.or(self.approval),
            full_auto: after.full_auto || self.full_auto,
            approve_for_me: after.approve_for_me || self.approve_for_me,
            dangerously_bypass_approvals_and_sandbox: after
                .dangerously_bypass_approvals_and_sandbox
                || self.dangerously_bypass_approvals_and_sandbox,
            sandbox: after.sandbox.or(self.sandbox),
            network: after.network.or(self.network),
            search: after.search || self.search,
            codex,
            cd: after.cd.or(self.cd),
            profile: after.profile.or(self.profile),
            enable,
            disable,
            dangerously_bypass_hook_trust: after.dangerously_bypass_hook_trust
                || self.dangerously_bypass_hook_trust,
            strict_config: after.strict_config || self.strict_config,
        }
    }
}

impl AgentFlags {
    /// The `-c` pairs, with `--enable` and `--disable` as the pairs they stand for.
    pub(super) fn codex_pairs(&self) -> Vec<String> {
        let flags = |names: &[String], on: bool| {
            names
                .iter()
                .map(move |name| format!("features.{name}={on}"))
                .collect::<Vec<_>>()
        };
        flags(&self.enable, true)
            .into_iter()
            .chain(flags(&self.disable, false))
            .chain(self.codex.iter().cloned())
            .collect()
    }
}

fn parse_approval(value: &str) -> Result<ApprovalMode, String> {
    value.parse()
}

fn parse_sandbox(value: &str) -> Result<SandboxMode, String> {
    value.parse()
}

fn parse_network(value: &str) -> Result<kelp::config::modes::Network, String> {
    kelp::config::modes::parse_network(value)
}
