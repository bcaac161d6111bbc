//! Berth killed (SIGKILL) at a step of create, snapshot, restore and import, then started
//! again: every bot consistent, no data lost, and the repair reported.
//!
//! Another process (`berth-probe`, built with the `crash-points` feature) runs the operation
//! on the test's store and kills itself at the named journal step.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Duration;

use berth_core::lifecycle::ContainerState;
use berth_core::operations::Outcome;

use crate::support::{docker, eventually, follow, TestBerth};
use crate::{container_id, exec, state_of};

/// Runs the operation in the probe, which must die by SIGKILL at `step`.
fn crash_at(t: &TestBerth, step: &str, operation: &str, bot: &str, arg: &str) {
    let (store, run) = t.store_and_run();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_berth-probe"))
        .arg(&store)
        .args([run, operation, bot, arg])
        .env("BERTH_CRASH_AT", step)
        .output()
        .expect("the probe runs");
    assert_eq!(
        out.status.signal(),
        Some(9),
        "killed at {step}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts Berth again on the store and returns what it said it repaired for the bot.
async fn restart_and_repair(t: &mut TestBerth, bot: &str) -> String {
    t.reopen().await;
    let reported = eventually(Duration::from_secs(60), || async {
        t.berth.repairs().iter().any(|r| r.bot_id == bot)
    });
    assert!(reported.await, "a repair is reported");
    let repairs = t.berth.repairs();
    repairs.into_iter().find(|r| r.bot_id == bot).map(|r| r.message).unwrap_or_default()
}

#[tokio::test]
async fn a_create_cut_off_is_undone() {
    let mut t = TestBerth::start().await;
    let bot = t.berth.bot_create("crash create", &crate::support::test_image("latest")).await;
    let bot = bot.expect("bot");
    crash_at(&t, "start", "create", &bot.id, "");
    assert_eq!(t.leftovers().len(), 2, "the crash left a container and a volume");

    let message = restart_and_repair(&mut t, &bot.id).await;
    assert!(message.contains("removed the half-created container"), "{message}");
    assert!(t.leftovers().is_empty(), "nothing left half-made");
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::None);
    assert_eq!(t.create_container(&bot.id).await.0, Outcome::Done, "Create works again");
}

#[tokio::test]
async fn a_snapshot_cut_off_while_paused_is_dropped() {
    let mut t = TestBerth::start().await;
    let bot = t.running_bot("crash snapshot").await;
    exec(&t, &bot.id, "echo kept > /data/file").await;
    crash_at(&t, "saveData", "snapshot", &bot.id, "cut off");
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Paused, "left paused by the crash");

    let message = restart_and_repair(&mut t, &bot.id).await;
    assert!(message.contains("resumed the paused container"), "{message}");
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Running);
    assert!(t.berth.snapshots(&bot.id).await.expect("lists").is_empty());
    let images = docker(&["images", "-aq", "--filter", &t.run_label()]);
    assert!(images.is_empty(), "the committed image is gone: {images:?}");
    let files = std::fs::read_dir(t.snapshots_dir().join(&bot.id)).map_or(0, |d| d.count());
    assert_eq!(files, 0, "no partial data file");
    assert_eq!(exec(&t, &bot.id, "cat /data/file").await, ["kept"]);
}

#[tokio::test]
async fn a_restore_cut_off_before_the_swap_leaves_the_bot_as_it_was() {
    let mut t = TestBerth::start().await;
    let bot = t.running_bot("crash restore").await;
    exec(&t, &bot.id, "echo one > /data/file").await;
    let watcher = t.berth.snapshot_create(&bot.id, "one").await.expect("starts");
    assert_eq!(follow(watcher).await.0, Outcome::Done);
    exec(&t, &bot.id, "echo two > /data/file").await;
    let before = container_id(&t, &bot.id).await;
    let snapshot = t.berth.snapshots(&bot.id).await.expect("lists")[0].snapshot.id.clone();

    crash_at(&t, "swapIn", "restore", &bot.id, &snapshot);
    assert_eq!(t.leftovers().len(), 4, "old and new container and volume");
    let message = restart_and_repair(&mut t, &bot.id).await;
    assert!(message.contains("put the container back as it was"), "{message}");
    assert_eq!(container_id(&t, &bot.id).await, before);
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Running);
    assert_eq!(exec(&t, &bot.id, "cat /data/file").await, ["two"], "no data lost");
    assert_eq!(t.leftovers().len(), 2, "the new container and volume are gone");
}

#[tokio::test]
async fn an_import_cut_off_puts_the_data_directory_back() {
    let mut t = TestBerth::start().await;
    let bot = t.running_bot("crash import").await;
    let fill = "mkdir -p /data/sub && echo one > /data/a && echo two > /data/sub/b \
        && echo x > /data/.hidden";
    exec(&t, &bot.id, fill).await;
    let listing = "cd /data && find . | sort && cat a sub/b .hidden";
    let before = exec(&t, &bot.id, listing).await;
    assert!(before.len() > 4, "{before:?}");
    let dir = tempfile::tempdir().expect("temp dir");
    let archive = dir.path().join("in.tar");
    write_tar(&archive);

    crash_at(&t, "writing", "import-replace", &bot.id, &archive.display().to_string());
    assert!(exec(&t, &bot.id, "ls /data").await.is_empty(), "the content was set aside");
    let message = restart_and_repair(&mut t, &bot.id).await;
    assert!(message.contains("put the data directory back"), "{message}");
    assert_eq!(exec(&t, &bot.id, listing).await, before, "no data lost");
}

fn write_tar(path: &Path) {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(4);
    header.set_mode(0o644);
    builder.append_data(&mut header, "new", &b"new\n"[..]).expect("appends");
    std::fs::write(path, builder.into_inner().expect("finishes")).expect("written");
}

#[tokio::test]
async fn an_image_update_cut_off_before_the_swap_puts_the_old_container_back() {
    let mut t = TestBerth::start().await;
    let reference = format!("127.0.0.1:5000/berth-test/moving:{}", crate::support::uuid());
    crate::push_new_image(&t, &reference, "first");
    let bot = t.berth.bot_create("crash update", &reference).await.expect("bot");
    assert_eq!(t.create_container(&bot.id).await.0, Outcome::Done);
    exec(&t, &bot.id, "echo kept > /data/file").await;
    let before = container_id(&t, &bot.id).await;
    crate::push_new_image(&t, &reference, "second");

    crash_at(&t, "swapIn", "update", &bot.id, "");
    let message = restart_and_repair(&mut t, &bot.id).await;
    assert!(message.contains("put the container back as it was"), "{message}");
    assert_eq!(container_id(&t, &bot.id).await, before);
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Running);
    assert_eq!(exec(&t, &bot.id, "cat /image-content /data/file").await, ["first", "kept"]);
    assert_eq!(t.leftovers().len(), 2, "the new container is gone");
}

#[tokio::test]
async fn a_reset_cut_off_says_what_it_left() {
    let mut t = TestBerth::start().await;
    let bot = t.running_bot("crash reset").await;
    exec(&t, &bot.id, "echo x > /data/file").await;
    crash_at(&t, "clear", "reset", &bot.id, "");
    let message = restart_and_repair(&mut t, &bot.id).await;
    assert!(message.contains("cut off while emptying the data directory"), "{message}");
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Running, "the bot works on");
}
