//! Criterion benchmarks of the write path's stages, each reported as bytes per second of raw
//! protobuf (of raw JSON for the JSON doors): LZ4 decompression, in-place validation, both
//! together, the LTS report conversion, routing, and the RocksDB group commit of a stored block.
//! Run with `cargo bench --bench ingest`.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use logtide::route;
use logtide::store::{Append, Codec, GroupRecord, RecordHeader, RocksStore, ShardLog};
use logtide::validate::Limits;
use logtide::wire::compress::{decompress_into, Compression};
use logtide::wire::loggroup::validate_log_group;
use logtide::wire::lts::{report_to_log_group, ReportShape};
use logtide::wire::pb::{log::Content, Log, LogGroup, LogTag};
use prost::Message;

/// A batch of nginx-like logs: 10 fields, ~365 raw bytes per log.
fn nginx_batch(logs: usize, now: u32) -> Vec<u8> {
    let fields = |i: usize| {
        vec![
            ("remote_addr", format!("10.0.{}.{}", i % 256, (i * 7) % 256)),
            ("remote_user", "-".to_string()),
            ("time_local", "23/Nov/2026:12:24:47 +0000".to_string()),
            ("request", format!("GET /api/v1/items/{i}?page={} HTTP/1.1", i % 17)),
            ("status", ["200", "200", "200", "404", "500"][i % 5].to_string()),
            ("body_bytes_sent", ((i * 7919) % 50_000).to_string()),
            ("http_referer", "https://example.com/catalog/index.html".to_string()),
            (
                "http_user_agent",
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
                    .to_string(),
            ),
            ("request_time", format!("0.{:03}", i % 1000)),
            ("upstream_addr", format!("192.168.1.{}:8080", i % 32)),
        ]
    };
    LogGroup {
        logs: (0..logs)
            .map(|i| Log {
                time: now,
                contents: fields(i).into_iter().map(|(k, v)| Content { key: k.into(), value: v }).collect(),
                time_ns: Some((i * 1000) as u32),
            })
            .collect(),
        topic: Some("nginx".into()),
        source: Some("10.0.0.1".into()),
        log_tags: vec![LogTag { key: "host".into(), value: "web-1".into() }],
        ..Default::default()
    }
    .encode_to_vec()
}

fn now() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32
}

fn decode_and_validate(c: &mut Criterion) {
    let raw = nginx_batch(4096, now());
    let lz4 = lz4_flex::block::compress(&raw);
    let limits = Limits::default();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Bytes(raw.len() as u64));
    let mut out = Vec::new();
    g.bench_function("lz4_decompress_4096_logs", |b| {
        b.iter(|| decompress_into(Compression::Lz4, &lz4, Some(raw.len()), limits.max_raw_bytes, &mut out).unwrap())
    });
    let t = now() as u64;
    g.bench_function("validate_in_place_4096_logs", |b| b.iter(|| validate_log_group(&raw, &limits, t).unwrap()));
    g.bench_function("lz4_plus_validate_4096_logs", |b| {
        b.iter(|| {
            decompress_into(Compression::Lz4, &lz4, Some(raw.len()), limits.max_raw_bytes, &mut out).unwrap();
            validate_log_group(&out, &limits, t).unwrap()
        })
    });
    g.bench_function("prost_decode_owned_4096_logs", |b| b.iter(|| LogGroup::decode(raw.as_slice()).unwrap()));
    g.finish();
}

/// An LTS `tenant/contents` body of 4096 nginx access lines (~300 bytes each), the way an agent
/// reports them, converted to a LogGroup and validated: the JSON door's whole CPU cost.
fn lts_report(c: &mut Criterion) {
    let line = |i: usize| {
        format!(
            "10.0.{}.{} - - [23/Nov/2026:12:24:47 +0000] \"GET /api/v1/items/{i}?page={} HTTP/1.1\" {} {} \
             \"https://example.com/catalog/index.html\" \"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 \
             (KHTML, like Gecko) Chrome/120.0 Safari/537.36\" 0.{:03} 192.168.1.{}:8080",
            i % 256,
            (i * 7) % 256,
            i % 17,
            ["200", "404", "500"][i % 3],
            (i * 7919) % 50_000,
            i % 1000,
            i % 32
        )
    };
    let contents: Vec<String> = (0..4096).map(line).collect();
    let t = now() as u64;
    let body = serde_json::json!({
        "log_time_ns": t * 1_000_000_000,
        "contents": contents,
        "labels": {"hostName": "web-1", "pathFile": "/var/log/nginx/access.log"},
    })
    .to_string()
    .into_bytes();
    let limits = Limits { max_raw_bytes: usize::MAX, ..Limits::default() };
    let mut g = c.benchmark_group("json");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("lts_report_to_log_group_4096_lines", |b| {
        b.iter(|| report_to_log_group(&body, ReportShape::Contents, 4096).unwrap())
    });
    g.bench_function("lts_report_convert_and_validate_4096_lines", |b| {
        b.iter(|| {
            let pb = report_to_log_group(&body, ReportShape::Contents, 4096).unwrap();
            validate_log_group(&pb, &limits, t).unwrap()
        })
    });
    g.finish();
}

fn routing(c: &mut Criterion) {
    let shards: Vec<route::Shard> = route::initial_ranges(64)
        .into_iter()
        .enumerate()
        .map(|(i, (begin, end))| route::Shard {
            id: i as u32,
            status: route::ShardStatus::Readwrite,
            begin,
            end,
            create_time: 0,
        })
        .collect();
    let mut g = c.benchmark_group("route");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_and_route_hash_key_64_shards", |b| {
        b.iter(|| route::route_key(&shards, route::parse_hash_key("8C3A5F0E91B2D4C6A7E8F90123456789").unwrap()))
    });
    g.bench_function("pick_balanced_64_shards", |b| {
        b.iter(|| route::pick_balanced(&shards, 17, |id| (id as usize * 7) % 5))
    });
    g.finish();
}

fn shard_commit(c: &mut Criterion) {
    let raw = nginx_batch(4096, now());
    let block = bytes::Bytes::from(lz4_flex::block::compress(&raw));
    let dir = tempfile::tempdir().unwrap();
    let store = RocksStore::open(dir.path()).unwrap();
    let stream = uuid::Uuid::new_v4();
    store.create_stream(stream).unwrap();
    let log: Arc<dyn ShardLog> = store;
    let record = GroupRecord {
        header: RecordHeader {
            codec: Codec::Lz4,
            raw_len: raw.len() as u32,
            log_count: 4096,
            min_time: 0,
            max_time: 0,
            receive_ns: 0,
            client_ip: "127.0.0.1".into(),
        },
        payload: block.clone(),
    };
    let mut g = c.benchmark_group("commit");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(8 * raw.len() as u64));
    g.bench_function("group_commit_8_lz4_blocks_wal_no_sync", |b| {
        b.iter_batched(
            || (0..8).map(|_| Append { stream, shard: 0, groups: vec![record.clone()] }).collect::<Vec<_>>(),
            |mut items| log.append(&mut items, false).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, decode_and_validate, lts_report, routing, shard_commit);
criterion_main!(benches);
