//! logtide: a log-ingestion daemon that speaks the Alibaba SLS and Huawei LTS write and read APIs
//! and stores logs durably in RocksDB.
//!
//! Codemap (see ARCHITECTURE.md for the invariants):
//! - [`config`]: TOML configuration with defaults and validation.
//! - [`error`]: the one error-code table (code → HTTP status, wire name, retryable).
//! - [`auth`]: SLS signatures v1 and v4, LTS SDK-HMAC-SHA256 and tokens (pure).
//! - [`wire`]: protobuf schema, decompression with caps, in-place LogGroup validation (pure).
//! - [`validate`]: write limits and field rules (pure).
//! - [`route`]: shard hash ranges, hash-key routing and load balancing (pure).
//! - [`ingest`]: the write path shared by every front door: decode, validate, route, queue, await.
//! - [`catalog`]: projects, logstores and shards, persisted through `store`.
//! - [`retention`]: ttl enforcement by range deletes, with an injectable clock.
//! - [`dump`]: LTS log dumps: options, buckets, file layout, export of due windows (injectable clock).
//! - [`shard`]: shard worker threads, bounded queues, group commit and acknowledgements.
//! - [`store`]: the only module that touches RocksDB: column families, key and record encoding.
//! - [`query`]: log search over a time window: index lookup, order, line numbers, keywords, paging.
//! - [`api`]: management and read operations, free of HTTP types.
//! - [`http`]: the hyper front end: accept loop, capped bodies, endpoint parsing, rendering.
//! - [`server`]: wiring and shutdown order.
//! - [`metrics`]: the Prometheus metrics, every name spelled once.
//! - [`logging`]: the log subscriber (text or JSON) and the throttle of repeated warnings.
//! - [`systemd`]: `Type=notify` readiness, stopping and watchdog messages.
//! - [`loadgen`]: the load generator behind the `logtide-load` binary (not used by the daemon).

pub mod api;
pub mod auth;
pub mod catalog;
pub mod config;
pub mod dump;
pub mod error;
pub mod http;
pub mod ingest;
pub mod kafka;
pub mod loadgen;
pub mod logging;
pub mod metrics;
pub mod query;
pub mod retention;
pub mod route;
pub mod server;
pub mod shard;
pub mod store;
pub mod systemd;
pub mod validate;
pub mod wire;

pub use server::Daemon;
