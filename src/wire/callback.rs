//! The container-log callback body (`POST /v4/callback/logs`, seed `callback-logs-api.txt`): a JSON
//! array of records whose listed fields are all required and type-checked. Each record becomes one
//! log; its time comes from `@timestamp`.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::json::{Fields, FieldsSeed, Text};
use crate::error::{ApiError, ApiResult, ErrorCode};

/// Fields every record must carry as JSON strings.
pub const STRING_FIELDS: &[&str] = &[
    "@timestamp",
    "application_name",
    "component",
    "container_id",
    "container_id8",
    "docker_container_name",
    "file_name",
    "kubernetes_container_name",
    "kubernetes_namespace",
    "log_data",
    "node",
    "paths",
    "pod_id",
    "pod_name",
    "product",
    "project_name",
    "region_name",
];

/// Fields every record must carry as JSON integers.
pub const INTEGER_FIELDS: &[&str] = &["time"];

/// One checked record: its fields as text (in body order) and its log time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub fields: Vec<(String, String)>,
    pub time: u32,
    pub time_ns: Option<u32>,
}

impl Record {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

fn invalid(index: usize, message: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::PostBodyInvalid, format!("record {index}: {message}"))
}

/// `@timestamp` as unix seconds (`"1624523370"`, `"1624523370.25"`) or RFC 3339.
fn parse_timestamp(text: &str) -> Option<(u32, Option<u32>)> {
    let text = text.trim();
    if let Some((secs, frac)) = text.split_once('.').filter(|(secs, _)| secs.bytes().all(|b| b.is_ascii_digit())) {
        if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let nanos: u32 = format!("{frac:0<9}").parse().ok()?;
        return Some((secs.parse().ok()?, Some(nanos)));
    }
    if let Ok(secs) = text.parse::<u32>() {
        return Some((secs, None));
    }
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    Some((u32::try_from(t.unix_timestamp()).ok()?, Some(t.nanosecond())))
}

fn check_record(index: usize, record: &Map<String, Value>) -> ApiResult<Record> {
    for field in STRING_FIELDS {
        match record.get(*field) {
            Some(Value::String(_)) => {}
            Some(_) => return Err(invalid(index, format_args!("{field} must be a string"))),
            None => return Err(invalid(index, format_args!("{field} is required"))),
        }
    }
    for field in INTEGER_FIELDS {
        match record.get(*field) {
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {}
            Some(_) => return Err(invalid(index, format_args!("{field} must be an integer"))),
            None => return Err(invalid(index, format_args!("{field} is required"))),
        }
    }
    let stamp = record.get("@timestamp").and_then(Value::as_str).unwrap_or_default();
    let (time, time_ns) = parse_timestamp(stamp).ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidTimestamp,
            format!("record {index}: @timestamp {stamp:?} is neither unix seconds nor RFC 3339"),
        )
    })?;
    let fields = record
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
        .collect();
    Ok(Record { fields, time, time_ns })
}

/// Parses and checks the whole array; the first bad record rejects the request.
///
/// A well-formed body takes one streaming pass over borrowed fields; any failure is judged again
/// by the `Value` path, the reference for every error message.
pub fn parse_records(body: &[u8], max_logs: usize) -> ApiResult<Vec<Record>> {
    match fast_records(body, max_logs) {
        Some(records) => Ok(records),
        None => value_records(body, max_logs),
    }
}

/// `check_record` over borrowed fields; `None` where it would fail.
fn checked(fields: &Fields) -> Option<Record> {
    let mut required = 0;
    for (key, value) in fields {
        if STRING_FIELDS.contains(&key.as_ref()) {
            let Text::Str(_) = value else { return None };
            required += 1;
        } else if INTEGER_FIELDS.contains(&key.as_ref()) {
            let Text::Json { integer: true, .. } = value else { return None };
            required += 1;
        }
    }
    // Keys are unique in `fields`, so the count says every required field is there.
    if required != STRING_FIELDS.len() + INTEGER_FIELDS.len() {
        return None;
    }
    let stamp = fields.iter().find(|(k, _)| k == "@timestamp").map(|(_, v)| v.as_str())?;
    let (time, time_ns) = parse_timestamp(stamp)?;
    let fields = fields.iter().map(|(k, v)| (k.to_string(), v.as_str().to_string())).collect();
    Some(Record { fields, time, time_ns })
}

struct RecordsSeed {
    max_logs: usize,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed {
    type Value = Vec<Record>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Record>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed {
    type Value = Vec<Record>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Record>, A::Error> {
        let declined = || de::Error::custom("fast path declined");
        let mut records = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.max_logs));
        let mut fields = Fields::new();
        while seq.next_element_seed(FieldsSeed(&mut fields))?.is_some() {
            if records.len() == self.max_logs {
                return Err(declined());
            }
            records.push(checked(&fields).ok_or_else(declined)?);
        }
        Ok(records)
    }
}

/// The whole body in one pass; `None` for anything the `Value` path has to judge.
fn fast_records(body: &[u8], max_logs: usize) -> Option<Vec<Record>> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let records = RecordsSeed { max_logs }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(records)
}

/// The reference parse through a `serde_json::Value` tree.
fn value_records(body: &[u8], max_logs: usize) -> ApiResult<Vec<Record>> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::new(ErrorCode::PostBodyInvalid, format!("the JSON body cannot be parsed: {e}")))?;
    let Value::Array(items) = doc else {
        return Err(ApiError::new(ErrorCode::PostBodyInvalid, "the body must be a JSON array of records"));
    };
    if items.len() > max_logs {
        return Err(ApiError::new(ErrorCode::PostBodyTooLarge, format!("more than {max_logs} records in one request")));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Object(record) => check_record(i, record),
            _ => Err(invalid(i, "must be a JSON object")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Value {
        serde_json::json!({
            "@timestamp": "1624523370", "application_name": "log", "component": "23fdsf23",
            "container_id": "23fdsf23", "container_id8": "23fdsf23", "docker_container_name": "agnet-23fdsf23",
            "file_name": "file", "kubernetes_container_name": "kube-pod-klcsf", "kubernetes_namespace": "system",
            "log_data": "message", "node": "192.168.0.1", "paths": " /api/v1/namespaces/", "pod_id": "121f0ff7",
            "pod_name": "tracer-agent-klcsf", "product": "cpaas", "project_name": "project", "region_name": "ovn",
            "time": 1
        })
    }

    #[test]
    fn the_seed_example_parses() {
        let body = serde_json::to_vec(&Value::Array(vec![sample()])).unwrap();
        let records = parse_records(&body, 10).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].time, 1_624_523_370);
        assert_eq!(records[0].get("log_data"), Some("message"));
        assert_eq!(records[0].get("time"), Some("1"));
        assert_eq!(records[0].fields.len(), 18);
    }

    #[test]
    fn every_required_field_is_required_and_typed() {
        for field in STRING_FIELDS.iter().chain(INTEGER_FIELDS) {
            let mut missing = sample();
            missing.as_object_mut().unwrap().remove(*field);
            let body = serde_json::to_vec(&Value::Array(vec![sample(), missing])).unwrap();
            let e = parse_records(&body, 10).unwrap_err();
            assert_eq!(e.code, ErrorCode::PostBodyInvalid, "{field}");
            assert!(e.message.contains("record 1") && e.message.contains(field), "{}", e.message);

            let mut wrong = sample();
            let bad = if INTEGER_FIELDS.contains(field) { Value::from("1") } else { Value::from(5) };
            wrong.as_object_mut().unwrap().insert(field.to_string(), bad);
            let body = serde_json::to_vec(&Value::Array(vec![wrong])).unwrap();
            assert_eq!(parse_records(&body, 10).unwrap_err().code, ErrorCode::PostBodyInvalid, "{field}");
        }
    }

    #[test]
    fn timestamps_and_shapes() {
        assert_eq!(parse_timestamp("1624523370"), Some((1_624_523_370, None)));
        assert_eq!(parse_timestamp("1624523370.25"), Some((1_624_523_370, Some(250_000_000))));
        assert_eq!(parse_timestamp("2021-06-24T08:29:30.5Z"), Some((1_624_523_370, Some(500_000_000))));
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp("1.2.3"), None);
        let mut bad = sample();
        bad["@timestamp"] = Value::from("soon");
        let body = serde_json::to_vec(&Value::Array(vec![bad])).unwrap();
        assert_eq!(parse_records(&body, 10).unwrap_err().code, ErrorCode::InvalidTimestamp);
        assert_eq!(parse_records(b"{}", 10).unwrap_err().code, ErrorCode::PostBodyInvalid);
        assert_eq!(parse_records(b"[1]", 10).unwrap_err().code, ErrorCode::PostBodyInvalid);
        assert_eq!(parse_records(b"[{}, {}]", 1).unwrap_err().code, ErrorCode::PostBodyTooLarge);
        assert_eq!(parse_records(b"[]", 1).unwrap(), vec![]);
    }

    /// The fast path and the `Value` path agree on records and on every error.
    #[test]
    fn the_fast_path_matches_the_value_path() {
        let with = |edit: &dyn Fn(&mut Map<String, Value>)| {
            let mut r = sample();
            edit(r.as_object_mut().unwrap());
            serde_json::to_vec(&Value::Array(vec![sample(), r])).unwrap()
        };
        let mut bodies = vec![
            with(&|_| {}),
            with(&|r| drop(r.insert("extra".into(), serde_json::json!({"b": 1, "a": [1.5, null]})))),
            with(&|r| drop(r.insert("time".into(), Value::from(-3)))),
            with(&|r| drop(r.insert("time".into(), Value::from(1.5)))),
            with(&|r| drop(r.insert("@timestamp".into(), Value::from("2021-06-24T08:29:30.5+08:00")))),
            with(&|r| drop(r.insert("@timestamp".into(), Value::from("99999999999")))),
            with(&|r| drop(r.insert("log_data".into(), Value::from("tab\t \"quoted\" é \u{1F600}")))),
            b"[]".to_vec(),
            b"[1]".to_vec(),
            b"{}".to_vec(),
            b"[{}] x".to_vec(),
            b"".to_vec(),
        ];
        // A repeated key keeps its first place and its last value; a syntax error after a bad record wins.
        let good = String::from_utf8(serde_json::to_vec(&sample()).unwrap()).unwrap();
        bodies.push(format!("[{}]", good.replacen("{", r#"{"log_data":5,"#, 1)).into_bytes());
        bodies.push(format!("[{}]", good.replacen("{", r#"{"node":"first","#, 1)).into_bytes());
        bodies.push(format!("[{{}},{good}").into_bytes());
        bodies.push(format!("[{good},{{\"time\":1e400}}]").into_bytes());
        for body in &bodies {
            for max_logs in [1, 2, 10] {
                let fast = parse_records(body, max_logs);
                match (fast, value_records(body, max_logs)) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b),
                    (Err(a), Err(b)) => assert_eq!((a.code, a.message), (b.code, b.message)),
                    (a, b) => panic!("{}: {a:?} vs {b:?}", String::from_utf8_lossy(body)),
                }
            }
        }
        assert!(fast_records(&bodies[0], 10).is_some());
        assert!(fast_records(&bodies[1], 10).is_some());
    }
}
