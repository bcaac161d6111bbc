//! Long work with live progress: one operation per bot at a time.
//!
//! The worker reports progress into a `watch` channel, which keeps only the latest state, so a
//! slow reader never holds the worker up and never sees stale backlog. Each reader forwards at
//! most one progress message per [`MIN_INTERVAL`] and ends with exactly one `finished`
//! message. A reader that attaches late (a reloaded window) starts from the latest state.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, ErrorPayload, Result};
use crate::progress::PullSnapshot;
use crate::time::now_ms;

/// The shortest gap between two progress messages to one reader: at most 20 a second.
pub const MIN_INTERVAL: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum OperationKind {
    Create,
    Start,
    Stop,
    Delete,
    UpdateImage,
    Snapshot,
    Restore,
    DeleteSnapshot,
    Export,
    Import,
    ResetData,
    /// Putting right what an operation cut off by a crash left.
    Repair,
}

impl fmt::Display for OperationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            OperationKind::Create => "create",
            OperationKind::Start => "start",
            OperationKind::Stop => "stop",
            OperationKind::Delete => "delete",
            OperationKind::UpdateImage => "update image",
            OperationKind::Snapshot => "snapshot",
            OperationKind::Restore => "restore",
            OperationKind::DeleteSnapshot => "delete snapshot",
            OperationKind::Export => "export",
            OperationKind::Import => "import",
            OperationKind::ResetData => "reset data",
            OperationKind::Repair => "repair",
        };
        f.write_str(name)
    }
}

/// The step a long operation is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    Pulling,
    Creating,
    Starting,
    /// A snapshot saves the container's filesystem (the container is paused meanwhile).
    SavingFiles,
    /// A snapshot saves the data directory (the container is still paused).
    SavingData,
    /// A snapshot re-writes a filesystem that grew too many layers as one.
    Flattening,
    /// A restore writes the snapshot's data into a new data directory.
    RestoringData,
    /// An export writes the data directory to the chosen file.
    Exporting,
    /// An import reads every entry of the archive before writing anything.
    Checking,
    /// An import makes room: the data directory's content is set aside (replace) or saved
    /// (merge) so that a failure can put it back.
    Preparing,
    /// An import writes the archive into the data directory.
    Importing,
    /// A reset empties the data directory.
    Clearing,
    /// A failed or cancelled import puts the data directory back as it was.
    PuttingBack,
}

/// Bytes moved so far by a copy, and how many there are when known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Transfer {
    pub done: u64,
    pub total: Option<u64>,
}

/// Everything a reader needs to draw an operation's progress.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub phase: Option<Phase>,
    pub pull: Option<PullSnapshot>,
    pub transfer: Option<Transfer>,
    /// What the operation found worth saying when it ends without changing anything.
    pub note: Option<String>,
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum Outcome {
    Done,
    Failed { error: ErrorPayload },
    Cancelled,
}

impl<T> From<&Result<T>> for Outcome {
    fn from(result: &Result<T>) -> Self {
        match result {
            Ok(_) => Outcome::Done,
            Err(Error::Cancelled { .. }) => Outcome::Cancelled,
            Err(e) => Outcome::Failed { error: e.payload() },
        }
    }
}

/// A running operation, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationInfo {
    pub id: String,
    pub bot_id: String,
    pub kind: OperationKind,
    pub started_at: i64,
}

/// What a reader receives, in order: `started`, any number of `progress`, one `finished`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", content = "data", rename_all = "camelCase")]
pub enum OperationEvent {
    Started(OperationInfo),
    Progress(Progress),
    #[serde(rename_all = "camelCase")]
    Finished {
        operation_id: String,
        outcome: Outcome,
    },
}

#[derive(Debug)]
struct Running {
    info: OperationInfo,
    progress: watch::Sender<Progress>,
    outcome: watch::Sender<Option<Outcome>>,
    cancel: CancellationToken,
}

/// The operations running now, at most one per bot.
#[derive(Debug, Clone, Default)]
pub struct Operations {
    by_bot: Arc<Mutex<HashMap<String, Arc<Running>>>>,
}

impl Operations {
    /// Starts an operation on `bot`, or refuses when another one runs there.
    pub fn begin(&self, bot: &str, kind: OperationKind) -> Result<OperationHandle> {
        let mut by_bot = self.lock();
        if let Some(other) = by_bot.get(bot) {
            return Err(Error::Busy {
                bot: bot.to_owned(),
                operation: other.info.kind.to_string(),
            });
        }

        let running = Arc::new(Running {
            info: OperationInfo {
                id: uuid::Uuid::new_v4().simple().to_string(),
                bot_id: bot.to_owned(),
                kind,
                started_at: now_ms(),
            },
            progress: watch::Sender::new(Progress::default()),
            outcome: watch::Sender::new(None),
            cancel: CancellationToken::new(),
        });
        by_bot.insert(bot.to_owned(), Arc::clone(&running));
        Ok(OperationHandle { running, registry: self.clone(), finished: Default::default() })
    }

    pub fn list(&self) -> Vec<OperationInfo> {
        self.lock().values().map(|r| r.info.clone()).collect()
    }

    pub fn for_bot(&self, bot: &str) -> Option<OperationInfo> {
        self.lock().get(bot).map(|r| r.info.clone())
    }

    /// Asks the operation to stop; it ends as cancelled once it has undone its work.
    pub fn cancel(&self, operation: &str) -> Result<()> {
        self.find(operation)?.cancel.cancel();
        Ok(())
    }

    /// A reader of the operation's progress, from its latest state on.
    pub fn watch(&self, operation: &str) -> Result<Watcher> {
        Ok(Watcher { running: self.find(operation)? })
    }

    fn find(&self, operation: &str) -> Result<Arc<Running>> {
        let by_bot = self.lock();
        let running = by_bot.values().find(|r| r.info.id == operation);
        running.cloned().ok_or_else(|| Error::OperationNotFound { operation: operation.to_owned() })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Running>>> {
        // The map stays consistent under a panic: every change is a single insert or remove.
        self.by_bot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The worker's side of an operation. Dropping it unfinished ends the operation as failed.
#[derive(Debug)]
pub struct OperationHandle {
    running: Arc<Running>,
    registry: Operations,
    finished: std::sync::atomic::AtomicBool,
}

impl OperationHandle {
    pub fn info(&self) -> &OperationInfo {
        &self.running.info
    }

    /// A reader of this operation, from its latest state on.
    pub fn watch(&self) -> Watcher {
        Watcher { running: Arc::clone(&self.running) }
    }

    pub fn cancel_token(&self) -> &CancellationToken {
        &self.running.cancel
    }

    /// Fails with [`Error::Cancelled`] once the user has asked to cancel.
    pub fn check_cancelled(&self) -> Result<()> {
        if self.running.cancel.is_cancelled() {
            return Err(Error::Cancelled { operation: self.running.info.kind.to_string() });
        }
        Ok(())
    }

    /// Changes the progress readers see; they are woken, but only the latest state is sent.
    /// A new phase starts without the last one's transfer unless it gives its own: the bytes
    /// of a finished check are not the import's.
    pub fn report(&self, change: impl FnOnce(&mut Progress)) {
        self.running.progress.send_modify(|progress| {
            let (phase, transfer) = (progress.phase, progress.transfer);
            change(progress);
            if progress.phase != phase && progress.transfer == transfer {
                progress.transfer = None;
            }
        });
    }

    /// Ends the operation with `outcome`; only the first call counts.
    pub fn finish(&self, outcome: Outcome) {
        if self.finished.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        self.registry.lock().remove(&self.running.info.bot_id);
        self.running.outcome.send_replace(Some(outcome));
    }
}

impl Drop for OperationHandle {
    fn drop(&mut self) {
        let error = Error::Unfinished { operation: self.running.info.kind.to_string() };
        self.finish(Outcome::Failed { error: error.payload() });
    }
}

/// A reader's view of one operation.
#[derive(Debug)]
pub struct Watcher {
    running: Arc<Running>,
}

impl Watcher {
    pub fn info(&self) -> &OperationInfo {
        &self.running.info
    }

    /// Sends `started`, then throttled progress, then exactly one `finished`. Stops early when
    /// `send` returns false (the reader is gone).
    pub async fn forward(self, mut send: impl FnMut(OperationEvent) -> bool) {
        let mut progress = self.running.progress.subscribe();
        let mut outcome = self.running.outcome.subscribe();
        if !send(OperationEvent::Started(self.running.info.clone())) {
            return;
        }

        // `changed()` marks the value seen, so a change it reported is remembered here.
        let mut unsent = true;
        loop {
            let ended = outcome.borrow_and_update().clone();
            if unsent || progress.has_changed().unwrap_or(false) {
                unsent = false;
                let latest = progress.borrow_and_update().clone();
                if !send(OperationEvent::Progress(latest)) {
                    return;
                }
                if ended.is_none() {
                    tokio::time::sleep(MIN_INTERVAL).await;
                    continue;
                }
            }
            if let Some(outcome) = ended {
                let operation_id = self.running.info.id.clone();
                send(OperationEvent::Finished { operation_id, outcome });
                return;
            }
            // Both senders live in `self.running`, so neither wait can end with a closed channel.
            tokio::select! {
                _ = progress.changed() => unsent = true,
                _ = outcome.changed() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Starts a reader of the operation that returns every event it was sent.
    fn spawn_reader(
        operations: &Operations,
        handle: &OperationHandle,
    ) -> tokio::task::JoinHandle<Vec<OperationEvent>> {
        let watcher = operations.watch(&handle.info().id).expect("watches");
        tokio::spawn(async move {
            let mut events = Vec::new();
            watcher
                .forward(|event| {
                    events.push(event);
                    true
                })
                .await;
            events
        })
    }

    #[test]
    fn second_operation_on_a_bot_is_refused() {
        let operations = Operations::default();
        let first = operations.begin("b1", OperationKind::Create).expect("first");
        let second = operations.begin("b1", OperationKind::Stop);
        assert!(matches!(second, Err(Error::Busy { ref operation, .. }) if operation == "create"));
        assert!(operations.begin("b2", OperationKind::Create).is_ok(), "other bots are free");

        first.finish(Outcome::Done);
        assert!(operations.begin("b1", OperationKind::Stop).is_ok(), "free again after finish");
    }

    #[test]
    fn a_new_phase_does_not_show_the_last_ones_bytes() {
        let operations = Operations::default();
        let handle = operations.begin("b1", OperationKind::Import).expect("begins");
        let checked = Transfer { done: 400, total: Some(400) };
        handle.report(|p| {
            p.phase = Some(Phase::Checking);
            p.transfer = Some(checked);
        });
        handle.report(|p| p.phase = Some(Phase::Importing));
        let now = handle.running.progress.borrow().clone();
        assert_eq!((now.phase, now.transfer), (Some(Phase::Importing), None));
        let started = Transfer { done: 0, total: Some(900) };
        handle.report(|p| {
            p.phase = Some(Phase::Clearing);
            p.transfer = Some(started);
        });
        assert_eq!(handle.running.progress.borrow().transfer, Some(started), "given its own");
        handle.report(|p| p.transfer = Some(Transfer { done: 10, total: Some(900) }));
        assert_eq!(handle.running.progress.borrow().transfer.map(|t| t.done), Some(10));
    }

    #[test]
    fn dropped_handle_frees_the_bot_and_fails() {
        let operations = Operations::default();
        let handle = operations.begin("b1", OperationKind::Create).expect("begins");
        let outcome = handle.running.outcome.subscribe();
        drop(handle);
        assert!(operations.for_bot("b1").is_none());
        assert!(matches!(*outcome.borrow(), Some(Outcome::Failed { .. })));
    }

    #[test]
    fn drop_after_finish_keeps_the_outcome() {
        let operations = Operations::default();
        let handle = operations.begin("b1", OperationKind::Create).expect("begins");
        let outcome = handle.running.outcome.subscribe();
        handle.finish(Outcome::Done);
        drop(handle);
        assert_eq!(*outcome.borrow(), Some(Outcome::Done));
    }

    #[test]
    fn events_serialize_as_tagged_camel_case() {
        let event = OperationEvent::Finished {
            operation_id: "op".into(),
            outcome: Outcome::Failed {
                error: ErrorPayload { kind: "pull".into(), message: "boom".into() },
            },
        };
        let json = serde_json::to_value(&event).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({
                "event": "finished",
                "data": {
                    "operationId": "op",
                    "outcome": {"state": "failed", "error": {"kind": "pull", "message": "boom"}},
                },
            })
        );
    }

    #[tokio::test]
    async fn reader_is_throttled_and_ends_exactly_once_with_the_final_state() {
        let operations = Operations::default();
        let handle = operations.begin("b1", OperationKind::Create).expect("begins");
        let reader = spawn_reader(&operations, &handle);

        // 5,000 updates over about half a second.
        let started = Instant::now();
        for step in 0..5_000u32 {
            handle.report(|p| {
                p.phase = Some(Phase::Pulling);
                p.pull = Some(PullSnapshot {
                    fraction: Some(f64::from(step) / 4_999.0),
                    ..Default::default()
                });
            });
            if step % 50 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        handle.report(|p| p.phase = Some(Phase::Starting));
        handle.finish(Outcome::Done);
        let events = reader.await.expect("reader ends");
        let elapsed = started.elapsed();

        assert!(matches!(events.first(), Some(OperationEvent::Started(_))));
        let finished = events.iter().filter(|e| matches!(e, OperationEvent::Finished { .. }));
        assert_eq!(finished.count(), 1);
        assert!(matches!(
            events.last(),
            Some(OperationEvent::Finished { outcome: Outcome::Done, .. })
        ));

        let progress: Vec<&Progress> = events
            .iter()
            .filter_map(|e| match e {
                OperationEvent::Progress(p) => Some(p),
                _ => None,
            })
            .collect();
        let allowed = (elapsed.as_millis() / MIN_INTERVAL.as_millis()) as usize + 2;
        assert!(progress.len() <= allowed, "{} messages in {elapsed:?}", progress.len());
        let last = progress.last().expect("some progress");
        assert_eq!(last.phase, Some(Phase::Starting), "the final state is exact");
        assert_eq!(last.pull.as_ref().and_then(|p| p.fraction), Some(1.0));
    }

    #[tokio::test]
    async fn final_progress_after_an_idle_wait_is_sent() {
        let operations = Operations::default();
        let handle = operations.begin("b1", OperationKind::Create).expect("begins");
        let reader = spawn_reader(&operations, &handle);

        // The reader sends the initial state, sleeps, then waits for a change.
        tokio::time::sleep(MIN_INTERVAL * 3).await;
        handle.report(|p| p.phase = Some(Phase::Creating));
        tokio::time::sleep(MIN_INTERVAL * 3).await;
        handle.report(|p| p.phase = Some(Phase::Starting));
        handle.finish(Outcome::Done);
        let events = reader.await.expect("reader ends");

        let phases: Vec<_> = events
            .into_iter()
            .filter_map(|event| match event {
                OperationEvent::Progress(p) => Some(p.phase),
                _ => None,
            })
            .collect();
        assert_eq!(phases, [None, Some(Phase::Creating), Some(Phase::Starting)]);
    }

    #[tokio::test]
    async fn late_reader_starts_from_the_latest_state() {
        let operations = Operations::default();
        let handle = operations.begin("b1", OperationKind::Create).expect("begins");
        handle.report(|p| p.phase = Some(Phase::Creating));

        let reader = spawn_reader(&operations, &handle);
        tokio::time::sleep(Duration::from_millis(20)).await;
        handle.finish(Outcome::Cancelled);
        let events = reader.await.expect("reader ends");
        assert!(
            matches!(&events[1], OperationEvent::Progress(p) if p.phase == Some(Phase::Creating))
        );
        assert!(matches!(
            events.last(),
            Some(OperationEvent::Finished { outcome: Outcome::Cancelled, .. })
        ));
    }

    #[test]
    fn cancel_unknown_operation_is_not_found() {
        let operations = Operations::default();
        assert!(matches!(operations.cancel("nope"), Err(Error::OperationNotFound { .. })));
    }
}
