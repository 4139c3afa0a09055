//! TLS on the listener (`server.tls_cert_file` / `tls_key_file`): a client that trusts the
//! certificate writes and reads back over TLS 1.2 and 1.3; plain HTTP on the TLS port gets no
//! answer; a client that stalls the handshake is cut off by the header-read timeout; a bad
//! configuration stops the daemon from starting instead of serving plain HTTP.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, crypto::aws_lc_rs, pki_types::ServerName, RootCertStore};

/// A self-signed certificate for 127.0.0.1 written as PEM files; returns its DER for clients.
fn write_cert(dir: &Path) -> rustls::pki_types::CertificateDer<'static> {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    cert.cert.der().clone()
}

fn tls_config(dir: &Path) -> String {
    format!(
        "header_read_timeout_secs = 1\ntls_cert_file = {:?}\ntls_key_file = {:?}\n",
        dir.join("cert.pem").display().to_string(),
        dir.join("key.pem").display().to_string()
    )
}

/// A client trusting `cert`, limited to one TLS version.
fn connector(
    cert: rustls::pki_types::CertificateDer<'static>,
    version: &'static rustls::SupportedProtocolVersion,
) -> tokio_rustls::TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// One HTTP/1.1 request over a fresh TLS connection; the whole answer as text.
async fn request(tls: &tokio_rustls::TlsConnector, d: &TestDaemon, head: &str, body: &[u8]) -> String {
    let tcp = TcpStream::connect(d.addr).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut s = tls.connect(name, tcp).await.expect("TLS handshake");
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_and_reads_go_over_tls_and_plain_http_or_a_stalled_handshake_is_cut_off() {
    let certs = tempfile::tempdir().unwrap();
    let cert = write_cert(certs.path());
    let d = TestDaemon::start(&tls_config(certs.path())).await;

    for (round, version) in [&rustls::version::TLS13, &rustls::version::TLS12].into_iter().enumerate() {
        let tls = connector(cert.clone(), version);
        let health = request(&tls, &d, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"").await;
        assert!(health.starts_with("HTTP/1.1 200"), "{health}");
        let body = group(&format!("tls{round}"), 3).encode_to_vec();
        let head = format!(
            "POST /logstores/secure/shards/lb HTTP/1.1\r\nHost: tls-proj.127.0.0.1\r\nx-log-apiversion: 0.6.0\r\n\
             x-log-bodyrawsize: {}\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\
             Connection: close\r\n\r\n",
            body.len(),
            body.len()
        );
        let answer = request(&tls, &d, &head, &body).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "PutLogs over {version:?}: {answer}");
        let cursor_head = "GET /logstores/secure/shards/0?type=cursor&from=begin HTTP/1.1\r\n\
                           Host: tls-proj.127.0.0.1\r\nx-log-apiversion: 0.6.0\r\nConnection: close\r\n\r\n";
        let cursor = request(&tls, &d, cursor_head, b"").await;
        assert!(cursor.starts_with("HTTP/1.1 200") && cursor.contains("\"cursor\""), "{cursor}");
    }

    // Plain HTTP to the TLS port: no HTTP answer, the connection is closed.
    let mut plain = TcpStream::connect(d.addr).await.unwrap();
    plain.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut answer)).await.unwrap();
    assert!(!answer.starts_with(b"HTTP/1.1 200"), "plain HTTP must not be served on the TLS port");

    // A client that connects and never finishes the handshake is closed by the header timeout.
    let mut stalled = TcpStream::connect(d.addr).await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(10), stalled.read(&mut buf)).await.unwrap().unwrap_or(0);
    assert_eq!(n, 0, "the server closes a silent connection without answering");
    assert!(started.elapsed() >= Duration::from_millis(900), "not before the timeout: {:?}", started.elapsed());

    // Both writes are stored (read back over plain HTTP by the same data dir without TLS).
    let d = TestDaemon::start_in(d.stop().await, "").await;
    let stored = d.pull_all("tls-proj", "secure").await;
    assert_eq!(stored.len(), 2);
    d.stop().await;
}

#[tokio::test]
async fn a_tls_configuration_that_cannot_work_stops_the_start() {
    let certs = tempfile::tempdir().unwrap();
    write_cert(certs.path());
    let only_cert = logtide::config::Config::from_toml(&format!(
        "[server]\ntls_cert_file = {:?}\n",
        certs.path().join("cert.pem").display().to_string()
    ))
    .unwrap();
    assert!(only_cert.problems().iter().any(|p| p.contains("tls_key_file")), "{:?}", only_cert.problems());

    // The key of another certificate, and a file that is not PEM.
    let other = tempfile::tempdir().unwrap();
    write_cert(other.path());
    std::fs::copy(other.path().join("key.pem"), certs.path().join("key.pem")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let start = |extra: String| {
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = {:?}\n{extra}",
            data.path().join("data").display().to_string()
        );
        logtide::Daemon::start(logtide::config::Config::from_toml(&text).unwrap())
    };
    let mismatch = start(tls_config(certs.path())).await.err().expect("a key of another certificate is refused");
    assert!(format!("{mismatch:#}").contains("do not fit together"), "{mismatch:#}");
    std::fs::write(certs.path().join("cert.pem"), "not a certificate").unwrap();
    let garbage = start(tls_config(certs.path())).await.err().expect("a file without a certificate is refused");
    assert!(format!("{garbage:#}").contains("cert.pem"), "{garbage:#}");
}
