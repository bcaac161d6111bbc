//! The SQLite file that holds bots, their containers and the record of operations.
//!
//! One connection behind a mutex; every query runs on tokio's blocking pool so that no caller
//! waits on the disk. Migrations are embedded and tracked in SQLite's `user_version`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{params, Connection, ErrorCode, OptionalExtension};
use rusqlite_migration::{Migrations, M};
use serde::Serialize;

use crate::bots::{Bot, BotName, ImageRef, Name};
use crate::error::{Error, Result};
use crate::time::now_ms;

const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_foundation.sql"),
    include_str!("migrations/0002_versions.sql"),
    include_str!("migrations/0003_snapshots.sql"),
    include_str!("migrations/0004_journal.sql"),
    include_str!("migrations/0005_base_image.sql"),
];

/// The container Berth created for a bot, as recorded when it was created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerRecord {
    pub container_id: String,
    pub image: String,
    pub image_digest: Option<String>,
    pub created_at: i64,
    /// The snapshot the container's state descends from; none for a fresh container.
    pub snapshot_id: Option<String>,
    /// The engine id of the image `image` named when the container's filesystem began: the
    /// container's own image, or for a restored one that of the snapshot's base. `None` in
    /// records from before it was kept.
    pub base_image_id: Option<String>,
}

/// Why a container was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum VersionReason {
    /// The bot's first container.
    Created,
    /// A Create after the earlier container was deleted.
    Recreated,
    /// The image's tag moved, or the user named another image, and the container followed.
    ImageUpdated,
    /// A snapshot was restored.
    Restored,
}

impl VersionReason {
    fn as_str(self) -> &'static str {
        match self {
            VersionReason::Created => "created",
            VersionReason::Recreated => "recreated",
            VersionReason::ImageUpdated => "imageUpdated",
            VersionReason::Restored => "restored",
        }
    }

    fn parse(stored: &str) -> Option<VersionReason> {
        match stored {
            "created" => Some(VersionReason::Created),
            "recreated" => Some(VersionReason::Recreated),
            "imageUpdated" => Some(VersionReason::ImageUpdated),
            "restored" => Some(VersionReason::Restored),
            _ => None,
        }
    }
}

/// One entry of a bot's container history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    pub number: i64,
    pub reason: VersionReason,
    pub image: String,
    pub image_digest: Option<String>,
    pub container_id: String,
    pub created_at: i64,
    /// The snapshot a restore started the container from, by id and name.
    pub snapshot_id: Option<String>,
    pub snapshot_name: Option<String>,
}

/// What a re-created container's version says beyond its reason.
#[derive(Debug, Clone, Default)]
pub struct Replacement {
    /// The snapshot restored, by id and name.
    pub snapshot: Option<(String, String)>,
    /// The bot's data volume from now on, when it changed.
    pub data_volume: Option<String>,
}

/// A captured state of a bot's container: its filesystem as an engine image, its data
/// directory as a tar file beside the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub id: String,
    pub bot_id: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub created_at: i64,
    pub image_id: String,
    pub image_tag: String,
    /// The image reference and digest the captured container was created from.
    pub base_image: String,
    pub base_digest: Option<String>,
    /// The engine id of the base image, when known (see [`ContainerRecord::base_image_id`]).
    pub base_image_id: Option<String>,
    /// Bytes the filesystem changes add to the base image.
    pub files_size: i64,
    /// The data file's name inside the snapshots directory.
    pub data_file: String,
    pub data_size: i64,
    pub data_sha256: String,
}

/// How a recorded operation ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum OperationState {
    Running,
    Done,
    Failed,
    Cancelled,
    /// Berth stopped while it ran.
    Interrupted,
}

impl OperationState {
    fn as_str(self) -> &'static str {
        match self {
            OperationState::Running => "running",
            OperationState::Done => "done",
            OperationState::Failed => "failed",
            OperationState::Cancelled => "cancelled",
            OperationState::Interrupted => "interrupted",
        }
    }
}

/// One operation in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationRecord {
    pub id: String,
    pub bot_id: Option<String>,
    pub kind: String,
    pub state: String,
    pub error: Option<String>,
    pub started_at: i64,
    pub ended_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl Store {
    /// Opens (or creates) the store at `path` and brings its schema up to date.
    ///
    /// Operations still marked running belong to an earlier run of Berth that stopped; they
    /// are marked interrupted, and their number is returned with the store.
    pub fn open(path: &Path) -> Result<(Store, usize)> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                action: "creating the store's directory",
                path: dir.display().to_string(),
                source,
            })?;
        }
        let mut conn = Connection::open(path).map_err(Error::store("opening the store"))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(Error::store("switching the store to WAL"))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(Error::store("enabling foreign keys"))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(Error::store("setting the busy timeout"))?;

        let migrations = Migrations::new(MIGRATIONS.iter().map(|sql| M::up(sql)).collect());
        migrations
            .to_latest(&mut conn)
            .map_err(|source| Error::Migration { path: path.display().to_string(), source })?;

        let interrupted = conn
            .execute(
                "UPDATE operations SET state = 'interrupted', ended_at = ?1
                 WHERE state = 'running'",
                params![now_ms()],
            )
            .map_err(Error::store("marking interrupted operations"))?;

        let store = Store { conn: Arc::new(Mutex::new(conn)), path: path.to_owned() };
        Ok((store, interrupted))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `query` on the blocking pool with the connection.
    async fn call<T, F>(&self, query: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let joined = tokio::task::spawn_blocking(move || {
            // A panic elsewhere leaves SQLite itself consistent: keep using the connection.
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            query(&mut conn)
        })
        .await;
        match joined {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(Error::ShuttingDown),
        }
    }

    /// Adds a bot; a name another bot has, ignoring case, is refused.
    pub async fn bot_insert(&self, name: BotName, image: ImageRef) -> Result<Bot> {
        let bot = Bot {
            id: uuid::Uuid::new_v4().simple().to_string(),
            name: name.as_str().to_owned(),
            image: image.as_str().to_owned(),
            created_at: now_ms(),
            restored_volume: None,
        };
        let row = bot.clone();
        self.call(move |conn| {
            let inserted = conn.execute(
                "INSERT INTO bots (id, name, name_key, image, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![row.id, row.name, name.key(), row.image, row.created_at],
            );
            match inserted {
                Ok(_) => Ok(()),
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == ErrorCode::ConstraintViolation =>
                {
                    Err(Error::NameTaken { name: row.name })
                }
                Err(e) => Err(Error::store("adding a bot")(e)),
            }
        })
        .await?;
        Ok(bot)
    }

    /// Every bot, oldest first.
    pub async fn bots(&self) -> Result<Vec<Bot>> {
        self.call(|conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT id, name, image, created_at, data_volume FROM bots
                     ORDER BY created_at, name",
                )
                .map_err(Error::store("listing bots"))?;
            let rows =
                statement.query_map([], bot_from_row).map_err(Error::store("listing bots"))?;
            rows.collect::<rusqlite::Result<_>>().map_err(Error::store("listing bots"))
        })
        .await
    }

    pub async fn bot(&self, id: &str) -> Result<Bot> {
        let id = id.to_owned();
        self.call(move |conn| {
            conn.query_row(
                "SELECT id, name, image, created_at, data_volume FROM bots WHERE id = ?1",
                params![id],
                bot_from_row,
            )
            .optional()
            .map_err(Error::store("reading a bot"))?
            .ok_or(Error::BotNotFound { bot: id })
        })
        .await
    }

    /// Removes the bot's record, its container record with it.
    pub async fn bot_delete(&self, id: &str) -> Result<()> {
        let id = id.to_owned();
        self.call(move |conn| {
            let deleted = conn
                .execute("DELETE FROM bots WHERE id = ?1", params![id])
                .map_err(Error::store("deleting a bot"))?;
            if deleted == 0 {
                return Err(Error::BotNotFound { bot: id });
            }
            Ok(())
        })
        .await
    }

    pub async fn container(&self, bot: &str) -> Result<Option<ContainerRecord>> {
        let bot = bot.to_owned();
        self.call(move |conn| {
            conn.query_row(
                "SELECT container_id, image, image_digest, created_at, snapshot_id, base_image_id
                 FROM containers WHERE bot_id = ?1",
                params![bot],
                container_from_row,
            )
            .optional()
            .map_err(Error::store("reading a bot's container"))
        })
        .await
    }

    /// The ids of every bot that has a recorded container.
    pub async fn bots_with_containers(&self) -> Result<std::collections::HashSet<String>> {
        self.call(|conn| {
            let mut statement = conn
                .prepare_cached("SELECT bot_id FROM containers")
                .map_err(Error::store("listing containers"))?;
            let rows = statement
                .query_map([], |row| row.get(0))
                .map_err(Error::store("listing containers"))?;
            rows.collect::<rusqlite::Result<_>>().map_err(Error::store("listing containers"))
        })
        .await
    }

    /// Records the bot's container, replacing any record of an earlier one.
    pub async fn container_set(&self, bot: &str, record: ContainerRecord) -> Result<()> {
        let bot = bot.to_owned();
        self.call(move |conn| {
            upsert_container(conn, &bot, &record)
                .map_err(Error::store("recording a bot's container"))?;
            Ok(())
        })
        .await
    }

    pub async fn container_clear(&self, bot: &str) -> Result<()> {
        let bot = bot.to_owned();
        self.call(move |conn| {
            conn.execute("DELETE FROM containers WHERE bot_id = ?1", params![bot])
                .map_err(Error::store("forgetting a bot's container"))?;
            Ok(())
        })
        .await
    }

    /// Records a new version for the container now recorded for the bot, with the next number.
    /// A create is `created` for the bot's first container and `recreated` after that; other
    /// reasons are taken as given.
    pub async fn version_record(&self, bot: &str, reason: VersionReason) -> Result<Version> {
        let bot = bot.to_owned();
        self.call(move |conn| {
            let tx = conn.transaction().map_err(Error::store("recording a version"))?;
            let version = insert_version(&tx, &bot, reason)?;
            tx.commit().map_err(Error::store("recording a version"))?;
            Ok(version)
        })
        .await
    }

    /// Records a re-created container, the image and data volume the bot now uses and the
    /// version that says why, all or nothing.
    pub async fn container_replace(
        &self,
        bot: &str,
        record: ContainerRecord,
        reason: VersionReason,
        replacement: Replacement,
    ) -> Result<Version> {
        let bot = bot.to_owned();
        self.call(move |conn| {
            let tx = conn.transaction().map_err(Error::store("recording a new container"))?;
            upsert_container(&tx, &bot, &record)
                .map_err(Error::store("recording a new container"))?;
            tx.execute("UPDATE bots SET image = ?2 WHERE id = ?1", params![bot, record.image])
                .map_err(Error::store("changing a bot's image"))?;
            if let Some(volume) = &replacement.data_volume {
                tx.execute("UPDATE bots SET data_volume = ?2 WHERE id = ?1", params![bot, volume])
                    .map_err(Error::store("changing a bot's data volume"))?;
            }
            let mut version = insert_version(&tx, &bot, reason)?;
            if let Some((id, name)) = replacement.snapshot {
                tx.execute(
                    "UPDATE versions SET snapshot_id = ?3, snapshot_name = ?4
                     WHERE bot_id = ?1 AND number = ?2",
                    params![bot, version.number, id, name],
                )
                .map_err(Error::store("recording a version"))?;
                (version.snapshot_id, version.snapshot_name) = (Some(id), Some(name));
            }
            tx.commit().map_err(Error::store("recording a new container"))?;
            Ok(version)
        })
        .await
    }

    /// The bot's versions, newest first.
    pub async fn versions(&self, bot: &str) -> Result<Vec<Version>> {
        let bot = bot.to_owned();
        self.call(move |conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT number, reason, image, image_digest, container_id, created_at,
                            snapshot_id, snapshot_name
                     FROM versions WHERE bot_id = ?1 ORDER BY number DESC",
                )
                .map_err(Error::store("listing versions"))?;
            let rows = statement
                .query_map(params![bot], |row| {
                    Ok(Version {
                        number: row.get(0)?,
                        reason: {
                            let stored: String = row.get(1)?;
                            VersionReason::parse(&stored).ok_or_else(|| {
                                let reason = format!("unknown version reason `{stored}`");
                                rusqlite::Error::FromSqlConversionFailure(
                                    1,
                                    rusqlite::types::Type::Text,
                                    reason.into(),
                                )
                            })?
                        },
                        image: row.get(2)?,
                        image_digest: row.get(3)?,
                        container_id: row.get(4)?,
                        created_at: row.get(5)?,
                        snapshot_id: row.get(6)?,
                        snapshot_name: row.get(7)?,
                    })
                })
                .map_err(Error::store("listing versions"))?;
            rows.collect::<rusqlite::Result<_>>().map_err(Error::store("listing versions"))
        })
        .await
    }

    /// True when the bot has no snapshot of this name, compared ignoring case.
    pub async fn snapshot_name_free(&self, bot: &str, name: &Name) -> Result<bool> {
        let (bot, key) = (bot.to_owned(), name.key().to_owned());
        self.call(move |conn| {
            let taken: Option<i64> = conn
                .query_row(
                    "SELECT 1 FROM snapshots WHERE bot_id = ?1 AND name_key = ?2",
                    params![bot, key],
                    |row| row.get(0),
                )
                .optional()
                .map_err(Error::store("reading snapshot names"))?;
            Ok(taken.is_none())
        })
        .await
    }

    /// Records a snapshot and makes it what the bot's container descends from, together.
    /// `bot_name` names the bot when the snapshot's name is taken.
    pub async fn snapshot_insert(
        &self,
        bot_name: &str,
        name: &Name,
        snapshot: Snapshot,
    ) -> Result<()> {
        let (bot_name, key) = (bot_name.to_owned(), name.key().to_owned());
        self.call(move |conn| {
            let tx = conn.transaction().map_err(Error::store("recording a snapshot"))?;
            let inserted = tx.execute(
                &format!(
                    "INSERT INTO snapshots ({SNAPSHOT_COLUMNS}, name_key)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
                ),
                params![
                    snapshot.id,
                    snapshot.bot_id,
                    snapshot.name,
                    snapshot.parent_id,
                    snapshot.created_at,
                    snapshot.image_id,
                    snapshot.image_tag,
                    snapshot.base_image,
                    snapshot.base_digest,
                    snapshot.files_size,
                    snapshot.data_file,
                    snapshot.data_size,
                    snapshot.data_sha256,
                    snapshot.base_image_id,
                    key
                ],
            );
            match inserted {
                Ok(_) => {}
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == ErrorCode::ConstraintViolation =>
                {
                    return Err(Error::SnapshotNameTaken { bot: bot_name, name: snapshot.name });
                }
                Err(e) => return Err(Error::store("recording a snapshot")(e)),
            }
            tx.execute(
                "UPDATE containers SET snapshot_id = ?2 WHERE bot_id = ?1",
                params![snapshot.bot_id, snapshot.id],
            )
            .map_err(Error::store("recording a snapshot"))?;
            tx.commit().map_err(Error::store("recording a snapshot"))
        })
        .await
    }

    /// The bot's snapshots, oldest first.
    pub async fn snapshots(&self, bot: &str) -> Result<Vec<Snapshot>> {
        let bot = bot.to_owned();
        self.call(move |conn| {
            let mut statement = conn
                .prepare_cached(&format!(
                    "SELECT {SNAPSHOT_COLUMNS} FROM snapshots WHERE bot_id = ?1
                     ORDER BY created_at, rowid"
                ))
                .map_err(Error::store("listing snapshots"))?;
            let rows = statement
                .query_map(params![bot], snapshot_from_row)
                .map_err(Error::store("listing snapshots"))?;
            rows.collect::<rusqlite::Result<_>>().map_err(Error::store("listing snapshots"))
        })
        .await
    }

    pub async fn snapshot(&self, id: &str) -> Result<Snapshot> {
        let id = id.to_owned();
        self.call(move |conn| {
            conn.query_row(
                &format!("SELECT {SNAPSHOT_COLUMNS} FROM snapshots WHERE id = ?1"),
                params![id],
                snapshot_from_row,
            )
            .optional()
            .map_err(Error::store("reading a snapshot"))?
            .ok_or(Error::SnapshotNotFound { snapshot: id })
        })
        .await
    }

    /// Forgets a snapshot. Its children, and a container descending from it, descend from its
    /// parent from now on.
    pub async fn snapshot_delete(&self, id: &str) -> Result<()> {
        let id = id.to_owned();
        self.call(move |conn| {
            let tx = conn.transaction().map_err(Error::store("deleting a snapshot"))?;
            let parent: Option<Option<String>> = tx
                .query_row("SELECT parent_id FROM snapshots WHERE id = ?1", params![id], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(Error::store("deleting a snapshot"))?;
            let Some(parent) = parent else {
                return Err(Error::SnapshotNotFound { snapshot: id });
            };
            tx.execute(
                "UPDATE snapshots SET parent_id = ?2 WHERE parent_id = ?1",
                params![id, parent],
            )
            .map_err(Error::store("re-parenting snapshots"))?;
            tx.execute(
                "UPDATE containers SET snapshot_id = ?2 WHERE snapshot_id = ?1",
                params![id, parent],
            )
            .map_err(Error::store("re-parenting a container"))?;
            tx.execute("DELETE FROM snapshots WHERE id = ?1", params![id])
                .map_err(Error::store("deleting a snapshot"))?;
            tx.commit().map_err(Error::store("deleting a snapshot"))
        })
        .await
    }

    /// Adds a step to the operation's journal.
    pub async fn operation_step(&self, id: &str, step: String) -> Result<()> {
        let id = id.to_owned();
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO operation_steps (operation_id, seq, step, at)
                 VALUES (?1, (SELECT COUNT(*) FROM operation_steps WHERE operation_id = ?1),
                         ?2, ?3)",
                params![id, step, now_ms()],
            )
            .map_err(Error::store("recording an operation's step"))?;
            Ok(())
        })
        .await
    }

    /// Interrupted operations not repaired yet, oldest first, each with its steps in order.
    pub async fn unrepaired(&self) -> Result<Vec<(OperationRecord, Vec<String>)>> {
        self.call(|conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT id, bot_id, kind, state, error, started_at, ended_at FROM operations
                     WHERE state = 'interrupted' AND repair IS NULL ORDER BY started_at, rowid",
                )
                .map_err(Error::store("listing interrupted operations"))?;
            let records: Vec<OperationRecord> = statement
                .query_map([], operation_from_row)
                .and_then(|rows| rows.collect())
                .map_err(Error::store("listing interrupted operations"))?;
            let mut steps_of = conn
                .prepare_cached(
                    "SELECT step FROM operation_steps WHERE operation_id = ?1 ORDER BY seq",
                )
                .map_err(Error::store("reading an operation's steps"))?;
            let mut found = Vec::with_capacity(records.len());
            for record in records {
                let steps = steps_of
                    .query_map(params![record.id], |row| row.get(0))
                    .and_then(|rows| rows.collect())
                    .map_err(Error::store("reading an operation's steps"))?;
                found.push((record, steps));
            }
            Ok(found)
        })
        .await
    }

    /// Records what the repair of an interrupted operation did.
    pub async fn operation_repaired(&self, id: &str, repair: &str) -> Result<()> {
        let (id, repair) = (id.to_owned(), repair.to_owned());
        self.call(move |conn| {
            conn.execute("UPDATE operations SET repair = ?2 WHERE id = ?1", params![id, repair])
                .map_err(Error::store("recording a repair"))?;
            Ok(())
        })
        .await
    }

    pub async fn operation_begin(&self, id: &str, bot: &str, kind: &str) -> Result<()> {
        let (id, bot, kind) = (id.to_owned(), bot.to_owned(), kind.to_owned());
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO operations (id, bot_id, kind, state, started_at)
                 VALUES (?1, ?2, ?3, 'running', ?4)",
                params![id, bot, kind, now_ms()],
            )
            .map_err(Error::store("recording an operation"))?;
            Ok(())
        })
        .await
    }

    pub async fn operation_end(
        &self,
        id: &str,
        state: OperationState,
        error: Option<String>,
    ) -> Result<()> {
        let id = id.to_owned();
        self.call(move |conn| {
            conn.execute(
                "UPDATE operations SET state = ?2, error = ?3, ended_at = ?4 WHERE id = ?1",
                params![id, state.as_str(), error, now_ms()],
            )
            .map_err(Error::store("recording the end of an operation"))?;
            Ok(())
        })
        .await
    }

    /// The bot's latest operations, newest first.
    pub async fn operations(&self, bot: &str, limit: u32) -> Result<Vec<OperationRecord>> {
        let bot = bot.to_owned();
        self.call(move |conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT id, bot_id, kind, state, error, started_at, ended_at
                     FROM operations WHERE bot_id = ?1
                     ORDER BY started_at DESC, rowid DESC LIMIT ?2",
                )
                .map_err(Error::store("listing operations"))?;
            let rows = statement
                .query_map(params![bot, limit], operation_from_row)
                .map_err(Error::store("listing operations"))?;
            rows.collect::<rusqlite::Result<_>>().map_err(Error::store("listing operations"))
        })
        .await
    }
}

/// Records the bot's container, replacing any record of an earlier one.
fn upsert_container(
    conn: &Connection,
    bot: &str,
    record: &ContainerRecord,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO containers
             (bot_id, container_id, image, image_digest, created_at, snapshot_id, base_image_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            bot,
            record.container_id,
            record.image,
            record.image_digest,
            record.created_at,
            record.snapshot_id,
            record.base_image_id
        ],
    )?;
    Ok(())
}

/// Adds the next version of the bot's recorded container, inside the caller's transaction.
fn insert_version(
    tx: &rusqlite::Transaction<'_>,
    bot: &str,
    reason: VersionReason,
) -> Result<Version> {
    let record: ContainerRecord = tx
        .query_row(
            "SELECT container_id, image, image_digest, created_at, snapshot_id, base_image_id
             FROM containers WHERE bot_id = ?1",
            params![bot],
            container_from_row,
        )
        .map_err(Error::store("reading the container to version"))?;
    let last: Option<i64> = tx
        .query_row("SELECT MAX(number) FROM versions WHERE bot_id = ?1", params![bot], |r| r.get(0))
        .map_err(Error::store("numbering a version"))?;
    let version = Version {
        number: last.unwrap_or(0) + 1,
        reason: match (reason, last) {
            (VersionReason::Created, Some(_)) => VersionReason::Recreated,
            (reason, _) => reason,
        },
        image: record.image,
        image_digest: record.image_digest,
        container_id: record.container_id,
        created_at: now_ms(),
        snapshot_id: None,
        snapshot_name: None,
    };
    tx.execute(
        "INSERT INTO versions
             (bot_id, number, reason, image, image_digest, container_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            bot,
            version.number,
            version.reason.as_str(),
            version.image,
            version.image_digest,
            version.container_id,
            version.created_at
        ],
    )
    .map_err(Error::store("recording a version"))?;
    Ok(version)
}

fn container_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ContainerRecord> {
    Ok(ContainerRecord {
        container_id: row.get(0)?,
        image: row.get(1)?,
        image_digest: row.get(2)?,
        created_at: row.get(3)?,
        snapshot_id: row.get(4)?,
        base_image_id: row.get(5)?,
    })
}

fn operation_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<OperationRecord> {
    Ok(OperationRecord {
        id: row.get(0)?,
        bot_id: row.get(1)?,
        kind: row.get(2)?,
        state: row.get(3)?,
        error: row.get(4)?,
        started_at: row.get(5)?,
        ended_at: row.get(6)?,
    })
}

fn bot_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Bot> {
    Ok(Bot {
        id: row.get(0)?,
        name: row.get(1)?,
        image: row.get(2)?,
        created_at: row.get(3)?,
        restored_volume: row.get(4)?,
    })
}

const SNAPSHOT_COLUMNS: &str = "id, bot_id, name, parent_id, created_at, image_id, image_tag,
    base_image, base_digest, files_size, data_file, data_size, data_sha256, base_image_id";

fn snapshot_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Snapshot> {
    Ok(Snapshot {
        id: row.get(0)?,
        bot_id: row.get(1)?,
        name: row.get(2)?,
        parent_id: row.get(3)?,
        created_at: row.get(4)?,
        image_id: row.get(5)?,
        image_tag: row.get(6)?,
        base_image: row.get(7)?,
        base_digest: row.get(8)?,
        files_size: row.get(9)?,
        data_file: row.get(10)?,
        data_size: row.get(11)?,
        data_sha256: row.get(12)?,
        base_image_id: row.get(13)?,
    })
}

#[cfg(test)]
mod tests;
