//! The hyper front end: the accept loop (connection cap, header-read timeout, graceful drain),
//! and per request: project resolution, endpoint parsing, capped body collection, Content-MD5 and
//! signature checks, then dispatch to the SLS or the LTS handlers (by path). Handlers return domain
//! results; only [`response`] renders them, in the dialect of the API called.

pub mod body;
pub mod callback;
pub mod lts;
pub mod response;
pub mod router;
pub mod sls;
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
use crate::store::ShardLog;
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
}

impl AppState {
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }
}

/// Serves connections until `shutdown` turns true, then stops accepting and gives in-flight
/// requests `shutdown_grace_secs` to finish.
pub async fn serve(listener: TcpListener, state: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    let cfg = &state.config.server;
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(cfg.header_read_timeout_secs))
        .keep_alive(true);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(cfg.max_connections.max(1)));
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = stopped(&mut shutdown) => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => break,
        };
        let _ = stream.set_nodelay(true);
        let st = state.clone();
        let svc = service_fn(move |req| handle(st.clone(), peer, req));
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), svc));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
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
            // ServerBusy is the daemon shedding load as designed: at overload it is thousands of
            // answers a second, so it is not logged above debug.
            if e.code.status().is_server_error() && e.code != ErrorCode::ServerBusy {
                tracing::warn!(request_id, code = e.code.sls_name(), message = %e.message, "request failed");
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
