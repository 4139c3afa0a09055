//! Query latency against stored volume: the same one-hour LTS ListLogs query over a logstore that
//! holds one day and one that holds seven days of logs (one 64-log group a minute). With the time
//! index the two cost about the same; a query over a whole day shows that cost follows the window,
//! not the store. Run with `cargo bench --bench query`.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use logtide::api::lts_query::{list_logs, parse_log_query};
use logtide::store::{Append, Codec, GroupRecord, RecordHeader, RocksStore, ShardLog};
use logtide::wire::pb::{log::Content, Log, LogGroup, LogTag};
use prost::Message;

const LOGS_PER_GROUP: u32 = 64;

/// One group per minute for `hours` hours ending at `end` (unix seconds), across 2 shards.
fn fill(store: &Arc<RocksStore>, stream: uuid::Uuid, hours: u32, end: u32) {
    let minutes = hours * 60;
    let start = end - minutes * 60;
    for chunk in (0..minutes).collect::<Vec<_>>().chunks(256) {
        let mut items: Vec<Append> = chunk
            .iter()
            .map(|&m| {
                let t = start + m * 60;
                let group = LogGroup {
                    logs: (0..LOGS_PER_GROUP)
                        .map(|i| Log {
                            time: t + i * 60 / LOGS_PER_GROUP,
                            contents: vec![
                                Content {
                                    key: "level".into(),
                                    value: ["INFO", "WARN", "ERROR"][(i % 3) as usize].into(),
                                },
                                Content {
                                    key: "msg".into(),
                                    value: format!("request {m}-{i} served in {} ms", i * 7 % 300),
                                },
                                Content { key: "path".into(), value: format!("/api/v1/items/{}", i % 50) },
                            ],
                            time_ns: Some(i * 1000),
                        })
                        .collect(),
                    log_tags: vec![LogTag { key: "host".into(), value: format!("web-{}", m % 4) }],
                    ..Default::default()
                }
                .encode_to_vec();
                let header = RecordHeader {
                    codec: Codec::Lz4,
                    raw_len: group.len() as u32,
                    log_count: LOGS_PER_GROUP,
                    min_time: t,
                    max_time: t + 59,
                    receive_ns: 0,
                    client_ip: "127.0.0.1".into(),
                };
                let payload = bytes::Bytes::from(lz4_flex::block::compress(&group));
                Append { stream, shard: m % 2, groups: vec![GroupRecord { header, payload }] }
            })
            .collect();
        store.append(&mut items, false).unwrap();
    }
    store.flush().unwrap();
}

fn now() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32
}

fn query_latency(c: &mut Criterion) {
    let end = now() - 60;
    let dir = tempfile::tempdir().unwrap();
    let store = RocksStore::open(dir.path()).unwrap();
    let (day, week) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    for (stream, hours) in [(day, 24), (week, 7 * 24)] {
        store.create_stream(stream).unwrap();
        fill(&store, stream, hours, end);
    }
    let log: Arc<dyn ShardLog> = store.clone();
    let hour_ms = 3_600_000u64;
    let end_ms = end as u64 * 1000;
    let body = |window_ms: u64, keywords: &str| {
        let q = serde_json::json!({
            "start_time": end_ms - 3 * hour_ms - window_ms, "end_time": end_ms - 3 * hour_ms,
            "keywords": keywords, "limit": 50, "is_count": true,
        });
        parse_log_query(q.to_string().as_bytes()).unwrap()
    };
    let mut g = c.benchmark_group("query");
    g.sample_size(20);
    g.throughput(Throughput::Elements(60 * LOGS_PER_GROUP as u64));
    for (name, stream) in [("one_hour_of_a_1_day_store", day), ("one_hour_of_a_7_day_store", week)] {
        let q = body(hour_ms, "");
        g.bench_function(name, |b| b.iter(|| list_logs(log.as_ref(), stream, &q, 10_000_000).unwrap()));
    }
    let q = body(hour_ms, "error");
    g.bench_function("one_hour_keyword_error_of_a_7_day_store", |b| {
        b.iter(|| list_logs(log.as_ref(), week, &q, 10_000_000).unwrap())
    });
    g.throughput(Throughput::Elements(24 * 60 * LOGS_PER_GROUP as u64));
    let q = body(24 * hour_ms, "");
    g.bench_function("one_day_of_a_7_day_store", |b| b.iter(|| list_logs(log.as_ref(), week, &q, 10_000_000).unwrap()));
    g.finish();
}

criterion_group!(benches, query_latency);
criterion_main!(benches);
