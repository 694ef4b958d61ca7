//! The proxy that carries a sandboxed command's network when it may reach some domains and
//! nothing else: kelp runs it outside the sandbox on a Unix socket, and the command, which has
//! no route out, speaks HTTP (`CONNECT`, or a plain `http://` request) or SOCKS5 to it.
//!
//! Every connection is judged before it is made ([`rules`]): the deny-list wins, the allow-list
//! lets a host through, and a host on neither is put to the person once a session (refused
//! where nobody can be asked). A name is resolved here, not by the command, and the addresses
//! it leads to must be out on the internet: a name that resolves to the person's machine or
//! network is refused after resolution (no DNS rebinding into their services), unless an
//! allow-list entry names that very host and port. A refusal is an answer the command can
//! report: a 403 whose body says why, or SOCKS5's "not allowed by ruleset".
//!
//! - `handoff.rs`: the proxy as commands get it, one per kelp, served on each command's listener.
//! - `request.rs`: the first bytes a command sends, read without trusting them.
//! - `rules.rs`: the lists, and which addresses are public.

pub mod handoff;
pub mod request;
pub mod rules;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use request::{HttpRequest, Parsed, Target};
use rules::{DomainRules, Judged};

/// A future the proxy waits on, boxed so the trait objects below stay simple.
pub type Pending<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Turns a name into addresses: the system's resolver, or a test's map.
pub trait Resolve: Send + Sync + 'static {
    fn resolve(&self, host: &str, port: u16) -> Pending<io::Result<Vec<SocketAddr>>>;
}

/// The system's resolver (`getaddrinfo`, on a blocking thread).
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> Pending<io::Result<Vec<SocketAddr>>> {
        let host = host.to_string();
        Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
    }
}

/// Asks the person whether commands may reach a host no list names: `true` lets it through
/// for the rest of the session.
pub type Ask = Arc<dyn Fn(Target) -> Pending<bool> + Send + Sync>;

/// The most connections one command has carried at once (each holds 128 KiB of buffers).
const MAX_CONNECTIONS: usize = 128;

/// How long a command may take to say where it goes, and a connection to be made.
const OPENING_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// The hosts commands reached and those refused (with why), this session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contacts {
    pub reached: BTreeSet<String>,
    pub refused: BTreeMap<String, String>,
}

/// One session's proxy: its lists, its resolver, whom it asks, and what it saw.
pub struct Proxy {
    rules: Mutex<DomainRules>,
    resolver: Arc<dyn Resolve>,
    ask: Option<Ask>,
    /// First contacts the person answered: the host, and whether it may be reached.
    answered: tokio::sync::Mutex<HashMap<String, bool>>,
    contacts: Mutex<Contacts>,
}

impl Proxy {
    /// A proxy judging by `rules`; hosts no list names are put to `ask`, or refused without it.
    pub fn new(rules: DomainRules, resolver: Arc<dyn Resolve>, ask: Option<Ask>) -> Arc<Self> {
        Arc::new(Self {
            rules: Mutex::new(rules),
            resolver,
            ask,
            answered: tokio::sync::Mutex::default(),
            contacts: Mutex::default(),
        })
    }

    /// How many entries the allow-list and the deny-list hold.
    pub fn list_sizes(&self) -> (usize, usize) {
        self.rules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .sizes()
    }

    /// What commands reached and what was refused so far.
    pub fn contacts(&self) -> Contacts {
        self.contacts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Serves every connection `listener` accepts, each on a task of its own, until the
    /// listener fails.
    pub async fn serve(self: Arc<Self>, listener: tokio::net::UnixListener) {
        while let Ok((stream, _)) = listener.accept().await {
            let proxy = Arc::clone(&self);
            crate::task::spawn(async move {
                if let Err(e) = proxy.carry(stream).await {
                    tracing::debug!(error = %e, "a proxied connection ended");
                }
            });
        }
    }

    /// Serves every connection `listener` accepts (a command's, in its own network
    /// namespace), each on a task of its own, until the listener fails or the task is ended.
    /// What it refused is also noted in `refusals`: the command's own, to tell the model.
    pub async fn serve_tcp(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        refusals: Arc<Mutex<Vec<String>>>,
    ) {
        // Each connection holds two copy buffers in kelp: a command opening thousands must
        // wait for its own to end, not fill kelp's memory.
        let open = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        loop {
            let Ok(permit) = Arc::clone(&open).acquire_owned().await else {
                return;
            };
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let proxy = Arc::clone(&self);
            let refusals = Arc::clone(&refusals);
            crate::task::spawn(async move {
                if let Err(e) = proxy.carry_noting(stream, Some(&refusals)).await {
                    tracing::debug!(error = %e, "a proxied connection ended");
                }
                drop(permit);
            });
        }
    }

    /// One connection: its opening read, judged, and the bytes carried both ways.
    pub async fn carry<S>(&self, client: S) -> io::Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.carry_noting(client, None).await
    }

    /// [`Proxy::carry`], a refusal's reason also pushed onto `refusals`.
    async fn carry_noting<S>(
        &self,
        mut client: S,
        refusals: Option<&Mutex<Vec<String>>>,
    ) -> io::Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut buf = Vec::with_capacity(1024);
        let first = read_more(&mut client, &mut buf).await?;
        if first == 0 {
            return Ok(());
        }
        if buf[0] == 5 {
            return self.carry_socks(client, buf, refusals).await;
        }
        let (request, used) = loop {
            match request::http_request(&buf) {
                Parsed::Done(request, used) => break (request, used),
                Parsed::Bad(why) => return refuse_http(&mut client, 400, why).await,
                Parsed::More => {
                    if read_more(&mut client, &mut buf).await? == 0 {
                        return Ok(());
                    }
                }
            }
        };
        let HttpRequest { target, head } = request;
        let addresses = match self.judge(&target, refusals).await {
            Ok(addresses) => addresses,
            Err(why) => return refuse_http(&mut client, 403, &why).await,
        };
        let Some(mut server) = connect(&addresses).await else {
            let why = format!("{} did not answer", shown(&target));
            return refuse_http(&mut client, 502, &why).await;
        };
        match head {
            None => {
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await?
            }
            Some(head) => server.write_all(&head).await?,
        }
        server.write_all(&buf[used..]).await?;
        splice(&mut client, &mut server).await?;
        Ok(())
    }

    async fn carry_socks<S>(
        &self,
        mut client: S,
        mut buf: Vec<u8>,
        refusals: Option<&Mutex<Vec<String>>>,
    ) -> io::Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let (no_auth, used) = loop {
            match request::socks_greeting(&buf) {
                Parsed::Done(no_auth, used) => break (no_auth, used),
                Parsed::Bad(_) => return Ok(()),
                Parsed::More => {
                    if read_more(&mut client, &mut buf).await? == 0 {
                        return Ok(());
                    }
                }
            }
        };
        if !no_auth {
            // No method the proxy serves.
            return client.write_all(&[5, 0xff]).await;
        }
        client.write_all(&[5, 0]).await?;
        buf.drain(..used);
        let (target, used) = loop {
            match request::socks_request(&buf) {
                Parsed::Done(target, used) => break (target, used),
                // Command not supported, or a general failure.
                Parsed::Bad(why) => {
                    let code = if why == "only CONNECT is served" {
                        7
                    } else {
                        1
                    };
                    return socks_reply(&mut client, code).await;
                }
                Parsed::More => {
                    if read_more(&mut client, &mut buf).await? == 0 {
                        return Ok(());
                    }
                }
            }
        };
        let addresses = match self.judge(&target, refusals).await {
            Ok(addresses) => addresses,
            // Connection not allowed by ruleset.
            Err(_) => return socks_reply(&mut client, 2).await,
        };
        let Some(mut server) = connect(&addresses).await else {
            // Host unreachable.
            return socks_reply(&mut client, 4).await;
        };
        socks_reply(&mut client, 0).await?;
        server.write_all(&buf[used..]).await?;
        splice(&mut client, &mut server).await?;
        Ok(())
    }

    /// Where `target` may be reached, or why it may not; either is noted in the contacts.
    async fn judge(
        &self,
        target: &Target,
        refusals: Option<&Mutex<Vec<String>>>,
    ) -> Result<Vec<SocketAddr>, String> {
        let judged = self.judgement(target).await;
        if let (Err(why), Some(refusals)) = (&judged, refusals) {
            let mut refusals = refusals.lock().unwrap_or_else(PoisonError::into_inner);
            if !refusals.contains(why) {
                refusals.push(why.clone());
            }
        }
        let mut contacts = self.contacts.lock().unwrap_or_else(PoisonError::into_inner);
        match &judged {
            Ok(_) => {
                contacts.reached.insert(target.host.clone());
            }
            Err(why) => {
                contacts.refused.insert(target.host.clone(), why.clone());
            }
        }
        judged
    }

    async fn judgement(&self, target: &Target) -> Result<Vec<SocketAddr>, String> {
        let host = &target.host;
        let judged = self
            .rules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .judge(host, target.port);
        let local = match judged {
            Judged::Denied(entry) => {
                return Err(format!("{host} is on denied_domains (`{entry}`)"));
            }
            Judged::Allowed { local } => local,
            Judged::Unlisted => {
                if !self.first_contact(target).await {
                    return Err(format!(
                        "{host} is not on allowed_domains{}",
                        if self.ask.is_some() {
                            ", and the person did not allow it"
                        } else {
                            ""
                        }
                    ));
                }
                false
            }
        };
        let addresses = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, target.port)],
            Err(_) => self
                .resolver
                .resolve(host, target.port)
                .await
                .map_err(|e| format!("{host} could not be resolved: {e}"))?,
        };
        let (public, home): (Vec<SocketAddr>, Vec<SocketAddr>) = addresses
            .into_iter()
            .partition(|address| local || rules::is_public(address.ip()));
        match (public.is_empty(), home.first()) {
            (false, _) => Ok(public),
            (true, Some(home)) => Err(format!(
                "{host} resolves to {}, an address on this machine or its network",
                home.ip()
            )),
            (true, None) => Err(format!("{host} resolves to no address")),
        }
    }

    /// The person's answer about a host no list names, asked once a session (one question
    /// at a time: connections to the same host wait for the first answer).
    async fn first_contact(&self, target: &Target) -> bool {
        let Some(ask) = &self.ask else {
            return false;
        };
        let mut answered = self.answered.lock().await;
        if let Some(allowed) = answered.get(&target.host) {
            return *allowed;
        }
        let allowed = ask(target.clone()).await;
        answered.insert(target.host.clone(), allowed);
        if allowed {
            self.rules
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .allow(&target.host);
        }
        allowed
    }
}

/// Reads what the client sent next onto `buf`, within the opening's size and time; 0 at its
/// end.
async fn read_more<S: AsyncRead + Unpin>(client: &mut S, buf: &mut Vec<u8>) -> io::Result<usize> {
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
async fn splice<A, B>(client: &mut A, server: &mut B) -> io::Result<()>
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    const PIECE: usize = 64 * 1024;
    tokio::io::copy_bidirectional_with_sizes(client, server, PIECE, PIECE).await?;
    Ok(())
}

/// The first of `addresses` that takes a connection.
async fn connect(addresses: &[SocketAddr]) -> Option<TcpStream> {
    for address in addresses {
        if let Ok(Ok(stream)) =
            tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await
        {
            return Some(stream);
        }
    }
    None
}

fn shown(target: &Target) -> String {
    format!("{}:{}", target.host, target.port)
}

/// An HTTP answer with the reason as its body (and its `X-Kelp-Refused` header), then the end.
async fn refuse_http<S: AsyncWrite + Unpin>(
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
async fn socks_reply<S: AsyncWrite + Unpin>(client: &mut S, code: u8) -> io::Result<()> {
    client.write_all(&[5, code, 0, 1, 0, 0, 0, 0, 0, 0]).await
}

#[cfg(test)]
mod tests;
