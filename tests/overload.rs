//! Overload through the real HTTP API: the in-flight byte budget refuses a request at once with a
//! retryable 503 while others hold it (body bytes as they arrive, then compressed bodies by their
//! raw size), frees it when they are answered, and nothing of a refused request is stored. A
//! sender that stalls holds only what it sent.

mod common;

use std::time::{Duration, Instant};

use common::{error_code, group, TestDaemon};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Raw limit 64 KiB, so the largest wire body is 66,560 bytes; the budget holds one of them.
/// (The test daemon's extra TOML starts inside `[server]`.)
const CONFIG: &str = "max_inflight_bytes = 70000\n[limits]\nmax_raw_bytes = 65536\n";

/// Opens a PutLogs request declaring `len` body bytes and sends only its headers and `sent` bytes.
async fn start_put(daemon: &TestDaemon, body: &[u8], sent: usize) -> TcpStream {
    let mut s = TcpStream::connect(daemon.addr).await.unwrap();
    let head = format!(
        "POST /logstores/logs/shards/lb HTTP/1.1\r\nHost: proj.127.0.0.1\r\nx-log-apiversion: 0.6.0\r\n\
         x-log-bodyrawsize: {}\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
        body.len(),
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&body[..sent]).await.unwrap();
    s.flush().await.unwrap();
    s
}

async fn finish(mut s: TcpStream, body: &[u8], sent: usize) -> String {
    s.write_all(&body[sent..]).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await.unwrap().unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_inflight_budget_is_refused_at_once_and_stores_nothing() {
    // The budget must fit at least one largest request, or nothing could ever be written.
    let bad = logtide::config::Config::from_toml("[server]\nmax_inflight_bytes = 1000\n").unwrap();
    assert!(bad.problems().iter().any(|p| p.contains("max_inflight_bytes")), "{:?}", bad.problems());

    let daemon = TestDaemon::start(CONFIG).await;
    daemon.create_project("proj").await;
    daemon.create_logstore("proj", "logs", 1).await;

    // 40 KB of uncompressed LogGroup: two of them do not fit the 70,000-byte budget.
    let mut g = group("held", 80);
    for log in &mut g.logs {
        log.contents[0].value = "x".repeat(480);
    }
    let body = g.encode_to_vec();
    assert!(body.len() > 35_000 && body.len() < 65_536, "{}", body.len());

    // A request that sent 1,000 bytes and stalls holds only those: a whole body still fits.
    let trickle = start_put(&daemon, &body, 1000).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = daemon
        .put_raw("proj", "/logstores/logs/shards/lb", body.clone(), &[("x-log-bodyrawsize", body.len().to_string())])
        .await;
    assert_eq!(r.status(), 200, "a stalled sender holds only the bytes it sent");

    // The first request (group "held") sends all but 100 bytes of its body and stalls: it holds
    // what it sent.
    let sent = body.len() - 100;
    let held = start_put(&daemon, &body, sent).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    // A second one is refused at once (it would otherwise wait for the first), retryably.
    let started = Instant::now();
    let r = daemon
        .put_raw("proj", "/logstores/logs/shards/lb", body.clone(), &[("x-log-bodyrawsize", body.len().to_string())])
        .await;
    let took = started.elapsed();
    let retry_after = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    assert_eq!(error_code(r).await, (503, "ServerBusy".to_string()));
    assert!(retry_after.is_some(), "a busy answer says when to retry");
    assert!(took < Duration::from_secs(2), "refused at once, not after the held body: {took:?}");

    // Small requests still fit beside the held one.
    let small = group("small", 3);
    assert_eq!(daemon.put_lz4("proj", "logs", &small).await.status(), 200);

    // A compressed body is counted by its declared raw size, the work it brings: a few hundred
    // bytes of LZ4 declaring 40 KB do not fit either.
    let mut packed = g.clone();
    packed.log_tags[0].value = "packed".into();
    let r = daemon.put_lz4("proj", "logs", &packed).await;
    assert_eq!(error_code(r).await, (503, "ServerBusy".to_string()));

    // The held request completes and is stored; its answer frees the budget.
    let answer = finish(held, &body, sent).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(trickle);
    let r = daemon
        .put_raw("proj", "/logstores/logs/shards/lb", body.clone(), &[("x-log-bodyrawsize", body.len().to_string())])
        .await;
    assert_eq!(r.status(), 200);

    // Stored: the small group and the held body three times; the refused requests left nothing.
    let mut tags: Vec<String> =
        daemon.pull_all("proj", "logs").await.into_iter().map(|(_, g)| g.log_tags[0].value.clone()).collect();
    tags.sort();
    assert_eq!(tags, ["held", "held", "held", "small"]);
    daemon.stop().await;
}
