//! SPEC §9's reconciliation sweep on the real binaries: requests whose
//! messages were lost in the broker move on within a sweep interval, with
//! no restart of the receiver and no operator.

use std::time::Duration;

use linebacker_tests::{System, SystemOptions};
use linebacker_testkit::eventually;

const REQUESTS: usize = 20;

/// `rabbitmqctl purge_queue`: what a broker that lost a queue's messages
/// leaves behind.
fn purge(queue: &str) {
    let output = std::process::Command::new("rabbitmqctl")
        .args(["purge_queue", queue])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "rabbitmqctl purge_queue: {}", String::from_utf8_lossy(&output.stderr));
}

fn sample(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find(|line| line.starts_with(name))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_whose_messages_were_purged_move_on_within_a_sweep_interval() {
    let sweep = [("LINEBACKER__RECOVERY__SWEEP_INTERVAL_SECS", "2"), ("LINEBACKER__RECOVERY__STALLED_AFTER_SECS", "3")];
    let options = SystemOptions {
        failure_share: 0.0,
        extra_env: sweep.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect(),
        ..SystemOptions::default()
    };
    let mut system = System::start(options).await.unwrap();
    system.stop_process("check-allowed-0").await.unwrap();
    for _ in 0..REQUESTS {
        system.post("job-1", "2022-05-30").await.unwrap();
    }
    eventually(Duration::from_secs(30), "every request's event on the check-allowed queue", || async {
        (system.queue_depth("check-allowed").await.ok()? as usize >= REQUESTS).then_some(())
    })
    .await
    .unwrap();

    purge(&format!("{}check-allowed", system.queue_prefix));
    assert_eq!(system.queue_depth("check-allowed").await.unwrap(), 0, "the messages are gone");
    system.restart_process("check-allowed-0").await.unwrap();

    // Stalled after 3 s, swept every 2 s: moving on takes seconds; without
    // the sweep they would wait for the next receiver start.
    system.wait_until_settled(REQUESTS as i64, Duration::from_secs(30)).await.unwrap();
    let metrics = system.http.get(format!("{}/metrics", system.receiver_url)).send().await.unwrap().text().await.unwrap();
    assert!(sample(&metrics, "linebacker_sweep_runs_total") >= 1.0, "{metrics}");
    assert!(sample(&metrics, "linebacker_sweep_reemitted_total") >= REQUESTS as f64, "{metrics}");
    let health = system.health_of_all().await.unwrap();
    let last = &health["sweep"];
    assert!(last["at"].is_string(), "healthz/all shows the last sweep: {last}");
    assert!(last["reemitted"].is_i64() && last["resent"].is_i64(), "{last}");
    assert_eq!(last["by"], "http-receiver-0", "{last}");
    system.stop().await.unwrap();
}
