-- Version 4: the journal of each operation's steps that change the engine or the disk, so
-- that one cut off by a crash can be repaired at the next start.

CREATE TABLE operation_steps (
    operation_id  TEXT NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    -- The step as JSON: {"step": "<name>", ...what undoing it needs}.
    step          TEXT NOT NULL,
    at            INTEGER NOT NULL,
    PRIMARY KEY (operation_id, seq)
) STRICT;

-- What the start-up repair did about an interrupted operation; NULL until it is repaired.
ALTER TABLE operations ADD COLUMN repair TEXT;
