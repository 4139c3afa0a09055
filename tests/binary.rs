//! Black-box test of the `logtide` binary: start it, write through HTTP, stop it with SIGTERM
//! (it must exit 0), start it again on the same data dir, and read the data back.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use logtide::wire::pb::{log::Content, Log, LogGroup, LogGroupList};
use prost::Message;

struct Running {
    child: Child,
    addr: String,
}

fn start(data_dir: &std::path::Path) -> Running {
    start_with(data_dir, "warn", Stdio::inherit())
}

fn start_with(data_dir: &std::path::Path, level: &str, stderr: Stdio) -> Running {
    let (child, addr) = common::spawn_binary(
        Command::new(env!("CARGO_BIN_EXE_logtide"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("LOGTIDE_LOG", level)
            .stderr(stderr),
    );
    Running { child, addr: addr.to_string() }
}

fn sigterm_and_wait(mut r: Running) {
    let status = Command::new("kill").args(["-TERM", &r.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = r.child.try_wait().unwrap() {
            assert!(status.success(), "logtide exited with {status} after SIGTERM");
            return;
        }
        assert!(Instant::now() < deadline, "logtide did not exit within 30 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn http(addr: &str) -> reqwest::blocking::Client {
    let _ = addr;
    reqwest::blocking::Client::new()
}

#[test]
fn sigterm_then_restart_keeps_acknowledged_data() {
    let dir = tempfile::tempdir().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32;
    let groups: Vec<LogGroup> = (0..20)
        .map(|i| LogGroup {
            logs: vec![Log {
                time: now,
                contents: vec![Content { key: "i".into(), value: i.to_string() }],
                time_ns: Some(7),
            }],
            topic: Some("bin".into()),
            ..Default::default()
        })
        .collect();

    let first = start(dir.path());
    let client = http(&first.addr);
    let health = client.get(format!("http://{}/health", first.addr)).send().unwrap();
    assert_eq!(health.status(), 200);
    for g in &groups {
        let raw = g.encode_to_vec();
        let r = client
            .post(format!("http://{}/logstores/bin_store/shards/lb", first.addr))
            .header("host", "binproj.127.0.0.1")
            .header("x-log-compresstype", "lz4")
            .header("x-log-bodyrawsize", raw.len().to_string())
            .body(lz4_flex::block::compress(&raw))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    sigterm_and_wait(first);

    let second = start(dir.path());
    let client = http(&second.addr);
    let shards: Vec<serde_json::Value> = client
        .get(format!("http://{}/logstores/bin_store/shards", second.addr))
        .header("host", "binproj.127.0.0.1")
        .send()
        .unwrap()
        .json()
        .unwrap();
    let mut back = Vec::new();
    for s in shards {
        let id = s["shardID"].as_u64().unwrap();
        let base = format!("http://{}/logstores/bin_store/shards/{id}", second.addr);
        let c: serde_json::Value = client
            .get(format!("{base}?type=cursor&from=begin"))
            .header("host", "binproj.127.0.0.1")
            .send()
            .unwrap()
            .json()
            .unwrap();
        let cursor = c["cursor"].as_str().unwrap();
        let r = client
            .get(format!("{base}?type=logs&count=1000&cursor={}", cursor.replace('=', "%3D")))
            .header("host", "binproj.127.0.0.1")
            .send()
            .unwrap();
        assert!(r.headers().get("x-log-compresstype").is_none(), "no Accept-Encoding: uncompressed body");
        back.extend(LogGroupList::decode(r.bytes().unwrap()).unwrap().log_groups);
    }
    sigterm_and_wait(second);
    back.sort_by_key(|g| g.logs[0].contents[0].value.parse::<u32>().unwrap());
    assert_eq!(back, groups);
}

#[test]
fn check_config_accepts_the_shipped_file_and_lists_every_problem() {
    let bin = env!("CARGO_BIN_EXE_logtide");
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/dist/logtide.toml");
    let ok = Command::new(bin).args(["check-config", shipped]).output().unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[server]\nlisten = \"0.0.0.0:7480\"\n[limits]\nmax_logs = 0\n").unwrap();
    let out = Command::new(bin).arg("check-config").arg(&bad).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2 problem(s)"), "{err}");
    assert!(err.contains("max_logs") && err.contains("allow_anonymous"), "{err}");

    // serve refuses the same file before touching the data dir.
    let refused = Command::new(bin).args(["serve", "--config"]).arg(&bad).output().unwrap();
    assert!(!refused.status.success());
}

/// Logging must never take the daemon down: with stderr on `/dev/full` every log line fails with
/// ENOSPC (as when the disk under a log file fills up), and the daemon keeps serving.
#[test]
fn a_log_that_cannot_be_written_does_not_stop_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
    let r = start_with(dir.path(), "debug", Stdio::from(full));
    let client = http(&r.addr);
    for _ in 0..20 {
        // Debug level: every request writes log lines, and each write fails.
        let ok = client.get(format!("http://{}/health", r.addr)).send().unwrap();
        assert_eq!(ok.status(), 200);
        let refused = client.get(format!("http://{}/logstores/nope/shards", r.addr)).send().unwrap();
        assert_eq!(refused.status(), 404);
    }
    sigterm_and_wait(r);
}

/// Acknowledged writes held only in the WAL (the daemon SIGKILLed), then four bytes of the WAL
/// changed in the middle: the daemon refuses to start and says so, rather than opening and
/// dropping everything after the damage (RocksDB's default).
#[test]
fn a_damaged_wal_stops_the_start_instead_of_dropping_acknowledged_writes() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = start(dir.path());
    let client = http(&first.addr);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32;
    // Values that do not compress (the worker stores LZ4), so the WAL holds ~200 KB.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut noise = || {
        (0..1000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                char::from(b'!' + (seed % 90) as u8)
            })
            .collect::<String>()
    };
    for i in 0..200 {
        let group = LogGroup {
            logs: vec![Log {
                time: now,
                contents: vec![Content { key: "pad".into(), value: format!("{i}-{}", noise()) }],
                time_ns: None,
            }],
            ..Default::default()
        };
        let r = client
            .post(format!("http://{}/logstores/wal_store/shards/lb", first.addr))
            .header("host", "walproj.127.0.0.1")
            .header("x-log-bodyrawsize", "0")
            .body(group.encode_to_vec())
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    let wal = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .expect("a WAL file");
    let mut bytes = std::fs::read(&wal).unwrap();
    assert!(bytes.len() > 150_000, "the writes are in the WAL");
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 4] {
        *b ^= 0xff;
    }
    std::fs::write(&wal, bytes).unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_logtide"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("LOGTIDE_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a damaged WAL must not open; stdout: {}", String::from_utf8_lossy(&out.stdout));
    assert!(stderr.contains("is damaged") && stderr.contains("Corruption"), "{stderr}");
}
