//! SLS JSON log bodies (web tracking and the JSON form of PutLogs, sls.md §2.5 and §7):
//! `{"__topic__", "__source__", "__logs__": [{k: v, …}], "__tags__": {k: v}}`, converted into a
//! serialized `LogGroup` so that the one in-place validator and the one storage format serve every
//! front door. Values that are not strings are kept as their JSON text.
//!
//! The hot path reads the body in one pass with serde visitors, borrowing unescaped strings, and
//! writes the protobuf bytes directly; `serde_json::Value` is kept as the reference path.

use std::borrow::Cow;
use std::fmt;

use prost::encoding::{encode_varint, encoded_len_varint};
use prost::Message;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::loggroup::{len_field_len, push_len_field};
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
///
/// A well-formed body takes one streaming pass that borrows its strings and writes protobuf
/// directly; anything else (an error, a repeated `__logs__`) is judged by the `Value` path,
/// which is the reference for every output and error message.
pub fn json_to_log_group(body: &[u8], time: LogTime, max_logs: usize) -> ApiResult<Vec<u8>> {
    match fast_log_group(body, time, max_logs) {
        Some(pb) => Ok(pb),
        None => value_log_group(body, time, max_logs),
    }
}

/// The reference conversion through a `serde_json::Value` tree.
fn value_log_group(body: &[u8], time: LogTime, max_logs: usize) -> ApiResult<Vec<u8>> {
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

// ---- the fast path: one streaming pass, strings borrowed from the body, protobuf written directly ----

/// A JSON value as it is stored: a string's text, or any other value's JSON text (exactly
/// `Value::to_string()`) with what the time and type checks need to know about it.
#[derive(Debug)]
pub(crate) enum Text<'de> {
    Str(Cow<'de, str>),
    Json { text: String, uint: Option<u64>, integer: bool },
}

impl Text<'_> {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Text::Str(s) => s,
            Text::Json { text, .. } => text,
        }
    }

    /// `time_field` of the `Value` path: a non-negative integer, or a string of one.
    fn as_time(&self) -> Option<u64> {
        match self {
            Text::Str(s) => s.trim().parse().ok(),
            Text::Json { uint, .. } => *uint,
        }
    }
}

/// Deserializes any JSON value into a [`Text`], borrowing unescaped strings from the body.
pub(crate) struct TextSeed;

impl<'de> DeserializeSeed<'de> for TextSeed {
    type Value = Text<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Text<'de>, D::Error> {
        d.deserialize_any(TextSeed)
    }
}

fn json(value: Value) -> Text<'static> {
    let (uint, integer) = match &value {
        Value::Number(n) => (n.as_u64(), n.is_u64() || n.is_i64()),
        _ => (None, false),
    };
    Text::Json { text: value.to_string(), uint, integer }
}

impl<'de> Visitor<'de> for TextSeed {
    type Value = Text<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Text<'de>, E> {
        Ok(Text::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Text<'de>, E> {
        Ok(Text::Str(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Text<'de>, E> {
        Ok(Text::Str(Cow::Owned(s)))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Text<'de>, E> {
        Ok(json(Value::from(n)))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Text<'de>, E> {
        Ok(json(Value::from(n)))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Text<'de>, E> {
        Ok(json(Value::from(n)))
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Text<'de>, E> {
        Ok(json(Value::Bool(b)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Text<'de>, E> {
        Ok(json(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Text<'de>, A::Error> {
        Ok(json(Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Text<'de>, A::Error> {
        Ok(json(Value::deserialize(de::value::MapAccessDeserializer::new(map))?))
    }
}

/// An object key, borrowed from the body unless it has escapes.
pub(crate) struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(KeySeed)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(s))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s.to_owned()))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s))
    }
}

/// The members of one JSON object in body order, a repeated key replacing the earlier value in
/// its place (what `serde_json::Map` with `preserve_order` does).
pub(crate) type Fields<'de> = Vec<(Cow<'de, str>, Text<'de>)>;

/// Reads one object's members into `fields` (cleared first).
pub(crate) struct FieldsSeed<'a, 'de>(pub(crate) &'a mut Fields<'de>);

impl<'de> DeserializeSeed<'de> for FieldsSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FieldsSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.0.clear();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value = map.next_value_seed(TextSeed)?;
            match self.0.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => self.0.push((key, value)),
            }
        }
        Ok(())
    }
}

/// Appends one `LogGroup.logs` entry, byte for byte what prost encodes for the same `Log`.
pub(crate) fn put_log<'f>(
    out: &mut Vec<u8>,
    time: u32,
    time_ns: Option<u32>,
    contents: impl Iterator<Item = (&'f str, &'f str)> + Clone,
) {
    let content_len = |(k, v): (&str, &str)| len_field_len(k.len()) + len_field_len(v.len());
    let log_len = 1
        + encoded_len_varint(time as u64)
        + contents.clone().map(|c| len_field_len(content_len(c))).sum::<usize>()
        + if time_ns.is_some() { 5 } else { 0 };
    out.reserve(len_field_len(log_len));
    out.push(0x0a); // LogGroup.logs
    encode_varint(log_len as u64, out);
    out.push(0x08); // Log.time
    encode_varint(time as u64, out);
    for (k, v) in contents {
        out.push(0x12); // Log.contents
        encode_varint(content_len((k, v)) as u64, out);
        push_len_field(out, 1, k.as_bytes());
        push_len_field(out, 2, v.as_bytes());
    }
    if let Some(ns) = time_ns {
        out.push(0x25); // Log.time_ns, fixed32
        out.extend_from_slice(&ns.to_le_bytes());
    }
}

/// Any failure of the fast path; the `Value` path then decides the exact error.
fn bail<E: de::Error>() -> E {
    E::custom("fast path declined")
}

fn is_time_key(key: &str) -> bool {
    key == "__time__" || key == "__time_ns_part__"
}

/// `entry_to_log` over borrowed fields; `None` where the `Value` path would fail.
fn put_entry(out: &mut Vec<u8>, fields: &Fields, time: LogTime) -> Option<()> {
    let (mut secs, mut nanos) = match time {
        LogTime::Receive { unix } => (unix as u64, None),
        LogTime::FromEntries { receive_unix } => (receive_unix as u64, None),
    };
    if let LogTime::FromEntries { .. } = time {
        for (key, value) in fields {
            match key.as_ref() {
                "__time__" => secs = value.as_time()?,
                "__time_ns_part__" => nanos = Some(value.as_time()?),
                _ => {}
            }
        }
    }
    let time = u32::try_from(secs).ok()?;
    let time_ns = match nanos {
        Some(n) => Some(u32::try_from(n).ok()?),
        None => None,
    };
    let contents = fields.iter().filter(|(k, _)| !is_time_key(k)).map(|(k, v)| (k.as_ref(), v.as_str()));
    put_log(out, time, time_ns, contents);
    Some(())
}

/// The `__logs__` array, each entry written to `out` as it is read.
struct LogsSeed<'a> {
    out: &'a mut Vec<u8>,
    time: LogTime,
    max_logs: usize,
}

impl<'de> DeserializeSeed<'de> for LogsSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for LogsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut fields = Fields::new();
        let mut count = 0;
        while seq.next_element_seed(FieldsSeed(&mut fields))?.is_some() {
            count += 1;
            if count > self.max_logs {
                return Err(bail());
            }
            put_entry(self.out, &fields, self.time).ok_or_else(bail)?;
        }
        Ok(())
    }
}

/// The top-level object; `__logs__` goes straight to `out`, the rest is returned.
struct DocSeed<'a> {
    logs: LogsSeed<'a>,
}

#[derive(Default)]
struct Rest<'de> {
    topic: Option<Text<'de>>,
    source: Option<Text<'de>>,
    tags: Option<Fields<'de>>,
}

impl<'de> Visitor<'de> for DocSeed<'_> {
    type Value = Rest<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Rest<'de>, A::Error> {
        let mut rest = Rest::default();
        let (mut logs, mut tags_seen) = (Some(self.logs), false);
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match key.as_ref() {
                // A repeated member is rare enough to leave to the `Value` path.
                "__logs__" => map.next_value_seed(logs.take().ok_or_else(bail)?)?,
                "__topic__" if rest.topic.is_none() => rest.topic = Some(map.next_value_seed(TextSeed)?),
                "__source__" if rest.source.is_none() => rest.source = Some(map.next_value_seed(TextSeed)?),
                "__tags__" if !tags_seen => {
                    tags_seen = true;
                    rest.tags = map.next_value_seed(TagsSeed)?;
                }
                "__topic__" | "__source__" | "__tags__" => return Err(bail()),
                _ => {
                    map.next_value_seed(TextSeed)?;
                }
            }
        }
        if logs.is_some() {
            return Err(bail());
        }
        Ok(rest)
    }
}

/// `__tags__`: `null` (no tags) or an object.
struct TagsSeed;

impl<'de> DeserializeSeed<'de> for TagsSeed {
    type Value = Option<Fields<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(TagsSeed)
    }
}

impl<'de> Visitor<'de> for TagsSeed {
    type Value = Option<Fields<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let mut tags = Fields::new();
        FieldsSeed(&mut tags).visit_map(map)?;
        Ok(Some(tags))
    }
}

/// The whole body in one pass; `None` for anything the `Value` path has to judge.
fn fast_log_group(body: &[u8], time: LogTime, max_logs: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len());
    let mut de = serde_json::Deserializer::from_slice(body);
    let rest = (&mut de).deserialize_map(DocSeed { logs: LogsSeed { out: &mut out, time, max_logs } }).ok()?;
    de.end().ok()?;
    if let Some(topic) = &rest.topic {
        push_len_field(&mut out, 3, topic.as_str().as_bytes()); // LogGroup.topic
    }
    if let Some(source) = &rest.source {
        push_len_field(&mut out, 4, source.as_str().as_bytes()); // LogGroup.source
    }
    for (key, value) in rest.tags.iter().flatten() {
        let (key, value) = (key.as_bytes(), value.as_str().as_bytes());
        out.push(0x32); // LogGroup.log_tags
        encode_varint((len_field_len(key.len()) + len_field_len(value.len())) as u64, &mut out);
        push_len_field(&mut out, 1, key);
        push_len_field(&mut out, 2, value);
    }
    Some(out)
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

    /// The fast path and the `Value` path agree byte for byte, and on every error.
    fn same(body: &[u8], time: LogTime, max_logs: usize) {
        let fast = json_to_log_group(body, time, max_logs);
        let reference = value_log_group(body, time, max_logs);
        match (&fast, &reference) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", String::from_utf8_lossy(body)),
            (Err(a), Err(b)) => assert_eq!((a.code, &a.message), (b.code, &b.message)),
            _ => panic!("{}: {fast:?} vs {reference:?}", String::from_utf8_lossy(body)),
        }
    }

    #[test]
    fn the_fast_path_matches_the_value_path() {
        let bodies: &[&[u8]] = &[
            br#"{"__logs__":[]}"#,
            br#"{"__logs__":[{}],"__topic__":"","__source__":null,"__tags__":null}"#,
            br#"{"__topic__":1.5,"__source__":{"b":1,"a":[true,null]},"__logs__":[{"k":"v"}],"__tags__":{"t":2,"u":"x"}}"#,
            br#"{"__logs__":[{"a":"1","b":"2","a":"3","__time__":7,"c":{"z":1,"y":{"x":-2}},"d":[1,2.50,1e3]}]}"#,
            br#"{"__logs__":[{"esc\"aped\u00e9":"line\nbreak \ud83d\ude00 \u0041","n":-1,"f":0.1,"big":18446744073709551615,"neg":-9223372036854775808}]}"#,
            br#"{"__logs__":[{"k":"v"}],"__logs__":[{"k":"w"}]}"#,
            br#"{"__tags__":{"a":"1","a":"2","b":true},"__logs__":[{"k":"v"}],"other":{"deep":[[[]]]}}"#,
            br#"{"__topic__":"a","__topic__":"b","__logs__":[]}"#,
            br#"{"__logs__":[{"__time__":"  1700000000 ","__time_ns_part__":"5","k":"v"}]}"#,
            br#"{"__logs__":[{"__time__":1700000000.0}]}"#,
            br#"{"__logs__":[{"__time__":-1}]}"#,
            br#"{"__logs__":[{"__time_ns_part__":4294967296}]}"#,
            br#"{"__logs__":[{"__time__":true}]}"#,
            br#"{"__logs__":[{"__time__":1,"__time__":"x"}]}"#,
            br#"{"__logs__":[{"__time__":"x"}],"__tags__":[1]}"#,
            br#"{"__tags__":[1],"__logs__":[{"__time__":"x"}]}"#,
            br#"{"__tags__":"x","__logs__":[{},{},{}]}"#,
            br#"{"__logs__":[{"k":"v"},1]}"#,
            br#"{"__logs__":[{"k":"v"}]} x"#,
            br#"{"__logs__":[{"k":"v"}],"x":1e400}"#,
            br#"{"__logs__":[{"k":"v"}]"#,
            br#"{"__logs__":"x"}"#,
            br#"{"__logs__":null}"#,
            br#"[{"__logs__":[]}]"#,
            br#"{"\u005f_logs__":[{"k":"v"}]}"#,
            b" {\"__logs__\" : [ { \"k\" : \"v\" } ] } ",
            b"",
        ];
        for body in bodies {
            for time in [LogTime::Receive { unix: 1_800_000_000 }, LogTime::FromEntries { receive_unix: 1_800_000_000 }]
            {
                for max_logs in [0, 1, 2, 4096] {
                    same(body, time, max_logs);
                }
            }
        }
        // The common shapes do take the fast path.
        let common = br#"{"__logs__":[{"a":"1","n":2,"o":{"x":[1]}}],"__topic__":"t","__tags__":{"k":"v"}}"#;
        assert!(fast_log_group(common, LogTime::Receive { unix: 1 }, 10).is_some());
    }
}
