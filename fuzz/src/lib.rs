//! logtide's fuzz targets as a library: [`targets`] holds the bodies (also replayed by
//! `tests/fuzz_corpus.rs` in the main crate), [`alloc`] the allocation cap every fuzz binary
//! installs. Each `fuzz_targets/<name>.rs` is a one-line `fuzz_target!` calling
//! `targets::<name>`. See docs/fuzzing.md.

pub mod alloc;
pub mod targets;
