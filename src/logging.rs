//! Logs go to a file in the state dir, never to the terminal the UI owns.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The most one log file grows to before it is rotated (the previous one kept as
/// `kelp.log.1`): at most twice this on disk, whatever floods the log.
const MAX_LOG_BYTES: u64 = 8 * 1024 * 1024;

/// Starts logging to `file` with the `RUST_LOG` filter (default: kelp at info). Failing to open
/// the log is not worth failing the program for, so it is reported and skipped. The folder is
/// made (or kept) private; a log that is not a regular file (a FIFO in its place) is refused
/// rather than waited on.
pub fn init(file: &Path) -> Result<(), String> {
    if let Some(dir) = file.parent() {
        crate::private_file::create_private_dir(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        if let Ok(meta) = std::fs::metadata(dir) {
            crate::private_file::keep_private(dir, &meta, None);
        }
    }
    let log = CappedLog::open(file.to_path_buf())
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

/// The log file, rotated when it reaches [`MAX_LOG_BYTES`].
struct CappedLog {
    path: PathBuf,
    file: File,
    size: u64,
}

impl CappedLog {
    fn open(path: PathBuf) -> std::io::Result<Self> {
        let file = open_log(&path)?;
        let size = file.metadata()?.len();
        let mut log = Self { path, file, size };
        if log.size >= MAX_LOG_BYTES {
            log.rotate()?;
        }
        Ok(log)
    }

    /// `kelp.log` becomes `kelp.log.1` (replacing the one before) and a new one starts.
    fn rotate(&mut self) -> std::io::Result<()> {
        std::fs::rename(&self.path, crate::private_file::sibling(&self.path, ".1"))?;
        self.file = open_log(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

impl Write for CappedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.size + buf.len() as u64 > MAX_LOG_BYTES && self.size > 0 {
            // A log that cannot rotate goes on in the file it has.
            let _ = self.rotate();
        }
        let written = self.file.write(buf)?;
        self.size += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Opens the log for appending, 0600 when new, without waiting and only if it is a regular
/// file.
fn open_log(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_NOFOLLOW)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "it is {}, not a regular file",
                crate::private_file::kind_of(&meta)
            ),
        ));
    }
    crate::private_file::keep_private(path, &meta, Some(&file));
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_is_capped_and_rotated_keeping_one_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kelp.log");
        let mut log = CappedLog::open(path.clone()).unwrap();
        let line = [b'x'; 1023]
            .iter()
            .chain(b"\n")
            .copied()
            .collect::<Vec<u8>>();
        // Three times the cap, in lines: the log rotates twice and never holds more than it.
        for _ in 0..3 * MAX_LOG_BYTES / 1024 {
            log.write_all(&line).unwrap();
            assert!(log.size <= MAX_LOG_BYTES);
        }
        let size = |path: &Path| std::fs::metadata(path).unwrap().len();
        let previous = crate::private_file::sibling(&path, ".1");
        assert_eq!(size(&previous), MAX_LOG_BYTES);
        assert!(size(&path) <= MAX_LOG_BYTES);
        let folder: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(folder.len(), 2, "kelp.log and kelp.log.1, no more");
        // A log found over the cap at start is rotated before the first line.
        std::fs::write(&path, vec![b'y'; MAX_LOG_BYTES as usize]).unwrap();
        let log = CappedLog::open(path.clone()).unwrap();
        assert_eq!(log.size, 0);
        assert_eq!(size(&path), 0);
    }
}
