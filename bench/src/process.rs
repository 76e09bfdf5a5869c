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

/// The CPU time of the whole machine: busy and idle seconds of all cores
/// (`/proc/stat`) and the CPU seconds of every running process, summed by
/// command name (`postgres` for all its backends, `beam.smp` for RabbitMQ,
/// `node` for Azurite and PM2, and linebacker's own processes).
pub struct MachineCpu {
    busy: f64,
    idle: f64,
    by_command: BTreeMap<String, f64>,
}

impl MachineCpu {
    pub fn sample() -> anyhow::Result<Self> {
        let ticks = ticks_per_second();
        let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
        let cpu: Vec<f64> = stat
            .lines()
            .next()
            .filter(|line| line.starts_with("cpu "))
            .ok_or_else(|| anyhow!("/proc/stat has no cpu line"))?
            .split_whitespace()
            .skip(1)
            .map(|field| field.parse::<f64>().map(|t| t / ticks))
            .collect::<Result<_, _>>()?;
        // user nice system idle iowait irq softirq steal (guest time is in user).
        let field = |i: usize| cpu.get(i).copied().unwrap_or(0.0);
        let idle = field(3) + field(4);
        let busy = field(0) + field(1) + field(2) + field(5) + field(6) + field(7);
        let mut by_command = BTreeMap::new();
        for entry in std::fs::read_dir("/proc")? {
            let Ok(pid) = entry?.file_name().to_string_lossy().parse::<u32>() else { continue };
            // A process may end between the listing and the read.
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
            let Some(command) = stat.split_once(" (").and_then(|(_, rest)| rest.rsplit_once(") ")).map(|(c, _)| c)
            else {
                continue;
            };
            if let Ok(seconds) = cpu_of(pid, ticks) {
                *by_command.entry(command.to_owned()).or_insert(0.0) += seconds;
            }
        }
        Ok(Self { busy, idle, by_command })
    }

    /// What the machine spent between `before` and this sample: how busy
    /// its cores were, and the CPU seconds per 1,000 `requests` of every
    /// command that used a noticeable share, with their sum.
    pub fn since(&self, before: &Self, requests: usize) -> Value {
        let busy = self.busy - before.busy;
        let total = busy + (self.idle - before.idle);
        let per_thousand = |seconds: f64| seconds * 1000.0 / requests.max(1) as f64;
        let mut commands: Vec<(&String, f64)> = self
            .by_command
            .iter()
            .map(|(command, after)| (command, after - before.by_command.get(command).copied().unwrap_or(0.0)))
            .filter(|(_, spent)| *spent >= 0.05)
            .collect();
        commands.sort_by(|a, b| b.1.total_cmp(&a.1));
        let listed: serde_json::Map<String, Value> =
            commands.iter().map(|(command, spent)| ((*command).clone(), json!(per_thousand(*spent)))).collect();
        json!({
            "busyShare": if total > 0.0 { busy / total } else { 0.0 },
            "busyCpuSecondsPer1000Requests": per_thousand(busy),
            "cpuSecondsPer1000RequestsByCommand": listed,
        })
    }
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
    fn the_machine_is_sampled_with_this_process_among_its_commands() {
        let before = MachineCpu::sample().unwrap();
        let spin = std::time::Instant::now();
        while spin.elapsed() < std::time::Duration::from_millis(200) {
            std::hint::black_box(0_u64.wrapping_add(1));
        }
        let after = MachineCpu::sample().unwrap();
        assert!(after.by_command.keys().any(|command| command.starts_with("linebacker")), "{:?}", after.by_command);
        let spent = after.since(&before, 1000);
        let share = spent["busyShare"].as_f64().unwrap();
        assert!(share > 0.0 && share <= 1.0, "{spent}");
        assert!(spent["busyCpuSecondsPer1000Requests"].as_f64().unwrap() > 0.0, "{spent}");
    }

    #[test]
    fn a_named_pid_needs_a_name_and_a_number() {
        assert_eq!(parse_named_pid("check-allowed-0=42").unwrap(), ("check-allowed-0".to_owned(), 42));
        assert!(parse_named_pid("check-allowed").is_err());
        assert!(parse_named_pid("x=abc").is_err());
    }
}
