//! `kelp sandbox check`: which layers of the command sandbox this machine gives, why any is
//! missing, what commands of this project may not see or change, and a command actually run in
//! it, so a sandbox that cannot start is found before a turn needs it.

/// A line of the report, through the terminal filter: it names folders.
macro_rules! say {
    ($($arg:tt)*) => {
        super::common::say(&format!($($arg)*))
    };
}

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use kelp::config::Config;

use kelp::protocol::SandboxMode;
use kelp::sandbox::{self, SandboxPolicy};
use kelp::tools::OutputSink;
use kelp::tools::shell::{self, ShellArgs, ShellCommand};
use tokio_util::sync::CancellationToken;

use super::common::runtime;

/// Prints the check; exits 0 when every layer is on and a command ran, 1 otherwise.
pub fn check(config: &Config, project_dir: &Path) -> ExitCode {
    let policy = SandboxPolicy::for_project(config, project_dir);
    let support = sandbox::support();
    say!(
        "Commands in {}: {}",
        project_dir.display(),
        policy.describe()
    );
    if let Some(note) = &policy.note {
        say!("  note        {note}");
    }
    let namespaces = match &support.namespaces {
        Ok(()) => {
            "on: user, mount, PID and IPC namespaces (and network with the network off)".to_string()
        }
        Err(why) => format!("missing: {why}"),
    };
    say!("  namespaces  {namespaces}");
    let landlock = match &support.landlock {
        Ok(abi) if *abi >= 9 => {
            format!("ABI {abi}: writes, TCP, signals, abstract and Unix sockets")
        }
        Ok(abi) if *abi >= 6 => format!(
            "ABI {abi}: writes, TCP, signals and abstract sockets (Unix sockets by path need ABI 9, Linux 7.1; until then the mounts hide each bound one)"
        ),
        Ok(abi) => format!("ABI {abi}: writes (signals and sockets need ABI 6)"),
        Err(why) => format!("missing: {why}"),
    };
    say!("  Landlock    {landlock}");
    match &support.seccomp {
        Ok(()) => say!(
            "  seccomp     on: no terminal injection, new user namespace, mount, keyring or io_uring"
        ),
        Err(why) => say!("  seccomp     missing: {why}"),
    }
    if let Some(hidden) = policy.describe_hidden() {
        say!("  hidden      {hidden}");
    }
    if let Some(caches) = policy.describe_caches() {
        say!("  caches      {caches}");
    }
    if policy.domains.is_some() && !policy.network {
        let listed = |list: &[String]| match list {
            [] => "none".to_string(),
            entries => entries.join(", "),
        };
        say!("  domains     allowed: {}", listed(&config.allowed_domains));
        say!("              denied: {}", listed(&config.denied_domains));
        use kelp::protocol::ProjectRule;
        let rules = kelp::agent::command_rules::CommandRules::load(&config.config_dir, project_dir);
        let kept = |wanted: fn(&ProjectRule) -> bool| -> Vec<String> {
            rules
                .rules()
                .iter()
                .filter(|rule| wanted(rule))
                .map(ProjectRule::shown)
                .collect()
        };
        say!(
            "              allowed here when a command asked: {}",
            listed(&kept(|rule| matches!(rule, ProjectRule::Host(_))))
        );
        say!(
            "              refused here when a command asked: {}",
            listed(&kept(|rule| matches!(rule, ProjectRule::RefusedHost(_))))
        );
    }
    let protected = policy.protected_in(project_dir);
    if !protected.is_empty() {
        let shown: Vec<String> = protected
            .iter()
            .map(|p| {
                p.strip_prefix(project_dir)
                    .unwrap_or(p)
                    .display()
                    .to_string()
            })
            .collect();
        say!("  read-only   {}", shown.join(", "));
    }
    let ran = run_probe(&policy, project_dir);
    match &ran {
        Ok(ms) => say!("  a command   ran in it in {ms:.1} ms"),
        Err(why) => say!("  a command   did not run: {why}"),
    }
    let complete =
        policy.mode == SandboxMode::Off || (support.namespaces.is_ok() && support.landlock.is_ok());
    if ran.is_ok() && complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Runs `true` as a command runs, in `policy`: its time, or why it did not run.
fn run_probe(policy: &SandboxPolicy, project_dir: &Path) -> Result<f64, String> {
    let runtime = runtime().map_err(|_| "no runtime to run it on".to_string())?;
    let args = ShellArgs {
        workdir: None,
        timeout_ms: Some(10_000),
        ..ShellArgs::new(ShellCommand::Argv(vec!["true".to_string()]))
    };
    let started = Instant::now();
    let outcome = runtime.block_on(shell::run(
        &args,
        project_dir,
        &shell::default_shell(),
        policy,
        &OutputSink::none(),
        CancellationToken::new(),
        &[],
    ));
    match outcome {
        Ok(outcome) if outcome.success() => Ok(started.elapsed().as_secs_f64() * 1000.0),
        Ok(outcome) => Err(format!(
            "it ended with {:?}: {}",
            outcome.exit_code,
            outcome.output.trim()
        )),
        Err(e) => Err(e.to_string()),
    }
}
