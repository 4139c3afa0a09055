//! SLS web tracking through real HTTP: the browser SDK's JSON POST (text/plain, no headers), GET
//! beacons and GIFs, the enable_tracking gate, CORS preflights, the default project, and the
//! STS plugin's signed JSON write (x-log-date, no Date).

mod common;

use common::*;
use logtide::wire::pb::LogGroup;
use md5::{Digest, Md5};
use reqwest::Method;

const CONFIG: &str = "[catalog]\nauto_create = false\ndefault_project = \"webproj\"\n";

async fn daemon(tracking: bool, extra: &str) -> TestDaemon {
    let d = TestDaemon::start(&format!("{CONFIG}{extra}")).await;
    if extra.contains("access_keys") {
        return d;
    }
    d.create_project("webproj").await;
    let body = serde_json::json!({"logstoreName": "web", "ttl": 30, "shardCount": 1, "enable_tracking": tracking});
    let r = d.req(Method::POST, "webproj", "/logstores").body(body.to_string()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    d
}

fn kv(g: &LogGroup) -> Vec<Vec<(String, String)>> {
    g.logs.iter().map(|l| l.contents.iter().map(|c| (c.key.clone(), c.value.clone())).collect()).collect()
}

/// The exact payload the browser SDK sends (sls.md §7.3), with a client `__time__` to overwrite.
const BROWSER_BODY: &str = r#"{"__logs__":[{"customer":"zhangsan","price":"7998","obj":"{\"a\":1}","__time__":5}],"__tags__":{"env":"dev"},"__topic__":"tp","__source__":"src"}"#;

#[tokio::test]
async fn browser_post_is_stored_with_the_receive_time() {
    let d = daemon(true, "").await;
    let before = now();
    // sendBeacon: text/plain, no x-log headers, the project only in Host.
    let r = d
        .req(Method::POST, "webproj", "/logstores/web/track?APIVersion=0.6.0")
        .header("content-type", "text/plain;charset=UTF-8")
        .header("origin", "http://example.test")
        .body(BROWSER_BODY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let all = d.pull_all("webproj", "web").await;
    assert_eq!(all.len(), 1);
    let g = &all[0].1;
    assert_eq!((g.topic.as_deref(), g.source.as_deref()), (Some("tp"), Some("src")));
    assert_eq!(g.log_tags.len(), 1);
    assert!(g.logs[0].time >= before && g.logs[0].time <= now(), "log time is the receive time");
    // Fields keep the order of the body; the client's __time__ is dropped.
    let fields = kv(g);
    assert_eq!(
        fields[0],
        vec![
            ("customer".into(), "zhangsan".into()),
            ("price".into(), "7998".into()),
            ("obj".into(), "{\"a\":1}".into())
        ]
    );
}

#[tokio::test]
async fn beacons_and_gifs() {
    let d = daemon(true, "").await;
    let r = d
        .req(Method::GET, "webproj", "/logstores/web/track?APIVersion=0.6.0&page=%2Fhome&__topic__=beacon")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = d.req(Method::GET, "webproj", "/logstores/web/track.gif?APIVersion=0.6.0&k=v").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/gif");
    assert!(r.bytes().await.unwrap().starts_with(b"GIF89a"));
    let r = d
        .req(Method::GET, "webproj", "/logstores/web/track_ua.gif?APIVersion=0.6.0&k=ua")
        .header("user-agent", "TestBrowser/1.0")
        .header("referer", "http://example.test/page")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let groups: Vec<LogGroup> = d.pull_all("webproj", "web").await.into_iter().map(|(_, g)| g).collect();
    assert_eq!(groups.len(), 3);
    assert_eq!(groups[0].topic.as_deref(), Some("beacon"));
    assert_eq!(kv(&groups[0])[0], vec![("page".into(), "/home".into())]);
    assert_eq!(kv(&groups[1])[0], vec![("k".into(), "v".into())]);
    assert_eq!(
        kv(&groups[2])[0],
        vec![
            ("k".into(), "ua".into()),
            ("__userAgent__".into(), "TestBrowser/1.0".into()),
            ("__referer__".into(), "http://example.test/page".into())
        ]
    );
    let huge = format!("/logstores/web/track?APIVersion=0.6.0&k={}", "x".repeat(17 * 1024));
    let r = d.req(Method::GET, "webproj", &huge).send().await.unwrap();
    assert_eq!(error_code(r).await, (400, "PostBodyTooLarge".into()));
}

#[tokio::test]
async fn tracking_disabled_and_bad_bodies_store_nothing() {
    let d = daemon(false, "").await;
    let r = d.req(Method::POST, "webproj", "/logstores/web/track").body(BROWSER_BODY).send().await.unwrap();
    assert_eq!(error_code(r).await, (401, "Unauthorized".into()));
    let r = d.req(Method::GET, "webproj", "/logstores/web/track.gif?k=v").send().await.unwrap();
    assert_eq!(error_code(r).await, (401, "Unauthorized".into()));
    assert!(d.pull_all("webproj", "web").await.is_empty());

    let d = daemon(true, "").await;
    let many = serde_json::json!({"__logs__": vec![serde_json::json!({"k": "v"}); 4097]}).to_string();
    for (body, status, code) in [
        ("{not json".to_string(), 400, "PostBodyInvalid"),
        (r#"{"__topic__":"t"}"#.to_string(), 400, "PostBodyInvalid"),
        (r#"{"__logs__":[{"k":"v"},{"__topic__":"reserved"}]}"#.to_string(), 400, "InvalidKey"),
        (many, 400, "PostBodyTooLarge"),
    ] {
        let r = d.req(Method::POST, "webproj", "/logstores/web/track").body(body).send().await.unwrap();
        assert_eq!(error_code(r).await, (status, code.to_string()));
    }
    assert!(d.pull_all("webproj", "web").await.is_empty());
    let r = d.req(Method::POST, "webproj", "/logstores/missing/track").body(BROWSER_BODY).send().await.unwrap();
    assert_eq!(error_code(r).await, (404, "LogStoreNotExist".into()));
}

#[tokio::test]
async fn compressed_post_default_project_and_preflight() {
    let d = daemon(true, "").await;
    let lz = lz4_flex::block::compress(BROWSER_BODY.as_bytes());
    // No project in Host: the configured default project is used.
    let r = d
        .http
        .post(d.url("/logstores/web/track"))
        .header("x-log-compresstype", "lz4")
        .header("x-log-bodyrawsize", BROWSER_BODY.len().to_string())
        .body(lz)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(d.pull_all("webproj", "web").await.len(), 1);

    let r = d
        .http
        .request(Method::OPTIONS, d.url("/logstores/web"))
        .header("origin", "http://example.test")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,content-md5,x-log-date")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert!(r.headers()["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    assert_eq!(r.headers()["access-control-allow-headers"], "authorization,content-md5,x-log-date");
}

const SIGNED: &str = "\n[[access_keys]]\nid = \"sts-id\"\nsecret = \"sts-secret\"\n";

#[tokio::test]
async fn signed_daemon_still_takes_anonymous_tracking_and_the_sts_plugin_json_write() {
    let d = daemon(true, SIGNED).await;
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    // Set up through signed management calls.
    for (path, body) in [
        ("/", r#"{"projectName":"webproj","description":""}"#.to_string()),
        ("/logstores", r#"{"logstoreName":"web","ttl":30,"shardCount":1,"enable_tracking":true}"#.to_string()),
    ] {
        let r = sts_post(&d, path, &body, &date).await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    let r = d.req(Method::POST, "webproj", "/logstores/web/track").body(BROWSER_BODY).send().await.unwrap();
    assert_eq!(r.status(), 200, "tracking is anonymous even when keys are configured");

    // The STS plugin: signed JSON to /logstores/{ls}, x-log-date only, client __time__ kept.
    let t = now() - 60;
    let body = format!(r#"{{"__logs__":[{{"__time__":{t},"k":"sts"}}],"__topic__":"sts"}}"#);
    let r = sts_post(&d, "/logstores/web", &body, &date).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = sts_post(&d, "/logstores/web", &body, "Mon, 01 Jan 2024 00:00:00 GMT").await;
    assert_eq!(error_code(r).await, (400, "RequestTimeExpired".into()));
    // Unsigned writes other than tracking are refused.
    let r = d
        .req(Method::POST, "webproj", "/logstores/web")
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await.0, 401);

    let dir = d.stop().await;
    let d = TestDaemon::start_in(dir, "[catalog]\nauto_create = false\n").await;
    let groups: Vec<LogGroup> = d.pull_all("webproj", "web").await.into_iter().map(|(_, g)| g).collect();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[1].topic.as_deref(), Some("sts"));
    assert_eq!(groups[1].logs[0].time, t, "JSON PutLogs keeps the entry's __time__");
}

/// A v1-signed JSON POST the way the STS plugin sends it: `x-log-date`, no `Date`.
async fn sts_post(d: &TestDaemon, path: &str, body: &str, date: &str) -> reqwest::Response {
    let md5 = hex::encode_upper(Md5::digest(body.as_bytes()));
    let len = body.len().to_string();
    let xs =
        [("x-log-apiversion", "0.6.0"), ("x-log-bodyrawsize", len.as_str()), ("x-log-signaturemethod", "hmac-sha1")];
    let sig = sign_v1("sts-secret", "POST", &md5, "application/json", date, &xs, path);
    let mut rb = d
        .req(Method::POST, "webproj", path)
        .header("content-type", "application/json")
        .header("content-md5", md5)
        .header("x-log-date", date)
        .header("authorization", format!("LOG sts-id:{sig}"));
    for (k, v) in xs {
        rb = rb.header(k, v);
    }
    rb.body(body.to_string()).send().await.unwrap()
}
