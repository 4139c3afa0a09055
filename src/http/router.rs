//! Parses a request line into an [`Endpoint`]: every URL form the SLS clients use (sls.md §2.4),
//! with their query parameters. Pure: no I/O, no bodies.

use http::Method;

use crate::auth::Access;
use crate::error::{ApiError, ApiResult, ErrorCode};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /health`: liveness.
    Health,
    /// `GET /ready`: readiness (503 from the start of shutdown).
    Ready,
    /// `GET /metrics`: Prometheus metrics.
    Metrics,
    ListProjects {
        offset: usize,
        size: usize,
        name: Option<String>,
    },
    CreateProject,
    GetProject,
    UpdateProject,
    DeleteProject,
    CreateLogstore,
    ListLogstores {
        offset: usize,
        size: usize,
        name: Option<String>,
    },
    GetLogstore {
        logstore: String,
    },
    UpdateLogstore {
        logstore: String,
    },
    DeleteLogstore {
        logstore: String,
    },
    /// `/shards/lb`, `/shards/route?key=`, and `POST /logstores/{ls}` (Go SDK). The legacy
    /// `x-log-hashkey` header is read by the handler.
    PutLogs {
        logstore: String,
        hash_key: Option<String>,
    },
    /// `POST /v4/callback/logs`: a JSON array of container-log records.
    CallbackLogs,
    /// Anonymous web tracking: `POST …/track` (JSON), `GET …/track`, `…/track.gif`, `…/track_ua.gif`.
    WebTrack {
        logstore: String,
        kind: TrackKind,
    },
    ListShards {
        logstore: String,
    },
    SplitShard {
        logstore: String,
        shard: u32,
        key: String,
    },
    MergeShards {
        logstore: String,
        shard: u32,
    },
    DeleteShard {
        logstore: String,
        shard: u32,
    },
    GetCursor {
        logstore: String,
        shard: u32,
        from: String,
    },
    GetCursorTime {
        logstore: String,
        shard: u32,
        cursor: String,
    },
    PullLogs {
        logstore: String,
        shard: u32,
        cursor: String,
        count: usize,
        end_cursor: Option<String>,
    },
    /// `POST /logstores/{ls}/logs`: GetLogs v2 (JSON body).
    GetLogsV2 {
        logstore: String,
    },
    /// `GET /logstores/{ls}?type=log&from=&to=&query=…`: GetLogs v1.
    GetLogsV1 {
        logstore: String,
    },
    /// `GET /logstores/{ls}?type=histogram&from=&to=&query=…`.
    GetHistograms {
        logstore: String,
    },
}

/// The web-tracking request forms (sls.md §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackKind {
    /// `POST …/track`: a JSON `__logs__` body.
    Post,
    /// `GET …/track?k=v…`: one log from the query.
    Get,
    /// `GET …/track.gif?k=v…`: one log; the answer is a 1×1 GIF.
    Gif,
    /// `GET …/track_ua.gif?k=v…`: as `Gif`, plus the User-Agent and Referer as fields.
    GifWithUserAgent,
}

impl Endpoint {
    /// Whether the endpoint writes log data (its body limit is the write limit, not the small
    /// management limit).
    pub fn is_write(&self) -> bool {
        matches!(self, Endpoint::PutLogs { .. } | Endpoint::WebTrack { .. } | Endpoint::CallbackLogs)
    }

    /// What the endpoint does to its project, for the access key's per-project grants.
    pub fn access(&self) -> Access {
        use Endpoint::*;
        match self {
            Health | Ready | Metrics | ListProjects { .. } | GetProject | ListLogstores { .. } | GetLogstore { .. } => {
                Access::Read
            }
            ListShards { .. }
            | GetCursor { .. }
            | GetCursorTime { .. }
            | PullLogs { .. }
            | GetLogsV2 { .. }
            | GetLogsV1 { .. }
            | GetHistograms { .. } => Access::Read,
            CreateProject
            | UpdateProject
            | DeleteProject
            | CreateLogstore
            | UpdateLogstore { .. }
            | DeleteLogstore { .. }
            | PutLogs { .. }
            | CallbackLogs
            | WebTrack { .. }
            | SplitShard { .. }
            | MergeShards { .. }
            | DeleteShard { .. } => Access::Write,
        }
    }

    /// Web tracking is anonymous by design; it is gated by the logstore's `enable_tracking`.
    pub fn is_anonymous(&self) -> bool {
        matches!(self, Endpoint::WebTrack { .. })
    }
}

/// Decoded query parameters, in order.
#[derive(Debug, Default, Clone)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    /// Splits a raw query string and form-decodes it (`+` is a space, `%XX` escapes), the way the
    /// SDKs encode and sign it. (Cursors are base64 of decimal digits, which never contains `+`.)
    pub fn parse(raw: Option<&str>) -> Query {
        let raw = raw.unwrap_or("");
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode_form(k), decode_form(v))
            })
            .collect();
        Query(pairs)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn required(&self, key: &str) -> ApiResult<&str> {
        self.get(key).ok_or_else(|| ApiError::param(format!("query parameter {key} is required")))
    }

    fn number<T: std::str::FromStr>(&self, key: &str, default: T) -> ApiResult<T> {
        match self.get(key) {
            None | Some("") => Ok(default),
            Some(v) => {
                v.parse().map_err(|_| ApiError::param(format!("query parameter {key}={v:?} is not a valid number")))
            }
        }
    }
}

/// Percent-decodes a path.
pub fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Form-decodes a query component: `+` is a space, then `%XX` escapes.
fn decode_form(s: &str) -> String {
    decode(&s.replace('+', " "))
}

/// Maps method + decoded path + query to an endpoint.
pub fn route(method: &Method, path: &str, q: &Query) -> ApiResult<Endpoint> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let segs: Vec<&str> = if segments == [""] { Vec::new() } else { segments };
    let m = method.clone();
    let wrong_method = || ApiError::new(ErrorCode::InvalidMethod, format!("invalid request method {m} for {path}"));
    let ls = |i: usize| segs[i].to_string();
    let shard_id = |s: &str| s.parse::<u32>().map_err(|_| ApiError::param(format!("invalid shard id {s:?}")));
    let e = match (segs.as_slice(), method) {
        (["health"], &Method::GET) => Endpoint::Health,
        (["ready"], &Method::GET) => Endpoint::Ready,
        (["metrics"], &Method::GET) => Endpoint::Metrics,
        (["v4", "callback", "logs"], &Method::POST) => Endpoint::CallbackLogs,
        (["v4", "callback", "logs"], _) => return Err(wrong_method()),
        // Without a project in Host, `GET /` is ListProject; the caller decides that first.
        ([], &Method::GET) => Endpoint::GetProject,
        ([], &Method::POST) => Endpoint::CreateProject,
        ([], &Method::PUT) => Endpoint::UpdateProject,
        ([], &Method::DELETE) => Endpoint::DeleteProject,
        ([], _) => return Err(wrong_method()),
        (["logstores"], &Method::POST) => Endpoint::CreateLogstore,
        (["logstores"], &Method::GET) => Endpoint::ListLogstores {
            offset: q.number("offset", 0)?,
            size: q.number("size", 500)?,
            name: q.get("logstoreName").filter(|s| !s.is_empty()).map(str::to_string),
        },
        (["logstores", _], &Method::GET) => match q.get("type") {
            Some("log") => Endpoint::GetLogsV1 { logstore: ls(1) },
            Some("histogram") => Endpoint::GetHistograms { logstore: ls(1) },
            _ => Endpoint::GetLogstore { logstore: ls(1) },
        },
        (["logstores", _, "logs"], &Method::POST) => Endpoint::GetLogsV2 { logstore: ls(1) },
        (["logstores", _], &Method::PUT) => Endpoint::UpdateLogstore { logstore: ls(1) },
        (["logstores", _], &Method::DELETE) => Endpoint::DeleteLogstore { logstore: ls(1) },
        (["logstores", _], &Method::POST) => Endpoint::PutLogs { logstore: ls(1), hash_key: None },
        (["logstores", _, "track"], &Method::POST) => Endpoint::WebTrack { logstore: ls(1), kind: TrackKind::Post },
        (["logstores", _, "track"], &Method::GET) => Endpoint::WebTrack { logstore: ls(1), kind: TrackKind::Get },
        (["logstores", _, "track.gif"], &Method::GET) => Endpoint::WebTrack { logstore: ls(1), kind: TrackKind::Gif },
        (["logstores", _, "track_ua.gif"], &Method::GET) => {
            Endpoint::WebTrack { logstore: ls(1), kind: TrackKind::GifWithUserAgent }
        }
        (["logstores", _, "shards"], &Method::GET) => Endpoint::ListShards { logstore: ls(1) },
        (["logstores", _, "shards", "lb"], &Method::POST) => Endpoint::PutLogs { logstore: ls(1), hash_key: None },
        (["logstores", _, "shards", "route"], &Method::POST) => {
            Endpoint::PutLogs { logstore: ls(1), hash_key: q.get("key").filter(|k| !k.is_empty()).map(str::to_string) }
        }
        (["logstores", _, "shards", id], &Method::POST) => {
            let shard = shard_id(id)?;
            match q.get("action") {
                Some("split") => Endpoint::SplitShard { logstore: ls(1), shard, key: q.required("key")?.to_string() },
                Some("merge") => Endpoint::MergeShards { logstore: ls(1), shard },
                _ => return Err(ApiError::param("action must be split or merge")),
            }
        }
        (["logstores", _, "shards", id], &Method::DELETE) => {
            Endpoint::DeleteShard { logstore: ls(1), shard: shard_id(id)? }
        }
        (["logstores", _, "shards", id], &Method::GET) => {
            let shard = shard_id(id)?;
            match q.get("type") {
                Some("cursor") => Endpoint::GetCursor { logstore: ls(1), shard, from: q.required("from")?.to_string() },
                Some("cursor_time") => {
                    Endpoint::GetCursorTime { logstore: ls(1), shard, cursor: q.required("cursor")?.to_string() }
                }
                Some("log") | Some("logs") => Endpoint::PullLogs {
                    logstore: ls(1),
                    shard,
                    cursor: q.required("cursor")?.to_string(),
                    count: q.number("count", 1000)?,
                    end_cursor: q.get("end_cursor").filter(|s| !s.is_empty()).map(str::to_string),
                },
                _ => return Err(ApiError::param("type must be cursor, cursor_time, log or logs")),
            }
        }
        (["logstores", ..] | ["health" | "ready" | "metrics"], _) => return Err(wrong_method()),
        _ => return Err(ApiError::new(ErrorCode::InvalidUrl, format!("no API at {path}"))),
    };
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(method: Method, path: &str, query: &str) -> ApiResult<Endpoint> {
        route(&method, path, &Query::parse(Some(query)))
    }

    #[test]
    fn every_put_logs_form() {
        let lb = Endpoint::PutLogs { logstore: "s".into(), hash_key: None };
        assert_eq!(r(Method::POST, "/logstores/s/shards/lb", "").unwrap(), lb);
        assert_eq!(r(Method::POST, "/logstores/s", "").unwrap(), lb);
        assert_eq!(
            r(Method::POST, "/logstores/s/shards/route", "key=14d2f850ad6ea48e46e4547edbbb27e0&seqid=7").unwrap(),
            Endpoint::PutLogs { logstore: "s".into(), hash_key: Some("14d2f850ad6ea48e46e4547edbbb27e0".into()) }
        );
    }

    #[test]
    fn web_tracking_forms() {
        let t = |m, p| r(m, p, "APIVersion=0.6.0").unwrap();
        assert_eq!(
            t(Method::POST, "/logstores/web/track"),
            Endpoint::WebTrack { logstore: "web".into(), kind: TrackKind::Post }
        );
        assert_eq!(
            t(Method::GET, "/logstores/web/track"),
            Endpoint::WebTrack { logstore: "web".into(), kind: TrackKind::Get }
        );
        assert_eq!(
            t(Method::GET, "/logstores/web/track.gif"),
            Endpoint::WebTrack { logstore: "web".into(), kind: TrackKind::Gif }
        );
        let ua = t(Method::GET, "/logstores/web/track_ua.gif");
        assert_eq!(ua, Endpoint::WebTrack { logstore: "web".into(), kind: TrackKind::GifWithUserAgent });
        assert!(ua.is_anonymous() && ua.is_write());
        assert_eq!(r(Method::DELETE, "/logstores/web/track", "").unwrap_err().code, ErrorCode::InvalidMethod);
    }

    #[test]
    fn read_forms_and_errors() {
        assert_eq!(
            r(Method::GET, "/logstores/s/shards/3", "type=cursor&from=begin").unwrap(),
            Endpoint::GetCursor { logstore: "s".into(), shard: 3, from: "begin".into() }
        );
        let pull = r(Method::GET, "/logstores/s/shards/0", "type=logs&cursor=MTA%3D&count=10").unwrap();
        assert_eq!(
            pull,
            Endpoint::PullLogs { logstore: "s".into(), shard: 0, cursor: "MTA=".into(), count: 10, end_cursor: None }
        );
        assert_eq!(r(Method::GET, "/nope", "").unwrap_err().code, ErrorCode::InvalidUrl);
        assert_eq!(r(Method::PATCH, "/logstores/s", "").unwrap_err().code, ErrorCode::InvalidMethod);
        assert_eq!(
            r(Method::GET, "/logstores/s/shards/x", "type=cursor&from=end").unwrap_err().code,
            ErrorCode::ParameterInvalid
        );
        assert_eq!(r(Method::GET, "/logstores/s/shards/1", "type=log").unwrap_err().code, ErrorCode::ParameterInvalid);
    }

    #[test]
    fn get_logs_forms() {
        assert_eq!(r(Method::POST, "/logstores/s/logs", "").unwrap(), Endpoint::GetLogsV2 { logstore: "s".into() });
        assert_eq!(
            r(Method::GET, "/logstores/s", "type=log&from=1&to=2").unwrap(),
            Endpoint::GetLogsV1 { logstore: "s".into() }
        );
        assert_eq!(
            r(Method::GET, "/logstores/s", "type=histogram").unwrap(),
            Endpoint::GetHistograms { logstore: "s".into() }
        );
        assert_eq!(r(Method::GET, "/logstores/s", "").unwrap(), Endpoint::GetLogstore { logstore: "s".into() });
    }

    #[test]
    fn query_is_form_decoded_and_trailing_question_mark_is_empty() {
        assert_eq!(Query::parse(Some("query=a+b%2B")).get("query"), Some("a b+"));
        assert!(Query::parse(Some("")).0.is_empty());
        assert_eq!(Query::parse(Some("logstoreName=&offset=0")).get("logstoreName"), Some(""));
    }
}
