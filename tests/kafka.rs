//! The Kafka backend (`storage.backend = "kafka"`) against a real Kafka-protocol broker: tansu,
//! built from crates.io by `scripts/tansu-env` and started here on a free loopback port with its
//! in-memory storage engine. A missing broker fails these tests (it does not skip them):
//! `scripts/test` builds it; by hand, run `scripts/tansu-env` once. With
//! `LOGTIDE_KAFKA_BROKERS=host:port[,…]` the tests use that cluster instead (a real Kafka or
//! Redpanda); the test that stops its broker still starts a tansu of its own.

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{group, now, TestDaemon};
use prost::Message;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};

/// The tansu binary: `$LOGTIDE_TANSU`, else where `scripts/tansu-env` installs it.
fn tansu_binary() -> PathBuf {
    let path = std::env::var_os("LOGTIDE_TANSU").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/logtide-tansu/bin/tansu")
    });
    assert!(
        path.exists(),
        "the Kafka-protocol broker tansu is missing at {}: run scripts/tansu-env (scripts/test does) \
         or set LOGTIDE_TANSU; these tests do not skip without it",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The broker of a test: `LOGTIDE_KAFKA_BROKERS`, or a tansu on a free loopback port, killed on
/// drop.
struct Broker {
    child: Option<Child>,
    brokers: String,
}

impl Broker {
    fn start() -> Broker {
        match std::env::var("LOGTIDE_KAFKA_BROKERS") {
            Ok(brokers) if !brokers.is_empty() => Broker { child: None, brokers },
            _ => Broker::tansu(),
        }
    }

    fn tansu() -> Broker {
        Broker::tansu_on(free_port(), "memory://tansu/", &[])
    }

    /// tansu on `port` with a storage engine (and its environment).
    fn tansu_on(port: u16, storage: &str, env: &[(&str, String)]) -> Broker {
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tansu_binary())
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", storage])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tansu");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not listen on {addr} within 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker { child: Some(child), brokers: addr.to_string() }
    }

    fn kafka_toml(&self) -> String {
        // A prefix per test: tests may share one external cluster.
        let prefix = format!("logtide-test-{}.", uuid::Uuid::new_v4().simple());
        format!(
            "[storage]\nbackend = \"kafka\"\n[storage.kafka]\nbrokers = \"{}\"\nproduce_timeout_ms = 5000\ntopic_prefix = \"{prefix}\"\nmin_partitions = 8\n",
            self.brokers
        )
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An in-process daemon on `broker` with project `kproj`, and its topic prefix.
async fn daemon_on(broker: &Broker) -> (TestDaemon, String) {
    let toml = broker.kafka_toml();
    let prefix = toml.split("topic_prefix = \"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let d = TestDaemon::start(&toml).await;
    d.create_project("kproj").await;
    (d, prefix)
}

/// PutLogs (LZ4) of `group` to the shard of `kproj`/`logstore` owning the hash key `key`.
async fn put_routed(
    d: &TestDaemon,
    logstore: &str,
    key: &str,
    group: &logtide::wire::pb::LogGroup,
) -> reqwest::Response {
    let raw = group.encode_to_vec();
    let body = lz4_flex::block::compress(&raw);
    let headers = [("x-log-compresstype", "lz4".to_string()), ("x-log-bodyrawsize", raw.len().to_string())];
    d.put_raw("kproj", &format!("/logstores/{logstore}/shards/route?key={key}"), body, &headers).await
}

/// Waits until `pull_all` returns `want` groups (the materializer consumes asynchronously).
async fn pull_until(
    d: &TestDaemon,
    project: &str,
    logstore: &str,
    want: usize,
) -> Vec<(u64, logtide::wire::pb::LogGroup)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = d.pull_all(project, logstore).await;
        if got.len() >= want || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The records of every partition of a topic, read straight from the broker: (partition, value).
fn topic_records(brokers: &str, topic: &str, partitions: i32, want: usize) -> Vec<(i32, Vec<u8>)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "logtide-test-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning).unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while out.len() < want && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            out.push((m.partition(), m.payload().unwrap_or_default().to_vec()));
        }
    }
    out
}

/// The logstore topics with `prefix` on the broker (not the catalog's) and their partition counts.
fn logtide_topics(brokers: &str, prefix: &str) -> Vec<(String, usize)> {
    let consumer: BaseConsumer = ClientConfig::new().set("bootstrap.servers", brokers).create().unwrap();
    let md = consumer.fetch_metadata(None, Duration::from_secs(10)).unwrap();
    md.topics()
        .iter()
        .filter(|t| logtide::kafka::topic_stream(prefix, t.name()).is_some())
        .map(|t| (t.name().to_string(), t.partitions().len()))
        .collect()
}

/// Writes through the daemon go to the partition of the shard owning the hash key, are
/// acknowledged after the broker has them, and are read back through cursors from the
/// materialized store; a split adds the children's partitions and their writes are read too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hash_keys_land_in_their_shards_partition_and_read_back() {
    let broker = Broker::start();
    let (d, prefix) = daemon_on(&broker).await;
    let brokers = broker.brokers.clone();
    d.create_logstore("kproj", "kstore", 4).await;
    let topics = logtide_topics(&brokers, &prefix);
    assert_eq!(topics.len(), 1, "one topic per logstore: {topics:?}");
    let (topic, partitions) = topics[0].clone();
    assert_eq!(partitions, 8, "a partition per shard id, with min_partitions of room for new shards");

    // Shard i of 4 owns [i/4, (i+1)/4) of the MD5 space: a key at the start of each range.
    let keys = [
        "00000000000000000000000000000000",
        "40000000000000000000000000000000",
        "80000000000000000000000000000000",
        "c0000000000000000000000000000001",
    ];
    for round in 0..3 {
        for (shard, key) in keys.iter().enumerate() {
            let r = put_routed(&d, "kstore", key, &group(&format!("s{shard}-r{round}"), 5)).await;
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        }
    }
    // Acknowledged means on the broker: every record is there, in its shard's partition.
    let records = topic_records(&brokers, &topic, 4, 12);
    assert_eq!(records.len(), 12);
    for (partition, value) in &records {
        let (_, payload) = logtide::store::RecordHeader::decode(value).expect("a stored LogGroup record");
        let raw = lz4_flex::block::decompress(payload, 1 << 20).unwrap_or_else(|_| payload.to_vec());
        let g = logtide::wire::pb::LogGroup::decode(raw.as_slice()).unwrap();
        let tag = g.log_tags[0].value.clone();
        assert!(tag.starts_with(&format!("s{partition}-")), "{tag} in partition {partition}");
    }
    let got = pull_until(&d, "kproj", "kstore", 12).await;
    assert_eq!(got.len(), 12);
    for (shard, g) in &got {
        assert!(
            g.log_tags[0].value.starts_with(&format!("s{shard}-")),
            "{} read from shard {shard}",
            g.log_tags[0].value
        );
        assert_eq!(g.logs.len(), 5);
    }

    // Split shard 0: it turns readonly, children 4 and 5 write to partitions 4 and 5 (tansu
    // cannot add partitions: the topic was created with room for them).
    let r = d
        .req(
            reqwest::Method::POST,
            "kproj",
            "/logstores/kstore/shards/0?action=split&key=20000000000000000000000000000000",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(logtide_topics(&brokers, &prefix)[0].1, 8);
    let r = d.put_lz4("kproj", "kstore", &group("after-split", 3)).await;
    assert_eq!(r.status(), 200);
    let r = put_routed(&d, "kstore", "30000000000000000000000000000000", &group("child", 2)).await;
    assert_eq!(r.status(), 200);
    let got = pull_until(&d, "kproj", "kstore", 14).await;
    assert_eq!(got.len(), 14);
    assert!(
        got.iter().any(|(shard, g)| *shard == 5 && g.log_tags[0].value == "child"),
        "the write to the child shard 5"
    );

    // Shard ids 6 and 7 still fit; 8 and 9 would need partitions tansu cannot add: that split is
    // refused as retryable and changes nothing.
    let split = |id: u32, key: &'static str| {
        d.req(reqwest::Method::POST, "kproj", &format!("/logstores/kstore/shards/{id}?action=split&key={key}")).send()
    };
    assert_eq!(split(4, "10000000000000000000000000000000").await.unwrap().status(), 200);
    let before = d.list_shards("kproj", "kstore").await;
    let (status, code) = common::error_code(split(6, "08000000000000000000000000000000").await.unwrap()).await;
    if broker.child.is_some() {
        assert_eq!((status, code.as_str()), (503, "ServerBusy"));
        assert_eq!(d.list_shards("kproj", "kstore").await, before, "a refused split changes nothing");
    }
    d.stop().await;
}

/// A write the broker cannot take in time is refused with the retryable 503 ServerBusy, and
/// nothing of it is read back once the broker is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_gives_retryable_refusals() {
    let broker = Broker::tansu();
    let toml = broker.kafka_toml().replace("produce_timeout_ms = 5000", "produce_timeout_ms = 1500");
    let d = TestDaemon::start(&toml).await;
    d.create_project("kproj").await;
    d.create_logstore("kproj", "kstore", 2).await;
    assert_eq!(d.put_lz4("kproj", "kstore", &group("before", 2)).await.status(), 200);
    drop(broker);
    let started = Instant::now();
    let r = d.put_lz4("kproj", "kstore", &group("after", 2)).await;
    let (status, code) = common::error_code(r).await;
    assert_eq!((status, code.as_str()), (503, "ServerBusy"));
    assert!(started.elapsed() < Duration::from_secs(8), "refused within the produce timeout: {:?}", started.elapsed());
    let got = d.pull_all("kproj", "kstore").await;
    assert!(got.iter().all(|(_, g)| g.log_tags[0].value == "before"), "nothing refused is read back");
    d.stop().await;
}

/// The daemon killed with SIGKILL between writes, and restarted on the same data directory,
/// resumes consuming where its store ends: every acknowledged group is read back exactly once.
#[test]
fn a_sigkilled_node_restarts_without_loss_or_duplicates() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("logtide.toml");
    std::fs::write(&config, broker.kafka_toml()).unwrap();
    let start = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_logtide"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .arg("--config")
            .arg(&config)
            .env("LOGTIDE_LOG", "warn")
            .stderr(Stdio::null());
        common::spawn_binary(&mut cmd)
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (mut child, addr) = start();
    let d = rt.block_on(TestDaemon::attach(addr));
    rt.block_on(async {
        d.create_project("kproj").await;
        d.create_logstore("kproj", "kstore", 3).await;
        for i in 0..20 {
            assert_eq!(d.put_lz4("kproj", "kstore", &group(&format!("a{i}"), 4)).await.status(), 200);
        }
        assert_eq!(pull_until(&d, "kproj", "kstore", 20).await.len(), 20);
        // More acknowledged writes, then the kill before the materializer may have stored them.
        for i in 0..20 {
            assert_eq!(d.put_lz4("kproj", "kstore", &group(&format!("b{i}"), 4)).await.status(), 200);
        }
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let (mut child, addr) = start();
    let d = rt.block_on(TestDaemon::attach(addr));
    rt.block_on(async {
        for i in 0..10 {
            assert_eq!(d.put_lz4("kproj", "kstore", &group(&format!("c{i}"), 4)).await.status(), 200);
        }
        let got = pull_until(&d, "kproj", "kstore", 50).await;
        let mut tags: Vec<String> = got.iter().map(|(_, g)| g.log_tags[0].value.clone()).collect();
        tags.sort();
        let before = tags.len();
        tags.dedup();
        assert_eq!(before, tags.len(), "no group twice");
        assert_eq!(tags.len(), 50, "every acknowledged group: {tags:?}");
    });
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Deleting a logstore leaves its topic to retention and the daemon goes on serving the others,
/// a new logstore of the same name included (a new UUID, so a new topic). Deleting the topic
/// itself crashed librdkafka 2.12.1's clients against tansu (docs/kafka.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_logstore_leaves_its_topic_and_the_daemon_goes_on() {
    let broker = Broker::start();
    let (d, prefix) = daemon_on(&broker).await;
    let brokers = broker.brokers.clone();
    d.create_logstore("kproj", "doomed", 2).await;
    d.create_logstore("kproj", "kept", 2).await;
    for store in ["doomed", "kept"] {
        assert_eq!(d.put_lz4("kproj", store, &group(store, 3)).await.status(), 200);
    }
    let r = d.req(reqwest::Method::DELETE, "kproj", "/logstores/doomed").send().await.unwrap();
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_secs(1)).await;
    d.create_logstore("kproj", "doomed", 2).await;
    assert_eq!(logtide_topics(&brokers, &prefix).len(), 3, "the old topic stays, the new logstore has its own");
    assert_eq!(d.put_lz4("kproj", "kept", &group("after", 3)).await.status(), 200);
    assert_eq!(d.put_lz4("kproj", "doomed", &group("reborn", 3)).await.status(), 200);
    assert_eq!(pull_until(&d, "kproj", "kept", 2).await.len(), 2);
    let reborn = pull_until(&d, "kproj", "doomed", 1).await;
    assert_eq!(reborn.len(), 1, "nothing of the deleted logstore comes back");
    assert_eq!(reborn[0].1.log_tags[0].value, "reborn");
    d.stop().await;
}

/// Polls `f` until it returns true (catalog changes and records reach another node
/// asynchronously); false after 20 s.
async fn eventually<F, Fut>(mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// The sorted tags of every group of a logstore as `d` reads it (none while `d` does not list
/// the logstore yet).
async fn tags_on(d: &TestDaemon, logstore: &str) -> Vec<String> {
    let path = format!("/logstores/{logstore}");
    if d.req(reqwest::Method::GET, "kproj", &path).send().await.unwrap().status() != 200 {
        return Vec::new();
    }
    let mut tags: Vec<String> =
        d.pull_all("kproj", logstore).await.iter().map(|(_, g)| g.log_tags[0].value.clone()).collect();
    tags.sort();
    tags
}

async fn create_logstore_status(d: &TestDaemon, name: &str) -> (u16, String) {
    let body = serde_json::json!({"logstoreName": name, "ttl": 30, "shardCount": 2}).to_string();
    let r = d
        .req(reqwest::Method::POST, "kproj", "/logstores")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    if r.status() == 200 {
        (200, String::new())
    } else {
        common::error_code(r).await
    }
}

/// Two in-process nodes on `broker`, sharing one topic prefix, with project `kproj` created
/// through the first; and their config.
async fn two_nodes(broker: &Broker) -> (String, TestDaemon, TestDaemon) {
    let toml = broker.kafka_toml();
    let a = TestDaemon::start(&toml).await;
    let b = TestDaemon::start(&toml).await;
    a.create_project("kproj").await;
    (toml, a, b)
}

/// Two nodes over one broker: one catalog (a logstore created through one is written through
/// the other at once, a split or a delete on one reaches the other, two concurrent creates of
/// one name give one logstore), and every write through either node is read back from both,
/// with cursors that mean the same on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_catalog_and_read_each_others_writes() {
    let broker = Broker::start();
    let (_, a, b) = two_nodes(&broker).await;
    // Created through b right after a created the project: b catches up on the miss.
    b.create_logstore("kproj", "shared", 2).await;
    for i in 0..6 {
        assert_eq!(a.put_lz4("kproj", "shared", &group(&format!("a{i}"), 3)).await.status(), 200);
        assert_eq!(b.put_lz4("kproj", "shared", &group(&format!("b{i}"), 3)).await.status(), 200);
    }
    let mut want: Vec<String> = (0..6).flat_map(|i| [format!("a{i}"), format!("b{i}")]).collect();
    want.sort();
    for d in [&a, &b] {
        assert!(eventually(|| async { tags_on(d, "shared").await == want }).await, "every write on both nodes");
    }
    // A cursor is an offset: one taken on a reads the same groups on b.
    for shard in [0, 1] {
        let cursor = a.cursor("kproj", "shared", shard, "begin").await;
        let (on_a, next_a) = a.pull("kproj", "shared", shard, &cursor, 100).await;
        let (on_b, next_b) = b.pull("kproj", "shared", shard, &cursor, 100).await;
        assert_eq!(on_a, on_b, "shard {shard}");
        assert_eq!(next_a, next_b);
        assert!(!on_a.is_empty());
    }

    // Concurrent creates of one name through both nodes: one logstore, the other answer is the
    // documented LogStoreAlreadyExist.
    for round in 0..3 {
        let name = format!("race{round}");
        let (ra, rb) = tokio::join!(create_logstore_status(&a, &name), create_logstore_status(&b, &name));
        let mut got = [ra, rb].map(|(s, c)| format!("{s} {c}"));
        got.sort();
        assert_eq!(got, ["200 ".to_string(), "400 LogStoreAlreadyExist".to_string()], "round {round}");
    }

    // A split through b is listed by a; its children take writes through a.
    let r = b
        .req(
            reqwest::Method::POST,
            "kproj",
            "/logstores/shared/shards/0?action=split&key=20000000000000000000000000000000",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert!(eventually(|| async { a.list_shards("kproj", "shared").await.len() == 4 }).await);
    assert_eq!(a.put_lz4("kproj", "shared", &group("after-split", 3)).await.status(), 200);
    assert!(eventually(|| async { tags_on(&b, "shared").await.len() == 13 }).await);

    // A delete through a reaches b.
    let r = a.req(reqwest::Method::DELETE, "kproj", "/logstores/race0").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        eventually(|| async {
            let r = b.req(reqwest::Method::GET, "kproj", "/logstores/race0").send().await.unwrap();
            r.status() == 404
        })
        .await
    );
    // Both nodes applied the same catalog changes, and hold every write they acknowledged.
    let position = |d: &TestDaemon| {
        let url = d.url("/metrics");
        async move {
            let text = reqwest::get(url).await.unwrap().text().await.unwrap();
            let figure = |name: &str| -> f64 {
                let line =
                    text.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name}"));
                line.rsplit(' ').next().unwrap().parse().unwrap()
            };
            (figure("logtide_kafka_catalog_log_position"), figure("logtide_kafka_unstored_records"))
        }
    };
    let (on_a, on_b) = (position(&a).await, position(&b).await);
    assert!(on_a.0 >= 7.0, "project, logstore, 3 creates, split, delete: {on_a:?}");
    assert_eq!(on_a, on_b, "(catalog position, unstored records) on both nodes");
    assert_eq!(on_a.1, 0.0);
    a.stop().await;
    b.stop().await;
}

/// A node stopped while the other changes the catalog and writes catches up when it starts
/// again: the logstore created meanwhile is there with every write, read exactly once (the
/// catalog position and the shard offsets are kept in its store).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_catches_up_with_what_changed_while_it_was_down() {
    let broker = Broker::start();
    let (toml, a, b) = two_nodes(&broker).await;
    a.create_logstore("kproj", "early", 2).await;
    for i in 0..5 {
        assert_eq!(a.put_lz4("kproj", "early", &group(&format!("e{i}"), 2)).await.status(), 200);
    }
    assert!(eventually(|| async { tags_on(&b, "early").await.len() == 5 }).await);
    let dir = b.stop().await;
    a.create_logstore("kproj", "later", 2).await;
    for i in 0..5 {
        assert_eq!(a.put_lz4("kproj", "later", &group(&format!("l{i}"), 2)).await.status(), 200);
        assert_eq!(a.put_lz4("kproj", "early", &group(&format!("f{i}"), 2)).await.status(), 200);
    }
    let b = TestDaemon::start_in(dir, &toml).await;
    assert!(eventually(|| async { tags_on(&b, "later").await.len() == 5 }).await);
    assert!(eventually(|| async { tags_on(&b, "early").await.len() == 10 }).await);
    let mut early = tags_on(&b, "early").await;
    early.dedup();
    assert_eq!(early.len(), 10, "nothing twice: {early:?}");
    a.stop().await;
    b.stop().await;
}

/// The broker itself restarted, on S3 storage (tansu over moto_server): writes during the outage
/// are refused as retryable, writes go on once it is back, and everything acknowledged is kept:
/// read back by the node that wrote it and by a new node that rebuilds its catalog and data from
/// the broker alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restarted_on_s3_storage_keeps_every_acknowledged_write() {
    let moto = common::moto::start().await;
    moto.create_bucket("tansu").await;
    let env = [
        ("AWS_ENDPOINT", moto.url.clone()),
        ("AWS_ALLOW_HTTP", "true".to_string()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_string()),
    ];
    let port = free_port();
    let broker = Broker::tansu_on(port, "s3://tansu/", &env);
    let toml = broker.kafka_toml().replace("produce_timeout_ms = 5000", "produce_timeout_ms = 3000");
    let a = TestDaemon::start(&toml).await;
    a.create_project("kproj").await;
    a.create_logstore("kproj", "kstore", 2).await;
    let mut acked = Vec::new();
    for i in 0..10 {
        let tag = format!("before{i}");
        assert_eq!(a.put_lz4("kproj", "kstore", &group(&tag, 2)).await.status(), 200);
        acked.push(tag);
    }
    drop(broker);
    let (status, code) = common::error_code(a.put_lz4("kproj", "kstore", &group("down", 2)).await).await;
    assert_eq!((status, code.as_str()), (503, "ServerBusy"), "refused, retryable, while the broker is down");
    let mut attempted = acked.clone();
    attempted.push("down".into());

    let broker = Broker::tansu_on(port, "s3://tansu/", &env);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut i = 0;
    while acked.len() < 15 {
        assert!(Instant::now() < deadline, "writes did not resume within 60 s of the broker's restart");
        let tag = format!("after{i}");
        i += 1;
        attempted.push(tag.clone());
        match a.put_lz4("kproj", "kstore", &group(&tag, 2)).await.status().as_u16() {
            200 => acked.push(tag),
            503 => tokio::time::sleep(Duration::from_millis(500)).await,
            other => panic!("status {other} after the broker's restart"),
        }
    }
    acked.sort();
    attempted.sort();
    // At least once: every acknowledged write once; a refused one may have reached the broker.
    let check = |got: Vec<String>| -> bool {
        let mut unique = got.clone();
        unique.dedup();
        unique.len() == got.len()
            && acked.iter().all(|t| got.binary_search(t).is_ok())
            && got.iter().all(|t| attempted.binary_search(t).is_ok())
    };
    let kept = eventually(|| async { check(tags_on(&a, "kstore").await) }).await;
    assert!(kept, "the writing node reads every acknowledged write once: {:?}", tags_on(&a, "kstore").await);
    let fresh = TestDaemon::start(&toml).await;
    // Its catalog comes first, from the start of the catalog log.
    let listed = eventually(|| async {
        fresh.req(reqwest::Method::GET, "kproj", "/logstores/kstore").send().await.unwrap().status() == 200
    })
    .await;
    assert!(listed, "a new node lists the logstore from the restarted broker's catalog log");
    let kept = eventually(|| async { check(tags_on(&fresh, "kstore").await) }).await;
    assert!(
        kept,
        "a new node rebuilds catalog and data from the restarted broker: {:?}",
        tags_on(&fresh, "kstore").await
    );
    a.stop().await;
    fresh.stop().await;
    drop(broker);
}

/// A node that ran on the embedded store switches to the Kafka backend: its catalog becomes the
/// shared one (topics created, a second node lists it, writes go through Kafka). A data
/// directory holding embedded logs is refused instead: their sequences would collide with the
/// Kafka offsets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_nodes_catalog_moves_to_kafka_and_its_logs_are_refused() {
    let broker = Broker::start();
    let toml = broker.kafka_toml();
    let alone = TestDaemon::start("").await;
    alone.create_project("kproj").await;
    alone.create_logstore("kproj", "moved", 2).await;
    let dir = alone.stop().await;
    let a = TestDaemon::start_in(dir, &toml).await;
    assert_eq!(a.put_lz4("kproj", "moved", &group("via-kafka", 2)).await.status(), 200);
    let b = TestDaemon::start(&toml).await;
    assert!(eventually(|| async { tags_on(&b, "moved").await == ["via-kafka"] }).await, "the second node reads it");
    a.stop().await;
    b.stop().await;

    let with_logs = TestDaemon::start("").await;
    with_logs.create_project("kproj").await;
    with_logs.create_logstore("kproj", "kept", 2).await;
    assert_eq!(with_logs.put_lz4("kproj", "kept", &group("embedded", 2)).await.status(), 200);
    let dir = with_logs.stop().await;
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = {:?}\n{}",
        dir.path().join("data").display().to_string(),
        broker.kafka_toml()
    );
    let err = logtide::Daemon::start(logtide::config::Config::from_toml(&text).unwrap()).await.err().expect("refused");
    assert!(err.to_string().contains("cannot take them over"), "{err}");
}

/// The configs of nodes that divide the shards (`storage.kafka.nodes`) on free loopback ports:
/// (port, config) per node.
fn cluster_configs(broker: &Broker, nodes: usize, read_replicas: usize) -> Vec<(u16, String)> {
    let base = broker.kafka_toml();
    let ports: Vec<u16> = (0..nodes).map(|_| free_port()).collect();
    let list: Vec<String> = ports.iter().map(|p| format!("\"http://127.0.0.1:{p}\"")).collect();
    (0..nodes)
        .map(|i| {
            let toml = format!(
                "{base}nodes = [{}]\nnode = {i}\nread_replicas = {read_replicas}\ncluster_secret = \"test-cluster-secret-0123\"\n",
                list.join(", ")
            );
            (ports[i], toml)
        })
        .collect()
}

/// Logs GetLogs (v2) finds in the last five minutes of a logstore, as `d` answers.
async fn get_logs_count(d: &TestDaemon, logstore: &str) -> (u16, usize) {
    let window = serde_json::json!({"from": now() - 300, "to": now() + 60, "query": "*", "line": 100});
    let r = d
        .req(reqwest::Method::POST, "kproj", &format!("/logstores/{logstore}/logs"))
        .header("content-type", "application/json")
        .body(window.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    if status != 200 {
        eprintln!("GetLogs answered {status}: {body}");
    }
    (status, body["data"].as_array().map_or(0, Vec::len))
}

/// Nodes that divide the shards: each stores only the shards it owns, and reads (cursors,
/// PullLogs, GetLogs over every shard) are the same through every node, read from the owners.
/// With one replica, a stopped owner leaves its shards unreadable (retryable) and the others
/// readable; with two, every shard stays readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_divide_the_shards_and_read_the_others_from_their_owners() {
    let broker = Broker::start();
    let configs = cluster_configs(&broker, 2, 1);
    let a = TestDaemon::start_listening(tempfile::tempdir().unwrap(), configs[0].0, &configs[0].1).await;
    let b = TestDaemon::start_listening(tempfile::tempdir().unwrap(), configs[1].0, &configs[1].1).await;
    a.create_project("kproj").await;
    a.create_logstore("kproj", "divided", 4).await;
    let keys = ["00", "40", "80", "c0"];
    for (shard, key) in keys.iter().enumerate() {
        for (d, node) in [(&a, "a"), (&b, "b")] {
            let (key, g) = (format!("{key}{}", "0".repeat(30)), group(&format!("s{shard}-{node}"), 3));
            assert_eq!(put_routed(d, "divided", &key, &g).await.status(), 200);
        }
    }
    // Each node reads all 8 groups, about half of them from the other node (a node reads its
    // own writes at once; the other node's once they are stored).
    for d in [&a, &b] {
        assert!(eventually(|| async { tags_on(d, "divided").await.len() == 8 }).await);
        assert_eq!(get_logs_count(d, "divided").await, (200, 24), "GetLogs over every shard");
    }
    let cursor = a.cursor("kproj", "divided", 1, "begin").await;
    assert_eq!(a.pull("kproj", "divided", 1, &cursor, 10).await, b.pull("kproj", "divided", 1, &cursor, 10).await);
    // Read-your-writes through a, whichever node stores the shard: the read carries a's
    // acknowledged end to the owner, which waits for it.
    for (shard, key) in keys.iter().enumerate() {
        let tag = format!("ryw-{shard}");
        let r = put_routed(&a, "divided", &format!("{key}{}", "0".repeat(30)), &group(&tag, 1)).await;
        assert_eq!(r.status(), 200);
        let cursor = a.cursor("kproj", "divided", shard as u64, "begin").await;
        let (groups, _) = a.pull("kproj", "divided", shard as u64, &cursor, 100).await;
        assert!(groups.iter().any(|g| g.log_tags[0].value == tag), "shard {shard}: the write just acknowledged");
    }

    // The internal read API answers only the cluster secret.
    let peer_read = serde_json::json!({"op": "bounds", "stream": uuid::Uuid::nil(), "shard": 0, "min_end": 0});
    for secret in [None, Some("wrong-secret-0123456789")] {
        let mut rb = reqwest::Client::new().post(a.url(logtide::kafka::PEER_READ_PATH)).body(peer_read.to_string());
        if let Some(s) = secret {
            rb = rb.header(logtide::kafka::SECRET_HEADER, s);
        }
        let (status, code) = common::error_code(rb.send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (401, "Unauthorized"), "secret {secret:?}");
    }

    // b stops: the shards only b stores cannot be read through a (503, retryable), a's can.
    b.stop().await;
    let mut readable = 0;
    for shard in 0..4u64 {
        let path = format!("/logstores/divided/shards/{shard}?type=cursor&from=begin");
        let r = a.req(reqwest::Method::GET, "kproj", &path).send().await.unwrap();
        match r.status().as_u16() {
            200 => readable += 1,
            status => assert_eq!(common::error_code(r).await, (503, "ServerBusy".to_string()), "{status}"),
        }
    }
    assert!((1..4).contains(&readable), "a stores some shards and not others: {readable} readable");
    a.stop().await;

    // Two replicas: with one node stopped, the other reads everything.
    let configs = cluster_configs(&broker, 2, 2);
    let a = TestDaemon::start_listening(tempfile::tempdir().unwrap(), configs[0].0, &configs[0].1).await;
    let b = TestDaemon::start_listening(tempfile::tempdir().unwrap(), configs[1].0, &configs[1].1).await;
    a.create_project("kproj").await;
    a.create_logstore("kproj", "twice", 4).await;
    for i in 0..8 {
        assert_eq!(b.put_lz4("kproj", "twice", &group(&format!("t{i}"), 2)).await.status(), 200);
    }
    assert_eq!(tags_on(&b, "twice").await.len(), 8, "b reads its own writes at once");
    assert!(eventually(|| async { tags_on(&a, "twice").await.len() == 8 }).await);
    b.stop().await;
    assert_eq!(tags_on(&a, "twice").await.len(), 8, "every shard is stored on both nodes");
    assert_eq!(get_logs_count(&a, "twice").await, (200, 16));
    a.stop().await;
}
