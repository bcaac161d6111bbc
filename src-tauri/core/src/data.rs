//! A bot's data directory as a whole: exported to a gzip archive, imported from an archive
//! (merged into it, or replacing it), or reset to empty.
//!
//! Everything streams: an export goes from the engine through gzip to the file, an import
//! from the file to the engine, and neither is held in memory. An import reads the whole
//! archive once to check every entry before anything is written, then keeps what the data
//! directory held (set aside inside it, or saved to a file for a merge) until the archive is
//! in, so that a failure or a cancel puts it back exactly.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::Deserialize;
use unicode_segmentation::UnicodeSegmentation;

use crate::archive::{self, Format, Invalid};
use crate::bots::Bot;
use crate::engine::{volume_jobs, Engine};
use crate::error::{Error, Result};
use crate::journal::{self, Step};
use crate::lifecycle::{existing_container, recorded_container};
use crate::operations::{OperationHandle, Phase};
use crate::store::Store;
use crate::transfer::{self, io_error, remove_file};

/// The data directory as the engine's archive API names it: its content, entries relative.
const DATA_CONTENT: &str = "/data/.";

/// What an import does with what the data directory already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ImportMode {
    /// The archive's files overwrite theirs; other files stay.
    Merge,
    /// Afterwards the data directory holds exactly the archive's content.
    Replace,
}

/// How much of a bot's name an export's proposed file name keeps, in bytes, so that with
/// `-data-<time>.tar.gz` it stays within the 255 bytes file systems allow.
const NAME_BYTES_KEPT: usize = 200;

/// The name an export is offered under: `<bot>-data-<UTC time>.tar.gz`, with characters that
/// file systems refuse in a name replaced by `-`.
pub fn export_file_name(bot: &str, now: ::time::OffsetDateTime) -> String {
    let stamp = ::time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let when = now.to_offset(::time::UtcOffset::UTC).format(&stamp).unwrap_or_default();
    let safe: String = bot
        .chars()
        .map(|c| if c.is_control() || matches!(c, '/' | '\\' | ':') { '-' } else { c })
        .collect();
    // File systems take names of 255 bytes; 64 characters of a name can be many more. The
    // name is cut between characters as people see them, never inside one.
    let mut kept = 0;
    for (at, character) in safe.grapheme_indices(true) {
        if at + character.len() > NAME_BYTES_KEPT {
            break;
        }
        kept = at + character.len();
    }
    format!("{}-data-{when}.tar.gz", &safe[..kept])
}

/// The chosen path, with `.tar.gz` (or `.gz` after `.tar`) added when the user left the
/// extension out. A name made so that is taken is refused: the save dialog asked whether to
/// replace only the name as typed.
pub fn with_archive_extension(path: PathBuf) -> Result<PathBuf> {
    let place = |reason| Error::ExportPlace { path: path.display().to_string(), reason };
    if path.is_dir() {
        return Err(place("it is a folder; choose a file name in it"));
    }
    if !path.parent().is_some_and(Path::is_dir) {
        return Err(place("its folder does not exist"));
    }
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        return Ok(path);
    }
    let mut named = path.into_os_string();
    named.push(if name.ends_with(".tar") { ".gz" } else { ".tar.gz" });
    let named = PathBuf::from(named);
    if named.symlink_metadata().is_ok() {
        return Err(Error::ExportExists { path: named.display().to_string() });
    }
    Ok(named)
}

/// The file an export writes before renaming it into place, beside the chosen one.
fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // Within the 255 bytes of a name, with the dot and `.partial` around it.
    let mut end = name.len().min(255 - ".".len() - ".partial".len());
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name.truncate(end);
    path.with_file_name(format!(".{name}.partial"))
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// The archive's size in bytes.
    pub size: u64,
    /// The entries an import of it would refuse (links leading outside the data directory,
    /// fifos, ...), as an import lists them.
    pub refused: Vec<String>,
    /// Why an import could not read the archive at all, when it could not.
    pub unreadable: Option<String>,
}

/// Writes the bot's data directory to `path` as a gzip-compressed tar: entries relative to the
/// data directory, symbolic links as links, modes and times kept.
pub(crate) async fn export(
    engine: &Engine,
    store: &Store,
    bot: &Bot,
    path: &Path,
    op: &OperationHandle,
) -> Result<Exported> {
    let container = recorded_container(store, bot).await?;
    op.report(|p| p.phase = Some(Phase::Exporting));
    let partial = partial_path(path);
    journal::record(store, op, Step::ExportTo { partial: partial.display().to_string() }).await?;
    let target = partial.clone();
    let written =
        transfer::download(engine, &container.container_id, DATA_CONTENT, op, move |tar| {
            let file = std::fs::File::create(&target).map_err(io_error("creating", &target))?;
            let buffered = std::io::BufWriter::with_capacity(transfer::CHUNK, file);
            let mut gzip = flate2::write::GzEncoder::new(buffered, flate2::Compression::default());
            // Read by an import's rules on the way, so that what an import of this archive
            // would refuse is told now, not when the backup is needed.
            let mut tee = Tee { inner: tar, copy: &mut gzip, failed: None };
            let checked = archive::check(&mut tee, &archive::Kept::default());
            if let Some(error) = tee.failed.take() {
                return Err(io_error("writing", &target)(error));
            }
            let (refused, unreadable) = match checked {
                Ok(_) => (Vec::new(), None),
                Err(Invalid::Refused(list)) => {
                    (list.iter().map(ToString::to_string).collect(), None)
                }
                // The engine's own tar, which this reader could not follow: written as it
                // came, and said. (A cancel or a lost engine ends here too, then fails.)
                Err(other) => {
                    tracing::warn!(reason = %other, "the exported archive could not be checked");
                    std::io::copy(tee.inner, tee.copy).map_err(io_error("writing", &target))?;
                    (Vec::new(), Some(other.to_string()))
                }
            };
            let buffered = gzip.finish().map_err(io_error("writing", &target))?;
            let file =
                buffered.into_inner().map_err(|e| io_error("writing", &target)(e.into_error()))?;
            file.sync_all().map_err(io_error("writing", &target))?;
            let size = file.metadata().map(|m| m.len()).map_err(io_error("writing", &target))?;
            Ok(Exported { size, refused, unreadable })
        })
        .await;
    let finished = written.and_then(|exported| {
        std::fs::rename(&partial, path).map_err(io_error("saving", path))?;
        Ok(exported)
    });
    if finished.is_err() {
        remove_file(&partial);
    }
    finished
}

/// Imports the archive at `path` into the bot's data directory.
pub(crate) async fn import(
    engine: &Engine,
    store: &Store,
    bot: &Bot,
    (path, mode): (&Path, ImportMode),
    work_dir: &Path,
    op: &OperationHandle,
) -> Result<()> {
    let (_, container) = existing_container(engine, store, bot).await?;
    let shown = path.display().to_string();
    let invalid = |reason: Invalid| match reason {
        Invalid::Refused(list) => Error::ArchiveRefused {
            file: shown.clone(),
            entries: list.iter().map(ToString::to_string).collect(),
        },
        other => Error::ArchiveInvalid { file: shown.clone(), reason: other.to_string() },
    };
    let format = detect_file(path).await?.map_err(&invalid)?;
    let size = tokio::fs::metadata(path).await.map_err(io_error("reading", path))?.len();
    let volume = bot.data_volume();
    let helper_on = (bot.id.as_str(), container.image_id.as_str(), volume.as_str());

    // A merge keeps what the archive does not hold: its links and directories matter to the
    // entries, and all of it is saved first so that a failure can put it back.
    op.report(|p| p.phase = Some(Phase::Preparing));
    let backup = work_dir.join(format!("{}-{}.tar", bot.id, uuid::Uuid::new_v4().simple()));
    // Shared, not copied, by the check and the rebuild: it names every entry a merge keeps.
    let kept = Arc::new(match mode {
        ImportMode::Merge => {
            std::fs::create_dir_all(work_dir).map_err(io_error("creating", work_dir))?;
            let saving = Step::SaveBackup { backup: backup.display().to_string() };
            journal::record(store, op, saving).await?;
            match save_and_list(engine, &container.id, &backup, op).await {
                Ok(kept) => kept,
                Err(error) => {
                    remove_file(&backup);
                    return Err(error);
                }
            }
        }
        ImportMode::Replace => archive::Kept::default(),
    });

    let checked = async {
        op.report(|p| p.phase = Some(Phase::Checking));
        // The volume is surveyed, and the container's user's ids read, while the archive is
        // checked: none of it changes anything, and a refused archive is still what is told.
        let surveyed = async {
            let survey = volume_jobs::run(engine, helper_on, volume_jobs::SURVEY, &[]).await?;
            // Before anything changes: a user whose ids cannot be told fails the import here.
            let owner = match container_user(engine, &container.id).await? {
                Some(user) => Some(user_ids(engine, helper_on, &user).await?),
                None => None,
            };
            Ok::<_, Error>((survey, owner))
        };
        let checking = check_file(path, format, Arc::clone(&kept), size, op);
        let (contents, surveyed) = tokio::join!(checking, surveyed);
        let contents = contents?.map_err(&invalid)?;
        let (survey, owner) = surveyed?;
        let (free, mtime) = volume_jobs::parse_survey(&survey);
        match free {
            Some(available) if !archive::fits(contents, available) => {
                return Err(Error::NoSpace { needed: archive::room_needed(contents), available });
            }
            Some(_) => {}
            None => tracing::warn!(output = %survey.trim(), "free space unknown; importing anyway"),
        }
        op.check_cancelled()?;
        Ok((contents, mtime.unwrap_or_default(), owner))
    }
    .await;
    let (contents, mtime, owner) = match checked {
        Ok(checked) => checked,
        Err(error) => {
            remove_file(&backup);
            return Err(error);
        }
    };

    let aside = format!(".berth-import-{}", uuid::Uuid::new_v4().simple());
    let keeping = match mode {
        ImportMode::Replace => Step::SetAside { aside: aside.clone(), mtime: mtime.clone() },
        ImportMode::Merge => {
            Step::BackedUp { backup: backup.display().to_string(), mtime: mtime.clone() }
        }
    };
    journal::record(store, op, keeping).await?;
    if mode == ImportMode::Replace {
        op.report(|p| p.phase = Some(Phase::Preparing));
        if let Err(error) =
            volume_jobs::run(engine, helper_on, volume_jobs::SET_ASIDE, &[&aside]).await
        {
            // Cut short: move back whatever it had moved.
            let undone =
                volume_jobs::run(engine, helper_on, volume_jobs::UNDO_SET_ASIDE, &[&aside]).await;
            if let Err(failure) = undone {
                tracing::error!(bot = %bot.id, error = %failure, "could not move the data back");
            }
            return Err(error);
        }
    }
    journal::record(store, op, Step::Writing).await?;
    op.report(|p| p.phase = Some(Phase::Importing));
    let imported = async {
        let into = (Arc::clone(&kept), owner);
        upload_checked(engine, &container.id, (path, format), into, size, op).await?;
        op.check_cancelled()?;
        journal::record(store, op, Step::Written).await
    }
    .await;

    match (imported, mode) {
        (Ok(()), ImportMode::Replace) => {
            // Unpacking into the data directory changed its own time: give it the archive's.
            let root_mtime = contents.root_mtime.map(|t| t.to_string()).unwrap_or_default();
            let finish = [aside.as_str(), &root_mtime];
            if let Err(error) =
                volume_jobs::run(engine, helper_on, volume_jobs::FINISH, &finish).await
            {
                tracing::warn!(bot = %bot.id, %error, "could not remove the set-aside data");
            }
            Ok(())
        }
        (Ok(()), ImportMode::Merge) => {
            remove_file(&backup);
            Ok(())
        }
        (Err(error), _) => {
            tracing::info!(bot = %bot.id, %error, "import did not finish, putting the data back");
            op.report(|p| {
                p.phase = Some(Phase::PuttingBack);
                p.transfer = None;
            });
            let put_back = match mode {
                ImportMode::Replace => {
                    let put_back = [aside.as_str(), &mtime];
                    volume_jobs::run(engine, helper_on, volume_jobs::PUT_BACK, &put_back)
                        .await
                        .map(|_| ())
                }
                ImportMode::Merge => {
                    let saved = (container.id.as_str(), backup.as_path(), mtime.as_str());
                    restore_backup(engine, helper_on, saved).await
                }
            };
            if let Err(failure) = put_back {
                tracing::error!(bot = %bot.id, error = %failure, "could not put the data back");
                // Not "cancelled" or the first failure alone: the data directory is not as it
                // was, and the user must know where its old content is.
                let kept = match mode {
                    ImportMode::Replace => format!("/data/{aside}"),
                    ImportMode::Merge => backup.display().to_string(),
                };
                let (cause, failure) = (error.to_string(), failure.to_string());
                return Err(Error::PutBackFailed { cause, failure, kept });
            }
            remove_file(&backup);
            Err(error)
        }
    }
}

/// Empties the bot's data directory, whatever its files' owners and modes, with the container
/// running or stopped and without re-creating it.
pub(crate) async fn reset(
    engine: &Engine,
    store: &Store,
    bot: &Bot,
    op: &OperationHandle,
) -> Result<()> {
    let (_, container) = existing_container(engine, store, bot).await?;
    op.report(|p| p.phase = Some(Phase::Clearing));
    let volume = bot.data_volume();
    journal::record(store, op, Step::Clear).await?;
    volume_jobs::run(engine, (&bot.id, &container.image_id, &volume), volume_jobs::CLEAR, &[])
        .await?;
    tracing::info!(bot = %bot.id, "data directory reset");
    Ok(())
}

/// Reads the first bytes of the file to tell its format.
async fn detect_file(path: &Path) -> Result<std::result::Result<Format, Invalid>> {
    let path = path.to_owned();
    blocking(move || {
        // Only a regular file ends: a pipe or a device would be read for ever, uncancellable.
        let not_one = |reason: &str| Error::ArchiveInvalid {
            file: path.display().to_string(),
            reason: reason.to_owned(),
        };
        match std::fs::metadata(&path) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(not_one("there is no such file"));
            }
            Err(error) => return Err(io_error("reading", &path)(error)),
            Ok(meta) if meta.is_dir() => return Err(not_one("it is a folder")),
            Ok(meta) if !meta.is_file() => {
                return Err(not_one("it is not a regular file (a pipe, a socket or a device)"));
            }
            Ok(_) => {}
        }
        let mut file = std::fs::File::open(&path).map_err(io_error("opening", &path))?;
        let mut head = Vec::with_capacity(512);
        (&mut file).take(512).read_to_end(&mut head).map_err(io_error("reading", &path))?;
        Ok(archive::detect(&head))
    })
    .await
}

/// Reads the whole archive, decompressing it when it is gzip, and checks every entry.
async fn check_file(
    path: &Path,
    format: Format,
    kept: Arc<archive::Kept>,
    size: u64,
    op: &OperationHandle,
) -> Result<std::result::Result<archive::Contents, Invalid>> {
    let read = Arc::new(AtomicU64::new(0));
    let (source, counter) = (path.to_owned(), Arc::clone(&read));
    let cancel = op.cancel_token().clone();
    let check = blocking(move || {
        let file = std::fs::File::open(&source).map_err(io_error("opening", &source))?;
        let counted = Counted { inner: file, count: &counter, cancel };
        let reader = std::io::BufReader::with_capacity(transfer::CHUNK, counted);
        Ok(archive::check(archive::decoded(format, reader), &kept))
    });
    let checked = transfer::with_transfer(check, &read, Some(size), op).await?;
    op.check_cancelled()?;
    Ok(checked)
}

/// A reader that counts what it reads and stops with an error once cancelled.
struct Counted<'a, R> {
    inner: R,
    count: &'a AtomicU64,
    cancel: tokio_util::sync::CancellationToken,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.cancel.is_cancelled() {
            return Err(std::io::Error::other("cancelled"));
        }
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Streams into the container's data directory the archive as this reader made of it, each
/// entry written anew and checked again on the way (see [`archive::rebuild`]): the engine
/// unpacks what was checked, not its own reading of the file.
///
/// With an `owner` (the container's user, when not root), the imported entries are given to
/// it, and only they: in a merge, the files the archive does not hold keep theirs.
async fn upload_checked(
    engine: &Engine,
    container: &str,
    (path, format): (&Path, Format),
    (kept, owner): (Arc<archive::Kept>, Option<archive::Owner>),
    size: u64,
    op: &OperationHandle,
) -> Result<()> {
    let dest = crate::engine::containers::DATA_PATH;
    let (source, cancel) = (path.to_owned(), op.cancel_token().clone());
    let uploaded = transfer::upload_with(engine, (container, dest), size, op, move |out, count| {
        let file = std::fs::File::open(&source)
            .map_err(|error| format!("the file cannot be opened: {error}"))?;
        let counted = Counted { inner: file, count, cancel: cancel.clone() };
        let reader = std::io::BufReader::with_capacity(transfer::CHUNK, counted);
        let into = archive::Destination { kept: &kept, owner };
        let rebuilt = archive::rebuild(archive::decoded(format, reader), into, out);
        match rebuilt {
            // The upload stopped taking bytes, or was cancelled: its own error says why.
            Err(_) => Ok(()),
            Ok(_) if cancel.is_cancelled() => Ok(()),
            Ok(Ok(())) => Ok(()),
            Ok(Err(refused @ Invalid::Refused(_))) => {
                Err(format!("it changed since it was checked: {refused}"))
            }
            Ok(Err(other)) => Err(other.to_string()),
        }
    })
    .await?;
    uploaded.map_err(|reason| Error::ArchiveInvalid { file: path.display().to_string(), reason })
}

/// Saves the data directory's content to `backup` and lists its symbolic links, directories
/// and other entries, both from one read of it.
async fn save_and_list(
    engine: &Engine,
    container: &str,
    backup: &Path,
    op: &OperationHandle,
) -> Result<archive::Kept> {
    let target = backup.to_owned();
    transfer::download(engine, container, DATA_CONTENT, op, move |tar| {
        let file = std::fs::File::create(&target).map_err(io_error("creating", &target))?;
        let tee = Tee { inner: tar, copy: std::io::BufWriter::new(file), failed: None };
        let mut archive = tar::Archive::new(tee);
        let mut kept = archive::Kept::default();
        let listed = (|| {
            for entry in archive.entries()? {
                let entry = entry?;
                let kind = entry.header().entry_type();
                // Fifos and devices are none of these: a hard link to one would make another.
                let list = match kind {
                    _ if kind.is_symlink() => &mut kept.links,
                    _ if kind.is_dir() => &mut kept.dirs,
                    _ if kind.is_file() || kind.is_hard_link() => &mut kept.files,
                    _ => continue,
                };
                list.insert(archive::relative_name(&entry.path_bytes()));
            }
            Ok::<_, std::io::Error>(())
        })();
        // Whatever follows the last entry belongs in the copy too.
        let mut tee = archive.into_inner();
        let drained = listed.and_then(|()| std::io::copy(&mut tee, &mut std::io::sink()));
        // A full disk shows as a failed read through the copy: it is told as what it is.
        if let Some(error) = tee.failed.take() {
            return Err(io_error("writing", &target)(error));
        }
        drained.map_err(io_error("reading the data of", &target))?;
        let file =
            tee.copy.into_inner().map_err(|e| io_error("writing", &target)(e.into_error()))?;
        file.sync_all().map_err(io_error("writing", &target))?;
        Ok(kept)
    })
    .await
}

/// A reader that copies everything read through it to `copy`, keeping a failure to write
/// apart from one to read.
struct Tee<'a, W: Write> {
    inner: &'a mut transfer::ChunkReader,
    copy: W,
    failed: Option<std::io::Error>,
}

impl<W: Write> Read for Tee<'_, W> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Err(error) = self.copy.write_all(&buf[..n]) {
            let kind = error.kind();
            self.failed = Some(error);
            return Err(std::io::Error::new(kind, "the copy could not be written"));
        }
        Ok(n)
    }
}

/// Puts a merge's saved data directory back: empties it, unpacks the saved copy, and gives
/// the data directory its time `mtime` again.
pub(crate) async fn restore_backup(
    engine: &Engine,
    helper_on: (&str, &str, &str),
    (container, backup, mtime): (&str, &Path, &str),
) -> Result<()> {
    volume_jobs::run(engine, helper_on, volume_jobs::CLEAR, &[]).await?;
    let file = tokio::fs::File::open(backup).await.map_err(io_error("opening", backup))?;
    let body = tokio_util::io::ReaderStream::with_capacity(file, transfer::CHUNK);
    engine.upload(container, crate::engine::containers::DATA_PATH, body).await?;
    volume_jobs::run(engine, helper_on, volume_jobs::FINISH, &["", mtime]).await.map(|_| ())
}

/// Gives a new data directory to the container's user when that is not root, so that the bot
/// can write in it: the engine makes a new volume root's.
pub(crate) async fn give_to_container_user(
    engine: &Engine,
    job_on: (&str, &str, &str),
    container: &str,
) -> Result<()> {
    let Some(user) = container_user(engine, container).await? else { return Ok(()) };
    let owner = user_ids(engine, job_on, &user).await?;
    let ids = format!("{}:{}", owner.uid, owner.gid);
    volume_jobs::run(engine, job_on, volume_jobs::GIVE_DATA_DIR, &[&ids]).await.map(|_| ())
}

/// The user and group ids of the container's `user` (a name or an id, with an optional
/// group), as its own image's `/etc/passwd` and `/etc/group` say.
async fn user_ids(
    engine: &Engine,
    job_on: (&str, &str, &str),
    user: &str,
) -> Result<archive::Owner> {
    let printed = volume_jobs::run(engine, job_on, volume_jobs::USER_IDS, &[user]).await?;
    let ids: Vec<u64> = printed.split_whitespace().filter_map(|n| n.parse().ok()).collect();
    match ids.as_slice() {
        [uid, gid] => Ok(archive::Owner { uid: *uid, gid: *gid }),
        _ => Err(Error::Engine {
            action: format!("finding the ids of the container's user `{user}`"),
            message: printed.trim().to_owned(),
        }),
    }
}

/// The user the container runs as when it is not root: imported files are given to it.
async fn container_user(engine: &Engine, container: &str) -> Result<Option<String>> {
    let inspect = engine
        .docker()
        .inspect_container(container, None)
        .await
        .map_err(engine.error(format!("inspecting container `{container}`")))?;
    let user = inspect.config.and_then(|c| c.user).unwrap_or_default();
    let root = user.is_empty() || user == "root" || user == "0" || user.starts_with("0:");
    Ok((!root).then_some(user))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|_| Error::ShuttingDown)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_are_named_after_the_bot_and_the_utc_time() {
        let when = ::time::macros::datetime!(2026-12-03 18:04:05 +02:00);
        assert_eq!(export_file_name("Scout", when), "Scout-data-20261203T160405Z.tar.gz");
        assert_eq!(export_file_name("a/b:c", when), "a-b-c-data-20261203T160405Z.tar.gz");
        // 64 characters, each of seven code points and 25 bytes: cut after the eighth whole.
        const FAMILY: &str = "👨‍👩‍👧‍👦";
        let long = export_file_name(&FAMILY.repeat(64), when);
        assert_eq!(long, format!("{}-data-20261203T160405Z.tar.gz", FAMILY.repeat(8)));
    }

    #[test]
    fn the_extension_is_added_when_left_out() {
        let dir = tempfile::tempdir().expect("temp dir");
        let added = with_archive_extension(dir.path().join("backup")).expect("free");
        assert_eq!(added, dir.path().join("backup.tar.gz"));
        let tar = with_archive_extension(dir.path().join("b.tar")).expect("free");
        assert_eq!(tar, dir.path().join("b.tar.gz"));
        for kept in ["b.tar.gz", "b.TGZ", "b.tgz"] {
            let same = with_archive_extension(dir.path().join(kept)).expect("as typed");
            assert_eq!(same, dir.path().join(kept));
        }
    }

    #[test]
    fn a_folder_or_a_missing_folder_is_no_place_for_an_export() {
        let dir = tempfile::tempdir().expect("temp dir");
        let folder = with_archive_extension(dir.path().to_owned()).expect_err("a folder");
        assert_eq!(folder.kind(), "exportPlace");
        assert!(folder.to_string().contains("it is a folder"), "{folder}");
        let nowhere = with_archive_extension(dir.path().join("gone/b.tar.gz")).expect_err("none");
        assert!(nowhere.to_string().contains("its folder does not exist"), "{nowhere}");
    }

    #[test]
    fn an_added_extension_never_replaces_a_file_unasked() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("backup.tar.gz"), b"keep me").expect("written");
        let refused = with_archive_extension(dir.path().join("backup"));
        assert_eq!(refused.expect_err("taken").kind(), "exportExists");
        let typed = with_archive_extension(dir.path().join("backup.tar.gz"));
        assert!(typed.is_ok(), "typed in full, the dialog asked already");
        assert_eq!(partial_path(Path::new("/x/b.tar.gz")), PathBuf::from("/x/.b.tar.gz.partial"));
        let long = format!("{}.tar.gz", "é".repeat(120));
        let partial = partial_path(&Path::new("/x").join(&long));
        let name = partial.file_name().expect("a name").to_string_lossy().into_owned();
        assert!(name.len() <= 255 && name.ends_with(".partial"), "{} bytes", name.len());
    }
}
