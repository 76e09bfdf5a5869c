//! What the machine's servers do on their own, without linebacker: the
//! bounds each linebacker figure is compared with.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    QueueDeleteOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Confirmation, Connection, ConnectionProperties};
use linebacker_azure_queue::QueueClient;
use linebacker_azure_queue::testing::{azurite_config, unique_queue_name};
use serde_json::{Value, json};

use crate::load::bar;
use crate::stats::{Latencies, rate};

/// The most confirms the raw publisher leaves outstanding.
const CONFIRM_WINDOW: usize = 1000;
/// A bound on every broker step, since lapin's connect and confirms can hang.
const BROKER_STEP: Duration = Duration::from_secs(30);

/// pgbench with `script` at each concurrency; the figures pgbench prints.
pub fn pgbench(database_url: &str, script: &Path, clients: &[usize], seconds: u64) -> anyhow::Result<Value> {
    let mut runs = Vec::new();
    for &count in clients {
        let progress = bar(1, &format!("pgbench, {count} clients"));
        let output = std::process::Command::new("pgbench")
            .args(["-n", "-M", "prepared", "-c", &count.to_string(), "-j", &count.min(2).to_string()])
            .args(["-T", &seconds.to_string(), "-f"])
            .arg(script)
            .arg(database_url)
            .output()
            .context("running pgbench (Debian package postgresql-client)")?;
        progress.finish_and_clear();
        let text = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!("pgbench failed: {}{}", text, String::from_utf8_lossy(&output.stderr));
        }
        let number_after = |label: &str| -> Option<f64> {
            let line = text.lines().find(|line| line.starts_with(label))?;
            line[label.len()..].split_whitespace().next()?.parse().ok()
        };
        runs.push(json!({
            "clients": count,
            "tps": number_after("tps = ").ok_or_else(|| anyhow!("no tps in pgbench's output:\n{text}"))?,
            "latencyAverageMs": number_after("latency average = "),
            "transactions": number_after("number of transactions actually processed: "),
        }));
    }
    Ok(json!({ "script": script.display().to_string(), "runs": runs }))
}

async fn step<T>(what: &str, work: impl Future<Output = lapin::Result<T>>) -> anyhow::Result<T> {
    tokio::time::timeout(BROKER_STEP, work)
        .await
        .map_err(|_| anyhow!("{what}: no answer within {BROKER_STEP:?}"))?
        .with_context(|| what.to_owned())
}

/// `messages` persistent publishes with confirms (up to [`CONFIRM_WINDOW`]
/// outstanding) into a quorum queue of its own, consumed at the same time
/// and acked one by one; the queue is deleted afterwards.
pub async fn broker(amqp_url: &str, messages: usize) -> anyhow::Result<Value> {
    let connection = step("connecting to RabbitMQ", Connection::connect(amqp_url, ConnectionProperties::default())).await?;
    let queue = unique_queue_name("bench-raw");
    let publisher = step("opening a channel", connection.create_channel()).await?;
    step("selecting confirms", publisher.confirm_select(ConfirmSelectOptions::default())).await?;
    let mut arguments = FieldTable::default();
    arguments.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    let durable = QueueDeclareOptions { durable: true, ..Default::default() };
    step("declaring the queue", publisher.queue_declare(queue.as_str().into(), durable, arguments)).await?;
    let result = publish_and_consume(&connection, &publisher, &queue, messages).await;
    let _ = step("deleting the queue", publisher.queue_delete(queue.as_str().into(), QueueDeleteOptions::default())).await;
    let _ = connection.close(200, "bench done".into()).await;
    result
}

async fn publish_and_consume(
    connection: &Connection,
    publisher: &lapin::Channel,
    queue: &str,
    messages: usize,
) -> anyhow::Result<Value> {
    let consumer_channel = step("opening a channel", connection.create_channel()).await?;
    step("setting prefetch", consumer_channel.basic_qos(256, BasicQosOptions::default())).await?;
    let mut consumer = step(
        "consuming",
        consumer_channel.basic_consume(queue.into(), "bench".into(), BasicConsumeOptions::default(), FieldTable::default()),
    )
    .await?;
    let started = Instant::now();
    let consuming = tokio::spawn(async move {
        let mut taken = 0;
        while taken < messages {
            let delivery = tokio::time::timeout(BROKER_STEP, consumer.next())
                .await
                .map_err(|_| anyhow!("no delivery within {BROKER_STEP:?} after {taken}"))?
                .ok_or_else(|| anyhow!("the consumer ended after {taken}"))??;
            if !delivery.acker.ack(BasicAckOptions::default()).await? {
                bail!("an ack was not sent");
            }
            taken += 1;
        }
        anyhow::Ok(started.elapsed())
    });
    let body = [b'x'; 400];
    let properties = BasicProperties::default().with_delivery_mode(2);
    let mut outstanding = futures::stream::FuturesOrdered::new();
    let mut confirmed = 0;
    let progress = bar(messages as u64, "broker: confirmed publishes");
    for _ in 0..messages {
        let confirm = step(
            "publishing",
            publisher.basic_publish("".into(), queue.into(), BasicPublishOptions::default(), &body, properties.clone()),
        )
        .await?;
        outstanding.push_back(confirm);
        while outstanding.len() >= CONFIRM_WINDOW {
            confirmed += settle(&mut outstanding).await?;
            progress.set_position(confirmed);
        }
    }
    while !outstanding.is_empty() {
        confirmed += settle(&mut outstanding).await?;
        progress.set_position(confirmed);
    }
    let published = started.elapsed();
    progress.finish_and_clear();
    let consumed = consuming.await??;
    Ok(json!({
        "messages": messages,
        "confirmedPublishesPerSecond": rate(messages as u64, published),
        "ackedConsumesPerSecond": rate(messages as u64, consumed),
    }))
}

async fn settle(outstanding: &mut futures::stream::FuturesOrdered<lapin::PublisherConfirm>) -> anyhow::Result<u64> {
    let confirm = tokio::time::timeout(BROKER_STEP, outstanding.next())
        .await
        .map_err(|_| anyhow!("no confirm within {BROKER_STEP:?}"))?
        .ok_or_else(|| anyhow!("no confirm outstanding"))??;
    match confirm {
        Confirmation::Ack(_) => Ok(1),
        other => bail!("the broker did not confirm a publish: {other:?}"),
    }
}

/// `cycles` put + get + delete cycles on an Azure queue of its own (the
/// development account), `concurrency` at a time; the queue is deleted
/// afterwards. Its depth stays at about `concurrency`.
pub async fn azurite(cycles: usize, concurrency: usize) -> anyhow::Result<Value> {
    let queue = QueueClient::new(&azurite_config(), &unique_queue_name("bench-raw"))?;
    queue.create_if_missing().await?;
    let result = cycle_all(&queue, cycles, concurrency).await;
    let _ = queue.delete_queue().await;
    result
}

async fn cycle_all(queue: &QueueClient, cycles: usize, concurrency: usize) -> anyhow::Result<Value> {
    let progress = bar(cycles as u64, "azurite: put+get+delete");
    let started = Instant::now();
    let per_task = cycles.div_ceil(concurrency.max(1));
    let tasks: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (queue, progress) = (queue.clone(), progress.clone());
            tokio::spawn(async move {
                let mut latencies = Latencies::new()?;
                for _ in 0..per_task {
                    let cycle = Instant::now();
                    queue.put(r#"{"bench":true}"#).await?;
                    // Another task's message may come first; any one will do.
                    let taken = queue.get(1, Duration::from_secs(30)).await?;
                    for message in &taken {
                        queue.delete(message).await?;
                    }
                    latencies.record(cycle.elapsed());
                    progress.inc(1);
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut all = Latencies::new()?;
    for task in tasks {
        all.add(&task.await??);
    }
    let elapsed = started.elapsed();
    progress.finish_and_clear();
    let depth_after = queue.approximate_count().await?;
    Ok(json!({
        "cycles": per_task * concurrency.max(1),
        "concurrency": concurrency,
        "cyclesPerSecond": rate((per_task * concurrency.max(1)) as u64, elapsed),
        "cycleLatency": all.summary(),
        "depthAfter": depth_after,
    }))
}

/// Deletes the named queues of the development account; a missing one is
/// no error.
pub async fn delete_queues(names: &[String]) -> anyhow::Result<Value> {
    let mut deleted = Vec::new();
    for name in names {
        QueueClient::new(&azurite_config(), name)?.delete_queue().await?;
        deleted.push(name.clone());
    }
    Ok(json!({ "deleted": deleted }))
}
