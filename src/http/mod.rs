//! The hyper front end: the accept loop (connection cap, header-read timeout, graceful drain),
//! and per request: project resolution, endpoint parsing, capped body collection, Content-MD5 and
//! signature checks, then dispatch to the SLS or the LTS handlers (by path). Handlers return domain
//! results; only [`response`] renders them, in the dialect of the API called.

pub mod body;
pub mod callback;
pub mod lts;
pub mod ops;
pub mod peer;
pub mod response;
pub mod router;
pub mod sls;
pub mod tls;
pub mod webtrack;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::auth::KeyRing;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::error::{Dialect, ErrorCode};
use crate::ingest::Ingest;
use crate::logging::{Throttle, ThrottleByCode};
use crate::metrics::Metrics;
use crate::shard::ShardWorkers;
use crate::store::{RocksStore, ShardLog};
use response::Body;

/// Everything a request handler may use.
pub struct AppState {
    pub catalog: Arc<Catalog>,
    pub ingest: Arc<Ingest>,
    pub log: Arc<dyn ShardLog>,
    pub keys: KeyRing,
    pub config: Config,
    pub shutting_down: AtomicBool,
    /// Request-body bytes in memory (`server.max_inflight_bytes`).
    pub inflight: body::InflightBudget,
    pub metrics: Arc<Metrics>,
    /// For liveness and the queue figures of `/metrics`.
    pub workers: Arc<ShardWorkers>,
    /// For the RocksDB figures of `/metrics` (read-only).
    pub store: Arc<RocksStore>,
    /// With the Kafka backend and `storage.kafka.nodes`: the log that answers other nodes' reads
    /// of the shards this node stores, and the cluster.
    pub peers: Option<(Arc<crate::kafka::KafkaLog>, Arc<crate::kafka::Cluster>)>,
}

impl AppState {
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }

    /// Liveness: every shard worker runs (a stopped one would refuse its shards' writes until a
    /// restart).
    pub fn is_live(&self) -> bool {
        self.workers.all_alive()
    }

    /// Why the daemon should not be sent new requests, `None` when it is ready.
    pub fn unready_reason(&self) -> Option<&'static str> {
        if self.is_shutting_down() {
            Some("shutting down")
        } else if !self.is_live() {
            Some("a shard worker has stopped")
        } else {
            None
        }
    }
}

/// Connections over the cap that may be in the middle of their 503 at once, at least.
const MIN_REFUSALS: usize = 1024;

/// Largest request line plus headers (an LTS token is 1–2 KB; SLS headers are a few hundred bytes).
pub const MAX_HEADER_BLOCK_BYTES: usize = 64 * 1024;

/// Repeated failures of one code are logged once per interval.
static REQUEST_FAILURES: ThrottleByCode = ThrottleByCode::new();

/// Serves connections until `shutdown` turns true, then stops accepting and gives in-flight
/// requests `shutdown_grace_secs` to finish.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    let cfg = &state.config.server;
    let header_timeout = Duration::from_secs(cfg.header_read_timeout_secs);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        // The connection's read buffer, which bounds a header block (hyper's default is ~400 KiB
        // per connection, 1.6 GiB at 4096 connections sending unfinished headers); longer
        // header blocks get 431.
        .max_buf_size(MAX_HEADER_BLOCK_BYTES)
        .keep_alive(true);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(cfg.max_connections.max(1)));
    // Connections being refused (answered 503 and closed, each within a second) beyond the cap;
    // beyond this many as well, a connection is closed at once without an answer.
    let refusals = Arc::new(Semaphore::new(cfg.max_connections.max(MIN_REFUSALS)));
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, this repeats every 50 ms.
                    static ACCEPT_FAILURES: Throttle = Throttle::new(crate::logging::REPEAT_INTERVAL_MS);
                    if let Some(suppressed) = ACCEPT_FAILURES.allow() {
                        tracing::warn!(error = %e, suppressed, "accept failed");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => break,
        };
        let _ = stream.set_nodelay(true);
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            // Over `server.max_connections`: a retryable answer at once rather than a wait in the
            // kernel backlog behind connections that may be idle for a whole header timeout.
            if let (Ok(refusing), None) = (refusals.clone().try_acquire_owned(), &tls) {
                tokio::spawn(async move {
                    refuse_connection(stream).await;
                    drop(refusing);
                });
            }
            continue;
        };
        let st = state.clone();
        let svc = service_fn(move |req| handle(st.clone(), peer, req));
        let Some(tls) = tls.clone() else {
            let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), svc));
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, %peer, "connection ended with an error");
                }
                drop(permit);
            });
            continue;
        };
        // The handshake runs in the connection's task, under the header-read deadline.
        let (builder, watcher, deadline) = (builder.clone(), graceful.watcher(), header_timeout);
        tokio::spawn(async move {
            match tokio::time::timeout(deadline, tls.accept(stream)).await {
                Ok(Ok(stream)) => {
                    if let Err(e) = watcher.watch(builder.serve_connection(TokioIo::new(stream), svc)).await {
                        tracing::debug!(error = %e, %peer, "connection ended with an error");
                    }
                }
                Ok(Err(e)) => tracing::debug!(error = %e, %peer, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake not done within the header-read timeout"),
            }
            drop(permit);
        });
    }
    drop(listener);
    let grace = Duration::from_secs(state.config.server.shutdown_grace_secs);
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!(?grace, "in-flight requests did not finish within the grace period");
    }
}

/// Answers a connection over the cap with 503 `ServerBusy` (`Retry-After: 1`, `Connection:
/// close`), then closes it gracefully: the write side first, then whatever the client sent is read
/// and dropped for up to a second, so that the close does not reset the connection before the
/// client has read the answer.
async fn refuse_connection(mut stream: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let answer = response::connection_refusal();
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(&answer).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}

/// Resolves once the shutdown flag turns true (or its sender is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

async fn handle(state: Arc<AppState>, peer: SocketAddr, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let request_id = response::new_request_id();
    // CORS preflights are answered by the SLS adapter whatever the path.
    let (dialect, result) = if req.method() != http::Method::OPTIONS && lts::is_lts_path(req.uri().path()) {
        let dialect = lts::dialect_of(req.uri().path());
        (dialect, lts::handle(&state, peer, req, &request_id).await)
    } else {
        (Dialect::Sls, sls::handle(&state, peer, req, &request_id).await)
    };
    let response = match result {
        Ok(r) => r,
        Err(e) => {
            state.metrics.rejected(dialect, e.code);
            // ServerBusy is the daemon shedding load as designed: at overload it is thousands of
            // answers a second, so it is not logged above debug. StorageFull is logged once, when
            // the store stops taking writes, not for every refused request.
            if e.code.status().is_server_error() && !matches!(e.code, ErrorCode::ServerBusy | ErrorCode::StorageFull) {
                if let Some(suppressed) = REQUEST_FAILURES.allow(e.code) {
                    let code = e.code.sls_name();
                    tracing::warn!(request_id, code, message = %e.message, suppressed, "request failed");
                }
            } else {
                tracing::debug!(request_id, code = e.code.sls_name(), message = %e.message, "request refused");
            }
            response::error(dialect, &request_id, &e)
        }
    };
    Ok(response)
}

/// The project a request addresses: `x-log-project`, else the first label of a Host of the form
/// `<project>.<endpoint>` where the endpoint is configured, `localhost`, or an IPv4 literal
/// (sls.md §2.1). `None` for account-level calls.
pub fn project_of(headers: &HeaderMap, endpoints: &[String]) -> Option<String> {
    if let Some(p) = headers.get("x-log-project").and_then(|v| v.to_str().ok()) {
        if !p.is_empty() {
            return Some(p.to_string());
        }
    }
    let host = headers.get(http::header::HOST)?.to_str().ok()?;
    let host = strip_port(host);
    let (label, rest) = host.split_once('.')?;
    let is_endpoint = rest.parse::<std::net::Ipv4Addr>().is_ok()
        || rest.eq_ignore_ascii_case("localhost")
        || endpoints.iter().any(|e| rest.eq_ignore_ascii_case(e));
    (is_endpoint && !label.is_empty() && host.parse::<std::net::Ipv4Addr>().is_err()).then(|| label.to_string())
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host; // IPv6 literal: never carries a project
    }
    host.rsplit_once(':').filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit())).map(|(h, _)| h).unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(host: &str, project: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::HOST, host.parse().unwrap());
        if let Some(p) = project {
            h.insert("x-log-project", p.parse().unwrap());
        }
        h
    }

    #[test]
    fn project_from_host_or_header() {
        let eps = vec!["sls.example.com".to_string()];
        assert_eq!(project_of(&headers("myproj.127.0.0.1", None), &eps).as_deref(), Some("myproj"));
        assert_eq!(project_of(&headers("myproj.127.0.0.1:7480", None), &eps).as_deref(), Some("myproj"));
        assert_eq!(project_of(&headers("myproj.sls.example.com", None), &eps).as_deref(), Some("myproj"));
        assert_eq!(project_of(&headers("myproj.localhost:80", None), &eps).as_deref(), Some("myproj"));
        assert_eq!(project_of(&headers("127.0.0.1:7480", None), &eps), None);
        assert_eq!(project_of(&headers("other.example.org", None), &eps), None);
        assert_eq!(project_of(&headers("127.0.0.1", Some("lc-proj")), &eps).as_deref(), Some("lc-proj"));
        assert_eq!(project_of(&headers("[::1]:7480", None), &eps), None);
    }
}
