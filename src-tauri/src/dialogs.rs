//! The native file dialogs, behind a seam the end-to-end tests can script.
//!
//! Dialogs are shown without blocking the window: each call waits on the dialog's answer
//! while the window goes on drawing. Built with the `scripted-dialogs` feature (test builds
//! only) and with `BERTH_SCRIPTED_DIALOGS` naming a file, each dialog instead takes the first
//! line of that file as its answer (an empty line cancels). A build without the feature has
//! no such path.

use std::path::PathBuf;

use tauri::AppHandle;
use tauri_plugin_dialog::DialogExt;

// A release build must have no way to skip a dialog, whatever features it was given.
#[cfg(all(feature = "scripted-dialogs", not(debug_assertions)))]
compile_error!("`scripted-dialogs` is for test builds: a release build shows every dialog");

/// The file Berth should write an export to, or `None` when the user cancelled.
pub async fn save_archive(app: &AppHandle, suggested: &str) -> Option<PathBuf> {
    #[cfg(feature = "scripted-dialogs")]
    if let Some(answer) = scripted::next() {
        return answer;
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Export data")
        .set_file_name(suggested)
        .add_filter("Compressed tar archive", &["tar.gz", "tgz"])
        .save_file(move |path| {
            let _ = tx.send(path.and_then(|p| p.into_path().ok()));
        });
    rx.await.ok().flatten()
}

/// The archive the user chose to import, or `None` when they cancelled.
pub async fn open_archive(app: &AppHandle) -> Option<PathBuf> {
    #[cfg(feature = "scripted-dialogs")]
    if let Some(answer) = scripted::next() {
        return answer;
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Import data")
        .add_filter("Tar archives", &["tar", "tar.gz", "tgz"])
        .pick_file(move |path| {
            let _ = tx.send(path.and_then(|p| p.into_path().ok()));
        });
    rx.await.ok().flatten()
}

#[cfg(feature = "scripted-dialogs")]
mod scripted {
    use std::path::PathBuf;

    const SCRIPT_VAR: &str = "BERTH_SCRIPTED_DIALOGS";

    /// The next scripted answer, or `None` when no script is set (a native dialog shows).
    pub fn next() -> Option<Option<PathBuf>> {
        let file = std::env::var_os(SCRIPT_VAR)?;
        let script = std::fs::read_to_string(&file).unwrap_or_default();
        let (answer, rest) = script.split_once('\n').unwrap_or((&script, ""));
        if let Err(error) = std::fs::write(&file, rest) {
            tracing::warn!(%error, "could not update the dialog script");
        }
        tracing::info!(answer, "scripted dialog answered");
        Some((!answer.is_empty()).then(|| PathBuf::from(answer)))
    }
}
