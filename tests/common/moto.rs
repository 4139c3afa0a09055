//! moto_server, the S3-compatible server of the tests: installed by `scripts/moto-env` (found
//! through `LOGTIDE_MOTO_SERVER`, else its default virtualenv), started on a free loopback port and
//! killed on drop. A missing moto_server fails the test: it is never skipped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_server_path() -> std::path::PathBuf {
    if let Ok(path) = std::env::var("LOGTIDE_MOTO_SERVER") {
        return path.into();
    }
    let default =
        std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/logtide-moto-venv/bin/moto_server");
    assert!(
        default.exists(),
        "moto_server is missing: run scripts/moto-env (scripts/test does) or set LOGTIDE_MOTO_SERVER"
    );
    default
}

/// Starts moto_server and waits until it answers.
pub async fn start() -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(moto_server_path())
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let moto = Moto { child, url: format!("http://127.0.0.1:{port}") };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if reqwest::get(format!("{}/", moto.url)).await.is_ok() {
            return moto;
        }
        assert!(Instant::now() < deadline, "moto_server did not answer within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Moto {
    /// Creates a bucket.
    pub async fn create_bucket(&self, name: &str) {
        let r = reqwest::Client::new().put(format!("{}/{name}", self.url)).send().await.unwrap();
        assert!(r.status().is_success(), "create bucket {name}: {}", r.status());
    }
}
