//! SLS web tracking over HTTP (sls.md §7): GET beacons turned into a LogGroup, the 1×1 GIF the
//! `.gif` forms answer with, and CORS preflight answers for browsers. The POST form's JSON body
//! goes through `wire::json` inside the shared write path.

use http::header::{
    HeaderValue, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, CONTENT_TYPE,
};
use http::{HeaderMap, Response};
use prost::Message;

use super::response::{self, Body};
use super::router::{Query, TrackKind};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::wire::pb::{log::Content, Log, LogGroup};

/// Largest GET beacon query, as SLS documents (16 KB).
pub const MAX_BEACON_QUERY: usize = 16 * 1024;

/// A transparent 1×1 GIF89a, the answer to `track.gif` and `track_ua.gif`.
pub const PIXEL_GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff\x21\xf9\x04\x01\x00\x00\x00\x00\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b";

/// Fields `track_ua.gif` adds (SLS does not document their names; these are the common ones).
pub const USER_AGENT_FIELD: &str = "__userAgent__";
pub const REFERER_FIELD: &str = "__referer__";

/// One log from a GET beacon: every query parameter but `APIVersion` becomes a field,
/// `__topic__` and `__source__` set the group's topic and source, the time is `now`.
pub fn beacon_log_group(
    raw_query_len: usize,
    query: &Query,
    headers: &HeaderMap,
    kind: TrackKind,
    now: u32,
) -> ApiResult<Vec<u8>> {
    if raw_query_len > MAX_BEACON_QUERY {
        return Err(ApiError::new(
            ErrorCode::PostBodyTooLarge,
            format!("a web-tracking GET carries at most {MAX_BEACON_QUERY} bytes"),
        ));
    }
    let mut group = LogGroup::default();
    let mut contents = Vec::new();
    for (k, v) in &query.0 {
        match k.as_str() {
            "APIVersion" => {}
            "__topic__" => group.topic = Some(v.clone()),
            "__source__" => group.source = Some(v.clone()),
            _ => contents.push(Content { key: k.clone(), value: v.clone() }),
        }
    }
    if kind == TrackKind::GifWithUserAgent {
        for (field, header) in [(USER_AGENT_FIELD, http::header::USER_AGENT), (REFERER_FIELD, http::header::REFERER)] {
            let value = headers.get(header).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            contents.push(Content { key: field.to_string(), value: value.unwrap_or_default() });
        }
    }
    group.logs.push(Log { time: now, contents, time_ns: None });
    Ok(group.encode_to_vec())
}

/// The answer to a successful web-tracking write.
pub fn accepted(request_id: &str, kind: TrackKind) -> Response<Body> {
    match kind {
        TrackKind::Gif | TrackKind::GifWithUserAgent => {
            let mut r = response::binary(request_id, "image/gif", PIXEL_GIF.to_vec(), &[]);
            r.headers_mut().insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        TrackKind::Post | TrackKind::Get => response::empty(request_id),
    }
}

/// Headers a browser may send cross-origin (the STS plugin's signed write among them).
const ALLOWED_HEADERS: &str = "authorization, content-type, content-md5, x-log-apiversion, x-log-bodyrawsize, \
     x-log-signaturemethod, x-log-date, x-log-compresstype, x-acs-security-token";

/// The answer to a CORS preflight (`OPTIONS`) on any path.
pub fn preflight(headers: &HeaderMap, request_id: &str) -> Response<Body> {
    let mut r = response::empty(request_id);
    let h = r.headers_mut();
    h.insert(ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, PUT, DELETE, OPTIONS"));
    let asked = headers.get(ACCESS_CONTROL_REQUEST_HEADERS).cloned();
    h.insert(ACCESS_CONTROL_ALLOW_HEADERS, asked.unwrap_or(HeaderValue::from_static(ALLOWED_HEADERS)));
    h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    h.remove(CONTENT_TYPE);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beacon_becomes_one_log() {
        let q = Query::parse(Some("APIVersion=0.6.0&page=%2Fhome&__topic__=web&n=1"));
        let mut h = HeaderMap::new();
        h.insert(http::header::USER_AGENT, "Mozilla/5.0".parse().unwrap());
        let g = LogGroup::decode(
            beacon_log_group(60, &q, &h, TrackKind::GifWithUserAgent, 1_800_000_000).unwrap().as_slice(),
        )
        .unwrap();
        assert_eq!(g.topic.as_deref(), Some("web"));
        let kv: Vec<(&str, &str)> = g.logs[0].contents.iter().map(|c| (c.key.as_str(), c.value.as_str())).collect();
        assert_eq!(kv, vec![("page", "/home"), ("n", "1"), ("__userAgent__", "Mozilla/5.0"), ("__referer__", "")]);
        assert_eq!(g.logs[0].time, 1_800_000_000);
        let plain = LogGroup::decode(beacon_log_group(60, &q, &h, TrackKind::Get, 1).unwrap().as_slice()).unwrap();
        assert_eq!(plain.logs[0].contents.len(), 2);
        assert_eq!(
            beacon_log_group(16 * 1024 + 1, &q, &h, TrackKind::Get, 1).unwrap_err().code,
            ErrorCode::PostBodyTooLarge
        );
    }

    #[test]
    fn pixel_is_a_gif() {
        assert!(PIXEL_GIF.starts_with(b"GIF89a"));
        assert_eq!(PIXEL_GIF.len(), 43);
        assert_eq!(PIXEL_GIF.last(), Some(&b';'));
    }
}
