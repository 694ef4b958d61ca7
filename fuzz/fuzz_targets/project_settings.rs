//! A project's `.codex/config.toml` as a cloned repository may ship it: any bytes are read
//! without a panic, and nothing outside what a project sets freely is in force unallowed.
#![no_main]

use kelp::config::project;
use libfuzzer_sys::fuzz_target;

/// What a project's file sets without the person's allowance, in Codex's words.
const FREE: &[&str] = &[
    "model",
    "model_reasoning_effort",
    "web_search",
    "skills",
];

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::create_dir(dir.path().join(".codex")).expect("made");
    std::fs::write(dir.path().join(".codex/config.toml"), data).expect("written");
    let (layer, _) = project::read(&[dir.path().to_path_buf()], &dir.path().join("state"), None);
    for file in &layer.files {
        if let Ok(doc) = file.in_force.parse::<toml_edit::DocumentMut>() {
            for (key, _) in doc.iter() {
                assert!(FREE.contains(&key), "{key} in force unasked");
            }
        }
    }
});
