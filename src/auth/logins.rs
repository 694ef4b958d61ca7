//! Several logins, one in use. The one in use is the auth file's `openai` entry, where opencode
//! reads it and every request takes it from; the others wait in `kelp-accounts.json` beside the
//! auth file, each under a name, in the same entry shape:
//!
//! ```json
//! { "active": { "name": "work", "who": "chatgpt:user-1/acct-1", "since": 1790000000 },
//!   "kept": { "home": { "type": "oauth", "refresh": "…", "access": "…", "expires": 0,
//!                       "accountId": "…", "lastUsedAt": 1790000000 } } }
//! ```
//!
//! Both files are changed under both locks (the auth file's first, as a refresh takes it), each
//! write atomic and 0600 through [`AuthStore`]. A switch writes in an order that loses nothing
//! whenever it stops: the login in use is kept first, then the chosen one goes into the auth
//! file, then its copy among the kept ones goes. A refresh writes the auth file only: the kept
//! logins stay byte for byte. Switching revokes nothing.

use std::path::Path;

use serde_json::{Map, Value, json};
use thiserror::Error;

use super::jwt;
use super::mask_key;
use super::store::{AuthFile, AuthStore, OpenAiEntry, StoreError, read_entry, write_entry};
use crate::protocol::{AuthSummary, LoginRow};

/// kelp's own file beside the auth file.
pub const FILE_NAME: &str = crate::config::LOGINS_FILE_NAME;

/// The longest name a login may have.
const MAX_NAME_CHARS: usize = 64;

/// Why a login could not be named, switched to or removed. One line each.
#[derive(Debug, Error)]
pub enum LoginsError {
    #[error(
        "no login is named {name:?}: kelp keeps {}; `kelp login --name {name}` adds it",
        known_names(.known)
    )]
    NoSuchLogin { name: String, known: Vec<String> },
    #[error(
        "{0:?} cannot name a login: use 1 to 64 letters, digits or `-_.@+`, as in `work` or \
         `ana@example.com`"
    )]
    BadName(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    SignOut(#[from] super::AuthError),
}

fn known_names(known: &[String]) -> String {
    if known.is_empty() {
        "none".to_string()
    } else {
        known.join(", ")
    }
}

/// What removing a login by name removed; its refresh token may be revoked now.
#[derive(Debug)]
pub enum Removed {
    /// A kept login, gone from kelp's file.
    Kept(OpenAiEntry),
    /// The login in use, gone from the auth file: no login is in use now.
    Active(OpenAiEntry),
}

impl Removed {
    /// The login removed.
    pub fn entry(&self) -> &OpenAiEntry {
        match self {
            Self::Kept(entry) | Self::Active(entry) => entry,
        }
    }
}

/// The logins beside one auth file.
#[derive(Debug, Clone)]
pub struct Logins {
    auth: AuthStore,
    kept: AuthStore,
}

impl Logins {
    /// The logins of `auth`, the others kept in [`FILE_NAME`] beside it.
    pub fn beside(auth: &AuthStore) -> Self {
        Self {
            auth: auth.clone(),
            kept: AuthStore::new(auth.path().with_file_name(FILE_NAME)),
        }
    }

    /// kelp's file of the logins not in use.
    pub fn path(&self) -> &Path {
        self.kept.path()
    }

    /// Every login: the one in use first, then the others, the last used first.
    pub fn list(&self) -> Result<Vec<LoginRow>, StoreError> {
        let current = self.auth.load()?.openai();
        Ok(listed(&self.kept.load()?, current.as_ref(), now_secs()))
    }

    /// The name of the login in use, if there is one.
    pub fn active_name(&self) -> Result<Option<String>, StoreError> {
        let Some(current) = self.auth.load()?.openai() else {
            return Ok(None);
        };
        Ok(Some(name_in_use(&self.kept.load()?, &current)))
    }

    /// Makes `entry` (a login just made) the one in use, under `name` or the name it had, else
    /// its email; the one in use before is kept under its own name. A login that held `name`
    /// already keeps going under `name-2`. Returns the name it got.
    pub fn adopt(&self, name: Option<&str>, entry: &OpenAiEntry) -> Result<String, LoginsError> {
        if let Some(name) = name {
            check_name(name)?;
        }
        let _auth_lock = self.auth.lock()?;
        let _kept_lock = self.kept.lock()?;
        let current = self.auth.load()?.openai();
        let who = identity(entry);
        let now = now_secs();
        let given = self.kept.update_locked(|kept| {
            let given = match name {
                Some(name) => {
                    move_aside(kept, name, &who);
                    name.to_string()
                }
                None => name_in_use(kept, entry),
            };
            if let Some(current) = current.as_ref().filter(|c| identity(c) != who) {
                let name = name_in_use(kept, current);
                let name = if name == given {
                    free_name(kept, &name, Some(&given))
                } else {
                    name
                };
                keep(kept, &name, current, now);
            }
            set_active(kept, &given, &who, now);
            given
        })?;
        self.auth.update_locked(|file| file.set_openai(entry))?;
        self.kept
            .update_locked(|kept| forget_copies(kept, &who, &given))?;
        Ok(given)
    }

    /// Puts the login kept as `name` in use; the one in use before is kept. Revokes nothing.
    pub fn switch(&self, name: &str) -> Result<LoginRow, LoginsError> {
        let _auth_lock = self.auth.lock()?;
        let _kept_lock = self.kept.lock()?;
        let current = self.auth.load()?.openai();
        let kept_file = self.kept.load()?;
        let Some(target) = kept_entry(&kept_file, name) else {
            if current
                .as_ref()
                .is_some_and(|current| name_in_use(&kept_file, current) == name)
            {
                return self.in_use(name);
            }
            return Err(self.no_such(&kept_file, current.as_ref(), name));
        };
        let who = identity(&target);
        let now = now_secs();
        // A kept copy of the login in use (a switch stopped half way left it): its tokens may
        // have rotated since in the auth file, which keeps the login as it is.
        if current.as_ref().is_some_and(|c| identity(c) == who) {
            self.kept.update_locked(|kept| {
                set_active(kept, name, &who, now);
                forget_copies(kept, &who, name);
            })?;
            return self.in_use(name);
        }
        self.kept.update_locked(|kept| {
            if let Some(current) = &current {
                let name = name_in_use(kept, current);
                keep(kept, &name, current, now);
            }
            set_active(kept, name, &who, now);
        })?;
        self.auth.update_locked(|file| file.set_openai(&target))?;
        self.kept
            .update_locked(|kept| forget_copies(kept, &who, name))?;
        self.in_use(name)
    }

    /// Removes the login named `name` (its entry returned, to be revoked): a kept one from
    /// kelp's file, or the one in use from the auth file, while no switch can come between.
    pub fn remove(&self, name: &str) -> Result<Removed, LoginsError> {
        let _auth_lock = self.auth.lock()?;
        let _kept_lock = self.kept.lock()?;
        let current = self.auth.load()?.openai();
        let kept_file = self.kept.load()?;
        if let Some(current) = &current
            && name_in_use(&kept_file, current) == name
        {
            let who = identity(current);
            // Only the login looked at: one another writer put there meanwhile stays.
            self.auth.update_locked(|file| {
                if file.openai().is_some_and(|now| identity(&now) == who) {
                    file.remove_openai();
                }
            })?;
            self.kept
                .update_locked(|kept| forget_copies(kept, &who, name))?;
            return Ok(Removed::Active(current.clone()));
        }
        let Some(entry) = kept_entry(&kept_file, name) else {
            return Err(self.no_such(&kept_file, current.as_ref(), name));
        };
        self.kept.update_locked(|kept| {
            if let Some(Value::Object(logins)) = kept.raw_mut("kept") {
                logins.shift_remove(name);
            }
        })?;
        Ok(Removed::Kept(entry))
    }

    fn in_use(&self, name: &str) -> Result<LoginRow, LoginsError> {
        let listed = self.list()?;
        listed
            .into_iter()
            .find(|login| login.active)
            .ok_or_else(|| LoginsError::NoSuchLogin {
                name: name.to_string(),
                known: Vec::new(),
            })
    }

    fn no_such(&self, kept: &AuthFile, current: Option<&OpenAiEntry>, name: &str) -> LoginsError {
        LoginsError::NoSuchLogin {
            name: name.to_string(),
            known: listed(kept, current, 0)
                .into_iter()
                .map(|login| login.name)
                .collect(),
        }
    }
}

/// Puts a fresh login in use as kelp's entry, under `name` (else the name it had, else its
/// email); the login in use before is kept beside it. What the login flows call last.
pub async fn save_login(
    store: &AuthStore,
    name: Option<String>,
    entry: super::store::OAuthEntry,
) -> Result<(), LoginsError> {
    super::with_store(store, move |store| {
        Logins::beside(store)
            .adopt(name.as_deref(), &OpenAiEntry::OAuth(entry))
            .map(drop)
    })
    .await
}

/// Checks a name the person gave.
pub fn check_name(name: &str) -> Result<(), LoginsError> {
    let fits = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "-_.@+".contains(c));
    fits.then_some(())
        .ok_or_else(|| LoginsError::BadName(name.to_string()))
}

/// Who a login is, to tell two apart without keeping a secret: a ChatGPT user in a workspace,
/// or an API key by its SHA-256.
fn identity(entry: &OpenAiEntry) -> String {
    match entry {
        OpenAiEntry::Api { key } => format!("key:{}", crate::kept_hashes::hash_of(&[key])),
        OpenAiEntry::OAuth(tokens) => {
            let claims = jwt::claims(&tokens.access).unwrap_or_default();
            let workspace = tokens
                .account_id
                .clone()
                .or(claims.account_id)
                .unwrap_or_default();
            match claims.user_id.or(claims.email) {
                Some(user) => format!("chatgpt:{user}/{workspace}"),
                // Nobody named: never taken for another login (its own refresh token).
                None => format!(
                    "chatgpt-unnamed:{}",
                    crate::kept_hashes::hash_of(&[&tokens.refresh])
                ),
            }
        }
    }
}

/// The name a login goes by when none was given: its email, else what kind it is.
fn default_name(entry: &OpenAiEntry) -> String {
    match entry {
        OpenAiEntry::Api { .. } => "api-key".to_string(),
        OpenAiEntry::OAuth(tokens) => tokens
            .account()
            .email
            .filter(|email| check_name(email).is_ok())
            .unwrap_or_else(|| "chatgpt".to_string()),
    }
}

/// The name of the login in the auth file: the name it is kept under, else the one recorded
/// when it was put in use, else its own name.
fn name_in_use(kept: &AuthFile, current: &OpenAiEntry) -> String {
    let who = identity(current);
    if let Some(name) = kept_logins(kept)
        .find(|(_, entry, _)| identity(entry) == who)
        .map(|(name, _, _)| name)
    {
        return name;
    }
    let active = kept.entries().get("active");
    let recorded = |field: &str| active.and_then(|a| a.get(field)).and_then(Value::as_str);
    match (recorded("name"), recorded("who")) {
        (Some(name), Some(recorded)) if recorded == who => name.to_string(),
        _ => free_name(kept, &default_name(current), None),
    }
}

/// `name`, or `name-2`, `name-3`… whichever no kept login has and is not `reserved`.
fn free_name(kept: &AuthFile, name: &str, reserved: Option<&str>) -> String {
    let taken = |candidate: &str| {
        reserved == Some(candidate)
            || kept_logins(kept).any(|(kept_name, _, _)| kept_name == candidate)
    };
    if !taken(name) {
        return name.to_string();
    }
    (2..)
        .map(|n| format!("{name}-{n}"))
        .find(|candidate| !taken(candidate))
        .unwrap_or_else(|| name.to_string())
}

/// A kept login named `name` that is not `who` goes on under a free name.
fn move_aside(kept: &mut AuthFile, name: &str, who: &str) {
    let Some(entry) = kept_entry(kept, name).filter(|entry| identity(entry) != who) else {
        return;
    };
    let last_used = last_used(kept, name);
    let other = free_name(kept, name, None);
    keep(kept, &other, &entry, last_used);
    if let Some(Value::Object(logins)) = kept.raw_mut("kept") {
        logins.shift_remove(name);
    }
}

fn kept_logins(kept: &AuthFile) -> impl Iterator<Item = (String, OpenAiEntry, i64)> + '_ {
    kept.entries()
        .get("kept")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(name, value)| {
            let last_used = value.get("lastUsedAt").and_then(Value::as_i64).unwrap_or(0);
            Some((name.clone(), read_entry(value)?, last_used))
        })
}

fn kept_entry(kept: &AuthFile, name: &str) -> Option<OpenAiEntry> {
    kept_logins(kept)
        .find(|(kept_name, _, _)| kept_name == name)
        .map(|(_, entry, _)| entry)
}

fn last_used(kept: &AuthFile, name: &str) -> i64 {
    kept_logins(kept)
        .find(|(kept_name, _, _)| kept_name == name)
        .map_or(0, |(_, _, at)| at)
}

/// Keeps `entry` under `name`, last used at `at`.
fn keep(kept: &mut AuthFile, name: &str, entry: &OpenAiEntry, at: i64) {
    let logins = kept_map(kept);
    let slot = logins
        .entry(name.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    write_entry(slot, entry);
    if let Value::Object(fields) = slot {
        fields.insert("lastUsedAt".into(), at.into());
    }
}

fn kept_map(kept: &mut AuthFile) -> &mut Map<String, Value> {
    if !kept.entries().get("kept").is_some_and(Value::is_object) {
        kept.set_raw("kept", Value::Object(Map::new()));
    }
    match kept.raw_mut("kept") {
        Some(Value::Object(logins)) => logins,
        _ => unreachable!("set just above"),
    }
}

fn set_active(kept: &mut AuthFile, name: &str, who: &str, since: i64) {
    kept.set_raw(
        "active",
        json!({ "name": name, "who": who, "since": since }),
    );
}

/// Drops kept copies of the login in use (`who`), and whatever is kept under its `name`.
fn forget_copies(kept: &mut AuthFile, who: &str, name: &str) {
    let copies: Vec<String> = kept_logins(kept)
        .filter(|(kept_name, entry, _)| kept_name == name || identity(entry) == who)
        .map(|(kept_name, _, _)| kept_name)
        .collect();
    if let Some(Value::Object(logins)) = kept.raw_mut("kept") {
        for copy in copies {
            logins.shift_remove(&copy);
        }
    }
}

/// Every login, the one in use first.
fn listed(kept: &AuthFile, current: Option<&OpenAiEntry>, now: i64) -> Vec<LoginRow> {
    let who = current.map(identity);
    let mut logins: Vec<LoginRow> = kept_logins(kept)
        .filter(|(_, entry, _)| who.as_deref() != Some(identity(entry).as_str()))
        .map(|(name, entry, last_used_secs)| LoginRow {
            name,
            active: false,
            who: summary(&entry),
            last_used_secs,
        })
        .collect();
    logins.sort_by_key(|login| std::cmp::Reverse(login.last_used_secs));
    if let Some(current) = current {
        logins.insert(
            0,
            LoginRow {
                name: name_in_use(kept, current),
                active: true,
                who: summary(current),
                last_used_secs: now,
            },
        );
    }
    logins
}

fn summary(entry: &OpenAiEntry) -> AuthSummary {
    match entry {
        OpenAiEntry::OAuth(tokens) => AuthSummary::ChatGpt(tokens.account()),
        OpenAiEntry::Api { key } => AuthSummary::ApiKey {
            masked: mask_key(key),
        },
    }
}

fn now_secs() -> i64 {
    super::oauth::now_ms() / 1000
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::OAuthEntry;

    fn chatgpt(email: &str, user: &str, refresh: &str) -> OpenAiEntry {
        let auth = json!({"chatgpt_account_id": "acct-1", "chatgpt_user_id": user});
        let access = jwt::unsigned_token(&json!({
            "email": email,
            "https://api.openai.com/auth": auth,
        }));
        OpenAiEntry::OAuth(OAuthEntry {
            refresh: refresh.into(),
            access,
            expires_ms: 1_900_000_000_000,
            account_id: Some("acct-1".into()),
        })
    }

    fn logins() -> (tempfile::TempDir, Logins) {
        let dir = tempfile::tempdir().unwrap();
        let logins = Logins::beside(&AuthStore::new(dir.path().join("auth.json")));
        (dir, logins)
    }

    fn names(logins: &Logins) -> Vec<(String, bool)> {
        let listed = logins.list().unwrap();
        listed.into_iter().map(|l| (l.name, l.active)).collect()
    }

    #[test]
    fn a_second_login_keeps_the_first_and_a_switch_swaps_them_back() {
        let (_dir, logins) = logins();
        let home = chatgpt("ana@home.example", "user-home", "rt-home");
        let work = chatgpt("ana@work.example", "user-work", "rt-work");
        assert_eq!(logins.adopt(None, &home).unwrap(), "ana@home.example");
        assert_eq!(logins.adopt(Some("work"), &work).unwrap(), "work");
        assert_eq!(
            names(&logins),
            [("work".into(), true), ("ana@home.example".into(), false)]
        );
        assert_eq!(logins.auth.load().unwrap().openai(), Some(work.clone()));

        let now = logins.switch("ana@home.example").unwrap();
        assert_eq!(now.name, "ana@home.example");
        assert_eq!(logins.auth.load().unwrap().openai(), Some(home));
        assert_eq!(
            names(&logins),
            [("ana@home.example".into(), true), ("work".into(), false)]
        );
        // The login in use is never kept twice: its tokens rotate in the auth file only.
        let kept = logins.kept.load().unwrap();
        assert_eq!(kept_logins(&kept).count(), 1);
        assert_eq!(kept_entry(&kept, "work"), Some(work));
    }

    #[test]
    fn a_name_already_taken_moves_the_other_login_aside_and_nothing_is_lost() {
        let (_dir, logins) = logins();
        let first = chatgpt("a@example.com", "user-a", "rt-a");
        let second = chatgpt("b@example.com", "user-b", "rt-b");
        let third = chatgpt("c@example.com", "user-c", "rt-c");
        logins.adopt(Some("work"), &first).unwrap();
        logins.adopt(Some("work"), &second).unwrap();
        logins.adopt(Some("work"), &third).unwrap();
        let listed = logins.list().unwrap();
        let emails: Vec<_> = listed
            .iter()
            .map(|l| (l.name.as_str(), l.who.describe()))
            .collect();
        assert_eq!(emails.len(), 3, "{emails:?}");
        assert_eq!(emails[0], ("work", "c@example.com".to_string()));
        assert!(emails.iter().any(|(_, who)| who == "a@example.com"));
        assert!(emails.iter().any(|(_, who)| who == "b@example.com"));
    }

    #[test]
    fn logging_in_again_as_a_kept_login_replaces_its_old_copy() {
        let (_dir, logins) = logins();
        let home = chatgpt("ana@home.example", "user-home", "rt-home");
        logins.adopt(Some("home"), &home).unwrap();
        logins
            .adopt(Some("work"), &chatgpt("w@x.example", "user-w", "rt-w"))
            .unwrap();
        let home_again = chatgpt("ana@home.example", "user-home", "rt-home-2");
        assert_eq!(logins.adopt(None, &home_again).unwrap(), "home");
        assert_eq!(
            names(&logins),
            [("home".into(), true), ("work".into(), false)]
        );
        let kept = logins.kept.load().unwrap();
        assert_eq!(kept_entry(&kept, "home"), None);
    }

    #[test]
    fn unknown_and_bad_names_are_said_in_words() {
        let (_dir, logins) = logins();
        logins
            .adopt(Some("home"), &chatgpt("h@x.example", "user-h", "rt"))
            .unwrap();
        let err = logins.switch("work").unwrap_err().to_string();
        assert!(err.contains("no login is named \"work\""), "{err}");
        assert!(err.contains("kelp keeps home;"), "{err}");
        assert!(err.contains("kelp login --name work"), "{err}");
        assert!(matches!(
            logins.adopt(Some("a b"), &OpenAiEntry::Api { key: "sk".into() }),
            Err(LoginsError::BadName(_))
        ));
        assert!(logins.switch("home").unwrap().active, "already in use");
        assert!(matches!(logins.remove("home"), Ok(Removed::Active(_))));
        assert_eq!(logins.auth.load().unwrap().openai(), None);
    }

    #[test]
    fn a_switch_to_the_login_in_use_never_puts_a_stale_copy_back() {
        let (_dir, logins) = logins();
        logins
            .adopt(Some("home"), &chatgpt("h@x.example", "user-h", "rt-h"))
            .unwrap();
        let fresh = chatgpt("w@x.example", "user-w", "rt-w-rotated");
        logins.adopt(Some("work"), &fresh).unwrap();
        // A copy a stopped switch left, with the refresh token before it rotated.
        let stale = chatgpt("w@x.example", "user-w", "rt-w-old");
        logins
            .kept
            .update(|kept| keep(kept, "work", &stale, 5))
            .unwrap();
        assert!(logins.switch("work").unwrap().active);
        assert_eq!(logins.auth.load().unwrap().openai(), Some(fresh));
        assert_eq!(kept_entry(&logins.kept.load().unwrap(), "work"), None);
    }

    #[test]
    fn short_keys_and_unnamed_tokens_are_never_taken_for_each_other() {
        let short = |key: &str| OpenAiEntry::Api { key: key.into() };
        assert_ne!(identity(&short("sk-a")), identity(&short("sk-b")));
        let unnamed = |refresh: &str| {
            OpenAiEntry::OAuth(OAuthEntry {
                refresh: refresh.into(),
                access: jwt::unsigned_token(&json!({})),
                expires_ms: 0,
                account_id: Some("acct".into()),
            })
        };
        assert_ne!(identity(&unnamed("rt-1")), identity(&unnamed("rt-2")));
    }

    #[test]
    fn a_switch_stopped_half_way_still_lists_every_login_once() {
        let (_dir, logins) = logins();
        let home = chatgpt("h@x.example", "user-h", "rt-h");
        let work = chatgpt("w@x.example", "user-w", "rt-w");
        logins.adopt(Some("home"), &home).unwrap();
        logins.adopt(Some("work"), &work).unwrap();
        // The first write of a switch to "home" done, the auth file not yet: "work" is kept and
        // the record already names "home".
        logins
            .kept
            .update(|kept| {
                keep(kept, "work", &work, 5);
                set_active(kept, "home", &identity(&home), 5);
            })
            .unwrap();
        assert_eq!(
            names(&logins),
            [("work".into(), true), ("home".into(), false)]
        );
    }
}
