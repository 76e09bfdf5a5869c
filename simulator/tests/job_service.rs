//! The simulated backup job service (SPEC §5).
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::json;
use support::spawn_simulator;

#[tokio::test]
async fn an_active_job_is_served_with_every_field() {
    let simulator = spawn_simulator(0.0).await;
    let (status, body) = simulator.get_json("/backup-jobs/job-17").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "backupJobId": "job-17",
            "storagePathName": "/backups/job-17",
            "backupProviderCode": "Local",
            "daysToKeep": 30,
            "isActive": true,
            "holdFlag": false,
        })
    );
    simulator.stop().await;
}

#[tokio::test]
async fn an_inactive_job_is_served_as_inactive() {
    let simulator = spawn_simulator(0.0).await;
    let (status, body) = simulator.get_json("/backup-jobs/job-inactive").await;
    assert_eq!(status, 200);
    assert_eq!(body["isActive"], false);
    simulator.stop().await;
}

#[tokio::test]
async fn an_unknown_job_is_404() {
    let simulator = spawn_simulator(0.0).await;
    let (status, body) = simulator.get_json("/backup-jobs/job-nobody-knows").await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "NotFound");
    let (status, _) = simulator.get_json("/livez").await;
    assert_eq!(status, 200);
    simulator.stop().await;
}
