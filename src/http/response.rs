//! Renders results and errors as HTTP responses, with the headers every response carries
//! (`x-log-requestid` for SLS clients, `X-Request-Id` for LTS clients, `x-log-time`, CORS). The
//! only place an [`ApiError`] becomes a status and a body, in the dialect of the API called.

use bytes::Bytes;
use http::header::{HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_TYPE, RETRY_AFTER, SERVER};
use http::{Response, StatusCode};
use http_body_util::Full;

use crate::error::{ApiError, Dialect, ErrorCode};

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
        h.insert("x-log-requestid", v.clone());
        h.insert("x-request-id", v);
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
    json_with_status(StatusCode::OK, request_id, value)
}

/// A JSON body with the given status (LTS answers creations with 201).
pub fn json_with_status(status: StatusCode, request_id: &str, value: &serde_json::Value) -> Response<Body> {
    let mut r = base(status, request_id, Bytes::from(value.to_string()));
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

/// The error in the dialect's body shape with the status from the error table; `Retry-After`
/// when the client should retry. SLS: `{"errorCode","errorMessage"}`; LTS management:
/// `{"error_code","error_msg"}`; LTS report: `{"errorCode","error_msg","result":null}`.
pub fn error(dialect: Dialect, request_id: &str, e: &ApiError) -> Response<Body> {
    let body = match dialect {
        Dialect::Sls => serde_json::json!({ "errorCode": e.code.sls_name(), "errorMessage": e.message }),
        Dialect::Lts => serde_json::json!({ "error_code": e.code.lts_name(), "error_msg": e.message }),
        Dialect::LtsReport => {
            serde_json::json!({ "errorCode": e.code.report_name(), "error_msg": e.message, "result": null })
        }
    };
    let mut r = base(e.code.status_in(dialect), request_id, Bytes::from(body.to_string()));
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if e.code.retryable() {
        r.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

/// The whole HTTP/1.1 answer to a connection over `server.max_connections`, written before any
/// request is read (so in the SLS dialect, which every door's clients parse as an error): 503
/// `ServerBusy`, `Retry-After: 1`, and `Connection: close`.
pub fn connection_refusal() -> Vec<u8> {
    let e = ApiError::new(ErrorCode::ServerBusy, "too many connections; please try again later");
    let body = serde_json::json!({ "errorCode": e.code.sls_name(), "errorMessage": e.message }).to_string();
    let status = e.code.status();
    format!(
        "HTTP/1.1 {} {}\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         x-log-requestid: {}\r\nConnection: close\r\n\r\n{body}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len(),
        new_request_id(),
    )
    .into_bytes()
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
        let r = error(Dialect::Sls, "ID", &ApiError::new(ErrorCode::ServerBusy, "busy"));
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[RETRY_AFTER], "1");
        assert_eq!(r.headers()["x-log-requestid"], "ID");
        let r = error(Dialect::Sls, "ID", &ApiError::new(ErrorCode::InvalidKey, "bad"));
        assert!(r.headers().get(RETRY_AFTER).is_none());
    }

    fn body_of(r: Response<Body>) -> serde_json::Value {
        use http_body_util::BodyExt;
        let bytes = block_on_ready(r.into_body().collect()).unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    /// `Full` bodies are ready at once; poll the collect future to completion without a runtime.
    fn block_on_ready<F: std::future::Future>(f: F) -> F::Output {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn each_dialect_has_its_body_shape_and_request_id_header() {
        let e = ApiError::new(ErrorCode::LogStoreNotExist, "no such stream");
        let r = error(Dialect::Lts, "RID", &e);
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.headers()["x-request-id"], "RID");
        assert_eq!(body_of(r), serde_json::json!({"error_code": "LTS.0208", "error_msg": "no such stream"}));
        let r = error(Dialect::LtsReport, "RID", &ApiError::new(ErrorCode::InvalidEncoding, "not utf-8"));
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            body_of(r),
            serde_json::json!({"errorCode": "SVCSTG.ALS.200.201", "error_msg": "not utf-8", "result": null})
        );
        let r = error(Dialect::Sls, "RID", &e);
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(body_of(r), serde_json::json!({"errorCode": "LogStoreNotExist", "errorMessage": "no such stream"}));
    }
}
