//! The Huawei LTS log report (`POST /v2/{project_id}/lts/groups/{g}/streams/{s}/tenant/contents`
//! and its high-accuracy form) through real HTTP: logs land exactly as sent in the SLS logstore
//! that the log stream is, readable through SLS PullLogs; every bad request is answered in the
//! report dialect and stores nothing. Signed (AK/SK) reports are covered with the official signer
//! in `tests/lts/`.

mod common;

use common::*;
use logtide::wire::compress::{compress, Compression};
use logtide::wire::pb::{LogGroup, LogTag};
use serde_json::{json, Value};

const PID: &str = "0123456789abcdef0123456789abcdef";
const NS: u64 = 1_000_000_000;

fn report_path(group: &str, stream: &str) -> String {
    format!("/v2/{PID}/lts/groups/{group}/streams/{stream}/tenant/contents")
}

async fn post(d: &TestDaemon, path: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut rb = d.http.post(d.url(path)).header("content-type", "application/json;charset=UTF-8");
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    rb.body(body).send().await.unwrap()
}

/// Status and parsed body; every LTS response carries `X-Request-Id`.
async fn answer(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    assert!(r.headers().contains_key("x-request-id"), "every LTS response carries X-Request-Id");
    (status, r.json().await.unwrap())
}

fn success() -> Value {
    json!({"errorCode": "SVCSTG.ALS.200.200", "error_msg": "Report success.", "result": null})
}

/// `(seconds, nanosecond part, content)` of every stored log, and the tags of each group.
async fn stored(d: &TestDaemon, project: &str, logstore: &str) -> (Vec<(u32, u32, String)>, Vec<Vec<LogTag>>) {
    let groups: Vec<LogGroup> = d.pull_all(project, logstore).await.into_iter().map(|(_, g)| g).collect();
    let mut logs = Vec::new();
    for g in &groups {
        assert_eq!((g.topic.as_deref(), g.source.as_deref()), (None, None));
        for l in &g.logs {
            assert_eq!(l.contents.len(), 1, "one field per reported line");
            assert_eq!(l.contents[0].key, "content");
            logs.push((l.time, l.time_ns.unwrap_or(0), l.contents[0].value.clone()));
        }
    }
    logs.sort();
    (logs, groups.into_iter().map(|g| g.log_tags).collect())
}

async fn setup(d: &TestDaemon, project: &str, logstore: &str) {
    d.create_project(project).await;
    d.create_logstore(project, logstore, 2).await;
}

fn now_ns() -> u64 {
    now() as u64 * NS
}

#[tokio::test]
async fn report_by_names_stores_each_line_at_base_plus_index_with_labels_as_tags() {
    let d = TestDaemon::start("").await;
    setup(&d, "lts-names", "stream1").await;
    let t = now_ns() + 999_999_998;
    let body = json!({
        "log_time_ns": t,
        "contents": ["Fri Feb  1 07:48:04 UTC 2019 0\n", "second ✓ line", "third"],
        "labels": {"user_tag": "string", "host": "h1"},
        "tenant_project_id": PID,
    });
    let r = post(&d, &report_path("lts-names", "stream1"), body.to_string().into_bytes(), &[]).await;
    assert_eq!(answer(r).await, (200, success()));
    let (logs, tags) = stored(&d, "lts-names", "stream1").await;
    let at = |i: u64| (((t + i) / NS) as u32, ((t + i) % NS) as u32);
    assert_eq!(
        logs,
        vec![
            (at(0).0, at(0).1, "Fri Feb  1 07:48:04 UTC 2019 0\n".to_string()),
            (at(1).0, at(1).1, "second ✓ line".to_string()),
            (at(2).0, at(2).1, "third".to_string()),
        ]
    );
    assert_eq!(tags.len(), 1, "one request is one LogGroup");
    let tag = |k: &str, v: &str| LogTag { key: k.into(), value: v.into() };
    assert_eq!(tags[0], vec![tag("user_tag", "string"), tag("host", "h1")]);
}

#[tokio::test]
async fn report_by_ids_found_through_the_lts_listing_and_time_as_a_string() {
    let d = TestDaemon::start("").await;
    setup(&d, "lts-ids", "by_id").await;
    let r = d.http.get(d.url(&format!("/v2/{PID}/groups"))).send().await.unwrap();
    let (status, groups) = answer(r).await;
    assert_eq!(status, 200);
    let group = groups["log_groups"].as_array().unwrap().iter().find(|g| g["log_group_name"] == "lts-ids").unwrap();
    assert_eq!(group["ttl_in_days"], 30);
    let group_id = group["log_group_id"].as_str().unwrap().to_string();
    assert_eq!(group_id.len(), 36);
    let r = d.http.get(d.url(&format!("/v2/{PID}/groups/{group_id}/streams"))).send().await.unwrap();
    let (status, streams) = answer(r).await;
    assert_eq!(status, 200);
    let streams = streams["log_streams"].as_array().unwrap();
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0]["log_stream_name"], "by_id");
    let stream_id = streams[0]["log_stream_id"].as_str().unwrap().to_string();

    let t = now_ns();
    let body = format!(r#"{{"log_time_ns":"{t}","contents":["a","b"],"labels":{{}}}}"#);
    let r = post(&d, &report_path(&group_id, &stream_id), body.into_bytes(), &[]).await;
    assert_eq!(answer(r).await, (200, success()));
    let (logs, tags) = stored(&d, "lts-ids", "by_id").await;
    let secs = (t / NS) as u32;
    assert_eq!(logs, vec![(secs, 0, "a".into()), (secs, 1, "b".into())]);
    assert_eq!(tags, vec![Vec::<LogTag>::new()]);
}

#[tokio::test]
async fn high_accuracy_reports_keep_each_time_plain_gzip_and_snappy() {
    let d = TestDaemon::start("").await;
    setup(&d, "lts-precise", "hpa").await;
    let t = now_ns();
    let mut expected = Vec::new();
    for (i, encoding) in ["", "gzip", "SNAPPY"].into_iter().enumerate() {
        let (early, late) = (t - 5 * NS + i as u64, t + 7 + i as u64);
        let body = json!({
            "contents": [
                {"log_time_ns": late, "log": format!("late {encoding}")},
                {"log_time_ns": early.to_string(), "log": format!("early {encoding}")},
            ],
            "labels": {"codec": encoding},
        })
        .to_string()
        .into_bytes();
        let (body, headers) = match encoding {
            "" => (body, vec![]),
            "gzip" => (compress(Compression::Gzip, &body), vec![("content-encoding", "gzip")]),
            _ => (compress(Compression::Snappy, &body), vec![("content-encoding", "SNAPPY")]),
        };
        let r = post(&d, &format!("{}/high-accuracy", report_path("lts-precise", "hpa")), body, &headers).await;
        assert_eq!(answer(r).await, (200, success()), "{encoding:?}");
        expected.push((((late / NS) as u32), (late % NS) as u32, format!("late {encoding}")));
        expected.push((((early / NS) as u32), (early % NS) as u32, format!("early {encoding}")));
    }
    expected.sort();
    let (logs, tags) = stored(&d, "lts-precise", "hpa").await;
    assert_eq!(logs, expected);
    assert_eq!(tags.len(), 3);
}

#[tokio::test]
async fn every_bad_report_is_refused_whole_in_the_report_dialect_and_stores_nothing() {
    let d = TestDaemon::start("").await;
    setup(&d, "lts-bad", "victim").await;
    let path = report_path("lts-bad", "victim");
    let t = now_ns();
    let week_ago = t - 8 * 24 * 3600 * NS;
    let too_many: Vec<String> = (0..4097).map(|i| i.to_string()).collect();
    let mut non_utf8 = format!(r#"{{"log_time_ns":{t},"contents":["ok","bad "#).into_bytes();
    non_utf8.extend_from_slice(&[0xff, 0xfe]);
    non_utf8.extend_from_slice(br#""]}"#);
    let bad_request = "SVCSTG.ALS.200.201";
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("malformed JSON", b"{\"log_time_ns\":".to_vec(), 400, bad_request),
        ("contents missing", json!({"log_time_ns": t}).to_string().into_bytes(), 400, bad_request),
        ("contents not strings", json!({"log_time_ns": t, "contents": [1]}).to_string().into_bytes(), 400, bad_request),
        ("time missing", json!({"contents": ["x"]}).to_string().into_bytes(), 400, bad_request),
        (
            "time not a number",
            json!({"log_time_ns": "soon", "contents": ["x"]}).to_string().into_bytes(),
            400,
            bad_request,
        ),
        (
            "label not a string",
            json!({"log_time_ns": t, "contents": ["x"], "labels": {"n": 1}}).to_string().into_bytes(),
            400,
            bad_request,
        ),
        (
            "older than the window",
            json!({"log_time_ns": week_ago, "contents": ["x"]}).to_string().into_bytes(),
            400,
            bad_request,
        ),
        (
            "after the window",
            json!({"log_time_ns": t + 3600 * NS, "contents": ["x"]}).to_string().into_bytes(),
            400,
            bad_request,
        ),
        (
            "second line in the past",
            json!({"contents": [{"log_time_ns": t, "log": "ok"}, {"log_time_ns": week_ago, "log": "old"}]})
                .to_string()
                .into_bytes(),
            400,
            bad_request,
        ),
        ("non-UTF-8", non_utf8, 400, bad_request),
        ("4097 logs", json!({"log_time_ns": t, "contents": too_many}).to_string().into_bytes(), 400, bad_request),
        (
            "over 3 MiB",
            json!({"log_time_ns": t, "contents": ["x".repeat(3 * 1024 * 1024 + 1)]}).to_string().into_bytes(),
            400,
            bad_request,
        ),
    ];
    for (what, body, status, code) in cases {
        let url = if what == "second line in the past" { format!("{path}/high-accuracy") } else { path.clone() };
        let (got_status, got) = answer(post(&d, &url, body, &[]).await).await;
        assert_eq!((got_status, got["errorCode"].as_str().unwrap()), (status, code), "{what}: {got}");
        assert!(got["error_msg"].as_str().is_some_and(|m| !m.is_empty()), "{what}: a clear message");
        assert_eq!(got["result"], Value::Null);
    }
    let corrupt = post(&d, &path, b"\x1f\x8bnot gzip".to_vec(), &[("content-encoding", "gzip")]).await;
    assert_eq!(answer(corrupt).await.1["errorCode"], bad_request);
    let brotli = post(&d, &path, b"{}".to_vec(), &[("content-encoding", "br")]).await;
    assert_eq!(answer(brotli).await.1["errorCode"], bad_request);

    let ok = json!({"log_time_ns": t, "contents": ["x"]}).to_string().into_bytes();
    let missing = uuid_like(7);
    let (status, v) = answer(post(&d, &report_path(&missing, "victim"), ok.clone(), &[]).await).await;
    assert_eq!((status, v["errorCode"].as_str().unwrap()), (400, "LTS.0201"), "{v}");
    let (status, v) = answer(post(&d, &report_path("lts-bad", &missing), ok.clone(), &[]).await).await;
    assert_eq!((status, v["errorCode"].as_str().unwrap()), (400, "LTS.0208"), "{v}");
    let r = d.http.get(d.url(&path)).send().await.unwrap();
    assert_eq!(answer(r).await.0, 405);

    assert_eq!(stored(&d, "lts-bad", "victim").await.0, vec![], "nothing of any refused request is stored");
    // Names of a log group that does not exist are auto-created only when the catalog may.
    let r = post(&d, &report_path("lts-auto", "fresh"), ok, &[]).await;
    assert_eq!(answer(r).await, (200, success()));
    assert_eq!(stored(&d, "lts-auto", "fresh").await.0.len(), 1);
}

fn uuid_like(n: u8) -> String {
    format!("{n:08x}-0000-4000-8000-{n:012x}")
}

#[tokio::test]
async fn tokens_authenticate_reports_for_their_project_id_only() {
    let toml =
        format!("[catalog]\nauto_create = true\n[[lts.tokens]]\ntoken = \"tok-0123456789\"\nproject_id = \"{PID}\"\n");
    let d = TestDaemon::start(&toml).await;
    let t = now_ns();
    let ok = json!({"log_time_ns": t, "contents": ["tokened"], "labels": {"via": "token"}}).to_string().into_bytes();
    let path = report_path("lts-token", "tok");
    let other_project =
        "/v2/ffffffffffffffffffffffffffffffff/lts/groups/lts-token/streams/tok/tenant/contents".to_string();
    // (url, headers, status, errorCode)
    type Case<'a> = (String, Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (path.clone(), vec![], 401, "APIGW.0301"),
        (path.clone(), vec![("x-auth-token", "tok-wrong")], 401, "LTS.0003"),
        (other_project, vec![("x-auth-token", "tok-0123456789")], 401, "SVCSTG.ALS.403.105"),
        (
            path.clone(),
            vec![("authorization", "SDK-HMAC-SHA256 Access=nobody, SignedHeaders=host;x-sdk-date, Signature=00")],
            401,
            "APIGW.0301",
        ),
    ];
    for (url, headers, status, code) in cases {
        let (got_status, got) = answer(post(&d, &url, ok.clone(), &headers).await).await;
        assert_eq!((got_status, got["errorCode"].as_str().unwrap()), (status, code), "{headers:?}: {got}");
        assert!(!got.to_string().contains("tok-0123456789"), "a token never appears in an answer");
    }
    let r = d.http.get(d.url(&format!("/v2/{PID}/groups"))).send().await.unwrap();
    let (status, v) = answer(r).await;
    assert_eq!((status, v["error_code"].as_str().unwrap()), (401, "APIGW.0301"), "management dialect: {v}");

    let r = post(&d, &path, ok, &[("x-auth-token", "tok-0123456789")]).await;
    assert_eq!(answer(r).await, (200, success()));
    // Read back in the open mode on the same data: the refused requests left nothing behind.
    let dir = d.stop().await;
    let d = TestDaemon::start_in(dir, "").await;
    let (logs, tags) = stored(&d, "lts-token", "tok").await;
    assert_eq!(logs, vec![((t / NS) as u32, (t % NS) as u32, "tokened".to_string())]);
    assert_eq!(tags, vec![vec![LogTag { key: "via".into(), value: "token".into() }]]);
}
