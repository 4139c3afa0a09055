//! One exported line per log, in the dump's `storage_format`.
//!
//! - **RAW**: the log's content as a query shows it ([`crate::query::render_content`]: the
//!   `content` field of an LTS-reported line, else `key=value` pairs), with `\` written as `\\`,
//!   a line feed as `\n` and a carriage return as `\r`, so one log is always exactly one line and
//!   the escaping can be undone.
//! - **JSON**: one object per line: `content` (as RAW, unescaped), `fields` (every field of the
//!   log, in stored order; a key repeated within one log keeps its last value), `labels` (the
//!   group's tags plus `__topic__`/`__source__` when set, as a query shows them), `__time__`
//!   (log time, unix seconds), `__time_ns_part__` (its nanosecond part, 0 when absent) and
//!   `__receive_time__` (when logtide stored it, unix seconds: the time windows are judged by).

use serde_json::{json, Map, Value};

use crate::query::render_content;
use crate::wire::pb::Log;

/// A RAW line, without its line feed.
pub fn raw_line(log: &Log) -> String {
    escape_line(&render_content(log))
}

/// `\` → `\\`, LF → `\n`, CR → `\r`.
pub fn escape_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// The labels of a group as a JSON object, computed once per group.
pub fn labels_object(labels: &[(String, String)]) -> Value {
    Value::Object(labels.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
}

/// A JSON line, without its line feed.
pub fn json_line(log: &Log, labels: &Value, receive_ns: u64) -> String {
    let fields: Map<String, Value> =
        log.contents.iter().map(|c| (c.key.clone(), Value::String(c.value.clone()))).collect();
    json!({
        "content": render_content(log),
        "fields": fields,
        "labels": labels,
        "__time__": log.time,
        "__time_ns_part__": log.time_ns.unwrap_or(0),
        "__receive_time__": receive_ns / 1_000_000_000,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::pb::log::Content;

    fn log(fields: &[(&str, &str)]) -> Log {
        Log {
            time: 1_700_000_000,
            contents: fields.iter().map(|(k, v)| Content { key: k.to_string(), value: v.to_string() }).collect(),
            time_ns: Some(42),
        }
    }

    #[test]
    fn raw_lines_are_one_line_per_log() {
        assert_eq!(raw_line(&log(&[("content", "plain line")])), "plain line");
        assert_eq!(raw_line(&log(&[("content", "a\nb\r\\c")])), "a\\nb\\r\\\\c");
        assert_eq!(raw_line(&log(&[("k", "v"), ("x", "y z")])), "k=v x=y z");
    }

    #[test]
    fn json_lines_carry_fields_labels_and_times() {
        let labels = labels_object(&[("env".into(), "prod".into()), ("__topic__".into(), "t".into())]);
        let line = json_line(&log(&[("content", "a\nb")]), &labels, 1_700_000_005_123_456_789);
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v,
            json!({
                "content": "a\nb",
                "fields": {"content": "a\nb"},
                "labels": {"env": "prod", "__topic__": "t"},
                "__time__": 1_700_000_000u32,
                "__time_ns_part__": 42,
                "__receive_time__": 1_700_000_005u64,
            })
        );
    }
}
