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
