//! Collects request bodies with a cap: a declared `Content-Length` over the cap is refused before
//! a byte is read, and a streamed body is cut off at the cap and within a deadline.

use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::error::{ApiError, ApiResult, ErrorCode};

/// Largest body accepted by management calls (SLS and LTS).
pub const MANAGEMENT_BODY_LIMIT: usize = 1024 * 1024;

fn too_large(max: usize) -> ApiError {
    ApiError::new(ErrorCode::PostBodyTooLarge, format!("the request body is larger than {max} bytes"))
}

/// Reads the whole body, at most `max` bytes, within `timeout`.
pub async fn collect(headers: &HeaderMap, body: Incoming, max: usize, timeout: Duration) -> ApiResult<Bytes> {
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
    let limited = Limited::new(body, max);
    match tokio::time::timeout(timeout, limited.collect()).await {
        Err(_) => Err(ApiError::param("timed out reading the request body")),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(max)),
        Ok(Err(e)) => Err(ApiError::param(format!("cannot read the request body: {e}"))),
    }
}
