//! How catalog changes are committed, on one node or shared by several.
//!
//! Every mutation computes a change (meta-key puts and deletes, JSON values) against the state it
//! read, and [`Catalog::commit`]s it. [`Catalog::apply`] is the one place a change reaches the
//! `meta` column family, the in-memory state and the column families of created or deleted
//! logstores.
//!
//! - **One node** (the embedded backend): a change is applied at once.
//! - **Several nodes** (the Kafka backend's catalog topic, [`ChangeLog`]): a change is appended to
//!   one ordered log, and every node applies the log in order ([`Catalog::apply_logged`], fed by
//!   the log's follower). The log is the source of truth; a node's `meta` family is its applied
//!   copy, with the applied position (the checkpoint) written in the same atomic batch, so a
//!   restart resumes exactly after the last change applied.
//! - **Concurrency is optimistic.** A change carries its *base*: the log position its proposer had
//!   applied when it began reading. It takes effect only if no change accepted since that base
//!   lies before it in the log; otherwise every node rejects it alike (the decision depends on the
//!   log alone) and the proposer runs its mutation again on the newer state, which then answers,
//!   say, `LogStoreAlreadyExist`. Catalog changes are rare, so whole-catalog conflicts cost little.
//! - **A lookup that misses catches up first** ([`Catalog::sync_on_miss`]): it reads the log's end
//!   and waits (at most [`SYNC_WAIT`]) until this node has applied that far, so a logstore created
//!   through one node can be written through another at once.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{to_json, Catalog, Logstore, Project, ProjectEntry};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::store::{keys, ShardLog};

/// The ordered log several nodes share their catalog through (one Kafka partition).
pub trait ChangeLog: Send + Sync {
    /// Appends a record once the log holds it durably; returns its position (Kafka offset).
    fn append(&self, record: Vec<u8>) -> Result<u64, String>;
    /// The position the next appended record will get (the partition's high watermark).
    fn end(&self) -> Result<u64, String>;
}

/// Longest a lookup that misses waits for this node to catch up with the log.
pub const SYNC_WAIT: Duration = Duration::from_secs(1);
/// How often a conflicted mutation is run again before the client gets a retryable error.
const MAX_ATTEMPTS: usize = 8;
/// Largest chunk of entries [`Catalog::publish_local`] appends as one record.
const PUBLISH_CHUNK_BYTES: usize = 256 << 10;
/// Outcomes of recent positions kept for proposers waiting on them.
const OUTCOMES_KEPT: usize = 1024;

/// One logged change, as JSON (readable with any Kafka console consumer).
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    /// The log position the proposer had applied when it began.
    base: u64,
    puts: Vec<(String, serde_json::Value)>,
    deletes: Vec<String>,
}

/// The applied position, persisted beside the applied changes (`meta` key `c/change-log`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct Checkpoint {
    /// The next position to apply.
    next: u64,
    /// The last position whose change was accepted.
    last_accepted: Option<u64>,
}

struct Applied {
    at: Checkpoint,
    outcomes: VecDeque<(u64, bool)>,
}

/// The catalog's side of a shared change log.
pub(super) struct Shared {
    log: Arc<dyn ChangeLog>,
    /// Longest a proposer waits for its change to be applied here.
    timeout: Duration,
    applied: Mutex<Applied>,
    changed: Condvar,
    /// Whether the node had a checkpoint when it opened (false: a new node, or one from before).
    had_checkpoint: bool,
    /// When the last completed catch-up began.
    last_sync: Mutex<Option<Instant>>,
}

thread_local! {
    /// Set while this thread runs a mutation: its lookups do not catch up on a miss (the mutation
    /// caught up when it began, and a miss is what a create expects).
    static MUTATING: Cell<bool> = const { Cell::new(false) };
}

const CHECKPOINT_KEY: &[u8] = b"c/change-log";

impl Catalog {
    /// Shares this catalog through `log`: from now on every change is appended there and applied
    /// in log order by [`Catalog::apply_logged`]. `timeout` bounds the wait for a change to be
    /// applied here.
    pub fn with_change_log(mut self, log: Arc<dyn ChangeLog>, timeout: Duration) -> anyhow::Result<Catalog> {
        let stored = self.store.meta_scan(CHECKPOINT_KEY)?.into_iter().find(|(k, _)| k == CHECKPOINT_KEY);
        let (at, had_checkpoint) = match stored {
            Some((_, v)) => (serde_json::from_slice(&v)?, true),
            None => (Checkpoint::default(), false),
        };
        self.shared = Some(Shared {
            log,
            timeout,
            applied: Mutex::new(Applied { at, outcomes: VecDeque::new() }),
            changed: Condvar::new(),
            had_checkpoint,
            last_sync: Mutex::new(None),
        });
        Ok(self)
    }

    /// With a shared catalog, the next log position this node applies (for `/metrics`).
    pub fn shared_position(&self) -> Option<u64> {
        self.shared.as_ref().map(|_| self.change_log_position())
    }

    /// The next log position this node applies (where its follower resumes).
    pub fn change_log_position(&self) -> u64 {
        self.shared.as_ref().map_or(0, |s| s.applied.lock().expect("applied lock").at.next)
    }

    /// True when this node holds catalog entries it never took from the shared log: a node that
    /// ran alone before. [`Catalog::publish_local`] offers them to the log.
    pub fn has_unshared_entries(&self) -> bool {
        let Some(shared) = &self.shared else { return false };
        !shared.had_checkpoint
            && self.change_log_position() == 0
            && !self.local_entries().unwrap_or_default().is_empty()
    }

    /// Whether any shard of any logstore has ever stored a log here. The logs of a node that ran
    /// alone cannot join a shared log: their sequences would collide with the Kafka offsets.
    pub fn stores_logs(&self) -> bool {
        self.all_shards().iter().any(|(stream, shards)| {
            shards.iter().any(|&shard| self.store.bounds(*stream, shard).map_or(true, |(_, end)| end > 1))
        })
    }

    /// Refuses a node with catalog entries of its own when the shared log already holds
    /// changes: the two catalogs cannot be merged, and the node must start from an empty data
    /// directory. Needs the broker.
    pub fn check_log_empty(&self) -> anyhow::Result<()> {
        let Some(shared) = &self.shared else { return Ok(()) };
        let end = shared.log.end().map_err(|e| {
            anyhow::anyhow!(
                "this node holds a catalog of its own to publish, and cannot read the shared catalog log: {e}"
            )
        })?;
        if end > 0 {
            anyhow::bail!(
                "this node's data directory holds a catalog of its own, and the shared catalog log \
                 already holds {end} changes; they cannot be merged: start this node on an empty data directory"
            );
        }
        Ok(())
    }

    /// Appends every local entry as the first changes of the (checked empty) log, so the catalog
    /// of a node that ran alone becomes the shared one. Entries go in chunks of at most
    /// [`PUBLISH_CHUNK_BYTES`] (a broker's default record limit is 1 MB), projects before their
    /// logstores; each chunk must follow the previous one directly in the log.
    pub fn publish_local(&self) -> anyhow::Result<()> {
        let entries = self.local_entries()?;
        // The logstores' topics first (idempotent): a node that ran on the embedded store has none.
        if let Some(admin) = &self.log_admin {
            for (k, v) in &entries {
                if k.starts_with(keys::LOGSTORE_PREFIX) {
                    let ls: Logstore = serde_json::from_slice(v)?;
                    admin
                        .create(ls.id, ls.next_shard_id, ls.settings.ttl)
                        .map_err(|e| anyhow::anyhow!("cannot create the topic of logstore {}: {e}", ls.name))?;
                }
            }
        }
        let n = entries.len();
        let mut chunks: Vec<Vec<(Vec<u8>, Vec<u8>)>> = vec![Vec::new()];
        let mut bytes = 0;
        for entry in entries {
            let size = entry.0.len() + entry.1.len();
            if bytes + size > PUBLISH_CHUNK_BYTES && !chunks.last().is_some_and(Vec::is_empty) {
                chunks.push(Vec::new());
                bytes = 0;
            }
            bytes += size;
            chunks.last_mut().expect("a chunk").push(entry);
        }
        let mut expected = 0;
        for chunk in &chunks {
            self.mutate(|| {
                if self.change_log_position() != expected {
                    return Err(ApiError::new(
                        ErrorCode::ServerBusy,
                        "another node changed the shared catalog while this node published its own",
                    ));
                }
                self.commit(chunk.clone(), vec![])
            })
            .map_err(|e| anyhow::anyhow!("cannot publish this node's catalog: {}", e.message))?;
            expected = self.change_log_position();
        }
        tracing::info!(entries = n, records = chunks.len(), "published this node's catalog as the shared one");
        Ok(())
    }

    fn local_entries(&self) -> anyhow::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        for prefix in [keys::PROJECT_PREFIX, keys::LOGSTORE_PREFIX, keys::DUMP_PREFIX] {
            out.extend(self.store.meta_scan(prefix)?);
        }
        Ok(out)
    }

    /// Runs a mutation under the mutation lock, again while it conflicts with a change of another
    /// node (shared catalog only).
    pub(super) fn mutate<T>(&self, mut f: impl FnMut() -> ApiResult<T>) -> ApiResult<T> {
        let _m = self.mutations.lock().expect("mutation lock");
        let _flag = MutatingFlag::set();
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Some(shared) = &self.shared {
                self.sync(shared);
                self.base.store(shared.applied.lock().expect("applied lock").at.next, Ordering::SeqCst);
            }
            self.conflicted.store(false, Ordering::SeqCst);
            let out = f();
            if out.is_err() && self.conflicted.load(Ordering::SeqCst) && attempt < MAX_ATTEMPTS {
                continue;
            }
            return out;
        }
    }

    /// Commits a change computed under the mutation lock: applies it here, or appends it to the
    /// shared log and waits until this node has applied (or rejected) it.
    pub(super) fn commit(&self, puts: Vec<(Vec<u8>, Vec<u8>)>, deletes: Vec<Vec<u8>>) -> ApiResult<()> {
        let Some(shared) = &self.shared else { return self.apply(&puts, &deletes, None) };
        let record = Record {
            base: self.base.load(Ordering::SeqCst),
            puts: puts
                .iter()
                .map(|(k, v)| Ok((key_text(k)?, serde_json::from_slice(v).map_err(ApiError::internal)?)))
                .collect::<ApiResult<_>>()?,
            deletes: deletes.iter().map(|k| key_text(k)).collect::<ApiResult<_>>()?,
        };
        let at = shared.log.append(to_json(&record)?).map_err(|e| {
            tracing::warn!(error = %e, "cannot append a change to the shared catalog log");
            ApiError::new(
                ErrorCode::ServerBusy,
                format!("the catalog log is unavailable ({e}); nothing was changed; retry"),
            )
        })?;
        match shared.outcome(at) {
            Some(true) => Ok(()),
            Some(false) => {
                self.conflicted.store(true, Ordering::SeqCst);
                Err(ApiError::new(
                    ErrorCode::ServerBusy,
                    "the catalog was changed meanwhile through another node; retry",
                ))
            }
            None => Err(ApiError::new(
                ErrorCode::ServerBusy,
                "the change is logged but this node has not applied it yet; it takes effect when the node catches up",
            )),
        }
    }

    /// Applies the change at log position `at` (every position, in order, exactly once per
    /// node): accepted unless a change accepted since its base precedes it.
    pub fn apply_logged(&self, at: u64, bytes: &[u8]) {
        let Some(shared) = &self.shared else { return };
        let before = shared.applied.lock().expect("applied lock").at;
        if at < before.next {
            return;
        }
        let record: Option<Record> = serde_json::from_slice(bytes).ok();
        let accepted = record.as_ref().is_some_and(|r| before.last_accepted.is_none_or(|last| last < r.base));
        let after = Checkpoint { next: at + 1, last_accepted: if accepted { Some(at) } else { before.last_accepted } };
        let checkpoint = (CHECKPOINT_KEY.to_vec(), serde_json::to_vec(&after).expect("checkpoint json"));
        let applied = match (&record, accepted) {
            (Some(r), true) => {
                let puts: Vec<_> =
                    r.puts.iter().map(|(k, v)| (k.clone().into_bytes(), v.to_string().into_bytes())).collect();
                let deletes: Vec<_> = r.deletes.iter().map(|k| k.clone().into_bytes()).collect();
                self.apply(&puts, &deletes, Some(checkpoint))
            }
            _ => {
                if record.is_none() {
                    tracing::error!(at, "a catalog log record that is not a catalog change; skipped");
                }
                self.store.meta_write(&[checkpoint], &[]).map_err(ApiError::internal)
            }
        };
        if let Err(e) = applied {
            // Not advanced: the follower offers the same position again.
            tracing::error!(at, error = %e.message, "cannot apply a catalog change");
            std::thread::sleep(Duration::from_millis(200));
            return;
        }
        let mut state = shared.applied.lock().expect("applied lock");
        state.at = after;
        state.outcomes.push_back((at, accepted));
        while state.outcomes.len() > OUTCOMES_KEPT {
            state.outcomes.pop_front();
        }
        shared.changed.notify_all();
    }

    /// Writes a change to `meta` (with `extra`, the checkpoint, in the same batch), then to the
    /// in-memory state: the index family of a new logstore first (an orphan after a crash is
    /// dropped by `load`), the families of a deleted one last.
    pub(super) fn apply(
        &self,
        puts: &[(Vec<u8>, Vec<u8>)],
        deletes: &[Vec<u8>],
        extra: Option<(Vec<u8>, Vec<u8>)>,
    ) -> ApiResult<()> {
        enum Put {
            Project(Project),
            Logstore(Logstore),
            Other,
        }
        let decoded: Vec<Put> = puts
            .iter()
            .map(|(k, v)| {
                Ok(if k.starts_with(keys::PROJECT_PREFIX) {
                    Put::Project(serde_json::from_slice(v).map_err(ApiError::internal)?)
                } else if k.starts_with(keys::LOGSTORE_PREFIX) {
                    Put::Logstore(serde_json::from_slice(v).map_err(ApiError::internal)?)
                } else {
                    Put::Other
                })
            })
            .collect::<ApiResult<_>>()?;
        let (created, gone) = {
            let state = self.state.read().expect("catalog lock");
            let known = |id: Uuid| state.values().any(|e| e.logstores.values().any(|ls| ls.id == id));
            let created: Vec<Uuid> = decoded
                .iter()
                .filter_map(|p| match p {
                    Put::Logstore(ls) if !known(ls.id) => Some(ls.id),
                    _ => None,
                })
                .collect();
            let mut gone = Vec::new();
            for k in deletes {
                if let Some((project, name)) = logstore_of_key(k) {
                    if let Some(ls) = state.get(project).and_then(|e| e.logstores.get(name)) {
                        gone.push(ls.id);
                    }
                }
            }
            (created, gone)
        };
        for id in &created {
            self.store.create_stream(*id).map_err(ApiError::internal)?;
        }
        let mut all_puts = puts.to_vec();
        all_puts.extend(extra);
        self.store.meta_write(&all_puts, deletes).map_err(ApiError::internal)?;
        {
            let mut state = self.state.write().expect("catalog lock");
            for k in deletes {
                if let Some((project, name)) = logstore_of_key(k) {
                    if let Some(e) = state.get_mut(project) {
                        e.logstores.remove(name);
                    }
                } else if let Some(project) = k.strip_prefix(keys::PROJECT_PREFIX) {
                    state.remove(std::str::from_utf8(project).unwrap_or_default());
                }
            }
            for put in decoded {
                match put {
                    Put::Project(p) => match state.get_mut(&p.name) {
                        Some(e) => e.project = p,
                        None => {
                            state.insert(p.name.clone(), ProjectEntry { project: p, logstores: Default::default() });
                        }
                    },
                    Put::Logstore(ls) => match state.get_mut(&ls.project) {
                        Some(e) => {
                            e.logstores.insert(ls.name.clone(), Arc::new(ls));
                        }
                        None => {
                            tracing::error!(project = %ls.project, logstore = %ls.name, "a logstore of a missing project; not listed")
                        }
                    },
                    Put::Other => {}
                }
            }
        }
        for id in gone {
            self.store.drop_stream(id).map_err(ApiError::internal)?;
        }
        Ok(())
    }

    /// After a lookup missed: with a shared catalog, catch up with the log and say whether to look
    /// again. Lookups made by a mutation do not (it caught up when it began).
    pub(super) fn sync_on_miss(&self) -> bool {
        match &self.shared {
            Some(shared) if !MUTATING.with(Cell::get) => self.sync(shared),
            _ => false,
        }
    }

    /// Waits until this node has applied the log up to its current end (at most [`SYNC_WAIT`]).
    /// Concurrent callers share one catch-up: a caller whose miss precedes the start of a
    /// completed catch-up returns at once. True if anything new was applied.
    fn sync(&self, shared: &Shared) -> bool {
        let missed = Instant::now();
        let mut last = shared.last_sync.lock().expect("sync lock");
        if last.is_some_and(|t| t >= missed) {
            return true;
        }
        let began = Instant::now();
        let from = self.change_log_position();
        let Ok(end) = shared.log.end() else { return false };
        let applied = shared.wait_applied(end, SYNC_WAIT);
        let moved = applied.at.next > from;
        drop(applied);
        *last = Some(began);
        moved
    }
}

impl Shared {
    /// Waits until position `at` is applied here; whether its change was accepted (None: not
    /// applied within the timeout).
    fn outcome(&self, at: u64) -> Option<bool> {
        let applied = self.wait_applied(at + 1, self.timeout);
        (applied.at.next > at).then(|| applied.outcomes.iter().rev().find(|(p, _)| *p == at).is_some_and(|(_, ok)| *ok))
    }

    /// Waits (at most `timeout`) until every position before `end` is applied here; the applied
    /// state then, whether or not it got there.
    fn wait_applied(&self, end: u64, timeout: Duration) -> std::sync::MutexGuard<'_, Applied> {
        let applied = self.applied.lock().expect("applied lock");
        self.changed.wait_timeout_while(applied, timeout, |a| a.at.next < end).expect("applied lock").0
    }
}

struct MutatingFlag;

impl MutatingFlag {
    fn set() -> MutatingFlag {
        MUTATING.with(|m| m.set(true));
        MutatingFlag
    }
}

impl Drop for MutatingFlag {
    fn drop(&mut self) {
        MUTATING.with(|m| m.set(false));
    }
}

fn key_text(k: &[u8]) -> ApiResult<String> {
    String::from_utf8(k.to_vec()).map_err(ApiError::internal)
}

/// `l/<project>/<logstore>` → (project, logstore). Names never hold `/`.
fn logstore_of_key(k: &[u8]) -> Option<(&str, &str)> {
    let rest = std::str::from_utf8(k.strip_prefix(keys::LOGSTORE_PREFIX)?).ok()?;
    rest.split_once('/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::LogstoreSettings;
    use crate::config::CatalogConfig;
    use crate::route;
    use crate::store::RocksStore;
    use std::sync::atomic::AtomicBool;

    /// The log in memory: a vector and a condvar.
    #[derive(Default)]
    struct MemLog {
        records: Mutex<Vec<Vec<u8>>>,
        grew: Condvar,
    }

    impl ChangeLog for MemLog {
        fn append(&self, record: Vec<u8>) -> Result<u64, String> {
            let mut r = self.records.lock().unwrap();
            r.push(record);
            self.grew.notify_all();
            Ok(r.len() as u64 - 1)
        }
        fn end(&self) -> Result<u64, String> {
            Ok(self.records.lock().unwrap().len() as u64)
        }
    }

    /// A node: a catalog over its own store, sharing `log`, with a follower thread.
    struct Node {
        catalog: Arc<Catalog>,
        stop: Arc<AtomicBool>,
        follower: Option<std::thread::JoinHandle<()>>,
    }

    impl Node {
        fn open(dir: &std::path::Path, log: &Arc<MemLog>) -> Node {
            let store = RocksStore::open(dir).unwrap();
            let c = Catalog::load(store, CatalogConfig::default()).unwrap();
            let catalog = Arc::new(c.with_change_log(log.clone(), Duration::from_secs(5)).unwrap());
            Node::follow(catalog, log)
        }

        /// Two nodes over one new log (keep the directories while they run).
        fn pair() -> ([tempfile::TempDir; 2], Arc<MemLog>, Node, Node) {
            let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
            let log = Arc::new(MemLog::default());
            let (a, b) = (Node::open(dirs[0].path(), &log), Node::open(dirs[1].path(), &log));
            (dirs, log, a, b)
        }

        fn follow(catalog: Arc<Catalog>, log: &Arc<MemLog>) -> Node {
            let stop = Arc::new(AtomicBool::new(false));
            let (c, l, s) = (catalog.clone(), log.clone(), stop.clone());
            let follower = std::thread::spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    let next = c.change_log_position() as usize;
                    let record = {
                        let r = l.records.lock().unwrap();
                        let r = if r.len() <= next {
                            l.grew.wait_timeout(r, Duration::from_millis(20)).unwrap().0
                        } else {
                            r
                        };
                        r.get(next).cloned()
                    };
                    if let Some(record) = record {
                        c.apply_logged(next as u64, &record);
                    }
                }
            });
            Node { catalog, stop, follower: Some(follower) }
        }
    }

    impl Drop for Node {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Relaxed);
            self.follower.take().unwrap().join().unwrap();
        }
    }

    fn settings(c: &Catalog, shards: u32) -> LogstoreSettings {
        LogstoreSettings { shard_count: shards, ..c.default_settings() }
    }

    #[test]
    fn two_nodes_see_each_others_changes_at_once() {
        let (_dirs, log, a, b) = Node::pair();
        a.catalog.create_project("proj", "made on a").unwrap();
        let ls = a.catalog.create_logstore("proj", "store", settings(&a.catalog, 2)).unwrap();
        // A lookup on b that misses catches up with the log first.
        assert_eq!(b.catalog.logstore("proj", "store").unwrap().id, ls.id);
        assert_eq!(b.catalog.create_project("proj", "x").unwrap_err().code, ErrorCode::ProjectAlreadyExist);
        b.catalog.split_shard("proj", "store", 0, route::parse_hash_key("4").unwrap()).unwrap();
        let shards = |c: &Catalog| c.logstore("proj", "store").unwrap().shards.len();
        b.catalog.sync_on_miss();
        a.catalog.sync_on_miss();
        assert_eq!((shards(&a.catalog), shards(&b.catalog)), (4, 4));
        b.catalog.delete_logstore("proj", "store").unwrap();
        // A hit does not catch up (the write path stays one read lock): a deleted logstore is
        // gone from another node once it has applied the change.
        a.catalog.sync_on_miss();
        assert_eq!(a.catalog.logstore("proj", "store").unwrap_err().code, ErrorCode::LogStoreNotExist);
        assert_eq!(log.end().unwrap(), 4, "one record per change, none for refused ones");
    }

    #[test]
    fn concurrent_creates_of_one_name_agree_on_one_winner() {
        let (_dirs, _log, a, b) = Node::pair();
        a.catalog.create_project("proj", "").unwrap();
        b.catalog.project("proj").unwrap();
        for round in 0..10 {
            let name = format!("race{round}");
            let barrier = Arc::new(std::sync::Barrier::new(2));
            let outcomes: Vec<_> = [a.catalog.clone(), b.catalog.clone()]
                .into_iter()
                .map(|c| {
                    let (barrier, name) = (barrier.clone(), name.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        c.create_logstore("proj", &name, settings(&c, 1)).map(|ls| ls.id).map_err(|e| e.code)
                    })
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|t| t.join().unwrap())
                .collect();
            let won: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
            assert_eq!(won.len(), 1, "round {round}: {outcomes:?}");
            assert!(outcomes.contains(&Err(ErrorCode::LogStoreAlreadyExist)), "{outcomes:?}");
            assert_eq!(a.catalog.logstore("proj", &name).unwrap().id, *won[0]);
            assert_eq!(b.catalog.logstore("proj", &name).unwrap().id, *won[0]);
        }
    }

    #[test]
    fn the_decision_depends_on_the_log_alone_and_survives_restart() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(MemLog::default());
        let project = |name: &str| {
            let p = Project {
                name: name.into(),
                id: Uuid::new_v4(),
                description: String::new(),
                create_time: 1,
                last_modify_time: 1,
                ttl_days: None,
                tags: Default::default(),
            };
            serde_json::to_vec(&Record {
                base: 0,
                puts: vec![(format!("p/{name}"), serde_json::to_value(&p).unwrap())],
                deletes: vec![],
            })
            .unwrap()
        };
        // Both proposed on top of position 0: the first wins, the second conflicts.
        log.append(project("first")).unwrap();
        log.append(project("second")).unwrap();
        log.append(b"not json".to_vec()).unwrap();
        {
            let node = Node::open(dir.path(), &log);
            assert!(node.catalog.project("first").is_ok());
            assert_eq!(node.catalog.project("second").unwrap_err().code, ErrorCode::ProjectNotExist);
            assert_eq!(node.catalog.change_log_position(), 3);
        }
        log.append(project("third")).unwrap();
        let node = Node::open(dir.path(), &log);
        // Resumed at 3: "third" has base 0 and position 0 was accepted, so it conflicts too.
        assert_eq!(node.catalog.project("third").unwrap_err().code, ErrorCode::ProjectNotExist);
        assert_eq!(node.catalog.change_log_position(), 4);
        assert_eq!(node.catalog.projects().len(), 1);
    }

    #[test]
    fn a_node_that_ran_alone_publishes_its_catalog_once() {
        let (da, db, dc) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        for dir in [da.path(), dc.path()] {
            let c = Catalog::load(RocksStore::open(dir).unwrap(), CatalogConfig::default()).unwrap();
            c.create_project("alone", "").unwrap();
            c.create_logstore("alone", "store", settings(&c, 1)).unwrap();
        }
        {
            // Enough entries for more than one chunk.
            let c = Catalog::load(RocksStore::open(da.path()).unwrap(), CatalogConfig::default()).unwrap();
            let description = "d".repeat(4000);
            for i in 0..80 {
                c.create_project(&format!("big-{i}"), &description).unwrap();
            }
        }
        let log = Arc::new(MemLog::default());
        let open = |dir: &std::path::Path| {
            let c = Catalog::load(RocksStore::open(dir).unwrap(), CatalogConfig::default()).unwrap();
            Arc::new(c.with_change_log(log.clone(), Duration::from_secs(5)).unwrap())
        };
        let a = open(da.path());
        assert!(a.has_unshared_entries());
        a.check_log_empty().unwrap();
        let a = Node::follow(a, &log);
        a.catalog.publish_local().unwrap();
        let records = log.end().unwrap();
        assert!(records >= 2, "{records} records: published in chunks of at most {PUBLISH_CHUNK_BYTES} bytes");
        let id = a.catalog.logstore("alone", "store").unwrap().id;
        let b = Node::open(db.path(), &log);
        assert_eq!(b.catalog.logstore("alone", "store").unwrap().id, id);
        assert_eq!(b.catalog.projects().len(), 81);
        // Another node with a catalog of its own cannot join a log that holds changes.
        let c = open(dc.path());
        assert!(c.has_unshared_entries());
        assert!(c.check_log_empty().unwrap_err().to_string().contains("cannot be merged"));
        // Once published, a restart does not publish again.
        drop(a);
        let a = open(da.path());
        assert!(!a.has_unshared_entries());
    }
}
