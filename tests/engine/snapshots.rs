//! Snapshots on a real engine: capture, exact restore, states, deletion and its clean-up,
//! broken snapshots, and a lineage deeper than the engine's layer limit.

use berth_core::lifecycle::ContainerState;
use berth_core::operations::Outcome;
use berth_core::snapshots::SnapshotEntry;
use berth_core::store::VersionReason;

use std::time::Duration;

use crate::support::{docker, docker_ok, eventually, follow, TestBerth};
use crate::{container_id, exec, state_of};

async fn take(t: &TestBerth, bot: &str, name: &str) -> Outcome {
    follow(t.berth.snapshot_create(bot, name).await.expect("snapshot starts")).await.0
}

async fn restore(t: &TestBerth, bot: &str, snapshot: &str, save_as: Option<&str>) -> Outcome {
    let watcher = t.berth.snapshot_restore(bot, snapshot, save_as).await.expect("restore starts");
    follow(watcher).await.0
}

async fn list(t: &TestBerth, bot: &str) -> Vec<SnapshotEntry> {
    t.berth.snapshots(bot).await.expect("snapshots list")
}

async fn id_of(t: &TestBerth, bot: &str, name: &str) -> String {
    let entries = list(t, bot).await;
    let found = entries.into_iter().find(|e| e.snapshot.name == name);
    found.unwrap_or_else(|| panic!("no snapshot named {name}")).snapshot.id
}

/// Images on the engine, intermediate ones included, that name the snapshot in their labels.
fn images_of(snapshot: &str) -> Vec<String> {
    docker(&["images", "-aq", "--filter", &format!("label=io.berth.snapshot={snapshot}")])
}

/// What a file tree looks like from inside the container: path, mode, owner and content.
const LISTING: &str = "cd /data && find . | sort | while read f; do \
    echo \"$f $(stat -c '%a %u:%g' \"$f\") $([ -f \"$f\" ] && cat \"$f\")\"; done; \
    ls /usr/local/bin /etc; cat /usr/local/bin/tool; stat -c '%n %a' /usr/local/bin/tool";

#[tokio::test]
async fn restore_brings_back_files_and_data_exactly() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("restorer").await;
    exec(
        &t,
        &bot.id,
        "mkdir -p /usr/local/bin && echo 'echo v1' > /usr/local/bin/tool \
         && chmod 755 /usr/local/bin/tool && echo kept > /data/keep.txt \
         && mkdir /data/private /data/empty && echo secret > /data/private/key \
         && chown -R 1000:1000 /data/private && chmod 600 /data/private/key \
         && chmod 700 /data/private && echo conf > /etc/berth-conf",
    )
    .await;
    let before = exec(&t, &bot.id, LISTING).await;
    assert!(before.iter().any(|l| l == "berth-conf"), "{before:?}");
    // Paused for the capture, not restarted: a background job lives on through it.
    docker(&["exec", "-d", &container_id(&t, &bot.id).await, "sleep", "1000"]);
    let job = eventually(Duration::from_secs(5), || async {
        t.berth.container_status(&bot.id).await.is_ok_and(|s| s.tasks == Some(1))
    });
    assert!(job.await, "the background job runs");
    let started = t.berth.container_status(&bot.id).await.expect("status").started_at;
    assert_eq!(take(&t, &bot.id, "  Clean install  ").await, Outcome::Done);
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Running, "it runs on afterwards");
    let after = t.berth.container_status(&bot.id).await.expect("status");
    assert_eq!((after.started_at, after.tasks), (started, Some(1)), "same run, job alive");

    exec(
        &t,
        &bot.id,
        "echo 'echo v2' > /usr/local/bin/tool && echo x > /usr/local/bin/extra \
         && rm /data/keep.txt && echo new > /data/new.txt && chmod 644 /data/private/key \
         && rmdir /data/empty && rm /etc/berth-conf && chmod 700 /usr/local/bin/tool",
    )
    .await;
    let changed = exec(&t, &bot.id, LISTING).await;
    assert!(!changed.iter().any(|l| l == "berth-conf"), "{changed:?}");
    assert_ne!(changed, before);

    let clean = id_of(&t, &bot.id, "Clean install").await;
    assert_eq!(restore(&t, &bot.id, &clean, Some("Before restore")).await, Outcome::Done);
    assert_eq!(exec(&t, &bot.id, LISTING).await, before, "files and data as captured");
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Running);

    let versions = t.berth.versions(&bot.id).await.expect("versions");
    assert_eq!(versions[0].number, 2);
    assert_eq!(versions[0].reason, VersionReason::Restored);
    assert_eq!(versions[0].snapshot_name.as_deref(), Some("Clean install"));

    // The state before the restore was saved, under the snapshot restored from, and undoes it.
    let entries = list(&t, &bot.id).await;
    let shape: Vec<_> =
        entries.iter().map(|e| (e.snapshot.name.as_str(), e.depth, e.current)).collect();
    assert_eq!(shape, [("Clean install", 0, true), ("Before restore", 1, false)]);
    assert!(entries.iter().all(|e| e.broken.is_none() && e.snapshot.data_size > 0));
    let undo = id_of(&t, &bot.id, "Before restore").await;
    assert_eq!(restore(&t, &bot.id, &undo, None).await, Outcome::Done);
    assert_eq!(exec(&t, &bot.id, LISTING).await, changed, "the restore was undone");
    // The old container and volume go once the restore has ended.
    let cleaned = eventually(Duration::from_secs(10), || async { t.leftovers().len() == 2 });
    assert!(cleaned.await, "one container and one data volume, nothing else");
}

#[tokio::test]
async fn stopped_and_paused_containers_keep_their_state() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("states").await;
    let id = container_id(&t, &bot.id).await;

    docker(&["pause", &id]);
    assert_eq!(take(&t, &bot.id, "paused").await, Outcome::Done);
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Paused, "a paused one stays paused");
    let paused = id_of(&t, &bot.id, "paused").await;
    assert_eq!(restore(&t, &bot.id, &paused, None).await, Outcome::Done);
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Paused);
    docker(&["unpause", &container_id(&t, &bot.id).await]);

    t.berth.container_stop(&bot.id).await.expect("stops");
    assert_eq!(take(&t, &bot.id, "stopped").await, Outcome::Done);
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Stopped);
    let stopped = id_of(&t, &bot.id, "stopped").await;
    assert_eq!(restore(&t, &bot.id, &stopped, None).await, Outcome::Done);
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Stopped, "a stopped one stays so");

    t.berth.container_start(&bot.id).await.expect("starts");
    assert_eq!(restore(&t, &bot.id, &stopped, None).await, Outcome::Done);
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Running, "a running one runs");
}

#[tokio::test]
async fn names_are_checked_before_anything_starts() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("names").await;
    let empty = t.berth.snapshot_create(&bot.id, "   ").await.expect_err("empty is refused");
    assert_eq!(empty.kind(), "invalidName");
    assert_eq!(empty.to_string(), "invalid snapshot name: a name is required");
    let long = "x".repeat(65);
    let refused = t.berth.snapshot_create(&bot.id, &long).await.expect_err("too long");
    assert_eq!(refused.to_string(), "invalid snapshot name: a name has at most 64 characters");

    assert_eq!(take(&t, &bot.id, "Nightly").await, Outcome::Done);
    let taken = t.berth.snapshot_create(&bot.id, "NIGHTLY").await.expect_err("taken");
    assert_eq!(taken.kind(), "nameTaken");
    let nightly = id_of(&t, &bot.id, "Nightly").await;
    let save_as = t.berth.snapshot_restore(&bot.id, &nightly, Some("nightly")).await;
    assert_eq!(save_as.expect_err("taken too").kind(), "nameTaken");
    assert_eq!(list(&t, &bot.id).await.len(), 1);
}

#[tokio::test]
async fn deleting_a_parent_keeps_its_child_and_leaves_no_images() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("pruner").await;
    exec(&t, &bot.id, "echo one > /data/gen && echo one > /etc/gen").await;
    assert_eq!(take(&t, &bot.id, "one").await, Outcome::Done);
    exec(&t, &bot.id, "echo two > /data/gen && echo two > /etc/gen").await;
    assert_eq!(take(&t, &bot.id, "two").await, Outcome::Done);
    let (one, two) = (id_of(&t, &bot.id, "one").await, id_of(&t, &bot.id, "two").await);
    assert_eq!(list(&t, &bot.id).await[1].snapshot.parent_id.as_deref(), Some(one.as_str()));

    exec(&t, &bot.id, "echo three > /data/gen && echo three > /etc/gen").await;
    t.berth.snapshot_delete(&bot.id, &one).await.expect("deletes");
    let entries = list(&t, &bot.id).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].snapshot.parent_id, None, "the child moved up");
    assert!(images_of(&one).is_empty(), "no image of the deleted snapshot");
    assert!(!t.snapshots_dir().join(format!("{}/{one}.tar", bot.id)).exists());

    assert_eq!(restore(&t, &bot.id, &two, None).await, Outcome::Done);
    assert_eq!(exec(&t, &bot.id, "cat /data/gen /etc/gen").await, ["two", "two"]);

    // The container runs from the image of `two`: deleting `two` keeps that image until the
    // container goes, and no longer.
    t.berth.snapshot_delete(&bot.id, &two).await.expect("deletes");
    assert_eq!(exec(&t, &bot.id, "cat /etc/gen").await, ["two"]);
    t.berth.container_delete(&bot.id, true).await.expect("container deleted");
    assert!(images_of(&two).is_empty(), "no image once nothing uses it");
    let dangling =
        docker(&["images", "-q", "--filter", "dangling=true", "--filter", &t.run_label()]);
    assert!(dangling.is_empty(), "no dangling images: {dangling:?}");
}

#[tokio::test]
async fn deleting_a_snapshot_a_later_one_builds_on_keeps_the_later_one_restorable() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("layered").await;
    exec(&t, &bot.id, "echo one > /etc/gen && echo one > /data/gen").await;
    assert_eq!(take(&t, &bot.id, "one").await, Outcome::Done);
    let one = id_of(&t, &bot.id, "one").await;
    assert_eq!(restore(&t, &bot.id, &one, None).await, Outcome::Done);
    // Taken from the restored container, `two`'s image is a layer on top of `one`'s.
    exec(&t, &bot.id, "echo two > /etc/gen2 && echo two > /data/gen").await;
    assert_eq!(take(&t, &bot.id, "two").await, Outcome::Done);
    let two = id_of(&t, &bot.id, "two").await;
    exec(&t, &bot.id, "rm /etc/gen /etc/gen2 && echo three > /data/gen").await;

    t.berth.snapshot_delete(&bot.id, &one).await.expect("deletes");
    assert_eq!(list(&t, &bot.id).await.len(), 1);
    assert_eq!(restore(&t, &bot.id, &two, None).await, Outcome::Done);
    let restored = exec(&t, &bot.id, "cat /etc/gen /etc/gen2 /data/gen").await;
    assert_eq!(restored, ["one", "two", "two"], "the layer `two` builds on stayed");

    t.berth.snapshot_delete(&bot.id, &two).await.expect("deletes");
    t.berth.container_delete(&bot.id, false).await.expect("container deleted");
    let left = docker(&["images", "-aq", "--filter", &format!("label=io.berth.bot={}", bot.id)]);
    assert!(left.is_empty(), "no image of either once nothing uses them: {left:?}");
}

#[tokio::test]
async fn a_tag_the_user_put_on_a_snapshot_image_keeps_it() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("tagger").await;
    assert_eq!(take(&t, &bot.id, "mine").await, Outcome::Done);
    let snapshot = id_of(&t, &bot.id, "mine").await;
    let theirs = format!("berth-test-mine:{}", crate::support::uuid());
    assert!(docker_ok(&["tag", &format!("berth-snapshot/{}:{snapshot}", bot.id), &theirs]));

    t.berth.snapshot_delete(&bot.id, &snapshot).await.expect("deletes");
    assert!(docker_ok(&["image", "inspect", &theirs]), "the user's image is still there");
    let ours = format!("berth-snapshot/{}:{snapshot}", bot.id);
    assert!(!docker_ok(&["image", "inspect", &ours]), "Berth's tag is gone");
    docker(&["rmi", &theirs]);
}

#[tokio::test]
async fn deleting_a_bot_deletes_its_snapshots() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("goner").await;
    assert_eq!(take(&t, &bot.id, "only").await, Outcome::Done);
    let only = id_of(&t, &bot.id, "only").await;
    assert_eq!(images_of(&only).len(), 1);
    t.berth.bot_delete(&bot.id).await.expect("bot deleted");
    assert!(images_of(&only).is_empty());
    assert!(!t.snapshots_dir().join(&bot.id).exists(), "no snapshot files left");
    assert!(t.leftovers().is_empty());
}

#[tokio::test]
async fn broken_snapshots_are_shown_and_their_restore_refused() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("drifter").await;
    exec(&t, &bot.id, "echo original > /data/file").await;
    for name in ["no image", "no data", "tampered"] {
        assert_eq!(take(&t, &bot.id, name).await, Outcome::Done);
    }
    let entries = list(&t, &bot.id).await;
    let [no_image, no_data, tampered] = [0, 1, 2].map(|i| entries[i].snapshot.clone());
    docker(&["rmi", "-f", &no_image.image_tag]);
    std::fs::remove_file(t.snapshots_dir().join(&no_data.data_file)).expect("removed");
    // Same size, one byte changed: only the checksum can tell.
    let path = t.snapshots_dir().join(&tampered.data_file);
    let mut bytes = std::fs::read(&path).expect("read");
    let at = bytes.windows(8).position(|w| w == b"original").expect("content in the tar");
    bytes[at] = b'O';
    std::fs::write(&path, bytes).expect("written");
    // Things that are not Berth's do not show.
    std::fs::write(t.snapshots_dir().join(&bot.id).join("notes.txt"), "mine").expect("written");

    exec(&t, &bot.id, "echo changed > /data/file").await;
    let before = t.berth.container_status(&bot.id).await.expect("status");
    let entries = list(&t, &bot.id).await;
    assert_eq!(entries.len(), 3);
    let reasons: Vec<_> = entries.iter().map(|e| e.broken.clone()).collect();
    assert!(reasons[0].as_ref().is_some_and(|r| r.contains("image")), "{reasons:?}");
    assert!(reasons[1].as_ref().is_some_and(|r| r.contains("missing")), "{reasons:?}");
    assert_eq!(reasons[2], None, "a changed byte is found on restore");

    for snapshot in [&no_image, &no_data, &tampered] {
        let outcome = restore(&t, &bot.id, &snapshot.id, None).await;
        let Outcome::Failed { error } = outcome else { panic!("{outcome:?}") };
        assert_eq!(error.kind, "snapshotBroken", "{}", error.message);
    }
    let after = t.berth.container_status(&bot.id).await.expect("status");
    assert_eq!(after.container_id, before.container_id, "the bot is as it was");
    assert_eq!(after.state, ContainerState::Running);
    assert_eq!(exec(&t, &bot.id, "cat /data/file").await, ["changed"]);
    assert_eq!(t.berth.versions(&bot.id).await.expect("versions").len(), 1);
    assert_eq!(t.leftovers().len(), 2, "no container or volume left by the failed restores");
}

#[tokio::test]
async fn a_lineage_of_130_generations_still_snapshots_and_restores() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("lineage").await;
    exec(&t, &bot.id, "echo root > /data/origin && echo root > /etc/origin").await;
    // Stopped, each generation is quicker. Each one changes a file outside /data, as a bot
    // would: an unchanged filesystem commits to no new layer and would not pile them up.
    t.berth.container_stop(&bot.id).await.expect("stops");
    let marker = tempfile::NamedTempFile::new().expect("a temp file");
    for generation in 0..130 {
        std::fs::write(marker.path(), generation.to_string()).expect("written");
        let source = marker.path().to_str().expect("a UTF-8 path");
        let target = format!("{}:/etc/generation", container_id(&t, &bot.id).await);
        assert!(docker_ok(&["cp", source, &target]), "generation {generation} written");
        let name = format!("generation {generation}");
        assert_eq!(take(&t, &bot.id, &name).await, Outcome::Done, "{name} taken");
        let id = id_of(&t, &bot.id, &name).await;
        assert_eq!(restore(&t, &bot.id, &id, None).await, Outcome::Done, "{name} restored");
    }
    let entries = list(&t, &bot.id).await;
    assert_eq!(entries.len(), 130);
    assert_eq!(entries.last().map(|e| e.depth), Some(129), "one lineage");
    let container = container_id(&t, &bot.id).await;
    let image = docker(&["inspect", "--format", "{{.Image}}", &container]);
    let layers = docker(&["image", "inspect", "--format", "{{len .RootFS.Layers}}", &image[0]]);
    let layers: usize = layers[0].parse().expect("a number");
    assert!(layers < 125, "{layers} layers");

    t.berth.container_start(&bot.id).await.expect("starts");
    let read = "cat /data/origin /etc/origin /etc/generation";
    assert_eq!(exec(&t, &bot.id, read).await, ["root", "root", "129"]);
    let first = id_of(&t, &bot.id, "generation 0").await;
    assert_eq!(restore(&t, &bot.id, &first, None).await, Outcome::Done, "the first restores");
    assert_eq!(exec(&t, &bot.id, read).await, ["root", "root", "0"]);
}

#[tokio::test]
async fn cancelled_snapshot_and_restore_leave_nothing_behind() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("canceller").await;
    exec(&t, &bot.id, "echo kept > /data/file").await;
    let watcher = t.berth.snapshot_create(&bot.id, "never").await.expect("starts");
    t.berth.operation_cancel(&watcher.info().id).expect("cancels");
    assert_eq!(follow(watcher).await.0, Outcome::Cancelled);
    assert!(list(&t, &bot.id).await.is_empty());
    let labelled = docker(&["images", "-aq", "--filter", &t.run_label()]);
    assert!(labelled.is_empty(), "no snapshot image: {labelled:?}");
    let files = std::fs::read_dir(t.snapshots_dir().join(&bot.id)).map_or(0, |d| d.count());
    assert_eq!(files, 0, "no data file, whole or partial");
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Running, "not left paused");

    assert_eq!(take(&t, &bot.id, "kept").await, Outcome::Done);
    exec(&t, &bot.id, "echo changed > /data/file").await;
    let before = container_id(&t, &bot.id).await;
    let kept = id_of(&t, &bot.id, "kept").await;
    let watcher = t.berth.snapshot_restore(&bot.id, &kept, None).await.expect("starts");
    t.berth.operation_cancel(&watcher.info().id).expect("cancels");
    assert_eq!(follow(watcher).await.0, Outcome::Cancelled);
    assert_eq!(container_id(&t, &bot.id).await, before, "the same container");
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Running);
    assert_eq!(exec(&t, &bot.id, "cat /data/file").await, ["changed"]);
    assert_eq!(t.berth.versions(&bot.id).await.expect("versions").len(), 1);
    assert_eq!(t.leftovers().len(), 2, "no half-made container or volume");
}

/// A file system of `size` mounted over `dir` while it lives; needs root, as `scripts/test`
/// has on CI.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(dir: &std::path::Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(dir).expect("the directory exists");
        let options = format!("size={size}");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &options, "tmpfs"])
            .arg(dir)
            .status();
        assert!(
            mounted.is_ok_and(|s| s.success()),
            "mounting a small tmpfs needs root (scripts/test runs as root on CI)"
        );
        SmallDisk(dir.to_owned())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test]
async fn a_full_disk_fails_the_snapshot_and_loses_nothing() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("full disk").await;
    exec(&t, &bot.id, "head -c 3000000 /dev/urandom > /data/big && echo kept > /data/note").await;
    let _disk = SmallDisk::mount(&t.snapshots_dir(), "1m");

    let watcher = t.berth.snapshot_create(&bot.id, "too big").await.expect("starts");
    let outcome = follow(watcher).await.0;
    let Outcome::Failed { error } = outcome else { panic!("expected a failure: {outcome:?}") };
    assert_eq!(error.kind, "io", "{}", error.message);
    assert!(error.message.contains("No space left"), "{}", error.message);

    assert!(list(&t, &bot.id).await.is_empty());
    let labelled = docker(&["images", "-aq", "--filter", &t.run_label()]);
    assert!(labelled.is_empty(), "no snapshot image: {labelled:?}");
    let files = std::fs::read_dir(t.snapshots_dir().join(&bot.id)).map_or(0, |d| d.count());
    assert_eq!(files, 0, "the partial file is gone");
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Running, "resumed");
    assert_eq!(exec(&t, &bot.id, "cat /data/note").await, ["kept"]);
}
