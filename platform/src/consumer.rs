//! The message-consumer edge: takes deliveries from a work queue, hands each
//! to a use case (up to `prefetch` at once, so one slow message does not hold
//! up the rest), and settles it by one table: success and stale messages are
//! acknowledged, transient failures retried, permanent ones dead-lettered
//! with the reason. A message is acknowledged only after the use case's
//! transaction committed.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use linebacker_domain::backoff::Backoff;
use linebacker_domain::ports::{Delivery, MessageBus, WorkQueue};
use linebacker_domain::usecase::{Handled, MessageHandler};
use linebacker_domain::{DomainError, DomainEvent};
use tokio_util::sync::CancellationToken;

use crate::breaker::{Breaker, Gate, combined_gate};
use crate::host::Host;
use crate::pause::StageGate;
use crate::stats::ConsumerStats;

#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    pub queue: WorkQueue,
    pub prefetch: u16,
    /// Deliveries of one message before it is dead-lettered.
    pub max_attempts: u32,
    /// How long an unknown request id is retried before dead-lettering.
    pub not_found_grace: Duration,
}

/// What to do with a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    Ack,
    Retry(String),
    DeadLetter(String),
}

/// The one table from outcome to settlement.
pub fn disposition(
    outcome: &Result<Handled, DomainError>,
    event: &DomainEvent,
    attempt: u32,
    config: &ConsumerConfig,
) -> Disposition {
    let error = match outcome {
        Ok(_) => return Disposition::Ack,
        Err(error) => error,
    };
    let reason = error.to_string();
    match error {
        // Stale steps are turned into `Skipped` by the use cases; one that
        // reaches here is still a no-op.
        DomainError::InvalidStatus(linebacker_domain::TransitionError::AlreadyDone { .. }) => Disposition::Ack,
        DomainError::InvalidStatus(_)
        | DomainError::Invalid(_)
        | DomainError::IdempotencyConflict
        | DomainError::NotCancellable { .. } => {
            Disposition::DeadLetter(reason)
        }
        DomainError::NotFound(_) => {
            let age = Utc::now().signed_duration_since(event.occurred_at);
            if age.to_std().is_ok_and(|age| age >= config.not_found_grace) {
                Disposition::DeadLetter(format!("{reason} (for {}s, past the grace period)", age.num_seconds()))
            } else if attempt >= config.max_attempts {
                // Within the grace period, but past the attempt limit: a
                // message whose attempt header says so (even a forged one)
                // is not retried again.
                Disposition::DeadLetter(format!("gave up after {attempt} attempts: {reason}"))
            } else {
                Disposition::Retry(reason)
            }
        }
        DomainError::Unavailable(_) | DomainError::Conflict { .. } | DomainError::Unexpected(_) => {
            if attempt >= config.max_attempts {
                Disposition::DeadLetter(format!("gave up after {attempt} attempts: {reason}"))
            } else {
                Disposition::Retry(reason)
            }
        }
    }
}

/// Consumes `queue` for a component of `host` until `stop`, gated by
/// `breakers` (those of the dependencies its use case calls) and by the
/// operator's pause of the stage the queue feeds.
pub async fn consume_for(
    host: &Host,
    queue: WorkQueue,
    handler: Arc<dyn MessageHandler>,
    breakers: Vec<Arc<Breaker>>,
    stop: CancellationToken,
) {
    let config = ConsumerConfig {
        queue,
        prefetch: host.settings.rabbitmq.prefetch,
        max_attempts: host.settings.worker.max_attempts,
        not_found_grace: host.settings.worker.not_found_grace(),
    };
    let stats = host.consumer_stats(queue.name());
    let pause = host.pauses.gate(queue.into());
    consume_unless_paused(host.message_bus(), handler, config, stats, breakers, Some(pause), stop).await;
}

/// How long to wait before subscribing again after the subscription failed.
const RESUBSCRIBE_START: Duration = Duration::from_millis(500);
const RESUBSCRIBE_CAP: Duration = Duration::from_secs(15);

/// Consumes `config.queue` until `shutdown` is cancelled; then takes no new
/// deliveries, finishes the ones in hand and returns. A lost subscription
/// (broker restart) is renewed with backoff. While one of `breakers` is open
/// nothing is taken (deliveries not yet handled go back to the queue); when
/// it turns half-open, one message at a time probes the dependency.
pub async fn consume(
    bus: Arc<dyn MessageBus>,
    handler: Arc<dyn MessageHandler>,
    config: ConsumerConfig,
    stats: Arc<ConsumerStats>,
    breakers: Vec<Arc<Breaker>>,
    shutdown: CancellationToken,
) {
    consume_unless_paused(bus, handler, config, stats, breakers, None, shutdown).await;
}

/// [`consume`], and while `pause` says the stage is paused, no subscription
/// at all: the messages wait in the queue. A pause that comes while
/// consuming ends the subscription as a stop does: no new delivery is
/// taken, those in hand are finished and settled (the rest the broker
/// gives back when the consumer is cancelled).
pub(crate) async fn consume_unless_paused(
    bus: Arc<dyn MessageBus>,
    handler: Arc<dyn MessageHandler>,
    config: ConsumerConfig,
    stats: Arc<ConsumerStats>,
    breakers: Vec<Arc<Breaker>>,
    mut pause: Option<StageGate>,
    shutdown: CancellationToken,
) {
    let mut backoff = Backoff::new(RESUBSCRIBE_START, RESUBSCRIBE_CAP);
    while !shutdown.is_cancelled() {
        if let Some(gate) = pause.as_mut().filter(|gate| !gate.is_running()) {
            tracing::info!(queue = config.queue.name(), "stage paused: not consuming");
            gate.running_unless_stopped(&shutdown).await;
            continue;
        }
        let probing = match combined_gate(&breakers) {
            Gate::OpenUntil(until) => {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep_until(until) => {}
                }
                continue;
            }
            Gate::Probe => true,
            Gate::Closed => false,
        };
        let prefetch = if probing { 1 } else { config.prefetch };
        match bus.subscribe(config.queue, prefetch).await {
            Ok(subscription) => {
                backoff.reset();
                tracing::info!(queue = config.queue.name(), prefetch, "consuming");
                // Stop taking deliveries when the gate changes: a probe is
                // one message; an opened breaker is none.
                let unchanged = |_: &Delivery| {
                    let gate = combined_gate(&breakers);
                    std::future::ready(gate == if probing { Gate::Probe } else { Gate::Closed })
                };
                let mut paused = pause.clone();
                let stop_or_pause = async {
                    match paused.as_mut() {
                        Some(gate) => tokio::select! {
                            _ = shutdown.cancelled() => {}
                            () = gate.paused() => {}
                        },
                        None => shutdown.cancelled().await,
                    }
                };
                subscription
                    .take_until(stop_or_pause)
                    .take_while(|item| {
                        let alive = item.is_ok();
                        if let Err(error) = item {
                            tracing::warn!(error = %error, "subscription lost");
                        }
                        std::future::ready(alive)
                    })
                    .filter_map(|item| std::future::ready(item.ok()))
                    .take_while(unchanged)
                    .for_each_concurrent(usize::from(prefetch), |delivery| {
                        let span = crate::correlate::message_span(config.queue, &delivery.event);
                        crate::metrics::handle_timed(config.queue, span, process(delivery, handler.as_ref(), &config, &stats))
                    })
                    .await;
                let pausing = pause.as_ref().is_some_and(|gate| !gate.is_running());
                if shutdown.is_cancelled() || combined_gate(&breakers) != Gate::Closed || probing || pausing {
                    // A gate change or a pause, not a failure: decide again at once.
                    continue;
                }
            }
            Err(error) => tracing::warn!(error = %error, queue = config.queue.name(), "cannot subscribe"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(backoff.next_pause()) => {}
        }
    }
}

async fn process(delivery: Delivery, handler: &dyn MessageHandler, config: &ConsumerConfig, stats: &ConsumerStats) {
    stats.consumed.fetch_add(1, Ordering::Relaxed);
    let Delivery { event, attempt, settle } = delivery;
    let (disposition, request_id) = match &event {
        Err(malformed) => (Disposition::DeadLetter(malformed.to_string()), String::new()),
        Ok(event) => {
            let outcome = handler.handle(event).await;
            (disposition(&outcome, event, attempt, config), event.backup_request_id.to_string())
        }
    };
    let settled = match &disposition {
        Disposition::Ack => {
            stats.acked.fetch_add(1, Ordering::Relaxed);
            settle.ack().await
        }
        Disposition::Retry(reason) => {
            stats.retried.fetch_add(1, Ordering::Relaxed);
            tracing::info!(backup_request_id = %request_id, attempt, reason = %reason, "message will be retried");
            settle.retry(reason).await
        }
        Disposition::DeadLetter(reason) => {
            stats.dead_lettered.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(backup_request_id = %request_id, attempt, reason = %reason, "message dead-lettered");
            settle.dead_letter(reason).await
        }
    };
    if let Err(error) = settled {
        // Unsettled, the broker redelivers it once the channel is gone.
        tracing::warn!(backup_request_id = %request_id, error = %error, "could not settle a message");
    }
}

#[cfg(test)]
mod tests {
    use linebacker_domain::{StatusTypeCode, TransitionError};

    use super::*;

    fn config() -> ConsumerConfig {
        ConsumerConfig {
            queue: WorkQueue::CheckAllowed,
            prefetch: 4,
            max_attempts: 5,
            not_found_grace: Duration::from_secs(60),
        }
    }

    fn event(age: chrono::Duration) -> DomainEvent {
        let request = linebacker_domain::testing::fixtures::received("job");
        let mut event = DomainEvent::about(linebacker_domain::EventType::BackupRequestReceived, &request, None);
        event.occurred_at = Utc::now() - age;
        event
    }

    fn of(error: DomainError, attempt: u32, age_secs: i64) -> Disposition {
        disposition(&Err(error), &event(chrono::Duration::seconds(age_secs)), attempt, &config())
    }

    fn unavailable() -> DomainError {
        DomainError::unavailable(anyhow::anyhow!("down"))
    }

    #[test]
    fn success_and_skips_are_acknowledged() {
        let fresh = event(chrono::Duration::zero());
        assert_eq!(disposition(&Ok(Handled::Applied(StatusTypeCode::Allowed)), &fresh, 1, &config()), Disposition::Ack);
        assert_eq!(disposition(&Ok(Handled::Skipped("dup".into())), &fresh, 9, &config()), Disposition::Ack);
        let stale = TransitionError::AlreadyDone { current: StatusTypeCode::Sent, requested: StatusTypeCode::Allowed };
        assert_eq!(of(DomainError::InvalidStatus(stale), 1, 0), Disposition::Ack);
    }

    #[test]
    fn a_message_claiming_a_huge_attempt_is_dead_lettered_not_retried() {
        // A forged x-linebacker-attempt of 2^63-1 reads as u32::MAX.
        for error in [unavailable(), DomainError::NotFound("r".into())] {
            let disposition = of(error, u32::MAX, 0);
            assert!(matches!(&disposition, Disposition::DeadLetter(reason) if reason.contains("gave up")), "{disposition:?}");
        }
        assert_eq!(of(DomainError::NotFound("r".into()), 1, 0), Disposition::Retry("backup request r not found".into()));
    }

    #[test]
    fn transient_failures_are_retried_until_the_attempt_limit() {
        for error in [unavailable, || DomainError::Conflict { id: "r".into(), expected: StatusTypeCode::Received }] {
            assert!(matches!(of(error(), 1, 0), Disposition::Retry(_)));
            assert!(matches!(of(error(), 4, 0), Disposition::Retry(_)));
            match of(error(), 5, 0) {
                Disposition::DeadLetter(reason) => assert!(reason.contains("gave up after 5 attempts"), "{reason}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn contract_violations_are_dead_lettered_at_once_with_the_reason() {
        match of(DomainError::Invalid("a Succeeded reply needs backupByteCount".into()), 1, 0) {
            Disposition::DeadLetter(reason) => assert!(reason.contains("backupByteCount")),
            other => panic!("{other:?}"),
        }
        let illegal = TransitionError::Illegal { current: StatusTypeCode::NotAllowed, requested: StatusTypeCode::Sent };
        assert!(matches!(of(DomainError::InvalidStatus(illegal), 1, 0), Disposition::DeadLetter(_)));
    }

    #[test]
    fn an_unknown_request_is_retried_for_the_grace_period_then_dead_lettered() {
        assert!(matches!(of(DomainError::NotFound("r".into()), 1, 10), Disposition::Retry(_)));
        match of(DomainError::NotFound("r".into()), 2, 61) {
            Disposition::DeadLetter(reason) => assert!(reason.contains("grace"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }
}
