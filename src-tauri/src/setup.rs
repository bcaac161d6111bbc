//! The app's start-up, in named steps.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use berth_core::{Berth, Config};
use tauri::{App, AppHandle, Manager, RunEvent, Window, WindowEvent};

use crate::{events, logging};

/// Overrides the directory for the store and logs; tests point it at a temporary one.
pub const DATA_DIR_VAR: &str = "BERTH_DATA_DIR";
/// Extra labels for engine resources, as `key=value,key=value`; tests use them to clean up.
const LABELS_VAR: &str = "BERTH_LABELS";

/// When the process started, for the first-paint figure.
pub struct Started(pub Instant);

pub fn run(app: &mut App, started: Instant) -> Result<(), Box<dyn std::error::Error>> {
    let data_dir = data_dir(app.handle())?;
    let log_guard = logging::init(&data_dir.join("logs"))?;
    app.manage(log_guard);
    app.manage(Started(started));
    tracing::info!(data_dir = %data_dir.display(), "Berth starting");

    let berth = start_domain(&data_dir)?;
    events::forward(app.handle().clone(), &berth);
    let tray = crate::tray::install(app.handle());
    app.manage(TrayShown(tray.is_some()));
    if let Some(tray) = tray {
        app.manage(tray);
        crate::tray::follow(app.handle().clone(), berth.clone());
    }
    app.manage(berth);
    Ok(())
}

/// Whether the tray icon shows: closing the window then keeps Berth there.
pub struct TrayShown(pub bool);

/// Closing the window hides it when the tray shows Berth; otherwise it quits, asking first
/// while an operation runs.
pub fn on_window_event(window: &Window, event: &WindowEvent) {
    let WindowEvent::CloseRequested { api, .. } = event else { return };
    let app = window.app_handle();
    if app.try_state::<TrayShown>().is_some_and(|t| t.0) {
        api.prevent_close();
        if let Err(error) = window.hide() {
            tracing::warn!(%error, "could not hide the window");
        }
        return;
    }
    let berth = app.try_state::<Berth>();
    if berth.is_some_and(|b| !b.operations().is_empty()) {
        api.prevent_close();
        crate::quit::ask(app);
    }
}

pub fn on_run_event(app: &AppHandle, event: RunEvent) {
    if let RunEvent::Exit = event {
        if let Some(berth) = app.try_state::<Berth>() {
            berth.shutdown();
        }
        tracing::info!("Berth stopped");
    }
}

fn data_dir(app: &AppHandle) -> Result<PathBuf, tauri::Error> {
    match std::env::var_os(DATA_DIR_VAR) {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => app.path().app_data_dir(),
    }
}

fn start_domain(data_dir: &std::path::Path) -> Result<Berth, berth_core::Error> {
    let mut config = Config::new(data_dir.join("berth.db"));
    config.labels = labels_from_env();
    tauri::async_runtime::block_on(Berth::start(config))
}

fn labels_from_env() -> BTreeMap<String, String> {
    let raw = std::env::var(LABELS_VAR).unwrap_or_default();
    raw.split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}
