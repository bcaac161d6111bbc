//! Data export and import through Berth against the docker CLI doing the same work, on a data
//! directory of 1 GiB in 10,000 files, half of the bytes random and half text. Prints figures;
//! asserts nothing about speed.
//!
//! `scripts/bench` prepares the engine, the registry and the image, then runs this.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use berth_core::data::ImportMode;
use berth_core::Berth;

#[path = "common.rs"]
mod common;
use common::{
    berth_first, docker, follow, peak_memory_mib, print_comparison, remove_labelled,
    remove_old_dirs, settle_disk, start_berth, Timed,
};

const ROUNDS: usize = 3;
const IMAGE: &str = "127.0.0.1:5000/berth-test/busybox:latest";
/// How this benchmark's host directory is named, so that a killed run's is found and removed.
const DIR_PREFIX: &str = "berth-bench-data-";
/// How many files [`FILL`] writes.
const FILES: usize = 10_000;

/// 10,000 files in 100 directories, 1 KiB to 1 MiB in pairs of one random file and one of
/// text, so that gzip meets both: 1 GiB in all. Each text file starts elsewhere in the text,
/// or gzip would find the file before it within its 32 KiB window.
const FILL: &str = "seq 1 400000 | head -c 2097152 > /tmp/text; i=0; \
    while [ $i -lt 10000 ]; do d=/data/d$((i / 100)); mkdir -p $d; \
    p=$((i / 2)); s=$((1024 << (p % 10))); [ $((p % 200)) = 199 ] && s=1048576; \
    if [ $((i % 2)) = 0 ]; then head -c $s /dev/urandom; \
    else tail -c +$((i * 4099 % 1000000 + 1)) /tmp/text | head -c $s; fi > $d/f$i; \
    i=$((i + 1)); done; rm /tmp/text";

/// Empties the data directory, hidden entries included.
const EMPTY: &str = "rm -rf /data/* /data/.[!.]* /data/..?*";

/// Counts the files in the data directory.
const COUNT: &str = "find /data -type f | wc -l";

/// Runs `script` in the container's shell.
fn exec(container: &str, script: &str) -> bool {
    docker(&["exec", container, "sh", "-c", script])
}

/// Runs `script` in a host shell: the CLI's pipes and redirections.
fn shell(script: &str) -> bool {
    let status = Command::new("sh").args(["-c", script]).status().expect("sh runs");
    status.success()
}

/// Removes a file the last turn wrote, so that no turn pays for replacing one.
fn remove_file(path: &Path) {
    if let Err(error) = std::fs::remove_file(path) {
        assert_eq!(error.kind(), std::io::ErrorKind::NotFound, "{}: {error}", path.display());
    }
}

/// Berth's export streams the data directory from the engine through gzip to `archive`, and
/// syncs the file before it renames it into place.
async fn berth_export(berth: &Berth, bot: &str, archive: &Path) -> Timed {
    let started = Instant::now();
    let watcher = berth.data_export(bot, archive).await.expect("export starts");
    follow(started, watcher).await
}

/// Besides the work of [`cli_import`], Berth's import first reads the whole archive to check
/// every entry and the free space, sets the data directory's content aside, and afterwards
/// removes what it set aside.
async fn berth_import(berth: &Berth, bot: &str, archive: &Path) -> Timed {
    let started = Instant::now();
    let watcher = berth.data_import(bot, archive, ImportMode::Replace, None).await.expect("starts");
    follow(started, watcher).await
}

/// The same work as Berth's export, with the CLI and gzip at its default level, as Berth's.
fn cli_export(container: &str, archive: &Path) -> Duration {
    let script = format!("docker cp {container}:/data - | gzip > '{}'", archive.display());
    let started = Instant::now();
    assert!(shell(&script), "docker cp | gzip");
    started.elapsed()
}

/// The same work as Berth's import, with the CLI: the engine unpacks the gzip itself.
fn cli_import(container: &str, archive: &Path) -> Duration {
    let script = format!("docker cp - {container}:/data < '{}'", archive.display());
    let started = Instant::now();
    assert!(shell(&script), "docker cp");
    started.elapsed()
}

/// A bot whose container runs; returns the bot's id and the container's.
async fn running_bot(berth: &Berth, name: &str) -> (String, String) {
    let bot = berth.bot_create(name, IMAGE).await.expect("bot");
    let watcher = berth.container_create(&bot.id).await.expect("create starts");
    follow(Instant::now(), watcher).await;
    let status = berth.container_status(&bot.id).await.expect("status");
    (bot.id, status.container_id.expect("a container"))
}

/// Checks that an import left every file in place, so that both sides did the whole work.
fn assert_imported(container: &str) {
    let out = Command::new("docker")
        .args(["exec", container, "sh", "-c", COUNT])
        .output()
        .expect("docker CLI runs");
    let count = String::from_utf8_lossy(&out.stdout).trim().parse::<usize>();
    assert_eq!(count, Ok(FILES), "files in the data directory after an import");
}

fn size_mib(path: &Path) -> String {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or_default();
    format!("{:.1} MiB", size as f64 / (1024.0 * 1024.0))
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    remove_old_dirs(DIR_PREFIX);
    let dir = tempfile::Builder::new().prefix(DIR_PREFIX).tempdir().expect("temp dir");

    let berth = start_berth(&runtime, dir.path());
    remove_labelled();
    let (source, filled) = runtime.block_on(running_bot(&berth, "bench export"));
    assert!(exec(&filled, FILL), "data written");
    let (target, empty) = runtime.block_on(running_bot(&berth, "bench import"));
    let (ours, theirs) = (dir.path().join("berth.tar.gz"), dir.path().join("cli.tar.gz"));

    let (mut cli_exports, mut berth_exports) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        for berth_turn in berth_first(round) {
            let archive = if berth_turn { &ours } else { &theirs };
            remove_file(archive);
            settle_disk();
            if berth_turn {
                berth_exports.push(runtime.block_on(berth_export(&berth, &source, archive)));
            } else {
                cli_exports.push(cli_export(&filled, archive));
            }
        }
    }
    let sizes = (size_mib(&ours), size_mib(&theirs));
    remove_file(&theirs);

    // Both import Berth's archive into the same emptied data directory: Berth's replace then
    // has nothing to set aside, as the CLI has nothing to overwrite.
    let (mut cli_imports, mut berth_imports) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        for berth_turn in berth_first(round) {
            assert!(exec(&empty, EMPTY), "data directory emptied");
            settle_disk();
            if berth_turn {
                berth_imports.push(runtime.block_on(berth_import(&berth, &target, &ours)));
            } else {
                cli_imports.push(cli_import(&empty, &ours));
            }
            assert_imported(&empty);
        }
    }

    println!("a container with 1 GiB in {FILES} files under /data, half random, half text");
    println!("  archives: berth {}, docker cp | gzip {}", sizes.0, sizes.1);
    print_comparison("export", "docker cp | gzip", &cli_exports, &berth_exports);
    print_comparison("import", "docker cp - < archive", &cli_imports, &berth_imports);
    // Berth's core runs in this process as it runs in the app; the docker CLI runs in its own.
    let peak = peak_memory_mib().map_or("unknown".to_owned(), |mib| mib.to_string());
    println!("peak memory of this process (Berth's core): {peak} MiB");

    for bot in [&source, &target] {
        runtime.block_on(berth.bot_delete(bot)).expect("bot deleted");
    }
    berth.shutdown();
    remove_labelled();
}
