//! Create through Berth against `docker pull` + `docker create` + `docker start` of the same
//! image from the same local registry. Prints figures; asserts nothing about speed.
//!
//! `scripts/bench` prepares the engine, the registry and the image, then runs this.

use std::time::{Duration, Instant};

use berth_core::operations::{OperationEvent, Outcome};
use berth_core::Berth;

#[path = "common.rs"]
mod common;
use common::{berth_first, docker, docker_create_idle, median, remove_labelled, start_berth};

const ROUNDS: usize = 5;

/// The same work as Berth's Create, with the CLI.
fn cli_round(image: &str, round: usize) -> Duration {
    let name = format!("berth-bench-cli-{round}");
    let volume = format!("berth-bench-cli-data-{round}");
    let started = Instant::now();
    assert!(docker(&["pull", "-q", image]));
    docker_create_idle(&name, &volume, image);
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

fn main() {
    let image = std::env::var("BERTH_BENCH_IMAGE")
        .unwrap_or_else(|_| "127.0.0.1:5000/berth-test/bench:latest".into());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let berth = start_berth(&runtime, dir.path());
    remove_labelled();

    let (mut cli, mut ours, mut messages) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        for berth_turn in berth_first(round) {
            docker(&["rmi", "-f", &image]);
            if berth_turn {
                let (time, count) = runtime.block_on(berth_round(&berth, &image, round));
                ours.push(time);
                messages.push(count);
            } else {
                cli.push(cli_round(&image, round));
            }
            remove_labelled();
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
