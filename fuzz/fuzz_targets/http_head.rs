#![no_main]

#[global_allocator]
static ALLOC: logtide_fuzz::alloc::Capped = logtide_fuzz::alloc::Capped;

libfuzzer_sys::fuzz_target!(|data: &[u8]| logtide_fuzz::targets::http_head(data));
