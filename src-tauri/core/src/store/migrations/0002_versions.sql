-- Version 2: the history of a bot's containers. A row is written each time the container is
-- created or re-created, and never removed while the bot exists, so numbers are not reused.

CREATE TABLE versions (
    bot_id        TEXT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    number        INTEGER NOT NULL,
    -- created, recreated (a Create after a delete); later kinds add their own.
    reason        TEXT NOT NULL,
    image         TEXT NOT NULL,
    image_digest  TEXT,
    container_id  TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (bot_id, number)
) STRICT;

-- Containers created before versions were kept become version 1 of their bot.
INSERT INTO versions (bot_id, number, reason, image, image_digest, container_id, created_at)
SELECT bot_id, 1, 'created', image, image_digest, container_id, created_at FROM containers;
