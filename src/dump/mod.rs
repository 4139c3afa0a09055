//! LTS log dumps (`/v2/{project_id}/log-dump/obs`, lts.md §3.5): periodic export of chosen log
//! streams to a bucket. This module owns the dump options and their validation, the buckets, the
//! file layout, and the export of due windows; the catalog ([`crate::catalog::Dump`]) persists the
//! definitions and their progress. Blocking: runs on the blocking pool, never on the runtime.
//!
//! - **Buckets**: bucket `b` is the directory `<dump.root>/b`, created by the operator (logtide
//!   never creates one). A name is 3–63 characters of `[a-z0-9.-]` starting and ending with a
//!   letter or digit; a bucket whose real path (symlinks resolved) is not inside the root does not
//!   exist.
//! - **Prefixes**: `prefix_name` is a file-name prefix and `dir_prefix_name` a relative directory
//!   path of `/`-separated segments; both are at most 64 characters of letters, digits, `-`, `_`
//!   and `.` (plus `/` between segments), no segment is empty, `.` or contains `..`. Anything else
//!   (absolute paths, `\`, NUL, `..`) is `LTS.1902`. Paths are built by joining validated
//!   segments, and every directory written to is checked (canonicalized) to lie in its bucket.
//! - **Windows**: aligned to the period in UTC (`[k·P, (k+1)·P)` unix seconds); a log belongs to
//!   the window holding its *receive* time. A window is due once it ended [`SETTLE_SECS`] ago
//!   (so writes stamped just before its end have landed). A new dump starts with the window
//!   holding its creation time. Each dump records the end of its last exported window; windows
//!   are exported in order, and a missed window (daemon stopped) is exported on the next pass.
//! - **Files**: `<root>/<bucket>/[<dir_prefix_name>/]LogTanks/<log group name>/<log stream
//!   name>/<YYYY>/<MM>/<DD>/<prefix_name><YYYYMMDDHHMM>_<HHMM>.<log|json>`: the date and the first
//!   stamp are the window's start, the second stamp its end (UTC); `.log` for RAW, `.json` for
//!   JSON (one object per line, [`format`]). A window without logs writes no file. A file is
//!   written to a hidden temp file in the same directory, fsynced and renamed, and only then is
//!   the window recorded as exported; after a crash in between, the window is exported again to
//!   the same name with the same lines (receive times of a settled window do not change), so a
//!   file is never duplicated nor partly written. Lines are in arrival order (receive time, then
//!   shard and sequence).

pub mod bucket;
pub mod format;

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::catalog::{Catalog, Dump, DumpFormat, Logstore, PeriodUnit, Project};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::query::{decode_group, group_labels};
use crate::store::{ShardLog, StoredGroup};
pub use bucket::{Buckets, Target};

/// How long after its end a window is exported, seconds.
pub const SETTLE_SECS: u64 = 5;
/// The allowed `period`+`period_unit` combinations, as LTS lists them.
const PERIODS: [(u32, PeriodUnit); 7] = [
    (2, PeriodUnit::Min),
    (5, PeriodUnit::Min),
    (30, PeriodUnit::Min),
    (1, PeriodUnit::Hour),
    (3, PeriodUnit::Hour),
    (6, PeriodUnit::Hour),
    (12, PeriodUnit::Hour),
];
const PERIOD_LIST: &str = "[2min, 5min, 30min, 1hour, 3hour, 6hour, 12hour]";
const MAX_PREFIX_CHARS: usize = 64;
/// Groups read per round trip to the store.
const READ_GROUPS: usize = 64;
const READ_BYTES: usize = 4 * 1024 * 1024;
const NANOS: u64 = 1_000_000_000;

/// One export pass at a time per process: two passes would only redo the same work.
static EXPORTING: Mutex<()> = Mutex::new(());

/// A CreateLogDumpObs body, validated except for what needs the catalog or the disk.
#[derive(Debug, Clone)]
pub struct DumpRequest {
    pub log_group_id: String,
    pub log_stream_ids: Vec<String>,
    pub bucket: String,
    pub format: DumpFormat,
    pub switch_on: bool,
    pub prefix_name: String,
    pub dir_prefix_name: String,
    pub period: u32,
    pub period_unit: PeriodUnit,
}

fn lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => {
            n.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| serde::de::Error::custom("not a whole number"))
        }
        Value::String(s) => s.trim().parse().map_err(|_| serde::de::Error::custom("not a whole number")),
        _ => Err(serde::de::Error::custom("not a whole number")),
    }
}

/// `switch_on` as a JSON boolean or, as the seed's example sends it, `"true"`/`"false"`.
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(serde::de::Error::custom("not a boolean")),
    }
}

fn not_in_list(what: &str, list: &str) -> ApiError {
    ApiError::new(ErrorCode::DumpOptionNotInList, format!("{what} is not in the list {list}"))
}

fn invalid_prefix(what: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidDumpPrefix,
        format!("{what} is invalid, please verify if it's provided as required"),
    )
}

/// Parses and checks a CreateLogDumpObs body: shape errors are `LTS.0009`, options outside their
/// lists `LTS.1901`, bad prefixes `LTS.1902`.
pub fn parse_create(body: &[u8]) -> ApiResult<DumpRequest> {
    #[derive(Deserialize)]
    struct B {
        log_group_id: String,
        log_stream_ids: Vec<String>,
        obs_bucket_name: String,
        #[serde(rename = "type")]
        kind: String,
        storage_format: Option<String>,
        #[serde(default, deserialize_with = "lenient_bool")]
        switch_on: Option<bool>,
        #[serde(default)]
        prefix_name: String,
        #[serde(default)]
        dir_prefix_name: String,
        #[serde(deserialize_with = "lenient_u32")]
        period: u32,
        period_unit: String,
    }
    let b: B = serde_json::from_slice(body)
        .map_err(|e| ApiError::param(format!("Failed to validate the request body: {e}")))?;
    if b.log_stream_ids.is_empty() {
        return Err(ApiError::param("Failed to validate the request body: log_stream_ids is empty"));
    }
    if b.kind != "cycle" {
        return Err(not_in_list("type", "[cycle]"));
    }
    let format = match b.storage_format.as_deref() {
        None | Some("RAW") => DumpFormat::Raw,
        Some("JSON") => DumpFormat::Json,
        Some(_) => return Err(not_in_list("storage_format", "[RAW, JSON]")),
    };
    let period_unit = match b.period_unit.as_str() {
        "min" => PeriodUnit::Min,
        "hour" => PeriodUnit::Hour,
        _ => return Err(not_in_list("period_unit", "[min, hour]")),
    };
    if !PERIODS.contains(&(b.period, period_unit)) {
        return Err(not_in_list("period+period_unit", PERIOD_LIST));
    }
    check_prefix_name(&b.prefix_name)?;
    dir_segments(&b.dir_prefix_name)?;
    check_bucket_name(&b.obs_bucket_name)?;
    let mut streams = b.log_stream_ids;
    streams.dedup();
    Ok(DumpRequest {
        log_group_id: b.log_group_id,
        log_stream_ids: streams,
        bucket: b.obs_bucket_name,
        format,
        switch_on: b.switch_on.unwrap_or(true),
        prefix_name: b.prefix_name,
        dir_prefix_name: b.dir_prefix_name,
        period: b.period,
        period_unit,
    })
}

/// A path segment logtide writes: letters, digits, `-`, `_`, `.`; not `.`, no `..`.
fn is_safe_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && !s.contains("..")
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A catalog name used as a directory: letters, digits, `-`, `_`, `.`, and not `.` or `..`
/// (LTS and SLS names always are).
fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `prefix_name`: empty, or a safe segment of at most 64 characters.
pub fn check_prefix_name(prefix: &str) -> ApiResult<()> {
    if prefix.is_empty() || (prefix.chars().count() <= MAX_PREFIX_CHARS && is_safe_segment(prefix)) {
        Ok(())
    } else {
        Err(invalid_prefix("prefix_name"))
    }
}

/// `dir_prefix_name` split into safe segments (empty: none). One trailing `/` is allowed.
pub fn dir_segments(dir: &str) -> ApiResult<Vec<&str>> {
    if dir.is_empty() {
        return Ok(Vec::new());
    }
    let trimmed = dir.strip_suffix('/').unwrap_or(dir);
    let segments: Vec<&str> = trimmed.split('/').collect();
    if dir.chars().count() > MAX_PREFIX_CHARS || !segments.iter().all(|s| is_safe_segment(s)) {
        return Err(invalid_prefix("dir_prefix_name"));
    }
    Ok(segments)
}

/// OBS bucket names: 3–63 characters of `[a-z0-9.-]`, starting and ending with a letter or digit,
/// no `..`. Anything else is `LTS.0009`.
pub fn check_bucket_name(name: &str) -> ApiResult<()> {
    let b = name.as_bytes();
    let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ok = (3..=63).contains(&b.len())
        && b.iter().all(|&c| edge(c) || c == b'-' || c == b'.')
        && edge(b[0])
        && edge(b[b.len() - 1])
        && !name.contains("..");
    if ok {
        Ok(())
    } else {
        Err(ApiError::param(format!("obs_bucket_name {name:?} is invalid: 3-63 of a-z, 0-9, . and -")))
    }
}

/// The bucket's directory, canonical: `<root>/<name>` must be a directory inside the root.
pub fn bucket_dir(root: &Path, name: &str) -> ApiResult<PathBuf> {
    check_bucket_name(name)?;
    let missing = || ApiError::new(ErrorCode::BucketNotExist, format!("obs bucket does not exist: {name}"));
    let dir = root.join(name);
    if !dir.is_dir() {
        return Err(missing());
    }
    let (root, dir) = (root.canonicalize().map_err(|_| missing())?, dir.canonicalize().map_err(|_| missing())?);
    if dir.starts_with(&root) && dir != root {
        Ok(dir)
    } else {
        Err(missing())
    }
}

/// CreateLogDumpObs once the handler resolved the group and streams: checks the bucket, then
/// persists the dump (the catalog re-checks group and streams under its lock). The first window
/// is the one holding `now_secs`.
pub fn create(
    catalog: &Catalog,
    buckets: &Buckets,
    group_id: Uuid,
    stream_ids: Vec<Uuid>,
    req: DumpRequest,
    now_secs: u64,
) -> ApiResult<Dump> {
    buckets.open(&req.bucket)?;
    let period = req.period as u64 * req.period_unit.secs();
    catalog.create_dump(Dump {
        id: Uuid::new_v4(),
        group_id,
        stream_ids,
        bucket: req.bucket,
        format: req.format,
        switch_on: req.switch_on,
        prefix_name: req.prefix_name,
        dir_prefix_name: req.dir_prefix_name,
        period: req.period,
        period_unit: req.period_unit,
        create_time: now_secs,
        exported_until: now_secs / period * period,
    })
}

/// A dump as the list and delete calls show it.
pub fn dump_json(catalog: &Catalog, dump: &Dump) -> Value {
    let group = catalog.project_by_id(dump.group_id).ok();
    let group_name = group.as_ref().map(|g| g.name.clone()).unwrap_or_default();
    let streams: Vec<Value> = dump
        .stream_ids
        .iter()
        .map(|id| {
            let name = group.as_ref().and_then(|g| catalog.logstore_by_id(&g.name, *id).ok()).map(|ls| ls.name.clone());
            json!({"log_stream_id": id, "log_stream_name": name.unwrap_or_default()})
        })
        .collect();
    let mut path = format!("/{}/", dump.bucket);
    for seg in dir_segments(&dump.dir_prefix_name).unwrap_or_default() {
        path.push_str(seg);
        path.push('/');
    }
    path.push_str(&format!("LogTanks/{group_name}/"));
    json!({
        "log_dump_obs_id": dump.id,
        "log_group_id": dump.group_id,
        "log_group_name": group_name,
        "log_stream_ids": dump.stream_ids,
        "log_streams": streams,
        "obs_bucket_name": dump.bucket,
        "obs_transfer_path": path,
        "type": "cycle",
        "storage_format": dump.format.as_str(),
        "switch_on": dump.switch_on,
        "prefix_name": dump.prefix_name,
        "dir_prefix_name": dump.dir_prefix_name,
        "period": dump.period,
        "period_unit": dump.period_unit.as_str(),
        "create_time": dump.create_time * 1000,
        "exported_until": dump.exported_until * 1000,
    })
}

/// The file of one stream's window, relative to its bucket.
pub fn window_path(dump: &Dump, group: &str, stream: &str, start: u64, end: u64) -> ApiResult<PathBuf> {
    let mut path = PathBuf::new();
    for seg in dir_segments(&dump.dir_prefix_name)? {
        path.push(seg);
    }
    if !is_plain_name(group) || !is_plain_name(stream) {
        return Err(ApiError::internal(format!("log group {group:?} or stream {stream:?} is not a safe path segment")));
    }
    check_prefix_name(&dump.prefix_name)?;
    let (s, e) = (utc(start)?, utc(end)?);
    path.push("LogTanks");
    path.push(group);
    path.push(stream);
    path.push(format!("{:04}", s.year()));
    path.push(format!("{:02}", u8::from(s.month())));
    path.push(format!("{:02}", s.day()));
    let ext = match dump.format {
        DumpFormat::Raw => "log",
        DumpFormat::Json => "json",
    };
    path.push(format!(
        "{}{:04}{:02}{:02}{:02}{:02}_{:02}{:02}.{ext}",
        dump.prefix_name,
        s.year(),
        u8::from(s.month()),
        s.day(),
        s.hour(),
        s.minute(),
        e.hour(),
        e.minute()
    ));
    Ok(path)
}

fn utc(secs: u64) -> ApiResult<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(secs as i64).map_err(ApiError::internal)
}

/// One file written by an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedFile {
    pub dump: Uuid,
    pub path: PathBuf,
    pub lines: u64,
}

/// What one pass did.
#[derive(Debug, Clone, Default)]
pub struct ExportReport {
    /// Windows exported (and recorded), with or without logs.
    pub windows: u64,
    pub files: Vec<ExportedFile>,
    /// Dumps whose next window failed; they are retried on the next pass.
    pub failures: usize,
}

/// Exports, for every enabled dump, each window that ended at least [`SETTLE_SECS`] before
/// `now_secs` and is not yet exported, in order, recording progress after each window. A dump
/// whose window fails (bucket gone, disk full) is logged and retried on the next pass.
pub fn export_due(catalog: &Catalog, log: &dyn ShardLog, buckets: &Buckets, now_secs: u64) -> ApiResult<ExportReport> {
    let _one = EXPORTING.lock().unwrap_or_else(|e| e.into_inner());
    let mut report = ExportReport::default();
    for dump in catalog.dumps()? {
        if !dump.switch_on {
            continue;
        }
        if let Err(e) = export_dump(catalog, log, buckets, &dump, now_secs, &mut report) {
            tracing::warn!(dump = %dump.id, error = %e, "dump export failed; retrying on the next pass");
            report.failures += 1;
        }
    }
    Ok(report)
}

fn export_dump(
    catalog: &Catalog,
    log: &dyn ShardLog,
    buckets: &Buckets,
    dump: &Dump,
    now_secs: u64,
    report: &mut ExportReport,
) -> ApiResult<()> {
    let period = dump.period_secs();
    let due_end = now_secs.saturating_sub(SETTLE_SECS) / period * period;
    let mut start = dump.exported_until;
    if start >= due_end {
        return Ok(());
    }
    let bucket = buckets.open(&dump.bucket)?;
    let group = catalog.project_by_id(dump.group_id)?;
    let streams: Vec<_> =
        dump.stream_ids.iter().map(|id| catalog.logstore_by_id(&group.name, *id)).collect::<ApiResult<_>>()?;
    while start < due_end {
        let end = start + period;
        for ls in &streams {
            if let Some(file) = export_window(log, &bucket, dump, &group, ls, start, end)? {
                report.files.push(file);
            }
        }
        if !catalog.record_dump_progress(dump.id, end)? {
            return Ok(()); // deleted meanwhile
        }
        report.windows += 1;
        start = end;
    }
    Ok(())
}

/// Writes one stream's window `[start, end)` (receive time, unix seconds) to its file; `None`
/// when the window holds no logs.
fn export_window(
    log: &dyn ShardLog,
    bucket: &Target,
    dump: &Dump,
    group: &Project,
    ls: &Logstore,
    start: u64,
    end: u64,
) -> ApiResult<Option<ExportedFile>> {
    let rel = window_path(dump, &group.name, &ls.name, start, end)?;
    let mut out: Option<(Sink, std::io::BufWriter<std::fs::File>)> = None;
    let mut lines = 0u64;
    let mut merge = Merge::open(log, ls, start * NANOS, end * NANOS)?;
    while let Some(stored) = merge.next(log)? {
        let group_data = decode_group(&stored)?;
        let labels = format::labels_object(&group_labels(&group_data));
        for entry in &group_data.logs {
            let line = match dump.format {
                DumpFormat::Raw => format::raw_line(entry),
                DumpFormat::Json => format::json_line(entry, &labels, stored.header.receive_ns),
            };
            if out.is_none() {
                out = Some(match bucket {
                    Target::Dir(dir) => {
                        let target = dir.join(&rel);
                        let (temp, w) = atomic::create(dir, &target)?;
                        (Sink::File(temp, target), w)
                    }
                    Target::Store { .. } => {
                        let (spool, w) = bucket::Spool::create()?;
                        (Sink::Spool(spool), w)
                    }
                });
            }
            let (_, w) = out.as_mut().expect("just opened");
            w.write_all(line.as_bytes()).and_then(|_| w.write_all(b"\n")).map_err(io_error(&rel))?;
            lines += 1;
        }
    }
    let Some((sink, writer)) = out else { return Ok(None) };
    let path = match (sink, bucket) {
        (Sink::File(temp, target), _) => {
            temp.commit(writer, &target)?;
            target
        }
        (Sink::Spool(spool), Target::Store { bucket, store }) => {
            PathBuf::from(spool.upload(writer, bucket, store, &rel)?)
        }
        (Sink::Spool(_), Target::Dir(_)) => unreachable!("a spool is only opened for an object store"),
    };
    Ok(Some(ExportedFile { dump: dump.id, path, lines }))
}

/// Where a window's lines are written before they are published.
enum Sink {
    /// A temp file beside its final name in the bucket directory.
    File(atomic::Temp, PathBuf),
    /// A local spool file uploaded to the object store at the end.
    Spool(bucket::Spool),
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> ApiError + '_ {
    move |e| ApiError::internal(format!("{}: {e}", path.display()))
}

/// Atomic file writes: a hidden temp file beside the target, fsynced, renamed over it, and the
/// directory fsynced.
mod atomic {
    use super::*;

    pub struct Temp {
        path: PathBuf,
    }

    /// Creates the target's directory (checked to lie in the bucket) and a temp file in it.
    pub fn create(bucket: &Path, target: &Path) -> ApiResult<(Temp, std::io::BufWriter<std::fs::File>)> {
        let dir = target.parent().ok_or_else(|| ApiError::internal("a dump file has no directory"))?;
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        let real = dir.canonicalize().map_err(io_error(dir))?;
        if !real.starts_with(bucket) {
            return Err(ApiError::internal(format!("{} leaves its bucket", dir.display())));
        }
        let name = target.file_name().and_then(|n| n.to_str()).unwrap_or("dump");
        let path = real.join(format!(".{name}.{}.tmp", Uuid::new_v4().simple()));
        let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(io_error(&path))?;
        Ok((Temp { path }, std::io::BufWriter::new(file)))
    }

    impl Temp {
        pub fn commit(self, writer: std::io::BufWriter<std::fs::File>, target: &Path) -> ApiResult<()> {
            let file = writer.into_inner().map_err(|e| ApiError::internal(format!("{}: {e}", self.path.display())))?;
            file.sync_all().map_err(io_error(&self.path))?;
            drop(file);
            std::fs::rename(&self.path, target).map_err(io_error(target))?;
            if let Some(dir) = target.parent() {
                std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io_error(dir))?;
            }
            Ok(())
        }
    }

    impl Drop for Temp {
        /// A failed export leaves no temp file behind (after a commit there is none to remove).
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The groups of one logstore received in `[from_ns, to_ns)`, merged across shards in arrival
/// order (receive time, shard, sequence), read a chunk at a time so memory stays bounded.
struct Merge {
    stream: Uuid,
    shards: Vec<ShardCursor>,
    to_ns: u64,
}

struct ShardCursor {
    shard: u32,
    next: u64,
    buffered: VecDeque<StoredGroup>,
    done: bool,
}

impl Merge {
    fn open(log: &dyn ShardLog, ls: &Logstore, from_ns: u64, to_ns: u64) -> ApiResult<Merge> {
        let mut shards = Vec::new();
        // Every shard id ever used, including readonly shards no longer listed.
        for shard in 0..ls.next_shard_id {
            let next = log.seek_receive_time(ls.id, shard, from_ns).map_err(ApiError::store)?;
            shards.push(ShardCursor { shard, next, buffered: VecDeque::new(), done: false });
        }
        Ok(Merge { stream: ls.id, shards, to_ns })
    }

    fn next(&mut self, log: &dyn ShardLog) -> ApiResult<Option<StoredGroup>> {
        for c in &mut self.shards {
            if c.buffered.is_empty() && !c.done {
                let groups =
                    log.read(self.stream, c.shard, c.next, READ_GROUPS, READ_BYTES).map_err(ApiError::store)?;
                c.done = groups.is_empty();
                for g in groups {
                    if g.header.receive_ns >= self.to_ns {
                        c.done = true;
                        break;
                    }
                    c.next = g.seq + 1;
                    c.buffered.push_back(g);
                }
            }
        }
        let first = self
            .shards
            .iter_mut()
            .filter(|c| !c.buffered.is_empty())
            .min_by_key(|c| (c.buffered[0].header.receive_ns, c.shard));
        Ok(first.and_then(|c| c.buffered.pop_front()))
    }
}

#[cfg(test)]
mod tests;
