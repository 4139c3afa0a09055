//! The internal read API between the nodes of a cluster (`POST /internal/v1/shard-read`, see
//! `kafka::cluster`): another node reading a shard this node stores. It answers only a request
//! carrying the cluster secret, on a node configured with `storage.kafka.nodes`; the body is
//! small and capped, and the read runs off the async runtime.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Response};
use hyper::body::Incoming;

use super::response::{self, Body};
use super::AppState;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::kafka::{PeerRequest, MAX_PEER_REQUEST_BYTES, SECRET_HEADER};

pub async fn answer(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    incoming: Incoming,
    request_id: &str,
) -> ApiResult<Response<Body>> {
    let refused = || ApiError::new(ErrorCode::Unauthorized, "peer reads need this node's cluster secret");
    let Some((log, cluster)) = state.peers.clone() else { return Err(refused()) };
    let presented = headers.get(SECRET_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
    if !cluster.authorized(presented) {
        return Err(refused());
    }
    let timeout = Duration::from_secs(state.config.server.body_read_timeout_secs);
    let (body, _inflight) =
        super::body::collect(headers, incoming, MAX_PEER_REQUEST_BYTES, timeout, &state.inflight).await?;
    let request: PeerRequest =
        serde_json::from_slice(&body).map_err(|e| ApiError::param(format!("not a peer read request: {e}")))?;
    let reply = super::sls::blocking(move || Ok(log.serve_peer(request))).await?;
    let value = serde_json::to_value(&reply).map_err(ApiError::internal)?;
    Ok(response::json(request_id, &value))
}
