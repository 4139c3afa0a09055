//! What a run measured and how it is shown: each connection task's [`Recorder`] (counts, bytes,
//! latency histograms in microseconds, a per-second timeline, errors by code), merged at the end
//! into the [`Report`], printed as one JSON object or as text. Also the error code of a refusal,
//! read from the SLS (`errorCode`) or LTS (`error_code` / `errorCode`) body.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::corpus::Corpus;
use super::load::Outcome;
use super::Options;

/// Latencies are recorded in microseconds, up to an hour.
const MAX_MICROS: u64 = 3_600_000_000;

fn histogram() -> Histogram<u64> {
    // Fails only for bounds that are not ordered; these are constants.
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds")
}

fn second_histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, MAX_MICROS, 2).expect("valid histogram bounds")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).clamp(1, MAX_MICROS)
}

/// The error code of a refused request: `errorCode` (SLS, LTS report), else `error_code` (LTS
/// management), else `HTTP <status>`.
pub fn error_code(status: u16, body: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    parsed
        .as_ref()
        .and_then(|v| {
            ["errorCode", "error_code"]
                .iter()
                .find_map(|k| v.get(k).and_then(|c| c.as_str()).filter(|c| !c.is_empty()).map(str::to_string))
        })
        .unwrap_or_else(|| format!("HTTP {status}"))
}

/// One second of the measured window.
#[derive(Clone)]
struct Second {
    ok: u64,
    err: u64,
    logs: u64,
    latency: Histogram<u32>,
}

/// One connection task's measurements (merged across tasks at the end).
#[derive(Clone)]
pub struct Recorder {
    pub ok: u64,
    pub err: u64,
    pub errors_by_code: BTreeMap<String, u64>,
    pub logs: u64,
    pub raw_bytes: u64,
    pub wire_bytes: u64,
    /// Acknowledged logs including the warm-up: what verify expects to find.
    pub logs_acked_total: u64,
    /// Completion of the last measured request, from the start of the measured window.
    pub last_completion: Option<Duration>,
    latency: Histogram<u64>,
    error_latency: Histogram<u64>,
    /// Refusals timed from the actual send (no wait for a free connection): the server's answer time.
    error_service: Histogram<u64>,
    timeline: Vec<Second>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            ok: 0,
            err: 0,
            errors_by_code: BTreeMap::new(),
            logs: 0,
            raw_bytes: 0,
            wire_bytes: 0,
            logs_acked_total: 0,
            last_completion: None,
            latency: histogram(),
            error_latency: histogram(),
            error_service: histogram(),
            timeline: Vec::new(),
        }
    }
}

impl Recorder {
    fn bucket(&mut self, t: usize) -> &mut Second {
        while self.timeline.len() <= t {
            self.timeline.push(Second { ok: 0, err: 0, logs: 0, latency: second_histogram() });
        }
        &mut self.timeline[t]
    }

    /// The second a completion `at` (from the window start) falls in.
    fn second(&mut self, at: Duration) -> &mut Second {
        self.last_completion = Some(self.last_completion.map_or(at, |l| l.max(at)));
        self.bucket(at.as_secs() as usize)
    }

    /// An acknowledged measured request completed `at` (from the window start) after `latency`.
    pub fn ok(&mut self, at: Duration, latency: Duration, logs: u64, raw: u64, wire: u64) {
        self.ok += 1;
        self.logs += logs;
        self.logs_acked_total += logs;
        self.raw_bytes += raw;
        self.wire_bytes += wire;
        self.latency.saturating_record(micros(latency));
        let s = self.second(at);
        s.ok += 1;
        s.logs += logs;
        s.latency.saturating_record(micros(latency));
    }

    /// An acknowledged warm-up request: only verify counts it.
    pub fn warmup_ok(&mut self, logs: u64) {
        self.logs_acked_total += logs;
    }

    /// A measured request the daemon refused with an HTTP error, `latency` after its intended
    /// start and `service` after it was actually sent.
    pub fn refused(&mut self, at: Duration, latency: Duration, service: Duration, code: String) {
        self.error_latency.saturating_record(micros(latency));
        self.error_service.saturating_record(micros(service));
        self.failed(at, code);
    }

    /// A measured request that got no HTTP answer (`transport`, `timeout`).
    pub fn failed(&mut self, at: Duration, code: String) {
        self.err += 1;
        *self.errors_by_code.entry(code).or_default() += 1;
        self.second(at).err += 1;
    }

    pub fn merge(&mut self, other: &Recorder) {
        self.ok += other.ok;
        self.err += other.err;
        for (code, n) in &other.errors_by_code {
            *self.errors_by_code.entry(code.clone()).or_default() += n;
        }
        self.logs += other.logs;
        self.raw_bytes += other.raw_bytes;
        self.wire_bytes += other.wire_bytes;
        self.logs_acked_total += other.logs_acked_total;
        self.last_completion = match (self.last_completion, other.last_completion) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        // Same bounds on both sides: adding cannot fail.
        let _ = self.latency.add(&other.latency);
        let _ = self.error_latency.add(&other.error_latency);
        let _ = self.error_service.add(&other.error_service);
        for (t, s) in other.timeline.iter().enumerate() {
            let mine = self.bucket(t);
            mine.ok += s.ok;
            mine.err += s.err;
            mine.logs += s.logs;
            let _ = mine.latency.add(&s.latency);
        }
    }
}

/// Microseconds as milliseconds (exact to three decimals).
fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ErrorLatency {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TimelineEntry {
    pub t: u64,
    pub ok: u64,
    pub err: u64,
    pub logs: u64,
    pub p99_ms: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Verify {
    /// Logs acknowledged during the run (warm-up included).
    pub expected: u64,
    /// Logs in the logstore after the run minus before it.
    pub found: u64,
    pub ok: bool,
}

/// The result of a run, printed as one JSON object with `--json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub format: String,
    pub connections: usize,
    /// Offered requests/s (open loop); null in closed loop.
    pub rate_target: Option<f64>,
    /// The measured window in seconds.
    pub duration_s: f64,
    pub requests_ok: u64,
    pub requests_err: u64,
    /// Open loop: scheduled requests never sent because no connection was free in time.
    pub requests_missed: u64,
    pub errors_by_code: BTreeMap<String, u64>,
    pub logs_acked: u64,
    pub logs_per_s: f64,
    pub requests_per_s: f64,
    pub raw_mb_per_s: f64,
    pub wire_mb_per_s: f64,
    pub raw_bytes_per_log: f64,
    pub latency_ms: Latency,
    pub error_latency_ms: ErrorLatency,
    /// Refusals timed from the actual send: how fast the server answers a refusal.
    pub error_service_ms: ErrorLatency,
    pub timeline: Vec<TimelineEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verify>,
}

impl Report {
    pub fn build(opts: &Options, corpus: &Corpus, outcome: &Outcome) -> Report {
        let r = &outcome.recorder;
        let secs = outcome.window.as_secs_f64();
        let per_s = |x: f64| if secs > 0.0 { round3(x / secs) } else { 0.0 };
        let h = &r.latency;
        let e = &r.error_latency;
        Report {
            format: opts.format.name().to_string(),
            connections: opts.connections,
            rate_target: opts.rate,
            duration_s: round3(secs),
            requests_ok: r.ok,
            requests_err: r.err,
            requests_missed: outcome.missed,
            errors_by_code: r.errors_by_code.clone(),
            logs_acked: r.logs,
            logs_per_s: per_s(r.logs as f64),
            requests_per_s: per_s(r.ok as f64),
            raw_mb_per_s: per_s(r.raw_bytes as f64 / 1e6),
            wire_mb_per_s: per_s(r.wire_bytes as f64 / 1e6),
            raw_bytes_per_log: round3(corpus.raw_bytes_per_log()),
            latency_ms: Latency {
                p50: ms(h.value_at_quantile(0.5)),
                p90: ms(h.value_at_quantile(0.9)),
                p99: ms(h.value_at_quantile(0.99)),
                p999: ms(h.value_at_quantile(0.999)),
                max: ms(h.max()),
                mean: round3(h.mean() / 1000.0),
            },
            error_latency_ms: ErrorLatency {
                p50: ms(e.value_at_quantile(0.5)),
                p99: ms(e.value_at_quantile(0.99)),
                max: ms(e.max()),
            },
            error_service_ms: ErrorLatency {
                p50: ms(r.error_service.value_at_quantile(0.5)),
                p99: ms(r.error_service.value_at_quantile(0.99)),
                max: ms(r.error_service.max()),
            },
            timeline: r
                .timeline
                .iter()
                .enumerate()
                .map(|(t, s)| TimelineEntry {
                    t: t as u64,
                    ok: s.ok,
                    err: s.err,
                    logs: s.logs,
                    p99_ms: ms(s.latency.value_at_quantile(0.99)),
                })
                .collect(),
            verify: None,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The report for people.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let mode = match self.rate_target {
            Some(r) => format!("open loop at {r} requests/s"),
            None => "closed loop".to_string(),
        };
        let _ = writeln!(
            s,
            "{} over {} connections, {mode}, {:.2} s measured",
            self.format, self.connections, self.duration_s
        );
        let _ = writeln!(
            s,
            "requests   {} ok, {} errors, {} missed ({:.1}/s)",
            self.requests_ok, self.requests_err, self.requests_missed, self.requests_per_s
        );
        let _ = writeln!(s, "logs       {} acknowledged, {:.0} logs/s", self.logs_acked, self.logs_per_s);
        let _ = writeln!(
            s,
            "throughput raw {:.1} MB/s ({:.1} bytes/log), wire {:.1} MB/s",
            self.raw_mb_per_s, self.raw_bytes_per_log, self.wire_mb_per_s
        );
        let l = &self.latency_ms;
        let _ = writeln!(
            s,
            "latency ms p50 {} p90 {} p99 {} p99.9 {} max {} mean {}",
            l.p50, l.p90, l.p99, l.p999, l.max, l.mean
        );
        if self.requests_err > 0 {
            let e = &self.error_latency_ms;
            let _ = writeln!(s, "refused ms p50 {} p99 {} max {}", e.p50, e.p99, e.max);
            let codes: Vec<String> = self.errors_by_code.iter().map(|(c, n)| format!("{c} {n}")).collect();
            let _ = writeln!(s, "errors     {}", codes.join(", "));
        }
        let _ = writeln!(s, "timeline   t ok err logs p99_ms");
        for e in &self.timeline {
            let _ = writeln!(s, "  {:>4} {:>6} {:>5} {:>10} {:>8}", e.t, e.ok, e.err, e.logs, e.p99_ms);
        }
        if let Some(v) = &self.verify {
            let verdict = if v.ok { "ok" } else { "FAILED" };
            let _ = writeln!(s, "verify     expected {} found {}: {verdict}", v.expected, v.found);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_from_each_dialect() {
        assert_eq!(error_code(503, br#"{"errorCode":"ServerBusy","errorMessage":"full"}"#), "ServerBusy");
        assert_eq!(error_code(400, br#"{"error_code":"LTS.0009","error_msg":"bad"}"#), "LTS.0009");
        assert_eq!(
            error_code(400, br#"{"errorCode":"SVCSTG.ALS.200.201","error_msg":"x","result":null}"#),
            "SVCSTG.ALS.200.201"
        );
        assert_eq!(error_code(502, b"<html>bad gateway</html>"), "HTTP 502");
        assert_eq!(error_code(500, br#"{"errorCode":""}"#), "HTTP 500");
        assert_eq!(error_code(404, b""), "HTTP 404");
    }

    #[test]
    fn recorders_merge_into_percentiles_and_a_timeline() {
        let mut a = Recorder::default();
        let mut b = Recorder::default();
        // 100 requests at 1..=100 ms in second 0 on a, one slow one in second 2 on b.
        for i in 1..=100u64 {
            a.ok(Duration::from_millis(10 * i), Duration::from_millis(i), 10, 1000, 200);
        }
        b.ok(Duration::from_millis(2500), Duration::from_secs(1), 10, 1000, 200);
        b.refused(
            Duration::from_millis(2600),
            Duration::from_micros(300),
            Duration::from_micros(200),
            "ServerBusy".into(),
        );
        b.failed(Duration::from_millis(700), "transport".into());
        b.warmup_ok(5);
        a.merge(&b);
        assert_eq!((a.ok, a.err, a.logs, a.logs_acked_total), (101, 2, 1010, 1015));
        assert_eq!(a.errors_by_code.get("ServerBusy"), Some(&1));
        assert_eq!(a.errors_by_code.get("transport"), Some(&1));
        assert_eq!(a.last_completion, Some(Duration::from_millis(2600)));
        let p50 = a.latency.value_at_quantile(0.5) as f64;
        assert!((p50 - 51_000.0).abs() < 100.0, "{p50}");
        assert!(a.latency.max() >= 999_000);
        let secs: Vec<(u64, u64, u64)> = a.timeline.iter().map(|s| (s.ok, s.err, s.logs)).collect();
        assert_eq!(secs, vec![(99, 1, 990), (1, 0, 10), (1, 1, 10)]);
        assert!((a.timeline[2].latency.value_at_quantile(0.99) as f64 - 1e6).abs() < 1e4);

        let corpus = Corpus { format: super::super::Format::PbLz4, bodies: vec![], notes: vec![] };
        let outcome = Outcome { recorder: a, window: Duration::from_secs(2), missed: 3 };
        let opts = Options::new("ls");
        let report = Report::build(&opts, &corpus, &outcome);
        assert_eq!(report.requests_per_s, 50.5);
        assert_eq!(report.logs_per_s, 505.0);
        assert!((report.raw_mb_per_s - 0.0505).abs() < 0.001, "{}", report.raw_mb_per_s);
        assert!((report.latency_ms.p99 - 100.0).abs() < 0.2, "{:?}", report.latency_ms);
        assert_eq!(report.error_latency_ms.max, 0.3);
        assert_eq!(report.error_service_ms.max, 0.2);
        assert_eq!(report.timeline.len(), 3);
        let v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        for key in [
            "format",
            "connections",
            "rate_target",
            "duration_s",
            "requests_ok",
            "requests_err",
            "errors_by_code",
            "logs_acked",
            "logs_per_s",
            "requests_per_s",
            "raw_mb_per_s",
            "wire_mb_per_s",
            "raw_bytes_per_log",
            "latency_ms",
            "error_latency_ms",
            "error_service_ms",
            "timeline",
        ] {
            assert!(v.get(key).is_some(), "{key} missing from {v}");
        }
        assert_eq!(v["timeline"][2]["t"], 2);
        assert!(v.get("verify").is_none());
        assert!(report.to_text().contains("ServerBusy 1"));
    }
}
