//! The stdout of the embedding faces: protocol lines from a channel, a burst of lines (a stream
//! of deltas) gathered into one write. tokio hands every stdout write to a blocking thread, so
//! one write per line would cap a face at a few tens of thousands of lines a second.
//!
//! What waits to be written is counted ([`Backlog`]): a host that stops reading stdout stops
//! kelp from reading its input once too much waits, so kelp's memory stays bounded and nothing
//! it must deliver is dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;
use tokio::sync::mpsc::UnboundedReceiver;

/// The most bytes gathered into one write.
const WRITE_BATCH: usize = 64 * 1024;

/// The bytes queued for stdout and not yet written, shared by every sender and the writer.
#[derive(Debug, Default)]
pub struct Backlog {
    bytes: AtomicUsize,
    drained: Notify,
    grown: Notify,
}

impl Backlog {
    /// `n` more bytes wait to be written.
    pub fn add(&self, n: usize) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
        self.grown.notify_waiters();
    }

    /// Returns once more than `limit` bytes wait: a client that has stopped reading.
    pub async fn above(&self, limit: usize) {
        self.until(&self.grown, |waiting| waiting > limit).await;
    }

    /// `n` bytes went out.
    pub fn done(&self, n: usize) {
        self.bytes.fetch_sub(n, Ordering::Relaxed);
        self.drained.notify_waiters();
    }

    /// Returns once at most `limit` bytes wait (at once, usually).
    pub async fn below(&self, limit: usize) {
        self.until(&self.drained, |waiting| waiting <= limit).await;
    }

    /// Returns once `reached` holds of the bytes waiting, looked at again each time `change`
    /// is notified.
    async fn until(&self, change: &Notify, reached: impl Fn(usize) -> bool) {
        loop {
            let changed = change.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if reached(self.bytes.load(Ordering::Relaxed)) {
                return;
            }
            changed.await;
        }
    }
}

/// Writes each line from `lines` to `out` with a newline, until the channel closes or a write
/// fails, counting each off `backlog` once written.
pub async fn write_lines(
    mut lines: UnboundedReceiver<String>,
    mut out: impl AsyncWrite + Unpin,
    backlog: Arc<Backlog>,
) {
    let mut batch = String::new();
    while let Some(line) = lines.recv().await {
        let mut next = Some(line);
        while let Some(line) = next.take() {
            // A line as large as a batch (a long thread's history) is written from where it
            // is, never copied: it may be half a gigabyte.
            if line.len() >= WRITE_BATCH {
                if !write_batch(&mut out, &mut batch, &backlog).await
                    || out.write_all(line.as_bytes()).await.is_err()
                {
                    return;
                }
                batch.push('\n');
                backlog.done(line.len());
            } else {
                batch.push_str(&line);
                batch.push('\n');
            }
            if batch.len() < WRITE_BATCH {
                next = lines.try_recv().ok();
            }
        }
        if !write_batch(&mut out, &mut batch, &backlog).await {
            return;
        }
    }
}

/// Writes and empties `batch` (nothing when it is empty); `false` when stdout is gone.
async fn write_batch(
    out: &mut (impl AsyncWrite + Unpin),
    batch: &mut String,
    backlog: &Backlog,
) -> bool {
    if batch.is_empty() {
        return true;
    }
    if out.write_all(batch.as_bytes()).await.is_err() || out.flush().await.is_err() {
        return false;
    }
    backlog.done(batch.len());
    batch.clear();
    true
}
