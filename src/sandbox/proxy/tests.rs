//! The proxy over real sockets: a registry on loopback, names resolved through a test's map,
//! the command's side a Unix socket as in the sandbox.

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
    let answer = fetch(&setup, "example.org").await;
    assert!(
        answer.contains("example.org is not on allowed_domains\n"),
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
    let setup = setup(&["*.test", "127.0.0.1"], &[], None).await;
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
            answer.contains(
                "home.test is not on allowed_domains, and the person did not allow it: not today"
            ),
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
        answer.ends_with("kelp's sandbox: other.test is not on allowed_domains\n"),
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

/// A plain request goes to the host it names with `Connection: close`: the client's next
/// request, which may name another host, comes on a new connection, judged anew.
#[tokio::test]
async fn a_plain_request_carries_one_request_a_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (rules, _) = DomainRules::new(&[format!("127.0.0.1:{port}")], &[]);
    let proxy = Proxy::new(rules, Arc::new(SystemResolver));
    let (client, server) = tokio::io::duplex(64 * 1024);
    let carried = tokio::spawn(async move { proxy.carry(server, &CommandScope::default()).await });
    let mut client = client;
    client
        .write_all(
            format!(
                "GET http://127.0.0.1:{port}/a HTTP/1.1\r\nHost: x\r\nProxy-Connection: keep-alive\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let (mut stream, _) = listener.accept().await.unwrap();
    let mut head = vec![0u8; 256];
    let n = stream.read(&mut head).await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&head[..n]),
        "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    drop((stream, client));
    carried.await.unwrap().ok();
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
