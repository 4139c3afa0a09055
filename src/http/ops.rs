//! The operations endpoints, answered before any body is read or signature checked, whatever the
//! Host: `GET /health` (liveness: 200 while the shard workers run), `GET /ready` (readiness: 503
//! from the start of shutdown, so a load balancer stops sending before the listener closes) and
//! `GET /metrics` (Prometheus, see [`crate::metrics`]). None of them counts as a rejection.

use std::sync::Arc;

use http::{Response, StatusCode};
use serde_json::json;

use super::response::{self, Body};
use super::router::Endpoint;
use super::AppState;
use crate::error::ApiResult;
use crate::metrics::{Sample, CONTENT_TYPE};

/// Whether the endpoint is one of the operations endpoints.
pub fn is_ops(endpoint: &Endpoint) -> bool {
    matches!(endpoint, Endpoint::Health | Endpoint::Ready | Endpoint::Metrics)
}

pub async fn answer(state: &Arc<AppState>, endpoint: &Endpoint, request_id: &str) -> ApiResult<Response<Body>> {
    match endpoint {
        Endpoint::Health => Ok(status(request_id, state.is_live().then_some("ok").ok_or("a shard worker has stopped"))),
        Endpoint::Ready => Ok(status(request_id, state.unready_reason().map_or(Ok("ready"), Err))),
        _ => {
            let st = state.clone();
            let text = super::sls::blocking(move || Ok(scrape(&st))).await?;
            Ok(response::binary(request_id, CONTENT_TYPE, text.into_bytes(), &[]))
        }
    }
}

/// 200 `{"status": "ok"}`, or 503 `{"status": "unavailable", "reason": …}`.
fn status(request_id: &str, result: Result<&str, &str>) -> Response<Body> {
    match result {
        Ok(word) => response::json(request_id, &json!({ "status": word })),
        Err(reason) => response::json_with_status(
            StatusCode::SERVICE_UNAVAILABLE,
            request_id,
            &json!({ "status": "unavailable", "reason": reason }),
        ),
    }
}

/// Reads the state figures (RocksDB properties: blocking, hence off the runtime) and renders.
fn scrape(st: &AppState) -> String {
    let streams: Vec<uuid::Uuid> = st
        .catalog
        .projects()
        .iter()
        .filter_map(|p| st.catalog.logstores(&p.name).ok())
        .flatten()
        .map(|ls| ls.id)
        .collect();
    let queue_lens = st.workers.queue_lens();
    let inflight_bytes = st.config.server.max_inflight_bytes.saturating_sub(st.inflight.available_bytes());
    let sample = Sample {
        store: st.store.figures(&streams),
        queue_lens: &queue_lens,
        inflight_bytes,
        log: st.log.log_figures(),
        catalog_position: st.catalog.shared_position(),
    };
    st.metrics.render(&sample)
}
