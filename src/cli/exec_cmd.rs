//! `kelp exec`: Codex's `exec` on kelp, so a host built on `codex exec --experimental-json`
//! (the TypeScript `@openai/codex-sdk`, providers built on it) runs kelp by changing the
//! binary's path. The command line the SDK builds, Codex's JSON lines
//! ([`kelp::app_server::exec_events::ExecEvents`]), its defaults (never asks, read-only sandbox), `CODEX_API_KEY`, and
//! `exec resume ID | --last`. A turn runs as `kelp run`'s does ([`run_cmd::drive`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kelp::agent::core::start::CoreOptions;
use kelp::config::{Config, Overrides};
use kelp::protocol::ImageInput;
use kelp::protocol::Submission;
use kelp::protocol::{ApprovalMode, SandboxMode};
use serde_json::Value;

use super::common::{exit, fail, say_err};
use super::exec_human::{Header, HumanPrinter, paints};
use super::run_cmd::{self, JsonLines, Printer};
use super::sessions_cmd::{self, ResumeRequest};

/// What `kelp exec` was asked to do.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The prompt is read from standard input when it is absent or `-`. With --json, \
stdout carries only Codex's JSON events (thread.started, turn.started, item.started, \
item.updated, item.completed, turn.completed, turn.failed, error), one per line; without it, \
stdout carries the turn's last answer and stderr what Codex's exec shows a person: a header \
(model, sandbox, session id), each command with its exit and output, each patch with its \
diff, the answers, the tokens used. The API key comes from CODEX_API_KEY \
(used before a stored login, as Codex's exec does), else the stored login, else \
OPENAI_API_KEY. Nobody is there to approve: commands run in the sandbox (read-only unless \
--sandbox or the config says otherwise) and what would ask is refused. Exit codes: 0 done, \
1 the turn failed, 2 a wrong command line, 3 not signed in, 4 a usage limit, 130 stopped by \
SIGINT, SIGTERM or SIGHUP (running commands are killed)."
)]
pub struct ExecArgs {
    #[command(flatten)]
    pub(super) agent: super::flags::AgentFlags,
    /// Print Codex's JSON events, one per line, instead of the last answer.
    #[arg(long, alias = "experimental-json")]
    json: bool,
    /// Attach an image to the prompt (repeatable, or comma-separated).
    #[arg(long, short = 'i', value_name = "FILE", value_delimiter = ',')]
    image: Vec<PathBuf>,
    /// Ask for a final answer that is JSON following the JSON Schema in FILE.
    #[arg(long, value_name = "FILE")]
    output_schema: Option<PathBuf>,
    /// Also write the turn's last answer to FILE.
    #[arg(long, short = 'o', value_name = "FILE")]
    output_last_message: Option<PathBuf>,
    /// Let commands write DIR too, besides the project (repeatable). apply_patch still
    /// writes only inside the project.
    #[arg(long, value_name = "DIR")]
    add_dir: Vec<PathBuf>,
    /// Run outside a git repository (Codex's exec refuses to by default; so does kelp's).
    #[arg(long)]
    skip_git_repo_check: bool,
    /// Save nothing of the conversation.
    #[arg(long)]
    ephemeral: bool,
    /// Run in a new git worktree of this repository, on a branch of its own (`kelp/ID`), in
    /// `.kelp-worktrees/` beside the repository.
    #[arg(long)]
    worktree: bool,
    /// Colour the words on stderr: always, never or auto (when stderr is a terminal and
    /// NO_COLOR is unset).
    #[arg(long, value_name = "WHEN", value_parser = ["always", "never", "auto"])]
    color: Option<String>,
    /// Accepted for the SDK: a label Codex records with the thread; kelp keeps none.
    #[arg(long, value_name = "SOURCE", hide = true)]
    thread_source: Option<String>,
    /// Refused unless `standard`: kelp has no access programs.
    #[arg(long, value_name = "PROGRAM", hide = true)]
    cyber_access_program: Option<String>,
    /// The prompt; read from standard input when absent or `-`.
    prompt: Option<String>,
    #[command(subcommand)]
    command: Option<ExecCommand>,
}

#[derive(Debug, clap::Subcommand)]
enum ExecCommand {
    /// Continue a saved conversation: the one with ID (or an id prefix), or the newest of this
    /// directory with --last.
    Resume(ResumeArgs),
}

#[derive(Debug, clap::Args)]
struct ResumeArgs {
    /// The conversation's id (`thread_id` of `thread.started`), or a prefix of it.
    #[arg(value_name = "ID", required_unless_present = "last")]
    id: Option<String>,
    /// The prompt; read from standard input when absent or `-`.
    prompt: Option<String>,
    /// The newest conversation of this directory.
    #[arg(long)]
    last: bool,
    /// Attach an image to the prompt (repeatable, or comma-separated).
    #[arg(long, short = 'i', value_name = "FILE", value_delimiter = ',')]
    image: Vec<PathBuf>,
}

impl ExecArgs {
    /// What this command line sets before the configuration is read: Codex's exec never asks
    /// and, unless told otherwise, runs commands read-only.
    pub(super) fn apply(&self, overrides: &mut Overrides) -> Result<(), String> {
        if let Some(program) = self.cyber_access_program.as_deref()
            && program != "standard"
        {
            return Err(format!(
                "--cyber-access-program {program}: kelp has no access programs"
            ));
        }
        // --full-auto (workspace-write) and --yolo are every agent command's flags.
        overrides.default_approval = Some(ApprovalMode::FullAuto);
        overrides.default_sandbox = Some(SandboxMode::ReadOnly);
        // A folder that is not there is left out with a warning, as Codex's exec goes on.
        for dir in &self.add_dir {
            match std::fs::canonicalize(dir) {
                Ok(dir) => overrides.writable_roots.push(dir),
                Err(e) => {
                    let why = match e.kind() {
                        std::io::ErrorKind::NotFound => "no such folder".to_string(),
                        _ => e.to_string(),
                    };
                    super::common::say_err(&format!(
                        "kelp: warning: --add-dir {}: {why}; it is left out",
                        dir.display()
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Codex's exec takes CODEX_API_KEY before a stored login; OPENAI_API_KEY after it.
fn take_codex_api_key(options: &mut CoreOptions) {
    if let Some(key) = std::env::var("CODEX_API_KEY")
        .ok()
        .filter(|key| !key.trim().is_empty())
    {
        options.env_api_key = Some(key);
        options.env_api_key_first = true;
    }
}

/// Codex's JSON lines (`--json`), else the words for a person; `resumed` is the file of the
/// conversation it goes on, whose model the header names.
fn printer_of(
    args: &ExecArgs,
    config: &Config,
    project_dir: &Path,
    prompt: &str,
    resumed: Option<PathBuf>,
) -> Box<dyn Printer> {
    if args.json {
        return Box::new(JsonLines::new(project_dir, false));
    }
    let saved_model = resumed
        .and_then(|path| kelp::protocol::SessionSummary::read(&path).ok())
        .map(|saved| saved.model);
    let header = header_of(config, project_dir, prompt, saved_model.as_deref());
    Box::new(HumanPrinter::new(header, paints(args.color.as_deref())))
}

/// What the words for a person start with: where and how the turn runs, in Codex's terms.
fn header_of(
    config: &Config,
    project_dir: &Path,
    prompt: &str,
    saved_model: Option<&str>,
) -> Header {
    let sandbox = match config.sandbox {
        SandboxMode::WorkspaceWrite => {
            let mut roots = vec!["workdir".to_string()];
            roots.extend(
                config
                    .writable_roots
                    .iter()
                    .map(|root| root.display().to_string()),
            );
            let network = if config.network { ", network on" } else { "" };
            format!("workspace-write [{}]{network}", roots.join(", "))
        }
        other => other.codex_name().to_string(),
    };
    Header {
        workdir: project_dir.to_path_buf(),
        model: config.model_or(saved_model),
        provider: config.model_provider.id.clone(),
        approval: "never".to_string(),
        sandbox,
        effort: config
            .reasoning_effort
            .clone()
            .unwrap_or_else(|| "medium".to_string()),
        summaries: "auto".to_string(),
        prompt: prompt.to_string(),
    }
}

/// `--worktree`: a new worktree to run in, said on stderr; refused for a resumed conversation.
fn worktree_asked(
    asked: bool,
    resumed: bool,
    project_dir: &Path,
) -> Result<Option<kelp::protocol::Worktree>, ExitCode> {
    if !asked {
        return Ok(None);
    }
    if resumed {
        return Err(fail(
            exit::USAGE,
            "--worktree starts a new conversation; a resumed one runs where it was saved",
        ));
    }
    let made = kelp::agent::worktree::create(project_dir)
        .map_err(|why| fail(exit::FAILURE, &format!("--worktree: {why}")))?;
    say_err(&format!(
        "kelp: working in the worktree {} on the branch {}",
        made.root.display(),
        made.branch
    ));
    Ok(Some(made))
}

/// Runs `kelp exec` for the project in `project_dir`.
pub fn exec(config: &Config, project_dir: &Path, args: ExecArgs) -> ExitCode {
    let trusted = config.trust_of(project_dir) == Some(true);
    if !args.skip_git_repo_check && !trusted && !in_git_repository(project_dir) {
        return fail(
            exit::FAILURE,
            "Not inside a trusted directory and --skip-git-repo-check was not specified.",
        );
    }
    // In a trusted folder the model's patches apply, as Codex's exec does there: its commands
    // may write the project.
    let mut config = config.clone();
    if trusted && config.trust_decides {
        config.sandbox = SandboxMode::WorkspaceWrite;
    }
    let config = &config;
    if let Err(code) = run_cmd::check_effort(config) {
        return code;
    }
    let ExecInput {
        resume,
        prompt,
        mut images,
    } = match resumed_and_prompt(config, project_dir, &args) {
        Ok(found) => found,
        Err(code) => return code,
    };
    images.splice(0..0, args.image.iter().cloned());
    let worktree = match worktree_asked(args.worktree, resume.is_some(), project_dir) {
        Ok(made) => made,
        Err(code) => return code,
    };
    let project_dir = worktree
        .as_ref()
        .map_or(project_dir, |made| &made.project_dir);
    let output_schema = match args.output_schema.as_deref().map(read_schema).transpose() {
        Ok(schema) => schema,
        Err(message) => return fail(exit::USAGE, &message),
    };
    let text = match run_cmd::read_prompt(prompt.as_deref(), true) {
        Ok(text) => text,
        Err(code) => return code,
    };
    let resumed = resume.is_some();
    let resumed_file = resume.clone();
    let mut options = CoreOptions::new(project_dir);
    options.resume = resume;
    options.ephemeral = args.ephemeral;
    take_codex_api_key(&mut options);
    let submission = Submission {
        text,
        images: images.into_iter().map(ImageInput::File).collect(),
        output_schema,
        turn_id: None,
        from_kelp: false,
    };
    let mut printer = printer_of(&args, config, project_dir, &submission.text, resumed_file);
    // Its folder is held from before the turn: the model's commands may swap the folder or
    // the file for a link while it runs.
    let last_message = match args
        .output_last_message
        .as_deref()
        .map(HeldPath::hold)
        .transpose()
    {
        Ok(held) => held,
        Err((path, e)) => {
            return fail(
                exit::USAGE,
                &format!("--output-last-message {}: {e}", path.display()),
            );
        }
    };
    let driven = run_cmd::drive(
        config,
        options,
        kelp::protocol::Op::Submit(submission),
        resumed,
        printer.as_mut(),
    );
    if let Some(held) = &last_message
        && let Err(code) = write_last_message(held, printer.last_message().unwrap_or_default())
    {
        return code;
    }
    // As Codex's exec: a stdout that cannot be written ends the run with a failure, a closed
    // pipe included (`kelp run`, for scripts, takes `| head` as the reader's choice).
    if let Err(e) = &driven.printed {
        return fail(
            exit::FAILURE,
            &format!("cannot write the events ({e}): the turn was stopped"),
        );
    }
    driven.exit_code()
}

/// What `kelp exec` (or `kelp exec resume`) was given to run.
struct ExecInput {
    /// The saved conversation it goes on (its file); `None` for a new conversation.
    resume: Option<PathBuf>,
    prompt: Option<String>,
    images: Vec<PathBuf>,
}

/// The saved conversation `kelp exec resume` goes on, the prompt, and the images it attaches.
fn resumed_and_prompt(
    config: &Config,
    project_dir: &Path,
    args: &ExecArgs,
) -> Result<ExecInput, ExitCode> {
    Ok(match &args.command {
        Some(ExecCommand::Resume(resume)) => {
            let request = match (&resume.id, resume.last) {
                (Some(id), false) => ResumeRequest::Id(id.clone()),
                // `resume --last PROMPT`: the first word is the prompt.
                (id, _) => {
                    if id.is_some() && resume.prompt.is_some() {
                        return Err(fail(exit::USAGE, "give an ID or --last, not both"));
                    }
                    ResumeRequest::Latest
                }
            };
            let prompt = match (&resume.id, resume.last) {
                (Some(id), true) => Some(id.clone()),
                _ => resume.prompt.clone(),
            };
            let path = sessions_cmd::resolve(config, project_dir, &request)?;
            ExecInput {
                resume: Some(path),
                prompt,
                images: resume.image.clone(),
            }
        }
        None => ExecInput {
            resume: None,
            prompt: args.prompt.clone(),
            images: Vec::new(),
        },
    })
}

/// `--output-last-message`: the turn's last answer written to the file held since before it
/// (an empty file, and a warning, when there was none).
fn write_last_message(held: &HeldPath, last: &str) -> Result<(), ExitCode> {
    if last.is_empty() {
        super::common::say_err(&format!(
            "kelp: warning: no answer to write; {} is left empty",
            held.shown.display()
        ));
    }
    if let Err(e) = held.write(last.as_bytes()) {
        return Err(fail(
            exit::FAILURE,
            &format!("cannot write {}: {e}", held.shown.display()),
        ));
    }
    Ok(())
}

/// A file named on the command line that kelp writes after a turn: its folder opened before
/// the turn and held, and the file's name opened in it without following a link, unless it
/// was that very link before the turn (the person's own).
struct HeldPath {
    folder: std::fs::File,
    name: std::ffi::CString,
    shown: PathBuf,
    /// The link the name was before the turn, by device and inode.
    link_before: Option<(u64, u64)>,
}

impl HeldPath {
    fn hold(path: &Path) -> Result<Self, (PathBuf, std::io::Error)> {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
        let failed = |e| (path.to_path_buf(), e);
        let name = path
            .file_name()
            .ok_or_else(|| failed(std::io::ErrorKind::InvalidInput.into()))?;
        let folder = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(kelp::private_file::parent_dir(path))
            .map_err(failed)?;
        let link_before = std::fs::symlink_metadata(path)
            .ok()
            .filter(|meta| meta.file_type().is_symlink())
            .map(|meta| (meta.dev(), meta.ino()));
        Ok(Self {
            folder,
            name: std::ffi::CString::new(name.as_bytes())
                .map_err(|_| failed(std::io::ErrorKind::InvalidInput.into()))?,
            shown: path.to_path_buf(),
            link_before,
        })
    }

    /// Writes `bytes` as the file's whole content: a regular file only (never a FIFO that
    /// would hold kelp), and through a link only where it was the person's before the turn.
    fn write(&self, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        use std::os::fd::{AsRawFd, FromRawFd};
        let folder = self.folder.as_raw_fd();
        // SAFETY: fstatat on a held descriptor and a NUL-terminated name into a zeroed struct.
        let same_link = self.link_before.is_some_and(|before| unsafe {
            let mut now: libc::stat = std::mem::zeroed();
            libc::fstatat(
                folder,
                self.name.as_ptr(),
                &raw mut now,
                libc::AT_SYMLINK_NOFOLLOW,
            ) == 0
                && (now.st_mode & libc::S_IFMT) == libc::S_IFLNK
                && (now.st_dev, now.st_ino) == before
        });
        let mut flags = libc::O_WRONLY | libc::O_CREAT | libc::O_NONBLOCK | libc::O_CLOEXEC;
        if !same_link {
            flags |= libc::O_NOFOLLOW;
        }
        // SAFETY: openat on a held descriptor and a NUL-terminated name.
        let fd = unsafe { libc::openat(folder, self.name.as_ptr(), flags, 0o666 as libc::c_uint) };
        if fd < 0 {
            let e = std::io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                Some(libc::ELOOP) => std::io::Error::other(
                    "it became a link during the turn, and kelp does not write through it",
                ),
                _ => e,
            });
        }
        // SAFETY: `fd` was just opened and is owned here alone.
        let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
        if !file.metadata()?.is_file() {
            return Err(std::io::Error::other("it is not a regular file"));
        }
        file.set_len(0)?;
        file.write_all(bytes)
    }
}

/// Whether `dir` or a folder above it holds `.git` (a repository or a worktree's file).
fn in_git_repository(dir: &Path) -> bool {
    dir.ancestors()
        .any(|dir| dir.join(".git").symlink_metadata().is_ok())
}

/// The JSON Schema in `path`: an object, as the Responses API takes it.
fn read_schema(path: &Path) -> Result<Value, String> {
    let named = || format!("--output-schema {}", path.display());
    let text =
        kelp::private_file::read_regular(path, 1 << 20).map_err(|e| format!("{}: {e}", named()))?;
    match serde_json::from_slice::<Value>(&text) {
        Ok(schema @ Value::Object(_)) => Ok(schema),
        Ok(_) => Err(format!("{}: the schema must be a JSON object", named())),
        Err(e) => Err(format!("{}: not JSON: {e}", named())),
    }
}
