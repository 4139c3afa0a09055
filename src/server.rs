//! Wiring and shutdown order: the only module that knows every part. Opening: store → catalog →
//! (Kafka backend: the catalog follower, then the materializer) → shard workers → listener, with
//! the retention and dump-export timers beside it. Shutdown: stop accepting and finish in-flight
//! requests → drain the shard queues → stop the Kafka threads → flush RocksDB.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::KeyRing;
use crate::catalog::Catalog;
use crate::config::{Backend, Config, Durability};
use crate::http::{self, AppState};
use crate::ingest::Ingest;
use crate::metrics::Metrics;
use crate::shard::{ShardWorkers, WorkerConfig};
use crate::store::{RocksStore, ShardLog, StoreMemory};

/// Everything opened before the listener starts accepting.
struct Services {
    state: Arc<AppState>,
    /// TLS on the listener (`server.tls_cert_file`), checked before anything else opens.
    tls: Option<tokio_rustls::TlsAcceptor>,
    store: Arc<RocksStore>,
    workers: Arc<ShardWorkers>,
    /// With the Kafka backend: the thread consuming the shard log into `store`.
    materializer: Option<crate::kafka::ConsumerThread>,
    /// With the Kafka backend: the thread applying the shared catalog log.
    follower: Option<crate::kafka::ConsumerThread>,
}

impl Services {
    /// Blocking: opens RocksDB and loads the catalog.
    fn open(config: Config) -> anyhow::Result<Services> {
        let server = &config.server;
        let tls = match server.tls() {
            true => Some(http::tls::acceptor(&server.tls_cert_file, &server.tls_key_file)?),
            false => None,
        };
        let dir = &config.server.data_dir;
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create data dir {}: {e}", dir.display()))?;
        let memory = StoreMemory {
            memtable_bytes: config.storage.memtable_budget_bytes,
            block_cache_bytes: config.storage.block_cache_bytes,
        };
        let store = RocksStore::open_with(dir, memory).map_err(|e| {
            if e.is_locked() {
                anyhow::anyhow!(
                    "the data directory {} is in use by another logtide process (its RocksDB LOCK is held); \
                     stop that one first or give this one another --data-dir",
                    dir.display()
                )
            } else if e.to_string().contains("Corruption") {
                anyhow::anyhow!(
                    "the store in {} is damaged ({e}); logtide does not start rather than drop the \
                     acknowledged writes after the damage (see docs/durability.md, \"A damaged WAL\")",
                    dir.display()
                )
            } else {
                anyhow::anyhow!("cannot open the store in {}: {e}", dir.display())
            }
        })?;
        let catalog = Catalog::load(store.clone(), config.catalog.clone())?;
        let (catalog, log, materializer, follower, peers): (_, Arc<dyn ShardLog>, _, _, _) =
            match config.storage.backend {
                Backend::Rocksdb => (Arc::new(catalog), store.clone(), None, None, None),
                Backend::Kafka => {
                    let k = &config.storage.kafka;
                    let admin = Arc::new(crate::kafka::TopicAdmin::connect(k)?);
                    let log = crate::kafka::KafkaLog::connect(k, store.clone())?;
                    let changes = Arc::new(crate::kafka::CatalogTopic::new(k, log.producer(), admin.clone()));
                    let timeout = std::time::Duration::from_millis(k.produce_timeout_ms);
                    let catalog = Arc::new(catalog.with_log_admin(admin).with_change_log(changes.clone(), timeout)?);
                    // A node that ran alone before offers its catalog as the shared one (checked
                    // before the follower applies anything of an existing log).
                    let publish = catalog.has_unshared_entries();
                    if publish {
                        if catalog.stores_logs() {
                            anyhow::bail!(
                                "the data directory {} holds logs written without the shared Kafka catalog (by the \
                             embedded backend or an earlier logtide); the Kafka backend cannot take them over: \
                             start it on an empty data directory",
                                dir.display()
                            );
                        }
                        catalog.check_log_empty()?;
                    }
                    let follower = crate::kafka::follow_catalog(k, changes, catalog.clone())?;
                    if publish {
                        catalog.publish_local()?;
                    }
                    // With a node list, this node stores only the shards it owns and reads the others
                    // from their owners.
                    let cluster = crate::kafka::Cluster::from_config(k).map(Arc::new);
                    if let Some(cluster) = &cluster {
                        let listed = catalog.clone();
                        let shards_of: crate::kafka::ShardsOf = Arc::new(move |stream| {
                            listed
                                .all_shards()
                                .into_iter()
                                .find(|(s, _)| *s == stream)
                                .map(|(_, ids)| ids)
                                .unwrap_or_default()
                        });
                        log.set_cluster(cluster.clone(), shards_of);
                    }
                    let listed = catalog.clone();
                    let owner = cluster.clone();
                    let wanted: crate::kafka::Wanted = Arc::new(move || {
                        let mut all = listed.all_shards();
                        if let Some(c) = &owner {
                            for (stream, shards) in &mut all {
                                shards.retain(|&shard| c.owns(*stream, shard));
                            }
                            all.retain(|(_, shards)| !shards.is_empty());
                        }
                        all
                    });
                    let materializer = crate::kafka::start_materializer(k, store.clone(), wanted, log.watermarks())?;
                    let peers = cluster.map(|c| (log.clone(), c));
                    (catalog, log, Some(materializer), Some(follower), peers)
                }
            };
        let metrics = Arc::new(Metrics::new(config.worker_count(), config.storage.queue_depth));
        let workers = ShardWorkers::start_observed(
            log.clone(),
            WorkerConfig {
                workers: config.worker_count(),
                queue_depth: config.storage.queue_depth,
                max_commit_requests: config.storage.max_commit_requests,
                max_commit_bytes: config.storage.max_commit_bytes,
                sync: config.storage.durability == Durability::Power,
            },
            metrics.clone(),
        );
        let open_mode = config.is_open();
        let ingest = Arc::new(
            Ingest::new(catalog.clone(), workers.clone(), config.limits.clone(), open_mode)
                .with_metrics(metrics.clone()),
        );
        let keys = KeyRing::new(config.access_keys.clone(), config.lts.tokens.clone());
        let inflight = crate::http::body::InflightBudget::new(config.server.max_inflight_bytes);
        let state = Arc::new(AppState {
            catalog,
            ingest,
            log,
            keys,
            config,
            shutting_down: AtomicBool::new(false),
            inflight,
            metrics,
            workers: workers.clone(),
            store: store.clone(),
            peers,
        });
        Ok(Services { state, tls, store, workers, materializer, follower })
    }
}

/// A running daemon: what `main` and the integration tests start and stop.
pub struct Daemon {
    addr: SocketAddr,
    state: Arc<AppState>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Daemon {
    /// Validates the configuration, opens storage, binds the listener and starts serving. When
    /// this returns, the daemon accepts writes.
    pub async fn start(config: Config) -> anyhow::Result<Daemon> {
        let problems = config.problems();
        if !problems.is_empty() {
            anyhow::bail!("invalid configuration:\n  {}", problems.join("\n  "));
        }
        let listen = config.server.listen;
        let services = tokio::task::spawn_blocking(move || Services::open(config)).await??;
        let listener =
            TcpListener::bind(listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr()?;
        let (tx, rx) = watch::channel(false);
        let state = services.state.clone();
        let task = tokio::spawn(run(services, listener, rx));
        Ok(Daemon { addr, state, shutdown: tx, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A check of the daemon's health for a watchdog: every shard worker runs.
    pub fn health_check(&self) -> impl Fn() -> bool + Send + Sync + 'static {
        let state = self.state.clone();
        move || state.is_live()
    }

    /// Runs one dump export pass as if the clock read `now_secs` (what the background task does
    /// every `dump.check_interval_secs` with the real clock), on the blocking pool.
    pub async fn export_dumps(&self, now_secs: u64) -> anyhow::Result<crate::dump::ExportReport> {
        let st = self.state.clone();
        let report = tokio::task::spawn_blocking(move || {
            crate::dump::export_due(
                &st.catalog,
                st.log.as_ref(),
                &crate::dump::Buckets::from_config(&st.config.dump),
                now_secs,
            )
        })
        .await??;
        Ok(report)
    }

    /// Stops accepting, finishes in-flight requests, drains the shard queues and flushes.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.task.await?
    }
}

/// Runs `pass` on the blocking pool every `every_secs` seconds (never when 0) until shutdown; a
/// pass that fails is logged and tried again at the next tick. `pass` returns a line to log, if
/// it did anything worth one.
async fn periodic<F>(
    name: &'static str,
    every_secs: u64,
    state: Arc<AppState>,
    mut shutdown: watch::Receiver<bool>,
    pass: F,
) where
    F: Fn(&AppState) -> anyhow::Result<Option<String>> + Send + Sync + 'static,
{
    if every_secs == 0 {
        return;
    }
    let pass = Arc::new(pass);
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(every_secs));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let (st, pass) = (state.clone(), pass.clone());
        match tokio::task::spawn_blocking(move || pass(&st)).await {
            Ok(Ok(None)) => {}
            Ok(Ok(Some(done))) => tracing::info!(task = name, "{done}"),
            Ok(Err(e)) => tracing::warn!(task = name, error = %e, "pass failed"),
            Err(e) => tracing::warn!(task = name, error = %e, "pass panicked"),
        }
    }
}

/// Trims every logstore to its ttl every `storage.retention_interval_secs`.
fn retention_pass(st: &AppState) -> anyhow::Result<Option<String>> {
    let max_past = st.config.limits.max_past_secs;
    let removed = crate::retention::enforce(&st.catalog, st.log.as_ref(), max_past, crate::catalog::now_secs())?;
    Ok((removed > 0).then(|| format!("retention dropped {removed} expired log groups")))
}

/// Exports the completed windows of every dump every `dump.check_interval_secs`.
fn dump_pass(st: &AppState) -> anyhow::Result<Option<String>> {
    let buckets = crate::dump::Buckets::from_config(&st.config.dump);
    let report = crate::dump::export_due(&st.catalog, st.log.as_ref(), &buckets, crate::catalog::now_secs())?;
    Ok((!report.files.is_empty()).then(|| format!("exported {} dump files", report.files.len())))
}

async fn run(services: Services, listener: TcpListener, shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    let Services { state, tls, store, workers, materializer, follower } = services;
    // Shutdown turns /ready unready at once; the listener closes `shutdown_delay_secs` later, so
    // that a load balancer polling /ready stops sending before connections are refused.
    let (close_listener, listener_closed) = watch::channel(false);
    let mut flag = shutdown.clone();
    let st = state.clone();
    tokio::spawn(async move {
        if flag.wait_for(|s| *s).await.is_ok() {
            st.shutting_down.store(true, Ordering::Relaxed);
            tokio::time::sleep(std::time::Duration::from_secs(st.config.server.shutdown_delay_secs)).await;
        }
        let _ = close_listener.send(true);
    });
    let (retention_every, dump_every) =
        (state.config.storage.retention_interval_secs, state.config.dump.check_interval_secs);
    let retention =
        tokio::spawn(periodic("retention", retention_every, state.clone(), shutdown.clone(), retention_pass));
    let dumps = tokio::spawn(periodic("dump", dump_every, state.clone(), shutdown.clone(), dump_pass));
    http::serve(listener, state.clone(), tls, listener_closed).await;
    let _ = retention.await;
    let _ = dumps.await;
    tracing::info!("listener closed; draining shard queues");
    tokio::task::spawn_blocking(move || {
        workers.shutdown();
        drop(materializer);
        drop(follower);
        store.flush()
    })
    .await??;
    tracing::info!("storage flushed; stopped");
    Ok(())
}
