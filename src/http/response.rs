//! Renders results and errors as HTTP responses in the SLS dialect, with the headers every SLS
//! response carries (`x-log-requestid`, `x-log-time`, CORS). The only place an [`ApiError`]
//! becomes a status and a body.

use bytes::Bytes;
use http::header::{HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_TYPE, RETRY_AFTER, SERVER};
use http::{Response, StatusCode};
use http_body_util::Full;

use crate::error::ApiError;

pub type Body = Full<Bytes>;

/// 24 upper-case hex digits, like real SLS request ids.
pub fn new_request_id() -> String {
    let n: u128 = rand::random();
    format!("{:024X}", n >> 32)
}

fn base(status: StatusCode, request_id: &str, body: Bytes) -> Response<Body> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-log-requestid", v);
    }
    h.insert("x-log-time", HeaderValue::from(crate::catalog::now_secs()));
    h.insert(SERVER, HeaderValue::from_static("logtide"));
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    r
}

/// 200 with an empty body.
pub fn empty(request_id: &str) -> Response<Body> {
    base(StatusCode::OK, request_id, Bytes::new())
}

/// 204 with no body.
pub fn no_content(request_id: &str) -> Response<Body> {
    base(StatusCode::NO_CONTENT, request_id, Bytes::new())
}

/// 200 with a JSON body.
pub fn json(request_id: &str, value: &serde_json::Value) -> Response<Body> {
    let mut r = base(StatusCode::OK, request_id, Bytes::from(value.to_string()));
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// 200 with a binary body and extra headers.
pub fn binary(
    request_id: &str,
    content_type: &'static str,
    body: Vec<u8>,
    headers: &[(&'static str, String)],
) -> Response<Body> {
    let mut r = base(StatusCode::OK, request_id, Bytes::from(body));
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            r.headers_mut().insert(*name, v);
        }
    }
    r
}

/// `{"errorCode","errorMessage"}` with the status from the error table; `Retry-After` when the
/// client should retry.
pub fn error(request_id: &str, e: &ApiError) -> Response<Body> {
    let body = serde_json::json!({ "errorCode": e.code.sls_name(), "errorMessage": e.message });
    let mut r = base(e.code.status(), request_id, Bytes::from(body.to_string()));
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if e.code.retryable() {
        r.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn request_ids_look_like_sls() {
        let id = new_request_id();
        assert_eq!(id.len(), 24);
        assert!(id.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)));
    }

    #[test]
    fn busy_errors_say_when_to_retry() {
        let r = error("ID", &ApiError::new(ErrorCode::ServerBusy, "busy"));
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[RETRY_AFTER], "1");
        assert_eq!(r.headers()["x-log-requestid"], "ID");
        let r = error("ID", &ApiError::new(ErrorCode::InvalidKey, "bad"));
        assert!(r.headers().get(RETRY_AFTER).is_none());
    }
}
