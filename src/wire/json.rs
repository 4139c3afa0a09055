//! SLS JSON log bodies (web tracking and the JSON form of PutLogs, sls.md §2.5 and §7):
//! `{"__topic__", "__source__", "__logs__": [{k: v, …}], "__tags__": {k: v}}`, converted into a
//! serialized `LogGroup` so that the one in-place validator and the one storage format serve every
//! front door. Values that are not strings are kept as their JSON text.
//!
//! The body is read in one pass with serde visitors, borrowing unescaped strings, and the protobuf
//! bytes are written as the logs are read. That pass alone decides every answer, error and message
//! included, exactly as parsing the body into a `serde_json::Value` and judging the tree would (that
//! reference is kept in the tests), but it never holds more than one log's fields: a member nobody
//! uses and every entry after a decided error are read and dropped ([`Skip`]), and the JSON text of
//! a nested value is written as it is read ([`Render`]). So a 3 MiB body of 1.5 million numbers
//! costs its output buffer, not a tree of 1.5 million `Value`s.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use prost::encoding::{encode_varint, encoded_len_varint};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::loggroup::{len_field_len, push_len_field};
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

fn not_a_time(what: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidTimestamp, format!("{what} must be a non-negative integer"))
}

fn out_of_range(what: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidTimestamp, format!("{what} is out of range"))
}

fn too_many_logs(max_logs: usize) -> ApiError {
    ApiError::new(ErrorCode::PostBodyTooLarge, format!("more than {max_logs} logs in one request"))
}

/// Parses a JSON log body into a serialized `LogGroup`. Shape errors are `PostBodyInvalid`; the
/// caller validates the result like any protobuf body (keys, UTF-8, time window, counts).
///
/// The answer is the one the whole body as a `Value` tree would get, in this order: a syntax
/// error anywhere; not an object; `__logs__` missing or not an array (the last `__logs__` member
/// counts, as do the last `__topic__`, `__source__` and `__tags__`); more than `max_logs` entries;
/// the first entry that is not an object or has a bad time; `__tags__` neither an object nor null.
pub fn json_to_log_group(body: &[u8], time: LogTime, max_logs: usize) -> ApiResult<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len());
    let mut de = serde_json::Deserializer::from_slice(body);
    let doc = DocSeed { out: &mut out, time, max_logs }
        .deserialize(&mut de)
        .and_then(|doc| de.end().map(|()| doc))
        .map_err(|e| invalid(format!("the JSON body cannot be parsed: {e}")))?;
    let Some(doc) = doc else {
        return Err(invalid("the JSON body must be an object"));
    };
    match doc.logs {
        None => return Err(invalid("__logs__ is missing")),
        Some(Logs::NotArray) => return Err(invalid("__logs__ must be an array of objects")),
        Some(Logs::TooMany) => return Err(too_many_logs(max_logs)),
        Some(Logs::Bad(e)) => return Err(e),
        Some(Logs::Written) => {}
    }
    let tags = match doc.tags {
        None | Some(Tags::Null) => Fields::new(),
        Some(Tags::Object(tags)) => tags,
        Some(Tags::Other) => return Err(invalid("__tags__ must be an object")),
    };
    if let Some(topic) = &doc.topic {
        push_len_field(&mut out, 3, topic.as_str().as_bytes()); // LogGroup.topic
    }
    if let Some(source) = &doc.source {
        push_len_field(&mut out, 4, source.as_str().as_bytes()); // LogGroup.source
    }
    for (key, value) in &tags {
        let (key, value) = (key.as_bytes(), value.as_str().as_bytes());
        out.push(0x32); // LogGroup.log_tags
        encode_varint((len_field_len(key.len()) + len_field_len(value.len())) as u64, &mut out);
        push_len_field(&mut out, 1, key);
        push_len_field(&mut out, 2, value);
    }
    Ok(out)
}

// ---- values: borrowed strings, JSON text, and values read only to be dropped ----

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

    /// A non-negative integer, or a string of one (surrounding whitespace allowed).
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

/// An array's or object's text, written by [`Render`].
fn nested<E: de::Error>(text: Vec<u8>) -> Result<Text<'static>, E> {
    let text = String::from_utf8(text).map_err(E::custom)?;
    Ok(Text::Json { text, uint: None, integer: false })
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
        let mut text = Vec::new();
        Render(&mut text).visit_seq(seq)?;
        nested(text)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Text<'de>, A::Error> {
        let mut text = Vec::new();
        Render(&mut text).visit_map(map)?;
        nested(text)
    }
}

/// Appends a JSON value's text to the buffer as it is read, exactly as `Value::to_string()` would
/// write it (compact; a repeated key of an object keeps its first place and takes its last value,
/// as serde_json's map does with `preserve_order`), without building the `Value`: an array of a
/// million numbers costs its text, not a million `Value`s. An object keeps its keys and the places
/// of its members in its text until it ends, for the repeated keys.
struct Render<'a>(&'a mut Vec<u8>);

impl Render<'_> {
    fn write<T: serde::Serialize + ?Sized, E: de::Error>(&mut self, value: &T) -> Result<(), E> {
        serde_json::to_writer(&mut *self.0, value).map_err(E::custom)
    }
}

impl<'de> DeserializeSeed<'de> for Render<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// One member of an object being rendered: its key, the text of its key and colon (at its first
/// place) and the text of its value (the last one).
struct Member<'de> {
    key: Cow<'de, str>,
    key_text: Range<usize>,
    value: Range<usize>,
}

impl<'de> Visitor<'de> for Render<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(mut self, b: bool) -> Result<(), E> {
        self.write(&b)
    }
    fn visit_i64<E: de::Error>(mut self, n: i64) -> Result<(), E> {
        self.write(&n)
    }
    fn visit_u64<E: de::Error>(mut self, n: u64) -> Result<(), E> {
        self.write(&n)
    }
    fn visit_f64<E: de::Error>(mut self, n: f64) -> Result<(), E> {
        // `Value::from` makes a non-finite float `null`; serde_json writes it so as well.
        self.write(&n)
    }
    fn visit_str<E: de::Error>(mut self, s: &str) -> Result<(), E> {
        self.write(s)
    }
    fn visit_unit<E: de::Error>(mut self) -> Result<(), E> {
        self.write(&())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let out = self.0;
        out.push(b'[');
        let mut first = true;
        loop {
            let mark = out.len();
            if !first {
                out.push(b',');
            }
            if seq.next_element_seed(Render(&mut *out))?.is_none() {
                out.truncate(mark);
                break;
            }
            first = false;
        }
        out.push(b']');
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let start = self.0.len();
        self.0.push(b'{');
        let mut members: Vec<Member<'de>> = Vec::new();
        let mut index = None;
        let mut repeated = false;
        loop {
            let mark = self.0.len();
            if mark > start + 1 {
                self.0.push(b',');
            }
            let Some(key) = map.next_key_seed(KeySeed)? else {
                self.0.truncate(mark);
                break;
            };
            let key_at = self.0.len();
            self.write(key.as_ref())?;
            self.0.push(b':');
            let key_text = key_at..self.0.len();
            map.next_value_seed(Render(&mut *self.0))?;
            let value = key_text.end..self.0.len();
            match place(&mut index, &members, |m| &m.key, &key) {
                Some(i) => {
                    members[i].value = value;
                    repeated = true;
                }
                None => members.push(Member { key, key_text, value }),
            }
        }
        self.0.push(b'}');
        if repeated {
            // Rewrite the object from its members: each at its first place with its last value.
            let mut text = Vec::with_capacity(self.0.len() - start);
            text.push(b'{');
            for (i, m) in members.iter().enumerate() {
                if i > 0 {
                    text.push(b',');
                }
                text.extend_from_slice(&self.0[m.key_text.clone()]);
                text.extend_from_slice(&self.0[m.value.clone()]);
            }
            text.push(b'}');
            self.0.truncate(start);
            self.0.extend_from_slice(&text);
        }
        Ok(())
    }
}

/// Reads any JSON value and drops it: what a member nobody uses costs, and every entry after the
/// answer is decided. Errors are exactly those of reading it into a `Value` (syntax, a number out
/// of range, the nesting limit), unlike `IgnoredAny`, which skips numbers without converting them.
pub(crate) struct Skip;

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(Skip)
    }
}

/// The visits of scalar values (strings included), each answering `$value`.
macro_rules! scalars {
    ($value:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}
pub(crate) use scalars;

impl<'de> Visitor<'de> for Skip {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    scalars!(());
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Skip)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Skip)?.is_some() {
            map.next_value_seed(Skip)?;
        }
        Ok(())
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

// ---- objects: members in body order, a repeated key replacing the earlier value in its place ----

/// Up to this many distinct keys an object's members are searched one by one for a repeated key;
/// past it they get a hash index, so an object of n keys costs O(n), not n²/2 comparisons. The
/// linear search is the faster one for the objects clients send (10 nginx fields, the 18 fields
/// of a callback record): measured in release on 4096 logs, it matches SipHash lookups up to
/// about 50 keys, and a callback body got 19% slower when its records crossed a limit of 16.
const LINEAR_KEYS: usize = 32;

/// Where `key` already is among `items` (an object's distinct members so far, in body order), or
/// `None` when it is new and about to be pushed as the next one; `index` is built at the first
/// new key past [`LINEAR_KEYS`] and kept up to date from then on.
// `key` is a `Cow` because the index keeps a clone of it, free when it is borrowed from the body.
#[allow(clippy::ptr_arg)]
fn place<'de, T>(
    index: &mut Option<HashMap<Cow<'de, str>, usize>>,
    items: &[T],
    key_of: impl Fn(&T) -> &Cow<'de, str>,
    key: &Cow<'de, str>,
) -> Option<usize> {
    if let Some(index) = index {
        let found = index.get(key.as_ref()).copied();
        if found.is_none() {
            index.insert(key.clone(), items.len());
        }
        return found;
    }
    let found = items.iter().position(|item| key_of(item) == key);
    if found.is_none() && items.len() >= LINEAR_KEYS {
        let mut keys = HashMap::with_capacity(2 * items.len());
        keys.extend(items.iter().enumerate().map(|(i, item)| (key_of(item).clone(), i)));
        keys.insert(key.clone(), items.len());
        *index = Some(keys);
    }
    found
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
        let mut index = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value = map.next_value_seed(TextSeed)?;
            match place(&mut index, self.0, |(k, _)| k, &key) {
                Some(i) => self.0[i].1 = value,
                None => self.0.push((key, value)),
            }
        }
        Ok(())
    }
}

/// One element of an array of objects: `true` with the object's members in `fields`, or `false`
/// for any other value (read and dropped).
pub(crate) struct ObjectSeed<'a, 'de>(pub(crate) &'a mut Fields<'de>);

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_, 'de> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_, 'de> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    scalars!(false);
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<bool, A::Error> {
        Skip.visit_seq(seq).map(|()| false)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        FieldsSeed(self.0).visit_map(map).map(|()| true)
    }
}

// ---- the body ----

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

fn is_time_key(key: &str) -> bool {
    key == "__time__" || key == "__time_ns_part__"
}

/// A log's time and nanoseconds: the receive time for web tracking; for JSON PutLogs its
/// `__time__` and `__time_ns_part__` (the first bad one in body order is the error), the receive
/// time when absent.
fn entry_time(fields: &Fields, time: LogTime) -> ApiResult<(u32, Option<u32>)> {
    let receive = match time {
        LogTime::Receive { unix } => return Ok((unix, None)),
        LogTime::FromEntries { receive_unix } => receive_unix,
    };
    let (mut secs, mut nanos) = (u64::from(receive), None);
    for (key, value) in fields {
        match key.as_ref() {
            "__time__" => secs = value.as_time().ok_or_else(|| not_a_time("__time__"))?,
            "__time_ns_part__" => nanos = Some(value.as_time().ok_or_else(|| not_a_time("__time_ns_part__"))?),
            _ => {}
        }
    }
    let secs = u32::try_from(secs).map_err(|_| out_of_range("__time__"))?;
    let nanos = nanos.map(|n| u32::try_from(n).map_err(|_| out_of_range("__time_ns_part__"))).transpose()?;
    Ok((secs, nanos))
}

/// Writes one entry of `__logs__`, its time members left out of its contents.
fn put_entry(out: &mut Vec<u8>, fields: &Fields, time: LogTime) -> ApiResult<()> {
    let (time, time_ns) = entry_time(fields, time)?;
    let contents = fields.iter().filter(|(k, _)| !is_time_key(k)).map(|(k, v)| (k.as_ref(), v.as_str()));
    put_log(out, time, time_ns, contents);
    Ok(())
}

/// What one `__logs__` member came to.
enum Logs {
    NotArray,
    TooMany,
    /// The first bad entry.
    Bad(ApiError),
    /// Every entry is in `out`.
    Written,
}

/// A `__logs__` member, each entry written to `out` as it is read.
struct LogsSeed<'a> {
    out: &'a mut Vec<u8>,
    time: LogTime,
    max_logs: usize,
}

impl<'de> DeserializeSeed<'de> for LogsSeed<'_> {
    type Value = Logs;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Logs, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for LogsSeed<'_> {
    type Value = Logs;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    scalars!(Logs::NotArray);
    fn visit_unit<E: de::Error>(self) -> Result<Logs, E> {
        Ok(Logs::NotArray)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Logs, A::Error> {
        Skip.visit_map(map).map(|()| Logs::NotArray)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Logs, A::Error> {
        let mut fields = Fields::new();
        let mut count = 0usize;
        let decided = loop {
            let Some(object) = seq.next_element_seed(ObjectSeed(&mut fields))? else {
                break None;
            };
            count += 1;
            if count > self.max_logs {
                break Some(Logs::TooMany);
            }
            if !object {
                break Some(Logs::Bad(invalid("every entry of __logs__ must be an object")));
            }
            if let Err(e) = put_entry(self.out, &fields, self.time) {
                break Some(Logs::Bad(e));
            }
        };
        let Some(mut answer) = decided else {
            return Ok(Logs::Written);
        };
        // Decided but for a later syntax error or, after a bad entry, one entry too many: the
        // rest is read and dropped.
        self.out.clear();
        while seq.next_element_seed(Skip)?.is_some() {
            count = count.saturating_add(1);
            if count > self.max_logs {
                answer = Logs::TooMany;
            }
        }
        Ok(answer)
    }
}

/// `__tags__`: `null` (no tags), an object, or anything else (an error, once the rest is judged).
enum Tags<'de> {
    Null,
    Object(Fields<'de>),
    Other,
}

struct TagsSeed;

impl<'de> DeserializeSeed<'de> for TagsSeed {
    type Value = Tags<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Tags<'de>, D::Error> {
        d.deserialize_any(TagsSeed)
    }
}

impl<'de> Visitor<'de> for TagsSeed {
    type Value = Tags<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    scalars!(Tags::Other);
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Tags::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Skip.visit_seq(seq).map(|()| Tags::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let mut tags = Fields::new();
        FieldsSeed(&mut tags).visit_map(map)?;
        Ok(Tags::Object(tags))
    }
}

/// The members of the body that make its answer; the last of each name counts.
#[derive(Default)]
struct Doc<'de> {
    logs: Option<Logs>,
    topic: Option<Text<'de>>,
    source: Option<Text<'de>>,
    tags: Option<Tags<'de>>,
}

/// The whole body: `None` when it is not an object. `__logs__` goes straight to `out`.
struct DocSeed<'a> {
    out: &'a mut Vec<u8>,
    time: LogTime,
    max_logs: usize,
}

impl<'de> DeserializeSeed<'de> for DocSeed<'_> {
    type Value = Option<Doc<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DocSeed<'_> {
    type Value = Option<Doc<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    scalars!(None);
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Skip.visit_seq(seq).map(|()| None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut doc = Doc::default();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match key.as_ref() {
                "__logs__" => {
                    // A repeated `__logs__` replaces what the earlier one wrote.
                    self.out.clear();
                    let logs = LogsSeed { out: &mut *self.out, time: self.time, max_logs: self.max_logs };
                    doc.logs = Some(map.next_value_seed(logs)?);
                }
                "__topic__" => doc.topic = Some(map.next_value_seed(TextSeed)?),
                "__source__" => doc.source = Some(map.next_value_seed(TextSeed)?),
                "__tags__" => doc.tags = Some(map.next_value_seed(TagsSeed)?),
                _ => map.next_value_seed(Skip)?,
            }
        }
        Ok(Some(doc))
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
