//! LTS log dumps (`/v2/{project_id}/log-dump/obs`, lts.md §3.5) through real HTTP: dumps are
//! created, listed and deleted over the LTS API, logs are reported over the LTS API, and export
//! passes are run with an injected clock (`Daemon::export_dumps`). Every exported line is checked
//! against what was reported, files are where the layout says, and neither a second pass nor a
//! restart exports a window twice. Bad requests create nothing.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

const NS: u64 = 1_000_000_000;

/// A daemon whose dump root is `root` and whose background export is off (tests drive the clock).
async fn start(dir: tempfile::TempDir, root: &Path) -> TestDaemon {
    let toml = format!("[dump]\nroot = {:?}\ncheck_interval_secs = 0\n", root.display().to_string());
    TestDaemon::start_in(dir, &toml).await
}

async fn create_group_and_streams(d: &TestDaemon, group: &str, streams: &[&str]) -> (String, Vec<String>) {
    let (status, v) =
        lts_call(d, Method::POST, "/groups", Some(json!({"log_group_name": group, "ttl_in_days": 7}))).await;
    assert_eq!(status, 201, "{v}");
    let gid = v["log_group_id"].as_str().unwrap().to_string();
    let mut ids = Vec::new();
    for s in streams {
        let (status, v) =
            lts_call(d, Method::POST, &format!("/groups/{gid}/streams"), Some(json!({"log_stream_name": s}))).await;
        assert_eq!(status, 201, "{v}");
        ids.push(v["log_stream_id"].as_str().unwrap().to_string());
    }
    (gid, ids)
}

fn dump_body(group: &str, streams: &[&str], bucket: &str, extra: Value) -> Value {
    let mut v = json!({
        "log_group_id": group,
        "log_stream_ids": streams,
        "obs_bucket_name": bucket,
        "type": "cycle",
        "storage_format": "RAW",
        "switch_on": true,
        "prefix_name": "",
        "dir_prefix_name": "",
        "period": 2,
        "period_unit": "min",
    });
    for (k, val) in extra.as_object().unwrap() {
        v[k] = val.clone();
    }
    v
}

/// Reports `lines` at `log_time_ns` (line i at +i ns) with `labels`; returns the base time.
async fn report(d: &TestDaemon, group: &str, stream: &str, lines: &[String], labels: Value) -> u64 {
    let t = now() as u64 * NS;
    let body = json!({"log_time_ns": t, "contents": lines, "labels": labels});
    let path = format!("/lts/groups/{group}/streams/{stream}/tenant/contents");
    let (status, v) = lts_call(d, Method::POST, &path, Some(body)).await;
    assert_eq!(status, 200, "{v}");
    t
}

/// Every file under `dir`, relative to it, sorted (window stamps sort chronologically).
fn files(dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

/// Path and content of every file under `dir`.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    files(dir).into_iter().map(|f| (f.clone(), std::fs::read_to_string(dir.join(&f)).unwrap())).collect()
}

/// The relative path the layout gives a window starting at `start` (unix seconds).
fn layout(dir_prefix: &str, group: &str, stream: &str, prefix: &str, start: u64, period: u64, ext: &str) -> PathBuf {
    let s = time::OffsetDateTime::from_unix_timestamp(start as i64).unwrap();
    let e = time::OffsetDateTime::from_unix_timestamp((start + period) as i64).unwrap();
    let (y, m, day) = (s.year(), u8::from(s.month()), s.day());
    let name =
        format!("{prefix}{y:04}{m:02}{day:02}{:02}{:02}_{:02}{:02}.{ext}", s.hour(), s.minute(), e.hour(), e.minute());
    let mut p = PathBuf::from(dir_prefix);
    p.push(format!("LogTanks/{group}/{stream}/{y:04}/{m:02}/{day:02}/{name}"));
    p
}

/// The lines of every file, in file order.
fn all_lines(snap: &BTreeMap<PathBuf, String>) -> Vec<String> {
    snap.values()
        .flat_map(|text| {
            assert!(text.ends_with('\n'), "every line ends with a line feed");
            text.lines().map(str::to_string).collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn every_line_is_exported_once_across_passes_and_restarts() {
    let roots = tempfile::tempdir().unwrap();
    let root = roots.path().join("dumps");
    let (raw_bucket, json_bucket) = (root.join("raw-bucket"), root.join("json-bucket"));
    std::fs::create_dir_all(&raw_bucket).unwrap();
    std::fs::create_dir_all(&json_bucket).unwrap();
    let d = start(tempfile::tempdir().unwrap(), &root).await;
    let (gid, sids) = create_group_and_streams(&d, "dump-group", &["raw-stream", "json-stream"]).await;

    let raw = dump_body(&gid, &[&sids[0]], "raw-bucket", json!({"prefix_name": "app-", "dir_prefix_name": "team/x/"}));
    let (status, v) = lts_call(&d, Method::POST, "/log-dump/obs", Some(raw)).await;
    assert_eq!(status, 201, "{v}");
    let raw_id = v["log_dump_obs_id"].as_str().unwrap().to_string();
    let json_dump = dump_body(&gid, &[&sids[1]], "json-bucket", json!({"storage_format": "JSON", "period": 5}));
    let (status, v) = lts_call(&d, Method::POST, "/log-dump/obs", Some(json_dump)).await;
    assert_eq!(status, 201, "{v}");
    let json_id = v["log_dump_obs_id"].as_str().unwrap().to_string();

    // Listed with their options, names and the transfer path.
    let (status, list) = lts_call(&d, Method::GET, "/log-dump/obs", None).await;
    assert_eq!((status, list["total"].as_u64()), (200, Some(2)), "{list}");
    let listed =
        list["log_dumps"].as_array().unwrap().iter().find(|x| x["log_dump_obs_id"] == raw_id.as_str()).unwrap();
    assert_eq!(listed["log_group_name"], "dump-group");
    assert_eq!(listed["log_streams"], json!([{"log_stream_id": sids[0], "log_stream_name": "raw-stream"}]));
    assert_eq!(listed["obs_transfer_path"], "/raw-bucket/team/x/LogTanks/dump-group/");
    assert_eq!((listed["period"].as_u64(), listed["period_unit"].as_str()), (Some(2), Some("min")));
    assert_eq!((listed["storage_format"].as_str(), listed["switch_on"].as_bool()), (Some("RAW"), Some(true)));

    let before = now() as u64;
    let batches: Vec<Vec<String>> = vec![
        vec!["plain line".into(), "with\nnewline and \\ backslash\r".into(), "unicode ✓ héllo".into()],
        vec!["second request".into(), "k=v x=y".into()],
    ];
    let mut sent_raw = Vec::new();
    let mut sent_json = Vec::new();
    for (i, batch) in batches.iter().enumerate() {
        let labels = json!({"host": format!("h{i}"), "app": "dumper"});
        report(&d, &gid, &sids[0], batch, labels.clone()).await;
        let t = report(&d, &gid, &sids[1], batch, labels.clone()).await;
        sent_raw.extend(batch.iter().map(|l| l.replace('\\', "\\\\").replace('\n', "\\n").replace('\r', "\\r")));
        sent_json.extend(batch.iter().enumerate().map(|(j, l)| (l.clone(), labels.clone(), t + j as u64)));
    }
    let after = now() as u64;

    // A pass at the real clock: whatever already ended (usually nothing of these logs).
    let first = d.daemon.as_ref().unwrap().export_dumps(now() as u64).await.unwrap();
    assert_eq!(first.failures, 0);
    let dir = d.stop().await;

    // Restart, then a pass once every window holding the reports has ended.
    let d = start(dir, &root).await;
    // 600 s is a multiple of both periods: every window holding a report has ended by then.
    let t1 = (after / 600 + 1) * 600 + 10;
    let second = d.daemon.as_ref().unwrap().export_dumps(t1).await.unwrap();
    assert_eq!(second.failures, 0);
    assert!(!first.files.is_empty() || !second.files.is_empty());

    let raw_files = snapshot(&raw_bucket);
    assert_eq!(all_lines(&raw_files), sent_raw, "RAW: every line once, in arrival order, escaped");
    for path in raw_files.keys() {
        let ok = (before / 120 * 120..=after)
            .step_by(120)
            .any(|start| *path == layout("team/x", "dump-group", "raw-stream", "app-", start, 120, "log"));
        assert!(ok, "{} follows the layout of a window holding the reports", path.display());
    }
    let json_files = snapshot(&json_bucket);
    for path in json_files.keys() {
        let ok = (before / 300 * 300..=after)
            .step_by(300)
            .any(|start| *path == layout("", "dump-group", "json-stream", "", start, 300, "json"));
        assert!(ok, "{} follows the layout", path.display());
    }
    let got: Vec<Value> = all_lines(&json_files).iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(got.len(), sent_json.len());
    for (line, (content, labels, time_ns)) in got.iter().zip(&sent_json) {
        assert_eq!(line["content"], json!(content));
        assert_eq!(line["fields"], json!({"content": content}));
        assert_eq!(&line["labels"], labels);
        assert_eq!(line["__time__"].as_u64(), Some(time_ns / NS));
        assert_eq!(line["__time_ns_part__"].as_u64(), Some(time_ns % NS));
        let received = line["__receive_time__"].as_u64().unwrap();
        assert!((before..=after).contains(&received), "{line}");
    }
    let everything = snapshot(&root);
    assert!(everything.keys().all(|p| !p.to_string_lossy().contains(".tmp")), "no temp file is left");

    // The same pass again, and a later one, write nothing.
    let again = d.daemon.as_ref().unwrap().export_dumps(t1).await.unwrap();
    assert!(again.files.is_empty() && again.windows == 0, "{again:?}");
    let later = d.daemon.as_ref().unwrap().export_dumps(t1 + 3600).await.unwrap();
    assert!(later.files.is_empty() && later.windows > 0, "{later:?}");
    assert_eq!(snapshot(&root), everything);

    // Progress survives a second restart: nothing is exported twice.
    let dir = d.stop().await;
    let d = start(dir, &root).await;
    let (_, list) = lts_call(&d, Method::GET, "/log-dump/obs", None).await;
    for dump in list["log_dumps"].as_array().unwrap() {
        let period = dump_period(dump);
        assert_eq!(dump["exported_until"].as_u64().unwrap() / 1000, (t1 + 3600 - 5) / period * period);
    }
    let after_restart = d.daemon.as_ref().unwrap().export_dumps(t1 + 3600).await.unwrap();
    assert!(after_restart.files.is_empty() && after_restart.windows == 0, "{after_restart:?}");
    assert_eq!(snapshot(&root), everything);

    // A dump in use guards its group and streams; once deleted, they can go. Files stay.
    let (status, v) = lts_call(&d, Method::DELETE, &format!("/groups/{gid}/streams/{}", sids[0]), None).await;
    assert_eq!((status, lts_code(&v)), (400, "LTS.0207"), "{v}");
    let (status, v) = lts_call(&d, Method::DELETE, &format!("/groups/{gid}"), None).await;
    assert_eq!((status, lts_code(&v)), (400, "LTS.0105"), "{v}");
    let sls = d.req(Method::DELETE, "dump-group", "/logstores/json-stream").send().await.unwrap();
    assert_eq!(error_code(sls).await, (400, "ParameterInvalid".to_string()), "SLS deletes are refused too");
    let (status, v) = lts_call(&d, Method::DELETE, &format!("/log-dump/obs/{raw_id}"), None).await;
    assert_eq!((status, v["log_dump_obs_id"].as_str()), (200, Some(raw_id.as_str())), "{v}");
    let (status, v) = lts_call(&d, Method::DELETE, &format!("/log-dump/obs/{raw_id}"), None).await;
    assert_eq!((status, lts_code(&v)), (400, "LTS.0405"), "{v}");
    let (status, _) = lts_call(&d, Method::DELETE, &format!("/groups/{gid}/streams/{}", sids[0]), None).await;
    assert_eq!(status, 204);
    let (status, v) = lts_call(&d, Method::DELETE, &format!("/groups/{gid}"), None).await;
    assert_eq!((status, lts_code(&v)), (400, "LTS.0105"), "the JSON dump still uses the group");
    let (status, _) = lts_call(&d, Method::DELETE, &format!("/log-dump/obs?log_dump_obs_id={json_id}"), None).await;
    assert_eq!(status, 200);
    let (status, _) = lts_call(&d, Method::DELETE, &format!("/groups/{gid}"), None).await;
    assert_eq!(status, 204);
    let (_, list) = lts_call(&d, Method::GET, "/log-dump/obs", None).await;
    assert_eq!(list, json!({"log_dumps": [], "total": 0}));
    assert_eq!(snapshot(&root), everything, "deleting a dump keeps its files");
    d.stop().await;
}

fn dump_period(dump: &Value) -> u64 {
    let unit = if dump["period_unit"] == "hour" { 3600 } else { 60 };
    dump["period"].as_u64().unwrap() * unit
}

#[tokio::test]
async fn bad_dumps_are_refused_with_their_codes_and_create_nothing() {
    let roots = tempfile::tempdir().unwrap();
    let root = roots.path().join("dumps");
    std::fs::create_dir_all(root.join("bucket")).unwrap();
    std::fs::create_dir_all(roots.path().join("outside")).unwrap();
    let d = start(tempfile::tempdir().unwrap(), &root).await;
    let (gid, sids) = create_group_and_streams(&d, "grp", &["s1", "s2"]).await;
    let (other_gid, other_sids) = create_group_and_streams(&d, "other", &["s3"]).await;
    let unknown = "9b5a1a4c-0000-4000-8000-000000000000";

    let create = |body: Value| {
        let d = &d;
        async move { lts_call(d, Method::POST, "/log-dump/obs", Some(body)).await }
    };
    let cases: Vec<(Value, &str)> = vec![
        (dump_body(unknown, &[&sids[0]], "bucket", json!({})), "LTS.0201"),
        (dump_body(&gid, &[unknown], "bucket", json!({})), "LTS.0208"),
        (dump_body(&gid, &[&other_sids[0]], "bucket", json!({})), "LTS.0208"),
        (dump_body(&gid, &[&sids[0]], "nope", json!({})), "LTS.0416"),
        (dump_body(&gid, &[&sids[0]], "bucket", json!({"period": 10})), "LTS.1901"),
        (dump_body(&gid, &[&sids[0]], "bucket", json!({"period_unit": "day"})), "LTS.1901"),
        (dump_body(&gid, &[&sids[0]], "bucket", json!({"storage_format": "CSV"})), "LTS.1901"),
        (dump_body(&gid, &[&sids[0]], "bucket", json!({"type": "realTime"})), "LTS.1901"),
        (dump_body(&gid, &[&sids[0]], "../outside", json!({})), "LTS.0009"),
        (dump_body(&gid, &[], "bucket", json!({})), "LTS.0009"),
    ];
    for (body, expected) in cases {
        let (status, v) = create(body.clone()).await;
        assert_eq!((status, lts_code(&v)), (400, expected), "{body} → {v}");
    }
    let (_, v) = create(dump_body(&gid, &[&sids[0]], "nope", json!({}))).await;
    assert_eq!(v["error_msg"], "obs bucket does not exist: nope");
    let (_, v) = create(dump_body(&gid, &[&sids[0]], "bucket", json!({"period": 4, "period_unit": "hour"}))).await;
    assert_eq!(
        v["error_msg"],
        "period+period_unit is not in the list [2min, 5min, 30min, 1hour, 3hour, 6hour, 12hour]"
    );
    for bad in ["../x", "/abs", "a/../../b", "a\\b", "..", "a/./b", "x\u{0}y"] {
        for field in ["prefix_name", "dir_prefix_name"] {
            let (status, v) = create(dump_body(&gid, &[&sids[0]], "bucket", json!({ field: bad }))).await;
            assert_eq!((status, lts_code(&v)), (400, "LTS.1902"), "{field} {bad:?} → {v}");
            assert_eq!(v["error_msg"], format!("{field} is invalid, please verify if it's provided as required"));
        }
    }
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(roots.path().join("outside"), root.join("escape")).unwrap();
        let (status, v) = create(dump_body(&gid, &[&sids[0]], "escape", json!({}))).await;
        assert_eq!((status, lts_code(&v)), (400, "LTS.0416"), "a bucket linking out of the root does not exist");
        std::fs::remove_file(root.join("escape")).unwrap();
    }
    let (_, list) = lts_call(&d, Method::GET, "/log-dump/obs", None).await;
    assert_eq!(list, json!({"log_dumps": [], "total": 0}), "nothing was created");

    // One dump per stream; the by-name form of the ids works like everywhere in LTS.
    let (status, _) = create(dump_body(&gid, &[&sids[0]], "bucket", json!({}))).await;
    assert_eq!(status, 201);
    let (status, v) = create(dump_body("grp", &["s2", "s1"], "bucket", json!({}))).await;
    assert_eq!((status, lts_code(&v)), (400, "LTS.0207"), "{v}");
    let (status, _) = create(dump_body(&other_gid, &[&other_sids[0]], "bucket", json!({"switch_on": "false"}))).await;
    assert_eq!(status, 201);
    let (_, list) = lts_call(&d, Method::GET, "/log-dump/obs", None).await;
    assert_eq!(list["total"], 2);

    for (path, expected) in [
        ("/log-dump/obs/not-a-uuid".to_string(), "LTS.0009"),
        ("/log-dump/obs".to_string(), "LTS.0009"),
        (format!("/log-dump/obs/{unknown}"), "LTS.0405"),
    ] {
        let (status, v) = lts_call(&d, Method::DELETE, &path, None).await;
        assert_eq!((status, lts_code(&v)), (400, expected), "{path} → {v}");
    }

    // Nothing exported anywhere: a pass far ahead finds no logs, and writes no file.
    let report = d.daemon.as_ref().unwrap().export_dumps(now() as u64 + 7200).await.unwrap();
    assert!(report.files.is_empty() && report.failures == 0, "{report:?}");
    assert_eq!(files(&root), Vec::<PathBuf>::new());
    d.stop().await;
}
