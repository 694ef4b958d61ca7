//! auth.json loading and saving: a file kelp cannot parse is never written, and a save keeps
//! every other entry as it was.
#![no_main]

use kelp::auth::store::{AuthFile, AuthStore, OpenAiEntry};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("auth.json");
    std::fs::write(&path, data).expect("written");
    let before = std::str::from_utf8(data).ok().map(AuthFile::parse);
    let key = OpenAiEntry::Api {
        key: "sk-fuzz-0000".into(),
    };
    let saved = AuthStore::new(&path).update(|file| file.set_openai(&key));
    let after = std::fs::read(&path).expect("still there");
    match (before, saved) {
        (Some(Ok(parsed)), Ok(())) => {
            let text = std::str::from_utf8(&after).expect("kelp writes UTF-8");
            let reread = AuthFile::parse(text).expect("kelp writes what it reads");
            for (name, value) in parsed.entries() {
                if name != "openai" {
                    assert_eq!(reread.entries().get(name), Some(value));
                }
            }
        }
        (_, Err(_)) => assert_eq!(after, data),
        (_, Ok(())) => panic!("saved over a file that does not parse"),
    }
});
