//! Structured logs: the `tracing` subscriber the binary installs (human-readable text, or one JSON
//! object per line), and [`Throttle`], which keeps a repeated warning to one line per interval
//! with a count of the ones left out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use crate::error::ErrorCode;

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `2025-01-01T00:00:00.000000Z  INFO logtide::server: message key=value`
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `message` and the event's fields.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<LogFormat, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("unknown log format {other:?} (text or json)")),
        }
    }
}

/// Installs the global subscriber writing to stderr, filtered by `LOGTIDE_LOG` (default `info`).
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOGTIDE_LOG").unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        // A log line that cannot be written (a full disk under the log file, a closed pipe) is
        // dropped. By default the subscriber reports it with `eprintln!`, which panics when
        // stderr itself fails, and that killed a shard worker when a benchmark filled the disk.
        .log_internal_errors(false);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
        // The event's fields at the top level beside `message`, so `jq .code` works.
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).with_span_list(false).init(),
    }
}

/// Milliseconds between two lines of one repeated warning.
pub const REPEAT_INTERVAL_MS: u64 = 10_000;

/// Lets one occurrence of a repeated event be logged per interval and counts the others. Lock-free:
/// checking costs two atomic operations.
pub struct Throttle {
    interval_ms: u64,
    /// Milliseconds since [`clock_ms`]'s origin before which occurrences are only counted.
    next_ms: AtomicU64,
    suppressed: AtomicU64,
}

impl Throttle {
    pub const fn new(interval_ms: u64) -> Throttle {
        Throttle { interval_ms, next_ms: AtomicU64::new(0), suppressed: AtomicU64::new(0) }
    }

    /// `Some(n)` when this occurrence should be logged, `n` being how many were left out since the
    /// last one logged; `None` when it should only be counted.
    pub fn allow(&self) -> Option<u64> {
        self.allow_at(clock_ms())
    }

    fn allow_at(&self, now_ms: u64) -> Option<u64> {
        let next = self.next_ms.load(Ordering::Relaxed);
        if now_ms >= next
            && self
                .next_ms
                .compare_exchange(next, now_ms + self.interval_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.suppressed.swap(0, Ordering::Relaxed));
        }
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        None
    }
}

/// One [`Throttle`] per error code: the same failure repeated is one line per interval, a
/// different failure still shows at once.
pub struct ThrottleByCode([Throttle; 64]);

impl ThrottleByCode {
    pub const fn new() -> ThrottleByCode {
        ThrottleByCode([const { Throttle::new(REPEAT_INTERVAL_MS) }; 64])
    }

    pub fn allow(&self, code: ErrorCode) -> Option<u64> {
        self.0[(code as usize).min(63)].allow()
    }
}

impl Default for ThrottleByCode {
    fn default() -> Self {
        ThrottleByCode::new()
    }
}

/// Milliseconds on a monotonic clock, from its first reading.
fn clock_ms() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_with_the_count_left_out() {
        let t = Throttle::new(1000);
        assert_eq!(t.allow_at(5), Some(0), "the first occurrence is logged");
        assert_eq!(t.allow_at(6), None);
        assert_eq!(t.allow_at(1004), None);
        assert_eq!(t.allow_at(1005), Some(2), "two were left out");
        assert_eq!(t.allow_at(1006), None);
        assert_eq!(t.allow_at(9000), Some(1));
        assert_eq!(t.allow_at(20_000), Some(0));
    }

    #[test]
    fn codes_are_throttled_apart() {
        let t = ThrottleByCode::new();
        assert!(t.allow(ErrorCode::InternalServerError).is_some());
        assert!(t.allow(ErrorCode::InternalServerError).is_none());
        assert!(t.allow(ErrorCode::StorageFull).is_some());
    }

    #[test]
    fn formats_parse() {
        assert_eq!("json".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert_eq!("text".parse::<LogFormat>(), Ok(LogFormat::Text));
        assert!("xml".parse::<LogFormat>().is_err());
    }
}
