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
use super::sls::header;
use super::{body, router, AppState};
use crate::api::lts as api;
use crate::auth::{LtsCaller, RequestView};
use crate::catalog::{now_secs, Logstore, Project};
use crate::error::{ApiError, ApiResult, Dialect, ErrorCode};
use crate::ingest::{BodyFormat, PutLogs};
use crate::wire::compress::Compression;
use crate::wire::lts::ReportShape;

/// The LTS calls logtide serves so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LtsEndpoint {
    /// `GET /v2/{project_id}/groups`
    ListLogGroups,
    /// `GET /v2/{project_id}/groups/{log_group_id}/streams`
    ListLogStreams { group: String },
    /// `POST /v2/{project_id}/lts/groups/{g}/streams/{s}/tenant/contents[/high-accuracy]`
    Report { group: String, stream: String, shape: ReportShape },
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

/// Maps method + decoded path to the project id and the endpoint.
pub fn route(method: &Method, path: &str) -> ApiResult<(String, LtsEndpoint)> {
    let segs: Vec<&str> = path.trim_start_matches('/').trim_end_matches('/').split('/').collect();
    let wrong_method =
        || ApiError::new(ErrorCode::InvalidMethod, format!("invalid request method {method} for {path}"));
    let (endpoint, expected) = match segs.as_slice() {
        ["v2", _, "groups"] => (LtsEndpoint::ListLogGroups, Method::GET),
        ["v2", _, "groups", g, "streams"] => (LtsEndpoint::ListLogStreams { group: g.to_string() }, Method::GET),
        ["v2", _, "lts", "groups", g, "streams", s, "tenant", "contents"] => {
            let e = LtsEndpoint::Report { group: g.to_string(), stream: s.to_string(), shape: ReportShape::Contents };
            (e, Method::POST)
        }
        ["v2", _, "lts", "groups", g, "streams", s, "tenant", "contents", "high-accuracy"] => {
            let shape = ReportShape::HighAccuracy;
            (LtsEndpoint::Report { group: g.to_string(), stream: s.to_string(), shape }, Method::POST)
        }
        _ => return Err(ApiError::new(ErrorCode::InvalidUrl, format!("no API at {path}"))),
    };
    if *method != expected {
        return Err(wrong_method());
    }
    Ok((segs[1].to_string(), endpoint))
}

pub async fn handle(
    state: &Arc<AppState>,
    peer: SocketAddr,
    req: Request<Incoming>,
    request_id: &str,
) -> ApiResult<Response<Body>> {
    let (parts, incoming) = req.into_parts();
    let path = router::decode(parts.uri.path());
    let (project_id, endpoint) = route(&parts.method, &path)?;
    let limit = match endpoint {
        LtsEndpoint::Report { .. } => state.ingest.limits().max_wire_bytes(),
        _ => body::MANAGEMENT_BODY_LIMIT,
    };
    let timeout = Duration::from_secs(state.config.server.body_read_timeout_secs);
    let body = body::collect(&parts.headers, incoming, limit, timeout).await?;
    let view = RequestView {
        method: parts.method.as_str(),
        path: &path,
        raw_query: parts.uri.query(),
        headers: &parts.headers,
        body: &body,
    };
    let caller = authenticate(state, &view, &project_id)?;
    let ctx = Ctx { state, caller, request_id };
    match endpoint {
        LtsEndpoint::ListLogGroups => ctx.list_log_groups(),
        LtsEndpoint::ListLogStreams { group } => ctx.list_log_streams(&group),
        LtsEndpoint::Report { group, stream, shape } => {
            let compression = Compression::from_content_encoding(header(&parts.headers, "content-encoding"))?;
            ctx.report(&group, &stream, shape, compression, body, peer).await
        }
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
    request_id: &'a str,
}

impl Ctx<'_> {
    /// A key limited to some projects sees only those log groups; tokens and the open mode see all.
    fn may_use(&self, group_name: &str) -> ApiResult<()> {
        match &self.caller {
            LtsCaller::Key(who) => self.state.keys.authorize_project(who, group_name),
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

    fn list_log_groups(&self) -> ApiResult<Response<Body>> {
        let catalog = &self.state.catalog;
        let default_ttl = catalog.config().default_ttl_days;
        let mut groups = Vec::new();
        for project in catalog.projects() {
            if self.may_use(&project.name).is_ok() {
                let streams = catalog.logstores(&project.name)?;
                groups.push(api::log_group_json(&project, &streams, default_ttl));
            }
        }
        Ok(response::json(self.request_id, &json!({ "log_groups": groups })))
    }

    fn list_log_streams(&self, group: &str) -> ApiResult<Response<Body>> {
        let project = self.log_group(group)?;
        let streams: Vec<_> =
            self.state.catalog.logstores(&project.name)?.iter().map(|ls| api::log_stream_json(ls)).collect();
        Ok(response::json(self.request_id, &json!({ "log_streams": streams })))
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
        Ok(response::json_with_status(StatusCode::OK, self.request_id, &api::report_success()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn every_lts_path_form() {
        let r = |m: Method, p: &str| route(&m, p);
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
    }

    #[test]
    fn reports_have_their_own_dialect() {
        assert!(is_lts_path("/v2/p/groups") && !is_lts_path("/v4/callback/logs") && !is_lts_path("/logstores"));
        assert_eq!(dialect_of("/v2/p/lts/groups/g/streams/s/tenant/contents"), Dialect::LtsReport);
        assert_eq!(dialect_of("/v2/p/groups"), Dialect::Lts);
    }
}
