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
pub enum Parsed<T> {
    /// Not enough yet.
    More,
    /// The value, and how many bytes it took.
    Done(T, usize),
    /// Bytes no client of the protocol sends.
    Bad(&'static str),
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
pub fn socks_request(buf: &[u8]) -> Parsed<Target> {
    if buf.len() < 5 {
        return Parsed::More;
    }
    if buf[0] != 5 || buf[2] != 0 {
        return Parsed::Bad("not a SOCKS5 request");
    }
    if buf[1] != 1 {
        return Parsed::Bad("only CONNECT is served");
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
                    None => return Parsed::Bad("the host is not a name"),
                },
                None => return Parsed::More,
            }
        }
        _ => return Parsed::Bad("an address type SOCKS5 does not have"),
    };
    match buf.get(at..at + 2) {
        Some(port) => {
            let port = u16::from_be_bytes([port[0], port[1]]);
            if port == 0 {
                return Parsed::Bad("port 0");
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
    /// the server must get it: its line in origin form, and `Connection: close` in place of
    /// the client's hop-by-hop headers, so the connection carries this one request and the
    /// client's next, which may name another host, comes on a connection judged anew.
    pub head: Option<Vec<u8>>,
}

/// An HTTP request's head: `CONNECT host:port HTTP/1.1`, or a request with an absolute
/// `http://` URI. The head ends at the first empty line, within [`MAX_HEAD`].
pub fn http_request(buf: &[u8]) -> Parsed<HttpRequest> {
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
    let head = &buf[..end];
    let line_end = head.windows(2).position(|w| w == b"\r\n").unwrap_or(0);
    let Ok(line) = std::str::from_utf8(&head[..line_end]) else {
        return Parsed::Bad("the request line is not text");
    };
    let mut words = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Parsed::Bad("not an HTTP request line");
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() {
        return Parsed::Bad("not an HTTP/1 request");
    }
    if method == "CONNECT" {
        return match authority(uri, None) {
            Some(target) => Parsed::Done(HttpRequest { target, head: None }, end),
            None => Parsed::Bad("CONNECT names no host and port"),
        };
    }
    let Some(rest) = uri
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("http://"))
        .map(|_| &uri[7..])
    else {
        return Parsed::Bad("only http:// is forwarded; https goes through CONNECT");
    };
    let (authority_text, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    let Some(target) = authority(authority_text, Some(80)) else {
        return Parsed::Bad("the URI names no host");
    };
    let mut rewritten = format!("{method} {path} {version}\r\n").into_bytes();
    for header in head[line_end..end].split(|b| *b == b'\n') {
        let header = header.strip_suffix(b"\r").unwrap_or(header);
        let name = header.split(|b| *b == b':').next().unwrap_or_default();
        let hop_by_hop = [&b"connection"[..], b"proxy-connection", b"keep-alive"]
            .iter()
            .any(|hop| name.trim_ascii().eq_ignore_ascii_case(hop));
        if !header.is_empty() && !hop_by_hop {
            rewritten.extend_from_slice(header);
            rewritten.extend_from_slice(b"\r\n");
        }
    }
    rewritten.extend_from_slice(b"Connection: close\r\n\r\n");
    Parsed::Done(
        HttpRequest {
            target,
            head: Some(rewritten),
        },
        end,
    )
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
mod tests {
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
            Parsed::Bad("only CONNECT is served")
        ));
        assert!(matches!(
            socks_request(&[5, 1, 0, 3, 3, b'a', b'/', b'b', 0, 80]),
            Parsed::Bad(_)
        ));
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
                    head: None
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
            b"GET /simple/x/ HTTP/1.1\r\nHost: mirror.test\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        let bare = b"GET http://example.com HTTP/1.0\r\n\r\n";
        let Parsed::Done(request, _) = http_request(bare) else {
            panic!("not read");
        };
        assert_eq!(request.target, target("example.com", 80));
        assert_eq!(
            request.head.unwrap(),
            b"GET / HTTP/1.0\r\nConnection: close\r\n\r\n"
        );
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
        }

        /// A request cut anywhere before its end is `More`, never a wrong answer.
        #[test]
        fn a_request_cut_short_asks_for_more(host in "[a-z]{1,20}(\\.[a-z]{1,10}){0,3}", port in 1u16.., cut in 0usize..100) {
            let text = format!("CONNECT {host}:{port} HTTP/1.1\r\n\r\n");
            let cut = cut % text.len();
            prop_assert_eq!(http_request(&text.as_bytes()[..cut]), Parsed::More);
            let whole = http_request(text.as_bytes());
            prop_assert_eq!(whole, Parsed::Done(HttpRequest { target: Target { host, port }, head: None }, text.len()));
        }
    }
}
