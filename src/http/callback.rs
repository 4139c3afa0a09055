//! The container-log callback adapter (`POST /v4/callback/logs`): checked records are routed by
//! the `[callback]` templates and grouped into one LogGroup per target logstore, in arrival order.
//! Every field of a record is stored as a content field; `@timestamp` gives the log time.

use std::collections::HashMap;

use bytes::Bytes;

use crate::config::CallbackConfig;
use crate::ingest::{BodyFormat, PutLogs};
use crate::wire::callback::Record;
use crate::wire::compress::Compression;
use crate::wire::json::put_log;

/// Replaces every `{field}` of `template` with that field of the record.
pub fn expand(template: &str, record: &Record) -> String {
    let mut out = template.to_string();
    for name in CallbackConfig::placeholders(template) {
        out = out.replace(&format!("{{{name}}}"), record.get(name).unwrap_or_default());
    }
    out
}

/// One write request per target logstore, records in arrival order. Each record is written
/// straight into its group's protobuf bytes (what prost encodes for the same `LogGroup`).
pub fn requests(records: Vec<Record>, cfg: &CallbackConfig, client_ip: &str) -> Vec<PutLogs> {
    let mut order: Vec<((String, String), Vec<u8>)> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for record in &records {
        let target = (expand(&cfg.project, record), expand(&cfg.logstore, record));
        let at = match index.get(&target) {
            Some(&at) => at,
            None => {
                index.insert(target.clone(), order.len());
                order.push((target, Vec::new()));
                order.len() - 1
            }
        };
        let contents = record.fields.iter().map(|(key, value)| (key.as_str(), value.as_str()));
        put_log(&mut order[at].1, record.time, record.time_ns, contents);
    }
    order
        .into_iter()
        .map(|((project, logstore), group)| PutLogs {
            project,
            logstore,
            hash_key: None,
            compression: Compression::None,
            body: Bytes::from(group),
            declared_raw: None,
            format: BodyFormat::LogGroup,
            web_tracking: false,
            client_ip: client_ip.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::wire::pb::{log::Content, Log, LogGroup};

    fn record(project: &str, app: &str, msg: &str) -> Record {
        Record {
            fields: vec![
                ("application_name".into(), app.into()),
                ("log_data".into(), msg.into()),
                ("project_name".into(), project.into()),
            ],
            time: 1_800_000_000,
            time_ns: None,
        }
    }

    #[test]
    fn records_are_grouped_per_target_in_order() {
        let cfg = CallbackConfig::default();
        let reqs =
            requests(vec![record("p1", "a", "1"), record("p2", "a", "2"), record("p1", "a", "3")], &cfg, "1.2.3.4");
        let targets: Vec<(&str, &str)> = reqs.iter().map(|r| (r.project.as_str(), r.logstore.as_str())).collect();
        assert_eq!(targets, vec![("p1", "a"), ("p2", "a")]);
        let g = LogGroup::decode(reqs[0].body.as_ref()).unwrap();
        let msgs: Vec<&str> = g.logs.iter().map(|l| l.contents[1].value.as_str()).collect();
        assert_eq!(msgs, vec!["1", "3"]);
    }

    #[test]
    fn the_groups_are_what_prost_encodes() {
        let mut r = record("p1", "a", "é \"x\"\n");
        r.time_ns = Some(7);
        let reqs = requests(vec![record("p1", "a", "1"), r.clone()], &CallbackConfig::default(), "1.2.3.4");
        let log = |r: &Record| Log {
            time: r.time,
            contents: r.fields.iter().map(|(key, value)| Content { key: key.clone(), value: value.clone() }).collect(),
            time_ns: r.time_ns,
        };
        let expected = LogGroup { logs: vec![log(&record("p1", "a", "1")), log(&r)], ..Default::default() };
        assert_eq!(reqs[0].body.as_ref(), expected.encode_to_vec().as_slice());
    }

    #[test]
    fn templates_expand_fields() {
        let r = record("shop", "cart", "x");
        assert_eq!(expand("k8s-{project_name}", &r), "k8s-shop");
        assert_eq!(expand("{application_name}_{project_name}", &r), "cart_shop");
        assert_eq!(expand("fixed", &r), "fixed");
    }
}
