//! The first bytes a command sends the proxy, read without trusting them: a SOCKS5 greeting
//! and request, or an HTTP request (`CONNECT host:port`, or a plain `GET http://host/…` to be
//! forwarded). Pure functions over what has arrived so far: more bytes, a request, or why not.

/// Where a command wants to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// A name as the command gave it, lowercase, or an IP address's text.
    pub host: String,
    pub port: u16,
}

/// What the bytes so far make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T, Why = &'static str> {
    /// Not enough yet.
    More,
    /// The value, and how many bytes it took.
    Done(T, usize),
    /// Bytes no client of the protocol sends.
    Bad(Why),
}

/// Why a SOCKS5 request is refused, as its reply says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocksRefusal {
    /// A command other than CONNECT (BIND, UDP ASSOCIATE).
    NotConnect,
    /// Bytes no SOCKS5 client sends.
    Malformed(&'static str),
}

impl SocksRefusal {
    /// The reply's code: command not supported, or a general failure.
    pub fn reply_code(self) -> u8 {
        match self {
            Self::NotConnect => 7,
            Self::Malformed(_) => 1,
        }
    }
}

/// The longest request head read (an HTTP request's line and headers).
pub const MAX_HEAD: usize = 16 * 1024;

/// SOCKS5's greeting: whether the client offers to go without authentication.
pub fn socks_greeting(buf: &[u8]) -> Parsed<bool> {
    match buf {
        [] | [5] => Parsed::More,
        [5, count, methods @ ..] => {
            let count = usize::from(*count);
            if methods.len() < count {
                return Parsed::More;
            }
            Parsed::Done(methods[..count].contains(&0), 2 + count)
        }
        _ => Parsed::Bad("not SOCKS5"),
    }
}

/// SOCKS5's request: only CONNECT, to a name, an IPv4 or an IPv6 address.
pub fn socks_request(buf: &[u8]) -> Parsed<Target, SocksRefusal> {
    use SocksRefusal::Malformed;
    if buf.len() < 5 {
        return Parsed::More;
    }
    if buf[0] != 5 || buf[2] != 0 {
        return Parsed::Bad(Malformed("not a SOCKS5 request"));
    }
    if buf[1] != 1 {
        return Parsed::Bad(SocksRefusal::NotConnect);
    }
    let (host, at) = match buf[3] {
        1 => match buf.get(4..8) {
            Some(ip) => (
                std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).to_string(),
                8,
            ),
            None => return Parsed::More,
        },
        4 => match buf.get(4..20).and_then(|ip| <[u8; 16]>::try_from(ip).ok()) {
            Some(octets) => (std::net::Ipv6Addr::from(octets).to_string(), 20),
            None => return Parsed::More,
        },
        3 => {
            let len = usize::from(buf[4]);
            match buf.get(5..5 + len) {
                Some(name) => match host_name(name) {
                    Some(name) => (name, 5 + len),
                    None => return Parsed::Bad(Malformed("the host is not a name")),
                },
                None => return Parsed::More,
            }
        }
        _ => return Parsed::Bad(Malformed("an address type SOCKS5 does not have")),
    };
    match buf.get(at..at + 2) {
        Some(port) => {
            let port = u16::from_be_bytes([port[0], port[1]]);
            if port == 0 {
                return Parsed::Bad(Malformed("port 0"));
            }
            Parsed::Done(Target { host, port }, at + 2)
        }
        None => Parsed::More,
    }
}

/// An HTTP request through the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub target: Target,
    /// `CONNECT`: a tunnel. Otherwise a plain request to forward, whose head `head` is, as
    /// the server must get it: its line in origin form, the judged host as its `Host`, and
    /// `Connection: close` in place of the client's hop-by-hop headers, so the connection
    /// carries this one request and the client's next, which may name another host, comes on
    /// a connection judged anew.
    pub head: Option<Vec<u8>>,
    /// The host the client's own `Host` header named, when it named one: a server behind a
    /// CDN goes by it, so one that is not the URL's is refused.
    pub host_header: Option<Target>,
    /// How many bytes of body follow the head (its `Content-Length`): all that is carried to
    /// the server of the client's bytes.
    pub body: u64,
}

/// An HTTP request's head: `CONNECT host:port HTTP/1.1`, or a request with an absolute
/// `http://` URI. The head ends at the first empty line, within [`MAX_HEAD`].
pub fn http_request(buf: &[u8]) -> Parsed<HttpRequest> {
    request_head(buf, None)
}

/// A plain request sent through a tunnel to `target` (as a client that tunnels `http://`
/// sends it): its path only, forwarded as [`http_request`] forwards one, to the tunnel's host.
pub fn tunneled_request(buf: &[u8], target: &Target) -> Parsed<HttpRequest> {
    request_head(buf, Some(target))
}

fn request_head(buf: &[u8], tunnel: Option<&Target>) -> Parsed<HttpRequest> {
    let Some(end) = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4)
    else {
        return if buf.len() >= MAX_HEAD {
            Parsed::Bad("the request head is too long")
        } else {
            Parsed::More
        };
    };
    if end > MAX_HEAD {
        return Parsed::Bad("the request head is too long");
    }
    match read_head(&buf[..end], tunnel) {
        Ok(request) => Parsed::Done(request, end),
        Err(why) => Parsed::Bad(why),
    }
}

/// A whole request head (through its empty line) read: a tunnel's target, or a plain
/// request rewritten to go to the host it names.
fn read_head(head: &[u8], tunnel: Option<&Target>) -> Result<HttpRequest, &'static str> {
    // Every line ends in CRLF: a bare LF or CR is a line break to some servers and none to
    // this reader, which would hide a header from it.
    let lone = head.iter().enumerate().any(|(at, b)| match b {
        b'\n' => at == 0 || head[at - 1] != b'\r',
        b'\r' => head.get(at + 1) != Some(&b'\n'),
        _ => false,
    });
    if lone {
        return Err("a line of the request head ends without CRLF");
    }
    let line_end = head.windows(2).position(|w| w == b"\r\n").unwrap_or(0);
    let Ok(line) = std::str::from_utf8(&head[..line_end]) else {
        return Err("the request line is not text");
    };
    let mut words = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err("not an HTTP request line");
    };
    if !matches!(version, "HTTP/1.0" | "HTTP/1.1")
        || method.is_empty()
        || line.bytes().any(|b| b.is_ascii_control())
    {
        return Err("not an HTTP/1 request");
    }
    if method == "CONNECT" && tunnel.is_none() {
        let target = authority(uri, None).ok_or("CONNECT names no host and port")?;
        return Ok(HttpRequest {
            target,
            head: None,
            host_header: None,
            body: 0,
        });
    }
    let (target, path) = forwarded_to(method, uri, tunnel)?;
    let shown_host = match (target.host.contains(':'), target.port) {
        (false, 80) => target.host.clone(),
        (false, port) => format!("{}:{port}", target.host),
        (true, 80) => format!("[{}]", target.host),
        (true, port) => format!("[{}]:{port}", target.host),
    };
    let mut rewritten = format!("{method} {path} {version}\r\nHost: {shown_host}\r\n").into_bytes();
    let (host_header, body) = carry_headers(&head[line_end..], &mut rewritten)?;
    rewritten.extend_from_slice(b"Connection: close\r\n\r\n");
    Ok(HttpRequest {
        target,
        head: Some(rewritten),
        host_header,
        body,
    })
}

/// Where a plain request goes and the path it asks for there: the tunnel's host for a path,
/// or the host of an absolute `http://` URI.
fn forwarded_to<'a>(
    method: &str,
    uri: &'a str,
    tunnel: Option<&Target>,
) -> Result<(Target, &'a str), &'static str> {
    match tunnel {
        Some(target) if uri.starts_with('/') && method != "CONNECT" => Ok((target.clone(), uri)),
        Some(_) => Err("a request in a tunnel names its path only"),
        None => {
            let rest = uri
                .get(..7)
                .filter(|scheme| scheme.eq_ignore_ascii_case("http://"))
                .map(|_| &uri[7..])
                .ok_or("only http:// is forwarded; https goes through CONNECT")?;
            let (authority_text, path) = match rest.find('/') {
                Some(at) => (&rest[..at], &rest[at..]),
                None => (rest, "/"),
            };
            let target = authority(authority_text, Some(80)).ok_or("the URI names no host")?;
            Ok((target, path))
        }
    }
}

/// Copies the request's `headers` to `rewritten`, all but `Host` (read apart) and the
/// hop-by-hop ones; the host `Host` named and the body's length. A chunked body, a second
/// `Host` or lengths that disagree are refused: a server could read them otherwise.
fn carry_headers(
    headers: &[u8],
    rewritten: &mut Vec<u8>,
) -> Result<(Option<Target>, u64), &'static str> {
    let (mut host_header, mut body) = (None, None);
    for header in headers.split(|b| *b == b'\n') {
        let header = header.strip_suffix(b"\r").unwrap_or(header);
        if header.is_empty() {
            continue;
        }
        let (name, value) = match header.iter().position(|b| *b == b':') {
            Some(at) => (header[..at].trim_ascii(), header[at + 1..].trim_ascii()),
            None => return Err("a header line without a colon"),
        };
        let is = |wanted: &[u8]| name.eq_ignore_ascii_case(wanted);
        if is(b"host") {
            if host_header.is_some() {
                return Err("two Host headers");
            }
            let named = std::str::from_utf8(value)
                .ok()
                .and_then(|value| authority(value, Some(80)));
            host_header = Some(named.ok_or("the Host header names no host")?);
            continue;
        }
        if is(b"transfer-encoding") {
            return Err(
                "kelp's proxy carries a plain http:// request's body only with a Content-Length (send it over https)",
            );
        }
        if is(b"content-length") {
            let length = std::str::from_utf8(value)
                .ok()
                .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|text| text.parse::<u64>().ok());
            match (length, body) {
                (Some(length), None) => body = Some(length),
                (Some(length), Some(before)) if length == before => {}
                _ => return Err("a Content-Length that is no one length"),
            }
        }
        let hop_by_hop = [&b"connection"[..], b"proxy-connection", b"keep-alive"]
            .iter()
            .any(|hop| is(hop));
        if !hop_by_hop {
            rewritten.extend_from_slice(header);
            rewritten.extend_from_slice(b"\r\n");
        }
    }
    Ok((host_header, body.unwrap_or(0)))
}

/// A server's answer head as the client gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerHead {
    /// The head to send on.
    pub head: Vec<u8>,
    /// How many bytes of what arrived it took.
    pub used: usize,
    /// An informational answer (`100 Continue`, `103 Early Hints`): the final one's head is
    /// still to come.
    pub informational: bool,
}

/// A server's answer head as the client gets it: its hop-by-hop `Connection` and
/// `Keep-Alive` headers replaced by `Connection: close`, so the client makes its next request
/// on a new connection, judged anew, whatever the server would keep open. `None` until the
/// head is whole; the head as it came when it is no HTTP/1 head.
///
/// An informational answer (`100 Continue`, `103 Early Hints`) goes as it came: the answer
/// after it is the one rewritten.
pub fn closing_answer_head(buf: &[u8]) -> Option<AnswerHead> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = &buf[..end];
    let informational = head.len() > 9 && head.starts_with(b"HTTP/1.") && head[9] == b'1';
    if !head.starts_with(b"HTTP/1.") || informational {
        return Some(AnswerHead {
            head: head.to_vec(),
            used: end,
            informational,
        });
    }
    let mut rewritten = Vec::with_capacity(end + 20);
    for (i, line) in head[..end - 2].split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let name = line
            .split(|b| *b == b':')
            .next()
            .unwrap_or_default()
            .trim_ascii();
        let hop = i > 0
            && (name.eq_ignore_ascii_case(b"connection")
                || name.eq_ignore_ascii_case(b"keep-alive"));
        if !line.is_empty() && !hop {
            rewritten.extend_from_slice(line);
            rewritten.extend_from_slice(b"\r\n");
        }
    }
    rewritten.extend_from_slice(b"Connection: close\r\n\r\n");
    Some(AnswerHead {
        head: rewritten,
        used: end,
        informational: false,
    })
}

/// The largest TLS ClientHello read to find the server it names: far above any client's
/// (a post-quantum key share makes one of some 1.8 KiB).
pub const MAX_CLIENT_HELLO: usize = 16 * 1024;

/// What a tunnel's first bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TunnelOpening {
    /// A TLS ClientHello, and the server name it asks for (SNI), if it names one.
    Tls(Option<String>),
    /// Anything else: the tunnel does not carry TLS.
    NotTls,
}

/// Reads a tunnel's opening: a TLS ClientHello (its handshake message may span records) and
/// the host name of its `server_name` extension, without decrypting anything (there is
/// nothing to decrypt yet). Names are read as [`host_name`] reads them, so they compare with
/// the judged host.
pub fn tunnel_opening(buf: &[u8]) -> Parsed<TunnelOpening> {
    match buf.first() {
        None => return Parsed::More,
        Some(0x16) => {}
        Some(_) => return Parsed::Done(TunnelOpening::NotTls, 0),
    }
    // The handshake bytes of the records so far.
    let mut handshake = Vec::new();
    let mut at = 0;
    let wanted = loop {
        let Some(header) = buf.get(at..at + 5) else {
            return Parsed::More;
        };
        if header[0] != 0x16 || header[1] != 3 {
            return Parsed::Bad("a TLS record that is no handshake");
        }
        let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let Some(fragment) = buf.get(at + 5..at + 5 + length) else {
            return Parsed::More;
        };
        handshake.extend_from_slice(fragment);
        at += 5 + length;
        if handshake.len() >= 4 {
            if handshake[0] != 1 {
                return Parsed::Bad("a TLS handshake that is no ClientHello");
            }
            let wanted = usize::from(handshake[1]) << 16
                | usize::from(handshake[2]) << 8
                | usize::from(handshake[3]);
            if wanted > MAX_CLIENT_HELLO {
                return Parsed::Bad("a ClientHello too long");
            }
            if handshake.len() >= 4 + wanted {
                break wanted;
            }
        }
        if at >= MAX_CLIENT_HELLO + 5 * 8 {
            return Parsed::Bad("a ClientHello too long");
        }
    };
    match server_name(&handshake[4..4 + wanted]) {
        Ok(name) => Parsed::Done(TunnelOpening::Tls(name), at),
        Err(why) => Parsed::Bad(why),
    }
}

/// The host name a ClientHello's body asks for, if it names one.
fn server_name(hello: &[u8]) -> Result<Option<String>, &'static str> {
    const BAD: &str = "a ClientHello cut short";
    let mut rest = hello.get(2 + 32..).ok_or(BAD)?;
    let take = |rest: &mut &[u8], length_bytes: usize| -> Result<Vec<u8>, &'static str> {
        let length = rest
            .get(..length_bytes)
            .ok_or(BAD)?
            .iter()
            .fold(0usize, |n, b| n << 8 | usize::from(*b));
        let field = rest.get(length_bytes..length_bytes + length).ok_or(BAD)?;
        let field = field.to_vec();
        *rest = &rest[length_bytes + length..];
        Ok(field)
    };
    take(&mut rest, 1)?; // session id
    take(&mut rest, 2)?; // cipher suites
    take(&mut rest, 1)?; // compression methods
    if rest.is_empty() {
        return Ok(None);
    }
    let extensions = take(&mut rest, 2)?;
    let mut extensions = extensions.as_slice();
    let mut named = None;
    let mut seen_server_name = false;
    while !extensions.is_empty() {
        let kind = extensions.get(..2).ok_or(BAD)?;
        let kind = u16::from_be_bytes([kind[0], kind[1]]);
        extensions = &extensions[2..];
        let data = take(&mut extensions, 2)?;
        match kind {
            // Encrypted Client Hello: the server a CDN routes to is in the encrypted inner
            // hello, which the outer name says nothing of.
            0xfe0d => return Err("a ClientHello whose server name is encrypted (ECH)"),
            0 if seen_server_name => return Err("a ClientHello that names two servers"),
            0 => {
                seen_server_name = true;
                let mut names = data.as_slice();
                let list = take(&mut names, 2)?;
                let mut list: &[u8] = &list;
                while !list.is_empty() && named.is_none() {
                    let name_type = list[0];
                    list = &list[1..];
                    let name = take(&mut list, 2)?;
                    if name_type == 0 {
                        named = Some(
                            host_name(&name)
                                .ok_or("a ClientHello whose server name is no host name")?,
                        );
                    }
                }
            }
            _ => {}
        }
    }
    Ok(named)
}

/// `host:port` (or `[v6]:port`); `default` when the port may be left out.
fn authority(text: &str, default: Option<u16>) -> Option<Target> {
    if text.contains('@') {
        return None;
    }
    let (host, port) = if let Some(v6) = text.strip_prefix('[') {
        let (host, rest) = v6.split_once(']')?;
        // One spelling of each address, as the lists and the person's answers name it.
        let host = host.parse::<std::net::Ipv6Addr>().ok()?.to_string();
        match rest.strip_prefix(':') {
            Some(port) => (host, port.parse().ok()?),
            None if rest.is_empty() => (host, default?),
            None => return None,
        }
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host_name(host.as_bytes())?, port.parse().ok()?),
            None => (host_name(text.as_bytes())?, default?),
        }
    };
    (port != 0).then_some(Target { host, port })
}

/// A host name's bytes as a lowercase name without a trailing dot, if they are one (letters,
/// digits, `-`, `_` and dots), or an IPv4 address in its one dotted spelling. A name whose
/// last label is a number or hex (`134744072`, `0x7f.1`, `010.0.0.1`) is refused: no domain
/// ends so, and the system's resolver reads it as an address in another spelling, which the
/// lists and the person would not recognise.
fn host_name(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?.trim_end_matches('.');
    let fine = !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !fine {
        return None;
    }
    let text = text.to_ascii_lowercase();
    let last = text.rsplit('.').next().unwrap_or_default();
    if last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x") {
        return text
            .parse::<std::net::Ipv4Addr>()
            .ok()
            .map(|ip| ip.to_string());
    }
    Some(text)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn target(host: &str, port: u16) -> Target {
        Target {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn a_socks_greeting_and_request_are_read_as_they_arrive() {
        assert_eq!(socks_greeting(&[5]), Parsed::More);
        assert_eq!(socks_greeting(&[5, 2, 0]), Parsed::More);
        assert_eq!(socks_greeting(&[5, 2, 2, 0]), Parsed::Done(true, 4));
        assert_eq!(socks_greeting(&[5, 1, 2]), Parsed::Done(false, 3));
        assert!(matches!(socks_greeting(b"GET"), Parsed::Bad(_)));

        let mut request = vec![5, 1, 0, 3, 9];
        request.extend_from_slice(b"Crates.IO");
        request.extend_from_slice(&443u16.to_be_bytes());
        for cut in 0..request.len() {
            assert_eq!(socks_request(&request[..cut]), Parsed::More, "at {cut}");
        }
        assert_eq!(
            socks_request(&request),
            Parsed::Done(target("crates.io", 443), request.len())
        );
        assert_eq!(
            socks_request(&[5, 1, 0, 1, 127, 0, 0, 1, 0, 80]),
            Parsed::Done(target("127.0.0.1", 80), 10)
        );
        let mut v6 = vec![5, 1, 0, 4];
        v6.extend_from_slice(&std::net::Ipv6Addr::LOCALHOST.octets());
        v6.extend_from_slice(&[0, 22]);
        assert_eq!(socks_request(&v6), Parsed::Done(target("::1", 22), 22));
        assert!(matches!(
            socks_request(&[5, 2, 0, 1, 1, 1, 1, 1, 0, 80]),
            Parsed::Bad(SocksRefusal::NotConnect)
        ));
        assert!(matches!(
            socks_request(&[5, 1, 0, 3, 3, b'a', b'/', b'b', 0, 80]),
            Parsed::Bad(SocksRefusal::Malformed(_))
        ));
    }

    /// The ClientHello rustls, as a client, opens a connection to `host` with.
    pub fn client_hello(host: &str) -> Vec<u8> {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from(host.to_string()).unwrap();
        let mut connection =
            rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
        let mut hello = Vec::new();
        connection.write_tls(&mut hello).unwrap();
        hello
    }

    #[test]
    fn a_tunnels_opening_is_tls_or_not_and_a_hello_without_a_name_says_so() {
        assert_eq!(
            tunnel_opening(b"SSH-2.0-OpenSSH_9.6\r\n"),
            Parsed::Done(TunnelOpening::NotTls, 0)
        );
        assert_eq!(tunnel_opening(b""), Parsed::More);
        // An address as the name: rustls sends no server name for it.
        let hello = client_hello("192.0.2.1");
        assert_eq!(
            tunnel_opening(&hello),
            Parsed::Done(TunnelOpening::Tls(None), hello.len())
        );
        assert!(matches!(
            tunnel_opening(&[0x16, 3, 1, 0, 4, 2, 0, 0, 0]),
            Parsed::Bad(_)
        ));
    }

    /// Through a tunnel a request names its path; it goes to the tunnel's host as a plain one
    /// does, and the Host it names is kept for the proxy to judge.
    #[test]
    fn a_request_in_a_tunnel_goes_to_the_tunnels_host() {
        let tunnel = target("registry.test", 80);
        let Parsed::Done(request, used) = tunneled_request(
            b"GET /pkg HTTP/1.1\r\nHost: registry.test\r\nConnection: keep-alive\r\n\r\n",
            &tunnel,
        ) else {
            panic!("not read");
        };
        assert_eq!(used, 66);
        assert_eq!(request.target, tunnel);
        assert_eq!(request.host_header, Some(tunnel.clone()));
        assert_eq!(
            request.head.unwrap(),
            b"GET /pkg HTTP/1.1\r\nHost: registry.test\r\nConnection: close\r\n\r\n"
        );
        for bad in [
            &b"GET http://other.test/ HTTP/1.1\r\n\r\n"[..],
            b"CONNECT other.test:80 HTTP/1.1\r\n\r\n",
        ] {
            assert!(matches!(tunneled_request(bad, &tunnel), Parsed::Bad(_)));
        }
    }

    #[test]
    fn an_answers_head_says_connection_close() {
        let AnswerHead { head, used, .. } = closing_answer_head(
            b"HTTP/1.1 200 OK\r\nconnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok",
        )
        .unwrap();
        assert_eq!(
            head,
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(used, 85);
        assert_eq!(closing_answer_head(b"HTTP/1.1 200 OK\r\n"), None);
        let continued =
            closing_answer_head(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n").unwrap();
        assert!(continued.informational);
        assert_eq!(
            (continued.head.as_slice(), continued.used),
            (&b"HTTP/1.1 100 Continue\r\n\r\n"[..], 25)
        );
    }

    #[test]
    fn connect_and_plain_http_requests_name_their_host() {
        let connect = b"CONNECT index.crates.io:443 HTTP/1.1\r\nHost: index.crates.io:443\r\n\r\n";
        assert_eq!(http_request(&connect[..20]), Parsed::More);
        assert_eq!(
            http_request(connect),
            Parsed::Done(
                HttpRequest {
                    target: target("index.crates.io", 443),
                    head: None,
                    host_header: None,
                    body: 0,
                },
                connect.len()
            )
        );
        let get = b"GET http://Mirror.Test:8080/simple/x/ HTTP/1.1\r\nHost: mirror.test\r\n\
            Proxy-Connection: keep-alive\r\nAccept: */*\r\nconnection:Keep-Alive\r\n\r\nbody";
        let Parsed::Done(request, used) = http_request(get) else {
            panic!("not read");
        };
        assert_eq!(used, get.len() - 4);
        assert_eq!(request.target, target("mirror.test", 8080));
        assert_eq!(
            request.head.unwrap(),
            b"GET /simple/x/ HTTP/1.1\r\nHost: mirror.test:8080\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(request.host_header, Some(target("mirror.test", 80)));
        let bare = b"GET http://example.com HTTP/1.0\r\n\r\n";
        let Parsed::Done(request, _) = http_request(bare) else {
            panic!("not read");
        };
        assert_eq!(request.target, target("example.com", 80));
        assert_eq!(
            request.head.unwrap(),
            b"GET / HTTP/1.0\r\nHost: example.com\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(request.host_header, None);
        let v6 = b"CONNECT [::1]:8443 HTTP/1.1\r\n\r\n";
        assert!(
            matches!(http_request(v6), Parsed::Done(HttpRequest { target: t, .. }, _) if t == target("::1", 8443))
        );
        // An address has one spelling; a number that is not one is no name.
        assert!(
            matches!(http_request(b"CONNECT [2001:DB8:0::1]:443 HTTP/1.1\r\n\r\n"), Parsed::Done(HttpRequest { target: t, .. }, _) if t == target("2001:db8::1", 443))
        );
        for numeric in ["134744072", "0x08080808", "0x7f.1", "010.0.0.1", "1.2.3.04"] {
            let connect = format!("CONNECT {numeric}:443 HTTP/1.1\r\n\r\n");
            assert!(
                matches!(http_request(connect.as_bytes()), Parsed::Bad(_)),
                "{numeric}"
            );
        }
        assert!(
            matches!(http_request(b"CONNECT 8.8.8.8:443 HTTP/1.1\r\n\r\n"), Parsed::Done(HttpRequest { target: t, .. }, _) if t == target("8.8.8.8", 443))
        );
        for bad in [
            &b"GET https://example.com/ HTTP/1.1\r\n\r\n"[..],
            b"GET /local HTTP/1.1\r\n\r\n",
            b"CONNECT example.com HTTP/1.1\r\n\r\n",
            b"CONNECT user@example.com:443 HTTP/1.1\r\n\r\n",
            b"CONNECT example.com:0 HTTP/1.1\r\n\r\n",
            b"CONNECT ex ample.com:443 HTTP/1.1\r\n\r\n",
            b"\x05\x01\x00\r\n\r\n",
            // A header hidden behind a bare LF or CR, which some servers take for a line break.
            b"GET http://ok.test/ HTTP/1.1\nHost: evil.test\r\n\r\n",
            b"GET http://ok.test/ HTTP/1.1\r\nAccept: */*\rHost: evil.test\r\n\r\n",
            b"GET http://ok.test/ HTTP/1.1\r\nAccept: */*\nHost: evil.test\r\n\r\n",
        ] {
            assert!(
                matches!(http_request(bad), Parsed::Bad(_)),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(matches!(
            http_request(&vec![b'a'; MAX_HEAD]),
            Parsed::Bad("the request head is too long")
        ));
    }

    proptest! {
        /// Any bytes: the readers never panic, never take more than they were given, and a
        /// target they name has a port and a host of name characters or an address.
        #[test]
        fn any_bytes_are_read_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let fine = |t: &Target| {
                t.port != 0
                    && (t.host.parse::<std::net::IpAddr>().is_ok()
                        || t.host.bytes().all(|b| b.is_ascii_lowercase()
                            || b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'_'))
            };
            if let Parsed::Done(_, used) = socks_greeting(&bytes) {
                prop_assert!(used <= bytes.len());
            }
            if let Parsed::Done(t, used) = socks_request(&bytes) {
                prop_assert!(used <= bytes.len() && fine(&t));
            }
            if let Parsed::Done(r, used) = http_request(&bytes) {
                prop_assert!(used <= bytes.len() && fine(&r.target));
            }
            if let Parsed::Done(_, used) = tunnel_opening(&bytes) {
                prop_assert!(used <= bytes.len());
            }
            // As a TLS record, the same bytes: read or refused, never past them.
            let mut record = vec![0x16, 3, 1];
            record.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
            record.extend_from_slice(&bytes);
            if let Parsed::Done(_, used) = tunnel_opening(&record) {
                prop_assert!(used <= record.len());
            }
            if let Some(answer) = closing_answer_head(&bytes) {
                prop_assert!(answer.used <= bytes.len() && answer.head.ends_with(b"\r\n\r\n"));
            }
        }

        /// A real client's ClientHello (rustls's) names its server, read whole; cut anywhere
        /// before its end, it asks for more; split over two records, it reads the same.
        #[test]
        fn a_client_hello_names_its_server(host in "[a-z]{1,20}(\\.[a-z]{1,10}){1,3}", cut in 0usize..4000) {
            let hello = client_hello(&host);
            prop_assert_eq!(
                tunnel_opening(&hello),
                Parsed::Done(TunnelOpening::Tls(Some(host.clone())), hello.len())
            );
            let cut = cut % hello.len();
            prop_assert_eq!(tunnel_opening(&hello[..cut]), Parsed::More);
            let body = &hello[5..];
            let half = body.len() / 2;
            let mut split = Vec::new();
            for part in [&body[..half], &body[half..]] {
                split.extend_from_slice(&[0x16, 3, 1]);
                split.extend_from_slice(&(part.len() as u16).to_be_bytes());
                split.extend_from_slice(part);
            }
            prop_assert_eq!(
                tunnel_opening(&split),
                Parsed::Done(TunnelOpening::Tls(Some(host)), split.len())
            );
        }

        /// A request cut anywhere before its end is `More`, never a wrong answer.
        #[test]
        fn a_request_cut_short_asks_for_more(host in "[a-z]{1,20}(\\.[a-z]{1,10}){0,3}", port in 1u16.., cut in 0usize..100) {
            let text = format!("CONNECT {host}:{port} HTTP/1.1\r\n\r\n");
            let cut = cut % text.len();
            prop_assert_eq!(http_request(&text.as_bytes()[..cut]), Parsed::More);
            let whole = http_request(text.as_bytes());
            prop_assert_eq!(whole, Parsed::Done(HttpRequest { target: Target { host, port }, head: None, host_header: None, body: 0 }, text.len()));
        }
    }
}
