//! Prometheus metrics (`GET /metrics`): every metric name is spelled here, once. Handles are
//! registered when the daemon starts; the request path only increments counters it already holds
//! (a logstore's counters are found by its id in a small cache, made on its first write, and an
//! error code's counter sits in a fixed slot). Figures that describe a state (queue depths,
//! RocksDB properties, in-flight bytes) are read when scraped, not maintained on the write path.
//!
//! Each daemon has its own registry, so several daemons in one process (the tests) never share a
//! count.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use uuid::Uuid;

use crate::catalog::Logstore;
use crate::error::{Dialect, ErrorCode};
use crate::store::{GroupRecord, LogFigures, StoreFigures};

/// The `Content-Type` of a scrape answer (OpenMetrics text, which Prometheus reads).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every metric name carries this prefix.
const PREFIX: &str = "logtide";

/// `project`, `logstore`.
type LogstoreLabels = [(&'static str, String); 2];
/// `api` (the dialect), `code` (the SLS name of the error code).
type RejectionLabels = [(&'static str, &'static str); 2];
/// `worker`.
type WorkerLabels = [(&'static str, String); 1];

/// Error-code slots per dialect, more than there are codes (one beyond them would be counted
/// through the family's lookup, only slower).
const CODE_SLOTS: usize = 64;
const DIALECTS: usize = 3;

/// The three counters of one logstore, cloned out of their families once.
struct LogstoreCounters {
    requests: Counter,
    logs: Counter,
    bytes: Counter,
}

/// The figures read at scrape time.
pub struct Sample<'a> {
    pub store: StoreFigures,
    /// Requests waiting in each shard worker's queue, by worker index.
    pub queue_lens: &'a [usize],
    /// Request bytes holding room in the in-flight budget.
    pub inflight_bytes: usize,
    /// The Kafka backend's figures (None: the embedded store).
    pub log: Option<LogFigures>,
    /// The next position of the shared catalog log this node applies (None: not shared).
    pub catalog_position: Option<u64>,
}

/// The daemon's metrics.
pub struct Metrics {
    registry: Registry,
    accepted_requests: Family<LogstoreLabels, Counter>,
    accepted_logs: Family<LogstoreLabels, Counter>,
    accepted_bytes: Family<LogstoreLabels, Counter>,
    logstores: RwLock<HashMap<Uuid, Arc<LogstoreCounters>>>,
    rejected: Family<RejectionLabels, Counter>,
    rejected_slots: Box<[OnceLock<Counter>]>,
    queue_depth: Vec<Gauge>,
    commit_seconds: Vec<Histogram>,
    inflight_bytes: Gauge,
    rocks: RocksGauges,
    kafka: KafkaGauges,
}

/// The Kafka backend's figures, set from [`LogFigures`] and the catalog position at each scrape;
/// 0 on the embedded store.
#[derive(Default)]
struct KafkaGauges {
    unstored_records: Gauge,
    producer_replacements: Counter,
    catalog_position: Gauge,
}

/// RocksDB figures, set from [`StoreFigures`] at each scrape.
#[derive(Default)]
struct RocksGauges {
    delayed_write_rate: Gauge,
    write_stopped: Gauge,
    running_compactions: Gauge,
    running_flushes: Gauge,
    compactions_pending: Gauge,
    pending_compaction_bytes: Gauge,
    memtable_bytes: Gauge,
    live_sst_bytes: Gauge,
    block_cache_bytes: Gauge,
}

impl Metrics {
    /// Registers every metric: `workers` shard workers, each queue holding `queue_capacity`.
    pub fn new(workers: usize, queue_capacity: usize) -> Metrics {
        let mut r = Registry::with_prefix(PREFIX);
        let info: prometheus_client::metrics::info::Info<[(&str, &str); 1]> =
            prometheus_client::metrics::info::Info::new([("version", env!("CARGO_PKG_VERSION"))]);
        r.register("build", "The logtide version serving", info);

        let accepted_requests = Family::default();
        let accepted_logs = Family::default();
        let accepted_bytes = Family::default();
        r.register(
            "accepted_requests",
            "Write requests acknowledged, per logstore (a callback request counts once for each logstore it wrote to)",
            accepted_requests.clone(),
        );
        r.register("accepted_logs", "Logs acknowledged, per logstore", accepted_logs.clone());
        r.register_with_unit(
            "accepted",
            "Raw (uncompressed protobuf) LogGroup bytes acknowledged, per logstore",
            Unit::Bytes,
            accepted_bytes.clone(),
        );
        let rejected = Family::default();
        r.register(
            "rejected_requests",
            "Requests answered with an error, by API dialect and error code (the SLS name of the code)",
            rejected.clone(),
        );

        let depth_family = Family::<WorkerLabels, Gauge>::default();
        let commit_family =
            Family::<WorkerLabels, Histogram>::new_with_constructor(|| Histogram::new(commit_buckets()));
        let worker = |i: usize| [("worker", i.to_string())];
        let queue_depth: Vec<Gauge> = (0..workers).map(|i| depth_family.get_or_create_owned(&worker(i))).collect();
        let commit_seconds: Vec<Histogram> =
            (0..workers).map(|i| commit_family.get_or_create_owned(&worker(i))).collect();
        r.register("shard_queue_depth", "Requests waiting in a shard worker's queue", depth_family);
        let capacity: Gauge = Gauge::default();
        capacity.set(i64::try_from(queue_capacity).unwrap_or(i64::MAX));
        r.register("shard_queue_capacity", "Requests a shard worker's queue holds (storage.queue_depth)", capacity);
        r.register_with_unit(
            "shard_commit_duration",
            "Time of one group commit: every request a worker took from its queue, compressed where \
             needed, written to RocksDB in one batch and acknowledged",
            Unit::Seconds,
            commit_family,
        );

        let inflight_bytes = Gauge::default();
        r.register_with_unit(
            "inflight",
            "Request bytes in hand (server.max_inflight_bytes bounds them)",
            Unit::Bytes,
            inflight_bytes.clone(),
        );

        let rocks = RocksGauges::default();
        let g = &rocks;
        let sub = r.sub_registry_with_prefix("rocksdb");
        sub.register_with_unit(
            "delayed_write_rate",
            "Bytes per second RocksDB slows writes to (0: writes are not delayed)",
            Unit::Other("bytes_per_second".into()),
            g.delayed_write_rate.clone(),
        );
        sub.register("write_stopped", "1 while RocksDB stops writes (a write stall)", g.write_stopped.clone());
        sub.register("running_compactions", "Compactions running", g.running_compactions.clone());
        sub.register("running_flushes", "Memtable flushes running", g.running_flushes.clone());
        sub.register(
            "compactions_pending",
            "Column families with at least one compaction pending",
            g.compactions_pending.clone(),
        );
        sub.register_with_unit(
            "pending_compaction",
            "Estimated bytes compaction has to rewrite to bring every level under its target size",
            Unit::Bytes,
            g.pending_compaction_bytes.clone(),
        );
        sub.register_with_unit(
            "memtable",
            "Memtable bytes, active and immutable (storage.memtable_budget_bytes bounds them)",
            Unit::Bytes,
            g.memtable_bytes.clone(),
        );
        sub.register_with_unit("live_sst", "Bytes of live SST files", Unit::Bytes, g.live_sst_bytes.clone());
        sub.register_with_unit(
            "block_cache",
            "Block cache bytes in use (storage.block_cache_bytes bounds them)",
            Unit::Bytes,
            g.block_cache_bytes.clone(),
        );

        let kafka = KafkaGauges::default();
        let sub = r.sub_registry_with_prefix("kafka");
        sub.register(
            "unstored_records",
            "Records this node has acknowledged that its local copy does not hold yet (reads of their shards wait for them)",
            kafka.unstored_records.clone(),
        );
        sub.register(
            "producer_replacements",
            "Producers replaced because the broker fenced or forgot their producer id",
            kafka.producer_replacements.clone(),
        );
        sub.register(
            "catalog_log_position",
            "The next position of the shared catalog log (topic <prefix>catalog) this node applies",
            kafka.catalog_position.clone(),
        );

        Metrics {
            registry: r,
            accepted_requests,
            accepted_logs,
            accepted_bytes,
            logstores: RwLock::new(HashMap::new()),
            rejected,
            rejected_slots: (0..CODE_SLOTS * DIALECTS).map(|_| OnceLock::new()).collect(),
            queue_depth,
            commit_seconds,
            inflight_bytes,
            rocks,
            kafka,
        }
    }

    /// One write request acknowledged for `logstore`, with its LogGroups.
    pub fn accepted(&self, logstore: &Logstore, groups: &Accepted) {
        self.accepted_in(logstore.id, &logstore.project, &logstore.name, groups);
    }

    /// [`Metrics::accepted`] for the logstore `project`/`name` whose id is `id`.
    pub fn accepted_in(&self, id: Uuid, project: &str, name: &str, groups: &Accepted) {
        let counters = self.logstore_counters(id, project, name);
        counters.requests.inc();
        counters.logs.inc_by(groups.logs);
        counters.bytes.inc_by(groups.raw_bytes);
    }

    fn logstore_counters(&self, id: Uuid, project: &str, name: &str) -> Arc<LogstoreCounters> {
        if let Some(c) = self.logstores.read().expect("metrics lock").get(&id) {
            return c.clone();
        }
        // First write to this logstore since the daemon started: clone its counters out of the
        // families (a logstore recreated under the same name continues the same series).
        let labels: LogstoreLabels = [("project", project.to_string()), ("logstore", name.to_string())];
        let counters = Arc::new(LogstoreCounters {
            requests: self.accepted_requests.get_or_create_owned(&labels),
            logs: self.accepted_logs.get_or_create_owned(&labels),
            bytes: self.accepted_bytes.get_or_create_owned(&labels),
        });
        self.logstores.write().expect("metrics lock").entry(id).or_insert(counters).clone()
    }

    /// One request answered with an error.
    pub fn rejected(&self, dialect: Dialect, code: ErrorCode) {
        let d = match dialect {
            Dialect::Sls => 0,
            Dialect::Lts => 1,
            Dialect::LtsReport => 2,
        };
        let index = code as usize;
        let labels = || [("api", dialect_label(dialect)), ("code", code.sls_name())];
        if index >= CODE_SLOTS {
            self.rejected.get_or_create(&labels()).inc();
            return;
        }
        self.rejected_slots[index * DIALECTS + d].get_or_init(|| self.rejected.get_or_create_owned(&labels())).inc();
    }

    /// One group commit of shard worker `worker` took `elapsed`.
    pub fn committed(&self, worker: usize, elapsed: Duration) {
        if let Some(h) = self.commit_seconds.get(worker) {
            h.observe(elapsed.as_secs_f64());
        }
    }

    /// The OpenMetrics text of every metric, with the state figures of `sample`.
    pub fn render(&self, sample: &Sample<'_>) -> String {
        for (gauge, len) in self.queue_depth.iter().zip(sample.queue_lens) {
            gauge.set(gauge_value(*len as u64));
        }
        self.inflight_bytes.set(gauge_value(sample.inflight_bytes as u64));
        let (g, s) = (&self.rocks, &sample.store);
        g.delayed_write_rate.set(gauge_value(s.delayed_write_rate));
        g.write_stopped.set(i64::from(s.write_stopped));
        g.running_compactions.set(gauge_value(s.running_compactions));
        g.running_flushes.set(gauge_value(s.running_flushes));
        g.compactions_pending.set(gauge_value(s.compactions_pending));
        g.pending_compaction_bytes.set(gauge_value(s.pending_compaction_bytes));
        g.memtable_bytes.set(gauge_value(s.memtable_bytes));
        g.live_sst_bytes.set(gauge_value(s.live_sst_bytes));
        g.block_cache_bytes.set(gauge_value(s.block_cache_bytes));
        if let Some(log) = sample.log {
            let k = &self.kafka;
            k.unstored_records.set(gauge_value(log.unstored_records));
            let seen = k.producer_replacements.get();
            k.producer_replacements.inc_by(log.producer_replacements.saturating_sub(seen));
        }
        if let Some(position) = sample.catalog_position {
            self.kafka.catalog_position.set(gauge_value(position));
        }
        let mut out = String::with_capacity(16 * 1024);
        if encode(&mut out, &self.registry).is_err() {
            // Writing to a String cannot fail; keep the answer well-formed regardless.
            out.clear();
            let _ = writeln!(out, "# EOF");
        }
        out
    }
}

impl crate::shard::CommitObserver for Metrics {
    fn committed(&self, worker: usize, elapsed: Duration) {
        Metrics::committed(self, worker, elapsed);
    }
}

/// The logs and raw bytes of a request's LogGroups, taken before they are queued.
#[derive(Debug, Clone, Copy, Default)]
pub struct Accepted {
    pub logs: u64,
    pub raw_bytes: u64,
}

impl Accepted {
    pub fn of(groups: &[GroupRecord]) -> Accepted {
        groups.iter().fold(Accepted::default(), |a, g| Accepted {
            logs: a.logs + u64::from(g.header.log_count),
            raw_bytes: a.raw_bytes + u64::from(g.header.raw_len),
        })
    }
}

fn dialect_label(d: Dialect) -> &'static str {
    match d {
        Dialect::Sls => "sls",
        Dialect::Lts => "lts",
        Dialect::LtsReport => "lts_report",
    }
}

fn gauge_value(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// 50 µs to about 1.6 s, doubling: a commit is a RocksDB WAL write (an fsync with
/// `durability = "power"`), and above a second it is a stall.
fn commit_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.000_05, 2.0, 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines().find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
    }

    #[test]
    fn counts_render_under_their_names() {
        let m = Metrics::new(2, 8);
        let id = Uuid::new_v4();
        m.accepted_in(id, "p1", "s1", &Accepted { logs: 3, raw_bytes: 100 });
        m.accepted_in(id, "p1", "s1", &Accepted { logs: 2, raw_bytes: 50 });
        m.rejected(Dialect::Sls, ErrorCode::InvalidKey);
        m.rejected(Dialect::Sls, ErrorCode::InvalidKey);
        m.rejected(Dialect::LtsReport, ErrorCode::InvalidKey);
        m.committed(1, Duration::from_millis(2));
        let log = LogFigures { unstored_records: 7, producer_replacements: 2 };
        let sample = Sample {
            store: StoreFigures::default(),
            queue_lens: &[4, 0],
            inflight_bytes: 1024,
            log: Some(log),
            catalog_position: Some(12),
        };
        m.render(&sample);
        let text = m.render(&sample);
        let l = r#"{project="p1",logstore="s1"}"#;
        assert_eq!(value(&text, &format!("logtide_accepted_requests_total{l}")), Some(2.0), "{text}");
        assert_eq!(value(&text, &format!("logtide_accepted_logs_total{l}")), Some(5.0));
        assert_eq!(value(&text, &format!("logtide_accepted_bytes_total{l}")), Some(150.0));
        assert_eq!(value(&text, r#"logtide_rejected_requests_total{api="sls",code="InvalidKey"}"#), Some(2.0));
        assert_eq!(value(&text, r#"logtide_rejected_requests_total{api="lts_report",code="InvalidKey"}"#), Some(1.0));
        assert_eq!(value(&text, r#"logtide_shard_queue_depth{worker="0"}"#), Some(4.0));
        assert_eq!(value(&text, r#"logtide_shard_commit_duration_seconds_count{worker="1"}"#), Some(1.0));
        assert_eq!(value(&text, "logtide_inflight_bytes"), Some(1024.0));
        assert_eq!(value(&text, "logtide_rocksdb_write_stopped"), Some(0.0));
        assert_eq!(value(&text, "logtide_kafka_unstored_records"), Some(7.0));
        assert_eq!(value(&text, "logtide_kafka_producer_replacements_total"), Some(2.0), "not counted twice");
        assert_eq!(value(&text, "logtide_kafka_catalog_log_position"), Some(12.0));
        assert!(text.ends_with("# EOF\n"));
    }
}
