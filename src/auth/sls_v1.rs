//! Signature v1 (`Authorization: LOG <AccessKeyId>:<base64 HMAC-SHA1>`, sls.md §5.1): parsing
//! the header value, building the string-to-sign from the received request, and checking the
//! signature. The signed date (`x-log-date` if present, else `Date`) is returned so the caller
//! checks clock skew on exactly the value that was signed.

use std::time::UNIX_EPOCH;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::{
    append_canonical_headers, header_bytes, invalid_request_time, malformed_authorization, signature_not_match,
    sorted_query_params, RequestView, Secret, SignedDate,
};
use crate::error::{ApiError, ApiResult, ErrorCode};

/// The Authorization scheme word; a single space and `<id>:<signature>` follow.
pub(super) const SCHEME: &str = "LOG";

/// The only signature method v1 supports (`x-log-signaturemethod`, optional).
const SIGNATURE_METHOD: &str = "hmac-sha1";

/// A parsed `LOG id:sig` header value.
pub(super) struct V1Auth<'a> {
    pub(super) access_key_id: &'a str,
    signature: &'a str,
}

/// Parses what follows `LOG `: `<AccessKeyId>:<Signature>`.
pub(super) fn parse_authorization(rest: &str) -> ApiResult<V1Auth<'_>> {
    let (id, signature) =
        rest.split_once(':').ok_or_else(|| malformed_authorization("expected LOG <AccessKeyId>:<Signature>"))?;
    let id = id.trim();
    if id.is_empty() {
        return Err(malformed_authorization("empty access key id"));
    }
    Ok(V1Auth { access_key_id: id, signature: signature.trim() })
}

/// Checks the v1 signature of `req` under `secret`; returns the signed date.
pub(super) fn verify(req: &RequestView<'_>, secret: &Secret, auth: &V1Auth<'_>) -> ApiResult<SignedDate> {
    check_signature_method(req)?;
    let (date, signed_at) = signed_date(req)?;
    let message = string_to_sign(req, &date);
    let provided = BASE64.decode(auth.signature).map_err(|_| signature_not_match("Signature is not valid base64."))?;
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.expose().as_bytes()).map_err(ApiError::internal)?;
    mac.update(&message);
    mac.verify_slice(&provided).map_err(|_| signature_not_match("The request signature does not match."))?;
    Ok(signed_at)
}

fn check_signature_method(req: &RequestView<'_>) -> ApiResult<()> {
    match header_bytes(req.headers, "x-log-signaturemethod") {
        None => Ok(()),
        Some(m) if m.eq_ignore_ascii_case(SIGNATURE_METHOD.as_bytes()) => Ok(()),
        Some(m) => {
            Err(signature_not_match(&format!("signature method {} is unsupported", String::from_utf8_lossy(&m))))
        }
    }
}

/// The DATE line of the string-to-sign (`x-log-date` if present, else `Date`) and its time.
fn signed_date(req: &RequestView<'_>) -> ApiResult<(Vec<u8>, SignedDate)> {
    let date = header_bytes(req.headers, "x-log-date")
        .or_else(|| header_bytes(req.headers, "date"))
        .ok_or_else(|| ApiError::new(ErrorCode::MissingDate, "Date does not exist in http header."))?;
    let invalid = || invalid_request_time(&String::from_utf8_lossy(&date), "RFC822");
    let text = std::str::from_utf8(&date).map_err(|_| invalid())?;
    let time = httpdate::parse_http_date(text).map_err(|_| invalid())?;
    let secs = time.duration_since(UNIX_EPOCH).map_err(|_| invalid())?.as_secs();
    let unix = i64::try_from(secs).map_err(|_| invalid())?;
    Ok((date, SignedDate { unix }))
}

/// `VERB\nContent-MD5\nContent-Type\nDATE\n` + CanonicalizedLOGHeaders + CanonicalizedResource.
fn string_to_sign(req: &RequestView<'_>, date: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(req.method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&header_bytes(req.headers, "content-md5").unwrap_or_default());
    out.push(b'\n');
    out.extend_from_slice(&header_bytes(req.headers, "content-type").unwrap_or_default());
    out.push(b'\n');
    out.extend_from_slice(date);
    out.push(b'\n');
    let mut names: Vec<&str> = req.headers.keys().map(|n| n.as_str()).filter(|n| is_signed_header(n)).collect();
    names.sort_unstable();
    append_canonical_headers(&mut out, req.headers, &names);
    append_canonical_resource(&mut out, req.path, req.raw_query);
    out
}

/// `x-log-*` and `x-acs-*`, except `x-log-date` (sent unsigned by PY; it is the DATE line).
/// `x-log-meta-*` stays included, as GO v1 signs it (PY leaves it out, but only the object
/// API, which logtide does not implement, uses it).
fn is_signed_header(lower_name: &str) -> bool {
    (lower_name.starts_with("x-log-") || lower_name.starts_with("x-acs-")) && lower_name != "x-log-date"
}

/// The decoded path, then `?` + sorted `key=value` pairs joined by `&` if there is any pair.
fn append_canonical_resource(out: &mut Vec<u8>, path: &str, raw_query: Option<&str>) {
    out.extend_from_slice(path.as_bytes());
    for (i, (key, value)) in sorted_query_params(raw_query).iter().enumerate() {
        out.push(if i == 0 { b'?' } else { b'&' });
        out.extend_from_slice(key);
        out.push(b'=');
        out.extend_from_slice(value);
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::super::test_support::{header_map, with_header};
    use super::super::{AccessKey, KeyRing, Verified};
    use super::*;

    /// Mon, 23 Nov 2026 12:29:10 GMT.
    const NOW: i64 = 1_795_436_950;
    const DATE: &str = "Mon, 23 Nov 2026 12:29:10 GMT";
    const PATH: &str = "/logstores/mystore/shards/route";
    const QUERY: &str = "key=14d2f850ad6ea48e46e4547edbbb27e0";
    const SIG: &str = "DN4wlvxDWZqzwobr6e5TSYcXpXY=";

    fn ring() -> KeyRing {
        let key = |id: &str, secret: &str| AccessKey::new(id, Secret::new(secret));
        KeyRing::new(vec![key("AKID", "SECRET"), key("OTHER", "NOT-THE-SECRET")], vec![])
    }

    /// The worked vector of sls.md §5.1 as PY 0.9.52 sends it (x-log-date is a copy of Date,
    /// added after signing).
    fn captured() -> HeaderMap {
        header_map(&[
            ("host", "myproj.127.0.0.1"),
            ("user-agent", "log-python-sdk-v-0.9.52, sys.version_info(major=3), linux"),
            ("accept-encoding", "gzip, deflate"),
            ("accept", "*/*"),
            ("connection", "keep-alive"),
            ("content-type", "application/x-protobuf"),
            ("content-md5", "1CC4429EBD94FF17C6C76C9621953C21"),
            ("content-length", "32"),
            ("x-log-apiversion", "0.6.0"),
            ("x-log-bodyrawsize", "32"),
            ("x-log-signaturemethod", "hmac-sha1"),
            ("date", DATE),
            ("x-log-date", DATE),
            ("authorization", &format!("LOG AKID:{SIG}")),
        ])
    }

    fn verify_req(method: &str, path: &str, query: Option<&str>, headers: &HeaderMap, now: i64) -> ApiResult<Verified> {
        let req = RequestView { method, path, raw_query: query, headers, body: &[7; 32] };
        ring().verify(&req, now)
    }

    fn verify_captured(headers: &HeaderMap) -> ApiResult<Verified> {
        verify_req("POST", PATH, Some(QUERY), headers, NOW)
    }

    fn assert_code(result: ApiResult<Verified>, code: ErrorCode) -> ApiError {
        let err = result.expect_err("verification should fail");
        assert_eq!(err.code, code, "{err}");
        err
    }

    #[test]
    fn worked_vector_string_to_sign_matches_the_document() {
        let headers = captured();
        let req = RequestView { method: "POST", path: PATH, raw_query: Some(QUERY), headers: &headers, body: b"" };
        let expected = "POST\n1CC4429EBD94FF17C6C76C9621953C21\napplication/x-protobuf\n\
                        Mon, 23 Nov 2026 12:29:10 GMT\nx-log-apiversion:0.6.0\n\
                        x-log-bodyrawsize:32\nx-log-signaturemethod:hmac-sha1\n\
                        /logstores/mystore/shards/route?key=14d2f850ad6ea48e46e4547edbbb27e0";
        assert_eq!(String::from_utf8_lossy(&string_to_sign(&req, DATE.as_bytes())), expected);
    }

    #[test]
    fn worked_vector_verifies() {
        let ok = Verified { access_key_id: "AKID".into() };
        assert_eq!(verify_captured(&captured()), Ok(ok.clone()));
        // Date alone, or x-log-date alone (the browser STS plugin), sign the same DATE line.
        assert_eq!(verify_captured(&with_header(&captured(), "x-log-date", None)), Ok(ok.clone()));
        assert_eq!(verify_captured(&with_header(&captured(), "date", None)), Ok(ok.clone()));
        // Padded values are trimmed; unsigned headers and the body are not v1's concern.
        for (name, value) in
            [("x-log-apiversion", " 0.6.0 "), ("user-agent", "curl"), ("host", "elsewhere"), ("content-length", "33")]
        {
            let headers = with_header(&captured(), name, Some(value));
            assert_eq!(verify_captured(&headers), Ok(ok.clone()), "{name}");
        }
        let headers = captured();
        let other_body =
            RequestView { method: "POST", path: PATH, raw_query: Some(QUERY), headers: &headers, body: b"x" };
        assert_eq!(ring().verify(&other_body, NOW), Ok(ok));
    }

    #[test]
    fn any_change_to_signed_data_is_signature_not_match() {
        let flipped = format!("LOG AKID:{}", SIG.replacen("DN4w", "DN5w", 1));
        let header_changes = [
            ("authorization", Some(flipped.as_str())),
            ("authorization", Some("LOG AKID:not base64!")),
            ("authorization", Some("LOG OTHER:DN4wlvxDWZqzwobr6e5TSYcXpXY=")),
            ("content-md5", Some("1CC4429EBD94FF17C6C76C9621953C22")),
            ("content-md5", None),
            ("content-type", Some("application/json")),
            ("x-log-bodyrawsize", Some("33")),
            ("x-log-signaturemethod", None),
            ("x-acs-security-token", Some("injected")),
            ("x-log-compresstype", Some("lz4")),
        ];
        for (name, value) in header_changes {
            let err =
                assert_code(verify_captured(&with_header(&captured(), name, value)), ErrorCode::SignatureNotMatch);
            assert_eq!(err.code.status().as_u16(), 401);
            assert!(!err.message.contains(SIG) && !err.message.contains("SECRET"), "{err}");
        }
        let h = captured();
        let q = Some(QUERY);
        for result in [
            verify_req("PUT", PATH, q, &h, NOW),
            verify_req("POST", "/logstores/mystore/shards/routf", q, &h, NOW),
            verify_req("POST", PATH, Some("key=14d2f850ad6ea48e46e4547edbbb27e1"), &h, NOW),
            verify_req("POST", PATH, Some("kex=14d2f850ad6ea48e46e4547edbbb27e0"), &h, NOW),
            verify_req("POST", PATH, Some("key=14d2f850ad6ea48e46e4547edbbb27e0&x=1"), &h, NOW),
            verify_req("POST", PATH, None, &h, NOW),
        ] {
            assert_code(result, ErrorCode::SignatureNotMatch);
        }
    }

    #[test]
    fn clock_skew_is_checked_on_the_signed_date() {
        for now in [NOW - 900, NOW + 900] {
            assert!(verify_req("POST", PATH, Some(QUERY), &captured(), now).is_ok());
        }
        for now in [NOW - 901, NOW + 901] {
            let err =
                assert_code(verify_req("POST", PATH, Some(QUERY), &captured(), now), ErrorCode::RequestTimeExpired);
            assert_eq!(err.code.status().as_u16(), 400);
            assert_eq!(err.message, format!("Request time {NOW} has been expired while server time is {now}."));
        }
    }

    #[test]
    fn a_replay_with_a_fresh_date_header_fails() {
        let later = NOW + 3600;
        let fresh = "Mon, 23 Nov 2026 13:29:10 GMT";
        let replay = |headers: &HeaderMap| verify_req("POST", PATH, Some(QUERY), headers, later);
        assert_code(replay(&captured()), ErrorCode::RequestTimeExpired);
        // A fresh x-log-date replaces the signed DATE line, so the signature breaks.
        assert_code(replay(&with_header(&captured(), "x-log-date", Some(fresh))), ErrorCode::SignatureNotMatch);
        // A fresh Date next to the stale x-log-date: the stale x-log-date is what counts.
        assert_code(replay(&with_header(&captured(), "date", Some(fresh))), ErrorCode::RequestTimeExpired);
        // A fresh Date with x-log-date removed: Date is now the DATE line, signature breaks.
        let fresh_date_only = with_header(&with_header(&captured(), "x-log-date", None), "date", Some(fresh));
        assert_code(replay(&fresh_date_only), ErrorCode::SignatureNotMatch);
    }

    #[test]
    fn missing_or_malformed_dates() {
        let no_dates = with_header(&with_header(&captured(), "x-log-date", None), "date", None);
        let err = assert_code(verify_captured(&no_dates), ErrorCode::MissingDate);
        assert_eq!(err.code.status().as_u16(), 400);
        for bad in ["yesterday", "2026-11-23T12:29:10Z", "Mon, 23 Nov 2026 12:29:10 +0800", ""] {
            let headers = with_header(&captured(), "x-log-date", Some(bad));
            let err = assert_code(verify_captured(&headers), ErrorCode::InvalidRequestTime);
            assert_eq!(err.code.status().as_u16(), 400);
        }
    }

    #[test]
    fn unsupported_signature_method_is_refused() {
        let headers = with_header(&captured(), "x-log-signaturemethod", Some("hmac-sha256"));
        let err = assert_code(verify_captured(&headers), ErrorCode::SignatureNotMatch);
        assert_eq!(err.message, "signature method hmac-sha256 is unsupported");
        // The method name is matched case-insensitively; the value itself is still signed.
        let headers = with_header(&captured(), "x-log-signaturemethod", Some("HMAC-SHA1"));
        let err = assert_code(verify_captured(&headers), ErrorCode::SignatureNotMatch);
        assert_eq!(err.message, "The request signature does not match.");
    }

    // The signatures below were computed once with an independent Python client-side signer
    // (hmac/hashlib/base64, written from sls.md §5.1) over the decoded parameter values.

    fn signed_get(auth: &str, content_type: Option<&str>) -> HeaderMap {
        let mut pairs = vec![
            ("x-log-apiversion", "0.6.0"),
            ("x-log-bodyrawsize", "0"),
            ("x-log-signaturemethod", "hmac-sha1"),
            ("date", DATE),
            ("authorization", auth),
        ];
        if let Some(ct) = content_type {
            pairs.push(("content-type", ct));
        }
        header_map(&pairs)
    }

    #[test]
    fn query_is_sorted_with_empty_values_kept_as_key_equals() {
        // Signed: GET /logstores?logstoreName=&offset=0&size=10
        let h = signed_get("LOG AKID:9cxV4mH6lqx/Vn9mfKNk/Zn+52E=", Some("application/json"));
        let get = |q| verify_req("GET", "/logstores", Some(q), &h, NOW);
        assert!(get("size=10&offset=0&logstoreName=").is_ok());
        assert!(get("logstoreName&size=10&offset=0").is_ok());
        assert!(get("offset=0&&logstoreName=&size=10&").is_ok());
        assert_code(get("size=10&offset=0"), ErrorCode::SignatureNotMatch);
    }

    #[test]
    fn query_values_are_form_decoded() {
        // Signed over the decoded values query="* | select count(*) as c" and topic="a+b", as
        // PY (requests) and GO send them: space as '+', a literal plus as %2B.
        let h = signed_get("LOG AKID:vEJs0ECJwqxNBDhXjljpN2UEzDw=", None);
        let get = |q| verify_req("GET", "/logstores/mystore", Some(q), &h, NOW);
        assert!(
            get("type=log&query=%2A+%7C+select+count%28%2A%29+as+c&from=1795400000&to=1795436950&topic=a%2Bb").is_ok()
        );
        assert!(
            get("topic=a%2bb&to=1795436950&from=1795400000&query=*%20|%20select%20count(*)%20as%20c&type=log").is_ok()
        );
        assert_code(
            get("type=log&query=%2A+%7C+select+count%28%2A%29+as+c&from=1795400000&to=1795436950&topic=a+b"),
            ErrorCode::SignatureNotMatch,
        );
    }

    #[test]
    fn bare_trailing_question_mark_and_sts_token_with_x_log_date_only() {
        // NODE `POST /logstores/s/shards/lb?`, browser-STS style: x-log-date, no Date, STS token.
        let headers = header_map(&[
            ("content-type", "application/x-protobuf"),
            ("content-md5", "0123456789ABCDEF0123456789ABCDEF"),
            ("x-log-apiversion", "0.6.0"),
            ("x-log-bodyrawsize", "100"),
            ("x-log-signaturemethod", "hmac-sha1"),
            ("x-log-compresstype", "lz4"),
            ("x-acs-security-token", "tok123"),
            ("x-log-date", DATE),
            ("authorization", "LOG AKID:i7bXoSDge2tP5fYw8S8aJLqoIKY="),
        ]);
        let post = |q, h: &HeaderMap| verify_req("POST", "/logstores/s/shards/lb", q, h, NOW);
        assert!(post(Some(""), &headers).is_ok());
        assert!(post(None, &headers).is_ok());
        let stolen_token = with_header(&headers, "x-acs-security-token", Some("tok124"));
        assert_code(post(Some(""), &stolen_token), ErrorCode::SignatureNotMatch);
    }
}
