//! The engine going away and coming back, during a pull and while idle: operations in flight
//! fail with a clear reason, never stay "in progress", and every live stream reconnects.
//!
//! The engine these tests use is shared with every other test, so it is not restarted: Berth
//! reaches it through a proxy socket that the test cuts (dropping every connection and
//! refusing new ones, as a stopped engine does) and restores.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use berth_core::berth::Change;
use berth_core::engine::link::EngineStatus;
use berth_core::lifecycle::ContainerState;
use berth_core::operations::{OperationEvent, Outcome, Phase};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

use crate::support::{docker, eventually, silent_registry, TestBerth};
use crate::{container_id, state_of};

/// A socket that forwards to the real engine until cut.
struct EngineProxy {
    path: PathBuf,
    up: Arc<AtomicBool>,
    cuts: watch::Sender<u64>,
    _dir: tempfile::TempDir,
}

impl EngineProxy {
    fn start() -> EngineProxy {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("engine.sock");
        let target =
            match berth_core::engine::Endpoint::parse(&berth_core::engine::Endpoint::from_env()) {
                Ok(berth_core::engine::Endpoint::Unix(path)) => PathBuf::from(path),
                other => panic!("these tests need the engine on a unix socket: {other:?}"),
            };
        let listener = UnixListener::bind(&path).expect("the proxy listens");
        let up = Arc::new(AtomicBool::new(true));
        let (cuts, _) = watch::channel(0u64);
        let (accepting, cut_signal) = (Arc::clone(&up), cuts.subscribe());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !accepting.load(Ordering::SeqCst) {
                    continue; // Dropped at once: nobody answers.
                }
                let (target, mut cut) = (target.clone(), cut_signal.clone());
                // Only cuts from now on end this connection.
                cut.borrow_and_update();
                tokio::spawn(async move {
                    let Ok(engine) = UnixStream::connect(&target).await else { return };
                    let (mut client, mut engine) = (client, engine);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut engine) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        EngineProxy { path, up, cuts, _dir: dir }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    /// Drops every connection and refuses new ones, as an engine that stopped.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

async fn connected(t: &TestBerth) -> bool {
    matches!(t.berth.engine_status(), EngineStatus::Connected { .. })
}

#[tokio::test]
async fn an_engine_restart_during_a_pull_fails_it_clearly_and_berth_reconnects() {
    let proxy = EngineProxy::start();
    let t = TestBerth::start_on(proxy.host()).await;
    assert!(matches!(t.berth.engine_settled().await, EngineStatus::Connected { .. }));
    let image = format!("127.0.0.1:{}/berth-test/never:latest", silent_registry());
    let bot = t.berth.bot_create("restart pull", &image).await.expect("bot");

    let watcher = t.berth.container_create(&bot.id).await.expect("create starts");
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let follower = tokio::spawn(watcher.forward(move |event| seen_tx.send(event).is_ok()));
    // Wait until the pull is under way, then take the engine away.
    let pulling = async {
        while let Some(event) = seen_rx.recv().await {
            if matches!(&event, OperationEvent::Progress(p) if p.phase == Some(Phase::Pulling)) {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), pulling).await.expect("the pull starts");
    proxy.cut();

    tokio::time::timeout(Duration::from_secs(30), follower)
        .await
        .expect("the create ends, not stuck in progress")
        .expect("the follower ran");
    let mut outcome = None;
    while let Ok(event) = seen_rx.try_recv() {
        if let OperationEvent::Finished { outcome: o, .. } = event {
            outcome = Some(o);
        }
    }
    let Some(Outcome::Failed { error }) = outcome else {
        panic!("expected a failure: {outcome:?}")
    };
    assert!(["engineUnreachable", "pull"].contains(&error.kind.as_str()), "{error:?}");
    assert!(!error.message.is_empty());
    assert!(t.berth.operations().is_empty(), "nothing left in progress");

    proxy.restore();
    let back = eventually(Duration::from_secs(30), || connected(&t));
    assert!(back.await, "Berth reconnects by itself");
    let other = t.running_bot("after the restart").await;
    assert_eq!(state_of(&t, &other.id).await, ContainerState::Running, "the engine is usable");
}

#[tokio::test]
async fn an_engine_restart_while_idle_reconnects_every_live_stream() {
    let proxy = EngineProxy::start();
    let t = TestBerth::start_on(proxy.host()).await;
    assert!(matches!(t.berth.engine_settled().await, EngineStatus::Connected { .. }));
    let bot = t.running_bot("restart idle").await;

    proxy.cut();
    let lost = eventually(Duration::from_secs(20), || async { !connected(&t).await });
    assert!(lost.await, "the loss is noticed");
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Unreachable);
    proxy.restore();
    let back = eventually(Duration::from_secs(30), || connected(&t));
    assert!(back.await, "Berth reconnects by itself");

    // The event stream follows the engine again: a stop from outside is heard.
    let mut changes = t.berth.subscribe();
    docker(&["stop", "-t", "1", &container_id(&t, &bot.id).await]);
    let heard = async {
        loop {
            match changes.recv().await {
                Ok(Change::Container { bot_id }) if bot_id == bot.id => return,
                Ok(_) => {}
                Err(error) => panic!("changes ended: {error}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), heard).await.expect("heard within 10 s");
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Stopped);
}
