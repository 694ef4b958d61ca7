//! Every task kelp spawns goes through [`spawn`] or [`spawn_blocking`]. tokio compiles its task
//! machinery (poll, completion, cancellation, the join handle) once per future or closure type;
//! boxed, the tasks with the same output share one copy instead of one per call site. That was
//! 0.19 MB of the release binary; the price is one allocation per task, none of them per delta.

use std::future::Future;
use std::pin::Pin;

use tokio::task::JoinHandle;

/// `tokio::spawn`, with the future boxed first.
pub fn spawn<T: Send + 'static>(task: impl Future<Output = T> + Send + 'static) -> JoinHandle<T> {
    let task: Pin<Box<dyn Future<Output = T> + Send>> = Box::pin(task);
    tokio::spawn(task)
}

/// The tasks kelp lets end before it exits (each agent's core, which saves its conversation
/// and runs the `SessionEnd` hooks as it ends); those that ended are dropped as others join.
static LET_END: std::sync::Mutex<Vec<JoinHandle<()>>> = std::sync::Mutex::new(Vec::new());

/// [`spawn`], the task kept to be let end before kelp exits ([`let_end`]).
pub fn spawn_let_end(task: impl Future<Output = ()> + Send + 'static) {
    let handle = spawn(task);
    let mut kept = LET_END
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    kept.retain(|handle| !handle.is_finished());
    kept.push(handle);
}

/// Waits for the tasks of [`spawn_let_end`] to end, at most `bound` in all: the last thing a
/// face does once it asked its cores to stop.
pub async fn let_end(bound: std::time::Duration) {
    let kept = std::mem::take(
        &mut *LET_END
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    let all = async {
        for handle in kept {
            let _ = handle.await;
        }
    };
    let _ = tokio::time::timeout(bound, all).await;
}

/// How long a face waits for its cores to end as kelp exits: a turn stopped, the conversation
/// saved, the `SessionEnd` hooks run.
pub const LET_END_BOUND: std::time::Duration = std::time::Duration::from_secs(10);

/// `tokio::task::spawn_blocking`, with the closure boxed first, for the same reason.
pub fn spawn_blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    let work: Box<dyn FnOnce() -> T + Send> = Box::new(work);
    tokio::task::spawn_blocking(work)
}

/// Hands the memory freed after a large transient load (a long session read whole) back to the
/// system: glibc keeps freed heap pages otherwise, and an idle kelp would stay as large as its
/// peak.
pub fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free pages of the allocator's own heaps.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Resolves with the number of the first SIGINT, SIGTERM or SIGHUP: the signals that ask kelp to
/// stop (Ctrl-C, a job runner's timeout or a host's kill, a closed terminal). Whoever awaits it
/// stops what it started before kelp exits, so nothing kelp started outlives it. Never resolves
/// where the signals cannot be listened for.
pub async fn stop_requested() -> i32 {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate), Ok(mut hangup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => libc::SIGINT,
        _ = terminate.recv() => libc::SIGTERM,
        _ = hangup.recv() => libc::SIGHUP,
    }
}
