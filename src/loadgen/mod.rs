//! `logtide-load`, the load generator of issue 5: builds a corpus of request bodies in one of the
//! write formats, drives them through N keep-alive HTTP/1.1 connections, closed loop or at a fixed
//! offered rate (open loop, latency measured from each request's intended start), and reports
//! acknowledged logs/s, raw and wire MB/s, latency percentiles, a per-second timeline and errors
//! by code; `verify` reads the logstore back through cursors and checks the count.
//!
//! - [`cli`]: the command line, exit codes and printing (the binary only calls it).
//! - [`corpus`] / [`nginx`]: the request bodies and the values in their logs.
//! - [`client`]: the target URL and one reconnecting keep-alive connection.
//! - [`schedule`]: slots, warm-up and stop conditions, open-loop intended start times.
//! - [`load`]: the connection tasks and the progress line.
//! - [`report`]: histograms, timeline, error codes, the JSON and text report.
//! - [`setup`] / [`verify`]: CreateProject / CreateLogstore, and counting logs through cursors.

pub mod cli;
pub mod client;
pub mod corpus;
pub mod load;
pub mod nginx;
pub mod report;
pub mod schedule;
pub mod setup;
pub mod verify;

use std::sync::Arc;
use std::time::Duration;

use crate::wire::compress::Compression;
use client::{Conn, Target};
use corpus::{Corpus, CorpusSpec};
use report::{Report, Verify};
use schedule::Stop;

/// The LTS `{project_id}` the `lts` format addresses (the open mode accepts any).
pub const DEFAULT_LTS_PROJECT_ID: &str = "0123456789abcdef0123456789abcdef";

/// The request shape a run sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// SLS PutLogs, protobuf LogGroup as an LZ4 block.
    #[value(name = "pb-lz4")]
    PbLz4,
    /// SLS PutLogs, protobuf LogGroup compressed with zstd.
    #[value(name = "pb-zstd")]
    PbZstd,
    /// SLS PutLogs, protobuf LogGroup compressed with deflate (zlib).
    #[value(name = "pb-deflate")]
    PbDeflate,
    /// SLS PutLogs, uncompressed protobuf LogGroup.
    #[value(name = "pb-none")]
    PbNone,
    /// SLS web tracking: JSON `{__topic__, __source__, __logs__, __tags__}` to `…/track`.
    #[value(name = "webtrack")]
    Webtrack,
    /// Huawei LTS `tenant/contents` report: nginx text lines.
    #[value(name = "lts")]
    Lts,
    /// Container-log callback `POST /v4/callback/logs`: a JSON array of records.
    #[value(name = "callback")]
    Callback,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::PbLz4 => "pb-lz4",
            Format::PbZstd => "pb-zstd",
            Format::PbDeflate => "pb-deflate",
            Format::PbNone => "pb-none",
            Format::Webtrack => "webtrack",
            Format::Lts => "lts",
            Format::Callback => "callback",
        }
    }

    /// The PutLogs body codec; `None` for the JSON formats.
    pub fn compression(self) -> Option<Compression> {
        match self {
            Format::PbLz4 => Some(Compression::Lz4),
            Format::PbZstd => Some(Compression::Zstd),
            Format::PbDeflate => Some(Compression::Deflate),
            Format::PbNone => Some(Compression::None),
            Format::Webtrack | Format::Lts | Format::Callback => None,
        }
    }

    pub fn is_put_logs(self) -> bool {
        self.compression().is_some()
    }
}

/// How PutLogs picks a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Route {
    /// `/shards/lb`: the daemon balances.
    Lb,
    /// `/shards/route?key=`: a random 32-hex-digit hash key per request.
    Hash,
}

/// Everything a run needs; [`cli::Args`] builds it from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    pub url: String,
    pub project: String,
    pub logstore: String,
    pub shards: u32,
    pub ttl_days: u32,
    pub create: bool,
    pub lts_project_id: String,
    pub format: Format,
    pub logs: usize,
    pub fields: usize,
    pub value_bytes: usize,
    pub topic: String,
    pub tags: usize,
    pub corpus: usize,
    pub connections: usize,
    pub stop: Stop,
    pub warmup: Duration,
    /// Offered requests per second in total (open loop); `None`: closed loop.
    pub rate: Option<f64>,
    pub route: Route,
    /// A request without an answer after this is a `timeout` error.
    pub timeout: Duration,
    pub verify: bool,
    /// No per-second progress line on stderr.
    pub quiet: bool,
}

impl Options {
    /// The defaults of the command line, for `logstore`.
    pub fn new(logstore: &str) -> Options {
        Options {
            url: "http://127.0.0.1:7480".into(),
            project: "bench".into(),
            logstore: logstore.into(),
            shards: 2,
            ttl_days: 1,
            create: true,
            lts_project_id: DEFAULT_LTS_PROJECT_ID.into(),
            format: Format::PbLz4,
            logs: 4096,
            fields: 10,
            value_bytes: 0,
            topic: "nginx".into(),
            tags: 3,
            corpus: 8,
            connections: 16,
            stop: Stop::Duration(Duration::from_secs(10)),
            warmup: Duration::ZERO,
            rate: None,
            route: Route::Lb,
            timeout: Duration::from_secs(30),
            verify: false,
            quiet: false,
        }
    }

    /// Every problem with the options, as one message.
    pub fn check(&self) -> Result<(), String> {
        let mut problems: Vec<String> = Vec::new();
        let mut require = |ok: bool, problem: &str| {
            if !ok {
                problems.push(problem.to_string());
            }
        };
        require(self.connections > 0, "--connections must be at least 1");
        require(
            self.logs > 0 && self.fields > 0 && self.corpus > 0,
            "--logs, --fields and --corpus must be at least 1",
        );
        require(self.shards > 0, "--shards must be at least 1");
        require(self.rate.is_none_or(|r| r.is_finite() && r > 0.0), "--rate must be a positive number");
        require(!matches!(self.stop, Stop::Duration(d) if d.is_zero()), "--duration must be positive");
        require(!matches!(self.stop, Stop::Requests(0)), "--requests must be at least 1");
        require(!self.timeout.is_zero(), "--timeout must be positive");
        require(!self.project.is_empty() && !self.logstore.is_empty(), "--project and --logstore must not be empty");
        if let Err(e) = Target::parse(&self.url) {
            problems.push(e);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

/// Why a run could not produce a report.
#[derive(Debug)]
pub enum LoadError {
    /// The options are unusable (exit code 2).
    BadArgument(String),
    /// The daemon cannot be reached, or the project/logstore cannot be created or read (exit 1).
    Setup(String),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::BadArgument(m) => write!(f, "bad argument: {m}"),
            LoadError::Setup(m) => write!(f, "setup failed: {m}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// Prints a note on stderr (the report alone goes to stdout).
pub(crate) fn note(message: impl std::fmt::Display) {
    eprintln!("logtide-load: {message}");
}

/// One whole run: corpus, setup, optional count before, load, report, optional verify.
pub async fn run(opts: &Options) -> Result<Report, LoadError> {
    opts.check().map_err(LoadError::BadArgument)?;
    let target = Arc::new(Target::parse(&opts.url).map_err(LoadError::BadArgument)?);
    let requests = load::RequestShape::new(opts, &target).map_err(LoadError::BadArgument)?;
    if opts.route == Route::Hash && !opts.format.is_put_logs() {
        note(format_args!(
            "--route hash applies to PutLogs only; {} requests are not routed by key",
            opts.format.name()
        ));
    }
    let spec = CorpusSpec {
        format: opts.format,
        logs: opts.logs,
        fields: opts.fields,
        value_bytes: opts.value_bytes,
        topic: opts.topic.clone(),
        tags: opts.tags,
        bodies: opts.corpus,
        project: opts.project.clone(),
        logstore: opts.logstore.clone(),
        now: crate::catalog::now_secs() as u32,
    };
    let corpus = tokio::task::spawn_blocking(move || Corpus::build(&spec))
        .await
        .map_err(|e| LoadError::Setup(format!("building the corpus failed: {e}")))?;
    for n in &corpus.notes {
        note(n);
    }

    let mut admin = Conn::new(target.clone());
    admin.connect().await.map_err(|e| LoadError::Setup(format!("cannot connect to {}: {e}", opts.url)))?;
    if opts.create {
        setup::create(&mut admin, &target, opts).await.map_err(LoadError::Setup)?;
    }
    let before = if opts.verify {
        Some(verify::count_logs(&mut admin, &target, &opts.project, &opts.logstore).await.map_err(LoadError::Setup)?)
    } else {
        None
    };

    let corpus = Arc::new(corpus);
    let outcome = load::run(opts, target.clone(), corpus.clone(), requests).await?;
    let mut report = Report::build(opts, &corpus, &outcome);

    if let Some(before) = before {
        // The admin connection sat idle through the load: start the read-back on a fresh one.
        admin.reset();
        let after = verify::count_logs(&mut admin, &target, &opts.project, &opts.logstore)
            .await
            .map_err(|e| LoadError::Setup(format!("verify: {e}")))?;
        let expected = outcome.recorder.logs_acked_total;
        let found = after.saturating_sub(before);
        report.verify = Some(Verify { expected, found, ok: after >= before && found == expected });
    }
    Ok(report)
}
