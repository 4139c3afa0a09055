//! Operations through real HTTP and the real binary: `/metrics` counts writes and rejections
//! exactly and shows the queue, commit and RocksDB figures; `/ready` turns 503 when shutdown starts
//! while `/health` stays 200; the systemd unit verifies; the binary sends READY/WATCHDOG/STOPPING
//! to `NOTIFY_SOCKET`; JSON logs are JSON lines; no configured secret appears in logs or metrics.

mod common;

use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use md5::Digest;
use prost::Message;
use reqwest::Method;

/// The value of one exposed series (`name{labels}`), 0 when it is absent.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series).filter(|rest| rest.starts_with(' ')).map(|rest| rest.trim()))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{series} has value {v:?}")))
        .unwrap_or(0.0)
}

/// The sum of every series of a metric (all label sets).
fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

async fn scrape(d: &TestDaemon) -> String {
    let r = d.http.get(d.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    let text = r.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "an OpenMetrics exposition ends with # EOF");
    text
}

fn accepted(what: &str, project: &str, logstore: &str) -> String {
    format!("logtide_accepted_{what}_total{{project=\"{project}\",logstore=\"{logstore}\"}}")
}

fn rejected(api: &str, code: &str) -> String {
    format!("logtide_rejected_requests_total{{api=\"{api}\",code=\"{code}\"}}")
}

#[tokio::test]
async fn metrics_count_accepted_writes_and_rejections_exactly() {
    let d = TestDaemon::start("").await;
    d.create_project("opsp").await;
    d.create_logstore("opsp", "ops", 2).await;
    let before = scrape(&d).await;

    let mut raw_bytes = 0;
    for n in [2, 3, 4] {
        let g = group("m", n);
        raw_bytes += g.encode_to_vec().len();
        assert_eq!(d.put_lz4("opsp", "ops", &g).await.status(), 200);
    }
    // An LTS report to the same logstore by names: one more request, two more logs.
    let path = format!("/v2/{LTS_PID}/lts/groups/opsp/streams/ops/tenant/contents");
    let now_ns = u64::from(now()) * 1_000_000_000;
    let report = serde_json::json!({"log_time_ns": now_ns, "contents": ["a", "b"], "labels": {"k": "v"}});
    let r = d.http.post(d.url(&path)).header("content-type", "application/json").body(report.to_string());
    assert_eq!(r.send().await.unwrap().status(), 200);

    // Rejections: a body that is not a LogGroup, an unknown logstore, an unknown LTS log group.
    let bad = d.put_raw("opsp", "/logstores/ops/shards/lb", vec![0xff, 0xff, 0xff], &[]).await;
    assert_eq!(error_code(bad).await, (400, "PostBodyInvalid".to_string()));
    let missing = d.req(Method::GET, "opsp", "/logstores/nope/shards").send().await.unwrap();
    assert_eq!(error_code(missing).await, (404, "LogStoreNotExist".to_string()));
    let unknown = uuid::Uuid::new_v4().simple().to_string();
    let path = format!("/v2/{LTS_PID}/lts/groups/{unknown}/streams/{unknown}/tenant/contents");
    let r = d.http.post(d.url(&path)).header("content-type", "application/json").body(report.to_string());
    assert_eq!(r.send().await.unwrap().status(), 400);
    // Operations endpoints are never rejections.
    assert_eq!(d.http.get(d.url("/ready")).send().await.unwrap().status(), 200);
    assert_eq!(d.http.get(d.url("/health")).send().await.unwrap().status(), 200);

    let after = scrape(&d).await;
    let delta = |series: &str| metric(&after, series) - metric(&before, series);
    assert_eq!(delta(&accepted("requests", "opsp", "ops")), 4.0, "{after}");
    assert_eq!(delta(&accepted("logs", "opsp", "ops")), 11.0);
    let lts_bytes = delta(&accepted("bytes", "opsp", "ops")) - raw_bytes as f64;
    assert!(lts_bytes > 0.0, "the LTS report's converted LogGroup counts too");
    assert_eq!(delta(&rejected("sls", "PostBodyInvalid")), 1.0);
    assert_eq!(delta(&rejected("sls", "LogStoreNotExist")), 1.0);
    assert_eq!(delta(&rejected("lts_report", "ProjectNotExist")), 1.0);
    let all_rejections =
        metric_sum(&after, "logtide_rejected_requests_total") - metric_sum(&before, "logtide_rejected_requests_total");
    assert_eq!(all_rejections, 3.0, "nothing else counted as a rejection");

    // Byte counts are the raw LogGroup sizes alone: another SLS write adds exactly its size.
    let g = group("exact", 5);
    assert_eq!(d.put_lz4("opsp", "ops", &g).await.status(), 200);
    let last = scrape(&d).await;
    let grew = metric(&last, &accepted("bytes", "opsp", "ops")) - metric(&after, &accepted("bytes", "opsp", "ops"));
    assert_eq!(grew, g.encode_to_vec().len() as f64);
    d.stop().await;
}

#[tokio::test]
async fn queue_commit_and_rocksdb_figures_are_exported() {
    let d = TestDaemon::start("[storage]\nshard_workers = 2\nqueue_depth = 16\n").await;
    let first = scrape(&d).await;
    for worker in ["0", "1"] {
        let series = format!("logtide_shard_queue_depth{{worker=\"{worker}\"}}");
        assert!(first.contains(&format!("{series} 0")), "{series} is exported before any write:\n{first}");
    }
    assert_eq!(metric(&first, "logtide_shard_queue_capacity"), 16.0);
    assert_eq!(metric_sum(&first, "logtide_shard_commit_duration_seconds_count"), 0.0);

    for i in 0..6 {
        assert_eq!(d.put_lz4("figs", "store", &group(&format!("q{i}"), 10)).await.status(), 200);
    }
    let text = scrape(&d).await;
    // Each write was awaited before the next: one group commit each.
    assert_eq!(metric_sum(&text, "logtide_shard_commit_duration_seconds_count"), 6.0, "{text}");
    assert!(metric_sum(&text, "logtide_shard_commit_duration_seconds_sum") > 0.0);
    assert!(text.contains("logtide_shard_commit_duration_seconds_bucket{"), "a histogram with buckets");
    assert_eq!(metric_sum(&text, "logtide_shard_queue_depth"), 0.0, "idle queues are empty");
    let memtables = |t: &str| metric(t, "logtide_rocksdb_memtable_bytes");
    assert!(memtables(&text) > memtables(&first), "the writes sit in memtables");
    assert_eq!(metric(&text, "logtide_rocksdb_write_stopped"), 0.0);
    for gauge in [
        "logtide_rocksdb_delayed_write_rate_bytes_per_second",
        "logtide_rocksdb_running_compactions",
        "logtide_rocksdb_running_flushes",
        "logtide_rocksdb_compactions_pending",
        "logtide_rocksdb_pending_compaction_bytes",
        "logtide_rocksdb_live_sst_bytes",
        "logtide_rocksdb_block_cache_bytes",
        "logtide_inflight_bytes",
        "logtide_build_info",
    ] {
        assert!(text.lines().any(|l| l.starts_with(gauge)), "{gauge} is exported:\n{text}");
    }
    assert_eq!(metric(&text, "logtide_inflight_bytes"), 0.0, "no request in hand while scraping");
    d.stop().await;
}

#[tokio::test]
async fn ready_turns_unavailable_when_shutdown_starts_while_health_stays_ok() {
    let mut d = TestDaemon::start("shutdown_delay_secs = 2\n").await;
    let (http, base) = (d.http.clone(), d.url(""));
    let get = |path: &str| http.get(format!("{base}{path}")).send();
    let r = get("/ready").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap(), serde_json::json!({"status": "ready"}));
    // A Host naming a project does not make these paths project calls.
    assert_eq!(d.req(Method::GET, "opsp", "/ready").send().await.unwrap().status(), 200);
    assert_eq!(d.req(Method::GET, "opsp", "/metrics").send().await.unwrap().status(), 200);
    assert_eq!(error_code(d.http.post(d.url("/ready")).send().await.unwrap()).await.1, "InvalidMethod");

    let daemon = d.daemon.take().unwrap();
    let started = Instant::now();
    let stopping = tokio::spawn(daemon.shutdown());
    let unready = loop {
        let r = get("/ready").await.unwrap();
        if r.status() == 503 {
            break r.json::<serde_json::Value>().await.unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(1), "/ready still 200 after shutdown started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(unready, serde_json::json!({"status": "unavailable", "reason": "shutting down"}));
    // Within the delay the daemon is alive and still takes writes.
    assert_eq!(get("/health").await.unwrap().status(), 200);
    assert_eq!(d.put_lz4("late", "store", &group("late", 1)).await.status(), 200);
    stopping.await.unwrap().unwrap();
    assert!(started.elapsed() >= Duration::from_secs(2), "the listener stayed open for the delay");
    assert!(get("/health").await.is_err(), "the listener is closed once shut down");
}

// ---- the binary ----

const BIN: &str = env!("CARGO_BIN_EXE_logtide");

struct Running {
    child: Child,
    addr: String,
}

fn spawn(cmd: &mut Command) -> Running {
    let (child, addr) = spawn_binary(cmd);
    Running { addr: addr.to_string(), child }
}

/// A daemon left running by a failed assertion is killed, not orphaned.
impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn serve(data: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(data).env("LOGTIDE_LOG", "warn");
    cmd.env_remove("NOTIFY_SOCKET").env_remove("WATCHDOG_USEC").env_remove("WATCHDOG_PID");
    cmd
}

fn sigterm_and_wait(mut r: Running) {
    assert!(Command::new("kill").args(["-TERM", &r.child.id().to_string()]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = r.child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status} after SIGTERM");
            return;
        }
        assert!(Instant::now() < deadline, "no exit within 30 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every datagram received until `until` returns true or `within` passes.
fn receive(sock: &UnixDatagram, within: Duration, until: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !until(&got) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        sock.set_read_timeout(Some(left)).unwrap();
        match sock.recv(&mut buf) {
            Ok(n) => got.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => break,
            Err(e) => panic!("recv: {e}"),
        }
    }
    got
}

/// How many messages hold `line` (a message is `KEY=value` lines).
fn count(messages: &[String], line: &str) -> usize {
    messages.iter().filter(|m| m.lines().any(|l| l == line)).count()
}

fn has(messages: &[String], line: &str) -> bool {
    count(messages, line) > 0
}

#[test]
fn the_binary_tells_systemd_ready_watchdog_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&socket_path).unwrap();

    // Without WATCHDOG_USEC: READY=1 once listening, no WATCHDOG=1, STOPPING=1 on SIGTERM.
    let r = spawn(serve(&dir.path().join("data")).env("NOTIFY_SOCKET", &socket_path));
    let ready = receive(&sock, Duration::from_secs(10), |m| has(m, "READY=1"));
    assert!(has(&ready, "READY=1"), "{ready:?}");
    assert!(ready.iter().any(|m| m.contains(&format!("STATUS=accepting writes on {}", r.addr))), "{ready:?}");
    let quiet = receive(&sock, Duration::from_millis(300), |_| false);
    assert!(!has(&quiet, "WATCHDOG=1"), "no watchdog without WATCHDOG_USEC: {quiet:?}");
    let pid = r.child.id();
    sigterm_and_wait(r);
    let stopping = receive(&sock, Duration::from_secs(5), |m| has(m, "STOPPING=1"));
    assert!(has(&stopping, "STOPPING=1"), "{stopping:?}");

    // WATCHDOG_USEC = 100 ms: WATCHDOG=1 about every 50 ms while healthy. A WATCHDOG_PID naming
    // another process turns the watchdog off (it is meant for someone else).
    let r = spawn(
        serve(&dir.path().join("data"))
            .env("NOTIFY_SOCKET", &socket_path)
            .env("WATCHDOG_USEC", "100000")
            .env("WATCHDOG_PID", std::process::id().to_string()),
    );
    let got = receive(&sock, Duration::from_millis(500), |_| false);
    assert!(has(&got, "READY=1") && !has(&got, "WATCHDOG=1"), "{got:?}");
    sigterm_and_wait(r);
    let _ = receive(&sock, Duration::from_secs(5), |m| has(m, "STOPPING=1"));

    let r = spawn(serve(&dir.path().join("data")).env("NOTIFY_SOCKET", &socket_path).env("WATCHDOG_USEC", "100000"));
    assert_ne!(r.child.id(), pid);
    let got = receive(&sock, Duration::from_secs(10), |m| count(m, "WATCHDOG=1") >= 3);
    assert!(has(&got, "READY=1") && count(&got, "WATCHDOG=1") >= 3, "{got:?}");
    sigterm_and_wait(r);
    let stopping = receive(&sock, Duration::from_secs(5), |m| has(m, "STOPPING=1"));
    assert!(has(&stopping, "STOPPING=1"), "{stopping:?}");
}

const SECRET: &str = "Sup3r-s3cret-0ps-value";
const TOKEN: &str = "t0ken-that-must-not-leak";

#[test]
fn json_logs_are_json_lines_and_no_secret_reaches_logs_or_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("logtide.toml");
    std::fs::write(
        &config,
        format!(
            "[[access_keys]]\nid = \"ops-key\"\nsecret = \"{SECRET}\"\n\n\
             [[lts.tokens]]\ntoken = \"{TOKEN}\"\nproject_id = \"{LTS_PID}\"\n"
        ),
    )
    .unwrap();
    let log_path = dir.path().join("stderr.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let mut cmd = serve(&dir.path().join("data"));
    cmd.arg("--config").arg(&config).arg("--log-format").arg("json").env("LOGTIDE_LOG", "debug");
    let r = spawn(cmd.stderr(Stdio::from(log_file)));
    let http = reqwest::blocking::Client::new();
    let base = format!("http://{}", r.addr);

    // A signed write (accepted, logstore auto-created), a wrong signature, an unknown key, an
    // unsigned call, a wrong LTS token and the right one.
    let body = group("secret", 2).encode_to_vec();
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let signed = |key: &str, secret: &str| {
        let md5 = hex::encode_upper(md5::Md5::digest(&body));
        let raw = body.len().to_string();
        let xs = [
            ("x-log-apiversion", "0.6.0"),
            ("x-log-bodyrawsize", raw.as_str()),
            ("x-log-signaturemethod", "hmac-sha1"),
        ];
        let sig = sign_v1(secret, "POST", &md5, "application/x-protobuf", &date, &xs, "/logstores/sec/shards/lb");
        let mut rb = http
            .post(format!("{base}/logstores/sec/shards/lb"))
            .header("host", "secproj.127.0.0.1")
            .header("content-type", "application/x-protobuf")
            .header("content-md5", md5)
            .header("date", &date)
            .header("authorization", format!("LOG {key}:{sig}"));
        for (k, v) in xs {
            rb = rb.header(k, v);
        }
        rb.body(body.clone()).send().unwrap().status().as_u16()
    };
    assert_eq!(signed("ops-key", SECRET), 200);
    assert_eq!(signed("ops-key", "not-the-secret"), 401);
    assert_eq!(signed("nobody", SECRET), 401);
    let unsigned = http.get(format!("{base}/logstores")).header("host", "secproj.127.0.0.1").send().unwrap();
    assert!(unsigned.status().is_client_error());
    let groups = format!("{base}/v2/{LTS_PID}/groups");
    assert_eq!(http.get(&groups).header("x-auth-token", "wrong-token").send().unwrap().status(), 401);
    assert_eq!(http.get(&groups).header("x-auth-token", TOKEN).send().unwrap().status(), 200);
    let metrics = http.get(format!("{base}/metrics")).send().unwrap().text().unwrap();
    assert!(metrics.contains(r#"logtide_rejected_requests_total{api="sls",code="SignatureNotMatch"} 1"#), "{metrics}");
    sigterm_and_wait(r);

    let logs = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 5, "debug logging of these requests writes lines:\n{logs}");
    for line in &lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(v["timestamp"].is_string() && v["level"].is_string() && v["message"].is_string(), "{line}");
    }
    assert!(lines.iter().any(|l| l.contains("\"code\":\"SignatureNotMatch\"")), "fields are top-level:\n{logs}");
    for secret in [SECRET, TOKEN] {
        assert!(!logs.contains(secret), "a secret in the logs:\n{logs}");
        assert!(!metrics.contains(secret), "a secret in the metrics");
    }
}

#[test]
fn the_systemd_unit_verifies_and_has_what_operations_need() {
    let unit = include_str!("../dist/logtide.service");
    let keys: Vec<(&str, &str)> =
        unit.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split_once('=')).collect();
    let value = |k: &str| keys.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
    assert_eq!(value("Type"), Some("notify"));
    assert!(value("WatchdogSec").is_some_and(|v| v.parse::<u32>().unwrap() > 0));
    assert!(value("ExecStartPre").is_some_and(|v| v.contains("logtide check-config")));
    assert!(value("ExecStart").is_some_and(|v| v.contains("logtide serve --config")));
    assert_eq!(value("StateDirectory"), Some("logtide"));
    for (key, expected) in [
        ("NoNewPrivileges", "true"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "true"),
        ("PrivateTmp", "true"),
        ("CapabilityBoundingSet", ""),
        ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
        ("SystemCallFilter", "@system-service"),
    ] {
        assert_eq!(value(key), Some(expected), "{key}");
    }
    let stop: u64 = value("TimeoutStopSec").unwrap().parse().unwrap();
    let defaults = logtide::config::Config::default();
    assert!(stop > defaults.server.shutdown_grace_secs + defaults.server.shutdown_delay_secs + 10);

    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed: the unit was checked textually only");
        return;
    };
    assert!(version.status.success());
    // verify needs the executables to exist: point them at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logtide.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/logtide", BIN)).unwrap();
    let out = Command::new("systemd-analyze").args(["verify", "--man=no"]).arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Unknown keys and bad values are only warnings, naming the file.
    let about_unit: Vec<&str> = stderr.lines().filter(|l| l.contains("logtide.service")).collect();
    assert!(about_unit.is_empty(), "systemd-analyze verify complains:\n{stderr}");
    let security = Command::new("systemd-analyze").args(["security", "--offline=true"]).arg(&path).output().unwrap();
    let report = String::from_utf8_lossy(&security.stdout);
    if let Some(level) = report.lines().find_map(|l| l.split("exposure level for logtide.service: ").nth(1)) {
        let score: f64 = level.split_whitespace().next().unwrap().parse().unwrap();
        assert!(score <= 2.0, "the sandbox got weaker: {level}");
    }
}
