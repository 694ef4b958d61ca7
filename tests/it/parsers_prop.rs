//! Property tests of the parsers that read untrusted bytes: the SSE stream, auth.json, the
//! apply_patch grammar, the Markdown renderer with wrapping, session files, the terminal's
//! answer to the background query, and a project's own settings files. Random and
//! mutated inputs: none may panic, output stays bounded by input, and auth.json never loses or
//! rewrites an entry it cannot parse. (`fuzz/` runs the same entry points under libFuzzer.)

use bytes::Bytes;
use kelp::auth::store::{AuthFile, AuthStore, OpenAiEntry};
use kelp::llm::sse::{self, SseEvent};
use kelp::llm::types::ResponseEvent;
use kelp::session::SessionLog;
use kelp::tools::ApplyPatchCall;
use kelp::tui::streaming::StreamingMarkdown;
use proptest::prelude::*;
use unicode_width::UnicodeWidthStr;

const VALID_SSE: &str = "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r1\"}}\n\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"héllo \"}\n\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"wörld\"}\n\n: keep-alive\n\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"r1\",\"usage\":{\"input_tokens\":3,\"output_tokens\":2,\"total_tokens\":5}}}\n\n";

/// Splits `bytes` at the given cut points (taken modulo the length).
fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Bytes> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    at.push(0);
    at.push(bytes.len());
    at.sort_unstable();
    at.dedup();
    at.windows(2)
        .map(|w| Bytes::copy_from_slice(&bytes[w[0]..w[1]]))
        .collect()
}

/// `base` with some bytes overwritten, inserted or removed.
fn mutate(base: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut out = base.to_vec();
    for &(at, op, byte) in edits {
        let at = at % (out.len() + 1);
        match op % 3 {
            0 if at < out.len() => out[at] = byte,
            1 => out.insert(at, byte),
            _ if at < out.len() => {
                out.remove(at);
            }
            _ => {}
        }
    }
    out
}

fn delta_bytes(events: &[SseEvent]) -> usize {
    events
        .iter()
        .map(|e| match e {
            SseEvent::Response(ResponseEvent::TextDelta(d))
            | SseEvent::Response(ResponseEvent::ReasoningSummaryDelta(d)) => d.len(),
            _ => 0,
        })
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn sse_random_bytes_never_panic_and_stay_bounded(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let events = sse::decode_all(split(&bytes, &cuts));
        // An event needs at least `data:` and a blank line.
        prop_assert!(events.len() <= bytes.len() / 7 + 1);
        // Invalid bytes become U+FFFD (3 bytes for 1), nothing else grows.
        prop_assert!(delta_bytes(&events) <= bytes.len() * 3);
    }

    #[test]
    fn sse_mutated_streams_never_panic(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..12),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let bytes = mutate(VALID_SSE.as_bytes(), &edits);
        let events = sse::decode_all(split(&bytes, &cuts));
        prop_assert!(events.len() <= bytes.len() / 7 + 1);
        prop_assert!(delta_bytes(&events) <= bytes.len() * 3);
    }

    #[test]
    fn sse_chunking_never_changes_the_events(
        cuts in proptest::collection::vec(any::<usize>(), 0..16),
    ) {
        let whole = sse::decode_all([Bytes::from_static(VALID_SSE.as_bytes())]);
        prop_assert_eq!(whole.len(), 4);
        prop_assert_eq!(sse::decode_all(split(VALID_SSE.as_bytes(), &cuts)), whole);
    }

    #[test]
    fn apply_patch_parsing_never_panics_and_stays_bounded(
        text in "(\\*\\*\\* (Begin Patch|End Patch|Add File: |Update File: |Delete File: |Move to: |End of File)|@@ ?|[-+ ]|[a-z./]{0,8}|\n){0,40}",
        noise in proptest::collection::vec(any::<char>(), 0..32),
    ) {
        let mut input = text.clone();
        input.extend(noise);
        if let Ok(call) = ApplyPatchCall::parse(input.clone(), None) {
            prop_assert!(call.patch.ops.len() <= input.lines().count());
        }
    }

    #[test]
    fn markdown_never_panics_and_wrapped_lines_fit(
        text in "([#>*`~|\\-_ 0-9a-zé一\t\u{0}\u{1b}\u{7f}]|\n|```|\\*\\*|\\| --- \\|){0,200}",
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        width in 8usize..100,
    ) {
        let mut md = StreamingMarkdown::new();
        for piece in split(text.as_bytes(), &cuts) {
            // Cut points may fall inside a character: only whole strings are pushed.
            if let Ok(piece) = std::str::from_utf8(&piece) {
                md.push(piece);
                let _ = md.lines(width);
            }
        }
        md.finish(&text);
        let lines = md.lines(width);
        prop_assert!(lines.len() <= 4 * (text.len() + 2));
        for line in lines {
            let shown: usize = line.spans.iter().map(|s| s.content.width()).sum();
            prop_assert!(shown <= width, "{:?} is wider than {}", line.to_string(), width);
        }
    }

    #[test]
    fn session_files_never_panic_and_stay_bounded(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..8),
    ) {
        let path = std::path::Path::new("/fuzz/session.jsonl");
        let valid = concat!(
            "{\"kelp_session\":1,\"id\":\"5f0e8c6e-0b6a-4d7e-9a0c-1d2e3f4a5b6c\",\"project_dir\":\"/p\",\"model\":\"m\",\"started_at\":\"2026-01-01T00:00:00Z\",\"kelp_version\":\"0.1.0\"}\n",
            "{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"hi\"}]}\n",
        );
        for input in [bytes.clone(), mutate(valid.as_bytes(), &edits)] {
            if let Ok(log) = SessionLog::parse(path, &input) {
                let lines = input.split(|b| *b == b'\n').count();
                prop_assert!(log.items.len() + log.skipped_lines < lines);
            }
        }
    }
}

proptest! {
    // Each case writes a file: fewer cases, same properties.
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn auth_json_never_loses_or_rewrites_an_entry_it_cannot_parse(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..10),
        raw in proptest::collection::vec(any::<u8>(), 0..256),
        use_raw in any::<bool>(),
    ) {
        let example = include_str!("../../auth.example.json");
        let bytes = if use_raw { raw } else { mutate(example.as_bytes(), &edits) };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        std::fs::write(&path, &bytes).unwrap();
        let before = std::str::from_utf8(&bytes).ok().map(AuthFile::parse);
        let store = AuthStore::new(&path);
        let key = OpenAiEntry::Api { key: "sk-prop-0000".into() };
        let saved = store.update(|file| file.set_openai(&key));
        let after = std::fs::read(&path).unwrap();
        match (before, saved) {
            (Some(Ok(parsed)), Ok(())) => {
                let reread = AuthFile::parse(std::str::from_utf8(&after).unwrap()).unwrap();
                for (name, value) in parsed.entries() {
                    if name != "openai" {
                        prop_assert_eq!(reread.entries().get(name), Some(value));
                    }
                }
                prop_assert_eq!(reread.openai(), Some(key));
            }
            (_, Err(_)) => prop_assert_eq!(&after, &bytes, "a refused save leaves the file alone"),
            (before, Ok(())) => prop_assert!(false, "saved over a file that does not parse: {before:?}"),
        }
    }
}

proptest! {
    /// The terminal's answer to OSC 11: any bytes read without a panic, and a colour of one to
    /// four hex digits a channel, ended by BEL or ST, always reads as light or dark.
    #[test]
    fn the_background_answer_never_panics_and_reads_any_colour(
        noise in prop::collection::vec(any::<u8>(), 0..64),
        channels in prop::array::uniform3((1usize..=4, any::<u16>())),
        bel in any::<bool>(),
    ) {
        let _ = kelp::tui::background::parse(&noise);
        let hex: Vec<String> = channels
            .iter()
            .map(|(digits, value)| format!("{:0width$x}", u32::from(*value) % (1u32 << (4 * digits)), width = *digits))
            .collect();
        let end = if bel { "\x07" } else { "\x1b\\" };
        let answer = format!("\x1b]11;rgb:{}{end}\x1b[?62;22c", hex.join("/"));
        prop_assert!(kelp::tui::background::parse(answer.as_bytes()).is_some(), "{answer:?}");
    }

    /// Keys typed around the answer: any bytes split and read as keys without a panic, and the
    /// answers taken out of text typed either side of them leave exactly that text.
    #[test]
    fn typing_around_the_background_answer_is_kept_whole(
        noise in prop::collection::vec(any::<u8>(), 0..128),
        before in "[a-z ]{0,12}",
        after in "[a-z ]{0,12}",
    ) {
        let (_, typed) = kelp::tui::background::split(&noise);
        let _ = kelp::tui::background::typed_keys(&typed);
        let mut events = kelp::tui::background::typed_keys(&noise);
        kelp::tui::background::drop_late_answer(&mut events);
        let read = format!("{before}\x1b]11;rgb:ffff/0/0\x1b\\\x1b[?62;22c{after}");
        let (shade, typed) = kelp::tui::background::split(read.as_bytes());
        prop_assert!(shade.is_some());
        prop_assert_eq!(typed, format!("{before}{after}").into_bytes());
    }
}

/// The keys a project's file may set without the person's allowance, in either file's words.
const FREE_IN_A_PROJECT: &[&str] = &[
    "model",
    "reasoning_effort",
    "model_reasoning_effort",
    "web_search",
    "context_window",
    "skills",
    "hide_paths",
    "env_drop",
    "protected_paths",
    "denied_domains",
];

/// Keys a project's file may hold, the person's own and Codex's own among them.
const PROJECT_KEYS: &[&str] = &[
    "model",
    "approval",
    "approval_policy",
    "sandbox_mode",
    "sandbox_workspace_write",
    "network",
    "mcp_servers",
    "model_providers",
    "model_provider",
    "auth_file",
    "openai_base_url",
    "projects",
    "hooks",
    "agents",
    "features",
    "keep_paths",
    "hide_paths",
    "env_keep",
    "ssh_agent",
    "notify",
    "web_search",
    "zzz",
];

/// A top-level TOML entry for `key`: a value or a table.
fn project_entry(key: &str, shape: u8, word: &str) -> String {
    match shape % 4 {
        0 => format!("{key} = {word:?}\n"),
        1 => format!("{key} = true\n"),
        2 => format!("{key} = [{word:?}]\n"),
        _ => format!("[{key}.x]\ncommand = {word:?}\n"),
    }
}

proptest! {
    // Each case writes a project: fewer cases, same properties.
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Whatever a project's file holds (any bytes, or keys of every kind), reading it never
    /// panics, and what is in force before the person allows anything is only what a project
    /// may set freely; once allowed, still nothing that is the person's own.
    #[test]
    fn a_projects_settings_in_force_are_only_what_it_may_set(
        entries in proptest::collection::vec((0..PROJECT_KEYS.len(), any::<u8>(), "[a-z ]{0,8}"), 0..12),
        raw in proptest::collection::vec(any::<u8>(), 0..256),
        use_raw in any::<bool>(),
        codex in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let (sub, words) = if codex { (".codex", kelp::config::file::Dialect::Codex) } else { (".kelp", kelp::config::file::Dialect::Kelp) };
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        let mut text = String::new();
        let mut seen = std::collections::HashSet::new();
        for (index, shape, word) in &entries {
            if seen.insert(*index) {
                text.push_str(&project_entry(PROJECT_KEYS[*index], *shape, word));
            }
        }
        let bytes = if use_raw { raw } else { text.into_bytes() };
        std::fs::write(dir.path().join(sub).join("config.toml"), &bytes).unwrap();
        let folders = [dir.path().to_path_buf()];
        let keys_in_force = |layer: &kelp::config::project::ProjectLayer| -> Vec<String> {
            layer
                .files
                .iter()
                .inspect(|file| assert_eq!(file.dialect, words))
                .flat_map(|file| match file.in_force.parse::<toml_edit::DocumentMut>() {
                    Ok(doc) => doc.iter().map(|(key, _)| key.to_string()).collect(),
                    // Said by the parser, which uses nothing of it.
                    Err(_) => Vec::new(),
                })
                .collect()
        };
        let (layer, _) = kelp::config::project::read(&folders, &state, None);
        for key in keys_in_force(&layer) {
            let known_to_kelp = kelp::config::file::KEYS.contains(&key.as_str());
            prop_assert!(
                FREE_IN_A_PROJECT.contains(&key.as_str()) || (!codex && !known_to_kelp),
                "{} in force unasked", key
            );
        }
        let hashes: Vec<String> = layer.waiting().into_iter().map(|w| w.hash).collect();
        kelp::config::project::allow(&state, &hashes).unwrap();
        let (allowed, _) = kelp::config::project::read(&folders, &state, None);
        prop_assert!(allowed.waiting().is_empty());
        for key in keys_in_force(&allowed) {
            prop_assert!(
                !["auth_file", "openai_base_url", "projects", "hooks"].contains(&key.as_str()),
                "{} in force from a project", key
            );
        }
    }
}
