//! The LTS ListLogs call (`…/content/query`, lts.md §3.4, §7) over [`crate::query`]: the request
//! body, parsed leniently as the SDK and the documents send it (times, `limit` and booleans as
//! numbers, booleans or strings), its checks, and the answer. Free of HTTP types; blocking.

use serde::Deserialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::query::{self, Filter, Keywords, SearchType};
use crate::store::ShardLog;

/// Longest query window (the HWDOC value; OTC documents 180 days).
pub const MAX_WINDOW_MS: u64 = 30 * 24 * 3600 * 1000;
pub const MAX_LIMIT: usize = 5000;
const DEFAULT_LIMIT: usize = 50;

/// A parsed and checked ListLogs request.
#[derive(Debug)]
pub struct LogQuery {
    pub start_ns: u64,
    pub end_ns: u64,
    pub filter: Filter,
    pub limit: usize,
    pub is_count: bool,
    pub anchor: Option<u64>,
    pub search: SearchType,
    pub desc: bool,
    pub highlight: bool,
}

#[derive(Deserialize)]
struct Body {
    start_time: Option<Value>,
    end_time: Option<Value>,
    #[serde(default)]
    labels: Map<String, Value>,
    keywords: Option<String>,
    is_count: Option<Value>,
    line_num: Option<Value>,
    is_desc: Option<Value>,
    search_type: Option<String>,
    limit: Option<Value>,
    highlight: Option<Value>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::param(format!("Failed to validate the request body: {}", message.into()))
}

fn number(v: Option<&Value>, name: &str) -> ApiResult<Option<u64>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| invalid(format!("{name} must be a whole number"))),
        Some(Value::String(s)) => {
            s.trim().parse().map(Some).map_err(|_| invalid(format!("{name} must be a whole number, not {s:?}")))
        }
        Some(_) => Err(invalid(format!("{name} must be a whole number"))),
    }
}

fn flag(v: Option<&Value>, name: &str, default: bool) -> ApiResult<bool> {
    match v {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(invalid(format!("{name} must be true or false"))),
    }
}

/// Parses and checks a ListLogs body: `start_time` < `end_time` (ms), at most 30 days apart;
/// `limit` 1–5000 (`LTS.1903`); keywords (`LTS.0301`); `line_num` inside the window (`LTS.0701`).
pub fn parse_log_query(body: &[u8]) -> ApiResult<LogQuery> {
    let b: Body = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
    let start = number(b.start_time.as_ref(), "start_time")?.ok_or_else(|| invalid("start_time is required"))?;
    let end = number(b.end_time.as_ref(), "end_time")?.ok_or_else(|| invalid("end_time is required"))?;
    if start >= end {
        return Err(invalid(format!("start_time {start} must be before end_time {end}")));
    }
    if end - start > MAX_WINDOW_MS {
        return Err(invalid("the time window must not exceed 30 days"));
    }
    let (start_ns, end_ns) = (ms_to_ns(start)?, ms_to_ns(end)?.saturating_add(999_999));
    let limit = match number(b.limit.as_ref(), "limit") {
        Ok(None) => DEFAULT_LIMIT,
        Ok(Some(n)) if (1..=MAX_LIMIT as u64).contains(&n) => n as usize,
        _ => return Err(ApiError::new(ErrorCode::InvalidLimit, format!("limit must be between 1 and {MAX_LIMIT}"))),
    };
    let mut labels = Vec::with_capacity(b.labels.len());
    for (k, v) in b.labels {
        match v {
            Value::String(v) => labels.push((k, v)),
            other => return Err(invalid(format!("label {k:?} must be a string, not {other}"))),
        }
    }
    let keywords = match b.keywords.as_deref() {
        Some(text) => Keywords::parse(text)?,
        None => None,
    };
    let anchor = number(b.line_num.as_ref(), "line_num")?;
    if let Some(a) = anchor {
        if a < start_ns || a > end_ns {
            return Err(ApiError::new(
                ErrorCode::LineNumOutOfRange,
                format!("line_num {a} is outside the time window [{start}, {end}]"),
            ));
        }
    }
    let search = match b.search_type.as_deref().map(str::trim) {
        Some("init") => SearchType::Init,
        Some("forwards") => SearchType::Forwards,
        Some("backwards") => SearchType::Backwards,
        // With an anchor and no direction, a pager asks for the next page (Terraform's does).
        None | Some("") => SearchType::Forwards,
        Some(other) => return Err(invalid(format!("search_type {other:?} must be init, forwards or backwards"))),
    };
    Ok(LogQuery {
        start_ns,
        end_ns,
        filter: Filter { labels, keywords },
        limit,
        is_count: flag(b.is_count.as_ref(), "is_count", false)?,
        anchor,
        search,
        desc: flag(b.is_desc.as_ref(), "is_desc", false)?,
        highlight: flag(b.highlight.as_ref(), "highlight", true)?,
    })
}

fn ms_to_ns(ms: u64) -> ApiResult<u64> {
    ms.checked_mul(1_000_000).ok_or_else(|| invalid(format!("time {ms} is out of range")))
}

/// Runs the query and builds the answer: `{count, logs: [{content, line_num, labels}],
/// isQueryComplete}`. `count` is the number of matching logs when `is_count` is set, else the
/// number of logs returned.
pub fn list_logs(log: &dyn ShardLog, stream: Uuid, q: &LogQuery, max_logs: usize) -> ApiResult<Value> {
    let filter = |g: &_, labels: &[(String, String)], l: &_| q.filter.matches(g, labels, l);
    let matches = query::search(log, stream, q.start_ns, q.end_ns, &filter, max_logs)?;
    let line_nums: Vec<u64> = matches.iter().map(|m| m.line_num).collect();
    let page: Vec<query::Match> =
        query::page(&line_nums, q.anchor, q.search, q.desc, q.limit).into_iter().map(|i| matches[i]).collect();
    let highlight = if q.highlight { q.filter.keywords.as_ref() } else { None };
    let hits = query::render(log, stream, &page, highlight)?;
    let logs: Vec<Value> = hits
        .into_iter()
        .map(|h| {
            let labels: Map<String, Value> = h.labels.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            json!({"content": h.content, "line_num": h.line_num.to_string(), "labels": labels})
        })
        .collect();
    let count = if q.is_count { matches.len() } else { logs.len() };
    Ok(json!({"count": count, "logs": logs, "isQueryComplete": true}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: &str) -> ErrorCode {
        parse_log_query(body.as_bytes()).unwrap_err().code
    }

    #[test]
    fn the_sdk_body_and_the_documents_lenient_one() {
        let q = parse_log_query(
            br#"{"start_time": "1700000000000", "end_time": "1700000600000", "labels": {"hostName": "h"}, "is_count": true, "keywords": "error", "is_desc": false, "search_type": "init", "limit": 10, "highlight": true}"#,
        )
        .unwrap();
        assert_eq!((q.start_ns, q.end_ns), (1_700_000_000_000_000_000, 1_700_000_600_000_999_999));
        assert_eq!((q.limit, q.is_count, q.desc, q.search, q.highlight), (10, true, false, SearchType::Init, true));
        assert_eq!(q.filter.labels, vec![("hostName".to_string(), "h".to_string())]);
        assert!(q.filter.keywords.is_some());
        let q = parse_log_query(
            br#"{"start_time":1700000000000,"end_time":1700000600000,"limit":"3","is_desc":"true","line_num":"1700000000000000005","search_type":"backwards"}"#,
        )
        .unwrap();
        assert_eq!(
            (q.limit, q.desc, q.anchor, q.search),
            (3, true, Some(1_700_000_000_000_000_005), SearchType::Backwards)
        );
        assert_eq!(parse_log_query(br#"{"start_time":1,"end_time":2}"#).unwrap().limit, 50);
    }

    #[test]
    fn each_check_has_its_code() {
        assert_eq!(code(r#"{"end_time":2}"#), ErrorCode::ParameterInvalid);
        assert_eq!(code(r#"{"start_time":2,"end_time":2}"#), ErrorCode::ParameterInvalid);
        assert_eq!(code(r#"{"start_time":0,"end_time":2592000001}"#), ErrorCode::ParameterInvalid);
        assert_eq!(code(r#"{"start_time":1,"end_time":2,"limit":0}"#), ErrorCode::InvalidLimit);
        assert_eq!(code(r#"{"start_time":1,"end_time":2,"limit":5001}"#), ErrorCode::InvalidLimit);
        assert_eq!(code(r#"{"start_time":1,"end_time":2,"keywords":"*rror"}"#), ErrorCode::InvalidKeyword);
        assert_eq!(code(r#"{"start_time":1000,"end_time":2000,"line_num":"5"}"#), ErrorCode::LineNumOutOfRange);
        assert_eq!(code(r#"{"start_time":1,"end_time":2,"search_type":"sideways"}"#), ErrorCode::ParameterInvalid);
        assert_eq!(code(r#"{"start_time":1,"end_time":2,"labels":{"a":1}}"#), ErrorCode::ParameterInvalid);
        assert_eq!(code("nope"), ErrorCode::ParameterInvalid);
    }
}
