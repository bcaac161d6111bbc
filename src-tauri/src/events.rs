//! Domain changes, forwarded to the UI as events it redraws on.

use berth_core::{Berth, Change};
use tauri::{AppHandle, Emitter};
use tokio::sync::broadcast::error::RecvError;

pub const BOTS_CHANGED: &str = "bots://changed";
pub const CONTAINER_CHANGED: &str = "container://changed";
pub const ENGINE_CHANGED: &str = "engine://changed";
pub const OPERATIONS_CHANGED: &str = "operations://changed";
pub const REPAIRS_CHANGED: &str = "repairs://changed";
/// A tray action failed: `{botId, kind, message}`.
pub const TRAY_FAILED: &str = "tray://failed";

pub fn forward(app: AppHandle, berth: &Berth) {
    let mut changes = berth.subscribe();
    tauri::async_runtime::spawn(async move {
        loop {
            let change = match changes.recv().await {
                Ok(change) => change,
                // Missed some: the bot list redraw refetches everything.
                Err(RecvError::Lagged(_)) => Change::Bots,
                Err(RecvError::Closed) => return,
            };
            let emitted = match &change {
                Change::Bots => app.emit(BOTS_CHANGED, ()),
                Change::Container { .. } => app.emit(CONTAINER_CHANGED, &change),
                Change::Engine { status } => app.emit(ENGINE_CHANGED, status),
                Change::Operations => app.emit(OPERATIONS_CHANGED, ()),
                Change::Repairs => app.emit(REPAIRS_CHANGED, ()),
            };
            if let Err(error) = emitted {
                tracing::warn!(%error, "could not send a change to the window");
            }
        }
    });
}
