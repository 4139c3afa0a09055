//! Storage: the only module that imports `rocksdb`. It owns the database, its column families
//! (see [`keys`] for the layout) and the shard log: append a batch of LogGroups to shards
//! atomically and get their positions, read from a position, find a position by receive time,
//! trim by time, and find the groups of a log-time window through the time index written in the
//! same batch as the data. The shard log is the [`ShardLog`] trait so another backend can sit
//! beside this one.

pub mod keys;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DBWithThreadMode, Direction, IteratorMode, MultiThreaded,
    Options, WriteBatch, WriteBufferManager, WriteOptions,
};
use uuid::Uuid;

pub use keys::{Codec, RecordHeader};

type Db = DBWithThreadMode<MultiThreaded>;
/// A raw key and value.
pub type KeyValue = (Vec<u8>, Vec<u8>);
type Batch = WriteBatch;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    #[error("logstore storage {0} does not exist")]
    NoStream(Uuid),
    #[error("corrupt record in {stream} shard {shard} at {seq}")]
    Corrupt { stream: Uuid, shard: u32, seq: u64 },
    /// A shard log outside the process (Kafka) is unreachable, slow or full: retryable.
    #[error("the shard log is unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// Whether the store as a whole refuses writes: the disk is full, or an I/O error put
    /// RocksDB into its read-only background-error state (which it leaves by itself once space
    /// is freed, see `RocksStore::open_with`). Such a failure is retryable and says nothing about
    /// the request; any other error is the request's own (its logstore was dropped meanwhile).
    pub fn refuses_all_writes(&self) -> bool {
        match self {
            StoreError::Rocks(e) => is_no_space(e) || e.kind() == rocksdb::ErrorKind::IOError,
            StoreError::Unavailable(_) => true,
            _ => false,
        }
    }

    /// Whether opening failed because another process holds the database's `LOCK` file.
    pub fn is_locked(&self) -> bool {
        matches!(self, StoreError::Rocks(e) if e.as_ref().contains("lock file") || e.as_ref().contains("LOCK"))
    }
}

fn is_no_space(e: &rocksdb::Error) -> bool {
    let message = e.as_ref();
    message.contains("No space left") || message.contains("NoSpace")
}

/// One LogGroup to append.
#[derive(Debug, Clone)]
pub struct GroupRecord {
    pub header: RecordHeader,
    pub payload: bytes::Bytes,
}

/// All LogGroups of one request: they go to one shard, atomically.
#[derive(Debug, Clone)]
pub struct Append {
    pub stream: Uuid,
    pub shard: u32,
    pub groups: Vec<GroupRecord>,
}

/// What a shard log kept outside the process (Kafka) reports at each scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogFigures {
    /// Records this node has acknowledged that its local copy does not hold yet.
    pub unstored_records: u64,
    /// Producers replaced since the start because the broker fenced or forgot them.
    pub producer_replacements: u64,
}

/// Records of one shard at given sequences: `(logstore, shard, [(sequence, group)])`.
pub type ShardRecords = (Uuid, u32, Vec<(u64, GroupRecord)>);

/// A stored LogGroup read back.
#[derive(Debug, Clone)]
pub struct StoredGroup {
    pub shard: u32,
    pub seq: u64,
    pub header: RecordHeader,
    pub payload: Vec<u8>,
}

/// The shard log: what the write and read paths need from storage.
pub trait ShardLog: Send + Sync + 'static {
    /// Appends every item in one atomic write (all or nothing). Returns the first sequence number
    /// of each item; an item's groups get consecutive numbers. Receive times are stamped here and
    /// never decrease within a shard. `sync` fsyncs the WAL before returning.
    fn append(&self, items: &mut [Append], sync: bool) -> Result<Vec<u64>, StoreError>;
    /// Up to `max_groups` groups from `from` on, stopping once `max_bytes` of payload are read
    /// (at least one group is returned when one exists).
    fn read(
        &self,
        stream: Uuid,
        shard: u32,
        from: u64,
        max_groups: usize,
        max_bytes: usize,
    ) -> Result<Vec<StoredGroup>, StoreError>;
    /// `(first, end)`: the first retained sequence and one past the last (equal when empty).
    fn bounds(&self, stream: Uuid, shard: u32) -> Result<(u64, u64), StoreError>;
    /// The first sequence whose receive time is at or after `unix_ns` (`end` if none).
    fn seek_receive_time(&self, stream: Uuid, shard: u32, unix_ns: u64) -> Result<u64, StoreError>;
    /// Removes every group of the shard received before `unix_ns`. Returns how many were removed.
    fn trim_before(&self, stream: Uuid, shard: u32, unix_ns: u64) -> Result<u64, StoreError>;
    /// Positions `(shard, seq)` of every group whose log times (unix seconds) overlap
    /// `[from, to]`, from the time index: reading them costs about the window's data, not the
    /// stream's.
    fn groups_in_time(&self, stream: Uuid, from: u32, to: u32) -> Result<Vec<(u32, u64)>, StoreError>;
    /// The groups at these positions, in the order given; positions trimmed meanwhile are skipped.
    fn read_at(&self, stream: Uuid, positions: &[(u32, u64)]) -> Result<Vec<StoredGroup>, StoreError>;
    /// Removes the time-index entries of groups whose log times all lie before `secs`.
    fn trim_index_before(&self, stream: Uuid, secs: u32) -> Result<(), StoreError>;
    /// Figures of a shard log kept outside the process, for `/metrics` (None: the embedded store).
    fn log_figures(&self) -> Option<LogFigures> {
        None
    }
}

/// Per-shard append state, owned by the store so sequence numbers stay dense.
#[derive(Debug, Clone, Copy)]
struct Tail {
    next_seq: u64,
    last_receive_ns: u64,
}

/// Memory bounds of the embedded store: whatever the number of logstores, RocksDB's memtables
/// and its block cache stay within these budgets.
#[derive(Debug, Clone, Copy)]
pub struct StoreMemory {
    /// All memtables of all column families together: a write-buffer manager flushes when the
    /// mutable ones reach 7/8 of it and stalls writes (the shard queues then fill and writers get
    /// ServerBusy) while the total is above it.
    pub memtable_bytes: usize,
    /// One block cache shared by every column family, for reads.
    pub block_cache_bytes: usize,
}

impl Default for StoreMemory {
    fn default() -> Self {
        StoreMemory { memtable_bytes: 256 << 20, block_cache_bytes: 32 << 20 }
    }
}

/// The embedded RocksDB backend.
pub struct RocksStore {
    db: Db,
    tails: Mutex<HashMap<(Uuid, u32), Tail>>,
    /// Every column family of the database, by name; held while a family is created or dropped,
    /// so a shard's first write and a logstore's drop do not race.
    families: Mutex<std::collections::BTreeSet<String>>,
    /// The column-family options every logstore's families are created with (shared cache).
    cf_opts: Options,
}

impl RocksStore {
    /// Opens (or creates) the store in `dir` with the default memory budgets.
    pub fn open(dir: &Path) -> Result<Arc<RocksStore>, StoreError> {
        Self::open_with(dir, StoreMemory::default())
    }

    pub fn open_with(dir: &Path, memory: StoreMemory) -> Result<Arc<RocksStore>, StoreError> {
        let cache = Cache::new_lru_cache(memory.block_cache_bytes);
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_keep_log_file_num(8);
        opts.increase_parallelism(2);
        opts.set_write_buffer_manager(&WriteBufferManager::new_write_buffer_manager(memory.memtable_bytes, true));
        // A WAL file can be deleted only once every family it holds writes of is flushed; with a
        // family per logstore, a quiet logstore would otherwise pin the WAL forever.
        opts.set_max_total_wal_size(2 * memory.memtable_bytes as u64);
        // A torn last record (a crash mid-write, never acknowledged) is dropped; a damaged record
        // before the end fails the open. RocksDB's default (point in time) would instead open and
        // silently drop everything after the damage, acknowledged writes included.
        opts.set_wal_recovery_mode(rocksdb::DBRecoveryMode::TolerateCorruptedTailRecords);
        let cf_opts = cf_options(&cache, memory);
        let existing = Db::list_cf(&opts, dir).unwrap_or_default();
        let mut names: Vec<String> = existing;
        for required in ["default", keys::META_CF] {
            if !names.iter().any(|n| n == required) {
                names.push(required.to_string());
            }
        }
        let cfs = names.iter().map(|n| ColumnFamilyDescriptor::new(n, cf_opts.clone()));
        let db = Db::open_cf_descriptors(&opts, dir, cfs)?;
        let families = Mutex::new(names.into_iter().collect());
        let store = RocksStore { db, tails: Mutex::new(HashMap::new()), families, cf_opts };
        for name in store.family_names() {
            if let keys::Family::LegacyLogstore(stream) = keys::parse_cf(&name) {
                store.split_legacy_family(stream)?;
            }
        }
        for stream in store.stream_ids() {
            if store.db.cf_handle(&keys::index_cf(stream)).is_none() {
                store.build_index(stream)?;
            }
        }
        Ok(Arc::new(store))
    }

    /// Creates a logstore: its time index family, which marks the logstore as existing
    /// (idempotent). A shard's data family is created by the shard's first write.
    pub fn create_stream(&self, stream: Uuid) -> Result<(), StoreError> {
        let mut families = self.families.lock().expect("families lock");
        self.ensure_family(&mut families, &keys::index_cf(stream))
    }

    /// Drops a logstore's column families and everything in them.
    pub fn drop_stream(&self, stream: Uuid) -> Result<(), StoreError> {
        let mut families = self.families.lock().expect("families lock");
        self.tails.lock().expect("tails lock").retain(|(s, _), _| *s != stream);
        // The index first: without it the logstore no longer exists for a concurrent first write.
        let mut names: Vec<String> =
            families.iter().filter(|n| keys::parse_cf(n).stream() == Some(stream)).cloned().collect();
        names.sort_by_key(|n| !matches!(keys::parse_cf(n), keys::Family::Index(_)));
        for name in names {
            self.db.drop_cf(&name)?;
            families.remove(&name);
        }
        Ok(())
    }

    /// Creates a column family unless it exists; the caller holds the families lock.
    fn ensure_family(&self, families: &mut std::collections::BTreeSet<String>, name: &str) -> Result<(), StoreError> {
        if !families.contains(name) {
            self.db.create_cf(name, &self.cf_opts)?;
            families.insert(name.to_string());
        }
        Ok(())
    }

    /// Every column family's name.
    fn family_names(&self) -> Vec<String> {
        self.families.lock().expect("families lock").iter().cloned().collect()
    }

    /// The data family of a shard, created if the logstore exists and this is its first write.
    fn data_cf_for_write(&self, stream: Uuid, shard: u32) -> Result<Arc<rocksdb::BoundColumnFamily<'_>>, StoreError> {
        let name = keys::shard_cf(stream, shard);
        if let Some(cf) = self.db.cf_handle(&name) {
            return Ok(cf);
        }
        let mut families = self.families.lock().expect("families lock");
        if !families.contains(&keys::index_cf(stream)) {
            return Err(StoreError::NoStream(stream));
        }
        self.ensure_family(&mut families, &name)?;
        drop(families);
        self.db.cf_handle(&name).ok_or(StoreError::NoStream(stream))
    }

    /// The data family of a shard; `None` if the shard was never written. Fails if the logstore
    /// does not exist.
    fn data_cf(&self, stream: Uuid, shard: u32) -> Result<Option<Arc<rocksdb::BoundColumnFamily<'_>>>, StoreError> {
        match self.db.cf_handle(&keys::shard_cf(stream, shard)) {
            Some(cf) => Ok(Some(cf)),
            None => self.index_cf(stream).map(|_| None),
        }
    }

    /// Moves the records of a logstore's one data family (the layout before families were per
    /// shard) into per-shard families, keys unchanged, then drops it. Idempotent: a crash midway
    /// leaves the old family, and the next open copies the same records again.
    fn split_legacy_family(&self, stream: Uuid) -> Result<(), StoreError> {
        let legacy_name = keys::legacy_logstore_cf(stream);
        tracing::info!(%stream, "moving a logstore's records into one column family per shard");
        let legacy = self.db.cf_handle(&legacy_name).ok_or(StoreError::NoStream(stream))?;
        let mut batch = Batch::default();
        let mut batch_bytes = 0usize;
        for item in self.db.iterator_cf(&legacy, IteratorMode::Start) {
            let (k, v) = item?;
            let Some((shard, _)) = keys::parse_log_key(&k) else { continue };
            let name = keys::shard_cf(stream, shard);
            self.ensure_family(&mut self.families.lock().expect("families lock"), &name)?;
            let cf = self.db.cf_handle(&name).ok_or(StoreError::NoStream(stream))?;
            batch.put_cf(&cf, &k, &v);
            batch_bytes += k.len() + v.len();
            if batch_bytes >= 16 << 20 {
                self.db.write(std::mem::take(&mut batch))?;
                batch_bytes = 0;
            }
        }
        self.db.write(batch)?;
        drop(legacy);
        // The copies reach the disk before the original is dropped.
        self.db.flush_wal(true)?;
        let mut families = self.families.lock().expect("families lock");
        self.db.drop_cf(&legacy_name)?;
        families.remove(&legacy_name);
        Ok(())
    }

    /// Creates the time index of a logstore stored before indexes existed, from its data.
    fn build_index(&self, stream: Uuid) -> Result<(), StoreError> {
        tracing::info!(%stream, "building the time index of a logstore");
        self.create_stream(stream)?;
        let index = self.index_cf(stream)?;
        let mut batch = Batch::default();
        for name in self.family_names() {
            let keys::Family::Shard(s, _) = keys::parse_cf(&name) else { continue };
            if s != stream {
                continue;
            }
            let data = self.db.cf_handle(&name).ok_or(StoreError::NoStream(stream))?;
            for item in self.db.iterator_cf(&data, IteratorMode::Start) {
                let (k, v) = item?;
                let (Some((shard, seq)), Some((h, _))) = (keys::parse_log_key(&k), RecordHeader::decode(&v)) else {
                    continue;
                };
                let (key, value) = keys::index_entry(h.min_time, h.max_time, shard, seq);
                batch.put_cf(&index, key, value);
                if batch.len() >= 10_000 {
                    self.db.write(std::mem::take(&mut batch))?;
                }
            }
        }
        self.db.write(batch)?;
        Ok(())
    }

    /// The ids of every logstore with a column family in the store.
    pub fn stream_ids(&self) -> Vec<Uuid> {
        let ids: std::collections::BTreeSet<Uuid> =
            self.family_names().iter().filter_map(|n| keys::parse_cf(n).stream()).collect();
        ids.into_iter().collect()
    }

    /// Stores records of a shard log kept outside the process (the Kafka backend) at the
    /// sequences given, `(logstore, shard, [(sequence, group)])`, with their time-index entries,
    /// in one atomic write. That write is also the consumer's checkpoint: a shard's end sequence
    /// says where to resume. Records at or below a shard's last stored sequence are skipped (a
    /// redelivery); receive times are made non-decreasing along each shard, as `append` keeps
    /// them.
    pub fn append_at(&self, writes: Vec<ShardRecords>) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        let mut new_tails: HashMap<(Uuid, u32), Tail> = HashMap::new();
        for (stream, shard, records) in writes {
            let cf = self.data_cf_for_write(stream, shard)?;
            let index = self.index_cf(stream)?;
            let mut tail = match new_tails.get(&(stream, shard)) {
                Some(t) => *t,
                None => self.tail(stream, shard)?,
            };
            for (seq, mut group) in records {
                if seq < tail.next_seq {
                    continue;
                }
                tail.last_receive_ns = tail.last_receive_ns.max(group.header.receive_ns);
                group.header.receive_ns = tail.last_receive_ns;
                put_group(&mut batch, &cf, &index, shard, seq, &group);
                tail.next_seq = seq + 1;
            }
            new_tails.insert((stream, shard), tail);
        }
        self.db.write(batch)?;
        self.tails.lock().expect("tails lock").extend(new_tails);
        Ok(())
    }

    /// Writes catalog entries and deletions atomically, fsynced.
    pub fn meta_write(&self, puts: &[(Vec<u8>, Vec<u8>)], deletes: &[Vec<u8>]) -> Result<(), StoreError> {
        let cf = self.meta_cf()?;
        let mut batch = Batch::default();
        for (k, v) in puts {
            batch.put_cf(&cf, k, v);
        }
        for k in deletes {
            batch.delete_cf(&cf, k);
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(batch, &wo)?;
        Ok(())
    }

    /// Every catalog entry whose key starts with `prefix`.
    pub fn meta_scan(&self, prefix: &[u8]) -> Result<Vec<KeyValue>, StoreError> {
        let cf = self.meta_cf()?;
        let mut out = Vec::new();
        for item in self.db.iterator_cf(&cf, IteratorMode::From(prefix, Direction::Forward)) {
            let (k, v) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    /// Flushes memtables and the WAL to disk (used on shutdown).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_wal(true)?;
        for name in self.family_names() {
            if let Some(cf) = self.db.cf_handle(&name) {
                self.db.flush_cf(&cf)?;
            }
        }
        Ok(())
    }

    fn meta_cf(&self) -> Result<Arc<rocksdb::BoundColumnFamily<'_>>, StoreError> {
        self.db.cf_handle(keys::META_CF).ok_or(StoreError::NoStream(Uuid::nil()))
    }

    fn index_cf(&self, stream: Uuid) -> Result<Arc<rocksdb::BoundColumnFamily<'_>>, StoreError> {
        self.db.cf_handle(&keys::index_cf(stream)).ok_or(StoreError::NoStream(stream))
    }

    /// Index positions of one kind with `min_time` in `[lowest, to]` and `max_time >= from`.
    fn scan_index(
        &self,
        stream: Uuid,
        kind: keys::IndexKind,
        lowest: u32,
        from: u32,
        to: u32,
        out: &mut Vec<(u32, u64)>,
    ) -> Result<(), StoreError> {
        let cf = self.index_cf(stream)?;
        let start = keys::index_key(kind, lowest, 0, 0);
        for item in self.db.iterator_cf(&cf, IteratorMode::From(&start, Direction::Forward)) {
            let (k, v) = item?;
            let Some((k_kind, min_time, shard, seq)) = keys::parse_index_key(&k) else { break };
            if k_kind != kind || min_time > to {
                break;
            }
            if keys::parse_index_value(&v).is_some_and(|max_time| max_time >= from) {
                out.push((shard, seq));
            }
        }
        Ok(())
    }

    /// The tail of a shard, loaded from disk the first time it is needed.
    fn load_tail(&self, stream: Uuid, shard: u32) -> Result<Tail, StoreError> {
        let Some(cf) = self.data_cf(stream, shard)? else {
            return Ok(Tail { next_seq: 1, last_receive_ns: 0 });
        };
        let upper = keys::log_key(shard, u64::MAX);
        let mut it = self.db.iterator_cf(&cf, IteratorMode::From(&upper, Direction::Reverse));
        if let Some(item) = it.next() {
            let (k, v) = item?;
            if let Some((s, seq)) = keys::parse_log_key(&k) {
                if s == shard {
                    let last_receive_ns = RecordHeader::receive_ns_of(&v).unwrap_or(0);
                    return Ok(Tail { next_seq: seq + 1, last_receive_ns });
                }
            }
        }
        Ok(Tail { next_seq: 1, last_receive_ns: 0 })
    }

    fn tail(&self, stream: Uuid, shard: u32) -> Result<Tail, StoreError> {
        if let Some(t) = self.tails.lock().expect("tails lock").get(&(stream, shard)) {
            return Ok(*t);
        }
        let t = self.load_tail(stream, shard)?;
        Ok(*self.tails.lock().expect("tails lock").entry((stream, shard)).or_insert(t))
    }

    fn get_seq(&self, stream: Uuid, shard: u32, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(cf) = self.data_cf(stream, shard)? else { return Ok(None) };
        Ok(self.db.get_cf(&cf, keys::log_key(shard, seq))?)
    }
}

/// RocksDB figures for monitoring (`/metrics`), read from its properties.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreFigures {
    /// Bytes per second writes are slowed to; 0 while they are not delayed.
    pub delayed_write_rate: u64,
    /// Writes are stopped (a stall) until flushes or compactions catch up.
    pub write_stopped: bool,
    pub running_compactions: u64,
    pub running_flushes: u64,
    /// Column families with a compaction pending.
    pub compactions_pending: u64,
    pub pending_compaction_bytes: u64,
    /// Active and immutable memtables, bytes.
    pub memtable_bytes: u64,
    pub live_sst_bytes: u64,
    pub block_cache_bytes: u64,
}

impl RocksStore {
    /// Monitoring figures, read-only: database-wide properties, and per-column-family ones summed
    /// over the catalog's family and those of the logstores `streams` (data and index). Cheap
    /// (in-memory counters), but it takes RocksDB's mutex: call it off the async runtime.
    pub fn figures(&self, streams: &[Uuid]) -> StoreFigures {
        use rocksdb::properties as p;
        let db_int = |name: &p::PropName| self.db.property_int_value(name).ok().flatten().unwrap_or(0);
        let mut f = StoreFigures {
            delayed_write_rate: db_int(p::ACTUAL_DELAYED_WRITE_RATE),
            write_stopped: db_int(p::IS_WRITE_STOPPED) != 0,
            running_compactions: db_int(p::NUM_RUNNING_COMPACTIONS),
            running_flushes: db_int(p::NUM_RUNNING_FLUSHES),
            // One block cache is shared by every family.
            block_cache_bytes: db_int(p::BLOCK_CACHE_USAGE),
            ..StoreFigures::default()
        };
        let counted = |name: &str| match keys::parse_cf(name).stream() {
            Some(stream) => streams.contains(&stream),
            None => true,
        };
        for name in self.family_names().into_iter().filter(|n| counted(n)) {
            let Some(cf) = self.db.cf_handle(&name) else { continue };
            let int = |name: &p::PropName| self.db.property_int_value_cf(&cf, name).ok().flatten().unwrap_or(0);
            f.compactions_pending += int(p::COMPACTION_PENDING);
            f.pending_compaction_bytes += int(p::ESTIMATE_PENDING_COMPACTION_BYTES);
            f.memtable_bytes += int(p::SIZE_ALL_MEM_TABLES);
            f.live_sst_bytes += int(p::LIVE_SST_FILES_SIZE);
        }
        f
    }
}

fn cf_options(cache: &Cache, memory: StoreMemory) -> Options {
    let mut o = Options::default();
    // Payloads are mostly LZ4 blocks already; compressing them again costs CPU for nothing.
    o.set_compression_type(rocksdb::DBCompressionType::None);
    // One memtable may take a quarter of the budget (64 MiB by default), so a busy logstore
    // flushes in large files while many logstores still share the budget.
    o.set_write_buffer_size((memory.memtable_bytes / 4).max(1 << 20));
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    o.set_block_based_table_factory(&table);
    o
}

/// Adds a group at `(shard, seq)` and its time-index entry to `batch`.
fn put_group(
    batch: &mut Batch,
    data: &Arc<rocksdb::BoundColumnFamily<'_>>,
    index: &Arc<rocksdb::BoundColumnFamily<'_>>,
    shard: u32,
    seq: u64,
    group: &GroupRecord,
) {
    batch.put_cf(data, keys::log_key(shard, seq), group.header.encode(&group.payload));
    let h = &group.header;
    let (index_key, index_value) = keys::index_entry(h.min_time, h.max_time, shard, seq);
    batch.put_cf(index, index_key, index_value);
}

fn now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

impl ShardLog for RocksStore {
    fn append(&self, items: &mut [Append], sync: bool) -> Result<Vec<u64>, StoreError> {
        let mut batch = Batch::default();
        let mut firsts = Vec::with_capacity(items.len());
        let mut new_tails: HashMap<(Uuid, u32), Tail> = HashMap::new();
        let now = now_ns();
        for item in items.iter_mut() {
            let cf = self.data_cf_for_write(item.stream, item.shard)?;
            let index = self.index_cf(item.stream)?;
            let key = (item.stream, item.shard);
            let mut tail = match new_tails.get(&key) {
                Some(t) => *t,
                None => self.tail(item.stream, item.shard)?,
            };
            firsts.push(tail.next_seq);
            for group in &mut item.groups {
                tail.last_receive_ns = tail.last_receive_ns.max(now);
                group.header.receive_ns = tail.last_receive_ns;
                put_group(&mut batch, &cf, &index, item.shard, tail.next_seq, group);
                tail.next_seq += 1;
            }
            new_tails.insert(key, tail);
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(sync);
        self.db.write_opt(batch, &wo)?;
        // Only after the write succeeded: a failed write leaves no gap in the sequence.
        self.tails.lock().expect("tails lock").extend(new_tails);
        Ok(firsts)
    }

    fn read(
        &self,
        stream: Uuid,
        shard: u32,
        from: u64,
        max_groups: usize,
        max_bytes: usize,
    ) -> Result<Vec<StoredGroup>, StoreError> {
        let Some(cf) = self.data_cf(stream, shard)? else { return Ok(Vec::new()) };
        let start = keys::log_key(shard, from);
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for item in self.db.iterator_cf(&cf, IteratorMode::From(&start, Direction::Forward)) {
            if out.len() >= max_groups || (bytes >= max_bytes && !out.is_empty()) {
                break;
            }
            let (k, v) = item?;
            let Some((s, seq)) = keys::parse_log_key(&k) else {
                break;
            };
            if s != shard {
                break;
            }
            let (header, payload) = RecordHeader::decode(&v).ok_or(StoreError::Corrupt { stream, shard, seq })?;
            bytes += header.raw_len as usize;
            out.push(StoredGroup { shard, seq, header, payload: payload.to_vec() });
        }
        Ok(out)
    }

    fn bounds(&self, stream: Uuid, shard: u32) -> Result<(u64, u64), StoreError> {
        let end = self.tail(stream, shard)?.next_seq;
        let Some(cf) = self.data_cf(stream, shard)? else { return Ok((end, end)) };
        let start = keys::log_key(shard, 0);
        let mut it = self.db.iterator_cf(&cf, IteratorMode::From(&start, Direction::Forward));
        let first = match it.next() {
            Some(item) => {
                let (k, _) = item?;
                match keys::parse_log_key(&k) {
                    Some((s, seq)) if s == shard => seq,
                    _ => end,
                }
            }
            None => end,
        };
        Ok((first.min(end), end))
    }

    fn seek_receive_time(&self, stream: Uuid, shard: u32, unix_ns: u64) -> Result<u64, StoreError> {
        let (mut lo, mut hi) = self.bounds(stream, shard)?;
        // Receive times never decrease along the sequence: binary search for the first >= unix_ns.
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let recv = match self.get_seq(stream, shard, mid)? {
                Some(v) => RecordHeader::receive_ns_of(&v).ok_or(StoreError::Corrupt { stream, shard, seq: mid })?,
                None => 0, // trimmed concurrently: treat as old
            };
            if recv < unix_ns {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    fn trim_before(&self, stream: Uuid, shard: u32, unix_ns: u64) -> Result<u64, StoreError> {
        let (first, _) = self.bounds(stream, shard)?;
        let cut = self.seek_receive_time(stream, shard, unix_ns)?;
        if cut <= first {
            return Ok(0);
        }
        let Some(cf) = self.data_cf(stream, shard)? else { return Ok(0) };
        self.db.delete_range_cf(&cf, keys::log_key(shard, first), keys::log_key(shard, cut))?;
        Ok(cut - first)
    }

    fn groups_in_time(&self, stream: Uuid, from: u32, to: u32) -> Result<Vec<(u32, u64)>, StoreError> {
        let mut out = Vec::new();
        let narrow_from = from.saturating_sub(keys::NARROW_SPAN_SECS);
        self.scan_index(stream, keys::IndexKind::Narrow, narrow_from, from, to, &mut out)?;
        self.scan_index(stream, keys::IndexKind::Wide, 0, from, to, &mut out)?;
        Ok(out)
    }

    fn trim_index_before(&self, stream: Uuid, secs: u32) -> Result<(), StoreError> {
        let cf = self.index_cf(stream)?;
        // A narrow group ends at most NARROW_SPAN_SECS after it starts.
        let narrow_end = secs.saturating_sub(keys::NARROW_SPAN_SECS);
        let mut batch = Batch::default();
        batch.delete_range_cf(
            &cf,
            keys::index_key(keys::IndexKind::Narrow, 0, 0, 0),
            keys::index_key(keys::IndexKind::Narrow, narrow_end, 0, 0),
        );
        // Wide groups are rare: look at each.
        let start = keys::index_key(keys::IndexKind::Wide, 0, 0, 0);
        for item in self.db.iterator_cf(&cf, IteratorMode::From(&start, Direction::Forward)) {
            let (k, v) = item?;
            match keys::parse_index_key(&k) {
                Some((keys::IndexKind::Wide, min_time, _, _)) if min_time < secs => {
                    if keys::parse_index_value(&v).is_some_and(|max_time| max_time < secs) {
                        batch.delete_cf(&cf, &k);
                    }
                }
                _ => break,
            }
        }
        self.db.write(batch)?;
        Ok(())
    }

    fn read_at(&self, stream: Uuid, positions: &[(u32, u64)]) -> Result<Vec<StoredGroup>, StoreError> {
        // The families of the shards named, looked up once each; a shard never written has none.
        let mut families: Vec<(u32, Option<Arc<rocksdb::BoundColumnFamily<'_>>>)> = Vec::new();
        for &(shard, _) in positions {
            if !families.iter().any(|(s, _)| *s == shard) {
                families.push((shard, self.data_cf(stream, shard)?));
            }
        }
        let present: Vec<(&Arc<rocksdb::BoundColumnFamily<'_>>, (u32, u64))> = positions
            .iter()
            .filter_map(|&(shard, seq)| {
                let cf = families.iter().find(|(s, _)| *s == shard).and_then(|(_, cf)| cf.as_ref())?;
                Some((cf, (shard, seq)))
            })
            .collect();
        let keys: Vec<_> = present.iter().map(|&(cf, (shard, seq))| (cf, keys::log_key(shard, seq))).collect();
        let mut out = Vec::with_capacity(positions.len());
        for (value, &(_, (shard, seq))) in self.db.multi_get_cf(keys).into_iter().zip(&present) {
            let Some(v) = value? else { continue };
            let (header, payload) = RecordHeader::decode(&v).ok_or(StoreError::Corrupt { stream, shard, seq })?;
            out.push(StoredGroup { shard, seq, header, payload: payload.to_vec() });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(n: u8) -> GroupRecord {
        GroupRecord {
            header: RecordHeader {
                codec: Codec::None,
                raw_len: 1,
                log_count: 1,
                min_time: 1,
                max_time: 1,
                receive_ns: 0,
                client_ip: "10.0.0.1".into(),
            },
            payload: bytes::Bytes::from(vec![n]),
        }
    }

    #[test]
    fn append_read_bounds_and_restart() {
        let dir = tempfile::tempdir().unwrap();
        let stream = Uuid::new_v4();
        {
            let store = RocksStore::open(dir.path()).unwrap();
            store.create_stream(stream).unwrap();
            assert_eq!(store.bounds(stream, 0).unwrap(), (1, 1));
            let mut items = vec![
                Append { stream, shard: 0, groups: vec![group(1), group(2)] },
                Append { stream, shard: 1, groups: vec![group(9)] },
                Append { stream, shard: 0, groups: vec![group(3)] },
            ];
            assert_eq!(store.append(&mut items, false).unwrap(), vec![1, 1, 3]);
            let got = store.read(stream, 0, 1, 10, usize::MAX).unwrap();
            assert_eq!(got.iter().map(|g| g.payload[0]).collect::<Vec<_>>(), vec![1, 2, 3]);
            assert!(got.windows(2).all(|w| w[0].header.receive_ns <= w[1].header.receive_ns));
            assert_eq!(store.read(stream, 0, 2, 1, usize::MAX).unwrap()[0].payload, vec![2]);
            assert_eq!(store.read(stream, 1, 1, 10, usize::MAX).unwrap().len(), 1);
            assert_eq!(store.bounds(stream, 0).unwrap(), (1, 4));
        }
        let store = RocksStore::open(dir.path()).unwrap();
        assert_eq!(store.stream_ids(), vec![stream]);
        assert_eq!(store.bounds(stream, 0).unwrap(), (1, 4));
        let mut more = vec![Append { stream, shard: 0, groups: vec![group(4)] }];
        assert_eq!(store.append(&mut more, true).unwrap(), vec![4]);
    }

    /// The data families of a logstore and the shards of each of their live SST files.
    fn data_files(store: &RocksStore, stream: Uuid) -> Vec<(String, u32, u32)> {
        let shard = |k: &Option<Vec<u8>>| keys::parse_log_key(k.as_deref().unwrap()).unwrap().0;
        let mut files: Vec<_> = store
            .db
            .live_files()
            .unwrap()
            .into_iter()
            .filter(|f| matches!(keys::parse_cf(&f.column_family_name), keys::Family::Shard(s, _) if s == stream))
            .map(|f| (f.column_family_name.clone(), shard(&f.start_key), shard(&f.end_key)))
            .collect();
        files.sort();
        files
    }

    /// Interleaved appends to three shards flush into one file per shard, each in its shard's
    /// family: a shard's new file overlaps nothing stored before it, so compaction can move it
    /// instead of rewriting. (In one family per logstore, the flush was one file spanning every
    /// shard, overlapping all the lower files of the shards in between.)
    #[test]
    fn each_shard_flushes_into_files_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let store = RocksStore::open(dir.path()).unwrap();
        let stream = Uuid::new_v4();
        store.create_stream(stream).unwrap();
        assert!(data_files(&store, stream).is_empty());
        assert_eq!(store.bounds(stream, 2).unwrap(), (1, 1), "a shard never written is empty");
        assert!(store.read(stream, 2, 1, 10, usize::MAX).unwrap().is_empty());
        for round in 0..2 {
            for i in 0..30u32 {
                store.append(&mut [Append { stream, shard: i % 3, groups: vec![group(i as u8)] }], false).unwrap();
            }
            store.flush().unwrap();
            let files = data_files(&store, stream);
            assert_eq!(files.len(), 3 * (round + 1), "{files:?}");
            for (family, first, last) in &files {
                assert_eq!((first, last), (first, first), "a file spans shards: {files:?}");
                assert_eq!(family, &keys::shard_cf(stream, *first));
            }
        }
        assert_eq!(store.read(stream, 2, 1, 100, usize::MAX).unwrap().len(), 20);
        assert_eq!(store.read_at(stream, &[(1, 3), (9, 1), (0, 20), (2, 1)]).unwrap().len(), 3);
    }

    /// A store written in the layout before families were per shard (one family `ls-<uuid>`
    /// holding every shard, and no time index) opens with every record in its shard's family,
    /// the old family gone, and the index rebuilt.
    #[test]
    fn a_logstore_in_one_family_is_split_per_shard_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let stream = Uuid::new_v4();
        {
            let mut opts = Options::default();
            opts.create_if_missing(true);
            opts.create_missing_column_families(true);
            let names = ["default", keys::META_CF, &keys::legacy_logstore_cf(stream)];
            let db = Db::open_cf(&opts, dir.path(), names).unwrap();
            let cf = db.cf_handle(&keys::legacy_logstore_cf(stream)).unwrap();
            for (shard, seq) in [(0, 1), (0, 2), (5, 1), (0, 3), (5, 2)] {
                let mut g = group(seq as u8);
                g.header.min_time = 100 + seq as u32;
                g.header.max_time = g.header.min_time;
                db.put_cf(&cf, keys::log_key(shard, seq), g.header.encode(&g.payload)).unwrap();
            }
        }
        let store = RocksStore::open(dir.path()).unwrap();
        assert_eq!(store.stream_ids(), vec![stream]);
        assert!(store.family_names().iter().all(|n| *n != keys::legacy_logstore_cf(stream)));
        let seqs =
            |shard| store.read(stream, shard, 1, 10, usize::MAX).unwrap().iter().map(|g| g.seq).collect::<Vec<_>>();
        assert_eq!(seqs(0), vec![1, 2, 3]);
        assert_eq!(seqs(5), vec![1, 2]);
        let mut in_window = store.groups_in_time(stream, 102, 102).unwrap();
        in_window.sort();
        assert_eq!(in_window, vec![(0, 2), (5, 2)]);
        assert_eq!(store.append(&mut [Append { stream, shard: 5, groups: vec![group(7)] }], false).unwrap(), vec![3]);
        drop(store);
        let store = RocksStore::open(dir.path()).unwrap();
        assert_eq!(store.bounds(stream, 5).unwrap(), (1, 4));
    }

    /// Dropping a logstore drops every shard's family; a later write to it fails instead of
    /// creating a family nobody owns.
    #[test]
    fn a_dropped_logstore_takes_its_shard_families_and_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = RocksStore::open(dir.path()).unwrap();
        let (stream, other) = (Uuid::new_v4(), Uuid::new_v4());
        for s in [stream, other] {
            store.create_stream(s).unwrap();
            for shard in 0..3 {
                store.append(&mut [Append { stream: s, shard, groups: vec![group(1)] }], false).unwrap();
            }
        }
        store.drop_stream(stream).unwrap();
        assert_eq!(store.stream_ids(), vec![other]);
        let err = store.append(&mut [Append { stream, shard: 7, groups: vec![group(1)] }], false).unwrap_err();
        assert!(matches!(err, StoreError::NoStream(s) if s == stream), "{err}");
        assert!(matches!(store.bounds(stream, 0), Err(StoreError::NoStream(_))));
        drop(store);
        let store = RocksStore::open(dir.path()).unwrap();
        assert_eq!(store.stream_ids(), vec![other]);
        assert_eq!(store.bounds(other, 2).unwrap(), (1, 2));
    }

    /// The Kafka materializer's write: records land at the sequences given (offset + 1, holes
    /// allowed), a redelivered record is skipped, receive times never decrease along the shard,
    /// and the shard's end is the checkpoint after a reopen.
    #[test]
    fn append_at_stores_at_given_sequences_and_skips_redeliveries() {
        let dir = tempfile::tempdir().unwrap();
        let stream = Uuid::new_v4();
        let at = |n: u8, receive_ns: u64| {
            let mut g = group(n);
            g.header.receive_ns = receive_ns;
            g
        };
        {
            let store = RocksStore::open(dir.path()).unwrap();
            store.create_stream(stream).unwrap();
            store.append_at(vec![(stream, 3, vec![(1, at(1, 500)), (2, at(2, 400)), (5, at(5, 600))])]).unwrap();
            // A redelivery of 2 and 5, then 6: only 6 is new.
            store.append_at(vec![(stream, 3, vec![(2, at(9, 1)), (5, at(9, 1)), (6, at(6, 700))])]).unwrap();
            let got = store.read(stream, 3, 1, 10, usize::MAX).unwrap();
            assert_eq!(
                got.iter().map(|g| (g.seq, g.payload[0])).collect::<Vec<_>>(),
                vec![(1, 1), (2, 2), (5, 5), (6, 6)]
            );
            let receive: Vec<u64> = got.iter().map(|g| g.header.receive_ns).collect();
            assert_eq!(receive, vec![500, 500, 600, 700], "never decreasing along the shard");
        }
        let store = RocksStore::open(dir.path()).unwrap();
        assert_eq!(store.bounds(stream, 3).unwrap(), (1, 7), "the end is the next offset + 1");
        assert!(matches!(
            store.append_at(vec![(Uuid::new_v4(), 0, vec![(1, at(1, 1))])]),
            Err(StoreError::NoStream(_))
        ));
    }

    /// RocksDB's own count of WAL syncs, from its statistics dump ("Cumulative WAL: … syncs").
    fn wal_syncs(store: &RocksStore) -> u64 {
        let stats = store.db.property_value("rocksdb.stats").unwrap().unwrap();
        let line = stats.lines().find(|l| l.starts_with("Cumulative WAL:")).expect("a WAL line in rocksdb.stats");
        let before = line.split(" syncs").next().unwrap();
        before.rsplit(' ').next().unwrap().parse().unwrap()
    }

    /// The promise of `durability = "power"`: an append with `sync` is fsynced before it returns
    /// (one sync for the whole group commit), one without is not.
    #[test]
    fn a_synced_append_fsyncs_the_wal_once_and_an_unsynced_one_never() {
        let dir = tempfile::tempdir().unwrap();
        let store = RocksStore::open(dir.path()).unwrap();
        let stream = Uuid::new_v4();
        store.create_stream(stream).unwrap();
        let base = wal_syncs(&store);
        for i in 0..3 {
            store.append(&mut [Append { stream, shard: 0, groups: vec![group(i)] }], false).unwrap();
        }
        assert_eq!(wal_syncs(&store), base, "process durability never syncs the WAL");
        let mut commit: Vec<Append> =
            (0..4).map(|i| Append { stream, shard: i % 2, groups: vec![group(i as u8)] }).collect();
        store.append(&mut commit, true).unwrap();
        assert_eq!(wal_syncs(&store), base + 1, "one fsync for the whole group commit");
    }

    /// The WAL files of a store directory.
    fn wal_files(dir: &Path) -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect()
    }

    /// Appends 300 groups that stay in the WAL only (RocksDB does not flush on close).
    fn wal_only_store(dir: &Path) -> Uuid {
        let store = RocksStore::open(dir).unwrap();
        let stream = Uuid::new_v4();
        store.create_stream(stream).unwrap();
        for i in 0..300u32 {
            let mut g = group((i % 251) as u8);
            g.payload = bytes::Bytes::from(vec![(i % 251) as u8; 1000]);
            store.append(&mut [Append { stream, shard: 0, groups: vec![g] }], true).unwrap();
        }
        stream
    }

    #[test]
    fn a_damaged_wal_record_fails_the_open_and_a_torn_tail_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let stream = wal_only_store(dir.path());
        let wal = wal_files(dir.path()).into_iter().max_by_key(|p| std::fs::metadata(p).unwrap().len()).unwrap();
        let len = std::fs::metadata(&wal).unwrap().len();
        assert!(len > 200_000, "the groups are in the WAL ({len} bytes)");

        // A torn tail (the last record cut short, as a crash mid-write leaves it) is dropped.
        let file = std::fs::OpenOptions::new().write(true).open(&wal).unwrap();
        file.set_len(len - 100).unwrap();
        drop(file);
        let store = RocksStore::open(dir.path()).unwrap();
        let (_, end) = store.bounds(stream, 0).unwrap();
        assert_eq!(end, 300, "every group but the torn last one is recovered");
        drop(store);

        // Four bytes changed in the middle: the open fails instead of dropping the rest.
        let dir = tempfile::tempdir().unwrap();
        wal_only_store(dir.path());
        let wal = wal_files(dir.path()).into_iter().max_by_key(|p| std::fs::metadata(p).unwrap().len()).unwrap();
        let mut bytes = std::fs::read(&wal).unwrap();
        let middle = bytes.len() / 2;
        for b in &mut bytes[middle..middle + 4] {
            *b ^= 0xff;
        }
        std::fs::write(&wal, bytes).unwrap();
        let err = RocksStore::open(dir.path()).err().expect("a damaged WAL must not open silently");
        assert!(err.to_string().contains("Corruption"), "{err}");
    }

    #[test]
    fn seek_and_trim_by_receive_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = RocksStore::open(dir.path()).unwrap();
        let stream = Uuid::new_v4();
        store.create_stream(stream).unwrap();
        let mut stamps = Vec::new();
        for i in 0..5 {
            let mut items = vec![Append { stream, shard: 0, groups: vec![group(i)] }];
            store.append(&mut items, false).unwrap();
            stamps.push(items[0].groups[0].header.receive_ns);
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        assert_eq!(store.seek_receive_time(stream, 0, 0).unwrap(), 1);
        assert_eq!(store.seek_receive_time(stream, 0, stamps[2]).unwrap(), 3);
        assert_eq!(store.seek_receive_time(stream, 0, u64::MAX).unwrap(), 6);
        assert_eq!(store.trim_before(stream, 0, stamps[2]).unwrap(), 2);
        assert_eq!(store.bounds(stream, 0).unwrap(), (3, 6));
        assert_eq!(store.read(stream, 0, 1, 10, usize::MAX).unwrap()[0].seq, 3);
    }

    fn timed(n: u8, min_time: u32, max_time: u32) -> GroupRecord {
        let mut g = group(n);
        (g.header.min_time, g.header.max_time) = (min_time, max_time);
        g
    }

    fn payloads(store: &RocksStore, stream: Uuid, from: u32, to: u32) -> Vec<u8> {
        let positions = store.groups_in_time(stream, from, to).unwrap();
        let mut p: Vec<u8> = store.read_at(stream, &positions).unwrap().iter().map(|g| g.payload[0]).collect();
        p.sort();
        p
    }

    #[test]
    fn the_time_index_finds_exactly_the_overlapping_groups_and_is_rebuilt_when_missing() {
        let dir = tempfile::tempdir().unwrap();
        let stream = Uuid::new_v4();
        let hour = keys::NARROW_SPAN_SECS;
        {
            let store = RocksStore::open(dir.path()).unwrap();
            store.create_stream(stream).unwrap();
            let mut items = vec![
                Append { stream, shard: 0, groups: vec![timed(1, 1000, 1010), timed(2, 5000, 5000)] },
                Append { stream, shard: 1, groups: vec![timed(3, 1005, 1005 + hour)] },
                // A wide group: from the start of the window to far after it.
                Append { stream, shard: 1, groups: vec![timed(4, 10, 10 + 10 * hour)] },
            ];
            store.append(&mut items, false).unwrap();
            assert_eq!(payloads(&store, stream, 1000, 1000), vec![1, 4]);
            assert_eq!(payloads(&store, stream, 1011, 2000), vec![3, 4]);
            // Group 3 starts almost an hour before this window: found through the lookback.
            assert_eq!(payloads(&store, stream, 4600, 4600), vec![3, 4]);
            assert_eq!(payloads(&store, stream, 5000, 5000), vec![2, 4]);
            assert_eq!(payloads(&store, stream, 11 + 10 * hour, u32::MAX), Vec::<u8>::new());
            assert_eq!(payloads(&store, stream, 0, 9), Vec::<u8>::new());
            // A data column family without its index, as a store from before indexes has.
            store.db.drop_cf(&keys::index_cf(stream)).unwrap();
        }
        let store = RocksStore::open(dir.path()).unwrap();
        assert_eq!(payloads(&store, stream, 1000, 1000), vec![1, 4], "rebuilt on open");
        assert_eq!(payloads(&store, stream, 4600, 4600), vec![3, 4]);
        assert_eq!(payloads(&store, stream, 0, u32::MAX), vec![1, 2, 3, 4]);
        let read = store.read_at(stream, &[(0, 2), (9, 9), (0, 1)]).unwrap();
        assert_eq!(read.iter().map(|g| (g.shard, g.seq)).collect::<Vec<_>>(), vec![(0, 2), (0, 1)], "missing skipped");
    }

    #[test]
    fn dropped_stream_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let store = RocksStore::open(dir.path()).unwrap();
        let stream = Uuid::new_v4();
        store.create_stream(stream).unwrap();
        store.drop_stream(stream).unwrap();
        let mut items = vec![Append { stream, shard: 0, groups: vec![group(1)] }];
        assert!(matches!(store.append(&mut items, false), Err(StoreError::NoStream(_))));
    }
}
