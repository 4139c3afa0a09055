//! Unit tests of `wire::json`: the one-pass reader against the `serde_json::Value` reference.
use std::time::{Duration, Instant};

use prost::Message;
use serde_json::Map;

use super::*;
use crate::wire::pb::{log::Content, Log, LogGroup, LogTag};

fn decode(raw: &[u8]) -> LogGroup {
    LogGroup::decode(raw).unwrap()
}

// ---- the reference: the whole body as a `serde_json::Value` tree ----

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
    .ok_or_else(|| not_a_time(what))
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
    let time = u32::try_from(secs).map_err(|_| out_of_range("__time__"))?;
    let time_ns = nanos.map(|n| u32::try_from(n).map_err(|_| out_of_range("__time_ns_part__"))).transpose()?;
    Ok(Log { time, contents, time_ns })
}

/// The conversion through a `serde_json::Value` tree that the one-pass reader must agree with,
/// output and errors (what the daemon ran before the reader decided errors itself).
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
        return Err(too_many_logs(max_logs));
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

/// The one-pass reader and the `Value` path agree byte for byte, and on every error.
fn same(body: &[u8], time: LogTime, max_logs: usize) {
    let fast = json_to_log_group(body, time, max_logs);
    let reference = value_log_group(body, time, max_logs);
    match (&fast, &reference) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", String::from_utf8_lossy(body)),
        (Err(a), Err(b)) => {
            assert_eq!((a.code, &a.message), (b.code, &b.message), "{}", String::from_utf8_lossy(body))
        }
        _ => panic!("{}: {fast:?} vs {reference:?}", String::from_utf8_lossy(body)),
    }
}

fn same_everywhere(body: &[u8]) {
    for time in [LogTime::Receive { unix: 1_800_000_000 }, LogTime::FromEntries { receive_unix: 1_800_000_000 }] {
        for max_logs in [0, 1, 2, 3, 4096] {
            same(body, time, max_logs);
        }
    }
}

#[test]
fn the_one_pass_reader_matches_the_value_path() {
    let many_keys: String = (0..40).map(|i| format!(r#""k{i}":{i},"#)).collect();
    let bodies: Vec<Vec<u8>> = [
        &br#"{"__logs__":[]}"#[..],
        br#"{"__logs__":[{}],"__topic__":"","__source__":null,"__tags__":null}"#,
        br#"{"__topic__":1.5,"__source__":{"b":1,"a":[true,null]},"__logs__":[{"k":"v"}],"__tags__":{"t":2,"u":"x"}}"#,
        br#"{"__logs__":[{"a":"1","b":"2","a":"3","__time__":7,"c":{"z":1,"y":{"x":-2}},"d":[1,2.50,1e3]}]}"#,
        br#"{"__logs__":[{"esc\"aped\u00e9":"line\nbreak \ud83d\ude00 \u0041","n":-1,"f":0.1,"big":18446744073709551615,"neg":-9223372036854775808}]}"#,
        br#"{"__logs__":[{"k":"v"}],"__logs__":[{"k":"w"}]}"#,
        br#"{"__logs__":[{"k":"v"},{"k":"v"},{"k":"v"}],"__logs__":[{"k":"w"}]}"#,
        br#"{"__logs__":[{"k":"v"}],"__logs__":[1,{},{}]}"#,
        br#"{"__logs__":[1],"__logs__":[{"k":"w"}]}"#,
        br#"{"__logs__":[{"k":"v"}],"__logs__":null}"#,
        br#"{"__tags__":{"a":"1","a":"2","b":true},"__logs__":[{"k":"v"}],"other":{"deep":[[[]]]}}"#,
        br#"{"__tags__":[1],"__tags__":{"a":"1"},"__logs__":[]}"#,
        br#"{"__tags__":{"a":"1"},"__tags__":1,"__logs__":[]}"#,
        br#"{"__topic__":"a","__topic__":"b","__logs__":[]}"#,
        br#"{"__source__":"a","__logs__":[],"__source__":{"x":[1,{"y":1,"y":2}]}}"#,
        br#"{"__logs__":[{"__time__":"  1700000000 ","__time_ns_part__":"5","k":"v"}]}"#,
        br#"{"__logs__":[{"__time__":1700000000.0}]}"#,
        br#"{"__logs__":[{"__time__":-1}]}"#,
        br#"{"__logs__":[{"__time_ns_part__":4294967296}]}"#,
        br#"{"__logs__":[{"__time_ns_part__":"x","__time__":99999999999}]}"#,
        br#"{"__logs__":[{"__time__":99999999999,"__time_ns_part__":99999999999}]}"#,
        br#"{"__logs__":[{"__time__":true}]}"#,
        br#"{"__logs__":[{"__time__":1,"__time__":"x"}]}"#,
        br#"{"__logs__":[{"__time__":"x","__time__":1}]}"#,
        br#"{"__logs__":[{"__time__":"x"}],"__tags__":[1]}"#,
        br#"{"__tags__":[1],"__logs__":[{"__time__":"x"}]}"#,
        br#"{"__tags__":"x","__logs__":[{},{},{}]}"#,
        br#"{"__logs__":[{"k":"v"},1]}"#,
        br#"{"__logs__":[1,{"__time__":"x"},{},{}]}"#,
        br#"{"__logs__":[{"__time__":"x"},1,{},{}]}"#,
        br#"{"__logs__":[1,2,3,4,5,6]}"#,
        br#"{"__logs__":[{},{},{},{},1e400]}"#,
        br#"{"__logs__":[1,{},{},{},{"k":1e400}]}"#,
        br#"{"__logs__":[{},{},{},{},{}"#,
        br#"{"__logs__":[{},{},{},{},{},]}"#,
        br#"{"__logs__":[{"k":"v"}]} x"#,
        br#"{"__logs__":[{"k":"v"}],"x":1e400}"#,
        br#"{"__logs__":[{"k":"v"}],"x":"\ud800"}"#,
        br#"{"__logs__":[{"k":"v"}]"#,
        br#"{"__logs__":"x"}"#,
        br#"{"__logs__":null}"#,
        br#"{"__logs__":{"a":1e400}}"#,
        br#"[{"__logs__":[]}]"#,
        br#"[{"__logs__":[]},1e400]"#,
        br#""__logs__""#,
        br#"{"\u005f_logs__":[{"k":"v"}]}"#,
        br#"{"__logs__":[{"o":{"a":1,"b":[1,{"c":2,"c":3}],"a":{"d":null}},"e":[],"f":{},"g":[{}],"h":-0.0,"i":1E-7,"j":123456789012345678901234567890}]}"#,
        br#"{"__logs__":[{"o":{"\u00e9":"\u0000\u001f\"\\/\b\f\n\r\t","\u00e9":1}}]}"#,
        b" {\"__logs__\" : [ { \"k\" : \"v\" } ] } ",
        b"",
    ]
    .iter()
    .map(|b| b.to_vec())
    .chain([
        // Objects past the linear search, with repeated keys, in a log, a nested value and the tags.
        format!(r#"{{"__logs__":[{{{many_keys}"k3":"late","k39":"last"}}]}}"#).into_bytes(),
        format!(r#"{{"__logs__":[{{"o":{{{many_keys}"k3":"late","k39":{{"x":1,"x":2}}}}}}]}}"#).into_bytes(),
        format!(r#"{{"__logs__":[],"__tags__":{{{many_keys}"k0":"first"}}}}"#).into_bytes(),
        format!(r#"{{"__logs__":[{{{many_keys}"__time__":"x"}}]}}"#).into_bytes(),
    ])
    .collect();
    for body in &bodies {
        same_everywhere(body);
    }
    // Deep nesting: serde_json's recursion limit answers alike.
    for depth in [120, 127, 128, 129, 200] {
        let nest = |d: usize| format!("{}{}", "[".repeat(d), "]".repeat(d));
        same_everywhere(format!(r#"{{"__logs__":[{{"k":{}}}]}}"#, nest(depth)).as_bytes());
        same_everywhere(format!(r#"{{"__logs__":[{}]}}"#, nest(depth)).as_bytes());
        same_everywhere(format!(r#"{{"__logs__":[],"x":{}}}"#, nest(depth)).as_bytes());
    }
}

/// A small deterministic generator of JSON bodies around the shapes that matter: repeated
/// members, entries that are not objects, times, nesting, and the odd syntax error.
struct Gen(u64);

impl Gen {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }

    fn key(&mut self) -> String {
        ["a", "b", "c", "__time__", "__time_ns_part__", "é", "a\\n"][self.next(7) as usize].to_string()
    }

    fn value(&mut self, depth: u32) -> String {
        match self.next(if depth > 2 { 9 } else { 11 }) {
            0 => "null".into(),
            1 => "true".into(),
            2 => format!("{}", self.next(3_000_000_000) as i64 - 1_000_000_000),
            3 => format!("\"{}\"", self.next(5_000_000_000)),
            4 => "1.5e3".into(),
            5 => "-0.0".into(),
            6 => "\"x\\u0041\"".into(),
            7 => "18446744073709551616".into(),
            8 => "\"\"".into(),
            9 => {
                let n = self.next(4);
                let items: Vec<String> = (0..n).map(|_| self.value(depth + 1)).collect();
                format!("[{}]", items.join(","))
            }
            _ => self.object(depth + 1),
        }
    }

    fn object(&mut self, depth: u32) -> String {
        let n = self.next(5);
        let members: Vec<String> = (0..n).map(|_| format!("\"{}\":{}", self.key(), self.value(depth))).collect();
        format!("{{{}}}", members.join(","))
    }

    fn entry(&mut self) -> String {
        if self.next(8) == 0 {
            self.value(1)
        } else {
            self.object(1)
        }
    }

    fn body(&mut self) -> String {
        let mut members = Vec::new();
        for _ in 0..self.next(6) {
            let member = match self.next(6) {
                0 | 1 => {
                    let n = self.next(5);
                    let entries: Vec<String> = (0..n).map(|_| self.entry()).collect();
                    format!("\"__logs__\":[{}]", entries.join(","))
                }
                2 => format!("\"__tags__\":{}", if self.next(2) == 0 { self.object(1) } else { self.value(1) }),
                3 => format!("\"__topic__\":{}", self.value(1)),
                4 => format!("\"__source__\":{}", self.value(1)),
                _ => format!("\"x\":{}", self.value(1)),
            };
            members.push(member);
        }
        let mut body = format!("{{{}}}", members.join(","));
        if self.next(10) == 0 {
            let at = self.next(body.len() as u64 + 1) as usize;
            body.insert_str(at, [",", "]", "}", "1e999", "\"\\ud800\""][self.next(5) as usize]);
        }
        body
    }
}

#[test]
fn generated_bodies_get_the_value_path_answer() {
    let mut g = Gen(7);
    for _ in 0..4000 {
        let body = g.body();
        for time in [LogTime::Receive { unix: 7 }, LogTime::FromEntries { receive_unix: 7 }] {
            for max_logs in [0, 2, 4096] {
                same(body.as_bytes(), time, max_logs);
            }
        }
    }
}

#[test]
fn an_object_with_many_keys_takes_linear_time() {
    let fields: Vec<String> = (0..100_000).map(|i| format!(r#""k{i:06}":"""#)).collect();
    let body =
        format!(r#"{{"__logs__":[{{{},"k000007":"again"}}],"__tags__":{{{}}}}}"#, fields.join(","), fields.join(","));
    let started = Instant::now();
    let g = decode(&json_to_log_group(body.as_bytes(), LogTime::Receive { unix: 1 }, 4096).unwrap());
    // n²/2 string comparisons would take minutes here.
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(g.logs[0].contents.len(), 100_000);
    assert_eq!(g.log_tags.len(), 100_000);
    assert_eq!((g.logs[0].contents[7].key.as_str(), g.logs[0].contents[7].value.as_str()), ("k000007", "again"));
    assert_eq!(g.logs[0].contents[99_999].key, "k099999");
}

#[test]
fn too_many_entries_are_refused_whatever_they_are() {
    let t = LogTime::Receive { unix: 1 };
    for item in ["0", "{}", "[]", r#""x""#, "null"] {
        let body = format!(r#"{{"__logs__":[{}]}}"#, vec![item; 10_000].join(","));
        let e = json_to_log_group(body.as_bytes(), t, 4096).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (ErrorCode::PostBodyTooLarge, "more than 4096 logs in one request"));
    }
    // Exactly the limit of entries that are not objects: the first one is the error.
    let body = format!(r#"{{"__logs__":[{}]}}"#, vec!["0"; 4096].join(","));
    let e = json_to_log_group(body.as_bytes(), t, 4096).unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (ErrorCode::PostBodyInvalid, "every entry of __logs__ must be an object"));
}
