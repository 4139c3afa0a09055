//! Collects request bodies with a cap: a declared `Content-Length` over the cap is refused before
//! a byte is read, and a streamed body is cut off at the cap and within a deadline. Every request
//! holds room in the daemon-wide in-flight budget (`server.max_inflight_bytes`) until its answer:
//! the body bytes as they arrive, then, once the body is complete, the larger of the body and its
//! declared raw size (`x-log-bodyrawsize`), because the raw bytes are the work still to do. So the
//! budget bounds both memory and the backlog (the wait) behind which a new request would queue,
//! and a request that does not fit is refused at once with a retryable 503, which is how overload
//! shows. Only bytes that arrived are counted while a body is read, so slow or stalled senders
//! hold no more of the budget than they sent.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::BodyExt;
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
pub struct Reservation(OwnedSemaphorePermit);

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

    /// Grows `held` to cover `bytes` (it never shrinks), or refuses at once with `ServerBusy`;
    /// on refusal `held` is unchanged.
    pub fn grow(&self, held: &mut Reservation, bytes: usize) -> ApiResult<()> {
        let want = bytes.div_ceil(1024).max(1);
        let more = want.saturating_sub(held.0.num_permits());
        if more > 0 {
            held.0.merge(self.reserve(more * 1024)?.0);
        }
        Ok(())
    }

    /// Bytes not reserved now.
    pub fn available_bytes(&self) -> usize {
        self.kib.available_permits() * 1024
    }
}

/// Reads the whole body, at most `max` bytes, within `timeout`, growing a reservation in
/// `budget` as bytes arrive and, once the body is complete, to its declared raw size (at most
/// `max`). The reservation must be held until the request is answered.
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
    let mut reservation = budget.reserve(0)?;
    let bytes = match tokio::time::timeout(timeout, read_reserving(body, max, budget, &mut reservation)).await {
        Err(_) => return Err(ApiError::param("timed out reading the request body")),
        Ok(read) => read?,
    };
    let raw = headers
        .get("x-log-bodyrawsize")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    // A declared raw size above the cap is refused later; it never reserves more than the cap.
    budget.grow(&mut reservation, raw.min(max))?;
    Ok((bytes, reservation))
}

/// The body's frames, the reservation growing with each before it is kept. A body of one frame
/// is kept as it arrived; more frames are joined in one buffer (sized once when the length is
/// known).
async fn read_reserving(
    mut body: Incoming,
    max: usize,
    budget: &InflightBudget,
    reservation: &mut Reservation,
) -> ApiResult<Bytes> {
    let exact = hyper::body::Body::size_hint(&body).exact().map(|n| n.min(max as u64) as usize);
    let (mut first, mut joined, mut len) = (None::<Bytes>, bytes::BytesMut::new(), 0usize);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::param(format!("cannot read the request body: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        if len + data.len() > max {
            return Err(too_large(max));
        }
        len += data.len();
        budget.grow(reservation, len)?;
        match first.take() {
            None if joined.is_empty() => first = Some(data),
            None => joined.extend_from_slice(&data),
            Some(head) => {
                joined.reserve(exact.unwrap_or(len).max(len));
                joined.extend_from_slice(&head);
                joined.extend_from_slice(&data);
            }
        }
    }
    Ok(first.unwrap_or_else(|| joined.freeze()))
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

    #[test]
    fn a_reservation_grows_by_what_is_missing_and_refusal_keeps_it() {
        let budget = InflightBudget::new(10 * 1024);
        let mut held = budget.reserve(0).unwrap();
        assert_eq!(budget.available_bytes(), 9 * 1024);
        budget.grow(&mut held, 3000).unwrap();
        budget.grow(&mut held, 2000).unwrap();
        assert_eq!(budget.available_bytes(), 7 * 1024, "3 KiB held; a smaller size never shrinks it");
        assert_eq!(budget.grow(&mut held, 11 * 1024).unwrap_err().code, ErrorCode::ServerBusy);
        assert_eq!(budget.available_bytes(), 7 * 1024, "a refused growth keeps what was held");
        budget.grow(&mut held, 10 * 1024).unwrap();
        assert_eq!(budget.available_bytes(), 0);
        drop(held);
        assert_eq!(budget.available_bytes(), 10 * 1024);
    }
}
