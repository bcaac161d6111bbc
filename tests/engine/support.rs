//! A Berth on a real engine for one test, with everything it creates labelled and removed.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use berth_core::engine::link::EngineStatus;
use berth_core::operations::{OperationEvent, Outcome, Watcher};
use berth_core::{Berth, Config};

#[path = "../common/silent_registry.rs"]
mod silent_registry;
pub use silent_registry::silent_registry;

/// The label every resource of one test carries, with the test's own value.
pub const TEST_LABEL: &str = "io.berth.test";

/// The image the tests create containers from; `scripts/test` pushes it.
pub fn test_image(tag: &str) -> String {
    let repo = std::env::var("BERTH_TEST_IMAGE")
        .unwrap_or_else(|_| "127.0.0.1:5000/berth-test/busybox".into());
    format!("{repo}:{tag}")
}

pub struct TestBerth {
    pub berth: Berth,
    run: String,
    dir: tempfile::TempDir,
}

impl TestBerth {
    /// A Berth on the engine from the environment, with a fresh store.
    pub async fn start() -> TestBerth {
        let berth = Self::start_on(berth_core::engine::Endpoint::from_env()).await;
        let status = berth.berth.engine_settled().await;
        assert!(
            matches!(status, EngineStatus::Connected { .. }),
            "these tests need a Docker engine (scripts/test starts one): {status:?}"
        );
        berth
    }

    pub async fn start_on(host: String) -> TestBerth {
        let dir = tempfile::tempdir().expect("temp dir");
        let run = uuid();
        let berth = Self::berth(dir.path(), &run, host).await;
        TestBerth { berth, run, dir }
    }

    async fn berth(dir: &std::path::Path, run: &str, host: String) -> Berth {
        let mut config = Config::new(dir.join("berth.db"));
        config.engine_host = host;
        config.labels = BTreeMap::from([(TEST_LABEL.to_owned(), run.to_owned())]);
        config.stop_grace_secs = 2;
        Berth::start(config).await.expect("berth starts")
    }

    /// Stops this Berth and starts another on the same store, as a restarted app does.
    #[cfg_attr(not(feature = "crash-points"), allow(dead_code))]
    pub async fn reopen(&mut self) {
        self.berth.shutdown();
        let host = berth_core::engine::Endpoint::from_env();
        self.berth = Self::berth(self.dir.path(), &self.run, host).await;
        self.berth.engine_settled().await;
    }

    /// The SQLite file, and the label value, for another process on this store.
    #[cfg_attr(not(feature = "crash-points"), allow(dead_code))]
    pub fn store_and_run(&self) -> (std::path::PathBuf, &str) {
        (self.dir.path().join("berth.db"), &self.run)
    }

    /// Creates the bot's container and waits for the operation's end, collecting every event.
    pub async fn create_container(&self, bot: &str) -> (Outcome, Vec<OperationEvent>) {
        follow(self.berth.container_create(bot).await.expect("create starts")).await
    }

    /// Updates the bot's image and waits for the operation's end, collecting every event.
    pub async fn update_image(&self, bot: &str) -> (Outcome, Vec<OperationEvent>) {
        follow(self.berth.container_update_image(bot, None).await.expect("update starts")).await
    }

    /// Where this Berth keeps snapshot data files.
    pub fn snapshots_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("snapshots")
    }

    /// Where this Berth keeps a merging import's saved copy of the data directory.
    #[cfg_attr(not(feature = "crash-points"), allow(dead_code))]
    pub fn work_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("work")
    }

    /// The label, as `key=value`, that this test's own engine resources should carry.
    pub fn run_label(&self) -> String {
        format!("{TEST_LABEL}={}", self.run)
    }

    /// A bot whose container was created from the test image and runs.
    pub async fn running_bot(&self, label: &str) -> berth_core::bots::Bot {
        let name = format!("{label} {}", uuid());
        let bot = self.berth.bot_create(&name, &test_image("latest")).await.expect("bot");
        let (outcome, _) = self.create_container(&bot.id).await;
        assert_eq!(outcome, Outcome::Done, "the container of {name} was created");
        bot
    }

    /// Ids of the containers and volumes this test's Berth created that still exist.
    pub fn leftovers(&self) -> Vec<String> {
        let filter = format!("label={TEST_LABEL}={}", self.run);
        let mut found = docker(&["ps", "-aq", "--filter", &filter]);
        found.extend(docker(&["volume", "ls", "-q", "--filter", &filter]));
        found
    }
}

impl Drop for TestBerth {
    /// Removes what the test created, whether it passed or not.
    fn drop(&mut self) {
        self.berth.shutdown();
        let filter = format!("label={TEST_LABEL}={}", self.run);
        let containers = docker(&["ps", "-aq", "--filter", &filter]);
        if !containers.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(containers.iter().map(String::as_str));
            docker(&args);
        }
        // Images too: snapshots commit them, and the update tests push and pull them.
        let images = docker(&["images", "-aq", "--filter", &filter]);
        if !images.is_empty() {
            let mut args = vec!["rmi", "-f"];
            args.extend(images.iter().map(String::as_str));
            docker(&args);
        }
        let volumes = docker(&["volume", "ls", "-q", "--filter", &filter]);
        if !volumes.is_empty() {
            let mut args = vec!["volume", "rm", "-f"];
            args.extend(volumes.iter().map(String::as_str));
            docker(&args);
        }
    }
}

/// Follows an operation to its end, returning its outcome and every event it sent.
pub async fn follow(watcher: Watcher) -> (Outcome, Vec<OperationEvent>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let forward = watcher.forward(move |event| tx.send(event).is_ok());
    tokio::time::timeout(Duration::from_secs(120), forward).await.expect("the operation ends");

    let mut events = Vec::new();
    while let Ok(event) = rx.try_recv() {
        events.push(event);
    }
    let outcome = match events.last() {
        Some(OperationEvent::Finished { outcome, .. }) => outcome.clone(),
        other => panic!("the last event is not finished: {other:?}"),
    };
    (outcome, events)
}

/// The note the operation's last progress carried ("… is up to date", "Exported to …").
pub fn last_note(events: &[OperationEvent]) -> Option<String> {
    events.iter().rev().find_map(|e| match e {
        OperationEvent::Progress(p) => p.note.clone(),
        _ => None,
    })
}

/// Removes the image by id, with every tag and digest that names it, so that a pull of it must
/// fetch its layers; fails the test if the engine still has it.
pub fn remove_image(reference: &str) {
    for id in docker(&["image", "inspect", "--format", "{{.Id}}", reference]) {
        docker(&["rmi", "-f", &id]);
    }
    let left = Command::new("docker").args(["image", "inspect", reference]).output();
    assert!(left.is_ok_and(|o| !o.status.success()), "{reference} is still on the engine");
}

/// Runs the docker CLI and tells whether it succeeded.
pub fn docker_ok(args: &[&str]) -> bool {
    let out = Command::new("docker").args(args).output();
    out.is_ok_and(|o| o.status.success())
}

/// Runs the docker CLI and returns its output lines; a failure is reported, not raised, so
/// that cleanup goes on.
pub fn docker(args: &[&str]) -> Vec<String> {
    match Command::new("docker").args(args).output() {
        Ok(out) if out.status.success() => {
            String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
        }
        Ok(out) => {
            eprintln!("docker {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim());
            Vec::new()
        }
        Err(e) => {
            eprintln!("docker {args:?}: {e}");
            Vec::new()
        }
    }
}

pub fn uuid() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{nanos:x}-{}-{n}", std::process::id())
}

/// Waits until `check` holds, polling every 20 ms, for at most `limit`.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}
