//! The proxy over real sockets: a registry on loopback, names resolved through a test's map,
//! the command's side a Unix socket as in the sandbox.

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, UnixListener, UnixStream};

use super::*;

/// Names resolved through a map, as a test says.
struct MapResolver(HashMap<String, Vec<IpAddr>>);

impl Resolve for MapResolver {
    fn resolve(&self, host: &str, port: u16) -> Pending<io::Result<Vec<SocketAddr>>> {
        let found = self.0.get(host).map(|ips| {
            ips.iter()
                .map(|ip| SocketAddr::new(*ip, port))
                .collect::<Vec<_>>()
        });
        Box::pin(async move {
            found.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such name"))
        })
    }
}

/// A registry on loopback that answers every request with its request line.
async fn registry() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).await.unwrap_or(0) == 1
                {
                    head.push(byte[0]);
                }
                let line = String::from_utf8_lossy(&head);
                let line = line.lines().next().unwrap_or_default().to_string();
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{line}",
                    line.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    port
}

struct Setup {
    socket: std::path::PathBuf,
    proxy: Arc<Proxy>,
    scope: Arc<CommandScope>,
    port: u16,
    asked: Arc<Mutex<Vec<FirstContact>>>,
    _dir: tempfile::TempDir,
}

/// The proxy on a Unix socket with `allowed` and `denied` (`PORT` standing for the
/// registry's port), `registry.test` and `home.test` both leading to the registry on loopback,
/// serving one command whose first contacts get `answer` (nobody asked without one).
async fn setup(allowed: &[&str], denied: &[&str], answer: Option<Answer>) -> Setup {
    let port = registry().await;
    let list = |entries: &[&str]| {
        entries
            .iter()
            .map(|e| e.replace("PORT", &port.to_string()))
            .collect::<Vec<_>>()
    };
    let (rules, problems) = DomainRules::new(&list(allowed), &list(denied));
    assert!(problems.is_empty(), "{problems:?}");
    let loopback: IpAddr = "127.0.0.1".parse().unwrap();
    let resolver = MapResolver(HashMap::from([
        ("registry.test".to_string(), vec![loopback]),
        ("home.test".to_string(), vec![loopback]),
        ("other.test".to_string(), vec![loopback]),
    ]));
    let asked = Arc::new(Mutex::new(Vec::new()));
    let ask: Option<Ask> = answer.map(|answer| {
        let asked = Arc::clone(&asked);
        Arc::new(move |contact: FirstContact| -> Pending<Answer> {
            asked.lock().unwrap().push(contact);
            let answer = answer.clone();
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                answer
            })
        }) as Ask
    });
    let proxy = Proxy::new(rules, Arc::new(resolver));
    let scope = CommandScope::new(ask);
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("proxy.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    tokio::spawn(Arc::clone(&proxy).serve(listener, Arc::clone(&scope)));
    Setup {
        socket,
        proxy,
        scope,
        port,
        asked,
        _dir: dir,
    }
}

/// Sends `bytes` through the proxy and reads until it closes.
async fn exchange(socket: &std::path::Path, bytes: &[u8]) -> String {
    String::from_utf8_lossy(&exchange_bytes(socket, bytes).await).into_owned()
}

async fn exchange_bytes(socket: &std::path::Path, bytes: &[u8]) -> Vec<u8> {
    let mut stream = UnixStream::connect(socket).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .expect("the proxy answers")
        .unwrap();
    out
}

/// A CONNECT to `host`, then a GET through the tunnel.
async fn fetch(setup: &Setup, host: &str) -> String {
    let port = setup.port;
    let request = format!(
        "CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\nGET /crate HTTP/1.1\r\nHost: {host}\r\n\r\n"
    );
    exchange(&setup.socket, request.as_bytes()).await
}

#[tokio::test]
async fn an_allowed_host_is_reached_through_a_tunnel_and_a_plain_request() {
    let setup = setup(&["registry.test:PORT"], &[], None).await;
    let answer = fetch(&setup, "registry.test").await;
    assert!(
        answer.starts_with("HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK"),
        "{answer}"
    );
    assert!(answer.ends_with("GET /crate HTTP/1.1"), "{answer}");
    // A plain request goes to the server in origin form.
    let plain = format!(
        "GET http://registry.test:{}/simple/kelp/ HTTP/1.1\r\nHost: registry.test\r\n\r\n",
        setup.port
    );
    let answer = exchange(&setup.socket, plain.as_bytes()).await;
    assert!(answer.ends_with("GET /simple/kelp/ HTTP/1.1"), "{answer}");
    assert_eq!(
        setup.proxy.contacts().reached,
        BTreeSet::from(["registry.test".to_string()])
    );
}

#[tokio::test]
async fn a_denied_or_unlisted_host_gets_a_403_that_says_why() {
    let setup = setup(&["*.test"], &["registry.test"], None).await;
    let answer = fetch(&setup, "registry.test").await;
    assert!(answer.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{answer}");
    assert!(
        answer.ends_with("kelp's sandbox: registry.test is on denied_domains (`registry.test`)\n"),
        "{answer}"
    );
    // Not on the web's ports, the rule names the port.
    let answer = fetch(&setup, "example.org").await;
    assert!(
        answer.contains(&format!(
            "example.org:{} is not on allowed_domains\n",
            setup.port
        )),
        "{answer}"
    );
    let contacts = setup.proxy.contacts();
    assert!(contacts.reached.is_empty());
    assert_eq!(
        contacts.refused.keys().collect::<Vec<_>>(),
        ["example.org", "registry.test"]
    );
}

#[tokio::test]
async fn a_name_that_leads_home_is_refused_after_it_is_resolved() {
    // Allowed by a wildcard, but it resolves to loopback: refused, as an address is.
    let setup = setup(&["*.test:PORT", "127.0.0.1"], &[], None).await;
    let answer = fetch(&setup, "home.test").await;
    assert!(
        answer
            .contains("home.test resolves to 127.0.0.1, an address on this machine or its network"),
        "{answer}"
    );
    let answer = fetch(&setup, "127.0.0.1").await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
}

#[tokio::test]
async fn a_first_contact_is_asked_once_a_command_and_the_answer_kept() {
    let refusing = setup(&[], &[], Some(Answer::Refused(Some("not today".into())))).await;
    let (a, b) = tokio::join!(fetch(&refusing, "home.test"), fetch(&refusing, "home.test"));
    for answer in [a, b] {
        assert!(
            answer.contains(&format!(
                "home.test:{} is not on allowed_domains, and the person did not allow it: not today",
                refusing.port
            )),
            "{answer}"
        );
    }
    // Asked once, with the host, its port and how the command asked for it.
    assert_eq!(
        *refusing.asked.lock().unwrap(),
        [FirstContact {
            host: "home.test".into(),
            port: refusing.port,
            via: Via::Https,
        }]
    );
    let refusals = refusing.scope.refusals();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert!(refusals[0].by_person, "{refusals:?}");

    // Allowed: reached, but still not at home (no entry names its port).
    let allowing = setup(&[], &[], Some(Answer::Allowed)).await;
    let answer = fetch(&allowing, "other.test").await;
    assert!(answer.contains("resolves to 127.0.0.1"), "{answer}");
    let plain = format!(
        "GET http://other.test:{}/ HTTP/1.1\r\nHost: other.test\r\n\r\n",
        allowing.port
    );
    exchange(&allowing.socket, plain.as_bytes()).await;
    assert_eq!(allowing.asked.lock().unwrap().len(), 1);
    assert!(
        allowing.scope.refusals().iter().all(|r| !r.by_person),
        "the home refusal is the proxy's own"
    );

    // Nobody to ask: refused in the words of the lists, and not the person's no.
    let unasked = setup(&[], &[], Some(Answer::Unasked(None))).await;
    let answer = fetch(&unasked, "other.test").await;
    assert!(
        answer.ends_with(&format!(
            "kelp's sandbox: other.test:{} is not on allowed_domains\n",
            unasked.port
        )),
        "{answer}"
    );
    assert!(!unasked.scope.refusals()[0].by_person);

    // A SOCKS5 contact says so.
    let socks = setup(&[], &[], Some(Answer::Refused(None))).await;
    let mut bytes = vec![5, 1, 0, 5, 1, 0, 3, 10];
    bytes.extend_from_slice(b"other.test");
    bytes.extend_from_slice(&443u16.to_be_bytes());
    let reply = exchange_bytes(&socks.socket, &bytes).await;
    assert_eq!(reply, [5, 0, 5, 2, 0, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(socks.asked.lock().unwrap()[0].via, Via::Socks5);
}

/// A command's question about one host holds up its connections there and no other: a host
/// answered while it waits is reached at once.
#[tokio::test]
async fn a_question_about_one_host_holds_up_no_other() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let slow = Arc::new(tokio::sync::Mutex::new(Some(rx)));
    let ask: Ask = Arc::new(move |contact: FirstContact| -> Pending<Answer> {
        let slow = Arc::clone(&slow);
        Box::pin(async move {
            if contact.host == "slow.test" {
                let waiting = slow.lock().await.take();
                if let Some(rx) = waiting {
                    let _ = rx.await;
                }
            }
            Answer::Unasked(Some("a test says so".into()))
        })
    });
    let (rules, _) = DomainRules::new(&[], &[]);
    let proxy = Proxy::new(rules, Arc::new(SystemResolver));
    let scope = CommandScope::new(Some(ask));
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("proxy.sock");
    tokio::spawn(
        Arc::clone(&proxy).serve(UnixListener::bind(&socket).unwrap(), Arc::clone(&scope)),
    );
    let waiting = tokio::spawn({
        let socket = socket.clone();
        async move { exchange(&socket, b"CONNECT slow.test:443 HTTP/1.1\r\n\r\n").await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let other = tokio::time::timeout(
        Duration::from_secs(2),
        exchange(&socket, b"CONNECT quick.test:443 HTTP/1.1\r\n\r\n"),
    )
    .await
    .expect("answered while the other question waits");
    assert!(
        other.ends_with("quick.test is not on allowed_domains (a test says so)\n"),
        "{other}"
    );
    assert!(!waiting.is_finished());
    tx.send(()).unwrap();
    let slow = waiting.await.unwrap();
    assert!(
        slow.contains("slow.test is not on allowed_domains"),
        "{slow}"
    );
}

/// A plain request goes to the host it names with that host as its `Host` and `Connection:
/// close`, and its answer comes back saying `Connection: close` whatever the server says;
/// nothing after it of the client's is carried: a second request on the connection, which may
/// name another host, closes it instead of reaching the server.
#[tokio::test]
async fn a_plain_request_carries_one_request_a_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (rules, _) = DomainRules::new(&[format!("127.0.0.1:{port}")], &[]);
    let proxy = Proxy::new(rules, Arc::new(SystemResolver));
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    let carried = tokio::spawn(async move { proxy.carry(server, &CommandScope::default()).await });
    client
        .write_all(
            format!(
                "POST http://127.0.0.1:{port}/a HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
                 Proxy-Connection: keep-alive\r\nContent-Length: 4\r\n\r\nbody"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let (mut stream, _) = listener.accept().await.unwrap();
    let expected = format!(
        "POST /a HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody"
    );
    let mut got = vec![0u8; expected.len()];
    stream.read_exact(&mut got).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&got), expected);
    // A server that would keep the connection open.
    stream
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nok")
        .await
        .unwrap();
    let mut answer = vec![0u8; 256];
    let n = client.read(&mut answer).await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&answer[..n]),
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    );
    // The client speaks again on the connection: closed, and the server hears none of it.
    client
        .write_all(b"GET /leak HTTP/1.1\r\nHost: attacker.example\r\n\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut rest))
        .await
        .expect("closed")
        .unwrap();
    assert!(rest.is_empty());
    carried.await.unwrap().unwrap();
    let mut heard = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut heard))
        .await
        .expect("the server's side is closed too")
        .unwrap();
    assert!(heard.is_empty(), "{}", String::from_utf8_lossy(&heard));
}

/// A plain request whose `Host` names another server than its URL is refused in words: a
/// server behind a CDN goes by the Host, so the URL's allowed host would be a door to any
/// site on the same CDN.
#[tokio::test]
async fn a_host_header_that_is_not_the_urls_host_is_refused() {
    let setup = setup(&["registry.test:PORT"], &[], None).await;
    let smuggled = format!(
        "GET http://registry.test:{}/leak?d=SECRET HTTP/1.1\r\nHost: attacker.example\r\n\r\n",
        setup.port
    );
    let answer = exchange(&setup.socket, smuggled.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 403 Forbidden"), "{answer}");
    assert!(
        answer.contains(&format!(
            "the request's Host header names attacker.example, not registry.test:{}",
            setup.port
        )),
        "{answer}"
    );
    // The twin: the honest Host is carried.
    let honest = smuggled.replace("attacker.example", &format!("registry.test:{}", setup.port));
    let answer = exchange(&setup.socket, honest.as_bytes()).await;
    assert!(answer.ends_with("GET /leak?d=SECRET HTTP/1.1"), "{answer}");
    assert!(setup.scope.refusals()[0].why.contains("Host header"));
}

#[tokio::test]
async fn socks5_carries_an_allowed_host_and_refuses_by_its_ruleset() {
    let setup = setup(&["registry.test:PORT"], &["other.test"], None).await;
    let socks = |host: &str| {
        let mut bytes = vec![5, 1, 0, 5, 1, 0, 3, host.len() as u8];
        bytes.extend_from_slice(host.as_bytes());
        bytes.extend_from_slice(&setup.port.to_be_bytes());
        bytes
    };
    let mut allowed = socks("registry.test");
    allowed.extend_from_slice(b"GET /x HTTP/1.1\r\nHost: registry.test\r\n\r\n");
    let answer = exchange(&setup.socket, &allowed).await;
    let bytes = answer.as_bytes();
    assert_eq!(&bytes[..12], &[5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    assert!(answer.ends_with("GET /x HTTP/1.1"), "{answer}");

    let mut stream = UnixStream::connect(&setup.socket).await.unwrap();
    stream.write_all(&socks("other.test")).await.unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.unwrap();
    assert_eq!(reply, [5, 0, 5, 2, 0, 1, 0, 0, 0, 0, 0, 0]);
}

#[tokio::test]
async fn bytes_no_client_sends_are_answered_and_closed() {
    let setup = setup(&["*.test"], &[], None).await;
    let answer = exchange(
        &setup.socket,
        b"GET https://registry.test/ HTTP/1.1\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400 Bad Request"), "{answer}");
    // SOCKS5 with only a password method offered: no method the proxy serves.
    let answer = exchange_bytes(&setup.socket, &[5, 1, 2]).await;
    assert_eq!(answer, [5, 0xff]);
    assert!(setup.proxy.contacts().reached.is_empty());
}

#[tokio::test]
async fn a_command_has_at_most_so_many_connections_carried_at_once() {
    let setup = setup(&[], &[], None).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(Arc::clone(&setup.proxy).serve_tcp(listener, CommandScope::new(None)));
    // As many as it carries, each saying nothing yet.
    let mut open = Vec::new();
    for _ in 0..MAX_CONNECTIONS {
        open.push(TcpStream::connect(address).await.unwrap());
    }
    let mut next = TcpStream::connect(address).await.unwrap();
    next.write_all(b"CONNECT example.org:443 HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 12];
    let waited =
        tokio::time::timeout(Duration::from_millis(300), next.read_exact(&mut answer)).await;
    assert!(waited.is_err(), "answered past the limit");
    // One ends: the next is carried (here, refused in words).
    drop(open.pop());
    tokio::time::timeout(Duration::from_secs(5), next.read_exact(&mut answer))
        .await
        .expect("answered once one ended")
        .unwrap();
    assert_eq!(&answer, b"HTTP/1.1 403");
}

/// A tunnel to an allowed host whose TLS ClientHello names another server is refused: a CDN
/// routes by the name, so an allowed name's address would be a door to any site on it. The
/// client gets TLS's access-denied alert, the command's scope the reason; the honest hello
/// (the twin) reaches the server. A tunnel to the web's ports that carries no TLS is refused
/// too; to another port allowed by name and port it is carried.
#[tokio::test]
async fn a_tunnel_whose_hello_names_another_server_is_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let heard = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let keep = Arc::clone(&heard);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let keep = Arc::clone(&keep);
            tokio::spawn(async move {
                let mut first = vec![0u8; 8192];
                let n = stream.read(&mut first).await.unwrap_or(0);
                keep.lock().unwrap().push(first[..n].to_vec());
            });
        }
    });
    let (rules, _) = DomainRules::new(&[format!("registry.test:{port}")], &[]);
    let loopback: IpAddr = "127.0.0.1".parse().unwrap();
    let resolver = MapResolver(HashMap::from([(
        "registry.test".to_string(),
        vec![loopback],
    )]));
    let proxy = Proxy::new(rules, Arc::new(resolver));
    let tunnel = |hello: Vec<u8>| {
        let proxy = Arc::clone(&proxy);
        async move {
            let scope = CommandScope::new(None);
            let (mut client, server) = tokio::io::duplex(64 * 1024);
            let carried = {
                let scope = Arc::clone(&scope);
                tokio::spawn(async move { proxy.carry(server, &scope).await })
            };
            let mut opening = format!("CONNECT registry.test:{port} HTTP/1.1\r\n\r\n").into_bytes();
            opening.extend_from_slice(&hello);
            client.write_all(&opening).await.unwrap();
            // A refused tunnel ends; a carried one waits on its server, and is let go.
            let mut answer = Vec::new();
            let _ =
                tokio::time::timeout(Duration::from_millis(500), client.read_to_end(&mut answer))
                    .await;
            drop(client);
            carried.abort();
            (answer, scope.refusals())
        }
    };
    let (answer, refusals) = tunnel(request::tests::client_hello("attacker.example")).await;
    let mut refused = b"HTTP/1.1 200 Connection established\r\n\r\n".to_vec();
    refused.extend_from_slice(&TLS_ACCESS_DENIED);
    assert_eq!(answer, refused, "TLS's own alert: access denied");
    assert!(
        refusals.iter().any(|r| r.why.contains(&format!(
            "a tunnel to registry.test:{port} asked TLS for attacker.example, another server"
        ))),
        "{refusals:?}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        heard.lock().unwrap().iter().all(|bytes| bytes.is_empty()),
        "the server heard nothing of it"
    );
    assert!(proxy.contacts().refused.contains_key("registry.test"));

    let (_, refusals) = tunnel(request::tests::client_hello("registry.test")).await;
    assert!(refusals.is_empty(), "{refusals:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        heard
            .lock()
            .unwrap()
            .iter()
            .any(|bytes| bytes.first() == Some(&0x16)),
        "the honest hello reached the server"
    );
    // Another port, allowed by name and port: SSH is carried as it is, and so is a client that
    // waits for the server to speak first (SMTP, a database).
    let (_, refusals) = tunnel(b"SSH-2.0-OpenSSH_9.6\r\n".to_vec()).await;
    assert!(refusals.is_empty(), "{refusals:?}");
    let (answer, refusals) = tunnel(Vec::new()).await;
    assert!(refusals.is_empty(), "{refusals:?}");
    assert_eq!(answer, b"HTTP/1.1 200 Connection established\r\n\r\n");
}

/// Plain http through a tunnel to port 80 (as undici's proxy agent sends it) is carried as a
/// plain request is: to the tunnel's host alone, one request, and a `Host` naming another
/// server refused with the reason.
#[tokio::test]
async fn plain_http_through_a_tunnel_to_port_80_is_judged_as_a_plain_request() {
    // A server on port 80 of another loopback address; where the test may not bind one, there
    // is nothing to try.
    let Ok(listener) = TcpListener::bind("127.0.0.2:80").await else {
        eprintln!("SKIPPED: port 80 of 127.0.0.2 cannot be bound here");
        return;
    };
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = vec![0u8; 4096];
                let n = stream.read(&mut head).await.unwrap_or(0);
                let line = String::from_utf8_lossy(&head[..n])
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{line}",
                    line.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    let (rules, _) = DomainRules::new(&["registry.test:80".to_string()], &[]);
    let resolver = MapResolver(HashMap::from([(
        "registry.test".to_string(),
        vec!["127.0.0.2".parse().unwrap()],
    )]));
    let proxy = Proxy::new(rules, Arc::new(resolver));
    let through = |request: &'static str| {
        let proxy = Arc::clone(&proxy);
        async move {
            let scope = CommandScope::new(None);
            let (mut client, server) = tokio::io::duplex(64 * 1024);
            let carried = {
                let scope = Arc::clone(&scope);
                tokio::spawn(async move { proxy.carry(server, &scope).await })
            };
            let mut bytes = b"CONNECT registry.test:80 HTTP/1.1\r\n\r\n".to_vec();
            bytes.extend_from_slice(request.as_bytes());
            client.write_all(&bytes).await.unwrap();
            let mut answer = Vec::new();
            tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut answer))
                .await
                .expect("the answer ends")
                .unwrap();
            carried.await.unwrap().unwrap();
            String::from_utf8_lossy(&answer).into_owned()
        }
    };
    let honest = through("GET /pkg HTTP/1.1\r\nHost: registry.test\r\n\r\n").await;
    assert!(
        honest.ends_with("Connection: close\r\n\r\nGET /pkg HTTP/1.1"),
        "{honest}"
    );
    let fronted = through("GET /leak HTTP/1.1\r\nHost: attacker.example\r\n\r\n").await;
    assert!(
        fronted.contains("403 Forbidden")
            && fronted.contains("the request's Host header names attacker.example"),
        "{fronted}"
    );
}
