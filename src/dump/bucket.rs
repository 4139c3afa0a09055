//! Where dump files go. By default a bucket is a directory under `dump.root` (see
//! [`super::bucket_dir`]). With `[dump.s3]` configured, every bucket is a bucket of that
//! S3-compatible object store, reached through the `object_store` crate: a bucket exists when it
//! can be listed, and a window's file is spooled to a local temp file, then uploaded with a
//! multipart writer, so memory stays bounded whatever the window holds. An object appears whole
//! or not at all (S3 puts are atomic), which gives the same once-per-window promise as the rename
//! of the local layout.
//!
//! The export runs on the blocking pool; the uploads are driven with the runtime's handle from
//! there.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::ObjectStore;
use tokio::io::AsyncWriteExt;

use crate::config::{DumpConfig, S3Config};
use crate::error::{ApiError, ApiResult, ErrorCode};

/// The configured bucket backend.
#[derive(Debug, Clone)]
pub enum Buckets {
    /// Bucket `b` is the directory `<root>/b`.
    Local(PathBuf),
    /// Buckets of an S3-compatible store.
    S3(S3Config),
}

/// An existing bucket, ready to receive files.
pub enum Target {
    /// The bucket's canonical directory.
    Dir(PathBuf),
    Store {
        bucket: String,
        store: Arc<dyn ObjectStore>,
    },
}

impl Buckets {
    pub fn from_config(cfg: &DumpConfig) -> Buckets {
        match &cfg.s3 {
            Some(s3) => Buckets::S3(s3.clone()),
            None => Buckets::Local(cfg.root.clone()),
        }
    }

    /// The bucket, checked to exist (`LTS.0416` otherwise).
    pub fn open(&self, name: &str) -> ApiResult<Target> {
        match self {
            Buckets::Local(root) => super::bucket_dir(root, name).map(Target::Dir),
            Buckets::S3(cfg) => {
                super::check_bucket_name(name)?;
                let store: Arc<dyn ObjectStore> = Arc::new(
                    AmazonS3Builder::new()
                        .with_endpoint(&cfg.endpoint)
                        .with_region(&cfg.region)
                        .with_bucket_name(name)
                        .with_access_key_id(&cfg.access_key_id)
                        .with_secret_access_key(cfg.secret_access_key.expose())
                        .with_allow_http(cfg.endpoint.starts_with("http://"))
                        .build()
                        .map_err(|e| ApiError::internal(format!("object store for bucket {name}: {e}")))?,
                );
                let probe = store.clone();
                block_on(async move { probe.list_with_delimiter(None).await }).map_err(|e| {
                    ApiError::new(ErrorCode::BucketNotExist, format!("obs bucket does not exist: {name} ({e})"))
                })?;
                Ok(Target::Store { bucket: name.to_string(), store })
            }
        }
    }
}

/// Runs a future to completion from the blocking pool (or a plain thread inside a runtime).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle.block_on(f),
        // Outside any runtime (a unit test): a small one for this call.
        Err(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime")
            .block_on(f),
    }
}

/// A local temp file a window is written to before its upload; removed when dropped.
pub struct Spool {
    pub path: PathBuf,
}

impl Spool {
    pub fn create() -> ApiResult<(Spool, std::io::BufWriter<std::fs::File>)> {
        let path = std::env::temp_dir().join(format!("logtide-dump-{}.tmp", uuid::Uuid::new_v4().simple()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| ApiError::internal(format!("{}: {e}", path.display())))?;
        Ok((Spool { path }, std::io::BufWriter::new(file)))
    }

    /// Uploads the spooled file as `key` of the bucket, in parts, and returns its location.
    pub fn upload(
        self,
        writer: std::io::BufWriter<std::fs::File>,
        bucket: &str,
        store: &Arc<dyn ObjectStore>,
        key: &Path,
    ) -> ApiResult<String> {
        let internal = |e: &dyn std::fmt::Display| ApiError::internal(format!("upload of {}: {e}", key.display()));
        writer.into_inner().map_err(|e| internal(&e))?;
        let key_text = key.to_str().ok_or_else(|| internal(&"the key is not UTF-8"))?.to_string();
        let location = object_store::path::Path::parse(&key_text).map_err(|e| internal(&e))?;
        let mut file = std::fs::File::open(&self.path).map_err(|e| internal(&e))?;
        let store = store.clone();
        block_on(async move {
            let mut upload = object_store::buffered::BufWriter::new(store, location);
            let mut chunk = vec![0u8; 1024 * 1024];
            loop {
                let n = file.read(&mut chunk)?;
                if n == 0 {
                    break;
                }
                upload.write_all(&chunk[..n]).await?;
            }
            upload.shutdown().await
        })
        .map_err(|e| internal(&e))?;
        Ok(format!("s3://{bucket}/{key_text}"))
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
