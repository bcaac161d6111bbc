//! Berth's desktop shell: it wires the domain ([`berth_core`]) to a window and nothing more.
//!
//! - [`setup`]: the start-up steps, each named.
//! - [`commands`]: the commands the UI calls, each a few lines over one domain call.
//! - [`dialogs`]: the native file dialogs, behind a seam the end-to-end tests script.
//! - [`events`]: domain changes forwarded to the UI as events.
//! - [`instance`]: one Berth per data directory; another launch shows its window.
//! - [`logging`]: `tracing` to stderr and to a rolling file.
//! - [`tray`]: quick actions in the system tray, and [`quit`]: quitting, asked first while
//!   an operation runs.

mod commands;
mod dialogs;
mod events;
mod instance;
mod logging;
mod quit;
mod setup;
mod tray;

/// Builds and runs the app until its last window closes.
pub fn run() {
    let started = std::time::Instant::now();
    let data_dir = std::env::var_os(setup::DATA_DIR_VAR);
    if instance::hand_over(data_dir.as_deref()) {
        println!("Berth already runs for this data directory: its window is shown.");
        return;
    }
    let app = tauri::Builder::default()
        // First, so that a second launch stops before it sets anything up.
        .plugin(instance::plugin(data_dir.as_deref()))
        .plugin(tauri_plugin_dialog::init())
        .manage(commands::StatsWatches::default())
        .setup(move |app| setup::run(app, started))
        .on_window_event(setup::on_window_event)
        .invoke_handler(tauri::generate_handler![
            commands::engine_inspect,
            commands::bot_list,
            commands::bot_create,
            commands::bot_delete,
            commands::container_inspect,
            commands::container_create,
            commands::container_update_image,
            commands::container_start,
            commands::container_stop,
            commands::container_delete,
            commands::version_list,
            commands::container_stats_watch,
            commands::container_stats_unwatch,
            commands::snapshot_list,
            commands::snapshot_create,
            commands::snapshot_restore,
            commands::snapshot_delete,
            commands::data_export,
            commands::data_import,
            commands::data_reset,
            commands::operation_list,
            commands::repair_list,
            commands::operation_watch,
            commands::operation_cancel,
            commands::window_mark_painted,
        ])
        .build(tauri::generate_context!("../tauri.conf.json"));

    match app {
        Ok(app) => app.run(setup::on_run_event),
        Err(error) => {
            eprintln!("berth: could not start: {error}");
            std::process::exit(1);
        }
    }
}
