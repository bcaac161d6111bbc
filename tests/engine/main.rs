//! Bot lifecycle on a real Docker engine, with images from the local registry.

#[cfg(feature = "crash-points")]
mod crash;
mod data;
mod restart;
mod snapshots;
mod support;

use std::time::Duration;

use berth_core::berth::Change;
use berth_core::engine::link::EngineStatus;
use berth_core::lifecycle::ContainerState;
use berth_core::operations::{OperationEvent, Outcome, Phase};
use berth_core::store::VersionReason;
use support::{docker, eventually, test_image, TestBerth};

fn bot_name(label: &str) -> String {
    format!("{label} {}", support::uuid())
}

async fn state_of(t: &TestBerth, bot: &str) -> ContainerState {
    t.berth.container_status(bot).await.expect("status").state
}

async fn container_id(t: &TestBerth, bot: &str) -> String {
    let status = t.berth.container_status(bot).await.expect("status");
    status.container_id.expect("has a container")
}

async fn exec(t: &TestBerth, bot: &str, script: &str) -> Vec<String> {
    docker(&["exec", &container_id(t, bot).await, "sh", "-c", script])
}

#[tokio::test]
async fn create_pulls_with_monotonic_progress_and_runs() {
    let t = TestBerth::start().await;
    let image = test_image("pull");
    support::remove_image(&image);
    let bot = t.berth.bot_create(&bot_name("puller"), &image).await.expect("bot");

    let (outcome, events) = t.create_container(&bot.id).await;
    assert_eq!(outcome, Outcome::Done);

    let mut phases = Vec::new();
    let mut last_fraction = 0.0;
    let mut layers_seen = 0;
    for event in &events {
        if let OperationEvent::Progress(progress) = event {
            if let Some(phase) = progress.phase {
                if phases.last() != Some(&phase) {
                    phases.push(phase);
                }
            }
            if let Some(pull) = &progress.pull {
                layers_seen = layers_seen.max(pull.layers.len());
                if let Some(f) = pull.fraction {
                    assert!(f.is_finite() && (0.0..=1.0).contains(&f), "fraction {f}");
                    assert!(f >= last_fraction, "bar went back from {last_fraction} to {f}");
                    last_fraction = f;
                }
            }
        }
    }
    // Phases closer together than the throttle's interval may be coalesced, never reordered;
    // the last state sent is exact.
    assert_eq!(phases.first(), Some(&Phase::Pulling), "{events:#?}");
    assert_eq!(phases.last(), Some(&Phase::Starting), "{events:#?}");
    assert!(phases.windows(2).all(|w| w[0] < w[1]), "{phases:?}");
    assert!(layers_seen >= 1, "the pull reported its layer");
    assert_eq!(last_fraction, 1.0, "the final state is exact");

    let status = t.berth.container_status(&bot.id).await.expect("status");
    assert_eq!(status.state, ContainerState::Running);
    assert!(status.image_digest.is_some_and(|d| d.starts_with("sha256:")));
    assert!(status.data_host_path.is_some_and(|p| p.starts_with('/')));
    assert_eq!(status.data_container_path, "/data");
    assert!(status.started_at.is_some());
}

#[tokio::test]
async fn data_survives_stop_start_and_recreate_with_kept_data() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("keeper").await;
    exec(&t, &bot.id, "echo kept > /data/note.txt").await;

    t.berth.container_stop(&bot.id).await.expect("stops");
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Stopped);
    t.berth.container_start(&bot.id).await.expect("starts");
    assert_eq!(exec(&t, &bot.id, "cat /data/note.txt").await, ["kept"]);

    t.berth.container_delete(&bot.id, true).await.expect("deletes, keeping data");
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::None);
    assert_eq!(t.create_container(&bot.id).await.0, Outcome::Done);
    assert_eq!(exec(&t, &bot.id, "cat /data/note.txt").await, ["kept"]);

    let versions = t.berth.versions(&bot.id).await.expect("versions");
    let reasons: Vec<_> = versions.iter().map(|v| (v.number, v.reason)).collect();
    assert_eq!(reasons, [(2, VersionReason::Recreated), (1, VersionReason::Created)]);
    let status = t.berth.container_status(&bot.id).await.expect("status");
    assert_eq!(status.version.map(|v| v.number), Some(2), "the current version");
    assert_eq!(versions[0].container_id, status.container_id.expect("id"));

    t.berth.container_delete(&bot.id, false).await.expect("deletes with data");
    assert_eq!(t.create_container(&bot.id).await.0, Outcome::Done);
    assert!(exec(&t, &bot.id, "ls /data").await.is_empty(), "data went with the delete");
}

#[tokio::test]
async fn start_and_stop_are_safe_to_repeat() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("repeat").await;

    t.berth.container_start(&bot.id).await.expect("start on running");
    t.berth.container_stop(&bot.id).await.expect("first stop");
    t.berth.container_stop(&bot.id).await.expect("second stop");
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Stopped);
    assert_eq!(t.berth.container_status(&bot.id).await.expect("status").tasks, None);
    t.berth.container_start(&bot.id).await.expect("first start");
    t.berth.container_start(&bot.id).await.expect("second start");
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Running);
}

#[tokio::test]
async fn tasks_counts_background_jobs() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("tasks").await;
    let tasks = |t: &TestBerth| {
        let bot = bot.id.clone();
        let berth = t.berth.clone();
        async move { berth.container_status(&bot).await.expect("status").tasks }
    };
    assert_eq!(tasks(&t).await, Some(0));

    let id = container_id(&t, &bot.id).await;
    docker(&["exec", "-d", &id, "sleep", "300"]);
    docker(&["exec", "-d", &id, "sleep", "300"]);
    let two = eventually(Duration::from_secs(5), || async { tasks(&t).await == Some(2) }).await;
    assert!(two, "tasks read {:?}", tasks(&t).await);
}

/// Waits for a change of `bot`'s container heard after this call, for at most `limit`.
async fn heard_within(
    changes: &mut tokio::sync::broadcast::Receiver<Change>,
    bot: &str,
    limit: Duration,
) -> bool {
    let wait = async {
        loop {
            match changes.recv().await {
                Ok(Change::Container { bot_id }) if bot_id == bot => return,
                Ok(_) => {}
                Err(e) => panic!("change stream broke: {e}"),
            }
        }
    };
    tokio::time::timeout(limit, wait).await.is_ok()
}

#[tokio::test]
async fn outside_stop_and_remove_are_seen_live() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("watched").await;
    let id = container_id(&t, &bot.id).await;
    // Let the create's own events pass, so that only the outside commands can answer below.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut changes = t.berth.subscribe();
    docker(&["kill", "--signal", "KILL", &id]);
    assert!(heard_within(&mut changes, &bot.id, Duration::from_secs(1)).await, "kill unheard");
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Stopped);

    let mut changes = t.berth.subscribe();
    docker(&["rm", &id]);
    assert!(heard_within(&mut changes, &bot.id, Duration::from_secs(1)).await, "rm unheard");
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Missing);

    // A missing container can be created again.
    assert_eq!(t.create_container(&bot.id).await.0, Outcome::Done);
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Running);
}

#[tokio::test]
async fn outside_exec_changes_tasks_live() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("exec").await;
    let id = container_id(&t, &bot.id).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut changes = t.berth.subscribe();
    docker(&["exec", "-d", &id, "sleep", "300"]);
    assert!(heard_within(&mut changes, &bot.id, Duration::from_secs(1)).await, "exec unheard");
}

async fn assert_fails_cleanly(image: &str, kind: &str) {
    let t = TestBerth::start().await;
    let bot = t.berth.bot_create(&bot_name("doomed"), image).await.expect("bot");

    let (outcome, _) = t.create_container(&bot.id).await;
    match outcome {
        Outcome::Failed { error } => assert_eq!(error.kind, kind, "{}", error.message),
        other => panic!("expected a failure, got {other:?}"),
    }
    let status = t.berth.container_status(&bot.id).await.expect("status");
    assert_eq!(status.state, ContainerState::None, "no row claims a container");
    assert_eq!(status.container_id, None);
    assert_eq!(t.leftovers(), Vec::<String>::new(), "no container or volume is left");
}

#[tokio::test]
async fn unknown_image_fails_with_nothing_left() {
    assert_fails_cleanly(&test_image("no-such-tag"), "imageNotFound").await;
}

#[tokio::test]
async fn unreachable_registry_fails_with_nothing_left() {
    assert_fails_cleanly("127.0.0.1:5999/berth-test/busybox:latest", "pull").await;
}

#[tokio::test]
async fn second_operation_on_a_bot_is_refused_and_cancel_leaves_nothing() {
    let t = TestBerth::start().await;
    let image = format!("127.0.0.1:{}/berth-test/never:latest", support::silent_registry());
    let bot = t.berth.bot_create(&bot_name("busy"), &image).await.expect("bot");

    let watcher = t.berth.container_create(&bot.id).await.expect("first create");
    let operation = watcher.info().id.clone();
    let second = t.berth.container_create(&bot.id).await;
    assert_eq!(second.expect_err("second create is refused").kind(), "busy");
    let stop = t.berth.container_stop(&bot.id).await;
    assert_eq!(stop.expect_err("stop is refused too").kind(), "busy");
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Creating);

    t.berth.operation_cancel(&operation).expect("cancels");
    let mut outcome = None;
    let forward = watcher.forward(|event| {
        if let OperationEvent::Finished { outcome: o, .. } = event {
            outcome = Some(o);
        }
        true
    });
    tokio::time::timeout(Duration::from_secs(10), forward).await.expect("cancel ends it");
    assert_eq!(outcome, Some(Outcome::Cancelled));
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::None);
    assert!(t.leftovers().is_empty());
}

#[tokio::test]
async fn failure_after_the_container_exists_removes_it_and_its_volume() {
    let t = TestBerth::start().await;
    let bot = t.berth.bot_create(&bot_name("notail"), &test_image("notail")).await.expect("bot");

    let (outcome, events) = t.create_container(&bot.id).await;
    let Outcome::Failed { error } = outcome else { panic!("expected a failure: {events:?}") };
    assert!(error.message.contains("tail"), "the message names what is missing: {error:?}");
    let phases: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            OperationEvent::Progress(p) => p.phase,
            _ => None,
        })
        .collect();
    assert_eq!(phases.last(), Some(&Phase::Starting), "it failed while starting");

    assert_eq!(state_of(&t, &bot.id).await, ContainerState::None);
    assert!(t.leftovers().is_empty(), "undo removed {:?}", t.leftovers());
}

#[tokio::test]
async fn deleting_a_bot_removes_its_container_and_data() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("gone").await;
    assert_eq!(t.leftovers().len(), 2, "a container and a volume");

    t.berth.bot_delete(&bot.id).await.expect("deletes");
    assert!(t.leftovers().is_empty());
    assert_eq!(t.berth.bot(&bot.id).await.expect_err("gone").kind(), "notFound");
}

#[tokio::test]
async fn no_engine_still_lists_bots_and_says_where_it_looked() {
    let t = TestBerth::start_on("unix:///nonexistent/docker.sock".into()).await;
    let status = t.berth.engine_settled().await;
    match status {
        EngineStatus::Unreachable { endpoint, reason, .. } => {
            assert_eq!(endpoint, "unix:///nonexistent/docker.sock");
            assert!(!reason.is_empty());
        }
        other => panic!("expected unreachable, got {other:?}"),
    }

    let bot = t.berth.bot_create(&bot_name("offline"), "busybox").await.expect("bot");
    let bots = t.berth.bots().await.expect("lists");
    assert_eq!(bots[0].state, ContainerState::Unreachable);
    let create = t.berth.container_create(&bot.id).await;
    assert_eq!(create.expect_err("no engine").kind(), "engineUnreachable");
}

/// Pushes a new image to `reference` in the local registry: the test image plus one file, so
/// that the tag moves to a new digest. The container that built it carries the test's label.
fn push_new_image(t: &TestBerth, reference: &str, content: &str) {
    let builder = format!("berth-test-build-{}", support::uuid());
    let script = format!("echo {content} > /image-content");
    let label = t.run_label();
    let base = test_image("latest");
    docker(&["pull", "-q", &base]);
    docker(&["run", "--name", &builder, "--label", &label, &base, "sh", "-c", &script]);
    docker(&["commit", &builder, reference]);
    docker(&["rm", &builder]);
    docker(&["push", "-q", reference]);
    docker(&["rmi", reference]);
}

#[tokio::test]
async fn update_image_follows_a_moved_tag_and_keeps_data_and_state() {
    let t = TestBerth::start().await;
    let reference = format!("127.0.0.1:5000/berth-test/moving:{}", support::uuid());
    push_new_image(&t, &reference, "first");
    let bot = t.berth.bot_create(&bot_name("mover"), &reference).await.expect("bot");
    assert_eq!(t.create_container(&bot.id).await.0, Outcome::Done);
    exec(&t, &bot.id, "echo kept > /data/note.txt").await;
    let first = t.berth.container_status(&bot.id).await.expect("status");

    push_new_image(&t, &reference, "second");
    let (outcome, _) = t.update_image(&bot.id).await;
    assert_eq!(outcome, Outcome::Done);
    let second = t.berth.container_status(&bot.id).await.expect("status");
    assert_eq!(second.state, ContainerState::Running, "it ran before, so it runs again");
    assert_ne!(second.image_digest, first.image_digest, "the new digest is recorded");
    assert_ne!(second.container_id, first.container_id, "the container was re-created");
    assert_eq!(exec(&t, &bot.id, "cat /image-content /data/note.txt").await, ["second", "kept"]);
    let versions = t.berth.versions(&bot.id).await.expect("versions");
    assert_eq!(versions[0].reason, VersionReason::ImageUpdated);
    assert_eq!(versions[0].number, 2);

    let (outcome, events) = t.update_image(&bot.id).await;
    assert_eq!(outcome, Outcome::Done);
    let note = support::last_note(&events);
    assert!(note.is_some_and(|n| n.contains("up to date")), "an unchanged image is said so");
    assert_eq!(t.berth.versions(&bot.id).await.expect("versions").len(), 2, "no new version");

    // Restored, the container runs the snapshot's image; its base image is what counts.
    let watcher = t.berth.snapshot_create(&bot.id, "before update").await.expect("starts");
    assert_eq!(support::follow(watcher).await.0, Outcome::Done);
    let snapshot = t.berth.snapshots(&bot.id).await.expect("lists")[0].snapshot.id.clone();
    let watcher = t.berth.snapshot_restore(&bot.id, &snapshot, None).await.expect("starts");
    assert_eq!(support::follow(watcher).await.0, Outcome::Done);
    let restored = t.berth.container_status(&bot.id).await.expect("status").container_id;
    let (outcome, events) = t.update_image(&bot.id).await;
    assert_eq!(outcome, Outcome::Done);
    let note = support::last_note(&events);
    assert!(note.is_some_and(|n| n.contains("up to date")), "a restored container too");
    let after = t.berth.container_status(&bot.id).await.expect("status").container_id;
    assert_eq!(after, restored, "the restored container was kept");
    assert_eq!(t.berth.versions(&bot.id).await.expect("versions").len(), 3, "restored only");

    t.berth.container_stop(&bot.id).await.expect("stops");
    push_new_image(&t, &reference, "third");
    assert_eq!(t.update_image(&bot.id).await.0, Outcome::Done);
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Stopped, "stopped stays stopped");
    assert_eq!(t.berth.versions(&bot.id).await.expect("versions").len(), 4);
    docker(&["rmi", "-f", &reference]);
}

#[tokio::test]
async fn failed_update_puts_the_old_container_back() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("rollback").await;
    exec(&t, &bot.id, "echo kept > /data/note.txt").await;
    let before = t.berth.container_status(&bot.id).await.expect("status");

    let watcher = t
        .berth
        .container_update_image(&bot.id, Some(&test_image("notail")))
        .await
        .expect("update starts");
    let (outcome, _) = support::follow(watcher).await;
    let Outcome::Failed { error } = outcome else { panic!("expected a failure: {outcome:?}") };
    assert_eq!(error.kind, "imageUnsuitable", "{}", error.message);

    let after = t.berth.container_status(&bot.id).await.expect("status");
    assert_eq!(after.state, ContainerState::Running, "the old container runs again");
    assert_eq!(after.container_id, before.container_id);
    assert_eq!(after.image, before.image, "the bot keeps its image");
    assert_eq!(t.berth.bot(&bot.id).await.expect("bot").image, test_image("latest"));
    assert_eq!(t.berth.versions(&bot.id).await.expect("versions").len(), 1, "no version");
    assert_eq!(exec(&t, &bot.id, "cat /data/note.txt").await, ["kept"]);
    assert_eq!(t.leftovers().len(), 2, "only the old container and the volume remain");
}

#[tokio::test]
async fn resources_come_from_the_stats_stream() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("busy").await;
    exec(&t, &bot.id, "head -c 3000000 /dev/zero > /data/three-mb").await;
    let id = container_id(&t, &bot.id).await;
    docker(&["exec", "-d", &id, "sh", "-c", "while :; do :; done"]);

    let mut samples = Vec::new();
    let stop = tokio_util::sync::CancellationToken::new();
    let followed = t.berth.container_stats(&bot.id, stop, |sample| {
        samples.push(sample);
        samples.len() < 4
    });
    tokio::time::timeout(Duration::from_secs(30), followed)
        .await
        .expect("four samples within 30 s")
        .expect("the stream reads");
    assert_eq!(samples[0].cpu_percent, None, "the first reading has nothing to compare with");
    let busy = samples[3].cpu_percent.expect("a rate");
    // Idle, the container reads 0.0; a busy loop shows even on a loaded machine.
    assert!(busy > 5.0, "a busy loop shows: {busy} %");
    assert!(samples.iter().all(|s| s.memory_used.is_some_and(|m| m > 0)));
    let data = samples[0].data_bytes.expect("measured on the first sample");
    assert!((3_000_000..4_000_000).contains(&data), "{data} bytes");

    t.berth.container_stop(&bot.id).await.expect("stops");
    let stop = tokio_util::sync::CancellationToken::new();
    let ended = tokio::time::timeout(
        Duration::from_secs(10),
        t.berth.container_stats(&bot.id, stop, |_| true),
    );
    assert!(ended.await.is_ok(), "a stopped container's stream ends");
}

#[tokio::test]
async fn start_twice_at_once_is_harmless() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("double").await;
    t.berth.container_stop(&bot.id).await.expect("stops");
    // As two quick presses of Start in the tray: one starts, the other finds it busy or done.
    let (first, second) =
        tokio::join!(t.berth.container_start(&bot.id), t.berth.container_start(&bot.id));
    for result in [first, second] {
        assert!(result.as_ref().map_or_else(|e| e.kind() == "busy", |()| true), "{result:?}");
    }
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Running);
    t.berth.container_start(&bot.id).await.expect("and once more, when it already runs");
    assert_eq!(t.leftovers().len(), 2, "one container, one volume");
}

#[tokio::test]
async fn a_container_labelled_for_an_unknown_bot_is_reported_and_left_alone() {
    let mut t = TestBerth::start().await;
    let stray = format!("stray{}", support::uuid().replace('-', ""));
    let name = format!("berth-{stray}");
    let image = test_image("latest");
    docker(&["pull", "-q", &image]);
    let (bot_label, test_label) = (format!("io.berth.bot={stray}"), t.run_label());
    let args = ["create", "--name", &name, "--label", &bot_label, "--label", &test_label, &image];
    assert_eq!(docker(&args).len(), 1, "the stray is made");
    // One that another Berth on the same engine made, with labels of its own, is not a stray.
    let other = TestBerth::start().await;
    let (other_stray, other_label) = (format!("berth-{stray}x"), other.run_label());
    let other_bot = format!("io.berth.bot={stray}x");
    let args =
        ["create", "--name", &other_stray, "--label", &other_bot, "--label", &other_label, &image];
    assert_eq!(docker(&args).len(), 1, "the other Berth's container is made");

    t.reopen().await;
    let reported = eventually(Duration::from_secs(20), || async {
        t.berth.repairs().iter().any(|r| r.operation.is_none() && r.message.contains(&name))
    });
    assert!(reported.await, "the stray is reported: {:?}", t.berth.repairs());
    let repairs = t.berth.repairs();
    let other_named = format!("`{other_stray}`");
    assert!(!repairs.iter().any(|r| r.message.contains(&other_named)), "{repairs:?}");
    assert_eq!(t.leftovers().len(), 1, "and left as it is");
    assert_eq!(other.leftovers().len(), 1, "the other Berth's too");
}
