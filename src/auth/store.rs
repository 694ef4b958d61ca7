//! The opencode-compatible `auth.json`, kept safer than opencode keeps it.
//!
//! The file is a JSON object keyed by provider id (PROTOCOL.md §5). kelp owns only the `openai`
//! entry; everything else — other providers, `wellknown` entries, fields we do not know inside our
//! own entry — is carried through every write untouched. Writes are read-modify-write under an
//! advisory lock on a sibling `.lock` file, then an atomic replace (temp file in the same folder,
//! fsync, rename), so a crash leaves the old or the new file and never a torn one. A file that
//! does not parse is never overwritten: we say where it is and stop.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use thiserror::Error;

use crate::private_file::{self, FileStamp};

/// The key of kelp's entry in the file.
pub const PROVIDER_ID: &str = "openai";

/// Fields an `oauth` entry owns (PROTOCOL.md §5).
const OAUTH_FIELDS: &[&str] = &["refresh", "access", "expires", "accountId", "enterpriseUrl"];
/// Fields an `api` entry owns.
const API_FIELDS: &[&str] = &["key", "metadata"];

/// Why the auth file could not be read or written. Messages are one line and name the file.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error(
        "{} is not valid JSON ({reason}); kelp left it untouched: fix or move it, then try again", crate::humanize::home_path(.path))]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "{} is {kind}, not a regular file; kelp left it untouched: move it away (or point \
         KELP_AUTH_FILE elsewhere), then try again", crate::humanize::home_path(.path))]
    NotAFile { path: PathBuf, kind: &'static str },
    #[error("{} is locked by another kelp process; try again", crate::humanize::home_path(.path))]
    Locked { path: PathBuf },
    #[error("{} would grow past 1 MiB, more than kelp reads back; nothing was written", crate::humanize::home_path(.path))]
    TooLarge { path: PathBuf },
    #[error(
        "{} kept changing while kelp saved to it (another program is rewriting it); kelp \
         left it as that program wrote it: try again", crate::humanize::home_path(.path))]
    KeptChanging { path: PathBuf },
    #[error("cannot {action} {}: {source}", crate::humanize::home_path(.path))]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// kelp's own entry, as far as kelp understands it. Secrets are redacted from `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub enum OpenAiEntry {
    /// `{"type":"api","key":…}`
    Api { key: String },
    /// `{"type":"oauth","refresh":…,"access":…,"expires":<ms>,"accountId":…}`
    OAuth(OAuthEntry),
}

/// The tokens of a ChatGPT login as stored on disk.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthEntry {
    /// The refresh token (rotates on every refresh).
    pub refresh: String,
    /// The access token, a JWT.
    pub access: String,
    /// When the access token expires, in epoch milliseconds.
    pub expires_ms: i64,
    /// The ChatGPT account id sent as `chatgpt-account-id`.
    pub account_id: Option<String>,
}

impl OAuthEntry {
    /// Who the login is, from the access token's claims: never a secret.
    pub fn account(&self) -> crate::protocol::Account {
        let claims = super::jwt::claims(&self.access).unwrap_or_default();
        crate::protocol::Account {
            email: claims.email,
            plan: claims.plan,
            account_id: self.account_id.clone().or(claims.account_id),
        }
    }
}

impl std::fmt::Debug for OpenAiEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Api { key } => f
                .debug_struct("Api")
                .field("key", &super::mask_key(key))
                .finish(),
            Self::OAuth(entry) => entry.fmt(f),
        }
    }
}

impl std::fmt::Debug for OAuthEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth")
            .field("refresh", &"<redacted>")
            .field("access", &"<redacted>")
            .field("expires_ms", &self.expires_ms)
            .field("account_id", &self.account_id)
            .finish()
    }
}

/// The parsed file: every entry, in file order, as JSON values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthFile {
    entries: Map<String, Value>,
}

impl AuthFile {
    /// Parses the file's text; an empty file counts as `{}`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(entries)) => Ok(Self { entries }),
            Ok(_) => Err("the top level must be a JSON object".to_string()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The file's text as written: pretty JSON with a final newline.
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.entries).unwrap_or_else(|_| "{}".into());
        text.push('\n');
        text
    }

    /// Every entry, for inspection.
    pub fn entries(&self) -> &Map<String, Value> {
        &self.entries
    }

    /// kelp's entry if it is one kelp understands; `None` when absent or foreign-shaped.
    pub fn openai(&self) -> Option<OpenAiEntry> {
        self.entries.get(PROVIDER_ID).and_then(read_entry)
    }

    /// Stores kelp's entry, keeping every field of the old entry that the new one does not own.
    pub fn set_openai(&mut self, new: &OpenAiEntry) {
        // Edited in place: a remove and re-insert would move other providers around the file.
        let slot = self
            .entries
            .entry(PROVIDER_ID)
            .or_insert_with(|| Value::Object(Map::new()));
        write_entry(slot, new);
    }

    /// Removes kelp's entry; returns whether there was one.
    pub fn remove_openai(&mut self) -> bool {
        self.entries.shift_remove(PROVIDER_ID).is_some()
    }

    /// Sets any entry; used by tests and by other providers' entries being carried along.
    pub fn set_raw(&mut self, key: &str, value: Value) {
        self.entries.insert(key.to_string(), value);
    }

    /// Any entry, as it is in the file.
    pub fn raw_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.entries.get_mut(key)
    }
}

/// An entry in opencode's shape (`{"type":"oauth",…}` or `{"type":"api","key":…}`) as kelp
/// understands it; `None` when foreign-shaped.
pub fn read_entry(value: &Value) -> Option<OpenAiEntry> {
    let entry = value.as_object()?;
    let text = |name: &str| entry.get(name).and_then(Value::as_str).map(str::to_string);
    match entry.get("type")?.as_str()? {
        "api" => Some(OpenAiEntry::Api { key: text("key")? }),
        "oauth" => Some(OpenAiEntry::OAuth(OAuthEntry {
            refresh: text("refresh")?,
            access: text("access")?,
            expires_ms: expires_ms(entry.get("expires")?)?,
            account_id: text("accountId"),
        })),
        _ => None,
    }
}

/// Writes `new` into `slot` in opencode's shape, keeping every field `new` does not own.
pub fn write_entry(slot: &mut Value, new: &OpenAiEntry) {
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    let Value::Object(entry) = slot else {
        return;
    };
    let (kind, owned_by_other) = match new {
        OpenAiEntry::Api { .. } => ("api", OAUTH_FIELDS),
        OpenAiEntry::OAuth(_) => ("oauth", API_FIELDS),
    };
    // Fields of the other entry type would describe a login that no longer exists.
    if entry.get("type").and_then(Value::as_str) != Some(kind) {
        for field in owned_by_other {
            entry.shift_remove(*field);
        }
    }
    entry.insert("type".into(), kind.into());
    match new {
        OpenAiEntry::Api { key } => {
            entry.insert("key".into(), key.as_str().into());
        }
        OpenAiEntry::OAuth(tokens) => {
            entry.insert("refresh".into(), tokens.refresh.as_str().into());
            entry.insert("access".into(), tokens.access.as_str().into());
            entry.insert("expires".into(), tokens.expires_ms.into());
            match &tokens.account_id {
                Some(id) => entry.insert("accountId".into(), id.as_str().into()),
                None => entry.shift_remove("accountId"),
            };
        }
    }
}

/// `expires` is integer milliseconds; others have written floats or strings, which we read
/// leniently and always write back as an integer.
fn expires_ms(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<f64>().ok().map(|f| f as i64),
        _ => None,
    }
}

/// How often an update is done again when another writer got in between.
const UPDATE_ATTEMPTS: u32 = 20;
/// About how long to wait before doing an update again.
const UPDATE_PAUSE: std::time::Duration = std::time::Duration::from_millis(3);

/// Reads of a file that is empty or unparsable before it is taken as it is, and the wait
/// between them: another tool's in-place rewrite takes well under this.
const SETTLE_READS: usize = 40;
const SETTLE_WAIT: std::time::Duration = std::time::Duration::from_millis(25);

/// The largest auth file read: a few logins take a few KiB.
const MAX_AUTH_FILE_BYTES: u64 = 1024 * 1024;

/// The auth file on disk.
#[derive(Debug, Clone)]
pub struct AuthStore {
    path: PathBuf,
}

impl AuthStore {
    /// A store for the file at `path` (which need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the file; a missing file is an empty one. Needs no lock: writers replace the file
    /// atomically, so a reader sees the old or the new version whole.
    pub fn load(&self) -> Result<AuthFile, StoreError> {
        self.load_stamped().map(|(file, _)| file)
    }

    /// [`Self::load`], with the stamp of the version read (`None`: there is no file).
    fn load_stamped(&self) -> Result<(AuthFile, Option<FileStamp>), StoreError> {
        let io_error = |source| StoreError::Io {
            action: "read",
            path: self.path.clone(),
            source,
        };
        // Opened without blocking and checked before reading: a FIFO or a device in its place
        // would otherwise hang every command.
        let file = match fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&self.path)
        {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok((AuthFile::default(), None));
            }
            Err(e) => return Err(io_error(e)),
        };
        let meta = file.metadata().map_err(io_error)?;
        let stamp = FileStamp::of(&meta);
        if !meta.is_file() {
            return Err(StoreError::NotAFile {
                path: self.path.clone(),
                kind: private_file::kind_of(&meta),
            });
        }
        private_file::keep_private(&self.path, &meta, Some(&file));
        private_file::keep_folder_private(&self.path);
        let mut bytes = Vec::new();
        (&file)
            .take(MAX_AUTH_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error)?;
        let corrupt = |reason: String| StoreError::Corrupt {
            path: self.path.clone(),
            reason,
        };
        if bytes.len() as u64 > MAX_AUTH_FILE_BYTES {
            return Err(corrupt("larger than 1 MiB".to_string()));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            corrupt(format!(
                "not UTF-8 text: a bad byte at offset {}",
                e.utf8_error().valid_up_to()
            ))
        })?;
        AuthFile::parse(&text)
            .map(|file| (file, Some(stamp)))
            .map_err(corrupt)
    }

    /// Runs `change` on the current contents under the lock and writes the result atomically
    /// if it changed anything. A corrupt file fails before `change` runs and stays as it was.
    pub fn update<T>(&self, change: impl FnMut(&mut AuthFile) -> T) -> Result<T, StoreError> {
        let _lock = self.lock()?;
        self.update_locked(change)
    }

    /// [`Self::update`] for a caller that holds the lock already.
    ///
    /// Other tools write the file without the lock: opencode truncates it, then writes. So a
    /// file that reads empty or unparsable is read again until it settles (an empty one is
    /// taken as empty only once it stayed so), and the version read must still be the file's
    /// just before the new one is renamed over it; if another writer got in between, the whole
    /// read-change-write is done again on what it wrote. No login of another tool is lost to
    /// kelp's write.
    pub fn update_locked<T>(
        &self,
        mut change: impl FnMut(&mut AuthFile) -> T,
    ) -> Result<T, StoreError> {
        let target = self.target();
        for attempt in 1..=UPDATE_ATTEMPTS {
            let (mut file, read) = self.load_settled()?;
            let before = file.clone();
            let result = change(&mut file);
            if file == before {
                return Ok(result);
            }
            let text = file.to_text();
            // Never a file its own reader refuses: every login in it would be lost to kelp.
            if text.len() as u64 > MAX_AUTH_FILE_BYTES {
                return Err(StoreError::TooLarge {
                    path: self.path.clone(),
                });
            }
            let replaced = private_file::replace_if_unchanged(&target, text.as_bytes(), read)
                .map_err(|e| self.io_error(e))?;
            if replaced {
                return Ok(result);
            }
            tracing::info!("the auth file changed while kelp updated it; updating it again");
            // Out of step with the other writer's rhythm before the next try.
            std::thread::sleep(crate::random::backoff(UPDATE_PAUSE, attempt.min(4)));
        }
        Err(StoreError::KeptChanging {
            path: self.path.clone(),
        })
    }

    /// Reads the file once it has settled: an existing file that reads empty or unparsable may
    /// be in the middle of another tool's rewrite, so it is read again a few times. An empty
    /// file that stays the same is empty; one that stays unparsable is corrupt.
    fn load_settled(&self) -> Result<(AuthFile, Option<FileStamp>), StoreError> {
        let mut attempt = 0;
        let mut previous: Option<FileStamp> = None;
        loop {
            attempt += 1;
            let loaded = self.load_stamped();
            let unsettled = match &loaded {
                Ok((_, Some(stamp))) => stamp.is_empty() && previous != Some(*stamp),
                Ok((_, None)) => false,
                Err(StoreError::Corrupt { .. }) => true,
                Err(_) => false,
            };
            if !unsettled || attempt >= SETTLE_READS {
                return loaded;
            }
            previous = loaded.as_ref().ok().and_then(|(_, stamp)| *stamp);
            std::thread::sleep(SETTLE_WAIT);
        }
    }

    /// Takes the advisory lock on the sibling lock file, creating the folder if needed.
    /// The lock is released when the returned handle is dropped.
    pub fn lock(&self) -> Result<File, StoreError> {
        self.lock_within(private_file::LOCK_WAIT)
    }

    /// [`Self::lock`] giving up after `wait` with [`StoreError::Locked`].
    pub(crate) fn lock_within(&self, wait: std::time::Duration) -> Result<File, StoreError> {
        private_file::lock_beside_within(&self.target(), wait).map_err(|e| self.io_error(e))
    }

    /// Atomically replaces the file with `text` (see [`private_file::replace`]): the old or the
    /// new file survives a crash, never a torn one. Callers hold the lock.
    pub fn replace(&self, text: &str) -> Result<(), StoreError> {
        private_file::replace(&self.target(), text.as_bytes()).map_err(|e| self.io_error(e))
    }

    /// The file writes go to: where a symlinked auth file (dotfile managers) points, so the
    /// link survives a write, and the lock sits beside the file every link shares.
    fn target(&self) -> PathBuf {
        match fs::symlink_metadata(&self.path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone())
            }
            _ => self.path.clone(),
        }
    }

    fn io_error(&self, e: private_file::FileError) -> StoreError {
        if e.is_busy() {
            return StoreError::Locked {
                path: self.path.clone(),
            };
        }
        StoreError::Io {
            action: e.action,
            path: self.path.clone(),
            source: e.source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn oauth(refresh: &str) -> OpenAiEntry {
        OpenAiEntry::OAuth(OAuthEntry {
            refresh: refresh.into(),
            access: "acc".into(),
            expires_ms: 1_750_000_000_123,
            account_id: Some("acct_1".into()),
        })
    }

    #[test]
    fn a_lock_held_elsewhere_fails_with_a_message_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = AuthStore::new(dir.path().join("auth.json"));
        let _held = store.lock().unwrap();
        let err = store
            .lock_within(std::time::Duration::from_millis(200))
            .unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "{} is locked by another kelp process; try again",
                store.path().display()
            )
        );
    }

    #[test]
    fn updating_keeps_the_order_of_providers_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = AuthStore::new(dir.path().join("auth.json"));
        fs::write(
            store.path(),
            r#"{"anthropic":{"type":"api","key":"a"},"openai":{"type":"api","key":"o"},"zed":{"type":"api","key":"z"}}"#,
        )
        .unwrap();
        store.update(|f| f.set_openai(&oauth("r2"))).unwrap();
        let text = fs::read_to_string(store.path()).unwrap();
        let keys: Vec<String> = serde_json::from_str::<Map<String, Value>>(&text)
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["anthropic", "openai", "zed"]);
        assert_eq!(store.load().unwrap().openai(), Some(oauth("r2")));
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_file_is_written_where_it_points() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("dotfiles").join("auth.json");
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::write(&target, r#"{"other":{"type":"api","key":"x"}}"#).unwrap();
        let link = dir.path().join("auth.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();

        let store = AuthStore::new(&link);
        store.update(|f| f.set_openai(&oauth("r2"))).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_link(&link).unwrap(), target);
        let written = AuthStore::new(&target).load().unwrap();
        assert_eq!(written.openai(), Some(oauth("r2")));
        assert!(written.entries().contains_key("other"));
        assert!(private_file::sibling(&target, ".lock").exists());
    }

    #[test]
    fn switching_entry_type_drops_the_old_types_fields_but_keeps_unknown_ones() {
        let mut file = AuthFile::parse(
            r#"{"openai":{"type":"oauth","refresh":"r","access":"a","expires":1,"accountId":"x","custom":{"k":1}}}"#,
        )
        .unwrap();
        file.set_openai(&OpenAiEntry::Api { key: "sk-1".into() });
        assert_eq!(
            file.entries()["openai"],
            json!({"type":"api","custom":{"k":1},"key":"sk-1"})
        );
    }

    #[test]
    fn same_type_update_keeps_foreign_fields_in_place() {
        let mut file = AuthFile::parse(
            r#"{"openai":{"type":"oauth","refresh":"r","access":"a","expires":1,"enterpriseUrl":"https://e"}}"#,
        )
        .unwrap();
        file.set_openai(&oauth("r2"));
        let entry = &file.entries()["openai"];
        assert_eq!(entry["enterpriseUrl"], "https://e");
        assert_eq!(entry["refresh"], "r2");
        assert!(entry["expires"].is_i64());
    }

    #[test]
    fn lenient_expires_is_read_and_written_back_as_an_integer() {
        let mut file = AuthFile::parse(
            r#"{"openai":{"type":"oauth","refresh":"r","access":"a","expires":"1700000000000.5"}}"#,
        )
        .unwrap();
        let Some(OpenAiEntry::OAuth(entry)) = file.openai() else {
            panic!("oauth entry expected")
        };
        assert_eq!(entry.expires_ms, 1_700_000_000_000);
        file.set_openai(&OpenAiEntry::OAuth(entry));
        assert_eq!(
            file.entries()["openai"]["expires"],
            json!(1_700_000_000_000i64)
        );
    }

    #[test]
    fn non_object_top_level_is_an_error() {
        assert!(AuthFile::parse("[1,2]").is_err());
        assert!(AuthFile::parse("   ").unwrap().entries().is_empty());
    }

    #[test]
    fn debug_never_shows_secrets() {
        let shown = format!(
            "{:?} {:?}",
            oauth("refresh-secret"),
            OpenAiEntry::Api {
                key: "sk-proj-verysecretkey1234".into()
            }
        );
        assert!(!shown.contains("refresh-secret"), "{shown}");
        assert!(!shown.contains("verysecret"), "{shown}");
        assert!(shown.contains("sk-…1234"), "{shown}");
    }
}
