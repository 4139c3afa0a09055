//! Shared helpers for the integration tests: start a daemon on port 0 with a temp data dir, build
//! LogGroups, send PutLogs the way the SDKs do (optionally v1-signed by an independent test-side
//! signer), and read everything back through cursors.
#![allow(dead_code)]

pub mod moto;

use std::net::SocketAddr;

use base64::Engine;
use hmac::{Hmac, Mac};
use logtide::config::Config;
use logtide::wire::pb::{log::Content, Log, LogGroup, LogGroupList, LogTag};
use md5::{Digest, Md5};
use prost::Message;

pub struct TestDaemon {
    pub daemon: Option<logtide::Daemon>,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
}

impl TestDaemon {
    pub async fn start(extra_toml: &str) -> TestDaemon {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, extra_toml).await
    }

    pub async fn start_in(dir: tempfile::TempDir, extra_toml: &str) -> TestDaemon {
        Self::start_listening(dir, 0, extra_toml).await
    }

    /// A daemon on a given loopback port (0: any), for configs that name it.
    pub async fn start_listening(dir: tempfile::TempDir, port: u16, extra_toml: &str) -> TestDaemon {
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\ndata_dir = {:?}\n{extra_toml}",
            dir.path().join("data").display().to_string()
        );
        let config = Config::from_toml(&text).unwrap();
        let daemon = logtide::Daemon::start(config).await.unwrap();
        let addr = daemon.addr();
        TestDaemon { daemon: Some(daemon), addr, dir, http: reqwest::Client::new() }
    }

    /// A client of a daemon started elsewhere (a spawned binary); `stop` does not apply.
    pub async fn attach(addr: SocketAddr) -> TestDaemon {
        TestDaemon { daemon: None, addr, dir: tempfile::tempdir().unwrap(), http: reqwest::Client::new() }
    }

    pub async fn stop(mut self) -> tempfile::TempDir {
        self.daemon.take().unwrap().shutdown().await.unwrap();
        self.dir
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A request to `project` the way the Python SDK addresses it (`Host: <project>.127.0.0.1`).
    pub fn req(&self, method: reqwest::Method, project: &str, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).header("host", format!("{project}.127.0.0.1"))
    }

    pub async fn create_project(&self, project: &str) {
        let body = serde_json::json!({"projectName": project, "description": "test"}).to_string();
        let r = self
            .req(reqwest::Method::POST, project, "/")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    pub async fn create_logstore(&self, project: &str, logstore: &str, shards: u32) {
        let body = serde_json::json!({"logstoreName": logstore, "ttl": 30, "shardCount": shards}).to_string();
        let r = self
            .req(reqwest::Method::POST, project, "/logstores")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    /// Sends a raw body to PutLogs with the given headers.
    pub async fn put_raw(
        &self,
        project: &str,
        path: &str,
        body: Vec<u8>,
        headers: &[(&str, String)],
    ) -> reqwest::Response {
        let mut rb = self.req(reqwest::Method::POST, project, path).header("content-type", "application/x-protobuf");
        for (k, v) in headers {
            rb = rb.header(*k, v);
        }
        rb.body(body).send().await.unwrap()
    }

    /// PutLogs with an LZ4 body, as the SDKs send it by default.
    pub async fn put_lz4(&self, project: &str, logstore: &str, group: &LogGroup) -> reqwest::Response {
        let raw = group.encode_to_vec();
        let body = lz4_flex::block::compress(&raw);
        let headers = [
            ("x-log-compresstype", "lz4".to_string()),
            ("x-log-bodyrawsize", raw.len().to_string()),
            ("content-md5", hex::encode_upper(Md5::digest(&body))),
        ];
        self.put_raw(project, &format!("/logstores/{logstore}/shards/lb"), body, &headers).await
    }

    pub async fn list_shards(&self, project: &str, logstore: &str) -> Vec<serde_json::Value> {
        let r = self.req(reqwest::Method::GET, project, &format!("/logstores/{logstore}/shards")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    pub async fn cursor(&self, project: &str, logstore: &str, shard: u64, from: &str) -> String {
        let path = format!("/logstores/{logstore}/shards/{shard}?type=cursor&from={from}");
        let r = self.req(reqwest::Method::GET, project, &path).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        v["cursor"].as_str().unwrap().to_string()
    }

    /// Pulls one batch; returns the groups and the next cursor.
    pub async fn pull(
        &self,
        project: &str,
        logstore: &str,
        shard: u64,
        cursor: &str,
        count: usize,
    ) -> (Vec<LogGroup>, String) {
        let path = format!("/logstores/{logstore}/shards/{shard}?type=log&cursor={}&count={count}", urlencode(cursor));
        let r = self
            .req(reqwest::Method::GET, project, &path)
            .header("accept-encoding", "lz4")
            .header("accept", "application/x-protobuf")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let h = r.headers().clone();
        let next = h["x-log-cursor"].to_str().unwrap().to_string();
        let count: usize = h["x-log-count"].to_str().unwrap().parse().unwrap();
        let raw_size: usize = h["x-log-bodyrawsize"].to_str().unwrap().parse().unwrap();
        let body = r.bytes().await.unwrap();
        let raw = if raw_size == 0 {
            Vec::new()
        } else {
            assert_eq!(h["x-log-compresstype"], "lz4");
            lz4_flex::block::decompress(&body, raw_size).unwrap()
        };
        let list = LogGroupList::decode(raw.as_slice()).unwrap();
        assert_eq!(list.log_groups.len(), count);
        (list.log_groups, next)
    }

    /// Every LogGroup stored in the logstore, shard by shard, read through cursors.
    pub async fn pull_all(&self, project: &str, logstore: &str) -> Vec<(u64, LogGroup)> {
        let mut out = Vec::new();
        for shard in self.list_shards(project, logstore).await {
            let id = shard["shardID"].as_u64().unwrap();
            let mut cursor = self.cursor(project, logstore, id, "begin").await;
            loop {
                let (groups, next) = self.pull(project, logstore, id, &cursor, 7).await;
                if groups.is_empty() {
                    assert_eq!(next, cursor);
                    break;
                }
                out.extend(groups.into_iter().map(|g| (id, g)));
                cursor = next;
            }
        }
        out
    }
}

pub fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

pub fn now() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32
}

/// A LogGroup of `n` logs with distinct contents.
pub fn group(tag: &str, n: usize) -> LogGroup {
    let t = now();
    LogGroup {
        logs: (0..n)
            .map(|i| Log {
                time: t,
                contents: vec![
                    Content { key: "msg".into(), value: format!("{tag}-{i} héllo ✓") },
                    Content { key: "seq".into(), value: i.to_string() },
                    Content { key: "empty".into(), value: String::new() },
                ],
                time_ns: Some(i as u32 * 1000),
            })
            .collect(),
        reserved: None,
        topic: Some(format!("topic-{tag}")),
        source: Some("10.1.2.3".into()),
        machine_uuid: None,
        log_tags: vec![LogTag { key: "env".into(), value: tag.into() }],
    }
}

pub async fn error_code(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    assert!(r.headers().contains_key("x-log-requestid"), "every response carries x-log-requestid");
    let v: serde_json::Value = r.json().await.unwrap();
    (status, v["errorCode"].as_str().unwrap_or_default().to_string())
}

/// An independent SLS v1 signer written from sls.md §5.1 for the tests.
pub fn sign_v1(
    secret: &str,
    method: &str,
    md5: &str,
    content_type: &str,
    date: &str,
    headers: &[(&str, &str)],
    resource: &str,
) -> String {
    let mut lines: Vec<(String, String)> = headers
        .iter()
        .filter(|(k, _)| (k.starts_with("x-log-") || k.starts_with("x-acs-")) && *k != "x-log-date")
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect();
    lines.sort();
    let mut s = format!("{method}\n{md5}\n{content_type}\n{date}\n");
    for (k, v) in lines {
        s.push_str(&format!("{k}:{v}\n"));
    }
    s.push_str(resource);
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(s.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The LTS project id the LTS tests address.
pub const LTS_PID: &str = "0123456789abcdef0123456789abcdef";

/// An LTS call to `/v2/{LTS_PID}{path}`: status and parsed body (`Null` when empty). Every LTS
/// answer must carry `X-Request-Id`.
pub async fn lts_call(
    d: &TestDaemon,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut rb =
        d.http.request(method, d.url(&format!("/v2/{LTS_PID}{path}"))).header("content-type", "application/json");
    if let Some(b) = body {
        rb = rb.body(b.to_string());
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    assert!(r.headers().contains_key("x-request-id"), "every LTS answer carries X-Request-Id");
    let text = r.text().await.unwrap();
    (status, if text.is_empty() { serde_json::Value::Null } else { serde_json::from_str(&text).unwrap() })
}

/// The `error_code` of an LTS management answer ("" when absent).
pub fn lts_code(v: &serde_json::Value) -> &str {
    v["error_code"].as_str().unwrap_or_default()
}

/// Starts the `logtide` binary as `command` says (its stdout is piped here) and waits for its one
/// stdout line, `logtide listening on ADDR`; panics with whatever came instead.
pub fn spawn_binary(command: &mut std::process::Command) -> (std::process::Child, SocketAddr) {
    use std::io::BufRead;
    let mut child = command.stdout(std::process::Stdio::piped()).spawn().expect("start logtide");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("logtide listening on ")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line from logtide: {line:?}"));
    (child, addr)
}
