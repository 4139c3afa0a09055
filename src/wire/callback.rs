//! The container-log callback body (`POST /v4/callback/logs`, seed `callback-logs-api.txt`): a JSON
//! array of records whose listed fields are all required and type-checked. Each record becomes one
//! log; its time comes from `@timestamp`.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::json::{scalars, Fields, ObjectSeed, Skip, Text};
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

/// Parses and checks the whole array; the first bad record rejects the request.
///
/// One streaming pass over borrowed fields decides every answer, error and message included, as
/// judging the body parsed into a `serde_json::Value` would (the reference kept in the tests), in
/// this order: a syntax error anywhere; not an array; more than `max_logs` records; the first bad
/// record. Once the answer is decided (a record too many, a bad record) the rest of the array is
/// read and dropped, so a body of a million numbers costs no more than its first record.
pub fn parse_records(body: &[u8], max_logs: usize) -> ApiResult<Vec<Record>> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let records = RecordsSeed { max_logs }
        .deserialize(&mut de)
        .and_then(|records| de.end().map(|()| records))
        .map_err(|e| ApiError::new(ErrorCode::PostBodyInvalid, format!("the JSON body cannot be parsed: {e}")))?;
    match records {
        Records::NotArray => Err(ApiError::new(ErrorCode::PostBodyInvalid, "the body must be a JSON array of records")),
        Records::TooMany => Err(too_many_records(max_logs)),
        Records::Bad(e) => Err(e),
        Records::Checked(records) => Ok(records),
    }
}

fn too_many_records(max_logs: usize) -> ApiError {
    ApiError::new(ErrorCode::PostBodyTooLarge, format!("more than {max_logs} records in one request"))
}

/// A checked record; `None` for any bad one (then [`record_error`] says why).
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

/// Why [`checked`] refused record `index`: the first required field (in the order of the lists)
/// that is missing or mistyped, else its `@timestamp`.
fn record_error(index: usize, fields: &Fields) -> ApiError {
    let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    for field in STRING_FIELDS {
        match get(field) {
            Some(Text::Str(_)) => {}
            Some(_) => return invalid(index, format_args!("{field} must be a string")),
            None => return invalid(index, format_args!("{field} is required")),
        }
    }
    for field in INTEGER_FIELDS {
        match get(field) {
            Some(Text::Json { integer: true, .. }) => {}
            Some(_) => return invalid(index, format_args!("{field} must be an integer")),
            None => return invalid(index, format_args!("{field} is required")),
        }
    }
    let stamp = get("@timestamp").map(Text::as_str).unwrap_or_default();
    ApiError::new(
        ErrorCode::InvalidTimestamp,
        format!("record {index}: @timestamp {stamp:?} is neither unix seconds nor RFC 3339"),
    )
}

/// What the body came to.
enum Records {
    NotArray,
    TooMany,
    /// The first bad record.
    Bad(ApiError),
    Checked(Vec<Record>),
}

struct RecordsSeed {
    max_logs: usize,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed {
    type Value = Records;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Records, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed {
    type Value = Records;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    scalars!(Records::NotArray);
    fn visit_unit<E: de::Error>(self) -> Result<Records, E> {
        Ok(Records::NotArray)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Records, A::Error> {
        Skip.visit_map(map).map(|()| Records::NotArray)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Records, A::Error> {
        let mut records = Vec::new();
        let mut fields = Fields::new();
        let decided = loop {
            let Some(object) = seq.next_element_seed(ObjectSeed(&mut fields))? else {
                break None;
            };
            let index = records.len();
            if index == self.max_logs {
                break Some(Records::TooMany);
            }
            if !object {
                break Some(Records::Bad(invalid(index, "must be a JSON object")));
            }
            match checked(&fields) {
                Some(record) => records.push(record),
                None => break Some(Records::Bad(record_error(index, &fields))),
            }
        };
        let Some(mut answer) = decided else {
            return Ok(Records::Checked(records));
        };
        // Decided but for a later syntax error or, after a bad record, one record too many: the
        // rest is read and dropped.
        let mut count = records.len() + 1;
        drop(records);
        while seq.next_element_seed(Skip)?.is_some() {
            count = count.saturating_add(1);
            if count > self.max_logs {
                answer = Records::TooMany;
            }
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value};

    use super::*;

    // ---- the reference: the whole body as a `serde_json::Value` tree ----

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

    /// The parse through a `serde_json::Value` tree that the one-pass reader must agree with,
    /// records and errors (what the daemon ran before the reader decided errors itself).
    fn value_records(body: &[u8], max_logs: usize) -> ApiResult<Vec<Record>> {
        let doc: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::new(ErrorCode::PostBodyInvalid, format!("the JSON body cannot be parsed: {e}")))?;
        let Value::Array(items) = doc else {
            return Err(ApiError::new(ErrorCode::PostBodyInvalid, "the body must be a JSON array of records"));
        };
        if items.len() > max_logs {
            return Err(too_many_records(max_logs));
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
    fn the_one_pass_reader_matches_the_value_path() {
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
        // Bad records, then one too many or a syntax error: the count and the syntax outrank them.
        for tail in ["", ",1", ",{}", &format!(",{good}"), ",{},{}", ",1e400", ",{\"a\":\"\\ud800\"}", ",", "]"] {
            for bad in ["1", "[1,2]", "null", "{}", r#"{"time":"1"}"#] {
                bodies.push(format!("[{good},{bad}{tail}]").into_bytes());
                bodies.push(format!("[{bad},{good}{tail}]").into_bytes());
            }
        }
        // Every field wrong at once: the first in the order of the lists is the error.
        bodies.push(br#"[{"time":"x","region_name":1,"@timestamp":2}]"#.to_vec());
        bodies.push(format!("[{}]", good.replacen("{", r#"{"time":1.5,"@timestamp":"soon","#, 1)).into_bytes());
        // Many fields: past the linear search for repeated keys.
        let many: String = (0..40).map(|i| format!(r#""extra{i}":[{i},{{"x":{i},"x":0}}],"#)).collect();
        bodies.push(format!("[{}]", good.replacen("{", &format!("{{{many}\"extra3\":\"late\","), 1)).into_bytes());
        bodies.push(format!("[{}]", good.replacen("{", &format!("{{{many}\"node\":5,"), 1)).into_bytes());
        for body in &bodies {
            for max_logs in [0, 1, 2, 3, 10] {
                match (parse_records(body, max_logs), value_records(body, max_logs)) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b),
                    (Err(a), Err(b)) => assert_eq!((a.code, a.message), (b.code, b.message)),
                    (a, b) => panic!("{}: {a:?} vs {b:?}", String::from_utf8_lossy(body)),
                }
            }
        }
    }

    #[test]
    fn too_many_records_are_refused_whatever_they_are() {
        for item in ["0", "{}", "[]", r#""x""#, "null"] {
            let body = format!("[{}]", vec![item; 10_000].join(","));
            let e = parse_records(body.as_bytes(), 4096).unwrap_err();
            assert_eq!(
                (e.code, e.message.as_str()),
                (ErrorCode::PostBodyTooLarge, "more than 4096 records in one request")
            );
        }
        let body = format!("[{}]", vec!["0"; 4096].join(","));
        let e = parse_records(body.as_bytes(), 4096).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (ErrorCode::PostBodyInvalid, "record 0: must be a JSON object"));
    }
}
