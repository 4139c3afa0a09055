//! `ceiling_server`: the ceiling that the daemon's write path is measured against (issue 5).
//!
//! A minimal hyper 1 HTTP/1.1 server that does for a PutLogs only the work that cannot be avoided,
//! so that `scripts/bench-report` can load it with the same generator, batches and core as the
//! daemon in the same run and print the daemon's figure as a ratio of it. It is the "probe" of
//! section 3.5 of `perf-anchors.md`, as a program in the repository. Modes (`--mode`):
//! - `null`: read the whole body and drop it (HTTP framing and body collection alone);
//! - `validate`: also decompress the body into a reused per-thread buffer (LZ4, raw size from
//!   `x-log-bodyrawsize`) and check it with the daemon's own in-place validator,
//!   `logtide::wire::loggroup::validate_log_group`; 400 when it fails;
//! - `store`: also put the block as received into RocksDB (`put_cf`, WAL on, no fsync unless
//!   `--sync`) under a sequential u64 key in one of two column families, round-robin, on
//!   `spawn_blocking`; 200 once the put has returned.
//!
//! There is no catalog, authentication, routing, shard queue or group commit: the gap between the
//! daemon and this program is what those cost. A POST whose path ends in `/shards/lb` or contains
//! `/shards/route` is a PutLogs; any other request (a load generator creating its project and
//! logstore first) is answered 200 `{}`. Every response carries `x-log-requestid`.
//!
//! ```text
//! ceiling_server --mode null|validate|store [--listen ADDR] [--threads N] [--data DIR] [--sync]
//! ```
//! `--listen` defaults to `127.0.0.1:0`, `--threads` (tokio workers) to 1; `--data` (store mode
//! only) must be a fresh or empty directory. The first stdout line is `listening on ADDR`.
//! SIGTERM or SIGINT stops accepting, lets in-flight requests finish (5 s at most), flushes the
//! column families and exits 0.
//!
//! How bench-report runs it: `cargo bench --bench ceiling_server --no-run --message-format=json`
//! builds it in release; the `compiler-artifact` message whose `target.name` is `ceiling_server`
//! gives the path in its `executable` field. Then
//! `taskset -c 0 EXE --mode store --listen 127.0.0.1:PORT --data DIR` (the daemon's core), read the
//! `listening on` line, load it from core 1, and SIGTERM it.
//!
//! With no argument, or only `--bench` (how `cargo test --all-targets` and `cargo bench` run a
//! `harness = false` target), it runs a self-check instead: each mode on port 0, a valid LZ4 batch
//! answered 200, garbage answered 400 (validate, store), the stored block read back byte for byte.

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::HeaderMap;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use logtide::error::ApiError;
use logtide::validate::Limits;
use logtide::wire::compress::{decompress_into, Compression};
use logtide::wire::loggroup::validate_log_group;
use rocksdb::{ColumnFamilyDescriptor, DBCompressionType, Options, WriteOptions, DB};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

const USAGE: &str =
    "usage: ceiling_server --mode null|validate|store [--listen ADDR] [--threads N] [--data DIR] [--sync]";
/// Stored blocks go round-robin into these column families.
const COLUMN_FAMILIES: [&str; 2] = ["ceiling0", "ceiling1"];
/// How long in-flight requests may run after a shutdown signal.
const DRAIN_DEADLINE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Null,
    Validate,
    Store,
}

#[derive(Debug)]
struct Config {
    mode: Mode,
    listen: SocketAddr,
    threads: usize,
    data: Option<PathBuf>,
    sync: bool,
}

fn parse_args(args: &[String]) -> anyhow::Result<Config> {
    let mut config = Config { mode: Mode::Null, listen: "127.0.0.1:0".parse()?, threads: 1, data: None, sync: false };
    let mut mode = None;
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--mode" => {
                mode = Some(match value()?.as_str() {
                    "null" => Mode::Null,
                    "validate" => Mode::Validate,
                    "store" => Mode::Store,
                    other => bail!("unknown mode {other:?}"),
                })
            }
            "--listen" => config.listen = value()?.parse().context("--listen takes HOST:PORT")?,
            "--threads" => config.threads = value()?.parse().context("--threads takes a number")?,
            "--data" => config.data = Some(PathBuf::from(value()?)),
            "--sync" => config.sync = true,
            other => bail!("unknown argument {other:?}"),
        }
    }
    config.mode = mode.context("--mode is required")?;
    if config.threads == 0 {
        bail!("--threads must be at least 1");
    }
    if (config.mode == Mode::Store) != config.data.is_some() {
        bail!("--data DIR is required in store mode and only there");
    }
    Ok(config)
}

/// The RocksDB side of store mode.
struct Store {
    db: DB,
    write_options: WriteOptions,
    next_key: AtomicU64,
}

impl Store {
    fn open(dir: &Path, sync: bool) -> anyhow::Result<Store> {
        if dir.read_dir().is_ok_and(|mut entries| entries.next().is_some()) {
            bail!("--data {} is not empty; give a fresh directory so runs compare", dir.display());
        }
        let mut db_options = Options::default();
        db_options.create_if_missing(true);
        db_options.create_missing_column_families(true);
        let db = DB::open_cf_descriptors(&db_options, dir, column_family_descriptors())
            .with_context(|| format!("open RocksDB in {}", dir.display()))?;
        let mut write_options = WriteOptions::default();
        write_options.set_sync(sync);
        Ok(Store { db, write_options, next_key: AtomicU64::new(0) })
    }

    /// Puts `block` under the next key; blocking.
    fn put(&self, block: &[u8]) -> Result<u64, rocksdb::Error> {
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let cf = self.db.cf_handle(column_family_of(key)).expect("the store was opened with every column family");
        self.db.put_cf_opt(&cf, key.to_be_bytes(), block, &self.write_options)?;
        Ok(key)
    }

    /// Flushes every memtable; blocking.
    fn flush(&self) -> Result<(), rocksdb::Error> {
        for name in COLUMN_FAMILIES {
            let cf = self.db.cf_handle(name).expect("the store was opened with every column family");
            self.db.flush_cf(&cf)?;
        }
        Ok(())
    }
}

fn column_family_descriptors() -> Vec<ColumnFamilyDescriptor> {
    COLUMN_FAMILIES
        .iter()
        .map(|name| {
            let mut options = Options::default();
            options.set_compression_type(DBCompressionType::None);
            ColumnFamilyDescriptor::new(*name, options)
        })
        .collect()
}

fn column_family_of(key: u64) -> &'static str {
    COLUMN_FAMILIES[(key % COLUMN_FAMILIES.len() as u64) as usize]
}

struct State {
    mode: Mode,
    limits: Limits,
    store: Option<Store>,
    next_request_id: AtomicU64,
}

impl State {
    fn open(config: &Config) -> anyhow::Result<State> {
        let store = match &config.data {
            Some(dir) => Some(Store::open(dir, config.sync)?),
            None => None,
        };
        Ok(State { mode: config.mode, limits: Limits::default(), store, next_request_id: AtomicU64::new(1) })
    }
}

thread_local! {
    /// The decompressed body, reused by every request this worker thread serves.
    static RAW: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Why a request failed: HTTP status, SLS error code, message.
struct Failure(StatusCode, &'static str, String);

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure(StatusCode::BAD_REQUEST, e.code.sls_name(), e.message)
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let request_id = state.next_request_id.fetch_add(1, Ordering::Relaxed);
    let path = req.uri().path();
    let put_logs = req.method() == Method::POST && (path.ends_with("/shards/lb") || path.contains("/shards/route"));
    let (parts, body) = req.into_parts();
    let outcome = match Limited::new(body, state.limits.max_wire_bytes()).collect().await {
        Err(e) => Err(Failure(StatusCode::BAD_REQUEST, "PostBodyInvalid", format!("reading the body: {e}"))),
        Ok(_) if !put_logs => return Ok(respond(request_id, StatusCode::OK, Bytes::from_static(b"{}"))),
        Ok(collected) => put_logs_outcome(state, &parts.headers, collected.to_bytes()).await,
    };
    Ok(match outcome {
        Ok(()) => respond(request_id, StatusCode::OK, Bytes::new()),
        Err(Failure(status, code, message)) => {
            let body = serde_json::json!({ "errorCode": code, "errorMessage": message }).to_string();
            respond(request_id, status, Bytes::from(body))
        }
    })
}

async fn put_logs_outcome(state: Arc<State>, headers: &HeaderMap, body: Bytes) -> Result<(), Failure> {
    if state.mode == Mode::Null {
        return Ok(());
    }
    check(&state.limits, headers, &body)?;
    if state.mode == Mode::Validate {
        return Ok(());
    }
    let put = tokio::task::spawn_blocking(move || {
        state.store.as_ref().expect("store mode opens a store").put(&body).map_err(|e| e.to_string())
    });
    match put.await {
        Ok(Ok(_key)) => Ok(()),
        Ok(Err(e)) => Err(Failure(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", e)),
        Err(e) => Err(Failure(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", e.to_string())),
    }
}

/// Decompresses `body` into this thread's buffer and validates it in place, as the daemon does.
fn check(limits: &Limits, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let compression = Compression::from_header(header("x-log-compresstype"))?;
    let declared_raw = header("x-log-bodyrawsize").and_then(|v| v.trim().parse::<usize>().ok());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    RAW.with_borrow_mut(|raw| {
        decompress_into(compression, body, declared_raw, limits.max_raw_bytes, raw)?;
        let group: &[u8] = if compression == Compression::None { body } else { raw };
        validate_log_group(group, limits, now).map(|_| ())
    })
}

fn respond(request_id: u64, status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("x-log-requestid", format!("{request_id:016X}"))
        .header("content-type", "application/json")
        .body(Full::new(body))
        .expect("status and headers are valid")
}

/// Serves until `shutdown` completes, then drains in-flight requests and flushes the store.
async fn serve(listener: TcpListener, state: Arc<State>, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let http = http1::Builder::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                eprintln!("ceiling_server: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let connection = graceful
            .watch(http.serve_connection(TokioIo::new(stream), service_fn(move |req| handle(state.clone(), req))));
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_DEADLINE, graceful.shutdown()).await.is_err() {
        eprintln!("ceiling_server: connections still open after {DRAIN_DEADLINE:?}; closing anyway");
    }
    if state.store.is_some() {
        let flushed = tokio::task::spawn_blocking(move || state.store.as_ref().map(Store::flush)).await;
        if let Ok(Some(Err(e))) = flushed {
            eprintln!("ceiling_server: flush failed: {e}");
        }
    }
}

fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()
}

fn run(config: Config) -> anyhow::Result<()> {
    let state = Arc::new(State::open(&config)?);
    let runtime = runtime(config.threads)?;
    runtime.block_on(async {
        let listener = TcpListener::bind(config.listen).await.with_context(|| format!("bind {}", config.listen))?;
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "listening on {}", listener.local_addr()?)?;
            stdout.flush()?;
        }
        let stop = async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
        };
        serve(listener, state, stop).await;
        Ok(())
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Without `--mode` this is cargo running the target (`cargo test`/`cargo bench`, perhaps with
    // a test-name filter that means nothing here): run the self-check.
    if !args.iter().any(|arg| arg == "--mode" || arg.starts_with("--mode=")) {
        let started = Instant::now();
        self_check();
        println!("ceiling_server: self-check ok ({} ms)", started.elapsed().as_millis());
        return;
    }
    let config = match parse_args(&args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("ceiling_server: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(config) {
        eprintln!("ceiling_server: {e:#}");
        std::process::exit(1);
    }
}

// ---- self-check ----

fn self_check() {
    let raw = sample_log_group();
    let block = lz4_flex::block::compress(&raw);
    for mode in [Mode::Null, Mode::Validate, Mode::Store] {
        check_mode(mode, &raw, &block);
    }
}

/// Runs one mode on port 0 and checks its answers; in store mode, reopens the closed database and
/// reads the block back.
fn check_mode(mode: Mode, raw: &[u8], block: &[u8]) {
    let dir = tempfile::tempdir().expect("create a temp dir");
    let data = (mode == Mode::Store).then(|| dir.path().join("db"));
    let config = Config { mode, listen: "127.0.0.1:0".parse().unwrap(), threads: 1, data: data.clone(), sync: false };
    let state = Arc::new(State::open(&config).unwrap_or_else(|e| panic!("{mode:?}: open: {e:#}")));
    let runtime = runtime(1).expect("build a runtime");
    let listener = runtime.block_on(TcpListener::bind(config.listen)).expect("bind port 0");
    let addr = listener.local_addr().expect("local address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(serve(listener, state, async {
        let _ = stopped.await;
    }));

    let other = post(addr, "/logstores", &[], b"{\"logstoreName\":\"x\"}");
    assert_eq!((other.status, other.body.as_slice()), (200, &b"{}"[..]), "{mode:?}: a non-PutLogs request");
    let lz4 = [("x-log-compresstype", "lz4".to_string()), ("x-log-bodyrawsize", raw.len().to_string())];
    let valid = post(addr, "/logstores/x/shards/lb", &lz4, block);
    assert_eq!(valid.status, 200, "{mode:?}: a valid LZ4 batch: {}", String::from_utf8_lossy(&valid.body));
    // A declared size LZ4 could reach from 64 bytes, so that the decoder itself has to refuse it.
    let garbage_lz4 = [("x-log-compresstype", "lz4".to_string()), ("x-log-bodyrawsize", "1000".to_string())];
    let garbage = post(addr, "/logstores/x/shards/route?key=00", &garbage_lz4, &[0xFF; 64]);
    let expected = if mode == Mode::Null { 200 } else { 400 };
    assert_eq!(garbage.status, expected, "{mode:?}: garbage LZ4: {}", String::from_utf8_lossy(&garbage.body));
    if mode != Mode::Null {
        let reply = String::from_utf8_lossy(&garbage.body);
        assert!(reply.contains("\"PostBodyUncompressError\""), "{mode:?}: garbage LZ4 answered {reply}");
    }

    let _ = stop.send(());
    runtime.block_on(server).expect("the server task ends cleanly");
    drop(runtime);
    if let Some(data) = data {
        let db = DB::open_cf_descriptors(&Options::default(), &data, column_family_descriptors())
            .expect("reopen the store after shutdown (was it closed?)");
        let first = db.cf_handle(column_family_of(0)).expect("column family");
        let stored = db.get_cf(&first, 0u64.to_be_bytes()).expect("read key 0");
        assert!(stored.as_deref() == Some(block), "store: key 0 does not hold the block as received");
        let second = db.cf_handle(column_family_of(1)).expect("column family");
        assert_eq!(db.get_cf(&second, 1u64.to_be_bytes()).expect("read key 1"), None, "store: garbage was stored");
    }
}

/// 64 nginx-like logs stamped now, serialized.
fn sample_log_group() -> Vec<u8> {
    use logtide::wire::pb::{log::Content, Log, LogGroup};
    use prost::Message;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs() as u32;
    let log = |i: usize| Log {
        time: now,
        contents: [
            ("remote_addr", format!("10.0.0.{}", i % 256)),
            ("request", format!("GET /api/v1/items/{i} HTTP/1.1")),
            ("status", "200".to_string()),
            ("body_bytes_sent", (i * 7919 % 50_000).to_string()),
        ]
        .into_iter()
        .map(|(key, value)| Content { key: key.into(), value })
        .collect(),
        time_ns: None,
    };
    LogGroup { logs: (0..64).map(log).collect(), topic: Some("nginx".into()), ..Default::default() }.encode_to_vec()
}

struct Reply {
    status: u16,
    body: Vec<u8>,
}

/// One HTTP/1.1 POST on a fresh connection; asserts that the reply carries `x-log-requestid`.
fn post(addr: SocketAddr, path: &str, headers: &[(&str, String)], body: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect to the server");
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("set a read timeout");
    let mut request =
        format!("POST {path} HTTP/1.1\r\nHost: p.127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).and_then(|()| stream.write_all(body)).expect("send the request");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("read the reply");
    let split = reply.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete reply head");
    let head = String::from_utf8_lossy(&reply[..split]).to_ascii_lowercase();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    assert!(head.contains("\r\nx-log-requestid: "), "no x-log-requestid in {head:?}");
    Reply { status, body: reply[split + 4..].to_vec() }
}
