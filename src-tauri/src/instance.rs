//! One Berth per data directory: launching it again shows the running window instead.
//!
//! The single-instance plugin owns a D-Bus name on the session bus. The name is the app's own
//! for the default data directory, and one of its own for another (`BERTH_DATA_DIR`), so that
//! Berths with separate stores (the tests') run side by side. Without a session bus the
//! plugin lets every launch run.

use std::hash::{Hash, Hasher};

use tauri::{AppHandle, Manager, Runtime};

/// The app's identifier, as in `tauri.conf.json`.
const IDENTIFIER: &str = "dev.berth.desktop";

/// The plugin, keyed by the data directory `BERTH_DATA_DIR` names, if any.
pub fn plugin<R: Runtime>(data_dir: Option<&std::ffi::OsStr>) -> tauri::plugin::TauriPlugin<R> {
    tauri_plugin_single_instance::Builder::new()
        .dbus_id(bus_name(data_dir))
        .callback(|app, _args, _cwd| {
            if show_main_window(app) {
                tracing::info!("shown for another launch");
            }
        })
        .build()
}

/// Hands this launch to a Berth already running on the same data directory, before any
/// window toolkit starts: true when one took it, and this process should end. The plugin does
/// the same from inside the app, but ending there, with GTK and WebKit up, can crash the
/// process on its way out.
pub fn hand_over(data_dir: Option<&std::ffi::OsStr>) -> bool {
    let name = format!("{}.SingleInstance", bus_name(data_dir));
    let path = format!("/{}", name.replace('.', "/").replace('-', "_"));
    let Ok(bus) = zbus::blocking::Connection::session() else { return false };
    let args: Vec<String> = std::env::args().collect();
    let cwd = std::env::current_dir().unwrap_or_default().to_string_lossy().into_owned();
    // No owner of the name: no Berth runs there, and the call fails at once.
    let handed = bus.call_method(
        Some(name.as_str()),
        path.as_str(),
        Some("org.SingleInstance.DBus"),
        "ExecuteCallback",
        &(args, cwd),
    );
    handed.is_ok()
}

/// `dev.berth.desktop` for the default data directory, `dev.berth.desktop.d<hash>` for another.
fn bus_name(data_dir: Option<&std::ffi::OsStr>) -> String {
    match data_dir.filter(|d| !d.is_empty()) {
        None => IDENTIFIER.to_owned(),
        Some(dir) => {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            dir.hash(&mut hasher);
            format!("{IDENTIFIER}.d{:016x}", hasher.finish())
        }
    }
}

/// Brings the window back: shown if hidden in the tray, restored if minimised, focused.
/// Says whether it could.
pub fn show_main_window<R: Runtime>(app: &AppHandle<R>) -> bool {
    let Some(window) = app.get_webview_window("main") else { return false };
    let shown = window.show().and_then(|()| window.unminimize()).and_then(|()| window.set_focus());
    if let Err(error) = &shown {
        tracing::warn!(%error, "could not show the window");
    }
    shown.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_data_directory_has_its_own_name() {
        assert_eq!(bus_name(None), "dev.berth.desktop");
        assert_eq!(bus_name(Some("".as_ref())), "dev.berth.desktop");
        let a = bus_name(Some("/tmp/a".as_ref()));
        let b = bus_name(Some("/tmp/b".as_ref()));
        assert_ne!(a, b);
        assert!(
            a.starts_with("dev.berth.desktop.d") && a.len() == "dev.berth.desktop.d".len() + 16
        );
    }
}
