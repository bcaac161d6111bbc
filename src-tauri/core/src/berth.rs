//! The object the app holds: it owns the store, the engine link and the running operations,
//! and every user action is one of its methods.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::{FutureExt, StreamExt};
use serde::Serialize;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::bots::{Bot, BotName, ImageRef, Name};
use crate::data::{self, ImportMode};
use crate::engine::link::{EngineLink, EngineStatus, LinkEvent};
use crate::error::{Error, Result};
use crate::journal::{self, Repair};
use crate::lifecycle::{self, ContainerStatus, STOP_GRACE_SECS};
use crate::operations::{
    OperationHandle, OperationInfo, OperationKind, Operations, Outcome, Watcher,
};
use crate::snapshots::{self, SnapshotEntry};
use crate::store::{OperationState, Store, Version};

/// How many stats samples pass between two measurements of the data directory's size, which
/// walks every file.
pub const DATA_SIZE_EVERY: u32 = 30;

/// How Berth is set up; the app fills it from its environment, tests from theirs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The SQLite file.
    pub store_path: PathBuf,
    /// Where snapshots keep their data files.
    pub snapshots_dir: PathBuf,
    /// Where a merging import keeps the data directory it may have to put back.
    pub work_dir: PathBuf,
    /// The engine address, as `DOCKER_HOST` writes it.
    pub engine_host: String,
    /// Extra labels put on every engine resource (tests use them to clean up).
    pub labels: BTreeMap<String, String>,
    /// Seconds a container gets to stop before it is killed.
    pub stop_grace_secs: i32,
}

impl Config {
    pub fn new(store_path: PathBuf) -> Config {
        let dir = store_path.parent().map_or_else(PathBuf::new, std::path::Path::to_path_buf);
        Config {
            snapshots_dir: dir.join("snapshots"),
            work_dir: dir.join("work"),
            store_path,
            engine_host: crate::engine::Endpoint::from_env(),
            labels: BTreeMap::new(),
            stop_grace_secs: STOP_GRACE_SECS,
        }
    }
}

/// Something the UI should redraw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Change {
    /// Bots were added or removed, or their states changed.
    Bots,
    /// One bot's container changed.
    #[serde(rename_all = "camelCase")]
    Container { bot_id: String },
    /// The engine connection changed.
    Engine { status: EngineStatus },
    /// An operation started or ended.
    Operations,
    /// Berth repaired operations an earlier run left unfinished.
    Repairs,
}

/// A bot with the state shown by its dot in the sidebar.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BotSummary {
    #[serde(flatten)]
    pub bot: Bot,
    pub state: lifecycle::ContainerState,
}

#[derive(Debug, Clone)]
pub struct Berth {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    store: Store,
    link: EngineLink,
    operations: Operations,
    changes: broadcast::Sender<Change>,
    stop: CancellationToken,
    /// What the repair at start did, for the window to tell.
    repairs: std::sync::Mutex<Vec<Repair>>,
}

impl Berth {
    /// Opens the store and starts following the engine; an absent engine is no error.
    pub async fn start(config: Config) -> Result<Berth> {
        let path = config.store_path.clone();
        let (store, interrupted) = tokio::task::spawn_blocking(move || Store::open(&path))
            .await
            .map_err(|_| Error::ShuttingDown)??;
        if interrupted > 0 {
            tracing::warn!(interrupted, "operations of an earlier run were interrupted");
        }

        let (changes, _) = broadcast::channel(256);
        let (link_events, link_rx) = broadcast::channel(256);
        let stop = CancellationToken::new();
        let link = EngineLink::spawn(
            config.engine_host.clone(),
            config.labels.clone(),
            link_events,
            stop.clone(),
        );
        tokio::spawn(relay_link_events(link_rx, changes.clone(), stop.clone()));

        let operations = Operations::default();
        let repairs = std::sync::Mutex::default();
        let inner = Inner { config, store, link, operations, changes, stop, repairs };
        let berth = Berth { inner: Arc::new(inner) };
        tokio::spawn(berth.clone().repair_interrupted());
        Ok(berth)
    }

    /// What Berth put right at start: operations an earlier run left unfinished, and
    /// containers of bots it does not know.
    pub fn repairs(&self) -> Vec<Repair> {
        self.inner.repairs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Repairs every interrupted operation once the engine answers, each as an operation on
    /// its bot so that nothing else runs there meanwhile.
    async fn repair_interrupted(self) {
        let unrepaired = match self.inner.store.unrepaired().await {
            Ok(found) => found,
            Err(error) => return tracing::error!(%error, "could not read interrupted operations"),
        };
        let engine = loop {
            if let Ok(engine) = self.inner.link.engine() {
                break engine;
            }
            tokio::select! {
                () = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                () = self.inner.stop.cancelled() => return,
            }
        };
        for (record, steps) in unrepaired {
            let repaired = self.repair_one(&engine, &record, &steps).await;
            if let Err(error) = repaired {
                tracing::error!(operation = %record.id, %error, "could not repair");
            }
        }
        self.report_strays(&engine).await;
    }

    async fn repair_one(
        &self,
        engine: &crate::engine::Engine,
        record: &crate::store::OperationRecord,
        steps: &[String],
    ) -> Result<()> {
        let store = &self.inner.store;
        let bot = match &record.bot_id {
            Some(bot) => store.bot(bot).await.ok(),
            None => None,
        };
        let Some(bot) = bot else {
            let removed = journal::remove_unfinished_export(&journal::read_steps(steps));
            let said = if removed {
                "its bot is gone; the unfinished archive was removed"
            } else {
                "its bot is gone"
            };
            return store.operation_repaired(&record.id, said).await;
        };
        let op = loop {
            match self.begin(&bot, OperationKind::Repair) {
                Ok(op) => break op,
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
            }
        };
        let message = match journal::repair(engine, store, &bot, record, steps).await {
            Ok(message) => message,
            Err(error) => {
                let kind = journal::capitalised(&record.kind);
                format!("{kind} was interrupted and could not be put right: {error}")
            }
        };
        store.operation_repaired(&record.id, &message).await?;
        op.finish(Outcome::Done);
        self.told(Repair {
            bot_id: bot.id.clone(),
            bot_name: bot.name.clone(),
            operation: Some(record.kind.clone()),
            message,
        });
        self.changed(Change::Container { bot_id: bot.id });
        self.changed(Change::Bots);
        Ok(())
    }

    /// Says which containers labelled as Berth's belong to no bot it knows; they are left
    /// as they are, for their owner to look at.
    async fn report_strays(&self, engine: &crate::engine::Engine) {
        let (Ok(states), Ok(bots)) = (engine.run_states().await, self.inner.store.bots().await)
        else {
            return;
        };
        for stray in states.keys().filter(|id| !bots.iter().any(|b| &b.id == *id)) {
            let name = crate::engine::containers::container_name(stray);
            self.told(Repair {
                bot_id: stray.clone(),
                bot_name: String::new(),
                operation: None,
                message: format!(
                    "container `{name}` is labelled as Berth's but belongs to no bot it knows; \
                     it was left as it is"
                ),
            });
        }
    }

    fn told(&self, repair: Repair) {
        tracing::warn!(bot = %repair.bot_id, message = %repair.message, "repair");
        self.inner.repairs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(repair);
        self.changed(Change::Repairs);
    }

    /// Stops following the engine. Running operations end with the process.
    pub fn shutdown(&self) {
        self.inner.stop.cancel();
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.inner.changes.subscribe()
    }

    pub fn engine_status(&self) -> EngineStatus {
        self.inner.link.status()
    }

    /// Waits for the first connection attempt to succeed or fail.
    pub async fn engine_settled(&self) -> EngineStatus {
        self.inner.link.settled().await
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub async fn bot_create(&self, name: &str, image: &str) -> Result<Bot> {
        let name = BotName::parse(name)?;
        let image = ImageRef::parse(image)?;
        let bot = self.inner.store.bot_insert(name, image).await?;
        tracing::info!(bot = %bot.id, image = %bot.image, "bot created");
        self.changed(Change::Bots);
        Ok(bot)
    }

    /// Every bot with its container's state; unknown states while the engine is away.
    pub async fn bots(&self) -> Result<Vec<BotSummary>> {
        use lifecycle::ContainerState;
        let bots = self.inner.store.bots().await?;
        let engine = self.inner.link.engine();
        let run_states = match &engine {
            Ok(engine) => Some(engine.run_states().await?),
            Err(_) => None,
        };

        let with_containers = self.inner.store.bots_with_containers().await?;
        let mut summaries = Vec::with_capacity(bots.len());
        for bot in bots {
            let recorded = with_containers.contains(&bot.id);
            let creating = self
                .inner
                .operations
                .for_bot(&bot.id)
                .is_some_and(|o| o.kind == OperationKind::Create);
            let state = match (&run_states, recorded) {
                (_, _) if creating => ContainerState::Creating,
                (None, _) => ContainerState::Unreachable,
                (Some(_), false) => ContainerState::None,
                (Some(states), true) => {
                    states.get(&bot.id).map_or(ContainerState::Missing, |s| (*s).into())
                }
            };
            summaries.push(BotSummary { bot, state });
        }
        Ok(summaries)
    }

    pub async fn bot(&self, id: &str) -> Result<Bot> {
        self.inner.store.bot(id).await
    }

    /// Deletes the bot, its container, its data and its snapshots.
    pub async fn bot_delete(&self, id: &str) -> Result<()> {
        let bot = self.inner.store.bot(id).await?;
        let dir = self.inner.config.snapshots_dir.clone();
        self.run(&bot, OperationKind::Delete, |engine, store, bot| async move {
            lifecycle::delete(&engine, &store, &bot, false).await?;
            snapshots::delete_all(&engine, &store, &dir, &bot).await?;
            store.bot_delete(&bot.id).await
        })
        .await?;
        self.changed(Change::Bots);
        Ok(())
    }

    pub async fn container_status(&self, bot: &str) -> Result<ContainerStatus> {
        let bot = self.inner.store.bot(bot).await?;
        let operation = self.inner.operations.for_bot(&bot.id);
        lifecycle::status(self.inner.link.engine(), &self.inner.store, &bot, operation).await
    }

    /// Starts creating the bot's container and returns at once with a reader of the
    /// operation's progress. The reader exists before the work starts, so even a create that
    /// fails at once reports its failure to it.
    pub async fn container_create(&self, bot: &str) -> Result<Watcher> {
        self.spawn_long(bot, OperationKind::Create, |engine, store, bot, op| async move {
            lifecycle::create(&engine, &store, &bot, &op).await
        })
        .await
    }

    /// Pulls the bot's image again (or `image`, when the user edited it) and re-creates the
    /// container when that gives another image; progress as for a create.
    pub async fn container_update_image(&self, bot: &str, image: Option<&str>) -> Result<Watcher> {
        let image = image.map(ImageRef::parse).transpose()?;
        let grace = self.inner.config.stop_grace_secs;
        self.spawn_long(bot, OperationKind::UpdateImage, move |engine, store, bot, op| async move {
            lifecycle::update_image(&engine, &store, &bot, image, grace, &op).await?;
            // The old container may have held a deleted snapshot's image.
            snapshots::collect_images(&engine, &store, &bot).await;
            Ok(())
        })
        .await
    }

    /// The bot's snapshots in tree order, each checked for what it needs to be restored.
    pub async fn snapshots(&self, bot: &str) -> Result<Vec<SnapshotEntry>> {
        let bot = self.inner.store.bot(bot).await?;
        let engine = self.inner.link.engine().ok();
        let dir = &self.inner.config.snapshots_dir;
        snapshots::list(engine.as_ref(), &self.inner.store, dir, &bot).await
    }

    /// Starts taking a snapshot named `name` of the bot's container and returns at once with a
    /// reader of its progress. A refused name is refused before anything starts.
    pub async fn snapshot_create(&self, bot: &str, name: &str) -> Result<Watcher> {
        let name = Name::parse_snapshot(name)?;
        self.refuse_taken_name(bot, &name).await?;
        let dir = self.inner.config.snapshots_dir.clone();
        self.spawn_long(bot, OperationKind::Snapshot, move |engine, store, bot, op| async move {
            snapshots::capture(&engine, &store, &dir, &bot, &name, &op).await.map(|_| ())
        })
        .await
    }

    /// Starts restoring `snapshot` and returns at once with a reader of its progress. With
    /// `save_as`, the current state is first taken as a snapshot of that name, so that the
    /// restore can be undone.
    pub async fn snapshot_restore(
        &self,
        bot: &str,
        snapshot: &str,
        save_as: Option<&str>,
    ) -> Result<Watcher> {
        let snapshot = self.bot_snapshot(bot, snapshot).await?;
        let save_as = self.snapshot_name_to_take(bot, save_as).await?;
        let dir = self.inner.config.snapshots_dir.clone();
        let grace = self.inner.config.stop_grace_secs;
        self.spawn_long(bot, OperationKind::Restore, move |engine, store, bot, op| async move {
            if let Some(name) = save_as {
                snapshots::capture(&engine, &store, &dir, &bot, &name, &op).await?;
                op.report(|p| p.transfer = None);
            }
            let version = snapshots::restore(&engine, &store, &dir, &bot, &snapshot, grace, &op);
            let version = version.await?;
            let note = format!("Restored “{}”: version {}", snapshot.name, version.number);
            op.report(|p| p.note = Some(note));
            Ok(())
        })
        .await
    }

    /// Starts writing the bot's data directory to `path` as a gzip archive (`.tar.gz` is added
    /// when the name has no such extension) and returns at once with a reader of its progress.
    pub async fn data_export(&self, bot: &str, path: &std::path::Path) -> Result<Watcher> {
        let path = data::with_archive_extension(path.to_owned())?;
        self.spawn_long(bot, OperationKind::Export, move |engine, store, bot, op| async move {
            let exported = data::export(&engine, &store, &bot, &path, &op).await?;
            let refused = exported.refused.len();
            tracing::info!(path = %path.display(), size = exported.size, refused, "data exported");
            let mut note = format!("Exported to {}", path.display());
            if refused > 0 {
                // Listed as an import's refusal lists them.
                let listed = crate::error::list_entries(&exported.refused);
                note.push_str(&format!(
                    ". An import of it would refuse {refused} of its entries: {listed}"
                ));
            }
            if let Some(reason) = &exported.unreadable {
                note.push_str(&format!(". An import could not read it back: {reason}"));
            }
            op.report(|p| p.note = Some(note));
            Ok(())
        })
        .await
    }

    /// Starts importing the archive at `path` into the bot's data directory; every entry is
    /// checked before anything is written.
    pub async fn data_import(
        &self,
        bot: &str,
        path: &std::path::Path,
        mode: ImportMode,
        save_as: Option<&str>,
    ) -> Result<Watcher> {
        let save_as = self.snapshot_name_to_take(bot, save_as).await?;
        let path = path.to_owned();
        let work = self.inner.config.work_dir.clone();
        let dir = self.inner.config.snapshots_dir.clone();
        self.spawn_long(bot, OperationKind::Import, move |engine, store, bot, op| async move {
            if let Some(name) = save_as {
                snapshots::capture(&engine, &store, &dir, &bot, &name, &op).await?;
                op.report(|p| p.transfer = None);
            }
            data::import(&engine, &store, &bot, (&path, mode), &work, &op).await?;
            let note = format!("Imported {}", path.display());
            op.report(|p| p.note = Some(note));
            Ok(())
        })
        .await
    }

    /// Starts emptying the bot's data directory, after saving the current state as snapshot
    /// `save_as` when given.
    pub async fn data_reset(&self, bot: &str, save_as: Option<&str>) -> Result<Watcher> {
        let save_as = self.snapshot_name_to_take(bot, save_as).await?;
        let dir = self.inner.config.snapshots_dir.clone();
        self.spawn_long(bot, OperationKind::ResetData, move |engine, store, bot, op| async move {
            if let Some(name) = save_as {
                snapshots::capture(&engine, &store, &dir, &bot, &name, &op).await?;
                op.report(|p| p.transfer = None);
            }
            data::reset(&engine, &store, &bot, &op).await?;
            op.report(|p| p.note = Some("The data directory is empty".to_owned()));
            Ok(())
        })
        .await
    }

    /// Deletes a snapshot; its children stay restorable.
    pub async fn snapshot_delete(&self, bot: &str, snapshot: &str) -> Result<()> {
        let snapshot = self.bot_snapshot(bot, snapshot).await?;
        let bot = self.inner.store.bot(bot).await?;
        let dir = self.inner.config.snapshots_dir.clone();
        self.run(&bot, OperationKind::DeleteSnapshot, |engine, store, _| async move {
            snapshots::delete(&engine, &store, &dir, &snapshot).await
        })
        .await
    }

    /// The snapshot, refused unless it belongs to the bot.
    async fn bot_snapshot(&self, bot: &str, snapshot: &str) -> Result<crate::store::Snapshot> {
        let found = self.inner.store.snapshot(snapshot).await?;
        if found.bot_id != bot {
            return Err(Error::SnapshotNotFound { snapshot: snapshot.to_owned() });
        }
        Ok(found)
    }

    /// The name of a snapshot to take before some work, checked before the work starts (and
    /// before a file dialog asks anything).
    pub async fn snapshot_name_to_take(
        &self,
        bot: &str,
        name: Option<&str>,
    ) -> Result<Option<Name>> {
        let Some(name) = name.map(Name::parse_snapshot).transpose()? else { return Ok(None) };
        self.refuse_taken_name(bot, &name).await?;
        Ok(Some(name))
    }

    async fn refuse_taken_name(&self, bot: &str, name: &Name) -> Result<()> {
        let bot = self.inner.store.bot(bot).await?;
        if self.inner.store.snapshot_name_free(&bot.id, name).await? {
            return Ok(());
        }
        Err(Error::SnapshotNameTaken { bot: bot.name, name: name.as_str().to_owned() })
    }

    /// Runs a long operation in its own task and returns at once with a reader of it.
    async fn spawn_long<F, Fut>(&self, bot: &str, kind: OperationKind, work: F) -> Result<Watcher>
    where
        F: FnOnce(crate::engine::Engine, Store, Bot, Arc<OperationHandle>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<()>> + Send,
    {
        let bot = self.inner.store.bot(bot).await?;
        let span = tracing::info_span!("operation", bot = %bot.id, %kind);
        let engine = self.inner.link.engine()?;
        let op = Arc::new(self.begin(&bot, kind)?);
        let watcher = op.watch();
        self.inner.store.operation_begin(&op.info().id, &bot.id, &kind.to_string()).await?;
        self.changed(Change::Operations);
        self.changed(Change::Container { bot_id: bot.id.clone() });

        let this = self.clone();
        let id = op.info().id.clone();
        let bot_id = bot.id.clone();
        let task = async move {
            tracing::info!(operation = %id, "started");
            let work = work(engine, this.inner.store.clone(), bot, Arc::clone(&op));
            // A panic in the work still ends the operation, on record and for the UI.
            let result = match std::panic::AssertUnwindSafe(work).catch_unwind().await {
                Ok(result) => result,
                Err(_) => Err(Error::Unfinished { operation: kind.to_string() }),
            };
            this.record_end(&id, &result).await;
            op.finish(Outcome::from(&result));
            this.changed(Change::Operations);
            this.changed(Change::Container { bot_id });
            this.changed(Change::Bots);
        };
        tokio::spawn(task.instrument(span));
        Ok(watcher)
    }

    pub async fn container_start(&self, bot: &str) -> Result<()> {
        let bot = self.inner.store.bot(bot).await?;
        self.run(&bot, OperationKind::Start, |engine, store, bot| async move {
            lifecycle::start(&engine, &store, &bot).await
        })
        .await
    }

    pub async fn container_stop(&self, bot: &str) -> Result<()> {
        let bot = self.inner.store.bot(bot).await?;
        let grace = self.inner.config.stop_grace_secs;
        self.run(&bot, OperationKind::Stop, move |engine, store, bot| async move {
            lifecycle::stop(&engine, &store, &bot, grace).await
        })
        .await
    }

    pub async fn container_delete(&self, bot: &str, keep_data: bool) -> Result<()> {
        let bot = self.inner.store.bot(bot).await?;
        self.run(&bot, OperationKind::Delete, move |engine, store, bot| async move {
            lifecycle::delete(&engine, &store, &bot, keep_data).await?;
            snapshots::collect_images(&engine, &store, &bot).await;
            Ok(())
        })
        .await
    }

    /// Follows the running container's resources, calling `on_sample` about once a second
    /// (with the data directory's size every [`DATA_SIZE_EVERY`] samples) until the container
    /// stops (at once for one that is not running), `stop` is cancelled or `on_sample` returns
    /// false.
    pub async fn container_stats(
        &self,
        bot: &str,
        stop: CancellationToken,
        mut on_sample: impl FnMut(crate::stats::Sample) -> bool,
    ) -> Result<()> {
        let bot = self.inner.store.bot(bot).await?;
        let record = lifecycle::recorded_container(&self.inner.store, &bot).await?;
        let engine = self.inner.link.engine()?;
        let mut stream = std::pin::pin!(engine.stats(&record.container_id));
        let mut count = 0u32;
        loop {
            let message = tokio::select! {
                message = stream.next() => message,
                () = stop.cancelled() => return Ok(()),
            };
            let Some(message) = message else { return Ok(()) };
            let message = message?;
            // A container that is not running gets empty readings, forever: that is the end.
            if message.memory_stats.as_ref().and_then(|m| m.usage).is_none() {
                return Ok(());
            }
            let mut sample = crate::stats::sample(&message);
            if count % DATA_SIZE_EVERY == 0 {
                sample.data_bytes = engine.data_size(&record.container_id).await?;
            }
            count = count.wrapping_add(1);
            if !on_sample(sample) {
                return Ok(());
            }
        }
    }

    /// The bot's container history, newest first.
    pub async fn versions(&self, bot: &str) -> Result<Vec<Version>> {
        let bot = self.inner.store.bot(bot).await?;
        self.inner.store.versions(&bot.id).await
    }

    pub fn operations(&self) -> Vec<OperationInfo> {
        self.inner.operations.list()
    }

    pub fn operation_watch(&self, operation: &str) -> Result<Watcher> {
        self.inner.operations.watch(operation)
    }

    pub fn operation_cancel(&self, operation: &str) -> Result<()> {
        tracing::info!(%operation, "cancel requested");
        self.inner.operations.cancel(operation)
    }

    /// Runs a short action as an operation: one per bot, recorded, with its outcome logged.
    async fn run<F, Fut>(&self, bot: &Bot, kind: OperationKind, action: F) -> Result<()>
    where
        F: FnOnce(crate::engine::Engine, Store, Bot) -> Fut,
        Fut: std::future::Future<Output = Result<()>>,
    {
        let span = tracing::info_span!("operation", bot = %bot.id, %kind);
        async {
            let engine = self.inner.link.engine()?;
            let op = self.begin(bot, kind)?;
            let id = op.info().id.clone();
            self.inner.store.operation_begin(&id, &bot.id, &kind.to_string()).await?;
            // A stop can take its whole grace period: the tray shows the bot busy meanwhile.
            self.changed(Change::Operations);

            let result = action(engine, self.inner.store.clone(), bot.clone()).await;
            self.record_end(&id, &result).await;
            op.finish(Outcome::from(&result));
            self.changed(Change::Operations);
            self.changed(Change::Container { bot_id: bot.id.clone() });
            self.changed(Change::Bots);
            result
        }
        .instrument(span)
        .await
    }

    /// Begins an operation on the bot; a refusal names the bot as its user named it.
    fn begin(&self, bot: &Bot, kind: OperationKind) -> Result<OperationHandle> {
        self.inner.operations.begin(&bot.id, kind).map_err(|e| match e {
            Error::Busy { operation, .. } => Error::Busy { bot: bot.name.clone(), operation },
            other => other,
        })
    }

    async fn record_end(&self, operation: &str, result: &Result<()>) {
        let (state, error) = match result {
            Ok(()) => (OperationState::Done, None),
            Err(Error::Cancelled { .. }) => (OperationState::Cancelled, None),
            Err(e) => (OperationState::Failed, Some(e.to_string())),
        };
        match result {
            Ok(()) => tracing::info!("operation done"),
            Err(Error::Cancelled { .. }) => tracing::info!("operation cancelled"),
            Err(error) => tracing::error!(%error, "operation failed"),
        }
        if let Err(error) = self.inner.store.operation_end(operation, state, error).await {
            tracing::warn!(%operation, %error, "could not record the end of an operation");
        }
    }

    fn changed(&self, change: Change) {
        // Nobody listening is fine: no window may be open.
        let _ = self.inner.changes.send(change);
    }
}

/// Turns what the engine link hears into changes the UI redraws on.
async fn relay_link_events(
    mut events: broadcast::Receiver<LinkEvent>,
    changes: broadcast::Sender<Change>,
    stop: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            () = stop.cancelled() => return,
        };
        let change = match event {
            Ok(LinkEvent::Status(status)) => Change::Engine { status },
            Ok(LinkEvent::Container { bot, .. }) => Change::Container { bot_id: bot },
            // Missed some: redraw everything.
            Err(broadcast::error::RecvError::Lagged(_)) => Change::Bots,
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let redraw_list = matches!(change, Change::Container { .. } | Change::Engine { .. });
        // Nobody listening is fine: no window may be open.
        let _ = changes.send(change);
        if redraw_list {
            let _ = changes.send(Change::Bots);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_serialize_as_the_ui_reads_them() {
        let change = Change::Container { bot_id: "b1".into() };
        let json = serde_json::to_value(change).expect("serializes");
        assert_eq!(json, serde_json::json!({"type": "container", "botId": "b1"}));
        let json = serde_json::to_value(Change::Bots).expect("serializes");
        assert_eq!(json, serde_json::json!({"type": "bots"}));
    }
}
