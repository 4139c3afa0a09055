//! Body compression as SLS clients use it (sls.md §4): LZ4 raw blocks with the raw size carried
//! only in `x-log-bodyrawsize`, zlib-wrapped deflate (RFC 1950) and standard zstd frames; and as
//! the LTS high-accuracy report names it in `Content-Encoding` (lts.md §5.2): gzip (RFC 1952) and
//! snappy (a raw block, or the framing format recognised by its stream identifier).
//!
//! Decompression is capped: it never allocates or keeps more than `max_raw` bytes, and it checks
//! a declared size against the cap before allocating anything (a 64 GiB `x-log-bodyrawsize` once
//! aborted a process that passed it straight to an LZ4 decoder; reliability.md B1).

use std::borrow::Cow;

use flate2::{Decompress, FlushDecompress, Status};

use crate::error::{ApiError, ApiResult, ErrorCode};

/// A body compression, as named by `x-log-compresstype`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Lz4,
    Deflate,
    Zstd,
    /// LTS `Content-Encoding: gzip`; one or more gzip members.
    Gzip,
    /// LTS `Content-Encoding: snappy`.
    Snappy,
}

impl Compression {
    /// Parses `x-log-compresstype`: absent or empty means uncompressed; `lz4`, `deflate` and
    /// `zstd` are matched case-insensitively (surrounding blanks ignored). Anything else is
    /// `InvalidCompressType`.
    pub fn from_header(value: Option<&str>) -> ApiResult<Compression> {
        let Some(raw) = value else {
            return Ok(Compression::None);
        };
        let name = raw.trim();
        if name.is_empty() {
            Ok(Compression::None)
        } else if name.eq_ignore_ascii_case("lz4") {
            Ok(Compression::Lz4)
        } else if name.eq_ignore_ascii_case("deflate") {
            Ok(Compression::Deflate)
        } else if name.eq_ignore_ascii_case("zstd") {
            Ok(Compression::Zstd)
        } else {
            Err(ApiError::new(ErrorCode::InvalidCompressType, format!("x-log-compresstype {raw} is unsupported.")))
        }
    }

    /// Parses the `Content-Encoding` of an LTS report (lts.md §5.2, `GZIP|SNAPPY|gzip|snappy`):
    /// absent, empty or `identity` is uncompressed; `gzip` and `snappy` in any case. Anything else
    /// is `InvalidCompressType`.
    pub fn from_content_encoding(value: Option<&str>) -> ApiResult<Compression> {
        let name = value.map(str::trim).unwrap_or("");
        if name.is_empty() || name.eq_ignore_ascii_case("identity") {
            Ok(Compression::None)
        } else if name.eq_ignore_ascii_case("gzip") {
            Ok(Compression::Gzip)
        } else if name.eq_ignore_ascii_case("snappy") {
            Ok(Compression::Snappy)
        } else {
            Err(ApiError::new(ErrorCode::InvalidCompressType, format!("Content-Encoding {name} is unsupported.")))
        }
    }

    /// Picks the compression of a PullLogs response from `Accept-Encoding`: the first of `lz4`
    /// and `zstd` listed (comma separated, parameters such as q-values ignored), else `None`.
    /// `deflate` never selects a codec: python-requests sends `gzip, deflate` on every call
    /// without meaning an SLS body compression (sls.md §2.2, §13.14).
    pub fn from_accept_encoding(value: Option<&str>) -> Compression {
        let Some(list) = value else {
            return Compression::None;
        };
        for item in list.split(',') {
            let coding = item.split(';').next().unwrap_or("").trim();
            if coding.eq_ignore_ascii_case("lz4") {
                return Compression::Lz4;
            }
            if coding.eq_ignore_ascii_case("zstd") {
                return Compression::Zstd;
            }
        }
        Compression::None
    }

    /// The `x-log-compresstype` value naming this compression; `None` for uncompressed.
    pub fn as_header(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Lz4 => Some("lz4"),
            Compression::Deflate => Some("deflate"),
            Compression::Zstd => Some("zstd"),
            Compression::Gzip => Some("gzip"),
            Compression::Snappy => Some("snappy"),
        }
    }
}

/// Decompresses `body` into `out` (its contents replaced, its capacity reused across calls),
/// never producing or allocating more than `max_raw` bytes.
///
/// `declared_raw` is `x-log-bodyrawsize`. For LZ4 it is required (a raw block carries no size):
/// missing is `MissingBodyRawSize`. For every codec a declared size above `max_raw` is
/// `PostBodyTooLarge` before anything is allocated; output that would exceed `max_raw` is
/// `PostBodyTooLarge`; output of a size other than the declared one, corrupt input, an empty
/// body and bytes after the end of a deflate stream are `PostBodyUncompressError`. A declared
/// size is also the output cap, so a body lying about a small size stops after that many bytes
/// plus one, as a mismatch; an LZ4 size above 255 times the body length is refused as a mismatch
/// before the buffer is touched. zstd bodies must be current (1.x) or skippable frames.
///
/// For [`Compression::None`] `out` is left untouched (use `body` itself); the only check is
/// `body.len() <= max_raw`, and `declared_raw` is ignored because clients send `0` or wrong
/// values for uncompressed bodies (sls.md §4). On error `out` is left empty.
pub fn decompress_into(
    c: Compression,
    body: &[u8],
    declared_raw: Option<usize>,
    max_raw: usize,
    out: &mut Vec<u8>,
) -> ApiResult<()> {
    if c == Compression::None {
        if body.len() > max_raw {
            return Err(too_large(max_raw));
        }
        return Ok(());
    }
    if c == Compression::Lz4 && declared_raw.is_none() {
        out.clear();
        return Err(ApiError::new(
            ErrorCode::MissingBodyRawSize,
            "x-log-bodyrawsize is required when x-log-compresstype is lz4.",
        ));
    }
    if declared_raw.is_some_and(|declared| declared > max_raw) {
        out.clear();
        return Err(too_large(max_raw));
    }
    if body.is_empty() {
        out.clear();
        return Err(uncompress_error("the compressed body is empty"));
    }
    if c == Compression::Lz4 {
        // Every LZ4 input byte yields at most 255 output bytes (a match-length byte adds at most
        // 255; a sequence costs at least 3 bytes for at most 19 + 255 per extra byte; literals
        // are copied 1:1). A larger claim is a lie: refuse it before zero-filling the buffer.
        let most = body.len().saturating_mul(LZ4_MAX_RATIO);
        if let Some(declared) = declared_raw.filter(|&declared| declared > most) {
            out.clear();
            return Err(uncompress_error(format!(
                "x-log-bodyrawsize {declared} is more than LZ4 can expand {} bytes to",
                body.len()
            )));
        }
    }
    // From here on the output cap is the declared size when there is one, else `max_raw`.
    let cap = declared_raw.unwrap_or(max_raw);
    let outcome = match c {
        Compression::None => Ok(()),
        Compression::Lz4 => lz4_into(body, cap, out),
        Compression::Deflate => {
            out.clear();
            // A declared size is the expected size: allocate it once. Otherwise start small.
            let first = match declared_raw {
                Some(declared) => declared,
                None => max_raw.min(body.len().saturating_mul(4).max(64 * 1024)),
            };
            inflate_into(body, cap, first, out)
        }
        Compression::Zstd => {
            out.clear();
            zstd_into(body, cap, out)
        }
        Compression::Gzip => {
            out.clear();
            read_capped(flate2::bufread::MultiGzDecoder::new(body), cap, out)
        }
        Compression::Snappy => {
            out.clear();
            snappy_into(body, cap, out)
        }
    };
    let result = match (outcome, declared_raw) {
        (Ok(()), Some(declared)) if out.len() != declared => Err(uncompress_error(format!(
            "the body decompresses to {} bytes but x-log-bodyrawsize is {declared}",
            out.len()
        ))),
        (Ok(()), None) if out.len() > max_raw => Err(too_large(max_raw)),
        (Ok(()), _) => Ok(()),
        (Err(Fail::OverCap), Some(declared)) => {
            Err(uncompress_error(format!("the body decompresses to more than x-log-bodyrawsize {declared} bytes")))
        }
        (Err(Fail::OverCap), None) => Err(too_large(max_raw)),
        (Err(Fail::Corrupt(why)), _) => Err(uncompress_error(format_args!("{}: {why}", codec_name(c)))),
    };
    if result.is_err() {
        out.clear();
    }
    result
}

/// Convenience over [`decompress_into`]: the raw bytes, borrowed for `None`, owned otherwise.
pub fn decompress<'a>(
    c: Compression,
    body: &'a [u8],
    declared_raw: Option<usize>,
    max_raw: usize,
) -> ApiResult<Cow<'a, [u8]>> {
    if c == Compression::None {
        decompress_into(c, body, declared_raw, max_raw, &mut Vec::new())?;
        return Ok(Cow::Borrowed(body));
    }
    let mut out = Vec::new();
    decompress_into(c, body, declared_raw, max_raw, &mut out)?;
    Ok(Cow::Owned(out))
}

/// Compresses `raw` the way SLS clients do: LZ4 as a raw block with no size prefix, deflate as
/// zlib (RFC 1950, level 6 like PHP's `gzcompress`), zstd as one frame at level 1.
pub fn compress(c: Compression, raw: &[u8]) -> Vec<u8> {
    match c {
        Compression::None => raw.to_vec(),
        Compression::Lz4 => lz4_flex::block::compress(raw),
        Compression::Deflate => {
            use std::io::Write;
            let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            // Writing into a Vec cannot fail.
            encoder.write_all(raw).expect("zlib into a Vec cannot fail");
            encoder.finish().expect("zlib into a Vec cannot fail")
        }
        Compression::Zstd => {
            // Fails only when zstd cannot allocate its context.
            zstd::bulk::compress(raw, 1).expect("zstd compression of an in-memory buffer")
        }
        Compression::Gzip => {
            use std::io::Write;
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(raw).expect("gzip into a Vec cannot fail");
            encoder.finish().expect("gzip into a Vec cannot fail")
        }
        // Fails only for inputs over snappy's ~4 GiB block limit, far above any body limit.
        Compression::Snappy => snap::raw::Encoder::new().compress_vec(raw).expect("snappy block of a bounded body"),
    }
}

/// The most output one byte of an LZ4 block can produce.
const LZ4_MAX_RATIO: usize = 255;

/// Why a codec stopped.
enum Fail {
    /// The output would be larger than the cap.
    OverCap,
    /// The input is not a valid stream; the text says why.
    Corrupt(String),
}

fn codec_name(c: Compression) -> &'static str {
    c.as_header().unwrap_or("none")
}

/// LZ4 decodes into an initialised slice of exactly `cap` bytes (`cap` is the declared size).
/// A reused `out` is not cleared first: zeroing it again would cost a tenth of the decoding
/// time, and the decoder writes every byte of its result (a shorter result is truncated below).
fn lz4_into(body: &[u8], cap: usize, out: &mut Vec<u8>) -> Result<(), Fail> {
    if out.len() >= cap {
        out.truncate(cap);
    } else {
        if out.capacity() < cap {
            out.reserve_exact(cap - out.len());
        }
        out.resize(cap, 0);
    }
    match lz4_flex::block::decompress_into(body, out) {
        Ok(written) => {
            out.truncate(written);
            Ok(())
        }
        // The block decodes to more than `cap` bytes.
        Err(lz4_flex::block::DecompressError::OutputTooSmall { .. }) => Err(Fail::OverCap),
        Err(e) => Err(Fail::Corrupt(e.to_string())),
    }
}

/// Zlib-wrapped deflate, streamed into `out`'s spare capacity: `first` bytes reserved at once,
/// then doubled up to `cap` (`first <= cap`).
fn inflate_into(body: &[u8], cap: usize, first: usize, out: &mut Vec<u8>) -> Result<(), Fail> {
    let mut z = Decompress::new(true);
    reserve_up_to(out, first);
    loop {
        let (in_before, out_before) = (z.total_in(), z.total_out());
        let status = z
            .decompress_vec(&body[consumed(&z)..], out, FlushDecompress::None)
            .map_err(|e| Fail::Corrupt(e.to_string()))?;
        // A reused `out` may have more capacity than `cap`.
        if out.len() > cap {
            return Err(Fail::OverCap);
        }
        if status == Status::StreamEnd {
            return end_of_stream(&z, body);
        }
        if out.len() < out.capacity() {
            if z.total_in() == in_before && z.total_out() == out_before {
                return Err(Fail::Corrupt("truncated stream".into()));
            }
        } else if out.len() < cap {
            reserve_up_to(out, cap.min(out.capacity().saturating_mul(2)));
        } else {
            // Exactly `cap` bytes so far and the stream goes on: one more byte is too many.
            return probe_end(&mut z, body);
        }
    }
}

/// With the output full at the cap, checks that the stream ends without producing more.
fn probe_end(z: &mut Decompress, body: &[u8]) -> Result<(), Fail> {
    let mut probe = [0u8; 1];
    loop {
        let (in_before, out_before) = (z.total_in(), z.total_out());
        let status = z
            .decompress(&body[consumed(z)..], &mut probe, FlushDecompress::None)
            .map_err(|e| Fail::Corrupt(e.to_string()))?;
        if z.total_out() > out_before {
            return Err(Fail::OverCap);
        }
        if status == Status::StreamEnd {
            return end_of_stream(z, body);
        }
        if z.total_in() == in_before {
            return Err(Fail::Corrupt("truncated stream".into()));
        }
    }
}

/// A zlib body is one stream: bytes after its Adler-32 trailer are rejected.
fn end_of_stream(z: &Decompress, body: &[u8]) -> Result<(), Fail> {
    if consumed(z) != body.len() {
        return Err(Fail::Corrupt("bytes after the end of the zlib stream".into()));
    }
    Ok(())
}

fn consumed(z: &Decompress) -> usize {
    // total_in never exceeds the length of the body handed to the decoder.
    usize::try_from(z.total_in()).unwrap_or(usize::MAX)
}

/// zstd frames (one or more), decoded in one pass straight into `out`. Single-pass decoding
/// needs no window buffer, so a frame header announcing a huge window allocates nothing. The
/// capacity is the cap itself, because streaming-encoded frames carry no content size.
fn zstd_into(body: &[u8], cap: usize, out: &mut Vec<u8>) -> Result<(), Fail> {
    check_zstd_frames(body)?;
    if out.capacity() < cap {
        out.reserve_exact(cap);
    }
    thread_local! {
        // A decompression context is ~100 KB of tables: one per thread, reused.
        static DCTX: std::cell::RefCell<zstd::zstd_safe::DCtx<'static>> =
            std::cell::RefCell::new(zstd::zstd_safe::DCtx::create());
    }
    let outcome = DCTX.with_borrow_mut(|dctx| {
        // A context left mid-frame by an earlier failure starts over.
        let _ = dctx.reset(zstd::zstd_safe::ResetDirective::SessionOnly);
        dctx.decompress(out, body)
    });
    match outcome {
        Ok(_) if out.len() > cap => Err(Fail::OverCap),
        Ok(_) => Ok(()),
        Err(code) if zstd_dst_too_small(code) => Err(Fail::OverCap),
        Err(code) => Err(Fail::Corrupt(zstd::zstd_safe::get_error_name(code).to_string())),
    }
}

/// Accepts only current zstd frames and skippable frames: the pre-1.0 ("legacy") formats the
/// library can still decode are older code that no SLS client produces.
fn check_zstd_frames(mut body: &[u8]) -> Result<(), Fail> {
    const ZSTD_MAGIC: u32 = 0xFD2F_B528;
    const SKIPPABLE_MAGIC: u32 = 0x184D_2A50; // low 4 bits free
    while let Some(magic) = body.first_chunk::<4>() {
        let magic = u32::from_le_bytes(*magic);
        if magic != ZSTD_MAGIC && magic & !0xF != SKIPPABLE_MAGIC {
            return Err(Fail::Corrupt(format!("not a zstd frame (magic {magic:#010x})")));
        }
        let frame = zstd::zstd_safe::find_frame_compressed_size(body)
            .map_err(|code| Fail::Corrupt(zstd::zstd_safe::get_error_name(code).to_string()))?;
        // A frame is at least its 4-byte magic; anything else would loop or overrun.
        if frame < 4 || frame > body.len() {
            return Err(Fail::Corrupt("truncated frame".into()));
        }
        body = &body[frame..];
    }
    if !body.is_empty() {
        return Err(Fail::Corrupt("bytes after the last frame".into()));
    }
    Ok(())
}

/// Streams a decoder's output into `out`, never holding (or reserving) more than `cap` bytes.
fn read_capped(mut reader: impl std::io::Read, cap: usize, out: &mut Vec<u8>) -> Result<(), Fail> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Fail::Corrupt(e.to_string())),
        };
        let len = out.len() + n;
        if len > cap {
            return Err(Fail::OverCap);
        }
        if len > out.capacity() {
            reserve_up_to(out, cap.min(len.max(out.capacity().saturating_mul(2))));
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

/// Snappy: the framing format when the body starts with its stream identifier chunk, else one
/// raw block, whose varint length prefix is checked against the cap before anything is allocated.
fn snappy_into(body: &[u8], cap: usize, out: &mut Vec<u8>) -> Result<(), Fail> {
    const STREAM_IDENTIFIER: &[u8] = b"\xff\x06\x00\x00sNaPpY";
    if body.starts_with(STREAM_IDENTIFIER) {
        return read_capped(snap::read::FrameDecoder::new(body), cap, out);
    }
    let len = snap::raw::decompress_len(body).map_err(|e| Fail::Corrupt(e.to_string()))?;
    if len > cap {
        return Err(Fail::OverCap);
    }
    out.resize(len, 0);
    let written = snap::raw::Decoder::new().decompress(body, out).map_err(|e| Fail::Corrupt(e.to_string()))?;
    out.truncate(written);
    Ok(())
}

fn zstd_dst_too_small(code: usize) -> bool {
    use zstd::zstd_safe::zstd_sys::{ZSTD_ErrorCode, ZSTD_getErrorCode};
    // SAFETY: ZSTD_getErrorCode is a pure function of the integer it is given.
    let kind = unsafe { ZSTD_getErrorCode(code) };
    kind == ZSTD_ErrorCode::ZSTD_error_dstSize_tooSmall
}

/// Grows `out`'s capacity to at least `target` without the amortised over-allocation of
/// `reserve`, so the capacity never goes past what the caller allows.
fn reserve_up_to(out: &mut Vec<u8>, target: usize) {
    if target > out.capacity() {
        out.reserve_exact(target - out.len());
    }
}

fn too_large(max_raw: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PostBodyTooLarge,
        format!("Logs must be less than or equal to {max_raw} bytes after decompression."),
    )
}

#[cold]
fn uncompress_error(why: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::PostBodyUncompressError, format!("Failed to decompress logs: {why}."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIB: usize = 1024 * 1024;
    const CODECS: [Compression; 3] = [Compression::Lz4, Compression::Deflate, Compression::Zstd];

    fn code<T: std::fmt::Debug>(r: ApiResult<T>) -> ErrorCode {
        r.unwrap_err().code
    }

    /// Some compressible, not entirely uniform bytes.
    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| b"logtide sls wire "[i % 17] ^ (i / 4096) as u8).collect()
    }

    #[test]
    fn header_names_parse_case_insensitively() {
        assert_eq!(Compression::from_header(None).unwrap(), Compression::None);
        assert_eq!(Compression::from_header(Some("")).unwrap(), Compression::None);
        assert_eq!(Compression::from_header(Some("lz4")).unwrap(), Compression::Lz4);
        assert_eq!(Compression::from_header(Some("LZ4")).unwrap(), Compression::Lz4);
        assert_eq!(Compression::from_header(Some("Deflate")).unwrap(), Compression::Deflate);
        assert_eq!(Compression::from_header(Some("ZSTD")).unwrap(), Compression::Zstd);
        assert_eq!(Compression::from_header(Some(" zstd ")).unwrap(), Compression::Zstd);
        let err = Compression::from_header(Some("gzip")).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidCompressType);
        assert_eq!(err.message, "x-log-compresstype gzip is unsupported.");
        assert_eq!(code(Compression::from_header(Some("lz4,zstd"))), ErrorCode::InvalidCompressType);
    }

    #[test]
    fn header_names_round_trip() {
        for c in CODECS {
            assert_eq!(Compression::from_header(c.as_header()).unwrap(), c);
        }
        assert_eq!(Compression::None.as_header(), None);
    }

    #[test]
    fn accept_encoding_selects_only_lz4_or_zstd() {
        let pick = |v| Compression::from_accept_encoding(v);
        assert_eq!(pick(None), Compression::None);
        assert_eq!(pick(Some("")), Compression::None);
        assert_eq!(pick(Some("lz4")), Compression::Lz4);
        assert_eq!(pick(Some("zstd")), Compression::Zstd);
        assert_eq!(pick(Some("gzip, deflate")), Compression::None);
        assert_eq!(pick(Some("deflate")), Compression::None);
        assert_eq!(pick(Some("gzip, deflate, zstd")), Compression::Zstd);
        assert_eq!(pick(Some("zstd, lz4")), Compression::Zstd);
        assert_eq!(pick(Some(" LZ4 ;q=0.5, zstd")), Compression::Lz4);
        assert_eq!(pick(Some("lz4hc, zstd")), Compression::Zstd);
        assert_eq!(pick(Some("*")), Compression::None);
    }

    #[test]
    fn every_codec_round_trips() {
        for len in [0, 1, 62, 4096, 300_000] {
            let raw = sample(len);
            for c in CODECS {
                let body = compress(c, &raw);
                let mut out = Vec::new();
                decompress_into(c, &body, Some(len), 3 * MIB, &mut out).unwrap();
                assert_eq!(out, raw, "{c:?} {len}");
                let cow = decompress(c, &body, Some(len), 3 * MIB).unwrap();
                assert_eq!(&*cow, &raw[..]);
                if c != Compression::Lz4 {
                    let cow = decompress(c, &body, None, 3 * MIB).unwrap();
                    assert_eq!(&*cow, &raw[..], "{c:?} {len} without a declared size");
                }
            }
        }
    }

    #[test]
    fn lts_content_encodings_round_trip_and_are_capped() {
        assert_eq!(Compression::from_content_encoding(None).unwrap(), Compression::None);
        assert_eq!(Compression::from_content_encoding(Some("identity")).unwrap(), Compression::None);
        assert_eq!(Compression::from_content_encoding(Some("GZIP")).unwrap(), Compression::Gzip);
        assert_eq!(Compression::from_content_encoding(Some("snappy")).unwrap(), Compression::Snappy);
        assert_eq!(code(Compression::from_content_encoding(Some("br"))), ErrorCode::InvalidCompressType);
        let framed = |raw: &[u8]| {
            use std::io::Write;
            let mut w = snap::write::FrameEncoder::new(Vec::new());
            w.write_all(raw).unwrap();
            w.into_inner().unwrap()
        };
        for len in [1, 4096, 300_000] {
            let raw = sample(len);
            for (c, body) in [
                (Compression::Gzip, compress(Compression::Gzip, &raw)),
                (Compression::Snappy, compress(Compression::Snappy, &raw)),
                (Compression::Snappy, framed(&raw)),
            ] {
                assert_eq!(&*decompress(c, &body, None, 3 * MIB).unwrap(), &raw[..], "{c:?} {len}");
                // One byte under the size: refused as too large, with no more than the cap held.
                let mut out = Vec::new();
                assert_eq!(code(decompress_into(c, &body, None, len - 1, &mut out)), ErrorCode::PostBodyTooLarge);
                assert!(out.capacity() <= len, "{c:?} reserved {} for a cap of {}", out.capacity(), len - 1);
            }
        }
        // A 1 GiB claim in a snappy block's length prefix allocates nothing.
        let mut out = Vec::new();
        let lie = [0x80, 0x80, 0x80, 0x80, 0x04, 0x00];
        assert_eq!(code(decompress_into(Compression::Snappy, &lie, None, MIB, &mut out)), ErrorCode::PostBodyTooLarge);
        assert_eq!(out.capacity(), 0);
        for c in [Compression::Gzip, Compression::Snappy] {
            let code = code(decompress(c, b"\x1f\x8b garbage that is no stream", None, MIB));
            assert_eq!(code, ErrorCode::PostBodyUncompressError, "{c:?}");
        }
    }

    #[test]
    fn the_wire_formats_are_the_ones_sls_clients_send() {
        let raw = sample(1000);
        // LZ4: a raw block, no size prefix (python-lz4's `compress(data)[4:]`).
        let lz4 = compress(Compression::Lz4, &raw);
        assert_eq!(lz4_flex::block::decompress(&lz4, raw.len()).unwrap(), raw);
        // deflate: zlib (RFC 1950), CMF 0x78.
        let zlib = compress(Compression::Deflate, &raw);
        assert_eq!(zlib[0], 0x78);
        let mut inflated = Vec::new();
        use std::io::Read;
        flate2::read::ZlibDecoder::new(&zlib[..]).read_to_end(&mut inflated).unwrap();
        assert_eq!(inflated, raw);
        // zstd: a standard frame.
        assert_eq!(&compress(Compression::Zstd, &raw)[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
    }

    #[test]
    fn output_buffer_is_reused_across_calls_and_codecs() {
        let mut out = Vec::new();
        let big = sample(200_000);
        let small = sample(100);
        for c in [CODECS, CODECS].concat() {
            for raw in [&big, &small, &big] {
                decompress_into(c, &compress(c, raw), Some(raw.len()), MIB, &mut out).unwrap();
                assert_eq!(&out, raw);
            }
        }
        assert!(out.capacity() <= MIB);
    }

    #[test]
    fn uncompressed_bodies_check_only_the_size() {
        let mut out = vec![7u8; 3];
        // Clients send x-log-bodyrawsize 0 (or a UTF-16 length) with plain bodies.
        decompress_into(Compression::None, b"abc", Some(0), 3, &mut out).unwrap();
        assert_eq!(out, [7, 7, 7], "out is not used for None");
        let cow = decompress(Compression::None, b"abc", None, 3).unwrap();
        assert!(matches!(cow, Cow::Borrowed(b"abc")));
        let err = decompress(Compression::None, b"abcd", Some(4), 3).unwrap_err();
        assert_eq!(err.code, ErrorCode::PostBodyTooLarge);
    }

    #[test]
    fn lz4_requires_a_declared_size() {
        let body = compress(Compression::Lz4, b"hello");
        assert_eq!(code(decompress(Compression::Lz4, &body, None, MIB)), ErrorCode::MissingBodyRawSize);
    }

    #[test]
    fn lying_lz4_sizes_are_refused_before_allocating() {
        // A 16-byte body declaring 64 GiB once aborted a process (reliability.md B1).
        let body = compress(Compression::Lz4, &[0u8; 16]);
        let max_raw = 3 * MIB;
        for declared in [64usize << 30, usize::MAX, max_raw + 1] {
            let mut out = Vec::new();
            let err = decompress_into(Compression::Lz4, &body, Some(declared), max_raw, &mut out);
            assert_eq!(code(err), ErrorCode::PostBodyTooLarge, "declared {declared}");
            assert_eq!(out.capacity(), 0, "nothing may be allocated for declared {declared}");
        }
        for c in [Compression::Deflate, Compression::Zstd] {
            let mut out = Vec::new();
            let err = decompress_into(c, &compress(c, b"x"), Some(64 << 30), max_raw, &mut out);
            assert_eq!(code(err), ErrorCode::PostBodyTooLarge);
            assert_eq!(out.capacity(), 0);
        }
    }

    #[test]
    fn lz4_claims_beyond_the_format_ratio_are_refused_untouched() {
        let body = compress(Compression::Lz4, &[0u8; 10_000]);
        let mut out = Vec::new();
        let err = decompress_into(Compression::Lz4, &body, Some(body.len() * 255 + 1), MIB, &mut out);
        assert_eq!(code(err), ErrorCode::PostBodyUncompressError);
        assert_eq!(out.capacity(), 0);
        // The best real ratio stays under the bound.
        let zeros = vec![0u8; 2 * MIB];
        let body = compress(Compression::Lz4, &zeros);
        assert!(zeros.len() <= body.len() * LZ4_MAX_RATIO, "ratio {}", zeros.len() / body.len());
        assert_eq!(decompress(Compression::Lz4, &body, Some(zeros.len()), 2 * MIB).unwrap().len(), zeros.len());
    }

    #[test]
    fn declared_size_at_the_cap_is_accepted() {
        let raw = sample(4096);
        for c in CODECS {
            let body = compress(c, &raw);
            let mut out = Vec::new();
            decompress_into(c, &body, Some(4096), 4096, &mut out).unwrap();
            assert_eq!(out, raw);
            assert_eq!(out.capacity(), 4096, "{c:?}: allocated once, exactly");
            let err = decompress_into(c, &body, Some(4096), 4095, &mut out);
            assert_eq!(code(err), ErrorCode::PostBodyTooLarge);
        }
        // Without a declared size the cap applies to the output itself.
        for c in [Compression::Deflate, Compression::Zstd] {
            let body = compress(c, &raw);
            assert_eq!(&*decompress(c, &body, None, 4096).unwrap(), &raw[..]);
            assert_eq!(code(decompress(c, &body, None, 4095)), ErrorCode::PostBodyTooLarge);
        }
    }

    #[test]
    fn declared_size_mismatch_is_an_uncompress_error() {
        let raw = sample(10_000);
        for c in CODECS {
            let body = compress(c, &raw);
            for declared in [0, 1, 9_999, 10_001, 20_000] {
                let mut out = vec![1u8; 50];
                let err = decompress_into(c, &body, Some(declared), MIB, &mut out);
                assert_eq!(code(err), ErrorCode::PostBodyUncompressError, "{c:?} {declared}");
                assert!(out.is_empty(), "out is emptied on error");
            }
        }
    }

    #[test]
    fn bombs_stop_at_the_cap() {
        // 64 MiB of zeros: ~65 KB of zlib, a few KB of zstd (reliability.md B3).
        let max_raw = 3 * MIB;
        for c in [Compression::Deflate, Compression::Zstd] {
            let bomb = bomb(c, 64 * MIB);
            assert!(bomb.len() < 100_000, "{c:?} bomb is {} bytes", bomb.len());
            let started = std::time::Instant::now();
            let mut out = Vec::new();
            let err = decompress_into(c, &bomb, None, max_raw, &mut out);
            assert_eq!(code(err), ErrorCode::PostBodyTooLarge, "{c:?}");
            assert!(out.capacity() <= max_raw, "{c:?} allocated {}", out.capacity());
            // Honest declared size: refused before decoding anything.
            let err = decompress_into(c, &bomb, Some(64 * MIB), max_raw, &mut out);
            assert_eq!(code(err), ErrorCode::PostBodyTooLarge);
            // Lying declared size: stops after `declared + 1` bytes, as a mismatch.
            let err = decompress_into(c, &bomb, Some(1000), max_raw, &mut out);
            assert_eq!(code(err), ErrorCode::PostBodyUncompressError);
            assert!(started.elapsed() < std::time::Duration::from_secs(5), "{c:?} too slow");
        }
        // LZ4 tops out near 255:1; 64 MiB of zeros never fits a 3 MiB declared size.
        let lz4 = compress(Compression::Lz4, &vec![0u8; 4 * MIB]);
        let err = decompress(Compression::Lz4, &lz4, Some(max_raw), max_raw);
        assert_eq!(code(err), ErrorCode::PostBodyUncompressError);
    }

    /// `len` zeros, compressed in 1 MiB steps so the test stays cheap in debug builds.
    fn bomb(c: Compression, len: usize) -> Vec<u8> {
        use std::io::Write;
        let chunk = vec![0u8; MIB];
        match c {
            Compression::Deflate => {
                let level = flate2::Compression::default();
                let mut z = flate2::write::ZlibEncoder::new(Vec::new(), level);
                for _ in 0..len / MIB {
                    z.write_all(&chunk).unwrap();
                }
                z.finish().unwrap()
            }
            Compression::Zstd => {
                let mut z = zstd::stream::Encoder::new(Vec::new(), 1).unwrap();
                for _ in 0..len / MIB {
                    z.write_all(&chunk).unwrap();
                }
                z.finish().unwrap()
            }
            _ => unreachable!(),
        }
    }

    #[test]
    fn corrupt_bodies_are_uncompress_errors() {
        let raw = sample(5000);
        for c in CODECS {
            let good = compress(c, &raw);
            let mut cases: Vec<Vec<u8>> =
                vec![Vec::new(), good[..good.len() / 2].to_vec(), good[..good.len() - 1].to_vec(), vec![0xff; 64]];
            if c != Compression::Lz4 {
                // Bytes after the end of the stream.
                cases.push([&good[..], b"trailing"].concat());
            }
            for body in cases {
                let err = decompress(c, &body, Some(raw.len()), MIB);
                assert_eq!(code(err), ErrorCode::PostBodyUncompressError, "{c:?} {body:02x?}");
                if c != Compression::Lz4 {
                    let err = decompress(c, &body, None, MIB);
                    assert_eq!(code(err), ErrorCode::PostBodyUncompressError, "{c:?}");
                }
            }
        }
        // A gzip stream is not zlib.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &raw).unwrap();
        let gz = gz.finish().unwrap();
        let err = decompress(Compression::Deflate, &gz, Some(raw.len()), MIB);
        assert_eq!(code(err), ErrorCode::PostBodyUncompressError);
        // Legacy (pre-1.0) zstd frames and trailing bytes are refused.
        let mut legacy = compress(Compression::Zstd, &raw);
        legacy[0] = 0x27; // 0xFD2FB527: the v0.7 magic
        let err = decompress(Compression::Zstd, &legacy, Some(raw.len()), MIB);
        assert_eq!(code(err), ErrorCode::PostBodyUncompressError);
        // A skippable frame before the data is fine.
        let skippable =
            [&[0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 0xaa, 0xbb][..], &compress(Compression::Zstd, b"ok")].concat();
        assert_eq!(&*decompress(Compression::Zstd, &skippable, Some(2), MIB).unwrap(), b"ok");
        // Two concatenated zstd frames are one valid body.
        let two = [compress(Compression::Zstd, b"ab"), compress(Compression::Zstd, b"cd")].concat();
        assert_eq!(&*decompress(Compression::Zstd, &two, Some(4), MIB).unwrap(), b"abcd");
    }

    proptest! {
        #[test]
        fn round_trip_any_bytes(raw in proptest::collection::vec(any::<u8>(), 0..5000), which in 0..3usize) {
            let c = CODECS[which];
            let body = compress(c, &raw);
            let mut out = Vec::new();
            decompress_into(c, &body, Some(raw.len()), raw.len(), &mut out).unwrap();
            prop_assert_eq!(&out, &raw);
            if !raw.is_empty() {
                let err = decompress_into(c, &body, Some(raw.len()), raw.len() - 1, &mut out);
                prop_assert_eq!(code(err), ErrorCode::PostBodyTooLarge);
            }
        }

        #[test]
        fn garbage_never_panics_or_exceeds_the_cap(
            body in proptest::collection::vec(any::<u8>(), 0..512),
            declared in proptest::option::of(0..2048usize),
            max_raw in 0..2048usize,
            which in 0..3usize,
        ) {
            let c = CODECS[which];
            let mut out = Vec::new();
            match decompress_into(c, &body, declared, max_raw, &mut out) {
                Ok(()) => {
                    prop_assert!(out.len() <= max_raw);
                    if let Some(d) = declared { prop_assert_eq!(out.len(), d); }
                }
                Err(e) => prop_assert!(out.is_empty(), "{e}"),
            }
            prop_assert!(out.capacity() <= max_raw);
        }

        #[test]
        fn mutated_bodies_never_panic(
            raw in proptest::collection::vec(0..4u8, 1..3000),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            which in 0..3usize,
        ) {
            let c = CODECS[which];
            let mut body = compress(c, &raw);
            for (at, byte) in flips {
                let i = at.index(body.len());
                body[i] ^= byte;
            }
            let mut out = Vec::new();
            if decompress_into(c, &body, Some(raw.len()), 4096, &mut out).is_ok() {
                prop_assert_eq!(out.len(), raw.len());
            }
        }
    }
}
