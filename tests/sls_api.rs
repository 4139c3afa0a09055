//! The SLS API through real HTTP against a daemon on port 0: every body format and URL form
//! round-trips exactly through cursors, and every error code leaves the store untouched.

mod common;

use common::*;
use logtide::wire::pb::{log::Content, Log, LogGroup, SlsLogPackage, SlsLogPackageList};
use md5::{Digest, Md5};
use prost::Message;
use reqwest::Method;

const NO_AUTO: &str = "[catalog]\nauto_create = false\n";

async fn daemon_with_store(shards: u32) -> TestDaemon {
    let d = TestDaemon::start(NO_AUTO).await;
    d.create_project("proj").await;
    d.create_logstore("proj", "store", shards).await;
    d
}

#[tokio::test]
async fn every_codec_and_url_form_round_trips_exactly() {
    let d = daemon_with_store(4).await;
    let mut written = Vec::new();

    let g = group("lz4", 5);
    assert_eq!(d.put_lz4("proj", "store", &g).await.status(), 200);
    written.push(g);

    for (codec, tag) in [("", "none"), ("deflate", "deflate"), ("zstd", "zstd")] {
        let g = group(tag, 3);
        let raw = g.encode_to_vec();
        let body = match codec {
            "" => raw.clone(),
            "deflate" => {
                use std::io::Write;
                let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(&raw).unwrap();
                e.finish().unwrap()
            }
            _ => zstd::encode_all(raw.as_slice(), 1).unwrap(),
        };
        let mut headers = vec![("x-log-bodyrawsize", raw.len().to_string())];
        if !codec.is_empty() {
            headers.push(("x-log-compresstype", codec.to_string()));
        }
        // The Go SDK posts to /logstores/{ls} directly.
        let r = d.put_raw("proj", "/logstores/store", body, &headers).await;
        assert_eq!(r.status(), 200, "{codec}: {}", r.text().await.unwrap());
        written.push(g);
    }

    // Hash-key routing, current and legacy forms: "8C" lands in shard 2 of 4, "f0" in shard 3.
    let g = group("route", 2);
    let raw = g.encode_to_vec();
    let r = d.put_raw("proj", "/logstores/store/shards/route?key=8C", raw.clone(), &[]).await;
    assert_eq!(r.status(), 200);
    let g2 = group("legacy", 2);
    let r =
        d.put_raw("proj", "/logstores/store/shards/lb", g2.encode_to_vec(), &[("x-log-hashkey", "f0".into())]).await;
    assert_eq!(r.status(), 200);

    let all = d.pull_all("proj", "store").await;
    assert_eq!(all.len(), written.len() + 2);
    assert!(all.contains(&(2, g.clone())), "key 8C must land in shard 2");
    assert!(all.contains(&(3, g2.clone())), "key f0 must land in shard 3");
    for w in &written {
        assert_eq!(all.iter().filter(|(_, got)| got == w).count(), 1, "group {:?} stored exactly once", w.topic);
    }
}

#[tokio::test]
async fn batch_group_packages_are_stored_as_separate_groups() {
    let d = daemon_with_store(1).await;
    let (a, b) = (group("pkg-a", 2), group("pkg-b", 3));
    let ra = a.encode_to_vec();
    let rb = b.encode_to_vec();
    let list = SlsLogPackageList {
        packages: vec![
            SlsLogPackage {
                data: lz4_flex::block::compress(&ra),
                uncompress_size: Some(ra.len() as i32),
                compress_type: None,
            },
            SlsLogPackage {
                data: zstd::encode_all(rb.as_slice(), 1).unwrap(),
                uncompress_size: Some(rb.len() as i32),
                compress_type: Some(3),
            },
        ],
    };
    let body = list.encode_to_vec();
    let headers = [
        ("x-log-mode", "batch_group".to_string()),
        ("x-log-compresstype", "lz4".into()),
        ("x-log-bodyrawsize", body.len().to_string()),
    ];
    let r = d.put_raw("proj", "/logstores/store/shards/lb", body, &headers).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let got: Vec<LogGroup> = d.pull_all("proj", "store").await.into_iter().map(|(_, g)| g).collect();
    assert_eq!(got, vec![a, b]);
}

/// Sends one bad request, checks the status and code, and that nothing at all was stored.
async fn refused(d: &TestDaemon, path: &str, body: Vec<u8>, headers: &[(&str, String)], status: u16, code: &str) {
    let r = d.put_raw("proj", path, body, headers).await;
    assert_eq!(error_code(r).await, (status, code.to_string()), "request to {path} with {headers:?}");
    assert!(d.pull_all("proj", "store").await.is_empty(), "a refused request stored something ({code})");
}

fn log(time: u32, kv: &[(&str, &str)]) -> Log {
    Log {
        time,
        contents: kv.iter().map(|(k, v)| Content { key: k.to_string(), value: v.to_string() }).collect(),
        time_ns: None,
    }
}

fn with_logs(logs: Vec<Log>) -> Vec<u8> {
    LogGroup { logs, ..Default::default() }.encode_to_vec()
}

#[tokio::test]
async fn every_write_error_is_documented_and_stores_nothing() {
    let d = daemon_with_store(2).await;
    let lb = "/logstores/store/shards/lb";
    let t = now();
    let good = log(t, &[("k", "v")]);

    refused(&d, lb, b"\xff\xff\xff garbage".to_vec(), &[], 400, "PostBodyInvalid").await;
    let old = with_logs(vec![good.clone(), log(t - 8 * 86400, &[("k", "v")])]);
    refused(&d, lb, old, &[], 499, "PostBodyInvalid").await;
    let future = with_logs(vec![good.clone(), log(t + 3600, &[("k", "v")])]);
    refused(&d, lb, future, &[], 499, "PostBodyInvalid").await;
    let mut bad_ns = log(t, &[("k", "v")]);
    bad_ns.time_ns = Some(1_000_000_000);
    refused(&d, lb, with_logs(vec![good.clone(), bad_ns]), &[], 400, "InvalidTimestamp").await;

    // Non-UTF-8 value: built by hand because prost strings are UTF-8.
    let mut raw = with_logs(vec![log(t, &[("k", "vv")])]);
    let at = raw.windows(2).position(|w| w == b"vv").unwrap();
    raw[at] = 0xff;
    refused(&d, lb, raw, &[], 400, "InvalidEncoding").await;

    for key in ["", "__topic__", "__time__", &"k".repeat(129)] {
        refused(&d, lb, with_logs(vec![good.clone(), log(t, &[(key, "v")])]), &[], 400, "InvalidKey").await;
    }
    let many = with_logs((0..4097).map(|_| good.clone()).collect());
    refused(&d, lb, many, &[], 400, "PostBodyTooLarge").await;
    let big_value = "x".repeat(1024 * 1024 + 1);
    refused(&d, lb, with_logs(vec![log(t, &[("k", &big_value)])]), &[], 400, "PostBodyTooLarge").await;

    // Compression errors.
    let raw = with_logs(vec![good.clone()]);
    let lz = lz4_flex::block::compress(&raw);
    let lz4 = |size: String| vec![("x-log-compresstype", "lz4".to_string()), ("x-log-bodyrawsize", size)];
    refused(&d, lb, lz.clone(), &lz4((raw.len() + 1).to_string()), 400, "PostBodyUncompressError").await;
    refused(&d, lb, vec![0xf0, 1, 2, 3], &lz4("100".into()), 400, "PostBodyUncompressError").await;
    refused(&d, lb, lz.clone(), &lz4((64u64 << 30).to_string()), 400, "PostBodyTooLarge").await;
    refused(&d, lb, lz.clone(), &[("x-log-compresstype", "lz4".into())], 400, "MissingBodyRawSize").await;
    refused(&d, lb, lz.clone(), &lz4("12abc".into()), 400, "InvalidBodyRawSize").await;
    refused(&d, lb, raw.clone(), &[("x-log-compresstype", "snappy".into())], 400, "InvalidCompressType").await;
    let bomb = zstd::encode_all(vec![0u8; 16 << 20].as_slice(), 3).unwrap();
    // A bomb is cut off at the declared size, or at the raw limit when no size is declared.
    let zs = vec![("x-log-compresstype", "zstd".to_string()), ("x-log-bodyrawsize", "100".into())];
    refused(&d, lb, bomb.clone(), &zs, 400, "PostBodyUncompressError").await;
    refused(&d, lb, bomb, &[("x-log-compresstype", "zstd".to_string())], 400, "PostBodyTooLarge").await;
    refused(
        &d,
        lb,
        raw.clone(),
        &[("content-md5", "00000000000000000000000000000000".into())],
        400,
        "InvalidContentMD5",
    )
    .await;
    let md5 = hex::encode_upper(Md5::digest(&raw));
    assert_eq!(d.put_raw("proj", lb, raw.clone(), &[("content-md5", md5)]).await.status(), 200);

    // Catalog errors with auto-create off.
    let r = d.put_raw("proj", "/logstores/missing/shards/lb", raw.clone(), &[]).await;
    assert_eq!(error_code(r).await, (404, "LogStoreNotExist".into()));
    let r = d.put_raw("nope", "/logstores/store/shards/lb", raw.clone(), &[]).await;
    assert_eq!(error_code(r).await, (404, "ProjectNotExist".into()));
    let r = d.put_raw("proj", "/logstores/store/shards/route?key=zz", raw.clone(), &[]).await;
    assert_eq!(error_code(r).await, (400, "ParameterInvalid".into()));
    assert_eq!(d.pull_all("proj", "store").await.len(), 1, "only the one good request is stored");
}

#[tokio::test]
async fn oversized_bodies_are_refused_by_content_length() {
    let d = daemon_with_store(1).await;
    let body = vec![0u8; 4 * 1024 * 1024];
    let r = d.put_raw("proj", "/logstores/store/shards/lb", body, &[]).await;
    assert_eq!(error_code(r).await, (400, "PostBodyTooLarge".into()));
}

#[tokio::test]
async fn auto_create_makes_project_and_logstore_on_first_write() {
    let d = TestDaemon::start("").await;
    let g = group("auto", 1);
    assert_eq!(d.put_lz4("fresh-proj", "fresh_store", &g).await.status(), 200);
    let got = d.pull_all("fresh-proj", "fresh_store").await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, g);
    // A bad request must not auto-create anything.
    let r = d.put_raw("other-proj", "/logstores/store1/shards/lb", b"garbage".to_vec(), &[]).await;
    assert_eq!(error_code(r).await.1, "PostBodyInvalid");
    let r = d.req(Method::GET, "other-proj", "/").send().await.unwrap();
    assert_eq!(error_code(r).await, (404, "ProjectNotExist".into()));
}

#[tokio::test]
async fn cursors_pull_paging_and_end() {
    let d = daemon_with_store(1).await;
    let before = d.cursor("proj", "store", 0, "end").await;
    let mut groups = Vec::new();
    for i in 0..10 {
        let g = group(&format!("p{i}"), 1);
        assert_eq!(d.put_lz4("proj", "store", &g).await.status(), 200);
        groups.push(g);
    }
    let (first3, next) = d.pull("proj", "store", 0, &before, 3).await;
    assert_eq!(first3, groups[..3]);
    let (rest, end) = d.pull("proj", "store", 0, &next, 100).await;
    assert_eq!(rest, groups[3..]);
    assert_eq!(end, d.cursor("proj", "store", 0, "end").await);
    assert_eq!(d.cursor("proj", "store", 0, "begin").await, before);
    // A time cursor far in the past is the beginning; in the future, the end.
    assert_eq!(d.cursor("proj", "store", 0, "1000").await, before);
    assert_eq!(d.cursor("proj", "store", 0, &(now() + 100).to_string()).await, end);
    let r =
        d.req(Method::GET, "proj", "/logstores/store/shards/0?type=log&cursor=%21%21&count=10").send().await.unwrap();
    assert_eq!(error_code(r).await, (400, "InvalidCursor".into()));
    let beyond = logtide::api::sls::encode_cursor(1_000_000);
    let r = d
        .req(Method::GET, "proj", &format!("/logstores/store/shards/0?type=log&cursor={}&count=10", urlencode(&beyond)))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (400, "InvalidCursor".into()));
    let r = d.req(Method::GET, "proj", "/logstores/store/shards/9?type=cursor&from=begin").send().await.unwrap();
    assert_eq!(error_code(r).await, (400, "ShardNotExist".into()));
}

#[tokio::test]
async fn management_calls_and_shard_split_merge() {
    let d = daemon_with_store(2).await;
    let shards = d.list_shards("proj", "store").await;
    assert_eq!(shards.len(), 2);
    assert_eq!(shards[0]["inclusiveBeginKey"], "00000000000000000000000000000000");
    assert_eq!(shards[0]["exclusiveEndKey"], "80000000000000000000000000000000");
    assert_eq!(shards[1]["exclusiveEndKey"], "ffffffffffffffffffffffffffffffff");

    let g = group("before-split", 1);
    let r = d.put_raw("proj", "/logstores/store/shards/route?key=10", g.encode_to_vec(), &[]).await;
    assert_eq!(r.status(), 200);
    let r = d
        .req(Method::POST, "proj", "/logstores/store/shards/0?action=split&key=40000000000000000000000000000000")
        .send()
        .await
        .unwrap();
    let split: Vec<serde_json::Value> = r.json().await.unwrap();
    assert_eq!(
        split.iter().map(|s| (s["shardID"].as_u64().unwrap(), s["status"].as_str().unwrap())).collect::<Vec<_>>(),
        vec![(0, "readonly"), (2, "readwrite"), (3, "readwrite")]
    );
    let g2 = group("after-split", 1);
    assert_eq!(d.put_raw("proj", "/logstores/store/shards/route?key=10", g2.encode_to_vec(), &[]).await.status(), 200);
    let all = d.pull_all("proj", "store").await;
    assert!(all.contains(&(0, g.clone())), "the readonly parent stays readable");
    assert!(all.contains(&(2, g2.clone())), "new writes go to the child owning the key");

    let r = d.req(Method::POST, "proj", "/logstores/store/shards/2?action=merge").send().await.unwrap();
    let merged: Vec<serde_json::Value> = r.json().await.unwrap();
    assert_eq!(merged[0]["shardID"], 4);
    assert_eq!(merged[0]["exclusiveEndKey"], "80000000000000000000000000000000");
    let r = d.req(Method::POST, "proj", "/logstores/store/shards/1?action=merge").send().await.unwrap();
    assert_eq!(error_code(r).await, (400, "ParameterInvalid".into()));

    // Logstore and project management.
    let r = d.req(Method::GET, "proj", "/logstores/store").send().await.unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (v["logstoreName"].as_str(), v["ttl"].as_u64(), v["shardCount"].as_u64()),
        (Some("store"), Some(30), Some(2))
    );
    let r = d
        .req(Method::PUT, "proj", "/logstores/store")
        .body(r#"{"logstoreName":"store","ttl":7,"unknown":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value =
        d.req(Method::GET, "proj", "/logstores/store").send().await.unwrap().json().await.unwrap();
    assert_eq!(v["ttl"], 7);
    let r = d
        .req(Method::POST, "proj", "/logstores")
        .body(r#"{"logstoreName":"store","ttl":1,"shardCount":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (400, "LogStoreAlreadyExist".into()));
    let r = d
        .req(Method::POST, "proj", "/logstores")
        .body(r#"{"logstoreName":"x","ttl":1,"shardCount":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (400, "LogStoreInfoInvalid".into()));
    let v: serde_json::Value = d
        .req(Method::GET, "proj", "/logstores?offset=0&size=10&logstoreName=")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["logstores"], serde_json::json!(["store"]));
    let v: serde_json::Value = d.http.get(d.url("/?offset=0&size=100")).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["total"], 1);
    assert_eq!(v["projects"][0]["projectName"], "proj");
    let r = d.req(Method::DELETE, "proj", "/logstores/store").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = d.req(Method::GET, "proj", "/logstores/store/shards").send().await.unwrap();
    assert_eq!(error_code(r).await, (404, "LogStoreNotExist".into()));
    let r = d.req(Method::DELETE, "proj", "/").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = d.req(Method::GET, "proj", "/").send().await.unwrap();
    assert_eq!(error_code(r).await, (404, "ProjectNotExist".into()));
    let r = d.req(Method::GET, "proj", "/nothing/here").send().await.unwrap();
    assert_eq!(error_code(r).await, (404, "InvalidUrl".into()));
}

const SIGNED: &str = "[catalog]\nauto_create = false\n\n[[access_keys]]\nid = \"ak-all\"\nsecret = \"secret-all\"\n\n[[access_keys]]\nid = \"ak-other\"\nsecret = \"secret-other\"\nprojects = [\"other\"]\n";

async fn signed_put(d: &TestDaemon, key: &str, secret: &str, date: &str, body: Vec<u8>) -> reqwest::Response {
    let md5 = hex::encode_upper(Md5::digest(&body));
    let x = [
        ("x-log-apiversion", "0.6.0"),
        ("x-log-bodyrawsize", &body.len().to_string()),
        ("x-log-signaturemethod", "hmac-sha1"),
    ]
    .map(|(k, v)| (k, v.to_string()));
    let xs: Vec<(&str, &str)> = x.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let sig = sign_v1(secret, "POST", &md5, "application/x-protobuf", date, &xs, "/logstores/store/shards/lb");
    let mut rb = d
        .req(Method::POST, "proj", "/logstores/store/shards/lb")
        .header("content-type", "application/x-protobuf")
        .header("content-md5", md5)
        .header("date", date)
        .header("authorization", format!("LOG {key}:{sig}"));
    for (k, v) in &x {
        rb = rb.header(*k, v);
    }
    rb.body(body).send().await.unwrap()
}

#[tokio::test]
async fn signatures_are_required_when_keys_are_configured() {
    let d = TestDaemon::start(SIGNED).await;
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    // Management through the same signer: create project and logstore.
    for (path, body) in [
        ("/", r#"{"projectName":"proj","description":""}"#),
        ("/logstores", r#"{"logstoreName":"store","ttl":30,"shardCount":1}"#),
    ] {
        let md5 = hex::encode_upper(Md5::digest(body.as_bytes()));
        let xs = [("x-log-apiversion", "0.6.0"), ("x-log-bodyrawsize", "0"), ("x-log-signaturemethod", "hmac-sha1")];
        let sig = sign_v1("secret-all", "POST", &md5, "application/json", &date, &xs, path);
        let mut rb = d
            .req(Method::POST, "proj", path)
            .header("content-type", "application/json")
            .header("content-md5", md5)
            .header("date", &date)
            .header("authorization", format!("LOG ak-all:{sig}"));
        for (k, v) in xs {
            rb = rb.header(k, v);
        }
        let r = rb.body(body).send().await.unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    let body = with_logs(vec![log(now(), &[("k", "v")])]);
    assert_eq!(signed_put(&d, "ak-all", "secret-all", &date, body.clone()).await.status(), 200);
    assert_eq!(
        error_code(signed_put(&d, "ak-all", "wrong", &date, body.clone()).await).await,
        (401, "SignatureNotMatch".into())
    );
    assert_eq!(
        error_code(signed_put(&d, "ak-nobody", "x", &date, body.clone()).await).await,
        (401, "InvalidAccessKeyId".into())
    );
    assert_eq!(
        error_code(signed_put(&d, "ak-other", "secret-other", &date, body.clone()).await).await,
        (401, "Unauthorized".into())
    );
    let stale = httpdate::fmt_http_date(std::time::SystemTime::now() - std::time::Duration::from_secs(16 * 60));
    assert_eq!(
        error_code(signed_put(&d, "ak-all", "secret-all", &stale, body.clone()).await).await,
        (400, "RequestTimeExpired".into())
    );
    let r = d.put_raw("proj", "/logstores/store/shards/lb", body, &[]).await;
    assert_eq!(error_code(r).await.0, 401, "unsigned requests are refused");
    // Only the one good write is stored: read it back signed is not needed; check the store directly after stop.
    let dir = d.stop().await;
    let d = TestDaemon::start_in(dir, NO_AUTO).await;
    assert_eq!(d.pull_all("proj", "store").await.len(), 1);
}

#[tokio::test]
async fn power_durability_fsyncs_and_still_round_trips() {
    let d = TestDaemon::start("[storage]\ndurability = \"power\"\nshard_workers = 1\n").await;
    let mut sent = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let g = group(&format!("power{i}"), 2);
        sent.push(g.clone());
        let (http, url) = (d.http.clone(), d.url("/logstores/pw_store/shards/lb"));
        tasks.push(tokio::spawn(async move {
            let raw = g.encode_to_vec();
            let r = http
                .post(url)
                .header("host", "pw-proj.127.0.0.1")
                .header("x-log-compresstype", "lz4")
                .header("x-log-bodyrawsize", raw.len().to_string())
                .body(lz4_flex::block::compress(&raw))
                .send()
                .await
                .unwrap();
            r.status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let got: Vec<LogGroup> = d.pull_all("pw-proj", "pw_store").await.into_iter().map(|(_, g)| g).collect();
    assert_eq!(got.len(), sent.len());
    for g in &sent {
        assert!(got.contains(g), "acknowledged group {:?} is stored", g.topic);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_is_a_retryable_busy_and_exactly_the_acknowledged_requests_are_stored() {
    // One worker, a queue of one, fsync per commit, and large uncompressed bodies the worker must
    // compress: the queue fills up.
    let d = TestDaemon::start("[storage]\ndurability = \"power\"\nshard_workers = 1\nqueue_depth = 1\n").await;
    let mut tasks = Vec::new();
    for i in 0..48 {
        let mut g = group(&format!("load{i}"), 400);
        g.logs.iter_mut().for_each(|l| l.contents[2].value = "y".repeat(2000));
        let (http, url) = (d.http.clone(), d.url("/logstores/busy_store/shards/lb"));
        tasks.push(tokio::spawn(async move {
            let r = http.post(url).header("host", "busy-proj.127.0.0.1").body(g.encode_to_vec()).send().await.unwrap();
            let status = r.status().as_u16();
            let retry_after = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
            let code = if status == 200 { String::new() } else { error_code(r).await.1 };
            (i, status, retry_after, code, g)
        }));
    }
    let mut acked = Vec::new();
    let mut busy = 0;
    for t in tasks {
        let (i, status, retry_after, code, g) = t.await.unwrap();
        match status {
            200 => acked.push(g),
            503 => {
                assert_eq!(code, "ServerBusy", "request {i}");
                assert_eq!(retry_after.as_deref(), Some("1"), "request {i}");
                busy += 1;
            }
            other => panic!("request {i}: unexpected status {other} {code}"),
        }
    }
    assert!(!acked.is_empty());
    let stored: Vec<LogGroup> = d.pull_all("busy-proj", "busy_store").await.into_iter().map(|(_, g)| g).collect();
    assert_eq!(stored.len(), acked.len(), "{busy} refused as busy");
    for g in &acked {
        assert!(stored.contains(g), "acknowledged group {:?} is stored", g.topic);
    }
    eprintln!("overload: {} acknowledged, {busy} refused with 503 ServerBusy", acked.len());
}
