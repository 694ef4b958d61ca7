//! A thread's settings where it works: the server's, with a trusted project's own beneath
//! them, read off the request loop; what could not be used, and what waits for the person's
//! allowance, told to the host as Codex's `configWarning`.

use std::path::Path;

use super::wire::Answer;
use crate::config::{Config, ConfigWarning};

/// The settings of a thread in `cwd`, and the warnings for the host.
pub(super) async fn settings_in(config: &Config, cwd: &Path) -> (Config, Vec<ConfigWarning>) {
    let (base, dir) = (config.clone(), cwd.to_path_buf());
    crate::task::spawn_blocking(move || base.in_project(&dir))
        .await
        .unwrap_or_else(|_| (config.clone(), Vec::new()))
}

/// `answer` followed by a `configWarning` for each of `warnings`.
pub(super) fn with_warnings(answer: Answer, warnings: Vec<ConfigWarning>) -> Answer {
    warnings.into_iter().fold(answer, |answer, warning| {
        answer.notify(crate::wire::ConfigWarning {
            summary: warning.to_string(),
            details: None,
        })
    })
}
