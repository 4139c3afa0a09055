//! A full disk: with the data dir on a small tmpfs this test mounts, writes fill it until the
//! store refuses them; every refusal is the retryable 503 `StorageFull` (never a 500, never a 200
//! for a write that was not stored), the daemon stays up and serves reads, and once space is freed
//! writes resume without a restart. Nothing acknowledged is lost, before or after.
//!
//! Mounting needs root, which CI has. Without it the test fails with a message saying so: it is
//! never skipped silently.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use logtide::wire::pb::{log::Content, Log, LogGroup};
use rand::RngCore;

/// A tmpfs mounted for the test's lifetime.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, bytes: u64) -> Tmpfs {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs and needs root (CI runs as root): mount failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A LogGroup of `n` logs with random (barely compressible) values, tagged with its request id.
fn noisy_group(request: usize, n: usize) -> LogGroup {
    let mut rng = rand::rng();
    let logs = (0..n)
        .map(|i| {
            let mut raw = [0u8; 600];
            rng.fill_bytes(&mut raw);
            Log {
                time: now(),
                contents: vec![
                    Content { key: "req".into(), value: request.to_string() },
                    Content { key: "i".into(), value: i.to_string() },
                    Content { key: "noise".into(), value: base64::engine::general_purpose::STANDARD.encode(raw) },
                ],
                time_ns: None,
            }
        })
        .collect();
    LogGroup { logs, ..Default::default() }
}

/// The request ids stored in the logstore, one entry per stored group.
async fn stored_requests(d: &TestDaemon) -> Vec<usize> {
    let mut ids: Vec<usize> = d
        .pull_all("diskfull", "full-store")
        .await
        .iter()
        .map(|(_, g)| {
            let req = &g.logs[0].contents[0];
            assert_eq!(req.key, "req");
            assert_eq!(g.logs.len(), 64, "a request is stored whole or not at all");
            req.value.parse().unwrap()
        })
        .collect();
    ids.sort_unstable();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_retryably_and_writing_resumes_once_space_is_freed() {
    let dir = tempfile::tempdir().unwrap();
    let mount = Tmpfs::mount(dir.path(), 96 << 20);
    // Space that the test frees later: the store fills the rest.
    let filler = dir.path().join("filler");
    std::fs::write(&filler, vec![1u8; 40 << 20]).unwrap();
    let d = TestDaemon::start_in(
        dir,
        "[storage]\nmemtable_budget_bytes = 8388608\nshard_workers = 1\nretention_interval_secs = 0\n",
    )
    .await;
    d.create_project("diskfull").await;
    d.create_logstore("diskfull", "full-store", 1).await;

    // Fill the disk.
    let mut acked = Vec::new();
    let mut first_refusal = None;
    let mut request = 0;
    let started = Instant::now();
    while first_refusal.is_none() {
        assert!(started.elapsed() < Duration::from_secs(120), "the disk never filled");
        request += 1;
        let r = d.put_lz4("diskfull", "full-store", &noisy_group(request, 64)).await;
        match r.status().as_u16() {
            200 => acked.push(request),
            _ => first_refusal = Some(error_code(r).await),
        }
    }
    assert!(acked.len() > 20, "only {} writes fit before the disk was full", acked.len());
    assert_eq!(first_refusal, Some((503, "StorageFull".to_string())), "a full disk is a retryable 503");

    // While it is full: every write is refused the same way, nothing of them is stored, and the
    // daemon stays up and serves reads.
    for _ in 0..5 {
        request += 1;
        let r = d.put_lz4("diskfull", "full-store", &noisy_group(request, 64)).await;
        assert_eq!(r.headers().get("retry-after").map(|v| v.as_bytes().to_vec()), Some(b"1".to_vec()));
        assert_eq!(error_code(r).await, (503, "StorageFull".to_string()));
    }
    let health = d.http.get(d.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200, "the daemon stays up with a full disk");
    assert_eq!(stored_requests(&d).await, acked, "exactly the acknowledged writes are readable while the disk is full");

    // Free the space: writes resume without a restart.
    std::fs::remove_file(&filler).unwrap();
    let freed = Instant::now();
    loop {
        request += 1;
        let r = d.put_lz4("diskfull", "full-store", &noisy_group(request, 64)).await;
        if r.status() == 200 {
            acked.push(request);
            break;
        }
        assert_eq!(error_code(r).await, (503, "StorageFull".to_string()));
        assert!(freed.elapsed() < Duration::from_secs(30), "writes did not resume within 30 s of freeing space");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!("writes resumed {:?} after space was freed", freed.elapsed());
    for _ in 0..10 {
        request += 1;
        let r = d.put_lz4("diskfull", "full-store", &noisy_group(request, 64)).await;
        assert_eq!(r.status(), 200, "{:?}", error_code(r).await);
        acked.push(request);
    }
    assert_eq!(stored_requests(&d).await, acked);

    // A clean stop flushes, and a restart on the same data finds every acknowledged write.
    let dir = d.stop().await;
    let d =
        TestDaemon::start_in(dir, "[storage]\nmemtable_budget_bytes = 8388608\nretention_interval_secs = 0\n").await;
    assert_eq!(stored_requests(&d).await, acked, "after a restart");
    let dir = d.stop().await;
    drop(mount);
    drop(dir);
}
