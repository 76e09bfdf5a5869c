//! The operator dashboard in a real browser: headless Chromium (Debian's
//! `chromium`, installed by `scripts/setup.sh`) driven by `playwright-core`
//! through `tests/browser/dashboard.mjs`, against the real binaries.
//!
//! The test sets the stage the script needs: settled requests, a dead
//! letter whose request exists again (as after a restore), and a request
//! still `Received` because check-allowed is stopped. After the script it
//! starts check-allowed again and checks that the replayed dead letter was
//! processed and the cancelled request never reached the interface.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a failed step is the failure

use std::path::Path;
use std::time::Duration;

use linebacker_domain::EventType;
use linebacker_tests::{System, SystemOptions};
use linebacker_testkit::{BrokerProbe, eventually, sample_event};

async fn status(system: &System, id: &str) -> String {
    system.get(id).await.unwrap()["statusTypeCode"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dashboard_shows_the_apis_counts_opens_a_request_cancels_it_and_replays_a_dead_letter() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    assert!(Path::new("/usr/bin/chromium").exists(), "no /usr/bin/chromium: run scripts/setup.sh");
    assert!(root.join("node_modules/playwright-core").exists(), "no playwright-core: run scripts/setup.sh");

    let mut system = System::start(SystemOptions { failure_share: 0.0, ..SystemOptions::default() }).await.unwrap();
    let mut settled = Vec::new();
    for day in 1..=4 {
        let body = system.post(&format!("job-{day}"), &format!("2022-05-{day:02}")).await.unwrap();
        settled.push(body["backupRequestId"].as_str().unwrap().to_owned());
    }
    system.wait_until_settled(4, Duration::from_secs(60)).await.unwrap();
    eventually(Duration::from_secs(30), "the first request to succeed", || async {
        (status(&system, &settled[0]).await == "Succeeded").then_some(())
    })
    .await
    .unwrap();

    // A check for a request the database does not have (yet) is dead-lettered
    // after the grace period; then the request comes back, as after a restore.
    let orphan = sample_event(EventType::BackupRequestReceived);
    let orphan_id = orphan.backup_request_id.to_string();
    let probe = BrokerProbe::connect().await.unwrap();
    // With the request id header every published event carries (SPEC §4).
    let mut headers = lapin::types::FieldTable::default();
    headers.insert("x-backup-request-id".into(), lapin::types::AMQPValue::LongString(orphan_id.clone().into()));
    let properties = lapin::BasicProperties::default().with_headers(headers);
    probe
        .publish_raw(&system.exchange, "backup-request.received", &serde_json::to_vec(&orphan).unwrap(), properties)
        .await
        .unwrap();
    probe.close().await;
    eventually(Duration::from_secs(60), "the orphan check to be dead-lettered", || async {
        (system.queue_depth("check-allowed.dead").await.ok()? == 1).then_some(())
    })
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO backup_requests (backup_request_id, backup_job_id, data_date, prepared_data_path_name, \
         status_type_code, transport_type_code, received_timestamp) \
         VALUES ($1, 'job-1', date '2022-05-30', '/prepared/restored', 'Received', 'HTTP', now())",
    )
    .bind(&orphan_id)
    .execute(&system.pool)
    .await
    .unwrap();

    // With check-allowed stopped, a new request stays Received for the cancel button.
    system.stop_process("check-allowed-0").await.unwrap();
    let to_cancel = system.post("job-1", "2022-05-30").await.unwrap()["backupRequestId"].as_str().unwrap().to_owned();

    // Into the run's log directory, so a test run leaves the tree as it was;
    // LINEBACKER_UPDATE_SCREENSHOT=1 renews the README's picture instead.
    let screenshot = if std::env::var_os("LINEBACKER_UPDATE_SCREENSHOT").is_some() {
        root.join("docs/dashboard.png")
    } else {
        system.log_dir.join("dashboard.png")
    };
    let output = tokio::process::Command::new("node")
        .current_dir(&root)
        .arg("tests/browser/dashboard.mjs")
        .args([&system.receiver_url, &settled[0], &to_cancel, &orphan_id])
        .arg(&screenshot)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(180), output).await.unwrap().unwrap();
    assert!(
        output.status.success(),
        "the browser script failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 10_000, "no screenshot");

    system.restart_process("check-allowed-0").await.unwrap();
    eventually(Duration::from_secs(60), "the replayed request to succeed", || async {
        (status(&system, &orphan_id).await == "Succeeded").then_some(())
    })
    .await
    .unwrap();
    // The cancelled request's check came once check-allowed was back: skipped.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(status(&system, &to_cancel).await, "Cancelled");
    let stats = system.simulator_stats().await.unwrap();
    assert!(stats["received"].get(&to_cancel).is_none(), "the cancelled request reached the interface");
    assert_eq!(stats["received"][&orphan_id], 1);
    assert_eq!(system.all_running(), Vec::<String>::new(), "a process died");
    system.stop().await.unwrap();
}
