//! SLS GetLogs v2 (`POST /logstores/{ls}/logs`), v1 (`GET /logstores/{ls}?type=log`) and
//! GetHistograms through real HTTP: the search syntax, ordering, paging with offset/line, topic,
//! rows of strings as the SDKs decode them, compressed answers, and the refusal of SQL.

mod common;

use common::*;
use logtide::wire::pb::{log::Content, Log, LogGroup, LogTag};
use reqwest::Method;
use serde_json::{json, Value};

fn group(topic: &str, t: u32, rows: &[(&str, &str)]) -> LogGroup {
    LogGroup {
        logs: rows
            .iter()
            .enumerate()
            .map(|(i, (method, msg))| Log {
                time: t + i as u32,
                contents: vec![
                    Content { key: "method".into(), value: method.to_string() },
                    Content { key: "msg".into(), value: msg.to_string() },
                ],
                time_ns: None,
            })
            .collect(),
        topic: Some(topic.into()),
        source: Some("10.0.0.7".into()),
        log_tags: vec![LogTag { key: "host".into(), value: "web-1".into() }],
        ..Default::default()
    }
}

async fn v2(d: &TestDaemon, body: Value, accept: Option<&str>) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut rb = d.req(Method::POST, "getlogs", "/logstores/app/logs").header("content-type", "application/json");
    if let Some(a) = accept {
        rb = rb.header("accept-encoding", a);
    }
    let r = rb.body(body.to_string()).send().await.unwrap();
    (r.status().as_u16(), r.headers().clone(), r.bytes().await.unwrap().to_vec())
}

fn msgs(data: &Value) -> Vec<String> {
    data.as_array().unwrap().iter().map(|r| r["msg"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn get_logs_v1_v2_and_histograms() {
    let d = TestDaemon::start("").await;
    d.create_project("getlogs").await;
    d.create_logstore("getlogs", "app", 2).await;
    let t = now() - 100;
    let g1 = group(
        "web",
        t,
        &[("GET", "user alice logged in"), ("POST", "user bob timed out"), ("GET", "disk error on sda")],
    );
    let g2 = group("batch", t + 10, &[("GET", "nightly job error"), ("PUT", "alice updated profile")]);
    for g in [&g1, &g2] {
        assert_eq!(d.put_lz4("getlogs", "app", g).await.status(), 200);
    }
    let window = json!({"from": t - 5, "to": t + 60});
    let with = |extra: Value| {
        let mut b = window.clone();
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };

    // Everything, oldest first, every value a string; the topic, source and tags as fields.
    let (status, h, body) = v2(&d, with(json!({"query": "*"})), None).await;
    assert_eq!(status, 200);
    assert!(
        h.get("x-log-compresstype").is_none() && h.get("x-log-bodyrawsize").is_none(),
        "neither header uncompressed"
    );
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["meta"]["progress"], "Complete");
    assert_eq!(v["meta"]["count"], 5);
    assert_eq!(v["meta"]["keys"], json!(["method", "msg"]));
    assert!(v["meta"].get("telementryType").is_some());
    let first = &v["data"][0];
    assert_eq!(
        first,
        &json!({"__time__": t.to_string(), "__source__": "10.0.0.7", "__topic__": "web", "__tag__:host": "web-1",
                "method": "GET", "msg": "user alice logged in"})
    );
    assert!(v["data"].as_array().unwrap().iter().all(|r| r.as_object().unwrap().values().all(Value::is_string)));

    // The search syntax.
    for (query, expected) in [
        ("error", vec!["disk error on sda", "nightly job error"]),
        ("alice AND method: GET", vec!["user alice logged in"]),
        ("alice OR bob", vec!["user alice logged in", "user bob timed out", "alice updated profile"]),
        ("error NOT __topic__: batch", vec!["disk error on sda"]),
        ("__tag__:host: web-1 and \"timed out\"", vec!["user bob timed out"]),
        ("(method:PUT OR method:POST) and ali*", vec!["alice updated profile"]),
    ] {
        let (_, _, body) = v2(&d, with(json!({"query": query})), None).await;
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(msgs(&v["data"]), expected, "{query}");
    }
    // Topic, reverse, offset and line.
    let (_, _, body) = v2(&d, with(json!({"topic": "batch"})), None).await;
    assert_eq!(msgs(&serde_json::from_slice::<Value>(&body).unwrap()["data"]).len(), 2);
    let (_, _, body) = v2(&d, with(json!({"reverse": true, "offset": 1, "line": 2})), None).await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(msgs(&v["data"]), vec!["nightly job error", "disk error on sda"]);
    assert_eq!(v["meta"]["processedRows"], 5);

    // An LZ4 answer when asked, with both headers.
    let (_, h, body) = v2(&d, with(json!({"query": "bob"})), Some("lz4")).await;
    assert_eq!(h["x-log-compresstype"], "lz4");
    let raw: usize = h["x-log-bodyrawsize"].to_str().unwrap().parse().unwrap();
    let v: Value = serde_json::from_slice(&lz4_flex::block::decompress(&body, raw).unwrap()).unwrap();
    assert_eq!(msgs(&v["data"]), vec!["user bob timed out"]);

    // v1: the bare array and the progress headers.
    let path = format!("/logstores/app?type=log&from={}&to={}&query=error&line=1&reverse=true", t - 5, t + 60);
    let r = d.req(Method::GET, "getlogs", &path).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-log-progress"], "Complete");
    assert_eq!(r.headers()["x-log-count"], "1");
    let v: Value = r.json().await.unwrap();
    assert_eq!(msgs(&v), vec!["nightly job error"]);

    // Histograms: every matching log counted once, in buckets covering [from, to).
    let path = format!("/logstores/app?type=histogram&from={}&to={}&query=*", t - 5, t + 55);
    let r = d.req(Method::GET, "getlogs", &path).send().await.unwrap();
    assert_eq!(r.headers()["x-log-count"], "5");
    let buckets: Vec<Value> = r.json().await.unwrap();
    assert_eq!(buckets.len(), 60);
    assert_eq!(buckets.iter().map(|b| b["count"].as_u64().unwrap()).sum::<u64>(), 5);
    assert_eq!(buckets[5]["count"], 1, "the first log at t falls in the bucket starting at t");
    assert_eq!((buckets[0]["from"].as_u64(), buckets[59]["to"].as_u64()), (Some(t as u64 - 5), Some(t as u64 + 55)));

    // Refusals: SQL, a bad expression, a reversed window, too many lines, an unknown logstore.
    for (body, code) in [
        (with(json!({"query": "* | select count(*) as n"})), "ParameterInvalid"),
        (with(json!({"query": "(alice"})), "ParameterInvalid"),
        (json!({"from": t, "to": t}), "ParameterInvalid"),
        (with(json!({"line": 101})), "ParameterInvalid"),
    ] {
        let (status, _, body) = v2(&d, body, None).await;
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((status, v["errorCode"].as_str().unwrap()), (400, code), "{v}");
    }
    let r = d.req(Method::POST, "getlogs", "/logstores/nope/logs").body(window.to_string()).send().await.unwrap();
    assert_eq!(error_code(r).await, (404, "LogStoreNotExist".to_string()));
}
