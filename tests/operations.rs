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
        .json(&linebacker_testkit::request_body("job-1", "2022-05-30"))
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
    let created = r#"linebacker_request_status_transitions_total{from="none",to="Received"}"#;
    assert_eq!(sample(&receiver, created), Some(3.0), "{receiver}");

    // Each event went out through one of the relays, which timed it.
    let lag_count = |text: &str, event: &str| {
        sample(text, &format!(r#"linebacker_outbox_publish_lag_seconds_count{{event="{event}"}}"#)).unwrap_or(0.0)
    };
    let mut published = ["BackupRequestReceived", "BackupRequestAllowed"].map(|event| (event, lag_count(&receiver, event)));

    for process in &system.processes {
        let Some(url) = process.zpages_url() else { continue };
        let text = scrape(&system, &url).await;
        for (event, count) in &mut published {
            *count += lag_count(&text, event);
        }
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
        // The status changes each worker commits, and its breakers (closed).
        let (transition, breakers): (&str, &[&str]) = match queue.as_str() {
            "check-allowed" => (r#"{from="Received",to="Allowed"}"#, &["database", "backup-job-service"]),
            "send-to-interface" => (r#"{from="Allowed",to="Sent"}"#, &["database", "interface-queue"]),
            "receive-status" => (r#"{from="Sent",to="Succeeded"}"#, &["database", "backup-job-service"]),
            _ => continue,
        };
        let series = format!("linebacker_request_status_transitions_total{transition}");
        assert_eq!(sample(&text, &series), Some(3.0), "{}: {series} in\n{text}", process.name);
        for breaker in breakers {
            let series = format!(r#"linebacker_breaker_state{{breaker="{breaker}"}}"#);
            assert_eq!(sample(&text, &series), Some(0.0), "{}: {series} in\n{text}", process.name);
        }
        let health: Value = system.http.get(format!("{url}/healthz")).send().await.unwrap().json().await.unwrap();
        let metrics_scrapes = health["http"].as_array().unwrap().iter().find(|c| c["route"] == "/metrics");
        assert_eq!(metrics_scrapes.map(|c| c["status"].clone()), Some(200.into()), "{}: {health}", process.name);
    }
    assert_eq!(published, [("BackupRequestReceived", 3.0), ("BackupRequestAllowed", 3.0)], "publish lags observed");
    system.stop().await.unwrap();
}

/// The process named `name` in `healthz/all`.
fn listed<'a>(all: &'a Value, name: &str) -> Option<&'a Value> {
    all["processes"].as_array()?.iter().find(|p| p["name"] == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn healthz_all_lists_every_process_marks_a_killed_one_stale_and_counts_queues_as_the_broker_does() {
    let _one = ONE_SYSTEM_AT_A_TIME.lock().await;
    let mut system =
        System::start(SystemOptions { instances: 2, failure_share: 0.0, ..SystemOptions::default() }).await.unwrap();
    let mut expected: Vec<String> = vec!["http-receiver-0".to_owned()];
    expected.extend(WORKERS.iter().flat_map(|worker| [format!("{worker}-0"), format!("{worker}-1")]));
    expected.sort();

    // Nine processes, each heard from since it was ready, none stale.
    let all = eventually(Duration::from_secs(20), "all nine processes heard from, ready", || async {
        let all = system.health_of_all().await.ok()?;
        let processes = all["processes"].as_array()?;
        let mut names: Vec<String> = processes.iter().filter_map(|p| Some(p["name"].as_str()?.to_owned())).collect();
        names.sort();
        let ready = processes.iter().all(|p| p["health"]["ready"] == true);
        (names == expected && ready && all["summary"]["stale"] == 0).then_some(all)
    })
    .await
    .unwrap_or_else(|error| panic!("{error:#}; logs in {}", system.log_dir.display()));
    for name in &expected {
        let process = listed(&all, name).unwrap();
        let health = &process["health"];
        assert!(health["memory"]["residentBytes"].as_u64().unwrap_or(0) > 0, "{name}: {health}");
        assert!(health["cpu"]["seconds"].as_f64().is_some(), "{name}: {health}");
        assert!(health["uptimeSeconds"].as_i64().is_some(), "{name}: {health}");
        assert_eq!(health["dependencies"]["database"], "up", "{name}: {health}");
        assert_eq!(health["ready"], true, "{name}: {health}");
        if name != "http-receiver-0" {
            assert!(health["messages"]["consumed"].as_u64().is_some(), "{name}: {health}");
            assert!(health["breakers"].is_object(), "{name}: {health}");
        }
    }

    // SIGKILL one: it says nothing more and is shown stale once silent for
    // heartbeat.stale_after_ms.
    let stale_after = Duration::from_secs_f64(all["heartbeat"]["staleAfterSeconds"].as_f64().unwrap());
    let position = system.processes.iter().position(|p| p.name == "send-to-interface-1").unwrap();
    let mut killed = system.processes.remove(position);
    killed.kill().await.unwrap();
    let killed_at = std::time::Instant::now();
    let all = eventually(stale_after + Duration::from_secs(10), "send-to-interface-1 shown stale", || async {
        let all = system.health_of_all().await.ok()?;
        (listed(&all, "send-to-interface-1")?["stale"] == true).then_some(all)
    })
    .await
    .unwrap();
    let took = killed_at.elapsed();
    eprintln!("send-to-interface-1 was shown stale {took:?} after its SIGKILL (stale_after {stale_after:?})");
    // Its last beat came at most one interval before the kill; the margin is
    // for the poll and a loaded machine.
    assert!(took <= stale_after + Duration::from_secs(2), "stale only after {took:?} (stale_after {stale_after:?})");
    assert_eq!(all["summary"]["stale"], 1, "only the killed one is stale: {all:#}");
    assert_eq!(all["summary"]["processes"], 9, "the killed one is still listed: {all:#}");

    // Park messages on purpose: with no check-allowed running, requests wait
    // on its queue; garbage on receive-status is dead-lettered.
    for name in ["check-allowed-0", "check-allowed-1"] {
        let position = system.processes.iter().position(|p| p.name == name).unwrap();
        let mut stopped = system.processes.remove(position);
        stopped.interrupt_and_wait(Duration::from_secs(15)).await.unwrap();
    }
    // Stopped gracefully, they said goodbye: gone from the list at once,
    // while the killed one is still shown stale.
    let all = eventually(Duration::from_secs(5), "the stopped check-allowed processes gone", || async {
        let all = system.health_of_all().await.ok()?;
        (listed(&all, "check-allowed-0").is_none() && listed(&all, "check-allowed-1").is_none()).then_some(all)
    })
    .await
    .unwrap();
    assert_eq!(all["summary"]["processes"], 7, "{all:#}");
    assert_eq!(listed(&all, "send-to-interface-1").map(|p| p["stale"].clone()), Some(true.into()));
    for day in 1..=4 {
        system.post("job-1", &format!("2022-05-0{day}")).await.unwrap();
    }
    let probe = linebacker_testkit::BrokerProbe::connect().await.unwrap();
    let receive_status = format!("{}receive-status", system.queue_prefix);
    for _ in 0..3 {
        probe.publish_raw("", &receive_status, b"not an envelope", Default::default()).await.unwrap();
    }
    probe.close().await;

    let (all, broker) = eventually(Duration::from_secs(30), "healthz/all to agree with rabbitmqctl", || async {
        let before = system.rabbitmqctl_counts().ok()?;
        let parked = before.get("check-allowed") == Some(&(4, 0)) && before.get("receive-status.dead") == Some(&(3, 0));
        let all = system.health_of_all().await.ok()?;
        let after = system.rabbitmqctl_counts().ok()?;
        (parked && before == after).then_some((all, after))
    })
    .await
    .unwrap();
    let queues = all["queues"].as_array().unwrap_or_else(|| panic!("no queue counts: {all:#}"));
    assert_eq!(queues.len(), 3, "{all:#}");
    for queue in queues {
        let name = queue["queue"].as_str().unwrap();
        let (ready, consumers) = broker[name];
        let (dead, _) = broker[&format!("{name}.dead")];
        assert_eq!(queue["depth"], ready, "{name}: {queue} vs rabbitmqctl {broker:?}");
        assert_eq!(queue["consumers"], consumers, "{name}: {queue} vs rabbitmqctl {broker:?}");
        assert_eq!(queue["deadLetters"], dead, "{name}: {queue} vs rabbitmqctl {broker:?}");
    }
    let by_name = |name: &str| queues.iter().find(|q| q["queue"] == name).unwrap().clone();
    assert_eq!((by_name("check-allowed")["depth"].clone(), by_name("check-allowed")["consumers"].clone()), (4.into(), 0.into()));
    assert_eq!(by_name("receive-status")["deadLetters"], 3);
    assert_eq!(by_name("send-to-interface")["consumers"], 1, "one of two was killed");
    assert_eq!(all["database"]["requests"]["byStatus"]["Received"], 4, "{all:#}");
    assert!(all["database"]["requests"]["oldestWaitingAgeSeconds"]["Received"].as_i64().is_some(), "{all:#}");

    // The BZI's queues, as Azure counts them: a status nobody can read is
    // parked on the poison queue.
    system.statuses_queue.put("<status>not json</status>").await.unwrap();
    let all = eventually(Duration::from_secs(30), "the parked status counted", || async {
        let all = system.health_of_all().await.ok()?;
        let poison = all["interfaceQueues"].as_array()?.iter().find(|q| q["queue"] == "poison")?.clone();
        (poison["approximateCount"] == 1).then_some(all)
    })
    .await
    .unwrap();
    let interface = all["interfaceQueues"].as_array().unwrap();
    let queues = [("requests", &system.requests_queue), ("statuses", &system.statuses_queue), ("poison", &system.poison_queue)];
    for (role, queue) in queues {
        let listed = interface.iter().find(|q| q["queue"] == role).unwrap();
        assert_eq!(listed["name"], queue.name(), "{listed}");
        assert_eq!(listed["approximateCount"], queue.approximate_count().await.unwrap(), "{role}: {listed}");
    }

    system.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopping_worker_answers_503_on_livez_and_readyz_until_its_in_flight_work_is_done() {
    let _one = ONE_SYSTEM_AT_A_TIME.lock().await;
    let mut system = System::start(SystemOptions { failure_share: 0.0, ..SystemOptions::default() }).await.unwrap();
    // A frozen job service holds check-allowed's next message in flight.
    let simulator = system.processes.iter().find(|p| p.name == "backup-system-simulator-0").unwrap();
    simulator.signal("STOP").unwrap();
    system.post("job-1", "2022-05-30").await.unwrap();
    let position = system.processes.iter().position(|p| p.name == "check-allowed-0").unwrap();
    let url = system.processes[position].zpages_url().unwrap();
    eventually(Duration::from_secs(10), "check-allowed to take the message", || async {
        let health: Value = system.http.get(format!("{url}/healthz")).send().await.ok()?.json().await.ok()?;
        (health["messages"]["consumed"] == 1).then_some(())
    })
    .await
    .unwrap();

    let mut worker = system.processes.remove(position);
    worker.signal("INT").unwrap();
    let (livez, readyz) = eventually(Duration::from_secs(5), "livez and readyz to say stopping", || async {
        let livez = system.http.get(format!("{url}/livez")).send().await.ok()?;
        let readyz = system.http.get(format!("{url}/readyz")).send().await.ok()?;
        let readyz = (readyz.status(), readyz.json::<Value>().await.ok()?);
        (livez.status() == 503).then_some((livez.json::<Value>().await.ok()?, readyz))
    })
    .await
    .unwrap();
    assert_eq!(livez["status"], "stopping");
    assert_eq!(readyz.0, 503);
    assert_eq!(readyz.1["status"], "stopping");

    let simulator = system.processes.iter().find(|p| p.name == "backup-system-simulator-0").unwrap();
    simulator.signal("CONT").unwrap();
    worker.wait_for_exit_0(Duration::from_secs(15)).await.unwrap();
    system.stop().await.unwrap();
}
