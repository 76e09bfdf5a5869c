//! The report of one bench run: every measurement of the run directory in
//! `report.json`, and `summary.md`, which sets each target of the project
//! beside the measured figure and the bound that limits it.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};

/// Each measurement file of the run directory (`<name>.json`) under its name.
fn measurements(dir: &Path) -> anyhow::Result<serde_json::Map<String, Value>> {
    let mut all = serde_json::Map::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else { continue };
        if path.extension().is_some_and(|e| e == "json") && name != "report" {
            let text = std::fs::read_to_string(&path)?;
            let value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
            all.insert(name.to_owned(), value);
        }
    }
    Ok(all)
}

/// One line of the summary: a target, what was measured, the bound it is
/// held against.
struct Line {
    target: &'static str,
    measured: Option<f64>,
    unit: &'static str,
    bound: Option<(f64, &'static str)>,
    /// Whether the target is met, given the measured figure and the bound.
    met: Option<bool>,
}

fn at(report: &Value, pointer: &str) -> Option<f64> {
    report.pointer(pointer).and_then(Value::as_f64)
}

/// The figure of the intake run at `clients` of the `/intake`-like list
/// `runs` (`/intake`: the whole system running; `/intake-receiver`: the
/// receiver alone).
fn intake_of(report: &Value, runs: &str, clients: u64, field: &str) -> Option<f64> {
    let runs = report.pointer(runs)?.as_array()?;
    let run = runs.iter().find(|run| run["clients"].as_u64() == Some(clients))?;
    run.pointer(field).and_then(Value::as_f64)
}

fn pgbench_tps(report: &Value, clients: u64) -> Option<f64> {
    let runs = report.pointer("/pgbench/runs")?.as_array()?;
    runs.iter().find(|run| run["clients"].as_u64() == Some(clients))?["tps"].as_f64()
}

/// The largest figure `field` of the processes whose name starts with one of
/// `prefixes`, in `sample` (a map of process name to figures).
fn largest(report: &Value, sample: &str, prefixes: &[&str], field: &str) -> Option<f64> {
    let processes = report.pointer(sample)?.as_object()?;
    processes
        .iter()
        .filter(|(name, _)| prefixes.iter().any(|p| name.starts_with(p)))
        .filter_map(|(_, figures)| figures[field].as_f64())
        .reduce(f64::max)
}

const WORKERS: &[&str] = &["check-allowed", "send-to-interface", "interface-listener", "receive-status"];

fn lines(report: &Value) -> Vec<Line> {
    let at_least = |measured: Option<f64>, floor: Option<f64>| Some(measured? >= floor?);
    let at_most = |measured: Option<f64>, ceiling: f64| Some(measured? <= ceiling);
    let intake_at = |clients, field| intake_of(report, "/intake", clients, field);
    let receiver_at = |clients, field| intake_of(report, "/intake-receiver", clients, field);
    let intake64 = receiver_at(64, "/accepted_per_second");
    let system64 = intake_at(64, "/accepted_per_second");
    let pg64 = pgbench_tps(report, 64);
    let half_azurite = at(report, "/azurite/cyclesPerSecond").map(|c| c / 2.0);
    let succeeded = at(report, "/pipeline/replied/perSecond");
    let backlog = intake_at(64, "/outbox_backlog_at_end");
    let drain = intake_at(64, "/outbox_drain_seconds");
    vec![
        Line {
            target: "intake at 64 clients ≥ 100% of pgbench (same transaction; receiver alone)",
            measured: intake64,
            unit: "req/s",
            bound: pg64.map(|tps| (tps, "pgbench tps, 64 clients")),
            met: at_least(intake64, pg64),
        },
        Line {
            target: "intake p99 at 64 clients ≤ 25 ms (receiver alone)",
            measured: receiver_at(64, "/latency/p99_ms"),
            unit: "ms",
            bound: None,
            met: at_most(receiver_at(64, "/latency/p99_ms"), 25.0),
        },
        Line {
            target: "intake at 64 clients ≥ 100% of pgbench (whole system running)",
            measured: system64,
            unit: "req/s",
            bound: pg64.map(|tps| (tps, "pgbench tps, 64 clients")),
            met: at_least(system64, pg64),
        },
        Line {
            target: "intake p99 at 64 clients ≤ 25 ms (whole system running)",
            measured: intake_at(64, "/latency/p99_ms"),
            unit: "ms",
            bound: None,
            met: at_most(intake_at(64, "/latency/p99_ms"), 25.0),
        },
        Line {
            target: "outbox backlog after 64-client intake < 1,000",
            measured: backlog,
            unit: "events",
            bound: None,
            met: backlog.map(|b| b < 1000.0),
        },
        Line {
            target: "outbox drains within 1 s",
            measured: drain,
            unit: "s",
            bound: None,
            met: at_most(drain, 1.0),
        },
        Line {
            target: "POST → Sent ≥ 1,000 req/s sustained (BZI in process)",
            measured: at(report, "/pipeline-in-process/sent/perSecond"),
            unit: "req/s",
            bound: at(report, "/broker/confirmedPublishesPerSecond").map(|b| (b, "raw confirmed publishes/s")),
            met: at_least(at(report, "/pipeline-in-process/sent/perSecond"), Some(1000.0)),
        },
        Line {
            target: "POST → Sent ≥ 1,000 req/s sustained (BZI on Azurite)",
            measured: at(report, "/pipeline/sent/perSecond"),
            unit: "req/s",
            bound: None,
            met: at_least(at(report, "/pipeline/sent/perSecond"), Some(1000.0)),
        },
        Line {
            target: "POST → Succeeded ≥ 80% of half Azurite's cycle rate",
            measured: succeeded,
            unit: "req/s",
            bound: half_azurite.map(|b| (b, "half of Azurite put+get+delete cycles/s")),
            met: at_least(succeeded, half_azurite.map(|b| b * 0.8)),
        },
        Line {
            target: "POST → Sent p99 ≤ 50 ms at 200 req/s (BZI in process)",
            measured: at(report, "/steady-200-in-process/latency/p99_ms"),
            unit: "ms",
            bound: None,
            met: at_most(at(report, "/steady-200-in-process/latency/p99_ms"), 50.0),
        },
        Line {
            target: "POST → Sent p99 ≤ 50 ms at 200 req/s (BZI on Azurite)",
            measured: at(report, "/steady-200/latency/p99_ms"),
            unit: "ms",
            bound: None,
            met: at_most(at(report, "/steady-200/latency/p99_ms"), 50.0),
        },
        Line {
            target: "POST → Succeeded p50 ≤ 1.5 s at 1 req/s, 500 ms reply delay",
            measured: at(report, "/latency-1rps/latency/p50_ms"),
            unit: "ms",
            bound: None,
            met: at_most(at(report, "/latency-1rps/latency/p50_ms"), 1500.0),
        },
        Line {
            target: "startup recovery re-emits 100,000 stalled requests at ≥ 10,000/s",
            measured: at(report, "/recovery/perSecond"),
            unit: "req/s",
            bound: None,
            met: at_least(at(report, "/recovery/perSecond"), Some(10_000.0)),
        },
        Line {
            target: "intake p99 ≤ 50 ms while recovery runs",
            measured: at(report, "/recovery/liveLatency/p99_ms"),
            unit: "ms",
            bound: None,
            met: at_most(at(report, "/recovery/liveLatency/p99_ms"), 50.0),
        },
        Line {
            target: "each worker ≤ 15 MB RSS idle",
            measured: largest(report, "/processes-idle", WORKERS, "rssMb"),
            unit: "MB",
            bound: None,
            met: at_most(largest(report, "/processes-idle", WORKERS, "rssMb"), 15.0),
        },
        Line {
            target: "each worker ≤ 40 MB RSS under load (peak)",
            measured: largest(report, "/pipeline/processesAfter", WORKERS, "peakRssMb"),
            unit: "MB",
            bound: None,
            met: at_most(largest(report, "/pipeline/processesAfter", WORKERS, "peakRssMb"), 40.0),
        },
        Line {
            target: "receiver ≤ 60 MB RSS under load (peak)",
            measured: largest(report, "/pipeline/processesAfter", &["http-receiver"], "peakRssMb"),
            unit: "MB",
            bound: None,
            met: at_most(largest(report, "/pipeline/processesAfter", &["http-receiver"], "peakRssMb"), 60.0),
        },
    ]
}

fn figure(value: Option<f64>) -> String {
    match value {
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
        None => "not measured".to_owned(),
    }
}

fn summary(report: &Value) -> String {
    let mut text = String::from("| target | measured | bound | ratio | met |\n|---|---|---|---|---|\n");
    for line in lines(report) {
        let (bound, ratio) = match (line.bound, line.measured) {
            (Some((b, what)), Some(m)) if b > 0.0 => (format!("{} ({what})", figure(Some(b))), format!("{:.0}%", m / b * 100.0)),
            (Some((b, what)), None) => (format!("{} ({what})", figure(Some(b))), String::new()),
            _ => (String::new(), String::new()),
        };
        let met = match line.met {
            Some(true) => "yes",
            Some(false) => "no",
            None => "?",
        };
        let _ = writeln!(text, "| {} | {} {} | {bound} | {ratio} | {met} |", line.target, figure(line.measured), line.unit);
    }
    for (run, what) in [("pipeline", "the PM2 system, BZI on Azurite"), ("pipeline-in-process", "one process, BZI in it")] {
        if let Some(machine) = report.pointer(&format!("/{run}/machine")) {
            text.push_str(&where_the_cpu_went(run, what, machine, report.pointer(&format!("/{run}/database"))));
        }
        if let Some(depths) = report.pointer(&format!("/{run}/azureQueueDepths")).and_then(Value::as_object) {
            for (queue, depth) in depths {
                let (max, mean) = (depth["max"].as_u64().unwrap_or(0), depth["mean"].as_f64().unwrap_or(0.0));
                let _ = writeln!(text, "Depth of Azure queue `{queue}` during `{run}`: at most {max}, {mean:.0} on average.");
            }
        }
    }
    text
}

/// What the whole machine spent on one pipeline run: how busy its cores
/// were, and by whom, per 1,000 requests.
fn where_the_cpu_went(run: &str, what: &str, machine: &Value, database: Option<&Value>) -> String {
    let mut text = format!("\nCPU of the machine during `{run}` ({what}):");
    let busy = machine["busyShare"].as_f64().unwrap_or(0.0);
    let per_thousand = machine["busyCpuSecondsPer1000Requests"].as_f64().unwrap_or(0.0);
    let _ = write!(text, " cores {:.0}% busy, {per_thousand:.2} CPU s per 1,000 requests", busy * 100.0);
    if let Some(commands) = machine["cpuSecondsPer1000RequestsByCommand"].as_object() {
        let mut spent: Vec<(&String, f64)> = commands.iter().filter_map(|(c, s)| Some((c, s.as_f64()?))).collect();
        spent.sort_by(|a, b| b.1.total_cmp(&a.1));
        let listed: Vec<String> = spent.iter().take(6).map(|(command, s)| format!("{command} {s:.2}")).collect();
        let _ = write!(text, " ({})", listed.join(", "));
    }
    if let Some(database) = database {
        let per_request = |key: &str| database[key].as_f64().unwrap_or(0.0);
        let _ = write!(
            text,
            "; PostgreSQL {:.1} commits and {:.1} rollbacks per request",
            per_request("commitsPerRequest"),
            per_request("rollbacksPerRequest")
        );
    }
    text.push_str(".\n");
    text
}

/// Writes `report.json` and `summary.md` into `dir`; answers the report.
pub fn write(dir: &Path) -> anyhow::Result<Value> {
    let report = Value::Object(measurements(dir)?);
    let targets: Vec<Value> = lines(&report)
        .into_iter()
        .map(|l| json!({ "target": l.target, "measured": l.measured, "unit": l.unit, "bound": l.bound.map(|b| b.0), "met": l.met }))
        .collect();
    let mut report = report;
    if let Value::Object(map) = &mut report {
        map.insert("targets".to_owned(), Value::Array(targets));
    }
    std::fs::write(dir.join("report.json"), serde_json::to_string_pretty(&report)?)?;
    std::fs::write(dir.join("summary.md"), summary(&report))?;
    Ok(report)
}

/// The measurements every report holds, one file of the run directory each.
const MEASUREMENTS: &[&str] =
    &[
        "machine",
        "intake",
        "intake-receiver",
        "pipeline",
        "steady-200",
        "pipeline-in-process",
        "steady-200-in-process",
        "latency-1rps",
        "recovery",
        "processes-idle",
        "pgbench",
        "pgbench-key",
        "broker",
        "azurite",
    ];

/// The report's form: every measurement there, and a figure for every target.
pub fn check(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let report: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let missing: Vec<&str> = MEASUREMENTS.iter().copied().filter(|name| report.get(name).is_none()).collect();
    let unmeasured: Vec<&str> = lines(&report).into_iter().filter(|l| l.measured.is_none()).map(|l| l.target).collect();
    if !missing.is_empty() || !unmeasured.is_empty() {
        anyhow::bail!("{}: measurements missing: {missing:?}; targets without a figure: {unmeasured:?}", path.display());
    }
    Ok(json!({ "report": path.display().to_string(), "measurements": MEASUREMENTS.len(), "targets": lines(&report).len() }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_target_is_held_against_the_bound_of_the_same_run() {
        let report = json!({
            "intake": [{ "clients": 64, "accepted_per_second": 500.0, "latency": { "p99_ms": 300.0 },
                         "outbox_backlog_at_end": 10.0, "outbox_drain_seconds": 0.2 }],
            "intake-receiver": [{ "clients": 64, "accepted_per_second": 2000.0, "latency": { "p99_ms": 30.0 } }],
            "pgbench": { "runs": [{ "clients": 64, "tps": 2500.0 }] },
        });
        let text = summary(&report);
        assert!(text.contains("| intake at 64 clients ≥ 100% of pgbench (same transaction; receiver alone) | 2000 req/s | 2500 (pgbench tps, 64 clients) | 80% | no |"), "{text}");
        assert!(text.contains("| intake p99 at 64 clients ≤ 25 ms (receiver alone) | 30.00 ms |  |  | no |"), "{text}");
        assert!(text.contains("| intake at 64 clients ≥ 100% of pgbench (whole system running) | 500 req/s | 2500 (pgbench tps, 64 clients) | 20% | no |"), "{text}");
        assert!(text.contains("| outbox drains within 1 s | 0.20 s |  |  | yes |"), "{text}");
        assert!(text.contains("| POST → Sent ≥ 1,000 req/s sustained (BZI in process) | not measured req/s |"), "{text}");
    }

    #[test]
    fn the_summary_says_where_the_cpu_of_each_pipeline_run_went() {
        let report = json!({
            "pipeline-in-process": {
                "machine": { "busyShare": 0.9, "busyCpuSecondsPer1000Requests": 6.0,
                             "cpuSecondsPer1000RequestsByCommand": { "postgres": 2.5, "beam.smp": 1.25 } },
                "database": { "commitsPerRequest": 4.0, "rollbacksPerRequest": 0.5 },
            },
        });
        let text = summary(&report);
        assert!(
            text.contains(
                "CPU of the machine during `pipeline-in-process` (one process, BZI in it): cores 90% busy, \
                 6.00 CPU s per 1,000 requests (postgres 2.50, beam.smp 1.25); \
                 PostgreSQL 4.0 commits and 0.5 rollbacks per request."
            ),
            "{text}"
        );
        assert!(!text.contains("during `pipeline` "), "{text}");

        let report = json!({ "pipeline": { "azureQueueDepths": { "requests": { "max": 5000, "mean": 1234.4 } } } });
        assert!(
            summary(&report).contains("Depth of Azure queue `requests` during `pipeline`: at most 5000, 1234 on average."),
            "{}",
            summary(&report)
        );
    }

    #[test]
    fn a_report_without_every_measurement_does_not_pass_the_check() {
        let dir = std::env::temp_dir().join(format!("bench-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("report.json");
        std::fs::write(&path, r#"{"machine": {}, "intake": []}"#).unwrap();
        let error = check(&path).unwrap_err().to_string();
        assert!(error.contains("pipeline") && error.contains("intake p99"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
