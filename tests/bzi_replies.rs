//! Hostile replies of the BZI (SPEC §5, §8): a status whose text fields hold
//! what PostgreSQL cannot store (a NUL) or what would garble a log, or that
//! are longer than their bound, is parked on `store-statuses-poison` with
//! its reason by interface-listener, and never reaches PostgreSQL; a
//! well-formed reply after them still records the backup.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

use std::time::Duration;

use linebacker_domain::external::MAX_VERIFIED_HASH_CHARS;
use linebacker_testkit::eventually;
use linebacker_tests::{System, SystemOptions};
use serde_json::{Value, json};

/// A `Succeeded` reply for `id`, with `field` set to `value`.
fn reply(id: &str, field: &str, value: &str) -> String {
    let mut status = json!({
        "apiVersion": "2022-05-22", "backupRequestId": id, "resultTypeCode": "Succeeded",
        "storagePathName": "/store/job-1/2022-05-30", "backupByteCount": 42,
        "copyStartTimestamp": "2022-05-30T01:00:00Z", "copyEndTimestamp": "2022-05-30T01:05:00Z",
        "verifiedHash": "sha256:abc", "messageText": "stored",
    });
    status[field] = Value::from(value);
    status.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reply_with_a_nul_a_control_character_or_an_overlong_field_is_parked_and_never_stored() {
    // The simulator answers long after this test: the replies are the test's.
    let system = System::start(SystemOptions { failure_share: 0.0, reply_delay_ms: 600_000, ..SystemOptions::default() })
        .await
        .unwrap();
    let created = system.post("job-1", "2022-05-30").await.unwrap();
    let id = created["backupRequestId"].as_str().unwrap().to_owned();
    eventually(Duration::from_secs(60), "the request sent", || async {
        (system.get(&id).await.ok()?["statusTypeCode"] == "Sent").then_some(())
    })
    .await
    .unwrap();

    let hostile = [
        ("messageText", reply(&id, "messageText", "copied\u{0}then truncated")),
        ("storagePathName", reply(&id, "storagePathName", "/store/\u{1b}[2Jcleared")),
        ("verifiedHash", reply(&id, "verifiedHash", &"f".repeat(MAX_VERIFIED_HASH_CHARS + 1))),
    ];
    for (_, text) in &hostile {
        system.statuses_queue.put(text).await.unwrap();
    }
    let parked = eventually(Duration::from_secs(60), "three parked replies", || async {
        let parked = system.poison_queue.peek(32).await.ok()?;
        (parked.len() == hostile.len()).then_some(parked)
    })
    .await
    .unwrap();
    for (field, text) in &hostile {
        let envelope = parked
            .iter()
            .map(|message| serde_json::from_str::<Value>(&message.text).unwrap())
            .find(|envelope| envelope["messageText"] == text.as_str())
            .unwrap_or_else(|| panic!("the reply with a bad {field} was not parked as it came"));
        let reason = envelope["reason"].as_str().unwrap();
        assert!(reason.contains(field), "the reason names {field}: {reason}");
    }

    let request = system.get(&id).await.unwrap();
    assert_eq!(request["statusTypeCode"], "Sent", "{request}");
    assert!(request.get("backup").is_none_or(Value::is_null), "{request}");
    let replies: i64 = sqlx::query_scalar("SELECT count(*) FROM backup_request_history WHERE status_type_code <> 'Received' AND status_type_code <> 'Allowed' AND status_type_code <> 'Sent'")
        .fetch_one(&system.pool)
        .await
        .unwrap();
    assert_eq!(replies, 0, "a hostile reply reached the database");
    assert_eq!(system.queue_depth("receive-status.dead").await.unwrap(), 0);

    // The next reply, a note over several lines, records the backup.
    system.statuses_queue.put(&reply(&id, "messageText", "copied\nverified")).await.unwrap();
    let request = eventually(Duration::from_secs(60), "the request succeeded", || async {
        let request = system.get(&id).await.ok()?;
        (request["statusTypeCode"] == "Succeeded").then_some(request)
    })
    .await
    .unwrap();
    assert_eq!(request["replyMessageText"], "copied\nverified");
    assert_eq!(request["backup"]["backupByteCount"], 42, "{request}");
    system.stop().await.unwrap();
}
