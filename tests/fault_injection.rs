//! The fault-injection run: under a load of requests it SIGKILLs each worker
//! type several times, restarts RabbitMQ and PostgreSQL, and freezes the
//! simulated job service and interface for a while; then it lets the system
//! drain and reports what became of every accepted request. It fails when a
//! request was lost or a backup recorded twice, or when a process's `readyz`
//! did not turn 503 while a dependency it needs was stopped and 200 once it
//! was back.
//!
//! `scripts/fault-injection.sh` runs it with thousands of requests; the test
//! suite runs a shorter version. Knobs (environment):
//! `LINEBACKER_FAULT_REQUESTS` (default 600), `LINEBACKER_FAULT_KILLS` (kills
//! of each worker type, default 2), `LINEBACKER_FAULT_OUTAGE_SECS` (default
//! 8), `LINEBACKER_FAULT_RESTARTS` = `real` (restart the machine's RabbitMQ
//! and PostgreSQL, the default) or `proxy` (cut the processes' connections
//! to them, leaving the servers alone).

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use linebacker_tests::{System, SystemOptions, WORKERS};
use linebacker_testkit::eventually;
use tokio::time::Instant;

/// Five active jobs, one inactive, one the job service does not know.
const JOBS: &[&str] = &["job-1", "job-2", "job-3", "job-4", "job-5", "job-inactive", "job-unknown"];

fn knob<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// When each fault happened, for the report.
#[derive(Clone, Default)]
struct Timeline {
    started: Option<Instant>,
    events: Arc<Mutex<Vec<(Duration, String)>>>,
}

impl Timeline {
    fn record(&self, what: impl Into<String>) {
        let at = self.started.map(|s| s.elapsed()).unwrap_or_default();
        let what = what.into();
        println!("[{:>6.1}s] {what}", at.as_secs_f64());
        self.events.lock().unwrap().push((at, what));
    }
}

fn run(command: &str, args: &[&str]) {
    let status = std::process::Command::new(command).args(args).status().unwrap();
    assert!(status.success(), "{command} {args:?} failed: {status}");
}

fn postgres_cluster() -> String {
    let versions: Vec<String> = std::fs::read_dir("/etc/postgresql")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .collect();
    versions.into_iter().max().unwrap()
}

/// How long a process may take to show a dependency's loss or return on
/// `readyz`.
const READINESS_WITHIN: Duration = Duration::from_secs(30);

/// The `readyz` of every process that depends on the broker (the workers)
/// or on the database (every process): `(name, url)`.
fn readiness_urls(system: &System, broker: bool) -> Vec<(String, String)> {
    let mut urls: Vec<(String, String)> = system
        .processes
        .iter()
        .filter_map(|p| Some((p.name.clone(), format!("{}/readyz", p.zpages_url()?))))
        .collect();
    if !broker {
        urls.push(("http-receiver-0".to_owned(), format!("{}/api/zpages/readyz", system.receiver_url)));
    }
    urls
}

/// Waits until every one of `urls` answers `status`; records when each did,
/// and which did not within `READINESS_WITHIN` in `missed`.
async fn await_readiness(
    system: &System,
    timeline: &Timeline,
    urls: &[(String, String)],
    status: u16,
    missed: &Mutex<Vec<String>>,
) {
    let checks = urls.iter().map(|(name, url)| async move {
        let answered = eventually(READINESS_WITHIN, url, || async {
            let response = system.http.get(url).timeout(Duration::from_secs(3)).send().await.ok()?;
            (response.status().as_u16() == status).then_some(())
        })
        .await;
        if answered.is_err() {
            missed.lock().unwrap().push(format!("{name} did not answer {status} on readyz"));
        }
    });
    futures::future::join_all(checks).await;
    timeline.record(format!("readyz {status} from all {} processes that need it", urls.len()));
}

/// Stops (`up` false) or starts RabbitMQ (or PostgreSQL) for real, or cuts
/// or restores the processes' connections to it; records it.
fn switch(system: &System, timeline: &Timeline, broker: bool, real: bool, up: bool) {
    let name = if broker { "RabbitMQ" } else { "PostgreSQL" };
    if !real {
        let link = if broker { &system.broker_link } else { &system.database_link };
        let link = link.as_ref().unwrap();
        if up { link.restore() } else { link.cut() }
        timeline.record(format!("{name} connections {}", if up { "restored" } else { "cut" }));
        return;
    }
    if !up {
        timeline.record(format!("{name} stopping"));
    }
    match (broker, up) {
        (true, false) => run("rabbitmqctl", &["stop_app"]),
        (true, true) => {
            run("rabbitmqctl", &["start_app"]);
            run("rabbitmqctl", &["await_startup"]);
        }
        (false, up) => {
            let action = if up { vec!["start"] } else { vec!["stop", "-m", "fast"] };
            let cluster = postgres_cluster();
            let mut args = vec!["--skip-systemctl-redirect", cluster.as_str(), "main"];
            args.extend(action);
            run("pg_ctlcluster", &args);
        }
    }
    timeline.record(format!("{name} {}", if up { "started again" } else { "stopped" }));
}

/// Takes RabbitMQ (or PostgreSQL) away for `outage`, for real or by cutting
/// the processes' connections; checks that `readyz` of each process that
/// needs it turns 503 meanwhile and 200 once it is back.
async fn outage(system: &System, timeline: &Timeline, broker: bool, real: bool, outage: Duration, missed: &Mutex<Vec<String>>) {
    let urls = readiness_urls(system, broker);
    let went = Instant::now();
    switch(system, timeline, broker, real, false);
    await_readiness(system, timeline, &urls, 503, missed).await;
    tokio::time::sleep(outage.saturating_sub(went.elapsed())).await;
    switch(system, timeline, broker, real, true);
    await_readiness(system, timeline, &urls, 200, missed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_faults_no_accepted_request_is_lost_and_no_backup_is_recorded_twice() {
    let requests: usize = knob("LINEBACKER_FAULT_REQUESTS", 600);
    let kills: usize = knob("LINEBACKER_FAULT_KILLS", 2);
    let outage_for = Duration::from_secs(knob("LINEBACKER_FAULT_OUTAGE_SECS", 8));
    let real = std::env::var("LINEBACKER_FAULT_RESTARTS").map(|v| v != "proxy").unwrap_or(true);

    // The load is spread over the faults: kills every 2 s, then three
    // outages with 3 s between them.
    let schedule = Duration::from_secs(2) * (kills * WORKERS.len()) as u32 + (outage_for + Duration::from_secs(3)) * 3;
    let interval = (schedule / requests.max(1) as u32).max(Duration::from_millis(5));

    let system = System::start(SystemOptions { through_proxies: !real, ..SystemOptions::default() }).await.unwrap();
    let system = Arc::new(tokio::sync::Mutex::new(system));
    let timeline = Timeline { started: Some(Instant::now()), ..Timeline::default() };
    timeline.record(format!("load of {requests} requests starts"));

    // The load: one request every `interval`, whatever happens; a 202 is an
    // accepted request, anything else is counted and not retried.
    let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
    let refused = Arc::new(Mutex::new(BTreeMap::<String, usize>::new()));
    let load = {
        let (system, accepted, refused) = (system.clone(), accepted.clone(), refused.clone());
        let (http, url) = {
            let system = system.lock().await;
            (system.http.clone(), system.receiver_url.clone())
        };
        tokio::spawn(async move {
            let mut tasks = Vec::new();
            for i in 0..requests {
                let (http, url, accepted, refused) = (http.clone(), url.clone(), accepted.clone(), refused.clone());
                tasks.push(tokio::spawn(async move {
                    let mut body = linebacker_testkit::request_body(JOBS[i % JOBS.len()], "2022-05-30");
                    body["backupDataLocation"] = format!("/prepared/{i}").into();
                    match http.post(format!("{url}/api/backup-requests")).json(&body).send().await {
                        Ok(response) if response.status().as_u16() == 202 => {
                            let body: serde_json::Value = response.json().await.unwrap_or_default();
                            if let Some(id) = body["backupRequestId"].as_str() {
                                accepted.lock().unwrap().push(id.to_owned());
                            }
                        }
                        Ok(response) => *refused.lock().unwrap().entry(response.status().to_string()).or_default() += 1,
                        Err(_) => *refused.lock().unwrap().entry("no answer".into()).or_default() += 1,
                    }
                }));
                tokio::time::sleep(interval).await;
            }
            for task in tasks {
                let _ = task.await;
            }
            drop(system);
        })
    };

    // What readyz did not show in time during the outages.
    let readiness_missed = Mutex::new(Vec::<String>::new());

    // The faults, one after another while the load runs.
    for round in 1..=kills {
        for worker in WORKERS {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let mut system = system.lock().await;
            let process = system.processes.iter_mut().find(|p| p.name == format!("{worker}-0")).unwrap();
            process.kill().await.unwrap();
            process.restart().unwrap();
            timeline.record(format!("SIGKILL {worker} (round {round}), restarted"));
        }
    }
    {
        let system = system.lock().await;
        outage(&system, &timeline, true, real, outage_for, &readiness_missed).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        outage(&system, &timeline, false, real, outage_for, &readiness_missed).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let simulator = system.processes.iter().find(|p| p.name == "backup-system-simulator-0").unwrap();
        simulator.signal("STOP").unwrap();
        timeline.record("job service and interface frozen (SIGSTOP)");
        tokio::time::sleep(outage_for).await;
        simulator.signal("CONT").unwrap();
        timeline.record("job service and interface resumed (SIGCONT)");
    }
    load.await.unwrap();
    timeline.record("load done");

    // Drain: every accepted request reaches a terminal status, or the
    // report counts it lost.
    let mut system = Arc::try_unwrap(system).ok().unwrap().into_inner();
    let accepted: Vec<String> = accepted.lock().unwrap().clone();
    let drained = eventually(Duration::from_secs(300), "the system to drain", || async {
        let terminal: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM backup_requests WHERE backup_request_id = ANY($1) \
             AND status_type_code IN ('NotAllowed', 'Succeeded', 'Failed')",
        )
        .bind(&accepted)
        .fetch_one(&system.pool)
        .await
        .ok()?;
        (terminal as usize == accepted.len()).then_some(())
    })
    .await;
    timeline.record(if drained.is_ok() { "drained" } else { "drain timed out" });
    // Late duplicates (a reply forwarded twice) have a moment to land.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let terminal: Vec<String> = sqlx::query_scalar(
        "SELECT backup_request_id FROM backup_requests WHERE backup_request_id = ANY($1) \
         AND status_type_code IN ('NotAllowed', 'Succeeded', 'Failed')",
    )
    .bind(&accepted)
    .fetch_all(&system.pool)
    .await
    .unwrap();
    let terminal: HashSet<String> = terminal.into_iter().collect();
    let lost: Vec<&String> = accepted.iter().filter(|id| !terminal.contains(*id)).collect();
    let duplicate_backups: i64 =
        sqlx::query_scalar("SELECT count(*) - count(DISTINCT backup_request_id) FROM backups")
            .fetch_one(&system.pool)
            .await
            .unwrap();
    let stats = system.simulator_stats().await.unwrap();
    let duplicate_sends: u64 = stats["received"]
        .as_object()
        .map(|m| m.values().filter_map(|n| n.as_u64()).map(|n| n.saturating_sub(1)).sum())
        .unwrap_or(0);
    let by_status: Vec<(String, i64)> =
        sqlx::query_as("SELECT status_type_code, count(*) FROM backup_requests GROUP BY 1 ORDER BY 1")
            .fetch_all(&system.pool)
            .await
            .unwrap();
    let mut dead = String::new();
    let probe = linebacker_testkit::BrokerProbe::connect().await.unwrap();
    for queue in ["check-allowed", "send-to-interface", "receive-status"] {
        let name = format!("{}{queue}.dead", system.queue_prefix);
        let mut reasons = BTreeMap::<String, usize>::new();
        while let Ok(message) = probe.get(&name, Duration::from_millis(300)).await {
            let headers = message.delivery.properties.headers().clone().unwrap_or_default();
            let reason = match headers.inner().get("x-linebacker-reason") {
                Some(lapin::types::AMQPValue::LongString(text)) => String::from_utf8_lossy(text.as_bytes()).into_owned(),
                _ => "(no reason)".to_owned(),
            };
            *reasons.entry(reason).or_default() += 1;
        }
        let _ = writeln!(dead, "  {queue}.dead: {} {reasons:?}", reasons.values().sum::<usize>());
    }
    probe.close().await;
    let poison = system.poison_queue.approximate_count().await.unwrap_or(0);

    let mut report = String::new();
    let _ = writeln!(report, "\n=== fault-injection report ===");
    let _ = writeln!(report, "restarts: {}", if real { "real servers" } else { "connections cut by proxies" });
    for (at, what) in timeline.events.lock().unwrap().iter() {
        let _ = writeln!(report, "  [{:>6.1}s] {what}", at.as_secs_f64());
    }
    let _ = writeln!(report, "posted: {requests}, accepted (202): {}, refused: {:?}", accepted.len(), refused.lock().unwrap());
    let _ = writeln!(report, "terminal: {}, lost (accepted, not terminal after drain): {}", terminal.len(), lost.len());
    let _ = writeln!(report, "requests by status: {by_status:?}");
    let _ = writeln!(report, "duplicate Backups: {duplicate_backups}");
    let _ = writeln!(report, "duplicate sends to the interface: {duplicate_sends}");
    let _ = writeln!(report, "dead-lettered:\n{dead}  store-statuses-poison: {poison}");
    println!("{report}");
    let path = linebacker_tests::target_dir().unwrap().join("fault-injection-report.txt");
    std::fs::write(&path, &report).unwrap();

    assert!(accepted.len() > requests / 2, "too few requests accepted to mean anything: {}", accepted.len());
    assert!(lost.is_empty(), "lost requests: {lost:?} (logs in {})", system.log_dir.display());
    assert_eq!(duplicate_backups, 0);
    let kills_done = timeline.events.lock().unwrap().iter().filter(|(_, e)| e.starts_with("SIGKILL")).count();
    assert_eq!(kills_done, kills * WORKERS.len(), "every kill happened");
    assert_eq!(readiness_missed.into_inner().unwrap(), Vec::<String>::new(), "readyz during the outages");
    assert_eq!(system.all_running(), Vec::<String>::new(), "a process died");
    system.stop().await.unwrap();
}
