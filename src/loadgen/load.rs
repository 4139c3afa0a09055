//! The load itself: one tokio task per connection takes slots from the shared [`Plan`], sends the
//! corpus bodies round-robin in the run's format (path, headers, hash key), measures each answer
//! and records it in its own [`Recorder`]; the recorders are merged when every task is done. A
//! progress line goes to stderr every second, and the first error of each code is shown there.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Method};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::task::JoinSet;

use super::client::{self, Conn, Target};
use super::corpus::{Body, Corpus};
use super::report::{error_code, Recorder};
use super::schedule::{Plan, Slot};
use super::{note, Format, LoadError, Options, Route};

/// The most of an answer read during the load (write answers are empty or tiny).
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// After a transport error, a connection waits this long before reconnecting, so that a daemon
/// that is down is not hammered with connects.
const RECONNECT_PAUSE: Duration = Duration::from_millis(20);

/// Where and how a run's requests are sent.
#[derive(Debug, Clone)]
pub struct RequestShape {
    format: Format,
    /// The path of every request, or of PutLogs with `?key=` appended when `hash`.
    path: String,
    hash: bool,
    /// Headers shared by every request (Host, Content-Type, API version).
    headers: HeaderMap,
}

impl RequestShape {
    pub fn new(opts: &Options, target: &Target) -> Result<RequestShape, String> {
        let ls = &opts.logstore;
        let (path, mut headers) = match opts.format {
            Format::PbLz4 | Format::PbZstd | Format::PbDeflate | Format::PbNone => {
                let path = match opts.route {
                    Route::Lb => format!("/logstores/{ls}/shards/lb"),
                    Route::Hash => format!("/logstores/{ls}/shards/route?key="),
                };
                (path, target.project_headers(&opts.project)?)
            }
            Format::Webtrack => {
                (format!("/logstores/{ls}/track?APIVersion=0.6.0"), target.project_headers(&opts.project)?)
            }
            Format::Lts => {
                let path =
                    format!("/v2/{}/lts/groups/{}/streams/{ls}/tenant/contents", opts.lts_project_id, opts.project);
                let mut h = HeaderMap::new();
                h.insert(http::header::HOST, target.host_header(None)?);
                (path, h)
            }
            Format::Callback => {
                let mut h = HeaderMap::new();
                h.insert(http::header::HOST, target.host_header(None)?);
                ("/v4/callback/logs".to_string(), h)
            }
        };
        let content_type = match opts.format {
            Format::PbLz4 | Format::PbZstd | Format::PbDeflate | Format::PbNone => "application/x-protobuf",
            Format::Lts => "application/json;charset=UTF-8",
            Format::Webtrack | Format::Callback => "application/json",
        };
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        if matches!(opts.format, Format::Webtrack) || opts.format.is_put_logs() {
            headers.insert("x-log-apiversion", HeaderValue::from_static("0.6.0"));
        }
        let shape = RequestShape { format: opts.format, path, hash: opts.route == Route::Hash, headers };
        // Every path this run can send must be a valid URI: check one now.
        client::request(Method::POST, &shape.path(&mut StdRng::seed_from_u64(0)), &shape.headers, Bytes::new())?;
        Ok(shape)
    }

    /// The path of the next request (a fresh hash key each time with `--route hash`).
    fn path(&self, rng: &mut StdRng) -> String {
        if self.hash && self.format.is_put_logs() {
            format!("{}{:032x}", self.path, rng.random::<u128>())
        } else {
            self.path.clone()
        }
    }

    /// The headers of one corpus body: the shared ones plus, for PutLogs, the codec, raw size
    /// and Content-MD5.
    fn headers_for(&self, body: &Body) -> HeaderMap {
        let mut h = self.headers.clone();
        if let Some(codec) = self.format.compression() {
            if let Some(name) = codec.as_header() {
                h.insert("x-log-compresstype", HeaderValue::from_static(name));
            }
            h.insert("x-log-bodyrawsize", HeaderValue::from(body.raw_len));
            if let Ok(v) = HeaderValue::from_str(&body.content_md5) {
                h.insert("content-md5", v);
            }
        }
        h
    }
}

/// What the load phase hands to the report.
pub struct Outcome {
    pub recorder: Recorder,
    /// The measured window: from the end of the warm-up to the last measured completion (at
    /// least the planned duration).
    pub window: Duration,
    /// Open loop: scheduled requests never sent.
    pub missed: u64,
}

/// Counters every task bumps, for the progress line; and the error codes already shown.
#[derive(Default)]
struct Live {
    ok: AtomicU64,
    err: AtomicU64,
    logs: AtomicU64,
    shown: Mutex<HashSet<String>>,
}

impl Live {
    fn show_first(&self, code: &str, detail: impl FnOnce() -> String) {
        let first = self.shown.lock().map(|mut s| s.insert(code.to_string())).unwrap_or(false);
        if first {
            note(format_args!("first {code} error: {}", detail()));
        }
    }
}

/// Runs the load phase: opens the connections, then sends until the plan says stop.
pub async fn run(
    opts: &Options,
    target: Arc<Target>,
    corpus: Arc<Corpus>,
    shape: RequestShape,
) -> Result<Outcome, LoadError> {
    let conns = open_connections(opts.connections, &target).await?;
    let requests: Arc<Vec<(Bytes, HeaderMap, u64, u64)>> = Arc::new(
        corpus
            .bodies
            .iter()
            .map(|b| (b.bytes.clone(), shape.headers_for(b), b.logs as u64, b.raw_len as u64))
            .collect(),
    );
    let shape = Arc::new(shape);
    let live = Arc::new(Live::default());
    let plan = Arc::new(Plan::new(Instant::now(), opts.rate, opts.warmup, opts.stop));
    let ticker = (!opts.quiet).then(|| tokio::spawn(progress(live.clone(), plan.clone(), opts.warmup)));
    let mut tasks = JoinSet::new();
    for conn in conns {
        let task = Task {
            conn,
            plan: plan.clone(),
            requests: requests.clone(),
            shape: shape.clone(),
            live: live.clone(),
            timeout: opts.timeout,
        };
        tasks.spawn(task.run());
    }
    let mut recorder = Recorder::default();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(r) => recorder.merge(&r),
            Err(e) => note(format_args!("a connection task failed: {e}")),
        }
    }
    if let Some(t) = ticker {
        t.abort();
    }
    let planned = plan.planned_end().map_or(Duration::ZERO, |end| end - plan.measure_start());
    let window = recorder.last_completion.map_or(planned, |last| last.max(planned));
    Ok(Outcome { recorder, window, missed: plan.missed() })
}

/// Opens `n` connections at once. Some may fail (they retry on their first request); none at
/// all is a setup failure.
async fn open_connections(n: usize, target: &Arc<Target>) -> Result<Vec<Conn>, LoadError> {
    let mut opening = JoinSet::new();
    for _ in 0..n {
        let mut conn = Conn::new(target.clone());
        opening.spawn(async move {
            let result = conn.connect().await;
            (conn, result)
        });
    }
    let mut conns = Vec::with_capacity(n);
    let mut failures = Vec::new();
    while let Some(joined) = opening.join_next().await {
        match joined {
            Ok((conn, result)) => {
                if let Err(e) = result {
                    failures.push(e.0);
                }
                conns.push(conn);
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    if failures.len() >= n {
        return Err(LoadError::Setup(format!("no connection could be opened: {}", failures.join("; "))));
    }
    if !failures.is_empty() {
        note(format_args!("{} of {n} connections failed to open (they retry): {}", failures.len(), failures[0]));
    }
    Ok(conns)
}

struct Task {
    conn: Conn,
    plan: Arc<Plan>,
    requests: Arc<Vec<(Bytes, HeaderMap, u64, u64)>>,
    shape: Arc<RequestShape>,
    live: Arc<Live>,
    timeout: Duration,
}

impl Task {
    async fn run(mut self) -> Recorder {
        let mut rec = Recorder::default();
        let mut rng = StdRng::seed_from_u64(rand::random());
        while let Some(slot) = self.plan.next(Instant::now()) {
            if let Some(at) = slot.intended {
                tokio::time::sleep_until(at.into()).await;
            }
            self.one(&slot, &mut rng, &mut rec).await;
        }
        rec
    }

    /// Sends slot `slot`'s request and records its outcome.
    async fn one(&mut self, slot: &Slot, rng: &mut StdRng, rec: &mut Recorder) {
        let (body, headers, logs, raw) = &self.requests[(slot.index % self.requests.len() as u64) as usize];
        let path = self.shape.path(rng);
        let started = Instant::now();
        // Open loop: latency counts from the intended start, so waiting for a connection counts.
        let base = slot.intended.unwrap_or(started);
        let outcome = match client::request(Method::POST, &path, headers, body.clone()) {
            Ok(req) => tokio::time::timeout(self.timeout, self.conn.send(req, MAX_ANSWER_BYTES)).await,
            Err(e) => Ok(Err(client::TransportError(e))),
        };
        let done = Instant::now();
        let latency = done.saturating_duration_since(base);
        let at = done.saturating_duration_since(self.plan.measure_start());
        match outcome {
            Ok(Ok(answer)) if answer.status.is_success() => {
                self.live.ok.fetch_add(1, Ordering::Relaxed);
                self.live.logs.fetch_add(*logs, Ordering::Relaxed);
                if slot.measured {
                    rec.ok(at, latency, *logs, *raw, body.len() as u64);
                } else {
                    rec.warmup_ok(*logs);
                }
            }
            Ok(Ok(answer)) => {
                self.live.err.fetch_add(1, Ordering::Relaxed);
                let code = error_code(answer.status.as_u16(), &answer.body);
                self.live.show_first(&code, || {
                    let text = String::from_utf8_lossy(&answer.body);
                    format!("HTTP {}: {}", answer.status.as_u16(), text.chars().take(300).collect::<String>())
                });
                if slot.measured {
                    rec.refused(at, latency, done.saturating_duration_since(started), code);
                }
            }
            Ok(Err(e)) => {
                self.live.err.fetch_add(1, Ordering::Relaxed);
                self.live.show_first("transport", || e.0.clone());
                if slot.measured {
                    rec.failed(at, "transport".to_string());
                }
                tokio::time::sleep(RECONNECT_PAUSE).await;
            }
            Err(_) => {
                self.conn.reset();
                self.live.err.fetch_add(1, Ordering::Relaxed);
                self.live.show_first("timeout", || format!("no answer within {:?}", self.timeout));
                if slot.measured {
                    rec.failed(at, "timeout".to_string());
                }
            }
        }
    }
}

/// Prints `[  12s] ok … err … logs/s` on stderr every second.
async fn progress(live: Arc<Live>, plan: Arc<Plan>, warmup: Duration) {
    let start = plan.measure_start() - warmup;
    let mut tick = tokio::time::interval_at((start + Duration::from_secs(1)).into(), Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut last_logs, mut last_at) = (0u64, start);
    loop {
        tick.tick().await;
        let now = Instant::now();
        let logs = live.logs.load(Ordering::Relaxed);
        let rate = (logs - last_logs) as f64 / now.duration_since(last_at).as_secs_f64().max(1e-9);
        let phase = if now < plan.measure_start() { " (warm-up)" } else { "" };
        eprintln!(
            "[{:>5.0}s] ok {} err {} {:.0} logs/s{phase}",
            now.duration_since(start).as_secs_f64(),
            live.ok.load(Ordering::Relaxed),
            live.err.load(Ordering::Relaxed),
            rate
        );
        (last_logs, last_at) = (logs, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(format: Format, route: Route) -> RequestShape {
        let mut opts = Options::new("ls1");
        opts.format = format;
        opts.route = route;
        RequestShape::new(&opts, &Target::parse("http://127.0.0.1:7480").unwrap()).unwrap()
    }

    #[test]
    fn paths_and_headers_per_format() {
        let mut rng = StdRng::seed_from_u64(1);
        let pb = shape(Format::PbLz4, Route::Lb);
        assert_eq!(pb.path(&mut rng), "/logstores/ls1/shards/lb");
        assert_eq!(pb.headers["host"], "bench.127.0.0.1:7480");
        let body = Body { bytes: Bytes::from_static(b"xy"), raw_len: 5, logs: 1, content_md5: "AB".into() };
        let h = pb.headers_for(&body);
        let got: Vec<&str> =
            ["x-log-compresstype", "x-log-bodyrawsize", "content-md5", "x-log-apiversion", "content-type"]
                .iter()
                .map(|k| h[*k].to_str().unwrap())
                .collect();
        assert_eq!(got, ["lz4", "5", "AB", "0.6.0", "application/x-protobuf"]);
        assert!(shape(Format::PbNone, Route::Lb).headers_for(&body).get("x-log-compresstype").is_none());
        let hash = shape(Format::PbZstd, Route::Hash);
        let (a, b) = (hash.path(&mut rng), hash.path(&mut rng));
        assert!(
            a.starts_with("/logstores/ls1/shards/route?key=")
                && a.len() == "/logstores/ls1/shards/route?key=".len() + 32
        );
        assert_ne!(a, b, "a fresh key per request");
        assert_eq!(shape(Format::Webtrack, Route::Hash).path(&mut rng), "/logstores/ls1/track?APIVersion=0.6.0");
        let lts = shape(Format::Lts, Route::Lb);
        assert_eq!(
            lts.path(&mut rng),
            "/v2/0123456789abcdef0123456789abcdef/lts/groups/bench/streams/ls1/tenant/contents"
        );
        assert_eq!(lts.headers["host"], "127.0.0.1:7480");
        assert_eq!(shape(Format::Callback, Route::Lb).path(&mut rng), "/v4/callback/logs");
    }
}
