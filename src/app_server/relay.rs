//! `kelp app-server proxy`: this process's stdin and stdout carried to a running app-server's
//! socket and back, so `ssh host kelp app-server proxy` serves a host on another machine.

use std::path::{Path, PathBuf};

use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncRead;
use tokio_tungstenite::tungstenite::Message;

use super::listen::{default_socket, frame_limits};

/// `kelp app-server proxy`: this process's stdin and stdout carried to the app-server listening
/// on `socket` (kelp's own by default) and back, until either side closes, so `ssh host kelp
/// app-server proxy` serves a host on another machine. A host that speaks WebSocket itself
/// (its first bytes an HTTP request, as the hosts of Codex's proxy send) gets the bytes as they
/// are; one that writes a JSON-RPC message per line has each carried as a frame.
pub async fn proxy(socket: Option<PathBuf>) -> anyhow::Result<()> {
    use tokio::io::AsyncReadExt;
    let path = match socket {
        Some(path) => path,
        None => default_socket()?,
    };
    let stream = tokio::net::UnixStream::connect(&path).await.map_err(|e| {
        anyhow::anyhow!(
            "{}: {e} (is `kelp app-server --listen unix://` running?)",
            path.display()
        )
    })?;
    let mut stdin = tokio::io::stdin();
    let mut first = Vec::with_capacity(4);
    while first.len() < 4 {
        let mut byte = [0u8; 4];
        let want = 4 - first.len();
        match stdin.read(&mut byte[..want]).await? {
            0 => break,
            n => first.extend_from_slice(&byte[..n]),
        }
    }
    let input = std::io::Cursor::new(first.clone()).chain(stdin);
    if first == b"GET " {
        relay(stream, input).await
    } else {
        frames(stream, input, &path).await
    }
}

/// The host's bytes to the socket and the socket's to stdout, as they are; done when the
/// server closes.
async fn relay(
    stream: tokio::net::UnixStream,
    mut input: impl AsyncRead + Unpin,
) -> anyhow::Result<()> {
    use tokio::io::AsyncWriteExt;
    let (mut from_server, mut to_server) = stream.into_split();
    let upstream = async {
        let _ = tokio::io::copy(&mut input, &mut to_server).await;
        let _ = to_server.shutdown().await;
        std::future::pending::<()>().await;
    };
    let mut stdout = tokio::io::stdout();
    tokio::select! {
        copied = tokio::io::copy(&mut from_server, &mut stdout) => copied.map(drop)?,
        () = upstream => {}
    }
    stdout.flush().await?;
    Ok(())
}

/// Each line of the host's a text frame to the server, each frame of the server's a line.
async fn frames(
    stream: tokio::net::UnixStream,
    input: impl AsyncRead + Unpin,
    path: &Path,
) -> anyhow::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (socket, _) = tokio_tungstenite::client_async_with_config(
        "ws://localhost/",
        stream,
        Some(frame_limits()),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let (mut sink, mut frames) = socket.split();
    let upstream = async {
        let mut input = BufReader::new(input).lines();
        while let Some(line) = input.next_line().await? {
            if !line.trim().is_empty() {
                sink.send(Message::text(line)).await?;
            }
        }
        let _ = sink.close().await;
        anyhow::Ok(())
    };
    let downstream = async {
        let mut stdout = tokio::io::stdout();
        while let Some(frame) = frames.next().await {
            let text = match frame? {
                Message::Text(text) => text.as_str().to_string(),
                Message::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Message::Close(_) => break,
                _ => continue,
            };
            stdout.write_all(text.as_bytes()).await?;
            stdout.write_all(b"\n").await?;
            stdout.flush().await?;
        }
        anyhow::Ok(())
    };
    tokio::select! {
        ended = upstream => ended,
        ended = downstream => ended,
    }
}
