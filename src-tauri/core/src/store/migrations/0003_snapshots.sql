-- Version 3: snapshots of a bot's container, the data volume each bot uses, and the snapshot
-- each container and version descends from.

CREATE TABLE snapshots (
    id            TEXT PRIMARY KEY,
    bot_id        TEXT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    -- The name as compared, so that names are unique per bot ignoring case.
    name_key      TEXT NOT NULL,
    -- The snapshot the captured state descended from; deleting one re-parents its children.
    parent_id     TEXT REFERENCES snapshots (id) ON DELETE SET NULL,
    created_at    INTEGER NOT NULL,
    -- The engine image that holds the filesystem, by id and by Berth's tag for it.
    image_id      TEXT NOT NULL,
    image_tag     TEXT NOT NULL,
    -- The image reference and digest the captured container was made from.
    base_image    TEXT NOT NULL,
    base_digest   TEXT,
    -- Bytes the filesystem changes add to the base image.
    files_size    INTEGER NOT NULL,
    -- The data directory as a tar file beside the store, its size and SHA-256.
    data_file     TEXT NOT NULL,
    data_size     INTEGER NOT NULL,
    data_sha256   TEXT NOT NULL,
    UNIQUE (bot_id, name_key)
) STRICT;

CREATE INDEX snapshots_by_parent ON snapshots (parent_id);

-- The volume that holds the bot's data directory: a restore gives the bot a new one. NULL is
-- the volume every bot had before, `berth-data-<bot id>`.
ALTER TABLE bots ADD COLUMN data_volume TEXT;

-- The snapshot the container's state descends from (none for a fresh container).
ALTER TABLE containers ADD COLUMN snapshot_id TEXT REFERENCES snapshots (id) ON DELETE SET NULL;

-- The snapshot a version was restored from. Its name is kept too, so that the history still
-- reads after the snapshot is deleted.
ALTER TABLE versions ADD COLUMN snapshot_id TEXT;
ALTER TABLE versions ADD COLUMN snapshot_name TEXT;
