//! SLS management and read operations over the catalog and the shard log: cursors, PullLogs,
//! and the JSON shapes of projects, logstores and shards that the official SDKs parse
//! (sls.md §8–§10). Blocking: the HTTP layer runs these on the blocking pool.

use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::catalog::{Logstore, LogstoreSettings, Project};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::route::{format_key, Shard, ShardStatus};
use crate::store::{Codec, ShardLog, StoredGroup};
use crate::wire::loggroup::{append_tags, write_log_group_list_entry};

/// A cursor is standard base64 of the decimal text of the position (sls.md §9.1).
pub fn encode_cursor(seq: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(seq.to_string())
}

pub fn decode_cursor(cursor: &str) -> ApiResult<u64> {
    let invalid = || ApiError::new(ErrorCode::InvalidCursor, format!("cursor {cursor:?} is invalid"));
    let text = base64::engine::general_purpose::STANDARD.decode(cursor.trim()).map_err(|_| invalid())?;
    std::str::from_utf8(&text).ok().and_then(|t| t.parse::<u64>().ok()).ok_or_else(invalid)
}

/// GetCursor: `begin`, `end`, or unix seconds (the first group received at or after it).
pub fn get_cursor(store: &dyn ShardLog, ls: &Logstore, shard: u32, from: &str) -> ApiResult<u64> {
    ls.shard(shard)?;
    let (first, end) = store.bounds(ls.id, shard).map_err(ApiError::store)?;
    match from {
        "begin" => Ok(first),
        "end" => Ok(end),
        t => {
            let secs: u64 =
                t.parse().map_err(|_| ApiError::param(format!("from {t:?} must be begin, end or unix seconds")))?;
            let seq = store
                .seek_receive_time(ls.id, shard, secs.saturating_mul(1_000_000_000))
                .map_err(ApiError::internal)?;
            Ok(seq.clamp(first, end))
        }
    }
}

/// GetCursorTime: the receive time (unix seconds) of the group at `cursor`.
pub fn cursor_time(store: &dyn ShardLog, ls: &Logstore, shard: u32, cursor: u64) -> ApiResult<u64> {
    ls.shard(shard)?;
    let (first, end) = store.bounds(ls.id, shard).map_err(ApiError::store)?;
    let at = if cursor == end && end > first { cursor - 1 } else { cursor };
    if at < first || at >= end {
        return Err(ApiError::new(ErrorCode::InvalidCursor, "cursor is out of range"));
    }
    let group = store.read(ls.id, shard, at, 1, 0).map_err(ApiError::store)?;
    group
        .first()
        .map(|g| g.header.receive_ns / 1_000_000_000)
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidCursor, "cursor is out of range"))
}

/// What PullLogs returns: a serialized LogGroupList and the cursors around it.
#[derive(Debug)]
pub struct Pulled {
    pub log_group_list: Vec<u8>,
    pub count: usize,
    pub next: u64,
    pub last_read: Option<u64>,
}

/// PullLogs: up to `count` groups from `cursor` (before `end_cursor` if given). A cursor older
/// than the retained data starts at the oldest retained group; one past the end is refused.
pub fn pull_logs(
    store: &dyn ShardLog,
    ls: &Logstore,
    shard: u32,
    cursor: u64,
    count: usize,
    end_cursor: Option<u64>,
    max_bytes: usize,
) -> ApiResult<Pulled> {
    ls.shard(shard)?;
    if count > 1000 {
        return Err(ApiError::param("count must be in [0, 1000]"));
    }
    let (first, end) = store.bounds(ls.id, shard).map_err(ApiError::store)?;
    if cursor > end {
        return Err(ApiError::new(ErrorCode::InvalidCursor, "cursor is beyond the end of the shard"));
    }
    let start = cursor.max(first);
    let stop = end_cursor.unwrap_or(end).min(end);
    let want = count.min(stop.saturating_sub(start) as usize);
    let groups = if want == 0 {
        Vec::new()
    } else {
        store.read(ls.id, shard, start, want, max_bytes).map_err(ApiError::store)?
    };
    let mut list = Vec::new();
    let mut raw = Vec::new();
    for g in &groups {
        render_group(g, ls.settings.append_meta, &mut raw)?;
        write_log_group_list_entry(&mut list, &raw);
    }
    let next = groups.last().map(|g| g.seq + 1).unwrap_or(start);
    Ok(Pulled { log_group_list: list, count: groups.len(), next, last_read: groups.last().map(|g| g.seq) })
}

/// The serialized LogGroup as written, plus the receive time and client IP tags when the
/// logstore has `appendMeta`.
fn render_group(g: &StoredGroup, append_meta: bool, out: &mut Vec<u8>) -> ApiResult<()> {
    out.clear();
    match g.header.codec {
        Codec::None => out.extend_from_slice(&g.payload),
        Codec::Lz4 => {
            out.resize(g.header.raw_len as usize, 0);
            let n = lz4_flex::block::decompress_into(&g.payload, out).map_err(ApiError::internal)?;
            out.truncate(n);
        }
    }
    if append_meta {
        let recv = (g.header.receive_ns / 1_000_000_000).to_string();
        append_tags(out, &[("__receive_time__", &recv), ("__client_ip__", &g.header.client_ip)]);
    }
    Ok(())
}

fn sls_datetime(unix: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix as i64).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    t.format(&f).unwrap_or_default()
}

pub fn project_json(p: &Project) -> Value {
    json!({
        "projectName": p.name,
        "description": p.description,
        "status": "Normal",
        "region": "local",
        "owner": "",
        "createTime": sls_datetime(p.create_time),
        "lastModifyTime": sls_datetime(p.last_modify_time),
        "resourceGroupId": "",
        "dataRedundancyType": "LRS",
    })
}

pub fn logstore_json(ls: &Logstore) -> Value {
    let s = &ls.settings;
    json!({
        "logstoreName": ls.name,
        "ttl": s.ttl,
        "shardCount": ls.shards.iter().filter(|s| s.status == ShardStatus::Readwrite).count(),
        "enable_tracking": s.enable_tracking,
        "autoSplit": s.auto_split,
        "maxSplitShard": s.max_split_shard,
        "appendMeta": s.append_meta,
        "telemetryType": s.telemetry_type,
        "mode": "standard",
        "createTime": ls.create_time,
        "lastModifyTime": ls.last_modify_time,
    })
}

pub fn shard_json(s: &Shard) -> Value {
    json!({
        "shardID": s.id,
        "status": match s.status { ShardStatus::Readwrite => "readwrite", ShardStatus::Readonly => "readonly" },
        "inclusiveBeginKey": format_key(s.begin),
        "exclusiveEndKey": format_key(s.end),
        "createTime": s.create_time,
    })
}

pub fn shards_json(shards: &[Shard]) -> Value {
    Value::Array(shards.iter().map(shard_json).collect())
}

/// The CreateLogstore / UpdateLogstore body; unknown keys are ignored (sls.md §10).
#[derive(Debug, Deserialize)]
struct LogstoreBody {
    #[serde(rename = "logstoreName")]
    name: Option<String>,
    ttl: Option<u32>,
    #[serde(rename = "shardCount")]
    shard_count: Option<u32>,
    enable_tracking: Option<bool>,
    #[serde(rename = "appendMeta")]
    append_meta: Option<bool>,
    #[serde(rename = "autoSplit")]
    auto_split: Option<bool>,
    #[serde(rename = "maxSplitShard")]
    max_split_shard: Option<u32>,
    #[serde(rename = "telemetryType")]
    telemetry_type: Option<String>,
}

/// Parses a logstore body over `base` settings; returns the name it gives (if any).
pub fn parse_logstore_body(body: &[u8], base: LogstoreSettings) -> ApiResult<(Option<String>, LogstoreSettings)> {
    let b: LogstoreBody = serde_json::from_slice(body)
        .map_err(|e| ApiError::new(ErrorCode::LogStoreInfoInvalid, format!("invalid logstore JSON: {e}")))?;
    let s = LogstoreSettings {
        ttl: b.ttl.unwrap_or(base.ttl),
        shard_count: b.shard_count.unwrap_or(base.shard_count),
        enable_tracking: b.enable_tracking.unwrap_or(base.enable_tracking),
        append_meta: b.append_meta.unwrap_or(base.append_meta),
        auto_split: b.auto_split.unwrap_or(base.auto_split),
        max_split_shard: b.max_split_shard.unwrap_or(base.max_split_shard),
        telemetry_type: b.telemetry_type.unwrap_or(base.telemetry_type),
    };
    Ok((b.name, s))
}

/// The CreateProject / UpdateProject body.
#[derive(Debug, Deserialize)]
pub struct ProjectBody {
    #[serde(rename = "projectName")]
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
}

pub fn parse_project_body(body: &[u8]) -> ApiResult<ProjectBody> {
    if body.is_empty() {
        return Ok(ProjectBody { name: None, description: String::new() });
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(ErrorCode::ProjectInfoInvalid, format!("invalid project JSON: {e}")))
}

/// `offset`/`size` paging with a substring filter, as ListProject and ListLogstore do.
pub fn page<T>(items: Vec<T>, offset: usize, size: usize) -> (usize, Vec<T>) {
    let total = items.len();
    (total, items.into_iter().skip(offset).take(size).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_base64_decimal() {
        assert_eq!(decode_cursor("MTQ0NzI5OTYwNjg5NjYzMjM1Ng==").unwrap(), 1447299606896632356);
        assert_eq!(encode_cursor(1447299606896632356), "MTQ0NzI5OTYwNjg5NjYzMjM1Ng==");
        assert_eq!(decode_cursor("not base64!").unwrap_err().code, ErrorCode::InvalidCursor);
        assert_eq!(decode_cursor(&encode_cursor(0)).unwrap(), 0);
    }

    #[test]
    fn logstore_body_ignores_unknown_keys() {
        let base = LogstoreSettings {
            ttl: 30,
            shard_count: 2,
            enable_tracking: false,
            append_meta: false,
            auto_split: false,
            max_split_shard: 64,
            telemetry_type: String::new(),
        };
        let (name, s) = parse_logstore_body(
            br#"{"logstoreName":"ls1","ttl":7,"shardCount":4,"encrypt_conf":{},"hot_ttl":3}"#,
            base,
        )
        .unwrap();
        assert_eq!(name.as_deref(), Some("ls1"));
        assert_eq!((s.ttl, s.shard_count), (7, 4));
        assert_eq!(parse_logstore_body(b"{", s).unwrap_err().code, ErrorCode::LogStoreInfoInvalid);
    }

    #[test]
    fn datetimes_look_like_sls() {
        assert_eq!(sls_datetime(1_605_718_557), "2020-11-18 16:55:57");
    }
}
