//! Heartbeats (SPEC §7, `healthz/all`): every process publishes its health
//! to the broker every `heartbeat.interval_ms`; every receiver listens and
//! keeps the latest beat of each process in a `Roster`. A process not heard
//! from for `heartbeat.stale_after_ms` is shown stale (SIGKILLed, hung, cut
//! off from the broker); after `heartbeat.forget_after_ms` it is dropped
//! (scaled down, moved). No PM2 IPC: a process on any host that reaches the
//! broker is seen.
//!
//! Staleness is judged by the receiver's own clock, when a beat arrives, so
//! clocks that differ between hosts do not matter.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use linebacker_domain::backoff::Backoff;
use linebacker_rabbitmq::RabbitBus;
use linebacker_runtime::health::process_key;
use linebacker_runtime::settings::HeartbeatSettings;
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long to wait before listening again after the listener failed.
const RELISTEN_START: Duration = Duration::from_millis(500);
const RELISTEN_CAP: Duration = Duration::from_secs(10);

/// How long a stopping process tries to say goodbye.
const FAREWELL_TIMEOUT: Duration = Duration::from_secs(1);

/// Publishes `health()` every `settings.interval_ms` until `stop`; then a
/// farewell (`{host, name, stopped: true}`), so that listeners drop this
/// process at once rather than show it stale. Await the handle before
/// closing the bus. A beat the broker does not take is not retried: the
/// next one is due soon.
pub fn spawn_beating<F, Fut>(
    bus: RabbitBus,
    settings: &HeartbeatSettings,
    health: F,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Value> + Send,
{
    let (interval, max_age) = (settings.interval(), settings.stale_after());
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        let mut last = Value::Null;
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = stop.cancelled() => break,
            }
            last = health().await;
            match bus.publish_heartbeat(last.to_string().as_bytes(), max_age).await {
                Ok(()) if failing => {
                    tracing::info!("heartbeats reach the broker again");
                    failing = false;
                }
                Ok(()) => {}
                Err(error) if !failing => {
                    tracing::warn!(error = format!("{error:#}"), "a heartbeat could not be published; this process will show stale");
                    failing = true;
                }
                Err(_) => {}
            }
        }
        if !failing && last.is_object() {
            let farewell = json!({"host": last["host"], "name": last["name"], "stopped": true}).to_string();
            let sent = tokio::time::timeout(FAREWELL_TIMEOUT, bus.publish_heartbeat(farewell.as_bytes(), max_age)).await;
            if !matches!(sent, Ok(Ok(()))) {
                tracing::debug!("the farewell heartbeat was not sent; this process will show stale until forgotten");
            }
        }
    })
}

/// Listens to every process's heartbeats until `stop`, keeping them in
/// `roster`; listens again, with backoff, whenever the broker goes away.
pub fn spawn_listening(bus: RabbitBus, roster: Arc<Roster>, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Backoff::new(RELISTEN_START, RELISTEN_CAP);
        while !stop.is_cancelled() {
            match bus.listen_heartbeats(roster.stale_after).await {
                Ok(mut beats) => {
                    backoff.reset();
                    loop {
                        tokio::select! {
                            beat = beats.next() => match beat {
                                Some(beat) => roster.record_bytes(&beat),
                                None => break,
                            },
                            () = stop.cancelled() => return,
                        }
                    }
                    tracing::info!("the heartbeat listener ended; listening again");
                }
                Err(error) => tracing::debug!(error = format!("{error:#}"), "cannot listen to heartbeats yet"),
            }
            tokio::select! {
                () = tokio::time::sleep(backoff.next_pause()) => {}
                () = stop.cancelled() => return,
            }
        }
    })
}

struct Heard {
    health: Value,
    at: Instant,
}

/// The latest beat of every process heard from, by host and name.
pub struct Roster {
    /// This process: shown from its own health, never from its beats.
    own_key: String,
    stale_after: Duration,
    forget_after: Duration,
    heard: Mutex<HashMap<String, Heard>>,
}

/// `host/name` of a beat, if it says who sent it.
fn key_of(health: &Value) -> Option<String> {
    Some(process_key(health["host"].as_str()?, health["name"].as_str()?))
}

impl Roster {
    pub fn new(own_key: String, settings: &HeartbeatSettings) -> Self {
        Self {
            own_key,
            stale_after: settings.stale_after(),
            forget_after: settings.forget_after(),
            heard: Mutex::new(HashMap::new()),
        }
    }

    fn heard(&self) -> std::sync::MutexGuard<'_, HashMap<String, Heard>> {
        self.heard.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps a beat as it came from the broker; one that is not a JSON
    /// object naming its host and process is dropped with a log line.
    pub fn record_bytes(&self, beat: &[u8]) {
        match serde_json::from_slice::<Value>(beat) {
            Ok(health) if key_of(&health).is_some() => self.record(health),
            _ => tracing::debug!(bytes = beat.len(), "ignoring a heartbeat that names no process"),
        }
    }

    /// Keeps `health` as the latest of the process it names; a farewell
    /// (`stopped: true`) drops the process.
    pub fn record(&self, health: Value) {
        let Some(key) = key_of(&health) else { return };
        if key == self.own_key {
            return;
        }
        if health["stopped"] == true {
            self.heard().remove(&key);
        } else {
            self.heard().insert(key, Heard { health, at: Instant::now() });
        }
    }

    /// Every process: this one first (from `own`, its health now), then the
    /// others by name, each with whether it is stale and how long ago it was
    /// last heard from. Processes silent for longer than `forget_after` are
    /// dropped.
    pub fn processes(&self, own: Value) -> Vec<Value> {
        let now = Instant::now();
        let mut heard = self.heard();
        heard.retain(|_, beat| now.duration_since(beat.at) <= self.forget_after);
        let mut others: Vec<(&String, &Heard)> = heard.iter().collect();
        others.sort_by(|a, b| a.0.cmp(b.0));
        let mut processes = vec![entry(own, Duration::ZERO, false)];
        for (_, beat) in others {
            let silent = now.duration_since(beat.at);
            processes.push(entry(beat.health.clone(), silent, silent > self.stale_after));
        }
        processes
    }
}

/// One process as `healthz/all` shows it: who, whether stale, and its last
/// health.
fn entry(health: Value, silent: Duration, stale: bool) -> Value {
    json!({
        "name": health["name"],
        "process": health["process"],
        "instance": health["instance"],
        "host": health["host"],
        "pid": health["pid"],
        "stale": stale,
        "lastHeardSecondsAgo": (silent.as_secs_f64() * 10.0).round() / 10.0,
        "health": health,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn settings() -> HeartbeatSettings {
        HeartbeatSettings { interval_ms: 1000, stale_after_ms: 3000, forget_after_ms: 10_000 }
    }

    fn beat(host: &str, name: &str) -> Value {
        json!({"host": host, "name": name, "process": name.rsplit_once('-').unwrap().0, "pid": 7})
    }

    fn names(processes: &[Value]) -> Vec<(String, bool)> {
        processes.iter().map(|p| (format!("{}/{}", p["host"].as_str().unwrap(), p["name"].as_str().unwrap()), p["stale"].as_bool().unwrap())).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_process_is_stale_once_silent_longer_than_stale_after_and_gone_after_forget_after() {
        let roster = Roster::new("a/http-receiver-0".to_owned(), &settings());
        roster.record(beat("a", "check-allowed-0"));
        roster.record(beat("b", "check-allowed-0"));
        let own = || beat("a", "http-receiver-0");
        assert_eq!(
            names(&roster.processes(own())),
            [("a/http-receiver-0".into(), false), ("a/check-allowed-0".into(), false), ("b/check-allowed-0".into(), false)]
        );

        tokio::time::advance(Duration::from_millis(2500)).await;
        roster.record(beat("b", "check-allowed-0"));
        tokio::time::advance(Duration::from_millis(600)).await;
        assert_eq!(
            names(&roster.processes(own())),
            [("a/http-receiver-0".into(), false), ("a/check-allowed-0".into(), true), ("b/check-allowed-0".into(), false)]
        );
        let stale = &roster.processes(own())[1];
        assert_eq!(stale["lastHeardSecondsAgo"], 3.1);

        tokio::time::advance(Duration::from_secs(7)).await;
        assert_eq!(
            names(&roster.processes(own())),
            [("a/http-receiver-0".into(), false), ("b/check-allowed-0".into(), true)],
            "silent for 10.1 s: forgotten"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_restarted_process_replaces_its_entry_and_its_own_beats_are_not_listed_twice() {
        let roster = Roster::new("a/http-receiver-0".to_owned(), &settings());
        roster.record(beat("a", "http-receiver-0"));
        roster.record(beat("a", "send-to-interface-1"));
        tokio::time::advance(Duration::from_secs(5)).await;
        let mut restarted = beat("a", "send-to-interface-1");
        restarted["pid"] = json!(8);
        roster.record(restarted);
        let processes = roster.processes(beat("a", "http-receiver-0"));
        assert_eq!(names(&processes), [("a/http-receiver-0".into(), false), ("a/send-to-interface-1".into(), false)]);
        assert_eq!(processes[1]["pid"], 8);
        assert_eq!(processes[1]["health"]["process"], "send-to-interface");
    }

    #[tokio::test(start_paused = true)]
    async fn a_process_that_says_farewell_is_dropped_at_once() {
        let roster = Roster::new("a/http-receiver-0".to_owned(), &settings());
        roster.record(beat("a", "receive-status-0"));
        roster.record(beat("a", "receive-status-1"));
        roster.record_bytes(br#"{"host": "a", "name": "receive-status-1", "stopped": true}"#);
        assert_eq!(
            names(&roster.processes(beat("a", "http-receiver-0"))),
            [("a/http-receiver-0".into(), false), ("a/receive-status-0".into(), false)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_beat_that_names_no_process_is_dropped() {
        let roster = Roster::new("a/http-receiver-0".to_owned(), &settings());
        roster.record_bytes(b"not json");
        roster.record_bytes(br#"{"host": "a"}"#);
        roster.record_bytes(br#"[1, 2]"#);
        roster.record_bytes(br#"{"host": "a", "name": "receive-status-0", "process": "receive-status"}"#);
        assert_eq!(names(&roster.processes(beat("a", "http-receiver-0"))).len(), 2);
    }
}
