//! The Huawei LTS API adapter (`/v2/{project_id}/…`, lts.md): parses the path into an
//! [`LtsEndpoint`], authenticates the caller (`X-Auth-Token`, an `SDK-HMAC-SHA256` signature, or
//! nobody in the open mode), resolves log group and log stream in the one catalog (a log group is
//! an SLS project, a log stream an SLS logstore, addressed by their UUIDs) and calls the write path
//! or the catalog. Errors are rendered in the dialect [`dialect_of`] names.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::json;
use uuid::Uuid;

use super::response::{self, Body};
use super::sls::{blocking, header};
use super::{body, router, AppState};
use crate::api::lts as api;
use crate::api::lts_query;
use crate::auth::{Access, LtsCaller, RequestView};
use crate::catalog::{now_secs, Logstore, Project};
use crate::dump;
use crate::error::{ApiError, ApiResult, Dialect, ErrorCode};
use crate::ingest::{BodyFormat, PutLogs};
use crate::wire::compress::Compression;
use crate::wire::lts::ReportShape;

/// The LTS calls logtide serves (lts.md §3.1, §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LtsEndpoint {
    /// `POST /v2/{project_id}/groups`
    CreateLogGroup,
    /// `GET /v2/{project_id}/groups`
    ListLogGroups,
    /// `POST /v2/{project_id}/groups/{log_group_id}` (an update is a POST in LTS)
    UpdateLogGroup { group: String },
    /// `DELETE /v2/{project_id}/groups/{log_group_id}`
    DeleteLogGroup { group: String },
    /// `POST /v2/{project_id}/groups/{log_group_id}/streams`
    CreateLogStream { group: String },
    /// `GET /v2/{project_id}/groups/{log_group_id}/streams`
    ListLogStreams { group: String },
    /// `GET /v2/{project_id}/log-streams[?log_group_name=&log_stream_name=]`
    ListAllLogStreams { group_name: Option<String>, stream_name: Option<String> },
    /// `PUT /v2/{project_id}/groups/{log_group_id}/streams-ttl/{log_stream_id}`
    UpdateLogStream { group: String, stream: String },
    /// `DELETE /v2/{project_id}/groups/{log_group_id}/streams/{log_stream_id}`
    DeleteLogStream { group: String, stream: String },
    /// `POST /v2/{project_id}/groups/{log_group_id}/streams/{log_stream_id}/content/query`
    ListLogs { group: String, stream: String },
    /// `POST /v2/{project_id}/lts/groups/{g}/streams/{s}/tenant/contents[/high-accuracy]`
    Report { group: String, stream: String, shape: ReportShape },
    /// `POST /v2/{project_id}/log-dump/obs` (CreateLogDumpObs)
    CreateLogDump,
    /// `GET /v2/{project_id}/log-dump/obs` (a logtide listing; LTS documents none for this API)
    ListLogDumps,
    /// `DELETE /v2/{project_id}/log-dump/obs/{id}` or `DELETE …/log-dump/obs?log_dump_obs_id={id}`
    /// (the query form mirrors DeleteTransfer)
    DeleteLogDump { id: Option<String> },
}

impl LtsEndpoint {
    /// What the call does to its log group, for the access key's per-project grants (a log group
    /// is a project).
    fn access(&self) -> Access {
        use LtsEndpoint::*;
        match self {
            ListLogGroups | ListLogStreams { .. } | ListAllLogStreams { .. } | ListLogs { .. } | ListLogDumps => {
                Access::Read
            }
            CreateLogGroup
            | UpdateLogGroup { .. }
            | DeleteLogGroup { .. }
            | CreateLogStream { .. }
            | UpdateLogStream { .. }
            | DeleteLogStream { .. }
            | Report { .. }
            | CreateLogDump
            | DeleteLogDump { .. } => Access::Write,
        }
    }
}

/// Whether a (decoded) path belongs to the LTS API. No SLS path starts with a version segment
/// (the SLS callback is `/v4/callback/…`).
pub fn is_lts_path(path: &str) -> bool {
    path.starts_with("/v2/") || path.starts_with("/v3/")
}

/// The dialect errors of a path are rendered in: log reports have their own.
pub fn dialect_of(path: &str) -> Dialect {
    if path.contains("/tenant/contents") {
        Dialect::LtsReport
    } else {
        Dialect::Lts
    }
}

/// Maps method + decoded path + query to the project id and the endpoint.
pub fn route(method: &Method, path: &str, query: &router::Query) -> ApiResult<(String, LtsEndpoint)> {
    use LtsEndpoint::*;
    let segs: Vec<&str> = path.trim_start_matches('/').trim_end_matches('/').split('/').collect();
    let s = |i: usize| segs[i].to_string();
    let filter = |key: &str| query.get(key).filter(|v| !v.is_empty()).map(str::to_string);
    let endpoint = match (segs.as_slice(), method) {
        (["v2", _, "groups"], &Method::POST) => CreateLogGroup,
        (["v2", _, "groups"], &Method::GET) => ListLogGroups,
        (["v2", _, "groups", _], &Method::POST) => UpdateLogGroup { group: s(3) },
        (["v2", _, "groups", _], &Method::DELETE) => DeleteLogGroup { group: s(3) },
        (["v2", _, "groups", _, "streams"], &Method::POST) => CreateLogStream { group: s(3) },
        (["v2", _, "groups", _, "streams"], &Method::GET) => ListLogStreams { group: s(3) },
        (["v2", _, "log-streams"], &Method::GET) => {
            ListAllLogStreams { group_name: filter("log_group_name"), stream_name: filter("log_stream_name") }
        }
        (["v2", _, "groups", _, "streams-ttl", _], &Method::PUT) => UpdateLogStream { group: s(3), stream: s(5) },
        (["v2", _, "groups", _, "streams", _], &Method::DELETE) => DeleteLogStream { group: s(3), stream: s(5) },
        (["v2", _, "groups", _, "streams", _, "content", "query"], &Method::POST) => {
            ListLogs { group: s(3), stream: s(5) }
        }
        (["v2", _, "lts", "groups", _, "streams", _, "tenant", "contents"], &Method::POST) => {
            Report { group: s(4), stream: s(6), shape: ReportShape::Contents }
        }
        (["v2", _, "lts", "groups", _, "streams", _, "tenant", "contents", "high-accuracy"], &Method::POST) => {
            Report { group: s(4), stream: s(6), shape: ReportShape::HighAccuracy }
        }
        (["v2", _, "log-dump", "obs"], &Method::POST) => CreateLogDump,
        (["v2", _, "log-dump", "obs"], &Method::GET) => ListLogDumps,
        (["v2", _, "log-dump", "obs"], &Method::DELETE) => DeleteLogDump { id: filter("log_dump_obs_id") },
        (["v2", _, "log-dump", "obs", _], &Method::DELETE) => DeleteLogDump { id: Some(s(4)) },
        (
            ["v2", _, "groups"]
            | ["v2", _, "groups", _]
            | ["v2", _, "groups", _, "streams"]
            | ["v2", _, "log-streams"]
            | ["v2", _, "groups", _, "streams-ttl", _]
            | ["v2", _, "groups", _, "streams", _]
            | ["v2", _, "groups", _, "streams", _, "content", "query"]
            | ["v2", _, "lts", "groups", _, "streams", _, "tenant", "contents", ..]
            | ["v2", _, "log-dump", "obs", ..],
            _,
        ) => {
            return Err(ApiError::new(ErrorCode::InvalidMethod, format!("invalid request method {method} for {path}")))
        }
        _ => return Err(ApiError::new(ErrorCode::InvalidUrl, format!("no API at {path}"))),
    };
    Ok((s(1), endpoint))
}

pub async fn handle(
    state: &Arc<AppState>,
    peer: SocketAddr,
    req: Request<Incoming>,
    request_id: &str,
) -> ApiResult<Response<Body>> {
    let (parts, incoming) = req.into_parts();
    let path = router::decode(parts.uri.path());
    let query = router::Query::parse(parts.uri.query());
    let (project_id, endpoint) = route(&parts.method, &path, &query)?;
    let limit = match endpoint {
        LtsEndpoint::Report { .. } => state.ingest.limits().max_wire_bytes(),
        _ => body::MANAGEMENT_BODY_LIMIT,
    };
    let timeout = Duration::from_secs(state.config.server.body_read_timeout_secs);
    let (body, _inflight) = body::collect(&parts.headers, incoming, limit, timeout, &state.inflight).await?;
    let view = RequestView {
        method: parts.method.as_str(),
        path: &path,
        raw_query: parts.uri.query(),
        headers: &parts.headers,
        body: &body,
    };
    let caller = authenticate(state, &view, &project_id)?;
    let ctx = Ctx { state, caller, access: endpoint.access(), request_id };
    match endpoint {
        LtsEndpoint::CreateLogGroup => ctx.create_log_group(body).await,
        LtsEndpoint::ListLogGroups => ctx.list_log_groups(),
        LtsEndpoint::UpdateLogGroup { group } => ctx.update_log_group(&group, body).await,
        LtsEndpoint::DeleteLogGroup { group } => ctx.delete_log_group(&group).await,
        LtsEndpoint::CreateLogStream { group } => ctx.create_log_stream(&group, body).await,
        LtsEndpoint::ListLogStreams { group } => ctx.list_log_streams(&group),
        LtsEndpoint::ListAllLogStreams { group_name, stream_name } => {
            ctx.list_all_log_streams(group_name.as_deref(), stream_name.as_deref())
        }
        LtsEndpoint::UpdateLogStream { group, stream } => ctx.update_log_stream(&group, &stream, body).await,
        LtsEndpoint::DeleteLogStream { group, stream } => ctx.delete_log_stream(&group, &stream).await,
        LtsEndpoint::ListLogs { group, stream } => ctx.list_logs(&group, &stream, body).await,
        LtsEndpoint::Report { group, stream, shape } => {
            let compression = Compression::from_content_encoding(header(&parts.headers, "content-encoding"))?;
            ctx.report(&group, &stream, shape, compression, body, peer).await
        }
        LtsEndpoint::CreateLogDump => ctx.create_log_dump(body).await,
        LtsEndpoint::ListLogDumps => ctx.list_log_dumps().await,
        LtsEndpoint::DeleteLogDump { id } => ctx.delete_log_dump(id.as_deref()).await,
    }
}

/// The open mode (no keys, no tokens) lets everyone in; otherwise `X-Auth-Token` is checked when
/// sent, else the `SDK-HMAC-SHA256` signature, and the URL's project id must be the caller's.
fn authenticate(state: &AppState, view: &RequestView<'_>, project_id: &str) -> ApiResult<LtsCaller> {
    if state.keys.is_empty() {
        return Ok(LtsCaller::Anonymous);
    }
    if let Some(token) = header(view.headers, "x-auth-token") {
        return state.keys.verify_token(token, project_id);
    }
    let who = state.keys.verify_lts(view, now_secs() as i64)?;
    state.keys.authorize_lts_project_id(&who, project_id)?;
    Ok(LtsCaller::Key(who))
}

struct Ctx<'a> {
    state: &'a Arc<AppState>,
    caller: LtsCaller,
    /// What the call does to its log group (the key's grant it needs).
    access: Access,
    request_id: &'a str,
}

impl Ctx<'_> {
    /// A key limited to some projects sees only those log groups; tokens and the open mode see all.
    fn may_use(&self, group_name: &str) -> ApiResult<()> {
        match &self.caller {
            LtsCaller::Key(who) => self.state.keys.authorize_project(who, group_name, self.access),
            LtsCaller::Anonymous | LtsCaller::Token => Ok(()),
        }
    }

    /// A log group by id, or (a logtide extension) by its name.
    fn log_group(&self, segment: &str) -> ApiResult<Project> {
        let catalog = &self.state.catalog;
        let project = match Uuid::try_parse(segment) {
            Ok(id) => catalog.project_by_id(id)?,
            Err(_) => catalog.project(segment).map_err(|_| {
                ApiError::new(ErrorCode::ProjectNotExist, format!("The log group does not exist: {segment}"))
            })?,
        };
        self.may_use(&project.name)?;
        Ok(project)
    }

    /// A log stream of `group` by id, or by its name.
    fn log_stream(&self, group: &Project, segment: &str) -> ApiResult<Arc<Logstore>> {
        let catalog = &self.state.catalog;
        match Uuid::try_parse(segment) {
            Ok(id) => catalog.logstore_by_id(&group.name, id),
            Err(_) => catalog.logstore(&group.name, segment).map_err(|_| {
                ApiError::new(ErrorCode::LogStoreNotExist, format!("The log stream does not exist: {segment}"))
            }),
        }
    }

    fn json(&self, status: StatusCode, v: &serde_json::Value) -> Response<Body> {
        response::json_with_status(status, self.request_id, v)
    }

    async fn create_log_group(&self, body: Bytes) -> ApiResult<Response<Body>> {
        let new = api::parse_create_log_group(&body)?;
        self.may_use(&new.name)?;
        let (catalog, quotas) = (self.state.catalog.clone(), self.state.config.lts.quotas());
        let ttl = new.ttl_days.unwrap_or(catalog.config().default_ttl_days);
        let project = blocking(move || catalog.create_log_group(&new.name, ttl, new.tags, quotas)).await?;
        Ok(self.json(StatusCode::CREATED, &json!({ "log_group_id": project.id })))
    }

    fn list_log_groups(&self) -> ApiResult<Response<Body>> {
        let catalog = &self.state.catalog;
        let default_ttl = catalog.config().default_ttl_days;
        let mut groups = Vec::new();
        for project in catalog.projects() {
            if self.may_use(&project.name).is_ok() {
                let ttl = api::group_ttl(&project, &catalog.logstores(&project.name)?, default_ttl);
                groups.push(api::log_group_json(&project, ttl));
            }
        }
        Ok(self.json(StatusCode::OK, &json!({ "log_groups": groups })))
    }

    async fn update_log_group(&self, group: &str, body: Bytes) -> ApiResult<Response<Body>> {
        let name = self.log_group(group)?.name;
        let (ttl, tags) = api::parse_update_ttl(&body)?;
        let catalog = self.state.catalog.clone();
        let project = blocking(move || catalog.update_log_group(&name, ttl, tags)).await?;
        Ok(self.json(StatusCode::OK, &api::log_group_json(&project, ttl)))
    }

    async fn delete_log_group(&self, group: &str) -> ApiResult<Response<Body>> {
        let name = self.log_group(group)?.name;
        let catalog = self.state.catalog.clone();
        blocking(move || catalog.delete_project(&name)).await?;
        Ok(response::no_content(self.request_id))
    }

    async fn create_log_stream(&self, group: &str, body: Bytes) -> ApiResult<Response<Body>> {
        let name = self.log_group(group)?.name;
        let new = api::parse_create_log_stream(&body)?;
        let (catalog, quotas) = (self.state.catalog.clone(), self.state.config.lts.quotas());
        let ls = blocking(move || catalog.create_log_stream(&name, &new.name, new.ttl_days, new.tags, quotas)).await?;
        Ok(self.json(StatusCode::CREATED, &json!({ "log_stream_id": ls.id })))
    }

    fn list_log_streams(&self, group: &str) -> ApiResult<Response<Body>> {
        let project = self.log_group(group)?;
        let streams: Vec<_> =
            self.state.catalog.logstores(&project.name)?.iter().map(|ls| api::log_stream_json(ls, None)).collect();
        Ok(self.json(StatusCode::OK, &json!({ "log_streams": streams })))
    }

    /// Every stream of every group the caller may use, filtered by exact names when given.
    fn list_all_log_streams(&self, group_name: Option<&str>, stream_name: Option<&str>) -> ApiResult<Response<Body>> {
        let catalog = &self.state.catalog;
        let mut streams = Vec::new();
        for project in catalog.projects() {
            if group_name.is_some_and(|g| g != project.name) || self.may_use(&project.name).is_err() {
                continue;
            }
            for ls in catalog.logstores(&project.name)? {
                if stream_name.is_none_or(|s| s == ls.name) {
                    streams.push(api::log_stream_json(&ls, Some(&project)));
                }
            }
        }
        Ok(self.json(StatusCode::OK, &json!({ "log_streams": streams })))
    }

    async fn update_log_stream(&self, group: &str, stream: &str, body: Bytes) -> ApiResult<Response<Body>> {
        let project = self.log_group(group)?;
        let name = self.log_stream(&project, stream)?.name.clone();
        let (ttl, tags) = api::parse_update_ttl(&body)?;
        let catalog = self.state.catalog.clone();
        let ls = blocking(move || catalog.update_log_stream(&project.name, &name, ttl, tags)).await?;
        Ok(self.json(StatusCode::OK, &api::log_topic_json(&ls)))
    }

    async fn delete_log_stream(&self, group: &str, stream: &str) -> ApiResult<Response<Body>> {
        let project = self.log_group(group)?;
        let name = self.log_stream(&project, stream)?.name.clone();
        let catalog = self.state.catalog.clone();
        blocking(move || catalog.delete_logstore(&project.name, &name)).await?;
        Ok(response::no_content(self.request_id))
    }

    /// ListLogs: a keyword/label search over a time window with paging, on the blocking pool.
    async fn list_logs(&self, group: &str, stream: &str, body: Bytes) -> ApiResult<Response<Body>> {
        let project = self.log_group(group)?;
        let ls = self.log_stream(&project, stream)?;
        let q = lts_query::parse_log_query(&body)?;
        let (log, max_logs) = (self.state.log.clone(), self.state.config.lts.max_query_logs);
        let answer = blocking(move || lts_query::list_logs(log.as_ref(), ls.id, &q, max_logs)).await?;
        Ok(self.json(StatusCode::OK, &answer))
    }

    /// CreateLogDumpObs: 201 `{"log_dump_obs_id"}` once the dump is persisted (lts.md §3.5).
    async fn create_log_dump(&self, body: Bytes) -> ApiResult<Response<Body>> {
        let req = dump::parse_create(&body)?;
        let project = self.log_group(&req.log_group_id)?;
        let streams =
            req.log_stream_ids.iter().map(|s| Ok(self.log_stream(&project, s)?.id)).collect::<ApiResult<_>>()?;
        let (catalog, buckets) = (self.state.catalog.clone(), dump::Buckets::from_config(&self.state.config.dump));
        let created = blocking(move || dump::create(&catalog, &buckets, project.id, streams, req, now_secs())).await?;
        Ok(self.json(StatusCode::CREATED, &json!({ "log_dump_obs_id": created.id })))
    }

    /// The dumps of the log groups the caller may use: `{"log_dumps": [...], "total"}`.
    async fn list_log_dumps(&self) -> ApiResult<Response<Body>> {
        let catalog = self.state.catalog.clone();
        let dumps = blocking(move || catalog.dumps()).await?;
        let catalog = &self.state.catalog;
        let visible: Vec<_> = dumps
            .iter()
            .filter(|d| catalog.project_by_id(d.group_id).is_ok_and(|g| self.may_use(&g.name).is_ok()))
            .map(|d| dump::dump_json(catalog, d))
            .collect();
        Ok(self.json(StatusCode::OK, &json!({ "log_dumps": visible, "total": visible.len() })))
    }

    /// Deletes a dump; 200 with the deleted dump, as DeleteTransfer answers. Exported files stay.
    async fn delete_log_dump(&self, id: Option<&str>) -> ApiResult<Response<Body>> {
        let id = id
            .and_then(|id| Uuid::try_parse(id).ok())
            .ok_or_else(|| ApiError::param("The Field log_dump_obs_id is invalid or missing."))?;
        let catalog = self.state.catalog.clone();
        let existing = blocking(move || catalog.dump(id)).await?;
        if let Ok(group) = self.state.catalog.project_by_id(existing.group_id) {
            self.may_use(&group.name)?;
        }
        let answer = dump::dump_json(&self.state.catalog, &existing);
        let catalog = self.state.catalog.clone();
        blocking(move || catalog.delete_dump(id)).await?;
        Ok(self.json(StatusCode::OK, &answer))
    }

    /// A log report: ids must name an existing group and stream; names may be auto-created like
    /// any SLS write (`catalog.auto_create`). 200 once the whole request is in the WAL.
    async fn report(
        &self,
        group: &str,
        stream: &str,
        shape: ReportShape,
        compression: Compression,
        body: Bytes,
        peer: SocketAddr,
    ) -> ApiResult<Response<Body>> {
        let by_id = Uuid::try_parse(group).is_ok() || Uuid::try_parse(stream).is_ok();
        let (project, logstore) = if by_id || !self.state.catalog.config().auto_create {
            let project = self.log_group(group)?;
            let logstore = self.log_stream(&project, stream)?.name.clone();
            (project.name, logstore)
        } else {
            self.may_use(group)?;
            (group.to_string(), stream.to_string())
        };
        let req = PutLogs {
            project,
            logstore,
            hash_key: None,
            compression,
            body,
            declared_raw: None,
            format: BodyFormat::LtsReport(shape),
            web_tracking: false,
            client_ip: peer.ip().to_string(),
        };
        self.state.ingest.put_logs(req).await?;
        Ok(self.json(StatusCode::OK, &api::report_success()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn every_lts_path_form() {
        let q = router::Query::default();
        let r = |m: Method, p: &str| route(&m, p, &q);
        assert_eq!(
            r(Method::GET, &format!("/v2/{PID}/groups")).unwrap(),
            (PID.to_string(), LtsEndpoint::ListLogGroups)
        );
        assert_eq!(
            r(Method::GET, "/v2/p/groups/g1/streams").unwrap().1,
            LtsEndpoint::ListLogStreams { group: "g1".into() }
        );
        assert_eq!(
            r(Method::POST, "/v2/p/lts/groups/g/streams/s/tenant/contents").unwrap().1,
            LtsEndpoint::Report { group: "g".into(), stream: "s".into(), shape: ReportShape::Contents }
        );
        assert_eq!(
            r(Method::POST, "/v2/p/lts/groups/g/streams/s/tenant/contents/high-accuracy").unwrap().1,
            LtsEndpoint::Report { group: "g".into(), stream: "s".into(), shape: ReportShape::HighAccuracy }
        );
        assert_eq!(
            r(Method::GET, "/v2/p/lts/groups/g/streams/s/tenant/contents").unwrap_err().code,
            ErrorCode::InvalidMethod
        );
        assert_eq!(r(Method::GET, "/v2/p/nothing").unwrap_err().code, ErrorCode::InvalidUrl);
        assert_eq!(r(Method::POST, "/v2/p/groups").unwrap().1, LtsEndpoint::CreateLogGroup);
        assert_eq!(r(Method::POST, "/v2/p/groups/g").unwrap().1, LtsEndpoint::UpdateLogGroup { group: "g".into() });
        assert_eq!(r(Method::DELETE, "/v2/p/groups/g").unwrap().1, LtsEndpoint::DeleteLogGroup { group: "g".into() });
        assert_eq!(r(Method::PUT, "/v2/p/groups/g").unwrap_err().code, ErrorCode::InvalidMethod);
        assert_eq!(
            r(Method::POST, "/v2/p/groups/g/streams").unwrap().1,
            LtsEndpoint::CreateLogStream { group: "g".into() }
        );
        assert_eq!(
            r(Method::PUT, "/v2/p/groups/g/streams-ttl/s").unwrap().1,
            LtsEndpoint::UpdateLogStream { group: "g".into(), stream: "s".into() }
        );
        assert_eq!(
            r(Method::DELETE, "/v2/p/groups/g/streams/s").unwrap().1,
            LtsEndpoint::DeleteLogStream { group: "g".into(), stream: "s".into() }
        );
        assert_eq!(r(Method::POST, "/v2/p/log-dump/obs").unwrap().1, LtsEndpoint::CreateLogDump);
        assert_eq!(r(Method::GET, "/v2/p/log-dump/obs/").unwrap().1, LtsEndpoint::ListLogDumps);
        assert_eq!(
            r(Method::DELETE, "/v2/p/log-dump/obs/d1").unwrap().1,
            LtsEndpoint::DeleteLogDump { id: Some("d1".into()) }
        );
        let by_query = route(&Method::DELETE, "/v2/p/log-dump/obs", &router::Query::parse(Some("log_dump_obs_id=d2")));
        assert_eq!(by_query.unwrap().1, LtsEndpoint::DeleteLogDump { id: Some("d2".into()) });
        assert_eq!(r(Method::PUT, "/v2/p/log-dump/obs").unwrap_err().code, ErrorCode::InvalidMethod);
        assert_eq!(r(Method::GET, "/v2/p/log-dump/obs/d1").unwrap_err().code, ErrorCode::InvalidMethod);
        let filtered =
            route(&Method::GET, "/v2/p/log-streams", &router::Query::parse(Some("log_group_name=g&log_stream_name=")));
        assert_eq!(
            filtered.unwrap().1,
            LtsEndpoint::ListAllLogStreams { group_name: Some("g".into()), stream_name: None }
        );
    }

    #[test]
    fn reports_have_their_own_dialect() {
        assert!(is_lts_path("/v2/p/groups") && !is_lts_path("/v4/callback/logs") && !is_lts_path("/logstores"));
        assert_eq!(dialect_of("/v2/p/lts/groups/g/streams/s/tenant/contents"), Dialect::LtsReport);
        assert_eq!(dialect_of("/v2/p/groups"), Dialect::Lts);
    }
}
