//! Partition ownership among the nodes of a cluster (`storage.kafka.nodes`): which nodes store
//! each shard, and the internal API through which a node reads a shard it does not store from a
//! node that does.
//!
//! - **Owners.** Every node lists the same nodes in the same order. The owners of a shard are
//!   `read_replicas` consecutive nodes, starting at `(logstore id + shard id) mod nodes`, so the
//!   shards of a logstore spread over the nodes. Only owners materialize a shard. Ownership
//!   depends on the list alone: no rebalance moves it behind a reader's back.
//! - **Peer reads.** [`PeerRequest`] carries the five read calls of the shard log boundary
//!   (`read`, `bounds`, `seek_receive_time`, `groups_in_time`, `read_at`), as JSON over
//!   `POST /internal/v1/shard-read` with the cluster secret in `x-logtide-cluster-secret`. Each
//!   carries the end this node has acknowledged in the shards it reads, and the owner waits for
//!   its copy to reach it (read-your-writes across nodes). An owner that does not answer is
//!   skipped for the next one; when none answers, the read is a retryable error.

use base64::Engine;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::KafkaConfig;
use crate::store::{RecordHeader, StoredGroup};

/// The path of the internal read API.
pub const PEER_READ_PATH: &str = "/internal/v1/shard-read";
/// The header carrying the cluster secret.
pub const SECRET_HEADER: &str = "x-logtide-cluster-secret";
/// Largest peer request body (a `read_at` of one query chunk is far smaller).
pub const MAX_PEER_REQUEST_BYTES: usize = 1 << 20;

/// Whether `url` is a node's base URL: `http://host:port`, nothing after.
pub fn is_node_url(url: &str) -> bool {
    url.strip_prefix("http://").is_some_and(|rest| {
        rest.rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && !host.contains('/') && port.parse::<u16>().is_ok())
    })
}

/// This node's view of the cluster.
pub struct Cluster {
    nodes: Vec<String>,
    me: usize,
    replicas: usize,
    secret: String,
    agent: ureq::Agent,
}

impl Cluster {
    /// The cluster of a (checked) config; None without `nodes`.
    pub fn from_config(cfg: &KafkaConfig) -> Option<Cluster> {
        if cfg.nodes.is_empty() {
            return None;
        }
        let timeout = std::time::Duration::from_millis(cfg.produce_timeout_ms.saturating_mul(2));
        Some(Cluster {
            nodes: cfg.nodes.iter().map(|n| n.trim_end_matches('/').to_string()).collect(),
            me: cfg.node,
            replicas: cfg.replicas().clamp(1, cfg.nodes.len()),
            secret: cfg.cluster_secret.clone(),
            agent: ureq::AgentBuilder::new().timeout(timeout).build(),
        })
    }

    /// The nodes storing a shard, in the order readers try them.
    pub fn owners(&self, stream: Uuid, shard: u32) -> Vec<usize> {
        let n = self.nodes.len();
        let start = ((stream.as_u128() % n as u128) as usize + shard as usize % n) % n;
        (0..self.replicas).map(|i| (start + i) % n).collect()
    }

    pub fn owns(&self, stream: Uuid, shard: u32) -> bool {
        self.owners(stream, shard).contains(&self.me)
    }

    /// Whether `presented` is the cluster secret (compared in constant time).
    pub fn authorized(&self, presented: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(presented.ct_eq(self.secret.as_bytes()))
    }

    /// One peer read on node `node`.
    pub fn call(&self, node: usize, request: &PeerRequest) -> Result<PeerReply, String> {
        let url = format!("{}{PEER_READ_PATH}", self.nodes[node]);
        let response = self.agent.post(&url).set(SECRET_HEADER, &self.secret).send_json(request);
        match response {
            Ok(r) => r.into_json::<PeerReply>().map_err(|e| format!("{url}: {e}")),
            Err(ureq::Error::Status(code, r)) => Err(format!(
                "{url}: {code} {}",
                r.into_string().unwrap_or_default().chars().take(300).collect::<String>()
            )),
            Err(e) => Err(format!("{url}: {e}")),
        }
    }
}

/// A read asked of the node storing the shard. `min_end`: the end the asking node has
/// acknowledged in that shard, which the answer must include.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum PeerRequest {
    Read {
        stream: Uuid,
        shard: u32,
        from: u64,
        max_groups: usize,
        max_bytes: usize,
        min_end: u64,
    },
    Bounds {
        stream: Uuid,
        shard: u32,
        min_end: u64,
    },
    SeekReceiveTime {
        stream: Uuid,
        shard: u32,
        unix_ns: u64,
        min_end: u64,
    },
    /// The positions of these shards only.
    GroupsInTime {
        stream: Uuid,
        shards: Vec<u32>,
        from: u32,
        to: u32,
        min_ends: Vec<(u32, u64)>,
    },
    ReadAt {
        stream: Uuid,
        positions: Vec<(u32, u64)>,
        min_ends: Vec<(u32, u64)>,
    },
}

/// The answer to a [`PeerRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerReply {
    Groups(Vec<WireGroup>),
    Bounds(u64, u64),
    Seq(u64),
    Positions(Vec<(u32, u64)>),
    /// The owner could not read (its store failed, or it lags past the timeout).
    Error(String),
}

/// A stored group on the wire: the record (header and payload) in base64.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireGroup {
    shard: u32,
    seq: u64,
    record: String,
}

impl WireGroup {
    pub fn of(g: &StoredGroup) -> WireGroup {
        let record = g.header.encode(&g.payload);
        WireGroup { shard: g.shard, seq: g.seq, record: base64::engine::general_purpose::STANDARD.encode(record) }
    }

    pub fn into_stored(self) -> Option<StoredGroup> {
        let bytes = base64::engine::general_purpose::STANDARD.decode(self.record).ok()?;
        let (header, payload) = RecordHeader::decode(&bytes)?;
        Some(StoredGroup { shard: self.shard, seq: self.seq, header, payload: payload.to_vec() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(nodes: usize, me: usize, replicas: usize) -> Cluster {
        let cfg = KafkaConfig {
            nodes: (0..nodes).map(|i| format!("http://127.0.0.1:{}", 9000 + i)).collect(),
            node: me,
            read_replicas: replicas,
            cluster_secret: "0123456789abcdef".into(),
            ..Default::default()
        };
        Cluster::from_config(&cfg).unwrap()
    }

    #[test]
    fn shards_spread_over_the_nodes_and_every_node_agrees() {
        let stream = Uuid::new_v4();
        let views: Vec<Cluster> = (0..3).map(|me| cluster(3, me, 2)).collect();
        let mut stored = [0; 3];
        for shard in 0..6 {
            let owners = views[0].owners(stream, shard);
            assert_eq!(owners.len(), 2);
            assert_ne!(owners[0], owners[1]);
            for (me, view) in views.iter().enumerate() {
                assert_eq!(view.owners(stream, shard), owners, "the same on every node");
                assert_eq!(view.owns(stream, shard), owners.contains(&me));
            }
            for o in owners {
                stored[o] += 1;
            }
        }
        assert_eq!(stored, [4, 4, 4], "6 shards x 2 replicas over 3 nodes");
        assert!(views[0].authorized(b"0123456789abcdef"));
        assert!(!views[0].authorized(b"0123456789abcdeX") && !views[0].authorized(b""));
    }

    #[test]
    fn node_urls_and_groups_on_the_wire() {
        assert!(is_node_url("http://10.0.0.1:8080") && is_node_url("http://node-a.local:80"));
        for bad in ["10.0.0.1:8080", "https://a:1", "http://a", "http://a:1/x", "http://:1", "http://a:99999"] {
            assert!(!is_node_url(bad), "{bad}");
        }
        let header = RecordHeader {
            codec: crate::store::Codec::Lz4,
            raw_len: 10,
            log_count: 2,
            min_time: 5,
            max_time: 6,
            receive_ns: 7,
            client_ip: "10.1.2.3".into(),
        };
        let g = StoredGroup { shard: 3, seq: 9, header, payload: b"payload".to_vec() };
        let back = serde_json::from_str::<WireGroup>(&serde_json::to_string(&WireGroup::of(&g)).unwrap())
            .unwrap()
            .into_stored()
            .unwrap();
        assert_eq!((back.shard, back.seq, back.header, back.payload), (g.shard, g.seq, g.header, g.payload));
    }
}
