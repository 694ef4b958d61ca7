//! Whether a tool call may run without asking, and the asking itself.
//!
//! The rules, by [`ApprovalMode`]:
//! - `ask` (Codex's `untrusted`): read-only tools and commands known to only read run;
//!   other commands and `apply_patch` ask.
//! - `auto-edit`: patches inside the project run too; other commands ask.
//! - `full-auto` (Codex's `on-request`): commands run in the sandbox and patches inside the
//!   project apply; what goes beyond asks.
//! - `never`: as `full-auto`, and what would ask is refused (the turn sees to that).
//!
//! A command the model asks to run outside the sandbox (`sandbox_permissions:
//! "require_escalated"`) asks in every mode, every time.
//!
//! In every mode a patch that writes in a `.git` folder, in a folder git takes for a
//! repository by what it holds (`HEAD`, `objects`, `refs`), or another protected path
//! (`.envrc`, `.vscode`, `.idea`, `.codex`, `.agents/skills`) asks (they run later, unsandboxed),
//! and an MCP tool runs without asking only when the person said so (`approved_tools`), never on
//! its server's own word that it only reads.
//!
//! A call that touches a path outside the project asks in every mode — reads included. Codex
//! lets reads outside through; kelp asks, because a read is enough to send a private file
//! (`~/.ssh`, another project's secrets) to the model. A "yes, always" remembers the exact
//! command (with its directory), or every patch inside the project, or the outside paths a read
//! named, for the rest of the conversation.
//!
//! A command the person marked "always ask" (an `[[ask]]` rule of `rules.toml`) asks in every
//! mode, whatever else would let it run; so do keys typed into a terminal that hold it.
//!
//! With nobody to ask (`kelp run`), a call that would ask is denied and the model is told how
//! to rerun; with the auto-reviewer on (`auto_review`), it goes to the reviewer first
//! (`super::auto_review`).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use super::command_rules::{self, CommandRules};
use crate::protocol::Answers;
use crate::protocol::{ApprovalDecision, ApprovalMode, ApprovalSubject, ProjectRule};
use crate::sandbox::PROTECTED;
use crate::tools::terminals::WriteStdinArgs;
use crate::tools::{ShellArgs, ShellCommand, ToolCall, ToolContext, paths};

/// What a `kelp run` call that needs approval gets as its output, before the mode that would
/// allow it.
pub const DENIED_NO_ONE_TO_ASK: &str = "denied: needs approval and nobody is here to give it";

/// What to do with a call before running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Run it.
    Run,
    /// Ask a person about this.
    Ask(ApprovalSubject),
    /// Ask a person about this patch, once its preview is read ([`with_preview`]): reading the
    /// files is left to the caller, off the async threads and through the editor that holds them.
    AskPatch,
    /// Do not run it; the text is the call's output (a patch that cannot apply, so there is
    /// nothing to approve and nothing was changed).
    Fail(String),
}

/// What was approved "always" in this conversation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Remembered {
    /// `workdir\0command` of approved commands.
    commands: HashSet<String>,
    /// Patches inside the project run without asking.
    patches: bool,
    /// Paths outside the project that reads may touch.
    read_paths: HashSet<PathBuf>,
    /// `slot\0tool` of MCP tools that run without asking.
    mcp_tools: HashSet<String>,
    /// Hosts no list names that commands may reach (`network = "domains"`).
    hosts: HashSet<String>,
    /// Hosts commands are refused unasked ("never here", kept in `rules.toml` too).
    refused_hosts: HashSet<String>,
}

/// The approval state shared by the core and the running turn: the mode (switchable while a
/// turn runs), what was always-approved, and the requests waiting for an answer. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Approvals {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Whether a person answers requests; `false` for `kelp run`.
    interactive: bool,
    state: Mutex<State>,
    next_id: AtomicU64,
}

#[derive(Debug)]
struct State {
    mode: ApprovalMode,
    remembered: Remembered,
    /// The project's prefix rules, kept in `rules.toml`.
    rules: CommandRules,
    waiting: HashMap<u64, oneshot::Sender<ApprovalDecision>>,
    /// The model's questions waiting for the person's answers.
    questions: HashMap<u64, oneshot::Sender<Option<Answers>>>,
    /// Who answers first, and what auto-review decided.
    desk: super::auto_review::Desk,
}

impl Approvals {
    /// Approvals answered by a person through [`Approvals::answer`].
    pub fn interactive(mode: ApprovalMode) -> Self {
        Self::with(mode, true)
    }

    /// Approvals with nobody to ask: what would ask is denied.
    pub fn unattended(mode: ApprovalMode) -> Self {
        Self::with(mode, false)
    }

    fn with(mode: ApprovalMode, interactive: bool) -> Self {
        Self {
            inner: Arc::new(Inner {
                interactive,
                state: Mutex::new(State {
                    mode,
                    remembered: Remembered::default(),
                    rules: CommandRules::default(),
                    waiting: HashMap::new(),
                    questions: HashMap::new(),
                    desk: super::auto_review::Desk::default(),
                }),
                next_id: AtomicU64::new(1),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Auto-review's state: who answers first, the review model, the reviews not yet kept.
    pub fn desk<R>(&self, work: impl FnOnce(&mut super::auto_review::Desk) -> R) -> R {
        work(&mut self.state().desk)
    }

    /// Whether `command` holds a prefix the person marked "always ask" here.
    pub fn always_asks(&self, command: &str) -> Option<Vec<String>> {
        self.state()
            .rules
            .always_asks(command)
            .map(<[String]>::to_vec)
    }

    /// Whether a person can be asked.
    pub fn is_interactive(&self) -> bool {
        self.inner.interactive
    }

    /// The current mode.
    pub fn mode(&self) -> ApprovalMode {
        self.state().mode
    }

    /// Changes the mode; a running turn uses it from its next call on.
    pub fn set_mode(&self, mode: ApprovalMode) {
        self.state().mode = mode;
    }

    /// Forgets what was always-approved (a new conversation starts from the mode alone).
    pub fn forget_session(&self) {
        let mut state = self.state();
        state.remembered = Remembered::default();
        state.desk.forget_session();
    }

    /// These approvals with the project's prefix rules.
    pub fn with_rules(self, rules: CommandRules) -> Self {
        self.state().rules = rules;
        self
    }

    /// The project's rules: command prefixes and hosts.
    pub fn rules(&self) -> Vec<ProjectRule> {
        self.state().rules.rules().to_vec()
    }

    /// Keeps the prefix "always in this project" offers for `call`'s command as a rule: to
    /// run in the sandbox, or (`outside`) outside it.
    pub fn remember_prefix(&self, call: &ToolCall, outside: bool) -> Result<(), String> {
        let ToolCall::Shell(args) = call else {
            return Ok(());
        };
        match command_rules::prefix_of(&args.command) {
            Some(prefix) if outside => self.state().rules.add(ProjectRule::Unsandboxed(prefix)),
            Some(prefix) => self.state().rules.add(ProjectRule::Prefix(prefix)),
            None => Ok(()),
        }
    }

    /// Whether a rule of the project lets `call`'s command run outside the sandbox unasked.
    pub fn allows_outside(&self, call: &ToolCall) -> bool {
        matches!(call, ToolCall::Shell(args) if self.state().rules.allows_outside(&args.command))
    }

    /// Forgets one of the project's rules (a host's, for this conversation too).
    pub fn remove_rule(&self, rule: &ProjectRule) -> Result<(), String> {
        let mut state = self.state();
        match rule {
            ProjectRule::Host(host) => {
                state.remembered.hosts.remove(host);
            }
            ProjectRule::RefusedHost(host) => {
                state.remembered.refused_hosts.remove(host);
            }
            ProjectRule::Prefix(_) | ProjectRule::Unsandboxed(_) | ProjectRule::AlwaysAsk(_) => {}
        }
        state.rules.remove(rule)
    }

    /// Whether commands may reach `host`, a host no list names, without asking: the person
    /// allowed it for this conversation or, kept in `rules.toml`, for this project.
    pub fn host_allowed(&self, host: &str) -> bool {
        let state = self.state();
        state.remembered.hosts.contains(host) || state.rules.allows_host(host)
    }

    /// Lets commands reach `host` for the rest of the conversation.
    pub fn remember_host(&self, host: &str) {
        self.state().remembered.hosts.insert(host.to_string());
    }

    /// Keeps a host's rule (`Host`: commands reach it; `RefusedHost`: they are refused it) for
    /// this project from now on in `rules.toml`, or for this conversation only when it cannot
    /// be kept.
    pub fn keep_host_rule(&self, rule: ProjectRule) -> Result<(), String> {
        let mut state = self.state();
        let kept = state.rules.add(rule.clone());
        if kept.is_err() {
            let remembered = &mut state.remembered;
            match rule {
                ProjectRule::Host(host) => remembered.hosts.insert(host),
                ProjectRule::RefusedHost(host) => remembered.refused_hosts.insert(host),
                ProjectRule::Prefix(_)
                | ProjectRule::Unsandboxed(_)
                | ProjectRule::AlwaysAsk(_) => false,
            };
        }
        kept
    }

    /// Whether commands are refused `host` unasked: the person said "never here".
    pub fn host_refused(&self, host: &str) -> bool {
        let state = self.state();
        state.remembered.refused_hosts.contains(host) || state.rules.refuses_host(host)
    }

    /// Decides whether `call` may run in `project_dir`.
    pub fn judge(&self, call: &ToolCall, project_dir: &Path) -> Verdict {
        let state = self.state();
        judge(
            call,
            state.mode,
            &state.remembered,
            &state.rules,
            project_dir,
        )
    }

    /// How `call` is judged in `full-auto`, whatever the mode: what a hook's `allow` lets run
    /// (in the sandbox and the project; a protected path, a path outside or leaving the
    /// sandbox still asks).
    pub fn judge_allowed(&self, call: &ToolCall, project_dir: &Path) -> Verdict {
        let state = self.state();
        let mode = ApprovalMode::FullAuto;
        judge(call, mode, &state.remembered, &state.rules, project_dir)
    }

    /// How `call` is judged in `ask` mode with nothing remembered: what a hook's `ask` asks.
    pub fn judge_asking(&self, call: &ToolCall, project_dir: &Path) -> Verdict {
        let (remembered, rules) = (Remembered::default(), CommandRules::default());
        judge(call, ApprovalMode::Ask, &remembered, &rules, project_dir)
    }

    /// Remembers an "always" answer about `call`.
    pub fn remember(&self, call: &ToolCall, project_dir: &Path) {
        let mut state = self.state();
        let remembered = &mut state.remembered;
        match call {
            ToolCall::Shell(args) => {
                remembered.commands.insert(command_key(args, project_dir));
            }
            ToolCall::WriteStdin(args) => {
                remembered.commands.insert(stdin_key(args.session_id));
            }
            ToolCall::ApplyPatch(_) => remembered.patches = true,
            ToolCall::Mcp(call) => {
                remembered.mcp_tools.insert(mcp_key(&call.tool));
            }
            _ => remembered
                .read_paths
                .extend(call.paths_outside(project_dir)),
        }
    }

    /// Registers a request and returns its id and where the answer arrives.
    pub fn register(&self) -> (u64, oneshot::Receiver<ApprovalDecision>) {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.state().waiting.insert(id, tx);
        (id, rx)
    }

    /// Drops a request nobody will answer any more (its turn was cancelled).
    pub fn withdraw(&self, id: u64) {
        let mut state = self.state();
        state.waiting.remove(&id);
        state.questions.remove(&id);
    }

    /// Registers the model's questions (ids shared with approval requests) and returns the id
    /// and where the answers arrive.
    pub fn register_questions(&self) -> (u64, oneshot::Receiver<Option<Answers>>) {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.state().questions.insert(id, tx);
        (id, rx)
    }

    /// Delivers the person's answers; `false` when no questions with `id` wait.
    pub fn answer_questions(&self, id: u64, answers: Option<Answers>) -> bool {
        match self.state().questions.remove(&id) {
            Some(tx) => tx.send(answers).is_ok(),
            None => false,
        }
    }

    /// Delivers a person's answer; `false` when no request with `id` is waiting.
    pub fn answer(&self, id: u64, decision: ApprovalDecision) -> bool {
        match self.state().waiting.remove(&id) {
            Some(tx) => tx.send(decision).is_ok(),
            None => false,
        }
    }
}

/// The rules of the module docs, as a pure function.
fn judge(
    call: &ToolCall,
    mode: ApprovalMode,
    remembered: &Remembered,
    rules: &CommandRules,
    project_dir: &Path,
) -> Verdict {
    let outside = call.paths_outside(project_dir);
    match call {
        // Outside the sandbox is a person's to allow: no mode lets it through, nor anything
        // remembered for the session; only a prefix the person kept for it in this project.
        ToolCall::Shell(args) if args.asks_to_leave_the_sandbox() => {
            let always_asks = rules.always_asks(&args.command.display()).is_some();
            if rules.allows_outside(&args.command) && outside.is_empty() && !always_asks {
                return Verdict::Run;
            }
            Verdict::Ask(ApprovalSubject::Unsandboxed {
                command: args.command.display(),
                workdir: shell_workdir(args, project_dir),
                blocked: args
                    .justification
                    .as_deref()
                    .map(str::trim)
                    .filter(|why| !why.is_empty())
                    .unwrap_or("the model gives no reason")
                    .to_string(),
                requested: true,
                always_prefix: command_rules::prefix_of(&args.command),
            })
        }
        ToolCall::Shell(args) => {
            let approved = remembered
                .commands
                .contains(&command_key(args, project_dir))
                || (rules.allows(&args.command) && outside.is_empty());
            // A command that only reads (`ls`, `git status`…) runs in every mode, as Codex's.
            let workdir = shell_workdir(args, project_dir);
            let reads = super::read_only::only_reads(&args.command, project_dir, &workdir);
            let sandboxed_runs = matches!(mode, ApprovalMode::FullAuto | ApprovalMode::Never);
            // The person's "always ask" beats every mode, rule and "always".
            let always_asks = rules.always_asks(&args.command.display()).is_some();
            if !always_asks && (approved || ((sandboxed_runs || reads) && outside.is_empty())) {
                Verdict::Run
            } else {
                Verdict::Ask(ApprovalSubject::Command {
                    command: args.command.display(),
                    workdir: shell_workdir(args, project_dir),
                    always_prefix: command_rules::prefix_of(&args.command),
                })
            }
        }
        ToolCall::ApplyPatch(_) => {
            let trusted = mode != ApprovalMode::Ask || remembered.patches;
            let touched = call.touched_paths(project_dir);
            let protected = touched.iter().any(|path| is_protected(project_dir, path))
                || crate::sandbox::patch_makes_a_repository(
                    &paths::normalize(project_dir),
                    &touched,
                );
            if trusted && outside.is_empty() && !protected {
                return Verdict::Run;
            }
            Verdict::AskPatch
        }
        ToolCall::Mcp(call) => mcp_verdict(call, mode, remembered),
        ToolCall::WriteStdin(args) => typing_in(args, mode, remembered, rules),
        ToolCall::ReadFile(_)
        | ToolCall::ViewImage(_)
        | ToolCall::ListDir(_)
        | ToolCall::GrepFiles(_)
        | ToolCall::UpdatePlan(_)
        | ToolCall::Goal(_)
        | ToolCall::AskPerson(_)
        | ToolCall::Collab(_) => {
            if outside.iter().all(|p| remembered.read_paths.contains(p)) {
                Verdict::Run
            } else {
                Verdict::Ask(ApprovalSubject::Read {
                    summary: call.summary(),
                    paths: outside,
                })
            }
        }
    }
}

/// An MCP server's tool runs unasked when the person approved it (in the config or with an
/// "always") or in a mode that runs commands unasked; the server's own `readOnlyHint` is its
/// word, not the person's: it lifts nothing.
fn mcp_verdict(
    call: &crate::tools::McpCall,
    mode: ApprovalMode,
    remembered: &Remembered,
) -> Verdict {
    let tool = &call.tool;
    let trusted = tool.approved
        || matches!(mode, ApprovalMode::FullAuto | ApprovalMode::Never)
        || remembered.mcp_tools.contains(&mcp_key(tool));
    if trusted {
        return Verdict::Run;
    }
    Verdict::Ask(ApprovalSubject::McpTool {
        server: tool.server.clone(),
        tool: tool.name.clone(),
        arguments: call
            .arguments
            .as_ref()
            .map(|a| serde_json::to_string_pretty(a).unwrap_or_else(|_| String::new()))
            .unwrap_or_default(),
    })
}

/// Typing into a background terminal runs whatever its program makes of the keys (a shell runs
/// them as commands), so it asks where a new command would: not in `full-auto` (the program
/// is sandboxed), and never again for that terminal after an "always". Into a terminal the
/// person let out of the sandbox it asks every time, as leaving it does. A poll only reads;
/// a write to no such terminal, or to one without a terminal, fails without typing anything.
/// Keys that hold a prefix the person marked "always ask" ask in every mode, as the command
/// would.
fn typing_in(
    args: &WriteStdinArgs,
    mode: ApprovalMode,
    remembered: &Remembered,
    rules: &CommandRules,
) -> Verdict {
    let Some(target) = args
        .target
        .as_ref()
        .filter(|t| t.tty && !args.chars.is_empty())
    else {
        return Verdict::Run;
    };
    let sandboxed_runs = matches!(mode, ApprovalMode::FullAuto | ApprovalMode::Never);
    let approved = remembered.commands.contains(&stdin_key(args.session_id));
    let always_asks = rules.always_asks(&args.chars).is_some();
    if target.sandboxed && (sandboxed_runs || approved) && !always_asks {
        return Verdict::Run;
    }
    Verdict::Ask(ApprovalSubject::Command {
        command: format!(
            "type {:?} into background terminal {} (`{}`)",
            args.chars,
            args.session_id,
            crate::tools::one_line(&target.command)
        ),
        workdir: target.workdir.clone(),
        always_prefix: None,
    })
}

/// What an "always" about typing into a background terminal remembers.
fn stdin_key(session_id: i64) -> String {
    format!("stdin\0{session_id}")
}

/// Whether `path` is one the sandbox keeps read-only to commands, as written or where its links
/// lead: in a `.git` folder (git runs programs its config names: `core.fsmonitor`, hooks,
/// filters), or one of [`PROTECTED`] (`.envrc`, editors' task files). A patch there asks in
/// every mode, and "always" for other patches does not cover it.
pub(super) fn is_protected(project_dir: &Path, path: &Path) -> bool {
    let protected = |rel: &Path| {
        rel.components().any(|c| c.as_os_str() == ".git")
            || PROTECTED.iter().any(|name| rel.starts_with(name))
    };
    let root = paths::normalize(project_dir);
    let written = paths::resolve(&root, path);
    if written.strip_prefix(&root).is_ok_and(protected) {
        return true;
    }
    let real_root = paths::real_path(&root).unwrap_or(root);
    paths::real_path(&written).is_ok_and(|real| real.strip_prefix(&real_root).is_ok_and(protected))
}

/// `verdict` with a patch's preview read where `context` reads files (the editor's text where
/// it holds them, else the disk, on the blocking pool): what to ask, or why the patch cannot
/// apply, so there is nothing to ask.
pub async fn with_preview(verdict: Verdict, call: &ToolCall, context: &ToolContext) -> Verdict {
    match (verdict, call) {
        (Verdict::AskPatch, ToolCall::ApplyPatch(patch)) => {
            match context.preview_patch(patch).await {
                Ok(preview) => Verdict::Ask(ApprovalSubject::Patch {
                    diff: preview.diff(),
                    changes: preview.changes,
                }),
                // What a preview says of a file outside the project (that it exists, its
                // size, whether a line is in it) is for the person who may approve reading it,
                // not for the model: it gets the same answer as for a patch that fits.
                Err(e) if !call.paths_outside(&context.project_dir).is_empty() => {
                    Verdict::Ask(ApprovalSubject::Patch {
                        diff: format!("(this patch cannot be applied as it stands: {e})\n"),
                        changes: Vec::new(),
                    })
                }
                Err(e) => Verdict::Fail(e.to_string()),
            }
        }
        (verdict, _) => verdict,
    }
}

/// An MCP tool's identity for "always": which server, and the tool's own name.
fn mcp_key(tool: &crate::mcp::McpTool) -> String {
    format!("{}\0{}", tool.slot, tool.name)
}

/// The directory a command runs in, absolute.
fn shell_workdir(args: &ShellArgs, project_dir: &Path) -> PathBuf {
    paths::resolve(
        project_dir,
        Path::new(args.workdir.as_deref().unwrap_or(".")),
    )
}

/// A command's identity for "always": the resolved directory and the exact command, so an
/// approved `cargo test` does not let `cargo test; rm -rf ~` through.
fn command_key(args: &ShellArgs, project_dir: &Path) -> String {
    let words = match &args.command {
        ShellCommand::Script(script) => vec![script.as_str()],
        ShellCommand::Argv(argv) => argv.iter().map(String::as_str).collect(),
    };
    format!(
        "{}\0{}",
        shell_workdir(args, project_dir).display(),
        words.join("\0")
    )
}

/// The output a denied call gives the model.
pub fn denied_output(reason: Option<&str>) -> String {
    match reason.map(str::trim).filter(|r| !r.is_empty()) {
        Some(reason) => format!("denied by the user: {reason}"),
        None => "denied by the user".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: serde_json::Value) -> ToolCall {
        ToolCall::parse(name, &args.to_string()).unwrap()
    }

    /// A host kept or refused for the project holds until the rule is forgotten, and not a
    /// moment after: forgetting it in `/approval` takes effect in this conversation too.
    #[test]
    fn a_host_kept_or_refused_here_holds_until_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let approvals = Approvals::interactive(ApprovalMode::FullAuto)
            .with_rules(CommandRules::load(dir.path(), Path::new("/p")));
        approvals
            .keep_host_rule(ProjectRule::Host("mirror.example".into()))
            .unwrap();
        approvals
            .keep_host_rule(ProjectRule::RefusedHost("tracker.example".into()))
            .unwrap();
        assert!(approvals.host_allowed("mirror.example"));
        assert!(approvals.host_refused("tracker.example"));
        assert!(!approvals.host_allowed("tracker.example"));
        approvals
            .remove_rule(&ProjectRule::Host("mirror.example".into()))
            .unwrap();
        approvals
            .remove_rule(&ProjectRule::RefusedHost("tracker.example".into()))
            .unwrap();
        assert!(!approvals.host_allowed("mirror.example"));
        assert!(!approvals.host_refused("tracker.example"));
        // For this conversation only, until it ends.
        approvals.remember_host("session.example");
        assert!(approvals.host_allowed("session.example"));
        approvals.forget_session();
        assert!(!approvals.host_allowed("session.example"));
    }

    /// Keys typed into a sandboxed terminal that hold an "always ask" prefix ask in the mode
    /// that types the rest unasked.
    #[test]
    fn typing_an_always_asked_command_asks_in_every_mode() {
        let dir = tempfile::tempdir().unwrap();
        let mut rules = CommandRules::load(dir.path(), Path::new("/proj"));
        rules
            .add(ProjectRule::AlwaysAsk(vec!["git".into(), "push".into()]))
            .unwrap();
        let typing = |chars: &str| {
            let mut call = call(
                "write_stdin",
                serde_json::json!({"session_id": 3, "chars": chars}),
            );
            if let ToolCall::WriteStdin(args) = &mut call {
                args.target = Some(crate::tools::terminals::TerminalFacts {
                    call_id: "c".into(),
                    command: "bash".into(),
                    workdir: "/proj".into(),
                    tty: true,
                    sandboxed: true,
                });
            }
            judge(
                &call,
                ApprovalMode::FullAuto,
                &Remembered::default(),
                &rules,
                Path::new("/proj"),
            )
        };
        assert_eq!(typing("cargo test\r"), Verdict::Run);
        for chars in [
            "git push\r",
            "/usr/bin/git push origin\n",
            "g'i't${IFS}push\r",
        ] {
            assert!(asks(&typing(chars)), "{chars:?}");
        }
    }

    fn verdict(mode: ApprovalMode, c: &ToolCall) -> Verdict {
        judge(
            c,
            mode,
            &Remembered::default(),
            &CommandRules::default(),
            Path::new("/proj"),
        )
    }

    fn asks(v: &Verdict) -> bool {
        matches!(v, Verdict::Ask(_) | Verdict::AskPatch)
    }

    #[test]
    fn each_mode_asks_for_what_it_should() {
        let read = call("read_file", serde_json::json!({"path": "src/a.rs"}));
        let shell = call("shell", serde_json::json!({"command": "make"}));
        // A command that only reads runs in every mode; one that does more still asks.
        let listing = call("shell", serde_json::json!({"command": "ls -la src"}));
        let chained = call("shell", serde_json::json!({"command": "ls; rm -rf src"}));
        for mode in ApprovalMode::ALL {
            assert_eq!(verdict(mode, &listing), Verdict::Run, "{mode}");
        }
        assert!(asks(&verdict(ApprovalMode::Ask, &chained)));
        let patch = call(
            "apply_patch",
            serde_json::json!({"input": "*** Begin Patch\n*** Add File: a.txt\n+x\n*** End Patch"}),
        );
        let plan = call("update_plan", serde_json::json!({"plan": []}));
        for mode in ApprovalMode::ALL {
            assert_eq!(verdict(mode, &read), Verdict::Run);
            assert_eq!(verdict(mode, &plan), Verdict::Run);
        }
        assert!(asks(&verdict(ApprovalMode::Ask, &shell)));
        assert!(asks(&verdict(ApprovalMode::Ask, &patch)));
        assert!(asks(&verdict(ApprovalMode::AutoEdit, &shell)));
        assert_eq!(verdict(ApprovalMode::AutoEdit, &patch), Verdict::Run);
        assert_eq!(verdict(ApprovalMode::FullAuto, &shell), Verdict::Run);
        assert_eq!(verdict(ApprovalMode::FullAuto, &patch), Verdict::Run);
        // `never` lets through what `full-auto` does; what would ask, the turn refuses.
        assert_eq!(verdict(ApprovalMode::Never, &shell), Verdict::Run);
        assert_eq!(verdict(ApprovalMode::Never, &patch), Verdict::Run);
    }

    #[test]
    fn outside_the_project_asks_in_every_mode() {
        let read = call("read_file", serde_json::json!({"path": "/etc/hosts"}));
        let shell = call(
            "shell",
            serde_json::json!({"command": "ls", "workdir": "/"}),
        );
        let patch = call(
            "apply_patch",
            serde_json::json!({"input": "*** Begin Patch\n*** Add File: ../x.txt\n+x\n*** End Patch"}),
        );
        for mode in ApprovalMode::ALL {
            assert_eq!(
                verdict(mode, &read),
                Verdict::Ask(ApprovalSubject::Read {
                    summary: "read_file /etc/hosts".into(),
                    paths: vec![PathBuf::from("/etc/hosts")],
                })
            );
            assert!(asks(&verdict(mode, &shell)));
            assert!(asks(&verdict(mode, &patch)));
        }
    }

    /// A patch on an outside file that does not fit gets a person asked, as one that fits
    /// would: the model learns nothing of the file from whether its guess matched.
    #[tokio::test]
    async fn a_preview_of_an_outside_file_tells_the_model_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (project, outside) = (dir.path().join("p"), dir.path().join("o"));
        std::fs::create_dir_all(&project).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret"), "token=abc\n").unwrap();
        std::fs::write(project.join("mine"), "a\n").unwrap();
        let context = ToolContext::new(&project);
        let guess = |path: &Path, line: &str| {
            let patch = format!(
                "*** Begin Patch\n*** Update File: {}\n@@\n-{line}\n+x\n*** End Patch\n",
                path.display()
            );
            call("apply_patch", serde_json::json!({ "input": patch }))
        };
        for line in ["token=abc", "token=xyz"] {
            let patch = guess(&outside.join("secret"), line);
            let verdict = with_preview(Verdict::AskPatch, &patch, &context).await;
            assert!(matches!(verdict, Verdict::Ask(_)), "{line}: {verdict:?}");
        }
        // Inside the project a patch that does not fit fails at once, with why.
        let patch = guess(&project.join("mine"), "nope");
        let verdict = with_preview(Verdict::AskPatch, &patch, &context).await;
        assert!(
            matches!(&verdict, Verdict::Fail(why) if why.contains("did not match")),
            "{verdict:?}"
        );
    }

    #[test]
    fn a_command_request_carries_the_full_command_and_directory() {
        let shell = call(
            "shell",
            serde_json::json!({"command": ["bash", "-lc", "cargo test\necho done"], "workdir": "sub"}),
        );
        assert_eq!(
            verdict(ApprovalMode::Ask, &shell),
            Verdict::Ask(ApprovalSubject::Command {
                command: "cargo test\necho done".into(),
                workdir: PathBuf::from("/proj/sub"),
                always_prefix: None,
            })
        );
        // One plain command offers its prefix for "always in this project".
        let plain = call(
            "shell",
            serde_json::json!({"command": "cargo test -p kelp"}),
        );
        assert!(matches!(
            verdict(ApprovalMode::Ask, &plain),
            Verdict::Ask(ApprovalSubject::Command { always_prefix: Some(prefix), .. })
                if prefix == ["cargo", "test"]
        ));
    }

    #[test]
    fn always_remembers_the_exact_command_patches_and_read_paths() {
        let approvals = Approvals::interactive(ApprovalMode::Ask);
        let root = Path::new("/proj");
        let shell = call("shell", serde_json::json!({"command": "cargo test"}));
        let other = call("shell", serde_json::json!({"command": "cargo test --all"}));
        let elsewhere = call(
            "shell",
            serde_json::json!({"command": "cargo test", "workdir": "sub"}),
        );
        approvals.remember(&shell, root);
        assert_eq!(approvals.judge(&shell, root), Verdict::Run);
        assert!(asks(&approvals.judge(&other, root)));
        assert!(asks(&approvals.judge(&elsewhere, root)));

        let read = call("read_file", serde_json::json!({"path": "/etc/hosts"}));
        approvals.remember(&read, root);
        assert_eq!(approvals.judge(&read, root), Verdict::Run);

        approvals.forget_session();
        assert!(asks(&approvals.judge(&shell, root)));
        assert!(asks(&approvals.judge(&read, root)));
    }

    #[tokio::test]
    async fn a_patch_that_cannot_apply_fails_without_asking() {
        let dir = tempfile::tempdir().unwrap();
        let patch = call(
            "apply_patch",
            serde_json::json!({"input": "*** Begin Patch\n*** Update File: missing.txt\n@@\n-a\n+b\n*** End Patch"}),
        );
        let v = judge(
            &patch,
            ApprovalMode::Ask,
            &Remembered::default(),
            &CommandRules::default(),
            dir.path(),
        );
        let v = with_preview(v, &patch, &ToolContext::new(dir.path())).await;
        assert!(
            matches!(v, Verdict::Fail(ref m) if m.contains("missing.txt")),
            "{v:?}"
        );
    }

    #[tokio::test]
    async fn answers_reach_the_waiting_request_once() {
        let approvals = Approvals::interactive(ApprovalMode::Ask);
        let (id, rx) = approvals.register();
        assert!(approvals.answer(id, ApprovalDecision::Yes));
        assert_eq!(rx.await.unwrap(), ApprovalDecision::Yes);
        assert!(!approvals.answer(id, ApprovalDecision::Yes));
        let (id, _rx) = approvals.register();
        approvals.withdraw(id);
        assert!(!approvals.answer(id, ApprovalDecision::Always));
    }

    #[test]
    fn denials_carry_the_reason() {
        assert_eq!(denied_output(None), "denied by the user");
        assert_eq!(denied_output(Some("  ")), "denied by the user");
        assert_eq!(
            denied_output(Some("use the test script")),
            "denied by the user: use the test script"
        );
    }
}
