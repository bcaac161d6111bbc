//! Quitting, asked first while an operation runs: it would be cut off half-way.

use berth_core::Berth;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_dialog::{DialogExt, MessageDialogButtons, MessageDialogKind};

/// Quits now, or asks first when operations run, naming them.
pub fn ask<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let running = running_operations(&app).await;
        if running.is_empty() {
            app.exit(0);
            return;
        }
        crate::instance::show_main_window(&app);
        let text = format!(
            "{} still running. Quitting now stops it half-way; Berth puts things right when it \
             starts again.",
            running.join(", ")
        );
        let quit = app.clone();
        app.dialog()
            .message(text)
            .title("Quit Berth?")
            .kind(MessageDialogKind::Warning)
            .buttons(MessageDialogButtons::OkCancelCustom("Quit".into(), "Keep running".into()))
            .show(move |confirmed| {
                if confirmed {
                    quit.exit(0);
                }
            });
    });
}

/// "Scout: snapshot" for each running operation.
async fn running_operations<R: Runtime>(app: &AppHandle<R>) -> Vec<String> {
    let berth = app.state::<Berth>();
    let mut named = Vec::new();
    for operation in berth.operations() {
        let bot = berth.bot(&operation.bot_id).await.map(|b| b.name).unwrap_or_default();
        named.push(format!("{bot}: {} is", operation.kind));
    }
    named
}
