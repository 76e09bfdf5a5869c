//! What every broker test needs: a bus on names of its own, deleted
//! afterwards (also when the test fails), events, and receives with a
//! deadline.

// Each test binary uses its own share of these helpers.
#![allow(dead_code)]

pub mod worker;

use std::time::Duration;

use futures::StreamExt;
use linebacker_domain::backoff::RetryPolicy;
use linebacker_domain::ports::{Delivery, Subscription, WorkQueue};
use linebacker_rabbitmq::{RabbitBus, RabbitSettings};
use linebacker_testkit::{BrokerProbe, amqp_url, delete_exchange, unique_name};

/// How long any receive may wait before the test fails.
pub const RECEIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Short delays, so that retries come back within a test: a first retry
/// waits 400 ms exactly (no jitter), the delay queues are 400 ms, 1 s, 2 s.
pub const RETRY_BASE: Duration = Duration::from_millis(400);

pub struct Fixture {
    pub bus: RabbitBus,
    pub settings: RabbitSettings,
    pub probe: BrokerProbe,
    cleaned: bool,
}

impl Fixture {
    pub async fn new() -> Self {
        Self::at(amqp_url()).await
    }

    /// A bus that reaches the broker through `url` (a proxy, a closed port).
    pub async fn at(url: String) -> Self {
        let settings = RabbitSettings {
            urls: vec![url],
            exchange: unique_name("lb-test"),
            queue_prefix: format!("{}.", unique_name("lb-test")),
            connect_timeout: Duration::from_secs(2),
            confirm_timeout: Duration::from_secs(3),
            retry_pause: Duration::from_millis(300),
            retry: RetryPolicy { base: RETRY_BASE, cap: Duration::from_secs(2), jitter: 0.0 },
            retry_levels: vec![RETRY_BASE, Duration::from_secs(1), Duration::from_secs(2)],
            connection_name: "linebacker-rabbitmq-test".to_owned(),
            tls: Default::default(),
            ..RabbitSettings::default()
        };
        let probe = BrokerProbe::connect().await.expect("the test broker is reachable");
        Self { bus: RabbitBus::new(settings.clone()), settings, probe, cleaned: false }
    }

    pub fn work_queue(&self, queue: WorkQueue) -> String {
        format!("{}{}", self.settings.queue_prefix, queue.name())
    }

    pub fn dead_queue(&self, queue: WorkQueue) -> String {
        format!("{}.dead", self.work_queue(queue))
    }

    fn queue_names(&self) -> Vec<String> {
        WorkQueue::ALL.iter().flat_map(|q| self.bus.queue_names(*q)).collect()
    }

    pub async fn cleanup(mut self) {
        self.bus.close().await;
        delete_names(self.queue_names(), self.settings.exchange.clone()).await;
        self.cleaned = true;
    }
}

async fn delete_names(queues: Vec<String>, exchange: String) {
    if let Ok(probe) = BrokerProbe::connect().await {
        probe.delete_queues(&queues).await.ok();
        probe.close().await;
    }
    delete_exchange(&format!("{exchange}.heartbeats")).await.ok();
    delete_exchange(&exchange).await.ok();
}

impl Drop for Fixture {
    /// A failed test leaves the shared broker clean too.
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        let (queues, exchange) = (self.queue_names(), self.settings.exchange.clone());
        let cleaning = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                runtime.block_on(delete_names(queues, exchange));
            }
        });
        cleaning.join().ok();
    }
}

/// The next delivery, failing the test after `RECEIVE_TIMEOUT`.
pub async fn next_delivery(subscription: &mut Subscription) -> Delivery {
    match tokio::time::timeout(RECEIVE_TIMEOUT, subscription.next()).await {
        Ok(Some(Ok(delivery))) => delivery,
        Ok(Some(Err(error))) => panic!("the subscription failed: {error:#}"),
        Ok(None) => panic!("the subscription ended"),
        Err(_) => panic!("no delivery within {RECEIVE_TIMEOUT:?}"),
    }
}

/// Whether the subscription hands out anything within `wait`.
pub async fn delivers_within(subscription: &mut Subscription, wait: Duration) -> bool {
    tokio::time::timeout(wait, subscription.next()).await.is_ok()
}

/// A header's whole-number value.
pub fn count_header(properties: &lapin::BasicProperties, key: &str) -> Option<i64> {
    match properties.headers().as_ref()?.inner().get(key)? {
        lapin::types::AMQPValue::LongUInt(n) => Some(i64::from(*n)),
        lapin::types::AMQPValue::LongLongInt(n) => Some(*n),
        lapin::types::AMQPValue::LongInt(n) => Some(i64::from(*n)),
        _ => None,
    }
}

/// A header's text value.
pub fn header(properties: &lapin::BasicProperties, key: &str) -> Option<String> {
    match properties.headers().as_ref()?.inner().get(key)? {
        lapin::types::AMQPValue::LongString(text) => Some(text.to_string()),
        lapin::types::AMQPValue::ShortString(text) => Some(text.to_string()),
        _ => None,
    }
}

/// Takes every message of `queue` (acknowledged), until none comes within
/// half a second.
pub async fn take_all(probe: &BrokerProbe, queue: &str) -> Vec<lapin::message::Delivery> {
    let mut taken = Vec::new();
    while let Ok(message) = probe.get(queue, Duration::from_millis(500)).await {
        taken.push(message.delivery);
    }
    taken
}
