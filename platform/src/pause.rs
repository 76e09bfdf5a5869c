//! Pausing a stage (SPEC §10): every copy of a stage, on every host, stops
//! taking new work within seconds of an operator's pause and starts again
//! on resume. The pauses live in PostgreSQL; each process that runs a stage
//! reads them every [`POLL_INTERVAL`] and tells its stages through a watch.
//!
//! Why a poll and not a broadcast: the table is the truth a restarted copy
//! must read anyway, a read of a handful of rows by primary key costs the
//! database next to nothing per process, and it works the same while the
//! broker is away; a second to see a change is well inside the 5 s the
//! operator is promised. A process that has not read the table yet treats
//! its stages as paused, so a copy that restarts never takes a message
//! before it knows whether it may.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use linebacker_domain::Stage;
use linebacker_postgres::Database;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How often a process reads the paused stages.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The paused stages as this process last read them: `None` before the
/// first read.
type Known = Option<BTreeSet<Stage>>;

/// The pauses a process follows, for the stages its components run.
pub struct Pauses {
    known: watch::Sender<Known>,
    followed: Mutex<BTreeSet<Stage>>,
}

impl Default for Pauses {
    fn default() -> Self {
        Self { known: watch::Sender::new(None), followed: Mutex::new(BTreeSet::new()) }
    }
}

impl Pauses {
    /// The gate of `stage`, which this process now runs: its state is read
    /// from then on and shown in the process's health.
    pub fn gate(&self, stage: Stage) -> StageGate {
        self.followed.lock().unwrap_or_else(PoisonError::into_inner).insert(stage);
        StageGate { stage, known: self.known.subscribe() }
    }

    /// Each stage this process runs, with `running`, `paused`, or `unknown`
    /// before the first read.
    pub fn states(&self) -> Vec<(Stage, &'static str)> {
        let followed = self.followed.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let known = self.known.borrow();
        followed
            .into_iter()
            .map(|stage| {
                let state = match known.as_ref() {
                    None => "unknown",
                    Some(paused) if paused.contains(&stage) => "paused",
                    Some(_) => "running",
                };
                (stage, state)
            })
            .collect()
    }

    fn is_following(&self) -> bool {
        !self.followed.lock().unwrap_or_else(PoisonError::into_inner).is_empty()
    }

    /// Reads the paused stages every [`POLL_INTERVAL`] until `stop`, while
    /// a component runs a stage. A failed read keeps what was known: a
    /// database that is away stops the stages' work by itself.
    pub(crate) async fn follow(&self, database: &Database, stop: &CancellationToken) {
        let mut failing = false;
        loop {
            if self.is_following() {
                match database.paused_stages().await {
                    Ok(rows) => {
                        failing = false;
                        self.update(rows.into_iter().map(|(stage, _)| stage).collect());
                    }
                    Err(error) if !failing => {
                        failing = true;
                        tracing::warn!(error = %error, "cannot read the paused stages; keeping the last known");
                    }
                    Err(_) => {}
                }
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(POLL_INTERVAL) => {}
            }
        }
    }

    fn update(&self, paused: BTreeSet<Stage>) {
        let followed = self.followed.lock().unwrap_or_else(PoisonError::into_inner).clone();
        self.known.send_if_modified(|known| {
            for stage in &followed {
                let was = known.as_ref().map(|before| before.contains(stage));
                match (was, paused.contains(stage)) {
                    (Some(false) | None, true) => tracing::info!(stage = %stage, "stage paused: taking no new work"),
                    (Some(true), false) => tracing::info!(stage = %stage, "stage resumed"),
                    _ => {}
                }
            }
            let changed = known.as_ref() != Some(&paused);
            *known = Some(paused);
            changed
        });
    }
}

/// Whether one stage may take new work, as its process last read it.
#[derive(Clone)]
pub struct StageGate {
    stage: Stage,
    known: watch::Receiver<Known>,
}

impl StageGate {
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// Known to be running: a stage not read yet is not.
    pub fn is_running(&self) -> bool {
        self.known.borrow().as_ref().is_some_and(|paused| !paused.contains(&self.stage))
    }

    /// Resolves once the stage is known to be running.
    pub async fn running(&mut self) {
        let stage = self.stage;
        self.wait(move |known| known.as_ref().is_some_and(|paused| !paused.contains(&stage))).await;
    }

    /// Resolves once the stage is known to be running, or at `stop`.
    pub async fn running_unless_stopped(&mut self, stop: &CancellationToken) {
        tokio::select! {
            () = stop.cancelled() => {}
            () = self.running() => {}
        }
    }

    /// Resolves once the stage is not known to be running (paused).
    pub async fn paused(&mut self) {
        let stage = self.stage;
        self.wait(move |known| !known.as_ref().is_some_and(|paused| !paused.contains(&stage))).await;
    }

    async fn wait(&mut self, until: impl FnMut(&Known) -> bool) {
        if self.known.wait_for(until).await.is_err() {
            // The process dropped its pauses: it is stopping, and its stop
            // token ends the work.
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use linebacker_domain::ports::{MessageBus, WorkQueue};
    use linebacker_domain::usecase::{Handled, MessageHandler};
    use linebacker_domain::{DomainError, DomainEvent, EventType, StatusTypeCode};
    use linebacker_memory::InMemoryBus;

    use super::*;
    use crate::consumer::{ConsumerConfig, consume_unless_paused};
    use crate::stats::ConsumerStats;

    fn paused(stages: &[Stage]) -> BTreeSet<Stage> {
        stages.iter().copied().collect()
    }

    #[tokio::test]
    async fn a_stage_is_not_running_until_the_pauses_are_read() {
        let pauses = Pauses::default();
        let mut gate = pauses.gate(Stage::CheckAllowed);
        assert!(!gate.is_running());
        assert_eq!(pauses.states(), [(Stage::CheckAllowed, "unknown")]);
        pauses.update(paused(&[Stage::SendToInterface]));
        assert!(gate.is_running());
        tokio::time::timeout(Duration::from_secs(1), gate.running()).await.unwrap();
        assert_eq!(pauses.states(), [(Stage::CheckAllowed, "running")]);
    }

    #[tokio::test]
    async fn a_gate_hears_its_own_stage_paused_and_resumed() {
        let pauses = Pauses::default();
        let mut gate = pauses.gate(Stage::ReceiveStatus);
        pauses.update(paused(&[]));
        let mut waiting = gate.clone();
        let paused_seen = tokio::spawn(async move { waiting.paused().await });
        pauses.update(paused(&[Stage::CheckAllowed]));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!paused_seen.is_finished(), "another stage's pause is not this one's");
        pauses.update(paused(&[Stage::ReceiveStatus]));
        tokio::time::timeout(Duration::from_secs(1), paused_seen).await.unwrap().unwrap();
        assert_eq!(pauses.states(), [(Stage::ReceiveStatus, "paused")]);
        pauses.update(paused(&[]));
        tokio::time::timeout(Duration::from_secs(1), gate.running()).await.unwrap();
    }

    /// Counts the messages it is handed.
    #[derive(Default)]
    struct Counting(AtomicUsize);

    #[async_trait::async_trait]
    impl MessageHandler for Counting {
        async fn handle(&self, _: &DomainEvent) -> Result<Handled, DomainError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Handled::Applied(StatusTypeCode::Allowed))
        }
    }

    async fn publish(bus: &InMemoryBus, count: usize) {
        let events: Vec<DomainEvent> =
            (0..count).map(|_| linebacker_testkit::sample_event(EventType::BackupRequestReceived)).collect();
        bus.publish(&events).await.unwrap();
    }

    async fn until(what: &str, check: impl Fn() -> bool) {
        tokio::time::timeout(Duration::from_secs(5), async {
            while !check() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{what}"));
    }

    #[tokio::test]
    async fn a_paused_consumer_leaves_its_messages_in_the_queue_and_takes_them_once_resumed() {
        let (bus, pauses, handler) = (InMemoryBus::new(), Pauses::default(), Arc::new(Counting::default()));
        let gate = pauses.gate(Stage::CheckAllowed);
        pauses.update(paused(&[Stage::CheckAllowed]));
        let config = ConsumerConfig {
            queue: WorkQueue::CheckAllowed,
            prefetch: 4,
            max_attempts: 5,
            not_found_grace: Duration::from_secs(60),
        };
        let stop = CancellationToken::new();
        let consumer = tokio::spawn(consume_unless_paused(
            Arc::new(bus.clone()),
            handler.clone(),
            config,
            Arc::new(ConsumerStats::default()),
            Vec::new(),
            Some(gate),
            stop.clone(),
        ));
        publish(&bus, 3).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!((handler.0.load(Ordering::SeqCst), bus.ready_count(WorkQueue::CheckAllowed)), (0, 3));

        pauses.update(paused(&[]));
        until("the waiting messages handled", || handler.0.load(Ordering::SeqCst) == 3).await;

        pauses.update(paused(&[Stage::CheckAllowed]));
        tokio::time::sleep(Duration::from_millis(100)).await;
        publish(&bus, 2).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!((handler.0.load(Ordering::SeqCst), bus.ready_count(WorkQueue::CheckAllowed)), (3, 2));

        stop.cancel();
        tokio::time::timeout(Duration::from_secs(1), consumer).await.unwrap().unwrap();
    }
}
