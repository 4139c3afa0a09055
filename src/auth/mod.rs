//! SLS request authentication: the configured access keys ([`KeyRing`]), verification of the
//! `Authorization` header (signature v1 `LOG id:sig` in [`sls_v1`], v4 `SLS4-HMAC-SHA256` in
//! [`sls_v4`]), the 15-minute clock-skew rule, and per-project authorization of a verified key.
//!
//! Pure: no I/O, no clock (the caller passes `now_unix`), no logging. Everything here follows
//! `shared/docs/protocols/sls.md` §5.
//!
//! Invariants:
//! - The date checked for clock skew is the very value that went into the string-to-sign
//!   (v1: `x-log-date` if present, else `Date`; v4: `x-log-date`), so a replayed request with a
//!   fresh but unsigned date header cannot pass.
//! - Signatures are compared in constant time (`hmac::Mac::verify_slice`).
//! - No error message contains a secret or an expected signature; key ids are not secrets.

mod lts;
mod sls_v1;
mod sls_v4;
mod token;

pub use token::{LtsCaller, LtsToken};

use std::collections::HashMap;

use http::HeaderMap;
use percent_encoding::percent_decode;

use crate::error::{ApiError, ApiResult, ErrorCode};

/// Largest allowed distance, in seconds, between the signed request date and the server clock.
pub const MAX_CLOCK_SKEW_SECS: u64 = 15 * 60;

/// A configured access key and the projects it may use: `projects` to read and write,
/// `read_projects` only to read, `write_projects` only to write (`"*"` in a list = every project).
/// All three empty = every project, read and write.
#[derive(Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessKey {
    pub id: String,
    pub secret: Secret,
    #[serde(default)]
    pub projects: Vec<String>,
    #[serde(default)]
    pub read_projects: Vec<String>,
    #[serde(default)]
    pub write_projects: Vec<String>,
    /// LTS project ids (the `{project_id}` of `/v2/{project_id}/…` URLs) the key may use; empty =
    /// any.
    #[serde(default)]
    pub project_ids: Vec<String>,
}

/// What a request does to a project. Read: the catalog and stored logs (list, get, cursors,
/// pull, queries). Write: logs (PutLogs and the other write doors) and the catalog (create,
/// update, delete, split, merge, dumps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl AccessKey {
    /// A key with no limits: every project, read and write.
    pub fn new(id: impl Into<String>, secret: Secret) -> AccessKey {
        AccessKey {
            id: id.into(),
            secret,
            projects: Vec::new(),
            read_projects: Vec::new(),
            write_projects: Vec::new(),
            project_ids: Vec::new(),
        }
    }

    /// Whether the key grants `access` to `project`.
    pub fn allows(&self, project: &str, access: Access) -> bool {
        let listed = |list: &[String]| list.iter().any(|p| p == project || p == "*");
        if self.projects.is_empty() && self.read_projects.is_empty() && self.write_projects.is_empty() {
            return true;
        }
        listed(&self.projects)
            || match access {
                Access::Read => listed(&self.read_projects),
                Access::Write => listed(&self.write_projects),
            }
    }
}

/// A secret string whose Debug/Display print `[REDACTED]`; deserializes from a plain string.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into())
    }

    /// The secret itself. Use it only to compute a MAC; never log or format it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(secret: String) -> Secret {
        Secret(secret)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// All configured access keys, looked up by id, and the LTS tokens.
#[derive(Clone, Default)]
pub struct KeyRing {
    keys: HashMap<String, AccessKey>,
    tokens: Vec<LtsToken>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
        ids.sort_unstable();
        f.debug_struct("KeyRing").field("ids", &ids).field("tokens", &self.tokens.len()).finish()
    }
}

/// What the verifier needs from a request. `path` is the percent-decoded path (e.g.
/// `/logstores/s/shards/lb`); `raw_query` is the query string exactly as received, without `?`,
/// or `None`/empty.
#[derive(Clone, Copy)]
pub struct RequestView<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub raw_query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    /// The bytes exactly as received (compressed if compressed).
    pub body: &'a [u8],
}

/// The outcome of a successful verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub access_key_id: String,
}

impl KeyRing {
    /// Builds the ring. If two keys share an id the later one wins; `Config::problems` rejects
    /// such files before they get here.
    pub fn new(keys: Vec<AccessKey>, tokens: Vec<LtsToken>) -> KeyRing {
        let keys = keys.into_iter().map(|k| (k.id.clone(), k)).collect();
        KeyRing { keys, tokens }
    }

    /// No keys and no tokens configured => anonymous mode (the caller decides what that allows).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.tokens.is_empty()
    }

    /// Verifies the Authorization header (v1 `LOG id:sig` or v4
    /// `SLS4-HMAC-SHA256 Credential=...,Signature=...`), then the clock skew of the signed date.
    /// `now_unix` is the server clock in unix seconds.
    pub fn verify(&self, req: &RequestView<'_>, now_unix: i64) -> ApiResult<Verified> {
        let authorization = authorization_header(req.headers)?;
        let parsed = parse_authorization(authorization)?;
        let key = self.lookup(parsed.access_key_id())?;
        // The signed date comes back from the same function that put it into the string-to-sign.
        let signed_at = match &parsed {
            Authorization::V1(auth) => sls_v1::verify(req, &key.secret, auth)?,
            Authorization::V4(auth) => sls_v4::verify(req, &key.secret, auth)?,
        };
        check_clock_skew(signed_at, now_unix)?;
        Ok(Verified { access_key_id: key.id.clone() })
    }

    /// Whether the verified key grants `access` to `project` (401 Unauthorized otherwise).
    pub fn authorize_project(&self, who: &Verified, project: &str, access: Access) -> ApiResult<()> {
        let verb = match access {
            Access::Read => "read",
            Access::Write => "write to",
        };
        let unauthorized = || {
            ApiError::new(
                ErrorCode::Unauthorized,
                format!("The AccessKeyId is unauthorized: {} may not {verb} project {project}.", who.access_key_id),
            )
        };
        let key = self.keys.get(&who.access_key_id).ok_or_else(unauthorized)?;
        if key.allows(project, access) {
            Ok(())
        } else {
            Err(unauthorized())
        }
    }

    fn lookup(&self, id: &str) -> ApiResult<&AccessKey> {
        self.keys.get(id).ok_or_else(|| {
            ApiError::new(ErrorCode::InvalidAccessKeyId, format!("The access key id you provided is invalid: {id}."))
        })
    }
}

/// A parsed `Authorization` header, borrowing from the header value.
enum Authorization<'a> {
    V1(sls_v1::V1Auth<'a>),
    V4(sls_v4::V4Auth<'a>),
}

impl Authorization<'_> {
    fn access_key_id(&self) -> &str {
        match self {
            Authorization::V1(auth) => auth.access_key_id,
            Authorization::V4(auth) => auth.access_key_id,
        }
    }
}

fn authorization_header(headers: &HeaderMap) -> ApiResult<&str> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(ApiError::new(ErrorCode::Unauthorized, "missing Authorization header"));
    };
    if values.next().is_some() {
        return Err(malformed_authorization("more than one Authorization header"));
    }
    value.to_str().map(str::trim).map_err(|_| malformed_authorization("Authorization header is not visible ASCII"))
}

fn parse_authorization(value: &str) -> ApiResult<Authorization<'_>> {
    if let Some(rest) = value.strip_prefix(sls_v1::SCHEME) {
        if rest.starts_with(' ') {
            return sls_v1::parse_authorization(rest.trim_start()).map(Authorization::V1);
        }
    }
    if let Some(rest) = value.strip_prefix(sls_v4::SCHEME) {
        if rest.starts_with(' ') {
            return sls_v4::parse_authorization(rest.trim_start()).map(Authorization::V4);
        }
    }
    Err(malformed_authorization("unsupported Authorization scheme"))
}

/// 400 MissAccessKeyId: the header cannot yield an access key id.
fn malformed_authorization(why: &str) -> ApiError {
    ApiError::new(ErrorCode::MissAccessKeyId, format!("malformed Authorization header: {why}"))
}

/// 401 SignatureNotMatch with a message that reveals nothing about the expected value.
fn signature_not_match(why: &str) -> ApiError {
    ApiError::new(ErrorCode::SignatureNotMatch, why)
}

/// The date a request was signed with, in unix seconds. Only the signature verifiers create it,
/// from the exact header value they put into the string-to-sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SignedDate {
    unix: i64,
}

fn check_clock_skew(signed: SignedDate, now_unix: i64) -> ApiResult<()> {
    if signed.unix.abs_diff(now_unix) > MAX_CLOCK_SKEW_SECS {
        return Err(ApiError::new(
            ErrorCode::RequestTimeExpired,
            format!("Request time {} has been expired while server time is {now_unix}.", signed.unix),
        ));
    }
    Ok(())
}

fn invalid_request_time(text: &str, expected_format: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequestTime, format!("Date {text} must follow {expected_format}."))
}

/// All values of a header, each trimmed of surrounding whitespace, joined by `,` (the HTTP
/// list rule); `None` if absent. Raw bytes, so a UTF-8 value is signed exactly as sent.
fn header_bytes(headers: &HeaderMap, name: &str) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    for value in headers.get_all(name) {
        let buf = out.get_or_insert_with(Vec::new);
        if !buf.is_empty() {
            buf.push(b',');
        }
        buf.extend_from_slice(value.as_bytes().trim_ascii());
    }
    out
}

/// Appends `name:value\n` for each name, in the order given (callers sort).
fn append_canonical_headers(out: &mut Vec<u8>, headers: &HeaderMap, names: &[&str]) {
    for name in names {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(&header_bytes(headers, name).unwrap_or_default());
        out.push(b'\n');
    }
}

/// The query parameters, decoded (`+` as space, then `%XX`), stably sorted by key.
///
/// Both SDK families put a space on the wire as `+` (PY `requests`/`urlencode`, GO
/// `url.Values.Encode`) and a literal plus as `%2B`, and both sign the decoded value (GO
/// `u.Query()`), so form decoding is what reproduces their signatures (e.g. GetLogs `query=`).
/// Empty segments (`a=1&&b=2`, a bare trailing `?`) are skipped; `k` without `=` is `k=""`.
fn sorted_query_params(raw_query: Option<&str>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut params: Vec<(Vec<u8>, Vec<u8>)> = raw_query
        .unwrap_or("")
        .split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| match segment.split_once('=') {
            Some((k, v)) => (form_decode(k), form_decode(v)),
            None => (form_decode(segment), Vec::new()),
        })
        .collect();
    params.sort_by(|a, b| a.0.cmp(&b.0));
    params
}

fn form_decode(s: &str) -> Vec<u8> {
    let plus_as_space = s.replace('+', " ");
    percent_decode(plus_as_space.as_bytes()).collect()
}

/// Whether a declared hex digest (any case) equals `digest`, compared in constant time. Used for
/// the body hashes of SLS v4 (`x-log-content-sha256`) and LTS (`X-Sdk-Content-Sha256`).
pub(crate) fn hex_digest_matches(declared: &[u8], digest: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    hex::decode(declared).is_ok_and(|declared| bool::from(declared.ct_eq(digest)))
}

/// Parses an ISO 8601 basic UTC timestamp, `YYYYMMDDTHHMMSSZ` (SLS v4 `x-log-date`, LTS
/// `X-Sdk-Date`), into unix seconds. Anything else, including impossible dates, is `None`.
pub(crate) fn parse_iso8601_basic(text: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    if text.len() != 16 {
        return None;
    }
    time::PrimitiveDateTime::parse(text, &format).ok().map(|t| t.assume_utc().unix_timestamp())
}

#[cfg(test)]
pub(crate) mod test_support {
    use http::{HeaderMap, HeaderName, HeaderValue};

    /// A HeaderMap holding exactly these headers (names as given, values verbatim).
    pub fn header_map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            let name = HeaderName::from_bytes(name.as_bytes()).expect("test header name");
            map.append(name, HeaderValue::from_str(value).expect("test header value"));
        }
        map
    }

    /// Replaces (or with `None` removes) one header.
    pub fn with_header(map: &HeaderMap, name: &str, value: Option<&str>) -> HeaderMap {
        let mut map = map.clone();
        let name = HeaderName::from_bytes(name.as_bytes()).expect("test header name");
        map.remove(&name);
        if let Some(value) = value {
            map.insert(name, HeaderValue::from_str(value).expect("test header value"));
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::header_map;
    use super::*;

    fn ring() -> KeyRing {
        KeyRing::new(
            vec![
                AccessKey::new("AKID", Secret::new("SECRET")),
                AccessKey {
                    id: "SCOPED".into(),
                    secret: Secret::new("OTHER-SECRET"),
                    projects: vec!["p1".into(), "p2".into()],
                    project_ids: vec![],
                    read_projects: vec![],
                    write_projects: vec![],
                },
            ],
            vec![],
        )
    }

    fn verify_with(authorization: Option<&str>) -> ApiResult<Verified> {
        let mut pairs = vec![("date", "Mon, 23 Nov 2026 12:29:10 GMT")];
        if let Some(a) = authorization {
            pairs.push(("authorization", a));
        }
        let headers = header_map(&pairs);
        let req = RequestView { method: "GET", path: "/", raw_query: None, headers: &headers, body: b"" };
        ring().verify(&req, 1_795_436_950)
    }

    #[test]
    fn secret_is_redacted_in_debug_and_display() {
        let key = AccessKey::new("AKID", Secret::new("SECRET"));
        assert_eq!(format!("{:?}", key.secret), "[REDACTED]");
        assert_eq!(format!("{}", key.secret), "[REDACTED]");
        assert_eq!(key.secret.expose(), "SECRET");
        let ring_debug = format!("{:?}", ring());
        assert!(ring_debug.contains("AKID") && !ring_debug.contains("SECRET"), "{ring_debug}");
    }

    #[test]
    fn access_keys_deserialize_from_the_config_shape() {
        #[derive(serde::Deserialize)]
        struct File {
            access_keys: Vec<AccessKey>,
        }
        let text = "[[access_keys]]\nid = \"a\"\nsecret = \"s1\"\nprojects = [\"p1\"]\n\n\
                    [[access_keys]]\nid = \"b\"\nsecret = \"s2\"\n";
        let file: File = toml::from_str(text).expect("valid toml");
        assert_eq!(file.access_keys[0].secret.expose(), "s1");
        assert_eq!(file.access_keys[0].projects, vec!["p1".to_string()]);
        assert!(file.access_keys[1].projects.is_empty());
        assert!(!KeyRing::new(file.access_keys, vec![]).is_empty());
        assert!(KeyRing::new(vec![], vec![]).is_empty());
    }

    #[test]
    fn missing_authorization_is_401_unauthorized() {
        let err = verify_with(None).unwrap_err();
        assert_eq!(err.code, ErrorCode::Unauthorized);
        assert_eq!(err.code.status().as_u16(), 401);
        assert_eq!(err.message, "missing Authorization header");
    }

    #[test]
    fn malformed_authorization_is_400_miss_access_key_id() {
        for bad in [
            "LOG :c2ln",
            "LOG AKID",
            "LOG",
            "LOGAKID:c2ln",
            "Basic QUtJRDpTRUNSRVQ=",
            "SLS4-HMAC-SHA256 Signature=00",
            "SLS4-HMAC-SHA256 Credential=/20261123/cn-hangzhou/sls/aliyun_v4_request,Signature=00",
            "SLS4-HMAC-SHA256 Credential=AKID/20261123/cn-hangzhou/oss/aliyun_v4_request,Signature=00",
            "SLS4-HMAC-SHA256 Credential=AKID/20261123/cn-hangzhou/sls/aliyun_v4_request",
        ] {
            let err = verify_with(Some(bad)).unwrap_err();
            assert_eq!(err.code, ErrorCode::MissAccessKeyId, "{bad}: {err}");
            assert_eq!(err.code.status().as_u16(), 400);
        }
    }

    #[test]
    fn unknown_key_is_401_invalid_access_key_id_naming_only_the_id() {
        for auth in [
            "LOG NOPE:DN4wlvxDWZqzwobr6e5TSYcXpXY=",
            "SLS4-HMAC-SHA256 Credential=NOPE/20261123/cn-hangzhou/sls/aliyun_v4_request,Signature=00",
        ] {
            let err = verify_with(Some(auth)).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidAccessKeyId);
            assert_eq!(err.code.status().as_u16(), 401);
            assert_eq!(err.message, "The access key id you provided is invalid: NOPE.");
        }
    }

    #[test]
    fn project_authorization_follows_the_key_list() {
        let ring = ring();
        let open = Verified { access_key_id: "AKID".into() };
        let scoped = Verified { access_key_id: "SCOPED".into() };
        for access in [Access::Read, Access::Write] {
            assert!(ring.authorize_project(&open, "anything", access).is_ok());
            assert!(ring.authorize_project(&scoped, "p1", access).is_ok());
            assert!(ring.authorize_project(&scoped, "p2", access).is_ok());
            let err = ring.authorize_project(&scoped, "p3", access).unwrap_err();
            assert_eq!(err.code, ErrorCode::Unauthorized);
            assert_eq!(err.code.status().as_u16(), 401);
            assert!(!err.message.contains("OTHER-SECRET"));
            let gone = Verified { access_key_id: "REMOVED".into() };
            assert_eq!(ring.authorize_project(&gone, "p1", access).unwrap_err().code, ErrorCode::Unauthorized);
        }
    }

    #[test]
    fn read_and_write_grants_are_per_project() {
        let key = AccessKey {
            id: "MIXED".into(),
            secret: Secret::new("s"),
            projects: vec!["both".into()],
            project_ids: vec![],
            read_projects: vec!["audit".into()],
            write_projects: vec!["ingest".into()],
        };
        let allowed = |project: &str, access| key.allows(project, access);
        assert!(allowed("both", Access::Read) && allowed("both", Access::Write));
        assert!(allowed("audit", Access::Read) && !allowed("audit", Access::Write));
        assert!(!allowed("ingest", Access::Read) && allowed("ingest", Access::Write));
        assert!(!allowed("other", Access::Read) && !allowed("other", Access::Write));
        let reader = AccessKey { read_projects: vec!["*".into()], projects: vec![], write_projects: vec![], ..key };
        assert!(reader.allows("anything", Access::Read) && !reader.allows("anything", Access::Write));
        let ring = KeyRing::new(vec![reader], vec![]);
        let who = Verified { access_key_id: "MIXED".into() };
        let err = ring.authorize_project(&who, "web", Access::Write).unwrap_err();
        assert_eq!(err.message, "The AccessKeyId is unauthorized: MIXED may not write to project web.");
    }

    #[test]
    fn clock_skew_allows_exactly_900_seconds_each_way() {
        let at = |unix| SignedDate { unix };
        let t = 1_795_436_950;
        assert!(check_clock_skew(at(t), t + 900).is_ok());
        assert!(check_clock_skew(at(t), t - 900).is_ok());
        for now in [t + 901, t - 901] {
            let err = check_clock_skew(at(t), now).unwrap_err();
            assert_eq!(err.code, ErrorCode::RequestTimeExpired);
            assert_eq!(err.code.status().as_u16(), 400);
            assert_eq!(err.message, format!("Request time {t} has been expired while server time is {now}."));
        }
        assert!(check_clock_skew(at(i64::MIN), i64::MAX).is_err());
    }

    #[test]
    fn query_params_are_decoded_and_sorted_by_key() {
        let p = |q| -> Vec<(String, String)> {
            sorted_query_params(q)
                .into_iter()
                .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
                .collect()
        };
        let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert!(p(None).is_empty());
        assert!(p(Some("")).is_empty());
        assert!(p(Some("&&")).is_empty());
        assert_eq!(
            p(Some("size=10&offset=0&logstoreName=")),
            vec![kv("logstoreName", ""), kv("offset", "0"), kv("size", "10")]
        );
        assert_eq!(
            p(Some("q=%2A+%7C+a%2Bb&flag&b=x%3Dy=z")),
            vec![kv("b", "x=y=z"), kv("flag", ""), kv("q", "* | a+b")]
        );
        assert_eq!(p(Some("k=2&a=1&k=1")), vec![kv("a", "1"), kv("k", "2"), kv("k", "1")]);
    }
}
