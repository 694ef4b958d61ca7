//! Running a parsed call: each tool in its place (the blocking pool for file work, the sandbox
//! for commands, the editor where one holds the files), the call's paths judged again first.

use std::path::{Path, PathBuf};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::{
    ApplyPatchCall, McpCall, OutputSink, ReadFileArgs, ShellArgs, ToolCall, ToolContext,
    ToolDetail, ToolOutput, apply_patch, grep_files, list_dir, opener, paths, read_file, shell,
    update_plan, view_image,
};

/// Runs `call` in `ctx`.
///
/// `allowed_outside` are the outside paths the call was approved for (by a person, or
/// remembered from an "always"); the call's paths are judged again right before it runs, and
/// one that has come to lead anywhere else outside the project (a path swapped for a symlink
/// after the check) refuses the call. A patch checks each file again as it writes it.
///
/// `output` receives a `shell` command's lines as they come. `cancel` stops the call at once:
/// a command's process group is killed, a search stops; a patch being written is finished
/// first, since stopping half way would leave files half changed. File work runs on tokio's
/// blocking pool, never on the async runtime's threads.
pub async fn execute(
    call: &ToolCall,
    ctx: &ToolContext,
    output: &OutputSink,
    cancel: CancellationToken,
    allowed_outside: &[PathBuf],
) -> ToolOutput {
    let started = Instant::now();
    if cancel.is_cancelled() {
        return ToolOutput::cancelled(started.elapsed());
    }
    if let Some((path, real)) = call
        .outside_with_where(&ctx.project_dir)
        .into_iter()
        .find(|(_, real)| !allowed_outside.contains(real))
    {
        return ToolOutput::failure(
            format!(
                "refused: {} leads outside the project now, to {}; it changed after the approval check",
                paths::display(&ctx.project_dir, &path),
                real.display()
            ),
            started.elapsed(),
        );
    }
    match call {
        ToolCall::ReadFile(args) => read_file_in(args, ctx, cancel, allowed_outside, started).await,
        ToolCall::ViewImage(args) => {
            let path = ctx.resolve(&args.path);
            let (shown, project_dir) = (args.path.clone(), ctx.project_dir.clone());
            let allowed = allowed_outside.to_vec();
            // What the model receives is the image alone, as Codex sends it.
            blocking_with(cancel, started, move |_| {
                let opener = opener_for(&project_dir, allowed)?;
                let url = view_image::view(&opener, &path, &shown)?;
                Ok((String::new(), ToolDetail::Image(url)))
            })
            .await
        }
        ToolCall::ListDir(args) => {
            let path = ctx.resolve(&args.path);
            let (args, project_dir) = (args.clone(), ctx.project_dir.clone());
            let allowed = allowed_outside.to_vec();
            blocking(cancel, started, move |token| {
                let opener = opener_for(&project_dir, allowed)?;
                list_dir::list(&opener, &path, &args.path, args.depth, &token)
                    .map_err(|e| e.to_string())
            })
            .await
        }
        ToolCall::GrepFiles(args) => {
            let root = ctx.resolve(args.path.as_deref().unwrap_or("."));
            let (args, project_dir) = (args.clone(), ctx.project_dir.clone());
            let allowed = allowed_outside.to_vec();
            blocking(cancel, started, move |token| {
                let opener = opener_for(&project_dir, allowed)?;
                grep_files::search(&opener, &root, &args, &token).map_err(|e| e.to_string())
            })
            .await
        }
        ToolCall::Shell(asked) if asked.terminal.is_some() => {
            ctx.terminals.exec(asked, ctx, output, cancel).await
        }
        ToolCall::Shell(asked) => shell_in(asked, ctx, output, cancel, started).await,
        ToolCall::WriteStdin(args) => ctx.terminals.write(args, output, cancel).await,
        ToolCall::ApplyPatch(patch) => apply_patch_in(patch, ctx, allowed_outside, started).await,
        // The turn asks the questions before a call would run (`turn::prepare`).
        ToolCall::AskPerson(_) => ToolOutput::failure(
            "request_user_input is answered by the person, not run".to_string(),
            started.elapsed(),
        ),
        ToolCall::Goal(call) => {
            let (text, success) = call.run(ctx.goal.as_ref());
            ToolOutput {
                success,
                ..ToolOutput::ok(text, started.elapsed())
            }
        }
        ToolCall::UpdatePlan(plan) => ToolOutput {
            detail: ToolDetail::Plan(plan.clone()),
            ..ToolOutput::ok(update_plan::OUTPUT.to_string(), started.elapsed())
        },
        ToolCall::Mcp(call) => mcp_in(call, ctx, cancel, started).await,
        // The agent's team runs these (`agent/team.rs`); without one they are off.
        ToolCall::Collab(call) => ToolOutput::failure(
            format!(
                "{} is not available: the collaboration tools are off (features.multi_agent_v2)",
                call.name()
            ),
            started.elapsed(),
        ),
    }
}

/// Reads a file: from the editor where one holds it, else from disk beneath the project.
async fn read_file_in(
    args: &ReadFileArgs,
    ctx: &ToolContext,
    cancel: CancellationToken,
    allowed_outside: &[PathBuf],
    started: Instant,
) -> ToolOutput {
    let path = ctx.resolve(&args.path);
    let from_editor = match &ctx.editor {
        Some(editor) => tokio::select! {
            biased;
            () = cancel.cancelled() => return ToolOutput::cancelled(started.elapsed()),
            text = editor.0.read(path.clone()) => text.ok(),
        },
        None => None,
    };
    if let Some(text) = from_editor {
        return match read_file::read_text(&text, &args.path, args.offset, args.limit) {
            Ok(shown) => ToolOutput::ok(shown, started.elapsed()),
            Err(e) => ToolOutput::failure(e.to_string(), started.elapsed()),
        };
    }
    let (args, project_dir) = (args.clone(), ctx.project_dir.clone());
    let allowed = allowed_outside.to_vec();
    blocking(cancel, started, move |_| {
        let opener = opener_for(&project_dir, allowed)?;
        read_file::read(&opener, &path, &args.path, args.offset, args.limit)
            .map_err(|e| e.to_string())
    })
    .await
}

/// Runs a command in the sandbox, its timeout held to the ceiling (and the model told when it
/// was lowered).
async fn shell_in(
    asked: &ShellArgs,
    ctx: &ToolContext,
    output: &OutputSink,
    cancel: CancellationToken,
    started: Instant,
) -> ToolOutput {
    // The model's ask is held to the ceiling, and it is told when it was lowered.
    let ceiling = ctx.sandbox.max_timeout;
    let lowered = (asked.timeout() > ceiling).then(|| {
        format!(
            "Note: the command asked for a timeout of {} ms, above the limit of {} ms (max_command_timeout_ms in config.toml), so it ran with the limit.\n",
            asked.timeout().as_millis(),
            ceiling.as_millis()
        )
    });
    let held;
    let args = match lowered {
        Some(_) => {
            held = shell::ShellArgs {
                timeout_ms: Some(u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX)),
                ..asked.clone()
            };
            &held
        }
        None => asked,
    };
    match shell::run(
        args,
        &ctx.project_dir,
        &ctx.shell,
        &ctx.sandbox,
        output,
        cancel,
        &[],
    )
    .await
    {
        Ok(outcome) => ToolOutput {
            text: lowered.unwrap_or_default() + &outcome.to_model_text(args.timeout()),
            success: outcome.success(),
            exit_code: outcome.exit_code,
            duration: outcome.duration,
            timed_out: outcome.timed_out,
            cancelled: outcome.cancelled,
            detail: ToolDetail::Shell(outcome),
        },
        Err(e) => ToolOutput::failure(e.to_string(), started.elapsed()),
    }
}

/// Calls an MCP server's tool; dropping the call on a cancel makes rmcp tell the server.
async fn mcp_in(
    call: &McpCall,
    ctx: &ToolContext,
    cancel: CancellationToken,
    started: Instant,
) -> ToolOutput {
    let Some(mcp) = &ctx.mcp else {
        return ToolOutput::failure(
            format!("no MCP server offers `{}` here", call.tool.exposed),
            started.elapsed(),
        );
    };
    // Dropping the call on a cancel makes rmcp tell the server.
    let outcome = tokio::select! {
        biased;
        () = cancel.cancelled() => return ToolOutput::cancelled(started.elapsed()),
        outcome = mcp.call(&call.tool, call.arguments.clone()) => outcome,
    };
    ToolOutput {
        success: outcome.success,
        ..ToolOutput::ok(outcome.text, started.elapsed())
    }
}

/// The project held open for one call that reads, with the outside paths it was approved for.
fn opener_for(project_dir: &Path, allowed: Vec<PathBuf>) -> Result<opener::Opener, String> {
    opener::Opener::new(project_dir, opener::Approved::Only(allowed))
        .map_err(|e| format!("cannot open the project directory: {e}"))
}

/// Applies a patch: on disk, or, when an editor holds the files, read from and written
/// through the editor.
async fn apply_patch_in(
    patch: &ApplyPatchCall,
    ctx: &ToolContext,
    allowed_outside: &[PathBuf],
    started: Instant,
) -> ToolOutput {
    let overlay = match &ctx.editor {
        Some(editor) => Some(editor.texts(patch.paths(&ctx.project_dir)).await),
        None => None,
    };
    let (patch, project_dir) = (patch.clone(), ctx.project_dir.clone());
    let allowed = allowed_outside.to_vec();
    let applied = crate::task::spawn_blocking(move || {
        patch.apply_over(&project_dir, &allowed, overlay.as_ref())
    })
    .await;
    let applied = match applied {
        Ok(Ok(applied)) => applied,
        Ok(Err(e)) => return ToolOutput::failure(e.to_string(), started.elapsed()),
        Err(e) => {
            return ToolOutput::failure(format!("apply_patch failed: {e}"), started.elapsed());
        }
    };
    if let Some(editor) = &ctx.editor {
        let mut written = Vec::new();
        for (index, (path, text)) in applied.editor_writes.iter().enumerate() {
            let shown = paths::display(&ctx.project_dir, path);
            // The editor writes by path, in its own file system: the last look is right before
            // each write (a folder swapped for a link since is refused, not followed).
            let now_outside = paths::outside(&ctx.project_dir, path)
                .filter(|real| !allowed_outside.contains(real))
                .map(|real| format!("it leads outside the project now, to {}", real.display()));
            let written_or = match now_outside {
                Some(why) => Err(why),
                None => editor.0.write(path.clone(), text.clone()).await,
            };
            if let Err(why) = written_or {
                let not_written: Vec<String> = applied.editor_writes[index..]
                    .iter()
                    .map(|(path, _)| path)
                    .chain(&applied.editor_removals)
                    .map(|path| paths::display(&ctx.project_dir, path))
                    .collect();
                return ToolOutput::failure(
                    format!(
                        "failed to write {shown} in the editor: {why}{}",
                        apply_patch::written_note(&written, &not_written)
                    ),
                    started.elapsed(),
                );
            }
            written.push(shown);
        }
        if let Err(e) = applied.remove_after_editor(&ctx.project_dir, allowed_outside, written) {
            return ToolOutput::failure(e.to_string(), started.elapsed());
        }
    }
    ToolOutput {
        detail: ToolDetail::Patch(applied.changes),
        ..ToolOutput::ok(applied.summary, started.elapsed())
    }
}

/// Runs file work on the blocking pool; a cancel returns at once and tells the work to stop.
async fn blocking<F>(cancel: CancellationToken, started: Instant, work: F) -> ToolOutput
where
    F: FnOnce(CancellationToken) -> Result<String, String> + Send + 'static,
{
    let work = move |token| work(token).map(|text| (text, ToolDetail::None));
    blocking_with(cancel, started, work).await
}

/// [`blocking`] for work that also gives the call's detail (`view_image`'s image).
async fn blocking_with<F>(cancel: CancellationToken, started: Instant, work: F) -> ToolOutput
where
    F: FnOnce(CancellationToken) -> Result<(String, ToolDetail), String> + Send + 'static,
{
    let token = cancel.clone();
    let task = crate::task::spawn_blocking(move || work(token));
    let joined = tokio::select! {
        joined = task => joined,
        () = cancel.cancelled() => return ToolOutput::cancelled(started.elapsed()),
    };
    if cancel.is_cancelled() {
        return ToolOutput::cancelled(started.elapsed());
    }
    match joined {
        Ok(Ok((text, detail))) => ToolOutput {
            detail,
            ..ToolOutput::ok(text, started.elapsed())
        },
        Ok(Err(message)) => ToolOutput::failure(message, started.elapsed()),
        Err(e) => ToolOutput::failure(format!("the tool failed: {e}"), started.elapsed()),
    }
}
