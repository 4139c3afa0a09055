//! Write limits and per-field rules, as pure functions with no I/O: sizes, counts, the log-time
//! window, key and value rules. The protobuf walker in `wire::loggroup` and the JSON front doors
//! call these so that every API enforces the same rules with the same error codes.

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult, ErrorCode};

/// Keys that clients may not use as content keys (sls.md §11.2).
pub const RESERVED_KEYS: &[&str] =
    &["__time__", "__source__", "__topic__", "__partition_time__", "_extract_others_", "__extract_others__"];

/// Per-request write limits. Defaults follow the SLS PutLogs document: 3 MiB raw, 4096 logs,
/// log time within [now - 7 days, now + 15 minutes], keys 1..=128 bytes, values <= 1 MiB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest accepted raw (uncompressed) request body, in bytes.
    pub max_raw_bytes: usize,
    /// Most logs accepted in one request.
    pub max_logs: usize,
    /// How far in the past a log time may be, in seconds.
    pub max_past_secs: u64,
    /// How far in the future a log time may be, in seconds.
    pub max_future_secs: u64,
    /// Longest accepted key, in bytes.
    pub max_key_bytes: usize,
    /// Longest accepted value, in bytes.
    pub max_value_bytes: usize,
    /// Longest accepted topic, source, tag key or tag value, in bytes.
    pub max_meta_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_raw_bytes: 3 * 1024 * 1024,
            max_logs: 4096,
            max_past_secs: 7 * 24 * 3600,
            max_future_secs: 15 * 60,
            max_key_bytes: 128,
            max_value_bytes: 1024 * 1024,
            max_meta_bytes: 128,
        }
    }
}

impl Limits {
    /// The most compressed bytes a body may have: a little over the raw limit, because LZ4 and
    /// deflate can expand incompressible input slightly.
    pub fn max_wire_bytes(&self) -> usize {
        self.max_raw_bytes + self.max_raw_bytes / 64 + 1024
    }

    pub fn check_raw_size(&self, raw: usize) -> ApiResult<()> {
        if raw > self.max_raw_bytes {
            return Err(too_large(self));
        }
        Ok(())
    }

    pub fn check_log_count(&self, logs: usize) -> ApiResult<()> {
        if logs > self.max_logs {
            return Err(too_large(self));
        }
        Ok(())
    }

    /// Checks a log time (unix seconds) against the window around `now`.
    pub fn check_time(&self, time: u64, now: u64) -> ApiResult<()> {
        if time + self.max_past_secs < now || time > now + self.max_future_secs {
            return Err(ApiError::new(
                ErrorCode::PostBodyTimeOutOfRange,
                format!(
                    "The post data time is out of range: log time {time} is outside [now - {}s, now + {}s], now is {now}",
                    self.max_past_secs, self.max_future_secs
                ),
            ));
        }
        Ok(())
    }

    /// Checks a content key: UTF-8, non-empty, not too long, not reserved.
    pub fn check_key(&self, key: &[u8]) -> ApiResult<()> {
        if !is_utf8(key) {
            return Err(ApiError::new(ErrorCode::InvalidEncoding, "Non-UTF8 characters are in a log key."));
        }
        if key.is_empty() {
            return Err(ApiError::new(ErrorCode::InvalidKey, "Invalid keys are in logs: empty key."));
        }
        if key.len() > self.max_key_bytes {
            return Err(ApiError::new(
                ErrorCode::InvalidKey,
                format!("Invalid keys are in logs: key longer than {} bytes.", self.max_key_bytes),
            ));
        }
        // Every reserved key starts with `_`: most keys are out after one byte.
        if key[0] == b'_' && RESERVED_KEYS.iter().any(|r| r.as_bytes() == key) {
            let key = String::from_utf8_lossy(key);
            return Err(ApiError::new(ErrorCode::InvalidKey, format!("Invalid keys are in logs: {key} is reserved.")));
        }
        Ok(())
    }

    /// Checks a content value: UTF-8 and not too long.
    pub fn check_value(&self, value: &[u8]) -> ApiResult<()> {
        if value.len() > self.max_value_bytes {
            return Err(ApiError::new(
                ErrorCode::PostBodyTooLarge,
                format!("A log value is larger than {} bytes.", self.max_value_bytes),
            ));
        }
        if !is_utf8(value) {
            return Err(ApiError::new(ErrorCode::InvalidEncoding, "Non-UTF8 characters are in logs."));
        }
        Ok(())
    }

    /// Checks topic, source, machine uuid, tag keys and tag values: UTF-8 and short.
    pub fn check_meta(&self, what: &str, value: &[u8]) -> ApiResult<()> {
        if !is_utf8(value) {
            return Err(ApiError::new(ErrorCode::InvalidEncoding, format!("Non-UTF8 characters are in the {what}.")));
        }
        if value.len() > self.max_meta_bytes {
            return Err(ApiError::new(
                ErrorCode::PostBodyInvalid,
                format!("The {what} is longer than {} bytes.", self.max_meta_bytes),
            ));
        }
        Ok(())
    }
}

/// UTF-8 validity with an ASCII fast path: log text is mostly ASCII, and for the short strings
/// of a log (1–100 bytes) `is_ascii` costs a fraction of full validation (the profile of a
/// saturated daemon had `from_utf8` as its largest entry).
fn is_utf8(bytes: &[u8]) -> bool {
    bytes.is_ascii() || std::str::from_utf8(bytes).is_ok()
}

fn too_large(limits: &Limits) -> ApiError {
    ApiError::new(
        ErrorCode::PostBodyTooLarge,
        format!("Logs must be less than or equal to {} bytes and {} entries.", limits.max_raw_bytes, limits.max_logs),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_utf8_and_reserved() {
        let l = Limits::default();
        // `check_key` looks at the reserved list only for keys starting with `_`.
        assert!(RESERVED_KEYS.iter().all(|k| k.starts_with('_')));
        for k in RESERVED_KEYS {
            assert_eq!(l.check_key(k.as_bytes()).unwrap_err().code, ErrorCode::InvalidKey);
        }
        l.check_key(b"_time_").unwrap();
        l.check_key("clé".as_bytes()).unwrap();
        assert_eq!(l.check_key(b"a\xffb").unwrap_err().code, ErrorCode::InvalidEncoding);
        l.check_value("ascii and ✓ and 日本".as_bytes()).unwrap();
        l.check_value(b"").unwrap();
        for bad in [&b"\xc3"[..], b"ok\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"] {
            assert_eq!(l.check_value(bad).unwrap_err().code, ErrorCode::InvalidEncoding, "{bad:?}");
            assert_eq!(l.check_meta("topic", bad).unwrap_err().code, ErrorCode::InvalidEncoding);
        }
    }

    #[test]
    fn time_window_edges() {
        let l = Limits::default();
        let now = 1_800_000_000;
        assert!(l.check_time(now, now).is_ok());
        assert!(l.check_time(now - 7 * 86400, now).is_ok());
        assert!(l.check_time(now + 900, now).is_ok());
        let past = l.check_time(now - 7 * 86400 - 1, now).unwrap_err();
        assert_eq!(past.code, ErrorCode::PostBodyTimeOutOfRange);
        let future = l.check_time(now + 901, now).unwrap_err();
        assert_eq!(future.code, ErrorCode::PostBodyTimeOutOfRange);
    }

    #[test]
    fn key_rules() {
        let l = Limits::default();
        l.check_key(b"status").unwrap();
        l.check_key(b"a.b-c:d").unwrap();
        assert_eq!(l.check_key(b"").unwrap_err().code, ErrorCode::InvalidKey);
        assert_eq!(l.check_key(&[b'k'; 129]).unwrap_err().code, ErrorCode::InvalidKey);
        assert!(l.check_key(&[b'k'; 128]).is_ok());
        assert_eq!(l.check_key(b"__topic__").unwrap_err().code, ErrorCode::InvalidKey);
        assert_eq!(l.check_key(b"\xff").unwrap_err().code, ErrorCode::InvalidEncoding);
    }

    #[test]
    fn value_rules() {
        let l = Limits::default();
        assert!(l.check_value(&vec![b'v'; 1024 * 1024]).is_ok());
        let big = l.check_value(&vec![b'v'; 1024 * 1024 + 1]).unwrap_err();
        assert_eq!(big.code, ErrorCode::PostBodyTooLarge);
        assert_eq!(l.check_value(b"\xc3\x28").unwrap_err().code, ErrorCode::InvalidEncoding);
    }

    #[test]
    fn sizes_and_counts() {
        let l = Limits::default();
        assert!(l.check_raw_size(3 * 1024 * 1024).is_ok());
        assert_eq!(l.check_raw_size(3 * 1024 * 1024 + 1).unwrap_err().code, ErrorCode::PostBodyTooLarge);
        assert!(l.check_log_count(4096).is_ok());
        assert_eq!(l.check_log_count(4097).unwrap_err().code, ErrorCode::PostBodyTooLarge);
    }
}
