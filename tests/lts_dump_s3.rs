//! LTS dumps into an S3-compatible bucket (`[dump.s3]`, through the `object_store` crate) against
//! a real S3 server: moto_server (`common::moto`, never skipped). Exports run with an injected
//! clock.

mod common;

use common::*;
use object_store::ObjectStoreExt;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn dumps_upload_every_line_to_an_s3_bucket() {
    let moto = common::moto::start().await;
    let http = reqwest::Client::new();
    assert!(http.put(format!("{}/logs-s3", moto.url)).send().await.unwrap().status().is_success(), "create bucket");
    let toml = format!(
        "[dump]\ncheck_interval_secs = 0\n[dump.s3]\nendpoint = {:?}\naccess_key_id = \"test\"\nsecret_access_key = \"test\"\n",
        moto.url
    );
    let d = TestDaemon::start(&toml).await;
    let (_, g) =
        lts_call(&d, Method::POST, "/groups", Some(json!({"log_group_name": "s3-group", "ttl_in_days": 7}))).await;
    let gid = g["log_group_id"].as_str().unwrap().to_string();
    let (_, s) =
        lts_call(&d, Method::POST, &format!("/groups/{gid}/streams"), Some(json!({"log_stream_name": "s3-stream"})))
            .await;
    let sid = s["log_stream_id"].as_str().unwrap().to_string();
    let dump = |bucket: &str| {
        json!({"log_group_id": gid, "log_stream_ids": [sid], "obs_bucket_name": bucket, "type": "cycle",
               "storage_format": "RAW", "switch_on": true, "prefix_name": "p-", "dir_prefix_name": "exports",
               "period": 2, "period_unit": "min"})
    };
    let (status, v) = lts_call(&d, Method::POST, "/log-dump/obs", Some(dump("no-such-bucket"))).await;
    assert_eq!((status, lts_code(&v)), (400, "LTS.0416"), "{v}");
    let (status, v) = lts_call(&d, Method::POST, "/log-dump/obs", Some(dump("logs-s3"))).await;
    assert_eq!(status, 201, "{v}");

    let t = now() as u64 * 1_000_000_000;
    let lines: Vec<String> = (0..50).map(|i| format!("line {i} to s3 ✓")).collect();
    let path = format!("/lts/groups/{gid}/streams/{sid}/tenant/contents");
    let (status, v) = lts_call(&d, Method::POST, &path, Some(json!({"log_time_ns": t, "contents": lines}))).await;
    assert_eq!(status, 200, "{v}");

    let bucket = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(&moto.url)
        .with_region("us-east-1")
        .with_bucket_name("logs-s3")
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .with_allow_http(true)
        .build()
        .unwrap();
    // Two periods later every window holding these logs is due.
    let report = d.daemon.as_ref().unwrap().export_dumps(now() as u64 + 2 * 120 + 10).await.unwrap();
    assert_eq!(report.failures, 0);
    assert!(!report.files.is_empty());
    let mut exported = Vec::new();
    for file in &report.files {
        let location = file.path.to_str().unwrap();
        let key = location.strip_prefix("s3://logs-s3/").expect("an object of the bucket");
        assert!(key.starts_with("exports/LogTanks/s3-group/s3-stream/"), "{key}");
        // Objects are private: read them with a signed client.
        let got = bucket.get(&object_store::path::Path::parse(key).unwrap()).await.unwrap();
        let body = String::from_utf8(got.bytes().await.unwrap().to_vec()).unwrap();
        assert_eq!(body.lines().count() as u64, file.lines);
        exported.extend(body.lines().map(str::to_string));
    }
    assert_eq!(exported, lines, "every line, in order, exactly once");
    // The same windows are not exported again.
    let again = d.daemon.as_ref().unwrap().export_dumps(now() as u64 + 2 * 120 + 10).await.unwrap();
    assert!(again.files.is_empty());
}
