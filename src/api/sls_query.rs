//! SLS GetLogs (v2 `POST /logstores/{ls}/logs` with a JSON body, v1 `GET /logstores/{ls}?type=log`)
//! and GetHistograms (`?type=histogram`) over [`crate::query`], sls.md §9.4: request parsing, the
//! search syntax of [`crate::query::sls`], and the rows both SDKs decode (every value a string).
//! Free of HTTP types; blocking.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::query::{self, sls::Expr, Match};
use crate::store::ShardLog;
use crate::wire::pb::{Log, LogGroup};

/// Most rows one GetLogs call returns (`line`), as SLS documents.
pub const MAX_LINES: usize = 100;
/// Buckets of a GetHistograms answer.
const HISTOGRAM_BUCKETS: u64 = 60;
const NANOS: u64 = 1_000_000_000;

/// A parsed GetLogs / GetHistograms request.
#[derive(Debug)]
pub struct GetLogs {
    pub start_ns: u64,
    /// Inclusive (SLS's `to` is exclusive; this is `to` minus one nanosecond).
    pub end_ns: u64,
    pub topic: Option<String>,
    pub query: String,
    pub expr: Expr,
    pub line: usize,
    pub offset: usize,
    pub reverse: bool,
}

fn number(v: Option<&Value>, name: &str, default: u64) -> ApiResult<u64> {
    match v {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| ApiError::param(format!("{name} must be a whole number"))),
        Some(Value::String(s)) => {
            s.trim().parse().map_err(|_| ApiError::param(format!("{name} must be a whole number")))
        }
        Some(_) => Err(ApiError::param(format!("{name} must be a whole number"))),
    }
}

fn flag(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// The members of a GetLogs request as sent, before checking.
struct Params {
    from: u64,
    to: u64,
    from_ns: u64,
    to_ns: u64,
    topic: Option<String>,
    query: String,
    line: u64,
    offset: u64,
    reverse: bool,
}

fn build(p: Params) -> ApiResult<GetLogs> {
    let Params { from, to, from_ns, to_ns, topic, query, line, offset, reverse } = p;
    let start_ns = from.checked_mul(NANOS).and_then(|s| s.checked_add(from_ns.min(NANOS - 1)));
    let end_ns = to.checked_mul(NANOS).and_then(|e| e.checked_add(to_ns.min(NANOS - 1)));
    let (Some(start_ns), Some(end_ns)) = (start_ns, end_ns) else {
        return Err(ApiError::param("from/to is out of range"));
    };
    if start_ns >= end_ns {
        return Err(ApiError::param(format!("from {from} must be before to {to}")));
    }
    if line as usize > MAX_LINES {
        return Err(ApiError::param(format!("line must be between 0 and {MAX_LINES}")));
    }
    let expr = query::sls::parse(&query)?;
    Ok(GetLogs {
        start_ns,
        end_ns: end_ns - 1,
        topic: topic.filter(|t| !t.is_empty()),
        query,
        expr,
        line: line as usize,
        offset: usize::try_from(offset).unwrap_or(usize::MAX),
        reverse,
    })
}

/// GetLogs v2's JSON body: `from`, `to` (unix seconds), `fromNs`, `toNs`, `topic`, `query`,
/// `line` (default 100), `offset`, `reverse`; SQL-only members (`powerSql`, `session`…) ignored.
pub fn parse_v2(body: &[u8]) -> ApiResult<GetLogs> {
    #[derive(Deserialize)]
    struct B {
        from: Option<Value>,
        to: Option<Value>,
        #[serde(rename = "fromNs")]
        from_ns: Option<Value>,
        #[serde(rename = "toNs")]
        to_ns: Option<Value>,
        topic: Option<String>,
        query: Option<String>,
        line: Option<Value>,
        offset: Option<Value>,
        reverse: Option<Value>,
    }
    let b: B = serde_json::from_slice(body).map_err(|e| ApiError::param(format!("invalid GetLogs JSON: {e}")))?;
    let from = number(b.from.as_ref(), "from", u64::MAX).and_then(|v| required(v, "from"))?;
    let to = number(b.to.as_ref(), "to", u64::MAX).and_then(|v| required(v, "to"))?;
    build(Params {
        from,
        to,
        from_ns: number(b.from_ns.as_ref(), "fromNs", 0)?,
        to_ns: number(b.to_ns.as_ref(), "toNs", 0)?,
        topic: b.topic,
        query: b.query.unwrap_or_default(),
        line: number(b.line.as_ref(), "line", MAX_LINES as u64)?,
        offset: number(b.offset.as_ref(), "offset", 0)?,
        reverse: flag(b.reverse.as_ref()),
    })
}

fn required(v: u64, name: &str) -> ApiResult<u64> {
    if v == u64::MAX {
        Err(ApiError::param(format!("{name} is required")))
    } else {
        Ok(v)
    }
}

/// GetLogs v1 and GetHistograms: the same members as query parameters (`get` looks one up).
pub fn parse_v1<'a>(get: impl Fn(&str) -> Option<&'a str>) -> ApiResult<GetLogs> {
    let text = |k: &str| get(k).map(|v| Value::String(v.to_string()));
    let from = number(text("from").as_ref(), "from", u64::MAX).and_then(|v| required(v, "from"))?;
    let to = number(text("to").as_ref(), "to", u64::MAX).and_then(|v| required(v, "to"))?;
    build(Params {
        from,
        to,
        from_ns: 0,
        to_ns: 0,
        topic: get("topic").map(str::to_string),
        query: get("query").unwrap_or_default().to_string(),
        line: number(text("line").as_ref(), "line", MAX_LINES as u64)?,
        offset: number(text("offset").as_ref(), "offset", 0)?,
        reverse: get("reverse").is_some_and(|r| r.eq_ignore_ascii_case("true")),
    })
}

fn search(log: &dyn ShardLog, stream: Uuid, req: &GetLogs, max_logs: usize) -> ApiResult<Vec<Match>> {
    let matcher = |g: &LogGroup, _labels: &[(String, String)], l: &Log| {
        req.topic.as_deref().is_none_or(|t| g.topic.as_deref() == Some(t)) && req.expr.matches(g, l)
    };
    query::search(log, stream, req.start_ns, req.end_ns, &matcher, max_logs)
}

/// A log as GetLogs returns it: a flat map of strings with `__time__`, `__source__`,
/// `__topic__`, `__tag__:<key>` for each tag, then the contents.
fn row(group: &LogGroup, log: &Log) -> Map<String, Value> {
    let mut row = Map::new();
    row.insert("__time__".into(), Value::String(log.time.to_string()));
    row.insert("__source__".into(), Value::String(group.source.clone().unwrap_or_default()));
    row.insert("__topic__".into(), Value::String(group.topic.clone().unwrap_or_default()));
    for tag in &group.log_tags {
        row.insert(format!("__tag__:{}", tag.key), Value::String(tag.value.clone()));
    }
    for c in &log.contents {
        row.insert(c.key.clone(), Value::String(c.value.clone()));
    }
    row
}

/// What a GetLogs call answers: the rows (oldest first, or newest first with `reverse`, after
/// `offset`, at most `line`), and the number of matching logs.
pub struct LogsAnswer {
    pub rows: Vec<Map<String, Value>>,
    pub matched: usize,
    pub elapsed_ms: u64,
}

pub fn get_logs(log: &dyn ShardLog, stream: Uuid, req: &GetLogs, max_logs: usize) -> ApiResult<LogsAnswer> {
    let began = std::time::Instant::now();
    let matches = search(log, stream, req, max_logs)?;
    let ordered: Box<dyn Iterator<Item = &Match>> =
        if req.reverse { Box::new(matches.iter().rev()) } else { Box::new(matches.iter()) };
    let page: Vec<Match> = ordered.skip(req.offset).take(req.line).copied().collect();
    let groups = query::fetch(log, stream, &page)?;
    let rows = page
        .iter()
        .filter_map(|m| {
            let group = groups.get(&(m.pos.shard, m.pos.seq))?;
            Some(row(group, group.logs.get(m.pos.index as usize)?))
        })
        .collect();
    Ok(LogsAnswer { rows, matched: matches.len(), elapsed_ms: began.elapsed().as_millis() as u64 })
}

/// GetLogs v2's `meta` object (sls.md §9.4, including the SDKs' `telementryType` spelling).
pub fn meta(req: &GetLogs, answer: &LogsAnswer) -> Value {
    let keys: BTreeSet<&str> =
        answer.rows.iter().flat_map(|r| r.keys()).map(String::as_str).filter(|k| !k.starts_with("__")).collect();
    json!({
        "progress": "Complete", "count": answer.rows.len(), "processedRows": answer.matched,
        "elapsedMillisecond": answer.elapsed_ms, "hasSQL": false, "whereQuery": req.query, "aggQuery": "",
        "cpuSec": 0, "cpuCores": 0, "keys": keys, "limited": 0, "processedBytes": 0,
        "telementryType": "", "powerSql": false, "insertedSQL": "",
    })
}

/// GetHistograms: matching logs counted in up to 60 equal buckets of whole seconds covering
/// `[from, to)`.
pub fn histograms(log: &dyn ShardLog, stream: Uuid, req: &GetLogs, max_logs: usize) -> ApiResult<(Vec<Value>, usize)> {
    let matches = search(log, stream, req, max_logs)?;
    let (from, to) = (req.start_ns / NANOS, req.end_ns / NANOS + 1);
    let width = (to - from).div_ceil(HISTOGRAM_BUCKETS).max(1);
    let mut counts = vec![0usize; (to - from).div_ceil(width) as usize];
    for m in &matches {
        let bucket = ((m.time_ns / NANOS).saturating_sub(from) / width) as usize;
        if let Some(c) = counts.get_mut(bucket) {
            *c += 1;
        }
    }
    let buckets = counts
        .iter()
        .enumerate()
        .map(|(i, &count)| {
            let start = from + i as u64 * width;
            json!({"from": start, "to": (start + width).min(to), "count": count, "progress": "Complete"})
        })
        .collect();
    Ok((buckets, matches.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn v2_body_as_the_python_sdk_sends_it() {
        let q = parse_v2(br#"{"from":1700000000,"to":1700000900,"line":10,"offset":0,"powerSql":false,"accurate":true,"fromNs":0,"toNs":0,"query":"error and method:GET","reverse":false,"forward":true,"topic":""}"#).unwrap();
        assert_eq!((q.start_ns, q.end_ns), (1_700_000_000 * NANOS, 1_700_000_900 * NANOS - 1));
        assert_eq!((q.line, q.offset, q.reverse, q.topic.as_deref()), (10, 0, false, None));
        let q = parse_v2(br#"{"from":"1700000000","to":"1700000001","reverse":"true"}"#).unwrap();
        assert_eq!((q.line, q.reverse, q.expr.clone()), (100, true, Expr::All));
    }

    #[test]
    fn v1_parameters_and_errors() {
        let params = [("from", "10"), ("to", "20"), ("query", "a OR b"), ("line", "5"), ("reverse", "true")];
        let get = |k: &str| params.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
        let q = parse_v1(get).unwrap();
        assert_eq!((q.start_ns, q.line, q.reverse), (10 * NANOS, 5, true));
        let code = |body: &str| parse_v2(body.as_bytes()).unwrap_err().code;
        assert_eq!(code(r#"{"to":1}"#), ErrorCode::ParameterInvalid);
        assert_eq!(code(r#"{"from":5,"to":5}"#), ErrorCode::ParameterInvalid);
        assert_eq!(code(r#"{"from":1,"to":5,"line":101}"#), ErrorCode::ParameterInvalid);
        assert_eq!(code(r#"{"from":1,"to":5,"query":"* | select count(*)"}"#), ErrorCode::ParameterInvalid);
    }
}
