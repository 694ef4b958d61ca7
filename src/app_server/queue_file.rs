//! A loaded thread's waiting messages kept on disk beside the saved conversations, as Codex
//! keeps its queue in its state database, so a server that stops loses none of them: written
//! by a task of the thread's own whenever the queue changes (the newest state, in order; the
//! file removed once the queue empties), and read back as the thread opens again, its messages
//! held until the host or the person starts them (the turn they waited for was cut).

use std::path::{Path, PathBuf};

use tokio::sync::watch;

use super::queued::MAX_QUEUED;
use crate::wire::QueuedSubmission;

/// The most a queue file is read: a full queue of long messages.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Where thread `thread_id`'s waiting messages are kept.
pub(super) fn path_of(state_dir: &Path, thread_id: &str) -> PathBuf {
    state_dir.join("queues").join(format!("{thread_id}.json"))
}

/// The messages left waiting at `path` by a server that stopped; none when there is no file.
/// A file that cannot be read is said in the log and set aside (`.bad`), not lost.
pub(super) fn restore(path: &Path) -> Vec<QueuedSubmission> {
    let bytes = match crate::private_file::read_private(path, MAX_FILE_BYTES) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "a thread's queue could not be read");
            return Vec::new();
        }
    };
    match serde_json::from_slice::<Vec<QueuedSubmission>>(&bytes) {
        Ok(mut waiting) => {
            waiting.truncate(MAX_QUEUED);
            waiting
        }
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "a thread's queue is damaged: set aside");
            let _ = std::fs::rename(path, path.with_extension("json.bad"));
            Vec::new()
        }
    }
}

/// Starts the task that keeps the queue at `path` as the returned sender last said it.
pub(super) fn keeper(path: PathBuf) -> watch::Sender<Vec<QueuedSubmission>> {
    let (sender, mut changes) = watch::channel(Vec::new());
    crate::task::spawn(async move {
        while changes.changed().await.is_ok() {
            let waiting = changes.borrow_and_update().clone();
            let path = path.clone();
            let written = crate::task::spawn_blocking(move || write(&path, &waiting)).await;
            if let Ok(Err(e)) = written {
                tracing::warn!(error = %e, "a thread's queue could not be kept on disk");
            }
        }
    });
    sender
}

/// Writes `waiting` to `path` whole (atomically, mode 0600), or removes the file when nothing
/// waits.
fn write(path: &Path, waiting: &[QueuedSubmission]) -> Result<(), String> {
    if waiting.is_empty() {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
            _ => Ok(()),
        };
    }
    let dir = crate::private_file::parent_dir(path);
    crate::private_file::create_private_dir(dir).map_err(|e| e.to_string())?;
    let text = serde_json::to_vec(waiting).map_err(|e| e.to_string())?;
    crate::private_file::replace(path, &text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::requests::UserInput;

    fn queued(text: &str) -> QueuedSubmission {
        QueuedSubmission {
            id: format!("q-{text}"),
            input: UserInput::prompt(text, &[]),
            client_user_message_id: format!("m-{text}"),
            responsesapi_client_metadata: None,
        }
    }

    #[test]
    fn a_queue_is_kept_whole_read_back_and_removed_once_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_of(dir.path(), "t1");
        assert!(restore(&path).is_empty(), "no file: nothing waits");
        write(&path, &[queued("one"), queued("two")]).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(restore(&path), [queued("one"), queued("two")]);
        write(&path, &[]).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn a_damaged_queue_is_set_aside_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_of(dir.path(), "t2");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"[{\"id\": ").unwrap();
        assert!(restore(&path).is_empty());
        assert!(path.with_extension("json.bad").exists());
    }
}
