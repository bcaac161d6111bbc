//! The journal of an operation's steps, and the repair at start-up of operations a crash cut
//! off.
//!
//! Each step that changes the engine or the disk is written to the store before it is taken,
//! with what undoing or finishing it needs. An operation still running when Berth stopped is
//! marked interrupted when the store opens; once the engine answers, [`repair`] reads its
//! steps and either finishes it (when it got past the point where it is whole) or undoes it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::bots::Bot;
use crate::engine::containers::{container_name, RunState};
use crate::engine::{volume_jobs, Engine};
use crate::error::{Error, Result};
use crate::operations::OperationHandle;
use crate::store::{OperationRecord, Store};

/// A step, with what its undoing needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Step {
    /// Create: the data volume is about to be made; `new` when it did not exist.
    CreateVolume { volume: String, new: bool },
    /// Create: the container is about to be made under the bot's name.
    CreateContainer,
    /// Create: the recorded container is about to be started.
    Start,
    /// Snapshot: the running container is about to be paused for the capture.
    Pause { container: String },
    /// Snapshot: the filesystem was committed to this image.
    Committed { image: String },
    /// Snapshot: the data directory is being saved to this file.
    SaveData { partial: String },
    /// Restore or update: the new container (and, for a restore, data volume) is about to be
    /// made beside the old one.
    MakeNext { volume: Option<String> },
    /// Restore or update: the old container is about to be stopped and set aside, and the new
    /// one put in its place.
    SwapIn { old: String, new: String, was_running: bool, old_volume: Option<String> },
    /// Create, restore or update: the new container is recorded; the bot is whole. The
    /// repair asks the store, not this step, which it only confirms.
    Swapped,
    /// Import: a merge is about to save the data directory to this file.
    SaveBackup { backup: String },
    /// Import: the data directory's content is about to be set aside in this directory.
    SetAside { aside: String, mtime: String },
    /// Import: a merge saved the data directory to this file.
    BackedUp { backup: String, mtime: String },
    /// Import: the old content is kept; the archive is about to be written.
    Writing,
    /// Import: the archive is in; what was kept for putting back can go.
    Written,
    /// Reset: emptying the data directory begins; it cannot be undone.
    Clear,
    /// Export: the archive is being written to this file beside the chosen one.
    ExportTo { partial: String },
}

impl Step {
    /// The step's name, as the journal and `BERTH_CRASH_AT` write it.
    pub fn name(&self) -> String {
        let json = serde_json::to_value(self).unwrap_or_default();
        json["step"].as_str().unwrap_or_default().to_owned()
    }
}

/// Writes the step to the operation's journal before it is taken.
pub(crate) async fn record(store: &Store, op: &OperationHandle, step: Step) -> Result<()> {
    let json = serde_json::to_string(&step).unwrap_or_default();
    #[cfg(feature = "crash-points")]
    crash_if_asked("BERTH_CRASH_BEFORE", &step.name());
    store.operation_step(&op.info().id, json).await?;
    #[cfg(feature = "crash-points")]
    crash_if_asked("BERTH_CRASH_AT", &step.name());
    Ok(())
}

/// Notes that the operation's new container is recorded and the bot whole. It is recorded
/// already, so a failure here must not undo it: it is logged, and the repair would ask the
/// store anyway.
pub(crate) async fn recorded_whole(store: &Store, op: &OperationHandle, bot: &str) {
    if let Err(error) = record(store, op, Step::Swapped).await {
        tracing::warn!(%bot, %error, "could not note in the journal that the bot is whole");
    }
}

/// Test builds only: dies at once, as by SIGKILL, when the variable `at` (`BERTH_CRASH_AT`,
/// just after writing the step, or `BERTH_CRASH_BEFORE`, just before) names this step.
#[cfg(feature = "crash-points")]
fn crash_if_asked(at: &str, step: &str) {
    if std::env::var(at).is_ok_and(|wanted| wanted == step) {
        eprintln!("crash point: {step}");
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("kill").args(["-KILL", &pid]).status();
        loop {
            std::thread::park();
        }
    }
}

/// What the repair of one interrupted operation did, for the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Repair {
    pub bot_id: String,
    pub bot_name: String,
    /// The interrupted operation's kind; none for a container that belongs to no bot, which
    /// no operation left behind.
    pub operation: Option<String>,
    pub message: String,
}

/// Puts right what the interrupted operation left, from its steps, and says what it did.
pub(crate) async fn repair(
    engine: &Engine,
    store: &Store,
    bot: &Bot,
    record: &OperationRecord,
    steps: &[String],
) -> Result<String> {
    let steps = read_steps(steps);
    let has = |wanted: fn(&Step) -> bool| steps.iter().any(wanted);
    let mut done = Vec::new();

    // A capture: resume the container; drop what a capture that did not finish made.
    for step in &steps {
        match step {
            Step::Pause { container } => {
                let paused = engine.inspect_container(container).await?;
                if paused.is_some_and(|c| c.state == RunState::Paused) {
                    engine.unpause_container(container).await?;
                    done.push("resumed the paused container".to_owned());
                }
            }
            Step::Committed { image } => {
                let kept = store.snapshots(&bot.id).await?.iter().any(|s| &s.image_id == image);
                if !kept && engine.remove_image(image).await? {
                    done.push("removed the unfinished snapshot's image".to_owned());
                }
            }
            Step::SaveData { partial } => {
                // Cut off after the rename into place, the whole file is there but unrecorded.
                let whole = Path::new(partial).with_extension("");
                let snapshots = store.snapshots(&bot.id).await?;
                let kept = snapshots.iter().any(|s| whole.ends_with(&s.data_file));
                let mut removed = remove_if_present(Path::new(partial));
                if !kept {
                    removed |= remove_if_present(&whole);
                }
                if removed {
                    done.push("removed the unfinished snapshot's data file".to_owned());
                }
            }
            _ => {}
        }
    }
    if has(|s| matches!(s, Step::Committed { .. })) {
        // A capture cut off while flattening leaves an image under the snapshot's tag.
        crate::snapshots::collect_images(engine, store, bot).await;
    }

    // A create: whole once its version is recorded (its last step), else undone.
    if has(|s| matches!(s, Step::CreateContainer)) {
        if create_finished(engine, store, bot).await? {
            done.push("kept the container: the create had finished".to_owned());
        } else {
            undo_create(engine, store, bot).await?;
            done.push("removed the half-created container".to_owned());
        }
    }
    for step in &steps {
        if let Step::CreateVolume { volume, new: true } = step {
            if store.container(&bot.id).await?.is_none() {
                engine.remove_volume(volume).await?;
                done.push("removed its new data volume".to_owned());
            }
        }
    }

    // A restore or an update: finish it when recorded, else put the old container back.
    let swap = steps.iter().find_map(|s| match s {
        Step::SwapIn { old, new, was_running, old_volume } => {
            Some((old.clone(), new.clone(), *was_running, old_volume.clone()))
        }
        _ => None,
    });
    let next_volume = steps.iter().find_map(|s| match s {
        Step::MakeNext { volume } => volume.clone(),
        _ => None,
    });
    // The store, not the `swapped` step, says whether the new container is the bot's: a
    // crash between recording it and writing that step must not undo a recorded swap.
    let recorded = store.container(&bot.id).await?.map(|r| r.container_id);
    let swapped = swap.as_ref().is_some_and(|(_, new, _, _)| recorded.as_ref() == Some(new));
    if swapped {
        if let Some((old, _, _, old_volume)) = &swap {
            engine.remove_container(old).await?;
            if let Some(volume) = old_volume {
                engine.remove_volume(volume).await?;
            }
        }
        done.push("finished it: the old container was removed".to_owned());
    } else if let Some((old, new, was_running, _)) = &swap {
        engine.remove_container(new).await?;
        // The old one may have been set aside under the other name, or not yet.
        let name = container_name(&bot.id);
        let set_aside = engine.inspect_container(&format!("{name}-previous")).await?;
        if set_aside.is_some_and(|c| &c.id == old) {
            engine.rename_container(old, &name).await?;
        }
        if *was_running && engine.inspect_container(old).await?.is_some() {
            engine.start_container(old).await?;
        }
        if let Some(volume) = &next_volume {
            engine.remove_volume(volume).await?;
        }
        done.push("put the container back as it was".to_owned());
    } else if has(|s| matches!(s, Step::MakeNext { .. })) {
        engine.remove_container(&format!("{}-next", container_name(&bot.id))).await?;
        if let Some(volume) = &next_volume {
            engine.remove_volume(volume).await?;
        }
        done.push("removed the new container it had begun".to_owned());
    }

    // An import: keep what was written when it was whole, else put the data back.
    let written = has(|s| matches!(s, Step::Written));
    for step in &steps {
        match step {
            Step::SetAside { aside, mtime } => {
                // Before anything was written, only what was moved aside goes back.
                let writing = has(|s| matches!(s, Step::Writing));
                let (script, args) = match (written, writing) {
                    (true, _) => (volume_jobs::FINISH, [aside.as_str(), ""]),
                    (false, true) => (volume_jobs::PUT_BACK, [aside.as_str(), mtime.as_str()]),
                    (false, false) => (volume_jobs::UNDO_SET_ASIDE, [aside.as_str(), ""]),
                };
                run_helper(engine, store, bot, script, &args).await?;
                done.push(
                    if written { "finished it" } else { "put the data directory back" }.into(),
                );
            }
            Step::BackedUp { .. } if written => done.push("finished it".into()),
            Step::BackedUp { backup, mtime } => {
                let record = crate::lifecycle::recorded_container(store, bot).await?;
                let image = image_of(engine, &record.container_id).await?;
                let volume = bot.data_volume();
                let saved =
                    (record.container_id.as_str(), std::path::Path::new(backup), mtime.as_str());
                crate::data::restore_backup(engine, (&bot.id, &image, &volume), saved).await?;
                remove_if_present(Path::new(backup));
                done.push("put the data directory back".to_owned());
            }
            // The saved copy is what a merge cut off puts back: it goes only once no longer
            // needed (the import was whole, or it never finished saving).
            Step::SaveBackup { backup }
                if written || !has(|s| matches!(s, Step::BackedUp { .. })) =>
            {
                remove_if_present(Path::new(backup));
            }
            Step::Clear => done.push(
                "it was cut off while emptying the data directory: what was left is kept".into(),
            ),
            _ => {}
        }
    }

    // An export: only the file beside the chosen one was written.
    if remove_unfinished_export(&steps) {
        done.push("removed the unfinished archive".into());
    }

    if done.is_empty() {
        done.push("nothing needed doing".to_owned());
    }
    let message =
        format!("{} was interrupted; Berth {}.", capitalised(&record.kind), done.join(", "));
    tracing::info!(bot = %bot.id, operation = %record.id, %message, "repaired");
    Ok(message)
}

/// Removes what a cut-off export wrote beside the chosen file, which needs no bot; says
/// whether there was anything.
pub(crate) fn remove_unfinished_export(steps: &[Step]) -> bool {
    let partial = steps.iter().find_map(|s| match s {
        Step::ExportTo { partial } => Some(partial),
        _ => None,
    });
    partial.is_some_and(|p| remove_if_present(Path::new(p)))
}

/// The steps of a journal as written, leaving out any this build cannot read.
pub(crate) fn read_steps(steps: &[String]) -> Vec<Step> {
    steps.iter().filter_map(|s| serde_json::from_str(s).ok()).collect()
}

/// `import` as the start of a sentence: `Import`.
pub(crate) fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// A create is whole once the version of its container is recorded, its last step.
async fn create_finished(engine: &Engine, store: &Store, bot: &Bot) -> Result<bool> {
    let Some(record) = store.container(&bot.id).await? else { return Ok(false) };
    let versioned =
        store.versions(&bot.id).await?.iter().any(|v| v.container_id == record.container_id);
    Ok(versioned && engine.inspect_container(&record.container_id).await?.is_some())
}

/// Removes a create's container, by name as its id may never have been recorded, and forgets
/// it.
async fn undo_create(engine: &Engine, store: &Store, bot: &Bot) -> Result<()> {
    engine.remove_container(&container_name(&bot.id)).await?;
    if let Some(record) = store.container(&bot.id).await? {
        if engine.inspect_container(&record.container_id).await?.is_none() {
            store.container_clear(&bot.id).await?;
        }
    }
    Ok(())
}

/// Removes a file a cut-off operation left; says whether there was one.
fn remove_if_present(path: &Path) -> bool {
    match std::fs::remove_file(path) {
        Ok(()) => true,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => false,
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "could not remove a leftover file");
            false
        }
    }
}

async fn image_of(engine: &Engine, container: &str) -> Result<String> {
    let facts = engine.inspect_container(container).await?;
    facts.map(|f| f.image_id).ok_or_else(|| Error::Engine {
        action: "repairing an import".into(),
        message: format!("container `{container}` is gone"),
    })
}

async fn run_helper(
    engine: &Engine,
    store: &Store,
    bot: &Bot,
    script: &str,
    args: &[&str],
) -> Result<()> {
    let record = crate::lifecycle::recorded_container(store, bot).await?;
    let image = image_of(engine, &record.container_id).await?;
    let volume = bot.data_volume();
    volume_jobs::run(engine, (&bot.id, &image, &volume), script, args).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_read_back_as_written() {
        let step = Step::SwapIn {
            old: "c1".into(),
            new: "c2".into(),
            was_running: true,
            old_volume: Some("v".into()),
        };
        let json = serde_json::to_string(&step).expect("serializes");
        assert_eq!(
            json,
            r#"{"step":"swapIn","old":"c1","new":"c2","wasRunning":true,"oldVolume":"v"}"#
        );
        assert_eq!(serde_json::from_str::<Step>(&json).expect("reads"), step);
        assert_eq!(step.name(), "swapIn");
        assert_eq!(Step::Written.name(), "written");
    }
}
