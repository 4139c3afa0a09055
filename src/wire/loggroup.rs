//! The in-place `LogGroup` validator (the write hot path) and the byte-level helpers the read
//! path uses to extend stored groups. Schema: `proto/sls_logs.proto`, sls.md §1.
//!
//! The validator walks the serialized bytes once, without allocating and without decoding into
//! owned messages; every field rule comes from [`Limits`] so that all front doors agree. It is
//! at least as strict as `prost` decoding followed by the same checks: whatever it accepts,
//! `pb::LogGroup::decode` accepts too, with the same logs and times (see the equivalence
//! properties in the tests). It is stricter in three places: proto2 required fields must be
//! present, group wire types are refused, and a repeated scalar field is checked at every
//! occurrence rather than only the last one.

use prost::encoding::{encode_varint, encoded_len_varint};

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::validate::Limits;

/// What validation learned about one LogGroup.
///
/// `min_time` and `max_time` are the smallest and largest `Log.time` (unix seconds); both are 0
/// when the group has no logs. `raw_len` is the serialized length of the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupStats {
    pub logs: u32,
    pub min_time: u32,
    pub max_time: u32,
    pub raw_len: u32,
}

/// `LogGroup` field numbers.
mod group_field {
    pub const LOGS: u32 = 1;
    pub const RESERVED: u32 = 2;
    pub const TOPIC: u32 = 3;
    pub const SOURCE: u32 = 4;
    pub const MACHINE_UUID: u32 = 5;
    pub const LOG_TAGS: u32 = 6;
}

/// Largest valid `Log.time_ns`.
const MAX_TIME_NS: u32 = 999_999_999;

/// Walks a serialized LogGroup without allocating and checks every rule, returning the first
/// violation in wire order:
/// - malformed protobuf (truncated, a varint over 10 bytes, a length past the end, a group wire
///   type, wire type 6/7, field number 0), a known field with the wrong wire type, or a missing
///   required field (`Log.time`, `Content.key`, `Content.value`, `LogTag.key`, `LogTag.value`):
///   `PostBodyInvalid` "Protobuffer content cannot be parsed.";
/// - the group's size via [`Limits::check_raw_size`]; the log count via
///   [`Limits::check_log_count`], counted as logs are met so a flood of tiny logs stops at the
///   first one over the limit;
/// - `Log.time` via [`Limits::check_time`] against `now_unix`; `Log.time_ns` (fixed32, field 4)
///   at or above 1e9: `InvalidTimestamp`;
/// - content keys via [`Limits::check_key`], values via [`Limits::check_value`]; reserved (2),
///   topic (3), source (4), machine uuid (5), tag keys and values via [`Limits::check_meta`].
///
/// Unknown fields are skipped by wire type (including field 3 of `Log`, loongcollector's
/// internal `values`). Never panics.
pub fn validate_log_group(raw: &[u8], limits: &Limits, now_unix: u64) -> ApiResult<GroupStats> {
    limits.check_raw_size(raw.len())?;
    let mut logs: usize = 0;
    let mut min_time = u32::MAX;
    let mut max_time = 0;
    let mut r = Reader::new(raw);
    while !r.is_empty() {
        match r.key()? {
            (group_field::LOGS, LEN) => {
                let log = r.bytes()?;
                logs += 1;
                limits.check_log_count(logs)?;
                let time = check_log(log, limits, now_unix)?;
                min_time = min_time.min(time);
                max_time = max_time.max(time);
            }
            (group_field::RESERVED, LEN) => {
                limits.check_meta("reserved field", r.bytes()?)?;
            }
            (group_field::TOPIC, LEN) => {
                limits.check_meta("topic", r.bytes()?)?;
            }
            (group_field::SOURCE, LEN) => {
                limits.check_meta("source", r.bytes()?)?;
            }
            (group_field::MACHINE_UUID, LEN) => {
                limits.check_meta("machine uuid", r.bytes()?)?;
            }
            (group_field::LOG_TAGS, LEN) => check_tag(r.bytes()?, limits)?,
            (1..=6, _) => return Err(malformed()),
            (_, wire) => r.skip(wire)?,
        }
    }
    if logs == 0 {
        min_time = 0;
    }
    Ok(GroupStats { logs: saturate(logs), min_time, max_time, raw_len: saturate(raw.len()) })
}

/// Checks one `Log` and returns its time. A repeated `time` is checked at each occurrence and
/// the last one counts, as protobuf merging says.
#[inline]
fn check_log(log: &[u8], limits: &Limits, now_unix: u64) -> ApiResult<u32> {
    let mut time = None;
    let mut r = Reader::new(log);
    while !r.is_empty() {
        match r.key()? {
            (1, VARINT) => {
                // uint32 fields keep the low 32 bits of the varint (protobuf rules, prost too).
                let t = r.varint()? as u32;
                limits.check_time(u64::from(t), now_unix)?;
                time = Some(t);
            }
            (2, LEN) => check_content(r.bytes()?, limits)?,
            (4, I32) => {
                let ns = r.fixed32()?;
                if ns > MAX_TIME_NS {
                    return Err(invalid_time_ns(ns));
                }
            }
            (1 | 2 | 4, _) => return Err(malformed()),
            (_, wire) => r.skip(wire)?,
        }
    }
    time.ok_or_else(malformed)
}

#[inline]
fn check_content(content: &[u8], limits: &Limits) -> ApiResult<()> {
    let (mut has_key, mut has_value) = (false, false);
    let mut r = Reader::new(content);
    while !r.is_empty() {
        match r.key()? {
            (1, LEN) => {
                limits.check_key(r.bytes()?)?;
                has_key = true;
            }
            (2, LEN) => {
                limits.check_value(r.bytes()?)?;
                has_value = true;
            }
            (1 | 2, _) => return Err(malformed()),
            (_, wire) => r.skip(wire)?,
        }
    }
    if !(has_key && has_value) {
        return Err(malformed());
    }
    Ok(())
}

fn check_tag(tag: &[u8], limits: &Limits) -> ApiResult<()> {
    let (mut has_key, mut has_value) = (false, false);
    let mut r = Reader::new(tag);
    while !r.is_empty() {
        match r.key()? {
            (1, LEN) => {
                limits.check_meta("tag key", r.bytes()?)?;
                has_key = true;
            }
            (2, LEN) => {
                limits.check_meta("tag value", r.bytes()?)?;
                has_value = true;
            }
            (1 | 2, _) => return Err(malformed()),
            (_, wire) => r.skip(wire)?,
        }
    }
    if !(has_key && has_value) {
        return Err(malformed());
    }
    Ok(())
}

/// Appends `LogTag` entries (field 6) to a serialized LogGroup. Valid because parsing
/// concatenated protobuf messages merges their repeated fields.
pub fn append_tags(group: &mut Vec<u8>, tags: &[(&str, &str)]) {
    for (key, value) in tags {
        let body = len_field_len(key.len()) + len_field_len(value.len());
        group.reserve(len_field_len(body));
        group.push(tag_byte(group_field::LOG_TAGS, LEN));
        encode_varint(body as u64, group);
        push_len_field(group, 1, key.as_bytes());
        push_len_field(group, 2, value.as_bytes());
    }
}

/// Appends one `LogGroupList.log_groups` entry: `0x0a varint(len) group`.
pub fn write_log_group_list_entry(out: &mut Vec<u8>, group: &[u8]) {
    out.reserve(len_field_len(group.len()));
    push_len_field(out, 1, group);
}

/// Appends a length-delimited field numbered below 16.
pub(crate) fn push_len_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    out.push(tag_byte(field, LEN));
    encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// Encoded size of a length-delimited field with a one-byte key.
pub(crate) fn len_field_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

/// Key byte of a field numbered below 16.
const fn tag_byte(field: u32, wire: u8) -> u8 {
    ((field << 3) as u8) | wire
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cold]
fn invalid_time_ns(ns: u32) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidTimestamp,
        format!("Invalid timestamps are in logs: time_ns {ns} is above {MAX_TIME_NS}."),
    )
}

#[cold]
pub(super) fn malformed() -> ApiError {
    ApiError::new(ErrorCode::PostBodyInvalid, "Protobuffer content cannot be parsed.")
}

// ---- protobuf wire reading, shared with `package` ----

pub(super) const VARINT: u8 = 0;
pub(super) const I64: u8 = 1;
pub(super) const LEN: u8 = 2;
pub(super) const I32: u8 = 5;

/// The bytes are not well-formed protobuf; converts into `PostBodyInvalid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Malformed;

impl From<Malformed> for ApiError {
    fn from(_: Malformed) -> ApiError {
        malformed()
    }
}

/// A cursor over protobuf wire data. Every read is bounds-checked and consumes what it read;
/// the rules on keys and varints are prost's, so both accept the same framing.
#[derive(Debug, Clone)]
pub(super) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// A base-128 varint of at most 10 bytes whose value fits in 64 bits. The one-byte case
    /// (keys, most lengths) is inlined into the walker; longer ones take a call.
    #[inline(always)]
    pub(super) fn varint(&mut self) -> Result<u64, Malformed> {
        if let Some(&b) = self.buf.first() {
            if b < 0x80 {
                self.buf = &self.buf[1..];
                return Ok(u64::from(b));
            }
        }
        self.varint_multi_byte()
    }

    #[inline(never)]
    fn varint_multi_byte(&mut self) -> Result<u64, Malformed> {
        let mut value = 0u64;
        for (i, &b) in self.buf.iter().take(10).enumerate() {
            // The tenth byte carries bit 63 only.
            if i == 9 && b > 1 {
                return Err(Malformed);
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                self.buf = &self.buf[i + 1..];
                return Ok(value);
            }
        }
        Err(Malformed)
    }

    /// A field key: (field number, wire type). Refuses keys above `u32::MAX`, field number 0,
    /// group wire types (3, 4) and the undefined wire types 6 and 7.
    #[inline]
    pub(super) fn key(&mut self) -> Result<(u32, u8), Malformed> {
        let key = self.varint()?;
        let key = u32::try_from(key).map_err(|_| Malformed)?;
        let wire = (key & 7) as u8;
        let field = key >> 3;
        if field == 0 || !matches!(wire, VARINT | I64 | LEN | I32) {
            return Err(Malformed);
        }
        Ok((field, wire))
    }

    /// The payload of a length-delimited field.
    #[inline]
    pub(super) fn bytes(&mut self) -> Result<&'a [u8], Malformed> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| Malformed)?;
        if len > self.buf.len() {
            return Err(Malformed);
        }
        let (head, tail) = self.buf.split_at(len);
        self.buf = tail;
        Ok(head)
    }

    #[inline]
    pub(super) fn fixed32(&mut self) -> Result<u32, Malformed> {
        let (head, tail) = self.buf.split_first_chunk::<4>().ok_or(Malformed)?;
        self.buf = tail;
        Ok(u32::from_le_bytes(*head))
    }

    fn advance(&mut self, n: usize) -> Result<(), Malformed> {
        self.buf = self.buf.get(n..).ok_or(Malformed)?;
        Ok(())
    }

    /// Skips the value of an unknown field.
    pub(super) fn skip(&mut self, wire: u8) -> Result<(), Malformed> {
        match wire {
            VARINT => self.varint().map(drop),
            I64 => self.advance(8),
            LEN => self.bytes().map(drop),
            I32 => self.advance(4),
            _ => Err(Malformed),
        }
    }
}

#[cfg(test)]
#[path = "loggroup_tests.rs"]
mod tests;
