//! SLS JSON log bodies (web tracking and the JSON form of PutLogs, sls.md §2.5 and §7):
//! `{"__topic__", "__source__", "__logs__": [{k: v, …}], "__tags__": {k: v}}`, converted into a
//! serialized `LogGroup` so that the one in-place validator and the one storage format serve every
//! front door. Values that are not strings are kept as their JSON text.

use prost::Message;
use serde_json::{Map, Value};

use super::pb::{log::Content, Log, LogGroup, LogTag};
use crate::error::{ApiError, ApiResult, ErrorCode};

/// Where each log's time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTime {
    /// Web tracking: the server's receive time; any `__time__` in an entry is dropped.
    Receive { unix: u32 },
    /// JSON PutLogs (STS plugin, Java SDK): `__time__` and `__time_ns_part__` of each entry, the
    /// receive time when absent.
    FromEntries { receive_unix: u32 },
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::PostBodyInvalid, message)
}

/// The JSON text of a value, strings without quotes.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn time_field(v: &Value, what: &str) -> ApiResult<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| ApiError::new(ErrorCode::InvalidTimestamp, format!("{what} must be a non-negative integer")))
}

fn entry_to_log(entry: &Map<String, Value>, time: LogTime) -> ApiResult<Log> {
    let (mut secs, mut nanos) = match time {
        LogTime::Receive { unix } => (unix as u64, None),
        LogTime::FromEntries { receive_unix } => (receive_unix as u64, None),
    };
    let mut contents = Vec::with_capacity(entry.len());
    for (key, value) in entry {
        match (key.as_str(), time) {
            ("__time__", LogTime::FromEntries { .. }) => secs = time_field(value, "__time__")?,
            ("__time_ns_part__", LogTime::FromEntries { .. }) => nanos = Some(time_field(value, "__time_ns_part__")?),
            ("__time__" | "__time_ns_part__", LogTime::Receive { .. }) => {}
            _ => contents.push(Content { key: key.clone(), value: text(value) }),
        }
    }
    let time =
        u32::try_from(secs).map_err(|_| ApiError::new(ErrorCode::InvalidTimestamp, "__time__ is out of range"))?;
    let time_ns = nanos
        .map(|n| {
            u32::try_from(n).map_err(|_| ApiError::new(ErrorCode::InvalidTimestamp, "__time_ns_part__ is out of range"))
        })
        .transpose()?;
    Ok(Log { time, contents, time_ns })
}

/// Parses a JSON log body into a serialized `LogGroup`. Shape errors are `PostBodyInvalid`; the
/// caller validates the result like any protobuf body (keys, UTF-8, time window, counts).
pub fn json_to_log_group(body: &[u8], time: LogTime, max_logs: usize) -> ApiResult<Vec<u8>> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("the JSON body cannot be parsed: {e}")))?;
    let Value::Object(doc) = doc else {
        return Err(invalid("the JSON body must be an object"));
    };
    let logs = match doc.get("__logs__") {
        Some(Value::Array(logs)) => logs,
        Some(_) => return Err(invalid("__logs__ must be an array of objects")),
        None => return Err(invalid("__logs__ is missing")),
    };
    if logs.len() > max_logs {
        return Err(ApiError::new(ErrorCode::PostBodyTooLarge, format!("more than {max_logs} logs in one request")));
    }
    let mut group = LogGroup {
        topic: doc.get("__topic__").map(text),
        source: doc.get("__source__").map(text),
        ..Default::default()
    };
    for entry in logs {
        let Value::Object(entry) = entry else {
            return Err(invalid("every entry of __logs__ must be an object"));
        };
        group.logs.push(entry_to_log(entry, time)?);
    }
    match doc.get("__tags__") {
        None | Some(Value::Null) => {}
        Some(Value::Object(tags)) => {
            group.log_tags = tags.iter().map(|(k, v)| LogTag { key: k.clone(), value: text(v) }).collect();
        }
        Some(_) => return Err(invalid("__tags__ must be an object")),
    }
    Ok(group.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(raw: &[u8]) -> LogGroup {
        LogGroup::decode(raw).unwrap()
    }

    #[test]
    fn browser_sdk_payload_uses_the_receive_time_and_stringifies() {
        // The exact payload captured from @aliyun-sls/web-track-browser (sls.md §7.3), plus a
        // client __time__ that web tracking must overwrite and a number value.
        let body = br#"{"__logs__":[{"customer":"zhangsan","price":"7998","obj":"{\"a\":1}","n":12,"__time__":5}],"__tags__":{"env":"dev"},"__topic__":"tp","__source__":"src"}"#;
        let g = decode(&json_to_log_group(body, LogTime::Receive { unix: 1_800_000_000 }, 4096).unwrap());
        assert_eq!(g.topic.as_deref(), Some("tp"));
        assert_eq!(g.source.as_deref(), Some("src"));
        assert_eq!(g.log_tags, vec![LogTag { key: "env".into(), value: "dev".into() }]);
        assert_eq!(g.logs.len(), 1);
        assert_eq!(g.logs[0].time, 1_800_000_000);
        let kv: Vec<(&str, &str)> = g.logs[0].contents.iter().map(|c| (c.key.as_str(), c.value.as_str())).collect();
        // Fields keep the order of the body (serde_json's preserve_order).
        assert_eq!(kv, vec![("customer", "zhangsan"), ("price", "7998"), ("obj", "{\"a\":1}"), ("n", "12")]);
    }

    #[test]
    fn json_put_logs_keeps_entry_times() {
        let body = br#"{"__logs__":[{"__time__":1700000000,"__time_ns_part__":42,"k":"v"},{"k":"w"}]}"#;
        let g = decode(&json_to_log_group(body, LogTime::FromEntries { receive_unix: 1_800_000_000 }, 10).unwrap());
        assert_eq!((g.logs[0].time, g.logs[0].time_ns), (1_700_000_000, Some(42)));
        assert_eq!((g.logs[1].time, g.logs[1].time_ns), (1_800_000_000, None));
        assert_eq!(g.topic, None);
    }

    #[test]
    fn shape_errors() {
        let t = LogTime::Receive { unix: 1 };
        let code = |b: &[u8]| json_to_log_group(b, t, 2).unwrap_err().code;
        assert_eq!(code(b"not json"), ErrorCode::PostBodyInvalid);
        assert_eq!(code(b"[]"), ErrorCode::PostBodyInvalid);
        assert_eq!(code(b"{}"), ErrorCode::PostBodyInvalid);
        assert_eq!(code(br#"{"__logs__":{}}"#), ErrorCode::PostBodyInvalid);
        assert_eq!(code(br#"{"__logs__":["x"]}"#), ErrorCode::PostBodyInvalid);
        assert_eq!(code(br#"{"__logs__":[],"__tags__":[1]}"#), ErrorCode::PostBodyInvalid);
        assert_eq!(code(br#"{"__logs__":[{},{},{}]}"#), ErrorCode::PostBodyTooLarge);
        let from = LogTime::FromEntries { receive_unix: 1 };
        assert_eq!(
            json_to_log_group(br#"{"__logs__":[{"__time__":"x"}]}"#, from, 2).unwrap_err().code,
            ErrorCode::InvalidTimestamp
        );
        assert_eq!(
            json_to_log_group(br#"{"__logs__":[{"__time__":99999999999}]}"#, from, 2).unwrap_err().code,
            ErrorCode::InvalidTimestamp
        );
    }
}
