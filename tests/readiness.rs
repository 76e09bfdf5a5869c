//! SPEC §7's readyz rule on the real binaries: every process's `readyz`
//! turns 503 when its database or broker goes away and 200 when it returns,
//! and interface-listener's also while the BZI's queue service is away.
//! The dependencies are taken away by cutting the processes' connections at
//! the switchable proxies, leaving the shared servers alone. The receiver is
//! the one exception for the broker: its outbox keeps events while the
//! broker is away, so it stays ready and only reports the broker down.

use std::sync::Mutex as StdMutex;
use std::time::Duration;

use linebacker_testkit::{SwitchableProxy, eventually};
use linebacker_tests::{System, SystemOptions};
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Each run starts a dozen processes: one at a time on a 2-core machine.
static ONE_SYSTEM_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// How long a process may take to notice a dependency left or came back.
const NOTICE_WITHIN: Duration = Duration::from_secs(30);

const RECEIVER: &str = "http-receiver-0";

/// One process's readyz.
struct Probe {
    name: String,
    url: String,
}

/// One answer of a readyz.
#[derive(Clone, Debug)]
struct Answer {
    status: u16,
    body: Value,
}

impl Answer {
    fn dependency(&self, name: &str) -> &Value {
        &self.body["dependencies"][name]
    }
}

/// The receiver's readyz first, then every worker's.
fn probes(system: &System) -> Vec<Probe> {
    let receiver = Probe { name: RECEIVER.to_owned(), url: format!("{}/api/zpages/readyz", system.receiver_url) };
    let workers = system.processes.iter().filter_map(|process| {
        let url = process.zpages_url()?;
        Some(Probe { name: process.name.clone(), url: format!("{url}/readyz") })
    });
    std::iter::once(receiver).chain(workers).collect()
}

async fn ask(system: &System, probe: &Probe) -> Result<Answer, String> {
    let response = system.http.get(&probe.url).send().await.map_err(|error| format!("no answer: {error}"))?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|error| format!("{status} with an unreadable body: {error}"))?;
    let body = serde_json::from_str(&text).map_err(|_| format!("{status} with a body that is not JSON: {text}"))?;
    Ok(Answer { status, body })
}

/// Polls `probe` until an answer is `wanted`, or panics at `deadline` with
/// the process's name, its last answer and where the logs are. Every answer
/// seen on the way must pass `meanwhile`.
async fn answer_until(
    system: &System,
    probe: &Probe,
    what: &str,
    deadline: Instant,
    wanted: impl Fn(&Answer) -> bool,
    meanwhile: impl Fn(&Answer) -> bool,
) -> Answer {
    let last = StdMutex::new(String::from("none yet"));
    let timeout = deadline.saturating_duration_since(Instant::now());
    let found = eventually(timeout, &format!("{} to answer {what}", probe.name), || async {
        let answer = ask(system, probe).await;
        *last.lock().unwrap() = match &answer {
            Ok(answer) => format!("{} {}", answer.status, answer.body),
            Err(error) => error.clone(),
        };
        let answer = answer.ok()?;
        assert!(
            meanwhile(&answer),
            "{} answered {} {} while waiting for {what}; logs in {}",
            probe.name,
            answer.status,
            answer.body,
            system.log_dir.display()
        );
        wanted(&answer).then_some(answer)
    })
    .await;
    found.unwrap_or_else(|error| {
        panic!("{error:#}; its last answer: {}; logs in {}", last.lock().unwrap(), system.log_dir.display())
    })
}

/// Waits, within `NOTICE_WITHIN` of `since`, for every one of `probes` to
/// answer `status`, and returns those answers.
async fn all_answer(system: &System, probes: &[&Probe], status: u16, since: Instant) -> Vec<Answer> {
    let deadline = since + NOTICE_WITHIN;
    let mut answers = Vec::new();
    for probe in probes {
        let answer = answer_until(system, probe, &status.to_string(), deadline, |a| a.status == status, |_| true).await;
        println!("{}: {status} after {:.1}s", probe.name, since.elapsed().as_secs_f64());
        answers.push(answer);
    }
    answers
}

fn assert_reports(probe: &Probe, answer: &Answer, dependency: &str, state: &str, system: &System) {
    assert_eq!(
        answer.dependency(dependency),
        state,
        "{}: dependencies.{dependency} in {} {}; logs in {}",
        probe.name,
        answer.status,
        answer.body,
        system.log_dir.display()
    );
}

fn link<'a>(link: &'a Option<SwitchableProxy>, what: &str) -> &'a SwitchableProxy {
    link.as_ref().unwrap_or_else(|| panic!("the system runs without a {what} proxy"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readyz_of_every_process_turns_503_while_its_database_or_broker_is_away_and_200_when_it_returns() {
    let _one = ONE_SYSTEM_AT_A_TIME.lock().await;
    let mut system =
        System::start(SystemOptions { through_proxies: true, failure_share: 0.0, ..SystemOptions::default() })
            .await
            .unwrap();
    let probes = probes(&system);
    let everyone: Vec<&Probe> = probes.iter().collect();
    let workers: Vec<&Probe> = probes.iter().filter(|p| p.name != RECEIVER).collect();
    let receiver = &probes[0];
    assert_eq!(workers.len(), 4, "four workers run: {:?}", probes.iter().map(|p| &p.name).collect::<Vec<_>>());

    for (probe, answer) in everyone.iter().zip(all_answer(&system, &everyone, 200, Instant::now()).await) {
        assert_reports(probe, &answer, "database", "up", &system);
        assert_reports(probe, &answer, "broker", "up", &system);
    }

    // The database goes away: no process is ready.
    let database = link(&system.database_link, "database");
    database.cut();
    let cut = Instant::now();
    for (probe, answer) in everyone.iter().zip(all_answer(&system, &everyone, 503, cut).await) {
        assert_reports(probe, &answer, "database", "down", &system);
    }
    database.restore();
    all_answer(&system, &everyone, 200, Instant::now()).await;

    // The broker goes away: no worker is ready; the receiver still is and
    // says the broker is down.
    let broker = link(&system.broker_link, "broker");
    broker.cut();
    let cut = Instant::now();
    let stays_ready = |a: &Answer| a.status == 200;
    answer_until(
        &system,
        receiver,
        "broker down",
        cut + NOTICE_WITHIN,
        |a| a.dependency("broker") == "down",
        stays_ready,
    )
    .await;
    for (probe, answer) in workers.iter().zip(all_answer(&system, &workers, 503, cut).await) {
        assert_reports(probe, &answer, "broker", "down", &system);
    }
    let answer = ask(&system, receiver).await.unwrap_or_else(|error| panic!("{RECEIVER}: {error}"));
    assert_eq!(answer.status, 200, "{RECEIVER} is ready without the broker: {}", answer.body);
    assert_reports(receiver, &answer, "broker", "down", &system);
    broker.restore();
    let restored = Instant::now();
    all_answer(&system, &everyone, 200, restored).await;
    // Every process publishes a heartbeat each interval, which reconnects
    // it: the receiver says the broker is up again without a request.
    answer_until(&system, receiver, "broker up", restored + NOTICE_WITHIN, |a| a.dependency("broker") == "up", stays_ready)
        .await;

    // The BZI's queue service goes away: interface-listener, which polls it,
    // opens its breaker and is not ready until the service answers again.
    let azure = link(&system.azure_link, "queue service");
    let listener = workers.iter().copied().find(|p| p.name == "interface-listener-0").unwrap();
    azure.cut();
    let cut = Instant::now();
    let answer = answer_until(&system, listener, "503", cut + NOTICE_WITHIN, |a| a.status == 503, |_| true).await;
    assert_reports(listener, &answer, "statuses-queue", "open", &system);
    println!("{}: 503 after {:.1}s", listener.name, cut.elapsed().as_secs_f64());
    azure.restore();
    let restored = Instant::now();
    answer_until(&system, listener, "200", restored + NOTICE_WITHIN, |a| a.status == 200, |_| true).await;
    println!("{}: 200 after {:.1}s", listener.name, restored.elapsed().as_secs_f64());

    // And the system works after all the outages.
    system.post("job-1", "2022-05-30").await.unwrap();
    system.wait_until_settled(1, Duration::from_secs(60)).await.unwrap();

    assert_eq!(system.all_running(), Vec::<String>::new(), "a process died");
    system.stop().await.unwrap();
}
