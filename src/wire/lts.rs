//! Huawei LTS log-report bodies (lts.md §5.1, §5.2), converted into a serialized `LogGroup` so that
//! the one in-place validator and the one storage format serve them as they serve SLS:
//!
//! - `…/tenant/contents`: `{"log_time_ns": T, "contents": [line, …], "labels": {k: v}}`; log `i`
//!   gets the time `T + i` nanoseconds.
//! - `…/tenant/contents/high-accuracy`: `{"contents": [{"log_time_ns": T, "log": line}, …],
//!   "labels": {k: v}}`; each log carries its own time.
//!
//! `log_time_ns` may be a JSON number or a string of digits (the documents show both). Each line
//! becomes one log with the single field [`CONTENT_KEY`]; the labels become the group's tags, so
//! they are stored with every log of the request and read back through SLS as `LogTags`. Other
//! members (`tenant_project_id`) are accepted and ignored. Pure: no I/O.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use prost::Message;
use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::pb::{log::Content, Log, LogGroup, LogTag};
use crate::error::{ApiError, ApiResult, ErrorCode};

/// The field name a reported line is stored under.
pub const CONTENT_KEY: &str = "content";

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Which report body a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportShape {
    /// `tenant/contents`: one base time, one string per log.
    Contents,
    /// `tenant/contents/high-accuracy`: a time per log.
    HighAccuracy,
}

#[derive(Deserialize)]
struct ContentsBody {
    #[serde(deserialize_with = "nanos")]
    log_time_ns: u64,
    contents: Lines<String>,
    #[serde(default)]
    labels: Labels,
}

#[derive(Deserialize)]
struct HighAccuracyBody {
    contents: Lines<TimedLine>,
    #[serde(default)]
    labels: Labels,
}

#[derive(Deserialize)]
struct TimedLine {
    #[serde(deserialize_with = "nanos")]
    log_time_ns: u64,
    log: String,
}

thread_local! {
    /// How many lines [`Lines`] keeps: the request's `max_logs`, set by [`report_to_log_group`]
    /// around its parse (a derived `Deserialize` has no way to take it as an argument).
    static KEEP_LINES: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// The `contents` array. Every element is read and checked exactly as a `Vec<T>` would (so a bad
/// one is the same error, at the same place), and counted, but only the first `max_logs` are
/// kept: past them the request is refused for its count, and a body of a million `""` must not
/// cost a million `String`s first.
struct Lines<T> {
    kept: Vec<T>,
    len: usize,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lines<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct LinesVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for LinesVisitor<T> {
            type Value = Lines<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                // What `Vec`'s visitor says, for the same error messages.
                f.write_str("a sequence")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Lines<T>, A::Error> {
                let keep = KEEP_LINES.with(Cell::get);
                let mut lines = Lines { kept: Vec::new(), len: 0 };
                while let Some(line) = seq.next_element::<T>()? {
                    lines.len += 1;
                    if lines.len <= keep {
                        lines.kept.push(line);
                    }
                }
                Ok(lines)
            }
        }
        d.deserialize_seq(LinesVisitor(PhantomData))
    }
}

/// Sets [`KEEP_LINES`] for one parse, restoring the earlier value when dropped.
struct KeepLines(usize);

impl KeepLines {
    fn set(keep: usize) -> KeepLines {
        KeepLines(KEEP_LINES.with(|k| k.replace(keep)))
    }
}

impl Drop for KeepLines {
    fn drop(&mut self) {
        KEEP_LINES.with(|k| k.set(self.0));
    }
}

/// A string map in the order it was sent (serde_json's `preserve_order`).
type Labels = serde_json::Map<String, serde_json::Value>;

/// A nanosecond time: a JSON number, or a string of decimal digits.
fn nanos<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Nanos<'a> {
        Number(u64),
        Text(&'a str),
        Owned(String),
    }
    let parse = |s: &str| {
        let digits = s.trim();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(serde::de::Error::custom(format!("log_time_ns {s:?} is not a non-negative integer")));
        }
        digits.parse().map_err(|_| serde::de::Error::custom(format!("log_time_ns {s:?} is out of range")))
    };
    match Nanos::deserialize(d).map_err(|_| serde::de::Error::custom("log_time_ns must be a non-negative integer"))? {
        Nanos::Number(n) => Ok(n),
        Nanos::Text(s) => parse(s),
        Nanos::Owned(s) => parse(&s),
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::PostBodyInvalid, message)
}

/// One log at `ns` nanoseconds since the epoch holding `line`.
fn log_at(ns: u64, line: String) -> ApiResult<Log> {
    let secs = u32::try_from(ns / NANOS_PER_SEC)
        .map_err(|_| ApiError::new(ErrorCode::InvalidTimestamp, format!("log_time_ns {ns} is out of range")))?;
    // The remainder is below 10^9, which fits a u32.
    let time_ns = (ns % NANOS_PER_SEC) as u32;
    Ok(Log {
        time: secs,
        contents: vec![Content { key: CONTENT_KEY.to_string(), value: line }],
        time_ns: Some(time_ns),
    })
}

fn tags(labels: Labels) -> ApiResult<Vec<LogTag>> {
    labels
        .into_iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(value) => Ok(LogTag { key, value }),
            other => Err(invalid(format!("label {key:?} must be a string, not {other}"))),
        })
        .collect()
}

/// Parses a report body into a serialized `LogGroup`. Shape errors (malformed JSON, a missing or
/// mistyped member, a label that is not a string) are `PostBodyInvalid`; more than `max_logs`
/// lines is `PostBodyTooLarge`; a time past 2106 is `InvalidTimestamp`. The caller validates the
/// result like any protobuf body (UTF-8, sizes, the time window).
pub fn report_to_log_group(body: &[u8], shape: ReportShape, max_logs: usize) -> ApiResult<Vec<u8>> {
    let parse_error = |e: serde_json::Error| invalid(format!("the JSON body cannot be parsed: {e}"));
    let keep = KeepLines::set(max_logs);
    let (logs, labels) = match shape {
        ReportShape::Contents => {
            let b: ContentsBody = serde_json::from_slice(body).map_err(parse_error)?;
            drop(keep);
            check_count(b.contents.len, max_logs)?;
            let logs = b
                .contents
                .kept
                .into_iter()
                .enumerate()
                .map(|(i, line)| {
                    let ns = b.log_time_ns.checked_add(i as u64).ok_or_else(|| {
                        ApiError::new(ErrorCode::InvalidTimestamp, "log_time_ns + line index is out of range")
                    })?;
                    log_at(ns, line)
                })
                .collect::<ApiResult<Vec<Log>>>()?;
            (logs, b.labels)
        }
        ReportShape::HighAccuracy => {
            let b: HighAccuracyBody = serde_json::from_slice(body).map_err(parse_error)?;
            drop(keep);
            check_count(b.contents.len, max_logs)?;
            let logs =
                b.contents.kept.into_iter().map(|l| log_at(l.log_time_ns, l.log)).collect::<ApiResult<Vec<Log>>>()?;
            (logs, b.labels)
        }
    };
    let group = LogGroup { logs, log_tags: tags(labels)?, ..Default::default() };
    Ok(group.encode_to_vec())
}

fn check_count(lines: usize, max_logs: usize) -> ApiResult<()> {
    if lines > max_logs {
        return Err(ApiError::new(ErrorCode::PostBodyTooLarge, format!("more than {max_logs} logs in one request")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(raw: &[u8]) -> LogGroup {
        LogGroup::decode(raw).unwrap()
    }

    fn lines(g: &LogGroup) -> Vec<(u32, u32, &str)> {
        g.logs
            .iter()
            .map(|l| {
                assert_eq!(l.contents.len(), 1);
                assert_eq!(l.contents[0].key, CONTENT_KEY);
                (l.time, l.time_ns.unwrap(), l.contents[0].value.as_str())
            })
            .collect()
    }

    #[test]
    fn the_seed_example_gets_consecutive_nanoseconds_and_labels_as_tags() {
        // The request example of lts-tenant-contents-api.txt.
        let body = br#"{
 "log_time_ns": 1586850540000000000,
 "contents": [
  "Fri Feb  1 07:48:04 UTC 2019 0\n",
  "Sat April 18 16:04:04 UTC 2019"
 ],
 "labels": {
  "user_tag": "string"
 }
}"#;
        let g = decode(&report_to_log_group(body, ReportShape::Contents, 4096).unwrap());
        assert_eq!(
            lines(&g),
            vec![
                (1_586_850_540, 0, "Fri Feb  1 07:48:04 UTC 2019 0\n"),
                (1_586_850_540, 1, "Sat April 18 16:04:04 UTC 2019")
            ]
        );
        assert_eq!(g.log_tags, vec![LogTag { key: "user_tag".into(), value: "string".into() }]);
        assert_eq!((g.topic.as_deref(), g.source.as_deref()), (None, None));
    }

    #[test]
    fn times_may_be_strings_and_carry_across_a_second() {
        let body = br#"{"log_time_ns":"1700000000999999999","contents":["a","b"],"labels":{"b":"2","a":"1"},"tenant_project_id":"x"}"#;
        let g = decode(&report_to_log_group(body, ReportShape::Contents, 10).unwrap());
        assert_eq!(lines(&g), vec![(1_700_000_000, 999_999_999, "a"), (1_700_000_001, 0, "b")]);
        let keys: Vec<&str> = g.log_tags.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, vec!["b", "a"], "labels keep the order sent");
    }

    #[test]
    fn high_accuracy_entries_keep_their_own_times() {
        let body = br#"{"contents":[{"log_time_ns":1700000005000000007,"log":"late"},{"log_time_ns":"1700000001000000000","log":"early"}],"labels":{}}"#;
        let g = decode(&report_to_log_group(body, ReportShape::HighAccuracy, 10).unwrap());
        assert_eq!(lines(&g), vec![(1_700_000_005, 7, "late"), (1_700_000_001, 0, "early")]);
        assert!(g.log_tags.is_empty());
    }

    #[test]
    fn labels_may_be_omitted() {
        let g =
            decode(&report_to_log_group(br#"{"log_time_ns":1,"contents":["x"]}"#, ReportShape::Contents, 1).unwrap());
        assert!(g.log_tags.is_empty());
    }

    #[test]
    fn shape_errors_are_post_body_invalid() {
        let code = |b: &[u8], shape| report_to_log_group(b, shape, 2).unwrap_err().code;
        use ReportShape::*;
        for bad in [
            &b"not json"[..],
            b"[]",
            br#"{"contents":["x"]}"#,
            br#"{"log_time_ns":1}"#,
            br#"{"log_time_ns":-1,"contents":["x"]}"#,
            br#"{"log_time_ns":"12a","contents":["x"]}"#,
            br#"{"log_time_ns":1.5,"contents":["x"]}"#,
            br#"{"log_time_ns":1,"contents":"x"}"#,
            br#"{"log_time_ns":1,"contents":[1]}"#,
            br#"{"log_time_ns":1,"contents":["x"],"labels":[]}"#,
            br#"{"log_time_ns":1,"contents":["x"],"labels":{"k":1}}"#,
            br#"{"log_time_ns":99999999999999999999,"contents":["x"]}"#,
        ] {
            assert_eq!(code(bad, Contents), ErrorCode::PostBodyInvalid, "{}", String::from_utf8_lossy(bad));
        }
        for bad in
            [&br#"{"contents":["x"]}"#[..], br#"{"contents":[{"log":"x"}]}"#, br#"{"contents":[{"log_time_ns":1}]}"#]
        {
            assert_eq!(code(bad, HighAccuracy), ErrorCode::PostBodyInvalid, "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(code(br#"{"log_time_ns":1,"contents":["a","b","c"]}"#, Contents), ErrorCode::PostBodyTooLarge);
        assert_eq!(
            code(br#"{"log_time_ns":18446744073709551615,"contents":["a"]}"#, Contents),
            ErrorCode::InvalidTimestamp
        );
    }

    /// The bodies as they were parsed before `Lines`: whole `Vec`s.
    mod reference {
        use super::super::{nanos, Labels};
        use serde::Deserialize;

        #[derive(Deserialize)]
        pub struct ContentsBody {
            #[serde(deserialize_with = "nanos")]
            pub log_time_ns: u64,
            pub contents: Vec<String>,
            #[serde(default)]
            pub labels: Labels,
        }

        #[derive(Deserialize)]
        pub struct HighAccuracyBody {
            pub contents: Vec<TimedLine>,
            #[serde(default)]
            pub labels: Labels,
        }

        #[derive(Deserialize)]
        pub struct TimedLine {
            #[serde(deserialize_with = "nanos")]
            pub log_time_ns: u64,
            pub log: String,
        }
    }

    #[test]
    fn lines_past_the_limit_are_counted_and_checked_but_not_kept() {
        let many = |item: &str, n: usize| vec![item; n].join(",");
        let contents = [
            format!(r#"{{"log_time_ns":1,"contents":[{}]}}"#, many(r#""""#, 10)),
            format!(r#"{{"log_time_ns":1,"contents":[{},1]}}"#, many(r#""a""#, 10)),
            format!(r#"{{"log_time_ns":1,"contents":[{},"\ud800"]}}"#, many(r#""a""#, 10)),
            format!(r#"{{"log_time_ns":1,"contents":[{}],"contents":["x"]}}"#, many(r#""a""#, 10)),
            format!(r#"{{"log_time_ns":1,"contents":[{}]"#, many(r#""a""#, 10)),
            format!(r#"[1,[{}]]"#, many(r#""a""#, 10)),
            r#"{"log_time_ns":1,"contents":"x"}"#.to_string(),
            r#"{"log_time_ns":1,"contents":{}}"#.to_string(),
            r#"{"log_time_ns":1,"contents":null}"#.to_string(),
            r#"{"log_time_ns":1}"#.to_string(),
        ];
        let high = [
            format!(r#"{{"contents":[{}]}}"#, many(r#"{"log_time_ns":1,"log":""}"#, 10)),
            format!(r#"{{"contents":[{},{{"log":""}}]}}"#, many(r#"{"log_time_ns":1,"log":""}"#, 10)),
            format!(r#"{{"contents":[{},{{"log_time_ns":-1,"log":""}}]}}"#, many(r#"{"log_time_ns":1,"log":""}"#, 10)),
            format!(r#"{{"contents":[{},1]}}"#, many(r#"{"log_time_ns":1,"log":""}"#, 10)),
            r#"{"contents":"x"}"#.to_string(),
        ];
        for keep in [0, 1, 3, 10, 11] {
            let _keep = KeepLines::set(keep);
            for body in &contents {
                let ours = serde_json::from_slice::<ContentsBody>(body.as_bytes());
                let theirs = serde_json::from_slice::<reference::ContentsBody>(body.as_bytes());
                match (ours, theirs) {
                    (Ok(a), Ok(b)) => {
                        assert_eq!(
                            (a.log_time_ns, a.contents.len, &a.labels),
                            (b.log_time_ns, b.contents.len(), &b.labels)
                        );
                        assert_eq!(a.contents.kept, b.contents[..b.contents.len().min(keep)]);
                    }
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{body}"),
                    (a, b) => panic!("{body}: {:?} vs {:?}", a.err(), b.err()),
                }
            }
            for body in &high {
                let ours = serde_json::from_slice::<HighAccuracyBody>(body.as_bytes());
                let theirs = serde_json::from_slice::<reference::HighAccuracyBody>(body.as_bytes());
                match (ours, theirs) {
                    (Ok(a), Ok(b)) => {
                        assert_eq!((a.contents.len, &a.labels), (b.contents.len(), &b.labels));
                        let ours: Vec<_> = a.contents.kept.iter().map(|l| (l.log_time_ns, &l.log)).collect();
                        let kept = &b.contents[..b.contents.len().min(keep)];
                        let theirs: Vec<_> = kept.iter().map(|l| (l.log_time_ns, &l.log)).collect();
                        assert_eq!(ours, theirs);
                    }
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{body}"),
                    (a, b) => panic!("{body}: {:?} vs {:?}", a.err(), b.err()),
                }
            }
        }
        // Through the conversion: too many lines is the count error, a bad line past the limit
        // still the parse error.
        let e = report_to_log_group(contents[0].as_bytes(), ReportShape::Contents, 4).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (ErrorCode::PostBodyTooLarge, "more than 4 logs in one request"));
        let e = report_to_log_group(contents[1].as_bytes(), ReportShape::Contents, 4).unwrap_err();
        assert_eq!(e.code, ErrorCode::PostBodyInvalid);
        let e = report_to_log_group(high[0].as_bytes(), ReportShape::HighAccuracy, 4).unwrap_err();
        assert_eq!(e.code, ErrorCode::PostBodyTooLarge);
        let g = decode(&report_to_log_group(contents[0].as_bytes(), ReportShape::Contents, 10).unwrap());
        assert_eq!(g.logs.len(), 10);
        // The limit is the request's own: the next parse on this thread keeps everything again.
        assert_eq!(KEEP_LINES.with(Cell::get), usize::MAX);
    }
}
