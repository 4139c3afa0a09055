//! Log search over a logstore's time window, shared by the LTS query (lts.md §3.4, §7) and SLS
//! GetLogs (sls.md §9.4, syntax in [`sls`]). Blocking: runs on the blocking pool.
//!
//! - **Reading**: the time index gives the groups overlapping the window, so a query reads about
//!   the window's data, not the logstore's.
//! - **Order**: every log of the window is ordered by (log time in ns, receive time, shard,
//!   sequence, position in its group). Ties in log time are broken by arrival, so a log arriving
//!   later never moves before logs already stored.
//! - **Line numbers**: `line_num = max(log time in ns, previous line_num + 1)` along that order:
//!   unique, increasing, 19 digits, and never before the log's own time. Logs without a
//!   nanosecond part (most SLS logs share a second) get consecutive numbers from the second's
//!   start. Numbers are computed from one second before the window, which is exact unless more
//!   than 10⁹ logs crowd into one second.
//! - **Matching**: labels (the group's tags, plus `__topic__`/`__source__` when set) must equal
//!   the filter; keywords ([`keywords`]) match the rendered content.
//! - **Paging** ([`page`]): a page is taken on either side of an anchor line number, never
//!   including it, in the order `is_desc` asks for.

pub mod keywords;
pub mod sls;

use std::collections::HashMap;

use prost::Message;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::store::{Codec, ShardLog, StoredGroup};
use crate::wire::pb::{Log, LogGroup};
pub use keywords::Keywords;

const NANOS: u64 = 1_000_000_000;
/// How far before the window line numbers are computed from.
const LOOKBACK_NS: u64 = NANOS;
/// Groups read per round trip to the store.
const READ_CHUNK: usize = 256;

/// What a log must satisfy besides its time: LTS labels and keywords.
#[derive(Debug, Default)]
pub struct Filter {
    pub labels: Vec<(String, String)>,
    pub keywords: Option<Keywords>,
}

impl Filter {
    /// Whether a log (of a group with these labels) passes.
    pub fn matches(&self, _group: &LogGroup, labels: &[(String, String)], log: &Log) -> bool {
        self.labels.iter().all(|want| labels.contains(want))
            && self.keywords.as_ref().is_none_or(|k| k.matches(&render_content(log)))
    }
}

/// Decides whether one log of a group matches; `labels` are the group's ([`group_labels`]).
pub type Matcher<'a> = &'a (dyn Fn(&LogGroup, &[(String, String)], &Log) -> bool + Sync);

/// Where a log is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogPos {
    pub shard: u32,
    pub seq: u64,
    pub index: u32,
}

/// A matching log: its line number, time and position (content is rendered per page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub line_num: u64,
    pub time_ns: u64,
    pub pos: LogPos,
}

/// One log of a page, rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub line_num: u64,
    pub content: String,
    pub labels: Vec<(String, String)>,
}

/// A log's time in nanoseconds.
pub fn log_time_ns(log: &Log) -> u64 {
    log.time as u64 * NANOS + log.time_ns.unwrap_or(0).min(NANOS as u32 - 1) as u64
}

/// Content as the SLS console shows a log: the `content` field alone when that is the log's only
/// field (every LTS-reported line), else `key=value` pairs separated by blanks.
pub fn render_content(log: &Log) -> String {
    match log.contents.as_slice() {
        [only] if only.key == "content" => only.value.clone(),
        fields => fields.iter().map(|c| format!("{}={}", c.key, c.value)).collect::<Vec<_>>().join(" "),
    }
}

/// A group's labels: its tags, then `__topic__` and `__source__` when set.
pub fn group_labels(group: &LogGroup) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = group.log_tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect();
    for (key, value) in [("__topic__", &group.topic), ("__source__", &group.source)] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            labels.push((key.to_string(), v.to_string()));
        }
    }
    labels
}

pub fn decode_group(stored: &StoredGroup) -> ApiResult<LogGroup> {
    let raw;
    let bytes: &[u8] = match stored.header.codec {
        Codec::None => &stored.payload,
        Codec::Lz4 => {
            raw = lz4_flex::block::decompress(&stored.payload, stored.header.raw_len as usize)
                .map_err(|e| ApiError::internal(format!("stored group {}/{}: {e}", stored.shard, stored.seq)))?;
            &raw
        }
    };
    LogGroup::decode(bytes)
        .map_err(|e| ApiError::internal(format!("stored group {}/{}: {e}", stored.shard, stored.seq)))
}

/// Every log of `[start_ns, end_ns]` (inclusive) that `matcher` accepts, ascending by line
/// number. More than `max_logs` logs in the window is an error asking for a narrower window.
pub fn search(
    log: &dyn ShardLog,
    stream: Uuid,
    start_ns: u64,
    end_ns: u64,
    matcher: Matcher<'_>,
    max_logs: usize,
) -> ApiResult<Vec<Match>> {
    let from_ns = start_ns.saturating_sub(LOOKBACK_NS);
    let (from_s, to_s) = (secs(from_ns), secs(end_ns));
    let positions = log.groups_in_time(stream, from_s, to_s).map_err(ApiError::store)?;
    // (order key, line number slot, matched)
    let mut entries: Vec<((u64, u64, LogPos), bool)> = Vec::new();
    for chunk in positions.chunks(READ_CHUNK) {
        for stored in log.read_at(stream, chunk).map_err(ApiError::store)? {
            let group = decode_group(&stored)?;
            let labels = group_labels(&group);
            for (index, l) in group.logs.iter().enumerate() {
                let t = log_time_ns(l);
                if t < from_ns || t > end_ns {
                    continue;
                }
                let matched = t >= start_ns && matcher(&group, &labels, l);
                let pos = LogPos { shard: stored.shard, seq: stored.seq, index: index as u32 };
                entries.push(((t, stored.header.receive_ns, pos), matched));
                if entries.len() > max_logs {
                    return Err(ApiError::param(format!(
                        "the time window holds more than {max_logs} logs; query a narrower window"
                    )));
                }
            }
        }
    }
    entries.sort_unstable_by_key(|e| e.0);
    let mut out = Vec::new();
    let mut previous: Option<u64> = None;
    for ((t, _, pos), matched) in entries {
        let line_num = previous.map_or(t, |p| t.max(p + 1));
        previous = Some(line_num);
        if matched {
            out.push(Match { line_num, time_ns: t, pos });
        }
    }
    Ok(out)
}

/// The decoded groups holding the logs of a page, by `(shard, seq)`. A group trimmed since the
/// search is absent (its logs drop out of the page).
pub fn fetch(log: &dyn ShardLog, stream: Uuid, page: &[Match]) -> ApiResult<HashMap<(u32, u64), LogGroup>> {
    let mut positions: Vec<(u32, u64)> = page.iter().map(|m| (m.pos.shard, m.pos.seq)).collect();
    positions.sort_unstable();
    positions.dedup();
    let mut groups = HashMap::new();
    for chunk in positions.chunks(READ_CHUNK) {
        for stored in log.read_at(stream, chunk).map_err(ApiError::store)? {
            groups.insert((stored.shard, stored.seq), decode_group(&stored)?);
        }
    }
    Ok(groups)
}

/// Renders the logs of a page the LTS way (content highlighted when `highlight` has keywords).
pub fn render(log: &dyn ShardLog, stream: Uuid, page: &[Match], highlight: Option<&Keywords>) -> ApiResult<Vec<Hit>> {
    let groups = fetch(log, stream, page)?;
    let mut hits = Vec::with_capacity(page.len());
    for m in page {
        let Some(group) = groups.get(&(m.pos.shard, m.pos.seq)) else { continue };
        let Some(l) = group.logs.get(m.pos.index as usize) else { continue };
        let content = render_content(l);
        let content = match highlight {
            Some(k) => k.highlight(&content),
            None => content,
        };
        hits.push(Hit { line_num: m.line_num, content, labels: group_labels(group) });
    }
    Ok(hits)
}

fn secs(ns: u64) -> u32 {
    u32::try_from(ns / NANOS).unwrap_or(u32::MAX)
}

/// Which way a page goes from its anchor (lts.md §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchType {
    /// The first page: the oldest logs (ascending) or the newest (descending).
    Init,
    /// The next page in the output order.
    Forwards,
    /// The previous page in the output order.
    Backwards,
}

/// Indices into `line_nums` (ascending) of one page, in output order. Without an anchor (or with
/// `Init`) the page is the first `limit` logs in the output order. With an anchor, `forwards`
/// and `is_desc` pick the side (newer logs when they differ, older when they agree, lts.md §7's
/// table), the page holds the `limit` logs on that side closest to the anchor, and the anchor
/// itself is never included.
pub fn page(line_nums: &[u64], anchor: Option<u64>, search: SearchType, desc: bool, limit: usize) -> Vec<usize> {
    let n = line_nums.len();
    let range = match (anchor, search) {
        (None, _) | (_, SearchType::Init) => {
            if desc {
                n.saturating_sub(limit)..n
            } else {
                0..limit.min(n)
            }
        }
        (Some(a), s) => {
            let newer = (s == SearchType::Forwards) != desc;
            if newer {
                let first = line_nums.partition_point(|&x| x <= a);
                first..(first + limit).min(n)
            } else {
                let end = line_nums.partition_point(|&x| x < a);
                end.saturating_sub(limit)..end
            }
        }
    };
    if desc {
        range.rev().collect()
    } else {
        range.collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_documented_example_pages() {
        // lts.md §7: events "NO 1".."NO 9", anchor NO 5, limit 3.
        let ln: Vec<u64> = (1..=9).collect();
        let at = |idx: Vec<usize>| idx.into_iter().map(|i| ln[i]).collect::<Vec<_>>();
        assert_eq!(at(page(&ln, Some(5), SearchType::Forwards, false, 3)), vec![6, 7, 8]);
        assert_eq!(at(page(&ln, Some(5), SearchType::Backwards, true, 3)), vec![8, 7, 6]);
        assert_eq!(at(page(&ln, Some(5), SearchType::Backwards, false, 3)), vec![2, 3, 4]);
        assert_eq!(at(page(&ln, Some(5), SearchType::Forwards, true, 3)), vec![4, 3, 2]);
        assert_eq!(at(page(&ln, None, SearchType::Init, false, 3)), vec![1, 2, 3]);
        assert_eq!(at(page(&ln, None, SearchType::Init, true, 3)), vec![9, 8, 7]);
        assert_eq!(at(page(&ln, Some(8), SearchType::Forwards, false, 3)), vec![9], "fewer than limit remain");
        assert_eq!(at(page(&ln, Some(1), SearchType::Forwards, true, 3)), Vec::<u64>::new());
    }

    #[test]
    fn content_and_labels_as_the_console_shows_them() {
        use crate::wire::pb::{log::Content, LogTag};
        let field = |k: &str, v: &str| Content { key: k.into(), value: v.into() };
        let lts = Log { time: 1, contents: vec![field("content", "a line")], time_ns: Some(5) };
        assert_eq!(render_content(&lts), "a line");
        assert_eq!(log_time_ns(&lts), 1_000_000_005);
        let sls = Log { time: 1, contents: vec![field("method", "GET"), field("status", "200")], time_ns: None };
        assert_eq!(render_content(&sls), "method=GET status=200");
        let g = LogGroup {
            topic: Some("t".into()),
            source: Some(String::new()),
            log_tags: vec![LogTag { key: "host".into(), value: "h1".into() }],
            ..Default::default()
        };
        assert_eq!(group_labels(&g), vec![("host".into(), "h1".into()), ("__topic__".into(), "t".into())]);
    }

    proptest! {
        /// Following pages from the first one, in either order and with any page size, yields
        /// every log exactly once, in order; and going back from any page returns the one before.
        #[test]
        fn pages_neither_skip_nor_repeat(
            mut ln in proptest::collection::btree_set(0u64..10_000, 0..200),
            limit in 1usize..40,
            desc in any::<bool>(),
        ) {
            let ln: Vec<u64> = std::mem::take(&mut ln).into_iter().collect();
            let mut expected: Vec<u64> = ln.clone();
            if desc { expected.reverse(); }
            let mut pages: Vec<Vec<u64>> = Vec::new();
            let mut current: Vec<u64> = page(&ln, None, SearchType::Init, desc, limit).into_iter().map(|i| ln[i]).collect();
            while !current.is_empty() {
                prop_assert!(current.len() <= limit);
                pages.push(current.clone());
                let anchor = *current.last().unwrap();
                current = page(&ln, Some(anchor), SearchType::Forwards, desc, limit).into_iter().map(|i| ln[i]).collect();
            }
            let all: Vec<u64> = pages.concat();
            prop_assert_eq!(&all, &expected);
            for w in pages.windows(2) {
                let back: Vec<u64> = page(&ln, Some(w[1][0]), SearchType::Backwards, desc, limit).into_iter().map(|i| ln[i]).collect();
                prop_assert_eq!(&back, &w[0]);
            }
        }
    }
}
