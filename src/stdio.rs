//! The stdout of the embedding faces: protocol lines from a channel, a burst of lines (a stream
//! of deltas) gathered into one write. tokio hands every stdout write to a blocking thread, so
//! one write per line would cap a face at a few tens of thousands of lines a second.

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::UnboundedReceiver;

/// The most bytes gathered into one write.
const WRITE_BATCH: usize = 64 * 1024;

/// Writes each line from `lines` to `out` with a newline, until the channel closes or a write
/// fails.
pub async fn write_lines(mut lines: UnboundedReceiver<String>, mut out: impl AsyncWrite + Unpin) {
    let mut batch = String::new();
    while let Some(line) = lines.recv().await {
        batch.push_str(&line);
        batch.push('\n');
        while batch.len() < WRITE_BATCH
            && let Ok(line) = lines.try_recv()
        {
            batch.push_str(&line);
            batch.push('\n');
        }
        if out.write_all(batch.as_bytes()).await.is_err() || out.flush().await.is_err() {
            break;
        }
        batch.clear();
    }
}
