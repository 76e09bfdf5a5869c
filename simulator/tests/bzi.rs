//! The simulated BZI: a request on its request queue gets a reply on its
//! status queue, and is counted once.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use linebacker_domain::external::{API_VERSION, ResultTypeCode, StoreStatus};
use serde_json::json;
use linebacker_azure_queue::testing::azurite_uri;
use linebacker_testkit::SwitchableProxy;
use support::{TestSimulator, spawn_simulator, spawn_simulator_with};

/// Puts a request and waits for the one reply to it, which must be valid.
async fn request_and_reply(simulator: &TestSimulator, id: &str) -> StoreStatus {
    put_request(simulator, id).await;
    wait_for_reply(simulator).await
}

async fn put_request(simulator: &TestSimulator, id: &str) {
    let request = json!({
        "apiVersion": API_VERSION,
        "backupRequestId": id,
        "backupJobId": "job-2",
        "dataDate": "2022-05-30",
        "preparedDataPathName": "/prepared/job-2/2022-05-30",
        "backupProviderCode": "CloudA",
        "storagePathName": "cloud-a://backups/job-2",
    });
    simulator.requests.put(&request.to_string()).await.unwrap();
}

async fn wait_for_reply(simulator: &TestSimulator) -> StoreStatus {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let replies = simulator.statuses.get(32, Duration::from_secs(30)).await.unwrap();
        if let Some(reply) = replies.first() {
            assert_eq!(replies.len(), 1, "one reply");
            simulator.statuses.delete(reply).await.unwrap();
            return StoreStatus::parse(&reply.text).unwrap();
        }
        assert!(tokio::time::Instant::now() < deadline, "no reply within 15 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_request_gets_a_succeeded_reply_with_every_field_and_is_counted_once() {
    let simulator = spawn_simulator(0.0).await;
    let status = request_and_reply(&simulator, "r-succeeds").await;
    assert_eq!(status.backup_request_id.as_str(), "r-succeeds");
    assert_eq!(status.result_type_code, ResultTypeCode::Succeeded);
    assert_eq!(status.storage_path_name.as_deref(), Some("cloud-a://backups/job-2"));
    assert!(status.backup_byte_count.is_some());
    assert!(status.copy_start_timestamp.is_some() && status.copy_end_timestamp.is_some());
    assert!(status.verify_start_timestamp.is_some() && status.verify_end_timestamp.is_some());
    assert!(status.verified_hash.is_some() && status.message_text.is_some());

    // The request is deleted once answered: nothing comes back later.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(simulator.requests.approximate_count().await.unwrap(), 0);
    let (_, stats) = simulator.get_json("/stats").await;
    assert_eq!(stats["received"], json!({"r-succeeds": 1}));
    assert_eq!(stats["replied"], json!({"r-succeeds": 1}));
    assert_eq!(stats["succeeded"], 1);
    simulator.stop().await;
}

#[tokio::test]
async fn with_a_failure_share_of_one_every_reply_is_failed_with_a_reason() {
    let simulator = spawn_simulator(1.0).await;
    let status = request_and_reply(&simulator, "r-fails").await;
    assert_eq!(status.result_type_code, ResultTypeCode::Failed);
    assert!(status.message_text.is_some_and(|text| !text.is_empty()));
    let (_, stats) = simulator.get_json("/stats").await;
    assert_eq!(stats["failed"], 1);
    simulator.stop().await;
}

#[tokio::test]
async fn a_malformed_request_is_counted_and_deleted_without_a_reply() {
    let simulator = spawn_simulator(0.0).await;
    simulator.requests.put("this is not JSON <&>").await.unwrap();
    wait_until_one_is_malformed(&simulator).await;
    assert_eq!(simulator.statuses.approximate_count().await.unwrap(), 0);
    simulator.stop().await;
}

async fn wait_until_one_is_malformed(simulator: &TestSimulator) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (_, stats) = simulator.get_json("/stats").await;
        if stats["malformed"] == 1 {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "malformed request not counted: {stats}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_request_put_while_the_queue_service_is_unreachable_is_answered_once_it_is_back() {
    let azurite = reqwest::Url::parse(&azurite_uri()).unwrap();
    let target = format!("{}:{}", azurite.host_str().unwrap(), azurite.port_or_known_default().unwrap());
    let proxy = SwitchableProxy::start(target.parse().unwrap()).await.unwrap();
    let through_proxy = format!("http://{}{}", proxy.addr(), azurite.path());
    let simulator = spawn_simulator_with(0.0, Some(through_proxy)).await;
    // A first answer proves the simulator is past start-up and polling.
    request_and_reply(&simulator, "r-before").await;

    proxy.cut();
    put_request(&simulator, "r-outage").await;
    // Long enough for several failed polls and a few backoff steps.
    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.restore();

    let status = wait_for_reply(&simulator).await;
    assert_eq!(status.backup_request_id.as_str(), "r-outage");
    let (_, stats) = simulator.get_json("/stats").await;
    assert_eq!(stats["received"], json!({"r-before": 1, "r-outage": 1}));
    simulator.stop().await;
}
