//! Memory and CPU of running processes, from `/proc/<pid>/status` and
//! `/proc/<pid>/stat` (what `ps` reads).

use std::collections::BTreeMap;

use anyhow::{Context, anyhow};
use serde_json::{Value, json};

/// `name=pid`, as the bench script passes each process.
pub fn parse_named_pid(text: &str) -> Result<(String, u32), String> {
    let (name, pid) = text.split_once('=').ok_or_else(|| format!("{text:?} is not name=pid"))?;
    let pid = pid.parse().map_err(|_| format!("{pid:?} is not a process id"))?;
    Ok((name.to_owned(), pid))
}

/// Kernel clock ticks per second, the unit of `/proc/<pid>/stat`'s times.
fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}

/// User plus system CPU seconds the process has used, all threads.
fn cpu_of(pid: u32, ticks: f64) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).with_context(|| format!("process {pid}"))?;
    // The command name may hold spaces; the fields after it do not.
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.split(' ').collect())
        .ok_or_else(|| anyhow!("unreadable /proc/{pid}/stat"))?;
    let field = |i: usize| -> anyhow::Result<f64> {
        Ok(fields.get(i).ok_or_else(|| anyhow!("short /proc/{pid}/stat"))?.parse::<f64>()?)
    };
    // utime and stime: fields 14 and 15 of stat(5), counted from the state (3).
    Ok((field(11)? + field(12)?) / ticks)
}

/// A `kB` line of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in MB.
fn status_mb(status: &str, key: &str) -> Option<f64> {
    let line = status.lines().find(|line| line.starts_with(key))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub fn cpu_seconds(pids: &[(String, u32)]) -> anyhow::Result<BTreeMap<String, f64>> {
    let ticks = ticks_per_second();
    pids.iter().map(|(name, pid)| Ok((name.clone(), cpu_of(*pid, ticks)?))).collect()
}

/// Each process's resident memory now (`rssMb`), its peak since it started
/// (`peakRssMb`, the kernel's high-water mark) and its CPU seconds.
pub fn sample_all(pids: &[(String, u32)]) -> anyhow::Result<Value> {
    let ticks = ticks_per_second();
    let mut processes = serde_json::Map::new();
    for (name, pid) in pids {
        let status =
            std::fs::read_to_string(format!("/proc/{pid}/status")).with_context(|| format!("process {name} ({pid})"))?;
        processes.insert(
            name.clone(),
            json!({
                "pid": pid,
                "rssMb": status_mb(&status, "VmRSS:"),
                "peakRssMb": status_mb(&status, "VmHWM:"),
                "cpuSeconds": cpu_of(*pid, ticks)?,
            }),
        );
    }
    Ok(Value::Object(processes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn this_process_has_memory_and_a_peak_at_least_as_high() {
        let me = std::process::id();
        let sample = sample_all(&[("bench".to_owned(), me)]).unwrap();
        let rss = sample["bench"]["rssMb"].as_f64().unwrap();
        let peak = sample["bench"]["peakRssMb"].as_f64().unwrap();
        assert!(rss > 0.0 && peak >= rss, "{sample}");
        assert!(sample["bench"]["cpuSeconds"].as_f64().unwrap() >= 0.0);
    }

    #[test]
    fn a_named_pid_needs_a_name_and_a_number() {
        assert_eq!(parse_named_pid("check-allowed-0=42").unwrap(), ("check-allowed-0".to_owned(), 42));
        assert!(parse_named_pid("check-allowed").is_err());
        assert!(parse_named_pid("x=abc").is_err());
    }
}
