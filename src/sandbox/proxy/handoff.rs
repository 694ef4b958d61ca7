//! The proxy as commands get it: one per kelp, made from the config's lists ([`Domains`]), and
//! for each command the listener its network namespace hands over, served for the command's
//! life ([`ProxyHandoff`], [`ServingProxy`]).

use crate::config::Config;

use super::{Ask, CommandScope, Proxy, Refusal};

/// kelp's proxy for commands whose network reaches only some domains: one per kelp, made from
/// the config's lists the first time a command needs it; and whom a command asks about a host
/// no list names (a turn's asker, put in for each command; none refuses such hosts).
#[derive(Clone)]
pub struct Domains {
    proxy: std::sync::Arc<Proxy>,
    ask: Option<Ask>,
}

impl Domains {
    /// Commands reach the network through `proxy`, nobody asked about a host no list names.
    pub fn new(proxy: std::sync::Arc<Proxy>) -> Self {
        Self { proxy, ask: None }
    }

    /// The same proxy, a first contact put to `ask`.
    #[must_use]
    pub fn asking(&self, ask: Ask) -> Self {
        Self {
            proxy: std::sync::Arc::clone(&self.proxy),
            ask: Some(ask),
        }
    }

    /// The proxy itself.
    pub fn proxy(&self) -> &std::sync::Arc<Proxy> {
        &self.proxy
    }

    /// What a command started now needs to be served the proxy, given the socket its
    /// namespace sends the listener over.
    pub(in crate::sandbox) fn handoff(
        &self,
        parent: std::os::unix::net::UnixStream,
    ) -> ProxyHandoff {
        ProxyHandoff {
            parent,
            proxy: std::sync::Arc::clone(&self.proxy),
            ask: self.ask.clone(),
        }
    }

    /// This kelp's proxy, made from `config`'s `allowed_domains` and `denied_domains` the
    /// first time (an entry it cannot read is logged and left out).
    pub fn of(config: &Config) -> Self {
        static PROXY: std::sync::OnceLock<std::sync::Arc<Proxy>> = std::sync::OnceLock::new();
        let proxy = PROXY.get_or_init(|| {
            let (rules, problems) =
                super::rules::DomainRules::new(&config.allowed_domains, &config.denied_domains);
            for problem in problems {
                tracing::warn!("{problem}");
            }
            Proxy::new(rules, std::sync::Arc::new(super::SystemResolver))
        });
        Self::new(std::sync::Arc::clone(proxy))
    }
}

impl Domains {
    /// The lists' sizes and the hosts reached and refused so far, in a line.
    pub fn summary(&self) -> String {
        let (allowed, denied) = self.proxy.list_sizes();
        let contacts = self.proxy.contacts();
        let hosts = |set: Vec<&String>| match set.len() {
            0 => "none".to_string(),
            _ => set
                .iter()
                .map(|host| host.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        };
        format!(
            "{allowed} allowed, {denied} denied; reached: {}; refused: {}",
            hosts(contacts.reached.iter().collect()),
            hosts(contacts.refused.keys().collect())
        )
    }
}

impl std::fmt::Debug for Domains {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Domains")
    }
}

impl PartialEq for Domains {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.proxy, &other.proxy)
    }
}

impl Eq for Domains {}

/// What a command whose network reaches only some domains needs once it has started: the
/// socket its network namespace sent the proxy's listener over, the proxy, and whom it asks.
pub struct ProxyHandoff {
    parent: std::os::unix::net::UnixStream,
    proxy: std::sync::Arc<Proxy>,
    ask: Option<Ask>,
}

/// The proxy serving one command, until this is dropped (the command ended).
pub struct ServingProxy {
    task: tokio::task::JoinHandle<()>,
    scope: std::sync::Arc<CommandScope>,
}

impl ServingProxy {
    /// Why the proxy refused what this command asked for, once each.
    pub fn refusals(&self) -> Vec<Refusal> {
        self.scope.refusals()
    }
}

impl Drop for ServingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ProxyHandoff {
    /// Takes the listener the started command's namespace made and serves the proxy on it;
    /// `None` when none came (the command did not start).
    pub fn serve(self) -> Option<ServingProxy> {
        let listener = receive_listener(&self.parent)?;
        listener.set_nonblocking(true).ok()?;
        let listener = tokio::net::TcpListener::from_std(listener).ok()?;
        let scope = CommandScope::new(self.ask);
        let task = crate::task::spawn(
            std::sync::Arc::clone(&self.proxy).serve_tcp(listener, std::sync::Arc::clone(&scope)),
        );
        Some(ServingProxy { task, scope })
    }
}

/// The listener sent over `socket` (`SCM_RIGHTS`), already there: the namespace sends it
/// before the command execs, and the command has started.
fn receive_listener(socket: &std::os::unix::net::UnixStream) -> Option<std::net::TcpListener> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let mut byte = [0u8; 1];
    let mut part = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = [0u64; 4];
    // SAFETY: recvmsg writes into the buffers the header points to, of the sizes it gives; the
    // descriptor it hands over is ours to own.
    unsafe {
        let mut message: libc::msghdr = std::mem::zeroed();
        message.msg_iov = &raw mut part;
        message.msg_iovlen = 1;
        message.msg_control = control.as_mut_ptr().cast();
        message.msg_controllen = std::mem::size_of_val(&control);
        let flags = libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC;
        if libc::recvmsg(socket.as_raw_fd(), &raw mut message, flags) != 1 {
            return None;
        }
        let header = libc::CMSG_FIRSTHDR(&raw const message);
        if header.is_null()
            || (*header).cmsg_level != libc::SOL_SOCKET
            || (*header).cmsg_type != libc::SCM_RIGHTS
        {
            return None;
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(header).cast::<libc::c_int>());
        Some(std::net::TcpListener::from_raw_fd(fd))
    }
}
