//! Berth killed (SIGKILL) at a step of create, snapshot, restore, update, reset, export and
//! import, then started again: every bot consistent, no data lost, and the repair reported.
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

/// Runs the operation in the probe, which must die by SIGKILL just after writing `step`.
fn crash_at(t: &TestBerth, step: &str, operation: &str, bot: &str, arg: &str) {
    crash(t, ("BERTH_CRASH_AT", step), operation, bot, arg);
}

/// Runs the operation in the probe, which must die by SIGKILL just before writing `step`:
/// for the last step, once the operation's work is recorded but not noted as whole.
fn crash_before(t: &TestBerth, step: &str, operation: &str, bot: &str, arg: &str) {
    crash(t, ("BERTH_CRASH_BEFORE", step), operation, bot, arg);
}

fn crash(t: &TestBerth, (variable, step): (&str, &str), operation: &str, bot: &str, arg: &str) {
    let (store, run) = t.store_and_run();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_berth-probe"))
        .arg(&store)
        .args([run, operation, bot, arg])
        .env(variable, step)
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
async fn a_create_cut_off_at_any_step_is_undone() {
    let mut t = TestBerth::start().await;
    for step in ["createVolume", "createContainer", "start"] {
        let name = format!("crash create {step}");
        let bot = t.berth.bot_create(&name, &crate::support::test_image("latest")).await;
        let bot = bot.expect("bot");
        crash_at(&t, step, "create", &bot.id, "");
        if step == "start" {
            assert_eq!(t.leftovers().len(), 2, "the crash left a container and a volume");
        }

        let message = restart_and_repair(&mut t, &bot.id).await;
        if step == "start" {
            assert!(message.contains("removed the half-created container"), "{message}");
        }
        assert!(t.leftovers().is_empty(), "nothing left half-made at {step}");
        assert_eq!(state_of(&t, &bot.id).await, ContainerState::None, "at {step}");
        assert_eq!(t.create_container(&bot.id).await.0, Outcome::Done, "Create works again");
        t.berth.bot_delete(&bot.id).await.expect("bot deleted");
    }
}

#[tokio::test]
async fn a_create_cut_off_once_recorded_is_kept() {
    let mut t = TestBerth::start().await;
    let bot = t.berth.bot_create("crash created", &crate::support::test_image("latest")).await;
    let bot = bot.expect("bot");
    crash_before(&t, "swapped", "create", &bot.id, "");

    let message = restart_and_repair(&mut t, &bot.id).await;
    assert!(message.contains("kept the container"), "{message}");
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Running);
    assert_eq!(t.berth.versions(&bot.id).await.expect("versions").len(), 1);
    assert_eq!(t.leftovers().len(), 2, "its container and volume");
}

#[tokio::test]
async fn a_snapshot_cut_off_at_any_step_is_dropped_and_the_container_resumed() {
    let mut t = TestBerth::start().await;
    for step in ["pause", "committed", "saveData"] {
        let bot = t.running_bot(&format!("crash snapshot {step}")).await;
        exec(&t, &bot.id, "echo kept > /data/file").await;
        crash_at(&t, step, "snapshot", &bot.id, "cut off");
        if step != "pause" {
            let state = state_of(&t, &bot.id).await;
            assert_eq!(state, ContainerState::Paused, "left paused by the crash at {step}");
        }

        let message = restart_and_repair(&mut t, &bot.id).await;
        if step != "pause" {
            assert!(message.contains("resumed the paused container"), "{step}: {message}");
        }
        assert_eq!(state_of(&t, &bot.id).await, ContainerState::Running, "at {step}");
        assert!(t.berth.snapshots(&bot.id).await.expect("lists").is_empty());
        let images = docker(&["images", "-aq", "--filter", &t.run_label()]);
        assert!(images.is_empty(), "the committed image is gone at {step}: {images:?}");
        let files = std::fs::read_dir(t.snapshots_dir().join(&bot.id)).map_or(0, |d| d.count());
        assert_eq!(files, 0, "no partial data file at {step}");
        assert_eq!(exec(&t, &bot.id, "cat /data/file").await, ["kept"]);
        t.berth.bot_delete(&bot.id).await.expect("bot deleted");
    }
}

#[tokio::test]
async fn a_restore_cut_off_is_undone_before_the_swap_and_finished_after_it() {
    let mut t = TestBerth::start().await;
    for (just_before, step) in [(false, "makeNext"), (false, "swapIn"), (true, "swapped")] {
        let bot = t.running_bot(&format!("crash restore {step}")).await;
        exec(&t, &bot.id, "echo one > /data/file").await;
        let watcher = t.berth.snapshot_create(&bot.id, "one").await.expect("starts");
        assert_eq!(follow(watcher).await.0, Outcome::Done);
        exec(&t, &bot.id, "echo two > /data/file").await;
        let before = container_id(&t, &bot.id).await;
        let snapshot = t.berth.snapshots(&bot.id).await.expect("lists")[0].snapshot.id.clone();

        // Just before `swapped`: the restore is recorded, but not noted as whole.
        if just_before {
            crash_before(&t, step, "restore", &bot.id, &snapshot);
        } else {
            crash_at(&t, step, "restore", &bot.id, &snapshot);
        }
        let message = restart_and_repair(&mut t, &bot.id).await;
        assert_eq!(state_of(&t, &bot.id).await, ContainerState::Running, "at {step}");
        let data = exec(&t, &bot.id, "cat /data/file").await;
        if step == "swapped" {
            assert!(message.contains("finished it"), "{message}");
            assert_ne!(container_id(&t, &bot.id).await, before, "the restored one stays");
            assert_eq!(data, ["one"], "the snapshot's data");
            let versions = t.berth.versions(&bot.id).await.expect("versions");
            assert_eq!(versions[0].snapshot_id.as_deref(), Some(snapshot.as_str()));
        } else {
            assert_eq!(container_id(&t, &bot.id).await, before, "at {step}");
            assert_eq!(data, ["two"], "no data lost at {step}");
            assert_eq!(t.berth.versions(&bot.id).await.expect("versions").len(), 1);
        }
        assert_eq!(t.leftovers().len(), 2, "one container and one volume at {step}");
        t.berth.bot_delete(&bot.id).await.expect("bot deleted");
    }
}

#[tokio::test]
async fn an_import_cut_off_puts_the_data_directory_back_or_keeps_a_whole_import() {
    let mut t = TestBerth::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let archive = dir.path().join("in.tar");
    write_tar(&archive);
    let archive = archive.display().to_string();
    let points = [
        ("import-replace", "setAside"),
        ("import-replace", "writing"),
        ("import-replace", "written"),
        ("import-merge", "saveBackup"),
        ("import-merge", "backedUp"),
        ("import-merge", "writing"),
        ("import-merge", "written"),
    ];
    for (operation, step) in points {
        let bot = t.running_bot(&format!("crash {operation} {step}")).await;
        let fill = "mkdir -p /data/sub && echo one > /data/a && echo two > /data/sub/b \
            && echo x > /data/.hidden";
        exec(&t, &bot.id, fill).await;
        let listing = "cd /data && find . | sort && cat a sub/b .hidden";
        let before = exec(&t, &bot.id, listing).await;
        assert!(before.len() > 4, "{before:?}");

        crash_at(&t, step, operation, &bot.id, &archive);
        let message = restart_and_repair(&mut t, &bot.id).await;
        let after = exec(&t, &bot.id, "cd /data && find . | sort").await;
        match (operation, step) {
            (_, "written") => assert!(message.contains("finished it"), "{message}"),
            _ => assert_eq!(exec(&t, &bot.id, listing).await, before, "{operation} at {step}"),
        }
        match (operation, step) {
            ("import-replace", "written") => assert_eq!(after, [".", "./new"]),
            ("import-merge", "written") => {
                assert!(after.contains(&"./new".to_owned()) && after.contains(&"./a".to_owned()));
            }
            _ => assert!(!after.contains(&"./new".to_owned()), "{operation} at {step}"),
        }
        let kept = std::fs::read_dir(t.work_dir()).map_or(0, |d| d.count());
        assert_eq!(kept, 0, "no saved copy left behind by {operation} at {step}");
        assert_eq!(state_of(&t, &bot.id).await, ContainerState::Running);
        t.berth.bot_delete(&bot.id).await.expect("bot deleted");
    }
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

#[tokio::test]
async fn an_export_cut_off_leaves_no_partial_file() {
    let mut t = TestBerth::start().await;
    let bot = t.running_bot("crash export").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let chosen = dir.path().join("backup.tar.gz");
    // The probe dies as the step is recorded, before the archive is begun: this file stands
    // for what it would have written by a later kill.
    let partial = dir.path().join(".backup.tar.gz.partial");
    std::fs::write(&partial, b"half an archive").expect("written");
    crash_at(&t, "exportTo", "export", &bot.id, &chosen.display().to_string());

    let message = restart_and_repair(&mut t, &bot.id).await;
    assert!(message.contains("removed the unfinished archive"), "{message}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("lists").collect();
    assert!(left.is_empty(), "nothing at or beside the chosen path: {left:?}");
}
