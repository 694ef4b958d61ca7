//! Helpers shared by the integration tests.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The `kelp` binary, run as a new user would: a private HOME and none of the caller's kelp,
/// XDG or OpenAI variables.
pub fn kelp(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kelp"));
    cmd.env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "kelp=debug")
        .stdin(Stdio::null());
    cmd
}

/// Runs `cmd` with `input` on stdin.
pub fn run_with_stdin(cmd: &mut Command, input: &str) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kelp starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.as_bytes())
        .expect("stdin takes the input");
    child.wait_with_output().expect("kelp finishes")
}

/// Stdout and stderr as one string, for assertions about what a person sees.
pub fn shown(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
