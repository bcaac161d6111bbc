//! Bot containers and the volumes that hold their data directories.
//!
//! A bot's container is named `berth-<bot id>` and its data volume `berth-data-<bot id>`; both
//! carry [`LABEL_BOT`](super::LABEL_BOT). The container runs Docker's init as PID 1, so that
//! background jobs are reaped, and a main process that waits forever, so that it keeps
//! running whatever the image's own command would do.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, ContainerStateStatusEnum, HostConfig};
use bollard::models::{ContainerSummaryStateEnum, VolumeCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder, RenameContainerOptionsBuilder,
    StopContainerOptionsBuilder, TopOptionsBuilder,
};
use futures_util::StreamExt;
use serde::Serialize;

use super::{is_conflict, is_not_found, Engine, LABEL_BOT};
use crate::error::{Error, Result};

/// Where the data directory appears inside every bot container.
pub const DATA_PATH: &str = "/data";

/// What the container's main process runs: it waits, costs nothing and ends on SIGTERM.
const KEEP_RUNNING: [&str; 3] = ["tail", "-f", "/dev/null"];

/// How often, and how long, a create looks for the main process after the start.
const MAIN_PROCESS_CHECKS: u32 = 100;
const MAIN_PROCESS_INTERVAL: std::time::Duration = std::time::Duration::from_millis(20);

/// Processes Berth itself puts in a running container: the init and the main process.
const OWN_PROCESSES: usize = 2;

pub fn container_name(bot: &str) -> String {
    format!("berth-{bot}")
}

/// The data volume a bot gets when its container is first created.
pub fn volume_name(bot: &str) -> String {
    format!("berth-data-{bot}")
}

/// Where a new container goes and which data volume it mounts.
#[derive(Debug, Clone)]
pub struct DataMount {
    /// The container's name.
    pub container: String,
    pub volume: String,
    /// The volume was filled by a restore: nothing from the image is copied into it.
    pub restored: bool,
}

/// Whether a container runs, as far as the engine knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RunState {
    Running,
    Paused,
    Restarting,
    Stopped,
}

/// What the engine says about one bot container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerFacts {
    pub id: String,
    pub state: RunState,
    pub image: String,
    /// The id of the image the container was created from (`sha256:…`).
    pub image_id: String,
    pub created_at: Option<String>,
    pub started_at: Option<String>,
}

impl Engine {
    /// Makes sure the bot's data volume `name` exists; true when this call created it.
    pub async fn ensure_volume(&self, bot: &str, name: &str) -> Result<bool> {
        match self.docker.inspect_volume(name).await {
            Ok(_) => return Ok(false),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(self.error(format!("inspecting volume `{name}`"))(e)),
        }

        let request = VolumeCreateRequest {
            name: Some(name.to_owned()),
            labels: Some(self.labels_for(bot)),
            ..Default::default()
        };
        self.docker
            .create_volume(request)
            .await
            .map_err(self.error(format!("creating volume `{name}`")))?;
        Ok(true)
    }

    /// Where a data volume lives on the engine's host, if it exists.
    pub async fn volume_path(&self, name: &str) -> Result<Option<String>> {
        match self.docker.inspect_volume(name).await {
            Ok(volume) => Ok(Some(volume.mountpoint)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(self.error(format!("inspecting volume `{name}`"))(e)),
        }
    }

    /// Removes a data volume and everything in it; a missing volume is no error.
    pub async fn remove_volume(&self, name: &str) -> Result<()> {
        let options = RemoveVolumeOptionsBuilder::default().force(true).build();
        match self.docker.remove_volume(name, Some(options)).await {
            Err(e) if !is_not_found(&e) => Err(self.error(format!("removing volume `{name}`"))(e)),
            _ => Ok(()),
        }
    }

    /// Creates a container for the bot from `image` (a reference or an image id) under
    /// `name`, with `volume` as its data directory at [`DATA_PATH`].
    pub async fn create_container(
        &self,
        bot: &str,
        image: &str,
        mount: &DataMount,
    ) -> Result<String> {
        let name = mount.container.as_str();
        let volume = &mount.volume;
        // A restored volume already holds its data: the image's own files at /data must not
        // be copied into it.
        let bind = if mount.restored {
            format!("{volume}:{DATA_PATH}:nocopy")
        } else {
            format!("{volume}:{DATA_PATH}")
        };
        let body = ContainerCreateBody {
            image: Some(image.to_owned()),
            entrypoint: Some(KEEP_RUNNING.iter().map(|s| (*s).to_owned()).collect()),
            labels: Some(self.labels_for(bot)),
            host_config: Some(HostConfig {
                init: Some(true),
                binds: Some(vec![bind]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(name).build();
        let created = self
            .docker
            .create_container(Some(options), body)
            .await
            .map_err(self.error(format!("creating container `{name}`")))?;
        Ok(created.id)
    }

    pub async fn rename_container(&self, id: &str, name: &str) -> Result<()> {
        let options = RenameContainerOptionsBuilder::default().name(name).build();
        self.docker
            .rename_container(id, options)
            .await
            .map_err(self.error(format!("renaming container `{id}` to `{name}`")))
    }

    /// Starts the container; one that already runs is left as it is.
    pub async fn start_container(&self, id: &str) -> Result<()> {
        self.docker
            .start_container(id, None)
            .await
            .map_err(self.error(format!("starting container `{id}`")))
    }

    /// Asks the container to stop, and kills it after `grace_secs`; a stopped one stays so.
    pub async fn stop_container(&self, id: &str, grace_secs: i32) -> Result<()> {
        let options = StopContainerOptionsBuilder::default().t(grace_secs).build();
        self.docker
            .stop_container(id, Some(options))
            .await
            .map_err(self.error(format!("stopping container `{id}`")))
    }

    /// Removes the container, running or not; one already gone is no error.
    pub async fn remove_container(&self, id: &str) -> Result<()> {
        let options = RemoveContainerOptionsBuilder::default().force(true).build();
        match self.docker.remove_container(id, Some(options)).await {
            Err(e) if !is_not_found(&e) => Err(self.error(format!("removing container `{id}`"))(e)),
            _ => Ok(()),
        }
    }

    /// The container's facts, or `None` when the engine has no such container.
    pub async fn inspect_container(&self, id: &str) -> Result<Option<ContainerFacts>> {
        let inspect = match self.docker.inspect_container(id, None).await {
            Ok(inspect) => inspect,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(self.error(format!("inspecting container `{id}`"))(e)),
        };

        let state = inspect.state.unwrap_or_default();
        let run_state = match state.status {
            Some(ContainerStateStatusEnum::RUNNING) => RunState::Running,
            Some(ContainerStateStatusEnum::PAUSED) => RunState::Paused,
            Some(ContainerStateStatusEnum::RESTARTING) => RunState::Restarting,
            _ => RunState::Stopped,
        };
        // The engine writes the zero time for a container that never started.
        let started_at = state.started_at.filter(|t| !t.starts_with("0001-"));
        Ok(Some(ContainerFacts {
            id: inspect.id.unwrap_or_else(|| id.to_owned()),
            state: run_state,
            image: inspect.config.and_then(|c| c.image).unwrap_or_default(),
            image_id: inspect.image.unwrap_or_default(),
            created_at: inspect.created.map(|c| c.to_string()),
            started_at: started_at.filter(|_| run_state != RunState::Stopped),
        }))
    }

    /// Processes running in the container besides its init and main process; `None` when it
    /// is not running (it may stop between an inspect and this call).
    pub async fn tasks(&self, id: &str) -> Result<Option<u32>> {
        let options = TopOptionsBuilder::default().ps_args("-e -o pid").build();
        let top = match self.docker.top_processes(id, Some(options)).await {
            Ok(top) => top,
            // 409: the container is not running; 404: it is gone. Either way it has no tasks.
            Err(e) if is_not_found(&e) || is_conflict(&e) => return Ok(None),
            Err(e) => return Err(self.error(format!("listing processes of container `{id}`"))(e)),
        };
        let count = top.processes.map_or(0, |p| p.len()).saturating_sub(OWN_PROCESSES);
        Ok(Some(u32::try_from(count).unwrap_or(u32::MAX)))
    }

    /// Waits until the just-started container's main process runs. When the container stops
    /// instead (an image without `tail`, say), returns what it last said.
    ///
    /// The start call returns before the init has executed the main process, so a start that
    /// succeeded says nothing about it; the process list does.
    pub async fn main_process_started(&self, id: &str) -> Result<Option<String>> {
        let options = TopOptionsBuilder::default().ps_args("-e -o pid,comm").build();
        for _ in 0..MAIN_PROCESS_CHECKS {
            match self.docker.top_processes(id, Some(options.clone())).await {
                Ok(top) => {
                    let rows = top.processes.unwrap_or_default();
                    if rows.iter().any(|row| row.last().is_some_and(|c| c == KEEP_RUNNING[0])) {
                        return Ok(None);
                    }
                }
                // A container that is stopping answers 409 or a runtime error; one that stopped
                // has the reason in its last words, and any other failure is tried again.
                Err(e) => {
                    let running = self.inspect_container(id).await?.map(|f| f.state);
                    if running != Some(RunState::Running) {
                        return self.last_words(id).await.map(Some);
                    }
                    tracing::debug!(container = id, error = %e, "process list failed, retrying");
                }
            }
            tokio::time::sleep(MAIN_PROCESS_INTERVAL).await;
        }
        Err(Error::Engine {
            action: format!("starting container `{id}`"),
            message: "its main process did not show within 2 seconds".into(),
        })
    }

    /// The stopped container's exit code and final log lines.
    async fn last_words(&self, id: &str) -> Result<String> {
        let inspect = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(self.error(format!("inspecting container `{id}`")))?;
        let state = inspect.state.unwrap_or_default();
        let options = LogsOptionsBuilder::default().stdout(true).stderr(true).tail("5").build();
        let lines: Vec<String> = self
            .docker
            .logs(id, Some(options))
            .filter_map(|line| async move { line.ok().map(|l| l.to_string()) })
            .collect()
            .await;
        let code = state.exit_code.unwrap_or_default();
        Ok(format!("exit code {code}: {}", lines.concat().trim()))
    }

    /// The container's stats stream: one message a second while it runs; it ends when the
    /// container stops.
    pub fn stats(
        &self,
        id: &str,
    ) -> impl futures_util::Stream<Item = Result<bollard::models::ContainerStatsResponse>> + '_
    {
        let options =
            bollard::query_parameters::StatsOptionsBuilder::default().stream(true).build();
        let action = format!("reading the resources of `{id}`");
        self.docker.stats(id, Some(options)).map(move |m| m.map_err(self.error(action.clone())))
    }

    /// The data directory's size in bytes, by `du` in the running container; `None` when the
    /// image has no `du` or the container stopped meanwhile.
    pub async fn data_size(&self, id: &str) -> Result<Option<u64>> {
        use bollard::exec::{CreateExecOptions, StartExecResults};
        let options = CreateExecOptions {
            // Through sh: a busybox image may have `du` only as a shell applet.
            cmd: Some(vec!["sh", "-c", "du -sk /data"]),
            attach_stdout: Some(true),
            attach_stderr: Some(false),
            ..Default::default()
        };
        let exec = match self.docker.create_exec(id, options).await {
            Ok(exec) => exec,
            Err(e) if is_not_found(&e) || is_conflict(&e) => return Ok(None),
            Err(e) => return Err(self.error(format!("measuring the data of `{id}`"))(e)),
        };
        let started = self.docker.start_exec(&exec.id, None).await;
        let Ok(StartExecResults::Attached { mut output, .. }) = started else { return Ok(None) };
        let mut text = String::new();
        while let Some(Ok(chunk)) = output.next().await {
            text.push_str(&chunk.to_string());
        }
        let kib = text.split_whitespace().next().and_then(|n| n.parse::<u64>().ok());
        Ok(kib.and_then(|k| k.checked_mul(1024)))
    }

    /// The run state of every Berth container the engine has, by bot id.
    pub async fn run_states(&self) -> Result<HashMap<String, RunState>> {
        // With the extra labels too: what another Berth on the same engine made is not ours.
        let mut labels = vec![LABEL_BOT.to_owned()];
        labels.extend(self.labels.iter().map(|(key, value)| format!("{key}={value}")));
        let filters = HashMap::from([("label".to_owned(), labels)]);
        let options = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
        let containers = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(self.error("listing Berth's containers"))?;

        let states = containers.into_iter().filter_map(|c| {
            let bot = c.labels?.remove(LABEL_BOT)?;
            // Only the bot's own container: an update's new or set-aside one is not its state.
            let own = format!("/{}", container_name(&bot));
            if !c.names.unwrap_or_default().contains(&own) {
                return None;
            }
            let state = match c.state {
                Some(ContainerSummaryStateEnum::RUNNING) => RunState::Running,
                Some(ContainerSummaryStateEnum::PAUSED) => RunState::Paused,
                Some(ContainerSummaryStateEnum::RESTARTING) => RunState::Restarting,
                _ => RunState::Stopped,
            };
            Some((bot, state))
        });
        Ok(states.collect())
    }
}
