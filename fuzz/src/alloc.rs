//! A global allocator that turns any single allocation above [`LIMIT`] into an abort, so that a
//! decompression bomb or a lying size that reaches the allocator is a crash with its input saved,
//! whichever sanitizer (or none) the fuzz binaries were built with. libFuzzer's own
//! `-malloc_limit_mb` only works where a sanitizer runtime installs its malloc hooks; this one
//! works everywhere, including under `cargo test` (tests/fuzz_corpus.rs installs it too).
//!
//! Nothing in logtide's pure entry points may allocate more than the 3 MiB raw limit at once;
//! 64 MiB leaves room for any honest growth strategy and still catches an allocation sized by a
//! client's claim.

use std::alloc::{GlobalAlloc, Layout, System};

/// The largest single allocation allowed: 64 MiB, as `-malloc_limit_mb=64`.
pub const LIMIT: usize = 64 * 1024 * 1024;

/// [`System`], refusing allocations above [`LIMIT`] with a message and an abort.
pub struct Capped;

#[cold]
fn too_large(size: usize) -> ! {
    // No allocation here: the message is written with a fixed buffer.
    use std::io::Write;
    let mut buf = [0u8; 128];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let _ = writeln!(cursor, "fuzz alloc cap: an allocation of {size} bytes (limit {LIMIT})");
    let n = cursor.position() as usize;
    let _ = std::io::stderr().write_all(&buf[..n]);
    std::process::abort();
}

// SAFETY: every call is forwarded to `System` unchanged, or aborts before allocating.
unsafe impl GlobalAlloc for Capped {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > LIMIT {
            too_large(layout.size());
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > LIMIT {
            too_large(layout.size());
        }
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > LIMIT {
            too_large(new_size);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
