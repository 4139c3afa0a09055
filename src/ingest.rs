//! The write path shared by every front door: a request body is decompressed with caps, every
//! LogGroup in it is validated in place, the logstore is resolved (or auto-created), a shard is
//! chosen, and the request is queued to that shard's worker. The caller gets `Ok` only once the
//! worker reports the whole request in RocksDB's WAL. Any violation rejects the whole request
//! before anything is queued.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::catalog::{check_logstore_name, check_project_name, now_secs, Catalog, Logstore};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::metrics::{Accepted, Metrics};
use crate::route;
use crate::shard::ShardWorkers;
use crate::store::{Append, Codec, GroupRecord, RecordHeader, StoreError};
use crate::validate::Limits;
use crate::wire::compress::{self, Compression};
use crate::wire::json::{json_to_log_group, LogTime};
use crate::wire::loggroup::{validate_log_group, GroupStats};
use crate::wire::lts::{report_to_log_group, ReportShape};
use crate::wire::package::split_package_list;

/// Bodies that may decode to this many bytes or more are decoded on the blocking pool, so that
/// the async runtime never stalls for more than a fraction of a millisecond.
const INLINE_DECODE_LIMIT: usize = 128 * 1024;

/// A PutLogs request, free of HTTP types.
#[derive(Debug, Clone)]
pub struct PutLogs {
    pub project: String,
    pub logstore: String,
    /// `?key=` or `x-log-hashkey`; `None` means load balancing.
    pub hash_key: Option<String>,
    pub compression: Compression,
    /// The body exactly as received.
    pub body: Bytes,
    /// `x-log-bodyrawsize`.
    pub declared_raw: Option<usize>,
    pub format: BodyFormat,
    /// An anonymous web-tracking write: allowed only where the logstore has `enable_tracking`.
    pub web_tracking: bool,
    pub client_ip: String,
}

/// What the (decompressed) body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// One serialized LogGroup.
    LogGroup,
    /// `x-log-mode: batch_group`: an SlsLogPackageList of individually compressed LogGroups.
    PackageList,
    /// A JSON `{__topic__, __source__, __logs__, __tags__}` object.
    Json(LogTime),
    /// A Huawei LTS log report (`tenant/contents` or its high-accuracy form).
    LtsReport(ReportShape),
}

pub struct Ingest {
    /// No access keys are configured: every request is anonymous.
    open_mode: bool,
    catalog: Arc<Catalog>,
    workers: Arc<ShardWorkers>,
    limits: Limits,
    turn: AtomicUsize,
    /// Large bodies decoded at once (one per core).
    decode_slots: tokio::sync::Semaphore,
    /// Decompression buffers, reused across requests: at most one per decode slot plus the
    /// small bodies decoded inline, each at most the raw size limit.
    scratch: Mutex<Vec<Vec<u8>>>,
    /// Most buffers kept in `scratch` for reuse.
    scratch_kept: usize,
    /// Accepted requests, logs and bytes per logstore.
    metrics: Arc<Metrics>,
}

impl Ingest {
    pub fn new(catalog: Arc<Catalog>, workers: Arc<ShardWorkers>, limits: Limits, open_mode: bool) -> Ingest {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ingest {
            open_mode,
            catalog,
            workers,
            limits,
            turn: AtomicUsize::new(0),
            decode_slots: tokio::sync::Semaphore::new(cores),
            scratch: Mutex::new(Vec::new()),
            // Computed once: `available_parallelism` reads cgroup files, too slow for every request.
            scratch_kept: 2 * cores + 2,
            metrics: Arc::new(Metrics::new(0, 0)),
        }
    }

    /// Counts accepted writes in `metrics` (the daemon's) instead of a private registry.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Ingest {
        self.metrics = metrics;
        self
    }

    fn take_scratch(&self) -> Vec<u8> {
        self.scratch.lock().expect("scratch lock").pop().unwrap_or_default()
    }

    fn give_scratch(&self, buf: Vec<u8>) {
        let mut pool = self.scratch.lock().expect("scratch lock");
        if buf.capacity() > 0 && pool.len() < self.scratch_kept {
            pool.push(buf);
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Validates, routes and durably stores one PutLogs request.
    pub async fn put_logs(self: &Arc<Self>, req: PutLogs) -> ApiResult<()> {
        let prepared = self.prepare(req).await?;
        self.commit(vec![prepared]).await
    }

    /// Several requests that must be judged together (a callback body routed to several
    /// logstores): every one is validated before any is queued, so a bad record stores nothing.
    /// Each logstore's share is then committed atomically on its own.
    pub async fn put_logs_together(self: &Arc<Self>, reqs: Vec<PutLogs>) -> ApiResult<()> {
        let mut checked = Vec::with_capacity(reqs.len());
        for req in reqs {
            checked.push(self.check(req).await?);
        }
        let mut prepared = Vec::with_capacity(checked.len());
        for c in checked {
            prepared.push(self.resolve(c).await?);
        }
        self.commit(prepared).await
    }

    /// Checks, then resolves: a valid request may auto-create its logstore.
    async fn prepare(self: &Arc<Self>, req: PutLogs) -> ApiResult<Prepared> {
        let checked = self.check(req).await?;
        self.resolve(checked).await
    }

    /// Everything that can refuse a request without changing anything: catalog checks (including
    /// the names an auto-creation would use), decoding and validation.
    async fn check(self: &Arc<Self>, req: PutLogs) -> ApiResult<Checked> {
        // An unknown logstore is refused before any decoding, unless it will be auto-created.
        let known = self.catalog.logstore(&req.project, &req.logstore);
        match &known {
            Err(e) if !self.may_auto_create(&req) => return Err(e.clone()),
            Err(_) => {
                check_project_name(&req.project)?;
                check_logstore_name(&req.logstore)?;
            }
            Ok(ls) if req.web_tracking && !ls.settings.enable_tracking => {
                return Err(ApiError::new(
                    ErrorCode::Unauthorized,
                    format!("web tracking is not enabled on logstore {}", ls.name),
                ))
            }
            Ok(_) => {}
        }
        let hash = req.hash_key.as_deref().map(route::parse_hash_key).transpose()?;
        let (groups, req) = if self.decode_bound(&req) >= INLINE_DECODE_LIMIT {
            // At most one large decode per core at a time: more would not finish sooner, and
            // each holds a decompression buffer.
            let _slot = self.decode_slots.acquire().await.map_err(ApiError::internal)?;
            let this = self.clone();
            tokio::task::spawn_blocking(move || (this.decode(&req), req)).await.map_err(ApiError::internal)?
        } else {
            (self.decode(&req), req)
        };
        Ok(Checked { groups: groups?, hash, known: known.ok(), req })
    }

    /// Finds (or auto-creates) the logstore and picks the shard.
    async fn resolve(&self, c: Checked) -> ApiResult<Prepared> {
        let logstore = match c.known {
            Some(ls) => ls,
            None => {
                let catalog = self.catalog.clone();
                let (p, l, tracking) = (c.req.project.clone(), c.req.logstore.clone(), c.req.web_tracking);
                tokio::task::spawn_blocking(move || catalog.resolve_for_write(&p, &l, tracking))
                    .await
                    .map_err(ApiError::internal)??
            }
        };
        let shard = self.choose_shard(&logstore, c.hash)?;
        Ok(Prepared { append: Append { stream: logstore.id, shard, groups: c.groups }, logstore })
    }

    /// Queues every prepared append, then waits for all acknowledgements.
    async fn commit(&self, prepared: Vec<Prepared>) -> ApiResult<()> {
        let mut acks = Vec::with_capacity(prepared.len());
        for p in prepared {
            let size = Accepted::of(&p.append.groups);
            if p.append.groups.is_empty() {
                // Nothing to store: acknowledged as it is.
                self.metrics.accepted(&p.logstore, &size);
            } else {
                acks.push((self.workers.submit(p.append)?, p.logstore, size));
            }
        }
        for (ack, logstore, size) in acks {
            match ack.await {
                Ok(Ok(_first_seq)) => self.metrics.accepted(&logstore, &size),
                Ok(Err(StoreError::Unavailable(reason))) => {
                    static UNAVAILABLE: crate::logging::Throttle =
                        crate::logging::Throttle::new(crate::logging::REPEAT_INTERVAL_MS);
                    if let Some(suppressed) = UNAVAILABLE.allow() {
                        tracing::warn!(%reason, suppressed, "the shard log refuses writes; answering ServerBusy");
                    }
                    return Err(ApiError::new(
                        ErrorCode::ServerBusy,
                        "the shard log (Kafka) did not take the write in time; retry (a retried request \
                         may be stored twice if its first attempt reached the broker)",
                    ));
                }
                Ok(Err(e)) if e.refuses_all_writes() => {
                    storage_refusal_warning(&e);
                    return Err(ApiError::new(
                        ErrorCode::StorageFull,
                        "the store refuses writes: its disk is full or failing; nothing of this request was \
                         stored; retry once space is freed",
                    ));
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, project = %logstore.project, logstore = %logstore.name, "write failed");
                    return Err(ApiError::internal("the write could not be stored"));
                }
                Err(_) => return Err(ApiError::internal("the shard worker stopped before acknowledging")),
            }
        }
        Ok(())
    }

    /// Auto-creation needs `catalog.auto_create`; for anonymous web tracking also the open mode (no
    /// access keys), so that strangers cannot create logstores on a daemon that has keys.
    fn may_auto_create(&self, req: &PutLogs) -> bool {
        self.catalog.config().auto_create && (!req.web_tracking || self.open_mode)
    }

    fn choose_shard(&self, ls: &Logstore, hash: Option<u128>) -> ApiResult<u32> {
        let chosen = match hash {
            Some(key) => route::route_key(&ls.shards, key),
            None => {
                let turn = self.turn.fetch_add(1, Ordering::Relaxed);
                route::pick_balanced(&ls.shards, turn, |shard| self.workers.queue_len(ls.id, shard))
            }
        };
        chosen.ok_or_else(|| ApiError::new(ErrorCode::ShardNotExist, "no readwrite shard owns this key"))
    }

    /// Decompresses and validates the whole body; returns the records to store.
    /// The most bytes decoding `req` can produce, which decides whether it is decoded on the
    /// async runtime or the blocking pool. A compressed body's output is capped by its declared
    /// size (else the raw limit), so 12 KB of LZ4 declaring 3 MB counts as 3 MB; a package list's
    /// parts are not looked at here and count as the raw limit.
    fn decode_bound(&self, req: &PutLogs) -> usize {
        let max_raw = self.limits.max_raw_bytes;
        match (req.format, req.compression) {
            (BodyFormat::PackageList, _) => max_raw,
            (_, Compression::None) => req.body.len(),
            (_, _) => req.declared_raw.map_or(max_raw, |declared| declared.min(max_raw)),
        }
    }

    fn decode(&self, req: &PutLogs) -> ApiResult<Vec<GroupRecord>> {
        let mut scratch = self.take_scratch();
        let result = self.decode_with(req, &mut scratch);
        self.give_scratch(scratch);
        result
    }

    fn decode_with(&self, req: &PutLogs, scratch: &mut Vec<u8>) -> ApiResult<Vec<GroupRecord>> {
        let now = now_secs();
        let limits = &self.limits;
        if req.body.len() > limits.max_wire_bytes() {
            return Err(ApiError::new(ErrorCode::PostBodyTooLarge, "the request body is too large"));
        }
        let mut records = Vec::new();
        let mut logs = 0usize;
        if req.format == BodyFormat::PackageList {
            let mut raw_total = 0usize;
            for package in split_package_list(&req.body)? {
                let data = req.body.slice_ref(package.data);
                let budget = limits.max_raw_bytes.saturating_sub(raw_total);
                let part = Part {
                    compression: package.compression,
                    body: data,
                    declared: package.uncompress_size,
                    format: BodyFormat::LogGroup,
                };
                let record = self.decode_group(part, budget, now, &req.client_ip, scratch)?;
                raw_total += record.header.raw_len as usize;
                logs += record.header.log_count as usize;
                limits.check_log_count(logs)?;
                records.push(record);
            }
        } else {
            let part = Part {
                compression: req.compression,
                body: req.body.clone(),
                declared: req.declared_raw,
                format: req.format,
            };
            let record = self.decode_group(part, limits.max_raw_bytes, now, &req.client_ip, scratch)?;
            records.push(record);
        }
        records.retain(|r| r.header.log_count > 0);
        Ok(records)
    }

    /// One LogGroup: decompressed with a cap of `max_raw` bytes into `scratch`, converted from
    /// JSON when it is JSON, validated, and kept in the form to store (an LZ4 protobuf body
    /// exactly as received: the decompressed bytes are only looked at, never copied).
    fn decode_group(
        &self,
        part: Part,
        max_raw: usize,
        now: u64,
        client_ip: &str,
        scratch: &mut Vec<u8>,
    ) -> ApiResult<GroupRecord> {
        compress::decompress_into(part.compression, &part.body, part.declared, max_raw, scratch)?;
        let raw: &[u8] = if part.compression == Compression::None { &part.body } else { scratch };
        self.limits.check_raw_size(raw.len())?;
        let converted_pb;
        let (codec, payload, raw): (Codec, Bytes, &[u8]) = match (part.format, part.compression) {
            (BodyFormat::Json(time), _) => {
                converted_pb = Bytes::from(json_to_log_group(raw, time, self.limits.max_logs)?);
                (Codec::None, converted_pb.clone(), &converted_pb)
            }
            (BodyFormat::LtsReport(shape), _) => {
                converted_pb = Bytes::from(report_to_log_group(raw, shape, self.limits.max_logs)?);
                (Codec::None, converted_pb.clone(), &converted_pb)
            }
            (_, Compression::Lz4) => (Codec::Lz4, part.body.clone(), raw),
            (_, Compression::None) => (Codec::None, part.body.clone(), raw),
            (_, Compression::Deflate | Compression::Zstd | Compression::Gzip | Compression::Snappy) => {
                // Stored as LZ4 by the shard worker; the copy is what the queue holds.
                converted_pb = Bytes::copy_from_slice(raw);
                (Codec::None, converted_pb.clone(), &converted_pb)
            }
        };
        // The size rule is about the body the client sent, checked above. A JSON body turned into a
        // LogGroup gains per-log framing the JSON did not carry (field tags, the `content` key,
        // times), so the converted group is not judged by its own size again; it stays bounded by
        // the JSON's size and the log count.
        let converted;
        let limits = match part.format {
            BodyFormat::Json(_) | BodyFormat::LtsReport(_) => {
                converted = Limits { max_raw_bytes: usize::MAX, ..self.limits.clone() };
                &converted
            }
            BodyFormat::LogGroup | BodyFormat::PackageList => &self.limits,
        };
        let stats: GroupStats = validate_log_group(raw, limits, now)?;
        let header = RecordHeader {
            codec,
            raw_len: stats.raw_len,
            log_count: stats.logs,
            min_time: stats.min_time,
            max_time: stats.max_time,
            receive_ns: 0,
            client_ip: client_ip.to_string(),
        };
        Ok(GroupRecord { header, payload })
    }
}

/// A request that passed every check, its logstore not yet resolved.
struct Checked {
    groups: Vec<GroupRecord>,
    hash: Option<u128>,
    known: Option<Arc<Logstore>>,
    req: PutLogs,
}

/// A validated request, ready to queue.
struct Prepared {
    append: Append,
    logstore: Arc<Logstore>,
}

/// One compressed body to decode.
struct Part {
    compression: Compression,
    body: Bytes,
    declared: Option<usize>,
    format: BodyFormat,
}

/// Logs that the store refuses writes at most once per `logging::REPEAT_INTERVAL_MS` (with how
/// many refusals were not logged), however many requests are refused meanwhile.
fn storage_refusal_warning(e: &crate::store::StoreError) {
    static REFUSALS: crate::logging::Throttle = crate::logging::Throttle::new(crate::logging::REPEAT_INTERVAL_MS);
    if let Some(suppressed) = REFUSALS.allow() {
        tracing::error!(error = %e, suppressed, "the store refuses writes; answering StorageFull until it recovers");
    }
}
