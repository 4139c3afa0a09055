//! The Kafka shard log (`storage.backend = "kafka"`), the model SLS itself exposes: a logstore is
//! a topic (`<topic_prefix><logstore uuid>`), a shard is the partition whose index is the shard
//! id, one stored LogGroup is one record, and a cursor's sequence number is the record's offset
//! plus one.
//!
//! - **Write** ([`KafkaLog`] as the [`ShardLog`] of the shard workers): the front end validates and
//!   routes exactly as with the embedded store; the worker produces each LogGroup (record header
//!   and payload, the same bytes RocksDB would hold) to its shard's partition with `acks=all` and
//!   the idempotent producer, and the request is acknowledged only once the broker has
//!   acknowledged every record. A full producer queue, an unreachable or slow broker are the
//!   retryable [`StoreError::Unavailable`]; the producer's queue is bounded, never the process.
//! - **Read** ([`start_materializer`]): a thread consumes every partition of every logstore into the
//!   local RocksDB store (the embedded backend's column families and time index), at sequence =
//!   offset + 1. The shard's last stored sequence *is* the consumed offset, written in the same
//!   atomic batch as the data, so a restart resumes exactly after the last record stored: nothing
//!   lost, nothing twice. Reads (cursors, PullLogs, queries) are served from that store. A read
//!   first waits (up to the produce timeout) until the materializer has stored every record this
//!   node has acknowledged in the shards it reads ([`Watermarks`]), so a write acknowledged by a
//!   node is readable from that node at once, and the write path never waits for the local copy.
//! - **Admin** ([`TopicAdmin`], the catalog's [`LogAdmin`]): creating a logstore creates its topic
//!   with one partition per shard; a split or merge adds the partitions of the new shard ids
//!   (Kafka partitions are add-only, SLS shard ids are never reused, so the partition index stays
//!   the shard id and a readonly parent simply stops receiving records). Deleting a logstore
//!   leaves its topic to its retention (the logstore's ttl): deleting a topic under librdkafka
//!   2.12.1's clients crashed them in their metadata cache against tansu (docs/kafka.md).
//! - **Catalog** ([`catalog_log`]): every node's catalog changes go through one shared topic,
//!   applied in order by every node, so all nodes list the same projects, logstores and shards.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use uuid::Uuid;

use crate::catalog::LogAdmin;
use crate::config::KafkaConfig;
use crate::store::{Append, GroupRecord, LogFigures, RecordHeader, RocksStore, ShardLog, StoreError, StoredGroup};

mod catalog_log;
mod cluster;

pub use catalog_log::{catalog_topic, follow_catalog, CatalogTopic};
use cluster::WireGroup;
pub use cluster::{
    is_node_url, Cluster, PeerReply, PeerRequest, MAX_PEER_REQUEST_BYTES, PEER_READ_PATH, SECRET_HEADER,
};

/// The shard ids of a logstore (from the catalog).
pub type ShardsOf = Arc<dyn Fn(Uuid) -> Vec<u32> + Send + Sync>;

/// Where a read of some shards goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    /// This node stores them.
    Local,
    /// An owner, by its index in `storage.kafka.nodes`.
    Node(usize),
    /// Every owner failed.
    Nowhere,
}

/// The topic of a logstore.
pub fn topic_name(prefix: &str, stream: Uuid) -> String {
    format!("{prefix}{}", stream.simple())
}

/// The logstore of a topic, if the topic is one of logtide's.
pub fn topic_stream(prefix: &str, topic: &str) -> Option<Uuid> {
    let id = topic.strip_prefix(prefix)?;
    (id.len() == 32).then(|| Uuid::try_parse(id).ok()).flatten()
}

/// The librdkafka properties every client of a config shares: the brokers and the user's own.
fn client_config(cfg: &KafkaConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &cfg.brokers);
    for (k, v) in &cfg.client {
        c.set(k, v);
    }
    c
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("{what}: {e}"))
}

/// Per shard, how far the materializer has stored it and how far this node's acknowledged
/// appends reach (end sequences): the read barrier of [`KafkaLog`].
#[derive(Default)]
pub struct Watermarks {
    state: Mutex<Marks>,
    changed: Condvar,
}

#[derive(Default)]
struct Marks {
    stored: HashMap<(Uuid, u32), u64>,
    acked: HashMap<(Uuid, u32), u64>,
}

impl Watermarks {
    fn advance(&self, stream: Uuid, shard: u32, end: u64) {
        let mut marks = self.state.lock().expect("watermarks lock");
        let e = marks.stored.entry((stream, shard)).or_insert(0);
        if end > *e {
            *e = end;
            self.changed.notify_all();
        }
    }

    fn acked(&self, stream: Uuid, shard: u32, end: u64) {
        let mut marks = self.state.lock().expect("watermarks lock");
        let e = marks.acked.entry((stream, shard)).or_insert(0);
        *e = (*e).max(end);
    }

    /// The end this node has acknowledged in a shard (0: nothing).
    fn acked_end(&self, stream: Uuid, shard: u32) -> u64 {
        self.state.lock().expect("watermarks lock").acked.get(&(stream, shard)).copied().unwrap_or(0)
    }

    /// Waits until the shard is stored up to `end`; false if `deadline` passed first.
    fn wait_end(&self, stream: Uuid, shard: u32, end: u64, deadline: Instant) -> bool {
        self.wait_until(deadline, |marks| end <= 1 || marks.stored.get(&(stream, shard)).is_some_and(|&s| s >= end))
    }

    /// Waits until `done` holds, woken by the materializer's progress; false if `deadline`
    /// passed first.
    fn wait_until(&self, deadline: Instant, done: impl Fn(&Marks) -> bool) -> bool {
        let marks = self.state.lock().expect("watermarks lock");
        let left = deadline.saturating_duration_since(Instant::now());
        let (marks, _) = self.changed.wait_timeout_while(marks, left, |m| !done(m)).expect("watermarks lock");
        done(&marks)
    }

    /// Records acknowledged by this node and not stored yet, over the shards `stored_here`.
    fn unstored(&self, stored_here: impl Fn(Uuid, u32) -> bool) -> u64 {
        let marks = self.state.lock().expect("watermarks lock");
        marks
            .acked
            .iter()
            .filter(|((stream, shard), _)| stored_here(*stream, *shard))
            .map(|(key, &acked)| acked.saturating_sub(marks.stored.get(key).copied().unwrap_or(0)))
            .sum()
    }

    /// Waits until every shard of `stream` (or only `shard`) is stored as far as this node's
    /// acknowledged appends reach; false if `deadline` passed first.
    fn wait_stored(&self, stream: Uuid, shard: Option<u32>, deadline: Instant) -> bool {
        self.wait_until(deadline, |marks| {
            !marks.acked.iter().any(|(&(s, sh), &acked)| {
                s == stream
                    && shard.is_none_or(|want| want == sh)
                    && marks.stored.get(&(s, sh)).copied().unwrap_or(0) < acked
            })
        })
    }
}

/// The idempotent producer of a node (shard records and catalog changes), replaced by a new one
/// when librdkafka declares it unusable. After a broker restart, for instance, tansu fences the
/// producer id the running producer holds, and an idempotent producer cannot recover from that by
/// itself: every later record would fail.
pub struct SharedProducer {
    config: ClientConfig,
    current: RwLock<FutureProducer>,
    replacements: std::sync::atomic::AtomicU64,
}

impl SharedProducer {
    fn create(cfg: &KafkaConfig) -> Result<SharedProducer, StoreError> {
        let mut c = client_config(cfg);
        c.set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", cfg.produce_timeout_ms.to_string())
            // The payload is the stored LogGroup, mostly an LZ4 block already.
            .set("compression.type", "none")
            .set("linger.ms", "1")
            // Bounds the producer's memory: a full queue refuses the request (retryable).
            .set("queue.buffering.max.kbytes", (cfg.max_queued_bytes / 1024).max(1).to_string())
            .set("message.max.bytes", cfg.max_record_bytes.to_string());
        let producer: FutureProducer = c.create().map_err(|e| unavailable("cannot create the Kafka producer", e))?;
        Ok(SharedProducer { config: c, current: RwLock::new(producer), replacements: Default::default() })
    }

    /// The producer to send with now.
    pub fn get(&self) -> FutureProducer {
        self.current.read().expect("producer lock").clone()
    }

    /// After `used` failed with `e`: replaces it if it can no longer produce (a fatal error, or
    /// the broker fenced or forgot its producer id). The records it holds fail; their requests
    /// were or will be refused as retryable.
    pub fn recover(&self, used: &FutureProducer, e: &KafkaError) {
        let fenced = matches!(
            e.rdkafka_error_code(),
            Some(
                RDKafkaErrorCode::ProducerFenced
                    | RDKafkaErrorCode::InvalidProducerEpoch
                    | RDKafkaErrorCode::UnknownProducerId
                    | RDKafkaErrorCode::OutOfOrderSequenceNumber
                    | RDKafkaErrorCode::InvalidProducerIdMapping
            )
        );
        let fatal = used.client().fatal_error();
        if !fenced && fatal.is_none() {
            return;
        }
        let mut current = self.current.write().expect("producer lock");
        if current.client().native_ptr() != used.client().native_ptr() {
            return; // replaced already
        }
        match self.config.create::<FutureProducer>() {
            Ok(fresh) => {
                tracing::error!(error = %e, fatal = ?fatal, "the Kafka producer can no longer produce; replaced by a new one");
                let old = std::mem::replace(&mut *current, fresh);
                self.replacements.fetch_add(1, Ordering::Relaxed);
                // Dropping a producer waits for its queue: not on a request's thread.
                let _ = std::thread::Builder::new().name("kafka-producer-drop".into()).spawn(move || drop(old));
            }
            Err(e) => tracing::error!(error = %e, "cannot create a new Kafka producer"),
        }
    }
}

/// The producing side of the Kafka backend; reads go to the local store the [`start_materializer`]
/// fills.
pub struct KafkaLog {
    producer: Arc<SharedProducer>,
    local: Arc<RocksStore>,
    prefix: String,
    timeout: Duration,
    watermarks: Arc<Watermarks>,
    /// With `storage.kafka.nodes`: who stores which shard, and the logstores' shard ids.
    cluster: std::sync::OnceLock<(Arc<Cluster>, ShardsOf)>,
}

impl KafkaLog {
    pub fn connect(cfg: &KafkaConfig, local: Arc<RocksStore>) -> Result<Arc<KafkaLog>, StoreError> {
        Ok(Arc::new(KafkaLog {
            producer: Arc::new(SharedProducer::create(cfg)?),
            local,
            prefix: cfg.topic_prefix.clone(),
            timeout: Duration::from_millis(cfg.produce_timeout_ms),
            watermarks: Arc::new(Watermarks::default()),
            cluster: std::sync::OnceLock::new(),
        }))
    }

    /// Reads shards this node does not store from the nodes that do (set once, at start).
    pub fn set_cluster(&self, cluster: Arc<Cluster>, shards_of: ShardsOf) {
        let _ = self.cluster.set((cluster, shards_of));
    }

    /// Reads a shard: from the local copy when this node stores it, else from its owners.
    fn on_shard<T>(
        &self,
        stream: Uuid,
        shard: u32,
        local: impl FnOnce() -> Result<T, StoreError>,
        request: impl Fn(u64) -> PeerRequest,
        take: impl Fn(PeerReply) -> Option<T>,
    ) -> Result<T, StoreError> {
        match self.cluster.get() {
            Some((cluster, _)) if !cluster.owns(stream, shard) => {
                let min_end = self.watermarks.acked_end(stream, shard);
                let mut last = String::from("no owner");
                for node in cluster.owners(stream, shard) {
                    match cluster.call(node, &request(min_end)) {
                        Ok(PeerReply::Error(e)) | Err(e) => last = e,
                        Ok(reply) => match take(reply) {
                            Some(v) => return Ok(v),
                            None => last = "an answer of another kind".into(),
                        },
                    }
                }
                Err(StoreError::Unavailable(format!("no node storing shard {shard} answered ({last})")))
            }
            _ => {
                self.read_barrier(stream, Some(shard));
                local()
            }
        }
    }

    /// Where to read each shard of `shards` from, the shards grouped by source: this node for
    /// the shards it stores, else their owners in order, `skip[shard]` of them passed over after
    /// failures.
    fn plan(
        &self,
        cluster: &Cluster,
        stream: Uuid,
        shards: &[u32],
        skip: &HashMap<u32, usize>,
    ) -> BTreeMap<Source, Vec<u32>> {
        let mut plan: BTreeMap<Source, Vec<u32>> = BTreeMap::new();
        for &shard in shards {
            let source = if cluster.owns(stream, shard) {
                Source::Local
            } else {
                let next = cluster.owners(stream, shard).get(skip.get(&shard).copied().unwrap_or(0)).copied();
                next.map_or(Source::Nowhere, Source::Node)
            };
            plan.entry(source).or_default().push(shard);
        }
        plan
    }

    /// Runs a read spanning several shards of a logstore: the local part for the shards this
    /// node stores, one peer call per other node, the next owner for the shards of a node that
    /// fails.
    fn across_shards<T>(
        &self,
        cluster: &Cluster,
        stream: Uuid,
        shards: Vec<u32>,
        mut local: impl FnMut(&[u32]) -> Result<Vec<T>, StoreError>,
        request: impl Fn(&[u32], Vec<(u32, u64)>) -> PeerRequest,
        take: impl Fn(PeerReply) -> Option<Vec<T>>,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        let mut skip: HashMap<u32, usize> = HashMap::new();
        let mut pending = shards;
        while !pending.is_empty() {
            let mut failed = Vec::new();
            for (source, shards) in self.plan(cluster, stream, &pending, &skip) {
                let node = match source {
                    Source::Local => {
                        for &shard in &shards {
                            self.read_barrier(stream, Some(shard));
                        }
                        out.extend(local(&shards)?);
                        continue;
                    }
                    Source::Nowhere => {
                        return Err(StoreError::Unavailable(format!(
                            "no node storing shards {shards:?} of logstore {stream} answered"
                        )))
                    }
                    Source::Node(node) => node,
                };
                let min_ends = shards.iter().map(|&s| (s, self.watermarks.acked_end(stream, s))).collect();
                let error = match cluster.call(node, &request(&shards, min_ends)) {
                    Ok(PeerReply::Error(e)) | Err(e) => e,
                    Ok(reply) => match take(reply) {
                        Some(part) => {
                            out.extend(part);
                            continue;
                        }
                        None => "an answer of another kind".into(),
                    },
                };
                tracing::warn!(node, %error, "a peer read failed; trying the next owner");
                failed.extend(shards);
            }
            for &shard in &failed {
                *skip.entry(shard).or_default() += 1;
            }
            pending = failed;
        }
        Ok(out)
    }

    /// Answers a peer's read from the local copy, once it holds what the peer acknowledged.
    pub fn serve_peer(&self, request: PeerRequest) -> PeerReply {
        let deadline = Instant::now() + self.timeout;
        let ready = |stream: Uuid, ends: &[(u32, u64)]| {
            ends.iter().all(|&(shard, end)| self.watermarks.wait_end(stream, shard, end, deadline))
        };
        let lagging = || PeerReply::Error("this node's copy lags behind the asking node's writes".into());
        let failed = |e: StoreError| PeerReply::Error(e.to_string());
        let groups = |r: Result<Vec<StoredGroup>, StoreError>| match r {
            Ok(g) => PeerReply::Groups(g.iter().map(WireGroup::of).collect()),
            Err(e) => failed(e),
        };
        match request {
            PeerRequest::Read { stream, shard, from, max_groups, max_bytes, min_end } => {
                if !ready(stream, &[(shard, min_end)]) {
                    return lagging();
                }
                groups(self.local.read(stream, shard, from, max_groups, max_bytes))
            }
            PeerRequest::Bounds { stream, shard, min_end } => {
                if !ready(stream, &[(shard, min_end)]) {
                    return lagging();
                }
                self.local.bounds(stream, shard).map_or_else(failed, |(a, b)| PeerReply::Bounds(a, b))
            }
            PeerRequest::SeekReceiveTime { stream, shard, unix_ns, min_end } => {
                if !ready(stream, &[(shard, min_end)]) {
                    return lagging();
                }
                self.local.seek_receive_time(stream, shard, unix_ns).map_or_else(failed, PeerReply::Seq)
            }
            PeerRequest::GroupsInTime { stream, shards, from, to, min_ends } => {
                if !ready(stream, &min_ends) {
                    return lagging();
                }
                match self.local.groups_in_time(stream, from, to) {
                    Ok(all) => PeerReply::Positions(all.into_iter().filter(|(s, _)| shards.contains(s)).collect()),
                    Err(e) => failed(e),
                }
            }
            PeerRequest::ReadAt { stream, positions, min_ends } => {
                if !ready(stream, &min_ends) {
                    return lagging();
                }
                groups(self.local.read_at(stream, &positions))
            }
        }
    }

    /// The producer, shared with the catalog log.
    pub fn producer(&self) -> Arc<SharedProducer> {
        self.producer.clone()
    }

    /// What the materializer advances as it stores records.
    pub fn watermarks(&self) -> Arc<Watermarks> {
        self.watermarks.clone()
    }

    /// Read-your-writes: waits (up to the produce timeout) until the materializer has stored every
    /// record this node has acknowledged in the shard (or in every shard of the logstore).
    fn read_barrier(&self, stream: Uuid, shard: Option<u32>) {
        if !self.watermarks.wait_stored(stream, shard, Instant::now() + self.timeout) {
            static SLOW: crate::logging::Throttle = crate::logging::Throttle::new(crate::logging::REPEAT_INTERVAL_MS);
            if let Some(suppressed) = SLOW.allow() {
                tracing::warn!(%stream, ?shard, suppressed, "the materializer lags; reading before this node's latest writes are stored");
            }
        }
    }

    /// Waits up to `timeout` for everything queued to be delivered (on shutdown).
    pub fn flush(&self, timeout: Duration) {
        let _ = self.producer.get().flush(timeout);
    }
}

impl ShardLog for KafkaLog {
    /// Produces every group of every item, then waits for the broker's acknowledgement of each.
    /// Returns each item's first sequence (its first record's offset + 1). An item's groups are
    /// produced in order to one partition; records of other nodes may land between them, so their
    /// sequences are increasing but not always consecutive. If any record fails, the whole call
    /// fails (and the requests are retried by their clients): records already acknowledged are
    /// then stored twice, the at-least-once of every Kafka pipeline.
    fn append(&self, items: &mut [Append], _sync: bool) -> Result<Vec<u64>, StoreError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let producer = self.producer.get();
        let mut pending = Vec::with_capacity(items.len());
        for item in items.iter_mut() {
            let topic = topic_name(&self.prefix, item.stream);
            let mut deliveries = Vec::with_capacity(item.groups.len());
            for group in &mut item.groups {
                group.header.receive_ns = now;
                let value = group.header.encode(&group.payload);
                let record = FutureRecord::<(), _>::to(&topic).partition(item.shard as i32).payload(&value);
                match producer.send_result(record) {
                    Ok(delivery) => deliveries.push(delivery),
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        return Err(StoreError::Unavailable("the Kafka producer queue is full".into()))
                    }
                    Err((e, _)) => {
                        self.producer.recover(&producer, &e);
                        return Err(unavailable("cannot produce to Kafka", e));
                    }
                }
            }
            pending.push(deliveries);
        }
        let mut firsts = Vec::with_capacity(pending.len());
        let mut lasts = Vec::with_capacity(pending.len());
        for (item, deliveries) in items.iter().zip(pending) {
            let mut first = None;
            for delivery in deliveries {
                // librdkafka reports on every record, failing it after message.timeout.ms at the
                // latest, so this wait is bounded.
                match futures_executor::block_on(delivery) {
                    Ok(Ok(d)) => {
                        first.get_or_insert(d.offset as u64 + 1);
                        lasts.push((item.stream, item.shard, d.offset as u64 + 1));
                    }
                    Ok(Err((e, _))) => {
                        self.producer.recover(&producer, &e);
                        return Err(unavailable("Kafka did not acknowledge a record", e));
                    }
                    Err(_) => return Err(StoreError::Unavailable("the Kafka producer stopped".into())),
                }
            }
            firsts.push(first.unwrap_or(0));
        }
        // Durable on the broker: acknowledged now. This node's next read of the shard waits for
        // the local copy (`read_barrier`), so the write path does not.
        for (stream, shard, seq) in lasts {
            self.watermarks.acked(stream, shard, seq + 1);
        }
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
        self.on_shard(
            stream,
            shard,
            || self.local.read(stream, shard, from, max_groups, max_bytes),
            |min_end| PeerRequest::Read { stream, shard, from, max_groups, max_bytes, min_end },
            |reply| match reply {
                PeerReply::Groups(g) => g.into_iter().map(WireGroup::into_stored).collect(),
                _ => None,
            },
        )
    }
    fn bounds(&self, stream: Uuid, shard: u32) -> Result<(u64, u64), StoreError> {
        self.on_shard(
            stream,
            shard,
            || self.local.bounds(stream, shard),
            |min_end| PeerRequest::Bounds { stream, shard, min_end },
            |reply| match reply {
                PeerReply::Bounds(a, b) => Some((a, b)),
                _ => None,
            },
        )
    }
    fn seek_receive_time(&self, stream: Uuid, shard: u32, unix_ns: u64) -> Result<u64, StoreError> {
        self.on_shard(
            stream,
            shard,
            || self.local.seek_receive_time(stream, shard, unix_ns),
            |min_end| PeerRequest::SeekReceiveTime { stream, shard, unix_ns, min_end },
            |reply| match reply {
                PeerReply::Seq(s) => Some(s),
                _ => None,
            },
        )
    }
    fn trim_before(&self, stream: Uuid, shard: u32, unix_ns: u64) -> Result<u64, StoreError> {
        self.local.trim_before(stream, shard, unix_ns)
    }
    fn groups_in_time(&self, stream: Uuid, from: u32, to: u32) -> Result<Vec<(u32, u64)>, StoreError> {
        let Some((cluster, shards_of)) = self.cluster.get() else {
            self.read_barrier(stream, None);
            return self.local.groups_in_time(stream, from, to);
        };
        self.across_shards(
            cluster,
            stream,
            shards_of(stream),
            |mine| {
                Ok(self.local.groups_in_time(stream, from, to)?.into_iter().filter(|(s, _)| mine.contains(s)).collect())
            },
            |shards, min_ends| PeerRequest::GroupsInTime { stream, shards: shards.to_vec(), from, to, min_ends },
            |reply| match reply {
                PeerReply::Positions(p) => Some(p),
                _ => None,
            },
        )
    }
    fn read_at(&self, stream: Uuid, positions: &[(u32, u64)]) -> Result<Vec<StoredGroup>, StoreError> {
        let Some((cluster, _)) = self.cluster.get() else {
            self.read_barrier(stream, None);
            return self.local.read_at(stream, positions);
        };
        let mut shards: Vec<u32> = positions.iter().map(|(s, _)| *s).collect();
        shards.sort_unstable();
        shards.dedup();
        let of = |wanted: &[u32]| -> Vec<(u32, u64)> {
            positions.iter().filter(|(s, _)| wanted.contains(s)).copied().collect()
        };
        let found = self.across_shards(
            cluster,
            stream,
            shards,
            |mine| self.local.read_at(stream, &of(mine)),
            |wanted, min_ends| PeerRequest::ReadAt { stream, positions: of(wanted), min_ends },
            |reply| match reply {
                PeerReply::Groups(g) => g.into_iter().map(WireGroup::into_stored).collect(),
                _ => None,
            },
        )?;
        // In the order asked.
        let mut by_position: HashMap<(u32, u64), StoredGroup> =
            found.into_iter().map(|g| ((g.shard, g.seq), g)).collect();
        Ok(positions.iter().filter_map(|p| by_position.remove(p)).collect())
    }
    fn trim_index_before(&self, stream: Uuid, secs: u32) -> Result<(), StoreError> {
        self.local.trim_index_before(stream, secs)
    }
    fn log_figures(&self) -> Option<LogFigures> {
        Some(LogFigures {
            unstored_records: self
                .watermarks
                .unstored(|stream, shard| self.cluster.get().is_none_or(|(cluster, _)| cluster.owns(stream, shard))),
            producer_replacements: self.producer.replacements.load(Ordering::Relaxed),
        })
    }
}

/// Creates, grows and deletes the topics of logstores.
pub struct TopicAdmin {
    admin: AdminClient<DefaultClientContext>,
    prefix: String,
    replication: i32,
    min_partitions: u32,
    timeout: Duration,
}

impl TopicAdmin {
    pub fn connect(cfg: &KafkaConfig) -> Result<TopicAdmin, StoreError> {
        let admin = client_config(cfg).create().map_err(|e| unavailable("cannot create the Kafka admin client", e))?;
        Ok(TopicAdmin {
            admin,
            prefix: cfg.topic_prefix.clone(),
            replication: cfg.replication_factor,
            min_partitions: cfg.min_partitions,
            timeout: Duration::from_millis(cfg.produce_timeout_ms),
        })
    }

    /// The partition count of a logstore's topic, from the broker's metadata.
    fn partitions(&self, name: &str) -> Result<u32, String> {
        let md = self.admin.inner().fetch_metadata(Some(name), self.timeout).map_err(|e| e.to_string())?;
        let topic = md.topics().iter().find(|t| t.name() == name).ok_or_else(|| format!("topic {name} is missing"))?;
        if let Some(e) = topic.error() {
            return Err(format!("topic {name}: {e:?}"));
        }
        Ok(topic.partitions().len() as u32)
    }

    fn options(&self) -> AdminOptions {
        AdminOptions::new().operation_timeout(Some(self.timeout)).request_timeout(Some(self.timeout))
    }
}

fn one_result(
    outcome: Result<Vec<rdkafka::admin::TopicResult>, KafkaError>,
    tolerated: &[RDKafkaErrorCode],
) -> Result<(), String> {
    match outcome {
        Err(e) => Err(e.to_string()),
        Ok(results) => match results.into_iter().next() {
            Some(Err((topic, code))) if !tolerated.contains(&code) => Err(format!("{topic}: {code}")),
            _ => Ok(()),
        },
    }
}

impl LogAdmin for TopicAdmin {
    fn create(&self, stream: Uuid, partitions: u32, ttl_days: u32) -> Result<(), String> {
        let name = topic_name(&self.prefix, stream);
        let retention_ms = (u64::from(ttl_days.max(1)) * 86_400_000).to_string();
        let count = partitions.max(self.min_partitions) as i32;
        let topic =
            NewTopic::new(&name, count, TopicReplication::Fixed(self.replication)).set("retention.ms", &retention_ms);
        let outcome = futures_executor::block_on(self.admin.create_topics([&topic], &self.options()));
        one_result(outcome, &[RDKafkaErrorCode::TopicAlreadyExists])
    }

    fn grow(&self, stream: Uuid, partitions: u32) -> Result<(), String> {
        let name = topic_name(&self.prefix, stream);
        // Created with room to spare (`min_partitions`), or grown before: nothing to do. A broker
        // that cannot add partitions (tansu) then only refuses splits beyond that room.
        if self.partitions(&name)? >= partitions {
            return Ok(());
        }
        let more = NewPartitions::new(&name, partitions as usize);
        let outcome = futures_executor::block_on(self.admin.create_partitions([&more], &self.options()));
        // Already that many (a retried split): nothing to do.
        one_result(outcome, &[RDKafkaErrorCode::InvalidPartitions])
    }
}

/// The logstores to materialize and, for each, the shard ids whose partitions to consume.
pub type Wanted = Arc<dyn Fn() -> Vec<(Uuid, Vec<u32>)> + Send + Sync>;

/// A thread consuming from Kafka, stopped and joined when dropped.
pub struct ConsumerThread {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl ConsumerThread {
    /// Starts `body` on a thread named `name`; `body` returns once its flag is set.
    fn spawn(name: &str, body: impl FnOnce(Arc<AtomicBool>) + Send + 'static) -> Result<ConsumerThread, StoreError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || body(flag))
            .map_err(|e| unavailable(&format!("cannot start the {name} thread"), e))?;
        Ok(ConsumerThread { stop, handle: Some(handle) })
    }
}

impl Drop for ConsumerThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// A consumer that assigns its partitions itself and keeps its offsets in the local store, not
/// in Kafka; the group id (`<prefix><role>`) only names it to the broker.
fn local_offsets_consumer(cfg: &KafkaConfig, role: &str) -> Result<BaseConsumer, StoreError> {
    let mut c = client_config(cfg);
    c.set("group.id", format!("{}{role}", cfg.topic_prefix))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.max.bytes", cfg.max_record_bytes.max(1 << 20).to_string())
        .set("enable.partition.eof", "false")
        // A read waits for this node's acknowledged records to be stored (see `fetch_wait_ms`).
        .set("fetch.wait.max.ms", cfg.fetch_wait_ms.to_string());
    c.create().map_err(|e| unavailable(&format!("cannot create the Kafka consumer of the {role}"), e))
}

/// How often the materializer compares its assignment with the catalog.
const REASSIGN_EVERY: Duration = Duration::from_millis(200);
/// Most records one local write takes.
const MAX_BATCH_RECORDS: usize = 4096;

/// Starts the materializer: the thread that consumes every wanted partition into the local store.
pub fn start_materializer(
    cfg: &KafkaConfig,
    local: Arc<RocksStore>,
    wanted: Wanted,
    watermarks: Arc<Watermarks>,
) -> Result<ConsumerThread, StoreError> {
    let consumer = local_offsets_consumer(cfg, "materializer")?;
    let prefix = cfg.topic_prefix.clone();
    ConsumerThread::spawn("kafka-materializer", move |stop| run(consumer, local, wanted, watermarks, prefix, stop))
}

fn run(
    consumer: BaseConsumer,
    local: Arc<RocksStore>,
    wanted: Wanted,
    watermarks: Arc<Watermarks>,
    prefix: String,
    stop: Arc<AtomicBool>,
) {
    let mut assigned: Vec<(Uuid, Vec<u32>)> = Vec::new();
    let mut last_check = Instant::now() - REASSIGN_EVERY;
    while !stop.load(Ordering::Relaxed) {
        if last_check.elapsed() >= REASSIGN_EVERY {
            last_check = Instant::now();
            let mut now_wanted = wanted();
            now_wanted.sort();
            if now_wanted != assigned {
                match assign(&consumer, &local, &prefix, &now_wanted) {
                    Ok(()) => assigned = now_wanted,
                    Err(e) => tracing::warn!(error = %e, "cannot assign the Kafka partitions to materialize"),
                }
            }
        }
        if assigned.is_empty() {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        let mut batch: BTreeMap<(Uuid, u32), Vec<(u64, GroupRecord)>> = BTreeMap::new();
        let mut taken = 0;
        let mut wait = Duration::from_millis(100);
        while taken < MAX_BATCH_RECORDS {
            let Some(message) = consumer.poll(wait) else { break };
            wait = Duration::ZERO;
            let message = match message {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, "Kafka consumer error");
                    break;
                }
            };
            let Some(stream) = topic_stream(&prefix, message.topic()) else { continue };
            let (shard, seq) = (message.partition() as u32, message.offset() as u64 + 1);
            let Some((header, payload)) = message.payload().and_then(RecordHeader::decode) else {
                tracing::error!(%stream, shard, offset = message.offset(), "a record that is not a stored LogGroup; skipped");
                continue;
            };
            let group = GroupRecord { header, payload: bytes::Bytes::copy_from_slice(payload) };
            batch.entry((stream, shard)).or_default().push((seq, group));
            taken += 1;
        }
        if batch.is_empty() {
            continue;
        }
        let writes: Vec<_> = batch.into_iter().map(|((stream, shard), records)| (stream, shard, records)).collect();
        let ends: Vec<(Uuid, u32, u64)> = writes
            .iter()
            .filter_map(|(stream, shard, records)| records.last().map(|(seq, _)| (*stream, *shard, seq + 1)))
            .collect();
        let stored = local.append_at(writes);
        if stored.is_ok() {
            for (stream, shard, end) in ends {
                watermarks.advance(stream, shard, end);
            }
        }
        if let Err(e) = stored {
            // Nothing of the batch is stored; consume it again from the stored tails.
            tracing::error!(error = %e, "cannot store consumed records; consuming them again");
            if let Err(e) = assign(&consumer, &local, &prefix, &assigned) {
                tracing::warn!(error = %e, "cannot reassign the Kafka partitions");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Assigns every wanted partition, each from the offset after the last record stored locally.
fn assign(
    consumer: &BaseConsumer,
    local: &RocksStore,
    prefix: &str,
    wanted: &[(Uuid, Vec<u32>)],
) -> Result<(), String> {
    let mut tpl = TopicPartitionList::new();
    for (stream, shards) in wanted {
        let topic = topic_name(prefix, *stream);
        for &shard in shards {
            // Sequence = offset + 1, so the next offset to read is the shard's end sequence - 1.
            let (_, end) = local.bounds(*stream, shard).map_err(|e| e.to_string())?;
            tpl.add_partition_offset(&topic, shard as i32, Offset::Offset(end as i64 - 1))
                .map_err(|e| e.to_string())?;
        }
    }
    consumer.assign(&tpl).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_waits_for_the_acknowledged_end_of_its_shards_only() {
        let w = Arc::new(Watermarks::default());
        let (s, other) = (Uuid::new_v4(), Uuid::new_v4());
        w.acked(s, 0, 5);
        w.acked(other, 0, 9);
        let soon = || Instant::now() + Duration::from_millis(30);
        assert!(!w.wait_stored(s, Some(0), soon()), "acknowledged up to 5, nothing stored");
        assert!(w.wait_stored(s, Some(1), soon()), "nothing acknowledged in shard 1");
        w.advance(s, 0, 4);
        assert!(!w.wait_stored(s, None, soon()), "stored up to 4 of 5");
        w.advance(s, 0, 5);
        assert!(w.wait_stored(s, Some(0), soon()));
        assert!(w.wait_stored(s, None, soon()), "every shard of s");
        assert!(!w.wait_stored(other, None, soon()), "another logstore waits on its own");
        // A waiting read is woken by the materializer's progress.
        let waiter = w.clone();
        let t = std::thread::spawn(move || waiter.wait_stored(other, None, Instant::now() + Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(20));
        w.advance(other, 0, 9);
        assert!(t.join().unwrap());
    }

    #[test]
    fn topic_names_round_trip() {
        let id = Uuid::new_v4();
        let t = topic_name("logtide.", id);
        assert_eq!(topic_stream("logtide.", &t), Some(id));
        assert_eq!(topic_stream("other.", &t), None);
        assert_eq!(topic_stream("logtide.", "logtide.catalog"), None);
        assert_eq!(topic_stream("logtide.", &format!("logtide.{}", id.hyphenated())), None);
    }
}
