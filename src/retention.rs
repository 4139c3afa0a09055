//! Retention: the data of every logstore older than its ttl (`ttl` days; an LTS stream's
//! `ttl_in_days`) disappears by itself. [`enforce`] takes the clock as an argument, so tests move
//! time instead of waiting; the daemon calls it every `storage.retention_interval_secs` on the
//! blocking pool.
//!
//! Age is the receive time: a shard's receive times never decrease, so everything to drop is one
//! contiguous key range per shard, removed with a range delete (a tombstone; compaction reclaims
//! the space later). That costs microseconds and takes no lock the write path uses, so writes
//! never stall behind it. Time-index entries are dropped once no retained group can need them: a
//! group received at or after the cutoff has no log time before `cutoff - max_past` (the write
//! window), so entries wholly older than that point only at trimmed groups.

use crate::catalog::Catalog;
use crate::store::{ShardLog, StoreError};

const DAY_SECS: u64 = 24 * 3600;
const NANOS: u64 = 1_000_000_000;

/// Trims every logstore to its ttl as of `now_secs`. `max_past_secs` is the write window's past
/// limit. Returns how many groups were removed.
pub fn enforce(catalog: &Catalog, log: &dyn ShardLog, max_past_secs: u64, now_secs: u64) -> Result<u64, StoreError> {
    let mut removed = 0;
    for project in catalog.projects() {
        let Ok(logstores) = catalog.logstores(&project.name) else { continue };
        for ls in logstores {
            let cutoff = now_secs.saturating_sub(ls.settings.ttl as u64 * DAY_SECS);
            // Every shard id ever used, including readonly shards no longer listed.
            for shard in 0..ls.next_shard_id {
                match log.trim_before(ls.id, shard, cutoff.saturating_mul(NANOS)) {
                    Ok(n) => removed += n,
                    // Deleted concurrently: nothing left to trim.
                    Err(StoreError::NoStream(_)) => break,
                    Err(e) => return Err(e),
                }
            }
            let index_cutoff = u32::try_from(cutoff.saturating_sub(max_past_secs)).unwrap_or(u32::MAX);
            match log.trim_index_before(ls.id, index_cutoff) {
                Ok(()) | Err(StoreError::NoStream(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::LogstoreSettings;
    use crate::config::CatalogConfig;
    use crate::store::{Append, Codec, GroupRecord, RecordHeader, RocksStore};

    fn group(time: u32) -> GroupRecord {
        let header = RecordHeader {
            codec: Codec::None,
            raw_len: 1,
            log_count: 1,
            min_time: time,
            max_time: time,
            receive_ns: 0,
            client_ip: String::new(),
        };
        GroupRecord { header, payload: bytes::Bytes::from_static(b"x") }
    }

    #[test]
    fn data_older_than_the_ttl_disappears_and_younger_data_stays() {
        let dir = tempfile::tempdir().unwrap();
        let store = RocksStore::open(dir.path()).unwrap();
        let catalog = Catalog::load(store.clone(), CatalogConfig::default()).unwrap();
        catalog.create_project("retained", "").unwrap();
        let short = catalog
            .create_logstore("retained", "one_day", LogstoreSettings { ttl: 1, ..catalog.default_settings() })
            .unwrap();
        let long = catalog
            .create_logstore("retained", "month", LogstoreSettings { ttl: 30, ..catalog.default_settings() })
            .unwrap();
        let now = crate::catalog::now_secs();
        let t = now as u32;
        for ls in [&short, &long] {
            let mut items = vec![
                Append { stream: ls.id, shard: 0, groups: vec![group(t), group(t)] },
                Append { stream: ls.id, shard: 1, groups: vec![group(t)] },
            ];
            store.append(&mut items, false).unwrap();
        }
        let log: &dyn ShardLog = store.as_ref();
        let week = 7 * DAY_SECS;
        // Nothing is old yet.
        assert_eq!(enforce(&catalog, log, week, now).unwrap(), 0);
        // Two days later (an injected clock): the one-day logstore is emptied, the other kept.
        assert_eq!(enforce(&catalog, log, week, now + 2 * DAY_SECS).unwrap(), 3);
        for shard in [0, 1] {
            let (first, end) = log.bounds(short.id, shard).unwrap();
            assert_eq!(first, end, "shard {shard} of the expired logstore is empty");
            assert!(!log.read(long.id, shard, 0, 10, usize::MAX).unwrap().is_empty());
        }
        // Sequences go on after a trim: the next write is not a reused position.
        let mut items = vec![Append { stream: short.id, shard: 0, groups: vec![group(t)] }];
        assert_eq!(store.append(&mut items, false).unwrap(), vec![3]);
        // Index entries older than the cutoff minus the write window are gone; newer stay.
        let later = now + 2 * DAY_SECS + week + 2 * 3600;
        enforce(&catalog, log, week, later).unwrap();
        assert!(log.groups_in_time(short.id, 0, u32::MAX).unwrap().is_empty());
        assert_eq!(log.groups_in_time(long.id, 0, u32::MAX).unwrap().len(), 3, "the month-long store keeps its index");
    }
}
