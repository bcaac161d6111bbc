//! Snapshot and restore through Berth against the docker CLI doing the same work, on one
//! container whose data directory holds 200 MB in 2,000 files. Prints figures; asserts
//! nothing about speed.
//!
//! `scripts/bench` prepares the engine, the registry and the image, then runs this.

use std::path::Path;
use std::time::{Duration, Instant};

use berth_core::Berth;

#[path = "common.rs"]
mod common;
use common::{
    berth_first, docker, docker_create_idle, docker_lines, follow, peak_memory_mib,
    print_comparison, remove_labelled, remove_old_dirs, settle_disk, start_berth, Timed, LABEL,
};

const ROUNDS: usize = 5;
const IMAGE: &str = "127.0.0.1:5000/berth-test/busybox:latest";
/// The repository of the CLI's commits, by which `clean` finds them.
const CLI_REPOSITORY: &str = "berth-bench/snapshot";
/// How this benchmark's host directory is named, so that a killed run's is found and removed.
const DIR_PREFIX: &str = "berth-bench-snapshot-";

/// 2,000 files of random bytes from 5 kB to 195 kB in 20 directories: 200 MB in all.
const FILL: &str = "i=0; while [ $i -lt 2000 ]; do d=/data/d$((i / 100)); mkdir -p $d; \
    head -c $((i % 20 * 10000 + 5000)) /dev/urandom > $d/f$i; i=$((i + 1)); done";

/// Removes what this benchmark leaves on the engine, a killed run's included. Of the labelled
/// images only the snapshots go: the image of the `create` benchmark carries the label too.
fn clean() {
    remove_labelled();
    let label = format!("label={LABEL}");
    let berths =
        docker_lines(&["images", "-aq", "--filter", &label, "--filter", "label=io.berth.snapshot"]);
    let clis = docker_lines(&["images", "-q", "--filter", &format!("reference={CLI_REPOSITORY}")]);
    for id in berths.iter().chain(&clis) {
        docker(&["rmi", "-f", id]);
    }
}

async fn berth_snapshot(berth: &Berth, bot: &str, round: usize) -> Timed {
    let started = Instant::now();
    let watcher = berth.snapshot_create(bot, &format!("bench {round}")).await.expect("starts");
    follow(started, watcher).await
}

/// Besides the work of [`cli_restore`], Berth's restore stops the bot's container, swaps the
/// new one in under its name and starts it, then removes the old container and data volume.
async fn berth_restore(berth: &Berth, bot: &str, snapshot: &str) -> Timed {
    let started = Instant::now();
    let watcher = berth.snapshot_restore(bot, snapshot, None).await.expect("starts");
    follow(started, watcher).await
}

/// The same work as Berth's snapshot, with the CLI: the filesystem to an image, the data
/// directory to `copy` on the host.
fn cli_snapshot(container: &str, copy: &Path, round: usize) -> Duration {
    let tag = format!("{CLI_REPOSITORY}:round-{round}");
    let from = format!("{container}:/data");
    let started = Instant::now();
    assert!(docker(&["commit", "--change", &format!("LABEL {LABEL}"), container, &tag]));
    assert!(docker(&["cp", &from, &copy.display().to_string()]));
    started.elapsed()
}

/// The same work as Berth's restore, with the CLI, into a container of its own that goes
/// afterwards.
fn cli_restore(image: &str, copy: &Path, round: usize) -> Duration {
    let name = format!("berth-bench-restore-{round}");
    let volume = format!("berth-bench-restore-data-{round}");
    let from = format!("{}/.", copy.display());
    let started = Instant::now();
    docker_create_idle(&name, &volume, image);
    assert!(docker(&["cp", &from, &format!("{name}:/data")]));
    assert!(docker(&["start", &name]));
    let elapsed = started.elapsed();

    docker(&["rm", "-f", &name]);
    docker(&["volume", "rm", "-f", &volume]);
    elapsed
}

/// A bot whose container runs with the benchmark's data in it; returns the bot's id and the
/// container's.
async fn filled_bot(berth: &Berth) -> (String, String) {
    let bot = berth.bot_create("bench snapshots", IMAGE).await.expect("bot");
    let watcher = berth.container_create(&bot.id).await.expect("create starts");
    follow(Instant::now(), watcher).await;
    let status = berth.container_status(&bot.id).await.expect("status");
    let container = status.container_id.expect("a container");
    assert!(docker(&["exec", &container, "sh", "-c", FILL]), "data written");
    (bot.id, container)
}

async fn snapshot_id(berth: &Berth, bot: &str, name: &str) -> String {
    let entries = berth.snapshots(bot).await.expect("snapshots list");
    let found = entries.into_iter().find(|e| e.snapshot.name == name);
    found.unwrap_or_else(|| panic!("no snapshot named {name}")).snapshot.id
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    remove_old_dirs(DIR_PREFIX);
    let dir = tempfile::Builder::new().prefix(DIR_PREFIX).tempdir().expect("temp dir");

    let berth = start_berth(&runtime, dir.path());
    clean();
    let (bot, container) = runtime.block_on(filled_bot(&berth));
    let copy_of = |round: usize| dir.path().join(format!("cli-round-{round}"));

    // Every snapshot is of the container Create made, so both sides save the same files.
    let (mut cli_takes, mut berth_takes) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        for berth_turn in berth_first(round) {
            settle_disk();
            if berth_turn {
                berth_takes.push(runtime.block_on(berth_snapshot(&berth, &bot, round)));
            } else {
                cli_takes.push(cli_snapshot(&container, &copy_of(round), round));
            }
        }
    }

    let snapshot = runtime.block_on(snapshot_id(&berth, &bot, "bench 0"));
    let cli_image = format!("{CLI_REPOSITORY}:round-0");
    let (mut cli_restores, mut berth_restores) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        for berth_turn in berth_first(round) {
            settle_disk();
            if berth_turn {
                berth_restores.push(runtime.block_on(berth_restore(&berth, &bot, &snapshot)));
            } else {
                cli_restores.push(cli_restore(&cli_image, &copy_of(0), round));
            }
        }
    }

    println!("a container with 200 MB in 2,000 files under /data");
    print_comparison("snapshot", "docker commit + cp", &cli_takes, &berth_takes);
    let cli_work = "docker volume create + create + cp + start";
    print_comparison("restore", cli_work, &cli_restores, &berth_restores);
    // Berth's core runs in this process as it runs in the app; the docker CLI runs in its own.
    let peak = peak_memory_mib().map_or("unknown".to_owned(), |mib| mib.to_string());
    println!("peak memory of this process (Berth's core): {peak} MiB");

    runtime.block_on(berth.bot_delete(&bot)).expect("bot deleted");
    berth.shutdown();
    clean();
}
