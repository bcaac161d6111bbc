//! A running container's resources from the engine's stats stream: CPU %, memory used and
//! its limit.
//!
//! CPU % needs two readings: the stream gives each with the one before it, and the first has
//! none, which is why one-shot samples read 0. The sums follow the docker CLI's, so Berth and
//! `docker stats` agree.

use bollard::models::{ContainerCpuStats, ContainerMemoryStats, ContainerStatsResponse};
use serde::Serialize;

/// One reading, as the Container tab shows it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    /// When the engine read it, in ms since the epoch.
    pub at_ms: i64,
    /// Percent of one CPU: 200 is two CPUs fully busy. `None` until two readings exist.
    pub cpu_percent: Option<f64>,
    /// Memory in use without the page cache the kernel can take back.
    pub memory_used: Option<u64>,
    pub memory_limit: Option<u64>,
    /// The data directory's size, on the readings that measured it.
    pub data_bytes: Option<u64>,
}

/// Turns one message of the stats stream into a sample.
pub fn sample(reading: &ContainerStatsResponse) -> Sample {
    let memory = reading.memory_stats.as_ref();
    Sample {
        at_ms: reading.read.as_ref().map_or(0, read_ms),
        cpu_percent: match (&reading.cpu_stats, &reading.precpu_stats) {
            (Some(now), Some(before)) => cpu_percent(now, before),
            _ => None,
        },
        memory_used: memory.and_then(memory_used),
        memory_limit: memory.and_then(|m| m.limit).filter(|l| *l > 0),
        data_bytes: None,
    }
}

/// The container's share of the host's CPU time between two readings, times the CPUs.
fn cpu_percent(now: &ContainerCpuStats, before: &ContainerCpuStats) -> Option<f64> {
    let total = |s: &ContainerCpuStats| s.cpu_usage.as_ref().and_then(|u| u.total_usage);
    let (used_now, used_before) = (total(now)?, total(before)?);
    let (system_now, system_before) = (now.system_cpu_usage?, before.system_cpu_usage?);
    if used_before == 0 || system_before == 0 {
        return None; // The first reading has nothing before it.
    }
    let used = used_now.checked_sub(used_before)? as f64;
    let system = system_now.checked_sub(system_before)? as f64;
    if system <= 0.0 {
        return None;
    }
    let cpus = now.online_cpus.filter(|n| *n > 0).unwrap_or(1);
    Some(used / system * f64::from(cpus) * 100.0)
}

/// Usage without the inactive page cache: `inactive_file` on cgroup v2, `total_inactive_file`
/// on v1, as the docker CLI counts it.
fn memory_used(memory: &ContainerMemoryStats) -> Option<u64> {
    let usage = memory.usage?;
    let stats = memory.stats.as_ref();
    let cache = stats
        .and_then(|s| s.get("total_inactive_file").or_else(|| s.get("inactive_file")))
        .copied()
        .unwrap_or(0);
    Some(if cache < usage { usage - cache } else { usage })
}

fn read_ms(read: &bollard::models::BollardDate) -> i64 {
    let text = read.to_string();
    ::time::OffsetDateTime::parse(&text, &::time::format_description::well_known::Rfc3339)
        .map(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two consecutive messages of a real stream (dockerd 20.10, cgroup v1), a busy loop
    /// starting in the container.
    const RECORDED: &str = include_str!("../../../tests/fixtures/stats-cgroup-v1.jsonl");

    fn recorded() -> Vec<ContainerStatsResponse> {
        RECORDED.lines().map(|l| serde_json::from_str(l).expect("a stats message")).collect()
    }

    #[test]
    fn the_first_reading_has_no_cpu_figure() {
        let first = sample(&recorded()[0]);
        assert_eq!(first.cpu_percent, None, "one reading cannot give a rate");
        assert_eq!(first.memory_used, Some(1_089_536), "no inactive file cache to take off");
        assert_eq!(first.memory_limit, Some(25_276_071_936));
    }

    #[test]
    fn cpu_is_the_share_of_host_time_times_the_cpus() {
        let second = sample(&recorded()[1]);
        // (882804032 - 364039979) / (22977530000000 - 22975530000000) * 2 CPUs * 100
        let expected = 518_764_053.0 / 2_000_000_000.0 * 2.0 * 100.0;
        let cpu = second.cpu_percent.expect("a rate");
        assert!((cpu - expected).abs() < 1e-9, "{cpu} != {expected}");
        assert!(second.at_ms > 1_796_000_000_000, "read time in ms: {}", second.at_ms);
    }

    #[test]
    fn cgroup_v2_cache_is_not_counted_as_used() {
        let memory = ContainerMemoryStats {
            usage: Some(10_000),
            limit: Some(50_000),
            stats: Some([("inactive_file".to_owned(), 4_000)].into_iter().collect()),
            ..Default::default()
        };
        assert_eq!(memory_used(&memory), Some(6_000));
        let odd = ContainerMemoryStats {
            usage: Some(1_000),
            stats: Some([("inactive_file".to_owned(), 4_000)].into_iter().collect()),
            ..Default::default()
        };
        assert_eq!(memory_used(&odd), Some(1_000), "never below zero");
    }

    #[test]
    fn counters_that_went_back_give_no_figure() {
        let mut readings = recorded();
        let second = &mut readings[1];
        let before = second.precpu_stats.clone();
        second.precpu_stats = second.cpu_stats.clone();
        second.cpu_stats = before;
        assert_eq!(sample(second).cpu_percent, None, "a restarted container's counters");
    }
}
