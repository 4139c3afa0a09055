//! Collects request bodies with a cap: a declared `Content-Length` over the cap is refused before
//! a byte is read, and a streamed body is cut off at the cap and within a deadline. Every request
//! first reserves its size in the daemon-wide in-flight budget (`server.max_inflight_bytes`) and
//! holds it until the answer. The size counted is the larger of the body and its declared raw
//! size (`x-log-bodyrawsize`), because the raw bytes are the work still to do: the budget bounds
//! both memory and the backlog (so the wait) behind which a new request would queue. A request
//! that does not fit is refused at once with a retryable 503, which is how overload shows.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{ApiError, ApiResult, ErrorCode};

/// Largest body accepted by management calls (SLS and LTS).
pub const MANAGEMENT_BODY_LIMIT: usize = 1024 * 1024;

fn too_large(max: usize) -> ApiError {
    ApiError::new(ErrorCode::PostBodyTooLarge, format!("the request body is larger than {max} bytes"))
}

/// The bytes of requests that may be in hand at once, counted in KiB.
pub struct InflightBudget {
    kib: Arc<Semaphore>,
}

/// Room held in the [`InflightBudget`] until dropped (when the answer is ready).
#[must_use]
pub struct Reservation(#[allow(dead_code)] OwnedSemaphorePermit);

impl InflightBudget {
    pub fn new(bytes: usize) -> InflightBudget {
        InflightBudget { kib: Arc::new(Semaphore::new(bytes.div_ceil(1024).max(1))) }
    }

    /// Reserves room for `bytes`, or refuses at once with a retryable `ServerBusy`: a client
    /// that waited here would hold its connection and its body in the kernel instead.
    pub fn reserve(&self, bytes: usize) -> ApiResult<Reservation> {
        let kib = u32::try_from(bytes.div_ceil(1024).max(1)).unwrap_or(u32::MAX);
        match self.kib.clone().try_acquire_many_owned(kib) {
            Ok(permit) => Ok(Reservation(permit)),
            Err(_) => Err(ApiError::new(
                ErrorCode::ServerBusy,
                "too many request bytes are in flight; please try again later",
            )),
        }
    }

    /// Bytes not reserved now.
    pub fn available_bytes(&self) -> usize {
        self.kib.available_permits() * 1024
    }
}

/// Reads the whole body, at most `max` bytes, within `timeout`, after reserving its size in
/// `budget`: the larger of the body (its `Content-Length`, nothing without a body, else `max`)
/// and its declared raw size (at most `max`). The reservation must be held until the
/// request is answered.
pub async fn collect(
    headers: &HeaderMap,
    body: Incoming,
    max: usize,
    timeout: Duration,
    budget: &InflightBudget,
) -> ApiResult<(Bytes, Reservation)> {
    if let Some(len) = headers.get(http::header::CONTENT_LENGTH) {
        let len: u64 = len
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| ApiError::param("Content-Length is not a number"))?;
        if len > max as u64 {
            return Err(too_large(max));
        }
    }
    // Exact for a Content-Length and for no body at all; a chunked body may grow to `max`.
    let hint = hyper::body::Body::size_hint(&body);
    let wire = hint.exact().map_or(max, |n| n.min(max as u64) as usize);
    let raw = headers
        .get("x-log-bodyrawsize")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    // A declared raw size above the cap is refused later; it never reserves more than the cap.
    let expected = wire.max(raw.min(max));
    let reservation = budget.reserve(expected)?;
    let limited = Limited::new(body, max);
    match tokio::time::timeout(timeout, limited.collect()).await {
        Err(_) => Err(ApiError::param("timed out reading the request body")),
        Ok(Ok(collected)) => Ok((collected.to_bytes(), reservation)),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(max)),
        Ok(Err(e)) => Err(ApiError::param(format!("cannot read the request body: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_refuses_at_once_and_frees_on_drop() {
        let budget = InflightBudget::new(10 * 1024);
        let a = budget.reserve(6 * 1024).unwrap();
        let b = budget.reserve(4 * 1024 - 100).unwrap();
        assert_eq!(budget.available_bytes(), 0);
        let refused = budget.reserve(1).err().unwrap();
        assert_eq!(refused.code, ErrorCode::ServerBusy);
        drop(a);
        assert_eq!(budget.available_bytes(), 6 * 1024);
        let _c = budget.reserve(5000).unwrap();
        drop(b);
        assert!(budget.reserve(20 * 1024).is_err(), "more than the whole budget never fits");
    }
}
