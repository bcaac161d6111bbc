//! Creating, starting, stopping and deleting a bot's container, and reading its status.
//!
//! Create is the long one: it pulls when the engine lacks the image, creates the data volume
//! and the container, records it, and starts it. Whatever fails or is cancelled, everything
//! it made is removed again, so nothing is ever left half-made.

use serde::Serialize;

use crate::bots::{Bot, ImageRef};
use crate::engine::containers::{container_name, DataMount, RunState, DATA_PATH};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::journal::{self, Step};
use crate::operations::{OperationHandle, OperationInfo, OperationKind, Phase};
use crate::progress::PullSnapshot;
use crate::store::{ContainerRecord, Replacement, Store, Version, VersionReason};
use crate::time::now_ms;

/// Seconds a container gets to stop on SIGTERM before it is killed.
pub const STOP_GRACE_SECS: i32 = 10;

/// The container's state as the status panel shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ContainerState {
    /// The bot has no container.
    None,
    Creating,
    Running,
    Paused,
    Restarting,
    Stopped,
    /// Berth recorded a container that the engine no longer has.
    Missing,
    /// The engine cannot be reached, so nothing is known.
    Unreachable,
}

impl From<RunState> for ContainerState {
    fn from(state: RunState) -> Self {
        match state {
            RunState::Running => ContainerState::Running,
            RunState::Paused => ContainerState::Paused,
            RunState::Restarting => ContainerState::Restarting,
            RunState::Stopped => ContainerState::Stopped,
        }
    }
}

/// Everything the status panel shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus {
    pub bot_id: String,
    pub state: ContainerState,
    pub container_id: Option<String>,
    pub image: String,
    pub image_digest: Option<String>,
    /// The data directory on the engine's host, when its volume exists.
    pub data_host_path: Option<String>,
    pub data_container_path: &'static str,
    /// Processes besides the init and the main process; `None` unless running.
    pub tasks: Option<u32>,
    pub created_at: Option<String>,
    pub started_at: Option<String>,
    pub operation: Option<OperationInfo>,
    /// The version of the container that exists now.
    pub version: Option<Version>,
}

pub(crate) async fn status(
    engine: Result<Engine>,
    store: &Store,
    bot: &Bot,
    operation: Option<OperationInfo>,
) -> Result<ContainerStatus> {
    let record = store.container(&bot.id).await?;
    let mut status = ContainerStatus {
        bot_id: bot.id.clone(),
        state: ContainerState::None,
        container_id: record.as_ref().map(|r| r.container_id.clone()),
        image: record.as_ref().map_or_else(|| bot.image.clone(), |r| r.image.clone()),
        image_digest: record.as_ref().and_then(|r| r.image_digest.clone()),
        data_host_path: None,
        data_container_path: DATA_PATH,
        tasks: None,
        created_at: None,
        started_at: None,
        operation,
        version: None,
    };
    let Ok(engine) = engine else {
        status.state = ContainerState::Unreachable;
        return Ok(status);
    };

    status.data_host_path = engine.volume_path(&bot.data_volume()).await?;
    if let Some(record) = &record {
        let versions = store.versions(&bot.id).await?;
        status.version = versions.into_iter().find(|v| v.container_id == record.container_id);
    }
    if let Some(record) = record {
        match engine.inspect_container(&record.container_id).await? {
            Some(facts) => {
                status.state = facts.state.into();
                status.created_at = facts.created_at;
                status.started_at = facts.started_at;
                if facts.state == RunState::Running {
                    status.tasks = engine.tasks(&facts.id).await?;
                }
            }
            None => status.state = ContainerState::Missing,
        }
    }
    let creating = status.operation.as_ref().is_some_and(|o| o.kind == OperationKind::Create);
    if creating && matches!(status.state, ContainerState::None | ContainerState::Missing) {
        status.state = ContainerState::Creating;
    }
    Ok(status)
}

/// What a create may have made so far, to be removed if it does not finish. A request whose
/// answer was lost (the engine went away mid-call) may still have taken effect, so each flag
/// is set before its request is sent.
#[derive(Debug, Default)]
struct Made {
    /// The data volume did not exist before this create.
    new_volume: bool,
    /// A container may exist under the bot's name.
    container: bool,
    record: bool,
}

pub(crate) async fn create(
    engine: &Engine,
    store: &Store,
    bot: &Bot,
    op: &OperationHandle,
) -> Result<()> {
    let image = ImageRef::parse(&bot.image)?;
    forget_vanished_container(engine, store, bot).await?;

    op.report(|p| p.phase = Some(Phase::Pulling));
    if engine.has_image(&image).await? {
        tracing::debug!(image = image.as_str(), "image present, no pull needed");
        let present = PullSnapshot { fraction: Some(1.0), ..Default::default() };
        op.report(|p| p.pull = Some(present));
    } else {
        pull(engine, &image, op).await?;
    }
    op.check_cancelled()?;
    let digest = engine.image_digest(&image).await?;

    let mut made = Made::default();
    let result = make_container(engine, store, bot, &image, digest, op, &mut made).await;
    if let Err(error) = &result {
        tracing::info!(bot = %bot.id, %error, "create did not finish, removing what it made");
        undo(engine, store, bot, made).await;
    }
    result
}

/// Pulls the image with its progress reported to the operation.
async fn pull(engine: &Engine, image: &ImageRef, op: &OperationHandle) -> Result<()> {
    let report =
        |pull: &crate::progress::PullProgress| op.report(|p| p.pull = Some(pull.snapshot()));
    engine.pull(image, op.cancel_token(), report).await?;
    // A stream that ends cleanly but early (an engine restarting) is no pull.
    if !engine.has_image(image).await? {
        let message = "the engine ended the pull without the image".to_owned();
        return Err(Error::Pull { image: image.as_str().to_owned(), message });
    }
    Ok(())
}

async fn make_container(
    engine: &Engine,
    store: &Store,
    bot: &Bot,
    image: &ImageRef,
    image_digest: Option<String>,
    op: &OperationHandle,
    made: &mut Made,
) -> Result<()> {
    op.report(|p| p.phase = Some(Phase::Creating));
    let volume = bot.data_volume();
    made.new_volume = engine.volume_path(&volume).await?.is_none();
    let step = Step::CreateVolume { volume: volume.clone(), new: made.new_volume };
    journal::record(store, op, step).await?;
    engine.ensure_volume(&bot.id, &volume).await?;
    journal::record(store, op, Step::CreateContainer).await?;
    made.container = true;
    let mount = DataMount { container: container_name(&bot.id), volume, restored: false };
    let id = engine.create_container(&bot.id, image.as_str(), &mount).await?;
    if made.new_volume {
        let job_on = (bot.id.as_str(), image.as_str(), mount.volume.as_str());
        crate::data::give_to_container_user(engine, job_on, &id).await?;
    }

    let record = ContainerRecord {
        container_id: id.clone(),
        image: image.as_str().to_owned(),
        image_digest,
        created_at: now_ms(),
        snapshot_id: None,
        base_image_id: Some(engine.image_id(image).await?),
    };
    store.container_set(&bot.id, record).await?;
    made.record = true;
    op.check_cancelled()?;

    op.report(|p| p.phase = Some(Phase::Starting));
    journal::record(store, op, Step::Start).await?;
    engine.start_container(&id).await?;
    if let Some(last_words) = engine.main_process_started(&id).await? {
        return Err(unsuitable(image.as_str(), &last_words));
    }
    op.check_cancelled()?;

    let version = store.version_record(&bot.id, VersionReason::Created).await?;
    journal::recorded_whole(store, op, &bot.id).await;
    tracing::info!(bot = %bot.id, version = version.number, reason = ?version.reason,
        "container created");
    Ok(())
}

/// Berth's container runs `tail` under Docker's init to keep going: an image whose main
/// process stops at once cannot host a bot, and the init's last words usually say why.
fn unsuitable(image: &str, last_words: &str) -> Error {
    let reason = if last_words.contains("exec tail failed") {
        "it has no `tail` command, which Berth runs to keep the container going".to_owned()
    } else {
        format!("its container stopped as soon as it started ({last_words})")
    };
    Error::ImageUnsuitable { image: image.to_owned(), reason }
}

/// Removes what an unfinished create made. Failures are logged, not raised: the create's own
/// error is the one the user needs to see.
async fn undo(engine: &Engine, store: &Store, bot: &Bot, made: Made) {
    if made.container {
        // By name: the id is unknown when the create's answer was lost.
        let name = container_name(&bot.id);
        if let Err(error) = engine.remove_container(&name).await {
            tracing::warn!(bot = %bot.id, container = %name, %error, "could not remove container");
        }
    }
    if made.record {
        if let Err(error) = store.container_clear(&bot.id).await {
            tracing::warn!(bot = %bot.id, %error, "could not forget container");
        }
    }
    if made.new_volume {
        if let Err(error) = engine.remove_volume(&bot.data_volume()).await {
            tracing::warn!(bot = %bot.id, %error, "could not remove the new data volume");
        }
    }
}

/// Refuses a second container, and clears what an outside `docker rm` or an earlier crash left:
/// a record of a container that is gone, or a container of this bot's name that is not recorded.
async fn forget_vanished_container(engine: &Engine, store: &Store, bot: &Bot) -> Result<()> {
    let recorded = store.container(&bot.id).await?;
    if let Some(record) = &recorded {
        if engine.inspect_container(&record.container_id).await?.is_some() {
            return Err(Error::ContainerExists {
                bot: bot.name.clone(),
                container: record.container_id.clone(),
            });
        }
        tracing::info!(bot = %bot.id, container = %record.container_id,
            "forgetting a container the engine no longer has");
        store.container_clear(&bot.id).await?;
    }
    let name = container_name(&bot.id);
    for stray in [format!("{name}-next"), format!("{name}-previous"), name] {
        if let Some(found) = engine.inspect_container(&stray).await? {
            tracing::warn!(bot = %bot.id, container = %found.id, "removing an unrecorded one");
            engine.remove_container(&found.id).await?;
        }
    }
    Ok(())
}

/// The bot's recorded container and what the engine says of it; refused when it has none.
pub(crate) async fn existing_container(
    engine: &Engine,
    store: &Store,
    bot: &Bot,
) -> Result<(ContainerRecord, crate::engine::containers::ContainerFacts)> {
    let record = recorded_container(store, bot).await?;
    match engine.inspect_container(&record.container_id).await? {
        Some(facts) => Ok((record, facts)),
        None => Err(Error::NoContainer { bot: bot.name.clone() }),
    }
}

pub(crate) async fn recorded_container(store: &Store, bot: &Bot) -> Result<ContainerRecord> {
    store.container(&bot.id).await?.ok_or_else(|| Error::NoContainer { bot: bot.name.clone() })
}

pub(crate) async fn start(engine: &Engine, store: &Store, bot: &Bot) -> Result<()> {
    let record = recorded_container(store, bot).await?;
    engine.start_container(&record.container_id).await
}

pub(crate) async fn stop(engine: &Engine, store: &Store, bot: &Bot, grace: i32) -> Result<()> {
    let record = recorded_container(store, bot).await?;
    engine.stop_container(&record.container_id, grace).await
}

/// Removes the container and, unless `keep_data`, the data volume. A container that is
/// already gone is no error: the user wants it gone.
pub(crate) async fn delete(
    engine: &Engine,
    store: &Store,
    bot: &Bot,
    keep_data: bool,
) -> Result<()> {
    if let Some(record) = store.container(&bot.id).await? {
        engine.remove_container(&record.container_id).await?;
        store.container_clear(&bot.id).await?;
    }
    // A container under the bot's name that Berth never recorded (a create whose answer was
    // lost) would keep the volume in use.
    let name = container_name(&bot.id);
    for stray in [format!("{name}-next"), format!("{name}-previous"), name] {
        engine.remove_container(&stray).await?;
    }
    if !keep_data {
        engine.remove_volume(&bot.data_volume()).await?;
    }
    Ok(())
}

/// Pulls the bot's image again, or `new_image` when given; when that gives another image than
/// the container's, re-creates the container from it, keeping the data volume and whether it
/// ran (a paused container comes back running). Returns the new version, or `None` when
/// nothing changed.
///
/// The new container is created beside the old one, swapped in and started before anything
/// is recorded; any failure until then puts the old container back as it was.
pub(crate) async fn update_image(
    engine: &Engine,
    store: &Store,
    bot: &Bot,
    new_image: Option<ImageRef>,
    grace: i32,
    op: &OperationHandle,
) -> Result<Option<Version>> {
    let image = match new_image {
        Some(image) => image,
        None => ImageRef::parse(&bot.image)?,
    };
    let (record, current) = existing_container(engine, store, bot).await?;

    op.report(|p| p.phase = Some(Phase::Pulling));
    pull(engine, &image, op).await?;
    op.check_cancelled()?;
    let pulled_id = engine.image_id(&image).await?;
    let digest = engine.image_digest(&image).await?;
    if image.as_str() == record.image && unchanged(&record, &current.image_id, &pulled_id, &digest)
    {
        let note = format!("`{}` is up to date", image.as_str());
        op.report(|p| p.note = Some(note));
        return Ok(None);
    }

    op.report(|p| p.phase = Some(Phase::Creating));
    let next_name = format!("{}-next", container_name(&bot.id));
    engine.remove_container(&next_name).await?;
    let mount = DataMount {
        container: next_name,
        volume: bot.data_volume(),
        restored: bot.restored_volume.is_some(),
    };
    journal::record(store, op, Step::MakeNext { volume: None }).await?;
    let next = engine.create_container(&bot.id, image.as_str(), &mount).await?;
    if let Err(cancelled) = op.check_cancelled() {
        if let Err(error) = engine.remove_container(&next).await {
            tracing::warn!(bot = %bot.id, %error, "could not remove the unused new container");
        }
        return Err(cancelled);
    }

    op.report(|p| p.phase = Some(Phase::Starting));
    let was_running = matches!(current.state, RunState::Running | RunState::Paused);
    let pair = (record.container_id.as_str(), next.as_str());
    let mut done = Swapped::default();
    let step = Step::SwapIn {
        old: record.container_id.clone(),
        new: next.clone(),
        was_running,
        old_volume: None,
    };
    journal::record(store, op, step).await?;
    let swapped = swap_in(engine, bot, image.as_str(), pair, (grace, was_running), &mut done).await;
    let new_record = ContainerRecord {
        container_id: next.clone(),
        image: image.as_str().to_owned(),
        image_digest: digest,
        created_at: now_ms(),
        snapshot_id: record.snapshot_id.clone(),
        base_image_id: Some(pulled_id),
    };
    let recorded = match swapped {
        Ok(()) => {
            let reason = VersionReason::ImageUpdated;
            let version =
                store.container_replace(&bot.id, new_record, reason, Replacement::default()).await;
            if version.is_ok() {
                journal::recorded_whole(store, op, &bot.id).await;
            }
            version
        }
        Err(error) => Err(error),
    };
    let version = match recorded {
        Ok(version) => version,
        Err(error) => {
            roll_back(engine, bot, pair, was_running, done).await;
            return Err(error);
        }
    };

    if let Err(error) = engine.remove_container(&record.container_id).await {
        // The bot is whole without it; the next update or delete removes it by name.
        tracing::warn!(bot = %bot.id, %error, "could not remove the old container");
    }
    tracing::info!(bot = %bot.id, version = version.number, "image updated");
    Ok(Some(version))
}

/// Whether the pulled image (`pulled_id`, `digest`) is the one the container began from.
/// Image ids first, as an image built or imported locally has no registry digest; a restored
/// container runs a snapshot's image, so it is its base image's id that counts.
fn unchanged(
    record: &ContainerRecord,
    running_id: &str,
    pulled_id: &str,
    digest: &Option<String>,
) -> bool {
    match (&record.base_image_id, &record.image_digest, digest) {
        (Some(base), _, _) => base == pulled_id,
        // Records from before base ids were kept: a restored container's digest is its base's.
        (None, Some(recorded), Some(pulled)) if record.snapshot_id.is_some() => recorded == pulled,
        (None, _, _) => running_id == pulled_id,
    }
}

/// How far a swap got, so that a roll-back undoes exactly that.
#[derive(Debug, Default)]
pub(crate) struct Swapped {
    stopped: bool,
    set_aside: bool,
}

/// Puts the new container in the old one's place and starts it if the old one ran: the old one
/// is stopped and set aside under another name first, and stays there until recorded.
pub(crate) async fn swap_in(
    engine: &Engine,
    bot: &Bot,
    image: &str,
    (old, new): (&str, &str),
    (grace, start): (i32, bool),
    done: &mut Swapped,
) -> Result<()> {
    let name = container_name(&bot.id);
    engine.remove_container(&format!("{name}-previous")).await?;
    engine.stop_container(old, grace).await?;
    done.stopped = true;
    engine.rename_container(old, &format!("{name}-previous")).await?;
    done.set_aside = true;
    engine.rename_container(new, &name).await?;
    if start {
        engine.start_container(new).await?;
        if let Some(last_words) = engine.main_process_started(new).await? {
            return Err(unsuitable(image, &last_words));
        }
    }
    Ok(())
}

/// Undoes a swap that failed: the new container goes, the old one gets its name back and
/// runs again if it ran. Failures are logged: the swap's error is the one to show.
pub(crate) async fn roll_back(
    engine: &Engine,
    bot: &Bot,
    (old, new): (&str, &str),
    was_running: bool,
    done: Swapped,
) {
    let steps = async {
        engine.remove_container(new).await?;
        if done.set_aside {
            engine.rename_container(old, &container_name(&bot.id)).await?;
        }
        if done.stopped && was_running {
            engine.start_container(old).await?;
        }
        Ok::<_, Error>(())
    };
    match steps.await {
        Ok(()) => tracing::info!(bot = %bot.id, "old container put back"),
        Err(error) => tracing::warn!(bot = %bot.id, %error, "could not put the old container back"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(base_image_id: Option<&str>, snapshot: Option<&str>) -> ContainerRecord {
        ContainerRecord {
            container_id: "c".into(),
            image: "busybox:latest".into(),
            image_digest: Some("sha256:old-digest".into()),
            created_at: 1,
            snapshot_id: snapshot.map(Into::into),
            base_image_id: base_image_id.map(Into::into),
        }
    }

    #[test]
    fn a_restored_container_is_up_to_date_when_its_base_image_is() {
        // It runs the snapshot's image, never the pulled one.
        let restored = record(Some("sha256:base"), Some("s1"));
        let digest = Some("sha256:old-digest".to_owned());
        assert!(unchanged(&restored, "sha256:snapshot", "sha256:base", &digest));
        assert!(!unchanged(&restored, "sha256:snapshot", "sha256:moved", &digest));
    }

    #[test]
    fn records_without_a_base_id_compare_what_they_have() {
        let fresh = record(None, None);
        assert!(unchanged(&fresh, "sha256:base", "sha256:base", &None));
        assert!(!unchanged(&fresh, "sha256:base", "sha256:moved", &None));
        let restored = record(None, Some("s1"));
        let same = Some("sha256:old-digest".to_owned());
        let moved = Some("sha256:new-digest".to_owned());
        assert!(unchanged(&restored, "sha256:snapshot", "sha256:base", &same));
        assert!(!unchanged(&restored, "sha256:snapshot", "sha256:moved", &moved));
    }
}
