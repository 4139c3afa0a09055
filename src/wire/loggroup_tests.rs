//! Tests of the in-place LogGroup validator: unit cases for every error code, and property
//! tests comparing the walker with prost decoding plus the same checks.
use super::*;
use crate::wire::pb;
use prost::Message;

const NOW: u64 = 1_700_000_000;
/// The test vector captured from the Python SDK (sls.md §1).
const CAPTURED: &str = "0a130880e2cfaa0612060a016b12017625050000001a002207312e322e332e34";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn check(raw: &[u8]) -> ApiResult<GroupStats> {
    validate_log_group(raw, &Limits::default(), NOW)
}

fn code_of(raw: &[u8]) -> ErrorCode {
    check(raw).unwrap_err().code
}

fn log(time: u32, pairs: &[(&str, &str)]) -> pb::Log {
    pb::Log {
        time,
        contents: pairs.iter().map(|(k, v)| pb::log::Content { key: k.to_string(), value: v.to_string() }).collect(),
        time_ns: None,
    }
}

fn group(logs: Vec<pb::Log>) -> pb::LogGroup {
    pb::LogGroup { logs, ..Default::default() }
}

// Hand-built wire pieces.
fn key(field: u32, wire: u8) -> Vec<u8> {
    let mut out = Vec::new();
    encode_varint(u64::from(field << 3 | u32::from(wire)), &mut out);
    out
}
fn len(field: u32, bytes: &[u8]) -> Vec<u8> {
    let mut out = key(field, LEN);
    encode_varint(bytes.len() as u64, &mut out);
    out.extend_from_slice(bytes);
    out
}
fn var(field: u32, value: u64) -> Vec<u8> {
    let mut out = key(field, VARINT);
    encode_varint(value, &mut out);
    out
}
fn fixed32(field: u32, value: u32) -> Vec<u8> {
    [key(field, I32), value.to_le_bytes().to_vec()].concat()
}
fn content(k: &[u8], v: &[u8]) -> Vec<u8> {
    len(2, &[len(1, k), len(2, v)].concat())
}
/// A LogGroup holding one log with the given fields after `time = NOW`.
fn one_log(rest: &[u8]) -> Vec<u8> {
    len(1, &[var(1, NOW), rest.to_vec()].concat())
}

#[test]
fn captured_python_vector() {
    let raw = unhex(CAPTURED);
    let stats = validate_log_group(&raw, &Limits::default(), 1_700_000_000).unwrap();
    let expected = GroupStats { logs: 1, min_time: 1_700_000_000, max_time: 1_700_000_000, raw_len: 32 };
    assert_eq!(stats, expected);
    let decoded = pb::LogGroup::decode(&raw[..]).unwrap();
    assert_eq!(decoded.logs[0].time_ns, Some(5));
    assert_eq!(decoded.topic.as_deref(), Some(""));
    assert_eq!(decoded.source.as_deref(), Some("1.2.3.4"));
    // Eight days later the same log is out of the time window.
    let err = validate_log_group(&raw, &Limits::default(), NOW + 8 * 86_400).unwrap_err();
    assert_eq!(err.code, ErrorCode::PostBodyTimeOutOfRange);
}

#[test]
fn stats_cover_every_log() {
    let g = pb::LogGroup {
        logs: vec![log(NOW as u32 - 10, &[("a", "1")]), log(NOW as u32 + 5, &[]), log(NOW as u32, &[("b", "")])],
        topic: Some("t".into()),
        source: Some("10.0.0.1".into()),
        machine_uuid: Some("5c9f0f7e-0000-4000-8000-000000000000".into()),
        reserved: Some("category".into()),
        log_tags: vec![pb::LogTag { key: "__path__".into(), value: "/var/log/x".into() }],
    };
    let raw = g.encode_to_vec();
    let stats = check(&raw).unwrap();
    assert_eq!(
        stats,
        GroupStats { logs: 3, min_time: NOW as u32 - 10, max_time: NOW as u32 + 5, raw_len: raw.len() as u32 }
    );
    assert_eq!(check(&[]).unwrap(), GroupStats::default(), "an empty group is valid");
}

#[test]
fn malformed_framing_is_post_body_invalid() {
    let ten_byte_max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated key varint", vec![0x80]),
        ("missing length", vec![0x0a]),
        ("length past the end", vec![0x0a, 0x05, 0x08]),
        ("length 0xFFFFFFFF", vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
        ("truncated unknown varint", vec![0x38, 0x80]),
        ("11-byte varint", [vec![0x38], vec![0x80; 10], vec![0x01]].concat()),
        ("10th varint byte above 1", [vec![0x38], ten_byte_max[..9].to_vec(), vec![0x02]].concat()),
        ("truncated fixed64", vec![0x39, 1, 2, 3]),
        ("truncated fixed32", vec![0x3d, 1, 2, 3]),
        ("start group", vec![0x3b, 0x3c]),
        ("end group", vec![0x3c]),
        ("wire type 6", vec![0x3e, 0x00]),
        ("wire type 7", vec![0x3f, 0x00]),
        ("field number 0", vec![0x02, 0x00]),
        ("key above u32::MAX", [vec![0x80, 0x80, 0x80, 0x80, 0x10], var(1, 1)].concat()),
        ("logs as varint", var(1, 1)),
        ("topic as varint", var(3, 1)),
        ("reserved as fixed32", fixed32(2, 0)),
        ("tags as fixed32", fixed32(6, 0)),
        ("time as bytes", len(1, &len(1, b""))),
        ("contents as varint", one_log(&var(2, 1))),
        ("time_ns as varint", one_log(&var(4, 5))),
        ("key as varint", one_log(&len(2, &[var(1, 1), len(2, b"v")].concat()))),
        ("tag value as fixed32", len(6, &[len(1, b"k"), fixed32(2, 1)].concat())),
        ("log without time", len(1, &content(b"k", b"v"))),
        ("empty log", len(1, b"")),
        ("content without key", one_log(&len(2, &len(2, b"v")))),
        ("content without value", one_log(&len(2, &len(1, b"k")))),
        ("tag without key", len(6, &len(2, b"v"))),
        ("tag without value", len(6, &len(1, b"k"))),
        ("truncated nested content", one_log(&[0x12, 0x03, 0x0a, 0x05, b'k'])),
        ("topic longer than 128 bytes", len(3, &[b't'; 129])),
        ("tag key longer than 128 bytes", len(6, &[len(1, &[b'k'; 129]), len(2, b"")].concat())),
    ];
    for (what, raw) in cases {
        let err = check(&raw).unwrap_err();
        assert_eq!(err.code, ErrorCode::PostBodyInvalid, "{what}: {err}");
    }
    assert_eq!(check(&len(1, b"")).unwrap_err().message, "Protobuffer content cannot be parsed.");
    // The longest legal varint is fine where a varint is unknown.
    assert!(check(&[vec![0x38], ten_byte_max.to_vec()].concat()).is_ok());
}

#[test]
fn unknown_fields_are_skipped_at_every_level() {
    let unknown = [var(9, 300), key(10, I64), vec![0; 8], len(11, b"\xff\xfe"), fixed32(12, 7)].concat();
    // loongcollector's `repeated string values = 3` inside Log; not UTF-8-checked.
    let lc_values = [len(3, b"raw line"), len(3, b"\xff")].concat();
    let log_body = [var(1, NOW), lc_values, unknown.clone(), content(b"k", b"v")].concat();
    let content_with_unknown = len(2, &[len(1, b"k"), unknown.clone(), len(2, b"v")].concat());
    let tag = len(6, &[unknown.clone(), len(1, b"k"), len(2, b"v")].concat());
    let raw = [unknown.clone(), len(1, &log_body), one_log(&content_with_unknown), tag, unknown].concat();
    let stats = check(&raw).unwrap();
    assert_eq!(stats.logs, 2);
    let decoded = pb::LogGroup::decode(&raw[..]).unwrap();
    assert_eq!(decoded.logs.len(), 2);
}

#[test]
fn time_window_and_time_ns() {
    let limits = Limits::default();
    let at = |t: u64| check(&group(vec![log(t as u32, &[("k", "v")])]).encode_to_vec());
    assert!(at(NOW - limits.max_past_secs).is_ok());
    assert!(at(NOW + limits.max_future_secs).is_ok());
    assert_eq!(at(NOW - limits.max_past_secs - 1).unwrap_err().code, ErrorCode::PostBodyTimeOutOfRange);
    assert_eq!(at(NOW + limits.max_future_secs + 1).unwrap_err().code, ErrorCode::PostBodyTimeOutOfRange);
    assert_eq!(at(0).unwrap_err().code, ErrorCode::PostBodyTimeOutOfRange);

    assert!(check(&one_log(&fixed32(4, 999_999_999))).is_ok());
    for ns in [1_000_000_000, u32::MAX] {
        let err = check(&one_log(&fixed32(4, ns))).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidTimestamp, "{ns}");
    }
    // uint32 keeps the low 32 bits of a longer varint, like every protobuf parser.
    let wide = len(1, &var(1, (1 << 32) | NOW));
    assert_eq!(check(&wide).unwrap().min_time, NOW as u32);
    // A repeated time: each occurrence is checked, the last one counts.
    let twice = len(1, &[var(1, NOW - 5), var(1, NOW)].concat());
    assert_eq!(check(&twice).unwrap().min_time, NOW as u32);
    assert_eq!(pb::LogGroup::decode(&twice[..]).unwrap().logs[0].time, NOW as u32);
    let bad_first = len(1, &[var(1, 0), var(1, NOW)].concat());
    assert_eq!(code_of(&bad_first), ErrorCode::PostBodyTimeOutOfRange);
}

#[test]
fn keys_and_values() {
    let with = |k: &[u8], v: &[u8]| code_of(&one_log(&content(k, v)));
    assert_eq!(with(b"", b"v"), ErrorCode::InvalidKey);
    assert_eq!(with(&[b'k'; 129], b"v"), ErrorCode::InvalidKey);
    for reserved in crate::validate::RESERVED_KEYS {
        assert_eq!(with(reserved.as_bytes(), b"v"), ErrorCode::InvalidKey, "{reserved}");
    }
    assert_eq!(with(b"k\xff", b"v"), ErrorCode::InvalidEncoding);
    assert_eq!(with(b"k", b"\xc3\x28"), ErrorCode::InvalidEncoding);
    assert_eq!(with(b"k", &vec![b'v'; 1024 * 1024 + 1]), ErrorCode::PostBodyTooLarge);
    assert!(check(&one_log(&content(&[b'k'; 128], &vec![b'v'; 1024 * 1024]))).is_ok());
    assert!(check(&one_log(&content("clé.名-:x".as_bytes(), "värde 值".as_bytes()))).is_ok());
}

#[test]
fn meta_fields_must_be_utf8() {
    for field in [2, 3, 4, 5] {
        assert_eq!(code_of(&len(field, b"\xff")), ErrorCode::InvalidEncoding, "field {field}");
        assert!(check(&len(field, &[b'm'; 128])).is_ok());
    }
    let tag = |k: &[u8], v: &[u8]| len(6, &[len(1, k), len(2, v)].concat());
    assert_eq!(code_of(&tag(b"\xff", b"v")), ErrorCode::InvalidEncoding);
    assert_eq!(code_of(&tag(b"k", b"\xff")), ErrorCode::InvalidEncoding);
    assert!(check(&tag(b"", b"")).is_ok(), "empty tags are not refused");
}

#[test]
fn sizes_and_counts() {
    let limits = Limits { max_raw_bytes: 64, ..Limits::default() };
    let raw = group(vec![log(NOW as u32, &[("k", "v")]); 4]).encode_to_vec();
    assert!(raw.len() <= 64);
    assert!(validate_log_group(&raw, &limits, NOW).is_ok());
    let raw = group(vec![log(NOW as u32, &[("k", "v")]); 8]).encode_to_vec();
    let err = validate_log_group(&raw, &limits, NOW).unwrap_err();
    assert_eq!(err.code, ErrorCode::PostBodyTooLarge);

    let max = group(vec![log(NOW as u32, &[]); 4096]).encode_to_vec();
    assert_eq!(check(&max).unwrap().logs, 4096);
    let over = group(vec![log(NOW as u32, &[]); 4097]).encode_to_vec();
    assert_eq!(code_of(&over), ErrorCode::PostBodyTooLarge);
}

#[test]
fn log_count_stops_the_walk_early() {
    // 4,097 good logs followed by garbage: the count limit is hit before the garbage.
    let mut raw = group(vec![log(NOW as u32, &[]); 4097]).encode_to_vec();
    raw.extend_from_slice(&[0x0a, 0xff, 0xff, 0xff, 0x7f]);
    assert_eq!(code_of(&raw), ErrorCode::PostBodyTooLarge);
    // 3 MiB of 8-byte logs (~390k) is refused at log 4,097 (reliability.md B5).
    let one = one_log(&[]);
    let raw: Vec<u8> = one.iter().copied().cycle().take(3 * 1024 * 1024 / one.len() * one.len()).collect();
    let started = std::time::Instant::now();
    assert_eq!(code_of(&raw), ErrorCode::PostBodyTooLarge);
    assert!(started.elapsed() < std::time::Duration::from_millis(500));
}

#[test]
fn first_violation_in_wire_order_wins() {
    let raw = [one_log(&content(b"", b"v")), len(3, b"\xff"), vec![0x0a]].concat();
    assert_eq!(code_of(&raw), ErrorCode::InvalidKey);
    let raw = [len(3, b"\xff"), one_log(&content(b"", b"v"))].concat();
    assert_eq!(code_of(&raw), ErrorCode::InvalidEncoding);
}

#[test]
fn appended_tags_decode_as_log_tags() {
    let mut raw = unhex(CAPTURED);
    let long = "v".repeat(200);
    append_tags(&mut raw, &[("__client_ip__", "1.2.3.4"), ("__receive_time__", "1700000000")]);
    assert_eq!(check(&raw).unwrap().logs, 1);
    append_tags(&mut raw, &[("k", &long)]);
    let decoded = pb::LogGroup::decode(&raw[..]).unwrap();
    let tags: Vec<(&str, &str)> = decoded.log_tags.iter().map(|t| (t.key.as_str(), t.value.as_str())).collect();
    assert_eq!(tags, [("__client_ip__", "1.2.3.4"), ("__receive_time__", "1700000000"), ("k", long.as_str())]);
    assert_eq!(decoded.logs.len(), 1);
    append_tags(&mut raw, &[]);
    assert_eq!(pb::LogGroup::decode(&raw[..]).unwrap(), decoded);
}

#[test]
fn log_group_list_entries_decode() {
    let small = unhex(CAPTURED);
    let big = group(vec![log(NOW as u32, &[("k", &"x".repeat(300))])]).encode_to_vec();
    let mut out = Vec::new();
    write_log_group_list_entry(&mut out, &small);
    write_log_group_list_entry(&mut out, &big);
    write_log_group_list_entry(&mut out, &[]);
    let list = pb::LogGroupList::decode(&out[..]).unwrap();
    assert_eq!(list.log_groups.len(), 3);
    assert_eq!(list.log_groups[0].encode_to_vec(), small);
    assert_eq!(list.log_groups[1].encode_to_vec(), big);
    assert_eq!(list.log_groups[2], pb::LogGroup::default());
}
/// Property tests: the walker against prost decoding plus the same checks.
#[cfg(test)]
mod properties {
    use super::*;
    use crate::validate::RESERVED_KEYS;
    use crate::wire::pb;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use prost::Message;

    const NOW: u64 = 1_700_000_000;

    /// The reference: prost decoding, then the same `Limits` checks in wire order (prost encodes
    /// fields in field-number order, so for prost-encoded input the first error is the same).
    fn reference(raw: &[u8], limits: &Limits, now: u64) -> Result<GroupStats, ErrorCode> {
        let code = |e: ApiError| e.code;
        limits.check_raw_size(raw.len()).map_err(code)?;
        let g = pb::LogGroup::decode(raw).map_err(|_| ErrorCode::PostBodyInvalid)?;
        for (i, log) in g.logs.iter().enumerate() {
            limits.check_log_count(i + 1).map_err(code)?;
            limits.check_time(u64::from(log.time), now).map_err(code)?;
            for c in &log.contents {
                limits.check_key(c.key.as_bytes()).map_err(code)?;
                limits.check_value(c.value.as_bytes()).map_err(code)?;
            }
            if log.time_ns.is_some_and(|ns| ns > MAX_TIME_NS) {
                return Err(ErrorCode::InvalidTimestamp);
            }
        }
        for meta in [&g.reserved, &g.topic, &g.source, &g.machine_uuid].into_iter().flatten() {
            limits.check_meta("meta", meta.as_bytes()).map_err(code)?;
        }
        for tag in &g.log_tags {
            limits.check_meta("tag key", tag.key.as_bytes()).map_err(code)?;
            limits.check_meta("tag value", tag.value.as_bytes()).map_err(code)?;
        }
        Ok(expected_stats(&g, raw.len()))
    }

    fn expected_stats(g: &pb::LogGroup, raw_len: usize) -> GroupStats {
        let times = g.logs.iter().map(|l| l.time);
        GroupStats {
            logs: g.logs.len() as u32,
            min_time: times.clone().min().unwrap_or(0),
            max_time: times.max().unwrap_or(0),
            raw_len: raw_len as u32,
        }
    }

    fn walk(raw: &[u8], limits: &Limits) -> Result<GroupStats, ErrorCode> {
        validate_log_group(raw, limits, NOW).map_err(|e| e.code)
    }

    /// Up to `max` chars of any kind (1 to 4 bytes each).
    fn chars(min: usize, max: usize) -> impl Strategy<Value = String> {
        vec(any::<char>(), min..=max).prop_map(String::from_iter)
    }

    fn text(max: usize) -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::string::string_regex(&format!("[a-zA-Z0-9 ._:/=-]{{0,{max}}}")).unwrap(),
            chars(0, max / 4),
        ]
    }

    // ---- groups that respect the default limits ----

    fn valid_key() -> impl Strategy<Value = String> {
        prop_oneof![proptest::string::string_regex("[a-zA-Z_][a-zA-Z0-9_.:-]{0,40}").unwrap(), chars(1, 32),]
            .prop_filter("reserved", |k| !RESERVED_KEYS.contains(&k.as_str()))
    }

    fn valid_log() -> impl Strategy<Value = pb::Log> {
        let time = (NOW - 7 * 86_400)..=(NOW + 900);
        let content = (valid_key(), text(200)).prop_map(|(key, value)| pb::log::Content { key, value });
        (time, vec(content, 0..6), proptest::option::of(0..=MAX_TIME_NS))
            .prop_map(|(time, contents, time_ns)| pb::Log { time: time as u32, contents, time_ns })
    }

    fn valid_group() -> impl Strategy<Value = pb::LogGroup> {
        let meta = || proptest::option::of(text(120));
        let tag = (text(120), text(120)).prop_map(|(key, value)| pb::LogTag { key, value });
        (vec(valid_log(), 0..16), meta(), meta(), meta(), meta(), vec(tag, 0..4)).prop_map(
            |(logs, reserved, topic, source, machine_uuid, log_tags)| pb::LogGroup {
                logs,
                reserved,
                topic,
                source,
                machine_uuid,
                log_tags,
            },
        )
    }

    // ---- groups near tight limits, valid or not ----

    fn tight_limits() -> Limits {
        Limits {
            max_raw_bytes: 1024,
            max_logs: 5,
            max_past_secs: 100,
            max_future_secs: 10,
            max_key_bytes: 6,
            max_value_bytes: 12,
            max_meta_bytes: 8,
        }
    }

    fn edgy_group() -> impl Strategy<Value = pb::LogGroup> {
        let key = prop_oneof![
            12 => proptest::string::string_regex("[a-z]{1,6}").unwrap(),
            1 => proptest::string::string_regex("[a-z]{7}").unwrap(),
            1 => Just(String::new()),
            1 => Just("__topic__".to_string()),
            1 => chars(1, 3),
        ];
        let value = prop_oneof![
            8 => proptest::string::string_regex("[a-z ]{0,12}").unwrap(),
            1 => chars(0, 6),
        ];
        let content = (key, value).prop_map(|(key, value)| pb::log::Content { key, value });
        let time_ns = proptest::option::of(prop_oneof![0..=MAX_TIME_NS, MAX_TIME_NS..=u32::MAX]);
        let log = ((NOW - 110)..=(NOW + 12), vec(content, 0..4), time_ns)
            .prop_map(|(time, contents, time_ns)| pb::Log { time: time as u32, contents, time_ns });
        let meta = || proptest::option::of(chars(0, 5));
        let tag = (chars(0, 4), chars(0, 4)).prop_map(|(key, value)| pb::LogTag { key, value });
        (vec(log, 0..8), meta(), meta(), meta(), meta(), vec(tag, 0..3)).prop_map(
            |(logs, reserved, topic, source, machine_uuid, log_tags)| pb::LogGroup {
                logs,
                reserved,
                topic,
                source,
                machine_uuid,
                log_tags,
            },
        )
    }

    // ---- arbitrary wire structures ----

    /// A protobuf field as it appears on the wire, valid framing but any field number, wire
    /// type and nesting, so that known fields show up with wrong types, repeated, missing or
    /// out of order.
    #[derive(Debug, Clone)]
    enum Tok {
        Var(u32, u64),
        Fix32(u32, u32),
        Fix64(u32, u64),
        Bytes(u32, Vec<u8>),
        Msg(u32, Vec<Tok>),
    }

    fn encode_toks(toks: &[Tok], out: &mut Vec<u8>) {
        for tok in toks {
            let key =
                |field: u32, wire: u8, out: &mut Vec<u8>| encode_varint(u64::from(field) << 3 | u64::from(wire), out);
            match tok {
                Tok::Var(f, v) => {
                    key(*f, VARINT, out);
                    encode_varint(*v, out);
                }
                Tok::Fix32(f, v) => {
                    key(*f, I32, out);
                    out.extend_from_slice(&v.to_le_bytes());
                }
                Tok::Fix64(f, v) => {
                    key(*f, I64, out);
                    out.extend_from_slice(&v.to_le_bytes());
                }
                Tok::Bytes(f, b) => {
                    key(*f, LEN, out);
                    encode_varint(b.len() as u64, out);
                    out.extend_from_slice(b);
                }
                Tok::Msg(f, inner) => {
                    let mut body = Vec::new();
                    encode_toks(inner, &mut body);
                    key(*f, LEN, out);
                    encode_varint(body.len() as u64, out);
                    out.extend_from_slice(&body);
                }
            }
        }
    }

    /// Plausible groups (logs, contents and tags with shuffled, repeated or missing fields)
    /// mixed with arbitrary nested fields.
    fn toks() -> impl Strategy<Value = Vec<Tok>> {
        let field = prop_oneof![8 => 1..=6u32, 1 => 7..=20u32, 1 => Just(1_000_000u32)];
        let var = || prop_oneof![4 => (NOW - 50)..=(NOW + 5), 1 => 0..=300u64, 1 => any::<u64>()];
        let fix32 = || prop_oneof![6 => 0..=MAX_TIME_NS, 1 => any::<u32>()];
        let bytes = || {
            prop_oneof![
                6 => proptest::string::string_regex("[a-z]{0,6}").unwrap().prop_map(String::into_bytes),
                1 => Just(b"__time__".to_vec()),
                1 => vec(any::<u8>(), 0..6),
            ]
        };
        let leaf = prop_oneof![
            (field.clone(), var()).prop_map(|(f, v)| Tok::Var(f, v)),
            (field.clone(), fix32()).prop_map(|(f, v)| Tok::Fix32(f, v)),
            (field.clone(), any::<u64>()).prop_map(|(f, v)| Tok::Fix64(f, v)),
            (field.clone(), bytes()).prop_map(|(f, b)| Tok::Bytes(f, b)),
        ];
        let noise = leaf.prop_recursive(3, 48, 6, move |inner| {
            prop_oneof![
                1 => inner.clone(),
                2 => (field.clone(), vec(inner, 0..6)).prop_map(|(f, t)| Tok::Msg(f, t)),
            ]
        });
        let extra = || prop_oneof![3 => Just(Vec::new()), 1 => vec(noise.clone(), 1..3)];
        let pair = |field: u32| {
            let part = || prop_oneof![8 => bytes().prop_map(Some), 1 => Just(None)];
            (part(), part(), extra())
                .prop_map(|(k, v, mut toks)| {
                    toks.extend(k.map(|k| Tok::Bytes(1, k)));
                    toks.extend(v.map(|v| Tok::Bytes(2, v)));
                    toks
                })
                .prop_shuffle()
                .prop_map(move |toks| Tok::Msg(field, toks))
        };
        let times = prop_oneof![6 => vec(var(), 1..=1), 1 => vec(var(), 0..3)];
        let log = (times, vec(pair(2), 0..3), proptest::option::of(fix32()), extra())
            .prop_map(|(times, contents, ns, mut toks)| {
                toks.extend(times.into_iter().map(|t| Tok::Var(1, t)));
                toks.extend(contents);
                toks.extend(ns.map(|ns| Tok::Fix32(4, ns)));
                toks
            })
            .prop_shuffle()
            .prop_map(|toks| Tok::Msg(1, toks));
        vec(prop_oneof![4 => log, 1 => pair(6), 2 => noise], 0..8)
    }

    /// Whatever the walker accepts, prost decodes to a group that passes the same checks, with
    /// the same stats; whatever prost cannot decode, the walker refuses.
    fn assert_walker_implies_prost(raw: &[u8], limits: &Limits) -> Result<(), TestCaseError> {
        let walked = walk(raw, limits);
        if let Ok(stats) = &walked {
            prop_assert_eq!(reference(raw, limits, NOW), Ok(*stats));
        }
        if pb::LogGroup::decode(raw).is_err() {
            prop_assert!(walked.is_err(), "prost refuses but the walker accepts {:02x?}", raw);
        }
        Ok(())
    }

    /// Top-level field boundaries of an encoded group, computed from the message (prost encodes
    /// fields in field-number order), with the number of logs before each boundary.
    fn boundaries(g: &pb::LogGroup) -> Vec<(usize, u32)> {
        use prost::encoding::{message, string};
        let mut at = vec![(0, 0)];
        let mut pos = 0;
        for (i, log) in g.logs.iter().enumerate() {
            pos += message::encoded_len(1, log);
            at.push((pos, i as u32 + 1));
        }
        let n = g.logs.len() as u32;
        for (field, meta) in [(2, &g.reserved), (3, &g.topic), (4, &g.source), (5, &g.machine_uuid)] {
            if let Some(s) = meta {
                pos += string::encoded_len(field, s);
                at.push((pos, n));
            }
        }
        for tag in &g.log_tags {
            pos += message::encoded_len(6, tag);
            at.push((pos, n));
        }
        at
    }

    proptest! {
        // Few of these inputs are accepted (about 1 in 5, a fifth of those with logs): run many.
        #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

        #[test]
        fn walker_never_accepts_what_prost_refuses(toks in toks()) {
            let mut raw = Vec::new();
            encode_toks(&toks, &mut raw);
            assert_walker_implies_prost(&raw, &Limits::default())?;
            assert_walker_implies_prost(&raw, &tight_limits())?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn valid_groups_validate_with_exact_stats(g in valid_group()) {
            let raw = g.encode_to_vec();
            prop_assert_eq!(walk(&raw, &Limits::default()), Ok(expected_stats(&g, raw.len())));
        }

        #[test]
        fn walker_agrees_with_prost_on_encoded_groups(g in edgy_group()) {
            let raw = g.encode_to_vec();
            let limits = tight_limits();
            prop_assert_eq!(walk(&raw, &limits), reference(&raw, &limits, NOW));
        }

        #[test]
        fn mutated_groups_never_fool_the_walker(
            g in valid_group(),
            edits in vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..4),
        ) {
            let mut raw = g.encode_to_vec();
            for (at, byte, op) in edits {
                if raw.is_empty() {
                    raw.push(byte);
                    continue;
                }
                let i = at.index(raw.len());
                match op {
                    0 => raw[i] = byte,
                    1 => raw.insert(i, byte),
                    _ => { raw.remove(i); }
                }
            }
            assert_walker_implies_prost(&raw, &Limits::default())?;
        }

        #[test]
        fn random_bytes_never_panic(raw in vec(any::<u8>(), 0..256)) {
            assert_walker_implies_prost(&raw, &Limits::default())?;
        }

        /// A strict prefix of a valid group is valid exactly when it ends on a top-level field
        /// boundary, and then holds the logs before that boundary; cut anywhere else, it is a
        /// truncated key, length or payload, which is `PostBodyInvalid`.
        #[test]
        fn truncations_are_refused_unless_on_a_field_boundary(g in valid_group()) {
            let raw = g.encode_to_vec();
            let bounds = boundaries(&g);
            prop_assert_eq!(bounds.last().map(|b| b.0), Some(raw.len()));
            for cut in 0..raw.len() {
                let got = walk(&raw[..cut], &Limits::default());
                match bounds.iter().find(|b| b.0 == cut) {
                    Some(&(_, logs)) => prop_assert_eq!(got.map(|s| s.logs), Ok(logs), "cut {}", cut),
                    None => prop_assert_eq!(got, Err(ErrorCode::PostBodyInvalid), "cut {}", cut),
                }
            }
        }
    }
}
