//! The load generator (`logtide-load`) against a real daemon on port 0: every format is
//! acknowledged whole and counted back through cursors by verify, hash routing spreads over the
//! shards, an open-loop run achieves its offered rate, and the binary prints one JSON report and
//! exits 0, 1 or 2 as documented.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use logtide::loadgen::schedule::Stop;
use logtide::loadgen::{self, Format, Options, Route};

fn options(d: &TestDaemon, logstore: &str, format: Format) -> Options {
    let mut o = Options::new(logstore);
    o.url = format!("http://{}", d.addr);
    o.format = format;
    o.logs = 50;
    o.corpus = 3;
    o.connections = 2;
    o.stop = Stop::Requests(30);
    o.verify = true;
    o.quiet = true;
    o
}

fn logs_in(groups: &[(u64, logtide::wire::pb::LogGroup)]) -> usize {
    groups.iter().map(|(_, g)| g.logs.len()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_every_format_is_acknowledged_and_verified() {
    let d = TestDaemon::start("").await;
    let formats = [
        Format::PbLz4,
        Format::PbZstd,
        Format::PbDeflate,
        Format::PbNone,
        Format::Webtrack,
        Format::Lts,
        Format::Callback,
    ];
    for format in formats {
        // All formats land in one logstore: verify compares the count before and after each run.
        let report = loadgen::run(&options(&d, "all-formats", format)).await.unwrap();
        assert_eq!((report.requests_ok, report.requests_err), (30, 0), "{format:?}: {:?}", report.errors_by_code);
        assert_eq!(report.logs_acked, 1500, "{format:?}");
        assert_eq!(report.format, format.name());
        let verify = report.verify.as_ref().unwrap();
        assert_eq!((verify.expected, verify.found, verify.ok), (1500, 1500, true), "{format:?}");
        assert!(report.raw_bytes_per_log > 100.0 && report.latency_ms.p50 > 0.0, "{report:?}");
        assert_eq!(report.timeline.iter().map(|s| s.ok).sum::<u64>(), 30);
    }
    assert_eq!(logs_in(&d.pull_all("bench", "all-formats").await), formats.len() * 1500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_hash_routing_spreads_over_the_shards() {
    let d = TestDaemon::start("").await;
    let mut o = options(&d, "hashed", Format::PbLz4);
    o.route = Route::Hash;
    o.shards = 4;
    let report = loadgen::run(&o).await.unwrap();
    assert_eq!((report.requests_ok, report.requests_err), (30, 0), "{:?}", report.errors_by_code);
    assert!(report.verify.unwrap().ok);
    let groups = d.pull_all("bench", "hashed").await;
    assert_eq!(logs_in(&groups), 1500);
    let shards: BTreeSet<u64> = groups.iter().map(|(shard, _)| *shard).collect();
    assert!(shards.len() >= 3, "random keys reach most of the 4 shards: {shards:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_open_loop_runs_at_the_offered_rate() {
    let d = TestDaemon::start("").await;
    let mut o = options(&d, "paced", Format::PbLz4);
    o.logs = 10;
    o.rate = Some(100.0);
    o.warmup = Duration::from_millis(300);
    o.stop = Stop::Duration(Duration::from_millis(1500));
    let started = std::time::Instant::now();
    let report = loadgen::run(&o).await.unwrap();
    let took = started.elapsed();
    assert_eq!(report.rate_target, Some(100.0));
    // 150 slots in the measured window, none refused; a loaded test machine may miss a few.
    assert_eq!(report.requests_err, 0, "{:?}", report.errors_by_code);
    assert_eq!(report.requests_ok + report.requests_missed, 150);
    assert!(report.requests_ok >= 140, "{report:?}");
    assert!((report.requests_per_s - 100.0).abs() < 10.0, "{}", report.requests_per_s);
    assert!((1.5..2.0).contains(&report.duration_s), "{}", report.duration_s);
    assert!(took >= Duration::from_millis(1790), "paced, not as fast as possible: {took:?}");
    // Warm-up requests are stored but not counted: verify expects them too.
    let verify = report.verify.unwrap();
    assert!(verify.ok && verify.expected == (report.requests_ok + 30) * 10, "{verify:?}");
}

/// Runs the real binary (blocking, on the blocking pool so the daemon keeps serving).
async fn binary(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_logtide-load")).args(args).output().unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_binary_prints_one_json_report_and_exits_as_documented() {
    let d = TestDaemon::start("").await;
    let args = format!(
        "--url http://{} --logstore cli --format webtrack --logs 20 --requests 5 --connections 1 --verify --json",
        d.addr
    );
    let out = binary(args.split(' ').map(str::to_string).collect()).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["format"], "webtrack");
    assert_eq!((report["requests_ok"].as_u64(), report["logs_acked"].as_u64()), (Some(5), Some(100)));
    assert_eq!(report["verify"]["ok"], true);
    assert!(report["latency_ms"]["p999"].as_f64().is_some() && report["error_latency_ms"]["max"].is_number());

    let out = binary(vec!["--rate".into(), "-3".into()]).await;
    assert_eq!(out.status.code(), Some(2), "bad arguments");
    let out = binary(vec!["--format".into(), "yaml".into()]).await;
    assert_eq!(out.status.code(), Some(2), "bad arguments");
    let out = binary(vec!["--url".into(), "http://127.0.0.1:1".into(), "--requests".into(), "1".into()]).await;
    assert_eq!(out.status.code(), Some(1), "nothing to connect to: {}", String::from_utf8_lossy(&out.stderr));
    let out = binary(vec!["--help".into()]).await;
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for option in ["--rate", "--verify", "--route", "--value-bytes", "--warmup", "--threads", "callback"] {
        assert!(help.contains(option), "--help mentions {option}");
    }
}
