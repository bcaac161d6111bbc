//! Snapshots: capturing a bot's container as it is, going back to it exactly, and deleting
//! what is no longer needed.
//!
//! A snapshot is two things taken at one instant, while the container is paused: its
//! filesystem, committed to an engine image tagged `berth-snapshot/<bot>:<snapshot>`, and its
//! data directory, saved as a tar file beside the store with its SHA-256. A restore builds a
//! new container from the image and a new data volume from the file beside the old ones, and
//! swaps them in only when both are whole, so that a failed restore leaves the bot as it was.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, LazyLock};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::bots::{Bot, Name};
use crate::engine::containers::{container_name, DataMount, RunState, DATA_PATH};
use crate::engine::images::{snapshot_repository, LABEL_SNAPSHOT};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::journal::{self, Step};
use crate::lifecycle::{existing_container, roll_back, swap_in, Swapped};
use crate::operations::{OperationHandle, Phase};
use crate::store::{ContainerRecord, Replacement, Snapshot, Store, Version, VersionReason};
use crate::time::now_ms;
use crate::transfer::{self, hex, io_error, remove_file};

/// A committed image with this many layers or more is flattened to one. The engine refuses
/// images deeper than 125 layers, and every snapshot of a restored container adds one.
pub const FLATTEN_AT_LAYERS: usize = 100;

/// A snapshot as the Container tab lists it: in tree order, with its depth in the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotEntry {
    #[serde(flatten)]
    pub snapshot: Snapshot,
    /// 0 for a snapshot without a parent, 1 for its children, and so on.
    pub depth: usize,
    /// The container's state descends from this snapshot.
    pub current: bool,
    /// Why it cannot be restored: its image or data file has gone.
    pub broken: Option<String>,
}

/// Orders snapshots as a tree: each parent before its children, siblings oldest first. A
/// snapshot whose parent is not among them is a root.
pub fn tree(snapshots: Vec<Snapshot>, current: Option<&str>) -> Vec<SnapshotEntry> {
    let ids: HashSet<String> = snapshots.iter().map(|s| s.id.clone()).collect();
    let mut children: HashMap<Option<String>, Vec<Snapshot>> = HashMap::new();
    for snapshot in snapshots {
        let parent = snapshot.parent_id.clone().filter(|p| ids.contains(p));
        children.entry(parent).or_default().push(snapshot);
    }
    for siblings in children.values_mut() {
        siblings.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    }

    let mut ordered = Vec::with_capacity(ids.len());
    // Depth first, without recursion: a lineage may be thousands deep.
    let mut stack: Vec<(Snapshot, usize)> =
        children.remove(&None).unwrap_or_default().into_iter().rev().map(|s| (s, 0)).collect();
    while let Some((snapshot, depth)) = stack.pop() {
        if let Some(kids) = children.remove(&Some(snapshot.id.clone())) {
            stack.extend(kids.into_iter().rev().map(|s| (s, depth + 1)));
        }
        let current = current == Some(snapshot.id.as_str());
        ordered.push(SnapshotEntry { snapshot, depth, current, broken: None });
    }
    ordered
}

/// The bot's snapshots as a tree, each checked against the engine and the disk. While the
/// engine is away, images cannot be checked and count as present.
pub(crate) async fn list(
    engine: Option<&Engine>,
    store: &Store,
    dir: &Path,
    bot: &Bot,
) -> Result<Vec<SnapshotEntry>> {
    let snapshots = store.snapshots(&bot.id).await?;
    let current = store.container(&bot.id).await?.and_then(|c| c.snapshot_id);
    let mut entries = tree(snapshots, current.as_deref());
    // One listing of the bot's images, not an inspect per snapshot: the list is read again
    // every few seconds.
    let held: Option<HashSet<String>> = match engine {
        Some(engine) => {
            Some(engine.snapshot_images(&bot.id).await?.into_iter().map(|i| i.id).collect())
        }
        None => None,
    };
    for entry in &mut entries {
        let image_held = held.as_ref().map(|ids| ids.contains(&entry.snapshot.image_id));
        entry.broken = broken(image_held, dir, &entry.snapshot).await;
    }
    Ok(entries)
}

/// Why the snapshot cannot be restored, if it cannot; `image_held` is unknown (`None`) while
/// the engine is away.
async fn broken(image_held: Option<bool>, dir: &Path, snapshot: &Snapshot) -> Option<String> {
    if image_held == Some(false) {
        return Some(format!("its image `{}` is no longer in the engine", snapshot.image_tag));
    }
    let path = dir.join(&snapshot.data_file);
    let found = tokio::fs::metadata(&path).await;
    match found {
        Err(_) => Some(format!("its data file `{}` is missing", path.display())),
        Ok(meta) if meta.len() != snapshot.data_size as u64 => Some(format!(
            "its data file `{}` has {} bytes instead of {}",
            path.display(),
            meta.len(),
            snapshot.data_size
        )),
        Ok(_) => None,
    }
}

/// Captures the bot's container as snapshot `name`. A running container is paused while its
/// filesystem and data are saved and resumed afterwards; a paused or stopped one stays so.
pub(crate) async fn capture(
    engine: &Engine,
    store: &Store,
    dir: &Path,
    bot: &Bot,
    name: &Name,
    op: &OperationHandle,
) -> Result<Snapshot> {
    if !store.snapshot_name_free(&bot.id, name).await? {
        return Err(taken(bot, name));
    }
    let (record, container) = existing_container(engine, store, bot).await?;
    let base_size = engine.image_facts(&container.image_id).await?.map_or(0, |f| f.size);

    let id = uuid::Uuid::new_v4().simple().to_string();
    let repository = snapshot_repository(&bot.id);
    let data_file = format!("{}/{id}.tar", bot.id);
    let path = dir.join(&data_file);
    create_dir(path.parent().unwrap_or(dir))?;
    let partial = path.with_extension("tar.partial");

    // Taken before the pause, so that waiting for a collection never lengthens it.
    let lock = snapshot_image_lock(&bot.id);
    let _held = lock.lock().await;
    op.report(|p| p.phase = Some(Phase::SavingFiles));
    let pause = container.state == RunState::Running;
    if pause {
        journal::record(store, op, Step::Pause { container: container.id.clone() }).await?;
        engine.pause_container(&container.id).await?;
    }
    let mut labels = engine.labels_for(&bot.id);
    labels.insert(LABEL_SNAPSHOT.to_owned(), id.clone());
    let captured = async {
        let image = engine.commit(&container.id, (&repository, &id), labels).await?;
        journal::record(store, op, Step::Committed { image: image.clone() }).await?;
        let saving = Step::SaveData { partial: partial.display().to_string() };
        journal::record(store, op, saving).await?;
        op.report(|p| p.phase = Some(Phase::SavingData));
        let data = save_data(engine, &container.id, &partial, op).await;
        Ok::<_, Error>((image, data))
    }
    .await;
    let resumed = if pause { resume(engine, &container.id).await } else { Ok(()) };

    let (mut image, data) = match captured {
        Ok((image, data)) => (Some(image), data),
        Err(error) => (None, Err(error)),
    };
    let finished = async {
        resumed?;
        let (data_size, data_sha256) = data?;
        let committed = image.clone().unwrap_or_default();
        let facts = engine.image_facts(&committed).await?.ok_or_else(|| Error::Engine {
            action: format!("saving snapshot `{}`", name.as_str()),
            message: "the committed image is gone".into(),
        })?;
        let files_size = (facts.size - base_size).max(0);
        let mut image_id = facts.id;
        if facts.layers >= FLATTEN_AT_LAYERS {
            op.report(|p| p.phase = Some(Phase::Flattening));
            image_id = engine.flatten(&bot.id, &committed, (&repository, &id)).await?;
            image = Some(image_id.clone());
            engine.remove_image(&committed).await?;
        }
        op.check_cancelled()?;
        std::fs::rename(&partial, &path).map_err(io_error("saving snapshot data", &path))?;
        let snapshot = Snapshot {
            id: id.clone(),
            bot_id: bot.id.clone(),
            name: name.as_str().to_owned(),
            parent_id: record.snapshot_id.clone(),
            created_at: now_ms(),
            image_id,
            image_tag: format!("{repository}:{id}"),
            base_image: record.image.clone(),
            base_digest: record.image_digest.clone(),
            base_image_id: record.base_image_id.clone(),
            files_size,
            data_file,
            data_size: i64::try_from(data_size).unwrap_or(i64::MAX),
            data_sha256,
        };
        store.snapshot_insert(&bot.name, name, snapshot.clone()).await?;
        Ok(snapshot)
    }
    .await;

    if let Err(error) = &finished {
        tracing::info!(bot = %bot.id, %error, "snapshot did not finish, removing what it made");
        remove_file(&partial);
        remove_file(&path);
        if let Some(image) = image {
            if let Err(error) = engine.remove_image(&image).await {
                tracing::warn!(bot = %bot.id, %error, "could not remove the snapshot's image");
            }
        }
    } else {
        tracing::info!(bot = %bot.id, snapshot = %id, "snapshot taken");
    }
    finished
}

/// Resumes a container paused for a capture. One that was stopped or removed meanwhile (a
/// `docker kill` from outside) needs no resuming: what was captured while it was paused
/// stands.
async fn resume(engine: &Engine, container: &str) -> Result<()> {
    let Err(error) = engine.unpause_container(container).await else { return Ok(()) };
    let state = engine.inspect_container(container).await?.map(|facts| facts.state);
    if state != Some(RunState::Paused) {
        tracing::info!(%container, ?state, "stopped during the capture; nothing to resume");
        return Ok(());
    }
    Err(error)
}

fn taken(bot: &Bot, name: &Name) -> Error {
    Error::SnapshotNameTaken { bot: bot.name.clone(), name: name.as_str().to_owned() }
}

/// Streams the container's data directory into `path`, returning its size and SHA-256. The
/// file is hashed and written on a blocking thread while the next bytes arrive.
async fn save_data(
    engine: &Engine,
    container: &str,
    path: &Path,
    op: &OperationHandle,
) -> Result<(u64, String)> {
    let target = path.to_owned();
    transfer::download(engine, container, DATA_PATH, op, move |tar| {
        let file = std::fs::File::create(&target).map_err(io_error("creating", &target))?;
        let mut file = std::io::BufWriter::with_capacity(transfer::CHUNK, file);
        let mut hash = Sha256::new();
        let mut size = 0u64;
        let mut buffer = vec![0; transfer::CHUNK];
        loop {
            let read = tar.read(&mut buffer).map_err(io_error("reading the data for", &target))?;
            if read == 0 {
                break;
            }
            hash.update(&buffer[..read]);
            file.write_all(&buffer[..read]).map_err(io_error("writing", &target))?;
            size += read as u64;
        }
        let file = file.into_inner().map_err(|e| io_error("writing", &target)(e.into_error()))?;
        file.sync_all().map_err(io_error("writing", &target))?;
        Ok((size, hex(&hash.finalize())))
    })
    .await
}

/// Returns the bot's container to snapshot `snapshot`: its filesystem, its data directory, and
/// the running, paused or stopped state it has now. Records and returns the new version.
pub(crate) async fn restore(
    engine: &Engine,
    store: &Store,
    dir: &Path,
    bot: &Bot,
    snapshot: &Snapshot,
    grace: i32,
    op: &OperationHandle,
) -> Result<Version> {
    let (record, current) = existing_container(engine, store, bot).await?;
    let image_held = engine.image_facts(&snapshot.image_id).await?.is_some();
    if let Some(reason) = broken(Some(image_held), dir, snapshot).await {
        return Err(Error::SnapshotBroken { name: snapshot.name.clone(), reason });
    }

    op.report(|p| p.phase = Some(Phase::Creating));
    let name = container_name(&bot.id);
    let volume =
        format!("berth-data-{}-{}", bot.id, &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let mount = DataMount { container: format!("{name}-next"), volume, restored: true };
    engine.remove_container(&mount.container).await?;

    let mut swapped = Swapped::default();
    let was_running = matches!(current.state, RunState::Running | RunState::Paused);
    let pair_old = record.container_id.as_str();
    let mut next = None;
    let result = async {
        journal::record(store, op, Step::MakeNext { volume: Some(mount.volume.clone()) }).await?;
        engine.ensure_volume(&bot.id, &mount.volume).await?;
        let id = engine.create_container(&bot.id, &snapshot.image_id, &mount).await?;
        next = Some(id.clone());
        op.report(|p| p.phase = Some(Phase::RestoringData));
        restore_data(engine, &id, &dir.join(&snapshot.data_file), snapshot, op).await?;
        op.check_cancelled()?;

        op.report(|p| p.phase = Some(Phase::Starting));
        let pair = (pair_old, id.as_str());
        let step = Step::SwapIn {
            old: pair_old.to_owned(),
            new: id.clone(),
            was_running,
            old_volume: Some(bot.data_volume()),
        };
        journal::record(store, op, step).await?;
        swap_in(engine, bot, &snapshot.image_tag, pair, (grace, was_running), &mut swapped).await?;
        if current.state == RunState::Paused {
            engine.pause_container(&id).await?;
        }
        let restored = ContainerRecord {
            container_id: id.clone(),
            image: snapshot.base_image.clone(),
            image_digest: snapshot.base_digest.clone(),
            created_at: now_ms(),
            snapshot_id: Some(snapshot.id.clone()),
            base_image_id: snapshot.base_image_id.clone(),
        };
        let replacement = Replacement {
            snapshot: Some((snapshot.id.clone(), snapshot.name.clone())),
            data_volume: Some(mount.volume.clone()),
        };
        let version = store
            .container_replace(&bot.id, restored, VersionReason::Restored, replacement)
            .await?;
        journal::recorded_whole(store, op, &bot.id).await;
        Ok(version)
    }
    .await;

    let version = match result {
        Ok(version) => version,
        Err(error) => {
            tracing::info!(bot = %bot.id, %error, "restore did not finish, putting the bot back");
            match &next {
                Some(id) => roll_back(engine, bot, (pair_old, id), was_running, swapped).await,
                None => log_failure(bot, engine.remove_container(&mount.container).await),
            }
            log_failure(bot, engine.remove_volume(&mount.volume).await);
            return Err(error);
        }
    };

    // The bot is whole: what it had before goes, without holding up the operation's end.
    // Should Berth stop first, the set-aside container is removed by name on the next
    // update, restore or delete.
    let (engine, store, old) = (engine.clone(), store.clone(), bot.clone());
    let old_container = record.container_id.clone();
    tokio::spawn(async move {
        log_failure(&old, engine.remove_container(&old_container).await);
        log_failure(&old, engine.remove_volume(&old.data_volume()).await);
        collect_images(&engine, &store, &old).await;
    });
    tracing::info!(bot = %bot.id, snapshot = %snapshot.id, version = version.number, "restored");
    Ok(version)
}

/// Streams the data file into the new container's data directory, checking its SHA-256 on
/// the way: a file that changed on disk fails the restore before anything is swapped in.
async fn restore_data(
    engine: &Engine,
    container: &str,
    path: &Path,
    snapshot: &Snapshot,
    op: &OperationHandle,
) -> Result<()> {
    let total = u64::try_from(snapshot.data_size).unwrap_or_default();
    let expected = Some(snapshot.data_sha256.clone());
    let uploaded = transfer::upload(engine, (container, "/"), path, total, expected, op).await?;
    uploaded.map_err(|why| Error::SnapshotBroken {
        name: snapshot.name.clone(),
        reason: format!("its data file `{}`: {why}", path.display()),
    })
}

/// Deletes a snapshot: its record (its children and the container re-parented to its
/// parent), its data file, and its image unless a container or another snapshot's image still
/// builds on it, in which case the image goes with the last of those.
pub(crate) async fn delete(
    engine: &Engine,
    store: &Store,
    dir: &Path,
    snapshot: &Snapshot,
) -> Result<()> {
    store.snapshot_delete(&snapshot.id).await?;
    remove_file(&dir.join(&snapshot.data_file));
    let bot = store.bot(&snapshot.bot_id).await?;
    collect_images(engine, store, &bot).await;
    tracing::info!(bot = %snapshot.bot_id, snapshot = %snapshot.id, "snapshot deleted");
    Ok(())
}

/// Deletes every snapshot of the bot, for a bot that is being deleted.
pub(crate) async fn delete_all(
    engine: &Engine,
    store: &Store,
    dir: &Path,
    bot: &Bot,
) -> Result<()> {
    for snapshot in store.snapshots(&bot.id).await? {
        store.snapshot_delete(&snapshot.id).await?;
        remove_file(&dir.join(&snapshot.data_file));
    }
    collect_images(engine, store, bot).await;
    let bot_dir = dir.join(&bot.id);
    if let Err(error) = std::fs::remove_dir_all(&bot_dir) {
        if error.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(dir = %bot_dir.display(), %error, "could not remove snapshot files");
        }
    }
    Ok(())
}

/// Removes the bot's snapshot images that no recorded snapshot holds, as far as the engine
/// lets: an image a container or a child image still uses stays until they go. Failures are
/// logged; the next collection tries again.
///
/// Only Berth's own tags are removed: an image the user tagged too, or committed from a
/// restored container (it inherits the labels), keeps the user's tag and stays.
pub(crate) async fn collect_images(engine: &Engine, store: &Store, bot: &Bot) {
    let lock = snapshot_image_lock(&bot.id);
    let _held = lock.lock().await;
    let ours = format!("{}:", snapshot_repository(&bot.id));
    let collected = async {
        let kept: HashSet<String> =
            store.snapshots(&bot.id).await?.into_iter().map(|s| s.id).collect();
        for image in engine.snapshot_images(&bot.id).await? {
            if image.snapshot.as_ref().is_some_and(|s| kept.contains(s)) {
                continue;
            }
            // By tag: an image other images build on loses its tag and goes with them.
            let (names, theirs): (Vec<String>, Vec<String>) =
                image.tags.into_iter().partition(|t| t.starts_with(&ours));
            let names = match (names.is_empty(), theirs.is_empty()) {
                (true, true) => vec![image.id.clone()],
                _ => names,
            };
            if !theirs.is_empty() {
                tracing::debug!(image = %image.id, ?theirs, "kept: tagged outside Berth");
            }
            for name in names {
                if !engine.remove_image(&name).await? {
                    tracing::debug!(image = %name, "image still in use, kept for now");
                }
            }
        }
        Ok::<_, Error>(())
    };
    if let Err(error) = collected.await {
        tracing::warn!(bot = %bot.id, %error, "could not remove unused snapshot images");
    }
}

/// The lock that keeps a bot's image collection out of a capture's window between committing
/// its image and recording it: in that window the image belongs to no recorded snapshot, and
/// a collection (after a restore, it runs once the operation has ended) would remove it.
fn snapshot_image_lock(bot: &str) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: LazyLock<std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> =
        LazyLock::new(Default::default);
    let mut locks = LOCKS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    locks.entry(bot.to_owned()).or_default().clone()
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io_error("creating the snapshots directory", dir))
}

fn log_failure(bot: &Bot, result: Result<()>) {
    if let Err(error) = result {
        tracing::warn!(bot = %bot.id, %error, "could not clean up after a restore");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(id: &str, parent: Option<&str>, created_at: i64) -> Snapshot {
        Snapshot {
            id: id.into(),
            bot_id: "b".into(),
            name: id.into(),
            parent_id: parent.map(Into::into),
            created_at,
            image_id: format!("sha256:{id}"),
            image_tag: format!("berth-snapshot/b:{id}"),
            base_image: "busybox".into(),
            base_digest: None,
            base_image_id: None,
            files_size: 0,
            data_file: format!("b/{id}.tar"),
            data_size: 0,
            data_sha256: String::new(),
        }
    }

    fn shape(entries: &[SnapshotEntry]) -> Vec<(String, usize)> {
        entries.iter().map(|e| (e.snapshot.id.clone(), e.depth)).collect()
    }

    #[test]
    fn tree_puts_children_under_parents_oldest_first() {
        let snapshots = vec![
            snapshot("c", Some("a"), 3),
            snapshot("a", None, 1),
            snapshot("b", Some("a"), 2),
            snapshot("d", Some("b"), 4),
            snapshot("e", None, 5),
        ];
        let entries = tree(snapshots, Some("d"));
        let expected = [("a", 0), ("b", 1), ("d", 2), ("c", 1), ("e", 0)];
        assert_eq!(shape(&entries), expected.map(|(id, depth)| (id.to_owned(), depth)));
        let current: Vec<_> =
            entries.iter().filter(|e| e.current).map(|e| &e.snapshot.id).collect();
        assert_eq!(current, ["d"]);
    }

    #[test]
    fn a_snapshot_whose_parent_is_gone_is_a_root() {
        let entries = tree(vec![snapshot("b", Some("gone"), 2), snapshot("a", None, 1)], None);
        assert_eq!(shape(&entries), [("a".to_owned(), 0), ("b".to_owned(), 0)]);
    }

    #[test]
    fn a_deep_lineage_does_not_recurse() {
        let mut snapshots = vec![snapshot("0", None, 0)];
        for n in 1..10_000 {
            let parent = (n - 1).to_string();
            snapshots.push(snapshot(&n.to_string(), Some(&parent), n));
        }
        let entries = tree(snapshots, None);
        assert_eq!(entries.len(), 10_000);
        assert_eq!(entries.last().map(|e| e.depth), Some(9_999));
    }
}
