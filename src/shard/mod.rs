//! Shard workers: dedicated threads, each fed by one bounded crossbeam channel, that are the only
//! writers of log data. A worker takes everything queued (up to a request and byte budget),
//! LZ4-compresses payloads that arrived in another format, commits all of it in one RocksDB
//! write (group commit) and then acknowledges each request. A full queue is refused at once
//! (`ServerBusy`), so memory never grows with load.
//!
//! Every shard of every logstore is owned by exactly one worker (a hash of logstore id and shard
//! id), so appends to one shard are serialised and keep their order.

use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::error::{ApiError, ErrorCode};
use crate::store::{Append, Codec, ShardLog, StoreError};

/// Group-commit and queue settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub workers: usize,
    pub queue_depth: usize,
    pub max_commit_requests: usize,
    pub max_commit_bytes: usize,
    /// Fsync the WAL on every group commit.
    pub sync: bool,
}

/// One request's append and where to send its outcome (the first sequence number).
pub struct Job {
    pub append: Append,
    pub ack: oneshot::Sender<Result<u64, StoreError>>,
}

impl Job {
    fn bytes(&self) -> usize {
        self.append.groups.iter().map(|g| g.payload.len()).sum()
    }
}

/// The pool of shard workers.
pub struct ShardWorkers {
    senders: RwLock<Option<Vec<Sender<Job>>>>,
    handles: std::sync::Mutex<Vec<JoinHandle<()>>>,
    count: usize,
}

/// Told how long each group commit took (the daemon's metrics); `()` ignores it.
pub trait CommitObserver: Send + Sync + 'static {
    fn committed(&self, worker: usize, elapsed: std::time::Duration);
}

impl CommitObserver for () {
    fn committed(&self, _: usize, _: std::time::Duration) {}
}

impl ShardWorkers {
    pub fn start(store: Arc<dyn ShardLog>, cfg: WorkerConfig) -> Arc<ShardWorkers> {
        Self::start_observed(store, cfg, Arc::new(()))
    }

    /// [`ShardWorkers::start`], telling `observer` the duration of every group commit.
    pub fn start_observed(
        store: Arc<dyn ShardLog>,
        cfg: WorkerConfig,
        observer: Arc<dyn CommitObserver>,
    ) -> Arc<ShardWorkers> {
        let count = cfg.workers.max(1);
        let mut senders = Vec::with_capacity(count);
        let mut handles = Vec::with_capacity(count);
        for index in 0..count {
            let (tx, rx) = bounded::<Job>(cfg.queue_depth.max(1));
            senders.push(tx);
            let store = store.clone();
            let cfg = cfg.clone();
            let observer = observer.clone();
            let handle = std::thread::Builder::new()
                .name(format!("shard-worker-{index}"))
                .spawn(move || worker_loop(store.as_ref(), rx, &cfg, &|elapsed| observer.committed(index, elapsed)))
                .expect("spawn shard worker thread");
            handles.push(handle);
        }
        Arc::new(ShardWorkers { senders: RwLock::new(Some(senders)), handles: std::sync::Mutex::new(handles), count })
    }

    /// Which worker owns a shard.
    pub fn worker_of(&self, stream: Uuid, shard: u32) -> usize {
        let (hi, lo) = stream.as_u64_pair();
        let h = (hi ^ lo.rotate_left(17) ^ u64::from(shard).wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .wrapping_mul(0xff51_afd7_ed55_8ccd);
        ((h >> 32) as usize) % self.count
    }

    /// Requests waiting in the queue of the worker that owns this shard.
    pub fn queue_len(&self, stream: Uuid, shard: u32) -> usize {
        let guard = self.senders.read().expect("senders lock");
        guard.as_ref().map(|s| s[self.worker_of(stream, shard)].len()).unwrap_or(0)
    }

    /// Requests waiting in each worker's queue, by worker index (empty once shut down).
    pub fn queue_lens(&self) -> Vec<usize> {
        let guard = self.senders.read().expect("senders lock");
        guard.as_ref().map(|s| s.iter().map(Sender::len).collect()).unwrap_or_default()
    }

    /// Whether every worker thread still runs (or the pool was shut down and joined them).
    pub fn all_alive(&self) -> bool {
        self.handles.lock().expect("handles lock").iter().all(|h| !h.is_finished())
    }

    /// Queues an append and returns the receiver of its acknowledgement. A full queue or a
    /// stopped pool is `ServerBusy` at once.
    pub fn submit(&self, append: Append) -> Result<oneshot::Receiver<Result<u64, StoreError>>, ApiError> {
        let (ack, rx) = oneshot::channel();
        let worker = self.worker_of(append.stream, append.shard);
        let guard = self.senders.read().expect("senders lock");
        let Some(senders) = guard.as_ref() else {
            return Err(busy("the server is shutting down"));
        };
        match senders[worker].try_send(Job { append, ack }) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_)) => Err(busy("The server is busy, please try again later.")),
            Err(TrySendError::Disconnected(_)) => Err(busy("the server is shutting down")),
        }
    }

    /// Stops taking work, lets every worker drain its queue and commit it, and waits for them.
    pub fn shutdown(&self) {
        self.senders.write().expect("senders lock").take();
        let handles = std::mem::take(&mut *self.handles.lock().expect("handles lock"));
        for h in handles {
            if h.join().is_err() {
                tracing::error!("a shard worker panicked");
            }
        }
    }
}

/// Dropping the pool without `shutdown` (a daemon handle dropped in a test, a panic unwinding)
/// still drains and joins the workers, so no thread outlives the pool while it uses the store.
impl Drop for ShardWorkers {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn busy(message: &str) -> ApiError {
    ApiError::new(ErrorCode::ServerBusy, message)
}

fn worker_loop(store: &dyn ShardLog, rx: Receiver<Job>, cfg: &WorkerConfig, observe: &dyn Fn(std::time::Duration)) {
    while let Ok(first) = rx.recv() {
        let mut bytes = first.bytes();
        let mut jobs = vec![first];
        while jobs.len() < cfg.max_commit_requests && bytes < cfg.max_commit_bytes {
            match rx.try_recv() {
                Ok(job) => {
                    bytes += job.bytes();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        // A panic while committing is a bug (input was validated before it was queued), but it
        // must not take the worker down and leave its shards refusing writes until a restart:
        // the group's requests get an error (their acknowledgement senders are dropped by the
        // unwind; nothing of them was acknowledged) and the worker goes on with the next group.
        // The store records a write's positions only after RocksDB took it, so a panic leaves no gap.
        let started = std::time::Instant::now();
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| commit(store, jobs, cfg.sync))).is_err() {
            tracing::error!(
                "a shard worker panicked while committing; those requests were refused and the worker goes on"
            );
        }
        observe(started.elapsed());
    }
}

/// Commits a group of jobs in one write and acknowledges each. If the group write fails, each job
/// is retried alone so that one bad job (say, a logstore dropped meanwhile) fails only itself.
fn commit(store: &dyn ShardLog, mut jobs: Vec<Job>, sync: bool) {
    for job in &mut jobs {
        compress_payloads(&mut job.append);
    }
    let (mut appends, acks): (Vec<Append>, Vec<_>) = jobs.into_iter().map(|j| (j.append, j.ack)).unzip();
    match store.append(&mut appends, sync) {
        Ok(firsts) => {
            for (ack, first) in acks.into_iter().zip(firsts) {
                let _ = ack.send(Ok(first));
            }
        }
        Err(group_error) if appends.len() == 1 || group_error.refuses_all_writes() => {
            // One request, or a failure of the whole store (a full disk): no request of the group
            // can succeed alone, so each gets the error at once.
            for ack in acks {
                let _ = ack.send(Err(group_error.clone()));
            }
        }
        Err(group_error) => {
            tracing::warn!(error = %group_error, requests = appends.len(), "group commit failed; committing requests one by one");
            for (append, ack) in appends.into_iter().zip(acks) {
                let mut one = [append];
                let _ = ack.send(store.append(&mut one, sync).map(|f| f[0]));
            }
        }
    }
}

/// Stores LZ4 blocks: payloads that arrived uncompressed (or were decompressed from another
/// codec) are compressed here, off the async runtime, when that makes them smaller.
fn compress_payloads(append: &mut Append) {
    for group in &mut append.groups {
        if group.header.codec == Codec::None {
            let packed = lz4_flex::block::compress(&group.payload);
            if packed.len() < group.payload.len() {
                group.payload = bytes::Bytes::from(packed);
                group.header.codec = Codec::Lz4;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{GroupRecord, RecordHeader, StoredGroup};
    use std::sync::Mutex;

    /// A shard log whose appends run a closure; it holds nothing to read.
    struct AppendWith<F>(F);

    impl<F> ShardLog for AppendWith<F>
    where
        F: Fn(&mut [Append]) -> Result<Vec<u64>, StoreError> + Send + Sync + 'static,
    {
        fn append(&self, items: &mut [Append], _sync: bool) -> Result<Vec<u64>, StoreError> {
            (self.0)(items)
        }
        fn read(&self, _: Uuid, _: u32, _: u64, _: usize, _: usize) -> Result<Vec<StoredGroup>, StoreError> {
            Ok(Vec::new())
        }
        fn bounds(&self, _: Uuid, _: u32) -> Result<(u64, u64), StoreError> {
            Ok((1, 1))
        }
        fn seek_receive_time(&self, _: Uuid, _: u32, _: u64) -> Result<u64, StoreError> {
            Ok(1)
        }
        fn trim_before(&self, _: Uuid, _: u32, _: u64) -> Result<u64, StoreError> {
            Ok(0)
        }
        fn groups_in_time(&self, _: Uuid, _: u32, _: u32) -> Result<Vec<(u32, u64)>, StoreError> {
            Ok(Vec::new())
        }
        fn read_at(&self, _: Uuid, _: &[(u32, u64)]) -> Result<Vec<StoredGroup>, StoreError> {
            Ok(Vec::new())
        }
        fn trim_index_before(&self, _: Uuid, _: u32) -> Result<(), StoreError> {
            Ok(())
        }
    }

    /// Appends block until released, to fill queues deterministically.
    #[derive(Default)]
    struct Gate {
        entered: std::sync::atomic::AtomicUsize,
        open: Mutex<bool>,
        cv: std::sync::Condvar,
        appended: Mutex<Vec<usize>>,
    }

    impl Gate {
        fn append(&self, items: &mut [Append]) -> Result<Vec<u64>, StoreError> {
            self.entered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut open = self.open.lock().unwrap();
            while !*open {
                open = self.cv.wait(open).unwrap();
            }
            self.appended.lock().unwrap().push(items.len());
            Ok(items.iter().map(|_| 1).collect())
        }
    }

    fn append(stream: Uuid) -> Append {
        let header = RecordHeader {
            codec: Codec::None,
            raw_len: 3,
            log_count: 1,
            min_time: 0,
            max_time: 0,
            receive_ns: 0,
            client_ip: String::new(),
        };
        Append { stream, shard: 0, groups: vec![GroupRecord { header, payload: bytes::Bytes::from_static(b"abc") }] }
    }

    #[test]
    fn full_queue_is_busy_and_queued_work_is_group_committed() {
        let gate = Arc::new(Gate::default());
        let cfg = WorkerConfig {
            workers: 1,
            queue_depth: 2,
            max_commit_requests: 64,
            max_commit_bytes: 1 << 20,
            sync: false,
        };
        let held = gate.clone();
        let pool = ShardWorkers::start(Arc::new(AppendWith(move |items: &mut [Append]| held.append(items))), cfg);
        let stream = Uuid::new_v4();
        let mut acks = vec![pool.submit(append(stream)).unwrap()];
        // Wait until the worker holds the first job inside the gated append.
        while gate.entered.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        acks.push(pool.submit(append(stream)).unwrap());
        acks.push(pool.submit(append(stream)).unwrap());
        let refused = pool.submit(append(stream)).unwrap_err();
        assert_eq!(refused.code, ErrorCode::ServerBusy);
        *gate.open.lock().unwrap() = true;
        gate.cv.notify_all();
        for ack in acks {
            assert_eq!(ack.blocking_recv().unwrap().unwrap(), 1);
        }
        pool.shutdown();
        assert_eq!(*gate.appended.lock().unwrap(), vec![1, 2], "the two queued requests share one commit");
        assert_eq!(pool.submit(append(stream)).unwrap_err().code, ErrorCode::ServerBusy);
    }

    #[test]
    fn a_panic_while_committing_refuses_that_group_and_the_worker_goes_on() {
        let cfg =
            WorkerConfig { workers: 1, queue_depth: 4, max_commit_requests: 1, max_commit_bytes: 1 << 20, sync: false };
        let panicked = std::sync::atomic::AtomicBool::new(false);
        let store = AppendWith(move |items: &mut [Append]| {
            if !panicked.swap(true, std::sync::atomic::Ordering::SeqCst) {
                panic!("a bug in the store");
            }
            Ok(items.iter().map(|_| 7).collect())
        });
        let pool = ShardWorkers::start(Arc::new(store), cfg);
        let stream = Uuid::new_v4();
        let first = pool.submit(append(stream)).unwrap();
        assert!(first.blocking_recv().is_err(), "the panicked group is not acknowledged");
        let second = pool.submit(append(stream)).unwrap();
        assert_eq!(second.blocking_recv().unwrap().unwrap(), 7, "the same worker serves the next request");
        pool.shutdown();
    }

    #[test]
    fn uncompressed_payloads_are_stored_as_lz4_when_smaller() {
        let mut a = append(Uuid::nil());
        a.groups[0].payload = bytes::Bytes::from(vec![b'x'; 4096]);
        compress_payloads(&mut a);
        assert_eq!(a.groups[0].header.codec, Codec::Lz4);
        let back = lz4_flex::block::decompress(&a.groups[0].payload, 4096).unwrap();
        assert_eq!(back, vec![b'x'; 4096]);
    }
}
