//! The proxy that carries a sandboxed command's network when it may reach some domains and
//! nothing else: kelp runs it outside the sandbox, serving the TCP listener the command's
//! network namespace makes on its loopback and hands over (`handoff.rs`), and the command,
//! which has no route out, speaks HTTP (`CONNECT`, or a plain `http://` request) or SOCKS5 to
//! it. What a connection carries is judged too: a plain request's `Host`, one request a
//! connection, a tunnel's TLS server name.
//!
//! Every connection is judged before it is made ([`rules`]): the deny-list wins, the allow-list
//! lets a host through, and a host on neither is put to whoever answers for the command, once
//! a host for each command ([`CommandScope`]; refused where nobody can be asked). A name is
//! resolved here, not by the command, and the addresses
//! it leads to must be out on the internet: a name that resolves to the person's machine or
//! network is refused after resolution (no DNS rebinding into their services), unless an
//! allow-list entry names that very host and port. A refusal is an answer the command can
//! report: a 403 whose body says why, or SOCKS5's "not allowed by ruleset".
//!
//! - `handoff.rs`: the proxy as commands get it, one per kelp, served on each command's listener.
//! - `request.rs`: the first bytes a command sends, read without trusting them.
//! - `rules.rs`: the lists, and which addresses are public.
//!
//! Its other files:
//! - `carry.rs`: the bytes of a judged connection: the opening read, a request or a tunnel
//!   carried, the refusals a client reads.
//! - `tests.rs`: the proxy over real sockets.

mod carry;
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

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::protocol::Via;
use carry::{
    Carry, TLS_ACCESS_DENIED, carry_one_request, connect, read_more, refuse_http, shown,
    socks_reply, splice,
};
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

impl Via {
    /// The protocol as a person reads it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
            Self::Socks5 => "SOCKS5",
        }
    }
}

/// A host no list names, which a command tried to reach: put to whoever answers for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstContact {
    pub host: String,
    pub port: u16,
    pub via: Via,
}

/// What the one who answers for a command said of a [`FirstContact`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The command may reach the host.
    Allowed,
    /// The person said no; the reason they gave, if any, is passed on to the model.
    Refused(Option<String>),
    /// Nobody was asked (no person, a policy that never asks, the command ended first); why,
    /// when there is more to say than the lists.
    Unasked(Option<String>),
}

/// Asks about a command's first contact with a host no list names. The proxy asks once a host
/// for each command and keeps the answer for the command's other connections there; whatever
/// is kept beyond (a session, a project), how many are asked and one at a time, is the asker's.
pub type Ask = Arc<dyn Fn(FirstContact) -> Pending<Answer> + Send + Sync>;

/// Why the proxy refused a connection, and whether it was the person's own no.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub why: String,
    pub by_person: bool,
}

/// The most refusals one command keeps to tell the model; past them it counts them.
const MAX_REFUSALS_KEPT: usize = 8;

/// What the proxy keeps for one command: whom it asks about a first contact, the answer for
/// each host (its connections there wait for the one question; other hosts do not; a port
/// beyond the web's is a host of its own, [`rules::host_rule`]), and what it refused.
#[derive(Default)]
pub struct CommandScope {
    ask: Option<Ask>,
    answers: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Answer>>>>,
    refusals: Mutex<(Vec<Refusal>, usize)>,
}

impl CommandScope {
    /// A command's scope whose first contacts are put to `ask` (refused without one).
    pub fn new(ask: Option<Ask>) -> Arc<Self> {
        Arc::new(Self {
            ask,
            ..Self::default()
        })
    }

    /// Why the proxy refused what this command asked for, once each (the first few, and how
    /// many more).
    pub fn refusals(&self) -> Vec<Refusal> {
        let (kept, more) = &*self.refusals.lock().unwrap_or_else(PoisonError::into_inner);
        let mut refusals = kept.clone();
        if *more > 0 {
            refusals.push(Refusal {
                why: format!("{more} more refused"),
                by_person: false,
            });
        }
        refusals
    }

    fn note(&self, refusal: Refusal) {
        let (kept, more) = &mut *self.refusals.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.contains(&refusal) {
            return;
        }
        if kept.len() < MAX_REFUSALS_KEPT {
            kept.push(refusal);
        } else {
            *more += 1;
        }
    }

    /// Whether the command may reach `contact`, a host no list names: asked once a host for
    /// this command, or why not.
    async fn first_contact(&self, contact: FirstContact) -> Result<(), Refusal> {
        let host = rules::host_rule(&contact.host, contact.port);
        let unlisted = |and: String, by_person: bool| {
            Err(Refusal {
                why: format!("{host} is not on allowed_domains{and}"),
                by_person,
            })
        };
        let Some(ask) = &self.ask else {
            return unlisted(String::new(), false);
        };
        let cell = Arc::clone(
            self.answers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(host.clone())
                .or_default(),
        );
        let answer = cell.get_or_init(|| ask(contact)).await.clone();
        match answer {
            Answer::Allowed => Ok(()),
            Answer::Unasked(None) => unlisted(String::new(), false),
            Answer::Unasked(Some(why)) => unlisted(format!(" ({why})"), false),
            Answer::Refused(reason) => {
                let because = reason.map(|r| format!(": {r}")).unwrap_or_default();
                unlisted(format!(", and the person did not allow it{because}"), true)
            }
        }
    }
}

/// The most hosts reached and refused kept for `/status` and `kelp doctor`.
const MAX_CONTACTS_KEPT: usize = 256;

/// The most connections one command has carried at once (each holds 128 KiB of buffers).
const MAX_CONNECTIONS: usize = 128;

/// How long a tunnel to a port beyond the web's waits for its client's first word before it
/// takes the server for the one that speaks first.
const SERVER_SPEAKS_FIRST: Duration = Duration::from_millis(300);

/// How long a command may take to say where it goes, and a connection to be made.
const OPENING_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// The hosts commands reached and those refused (with why), this session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contacts {
    pub reached: BTreeSet<String>,
    pub refused: BTreeMap<String, String>,
}

/// One kelp's proxy: its lists, its resolver, and what it saw. Whom it asks about a host no
/// list names is each command's ([`CommandScope`]).
pub struct Proxy {
    rules: DomainRules,
    resolver: Arc<dyn Resolve>,
    contacts: Mutex<Contacts>,
}

impl Proxy {
    /// A proxy judging by `rules`, resolving names through `resolver`.
    pub fn new(rules: DomainRules, resolver: Arc<dyn Resolve>) -> Arc<Self> {
        Arc::new(Self {
            rules,
            resolver,
            contacts: Mutex::default(),
        })
    }

    /// How many entries the allow-list and the deny-list hold.
    pub fn list_sizes(&self) -> (usize, usize) {
        self.rules.sizes()
    }

    /// What commands reached and what was refused so far.
    pub fn contacts(&self) -> Contacts {
        self.contacts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Serves every connection `listener` accepts for the command of `scope`, each on a task
    /// of its own, until the listener fails.
    pub async fn serve(
        self: Arc<Self>,
        listener: tokio::net::UnixListener,
        scope: Arc<CommandScope>,
    ) {
        while let Ok((stream, _)) = listener.accept().await {
            let proxy = Arc::clone(&self);
            let scope = Arc::clone(&scope);
            crate::task::spawn(async move {
                if let Err(e) = proxy.carry(stream, &scope).await {
                    tracing::debug!(error = %e, "a proxied connection ended");
                }
            });
        }
    }

    /// Serves every connection `listener` accepts (a command's, in its own network
    /// namespace), each on a task of its own, until the listener fails or the task is ended.
    /// What it refused is noted in `scope`: the command's own, to tell the model.
    pub async fn serve_tcp(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        scope: Arc<CommandScope>,
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
            let scope = Arc::clone(&scope);
            crate::task::spawn(async move {
                if let Err(e) = proxy.carry(stream, &scope).await {
                    tracing::debug!(error = %e, "a proxied connection ended");
                }
                drop(permit);
            });
        }
    }

    /// One connection of the command of `scope`: its opening read, judged, and the bytes
    /// carried both ways.
    pub async fn carry<S>(&self, mut client: S, scope: &CommandScope) -> io::Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut buf = Vec::with_capacity(1024);
        let first = read_more(&mut client, &mut buf).await?;
        if first == 0 {
            return Ok(());
        }
        if buf[0] == 5 {
            return self.carry_socks(client, buf, scope).await;
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
        let HttpRequest {
            target,
            head,
            host_header,
            body,
        } = request;
        let via = if head.is_some() {
            Via::Http
        } else {
            Via::Https
        };
        if let Err(why) = self.same_host(host_header.as_ref(), &target, scope) {
            return refuse_http(&mut client, 403, &why).await;
        }
        let addresses = match self.judge(&target, via, scope).await {
            Ok(addresses) => addresses,
            Err(why) => return refuse_http(&mut client, 403, &why).await,
        };
        let Some(server) = connect(&addresses).await else {
            let why = format!("{} did not answer", shown(&target));
            return refuse_http(&mut client, 502, &why).await;
        };
        match head {
            // One request, its body and no more of the client's bytes: a second request on
            // the connection, which may name another host, never reaches this server.
            Some(head) => carry_one_request(client, server, &head, &buf[used..], body).await,
            None => {
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await?;
                self.carry_tunnel(client, server, buf[used..].to_vec(), &target, scope)
                    .await
            }
        }
    }

    /// Reads a tunnel's opening onto `opening` and judges it: a TLS ClientHello must name the
    /// judged host (or none, for an address), since a server behind a CDN goes by the name
    /// it names; a tunnel to the web's ports carries TLS only (a plain request is made
    /// through the proxy, where it is judged); to another port, allowed by name and port,
    /// anything.
    async fn tunnel_may_open<S>(
        &self,
        client: &mut S,
        opening: &mut Vec<u8>,
        target: &Target,
    ) -> io::Result<Result<Carry, String>>
    where
        S: AsyncRead + Unpin,
    {
        // On a port beyond the web's the server may speak first (SSH, SMTP, a database): a
        // client that says nothing for a moment is carried as it is.
        if !rules::WEB_PORTS.contains(&target.port) && opening.is_empty() {
            match tokio::time::timeout(SERVER_SPEAKS_FIRST, read_more(client, opening)).await {
                Err(_) => return Ok(Ok(Carry::Whole)),
                Ok(read) => {
                    if read? == 0 {
                        return Ok(Err("it closed before it said anything".to_string()));
                    }
                }
            }
        }
        loop {
            match request::tunnel_opening(opening) {
                Parsed::More => {
                    if opening.len() >= request::MAX_CLIENT_HELLO + 64 {
                        return Ok(Err("its TLS opening is too long".to_string()));
                    }
                    if read_more(client, opening).await? == 0 {
                        return Ok(Err("it closed before it said anything".to_string()));
                    }
                }
                Parsed::Bad(why) => {
                    return Ok(Err(format!("a tunnel to {}: {why}", shown(target))));
                }
                Parsed::Done(request::TunnelOpening::Tls(Some(name)), _) => {
                    return Ok(if name == target.host {
                        Ok(Carry::Whole)
                    } else {
                        Err(format!(
                            "a tunnel to {} asked TLS for {name}, another server",
                            shown(target)
                        ))
                    });
                }
                Parsed::Done(request::TunnelOpening::Tls(None), _) => {
                    return Ok(if target.host.parse::<IpAddr>().is_ok() {
                        Ok(Carry::Whole)
                    } else {
                        Err(format!(
                            "a tunnel to {} asked TLS for no server name",
                            shown(target)
                        ))
                    });
                }
                Parsed::Done(request::TunnelOpening::NotTls, _) => {
                    return Ok(match target.port {
                        80 => Ok(Carry::OneRequest),
                        443 => Err(format!("a tunnel to {} carries no TLS", shown(target))),
                        _ => Ok(Carry::Whole),
                    });
                }
            }
        }
    }

    /// Notes a refusal made after the lists judged `target` (what its request or tunnel
    /// carried), as [`Proxy::judge`] notes its own.
    fn note_refusal(&self, target: &Target, why: String, scope: &CommandScope) {
        let mut contacts = self.contacts.lock().unwrap_or_else(PoisonError::into_inner);
        if contacts.reached.len() + contacts.refused.len() < MAX_CONTACTS_KEPT {
            contacts.refused.insert(target.host.clone(), why.clone());
        }
        drop(contacts);
        scope.note(Refusal {
            why,
            by_person: false,
        });
    }

    async fn carry_socks<S>(
        &self,
        mut client: S,
        mut buf: Vec<u8>,
        scope: &CommandScope,
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
                Parsed::Bad(refusal) => {
                    return socks_reply(&mut client, refusal.reply_code()).await;
                }
                Parsed::More => {
                    if read_more(&mut client, &mut buf).await? == 0 {
                        return Ok(());
                    }
                }
            }
        };
        let addresses = match self.judge(&target, Via::Socks5, scope).await {
            Ok(addresses) => addresses,
            // Connection not allowed by ruleset.
            Err(_) => return socks_reply(&mut client, 2).await,
        };
        let Some(server) = connect(&addresses).await else {
            // Host unreachable.
            return socks_reply(&mut client, 4).await;
        };
        socks_reply(&mut client, 0).await?;
        self.carry_tunnel(client, server, buf[used..].to_vec(), &target, scope)
            .await
    }

    /// A tunnel the client was told is open: its opening (`opening`, what came with the
    /// request, and more as it comes) judged, then the bytes carried both ways; refused with
    /// TLS's alert, and noted, when it carries what was not judged.
    async fn carry_tunnel<S>(
        &self,
        mut client: S,
        mut server: TcpStream,
        mut opening: Vec<u8>,
        target: &Target,
        scope: &CommandScope,
    ) -> io::Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        match self
            .tunnel_may_open(&mut client, &mut opening, target)
            .await?
        {
            Err(why) => {
                self.note_refusal(target, why, scope);
                client.write_all(&TLS_ACCESS_DENIED).await
            }
            Ok(Carry::Whole) => {
                server.write_all(&opening).await?;
                splice(&mut client, &mut server).await?;
                Ok(())
            }
            // Plain http through a tunnel to port 80 (as undici's proxy agent sends it): one
            // request, judged as a plain one is.
            Ok(Carry::OneRequest) => loop {
                match request::tunneled_request(&opening, target) {
                    Parsed::More => {
                        if read_more(&mut client, &mut opening).await? == 0 {
                            return Ok(());
                        }
                    }
                    Parsed::Bad(why) => return refuse_http(&mut client, 400, why).await,
                    Parsed::Done(request, used) => {
                        if let Err(why) =
                            self.same_host(request.host_header.as_ref(), target, scope)
                        {
                            return refuse_http(&mut client, 403, &why).await;
                        }
                        let head = request.head.unwrap_or_default();
                        return carry_one_request(
                            client,
                            server,
                            &head,
                            &opening[used..],
                            request.body,
                        )
                        .await;
                    }
                }
            },
        }
    }

    /// Whether a plain request's own `Host` names the host judged: a server behind a CDN goes
    /// by that name, not the URL's (the port is the URL's, whatever the header says: the
    /// connection is made there). A refusal is noted, and its reason returned.
    fn same_host(
        &self,
        host_header: Option<&Target>,
        target: &Target,
        scope: &CommandScope,
    ) -> Result<(), String> {
        match host_header.filter(|named| named.host != target.host) {
            None => Ok(()),
            Some(named) => {
                let why = format!(
                    "the request's Host header names {}, not {}, the host of its URL",
                    named.host,
                    shown(target)
                );
                self.note_refusal(target, why.clone(), scope);
                Err(why)
            }
        }
    }

    /// Where `target` may be reached, or why it may not; either is noted in the contacts, and
    /// a refusal in the command's `scope` too.
    async fn judge(
        &self,
        target: &Target,
        via: Via,
        scope: &CommandScope,
    ) -> Result<Vec<SocketAddr>, String> {
        let judged = self.judgement(target, via, scope).await;
        let mut contacts = self.contacts.lock().unwrap_or_else(PoisonError::into_inner);
        // What kelp shows of them, kept to so many hosts: a command trying name after name
        // does not grow kelp's memory.
        let room = contacts.reached.len() + contacts.refused.len() < MAX_CONTACTS_KEPT;
        match judged {
            Ok(addresses) => {
                if room {
                    contacts.reached.insert(target.host.clone());
                }
                Ok(addresses)
            }
            Err(refusal) => {
                if room {
                    contacts
                        .refused
                        .insert(target.host.clone(), refusal.why.clone());
                }
                let why = refusal.why.clone();
                scope.note(refusal);
                Err(why)
            }
        }
    }

    async fn judgement(
        &self,
        target: &Target,
        via: Via,
        scope: &CommandScope,
    ) -> Result<Vec<SocketAddr>, Refusal> {
        let host = &target.host;
        let refused = |why: String| Refusal {
            why,
            by_person: false,
        };
        let local = match self.rules.judge(host, target.port) {
            Judged::Denied(entry) => {
                return Err(refused(format!("{host} is on denied_domains (`{entry}`)")));
            }
            Judged::Allowed { local } => local,
            Judged::Unlisted => {
                let contact = FirstContact {
                    host: host.clone(),
                    port: target.port,
                    via,
                };
                scope.first_contact(contact).await?;
                false
            }
        };
        let addresses = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, target.port)],
            Err(_) => self
                .resolver
                .resolve(host, target.port)
                .await
                .map_err(|e| refused(format!("{host} could not be resolved: {e}")))?,
        };
        let (public, home): (Vec<SocketAddr>, Vec<SocketAddr>) = addresses
            .into_iter()
            .partition(|address| local || rules::is_public(address.ip()));
        match (public.is_empty(), home.first()) {
            (false, _) => Ok(public),
            (true, Some(home)) => Err(refused(format!(
                "{host} resolves to {}, an address on this machine or its network",
                home.ip()
            ))),
            (true, None) => Err(refused(format!("{host} resolves to no address"))),
        }
    }
}

#[cfg(test)]
mod tests;
