//! Create through Berth against `docker pull` + `docker create` + `docker start` of the same
//! image from the same local registry. Prints figures; asserts nothing about speed.
//!
//! `scripts/bench` prepares the engine, the registry and the image, then runs this.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use berth_core::engine::link::EngineStatus;
use berth_core::operations::{OperationEvent, Outcome};
use berth_core::{Berth, Config};

const ROUNDS: usize = 5;
const LABEL: &str = "io.berth.test=bench";

fn docker(args: &[&str]) -> bool {
    let out = Command::new("docker").args(args).output().expect("docker CLI runs");
    if !out.status.success() {
        eprintln!("docker {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    out.status.success()
}

fn clean() {
    let out = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label={LABEL}")])
        .output()
        .expect("docker CLI runs");
    for id in String::from_utf8_lossy(&out.stdout).lines() {
        docker(&["rm", "-f", id]);
    }
    let out = Command::new("docker")
        .args(["volume", "ls", "-q", "--filter", &format!("label={LABEL}")])
        .output()
        .expect("docker CLI runs");
    for id in String::from_utf8_lossy(&out.stdout).lines() {
        docker(&["volume", "rm", "-f", id]);
    }
}

/// The same work as Berth's Create, with the CLI.
fn cli_round(image: &str, round: usize) -> Duration {
    let name = format!("berth-bench-cli-{round}");
    let volume = format!("berth-bench-cli-data-{round}");
    let started = Instant::now();
    assert!(docker(&["pull", "-q", image]));
    assert!(docker(&["volume", "create", "--label", LABEL, &volume]));
    let mount = format!("{volume}:/data");
    assert!(docker(&[
        "create",
        "--name",
        &name,
        "--label",
        LABEL,
        "--init",
        "-v",
        &mount,
        "--entrypoint",
        "tail",
        image,
        "-f",
        "/dev/null",
    ]));
    assert!(docker(&["start", &name]));
    started.elapsed()
}

async fn berth_round(berth: &Berth, image: &str, round: usize) -> (Duration, usize) {
    let bot = berth.bot_create(&format!("bench {round}"), image).await.expect("bot");
    let started = Instant::now();
    let watcher = berth.container_create(&bot.id).await.expect("create starts");
    let mut messages = 0;
    let mut outcome = None;
    watcher
        .forward(|event| {
            messages += 1;
            if let OperationEvent::Finished { outcome: o, .. } = event {
                outcome = Some(o);
            }
            true
        })
        .await;
    let elapsed = started.elapsed();
    assert_eq!(outcome, Some(Outcome::Done), "create failed");
    berth.bot_delete(&bot.id).await.expect("bot deleted");
    (elapsed, messages)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn main() {
    let image = std::env::var("BERTH_BENCH_IMAGE")
        .unwrap_or_else(|_| "127.0.0.1:5000/berth-test/bench:latest".into());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");

    let mut config = Config::new(dir.path().join("berth.db"));
    config.labels = BTreeMap::from([("io.berth.test".to_owned(), "bench".to_owned())]);
    let berth = runtime.block_on(Berth::start(config)).expect("berth starts");
    let status = runtime.block_on(berth.engine_settled());
    assert!(matches!(status, EngineStatus::Connected { .. }), "no engine: {status:?}");
    clean();

    let (mut cli, mut ours, mut messages) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        // Alternate who goes first so that neither always meets a warmer cache.
        let order = if round % 2 == 0 { [true, false] } else { [false, true] };
        for berth_turn in order {
            docker(&["rmi", "-f", &image]);
            if berth_turn {
                let (time, count) = runtime.block_on(berth_round(&berth, &image, round));
                ours.push(time);
                messages.push(count);
            } else {
                cli.push(cli_round(&image, round));
            }
            clean();
        }
    }

    let (cli_median, our_median) = (median(cli.clone()), median(ours.clone()));
    let ratio = our_median.as_secs_f64() / cli_median.as_secs_f64();
    println!("create of {image}, {ROUNDS} rounds, image removed before each");
    println!(
        "  docker pull + create + start  median {:>8.3} s   all {cli:.3?}",
        cli_median.as_secs_f64()
    );
    println!(
        "  berth create                  median {:>8.3} s   all {ours:.3?}",
        our_median.as_secs_f64()
    );
    println!("  ratio berth / docker CLI      {ratio:.3} (target at most 1.05)");
    println!("  progress messages to the UI   {messages:?} (at most about 20 a second)");
    berth.shutdown();
}
