//! Slash commands in an editor: the ones that make sense beside an editor's own UI, offered
//! with `available_commands_update` and run when a prompt starts with one, by the core as the
//! TUI runs them.

use std::sync::{Arc, PoisonError};

use agent_client_protocol_schema::v1::{
    AvailableCommand, AvailableCommandInput, AvailableCommandsUpdate, Error, PromptResponse,
    SessionNotification, SessionUpdate, StopReason, UnstructuredCommandInput,
};
use tokio_util::sync::CancellationToken;

use super::pump::{Session, Turn};
use super::{Face, Reply, answer_later};
use crate::protocol::{Goal, Op};
use crate::session::goal::GoalWords;

/// The commands: name, what it does, and the hint for what may follow it.
const COMMANDS: [(&str, &str, Option<&str>); 8] = [
    (
        "compact",
        "Summarise the conversation so far to free the context window",
        Some("what the summary should keep"),
    ),
    ("init", "Write an AGENTS.md for this project", None),
    (
        "review",
        "Review the current changes read-only, and report findings with file and line",
        Some("commit SHA, base BRANCH, or what to look at instead (optional)"),
    ),
    ("diff", "Show what changed in the project (git diff)", None),
    (
        "goal",
        "Work toward an objective turn after turn, until it is met or its budget is spent",
        Some("OBJECTIVE [BUDGET such as 50k], or pause, resume, clear"),
    ),
    ("status", "The login, model, effort and mode", None),
    ("mcp", "The MCP servers and their tools", None),
    ("logout", "Sign kelp out", None),
];

/// A command a prompt starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slash {
    Compact(Option<String>),
    Init,
    /// A review turn: of the uncommitted changes, or of what the words say (see
    /// [`crate::protocol::ReviewTarget::parse`]).
    Review(Option<String>),
    Diff,
    /// `/goal` and what follows it.
    Goal(String),
    Status,
    Mcp,
    Logout,
}

/// The commands, as the update that offers them.
pub fn offered() -> SessionUpdate {
    let commands = COMMANDS
        .iter()
        .map(|(name, description, hint)| {
            let command = AvailableCommand::new(*name, *description);
            match hint {
                Some(hint) => command.input(AvailableCommandInput::Unstructured(
                    UnstructuredCommandInput::new(*hint),
                )),
                None => command,
            }
        })
        .collect();
    SessionUpdate::AvailableCommandsUpdate(AvailableCommandsUpdate::new(commands))
}

/// The command `text` starts with, if it is one of kelp's (anything else is a prompt).
pub fn parse(text: &str) -> Option<Slash> {
    let rest = text.trim_start().strip_prefix('/')?;
    let (name, argument) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let argument = argument.trim();
    Some(match name {
        "compact" => Slash::Compact((!argument.is_empty()).then(|| argument.to_string())),
        "init" => Slash::Init,
        "review" => Slash::Review((!argument.is_empty()).then(|| argument.to_string())),
        "diff" => Slash::Diff,
        "goal" => Slash::Goal(argument.to_string()),
        "status" => Slash::Status,
        "mcp" => Slash::Mcp,
        "logout" => Slash::Logout,
        _ => return None,
    })
}

/// Runs `slash` in `session`: a turn of its own (compact, init, review, diff, a goal's work),
/// whose end answers the prompt, or words said at once and the prompt answered.
pub(super) fn run(
    face: &Arc<Face>,
    session: &Session,
    session_id: &str,
    slash: Slash,
    reply: Reply,
) {
    let mut turn = session.turn.lock().unwrap_or_else(PoisonError::into_inner);
    if turn.is_some() {
        return reply.fail(
            Error::invalid_request()
                .data("a prompt is already running in this session: wait for it or cancel it"),
        );
    }
    let say = |text: String| {
        reply.cx.notify(SessionNotification::new(
            session_id.to_string(),
            super::updates::said(text),
        ));
    };
    let op = match slash {
        Slash::Goal(argument) => return goal(session, session_id, &argument, turn, reply),
        Slash::Compact(focus) => Op::Compact {
            focus,
            turn_id: None,
        },
        Slash::Init if std::fs::symlink_metadata(session.project_dir.join("AGENTS.md")).is_ok() => {
            say("AGENTS.md exists already: /init does not overwrite it; edit it, or move it away first.".to_string());
            return reply.send(Ok(PromptResponse::new(StopReason::EndTurn)));
        }
        Slash::Init => Op::Init,
        Slash::Review(what) => {
            match crate::protocol::ReviewTarget::parse(what.as_deref().unwrap_or("")) {
                Ok(target) => Op::Review {
                    target,
                    turn_id: None,
                },
                Err(why) => {
                    say(why);
                    return reply.send(Ok(PromptResponse::new(StopReason::EndTurn)));
                }
            }
        }
        Slash::Diff => Op::Diff,
        Slash::Status => {
            say(status(face, session));
            return reply.send(Ok(PromptResponse::new(StopReason::EndTurn)));
        }
        Slash::Mcp => {
            // Its columns as they are: a block of text, not a paragraph.
            let report = crate::mcp::report(
                &session.mcp.lock().unwrap_or_else(PoisonError::into_inner),
                &face.config.config_dir.join(crate::config::file::FILE_NAME),
            );
            say(format!("```text\n{}\n```\n", report.trim_end()));
            return reply.send(Ok(PromptResponse::new(StopReason::EndTurn)));
        }
        Slash::Logout => {
            drop(turn);
            return logout(face, session_id, reply);
        }
    };
    if session.ops.send(op).is_err() {
        return reply.fail(Error::internal_error().data("this session's agent stopped"));
    }
    *turn = Some(Turn {
        reply,
        cancelled: CancellationToken::new(),
        toward_goal: false,
    });
}

/// `/goal`: says where the goal stands, or sets, pauses, resumes or clears it; the prompt is
/// answered at once, or when the goal's work stops.
fn goal(
    session: &Session,
    session_id: &str,
    argument: &str,
    mut turn: std::sync::MutexGuard<'_, Option<Turn>>,
    reply: Reply,
) {
    let say = |text: String| {
        reply.cx.notify(SessionNotification::new(
            session_id.to_string(),
            super::updates::said(text),
        ));
    };
    let known = session
        .goal
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let (op, said, mut works) = goal_command(known.as_ref(), argument);
    if let Some(text) = said {
        say(text);
    }
    // Plan mode changes nothing: the goal's work waits for another mode.
    let planning = session
        .choices
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .mode
        == "plan";
    if works && planning {
        works = false;
        say("The goal is set; its work starts when the session leaves plan mode.".to_string());
    }
    match op {
        // Work starts: the prompt is answered when the goal stops.
        Some(op) if works => {
            if session.ops.send(op).is_err() {
                return reply.fail(Error::internal_error().data("this session's agent stopped"));
            }
            *turn = Some(Turn {
                reply,
                cancelled: CancellationToken::new(),
                toward_goal: true,
            });
            return;
        }
        Some(op) => {
            let _ = session.ops.send(op);
        }
        None => {}
    }
    reply.send(Ok(PromptResponse::new(StopReason::EndTurn)));
}

/// `/status`: the login, model, effort, mode and project, as a Markdown list (so a client does
/// not run the lines together).
fn status(face: &Face, session: &Session) -> String {
    let choices = session
        .choices
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let login = match face.accounts.signed_in_now() {
        Ok(Some(who)) => who.summary().describe(),
        Ok(None) => "not signed in".to_string(),
        Err(e) => format!("the auth file cannot be read: {e}"),
    };
    format!(
        "- **Signed in:** {login}\n- **Model:** {} (reasoning effort {})\n\
         - **Mode:** {}\n- **Project:** {}\n",
        choices.model,
        choices.effort.as_str(),
        choices.mode,
        session.project_dir.display()
    )
}

/// `/logout`: signs out, then says what was removed.
fn logout(face: &Arc<Face>, session_id: &str, reply: Reply) {
    let face = Arc::clone(face);
    let (cx, session_id) = (reply.cx.clone(), session_id.to_string());
    answer_later(reply, async move {
        let text = match face.accounts.sign_out().await {
            Ok(signed_out) => signed_out_words(
                &signed_out,
                &face.config.auth_file,
                std::env::var_os("OPENAI_API_KEY").is_some_and(|key| !key.is_empty()),
            ),
            Err(e) => format!("⚠ Could not sign out: {e}"),
        };
        cx.notify(SessionNotification::new(
            session_id,
            super::updates::said(text),
        ));
        Ok(PromptResponse::new(StopReason::EndTurn))
    })
}

/// What `/logout` did, in words: what was removed, and whether `OPENAI_API_KEY` (which nothing
/// can sign out) still signs kelp in.
fn signed_out_words(
    signed_out: &crate::auth::SignedOut,
    auth_file: &std::path::Path,
    env_key: bool,
) -> String {
    use crate::auth::SignedOut;
    let file = crate::humanize::home_path(auth_file);
    let mut text = match signed_out {
        SignedOut::HostTokens => {
            "Signed out: the editor's ChatGPT tokens are forgotten.".to_string()
        }
        SignedOut::Stored(report) if report.removed => {
            let mut text = format!("Signed out: the login is removed from {file}.");
            if let Some(Err(_)) = &report.revoked {
                text.push_str(" (ChatGPT could not be told to revoke it; it is gone here anyway.)");
            }
            text
        }
        SignedOut::Stored(_) => format!("No login was stored in {file}: nothing to sign out."),
    };
    if env_key {
        text.push_str(
            " OPENAI_API_KEY is set where the editor starts kelp, so kelp still signs in with \
             it: a key from the environment cannot be signed out; unset it there to stop using it.",
        );
    } else {
        text.push_str(" Sign in again from the editor's agent menu, or with `kelp login`.");
    }
    text
}

/// `/goal ARGUMENT` in an editor, given the goal known now: the operation for the core, what
/// to say at once, and whether work toward the goal starts (the prompt then waits for the
/// goal to stop).
fn goal_command(known: Option<&Goal>, argument: &str) -> (Option<Op>, Option<String>, bool) {
    let words = GoalWords::parse(argument);
    match (&words, known) {
        (GoalWords::Show, None) => (
            None,
            Some(
                "No goal yet: `/goal OBJECTIVE [BUDGET]` sets one (a budget such as 50k tokens)."
                    .to_string(),
            ),
            false,
        ),
        (GoalWords::Show, Some(goal)) => (
            None,
            Some(format!("**Goal:** {}\n\n{}", goal.objective, goal.footer())),
            false,
        ),
        (GoalWords::Pause | GoalWords::Resume | GoalWords::Clear, None) => (
            None,
            Some(format!("There is no goal to {}.", argument.trim())),
            false,
        ),
        (GoalWords::Clear, Some(_)) => (
            Some(Op::ClearGoal),
            Some("Goal cleared.".to_string()),
            false,
        ),
        (GoalWords::Pause, Some(_)) => (
            words.change().map(Op::SetGoal),
            Some("Goal paused: `/goal resume` goes on.".to_string()),
            false,
        ),
        (GoalWords::Resume | GoalWords::Set { .. }, _) => {
            (words.change().map(Op::SetGoal), None, true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::SignedOut;
    use crate::auth::manager::LogoutReport;

    #[test]
    fn a_prompt_is_a_command_only_when_it_starts_with_one_of_kelps() {
        assert_eq!(parse("/compact"), Some(Slash::Compact(None)));
        assert_eq!(
            parse(" /compact  the API design "),
            Some(Slash::Compact(Some("the API design".into())))
        );
        assert_eq!(parse("/diff"), Some(Slash::Diff));
        assert_eq!(
            parse("/goal ship it 50k"),
            Some(Slash::Goal("ship it 50k".into()))
        );
        assert_eq!(parse("/usr/bin is on the PATH"), None);
        assert_eq!(parse("fix /init"), None);
    }

    #[test]
    fn logout_says_what_it_removed_and_that_an_environment_key_stays() {
        let file = std::path::Path::new("/srv/kelp/auth.json");
        let removed = SignedOut::Stored(LogoutReport {
            removed: true,
            revoked: None,
        });
        let said = signed_out_words(&removed, file, false);
        assert!(
            said.starts_with("Signed out: the login is removed from /srv/kelp/auth.json.")
                && said.contains("kelp login"),
            "{said}"
        );
        let nothing = SignedOut::Stored(LogoutReport {
            removed: false,
            revoked: None,
        });
        let said = signed_out_words(&nothing, file, true);
        assert!(said.starts_with("No login was stored"), "{said}");
        assert!(
            said.contains("OPENAI_API_KEY is set") && said.contains("cannot be signed out"),
            "{said}"
        );
        assert!(!said.contains("kelp login"), "{said}");
    }
}
