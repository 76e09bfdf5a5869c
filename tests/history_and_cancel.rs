//! History and cancel end to end, on the real binaries with RabbitMQ,
//! Azurite and the simulator: a request's history after a retry and a
//! duplicate reply, and cancels racing the workers.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use linebacker_tests::{System, SystemOptions};
use linebacker_testkit::eventually;
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// Each run starts a dozen processes: one at a time keeps them within the
/// machine (2 cores) and their timeouts meaningful.
static ONE_SYSTEM_AT_A_TIME: Mutex<()> = Mutex::const_new(());

async fn history(system: &System, id: &str) -> Vec<Value> {
    let url = format!("{}/api/backup-requests/{id}/history", system.receiver_url);
    let body: Value = system.http.get(url).send().await.unwrap().json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

async fn status(system: &System, id: &str) -> String {
    system.get(id).await.unwrap()["statusTypeCode"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_retried_and_answered_twice_shows_each_status_change_once_in_order_with_the_instance_that_made_it() {
    let _one = ONE_SYSTEM_AT_A_TIME.lock().await;
    let system = System::start(SystemOptions { failure_share: 0.0, ..SystemOptions::default() }).await.unwrap();
    // The job service is away: check-allowed retries until it is back.
    system.job_service.cut();
    let id = system.post("job-1", "2022-05-30").await.unwrap()["backupRequestId"].as_str().unwrap().to_owned();
    eventually(Duration::from_secs(30), "a retry of the check", || async {
        let health = system.worker_health("check-allowed").await.ok()?;
        (health["messages"]["retried"].as_u64()? >= 1).then_some(())
    })
    .await
    .unwrap();
    assert_eq!(status(&system, &id).await, "Received");
    system.job_service.restore();
    system.wait_until_settled(1, Duration::from_secs(60)).await.unwrap();
    assert_eq!(status(&system, &id).await, "Succeeded");

    // The interface answers again: a duplicate, and then a late failure.
    for result in ["Succeeded", "Failed"] {
        let reply = json!({
            "apiVersion": "2022-05-22", "backupRequestId": id, "resultTypeCode": result,
            "storagePathName": "/store/dup", "backupByteCount": 1,
            "copyStartTimestamp": "2022-05-30T00:00:00Z", "copyEndTimestamp": "2022-05-30T00:01:00Z",
            "messageText": "a duplicate",
        });
        system.statuses_queue.put(&reply.to_string()).await.unwrap();
    }
    eventually(Duration::from_secs(30), "both duplicates consumed", || async {
        let health = system.worker_health("receive-status").await.ok()?;
        (health["messages"]["consumed"].as_u64()? >= 3).then_some(())
    })
    .await
    .unwrap();

    let changes = history(&system, &id).await;
    let steps: Vec<(&str, &str)> =
        changes.iter().map(|c| (c["status"].as_str().unwrap(), c["by"].as_str().unwrap())).collect();
    assert_eq!(
        steps,
        [
            ("Received", "http-receiver-0"),
            ("Allowed", "check-allowed-0"),
            ("Sent", "send-to-interface-0"),
            ("Succeeded", "receive-status-0"),
        ],
        "{changes:?}"
    );
    let times: Vec<&str> = changes.iter().map(|c| c["at"].as_str().unwrap()).collect();
    let parsed: Vec<chrono::DateTime<chrono::FixedOffset>> =
        times.iter().map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap()).collect();
    assert!(parsed.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    let view = system.get(&id).await.unwrap();
    assert_eq!(changes[3]["detail"], view["replyMessageText"], "the reply text is the detail of Succeeded");
    assert_ne!(view["replyMessageText"], "a duplicate");
    system.stop().await.unwrap();
}

const RACED: usize = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancels_racing_the_workers_never_leave_a_cancelled_request_sent_and_a_cancelled_request_is_never_sent() {
    let _one = ONE_SYSTEM_AT_A_TIME.lock().await;
    let owned = System::start(SystemOptions { instances: 2, failure_share: 0.0, ..SystemOptions::default() }).await.unwrap();
    let system = &owned;
    // Each request is cancelled a little later than the one before, so that
    // the cancels meet every stage: before the check, between check and send,
    // during the send and after it. The delays grow with the square of the
    // step (0, 0, 2, 4, 8 ... 420 ms): a request takes only milliseconds to
    // reach `Sent`, so the early stages need the finer steps.
    let outcomes: HashMap<String, u16> = futures::stream::iter(0..RACED)
        .map(|i| async move {
            let id = system.post("job-1", "2022-05-30").await.unwrap()["backupRequestId"].as_str().unwrap().to_owned();
            let step = (i % 30) as u64;
            tokio::time::sleep(Duration::from_millis(step * step / 2)).await;
            let url = format!("{}/api/backup-requests/{id}/cancel", system.receiver_url);
            let response = system.http.post(url).json(&serde_json::json!({})).send().await.unwrap();
            let code = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            match code {
                200 => assert_eq!(body["statusTypeCode"], "Cancelled", "{body}"),
                409 => assert_eq!(body["code"], "NotCancellable", "{body}"),
                other => panic!("cancel answered {other}: {body}"),
            }
            (id, code)
        })
        .buffer_unordered(12)
        .collect()
        .await;

    // Everything settles: nothing is left waiting in linebacker or on the interface.
    eventually(Duration::from_secs(120), "every request settled", || async {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM backup_requests WHERE status_type_code IN ('Received', 'Allowed', 'Sent')",
        )
        .fetch_one(&system.pool)
        .await
        .ok()?;
        (waiting == 0).then_some(())
    })
    .await
    .unwrap();
    // Late replies and redeliveries have time to land.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let stats = system.simulator_stats().await.unwrap();
    let rows: Vec<(String, String, Option<chrono::DateTime<chrono::Utc>>)> =
        sqlx::query_as("SELECT backup_request_id, status_type_code, reply_timestamp FROM backup_requests")
            .fetch_all(&system.pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), RACED);
    let (mut cancelled, mut refused) = (0, 0);
    for (id, status, reply) in &rows {
        let sent_to_interface = stats["received"].get(id).and_then(Value::as_u64).unwrap_or(0);
        if status == "Cancelled" {
            assert!(
                sent_to_interface == 0 || reply.is_some(),
                "{id} is Cancelled and reached the interface without its reply recorded"
            );
        }
        match outcomes[id] {
            200 => {
                cancelled += 1;
                assert_eq!(status, "Cancelled", "{id}: cancel answered 200");
                assert_eq!(sent_to_interface, 0, "{id}: cancel answered 200, yet the interface received it");
            }
            _ => {
                refused += 1;
                assert_eq!(status, "Succeeded", "{id}: cancel answered 409, so it went on");
                assert_eq!(sent_to_interface, 1, "{id}: cancel answered 409, so the interface received it once");
            }
        }
        let changes = history(system, id).await;
        let last = changes.last().unwrap();
        assert_eq!(last["status"], status.as_str(), "{id}: history ends in the request's status");
    }
    // Both sides of the race happened, or the test proved nothing.
    assert!(cancelled >= 10 && refused >= 10, "{cancelled} cancelled, {refused} refused");
    eprintln!("{cancelled} cancelled, {refused} refused");
    owned.stop().await.unwrap();
}
