//! The SLS API adapter: turns an HTTP request into an [`Endpoint`], checks the body's
//! Content-MD5 and the signature, and calls the write path, the catalog or the read operations.
//! Blocking work (catalog mutations, RocksDB reads) runs on the blocking pool.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response};
use hyper::body::Incoming;
use md5::{Digest, Md5};
use serde_json::json;

use super::response::{self, Body};
use super::router::TrackKind;
use super::router::{self, Endpoint, Query};
use super::{body, project_of, webtrack, AppState};
use crate::api::sls as api;
use crate::api::sls_query;
use crate::auth::{Access, RequestView, Verified};
use crate::catalog::now_secs;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::ingest::{BodyFormat, PutLogs};
use crate::route;
use crate::wire::compress::{self, Compression};
use crate::wire::json::LogTime;

pub async fn handle(
    state: &Arc<AppState>,
    peer: SocketAddr,
    req: Request<Incoming>,
    request_id: &str,
) -> ApiResult<Response<Body>> {
    let (parts, incoming) = req.into_parts();
    let path = router::decode(parts.uri.path());
    let raw_query = parts.uri.query();
    let query = Query::parse(raw_query);
    if parts.method == Method::OPTIONS {
        return Ok(webtrack::preflight(&parts.headers, request_id));
    }
    if path == crate::kafka::PEER_READ_PATH && parts.method == Method::POST {
        return super::peer::answer(state, &parts.headers, incoming, request_id).await;
    }
    let project = project_of(&parts.headers, &state.config.catalog.endpoints);
    let endpoint = if path == "/" && parts.method == Method::GET && project.is_none() {
        Endpoint::ListProjects {
            offset: query.get("offset").and_then(|v| v.parse().ok()).unwrap_or(0),
            size: query.get("size").and_then(|v| v.parse().ok()).unwrap_or(500),
            name: query.get("projectName").filter(|s| !s.is_empty()).map(str::to_string),
        }
    } else {
        router::route(&parts.method, &path, &query)?
    };
    if super::ops::is_ops(&endpoint) {
        return super::ops::answer(state, &endpoint, request_id).await;
    }
    let limit = if endpoint.is_write() { state.ingest.limits().max_wire_bytes() } else { body::MANAGEMENT_BODY_LIMIT };
    let timeout = Duration::from_secs(state.config.server.body_read_timeout_secs);
    let (body, _inflight) = body::collect(&parts.headers, incoming, limit, timeout, &state.inflight).await?;
    check_content_md5(&parts.headers, &body)?;
    let who = if state.keys.is_empty() || endpoint.is_anonymous() {
        None
    } else {
        let view =
            RequestView { method: parts.method.as_str(), path: &path, raw_query, headers: &parts.headers, body: &body };
        Some(state.keys.verify(&view, now_secs() as i64)?)
    };
    let project = match (&endpoint, project) {
        (Endpoint::WebTrack { .. }, None) if !state.config.catalog.default_project.is_empty() => {
            Some(state.config.catalog.default_project.clone())
        }
        (_, p) => p,
    };
    let raw_query_len = raw_query.map_or(0, str::len);
    let access = endpoint.access();
    let ctx =
        Ctx { state, who, access, project, headers: &parts.headers, request_id, peer, query: &query, raw_query_len };
    ctx.dispatch(endpoint, body).await
}

/// `Content-MD5`, when sent, must be the MD5 of the bytes received (case-insensitive hex).
fn check_content_md5(headers: &HeaderMap, body: &[u8]) -> ApiResult<()> {
    let Some(sent) = headers.get("content-md5") else {
        return Ok(());
    };
    let sent = sent.to_str().unwrap_or("");
    let actual = hex::encode_upper(Md5::digest(body));
    if sent.trim().eq_ignore_ascii_case(&actual) {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::InvalidContentMd5, "Content-MD5 does not match the request body"))
    }
}

/// What a PutLogs body holds: a package list (`x-log-mode: batch_group`), JSON (the STS plugin
/// and the Java SDK's JSON mode, with `__time__` per entry), or one protobuf LogGroup.
fn put_logs_format(h: &HeaderMap) -> BodyFormat {
    let json = header(h, "content-type").is_some_and(|t| t.to_ascii_lowercase().starts_with("application/json"));
    if header(h, "x-log-mode") == Some("batch_group") {
        BodyFormat::PackageList
    } else if json {
        BodyFormat::Json(LogTime::FromEntries { receive_unix: now_secs() as u32 })
    } else {
        BodyFormat::LogGroup
    }
}

pub(super) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> ApiResult<T> + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(ApiError::internal)?
}

/// `x-log-bodyrawsize`: absent is `None`; anything but a decimal size is `InvalidBodyRawSize`.
fn declared_raw_size(h: &HeaderMap) -> ApiResult<Option<usize>> {
    header(h, "x-log-bodyrawsize")
        .map(|v| {
            v.parse::<usize>()
                .map_err(|_| ApiError::new(ErrorCode::InvalidBodyRawSize, format!("x-log-bodyrawsize {v} is invalid")))
        })
        .transpose()
}

pub(super) fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

struct Ctx<'a> {
    state: &'a Arc<AppState>,
    who: Option<Verified>,
    /// What the endpoint does to its project (the key's grant it needs).
    access: Access,
    project: Option<String>,
    headers: &'a HeaderMap,
    request_id: &'a str,
    peer: SocketAddr,
    query: &'a Query,
    raw_query_len: usize,
}

impl Ctx<'_> {
    /// The project the request addresses, after checking the caller may use it.
    fn project(&self) -> ApiResult<String> {
        let p = self.project.clone().ok_or_else(|| {
            ApiError::new(ErrorCode::ProjectNotExist, "no project named in the Host header or x-log-project")
        })?;
        self.authorize(&p)?;
        Ok(p)
    }

    fn authorize(&self, project: &str) -> ApiResult<()> {
        match &self.who {
            Some(who) => self.state.keys.authorize_project(who, project, self.access),
            None => Ok(()),
        }
    }

    fn ok(&self) -> Response<Body> {
        response::empty(self.request_id)
    }

    fn json(&self, v: &serde_json::Value) -> Response<Body> {
        response::json(self.request_id, v)
    }

    async fn dispatch(&self, endpoint: Endpoint, body: Bytes) -> ApiResult<Response<Body>> {
        let catalog = self.state.catalog.clone();
        match endpoint {
            Endpoint::Health | Endpoint::Ready | Endpoint::Metrics => {
                super::ops::answer(self.state, &endpoint, self.request_id).await
            }
            Endpoint::ListProjects { offset, size, name } => {
                let projects: Vec<_> = catalog
                    .projects()
                    .into_iter()
                    .filter(|p| name.as_deref().is_none_or(|n| p.name.contains(n)))
                    .filter(|p| self.authorize(&p.name).is_ok())
                    .collect();
                let (total, page) = api::page(projects, offset, size);
                let list: Vec<_> = page.iter().map(api::project_json).collect();
                Ok(self.json(&json!({"count": list.len(), "total": total, "projects": list})))
            }
            Endpoint::CreateProject => {
                let b = api::parse_project_body(&body)?;
                let name = b
                    .name
                    .or_else(|| self.project.clone())
                    .ok_or_else(|| ApiError::param("projectName is required"))?;
                self.authorize(&name)?;
                blocking(move || catalog.create_project(&name, &b.description)).await?;
                Ok(self.ok())
            }
            Endpoint::GetProject => Ok(self.json(&api::project_json(&catalog.project(&self.project()?)?))),
            Endpoint::UpdateProject => {
                let (p, b) = (self.project()?, api::parse_project_body(&body)?);
                blocking(move || catalog.update_project(&p, &b.description)).await?;
                Ok(self.ok())
            }
            Endpoint::DeleteProject => {
                let p = self.project()?;
                blocking(move || catalog.delete_project(&p)).await?;
                Ok(self.ok())
            }
            Endpoint::CreateLogstore => {
                let p = self.project()?;
                let (name, settings) = api::parse_logstore_body(&body, catalog.default_settings())?;
                let name =
                    name.ok_or_else(|| ApiError::new(ErrorCode::LogStoreInfoInvalid, "logstoreName is required"))?;
                blocking(move || catalog.create_logstore(&p, &name, settings)).await?;
                Ok(self.ok())
            }
            Endpoint::ListLogstores { offset, size, name } => {
                let names: Vec<String> = catalog
                    .logstores(&self.project()?)?
                    .iter()
                    .map(|ls| ls.name.clone())
                    .filter(|n| name.as_deref().is_none_or(|f| n.contains(f)))
                    .collect();
                let (total, page) = api::page(names, offset, size);
                Ok(self.json(&json!({"count": page.len(), "total": total, "logstores": page})))
            }
            Endpoint::GetLogstore { logstore } => {
                let ls = catalog.logstore(&self.project()?, &logstore)?;
                Ok(self.json(&api::logstore_json(&ls)))
            }
            Endpoint::UpdateLogstore { logstore } => {
                let p = self.project()?;
                let current = catalog.logstore(&p, &logstore)?;
                let (_, settings) = api::parse_logstore_body(&body, current.settings.clone())?;
                blocking(move || catalog.update_logstore(&p, &logstore, settings)).await?;
                Ok(self.ok())
            }
            Endpoint::DeleteLogstore { logstore } => {
                let p = self.project()?;
                blocking(move || catalog.delete_logstore(&p, &logstore)).await?;
                Ok(self.ok())
            }
            Endpoint::PutLogs { logstore, hash_key } => self.put_logs(logstore, hash_key, body).await,
            Endpoint::WebTrack { logstore, kind } => self.web_track(logstore, kind, body).await,
            Endpoint::CallbackLogs => self.callback_logs(body).await,
            Endpoint::ListShards { logstore } => {
                let ls = catalog.logstore(&self.project()?, &logstore)?;
                Ok(self.json(&api::shards_json(&ls.shards)))
            }
            Endpoint::SplitShard { logstore, shard, key } => {
                let (p, mid) = (self.project()?, route::parse_hash_key(&key)?);
                let shards = blocking(move || catalog.split_shard(&p, &logstore, shard, mid)).await?;
                Ok(self.json(&api::shards_json(&shards)))
            }
            Endpoint::MergeShards { logstore, shard } => {
                let p = self.project()?;
                let shards = blocking(move || catalog.merge_shards(&p, &logstore, shard)).await?;
                Ok(self.json(&api::shards_json(&shards)))
            }
            Endpoint::DeleteShard { logstore, shard } => {
                let p = self.project()?;
                blocking(move || catalog.delete_shard(&p, &logstore, shard)).await?;
                Ok(self.ok())
            }
            Endpoint::GetCursor { logstore, shard, from } => {
                let ls = catalog.logstore(&self.project()?, &logstore)?;
                let log = self.state.log.clone();
                let seq = blocking(move || api::get_cursor(log.as_ref(), &ls, shard, &from)).await?;
                Ok(self.json(&json!({"cursor": api::encode_cursor(seq)})))
            }
            Endpoint::GetCursorTime { logstore, shard, cursor } => {
                let ls = catalog.logstore(&self.project()?, &logstore)?;
                let (log, cursor) = (self.state.log.clone(), api::decode_cursor(&cursor)?);
                let t = blocking(move || api::cursor_time(log.as_ref(), &ls, shard, cursor)).await?;
                Ok(self.json(&json!({"cursor_time": t})))
            }
            Endpoint::PullLogs { logstore, shard, cursor, count, end_cursor } => {
                self.pull_logs(logstore, shard, cursor, count, end_cursor).await
            }
            Endpoint::GetLogsV2 { logstore } => self.get_logs(logstore, Some(body)).await,
            Endpoint::GetLogsV1 { logstore } => self.get_logs(logstore, None).await,
            Endpoint::GetHistograms { logstore } => self.histograms(logstore).await,
        }
    }

    /// GetLogs: v2 (`body` is the JSON request; the answer is `{meta, data}`, compressed as
    /// `Accept-Encoding` asks) or v1 (query parameters; the answer is the bare array).
    async fn get_logs(&self, logstore: String, v2_body: Option<Bytes>) -> ApiResult<Response<Body>> {
        let ls = self.state.catalog.logstore(&self.project()?, &logstore)?;
        let req = match &v2_body {
            Some(b) => sls_query::parse_v2(b)?,
            None => sls_query::parse_v1(|k| self.query.get(k))?,
        };
        let v2 = v2_body.is_some();
        let (log, max_logs) = (self.state.log.clone(), self.state.config.lts.max_query_logs);
        let (body, count, matched, elapsed) = blocking(move || {
            let answer = sls_query::get_logs(log.as_ref(), ls.id, &req, max_logs)?;
            let (count, matched, elapsed) = (answer.rows.len(), answer.matched, answer.elapsed_ms);
            let value = if v2 {
                json!({"meta": sls_query::meta(&req, &answer), "data": answer.rows})
            } else {
                serde_json::Value::Array(answer.rows.into_iter().map(serde_json::Value::Object).collect())
            };
            Ok((value.to_string().into_bytes(), count, matched, elapsed))
        })
        .await?;
        let mut headers = vec![
            ("x-log-progress", "Complete".to_string()),
            ("x-log-count", count.to_string()),
            ("x-log-processed-rows", matched.to_string()),
            ("x-log-elapsed-millisecond", elapsed.to_string()),
            ("x-log-has-sql", "False".to_string()),
            ("x-log-query-info", String::new()),
        ];
        // GO decompresses whenever x-log-bodyrawsize is present and then requires the codec
        // header: send both or neither (sls.md §9.4).
        let codec = if v2 {
            Compression::from_accept_encoding(header(self.headers, "accept-encoding"))
        } else {
            Compression::None
        };
        let body = match codec.as_header() {
            Some(name) => {
                headers.push(("x-log-compresstype", name.to_string()));
                headers.push(("x-log-bodyrawsize", body.len().to_string()));
                compress::compress(codec, &body)
            }
            None => body,
        };
        Ok(response::binary(self.request_id, "application/json", body, &headers))
    }

    /// GetHistograms: matching logs per time bucket.
    async fn histograms(&self, logstore: String) -> ApiResult<Response<Body>> {
        let ls = self.state.catalog.logstore(&self.project()?, &logstore)?;
        let req = sls_query::parse_v1(|k| self.query.get(k))?;
        let (log, max_logs) = (self.state.log.clone(), self.state.config.lts.max_query_logs);
        let (buckets, total) = blocking(move || sls_query::histograms(log.as_ref(), ls.id, &req, max_logs)).await?;
        let headers = [("x-log-progress", "Complete".to_string()), ("x-log-count", total.to_string())];
        let body = serde_json::Value::Array(buckets).to_string().into_bytes();
        Ok(response::binary(self.request_id, "application/json", body, &headers))
    }

    async fn put_logs(&self, logstore: String, hash_key: Option<String>, body: Bytes) -> ApiResult<Response<Body>> {
        let h = self.headers;
        let declared_raw = declared_raw_size(h)?;
        let req = PutLogs {
            project: self.project()?,
            logstore,
            hash_key: hash_key.or_else(|| header(h, "x-log-hashkey").map(str::to_string)),
            compression: Compression::from_header(header(h, "x-log-compresstype"))?,
            body,
            declared_raw,
            format: put_logs_format(h),
            web_tracking: false,
            client_ip: self.peer.ip().to_string(),
        };
        self.state.ingest.put_logs(req).await?;
        Ok(self.ok())
    }

    /// Container-log records: checked whole, routed by the `[callback]` templates, 204 once every
    /// target logstore has them in its WAL.
    async fn callback_logs(&self, body: Bytes) -> ApiResult<Response<Body>> {
        let max_logs = self.state.ingest.limits().max_logs;
        let records = blocking(move || crate::wire::callback::parse_records(&body, max_logs)).await?;
        let reqs = super::callback::requests(records, &self.state.config.callback, &self.peer.ip().to_string());
        for req in &reqs {
            self.authorize(&req.project)?;
        }
        self.state.ingest.put_logs_together(reqs).await?;
        Ok(response::no_content(self.request_id))
    }

    /// Anonymous web tracking: a JSON body (POST) or one log from the query (GET forms); the log
    /// time is the receive time. Allowed where the logstore has `enable_tracking`.
    async fn web_track(&self, logstore: String, kind: TrackKind, body: Bytes) -> ApiResult<Response<Body>> {
        let h = self.headers;
        let now = now_secs() as u32;
        let (compression, body, declared_raw, format) = match kind {
            TrackKind::Post => (
                Compression::from_header(header(h, "x-log-compresstype"))?,
                body,
                declared_raw_size(h)?,
                BodyFormat::Json(LogTime::Receive { unix: now }),
            ),
            _ => {
                let group = webtrack::beacon_log_group(self.raw_query_len, self.query, h, kind, now)?;
                (Compression::None, Bytes::from(group), None, BodyFormat::LogGroup)
            }
        };
        let req = PutLogs {
            project: self.project()?,
            logstore,
            hash_key: None,
            compression,
            body,
            declared_raw,
            format,
            web_tracking: true,
            client_ip: self.peer.ip().to_string(),
        };
        self.state.ingest.put_logs(req).await?;
        Ok(webtrack::accepted(self.request_id, kind))
    }

    async fn pull_logs(
        &self,
        logstore: String,
        shard: u32,
        cursor: String,
        count: usize,
        end_cursor: Option<String>,
    ) -> ApiResult<Response<Body>> {
        let ls = self.state.catalog.logstore(&self.project()?, &logstore)?;
        let cursor = api::decode_cursor(&cursor)?;
        let end_cursor = end_cursor.as_deref().map(api::decode_cursor).transpose()?;
        let log = self.state.log.clone();
        let max_bytes = self.state.config.storage.max_pull_bytes;
        let codec = Compression::from_accept_encoding(header(self.headers, "accept-encoding"));
        let (pulled, body) = blocking(move || {
            let pulled = api::pull_logs(log.as_ref(), &ls, shard, cursor, count, end_cursor, max_bytes)?;
            let body = match codec {
                Compression::None => pulled.log_group_list.clone(),
                c => compress::compress(c, &pulled.log_group_list),
            };
            Ok((pulled, body))
        })
        .await?;
        let mut headers = vec![
            ("x-log-cursor", api::encode_cursor(pulled.next)),
            ("x-log-count", pulled.count.to_string()),
            ("x-log-bodyrawsize", pulled.log_group_list.len().to_string()),
        ];
        if let Some(name) = codec.as_header() {
            headers.push(("x-log-compresstype", name.to_string()));
        }
        if let Some(last) = pulled.last_read {
            headers.push(("x-log-read-last-cursor", last.to_string()));
        }
        Ok(response::binary(self.request_id, "application/x-protobuf", body, &headers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_md5_is_checked_case_insensitively() {
        let mut h = HeaderMap::new();
        assert!(check_content_md5(&h, b"abc").is_ok());
        h.insert("content-md5", "900150983CD24FB0D6963F7D28E17F72".parse().unwrap());
        assert!(check_content_md5(&h, b"abc").is_ok());
        h.insert("content-md5", "900150983cd24fb0d6963f7d28e17f72".parse().unwrap());
        assert!(check_content_md5(&h, b"abc").is_ok());
        assert_eq!(check_content_md5(&h, b"abd").unwrap_err().code, ErrorCode::InvalidContentMd5);
    }
}
