//! The auth file: opencode compatibility, locking, atomic replace, permissions, corrupt files.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kelp::auth::{AuthFile, AuthStore, OAuthEntry, OpenAiEntry, StoreError};
use serde_json::{Value, json};

const EXAMPLE: &str = include_str!("../../auth.example.json");

/// A file as opencode writes it (`JSON.stringify(data, null, 2)`), with entries and fields
/// kelp does not know.
const OPENCODE_FILE: &str = r#"{
  "github-copilot": {
    "type": "oauth",
    "refresh": "gho_refresh",
    "access": "tid=abc",
    "expires": 1764000000000,
    "enterpriseUrl": "https://ghe.example.com"
  },
  "openai": {
    "type": "api",
    "key": "sk-old-key-000000000000",
    "metadata": { "org": "personal" },
    "x-future-field": [1, 2, 3]
  },
  "company": { "type": "wellknown", "key": "COMPANY_TOKEN", "token": "tok" }
}"#;

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn oauth() -> OpenAiEntry {
    OpenAiEntry::OAuth(OAuthEntry {
        refresh: "rt_new".into(),
        access: "at_new".into(),
        expires_ms: 1_800_000_000_000,
        account_id: Some("acct_9".into()),
    })
}

#[test]
fn example_file_is_read_and_every_foreign_entry_survives_login_and_logout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.json");
    write(&path, EXAMPLE);
    let original = read_json(&path);
    let store = AuthStore::new(&path);

    let Some(OpenAiEntry::OAuth(entry)) = store.load().unwrap().openai() else {
        panic!("the example's openai entry is oauth")
    };
    assert_eq!(entry.account_id.as_deref(), Some("acct_example_123"));
    assert_eq!(entry.expires_ms, 1_764_000_000_000);

    store
        .update(|f| {
            f.set_openai(&OpenAiEntry::Api {
                key: "sk-abcdefghijklmnop".into(),
            })
        })
        .unwrap();
    let after_login = read_json(&path);
    for key in ["anthropic", "example-gateway"] {
        assert_eq!(after_login[key], original[key], "{key} changed on login");
    }
    assert_eq!(
        after_login["openai"],
        json!({"type":"api","key":"sk-abcdefghijklmnop"})
    );

    assert!(store.update(|f| f.remove_openai()).unwrap());
    let after_logout = read_json(&path);
    assert!(after_logout.get("openai").is_none());
    let mut expected = original.clone();
    expected.as_object_mut().unwrap().remove("openai");
    assert_eq!(after_logout, expected);
}

#[test]
fn opencode_file_keeps_unknown_fields_and_entries_through_our_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.json");
    write(&path, OPENCODE_FILE);
    let original = read_json(&path);
    let store = AuthStore::new(&path);

    // An API key update keeps metadata and the unknown field inside our own entry.
    store
        .update(|f| {
            f.set_openai(&OpenAiEntry::Api {
                key: "sk-new-key-111111111111".into(),
            })
        })
        .unwrap();
    let updated = read_json(&path);
    assert_eq!(updated["openai"]["metadata"], json!({"org":"personal"}));
    assert_eq!(updated["openai"]["x-future-field"], json!([1, 2, 3]));
    assert_eq!(updated["github-copilot"], original["github-copilot"]);
    assert_eq!(updated["company"], original["company"]);

    // A ChatGPT login replaces the key with tokens and an integer `expires`.
    store.update(|f| f.set_openai(&oauth())).unwrap();
    let updated = read_json(&path);
    assert_eq!(updated["openai"]["type"], "oauth");
    assert!(updated["openai"]["expires"].is_i64());
    assert_eq!(updated["openai"]["accountId"], "acct_9");
    assert!(updated["openai"].get("key").is_none());
    assert_eq!(updated["openai"]["x-future-field"], json!([1, 2, 3]));
    assert_eq!(updated["github-copilot"], original["github-copilot"]);

    store.update(|f| f.remove_openai()).unwrap();
    let updated = read_json(&path);
    assert_eq!(updated.as_object().unwrap().len(), 2);
    assert_eq!(updated["company"], original["company"]);
}

#[test]
fn created_and_updated_files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("kelp").join("auth.json");
    let store = AuthStore::new(&path);
    store.update(|f| f.set_openai(&oauth())).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);

    // A file someone made world-readable becomes private again on our next write.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    store
        .update(|f| {
            f.set_openai(&OpenAiEntry::Api {
                key: "sk-zzzzzzzzzzzzzzzz".into(),
            })
        })
        .unwrap();
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn a_corrupt_file_is_never_overwritten_and_the_error_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.json");
    let broken = "{\n  \"openai\": {\"type\": \"api\", \"key\": \"sk-1\"\n";
    write(&path, broken);
    let store = AuthStore::new(&path);

    let err = store
        .update(|f| f.set_openai(&OpenAiEntry::Api { key: "sk-2".into() }))
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }));
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("left it untouched"), "{message}");
    assert!(!message.contains('\n'), "one line: {message}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);
    assert!(matches!(store.load(), Err(StoreError::Corrupt { .. })));

    write(&path, "[\"not an object\"]");
    assert!(store.update(|f| f.remove_openai()).is_err());
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "[\"not an object\"]"
    );
}

#[test]
fn an_unchanged_file_is_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.json");
    write(&path, OPENCODE_FILE);
    let inode = std::fs::metadata(&path).unwrap().ino();
    let store = AuthStore::new(&path);
    assert!(store.update(|f| f.remove_openai()).unwrap());
    let inode_after_change = std::fs::metadata(&path).unwrap().ino();
    assert_ne!(inode, inode_after_change, "a change replaces the file");
    // Removing an entry that is already gone neither replaces nor touches the file.
    assert!(!store.update(|f| f.remove_openai()).unwrap());
    assert_eq!(std::fs::metadata(&path).unwrap().ino(), inode_after_change);
}

// ---- Many processes at once -------------------------------------------------------------------

const WRITER_ENV: &str = "KELP_TEST_AUTH_WRITER";
const ROUNDS: usize = 50;
const WRITERS: usize = 8;

/// Re-runs this test binary as a child that executes one ignored test.
fn child(test: &str, path: &Path, id: usize) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            test,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WRITER_ENV, format!("{}|{id}", path.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn child_args() -> Option<(PathBuf, usize)> {
    let value = std::env::var(WRITER_ENV).ok()?;
    let (path, id) = value.rsplit_once('|')?;
    Some((PathBuf::from(path), id.parse().ok()?))
}

/// The child side of the concurrency test: updates its own key `ROUNDS` times.
#[test]
#[ignore = "run as a child process by eight_processes_updating_at_once_lose_nothing"]
fn concurrent_writer_child() {
    let Some((path, id)) = child_args() else {
        return;
    };
    let store = AuthStore::new(path);
    for round in 0..ROUNDS {
        store
            .update(|f| {
                f.set_raw(
                    &format!("provider-{id}"),
                    json!({"type":"api","key":format!("k-{id}-{round}")}),
                );
            })
            .unwrap();
    }
}

#[test]
fn eight_processes_updating_at_once_lose_nothing_and_the_file_always_parses() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.json");
    write(&path, OPENCODE_FILE);
    let mut children: Vec<Child> = (0..WRITERS)
        .map(|id| child("auth_store::concurrent_writer_child", &path, id))
        .collect();

    let mut reads = 0;
    while children.iter_mut().any(|c| c.try_wait().unwrap().is_none()) {
        // Lock-free readers must always see a whole file.
        let text = std::fs::read_to_string(&path).unwrap();
        AuthFile::parse(&text).unwrap_or_else(|e| panic!("torn read: {e}\n{text}"));
        reads += 1;
    }
    for c in &mut children {
        assert!(c.wait().unwrap().success());
    }
    assert!(reads > 0);
    let file = read_json(&path);
    for id in 0..WRITERS {
        assert_eq!(
            file[format!("provider-{id}")]["key"],
            format!("k-{id}-{}", ROUNDS - 1),
            "writer {id} lost an update"
        );
    }
    assert_eq!(file["company"]["token"], "tok", "a foreign entry was lost");
}

/// The child side of the crash test: replaces the file with two alternating versions forever.
#[test]
#[ignore = "run as a child process by a_killed_writer_leaves_the_old_or_the_new_file"]
fn endless_writer_child() {
    let Some((path, _)) = child_args() else {
        return;
    };
    let store = AuthStore::new(path);
    let versions = [big_version('a'), big_version('b')];
    for round in 0.. {
        let _lock = store.lock().unwrap();
        store.replace(&versions[round % 2]).unwrap();
    }
}

/// A file large enough that writing it takes a while, so kills land mid-write.
fn big_version(fill: char) -> String {
    let mut file = AuthFile::default();
    file.set_raw("filler", json!(fill.to_string().repeat(512 * 1024)));
    file.to_text()
}

#[test]
fn a_killed_writer_leaves_the_old_or_the_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.json");
    let versions = [big_version('a'), big_version('b')];
    write(&path, &versions[0]);
    for attempt in 0..12u64 {
        let inode_before = std::fs::metadata(&path).unwrap().ino();
        let mut writer = child("auth_store::endless_writer_child", &path, 0);
        // Wait until the writer is really replacing the file, then vary the moment of the kill
        // so it lands in different steps of the replace.
        let started = std::time::Instant::now();
        while std::fs::metadata(&path).unwrap().ino() == inode_before {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the writer never wrote"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_micros(300 + attempt * 900));
        writer.kill().unwrap();
        writer.wait().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text == versions[0] || text == versions[1],
            "attempt {attempt}: a partial file of {} bytes",
            text.len()
        );
    }
}

/// Temp files of kelp's naming beside `path`.
fn temps_beside(path: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(".auth.json.") && name.ends_with(".tmp")
        })
        .collect();
    found.sort();
    found
}

#[test]
fn temp_files_of_killed_writers_are_removed_by_the_next_save() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.json");
    write(&path, &big_version('a'));
    // Kill writers at varying moments until one dies between its temp write and the rename.
    let mut attempt = 0u64;
    while temps_beside(&path).is_empty() {
        assert!(attempt < 200, "no kill landed before a rename");
        let mut writer = child("auth_store::endless_writer_child", &path, 0);
        std::thread::sleep(Duration::from_millis(20 + attempt % 7 * 3));
        writer.kill().unwrap();
        writer.wait().unwrap();
        attempt += 1;
    }
    let left = temps_beside(&path);
    for temp in &left {
        assert_eq!(mode(temp), 0o600, "a left temp file is still private");
        // As if it had been left a while ago.
        let old = std::time::SystemTime::now() - Duration::from_secs(120);
        std::fs::File::options()
            .write(true)
            .open(temp)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    // A writer in flight right now, and files that only look similar, are left alone.
    let fresh = dir.path().join(".auth.json.AbC123.tmp");
    let similar = dir.path().join(".auth.json.notes.tmp");
    write(&fresh, "in flight");
    write(&similar, "mine");
    AuthStore::new(&path)
        .update(|f| f.set_openai(&oauth()))
        .unwrap();
    for temp in &left {
        assert!(!temp.exists(), "{} was left behind", temp.display());
    }
    assert_eq!(temps_beside(&path), vec![fresh, similar]);
    assert_eq!(read_json(&path)["openai"]["type"], "oauth");
}

#[test]
fn debug_output_never_holds_an_api_key() {
    let key = "sk-proj-ENVKEY0123456789wxyz";
    let dir = tempfile::tempdir().unwrap();
    let config = kelp::config::Config::for_origin("http://127.0.0.1:9", dir.path());
    let manager = kelp::auth::AuthManager::new(&config, crate::support::http(), Some(key.into()));
    assert!(!format!("{manager:?}").contains(key));
    let mut options = kelp::agent::core::start::CoreOptions::new(dir.path());
    options.env_api_key = Some(key.into());
    let shown = format!("{options:?}");
    assert!(!shown.contains(key), "{shown}");
    assert!(shown.contains("wxyz"), "{shown}");
}

/// opencode's writer, as it behaves: it reads the file without the lock, adds its own entry and
/// rewrites the file in place (truncate, then write: a reader in between sees it empty). It
/// writes `rounds` rounds, and on until the other writer has saved `meet` times (a loaded
/// machine slows that one most), at most ten times as many; returns how many it wrote.
fn opencode_like_writer(
    path: &Path,
    rounds: usize,
    saved: &std::sync::atomic::AtomicUsize,
    meet: usize,
) -> usize {
    let mut round = 0;
    while round < rounds * 10
        && (round < rounds || saved.load(std::sync::atomic::Ordering::Relaxed) < meet)
    {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut data: serde_json::Map<String, Value> = match serde_json::from_str(&text) {
            Ok(Value::Object(map)) => map,
            // Its own truncation, caught mid-way: opencode would start from nothing; here the
            // round is just tried again, so every entry it wrote is one it means to keep.
            _ => {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
        };
        data.insert(
            format!("provider-{round}"),
            json!({"type": "api", "key": format!("key-{round}")}),
        );
        let full = serde_json::to_string_pretty(&data).unwrap();
        let (head, tail) = full.split_at(full.len() / 2);
        let mut file = std::fs::File::create(path).unwrap();
        std::io::Write::write_all(&mut file, head.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_micros(300));
        std::io::Write::write_all(&mut file, tail.as_bytes()).unwrap();
        drop(file);
        // Far more often than opencode saves, yet with room for another writer between.
        std::thread::sleep(Duration::from_millis(2));
        round += 1;
    }
    round
}

/// kelp saving logins while opencode rewrites the same file its own way: every entry opencode
/// wrote is still there at the end, and so is kelp's login. (Before, kelp read the file empty
/// in the middle of opencode's rewrite and wrote back its own entry alone.)
#[test]
fn kelp_beside_a_writer_like_opencode_loses_no_login() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.json");
    write(&path, "{}\n");
    let saved = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writer = {
        let (path, saved) = (path.clone(), std::sync::Arc::clone(&saved));
        std::thread::spawn(move || opencode_like_writer(&path, 400, &saved, 20))
    };
    let store = AuthStore::new(&path);
    let mut saves = 0;
    while !writer.is_finished() {
        let key = format!("sk-kelp-{saves:020}");
        match store.update(|file| file.set_openai(&OpenAiEntry::Api { key: key.clone() })) {
            Ok(()) => {
                saves += 1;
                saved.store(saves, std::sync::atomic::Ordering::Relaxed);
            }
            // A file caught half-written for a whole second (a writer descheduled between
            // its two writes) is refused, never overwritten: the save is tried again.
            Err(StoreError::Corrupt { .. } | StoreError::KeptChanging { .. }) => {}
            Err(e) => panic!("{e}"),
        }
    }
    let rounds = writer.join().unwrap();
    // opencode's last write may have carried an older kelp entry: one more save after it.
    let last = OpenAiEntry::Api {
        key: "sk-kelp-last-000000000000".into(),
    };
    store.update(|file| file.set_openai(&last)).unwrap();
    let file = read_json(&path);
    let written: Vec<usize> = (0..rounds)
        .filter(|round| file.get(format!("provider-{round}")).is_some())
        .collect();
    let missing: Vec<usize> = (0..written.last().copied().unwrap_or(0))
        .filter(|round| !written.contains(round))
        .collect();
    assert!(
        saves > 10,
        "kelp saved {saves} times during the writer's run"
    );
    assert!(
        written.len() > rounds / 2,
        "{} rounds written",
        written.len()
    );
    assert!(
        missing.is_empty(),
        "entries lost to kelp's saves: {missing:?}"
    );
    assert_eq!(file["openai"]["key"], "sk-kelp-last-000000000000");
}
