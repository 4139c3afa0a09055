//! LTS operations' bodies and shapes over the one catalog (lts.md §3): a log group is an SLS
//! project and a log stream an SLS logstore, each addressed by the UUID it was given at creation.
//! Bodies are parsed leniently where the documents disagree (`ttl_in_days` as a number or a
//! string); every other shape error is `ParameterInvalid` (`LTS.0009`). Free of HTTP types.

use std::sync::Arc;

use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

use crate::catalog::{Logstore, Project, Tags};
use crate::error::{ApiError, ApiResult};

/// What every successful log report answers (lts.md §5.1).
pub fn report_success() -> Value {
    json!({"errorCode": "SVCSTG.ALS.200.200", "error_msg": "Report success.", "result": null})
}

/// The ttl a log group shows: its own, else (a project created through SLS) the longest of its
/// streams', else `default_ttl`.
pub fn group_ttl(project: &Project, streams: &[Arc<Logstore>], default_ttl: u32) -> u32 {
    project.ttl_days.or_else(|| streams.iter().map(|s| s.settings.ttl).max()).unwrap_or(default_ttl)
}

/// A log group as ListLogGroups and UpdateLogGroup show it.
pub fn log_group_json(project: &Project, ttl: u32) -> Value {
    json!({
        "creation_time": project.create_time * 1000,
        "log_group_name": project.name,
        "log_group_id": project.id,
        "ttl_in_days": ttl,
        "tag": project.tags,
    })
}

/// A log stream as ListLogStream lists it (`LogStreamResBody`); ListLogStreams adds the group id.
pub fn log_stream_json(ls: &Logstore, group: Option<&Project>) -> Value {
    let mut v = json!({
        "creation_time": ls.create_time * 1000,
        "log_stream_name": ls.name,
        "log_stream_id": ls.id,
        "tag": ls.tags,
        "filter_count": 0,
        "is_favorite": false,
        "whether_log_storage": true,
        "hot_cold_separation": false,
        "auth_web_tracking": ls.settings.enable_tracking,
        "ttl_in_days": ls.settings.ttl,
        "hot_storage_days": ls.settings.ttl,
    });
    if let Some(group) = group {
        v["log_group_id"] = json!(group.id);
        v["log_group_name"] = json!(group.name);
    }
    v
}

/// UpdateLogStream's answer, in the legacy "topic" names (lts.md §3.3).
pub fn log_topic_json(ls: &Logstore) -> Value {
    json!({
        "creation_time": ls.create_time * 1000,
        "log_topic_name": ls.name,
        "log_topic_id": ls.id,
        "ttl_in_days": ls.settings.ttl,
    })
}

/// A whole number sent as a JSON number or a string of digits.
fn lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("not a whole number")),
        Some(Value::String(s)) => {
            s.trim().parse().map(Some).map_err(|_| serde::de::Error::custom("not a whole number"))
        }
        Some(_) => Err(serde::de::Error::custom("not a whole number")),
    }
}

#[derive(Deserialize)]
struct TagBody {
    key: String,
    value: String,
}

/// LTS tags (lts.md §3.2): keys 1–128 characters not starting with `_`, values up to 255.
fn tags(list: Option<Vec<TagBody>>) -> ApiResult<Option<Tags>> {
    let Some(list) = list else { return Ok(None) };
    let mut out = Tags::new();
    for t in list {
        let key_len = t.key.chars().count();
        if key_len == 0 || key_len > 128 || t.key.starts_with('_') || t.value.chars().count() > 255 {
            return Err(ApiError::param(format!(
                "invalid tag {:?}: keys are 1-128 characters not starting with _, values at most 255",
                t.key
            )));
        }
        out.insert(t.key, t.value);
    }
    Ok(Some(out))
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| ApiError::param(format!("Failed to validate the request body: {e}")))
}

/// CreateLogGroup: `log_group_name`, `ttl_in_days` (the catalog default when absent), `tags`.
pub struct NewLogGroup {
    pub name: String,
    pub ttl_days: Option<u32>,
    pub tags: Tags,
}

pub fn parse_create_log_group(body: &[u8]) -> ApiResult<NewLogGroup> {
    #[derive(Deserialize)]
    struct B {
        log_group_name: String,
        #[serde(default, deserialize_with = "lenient_u32")]
        ttl_in_days: Option<u32>,
        tags: Option<Vec<TagBody>>,
    }
    let b: B = parse(body)?;
    Ok(NewLogGroup { name: b.log_group_name, ttl_days: b.ttl_in_days, tags: tags(b.tags)?.unwrap_or_default() })
}

/// CreateLogStream: `log_stream_name`, optional `ttl_in_days` (else the group's), `tags`.
pub struct NewLogStream {
    pub name: String,
    pub ttl_days: Option<u32>,
    pub tags: Tags,
}

pub fn parse_create_log_stream(body: &[u8]) -> ApiResult<NewLogStream> {
    #[derive(Deserialize)]
    struct B {
        log_stream_name: String,
        #[serde(default, deserialize_with = "lenient_u32")]
        ttl_in_days: Option<u32>,
        tags: Option<Vec<TagBody>>,
    }
    let b: B = parse(body)?;
    Ok(NewLogStream { name: b.log_stream_name, ttl_days: b.ttl_in_days, tags: tags(b.tags)?.unwrap_or_default() })
}

/// UpdateLogGroup / UpdateLogStream: `ttl_in_days` (required) and optional `tags`.
pub fn parse_update_ttl(body: &[u8]) -> ApiResult<(u32, Option<Tags>)> {
    #[derive(Deserialize)]
    struct B {
        #[serde(default, deserialize_with = "lenient_u32")]
        ttl_in_days: Option<u32>,
        tags: Option<Vec<TagBody>>,
    }
    let b: B = parse(body)?;
    let ttl =
        b.ttl_in_days.ok_or_else(|| ApiError::param("Failed to validate the request body: ttl_in_days is required"))?;
    Ok((ttl, tags(b.tags)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn bodies_as_the_sdk_and_the_documents_send_them() {
        let g = parse_create_log_group(br#"{"log_group_name": "g1", "ttl_in_days": 7}"#).unwrap();
        assert_eq!((g.name.as_str(), g.ttl_days), ("g1", Some(7)));
        let g = parse_create_log_group(
            br#"{"log_group_name":"test001","ttl_in_days":"7","tags":[{"key":"k","value":"v"}]}"#,
        )
        .unwrap();
        assert_eq!((g.ttl_days, g.tags.get("k").map(String::as_str)), (Some(7), Some("v")));
        let s = parse_create_log_stream(br#"{"log_stream_name": "s1", "enterprise_project_name": "h2"}"#).unwrap();
        assert_eq!((s.name.as_str(), s.ttl_days), ("s1", None));
        assert_eq!(parse_update_ttl(br#"{"ttl_in_days": 30}"#).unwrap(), (30, None));
    }

    #[test]
    fn shape_errors_are_parameter_invalid() {
        let code = |r: ApiResult<()>| r.unwrap_err().code;
        assert_eq!(code(parse_create_log_group(b"{}").map(|_| ())), ErrorCode::ParameterInvalid);
        assert_eq!(code(parse_create_log_group(b"not json").map(|_| ())), ErrorCode::ParameterInvalid);
        assert_eq!(
            code(parse_create_log_group(br#"{"log_group_name":"g","ttl_in_days":-1}"#).map(|_| ())),
            ErrorCode::ParameterInvalid
        );
        assert_eq!(
            code(parse_create_log_group(br#"{"log_group_name":"g","tags":[{"key":"_k","value":"v"}]}"#).map(|_| ())),
            ErrorCode::ParameterInvalid
        );
        assert_eq!(code(parse_update_ttl(b"{}").map(|_| ())), ErrorCode::ParameterInvalid);
        assert_eq!(code(parse_create_log_stream(br#"{"log_stream_name":1}"#).map(|_| ())), ErrorCode::ParameterInvalid);
    }
}
