//! The whole pipeline, end to end, on the real binaries: requests posted over
//! HTTP end in the status their job and the interface's reply dictate, each
//! success has exactly one Backup, the interface sees each allowed request
//! once, and delivering every message again changes nothing.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use futures::StreamExt;
use lapin::options::BasicPublishOptions;
use linebacker_tests::{System, SystemOptions};
use linebacker_testkit::{BrokerProbe, WatchQueue, eventually};
use tokio::sync::Mutex;

/// The end-to-end runs each start a dozen processes: one at a time keeps
/// them within the machine (2 cores) and their timeouts meaningful.
static ONE_SYSTEM_AT_A_TIME: Mutex<()> = Mutex::const_new(());

const REQUESTS: usize = 500;
/// Five active jobs, one inactive, one the job service does not know.
const JOBS: &[&str] = &["job-1", "job-2", "job-3", "job-4", "job-5", "job-inactive", "job-unknown"];

/// (status, notAllowedReason, has backup) of every request, and each
/// request's last change, to compare before and after a replay.
type Snapshot = BTreeMap<String, (String, Option<String>, bool, String)>;

async fn snapshot(system: &System) -> Snapshot {
    let rows: Vec<(String, String, Option<String>, bool, String)> = sqlx::query_as(
        "SELECT r.backup_request_id, r.status_type_code, r.not_allowed_reason, b.backup_id IS NOT NULL, \
         r.updated_at::text FROM backup_requests r LEFT JOIN backups b USING (backup_request_id)",
    )
    .fetch_all(&system.pool)
    .await
    .unwrap();
    rows.into_iter().map(|(id, status, reason, backup, at)| (id, (status, reason, backup, at))).collect()
}

/// Posts the requests (16 at a time) and returns id → job.
async fn post_requests(system: &System) -> HashMap<String, String> {
    futures::stream::iter(0..REQUESTS)
        .map(|i| async move {
            let job = JOBS[i % JOBS.len()];
            let day = 1 + (i % 28);
            let body = system.post(job, &format!("2022-05-{day:02}")).await.unwrap();
            (body["backupRequestId"].as_str().unwrap().to_owned(), job.to_owned())
        })
        .buffer_unordered(16)
        .collect()
        .await
}

/// Checks every request against its job and the interface's reply.
async fn assert_outcomes(system: &System, jobs: &HashMap<String, String>) {
    let state = snapshot(system).await;
    assert_eq!(state.len(), REQUESTS);
    let stats = system.simulator_stats().await.unwrap();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (id, (status, reason, has_backup, _)) in &state {
        *counts.entry(status.as_str()).or_default() += 1;
        match jobs[id].as_str() {
            "job-inactive" => {
                assert_eq!((status.as_str(), reason.as_deref()), ("NotAllowed", Some("backup job is not active")), "{id}");
            }
            "job-unknown" => {
                assert_eq!((status.as_str(), reason.as_deref()), ("NotAllowed", Some("backup job not found")), "{id}");
            }
            _ => {
                assert!(status == "Succeeded" || status == "Failed", "{id} of {} is {status}", jobs[id]);
                assert_eq!(*has_backup, status == "Succeeded", "{id}: a Backup exactly for each success");
                assert_eq!(stats["received"][id], 1, "{id}: the interface received it once");
                assert_eq!(stats["replied"][id], 1, "{id}: the interface answered once");
            }
        }
        if status == "NotAllowed" {
            assert!(stats["received"].get(id).is_none(), "{id} was not allowed but reached the interface");
        }
    }
    assert_eq!(counts.get("Succeeded").copied().unwrap_or(0) as u64, stats["succeeded"].as_u64().unwrap());
    assert_eq!(counts.get("Failed").copied().unwrap_or(0) as u64, stats["failed"].as_u64().unwrap());
    let failed = counts.get("Failed").copied().unwrap_or(0);
    assert!(failed > 0 && failed < REQUESTS / 4, "about 10% of the allowed requests fail, not {failed}");

    // Each Backup carries the reply's fields and the job's retention.
    let mismatched: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM backups b JOIN backup_requests r USING (backup_request_id) \
         WHERE b.storage_path_name IS DISTINCT FROM r.storage_path_name \
            OR b.due_to_delete_date <> r.data_date + r.days_to_keep_count \
            OR b.hold_flag <> r.hold_flag OR b.backup_byte_count < 0 \
            OR b.copy_end_timestamp < b.copy_start_timestamp OR b.verify_hash_text IS NULL",
    )
    .fetch_one(&system.pool)
    .await
    .unwrap();
    assert_eq!(mismatched, 0, "Backups that do not match their reply and job");

    // GET shows the whole record, with the Backup once it exists.
    let succeeded = state.iter().find(|(_, (status, ..))| status == "Succeeded").map(|(id, _)| id).unwrap();
    let view = system.get(succeeded).await.unwrap();
    for field in [
        "backupRequestId", "backupJobId", "dataDate", "preparedDataPathName", "statusTypeCode",
        "transportTypeCode", "requesterId", "backupProviderCode", "storagePathName", "receivedTimestamp",
        "checkedTimestamp", "sentToInterfaceTimestamp", "replyTimestamp", "replyMessageText",
    ] {
        assert!(!view[field].is_null(), "GET {succeeded} lacks {field}: {view}");
    }
    assert_eq!(view["statusTypeCode"], "Succeeded");
    assert_eq!(view["backup"]["backupRequestId"], succeeded.as_str());
    assert!(view["backup"]["backupByteCount"].as_i64().is_some());
    assert!(view["backup"]["dueToDeleteDate"].is_string());
}

/// Publishes every message the run produced a second time, waits until the
/// work queues are empty again, and returns how many it republished.
async fn deliver_everything_again(system: &System, tap: &WatchQueue) -> usize {
    let messages = tap.drain().await.unwrap();
    assert!(messages.len() >= REQUESTS * 2, "the tap saw {} messages", messages.len());
    let connection = lapin::Connection::connect(&linebacker_testkit::amqp_url(), Default::default()).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    for message in &messages {
        channel
            .basic_publish(
                system.exchange.as_str().into(),
                message.delivery.routing_key.clone(),
                BasicPublishOptions::default(),
                &message.delivery.data,
                message.delivery.properties.clone(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let probe = BrokerProbe::connect().await.unwrap();
    eventually(Duration::from_secs(120), "the work queues to drain", || async {
        let mut total = 0;
        for queue in ["check-allowed", "send-to-interface", "receive-status"] {
            total += probe.message_count(&format!("{}{queue}", system.queue_prefix)).await.ok()?;
        }
        (total == 0).then_some(())
    })
    .await
    .unwrap();
    probe.close().await;
    // Unacknowledged deliveries are not counted as ready: let the last finish.
    tokio::time::sleep(Duration::from_secs(3)).await;
    messages.len()
}

async fn run_the_pipeline(instances: u16) {
    let _one = ONE_SYSTEM_AT_A_TIME.lock().await;
    let mut system = System::start(SystemOptions { instances, ..SystemOptions::default() }).await.unwrap();
    let tap = WatchQueue::bind(&system.exchange, &["#"]).await.unwrap();

    let jobs = post_requests(&system).await;
    assert_eq!(jobs.len(), REQUESTS, "every POST made a request of its own");
    system.wait_until_settled(REQUESTS as i64, Duration::from_secs(300)).await.unwrap();
    // The interface may still be answering the last few: let them land.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_outcomes(&system, &jobs).await;

    let before = snapshot(&system).await;
    let stats_before = system.simulator_stats().await.unwrap();
    let republished = deliver_everything_again(&system, &tap).await;
    assert_eq!(snapshot(&system).await, before, "a second delivery of {republished} messages changed a request");
    let stats_after = system.simulator_stats().await.unwrap();
    assert_eq!(stats_after["received"], stats_before["received"], "a second delivery sent again to the interface");

    assert_eq!(system.all_running(), Vec::<String>::new(), "a process died");
    tap.delete().await.unwrap();
    system.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_requests_end_as_their_job_and_reply_dictate_and_a_second_delivery_changes_nothing() {
    run_the_pipeline(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_of_each_worker_give_the_same_outcome() {
    run_the_pipeline(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn garbage_on_every_queue_is_parked_with_a_reason_and_every_process_keeps_running() {
    let _one = ONE_SYSTEM_AT_A_TIME.lock().await;
    let mut system = System::start(SystemOptions::default()).await.unwrap();
    let probe = BrokerProbe::connect().await.unwrap();
    let work_queues = ["check-allowed", "send-to-interface", "receive-status"];
    for queue in work_queues {
        let name = format!("{}{queue}", system.queue_prefix);
        probe.publish_raw("", &name, b"\x00 this is not an envelope", Default::default()).await.unwrap();
    }
    system.statuses_queue.put("<status>not json</status>").await.unwrap();

    for queue in work_queues {
        let dead = format!("{}{queue}.dead", system.queue_prefix);
        let parked = probe.get(&dead, Duration::from_secs(30)).await.unwrap();
        let headers = parked.delivery.properties.headers().clone().unwrap_or_default();
        let reason = match headers.inner().get("x-linebacker-reason") {
            Some(lapin::types::AMQPValue::LongString(text)) => String::from_utf8_lossy(text.as_bytes()).into_owned(),
            other => format!("{other:?}"),
        };
        assert!(reason.contains("malformed"), "{queue}: parked without a reason ({reason})");
    }
    let parked = eventually(Duration::from_secs(30), "a parked status", || async {
        system.poison_queue.get(1, Duration::from_secs(30)).await.ok()?.pop()
    })
    .await
    .unwrap();
    let parked: serde_json::Value = serde_json::from_str(&parked.text).unwrap();
    assert_eq!(parked["messageText"], "<status>not json</status>");
    assert!(parked["reason"].as_str().unwrap().contains("not a store status"), "{parked}");

    // Every process is still up and still works.
    assert_eq!(system.all_running(), Vec::<String>::new(), "a process died");
    let request = system.post("job-1", "2022-05-30").await.unwrap();
    system.wait_until_settled(1, Duration::from_secs(60)).await.unwrap();
    let id = request["backupRequestId"].as_str().unwrap();
    let status = system.get(id).await.unwrap()["statusTypeCode"].clone();
    assert!(status == "Succeeded" || status == "Failed", "{status}");
    probe.close().await;
    system.stop().await.unwrap();
}
