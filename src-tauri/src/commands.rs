//! The commands the UI calls. Each takes the domain from state, makes one call and maps the
//! error to the `{kind, message}` shape.

use berth_core::berth::BotSummary;
use berth_core::bots::Bot;
use berth_core::data::{self, ImportMode};
use berth_core::engine::link::EngineStatus;
use berth_core::lifecycle::ContainerStatus;
use berth_core::operations::{OperationEvent, OperationInfo, Watcher};
use berth_core::snapshots::SnapshotEntry;
use berth_core::stats::Sample;
use berth_core::store::Version;
use berth_core::{Berth, ErrorPayload};
use tauri::ipc::Channel;
use tauri::{AppHandle, State};
use tokio_util::sync::CancellationToken;

use crate::setup::Started;

type Reply<T> = Result<T, ErrorPayload>;

#[tauri::command]
pub fn engine_inspect(berth: State<'_, Berth>) -> EngineStatus {
    berth.engine_status()
}

#[tauri::command]
pub async fn bot_list(berth: State<'_, Berth>) -> Reply<Vec<BotSummary>> {
    Ok(berth.bots().await?)
}

#[tauri::command]
pub async fn bot_create(berth: State<'_, Berth>, name: String, image: String) -> Reply<Bot> {
    Ok(berth.bot_create(&name, &image).await?)
}

#[tauri::command]
pub async fn bot_delete(berth: State<'_, Berth>, bot_id: String) -> Reply<()> {
    Ok(berth.bot_delete(&bot_id).await?)
}

#[tauri::command]
pub async fn container_inspect(berth: State<'_, Berth>, bot_id: String) -> Reply<ContainerStatus> {
    Ok(berth.container_status(&bot_id).await?)
}

/// Starts the create and streams its progress over `on_progress`.
#[tauri::command]
pub async fn container_create(
    berth: State<'_, Berth>,
    bot_id: String,
    on_progress: Channel<OperationEvent>,
) -> Reply<OperationInfo> {
    let watcher = berth.container_create(&bot_id).await?;
    let info = watcher.info().clone();
    stream(watcher, on_progress);
    Ok(info)
}

/// Pulls the image again (or `image`, when edited) and re-creates the container if it changed;
/// streams progress as a create does.
#[tauri::command]
pub async fn container_update_image(
    berth: State<'_, Berth>,
    bot_id: String,
    image: Option<String>,
    on_progress: Channel<OperationEvent>,
) -> Reply<OperationInfo> {
    let watcher = berth.container_update_image(&bot_id, image.as_deref()).await?;
    let info = watcher.info().clone();
    stream(watcher, on_progress);
    Ok(info)
}

#[tauri::command]
pub async fn container_start(berth: State<'_, Berth>, bot_id: String) -> Reply<()> {
    Ok(berth.container_start(&bot_id).await?)
}

#[tauri::command]
pub async fn container_stop(berth: State<'_, Berth>, bot_id: String) -> Reply<()> {
    Ok(berth.container_stop(&bot_id).await?)
}

#[tauri::command]
pub async fn container_delete(
    berth: State<'_, Berth>,
    bot_id: String,
    keep_data: bool,
) -> Reply<()> {
    Ok(berth.container_delete(&bot_id, keep_data).await?)
}

#[tauri::command]
pub async fn version_list(berth: State<'_, Berth>, bot_id: String) -> Reply<Vec<Version>> {
    Ok(berth.versions(&bot_id).await?)
}

#[tauri::command]
pub async fn snapshot_list(berth: State<'_, Berth>, bot_id: String) -> Reply<Vec<SnapshotEntry>> {
    Ok(berth.snapshots(&bot_id).await?)
}

/// Starts taking a snapshot and streams its progress over `on_progress`.
#[tauri::command]
pub async fn snapshot_create(
    berth: State<'_, Berth>,
    bot_id: String,
    name: String,
    on_progress: Channel<OperationEvent>,
) -> Reply<OperationInfo> {
    let watcher = berth.snapshot_create(&bot_id, &name).await?;
    let info = watcher.info().clone();
    stream(watcher, on_progress);
    Ok(info)
}

/// Starts a restore, first saving the current state as `save_as` when given, and streams its
/// progress over `on_progress`.
#[tauri::command]
pub async fn snapshot_restore(
    berth: State<'_, Berth>,
    bot_id: String,
    snapshot_id: String,
    save_as: Option<String>,
    on_progress: Channel<OperationEvent>,
) -> Reply<OperationInfo> {
    let watcher = berth.snapshot_restore(&bot_id, &snapshot_id, save_as.as_deref()).await?;
    let info = watcher.info().clone();
    stream(watcher, on_progress);
    Ok(info)
}

#[tauri::command]
pub async fn snapshot_delete(
    berth: State<'_, Berth>,
    bot_id: String,
    snapshot_id: String,
) -> Reply<()> {
    Ok(berth.snapshot_delete(&bot_id, &snapshot_id).await?)
}

/// Asks where to save, then starts the export and streams its progress; `None` when the user
/// cancelled the dialog.
#[tauri::command]
pub async fn data_export(
    app: AppHandle,
    berth: State<'_, Berth>,
    bot_id: String,
    on_progress: Channel<OperationEvent>,
) -> Reply<Option<OperationInfo>> {
    let bot = berth.bot(&bot_id).await?;
    let suggested = data::export_file_name(&bot.name, time::OffsetDateTime::now_utc());
    let Some(path) = crate::dialogs::save_archive(&app, &suggested).await else {
        return Ok(None);
    };
    let watcher = berth.data_export(&bot_id, &path).await?;
    let info = watcher.info().clone();
    stream(watcher, on_progress);
    Ok(Some(info))
}

/// Asks which archive to import, then starts the import (after a snapshot named `save_as`,
/// when given) and streams its progress; `None` when the user cancelled the dialog.
#[tauri::command]
pub async fn data_import(
    app: AppHandle,
    berth: State<'_, Berth>,
    bot_id: String,
    mode: ImportMode,
    save_as: Option<String>,
    on_progress: Channel<OperationEvent>,
) -> Reply<Option<OperationInfo>> {
    // A refused snapshot name is said before the file dialog asks anything.
    berth.snapshot_name_to_take(&bot_id, save_as.as_deref()).await?;
    let Some(path) = crate::dialogs::open_archive(&app).await else {
        return Ok(None);
    };
    let watcher = berth.data_import(&bot_id, &path, mode, save_as.as_deref()).await?;
    let info = watcher.info().clone();
    stream(watcher, on_progress);
    Ok(Some(info))
}

/// Starts emptying the data directory, first saving a snapshot named `save_as` when given.
#[tauri::command]
pub async fn data_reset(
    berth: State<'_, Berth>,
    bot_id: String,
    save_as: Option<String>,
    on_progress: Channel<OperationEvent>,
) -> Reply<OperationInfo> {
    let watcher = berth.data_reset(&bot_id, save_as.as_deref()).await?;
    let info = watcher.info().clone();
    stream(watcher, on_progress);
    Ok(info)
}

/// The stats streams the window follows, by watch id, so that it can stop them.
#[derive(Default)]
pub struct StatsWatches {
    next: std::sync::atomic::AtomicU64,
    running: std::sync::Mutex<std::collections::HashMap<u64, CancellationToken>>,
}

/// Streams the running container's resources over `on_sample` until it stops or the window
/// calls [`container_stats_unwatch`] with the returned id.
#[tauri::command]
pub fn container_stats_watch(
    berth: State<'_, Berth>,
    watches: State<'_, StatsWatches>,
    bot_id: String,
    on_sample: Channel<Sample>,
) -> u64 {
    let id = watches.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let stop = CancellationToken::new();
    watches.lock().insert(id, stop.clone());
    let berth = berth.inner().clone();
    tauri::async_runtime::spawn(async move {
        let followed = berth.container_stats(&bot_id, stop, |s| on_sample.send(s).is_ok()).await;
        if let Err(error) = followed {
            tracing::debug!(bot = %bot_id, %error, "resource readings ended");
        }
    });
    id
}

#[tauri::command]
pub fn container_stats_unwatch(watches: State<'_, StatsWatches>, watch_id: u64) {
    if let Some(stop) = watches.lock().remove(&watch_id) {
        stop.cancel();
    }
}

impl StatsWatches {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<u64, CancellationToken>> {
        self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What Berth put right at start: operations an earlier run left unfinished.
#[tauri::command]
pub fn repair_list(berth: State<'_, Berth>) -> Vec<berth_core::journal::Repair> {
    berth.repairs()
}

#[tauri::command]
pub fn operation_list(berth: State<'_, Berth>) -> Vec<OperationInfo> {
    berth.operations()
}

/// Follows an operation that is already running, as a reloaded window does.
#[tauri::command]
pub fn operation_watch(
    berth: State<'_, Berth>,
    operation_id: String,
    on_progress: Channel<OperationEvent>,
) -> Reply<OperationInfo> {
    let watcher = berth.operation_watch(&operation_id)?;
    let info = watcher.info().clone();
    stream(watcher, on_progress);
    Ok(info)
}

#[tauri::command]
pub fn operation_cancel(berth: State<'_, Berth>, operation_id: String) -> Reply<()> {
    Ok(berth.operation_cancel(&operation_id)?)
}

/// The UI's first paint, logged as the start-up figure the benchmark reads.
#[tauri::command]
pub fn window_mark_painted(started: State<'_, Started>) {
    let millis = started.0.elapsed().as_millis();
    tracing::info!(millis, "first paint");
}

fn stream(watcher: Watcher, channel: Channel<OperationEvent>) {
    tauri::async_runtime::spawn(watcher.forward(move |event| channel.send(event).is_ok()));
}
