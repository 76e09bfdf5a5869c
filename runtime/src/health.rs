//! What every process says about itself on `healthz` and in its heartbeat
//! (SPEC §7): who it is (process, instance, host, pid, version, start time),
//! how much it uses (resident memory, CPU time and the share of a core since
//! the last look), and the HTTP requests it answered, by route and status.
//!
//! Memory and CPU come from `/proc/self` (Linux, where linebacker runs); on
//! a system without it they read as `null` rather than as a made-up zero.

use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::metrics::metrics;

/// Clock ticks per second of `/proc/<pid>/stat`'s CPU times. Linux exposes
/// `USER_HZ` to user space, which is 100 on every architecture it supports.
const USER_HZ: f64 = 100.0;

/// The line of `/proc/self/status` with the resident set size, in kB.
const STATUS_RSS: &str = "VmRSS:";

/// One process of the system, as it names itself.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// The program: `http-receiver`, `check-allowed`, ...
    pub process: String,
    pub instance: u16,
    /// `<process>-<instance>`, as logs and the broker name it.
    pub name: String,
    pub host: String,
    pub pid: u32,
    pub version: String,
    pub started_at: DateTime<Utc>,
}

impl Identity {
    /// This process, starting now.
    pub fn this_process(process: &str, instance: u16) -> Self {
        Self {
            process: process.to_owned(),
            instance,
            name: format!("{process}-{instance}"),
            host: host_name(),
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: Utc::now(),
        }
    }

    /// Host and name together (`process_key`).
    pub fn key(&self) -> String {
        process_key(&self.host, &self.name)
    }
}

/// The host's name, from the kernel, else `HOSTNAME`, else `unknown`.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Resident memory in bytes, from `/proc/self/status`.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_rss_kib(&status).map(|kib| kib * 1024)
}

fn parse_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with(STATUS_RSS))?;
    line[STATUS_RSS.len()..].split_whitespace().next()?.parse().ok()
}

/// CPU time used so far (user + system), in seconds, from `/proc/self/stat`.
pub fn cpu_seconds() -> Option<f64> {
    parse_cpu_seconds(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

fn parse_cpu_seconds(stat: &str) -> Option<f64> {
    // The command name (field 2) is in parentheses and may hold spaces: count
    // the fields after its closing parenthesis. utime and stime are fields
    // 14 and 15 of the line, so the 12th and 13th after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / USER_HZ)
}

/// Reads the process's usage; remembers the last reading, so that each
/// gives the share of one core used since the one before.
pub struct UsageMeter {
    last: Mutex<Option<(Instant, f64)>>,
}

impl Default for UsageMeter {
    fn default() -> Self {
        Self::new()
    }
}

impl UsageMeter {
    pub fn new() -> Self {
        Self { last: Mutex::new(cpu_seconds().map(|seconds| (Instant::now(), seconds))) }
    }

    /// `{memory: {residentBytes}, cpu: {seconds, percentSinceLast}}`.
    pub fn read(&self) -> Value {
        let now = Instant::now();
        let seconds = cpu_seconds();
        let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let percent = match (*last, seconds) {
            (Some((then, before)), Some(seconds)) => {
                let wall = now.duration_since(then).as_secs_f64();
                (wall > 0.0).then(|| ((seconds - before) / wall * 100.0 * 10.0).round() / 10.0)
            }
            _ => None,
        };
        if let Some(seconds) = seconds {
            *last = Some((now, seconds));
        }
        json!({
            "memory": { "residentBytes": resident_bytes() },
            "cpu": { "seconds": seconds, "percentSinceLast": percent },
        })
    }
}

/// HTTP requests this process answered, by route, method and status, from
/// its metrics: `[{route, method, status, count}]`.
pub fn http_counts() -> Value {
    let families = metrics().gather_http_requests();
    let counts: Vec<Value> = families
        .into_iter()
        .map(|(labels, count)| {
            let label = |name: &str| labels.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone());
            json!({
                "route": label("route"),
                "method": label("method"),
                "status": label("status").and_then(|status| status.parse::<u16>().ok()),
                "count": count,
            })
        })
        .collect();
    Value::from(counts)
}

/// Whether a process can work now, and the state of what it depends on,
/// as its probes and health pages tell it.
pub struct Readiness {
    /// Its dependencies are usable.
    pub ready: bool,
    /// It is shutting down.
    pub stopping: bool,
    /// `{database: up|down, broker: ..., ...}`.
    pub dependencies: Value,
}

impl Readiness {
    /// Whether `readyz` answers 200: ready, and not stopping.
    pub fn serving(&self) -> bool {
        self.ready && !self.stopping
    }

    /// `readyz`'s body, the same on every process:
    /// `{status: ready | not ready | stopping, dependencies}`.
    pub fn body(&self) -> Value {
        let status = match (self.stopping, self.ready) {
            (true, _) => "stopping",
            (false, true) => "ready",
            (false, false) => "not ready",
        };
        json!({ "status": status, "dependencies": self.dependencies })
    }
}

/// `livez`'s body: `{status: live | stopping}`.
pub fn liveness(stopping: bool) -> Value {
    json!({ "status": if stopping { "stopping" } else { "live" } })
}

/// The part of `healthz` every process shares: who it is, what it uses,
/// its readiness and the HTTP requests it answered.
pub fn common_health(identity: &Identity, usage: &UsageMeter, readiness: Readiness) -> Value {
    let mut health = serde_json::to_value(identity).unwrap_or_else(|_| json!({}));
    let uptime = (Utc::now() - identity.started_at).num_seconds().max(0);
    if let Value::Object(fields) = &mut health {
        fields.insert("uptimeSeconds".to_owned(), Value::from(uptime));
        if let Value::Object(usage) = usage.read() {
            fields.extend(usage);
        }
        fields.insert("http".to_owned(), http_counts());
        fields.insert("ready".to_owned(), readiness.ready.into());
        fields.insert("stopping".to_owned(), readiness.stopping.into());
        fields.insert("dependencies".to_owned(), readiness.dependencies);
    }
    health
}

/// `host/name`: one process of the system, wherever it runs.
pub fn process_key(host: &str, name: &str) -> String {
    format!("{host}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_is_read_from_the_status_file_in_kib() {
        let status = "Name:\tlinebacker\nVmPeak:\t  20000 kB\nVmRSS:\t   12345 kB\nThreads:\t4\n";
        assert_eq!(parse_rss_kib(status), Some(12345));
        assert_eq!(parse_rss_kib("Name:\tx\n"), None);
    }

    #[test]
    fn cpu_time_is_user_plus_system_after_a_command_name_with_spaces() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
        let stat = "42 (a (weird) name) S 1 42 42 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 4 0";
        assert_eq!(parse_cpu_seconds(stat), Some(3.0));
        assert_eq!(parse_cpu_seconds("garbage"), None);
    }

    #[test]
    fn this_process_reads_its_own_memory_and_cpu() {
        let meter = UsageMeter::new();
        let busy: u64 = (0..2_000_000u64).map(|n| n % 7).sum();
        assert!(busy > 0);
        let usage = meter.read();
        assert!(usage["memory"]["residentBytes"].as_u64().unwrap_or(0) > 1024 * 1024, "{usage}");
        assert!(usage["cpu"]["seconds"].as_f64().is_some(), "{usage}");
        assert!(usage["cpu"]["percentSinceLast"].as_f64().is_some(), "{usage}");
    }

    #[test]
    fn readyz_says_stopping_before_anything_else() {
        let readiness = |ready, stopping| Readiness { ready, stopping, dependencies: json!({"database": "up"}) };
        assert_eq!(readiness(true, false).body(), json!({"status": "ready", "dependencies": {"database": "up"}}));
        assert!(readiness(true, false).serving());
        assert_eq!(readiness(false, false).body()["status"], "not ready");
        assert_eq!(readiness(true, true).body()["status"], "stopping");
        assert!(!readiness(true, true).serving());
        assert_eq!(liveness(true), json!({"status": "stopping"}));
    }

    #[test]
    fn answered_http_requests_show_by_route_and_status() {
        metrics().observe_http("/healthz-test-route", "GET", 200, std::time::Duration::from_millis(1));
        metrics().observe_http("/healthz-test-route", "GET", 200, std::time::Duration::from_millis(1));
        let counts = http_counts();
        let ours: Vec<&Value> =
            counts.as_array().into_iter().flatten().filter(|c| c["route"] == "/healthz-test-route").collect();
        assert_eq!(ours.len(), 1, "{counts}");
        assert_eq!(ours[0]["status"], 200);
        assert_eq!(ours[0]["count"], 2);
        assert_eq!(ours[0]["method"], "GET");
    }
}
