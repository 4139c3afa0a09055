//! The SLS wire layer, as pure functions with no I/O: the protobuf schema, capped decompression of
//! request bodies, an in-place (non-allocating) validator for serialized `LogGroup`s, and the
//! `x-log-mode: batch_group` package list, and the JSON bodies of the other front doors (SLS JSON,
//! the container-log callback, LTS log reports) turned into `LogGroup`s. See `shared/docs/protocols/sls.md` §1, §2.6 and §4.
//!
//! Architecture invariants:
//! - Nothing here trusts a size the client declares: `x-log-bodyrawsize` and
//!   `SlsLogPackage.uncompress_size` are checked against a cap before anything is allocated, and
//!   decompression never produces more than that cap.
//! - [`loggroup::validate_log_group`] walks the bytes without decoding them into owned messages;
//!   the stored form of a request is the raw protobuf it arrived as.
//! - This module never imports hyper or rocksdb.

pub mod callback;
pub mod compress;
pub mod json;
pub mod loggroup;
pub mod lts;
pub mod package;

/// Generated protobuf types (prost) for the SLS schema.
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/sls_logs.rs"));
}
