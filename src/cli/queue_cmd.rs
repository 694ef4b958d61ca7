//! `kelp queue`: a message left for a conversation on an app-server (the per-user server, or
//! `--remote`'s), as Codex's `queue`: it is sent when the turn running there ends, at once when
//! none runs; `--resume` opens a saved conversation there first (starting the per-user server
//! when none runs).

use std::process::ExitCode;

use kelp::config::Config;
use kelp::terminal_text::printable;

use super::app_server_cmd;
use super::common::{exit, fail, runtime, target_and_token};

#[derive(Debug, clap::Args)]
pub struct QueueArgs {
    /// The conversation: its id, or its exact name.
    #[arg(long, value_name = "THREAD")]
    thread: String,
    /// The message.
    #[arg(long, value_name = "TEXT")]
    message: String,
    /// Open the conversation on the server first (a saved one the server does not hold open);
    /// the per-user server is started if none runs.
    #[arg(long)]
    resume: bool,
    /// The app-server instead of the per-user server: unix:///PATH or ws://HOST:PORT.
    #[arg(long, value_name = "ADDR")]
    remote: Option<String>,
    /// The environment variable that holds the app-server's token; only to a unix socket or a
    /// loopback address.
    #[arg(long, value_name = "VAR", requires = "remote")]
    remote_auth_token_env: Option<String>,
}

/// `kelp queue`.
pub fn queue(config: &Config, args: QueueArgs) -> ExitCode {
    if args.message.trim().is_empty() {
        return fail(exit::USAGE, "--message: give the words to send");
    }
    let (target, token) = match &args.remote {
        Some(address) => match target_and_token(address, args.remote_auth_token_env.as_deref()) {
            Ok(found) => found,
            Err(why) => return fail(exit::USAGE, &why.to_string()),
        },
        None => match per_user_server(config, args.resume) {
            Ok(target) => (target, None),
            Err(code) => return code,
        },
    };
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let left = runtime.block_on(kelp::remote::queue::leave_message(
        &target,
        token.as_ref(),
        &args.thread,
        &args.message,
        args.resume,
    ));
    match left {
        Ok(queued) => {
            println!(
                "Queued message {} for thread {}.",
                printable(&queued.id),
                printable(&queued.thread)
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(exit::FAILURE, &e.to_string()),
    }
}

/// The per-user server's socket: the one listening, or, with `resume`, one started now.
fn per_user_server(config: &Config, resume: bool) -> Result<kelp::remote::Target, ExitCode> {
    let socket = app_server_cmd::per_user_socket().map_err(|why| fail(exit::FAILURE, &why))?;
    if resume {
        app_server_cmd::ensure_per_user_server(&socket, &config.state_dir)
            .map_err(|why| fail(exit::FAILURE, &why))?;
    } else if std::os::unix::net::UnixStream::connect(&socket).is_err() {
        return Err(fail(
            exit::FAILURE,
            &format!(
                "no per-user server runs ({}): nothing holds a conversation open for the \
                 message; --resume starts one and opens the conversation there, or --remote \
                 names another",
                socket.display()
            ),
        ));
    }
    Ok(kelp::remote::Target::Unix(socket))
}
