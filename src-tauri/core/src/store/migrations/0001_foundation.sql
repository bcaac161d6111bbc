-- Version 1: bots, their containers, and the record of operations.

CREATE TABLE bots (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    -- The name as compared: lowercased, so that names are unique ignoring case.
    name_key    TEXT NOT NULL UNIQUE,
    image       TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE containers (
    bot_id        TEXT PRIMARY KEY REFERENCES bots (id) ON DELETE CASCADE,
    container_id  TEXT NOT NULL UNIQUE,
    image         TEXT NOT NULL,
    image_digest  TEXT,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE operations (
    id          TEXT PRIMARY KEY,
    bot_id      TEXT REFERENCES bots (id) ON DELETE SET NULL,
    kind        TEXT NOT NULL,
    -- running, done, failed, cancelled, or interrupted (the app stopped while it ran).
    state       TEXT NOT NULL,
    error       TEXT,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER
) STRICT;

CREATE INDEX operations_by_bot ON operations (bot_id, started_at);
