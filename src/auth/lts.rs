//! Huawei LTS request signatures (`Authorization: SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=a;b,
//! Signature=<hex>`, the APIG AK/SK signing of `huaweicloudsdkcore`, lts.md §1.1): parsing the
//! header value, rebuilding the canonical request from the received request, checking the
//! signature, binding the body, and the 15-minute skew of the signed `X-Sdk-Date`.
//!
//! The same [`KeyRing`] serves both dialects: the LTS AK is the access key id, the SK its secret.
//! Signing key = SK bytes, no derivation. Only this algorithm is verified here: `X-Auth-Token`
//! (lts.md §1.4) is `token.rs`'s, and the derived `V11-HMAC-SHA256` (§1.2) is not accepted; an
//! STS `X-Security-Token` (§1.3) is signed like any other header and not otherwise checked.
//!
//! Invariants (reliability notes S7):
//! - `SignedHeaders` must name `host` and `x-sdk-date`, so neither can be swapped on a replay.
//! - The date checked for skew is the very `X-Sdk-Date` value that went into the string-to-sign.
//! - A non-empty body is always bound: `X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD` is refused for it
//!   and a declared hex hash must equal SHA-256 of the body.
//! - Signatures are compared in constant time; no message holds a secret or an expected value.

use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

use super::{
    authorization_header, check_clock_skew, header_bytes, invalid_request_time, malformed_authorization,
    signature_not_match, KeyRing, RequestView, SignedDate, Verified,
};
use crate::error::{ApiError, ApiResult, ErrorCode};

/// The Authorization scheme word (also the first line of the string-to-sign).
const SCHEME: &str = "SDK-HMAC-SHA256";
const DATE_HEADER: &str = "x-sdk-date";
const CONTENT_SHA256_HEADER: &str = "x-sdk-content-sha256";
/// What the SDK declares for non-JSON bodies it does not hash (lts.md §1.1 step 1).
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// Signed headers every accepted request must list (reliability notes S7).
const REQUIRED_SIGNED_HEADERS: [&str; 2] = ["host", DATE_HEADER];

/// RFC 3986 unreserved characters stay; everything else is `%XX` upper-case (Python
/// `quote(s, safe='~')`): space is `%20`, `/` is `%2F`, `+` is `%2B`.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// A parsed `SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...` header value.
#[derive(Debug, PartialEq, Eq)]
struct LtsAuth<'a> {
    access_key_id: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

impl KeyRing {
    /// Verifies `Authorization: SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex`
    /// (lts.md §1.1) and the 15-minute skew of the signed `X-Sdk-Date` (`YYYYMMDDTHHMMSSZ`).
    /// `req.path` is the percent-decoded path, `req.raw_query` the raw query string; `now_unix`
    /// is the server clock in unix seconds.
    ///
    /// Errors: no Authorization → 401 Unauthorized; wrong scheme or a missing/empty field →
    /// 400 MissAccessKeyId; unknown AK → InvalidAccessKeyId; `SignedHeaders` without `host` or
    /// `x-sdk-date`, a signed header absent, any mismatch, or an unbound body → SignatureNotMatch;
    /// no `X-Sdk-Date` → MissingDate; malformed date → InvalidRequestTime; skew over 900 s →
    /// RequestTimeExpired.
    pub fn verify_lts(&self, req: &RequestView<'_>, now_unix: i64) -> ApiResult<Verified> {
        let auth = parse_authorization(authorization_header(req.headers)?)?;
        let key = self.lookup(auth.access_key_id)?;
        let names = signed_header_names(auth.signed_headers)?;
        let (date, signed_at) = signed_date(req)?;
        let canonical = canonical_request(req, &names)?;
        let message = format!("{SCHEME}\n{date}\n{}", hex::encode(Sha256::digest(&canonical)));

        let provided = hex::decode(auth.signature).map_err(|_| signature_not_match("Signature is not valid hex."))?;
        let mut mac = Hmac::<Sha256>::new_from_slice(key.secret.expose().as_bytes()).map_err(ApiError::internal)?;
        mac.update(message.as_bytes());
        mac.verify_slice(&provided).map_err(|_| signature_not_match("The request signature does not match."))?;

        check_body_binding(req)?;
        check_clock_skew(signed_at, now_unix)?;
        Ok(Verified { access_key_id: key.id.clone() })
    }
}

/// Parses the header value: the scheme word, a space, then comma-separated `name=value` fields of
/// which `Access`, `SignedHeaders` and `Signature` are required (non-empty, once each); unknown
/// fields are ignored.
fn parse_authorization(value: &str) -> ApiResult<LtsAuth<'_>> {
    let rest = match value.strip_prefix(SCHEME) {
        Some(rest) if rest.starts_with(' ') => rest,
        _ => return Err(malformed_authorization("unsupported Authorization scheme")),
    };
    let (mut access, mut signed_headers, mut signature) = (None, None, None);
    for field in rest.split(',') {
        let Some((name, v)) = field.trim().split_once('=') else { continue };
        let slot = match name {
            "Access" => &mut access,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.replace(v.trim()).is_some() {
            return Err(malformed_authorization(&format!("duplicate {name}")));
        }
    }
    Ok(LtsAuth {
        access_key_id: required(access, "Access")?,
        signed_headers: required(signed_headers, "SignedHeaders")?,
        signature: required(signature, "Signature")?,
    })
}

fn required<'a>(field: Option<&'a str>, name: &str) -> ApiResult<&'a str> {
    field.filter(|v| !v.is_empty()).ok_or_else(|| malformed_authorization(&format!("missing {name}")))
}

/// The `SignedHeaders` names, lower-cased, in the order given (the SDK sends them sorted).
/// `host` and `x-sdk-date` must be among them.
fn signed_header_names(list: &str) -> ApiResult<Vec<String>> {
    let names: Vec<String> = list.split(';').map(|n| n.trim().to_ascii_lowercase()).collect();
    for required in REQUIRED_SIGNED_HEADERS {
        if !names.iter().any(|n| n == required) {
            return Err(signature_not_match(&format!("SignedHeaders must include {required}.")));
        }
    }
    Ok(names)
}

/// `X-Sdk-Date` (`YYYYMMDDTHHMMSSZ`, trimmed like every canonical header value) and its time.
fn signed_date(req: &RequestView<'_>) -> ApiResult<(String, SignedDate)> {
    let raw = header_bytes(req.headers, DATE_HEADER)
        .ok_or_else(|| ApiError::new(ErrorCode::MissingDate, "X-Sdk-Date does not exist in http header."))?;
    let invalid = || invalid_request_time(&String::from_utf8_lossy(&raw), "YYYYMMDDTHHMMSSZ");
    let text = std::str::from_utf8(&raw).map_err(|_| invalid())?;
    let unix = crate::auth::parse_iso8601_basic(text).ok_or_else(invalid)?;
    Ok((text.to_owned(), SignedDate { unix }))
}

/// METHOD, canonical URI, canonical query, canonical headers (each line ending in `\n`), the
/// signed header names joined by `;`, and the payload hash, joined by `\n`.
fn canonical_request(req: &RequestView<'_>, names: &[String]) -> ApiResult<Vec<u8>> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(req.method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri(req.path).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_query(req.raw_query).as_bytes());
    out.push(b'\n');
    for name in names {
        let value = header_bytes(req.headers, name)
            .ok_or_else(|| signature_not_match(&format!("Signed header {name} is missing from the request.")))?;
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(&value);
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(names.join(";").as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&payload_hash(req));
    Ok(out)
}

/// The decoded path split on `/`, each segment RFC 3986-encoded, re-joined, with a trailing `/`
/// appended when missing (the SDK signs `/v2/p/groups/` for `/v2/p/groups`).
fn canonical_uri(decoded_path: &str) -> String {
    let mut uri = decoded_path
        .split('/')
        .map(|segment| percent_encode(segment.as_bytes(), RFC3986).to_string())
        .collect::<Vec<_>>()
        .join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// Raw query pairs `%XX`-decoded (`+` stays a literal plus: the SDK sends a space as `%20`),
/// sorted by key then value (decoded bytes), re-encoded RFC 3986 and joined `k=v&k=v`. Empty
/// segments are skipped; a bare `k` is `k=`.
fn canonical_query(raw_query: Option<&str>) -> String {
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = raw_query
        .unwrap_or("")
        .split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let (k, v) = segment.split_once('=').unwrap_or((segment, ""));
            (percent_decode_str(k).collect(), percent_decode_str(v).collect())
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k, RFC3986), percent_encode(v, RFC3986)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The empty-string hash for an empty body; else the `X-Sdk-Content-Sha256` value as sent; else
/// lower-hex SHA-256 of the body bytes.
fn payload_hash(req: &RequestView<'_>) -> Vec<u8> {
    if req.body.is_empty() {
        return hex::encode(Sha256::digest(b"")).into_bytes();
    }
    header_bytes(req.headers, CONTENT_SHA256_HEADER)
        .unwrap_or_else(|| hex::encode(Sha256::digest(req.body)).into_bytes())
}

/// A non-empty body whose hash came from `X-Sdk-Content-Sha256` must really be bound by it.
///
/// The SDK declares `UNSIGNED-PAYLOAD` only for non-JSON content types, which no LTS operation
/// uses; accepting it would let anyone who saw one signed request replay its headers with any
/// body for 15 minutes, so it is refused. A declared hex hash must equal SHA-256 of the body.
fn check_body_binding(req: &RequestView<'_>) -> ApiResult<()> {
    if req.body.is_empty() {
        return Ok(());
    }
    let Some(declared) = header_bytes(req.headers, CONTENT_SHA256_HEADER) else { return Ok(()) };
    if declared.eq_ignore_ascii_case(UNSIGNED_PAYLOAD.as_bytes()) {
        return Err(signature_not_match("X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD is not accepted with a request body."));
    }
    if super::hex_digest_matches(&declared, &Sha256::digest(req.body)) {
        Ok(())
    } else {
        Err(signature_not_match("X-Sdk-Content-Sha256 does not match the request body."))
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::super::test_support::{header_map, with_header};
    use super::super::{AccessKey, Secret};
    use super::*;

    /// 2024-01-01T00:00:00Z, the `X-Sdk-Date` of every vector below.
    const NOW: i64 = 1_704_067_200;
    const XDATE: &str = "20240101T000000Z";
    const PROJECT: &str = "0123456789abcdef0123456789abcdef";
    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const SDK_SIGNED: &str = "content-type;host;user-agent;x-project-id;x-sdk-date";
    /// lts.md §1.1 vector 1 (GET, no body) and vector 2 (POST with query and JSON body).
    const GET_SIG: &str = "bfc2406d8ce0003dcf7b818734b4f9d38bfcf535761327000e4311bd58296e70";
    const POST_SIG: &str = "c8b34e160a8f29f50fcb12106217beb1f4fc47f9ef7fd0ff2a8e100caec0dca1";
    const POST_BODY: &[u8] = br#"{"log_group_name": "g1", "ttl_in_days": 7}"#;
    const POST_QUERY: &str = "enterprise_project_id=a%20b%2Fc";

    fn groups_path() -> String {
        format!("/v2/{PROJECT}/groups")
    }

    fn ring() -> KeyRing {
        KeyRing::new(vec![AccessKey::new("testak", Secret::new("testsk"))], vec![])
    }

    fn auth(access: &str, signed_headers: &str, signature: &str) -> String {
        format!("SDK-HMAC-SHA256 Access={access}, SignedHeaders={signed_headers}, Signature={signature}")
    }

    /// The vector headers exactly as lts.md §1.1 lists them, plus the Authorization.
    fn sdk_headers(signature: &str) -> HeaderMap {
        header_map(&[
            ("Content-Type", "application/json"),
            ("User-Agent", "test-agent"),
            ("X-Project-Id", PROJECT),
            ("X-Sdk-Date", XDATE),
            ("Host", "127.0.0.1:8080"),
            ("Authorization", &auth("testak", SDK_SIGNED, signature)),
        ])
    }

    /// Only `Host` and `X-Sdk-Date`, signed under `signed_headers`.
    fn minimal_headers(signed_headers: &str, signature: &str) -> HeaderMap {
        header_map(&[
            ("Host", "127.0.0.1:8080"),
            ("X-Sdk-Date", XDATE),
            ("Authorization", &auth("testak", signed_headers, signature)),
        ])
    }

    fn check(
        method: &str,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> ApiResult<Verified> {
        let req = RequestView { method, path, raw_query: query, headers, body };
        ring().verify_lts(&req, now)
    }

    fn get_vector(headers: &HeaderMap) -> ApiResult<Verified> {
        check("GET", &groups_path(), None, headers, b"", NOW)
    }

    fn post_vector(headers: &HeaderMap) -> ApiResult<Verified> {
        check("POST", &groups_path(), Some(POST_QUERY), headers, POST_BODY, NOW)
    }

    fn ok() -> ApiResult<Verified> {
        Ok(Verified { access_key_id: "testak".into() })
    }

    fn assert_code(result: ApiResult<Verified>, code: ErrorCode) -> ApiError {
        let err = result.expect_err("verification should fail");
        assert_eq!(err.code, code, "{err}");
        assert!(!err.message.contains("testsk"), "{err}");
        for sig in [GET_SIG, POST_SIG] {
            assert!(!err.message.contains(sig), "{err}");
        }
        err
    }

    #[test]
    fn document_vectors_verify() {
        assert_eq!(get_vector(&sdk_headers(GET_SIG)), ok());
        assert_eq!(post_vector(&sdk_headers(POST_SIG)), ok());
    }

    #[test]
    fn document_vector_canonical_request_matches() {
        let headers = sdk_headers(GET_SIG);
        let path = groups_path();
        let req = RequestView { method: "GET", path: &path, raw_query: None, headers: &headers, body: b"" };
        let names = signed_header_names(SDK_SIGNED).expect("valid list");
        let expected = format!(
            "GET\n/v2/{PROJECT}/groups/\n\ncontent-type:application/json\nhost:127.0.0.1:8080\n\
             user-agent:test-agent\nx-project-id:{PROJECT}\nx-sdk-date:{XDATE}\n\n{SDK_SIGNED}\n{EMPTY_SHA256}"
        );
        let canonical = canonical_request(&req, &names).expect("all signed headers present");
        assert_eq!(String::from_utf8_lossy(&canonical), expected);
        assert_eq!(
            hex::encode(Sha256::digest(&canonical)),
            "817b4ec09b6e7c171829bd69d3b5760f535f76c9ea242670a19deffb1daa89e9"
        );
        assert_eq!(canonical_query(Some(POST_QUERY)), POST_QUERY);
        assert_eq!(
            hex::encode(Sha256::digest(POST_BODY)),
            "8c1575012e28f20251c441c6fa79d0e4460d81fcb283f836970627fcc24d2a6e"
        );
    }

    #[test]
    fn unsigned_headers_may_change() {
        let upper_hex = auth("testak", SDK_SIGNED, &GET_SIG.to_uppercase());
        for (name, value) in [
            ("accept", Some("*/*")),
            ("accept-encoding", Some("gzip, deflate")),
            ("connection", Some("keep-alive")),
            ("content-length", Some("0")),
            ("x-sdk-content-sha256", Some("UNSIGNED-PAYLOAD")),
            ("authorization", Some(upper_hex.as_str())),
        ] {
            assert_eq!(get_vector(&with_header(&sdk_headers(GET_SIG), name, value)), ok(), "{name}");
        }
        // Surrounding whitespace of a signed value is trimmed, as the SDK trims it.
        assert_eq!(get_vector(&with_header(&sdk_headers(GET_SIG), "user-agent", Some("  test-agent "))), ok());
    }

    #[test]
    fn any_change_to_signed_data_is_signature_not_match() {
        let path = groups_path();
        let get = sdk_headers(GET_SIG);
        let post = sdk_headers(POST_SIG);
        let flipped = GET_SIG.replacen("bfc2", "bfc3", 1);
        for result in [
            check("DELETE", &path, None, &get, b"", NOW),
            check("GET", &format!("/v2/{PROJECT}/streams"), None, &get, b"", NOW),
            check("GET", &path, Some("x=1"), &get, b"", NOW),
            check("POST", &path, Some("enterprise_project_id=a%20b%2Fd"), &post, POST_BODY, NOW),
            check("POST", &path, None, &post, POST_BODY, NOW),
            check("POST", &path, Some(POST_QUERY), &post, br#"{"log_group_name": "g2", "ttl_in_days": 7}"#, NOW),
            check("POST", &path, Some(POST_QUERY), &post, b"", NOW),
            get_vector(&with_header(&get, "authorization", Some(&auth("testak", SDK_SIGNED, &flipped)))),
            get_vector(&with_header(&get, "authorization", Some(&auth("testak", SDK_SIGNED, "zz")))),
            get_vector(&with_header(&get, "authorization", Some(&auth("testak", SDK_SIGNED, &GET_SIG[..62])))),
        ] {
            let err = assert_code(result, ErrorCode::SignatureNotMatch);
            assert_eq!(err.code.status().as_u16(), 401);
        }
        for (name, value) in [
            ("content-type", "application/json;charset=UTF-8"),
            ("host", "127.0.0.1:8081"),
            ("user-agent", "curl/8"),
            ("x-project-id", "ffffffffffffffffffffffffffffffff"),
            ("x-sdk-date", "20240101T000001Z"),
        ] {
            assert_code(get_vector(&with_header(&get, name, Some(value))), ErrorCode::SignatureNotMatch);
        }
    }

    #[test]
    fn an_absent_signed_header_is_signature_not_match() {
        for name in ["content-type", "host", "user-agent", "x-project-id"] {
            let err =
                assert_code(get_vector(&with_header(&sdk_headers(GET_SIG), name, None)), ErrorCode::SignatureNotMatch);
            assert_eq!(err.message, format!("Signed header {name} is missing from the request."));
        }
        // A name the client never sent, smuggled into the list.
        let listed = with_header(
            &sdk_headers(GET_SIG),
            "authorization",
            Some(&auth("testak", "content-type;host;user-agent;x-project-id;x-sdk-date;x-extra", GET_SIG)),
        );
        assert_code(get_vector(&listed), ErrorCode::SignatureNotMatch);
    }

    // The signatures below were computed once with an independent Python signer (hmac, hashlib,
    // urllib.parse.quote(s, safe='~')) written from lts.md §1.1, never with this module.

    #[test]
    fn signed_headers_must_name_host_and_x_sdk_date() {
        let get = |headers: &HeaderMap| check("GET", "/v2/p/x", None, headers, b"", NOW);
        // Control: the same request signing both verifies.
        let both = "6feeae1fcecea35b9b0d07ea518bf3b0c558ad1ea62c146e5cb425abcd9d8f2f";
        assert_eq!(get(&minimal_headers("host;x-sdk-date", both)), ok());
        // Listed names are lower-cased (the SDK always sends them so); odd names are just absent.
        assert_eq!(get(&minimal_headers("Host; X-Sdk-Date", both)), ok());
        for list in ["host;x-sdk-date;bad name", "host;;x-sdk-date", "host;x-sdk-date;a:b"] {
            assert_code(get(&minimal_headers(list, both)), ErrorCode::SignatureNotMatch);
        }
        // Valid signatures over a list lacking one of them are still refused.
        let host_only = "eb2fe860ab4eab434600abd3737287dba075ef9c59bca09f2ddfb986ac468d30";
        let err = assert_code(get(&minimal_headers("host", host_only)), ErrorCode::SignatureNotMatch);
        assert_eq!(err.message, "SignedHeaders must include x-sdk-date.");
        let date_only = "bea4436ffb4c505280b77905b296b7ca4a6d9f3a31faab35bfa412dae0ca9982";
        let err = assert_code(get(&minimal_headers("x-sdk-date", date_only)), ErrorCode::SignatureNotMatch);
        assert_eq!(err.message, "SignedHeaders must include host.");
    }

    #[test]
    fn clock_skew_allows_exactly_900_seconds_each_way() {
        let at = |now| check("GET", &groups_path(), None, &sdk_headers(GET_SIG), b"", now);
        assert_eq!(at(NOW - 900), ok());
        assert_eq!(at(NOW + 900), ok());
        for now in [NOW - 901, NOW + 901] {
            let err = assert_code(at(now), ErrorCode::RequestTimeExpired);
            assert_eq!(err.message, format!("Request time {NOW} has been expired while server time is {now}."));
        }
    }

    #[test]
    fn a_replay_with_a_fresh_date_fails() {
        let later = NOW + 3600;
        let replay = |headers: &HeaderMap| check("GET", &groups_path(), None, headers, b"", later);
        assert_code(replay(&sdk_headers(GET_SIG)), ErrorCode::RequestTimeExpired);
        let fresh = with_header(&sdk_headers(GET_SIG), "x-sdk-date", Some("20240101T010000Z"));
        assert_code(replay(&fresh), ErrorCode::SignatureNotMatch);
        let with_http_date = with_header(&sdk_headers(GET_SIG), "date", Some("Mon, 01 Jan 2024 01:00:00 GMT"));
        assert_code(replay(&with_http_date), ErrorCode::RequestTimeExpired);
    }

    #[test]
    fn missing_or_malformed_x_sdk_date() {
        let no_date = with_header(&sdk_headers(GET_SIG), "x-sdk-date", None);
        let with_http_date = with_header(&no_date, "date", Some("Mon, 01 Jan 2024 00:00:00 GMT"));
        let err = assert_code(get_vector(&with_http_date), ErrorCode::MissingDate);
        assert_eq!(err.code.status().as_u16(), 400);
        for bad in [
            "2024-01-01T00:00:00Z",
            "20240101T000000",
            "20241301T000000Z",
            "20240231T000000Z",
            "20240101T246000Z",
            "2024010aT000000Z",
            "Mon, 01 Jan 2024 00:00:00 GMT",
        ] {
            let headers = with_header(&sdk_headers(GET_SIG), "x-sdk-date", Some(bad));
            let err = assert_code(get_vector(&headers), ErrorCode::InvalidRequestTime);
            assert_eq!(err.code.status().as_u16(), 400);
        }
        assert_eq!(crate::auth::parse_iso8601_basic(XDATE), Some(NOW));
        assert_eq!(crate::auth::parse_iso8601_basic("19700101T000000Z"), Some(0));
    }

    #[test]
    fn missing_authorization_is_401_unauthorized() {
        let headers = with_header(&sdk_headers(GET_SIG), "authorization", None);
        let err = assert_code(get_vector(&headers), ErrorCode::Unauthorized);
        assert_eq!(err.code.status().as_u16(), 401);
    }

    #[test]
    fn unknown_access_key_is_invalid_access_key_id_naming_only_the_id() {
        let headers = with_header(&sdk_headers(GET_SIG), "authorization", Some(&auth("NOPE", SDK_SIGNED, GET_SIG)));
        let err = assert_code(get_vector(&headers), ErrorCode::InvalidAccessKeyId);
        assert_eq!(err.code.status().as_u16(), 401);
        assert_eq!(err.message, "The access key id you provided is invalid: NOPE.");
    }

    #[test]
    fn malformed_authorization_is_400_miss_access_key_id() {
        let sh = "SignedHeaders=host;x-sdk-date";
        for bad in [
            "SDK-HMAC-SHA256".to_string(),
            format!("SDK-HMAC-SHA256Access=testak, {sh}, Signature=00"),
            format!("sdk-hmac-sha256 Access=testak, {sh}, Signature=00"),
            format!("SDK-HMAC-SM3 Access=testak, {sh}, Signature=00"),
            format!("V11-HMAC-SHA256 Credential=testak/20240101/r/lts, {sh}, Signature=00"),
            format!("SDK-HMAC-SHA256 {sh}, Signature=00"),
            format!("SDK-HMAC-SHA256 Access=, {sh}, Signature=00"),
            "SDK-HMAC-SHA256 Access=testak, Signature=00".to_string(),
            "SDK-HMAC-SHA256 Access=testak, SignedHeaders=, Signature=00".to_string(),
            format!("SDK-HMAC-SHA256 Access=testak, {sh}"),
            format!("SDK-HMAC-SHA256 Access=testak, {sh}, Signature="),
            format!("SDK-HMAC-SHA256 Access=testak, Access=other, {sh}, Signature=00"),
            "LOG testak:c2ln".to_string(),
            "SLS4-HMAC-SHA256 Credential=testak/20240101/cn-hangzhou/sls/aliyun_v4_request,Signature=00".into(),
            "Basic dGVzdGFrOnRlc3Rzaw==".to_string(),
        ] {
            let headers = with_header(&sdk_headers(GET_SIG), "authorization", Some(&bad));
            let err = assert_code(get_vector(&headers), ErrorCode::MissAccessKeyId);
            assert_eq!(err.code.status().as_u16(), 400, "{bad}");
        }
        // Spacing is lenient and unknown fields are ignored.
        assert_eq!(
            parse_authorization("SDK-HMAC-SHA256  Access=a,SignedHeaders=host;x-sdk-date ,Extra=1, Signature=ff"),
            Ok(LtsAuth { access_key_id: "a", signed_headers: "host;x-sdk-date", signature: "ff" })
        );
    }

    #[test]
    fn plus_in_the_query_is_a_literal_plus() {
        let sig = "b46dfbd3286d1eaeac35bb2bd08121eb286ed416c8314b5da72e4828d5151e93";
        let headers = minimal_headers("host;x-sdk-date", sig);
        let get = |query| check("GET", &groups_path(), Some(query), &headers, b"", NOW);
        // Signed as `a=y&a=z&b=2&flag=&q=a%2Bb`: `+` decodes to itself, bare `flag` is `flag=`,
        // repeated keys sort by value, and the wire order does not matter.
        assert_eq!(get("q=a+b&b=2&a=z&a=y&flag"), ok());
        assert_eq!(get("a=y&a=z&b=2&flag=&q=a%2Bb"), ok());
        assert_eq!(get("q=a%2bb&&b=2&a=y&a=z&flag="), ok());
        assert_code(get("q=a%20b&b=2&a=z&a=y&flag"), ErrorCode::SignatureNotMatch);
        assert_code(get("q=a+b&b=2&a=y&flag"), ErrorCode::SignatureNotMatch);
        assert_eq!(canonical_query(Some("q=a+b&b=2&a=z&a=y&flag")), "a=y&a=z&b=2&flag=&q=a%2Bb");
        assert_eq!(canonical_query(Some("k=%7e%2F%zz&%C3%A9=1")), "k=~%2F%25zz&%C3%A9=1");
        assert_eq!(canonical_query(None), "");
        assert_eq!(canonical_query(Some("")), "");
    }

    #[test]
    fn path_segments_are_encoded_from_the_decoded_path() {
        let sig = "cf2354334169eab18c291bd989d74c7acc100acd46eb7fc5a28e85ad7a21113d";
        let headers = minimal_headers("host;x-sdk-date", sig);
        let get = |path| check("GET", path, None, &headers, b"", NOW);
        // Signed as `/v2/%7Bproject_id%7D/groups/my%20group/%C3%A9/`.
        assert_eq!(get("/v2/{project_id}/groups/my group/é"), ok());
        assert_eq!(get("/v2/{project_id}/groups/my group/é/"), ok());
        assert_code(get("/v2/{project_id}/groups/my+group/é"), ErrorCode::SignatureNotMatch);
        assert_code(get("/v2/{project_id}/groups/my%20group/é"), ErrorCode::SignatureNotMatch);
        assert_eq!(
            canonical_uri("/v2/{project_id}/groups/my group/é"),
            "/v2/%7Bproject_id%7D/groups/my%20group/%C3%A9/"
        );
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/a-b_c.d~e/100%"), "/a-b_c.d~e/100%25/");
    }

    const TEXT_BODY: &[u8] = b"hello lts";
    const TEXT_BODY_SHA: &str = "7f954c27fc38f4abc6b5791a6a257ceb99fb02330071243679a9b422da417e5e";
    const TEXT_SIGNED: &str = "content-type;host;x-sdk-content-sha256;x-sdk-date";

    fn text_post(content_sha: &str, signature: &str, body: &[u8]) -> ApiResult<Verified> {
        let headers = header_map(&[
            ("Content-Type", "text/plain"),
            ("Host", "127.0.0.1:8080"),
            ("X-Sdk-Content-Sha256", content_sha),
            ("X-Sdk-Date", XDATE),
            ("Authorization", &auth("testak", TEXT_SIGNED, signature)),
        ]);
        check("POST", "/v2/p/x", None, &headers, body, NOW)
    }

    #[test]
    fn unsigned_payload_is_refused_for_a_non_empty_body() {
        // A correct signature over `UNSIGNED-PAYLOAD` would leave the body unbound.
        let sig = "4e73b259e700020c769bdea791d9699edfa9df7af1efbf2d989c98a042b462af";
        let err = assert_code(text_post(UNSIGNED_PAYLOAD, sig, TEXT_BODY), ErrorCode::SignatureNotMatch);
        assert!(err.message.contains("UNSIGNED-PAYLOAD"), "{err}");
        // With an empty body the empty-string hash is signed and nothing is left unbound.
        let empty_sig = "4da2346def1cefd146d5f6afdd122b5034d49a36de59d720a9b311646ce8e78e";
        assert_eq!(text_post(UNSIGNED_PAYLOAD, empty_sig, b""), ok());
    }

    #[test]
    fn a_declared_body_hash_must_match_the_body() {
        let sig = "73b5d7857d5c76c892c3c960a1a7dc6c389458594aa94999349246c29a5b4877";
        assert_eq!(text_post(TEXT_BODY_SHA, sig, TEXT_BODY), ok());
        let err = assert_code(text_post(TEXT_BODY_SHA, sig, b"hello ltz"), ErrorCode::SignatureNotMatch);
        assert_eq!(err.message, "X-Sdk-Content-Sha256 does not match the request body.");
        let other = hex::encode(Sha256::digest(b"other"));
        assert_code(text_post(&other, sig, b"other"), ErrorCode::SignatureNotMatch);
    }
}
