//! LTS shapes over the one catalog (lts.md §3): a log group is an SLS project and a log stream an
//! SLS logstore, each addressed by the UUID it was given at creation. Free of HTTP types.

use serde_json::{json, Value};

use crate::catalog::{Logstore, Project};

/// What every successful log report answers (lts.md §5.1).
pub fn report_success() -> Value {
    json!({"errorCode": "SVCSTG.ALS.200.200", "error_msg": "Report success.", "result": null})
}

/// A log group as `ListLogGroups` lists it. A project has no retention of its own yet: its
/// `ttl_in_days` is the longest of its streams', or `default_ttl` when it has none.
pub fn log_group_json(project: &Project, streams: &[std::sync::Arc<Logstore>], default_ttl: u32) -> Value {
    let ttl = streams.iter().map(|s| s.settings.ttl).max().unwrap_or(default_ttl);
    json!({
        "creation_time": project.create_time * 1000,
        "log_group_name": project.name,
        "log_group_id": project.id,
        "ttl_in_days": ttl,
        "tag": {},
    })
}

/// A log stream as `ListLogStream` lists it (`LogStreamResBody`).
pub fn log_stream_json(ls: &Logstore) -> Value {
    json!({
        "creation_time": ls.create_time * 1000,
        "log_stream_name": ls.name,
        "log_stream_id": ls.id,
        "tag": {},
        "filter_count": 0,
        "is_favorite": false,
        "whether_log_storage": true,
        "hot_cold_separation": false,
        "auth_web_tracking": ls.settings.enable_tracking,
        "ttl_in_days": ls.settings.ttl,
        "hot_storage_days": ls.settings.ttl,
    })
}
