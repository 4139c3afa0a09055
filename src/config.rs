//! Configuration: the TOML file's sections with their defaults, command-line overrides, and
//! `validate()`, which lists every problem at once. `dist/logtide.toml` documents every key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::auth::{AccessKey, LtsToken};
use crate::validate::Limits;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub limits: Limits,
    pub catalog: CatalogConfig,
    pub callback: CallbackConfig,
    pub lts: LtsConfig,
    pub dump: DumpConfig,
    /// Access keys for signed requests (SLS v1/v4 and LTS SDK-HMAC-SHA256). With no keys and no
    /// LTS tokens configured, requests are anonymous (loopback only unless
    /// `server.allow_anonymous` is set).
    pub access_keys: Vec<AccessKey>,
}

/// The Huawei LTS dialect.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LtsConfig {
    /// Most log groups (projects) CreateLogGroup may bring the catalog to.
    pub max_log_groups: usize,
    /// Most log streams (logstores) CreateLogStream may bring a group to.
    pub max_log_streams_per_group: usize,
    /// Most logs one query may examine in its time window (memory bound: ~40 bytes each);
    /// beyond it the query asks for a narrower window.
    pub max_query_logs: usize,
    /// `X-Auth-Token` values accepted, each for one LTS project id.
    pub tokens: Vec<LtsToken>,
}

impl Default for LtsConfig {
    fn default() -> Self {
        LtsConfig { max_log_groups: 100, max_log_streams_per_group: 100, max_query_logs: 2_000_000, tokens: Vec::new() }
    }
}

/// LTS log dumps (`/v2/{project_id}/log-dump/obs`): where buckets live and how often due
/// windows are exported.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DumpConfig {
    /// Directory holding the buckets: bucket `b` exists when `<root>/b` is a directory, which the
    /// operator creates. Relative paths are taken from the working directory, like `data_dir`.
    pub root: PathBuf,
    /// Seconds between two checks for completed dump windows to export; 0 disables exports.
    pub check_interval_secs: u64,
    /// An S3-compatible object store holding the buckets instead of `root`.
    pub s3: Option<S3Config>,
}

impl Default for DumpConfig {
    fn default() -> Self {
        DumpConfig { root: PathBuf::from("logtide-dumps"), check_interval_secs: 60, s3: None }
    }
}

/// An S3-compatible object store (AWS S3, MinIO, Ceph RGW, …) reached with path-style requests.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// Endpoint URL, e.g. `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:9000`
    /// (plain http is allowed only when the URL says so).
    pub endpoint: String,
    /// Region the requests are signed for.
    #[serde(default = "default_region")]
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: crate::auth::Secret,
}

fn default_region() -> String {
    "us-east-1".into()
}

impl LtsConfig {
    pub fn quotas(&self) -> crate::catalog::LtsQuotas {
        crate::catalog::LtsQuotas {
            max_log_groups: self.max_log_groups,
            max_log_streams_per_group: self.max_log_streams_per_group,
        }
    }
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("secret", &self.secret)
            .field("projects", &self.projects)
            .field("project_ids", &self.project_ids)
            .field("read_projects", &self.read_projects)
            .field("write_projects", &self.write_projects)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory holding the RocksDB database.
    pub data_dir: PathBuf,
    /// Accept unsigned requests on a non-loopback address when no access keys are configured.
    pub allow_anonymous: bool,
    /// Seconds a client has to send complete request headers.
    pub header_read_timeout_secs: u64,
    /// Seconds a client has to send a complete request body.
    pub body_read_timeout_secs: u64,
    /// Seconds to finish in-flight requests on shutdown before closing connections.
    pub shutdown_grace_secs: u64,
    /// Seconds between the start of shutdown and closing the listener, while `/ready` answers 503
    /// (so a load balancer stops sending) and requests are still served. 0: close at once.
    pub shutdown_delay_secs: u64,
    /// Most connections served at once; a connection beyond it is answered 503 ServerBusy
    /// (`Retry-After: 1`) at once and closed.
    pub max_connections: usize,
    /// Most request bytes in hand at once, from the first byte read to the answer, each request
    /// counted as the larger of its body and its declared raw size. A request that would go over
    /// it is refused at once with 503 ServerBusy: this bounds memory and the wait behind a backlog.
    pub max_inflight_bytes: usize,
    /// PEM certificate chain for TLS on the listener; empty: plain HTTP. Needs `tls_key_file`.
    pub tls_cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `tls_cert_file`.
    pub tls_key_file: PathBuf,
}

impl ServerConfig {
    /// Whether the listener speaks TLS.
    pub fn tls(&self) -> bool {
        !self.tls_cert_file.as_os_str().is_empty()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7480)),
            data_dir: PathBuf::from("logtide-data"),
            allow_anonymous: false,
            header_read_timeout_secs: 30,
            body_read_timeout_secs: 60,
            shutdown_grace_secs: 20,
            shutdown_delay_secs: 0,
            max_connections: 4096,
            max_inflight_bytes: 64 << 20,
            tls_cert_file: PathBuf::new(),
            tls_key_file: PathBuf::new(),
        }
    }
}

/// When an acknowledged write is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Acknowledge once the batch is in RocksDB's WAL (survives a process crash).
    Process,
    /// Fsync the WAL once per group commit before acknowledging (survives power loss).
    Power,
}

/// Where log data is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Embedded RocksDB in `server.data_dir`.
    Rocksdb,
    /// A Kafka cluster (`[storage.kafka]`): logstore = topic, shard = partition; the local
    /// RocksDB holds the catalog and the materialized copy that reads are served from.
    Kafka,
}

/// The Kafka backend (`storage.backend = "kafka"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// `bootstrap.servers`: `host:port[,host:port…]`.
    pub brokers: String,
    /// A logstore's topic is this prefix followed by the logstore's UUID (32 hex digits).
    pub topic_prefix: String,
    /// Replication factor of the topics logtide creates (3 on a production cluster).
    pub replication_factor: i32,
    /// Partitions a new topic gets at least, so that shards added by splits and merges need no
    /// new partitions until the shard ids reach it (brokers that cannot add partitions, such as
    /// tansu, refuse a split beyond it). 0: exactly one per initial shard, grown as shards come.
    pub min_partitions: u32,
    /// How long a record may wait for the broker's acknowledgement before its request is refused
    /// with a retryable error (`message.timeout.ms`), milliseconds.
    pub produce_timeout_ms: u64,
    /// Bytes the producer may hold unacknowledged before requests are refused (retryable).
    pub max_queued_bytes: usize,
    /// Largest record (one stored LogGroup) produced; the broker's `message.max.bytes` and the
    /// topic's `max.message.bytes` must allow it.
    pub max_record_bytes: usize,
    /// Longest time the materializer's and the catalog follower's fetches wait at the broker for
    /// new records (`fetch.wait.max.ms`), milliseconds. A long-polling broker (Kafka, Redpanda)
    /// answers as soon as records arrive, so a larger value costs no latency there. tansu 0.6
    /// holds every fetch for the full wait, so there this value bounds how soon a write is
    /// readable (a read after a write waits for it) and how long a catalog change takes
    /// (docs/kafka.md).
    pub fetch_wait_ms: u32,
    /// Further librdkafka properties for every client (e.g. `security.protocol`, `sasl.*`).
    pub client: std::collections::BTreeMap<String, String>,
    /// Every node of the cluster, as the base URL other nodes reach it at (`http://host:port`),
    /// in the same order on every node. Empty: every node stores every shard. Otherwise each
    /// shard is stored by `read_replicas` of these nodes, and the others read it from them
    /// (docs/kafka.md, "Partition ownership").
    pub nodes: Vec<String>,
    /// This node's index in `nodes`.
    pub node: usize,
    /// How many nodes store each shard (at most the number of nodes); 0: two, or one on a
    /// one-node list.
    pub read_replicas: usize,
    /// The shared secret of the nodes' internal read API; required with `nodes`.
    pub cluster_secret: String,
}

impl KafkaConfig {
    /// How many nodes store each shard.
    pub fn replicas(&self) -> usize {
        match self.read_replicas {
            0 => self.nodes.len().min(2),
            r => r,
        }
    }
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: String::new(),
            topic_prefix: "logtide.".into(),
            replication_factor: 1,
            min_partitions: 0,
            produce_timeout_ms: 10_000,
            max_queued_bytes: 256 << 20,
            max_record_bytes: 8 << 20,
            fetch_wait_ms: 20,
            client: Default::default(),
            nodes: Vec::new(),
            node: 0,
            read_replicas: 0,
            cluster_secret: String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// `rocksdb` (embedded, the default) or `kafka`.
    pub backend: Backend,
    /// The Kafka backend's settings.
    pub kafka: KafkaConfig,
    /// `process` (WAL, no fsync) or `power` (fsync per group commit).
    pub durability: Durability,
    /// Shard worker threads; 0 means one per CPU core.
    pub shard_workers: usize,
    /// Requests each worker queue holds before writers get 503 ServerBusy.
    pub queue_depth: usize,
    /// Most requests one group commit takes from a queue.
    pub max_commit_requests: usize,
    /// Most stored bytes one group commit gathers before writing.
    pub max_commit_bytes: usize,
    /// Most raw bytes one PullLogs response carries (at least one LogGroup is always sent).
    pub max_pull_bytes: usize,
    /// Seconds between two passes that drop data older than each logstore's ttl; 0 disables them.
    pub retention_interval_secs: u64,
    /// RocksDB memtables of all logstores together, bytes.
    pub memtable_budget_bytes: usize,
    /// RocksDB block cache shared by all logstores, bytes.
    pub block_cache_bytes: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            backend: Backend::Rocksdb,
            kafka: KafkaConfig::default(),
            durability: Durability::Process,
            shard_workers: 0,
            queue_depth: 256,
            max_commit_requests: 256,
            max_commit_bytes: 32 * 1024 * 1024,
            max_pull_bytes: 16 * 1024 * 1024,
            retention_interval_secs: 600,
            memtable_budget_bytes: 256 << 20,
            block_cache_bytes: 32 << 20,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogConfig {
    /// Create an unknown project or logstore on its first write.
    pub auto_create: bool,
    /// Shard count of auto-created logstores.
    pub default_shard_count: u32,
    /// TTL in days of auto-created logstores.
    pub default_ttl_days: u32,
    /// Most shards a logstore may have (created or by splitting).
    pub max_shards_per_logstore: u32,
    /// Base domains: a Host of `<project>.<endpoint>` names the project. IPv4 literals and
    /// `localhost` always count as endpoints.
    pub endpoints: Vec<String>,
    /// Project for web-tracking requests whose Host names none (the browser SDK given an
    /// `http://host:port` endpoint sends no project). Empty: such requests get ProjectNotExist.
    pub default_project: String,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        CatalogConfig {
            auto_create: true,
            default_shard_count: 2,
            default_ttl_days: 30,
            max_shards_per_logstore: 256,
            endpoints: Vec::new(),
            default_project: String::new(),
        }
    }
}

/// Where `POST /v4/callback/logs` records land. `{field}` in a template is replaced by that field
/// of the record (any of the record's required string fields).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallbackConfig {
    /// Project template.
    pub project: String,
    /// Logstore template.
    pub logstore: String,
}

impl Default for CallbackConfig {
    fn default() -> Self {
        CallbackConfig { project: "{project_name}".into(), logstore: "{application_name}".into() }
    }
}

impl CallbackConfig {
    /// The `{field}` names a template uses.
    pub fn placeholders(template: &str) -> Vec<&str> {
        template.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name)).collect()
    }
}

/// Command-line values that override the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub allow_anonymous: bool,
}

impl Config {
    /// Reads a TOML file. Unknown keys are errors, so typos do not pass silently.
    pub fn from_file(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        Config::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    pub fn from_toml(text: &str) -> anyhow::Result<Config> {
        Ok(toml::from_str(text)?)
    }

    pub fn apply(&mut self, o: &Overrides) {
        if let Some(listen) = o.listen {
            self.server.listen = listen;
        }
        if let Some(dir) = &o.data_dir {
            self.server.data_dir = dir.clone();
        }
        self.server.allow_anonymous |= o.allow_anonymous;
    }

    /// Every problem with the configuration, empty when it is usable.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let l = &self.limits;
        if l.max_raw_bytes == 0 || l.max_raw_bytes > 64 * 1024 * 1024 {
            p.push("limits.max_raw_bytes must be between 1 and 67108864".into());
        }
        if l.max_logs == 0 {
            p.push("limits.max_logs must be at least 1".into());
        }
        if l.max_key_bytes == 0 {
            p.push("limits.max_key_bytes must be at least 1".into());
        }
        let inflight = self.server.max_inflight_bytes;
        if inflight < l.max_wire_bytes() || inflight > (u32::MAX as usize) << 10 {
            p.push(format!(
                "server.max_inflight_bytes must hold at least one largest request ({} bytes) and be under 4 TiB",
                l.max_wire_bytes()
            ));
        }
        if self.server.tls_cert_file.as_os_str().is_empty() != self.server.tls_key_file.as_os_str().is_empty() {
            p.push("server.tls_cert_file and server.tls_key_file must be set together (both empty: plain HTTP)".into());
        }
        if self.storage.memtable_budget_bytes < 4 << 20 {
            p.push("storage.memtable_budget_bytes must be at least 4194304".into());
        }
        if self.storage.backend == Backend::Kafka {
            let k = &self.storage.kafka;
            if k.brokers.trim().is_empty() {
                p.push("storage.kafka.brokers must name at least one broker with storage.backend = \"kafka\"".into());
            }
            if k.replication_factor < 1 || k.produce_timeout_ms == 0 || k.max_queued_bytes < k.max_record_bytes {
                p.push("storage.kafka: replication_factor and produce_timeout_ms must be at least 1, max_queued_bytes at least max_record_bytes".into());
            }
            if !k.nodes.is_empty() {
                if k.node >= k.nodes.len() || k.replicas() > k.nodes.len() {
                    p.push("storage.kafka: node must be an index into nodes, and read_replicas at most the number of nodes".into());
                }
                if k.cluster_secret.len() < 16 {
                    p.push(
                        "storage.kafka.cluster_secret (at least 16 characters) is required with storage.kafka.nodes"
                            .into(),
                    );
                }
                if let Some(bad) = k.nodes.iter().find(|n| !crate::kafka::is_node_url(n)) {
                    p.push(format!("storage.kafka.nodes: {bad:?} is not an http://host:port base URL"));
                }
            }
        }
        if self.storage.queue_depth == 0 {
            p.push("storage.queue_depth must be at least 1".into());
        }
        if self.storage.max_commit_requests == 0 {
            p.push("storage.max_commit_requests must be at least 1".into());
        }
        let c = &self.catalog;
        if c.default_shard_count == 0 || c.default_shard_count > c.max_shards_per_logstore {
            p.push("catalog.default_shard_count must be between 1 and catalog.max_shards_per_logstore".into());
        }
        if c.default_ttl_days == 0 || c.default_ttl_days > 3650 {
            p.push("catalog.default_ttl_days must be between 1 and 3650".into());
        }
        for (what, template) in
            [("callback.project", &self.callback.project), ("callback.logstore", &self.callback.logstore)]
        {
            if template.is_empty() {
                p.push(format!("{what} must not be empty"));
            }
            for name in CallbackConfig::placeholders(template) {
                if !crate::wire::callback::STRING_FIELDS.contains(&name) {
                    p.push(format!("{what} uses {{{name}}}, which is not a string field of a callback record"));
                }
            }
        }
        let mut ids = std::collections::HashSet::new();
        for k in &self.access_keys {
            if k.id.is_empty() || k.secret.expose().is_empty() {
                p.push("access_keys entries need a non-empty id and secret".into());
            }
            if !ids.insert(k.id.as_str()) {
                p.push(format!("access key id {} is listed twice", k.id));
            }
        }
        let mut tokens = std::collections::HashSet::new();
        for t in &self.lts.tokens {
            if t.token.expose().is_empty() || t.project_id.is_empty() {
                p.push("lts.tokens entries need a non-empty token and project_id".into());
            }
            if !tokens.insert(t.token.expose()) {
                p.push(format!("an lts token (for project id {}) is listed twice", t.project_id));
            }
        }
        if self.is_open() && !self.server.listen.ip().is_loopback() && !self.server.allow_anonymous {
            p.push(format!(
                "no access_keys or lts.tokens are configured and {} is not a loopback address: configure keys, \
                 or set server.allow_anonymous = true (--allow-anonymous) to accept unsigned writes from the network",
                self.server.listen
            ));
        }
        p
    }

    /// No credentials of any kind are configured: every request is anonymous.
    pub fn is_open(&self) -> bool {
        self.access_keys.is_empty() && self.lts.tokens.is_empty()
    }

    pub fn worker_count(&self) -> usize {
        match self.storage.shard_workers {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            n => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_the_embedded_default() {
        let c = Config::from_toml("").unwrap();
        assert!(c.server.listen.ip().is_loopback());
        assert_eq!(c.limits, Limits::default());
        assert!(c.catalog.auto_create);
        assert!(c.problems().is_empty());
    }

    #[test]
    fn the_shipped_config_documents_exactly_the_defaults() {
        let shipped = Config::from_toml(include_str!("../dist/logtide.toml")).unwrap();
        assert_eq!(format!("{shipped:?}"), format!("{:?}", Config::default()));
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(Config::from_toml("[server]\nlisten_addr = \"127.0.0.1:1\"\n").is_err());
    }

    #[test]
    fn anonymous_network_listener_needs_the_flag() {
        let mut c = Config::from_toml("[server]\nlisten = \"0.0.0.0:7480\"\n").unwrap();
        assert_eq!(c.problems().len(), 1);
        c.apply(&Overrides { allow_anonymous: true, ..Default::default() });
        assert!(c.problems().is_empty());
    }

    #[test]
    fn callback_templates_name_record_fields() {
        assert_eq!(CallbackConfig::placeholders("k8s-{region_name}-{product}"), vec!["region_name", "product"]);
        let c = Config::from_toml("[callback]\nproject = \"{nope}\"\n").unwrap();
        assert_eq!(c.problems().len(), 1);
        assert!(c.problems()[0].contains("{nope}"));
    }

    #[test]
    fn lts_tokens_and_key_project_ids_parse_and_close_the_open_mode() {
        let c = Config::from_toml(
            "[[lts.tokens]]\ntoken = \"t1\"\nproject_id = \"p\"\n\n[[lts.tokens]]\ntoken = \"t1\"\nproject_id = \"\"\n\n\
             [[access_keys]]\nid = \"a\"\nsecret = \"s\"\nproject_ids = [\"p\"]\n",
        )
        .unwrap();
        assert!(!c.is_open());
        assert_eq!(c.access_keys[0].project_ids, vec!["p".to_string()]);
        let problems = c.problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(!format!("{c:?} {problems:?}").contains("t1"), "tokens never appear in Debug or problems");
    }

    #[test]
    fn the_kafka_backend_needs_brokers() {
        let c = Config::from_toml("[storage]\nbackend = \"kafka\"\n").unwrap();
        assert!(c.problems().iter().any(|p| p.contains("storage.kafka.brokers")), "{:?}", c.problems());
        let c = Config::from_toml("[storage]\nbackend = \"kafka\"\n[storage.kafka]\nbrokers = \"b:9092\"\n").unwrap();
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        assert!(Config::from_toml("[storage]\nbackend = \"nats\"\n").is_err());
        let cluster = |extra: &str| {
            let text = format!("[storage]\nbackend = \"kafka\"\n[storage.kafka]\nbrokers = \"b:9092\"\n{extra}");
            Config::from_toml(&text).unwrap().problems()
        };
        let nodes = "nodes = [\"http://10.0.0.1:8080\", \"http://10.0.0.2:8080\"]\n";
        assert!(cluster(&format!("{nodes}node = 1\ncluster_secret = \"0123456789abcdef\"\n")).is_empty());
        assert_eq!(cluster(&format!("{nodes}node = 2\ncluster_secret = \"0123456789abcdef\"\n")).len(), 1);
        assert_eq!(cluster(&format!("{nodes}read_replicas = 3\ncluster_secret = \"0123456789abcdef\"\n")).len(), 1);
        assert_eq!(cluster(nodes).len(), 1, "a secret is required");
        assert_eq!(cluster("nodes = [\"10.0.0.1:8080\"]\ncluster_secret = \"0123456789abcdef\"\n").len(), 1);
    }

    #[test]
    fn problems_are_all_listed() {
        let c = Config::from_toml("[limits]\nmax_logs = 0\n[storage]\nqueue_depth = 0\n").unwrap();
        assert_eq!(c.problems().len(), 2);
    }
}
