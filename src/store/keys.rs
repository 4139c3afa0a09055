//! Column-family names, key encoding and the stored-record format: everything about the bytes
//! RocksDB holds, in one place, with round-trip and sort-order tests.
//!
//! Layout:
//! - CF `meta`: catalog entries, key `p/<project>`, `l/<project>/<logstore>` and `d/<dump uuid>`
//!   (an LTS dump and its export progress), JSON values.
//! - CF `ls-<logstore uuid>-<shard id>`: one per shard of a logstore, created by the shard's first
//!   write; key = shard id (u32 BE) ++ sequence (u64 BE), so a shard's LogGroups are in append
//!   order; value = a [`RecordHeader`] and the LogGroup. A family per shard makes every shard an
//!   append-only key range of its own: a memtable flush writes a file that overlaps nothing stored
//!   before it, and compaction moves files down instead of rewriting them. (Stores written before
//!   this layout hold one family `ls-<logstore uuid>` for all shards; `RocksStore::open` moves its
//!   records into the per-shard families, same keys, and drops it.)
//! - CF `ix-<logstore uuid>`: the logstore's time index, written in the same atomic batch as the
//!   data; key = kind (u8) ++ smallest log time of the group (u32 BE, unix seconds) ++ shard (u32
//!   BE) ++ sequence (u64 BE); value = the group's largest log time (u32 LE). Kind
//!   [`IndexKind::Narrow`] holds groups spanning at most [`NARROW_SPAN_SECS`], so a query for
//!   `[from, to]` reads narrow keys from `from - NARROW_SPAN_SECS` only; the rare wider groups
//!   ([`IndexKind::Wide`]) are read from the start of time.

use uuid::Uuid;

pub const META_CF: &str = "meta";
const LOGSTORE_CF_PREFIX: &str = "ls-";
const INDEX_CF_PREFIX: &str = "ix-";

/// Widest time span of a group in the narrow index, seconds.
pub const NARROW_SPAN_SECS: u32 = 3600;

/// Which part of the time index a group is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum IndexKind {
    Narrow = 0,
    Wide = 1,
}

pub const INDEX_KEY_LEN: usize = 1 + 4 + 4 + 8;

pub fn index_cf(id: Uuid) -> String {
    format!("{INDEX_CF_PREFIX}{}", id.simple())
}

/// The index entry of a group with log times in `[min_time, max_time]`.
pub fn index_entry(min_time: u32, max_time: u32, shard: u32, seq: u64) -> ([u8; INDEX_KEY_LEN], [u8; 4]) {
    let kind = if max_time.saturating_sub(min_time) <= NARROW_SPAN_SECS { IndexKind::Narrow } else { IndexKind::Wide };
    (index_key(kind, min_time, shard, seq), max_time.to_le_bytes())
}

pub fn index_key(kind: IndexKind, min_time: u32, shard: u32, seq: u64) -> [u8; INDEX_KEY_LEN] {
    let mut k = [0u8; INDEX_KEY_LEN];
    k[0] = kind as u8;
    k[1..5].copy_from_slice(&min_time.to_be_bytes());
    k[5..9].copy_from_slice(&shard.to_be_bytes());
    k[9..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// `(kind, min_time, shard, seq)` of an index key.
pub fn parse_index_key(key: &[u8]) -> Option<(IndexKind, u32, u32, u64)> {
    if key.len() != INDEX_KEY_LEN {
        return None;
    }
    let kind = match key[0] {
        0 => IndexKind::Narrow,
        1 => IndexKind::Wide,
        _ => return None,
    };
    let min_time = u32::from_be_bytes(key[1..5].try_into().ok()?);
    let shard = u32::from_be_bytes(key[5..9].try_into().ok()?);
    let seq = u64::from_be_bytes(key[9..].try_into().ok()?);
    Some((kind, min_time, shard, seq))
}

pub fn parse_index_value(value: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(value.try_into().ok()?))
}

pub const KEY_LEN: usize = 12;

/// The data family of one shard of a logstore.
pub fn shard_cf(id: Uuid, shard: u32) -> String {
    format!("{LOGSTORE_CF_PREFIX}{}-{shard}", id.simple())
}

/// The one data family of a logstore in the layout before families were per shard.
pub fn legacy_logstore_cf(id: Uuid) -> String {
    format!("{LOGSTORE_CF_PREFIX}{}", id.simple())
}

/// What a column family holds, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// The data of one shard.
    Shard(Uuid, u32),
    /// The data of every shard of a logstore, in the layout before families were per shard.
    LegacyLogstore(Uuid),
    /// The time index of a logstore.
    Index(Uuid),
    /// The catalog, RocksDB's default family, or a name logtide does not write.
    Other,
}

impl Family {
    /// The logstore the family belongs to, if any.
    pub fn stream(self) -> Option<Uuid> {
        match self {
            Family::Shard(id, _) | Family::LegacyLogstore(id) | Family::Index(id) => Some(id),
            Family::Other => None,
        }
    }
}

pub fn parse_cf(name: &str) -> Family {
    let uuid = |s: &str| Uuid::try_parse(s).ok().filter(|_| s.len() == 32);
    if let Some(rest) = name.strip_prefix(INDEX_CF_PREFIX) {
        return uuid(rest).map_or(Family::Other, Family::Index);
    }
    let Some(rest) = name.strip_prefix(LOGSTORE_CF_PREFIX) else { return Family::Other };
    match rest.split_once('-') {
        None => uuid(rest).map_or(Family::Other, Family::LegacyLogstore),
        Some((id, shard)) => match (uuid(id), shard.parse::<u32>()) {
            (Some(id), Ok(n)) if n.to_string() == shard => Family::Shard(id, n),
            _ => Family::Other,
        },
    }
}

pub fn log_key(shard: u32, seq: u64) -> [u8; KEY_LEN] {
    let mut k = [0u8; KEY_LEN];
    k[..4].copy_from_slice(&shard.to_be_bytes());
    k[4..].copy_from_slice(&seq.to_be_bytes());
    k
}

pub fn parse_log_key(key: &[u8]) -> Option<(u32, u64)> {
    if key.len() != KEY_LEN {
        return None;
    }
    let shard = u32::from_be_bytes(key[..4].try_into().ok()?);
    let seq = u64::from_be_bytes(key[4..].try_into().ok()?);
    Some((shard, seq))
}

pub fn project_key(project: &str) -> Vec<u8> {
    format!("p/{project}").into_bytes()
}

pub fn logstore_key(project: &str, logstore: &str) -> Vec<u8> {
    format!("l/{project}/{logstore}").into_bytes()
}

/// An LTS dump: its definition and the end of its last exported window (JSON).
pub fn dump_key(id: Uuid) -> Vec<u8> {
    format!("d/{id}").into_bytes()
}

pub const PROJECT_PREFIX: &[u8] = b"p/";
pub const LOGSTORE_PREFIX: &[u8] = b"l/";
pub const DUMP_PREFIX: &[u8] = b"d/";

/// How a record's payload is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// The serialized LogGroup as is.
    None = 0,
    /// A raw LZ4 block of the serialized LogGroup (the SLS `lz4` body format).
    Lz4 = 1,
}

/// Metadata stored in front of every LogGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHeader {
    pub codec: Codec,
    /// Size of the serialized LogGroup.
    pub raw_len: u32,
    pub log_count: u32,
    /// Smallest and largest log time (unix seconds) in the group.
    pub min_time: u32,
    pub max_time: u32,
    /// Server receive time, unix nanoseconds; never decreases within a shard.
    pub receive_ns: u64,
    /// The client's IP address as text.
    pub client_ip: String,
}

const VERSION: u8 = 1;
const FIXED_LEN: usize = 1 + 1 + 4 + 4 + 4 + 4 + 8 + 1;

impl RecordHeader {
    /// Writes the header followed by `payload`.
    pub fn encode(&self, payload: &[u8]) -> Vec<u8> {
        let ip = self.client_ip.as_bytes();
        let ip = &ip[..ip.len().min(255)];
        let mut out = Vec::with_capacity(FIXED_LEN + ip.len() + payload.len());
        out.push(VERSION);
        out.push(self.codec as u8);
        out.extend_from_slice(&self.raw_len.to_le_bytes());
        out.extend_from_slice(&self.log_count.to_le_bytes());
        out.extend_from_slice(&self.min_time.to_le_bytes());
        out.extend_from_slice(&self.max_time.to_le_bytes());
        out.extend_from_slice(&self.receive_ns.to_le_bytes());
        out.push(ip.len() as u8);
        out.extend_from_slice(ip);
        out.extend_from_slice(payload);
        out
    }

    /// Splits a stored value into its header and payload.
    pub fn decode(value: &[u8]) -> Option<(RecordHeader, &[u8])> {
        if value.len() < FIXED_LEN || value[0] != VERSION {
            return None;
        }
        let codec = match value[1] {
            0 => Codec::None,
            1 => Codec::Lz4,
            _ => return None,
        };
        let u32_at = |at: usize| u32::from_le_bytes(value[at..at + 4].try_into().expect("4 bytes"));
        let receive_ns = u64::from_le_bytes(value[18..26].try_into().expect("8 bytes"));
        let ip_len = value[26] as usize;
        let payload_at = FIXED_LEN + ip_len;
        if value.len() < payload_at {
            return None;
        }
        let client_ip = String::from_utf8_lossy(&value[FIXED_LEN..payload_at]).into_owned();
        let header = RecordHeader {
            codec,
            raw_len: u32_at(2),
            log_count: u32_at(6),
            min_time: u32_at(10),
            max_time: u32_at(14),
            receive_ns,
            client_ip,
        };
        Some((header, &value[payload_at..]))
    }

    /// Reads only the receive time, for binary searches.
    pub fn receive_ns_of(value: &[u8]) -> Option<u64> {
        if value.len() < FIXED_LEN || value[0] != VERSION {
            return None;
        }
        Some(u64::from_le_bytes(value[18..26].try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn record_round_trip() {
        let h = RecordHeader {
            codec: Codec::Lz4,
            raw_len: 1234,
            log_count: 7,
            min_time: 1_700_000_000,
            max_time: 1_700_000_100,
            receive_ns: 1_800_000_000_123_456_789,
            client_ip: "127.0.0.1".into(),
        };
        let v = h.encode(b"payload");
        let (back, payload) = RecordHeader::decode(&v).unwrap();
        assert_eq!(back, h);
        assert_eq!(payload, b"payload");
        assert_eq!(RecordHeader::receive_ns_of(&v), Some(h.receive_ns));
        assert!(RecordHeader::decode(&v[..10]).is_none());
    }

    #[test]
    fn cf_names() {
        let id = Uuid::new_v4();
        assert_eq!(parse_cf(&shard_cf(id, 0)), Family::Shard(id, 0));
        assert_eq!(parse_cf(&shard_cf(id, u32::MAX)), Family::Shard(id, u32::MAX));
        assert_eq!(parse_cf(&legacy_logstore_cf(id)), Family::LegacyLogstore(id));
        assert_eq!(parse_cf(&index_cf(id)), Family::Index(id));
        assert_eq!(parse_cf(&index_cf(id)).stream(), Some(id));
        for other in [META_CF, "default", "ls-", "ls-xyz", "ix-12", "ls-00000000000000000000000000000000-01"] {
            assert_eq!(parse_cf(other), Family::Other, "{other}");
        }
        let hyphenated = format!("ls-{}-1", id.hyphenated());
        assert_eq!(parse_cf(&hyphenated), Family::Other);
    }

    #[test]
    fn index_entries_split_narrow_and_wide_groups() {
        let (k, v) = index_entry(100, 100 + NARROW_SPAN_SECS, 3, 9);
        assert_eq!(parse_index_key(&k), Some((IndexKind::Narrow, 100, 3, 9)));
        assert_eq!(parse_index_value(&v), Some(100 + NARROW_SPAN_SECS));
        let (k, _) = index_entry(100, 101 + NARROW_SPAN_SECS, 3, 9);
        assert_eq!(parse_index_key(&k), Some((IndexKind::Wide, 100, 3, 9)));
        assert_eq!(parse_index_key(&k[1..]), None);
    }

    proptest! {
        #[test]
        fn log_keys_round_trip_and_sort_by_shard_then_seq(a in any::<(u32, u64)>(), b in any::<(u32, u64)>()) {
            let ka = log_key(a.0, a.1);
            let kb = log_key(b.0, b.1);
            prop_assert_eq!(parse_log_key(&ka), Some(a));
            prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
        }

        #[test]
        fn index_keys_round_trip_and_sort_by_kind_then_time(a in any::<(bool, u32, u32, u64)>(), b in any::<(bool, u32, u32, u64)>()) {
            let kind = |wide: bool| if wide { IndexKind::Wide } else { IndexKind::Narrow };
            let ka = index_key(kind(a.0), a.1, a.2, a.3);
            let kb = index_key(kind(b.0), b.1, b.2, b.3);
            prop_assert_eq!(parse_index_key(&ka), Some((kind(a.0), a.1, a.2, a.3)));
            prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
        }
    }
}
