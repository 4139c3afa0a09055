//! The request corpus: a few distinct request bodies (different seeds) built before the run, each
//! a batch of generated logs encoded as one format's request body: an SLS LogGroup (protobuf,
//! compressed as PutLogs sends it), a web-tracking JSON body, an LTS `tenant/contents` report, or a
//! container-log callback array. Also what the report needs per body: raw bytes and log count.

use bytes::Bytes;
use md5::{Digest, Md5};
use prost::Message;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

use super::nginx::{self, Site, NGINX_FIELDS};
use super::Format;
use crate::wire::compress::{compress, Compression};
use crate::wire::pb::{log::Content, Log, LogGroup, LogTag};

/// The daemon's default raw limit per request (`[limits] max_raw_bytes`, 3 MiB).
pub const DEFAULT_RAW_LIMIT: usize = 3 * 1024 * 1024;

/// The largest callback body built: records are dropped from a body that would exceed it, since
/// a callback record carries ~20 fields and 4096 of them do not fit the daemon's body limit.
pub const CALLBACK_BODY_LIMIT: usize = 3_000_000;

/// What to generate.
#[derive(Debug, Clone)]
pub struct CorpusSpec {
    pub format: Format,
    /// Logs per request.
    pub logs: usize,
    /// Fields per log.
    pub fields: usize,
    /// 0: nginx-like values; N: synthetic values of N bytes.
    pub value_bytes: usize,
    pub topic: String,
    /// Tags (LogGroup tags, web-tracking `__tags__`, LTS labels) per request.
    pub tags: usize,
    /// Distinct bodies.
    pub bodies: usize,
    /// Callback records name the project and logstore they are routed to.
    pub project: String,
    pub logstore: String,
    /// Log time, unix seconds ("now" at generation).
    pub now: u32,
}

/// One pre-built request body.
#[derive(Debug, Clone)]
pub struct Body {
    /// The bytes sent.
    pub bytes: Bytes,
    /// Uncompressed protobuf bytes (PutLogs), else the JSON bytes.
    pub raw_len: usize,
    /// Logs it carries.
    pub logs: usize,
    /// Upper-case hex MD5 of `bytes`, sent as `Content-MD5` by PutLogs.
    pub content_md5: String,
}

#[derive(Debug, Clone)]
pub struct Corpus {
    pub format: Format,
    pub bodies: Vec<Body>,
    /// Anything the user should know about the corpus (printed on stderr).
    pub notes: Vec<String>,
}

/// One generated request's logs before encoding.
struct Batch {
    logs: Vec<GenLog>,
    tags: Vec<(String, String)>,
    source: String,
    /// Each log's text line (LTS and callback formats).
    lines: Vec<String>,
}

struct GenLog {
    time: u32,
    time_ns: u32,
    fields: Vec<(String, String)>,
}

impl Corpus {
    pub fn build(spec: &CorpusSpec) -> Corpus {
        let mut notes = Vec::new();
        let bodies: Vec<Body> = (0..spec.bodies.max(1))
            .map(|seed| {
                let mut rng = StdRng::seed_from_u64(0x6c6f_6774_6964_6500 + seed as u64);
                let batch = generate(spec, &mut rng, seed);
                encode(spec, &batch, &mut rng)
            })
            .collect();
        if spec.format == Format::Callback && bodies.iter().any(|b| b.logs < spec.logs) {
            let fewest = bodies.iter().map(|b| b.logs).min().unwrap_or(0);
            notes.push(format!(
                "callback: {} records do not fit a {CALLBACK_BODY_LIMIT}-byte body; requests carry {fewest} or more",
                spec.logs
            ));
        }
        if bodies.iter().any(|b| b.raw_len > DEFAULT_RAW_LIMIT || b.bytes.len() > DEFAULT_RAW_LIMIT) {
            notes.push(format!(
                "bodies exceed the daemon's default {DEFAULT_RAW_LIMIT}-byte limit: expect PostBodyTooLarge refusals"
            ));
        }
        Corpus { format: spec.format, bodies, notes }
    }

    /// Average raw bytes per log over the corpus.
    pub fn raw_bytes_per_log(&self) -> f64 {
        let raw: usize = self.bodies.iter().map(|b| b.raw_len).sum();
        let logs: usize = self.bodies.iter().map(|b| b.logs).sum();
        if logs == 0 {
            0.0
        } else {
            raw as f64 / logs as f64
        }
    }
}

fn generate(spec: &CorpusSpec, rng: &mut StdRng, seed: usize) -> Batch {
    let site = Site::new(rng);
    let nginx = spec.value_bytes == 0;
    // A busy front writes a 4096-log batch in about two seconds.
    let spread = 2u32;
    let base = spec.now.saturating_sub(spread);
    let mut time_local_cache: Option<(u32, String)> = None;
    let mut logs = Vec::with_capacity(spec.logs);
    let mut lines = Vec::new();
    let text_lines = matches!(spec.format, Format::Lts | Format::Callback);
    for i in 0..spec.logs {
        let offset_ns = (i as u64 * u64::from(spread) * 1_000_000_000) / spec.logs.max(1) as u64;
        let time = base + (offset_ns / 1_000_000_000) as u32;
        let time_ns = (offset_ns % 1_000_000_000) as u32 + rng.random_range(0..1000);
        let fields: Vec<(String, String)> = if nginx {
            let local = match &time_local_cache {
                Some((t, s)) if *t == time => s.clone(),
                _ => {
                    let s = nginx::time_local(time);
                    time_local_cache = Some((time, s.clone()));
                    s
                }
            };
            let values = site.access(rng, &local);
            let mut f: Vec<(String, String)> =
                NGINX_FIELDS.iter().zip(values).take(spec.fields).map(|(k, v)| (k.to_string(), v)).collect();
            f.extend((NGINX_FIELDS.len()..spec.fields).map(|j| (format!("extra_{j}"), nginx::extra_value(rng, j))));
            f
        } else {
            (0..spec.fields).map(|j| (format!("field_{j}"), nginx::synthetic_value(rng, spec.value_bytes))).collect()
        };
        if text_lines {
            lines.push(if nginx && spec.fields == NGINX_FIELDS.len() {
                let values: Vec<String> = fields.iter().map(|(_, v)| v.clone()).collect();
                nginx::combined_line(&values)
            } else {
                fields.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
            });
        }
        logs.push(GenLog { time, time_ns, fields });
    }
    let tag_values = [
        ("hostname".to_string(), format!("web-{seed}.shop.internal")),
        ("path".to_string(), "/var/log/nginx/access.log".to_string()),
        ("env".to_string(), "prod".to_string()),
    ];
    let tags = (0..spec.tags)
        .map(|i| match tag_values.get(i) {
            Some(t) => t.clone(),
            None => (format!("tag_{i}"), format!("value-{i}-{seed}")),
        })
        .collect();
    Batch { logs, tags, source: format!("10.20.{}.{}", seed / 250 % 256, 1 + seed % 250), lines }
}

fn encode(spec: &CorpusSpec, batch: &Batch, rng: &mut StdRng) -> Body {
    let logs = batch.logs.len();
    let (bytes, raw_len, logs) = match spec.format {
        Format::PbLz4 | Format::PbZstd | Format::PbDeflate | Format::PbNone => {
            let raw = log_group(spec, batch).encode_to_vec();
            let codec = spec.format.compression().unwrap_or(Compression::None);
            let wire = if codec == Compression::None { raw.clone() } else { compress(codec, &raw) };
            (wire, raw.len(), logs)
        }
        Format::Webtrack => {
            let body = webtrack_body(spec, batch);
            let len = body.len();
            (body, len, logs)
        }
        Format::Lts => {
            let body = lts_body(spec, batch);
            let len = body.len();
            (body, len, logs)
        }
        Format::Callback => {
            let (body, records) = callback_body(spec, batch, rng);
            let len = body.len();
            (body, len, records)
        }
    };
    let content_md5 = hex::encode_upper(Md5::digest(&bytes));
    Body { bytes: Bytes::from(bytes), raw_len, logs, content_md5 }
}

/// The LogGroup a PutLogs body carries.
fn log_group(spec: &CorpusSpec, batch: &Batch) -> LogGroup {
    LogGroup {
        logs: batch
            .logs
            .iter()
            .map(|l| Log {
                time: l.time,
                contents: l.fields.iter().map(|(k, v)| Content { key: k.clone(), value: v.clone() }).collect(),
                time_ns: Some(l.time_ns),
            })
            .collect(),
        reserved: None,
        topic: Some(spec.topic.clone()).filter(|t| !t.is_empty()),
        source: Some(batch.source.clone()),
        machine_uuid: None,
        log_tags: batch.tags.iter().map(|(k, v)| LogTag { key: k.clone(), value: v.clone() }).collect(),
    }
}

fn tag_map(batch: &Batch) -> Map<String, Value> {
    batch.tags.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect()
}

/// `{"__topic__", "__source__", "__logs__": [{k: v}…], "__tags__": {…}}`; the daemon stamps the
/// receive time.
fn webtrack_body(spec: &CorpusSpec, batch: &Batch) -> Vec<u8> {
    let logs: Vec<Value> = batch
        .logs
        .iter()
        .map(|l| Value::Object(l.fields.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect()))
        .collect();
    let body = json!({
        "__topic__": spec.topic,
        "__source__": batch.source,
        "__logs__": logs,
        "__tags__": tag_map(batch),
    });
    body.to_string().into_bytes()
}

/// `{"log_time_ns", "contents": [line…], "labels": {…}}`: line `i` is stored at `log_time_ns + i`.
fn lts_body(spec: &CorpusSpec, batch: &Batch) -> Vec<u8> {
    let first = batch
        .logs
        .first()
        .map_or(u64::from(spec.now) * 1_000_000_000, |l| u64::from(l.time) * 1_000_000_000 + u64::from(l.time_ns));
    let body = json!({"log_time_ns": first, "contents": batch.lines, "labels": tag_map(batch)});
    body.to_string().into_bytes()
}

/// A JSON array of container-log records from one pod, each carrying every field the callback
/// requires; `project_name` / `application_name` route them to the run's project and logstore
/// under the daemon's default `[callback]` templates. Stops before [`CALLBACK_BODY_LIMIT`].
fn callback_body(spec: &CorpusSpec, batch: &Batch, rng: &mut StdRng) -> (Vec<u8>, usize) {
    let container_id: String = (0..4).map(|_| format!("{:016x}", rng.random::<u64>())).collect();
    let pod_suffix = format!("{:010x}-{:05x}", rng.random::<u64>() & 0xff_ffff_ffff, rng.random::<u32>() & 0xfffff);
    let pod_name = format!("nginx-{pod_suffix}");
    let pod_id = format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        rng.random::<u32>(),
        rng.random::<u16>(),
        rng.random::<u16>() & 0xfff,
        rng.random::<u16>() & 0xfff,
        rng.random::<u64>() & 0xffff_ffff_ffff
    );
    let node = format!("192.168.{}.{}", rng.random_range(0..8), rng.random_range(2..250));
    let mut out = Vec::with_capacity(CALLBACK_BODY_LIMIT.min(batch.logs.len() * 900));
    out.push(b'[');
    let mut records = 0;
    for (log, line) in batch.logs.iter().zip(&batch.lines) {
        let record = json!({
            "@timestamp": format!("{}.{:09}", log.time, log.time_ns),
            "application_name": spec.logstore,
            "component": "web",
            "container_id": container_id,
            "container_id8": &container_id[..8],
            "docker_container_name": format!("k8s_nginx_{pod_name}_shop"),
            "file_name": "/var/log/nginx/access.log",
            "kubernetes_container_name": "nginx",
            "kubernetes_namespace": "shop",
            "log_data": line,
            "node": node,
            "paths": "/var/log/nginx/",
            "pod_id": pod_id,
            "pod_name": pod_name,
            "product": "shop",
            "project_name": spec.project,
            "region_name": "region-1",
            "time": u64::from(log.time) * 1000 + u64::from(log.time_ns / 1_000_000),
        })
        .to_string();
        if out.len() + record.len() + 2 > CALLBACK_BODY_LIMIT {
            break;
        }
        if records > 0 {
            out.push(b',');
        }
        out.extend_from_slice(record.as_bytes());
        records += 1;
    }
    out.push(b']');
    (out, records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::Limits;
    use crate::wire::loggroup::validate_log_group;

    fn spec(format: Format, logs: usize) -> CorpusSpec {
        CorpusSpec {
            format,
            logs,
            fields: 10,
            value_bytes: 0,
            topic: "nginx".into(),
            tags: 3,
            bodies: 2,
            project: "bench".into(),
            logstore: "load-1".into(),
            now: crate::catalog::now_secs() as u32,
        }
    }

    #[test]
    fn default_corpus_reproduces_the_issue_batch() {
        let s = spec(Format::PbLz4, 4096);
        let corpus = Corpus::build(&s);
        assert!(corpus.notes.is_empty(), "{:?}", corpus.notes);
        assert_eq!(corpus.bodies.len(), 2);
        let per_log = corpus.raw_bytes_per_log();
        assert!((330.0..=400.0).contains(&per_log), "raw bytes per log {per_log}");
        for body in &corpus.bodies {
            assert_eq!(body.logs, 4096);
            let raw = lz4_flex::block::decompress(&body.bytes, body.raw_len).unwrap();
            let ratio = body.bytes.len() as f64 / raw.len() as f64;
            assert!((0.12..=0.30).contains(&ratio), "lz4 ratio {ratio}");
            let stats = validate_log_group(&raw, &Limits::default(), u64::from(s.now)).unwrap();
            assert_eq!(stats.logs, 4096);
            assert_eq!(stats.raw_len as usize, body.raw_len);
            let g = LogGroup::decode(raw.as_slice()).unwrap();
            assert_eq!(g.logs[0].contents.len(), 10);
            assert_eq!(g.log_tags.len(), 3);
            assert_eq!(g.topic.as_deref(), Some("nginx"));
        }
        assert_ne!(corpus.bodies[0].bytes, corpus.bodies[1].bytes, "bodies differ by seed");
        assert_eq!(corpus.bodies[0].content_md5, hex::encode_upper(Md5::digest(&corpus.bodies[0].bytes)));
    }

    #[test]
    fn every_pb_codec_round_trips() {
        for (format, codec) in [
            (Format::PbZstd, Compression::Zstd),
            (Format::PbDeflate, Compression::Deflate),
            (Format::PbNone, Compression::None),
        ] {
            let body = &Corpus::build(&spec(format, 50)).bodies[0];
            let mut raw = Vec::new();
            crate::wire::compress::decompress_into(codec, &body.bytes, Some(body.raw_len), 1 << 30, &mut raw).unwrap();
            if codec == Compression::None {
                raw = body.bytes.to_vec();
            }
            assert_eq!(raw.len(), body.raw_len);
            assert_eq!(LogGroup::decode(raw.as_slice()).unwrap().logs.len(), 50);
        }
    }

    #[test]
    fn synthetic_values_and_extra_fields() {
        let mut s = spec(Format::PbNone, 20);
        s.fields = 4;
        s.value_bytes = 100;
        let g = LogGroup::decode(Corpus::build(&s).bodies[0].bytes.as_ref()).unwrap();
        assert_eq!(g.logs.len(), 20);
        assert!(g.logs.iter().all(|l| l.contents.len() == 4 && l.contents.iter().all(|c| c.value.len() == 100)));
        let mut s = spec(Format::PbNone, 5);
        s.fields = 13;
        s.tags = 5;
        let g = LogGroup::decode(Corpus::build(&s).bodies[0].bytes.as_ref()).unwrap();
        assert_eq!(g.logs[0].contents[12].key, "extra_12");
        assert_eq!(g.log_tags.len(), 5);
    }

    #[test]
    fn json_bodies_have_their_shapes() {
        let v: Value = serde_json::from_slice(&Corpus::build(&spec(Format::Webtrack, 7)).bodies[0].bytes).unwrap();
        assert_eq!(v["__topic__"], "nginx");
        assert_eq!(v["__logs__"].as_array().unwrap().len(), 7);
        assert_eq!(v["__logs__"][0].as_object().unwrap().len(), 10);
        assert_eq!(v["__tags__"].as_object().unwrap().len(), 3);

        let lts = Corpus::build(&spec(Format::Lts, 7));
        let v: Value = serde_json::from_slice(&lts.bodies[0].bytes).unwrap();
        assert!(v["log_time_ns"].as_u64().unwrap() > 1_600_000_000_000_000_000);
        let lines = v["contents"].as_array().unwrap();
        assert_eq!(lines.len(), 7);
        assert!(lines[0].as_str().unwrap().contains(" HTTP/"), "{}", lines[0]);
        assert_eq!(lts.bodies[0].raw_len, lts.bodies[0].bytes.len());

        let cb = Corpus::build(&spec(Format::Callback, 7)).bodies[0].clone();
        let records = crate::wire::callback::parse_records(&cb.bytes, 4096).unwrap();
        assert_eq!((records.len(), cb.logs), (7, 7));
        assert_eq!(records[0].get("project_name"), Some("bench"));
        assert_eq!(records[0].get("application_name"), Some("load-1"));
    }

    #[test]
    fn callback_bodies_stay_under_the_body_limit() {
        let corpus = Corpus::build(&spec(Format::Callback, 4096));
        let body = &corpus.bodies[0];
        assert!(body.bytes.len() <= CALLBACK_BODY_LIMIT);
        assert!(body.logs > 2000 && body.logs <= 4096, "{}", body.logs);
        assert_eq!(crate::wire::callback::parse_records(&body.bytes, 4096).unwrap().len(), body.logs);
    }
}
