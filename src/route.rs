//! Shard ranges and routing, as pure functions: the SLS shard model (sls.md §8). Each shard owns a
//! half-open range of the 128-bit MD5 key space; hash keys are normalised and sent to the
//! readwrite shard owning them; requests without a key are load-balanced.

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};

/// The largest key, written `ffffffffffffffffffffffffffffffff`. SLS shows it as the exclusive end
/// of the last shard; we treat the last shard's end as inclusive so that this key has an owner.
pub const MAX_KEY: u128 = u128::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShardStatus {
    Readwrite,
    Readonly,
}

/// One shard of a logstore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub id: u32,
    pub status: ShardStatus,
    /// Inclusive begin of the owned range.
    #[serde(with = "hex_key")]
    pub begin: u128,
    /// Exclusive end of the owned range (inclusive when it is [`MAX_KEY`]).
    #[serde(with = "hex_key")]
    pub end: u128,
    /// Unix seconds.
    pub create_time: u64,
}

impl Shard {
    pub fn owns(&self, key: u128) -> bool {
        self.begin <= key && (key < self.end || (self.end == MAX_KEY && key == MAX_KEY))
    }

    pub fn is_writable(&self) -> bool {
        self.status == ShardStatus::Readwrite
    }
}

/// Keys persist as the 32-digit hex strings SLS shows.
mod hex_key {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(key: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_key(*key))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let text = String::deserialize(d)?;
        u128::from_str_radix(&text, 16).map_err(D::Error::custom)
    }
}

/// Formats a key the way SLS shows it: 32 lower-case hex digits.
pub fn format_key(key: u128) -> String {
    format!("{key:032x}")
}

/// Normalises a client hash key: lower-case, right-padded with `0` to 32 hex digits, read as a
/// 128-bit number. Upper-case keys (loongcollector) and short prefixes (`8C`) are accepted.
pub fn parse_hash_key(key: &str) -> ApiResult<u128> {
    let key = key.trim();
    if key.is_empty() || key.len() > 32 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::param(format!("invalid hash key {key:?}: expected 1 to 32 hexadecimal digits")));
    }
    let mut padded = key.to_ascii_lowercase();
    padded.extend(std::iter::repeat_n('0', 32 - key.len()));
    u128::from_str_radix(&padded, 16).map_err(|_| ApiError::param("invalid hash key"))
}

/// `count` fresh read-write shards, ids from 0, over [`initial_ranges`], created at `create_time`.
pub fn initial_shards(count: u32, create_time: u64) -> Vec<Shard> {
    initial_ranges(count)
        .into_iter()
        .enumerate()
        .map(|(i, (begin, end))| Shard { id: i as u32, status: ShardStatus::Readwrite, begin, end, create_time })
        .collect()
}

/// The ranges of `count` fresh shards: the key space divided evenly, boundaries at
/// `floor(i * 2^128 / count)`, the last ending at [`MAX_KEY`].
pub fn initial_ranges(count: u32) -> Vec<(u128, u128)> {
    let count = count.max(1) as u128;
    let boundary = |i: u128| -> u128 {
        if i == 0 {
            return 0;
        }
        if i >= count {
            return MAX_KEY;
        }
        // floor(i * 2^128 / count) without overflow: (2^128 / count) * i + remainder share.
        let q = MAX_KEY / count;
        let r = MAX_KEY % count + 1; // 2^128 = q * count + r
        q * i + (r * i) / count
    };
    (0..count).map(|i| (boundary(i), boundary(i + 1))).collect()
}

/// The readwrite shard owning `key`, if any.
pub fn route_key(shards: &[Shard], key: u128) -> Option<u32> {
    shards.iter().find(|s| s.is_writable() && s.owns(key)).map(|s| s.id)
}

/// Picks a readwrite shard for a request without a key: the one whose queue is shortest, ties
/// broken by rotating from `turn` so that equal shards get equal traffic.
pub fn pick_balanced(shards: &[Shard], turn: usize, queue_len: impl Fn(u32) -> usize) -> Option<u32> {
    let writable: Vec<&Shard> = shards.iter().filter(|s| s.is_writable()).collect();
    if writable.is_empty() {
        return None;
    }
    let n = writable.len();
    (0..n).map(|k| writable[(turn + k) % n]).min_by_key(|s| queue_len(s.id)).map(|s| s.id)
}

/// Splits readwrite shard `id` at `mid`: returns the two children's ranges.
pub fn split_range(shard: &Shard, mid: u128) -> ApiResult<((u128, u128), (u128, u128))> {
    if !shard.is_writable() {
        return Err(ApiError::param(format!("invalid shard id {}: shard is readonly", shard.id)));
    }
    if mid <= shard.begin || mid >= shard.end {
        return Err(ApiError::param(format!("invalid mid hash {}", format_key(mid))));
    }
    Ok(((shard.begin, mid), (mid, shard.end)))
}

/// The readwrite shard that starts where `shard` ends: its merge partner.
pub fn merge_partner(shards: &[Shard], shard: &Shard) -> ApiResult<u32> {
    if !shard.is_writable() {
        return Err(ApiError::param(format!("invalid shard id {}: shard is readonly", shard.id)));
    }
    shards
        .iter()
        .find(|s| s.is_writable() && s.begin == shard.end && s.id != shard.id)
        .map(|s| s.id)
        .ok_or_else(|| ApiError::param("can not merge the last shard"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn four_shards_match_the_sls_document() {
        let r = initial_ranges(4);
        let hex: Vec<(String, String)> = r.iter().map(|&(b, e)| (format_key(b), format_key(e))).collect();
        assert_eq!(hex[0], ("0".repeat(32), format!("4{}", "0".repeat(31))));
        assert_eq!(hex[1].0, format!("4{}", "0".repeat(31)));
        assert_eq!(hex[2].0, format!("8{}", "0".repeat(31)));
        assert_eq!(hex[3], (format!("c{}", "0".repeat(31)), "f".repeat(32)));
        assert_eq!(format_key(initial_ranges(2)[1].0), format!("8{}", "0".repeat(31)));
    }

    #[test]
    fn hash_keys_are_normalised() {
        assert_eq!(parse_hash_key("8C").unwrap(), parse_hash_key("8c000000000000000000000000000000").unwrap());
        assert_eq!(parse_hash_key("14D2F850AD6EA48E46E4547EDBBB27E0").unwrap(), 0x14d2f850ad6ea48e46e4547edbbb27e0);
        assert!(parse_hash_key("").is_err());
        assert!(parse_hash_key("xyz").is_err());
        assert!(parse_hash_key(&"f".repeat(33)).is_err());
        let shards = initial_shards(4, 0);
        assert_eq!(route_key(&shards, parse_hash_key("5F").unwrap()), Some(1));
        assert_eq!(route_key(&shards, parse_hash_key("8C").unwrap()), Some(2));
        assert_eq!(route_key(&shards, MAX_KEY), Some(3));
        assert_eq!(route_key(&shards, 0), Some(0));
    }

    #[test]
    fn balancing_prefers_short_queues_and_rotates_ties() {
        let shards = initial_shards(3, 0);
        assert_eq!(pick_balanced(&shards, 0, |id| if id == 2 { 0 } else { 5 }), Some(2));
        let picks: Vec<u32> = (0..6).map(|t| pick_balanced(&shards, t, |_| 0).unwrap()).collect();
        assert_eq!(picks, vec![0, 1, 2, 0, 1, 2]);
        let mut ro = shards.clone();
        ro[0].status = ShardStatus::Readonly;
        assert!((0..10).all(|t| pick_balanced(&ro, t, |_| 0) != Some(0)));
    }

    #[test]
    fn split_and_merge_rules() {
        let shards = initial_shards(2, 0);
        let mid = parse_hash_key("4").unwrap();
        let (a, b) = split_range(&shards[0], mid).unwrap();
        assert_eq!(a, (0, mid));
        assert_eq!(b, (mid, shards[0].end));
        assert!(split_range(&shards[0], 0).is_err());
        assert!(split_range(&shards[0], shards[0].end).is_err());
        assert_eq!(merge_partner(&shards, &shards[0]).unwrap(), 1);
        assert!(merge_partner(&shards, &shards[1]).is_err());
    }

    /// Applies random splits and merges the way the catalog does.
    fn evolve(count: u32, ops: &[(bool, u8, u128)]) -> Vec<Shard> {
        let mut shards = initial_shards(count, 0);
        for &(split, pick, mid) in ops {
            let writable: Vec<Shard> = shards.iter().filter(|s| s.is_writable()).cloned().collect();
            let target = writable[pick as usize % writable.len()].clone();
            let next = shards.len() as u32;
            if split {
                let span = target.end - target.begin;
                if span < 2 {
                    continue;
                }
                let m = target.begin + 1 + mid % (span - 1);
                if let Ok(((b1, e1), (b2, e2))) = split_range(&target, m) {
                    shards[target.id as usize].status = ShardStatus::Readonly;
                    shards.push(Shard { id: next, status: ShardStatus::Readwrite, begin: b1, end: e1, create_time: 0 });
                    shards.push(Shard {
                        id: next + 1,
                        status: ShardStatus::Readwrite,
                        begin: b2,
                        end: e2,
                        create_time: 0,
                    });
                }
            } else if let Ok(partner) = merge_partner(&shards, &target) {
                let end = shards[partner as usize].end;
                shards[target.id as usize].status = ShardStatus::Readonly;
                shards[partner as usize].status = ShardStatus::Readonly;
                shards.push(Shard {
                    id: next,
                    status: ShardStatus::Readwrite,
                    begin: target.begin,
                    end,
                    create_time: 0,
                });
            }
        }
        shards
    }

    proptest! {
        #[test]
        fn every_key_has_exactly_one_writable_owner(
            count in 1u32..20,
            ops in proptest::collection::vec((any::<bool>(), any::<u8>(), any::<u128>()), 0..12),
            keys in proptest::collection::vec(any::<u128>(), 1..32),
        ) {
            let shards = evolve(count, &ops);
            for key in keys.into_iter().chain([0, MAX_KEY]) {
                let owners = shards.iter().filter(|s| s.is_writable() && s.owns(key)).count();
                prop_assert_eq!(owners, 1, "key {} has {} owners", format_key(key), owners);
                let routed = route_key(&shards, key).unwrap();
                prop_assert!(shards[routed as usize].owns(key));
            }
        }

        #[test]
        fn initial_ranges_are_contiguous_and_even(count in 1u32..300) {
            let r = initial_ranges(count);
            prop_assert_eq!(r.len(), count as usize);
            prop_assert_eq!(r[0].0, 0);
            prop_assert_eq!(r[r.len() - 1].1, MAX_KEY);
            let width = MAX_KEY / count as u128;
            for w in r.windows(2) {
                prop_assert_eq!(w[0].1, w[1].0);
            }
            for &(b, e) in &r {
                let span = e - b;
                prop_assert!(span >= width.saturating_sub(1) && span <= width.saturating_add(1));
            }
        }

        #[test]
        fn hash_key_padding_is_prefix_order(prefix in "[0-9a-fA-F]{1,32}") {
            let k = parse_hash_key(&prefix).unwrap();
            let hex = format_key(k);
            prop_assert!(hex.starts_with(&prefix.to_ascii_lowercase()));
        }

        #[test]
        fn balancing_always_picks_a_writable_shard(count in 1u32..16, turn in any::<usize>(), loads in proptest::collection::vec(0usize..100, 16)) {
            let shards = initial_shards(count, 0);
            let id = pick_balanced(&shards, turn, |id| loads[id as usize]).unwrap();
            let min = shards.iter().map(|s| loads[s.id as usize]).min().unwrap();
            prop_assert_eq!(loads[id as usize], min);
        }
    }
}
