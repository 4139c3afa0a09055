//! The `logtide-load` command line: [`Args`] (clap), their translation into [`Options`], the
//! runtime (`--threads` workers), printing the report (JSON or text on stdout), and the exit
//! code: 0 done (errors during the load are reported, not fatal), 1 setup failure or failed
//! verify, 2 bad arguments.

use std::time::Duration;

use clap::Parser;

use super::schedule::Stop;
use super::{run, Format, LoadError, Options, Route, DEFAULT_LTS_PROJECT_ID};

/// Exit codes.
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_BAD_ARGUMENTS: u8 = 2;

/// Load generator for logtide: sends generated nginx-like logs through the SLS, web-tracking,
/// LTS or callback write APIs over keep-alive connections, closed loop or at a fixed rate, and
/// reports acknowledged logs/s, MB/s, latency percentiles and errors by code.
#[derive(Debug, Clone, Parser)]
#[command(name = "logtide-load", version)]
pub struct Args {
    /// Base URL of the daemon (http only).
    #[arg(long, default_value = "http://127.0.0.1:7480")]
    pub url: String,
    /// SLS project (LTS log group) to write to; addressed as Host `<project>.<host>`.
    #[arg(long, default_value = "bench")]
    pub project: String,
    /// Logstore (LTS log stream) to write to [default: load-<unix seconds>].
    #[arg(long)]
    pub logstore: Option<String>,
    /// Shard count of the logstore when the run creates it.
    #[arg(long, default_value_t = 2)]
    pub shards: u32,
    /// Ttl in days of the logstore when the run creates it.
    #[arg(long = "ttl", default_value_t = 1)]
    pub ttl_days: u32,
    /// Do not create the project and logstore (CreateProject / CreateLogstore with
    /// enable_tracking) before the run.
    #[arg(long)]
    pub no_create: bool,
    /// Request format: SLS PutLogs protobuf with a codec, web-tracking JSON, LTS report, or
    /// container-log callback.
    #[arg(long, value_enum, default_value_t = Format::PbLz4)]
    pub format: Format,
    /// LTS project id in the `lts` format's URL.
    #[arg(long, default_value = DEFAULT_LTS_PROJECT_ID)]
    pub lts_project_id: String,
    /// Logs per request (callback bodies are capped at 3 MB and may carry fewer).
    #[arg(long, default_value_t = 4096)]
    pub logs: usize,
    /// Fields per log (the first 10 are the nginx fields; more are extra_N).
    #[arg(long, default_value_t = 10)]
    pub fields: usize,
    /// Value size: 0 = realistic nginx values (~365 raw bytes per log, LZ4 ratio ~0.2);
    /// N > 0 = synthetic values of N bytes.
    #[arg(long, default_value_t = 0)]
    pub value_bytes: usize,
    /// Topic of every LogGroup / web-tracking body.
    #[arg(long, default_value = "nginx")]
    pub topic: String,
    /// Tags per request (LogGroup tags, __tags__, LTS labels).
    #[arg(long, default_value_t = 3)]
    pub tags: usize,
    /// Distinct request bodies generated before the run (different seeds), sent round-robin.
    #[arg(long, default_value_t = 8)]
    pub corpus: usize,
    /// Keep-alive HTTP/1.1 connections, one task each.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Measured seconds (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Stop after this many measured requests instead of after --duration.
    #[arg(long, conflicts_with = "duration")]
    pub requests: Option<u64>,
    /// Seconds of warm-up before measuring (sent, not counted).
    #[arg(long, default_value_t = 0.0)]
    pub warmup: f64,
    /// Offered requests per second in total: open loop, latency measured from each request's
    /// intended start (corrects coordinated omission). Without it: closed loop, as fast as
    /// the connections go.
    #[arg(long)]
    pub rate: Option<f64>,
    /// PutLogs shard routing: lb (/shards/lb) or hash (/shards/route?key=<random 32 hex>).
    #[arg(long, value_enum, default_value_t = Route::Lb)]
    pub route: Route,
    /// Tokio worker threads (pin the generator to a core with taskset).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Seconds without an answer before a request counts as a `timeout` error.
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,
    /// After the run, read the logstore back through cursors and check that it grew by the
    /// acknowledged logs; a mismatch exits 1.
    #[arg(long)]
    pub verify: bool,
    /// Print the report as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress line on stderr.
    #[arg(long)]
    pub quiet: bool,
}

fn seconds(name: &str, secs: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(secs).map_err(|_| format!("--{name} must be a non-negative number of seconds"))
}

impl Args {
    pub fn into_options(self) -> Result<Options, String> {
        let logstore = self.logstore.unwrap_or_else(|| format!("load-{}", crate::catalog::now_secs()));
        let stop = match self.requests {
            Some(n) => Stop::Requests(n),
            None => Stop::Duration(seconds("duration", self.duration)?),
        };
        let opts = Options {
            url: self.url,
            project: self.project,
            logstore,
            shards: self.shards,
            ttl_days: self.ttl_days,
            create: !self.no_create,
            lts_project_id: self.lts_project_id,
            format: self.format,
            logs: self.logs,
            fields: self.fields,
            value_bytes: self.value_bytes,
            topic: self.topic,
            tags: self.tags,
            corpus: self.corpus,
            connections: self.connections,
            stop,
            warmup: seconds("warmup", self.warmup)?,
            rate: self.rate,
            route: self.route,
            timeout: seconds("timeout", self.timeout)?,
            verify: self.verify,
            quiet: self.quiet,
        };
        if self.threads == 0 {
            return Err("--threads must be at least 1".into());
        }
        opts.check()?;
        Ok(opts)
    }
}

/// The whole program after parsing: returns the exit code.
pub fn main(args: Args) -> u8 {
    let (threads, json) = (args.threads, args.json);
    let opts = match args.into_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("logtide-load: {e}");
            return EXIT_BAD_ARGUMENTS;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("logtide-load: cannot start the runtime: {e}");
            return EXIT_FAILED;
        }
    };
    match runtime.block_on(run(&opts)) {
        Ok(report) => {
            if json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_text());
            }
            match &report.verify {
                Some(v) if !v.ok => {
                    eprintln!("logtide-load: verify failed: expected {} logs, found {}", v.expected, v.found);
                    EXIT_FAILED
                }
                _ => EXIT_OK,
            }
        }
        Err(e) => {
            eprintln!("logtide-load: {e}");
            match e {
                LoadError::BadArgument(_) => EXIT_BAD_ARGUMENTS,
                LoadError::Setup(_) => EXIT_FAILED,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        let args = Args::try_parse_from(std::iter::once("logtide-load").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        args.into_options()
    }

    #[test]
    fn defaults_match_the_issue() {
        let o = parse(&[]).unwrap();
        assert_eq!((o.url.as_str(), o.project.as_str(), o.shards), ("http://127.0.0.1:7480", "bench", 2));
        assert!(o.logstore.starts_with("load-"));
        assert_eq!((o.format, o.logs, o.fields, o.value_bytes, o.tags, o.corpus), (Format::PbLz4, 4096, 10, 0, 3, 8));
        assert_eq!(
            (o.connections, o.stop, o.rate, o.route),
            (16, Stop::Duration(Duration::from_secs(10)), None, Route::Lb)
        );
        assert!(o.create && !o.verify);
    }

    #[test]
    fn options_and_bad_arguments() {
        let o =
            parse(&["--format", "lts", "--requests", "30", "--rate", "200", "--route", "hash", "--no-create"]).unwrap();
        assert_eq!(
            (o.format, o.stop, o.rate, o.route, o.create),
            (Format::Lts, Stop::Requests(30), Some(200.0), Route::Hash, false)
        );
        for bad in [
            &["--format", "xml"][..],
            &["--rate", "0"],
            &["--connections", "0"],
            &["--duration", "-1"],
            &["--duration", "5", "--requests", "3"],
            &["--url", "https://x"],
            &["--threads", "0"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
