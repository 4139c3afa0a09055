//! The CI stand-in for a fuzzing run (docs/fuzzing.md): every seed of `fuzz/corpus/<target>/` is
//! replayed through its fuzz target, then proptest feeds each target a few thousand generated
//! inputs: arbitrary bytes, and seeds mutated the way parsers break (truncation, bit flips, varints
//! over 10 bytes, huge length prefixes, group wire types, bad UTF-8, lying declared sizes). The
//! targets are the very functions the cargo-fuzz binaries call (`fuzz/src/targets.rs`), and the
//! same 64 MiB allocation cap is installed, so a bomb aborts here as it would under libFuzzer.
//!
//! `cargo test --test fuzz_corpus -- --ignored write_seed_corpus` regenerates the seeds.
//! `FUZZ_SMOKE_CASES=N` changes the number of generated inputs per property (default 1500).
//!
//! Regression tests for what fuzzing found are at the end of this file.

#[path = "../fuzz/src/alloc.rs"]
mod alloc;
#[path = "../fuzz/src/targets.rs"]
mod targets;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::Index;
use prost::Message;

use logtide::wire::compress::{compress, Compression};
use logtide::wire::pb;
use targets::{BIG_CAP, DECLARED, TARGETS, USED_BUFFER};

#[global_allocator]
static ALLOC: alloc::Capped = alloc::Capped;

/// Largest seed file, and largest corpus in all.
const MAX_SEED: usize = 64 * 1024;
const MAX_CORPUS: usize = 2 * 1024 * 1024;
/// Seeds larger than this are replayed but not mutated (mutating them is slow in debug builds).
const MAX_MUTATED_SEED: usize = 16 * 1024;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join("corpus").join(target)
}

fn target_fn(name: &str) -> fn(&[u8]) {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f).unwrap_or_else(|| panic!("no target {name}"))
}

/// The seed files of a target, sorted by name.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("a directory entry").path();
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path.file_name().unwrap().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    files.sort();
    files
}

/// `FUZZ_SMOKE_CASES` generated inputs per property (default 1500). Failures are not persisted:
/// proptest prints the minimal failing input, which becomes a regression test below.
fn config() -> ProptestConfig {
    let cases = std::env::var("FUZZ_SMOKE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1500);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

// ---- replaying the corpus ----

#[test]
fn every_target_has_a_small_seed_corpus() {
    let mut total = 0;
    for (name, _) in TARGETS {
        let files = corpus(name);
        assert!(files.len() >= 3, "{name}: only {} seeds", files.len());
        for (file, bytes) in &files {
            assert!(bytes.len() <= MAX_SEED, "{name}/{file} is {} bytes", bytes.len());
            total += bytes.len();
        }
    }
    assert!(total <= MAX_CORPUS, "the seed corpus is {total} bytes");
    let on_disk: Vec<String> = std::fs::read_dir(corpus_dir(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for dir in on_disk {
        assert!(TARGETS.iter().any(|(n, _)| *n == dir), "fuzz/corpus/{dir} belongs to no target");
    }
}

#[test]
fn every_seed_replays_without_a_finding() {
    let mut failures = Vec::new();
    for (name, f) in TARGETS {
        for (file, bytes) in corpus(name) {
            if std::panic::catch_unwind(|| f(&bytes)).is_err() {
                failures.push(format!("{name}/{file}"));
            }
        }
    }
    assert!(failures.is_empty(), "seeds with findings: {failures:?}");
}

/// The signature seeds are real requests: the documented vectors must verify, or the auth target
/// would only ever fuzz the refusal paths.
#[test]
fn signature_vectors_in_the_corpus_verify() {
    let seeds: std::collections::HashMap<String, Vec<u8>> = corpus("auth").into_iter().collect();
    for (file, sls_ok, lts_ok) in [
        ("sls-v1-vector", true, false),
        ("sls-v4-vector", true, false),
        ("lts-get-vector", false, true),
        ("lts-post-vector", false, true),
    ] {
        let req = targets::parse_request(&seeds[file]);
        let (sls, lts) = targets::verdicts(&req);
        assert_eq!(sls.is_ok(), sls_ok, "{file}: {sls:?}");
        assert_eq!(lts.is_ok(), lts_ok, "{file}: {lts:?}");
    }
}

// ---- generated inputs ----

/// A byte string that parsers tend to trip on.
fn nasty() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(vec![0xff; 11]),                                 // a varint over 10 bytes
        Just(vec![0x80; 9]),                                  // a varint that never ends
        Just(vec![0xff, 0xff, 0xff, 0xff, 0x0f]),             // length 0xFFFFFFFF
        Just(vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),       // field 1, length 0xFFFFFFFF
        Just(vec![0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), // field 1, length 2^35
        Just(vec![0x0b]),                                     // field 1, start group
        Just(vec![0x0c]),                                     // field 1, end group
        Just(vec![0x0e]),                                     // wire type 6
        Just(vec![0x00]),                                     // field 0
        Just(vec![0x25, 0x00, 0xca, 0x9a, 0x3b]),             // time_ns = 1e9
        Just(vec![0xc3, 0x28]),                               // invalid UTF-8
        Just(b"__time__".to_vec()),
        Just(b"\\ud800".to_vec()),
        Just(b"1e400".to_vec()),
        Just(b"[[[[[[[[[[[[[[[[".to_vec()),
        Just(b"((((((((((((((((".to_vec()),
        Just(b"NOT NOT NOT NOT ".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\n\n".to_vec()),
        Just(b"%ff%00".to_vec()),
        any::<u64>().prop_map(|v| v.to_le_bytes().to_vec()),
        proptest::collection::vec(any::<u8>(), 1..16),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(Index),
    Flip(Index, u8),
    Insert(Index, Vec<u8>),
    Overwrite(Index, Vec<u8>),
    Remove(Index, Index),
    Duplicate(Index, Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 1..=255u8).prop_map(|(at, bits)| Mutation::Flip(at, bits)),
        (any::<Index>(), nasty()).prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        (any::<Index>(), nasty()).prop_map(|(at, bytes)| Mutation::Overwrite(at, bytes)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Remove(a, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Duplicate(a, b)),
    ]
}

fn apply(mut buf: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = buf.len();
        let at = |i: &Index| if len == 0 { 0 } else { i.index(len + 1) };
        match m {
            Mutation::Truncate(i) => buf.truncate(at(i)),
            Mutation::Flip(i, bits) if len > 0 => buf[i.index(len)] ^= bits,
            Mutation::Flip(..) => {}
            Mutation::Insert(i, bytes) => {
                let at = at(i);
                buf.splice(at..at, bytes.iter().copied());
            }
            Mutation::Overwrite(i, bytes) => {
                let at = at(i);
                let end = (at + bytes.len()).min(len);
                buf.splice(at..end, bytes.iter().copied());
            }
            Mutation::Remove(a, b) => {
                let (a, b) = (at(a), at(b));
                buf.drain(a.min(b)..a.max(b));
            }
            Mutation::Duplicate(a, b) => {
                let (a, b) = (at(a), at(b));
                let copy = buf[a.min(b)..a.max(b)].to_vec();
                buf.splice(a.max(b)..a.max(b), copy);
            }
        }
    }
    buf
}

/// The seeds of `target` small enough to mutate, loaded once.
fn pool(target: &'static str) -> &'static [Vec<u8>] {
    static POOLS: OnceLock<std::collections::HashMap<&'static str, Vec<Vec<u8>>>> = OnceLock::new();
    let pools = POOLS.get_or_init(|| {
        TARGETS
            .iter()
            .map(|(name, _)| {
                let small = corpus(name).into_iter().map(|(_, b)| b).filter(|b| b.len() <= MAX_MUTATED_SEED).collect();
                (*name, small)
            })
            .collect()
    });
    &pools[target]
}

/// A seed of `target` with one to four mutations.
fn mutant(target: &'static str) -> impl Strategy<Value = Vec<u8>> {
    (any::<Index>(), proptest::collection::vec(mutation(), 1..5)).prop_map(move |(pick, mutations)| {
        let seeds = pool(target);
        apply(seeds[pick.index(seeds.len())].clone(), &mutations)
    })
}

/// A decompress seed with its header replaced: any flags, and a declared size that is honest,
/// off by a little, huge, or anything at all.
fn lying_size(target: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let declared = prop_oneof![
        Just(u64::MAX),
        Just(64u64 << 30),
        Just(3u64 << 20),
        Just((3u64 << 20) + 1),
        0u64..70_000,
        any::<u64>(),
    ];
    (any::<Index>(), 0u8..8, declared, any::<Index>(), any::<bool>()).prop_map(
        move |(pick, flags, declared, cut, truncate)| {
            let seeds = pool(target);
            let seed = &seeds[pick.index(seeds.len())];
            let (_, _, body) = targets::split_decompress_input(seed);
            let body = if truncate { &body[..cut.index(body.len() + 1)] } else { body };
            targets::decompress_input(flags, declared, body)
        },
    )
}

macro_rules! smoke {
    ($($target:ident),* $(,)?) => {
        mod smoke {
            use super::*;
            $(
                mod $target {
                    use super::*;
                    proptest! {
                        #![proptest_config(config())]
                        #[test]
                        fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
                            target_fn(stringify!($target))(&data);
                        }
                        #[test]
                        fn mutated_seeds(data in mutant(stringify!($target))) {
                            target_fn(stringify!($target))(&data);
                        }
                    }
                }
            )*
        }
    };
}

smoke!(
    loggroup,
    decompress_lz4,
    decompress_deflate,
    decompress_zstd,
    decompress_gzip,
    decompress_snappy,
    package,
    sls_json,
    callback,
    lts_report,
    mgmt_json,
    auth,
    http_head,
    hash_key,
    sls_query,
);

proptest! {
    #![proptest_config(config())]

    #[test]
    fn decompress_with_lying_sizes((which, data) in prop_oneof![
        lying_size("decompress_lz4").prop_map(|d| (0, d)),
        lying_size("decompress_deflate").prop_map(|d| (1, d)),
        lying_size("decompress_zstd").prop_map(|d| (2, d)),
        lying_size("decompress_gzip").prop_map(|d| (3, d)),
        lying_size("decompress_snappy").prop_map(|d| (4, d)),
    ]) {
        let target = ["decompress_lz4", "decompress_deflate", "decompress_zstd", "decompress_gzip", "decompress_snappy"][which];
        target_fn(target)(&data);
    }

    /// Structured LogGroups (any logs, tags, times, keys), valid or not, through the scanner.
    #[test]
    fn structured_log_groups(group in any_group()) {
        targets::loggroup(&group.encode_to_vec());
    }
}

fn any_group() -> impl Strategy<Value = pb::LogGroup> {
    let text = prop_oneof![Just(String::new()), "[a-z_]{1,10}", "__[a-z]{1,8}__", ".{0,20}", "x{129}"];
    let time = prop_oneof![
        Just(targets::NOW as u32),
        0u32..=u32::MAX,
        (targets::NOW as u32 - 700_000)..(targets::NOW as u32 + 1000)
    ];
    let content = (text.clone(), text.clone()).prop_map(|(key, value)| pb::log::Content { key, value });
    let log = (time, proptest::collection::vec(content, 0..4), proptest::option::of(0u32..1_100_000_000))
        .prop_map(|(time, contents, time_ns)| pb::Log { time, contents, time_ns });
    let tag = (text.clone(), text.clone()).prop_map(|(key, value)| pb::LogTag { key, value });
    (
        proptest::collection::vec(log, 0..6),
        proptest::option::of(text.clone()),
        proptest::option::of(text.clone()),
        proptest::collection::vec(tag, 0..3),
    )
        .prop_map(|(logs, topic, source, log_tags)| pb::LogGroup {
            logs,
            topic,
            source,
            log_tags,
            ..Default::default()
        })
}

// ---- the seed corpus ----

/// Writes every generated seed into `fuzz/corpus/<target>/<name>` (other files there are left
/// alone: inputs that fuzzing found and that were worth keeping live beside the seeds).
#[test]
#[ignore = "writes fuzz/corpus; run on purpose"]
fn write_seed_corpus() {
    for (target, name, bytes) in seeds::all() {
        assert!(bytes.len() <= MAX_SEED, "{target}/{name} is {} bytes", bytes.len());
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

mod seeds {
    use super::*;
    use pb::log::Content;
    use pb::{Log, LogGroup, LogTag};

    const NOW: u32 = targets::NOW as u32;

    fn log(time: u32, fields: &[(&str, &str)]) -> Log {
        let contents = fields.iter().map(|(k, v)| Content { key: k.to_string(), value: v.to_string() }).collect();
        Log { time, contents, time_ns: None }
    }

    fn tags(pairs: &[(&str, &str)]) -> Vec<LogTag> {
        pairs.iter().map(|(k, v)| LogTag { key: k.to_string(), value: v.to_string() }).collect()
    }

    /// The LogGroup the Python SDK sends for one `LogItem` with a topic and source.
    fn py_group() -> LogGroup {
        LogGroup {
            logs: vec![log(NOW, &[("msg", "hello"), ("level", "INFO")])],
            topic: Some("topic".into()),
            source: Some("10.0.0.1".into()),
            ..Default::default()
        }
    }

    /// What loongcollector sends: nginx-like lines, nanosecond times, machine uuid, host tags.
    fn collector_group(n: usize) -> LogGroup {
        let logs = (0..n)
            .map(|i| {
                let mut l = log(
                    NOW - i as u32,
                    &[
                        ("remote_addr", "192.168.1.7"),
                        ("request", "GET /api/v1/items?id=42 HTTP/1.1"),
                        ("status", "200"),
                        ("body_bytes_sent", "5123"),
                        ("http_user_agent", "Mozilla/5.0 (X11; Linux x86_64)"),
                    ],
                );
                l.time_ns = Some(123_456_789 + i as u32);
                l
            })
            .collect();
        LogGroup {
            logs,
            topic: Some("nginx".into()),
            source: Some("172.16.0.9".into()),
            machine_uuid: Some("5c1e8a1f-0000-4000-8000-000000000001".into()),
            log_tags: tags(&[("__hostname__", "web-1"), ("__path__", "/var/log/nginx/access.log")]),
            ..Default::default()
        }
    }

    fn enc(g: &LogGroup) -> Vec<u8> {
        g.encode_to_vec()
    }

    /// The raw LogGroups the other seeds compress and wrap.
    fn raw_groups() -> Vec<(&'static str, Vec<u8>)> {
        vec![("py", enc(&py_group())), ("collector10", enc(&collector_group(10))), ("empty", Vec::new())]
    }

    fn loggroup() -> Vec<(String, Vec<u8>)> {
        let one = enc(&LogGroup { logs: vec![log(NOW, &[("k", "v")])], ..Default::default() });
        let mut loongcollector = enc(&collector_group(3));
        // Log field 3 (loongcollector's internal `values`) and an unknown group field: skipped.
        loongcollector.extend_from_slice(&[0x3a, 0x03, b'x', b'y', b'z', 0xf8, 0x01, 0x07]);
        let max_key = "k".repeat(128);
        let max_meta = "m".repeat(128);
        let big = enc(&LogGroup {
            logs: vec![log(NOW, &[(&max_key, &"v".repeat(60 * 1024))])],
            topic: Some(max_meta.clone()),
            source: Some(max_meta.clone()),
            log_tags: tags(&[(&max_meta, &max_meta)]),
            ..Default::default()
        });
        // 4097 logs of one field each: one over the count limit (count amplification, B5).
        let many = enc(&LogGroup { logs: vec![log(NOW, &[]); 4097], ..Default::default() });
        let mut ns = py_group();
        ns.logs[0].time_ns = Some(999_999_999);
        let mut bad_ns = py_group();
        bad_ns.logs[0].time_ns = Some(1_000_000_000);
        let old = enc(&LogGroup { logs: vec![log(NOW - 7 * 86400 - 1, &[("k", "v")])], ..Default::default() });
        let future = enc(&LogGroup { logs: vec![log(NOW + 901, &[("k", "v")])], ..Default::default() });
        let reserved = enc(&LogGroup { logs: vec![log(NOW, &[("__time__", "1")])], ..Default::default() });
        let empty_key = enc(&LogGroup { logs: vec![log(NOW, &[("", "v")])], ..Default::default() });
        let mut bad_utf8 = one.clone();
        let at = bad_utf8.len() - 1;
        bad_utf8[at] = 0xff;
        // Hand-made framing errors.
        let no_time = vec![0x0a, 0x08, 0x12, 0x06, 0x0a, 0x01, b'k', 0x12, 0x01, b'v'];
        let group_wire = vec![0x0b, 0x0c];
        let huge_len = vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x08, 0x01];
        let long_varint = [&[0x08][..], &[0xff; 10], &[0x01]].concat();
        let trailing = [&one[..], &[0x0a]].concat();
        vec![
            ("empty".into(), Vec::new()),
            ("one-log".into(), one),
            ("py-sdk".into(), enc(&py_group())),
            ("loongcollector".into(), loongcollector),
            ("collector-10".into(), enc(&collector_group(10))),
            ("max-sizes".into(), big),
            ("4097-logs".into(), many),
            ("time-ns-max".into(), enc(&ns)),
            ("time-ns-over".into(), enc(&bad_ns)),
            ("time-too-old".into(), old),
            ("time-in-future".into(), future),
            ("reserved-key".into(), reserved),
            ("empty-key".into(), empty_key),
            ("bad-utf8".into(), bad_utf8),
            ("missing-time".into(), no_time),
            ("group-wire-type".into(), group_wire),
            ("huge-length".into(), huge_len),
            ("varint-11-bytes".into(), long_varint),
            ("trailing-byte".into(), trailing),
        ]
    }

    /// `len` zeros compressed with `c`, written in 1 MiB steps.
    fn bomb(c: Compression, len: usize) -> Vec<u8> {
        use std::io::Write;
        let chunk = vec![0u8; 1 << 20];
        fn feed(w: &mut impl Write, chunk: &[u8], n: usize) {
            for _ in 0..n {
                w.write_all(chunk).unwrap();
            }
        }
        let best = flate2::Compression::best();
        match c {
            Compression::Deflate => {
                let mut z = flate2::write::ZlibEncoder::new(Vec::new(), best);
                feed(&mut z, &chunk, len >> 20);
                z.finish().unwrap()
            }
            Compression::Gzip => {
                let mut z = flate2::write::GzEncoder::new(Vec::new(), best);
                feed(&mut z, &chunk, len >> 20);
                z.finish().unwrap()
            }
            Compression::Zstd => {
                let mut z = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
                feed(&mut z, &chunk, len >> 20);
                z.finish().unwrap()
            }
            _ => compress(c, &vec![0u8; len]),
        }
    }

    fn decompress(c: Compression) -> Vec<(String, Vec<u8>)> {
        let input = targets::decompress_input;
        let mut out = Vec::new();
        for (name, raw) in raw_groups() {
            let body = compress(c, &raw);
            let len = raw.len() as u64;
            out.push((format!("{name}-honest"), input(DECLARED, len, &body)));
            out.push((format!("{name}-no-size"), input(0, 0, &body)));
            if name == "collector10" {
                out.push((format!("{name}-size-minus-1"), input(DECLARED, len - 1, &body)));
                out.push((format!("{name}-size-plus-1"), input(DECLARED, len + 1, &body)));
                out.push((format!("{name}-size-64gib"), input(DECLARED, 64 << 30, &body)));
                out.push((format!("{name}-size-max"), input(DECLARED, u64::MAX, &body)));
                out.push((format!("{name}-big-cap-used-buffer"), input(DECLARED | BIG_CAP | USED_BUFFER, len, &body)));
                out.push((format!("{name}-truncated"), input(DECLARED, len, &body[..body.len() / 2])));
            }
        }
        // Bombs: far more output than any cap, declared honestly, not at all, or as a small lie,
        // under the small cap and under the real 3 MiB one.
        let (bomb_len, name) = match c {
            Compression::Lz4 => (3 << 20, "bomb-3mib"),
            Compression::Snappy => (1 << 20, "bomb-1mib"),
            _ => (32 << 20, "bomb-32mib"),
        };
        let b = bomb(c, bomb_len);
        out.push((format!("{name}-no-size"), input(0, 0, &b)));
        out.push((format!("{name}-no-size-3mib-cap"), input(BIG_CAP, 0, &b)));
        out.push((format!("{name}-honest-3mib-cap"), input(DECLARED | BIG_CAP, bomb_len as u64, &b)));
        out.push((format!("{name}-lying-1000"), input(DECLARED, 1000, &b)));
        out.push(("garbage".into(), input(DECLARED, 100, &[0xff; 64])));
        out.push(("empty-body".into(), input(DECLARED, 0, &[])));
        match c {
            Compression::Zstd => {
                let ok = compress(c, b"ok");
                let skippable = [&[0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 0xaa, 0xbb][..], &ok].concat();
                out.push(("skippable-frame".into(), input(DECLARED, 2, &skippable)));
                let two = [compress(c, b"ab"), compress(c, b"cd")].concat();
                out.push(("two-frames".into(), input(DECLARED, 4, &two)));
                let mut legacy = compress(c, b"legacy frame");
                legacy[0] = 0x27;
                out.push(("legacy-magic".into(), input(DECLARED, 12, &legacy)));
            }
            Compression::Snappy => {
                use std::io::Write;
                let mut w = snap::write::FrameEncoder::new(Vec::new());
                w.write_all(&enc(&collector_group(10))).unwrap();
                out.push(("framed".into(), input(0, 0, &w.into_inner().unwrap())));
                out.push(("length-prefix-1gib".into(), input(0, 0, &[0x80, 0x80, 0x80, 0x80, 0x04, 0x00])));
            }
            Compression::Gzip => {
                let two = [compress(c, b"member one "), compress(c, b"member two")].concat();
                out.push(("two-members".into(), input(0, 0, &two)));
            }
            Compression::Deflate => {
                let gz = compress(Compression::Gzip, &enc(&py_group()));
                out.push(("gzip-not-zlib".into(), input(0, 0, &gz)));
                let trailing = [compress(c, b"abc"), b"trailing".to_vec()].concat();
                out.push(("trailing-bytes".into(), input(DECLARED, 3, &trailing)));
            }
            _ => {}
        }
        out
    }

    fn package() -> Vec<(String, Vec<u8>)> {
        use pb::SlsCompressType::*;
        let pkg = |raw: &[u8], t: Option<pb::SlsCompressType>, c: Compression, size: Option<i32>| pb::SlsLogPackage {
            data: compress(c, raw),
            uncompress_size: size,
            compress_type: t.map(|t| t as i32),
        };
        let list = |packages: Vec<pb::SlsLogPackage>| pb::SlsLogPackageList { packages }.encode_to_vec();
        let a = enc(&py_group());
        let b = enc(&collector_group(5));
        let n = |r: &[u8]| Some(r.len() as i32);
        vec![
            ("empty".into(), Vec::new()),
            (
                "java-every-codec".into(),
                list(vec![
                    pkg(&a, Some(SlsCmpLz4), Compression::Lz4, n(&a)),
                    pkg(&b, Some(SlsCmpDeflate), Compression::Deflate, n(&b)),
                    pkg(&a, Some(SlsCmpZstd), Compression::Zstd, n(&a)),
                    pkg(&b, Some(SlsCmpNone), Compression::None, n(&b)),
                ]),
            ),
            ("loongcollector-lz4".into(), list(vec![pkg(&b, None, Compression::Lz4, n(&b)); 3])),
            ("no-size".into(), list(vec![pkg(&a, Some(SlsCmpZstd), Compression::Zstd, None)])),
            ("lying-size".into(), list(vec![pkg(&b, Some(SlsCmpLz4), Compression::Lz4, Some(i32::MAX))])),
            ("negative-size".into(), list(vec![pkg(&a, Some(SlsCmpNone), Compression::None, Some(-5))])),
            (
                "unknown-type".into(),
                list(vec![pb::SlsLogPackage { data: a.clone(), uncompress_size: None, compress_type: Some(7) }]),
            ),
            ("empty-packages".into(), [0x0a, 0x02, 0x0a, 0x00].repeat(1000)),
            ("package-without-data".into(), vec![0x0a, 0x02, 0x10, 0x03]),
        ]
    }

    fn sls_json() -> Vec<(String, Vec<u8>)> {
        let many = format!(r#"{{"__logs__":[{}]}}"#, vec![r#"{"k":"v"}"#; 4097].join(","));
        let deep = format!(r#"{{"__logs__":[{{"k":{}1{}}}]}}"#, "[".repeat(200), "]".repeat(200));
        [
            ("browser-sdk", r#"{"__logs__":[{"customer":"zhangsan","price":"7998","obj":"{\"a\":1}","__time__":5}],"__tags__":{"env":"dev"},"__topic__":"tp","__source__":"src"}"#),
            ("sts-plugin", r#"{"__logs__":[{"__time__":1700000000,"k":"sts"}],"__topic__":"sts"}"#),
            ("java-json-mode", r#"{"__topic__":"t","__source__":"s","__logs__":[{"__time__":"1700000000","__time_ns_part__":123456789,"level":"INFO","msg":"hello"},{"__time__":1699999990,"msg":"second"}],"__tags__":{"host":"h1"}}"#),
            ("non-string-values", r#"{"__logs__":[{"n":12,"f":1.5,"b":true,"z":null,"a":[1,"x"],"o":{"k":"v"},"neg":-3}],"__tags__":null}"#),
            ("duplicate-keys", r#"{"__logs__":[{"k":"1","k":"2","__time__":1,"__time__":1700000000}],"__topic__":"a"}"#),
            ("repeated-logs", r#"{"__logs__":[{"k":"a"}],"__logs__":[{"k":"b"},{"k":"c"}]}"#),
            ("escapes", r#"{"\u005f_logs__":[{"k\u00e9y":"v\n\"\u263a\ud83d\ude00"}],"__topic__":"\u0000"}"#),
            ("reserved-key", r#"{"__logs__":[{"k":"v"},{"__topic__":"reserved"}]}"#),
            ("bad-time", r#"{"__logs__":[{"__time__":-1,"k":"v"},{"__time__":"x"},{"__time_ns_part__":4294967296}]}"#),
            ("huge-number", r#"{"__logs__":[{"k":1e400}]}"#),
            ("lone-surrogate", r#"{"__logs__":[{"k":"\ud800"}]}"#),
            ("not-an-object", r#"[{"__logs__":[]}]"#),
            ("tags-array", r#"{"__logs__":[],"__tags__":["a"]}"#),
            ("bom", "\u{feff}{\"__logs__\":[]}"),
            ("trailing", r#"{"__logs__":[]} x"#),
        ]
        .into_iter()
        .map(|(n, b)| (n.to_string(), b.as_bytes().to_vec()))
        .chain([("4097-logs".to_string(), many.into_bytes()), ("deep-nesting".to_string(), deep.into_bytes())])
        .collect()
    }

    fn callback_record(stamp: &str) -> serde_json::Value {
        serde_json::json!({
            "@timestamp": stamp, "application_name": "log", "component": "23fdsf23",
            "container_id": "23fdsf23", "container_id8": "23fdsf23", "docker_container_name": "agnet-23fdsf23",
            "file_name": "file", "kubernetes_container_name": "kube-pod-klcsf", "kubernetes_namespace": "system",
            "log_data": "2023-11-14 22:13:20 INFO started", "node": "192.168.0.1", "paths": " /api/v1/namespaces/",
            "pod_id": "121f0ff7", "pod_name": "tracer-agent-klcsf", "product": "cpaas", "project_name": "proj",
            "region_name": "ovn", "time": 1
        })
    }

    fn callback() -> Vec<(String, Vec<u8>)> {
        let body = |records: Vec<serde_json::Value>| serde_json::to_vec(&records).unwrap();
        let mut missing = callback_record("1700000000");
        missing.as_object_mut().unwrap().remove("pod_id");
        let mut wrong_type = callback_record("1700000000");
        wrong_type["time"] = serde_json::json!("1");
        let mut other_app = callback_record("1700000001");
        other_app["application_name"] = serde_json::json!("other");
        vec![
            ("seed-record".into(), body(vec![callback_record("1700000000")])),
            ("two-logstores".into(), body(vec![callback_record("1700000000"), other_app])),
            ("fractional-stamp".into(), body(vec![callback_record("1700000000.25")])),
            ("rfc3339-stamp".into(), body(vec![callback_record("2023-11-14T22:13:20.123456789+08:00")])),
            ("bad-stamp".into(), body(vec![callback_record("later")])),
            ("missing-field".into(), body(vec![missing])),
            ("wrong-type".into(), body(vec![wrong_type])),
            ("empty-array".into(), b"[]".to_vec()),
            ("not-an-array".into(), br#"{"@timestamp":"1"}"#.to_vec()),
        ]
    }

    fn lts_report() -> Vec<(String, Vec<u8>)> {
        let t = u64::from(NOW) * 1_000_000_000;
        [
            ("contents", format!(r#"{{"log_time_ns":{t},"contents":["line one","line two"],"labels":{{"app":"web","host":"h1"}}}}"#)),
            ("contents-string-time", format!(r#"{{"log_time_ns":"{t}","contents":["a","b"],"labels":{{}}}}"#)),
            ("contents-tenant-project", format!(r#"{{"tenant_project_id":"p","log_time_ns":{t},"contents":["x"]}}"#)),
            ("high-accuracy", format!(r#"{{"contents":[{{"log_time_ns":{t},"log":"late"}},{{"log_time_ns":"{}","log":"early"}}],"labels":{{"k":"v"}}}}"#, t - 5)),
            ("time-after-2106", r#"{"log_time_ns":18446744073709551615,"contents":["a","b"]}"#.to_string()),
            ("label-not-string", format!(r#"{{"log_time_ns":{t},"contents":["a"],"labels":{{"n":1}}}}"#)),
            ("negative-time", r#"{"log_time_ns":-1,"contents":["a"]}"#.to_string()),
            ("time-with-blanks", format!(r#"{{"log_time_ns":" {t} ","contents":["a"]}}"#)),
            ("empty", "{}".to_string()),
        ]
        .into_iter()
        .map(|(n, b)| (n.to_string(), b.into_bytes()))
        .collect()
    }

    fn mgmt_json() -> Vec<(String, Vec<u8>)> {
        [
            ("sls-project", r#"{"projectName":"proj","description":"a project"}"#),
            ("sls-logstore", r#"{"logstoreName":"store","ttl":7,"shardCount":2,"enable_tracking":true,"autoSplit":true,"maxSplitShard":64}"#),
            ("lts-log-group", r#"{"log_group_name":"g1","ttl_in_days":7}"#),
            ("lts-log-stream", r#"{"log_stream_name":"s1","ttl_in_days":3}"#),
            ("lts-ttl", r#"{"ttl_in_days":14,"tags":[{"key":"k","value":"v"}]}"#),
            ("lts-list-logs", r#"{"start_time":"1700000000000","end_time":"1700000060000","keywords":"error AND time*out","limit":3,"is_count":true,"labels":{"app":"a"},"line_num":"1700000000000000000","search_type":"forwards","is_desc":true,"highlight":true}"#),
            ("lts-dump", r#"{"log_group_id":"g","log_stream_ids":["s"],"obs_bucket_name":"bucket","type":"cycle","storage_format":"RAW","switch_on":true,"prefix_name":"app-","dir_prefix_name":"team/x/","period":2,"period_unit":"min"}"#),
            ("getlogs-v2", r#"{"from":1700000000,"to":1700000060,"query":"status: 500 and not (method: GET or path: \"/x\")","line":100,"offset":0,"reverse":true,"topic":"t"}"#),
            ("getlogs-v2-sql", r#"{"from":1,"to":2,"query":"* | select count(*) as n"}"#),
        ]
        .into_iter()
        .map(|(n, b)| (n.to_string(), b.as_bytes().to_vec()))
        .collect()
    }

    fn auth() -> Vec<(String, Vec<u8>)> {
        let req = targets::request_text;
        const V1_DATE: &str = "Mon, 23 Nov 2026 12:29:10 GMT";
        const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let v1 = req(
            "POST",
            "/logstores/mystore/shards/route?key=14d2f850ad6ea48e46e4547edbbb27e0",
            &[
                ("Host", "myproj.127.0.0.1"),
                ("User-Agent", "log-python-sdk-v-0.9.52, sys.version_info(major=3), linux"),
                ("Accept-Encoding", "gzip, deflate"),
                ("Content-Type", "application/x-protobuf"),
                ("Content-MD5", "1CC4429EBD94FF17C6C76C9621953C21"),
                ("Content-Length", "32"),
                ("x-log-apiversion", "0.6.0"),
                ("x-log-bodyrawsize", "32"),
                ("x-log-signaturemethod", "hmac-sha1"),
                ("Date", V1_DATE),
                ("x-log-date", V1_DATE),
                ("Authorization", "LOG AKID:DN4wlvxDWZqzwobr6e5TSYcXpXY="),
            ],
            &[7; 32],
        );
        let v4 = req(
            "GET",
            "/logstores/mystore/shards/0?type=cursor&from=begin",
            &[
                ("host", "myproj.127.0.0.1"),
                ("user-agent", "log-python-sdk-v-0.9.52"),
                ("content-type", "application/json"),
                ("content-length", "0"),
                ("x-log-apiversion", "0.6.0"),
                ("x-log-bodyrawsize", "0"),
                ("x-log-content-sha256", EMPTY_SHA256),
                ("x-log-date", "20261123T122910Z"),
                (
                    "authorization",
                    "SLS4-HMAC-SHA256 Credential=AKID/20261123/cn-hangzhou/sls/aliyun_v4_request,Signature=ad8704ad088ec67c60a8e02c86de22eea0b51c48430d804a60ace770c88bda16",
                ),
            ],
            b"",
        );
        let project = targets::LTS_PROJECT;
        let signed = "content-type;host;user-agent;x-project-id;x-sdk-date";
        let lts_headers = |sig: &str| -> Vec<(String, String)> {
            vec![
                ("Content-Type".into(), "application/json".into()),
                ("User-Agent".into(), "test-agent".into()),
                ("X-Project-Id".into(), project.into()),
                ("X-Sdk-Date".into(), "20240101T000000Z".into()),
                ("Host".into(), "127.0.0.1:8080".into()),
                (
                    "Authorization".into(),
                    format!("SDK-HMAC-SHA256 Access=testak, SignedHeaders={signed}, Signature={sig}"),
                ),
            ]
        };
        let borrow = |h: &[(String, String)]| -> Vec<(String, String)> { h.to_vec() };
        let text = |method: &str, target: &str, h: Vec<(String, String)>, body: &[u8]| {
            let pairs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            req(method, target, &pairs, body)
        };
        let lts_get = text(
            "GET",
            &format!("/v2/{project}/groups"),
            borrow(&lts_headers("bfc2406d8ce0003dcf7b818734b4f9d38bfcf535761327000e4311bd58296e70")),
            b"",
        );
        let lts_post = text(
            "POST",
            &format!("/v2/{project}/groups?enterprise_project_id=a%20b%2Fc"),
            borrow(&lts_headers("c8b34e160a8f29f50fcb12106217beb1f4fc47f9ef7fd0ff2a8e100caec0dca1")),
            br#"{"log_group_name": "g1", "ttl_in_days": 7}"#,
        );
        let py_put = req(
            "POST",
            "/logstores/mystore/shards/lb",
            &[
                ("Host", "myproj.127.0.0.1"),
                ("Content-Type", "application/x-protobuf"),
                ("Content-MD5", "C4ED757BBC4E472FD7AD2D42BEC519DF"),
                ("x-log-bodyrawsize", "62"),
                ("x-log-compresstype", "lz4"),
                ("x-log-apiversion", "0.6.0"),
                ("x-log-signaturemethod", "hmac-sha1"),
                ("Date", "Mon, 23 Nov 2026 12:24:47 GMT"),
                ("Authorization", "LOG AKID:rBXlTqzrioUGzRe6vZ1dCPc14Po="),
                ("x-log-date", "Mon, 23 Nov 2026 12:24:47 GMT"),
            ],
            &[0; 64],
        );
        let token = req(
            "POST",
            &format!("/v2/{project}/lts/groups/g/streams/s/tenant/contents"),
            &[("X-Auth-Token", targets::LTS_TOKEN), ("Content-Type", "application/json")],
            br#"{"log_time_ns":1,"contents":["a"]}"#,
        );
        let malformed = [
            ("v1-no-colon", "LOG AKID"),
            ("v1-empty-id", "LOG :sig"),
            ("v4-short-credential", "SLS4-HMAC-SHA256 Credential=AKID/20261123,Signature=00"),
            ("lts-duplicate-access", "SDK-HMAC-SHA256 Access=a, Access=b, SignedHeaders=host, Signature=00"),
            ("unknown-scheme", "Bearer abc"),
        ];
        let mut out = vec![
            ("sls-v1-vector".to_string(), v1),
            ("sls-v4-vector".to_string(), v4),
            ("lts-get-vector".to_string(), lts_get),
            ("lts-post-vector".to_string(), lts_post),
            ("py-putlogs-lz4".to_string(), py_put),
            ("lts-token".to_string(), token),
        ];
        for (name, value) in malformed {
            out.push((
                name.to_string(),
                req("GET", "/", &[("Authorization", value), ("x-log-date", "20261123T122910Z")], b""),
            ));
        }
        out
    }

    fn http_head() -> Vec<(String, Vec<u8>)> {
        let req = targets::request_text;
        vec![
            (
                "putlogs-lb".into(),
                req(
                    "POST",
                    "/logstores/store/shards/lb",
                    &[("Host", "myproj.127.0.0.1:7480"), ("x-log-compresstype", "lz4"), ("x-log-bodyrawsize", "62")],
                    b"",
                ),
            ),
            (
                "putlogs-route".into(),
                req(
                    "POST",
                    "/logstores/store/shards/route?key=14D2F850&seqid=7",
                    &[("Host", "myproj.cn-hangzhou.log.aliyuncs.com")],
                    b"",
                ),
            ),
            (
                "putlogs-legacy-hashkey".into(),
                req(
                    "POST",
                    "/logstores/store/shards/lb",
                    &[("x-log-project", "p"), ("x-log-hashkey", "8C"), ("x-log-compresstype", "ZSTD")],
                    b"",
                ),
            ),
            (
                "track-get".into(),
                req(
                    "GET",
                    "/logstores/web/track?APIVersion=0.6.0&__topic__=t&__source__=s&k=v&price=7998",
                    &[("Host", "proj.localhost")],
                    b"",
                ),
            ),
            (
                "track-ua-gif".into(),
                req(
                    "GET",
                    "/logstores/web/track_ua.gif?APIVersion=0.6.0&k=v+w%20x",
                    &[("User-Agent", "Mozilla/5.0"), ("Referer", "http://example.test/page")],
                    b"",
                ),
            ),
            (
                "pull-logs".into(),
                req(
                    "GET",
                    "/logstores/store/shards/0?type=logs&cursor=MTA%3D&count=10&end_cursor=MjA%3D",
                    &[("Accept-Encoding", "gzip, deflate, lz4;q=0.5")],
                    b"",
                ),
            ),
            ("cursor".into(), req("GET", "/logstores/store/shards/3?type=cursor&from=begin", &[], b"")),
            ("split".into(), req("POST", "/logstores/store/shards/0?action=split&key=8", &[], b"")),
            (
                "lts-report".into(),
                req(
                    "POST",
                    "/v2/0123456789abcdef0123456789abcdef/lts/groups/g/streams/s/tenant/contents/high-accuracy",
                    &[("Content-Encoding", "SNAPPY")],
                    b"",
                ),
            ),
            ("lts-streams".into(), req("GET", "/v2/p/log-streams?log_group_name=g&log_stream_name=", &[], b"")),
            ("callback".into(), req("POST", "/v4/callback/logs", &[("Content-Type", "application/json")], b"")),
            (
                "percent-path".into(),
                req("DELETE", "/logstores/%2e%2e%2f%ff/shards/%31", &[("Host", "[::1]:7480")], b""),
            ),
        ]
    }

    fn hash_key() -> Vec<(String, Vec<u8>)> {
        [
            ("md5-doc", "14d2f850ad6ea48e46e4547edbbb27e0"),
            ("upper-case", "14D2F850AD6EA48E46E4547EDBBB27E0"),
            ("short-8c", "8C"),
            ("short-5f", "5F"),
            ("max", "ffffffffffffffffffffffffffffffff"),
            ("zero", "0"),
            ("blanks", " 7f "),
            ("33-digits", "14d2f850ad6ea48e46e4547edbbb27e00"),
            ("not-hex", "zz"),
            ("plus-sign", "+1"),
            ("empty", ""),
        ]
        .into_iter()
        .map(|(n, b)| (n.to_string(), b.as_bytes().to_vec()))
        .collect()
    }

    fn sls_query() -> Vec<(String, Vec<u8>)> {
        [
            ("all", "*"),
            ("fields", "status: 500 and method: GET"),
            ("boolean", "(error or warn) and not debug"),
            ("phrase", "\"timed out\" OR msg = \"a \\\"quoted\\\" word\""),
            ("tag", "__tag__:host: web-1 and __topic__: nginx"),
            ("wildcards", "err* OR e?ror or ti*out"),
            ("sql", "* | select count(*) as n"),
            ("keywords-lts", "user/login AND NOT 404 || 500 && !debug"),
            (
                "getlogs-v1",
                "type=log&from=1700000000&to=1700000060&query=status%3A+500&topic=t&line=10&offset=0&reverse=true",
            ),
            ("unbalanced", "((a or b) and"),
        ]
        .into_iter()
        .map(|(n, b)| (n.to_string(), b.as_bytes().to_vec()))
        .chain([
            // The shapes of the two stack overflows (regressions below), just past today's limits.
            ("nested-33".to_string(), ("(".repeat(33) + "a" + &")".repeat(33)).into_bytes()),
            ("not-33".to_string(), ("not ".repeat(33) + "a").into_bytes()),
            ("flat-513".to_string(), "a ".repeat(513).into_bytes()),
            ("or-chain-300".to_string(), ("a or ".repeat(300) + "a").into_bytes()),
        ])
        .collect()
    }

    /// Every seed: (target, file name, bytes).
    pub fn all() -> Vec<(&'static str, String, Vec<u8>)> {
        let per_target: Vec<(&'static str, Vec<(String, Vec<u8>)>)> = vec![
            ("loggroup", loggroup()),
            ("decompress_lz4", decompress(Compression::Lz4)),
            ("decompress_deflate", decompress(Compression::Deflate)),
            ("decompress_zstd", decompress(Compression::Zstd)),
            ("decompress_gzip", decompress(Compression::Gzip)),
            ("decompress_snappy", decompress(Compression::Snappy)),
            ("package", package()),
            ("sls_json", sls_json()),
            ("callback", callback()),
            ("lts_report", lts_report()),
            ("mgmt_json", mgmt_json()),
            ("auth", auth()),
            ("http_head", http_head()),
            ("hash_key", hash_key()),
            ("sls_query", sls_query()),
        ];
        per_target.into_iter().flat_map(|(t, seeds)| seeds.into_iter().map(move |(n, b)| (t, n, b))).collect()
    }
}

// ---- regressions: what fuzzing found ----

mod regressions {
    use super::*;

    /// Set in the child process that runs a finding which would abort the whole test binary.
    const CHILD: &str = "LOGTIDE_FUZZ_CORPUS_CHILD";

    /// Runs the ignored test `regressions::<name>` of this binary in a child process; whether it
    /// passed. A stack overflow or an abort there fails only the test that asked.
    fn in_child(name: &str) -> bool {
        let out = std::process::Command::new(std::env::current_exe().expect("the test binary"))
            .args([&format!("regressions::{name}"), "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .output()
            .expect("the test binary runs");
        if !out.status.success() {
            eprintln!("child {name}: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
        }
        out.status.success()
    }

    fn is_child() -> bool {
        std::env::var_os(CHILD).is_some()
    }

    /// Runs `f` on a thread with tokio's default 2 MiB stack, where the daemon parses (async
    /// handler) and evaluates (blocking pool) GetLogs queries.
    fn on_worker_stack(f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new().stack_size(2 << 20).spawn(f).expect("a thread").join().expect("no panic");
    }

    /// The search query of GetLogs v1 (`?query=`, up to the 64 KiB header limit) or v2 (JSON
    /// body, up to 1 MiB), parsed, evaluated against one log and dropped, as the daemon does.
    fn parse_match_drop(text: String) {
        on_worker_stack(move || match logtide::query::sls::parse(&text) {
            Ok(expr) => {
                let _ = expr.matches(&pb::LogGroup::default(), &pb::Log::default());
                drop(expr);
            }
            Err(e) => targets::assert_client_error(&e, "query::sls::parse"),
        });
    }

    // FINDING 1 (fixed in src/query/sls.rs by MAX_QUERY_DEPTH): `query::sls::parse` recursed
    // once per `(` and once per `NOT` (`Parser::or` → `and` → `unary`) with no depth limit. In a
    // debug build 800 nested parentheses (1.6 KB) or 2,000 `NOT`s overflowed a 2 MiB stack, and a
    // stack overflow aborts the whole daemon (GetLogs v1 parses on a tokio worker). Inputs: hex
    // `28`×10000 `61` `29`×10000, and (`6e6f7420`)×10000 `61` ("not not … a"). Now a 4xx.
    #[test]
    fn deeply_nested_queries_are_refused_not_a_stack_overflow() {
        assert!(in_child("nested_query_child"), "query::sls::parse overflowed its stack (see the FINDING comment)");
    }

    #[test]
    #[ignore = "run by deeply_nested_queries_are_refused_not_a_stack_overflow in a child process"]
    fn nested_query_child() {
        if !is_child() {
            return;
        }
        parse_match_drop("(".repeat(10_000) + "a" + &")".repeat(10_000));
        parse_match_drop("not ".repeat(10_000) + "a");
    }

    // FINDING 2 (fixed in src/query/sls.rs by MAX_QUERY_TOKENS): a long flat query, `a a a …`
    // or `a or a or …`, parsed iteratively into a left-deep `Expr::And`/`Expr::Or` chain, one level
    // per term, which `Expr::matches` and the drop of the boxed chain then walked recursively:
    // 20,000 terms (40 KB, inside the 64 KiB v1 query and the 1 MiB v2 body) overflowed a 2 MiB
    // stack in a debug build. Inputs: hex (`6120`)×100000 and (`61206f7220`)×100000 `61`. Now a 4xx.
    #[test]
    fn long_flat_queries_are_refused_or_evaluated_without_a_stack_overflow() {
        assert!(
            in_child("flat_query_child"),
            "Expr::matches or its drop overflowed the stack (see the FINDING comment)"
        );
    }

    #[test]
    #[ignore = "run by long_flat_queries_are_refused_or_evaluated_without_a_stack_overflow in a child process"]
    fn flat_query_child() {
        if !is_child() {
            return;
        }
        parse_match_drop("a ".repeat(100_000));
        parse_match_drop("a or ".repeat(100_000) + "a");
    }
}
