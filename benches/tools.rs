//! What opening every file beneath the project root costs the tools: `cargo bench --bench
//! tools`. A tree of 20,000 files in 400 folders, and the calls the model makes most over it
//! (`list_dir`, `grep_files`, `read_file`, through `execute` as the turn loop calls them), the
//! `@` finder's listing, a prompt's `@` attachments, and a command with and without its
//! sandbox. Each row prints the median of its runs.
//! The rows use only what the tools offered before the opener, so the same file measures both.

// Test, bench and fixture code: a failed unwrap is a failed run, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use kelp::agent::mentions::{list_project_files, user_message};
use kelp::protocol::SandboxMode;
use kelp::sandbox::Repositories;
use kelp::tools::{OutputSink, SandboxPolicy, ToolCall, ToolContext, execute};
use support::{median, row_filter};
use tokio_util::sync::CancellationToken;

const TOP: usize = 40;
const SUB: usize = 10;
const FILES: usize = 50;

/// 40 × 10 folders of 50 small Rust files; one file in a hundred holds the needle.
fn tree(root: &Path) {
    for top in 0..TOP {
        for sub in 0..SUB {
            let dir = root.join(format!("m{top:02}/s{sub}"));
            std::fs::create_dir_all(&dir).unwrap();
            for file in 0..FILES {
                let n = (top * SUB + sub) * FILES + file;
                let needle = if n.is_multiple_of(100) {
                    "needle_"
                } else {
                    "thread_"
                };
                let text: String = (0..20)
                    .map(|line| format!("fn f{line}() {{ let {needle}{n} = {line}; }}\n"))
                    .collect();
                std::fs::write(dir.join(format!("f{file:02}.rs")), text).unwrap();
            }
        }
    }
    std::fs::write(root.join(".gitignore"), "target/\n").unwrap();
}

/// Runs `work` `runs` times (after one warm-up) and returns the median in milliseconds.
fn time(runs: usize, mut work: impl FnMut()) -> f64 {
    work();
    let samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed()
        })
        .collect();
    median(samples).as_secs_f64() * 1000.0
}

fn call(name: &str, args: serde_json::Value) -> ToolCall {
    ToolCall::parse(name, &args.to_string()).unwrap()
}

/// What the language server's check adds to a turn after an edit: pyright (from `tests/lsp`,
/// `npm ci --prefix tests/lsp` first) in the default sandbox, its first check (its start and
/// the project read) and then edits that alternately break and mend a file, each checked.
fn diagnostics_rows(runtime: &tokio::runtime::Runtime, wanted: &dyn Fn(&str) -> bool) {
    use kelp::tools::lsp::{Change, LanguageServers};
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lsp/node_modules/.bin");
    if !wanted("diagnostics after an edit") || !bin.join("pyright-langserver").exists() {
        return;
    }
    let project = tempfile::tempdir().unwrap();
    let file = project.path().join("calc.py");
    let good = "def double(x: int) -> int:\n    return x * 2\n".to_string();
    let bad = good.replace("x * 2", "\"twice\"");
    std::fs::write(&file, &good).unwrap();
    let settings = kelp::config::lsp::LspSettings {
        servers: vec![kelp::config::lsp::ServerEntry {
            name: "pyright".into(),
            command: vec![
                bin.join("pyright-langserver").display().to_string(),
                "--stdio".into(),
            ],
            extensions: vec!["py".into()],
            disabled: false,
        }],
        ..Default::default()
    };
    let servers = LanguageServers::new(&settings);
    let sandbox = SandboxPolicy::new(SandboxMode::WorkspaceWrite, false);
    let mut text = good.clone();
    let mut check = || {
        let next = if text == good {
            bad.clone()
        } else {
            good.clone()
        };
        let change = Change {
            path: file.clone(),
            before: Some(text.clone()),
            after: Some(next.clone()),
        };
        let checked = runtime.block_on(servers.after_change(&[change], project.path(), &sandbox));
        assert!(checked.notes.is_empty(), "{:?}", checked.notes);
        assert_eq!(
            checked.report.is_some(),
            next == bad,
            "{:?}",
            checked.report
        );
        text = next;
    };
    let started = Instant::now();
    check();
    println!(
        "{:<58} {:>9.3} ms",
        "diagnostics after an edit, pyright's first (its start)",
        started.elapsed().as_secs_f64() * 1000.0
    );
    println!(
        "{:<58} {:>9.3} ms",
        "diagnostics after an edit, pyright warm",
        time(21, &mut check)
    );
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    tree(root);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ctx = ToolContext::new(root);
    let run = |call: &ToolCall| {
        let out = runtime.block_on(execute(
            call,
            &ctx,
            &OutputSink::none(),
            CancellationToken::new(),
            &[],
        ));
        assert!(out.success, "{}", out.text);
        out
    };
    let wanted = row_filter();
    let row = |name: &str, runs: usize, work: &mut dyn FnMut()| {
        if wanted(name) {
            println!("{name:<58} {:>9.3} ms", time(runs, work));
        }
    };

    // What a command in `workspace-write` pays before it starts and again when it ends: the
    // walk for every repository beneath the project. Once read, a folder is only looked at
    // again, unless it changed within a second of its reading (as this tree just did).
    if wanted("repositories scan") {
        let started = Instant::now();
        std::hint::black_box(Repositories::scan(root));
        println!(
            "{:<58} {:>9.3} ms",
            "repositories scan, first (every folder read)",
            started.elapsed().as_secs_f64() * 1000.0
        );
        std::thread::sleep(Duration::from_millis(1100));
    }
    row(
        "repositories scan, again (441 folders, 20,000 files)",
        51,
        &mut || {
            std::hint::black_box(Repositories::scan(root));
        },
    );

    let whole = call("list_dir", serde_json::json!({"path": ".", "depth": 3}));
    row(
        "list_dir, depth 3 (1,000 shown, 20,440 counted)",
        21,
        &mut || {
            run(&whole);
        },
    );
    let one = call("list_dir", serde_json::json!({"path": "m07", "depth": 2}));
    row(
        "list_dir of one folder, depth 2 (510 entries)",
        51,
        &mut || {
            run(&one);
        },
    );
    let grep = call(
        "grep_files",
        serde_json::json!({"pattern": "needle_[0-9]+ = 7;", "limit": 2000}),
    );
    row("grep_files over 20,000 files", 11, &mut || {
        let out = run(&grep);
        assert_eq!(out.text.lines().count(), 200, "{}", out.text);
    });
    let read = call("read_file", serde_json::json!({"path": "m13/s4/f21.rs"}));
    row("read_file, 100 calls", 21, &mut || {
        for _ in 0..100 {
            run(&read);
        }
    });
    row("@ finder: list the project's files", 11, &mut || {
        let count = list_project_files(root, &|_| {});
        assert_eq!(count, TOP * SUB * FILES + 1);
    });
    let prompt: String = (0..8)
        .map(|i| format!("look at @m{i:02}/s{i}/f{i:02}.rs "))
        .collect();
    row("@ attachments: a prompt naming 8 files", 101, &mut || {
        let (_, report) = user_message(prompt.clone(), &[], root);
        assert!(report.iter().all(|a| a.attached), "{report:?}");
    });

    // What a command's sandbox costs it: the same `true`, unsandboxed and in the default
    // sandbox (namespaces, Landlock, seccomp where the kernel has them).
    let shell = call("shell", serde_json::json!({"command": ["true"]}));
    for (name, policy) in [
        ("shell `true`, no sandbox", SandboxPolicy::off()),
        (
            "shell `true`, default sandbox",
            SandboxPolicy::new(SandboxMode::WorkspaceWrite, false),
        ),
    ] {
        let sandboxed = ToolContext::new(root).with_sandbox(policy);
        row(name, 51, &mut || {
            let out = runtime.block_on(execute(
                &shell,
                &sandboxed,
                &OutputSink::none(),
                CancellationToken::new(),
                &[],
            ));
            assert!(out.success, "{}", out.text);
        });
    }

    // What a command pays to have its changes checked by a language server: the files a server
    // checks, listed before and after it (here every `.rs` of the tree).
    row(
        "diagnostics: a command's watch of the files (20,000 .rs)",
        11,
        &mut || {
            let rs = ["rs".to_string()];
            let before = kelp::tools::lsp::snapshot::Snapshot::take(root, &rs);
            let after = kelp::tools::lsp::snapshot::Snapshot::take(root, &rs);
            assert!(before.changed(&after).is_empty());
        },
    );
    diagnostics_rows(&runtime, &wanted);

    // What the proxy of `network = "domains"` adds to a download: 100 MB from a server on
    // loopback, read straight from it and through the proxy (a CONNECT tunnel from its Unix
    // socket, as a command's connection goes through it).
    const DOWNLOAD: usize = 100 * 1024 * 1024;
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::Write;
        let chunk = vec![7u8; 1024 * 1024];
        for mut stream in server.incoming().flatten() {
            for _ in 0..DOWNLOAD / chunk.len() {
                if stream.write_all(&chunk).is_err() {
                    break;
                }
            }
        }
    });
    let (rules, _) =
        kelp::sandbox::proxy::rules::DomainRules::new(&[format!("127.0.0.1:{port}")], &[]);
    let proxy = kelp::sandbox::proxy::Proxy::new(
        rules,
        std::sync::Arc::new(kelp::sandbox::proxy::SystemResolver),
    );
    let socket = dir.path().join("proxy.sock");
    runtime.block_on(async {
        let listener = tokio::net::UnixListener::bind(&socket).unwrap();
        tokio::spawn(proxy.serve(listener, kelp::sandbox::proxy::CommandScope::new(None)));
    });
    let read_all = |mut stream: Box<dyn std::io::Read>| {
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0;
        loop {
            match stream.read(&mut buf).unwrap() {
                0 => break total,
                n => total += n,
            }
        }
    };
    row("download 100 MB from loopback, directly", 5, &mut || {
        let stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        assert_eq!(read_all(Box::new(stream)), DOWNLOAD);
    });
    row("download 100 MB through the domains proxy", 5, &mut || {
        use std::io::{BufRead, Write};
        let mut stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
        write!(stream, "CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n").unwrap();
        let mut reader = std::io::BufReader::new(stream);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 2 {
            line.clear();
        }
        let buffered = reader.buffer().len();
        assert_eq!(buffered + read_all(Box::new(reader.into_inner())), DOWNLOAD);
    });
}
