//! The house's shape, read from `src/`: every `crate::` and `super::` path a file names is an
//! import of the file that path leads to (tests left out). No two files import each other around
//! a loop, and no file imports a folder of its own layer or above: a face never another face,
//! the core never a face, a leaf nothing but leaves below it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each top-level module's layer; a file may import only its own folder and lower layers.
const LAYERS: &[(&str, u8)] = &[
    ("private_file", 0),
    ("secret", 0),
    ("logging", 1),
    ("humanize", 0),
    ("qr", 0),
    ("terminal_text", 0),
    ("random", 0),
    ("http", 0),
    ("task", 0),
    ("stdio", 0),
    ("jsonrpc", 1),
    ("kept_hashes", 1),
    ("protocol", 1),
    ("config", 2),
    ("auth", 3),
    ("llm", 4),
    ("mcp", 4),
    ("sandbox", 3),
    ("session", 5),
    ("tools", 6),
    ("hooks", 6),
    ("agent", 7),
    ("wire", 3),
    ("tui", 8),
    ("app_server", 8),
    ("acp", 8),
    ("remote", 8),
];

/// Every `.rs` file of the library under `src/` (the binary's `cli/` and `main.rs` aside: they
/// use the library as a crate), by module path, with its text before its test module.
fn sources() -> BTreeMap<Vec<String>, (String, String)> {
    sources_where(|rel| rel != "cli" && rel != "main.rs")
}

/// The binary's files, `main.rs` and `cli/`, as [`sources`] gives the library's.
fn binary_sources() -> BTreeMap<Vec<String>, (String, String)> {
    sources_where(|rel| rel == "main.rs" || rel == "cli" || rel.starts_with("cli/"))
}

/// The `.rs` files under `src/` whose path from there `take` takes (a folder's first).
fn sources_where(take: impl Fn(&str) -> bool) -> BTreeMap<Vec<String>, (String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut todo = vec![root.clone()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if !take(&rel) {
                continue;
            }
            if path.is_dir() {
                todo.push(path);
                continue;
            }
            let Some(stem) = rel.strip_suffix(".rs") else {
                continue;
            };
            let mut module: Vec<String> = stem.split('/').map(str::to_string).collect();
            if matches!(
                module.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                module.pop();
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let tests_at = [
                "#[cfg(test)]\nmod tests",
                "#[cfg(test)]\npub(crate) mod tests",
            ]
            .iter()
            .filter_map(|start| text.find(start))
            .min()
            .unwrap_or(text.len());
            let code = text[..tests_at].to_string();
            out.insert(module, (rel, code));
        }
    }
    out
}

/// The paths `code` names after `crate::` or `super::`, brace groups spread out, each as the
/// module path it starts from (`super` resolved against `here`).
fn named_paths(code: &str, here: &[String]) -> Vec<Vec<String>> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(start).map(|i| i + from) {
            from = at + start.len();
            let before = at.checked_sub(1).map(|i| bytes[i]);
            if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':') {
                continue;
            }
            let base: Vec<String> = if start == "crate::" {
                Vec::new()
            } else {
                here[..here.len().saturating_sub(1)].to_vec()
            };
            spread(&code[from..], &base, &mut out);
        }
    }
    out
}

/// Reads `a::b::{c, d::e}` from the start of `rest` onto `prefix`, pushing each full path.
fn spread(rest: &str, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    let mut chars = rest;
    loop {
        if let Some(group) = chars.strip_prefix('{') {
            let mut depth = 1;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(group.len(), |(i, _)| i);
            let mut level = 0;
            let mut item_start = 0;
            let body = &group[..end];
            for (i, c) in body.char_indices().chain([(body.len(), ',')]) {
                match c {
                    '{' => level += 1,
                    '}' => level -= 1,
                    ',' if level == 0 => {
                        let item = body[item_start..i].trim();
                        if !item.is_empty() && item != "self" {
                            spread(item, &path, out);
                        }
                        item_start = i + 1;
                    }
                    _ => {}
                }
            }
            out.push(path);
            return;
        }
        let word: String = chars
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if word.is_empty() {
            break;
        }
        if word == "super" {
            path.pop();
        } else {
            path.push(word.clone());
        }
        chars = &chars[word.len()..];
        match chars.strip_prefix("::") {
            Some(more) => chars = more,
            None => break,
        }
    }
    out.push(path);
}

/// The file a module path leads to: the longest prefix that is a file.
fn file_of<'a>(
    path: &[String],
    files: &'a BTreeMap<Vec<String>, (String, String)>,
) -> Option<&'a str> {
    (1..=path.len())
        .rev()
        .find_map(|n| files.get(&path[..n]).map(|(rel, _)| rel.as_str()))
}

/// Which file of the library imports which.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    imports_among(&sources())
}

/// Which of `files` imports which.
fn imports_among(
    files: &BTreeMap<Vec<String>, (String, String)>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph = BTreeMap::new();
    for (module, (rel, code)) in files {
        // A folder's `mod.rs` (and `lib.rs`) names its children from itself, a file from its
        // folder.
        let here: Vec<String> = if rel.ends_with("mod.rs") || rel == "lib.rs" || rel == "main.rs" {
            module.iter().cloned().chain([String::new()]).collect()
        } else {
            module.clone()
        };
        let targets: BTreeSet<String> = named_paths(code, &here)
            .iter()
            .filter_map(|path| file_of(path, files))
            .filter(|target| target != rel)
            .map(str::to_string)
            .collect();
        graph.insert(rel.clone(), targets);
    }
    graph
}

/// The files that lie on a loop of imports, each loop once.
fn loops(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(file) = todo.pop() {
            for next in graph.get(&file).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let mut found: Vec<Vec<String>> = Vec::new();
    for file in graph.keys() {
        if !reach(file).contains(file) {
            continue;
        }
        let mut members: Vec<String> = graph
            .keys()
            .filter(|other| reach(file).contains(*other) && reach(other).contains(file))
            .cloned()
            .collect();
        members.sort();
        if !found.contains(&members) {
            found.push(members);
        }
    }
    found
}

fn layer(rel: &str) -> Option<(&'static str, u8)> {
    let top = rel.split('/').next()?.trim_end_matches(".rs");
    LAYERS.iter().find(|(name, _)| *name == top).copied()
}

#[test]
fn no_two_files_import_each_other_around_a_loop() {
    let graph = imports();
    assert!(graph.len() > 100, "read {} files", graph.len());
    let found = loops(&graph);
    assert!(found.is_empty(), "files around a loop: {found:?}");
    // The binary's command line too: each verb's file imports the shared ones, never back.
    let binary = imports_among(&binary_sources());
    assert!(
        binary.contains_key("cli/exec_cmd.rs") && binary.len() > 8,
        "{binary:?}"
    );
    assert!(
        binary["cli/exec_cmd.rs"].contains("cli/run_cmd.rs"),
        "the reader follows super:: in cli/: {binary:?}"
    );
    // `cli/mod.rs` only dispatches: no verb imports it back.
    let found = loops(&binary);
    assert!(found.is_empty(), "cli files around a loop: {found:?}");
    let back: Vec<&String> = binary
        .iter()
        .filter(|(file, targets)| *file != "cli/mod.rs" && targets.contains("cli/mod.rs"))
        .map(|(file, _)| file)
        .collect();
    assert!(
        back.is_empty(),
        "cli files importing the dispatcher: {back:?}"
    );
}

/// Imports that go to another folder of the same layer or above, as `from -> to`.
fn upward(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut wrong = Vec::new();
    for (file, targets) in graph {
        if file == "lib.rs" {
            continue;
        }
        let (top, rank) = layer(file).unwrap_or_else(|| panic!("{file} has no layer"));
        for target in targets {
            let (target_top, target_rank) =
                layer(target).unwrap_or_else(|| panic!("{target} has no layer"));
            if target_top != top && target_rank >= rank {
                wrong.push(format!("{file} -> {target}"));
            }
        }
    }
    wrong
}

#[test]
fn no_file_imports_its_own_layer_or_above() {
    let wrong = upward(&imports());
    assert!(wrong.is_empty(), "imports up or across a layer: {wrong:#?}");
}

/// The reader is seen to find imports, so the two checks above can fail.
#[test]
fn the_reader_finds_the_imports_a_file_names() {
    let graph = imports();
    let turn = &graph["agent/turn.rs"];
    for expected in [
        "agent/compact.rs",
        "agent/turn_context.rs",
        "tools/mod.rs",
        "llm/types.rs",
    ] {
        assert!(turn.contains(expected), "{expected} not in {turn:?}");
    }
    let mut looped = graph.clone();
    looped
        .get_mut("agent/turn_context.rs")
        .unwrap()
        .insert("agent/turn.rs".to_string());
    assert_eq!(
        loops(&looped),
        vec![vec![
            "agent/asks.rs".to_string(),
            "agent/calls.rs".to_string(),
            "agent/compact.rs".to_string(),
            "agent/hook_points.rs".to_string(),
            "agent/items.rs".to_string(),
            "agent/turn.rs".to_string(),
            "agent/turn_context.rs".to_string()
        ]]
    );
    let mut up = graph.clone();
    up.get_mut("agent/turn.rs")
        .unwrap()
        .insert("tui/app.rs".to_string());
    up.get_mut("acp/session.rs")
        .unwrap()
        .insert("app_server/threads.rs".to_string());
    assert_eq!(
        upward(&up),
        [
            "acp/session.rs -> app_server/threads.rs",
            "agent/turn.rs -> tui/app.rs"
        ]
    );
}

/// The most lines of code (neither blank nor a comment, the tests aside) one file holds: past
/// it, a file does more than one thing.
const MAX_CODE_LINES: usize = 600;

/// The lines of `code` that are neither blank nor only a comment.
fn code_lines(code: &str) -> usize {
    code.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("//"))
        .count()
}

#[test]
fn no_file_holds_more_than_600_lines_of_code() {
    assert_eq!(
        code_lines("fn a() {}\n\n  // why\n/// doc\n  let b = 1;\n"),
        2
    );
    let long: Vec<String> = sources()
        .values()
        .chain(binary_sources().values())
        .map(|(path, code)| (path, code_lines(code)))
        .filter(|(_, lines)| *lines > MAX_CODE_LINES)
        .map(|(path, lines)| format!("{path}: {lines}"))
        .collect();
    assert!(
        long.is_empty(),
        "files over {MAX_CODE_LINES} lines of code: {long:?}"
    );
}

/// The most lines one function spans, its signature to its closing brace (tests aside): past
/// it, a function does more than one thing.
const MAX_FN_LINES: usize = 100;

/// `line` with its string and character literals emptied and its `//` comment cut: the braces
/// and semicolons left are the code's.
fn code_of(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut at = 0;
    while at < chars.len() {
        match chars[at] {
            '"' => {
                let mut end = at + 1;
                while end < chars.len() && chars[end] != '"' {
                    end += if chars[end] == '\\' { 2 } else { 1 };
                }
                if end < chars.len() {
                    out.push_str("\"\"");
                    at = end + 1;
                    continue;
                }
            }
            '\'' => {
                let literal = match chars.get(at + 1) {
                    Some('\\') => 4,
                    Some('\'') | None => 0,
                    Some(_) => 3,
                };
                if literal > 0 && chars.get(at + literal - 1) == Some(&'\'') {
                    out.push_str("''");
                    at += literal;
                    continue;
                }
            }
            '/' if chars.get(at + 1) == Some(&'/') => break,
            _ => {}
        }
        out.push(chars[at]);
        at += 1;
    }
    out
}

/// Whether `line` begins a function: `fn NAME` after any of `pub`, `pub(…)`, `async`,
/// `const`, `unsafe`.
fn begins_function(line: &str) -> bool {
    let mut rest = line.trim_start();
    loop {
        let before = rest;
        for word in ["pub ", "async ", "const ", "unsafe "] {
            rest = rest.strip_prefix(word).unwrap_or(rest).trim_start();
        }
        if rest.starts_with("pub(")
            && let Some(close) = rest.find(')')
        {
            rest = rest[close + 1..].trim_start();
        }
        if rest == before {
            break;
        }
    }
    rest.strip_prefix("fn ")
        .is_some_and(|name| name.starts_with(|c: char| c.is_alphabetic() || c == '_'))
}

/// Each function of `code` with a body, by its first line, and how many lines it spans.
fn function_lengths(code: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = code.lines().collect();
    let mut out = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        if !begins_function(line) {
            continue;
        }
        let mut depth = 0i32;
        let mut opened = false;
        for (end, later) in lines.iter().enumerate().skip(start) {
            let code = code_of(later);
            if !opened && code.contains(';') && !code.contains('{') {
                break;
            }
            for c in code.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if opened && depth <= 0 {
                out.push((line.trim().to_string(), end - start + 1));
                break;
            }
        }
    }
    out
}

#[test]
fn no_function_spans_more_than_100_lines() {
    let sample = "fn short() {\n    let s = \"}\";\n    let c = '{';\n}\n\
                  pub(super) async fn long() {\n    if x {\n        y();\n    }\n}\n\
                  fn declared(&self) -> u8;\n";
    assert_eq!(
        function_lengths(sample),
        [
            ("fn short() {".to_string(), 4),
            ("pub(super) async fn long() {".to_string(), 5)
        ]
    );
    let long: Vec<String> = sources()
        .values()
        .chain(binary_sources().values())
        .flat_map(|(path, code)| {
            function_lengths(code)
                .into_iter()
                .filter(|(_, lines)| *lines > MAX_FN_LINES)
                .map(move |(function, lines)| format!("{path}: {function} ({lines} lines)"))
        })
        .collect();
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines: {long:?}"
    );
}

/// The README's map, one line per folder, says what the folder's own module doc says first.
#[test]
fn the_readme_map_says_what_each_folder_says_of_itself() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let squash = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut folders = 0;
    for line in readme.lines() {
        let Some(rest) = line.strip_prefix("- `src/") else {
            continue;
        };
        let Some((folder, said)) = rest.split_once("/`: ") else {
            continue;
        };
        let doc: String = std::fs::read_to_string(root.join("src").join(folder).join("mod.rs"))
            .unwrap()
            .lines()
            .map_while(|line| line.strip_prefix("//!"))
            .collect::<Vec<_>>()
            .join(" ");
        let said = squash(said.trim_end_matches('.'));
        let doc = squash(&doc);
        assert!(
            doc.to_lowercase().starts_with(&said.to_lowercase()),
            "README says of src/{folder}/ {said:?}, its doc says {doc:?}"
        );
        folders += 1;
    }
    let on_disk = std::fs::read_dir(root.join("src"))
        .unwrap()
        .filter(|entry| entry.as_ref().unwrap().path().is_dir())
        .count();
    assert_eq!(
        folders, on_disk,
        "the README's map lists every folder of src/"
    );
}

/// Each folder's module doc names every file and folder in it (`name.rs`, `` `name` ``,
/// `name/`), so a reader who opens the folder's `mod.rs` finds every room.
#[test]
fn each_folders_doc_names_every_file_in_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut unnamed = Vec::new();
    let mut folders = vec![src.clone()];
    while let Some(folder) = folders.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        entries.sort();
        folders.extend(entries.iter().filter(|path| path.is_dir()).cloned());
        let Ok(module) = std::fs::read_to_string(folder.join("mod.rs")) else {
            continue;
        };
        let doc: String = module
            .lines()
            .filter_map(|line| line.strip_prefix("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        for entry in &entries {
            let name = entry.file_name().unwrap().to_string_lossy().into_owned();
            let stem = match name.strip_suffix(".rs") {
                Some(stem) if stem != "mod" => stem.to_string(),
                Some(_) => continue,
                None if entry.is_dir() => name.clone(),
                None => continue,
            };
            let named = [
                format!("`{stem}`"),
                format!("{stem}.rs"),
                format!("{stem}/`"),
            ]
            .iter()
            .any(|form| doc.contains(form.as_str()));
            if !named {
                unnamed.push(entry.strip_prefix(&src).unwrap().display().to_string());
            }
        }
    }
    assert!(
        unnamed.is_empty(),
        "files their folder's module doc does not name: {unnamed:?}"
    );
}

/// The contract has one door: no module of the agent re-exports a value (`pub use`), so a face
/// names each by the floor that defines it.
#[test]
fn the_agent_opens_no_second_door_to_the_contract() {
    let doors: Vec<String> = sources()
        .values()
        .filter(|(path, _)| path.starts_with("agent/"))
        .flat_map(|(path, code)| {
            code.lines()
                .filter(|line| line.trim_start().starts_with("pub use "))
                .map(move |line| format!("{path}: {}", line.trim()))
        })
        .collect();
    assert!(sources().len() > 100);
    assert!(doors.is_empty(), "re-exports in agent/: {doors:?}");
}
