//! LTS ListLogs (`POST /v2/{project_id}/groups/{g}/streams/{s}/content/query`) through real HTTP:
//! the seed's paging example in its four direction combinations, highlighting, label filters,
//! counts, logs written through SLS rendered as the console shows them, line numbers unique even
//! when many logs share one second, and every documented error code.

mod common;

use common::*;
use logtide::wire::pb::{log::Content, Log, LogGroup, LogTag};
use reqwest::Method;
use serde_json::{json, Value};

const PID: &str = "0123456789abcdef0123456789abcdef";
const NS: u64 = 1_000_000_000;

struct Stream {
    group: String,
    stream: String,
}

async fn lts(d: &TestDaemon, method: Method, path: &str, body: Value) -> (u16, Value) {
    let r = d.http.request(method, d.url(&format!("/v2/{PID}{path}"))).body(body.to_string()).send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

async fn make_stream(d: &TestDaemon, group: &str, stream: &str) -> Stream {
    let (_, g) = lts(d, Method::POST, "/groups", json!({"log_group_name": group, "ttl_in_days": 7})).await;
    let group = g["log_group_id"].as_str().unwrap().to_string();
    let (_, s) = lts(d, Method::POST, &format!("/groups/{group}/streams"), json!({"log_stream_name": stream})).await;
    Stream { group, stream: s["log_stream_id"].as_str().unwrap().to_string() }
}

async fn report(d: &TestDaemon, s: &Stream, time_ns: u64, lines: &[String], labels: Value) {
    let path = format!("/lts/groups/{}/streams/{}/tenant/contents", s.group, s.stream);
    let (status, v) =
        lts(d, Method::POST, &path, json!({"log_time_ns": time_ns, "contents": lines, "labels": labels})).await;
    assert_eq!(status, 200, "{v}");
}

async fn query(d: &TestDaemon, s: &Stream, body: Value) -> (u16, Value) {
    lts(d, Method::POST, &format!("/groups/{}/streams/{}/content/query", s.group, s.stream), body).await
}

fn contents(v: &Value) -> Vec<String> {
    v["logs"].as_array().unwrap().iter().map(|l| l["content"].as_str().unwrap().to_string()).collect()
}

fn line_num_of(v: &Value, content_suffix: &str) -> String {
    let logs = v["logs"].as_array().unwrap();
    let log = logs.iter().find(|l| l["content"].as_str().unwrap().ends_with(content_suffix)).unwrap();
    log["line_num"].as_str().unwrap().to_string()
}

fn window(t_ns: u64) -> (u64, u64) {
    (t_ns / 1_000_000 - 60_000, t_ns / 1_000_000 + 60_000)
}

#[tokio::test]
async fn the_seed_paging_example_in_all_four_directions_with_highlighting() {
    let d = TestDaemon::start("").await;
    let s = make_stream(&d, "query-group", "events").await;
    let t = (now() as u64 - 30) * NS;
    let lines: Vec<String> = (1..=9).map(|i| format!("2020-07-25/14:44:4{i} this log is Error NO {i}")).collect();
    report(&d, &s, t, &lines, json!({"hostName": "h1"})).await;
    let (start, end) = window(t);
    let base = json!({"start_time": start.to_string(), "end_time": end.to_string(), "keywords": "log", "limit": 3, "is_count": true});

    let (status, init) = query(&d, &s, base.clone()).await;
    assert_eq!(status, 200, "{init}");
    assert_eq!(init["count"], 9);
    assert_eq!(init["isQueryComplete"], true);
    let first = &init["logs"][0];
    assert_eq!(first["content"], "2020-07-25/14:44:41 this <HighLightTag>log</HighLightTag> is Error NO 1");
    assert_eq!(first["labels"], json!({"hostName": "h1"}));
    assert_eq!(first["line_num"], t.to_string(), "line_num is the log's nanosecond time");
    assert_eq!(first["line_num"].as_str().unwrap().len(), 19);

    // Anchor "NO 5", found in a descending init page of 9.
    let all = query(&d, &s, json!({"start_time": start, "end_time": end, "limit": 9, "is_desc": true})).await.1;
    assert_eq!(contents(&all)[0], lines[8], "descending starts with the newest");
    let anchor = line_num_of(&all, "NO 5");
    let nos =
        |v: &Value| -> Vec<String> { contents(v).iter().map(|c| c.rsplit(' ').next().unwrap().to_string()).collect() };
    for (desc, search, expected) in [
        (false, "forwards", ["6", "7", "8"]),
        (true, "backwards", ["8", "7", "6"]),
        (false, "backwards", ["2", "3", "4"]),
        (true, "forwards", ["4", "3", "2"]),
    ] {
        let mut body = base.clone();
        body["line_num"] = json!(anchor);
        body["is_desc"] = json!(desc.to_string());
        body["search_type"] = json!(search);
        body["highlight"] = json!(false);
        let (status, page) = query(&d, &s, body).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(nos(&page), expected, "is_desc={desc} search_type={search}");
        assert!(!contents(&page)[0].contains("HighLightTag"), "highlight false returns the raw text");
    }
}

#[tokio::test]
async fn labels_filter_sls_logs_render_as_the_console_and_same_second_logs_page_exactly() {
    let d = TestDaemon::start("").await;
    let s = make_stream(&d, "query-mixed", "mixed").await;
    let t = (now() as u64 - 10) * NS;
    report(&d, &s, t, &["alpha from a".into()], json!({"app": "a"})).await;
    report(&d, &s, t + 5, &["alpha from b".into()], json!({"app": "b"})).await;
    // 25 SLS logs in one second with no nanosecond part, written through PutLogs.
    let sls = LogGroup {
        logs: (0..25)
            .map(|i| Log {
                time: (t / NS) as u32 + 1,
                contents: vec![
                    Content { key: "method".into(), value: "GET".into() },
                    Content { key: "seq".into(), value: i.to_string() },
                ],
                time_ns: None,
            })
            .collect(),
        topic: Some("web".into()),
        source: Some("10.0.0.9".into()),
        log_tags: vec![LogTag { key: "env".into(), value: "prod".into() }],
        ..Default::default()
    };
    assert_eq!(d.put_lz4("query-mixed", "mixed", &sls).await.status(), 200);
    let (start, end) = window(t);

    let (_, only_b) = query(&d, &s, json!({"start_time": start, "end_time": end, "labels": {"app": "b"}})).await;
    assert_eq!(contents(&only_b), vec!["alpha from b"]);
    let (_, prod) = query(
        &d,
        &s,
        json!({"start_time": start, "end_time": end, "labels": {"__topic__": "web"}, "limit": 1, "is_count": true}),
    )
    .await;
    assert_eq!(prod["count"], 25);
    assert_eq!(prod["logs"][0]["content"], "method=GET seq=0");
    assert_eq!(prod["logs"][0]["labels"], json!({"env": "prod", "__topic__": "web", "__source__": "10.0.0.9"}));
    let (_, none) = query(&d, &s, json!({"start_time": start, "end_time": end, "keywords": "alpha NOT b"})).await;
    assert_eq!(contents(&none), vec!["<HighLightTag>alpha</HighLightTag> from a"]);

    // Pages of 4 over the 27 logs, following line_num forwards: every log once, in order, with
    // unique line numbers although 25 of them share one second.
    let mut seen: Vec<(u64, String)> = Vec::new();
    let mut body = json!({"start_time": start, "end_time": end, "limit": 4});
    loop {
        let (status, page) = query(&d, &s, body.clone()).await;
        assert_eq!(status, 200, "{page}");
        let logs = page["logs"].as_array().unwrap();
        if logs.is_empty() {
            break;
        }
        for l in logs {
            seen.push((l["line_num"].as_str().unwrap().parse().unwrap(), l["content"].as_str().unwrap().to_string()));
        }
        body["line_num"] = logs.last().unwrap()["line_num"].clone();
        body["search_type"] = json!("forwards");
    }
    assert_eq!(seen.len(), 27);
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "line numbers strictly increase");
    let expected: Vec<String> = ["alpha from a".to_string(), "alpha from b".to_string()]
        .into_iter()
        .chain((0..25).map(|i| format!("method=GET seq={i}")))
        .collect();
    assert_eq!(seen.iter().map(|s| s.1.clone()).collect::<Vec<_>>(), expected);
    let second = (t / NS + 1) * NS;
    assert_eq!(seen[2].0, second, "the first log of a second starts at that second");
    assert_eq!(seen[26].0, second + 24);
}

#[tokio::test]
async fn every_query_error_has_its_code() {
    let d = TestDaemon::start("").await;
    let s = make_stream(&d, "query-errors", "errs").await;
    let t = now() as u64 * 1000;
    for (body, code) in [
        (json!({"start_time": t, "end_time": t + 1000, "keywords": "*rror"}), "LTS.0301"),
        (json!({"start_time": t, "end_time": t + 1000, "keywords": "ok ?x"}), "LTS.0301"),
        (json!({"start_time": t, "end_time": t + 1000, "limit": 5001}), "LTS.1903"),
        (json!({"start_time": t, "end_time": t + 1000, "limit": "0"}), "LTS.1903"),
        (json!({"start_time": t, "end_time": t + 1000, "line_num": "1000000000000000000"}), "LTS.0701"),
        (json!({"start_time": t, "end_time": t + 31 * 24 * 3600 * 1000}), "LTS.0009"),
        (json!({"start_time": t + 1, "end_time": t}), "LTS.0009"),
        (json!({"end_time": t}), "LTS.0009"),
    ] {
        let (status, v) = query(&d, &s, body.clone()).await;
        assert_eq!((status, v["error_code"].as_str().unwrap()), (400, code), "{body}: {v}");
    }
    let missing = format!("/groups/{}/streams/00000000-0000-4000-8000-000000000000/content/query", s.group);
    let (status, v) = lts(&d, Method::POST, &missing, json!({"start_time": t, "end_time": t + 1})).await;
    assert_eq!((status, v["error_code"].as_str().unwrap()), (400, "LTS.0208"));
    let (status, v) = query(&d, &s, json!({"start_time": t, "end_time": t + 1000})).await;
    assert_eq!((status, v), (200, json!({"count": 0, "logs": [], "isQueryComplete": true})));
}

#[tokio::test]
async fn query_results_survive_a_restart() {
    let d = TestDaemon::start("").await;
    let s = make_stream(&d, "query-restart", "durable").await;
    let t = (now() as u64 - 5) * NS;
    report(&d, &s, t, &["kept across restarts".into()], json!({})).await;
    let dir = d.stop().await;
    let d = TestDaemon::start_in(dir, "").await;
    let (start, end) = window(t);
    let (_, v) = query(&d, &s, json!({"start_time": start, "end_time": end, "keywords": "restarts"})).await;
    assert_eq!(contents(&v), vec!["kept across <HighLightTag>restarts</HighLightTag>"]);
}
