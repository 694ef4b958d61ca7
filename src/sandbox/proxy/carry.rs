//! The bytes of a connection once it is judged: reading the opening, carrying one plain
//! request (and its answer) or splicing a tunnel, connecting out, and the refusals a client
//! reads (a 403 with its reason, SOCKS5's reply codes).

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::request::{self, Target};
use super::{CONNECT_TIMEOUT, OPENING_TIMEOUT};

/// Reads what the client sent next onto `buf`, within the opening's size and time; 0 at its
/// end.
pub(super) async fn read_more<S: AsyncRead + Unpin>(
    client: &mut S,
    buf: &mut Vec<u8>,
) -> io::Result<usize> {
    if buf.len() >= request::MAX_HEAD {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the opening is too long",
        ));
    }
    let mut chunk = [0u8; 2048];
    let n = tokio::time::timeout(OPENING_TIMEOUT, client.read(&mut chunk))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the opening took too long"))??;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

/// Carries bytes both ways until both sides are done, 64 KiB at a time: with tokio's default
/// of 8 KiB a 100 MB download through the proxy took 2.7 times as long as straight, with these
/// 1.3 times (`cargo bench --bench tools -- download`).
pub(super) async fn splice<A, B>(client: &mut A, server: &mut B) -> io::Result<()>
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    const PIECE: usize = 64 * 1024;
    tokio::io::copy_bidirectional_with_sizes(client, server, PIECE, PIECE).await?;
    Ok(())
}

/// Carries one plain request to `server`: its `head`, the `body` bytes of it (those in
/// `arrived` first), and its answer back, its head saying `Connection: close`, until the server
/// ends it. Whatever else the client sends is not carried: a client that speaks again on the
/// connection (its next request, which may name another host) has it closed, and makes that
/// request anew.
pub(super) async fn carry_one_request<C>(
    client: C,
    mut server: TcpStream,
    head: &[u8],
    arrived: &[u8],
    body: u64,
) -> io::Result<()>
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    const PIECE: usize = 64 * 1024;
    server.write_all(head).await?;
    let now = arrived
        .len()
        .min(usize::try_from(body).unwrap_or(usize::MAX));
    server.write_all(&arrived[..now]).await?;
    let body = body - now as u64;
    let (client_read, mut client_write) = tokio::io::split(client);
    let (server_read, mut server_write) = server.into_split();
    let up = async {
        let mut client_read = client_read;
        let mut rest = tokio::io::BufReader::with_capacity(PIECE, (&mut client_read).take(body));
        tokio::io::copy_buf(&mut rest, &mut server_write).await?;
        // Past the body: a byte more is another request, never carried.
        let mut more = [0u8; 1];
        match client_read.read(&mut more).await? {
            0 => std::future::pending::<io::Result<()>>().await,
            _ => Ok(()),
        }
    };
    let down = async {
        let mut server_read = server_read;
        let mut head = Vec::with_capacity(1024);
        let mut piece = [0u8; 4096];
        loop {
            if let Some(answer) = request::closing_answer_head(&head) {
                client_write.write_all(&answer.head).await?;
                head.drain(..answer.used);
                if answer.informational {
                    continue;
                }
                client_write.write_all(&head).await?;
                break;
            }
            if head.len() >= request::MAX_HEAD {
                client_write.write_all(&head).await?;
                break;
            }
            let n = server_read.read(&mut piece).await?;
            if n == 0 {
                client_write.write_all(&head).await?;
                return client_write.shutdown().await;
            }
            head.extend_from_slice(&piece[..n]);
        }
        let mut answer = tokio::io::BufReader::with_capacity(PIECE, server_read);
        tokio::io::copy_buf(&mut answer, &mut client_write).await?;
        client_write.shutdown().await
    };
    // The answer's end is the request's, and so is the client's next word.
    tokio::select! {
        spoke_again = up => spoke_again,
        answered = down => answered,
    }
}

/// How an opened tunnel is carried.
pub(super) enum Carry {
    /// Every byte, both ways.
    Whole,
    /// One plain request, judged as a plain one is, and its answer.
    OneRequest,
}

/// What a refused tunnel's client reads: by then it speaks TLS, so TLS's own fatal alert,
/// access denied, which its library reports as such (`tlsv1 alert access denied`).
pub(super) const TLS_ACCESS_DENIED: [u8; 7] = [0x15, 3, 3, 0, 2, 2, 49];

/// The first of `addresses` that takes a connection.
pub(super) async fn connect(addresses: &[SocketAddr]) -> Option<TcpStream> {
    for address in addresses {
        if let Ok(Ok(stream)) =
            tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await
        {
            return Some(stream);
        }
    }
    None
}

pub(super) fn shown(target: &Target) -> String {
    format!("{}:{}", target.host, target.port)
}

/// An HTTP answer with the reason as its body (and its `X-Kelp-Refused` header), then the end.
pub(super) async fn refuse_http<S: AsyncWrite + Unpin>(
    client: &mut S,
    code: u16,
    why: &str,
) -> io::Result<()> {
    let status = match code {
        400 => "Bad Request",
        403 => "Forbidden",
        _ => "Bad Gateway",
    };
    let body = format!("kelp's sandbox: {why}\n");
    let header = why.replace(['\r', '\n'], " ");
    let answer = format!(
        "HTTP/1.1 {code} {status}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         X-Kelp-Refused: {header}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    client.write_all(answer.as_bytes()).await?;
    client.shutdown().await
}

/// SOCKS5's reply with `code` (0 is success), bound to no address in particular.
pub(super) async fn socks_reply<S: AsyncWrite + Unpin>(client: &mut S, code: u8) -> io::Result<()> {
    client.write_all(&[5, code, 0, 1, 0, 0, 0, 0, 0, 0]).await
}
