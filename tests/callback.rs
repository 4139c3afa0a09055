//! The container-log callback `POST /v4/callback/logs` through real HTTP: records land where the
//! `[callback]` templates route them, exactly as sent, and any bad record stores nothing at all.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

fn record(project: &str, app: &str, msg: &str, ts: u32) -> Value {
    json!({
        "@timestamp": ts.to_string(), "application_name": app, "component": "23fdsf23",
        "container_id": "23fdsf23", "container_id8": "23fdsf23", "docker_container_name": "agnet-23fdsf23",
        "file_name": "file", "kubernetes_container_name": "kube-pod-klcsf", "kubernetes_namespace": "system",
        "log_data": msg, "node": "192.168.0.1", "paths": " /api/v1/namespaces/", "pod_id": "121f0ff7",
        "pod_name": "tracer-agent-klcsf", "product": "cpaas", "project_name": project, "region_name": "ovn",
        "time": 1
    })
}

async fn post(d: &TestDaemon, records: &[Value]) -> reqwest::Response {
    d.http
        .post(d.url("/v4/callback/logs"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(records).unwrap())
        .send()
        .await
        .unwrap()
}

/// Every stored log of a logstore as (time, field map).
async fn stored(d: &TestDaemon, project: &str, logstore: &str) -> Vec<(u32, serde_json::Map<String, Value>)> {
    let mut out = Vec::new();
    for (_, g) in d.pull_all(project, logstore).await {
        for l in g.logs {
            let fields = l.contents.into_iter().map(|c| (c.key, Value::from(c.value))).collect();
            out.push((l.time, fields));
        }
    }
    out
}

fn as_text(v: &Value) -> serde_json::Map<String, Value> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))))
        .collect()
}

#[tokio::test]
async fn records_are_routed_by_project_and_application_and_stored_exactly() {
    let d = TestDaemon::start("").await;
    let t = now();
    let records = vec![
        record("shop", "cart", "one ✓", t),
        record("shop", "pay", "two", t - 5),
        record("shop", "cart", "three", t),
    ];
    let r = post(&d, &records).await;
    assert_eq!(r.status(), 204);
    assert!(r.headers().contains_key("x-log-requestid"));
    let cart = stored(&d, "shop", "cart").await;
    assert_eq!(cart, vec![(t, as_text(&records[0])), (t, as_text(&records[2]))]);
    assert_eq!(stored(&d, "shop", "pay").await, vec![(t - 5, as_text(&records[1]))]);
}

#[tokio::test]
async fn any_bad_record_stores_nothing() {
    let d = TestDaemon::start("").await;
    let t = now();
    let good = record("shop", "cart", "good", t);
    let mut missing = record("shop", "other", "x", t);
    missing.as_object_mut().unwrap().remove("pod_id");
    let mut wrong_type = record("shop", "other", "x", t);
    wrong_type["time"] = Value::from("1");
    let old = record("shop", "other", "old", t - 8 * 86400);
    let mut bad_stamp = record("shop", "other", "x", t);
    bad_stamp["@timestamp"] = Value::from("later");
    let bad_name = record("Not_A_Project", "cart", "x", t);
    for (bad, status, code) in [
        (missing, 400, "PostBodyInvalid"),
        (wrong_type, 400, "PostBodyInvalid"),
        (old, 499, "PostBodyInvalid"),
        (bad_stamp, 400, "InvalidTimestamp"),
        (bad_name, 400, "ProjectInfoInvalid"),
    ] {
        let r = post(&d, &[good.clone(), bad]).await;
        assert_eq!(error_code(r).await, (status, code.to_string()));
    }
    let r = d.http.post(d.url("/v4/callback/logs")).body("{\"not\":\"an array\"}").send().await.unwrap();
    assert_eq!(error_code(r).await, (400, "PostBodyInvalid".into()));
    let r = d.http.get(d.url("/v4/callback/logs")).send().await.unwrap();
    assert_eq!(error_code(r).await, (405, "InvalidMethod".into()));
    // Nothing was created or stored: not even the good records' project.
    let r = d.req(Method::GET, "shop", "/").send().await.unwrap();
    assert_eq!(error_code(r).await, (404, "ProjectNotExist".into()));
}

#[tokio::test]
async fn routing_templates_are_configurable() {
    let d =
        TestDaemon::start("[callback]\nproject = \"k8s-{region_name}\"\nlogstore = \"{kubernetes_namespace}\"\n").await;
    let t = now();
    let records = vec![record("a", "b", "m1", t), record("c", "d", "m2", t)];
    assert_eq!(post(&d, &records).await.status(), 204);
    let got = stored(&d, "k8s-ovn", "system").await;
    assert_eq!(got, vec![(t, as_text(&records[0])), (t, as_text(&records[1]))]);
}
