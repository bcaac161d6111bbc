//! Quick actions in the system tray: each bot with its state, Start or Stop, Snapshot now and
//! Open; then Show window and Quit. The menu is built anew on every change of state.
//!
//! [`menu_model`] decides what the menu holds from the bots alone, so that it is tested
//! without a window; [`rebuild`] turns it into the platform's menu.

use berth_core::berth::BotSummary;
use berth_core::lifecycle::ContainerState;
use berth_core::operations::OperationInfo;
use berth_core::{Berth, Change};
use tauri::menu::{IsMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

/// The event that tells the window to open a bot.
pub const OPEN_BOT: &str = "tray://open-bot";

const TRAY_ID: &str = "berth";

/// One entry of the tray menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A bot: its label (name and state) and its actions.
    Bot {
        label: String,
        actions: Vec<Action>,
    },
    Separator,
    /// A line that is only information (no bots yet).
    Note(String),
    ShowWindow,
    Quit,
}

/// What a bot's submenu offers, each enabled or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub id: String,
    pub label: &'static str,
    pub enabled: bool,
}

/// The menu for these bots; `running` are the operations under way, which make a bot busy.
pub fn menu_model(bots: &[BotSummary], running: &[OperationInfo]) -> Vec<Entry> {
    let mut entries = Vec::with_capacity(bots.len() + 3);
    for summary in bots {
        let bot = &summary.bot;
        let busy = running.iter().find(|o| o.bot_id == bot.id);
        let state = match busy {
            Some(operation) => format!("{}…", operation.kind),
            None => state_label(summary.state).to_owned(),
        };
        let free = busy.is_none();
        let action = |verb: &str, label, enabled| Action {
            id: format!("bot:{verb}:{}", bot.id),
            label,
            enabled: free && enabled,
        };
        let has_container = matches!(
            summary.state,
            ContainerState::Running | ContainerState::Paused | ContainerState::Stopped
        );
        let toggle = match summary.state {
            ContainerState::Running | ContainerState::Paused | ContainerState::Restarting => {
                action("stop", "Stop", true)
            }
            other => action("start", "Start", other == ContainerState::Stopped),
        };
        entries.push(Entry::Bot {
            label: format!("{} — {state}", bot.name),
            actions: vec![
                toggle,
                action("snapshot", "Snapshot now", has_container),
                Action { id: format!("bot:open:{}", bot.id), label: "Open", enabled: true },
            ],
        });
    }
    if bots.is_empty() {
        entries.push(Entry::Note("No bots yet".to_owned()));
    }
    entries.extend([Entry::Separator, Entry::ShowWindow, Entry::Quit]);
    entries
}

fn state_label(state: ContainerState) -> &'static str {
    match state {
        ContainerState::None => "no container",
        ContainerState::Creating => "creating",
        ContainerState::Running => "running",
        ContainerState::Paused => "paused",
        ContainerState::Restarting => "restarting",
        ContainerState::Stopped => "stopped",
        ContainerState::Missing => "container missing",
        ContainerState::Unreachable => "engine unreachable",
    }
}

/// Shows the tray icon when the desktop has a tray; `None` when it has none.
pub fn install<R: Runtime>(app: &AppHandle<R>) -> Option<TrayIcon<R>> {
    if !tray_host_present() {
        tracing::info!("no system tray on this desktop; closing the window quits");
        return None;
    }
    let built = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip("Berth")
        .icon(app.default_window_icon()?.clone())
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| on_menu_event(app, event.id().as_ref()))
        .build(app);
    match built {
        Ok(tray) => Some(tray),
        Err(error) => {
            tracing::warn!(%error, "could not show the tray icon");
            None
        }
    }
}

/// True when a StatusNotifier host (the freedesktop tray) listens on the session bus.
fn tray_host_present() -> bool {
    let Ok(bus) = zbus::blocking::Connection::session() else { return false };
    let Ok(dbus) = zbus::blocking::fdo::DBusProxy::new(&bus) else { return false };
    let Ok(name) = zbus::names::BusName::try_from("org.kde.StatusNotifierWatcher") else {
        return false;
    };
    dbus.name_has_owner(name).unwrap_or(false)
}

/// Keeps the menu in step with the bots, on its own task so that the window's events never
/// wait on it. A burst of changes (a create sends several) makes one rebuild.
pub fn follow<R: Runtime>(app: AppHandle<R>, berth: Berth) {
    let mut changes = berth.subscribe();
    tauri::async_runtime::spawn(async move {
        loop {
            rebuild(&app, &berth).await;
            // Wait for a change the menu shows, then take whatever else came meanwhile.
            loop {
                match changes.recv().await {
                    Ok(Change::Bots | Change::Operations) | Err(RecvError::Lagged(_)) => break,
                    Ok(_) => {}
                    Err(RecvError::Closed) => return,
                }
            }
            while !matches!(changes.try_recv(), Err(TryRecvError::Empty | TryRecvError::Closed)) {}
        }
    });
}

/// Builds the menu for the bots as they are now and puts it on the tray icon.
async fn rebuild<R: Runtime>(app: &AppHandle<R>, berth: &Berth) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else { return };
    let bots = match berth.bots().await {
        Ok(bots) => bots,
        Err(error) => {
            tracing::warn!(%error, "could not list bots for the tray");
            return;
        }
    };
    let model = menu_model(&bots, &berth.operations());
    match build_menu(app, &model) {
        Ok(menu) => {
            if let Err(error) = tray.set_menu(Some(menu)) {
                tracing::warn!(%error, "could not update the tray menu");
            }
        }
        Err(error) => tracing::warn!(%error, "could not build the tray menu"),
    }
}

fn build_menu<R: Runtime>(app: &AppHandle<R>, model: &[Entry]) -> tauri::Result<Menu<R>> {
    let menu = Menu::new(app)?;
    for entry in model {
        let item: Box<dyn IsMenuItem<R>> = match entry {
            Entry::Bot { label, actions } => {
                let submenu = Submenu::new(app, literal(label), true)?;
                for action in actions {
                    let item = MenuItem::with_id(
                        app,
                        &action.id,
                        action.label,
                        action.enabled,
                        None::<&str>,
                    )?;
                    submenu.append(&item)?;
                }
                Box::new(submenu)
            }
            Entry::Separator => Box::new(PredefinedMenuItem::separator(app)?),
            Entry::Note(text) => {
                Box::new(MenuItem::with_id(app, "note", literal(text), false, None::<&str>)?)
            }
            Entry::ShowWindow => {
                Box::new(MenuItem::with_id(app, "show", "Show window", true, None::<&str>)?)
            }
            Entry::Quit => Box::new(MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?),
        };
        menu.append(item.as_ref())?;
    }
    Ok(menu)
}

/// Menu labels mark a mnemonic with `&`: a bot named "R&D" must show its `&`, not underline
/// the `D`.
fn literal(label: &str) -> String {
    label.replace('&', "&&")
}

fn on_menu_event<R: Runtime>(app: &AppHandle<R>, id: &str) {
    match id {
        "show" => {
            crate::instance::show_main_window(app);
        }
        "quit" => crate::quit::ask(app),
        _ => {
            let Some((verb, bot)) = id.strip_prefix("bot:").and_then(|r| r.split_once(':')) else {
                return;
            };
            let (app, verb, bot) = (app.clone(), verb.to_owned(), bot.to_owned());
            tauri::async_runtime::spawn(async move { run_action(&app, &verb, &bot).await });
        }
    }
}

async fn run_action<R: Runtime>(app: &AppHandle<R>, verb: &str, bot: &str) {
    let berth = app.state::<Berth>();
    let done = match verb {
        "start" => berth.container_start(bot).await,
        "stop" => berth.container_stop(bot).await,
        "snapshot" => {
            let name = format!("Tray snapshot {}", now_label());
            berth.snapshot_create(bot, &name).await.map(|_| ())
        }
        "open" => {
            crate::instance::show_main_window(app);
            if let Err(error) = app.emit(OPEN_BOT, bot) {
                tracing::warn!(%error, "could not open the bot in the window");
            }
            Ok(())
        }
        _ => Ok(()),
    };
    // A second press while the first runs (Start twice in a row) has nothing left to do.
    let done = done.or_else(|e| if e.kind() == "busy" { Ok(()) } else { Err(e) });
    if let Err(error) = done {
        tracing::warn!(%bot, %verb, %error, "tray action failed");
        crate::instance::show_main_window(app);
        let payload = error.payload();
        let failed =
            serde_json::json!({ "botId": bot, "kind": payload.kind, "message": payload.message });
        if let Err(error) = app.emit(crate::events::TRAY_FAILED, failed) {
            tracing::warn!(%error, "could not tell the window");
        }
    }
}

/// The time to the second (UTC), for names of snapshots taken from the tray.
fn now_label() -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::now_utc().format(&format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_core::bots::Bot;
    use berth_core::operations::OperationKind;

    fn bot(id: &str, state: ContainerState) -> BotSummary {
        let bot = Bot {
            id: id.into(),
            name: format!("Bot {id}"),
            image: "busybox".into(),
            created_at: 0,
            restored_volume: None,
        };
        BotSummary { bot, state }
    }

    fn actions(entry: &Entry) -> Vec<(&'static str, bool)> {
        match entry {
            Entry::Bot { actions, .. } => actions.iter().map(|a| (a.label, a.enabled)).collect(),
            other => panic!("not a bot: {other:?}"),
        }
    }

    #[test]
    fn each_bot_offers_start_or_stop_as_its_state_allows() {
        let bots = [
            bot("a", ContainerState::Running),
            bot("b", ContainerState::Stopped),
            bot("c", ContainerState::None),
        ];
        let model = menu_model(&bots, &[]);
        assert_eq!(actions(&model[0]), [("Stop", true), ("Snapshot now", true), ("Open", true)]);
        assert_eq!(actions(&model[1]), [("Start", true), ("Snapshot now", true), ("Open", true)]);
        assert_eq!(actions(&model[2]), [("Start", false), ("Snapshot now", false), ("Open", true)]);
        let Entry::Bot { label, .. } = &model[0] else { panic!() };
        assert_eq!(label, "Bot a — running");
        assert_eq!(&model[3..], [Entry::Separator, Entry::ShowWindow, Entry::Quit]);
    }

    #[test]
    fn a_busy_bot_names_its_operation_and_offers_only_open() {
        let running = OperationInfo {
            id: "op".into(),
            bot_id: "a".into(),
            kind: OperationKind::Snapshot,
            started_at: 0,
        };
        let model = menu_model(&[bot("a", ContainerState::Running)], &[running]);
        let Entry::Bot { label, .. } = &model[0] else { panic!() };
        assert_eq!(label, "Bot a — snapshot…");
        assert_eq!(actions(&model[0]), [("Stop", false), ("Snapshot now", false), ("Open", true)]);
    }

    #[test]
    fn action_ids_name_the_verb_and_the_bot() {
        let model = menu_model(&[bot("b1", ContainerState::Stopped)], &[]);
        let Entry::Bot { actions, .. } = &model[0] else { panic!() };
        let ids: Vec<_> = actions.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["bot:start:b1", "bot:snapshot:b1", "bot:open:b1"]);
    }

    #[test]
    fn every_state_offers_what_it_allows() {
        let cases = [
            (ContainerState::Paused, "paused", ("Stop", true), true),
            (ContainerState::Restarting, "restarting", ("Stop", true), false),
            (ContainerState::Creating, "creating", ("Start", false), false),
            (ContainerState::Missing, "container missing", ("Start", false), false),
            (ContainerState::Unreachable, "engine unreachable", ("Start", false), false),
        ];
        for (state, shown, toggle, snapshot) in cases {
            let model = menu_model(&[bot("a", state)], &[]);
            let Entry::Bot { label, .. } = &model[0] else { panic!() };
            assert_eq!(label, &format!("Bot a — {shown}"));
            assert_eq!(actions(&model[0]), [toggle, ("Snapshot now", snapshot), ("Open", true)]);
        }
    }

    #[test]
    fn an_ampersand_in_a_name_is_shown_not_taken_for_a_mnemonic() {
        assert_eq!(literal("R&D — running"), "R&&D — running");
        assert_eq!(literal("no_mnemonic"), "no_mnemonic");
    }

    #[test]
    fn without_bots_the_menu_says_so() {
        let model = menu_model(&[], &[]);
        assert_eq!(
            model,
            [Entry::Note("No bots yet".into()), Entry::Separator, Entry::ShowWindow, Entry::Quit]
        );
    }
}
