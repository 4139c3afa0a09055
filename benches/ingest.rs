//! Criterion benchmarks of the write path's stages, each reported as bytes per second of raw
//! protobuf (of raw JSON for the JSON doors): LZ4 decompression, in-place validation, both
//! together, the LTS report conversion, routing, and the RocksDB group commit of a stored block.
//! Run with `cargo bench --bench ingest`.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use logtide::loadgen::corpus::{Corpus, CorpusSpec};
use logtide::loadgen::Format;
use logtide::route;
use logtide::store::{Append, Codec, GroupRecord, RecordHeader, RocksStore, ShardLog};
use logtide::validate::Limits;
use logtide::wire::compress::{decompress_into, Compression};
use logtide::wire::json::{json_to_log_group, LogTime};
use logtide::wire::loggroup::validate_log_group;
use logtide::wire::lts::{report_to_log_group, ReportShape};
use logtide::wire::pb::LogGroup;
use prost::Message;

/// One batch of the load generator's default corpus, as raw protobuf: 4096 nginx-like logs of 10
/// fields (~370 raw bytes a log, LZ4 ratio ~0.19), so stage and end-to-end figures share the data.
fn nginx_batch(logs: usize, now: u32) -> Vec<u8> {
    let spec = CorpusSpec {
        format: Format::PbNone,
        logs,
        fields: 10,
        value_bytes: 0,
        topic: "nginx".into(),
        tags: 3,
        bodies: 1,
        project: "bench".into(),
        logstore: "bench".into(),
        now,
    };
    Corpus::build(&spec).bodies[0].bytes.to_vec()
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

/// A web-tracking body of 4096 nginx-like logs (10 string fields each), converted to a LogGroup.
fn webtrack(c: &mut Criterion) {
    let logs: Vec<serde_json::Value> = (0..4096)
        .map(|i| {
            serde_json::json!({
                "remote_addr": format!("10.0.{}.{}", i % 256, (i * 7) % 256),
                "remote_user": "-",
                "time_local": "23/Nov/2026:12:24:47 +0000",
                "request": format!("GET /api/v1/items/{i}?page={} HTTP/1.1", i % 17),
                "status": (["200", "200", "200", "404", "500"][i % 5]),
                "body_bytes_sent": ((i * 7919) % 50_000).to_string(),
                "http_referer": "https://example.com/catalog/index.html",
                "http_user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
                "request_time": format!("0.{:03}", i % 1000),
                "upstream_addr": format!("192.168.1.{}:8080", i % 32),
            })
        })
        .collect();
    let body = serde_json::json!({"__topic__": "nginx", "__source__": "10.0.0.1", "__logs__": logs, "__tags__": {"host": "web-1"}})
        .to_string()
        .into_bytes();
    let mut g = c.benchmark_group("json");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("webtrack", |b| {
        b.iter(|| json_to_log_group(&body, LogTime::Receive { unix: now() }, 4096).unwrap())
    });
    g.finish();
}

/// A container-log callback body of 2048 records, parsed, checked and grouped per logstore.
fn callback(c: &mut Criterion) {
    let records: Vec<serde_json::Value> = (0..2048)
        .map(|i| {
            serde_json::json!({
                "@timestamp": "2026-11-23T12:24:47.123Z", "application_name": format!("app-{}", i % 4), "component": "web",
                "container_id": "3f2a9c0d1e4b5a6f7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b", "container_id8": "3f2a9c0d",
                "docker_container_name": "k8s_web_shop-7d9f_default", "file_name": "/var/log/app/app.log",
                "kubernetes_container_name": "web", "kubernetes_namespace": "default",
                "log_data": format!("2026-11-23 12:24:47 INFO request {i} served in {} ms by handler /api/v1/items", i % 97),
                "node": "192.168.0.12", "paths": "/var/log/app/*.log", "pod_id": "121f0ff7-0d5c-4a9e-8f3b-2c1d0e9f8a7b",
                "pod_name": "shop-7d9f-klcsf", "product": "cpaas", "project_name": "shop", "region_name": "region-1",
                "time": 1_795_000_000_000i64 + i as i64
            })
        })
        .collect();
    let body = serde_json::Value::Array(records).to_string().into_bytes();
    let cfg = logtide::config::CallbackConfig::default();
    let mut g = c.benchmark_group("json");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("callback", |b| {
        b.iter(|| {
            let records = logtide::wire::callback::parse_records(&body, 4096).unwrap();
            logtide::http::callback::requests(records, &cfg, "10.0.0.1")
        })
    });
    g.finish();
}

fn routing(c: &mut Criterion) {
    let shards = route::initial_shards(64, 0);
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

criterion_group!(benches, decode_and_validate, lts_report, webtrack, callback, routing, shard_commit);
criterion_main!(benches);
