//! Before a run: CreateProject and CreateLogstore through the SLS API (unsigned, for the open
//! mode), with the shard count, the ttl and web tracking on so that every format is accepted. A
//! project or logstore that already exists is fine.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method};
use serde_json::json;

use super::client::{self, Conn, Target};
use super::report::error_code;
use super::Options;

/// Creates the run's project and logstore unless they exist.
pub async fn create(conn: &mut Conn, target: &Target, opts: &Options) -> Result<(), String> {
    let project = json!({"projectName": opts.project, "description": "logtide-load"});
    call(conn, target, &opts.project, "/", project, "ProjectAlreadyExist").await?;
    let logstore = json!({
        "logstoreName": opts.logstore,
        "ttl": opts.ttl_days,
        "shardCount": opts.shards,
        "enable_tracking": true,
    });
    call(conn, target, &opts.project, "/logstores", logstore, "LogStoreAlreadyExist").await
}

async fn call(
    conn: &mut Conn,
    target: &Target,
    project: &str,
    path: &str,
    body: serde_json::Value,
    exists: &str,
) -> Result<(), String> {
    let mut headers = target.project_headers(project)?;
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let req = client::request(Method::POST, path, &headers, Bytes::from(body.to_string()))?;
    let answer = conn.send(req, 1 << 20).await.map_err(|e| format!("POST {path}: {e}"))?;
    if answer.status.is_success() {
        return Ok(());
    }
    let code = error_code(answer.status.as_u16(), &answer.body);
    if code == exists {
        return Ok(());
    }
    Err(format!(
        "POST {path} for project {project}: HTTP {} {code}: {}",
        answer.status.as_u16(),
        String::from_utf8_lossy(&answer.body)
    ))
}
