//! SPEC §7 on the real binaries: one request followed through every process
//! by its trace id in the logs.

use std::time::Duration;

use linebacker_tests::{System, SystemOptions, WORKERS};
use linebacker_testkit::eventually;
use serde_json::Value;
use tokio::sync::Mutex;

/// Each run starts a dozen processes: one at a time on a 2-core machine.
static ONE_SYSTEM_AT_A_TIME: Mutex<()> = Mutex::const_new(());

const CALLER_TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";

/// The JSON lines of one process's log.
fn log_lines(system: &System, process: &str) -> Vec<Value> {
    let path = system.log_dir.join(format!("{process}-0.log"));
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    text.lines().filter_map(|line| serde_json::from_str(line).ok()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_requests_trace_id_is_on_its_log_lines_in_all_five_processes() {
    let _one = ONE_SYSTEM_AT_A_TIME.lock().await;
    let system = System::start(SystemOptions { failure_share: 0.0, ..SystemOptions::default() }).await.unwrap();
    let response = system
        .http
        .post(format!("{}/api/backup-requests", system.receiver_url))
        .header("traceparent", format!("00-{CALLER_TRACE_ID}-b7ad6b7169203331-01"))
        .json(&serde_json::json!({
            "apiVersion": "2022-05-22",
            "backupJobId": "job-1",
            "dataDate": "2022-05-30",
            "backupDataLocation": "/prepared/job-1/2022-05-30",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let answered_trace = response.headers()["traceparent"].to_str().unwrap().to_owned();
    assert!(answered_trace.contains(CALLER_TRACE_ID), "the caller's trace is continued: {answered_trace}");
    let created: Value = response.json().await.unwrap();
    let id = created["backupRequestId"].as_str().unwrap().to_owned();
    system.wait_until_settled(1, Duration::from_secs(60)).await.unwrap();

    let processes: Vec<&str> = std::iter::once("http-receiver").chain(WORKERS.iter().copied()).collect();
    for process in &processes {
        let traced = eventually(Duration::from_secs(10), &format!("{process} to log the trace"), || async {
            let lines = log_lines(&system, process);
            let traced: Vec<Value> = lines.into_iter().filter(|line| line["trace_id"] == CALLER_TRACE_ID).collect();
            (!traced.is_empty()).then_some(traced)
        })
        .await
        .unwrap_or_else(|error| panic!("{error:#}; logs in {}", system.log_dir.display()));
        for line in &traced {
            assert_eq!(line["backup_request_id"], id.as_str(), "{process}: {line}");
            assert_eq!(line["service"], *process, "{line}");
        }
    }
    // And no line about the request lacks the trace.
    for process in &processes {
        for line in log_lines(&system, process) {
            if line["backup_request_id"] == id.as_str() {
                assert_eq!(line["trace_id"], CALLER_TRACE_ID, "{process}: {line}");
            }
        }
    }
    system.stop().await.unwrap();
}

async fn scrape(system: &System, url: &str) -> String {
    let response = system.http.get(format!("{url}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}/metrics");
    response.text().await.unwrap()
}

/// The value of the sample whose line starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find(|line| line.starts_with(series)).and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_process_serves_prometheus_metrics_whose_counters_move_with_the_work() {
    let _one = ONE_SYSTEM_AT_A_TIME.lock().await;
    let system = System::start(SystemOptions { failure_share: 0.0, ..SystemOptions::default() }).await.unwrap();
    for _ in 0..3 {
        system.post("job-1", "2022-05-30").await.unwrap();
    }
    system.wait_until_settled(3, Duration::from_secs(60)).await.unwrap();

    let receiver = scrape(&system, &system.receiver_url).await;
    let posted = r#"linebacker_http_requests_total{method="POST",route="/api/backup-requests",status="202"}"#;
    assert_eq!(sample(&receiver, posted), Some(3.0), "{receiver}");
    assert!(receiver.contains(r#"linebacker_http_request_duration_seconds_bucket{method="POST",route="/api/backup-requests""#));
    assert_eq!(sample(&receiver, r#"linebacker_requests{status="Succeeded"}"#), Some(3.0), "{receiver}");
    assert!(sample(&receiver, "linebacker_outbox_backlog").is_some(), "{receiver}");
    assert!(sample(&receiver, "linebacker_outbox_oldest_age_seconds").is_some(), "{receiver}");

    for process in &system.processes {
        let Some(url) = process.zpages_url() else { continue };
        let text = scrape(&system, &url).await;
        let queue = if process.name.starts_with("interface-listener") {
            system.statuses_queue.name().to_owned()
        } else {
            process.name.trim_end_matches("-0").to_owned()
        };
        for outcome in ["consumed", "acked"] {
            let series = format!(r#"linebacker_messages_total{{outcome="{outcome}",queue="{queue}"}}"#);
            assert_eq!(sample(&text, &series), Some(3.0), "{}: {series} in\n{text}", process.name);
        }
        if !process.name.starts_with("interface-listener") {
            let series = format!(r#"linebacker_message_handling_duration_seconds_count{{queue="{queue}"}}"#);
            assert_eq!(sample(&text, &series), Some(3.0), "{}: {text}", process.name);
        }
    }
    system.stop().await.unwrap();
}
