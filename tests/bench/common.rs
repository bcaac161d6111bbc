//! What the benchmarks share: the docker CLI, timing Berth's operations phase by phase, and
//! printing figures beside the CLI's. Each benchmark uses part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use berth_core::engine::link::EngineStatus;
use berth_core::operations::{OperationEvent, Outcome, Phase, Progress, Watcher};
use berth_core::{Berth, Config};

/// The label on everything the benchmarks make, Berth's and the CLI's alike, by which a killed
/// run's leftovers are found and removed.
pub const LABEL: &str = "io.berth.test=bench";

/// Starts Berth on a store in `dir`, labelling what it makes with [`LABEL`], and waits until
/// it has reached the engine.
pub fn start_berth(runtime: &tokio::runtime::Runtime, dir: &Path) -> Berth {
    let mut config = Config::new(dir.join("berth.db"));
    config.labels = BTreeMap::from([("io.berth.test".to_owned(), "bench".to_owned())]);
    let berth = runtime.block_on(Berth::start(config)).expect("berth starts");
    let status = runtime.block_on(berth.engine_settled());
    assert!(matches!(status, EngineStatus::Connected { .. }), "no engine: {status:?}");
    berth
}

/// Runs the docker CLI; a failure is printed, and returned as false.
pub fn docker(args: &[&str]) -> bool {
    let out = Command::new("docker").args(args).output().expect("docker CLI runs");
    if !out.status.success() {
        eprintln!("docker {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    out.status.success()
}

/// The lines the docker CLI prints, each once.
pub fn docker_lines(args: &[&str]) -> Vec<String> {
    let out = Command::new("docker").args(args).output().expect("docker CLI runs");
    let mut lines: Vec<String> =
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
    lines.sort();
    lines.dedup();
    lines
}

/// Removes the labelled containers and volumes, a killed run's included.
pub fn remove_labelled() {
    let label = format!("label={LABEL}");
    for id in docker_lines(&["ps", "-aq", "--filter", &label]) {
        docker(&["rm", "-f", &id]);
    }
    for id in docker_lines(&["volume", "ls", "-q", "--filter", &label]) {
        docker(&["volume", "rm", "-f", &id]);
    }
}

/// The CLI making what Berth's Create makes: a labelled volume for `/data`, and a labelled
/// container of `image` with an init, idling, that mounts it.
pub fn docker_create_idle(name: &str, volume: &str, image: &str) {
    assert!(docker(&["volume", "create", "--label", LABEL, volume]));
    let mount = format!("{volume}:/data");
    let args = ["--name", name, "--label", LABEL, "--init", "-v", &mount, "--entrypoint", "tail"];
    assert!(docker(&[&["create"][..], &args, &[image, "-f", "/dev/null"]].concat()));
}

/// Removes the host directories of runs that were killed: each holds a gigabyte or two.
pub fn remove_old_dirs(prefix: &str) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(prefix) {
            if let Err(error) = std::fs::remove_dir_all(entry.path()) {
                eprintln!("{}: {error}", entry.path().display());
            }
        }
    }
}

/// How long one operation took, and how long each of Berth's phases lasted in it.
pub struct Timed {
    total: Duration,
    phases: Vec<(Phase, Duration)>,
}

impl Timed {
    /// An import is preparing twice, before and after the check: a phase lasted all its spans.
    /// A phase that no message named lasted less than the gap between two messages.
    pub fn lasted(&self, phase: Phase) -> Duration {
        self.phases.iter().filter(|(p, _)| *p == phase).map(|(_, lasted)| *lasted).sum()
    }
}

/// Follows a Berth operation to its end; a phase lasts from the first progress message that
/// names it to the next phase or the end, so each is known to within the 50 ms between
/// messages.
pub async fn follow(started: Instant, watcher: Watcher) -> Timed {
    let mut starts: Vec<(Phase, Duration)> = Vec::new();
    let mut outcome = None;
    watcher
        .forward(|event| {
            match event {
                OperationEvent::Progress(Progress { phase: Some(phase), .. })
                    if starts.last().map(|(p, _)| *p) != Some(phase) =>
                {
                    starts.push((phase, started.elapsed()));
                }
                OperationEvent::Finished { outcome: o, .. } => outcome = Some(o),
                _ => {}
            }
            true
        })
        .await;
    let total = started.elapsed();
    assert_eq!(outcome, Some(Outcome::Done), "the operation failed");

    let ends = starts.iter().skip(1).map(|(_, at)| *at).chain([total]);
    let phases = starts.iter().zip(ends).map(|((phase, at), end)| (*phase, end - *at)).collect();
    Timed { total, phases }
}

/// Writes out what the last turn left in the page cache. The engine syncs its own files as it
/// works, and on ext4 that waits for every dirty page: a turn would pay for the one before.
pub fn settle_disk() {
    let synced = Command::new("sync").status().is_ok_and(|s| s.success());
    assert!(synced, "sync runs");
}

/// Alternates who goes first so that neither always meets a warmer cache.
pub fn berth_first(round: usize) -> [bool; 2] {
    if round % 2 == 0 {
        [true, false]
    } else {
        [false, true]
    }
}

pub fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// The most memory this process has held resident, in MiB.
pub fn peak_memory_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

pub fn print_comparison(what: &str, cli_work: &str, cli: &[Duration], ours: &[Timed]) {
    let ours_total: Vec<Duration> = ours.iter().map(|t| t.total).collect();
    let (cli_median, our_median) = (median(cli.to_vec()), median(ours_total.clone()));
    let ratio = our_median.as_secs_f64() / cli_median.as_secs_f64();
    println!("{what}, {} rounds", cli.len());
    println!("  {cli_work:<44} median {:>7.3} s   all {cli:.3?}", cli_median.as_secs_f64());
    let berth_work = format!("berth {what}");
    println!(
        "  {berth_work:<44} median {:>7.3} s   all {ours_total:.3?}",
        our_median.as_secs_f64()
    );
    println!("  {:<44} {ratio:.3} (target at most 1.0)", "ratio berth / docker CLI");

    let mut order: Vec<Phase> = Vec::new();
    for (phase, _) in ours.iter().flat_map(|t| &t.phases) {
        if !order.contains(phase) {
            order.push(*phase);
        }
    }
    let phases: Vec<String> = order
        .into_iter()
        .map(|phase| {
            let times = ours.iter().map(|t| t.lasted(phase)).collect();
            format!("{phase:?} {:.3} s", median(times).as_secs_f64())
        })
        .collect();
    println!("  {:<44} {}", "berth phases, median of each", phases.join(", "));
}
