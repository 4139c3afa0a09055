//! Reading a logstore back: ListShards, then for every shard GetCursor from the beginning and
//! PullLogs (LZ4-compressed LogGroupLists) until the next cursor equals the one sent, counting
//! the logs. A run's verify compares the count after it with the count before it.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use prost::Message;

use super::client::{self, Answer, Conn, Target};
use super::report::error_code;
use crate::wire::pb::LogGroupList;

/// LogGroups asked for per PullLogs call (the SLS maximum).
const PULL_COUNT: usize = 1000;

/// The most bytes a PullLogs answer may have on the wire or once decompressed.
const MAX_PULL_BYTES: usize = 1 << 30;

/// Every log stored in the logstore, counted through cursors.
pub async fn count_logs(conn: &mut Conn, target: &Target, project: &str, logstore: &str) -> Result<u64, String> {
    let headers = target.project_headers(project)?;
    let shards = get(conn, &headers, &format!("/logstores/{logstore}/shards")).await?;
    let shards: serde_json::Value =
        serde_json::from_slice(&shards.body).map_err(|e| format!("ListShards answered no JSON: {e}"))?;
    let ids: Vec<u64> = shards
        .as_array()
        .ok_or("ListShards answered no array")?
        .iter()
        .map(|s| s["shardID"].as_u64().ok_or_else(|| format!("a shard without shardID: {s}")))
        .collect::<Result<_, _>>()?;
    let mut total = 0;
    for id in ids {
        total += count_shard(conn, &headers, logstore, id).await?;
    }
    Ok(total)
}

async fn count_shard(conn: &mut Conn, headers: &HeaderMap, logstore: &str, shard: u64) -> Result<u64, String> {
    let path = format!("/logstores/{logstore}/shards/{shard}?type=cursor&from=begin");
    let answer = get(conn, headers, &path).await?;
    let v: serde_json::Value =
        serde_json::from_slice(&answer.body).map_err(|e| format!("GetCursor answered no JSON: {e}"))?;
    let mut cursor = v["cursor"].as_str().ok_or_else(|| format!("GetCursor answered no cursor: {v}"))?.to_string();
    let mut pull_headers = headers.clone();
    pull_headers.insert("accept-encoding", HeaderValue::from_static("lz4"));
    pull_headers.insert("accept", HeaderValue::from_static("application/x-protobuf"));
    let mut logs = 0u64;
    loop {
        let path = format!(
            "/logstores/{logstore}/shards/{shard}?type=logs&cursor={}&count={PULL_COUNT}",
            percent_encoding::utf8_percent_encode(&cursor, percent_encoding::NON_ALPHANUMERIC)
        );
        let answer = get(conn, &pull_headers, &path).await?;
        logs += count_pulled(&answer)?;
        let next = header(&answer, "x-log-cursor")?.to_string();
        if next == cursor {
            return Ok(logs);
        }
        cursor = next;
    }
}

/// The logs in one PullLogs answer: an LZ4 (or raw) LogGroupList of `x-log-bodyrawsize` bytes.
pub fn count_pulled(answer: &Answer) -> Result<u64, String> {
    let raw_size: usize = header(answer, "x-log-bodyrawsize")?
        .parse()
        .map_err(|_| "PullLogs answered a bad x-log-bodyrawsize".to_string())?;
    let compressed =
        answer.headers.get("x-log-compresstype").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"lz4"));
    // LZ4 expands a byte to at most 255: a larger claim is refused before allocating for it.
    if raw_size > MAX_PULL_BYTES || (compressed && raw_size > answer.body.len().saturating_mul(255)) {
        return Err(format!("PullLogs announced {raw_size} raw bytes for a {}-byte body", answer.body.len()));
    }
    let raw = if raw_size == 0 {
        Vec::new()
    } else if compressed {
        lz4_flex::block::decompress(&answer.body, raw_size).map_err(|e| format!("PullLogs body is not LZ4: {e}"))?
    } else {
        answer.body.to_vec()
    };
    let list = LogGroupList::decode(raw.as_slice()).map_err(|e| format!("PullLogs body is no LogGroupList: {e}"))?;
    Ok(list.log_groups.iter().map(|g| g.logs.len() as u64).sum())
}

fn header<'a>(answer: &'a Answer, name: &str) -> Result<&'a str, String> {
    answer.headers.get(name).and_then(|v| v.to_str().ok()).ok_or_else(|| format!("PullLogs answered without {name}"))
}

async fn get(conn: &mut Conn, headers: &HeaderMap, path: &str) -> Result<Answer, String> {
    let req = client::request(Method::GET, path, headers, Bytes::new())?;
    let answer = conn.send(req, MAX_PULL_BYTES).await.map_err(|e| format!("GET {path}: {e}"))?;
    if !answer.status.is_success() {
        let code = error_code(answer.status.as_u16(), &answer.body);
        return Err(format!("GET {path}: HTTP {} {code}", answer.status.as_u16()));
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::pb::{Log, LogGroup};
    use http::StatusCode;

    fn answer(body: Vec<u8>, raw: usize, lz4: bool) -> Answer {
        let mut headers = HeaderMap::new();
        headers.insert("x-log-bodyrawsize", HeaderValue::from(raw));
        headers.insert("x-log-cursor", HeaderValue::from_static("MQ=="));
        if lz4 {
            headers.insert("x-log-compresstype", HeaderValue::from_static("lz4"));
        }
        Answer { status: StatusCode::OK, headers, body: Bytes::from(body) }
    }

    #[test]
    fn pulled_logs_are_counted_and_bad_answers_are_errors() {
        let group = |n: usize| LogGroup { logs: vec![Log::default(); n], ..Default::default() };
        let raw = LogGroupList { log_groups: vec![group(3), group(4)] }.encode_to_vec();
        assert_eq!(count_pulled(&answer(lz4_flex::block::compress(&raw), raw.len(), true)), Ok(7));
        assert_eq!(count_pulled(&answer(raw.clone(), raw.len(), false)), Ok(7));
        assert_eq!(count_pulled(&answer(Vec::new(), 0, true)), Ok(0));
        assert!(count_pulled(&answer(b"garbage".to_vec(), 100, true)).is_err());
        assert!(count_pulled(&answer(Vec::new(), usize::MAX, true)).is_err());
    }
}
