//! The kernel sandbox around `shell`: real commands under Landlock. A sandboxed command reads
//! everywhere but writes only inside the project (and the temp dirs), opens no TCP connection
//! unless the network is allowed, and ordinary work inside the project still runs.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use kelp::protocol::SandboxMode;
use kelp::sandbox;
use kelp::tools::{
    OutputSink, SandboxPolicy, ToolCall, ToolContext, ToolDetail, ToolOutput, execute,
};
use serde_json::json;

use crate::agent_loop::output_for;
use crate::fake_openai::Reply;
use tokio_util::sync::CancellationToken;

/// A project and an outside folder, neither under a temp dir (those are writable).
fn dirs() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = crate::support::dir_outside_the_sandbox().expect("a folder outside the sandbox");
    let project = dir.path().join("project");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    (dir, project, outside)
}

fn landlock() -> bool {
    match &sandbox::support().landlock {
        Ok(_) => true,
        Err(reason) => {
            eprintln!("no Landlock on this kernel ({reason}); nothing to test");
            false
        }
    }
}

async fn sh(
    project: &Path,
    mode: SandboxMode,
    network: bool,
    command: serde_json::Value,
) -> ToolOutput {
    let ctx = ToolContext {
        shell: "/bin/sh".into(),
        ..ToolContext::new(project)
    }
    .with_sandbox(SandboxPolicy::new(mode, network));
    let call = ToolCall::parse("shell", &json!({ "command": command }).to_string()).unwrap();
    execute(
        &call,
        &ctx,
        &OutputSink::none(),
        CancellationToken::new(),
        &[],
    )
    .await
}

fn block(out: &ToolOutput) -> Option<String> {
    match &out.detail {
        ToolDetail::Shell(outcome) => outcome.sandbox_block.clone(),
        _ => None,
    }
}

#[tokio::test]
async fn a_sandboxed_command_cannot_write_outside_the_project() {
    if !landlock() {
        return;
    }
    let (_dir, project, outside) = dirs();
    let target = outside.join("planted.txt");
    let out = sh(
        &project,
        SandboxMode::WorkspaceWrite,
        false,
        json!(format!(
            "echo inside > ok.txt && echo x > {}",
            target.display()
        )),
    )
    .await;
    assert!(!out.success, "{}", out.text);
    assert!(!target.exists(), "the outside file was written");
    assert_eq!(
        std::fs::read_to_string(project.join("ok.txt")).unwrap(),
        "inside\n"
    );
    assert_eq!(
        block(&out).as_deref(),
        Some(
            "the output mentions a refused write to a place outside the sandbox's writable ones, \
             and kelp cannot tell whether the sandbox caused it (workspace-write: commands write \
             only inside the project, the temp dirs and kelp's cache, and use no network; \
             `--sandbox off` runs commands without the sandbox)"
        )
    );
    assert!(
        out.text
            .contains("Note: the output mentions a refused write"),
        "{}",
        out.text
    );

    // Without the sandbox the same command writes: the check above can fail.
    let out = sh(
        &project,
        SandboxMode::Off,
        false,
        json!(format!("echo x > {}", target.display())),
    )
    .await;
    assert!(out.success && target.exists(), "{}", out.text);
}

#[tokio::test]
async fn read_only_writes_nowhere_and_reads_everywhere() {
    if !landlock() {
        return;
    }
    let (_dir, project, outside) = dirs();
    std::fs::write(outside.join("readable.txt"), "seen\n").unwrap();
    let out = sh(
        &project,
        SandboxMode::ReadOnly,
        false,
        json!(format!(
            "cat {} && touch made.txt",
            outside.join("readable.txt").display()
        )),
    )
    .await;
    assert!(out.text.contains("seen"), "{}", out.text);
    assert!(
        !out.success && !project.join("made.txt").exists(),
        "{}",
        out.text
    );
    assert!(
        block(&out).is_some_and(|b| b.contains("a refused write") && b.contains("read-only")),
        "{:?}",
        block(&out)
    );
}

/// A shell's own redirection names the file after its program's name and a line number; the
/// note names the file, inside the project, and the rule of the mode that refused it.
#[tokio::test]
async fn a_refused_redirection_is_named_with_the_rule_in_force() {
    if !landlock() {
        return;
    }
    let (_dir, project, _outside) = dirs();
    let out = sh(
        &project,
        SandboxMode::ReadOnly,
        false,
        json!(["bash", "-c", "echo hi > made.txt"]),
    )
    .await;
    assert!(!out.success && !project.join("made.txt").exists());
    assert_eq!(
        block(&out).as_deref(),
        Some(
            "the output mentions a refused write to a place outside the sandbox's writable ones, \
             and kelp cannot tell whether the sandbox caused it (read-only: commands write \
             nowhere, and use no network; `--sandbox workspace-write` lets commands write in \
             the project)"
        ),
        "{}",
        out.text
    );
    assert!(!out.text.contains("outside the project"), "{}", out.text);
}

#[tokio::test]
async fn a_sandboxed_command_cannot_connect_to_a_loopback_port_unless_network_is_on() {
    if !landlock() || !matches!(sandbox::support().landlock, Ok(abi) if abi >= 4) {
        return;
    }
    let (_dir, project, _outside) = dirs();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let connect = json!(["bash", "-c", format!("exec 3<>/dev/tcp/127.0.0.1/{port}")]);

    let out = sh(
        &project,
        SandboxMode::WorkspaceWrite,
        false,
        connect.clone(),
    )
    .await;
    assert!(!out.success, "{}", out.text);
    assert!(listener.accept().is_err(), "a connection got through");
    assert_eq!(
        block(&out).as_deref(),
        Some(
            "the output mentions a refused network connection, and kelp cannot tell whether \
             the sandbox caused it (workspace-write: commands write only inside the project, \
             the temp dirs and kelp's cache, and use no network; `--network on`, or \
             `network = \"on\"` in config.toml, lets commands use it)"
        )
    );

    let out = sh(&project, SandboxMode::WorkspaceWrite, true, connect).await;
    assert!(out.success, "{}", out.text);
    assert!(
        listener.accept().is_ok(),
        "with network on, the connection arrives"
    );
}

#[tokio::test]
async fn ordinary_work_inside_the_project_still_runs() {
    if !landlock() {
        return;
    }
    let (_dir, project, _outside) = dirs();
    for command in [
        "cargo --version",
        "git init -q && git status --short && git add -A && git -c user.email=k@e -c user.name=k commit -qm init --allow-empty",
        "mkdir -p target/debug && echo built > target/debug/out && cat target/debug/out",
        "echo scratch > \"${TMPDIR:-/tmp}/kelp-sandbox-test-$$\" && rm \"${TMPDIR:-/tmp}/kelp-sandbox-test-$$\"",
        "ls / > /dev/null && echo ok",
    ] {
        let out = sh(&project, SandboxMode::WorkspaceWrite, false, json!(command)).await;
        assert!(out.success, "{command}: {}", out.text);
        assert_eq!(block(&out), None);
    }
    assert!(project.join(".git").is_dir());
    assert!(project.join("target/debug/out").is_file());
}

/// A script that only prints a refusal it never met (an attacker's bait for "run it again
/// without the sandbox?") gets no path named and no claim that the sandbox did it.
#[tokio::test]
async fn a_refusal_a_command_only_prints_names_no_path() {
    if !landlock() {
        return;
    }
    let (_dir, project, outside) = dirs();
    let bait = outside.join(".npm");
    let out = sh(
        &project,
        SandboxMode::WorkspaceWrite,
        false,
        json!(format!(
            "echo \"npm ERR! EACCES: permission denied, mkdir '{}'\" >&2; exit 1",
            bait.display()
        )),
    )
    .await;
    let note = block(&out).expect("the output mentions a refusal");
    assert!(!note.contains(&*outside.to_string_lossy()), "{note}");
    assert!(!note.contains("blocked by the sandbox"), "{note}");
    assert!(
        note.contains("kelp cannot tell whether the sandbox caused it")
            && note.contains("`--sandbox off` runs commands without the sandbox"),
        "{note}"
    );

    // Each kind of refusal names the setting that allows it.
    let network = sh(
        &project,
        SandboxMode::WorkspaceWrite,
        false,
        json!("echo 'connect: Permission denied' >&2; exit 1"),
    )
    .await;
    let note = block(&network).expect("a refused connection");
    assert!(note.contains("`--network on`"), "{note}");
    let read_only = sh(
        &project,
        SandboxMode::ReadOnly,
        false,
        json!("echo hi > notes.txt"),
    )
    .await;
    let note = block(&read_only).expect("a refused write");
    assert!(note.contains("`--sandbox workspace-write`"), "{note}");
}

/// A write to what runs later, which the sandbox keeps read-only, is said as such: the note
/// names the kind of path, and that a patch may change it once approved.
#[tokio::test]
async fn a_refused_write_to_what_runs_later_says_why() {
    if !landlock() || sandbox::support().namespaces.is_err() {
        return;
    }
    let (_dir, project, _outside) = dirs();
    std::fs::create_dir_all(project.join(".git/hooks")).unwrap();
    let out = sh(
        &project,
        SandboxMode::WorkspaceWrite,
        false,
        json!("echo 'touch pwned' > .git/hooks/pre-commit"),
    )
    .await;
    assert!(!project.join(".git/hooks/pre-commit").exists());
    let note = block(&out).expect("the refusal is explained");
    assert!(
        note.contains("what runs later") && note.contains("a patch may, once you approve it"),
        "{note}"
    );
}

/// `kelp sandbox check` says which layers this machine gives and why any is missing, what a
/// command here may not change, and runs one in the sandbox: exit 0 only when all is on.
#[test]
fn sandbox_check_names_the_layers_and_runs_a_command_in_them() {
    let (_dir, project, _outside) = dirs();
    std::fs::create_dir_all(project.join(".git/hooks")).unwrap();
    std::fs::write(project.join(".git/config"), "[core]\n").unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = crate::support::kelp(home.path())
        .args(["sandbox", "check", "--cd"])
        .arg(&project)
        .output()
        .unwrap();
    let text = crate::support::shown(&out);
    let support = sandbox::support();
    assert!(text.contains("  namespaces  "), "{text}");
    assert!(text.contains("  Landlock    "), "{text}");
    if support.namespaces.is_ok() && support.landlock.is_ok() {
        assert!(out.status.success(), "{text}");
        assert!(
            text.contains("  read-only   .git/config, .git/hooks"),
            "{text}"
        );
        assert!(text.contains("  a command   ran in it in "), "{text}");
    } else {
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(text.contains("missing: "), "{text}");
    }
}

/// With `network = "domains"`, `kelp sandbox check` lists the domains commands may reach and
/// the hosts the person allowed for this project when a command asked.
#[test]
fn sandbox_check_lists_the_domains_and_the_hosts_kept_for_the_project() {
    if sandbox::support().namespaces.is_err() {
        return;
    }
    let (_dir, project, _outside) = dirs();
    let home = tempfile::tempdir().unwrap();
    let config_dir = home.path().join(".config/kelp");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("config.toml"),
        "allowed_domains = [\"crates.io\", \"*.crates.io\"]\ndenied_domains = []\n",
    )
    .unwrap();
    let project = std::fs::canonicalize(&project).unwrap();
    std::fs::write(
        config_dir.join("rules.toml"),
        format!(
            "[[allow]]\nproject = {0:?}\nhost = \"mirror.example\"\n\n[[allow]]\nproject = \"/elsewhere\"\nhost = \"other.example\"\n\n[[refuse]]\nproject = {0:?}\nhost = \"tracker.example\"\n",
            project.display().to_string()
        ),
    )
    .unwrap();
    let out = crate::support::kelp(home.path())
        .env("KELP_NETWORK", "domains")
        .args(["sandbox", "check", "--cd"])
        .arg(&project)
        .output()
        .unwrap();
    let text = crate::support::shown(&out);
    assert!(
        text.contains("  domains     allowed: crates.io, *.crates.io\n              denied: none\n              allowed here when a command asked: mirror.example\n              refused here when a command asked: tracker.example\n"),
        "{text}"
    );
}

/// kelp's proxy for `network = "domains"` with these lists (resolving names as the system
/// does), and a context whose commands reach the network only through it.
fn through_proxy(
    project: &Path,
    allowed: &[String],
    denied: &[String],
) -> (std::sync::Arc<sandbox::proxy::Proxy>, ToolContext) {
    let (rules, problems) = sandbox::proxy::rules::DomainRules::new(allowed, denied);
    assert!(problems.is_empty(), "{problems:?}");
    let proxy =
        sandbox::proxy::Proxy::new(rules, std::sync::Arc::new(sandbox::proxy::SystemResolver));
    let ctx = ToolContext {
        shell: "/bin/sh".into(),
        ..ToolContext::new(project)
    }
    .with_sandbox(SandboxPolicy {
        domains: Some(sandbox::Domains::new(std::sync::Arc::clone(&proxy))),
        ..SandboxPolicy::new(SandboxMode::WorkspaceWrite, false)
    });
    (proxy, ctx)
}

/// `script` run by bash as the model's command, in `ctx`, given `timeout_ms`.
async fn bash_in(ctx: &ToolContext, script: &str, timeout_ms: u64) -> ToolOutput {
    let call = ToolCall::parse(
        "shell",
        &json!({ "command": ["bash", "-c", script], "timeout_ms": timeout_ms }).to_string(),
    )
    .unwrap();
    execute(
        &call,
        ctx,
        &OutputSink::none(),
        CancellationToken::new(),
        &[],
    )
    .await
}

/// A registry on the host's loopback answering every request with its request line, for
/// `count` connections.
fn registry(count: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{BufRead, Write};
        for stream in listener.incoming().take(count).flatten() {
            let mut reader = std::io::BufReader::new(stream);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let mut rest = String::new();
            while reader.read_line(&mut rest).is_ok_and(|n| n > 2) {
                rest.clear();
            }
            let body = line.trim_end().to_string();
            let _ = write!(
                reader.get_mut(),
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// With `network = "domains"` a command reaches the hosts the lists allow through kelp's proxy
/// (the tools finding it in their usual variables) and nothing else: a denied host gets the
/// reason (and the model is told it when the command fails), a name that resolves to the
/// machine is refused unless an entry names its port, and a connection that skips the proxy
/// goes nowhere. Each has its twin with the network fully on, where all of them arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_some_domains_a_command_reaches_only_those_through_the_proxy() {
    if !landlock()
        || !matches!(sandbox::support().landlock, Ok(abi) if abi >= 4)
        || sandbox::support().namespaces.is_err()
        || !Path::new("/usr/bin/curl").exists()
    {
        return;
    }
    let (_dir, project, _outside) = dirs();
    let port = registry(8);
    let elsewhere = TcpListener::bind("127.0.0.1:0").unwrap();
    elsewhere.set_nonblocking(true).unwrap();
    let other = elsewhere.local_addr().unwrap().port();
    // `*.localhost` is loopback to curl itself, so the twins with the network fully on reach
    // the registry under the denied name too.
    let (proxy, ctx) = through_proxy(
        &project,
        &["localhost".into(), format!("localhost:{port}")],
        &["blocked.localhost".into()],
    );
    let run = |script: String| {
        let ctx = &ctx;
        async move { bash_in(ctx, &script, 10_000).await }
    };
    let allowed = run(format!("curl -s http://localhost:{port}/crate")).await;
    assert!(allowed.success, "{}", allowed.text);
    assert!(
        allowed.text.contains("GET /crate HTTP/1.1"),
        "{}",
        allowed.text
    );

    // A tunnel (https) is refused with the reason in its 403, which curl reports as a failure;
    // a plain request gets the reason as the answer's body.
    let denied = run(format!("curl -s https://blocked.localhost:{port}/")).await;
    assert!(!denied.success, "{}", denied.text);
    assert!(
        denied.text.contains(
            "Note: kelp's proxy refused it: blocked.localhost is on denied_domains (`blocked.localhost`)"
        ),
        "the model is told why: {}",
        denied.text
    );
    let denied = run(format!("curl -s http://blocked.localhost:{port}/denied")).await;
    assert!(
        denied
            .text
            .contains("kelp's sandbox: blocked.localhost is on denied_domains"),
        "{}",
        denied.text
    );

    // `localhost` without a port is allowed on the web's ports only; the port kept is another.
    let home = run(format!("curl -s http://localhost:{other}/")).await;
    assert!(
        home.text
            .contains(&format!("localhost:{other} is not on allowed_domains")),
        "{}",
        home.text
    );
    let skipped = run(format!("exec 3<>/dev/tcp/127.0.0.1/{port}")).await;
    assert!(!skipped.success, "{}", skipped.text);
    assert!(elsewhere.accept().is_err(), "a connection got through");
    let contacts = proxy.contacts();
    assert!(contacts.reached.contains("localhost"), "{contacts:?}");
    assert!(
        contacts.refused.contains_key("blocked.localhost"),
        "{contacts:?}"
    );

    // The twins with the network fully on: the allowed fetch, the denied name and the name
    // that leads home all arrive, and so does the connection that skips the proxy.
    let on = |script: String| {
        let project = &project;
        async move {
            sh(
                project,
                SandboxMode::WorkspaceWrite,
                true,
                json!(["bash", "-c", script]),
            )
            .await
        }
    };
    let allowed = on(format!("curl -s http://localhost:{port}/crate")).await;
    assert!(
        allowed.text.contains("GET /crate HTTP/1.1"),
        "{}",
        allowed.text
    );
    let denied = on(format!("curl -s http://blocked.localhost:{port}/denied")).await;
    assert!(
        denied.text.contains("GET /denied HTTP/1.1"),
        "{}",
        denied.text
    );
    on(format!("curl -s -m 1 http://localhost:{other}/")).await;
    assert!(
        elsewhere.accept().is_ok(),
        "the name that leads home arrives"
    );
    let open = sh(
        &project,
        SandboxMode::WorkspaceWrite,
        true,
        json!(["bash", "-c", format!("exec 3<>/dev/tcp/127.0.0.1/{other}")]),
    )
    .await;
    assert!(open.success, "{}", open.text);
    assert!(
        elsewhere.accept().is_ok(),
        "with the network on, it arrives"
    );
}

/// Serves `files` by exact path on `listener`, every request of every connection (404 for the
/// rest), for as long as the test runs.
fn serve_files(listener: TcpListener, files: std::collections::HashMap<String, Vec<u8>>) {
    let files = std::sync::Arc::new(files);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let files = std::sync::Arc::clone(&files);
            std::thread::spawn(move || {
                use std::io::{BufRead, Write};
                let mut reader = std::io::BufReader::new(stream);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut header = String::new();
                    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                        header.clear();
                    }
                    // A request in absolute form (`GET http://host/path`, as a proxy passes
                    // on a connection's later requests) names the same path, as HTTP/1.1 says.
                    let target = line.split(' ').nth(1).unwrap_or_default();
                    let path = target
                        .strip_prefix("http://")
                        .and_then(|rest| rest.find('/').map(|at| &rest[at..]))
                        .unwrap_or(target);
                    let (status, body) = match files.get(path) {
                        Some(body) => ("200 OK", body.as_slice()),
                        None => ("404 Not Found", &[][..]),
                    };
                    let head = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    );
                    let stream = reader.get_mut();
                    if stream.write_all(head.as_bytes()).is_err() || stream.write_all(body).is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
}

/// An npm registry on loopback with one package, `kelp-demo` (its `index.js` exports 42).
fn npm_registry(dir: &Path) -> u16 {
    let package = dir.join("package");
    std::fs::create_dir_all(&package).unwrap();
    std::fs::write(
        package.join("package.json"),
        r#"{"name":"kelp-demo","version":"1.0.0","main":"index.js"}"#,
    )
    .unwrap();
    std::fs::write(package.join("index.js"), "module.exports = 42;\n").unwrap();
    let tarball = dir.join("kelp-demo-1.0.0.tgz");
    let packed = std::process::Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(dir)
        .arg("package")
        .status()
        .unwrap();
    assert!(packed.success());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let tgz = "/kelp-demo/-/kelp-demo-1.0.0.tgz";
    let metadata = format!(
        r#"{{"name":"kelp-demo","dist-tags":{{"latest":"1.0.0"}},"versions":{{"1.0.0":{{"name":"kelp-demo","version":"1.0.0","main":"index.js","dist":{{"tarball":"http://localhost:{port}{tgz}"}}}}}}}}"#
    );
    serve_files(
        listener,
        std::collections::HashMap::from([
            ("/kelp-demo".to_string(), metadata.into_bytes()),
            (tgz.to_string(), std::fs::read(&tarball).unwrap()),
        ]),
    );
    port
}

/// A sparse cargo registry on loopback with one crate, `kdemo` (`kdemo::answer()` is 42),
/// packaged here by cargo itself.
fn cargo_registry(dir: &Path) -> u16 {
    let source = dir.join("kdemo");
    std::fs::create_dir_all(source.join("src")).unwrap();
    std::fs::write(
        source.join("Cargo.toml"),
        "[package]\nname = \"kdemo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
         description = \"d\"\nlicense = \"MIT\"\n",
    )
    .unwrap();
    std::fs::write(source.join("src/lib.rs"), "pub fn answer() -> u32 { 42 }\n").unwrap();
    let packaged = std::process::Command::new("cargo")
        .args(["package", "--offline", "--no-verify", "--allow-dirty", "-q"])
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .current_dir(&source)
        .status()
        .unwrap();
    assert!(packaged.success());
    let krate = std::fs::read(dir.join("target/package/kdemo-0.1.0.crate")).unwrap();
    let sum = std::process::Command::new("sha256sum")
        .arg(dir.join("target/package/kdemo-0.1.0.crate"))
        .output()
        .unwrap();
    let sum = String::from_utf8_lossy(&sum.stdout);
    let sum = sum.split_whitespace().next().unwrap().to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    serve_files(
        listener,
        std::collections::HashMap::from([
            (
                "/index/config.json".to_string(),
                format!(r#"{{"dl":"http://localhost:{port}/dl/{{crate}}/{{version}}/download"}}"#)
                    .into_bytes(),
            ),
            (
                "/index/kd/em/kdemo".to_string(),
                format!(
                    r#"{{"name":"kdemo","vers":"0.1.0","deps":[],"cksum":"{sum}","features":{{}},"yanked":false}}"#
                )
                .into_bytes(),
            ),
            ("/dl/kdemo/0.1.0/download".to_string(), krate),
        ]),
    );
    port
}

/// `npm install` from a registry on loopback works with the network reaching only that
/// registry: npm finds the proxy in its own variable, and the package installs and runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npm_installs_from_an_allowed_registry_through_the_proxy() {
    let npm = std::process::Command::new("npm").arg("--version").output();
    if !landlock()
        || !matches!(sandbox::support().landlock, Ok(abi) if abi >= 4)
        || sandbox::support().namespaces.is_err()
        || !npm.is_ok_and(|out| out.status.success())
    {
        return;
    }
    let (dir, project, _outside) = dirs();
    let port = npm_registry(&dir.path().join("registry"));
    std::fs::write(
        project.join("package.json"),
        r#"{"name":"app","version":"1.0.0"}"#,
    )
    .unwrap();
    let (proxy, ctx) = through_proxy(&project, &[format!("localhost:{port}")], &[]);
    let install = format!(
        "npm install kelp-demo --registry http://localhost:{port}/ --cache .npm-cache \
         --no-audit --no-fund --no-update-notifier && node -e 'console.log(require(\"kelp-demo\"))'"
    );
    let out = bash_in(&ctx, &install, 120_000).await;
    assert!(out.success, "{}", out.text);
    assert!(out.text.contains("\n42\n"), "{}", out.text);
    assert!(project.join("node_modules/kelp-demo/index.js").is_file());
    assert!(proxy.contacts().reached.contains("localhost"));
}

/// `cargo build` of a crate with a dependency from a registry on loopback works with the
/// network reaching only that registry: cargo finds the proxy in its own variable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cargo_builds_with_a_dependency_from_an_allowed_registry_through_the_proxy() {
    if !landlock()
        || !matches!(sandbox::support().landlock, Ok(abi) if abi >= 4)
        || sandbox::support().namespaces.is_err()
    {
        return;
    }
    let (dir, project, _outside) = dirs();
    let port = cargo_registry(&dir.path().join("registry"));
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::create_dir_all(project.join(".cargo")).unwrap();
    std::fs::write(
        project.join("Cargo.toml"),
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\nkdemo = \"0.1\"\n",
    )
    .unwrap();
    std::fs::write(
        project.join("src/main.rs"),
        "fn main() { println!(\"answer {}\", kdemo::answer()); }\n",
    )
    .unwrap();
    std::fs::write(
        project.join(".cargo/config.toml"),
        format!(
            "[source.crates-io]\nreplace-with = \"local\"\n\n[source.local]\n\
             registry = \"sparse+http://localhost:{port}/index/\"\n"
        ),
    )
    .unwrap();
    let (proxy, ctx) = through_proxy(&project, &[format!("localhost:{port}")], &[]);
    // Its own cargo home and target in the project: the test's are not the command's to fill.
    let build = "CARGO_HOME=$PWD/.cargo-home CARGO_TARGET_DIR=$PWD/target cargo run -q";
    let out = bash_in(&ctx, build, 300_000).await;
    assert!(out.success, "{}", out.text);
    assert!(out.text.contains("answer 42"), "{}", out.text);
    assert!(proxy.contacts().reached.contains("localhost"));
}

/// With `network = "domains"`, a running command's first contact with a host no list names is
/// put to the person, with the host, its port, how it asks and the command: "this session"
/// lets the conversation's next command through unasked, a no (with why) reaches the model and
/// offers no run outside the sandbox, "always here" is kept in `rules.toml` and holds for the
/// project's next conversation, where `never` refuses the rest unasked. An allowed name that
/// leads home is still refused after the yes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_no_list_names_is_put_to_the_person_and_kept_as_they_say() {
    use kelp::protocol::{ApprovalDecision, ApprovalMode, ApprovalSubject, Event, ProjectRule};
    if !landlock()
        || !matches!(sandbox::support().landlock, Ok(abi) if abi >= 4)
        || sandbox::support().namespaces.is_err()
        || !Path::new("/usr/bin/curl").exists()
    {
        return;
    }
    let home_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut a = crate::agent_loop::agent_setup(|config, _| {
        config.approval = ApprovalMode::FullAuto;
        config.sandbox = SandboxMode::WorkspaceWrite;
        config.network = false;
        config.network_domains = true;
        config.allowed_domains = Vec::new();
        config.denied_domains = Vec::new();
    })
    .await;
    let curl = |url: &str| json!({ "command": ["curl", "-sf", url] });
    let home = format!("http://localhost:{home_port}/a");
    a.fake.push_responses([
        Reply::call_with_id("s1", "shell", curl(&home)),
        Reply::call_with_id("s2", "shell", curl(&home)),
        Reply::call_with_id("s3", "shell", curl("https://refused.example/")),
        Reply::call_with_id("s4", "shell", curl("http://kept.example/")),
        Reply::call_with_id(
            "s5",
            "shell",
            json!({ "command": "curl -sf http://one.example/; curl -sf http://two.example/" }),
        ),
        Reply::text("done"),
    ]);
    a.submit("fetch them");

    let (id, call_id, subject) = a.approval().await;
    assert_eq!(call_id, "s1");
    assert_eq!(
        subject,
        ApprovalSubject::Network {
            host: "localhost".into(),
            port: home_port,
            via: kelp::protocol::Via::Http,
            command: format!("curl -sf {home}"),
            workdir: a.dir().to_path_buf(),
        }
    );
    a.approve(id, ApprovalDecision::Always);
    // Every question after, in order: a refusal that is the proxy's own offers a run outside
    // the sandbox (declined here); s2 reaches the host unasked; s3's no offers nothing more.
    let mut asked = Vec::new();
    for _ in 0..6 {
        let (id, call_id, subject) = a.approval().await;
        let decision = match &subject {
            ApprovalSubject::Network { host, .. }
                if host == "refused.example" || host == "one.example" =>
            {
                ApprovalDecision::No {
                    reason: Some("not that one".into()),
                }
            }
            ApprovalSubject::Network { .. } => ApprovalDecision::AlwaysPrefix,
            _ => ApprovalDecision::No { reason: None },
        };
        let kind = match subject {
            ApprovalSubject::Network {
                host, port, via, ..
            } => format!("{host}:{port} {via:?}"),
            ApprovalSubject::Unsandboxed { .. } => "unsandboxed".to_string(),
            other => format!("{other:?}"),
        };
        asked.push(format!("{call_id} {kind}"));
        a.approve(id, decision);
    }
    assert_eq!(
        asked,
        [
            "s1 unsandboxed",
            "s2 unsandboxed",
            "s3 refused.example:443 Https",
            "s4 kept.example:80 Http",
            "s4 unsandboxed",
            "s5 one.example:80 Http"
        ]
    );
    a.finish_turn().await;
    let inputs = a.inputs();
    let home_refused = "kelp's proxy refused it: localhost resolves to 127.0.0.1, an address on this machine or its network";
    for (at, call) in [(1, "s1"), (2, "s2")] {
        let output = output_for(&inputs[at], call);
        assert!(output.contains(home_refused), "{call}: {output}");
    }
    let output = output_for(&inputs[3], "s3");
    assert!(
        output.contains(
            "refused.example is not on allowed_domains, and the person did not allow it: not that one"
        ),
        "{output}"
    );
    let output = output_for(&inputs[4], "s4");
    assert!(
        output.contains("kept.example could not be resolved"),
        "{output}"
    );
    // One no ends a command's questions: its next host is refused unasked.
    let output = output_for(&inputs[5], "s5");
    assert!(
        output.contains(
            "two.example is not on allowed_domains, and the person did not allow it: they refused this command another host"
        ),
        "{output}"
    );
    let rules = std::fs::read_to_string(a.config.config_dir.join("rules.toml")).unwrap();
    assert!(rules.contains("host = \"kept.example\""), "{rules}");

    // The project's next conversation, never asking: the kept host passes unasked (and fails
    // only to resolve), another is refused unasked, and the model is told why.
    let mut config = a.config.clone();
    config.approval = ApprovalMode::Never;
    let (ops, mut events) = kelp::agent::core::start::spawn(config, a.options());
    a.fake.push_responses([
        Reply::call_with_id("n1", "shell", curl("http://kept.example/")),
        Reply::call_with_id("n2", "shell", curl("http://other.example/")),
        Reply::text("done"),
    ]);
    ops.send(kelp::protocol::Op::Submit(
        kelp::protocol::Submission::text("again"),
    ))
    .unwrap();
    let mut rules = None;
    loop {
        let event = tokio::time::timeout(std::time::Duration::from_secs(30), events.recv())
            .await
            .expect("the turn goes on")
            .expect("the core runs");
        assert!(
            !matches!(event, Event::ApprovalRequested { .. }),
            "asked in never: {event:?}"
        );
        match event {
            Event::Reply(kelp::protocol::Reply::CommandRules(kept)) => rules = Some(kept),
            Event::TurnFinished(_) => break,
            _ => {}
        }
    }
    assert_eq!(rules, Some(vec![ProjectRule::Host("kept.example".into())]));
    let inputs = a.inputs();
    let last = inputs.last().unwrap();
    let output = output_for(last, "n1");
    assert!(
        output.contains("kept.example could not be resolved"),
        "{output}"
    );
    let output = output_for(last, "n2");
    assert!(
        output.contains("kelp's proxy refused it: other.example is not on allowed_domains ("),
        "{output}"
    );
}

/// A server that keeps the first bytes of each connection, for a test to read.
fn first_bytes_server() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = std::sync::Arc::clone(&heard);
    std::thread::spawn(move || {
        use std::io::Read;
        for mut stream in listener.incoming().flatten() {
            let mut first = vec![0u8; 8192];
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            let n = stream.read(&mut first).unwrap_or(0);
            keep.lock().unwrap().push(first[..n].to_vec());
        }
    });
    (port, heard)
}

/// The domains proxy judges what a tunnel carries, not only where it goes: curl asked (as a
/// hostile README would have it) to send `attacker.example`'s TLS through a tunnel to the
/// allowed host (`--connect-to`) is refused, its ClientHello never reaching the server, and
/// the model is told why; the honest request (the twin) reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tunnel_to_an_allowed_host_carries_no_other_servers_tls() {
    if !landlock()
        || !matches!(sandbox::support().landlock, Ok(abi) if abi >= 4)
        || sandbox::support().namespaces.is_err()
    {
        return;
    }
    let (_dir, project, _outside) = dirs();
    let (port, heard) = first_bytes_server();
    let (proxy, ctx) = through_proxy(&project, &[format!("localhost:{port}")], &[]);
    let fronted = bash_in(
        &ctx,
        &format!(
            "curl -sSk --max-time 5 --connect-to attacker.example:443:localhost:{port} https://attacker.example/"
        ),
        10_000,
    )
    .await;
    assert!(!fronted.success, "{}", fronted.text);
    assert!(
        fronted.text.contains(&format!(
            "a tunnel to localhost:{port} asked TLS for attacker.example, another server"
        )),
        "the model is told why: {}",
        fronted.text
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        heard.lock().unwrap().iter().all(|bytes| bytes.is_empty()),
        "the server heard none of it"
    );
    assert!(proxy.contacts().refused.contains_key("localhost"));

    let honest = bash_in(
        &ctx,
        &format!("curl -sSk --max-time 5 https://localhost:{port}/"),
        10_000,
    )
    .await;
    assert!(!honest.text.contains("asked TLS for"), "{}", honest.text);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        heard
            .lock()
            .unwrap()
            .iter()
            .any(|bytes| bytes.first() == Some(&0x16)),
        "the honest ClientHello reached the server: {}",
        honest.text
    );
}

/// An allowed domain named without a port is allowed on the web's ports only: a tunnel to
/// another of its ports (its SSH, its database) is refused with the reason; the entry naming
/// that port (the twin) lets it through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_domain_is_reached_on_the_webs_ports_only() {
    if !landlock()
        || !matches!(sandbox::support().landlock, Ok(abi) if abi >= 4)
        || sandbox::support().namespaces.is_err()
    {
        return;
    }
    let (_dir, project, _outside) = dirs();
    let port = registry(1);
    let fetch = format!("curl -s http://localhost:{port}/crate");
    let (_, ctx) = through_proxy(&project, &["localhost".into()], &[]);
    let refused = bash_in(&ctx, &fetch, 10_000).await;
    assert!(
        refused.text.contains(&format!(
            "kelp's sandbox: localhost:{port} is not on allowed_domains"
        )),
        "{}",
        refused.text
    );
    let (_, ctx) = through_proxy(&project, &[format!("localhost:{port}")], &[]);
    let reached = bash_in(&ctx, &fetch, 10_000).await;
    assert!(
        reached.text.contains("GET /crate HTTP/1.1"),
        "{}",
        reached.text
    );
}
