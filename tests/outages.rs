//! Dependencies that go away and come back, end to end on the real binaries.

use std::time::Duration;

use linebacker_tests::{System, SystemOptions};
use linebacker_testkit::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_the_job_service_down_for_a_minute_nothing_is_dead_lettered_the_breaker_opens_and_the_backlog_drains() {
    let mut system = System::start(SystemOptions::default()).await.unwrap();
    system.job_service.cut();
    let outage_started = tokio::time::Instant::now();
    for i in 0..40 {
        system.post(&format!("job-{}", 1 + i % 5), "2022-05-30").await.unwrap();
    }

    let health = eventually(Duration::from_secs(30), "the check-allowed breaker to open", || async {
        let health = system.worker_health("check-allowed").await.ok()?;
        (health["breakers"]["backup-job-service"] == "open").then_some(health)
    })
    .await
    .unwrap();
    assert_eq!(health["breakers"]["database"], "closed", "{health}");

    // The rest of the minute: the breaker keeps the backlog waiting.
    tokio::time::sleep_until(outage_started + Duration::from_secs(60)).await;
    let checked: i64 = sqlx::query_scalar("SELECT count(*) FROM backup_requests WHERE status_type_code <> 'Received'")
        .fetch_one(&system.pool)
        .await
        .unwrap();
    assert_eq!(checked, 0, "no request can be checked while the job service is away");
    assert_eq!(system.queue_depth("check-allowed.dead").await.unwrap(), 0, "a message was dead-lettered");
    let health = system.worker_health("check-allowed").await.unwrap();
    let attempts = health["messages"]["consumed"].as_u64().unwrap();
    assert!(attempts < 200, "the breaker should stop attempts, yet {attempts} deliveries were handled");

    system.job_service.restore();
    system.wait_until_settled(40, Duration::from_secs(120)).await.unwrap();
    assert_eq!(system.queue_depth("check-allowed.dead").await.unwrap(), 0, "a message was dead-lettered");
    let health = system.worker_health("check-allowed").await.unwrap();
    assert_eq!(health["breakers"]["backup-job-service"], "closed", "{health}");
    assert_eq!(system.all_running(), Vec::<String>::new(), "a process died");
    system.stop().await.unwrap();
}
