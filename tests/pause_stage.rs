//! SPEC §10's pause and resume on the real binaries, two copies of every
//! worker: each stage paused in turn stops taking work on every copy within
//! 5 s while its requests wait in its queue, a copy that restarts stays
//! paused, and resuming moves every request on to its end, none lost.

use std::time::Duration;

use linebacker_testkit::{BrokerProbe, eventually};
use linebacker_tests::{System, SystemOptions};
use serde_json::{Value, json};

const REQUESTS: usize = 10;
/// The promise: every copy stops taking new work within this.
const WITHIN: Duration = Duration::from_secs(5);
/// How long a paused stage is watched not taking the work that waits.
const HOLD: Duration = Duration::from_secs(3);
const MOVE_ON: Duration = Duration::from_secs(60);

async fn act(system: &System, stage: &str, action: &str) -> Value {
    let url = format!("{}/api/operator/stages/{stage}/{action}", system.receiver_url);
    let response = system.http.post(url).json(&json!({})).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200, "{action} {stage}");
    let entry: Value = response.json().await.unwrap();
    assert_eq!(entry["state"], if action == "pause" { "paused" } else { "running" }, "{entry}");
    entry
}

/// Each copy's `/healthz` state of `stage`, which process `process` runs.
async fn copy_states(system: &System, process: &str, stage: &str) -> Vec<String> {
    let mut states = Vec::new();
    for copy in system.processes.iter().filter(|p| p.name.rsplit_once('-').is_some_and(|(name, _)| name == process)) {
        let url = format!("{}/healthz", copy.zpages_url().unwrap());
        let health: Value = match system.http.get(url).send().await {
            Ok(response) => response.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        };
        states.push(health["stages"][stage].as_str().unwrap_or("no answer").to_owned());
    }
    states
}

/// The consumers of work queue `queue`, as the broker counts them.
async fn consumers(system: &System, queue: &str) -> u32 {
    let probe = BrokerProbe::connect().await.unwrap();
    let (_, consumers) = probe.counts(&format!("{}{queue}", system.queue_prefix)).await.unwrap();
    probe.close().await;
    consumers
}

/// Pauses `stage` and waits (at most [`WITHIN`]) until both copies say so
/// and, for a queue worker, none consumes any more.
async fn pause_and_see_it_stop(system: &System, stage: &str, queue: Option<&str>) {
    act(system, stage, "pause").await;
    eventually(WITHIN, &format!("every copy of {stage} paused"), || async {
        let states = copy_states(system, stage, stage).await;
        let idle = match queue {
            Some(queue) => consumers(system, queue).await == 0,
            None => true,
        };
        (states == ["paused", "paused"] && idle).then_some(())
    })
    .await
    .unwrap();
}

async fn count_in(system: &System, status: &str) -> usize {
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM backup_requests WHERE status_type_code = $1")
        .bind(status)
        .fetch_one(&system.pool)
        .await
        .unwrap();
    usize::try_from(count).unwrap()
}

async fn wait_for_all_in(system: &System, status: &str) {
    eventually(MOVE_ON, &format!("every request {status}"), || async {
        (count_in(system, status).await == REQUESTS).then_some(())
    })
    .await
    .unwrap();
}

/// Waits until the requests' messages are all in `queue`, then watches for
/// [`HOLD`] that they stay there and every request stays `status`.
async fn waiting_in(system: &System, queue: &str, status: &str) {
    eventually(MOVE_ON, &format!("{REQUESTS} messages waiting in {queue}"), || async {
        (system.queue_depth(queue).await.ok()? as usize == REQUESTS).then_some(())
    })
    .await
    .unwrap();
    tokio::time::sleep(HOLD).await;
    assert_eq!(system.queue_depth(queue).await.unwrap() as usize, REQUESTS, "{queue} is not consumed while paused");
    assert_eq!(count_in(system, status).await, REQUESTS, "every request stays {status}");
    assert_eq!(consumers(system, queue).await, 0, "no copy consumes {queue}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_paused_stage_holds_its_work_on_every_copy_until_resumed_and_nothing_is_lost() {
    let options = SystemOptions { instances: 2, failure_share: 0.0, ..SystemOptions::default() };
    let mut system = System::start(options).await.unwrap();

    // check-allowed: the received requests wait in its queue.
    pause_and_see_it_stop(&system, "check-allowed", Some("check-allowed")).await;
    for _ in 0..REQUESTS {
        system.post("job-1", "2022-05-30").await.unwrap();
    }
    waiting_in(&system, "check-allowed", "Received").await;
    eventually(Duration::from_secs(10), "healthz/all shows both copies paused", || async {
        let all = system.health_of_all().await.ok()?;
        let paused = all["processes"].as_array()?.iter().filter(|p| {
            p["process"] == "check-allowed" && p["health"]["stages"]["check-allowed"] == "paused"
        });
        (paused.count() == 2).then_some(())
    })
    .await
    .unwrap();

    // A copy that restarts reads the pause before it takes anything.
    system.stop_process("check-allowed-1").await.unwrap();
    system.restart_process("check-allowed-1").await.unwrap();
    eventually(WITHIN, "the restarted copy reports paused", || async {
        (copy_states(&system, "check-allowed", "check-allowed").await == ["paused", "paused"]).then_some(())
    })
    .await
    .unwrap();
    waiting_in(&system, "check-allowed", "Received").await;

    // send-to-interface: resuming check-allowed moves the requests on to
    // the next paused stage's queue.
    pause_and_see_it_stop(&system, "send-to-interface", Some("send-to-interface")).await;
    act(&system, "check-allowed", "resume").await;
    wait_for_all_in(&system, "Allowed").await;
    waiting_in(&system, "send-to-interface", "Allowed").await;

    // interface-listener: the BZI's replies wait in its status queue.
    pause_and_see_it_stop(&system, "interface-listener", None).await;
    pause_and_see_it_stop(&system, "receive-status", Some("receive-status")).await;
    act(&system, "send-to-interface", "resume").await;
    wait_for_all_in(&system, "Sent").await;
    eventually(MOVE_ON, "every reply waiting in the BZI's status queue", || async {
        (system.statuses_queue.approximate_count().await.ok()? as usize == REQUESTS).then_some(())
    })
    .await
    .unwrap();
    tokio::time::sleep(HOLD).await;
    assert_eq!(system.statuses_queue.approximate_count().await.unwrap() as usize, REQUESTS, "no reply is received");
    assert_eq!(count_in(&system, "Sent").await, REQUESTS);

    // receive-status: the replies, now events, wait in its queue.
    act(&system, "interface-listener", "resume").await;
    waiting_in(&system, "receive-status", "Sent").await;

    act(&system, "receive-status", "resume").await;
    system.wait_until_settled(REQUESTS as i64, MOVE_ON).await.unwrap();
    assert_eq!(count_in(&system, "Succeeded").await, REQUESTS, "every request succeeded once");
    for queue in ["check-allowed.dead", "send-to-interface.dead", "receive-status.dead"] {
        assert_eq!(system.queue_depth(queue).await.unwrap(), 0, "nothing was dead-lettered in {queue}");
    }
    let listed: Value = system.http.get(format!("{}/api/operator/stages", system.receiver_url)).send().await.unwrap().json().await.unwrap();
    assert!(listed["stages"].as_array().unwrap().iter().all(|s| s["state"] == "running"), "{listed}");
    assert!(system.all_running().is_empty(), "no process crashed");
    system.stop().await.unwrap();
}
