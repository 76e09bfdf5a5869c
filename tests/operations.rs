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
