//! Logs go to a file in the state dir, never to the terminal the UI owns.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Mutex;

use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Starts logging to `file` with the `RUST_LOG` filter (default: kelp at info). Failing to open
/// the log is not worth failing the program for, so it is reported and skipped.
pub fn init(file: &Path) -> Result<(), String> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let log = options
        .open(file)
        .map_err(|e| format!("cannot open {}: {e}", file.display()))?;
    // Targets and levels (`kelp=debug,reqwest=info`), the part of RUST_LOG's syntax a log file
    // needs, without env-filter's span and field matching (and the regex engine behind it).
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|spec| spec.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_target("kelp", Level::INFO));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(Mutex::new(log))
                .with_ansi(false),
        )
        .with(filter)
        .try_init()
        .map_err(|e| e.to_string())
}
