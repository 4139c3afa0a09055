//! The bodies of logtide's fuzz targets: plain functions of `&[u8]`, with no libFuzzer in sight, so
//! that the cargo-fuzz binaries (`fuzz/fuzz_targets/<name>.rs`) and the CI replay
//! (`tests/fuzz_corpus.rs`, which includes this file with `#[path]`) run exactly the same code.
//!
//! Each target hands hostile bytes to pure entry points of the library and asserts cheap
//! invariants on what comes back. A panic (a failed assertion included) is a finding; so is an
//! allocation over the cap of [`crate::alloc`], a timeout, or a stack overflow. Every error a
//! target sees must be a 4xx: hostile input may be refused, never answered with a 5xx.
//!
//! Input layouts (see docs/fuzzing.md):
//! - `loggroup`, `package`, `sls_json`, `callback`, `lts_report`, `mgmt_json`: the body itself.
//! - `decompress_*`: byte 0 flags (bit 0: a declared size is given; bit 1: the cap is 3 MiB, not
//!   64 KiB; bit 2: decode into a used buffer), bytes 1..9 the declared size (u64, little-endian,
//!   any value: sizes lie), then the compressed body. See [`decompress_input`].
//! - `auth`, `http_head`: an HTTP request as text, `METHOD target`, header lines `Name: value`,
//!   an empty line, the body. See [`parse_request`].
//! - `hash_key`, `sls_query`: the text itself.

#![allow(dead_code)]

use std::io::Read;
use std::sync::OnceLock;

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use prost::Message;
use serde_json::{Map, Value};

use logtide::auth::{AccessKey, KeyRing, LtsToken, RequestView, Secret, Verified, MAX_CLOCK_SKEW_SECS};
use logtide::error::{ApiError, ApiResult, ErrorCode};
use logtide::http::router::{self, Endpoint, Query, TrackKind};
use logtide::route;
use logtide::validate::Limits;
use logtide::wire::callback::{self, Record};
use logtide::wire::compress::{self, Compression};
use logtide::wire::json::{self, LogTime};
use logtide::wire::loggroup::{self, GroupStats};
use logtide::wire::lts::{self, ReportShape};
use logtide::wire::{package, pb};

/// The server clock of every target that checks log times: 2023-11-14T22:13:20Z. Seed groups
/// carry times around it.
pub const NOW: u64 = 1_700_000_000;
/// The default raw-size limit (3 MiB) and log-count limit.
pub const MAX_RAW: usize = 3 * 1024 * 1024;
pub const MAX_LOGS: usize = 4096;
/// The clock of the SLS signature vectors (sls.md §5.1, §5.2): Mon, 23 Nov 2026 12:29:10 GMT.
pub const SLS_NOW: i64 = 1_795_436_950;
/// The clock of the LTS signature vectors (lts.md §1.1): 2024-01-01T00:00:00Z.
pub const LTS_NOW: i64 = 1_704_067_200;
/// The LTS project id of the vectors, and the one the configured token belongs to.
pub const LTS_PROJECT: &str = "0123456789abcdef0123456789abcdef";
pub const LTS_TOKEN: &str = "fuzz-token-0123456789";

/// Every target by name: the fuzz binaries, the corpus folders and the replay use these names.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("loggroup", loggroup),
    ("decompress_lz4", decompress_lz4),
    ("decompress_deflate", decompress_deflate),
    ("decompress_zstd", decompress_zstd),
    ("decompress_gzip", decompress_gzip),
    ("decompress_snappy", decompress_snappy),
    ("package", package),
    ("sls_json", sls_json),
    ("callback", callback),
    ("lts_report", lts_report),
    ("mgmt_json", mgmt_json),
    ("auth", auth),
    ("http_head", http_head),
    ("hash_key", hash_key),
    ("sls_query", sls_query),
];

/// An error from an entry point given hostile input must be the client's fault.
#[track_caller]
pub fn assert_client_error(e: &ApiError, what: &str) {
    let status = e.code.status();
    assert!(status.is_client_error(), "{what}: hostile input gave {status} {:?}: {}", e.code, e.message);
}

// ---------------------------------------------------------------------------------------------
// The LogGroup scanner (src/wire/loggroup.rs)
// ---------------------------------------------------------------------------------------------

/// Limits small enough that short inputs reach every "too many / too long" branch.
pub fn tight_limits() -> Limits {
    Limits {
        max_raw_bytes: 4096,
        max_logs: 4,
        max_past_secs: 3600,
        max_future_secs: 60,
        max_key_bytes: 8,
        max_value_bytes: 16,
        max_meta_bytes: 8,
    }
}

/// A serialized LogGroup through the in-place validator, under the default and the tight limits.
pub fn loggroup(data: &[u8]) {
    for limits in [Limits::default(), tight_limits()] {
        if check_group(data, &limits).is_some() {
            check_group_helpers(data, &limits);
        }
    }
}

/// Validates `raw`; when the validator accepts it, prost must decode it to the same logs and
/// times, and every field rule must hold on the decoded group (the validator checks each
/// occurrence of a repeated scalar, prost keeps the last). Returns the validator's stats.
pub fn check_group(raw: &[u8], limits: &Limits) -> Option<GroupStats> {
    let stats = match loggroup::validate_log_group(raw, limits, NOW) {
        Ok(stats) => stats,
        Err(e) => {
            assert_client_error(&e, "validate_log_group");
            return None;
        }
    };
    let group = match pb::LogGroup::decode(raw) {
        Ok(group) => group,
        Err(e) => panic!("the validator accepted a LogGroup that prost refuses: {e}"),
    };
    assert_eq!(stats.logs as usize, group.logs.len(), "log count");
    assert_eq!(stats.raw_len as usize, raw.len(), "raw_len");
    assert!(group.logs.len() <= limits.max_logs, "more logs than the limit");
    assert!(raw.len() <= limits.max_raw_bytes, "larger than the limit");
    let times = group.logs.iter().map(|l| l.time);
    assert_eq!(stats.min_time, times.clone().min().unwrap_or(0), "min_time");
    assert_eq!(stats.max_time, times.max().unwrap_or(0), "max_time");
    for log in &group.logs {
        assert!(limits.check_time(u64::from(log.time), NOW).is_ok(), "time {} accepted", log.time);
        assert!(log.time_ns.unwrap_or(0) <= 999_999_999, "time_ns {:?} accepted", log.time_ns);
        for c in &log.contents {
            assert!(limits.check_key(c.key.as_bytes()).is_ok(), "key {:?} accepted", c.key);
            assert!(limits.check_value(c.value.as_bytes()).is_ok(), "value accepted");
        }
    }
    for meta in [&group.reserved, &group.topic, &group.source, &group.machine_uuid].into_iter().flatten() {
        assert!(limits.check_meta("meta", meta.as_bytes()).is_ok(), "meta {meta:?} accepted");
    }
    for tag in &group.log_tags {
        assert!(limits.check_meta("tag", tag.key.as_bytes()).is_ok(), "tag key {:?} accepted", tag.key);
        assert!(limits.check_meta("tag", tag.value.as_bytes()).is_ok(), "tag value {:?} accepted", tag.value);
    }
    Some(stats)
}

/// The byte-level helpers of the read path on an accepted group: appended tags keep it valid
/// and show up when decoded; a LogGroupList entry decodes to the same group.
fn check_group_helpers(raw: &[u8], limits: &Limits) {
    let group = pb::LogGroup::decode(raw).expect("checked by check_group");
    let stats = loggroup::validate_log_group(raw, limits, NOW).expect("checked by check_group");
    let tags = [("t", "v"), ("host", "10.0.0.1")];
    let mut extended = raw.to_vec();
    loggroup::append_tags(&mut extended, &tags);
    if extended.len() <= limits.max_raw_bytes {
        let again = match loggroup::validate_log_group(&extended, limits, NOW) {
            Ok(again) => again,
            Err(e) => panic!("appending valid tags made the group invalid: {e:?}"),
        };
        assert_eq!((again.logs, again.min_time, again.max_time), (stats.logs, stats.min_time, stats.max_time));
        let decoded = pb::LogGroup::decode(&extended[..]).expect("an extended group decodes");
        assert_eq!(decoded.log_tags.len(), group.log_tags.len() + tags.len());
        assert_eq!(decoded.logs, group.logs);
    }
    let mut list = Vec::new();
    loggroup::write_log_group_list_entry(&mut list, raw);
    let decoded = pb::LogGroupList::decode(&list[..]).expect("a LogGroupList entry decodes");
    assert_eq!(decoded.log_groups, vec![group]);
}

// ---------------------------------------------------------------------------------------------
// Capped decompression (src/wire/compress.rs)
// ---------------------------------------------------------------------------------------------

/// Flag bits of byte 0 of a decompress input.
pub const DECLARED: u8 = 1;
pub const BIG_CAP: u8 = 2;
pub const USED_BUFFER: u8 = 4;
/// The cap without [`BIG_CAP`] (with it, the 3 MiB default limit). Most inputs get the small cap,
/// so that bombs cost the fuzzer little; the real limit is still reached through the flag.
pub const SMALL_MAX_RAW: usize = 64 * 1024;
/// Outputs up to this size are also checked against an independent decoder and round-tripped.
const CROSS_CHECK_MAX: usize = 64 * 1024;
/// The length and capacity of the used output buffer of [`USED_BUFFER`].
const USED_LEN: usize = 1000;

/// Builds a decompress input: flags, the declared size, the body.
pub fn decompress_input(flags: u8, declared: u64, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + body.len());
    out.push(flags);
    out.extend_from_slice(&declared.to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// Splits a decompress input; a short one reads as zero-padded.
pub fn split_decompress_input(data: &[u8]) -> (u8, u64, &[u8]) {
    let flags = data.first().copied().unwrap_or(0);
    let mut size = [0u8; 8];
    let n = data.len().saturating_sub(1).min(8);
    size[..n].copy_from_slice(data.get(1..1 + n).unwrap_or_default());
    (flags, u64::from_le_bytes(size), data.get(9..).unwrap_or(&[]))
}

pub fn decompress_lz4(data: &[u8]) {
    decompress_with(Compression::Lz4, data);
}
pub fn decompress_deflate(data: &[u8]) {
    decompress_with(Compression::Deflate, data);
}
pub fn decompress_zstd(data: &[u8]) {
    decompress_with(Compression::Zstd, data);
}
pub fn decompress_gzip(data: &[u8]) {
    decompress_with(Compression::Gzip, data);
}
pub fn decompress_snappy(data: &[u8]) {
    decompress_with(Compression::Snappy, data);
}

/// One codec, one declared size (honest, lying, huge or absent), one cap: the output never
/// exceeds the cap, nothing is reserved beyond it, a declared size is exact, an error leaves the
/// buffer empty, the error is one of the three decompression codes, and the output is what an
/// independent decoder makes of the body.
pub fn decompress_with(c: Compression, data: &[u8]) {
    let (flags, size, body) = split_decompress_input(data);
    // usize is 64 bits on every target logtide builds for.
    let declared = (flags & DECLARED != 0).then_some(size as usize);
    let max_raw = if flags & BIG_CAP != 0 { MAX_RAW } else { SMALL_MAX_RAW };
    let mut out = if flags & USED_BUFFER != 0 { vec![0xa5; USED_LEN] } else { Vec::new() };
    let capacity_before = out.capacity();
    let result = compress::decompress_into(c, body, declared, max_raw, &mut out);
    assert!(
        out.capacity() <= max_raw.max(capacity_before),
        "{c:?}: {} bytes reserved for a cap of {max_raw}",
        out.capacity()
    );
    match &result {
        Ok(()) => {
            assert!(out.len() <= max_raw, "{c:?}: {} bytes out for a cap of {max_raw}", out.len());
            if let Some(declared) = declared {
                assert_eq!(out.len(), declared, "{c:?}: the output differs from the declared size");
            }
            // The cross-checks cost a multiple of the output; big outputs (bombs under an honest
            // size) are checked for size only, so that the fuzzer keeps its speed.
            if out.len() <= CROSS_CHECK_MAX {
                if let Some(reference) = reference_decode(c, body, out.len()) {
                    assert!(reference == out, "{c:?}: an independent decoder disagrees");
                }
                // What we produced compresses back and round-trips under its honest size.
                let again = compress::compress(c, &out);
                let back =
                    compress::decompress(c, &again, Some(out.len()), max_raw).expect("a round trip decompresses");
                assert!(*back == out[..], "{c:?}: the round trip changed the bytes");
            }
        }
        Err(e) => {
            assert_client_error(e, "decompress_into");
            assert!(out.is_empty(), "{c:?}: out keeps {} bytes after an error", out.len());
            let expected =
                [ErrorCode::PostBodyTooLarge, ErrorCode::PostBodyUncompressError, ErrorCode::MissingBodyRawSize];
            assert!(expected.contains(&e.code), "{c:?}: unexpected code {:?}", e.code);
        }
    }
    if declared.is_some_and(|d| d > max_raw) {
        assert_eq!(result.as_ref().map_err(|e| e.code), Err(ErrorCode::PostBodyTooLarge), "a size over the cap");
    }
    if c == Compression::Lz4 && declared.is_none() {
        assert_eq!(result.as_ref().map_err(|e| e.code), Err(ErrorCode::MissingBodyRawSize), "lz4 without a size");
    }
    // The convenience wrapper agrees with decompress_into.
    match (compress::decompress(c, body, declared, max_raw), &result) {
        (Ok(bytes), Ok(())) => assert!(*bytes == out[..], "{c:?}: decompress and decompress_into disagree"),
        (Err(a), Err(b)) => assert_eq!(a.code, b.code),
        (a, b) => panic!("{c:?}: decompress {:?} but decompress_into {:?}", a.map(|b| b.len()), b),
    }
}

/// What another decoder makes of `body`, when it decodes it: at most `len + 1` bytes are read,
/// so an output longer than ours shows. `None` when there is no independent decoder for the codec
/// or it refuses the body (it may be stricter, e.g. zstd's streaming window limit).
fn reference_decode(c: Compression, body: &[u8], len: usize) -> Option<Vec<u8>> {
    let limit = len as u64 + 1;
    let mut out = Vec::new();
    match c {
        Compression::Lz4 => return lz4_flex::block::decompress(body, len).ok(),
        Compression::Deflate => flate2::read::ZlibDecoder::new(body).take(limit).read_to_end(&mut out).ok()?,
        Compression::Zstd => zstd::stream::read::Decoder::new(body).ok()?.take(limit).read_to_end(&mut out).ok()?,
        Compression::Snappy if !body.starts_with(b"\xff\x06\x00\x00sNaPpY") => {
            return snap::raw::Decoder::new().decompress_vec(body).ok();
        }
        _ => return None,
    };
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// batch_group package lists (src/wire/package.rs) through the ingest steps
// ---------------------------------------------------------------------------------------------

/// An SlsLogPackageList: split without copying, checked against prost, then every package
/// decompressed within what is left of the request's raw budget and validated, as ingest does.
pub fn package(data: &[u8]) {
    let packages = match package::split_package_list(data) {
        Ok(packages) => packages,
        Err(e) => return assert_client_error(&e, "split_package_list"),
    };
    assert!(packages.len() <= package::MAX_PACKAGES);
    let decoded = match pb::SlsLogPackageList::decode(data) {
        Ok(decoded) => decoded,
        Err(e) => panic!("split_package_list accepted a list that prost refuses: {e}"),
    };
    assert_eq!(packages.len(), decoded.packages.len());
    for (got, want) in packages.iter().zip(&decoded.packages) {
        assert_eq!(got.data, &want.data[..]);
        assert_eq!(got.uncompress_size, want.uncompress_size.map(|n| usize::try_from(n).expect("checked")));
        let expected = match want.compress_type {
            None | Some(2) => Compression::Lz4,
            Some(0) => Compression::None,
            Some(1) => Compression::Deflate,
            Some(3) => Compression::Zstd,
            Some(other) => panic!("compress_type {other} accepted"),
        };
        assert_eq!(got.compression, expected);
    }
    let limits = Limits::default();
    let (mut raw_total, mut logs) = (0usize, 0usize);
    let mut scratch = Vec::new();
    for p in &packages {
        let budget = limits.max_raw_bytes.saturating_sub(raw_total);
        if let Err(e) = compress::decompress_into(p.compression, p.data, p.uncompress_size, budget, &mut scratch) {
            return assert_client_error(&e, "decompress_into (package)");
        }
        let raw: &[u8] = if p.compression == Compression::None { p.data } else { &scratch };
        assert!(raw.len() <= budget, "a package decompressed past the request's budget");
        let Some(stats) = check_group(raw, &limits) else { return };
        raw_total += raw.len();
        logs += stats.logs as usize;
        if limits.check_log_count(logs).is_err() {
            return;
        }
        assert!(scratch.capacity() <= limits.max_raw_bytes);
    }
}

// ---------------------------------------------------------------------------------------------
// JSON front doors (src/wire/json.rs, callback.rs, lts.rs) and management bodies
// ---------------------------------------------------------------------------------------------

/// A JSON PutLogs / web-tracking body, with both time sources and two log limits. The streaming
/// fast path must agree byte for byte with the `serde_json::Value` reference (re-implemented below
/// from json.rs, which documents the `Value` path as the reference for every output and error);
/// the result must decode and go through the validator as ingest sends it.
pub fn sls_json(data: &[u8]) {
    let receive = NOW as u32;
    for time in [LogTime::Receive { unix: receive }, LogTime::FromEntries { receive_unix: receive }] {
        for max_logs in [MAX_LOGS, 2] {
            let got = json::json_to_log_group(data, time, max_logs);
            let want = reference_json(data, time, max_logs);
            match (&got, &want) {
                (Ok(g), Ok(w)) => assert!(g == w, "json fast path and Value reference disagree ({time:?})"),
                (Err(g), Err(w)) => {
                    assert_client_error(g, "json_to_log_group");
                    assert_eq!((g.code, &g.message), (w.code, &w.message), "different errors ({time:?})");
                }
                (g, w) => panic!("json_to_log_group {:?} but the reference {:?}", g.as_ref().map(Vec::len), w),
            }
            let Ok(raw) = got else { continue };
            let group = pb::LogGroup::decode(&raw[..]).expect("a converted body decodes");
            assert!(group.logs.len() <= max_logs);
            if let LogTime::Receive { unix } = time {
                assert!(group.logs.iter().all(|l| l.time == unix && l.time_ns.is_none()), "web tracking keeps times");
            }
            // Ingest validates converted bodies without the raw-size rule (the JSON's size was checked).
            check_group(&raw, &Limits { max_raw_bytes: usize::MAX, ..Limits::default() });
        }
    }
}

/// The `Value` path of json.rs (`value_log_group`, `entry_to_log`, `text`, `time_field`), kept
/// here as the oracle because it is private there.
pub fn reference_json(body: &[u8], time: LogTime, max_logs: usize) -> ApiResult<Vec<u8>> {
    let invalid = |m: String| ApiError::new(ErrorCode::PostBodyInvalid, m);
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let time_field = |v: &Value, what: &str| {
        match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidTimestamp, format!("{what} must be a non-negative integer")))
    };
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("the JSON body cannot be parsed: {e}")))?;
    let Value::Object(doc) = doc else {
        return Err(invalid("the JSON body must be an object".into()));
    };
    let logs = match doc.get("__logs__") {
        Some(Value::Array(logs)) => logs,
        Some(_) => return Err(invalid("__logs__ must be an array of objects".into())),
        None => return Err(invalid("__logs__ is missing".into())),
    };
    if logs.len() > max_logs {
        return Err(ApiError::new(ErrorCode::PostBodyTooLarge, format!("more than {max_logs} logs in one request")));
    }
    let mut group = pb::LogGroup {
        topic: doc.get("__topic__").map(text),
        source: doc.get("__source__").map(text),
        ..Default::default()
    };
    for entry in logs {
        let Value::Object(entry) = entry else {
            return Err(invalid("every entry of __logs__ must be an object".into()));
        };
        let (mut secs, mut nanos) = match time {
            LogTime::Receive { unix } => (u64::from(unix), None),
            LogTime::FromEntries { receive_unix } => (u64::from(receive_unix), None),
        };
        let mut contents = Vec::with_capacity(entry.len());
        for (key, value) in entry {
            match (key.as_str(), time) {
                ("__time__", LogTime::FromEntries { .. }) => secs = time_field(value, "__time__")?,
                ("__time_ns_part__", LogTime::FromEntries { .. }) => {
                    nanos = Some(time_field(value, "__time_ns_part__")?)
                }
                ("__time__" | "__time_ns_part__", LogTime::Receive { .. }) => {}
                _ => contents.push(pb::log::Content { key: key.clone(), value: text(value) }),
            }
        }
        let time =
            u32::try_from(secs).map_err(|_| ApiError::new(ErrorCode::InvalidTimestamp, "__time__ is out of range"))?;
        let time_ns = nanos
            .map(|n| {
                u32::try_from(n)
                    .map_err(|_| ApiError::new(ErrorCode::InvalidTimestamp, "__time_ns_part__ is out of range"))
            })
            .transpose()?;
        group.logs.push(pb::Log { time, contents, time_ns });
    }
    match doc.get("__tags__") {
        None | Some(Value::Null) => {}
        Some(Value::Object(tags)) => {
            group.log_tags = tags.iter().map(|(k, v)| pb::LogTag { key: k.clone(), value: text(v) }).collect();
        }
        Some(_) => return Err(invalid("__tags__ must be an object".into())),
    }
    Ok(group.encode_to_vec())
}

/// Container-log callback records: the fast path agrees with the `Value` reference, every record
/// carries the required fields, and the per-logstore LogGroups built from them (written byte by
/// byte, not by prost) decode and re-encode to the same bytes.
pub fn callback(data: &[u8]) {
    for max_logs in [MAX_LOGS, 2] {
        let got = callback::parse_records(data, max_logs);
        let want = reference_records(data, max_logs);
        match (&got, &want) {
            (Ok(g), Ok(w)) => assert_eq!(g, w, "callback fast path and Value reference disagree"),
            (Err(g), Err(w)) => {
                assert_client_error(g, "parse_records");
                assert_eq!((g.code, &g.message), (w.code, &w.message), "different errors");
            }
            (g, w) => panic!("parse_records {:?} but the reference {:?}", g.as_ref().map(Vec::len), w),
        }
        let Ok(records) = got else { continue };
        assert!(records.len() <= max_logs);
        for r in &records {
            for field in callback::STRING_FIELDS.iter().chain(callback::INTEGER_FIELDS) {
                assert!(r.get(field).is_some(), "record without {field}");
            }
            assert!(r.time_ns.unwrap_or(0) < 1_000_000_000);
        }
        let count = records.len();
        let cfg = logtide::config::CallbackConfig::default();
        let reqs = logtide::http::callback::requests(records, &cfg, "127.0.0.1");
        let mut logs = 0;
        for req in &reqs {
            let group = pb::LogGroup::decode(&req.body[..]).expect("a callback LogGroup decodes");
            assert!(group.encode_to_vec() == req.body[..], "callback LogGroup bytes are not prost's");
            logs += group.logs.len();
            check_group(&req.body, &Limits { max_raw_bytes: usize::MAX, ..Limits::default() });
        }
        assert_eq!(logs, count);
    }
}

/// The `Value` path of callback.rs (`value_records`, `check_record`, `parse_timestamp`).
pub fn reference_records(body: &[u8], max_logs: usize) -> ApiResult<Vec<Record>> {
    let invalid = |index: usize, m: String| ApiError::new(ErrorCode::PostBodyInvalid, format!("record {index}: {m}"));
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::new(ErrorCode::PostBodyInvalid, format!("the JSON body cannot be parsed: {e}")))?;
    let Value::Array(items) = doc else {
        return Err(ApiError::new(ErrorCode::PostBodyInvalid, "the body must be a JSON array of records"));
    };
    if items.len() > max_logs {
        return Err(ApiError::new(ErrorCode::PostBodyTooLarge, format!("more than {max_logs} records in one request")));
    }
    let check = |index: usize, record: &Map<String, Value>| -> ApiResult<Record> {
        for field in callback::STRING_FIELDS {
            match record.get(*field) {
                Some(Value::String(_)) => {}
                Some(_) => return Err(invalid(index, format!("{field} must be a string"))),
                None => return Err(invalid(index, format!("{field} is required"))),
            }
        }
        for field in callback::INTEGER_FIELDS {
            match record.get(*field) {
                Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {}
                Some(_) => return Err(invalid(index, format!("{field} must be an integer"))),
                None => return Err(invalid(index, format!("{field} is required"))),
            }
        }
        let stamp = record.get("@timestamp").and_then(Value::as_str).unwrap_or_default();
        let (time, time_ns) = reference_timestamp(stamp).ok_or_else(|| {
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
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Object(record) => check(i, record),
            _ => Err(invalid(i, "must be a JSON object".into())),
        })
        .collect()
}

fn reference_timestamp(text: &str) -> Option<(u32, Option<u32>)> {
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

/// An LTS report body in both shapes: each line is one log with the single `content` field, the
/// times are `log_time_ns` (+ i ns for `tenant/contents`), and the group validates as ingest
/// sends it.
pub fn lts_report(data: &[u8]) {
    for shape in [ReportShape::Contents, ReportShape::HighAccuracy] {
        let raw = match lts::report_to_log_group(data, shape, MAX_LOGS) {
            Ok(raw) => raw,
            Err(e) => {
                assert_client_error(&e, "report_to_log_group");
                continue;
            }
        };
        let group = pb::LogGroup::decode(&raw[..]).expect("a converted report decodes");
        assert!(group.logs.len() <= MAX_LOGS);
        let ns = |l: &pb::Log| u64::from(l.time) * 1_000_000_000 + u64::from(l.time_ns.unwrap_or(0));
        for (i, log) in group.logs.iter().enumerate() {
            assert_eq!(log.contents.len(), 1);
            assert_eq!(log.contents[0].key, lts::CONTENT_KEY);
            assert!(log.time_ns.is_some_and(|n| n < 1_000_000_000));
            if shape == ReportShape::Contents && i > 0 {
                assert_eq!(ns(log), ns(&group.logs[i - 1]) + 1, "line {i} is not 1 ns after the one before");
            }
        }
        check_group(&raw, &Limits { max_raw_bytes: usize::MAX, ..Limits::default() });
    }
}

/// Management and query JSON bodies (SLS CreateProject/CreateLogstore, GetLogs v2; LTS log
/// groups and streams, ttl updates, ListLogs, log dumps): whatever they refuse is a 4xx.
pub fn mgmt_json(data: &[u8]) {
    use logtide::api;
    let settings = logtide::catalog::LogstoreSettings {
        ttl: 30,
        shard_count: 2,
        enable_tracking: false,
        append_meta: false,
        auto_split: false,
        max_split_shard: 64,
        telemetry_type: String::new(),
    };
    let errors = [
        api::sls::parse_project_body(data).err(),
        api::sls::parse_logstore_body(data, settings).err(),
        api::lts::parse_create_log_group(data).err(),
        api::lts::parse_create_log_stream(data).err(),
        api::lts::parse_update_ttl(data).err(),
        api::lts_query::parse_log_query(data).err(),
        logtide::dump::parse_create(data).err(),
    ];
    for e in errors.iter().flatten() {
        assert_client_error(e, "management body");
    }
    match api::sls_query::parse_v2(data) {
        Ok(req) => check_expr(&req.expr, &req.query),
        Err(e) => assert_client_error(&e, "GetLogs v2 body"),
    }
}

// ---------------------------------------------------------------------------------------------
// Requests as text: signatures (src/auth) and request heads (src/http/router.rs, lts.rs, …)
// ---------------------------------------------------------------------------------------------

/// A request parsed from fuzz input. `path` is percent-decoded as the server decodes it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub raw_path: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Request {
    pub fn view(&self) -> RequestView<'_> {
        RequestView {
            method: &self.method,
            path: &self.path,
            raw_query: self.query.as_deref(),
            headers: &self.headers,
            body: &self.body,
        }
    }
}

/// `METHOD target\n`, then `Name: value\n` lines, an empty line, and the body (`\r\n` works too).
/// Lines that make no valid header are skipped, as a server would never see them.
pub fn parse_request(data: &[u8]) -> Request {
    let (head, body) = match find(data, b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => match find(data, b"\r\n\r\n") {
            Some(at) => (&data[..at], &data[at + 4..]),
            None => (data, &[][..]),
        },
    };
    let mut lines = head.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let first = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let (method, target) = first.split_once(' ').unwrap_or((&first, "/"));
    let (raw_path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (target.to_string(), None),
    };
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.trim_ascii()), HeaderValue::from_bytes(value)) {
            headers.append(name, value);
        }
    }
    Request {
        method: method.to_string(),
        path: router::decode(&raw_path),
        raw_path,
        query,
        headers,
        body: body.to_vec(),
    }
}

/// Writes a request in the layout [`parse_request`] reads.
pub fn request_text(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {target}\n").into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(format!("{name}: {value}\n").as_bytes());
    }
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The key ring of the targets: the SLS vectors' key, the LTS vectors' key and one LTS token.
pub fn ring() -> &'static KeyRing {
    static RING: OnceLock<KeyRing> = OnceLock::new();
    RING.get_or_init(|| {
        let key = |id: &str, secret: &str| AccessKey::new(id, Secret::new(secret));
        let token = LtsToken { token: Secret::new(LTS_TOKEN), project_id: LTS_PROJECT.into() };
        KeyRing::new(vec![key("AKID", "SECRET"), key("testak", "testsk")], vec![token])
    })
}

/// Both verifiers on one request: SLS (v1 or v4, at [`SLS_NOW`]) and LTS (at [`LTS_NOW`]).
pub fn verdicts(req: &Request) -> (ApiResult<Verified>, ApiResult<Verified>) {
    let view = req.view();
    (ring().verify(&view, SLS_NOW), ring().verify_lts(&view, LTS_NOW))
}

/// Signature and date parsing of SLS v1 (`LOG id:sig`), v4 (`SLS4-HMAC-SHA256 Credential=…`),
/// LTS (`SDK-HMAC-SHA256 Access=…`) and `X-Auth-Token`. A request that verifies must stop
/// verifying when its method changes, when the clock moves past the skew window (the date checked
/// is the date signed), and, for v4 and LTS, when its body changes.
pub fn auth(data: &[u8]) {
    let req = parse_request(data);
    let (sls, lts) = verdicts(&req);
    let scheme = req.headers.get(http::header::AUTHORIZATION).map(|v| v.as_bytes().trim_ascii_start().to_vec());
    for (verdict, now, is_lts) in [(&sls, SLS_NOW, false), (&lts, LTS_NOW, true)] {
        let verify = |r: &Request, now: i64| {
            if is_lts {
                ring().verify_lts(&r.view(), now)
            } else {
                ring().verify(&r.view(), now)
            }
        };
        let who = match verdict {
            Ok(who) => who,
            Err(e) => {
                assert_client_error(e, if is_lts { "verify_lts" } else { "verify" });
                continue;
            }
        };
        assert!(["AKID", "testak"].contains(&who.access_key_id.as_str()));
        assert!(ring().authorize_project(who, "myproj", logtide::auth::Access::Write).is_ok());
        let late = verify(&req, now + 2 * MAX_CLOCK_SKEW_SECS as i64 + 1);
        assert_eq!(late.map_err(|e| e.code), Err(ErrorCode::RequestTimeExpired), "the clock moved by 1801 s");
        let mut other = req.clone();
        other.method.push('X');
        assert!(verify(&other, now).is_err(), "a request verified with another method");
        let v4 = scheme.as_deref().is_some_and(|s| s.starts_with(b"SLS4-HMAC-SHA256"));
        if is_lts || v4 {
            let mut other = req.clone();
            other.body.push(b'x');
            assert!(verify(&other, now).is_err(), "a request verified with another body");
        }
    }
    if let Some(token) = req.headers.get("x-auth-token").and_then(|v| v.to_str().ok()) {
        let project_id = req.path.trim_start_matches('/').split('/').nth(1).unwrap_or("");
        match ring().verify_token(token, project_id) {
            Ok(_) => assert!(token == LTS_TOKEN && project_id == LTS_PROJECT, "a wrong token was accepted"),
            Err(e) => assert_client_error(&e, "verify_token"),
        }
    }
}

/// Everything read from a request head before its body: the SLS and LTS routers, the project from
/// `Host`/`x-log-project`, the compression headers, `x-log-bodyrawsize`, PullLogs cursors, and the
/// web-tracking GET beacons built from the query (which must then validate or be refused).
pub fn http_head(data: &[u8]) {
    let req = parse_request(data);
    let method = Method::from_bytes(req.method.as_bytes()).unwrap_or(Method::POST);
    let query = Query::parse(req.query.as_deref());
    let header = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok());
    let routed = router::route(&method, &req.path, &query);
    match &routed {
        Ok(Endpoint::PutLogs { hash_key: Some(key), .. }) => {
            if let Err(e) = route::parse_hash_key(key) {
                assert_client_error(&e, "hash key from ?key=");
            }
        }
        Ok(Endpoint::PullLogs { cursor, end_cursor, .. }) => {
            for c in std::iter::once(cursor).chain(end_cursor) {
                match logtide::api::sls::decode_cursor(c) {
                    Ok(seq) => assert_eq!(
                        logtide::api::sls::decode_cursor(&logtide::api::sls::encode_cursor(seq)).ok(),
                        Some(seq)
                    ),
                    Err(e) => assert_client_error(&e, "decode_cursor"),
                }
            }
        }
        Ok(_) => {}
        Err(e) => assert_client_error(e, "router::route"),
    }
    if let Err(e) = logtide::http::lts::route(&method, &req.path, &query) {
        assert_client_error(&e, "lts::route");
    }
    let _ = logtide::http::lts::is_lts_path(&req.path);
    let _ = logtide::http::lts::dialect_of(&req.path);
    if let Some(project) = logtide::http::project_of(&req.headers, &["cn-hangzhou.log.aliyuncs.com".to_string()]) {
        assert!(!project.is_empty());
    }
    match Compression::from_header(header("x-log-compresstype")) {
        Ok(c) => {
            if let Some(name) = c.as_header() {
                assert_eq!(Compression::from_header(Some(name)).ok(), Some(c), "as_header round trip");
            }
        }
        Err(e) => assert_client_error(&e, "x-log-compresstype"),
    }
    if let Err(e) = Compression::from_content_encoding(header("content-encoding")) {
        assert_client_error(&e, "content-encoding");
    }
    let picked = Compression::from_accept_encoding(header("accept-encoding"));
    assert!(matches!(picked, Compression::None | Compression::Lz4 | Compression::Zstd));
    if let Some(hash_key) = header("x-log-hashkey") {
        let _ = route::parse_hash_key(hash_key);
    }
    let _ = header("x-log-bodyrawsize").map(|v| v.parse::<usize>());
    let raw_query_len = req.query.as_ref().map_or(0, String::len);
    for kind in [TrackKind::Get, TrackKind::Gif, TrackKind::GifWithUserAgent] {
        match logtide::http::webtrack::beacon_log_group(raw_query_len, &query, &req.headers, kind, NOW as u32) {
            Ok(raw) => {
                check_group(&raw, &Limits::default());
            }
            Err(e) => assert_client_error(&e, "beacon_log_group"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hash keys (src/route.rs) and search queries (src/query)
// ---------------------------------------------------------------------------------------------

/// Hash-key normalisation: accepted exactly when 1 to 32 hex digits (blanks around ignored),
/// case-insensitive, right-padded with zeros, idempotent through [`route::format_key`]; the key
/// has exactly one owner among fresh shards, and splitting that shard at the key partitions it.
/// The persisted form (a shard's hex `begin`) round-trips too.
pub fn hash_key(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let trimmed = text.trim();
    let valid = !trimmed.is_empty() && trimmed.len() <= 32 && trimmed.bytes().all(|b| b.is_ascii_hexdigit());
    match route::parse_hash_key(&text) {
        Err(e) => {
            assert!(!valid, "{text:?} refused");
            assert_client_error(&e, "parse_hash_key");
        }
        Ok(key) => {
            assert!(valid, "{text:?} accepted");
            let formatted = route::format_key(key);
            assert_eq!(formatted.len(), 32);
            assert!(formatted.starts_with(&trimmed.to_ascii_lowercase()), "{formatted} is not {trimmed:?} padded");
            assert_eq!(route::parse_hash_key(&formatted).ok(), Some(key), "normalisation is not idempotent");
            assert_eq!(route::parse_hash_key(&trimmed.to_ascii_uppercase()).ok(), Some(key), "case matters");
            let count = data.len() % 64 + 1;
            let shards = route::initial_shards(count as u32, 0);
            let owners: Vec<&route::Shard> = shards.iter().filter(|s| s.owns(key)).collect();
            assert_eq!(owners.len(), 1, "key {formatted} has {} owners among {count} shards", owners.len());
            assert_eq!(route::route_key(&shards, key), Some(owners[0].id));
            if let Ok(((b1, e1), (b2, e2))) = route::split_range(owners[0], key) {
                assert_eq!((b1, e1, b2, e2), (owners[0].begin, key, key, owners[0].end));
            }
        }
    }
    let json = format!(
        r#"{{"id":0,"status":"readwrite","begin":{},"end":"ffffffffffffffffffffffffffffffff","create_time":0}}"#,
        Value::String(text.clone().into_owned())
    );
    if let Ok(shard) = serde_json::from_str::<route::Shard>(&json) {
        let back: route::Shard =
            serde_json::from_str(&serde_json::to_string(&shard).expect("serializes")).expect("reads back");
        assert_eq!(back, shard);
    }
}

/// The SLS search syntax (GetLogs `query`), the GetLogs v1 query parameters and LTS keywords:
/// parse, then match the text itself (as a value and as a topic) so that patterns meet hostile
/// content too.
pub fn sls_query(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match logtide::query::sls::parse(&text) {
        Ok(expr) => check_expr(&expr, &text),
        Err(e) => assert_client_error(&e, "query::sls::parse"),
    }
    match logtide::query::keywords::Keywords::parse(&text) {
        Ok(Some(k)) => {
            let _ = k.matches(&text);
            let highlighted = k.highlight(&text);
            assert!(highlighted.len() >= text.len());
        }
        Ok(None) => {}
        Err(e) => assert_client_error(&e, "Keywords::parse"),
    }
    let query = Query::parse(Some(&text));
    match logtide::api::sls_query::parse_v1(|k| query.get(k)) {
        Ok(req) => check_expr(&req.expr, &req.query),
        Err(e) => assert_client_error(&e, "GetLogs v1 parameters"),
    }
}

/// Evaluates a parsed expression against one log built from `text`.
fn check_expr(expr: &logtide::query::sls::Expr, text: &str) {
    let log = pb::Log {
        time: NOW as u32,
        contents: vec![pb::log::Content { key: "msg".into(), value: text.to_string() }],
        time_ns: None,
    };
    let group = pb::LogGroup {
        topic: Some(text.to_string()),
        log_tags: vec![pb::LogTag { key: "host".into(), value: text.to_string() }],
        ..Default::default()
    };
    let _ = expr.matches(&group, &log);
}
