//! `x-log-mode: batch_group` bodies (sls.md §2.6): an `SlsLogPackageList` whose packages each
//! hold one LogGroup, compressed on its own. The outer body is not compressed. This module only
//! splits the list into borrowed packages; the caller decompresses each with
//! [`super::compress::decompress_into`] and validates it with
//! [`super::loggroup::validate_log_group`].

use super::compress::Compression;
use super::loggroup::{malformed, Reader, LEN, VARINT};
use crate::error::{ApiError, ApiResult, ErrorCode};

/// Most packages accepted in one body. Every real package carries a LogGroup of at least one
/// log, so the per-request log limit is reached long before this; the cap only bounds the
/// `Vec` a body of empty packages could make us allocate (about 40 bytes per 4 wire bytes).
pub const MAX_PACKAGES: usize = 65_536;

/// One package of an SlsLogPackageList: a compressed LogGroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Package<'a> {
    /// The LogGroup, compressed with `compression`.
    pub data: &'a [u8],
    /// The LogGroup's raw size, when the client sent it.
    pub uncompress_size: Option<usize>,
    pub compression: Compression,
}

/// Walks an SlsLogPackageList body without copying. `compress_type` absent means LZ4; an
/// unknown value is `InvalidCompressType`; a negative `uncompress_size` is `InvalidBodyRawSize`;
/// more than [`MAX_PACKAGES`] packages is `PostBodyTooLarge`; malformed protobuf or a package
/// without `data` is `PostBodyInvalid`. Unknown fields are skipped. When a field repeats, the
/// last occurrence counts (protobuf merging).
pub fn split_package_list(body: &[u8]) -> ApiResult<Vec<Package<'_>>> {
    let mut packages = Vec::new();
    let mut r = Reader::new(body);
    while !r.is_empty() {
        match r.key()? {
            (1, LEN) => {
                let package = r.bytes()?;
                if packages.len() == MAX_PACKAGES {
                    return Err(ApiError::new(
                        ErrorCode::PostBodyTooLarge,
                        format!("A batch_group body may hold at most {MAX_PACKAGES} packages."),
                    ));
                }
                packages.push(parse_package(package)?);
            }
            (1, _) => return Err(malformed()),
            (_, wire) => r.skip(wire)?,
        }
    }
    Ok(packages)
}

fn parse_package(bytes: &[u8]) -> ApiResult<Package<'_>> {
    let mut data = None;
    let mut uncompress_size = None;
    let mut compress_type = None;
    let mut r = Reader::new(bytes);
    while !r.is_empty() {
        match r.key()? {
            (1, LEN) => data = Some(r.bytes()?),
            // int32 and enum fields keep the low 32 bits of the varint, as protobuf says.
            (2, VARINT) => uncompress_size = Some(r.varint()? as i32),
            (3, VARINT) => compress_type = Some(r.varint()? as i32),
            (1..=3, _) => return Err(malformed()),
            (_, wire) => r.skip(wire)?,
        }
    }
    let data = data.ok_or_else(malformed)?;
    let uncompress_size = match uncompress_size {
        None => None,
        Some(size) => Some(usize::try_from(size).map_err(|_| {
            ApiError::new(ErrorCode::InvalidBodyRawSize, format!("SlsLogPackage uncompress_size {size} is negative."))
        })?),
    };
    let compression = match compress_type {
        None | Some(2) => Compression::Lz4,
        Some(0) => Compression::None,
        Some(1) => Compression::Deflate,
        Some(3) => Compression::Zstd,
        Some(other) => {
            return Err(ApiError::new(
                ErrorCode::InvalidCompressType,
                format!("SlsLogPackage compress_type {other} is unsupported."),
            ))
        }
    };
    Ok(Package { data, uncompress_size, compression })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::Limits;
    use crate::wire::compress::{compress, decompress};
    use crate::wire::loggroup::validate_log_group;
    use crate::wire::pb;
    use proptest::prelude::*;
    use prost::Message;

    const NOW: u64 = 1_700_000_000;

    fn group(n: usize) -> Vec<u8> {
        let log = pb::Log {
            time: NOW as u32,
            contents: vec![pb::log::Content { key: "k".into(), value: "v".repeat(n) }],
            time_ns: None,
        };
        pb::LogGroup { logs: vec![log; n], ..Default::default() }.encode_to_vec()
    }

    fn package(raw: &[u8], c: pb::SlsCompressType) -> pb::SlsLogPackage {
        let codec = match c {
            pb::SlsCompressType::SlsCmpNone => Compression::None,
            pb::SlsCompressType::SlsCmpDeflate => Compression::Deflate,
            pb::SlsCompressType::SlsCmpLz4 => Compression::Lz4,
            pb::SlsCompressType::SlsCmpZstd => Compression::Zstd,
        };
        pb::SlsLogPackage {
            data: compress(codec, raw),
            uncompress_size: Some(raw.len() as i32),
            compress_type: Some(c as i32),
        }
    }

    fn code(body: &[u8]) -> ErrorCode {
        split_package_list(body).unwrap_err().code
    }

    #[test]
    fn packages_of_every_codec_decompress_and_validate() {
        use pb::SlsCompressType::*;
        let raws: Vec<Vec<u8>> = (1..=4).map(|n| group(n * 10)).collect();
        let list = pb::SlsLogPackageList {
            packages: vec![
                package(&raws[0], SlsCmpLz4),
                package(&raws[1], SlsCmpDeflate),
                package(&raws[2], SlsCmpZstd),
                package(&raws[3], SlsCmpNone),
            ],
        };
        let body = list.encode_to_vec();
        let packages = split_package_list(&body).unwrap();
        let codecs: Vec<Compression> = packages.iter().map(|p| p.compression).collect();
        let expected = [Compression::Lz4, Compression::Deflate, Compression::Zstd, Compression::None];
        assert_eq!(codecs, expected);
        for (i, p) in packages.iter().enumerate() {
            assert_eq!(p.data, &list.packages[i].data[..], "borrowed, not copied");
            assert_eq!(p.uncompress_size, Some(raws[i].len()));
            let raw = decompress(p.compression, p.data, p.uncompress_size, 3 << 20).unwrap();
            assert_eq!(&*raw, &raws[i][..]);
            let stats = validate_log_group(&raw, &Limits::default(), NOW).unwrap();
            assert_eq!(stats.logs as usize, (i + 1) * 10);
        }
    }

    #[test]
    fn absent_compress_type_means_lz4() {
        let mut p = package(&group(3), pb::SlsCompressType::SlsCmpLz4);
        p.compress_type = None;
        p.uncompress_size = None;
        let body = pb::SlsLogPackageList { packages: vec![p] }.encode_to_vec();
        let packages = split_package_list(&body).unwrap();
        assert_eq!(packages[0].compression, Compression::Lz4);
        assert_eq!(packages[0].uncompress_size, None);
    }

    #[test]
    fn empty_body_is_an_empty_list() {
        assert_eq!(split_package_list(&[]).unwrap(), vec![]);
    }

    #[test]
    fn unknown_compress_type_is_refused() {
        for bad in [4, -1, 1000] {
            let mut p = package(b"", pb::SlsCompressType::SlsCmpNone);
            p.compress_type = Some(bad);
            let body = pb::SlsLogPackageList { packages: vec![p] }.encode_to_vec();
            let err = split_package_list(&body).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidCompressType, "{bad}");
            assert!(err.message.contains(&bad.to_string()));
        }
    }

    #[test]
    fn negative_uncompress_size_is_refused() {
        let mut p = package(b"", pb::SlsCompressType::SlsCmpNone);
        p.uncompress_size = Some(-5);
        let body = pb::SlsLogPackageList { packages: vec![p] }.encode_to_vec();
        assert_eq!(code(&body), ErrorCode::InvalidBodyRawSize);
    }

    #[test]
    fn malformed_lists_are_post_body_invalid() {
        let good =
            pb::SlsLogPackageList { packages: vec![package(b"abc", pb::SlsCompressType::SlsCmpNone)] }.encode_to_vec();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("truncated", good[..good.len() - 1].to_vec()),
            ("package as varint", vec![0x08, 0x01]),
            ("package without data", vec![0x0a, 0x02, 0x10, 0x03]),
            ("data as varint", vec![0x0a, 0x02, 0x08, 0x03]),
            ("size as bytes", vec![0x0a, 0x04, 0x0a, 0x00, 0x12, 0x00]),
            ("type as fixed32", vec![0x0a, 0x07, 0x0a, 0x00, 0x1d, 0, 0, 0, 0]),
            ("length past the end", vec![0x0a, 0x09, 0x0a, 0x00]),
            ("group wire type", vec![0x0b, 0x0c]),
        ];
        for (what, body) in cases {
            assert_eq!(code(&body), ErrorCode::PostBodyInvalid, "{what}");
        }
    }

    #[test]
    fn unknown_fields_are_skipped_and_the_last_value_wins() {
        // package: unknown varint 9, data "x", size 1, size 2, type 1, type 3, unknown bytes 10.
        let package = [0x48, 0x01, 0x0a, 0x01, b'x', 0x10, 0x01, 0x10, 0x02, 0x18, 0x01, 0x18, 0x03, 0x52, 0x00];
        let body = [&[0x0a, package.len() as u8][..], &package, &[0x15, 0, 0, 0, 0]].concat();
        let packages = split_package_list(&body).unwrap();
        assert_eq!(packages.len(), 1);
        assert_eq!(packages[0], Package { data: b"x", uncompress_size: Some(2), compression: Compression::Zstd });
        let decoded = pb::SlsLogPackageList::decode(&body[..]).unwrap();
        assert_eq!(decoded.packages[0].uncompress_size, Some(2));
        assert_eq!(decoded.packages[0].compress_type, Some(3));
    }

    #[test]
    fn package_count_is_capped() {
        // The smallest package: `0a 02 0a 00` (empty data).
        let body: Vec<u8> = [0x0a, 0x02, 0x0a, 0x00].repeat(MAX_PACKAGES);
        assert_eq!(split_package_list(&body).unwrap().len(), MAX_PACKAGES);
        let body: Vec<u8> = [0x0a, 0x02, 0x0a, 0x00].repeat(MAX_PACKAGES + 1);
        assert_eq!(code(&body), ErrorCode::PostBodyTooLarge);
    }

    fn any_package() -> impl Strategy<Value = pb::SlsLogPackage> {
        (
            proptest::collection::vec(any::<u8>(), 0..64),
            proptest::option::of(0..=i32::MAX),
            proptest::option::of(0..4i32),
        )
            .prop_map(|(data, uncompress_size, compress_type)| pb::SlsLogPackage {
                data,
                uncompress_size,
                compress_type,
            })
    }

    proptest! {
        #[test]
        fn split_matches_prost(packages in proptest::collection::vec(any_package(), 0..8)) {
            let list = pb::SlsLogPackageList { packages };
            let body = list.encode_to_vec();
            let split = split_package_list(&body).unwrap();
            prop_assert_eq!(split.len(), list.packages.len());
            for (got, want) in split.iter().zip(&list.packages) {
                prop_assert_eq!(got.data, &want.data[..]);
                prop_assert_eq!(got.uncompress_size, want.uncompress_size.map(|n| n as usize));
                let expected = match want.compress_type {
                    None | Some(2) => Compression::Lz4,
                    Some(0) => Compression::None,
                    Some(1) => Compression::Deflate,
                    _ => Compression::Zstd,
                };
                prop_assert_eq!(got.compression, expected);
            }
        }

        #[test]
        fn random_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(packages) = split_package_list(&body) {
                // Whatever we accept, prost decodes to the same packages.
                let decoded = pb::SlsLogPackageList::decode(&body[..]);
                prop_assert!(decoded.is_ok());
                let decoded = decoded.unwrap();
                prop_assert_eq!(packages.len(), decoded.packages.len());
                for (got, want) in packages.iter().zip(&decoded.packages) {
                    prop_assert_eq!(got.data, &want.data[..]);
                }
            }
        }
    }
}
