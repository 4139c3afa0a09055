//! The shared catalog's log on Kafka: the single partition of the topic `<topic_prefix>catalog`
//! ([`CatalogTopic`], the catalog's [`ChangeLog`]) and the thread that applies it in order on
//! this node ([`follow_catalog`]).
//!
//! Every catalog change of every node is one JSON record there, appended with the idempotent
//! `acks=all` producer; the topic keeps its records forever (`retention.ms = -1`), since a new
//! node rebuilds its catalog by reading it from the start. The follower resumes at the position
//! the catalog stored with its last applied change, so a restart applies nothing twice.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::Message;
use rdkafka::producer::{FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use super::{local_offsets_consumer, one_result, ConsumerThread, SharedProducer, TopicAdmin};
use crate::catalog::{Catalog, ChangeLog};
use crate::config::KafkaConfig;
use crate::store::StoreError;

/// The catalog topic of a topic prefix.
pub fn catalog_topic(prefix: &str) -> String {
    format!("{prefix}catalog")
}

/// Appends catalog changes to the catalog topic.
pub struct CatalogTopic {
    producer: Arc<SharedProducer>,
    admin: Arc<TopicAdmin>,
    topic: String,
    timeout: Duration,
    created: AtomicBool,
}

impl CatalogTopic {
    pub fn new(cfg: &KafkaConfig, producer: Arc<SharedProducer>, admin: Arc<TopicAdmin>) -> CatalogTopic {
        CatalogTopic {
            producer,
            admin,
            topic: catalog_topic(&cfg.topic_prefix),
            timeout: Duration::from_millis(cfg.produce_timeout_ms),
            created: AtomicBool::new(false),
        }
    }

    /// Creates the topic (one partition, kept forever) unless this process did already.
    fn ensure(&self) -> Result<(), String> {
        if self.created.load(Ordering::Acquire) {
            return Ok(());
        }
        let topic = NewTopic::new(&self.topic, 1, TopicReplication::Fixed(self.admin.replication))
            .set("retention.ms", "-1")
            .set("retention.bytes", "-1");
        let outcome = futures_executor::block_on(self.admin.admin.create_topics([&topic], &self.admin.options()));
        one_result(outcome, &[RDKafkaErrorCode::TopicAlreadyExists])?;
        self.created.store(true, Ordering::Release);
        Ok(())
    }
}

impl ChangeLog for CatalogTopic {
    fn append(&self, record: Vec<u8>) -> Result<u64, String> {
        self.ensure()?;
        let producer = self.producer.get();
        let failed = |e: rdkafka::error::KafkaError| {
            self.producer.recover(&producer, &e);
            e.to_string()
        };
        let delivery = producer
            .send_result(FutureRecord::<(), _>::to(&self.topic).partition(0).payload(&record))
            .map_err(|(e, _)| failed(e))?;
        match futures_executor::block_on(delivery) {
            Ok(Ok(d)) => Ok(d.offset as u64),
            Ok(Err((e, _))) => Err(failed(e)),
            Err(_) => Err("the Kafka producer stopped".into()),
        }
    }

    fn end(&self) -> Result<u64, String> {
        self.ensure()?;
        let (_, high) =
            self.producer.get().client().fetch_watermarks(&self.topic, 0, self.timeout).map_err(|e| e.to_string())?;
        Ok(high.max(0) as u64)
    }
}

/// Starts the follower: the thread applying the catalog topic to this node's catalog, in order.
pub fn follow_catalog(
    cfg: &KafkaConfig,
    topic: Arc<CatalogTopic>,
    catalog: Arc<Catalog>,
) -> Result<ConsumerThread, StoreError> {
    let consumer = local_offsets_consumer(cfg, "catalog-follower")?;
    ConsumerThread::spawn("catalog-follower", move |stop| follow(consumer, topic, catalog, stop))
}

fn follow(consumer: BaseConsumer, topic: Arc<CatalogTopic>, catalog: Arc<Catalog>, stop: Arc<AtomicBool>) {
    // The topic must exist before it can be assigned; the broker may not be up yet.
    while !stop.load(Ordering::Relaxed) {
        match topic.ensure() {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!(error = %e, "cannot create the catalog topic yet; retrying");
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
    let mut assigned_at = None;
    while !stop.load(Ordering::Relaxed) {
        let next = catalog.change_log_position();
        if assigned_at != Some(next) {
            let mut tpl = TopicPartitionList::new();
            let assigned = tpl
                .add_partition_offset(&topic.topic, 0, Offset::Offset(next as i64))
                .and_then(|()| consumer.assign(&tpl));
            if let Err(e) = assigned {
                tracing::warn!(error = %e, "cannot assign the catalog topic; retrying");
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
            assigned_at = Some(next);
        }
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Err(e)) => {
                tracing::warn!(error = %e, "catalog log consumer error");
                std::thread::sleep(Duration::from_millis(100));
            }
            Some(Ok(m)) => {
                let at = m.offset().max(0) as u64;
                if at < catalog.change_log_position() {
                    // Assigned at the position, yet given an earlier record: the position was
                    // out of range and the consumer restarted from the beginning.
                    static BEHIND: crate::logging::Throttle =
                        crate::logging::Throttle::new(crate::logging::REPEAT_INTERVAL_MS);
                    if let Some(suppressed) = BEHIND.allow() {
                        tracing::error!(
                            at,
                            position = catalog.change_log_position(),
                            suppressed,
                            "the catalog log holds fewer changes than this node has applied (was the topic \
                             deleted or recreated?); this node keeps its catalog and skips the log up to its position"
                        );
                    }
                }
                catalog.apply_logged(at, m.payload().unwrap_or_default());
                let now = catalog.change_log_position();
                // Applied: the consumer goes on from there. Not applied (a local write failed):
                // reassign at the position, so the same record comes again.
                assigned_at = if now == at + 1 { Some(now) } else { None };
            }
        }
    }
}
