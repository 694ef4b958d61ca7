//! The saved threads as a host reads them (`thread/list`, `thread/read`, `thread/turns/list`,
//! `thread/items/list`): files only, no core, so each request is served on a task of its own
//! and a 200 MB session being read holds up no other request. A page reads only its turns'
//! lines, through an index of the file (where each turn and line lies, not their text) kept
//! while the file is unchanged: memory follows the page, not the file.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use crate::protocol::SessionSummary;
use serde::Deserialize;
use serde_json::{Value, json};

use super::items::Translator;
use super::shapes::Outgoing;
use super::wire::{Answer, Page, RpcError, params};
use crate::config::Config;
use crate::protocol::{Replay, Replayed, TurnEnd};
use crate::session::SessionIndex;
use crate::wire::requests::{CwdFilter, ThreadListParams};
use crate::wire::{
    ListPage, Message, Thread, ThreadItem, ThreadResponse, Turn, TurnItem, TurnStatus, Turns,
};

/// The saved threads of a connection: where they are, and the last history read.
#[derive(Clone)]
pub struct Saved {
    /// Where kelp keeps its sessions (a config write does not move it).
    state_dir: PathBuf,
    /// The index of the last saved session read: a host paging a thread it reloads has the
    /// sessions searched and its file scanned once, not once a page.
    index_cache: Arc<Mutex<Option<CachedIndex>>>,
}

/// A session's index, kept for the id a host asked by while the file keeps its size and time.
struct CachedIndex {
    asked: String,
    summary: crate::protocol::SessionSummary,
    stamp: FileStamp,
    index: Arc<SessionIndex>,
}

/// How much of a session file is read at a time where a request goes through a whole
/// thread's items.
const BYTES_AT_A_TIME: u64 = 1024 * 1024;

/// The turns in `range` of a saved thread, as the protocol's turns.
pub(super) fn turn_values(
    summary: &crate::protocol::SessionSummary,
    index: &SessionIndex,
    range: std::ops::Range<usize>,
) -> Result<Vec<Turn>, crate::session::SessionError> {
    let log = index.load_turns(range)?;
    let replay = crate::agent::replay::replay_from(
        &log.items,
        log.items_base,
        log.turns_at_base,
        &log.notes,
        &summary.project_dir,
    );
    let thread_id = summary.id.to_string();
    Ok(history_turns(&replay, &thread_id, &summary.project_dir))
}

/// A saved thread's turns as an answer carries them whole (`thread/read` with its turns,
/// `thread/resume` of a thread held): read from the file a run of about [`BYTES_AT_A_TIME`] at
/// a time while they are serialised, so what is held is the answer's text, never the history
/// besides.
#[derive(Debug, Clone)]
pub struct SavedTurns {
    summary: crate::protocol::SessionSummary,
    index: Arc<SessionIndex>,
}

impl crate::wire::TurnSource for SavedTurns {
    fn count(&self) -> usize {
        self.index.turns()
    }

    fn runs(
        &self,
    ) -> Box<dyn Iterator<Item = Result<Vec<Turn>, crate::wire::TurnSourceError>> + '_> {
        Box::new(
            self.index
                .runs(0..self.index.turns(), BYTES_AT_A_TIME)
                .into_iter()
                .map(|run| turn_values(&self.summary, &self.index, run).map_err(Into::into)),
        )
    }

    fn identity(&self) -> *const () {
        Arc::as_ptr(&self.index).cast()
    }
}

/// A file's size and time: what tells a session file that has not changed.
type FileStamp = (u64, Option<std::time::SystemTime>);

fn stamp_of(path: &std::path::Path) -> Option<FileStamp> {
    std::fs::metadata(path)
        .map(|meta| (meta.len(), meta.modified().ok()))
        .ok()
}

/// A saved session as a thread: its first prompt the preview, its start and last write the
/// times.
pub fn listed_thread(
    session: &crate::protocol::SessionSummary,
    names: &HashMap<uuid::Uuid, String>,
) -> Thread {
    let created = session.started_at.timestamp();
    let updated = session
        .modified
        .and_then(|at| at.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|since| i64::try_from(since.as_secs()).ok())
        .unwrap_or(created);
    let id = session.id.to_string();
    let preview = session.first_prompt.as_deref().unwrap_or_default();
    let mut thread = Thread::new(&id, &session.project_dir, preview, created, updated);
    thread.name = Some(names.get(&session.id).cloned());
    thread.path = Some(session.path.clone());
    // A fork says where it came from, as its header keeps it.
    if let Some(origin) = session.forked_from {
        thread.forked_from_id = Some(Some(origin.to_string()));
    }
    thread.attached_to_thread_id = session.side_of.map(|parent| parent.to_string());
    if let Some(agent) = &session.agent {
        thread.spawned_by(&agent.parent.to_string(), &agent.path);
    }
    thread
}

/// Which threads `thread/list` gives by where they came from, as Codex filters them: the
/// person's own unless `sourceKinds` names the spawned kinds; only the agents spawned by one
/// thread (`parentThreadId`) or below it at any depth (`ancestorThreadId`).
#[derive(Clone, Copy)]
pub(super) enum Sources {
    Kinds { own: bool, spawned: bool },
    ChildrenOf(uuid::Uuid),
    Below(uuid::Uuid),
}

impl Sources {
    pub(super) fn asked(
        kinds: Option<&[String]>,
        parent: Option<&str>,
        ancestor: Option<&str>,
    ) -> Result<Self, RpcError> {
        let thread = |id: &str| {
            uuid::Uuid::parse_str(id)
                .map_err(|_| RpcError::invalid_params(format!("Invalid params: no thread {id:?}")))
        };
        match (parent, ancestor) {
            (Some(_), Some(_)) => Err(RpcError::invalid_params(
                "Invalid params: parentThreadId and ancestorThreadId cannot be given together",
            )),
            (Some(parent), None) => Ok(Self::ChildrenOf(thread(parent)?)),
            (None, Some(ancestor)) => Ok(Self::Below(thread(ancestor)?)),
            (None, None) => {
                let kinds = kinds.unwrap_or_default();
                let spawned = |kind: &String| kind.starts_with("subAgent");
                Ok(Self::Kinds {
                    own: kinds.is_empty() || kinds.iter().any(|kind| !spawned(kind)),
                    spawned: kinds.iter().any(spawned),
                })
            }
        }
    }

    /// Whether a session of these kinds is given (`Below` asks for the whole list: `true`).
    pub(super) fn admits(&self, s: &SessionSummary) -> bool {
        match *self {
            Self::Kinds { own, spawned } => match s.agent {
                Some(_) => spawned,
                None => own,
            },
            Self::ChildrenOf(parent) => s.agent.as_ref().is_some_and(|a| a.parent == parent),
            Self::Below(_) => true,
        }
    }

    /// The sessions of `all` these sources give, in their order.
    fn keep<'a>(
        &self,
        all: impl Iterator<Item = SessionSummary> + 'a,
    ) -> Box<dyn Iterator<Item = SessionSummary> + 'a> {
        match *self {
            Self::Kinds { .. } | Self::ChildrenOf(_) => {
                let sources = *self;
                Box::new(all.filter(move |s| sources.admits(s)))
            }
            Self::Below(ancestor) => {
                let all: Vec<SessionSummary> = all.collect();
                let parents: HashMap<uuid::Uuid, uuid::Uuid> = all
                    .iter()
                    .filter_map(|s| Some((s.id, s.agent.as_ref()?.parent)))
                    .collect();
                // Up the parents, each at most once: a loop in broken files ends.
                let below = move |s: &SessionSummary| {
                    let mut seen = std::collections::HashSet::new();
                    let mut at = parents.get(&s.id).copied();
                    while let Some(parent) = at.filter(|p| seen.insert(*p)) {
                        if parent == ancestor {
                            return true;
                        }
                        at = parents.get(&parent).copied();
                    }
                    false
                };
                Box::new(all.into_iter().filter(below))
            }
        }
    }
}

/// The cursor that lists the other way from a page's first entry, that entry included: with
/// offsets as cursors, where it stands counted from the other end.
fn backwards(page: &Page, shown: usize, total: usize) -> Option<String> {
    (shown > 0).then(|| (total - 1 - page.skip.min(total - 1)).to_string())
}

/// The shelf of saved conversations, or of the archived ones.
pub(super) fn shelf_of(state_dir: &std::path::Path, archived: bool) -> PathBuf {
    if archived {
        crate::session::shelf::archived_dir(state_dir)
    } else {
        crate::session::sessions_dir(state_dir)
    }
}

/// How many threads one `thread/list` page holds when the host names no limit.
const THREAD_PAGE: usize = 25;

impl Saved {
    /// The saved threads under `config`'s state folder.
    pub fn new(config: &Config) -> Self {
        Self {
            state_dir: config.state_dir.clone(),
            index_cache: Arc::default(),
        }
    }

    /// Where kelp keeps its sessions.
    pub fn state_dir(&self) -> &std::path::Path {
        &self.state_dir
    }

    /// Every saved session's name, read off the async threads.
    pub async fn names(&self) -> HashMap<uuid::Uuid, String> {
        let state_dir = self.state_dir.clone();
        crate::task::spawn_blocking(move || crate::session::shelf::names(&state_dir))
            .await
            .unwrap_or_default()
    }

    /// `thread/list`: kelp's saved (or archived) sessions but side conversations, newest first,
    /// in pages (the cursor is how many came before), only those of the `cwd` folders when
    /// named; a thread the
    /// server holds says how it stands now (`live`), as Codex's list does.
    pub async fn list(
        &self,
        raw: Value,
        live: HashMap<String, crate::wire::ThreadStatus>,
    ) -> Result<Answer, RpcError> {
        let asked: ThreadListParams = if raw.is_null() {
            ThreadListParams::default()
        } else {
            params(raw)?
        };
        let page = Page::read(asked.cursor.as_deref(), asked.limit, THREAD_PAGE)?;
        let archived = asked.archived == Some(true);
        let folders: Option<Vec<PathBuf>> = asked.cwd.map(|filter| match filter {
            CwdFilter::One(dir) => vec![dir],
            CwdFilter::Many(dirs) => dirs,
        });
        let sources = Sources::asked(
            asked.source_kinds.as_deref(),
            asked.parent_thread_id.as_deref(),
            asked.ancestor_thread_id.as_deref(),
        )?;
        let state_dir = self.state_dir.clone();
        let term = asked.search_term.map(|term| term.trim().to_lowercase());
        let (found, names) = crate::task::spawn_blocking(move || {
            let root = shelf_of(&state_dir, archived);
            let names = crate::session::shelf::names(&state_dir);
            // `searchTerm`, as Codex's: in the title (the name, else the first prompt).
            let titled = |s: &SessionSummary| {
                let title = names
                    .get(&s.id)
                    .map(String::as_str)
                    .or(s.first_prompt.as_deref());
                term.as_deref().is_none_or(|term| {
                    title.is_some_and(|title| title.to_lowercase().contains(term))
                })
            };
            // A side conversation is attached to its thread, and hidden from lists as Codex's.
            let sessions = crate::session::list_under(&root, None).filter(|s| {
                s.side_of.is_none()
                    && folders
                        .as_ref()
                        .is_none_or(|dirs| dirs.contains(&s.project_dir))
                    && titled(s)
            });
            let mut listed = sources.keep(sessions);
            // One more than the page says whether another follows.
            let found: Vec<_> = listed
                .by_ref()
                .skip(page.skip)
                .take(page.size + 1)
                .collect();
            drop(listed);
            (found, names)
        })
        .await
        .map_err(|e| RpcError::internal(e.to_string()))?;
        let more = found.len() > page.size;
        let data = found
            .iter()
            .take(page.size)
            .map(|session| {
                let mut thread = listed_thread(session, &names);
                thread.status = live
                    .get(&thread.id)
                    .cloned()
                    .unwrap_or(crate::wire::ThreadStatus::NotLoaded);
                thread
            })
            .collect();
        Answer::of(&ListPage {
            data,
            next_cursor: page.next(more),
            backwards_cursor: None,
        })
    }

    /// `thread/read`: a saved session as a thread, loaded (standing as `live` says) or not;
    /// with `includeTurns`, its history as turns.
    pub async fn read(
        &self,
        raw: Value,
        loaded: Option<Thread>,
        live: Option<crate::wire::ThreadStatus>,
    ) -> Result<Answer, RpcError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Read {
            thread_id: String,
            #[serde(default)]
            include_turns: bool,
        }
        let asked: Read = params(raw)?;
        let (summary, turns) = match (self.history(&asked.thread_id).await, loaded) {
            (Ok(found), _) => found,
            // A thread started and not saved yet (no turn so far): as it was opened.
            (Err(_), Some(mut thread)) => {
                thread.status = live.unwrap_or(thread.status);
                return Answer::of(&ThreadResponse { thread });
            }
            (Err(e), None) => return Err(e),
        };
        let mut thread = listed_thread(&summary, &self.names().await);
        thread.status = live.unwrap_or(crate::wire::ThreadStatus::NotLoaded);
        if asked.include_turns {
            thread.turns = turns;
        }
        Answer::of_read(ThreadResponse { thread }).await
    }

    /// `thread/turns/list`: a saved session's turns in pages, newest first unless asked `asc`;
    /// `itemsView: notLoaded` leaves their items out.
    pub async fn turns(&self, raw: Value) -> Result<Answer, RpcError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Turns {
            thread_id: String,
            cursor: Option<String>,
            limit: Option<u32>,
            sort_direction: Option<String>,
            items_view: Option<String>,
        }
        let asked: Turns = params(raw)?;
        let page = Page::read(asked.cursor.as_deref(), asked.limit, THREAD_PAGE)?;
        let newest_first = asked.sort_direction.as_deref() != Some("asc");
        let (summary, index) = self.indexed(&asked.thread_id).await?;
        let total = index.turns();
        let (from, to) = (
            page.skip.min(total),
            page.skip.saturating_add(page.size).min(total),
        );
        // Only the page's turns are read.
        let range = if newest_first {
            total - to..total - from
        } else {
            from..to
        };
        let mut data = self
            .blocking(move || turn_values(&summary, &index, range))
            .await?;
        if newest_first {
            data.reverse();
        }
        let bare = asked.items_view.as_deref() == Some("notLoaded");
        for turn in &mut data {
            if bare {
                turn.items.clear();
            }
            turn.items_view = Some(if bare { "notLoaded" } else { "full" }.into());
        }
        Answer::of(&ListPage {
            next_cursor: page.next(to < total),
            backwards_cursor: backwards(&page, data.len(), total),
            data,
        })
    }

    /// `thread/items/list`: a saved session's items in pages, oldest first unless asked
    /// `desc`, those of one turn when named.
    pub async fn items(&self, raw: Value) -> Result<Answer, RpcError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Items {
            thread_id: String,
            turn_id: Option<String>,
            cursor: Option<Value>,
            limit: Option<u32>,
            sort_direction: Option<String>,
        }
        let asked: Items = params(raw)?;
        // kelp's cursors are offsets; an item anchor starts from the beginning.
        let cursor = asked.cursor.as_ref().and_then(Value::as_str);
        let page = Page::read(cursor, asked.limit, usize::MAX)?;
        let newest_first = asked.sort_direction.as_deref() == Some("desc");
        let (summary, index) = self.indexed(&asked.thread_id).await?;
        let turns = match &asked.turn_id {
            Some(id) => index.position_of(id).map_or(0..0, |at| at..at + 1),
            None => 0..index.turns(),
        };
        // The turns are read a few at a time; only the page's items are kept, and every item
        // is counted for the cursors.
        let (data, total) = self
            .blocking(move || {
                let mut chunks = index.runs(turns, BYTES_AT_A_TIME);
                if newest_first {
                    chunks.reverse();
                }
                let (mut data, mut total) = (Vec::new(), 0usize);
                for chunk in chunks {
                    let mut entries: Vec<TurnItem> = turn_values(&summary, &index, chunk)?
                        .into_iter()
                        .flat_map(|turn| {
                            let turn_id = turn.id;
                            turn.items.into_iter().map(move |item| TurnItem {
                                item,
                                turn_id: turn_id.clone(),
                            })
                        })
                        .collect();
                    if newest_first {
                        entries.reverse();
                    }
                    for entry in entries {
                        if total >= page.skip && data.len() < page.size {
                            data.push(entry);
                        }
                        total += 1;
                    }
                }
                Ok((data, total))
            })
            .await?;
        Answer::of(&ListPage {
            next_cursor: page.next(page.skip.saturating_add(page.size) < total),
            backwards_cursor: backwards(&page, data.len(), total),
            data,
        })
    }

    /// A saved session, and its whole history as turns (`thread/read` with its turns,
    /// `thread/resume` of a thread held), read while the answer is serialised.
    pub async fn history(
        &self,
        thread_id: &str,
    ) -> Result<(crate::protocol::SessionSummary, Turns), RpcError> {
        let (summary, index) = self.indexed(thread_id).await?;
        let turns = Turns::Saved(Arc::new(SavedTurns {
            summary: summary.clone(),
            index,
        }));
        Ok((summary, turns))
    }

    /// Runs `read` (a session file's reading) off the protocol's tasks.
    async fn blocking<T: Send + 'static>(
        &self,
        read: impl FnOnce() -> Result<T, crate::session::SessionError> + Send + 'static,
    ) -> Result<T, RpcError> {
        crate::task::spawn_blocking(read)
            .await
            .map_err(|e| RpcError::internal(e.to_string()))?
            .map_err(|e| RpcError::invalid_request(format!("cannot read the thread: {e}")))
    }

    /// A saved session and its index. A host paging the thread it asked for last has neither
    /// the sessions searched nor the file scanned again while the file is unchanged; another
    /// thread's read does not wait on the cache while a file is scanned.
    pub(super) async fn indexed(
        &self,
        thread_id: &str,
    ) -> Result<(crate::protocol::SessionSummary, Arc<SessionIndex>), RpcError> {
        let state_dir = self.state_dir.clone();
        let wanted = thread_id.to_string();
        let cache = Arc::clone(&self.index_cache);
        crate::task::spawn_blocking(move || {
            let cached = |cache: &Mutex<Option<CachedIndex>>| {
                let cached = cache.lock().unwrap_or_else(PoisonError::into_inner);
                let hit = cached.as_ref().filter(|hit| hit.asked == wanted)?;
                (stamp_of(&hit.summary.path) == Some(hit.stamp))
                    .then(|| (hit.summary.clone(), Arc::clone(&hit.index)))
            };
            if let Some(hit) = cached(&cache) {
                return Ok(hit);
            }
            let summary = crate::session::find_whole(&state_dir, &wanted)?;
            // Taken before the scan: a write during it shows as a change on the next call.
            let stamp = stamp_of(&summary.path);
            let index = Arc::new(SessionIndex::read(&summary.path)?);
            if let Some(stamp) = stamp {
                *cache.lock().unwrap_or_else(PoisonError::into_inner) = Some(CachedIndex {
                    asked: wanted,
                    summary: summary.clone(),
                    stamp,
                    index: Arc::clone(&index),
                });
            }
            Ok::<_, crate::session::SessionError>((summary, index))
        })
        .await
        .map_err(|e| RpcError::internal(e.to_string()))?
        .map_err(|e| RpcError::invalid_request(format!("no thread {thread_id}: {e}")))
    }
}

/// A saved conversation as the protocol's turns, for a host that shows a thread it reloads:
/// each turn under its saved id, its items as the live notifications completed them (the
/// replayed events through the live [`Translator`]), after the person's input.
pub fn history_turns(replay: &Replay, thread_id: &str, cwd: &std::path::Path) -> Vec<Turn> {
    replay
        .turns
        .iter()
        .map(|turn| {
            let mut translator = Translator::new(thread_id.to_string(), cwd.to_path_buf());
            let mut items = Vec::new();
            let mut out = Vec::new();
            for (n, entry) in turn.entries.iter().enumerate() {
                match entry {
                    Replayed::Prompt(prompt) => {
                        let mut content = vec![
                            json!({ "type": "text", "text": prompt.text, "text_elements": [] }),
                        ];
                        content.extend(
                            prompt
                                .images
                                .iter()
                                .map(|url| json!({ "type": "image", "url": url })),
                        );
                        items.push(ThreadItem::UserMessage {
                            id: format!("{}-input-{n}", turn.id),
                            content: Value::Array(content),
                        });
                    }
                    Replayed::Event(event) => {
                        translator.on_event(&turn.id, event.clone(), 0, &mut out);
                        items.extend(out.drain(..).filter_map(|sent| match sent {
                            Outgoing::Completed(completed) => Some(completed.item),
                            _ => None,
                        }));
                    }
                }
            }
            let (status, error) = match &turn.ended {
                None => (TurnStatus::Completed, None),
                Some((TurnEnd::Interrupted, _)) => (TurnStatus::Interrupted, None),
                Some((_, message)) => (
                    TurnStatus::Failed,
                    Some(Message::new(
                        message
                            .clone()
                            .unwrap_or_else(|| "the turn failed".to_string()),
                    )),
                ),
            };
            Turn {
                items,
                error,
                ..Turn::new(turn.id.clone(), status)
            }
        })
        .collect()
}
