//! The supervised connection to the engine.
//!
//! One task owns it: it connects, follows the engine's event stream while the engine lives,
//! and when the stream breaks it reconnects with backoff. Everyone else reads the current
//! [`EngineState`] and hears about changes through [`LinkEvent`]s.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::query_parameters::EventsOptionsBuilder;
use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use super::{Engine, EngineInfo, LABEL_BOT};
use crate::error::{Error, Result};

const FIRST_RETRY: Duration = Duration::from_millis(250);
const LAST_RETRY: Duration = Duration::from_secs(5);

/// The connection as it stands.
#[derive(Debug, Clone)]
pub enum EngineState {
    Connecting { endpoint: String },
    Connected(Engine),
    Unreachable { endpoint: String, reason: String, retry_in_ms: u64 },
}

/// The connection as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum EngineStatus {
    #[serde(rename_all = "camelCase")]
    Connecting { endpoint: String },
    #[serde(rename_all = "camelCase")]
    Connected { info: EngineInfo },
    #[serde(rename_all = "camelCase")]
    Unreachable { endpoint: String, reason: String, retry_in_ms: u64 },
}

impl From<&EngineState> for EngineStatus {
    fn from(state: &EngineState) -> Self {
        match state {
            EngineState::Connecting { endpoint } => {
                EngineStatus::Connecting { endpoint: endpoint.clone() }
            }
            EngineState::Connected(engine) => {
                EngineStatus::Connected { info: engine.info().clone() }
            }
            EngineState::Unreachable { endpoint, reason, retry_in_ms } => {
                EngineStatus::Unreachable {
                    endpoint: endpoint.clone(),
                    reason: reason.clone(),
                    retry_in_ms: *retry_in_ms,
                }
            }
        }
    }
}

/// What the link tells the rest of Berth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// The connection changed: connected, lost, or retrying.
    Status(EngineStatus),
    /// Something happened to a bot's container (`start`, `die`, `destroy`, ...).
    Container { bot: String, action: String },
}

/// A handle on the supervised connection; dropping every handle does not stop it, the
/// cancellation token given to [`EngineLink::spawn`] does.
#[derive(Debug, Clone)]
pub struct EngineLink {
    state: watch::Receiver<EngineState>,
}

impl EngineLink {
    /// Starts supervising the engine at `host`.
    pub fn spawn(
        host: String,
        labels: BTreeMap<String, String>,
        events: broadcast::Sender<LinkEvent>,
        stop: CancellationToken,
    ) -> EngineLink {
        let (state_tx, state) = watch::channel(EngineState::Connecting { endpoint: host.clone() });
        let supervisor = Supervisor { host, labels, state: state_tx, events };
        tokio::spawn(async move {
            tokio::select! {
                () = supervisor.run() => {}
                () = stop.cancelled() => {}
            }
        });
        EngineLink { state }
    }

    /// The connected engine, or why there is none.
    pub fn engine(&self) -> Result<Engine> {
        match &*self.state.borrow() {
            EngineState::Connected(engine) => Ok(engine.clone()),
            EngineState::Connecting { endpoint } => Err(Error::EngineUnreachable {
                endpoint: endpoint.clone(),
                reason: "still connecting".into(),
            }),
            EngineState::Unreachable { endpoint, reason, .. } => {
                Err(Error::EngineUnreachable { endpoint: endpoint.clone(), reason: reason.clone() })
            }
        }
    }

    pub fn status(&self) -> EngineStatus {
        EngineStatus::from(&*self.state.borrow())
    }

    /// Waits until the link has either connected or failed once.
    pub async fn settled(&self) -> EngineStatus {
        let mut state = self.state.clone();
        let settled = state
            .wait_for(|s| !matches!(s, EngineState::Connecting { .. }))
            .await
            .map(|s| EngineStatus::from(&*s));
        settled.unwrap_or_else(|_| self.status())
    }
}

/// Container event actions that change what the status panel shows.
///
/// Reading the status itself makes the engine emit `top` events; were those counted as
/// changes, every status read would trigger the next one, for ever.
const STATE_ACTIONS: &[&str] = &[
    "create",
    "start",
    "restart",
    "stop",
    "die",
    "kill",
    "oom",
    "pause",
    "unpause",
    "destroy",
    "rename",
    "update",
    "exec_start",
    "exec_die",
];

/// Exec actions carry their command (`exec_start: sleep 300`): only the part before the
/// colon names the action.
fn changes_state(action: &str) -> bool {
    let name = action.split_once(':').map_or(action, |(name, _)| name);
    STATE_ACTIONS.contains(&name.trim())
}

struct Supervisor {
    host: String,
    labels: BTreeMap<String, String>,
    state: watch::Sender<EngineState>,
    events: broadcast::Sender<LinkEvent>,
}

impl Supervisor {
    async fn run(self) {
        let mut retry = FIRST_RETRY;
        loop {
            match Engine::connect(&self.host, self.labels.clone()).await {
                Ok(engine) => {
                    retry = FIRST_RETRY;
                    self.set(EngineState::Connected(engine.clone()));
                    let reason = self.follow(&engine).await;
                    tracing::warn!(endpoint = %self.host, %reason, "lost the engine's events");
                    // Until it answers again the engine is not known to be there.
                    self.set(EngineState::Connecting { endpoint: self.host.clone() });
                    // A stream that breaks at once again and again must not spin.
                    tokio::time::sleep(FIRST_RETRY).await;
                }
                Err(error) => {
                    let reason = match error {
                        Error::EngineUnreachable { reason, .. } => reason,
                        other => other.to_string(),
                    };
                    if retry == FIRST_RETRY {
                        tracing::warn!(endpoint = %self.host, %reason, "engine unreachable");
                    }
                    tracing::debug!(endpoint = %self.host, %reason, ?retry, "will retry");
                    self.set(EngineState::Unreachable {
                        endpoint: self.host.clone(),
                        reason,
                        retry_in_ms: u64::try_from(retry.as_millis()).unwrap_or(u64::MAX),
                    });
                    tokio::time::sleep(retry).await;
                    retry = (retry * 2).min(LAST_RETRY);
                }
            }
        }
    }

    /// Forwards container events of Berth's containers until the stream ends; says why.
    async fn follow(&self, engine: &Engine) -> String {
        let filters = HashMap::from([
            ("type".to_owned(), vec!["container".to_owned()]),
            ("label".to_owned(), vec![LABEL_BOT.to_owned()]),
        ]);
        let options = EventsOptionsBuilder::default().filters(&filters).build();
        let mut stream = engine.docker().events(Some(options));

        while let Some(item) = stream.next().await {
            let event = match item {
                Ok(event) => event,
                Err(e) => return e.to_string(),
            };
            let action = event.action.unwrap_or_default();
            if !changes_state(&action) {
                continue;
            }
            let bot = event.actor.and_then(|a| a.attributes).and_then(|mut a| a.remove(LABEL_BOT));
            if let Some(bot) = bot {
                tracing::debug!(%bot, %action, "container event");
                // Nobody listening is fine: the UI may not be up yet.
                let _ = self.events.send(LinkEvent::Container { bot, action });
            }
        }
        "the engine closed the stream".into()
    }

    fn set(&self, state: EngineState) {
        let status = EngineStatus::from(&state);
        // A reconnection always counts as a change: containers may have changed meanwhile.
        let changed = matches!(state, EngineState::Connected(_))
            || EngineStatus::from(&*self.state.borrow()) != status;
        self.state.send_replace(state);
        if changed {
            // Nobody listening is fine: the UI may not be up yet.
            let _ = self.events.send(LinkEvent::Status(status));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_events_do_not_count_as_changes() {
        assert!(!changes_state("top"));
        assert!(!changes_state("attach"));
        assert!(!changes_state("exec_create"));
    }

    #[test]
    fn exec_start_with_its_command_counts_as_a_change() {
        assert!(changes_state("exec_start: sleep 300"));
        assert!(changes_state("exec_die"));
        assert!(!changes_state("exec_create: sleep 300"));
    }

    #[test]
    fn lifecycle_and_exec_events_count_as_changes() {
        for action in ["start", "die", "stop", "destroy", "pause", "exec_die"] {
            assert!(changes_state(action), "{action}");
        }
    }
}
