//! LTS log group and log stream management through real HTTP (lts.md §3.2, §3.3): creation with
//! 201 and an id, the quotas, duplicate names, ttl inheritance, the legacy update answer, deletes
//! with 204, and that both dialects see one catalog. The official SDK drives the same calls in
//! `tests/lts/test_lts_manage.py`.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn create_group(d: &TestDaemon, name: &str, ttl: Value) -> (u16, Value) {
    lts_call(d, Method::POST, "/groups", Some(json!({"log_group_name": name, "ttl_in_days": ttl}))).await
}

#[tokio::test]
async fn groups_and_streams_lifecycle_with_quotas_and_ttl_inheritance() {
    let d = TestDaemon::start("[lts]\nmax_log_groups = 2\nmax_log_streams_per_group = 2\n").await;
    let (status, v) = create_group(&d, "Grp.One_1", json!(7)).await;
    assert_eq!(status, 201, "{v}");
    let group = v["log_group_id"].as_str().unwrap().to_string();
    assert_eq!(group.len(), 36);
    assert_eq!(lts_code(&create_group(&d, "Grp.One_1", json!(7)).await.1), "LTS.0101");
    for bad in [json!({"log_group_name": "_bad", "ttl_in_days": 7}), json!({"log_group_name": "ok", "ttl_in_days": 0})]
    {
        let (status, v) = lts_call(&d, Method::POST, "/groups", Some(bad)).await;
        assert_eq!((status, lts_code(&v)), (400, "LTS.0009"), "{v}");
    }
    assert_eq!(create_group(&d, "grp-two", json!("30")).await.0, 201, "ttl as a string, as the seed sends it");
    let (status, v) = create_group(&d, "grp-three", json!(7)).await;
    assert_eq!((status, lts_code(&v)), (400, "LTS.0104"), "{v}");

    let streams = format!("/groups/{group}/streams");
    let (status, v) = lts_call(&d, Method::POST, &streams, Some(json!({"log_stream_name": "follows"}))).await;
    assert_eq!(status, 201, "{v}");
    let follows = v["log_stream_id"].as_str().unwrap().to_string();
    let (status, _) =
        lts_call(&d, Method::POST, &streams, Some(json!({"log_stream_name": "own", "ttl_in_days": 3}))).await;
    assert_eq!(status, 201);
    let (status, v) = lts_call(&d, Method::POST, &streams, Some(json!({"log_stream_name": "own"}))).await;
    assert_eq!((status, lts_code(&v)), (400, "LTS.0205"));
    let (status, v) = lts_call(&d, Method::POST, &streams, Some(json!({"log_stream_name": "third"}))).await;
    assert_eq!((status, lts_code(&v)), (400, "LTS.0206"));

    // The group's new ttl reaches the stream created without one, not the other.
    let (status, v) = lts_call(&d, Method::POST, &format!("/groups/{group}"), Some(json!({"ttl_in_days": 14}))).await;
    assert_eq!(status, 200);
    assert_eq!((v["log_group_name"].as_str(), v["ttl_in_days"].as_u64()), (Some("Grp.One_1"), Some(14)));
    let ttl_of = |list: &Value, name: &str| {
        list["log_streams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["log_stream_name"] == name)
            .map(|s| s["ttl_in_days"].clone())
    };
    let (_, list) = lts_call(&d, Method::GET, &streams, None).await;
    assert_eq!((ttl_of(&list, "follows"), ttl_of(&list, "own")), (Some(json!(14)), Some(json!(3))));

    let (status, v) =
        lts_call(&d, Method::PUT, &format!("/groups/{group}/streams-ttl/{follows}"), Some(json!({"ttl_in_days": 5})))
            .await;
    assert_eq!(status, 200);
    assert_eq!(
        v,
        json!({"creation_time": v["creation_time"], "log_topic_name": "follows", "log_topic_id": follows, "ttl_in_days": 5})
    );

    // The all-streams listing adds the group and filters by exact names.
    let (_, all) = lts_call(&d, Method::GET, "/log-streams?log_group_name=Grp.One_1&log_stream_name=own", None).await;
    let all = all["log_streams"].as_array().unwrap().clone();
    assert_eq!(all.len(), 1);
    assert_eq!((all[0]["log_group_id"].as_str(), all[0]["ttl_in_days"].as_u64()), (Some(group.as_str()), Some(3)));

    let (status, body) = lts_call(&d, Method::DELETE, &format!("/groups/{group}/streams/{follows}"), None).await;
    assert_eq!((status, body), (204, Value::Null));
    let (status, v) = lts_call(&d, Method::DELETE, &format!("/groups/{group}/streams/{follows}"), None).await;
    assert_eq!((status, lts_code(&v)), (400, "LTS.0208"));
    let (status, _) = lts_call(&d, Method::DELETE, &format!("/groups/{group}"), None).await;
    assert_eq!(status, 204);
    let (status, v) = lts_call(&d, Method::GET, &streams, None).await;
    assert_eq!((status, lts_code(&v)), (400, "LTS.0201"));
    assert_eq!(create_group(&d, "grp-three", json!(7)).await.0, 201, "a deleted group frees its quota");
}

#[tokio::test]
async fn one_catalog_serves_both_dialects() {
    let d = TestDaemon::start("").await;
    let (_, v) = create_group(&d, "made-by-lts", json!(7)).await;
    let group = v["log_group_id"].as_str().unwrap().to_string();
    let (_, v) =
        lts_call(&d, Method::POST, &format!("/groups/{group}/streams"), Some(json!({"log_stream_name": "events"})))
            .await;
    let stream = v["log_stream_id"].as_str().unwrap().to_string();
    // Written through the SLS API, read through the SLS API, addressed by the LTS names.
    let r = d.put_lz4("made-by-lts", "events", &group_of("sls")).await;
    assert_eq!(r.status(), 200);
    let report = json!({"log_time_ns": now() as u64 * 1_000_000_000, "contents": ["lts line"]});
    let path = format!("/v2/{LTS_PID}/lts/groups/{group}/streams/{stream}/tenant/contents");
    let r = d.http.post(d.url(&path)).body(report.to_string()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let stored = d.pull_all("made-by-lts", "events").await;
    assert_eq!(stored.iter().map(|(_, g)| g.logs.len()).sum::<usize>(), 3 + 1);
    // The SLS view of the LTS-made stream, and the LTS view of an SLS-made project.
    let r = d.req(Method::GET, "made-by-lts", "/logstores/events").send().await.unwrap();
    assert_eq!(r.status(), 200);
    d.create_project("made-by-sls").await;
    d.create_logstore("made-by-sls", "app_logs", 2).await;
    let (_, groups) = lts_call(&d, Method::GET, "/groups", None).await;
    let names: Vec<&str> =
        groups["log_groups"].as_array().unwrap().iter().map(|g| g["log_group_name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["made-by-lts", "made-by-sls"]);
}

fn group_of(tag: &str) -> logtide::wire::pb::LogGroup {
    group(tag, 3)
}
