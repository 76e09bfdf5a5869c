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
    /// What the target asks of the measured figure.
    held: Held,
}

/// What a target asks of its figure.
#[derive(Clone, Copy)]
enum Held {
    /// At least this share of the bound measured in the same run.
    ShareOfBound(f64),
    AtLeast(f64),
    AtMost(f64),
    Below(f64),
}

impl Held {
    /// Whether `measured` meets the target; `ratio` is measured / bound.
    fn met(self, measured: Option<f64>, ratio: Option<f64>) -> Option<bool> {
        Some(match self {
            Held::ShareOfBound(share) => ratio? >= share,
            Held::AtLeast(floor) => measured? >= floor,
            Held::AtMost(ceiling) => measured? <= ceiling,
            Held::Below(ceiling) => measured? < ceiling,
        })
    }
}

impl Line {
    fn ratio(&self) -> Option<f64> {
        match (self.measured, self.bound) {
            (Some(measured), Some((bound, _))) if bound > 0.0 => Some(measured / bound),
            _ => None,
        }
    }

    fn met(&self) -> Option<bool> {
        self.held.met(self.measured, self.ratio())
    }
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
            held: Held::ShareOfBound(1.0),
        },
        Line {
            target: "intake p99 at 64 clients ≤ 25 ms (receiver alone)",
            measured: receiver_at(64, "/latency/p99_ms"),
            unit: "ms",
            bound: None,
            held: Held::AtMost(25.0),
        },
        Line {
            target: "intake at 64 clients ≥ 100% of pgbench (whole system running)",
            measured: system64,
            unit: "req/s",
            bound: pg64.map(|tps| (tps, "pgbench tps, 64 clients")),
            held: Held::ShareOfBound(1.0),
        },
        Line {
            target: "intake p99 at 64 clients ≤ 25 ms (whole system running)",
            measured: intake_at(64, "/latency/p99_ms"),
            unit: "ms",
            bound: None,
            held: Held::AtMost(25.0),
        },
        Line {
            target: "outbox backlog after 64-client intake < 1,000",
            measured: backlog,
            unit: "events",
            bound: None,
            held: Held::Below(1000.0),
        },
        Line {
            target: "outbox drains within 1 s",
            measured: drain,
            unit: "s",
            bound: None,
            held: Held::AtMost(1.0),
        },
        Line {
            target: "POST → Sent ≥ 1,000 req/s sustained (BZI in process)",
            measured: at(report, "/pipeline-in-process/sent/perSecond"),
            unit: "req/s",
            bound: at(report, "/broker/confirmedPublishesPerSecond").map(|b| (b, "raw confirmed publishes/s")),
            held: Held::AtLeast(1000.0),
        },
        Line {
            target: "POST → Sent ≥ 1,000 req/s sustained (BZI on Azurite)",
            measured: at(report, "/pipeline/sent/perSecond"),
            unit: "req/s",
            bound: None,
            held: Held::AtLeast(1000.0),
        },
        Line {
            target: "POST → Succeeded ≥ 80% of half Azurite's cycle rate",
            measured: succeeded,
            unit: "req/s",
            bound: half_azurite.map(|b| (b, "half of Azurite put+get+delete cycles/s")),
            held: Held::ShareOfBound(0.8),
        },
        Line {
            target: "POST → Sent p99 ≤ 50 ms at 200 req/s (BZI in process)",
            measured: at(report, "/steady-200-in-process/latency/p99_ms"),
            unit: "ms",
            bound: None,
            held: Held::AtMost(50.0),
        },
        Line {
            target: "POST → Sent p99 ≤ 50 ms at 200 req/s (BZI on Azurite)",
            measured: at(report, "/steady-200/latency/p99_ms"),
            unit: "ms",
            bound: None,
            held: Held::AtMost(50.0),
        },
        Line {
            target: "POST → Succeeded p50 ≤ 1.5 s at 1 req/s, 500 ms reply delay",
            measured: at(report, "/latency-1rps/latency/p50_ms"),
            unit: "ms",
            bound: None,
            held: Held::AtMost(1500.0),
        },
        Line {
            target: "startup recovery re-emits 100,000 stalled requests at ≥ 10,000/s",
            measured: at(report, "/recovery/perSecond"),
            unit: "req/s",
            bound: None,
            held: Held::AtLeast(10_000.0),
        },
        Line {
            target: "intake p99 ≤ 50 ms while recovery runs",
            measured: at(report, "/recovery/liveLatency/p99_ms"),
            unit: "ms",
            bound: None,
            held: Held::AtMost(50.0),
        },
        Line {
            target: "intake p99 during a pruning pass ≤ 2 × before it (1,000,000 terminal requests)",
            measured: at(report, "/prune/p99Ratio"),
            unit: "×",
            bound: None,
            held: Held::AtMost(2.0),
        },
        Line {
            target: "each worker ≤ 15 MB RSS idle",
            measured: largest(report, "/processes-idle", WORKERS, "rssMb"),
            unit: "MB",
            bound: None,
            held: Held::AtMost(15.0),
        },
        Line {
            target: "each worker ≤ 40 MB RSS under load (peak)",
            measured: largest(report, "/pipeline/processesAfter", WORKERS, "peakRssMb"),
            unit: "MB",
            bound: None,
            held: Held::AtMost(40.0),
        },
        Line {
            target: "receiver ≤ 60 MB RSS under load (peak)",
            measured: largest(report, "/pipeline/processesAfter", &["http-receiver"], "peakRssMb"),
            unit: "MB",
            bound: None,
            held: Held::AtMost(60.0),
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

fn met_word(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "yes",
        Some(false) => "no",
        None => "?",
    }
}

fn ratio_text(ratio: Option<f64>) -> String {
    ratio.map(|r| format!("{:.0}%", r * 100.0)).unwrap_or_default()
}

fn bound_text(bound: Option<(f64, &str)>) -> String {
    bound.map(|(b, what)| format!("{} ({what})", figure(Some(b)))).unwrap_or_default()
}

/// The table of one run and what its pipeline runs cost the machine.
fn summary(report: &Value) -> String {
    let mut text = String::from("| target | measured | bound | ratio | met |\n|---|---|---|---|---|\n");
    for line in lines(report) {
        let _ = writeln!(
            text,
            "| {} | {} {} | {} | {} | {} |",
            line.target,
            figure(line.measured),
            line.unit,
            bound_text(line.bound),
            ratio_text(line.ratio()),
            met_word(line.met())
        );
    }
    text.push_str(&costs(report));
    text
}

/// Where the machine's CPU went in the pipeline runs, and how deep the
/// Azure queues grew.
fn costs(report: &Value) -> String {
    let mut text = String::new();
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

/// Writes `report.json` and `summary.md` of one run into its directory
/// `dir`; answers the report.
pub fn write(dir: &Path) -> anyhow::Result<Value> {
    let mut report = measurements(dir)?;
    let targets: Vec<Value> = lines(&Value::Object(report.clone()))
        .into_iter()
        .map(|l| {
            json!({ "target": l.target, "measured": l.measured, "unit": l.unit, "bound": l.bound.map(|b| b.0),
                    "ratio": l.ratio(), "met": l.met() })
        })
        .collect();
    report.insert("targets".to_owned(), Value::Array(targets));
    let report = Value::Object(report);
    std::fs::write(dir.join("report.json"), serde_json::to_string_pretty(&report)?)?;
    std::fs::write(dir.join("summary.md"), summary(&report))?;
    Ok(report)
}

/// The reports of the runs in `dir` (`run-1/report.json`, `run-2/…`), in
/// their order.
fn runs(dir: &Path) -> anyhow::Result<Vec<Value>> {
    let mut numbered = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let number = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_prefix("run-")?.parse::<u32>().ok());
        if let Some(number) = number {
            numbered.push((number, path.join("report.json")));
        }
    }
    numbered.sort();
    numbered
        .into_iter()
        .map(|(_, path)| {
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
        })
        .collect()
}

/// The median of `values`, if every run has one (the mean of the middle two
/// of an even count).
fn median(values: &[Option<f64>]) -> Option<f64> {
    let mut values: Vec<f64> = values.iter().copied().collect::<Option<_>>()?;
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len().is_multiple_of(2) { (values[middle - 1] + values[middle]) / 2.0 } else { values[middle] })
}

/// One target over several runs: the median figure, the median bound, and
/// the median of the ratios, each ratio to the bound of its own run.
struct Medians {
    target: &'static str,
    unit: &'static str,
    what: Option<&'static str>,
    held: Held,
    measured: Vec<Option<f64>>,
    bounds: Vec<Option<f64>>,
    ratios: Vec<Option<f64>>,
}

impl Medians {
    fn of(reports: &[Value]) -> Vec<Medians> {
        let per_run: Vec<Vec<Line>> = reports.iter().map(lines).collect();
        let Some(first) = per_run.first() else { return Vec::new() };
        first
            .iter()
            .enumerate()
            .map(|(index, line)| Medians {
                target: line.target,
                unit: line.unit,
                what: per_run.iter().find_map(|run| run[index].bound.map(|b| b.1)),
                held: line.held,
                measured: per_run.iter().map(|run| run[index].measured).collect(),
                bounds: per_run.iter().map(|run| run[index].bound.map(|b| b.0)).collect(),
                ratios: per_run.iter().map(|run| run[index].ratio()).collect(),
            })
            .collect()
    }

    fn measured(&self) -> Option<f64> {
        median(&self.measured)
    }

    fn bound(&self) -> Option<f64> {
        self.what.and(median(&self.bounds))
    }

    fn ratio(&self) -> Option<f64> {
        self.what.and(median(&self.ratios))
    }

    fn met(&self) -> Option<bool> {
        self.held.met(self.measured(), self.ratio())
    }
}

/// The table of several runs: each target's median beside each run's figure.
fn median_summary(reports: &[Value]) -> String {
    let mut text = match reports.len() {
        1 => String::from("One run.\n\n"),
        runs => format!("Medians of {runs} runs; a ratio is to the bound of the same run, and the median of the runs' ratios.\n\n"),
    };
    text.push_str(
        "| target | measured (median) | bound (median) | ratio (median) | met | each run |\n|---|---|---|---|---|---|\n",
    );
    for target in Medians::of(reports) {
        let each: Vec<String> = target.measured.iter().map(|m| figure(*m)).collect();
        let _ = writeln!(
            text,
            "| {} | {} {} | {} | {} | {} | {} |",
            target.target,
            figure(target.measured()),
            target.unit,
            bound_text(target.bound().zip(target.what)),
            ratio_text(target.ratio()),
            met_word(target.met()),
            each.join(", ")
        );
    }
    for (number, report) in reports.iter().enumerate() {
        let costs = costs(report);
        if !costs.is_empty() {
            let _ = write!(text, "\n#### Run {}\n{costs}", number + 1);
        }
    }
    text
}

/// Writes the report of the runs in `dir` (each `run-N/report.json`):
/// `report.json` with every run and each target's medians, and
/// `summary.md`; answers the report.
pub fn write_medians(dir: &Path) -> anyhow::Result<Value> {
    let reports = runs(dir)?;
    anyhow::ensure!(!reports.is_empty(), "{} holds no run-N/report.json", dir.display());
    let targets: Vec<Value> = Medians::of(&reports)
        .iter()
        .map(|t| {
            json!({ "target": t.target, "unit": t.unit, "measured": t.measured(), "bound": t.bound(),
                    "ratio": t.ratio(), "met": t.met(), "runs": t.measured })
        })
        .collect();
    let report = json!({ "machine": reports[0]["machine"], "targets": targets, "runs": reports });
    std::fs::write(dir.join("report.json"), serde_json::to_string_pretty(&report)?)?;
    std::fs::write(dir.join("summary.md"), median_summary(&reports))?;
    Ok(report)
}

/// The measurements every run's report holds, one file of its directory each.
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
        "prune",
        "processes-idle",
        "pgbench",
        "pgbench-key",
        "broker",
        "azurite",
    ];

/// The form of one run's report: every measurement there, and a figure for
/// every target.
fn check_run(report: &Value) -> Result<(), String> {
    let missing: Vec<&str> = MEASUREMENTS.iter().copied().filter(|name| report.get(name).is_none()).collect();
    let unmeasured: Vec<&str> = lines(report).into_iter().filter(|l| l.measured.is_none()).map(|l| l.target).collect();
    if missing.is_empty() && unmeasured.is_empty() {
        Ok(())
    } else {
        Err(format!("measurements missing: {missing:?}; targets without a figure: {unmeasured:?}"))
    }
}

/// The form of the report of a bench command: at least one run, every run
/// well formed, and a median figure for every target.
pub fn check(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let report: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let Some(reports) = report["runs"].as_array().filter(|runs| !runs.is_empty()) else {
        anyhow::bail!("{}: no runs", path.display());
    };
    for (number, run) in reports.iter().enumerate() {
        check_run(run).map_err(|problem| anyhow::anyhow!("{}, run {}: {problem}", path.display(), number + 1))?;
    }
    let targets = report["targets"].as_array().map(Vec::as_slice).unwrap_or_default();
    let without: Vec<&str> =
        targets.iter().filter(|t| t["measured"].as_f64().is_none()).filter_map(|t| t["target"].as_str()).collect();
    if targets.len() != lines(&reports[0]).len() || !without.is_empty() {
        anyhow::bail!("{}: {} targets, these without a median: {without:?}", path.display(), targets.len());
    }
    Ok(json!({ "report": path.display().to_string(), "runs": reports.len(), "measurements": MEASUREMENTS.len(),
               "targets": targets.len() }))
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
        std::fs::write(&path, r#"{"runs": [{"machine": {}, "intake": []}], "targets": []}"#).unwrap();
        let error = check(&path).unwrap_err().to_string();
        assert!(error.contains("run 1") && error.contains("pipeline") && error.contains("intake p99"), "{error}");
        std::fs::write(&path, r#"{"runs": [], "targets": []}"#).unwrap();
        assert!(check(&path).unwrap_err().to_string().contains("no runs"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn several_runs_give_the_median_of_each_figure_and_of_the_ratios_to_their_own_bounds() {
        let dir = std::env::temp_dir().join(format!("bench-medians-{}", std::process::id()));
        for (number, (intake, tps)) in [(2000.0, 2500.0), (3000.0, 2000.0), (2500.0, 3000.0)].iter().enumerate() {
            let run = dir.join(format!("run-{}", number + 1));
            std::fs::create_dir_all(&run).unwrap();
            let report = json!({
                "machine": { "cores": 2 },
                "intake-receiver": [{ "clients": 64, "accepted_per_second": intake, "latency": { "p99_ms": 10.0 * (number as f64 + 1.0) } }],
                "pgbench": { "runs": [{ "clients": 64, "tps": tps }] },
            });
            std::fs::write(run.join("report.json"), report.to_string()).unwrap();
        }
        let report = write_medians(&dir).unwrap();
        let intake = &report["targets"][0];
        // 2500 of 2500 would be met; the runs' own ratios are 80%, 150% and
        // 83%, so the median ratio is 83% and the target is not.
        assert_eq!(intake["measured"], json!(2500.0));
        assert_eq!(intake["bound"], json!(2500.0));
        assert!((intake["ratio"].as_f64().unwrap() - 2500.0 / 3000.0).abs() < 1e-9, "{intake}");
        assert_eq!(intake["met"], json!(false));
        assert_eq!(report["targets"][1]["measured"], json!(20.0));
        assert_eq!(report["targets"][1]["met"], json!(true));
        assert_eq!(report["runs"].as_array().unwrap().len(), 3);
        let text = std::fs::read_to_string(dir.join("summary.md")).unwrap();
        assert!(text.starts_with("Medians of 3 runs"), "{text}");
        assert!(
            text.contains("| intake p99 at 64 clients ≤ 25 ms (receiver alone) | 20.00 ms |  |  | yes | 10.00, 20.00, 30.00 |"),
            "{text}"
        );
        assert!(text.contains("| 2500 req/s | 2500 (pgbench tps, 64 clients) | 83% | no | 2000, 3000, 2500 |"), "{text}");
        // A target no run measured has no median.
        assert!(text.contains("| outbox drains within 1 s | not measured s |  |  | ? |"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
