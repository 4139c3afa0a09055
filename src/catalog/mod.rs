//! The catalog: projects, logstores and their shards. Every entry is persisted (JSON in the `meta`
//! column family, fsynced) before it becomes visible, and cached in memory so the write path
//! resolves a logstore with one read lock. Every project and logstore has a stable UUID beside
//! its name; a logstore's UUID names its column families.
//!
//! Mutations are serialised by one mutex and do blocking I/O: call them off the async runtime.
//! Each computes a change and commits it (`shared`): applied at once on a single node, or through
//! a log that several nodes share and apply in the same order (the Kafka backend).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::CatalogConfig;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::route::{self, Shard, ShardStatus};
use crate::store::{keys, RocksStore};

mod dumps;
mod lts;
mod shared;

pub use dumps::{Dump, DumpFormat, PeriodUnit};
pub use lts::{check_lts_name, check_lts_ttl, LtsQuotas, Tags};
pub use shared::{ChangeLog, SYNC_WAIT};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub name: String,
    pub id: Uuid,
    pub description: String,
    pub create_time: u64,
    pub last_modify_time: u64,
    /// The LTS log group's retention in days; streams created without their own inherit it.
    /// `None` for projects created through SLS.
    #[serde(default)]
    pub ttl_days: Option<u32>,
    /// LTS tags.
    #[serde(default)]
    pub tags: Tags,
}

/// Settings of a logstore that clients choose (SLS CreateLogstore body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogstoreSettings {
    pub ttl: u32,
    pub shard_count: u32,
    pub enable_tracking: bool,
    pub append_meta: bool,
    pub auto_split: bool,
    pub max_split_shard: u32,
    pub telemetry_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logstore {
    pub project: String,
    pub name: String,
    pub id: Uuid,
    pub settings: LogstoreSettings,
    pub create_time: u64,
    pub last_modify_time: u64,
    pub shards: Vec<Shard>,
    pub next_shard_id: u32,
    /// Created through LTS without a ttl of its own: follows its log group's ttl.
    #[serde(default)]
    pub ttl_inherited: bool,
    /// LTS tags.
    #[serde(default)]
    pub tags: Tags,
}

impl Logstore {
    pub fn shard(&self, id: u32) -> ApiResult<&Shard> {
        self.shards
            .iter()
            .find(|s| s.id == id)
            .ok_or_else(|| ApiError::new(ErrorCode::ShardNotExist, format!("shard {id} does not exist")))
    }
}

struct ProjectEntry {
    project: Project,
    logstores: BTreeMap<String, Arc<Logstore>>,
}

pub struct Catalog {
    store: Arc<RocksStore>,
    config: CatalogConfig,
    state: RwLock<BTreeMap<String, ProjectEntry>>,
    mutations: Mutex<()>,
    log_admin: Option<Arc<dyn LogAdmin>>,
    /// With several nodes: the log every change goes through (`shared`).
    shared: Option<shared::Shared>,
    /// The log position the running mutation began at (under the mutation lock).
    base: AtomicU64,
    /// Set when the running mutation's change was rejected as concurrent.
    conflicted: AtomicBool,
}

/// What a shard log kept outside the process must do as logstores and shards come and go (the
/// Kafka backend's topics and partitions). The embedded store needs nothing beyond its own
/// column families. Each call is idempotent, so a retried mutation may repeat it.
pub trait LogAdmin: Send + Sync {
    /// Creates the log of a new logstore with `partitions` shard partitions (ids 0..partitions).
    fn create(&self, stream: Uuid, partitions: u32, ttl_days: u32) -> Result<(), String>;
    /// Grows the log of a logstore to `partitions` partitions (new shard ids after a split or merge).
    fn grow(&self, stream: Uuid, partitions: u32) -> Result<(), String>;
}

fn log_admin_error(e: String) -> ApiError {
    tracing::warn!(error = %e, "the shard log refused a change of logstores or shards");
    ApiError::new(ErrorCode::ServerBusy, format!("the shard log is unavailable ({e}); nothing was changed; retry"))
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// SLS project names: 3–63 characters of `[a-z0-9-]`, starting and ending with a letter or digit.
pub fn check_project_name(name: &str) -> ApiResult<()> {
    check_name(name, b'-', "project").map_err(|m| ApiError::new(ErrorCode::ProjectInfoInvalid, m))
}

/// SLS logstore names: 3–63 characters of `[a-z0-9_-]`, starting and ending with a letter or digit.
pub fn check_logstore_name(name: &str) -> ApiResult<()> {
    check_name(name, b'_', "logstore").map_err(|m| ApiError::new(ErrorCode::LogStoreInfoInvalid, m))
}

fn check_name(name: &str, extra: u8, what: &str) -> Result<(), String> {
    let b = name.as_bytes();
    let ok_char = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == extra;
    let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if (3..=63).contains(&b.len()) && b.iter().all(ok_char) && edge(b[0]) && edge(b[b.len() - 1]) {
        Ok(())
    } else {
        Err(format!("invalid {what} name {name:?}: 3-63 lowercase letters, digits or -, starting and ending with a letter or digit"))
    }
}

impl Catalog {
    /// Loads the catalog and drops column families that no logstore owns (left by an interrupted
    /// create or delete).
    pub fn load(store: Arc<RocksStore>, config: CatalogConfig) -> anyhow::Result<Catalog> {
        let mut state = BTreeMap::new();
        for (_, v) in store.meta_scan(keys::PROJECT_PREFIX)? {
            let project: Project = serde_json::from_slice(&v)?;
            state.insert(project.name.clone(), ProjectEntry { project, logstores: BTreeMap::new() });
        }
        let mut owned = std::collections::HashSet::new();
        for (k, v) in store.meta_scan(keys::LOGSTORE_PREFIX)? {
            let ls: Logstore = serde_json::from_slice(&v)?;
            let Some(entry) = state.get_mut(&ls.project) else {
                anyhow::bail!("catalog entry {} names a missing project", String::from_utf8_lossy(&k));
            };
            owned.insert(ls.id);
            entry.logstores.insert(ls.name.clone(), Arc::new(ls));
        }
        for stream in store.stream_ids() {
            if !owned.contains(&stream) {
                tracing::warn!(%stream, "dropping a column family that no logstore owns");
                store.drop_stream(stream)?;
            }
        }
        Ok(Catalog {
            store,
            config,
            state: RwLock::new(state),
            mutations: Mutex::new(()),
            log_admin: None,
            shared: None,
            base: AtomicU64::new(0),
            conflicted: AtomicBool::new(false),
        })
    }

    /// Keeps an outside shard log's topics in step with the logstores and shards.
    pub fn with_log_admin(mut self, admin: Arc<dyn LogAdmin>) -> Catalog {
        self.log_admin = Some(admin);
        self
    }

    /// Every logstore with the ids of all its listed shards (readonly ones included).
    pub fn all_shards(&self) -> Vec<(Uuid, Vec<u32>)> {
        let state = self.state.read().expect("catalog lock");
        state
            .values()
            .flat_map(|e| e.logstores.values().map(|ls| (ls.id, ls.shards.iter().map(|s| s.id).collect())))
            .collect()
    }

    /// Grows the outside shard log to hold every shard id the logstore has handed out.
    fn grow_log(&self, ls: &Logstore) -> ApiResult<()> {
        match &self.log_admin {
            Some(admin) => admin.grow(ls.id, ls.next_shard_id).map_err(log_admin_error),
            None => Ok(()),
        }
    }

    pub fn config(&self) -> &CatalogConfig {
        &self.config
    }

    /// A lookup, made again after catching up with a shared catalog when it misses.
    fn lookup<T>(&self, f: impl Fn() -> ApiResult<T>) -> ApiResult<T> {
        match f() {
            Err(_) if self.sync_on_miss() => f(),
            found => found,
        }
    }

    pub fn project(&self, name: &str) -> ApiResult<Project> {
        self.lookup(|| self.project_here(name))
    }

    fn project_here(&self, name: &str) -> ApiResult<Project> {
        let state = self.state.read().expect("catalog lock");
        state.get(name).map(|e| e.project.clone()).ok_or_else(|| ApiError::project_not_exist(name))
    }

    pub fn projects(&self) -> Vec<Project> {
        self.state.read().expect("catalog lock").values().map(|e| e.project.clone()).collect()
    }

    /// The logstore, from memory (the hot path).
    pub fn logstore(&self, project: &str, name: &str) -> ApiResult<Arc<Logstore>> {
        self.lookup(|| self.logstore_here(project, name))
    }

    fn logstore_here(&self, project: &str, name: &str) -> ApiResult<Arc<Logstore>> {
        let state = self.state.read().expect("catalog lock");
        let entry = state.get(project).ok_or_else(|| ApiError::project_not_exist(project))?;
        entry.logstores.get(name).cloned().ok_or_else(|| ApiError::logstore_not_exist(name))
    }

    /// The project whose UUID is `id`: an LTS log group id. A scan of the cached projects (the LTS
    /// quota is 100 log groups), cheap beside the request it serves.
    pub fn project_by_id(&self, id: Uuid) -> ApiResult<Project> {
        self.lookup(|| self.project_by_id_here(id))
    }

    fn project_by_id_here(&self, id: Uuid) -> ApiResult<Project> {
        let state = self.state.read().expect("catalog lock");
        state
            .values()
            .find(|e| e.project.id == id)
            .map(|e| e.project.clone())
            .ok_or_else(|| ApiError::new(ErrorCode::ProjectNotExist, format!("The log group does not exist: {id}")))
    }

    /// The logstore of `project` whose UUID is `id`: an LTS log stream id (at most 100 per group).
    pub fn logstore_by_id(&self, project: &str, id: Uuid) -> ApiResult<Arc<Logstore>> {
        self.lookup(|| self.logstore_by_id_here(project, id))
    }

    fn logstore_by_id_here(&self, project: &str, id: Uuid) -> ApiResult<Arc<Logstore>> {
        let state = self.state.read().expect("catalog lock");
        let entry = state.get(project).ok_or_else(|| ApiError::project_not_exist(project))?;
        entry
            .logstores
            .values()
            .find(|ls| ls.id == id)
            .cloned()
            .ok_or_else(|| ApiError::new(ErrorCode::LogStoreNotExist, format!("The log stream does not exist: {id}")))
    }

    pub fn logstores(&self, project: &str) -> ApiResult<Vec<Arc<Logstore>>> {
        let state = self.state.read().expect("catalog lock");
        let entry = state.get(project).ok_or_else(|| ApiError::project_not_exist(project))?;
        Ok(entry.logstores.values().cloned().collect())
    }

    /// The logstore, created with the default settings (and its project too) when `auto_create`
    /// is on; the documented 404 otherwise. A logstore auto-created by a web-tracking write has
    /// `enable_tracking` on. Blocking.
    pub fn resolve_for_write(&self, project: &str, name: &str, web_tracking: bool) -> ApiResult<Arc<Logstore>> {
        match self.logstore(project, name) {
            Ok(ls) => Ok(ls),
            Err(e) if !self.config.auto_create => Err(e),
            Err(_) => {
                if self.project(project).is_err() {
                    match self.create_project(project, "created on first write") {
                        Ok(_) | Err(ApiError { code: ErrorCode::ProjectAlreadyExist, .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
                let settings = LogstoreSettings { enable_tracking: web_tracking, ..self.default_settings() };
                match self.create_logstore(project, name, settings) {
                    Ok(ls) => Ok(ls),
                    Err(ApiError { code: ErrorCode::LogStoreAlreadyExist, .. }) => self.logstore(project, name),
                    Err(e) => Err(e),
                }
            }
        }
    }

    pub fn default_settings(&self) -> LogstoreSettings {
        LogstoreSettings {
            ttl: self.config.default_ttl_days,
            shard_count: self.config.default_shard_count,
            enable_tracking: false,
            append_meta: false,
            auto_split: false,
            max_split_shard: 64,
            telemetry_type: String::new(),
        }
    }

    pub fn create_project(&self, name: &str, description: &str) -> ApiResult<Project> {
        check_project_name(name)?;
        self.mutate(|| self.insert_project(name, description, None, Tags::new()))
    }

    /// Persists and caches a new project whose name the caller has checked. The caller holds the
    /// mutation lock.
    fn insert_project(&self, name: &str, description: &str, ttl_days: Option<u32>, tags: Tags) -> ApiResult<Project> {
        if self.state.read().expect("catalog lock").contains_key(name) {
            return Err(ApiError::new(ErrorCode::ProjectAlreadyExist, format!("Project {name} already exist")));
        }
        let now = now_secs();
        let project = Project {
            name: name.to_string(),
            id: Uuid::new_v4(),
            description: description.to_string(),
            create_time: now,
            last_modify_time: now,
            ttl_days,
            tags,
        };
        self.commit(vec![(keys::project_key(name), to_json(&project)?)], vec![])?;
        Ok(project)
    }

    pub fn update_project(&self, name: &str, description: &str) -> ApiResult<Project> {
        self.mutate(|| {
            let mut project = self.project(name)?;
            project.description = description.to_string();
            project.last_modify_time = now_secs();
            self.commit(vec![(keys::project_key(name), to_json(&project)?)], vec![])?;
            Ok(project)
        })
    }

    /// Deletes a project with all its logstores and their data; refused while a dump uses it.
    pub fn delete_project(&self, name: &str) -> ApiResult<()> {
        self.mutate(|| {
            self.refuse_if_dumped(name, None)?;
            let logstores = self.logstores(name)?;
            let mut deletes = vec![keys::project_key(name)];
            deletes.extend(logstores.iter().map(|ls| keys::logstore_key(name, &ls.name)));
            self.commit(vec![], deletes)
        })
    }

    pub fn create_logstore(&self, project: &str, name: &str, settings: LogstoreSettings) -> ApiResult<Arc<Logstore>> {
        check_logstore_name(name)?;
        self.check_settings(&settings)?;
        self.mutate(|| self.insert_logstore(project, name, settings.clone(), false, Tags::new()))
    }

    /// Creates the column family, then persists and caches a new logstore whose name and settings
    /// the caller has checked. The caller holds the mutation lock.
    fn insert_logstore(
        &self,
        project: &str,
        name: &str,
        settings: LogstoreSettings,
        ttl_inherited: bool,
        tags: Tags,
    ) -> ApiResult<Arc<Logstore>> {
        self.project(project)?;
        if self.logstore(project, name).is_ok() {
            return Err(ApiError::new(ErrorCode::LogStoreAlreadyExist, format!("logstore {name} already exists")));
        }
        let now = now_secs();
        let shards = route::initial_shards(settings.shard_count, now);
        let ls = Logstore {
            project: project.to_string(),
            name: name.to_string(),
            id: Uuid::new_v4(),
            next_shard_id: shards.len() as u32,
            shards,
            settings,
            create_time: now,
            last_modify_time: now,
            ttl_inherited,
            tags,
        };
        if let Some(admin) = &self.log_admin {
            admin.create(ls.id, ls.next_shard_id, ls.settings.ttl).map_err(log_admin_error)?;
        }
        self.save_logstore(ls)
    }

    /// Updates the settings a client may change (not the shard count: use split and merge).
    pub fn update_logstore(&self, project: &str, name: &str, settings: LogstoreSettings) -> ApiResult<Arc<Logstore>> {
        self.check_settings(&settings)?;
        self.mutate(|| {
            let mut ls = (*self.logstore(project, name)?).clone();
            let shard_count = ls.settings.shard_count;
            ls.settings = LogstoreSettings { shard_count, ..settings.clone() };
            ls.last_modify_time = now_secs();
            self.save_logstore(ls)
        })
    }

    pub fn delete_logstore(&self, project: &str, name: &str) -> ApiResult<()> {
        self.mutate(|| {
            self.refuse_if_dumped(project, Some(name))?;
            self.logstore(project, name)?;
            self.commit(vec![], vec![keys::logstore_key(project, name)])
        })
    }

    /// Splits readwrite shard `id` at `mid`: it becomes readonly and two readwrite children
    /// take its range. Returns the parent and the two children.
    pub fn split_shard(&self, project: &str, name: &str, id: u32, mid: u128) -> ApiResult<Vec<Shard>> {
        self.mutate(|| {
            let mut ls = (*self.logstore(project, name)?).clone();
            let parent = ls.shard(id)?.clone();
            let ((b1, e1), (b2, e2)) = route::split_range(&parent, mid)?;
            self.check_shard_room(&ls, 2)?;
            let now = now_secs();
            let a =
                Shard { id: ls.next_shard_id, status: ShardStatus::Readwrite, begin: b1, end: e1, create_time: now };
            let b = Shard {
                id: ls.next_shard_id + 1,
                status: ShardStatus::Readwrite,
                begin: b2,
                end: e2,
                create_time: now,
            };
            ls.next_shard_id += 2;
            set_status(&mut ls, id, ShardStatus::Readonly);
            ls.shards.extend([a.clone(), b.clone()]);
            let parent = ls.shard(id)?.clone();
            self.grow_log(&ls)?;
            self.save_logstore(ls)?;
            Ok(vec![parent, a, b])
        })
    }

    /// Merges readwrite shard `id` with the readwrite shard starting at its end. Returns the new
    /// shard and the two (now readonly) parents.
    pub fn merge_shards(&self, project: &str, name: &str, id: u32) -> ApiResult<Vec<Shard>> {
        self.mutate(|| {
            let mut ls = (*self.logstore(project, name)?).clone();
            let left = ls.shard(id)?.clone();
            let right_id = route::merge_partner(&ls.shards, &left)?;
            let right_end = ls.shard(right_id)?.end;
            self.check_shard_room(&ls, 1)?;
            let merged = Shard {
                id: ls.next_shard_id,
                status: ShardStatus::Readwrite,
                begin: left.begin,
                end: right_end,
                create_time: now_secs(),
            };
            ls.next_shard_id += 1;
            set_status(&mut ls, id, ShardStatus::Readonly);
            set_status(&mut ls, right_id, ShardStatus::Readonly);
            ls.shards.push(merged.clone());
            let out = vec![merged, ls.shard(id)?.clone(), ls.shard(right_id)?.clone()];
            self.grow_log(&ls)?;
            self.save_logstore(ls)?;
            Ok(out)
        })
    }

    /// Removes a readonly shard from the listing (its data ages out with the TTL).
    pub fn delete_shard(&self, project: &str, name: &str, id: u32) -> ApiResult<()> {
        self.mutate(|| {
            let mut ls = (*self.logstore(project, name)?).clone();
            if ls.shard(id)?.is_writable() {
                return Err(ApiError::param(format!("invalid shard id {id}: only readonly shards can be deleted")));
            }
            ls.shards.retain(|s| s.id != id);
            self.save_logstore(ls)?;
            Ok(())
        })
    }

    fn check_shard_room(&self, ls: &Logstore, more: u32) -> ApiResult<()> {
        let writable = ls.shards.iter().filter(|s| s.is_writable()).count() as u32;
        if writable + more > self.config.max_shards_per_logstore + 1
            || ls.shards.len() > 4 * self.config.max_shards_per_logstore as usize
        {
            return Err(ApiError::param("too many shards in this logstore"));
        }
        Ok(())
    }

    fn check_settings(&self, s: &LogstoreSettings) -> ApiResult<()> {
        let bad = |m: String| Err(ApiError::new(ErrorCode::LogStoreInfoInvalid, m));
        if s.ttl == 0 || s.ttl > 3650 {
            return bad(format!("ttl {} is out of range [1, 3650]", s.ttl));
        }
        if s.shard_count == 0 || s.shard_count > self.config.max_shards_per_logstore {
            return bad(format!(
                "shardCount {} is out of range [1, {}]",
                s.shard_count, self.config.max_shards_per_logstore
            ));
        }
        Ok(())
    }

    fn save_logstore(&self, ls: Logstore) -> ApiResult<Arc<Logstore>> {
        self.commit(vec![(keys::logstore_key(&ls.project, &ls.name), to_json(&ls)?)], vec![])?;
        Ok(Arc::new(ls))
    }
}

fn set_status(ls: &mut Logstore, id: u32, status: ShardStatus) {
    if let Some(s) = ls.shards.iter_mut().find(|s| s.id == id) {
        s.status = status;
    }
}

fn to_json<T: Serialize>(v: &T) -> ApiResult<Vec<u8>> {
    serde_json::to_vec(v).map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &std::path::Path, auto_create: bool) -> Catalog {
        let store = RocksStore::open(dir).unwrap();
        let config = CatalogConfig { auto_create, ..Default::default() };
        Catalog::load(store, config).unwrap()
    }

    #[test]
    fn names_follow_sls_rules() {
        assert!(check_project_name("my-proj1").is_ok());
        assert!(check_project_name("ab").is_err());
        assert!(check_project_name("-ab").is_err());
        assert!(check_project_name("My-proj").is_err());
        assert!(check_project_name("a_b").is_err());
        assert!(check_logstore_name("a_b").is_ok());
        assert!(check_logstore_name(&"a".repeat(64)).is_err());
    }

    #[test]
    fn catalog_survives_restart_with_splits() {
        let dir = tempfile::tempdir().unwrap();
        let id;
        {
            let c = open(dir.path(), false);
            c.create_project("proj", "d").unwrap();
            assert_eq!(c.create_project("proj", "d").unwrap_err().code, ErrorCode::ProjectAlreadyExist);
            let s = LogstoreSettings { shard_count: 2, ..c.default_settings() };
            id = c.create_logstore("proj", "store", s.clone()).unwrap().id;
            assert_eq!(c.create_logstore("proj", "store", s).unwrap_err().code, ErrorCode::LogStoreAlreadyExist);
            let out = c.split_shard("proj", "store", 0, route::parse_hash_key("4").unwrap()).unwrap();
            assert_eq!(
                out.iter().map(|s| (s.id, s.status)).collect::<Vec<_>>(),
                vec![(0, ShardStatus::Readonly), (2, ShardStatus::Readwrite), (3, ShardStatus::Readwrite)]
            );
            let merged = c.merge_shards("proj", "store", 2).unwrap();
            assert_eq!(merged[0].id, 4);
            assert_eq!((merged[0].begin, merged[0].end), (0, route::parse_hash_key("8").unwrap()));
        }
        let c = open(dir.path(), false);
        let ls = c.logstore("proj", "store").unwrap();
        assert_eq!(ls.id, id);
        assert_eq!(ls.shards.len(), 5);
        assert_eq!(ls.next_shard_id, 5);
        assert_eq!(c.logstore("proj", "nope").unwrap_err().code, ErrorCode::LogStoreNotExist);
        assert_eq!(c.resolve_for_write("nope", "x", false).unwrap_err().code, ErrorCode::ProjectNotExist);
    }

    #[test]
    fn auto_create_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let c = open(dir.path(), true);
        let ls = c.resolve_for_write("auto-proj", "auto_store", false).unwrap();
        assert_eq!(ls.shards.len(), 2);
        c.delete_logstore("auto-proj", "auto_store").unwrap();
        assert_eq!(c.logstore("auto-proj", "auto_store").unwrap_err().code, ErrorCode::LogStoreNotExist);
        c.delete_project("auto-proj").unwrap();
        assert_eq!(c.project("auto-proj").unwrap_err().code, ErrorCode::ProjectNotExist);
    }

    #[test]
    fn lts_ids_are_the_uuids_and_survive_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (group, stream) = {
            let c = open(dir.path(), true);
            let ls = c.resolve_for_write("group-a", "stream_a", false).unwrap();
            c.resolve_for_write("group-b", "stream_a", false).unwrap();
            (c.project("group-a").unwrap().id, ls.id)
        };
        let c = open(dir.path(), false);
        assert_eq!(c.project_by_id(group).unwrap().name, "group-a");
        assert_eq!(c.logstore_by_id("group-a", stream).unwrap().name, "stream_a");
        // The stream id belongs to group-a only.
        assert_eq!(c.logstore_by_id("group-b", stream).unwrap_err().code, ErrorCode::LogStoreNotExist);
        assert_eq!(c.project_by_id(stream).unwrap_err().code, ErrorCode::ProjectNotExist);
    }
}
